"""Admin actions: reset a password by a one-time link, unlock a throttled account, confirm first."""

import logging
import re
from collections import Counter

import pytest
from auth_admin_support import admin_post, update_user
from sqlalchemy import select

from paissive_income.auth.models import Role, User
from web_support import AuthActions, concurrently, csrf_token

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"


def _user(app, email) -> User:
    with app.extensions["paissive"].database.session() as session:
        return session.scalar(select(User).where(User.email == email))


@pytest.fixture
def admin_and_member(app):
    """An admin and a member, each logged in on a client of their own."""
    admin, member = AuthActions(app.test_client()), AuthActions(app.test_client())
    admin.register("admin@example.com")
    member.register("member@example.com")
    return admin, member


def _reset_link(app, admin) -> str:
    member_id = _user(app, "member@example.com").id
    response = admin_post(
        admin.client,
        f"/admin/users/{member_id}/reset-password",
        page=f"/admin/users/{member_id}/reset-password",
    )
    assert response.status_code == 200
    link = re.search(r'<code id="one-time-link">([^<]+)</code>', response.get_data(as_text=True))
    assert link, "no reset link shown"
    return link.group(1).replace("http://localhost", "")


def _set_password(client, link: str, password: str = NEW_PASSWORD):
    page = client.get(link)
    if page.status_code != 200:
        return page
    data = {
        "password": password,
        "confirm": password,
        "csrf_token": csrf_token(page.get_data(as_text=True)),
    }
    return client.post(link, data=data)


def test_reset_is_confirmed_first_and_changes_nothing_until_then(app, admin_and_member):
    admin, member = admin_and_member
    member_id = _user(app, "member@example.com").id
    before = _user(app, "member@example.com")
    confirm = admin.client.get(f"/admin/users/{member_id}/reset-password")
    body = confirm.get_data(as_text=True)
    assert confirm.status_code == 200
    assert "Reset the password of member@example.com?" in body and "Yes, reset the password" in body
    after = _user(app, "member@example.com")
    assert (after.password_hash, after.session_version) == (
        before.password_hash,
        before.session_version,
    )
    # A post without its CSRF token changes nothing either (the form is shown again).
    assert admin.client.post(f"/admin/users/{member_id}/reset-password").status_code == 400
    assert _user(app, "member@example.com").password_hash == before.password_hash


def test_reset_link_retires_the_password_and_sessions_and_works_once(app, admin_and_member, caplog):
    admin, member = admin_and_member
    caplog.set_level(logging.INFO, logger="paissive_income.audit")
    link = _reset_link(app, admin)
    assert member.client.get("/account").status_code == 302  # logged out everywhere
    assert member.login("member@example.com", PASSWORD).status_code == 401  # old password dead
    stranger = app.test_client()
    assert _set_password(stranger, link).status_code == 302  # logged in with the new password
    assert stranger.get("/account").status_code == 200
    assert _set_password(app.test_client(), link, "yet another passphrase").status_code == 404
    fresh = AuthActions(app.test_client())
    assert fresh.login("member@example.com", NEW_PASSWORD).status_code == 302
    member_id = _user(app, "member@example.com").id
    audits = [r for r in caplog.records if getattr(r, "audit_action", None) == "reset_password"]
    assert [(r.actor_id, r.target_user_id) for r in audits] == [
        (_user(app, "admin@example.com").id, member_id)
    ]
    assert link not in caplog.text  # the link is a secret: never logged


def test_a_newer_reset_link_retires_the_older_one(app, admin_and_member):
    admin, _member = admin_and_member
    first, second = _reset_link(app, admin), _reset_link(app, admin)
    assert app.test_client().get(first).status_code == 404
    assert _set_password(app.test_client(), second).status_code == 302


@pytest.mark.parametrize(
    "token",
    ["", "x", "not.a.token", "\x00", "A" * 5000, "ü" * 10, "%00", "..%2f..%2fetc"],
)
def test_forged_or_hostile_reset_links_are_404(app, admin_and_member, token):
    response = app.test_client().get(f"/reset-password/{token}")
    assert response.status_code == 404


def test_simultaneous_uses_of_one_link_set_one_password(app, admin_and_member):
    admin, _member = admin_and_member
    link = _reset_link(app, admin)

    def action(i: int, go) -> int:
        client = app.test_client()
        token = csrf_token(client.get(link).get_data(as_text=True))
        go()
        password = f"{NEW_PASSWORD} {i}"
        return client.post(
            link, data={"password": password, "confirm": password, "csrf_token": token}
        ).status_code

    statuses = Counter(concurrently(6, action))
    assert statuses == {302: 1, 404: 5}


def test_reset_password_form_reports_every_error_and_keeps_the_link(app, admin_and_member):
    admin, _member = admin_and_member
    link = _reset_link(app, admin)
    client = app.test_client()
    token = csrf_token(client.get(link).get_data(as_text=True))
    response = client.post(
        link, data={"password": "short", "confirm": "other", "csrf_token": token}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Use 10 to 1024 characters." in body and "The passwords differ." in body
    assert _set_password(client, link).status_code == 302  # a refused try did not use it up


def test_admin_cannot_reset_their_own_password_here(app, admin_and_member):
    admin, _member = admin_and_member
    admin_id = _user(app, "admin@example.com").id
    path = f"/admin/users/{admin_id}/reset-password"
    response = admin_post(admin.client, path, page=path)
    assert response.status_code == 302
    assert "Change your own password on your account page." in admin.client.get(
        "/admin/users"
    ).get_data(as_text=True)
    assert admin.client.get("/account").status_code == 200  # still logged in


def test_members_and_unknown_users_get_404(app, admin_and_member):
    admin, member = admin_and_member
    admin_id = _user(app, "admin@example.com").id
    for path in (f"/admin/users/{admin_id}/reset-password", f"/admin/users/{admin_id}/unlock"):
        assert member.client.get(path).status_code in (404, 405)
        assert admin_post(member.client, path, page="/account").status_code == 404
    for user_id in (999_999, 2**31, 2**63):
        path = f"/admin/users/{user_id}/reset-password"
        assert admin.client.get(path).status_code == 404
        assert admin_post(admin.client, f"/admin/users/{user_id}/unlock").status_code == 404


@pytest.mark.parametrize("change", [{"disabled": True}, {"role": "member"}])
def test_destructive_changes_are_confirmed_first(app, admin_and_member, change):
    admin, _member = admin_and_member
    admin.register("second-admin@example.com")  # logs the admin client in as a member
    admin.login("admin@example.com")
    target = _user(app, "second-admin@example.com")
    with app.extensions["paissive"].database.session() as session:
        session.get(User, target.id).role = Role.ADMIN
        session.commit()
    options = {"role": "admin", **change}
    asked = update_user(admin.client, target.id, confirmed=False, **options)
    assert asked.status_code == 200
    assert "Yes, apply the change" in asked.get_data(as_text=True)
    unchanged = _user(app, "second-admin@example.com")
    assert unchanged.role is Role.ADMIN and not unchanged.disabled
    confirm_page = asked.get_data(as_text=True)
    # The confirmation page carries the change in hidden fields: post them as a browser would.
    data = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', confirm_page))
    assert data["confirmed"] == "yes"
    assert admin.client.post(f"/admin/users/{target.id}", data=data).status_code == 302
    changed = _user(app, "second-admin@example.com")
    assert changed.disabled if change.get("disabled") else changed.role is Role.MEMBER


def test_harmless_changes_need_no_confirmation(app, admin_and_member):
    admin, _member = admin_and_member
    member_id = _user(app, "member@example.com").id
    assert update_user(admin.client, member_id, role="admin", confirmed=False).status_code == 302
    assert _user(app, "member@example.com").role is Role.ADMIN


@pytest.mark.parametrize("role", ["superuser", "\x00", "admin\n", "A" * 10_000, "ädmin"])
def test_hostile_role_values_change_nothing_and_say_why(app, admin_and_member, role):
    admin, _member = admin_and_member
    member_id = _user(app, "member@example.com").id
    response = update_user(admin.client, member_id, role=role)
    assert response.status_code == 302
    page = admin.client.get("/admin/users").get_data(as_text=True)
    assert "Not saved: Role: choose one of the options." in page
    assert _user(app, "member@example.com").role is Role.MEMBER


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("guest\x00@example.com", "found U+0000"),
        ("g" * 300 + "@example.com", "An email address has at most 254 characters."),
        ("", "Enter your email address."),
    ],
)
def test_hostile_invitations_are_field_errors(app, admin_and_member, email, message):
    admin, _member = admin_and_member
    response = admin_post(admin.client, "/admin/invitations", email=email)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in body and 'id="one-time-link"' not in body
