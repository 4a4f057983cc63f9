"""Marketing: personas and channels (whose CAC feeds the unit economics), launch and content, copy.

Three concurrent calls: audience (personas, channels with budget split and expected CAC, the
monthly budget), launch (launch plan, four-week content calendar, KPIs with targets) and copy
(landing headline and sub-head, launch email, three social posts).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from agent_team.agents.base import Line, Paragraph, Short, StageContext, Strict, one_line
from agent_team.assumptions import Assumption, Quantity

SCHEMA_VERSION = 1
BUDGET = Quantity("Marketing budget", "$ per month", 0, 1_000_000)
BUDGET_SHARE = Quantity("Share of the marketing budget", "share", 0, 1)
CHANNEL_CAC = Quantity("Expected CAC", "$ per new customer", 1, 100_000)
KPI_TARGET = Quantity("KPI target", "see KPI", 0, 1e9)


class Persona(Strict):
    """A buyer persona."""

    name: Short
    role: Short
    pains: list[Line] = Field(min_length=1, max_length=4)
    where_to_find: Line


class ChannelEstimate(Strict):
    """A marketing channel, its share of the budget and its expected cost per new customer."""

    name: Short
    budget_share: BUDGET_SHARE.estimate  # type: ignore[valid-type]
    expected_cac: CHANNEL_CAC.estimate  # type: ignore[valid-type]


class Audience(Strict):
    """The first answer: who to reach, where, and the money behind it."""

    personas: list[Persona] = Field(min_length=1, max_length=3)
    channels: list[ChannelEstimate] = Field(min_length=1, max_length=6)
    monthly_budget: BUDGET.estimate  # type: ignore[valid-type]


class CalendarItem(Strict):
    """One piece of content in the four-week calendar."""

    week: int = Field(ge=1, le=4)
    channel: Short
    topic: Line


class Kpi(Strict):
    """A KPI with its target."""

    name: Short
    unit: Short
    target: float = Field(ge=KPI_TARGET.ge, le=KPI_TARGET.le)


class Launch(Strict):
    """The second answer: the launch plan, the content calendar and the KPIs."""

    launch_plan: list[Line] = Field(min_length=3, max_length=10)
    calendar: list[CalendarItem] = Field(min_length=4, max_length=16)
    kpis: list[Kpi] = Field(min_length=2, max_length=8)


class Copy(Strict):
    """The third answer: sample copy."""

    headline: Short
    subheadline: Line
    launch_email_subject: Short
    launch_email_body: Paragraph
    social_posts: list[
        Annotated[str, BeforeValidator(one_line), Field(min_length=1, max_length=280)]
    ] = Field(min_length=3, max_length=3)


class MarketingArtifact(Strict):
    """The marketing stage's validated output."""

    kind: Literal["marketing"] = "marketing"
    version: Literal[1] = SCHEMA_VERSION
    audience: Audience
    launch: Launch
    copywriting: Copy


def run(context: StageContext, *, niche: dict, product: dict) -> MarketingArtifact:
    """Ask for the audience, the launch and the copy, concurrently."""
    context.progress("planning the marketing")
    facts = {"Chosen niche": niche, "Product": product}
    audience, launch, copy = context.map(
        lambda ask: ask(),
        [
            lambda: context.ask(
                Audience,
                "Describe 1 to 3 buyer personas, 1 to 6 marketing channels with the share of the "
                "monthly budget each gets and the expected cost to win one paying customer there "
                "(CAC, dollars), and a realistic monthly marketing budget for a solo founder.",
                facts,
            ),
            lambda: context.ask(
                Launch,
                "Write a launch plan as steps, a four-week content calendar (week 1-4, channel, "
                "topic) and 2 to 8 KPIs with numeric targets.",
                facts,
            ),
            lambda: context.ask(
                Copy,
                "Write the landing page headline and sub-headline, a launch email (subject and "
                "body) and exactly three social media posts.",
                facts,
            ),
        ],
    )
    return MarketingArtifact(audience=audience, launch=launch, copywriting=copy)


def assumptions(artifact: MarketingArtifact) -> list[Assumption]:
    """Return every number of the marketing stage as an assumption keyed ``marketing.…``."""
    audience = artifact.audience
    found = [BUDGET.from_estimate("marketing.monthly_budget", audience.monthly_budget)]
    for i, channel in enumerate(audience.channels):
        key = f"marketing.channels.{i}"
        found.append(BUDGET_SHARE.from_estimate(f"{key}.budget_share", channel.budget_share))
        found.append(CHANNEL_CAC.from_estimate(f"{key}.expected_cac", channel.expected_cac))
    for i, kpi in enumerate(artifact.launch.kpis):
        found.append(
            KPI_TARGET.proposed(f"marketing.kpis.{i}.target", kpi.target, kpi.name, "medium")
        )
    return found
