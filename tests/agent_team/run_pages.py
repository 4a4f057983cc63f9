"""Helpers for tests of the run pages: create a project and start a run through the real forms."""

from __future__ import annotations

import re

from web_support import csrf_token

SEGMENTS = ["freelance translators", "translation agencies"]


def create_project(client) -> int:
    """Create a project through the form (as the logged-in user); return its id."""
    page = client.get("/projects/new").get_data(as_text=True)
    created = client.post(
        "/projects/new",
        data={
            "name": "Translators",
            "market_segments": "\n".join(SEGMENTS),
            "notes": "I want 60k a year.",
            "csrf_token": csrf_token(page),
        },
    )
    assert created.status_code == 302
    return int(re.fullmatch(r"/projects/(\d+)", created.headers["Location"]).group(1))


def start(client, project_id: int, **fields):
    """Submit the Run analysis form of the project page (all segments unless given)."""
    page = client.get(f"/projects/{project_id}").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "model": "", **fields}
    data.setdefault("segments", SEGMENTS)
    return client.post(f"/projects/{project_id}", data=data)
