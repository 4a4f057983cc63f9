"""The ARM template of the Azure target: identity, role assignments, environment, Container App.

ARM evaluates any string that starts with `[` and ends with `]`. Expressions we write are built
by `expr` (marked `Syntax`, user values inside them quoted by `arm_string`); every other string,
user values included, is made literal by `arm_literal` when the template is finished.
"""

from __future__ import annotations

from .azure_sizes import registry_name, workload_profile
from .cloud import CloudConfig, gib, kebab
from .escapes import Syntax, arm_literal, arm_string, escape_values
from .server import STARTUP_SECONDS

APPS_API = "2024-03-01"
IDENTITY_API = "2023-01-31"
ROLES_API = "2022-04-01"
ACR_PULL = "7f951dda-4ed3-4ab0-a9d6-8d9ecb8a1c9a"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
_ROLE_DEFINITIONS = "'Microsoft.Authorization/roleDefinitions'"
# Host names come from environment() so sovereign clouds get their own suffixes.
_VAULT_ARGS = "parameters('keyVaultName'), environment().suffixes.keyvaultDns"
_REGISTRY_ARGS = "parameters('registryName'), environment().suffixes.acrLoginServer"
_IDENTITIES = "'Microsoft.ManagedIdentity/userAssignedIdentities'"
_ENVIRONMENTS = "'Microsoft.App/managedEnvironments'"


def expr(body: str) -> Syntax:
    """An ARM expression we wrote: `[body]`, left unescaped."""
    return Syntax(f"[{body}]")


def _identity_id(config: CloudConfig) -> str:
    return f"resourceId({_IDENTITIES}, {arm_string(config.name + '-identity')})"


def _role_assignment(
    config: CloudConfig, scope_type: str, parameter: str, role: str
) -> tuple[dict, Syntax]:
    """A role for the app's identity on an existing resource, and the id to depend on."""
    identity = _identity_id(config)
    scope = f"resourceId('{scope_type}', parameters('{parameter}'))"
    name = f"guid({scope}, {identity}, '{role}')"
    assignment = {
        "type": "Microsoft.Authorization/roleAssignments",
        "apiVersion": ROLES_API,
        "scope": expr(f"format('{scope_type}/{{0}}', parameters('{parameter}'))"),
        "name": expr(name),
        "dependsOn": [expr(identity)],
        "properties": {
            "roleDefinitionId": expr(f"subscriptionResourceId({_ROLE_DEFINITIONS}, '{role}')"),
            "principalId": expr(f"reference({identity}, '{IDENTITY_API}').principalId"),
            "principalType": "ServicePrincipal",
        },
    }
    return (
        assignment,
        expr(f"extensionResourceId({scope}, 'Microsoft.Authorization/roleAssignments', {name})"),
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
    plain = {**config.server_env(config.port), **config.plain_env()}
    ready, alive = config.probe_paths
    env: list[dict] = [{"name": name, "value": value} for name, value in plain.items()]
    env += [{"name": name, "secretRef": secret} for name, secret in secret_names.items()]
    return {
        "name": "model-server",
        "image": expr("parameters('containerImage')"),
        "args": config.server_args(config.port),
        "env": env,
        "resources": {"cpu": config.cpu_count, "memory": gib(config.memory_gb)},
        "probes": [
            # Container Apps caps failureThreshold at 10, so the period carries the budget.
            _probe("Startup", ready, config.port, STARTUP_SECONDS // 10, 10),
            _probe("Readiness", ready, config.port, 10, 3),
            _probe("Liveness", alive, config.port, 20, 3),
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
        "location": expr("parameters('location')"),
        "properties": {"workloadProfiles": profiles},
    }


def _key_vault_secrets(config: CloudConfig, refs: dict[str, str], identity: str) -> list[dict]:
    # The secret name is a format() argument, never part of the format string or the URL text.
    return [
        {
            "name": kebab(env),
            "keyVaultUrl": expr(
                f"format('https://{{0}}{{1}}/secrets/{{2}}', {_VAULT_ARGS}, {arm_string(ref)})"
            ),
            "identity": identity,
        }
        for env, ref in refs.items()
    ]


def _configuration(config: CloudConfig, identity: str, secrets: list[dict]) -> dict:
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
            {"server": expr(f"format('{{0}}{{1}}', {_REGISTRY_ARGS})"), "identity": identity}
        ],
    }
    if secrets:
        configuration["secrets"] = secrets
    return configuration


def arm_template(config: CloudConfig) -> dict:
    """Build the ARM deployment template as data, every non-expression string literal."""
    profile = workload_profile(config)
    assert profile is not None  # validate() refused configs without one
    identity = expr(_identity_id(config))
    environment_id = expr(f"resourceId({_ENVIRONMENTS}, {arm_string(config.name + '-env')})")
    refs = config.secret_references()
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
            "location": expr("parameters('location')"),
        },
        acr_pull,
    ]
    depends = [environment_id, acr_pull_id]
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
    resources.append(_environment(config, profile))
    app = {
        "type": "Microsoft.App/containerApps",
        "apiVersion": APPS_API,
        "name": config.name,
        "location": expr("parameters('location')"),
        "tags": {"app": config.name, "part-of": "paissive-income"},
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity: {}}},
        "dependsOn": depends,
        "properties": {
            "managedEnvironmentId": environment_id,
            "workloadProfileName": profile[0],
            "configuration": _configuration(
                config, identity, _key_vault_secrets(config, refs, identity)
            ),
            "template": {
                "containers": [_container(config, {env: kebab(env) for env in refs})],
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
    app_id = f"resourceId('Microsoft.App/containerApps', {arm_string(config.name)})"
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": parameters,
        "resources": resources,
        "outputs": {
            "fqdn": {
                "type": "string",
                "value": expr(f"reference({app_id}, '{APPS_API}').configuration.ingress.fqdn"),
            }
        },
    }
    return escape_values(template, arm_literal)
