"""The plan: computed from stage artifacts and the user's overrides, with no model call."""

from agent_team.plan.compute import STAGE_ORDER, compute_plan, gather_assumptions
from agent_team.plan.views import Plan

__all__ = ["STAGE_ORDER", "Plan", "compute_plan", "gather_assumptions"]
