"""Run each target's own validator over a folder of generated files; return the problems found.

Every function takes a folder (or files) and returns a list of human-readable problems, so one
validator run can cover many generated configs. Missing tools are a failure, not a skip:
`.ci/install-validators.sh` installs them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import typing
from pathlib import Path

import yaml

HERE = Path(__file__).parent
SKIPS_FILE = HERE / "checkov-skips.yaml"
REPO_ROOT = HERE.parents[2]
INSTALL_HINT = "run .ci/install-validators.sh"


def tool(name: str, *fallbacks: str) -> str:
    """Locate a validator executable or fail with the install hint."""
    for candidate in (os.environ.get(f"{name.upper().replace('-', '_')}_BIN"), *fallbacks):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    for directory in (Path(sys.executable).parent, None):
        found = shutil.which(name, path=str(directory) if directory else None)
        if found:
            return found
    raise AssertionError(f"validator {name!r} is not installed; {INSTALL_HINT}")


def _run(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


def files(root: Path, name: str) -> list[Path]:
    """All generated files with this file name under root, in a stable order."""
    return sorted(root.rglob(name))


def checkov_binary() -> str:
    """checkov from its own venv (CHECKOV_VENV, default .tools/checkov), CHECKOV_BIN or PATH."""
    venv = os.environ.get("CHECKOV_VENV", str(REPO_ROOT / ".tools" / "checkov"))
    return tool("checkov", f"{venv}/bin/checkov")


def hadolint(root: Path) -> list[str]:
    """hadolint at every level (error, warning, info, style); inline ignores carry reasons."""
    paths = files(root, "Dockerfile")
    if not paths:
        return []
    result = _run([tool("hadolint"), "--no-color", "-f", "json", *map(str, paths)])
    findings = json.loads(result.stdout or "[]")
    return [f"{f['file']}:{f['line']} {f['code']} {f['level']}: {f['message']}" for f in findings]


def compose_schema(root: Path) -> list[str]:
    """The Compose Specification's JSON schema, via check-jsonschema."""
    paths = files(root, "docker-compose.yml")
    if not paths:
        return []
    argv = [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", *map(str, paths)]
    result = _run(argv)
    return [] if result.returncode == 0 else [result.stdout + result.stderr]


def kubernetes_validate(root: Path) -> list[str]:
    """kubernetes-validate --strict: Kubernetes' own OpenAPI schemas, unknown fields rejected."""
    paths = [p for p in sorted(root.rglob("*.yaml")) if p.name != "kustomization.yaml"]
    paths = [p for p in paths if p.parent.joinpath("kustomization.yaml").exists()]
    if not paths:
        return []
    result = _run([tool("kubernetes-validate"), "--strict", "--quiet", *map(str, paths)])
    output = (result.stdout + result.stderr).strip()
    return [] if result.returncode == 0 and not output else [output]


def kustomize(root: Path) -> list[str]:
    """`kubectl kustomize` builds every kustomization (lists exactly existing, valid files)."""
    kubectl = shutil.which("kubectl")
    problems = []
    for kustomization in files(root, "kustomization.yaml"):
        listed = yaml.safe_load(kustomization.read_text())["resources"]
        on_disk = sorted(p.name for p in kustomization.parent.glob("*.yaml"))
        if sorted([*listed, "kustomization.yaml"]) != on_disk:
            problems.append(f"{kustomization}: lists {listed}, folder has {on_disk}")
        if kubectl:
            result = _run([kubectl, "kustomize", str(kustomization.parent)])
            if result.returncode != 0:
                problems.append(f"{kustomization}: {result.stderr.strip()}")
    return problems


def cfn_lint(root: Path) -> list[str]:
    """cfn-lint at every level: errors, warnings and informational findings."""
    paths = files(root, "cloudformation.yaml")
    if not paths:
        return []
    result = _run([tool("cfn-lint"), "--format", "parseable", "--", *map(str, paths)])
    return [] if result.returncode == 0 else [result.stdout + result.stderr]


def shellcheck(root: Path) -> list[str]:
    """shellcheck at style level, plus `bash -n` parsing."""
    paths = files(root, "deploy.sh")
    if not paths:
        return []
    problems = []
    result = _run([tool("shellcheck"), "--severity=style", "--shell=bash", *map(str, paths)])
    if result.returncode != 0:
        problems.append(result.stdout + result.stderr)
    for path in paths:
        syntax = _run(["bash", "-n", str(path)])
        if syntax.returncode != 0:
            problems.append(f"{path}: {syntax.stderr}")
        if not os.access(path, os.X_OK):
            problems.append(f"{path}: not executable")
    return problems


def checkov_skips() -> dict[str, str]:
    """The allow-list: check id -> written reason."""
    entries = yaml.safe_load(SKIPS_FILE.read_text())["skips"]
    return {entry["id"]: entry["reason"] for entry in entries}


def checkov(root: Path) -> list[str]:
    """checkov over Dockerfile, Kubernetes, CloudFormation and ARM with the allow-list applied."""
    binary = checkov_binary()
    argv = [
        binary,
        "-d",
        str(root),
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
        "--skip-check",
        ",".join(checkov_skips()),
    ]
    result = _run(argv, cwd=root)
    try:
        reports = json.loads(result.stdout)
    except json.JSONDecodeError:
        return [f"checkov did not report JSON (exit {result.returncode}): {result.stderr[-2000:]}"]
    if isinstance(reports, dict):
        reports = [reports]
    problems = []
    for report in reports:
        if "results" not in report:
            continue  # a framework with nothing to scan reports only a summary
        for check in report["results"]["failed_checks"]:
            problems.append(f"{check['check_id']} {check['check_name']}: {check['file_path']}")
        if report["summary"].get("parsing_errors"):
            problems.append(
                f"{report['check_type']}: {report['summary']['parsing_errors']} unparsed"
            )
    return problems


# GCP: Cloud Run's own v2 API types ----------------------------------------------------------------


def cloud_run(root: Path) -> list[str]:
    """Parse service.json into google-cloud-run's Service proto (unknown fields, wrong types and
    unknown enum values fail), then apply the API's own field notes from the SDK's docs:
    no "Output only." field may be set and every "Required." field must be."""
    from google.cloud import run_v2
    from google.protobuf import json_format

    problems = []
    for path in files(root, "service.json"):
        message = run_v2.Service.pb()()
        try:
            json_format.ParseDict(json.loads(path.read_text()), message)
        except json_format.ParseError as exc:
            problems.append(f"{path}: {exc}")
            continue
        problems += [f"{path}: {p}" for p in _field_behaviors(message, "")]
    return problems


def _documented_behaviors(name: str) -> dict[str, str]:
    """Field -> "Output only" / "Required", read from the run_v2 type's attribute docs."""
    import re

    from google.cloud import run_v2

    cls = getattr(run_v2, name, None)
    doc = (cls.__doc__ or "") if cls is not None else ""
    pattern = r"^ {8}(\w+) \([^)]*\):\n {12}(Output only|Required)\."
    return {field: behavior for field, behavior in re.findall(pattern, doc, re.MULTILINE)}


def _field_behaviors(message, prefix: str) -> list[str]:
    problems = []
    behaviors = _documented_behaviors(message.DESCRIPTOR.name)
    present = {field.name for field, _ in message.ListFields()}
    for field in message.DESCRIPTOR.fields:
        name = f"{prefix}{field.name}"
        if behaviors.get(field.name) == "Output only" and field.name in present:
            problems.append(f"{name} is output-only")
        if behaviors.get(field.name) == "Required" and field.name not in present:
            problems.append(f"{name} is required")
        if field.message_type is None or field.name not in present:
            continue
        if field.message_type.GetOptions().map_entry:
            continue
        value = getattr(message, field.name)
        items = value if field.is_repeated else [value]
        for index, item in enumerate(items):
            suffix = f"[{index}]" if field.is_repeated else ""
            problems += _field_behaviors(item, f"{name}{suffix}.")
    return problems


# Azure: ARM template shape + the Container Apps SDK's model types ----------------------------

ARM_TOP = {
    "$schema",
    "contentVersion",
    "apiProfile",
    "parameters",
    "variables",
    "functions",
    "resources",
    "outputs",
    "metadata",
}
ARM_RESOURCE = {
    "type",
    "apiVersion",
    "name",
    "location",
    "tags",
    "dependsOn",
    "properties",
    "identity",
    "scope",
    "condition",
    "comments",
    "copy",
    "sku",
    "kind",
}
ARM_ONLY = {"type", "apiVersion", "name", "dependsOn", "scope", "condition", "comments", "copy"}


def azure_arm(root: Path) -> list[str]:
    """Check azuredeploy.json: ARM envelope, parameter references, and every Microsoft.App
    resource against azure-mgmt-appcontainers' models (unknown, read-only, mistyped or
    unknown-enum fields fail)."""
    from azure.mgmt.appcontainers import models

    schemas = {
        "Microsoft.App/containerApps": models.ContainerApp,
        "Microsoft.App/managedEnvironments": models.ManagedEnvironment,
    }
    problems = []
    for path in files(root, "azuredeploy.json"):
        template = json.loads(path.read_text())
        problems += [f"{path}: unknown top-level key {k}" for k in set(template) - ARM_TOP]
        text = path.read_text()
        for parameter in _referenced_parameters(text):
            if parameter not in template.get("parameters", {}):
                problems.append(f"{path}: parameters('{parameter}') is not declared")
        for index, resource in enumerate(template["resources"]):
            where = f"{path}: resources[{index}] {resource.get('type')}"
            problems += [f"{where}: unknown key {k}" for k in set(resource) - ARM_RESOURCE]
            problems += [
                f"{where}: missing {k}" for k in ("type", "apiVersion", "name") if k not in resource
            ]
            model = schemas.get(resource.get("type"))
            if model is not None:
                body = {k: v for k, v in resource.items() if k not in ARM_ONLY}
                problems += [f"{where}: {p}" for p in check_model(body, model, "")]
    return problems


def _referenced_parameters(text: str) -> set[str]:
    import re

    return set(re.findall(r"parameters\('([^']+)'\)", text))


def check_model(data: object, model: type, path: str) -> list[str]:
    """Compare JSON data with an azure-mgmt model class, field by field, recursively."""
    if not isinstance(data, dict):
        return [f"{path or 'body'}: expected an object for {model.__name__}"]
    model()  # the SDK computes its field table on first instantiation
    fields = {rf._rest_name: (attr, rf) for attr, rf in model._attr_to_rest_field.items()}
    hints = typing.get_type_hints(
        model, localns={"_models": sys.modules[model.__module__.rsplit(".", 1)[0]]}
    )
    problems = []
    for key, value in data.items():
        where = f"{path}.{key}" if path else key
        if key not in fields:
            problems.append(f"{where}: not a field of {model.__name__}")
            continue
        attr, rest_field = fields[key]
        if rest_field._visibility == ["read"]:
            problems.append(f"{where}: read-only in {model.__name__}")
        problems += check_type(value, hints[attr], where)
    return problems


def check_type(value: object, hint: object, path: str) -> list[str]:
    """Check one value against a type hint from the SDK models."""
    import enum

    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:
        options = [a for a in args if a is not type(None)]
        enums = [a for a in options if isinstance(a, type) and issubclass(a, enum.Enum)]
        if enums and isinstance(value, str):
            known = {m.value for e in enums for m in e}
            return [] if value in known else [f"{path}: {value!r} is not one of {sorted(known)}"]
        results = [check_type(value, option, path) for option in options]
        return [] if any(not r for r in results) else results[0]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [
            p for i, item in enumerate(value) for p in check_type(item, args[0], f"{path}[{i}]")
        ]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        return [p for k, item in value.items() for p in check_type(item, args[1], f"{path}.{k}")]
    if hint is typing.Any:
        return []
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number"]
    if hint in (int, bool, str):
        ok = isinstance(value, hint) and (hint is bool or not isinstance(value, bool))
        return [] if ok else [f"{path}: expected {hint.__name__}"]
    if isinstance(hint, type) and hasattr(hint, "_attr_to_rest_field") or _is_model(hint):
        return check_model(value, hint, path)
    return [f"{path}: no rule for type {hint!r}"]


def _is_model(hint: object) -> bool:
    from azure.mgmt.appcontainers._utils.model_base import Model

    return isinstance(hint, type) and issubclass(hint, Model)


# Everything ----------------------------------------------------------------------------------

ALL = {
    "hadolint": hadolint,
    "compose-spec": compose_schema,
    "kubernetes-validate": kubernetes_validate,
    "kustomize": kustomize,
    "cfn-lint": cfn_lint,
    "shellcheck": shellcheck,
    "cloud-run-v2": cloud_run,
    "azure-arm": azure_arm,
    "checkov": checkov,
}


def validate_all(root: Path) -> dict[str, list[str]]:
    """Run every validator over root; return only those that found problems."""
    found = {name: check(root) for name, check in ALL.items()}
    return {name: problems for name, problems in found.items() if problems}
