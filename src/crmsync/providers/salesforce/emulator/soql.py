"""A SOQL subset: ``SELECT f, ... | COUNT() FROM obj [WHERE ...] [ORDER BY ...] [LIMIT n]
[OFFSET n]``, with ``AND``/``OR``/``NOT``, ``= != <> < > <= >=``, ``IN``/``NOT IN`` and ``LIKE``.

As in SOQL, names and string comparisons ignore case, mixing ``AND`` and ``OR`` needs
parentheses, and errors come back as ``MALFORMED_QUERY`` or ``INVALID_FIELD`` with the row and
column of the offending token.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from crmsync.providers.salesforce.emulator.errors import SalesforceError
from crmsync.providers.salesforce.emulator.schema import FieldDef, SObjectType

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
_STRING_TYPES = ("id", "string", "email", "phone", "url", "picklist", "reference", "textarea")


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
class Comparison:
    field: str
    op: str  # = != < > <= >= IN NOT IN LIKE
    values: tuple[Literal, ...]
    pos: int


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
    count: bool
    where: Condition | None
    order: tuple[OrderItem, ...]
    limit: int | None
    offset: int


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
        if self.peek.is_word("COUNT") and self.tokens[self.at + 1].text == "(":
            self.take(), self.take(), self.expect("punct", ")")
            count = True
        else:
            while True:
                token = self.expect("ident")
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
        )

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
            return Literal("datetime", _parse_datetime(token.text), token.pos)
        if token.is_word("TRUE", "FALSE"):
            return Literal("boolean", token.text.upper() == "TRUE", token.pos)
        if token.is_word("NULL"):
            return Literal("null", None, token.pos)
        raise self.fail(token)


def parse(text: str) -> Query:
    return _Parser(text.strip()).query()


def _parse_datetime(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _key(definition: FieldDef, value: Any) -> Any:
    """A comparable form of a stored value: strings fold case, dates become dates."""
    if value is None:
        return None
    if definition.type == "datetime":
        return _parse_datetime(str(value))
    if definition.type == "date":
        return date.fromisoformat(str(value))
    if isinstance(value, str):
        return value.lower()
    return value


_EXPECTED = {"boolean": "boolean", "date": "date", "datetime": "dateTime"}
_NUMERIC = ("double", "currency", "percent", "int")


def _literal_key(query: Query, definition: FieldDef, literal: Literal) -> Any:
    if literal.kind == "null":
        return None
    expected = _EXPECTED.get(definition.type, "number" if definition.type in _NUMERIC else "string")
    actual = {"datetime": "dateTime"}.get(literal.kind, literal.kind)
    if actual != expected:
        quoted = " and should not be enclosed in quotes" if literal.kind == "string" else ""
        raise query_error(
            query.text,
            literal.pos,
            f"value of filter criterion for field '{definition.name}' must be of type "
            f"{expected}{quoted}",
            "INVALID_FIELD",
        )
    return literal.value.lower() if isinstance(literal.value, str) else literal.value


def _like(pattern: str) -> re.Pattern[str]:
    parts = (".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


Predicate = Callable[[dict[str, Any]], bool]


def _compile(query: Query, obj: SObjectType, condition: Condition) -> Predicate:
    if isinstance(condition, Negation):
        inner = _compile(query, obj, condition.part)
        return lambda row: not inner(row)
    if isinstance(condition, Junction):
        parts = [_compile(query, obj, part) for part in condition.parts]
        if condition.op == "AND":
            return lambda row: all(part(row) for part in parts)
        return lambda row: any(part(row) for part in parts)
    definition = field_of(query, obj, condition.field, condition.pos)
    name, op = definition.name, condition.op
    if op == "LIKE":
        pattern = _like(str(condition.values[0].value))
        return lambda row: row.get(name) is not None and bool(pattern.fullmatch(str(row[name])))
    wanted = [_literal_key(query, definition, v) for v in condition.values]
    if op in ("IN", "NOT IN"):
        allowed = set(wanted)
        inside = op == "IN"
        return lambda row: (_key(definition, row.get(name)) in allowed) == inside
    target = wanted[0]
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a is not None and b is not None and a < b,
        ">": lambda a, b: a is not None and b is not None and a > b,
        "<=": lambda a, b: a is not None and b is not None and a <= b,
        ">=": lambda a, b: a is not None and b is not None and a >= b,
    }
    check = compare[op]
    return lambda row: check(_key(definition, row.get(name)), target)


def field_of(query: Query, obj: SObjectType, name: str, pos: int) -> FieldDef:
    definition = obj.field(name)
    if definition is None:
        raise query_error(
            query.text,
            pos,
            f"No such column '{name}' on entity '{obj.name}'. If you are attempting to use a "
            "custom field, be sure to append the '__c' after the custom field name. Please "
            "reference your WSDL or the describe call for the appropriate names.",
            "INVALID_FIELD",
        )
    return definition


def _ordered(query: Query, obj: SObjectType, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for item in reversed(query.order):
        definition = field_of(query, obj, item.field, item.pos)
        nulls = [r for r in rows if r.get(definition.name) is None]
        present = sorted(
            (r for r in rows if r.get(definition.name) is not None),
            key=lambda r: _key(definition, r[definition.name]),
            reverse=item.descending,
        )
        rows = nulls + present if item.nulls_first else present + nulls
    return rows


def run(
    query: Query, obj: SObjectType, rows: Iterable[dict[str, Any]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """The selected field names (canonical) and the matching rows, ordered and limited."""
    selected: list[str] = []
    for name, pos in query.fields:
        canonical = field_of(query, obj, name, pos).name
        if canonical in selected:
            raise query_error(query.text, pos, f"duplicate field selected: {canonical}")
        selected.append(canonical)
    if query.offset > 2000:
        raise SalesforceError(
            400, "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000"
        )
    predicate = _compile(query, obj, query.where) if query.where else None
    matched = [row for row in rows if predicate is None or predicate(row)]
    matched = _ordered(query, obj, matched)[query.offset :]
    if query.limit is not None:
        matched = matched[: query.limit]
    return selected, matched
