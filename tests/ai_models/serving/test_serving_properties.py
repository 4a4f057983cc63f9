"""Property tests: random valid configs always give files every validator accepts; random
invalid ones always raise DeploymentConfigError, never anything else.

Validators are slow to start, so each property writes all its examples into subfolders and runs
every validator once over the lot."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import serving_validators
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving_strategies import MODEL_TYPES, cloud_configs, docker_configs, junk, kubernetes_configs

from ai_models.serving import (
    CloudConfig,
    DeploymentConfigError,
    DockerConfig,
    KubernetesConfig,
    generate_cloud_config,
    generate_docker_config,
    generate_kubernetes_config,
)

EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CASES = {
    "docker": (docker_configs(), DockerConfig, generate_docker_config),
    "kubernetes": (kubernetes_configs(), KubernetesConfig, generate_kubernetes_config),
    "cloud": (cloud_configs, CloudConfig, generate_cloud_config),
}


@pytest.mark.slow
@pytest.mark.parametrize("target", sorted(CASES))
def test_random_valid_configs_pass_every_validator(tmp_path: Path, target: str) -> None:
    strategy, config_class, generate = CASES[target]
    made: dict[str, dict] = {}

    @EXAMPLES
    @given(strategy)
    def write(fields: dict) -> None:
        folder = tmp_path / "out" / f"{target}-{len(made):03d}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            generate(config_class(**fields), folder)
        made[folder.name] = fields

    write()
    assert len(made) >= 10
    problems = serving_validators.validate_all(tmp_path / "out")
    assert problems == {}, json.dumps(
        {"problems": problems, "configs": {k: repr(v) for k, v in made.items()}},
        indent=1,
        default=str,
    )[:20000]


FIELD_JUNK = {
    "docker": (docker_configs(), DockerConfig),
    "kubernetes": (kubernetes_configs(), KubernetesConfig),
    "cloud": (cloud_configs, CloudConfig),
}


@pytest.mark.parametrize("target", sorted(FIELD_JUNK))
@settings(max_examples=150, deadline=None, database=None)
@given(data=st.data())
def test_random_field_values_raise_only_deployment_config_error(target: str, data) -> None:
    strategy, config_class = FIELD_JUNK[target]
    fields = data.draw(strategy)
    field = data.draw(st.sampled_from(sorted(config_class.model_fields)))
    fields[field] = data.draw(junk)
    try:
        config = config_class(**fields)
    except DeploymentConfigError as error:
        assert error.errors and all("\n" not in line for line in error.lines())
        return
    # The junk happened to be valid for that field: it must still render without error.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        target_object = config.target if isinstance(config, CloudConfig) else None
        from ai_models.serving import get_target

        (target_object or get_target(target)).render(config, "out")


INVALID_VALUES = {
    "port": st.one_of(st.integers(max_value=0), st.integers(min_value=65536), st.text(max_size=5)),
    "env_vars": st.dictionaries(
        st.from_regex(r"[0-9][A-Z]{0,5}|[A-Z]+[ =:-][A-Z]+", fullmatch=True),
        st.text(max_size=5),
        min_size=1,
        max_size=2,
    ),
    "model_type": st.text(max_size=12).filter(lambda t: t not in MODEL_TYPES),
    "server_type": st.text(max_size=8).filter(lambda t: t not in ("rest", "vllm")),
}


@pytest.mark.parametrize("target", sorted(FIELD_JUNK))
@settings(max_examples=60, deadline=None, database=None)
@given(data=st.data())
def test_invalid_values_name_their_field(target: str, data) -> None:
    strategy, config_class = FIELD_JUNK[target]
    fields = data.draw(strategy)
    field = data.draw(st.sampled_from(sorted(INVALID_VALUES)))
    fields[field] = data.draw(INVALID_VALUES[field])
    with pytest.raises(DeploymentConfigError) as caught:
        config_class(**fields)
    assert any(path.split("[")[0] == field for path, _ in caught.value.errors), caught.value.errors


@settings(max_examples=60, deadline=None, database=None)
@given(low=st.integers(1, 50), high=st.integers(1, 50))
def test_replica_bounds_are_enforced(low: int, high: int) -> None:
    from serving_spread import seed_kubernetes

    if low <= high:
        assert seed_kubernetes(min_replicas=low, max_replicas=high).max_replicas == high
    else:
        with pytest.raises(DeploymentConfigError, match="min_replicas"):
            seed_kubernetes(min_replicas=low, max_replicas=high)
