"""Takes one page of a CRM's changes into the app, in one transaction with the cursor that
covers them: so a worker killed between reading and committing misses nothing and applies
nothing twice (the page is read again, and equal-to-shadow is no change).

Per change: the record's link is found by its CRM id or an alias; a record not linked yet is
matched by the match key it carries (the Person ID), else by its email, to a contact the org
has (``find``); ``admission.decide_import`` says what happens, by the import mode (ignored,
or with ``create_new`` a new app contact) and ``reconcile`` field by field; this module
makes it so: CRM-owned values and the owner go to the org's view of the record
(``OrgRecord``) and to the change feed, drifted app-owned fields queue a push that puts the
app's value back, deletes deactivate and restores reactivate, a merge re-links to the
survivor and keeps the merged id as an alias.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from crmsync.db.tables import Link, LinkAlias, OrgRecord, Person, Unlock, User, new_id, utcnow
from crmsync.domain.enums import FeedKind, Lane
from crmsync.domain.keys import CONTACT
from crmsync.domain.mapping import ObjectMap, ValueKind
from crmsync.domain.modes import ImportMode, PreviewStatus
from crmsync.domain.records import Change, ChangeKind, RemoteRecord
from crmsync.engine import feed, org_records, outbox
from crmsync.engine.admission import (
    ImportDecision,
    ImportRules,
    Target,
    Via,
    decide_import,
    gone,
)
from crmsync.engine.reconcile import Reconciled

OWNER = "owner"
EMAIL = "email"
CREATED_PREFIX = "crm-"
"""Local ids of the contacts import mode ``create_new`` made from CRM records."""


@dataclass
class Intake:
    """What one connection's reading needs to take changes in: its flow's object mapping,
    whose endpoint it reads as, and how to translate users."""

    org_id: str
    connection_id: str
    reader: str
    """The endpoint the changes come from (the connection's id)."""
    mapping: ObjectMap
    user_emails: dict[str, str]
    """The CRM's user ids → their emails."""
    preserve_manual_edits: bool = False
    mode: ImportMode = ImportMode.MATCH_EXISTING
    stored: Callable[[str, Any], Any] | None = None
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def key_field(self) -> str | None:
        """The CRM field holding the app's id of the record (the match key)."""
        return next(
            (f.crm_field for f in self.mapping.fields.fields if f.kind is ValueKind.KEY), None
        )

    def take(self, session: Session, changes: list[Change]) -> None:
        """Apply a page of changes (the caller commits, with the cursor)."""
        latest: dict[str, Change] = {}
        for change in changes:  # a record changed twice in one page: its last state counts
            latest.pop(change.crm_id, None)
            latest[change.crm_id] = change
        ids = list(latest) + [c.merged_into for c in latest.values() if c.merged_into]
        links = self.links(session, ids)
        # Merges first: a survivor crmsync had not linked is the merged record's now, so its
        # own change in this page is read against that link's shadows (not ignored).
        merges_first = sorted(latest.values(), key=lambda c: c.kind is not ChangeKind.MERGED)
        for change in merges_first:
            link = links.get(change.crm_id)
            if change.kind is ChangeKind.MERGED and change.merged_into:
                survivor = self._merge(session, change, link, links.get(change.merged_into))
                if survivor is not None:
                    links[change.merged_into] = survivor
            elif gone(change) or change.record is not None:
                self.take_one(session, change, link)

    def judge(
        self, session: Session, change: Change, link: Link | None
    ) -> tuple[Target, ImportDecision]:
        """What ``change`` would do, read only: the preview's answer and the run's decision."""
        target = self.find(session, change, link)
        return target, decide_import(change, target, self.rules)

    def take_one(self, session: Session, change: Change, link: Link | None) -> ImportDecision:
        """Decide and apply one record's change (no merge: ``take`` handles those)."""
        target, decision = self.judge(session, change, link)
        self.apply(session, change, target, link, decision)
        return decision

    @property
    def rules(self) -> ImportRules:
        return ImportRules(
            self.mapping.fields,
            self.reader,
            self.user_emails,
            self.mode,
            self.preserve_manual_edits,
            self.stored,
        )

    def find(self, session: Session, change: Change, link: Link | None) -> Target:
        """The contact ``change`` answers to, read only (the preview shares it): its link, or
        a contact of the org it matches by Person ID, else by email."""
        if link is not None:
            record = session.get(OrgRecord, (self.org_id, self.mapping.local_object, link.local_id))
            active = record is None or record.active
            return Target(Via.LINKED, link.local_id, dict(link.written or {}), active=active)
        if gone(change) or change.record is None or self.mapping.local_object != CONTACT:
            return Target(Via.NONE)
        fields = change.record.fields
        key, email = self.key_field, self.email_field
        local_id = str(fields.get(key) or "") if key else ""
        how = "Person ID"
        if not (local_id and self._has(session, local_id)):
            local_id, how = self._by_email(session, fields.get(email) if email else None), "email"
        if not local_id:
            return Target(Via.NONE)
        held = session.scalar(
            select(Link.crm_id).where(
                Link.connection_id == self.connection_id,
                Link.object_type == CONTACT,
                Link.local_id == local_id,
            )
        )
        if held not in (None, change.crm_id):
            return Target(Via.NONE, why=f"contact {local_id} is linked to another CRM record")
        return Target(Via.MATCHED, local_id, {}, why=how)

    def apply(
        self,
        session: Session,
        change: Change,
        target: Target,
        link: Link | None,
        decision: ImportDecision,
    ) -> None:
        """Make ``decision`` so (in the caller's transaction)."""
        status = decision.status
        if status is PreviewStatus.IGNORED:
            if target.why and target.via is Via.NONE:
                self.counts["duplicate"] += 1
            self.counts["ignored"] += 1
            return
        if gone(change):
            if link is not None and status is PreviewStatus.DEACTIVATED:
                self._set_active(session, link.local_id, False, change.stamp)
            return
        assert decision.reconciled is not None
        if status is PreviewStatus.INSERTED:
            self._create(session, change, decision.reconciled)
            return
        if link is None:
            assert target.local_id is not None
            link = self._link(session, change, target.local_id)
        self._update(session, link, change, decision.reconciled)

    def _has(self, session: Session, person_id: str) -> bool:
        return bool(
            session.scalar(
                select(func.count())
                .select_from(Unlock)
                .where(Unlock.org_id == self.org_id, Unlock.person_id == person_id)
            )
        )

    def _by_email(self, session: Session, email: Any) -> str:
        """The one contact of the org with this email ('' when none, or several, have it)."""
        if not isinstance(email, str) or "@" not in email:
            return ""
        wanted = email.strip().lower()
        rows = session.execute(
            select(Person.person_id, Person.emails)
            .join(Unlock, Unlock.person_id == Person.person_id)
            .where(
                Unlock.org_id == self.org_id,
                func.lower(cast(Person.emails, String)).contains(wanted, autoescape=True),
            )
        )
        found = {
            pid for pid, emails in rows if wanted in {str(e).strip().lower() for e in emails or []}
        }
        return found.pop() if len(found) == 1 else ""

    @property
    def email_field(self) -> str | None:
        """The CRM field holding the contact's email (the second match key)."""
        return next(
            (f.crm_field for f in self.mapping.fields.fields if f.local_field == EMAIL), None
        )

    def links(self, session: Session, crm_ids: list[str]) -> dict[str, Link]:
        """The links of these CRM ids (directly or by an alias)."""
        if not crm_ids:
            return {}
        crm_object = self.mapping.crm_object
        direct = session.scalars(
            select(Link).where(
                Link.connection_id == self.connection_id,
                Link.crm_object == crm_object,
                Link.crm_id.in_(crm_ids),
            )
        )
        found: dict[str, Link] = {link.crm_id or "": link for link in direct}
        missing = [i for i in crm_ids if i not in found]
        if missing:
            aliased = session.execute(
                select(LinkAlias.crm_id, Link)
                .join(Link, Link.id == LinkAlias.link_id)
                .where(
                    LinkAlias.connection_id == self.connection_id,
                    LinkAlias.crm_object == crm_object,
                    LinkAlias.crm_id.in_(missing),
                )
            )
            found.update({crm_id: link for crm_id, link in aliased})
        return found

    def _link(self, session: Session, change: Change, local_id: str) -> Link:
        """Link a matched record (``find`` said it may be)."""
        link = session.scalar(
            select(Link).where(
                Link.connection_id == self.connection_id,
                Link.object_type == CONTACT,
                Link.local_id == local_id,
            )
        )
        if link is None:
            link = Link(
                connection_id=self.connection_id,
                object_type=CONTACT,
                local_id=local_id,
                crm_object=self.mapping.crm_object,
                written={},
            )
            session.add(link)
        link.crm_id = change.crm_id
        link.pending_create_at = None
        self.counts["matched"] += 1
        return link

    def _create(self, session: Session, change: Change, result: Reconciled) -> None:
        """Import mode ``create_new``: a record no contact matches becomes a new app contact
        (it has no person behind it: an app-owned field the CRM changes later is not written
        back, there is no app value to write)."""
        local_id = f"{CREATED_PREFIX}{new_id()}"
        session.add(
            Link(
                connection_id=self.connection_id,
                object_type=CONTACT,
                local_id=local_id,
                crm_object=self.mapping.crm_object,
                crm_id=change.crm_id,
                written=result.shadow,
                last_synced_at=utcnow(),
            )
        )
        record = self._org_record(session, local_id)
        taken = dict(result.taken)
        owner_email = taken.pop(OWNER, None)
        stamp = change.stamp or utcnow().isoformat()
        record.fields = taken
        record.changed_at = {name: {"crm": stamp} for name in result.taken}
        record.owner_crm_email = owner_email
        record.owner_user_id = self._user_id(session, owner_email)
        self.counts["created"] += 1
        self._emit(session, local_id, FeedKind.CREATED, taken, record)

    def _update(self, session: Session, link: Link, change: Change, result: Reconciled) -> None:
        assert change.record is not None
        record = self._org_record(session, link.local_id)
        if record in session.new or _unseeded(record):  # a first read: its owner now
            self._seed_owner(session, record, change.record)
        was_inactive = not record.active
        if was_inactive:  # restored: what the app changed meanwhile is sent at once
            self._set_active(session, link.local_id, True, change.stamp, record)
            outbox.enqueue(session, self.connection_id, CONTACT, [link.local_id], Lane.REFRESH)
        if not result.changed:
            self.counts["unchanged"] += 1
            return
        link.written = result.shadow
        if result.drift:
            self.counts["drift"] += 1
            if not link.local_id.startswith(CREATED_PREFIX):  # no app value to put back
                outbox.enqueue(session, self.connection_id, CONTACT, [link.local_id], Lane.REFRESH)
        taken = dict(result.taken)
        if not taken:
            return
        self.counts["taken"] += 1
        stamp = change.stamp or utcnow().isoformat()
        owner_taken = OWNER in taken
        owner_email = taken.pop(OWNER, None)
        record.fields = {**(record.fields or {}), **taken}
        record.changed_at = {
            **(record.changed_at or {}),
            **{
                name: {**(record.changed_at or {}).get(name, {}), "crm": stamp}
                for name in result.taken
            },
        }
        record.updated_at = utcnow()
        if taken:
            self._emit(session, link.local_id, FeedKind.UPDATED, taken, record)
        if owner_taken:
            record.owner_crm_email = owner_email
            record.owner_user_id = self._user_id(session, owner_email)
            self._emit(session, link.local_id, FeedKind.OWNER_CHANGED, {}, record)

    def _seed_owner(self, session: Session, record: OrgRecord, remote: RemoteRecord) -> None:
        """The org's view of a record starts with the owner the CRM has (who owns it is the
        CRM's), though nothing changed that the feed should tell."""
        for spec in self.mapping.fields.fields:
            value = remote.fields.get(spec.crm_field) if spec.kind is ValueKind.USER else None
            if value:
                email = self.user_emails.get(str(value))
                record.owner_crm_email = email
                record.owner_user_id = self._user_id(session, email)

    def _set_active(
        self,
        session: Session,
        local_id: str,
        active: bool,
        stamp: str,
        record: OrgRecord | None = None,
    ) -> None:
        record = record or self._org_record(session, local_id)
        kind = org_records.set_active(session, record, active, self.connection_id)
        if kind is not None:
            self.counts[str(kind)] += 1

    def _merge(
        self, session: Session, change: Change, loser: Link | None, survivor: Link | None
    ) -> Link | None:
        """``change.crm_id`` was merged into ``change.merged_into``: its link follows the
        survivor (or, when the survivor is linked already, answers to the merged id as an
        alias, and the merged record's app side is deactivated: one CRM record, one link).
        Returns the link the survivor has now (None: neither side was linked)."""
        survivor_id = change.merged_into or ""
        if loser is None:
            self.counts["ignored"] += 1
            return survivor
        if survivor is not None and survivor.id == loser.id:
            return survivor  # seen already
        seen = session.scalar(
            select(LinkAlias.id).where(
                LinkAlias.connection_id == self.connection_id,
                LinkAlias.crm_object == self.mapping.crm_object,
                LinkAlias.crm_id == change.crm_id,
            )
        )
        if seen is not None:
            return survivor or loser  # the CRM tells of this merge again (an overlap)
        target = survivor or loser
        if survivor is None:
            loser.crm_id = survivor_id
        else:
            self._set_active(session, loser.local_id, False, change.stamp)
        session.flush()
        session.add(
            LinkAlias(
                connection_id=self.connection_id,
                crm_object=self.mapping.crm_object,
                crm_id=change.crm_id,
                link_id=target.id,
                reason="merged",
            )
        )
        self.counts["relinked"] += 1
        return target

    def _org_record(self, session: Session, local_id: str) -> OrgRecord:
        return org_records.org_record(session, self.org_id, self.mapping.local_object, local_id)

    def _user_id(self, session: Session, email: str | None) -> str | None:
        if not email:
            return None
        return session.scalar(
            select(User.id).where(
                User.org_id == self.org_id, func.lower(User.email) == email.lower()
            )
        )

    def _emit(
        self,
        session: Session,
        local_id: str,
        kind: FeedKind,
        fields: Mapping[str, Any],
        record: OrgRecord,
    ) -> None:
        feed.append(
            session,
            org_id=self.org_id,
            connection_id=self.connection_id,
            entity=self.mapping.local_object,
            record_id=local_id,
            kind=kind,
            fields=dict(fields),
            owner={"user_id": record.owner_user_id, "crm_user_email": record.owner_crm_email},
        )


def _unseeded(record: OrgRecord) -> bool:
    """A record started before its first read (a score reported, a push that found it
    deleted) has no owner yet, and no side ever changed one."""
    no_owner = record.owner_user_id is None and record.owner_crm_email is None
    return no_owner and OWNER not in (record.changed_at or {})
