"""The scheduled backup: a CronJob running `db backup` into its own volume, one at a time, with
the app's env and secrets; its command, taken from the manifest, writes and prunes archives."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from click.testing import CliRunner
from kubernetes_checks import (
    OVERLAYS,
    build,
    effective_env,
    find,
    pod,
    render,
    security_problems,
)

from paissive_income.cli import main
from paissive_income.db import Database, migrate
from paissive_income.db.archive import verify_archive
from paissive_income.deploy import stack
from paissive_income.deploy.kubernetes_backup import BACKUP, BACKUP_CLAIM, BACKUP_DIR


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    root = render(tmp_path_factory.mktemp("k8s"))
    folders = {"base": root / "base", **{o: root / "overlays" / o for o in OVERLAYS}}
    return {name: build(folder) for name, folder in folders.items()}


@pytest.mark.parametrize("name", ["base", *OVERLAYS])
def test_an_hourly_backup_one_at_a_time_onto_its_own_volume(builds, name: str) -> None:
    docs = builds[name]
    cron = find(docs, "CronJob", "backup")
    spec = cron["spec"]
    assert spec["concurrencyPolicy"] == "Forbid" and spec["schedule"] == "17 * * * *"
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] < 3600  # ends before the next one is due
    container = pod(cron)["containers"][0]
    assert container["command"] == list(BACKUP.command)  # exec form: no shell to quote for
    assert container["command"][3:5] == ["--out-dir", BACKUP_DIR]
    volumes = {v["name"]: v for v in pod(cron)["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert volumes[mounts[BACKUP_DIR]]["persistentVolumeClaim"] == {"claimName": BACKUP_CLAIM}
    claim = find(docs, "PersistentVolumeClaim", BACKUP_CLAIM)
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    # the database the app uses, read from the same secret file as the migration's
    files = stack.secret_files(BACKUP, stack.K8S_SECRETS_DIR)
    assert effective_env(docs, container) == {**stack.app_env(), **files}
    assert (
        files["DATABASE_URL_FILE"]
        == stack.secret_files(stack.MIGRATE, stack.K8S_SECRETS_DIR)["DATABASE_URL_FILE"]
    )
    assert [p for p in security_problems(docs) if p.startswith("backup")] == []


def test_security_check_sees_the_cronjobs_pod(builds) -> None:
    docs = copy.deepcopy(builds["base"])
    cron = find(docs, "CronJob", "backup")
    pod(cron)["containers"][0]["securityContext"]["readOnlyRootFilesystem"] = False
    assert "backup container backup: securityContext.readOnlyRootFilesystem is not True" in (
        security_problems(docs)
    )


def test_the_manifests_command_writes_and_prunes_archives(builds, tmp_path: Path, monkeypatch):
    container = pod(find(builds["base"], "CronJob", "backup"))["containers"][0]
    database = Database(f"sqlite:///{tmp_path / 'app.db'}")
    migrate.upgrade(database.engine)
    database.dispose()
    folder = tmp_path / "backups"
    folder.mkdir()
    for day in range(1, 80):  # older archives than --keep
        (
            folder / f"paissive-income-2026{day // 28 + 1:02d}{day % 28 + 1:02d}T000000Z.tar.gz"
        ).touch()
    argv = [folder.as_posix() if arg == BACKUP_DIR else arg for arg in container["command"]]
    assert argv[0] == "paissive-income"
    monkeypatch.setenv("DATABASE_URL", database.url)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    result = CliRunner().invoke(main, argv[1:])
    assert result.exit_code == 0, result.output
    archives = sorted(folder.iterdir())
    keep = int(argv[argv.index("--keep") + 1])
    assert len(archives) == keep
    assert verify_archive(archives[-1])["schema_revision"] == migrate.head_revision()
