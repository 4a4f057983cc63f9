"""Read the four CI/CD pipelines into the facts the tests compare: what the test stage runs, with
which services; which image tags are pushed; which branch deploys where, behind what approval.

One reader per platform, each returning the same shapes, so one assertion covers all four.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
GITHUB = REPO / ".github" / "workflows" / "ci-cd.yml"
GITLAB = REPO / ".gitlab-ci.yml"
AZURE = REPO / "azure-pipelines.yml"
BUILDSPEC = REPO / "buildspec.yml"
AWS_DEPLOY = REPO / "deploy" / "aws" / "buildspec-deploy.yml"
AWS_PIPELINE = REPO / "deploy" / "aws" / "codepipeline.yml"
DEPLOY_SCRIPT = "deploy/ci/deploy-kubernetes.sh"
PLATFORMS = ("github", "gitlab", "azure", "aws")

# The commit each platform builds, as its pipelines spell it.
COMMIT = {
    "github": ("${{ github.sha }}",),
    "gitlab": ("$CI_COMMIT_SHA",),
    "azure": ("$(Build.SourceVersion)", "$BUILD_SOURCEVERSION"),
    "aws": ("$COMMIT_ID",),
}


# Secrets and variables each platform's settings hold, by the names the pipelines use them.
SETTINGS = {
    "github": ("KUBE_CONFIG",),  # environment secrets; GITHUB_TOKEN is the workflow's own
    "gitlab": ("KUBE_CONFIG",),  # a File variable per environment
    "azure": ("ACR_LOGIN_SERVER",),  # variable group paissive-income (+ secure files, below)
    "aws": ("KUBE_CONFIG", "DOCKERHUB_USERNAME", "DOCKERHUB_TOKEN"),  # Secrets Manager
}


def _declared(names) -> str:
    """Lines that tell shellcheck these variables come from outside (the platform)."""
    return "".join(f'{name}="${{{name}-}}"\n' for name in names)


@dataclass(frozen=True)
class TestStage:
    """What a pipeline's test stage runs: its shell text, environment, images and services."""

    script: str
    env: dict[str, str]
    image: str
    services: frozenset[str]


@dataclass(frozen=True)
class Deploy:
    """One deploy job: the only branch it runs from, whether a person approves it first, and
    the overlay, namespace and image it hands the deploy script."""

    job: str
    branch: str
    approval: bool
    overlay: str
    namespace: str
    image: str
    environment: str = ""


@dataclass(frozen=True)
class Pipeline:
    """One platform's pipeline, reduced to the facts the tests check."""

    platform: str
    test: TestStage
    pushed: tuple[str, ...]  # image references pushed (with their tag expressions)
    deploys: tuple[Deploy, ...]
    scripts: dict[str, str] = field(default_factory=dict)  # job -> shell text, for shellcheck


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation's short tags (!Ref, !If, ...) as {"Fn": value}."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: object = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


_Loader.add_multi_constructor("!", _cfn_tag)


def load(path: Path) -> dict:
    """Parse a pipeline file (CloudFormation short tags allowed)."""
    return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def deploy_calls(text: str) -> list[list[str]]:
    """The argument lists of every `sh deploy/ci/deploy-kubernetes.sh ...` in a shell text."""
    calls = []
    for line in text.replace("\\\n", " ").splitlines():
        words = shlex.split(line, posix=True) if DEPLOY_SCRIPT in line else []
        if DEPLOY_SCRIPT in words:
            calls.append(words[words.index(DEPLOY_SCRIPT) + 1 :])
    return calls


def docker_env(script: str) -> dict[str, str]:
    """The `--env NAME=VALUE` settings of a `docker run` in a shell text."""
    return dict(re.findall(r"--env ([A-Z_]+)=(\S+)", script))


def _one_deploy(job: str, text: str, variables: dict[str, str], **fields) -> Deploy:
    calls = deploy_calls(text)
    assert len(calls) == 1, f"{job}: expected one call of {DEPLOY_SCRIPT}, found {calls}"
    args = [re.sub(r"^\$(\w+)$", lambda m: variables.get(m[1], m[0]), a) for a in calls[0]]
    assert len(args) == 3, f"{job}: {DEPLOY_SCRIPT} takes OVERLAY NAMESPACE IMAGE, got {args}"
    return Deploy(job, overlay=args[0], namespace=args[1], image=args[2], **fields)


def _github_step_shell(step: dict) -> str:
    """A run step's script, after lines that say its `env:` variables are set (for shellcheck)."""
    if "run" not in step:
        return ""
    return _declared(step.get("env", {})) + step["run"]


def github() -> Pipeline:
    """.github/workflows/ci-cd.yml."""
    jobs = load(GITHUB)["jobs"]
    test = jobs["test"]
    stage = TestStage(
        script="\n".join(s.get("run", "") for s in test["steps"]),
        env={k: str(v) for k, v in test["env"].items()},
        image=test["container"],
        services=frozenset(s["image"] for s in test["services"].values()),
    )
    build = next(s for s in jobs["image"]["steps"] if "build-push-action" in s.get("uses", ""))
    image_output = jobs["image"]["outputs"]["image"]  # what needs.image.outputs.image names
    deploys = []
    for name, job in jobs.items():
        text = "\n".join(s.get("run", "") for s in job["steps"])
        if DEPLOY_SCRIPT not in text:
            continue
        branches = re.findall(r"github\.ref == 'refs/heads/([\w-]+)'", job["if"])
        assert len(branches) == 1 and "github.event_name == 'push'" in job["if"], job["if"]
        env = job["environment"]["name"]
        step_env = next(s["env"] for s in job["steps"] if DEPLOY_SCRIPT in s.get("run", ""))
        deploy = _one_deploy(name, text, step_env, branch=branches[0], approval=env == "production")
        image = deploy.image.replace("${{ needs.image.outputs.image }}", image_output)
        deploys.append(Deploy(**{**deploy.__dict__, "image": image, "environment": env}))
    return Pipeline(
        "github",
        stage,
        tuple(t.strip() for t in build["with"]["tags"].splitlines() if t.strip()),
        tuple(deploys),
        {name: "\n".join(map(_github_step_shell, job["steps"])) for name, job in jobs.items()},
    )


def gitlab() -> Pipeline:
    """.gitlab-ci.yml (jobs that `extends:` a template get its keys)."""
    doc = load(GITLAB)
    jobs = {}
    for name, job in doc.items():
        if isinstance(job, dict) and not name.startswith(".") and name != "workflow":
            merged = {**doc.get(job.get("extends", ""), {}), **job}
            if "script" in merged:
                jobs[name] = merged
    test = jobs["test"]
    stage = TestStage(
        script="\n".join(test["script"]),
        env={k: str(v) for k, v in test["variables"].items()},
        image=test["image"],
        services=frozenset(s["name"] for s in test["services"]),
    )
    variables = {**doc["variables"]}
    build = "\n".join(jobs["build-image"]["script"])
    pushed = tuple(re.findall(r'docker push "([^"]+)"', build))
    pushed = tuple(p.replace("$IMAGE", variables["IMAGE"]) for p in pushed)
    deploys = []
    for name, job in jobs.items():
        text = "\n".join(job["script"])
        if DEPLOY_SCRIPT not in text:
            continue
        [rule] = job["rules"]
        branches = re.findall(r'\$CI_COMMIT_BRANCH == "([\w-]+)"', rule["if"])
        assert len(branches) == 1, rule
        manual = rule.get("when") == "manual" and job.get("allow_failure") is False
        deploy = _one_deploy(
            name, text, {**variables, **job["variables"]}, branch=branches[0], approval=manual
        )
        image = deploy.image.replace("$IMAGE", variables["IMAGE"])
        env = job["environment"]["name"]
        deploys.append(Deploy(**{**deploy.__dict__, "image": image, "environment": env}))
    scripts = {
        name: _declared([*job.get("variables", {}), *SETTINGS["gitlab"]])
        + "\n".join(job.get("before_script", []) + job["script"])
        for name, job in jobs.items()
    }
    return Pipeline("gitlab", stage, pushed, tuple(deploys), scripts)


def _azure_steps(job: dict) -> list[dict]:
    if "steps" in job:
        return job["steps"]
    return job["strategy"]["runOnce"]["deploy"]["steps"]


def azure() -> Pipeline:
    """azure-pipelines.yml: the test job runs in a python container on the agent's network."""
    doc = load(AZURE)
    containers = {c["container"]: c for c in doc["resources"]["containers"]}
    stages = {s["stage"]: s for s in doc["stages"]}
    [test] = stages["Test"]["jobs"]
    script = "\n".join(s.get("bash", "") for s in test["steps"])
    stage = TestStage(
        script=script,
        env=docker_env(script),
        image=re.search(r"\s(python:\S+) bash", script)[1],
        services=frozenset(containers[c]["image"] for c in test["services"].values()),
    )
    [docker] = [s for j in stages["Build"]["jobs"] for s in j["steps"] if "task" in s]
    repository = docker["inputs"]["repository"]
    pushed = tuple(f"$(imageRepository):{t}" for t in docker["inputs"]["tags"].split())
    assert repository == "$(imageRepository)" and docker["inputs"]["command"] == "buildAndPush"
    variables = {v["name"]: v["value"] for v in doc["variables"] if "name" in v}
    deploys, scripts = [], {}
    for stage_doc in doc["stages"]:
        for job in stage_doc["jobs"]:
            name = job.get("job") or job.get("deployment")
            text = "\n".join(s.get("bash", "") for s in _azure_steps(job))
            scripts[name] = text
            if DEPLOY_SCRIPT not in text:
                continue
            branches = re.findall(
                r"eq\(variables\['Build\.SourceBranch'\], 'refs/heads/([\w-]+)'\)",
                stage_doc["condition"],
            )
            assert len(branches) == 1, stage_doc["condition"]
            env = job["environment"]
            deploy = _one_deploy(
                name, text, {}, branch=branches[0], approval=env == "production", environment=env
            )
            # Docker@2 pushes to the service connection's registry, ACR_LOGIN_SERVER names it.
            registry, _, image = deploy.image.partition("/")
            assert registry == "$ACR_LOGIN_SERVER", deploy.image
            image = image.replace("$BUILD_SOURCEVERSION", "$(Build.SourceVersion)")
            assert "deployment" in job, f"{name}: approvals apply to deployment jobs only"
            deploys.append(Deploy(**{**deploy.__dict__, "image": image}))
    assert variables["imageRepository"] == "paissive-income"
    return Pipeline("azure", stage, pushed, tuple(deploys), scripts)


def _commands(phase: dict) -> str:
    return "\n".join(phase["commands"])


def _cfn_if(value: dict, condition: str) -> tuple[str, str]:
    """(value when the condition holds, value when not) of an `!If [condition, a, b]`."""
    name, when_true, when_false = value["If"]
    assert name == condition, value
    return when_true, when_false


def aws() -> Pipeline:
    """buildspec.yml (test and image), deploy/aws/codepipeline.yml and its deploy buildspec."""
    spec = load(BUILDSPEC)
    phases = spec["phases"]
    script = _commands(phases["pre_build"])
    install = _commands(phases["install"])
    stage = TestStage(
        script=script,
        env={**{k: str(v) for k, v in spec["env"]["variables"].items()}, **docker_env(script)},
        image=re.search(r"\s(python:\S+) bash", script)[1],
        services=frozenset(re.findall(r"docker run --detach .*?\s(\S+:\S+)$", install, re.M)),
    )
    pushed = tuple(re.findall(r'docker push "([^"]+)"', _commands(phases["build"])))
    template = load(AWS_PIPELINE)
    resources = template["Resources"]
    assert template["Parameters"]["BranchName"]["AllowedValues"] == ["dev", "main"]
    assert template["Conditions"]["IsProd"] == {"Equals": [{"Ref": "BranchName"}, "main"]}
    project = resources["DeployProject"]["Properties"]
    variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    overlay, namespace = (_cfn_if(variables[k], "IsProd") for k in ("OVERLAY", "NAMESPACE"))
    stages = resources["Pipeline"]["Properties"]["Stages"]
    approval = [s for s in stages if "If" in s]
    assert len(approval) == 1, "one stage, the approval, exists only on the main pipeline"
    gate, nothing = _cfn_if(approval[0], "IsProd")
    assert nothing == {"Ref": "AWS::NoValue"}
    actions = [a["ActionTypeId"] for a in gate["Actions"]]
    assert actions == [
        {"Category": "Approval", "Owner": "AWS", "Provider": "Manual", "Version": "1"}
    ]
    assert stages.index(approval[0]) == len(stages) - 2, "the approval comes right before deploy"
    deploy_text = _commands(load(AWS_DEPLOY)["phases"]["build"])
    image = re.search(r'IMAGE_URI="([^"]+)"', _commands(phases["build"]))[1]
    both = {}
    for index, (branch, gated) in enumerate((("main", True), ("dev", False))):
        values = {"OVERLAY": overlay[index], "NAMESPACE": namespace[index]}
        deploy = _one_deploy(f"deploy-{branch}", deploy_text, values, branch=branch, approval=gated)
        both[branch] = Deploy(**{**deploy.__dict__, "image": image})
    scripts = {
        "buildspec.yml": "\n".join(_commands(p) for p in phases.values()),
        "buildspec-deploy.yml": "\n".join(
            _commands(p) for p in load(AWS_DEPLOY)["phases"].values()
        ),
    }
    return Pipeline("aws", stage, pushed, (both["dev"], both["main"]), scripts)


def readme_test_command() -> tuple[str, list[str]]:
    """The README's test command and the install steps before it (its `&&` parts)."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"Run the whole test suite:\s*```bash\n(.+?)\n```", text, re.S)[1]
    *install, command = (part.strip() for part in block.split("&&"))
    return command, install


def before_command(script: str, command: str) -> str:
    """A test stage's shell lines (stripped) before its test command."""
    lines = [line.strip() for line in script.splitlines()]
    return "\n".join(lines[: lines.index(command)])


READERS = {"github": github, "gitlab": gitlab, "azure": azure, "aws": aws}
