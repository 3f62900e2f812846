"""What the integration log keeps of a record: secrets dropped, personal values masked."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from crmsync.redact import DIGITS, EMAIL, mask_value, redact


def test_personal_values_keep_just_enough_to_recognise_them() -> None:
    masked = redact(
        {
            "email": "jane.doe@example.com",
            "phone": "+1 (415) 555-0123",
            "note": "call jane@example.com or 415 555 0199",
            "access_token": "abc123",
            "client_secret": "s3cret",
            "title": "Engineer",
            "zip": "94107",
            "ids": ["p0001234", "x"],
            "nested": {"Authorization": "Bearer x", "mobile": "٤١٥٥٥٥٠١٢٣٤"},
        }
    )
    assert masked == {
        "email": "j***@example.com",
        "phone": "+* (***) ***-0123",
        "note": "call j***@example.com or 415 555 0199",
        "access_token": "[redacted]",
        "client_secret": "[redacted]",
        "title": "Engineer",
        "zip": "94107",
        "ids": ["p***1234", "x"],
        "nested": {"Authorization": "[redacted]", "mobile": "*******١٢٣٤"},
    }


def test_long_values_are_cut() -> None:
    assert mask_value("x" * 1000) == "x" * 300


@given(st.text(alphabet=st.sampled_from("0123456789 -+()abc@.٣"), max_size=40))
def test_the_fast_masks_agree_with_the_expressions_they_replace(text: str) -> None:
    """``mask_value`` takes shortcuts on the hot path; the expressions are the definition."""
    emailed = EMAIL.sub(r"\1***\2", text)
    if emailed != text:
        expected = emailed
    elif re.match(r"(?:\D*\d){7}", text):
        expected = DIGITS.sub("*", text)
    else:
        expected = text
    assert mask_value(text) == expected
