"""Every test starts with no resolved secrets cached."""

from __future__ import annotations

import pytest

from paissive_income.secrets import clear_cache


@pytest.fixture(autouse=True)
def _fresh_secrets_cache():
    clear_cache()
    yield
    clear_cache()
