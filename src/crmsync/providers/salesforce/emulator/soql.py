"""Runs SOQL (parsed by ``soql_parse``) against an org's rows: filters, order, limits,
relationship fields and aggregates.

As in SOQL, names and string comparisons ignore case, and mixing ``AND`` and ``OR`` needs
parentheses. A relationship field (``Owner.Email``, up to five lookups deep) follows the lookup
field whose relationship name it gives (``OwnerId`` for ``Owner``) and comes back nested under
that name, or ``null`` when the lookup is empty. ``GROUP BY`` and the aggregates (``COUNT``,
``COUNT_DISTINCT``, ``MIN``, ``MAX``, ``SUM``, ``AVG``) answer ``AggregateResult`` records
whose unaliased aggregates are ``expr0``, ``expr1``..., ``HAVING`` keeping the groups whose
grouped fields or aggregates match; ``COUNT()`` alone answers only
``totalSize``, and not with ``GROUP BY`` or ``ORDER BY`` (Salesforce refuses those).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from crmsync.providers.salesforce.emulator.errors import SalesforceError
from crmsync.providers.salesforce.emulator.schema import FieldDef, SObjectType
from crmsync.providers.salesforce.emulator.soql_parse import (
    Aggregate,
    Comparison,
    Condition,
    Junction,
    Literal,
    Negation,
    Query,
    parse,
    parse_datetime,
    query_error,
)

__all__ = ["Lookup", "Query", "execute", "parse", "query_error", "run"]

Row = dict[str, Any]
Lookup = Callable[[str], tuple[str, Row] | None]
"""The sObject name and row an id names, or None."""
MAX_HOPS = 5
GROUPABLE = ("id", "string", "email", "phone", "url", "picklist", "reference", "boolean", "date")
NUMERIC = ("double", "currency", "percent", "int")


@dataclass(frozen=True)
class Path:
    """A field of the queried object, or of a record reached through lookups."""

    hops: tuple[tuple[str, str], ...]
    """(relationship name, lookup field) per lookup followed: ``("Owner", "OwnerId")``."""
    field: FieldDef
    name: str
    """As Salesforce spells it: ``Owner.Email``."""

    def row_of(self, row: Row, lookup: Lookup | None) -> tuple[str | None, Row | None]:
        """The record holding the field, and its type (None for the queried object)."""
        kind: str | None = None
        current: Row | None = row
        for _, reference in self.hops:
            target = current.get(reference) if current is not None else None
            found = lookup(str(target)) if target is not None and lookup is not None else None
            if found is None:
                return None, None
            kind, current = found
        return kind, current

    def value(self, row: Row, lookup: Lookup | None) -> Any:
        if not self.hops:
            return row.get(self.field.name)
        _, holder = self.row_of(row, lookup)
        return holder.get(self.field.name) if holder is not None else None


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


def resolve(
    query: Query, obj: SObjectType, objects: Mapping[str, SObjectType], name: str, pos: int
) -> Path:
    """``Email`` or ``Owner.Email``: the field a (dotted) name in the query means."""
    *relationships, last = name.split(".")
    if len(relationships) > MAX_HOPS:
        raise query_error(
            query.text, pos, f"SOQL statements cannot query more than {MAX_HOPS} levels deep"
        )
    hops: list[tuple[str, str]] = []
    current = obj
    for relationship in relationships:
        reference = next(
            (
                f
                for f in current.fields.values()
                if (f.relationship_name or "").lower() == relationship.lower()
            ),
            None,
        )
        target = objects.get(reference.reference_to[0]) if reference is not None else None
        if reference is None or target is None or reference.relationship_name is None:
            raise query_error(
                query.text,
                pos,
                f"Didn't understand relationship '{relationship}' in field path. If you are "
                "attempting to use a custom relationship, be sure to append the '__r' after "
                "the custom relationship name. Please reference your WSDL or the describe call "
                "for the appropriate names.",
                "INVALID_FIELD",
            )
        hops.append((reference.relationship_name, reference.name))
        current = target
    definition = field_of(query, current, last, pos)
    return Path(tuple(hops), definition, ".".join([*(h[0] for h in hops), definition.name]))


def _key(definition: FieldDef, value: Any) -> Any:
    """A comparable form of a stored value: strings fold case, dates become dates."""
    if value is None:
        return None
    if definition.type == "datetime":
        return parse_datetime(str(value))
    if definition.type == "date":
        return date.fromisoformat(str(value))
    if isinstance(value, str):
        return value.lower()
    return value


_EXPECTED = {"boolean": "boolean", "date": "date", "datetime": "dateTime"}


def _literal_key(query: Query, definition: FieldDef, literal: Literal) -> Any:
    if literal.kind == "null":
        return None
    expected = _EXPECTED.get(definition.type, "number" if definition.type in NUMERIC else "string")
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


Predicate = Callable[[Row], bool]
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a is not None and b is not None and a < b,
    ">": lambda a, b: a is not None and b is not None and a > b,
    "<=": lambda a, b: a is not None and b is not None and a <= b,
    ">=": lambda a, b: a is not None and b is not None and a >= b,
}


@dataclass(frozen=True)
class Context:
    query: Query
    obj: SObjectType
    objects: Mapping[str, SObjectType]
    lookup: Lookup | None

    def path(self, name: str, pos: int) -> Path:
        return resolve(self.query, self.obj, self.objects, name, pos)


def _compile(ctx: Context, condition: Condition) -> Predicate:
    if isinstance(condition, Negation):
        inner = _compile(ctx, condition.part)
        return lambda row: not inner(row)
    if isinstance(condition, Junction):
        parts = [_compile(ctx, part) for part in condition.parts]
        if condition.op == "AND":
            return lambda row: all(part(row) for part in parts)
        return lambda row: any(part(row) for part in parts)
    return _comparison(ctx, condition)


def _comparison(ctx: Context, condition: Comparison) -> Predicate:
    path = ctx.path(condition.field, condition.pos)
    definition, lookup = path.field, ctx.lookup

    def get(row: Row) -> Any:
        return path.value(row, lookup)

    if condition.op == "LIKE":
        pattern = _like(str(condition.values[0].value))
        return lambda row: (value := get(row)) is not None and bool(pattern.fullmatch(str(value)))
    wanted = [_literal_key(ctx.query, definition, v) for v in condition.values]
    if condition.op in ("IN", "NOT IN"):
        allowed = set(wanted)
        inside = condition.op == "IN"
        return lambda row: (_key(definition, get(row)) in allowed) == inside
    target, check = wanted[0], _COMPARE[condition.op]
    return lambda row: check(_key(definition, get(row)), target)


def _sorted(ctx: Context, rows: list[Row], value: Callable[[Row, Path], Any]) -> list[Row]:
    """``ORDER BY``, last key first so that earlier keys win; nulls first unless told."""
    for item in reversed(ctx.query.order):
        path = ctx.path(item.field, item.pos)
        keyed = [(_key(path.field, value(row, path)), row) for row in rows]
        nulls = [row for key, row in keyed if key is None]
        present = sorted(
            ((key, row) for key, row in keyed if key is not None),
            key=lambda pair: pair[0],
            reverse=item.descending,
        )
        ordered = [row for _, row in present]
        rows = nulls + ordered if item.nulls_first else ordered + nulls
    return rows


def _selected(ctx: Context) -> list[Path]:
    paths: list[Path] = []
    for name, pos in ctx.query.fields:
        path = ctx.path(name, pos)
        if any(p.name.lower() == path.name.lower() for p in paths):
            raise query_error(ctx.query.text, pos, f"duplicate field selected: {path.name}")
        paths.append(path)
    return paths


def _matched(ctx: Context, rows: Iterable[Row]) -> list[Row]:
    if ctx.query.offset > 2000:
        raise SalesforceError(
            400, "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000"
        )
    predicate = _compile(ctx, ctx.query.where) if ctx.query.where else None
    return [row for row in rows if predicate is None or predicate(row)]


def _window(query: Query, rows: list[Any]) -> list[Any]:
    rows = rows[query.offset :]
    return rows[: query.limit] if query.limit is not None else rows


def run(
    query: Query,
    obj: SObjectType,
    rows: Iterable[Row],
    objects: Mapping[str, SObjectType] | None = None,
    lookup: Lookup | None = None,
) -> tuple[list[str], list[Row]]:
    """The selected field names (canonical) and the matching rows, ordered and limited."""
    ctx = Context(query, obj, objects or {obj.name: obj}, lookup)
    selected = _selected(ctx)
    matched = _sorted(ctx, _matched(ctx, rows), lambda row, path: path.value(row, lookup))
    return [p.name for p in selected], _window(query, matched)


def _place(version: str, record: Row, path: Path, row: Row, lookup: Lookup | None) -> None:
    """One selected field into a record, nested under each relationship it goes through."""
    holder: Row | None = row
    into = record
    for relationship, reference in path.hops:
        target = holder.get(reference) if holder is not None else None
        found = lookup(str(target)) if target is not None and lookup is not None else None
        if found is None:
            into.setdefault(relationship, None)
            return
        kind, holder = found
        nested = into.get(relationship)
        if not isinstance(nested, dict):
            url = f"/services/data/{version}/sobjects/{kind}/{holder['Id']}"
            nested = into[relationship] = {"attributes": {"type": kind, "url": url}}
        into = nested
    into[path.field.name] = holder.get(path.field.name) if holder is not None else None


def execute(
    query: Query,
    obj: SObjectType,
    objects: Mapping[str, SObjectType],
    rows: Iterable[Row],
    lookup: Lookup,
    version: str,
) -> tuple[int, list[Row]]:
    """``totalSize`` and the records as the REST API shows them."""
    ctx = Context(query, obj, objects, lookup)
    if query.count and (query.group_by or query.order):
        clause = "GROUP BY" if query.group_by else "ORDER BY"
        raise query_error(
            query.text,
            (query.group_by[0][1] if query.group_by else query.order[0].pos),
            f"COUNT() cannot be used with {clause}; use COUNT(fieldName) instead",
        )
    if query.aggregates or query.group_by:
        groups = _aggregated(ctx, _matched(ctx, rows))
        return len(groups), groups
    selected = _selected(ctx)
    matched = _window(
        query, _sorted(ctx, _matched(ctx, rows), lambda row, path: path.value(row, lookup))
    )
    if query.count:
        return len(matched), []
    records: list[Row] = []
    for row in matched:
        url = f"/services/data/{version}/sobjects/{obj.name}/{row['Id']}"
        record: Row = {"attributes": {"type": obj.name, "url": url}}
        for path in selected:
            _place(version, record, path, row, lookup)
        records.append(record)
    return len(records), records


def _aggregate_value(function: str, values: list[Any], definition: FieldDef) -> Any:
    present = [v for v in values if v is not None]
    if function == "COUNT":
        return len(present)
    if function == "COUNT_DISTINCT":
        return len({_key(definition, v) for v in present})
    if not present:
        return None
    if function in ("MIN", "MAX"):
        chosen = min if function == "MIN" else max
        return chosen(present, key=lambda v: _key(definition, v))
    total = float(sum(present))
    return total if function == "SUM" else total / len(present)


def _check_aggregate(ctx: Context, aggregate: Aggregate, path: Path) -> None:
    numeric_only = aggregate.function in ("SUM", "AVG")
    if (numeric_only and path.field.type not in NUMERIC) or (
        aggregate.function != "COUNT" and path.field.type in ("textarea", "id")
    ):
        raise query_error(
            ctx.query.text,
            aggregate.pos,
            f"field {path.field.name} does not support aggregate operator {aggregate.function}",
            "INVALID_FIELD",
        )


GroupPredicate = Callable[[list[Row]], bool]


def _having(ctx: Context, condition: Condition, grouped: set[str]) -> GroupPredicate:
    """``HAVING``: conditions on a group's grouped fields or on its aggregates."""
    if isinstance(condition, Negation):
        inner = _having(ctx, condition.part, grouped)
        return lambda members: not inner(members)
    if isinstance(condition, Junction):
        parts = [_having(ctx, part, grouped) for part in condition.parts]
        if condition.op == "AND":
            return lambda members: all(part(members) for part in parts)
        return lambda members: any(part(members) for part in parts)
    aggregate = condition.aggregate
    if aggregate is None:
        if ctx.path(condition.field, condition.pos).name.lower() not in grouped:
            raise query_error(
                ctx.query.text,
                condition.pos,
                f"Field must be grouped or aggregated: {condition.field}",
            )
        on_row = _comparison(ctx, condition)
        return lambda members: on_row(members[0])
    path = ctx.path(aggregate.field, aggregate.pos)
    _check_aggregate(ctx, aggregate, path)
    literal, function = condition.values[0], aggregate.function
    numeric = function in ("COUNT", "COUNT_DISTINCT", "SUM", "AVG")
    if numeric and literal.kind != "number":
        raise query_error(
            ctx.query.text,
            literal.pos,
            f"value of filter criterion for {function}({path.name}) must be of type number",
            "INVALID_FIELD",
        )
    target = literal.value if numeric else _literal_key(ctx.query, path.field, literal)
    check, lookup = _COMPARE[condition.op], ctx.lookup

    def test(members: list[Row]) -> bool:
        values = [path.value(row, lookup) for row in members]
        value = _aggregate_value(function, values, path.field)
        return check(value if numeric else _key(path.field, value), target)

    return test


def _aggregated(ctx: Context, rows: list[Row]) -> list[Row]:
    """One ``AggregateResult`` per group (one in all without ``GROUP BY``)."""
    query, lookup = ctx.query, ctx.lookup
    keys = [ctx.path(name, pos) for name, pos in query.group_by]
    for path, (_, pos) in zip(keys, query.group_by, strict=True):
        if path.field.type not in GROUPABLE:
            raise query_error(
                query.text,
                pos,
                f"field '{path.field.name}' can not be grouped in a query call",
                "INVALID_FIELD",
            )
    grouped = {p.name.lower() for p in keys}
    selected = _selected(ctx)
    for path, (name, pos) in zip(selected, query.fields, strict=True):
        if path.name.lower() not in grouped:
            raise query_error(query.text, pos, f"Field must be grouped or aggregated: {name}")
    measured = [(a, ctx.path(a.field, a.pos)) for a in query.aggregates]
    for aggregate, path in measured:
        _check_aggregate(ctx, aggregate, path)
    groups: dict[tuple[Any, ...], list[Row]] = {} if keys else {(): []}
    for row in rows:
        group = tuple(_key(p.field, p.value(row, lookup)) for p in keys)
        groups.setdefault(group, []).append(row)
    having = _having(ctx, query.having, grouped) if query.having else None
    records: list[Row] = []
    for members in groups.values():
        if having is not None and not having(members):
            continue
        record: Row = {"attributes": {"type": "AggregateResult"}}
        for path in selected:
            record[path.field.name] = path.value(members[0], lookup)
        unnamed = 0
        for aggregate, path in measured:
            name = aggregate.alias or f"expr{unnamed}"
            unnamed += aggregate.alias is None
            values = [path.value(row, lookup) for row in members]
            record[name] = _aggregate_value(aggregate.function, values, path.field)
        records.append(record)
    by_name = {p.name.lower(): p.field.name for p in selected}
    ordered = _sorted(
        ctx, records, lambda record, path: record.get(by_name.get(path.name.lower(), ""))
    )
    return _window(query, ordered)
