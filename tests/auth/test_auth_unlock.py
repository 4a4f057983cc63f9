"""An admin unlocks a throttled account: on the disk cache and on Redis, even during an attack."""

import logging
import uuid
from collections import Counter

from auth_admin_support import admin_post, unique_ip
from sqlalchemy import select

from paissive_income.auth.models import User
from web_support import AuthActions, concurrently, csrf_token

PASSWORD = "correct horse battery"


def _user(app, email) -> User:
    with app.extensions["paissive"].database.session() as session:
        return session.scalar(select(User).where(User.email == email))


def _lock_out(app, email: str) -> None:
    attacker = AuthActions(app.test_client())
    for _ in range(app.extensions["paissive"].settings.login_max_attempts_per_account):
        attacker.client.environ_base["REMOTE_ADDR"] = unique_ip()
        assert attacker.login(email, "wrong password!").status_code == 401
    assert attacker.login(email, PASSWORD).status_code == 429


def _locked_member(app) -> tuple[AuthActions, str, int]:
    """Register an admin (logged in) and a member whose account is then locked out."""
    admin_email, member_email = (
        f"admin-{uuid.uuid4().hex}@example.com",
        f"{uuid.uuid4().hex}@example.com",
    )
    admin = AuthActions(app.test_client())
    admin.register(admin_email)
    AuthActions(app.test_client()).register(member_email)
    _lock_out(app, member_email)
    return admin, member_email, _user(app, member_email).id


def test_admin_unlocks_a_throttled_account(throttled_app, caplog):
    caplog.set_level(logging.INFO, logger="paissive_income.audit")
    admin, member_email, member_id = _locked_member(throttled_app)
    response = admin_post(admin.client, f"/admin/users/{member_id}/unlock")
    assert response.status_code == 302
    page = admin.client.get("/admin/users").get_data(as_text=True)
    assert f"Failed login attempts cleared: {member_email} can log in again." in page
    member = AuthActions(throttled_app.test_client())
    member.client.environ_base["REMOTE_ADDR"] = unique_ip()
    assert member.login(member_email, PASSWORD).status_code == 302
    assert [
        r.target_user_id for r in caplog.records if getattr(r, "audit_action", None) == "unlock"
    ] == [member_id]


def test_unlock_needs_its_csrf_token(throttled_app):
    admin, member_email, member_id = _locked_member(throttled_app)
    assert admin.client.post(f"/admin/users/{member_id}/unlock").status_code == 400
    assert AuthActions(throttled_app.test_client()).login(member_email, PASSWORD).status_code == 429


def test_unlock_during_an_attack_never_lets_more_than_two_windows_through(throttled_app):
    email = f"{uuid.uuid4().hex}@example.com"
    admin = AuthActions(throttled_app.test_client())
    admin.register(f"admin-{uuid.uuid4().hex}@example.com")
    AuthActions(throttled_app.test_client()).register(email)
    member_id = _user(throttled_app, email).id
    token = csrf_token(admin.client.get("/admin/users").get_data(as_text=True))
    attempts = 24

    def action(i: int, go):
        if i == attempts:  # the admin unlocks in the middle of the attack
            go()
            return admin.client.post(
                f"/admin/users/{member_id}/unlock", data={"csrf_token": token}
            ).status_code
        client = throttled_app.test_client()
        client.environ_base["REMOTE_ADDR"] = unique_ip()
        form_token = csrf_token(client.get("/login").get_data(as_text=True))
        go()
        data = {"email": email, "password": "wrong password!", "csrf_token": form_token}
        return client.post("/login", data=data).status_code

    statuses = Counter(concurrently(attempts + 1, action))
    limit = throttled_app.extensions["paissive"].settings.login_max_attempts_per_account
    assert statuses[302] == 1  # the unlock
    assert statuses[401] + statuses[429] == attempts and set(statuses) <= {302, 401, 429}
    # Password checks: the window before the unlock and at most one after it, never more.
    assert limit <= statuses[401] <= 2 * limit
    # Whatever the interleaving, a later unlock lets the owner straight in.
    admin_post(admin.client, f"/admin/users/{member_id}/unlock")
    owner = AuthActions(throttled_app.test_client())
    owner.client.environ_base["REMOTE_ADDR"] = unique_ip()
    assert owner.login(email, PASSWORD).status_code == 302
