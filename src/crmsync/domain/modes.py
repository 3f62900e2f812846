"""A connection's sync modes (Sync preferences) and the statuses a preview reports.

**Import mode** (CRM → app) says which CRM records reach the app:

* ``match_existing`` (the default): records already linked, and unlinked ones matched to a
  contact the org has by their Person ID or, failing that, by email. At a match the CRM's
  values of the CRM-owned fields are taken; app-owned fields that differ are written back.
* ``update_existing``: the same records; at a match the app contact is updated with every
  mapped field the CRM record has a value for (as a create would), whoever owns it. From then
  on each field's source of truth decides, as in ``match_existing``.
* ``create_new``: as ``match_existing``, and a CRM record no contact matches becomes a new app
  contact (every mapped field with a value), told to the host as ``created``.

**Export mode** (app → CRM) says what a push writes:

* ``all`` (the default): a record's create writes every mapped field with a value, an update
  the fields the app owns that changed.
* ``match_existing_import_new``: an existing (linked) CRM record is never updated; a missing
  one is created with every mapped field with a value, CRM-owned ones included.
* ``update_existing_import_new``: app-owned fields to existing records, every mapped field
  with a value to new ones: the same plan as ``all`` (named so the admin picks it explicitly).
"""

from __future__ import annotations

from enum import StrEnum


class ImportMode(StrEnum):
    MATCH_EXISTING = "match_existing"
    UPDATE_EXISTING = "update_existing"
    CREATE_NEW = "create_new"


class ExportMode(StrEnum):
    ALL = "all"
    MATCH_EXISTING_IMPORT_NEW = "match_existing_import_new"
    UPDATE_EXISTING_IMPORT_NEW = "update_existing_import_new"


class PreviewStatus(StrEnum):
    """What a run would do (or did) with one record."""

    INSERTED = "inserted"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    IGNORED = "ignored"
    DEACTIVATED = "deactivated"
    UPSERTED = "upserted"
    FAILED = "failed"
