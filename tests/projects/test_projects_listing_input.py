"""Hostile dashboard query strings get a 400 naming the field (or the last page), never a 500."""

from __future__ import annotations

import pytest
from project_rows import add_projects, titles

from paissive_income.projects.listing import PER_PAGE


@pytest.fixture
def owner(app, client, auth) -> str:
    auth.register("owner@example.com")
    add_projects(app, "owner@example.com", [("Alpha", ["s"]), ("Beta", ["s"])])
    return "owner@example.com"


REFUSED = [
    ({"page": "-1"}, "Page must be a whole number from 1 to 999999999999."),
    ({"page": "0"}, "Page must be a whole number"),
    ({"page": "abc"}, "Page must be a whole number"),
    ({"page": "1e3"}, "Page must be a whole number"),
    ({"page": "10" + "0" * 30}, "Page must be a whole number"),
    ({"page": "٣"}, "Page must be a whole number"),  # Arabic-Indic three: int() would take it
    ({"page": " 2"}, "Page must be a whole number"),
    ({"page": ""}, "Page must be a whole number"),
    ({"sort": "evil"}, "Sort must be one of: name, created, updated."),
    ({"sort": "name; DROP TABLE projects"}, "Sort must be one of"),
    ({"sort": ""}, "Sort must be one of"),
    ({"order": "sideways"}, "Order must be asc or desc."),
    ({"q": "a\x00b"}, "Search must not contain control characters (found U+0000)."),
    ({"q": "line\nbreak"}, "Search must not contain control characters (found U+000A)."),
    ({"q": "\x1b[31mred"}, "found U+001B"),
    ({"q": "x" * 201}, "Search must be at most 200 characters (it has 201)."),
    ({"q": "ü" * 100_000}, "Search must be at most 200 characters (it has 100000)."),
]


@pytest.mark.parametrize(("args", "message"), REFUSED)
def test_refused_values_are_a_400_naming_the_field(client, owner, args, message):
    response = client.get("/", query_string=args)
    assert response.status_code == 400
    assert message in response.text
    # The listing is still shown with that field at its default, so the user can go on.
    assert sorted(titles(response.text)) == ["Alpha", "Beta"]


def test_a_refused_search_is_tied_to_its_input(client, owner):
    html = client.get("/", query_string={"q": "a\x00b"}).text
    assert 'aria-describedby="listing-q-hint listing-q-error"' in html
    assert 'aria-invalid="true"' in html and 'id="listing-q-error"' in html
    assert 'value=""' in html  # the refused text is not echoed back into the field


def test_several_refused_fields_are_all_reported(client, owner):
    response = client.get("/?page=-1&sort=evil&order=up&q=%00")
    assert response.status_code == 400
    for field in ("Page must", "Sort must", "Order must", "Search must"):
        assert field in response.text


@pytest.mark.parametrize(
    "args",
    [
        {"q": "ünïcödé 🚀 漢字"},
        {"q": "' OR 1=1 --"},
        {"q": "<script>alert(1)</script>"},
        {"q": "x" * 200},
        {"page": "999999999999"},
        {"page": "2", "sort": "updated", "order": "asc"},
    ],
)
def test_unusual_but_valid_values_are_answered(client, owner, args):
    response = client.get("/", query_string=args)
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.text


def test_search_text_is_escaped_in_the_page(client, owner):
    html = client.get("/", query_string={"q": '<b>"x"</b>'}).text
    assert "<b>" not in html
    assert "No projects match “&lt;b&gt;&#34;x&#34;&lt;/b&gt;”" in html


def test_empty_dashboard_offers_the_first_project_without_a_search_form(client, auth):
    auth.register()
    html = client.get("/").text
    assert "No projects yet" in html and "Create your first project" in html
    assert "Run analysis" in html  # the next step that exists, named as the project page names it
    assert 'role="search"' not in html and "pagination" not in html


def test_empty_search_says_so_and_offers_the_whole_list(client, owner):
    html = client.get("/?q=nothing+like+this&sort=name").text
    assert "No projects match “nothing like this”" in html
    assert "No projects yet" not in html
    assert '<a href="/?sort=name">Show all projects</a>' in html
    assert 'role="search"' in html  # the search can be changed right there


def test_page_links_are_bookmarkable_and_keep_the_listing(app, client, owner):
    add_projects(app, owner, [(f"Match {i}", ["s"]) for i in range(PER_PAGE * 2 + 1)])
    html = client.get("/?q=match&sort=updated&order=asc&page=2").text
    assert 'href="/?q=match&amp;sort=updated&amp;order=asc&amp;page=3" rel="next"' in html
    assert 'href="/?q=match&amp;sort=updated&amp;order=asc" rel="prev"' in html
    assert '<option value="updated" selected>' in html
    assert '<option value="asc" selected>' in html


def test_search_and_sort_are_offered_once_there_are_two_projects(app, client, auth):
    auth.register("solo@example.com")
    add_projects(app, "solo@example.com", [("Only", ["s"])])
    assert 'role="search"' not in client.get("/").text  # nothing to sort or search yet
    add_projects(app, "solo@example.com", [("Second", ["s"])])
    assert 'role="search"' in client.get("/").text
