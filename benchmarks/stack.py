"""The Compose stack as local processes: start-up, throughput with 1 and 2 workers, kill recovery.

Starts what ``docker-compose.yml`` starts, with its commands and env (the launcher of the stack
test, ``tests/deploy/stack_processes.py``: hostnames, secret files, folders and ports translated
for processes; the model server is the scripted model, each reply delayed ``--delay`` seconds),
against local PostgreSQL and Redis, and prints:

- seconds to ready (``/readyz`` 200, or exit 0 for the migration) per process kind;
- ``--runs`` concurrent analysis runs through the web API, end to end, with 1 worker and then 2:
  seconds, runs/minute, p50/p95 run duration (created → finished) and the 2-worker/1-worker ratio;
- the same batch with one of the 2 workers killed (SIGKILL) mid-run: seconds from the kill until
  the survivor's sweeper requeues its runs, until they are claimed again (behind the runs queued
  before them), and until every run is done.

Run: ``python benchmarks/stack.py`` (PostgreSQL and Redis from ``TEST_DATABASE_URL`` and
``TEST_REDIS_URL``, as for the tests; about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "deploy"))

import redis  # noqa: E402
from stack_compose import COMPOSE_FILE, compose_services  # noqa: E402
from stack_processes import (  # noqa: E402
    LocalStack,
    create_database,
    drop_database,
    local_redis_url,
)
from stack_runs import (  # noqa: E402
    api_token,
    mid_run,
    open_stages,
    percentile,
    problems,
    records,
    requeued,
    runs_of,
    start_runs,
    wait_finished,
    wait_for,
)

from paissive_income.db import Database  # noqa: E402

REDIS_DB = 12  # the tests use 15, 14 and 13


def batch(stack, database, webs, token, runs: int, *, kill=None, survivor=None) -> dict:
    """Drive ``runs`` concurrent runs to the end (killing ``kill`` mid-run); return figures."""
    began = time.monotonic()
    run_ids = start_runs([web.url("") for web in webs], token, runs, tag=f" {time.time_ns()}")
    figures: dict = {}
    interrupted: dict = {}
    if kill is not None:
        pid = kill.popen.pid
        wait_for(lambda: mid_run(database, pid), 60, "a worker mid-way through a run")
        mark = survivor.log_size()
        os.kill(pid, signal.SIGKILL)
        kill.popen.wait(timeout=10)
        killed_at = time.monotonic()
        orphans = runs_of(database, pid)
        interrupted = open_stages(database, orphans)
        figures["orphans"] = len(orphans)
        wait_for(lambda: requeued(survivor, mark, orphans), 120, "the survivor's sweeper")
        figures["requeued"] = time.monotonic() - killed_at
        wait_for(lambda: not set(orphans) & set(runs_of(database, pid)), 300, "the takeover")
        figures["claimed"] = time.monotonic() - killed_at
    wait_finished(database, run_ids, timeout=600)
    figures["seconds"] = time.monotonic() - began
    if kill is not None:
        figures["recovery"] = time.monotonic() - killed_at
    found = records(database, run_ids)
    wrong = problems(found, run_ids, interrupted)
    if wrong:
        raise SystemExit(f"runs broke: {wrong[:5]}\n{stack.logs()}")
    durations = [record.seconds for record in found.values()]
    figures.update(
        per_minute=runs * 60 / figures["seconds"],
        p50=percentile(durations, 0.5),
        p95=percentile(durations, 0.95),
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compose", type=Path, default=COMPOSE_FILE)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.25, help="seconds per model reply")
    parser.add_argument("--stale", type=float, default=5, help="AGENT_STALE_SECONDS")
    args = parser.parse_args()
    admin = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    redis_url = local_redis_url(
        os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"), REDIS_DB
    )
    queue = redis.Redis.from_url(redis_url)
    queue.flushdb()
    name, database_url = create_database(admin)
    workdir = Path(tempfile.mkdtemp(prefix="stack-bench-"))
    extra = {
        "worker": {"AGENT_STALE_SECONDS": str(args.stale), "AGENT_HEARTBEAT_SECONDS": "1"},
        "ai-models": {"SCRIPTED_DELAY": str(args.delay)},
    }
    stack = LocalStack(
        compose_services(args.compose),
        workdir=workdir,
        database_url=database_url,
        redis_url=redis_url,
        extra_env=extra,
    )
    database = Database(database_url)
    try:
        ready = {"migrate": stack.run_once("migrate").ready_seconds}
        model = stack.start("ai-models")
        webs = [stack.start("web"), stack.start("web")]
        first = stack.start("worker")
        stack.wait_ready([model, *webs, first])
        ready.update(
            {
                "ai-models": model.ready_seconds,
                "web": max(web.ready_seconds for web in webs),
                "worker": first.ready_seconds,
            }
        )
        token = api_token(database)
        batch(stack, database, webs, token, 4)  # warm-up: first requests, pools, imports
        one = batch(stack, database, webs, token, args.runs)
        second = stack.start("worker")
        stack.wait_ready([second])
        two = batch(stack, database, webs, token, args.runs)
        killed = batch(stack, database, webs, token, args.runs, kill=first, survivor=second)
    finally:
        stack.stop()
        database.dispose()
        drop_database(admin, name)
        queue.flushdb()
    print(f"stack from {args.compose.name}: {args.runs} runs a batch, {args.delay} s per reply")
    for kind, seconds in ready.items():
        print(f"  ready  {kind:<10} {seconds:6.2f} s")
    print(f"  {'':<22}{'1 worker':>10}{'2 workers':>11}{'speed-up':>9}{'2, one killed':>15}")
    for key, label in (
        ("seconds", "end to end (s)"),
        ("per_minute", "runs/minute"),
        ("p50", "p50 run (s)"),
        ("p95", "p95 run (s)"),
    ):
        ratio = one[key] / two[key] if key != "per_minute" else two[key] / one[key]
        print(f"  {label:<22}{one[key]:>10.2f}{two[key]:>11.2f}{ratio:>8.2f}x{killed[key]:>15.2f}")
    print(
        f"  kill recovery (AGENT_STALE_SECONDS={args.stale}): the killed worker's "
        f"{killed['orphans']} runs requeued by the survivor {killed['requeued']:.2f} s after "
        f"SIGKILL, claimed again {killed['claimed']:.2f} s after, all runs done "
        f"{killed['recovery']:.2f} s after"
    )


if __name__ == "__main__":
    main()
