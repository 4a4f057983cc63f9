"""deploy/ci/deploy-kubernetes.sh, the deploy every pipeline runs, against recording stand-ins for
kubectl and kustomize: the order of its commands, its refusal of bad input, its stop on failure."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "ci" / "deploy-kubernetes.sh"
IMAGE = "ghcr.io/acme/paissive-income:0123456789abcdef0123456789abcdef01234567"

# Records its name, working folder and arguments; fails when FAIL_ON is in the argument list.
STUB = """#!/bin/sh
printf '%s|%s|%s\\n' "$(basename "$0")" "$(pwd)" "$*" >> "$CALLS"
case " $* " in *" $FAIL_ON "*) [ -n "$FAIL_ON" ] && exit 1 ;; esac
exit 0
"""


@pytest.fixture
def world(tmp_path: Path) -> dict:
    """A bin folder with the stand-ins first on PATH, a call log and an overlay folder."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("kubectl", "kustomize"):
        stub = bin_dir / name
        stub.write_text(STUB)
        stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    overlay = tmp_path / "overlays" / "dev"
    overlay.mkdir(parents=True)
    (overlay / "kustomization.yaml").write_text("resources: []\n")
    calls = tmp_path / "calls.log"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "CALLS": str(calls),
        "FAIL_ON": "",
        "HOME": str(tmp_path),
    }
    return {"env": env, "calls": calls, "overlay": overlay}


def deploy(world: dict, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    argv = ["sh", str(SCRIPT), *args]
    return subprocess.run(
        argv,
        cwd=REPO,
        env={**world["env"], **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def calls(world: dict) -> list[tuple[str, str, str]]:
    if not world["calls"].exists():
        return []
    return [tuple(line.split("|", 2)) for line in world["calls"].read_text().splitlines()]


def test_sets_the_image_replaces_the_job_applies_then_waits(world) -> None:
    overlay = world["overlay"]
    result = deploy(world, str(overlay), "paissive-income-dev", IMAGE)
    assert result.returncode == 0, result.stderr
    ns = "--namespace paissive-income-dev"
    assert calls(world) == [
        ("kustomize", str(overlay), f"edit set image paissive-income={IMAGE}"),
        ("kubectl", str(REPO), f"delete job migrate {ns} --ignore-not-found --wait=true"),
        ("kubectl", str(REPO), f"apply --kustomize {overlay}"),
        ("kubectl", str(REPO), f"wait --for=condition=complete job/migrate {ns} --timeout 15m"),
        ("kubectl", str(REPO), f"rollout status deployment/web {ns} --timeout 15m"),
        ("kubectl", str(REPO), f"rollout status deployment/worker {ns} --timeout 15m"),
        ("kubectl", str(REPO), f"rollout status deployment/ai-models {ns} --timeout 15m"),
    ]
    assert f"{IMAGE} is live in paissive-income-dev" in result.stdout


def test_a_failed_step_stops_the_deploy(world) -> None:
    result = deploy(world, str(world["overlay"]), "paissive-income", IMAGE, FAIL_ON="job/migrate")
    assert result.returncode != 0
    assert [c[2].split()[0] for c in calls(world)] == ["edit", "delete", "apply", "wait"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("{overlay}", "paissive-income", "img\n$(touch /tmp/pwned)"), "IMAGE"),
        (("{overlay}", "paissive-income", "img:tag; rm -rf /"), "IMAGE"),
        (("{overlay}", "paissive-income", "img:tag\nok"), "IMAGE"),
        (("{overlay}", "paissive-income", "'img'"), "IMAGE"),
        (("{overlay}", "paissive-income", "imagé:v1"), "IMAGE"),
        (("{overlay}", "paissive-income", "img:" + "a" * 200), "IMAGE"),
        (("{overlay}", "paissive-income", ""), "IMAGE"),
        (("{overlay}", "Paissive Income", IMAGE), "NAMESPACE"),
        (("{overlay}", "ns\nother", IMAGE), "NAMESPACE"),
        (("{overlay}", "-n", IMAGE), "NAMESPACE"),
        (("/nonexistent/overlay", "paissive-income", IMAGE), "OVERLAY"),
        (("{overlay}", "paissive-income"), "usage"),
    ],
)
def test_bad_input_is_refused_in_one_line_before_any_command(world, args, field) -> None:
    args = tuple(a.replace("{overlay}", str(world["overlay"])) for a in args)
    result = deploy(world, *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and field in result.stderr, result.stderr
    assert result.stderr.startswith("deploy-kubernetes: ") and "Traceback" not in result.stderr
    assert calls(world) == []


def test_bad_timeout_and_missing_tools_are_refused(world, tmp_path) -> None:
    result = deploy(world, str(world["overlay"]), "paissive-income", IMAGE, DEPLOY_TIMEOUT="1d;x")
    assert result.returncode == 2 and "DEPLOY_TIMEOUT" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    for tool in ("sh", "grep", "tr", "cat", "dirname", "basename"):
        os.symlink(shutil.which(tool), empty / tool)
    result = deploy(world, str(world["overlay"]), "paissive-income", IMAGE, PATH=str(empty))
    assert result.returncode == 2 and "kubectl is not installed" in result.stderr


def test_script_is_posix_sh_and_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
    result = subprocess.run(
        [shellcheck, "--shell=sh", "--severity=style", str(SCRIPT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    assert os.access(SCRIPT, os.X_OK)
