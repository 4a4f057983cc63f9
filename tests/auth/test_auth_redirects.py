"""``next`` after login: only a path on this site, however a browser would read the value."""

from urllib.parse import urlencode, urljoin, urlsplit

import pytest

from paissive_income.auth.redirects import safe_next
from web_support import AuthActions, csrf_token

# Each value as the view receives it (decoded from the query string).
HOSTILE = [
    "https://evil.example/",
    "//evil.example",
    "///evil.example",
    "////evil.example/x",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "\\/evil.example",
    "/\t/evil.example",  # what next=/%09/evil.example decodes to; browsers drop the TAB
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "//evil.example ",
    "\x00//evil.example",
    "/\x00/evil.example",
    "\x0b//evil.example",
    "\x1f//evil.example",
    "/\x7f/evil.example",
    "/\x85/evil.example",
    "\u3000//evil.example",
    "\ufeff//evil.example",
    "/\r\nSet-Cookie: stolen=1",
    "/\r\nLocation: //evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "http:evil.example",
    "http:/evil.example",
    "https:\\\\evil.example",
    "mailto:a@evil.example",
    "evil.example",
    "../evil.example",
    "http://[::1",
    "/[\x00",
    "%2F%2Fevil.example",
]
# Paths on this site pass through unchanged.
SAFE = ["/", "/projects/new", "/account?tab=tokens#top", "/.//evil.example", "/%2F/x", "/ü"]


def _as_browser(location: str, base: str = "http://localhost/login") -> str:
    """Return the host a browser would go to: TAB/CR/LF dropped, ``\\`` read as ``/``."""
    cleaned = location.strip("".join(map(chr, range(0x21))))
    for char in "\t\n\r":
        cleaned = cleaned.replace(char, "")
    return urlsplit(urljoin(base, cleaned.replace("\\", "/"))).netloc


@pytest.mark.parametrize("target", HOSTILE)
def test_safe_next_refuses_what_a_browser_would_take_off_site(target):
    assert safe_next(target) is None


@pytest.mark.parametrize("target", [*SAFE, "/\ud800", "/\udfff/x"])
def test_safe_next_keeps_paths_and_refuses_lone_surrogates(target):
    expected = None if any("\ud800" <= c <= "\udfff" for c in target) else target
    assert safe_next(target) == expected


def test_login_redirects_only_on_site_for_every_hostile_next(client, auth):
    auth.register()
    auth.logout()
    failures = []
    for target in HOSTILE + SAFE:
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/login").text)})
        page = client.get("/login", query_string=urlencode({"next": target}))
        assert page.status_code == 200, target
        response = client.post(
            "/login?" + urlencode({"next": target}),
            data={
                "email": "owner@example.com",
                "password": "correct horse battery",
                "csrf_token": csrf_token(page.text),
            },
        )
        location = response.headers.get("Location", "")
        wanted = "/" if target in HOSTILE else None
        if (
            response.status_code != 302
            or _as_browser(location) != "localhost"
            or (wanted and location != wanted)
        ):
            failures.append((target, response.status_code, location))
    assert failures == []


def test_raw_percent_encoded_tab_stays_on_site(app):
    """The reviewer's example, sent exactly as they did: ``?next=/%09/evil.example``."""
    user = AuthActions(app.test_client())
    user.register()
    user.logout()
    page = user.client.get("/login").text
    response = user.client.post(
        "/login?next=/%09/evil.example",
        data={
            "email": "owner@example.com",
            "password": "correct horse battery",
            "csrf_token": csrf_token(page),
        },
    )
    assert response.headers["Location"] == "/"
