"""AWS target: a SageMaker real-time endpoint as CloudFormation, plus build-push-deploy script."""

from __future__ import annotations

import re

from .aws_instances import GPU_TYPES, INSTANCES, choose_instance, instance_errors
from .aws_template import S3_URL, SAGEMAKER_MODEL_DIR, cloudformation
from .cloud import CloudConfig, CloudTarget
from .errors import FieldError, show
from .escapes import has_dynamic_reference
from .image_vllm import sagemaker_entrypoint, vllm_image_files
from .output import OutputFile, to_yaml
from .registry import register
from .rules import config_strings
from .server import SAGEMAKER_PORT
from .shell import Script

__all__ = ["INSTANCES", "AwsTarget", "choose_instance", "cloudformation", "deploy_script"]

_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")  # endpoint, ECR repository and stack at once
_REGION = re.compile(r"(us|eu|ap|sa|ca|me|af|il|mx)(-gov)?-[a-z]+-[0-9]")
# A secret's name, or its full ARN (the form cross-account and shared secrets need).
_SECRET_ID = re.compile(
    r"[A-Za-z0-9/_+=.@-]{1,512}"
    r"|arn:aws(-[a-z]+)*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}"
)


def _dynamic_reference_errors(config: CloudConfig) -> list[FieldError]:
    """Refuse text CloudFormation would resolve: secrets go through the `secrets` field."""
    return [
        (
            path,
            "contains a CloudFormation dynamic reference ({{resolve:...}}); name the secret "
            "in the secrets field instead, which writes the reference for you",
        )
        for path, text in config_strings(config)
        if has_dynamic_reference(text)
    ]


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
            if not S3_URL.fullmatch(config.model_data_url):
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
        return errors + instance_errors(config) + _dynamic_reference_errors(config)

    def default_secret(self, config: CloudConfig, env_name: str) -> str:
        return f"{config.name}/{env_name}"

    def render(self, config: CloudConfig, output_dir: str) -> list[OutputFile]:
        template = OutputFile("cloudformation.yaml", to_yaml(cloudformation(config)))
        script = OutputFile("deploy.sh", deploy_script(config), executable=True)
        return [template, script, *self.image(config)]

    def image(self, config: CloudConfig) -> list[OutputFile]:
        """vLLM's image answers SageMaker itself (/ping, /invocations on 8080); ours, see base."""
        if config.server_type != "vllm":
            return super().image(config)
        self.warn_model_source(config)
        model_path = SAGEMAKER_MODEL_DIR if config.model_data_url else None
        args = config.server_args(SAGEMAKER_PORT, model_path)
        return vllm_image_files(
            title=config.name,
            base=config.vllm_image,
            host=config.host,
            port=SAGEMAKER_PORT,
            entrypoint=sagemaker_entrypoint(args),
        )


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
