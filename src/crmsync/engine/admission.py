"""Decides what one CRM record does to the app: pure functions, no I/O (the import half of
the decisions; ``planner`` is the export half).

The intake finds the record's **target** (its link, a contact it matches by Person ID or
email, or none) and ``decide_import`` says what happens, by the connection's import mode
(``domain.modes.ImportMode``) and the fields' ownership (``reconcile``). The intake applies
the decision; the preview reports it without applying it: one decision for both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from crmsync.domain.mapping import FieldMaps
from crmsync.domain.modes import ImportMode, PreviewStatus
from crmsync.domain.records import Change, ChangeKind
from crmsync.engine.reconcile import Reconciled, reconcile


class Via(StrEnum):
    LINKED = "linked"
    """crmsync linked the record to the contact already."""
    MATCHED = "matched"
    """Not linked yet: it carries the Person ID or an email of a contact the org has."""
    NONE = "none"


@dataclass(frozen=True)
class Target:
    """The app contact a CRM record answers to, as the intake found it."""

    via: Via
    local_id: str | None = None
    shadow: dict[str, Any] | None = None
    """What both sides last agreed on (a linked record's ``written``)."""
    why: str = ""
    """How it was matched, or why nothing matched."""
    active: bool = True


@dataclass(frozen=True)
class ImportRules:
    """What a connection's imports depend on beyond the record."""

    fields: FieldMaps
    reader: str
    user_emails: Mapping[str, str]
    mode: ImportMode = ImportMode.MATCH_EXISTING
    preserve_manual_edits: bool = False
    stored: Callable[[str, Any], Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ImportDecision:
    status: PreviewStatus
    reason: str
    reconciled: Reconciled | None = None
    """Field by field, for a record that is taken in (inserted, updated or unchanged)."""


def gone(change: Change) -> bool:
    return change.kind is ChangeKind.DELETED or (
        change.record is not None and change.record.archived
    )


def decide_import(change: Change, target: Target, rules: ImportRules) -> ImportDecision:
    """What ``change`` (a record upserted, deleted or archived; merges are the intake's) does
    to the app, given its ``target``."""
    if gone(change):
        if target.via is not Via.LINKED:
            return ImportDecision(PreviewStatus.IGNORED, "not linked: nothing to deactivate")
        if not target.active:
            return ImportDecision(PreviewStatus.UNCHANGED, "deactivated already")
        return ImportDecision(PreviewStatus.DEACTIVATED, "deleted or archived in the CRM")
    assert change.record is not None
    if target.via is Via.NONE:
        if rules.mode is not ImportMode.CREATE_NEW:
            why = target.why or "no contact of the org is linked or has its Person ID or email"
            return ImportDecision(PreviewStatus.IGNORED, f"import mode {rules.mode}: {why}")
        created = _reconcile(change, None, rules)
        reason = f"import mode {rules.mode}: no contact matches it, so it becomes a new one"
        return ImportDecision(PreviewStatus.INSERTED, reason, created)
    shadow = target.shadow
    reason = ""
    if target.via is Via.MATCHED:
        if rules.mode is ImportMode.UPDATE_EXISTING:
            shadow = None  # the match takes every field with a value, as a create would
            reason = f"matched by {target.why}; import mode {rules.mode}: every field taken"
        else:
            shadow = {}  # the match takes the CRM-owned fields; app-owned ones go back
            reason = f"matched by {target.why}; the ownership rules decide each field"
    result = _reconcile(change, shadow, rules)
    if not target.active:
        return ImportDecision(PreviewStatus.UPDATED, "restored in the CRM: reactivated", result)
    if result.taken:
        taken = ", ".join(sorted(result.taken))
        return ImportDecision(
            PreviewStatus.UPDATED, reason or f"the CRM owns {taken}: taken", result
        )
    if result.drift:
        back = ", ".join(sorted(result.drift))
        why = f"the app owns {back}: the app's values go back to the CRM"
        return ImportDecision(
            PreviewStatus.UNCHANGED, f"{reason}; {why}" if reason else why, result
        )
    return ImportDecision(
        PreviewStatus.UNCHANGED, reason or "nothing changed since the last sync", result
    )


def _reconcile(change: Change, shadow: dict[str, Any] | None, rules: ImportRules) -> Reconciled:
    assert change.record is not None
    return reconcile(
        change.record.fields,
        rules.fields,
        shadow,
        rules.reader,
        rules.user_emails,
        rules.preserve_manual_edits,
        rules.stored,
    )
