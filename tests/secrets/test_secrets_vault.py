"""SECRETS_BACKEND=vault: hvac over HTTP against a fake of Vault's KV v2 read endpoint.

No Vault server can run here (no Debian or PyPI package ships one), so ``secrets_fakes.vault_kv2``
answers ``GET /v1/:mount/data/:path`` as Vault's API reference documents it.
"""

from __future__ import annotations

import pytest
from secrets_fakes import FakeService, vault_kv2

from ai_models import config as models_config
from paissive_income.config import ConfigError, load_settings

TOKEN = "hvs.test-token"
KEY = "vault-secret-key-" + "v" * 30


def _env(url: str, **extra) -> dict[str, str]:
    return {"SECRETS_BACKEND": "vault", "VAULT_ADDR": url, "VAULT_TOKEN": TOKEN, **extra}


@pytest.fixture
def vault():
    entries = {
        "secret/paissive-income": {"secret_key": KEY, "model_server_api_keys": "k1,k2"},
        "kv/teams/app prod": {"db": "postgresql://u:p@db/x", "number": 42, "nul": "a\x00b"},
    }
    with FakeService(vault_kv2(TOKEN, entries)) as service:
        yield service


def test_reads_the_default_entry_for_web_and_model_server(vault, monkeypatch):
    settings = load_settings(_env(vault.url))
    assert settings.secret_key.get_secret_value() == KEY
    method, path, headers = vault.requests[-1]
    assert (method, path) == ("GET", "/v1/secret/data/paissive-income")
    assert headers["x-vault-token"] == TOKEN and headers["x-vault-request"] == "true"
    for key, value in _env(vault.url).items():
        monkeypatch.setenv(key, value)
    assert models_config.load_settings().api_key_values() == ["k1", "k2"]


def test_mount_path_names_and_namespace(vault):
    env = _env(
        vault.url,
        SECRETS_VAULT_MOUNT="kv",
        SECRETS_VAULT_PATH="teams/app prod",
        SECRETS_NAME_DATABASE_URL="db",
        VAULT_NAMESPACE="team-a",
    )
    with pytest.raises(ConfigError, match="^SECRETS_VAULT_PATH: 'teams/app prod' is not"):
        load_settings(env)
    vault.handler = vault_kv2(TOKEN, {"kv/teams/app-prod": {"db": "postgresql://u:p@db/x"}})
    settings = load_settings({**env, "SECRETS_VAULT_PATH": "teams/app-prod"})
    assert settings.database_url == "postgresql+psycopg://u:p@db/x"
    assert vault.requests[-1][1] == "/v1/kv/data/teams/app-prod"
    assert vault.requests[-1][2]["x-vault-namespace"] == "team-a"


@pytest.mark.parametrize(
    ("key", "problem"), [("number", "is not text (a int)"), ("nul", "contains a NUL character")]
)
def test_non_text_values_are_refused_without_showing_them(vault, key, problem):
    vault.handler = vault_kv2(
        TOKEN, {"secret/paissive-income": {key: 42 if key == "number" else "a\x00b"}}
    )
    env = _env(vault.url, SECRETS_NAME_SECRET_KEY=key)
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert str(info.value) == f"SECRET_KEY: the vault secret {key!r} {problem}"


def test_missing_entry_or_key_names_variable_and_secret(vault):
    env = _env(vault.url, SECRETS_VARIABLES="SECRET_KEY,REDIS_URL")
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert str(info.value) == (
        "REDIS_URL: the vault secret 'redis_url' does not exist (SECRETS_VARIABLES lists it)"
    )
    with pytest.raises(ConfigError, match="^SECRET_KEY: the vault secret 'secret_key' does not"):
        load_settings({**env, "SECRETS_VAULT_PATH": "nothing-here"})


def test_bad_token_and_unreachable_vault_are_one_line(vault):
    with pytest.raises(ConfigError) as info:
        load_settings({**_env(vault.url), "VAULT_TOKEN": "wrong"})
    assert str(info.value) == (
        "SECRET_KEY, AI_MODEL_API_KEY, DATABASE_URL, REDIS_URL: cannot read the vault secret "
        "'secret/paissive-income': permission denied (HTTP 403): check VAULT_TOKEN's policy"
    )
    vault.server.shutdown()
    vault.server.server_close()
    with pytest.raises(ConfigError, match=r"^SECRET_KEY.*: cannot reach http://127\.0\.0\.1:\d+: "):
        load_settings(_env(vault.url))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VAULT_ADDR": ""}, "VAULT_ADDR: required"),
        ({"VAULT_ADDR": "vault:8200"}, "VAULT_ADDR: required"),
        ({"VAULT_TOKEN": " "}, "VAULT_TOKEN: required"),
        ({"VAULT_TOKEN": "a\nb"}, "VAULT_TOKEN: required"),
        ({"VAULT_TOKEN_FILE": "/nonexistent"}, "VAULT_TOKEN: set either VAULT_TOKEN or"),
        ({"SECRETS_VAULT_MOUNT": "../sys"}, "SECRETS_VAULT_MOUNT: '../sys' is not a Vault path"),
        ({"SECRETS_VAULT_PATH": "a/\nb"}, "SECRETS_VAULT_PATH: 'a/\\nb' is not a Vault path"),
    ],
)
def test_bad_vault_settings_name_the_variable(vault, env, message):
    with pytest.raises(ConfigError) as info:
        load_settings({**_env(vault.url), **env})
    assert str(info.value).startswith(message)


def test_token_from_a_file(vault, tmp_path):
    (tmp_path / "token").write_text(TOKEN + "\n")
    env = {k: v for k, v in _env(vault.url).items() if k != "VAULT_TOKEN"}
    settings = load_settings({**env, "VAULT_TOKEN_FILE": str(tmp_path / "token")})
    assert settings.secret_key.get_secret_value() == KEY
    with pytest.raises(ConfigError, match="^VAULT_TOKEN_FILE: cannot read '/nonexistent': No such"):
        load_settings({**env, "VAULT_TOKEN_FILE": "/nonexistent"})
