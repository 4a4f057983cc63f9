"""The project form refuses in our words: each message names its field, never in pydantic's."""

from __future__ import annotations

import re

import pytest

from web_support import csrf_token

# pydantic's and WTForms' stock English, which must never reach the page.
STOCK = ("should have", "Value error", "validation", "This field", "Field must", "Invalid input")

CASES = {
    "empty": ("", "", ["Give the project a name.", "Add at least one market segment"]),
    "long name": ("x" * 121, "a", ["Name has at most 120 characters."]),
    "too many segments": ("ok", "\n".join(f"s{i}" for i in range(21)), ["at most 20 segments"]),
    "long segment": ("ok", "fine\n" + "s" * 201, ["segment 2, can be at most 200 characters"]),
    "NUL": ("ok", "a\x00b", ["Market segments"]),
    "only spaces": ("ok", "   \n  ", ["Add at least one market segment"]),
}


def _errors(html: str) -> list[str]:
    found = re.findall(r'<p class="error"[^>]*>(.*?)</p>', html, re.S)
    return [re.sub(r"<[^>]+>|\s+", " ", text).replace("Error:", "").strip() for text in found]


@pytest.mark.parametrize("case", CASES)
def test_refusals_name_the_field_in_our_words(client, auth, case):
    name, segments, expected = CASES[case]
    auth.register()
    page = client.get("/projects/new").get_data(as_text=True)
    data = {"name": name, "market_segments": segments, "notes": "", "csrf_token": csrf_token(page)}
    response = client.post("/projects/new", data=data)
    errors = _errors(response.get_data(as_text=True))
    assert response.status_code == 400 and errors
    for part in expected:
        assert any(part in error for error in errors), (part, errors)
    for error in errors:
        assert not any(stock in error for stock in STOCK), error
        assert error.startswith(("Name", "Market segments", "Notes", "Give", "Add")), error
