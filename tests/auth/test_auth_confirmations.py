"""Revoking a token is confirmed first (no JavaScript needed); logging out says so."""

import re

from sqlalchemy import select

from paissive_income.auth.models import ApiToken
from web_support import AuthActions, csrf_token


def _token_id(app, name: str) -> int:
    with app.extensions["paissive"].database.session() as session:
        return session.scalar(select(ApiToken.id).where(ApiToken.name == name))


def _api_works(client, secret: str) -> bool:
    headers = {"Authorization": f"Bearer {secret}"}
    return client.get("/api/v1/projects", headers=headers).status_code == 200


def test_the_account_page_links_to_a_confirmation_not_a_one_click_revoke(app, client, auth):
    auth.register()
    secret = auth.token("laptop")
    token_id = _token_id(app, "laptop")
    page = client.get("/account").get_data(as_text=True)
    assert f'href="/account/tokens/{token_id}/revoke"' in page
    assert f'action="/account/tokens/{token_id}/revoke"' not in page
    confirm = client.get(f"/account/tokens/{token_id}/revoke")
    body = confirm.get_data(as_text=True)
    assert confirm.status_code == 200
    assert (
        "Revoke token “laptop”?" in body and "Yes, revoke it" in body and 'href="/account"' in body
    )
    assert _api_works(client, secret)  # asking changed nothing


def test_confirming_revokes_the_token(app, client, auth):
    auth.register()
    secret = auth.token("laptop")
    path = f"/account/tokens/{_token_id(app, 'laptop')}/revoke"
    token = csrf_token(client.get(path).get_data(as_text=True))
    response = client.post(path, data={"csrf_token": token})
    assert response.status_code == 302
    assert "Token “laptop” revoked." in client.get("/account").get_data(as_text=True)
    assert not _api_works(client, secret)


def test_another_users_token_cannot_be_seen_or_revoked(app, client, auth):
    auth.register()
    secret = auth.token("laptop")
    path = f"/account/tokens/{_token_id(app, 'laptop')}/revoke"
    other = AuthActions(app.test_client())
    other.register("other@example.com")
    assert other.client.get(path).status_code == 404
    token = csrf_token(other.client.get("/account").get_data(as_text=True))
    assert other.client.post(path, data={"csrf_token": token}).status_code == 404
    for bad in ("/account/tokens/999999/revoke", f"/account/tokens/{2**63}/revoke"):
        assert client.get(bad).status_code == 404
    assert _api_works(client, secret)


def test_logging_out_says_so_on_the_page_it_lands_on(client, auth):
    auth.register()
    response = auth.logout()
    assert response.status_code == 302
    landed = client.get(response.location).get_data(as_text=True)
    assert re.search(r'<p class="flash flash-success">You have been logged out.</p>', landed)
    assert client.get("/account").status_code == 302
