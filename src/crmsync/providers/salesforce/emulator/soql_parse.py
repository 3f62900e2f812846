"""SOQL's grammar as far as the emulator goes: ``SELECT f, Rel.f, ... | COUNT() |
AGG(f) [alias], ... FROM obj [WHERE ...] [GROUP BY f, ... [HAVING ...]] [ORDER BY ...]
[LIMIT n] [OFFSET n]``, with ``AND``/``OR``/``NOT``, ``= != <> < > <= >=``, ``IN``/``NOT IN``
and ``LIKE``; ``HAVING`` takes the same conditions, on grouped fields or on aggregates
(``COUNT(Id) > 1``).

Anything else (subqueries, ``TYPEOF``, date literals, functions other than the aggregates)
stops the parser at its first token with Salesforce's ``MALFORMED_QUERY`` and the
row and column of that token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from crmsync.providers.salesforce.emulator.errors import SalesforceError

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<string>'(?:[^'\\]|\\.)*')
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2})
    |(?P<number>-?\d+(?:\.\d+)?)
    |(?P<op><=|>=|!=|<>|=|<|>)
    |(?P<punct>[(),])
    |(?P<ident>[A-Za-z_][A-Za-z0-9_.]*)""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "'": "'", '"': '"', "\\": "\\"}
AGGREGATES = ("COUNT", "COUNT_DISTINCT", "MIN", "MAX", "SUM", "AVG")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "ident" and self.text.upper() in words


@dataclass(frozen=True)
class Literal:
    kind: str  # string number date datetime boolean null
    value: Any
    pos: int


@dataclass(frozen=True)
class Aggregate:
    """``COUNT(Id)``, ``MAX(CreatedDate) latest``...; unaliased ones are ``expr0``, ``expr1``."""

    function: str
    field: str
    alias: str | None
    pos: int


@dataclass(frozen=True)
class Comparison:
    field: str
    op: str  # = != < > <= >= IN NOT IN LIKE
    values: tuple[Literal, ...]
    pos: int
    aggregate: Aggregate | None = None
    """In ``HAVING``: the aggregate compared (``COUNT(Id) > 1``) instead of a field."""


@dataclass(frozen=True)
class Junction:
    op: str  # AND | OR
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Negation:
    part: Condition


Condition = Comparison | Junction | Negation


@dataclass(frozen=True)
class OrderItem:
    field: str
    descending: bool
    nulls_first: bool
    pos: int


@dataclass(frozen=True)
class Query:
    text: str
    sobject: str
    sobject_pos: int
    fields: tuple[tuple[str, int], ...]
    """The selected fields (paths such as ``Owner.Email`` included), not the aggregates."""
    count: bool
    """``SELECT COUNT()``: only the number of rows is answered."""
    where: Condition | None
    order: tuple[OrderItem, ...]
    limit: int | None
    offset: int
    aggregates: tuple[Aggregate, ...] = ()
    group_by: tuple[tuple[str, int], ...] = ()
    having: Condition | None = None


def query_error(
    text: str, pos: int, message: str, code: str = "MALFORMED_QUERY"
) -> SalesforceError:
    return SalesforceError(
        400, code, f"\n{text}\n{' ' * pos}^\nERROR at Row:1:Column:{pos + 1}\n{message}"
    )


def _tokens(text: str) -> list[Token]:
    found: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise query_error(text, pos, f"unexpected token: '{text[pos]}'")
        kind = match.lastgroup or ""
        if kind != "ws":
            found.append(Token(kind, match.group(), pos))
        pos = match.end()
    found.append(Token("eof", "<EOF>", len(text)))
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0
        self.in_having = False

    @property
    def peek(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def fail(self, token: Token | None = None) -> SalesforceError:
        token = token or self.peek
        return query_error(self.text, token.pos, f"unexpected token: '{token.text}'")

    def expect_word(self, *words: str) -> Token:
        if not self.peek.is_word(*words):
            raise self.fail()
        return self.take()

    def expect(self, kind: str, text: str | None = None) -> Token:
        token = self.peek
        if token.kind != kind or (text is not None and token.text != text):
            raise self.fail()
        return self.take()

    def query(self) -> Query:
        self.expect_word("SELECT")
        count = False
        fields: list[tuple[str, int]] = []
        aggregates: list[Aggregate] = []
        if self.peek.is_word("COUNT") and [
            t.text for t in self.tokens[self.at + 1 : self.at + 3]
        ] == [
            "(",
            ")",
        ]:
            self.take(), self.take(), self.expect("punct", ")")
            count = True
            if self.peek.text == ",":
                raise query_error(
                    self.text, self.peek.pos, "COUNT() must be the only element in the SELECT list"
                )
        else:
            while True:
                token = self.expect("ident")
                if self.peek.text == "(" and token.text.upper() in AGGREGATES:
                    aggregates.append(self.aggregate(token))
                else:
                    fields.append((token.text, token.pos))
                if self.peek.text != ",":
                    break
                self.take()
        self.expect_word("FROM")
        sobject = self.expect("ident")
        where = None
        if self.peek.is_word("WHERE"):
            self.take()
            where = self.condition()
        group_by: list[tuple[str, int]] = []
        if self.peek.is_word("GROUP"):
            self.take(), self.expect_word("BY")
            while True:
                token = self.expect("ident")
                group_by.append((token.text, token.pos))
                if self.peek.text != ",":
                    break
                self.take()
        having = None
        if group_by and self.peek.is_word("HAVING"):
            self.take()
            self.in_having = True
            having = self.condition()
            self.in_having = False
        order: list[OrderItem] = []
        if self.peek.is_word("ORDER"):
            self.take(), self.expect_word("BY")
            order.append(self.order_item())
            while self.peek.text == ",":
                self.take()
                order.append(self.order_item())
        limit = self.number_clause("LIMIT")
        offset = self.number_clause("OFFSET") or 0
        if self.peek.kind != "eof":
            raise self.fail()
        return Query(
            self.text,
            sobject.text,
            sobject.pos,
            tuple(fields),
            count,
            where,
            tuple(order),
            limit,
            offset,
            tuple(aggregates),
            tuple(group_by),
            having,
        )

    def aggregate(self, function: Token, alias: bool = True) -> Aggregate:
        """``FUNCTION(field) [alias]``, the function's name already taken."""
        self.expect("punct", "(")
        field = self.expect("ident")
        self.expect("punct", ")")
        name = None
        if alias and self.peek.kind == "ident" and not self.peek.is_word("FROM"):
            name = self.take().text
        return Aggregate(function.text.upper(), field.text, name, function.pos)

    def number_clause(self, word: str) -> int | None:
        if not self.peek.is_word(word):
            return None
        self.take()
        token = self.expect("number")
        if "." in token.text or token.text.startswith("-"):
            raise self.fail(token)
        return int(token.text)

    def order_item(self) -> OrderItem:
        token = self.expect("ident")
        descending = False
        if self.peek.is_word("ASC", "DESC"):
            descending = self.take().text.upper() == "DESC"
        nulls_first = not descending
        if self.peek.is_word("NULLS"):
            self.take()
            nulls_first = self.expect_word("FIRST", "LAST").text.upper() == "FIRST"
        return OrderItem(token.text, descending, nulls_first, token.pos)

    def condition(self) -> Condition:
        """One level of AND or OR; mixing them without parentheses is a SOQL error."""
        parts = [self.unary()]
        connective: str | None = None
        while self.peek.is_word("AND", "OR"):
            word = self.peek.text.upper()
            if connective is not None and word != connective:
                raise self.fail()
            connective = word
            self.take()
            parts.append(self.unary())
        return parts[0] if connective is None else Junction(connective, tuple(parts))

    def unary(self) -> Condition:
        if self.peek.is_word("NOT"):
            self.take()
            return Negation(self.unary())
        if self.peek.text == "(":
            self.take()
            inner = self.condition()
            self.expect("punct", ")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        field = self.expect("ident")
        if self.in_having and self.peek.text == "(" and field.text.upper() in AGGREGATES:
            aggregate = self.aggregate(field, alias=False)
            op = self.expect("op").text
            value = self.literal()
            return Comparison(
                field.text, "!=" if op == "<>" else op, (value,), field.pos, aggregate
            )
        if self.peek.kind == "op":
            op = self.take().text
            return Comparison(field.text, "!=" if op == "<>" else op, (self.literal(),), field.pos)
        if self.peek.is_word("LIKE"):
            self.take()
            value = self.literal()
            if value.kind != "string":
                raise query_error(self.text, value.pos, "LIKE needs a string literal")
            return Comparison(field.text, "LIKE", (value,), field.pos)
        op = "IN"
        if self.peek.is_word("NOT"):
            self.take()
            op = "NOT IN"
        self.expect_word("IN")
        self.expect("punct", "(")
        values = [self.literal()]
        while self.peek.text == ",":
            self.take()
            values.append(self.literal())
        self.expect("punct", ")")
        return Comparison(field.text, op, tuple(values), field.pos)

    def literal(self) -> Literal:
        token = self.take()
        if token.kind == "string":
            body = re.sub(
                r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), token.text[1:-1]
            )
            return Literal("string", body, token.pos)
        if token.kind == "number":
            return Literal("number", float(token.text), token.pos)
        if token.kind == "date":
            return Literal("date", date.fromisoformat(token.text), token.pos)
        if token.kind == "datetime":
            return Literal("datetime", parse_datetime(token.text), token.pos)
        if token.is_word("TRUE", "FALSE"):
            return Literal("boolean", token.text.upper() == "TRUE", token.pos)
        if token.is_word("NULL"):
            return Literal("null", None, token.pos)
        raise self.fail(token)


def parse(text: str) -> Query:
    return _Parser(text.strip()).query()


def parse_datetime(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
