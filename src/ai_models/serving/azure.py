"""Azure target: Azure Container Apps as an ARM template, plus a build-and-deploy script."""

from __future__ import annotations

import re
from decimal import Decimal

from .cloud import CloudConfig, CloudTarget, gib, kebab
from .errors import FieldError, show
from .output import OutputFile, to_json
from .registry import register
from .server import HEALTH_PATH, READY_PATH, STARTUP_SECONDS, server_args, server_env
from .shell import Script

_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
_REGION = re.compile(r"[a-z]+[a-z0-9]*")
_REGISTRY = re.compile(r"[a-zA-Z0-9]{5,50}")
_VAULT_SECRET = re.compile(r"[0-9a-zA-Z-]{1,127}")
_ROLE_DEFINITIONS = "'Microsoft.Authorization/roleDefinitions'"
# Host names come from environment() so sovereign clouds get their own suffixes.
_VAULT_ARGS = "parameters('keyVaultName'), environment().suffixes.keyvaultDns"
_REGISTRY_ARGS = "parameters('registryName'), environment().suffixes.acrLoginServer"
APPS_API = "2024-03-01"
IDENTITY_API = "2023-01-31"
ROLES_API = "2022-04-01"
ACR_PULL = "7f951dda-4ed3-4ab0-a9d6-8d9ecb8a1c9a"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
CONSUMPTION_MAX_CPU = Decimal(4)
# Dedicated profiles: type -> (vCPUs, GiB); the replica must fit with room for the node's agents.
DEDICATED = {
    "D4": (4, 16),
    "D8": (8, 32),
    "D16": (16, 64),
    "D32": (32, 128),
    "E4": (4, 32),
    "E8": (8, 64),
    "E16": (16, 128),
    "E32": (32, 256),
}
# Serverless GPU profiles: gpu_type -> (profile type, vCPUs, GiB).
GPU_PROFILES = {
    "nvidia-t4": ("Consumption-GPU-NC8as-T4", 8, 56),
    "nvidia-a100": ("Consumption-GPU-NC24-A100", 24, 220),
}


def workload_profile(config: CloudConfig) -> tuple[str, str] | None:
    """Return (profile name, profile type) the app runs on, or None when nothing fits."""
    cpu, memory = Decimal(str(config.cpu_count)), Decimal(str(config.memory_gb))
    if config.gpu_count:
        profile, cpus, gib_ = GPU_PROFILES.get(config.gpu_type or "nvidia-t4", (None, 0, 0))
        return ("gpu", profile) if profile and cpu <= cpus and memory <= gib_ else None
    if cpu <= CONSUMPTION_MAX_CPU and memory == 2 * cpu:
        return ("Consumption", "Consumption")
    fitting = sorted(
        (cpus, gib_, kind)
        for kind, (cpus, gib_) in DEDICATED.items()
        if cpu < cpus and memory < gib_
    )
    return ("dedicated", fitting[0][2]) if fitting else None


def registry_name(config: CloudConfig) -> str:
    """The Azure Container Registry name: configured, or the app name without dashes."""
    if config.registry_name:
        return config.registry_name
    base = config.name.replace("-", "")
    return base if len(base) >= 5 else f"{base}acr"


@register
class AzureTarget(CloudTarget):
    """Container App with a user-assigned identity for ACR pulls and Key Vault secrets."""

    name = "azure"
    fields = ("gpu_type", "registry_name")

    def validate(self, config: CloudConfig) -> list[FieldError]:
        errors: list[FieldError] = []
        if not 2 <= len(config.name) <= 32 or not _NAME.fullmatch(config.name):
            errors.append(
                (
                    "name",
                    f"{show(config.name)}: 2-32 lowercase letters, digits and single '-', "
                    "starting with a letter (Container Apps rule)",
                )
            )
        if not _REGION.fullmatch(config.region):
            errors.append(
                ("region", f"{show(config.region)} is not an Azure region such as eastus")
            )
        if config.registry_name is not None and not _REGISTRY.fullmatch(config.registry_name):
            errors.append(
                ("registry_name", "must be 5-50 letters and digits (Container Registry rule)")
            )
        for name, ref in config.secrets.items():
            if not _VAULT_SECRET.fullmatch(ref):
                errors.append((f'secrets["{name}"]', f"{show(ref)} is not a Key Vault secret name"))
        if config.max_instances > 1000:
            errors.append(("max_instances", "Container Apps allows at most 1000 replicas"))
        return errors + _size_errors(config)

    def default_secret(self, config: CloudConfig, env_name: str) -> str:
        return f"{config.name}-{kebab(env_name)}"

    def render(self, config: CloudConfig, output_dir: str) -> list[OutputFile]:
        template = OutputFile("azuredeploy.json", to_json(arm_template(config)))
        script = OutputFile("deploy.sh", deploy_script(config), executable=True)
        return [template, script, *self.image(config)]


def _size_errors(config: CloudConfig) -> list[FieldError]:
    cpu, memory = Decimal(str(config.cpu_count)), Decimal(str(config.memory_gb))
    errors: list[FieldError] = []
    if cpu % Decimal("0.25"):
        errors.append(("cpu_count", "Container Apps takes CPU in steps of 0.25"))
    if memory % Decimal("0.5"):
        errors.append(("memory_gb", "Container Apps takes memory in steps of 0.5 GiB"))
    if config.gpu_count:
        if config.gpu_count > 1:
            errors.append(("gpu_count", "serverless GPU profiles attach 1 GPU per replica"))
        if config.gpu_type is not None and config.gpu_type not in GPU_PROFILES:
            errors.append(
                ("gpu_type", f"{show(config.gpu_type)}: choose one of {', '.join(GPU_PROFILES)}")
            )
    elif config.gpu_type is not None:
        errors.append(("gpu_type", "needs gpu_count 1"))
    if not errors and workload_profile(config) is None:
        errors.append(
            (
                "memory_gb",
                "no workload profile fits this CPU/memory; Consumption takes "
                "0.25-4 CPU with 2 GiB per CPU, Dedicated up to 32 CPU / 256 GiB",
            )
        )
    return errors


def _id(kind: str, name: str) -> str:
    return f"[resourceId('{kind}', '{name}')]"


def _role_assignment(
    config: CloudConfig, scope_type: str, parameter: str, role: str
) -> tuple[dict, str]:
    """A role for the app's identity on an existing resource, and the id to depend on."""
    identity = (
        f"resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', '{config.name}-identity')"
    )
    scope = f"resourceId('{scope_type}', parameters('{parameter}'))"
    name = f"guid({scope}, {identity}, '{role}')"
    assignment = {
        "type": "Microsoft.Authorization/roleAssignments",
        "apiVersion": ROLES_API,
        "scope": f"[format('{scope_type}/{{0}}', parameters('{parameter}'))]",
        "name": f"[{name}]",
        "dependsOn": [f"[{identity}]"],
        "properties": {
            "roleDefinitionId": f"[subscriptionResourceId({_ROLE_DEFINITIONS}, '{role}')]",
            "principalId": f"[reference({identity}, '{IDENTITY_API}').principalId]",
            "principalType": "ServicePrincipal",
        },
    }
    return (
        assignment,
        f"[extensionResourceId({scope}, 'Microsoft.Authorization/roleAssignments', {name})]",
    )


def _probe(kind: str, path: str, port: int, period: int, failures: int) -> dict:
    return {
        "type": kind,
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def _container(config: CloudConfig, secret_names: dict[str, str]) -> dict:
    env = [
        {"name": name, "value": value}
        for name, value in {
            **server_env(
                model_path=config.model_path,
                model_type=config.model_type,
                model_id=config.model_id,
                host=config.host,
                port=config.port,
            ),
            **config.plain_env(),
        }.items()
    ]
    env += [{"name": name, "secretRef": secret} for name, secret in secret_names.items()]
    return {
        "name": "model-server",
        "image": "[parameters('containerImage')]",
        "args": server_args(
            model_path=config.model_path,
            model_type=config.model_type,
            host=config.host,
            port=config.port,
        ),
        "env": env,
        "resources": {"cpu": config.cpu_count, "memory": gib(config.memory_gb)},
        "probes": [
            # Container Apps caps failureThreshold at 10, so the period carries the budget.
            _probe("Startup", READY_PATH, config.port, STARTUP_SECONDS // 10, 10),
            _probe("Readiness", READY_PATH, config.port, 10, 3),
            _probe("Liveness", HEALTH_PATH, config.port, 20, 3),
        ],
    }


def _environment(config: CloudConfig, profile: tuple[str, str]) -> dict:
    profiles = [{"name": "Consumption", "workloadProfileType": "Consumption"}]
    name, kind = profile
    if name == "dedicated":
        profiles.append(
            {
                "name": name,
                "workloadProfileType": kind,
                "minimumCount": 1 if config.min_instances else 0,
                "maximumCount": config.max_instances,
            }
        )
    elif name == "gpu":
        profiles.append({"name": name, "workloadProfileType": kind})
    return {
        "type": "Microsoft.App/managedEnvironments",
        "apiVersion": APPS_API,
        "name": f"{config.name}-env",
        "location": "[parameters('location')]",
        "properties": {"workloadProfiles": profiles},
    }


def arm_template(config: CloudConfig) -> dict:
    """Build the ARM deployment template as data."""
    profile = workload_profile(config)
    assert profile is not None  # validate() refused configs without one
    identity = _id("Microsoft.ManagedIdentity/userAssignedIdentities", f"{config.name}-identity")
    refs = config.secret_references()
    secret_names = {env: kebab(env) for env in refs}
    parameters: dict = {
        "location": {"type": "string", "defaultValue": config.region},
        "containerImage": {
            "type": "string",
            "metadata": {"description": "Image to run (deploy.sh sets it)"},
        },
        "registryName": {"type": "string", "defaultValue": registry_name(config)},
    }
    acr_pull, acr_pull_id = _role_assignment(
        config, "Microsoft.ContainerRegistry/registries", "registryName", ACR_PULL
    )
    resources: list[dict] = [
        {
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
            "apiVersion": IDENTITY_API,
            "name": f"{config.name}-identity",
            "location": "[parameters('location')]",
        },
        acr_pull,
    ]
    depends = [_id("Microsoft.App/managedEnvironments", f"{config.name}-env"), acr_pull_id]
    secrets = []
    if refs:
        parameters["keyVaultName"] = {
            "type": "string",
            "metadata": {"description": "Key Vault (same resource group) holding the secrets"},
        }
        vault_role, vault_role_id = _role_assignment(
            config, "Microsoft.KeyVault/vaults", "keyVaultName", KEY_VAULT_SECRETS_USER
        )
        resources.append(vault_role)
        depends.append(vault_role_id)
        secrets = [
            {
                "name": secret_names[env],
                "keyVaultUrl": f"[format('https://{{0}}{{1}}/secrets/{ref}', {_VAULT_ARGS})]",
                "identity": identity,
            }
            for env, ref in refs.items()
        ]
    resources.append(_environment(config, profile))
    configuration: dict = {
        "activeRevisionsMode": "Single",
        "ingress": {
            "external": config.public,
            "targetPort": config.port,
            "transport": "http",
            "allowInsecure": False,
            "traffic": [{"latestRevision": True, "weight": 100}],
        },
        "registries": [
            {
                "server": f"[format('{{0}}{{1}}', {_REGISTRY_ARGS})]",
                "identity": identity,
            }
        ],
    }
    if secrets:
        configuration["secrets"] = secrets
    app = {
        "type": "Microsoft.App/containerApps",
        "apiVersion": APPS_API,
        "name": config.name,
        "location": "[parameters('location')]",
        "tags": {"app": config.name, "part-of": "paissive-income"},
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity: {}}},
        "dependsOn": depends,
        "properties": {
            "managedEnvironmentId": _id("Microsoft.App/managedEnvironments", f"{config.name}-env"),
            "workloadProfileName": profile[0],
            "configuration": configuration,
            "template": {
                "containers": [_container(config, secret_names)],
                "scale": {
                    "minReplicas": config.min_instances,
                    "maxReplicas": config.max_instances,
                    "rules": [
                        {
                            "name": "http-concurrency",
                            "http": {"metadata": {"concurrentRequests": str(config.concurrency)}},
                        }
                    ],
                },
            },
        },
    }
    resources.append(app)
    app_id = f"resourceId('Microsoft.App/containerApps', '{config.name}')"
    fqdn = f"[reference({app_id}, '{APPS_API}').configuration.ingress.fqdn]"
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": parameters,
        "resources": resources,
        "outputs": {"fqdn": {"type": "string", "value": fqdn}},
    }


def deploy_script(config: CloudConfig) -> str:
    """Create the registry, build the image in ACR, deploy the template."""
    script = Script(
        f"Deploy the pAIssive Income model server {config.name} to Azure Container Apps.",
        "Generated by ai_models.serving. Run from the project root: bash path/to/deploy.sh",
        "Needs the Azure CLI (az login). AZURE_RESOURCE_GROUP, AZURE_REGISTRY override defaults;",
        "AZURE_KEY_VAULT names the Key Vault (same resource group) when the app has secrets.",
    )
    script.assign("location", config.region).assign("app", config.name)
    script.assign("resource_group", f"{config.name}-rg", "AZURE_RESOURCE_GROUP")
    script.assign("registry", registry_name(config), "AZURE_REGISTRY")
    script.assign("needs_key_vault", "true" if config.secret_references() else "false")
    return script.block(_AZURE_STEPS).text()


_AZURE_STEPS = """
key_vault=""
if [[ "$needs_key_vault" == true ]]; then
  key_vault="${AZURE_KEY_VAULT:?set AZURE_KEY_VAULT to the Key Vault of this app}"
fi

az group create --name "$resource_group" --location "$location" --output none
if ! az acr show --name "$registry" --resource-group "$resource_group" --output none \\
    2>/dev/null; then
  az acr create --name "$registry" --resource-group "$resource_group" --sku Basic \\
    --admin-enabled false --output none
fi
login_server="$(az acr show --name "$registry" --query loginServer --output tsv)"
az acr build --registry "$registry" --image "${app}:${image_tag}" --platform linux/amd64 \\
  --file "$script_dir/Dockerfile" "$project_root"

parameters=("containerImage=${login_server}/${app}:${image_tag}" "registryName=${registry}")
if [[ -n "$key_vault" ]]; then
  parameters+=("keyVaultName=${key_vault}")
fi
az deployment group create --resource-group "$resource_group" --name "$app" \\
  --template-file "$script_dir/azuredeploy.json" --parameters "${parameters[@]}" \\
  --query properties.outputs --output json
"""
