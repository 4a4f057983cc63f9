"""The CI/CD pipelines' rules no validator checks: CodeBuild's buildspec structure (no public
schema exists), secrets only by name, least privilege and current actions on GitHub, one deploy
per environment at a time."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pipeline_facts import AWS_DEPLOY, AWS_PIPELINE, AZURE, BUILDSPEC, GITHUB, GITLAB, REPO, load


@pytest.mark.parametrize("path", [BUILDSPEC, AWS_DEPLOY], ids=lambda p: p.name)
def test_buildspec_structure(path: Path) -> None:
    """No public schema exists for buildspec: the keys CodeBuild's reference allows, version 0.2,
    bash, known phases in order with commands, ABORT on failure, secrets only by name."""
    spec = load(path)
    assert spec["version"] == 0.2 and set(spec) <= {"version", "env", "phases", "artifacts"}
    env = spec["env"]
    assert env["shell"] == "bash"
    assert set(env) <= {
        "shell",
        "variables",
        "parameter-store",
        "secrets-manager",
        "exported-variables",
    }
    assert all(isinstance(v, str) for v in env.get("variables", {}).values())
    for name, reference in env.get("secrets-manager", {}).items():
        # secret-id:json-key[:version-stage[:version-id]], a name, not a value.
        assert re.fullmatch(r"[A-Za-z0-9/_+=.@-]+:[A-Za-z0-9_-]+", reference), (name, reference)
        assert reference.startswith("paissive-income/"), reference
    order = ["install", "pre_build", "build", "post_build"]
    phases = list(spec["phases"])
    assert phases == sorted(phases, key=order.index)
    for name, phase in spec["phases"].items():
        assert set(phase) <= {"run-as", "on-failure", "runtime-versions", "commands", "finally"}
        assert phase["on-failure"] == "ABORT" and phase["commands"], name
        assert all(isinstance(c, str) and c.strip() for c in phase["commands"]), name


def test_buildspec_tests_then_pushes_and_hands_the_image_to_the_deploy() -> None:
    spec = load(BUILDSPEC)
    install = "\n".join(spec["phases"]["install"]["commands"])
    assert "postgres:17.2" in install and "redis:7.4.1" in install  # services start in install
    assert spec["env"]["exported-variables"] == ["IMAGE_URI"]
    assert spec["artifacts"]["files"] == ["image-uri.txt", "deploy/**/*"]
    build = "\n".join(spec["phases"]["build"]["commands"])
    assert "> image-uri.txt" in build and 'IMAGE_URI="$ECR_REPOSITORY_URI:$COMMIT_ID"' in build
    deploy = "\n".join(load(AWS_DEPLOY)["phases"]["build"]["commands"])
    assert '"$(cat image-uri.txt)"' in deploy
    # The pipeline passes the commit and branch the source stage resolved.
    stages = load(AWS_PIPELINE)["Resources"]["Pipeline"]["Properties"]["Stages"]
    [build_action] = next(s for s in stages if s.get("Name") == "Build")["Actions"]
    passed = json.loads(build_action["Configuration"]["EnvironmentVariables"])
    assert {v["name"]: v["value"] for v in passed} == {
        "BRANCH_NAME": "#{SourceVariables.BranchName}",
        "COMMIT_ID": "#{SourceVariables.CommitId}",
    }


SECRET_KEY = re.compile(r"pass(word)?|secret|token|api_?key|credential|private|kube_?config", re.I)
SECRET_TEXT = [
    re.compile(p)
    for p in (
        r"AKIA[0-9A-Z]{16}",  # AWS access key id
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
        r"\bgh[pousr]_[A-Za-z0-9]{20,}",  # GitHub tokens
        r"\bglpat-[A-Za-z0-9_-]{20,}",  # GitLab tokens
        r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
        # A long base64 blob: mixed case and digits (not a URL path or a word).
        r"(?<![A-Za-z0-9+/])(?=[A-Za-z0-9+/]*\d)(?=[A-Za-z0-9+/]*[A-Z])(?=[A-Za-z0-9+/]*[a-z])"
        r"[A-Za-z0-9+/]{40,}={0,2}",
    )
]
PIPELINE_FILES = [GITHUB, GITLAB, AZURE, BUILDSPEC, AWS_DEPLOY, AWS_PIPELINE]


def _pairs(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _pairs(value, (*path, str(key)))
    elif isinstance(node, list):
        for item in node:
            yield from _pairs(item, path)
    else:
        yield path, node


def _reference(value: str) -> bool:
    """A value that names where a secret comes from: a variable, an expression, a secret id."""
    return bool(re.match(r"\$\{\{ secrets\.[A-Z_]+ \}\}$|\$\(?[A-Za-z_.]+\)?$", value))


@pytest.mark.parametrize("path", PIPELINE_FILES, ids=lambda p: p.name)
def test_no_secret_values_only_names(path: Path) -> None:
    text = path.read_text()
    for pattern in SECRET_TEXT:
        assert not pattern.search(text), f"{path.name}: {pattern.search(text)[0]!r}"
    for keys, value in _pairs(load(path)):
        if not SECRET_KEY.search(keys[-1]) or keys[-2:-1] in (("secrets-manager",),):
            continue
        if isinstance(value, str):
            assert _reference(value), f"{path.name}: {'.'.join(keys)} = {value!r}"
    # CodeBuild variables that hold secrets are Secrets Manager references.
    for resource in load(AWS_PIPELINE)["Resources"].values():
        environment = resource["Properties"].get("Environment", {})
        for variable in environment.get("EnvironmentVariables", []):
            if SECRET_KEY.search(variable["Name"]):
                assert variable["Type"] == "SECRETS_MANAGER", variable


def test_github_workflow_least_privilege_and_current_actions() -> None:
    workflow = load(GITHUB)
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as true
    assert set(triggers) == {"push", "pull_request"}  # never pull_request_target
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    granted = {name: job["permissions"] for name, job in jobs.items() if "permissions" in job}
    assert granted == {"image": {"contents": "read", "packages": "write"}}
    minimum = {
        "actions/checkout": 7,
        "docker/setup-buildx-action": 4,
        "docker/login-action": 4,
        "docker/build-push-action": 7,
        "azure/setup-kubectl": 5,
    }
    used = [s["uses"] for job in jobs.values() for s in job["steps"] if "uses" in s]
    for ref in used:
        action, _, version = ref.partition("@")
        assert re.fullmatch(r"v\d+(\.\d+){0,2}", version), f"{ref}: pin a released major"
        assert int(version[1:].split(".")[0]) >= minimum[action], ref
    for name in ("deploy-dev", "deploy-prod"):
        assert jobs[name]["concurrency"]["cancel-in-progress"] is False
    assert "secrets.GITHUB_TOKEN" in str(jobs["image"])


def test_deploys_never_overlap() -> None:
    """One deploy per environment at a time, on every platform."""
    gitlab = load(GITLAB)
    assert gitlab["deploy-dev"]["resource_group"] == "development"
    assert gitlab["deploy-prod"]["resource_group"] == "production"
    assert load(AZURE)["lockBehavior"] == "sequential"
    # CodePipeline runs one execution per stage at a time (SUPERSEDED mode, the default).
    assert "ExecutionMode" not in load(AWS_PIPELINE)["Resources"]["Pipeline"]["Properties"]


def test_every_pipeline_builds_the_root_dockerfile() -> None:
    """`docker build -t paissive-income .` from the repository root, on every platform."""
    assert (REPO / "Dockerfile").is_file()
    steps = [s for job in load(GITHUB)["jobs"].values() for s in job["steps"]]
    [build] = [s["with"] for s in steps if "build-push-action" in s.get("uses", "")]
    assert build["context"] == "." and "file" not in build and build["push"] is True
    [docker] = [
        s["inputs"]
        for st in load(AZURE)["stages"]
        for j in st["jobs"]
        for s in j.get("steps", [])
        if "task" in s
    ]
    assert (docker["Dockerfile"], docker["buildContext"]) == ("Dockerfile", ".")
    gitlab = "\n".join(load(GITLAB)["build-image"]["script"])
    aws = "\n".join(load(BUILDSPEC)["phases"]["build"]["commands"])
    for text in (gitlab, aws):
        [command] = [line for line in text.splitlines() if line.startswith("docker build ")]
        assert command.endswith(" .") and " -f " not in command, command
