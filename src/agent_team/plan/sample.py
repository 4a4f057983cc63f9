"""The sample plan: stored artifacts shipped with the package, computed like any run's plan.

The artifacts were made once by the test suite's scripted model
(``tests/agent_team/sample_plan_data.py``); showing them makes no model call.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files

from agent_team.agents.base import Brief
from agent_team.pipeline import load_artifacts
from agent_team.plan.compute import STAGE_ORDER, compute_plan
from agent_team.plan.views import Plan

SAMPLE_FILE = "sample_artifacts.json"


@cache
def _sample_data() -> dict:
    return json.loads(files("agent_team.plan").joinpath(SAMPLE_FILE).read_text("utf-8"))


def sample_plan() -> Plan:
    """Return the sample plan computed from the shipped artifacts (every stage present)."""
    data = _sample_data()
    artifacts = load_artifacts(data["artifacts"])
    missing = [stage for stage in STAGE_ORDER if stage not in artifacts]
    if missing:
        raise RuntimeError(f"the sample plan's artifacts no longer validate: {missing}")
    return compute_plan(brief=Brief.model_validate(data["brief"]), artifacts=artifacts)
