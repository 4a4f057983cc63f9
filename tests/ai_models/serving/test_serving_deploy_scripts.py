"""Run each deploy.sh end to end against stand-in `aws`, `gcloud`, `az`, `docker` and `curl`
commands that record their arguments: the scripts' flow, quoting and variables really work."""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from pathlib import Path

import pytest
import serving_validators
from serving_spread import AWS, AZURE, GCP, SECRET_ENV, seed_cloud

from ai_models.serving import generate_cloud_config

STUB = r"""#!/usr/bin/env bash
tool="$(basename "$0")"
printf '%s\n' "$tool $*" >> "$CALLS"
if [[ "$tool" == curl && "$*" == *--data-binary* ]]; then
  for arg in "$@"; do [[ "$arg" == @* ]] && cp "${arg#@}" "$CALLS.body.json"; done
fi
case "$tool $*" in
  "aws sts get-caller-identity"*) echo 123456789012 ;;
  "aws ecr describe-repositories"*) exit 1 ;;
  "gcloud config get-value project"*) echo demo-project ;;
  "gcloud auth print-access-token"*) echo token ;;
  "gcloud artifacts repositories describe"*) exit 1 ;;
  "gcloud iam service-accounts describe"*) exit 1 ;;
  "gcloud run services describe"*) echo https://paissive-income-xyz.a.run.app ;;
  "curl -fsS -X PATCH"*) echo '{"name": "projects/demo/locations/us-central1/operations/op1"}' ;;
  "curl -fsS -H"*) echo '{"done": true}' ;;
  "az acr show --name"*"--query loginServer"*) echo paissiveincome.azurecr.io ;;
  "az acr show"*) exit 1 ;;
esac
exit 0
"""


def run_script(
    tmp_path: Path, provider, env: dict[str, str] | None = None, **changes
) -> tuple[list[str], Path]:
    out = tmp_path / "project" / "deploy" / provider.value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generate_cloud_config(seed_cloud(provider, **changes), out)
    project = tmp_path / "project"
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("aws", "gcloud", "az", "docker", "curl"):
        (bin_dir / tool).write_text(STUB)
        (bin_dir / tool).chmod(0o755)
    calls = tmp_path / "calls.log"
    environment = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "CALLS": str(calls),
        "IMAGE_TAG": "v1",
    }
    result = subprocess.run(
        ["bash", str(out / "deploy.sh")],
        cwd=project,
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return calls.read_text().splitlines(), out


def test_aws_script(tmp_path: Path) -> None:
    calls, out = run_script(tmp_path, AWS)
    project = tmp_path / "project"
    image = "123456789012.dkr.ecr.us-west-2.amazonaws.com/paissive-income:v1"
    expected = [
        "aws sts get-caller-identity --query Account --output text",
        "aws ecr describe-repositories --region us-west-2 --repository-names paissive-income",
        "aws ecr create-repository --region us-west-2 --repository-name paissive-income "
        "--image-scanning-configuration scanOnPush=true --image-tag-mutability IMMUTABLE",
        "aws ecr get-login-password --region us-west-2",
        "docker login --username AWS --password-stdin 123456789012.dkr.ecr.us-west-2.amazonaws.com",
        f"docker build --platform linux/amd64 -f {out}/Dockerfile -t {image} {project}",
        f"docker push {image}",
        "aws cloudformation deploy --region us-west-2 --stack-name paissive-income "
        f"--template-file {out}/cloudformation.yaml --capabilities CAPABILITY_IAM "
        "--parameter-overrides ImageTag=v1",
        "aws cloudformation describe-stacks --region us-west-2 --stack-name paissive-income "
        "--query Stacks[0].Outputs --output table",
    ]
    # The two sides of `aws ecr get-login-password | docker login` start in either order.
    assert calls[:3] + calls[5:] == expected[:3] + expected[5:]
    assert sorted(calls[3:5]) == sorted(expected[3:5])


def test_gcp_script_deploys_the_validated_service(tmp_path: Path) -> None:
    calls, out = run_script(tmp_path, GCP, env_vars=SECRET_ENV, public=True)
    image = "us-central1-docker.pkg.dev/demo-project/paissive-income/paissive-income:v1"
    account = "paissive-income-model-sa@demo-project.iam.gserviceaccount.com"
    assert (
        f"docker build --platform linux/amd64 -f {out}/Dockerfile -t {image} {tmp_path / 'project'}"
        in calls
    )
    assert f"docker push {image}" in calls
    bindings = [c for c in calls if c.startswith("gcloud secrets add-iam-policy-binding")]
    assert [b.split()[3] for b in bindings] == [
        "paissive-income-ai-model-api-key",
        "paissive-income-hf-token",
    ]
    assert all(f"serviceAccount:{account}" in b for b in bindings)
    patch = next(c for c in calls if c.startswith("curl -fsS -X PATCH"))
    assert patch.endswith(
        "https://run.googleapis.com/v2/projects/demo-project/locations/us-central1/services/paissive-income"
        "?allowMissing=true"
    )
    assert any(
        c.startswith("gcloud run services add-iam-policy-binding paissive-income") for c in calls
    )
    body = json.loads((tmp_path / "calls.log.body.json").read_text())
    assert body["template"]["containers"][0]["image"] == image
    assert body["template"]["serviceAccount"] == account
    sent = tmp_path / "sent"
    sent.mkdir()
    (sent / "service.json").write_text(json.dumps(body))
    assert serving_validators.cloud_run(sent) == []


def test_gcp_script_without_secrets_or_public_access(tmp_path: Path) -> None:
    calls, _ = run_script(tmp_path, GCP)
    assert not [c for c in calls if "add-iam-policy-binding" in c]


def test_azure_script(tmp_path: Path) -> None:
    calls, out = run_script(
        tmp_path, AZURE, env={"AZURE_KEY_VAULT": "my-vault"}, env_vars=SECRET_ENV
    )
    assert calls[0] == "az group create --name paissive-income-rg --location eastus --output none"
    assert (
        "az acr create --name paissiveincome --resource-group paissive-income-rg --sku Basic "
        "--admin-enabled false --output none" in calls
    )
    assert (
        f"az acr build --registry paissiveincome --image paissive-income:v1 --platform linux/amd64 "
        f"--file {out}/Dockerfile {tmp_path / 'project'}"
    ) in calls
    deployment = calls[-1]
    assert deployment.startswith("az deployment group create --resource-group paissive-income-rg")
    assert "containerImage=paissiveincome.azurecr.io/paissive-income:v1" in deployment
    assert "keyVaultName=my-vault" in deployment


def test_azure_script_stops_before_building_without_its_key_vault(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="AZURE_KEY_VAULT"):
        run_script(tmp_path, AZURE, env_vars=SECRET_ENV)
    assert not (tmp_path / "calls.log").exists()


def test_scripts_refuse_to_run_outside_the_project(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generate_cloud_config(seed_cloud(AWS), tmp_path / "aws")
    result = subprocess.run(
        ["bash", str(tmp_path / "aws" / "deploy.sh")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "run this from the project root" in result.stderr
