"""``GET /lead/?query=…``: the part of Close's lead search syntax the emulator evaluates.

Close's own example (the closeio client's README) is
``custom.my_custom_field:"some_value" status:"Potential" sort:updated``. Terms are separated by
spaces and all must hold. A term is plain text, or ``key:value`` (also ``key = value``), with
the key or the value in double quotes when it has spaces:

* ``custom.<field name or id>``: a lead custom field, or a contact custom field of one of the
  lead's contacts, equal to the value (case-insensitive; numbers as numbers);
* ``email`` / ``email_address``: a contact's email (case-insensitive);
* ``phone`` / ``phone_number``: a contact's phone, digits compared;
* ``name``: words of the lead's name; ``id`` / ``lead_id``: the lead's id;
* ``status`` / ``lead_status``: the status label;
* ``sort:<created|updated|name>`` (``sort:-updated`` descending; direction unconfirmed);
* plain text: every word appears among the words of the lead's name, description, and its
  contacts' names, titles, emails and phones.

Anything else (``or``, ``not``, ``-term``, parentheses, ranges ``>``/``<``, wildcards, other
keys, unknown custom fields) is refused with Close's 400 before any lead is looked at, never
ignored: a search that silently drops a condition returns leads it should not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crmsync.providers.close.emulator.errors import CloseError, invalid
from crmsync.providers.close.emulator.records import Contact, CustomField, Lead

_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|([:=<>!])|([()])|([^\s:="()<>!]+))')
_WORD = re.compile(r"[\w@.+'-]+")
_ALIASES = {
    "email_address": "email",
    "phone_number": "phone",
    "lead_id": "id",
    "lead_status": "status",
}
KEYS = frozenset({"email", "phone", "name", "id", "status", "sort"})
SORTS = {"created": "date_created", "updated": "date_updated", "name": "name"}
SORTS |= {value: value for value in SORTS.values()}
BOOLEAN_WORDS = frozenset({"or", "not"})


@dataclass(frozen=True)
class Term:
    key: str | None
    """None for plain text; ``custom`` for a custom field (``field`` says which)."""
    value: str
    field: CustomField | None = None


@dataclass(frozen=True)
class LeadQuery:
    terms: tuple[Term, ...]
    sort: tuple[str, bool] | None = None
    """The lead attribute to sort by and whether descending; None: oldest first."""


def _refuse(text: str, why: str) -> CloseError:
    return invalid(field_errors={"query": f"{why} (in {text!r})."})


def _tokens(text: str) -> list[tuple[str, str]]:
    """``("word" | "quoted" | "op" | "paren", text)`` pairs."""
    found: list[tuple[str, str]] = []
    position = 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _refuse(text, "Unbalanced quotes")
        quoted, op, paren, word = match.groups()
        if quoted is not None:
            found.append(("quoted", re.sub(r"\\(.)", r"\1", quoted)))
        elif op is not None:
            found.append(("op", op))
        elif paren is not None:
            found.append(("paren", paren))
        else:
            found.append(("word", word))
        position = match.end()
    return found


def _resolve(
    name: str, lead_fields: Sequence[CustomField], contact_fields: Sequence[CustomField]
) -> CustomField:
    """By id, then by name (lead fields first, as a lead search would)."""
    every = [*lead_fields, *contact_fields]
    found = next((f for f in every if f.id == name), None)
    found = found or next((f for f in every if f.name.lower() == name.lower()), None)
    if found is None:
        raise invalid(field_errors={"query": f"Unknown custom field: {name!r}."})
    return found


def parse(
    text: str, lead_fields: Sequence[CustomField], contact_fields: Sequence[CustomField]
) -> LeadQuery:
    tokens = _tokens(text)
    terms: list[Term] = []
    sort: tuple[str, bool] | None = None
    index = 0
    while index < len(tokens):
        kind, atom = tokens[index]
        if kind in ("op", "paren"):
            raise _refuse(text, f"Unsupported search syntax {atom!r}")
        if kind == "word" and atom.lower() in BOOLEAN_WORDS:
            raise _refuse(text, f"Boolean {atom!r} is not supported by the emulator")
        if kind == "word" and atom.startswith("-"):
            raise _refuse(text, "Negated terms are not supported by the emulator")
        if kind == "word" and atom.lower() == "and":
            index += 1
            continue
        if index + 1 < len(tokens) and tokens[index + 1][0] == "op":
            if tokens[index + 1][1] not in (":", "="):
                raise _refuse(text, "Ranges and comparisons are not supported by the emulator")
            if index + 2 >= len(tokens) or tokens[index + 2][0] not in ("word", "quoted"):
                raise _refuse(text, f"No value for {atom!r}")
            value = tokens[index + 2][1]
            index += 3
            if "*" in value:
                raise _refuse(text, "Wildcards are not supported by the emulator")
            if atom.lower().startswith("custom."):
                field = _resolve(atom[len("custom.") :], lead_fields, contact_fields)
                terms.append(Term("custom", value, field))
                continue
            key = _ALIASES.get(atom.lower(), atom.lower())
            if key not in KEYS:
                raise _refuse(text, f"Unsupported search field {atom!r}")
            if key == "sort":
                attribute = SORTS.get(value.removeprefix("-"))
                if attribute is None:
                    raise _refuse(text, f"Unsupported sort {value!r}")
                sort = (attribute, value.startswith("-"))
                continue
            terms.append(Term(key, value))
            continue
        if "*" in atom:
            raise _refuse(text, "Wildcards are not supported by the emulator")
        terms.append(Term(None, atom))
        index += 1
    return LeadQuery(tuple(terms), sort)


def _words(values: Sequence[Any]) -> set[str]:
    return {w for value in values if value for w in _WORD.findall(str(value).lower())}


def _digits(value: Any) -> str:
    return re.sub(r"\D", "", str(value))


def _same(stored: Any, wanted: str, field: CustomField) -> bool:
    items = stored if isinstance(stored, list) else [stored]
    for item in items:
        if item in (None, ""):
            continue
        if field.type == "number":
            try:
                if float(item) == float(wanted):
                    return True
            except ValueError:
                continue
        elif str(item).lower() == wanted.lower():
            return True
    return False


def _holds(term: Term, lead: Lead, contacts: Sequence[Contact]) -> bool:
    value = term.value
    match term.key:
        case "custom":
            assert term.field is not None
            field_id = term.field.id
            holders: list[Mapping[str, Any]] = [lead.custom, *(c.custom for c in contacts)]
            return any(_same(h.get(field_id), value, term.field) for h in holders)
        case "email":
            emails = (e["email"].lower() for c in contacts for e in c.emails)
            return value.lower() in set(emails)
        case "phone":
            phones = {_digits(p["phone"]) for c in contacts for p in c.phones}
            return bool(_digits(value)) and _digits(value) in phones
        case "name":
            return _words([value]) <= _words([lead.name])
        case "id":
            return lead.id == value
        case "status":
            return lead.status_label.lower() == value.lower()
    texts: list[Any] = [lead.name, lead.description]
    for contact in contacts:
        texts += [contact.name, contact.title]
        texts += [e["email"] for e in contact.emails] + [p["phone"] for p in contact.phones]
    return _words([value]) <= _words(texts)


def matches(query: LeadQuery, lead: Lead, contacts: Sequence[Contact]) -> bool:
    return all(_holds(term, lead, contacts) for term in query.terms)


def ordered(query: LeadQuery, leads: Sequence[Lead]) -> list[Lead]:
    if query.sort is None:
        return list(leads)
    attribute, descending = query.sort

    def key(lead: Lead) -> str:
        value = getattr(lead, attribute) or ""
        if attribute == "date_updated":
            value = value or lead.date_created
        return str(value).lower()

    return sorted(leads, key=key, reverse=descending)
