"""The validators used by these tests catch real defects, and the checkov allow-list is tight."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import serving_validators
import yaml
from serving_spread import SPREAD, generate


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated folder per target, to copy and break."""
    root = tmp_path_factory.mktemp("sample")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("docker/seed", "kubernetes/seed", "aws/seed", "gcp/seed", "azure/seed"):
            generate(SPREAD[name](), root / name)
    return root


def broken(sample: Path, tmp_path: Path, relative: str, change) -> Path:
    """Copy one target's folder and apply `change` to one of its files."""
    folder = relative.split("/")[0] + "/" + relative.split("/")[1]
    shutil.copytree(sample / folder, tmp_path / folder)
    path = tmp_path / relative
    path.write_text(change(path.read_text()))
    return tmp_path


def edit_yaml(edit):
    def change(text: str) -> str:
        data = yaml.safe_load(text)
        edit(data)
        return yaml.safe_dump(data)

    return change


def edit_json(edit):
    def change(text: str) -> str:
        data = json.loads(text)
        edit(data)
        return json.dumps(data)

    return change


def container(data: dict) -> dict:
    return data["spec"]["template"]["spec"]["containers"][0]


DEFECTS = {
    "hadolint": (
        "docker/seed/Dockerfile",
        lambda t: t.replace("FROM python:3.10-slim AS builder", "FROM python AS builder"),
    ),
    "compose-spec": (
        "docker/seed/docker-compose.yml",
        lambda t: t.replace("read_only: true", "read_only: true\n    gpus_please: 1"),
    ),
    "kubernetes-validate": (
        "kubernetes/seed/deployment.yaml",
        edit_yaml(lambda d: container(d).update(gpus=1)),
    ),
    "kustomize": (
        "kubernetes/seed/kustomization.yaml",
        edit_yaml(lambda d: d["resources"].append("missing.yaml")),
    ),
    "cfn-lint": (
        "aws/seed/cloudformation.yaml",
        edit_yaml(
            lambda d: d["Resources"]["EndpointConfig"]["Properties"]["ProductionVariants"][
                0
            ].update(InstanceCount=1)
        ),
    ),
    "shellcheck": ("aws/seed/deploy.sh", lambda t: t + "\nrm -rf $project_root/build\n"),
    "cloud-run-v2": (
        "gcp/seed/service.json",
        edit_json(lambda d: d["template"].update(minScale=1)),
    ),
    "azure-arm": (
        "azure/seed/azuredeploy.json",
        edit_json(
            lambda d: d["resources"][-1]["properties"]["template"]["scale"].update(minReplicas="1")
        ),
    ),
    "checkov": (
        "kubernetes/seed/deployment.yaml",
        edit_yaml(
            lambda d: container(d)["securityContext"].update(
                privileged=True, allowPrivilegeEscalation=True
            )
        ),
    ),
}


@pytest.mark.parametrize("validator", sorted(DEFECTS))
def test_validator_catches_a_planted_defect(sample: Path, tmp_path: Path, validator: str) -> None:
    relative, change = DEFECTS[validator]
    root = broken(sample, tmp_path, relative, change)
    assert serving_validators.ALL[validator](root), f"{validator} missed the defect in {relative}"


def test_every_validator_has_a_planted_defect() -> None:
    assert set(DEFECTS) == set(serving_validators.ALL)


def test_cloud_run_validator_knows_output_only_and_required_fields(
    sample: Path, tmp_path: Path
) -> None:
    root = broken(
        sample, tmp_path, "gcp/seed/service.json", edit_json(lambda d: d.update(uri="https://x"))
    )
    assert any("uri is output-only" in p for p in serving_validators.cloud_run(root))
    other = tmp_path / "other"
    broken(
        sample,
        other,
        "gcp/seed/service.json",
        edit_json(lambda d: d["template"]["containers"][0].pop("image")),
    )
    assert any("image is required" in p for p in serving_validators.cloud_run(other))


def test_allow_list_entries_have_reasons() -> None:
    entries = yaml.safe_load(serving_validators.SKIPS_FILE.read_text())["skips"]
    ids = [entry["id"] for entry in entries]
    assert len(ids) == len(set(ids))
    for entry in entries:
        assert set(entry) == {"id", "reason"}
        assert re.fullmatch(r"CKV2?_[A-Z0-9]+_\d+", entry["id"])
        assert len(entry["reason"].split()) >= 20, entry["id"]


@pytest.mark.slow
def test_every_allow_listed_check_is_still_needed(spread_root: Path) -> None:
    """Run checkov without the allow-list: each skipped id must really fire on the spread."""
    binary = serving_validators.checkov_binary()
    result = subprocess.run(
        [
            binary,
            "-d",
            str(spread_root),
            "--framework",
            "dockerfile",
            "kubernetes",
            "cloudformation",
            "arm",
            "--skip-download",
            "--quiet",
            "--compact",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    fired = {
        c["check_id"] for r in reports if "results" in r for c in r["results"]["failed_checks"]
    }
    assert set(serving_validators.checkov_skips()) == fired


def test_serving_imports_nothing_else_of_the_project() -> None:
    code = (
        "import sys, ai_models.serving, ai_models.serving.cli\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'torch', 'transformers', 'paissive_income', 'agent_team', 'numpy', 'fastapi'}"
        " or (m.startswith('ai_models.') and not m.startswith('ai_models.serving')))\n"
        "print(bad)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
