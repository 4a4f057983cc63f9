"""The dashboard lists every project a page at a time, sorted and searched from the query string."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from project_rows import CURRENT_PAGE, T0, add_projects, titles
from sqlalchemy import select

from paissive_income.auth.models import User
from paissive_income.projects import service
from paissive_income.projects.listing import PER_PAGE, page_numbers
from paissive_income.projects.models import Project
from web_support import AuthActions


@pytest.fixture
def owner(client, auth) -> str:
    auth.register("owner@example.com")
    return "owner@example.com"


def all_pages(client, query: str = "") -> list[list[str]]:
    """Follow the dashboard's pages from the first through its Next links; return each's names."""
    pages, url = [], "/?" + query
    while url:
        html = client.get(url).text
        pages.append(titles(html))
        following = re.search(r'<a href="([^"]+)" rel="next">', html)
        url = following.group(1).replace("&amp;", "&") if following else None
        assert len(pages) < 50, "the Next links never end"
    return pages


@pytest.mark.parametrize("count", [PER_PAGE, PER_PAGE + 1, 100, 101])
def test_every_project_is_on_exactly_one_page(app, client, owner, count):
    names = [f"Project {i:03d}" for i in range(count)]
    add_projects(app, owner, [(name, ["segment"]) for name in names])
    pages = all_pages(client)
    assert len(pages) == -(-count // PER_PAGE)
    assert all(len(page) == PER_PAGE for page in pages[:-1])
    assert [name for page in pages for name in page] == names[::-1]  # newest first, none twice


def test_pages_are_numbered_with_the_current_one_marked(app, client, owner):
    add_projects(app, owner, [(f"P{i}", ["s"]) for i in range(101)])
    first = client.get("/").text
    assert CURRENT_PAGE.findall(first) == ["1"]
    assert 'rel="prev"' not in first and "Showing 1–24 of 101 projects" in first
    last = client.get("/?page=5").text
    assert CURRENT_PAGE.findall(last) == ["5"] and 'rel="next"' not in last
    assert titles(last) == ["P4", "P3", "P2", "P1", "P0"]
    assert "Showing 97–101 of 101" in last
    assert '<nav class="pagination" aria-label="Pages of projects">' in last


def test_a_page_past_the_end_shows_the_last_page(app, client, owner):
    add_projects(app, owner, [(f"P{i}", ["s"]) for i in range(PER_PAGE + 1)])
    response = client.get("/?page=999999999999")
    assert response.status_code == 200
    assert titles(response.text) == ["P0"] and CURRENT_PAGE.findall(response.text) == ["2"]


def test_one_page_needs_no_page_links(app, client, owner):
    add_projects(app, owner, [(f"P{i}", ["s"]) for i in range(PER_PAGE)])
    html = client.get("/").text
    assert len(titles(html)) == PER_PAGE and "pagination" not in html


SORTS = [
    ("", ["Cherry", "apple", "Banana"]),  # newest first
    ("sort=created&order=asc", ["Banana", "apple", "Cherry"]),
    ("sort=name", ["apple", "Banana", "Cherry"]),  # A to Z, ignoring case
    ("sort=name&order=desc", ["Cherry", "Banana", "apple"]),
    ("sort=updated", ["apple", "Cherry", "Banana"]),
    ("sort=updated&order=asc", ["Banana", "Cherry", "apple"]),
]


@pytest.mark.parametrize(("query", "expected"), SORTS)
def test_sort_orders(app, client, owner, query, expected):
    add_projects(app, owner, [("Banana", ["s"]), ("apple", ["s"]), ("Cherry", ["s"])])
    with app.extensions["paissive"].database.session() as session:
        apple = session.scalar(select(Project).where(Project.name == "apple"))
        apple.updated_at = T0 + timedelta(days=30)  # edited last
        session.commit()
    response = client.get("/?" + query)
    assert response.status_code == 200
    assert titles(response.text) == expected


def test_sort_and_search_survive_paging(app, client, owner):
    add_projects(app, owner, [(f"Match {i:02d}", ["s"]) for i in range(30)] + [("Other", ["s"])])
    pages = all_pages(client, "q=match&sort=name&order=asc")
    names = [f"Match {i:02d}" for i in range(30)]
    assert pages == [names[:PER_PAGE], names[PER_PAGE:]]


SEARCHABLE = [
    ("100% organic", ["farmers"]),
    ("snake_case tools", ["developers"]),
    ("Plain", ["Café owners", "Straße cleaners"]),
    ("Backslash \\ names", ['a "quoted" segment']),
    ("Nothing special", ["[bracketed], segment"]),
    ("A/B testing", ["marketers"]),
]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("%", ["100% organic"]),  # a literal percent, not "anything"
        ("_", ["snake_case tools"]),  # a literal underscore, not "any character"
        ("0%_", []),
        ("ORGANIC", ["100% organic"]),  # case-insensitive
        ("café", ["Plain"]),  # found in a segment, not only in names
        ("CAF", ["Plain"]),
        ("straße", ["Plain"]),
        ("\\", ["Backslash \\ names"]),
        ("/", ["A/B testing"]),  # the escape character the query uses
        ('"', ["Backslash \\ names"]),  # the segment's quote, not the JSON's
        ("[", ["Nothing special"]),
        ('", "', []),  # JSON syntax between segments matches nothing
        ("  organic  ", ["100% organic"]),  # spaces around are dropped
        ("zzz", []),
    ],
)
def test_search_by_name_or_segment(app, client, owner, q, expected):
    add_projects(app, owner, SEARCHABLE)
    response = client.get("/", query_string={"q": q})
    assert response.status_code == 200
    assert sorted(titles(response.text)) == sorted(expected)


def test_other_users_projects_are_never_listed(app, client, owner):
    add_projects(app, owner, [("Mine", ["shared segment"])])
    other = AuthActions(app.test_client())
    other.register("other@example.com")
    add_projects(app, "other@example.com", [(f"Theirs {i}", ["shared segment"]) for i in range(30)])
    for query in ("", "q=shared", "sort=name&order=desc", "page=2"):
        assert titles(client.get("/?" + query).text) == ["Mine"], query
    assert "No projects match “Theirs”" in client.get("/?q=Theirs").text
    assert titles(client.get("/?q=shared").text) == ["Mine"]
    assert "1 project matching" in client.get("/?q=shared").text
    assert len(titles(other.client.get("/?q=shared").text)) == PER_PAGE


def test_service_keeps_the_apis_order_and_count(app, owner):
    add_projects(app, owner, [(f"P{i}", ["s"]) for i in range(5)])
    with app.extensions["paissive"].database.session() as session:
        owner_id = session.scalar(select(User.id).where(User.email == owner))
        items, total = service.list_projects(session, owner_id=owner_id, limit=2, offset=1)
    assert [p.name for p in items] == ["P3", "P2"] and total == 5


def test_page_numbers_keep_first_last_and_neighbours():
    assert page_numbers(1, 1) == [1]
    assert page_numbers(1, 5) == [1, 2, 3, 4, 5]
    assert page_numbers(1, 20) == [1, 2, 3, None, 20]
    assert page_numbers(10, 20) == [1, None, 8, 9, 10, 11, 12, None, 20]
    assert page_numbers(20, 20) == [1, None, 18, 19, 20]
    assert page_numbers(4, 20) == [1, 2, 3, 4, 5, 6, None, 20]
