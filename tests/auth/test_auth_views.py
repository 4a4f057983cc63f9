"""Registration, login, throttling, roles, disabled accounts and cookie flags."""

import re

import pytest
from auth_admin_support import update_user
from sqlalchemy import select

from paissive_income.auth.models import Role, User
from paissive_income.auth.passwords import verify_password
from web_support import AuthActions, csrf_token


def _user(app, email):
    with app.extensions["paissive"].database.session() as session:
        return session.scalar(select(User).where(User.email == email))


def test_first_account_is_admin_and_second_is_member(app, auth):
    auth.register("first@example.com")
    auth.logout()
    auth.register("second@example.com")
    assert _user(app, "first@example.com").role is Role.ADMIN
    assert _user(app, "second@example.com").role is Role.MEMBER


def test_password_is_stored_as_argon2_hash(app, auth):
    auth.register(password="correct horse battery")
    stored = _user(app, "owner@example.com").password_hash
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery")


def test_login_and_logout(client, auth):
    auth.register()
    auth.logout()
    assert client.get("/account").status_code == 302
    assert auth.login().status_code == 302
    assert client.get("/account").status_code == 200


def test_wrong_password_and_unknown_user_get_the_same_message(client, auth):
    auth.register()
    auth.logout()
    wrong = auth.login(password="not the password")
    unknown = auth.login(email="nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        assert "Invalid email or password." in response.get_data(as_text=True)


def test_duplicate_registration_does_not_reveal_the_account(client, auth):
    auth.register()
    auth.logout()
    response = auth.register()
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Registration failed: check your details, or log in instead." in body
    assert "exists" not in body.lower() and "taken" not in body.lower()


def test_login_is_throttled_per_account(app, client, auth):
    auth.register()
    auth.logout()
    limit = app.extensions["paissive"].settings.login_max_attempts_per_account
    for _ in range(limit):
        assert auth.login(password="wrong password!").status_code == 401
    blocked = auth.login()  # even the right password is refused while throttled
    assert blocked.status_code == 429
    assert client.get("/account").status_code == 302


def test_login_is_throttled_per_ip_across_accounts(app, client, auth):
    limit = app.extensions["paissive"].settings.login_max_attempts_per_ip
    for i in range(limit):
        auth.login(email=f"guess{i}@example.com", password="wrong password!")
    assert auth.login(email="another@example.com").status_code == 429


def test_disabled_user_cannot_log_in(app, client, auth):
    auth.register("admin@example.com")
    auth.logout()
    auth.register("member@example.com")
    auth.logout()
    auth.login("admin@example.com")
    response = update_user(client, _user(app, "member@example.com").id, disabled=True)
    assert response.status_code == 302
    assert _user(app, "member@example.com").disabled
    auth.logout()
    assert auth.login("member@example.com").status_code == 401


def test_admin_can_change_role(app, client, auth):
    auth.register("admin@example.com")
    auth.logout()
    auth.register("member@example.com")
    auth.logout()
    auth.login("admin@example.com")
    member_id = _user(app, "member@example.com").id
    page = client.get("/admin/users").get_data(as_text=True)
    assert "member@example.com" in page
    client.post(
        f"/admin/users/{member_id}",
        data={f"u{member_id}-role": "admin", f"u{member_id}-csrf_token": csrf_token(page)},
    )
    assert _user(app, "member@example.com").role is Role.ADMIN


def test_admin_cannot_demote_themselves(app, client, auth):
    auth.register("admin@example.com")
    admin_id = _user(app, "admin@example.com").id
    page = client.get("/admin/users").get_data(as_text=True)
    client.post(
        f"/admin/users/{admin_id}",
        data={f"u{admin_id}-role": "member", f"u{admin_id}-csrf_token": csrf_token(page)},
    )
    assert _user(app, "admin@example.com").role is Role.ADMIN


def test_members_do_not_see_admin_page(app, auth, client):
    auth.register("admin@example.com")
    auth.logout()
    auth.register("member@example.com")
    assert client.get("/admin/users").status_code == 404


def test_registration_can_be_closed(tmp_path, settings, app):
    from paissive_income.db import migrate
    from paissive_income.web import create_app

    AuthActions(app.test_client()).register("first@example.com")
    closed = create_app(settings.model_copy(update={"open_registration": False}))
    migrate.upgrade(closed.extensions["paissive"].database.engine)
    assert closed.test_client().get("/register").status_code == 404


def test_session_cookie_flags(client, auth):
    response = auth.register()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_over_https(app):
    client = app.test_client()
    page = client.get("/register", base_url="https://localhost").get_data(as_text=True)
    # Over HTTPS Flask-WTF also checks the Referer is same-origin, as a browser would send.
    response = client.post(
        "/register",
        base_url="https://localhost",
        headers={"Referer": "https://localhost/register"},
        data={
            "email": "a@example.com",
            "password": "correct horse battery",
            "confirm": "correct horse battery",
            "csrf_token": csrf_token(page),
        },
    )
    assert re.search(r"session=[^;]+;.*Secure", response.headers["Set-Cookie"])


@pytest.mark.parametrize("password", ["short", ""])
def test_weak_password_is_refused(client, auth, password):
    response = auth.register(password=password)
    assert response.status_code == 400  # the form is shown again with the field's error
    assert 'id="password-error"' in response.get_data(as_text=True)
    assert client.get("/account").status_code == 302
