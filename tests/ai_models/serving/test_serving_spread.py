"""Every file generated for the spread passes the target's own validator."""

from __future__ import annotations

from pathlib import Path

import pytest
import serving_validators
from serving_spread import SPREAD


@pytest.mark.parametrize("validator", sorted(serving_validators.ALL))
def test_spread_passes_validator(spread_root: Path, validator: str) -> None:
    problems = serving_validators.ALL[validator](spread_root)
    assert problems == [], "\n".join(problems)


def test_spread_covers_every_target_and_shape(spread_root: Path) -> None:
    names = set(SPREAD)
    assert {name.split("/")[0] for name in names} == {"docker", "kubernetes", "aws", "gcp", "azure"}
    generated = {p.name for p in spread_root.rglob("*") if p.is_file()}
    expected = {
        "Dockerfile",
        "docker-compose.yml",
        ".dockerignore",
        "deployment.yaml",
        "hpa.yaml",
        "pdb.yaml",
        "ingress.yaml",
        "namespace.yaml",
        "kustomization.yaml",
        "cloudformation.yaml",
        "service.json",
        "azuredeploy.json",
        "deploy.sh",
    }
    assert expected <= generated
    # GPU and CPU variants of every target are present.
    for target in ("docker", "kubernetes", "aws", "gcp", "azure"):
        assert any(name.startswith(f"{target}/") and "gpu" in name for name in names), target
