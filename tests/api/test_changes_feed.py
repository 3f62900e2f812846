"""The change feed and webhook endpoints as a host calls them: paging, isolation, refusals."""

from __future__ import annotations

from typing import get_args

import pytest

from crmsync.api.feed_schemas import ChangeKindName
from crmsync.domain.enums import FeedKind
from crmsync.engine import feed
from tests.api.conftest import RowCounts
from tests.support.world import World


def _append(w: World, org_id: str, record_id: str, entity: str = "contact") -> int:
    return w.rt.db.transaction(
        lambda session: feed.append(
            session,
            org_id=org_id,
            connection_id=None,
            entity=entity,
            record_id=record_id,
            kind=FeedKind.OWNER_CHANGED,
            fields={"title": "CTO"},
            owner={"user_id": "u-admin", "crm_user_email": "admin@acme.test"},
        )
    )


def test_feed_pages_in_seq_order_and_polls_forever_when_empty(team: World) -> None:
    seqs = [_append(team, "org1", f"p{i}") for i in range(5)]
    first = team.api.get("/api/v1/orgs/org1/changes?limit=3").json()
    assert [c["seq"] for c in first["changes"]] == seqs[:3]
    assert first["next"] == seqs[2]
    rest = team.api.get(f"/api/v1/orgs/org1/changes?after={first['next']}").json()
    assert [c["seq"] for c in rest["changes"]] == seqs[3:]
    empty = team.api.get(f"/api/v1/orgs/org1/changes?after={rest['next']}").json()
    assert empty == {"changes": [], "next": rest["next"]}
    item = first["changes"][0]
    assert item["person_id"] == "p0" and item["kind"] == "owner_changed"
    assert item["owner"] == {"user_id": "u-admin", "crm_user_email": "admin@acme.test"}


def test_feed_person_id_is_null_for_other_entities(team: World) -> None:
    _append(team, "org1", "c1", entity="company")
    assert team.api.get("/api/v1/orgs/org1/changes").json()["changes"][0]["person_id"] is None


def test_feed_shows_an_org_only_its_own_changes(team: World) -> None:
    _append(team, "org1", "p1")
    mine = _append(team, "org2", "p2")
    page = team.api.get("/api/v1/orgs/org2/changes").json()
    assert [c["seq"] for c in page["changes"]] == [mine]
    assert team.api.get("/api/v1/orgs/nobody/changes").status_code == 404


@pytest.mark.parametrize("query", ["after=-1", "after=abc", "limit=0", "limit=1001", "limit=x"])
def test_feed_refuses_a_bad_cursor_or_limit(team: World, query: str) -> None:
    r = team.api.get(f"/api/v1/orgs/org1/changes?{query}")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][0] == "query"


def test_feed_needs_the_host_key(team: World) -> None:
    r = team.api.get("/api/v1/orgs/org1/changes", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401


def test_webhook_is_created_listed_with_its_secret_and_deleted(team: World) -> None:
    r = team.api.post("/api/v1/orgs/org1/webhooks", json={"url": "https://host.test/hook"})
    assert r.status_code == 201
    created = r.json()
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 30
    assert team.api.get("/api/v1/orgs/org1/webhooks").json() == [created]
    assert team.api.get("/api/v1/orgs/org2/webhooks").json() == []
    assert team.api.delete(f"/api/v1/orgs/org2/webhooks/{created['id']}").status_code == 404
    _append(team, "org1", "p1")
    deliveries = team.api.get(f"/api/v1/orgs/org1/webhooks/{created['id']}/deliveries").json()
    assert [(d["status"], d["attempts"]) for d in deliveries] == [("pending", 0)]
    r = team.api.delete(f"/api/v1/orgs/org1/webhooks/{created['id']}")
    assert r.json() == {"id": created["id"], "pending_dropped": 1}
    assert team.api.get("/api/v1/orgs/org1/webhooks").json() == []


@pytest.mark.parametrize(
    "url",
    [
        "http://host.test/hook",
        "ftp://host.test/hook",
        "https://user:pw@host.test/hook",
        "https://host.test/" + "a" * 2000,
        "not a url",
        "https:///nohost",
        "https://host.test:99999/",
    ],
)
def test_webhook_refuses_a_bad_url_and_writes_nothing(
    team: World, rows: RowCounts, url: str
) -> None:
    before = rows()
    r = team.api.post("/api/v1/orgs/org1/webhooks", json={"url": url})
    assert r.status_code == 422, r.text
    assert "webhook URL" in r.json()["detail"]
    assert rows() == before


def test_webhook_allows_http_to_localhost_for_dev(team: World) -> None:
    for url in ("http://localhost:9000/hook", "http://127.0.0.1/hook", "http://[::1]/hook"):
        assert team.api.post("/api/v1/orgs/org1/webhooks", json={"url": url}).status_code == 201


def test_the_feed_schema_names_every_kind_the_domain_has() -> None:
    """The API's literal of change kinds and the domain's ``FeedKind`` are one list."""
    assert sorted(get_args(ChangeKindName)) == sorted(FeedKind)
