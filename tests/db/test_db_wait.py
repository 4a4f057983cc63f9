"""``paissive-income db wait``: hold a rollout until the migration job has upgraded the schema."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from paissive_income.cli import main
from paissive_income.db import Database, migrate


def _wait(tmp_path, database_url: str, *args: str):
    env = {"INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": database_url}
    return CliRunner().invoke(main, ["db", "wait", *args], env=env)


def test_an_empty_database_times_out_with_one_line(tmp_path, database_url):
    result = _wait(tmp_path, database_url, "--timeout", "0.3", "--interval", "0.1")
    assert result.exit_code == 1
    head = migrate.head_revision()
    assert result.stderr == (
        f"Error: schema not at head after 0.3 s: database at revision empty, head is {head}\n"
    )


def test_a_database_at_head_passes_at_once(tmp_path, database_url):
    database = Database(database_url)
    migrate.upgrade(database.engine)
    database.dispose()
    result = _wait(tmp_path, database_url, "--timeout", "0")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Database at revision {migrate.head_revision()} (head)\n"


def test_an_unreachable_database_names_host_not_password(tmp_path):
    url = "postgresql+psycopg://app:hunter2@127.0.0.1:1/prod"
    result = _wait(tmp_path, url, "--timeout", "0")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: schema not at head after 0 s: Cannot connect")
    assert "127.0.0.1:1" in result.stderr and "hunter2" not in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("args", [["--timeout", "-1"], ["--interval", "0"], ["--timeout", "x"]])
def test_bad_options_are_refused(tmp_path, args):
    result = _wait(tmp_path, "sqlite://", *args)
    assert result.exit_code == 2 and "Traceback" not in result.output


@pytest.mark.slow
def test_waits_until_another_process_upgrades(tmp_path, database_url):
    env = {**os.environ, "INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": database_url}
    waiter = subprocess.Popen(
        [sys.executable, "-m", "paissive_income", "db", "wait", "--interval", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            waiter.wait(timeout=4)  # still waiting: nothing has migrated
        database = Database(database_url)
        migrate.upgrade(database.engine)
        database.dispose()
        stdout, stderr = waiter.communicate(timeout=30)
    finally:
        waiter.kill()
    assert waiter.returncode == 0, stderr
    assert stdout.endswith("(head)\n")
