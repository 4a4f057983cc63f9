"""Personal API tokens: shown once, stored hashed, revocable."""

import hashlib

from sqlalchemy import select

from paissive_income.auth.models import ApiToken
from web_support import csrf_token


def test_token_is_shown_once_and_stored_hashed(app, client, auth):
    auth.register()
    secret = auth.token("laptop")
    assert secret.startswith("pi_")
    page = client.get("/account").get_data(as_text=True)
    assert secret not in page and "laptop" in page
    with app.extensions["paissive"].database.session() as session:
        row = session.scalar(select(ApiToken))
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in (row.token_hash, row.prefix)


def test_token_authenticates_until_revoked(client, auth):
    auth.register()
    secret = auth.token()
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/projects", headers=headers).status_code == 200
    page = client.get("/account").get_data(as_text=True)
    client.post("/account/tokens/1/revoke", data={"csrf_token": csrf_token(page)})
    assert client.get("/api/v1/projects", headers=headers).status_code == 401


def test_cannot_revoke_someone_elses_token(app, client, auth):
    auth.register("a@example.com")
    auth.token()
    auth.logout()
    auth.register("b@example.com")
    page = client.get("/account").get_data(as_text=True)
    assert (
        client.post("/account/tokens/1/revoke", data={"csrf_token": csrf_token(page)}).status_code
        == 404
    )
