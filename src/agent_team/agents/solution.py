"""Solution design (the seed's "development" agent): concept, RICE-scored features, stack, plan.

Two independent calls run concurrently: the concept with its candidate features (each with
Intercom's RICE inputs), and the build (stack, the AI Models Service tasks it needs, milestones).
Code ranks the features by RICE and cuts the MVP scope (see ``agent_team.plan``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agent_team.agents.base import Line, Short, StageContext, Strict
from agent_team.assumptions import Assumption, Confidence, Quantity

SCHEMA_VERSION = 1
REACH = Quantity("Reach", "people per quarter", 1, 10_000_000, integer=True)
IMPACT = Quantity("Impact", "Intercom scale", 0.25, 3, choices=(0.25, 0.5, 1, 2, 3))
RICE_CONFIDENCE = Quantity("Confidence", "percent", 50, 100, choices=(50, 80, 100))
EFFORT = Quantity("Effort", "person-months", 0.1, 24)
MILESTONE_WEEKS = Quantity("Milestone effort", "weeks", 0.5, 26)
ModelTask = Literal["text-generation", "embeddings", "text-classification"]


class Concept(Strict):
    """The product idea for the chosen niche."""

    name: Short
    one_liner: Line
    value_proposition: Line


class FeatureEstimate(Strict):
    """A candidate feature with Intercom's RICE inputs."""

    name: Short
    description: Line
    reach: int = Field(ge=REACH.ge, le=REACH.le)
    impact: Literal[3, 2, 1, 0.5, 0.25]
    confidence: Literal[100, 80, 50]
    effort: float = Field(ge=EFFORT.ge, le=EFFORT.le)
    rationale: Line


class ConceptProposal(Strict):
    """The first answer: the concept and 3–8 candidate features."""

    concept: Concept
    features: list[FeatureEstimate] = Field(min_length=3, max_length=8)


class StackChoice(Strict):
    """One layer of the architecture and the technology chosen for it."""

    layer: Short
    choice: Short
    why: Line


class Milestone(Strict):
    """A step of the build with its effort."""

    name: Short
    weeks: float = Field(ge=MILESTONE_WEEKS.ge, le=MILESTONE_WEEKS.le)
    confidence: Confidence


class BuildProposal(Strict):
    """The second answer: architecture, model tasks and milestones."""

    stack: list[StackChoice] = Field(min_length=2, max_length=8)
    model_tasks: list[ModelTask] = Field(min_length=1, max_length=3)
    milestones: list[Milestone] = Field(min_length=2, max_length=8)


class SolutionArtifact(Strict):
    """The solution stage's validated output; ``niche_index`` is the niche it was designed for."""

    kind: Literal["solution"] = "solution"
    version: Literal[1] = SCHEMA_VERSION
    niche_index: int = Field(ge=0)
    concept: Concept
    features: list[FeatureEstimate]
    build: BuildProposal


def run(context: StageContext, *, niche_index: int, niche: dict) -> SolutionArtifact:
    """Design the product for the chosen niche (concept and build asked concurrently)."""
    context.progress(f"designing a product for {niche['name']}")
    concept, build = context.map(
        lambda ask: ask(),
        [lambda: _concept(context, niche), lambda: _build(context, niche)],
    )
    return SolutionArtifact(
        niche_index=niche_index, concept=concept.concept, features=concept.features, build=build
    )


def _concept(context: StageContext, niche: dict) -> ConceptProposal:
    return context.ask(
        ConceptProposal,
        "Design an AI-powered product a solo founder can sell to this niche: name, one-liner and "
        "value proposition, then 3 to 8 features. For each feature give its reach (people per "
        "quarter), impact (3 massive, 2 high, 1 medium, 0.5 low, 0.25 minimal), confidence "
        "(100, 80 or 50 percent) and effort in person-months.",
        {"Chosen niche": niche},
    )


def _build(context: StageContext, niche: dict) -> BuildProposal:
    return context.ask(
        BuildProposal,
        "Plan how a solo founder builds this product: the architecture and stack layer by layer, "
        "which AI model tasks it needs (text-generation, embeddings, text-classification), and "
        "2 to 8 milestones with their effort in weeks.",
        {"Chosen niche": niche},
    )


def assumptions(artifact: SolutionArtifact) -> list[Assumption]:
    """Return every number of the solution stage as an assumption keyed ``solution.…``."""
    found: list[Assumption] = []
    for i, feature in enumerate(artifact.features):
        key = f"solution.features.{i}"
        why, confidence = feature.rationale, "medium"
        found += [
            REACH.proposed(f"{key}.reach", feature.reach, why, confidence),
            IMPACT.proposed(f"{key}.impact", feature.impact, why, confidence),
            RICE_CONFIDENCE.proposed(f"{key}.confidence", feature.confidence, why, confidence),
            EFFORT.proposed(f"{key}.effort", feature.effort, why, confidence),
        ]
    for i, milestone in enumerate(artifact.build.milestones):
        found.append(
            MILESTONE_WEEKS.proposed(
                f"solution.milestones.{i}.weeks",
                milestone.weeks,
                milestone.name,
                milestone.confidence,
            )
        )
    return found
