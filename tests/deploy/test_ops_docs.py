"""docs/operations.md against the code: the tests it cites, the messages it quotes, its anchors.

A failure-mode row names the test that proves it; that test must exist. The page quotes what
people see; those words must be what the code says. Every alert's ``runbook_url`` must land on
a heading of the page. Every upper-case variable it names must be one the code reads.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from paissive_income.observability import outages

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "operations.md"
ALERTS = ROOT / "deploy" / "monitoring" / "alerts.yml"
CITED = re.compile(r"`(test_\w+\.py)?::(test_\w+)`")
VARIABLE = re.compile(r"`([A-Z][A-Z0-9_]{3,})(?:=[^`]*)?`")
# Upper-case words in backticks that are no variable: HTTP verbs, SQL, statuses, tool output.
NOT_VARIABLES = {"SELECT", "POST", "UPDATE", "PRAGMA", "SIGKILL", "SIGTERM", "NUL", "CAP_SYS_ADMIN"}


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def _cited_tests() -> list[tuple[str, str]]:
    """Return (file, test) for every cited test; ``::name`` alone continues the last file."""
    found, current = [], None
    for file, name in CITED.findall(_text()):
        current = file or current
        assert current, f"::{name} cited before any test file"
        found.append((current, name))
    return found


def test_every_cited_test_exists():
    cited = _cited_tests()
    assert len(cited) >= 8
    for file, name in cited:
        paths = list((ROOT / "tests").rglob(file))
        assert len(paths) == 1, f"{file}: {len(paths)} files"
        assert re.search(rf"^def {name}\(", paths[0].read_text(), re.M), f"{file}::{name}"


@pytest.mark.parametrize("dependency", sorted(outages._MESSAGES))
def test_the_page_quotes_what_people_see(dependency):
    message = outages._MESSAGES[dependency]
    first_sentence = message.split(". ")[0].split(": ")[0]
    if dependency != "database-busy":  # no failure test makes the database busy
        assert first_sentence in _text(), dependency


def _anchors(text: str) -> set[str]:
    """Return GitHub's anchors of the page's headings."""
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_every_alert_runbook_lands_on_a_heading():
    if not ALERTS.exists():
        pytest.skip("no alert rules")
    anchors = _anchors(_text())
    rules = yaml.safe_load(ALERTS.read_text())
    urls = [r["annotations"]["runbook_url"] for g in rules["groups"] for r in g["rules"]]
    assert urls
    for url in urls:
        page, _, anchor = url.partition("#")
        assert page == "docs/operations.md" and anchor in anchors, url


def test_every_variable_named_is_read_by_the_code():
    sources = "\n".join(
        path.read_text(encoding="utf-8", errors="replace")
        for folder in ("src", "deploy")
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and path.suffix in {".py", ".yaml", ".yml"}
    )
    sources += (ROOT / "docker-compose.yml").read_text()
    named = set(VARIABLE.findall(_text())) - NOT_VARIABLES
    assert {"AGENT_STALE_SECONDS", "SECRETS_BACKEND"} <= named
    for variable in sorted(named):
        probe = "SECRETS_NAME_" if variable.startswith("SECRETS_NAME_") else variable
        assert probe in sources, f"{variable}: no code reads it"
