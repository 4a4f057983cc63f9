"""The ``paissive-income`` command line: db, users, and one-line failures."""

import os
import subprocess
import sys

import pytest


def _cli(tmp_path, *args, input=None, **env):
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    environ.update(INSTANCE_PATH=str(tmp_path / "instance"), LOG_LEVEL="WARNING", **env)
    return subprocess.run(
        [sys.executable, "-m", "paissive_income", *args],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        input=input,
    )


def test_help_lists_commands(tmp_path):
    result = _cli(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("serve", "web", "db", "users", "deploy", "models", "worker"):
        assert command in result.stdout


def test_db_upgrade_then_current(tmp_path, database_url):
    assert "behind head" in _cli(tmp_path, "db", "current", DATABASE_URL=database_url).stdout
    upgraded = _cli(tmp_path, "db", "upgrade", DATABASE_URL=database_url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert (
        _cli(tmp_path, "db", "current", DATABASE_URL=database_url).stdout.strip().endswith("(head)")
    )


def test_users_create_admin(tmp_path):
    result = _cli(
        tmp_path,
        "users",
        "create-admin",
        "--email",
        "Root@Example.com",
        "--password",
        "long enough password",
    )
    assert result.returncode == 0, result.stderr
    assert "Admin ready: root@example.com" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--email", "nope", "--password", "long enough password"],
            "Error: email: is not a valid email",
        ),
        (
            ["--email", "a@b.co", "--password", "short"],
            "Error: password: String should have at least 10",
        ),
    ],
)
def test_users_create_admin_bad_input(tmp_path, args, message):
    result = _cli(tmp_path, "users", "create-admin", *args)
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.stderr


def test_db_upgrade_unreachable(tmp_path):
    result = _cli(tmp_path, "db", "upgrade", DATABASE_URL="postgresql://u:secretpw@127.0.0.1:1/x")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: Cannot connect to the database at 127.0.0.1:1")
    assert "secretpw" not in result.stderr
