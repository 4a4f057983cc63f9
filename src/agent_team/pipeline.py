"""The pipeline: research → solution → monetization → marketing, resumable stage by stage.

A stage's validated output is written once to the run's ``ArtifactStore``; resume skips every
stage that has an artifact, and re-running from a stage drops the artifacts from there on. Later
stages see the chosen niche and product as computed from the earlier artifacts *with the user's
overrides*, so an override that changes the ranking changes what a re-run designs for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from agent_team.agents import marketing, monetization, research, solution
from agent_team.agents.base import RunCancelled, RunReleased, StageContext
from agent_team.plan import STAGE_ORDER, Plan, compute_plan

ARTIFACT_TYPES: dict[str, type[BaseModel]] = {
    "research": research.ResearchArtifact,
    "solution": solution.SolutionArtifact,
    "monetization": monetization.MonetizationArtifact,
    "marketing": marketing.MarketingArtifact,
}
EventSink = Callable[[str, str, dict[str, Any]], None]


class StageInputError(ValueError):
    """A stage cannot start from what the run asked for; the message names the field."""


class ArtifactStore(Protocol):
    """Where a run keeps its stage artifacts and the user's choices."""

    def artifacts(self) -> dict[str, dict]:
        """Return the stored artifacts by stage (as JSON-ready dicts)."""

    def save(self, stage: str, artifact: dict) -> None:
        """Store a stage's artifact (written once; a second write is ignored)."""

    def overrides(self) -> dict[str, float]:
        """Return the user's assumption overrides."""

    def niche_index(self) -> int | None:
        """Return the niche the user chose, or None for the best-ranked one."""


def load_artifacts(stored: Mapping[str, dict]) -> dict[str, BaseModel]:
    """Validate stored artifacts; one from an older schema version counts as missing."""
    loaded: dict[str, BaseModel] = {}
    for stage in STAGE_ORDER:
        if stage not in stored:
            break  # a later artifact without its predecessor is stale: it is re-made
        try:
            loaded[stage] = ARTIFACT_TYPES[stage].model_validate(stored[stage])
        except ValidationError:
            break
    return loaded


def run_pipeline(
    *,
    context: StageContext,
    store: ArtifactStore,
    on_event: EventSink | None = None,
) -> Plan:
    """Run every stage without an artifact, in order; return the computed plan."""
    emit = on_event or (lambda kind, stage, detail: None)
    artifacts = load_artifacts(store.artifacts())
    for stage in STAGE_ORDER:
        if stage in artifacts:
            emit("stage_skipped", stage, {})
            continue
        if context.cancelled():
            raise RunCancelled("the run was cancelled")
        if context.stopping():  # after cancelled(): a run asked to stop ends cancelled
            raise RunReleased("the worker is stopping")
        emit("stage_started", stage, {})
        artifact = _run_stage(stage, context.for_stage(stage), artifacts, store)
        store.save(stage, artifact.model_dump(mode="json"))
        artifacts[stage] = artifact
        emit("stage_finished", stage, {"tokens": context.meter.total_tokens})
    return current_plan(context.brief, artifacts, store)


def current_plan(brief, artifacts: Mapping[str, BaseModel], store: ArtifactStore) -> Plan:
    """Return the plan of the artifacts so far with the store's overrides and niche choice."""
    return compute_plan(
        brief=brief,
        artifacts=artifacts,
        overrides=store.overrides(),
        niche_index=store.niche_index(),
        strict=False,
    )


def _run_stage(stage: str, context: StageContext, artifacts, store: ArtifactStore) -> BaseModel:
    if stage == "research":
        return research.run(context)
    plan = current_plan(context.brief, artifacts, store)
    asked = store.niche_index()
    if stage == "solution" and asked is not None and plan.chosen_niche != asked:
        # The plan falls back to the best niche; designing for it unasked would pass off our
        # choice as the user's.
        raise StageInputError(
            f"niche_index: niche {asked} was asked for, but the research found "
            f"{len(plan.niches)} niches (0-{len(plan.niches) - 1}); choose one of them"
        )
    niche = niche_facts(plan)
    if stage == "solution":
        return solution.run(context, niche_index=plan.chosen_niche, niche=niche)
    if stage == "monetization":
        return monetization.run(context, niche=niche, solution=product_facts(plan))
    return marketing.run(context, niche=niche, product=product_facts(plan))


def niche_facts(plan: Plan) -> dict[str, Any]:
    """Return what later agents are told about the chosen niche."""
    niche = next(view for view in plan.niches if view.index == plan.chosen_niche)
    return {
        "name": niche.name,
        "target_customer": niche.target_customer,
        "summary": niche.summary,
        "problems": [p["problem"] for p in niche.problems],
        "competitors": [
            {"kind": c["kind"], "monthly_price_usd": round(c["monthly_price"], 2)}
            for c in niche.competitors
        ],
    }


def product_facts(plan: Plan) -> dict[str, Any]:
    """Return what later agents are told about the product (and its prices, once set)."""
    facts: dict[str, Any] = {}
    if plan.solution:
        facts["concept"] = plan.solution.concept
        facts["mvp_features"] = [f.name for f in plan.solution.features if f.in_mvp]
    if plan.monetization:
        facts["tiers"] = [
            {"name": tier["name"], "monthly_price_usd": round(tier["monthly_price"], 2)}
            for tier in plan.monetization.tiers
        ]
    return facts


class MemoryStore:
    """An ``ArtifactStore`` in memory (library use, benchmarks and tests)."""

    def __init__(self, *, overrides: Mapping[str, float] | None = None, niche: int | None = None):
        self.stored: dict[str, dict] = {}
        self.user_overrides = dict(overrides or {})
        self.chosen = niche

    def artifacts(self) -> dict[str, dict]:
        """Return the stored artifacts by stage."""
        return dict(self.stored)

    def save(self, stage: str, artifact: dict) -> None:
        """Store a stage's artifact unless one is there already."""
        self.stored.setdefault(stage, artifact)

    def overrides(self) -> dict[str, float]:
        """Return the user's overrides."""
        return dict(self.user_overrides)

    def niche_index(self) -> int | None:
        """Return the chosen niche."""
        return self.chosen
