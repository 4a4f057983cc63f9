"""Checks of the stack's Kubernetes objects that the schema validators cannot make.

Each check takes parsed objects (a base or a `kubectl kustomize` build) and returns problems, so a
test asserts none on the real output and some on a planted defect.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from ai_models.serving.output import write_files
from paissive_income.deploy import stack
from paissive_income.deploy.kubernetes import render_kubernetes_stack
from paissive_income.deploy.kubernetes_objects import checksum

OVERLAYS = ("dev", "prod", "gpu")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "CronJob")
ONE_SHOT_KINDS = ("Job", "CronJob")
RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
}


def render(root: Path, image: str = stack.DEFAULT_IMAGE) -> Path:
    """Write the generator's files into root/kubernetes."""
    write_files(root / "kubernetes", render_kubernetes_stack(image=image))
    return root / "kubernetes"


def build(folder: Path) -> list[dict]:
    """`kubectl kustomize folder`, parsed."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not installed (it builds the Kustomize overlays)"
    result = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(docs: list[dict], kind: str, name: str) -> dict:
    """The one object of this kind and name."""
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} objects"
    return found[0]


def workloads(docs: list[dict]) -> dict[str, dict]:
    """Workload name -> the object, for Deployments, StatefulSets, Jobs and CronJobs."""
    return {d["metadata"]["name"]: d for d in docs if d["kind"] in WORKLOAD_KINDS}


def template(workload: dict) -> dict:
    """A workload's pod template (a CronJob's is in its Job template)."""
    spec = workload["spec"]
    return (spec["jobTemplate"]["spec"] if workload["kind"] == "CronJob" else spec)["template"]


def pod(workload: dict) -> dict:
    """A workload's pod spec."""
    return template(workload)["spec"]


def containers(workload: dict) -> list[tuple[str, dict]]:
    """('container' or 'initContainer', container) of a workload's pod."""
    spec = pod(workload)
    return [
        *(("initContainer", c) for c in spec.get("initContainers", [])),
        *(("container", c) for c in spec["containers"]),
    ]


def security_problems(docs: list[dict]) -> list[str]:
    """Restricted securityContext, resources and no API token on every container of every pod."""
    problems = []
    accounts = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ServiceAccount"}
    for name, workload in workloads(docs).items():
        spec = pod(workload)
        account = accounts.get(spec.get("serviceAccountName", ""))
        if not account or account.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: no ServiceAccount of its own without a token")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: pod mounts an API token")
        pod_context = spec.get("securityContext", {})
        for role, container in containers(workload):
            where = f"{name} {role} {container['name']}"
            context = container.get("securityContext", {})
            for key, value in RESTRICTED.items():
                if context.get(key) is not value:
                    problems.append(f"{where}: securityContext.{key} is not {value}")
            if context.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{where}: capabilities not dropped")
            seccomp = context.get("seccompProfile") or pod_context.get("seccompProfile")
            if seccomp != {"type": "RuntimeDefault"}:
                problems.append(f"{where}: seccomp is not RuntimeDefault")
            amounts = container.get("resources", {})
            for level in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(amounts.get(level, {})):
                    problems.append(f"{where}: no cpu and memory {level}")
    return problems


def probe_problems(docs: list[dict]) -> list[str]:
    """Readiness and liveness on every long-running container; none on a Job's."""
    problems = []
    for name, workload in workloads(docs).items():
        for role, container in containers(workload):
            probes = {k for k in container if k.endswith("Probe")}
            long_running = role == "container" and workload["kind"] not in ONE_SHOT_KINDS
            if long_running and not {"readinessProbe", "livenessProbe"} <= probes:
                problems.append(f"{name} {container['name']}: probes {sorted(probes)}")
            if not long_running and probes:
                problems.append(f"{name} {container['name']}: a one-shot with probes")
    return problems


def effective_env(docs: list[dict], container: dict) -> dict[str, str]:
    """The env a container sees: its ConfigMaps (envFrom) overlaid by its own env."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(find(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    for variable in container.get("env", []):
        env[variable["name"]] = variable.get("value", variable.get("valueFrom"))
    return env


def stack_problems(docs: list[dict], skip: tuple[str, ...] = ()) -> list[str]:
    """Every app workload (but ``skip``) runs stack.py's command, env and secret files;
    infra services run their image."""
    problems = []
    found = workloads(docs)
    for service in (*stack.APP_SERVICES, *stack.INFRA_SERVICES):
        if service.name in skip:
            continue
        workload = found.get(service.name)
        if workload is None:
            problems.append(f"{service.name}: no workload")
            continue
        main = pod(workload)["containers"][0]
        files = stack.secret_files(service, stack.K8S_SECRETS_DIR)
        if isinstance(service, stack.AppService):
            if main.get("command") != list(service.command):
                problems.append(f"{service.name}: command {main.get('command')}")
        elif main["image"] != service.image:
            problems.append(f"{service.name}: image {main['image']}")
        if effective_env(docs, main) != {**service.env, **files}:
            problems.append(f"{service.name}: env differs from stack.py")
        problems += _secret_file_problems(workload, main, service)
    return problems


def _secret_file_problems(workload: dict, container: dict, service: Any) -> list[str]:
    secrets = service.secrets
    name = workload["metadata"]["name"]
    volumes = [v for v in pod(workload)["volumes"] if "secret" in v]
    if not secrets:
        return [f"{name}: mounts a secret it does not read"] if volumes else []
    if len(volumes) != 1 or volumes[0]["secret"]["secretName"] != stack.SECRET_OBJECT:
        return [f"{name}: does not mount {stack.SECRET_OBJECT} once"]
    keys = {item["key"] for item in volumes[0]["secret"].get("items", [])}
    problems = [] if keys == set(secrets.values()) else [f"{name}: secret keys {sorted(keys)}"]
    mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
    if mounts.get(volumes[0]["name"]) != stack.K8S_SECRETS_DIR:
        problems.append(f"{name}: secret files not at {stack.K8S_SECRETS_DIR}")
    return problems


def checksum_problems(docs: list[dict]) -> list[str]:
    """Each pod's checksum/config is the hash of the ConfigMap it reads in this very build."""
    problems = []
    for name, workload in workloads(docs).items():
        sources = [
            s["configMapRef"]["name"]
            for _, c in containers(workload)
            for s in c.get("envFrom", [])
            if c["name"] != "db-wait"
        ]
        annotation = template(workload)["metadata"].get("annotations", {}).get("checksum/config")
        if workload["kind"] in ONE_SHOT_KINDS or not sources:
            continue
        data = [find(docs, "ConfigMap", source)["data"] for source in sources]
        if annotation != checksum(*data):
            problems.append(f"{name}: checksum/config does not match {sources}")
    return problems


def autoscaler_problems(docs: list[dict], skip: tuple[str, ...] = ()) -> list[str]:
    """Every HPA scales an existing Deployment on the seed's CPU 70% and memory 80%."""
    problems = []
    found = workloads(docs)
    for hpa in (d for d in docs if d["kind"] == "HorizontalPodAutoscaler"):
        name = hpa["metadata"]["name"]
        target = hpa["spec"]["scaleTargetRef"]
        if target["kind"] != "Deployment" or found.get(target["name"], {}).get("kind") != (
            "Deployment"
        ):
            problems.append(f"{name}: scales no Deployment")
        if "replicas" in found.get(target["name"], {}).get("spec", {}):
            problems.append(f"{name}: its Deployment sets replicas, which every apply resets")
        if not 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]:
            problems.append(f"{name}: replica range")
        if name in skip:
            continue
        targets = {
            m["resource"]["name"]: m["resource"]["target"]
            for m in hpa["spec"]["metrics"]
            if m["type"] == "Resource"
        }
        expected = {
            "cpu": {"type": "Utilization", "averageUtilization": 70},
            "memory": {"type": "Utilization", "averageUtilization": 80},
        }
        if targets != expected or len(hpa["spec"]["metrics"]) != 2:
            problems.append(f"{name}: metrics {hpa['spec']['metrics']}")
    return problems
