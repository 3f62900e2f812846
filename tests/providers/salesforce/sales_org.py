"""The emulated org the sales-object tests (activities, opportunities, queues, merges) drive
with simple-salesforce: its clock's start, and the error array of a refused call."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

START = datetime(2026, 5, 4, 12, 0, 0, tzinfo=UTC)


def refused(call: Any, *args: Any) -> list[dict[str, Any]]:
    """The error array of a call Salesforce answers 400."""
    with pytest.raises(SalesforceMalformedRequest) as error:
        call(*args)
    content: list[dict[str, Any]] = error.value.content
    return content
