"""The Mappings tab's form, as the mappings service takes it: one row per field mapping, sent
as parallel lists (``obj``, ``app_field``, ``crm_field``, ``canonical``, ``kind``), and the
indexes of the rows to ``remove``.

What the form alone gets wrong (a source of truth that is neither app nor crm, a kind that
does not exist, lists of different lengths) is refused here; every rule about what may map to
what is the service's (``services.mapping_rules``), whose messages the page shows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from crmsync.domain.commands import MapField, MapObject, SaveMappings
from crmsync.domain.enums import System
from crmsync.domain.mapping import ValueKind
from crmsync.domain.views import MappingsView

MAX_ROWS = 300
MAX_TEXT = 200
_ROW = re.compile(r"^(?:(?P<obj>[^:]+): )?fields\[(?P<index>\d+)\] ")
_ANOTHER_ROW = re.compile(r"fields\[(\d+)\]")


@dataclass(frozen=True)
class Row:
    """One row of the table, as shown (from the service) or as sent (after a refusal)."""

    obj: str
    app_field: str
    crm_field: str
    canonical: str
    kind: str
    fixed: bool = False


@dataclass(frozen=True)
class Problem:
    """One refusal, with the row it names (by its place in the table), if any."""

    text: str
    row: int | None = None


def view_rows(view: MappingsView) -> list[Row]:
    return [
        Row(obj.local_object, f.app_field, f.crm_field, f.canonical, f.kind, f.fixed)
        for obj in view.objects
        for f in obj.fields
    ]


def parse(
    view: MappingsView,
    changed_by: str,
    columns: tuple[Sequence[str], ...],
    remove: Sequence[str],
) -> tuple[list[Row], list[Problem], SaveMappings | None]:
    """The rows kept (blank and removed ones dropped), the form's own problems, and the
    command when there are none. ``columns``: the object, app field, CRM field, source of
    truth and kind of each row."""
    if len(columns) != 5 or len({len(c) for c in columns}) != 1:
        return [], [Problem("The form arrived incomplete. Reload the page and try again.")], None
    if len(columns[0]) > MAX_ROWS:
        return [], [Problem(f"A mapping set has at most {MAX_ROWS} rows.")], None
    if any(len(v) > MAX_TEXT for c in (*columns, remove) for v in c):
        return [], [Problem(f"A field name has at most {MAX_TEXT} characters.")], None
    fixed = {r.app_field for r in view_rows(view) if r.fixed}
    dropped = {v.strip() for v in remove}
    rows: list[Row] = []
    for index, values in enumerate(zip(*columns, strict=True)):
        obj, app_field, crm_field, canonical, kind = (v.strip() for v in values)
        if not app_field and not crm_field:
            continue  # the blank row left for a new mapping
        if str(index) in dropped and app_field not in fixed:
            continue
        rows.append(Row(obj, app_field, crm_field, canonical, kind, app_field in fixed))
    problems: list[Problem] = []
    kinds_known = {k.value for k in ValueKind}
    for place, row in enumerate(rows):
        if row.canonical not in (System.APP.value, System.CRM.value):
            problems.append(
                Problem(f"Row {place + 1}: choose app or crm as the source of truth.", place)
            )
        if row.kind and row.kind not in kinds_known:
            problems.append(Problem(f"Row {place + 1}: there is no kind {row.kind!r}.", place))
    if problems:
        return rows, problems, None
    names = [o.local_object for o in view.objects]
    names += sorted({r.obj for r in rows} - set(names))  # the service names what is unknown
    objects = tuple(
        MapObject(
            name,
            tuple(
                MapField(
                    r.app_field,
                    r.crm_field,
                    System(r.canonical),
                    ValueKind(r.kind) if r.kind else None,
                )
                for r in rows
                if r.obj == name
            ),
        )
        for name in names
    )
    return rows, [], SaveMappings(objects, changed_by)


def service_problems(rows: Sequence[Row], problems: Sequence[str]) -> list[Problem]:
    """The service's messages, with ``fields[i]`` (per object) turned into the table's row."""
    places: dict[tuple[str, int], int] = {}
    counts: dict[str, int] = {}
    for place, row in enumerate(rows):
        at = counts.get(row.obj, 0)
        places[row.obj, at] = place
        counts[row.obj] = at + 1
    single = next(iter(counts), "")
    out = []
    for text in problems:
        match = _ROW.match(text)
        if match is None:
            out.append(Problem(_sentence(text)))
            continue
        obj = match["obj"] or single
        found = places.get((obj, int(match["index"])))
        label = f"Row {found + 1} " if found is not None else ""

        def renumber(other: re.Match[str], obj: str = obj) -> str:
            place = places.get((obj, int(other[1])))
            return f"row {place + 1}" if place is not None else other[0]

        rest = _ANOTHER_ROW.sub(renumber, text[match.end() :])
        out.append(Problem(_sentence(label + rest), found))
    return out


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
