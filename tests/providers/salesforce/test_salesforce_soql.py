"""The emulator's SOQL subset, run directly against rows: what a query selects, in what order,
and the errors Salesforce gives for what it does not understand."""

from __future__ import annotations

from typing import Any

import pytest

from crmsync.providers.salesforce.emulator import soql
from crmsync.providers.salesforce.emulator.errors import SalesforceError
from crmsync.providers.salesforce.emulator.schema import standard_objects

LEADS: list[dict[str, Any]] = [
    {
        "Id": "1",
        "LastName": "Lovelace",
        "Email": "ada@example.com",
        "Company": "Engines",
        "CreatedDate": "2024-01-01T09:00:00.000+0000",
        "IsConverted": False,
        "City": "London",
    },
    {
        "Id": "2",
        "LastName": "Hopper",
        "Email": "GRACE@navy.mil",
        "Company": "Navy",
        "CreatedDate": "2024-03-01T09:00:00.000+0000",
        "IsConverted": True,
        "City": None,
    },
    {
        "Id": "3",
        "LastName": "Turing",
        "Email": "alan@example.com",
        "Company": "Bletchley",
        "CreatedDate": "2024-02-01T09:00:00.000+0000",
        "IsConverted": False,
        "City": "Wilmslow",
    },
    {
        "Id": "4",
        "LastName": "O'Neil",
        "Email": None,
        "Company": "Engines",
        "CreatedDate": "2024-04-01T09:00:00.000+0000",
        "IsConverted": False,
        "City": "Boston",
    },
]


def ids(query: str) -> list[str]:
    parsed = soql.parse(query)
    _, rows = soql.run(parsed, standard_objects()["Lead"], LEADS)
    return [row["Id"] for row in rows]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Company = 'engines'", ["1", "4"]),
        ("Email IN ('grace@navy.mil', 'nobody@x.test')", ["2"]),
        ("Email NOT IN ('ada@example.com')", ["2", "3", "4"]),
        ("Email LIKE '%@example.com'", ["1", "3"]),
        ("LastName LIKE 'Tur_ng'", ["3"]),
        ("City = null", ["2"]),
        ("City != null AND IsConverted = false", ["1", "3", "4"]),
        ("CreatedDate > 2024-01-15T00:00:00Z AND CreatedDate < 2024-03-15T00:00:00Z", ["2", "3"]),
        ("Company = 'Navy' OR (Company = 'Engines' AND City = 'Boston')", ["2", "4"]),
        ("NOT (Company = 'Engines')", ["2", "3"]),
        ("LastName = 'O\\'Neil'", ["4"]),
        ("CreatedDate >= 2024-04-01T09:00:00Z", ["4"]),
    ],
)
def test_where_clauses_select_the_matching_rows(where: str, expected: list[str]) -> None:
    assert ids(f"SELECT Id FROM Lead WHERE {where}") == expected


def test_order_by_limit_and_offset() -> None:
    assert ids("SELECT Id FROM Lead ORDER BY CreatedDate DESC") == ["4", "2", "3", "1"]
    assert ids("SELECT Id FROM Lead ORDER BY City") == ["2", "4", "1", "3"]  # nulls first
    assert ids("SELECT Id FROM Lead ORDER BY City NULLS LAST") == ["4", "1", "3", "2"]
    assert ids("SELECT Id FROM Lead ORDER BY Company, LastName DESC LIMIT 3") == ["3", "4", "1"]
    assert ids("select id from lead order by createddate limit 2 offset 1") == ["3", "2"]


def test_selected_fields_come_back_under_their_canonical_names() -> None:
    fields, rows = soql.run(
        soql.parse("SELECT id, lastname, EMAIL FROM Lead WHERE Id = '1'"),
        standard_objects()["Lead"],
        LEADS,
    )
    assert fields == ["Id", "LastName", "Email"]
    assert len(rows) == 1
    assert soql.parse("SELECT COUNT() FROM Lead").count


@pytest.mark.parametrize(
    ("query", "code", "text"),
    [
        ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY", "unexpected token: '<EOF>'"),
        (
            "SELECT Id FROM Lead WHERE Company = 'a' AND City = 'b' OR City = 'c'",
            "MALFORMED_QUERY",
            "unexpected token: 'OR'",
        ),
        ("SELECT Id, Foo__c FROM Lead", "INVALID_FIELD", "No such column 'Foo__c'"),
        ("SELECT Id, Id FROM Lead", "MALFORMED_QUERY", "duplicate field selected: Id"),
        (
            "SELECT Id FROM Lead WHERE CreatedDate > '2024-01-01'",
            "INVALID_FIELD",
            "must be of type dateTime and should not be enclosed in quotes",
        ),
        ("SELECT Id FROM Lead WHERE IsConverted = 'yes'", "INVALID_FIELD", "type boolean"),
        ("SELECT Id FROM Lead LIMIT -1", "MALFORMED_QUERY", "unexpected token"),
    ],
)
def test_bad_queries_get_salesforces_errors(query: str, code: str, text: str) -> None:
    with pytest.raises(SalesforceError) as raised:
        ids(query)
    assert raised.value.status_code == 400
    assert raised.value.code == code
    assert text in raised.value.message
    assert "ERROR at Row:1:Column:" in raised.value.message
