"""A form posted after its session was lost is shown again with what was typed, not a bare 400."""

import re

import pytest
from itsdangerous import URLSafeTimedSerializer

from web_support import AuthActions, csrf_token

EXPIRED = "Your session expired, please try again."
PASSWORD = "correct horse battery"


def _lose_session(client) -> None:
    """Drop the session cookie, as a browser does when the session ends or the cookie expires."""
    client.delete_cookie("session")


def _stale_page_token(client, path: str) -> str:
    token = csrf_token(client.get(path).get_data(as_text=True))
    _lose_session(client)
    return token


def test_login_after_the_session_was_lost_shows_the_form_again(client, auth):
    auth.register()
    auth.logout()
    token = _stale_page_token(client, "/login")
    typed = {"email": "owner@example.com", "password": PASSWORD, "csrf_token": token}
    response = client.post("/login", data=typed)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert EXPIRED in body
    assert "CSRF" not in body and "Bad Request" not in body
    assert 'value="owner@example.com"' in body  # the email typed is kept
    assert PASSWORD not in body  # a password never is
    assert '<form method="post"' in body
    # The page carries a fresh token in a fresh session: the retry logs in.
    retry = {**typed, "csrf_token": csrf_token(body)}
    assert client.post("/login", data=retry).status_code == 302
    assert client.get("/account").status_code == 200


def test_login_with_a_token_from_another_key_or_none_is_shown_again(client, auth):
    auth.register()
    auth.logout()
    forged = URLSafeTimedSerializer("another secret", salt="wtf-csrf-token").dumps("x" * 40)
    for token in (forged, "", "garbage", "\x00" * 10, "é" * 5000):
        response = client.post(
            "/login", data={"email": "ünï@example.com", "password": "p", "csrf_token": token}
        )
        body = response.get_data(as_text=True)
        assert response.status_code == 400
        assert EXPIRED in body and 'value="ünï@example.com"' in body
    assert client.get("/account").status_code == 302  # none of them logged in


def test_registration_after_the_session_was_lost_creates_nothing(app, client):
    token = _stale_page_token(client, "/register")
    data = {
        "email": "new@example.com",
        "password": PASSWORD,
        "confirm": PASSWORD,
        "csrf_token": token,
    }
    response = client.post("/register", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert EXPIRED in body and 'value="new@example.com"' in body and PASSWORD not in body
    assert client.get("/account").status_code == 302
    retry = client.post("/register", data={**data, "csrf_token": csrf_token(body)})
    assert retry.status_code == 302


def test_account_forms_after_the_session_was_lost_ask_to_log_in_again(client, auth):
    auth.register()
    token = _stale_page_token(client, "/account")
    response = client.post("/account", data={"name": "laptop", "csrf_token": token})
    # The lost session held the login too: log in again first, then the form.
    assert response.status_code == 302 and response.location.startswith("/login")
    assert client.get("/account").status_code == 302


def test_account_form_with_a_stale_token_is_shown_again_with_the_name(client, auth):
    auth.register()
    response = client.post("/account", data={"name": "my laptop", "csrf_token": "stale"})
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and EXPIRED in body
    assert 'value="my laptop"' in body and 'id="new-token"' not in body
    password = client.post("/account/password", data={"current": PASSWORD, "csrf_token": "stale"})
    assert password.status_code == 400 and EXPIRED in password.get_data(as_text=True)
    assert PASSWORD not in password.get_data(as_text=True)


def test_an_expired_post_to_another_page_explains_and_links_back(client, auth):
    auth.register()
    page = client.get("/projects/new").get_data(as_text=True)
    response = client.post("/projects/new", data={"name": "x", "csrf_token": "stale"})
    body = response.get_data(as_text=True)
    assert csrf_token(page)
    assert response.status_code == 400
    assert EXPIRED in body and "CSRF" not in body
    assert 'href="/projects/new"' in body


def test_a_post_only_url_links_back_to_the_referring_page(client, auth):
    auth.register()
    response = client.post(
        "/logout", data={"csrf_token": "stale"}, headers={"Referer": "http://localhost/account"}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and EXPIRED in body
    assert 'href="/account"' in body
    foreign = client.post("/logout", data={}, headers={"Referer": "https://evil.example/x"})
    assert "evil.example" not in foreign.get_data(as_text=True)


@pytest.mark.parametrize("accept", ["application/json"])
def test_json_clients_keep_the_json_error(client, auth, accept):
    auth.register()
    response = client.post("/projects/new", data={"name": "x"}, headers={"Accept": accept})
    assert response.status_code == 400
    assert response.is_json
    assert EXPIRED not in response.get_data(as_text=True)


def test_the_json_api_is_untouched(client, auth):
    auth.register()
    secret = AuthActions(client).token()
    client.delete_cookie("session")
    response = client.post(
        "/api/v1/projects",
        json={"name": "API project", "market_segments": ["indie game studios"]},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 201


def test_invitation_form_after_the_session_was_lost_keeps_the_invitation(app, client, auth):
    from paissive_income.auth.links import make_invitation_token

    auth.register("admin@example.com")
    auth.logout()
    link = "/invitation/" + make_invitation_token(app.secret_key, "guest@example.com")
    token = _stale_page_token(client, link)
    data = {
        "email": "guest@example.com",
        "password": PASSWORD,
        "confirm": PASSWORD,
        "csrf_token": token,
    }
    response = client.post(link, data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and EXPIRED in body
    assert re.search(
        r'value="guest@example.com"[^>]*readonly|readonly[^>]*value="guest@example.com"', body
    )


def test_reset_link_form_after_the_session_was_lost_keeps_the_link_usable(app, client):
    from paissive_income.auth import resets, service

    admin = AuthActions(app.test_client())
    admin.register("admin@example.com")
    AuthActions(app.test_client()).register("member@example.com")
    with app.extensions["paissive"].database.session() as session:
        actor = service.list_users(session)[0]
        member_id = service.list_users(session)[1].id
        token = resets.start_password_reset(
            session, actor=actor, user_id=member_id, secret_key=app.secret_key
        )
    link = f"/reset-password/{token}"
    stale = _stale_page_token(client, link)
    data = {"password": "a brand new passphrase", "confirm": "a brand new passphrase"}
    response = client.post(link, data={**data, "csrf_token": stale})
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and EXPIRED in body
    assert "a brand new passphrase" not in body
    retry = client.post(link, data={**data, "csrf_token": csrf_token(body)})
    assert retry.status_code == 302  # the expired try did not use the link up


def test_an_expired_post_to_a_dead_link_says_why_on_the_site_error_page(app, client):
    response = client.post("/invitation/forged", data={"csrf_token": "stale"})
    body = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "This invitation has expired or is not valid." in body
    assert '<main id="main"' in body  # the site's own page, not a bare one
