"""No secret value, however it arrives (env, ``*_FILE``, a backend), shows in logs, pages or errors.

There is no command that exports the configuration (``grep`` finds none): the surfaces are the
start-up and request logs, ``/healthz`` and ``/readyz``, the CLI's one-line errors and ``repr``.
"""

from __future__ import annotations

import logging
import socket

import pytest
from click.testing import CliRunner
from secrets_fakes import FakeService, vault_kv2

from ai_models import config as models_config
from paissive_income.cli import main
from paissive_income.config import load_settings
from paissive_income.web import create_app

TOKEN = "hvs.leak-test"
PATHS = ["env", "file", "backend-file", "backend-vault"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _secrets(marker: str) -> dict[str, str]:
    """Recognisable secret values: the marker in each (passwords inside the URLs)."""
    port = _closed_port()
    return {
        "SECRET_KEY": f"KEY{marker}" + "k" * 32,
        "AI_MODEL_API_KEY": f"AIKEY{marker}",
        "DATABASE_URL": f"postgresql://app:DBPW{marker}@127.0.0.1:{port}/app",
        "REDIS_URL": f"redis://:REDISPW{marker}@127.0.0.1:{port}/0",
        "MODEL_SERVER_API_KEYS": f"SERVERKEY{marker}",
    }


@pytest.fixture
def vault():
    with FakeService(vault_kv2(TOKEN, {})) as service:
        yield service


def _environ(path: str, values: dict[str, str], tmp_path, vault) -> dict[str, str]:
    """The environment delivering ``values`` through ``path``."""
    if path == "env":
        return dict(values)
    if path == "vault" or path == "backend-vault":
        entry = {name.lower(): value for name, value in values.items()}
        vault.handler = vault_kv2(TOKEN, {"secret/paissive-income": entry})
        return {"SECRETS_BACKEND": "vault", "VAULT_ADDR": vault.url, "VAULT_TOKEN": TOKEN}
    folder = tmp_path / "secrets"
    folder.mkdir(exist_ok=True)
    for name, value in values.items():
        (folder / name.lower()).write_text(value)
    if path == "backend-file":
        return {"SECRETS_BACKEND": "file", "SECRETS_DIR": str(folder)}
    return {f"{name}_FILE": str(folder / name.lower()) for name in values}


def _assert_absent(text: str, values: dict[str, str]) -> None:
    for value in values.values():
        secret = value.split("@")[0].rsplit(":", 1)[-1] if "://" in value else value
        assert secret not in text


@pytest.mark.parametrize("path", PATHS)
def test_start_up_logs_health_pages_and_repr_hold_no_secret(path, tmp_path, vault, capfd, caplog):
    values = _secrets(f"-{path}-leak")
    environ = {
        **_environ(path, values, tmp_path, vault),
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "LOG_LEVEL": "DEBUG",
    }
    settings = load_settings(environ)
    assert settings.secret_key.get_secret_value() == values["SECRET_KEY"]  # really delivered
    caplog.set_level(logging.DEBUG)
    app = create_app(settings)
    client = app.test_client()
    pages = [client.get(url) for url in ("/healthz", "/readyz", "/", "/login")]
    assert pages[0].status_code == 200 and pages[1].status_code == 503
    assert {"database", "cache"} <= set(pages[1].get_json()["failing"])
    logs = capfd.readouterr().err + caplog.text
    assert "readiness check" in logs  # the failures were logged, with the URLs' errors
    text = logs + "".join(page.get_data(as_text=True) for page in pages)
    _assert_absent(text + repr(settings) + str(settings), values)


@pytest.mark.parametrize("path", PATHS)
def test_model_server_settings_repr_holds_no_secret(path, tmp_path, vault, monkeypatch):
    values = _secrets(f"-{path}-models")
    for key, value in _environ(path, values, tmp_path, vault).items():
        monkeypatch.setenv(key, value)
    settings = models_config.load_settings()
    assert settings.api_key_values() == [values["MODEL_SERVER_API_KEYS"]]
    _assert_absent(repr(settings) + str(settings), values)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("variable", "bad"),
    [
        ("DATABASE_URL", "mysql://app:DBPW{m}@db/app"),
        ("REDIS_URL", "http://:REDISPW{m}@cache:6379/0"),
        ("SECRET_KEY", "KEY{m}"),  # too weak for production
    ],
)
def test_cli_errors_for_bad_secret_values_do_not_echo_them(path, variable, bad, tmp_path, vault):
    marker = f"-{path}-cli"
    values = {variable: bad.format(m=marker)}
    if variable != "SECRET_KEY":
        values["SECRET_KEY"] = "s" * 40
    env = {
        **_environ(path, values, tmp_path, vault),
        "PAISSIVE_ENV": "production",
        "INSTANCE_PATH": str(tmp_path / "instance"),
    }
    result = CliRunner().invoke(main, ["db", "current"], env=env)
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {variable}")
    assert marker not in result.output
