"""What a computed plan holds: the view models the API serves and the CLI and web render."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from agent_team import economics as eco
from agent_team.agents.base import Brief
from agent_team.assumptions import Assumption

PLAN_VERSION = 1


class NicheView(BaseModel):
    """One researched niche with its score breakdown and market size."""

    rank: int
    index: int
    name: str
    target_customer: str
    summary: str
    score: eco.NicheScore
    market: eco.MarketSize
    problems: list[dict[str, Any]]
    competitors: list[dict[str, Any]]


class FeatureView(BaseModel):
    """A feature with its RICE inputs, score, rank and whether it is in the MVP."""

    rank: int
    name: str
    description: str
    reach: float
    impact: float
    confidence: float
    effort: float
    rice: float
    in_mvp: bool


class SolutionView(BaseModel):
    """The product for the chosen niche."""

    niche_index: int
    concept: dict[str, str]
    features: list[FeatureView]
    mvp_effort: float
    stack: list[dict[str, str]]
    model_tasks: list[str]
    milestones: list[dict[str, Any]]
    total_weeks: float


class MonetizationView(BaseModel):
    """Tiers, projections and unit economics."""

    tiers: list[dict[str, Any]]
    arpa: float
    willingness_to_pay: float
    tiers_above_willingness: list[str]
    projections: eco.ScenarioProjections
    unit_economics: eco.UnitEconomics | None = None
    break_even_month: int | None = None


class MarketingView(BaseModel):
    """Personas, channels with budget split and CAC, launch, calendar, KPIs and copy."""

    personas: list[dict[str, Any]]
    channels: list[dict[str, Any]]
    monthly_budget: float
    blended_cac: float | None
    launch_plan: list[str]
    calendar: list[dict[str, Any]]
    kpis: list[dict[str, Any]]
    copy_text: dict[str, Any]


class Summary(BaseModel):
    """The headline: chosen niche, verdict with reasons and the key numbers."""

    niche: str
    verdict: eco.Verdict
    som: float
    mrr_month_12: float
    mrr_month_36: float
    ltv_to_cac: float | None
    cac_payback_months: float | None
    break_even_month: int | None


class Plan(BaseModel):
    """A whole plan as the API serves it and the CLI writes it."""

    version: int = PLAN_VERSION
    brief: Brief
    niches: list[NicheView]
    chosen_niche: int
    solution: SolutionView | None = None
    monetization: MonetizationView | None = None
    marketing: MarketingView | None = None
    summary: Summary | None = None
    assumptions: list[Assumption]
