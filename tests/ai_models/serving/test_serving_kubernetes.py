"""The Kubernetes target: manifests built as data, restricted pods, secrets by reference only."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from serving_files import load_yaml
from serving_spread import SECRET_ENV, seed_kubernetes

from ai_models.serving import generate_kubernetes_config

RECOMMENDED_LABELS = {
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
}


def generate(tmp_path: Path, **changes) -> dict[str, dict]:
    out = tmp_path / "kubernetes"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paths = generate_kubernetes_config(seed_kubernetes(**changes), out)
    return {Path(p).name: load_yaml(p) for p in paths}


def pod(manifests: dict[str, dict]) -> dict:
    return manifests["deployment.yaml"]["spec"]["template"]["spec"]


def test_seed_writes_every_object_and_a_kustomization(tmp_path: Path) -> None:
    manifests = generate(tmp_path)
    kinds = {name: body["kind"] for name, body in manifests.items()}
    assert kinds == {
        "namespace.yaml": "Namespace",
        "serviceaccount.yaml": "ServiceAccount",
        "configmap.yaml": "ConfigMap",
        "deployment.yaml": "Deployment",
        "service.yaml": "Service",
        "hpa.yaml": "HorizontalPodAutoscaler",
        "pdb.yaml": "PodDisruptionBudget",
        "kustomization.yaml": "Kustomization",
    }
    assert manifests["kustomization.yaml"]["resources"] == [
        n for n in manifests if n != "kustomization.yaml"
    ]
    for name, body in manifests.items():
        if name != "kustomization.yaml":
            assert RECOMMENDED_LABELS <= set(body["metadata"]["labels"]), name
        if name not in ("kustomization.yaml", "namespace.yaml"):
            assert body["metadata"]["namespace"] == "ai-services", name


def test_namespace_enforces_restricted_pod_security(tmp_path: Path) -> None:
    labels = generate(tmp_path)["namespace.yaml"]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert "namespace.yaml" not in generate(tmp_path / "b", create_namespace=False)
    assert "namespace.yaml" not in generate(tmp_path / "c", namespace="default")


def test_pod_is_restricted(tmp_path: Path) -> None:
    spec = pod(generate(tmp_path))
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] == "paissive-income"
    container = spec["containers"][0]
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["runAsNonRoot"] is True and context["runAsUser"] >= 10000
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes[mounts["/tmp"]] == {"name": "tmp", "emptyDir": {}}
    assert volumes[mounts["/var/cache/paissive-income"]]["emptyDir"] == {}
    assert volumes[mounts["/app/models"]]["persistentVolumeClaim"]["claimName"] == "models-pvc"


def test_probes_use_readyz_and_healthz(tmp_path: Path) -> None:
    container = pod(generate(tmp_path, startup_timeout_seconds=900))["containers"][0]
    assert container["startupProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert (
        container["startupProbe"]["periodSeconds"] * container["startupProbe"]["failureThreshold"]
        >= 900
    )
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert container["args"] == ["--host", "0.0.0.0", "--port", "8000"]


def test_resources_and_gpu_limits(tmp_path: Path) -> None:
    container = pod(generate(tmp_path, gpu_count=2))["containers"][0]
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "1", "memory": "4Gi", "nvidia.com/gpu": "2"},
    }
    tolerations = pod(generate(tmp_path / "b", gpu_count=1))["tolerations"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in tolerations
    assert "tolerations" not in pod(generate(tmp_path / "c"))


def test_plain_env_in_configmap_secret_env_by_reference_only(tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = generate_kubernetes_config(seed_kubernetes(env_vars=SECRET_ENV), tmp_path)
    assert any("looks like a secret" in str(w.message) for w in caught)
    manifests = {Path(p).name: load_yaml(p) for p in paths}
    data = manifests["configmap.yaml"]["data"]
    assert data["LOG_LEVEL"] == "INFO" and data["MAX_BATCH_SIZE"] == "4"
    assert not {"AI_MODEL_API_KEY", "HF_TOKEN"} & set(data)
    container = pod(manifests)["containers"][0]
    assert container["envFrom"] == [{"configMapRef": {"name": "paissive-income-config"}}]
    assert container["env"] == [
        {"name": n, "valueFrom": {"secretKeyRef": {"name": "paissive-income-secrets", "key": n}}}
        for n in ("AI_MODEL_API_KEY", "HF_TOKEN")
    ]
    for path in paths:
        text = Path(path).read_text()
        assert "sk-not-a-real-key" not in text and "hf_x" not in text
    assert "Secret" not in {m["kind"] for m in manifests.values()}


def test_config_changes_roll_the_pods(tmp_path: Path) -> None:
    first = pod(generate(tmp_path / "a"))
    again = pod(generate(tmp_path / "b"))
    changed = generate(tmp_path / "c", env_vars={"LOG_LEVEL": "DEBUG"})
    checksum = "checksum/config"
    a = generate(tmp_path / "a")["deployment.yaml"]["spec"]["template"]["metadata"]["annotations"][
        checksum
    ]
    c = changed["deployment.yaml"]["spec"]["template"]["metadata"]["annotations"][checksum]
    assert first == again and a != c


def test_hpa_owns_replicas_when_enabled(tmp_path: Path) -> None:
    manifests = generate(tmp_path)
    assert "replicas" not in manifests["deployment.yaml"]["spec"]
    hpa = manifests["hpa.yaml"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 5)
    assert hpa["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80},
            },
        }
    ]
    off = generate(tmp_path / "off", enable_hpa=False, replicas=3)
    assert off["deployment.yaml"]["spec"]["replicas"] == 3 and "hpa.yaml" not in off


@pytest.mark.parametrize(
    ("changes", "has_pdb"),
    [
        ({}, True),
        ({"enable_hpa": False, "replicas": 1}, False),
        ({"enable_hpa": False, "replicas": 2}, True),
        ({"min_replicas": 1, "max_replicas": 1}, False),
    ],
)
def test_pdb_whenever_more_than_one_replica(tmp_path: Path, changes: dict, has_pdb: bool) -> None:
    manifests = generate(tmp_path, **changes)
    assert ("pdb.yaml" in manifests) is has_pdb
    if has_pdb:
        assert manifests["pdb.yaml"]["spec"]["maxUnavailable"] == 1


def test_service_and_ingress(tmp_path: Path) -> None:
    manifests = generate(
        tmp_path,
        service_type="NodePort",
        node_port=30080,
        enable_ingress=True,
        ingress_host="models.example.com",
        ingress_path="/v1",
        ingress_tls_secret="models-tls",
        ingress_class_name="nginx",
    )
    port = manifests["service.yaml"]["spec"]["ports"][0]
    assert port == {
        "name": "http",
        "port": 8000,
        "targetPort": "http",
        "protocol": "TCP",
        "nodePort": 30080,
    }
    spec = manifests["ingress.yaml"]["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": ["models.example.com"], "secretName": "models-tls"}]
    rule = spec["rules"][0]
    assert rule["host"] == "models.example.com"
    assert rule["http"]["paths"][0]["path"] == "/v1"
    assert rule["http"]["paths"][0]["backend"]["service"] == {
        "name": "paissive-income",
        "port": {"name": "http"},
    }


def test_pull_policy_follows_kubernetes_defaults(tmp_path: Path) -> None:
    def policy(image: str, **changes) -> str:
        return pod(generate(tmp_path / image.replace("/", "_"), image=image, **changes))[
            "containers"
        ][0]["imagePullPolicy"]

    assert policy("paissive-income:latest") == "Always"
    assert policy("paissive-income") == "Always"
    assert policy("paissive-income:1.0") == "IfNotPresent"
    assert policy("paissive-income:1.0", image_pull_policy="Never") == "Never"


def test_floating_image_tag_warns(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="not pinned"):
        generate_kubernetes_config(seed_kubernetes(), tmp_path / "a")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        generate_kubernetes_config(seed_kubernetes(image="paissive-income:0.1.0"), tmp_path / "b")
