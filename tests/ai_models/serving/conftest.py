"""Fixtures for the ai_models.serving tests: a generated spread and a clean working folder."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

# Helpers (serving_validators, serving_spread) live beside the tests, without __init__.py.
sys.path.insert(0, str(Path(__file__).parent))

from serving_spread import generate_spread  # noqa: E402


@pytest.fixture(scope="session")
def spread_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every spread config generated once into one folder, for one validator run each."""
    root = tmp_path_factory.mktemp("spread")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings are asserted in their own tests
        generate_spread(root)
    return root


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test from an empty temporary working folder."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
