"""SECRETS_BACKEND=aws for real: boto3 against moto's server mode (Secrets Manager over HTTP)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import boto3
import pytest
from moto.server import ThreadedMotoServer

from ai_models import config as models_config
from paissive_income.config import ConfigError, load_settings
from paissive_income.secrets import clear_cache

KEY = "aws-secret-key-" + "s" * 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto_url():
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws(moto_url, monkeypatch):
    """A fresh account's Secrets Manager; credentials as boto3 reads them (the environment)."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("secretsmanager", region_name="eu-west-1", endpoint_url=moto_url)
    for secret in client.list_secrets()["SecretList"]:
        client.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)
    return client


def _env(moto_url: str, **extra) -> dict[str, str]:
    return {
        "SECRETS_BACKEND": "aws",
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_url,
        **extra,
    }


def test_web_and_model_server_settings_come_from_secrets_manager(aws, moto_url, monkeypatch):
    aws.create_secret(Name="prod/paissive/secret_key", SecretString=KEY)
    aws.create_secret(Name="prod/paissive/database_url", SecretString="postgresql://a:b@db/app")
    aws.create_secret(Name="prod/paissive/ai_model_api_key", SecretBinary=b"bin-key")
    env = _env(moto_url, SECRETS_PREFIX="prod/paissive/", PAISSIVE_ENV="production")
    settings = load_settings(env)
    assert settings.secret_key.get_secret_value() == KEY
    assert settings.database_url == "postgresql+psycopg://a:b@db/app"
    assert settings.ai_model_api_key.get_secret_value() == "bin-key"
    assert settings.redis_url is None
    for key, value in _env(moto_url, SECRETS_PREFIX="prod/paissive/").items():
        monkeypatch.setenv(key, value)
    assert models_config.load_settings().remote_api_key.get_secret_value() == "bin-key"


def test_hostile_names_and_values_round_trip(aws, moto_url):
    value = "line one\nline 'two' \"3\" `$(id)` ключ 🔑 " + "x" * 60_000
    aws.create_secret(Name="a/b+c=d@e.f-g_h", SecretString=value)
    env = _env(moto_url, SECRETS_NAME_SECRET_KEY="a/b+c=d@e.f-g_h")
    assert load_settings(env).secret_key.get_secret_value() == value


def test_nul_in_a_secret_is_refused_without_showing_it(aws, moto_url):
    aws.create_secret(Name="secret_key", SecretString="abc\x00hidden-part")
    with pytest.raises(ConfigError) as info:
        load_settings(_env(moto_url))
    assert str(info.value) == "SECRET_KEY: the aws secret 'secret_key' contains a NUL character"


def test_missing_secret_names_variable_and_secret_when_listed(aws, moto_url):
    aws.create_secret(Name="secret_key", SecretString=KEY)
    assert load_settings(_env(moto_url)).database_url is None  # not listed: simply unset
    with pytest.raises(ConfigError) as info:
        load_settings(_env(moto_url, SECRETS_VARIABLES="SECRET_KEY,DATABASE_URL"))
    assert str(info.value) == (
        "DATABASE_URL: the aws secret 'database_url' does not exist (SECRETS_VARIABLES lists it)"
    )


def test_secrets_are_resolved_once_per_process(aws, moto_url):
    aws.create_secret(Name="secret_key", SecretString="first-value")
    assert load_settings(_env(moto_url)).secret_key.get_secret_value() == "first-value"
    aws.put_secret_value(SecretId="secret_key", SecretString="second-value")
    assert load_settings(_env(moto_url)).secret_key.get_secret_value() == "first-value"
    clear_cache()  # a restart
    assert load_settings(_env(moto_url)).secret_key.get_secret_value() == "second-value"


def test_unreachable_endpoint_names_backend_and_secret(aws):
    env = _env(f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert str(info.value).startswith(
        "SECRET_KEY: cannot read the aws secret 'secret_key': EndpointConnectionError"
    )


def test_missing_credentials_and_region_are_one_line(moto_url, monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ConfigError, match="^SECRET_KEY: cannot read .*: no AWS credentials found$"):
        load_settings(_env(moto_url))
    env = {k: v for k, v in _env(moto_url).items() if k != "AWS_REGION"}
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(ConfigError, match="^AWS_REGION: required with SECRETS_BACKEND=aws$"):
        load_settings(env)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("prelude", "backend_env", "expected"),
    [
        ("", {"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:9"}, "EndpointConnectionError"),
        ("sys.modules['boto3'] = None; ", {}, "pip install 'paissive-income[aws]'"),
    ],
    ids=["unreachable", "no-boto3"],
)
def test_cli_fails_in_one_line_without_traceback(tmp_path, prelude, backend_env, expected):
    env = {
        **os.environ,
        "INSTANCE_PATH": str(tmp_path),
        "SECRETS_BACKEND": "aws",
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        **backend_env,
    }
    code = f"import sys; {prelude}from paissive_income.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "db", "current"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr
