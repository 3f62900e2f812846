"""The app's contact record as field values: a ``people`` row and its owner, under the local
field names the field mappings use (``connectors.spec.PERSON_FIELDS``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OWNER = "owner"
"""The local field holding the record's owner (a user reference)."""


def contact_values(
    person: Mapping[Any, Any], owner_email: str | None, profile_url_template: str
) -> dict[str, Any]:
    """Every mappable field of one contact. ``owner`` is a user reference: the email of the
    org's user who owns the contact (translated to a CRM user id by the planner)."""
    emails = list(person["emails"] or [])
    phones = list(person["phones"] or [])
    person_id = person["person_id"]
    return {
        "person_id": person_id,
        "profile_url": person["profile_url"] or profile_url_template.format(person_id=person_id),
        "first_name": person["first_name"],
        "last_name": person["last_name"],
        "email": emails[0] if emails else None,
        "emails": emails,
        "phone": phones[0] if phones else None,
        "phones": phones,
        "company": person["company"],
        "title": person["title"],
        "city": person["city"],
        "state": person["state"],
        "zip": person["zip"],
        "country": person["country"],
        "linkedin_url": person["linkedin_url"],
        OWNER: owner_email,
    }
