"""Helpers for driving the web UI's real forms from tests (CSRF tokens, accounts)."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor

CSRF_INPUT = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def csrf_token(html: str) -> str:
    """Return the first CSRF token in a page."""
    match = CSRF_INPUT.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


class AuthActions:
    """Register, log in and log out through the real forms."""

    def __init__(self, client) -> None:
        self.client = client

    def register(self, email: str = "owner@example.com", password: str = "correct horse battery"):
        page = self.client.get("/register").get_data(as_text=True)
        return self.client.post(
            "/register",
            data={
                "email": email,
                "password": password,
                "confirm": password,
                "csrf_token": csrf_token(page),
            },
        )

    def login(self, email: str = "owner@example.com", password: str = "correct horse battery"):
        page = self.client.get("/login").get_data(as_text=True)
        return self.client.post(
            "/login", data={"email": email, "password": password, "csrf_token": csrf_token(page)}
        )

    def logout(self):
        page = self.client.get("/account").get_data(as_text=True)
        return self.client.post("/logout", data={"csrf_token": csrf_token(page)})

    def update_user(self, user_id: int, *, role: str = "member", disabled: bool = False):
        """Change a user's role and status through the admin page (as a logged-in admin)."""
        page = self.client.get("/admin/users").get_data(as_text=True)
        data = {f"u{user_id}-role": role, f"u{user_id}-csrf_token": csrf_token(page)}
        if disabled:
            data[f"u{user_id}-disabled"] = "y"
        return self.client.post(f"/admin/users/{user_id}", data=data)

    def token(self, name: str = "tests") -> str:
        """Create an API token through the account page and return its secret."""
        page = self.client.get("/account").get_data(as_text=True)
        html = self.client.post("/account", data={"name": name, "csrf_token": csrf_token(page)})
        match = re.search(r'<code id="new-token">([^<]+)</code>', html.get_data(as_text=True))
        assert match, "no token shown"
        return match.group(1)


def concurrently(count: int, action) -> list:
    """Run ``action(i)`` for i in range(count) on as many threads, released at the same moment.

    Each action gets ready first (e.g. fetches its form) and then calls the ``go`` it is given,
    which waits until all are ready, so the requests that follow really overlap.
    """
    barrier = threading.Barrier(count)

    def run(i: int):
        return action(i, lambda: barrier.wait(timeout=60))

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))
