"""SECRETS_BACKEND: choice, precedence, names, hostile values, missing SDKs (the file backend)."""

from __future__ import annotations

import sys

import pytest

from ai_models import config as models_config
from paissive_income.config import ConfigError, load_settings
from paissive_income.secrets import BACKENDS, SecretsError, resolve_secrets

KEY = "k" * 40  # strong enough for production


@pytest.fixture
def folder(tmp_path):
    secrets = tmp_path / "run-secrets"
    secrets.mkdir()
    return secrets


def _env(folder, **extra) -> dict[str, str]:
    return {"SECRETS_BACKEND": "file", "SECRETS_DIR": str(folder), **extra}


def test_default_env_backend_reads_nothing_more(folder):
    (folder / "secret_key").write_text(KEY)
    assert resolve_secrets(["SECRET_KEY"], {"SECRETS_DIR": str(folder)}) == {}
    assert load_settings({"SECRETS_DIR": str(folder)}).secret_key is None


def test_file_backend_fills_web_and_model_server_settings(folder, monkeypatch):
    (folder / "secret_key").write_text(KEY + "\n")
    (folder / "database_url").write_text("postgresql://app:pw@db/app")
    (folder / "model_server_api_keys").write_text("one, two")
    settings = load_settings(_env(folder, PAISSIVE_ENV="production"))
    assert settings.secret_key.get_secret_value() == KEY
    assert settings.database_url == "postgresql+psycopg://app:pw@db/app"
    assert settings.redis_url is None  # not in the folder and not listed: unset
    for key, value in _env(folder).items():
        monkeypatch.setenv(key, value)
    assert models_config.load_settings().api_key_values() == ["one", "two"]


def test_environment_wins_over_the_backend_when_not_listed(folder, tmp_path):
    (folder / "secret_key").write_text("from-backend")
    (folder / "ai_model_api_key").write_text("backend-key")
    (tmp_path / "key").write_text("from-file")
    settings = load_settings(
        _env(folder, SECRET_KEY="from-env", AI_MODEL_API_KEY_FILE=str(tmp_path / "key"))
    )
    assert settings.secret_key.get_secret_value() == "from-env"
    assert settings.ai_model_api_key.get_secret_value() == "from-file"


@pytest.mark.parametrize("how", ["SECRET_KEY", "SECRET_KEY_FILE"])
def test_listed_variable_also_set_in_the_environment_is_refused(folder, tmp_path, how):
    (folder / "secret_key").write_text(KEY)
    (tmp_path / "key").write_text(KEY)
    value = str(tmp_path / "key") if how.endswith("_FILE") else KEY
    with pytest.raises(
        ConfigError, match=r"^SECRET_KEY: listed in SECRETS_VARIABLES .* choose one$"
    ):
        load_settings(_env(folder, SECRETS_VARIABLES="SECRET_KEY", **{how: value}))


def test_listed_missing_secret_names_variable_and_secret(folder):
    (folder / "secret_key").write_text(KEY)
    env = _env(folder, SECRETS_VARIABLES="secret_key, DATABASE_URL", SECRETS_PREFIX="prod-")
    (folder / "prod-secret_key").write_text(KEY)
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert str(info.value) == (
        "DATABASE_URL: the file secret 'prod-database_url' does not exist "
        "(SECRETS_VARIABLES lists it)"
    )


def test_explicit_names_and_one_secret_for_two_variables(folder, monkeypatch):
    (folder / "shared-key").write_text("same-key")
    env = _env(
        folder,
        SECRETS_NAME_AI_MODEL_API_KEY="shared-key",
        SECRETS_NAME_MODEL_SERVER_API_KEYS="shared-key",
    )
    assert load_settings(env).ai_model_api_key.get_secret_value() == "same-key"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = models_config.load_settings()
    assert settings.api_key_values() == ["same-key"]
    assert settings.remote_api_key.get_secret_value() == "same-key"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SECRETS_BACKEND": "keychain"}, "SECRETS_BACKEND: must be one of env, file, aws, gcp"),
        (
            {"SECRETS_VARIABLES": "SECRET_KEY"},
            "SECRETS_VARIABLES: only used with a secrets backend",
        ),
        ({"SECRETS_BACKEND": "file"}, "SECRETS_DIR: required with SECRETS_BACKEND=file"),
        (
            {"SECRETS_BACKEND": "file", "SECRETS_VARIABLES": "SECRT_KEY"},
            "SECRETS_VARIABLES: 'SECRT_KEY'",
        ),
        (
            {"SECRETS_BACKEND": "file", "SECRETS_NAME_SECRT_KEY": "x"},
            "SECRETS_NAME_SECRT_KEY: 'SECRT_KEY'",
        ),
        (
            {"SECRETS_BACKEND": "aws", "SECRETS_NAME_SECRET_KEY": "a b"},
            "SECRETS_NAME_SECRET_KEY: 'a b' is not",
        ),
        (
            {"SECRETS_BACKEND": "file", "SECRETS_NAME_SECRET_KEY": "../etc/passwd"},
            "not a valid file",
        ),
        (
            {"SECRETS_BACKEND": "file", "SECRETS_PREFIX": "x/"},
            "SECRETS_PREFIX: 'x/secret_key' is not",
        ),
        (
            {"SECRETS_BACKEND": "azure", "SECRETS_NAME_SECRET_KEY": "secret_key"},
            "not a valid azure",
        ),
        ({"SECRETS_BACKEND": "gcp", "SECRETS_PREFIX": "a\nb"}, "SECRETS_PREFIX: 'a\\nb"),
        (
            {"SECRETS_BACKEND": "file", "SECRETS_NAME_SECRET_KEY": "a\x00b"},
            "SECRETS_NAME_SECRET_KEY: 'a\\x00b'",
        ),
        (
            {"SECRETS_BACKEND": "vault", "SECRETS_NAME_SECRET_KEY": "é" * 600},
            "is not a valid vault",
        ),
    ],
)
def test_bad_backend_settings_are_one_line_naming_the_variable(env, message):
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert message in str(info.value)
    assert "\n" not in str(info.value) and "\x00" not in str(info.value)
    assert len(str(info.value)) < 400


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"abc\x00def", "contains a NUL character"),
        (b"\xff\xfe", "is not UTF-8 text"),
        (b"x" * 70_000, "is too large (over 65536 characters)"),
        (b"\xe2\x82\xac" * 100_000, "is too large (over 65536 characters)"),
        (b" \n\t ", "is empty"),
    ],
    ids=["nul", "not-utf8", "huge", "huge-multibyte", "blank"],
)
def test_bad_secret_values_are_refused_without_showing_them(folder, content, problem):
    (folder / "secret_key").write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_settings(_env(folder))
    assert str(info.value) == f"SECRET_KEY: the file secret 'secret_key' {problem}"


@pytest.mark.parametrize(
    "value",
    ["p'a\"s`$(id)`\\ss\nline two", "ключ-🔑-" + "x" * 40, "y" * 65_536],
    ids=["quotes-newline", "unicode", "largest"],
)
def test_hostile_but_valid_secret_values_arrive_intact(folder, value):
    (folder / "secret_key").write_text(f"  {value}\n", encoding="utf-8")
    settings = load_settings(_env(folder))
    assert settings.secret_key.get_secret_value() == value
    assert value not in repr(settings)


def test_unreadable_secret_names_variable_and_reason(folder):
    (folder / "secret_key").mkdir()  # reading a folder fails
    with pytest.raises(ConfigError) as info:
        load_settings(_env(folder))
    assert str(info.value).startswith("SECRET_KEY: cannot read the file secret 'secret_key': ")


@pytest.mark.parametrize("backend", ["aws", "gcp", "azure", "vault"])
def test_missing_sdk_names_the_pip_install(monkeypatch, backend):
    modules = {"aws": "boto3", "gcp": "google.api_core", "azure": "azure.core.exceptions"}
    # The backend's first SDK import now fails, as when the extra is not installed.
    monkeypatch.setitem(sys.modules, modules.get(backend, "hvac"), None)
    monkeypatch.delitem(sys.modules, BACKENDS[backend].module, raising=False)
    with pytest.raises(SecretsError) as info:  # even when the environment sets the secret
        resolve_secrets(["SECRET_KEY"], {"SECRETS_BACKEND": backend, "SECRET_KEY": KEY})
    assert str(info.value).startswith(f"SECRETS_BACKEND={backend} needs ")
    assert str(info.value).endswith(f"not installed: pip install 'paissive-income[{backend}]'")


def test_model_server_settings_error_is_one_line(monkeypatch):
    monkeypatch.setenv("SECRETS_BACKEND", "file")
    with pytest.raises(models_config.SettingsError, match="^SECRETS_DIR: required"):
        models_config.load_settings()


def test_known_secret_variables_are_exactly_the_services_ones():
    from paissive_income.config import SECRET_VARIABLES
    from paissive_income.secrets import ALL_SECRET_VARIABLES

    assert set(ALL_SECRET_VARIABLES) == set(SECRET_VARIABLES) | set(models_config.SECRET_FILE_VARS)
