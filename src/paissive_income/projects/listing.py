"""The listing's query string (search, sort, order; page on the dashboard), parsed strictly."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import request

from paissive_income.api.query import INVALID, number_arg
from paissive_income.projects.service import SORT_COLUMNS, ProjectQuery
from paissive_income.text import SINGLE_LINE_PATTERN, control_character_error

PER_PAGE = 24  # cards fill rows of 1, 2, 3 or 4 columns evenly
SEARCH_MAX_LENGTH = 200
ORDERS = {"asc": False, "desc": True}
SORT_LABELS = {"created": "Created", "updated": "Last updated", "name": "Name"}
DEFAULT_ORDER = {"created": "desc", "updated": "desc", "name": "asc"}  # newest first, A to Z
ORDER_WORDS = {
    ("created", True): "newest first",
    ("created", False): "oldest first",
    ("updated", True): "most recently updated first",
    ("updated", False): "least recently updated first",
    ("name", False): "by name, A to Z",
    ("name", True): "by name, Z to A",
}
MAX_PAGE_TEXT = "999999999999"  # the strict number parser's longest number: 12 digits
# The same parameters in the JSON API's OpenAPI document (its paging is limit and offset).
QUERY_PARAMETERS = {
    "q": {
        "type": "string",
        "maxLength": SEARCH_MAX_LENGTH,
        "pattern": SINGLE_LINE_PATTERN,
        "description": "Part of a name or market segment, in any case; % and _ are literal.",
    },
    "sort": {"type": "string", "enum": list(SORT_COLUMNS), "default": "created"},
    "order": {
        "type": "string",
        "enum": list(ORDERS),
        "description": "Default: asc when sorting by name, desc otherwise.",
    },
}


@dataclass(frozen=True)
class Listing:
    """The parsed query string: what to list, which page, and an error per refused field."""

    query: ProjectQuery = ProjectQuery()
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)


def _search_error(text: str) -> str | None:
    if len(text) > SEARCH_MAX_LENGTH:
        return f"Search must be at most {SEARCH_MAX_LENGTH} characters (it has {len(text)})."
    problem = control_character_error(text)
    return f"Search {problem}." if problem else None


def parse_query() -> tuple[ProjectQuery, dict[str, str]]:
    """Read q, sort and order from the request: the query, and an error per refused field."""
    args, errors = request.args, {}
    search = args.get("q", "")
    if message := _search_error(search):
        errors["q"], search = message, ""
    sort = args.get("sort", "created")
    if sort not in SORT_COLUMNS:
        errors["sort"], sort = f"Sort must be one of: {', '.join(SORT_COLUMNS)}.", "created"
    order = args.get("order", DEFAULT_ORDER[sort])
    if order not in ORDERS:
        errors["order"], order = "Order must be asc or desc.", DEFAULT_ORDER[sort]
    return ProjectQuery(search=search.strip(), sort=sort, descending=ORDERS[order]), errors


def parse_listing() -> Listing:
    """Read q, sort, order and page from the request; a refused field keeps its default."""
    query, errors = parse_query()
    # A page past the end shows the last page, so only non-numbers and 0 are refused.
    page = number_arg("page", 1, low=1, high=int(MAX_PAGE_TEXT))
    if page is INVALID:
        errors["page"], page = f"Page must be a whole number from 1 to {MAX_PAGE_TEXT}.", 1
    return Listing(query, page, errors)


def listing_args(query: ProjectQuery, page: int = 1) -> dict[str, str | int]:
    """Return the query-string arguments that select ``query`` at ``page``, defaults left out."""
    args: dict[str, str | int] = {}
    if query.search:
        args["q"] = query.search
    if query.sort != "created":
        args["sort"] = query.sort
    order = "desc" if query.descending else "asc"
    if order != DEFAULT_ORDER[query.sort]:
        args["order"] = order
    if page != 1:
        args["page"] = page
    return args


def order_words(query: ProjectQuery) -> str:
    """Return how the listing is ordered, in words: "newest first", "by name, A to Z"…"""
    return ORDER_WORDS[query.sort, query.descending]


def page_numbers(page: int, pages: int, *, around: int = 2) -> list[int | None]:
    """Return the page numbers to link: first, last and ``around`` either side; None is a gap."""
    shown = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    numbers: list[int | None] = []
    for number in shown:
        if numbers and number - numbers[-1] == 2:
            numbers.append(number - 1)  # a gap of one page shows that page, not "…"
        elif numbers and number - numbers[-1] > 2:
            numbers.append(None)
        numbers.append(number)
    return numbers
