"""Simultaneous registrations: exactly one first admin, and a duplicate email is a form error."""

import threading
from collections import Counter

import pytest
from sqlalchemy import event, func, select

from paissive_income.auth.models import Role, User
from web_support import concurrently, csrf_token

PASSWORD = "correct horse battery"
REGISTRATIONS = 8


@pytest.fixture
def inserts_meet(app):
    """Hold each registration's first INSERT into users until all 8 have reached theirs.

    Every registration has then read "no users yet" (and "email free") before any of them
    writes: the race window is wide open every time, so a check-then-insert always fails here.
    """
    engine = app.extensions["paissive"].database.engine
    barrier, seen, lock = threading.Barrier(REGISTRATIONS), set(), threading.Lock()

    def meet(_conn, _cursor, statement, *_args) -> None:
        if not statement.lstrip().upper().startswith("INSERT INTO USERS"):
            return
        with lock:
            first = threading.get_ident() not in seen
            seen.add(threading.get_ident())
        if first:
            barrier.wait(timeout=30)

    event.listen(engine, "before_cursor_execute", meet)
    yield
    event.remove(engine, "before_cursor_execute", meet)


def _register(app, email_of):
    """Return an action that registers ``email_of(i)`` on its own client once all are ready."""

    def action(i: int, go) -> tuple[int, str]:
        client = app.test_client()
        token = csrf_token(client.get("/register").get_data(as_text=True))
        go()
        data = {"email": email_of(i), "password": PASSWORD, "confirm": PASSWORD}
        response = client.post("/register", data={**data, "csrf_token": token})
        return response.status_code, response.get_data(as_text=True)

    return action


def _roles(app) -> Counter:
    with app.extensions["paissive"].database.session() as session:
        return Counter(session.scalars(select(User.role)))


def test_simultaneous_first_registrations_make_exactly_one_admin(app, inserts_meet):
    results = concurrently(REGISTRATIONS, _register(app, lambda i: f"user{i}@example.com"))
    assert [status for status, _ in results] == [302] * 8
    assert _roles(app) == {Role.ADMIN: 1, Role.MEMBER: 7}


def test_simultaneous_registrations_of_one_email_give_one_account(app, inserts_meet):
    results = concurrently(REGISTRATIONS, _register(app, lambda _i: "same@example.com"))
    assert Counter(status for status, _ in results) == {302: 1, 400: 7}
    for status, body in results:
        if status == 400:
            assert "Registration failed: check your details, or log in instead." in body
    with app.extensions["paissive"].database.session() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1
    assert _roles(app) == {Role.ADMIN: 1}
