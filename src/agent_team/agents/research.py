"""Niche research: candidate niches for the brief, then one assessment per niche, concurrently.

The model names 3–8 niches, then for each one estimates its customers' problems (importance and
satisfaction, 1–10), the bottom-up market inputs, competitors, growth and solo feasibility. Code
turns those estimates into assumptions; ``agent_team.plan`` scores and ranks the niches.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from agent_team.agents.base import Line, Short, StageContext, Strict
from agent_team.assumptions import Assumption, Confidence, Quantity

SCHEMA_VERSION = 1
Rating = Annotated[int, Field(ge=1, le=10)]

# Bounds keep SOM = customers × ACV × reach × capture within the economics' money range (1e12).
TARGET_CUSTOMERS = Quantity("Target customers", "accounts", 1, 1e8, integer=True)
ACV = Quantity("Annual contract value", "$ per account per year", 1, 20_000)
REACHABLE = Quantity("Reachable share (SAM ÷ TAM)", "share", 0.0001, 1)
ACHIEVABLE = Quantity("Achievable share (SOM ÷ SAM)", "share", 0.0001, 0.5)
INTENSITY = Quantity("Competition intensity", "1–10", 1, 10, integer=True)
GROWTH = Quantity("Market growth", "share per year", -0.5, 2)
FEASIBILITY = Quantity("Solo-founder feasibility", "1–10", 1, 10, integer=True)
IMPORTANCE = Quantity("Importance", "1–10", 1, 10, integer=True)
SATISFACTION = Quantity("Satisfaction today", "1–10", 1, 10, integer=True)
INCOME_GOAL = Quantity("Founder's income goal (0 = none)", "$ per year", 0, 1e8)
COMPETITOR_PRICE = Quantity("Competitor price", "$ per month", 0, 100_000)


class NicheIdea(Strict):
    """A candidate niche: who it serves and the one-line pitch."""

    name: Short
    target_customer: Line
    summary: Line


class NicheIdeas(Strict):
    """The research agent's first answer: 3–8 candidate niches."""

    niches: list[NicheIdea] = Field(min_length=3, max_length=8)
    income_goal_per_year: float | None = Field(
        None, ge=0, le=INCOME_GOAL.le, description="only if the founder's notes state one"
    )


class ProblemEstimate(Strict):
    """A problem of the target customer, rated on Ulwick's scales."""

    problem: Line
    importance: Rating
    satisfaction: Rating
    rationale: Line
    confidence: Confidence


class Competitor(Strict):
    """A kind of competitor, its price point and how it falls short."""

    kind: Short
    monthly_price: float = Field(ge=COMPETITOR_PRICE.ge, le=COMPETITOR_PRICE.le)
    weakness: Line


class NicheAssessment(Strict):
    """Everything the model estimates about one niche."""

    problems: list[ProblemEstimate] = Field(min_length=1, max_length=5)
    target_customers: TARGET_CUSTOMERS.estimate  # type: ignore[valid-type]
    annual_contract_value: ACV.estimate  # type: ignore[valid-type]
    reachable_share: REACHABLE.estimate  # type: ignore[valid-type]
    achievable_share: ACHIEVABLE.estimate  # type: ignore[valid-type]
    competitors: list[Competitor] = Field(max_length=5)
    competition_intensity: INTENSITY.estimate  # type: ignore[valid-type]
    growth_rate: GROWTH.estimate  # type: ignore[valid-type]
    solo_feasibility: FEASIBILITY.estimate  # type: ignore[valid-type]


class ResearchArtifact(Strict):
    """The research stage's validated output, stored as the run's first artifact."""

    kind: Literal["research"] = "research"
    version: Literal[1] = SCHEMA_VERSION
    ideas: list[NicheIdea]
    assessments: list[NicheAssessment]
    income_goal: float | None = None


def _stated_goal(notes: str, proposed: float | None) -> float | None:
    """Keep the model's income goal only when the notes hold a number it could come from."""
    return proposed if proposed and any(ch.isdigit() for ch in notes) else None


def run(context: StageContext) -> ResearchArtifact:
    """Propose niches for the brief, then assess every niche concurrently."""
    context.progress("proposing niches")
    answer = context.ask(
        NicheIdeas,
        "Propose 3 to 8 distinct niches inside these segments where a solo founder could sell "
        "an AI-powered product. Name each niche, its target customer and a one-line summary. "
        "If the founder's notes state a yearly income goal in dollars, give it; else null.",
    )
    ideas, goal = answer.niches, _stated_goal(context.brief.notes, answer.income_goal_per_year)
    context.progress(f"assessing {len(ideas)} niches")
    assessments = context.map(lambda idea: _assess(context, idea), ideas)
    return ResearchArtifact(ideas=ideas, assessments=assessments, income_goal=goal)


def _assess(context: StageContext, idea: NicheIdea) -> NicheAssessment:
    return context.ask(
        NicheAssessment,
        "Assess this niche for a solo founder. List the customers' main problems with their "
        "importance and today's satisfaction (1-10). Estimate the number of target customers "
        "(accounts), the annual contract value in dollars, the share of the market the founder "
        "can reach and the share they could win, competitors with monthly prices, competition "
        "intensity (1-10), yearly market growth (0.1 = 10%) and solo-founder feasibility (1-10).",
        {"Niche": idea.name, "Target customer": idea.target_customer, "Summary": idea.summary},
    )


def assumptions(artifact: ResearchArtifact) -> list[Assumption]:
    """Return every number of the research stage as an assumption keyed ``niches.<i>.…``."""
    found: list[Assumption] = [
        INCOME_GOAL.proposed("founder.income_goal", artifact.income_goal, "from the notes", "high")
        if artifact.income_goal
        else INCOME_GOAL.default(
            "founder.income_goal", 0, "the notes state no income goal; set one to check the SOM"
        )
    ]
    for i, assessment in enumerate(artifact.assessments):
        key = f"niches.{i}"
        for j, problem in enumerate(assessment.problems):
            for name, quantity in (("importance", IMPORTANCE), ("satisfaction", SATISFACTION)):
                value, why = getattr(problem, name), problem.rationale
                found.append(
                    quantity.proposed(f"{key}.problems.{j}.{name}", value, why, problem.confidence)
                )
        for field, quantity in _ESTIMATES.items():
            found.append(quantity.from_estimate(f"{key}.{field}", getattr(assessment, field)))
        for j, competitor in enumerate(assessment.competitors):
            found.append(
                COMPETITOR_PRICE.proposed(
                    f"{key}.competitors.{j}.monthly_price",
                    competitor.monthly_price,
                    f"{competitor.kind}: {competitor.weakness}"[:240],
                    "medium",
                )
            )
    return found


_ESTIMATES = {
    "target_customers": TARGET_CUSTOMERS,
    "annual_contract_value": ACV,
    "reachable_share": REACHABLE,
    "achievable_share": ACHIEVABLE,
    "competition_intensity": INTENSITY,
    "growth_rate": GROWTH,
    "solo_feasibility": FEASIBILITY,
}
