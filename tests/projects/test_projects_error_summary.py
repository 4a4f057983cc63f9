"""The project form lists every error at the top, each linking to the field it names."""

from __future__ import annotations

import re

from web_support import csrf_token


def _summary_links(html: str) -> list[str]:
    """Return the targets of the error summary's links (empty when there is no summary)."""
    match = re.search(r'<div class="error-summary".*?</div>', html, re.S)
    return re.findall(r'<a href="#([^"]+)"', match.group(0)) if match else []


def test_project_form_lists_every_error_at_the_top(client, auth):
    auth.register()
    page = client.get("/projects/new").get_data(as_text=True)
    response = client.post(
        "/projects/new",
        data={"name": "", "market_segments": "", "notes": "", "csrf_token": csrf_token(page)},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    links = _summary_links(html)
    assert "name" in links and "market_segments" in links
    for target in links:
        assert f'id="{target}"' in html  # every link lands on an element of the page


def test_a_valid_form_shows_no_summary(client, auth):
    auth.register()
    html = client.get("/projects/new").get_data(as_text=True)
    assert _summary_links(html) == [] and "error-summary" not in html
