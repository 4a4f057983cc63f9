"""Helpers for the admin page's two-step (confirmed) changes, driven through the real forms."""

import uuid

from web_support import csrf_token


def update_user(
    client, user_id: int, *, role: str = "member", disabled: bool = False, confirmed: bool = True
):
    """Change a user's role and status as a logged-in admin, confirming when asked to."""
    page = client.get("/admin/users").get_data(as_text=True)
    data = {f"u{user_id}-role": role, f"u{user_id}-csrf_token": csrf_token(page)}
    if disabled:
        data[f"u{user_id}-disabled"] = "y"
    if confirmed:
        data["confirmed"] = "yes"
    return client.post(f"/admin/users/{user_id}", data=data)


def admin_post(client, path: str, page: str = "/admin/users", **data):
    """Post an admin action form with the CSRF token of ``page``."""
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data})


def unique_ip() -> str:
    """Return a client IP of this test's own (Redis is shared between test runs)."""
    n = uuid.uuid4().int
    return f"10.{n % 250}.{n // 250 % 250}.{n // 62500 % 250 + 1}"
