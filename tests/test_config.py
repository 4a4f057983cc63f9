"""Settings: defaults, secret files, and one-line errors naming the variable."""

import os
import stat
import subprocess
import sys

import pytest

from ai_models import config as models_config
from paissive_income.config import ConfigError, ensure_instance, load_settings


def test_defaults_use_sqlite_in_instance_folder(tmp_path):
    settings = load_settings({"INSTANCE_PATH": str(tmp_path)})
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'paissive_income.db'}"
    assert settings.port == 5000 and settings.host == "127.0.0.1"
    assert settings.redis_url is None


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"PAISSIVE_ENV": "staging"}, "PAISSIVE_ENV"),
        ({"DATABASE_URL": "mysql://db/x"}, "DATABASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"OPEN_REGISTRATION": "perhaps"}, "OPEN_REGISTRATION"),
    ],
)
def test_invalid_value_names_the_variable(env, variable):
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert str(info.value).startswith(f"{variable}: ")
    assert "\n" not in str(info.value)


def test_database_url_password_is_not_echoed():
    with pytest.raises(ConfigError) as info:
        load_settings({"DATABASE_URL": "mysql://user:hunter2@db/x"})
    assert "hunter2" not in str(info.value)


def test_log_level_is_case_insensitive():
    assert load_settings({"LOG_LEVEL": "debug"}).log_level == "DEBUG"


def test_plain_postgresql_url_uses_psycopg3():
    settings = load_settings({"DATABASE_URL": "postgresql://u@h/db"})
    assert settings.sqlalchemy_url.startswith("postgresql+psycopg://")


def _web(env: dict, _monkeypatch):
    settings = load_settings(env)
    return settings.secret_key, settings.ai_model_api_key


def _models(env: dict, monkeypatch):
    for name in ("AI_MODEL_API_KEY", "MODEL_SERVER_API_KEYS"):
        for variable in (name, f"{name}_FILE"):
            monkeypatch.delenv(variable, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = models_config.load_settings()
    return settings.api_keys[0] if settings.api_keys else None, settings.remote_api_key


# Each service, and the secret variables it reads: (loader, first secret, second secret).
SERVICES = {
    "web": (_web, "SECRET_KEY", "AI_MODEL_API_KEY"),
    "models": (_models, "MODEL_SERVER_API_KEYS", "AI_MODEL_API_KEY"),
}


@pytest.fixture(params=sorted(SERVICES))
def service(request, monkeypatch):
    """Load one service's settings from an environment; return its two secrets."""
    loader, first, second = SERVICES[request.param]
    return (lambda env: loader(env, monkeypatch)), first, second


def test_secret_from_file(tmp_path, service):
    load, first, second = service
    secret = tmp_path / "secret"
    secret.write_text("s3cret-from-a-docker-secret\n")
    values = load({f"{first}_FILE": str(secret), f"{second}_FILE": str(secret)})
    assert [v.get_secret_value() for v in values] == ["s3cret-from-a-docker-secret"] * 2


def test_secret_file_errors_name_the_variable(tmp_path, service):
    load, first, _second = service
    with pytest.raises((ConfigError, models_config.SettingsError)) as info:
        load({f"{first}_FILE": str(tmp_path / "missing")})
    assert str(info.value) == f"{first}_FILE: cannot read {tmp_path / 'missing'}: " + (
        "No such file or directory"
    )
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises((ConfigError, models_config.SettingsError), match=f"^{first}_FILE: "):
        load({f"{first}_FILE": str(binary)})


@pytest.mark.parametrize("which", [1, 2])
def test_both_variable_and_file_is_refused_by_every_service(tmp_path, service, which):
    load, *names = service
    name = names[which - 1]
    secret = tmp_path / "secret"
    secret.write_text("from-the-file")
    with pytest.raises((ConfigError, models_config.SettingsError)) as info:
        load({name: "from-the-env", f"{name}_FILE": str(secret)})
    assert str(info.value) == f"{name}: set either {name} or {name}_FILE, not both"
    assert "from-the" not in str(info.value)


def test_production_refuses_missing_or_weak_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY is required"):
        load_settings({"PAISSIVE_ENV": "production"})
    with pytest.raises(ConfigError, match="too weak"):
        load_settings({"PAISSIVE_ENV": "production", "SECRET_KEY": "changeme"})
    strong = "k" * 16 + os.urandom(16).hex()
    assert load_settings({"PAISSIVE_ENV": "production", "SECRET_KEY": strong}).is_production


def test_development_generates_secret_once_with_private_mode(tmp_path):
    first = ensure_instance(load_settings({"INSTANCE_PATH": str(tmp_path / "inst")}))
    second = ensure_instance(load_settings({"INSTANCE_PATH": str(tmp_path / "inst")}))
    key_file = tmp_path / "inst" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.secret_key.get_secret_value() == second.secret_key.get_secret_value()
    assert len(first.secret_key.get_secret_value()) >= 48


def _run_ui(tmp_path, **env):
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    environ.update(INSTANCE_PATH=str(tmp_path / "instance"), **env)
    return subprocess.run(
        [sys.executable, "-m", "paissive_income", "serve"],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LOG_LEVEL": "LOUD"}, "Error: LOG_LEVEL: must be"),
        ({"PAISSIVE_ENV": "production"}, "Error: SECRET_KEY is required"),
        (
            {"DATABASE_URL": "postgresql://app:hunter2@127.0.0.1:1/prod"},
            "Error: Cannot connect to the database at 127.0.0.1:1 (database 'prod', user 'app')",
        ),
    ],
)
def test_serve_fails_with_one_line_and_no_traceback(tmp_path, env, expected):
    result = _run_ui(tmp_path, **env)
    assert result.returncode == 2
    assert result.stderr.startswith(expected)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert "hunter2" not in result.stderr
