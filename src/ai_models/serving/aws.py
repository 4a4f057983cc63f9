"""AWS target: a SageMaker real-time endpoint as CloudFormation, plus build-push-deploy script."""

from __future__ import annotations

import re

from .cloud import CloudConfig, CloudTarget
from .errors import FieldError, show
from .output import OutputFile, to_yaml
from .registry import register
from .server import SAGEMAKER_PORT, STARTUP_SECONDS, server_env
from .shell import Script

_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")  # endpoint, ECR repository and stack at once
_REGION = re.compile(r"(us|eu|ap|sa|ca|me|af|il|mx)(-gov)?-[a-z]+-[0-9]")
_INSTANCE = re.compile(r"ml\.[a-z0-9]+\.([0-9]*xlarge|large|medium)")
_SECRET_ID = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
_S3_URL = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/([A-Za-z0-9!_.*'()/-]+\.tar\.gz)")
SAGEMAKER_MODEL_DIR = "/opt/ml/model"
INVOCATIONS_PER_INSTANCE = 100  # target per minute for the target-tracking policy
VARIANT = "AllTraffic"

# vCPUs, memory GiB, GPUs, GPU model: the SageMaker hosting types most used for model serving.
INSTANCES: dict[str, tuple[int, int, int, str | None]] = {
    "ml.t2.medium": (2, 4, 0, None),
    "ml.t2.large": (2, 8, 0, None),
    "ml.c5.large": (2, 4, 0, None),
    "ml.c5.xlarge": (4, 8, 0, None),
    "ml.c5.2xlarge": (8, 16, 0, None),
    "ml.c5.4xlarge": (16, 32, 0, None),
    "ml.c5.9xlarge": (36, 72, 0, None),
    "ml.c5.18xlarge": (72, 144, 0, None),
    "ml.m5.large": (2, 8, 0, None),
    "ml.m5.xlarge": (4, 16, 0, None),
    "ml.m5.2xlarge": (8, 32, 0, None),
    "ml.m5.4xlarge": (16, 64, 0, None),
    "ml.m5.12xlarge": (48, 192, 0, None),
    "ml.m5.24xlarge": (96, 384, 0, None),
    "ml.r5.large": (2, 16, 0, None),
    "ml.r5.xlarge": (4, 32, 0, None),
    "ml.r5.2xlarge": (8, 64, 0, None),
    "ml.r5.4xlarge": (16, 128, 0, None),
    "ml.g4dn.xlarge": (4, 16, 1, "nvidia-t4"),
    "ml.g4dn.2xlarge": (8, 32, 1, "nvidia-t4"),
    "ml.g4dn.4xlarge": (16, 64, 1, "nvidia-t4"),
    "ml.g4dn.12xlarge": (48, 192, 4, "nvidia-t4"),
    "ml.g5.xlarge": (4, 16, 1, "nvidia-a10g"),
    "ml.g5.2xlarge": (8, 32, 1, "nvidia-a10g"),
    "ml.g5.4xlarge": (16, 64, 1, "nvidia-a10g"),
    "ml.g5.12xlarge": (48, 192, 4, "nvidia-a10g"),
    "ml.g5.48xlarge": (192, 768, 8, "nvidia-a10g"),
    "ml.g6.xlarge": (4, 16, 1, "nvidia-l4"),
    "ml.g6.2xlarge": (8, 32, 1, "nvidia-l4"),
    "ml.g6.4xlarge": (16, 64, 1, "nvidia-l4"),
    "ml.g6.12xlarge": (48, 192, 4, "nvidia-l4"),
    "ml.g6.48xlarge": (192, 768, 8, "nvidia-l4"),
    "ml.p3.2xlarge": (8, 61, 1, "nvidia-v100"),
    "ml.p3.8xlarge": (32, 244, 4, "nvidia-v100"),
}
GPU_TYPES = sorted({gpu for *_, gpu in INSTANCES.values() if gpu})


def choose_instance(config: CloudConfig) -> str | None:
    """Return the configured instance type, or the smallest known one that fits."""
    if config.instance_type:
        return config.instance_type
    fitting = [
        (cpus, memory, name)
        for name, (cpus, memory, gpus, gpu) in INSTANCES.items()
        if cpus >= config.cpu_count
        and memory >= config.memory_gb
        and gpus >= config.gpu_count
        and (gpus == 0) == (config.gpu_count == 0)
        and config.gpu_type in (None, gpu)
    ]
    return min(fitting)[2] if fitting else None


@register
class AwsTarget(CloudTarget):
    """SageMaker endpoint with autoscaling and a least-privilege execution role."""

    name = "aws"
    fields = ("instance_type", "gpu_type", "model_data_url")

    def validate(self, config: CloudConfig) -> list[FieldError]:
        errors: list[FieldError] = []
        if len(config.name) > 63 or not _NAME.fullmatch(config.name):
            errors.append(
                (
                    "name",
                    f"{show(config.name)}: lowercase letters, digits and single '-', "
                    "starting with a letter, at most 63 (SageMaker and ECR rules)",
                )
            )
        if not _REGION.fullmatch(config.region):
            errors.append(
                ("region", f"{show(config.region)} is not an AWS region such as us-west-2")
            )
        if config.min_instances < 1:
            errors.append(("min_instances", "a SageMaker real-time endpoint needs at least 1"))
        if config.public:
            errors.append(("public", "SageMaker endpoints always require IAM-signed requests"))
        if config.gpu_type is not None and config.gpu_type not in GPU_TYPES:
            errors.append(
                ("gpu_type", f"{show(config.gpu_type)}: choose one of {', '.join(GPU_TYPES)}")
            )
        if config.model_data_url is not None:
            if not _S3_URL.fullmatch(config.model_data_url):
                errors.append(("model_data_url", "must be s3://bucket/path/model.tar.gz"))
            if config.model_path not in (None, SAGEMAKER_MODEL_DIR):
                errors.append(
                    ("model_path", f"SageMaker unpacks model_data_url into {SAGEMAKER_MODEL_DIR}")
                )
        for name, ref in config.secrets.items():
            if not _SECRET_ID.fullmatch(ref):
                errors.append(
                    (f'secrets["{name}"]', f"{show(ref)} is not a Secrets Manager name or ARN")
                )
        for name, value in config.env_vars.items():
            if len(value) > 1024:
                errors.append((f'env_vars["{name}"]', "SageMaker allows at most 1024 characters"))
        return errors + _instance_errors(config)

    def default_secret(self, config: CloudConfig, env_name: str) -> str:
        return f"{config.name}/{env_name}"

    def render(self, config: CloudConfig, output_dir: str) -> list[OutputFile]:
        template = OutputFile("cloudformation.yaml", to_yaml(cloudformation(config)))
        script = OutputFile("deploy.sh", deploy_script(config), executable=True)
        return [template, script, *self.image(config)]


def _instance_errors(config: CloudConfig) -> list[FieldError]:
    if config.instance_type is None:
        if choose_instance(config) is None:
            return [
                ("instance_type", "no known instance fits cpu_count/memory_gb/gpu_count; set one")
            ]
        return []
    if not _INSTANCE.fullmatch(config.instance_type):
        return [
            ("instance_type", f"{show(config.instance_type)} is not a type such as ml.m5.large")
        ]
    known = INSTANCES.get(config.instance_type)
    if known is None:
        return []  # a valid-looking type we have no size table for: SageMaker will judge it
    cpus, memory, gpus, gpu = known
    errors: list[FieldError] = []
    if config.cpu_count > cpus:
        errors.append(("cpu_count", f"{config.instance_type} has {cpus} vCPUs"))
    if config.memory_gb > memory:
        errors.append(("memory_gb", f"{config.instance_type} has {memory} GiB"))
    if config.gpu_count > gpus:
        errors.append(("gpu_count", f"{config.instance_type} has {gpus} GPUs"))
    if config.gpu_type is not None and config.gpu_type != gpu:
        errors.append(("gpu_type", f"{config.instance_type} has {gpu or 'no GPU'}"))
    return errors


def _sub(text: str) -> dict:
    return {"Fn::Sub": text}


def _environment(config: CloudConfig) -> dict[str, str]:
    model_path = SAGEMAKER_MODEL_DIR if config.model_data_url else config.model_path
    env = server_env(
        model_path=model_path,
        model_type=config.model_type,
        model_id=config.model_id,
        host=config.host,
        port=SAGEMAKER_PORT,
    )
    env.update(config.plain_env())
    for name, ref in config.secret_references().items():
        # Resolved by CloudFormation at deploy time; the template never holds the value.
        env[name] = "{{resolve:secretsmanager:" + ref + "}}"
    return env


def _role(config: CloudConfig) -> dict:
    statements = [
        {
            "Sid": "PullModelServerImage",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
            "Resource": _sub(
                f"arn:${{AWS::Partition}}:ecr:${{AWS::Region}}:${{AWS::AccountId}}:repository/{config.name}"
            ),
        },
        {
            "Sid": "AuthenticateToEcr",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        },
        {
            "Sid": "WriteEndpointLogs",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            "Resource": _sub(
                "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:"
                f"log-group:/aws/sagemaker/Endpoints/{config.name}:*"
            ),
        },
    ]
    if config.model_data_url:
        bucket, key = _S3_URL.fullmatch(config.model_data_url).groups()  # type: ignore[union-attr]
        statements.append(
            {
                "Sid": "ReadModelData",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": _sub(f"arn:${{AWS::Partition}}:s3:::{bucket}/{key}"),
            }
        )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
            }
        ],
    }
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": f"Execution role of SageMaker model {config.name}: image pull, logs",
            "AssumeRolePolicyDocument": trust,
            "Policies": [
                {
                    "PolicyName": "model-server",
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
                }
            ],
        },
    }


def cloudformation(config: CloudConfig) -> dict:
    """Build the CloudFormation template as data."""
    tags = [{"Key": "app", "Value": config.name}, {"Key": "part-of", "Value": "paissive-income"}]
    container: dict = {
        "Image": _sub(
            f"${{AWS::AccountId}}.dkr.ecr.${{AWS::Region}}.${{AWS::URLSuffix}}/{config.name}:${{ImageTag}}"
        ),
        "Mode": "SingleModel",
        "Environment": _environment(config),
    }
    if config.model_data_url:
        container["ModelDataUrl"] = config.model_data_url
    variant = {
        "VariantName": VARIANT,
        "ModelName": {"Fn::GetAtt": ["Model", "ModelName"]},
        "InitialInstanceCount": config.min_instances,
        "InstanceType": choose_instance(config),
        "InitialVariantWeight": 1.0,
        "ContainerStartupHealthCheckTimeoutInSeconds": STARTUP_SECONDS,
    }
    if config.model_data_url:
        variant["ModelDataDownloadTimeoutInSeconds"] = STARTUP_SECONDS
    resources = {
        "ExecutionRole": _role(config),
        "Model": {
            "Type": "AWS::SageMaker::Model",
            "Properties": {
                "ExecutionRoleArn": {"Fn::GetAtt": ["ExecutionRole", "Arn"]},
                # Network isolation unless the server must download model_id from the Hub.
                "EnableNetworkIsolation": config.model_id is None,
                "PrimaryContainer": container,
                "Tags": tags,
            },
        },
        "EndpointConfig": {
            "Type": "AWS::SageMaker::EndpointConfig",
            "Properties": {"ProductionVariants": [variant], "Tags": tags},
        },
        "Endpoint": {
            "Type": "AWS::SageMaker::Endpoint",
            "Properties": {
                "EndpointName": config.name,
                "EndpointConfigName": {"Fn::GetAtt": ["EndpointConfig", "EndpointConfigName"]},
                "Tags": tags,
            },
        },
        "ScalableTarget": {
            "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
            "Properties": {
                "ServiceNamespace": "sagemaker",
                "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                "ResourceId": _sub(f"endpoint/${{Endpoint.EndpointName}}/variant/{VARIANT}"),
                "MinCapacity": config.min_instances,
                "MaxCapacity": config.max_instances,
            },
        },
        "ScalingPolicy": {
            "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
            "Properties": {
                "PolicyName": f"{config.name}-invocations",
                "PolicyType": "TargetTrackingScaling",
                "ScalingTargetId": {"Ref": "ScalableTarget"},
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": INVOCATIONS_PER_INSTANCE,
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                    },
                    "ScaleInCooldown": 300,
                    "ScaleOutCooldown": 60,
                },
            },
        },
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"SageMaker endpoint {config.name}: pAIssive Income model server",
        "Parameters": {
            "ImageTag": {
                "Type": "String",
                "Description": f"Image tag in ECR repository {config.name} (deploy.sh pushes it)",
                "AllowedPattern": "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
            }
        },
        "Resources": resources,
        "Outputs": {
            "EndpointName": {"Value": {"Fn::GetAtt": ["Endpoint", "EndpointName"]}},
        },
    }


def deploy_script(config: CloudConfig) -> str:
    """Build, push to ECR, deploy the stack."""
    script = Script(
        f"Deploy the pAIssive Income model server {config.name} as a SageMaker endpoint.",
        "Generated by ai_models.serving. Run from the project root: bash path/to/deploy.sh",
        "Needs the AWS CLI v2 (signed in) and Docker. IMAGE_TAG overrides the image tag.",
    )
    script.assign("region", config.region).assign("stack", config.name)
    script.assign("repository", config.name)
    return script.block(_AWS_STEPS).text()


_AWS_STEPS = """
account="$(aws sts get-caller-identity --query Account --output text)"
registry="${account}.dkr.ecr.${region}.amazonaws.com"
image="${registry}/${repository}:${image_tag}"

if ! aws ecr describe-repositories --region "$region" --repository-names "$repository" \\
    >/dev/null 2>&1; then
  aws ecr create-repository --region "$region" --repository-name "$repository" \\
    --image-scanning-configuration scanOnPush=true --image-tag-mutability IMMUTABLE >/dev/null
fi
aws ecr get-login-password --region "$region" \\
  | docker login --username AWS --password-stdin "$registry"
docker build --platform linux/amd64 -f "$script_dir/Dockerfile" -t "$image" "$project_root"
docker push "$image"

aws cloudformation deploy --region "$region" --stack-name "$stack" \\
  --template-file "$script_dir/cloudformation.yaml" \\
  --capabilities CAPABILITY_IAM \\
  --parameter-overrides "ImageTag=$image_tag"
aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \\
  --query 'Stacks[0].Outputs' --output table
"""
