"""Every table on the account and admin pages keeps its column labels on a phone (data-label)."""

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).parents[2] / "src" / "paissive_income" / "web" / "templates"
CSS = TEMPLATES.parent / "static" / "app.css"


def _tables(html: str) -> list[str]:
    return re.findall(r"<table\b.*?</table>", html, re.S)


def _check_labels(table: str) -> int:
    """Assert each body cell's data-label is its column's heading; return the cells checked."""
    headings = [
        re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", table, re.S)
    ]
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.S).group(1)
    checked = 0
    for row in re.findall(r"<tr\b.*?</tr>", body, re.S):
        cells = re.findall(r"<td\b([^>]*)>", row)
        assert len(cells) == len(headings)
        for heading, attrs in zip(headings, cells, strict=True):
            label = re.search(r'data-label="([^"]*)"', attrs)
            assert label and label.group(1) == heading, (heading, attrs)
            checked += 1
    return checked


@pytest.mark.parametrize("page", ["/account", "/admin/users"])
def test_rendered_tables_label_every_cell(app, client, auth, page):
    auth.register("admin@example.com")
    auth.token("laptop")
    auth.token("ci")
    html = client.get(page).get_data(as_text=True)
    tables = _tables(html)
    assert tables, f"{page} shows no table"
    assert all(_check_labels(table) > 0 for table in tables)


def test_every_auth_and_admin_template_cell_has_a_label():
    for template in [*TEMPLATES.glob("auth/*.html"), *TEMPLATES.glob("admin/*.html")]:
        for cell in re.findall(r"<td\b[^>]*>", template.read_text()):
            assert "data-label=" in cell, (template.name, cell)


def test_the_phone_layout_shows_the_labels():
    css = CSS.read_text()
    phone = re.findall(r"@media \(max-width: 40rem\) \{(.*?)\n\}", css, re.S)
    joined = "\n".join(phone)
    assert "thead { position: absolute; left: -999px; }" in joined  # headings hidden there
    assert re.search(r"td\[data-label\]::before \{ content: attr\(data-label\)", joined)
