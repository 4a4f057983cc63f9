"""SECRETS_BACKEND=gcp and azure: the vendors' SDKs over HTTP against fakes of their REST APIs.

Neither Google Secret Manager nor Azure Key Vault has an emulator that runs here, so the SDKs'
own HTTP transports (google-cloud-secret-manager's REST transport; azure-core's requests
transport) talk to ``secrets_fakes`` servers answering the documented read endpoint. What this
does not cover: TLS, real credentials (Google ADC, Azure's token exchange), IAM.
"""

from __future__ import annotations

import time

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import RequestsTransport
from google.api_core import retry as retries
from google.auth.credentials import AnonymousCredentials
from google.cloud import secretmanager
from google.cloud.secretmanager_v1.services.secret_manager_service.transports.rest import (
    SecretManagerServiceRestTransport,
)
from secrets_fakes import FakeService, RedirectAdapter, azure_key_vault, gcp_secret_manager

from paissive_income.config import ConfigError, load_settings
from paissive_income.secrets import azure as azure_backend
from paissive_income.secrets import gcp as gcp_backend

HOSTILE = "quote ' \" `$(id)` \n second line ключ 🔑"


@pytest.fixture
def gcp(monkeypatch):
    secrets = {
        "secret_key": b"gcp-key-" + b"g" * 32,
        "bad-utf8": b"\xff\xfe",
        "hostile": HOSTILE.encode(),
    }
    with FakeService(gcp_secret_manager("my-project-1", secrets, {"denied"})) as service:

        def client(environ):
            transport = SecretManagerServiceRestTransport(
                host=service.url.removeprefix("http://"),
                credentials=AnonymousCredentials(),
                url_scheme="http",
            )
            return secretmanager.SecretManagerServiceClient(transport=transport)

        monkeypatch.setattr(gcp_backend, "_client", client)
        yield service


def _gcp_env(**extra) -> dict[str, str]:
    return {"SECRETS_BACKEND": "gcp", "SECRETS_GCP_PROJECT": "my-project-1", **extra}


def test_gcp_reads_latest_versions(gcp):
    settings = load_settings(_gcp_env(SECRETS_NAME_AI_MODEL_API_KEY="hostile"))
    assert settings.secret_key.get_secret_value() == "gcp-key-" + "g" * 32
    assert settings.ai_model_api_key.get_secret_value() == HOSTILE.strip()
    paths = [path.split("?")[0] for _, path, _ in gcp.requests]
    assert "/v1/projects/my-project-1/secrets/secret_key/versions/latest:access" in paths


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"SECRETS_NAME_SECRET_KEY": "denied"},
            "SECRET_KEY: cannot read the gcp secret 'denied': Forbidden (HTTP 403)",
        ),
        (
            {"SECRETS_NAME_SECRET_KEY": "bad-utf8"},
            "SECRET_KEY: the gcp secret 'bad-utf8' is not UTF-8 text",
        ),
        (
            {"SECRETS_VARIABLES": "SECRET_KEY,REDIS_URL"},
            "REDIS_URL: the gcp secret 'redis_url' does not exist (SECRETS_VARIABLES lists it)",
        ),
        ({"SECRETS_GCP_PROJECT": "x"}, "SECRETS_GCP_PROJECT: required with SECRETS_BACKEND=gcp"),
    ],
    ids=["denied", "not-utf8", "missing", "bad-project"],
)
def test_gcp_failures_are_one_line(gcp, extra, message):
    with pytest.raises(ConfigError) as info:
        load_settings(_gcp_env(**extra))
    assert str(info.value).startswith(message)


def test_gcp_unreachable_is_one_line(gcp, monkeypatch):
    monkeypatch.setattr(gcp_backend, "_RETRY", retries.Retry(initial=0.1, maximum=0.2, timeout=1))
    gcp.server.shutdown()
    gcp.server.server_close()
    with pytest.raises(ConfigError) as info:
        load_settings(_gcp_env())
    assert str(info.value) == (
        "SECRET_KEY: cannot read the gcp secret 'secret_key': "
        "unreachable or unavailable (gave up after 1 s)"
    )


class _Token:
    """A credential handing out one token, as DefaultAzureCredential would after sign-in."""

    def __init__(self) -> None:
        self.scopes: list[tuple] = []

    def get_token(self, *scopes, **kwargs) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("fake-bearer", int(time.time()) + 3600)


@pytest.fixture
def azure(monkeypatch):
    secrets = {"secret-key": "azure-key-" + "a" * 32, "hostile": HOSTILE, "denied": "no"}
    credential = _Token()
    with FakeService(azure_key_vault("fake-bearer", secrets, {"denied"})) as service:
        session = requests.Session()
        session.mount("https://", RedirectAdapter(service.url))
        monkeypatch.setattr(azure_backend, "_credential", lambda: credential)
        monkeypatch.setattr(
            azure_backend,
            "_client_options",
            lambda: {"transport": RequestsTransport(session=session)},
        )
        service.credential = credential
        yield service


def _azure_env(**extra) -> dict[str, str]:
    return {
        "SECRETS_BACKEND": "azure",
        "SECRETS_AZURE_VAULT_URL": "https://test.vault.azure.net",
        **extra,
    }


def test_azure_answers_the_challenge_and_reads_secrets(azure):
    settings = load_settings(_azure_env(SECRETS_NAME_AI_MODEL_API_KEY="hostile"))
    assert settings.secret_key.get_secret_value() == "azure-key-" + "a" * 32
    assert settings.ai_model_api_key.get_secret_value() == HOSTILE.strip()
    first, second = azure.requests[0], azure.requests[1]
    assert "authorization" not in first[2] and second[2]["authorization"] == "Bearer fake-bearer"
    assert second[1].startswith("/secrets/secret-key")
    assert azure.credential.scopes[0] == ("https://vault.azure.net/.default",)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"SECRETS_NAME_SECRET_KEY": "denied"},
            "SECRET_KEY: cannot read the azure secret 'denied': Forbidden (HTTP 403)",
        ),
        (
            {"SECRETS_VARIABLES": "SECRET_KEY,DATABASE_URL"},
            "DATABASE_URL: the azure secret 'database-url' does not exist",
        ),
        ({"SECRETS_AZURE_VAULT_URL": "http://x"}, "SECRETS_AZURE_VAULT_URL: required"),
    ],
    ids=["denied", "missing", "bad-url"],
)
def test_azure_failures_are_one_line(azure, extra, message):
    with pytest.raises(ConfigError) as info:
        load_settings(_azure_env(**extra))
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value) and "no" != str(info.value)[-2:]


def test_azure_unreachable_is_one_line(azure):
    azure.server.shutdown()
    azure.server.server_close()
    with pytest.raises(ConfigError) as info:
        load_settings(_azure_env())
    assert str(info.value) == (
        "SECRET_KEY: cannot read the azure secret 'secret-key': "
        "cannot reach https://test.vault.azure.net: ServiceRequestError"
    )
