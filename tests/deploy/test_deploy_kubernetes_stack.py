"""deploy/kubernetes, service by service: migration order, data services, secret, overlays, GPU."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from kubernetes_checks import (
    OVERLAYS,
    autoscaler_problems,
    build,
    containers,
    effective_env,
    find,
    pod,
    render,
    stack_problems,
    workloads,
)

from ai_models.serving import kubernetes_manifests, vllm
from paissive_income.deploy import stack
from paissive_income.deploy.kubernetes_gpu import vllm_config


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("k8s"))


@pytest.fixture(scope="module")
def builds(rendered: Path) -> dict[str, list[dict]]:
    folders = {"base": rendered / "base", **{o: rendered / "overlays" / o for o in OVERLAYS}}
    return {name: build(folder) for name, folder in folders.items()}


def test_migrate_job_runs_db_upgrade_and_web_and_worker_wait_for_it(
    builds: dict[str, list[dict]],
) -> None:
    docs = builds["prod"]
    job = find(docs, "Job", "migrate")
    assert pod(job)["containers"][0]["command"] == list(stack.MIGRATE.command)
    assert pod(job)["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] >= 3
    # kept after it ends: a TTL could delete it before `kubectl wait job/migrate` looks
    assert "ttlSecondsAfterFinished" not in job["spec"]
    migrate = pod(job)["containers"][0]
    for name in ("web", "worker"):
        workload = workloads(docs)[name]
        init = pod(workload)["initContainers"]
        assert [c["name"] for c in init] == ["db-wait"], name
        command = init[0]["command"]
        assert command[:3] == ["paissive-income", "db", "wait"] and "--timeout" in command
        assert init[0]["image"] == migrate["image"] == pod(workload)["containers"][0]["image"]
        # the same database as the migration: same env and secret file
        env = effective_env(docs, init[0])
        assert env["DATABASE_URL_FILE"] == effective_env(docs, migrate)["DATABASE_URL_FILE"]
        assert "startupProbe" not in init[0] and "ports" not in init[0]
    assert "initContainers" not in pod(workloads(docs)["ai-models"])


def test_postgres_is_a_statefulset_with_a_headless_service(builds: dict[str, list[dict]]) -> None:
    docs = builds["base"]
    sts = find(docs, "StatefulSet", "postgres")
    service = find(docs, "Service", "postgres")
    assert service["spec"]["clusterIP"] == "None" and sts["spec"]["serviceName"] == "postgres"
    assert (
        service["spec"]["selector"].items() <= sts["spec"]["template"]["metadata"]["labels"].items()
    )
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == stack.POSTGRES.storage
    spec = pod(sts)
    assert spec["securityContext"]["runAsUser"] == spec["securityContext"]["fsGroup"] == 999
    container = spec["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == stack.POSTGRES.data_path
    pgdata = effective_env(docs, container)["PGDATA"]
    assert pgdata.startswith(stack.POSTGRES.data_path + "/")  # not the volume's lost+found
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"][0] == "pg_isready"


def test_redis_is_probed_by_redis_cli_and_keeps_nothing_on_disk(
    builds: dict[str, list[dict]],
) -> None:
    redis = workloads(builds["base"])["redis"]
    container = pod(redis)["containers"][0]
    assert "redis-cli" in " ".join(container["readinessProbe"]["exec"]["command"])
    assert container["livenessProbe"]["exec"]["command"][0] == "redis-cli"
    assert pod(redis)["securityContext"]["runAsUser"] == 999
    assert container["args"][container["args"].index("--appendonly") + 1] == "no"
    data = next(v for v in pod(redis)["volumes"] if v["name"] == "data")
    assert "emptyDir" in data


def test_ai_models_keeps_its_model_on_a_claim_and_waits_for_the_download(
    builds: dict[str, list[dict]],
) -> None:
    docs = builds["base"]
    models = workloads(docs)["ai-models"]
    container = pod(models)["containers"][0]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volume = next(v for v in pod(models)["volumes"] if v["name"] == mounts[stack.MODEL_CACHE])
    claim = find(docs, "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    assert claim["spec"]["resources"]["requests"]["storage"] == stack.MODEL_STORAGE
    startup = container["startupProbe"]
    assert startup["httpGet"]["path"] == stack.AI_MODELS.ready_path
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600


def test_the_secret_is_a_template_kustomize_never_applies(rendered: Path) -> None:
    base = rendered / "base"
    listed = yaml.safe_load((base / "kustomization.yaml").read_text())["resources"]
    on_disk = sorted(p.name for p in base.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == [p for p in on_disk if p != "secret.template.yaml"]
    text = (base / "secret.template.yaml").read_text()
    secret = yaml.safe_load(text)
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == stack.SECRET_OBJECT
    assert secret["stringData"] == {name: "" for name in stack.SECRETS}
    command = next(line for line in text.splitlines() if "create secret generic" in line)
    argv = shlex.split(command.lstrip("# "))
    assert argv[:2] == ["kubectl", "--namespace"] and stack.SECRET_OBJECT in argv
    files = [a.split("=", 1)[1] for a in argv if a.startswith("--from-file=")]
    assert [f.split("=")[0] for f in files] == list(stack.SECRETS)


def test_the_ingress_is_tls_with_a_host_each_overlay_sets(builds: dict[str, list[dict]]) -> None:
    hosts = {}
    for name in ("base", *OVERLAYS):
        spec = find(builds[name], "Ingress", "web")["spec"]
        (rule,) = spec["rules"]
        assert spec["ingressClassName"] and spec["tls"][0]["secretName"]
        assert spec["tls"][0]["hosts"] == [rule["host"]]
        assert rule["http"]["paths"][0]["backend"]["service"]["name"] == "web"
        hosts[name] = rule["host"]
    assert hosts["base"].endswith(".invalid")  # a placeholder no one can mistake for a name
    assert len({hosts["base"], hosts["dev"], hosts["prod"]}) == 3 and hosts["gpu"] == hosts["prod"]


def test_dev_runs_one_small_replica_of_each_in_its_own_namespace(
    builds: dict[str, list[dict]],
) -> None:
    dev, base = builds["dev"], builds["base"]
    assert {d["metadata"].get("namespace") for d in dev if d["kind"] != "Namespace"} == {
        "paissive-income-dev"
    }
    assert find(dev, "Namespace", "paissive-income-dev")
    for hpa in (d for d in dev if d["kind"] == "HorizontalPodAutoscaler"):
        assert hpa["spec"]["minReplicas"] == 1
    for name, workload in workloads(dev).items():
        for _, container in containers(workload):
            small = container["resources"]["requests"]
            big = next(
                c for _, c in containers(workloads(base)[name]) if c["name"] == container["name"]
            )
            assert _bytes(small["memory"]) <= _bytes(big["resources"]["requests"]["memory"])
    claim = find(dev, "PersistentVolumeClaim", "ai-models-cache")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]  # any cluster's default class


def test_prod_keeps_at_least_the_base_replicas_and_a_quorum(builds: dict[str, list[dict]]) -> None:
    prod, base = builds["prod"], builds["base"]
    assert {d["metadata"].get("namespace") for d in prod if d["kind"] != "Namespace"} == {
        "paissive-income"
    }
    for hpa in (d for d in prod if d["kind"] == "HorizontalPodAutoscaler"):
        name = hpa["metadata"]["name"]
        floor = find(base, "HorizontalPodAutoscaler", name)["spec"]["minReplicas"]
        assert hpa["spec"]["minReplicas"] >= floor
        budget = find(prod, "PodDisruptionBudget", name)["spec"]
        # stricter than the base's maxUnavailable 1, yet a drain can always evict one pod
        assert "maxUnavailable" not in budget
        assert 1 <= budget["minAvailable"] < hpa["spec"]["minReplicas"]


def test_gpu_runs_the_generators_vllm_container_behind_the_same_service(
    builds: dict[str, list[dict]],
) -> None:
    docs = builds["gpu"]
    models = workloads(docs)["ai-models"]
    (container,) = pod(models)["containers"]
    generated = kubernetes_manifests.container(vllm_config())
    for key in (
        "image",
        "command",
        "ports",
        "resources",
        "startupProbe",
        "readinessProbe",
        "livenessProbe",
        "securityContext",
        "envFrom",
        "volumeMounts",
    ):
        assert container[key] == generated[key], key
    # the generator's flags; the model answers to the name the agents send (AI_CHAT_MODEL)
    served = container["args"].index("--served-model-name") + 1
    assert container["args"][:served] + container["args"][served + 1 :] == (
        generated["args"][:served] + generated["args"][served + 1 :]
    )
    assert container["args"][served] == stack.CHAT_MODEL
    assert container["image"] == stack.VLLM_IMAGE
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["readinessProbe"]["httpGet"]["path"] == vllm.HEALTH_PATH == "/health"
    key = next(e for e in container["env"] if e["name"] == "VLLM_API_KEY")
    assert key["valueFrom"]["secretKeyRef"] == {
        "name": stack.SECRET_OBJECT,
        "key": "ai_model_api_key",
    }
    # the model lands on the stack's volume, writable by the pod's group
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    cache = next(v for v in pod(models)["volumes"] if v["name"] == mounts[stack.MODEL_CACHE])
    assert cache["persistentVolumeClaim"]["claimName"] == "ai-models-cache"
    assert pod(models)["securityContext"]["fsGroup"] == stack.RUNTIME_UID
    shm = next(v for v in pod(models)["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"]["medium"] == "Memory"
    assert any(m["mountPath"] == "/dev/shm" for m in container["volumeMounts"])
    # the Service the agents call is unchanged and lands on vLLM's port
    service = find(docs, "Service", "ai-models")
    (port,) = service["spec"]["ports"]
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port["port"] == 8000 and named[port["targetPort"]] == 8000
    assert (
        service["spec"]["selector"].items()
        <= models["spec"]["template"]["metadata"]["labels"].items()
    )
    # the agents' env is the base's: same URL, same model name
    app = find(docs, "ConfigMap", "paissive-income-config")["data"]
    assert app["AI_MODELS_URL"] == "http://ai-models:8000/v1"
    assert app["AI_CHAT_MODEL"] == container["args"][served]
    assert stack_problems(docs, skip=("ai-models",)) == []


def test_gpu_scales_on_the_vllm_queue_not_cpu_or_memory(builds: dict[str, list[dict]]) -> None:
    docs = builds["gpu"]
    assert autoscaler_problems(docs, skip=("ai-models",)) == []
    hpa = find(docs, "HorizontalPodAutoscaler", "ai-models")["spec"]
    assert hpa["metrics"] == kubernetes_manifests.autoscaler(vllm_config())["spec"]["metrics"]
    assert [m["type"] for m in hpa["metrics"]] == ["Pods"]
    budget = find(docs, "PodDisruptionBudget", "ai-models")["spec"]
    assert budget.get("maxUnavailable") == 1 and "minAvailable" not in budget


def _bytes(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([KMGT]i)?", quantity).groups()
    return int(number) * 1024 ** " KMGT".index((unit or " ")[0])
