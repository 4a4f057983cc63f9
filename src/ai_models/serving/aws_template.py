"""The CloudFormation template of the AWS target: SageMaker model, endpoint, role, autoscaling.

User values reach the template as plain strings; AwsTarget.validate refuses the ones
CloudFormation would resolve ({{resolve:...}}), and values spliced into Fn::Sub are escaped.
"""

from __future__ import annotations

import re

from .aws_instances import choose_instance
from .cloud import CloudConfig
from .escapes import fn_sub_literal
from .server import SAGEMAKER_PORT, STARTUP_SECONDS

S3_URL = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/([A-Za-z0-9!_.*'()/-]+\.tar\.gz)")
SAGEMAKER_MODEL_DIR = "/opt/ml/model"
INVOCATIONS_PER_INSTANCE = 100  # target per minute for the target-tracking policy
VARIANT = "AllTraffic"


def _sub(text: str) -> dict:
    """Fn::Sub of text we wrote; every user value in it went through fn_sub_literal."""
    return {"Fn::Sub": text}


def _literal(value: str) -> str | dict:
    # CloudFormation keeps `${x}` outside Fn::Sub, but cfn-lint takes it for a forgotten Fn::Sub
    # (E1029) and an Fn::Sub without variables for a needless one (W1020): split at `$` instead.
    return {"Fn::Join": ["$", value.split("$")]} if "${" in value else value


def _environment(config: CloudConfig) -> dict[str, str | dict]:
    model_path = SAGEMAKER_MODEL_DIR if config.model_data_url else config.model_path
    server = config.server_env(SAGEMAKER_PORT, model_path)
    plain = {**server, **config.plain_env()}
    env: dict[str, str | dict] = {name: _literal(value) for name, value in plain.items()}
    for name, ref in config.secret_references().items():
        # Resolved by CloudFormation at deploy time; the template never holds the value.
        env[name] = "{{resolve:secretsmanager:" + ref + "}}"
    return env


def _role(config: CloudConfig) -> dict:
    name = fn_sub_literal(config.name)
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
                f"arn:${{AWS::Partition}}:ecr:${{AWS::Region}}:${{AWS::AccountId}}:repository/{name}"
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
                f"log-group:/aws/sagemaker/Endpoints/{name}:*"
            ),
        },
    ]
    if config.model_data_url:
        match = S3_URL.fullmatch(config.model_data_url)
        bucket, key = (fn_sub_literal(part) for part in match.groups())  # type: ignore[union-attr]
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
            f"${{AWS::AccountId}}.dkr.ecr.${{AWS::Region}}.${{AWS::URLSuffix}}/{fn_sub_literal(config.name)}:${{ImageTag}}"
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
