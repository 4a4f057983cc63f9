"""The API reference page: every operation of the OpenAPI document, readable, assets local."""

from __future__ import annotations

import html as html_lib
import re
import shlex

import pytest

from paissive_income import __version__
from paissive_income.api import reference
from paissive_income.api.spec import build_openapi

METHODS = ("get", "post", "put", "patch", "delete")
TOKEN = reference.TOKEN_VARIABLE


@pytest.fixture
def document(app) -> dict:
    return build_openapi("pAIssive Income API", __version__)


@pytest.fixture
def page(client) -> str:
    response = client.get("/api/v1/reference")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return response.text


def _operations(document: dict):
    for path, methods in document["paths"].items():
        for method, entry in methods.items():
            if method in METHODS:
                yield path, method, entry


def _section(page: str, operation_id: str) -> str:
    start = page.index(f'id="op-{operation_id}"')
    return page[start : page.index("</article>", start)]


def test_every_operation_of_the_document_is_on_the_page(document, page):
    operations = list(_operations(document))
    assert len(operations) >= 10  # the document is the real one, not an empty stand-in
    for path, method, entry in operations:
        section = _section(page, entry["operationId"])
        assert f">{method.upper()}</span> <code>{path}</code>" in section
        assert entry["summary"] in html_lib.unescape(section)
        for status in entry["responses"]:
            assert f"<code>{status}</code>" in section, (path, method, status)
        for param in entry["parameters"]:
            assert f"<code>{param['name']}</code>" in section
        assert f'href="#op-{entry["operationId"]}"' in page  # listed in the contents


def test_operations_are_grouped_by_tag(document, page):
    tags = {entry["tags"][0] for _, _, entry in _operations(document)}
    for tag in tags:
        assert f'<h2 id="tag-{tag}">' in page
    for _, _, entry in _operations(document):
        tag_start = page.index(f'<h2 id="tag-{entry["tags"][0]}">')
        assert page.index(f'id="op-{entry["operationId"]}"') > tag_start


def test_every_schema_is_described_with_its_fields(document, page):
    for name, schema in document["components"]["schemas"].items():
        assert f'id="schema-{name}"' in page
        start = page.index(f'id="schema-{name}"')
        section = page[start : page.index("</article>", start)]
        for prop in schema.get("properties", {}):
            assert f"<code>{prop}</code>" in section, (name, prop)
    for ref in set(re.findall(r'href="#schema-([^"]+)"', page)):
        assert f'id="schema-{ref}"' in page, ref  # no link points nowhere


def test_request_bodies_show_required_fields_and_limits(page):
    section = _section(page, "create_project")
    assert '<a href="#schema-ProjectIn">ProjectIn</a>' in section
    row = re.search(r"<code>name</code>.*?</tr>", section, re.S).group(0)
    assert ">yes<" in row and "1–120 characters" in row
    assert "one line with a visible character, no control characters" in row


def test_the_token_is_explained_and_the_raw_document_linked(page):
    assert "Authorization: Bearer &lt;token&gt;" in page
    assert 'href="/api/v1/openapi.json"' in page
    assert "Needs an API token." in page


def _curls(page: str) -> dict[str, str]:
    found = re.findall(r'id="op-([^"]+)".*?<pre class="curl"><code>(.*?)</code>', page, re.S)
    return {op: html_lib.unescape(curl) for op, curl in found}


def test_curl_examples_are_valid_shell_words_calling_the_operation(document, page):
    curls = _curls(page)
    for path, method, entry in _operations(document):
        words = shlex.split(curls[entry["operationId"]])
        assert words[:3] == ["curl", "-X", method.upper()]
        expected = re.sub(r"\{[^}]+\}", "1", path)
        assert words[3] == "http://localhost" + expected
        assert "Authorization: Bearer $PAISSIVE_TOKEN" in words
        if "requestBody" in entry:
            assert words[words.index("--data") + 1].startswith("{")


def test_curl_example_of_create_project_is_accepted_by_the_api(client, auth, page):
    """Run the page's own example body through the API: the example is a real request."""
    auth.register()
    token = auth.token()
    words = shlex.split(_curls(page)["create_project"])
    body = words[words.index("--data") + 1]
    response = client.post(
        "/api/v1/projects",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("base", "path", "body", "expected"),
    [
        ("http://h/", "/api/v1/x", None, "curl -X GET http://h/api/v1/x"),
        ("http://h/", "/a b", None, "curl -X GET 'http://h/a b'"),
        ("http://h/", "/x", {"q": "it's $HOME `id`"}, """--data '{"q": "it'"'"'s $HOME `id`"}'"""),
    ],
)
def test_curl_example_quotes_every_argument(base, path, body, expected):
    command = reference.curl_example(base, "get", path, body)
    assert expected in command
    words = shlex.split(command)
    if body is not None:
        assert words[-1] == '{"q": "it\'s $HOME `id`"}'


def test_examples_use_the_host_the_page_was_asked_from(client):
    page = client.get("/api/v1/reference", headers={"Host": "plans.example:8080"}).text
    assert shlex.split(_curls(page)["list_projects"])[3] == (
        "http://plans.example:8080/api/v1/projects"
    )


def test_hostile_host_header_cannot_break_the_page_or_the_examples(client):
    page = client.get("/api/v1/reference", headers={"Host": "evil'$(id)<b>"}).text
    assert "<b>" not in page
    words = shlex.split(_curls(page)["list_projects"])
    # The URL stays one word, whatever the host: nothing else gets into the command.
    assert words[:3] + words[4:] == ["curl", "-X", "GET", "-H", f"Authorization: Bearer ${TOKEN}"]
    assert words[3].endswith("/api/v1/projects")


def test_the_page_loads_only_local_assets(page):
    for url in re.findall(r'(?:href|src)="([^"#]+)"', page):
        assert url.startswith("/"), url
    assert "<script" not in page and " style=" not in page
    assert 'href="/static/reference.css"' in page


def test_the_page_is_public_and_the_json_stays(client):
    assert client.get("/api/v1/reference").status_code == 200
    assert client.get("/api/v1/openapi.json").get_json()["openapi"].startswith("3.")


def test_type_words():
    assert reference.type_parts({"$ref": "#/components/schemas/X"}) == [("X", "X")]
    assert reference.type_parts({"type": "array", "items": {"type": "string"}}) == [
        ("array of ", None),
        ("string", None),
    ]
    assert reference.type_parts({"anyOf": [{"type": "integer"}, {"type": "null"}]}) == [
        ("integer", None),
        (" or ", None),
        ("null", None),
    ]
    assert reference.limits({"minimum": 0, "maximum": 7}) == "0–7"
    assert reference.limits({"maxLength": 5, "default": "a"}) == 'at most 5 characters; default "a"'


def test_the_reference_is_linked_from_the_footer_and_the_tokens_section(client, auth):
    assert 'href="/api/v1/reference">API reference</a>' in client.get("/").text
    auth.register()
    account = client.get("/account").text
    tokens = account[account.index('id="tokens-heading"') :]
    assert 'href="/api/v1/reference">API reference</a>' in tokens[: tokens.index("</section>")]
