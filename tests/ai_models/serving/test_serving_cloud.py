"""AWS, GCP and Azure targets: the rules that bite on each platform."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from serving_files import load_json, load_yaml
from serving_spread import AWS, AZURE, GCP, SECRET_ENV, seed_cloud

from ai_models.serving import DeploymentConfigError, generate_cloud_config


def generate(tmp_path: Path, provider, **changes) -> Path:
    out = tmp_path / provider.value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generate_cloud_config(seed_cloud(provider, **changes), out)
    return out


def resources_by_type(template: dict) -> dict[str, dict]:
    return {body["Type"]: body["Properties"] for body in template["Resources"].values()}


# AWS ---------------------------------------------------------------------------------------------


def test_aws_sagemaker_endpoint_with_autoscaling(tmp_path: Path) -> None:
    template = load_yaml(generate(tmp_path, AWS) / "cloudformation.yaml")
    resources = resources_by_type(template)
    assert set(resources) == {
        "AWS::IAM::Role",
        "AWS::SageMaker::Model",
        "AWS::SageMaker::EndpointConfig",
        "AWS::SageMaker::Endpoint",
        "AWS::ApplicationAutoScaling::ScalableTarget",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
    }
    variant = resources["AWS::SageMaker::EndpointConfig"]["ProductionVariants"][0]
    assert variant["InstanceType"] == "ml.m5.large" and variant["InitialInstanceCount"] == 1
    target = resources["AWS::ApplicationAutoScaling::ScalableTarget"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 5)
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    policy = resources["AWS::ApplicationAutoScaling::ScalingPolicy"]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
    assert tracking["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    assert resources["AWS::SageMaker::Endpoint"]["EndpointName"] == "paissive-income"


def test_aws_container_follows_the_sagemaker_contract(tmp_path: Path) -> None:
    out = generate(tmp_path, AWS)
    container = resources_by_type(load_yaml(out / "cloudformation.yaml"))["AWS::SageMaker::Model"][
        "PrimaryContainer"
    ]
    env = container["Environment"]
    assert env["PORT"] == "8080"  # SageMaker mode listens on 8080
    assert env["MODEL_PATH"] == "/models/my-model" and env["MODEL_TYPE"] == "text-generation"
    assert env["LOG_LEVEL"] == "INFO"
    registry = "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}"
    assert container["Image"] == {"Fn::Sub": f"{registry}/paissive-income:${{ImageTag}}"}
    # `docker run IMAGE serve` appends `serve` to the exec-form ENTRYPOINT.
    assert 'ENTRYPOINT ["paissive-income", "models", "serve"]' in (out / "Dockerfile").read_text()


def test_aws_role_is_least_privilege(tmp_path: Path) -> None:
    role = resources_by_type(load_yaml(generate(tmp_path, AWS) / "cloudformation.yaml"))[
        "AWS::IAM::Role"
    ]
    assert "ManagedPolicyArns" not in role
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    actions = {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert actions == {
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:GetAuthorizationToken",
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogStreams",
    }
    wildcard = [s for s in statements if s["Resource"] == "*"]
    assert [s["Action"] for s in wildcard] == ["ecr:GetAuthorizationToken"]  # not resource-scopable
    assert "FullAccess" not in (tmp_path / "aws" / "cloudformation.yaml").read_text()
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "sagemaker.amazonaws.com"
    }


def test_aws_model_data_secrets_and_chosen_instance(tmp_path: Path) -> None:
    out = generate(
        tmp_path,
        AWS,
        instance_type=None,
        gpu_count=1,
        cpu_count=4,
        memory_gb=16,
        model_path=None,
        model_data_url="s3://models-bucket/llm/model.tar.gz",
        env_vars=SECRET_ENV,
    )
    resources = resources_by_type(load_yaml(out / "cloudformation.yaml"))
    assert (
        resources["AWS::SageMaker::EndpointConfig"]["ProductionVariants"][0]["InstanceType"]
        == "ml.g4dn.xlarge"
    )
    container = resources["AWS::SageMaker::Model"]["PrimaryContainer"]
    assert container["ModelDataUrl"] == "s3://models-bucket/llm/model.tar.gz"
    assert container["Environment"]["MODEL_PATH"] == "/opt/ml/model"
    assert (
        container["Environment"]["AI_MODEL_API_KEY"]
        == "{{resolve:secretsmanager:paissive-income/AI_MODEL_API_KEY}}"
    )
    assert resources["AWS::SageMaker::Model"]["EnableNetworkIsolation"] is True
    statements = resources["AWS::IAM::Role"]["Policies"][0]["PolicyDocument"]["Statement"]
    s3 = [s for s in statements if s["Action"] == "s3:GetObject"]
    assert s3[0]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::models-bucket/llm/model.tar.gz"
    }
    assert "FROM nvidia/cuda" in (out / "Dockerfile").read_text()


def test_aws_deploy_script_builds_pushes_and_deploys(tmp_path: Path) -> None:
    script = (generate(tmp_path, AWS) / "deploy.sh").read_text()
    for step in (
        "aws ecr create-repository",
        "docker login",
        "docker build",
        "docker push",
        "aws cloudformation deploy",
        "--capabilities CAPABILITY_IAM",
        "ImageTag=$image_tag",
    ):
        assert step in script
    assert script.index("docker push") < script.index("aws cloudformation deploy")


# GCP ---------------------------------------------------------------------------------------------


def test_gcp_cloud_run_service(tmp_path: Path) -> None:
    out = generate(
        tmp_path, GCP, env_vars=SECRET_ENV, secrets={"DATABASE_URL": "db-url:2"}, concurrency=8
    )
    service = load_json(out / "service.json")
    template = service["template"]
    container = template["containers"][0]
    assert template["scaling"] == {"minInstanceCount": 1, "maxInstanceCount": 5}
    assert template["maxInstanceRequestConcurrency"] == 8
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "8Gi"}
    assert container["ports"] == [{"name": "http1", "containerPort": 8000}]
    env = {e["name"]: e for e in container["env"]}
    assert "PORT" not in env  # reserved: Cloud Run sets it from containerPort
    assert env["LOG_LEVEL"] == {"name": "LOG_LEVEL", "value": "INFO"}
    assert env["AI_MODEL_API_KEY"]["valueSource"]["secretKeyRef"] == {
        "secret": "paissive-income-ai-model-api-key",
        "version": "latest",
    }
    assert env["DATABASE_URL"]["valueSource"]["secretKeyRef"] == {
        "secret": "db-url",
        "version": "2",
    }
    assert container["startupProbe"]["httpGet"] == {"path": "/readyz", "port": 8000}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 8000}
    assert "sk-not-a-real-key" not in (out / "service.json").read_text()


def test_gcp_is_private_unless_public_is_asked(tmp_path: Path) -> None:
    private = generate(tmp_path / "private", GCP)
    assert (
        "allUsers"
        not in (private / "deploy.sh").read_text().split("public=false")[1].split("if [[")[0]
    )
    assert "public=false" in (private / "deploy.sh").read_text()
    assert load_json(private / "service.json")["invokerIamDisabled"] is False
    public = generate(tmp_path / "public", GCP, public=True)
    assert "public=true" in (public / "deploy.sh").read_text()
    assert "--member allUsers --role roles/run.invoker" in (public / "deploy.sh").read_text()


def test_gcp_gpu(tmp_path: Path) -> None:
    service = load_json(
        generate(tmp_path, GCP, gpu_count=1, cpu_count=4, memory_gb=16) / "service.json"
    )
    template = service["template"]
    assert template["nodeSelector"] == {"accelerator": "nvidia-l4"}
    resources = template["containers"][0]["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == "1"
    assert resources["cpuIdle"] is False  # GPUs need instance-based billing


# Azure -------------------------------------------------------------------------------------------


def app_and_environment(out: Path) -> tuple[dict, dict]:
    template = load_json(out / "azuredeploy.json")
    by_type = {r["type"]: r for r in template["resources"]}
    return by_type["Microsoft.App/containerApps"], by_type["Microsoft.App/managedEnvironments"]


@pytest.mark.parametrize(
    ("cpu", "memory", "gpu", "profile", "profile_type"),
    [
        (0.25, 0.5, 0, "Consumption", "Consumption"),
        (1, 2, 0, "Consumption", "Consumption"),
        (4, 8, 0, "Consumption", "Consumption"),
        (2, 8, 0, "dedicated", "D4"),  # the seed: 2 CPU / 8 GiB is no Consumption pair
        (3.5, 30, 0, "dedicated", "E4"),
        (12, 48, 0, "dedicated", "D16"),
        (8, 56, 1, "gpu", "Consumption-GPU-NC8as-T4"),
    ],
)
def test_azure_picks_a_valid_workload_profile(
    tmp_path, cpu, memory, gpu, profile, profile_type
) -> None:
    app, environment = app_and_environment(
        generate(tmp_path, AZURE, cpu_count=cpu, memory_gb=memory, gpu_count=gpu)
    )
    assert app["properties"]["workloadProfileName"] == profile
    profiles = {
        p["name"]: p["workloadProfileType"] for p in environment["properties"]["workloadProfiles"]
    }
    assert profiles[profile] == profile_type
    resources = app["properties"]["template"]["containers"][0]["resources"]
    assert resources["cpu"] == cpu
    expected = f"{memory:g}Gi" if memory == int(memory) else f"{memory * 1024:g}Mi"
    assert resources["memory"] == expected


def test_azure_container_app(tmp_path: Path) -> None:
    out = generate(tmp_path, AZURE, env_vars=SECRET_ENV, concurrency=12, min_instances=0)
    app, _ = app_and_environment(out)
    properties = app["properties"]
    scale = properties["template"]["scale"]
    assert (scale["minReplicas"], scale["maxReplicas"]) == (0, 5)
    assert scale["rules"] == [
        {"name": "http-concurrency", "http": {"metadata": {"concurrentRequests": "12"}}}
    ]
    configuration = properties["configuration"]
    assert configuration["ingress"]["external"] is False  # private by default
    assert configuration["ingress"]["targetPort"] == 8000
    assert configuration["registries"][0]["identity"].startswith("[resourceId(")
    secrets = {s["name"]: s for s in configuration["secrets"]}
    assert secrets["ai-model-api-key"]["keyVaultUrl"] == (
        "[format('https://{0}{1}/secrets/{2}', parameters('keyVaultName'), "
        "environment().suffixes.keyvaultDns, 'paissive-income-ai-model-api-key')]"
    )
    container = properties["template"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["AI_MODEL_API_KEY"] == {"name": "AI_MODEL_API_KEY", "secretRef": "ai-model-api-key"}
    probes = {p["type"]: p for p in container["probes"]}
    assert (
        probes["Startup"]["httpGet"]["path"] == "/readyz"
        and probes["Startup"]["failureThreshold"] <= 10
    )
    assert probes["Liveness"]["httpGet"]["path"] == "/healthz"
    template = load_json(out / "azuredeploy.json")
    assert template["parameters"]["registryName"]["defaultValue"] == "paissiveincome"
    assert "keyVaultName" in template["parameters"]
    assert "sk-not-a-real-key" not in (out / "azuredeploy.json").read_text()
    assert "AZURE_KEY_VAULT" in (out / "deploy.sh").read_text()


def test_azure_public_is_external_ingress(tmp_path: Path) -> None:
    app, _ = app_and_environment(generate(tmp_path, AZURE, public=True))
    assert app["properties"]["configuration"]["ingress"]["external"] is True


@pytest.mark.parametrize("provider", [AWS, GCP, AZURE])
def test_every_provider_writes_the_image_it_deploys(tmp_path: Path, provider) -> None:
    out = generate(tmp_path, provider)
    assert {p.name for p in out.iterdir()} >= {"Dockerfile", "Dockerfile.dockerignore", "deploy.sh"}
    script = (out / "deploy.sh").read_text()
    assert '-f "$script_dir/Dockerfile"' in script or '--file "$script_dir/Dockerfile"' in script
    assert (out / "deploy.sh").stat().st_mode & 0o111


@pytest.mark.parametrize("provider", [GCP, AZURE])
def test_model_path_without_a_source_warns(tmp_path: Path, provider) -> None:
    with pytest.warns(UserWarning, match="bake the model into the image"):
        generate_cloud_config(seed_cloud(provider), tmp_path)


def test_aws_secrets_take_names_and_arns(tmp_path: Path) -> None:
    arn = "arn:aws:secretsmanager:us-west-2:123456789012:secret:prod/db-AbCdEf"
    out = generate(tmp_path, AWS, secrets={"DB_URL": arn, "API_TOKEN": "team/api"})
    template = load_yaml(out / "cloudformation.yaml")
    environment = template["Resources"]["Model"]["Properties"]["PrimaryContainer"]["Environment"]
    assert environment["DB_URL"] == "{{resolve:secretsmanager:" + arn + "}}"
    assert environment["API_TOKEN"] == "{{resolve:secretsmanager:team/api}}"
    for bad in ("arn:aws:s3:::bucket", "name}}", "a b"):
        with pytest.raises(DeploymentConfigError, match=r'secrets\["DB_URL"\]'):
            seed_cloud(AWS, secrets={"DB_URL": bad})


def test_gcp_reserved_names_are_reported_where_they_are() -> None:
    with pytest.raises(DeploymentConfigError) as caught:
        seed_cloud(GCP, secrets={"K_SERVICE": "s"}, env_vars={"PORT_X": "1", "CLOUD_RUN_A": "1"})
    assert [path for path, _ in caught.value.errors] == [
        'env_vars["CLOUD_RUN_A"]',
        'secrets["K_SERVICE"]',
    ]
