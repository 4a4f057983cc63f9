"""Sessions end server-side: logout, password change and disabling end every copy of a cookie."""

import pytest
from auth_admin_support import update_user
from flask_login import login_user
from sqlalchemy import select

from paissive_income.auth import service
from paissive_income.auth.models import User
from web_support import AuthActions, csrf_token

PASSWORD = "correct horse battery"


def _user(app, email):
    with app.extensions["paissive"].database.session() as session:
        return session.scalar(select(User).where(User.email == email))


def _copy_cookies(source, target) -> None:
    """Give ``target`` the cookies of ``source``, as an attacker who captured them would."""
    for cookie in source._cookies.values():
        target.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)


def _can_use_site(client) -> bool:
    return client.get("/account").status_code == 200


def _disable(app, admin: AuthActions, email) -> None:
    response = update_user(admin.client, _user(app, email).id, disabled=True)
    assert response.status_code == 302 and _user(app, email).disabled


@pytest.fixture
def admin_and_member(app):
    """An admin and a member, each logged in on a client of their own."""
    admin = AuthActions(app.test_client())
    admin.register("admin@example.com")
    member = AuthActions(app.test_client())
    member.register("member@example.com")
    return admin, member


def test_disabled_user_is_out_of_every_page_at_once(app, admin_and_member):
    admin, member = admin_and_member
    page = member.client.get("/projects/new").get_data(as_text=True)
    _disable(app, admin, "member@example.com")
    # The cookie they already hold no longer loads pages, creates projects or mints tokens.
    assert member.client.get("/account").status_code == 302
    data = {"name": "x", "market_segments": "y", "csrf_token": csrf_token(page)}
    assert member.client.post("/projects/new", data=data).status_code == 302
    assert member.client.post("/account", data={"name": "t", "csrf_token": csrf_token(page)})
    with app.extensions["paissive"].database.session() as session:
        user = session.scalar(select(User).where(User.email == "member@example.com"))
        assert user.tokens == [] and not service.list_tokens(session, user=user)
    from paissive_income.projects.models import Project

    with app.extensions["paissive"].database.session() as session:
        assert session.scalar(select(Project)) is None


def test_disabled_users_api_token_is_refused(app, admin_and_member):
    admin, member = admin_and_member
    headers = {"Authorization": f"Bearer {member.token()}"}
    assert member.client.get("/api/v1/projects", headers=headers).status_code == 200
    _disable(app, admin, "member@example.com")
    response = app.test_client().get("/api/v1/projects", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_reenabling_does_not_revive_old_sessions(app, admin_and_member):
    admin, member = admin_and_member
    _disable(app, admin, "member@example.com")
    with app.extensions["paissive"].database.session() as session:
        actor = session.scalar(select(User).where(User.email == "admin@example.com"))
        target = _user(app, "member@example.com")
        service.update_user(
            session, actor=actor, user_id=target.id, role=target.role, disabled=False
        )
    assert not _can_use_site(member.client)
    assert member.login("member@example.com").status_code == 302


def test_cookie_captured_before_logout_stops_working(app, auth, client):
    auth.register()
    thief = app.test_client()
    _copy_cookies(client, thief)
    assert _can_use_site(thief)
    auth.logout()
    assert not _can_use_site(thief)
    assert not _can_use_site(client)


def test_password_change_ends_other_sessions_and_keeps_this_one(app, auth, client):
    auth.register()
    other_device = AuthActions(app.test_client())
    other_device.login()
    assert _can_use_site(other_device.client)
    page = client.get("/account").get_data(as_text=True)
    response = client.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "new": "a brand new passphrase",
            "confirm": "a brand new passphrase",
            "csrf_token": csrf_token(page),
        },
    )
    assert response.status_code == 302
    assert _can_use_site(client)
    assert not _can_use_site(other_device.client)
    other_device.client.get("/login")
    assert other_device.login(password=PASSWORD).status_code == 401
    assert other_device.login(password="a brand new passphrase").status_code == 302


@pytest.mark.parametrize(
    ("current", "new", "message"),
    [
        ("not my password", "a brand new passphrase", "The current password is wrong."),
        (PASSWORD, "short", "Use 10 to 1024 characters."),
    ],
)
def test_password_change_refusals_change_nothing(app, auth, client, current, new, message):
    auth.register()
    before = _user(app, "owner@example.com")
    page = client.get("/account").get_data(as_text=True)
    data = {"current": current, "new": new, "confirm": new, "csrf_token": csrf_token(page)}
    response = client.post("/account/password", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    after = _user(app, "owner@example.com")
    assert (after.password_hash, after.session_version) == (
        before.password_hash,
        before.session_version,
    )
    assert _can_use_site(client)


def test_change_password_service_checks_the_current_password(app):
    with app.extensions["paissive"].database.session() as session:
        user = service.register_user(session, email="s@example.com", password=PASSWORD)
        with pytest.raises(service.AccountError):
            service.change_password(
                session, user=user, current_password="wrong", new_password="x" * 12
            )
        version = user.session_version
        service.change_password(
            session, user=user, current_password=PASSWORD, new_password="y" * 12
        )
        assert user.session_version == version + 1
        assert service.authenticate(session, email="s@example.com", password="y" * 12)


def test_remember_cookie_obeys_the_session_version(app):
    """A remember-me cookie carries the session version too, so logout ends it as well."""
    with app.extensions["paissive"].database.session() as session:
        user = service.register_user(session, email="r@example.com", password=PASSWORD)
        with app.test_request_context():
            login_user(user, remember=True)
            version_in_cookie = user.get_id()
        assert version_in_cookie.endswith(f":{user.session_version}")
        service.end_sessions(session, user=user)
    loader = app.login_manager._user_callback
    with app.test_request_context():
        assert loader(version_in_cookie) is None
        assert loader(user.get_id()) is not None


def test_guessing_the_current_password_is_throttled_like_a_login(app, auth, client):
    auth.register()
    limit = app.extensions["paissive"].settings.login_max_attempts_per_account
    statuses = []
    for _ in range(limit + 1):
        page = client.get("/account").get_data(as_text=True)
        data = {"current": "a wrong guess", "new": "x" * 12, "confirm": "x" * 12}
        response = client.post("/account/password", data={**data, "csrf_token": csrf_token(page)})
        statuses.append(response.status_code)
    assert statuses == [400] * limit + [429]
    assert _user(app, "owner@example.com").session_version == 0
