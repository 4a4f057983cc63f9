"""The project pages: create, see on dashboard, edit, delete, and owner-only access."""

from web_support import AuthActions, csrf_token


def _create(client, name="Side hustle", segments="freelance illustrators\nindie game studios"):
    page = client.get("/projects/new").get_data(as_text=True)
    return client.post(
        "/projects/new",
        data={
            "name": name,
            "market_segments": segments,
            "notes": "n",
            "csrf_token": csrf_token(page),
        },
    )


def test_project_pages_require_login(client):
    for path in ("/projects/new", "/projects/1/edit", "/projects/1/delete"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


def test_create_project_shows_on_dashboard(client, auth):
    auth.register()
    assert _create(client).status_code == 302
    html = client.get("/").get_data(as_text=True)
    assert "Side hustle" in html
    assert "indie game studios" in html


def test_a_new_project_lands_on_its_page_with_run_analysis_offered(client, auth):
    auth.register()
    response = _create(client)
    assert response.headers["Location"] == "/projects/1"
    page = client.get("/projects/1").get_data(as_text=True)
    assert "Project “Side hustle” created: run an analysis next." in page
    assert "Run analysis" in page


def test_create_project_without_segments_is_refused(client, auth):
    auth.register()
    response = _create(client, segments="   \n  ")
    assert response.status_code == 400
    assert 'id="market_segments-error"' in response.get_data(as_text=True)
    assert "Side hustle" not in client.get("/").get_data(as_text=True)


def test_edit_and_delete_project(client, auth, app):
    auth.register()
    _create(client)
    page = client.get("/projects/1/edit").get_data(as_text=True)
    assert "freelance illustrators\nindie game studios" in page
    client.post(
        "/projects/1/edit",
        data={
            "name": "Renamed",
            "market_segments": "podcasters",
            "notes": "",
            "csrf_token": csrf_token(page),
        },
    )
    assert ">Renamed</a>" in client.get("/").get_data(as_text=True)
    page = client.get("/projects/1/delete").get_data(as_text=True)
    assert (
        client.post("/projects/1/delete", data={"csrf_token": csrf_token(page)}).status_code == 302
    )
    assert ">Renamed</a>" not in client.get("/").get_data(as_text=True)


def test_another_users_project_is_404(app, auth, client):
    auth.register("alice@example.com")
    _create(client, name="Alice secret plan")
    auth.logout()
    other = app.test_client()
    bob = AuthActions(other)
    bob.register("bob@example.com")
    for path in ("/projects/1/edit", "/projects/1/delete"):
        assert other.get(path).status_code == 404
    page = other.get("/projects/new").get_data(as_text=True)
    response = other.post("/projects/1/delete", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 404
    assert "Alice secret plan" not in other.get("/").get_data(as_text=True)


def test_post_without_csrf_token_is_rejected(client, auth):
    auth.register()
    response = client.post("/projects/new", data={"name": "x", "market_segments": "y"})
    assert response.status_code == 400
    assert "Side" not in client.get("/").get_data(as_text=True)
