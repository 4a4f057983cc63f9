"""``paissive-income run`` and ``paissive-income worker`` as real processes on a scripted model.

The model server is the scripted model over real HTTP (``AI_MODELS_URL``), so the processes use
the same client code as with our server, vLLM or Ollama.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import click
import pytest
from scripted_model import ScriptedServer
from sqlalchemy import func, select

from agent_team.runs import service
from agent_team.runs.models import Run, RunArtifact, RunStatus
from agent_team.runs.tasks import create_huey
from paissive_income.config import load_settings
from paissive_income.db import Database, migrate
from paissive_income.projects.models import Project

pytestmark = pytest.mark.slow


def _env(tmp_path, database_url: str, models_url: str, **extra) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_", "AI_", "MODEL"))}
    keep.pop("REDIS_URL", None)
    return {
        **keep,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "AI_MODELS_URL": models_url,
        "AI_CHAT_MODEL": "scripted",
        "LOG_LEVEL": "WARNING",
        "WORKER_HEALTH_PORT": "0",  # two tests' workers would both want 8001
        **extra,
    }


def _cli(env, *args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "paissive_income", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=env["INSTANCE_PATH"].rsplit("/", 1)[0],
    )


def test_cli_run_writes_a_markdown_and_a_json_plan(tmp_path, database_url):
    with ScriptedServer() as server:
        env = _env(tmp_path, database_url, server.url)
        markdown = _cli(
            env,
            "run",
            "freelance translators",
            "--notes",
            "60k a year",
            "--out",
            str(tmp_path / "plan.md"),
        )
        assert markdown.returncode == 0, markdown.stderr
        text = (tmp_path / "plan.md").read_text()
        assert text.startswith("# Plan: freelance translators")
        assert "## Executive summary" in text and "**Verdict:" in text
        calls = server.model.calls()
        as_json = _cli(
            env,
            "run",
            "freelance translators",
            "--notes",
            "60k a year",
            "--format",
            "json",
            "--out",
            str(tmp_path / "plan.json"),
        )
        assert as_json.returncode == 0, as_json.stderr
        plan = json.loads((tmp_path / "plan.json").read_text())
        assert plan["summary"]["verdict"]["decision"] in {"go", "pivot", "no-go"}
        assert server.model.calls() == calls  # identical inputs: every reply from the cache


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--out", "p.md"], "give a market segment"),
        (["run", "x" * 500, "--out", "p.md"], "market_segments"),
        (["run", "ok", "--notes", "n" * 10_001, "--out", "p.md"], "notes"),
        (["run", "--resume", "99", "--out", "p.md"], "run 99"),
        (["run", "--resume", "99999999999", "--out", "p.md"], "--resume"),
        (["run", "line\nbreak $(id)", "--out", "p.md"], "market_segments"),
        (["run", "ok", "--out", "missing/p.md"], "--out"),
        (["run", "ok", "--niche", "8", "--out", "p.md"], "--niche"),
        (["run", "ok", "--model", "m" * 201, "--out", "p.md"], "model name"),
        (["run", "--resume", "1", "--niche", "2", "--out", "p.md"], "--resume takes no"),
    ],
)
def test_cli_run_bad_input_is_one_line_and_writes_nothing(tmp_path, database_url, args, message):
    env = _env(tmp_path, database_url, "http://127.0.0.1:9/v1")
    result = _cli(env, *args)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "p.md").exists()
    database = Database(database_url)
    migrate.upgrade(database.engine)  # a no-op where the CLI got as far as migrating
    with database.session() as session:  # nothing half-written either
        assert session.scalar(select(func.count()).select_from(Project)) == 0
    database.dispose()


def test_cli_run_with_the_model_server_down_fails_clearly_and_resumes(tmp_path, database_url):
    env = _env(tmp_path, database_url, "http://127.0.0.1:9/v1")
    result = _cli(env, "run", "freelance translators", "--out", str(tmp_path / "p.md"))
    assert result.returncode == 1 and "cannot be reached" in result.stderr
    assert "--resume 1" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "p.md").exists()
    with ScriptedServer() as server:
        env = _env(tmp_path, database_url, server.url)
        resumed = _cli(env, "run", "--resume", "1", "--out", str(tmp_path / "p.md"))
        assert resumed.returncode == 0, resumed.stderr
    assert (tmp_path / "p.md").exists()


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_killed_worker_loses_nothing_and_no_stage_runs_twice(tmp_path, database_url):
    settings = load_settings(
        {"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "instance")}
    )
    database = Database(settings.sqlalchemy_url)
    from paissive_income.db import migrate

    migrate.upgrade(database.engine)
    from agent_support import make_owner

    owner, project = make_owner(database)
    with ScriptedServer(delay=0.3) as server:
        env = _env(
            tmp_path,
            database_url,
            server.url,
            AGENT_HEARTBEAT_SECONDS="0.5",
            AGENT_STALE_SECONDS="3",
        )
        with database.session() as session:
            run_id = service.create_run(
                session, owner_id=owner, project_id=project, model="scripted"
            ).id
        from agent_team.runs.tasks import JobQueue

        JobQueue(
            create_huey(redis_url=None, instance_path=tmp_path / "instance"), database=database
        ).enqueue(run_id)

        def stages() -> int:
            with database.session() as session:
                return session.scalar(
                    select(func.count())
                    .select_from(RunArtifact)
                    .where(RunArtifact.run_id == run_id)
                )

        first = subprocess.Popen(
            [sys.executable, "-m", "paissive_income", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _wait(lambda: stages() >= 1, 60, "the research stage")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        done_before = stages()
        assert done_before < 4
        second = subprocess.Popen(
            [sys.executable, "-m", "paissive_income", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:

            def finished() -> bool:
                with database.session() as session:
                    return session.get(Run, run_id).status == RunStatus.SUCCEEDED

            _wait(finished, 120, "the run to finish after the restart")
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
    assert stages() == 4
    assert server.model.calls("NicheIdeas") == 1  # the research stage ran once
    with database.session() as session:
        assert session.get(Run, run_id).attempts == 2
    database.dispose()


def test_a_plan_that_cannot_be_written_is_one_line_and_leaves_no_file(tmp_path):
    from agent_team.cli import _write_atomically

    target = tmp_path / "plan.md"
    target.mkdir()  # os.replace onto a folder fails after the temporary file is written
    with pytest.raises(click.ClickException, match="cannot write the plan"):
        _write_atomically(target, "# Plan")
    assert [path.name for path in tmp_path.iterdir()] == ["plan.md"]


def test_ctrl_c_leaves_a_resumable_run_and_resume_finishes_it(tmp_path, database_url):
    out = tmp_path / "plan.md"
    with ScriptedServer(delay=0.3) as server:
        env = _env(tmp_path, database_url, server.url)
        command = [sys.executable, "-m", "paissive_income", "run", "translators", "--out", str(out)]
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            _wait(lambda: server.model.calls("ConceptProposal") >= 1, 90, "the solution stage")
        finally:
            process.send_signal(signal.SIGINT)
            _stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 1 and "interrupted; resume with --resume 1" in stderr
        assert "Traceback" not in stderr and not out.exists()
        calls = server.model.calls("NicheIdeas")
        resumed = _cli(env, "run", "--resume", "1", "--out", str(out))
        assert resumed.returncode == 0, resumed.stderr
    assert out.read_text().startswith("# Plan: translators")
    assert server.model.calls("NicheIdeas") == calls == 1  # research was kept, not redone
