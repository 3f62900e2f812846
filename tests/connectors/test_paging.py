"""The shared paginators walk every page once, stop at the last, and never loop on a CRM that
repeats itself."""

from __future__ import annotations

import asyncio
from typing import Any

from crmsync.connectors.paging import (
    NextUrlPaging,
    OffsetPaging,
    PageNumberPaging,
    PageRequest,
    Paging,
    TokenPaging,
    collect,
)


class FakeApi:
    """Answers page requests from a script, and keeps what was asked."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.asked: list[PageRequest] = []

    async def send(self, request: PageRequest) -> Any:
        self.asked.append(request)
        return self.answer(request)


def walk(api: FakeApi, request: PageRequest, paging: Paging) -> list[Any]:
    return asyncio.run(collect(api.send, request, paging))


def test_a_token_in_the_body_is_sent_back_as_a_parameter_until_there_is_none() -> None:
    script = {None: (["a", "b"], "t1"), "t1": (["c"], "t2"), "t2": (["d"], None)}

    def answer(request: PageRequest) -> Any:
        items, token = script[request.params.get("after")]
        return {"results": items, "paging": {"next": {"after": token}} if token else {}}

    api = FakeApi(answer)
    paging = TokenPaging(items=("results",), token=("paging", "next", "after"), send_as="after")
    found = walk(api, PageRequest("GET", "/owners", {"limit": 2}), paging)
    assert found == ["a", "b", "c", "d"]
    assert [r.params for r in api.asked] == [
        {"limit": 2},
        {"limit": 2, "after": "t1"},
        {"limit": 2, "after": "t2"},
    ]


def test_a_token_can_travel_in_the_json_body() -> None:
    def answer(request: PageRequest) -> Any:
        cursor = (request.json or {}).get("cursor")
        return {"data": [cursor or "first"], "cursor": None if cursor else "next"}

    api = FakeApi(answer)
    paging = TokenPaging(items=("data",), token=("cursor",), send_as="cursor", place="json")
    assert walk(api, PageRequest("POST", "/search", json={"q": 1}), paging) == ["first", "next"]
    assert api.asked[1].json == {"q": 1, "cursor": "next"}


def test_a_repeated_token_stops_the_walk_instead_of_looping_forever() -> None:
    api = FakeApi(lambda request: {"results": ["x"], "paging": {"next": {"after": "same"}}})
    paging = TokenPaging(items=("results",), token=("paging", "next", "after"), send_as="after")
    assert walk(api, PageRequest("GET", "/owners"), paging) == ["x", "x"]
    assert len(api.asked) == 2


def test_a_next_url_is_followed_until_the_body_says_done() -> None:
    pages = {
        "https://i.test/query": {"records": [1, 2], "done": False, "nextRecordsUrl": "/q/2"},
        "https://i.test/q/2": {"records": [3], "done": False, "nextRecordsUrl": "/q/3"},
        "https://i.test/q/3": {"records": [4], "done": True, "nextRecordsUrl": "/q/4"},
    }
    api = FakeApi(lambda request: pages[request.url])
    paging = NextUrlPaging(
        items=("records",), next_url=("nextRecordsUrl",), done=("done",), base="https://i.test"
    )
    assert walk(api, PageRequest("GET", "https://i.test/query", {"q": "x"}), paging) == [1, 2, 3, 4]
    assert len(api.asked) == 3


def test_an_offset_moves_by_the_items_seen_until_the_crm_says_no_more() -> None:
    rows = list(range(7))

    def answer(request: PageRequest) -> Any:
        skip, limit = request.params["_skip"], request.params["_limit"]
        return {"data": rows[skip : skip + limit], "has_more": skip + limit < len(rows)}

    api = FakeApi(answer)
    paging = OffsetPaging(
        items=("data",), offset="_skip", limit="_limit", size=3, more=("has_more",)
    )
    assert walk(api, PageRequest("GET", "/user/"), paging) == rows
    assert [r.params["_skip"] for r in api.asked] == [0, 3, 6]


def test_an_offset_walk_stops_at_the_total_or_a_short_page() -> None:
    rows = list(range(5))

    def answer(request: PageRequest) -> Any:
        skip, limit = request.params["skip"], request.params["limit"]
        return {"users": rows[skip : skip + limit], "count": 99}  # a count that overstates

    api = FakeApi(answer)
    paging = OffsetPaging(items=("users",), offset="skip", limit="limit", size=2, total=("count",))
    assert walk(api, PageRequest("GET", "/users/search"), paging) == rows
    assert len(api.asked) == 3, "the short third page is the last"


def test_numbered_pages_count_from_one_and_an_empty_page_ends_the_walk() -> None:
    def answer(request: PageRequest) -> Any:
        page = (request.json or {})["page"]
        return {"contacts": [page] * 2 if page <= 2 else [], "total": 1000}

    api = FakeApi(answer)
    paging = PageNumberPaging(
        items=("contacts",), page="page", limit="pageLimit", size=2, total=("total",)
    )
    assert walk(api, PageRequest("POST", "/contacts/search", json={}), paging) == [1, 1, 2, 2]
    assert [(r.json or {})["page"] for r in api.asked] == [1, 2, 3]
    assert (api.asked[0].json or {})["pageLimit"] == 2
