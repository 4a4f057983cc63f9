"""deploy/kubernetes through the ecosystem's validators: kubernetes-validate, kustomize, checkov."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes_checks import OVERLAYS, render

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ai_models" / "serving"))
import serving_validators  # noqa: E402  (the serving tests' validator helpers)

SKIPS_FILE = Path(__file__).with_name("checkov-skips.yaml")


@pytest.fixture(scope="module")
def scan_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The base's files and the `kubectl kustomize` build of every overlay, side by side."""
    root = render(tmp_path_factory.mktemp("k8s"))
    scan = tmp_path_factory.mktemp("scan")
    for path in sorted((root / "base").glob("*.yaml")):
        if path.name != "kustomization.yaml":
            (scan / path.name).write_text(path.read_text())
    for overlay in OVERLAYS:
        result = _run(["kubectl", "kustomize", str(root / "overlays" / overlay)])
        assert result.returncode == 0, result.stderr
        (scan / f"build-{overlay}.yaml").write_text(result.stdout)
    return scan


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)


def kubernetes_validate(paths: list[Path]) -> str:
    """kubernetes-validate --strict over files; its complaints, or '' when clean."""
    binary = serving_validators.tool("kubernetes-validate")
    result = _run([binary, "--strict", "--quiet", *map(str, paths)])
    output = (result.stdout + result.stderr).strip()
    return "" if result.returncode == 0 and not output else output or f"exit {result.returncode}"


@pytest.mark.slow
def test_base_files_and_overlay_builds_pass_kubernetes_validate_strict(scan_root: Path) -> None:
    paths = sorted(scan_root.glob("*.yaml"))
    assert {p.name for p in paths} >= {"secret.template.yaml", "build-gpu.yaml", "web.yaml"}
    assert kubernetes_validate(paths) == ""


def test_kubernetes_validate_catches_a_planted_defect(scan_root: Path, tmp_path: Path) -> None:
    text = (scan_root / "build-prod.yaml").read_text()
    planted = tmp_path / "planted.yaml"
    planted.write_text(text.replace("readOnlyRootFilesystem:", "readOnlyRootFileSystem:", 1))
    assert kubernetes_validate([planted]) != ""


def test_every_file_of_an_overlay_is_used(tmp_path: Path) -> None:
    """Kustomize ignores files nobody lists: every patch must be in its kustomization.yaml."""
    root = render(tmp_path)
    for overlay in OVERLAYS:
        folder = root / "overlays" / overlay
        body = yaml.safe_load((folder / "kustomization.yaml").read_text())
        listed = {entry["path"] for entry in body["patches"]}
        assert listed == {p.name for p in folder.iterdir()} - {"kustomization.yaml"}, overlay
    base = yaml.safe_load((root / "base" / "kustomization.yaml").read_text())["resources"]
    on_disk = {p.name for p in (root / "base").iterdir()}
    assert on_disk - set(base) == {"kustomization.yaml", "secret.template.yaml"}


def checkov_skips() -> dict[str, str]:
    """The stack's allow-list: check id -> reason."""
    return {e["id"]: e["reason"] for e in yaml.safe_load(SKIPS_FILE.read_text())["skips"]}


def test_allow_list_entries_have_reasons() -> None:
    entries = yaml.safe_load(SKIPS_FILE.read_text())["skips"]
    assert len({e["id"] for e in entries}) == len(entries)
    for entry in entries:
        assert set(entry) == {"id", "reason"}
        assert re.fullmatch(r"CKV2?_[A-Z0-9]+_\d+", entry["id"])
        assert len(entry["reason"].split()) >= 20, entry["id"]


def checkov_failures(root: Path) -> tuple[dict[str, set[str]], list[str]]:
    """Run checkov (no skips) over root: failed check id -> resources, and parse problems."""
    argv = [serving_validators.checkov_binary(), "-d", str(root), "--framework", "kubernetes"]
    argv += ["--skip-download", "--quiet", "--compact", "-o", "json"]
    result = _run(argv)
    try:
        reports = json.loads(result.stdout)
    except json.JSONDecodeError:
        return {}, [f"checkov did not report JSON (exit {result.returncode}): {result.stderr}"]
    failed: dict[str, set[str]] = {}
    problems = []
    for report in reports if isinstance(reports, list) else [reports]:
        for check in report.get("results", {}).get("failed_checks", []):
            failed.setdefault(check["check_id"], set()).add(
                f"{check['file_path']} {check['resource']}"
            )
        if report.get("summary", {}).get("parsing_errors"):
            problems.append(f"{report['check_type']}: unparsed files")
    return failed, problems


@pytest.mark.slow
def test_checkov_is_clean_but_for_the_allow_list_and_each_skip_still_fires(
    scan_root: Path,
) -> None:
    failed, problems = checkov_failures(scan_root)
    assert problems == []
    skips = checkov_skips()
    unexpected = {check: sorted(where) for check, where in failed.items() if check not in skips}
    assert unexpected == {}
    # Kubernetes skips must still be needed here (Dockerfile skips are the image tests' to prove)
    kubernetes_skips = {check for check in skips if "_K8S_" in check}
    assert kubernetes_skips == kubernetes_skips & set(failed)
