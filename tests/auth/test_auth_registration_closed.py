"""Registration is closed by default once the first admin exists; invitations let one person in."""

import logging
import re
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from paissive_income.auth import service
from paissive_income.auth.links import make_invitation_token
from paissive_income.auth.models import Role
from paissive_income.config import load_settings
from paissive_income.db import migrate
from paissive_income.web import create_app
from web_support import AuthActions, csrf_token

PASSWORD = "correct horse battery"


@pytest.fixture
def closed_app(settings):
    """An app with the default OPEN_REGISTRATION (the test settings open it for other tests)."""
    default = load_settings({}).open_registration
    app = create_app(settings.model_copy(update={"open_registration": default}))
    app.config.update(TESTING=True)
    migrate.upgrade(app.extensions["paissive"].database.engine)
    yield app
    app.extensions["paissive"].cache.close()
    app.extensions["paissive"].database.dispose()


def test_open_registration_defaults_to_false():
    assert load_settings({}).open_registration is False
    assert load_settings({"OPEN_REGISTRATION": "true"}).open_registration is True


def test_first_registration_creates_the_admin_then_registration_closes(closed_app):
    client = closed_app.test_client()
    assert 'href="/register"' in client.get("/login").get_data(as_text=True)
    first = AuthActions(client)
    assert first.register("admin@example.com").status_code == 302
    first.logout()
    login_page = client.get("/login").get_data(as_text=True)
    assert 'href="/register"' not in login_page  # no dead link in the nav or the page
    assert "Registration is by invitation" in login_page
    assert client.get("/register").status_code == 404
    # A form fetched while open and posted after the first admin exists is refused too.
    assert client.post("/register", data={"email": "x@example.com"}).status_code in (400, 404)
    stranger = AuthActions(closed_app.test_client())
    assert stranger.login("admin@example.com").status_code == 302
    with closed_app.extensions["paissive"].database.session() as session:
        people = service.list_users(session)
    assert [(u.email, u.role) for u in people] == [("admin@example.com", Role.ADMIN)]


def _invite(client, email: str) -> str:
    page = client.get("/admin/users").get_data(as_text=True)
    response = client.post(
        "/admin/invitations", data={"email": email, "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 200
    link = re.search(r'<code id="one-time-link">([^<]+)</code>', response.get_data(as_text=True))
    return link.group(1).replace("http://localhost", "")


def _accept(client, link: str, email: str = "ignored@example.com"):
    page = client.get(link)
    if page.status_code != 200:
        return page
    data = {"email": email, "password": PASSWORD, "confirm": PASSWORD}
    return client.post(link, data={**data, "csrf_token": csrf_token(page.get_data(as_text=True))})


def test_an_invitation_lets_one_person_register_once(closed_app):
    admin = AuthActions(closed_app.test_client())
    admin.register("admin@example.com")
    link = _invite(admin.client, "Guest@Example.com")
    guest = closed_app.test_client()
    page = guest.get(link).get_data(as_text=True)
    assert "You were invited to register as <strong>guest@example.com</strong>" in page
    # The address is the invitation's, whatever is posted.
    assert _accept(guest, link, email="someone-else@example.com").status_code == 302
    assert guest.get("/account").get_data(as_text=True).count("guest@example.com") >= 1
    again = _accept(closed_app.test_client(), link)
    assert again.status_code == 400  # the address is taken: the link cannot make a second account
    assert "Registration failed" in again.get_data(as_text=True)
    assert (
        AuthActions(closed_app.test_client()).login("someone-else@example.com").status_code == 401
    )


@pytest.mark.parametrize("token", ["x", "a.b.c", "\x00", "Z" * 5000, "ü"])
def test_forged_invitations_are_404(closed_app, token):
    AuthActions(closed_app.test_client()).register("admin@example.com")
    assert closed_app.test_client().get(f"/invitation/{token}").status_code == 404


def test_an_invitation_signed_with_another_key_or_expired_is_404(closed_app):
    AuthActions(closed_app.test_client()).register("admin@example.com")
    forged = make_invitation_token("another secret key", "guest@example.com")
    assert closed_app.test_client().get(f"/invitation/{forged}").status_code == 404
    # Signed right but dated eight days ago: past the seven days an invitation lasts.
    old = URLSafeTimedSerializer(
        closed_app.secret_key, salt="paissive-income-invitation", signer=_EightDaysAgo
    ).dumps("guest@example.com")
    body = closed_app.test_client().get(f"/invitation/{old}").get_data(as_text=True)
    assert "This invitation has expired or is not valid." in body


class _EightDaysAgo(TimestampSigner):
    """A signer whose clock is eight days behind."""

    def get_timestamp(self) -> int:
        return int(time.time()) - 8 * 86400


def test_only_admins_invite(closed_app):
    admin = AuthActions(closed_app.test_client())
    admin.register("admin@example.com")
    member = AuthActions(closed_app.test_client())
    assert _accept(member.client, _invite(admin.client, "member@example.com")).status_code == 302
    page = member.client.get("/account").get_data(as_text=True)
    response = member.client.post(
        "/admin/invitations", data={"email": "friend@example.com", "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 404


def test_the_invitation_is_logged_without_the_address_or_link(closed_app, caplog):
    caplog.set_level(logging.INFO, logger="paissive_income.audit")
    admin = AuthActions(closed_app.test_client())
    admin.register("admin@example.com")
    link = _invite(admin.client, "guest@example.com")
    records = [r for r in caplog.records if getattr(r, "audit_action", None) == "invite"]
    assert len(records) == 1 and records[0].invited_domain == "example.com"
    assert link.rsplit("/", 1)[1] not in caplog.text and "guest@" not in caplog.text
