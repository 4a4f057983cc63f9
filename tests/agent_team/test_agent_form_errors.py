"""The Run analysis form lists its errors at the top, linking to the segment choices."""

from __future__ import annotations

import re

from run_pages import create_project, start


def _summary_links(html: str) -> list[str]:
    """Return the targets of the error summary's links (empty when there is no summary)."""
    match = re.search(r'<div class="error-summary".*?</div>', html, re.S)
    return re.findall(r'<a href="#([^"]+)"', match.group(0)) if match else []


def test_run_form_without_segments_links_to_the_segment_choices(client, auth):
    auth.register()
    project_id = create_project(client)
    response = start(client, project_id, segments=[])
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert _summary_links(html) == ["segments"]
    assert re.search(r'<fieldset id="segments"', html)
