"""Compute a plan from stage artifacts and the user's overrides: pure, no model call.

Every number comes from an assumption (model, user or default) or from a formula of
``agent_team.economics`` applied to assumptions, so changing an assumption and recomputing takes
milliseconds. Sections of stages that have not run yet are None.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel

from agent_team import economics as eco
from agent_team.agents import marketing, monetization, research, solution
from agent_team.agents.base import Brief
from agent_team.assumptions import Assumption, AssumptionSet, Quantity
from agent_team.plan.views import (
    FeatureView,
    MarketingView,
    MonetizationView,
    NicheView,
    Plan,
    SolutionView,
    Summary,
)

MVP_BUDGET = Quantity("MVP effort budget", "person-months", 0.5, 24)
MVP_BUDGET_DEFAULT = 3.0
STAGE_ORDER = ("research", "solution", "monetization", "marketing")


def gather_assumptions(artifacts: Mapping[str, BaseModel]) -> AssumptionSet:
    """Return the assumptions the artifacts propose, plus the product's defaults."""
    found: list[Assumption] = list(research.assumptions(artifacts["research"]))
    if "solution" in artifacts:
        found += solution.assumptions(artifacts["solution"])
        found.append(
            MVP_BUDGET.default(
                "solution.mvp_effort_budget",
                MVP_BUDGET_DEFAULT,
                "a solo founder's first release in about one quarter",
            )
        )
    if "monetization" in artifacts:
        found += monetization.assumptions(artifacts["monetization"])
    if "marketing" in artifacts:
        found += marketing.assumptions(artifacts["marketing"])
    return AssumptionSet(found)


def compute_plan(
    *,
    brief: Brief,
    artifacts: Mapping[str, BaseModel],
    overrides: Mapping[str, float] | None = None,
    niche_index: int | None = None,
    strict: bool = True,
) -> Plan:
    """Return the plan of ``artifacts`` with ``overrides`` applied (raises ``AssumptionError``).

    Not ``strict``: overrides of assumptions the artifacts do not (or no longer) hold are kept
    aside rather than refused — the user's stored values wait for their stage to be re-made.
    """
    values = gather_assumptions(artifacts).apply(overrides or {}, strict=strict)
    niches = rank_niches(artifacts["research"], values)
    chosen = chosen_niche(niches, artifacts, niche_index)
    plan = Plan(brief=brief, niches=niches, chosen_niche=chosen, assumptions=list(values))
    if "solution" in artifacts:
        plan.solution = solution_view(artifacts["solution"], values)
    if "monetization" in artifacts:
        plan.monetization = monetization_view(artifacts["monetization"], values)
    if "marketing" in artifacts:
        plan.marketing = marketing_view(artifacts["marketing"], values)
    if plan.monetization and plan.marketing:
        _finish(plan, values)
    return plan


def chosen_niche(
    niches: list[NicheView], artifacts: Mapping[str, BaseModel], niche_index: int | None
) -> int:
    """Return the index of the niche the plan is for: as designed, as chosen, else the best."""
    if "solution" in artifacts:
        return artifacts["solution"].niche_index
    if niche_index is not None and 0 <= niche_index < len(niches):
        return niche_index
    return niches[0].index


def rank_niches(artifact: research.ResearchArtifact, values: AssumptionSet) -> list[NicheView]:
    """Score, size and rank the researched niches with the effective assumption values."""
    views = []
    for i, (idea, assessment) in enumerate(zip(artifact.ideas, artifact.assessments, strict=True)):
        views.append(_niche(i, idea, assessment, values))
    scores = eco.rank_niches(niches=[factors for factors, _ in views])
    ranked = []
    for place in scores:
        view = views[place.index][1]
        ranked.append(view.model_copy(update={"rank": place.rank, "score": place.score}))
    return ranked


def _niche(i: int, idea, assessment, values: AssumptionSet) -> tuple[eco.NicheFactors, NicheView]:
    key = f"niches.{i}"
    market = eco.market_size(
        target_customers=values.value(f"{key}.target_customers"),
        annual_contract_value=values.value(f"{key}.annual_contract_value"),
        reachable_share=values.value(f"{key}.reachable_share"),
        achievable_share=values.value(f"{key}.achievable_share"),
    )
    problems = [
        eco.Problem(
            name=problem.problem,
            importance=values.value(f"{key}.problems.{j}.importance"),
            satisfaction=values.value(f"{key}.problems.{j}.satisfaction"),
        )
        for j, problem in enumerate(assessment.problems)
    ]
    factors = eco.NicheFactors(
        name=idea.name,
        problems=tuple(problems),
        som=market.som,
        competition_intensity=values.value(f"{key}.competition_intensity"),
        growth_rate=values.value(f"{key}.growth_rate"),
        solo_feasibility=values.value(f"{key}.solo_feasibility"),
    )
    view = NicheView(
        rank=0,
        index=i,
        name=idea.name,
        target_customer=idea.target_customer,
        summary=idea.summary,
        score=eco.score_niche(niche=factors),
        market=market,
        problems=[
            {
                "problem": p.name,
                "importance": p.importance,
                "satisfaction": p.satisfaction,
                "opportunity": eco.ulwick_opportunity(
                    importance=p.importance, satisfaction=p.satisfaction
                ),
            }
            for p in problems
        ],
        competitors=[
            {
                "kind": c.kind,
                "monthly_price": values.value(f"{key}.competitors.{j}.monthly_price"),
                "weakness": c.weakness,
            }
            for j, c in enumerate(assessment.competitors)
        ],
    )
    return factors, view


def solution_view(artifact: solution.SolutionArtifact, values: AssumptionSet) -> SolutionView:
    """Rank the features by RICE and cut the MVP: best first while the effort budget lasts."""
    features = [
        eco.Feature(
            name=f.name,
            reach=values.value(f"solution.features.{i}.reach"),
            impact=values.value(f"solution.features.{i}.impact"),
            confidence=values.value(f"solution.features.{i}.confidence") / 100,
            effort=values.value(f"solution.features.{i}.effort"),
        )
        for i, f in enumerate(artifact.features)
    ]
    budget, spent, views = values.value("solution.mvp_effort_budget"), 0.0, []
    for ranked in eco.rank_features(features=features):
        feature = features[ranked.index]
        # The best feature is always in: an MVP with nothing in it is no product.
        in_mvp = not views or spent + feature.effort <= budget
        spent += feature.effort if in_mvp else 0.0
        views.append(
            FeatureView(
                rank=ranked.rank,
                name=feature.name,
                description=artifact.features[ranked.index].description,
                reach=feature.reach,
                impact=feature.impact,
                confidence=feature.confidence,
                effort=feature.effort,
                rice=ranked.score,
                in_mvp=in_mvp,
            )
        )
    milestones = [
        {"name": m.name, "weeks": values.value(f"solution.milestones.{i}.weeks")}
        for i, m in enumerate(artifact.build.milestones)
    ]
    return SolutionView(
        niche_index=artifact.niche_index,
        concept=artifact.concept.model_dump(),
        features=views,
        mvp_effort=spent,
        stack=[choice.model_dump() for choice in artifact.build.stack],
        model_tasks=list(artifact.build.model_tasks),
        milestones=milestones,
        total_weeks=sum(m["weeks"] for m in milestones),
    )


def projection_inputs(
    artifact: monetization.MonetizationArtifact, values: AssumptionSet
) -> eco.ProjectionInputs:
    """Return the projection's inputs: every tier churns at the funnel's monthly churn."""
    tiers = tuple(
        eco.Tier(
            name=tier.name,
            monthly_price=values.value(f"pricing.tiers.{i}.monthly_price"),
            mix=values.value(f"pricing.tiers.{i}.mix"),
            monthly_churn=values.value("funnel.monthly_churn"),
            monthly_expansion=values.value("funnel.monthly_expansion"),
        )
        for i, tier in enumerate(artifact.pricing.tiers)
    )
    if sum(tier.mix for tier in tiers) <= 0:
        # The mix only splits new customers; all zero means "no preference", not "no customers".
        tiers = tuple(tier.model_copy(update={"mix": 1.0}) for tier in tiers)
    return eco.ProjectionInputs(
        tiers=tiers,
        monthly_visitors=values.value("funnel.monthly_visitors"),
        visitor_growth=values.value("funnel.visitor_growth"),
        signup_rate=values.value("funnel.signup_rate"),
        free_to_paid=values.value("funnel.free_to_paid"),
    )


def monetization_view(artifact, values: AssumptionSet) -> MonetizationView:
    """Project the three scenarios; unit economics wait for the marketing stage's CAC."""
    inputs = projection_inputs(artifact, values)
    mix_total = sum(tier.mix for tier in inputs.tiers)
    arpa = sum(tier.monthly_price * tier.mix for tier in inputs.tiers) / mix_total
    wtp = values.value("pricing.willingness_to_pay")
    return MonetizationView(
        tiers=[
            {**tier.model_dump(), "features": list(artifact.pricing.tiers[i].features)}
            for i, tier in enumerate(inputs.tiers)
        ],
        arpa=arpa,
        willingness_to_pay=wtp,
        tiers_above_willingness=[tier.name for tier in inputs.tiers if tier.monthly_price > wtp],
        projections=eco.project_scenarios(inputs=inputs),
        unit_economics=None,
        break_even_month=None,
    )


def marketing_view(artifact: marketing.MarketingArtifact, values: AssumptionSet) -> MarketingView:
    """Split the budget over the channels by their shares and blend their CAC."""
    audience = artifact.audience
    budget = values.value("marketing.monthly_budget")
    shares = [
        values.value(f"marketing.channels.{i}.budget_share") for i in range(len(audience.channels))
    ]
    # Shares are relative weights; all zero means an even split, not an unspent budget.
    weights = shares if sum(shares) > 0 else [1.0] * len(shares)
    channels = [
        eco.Channel(
            name=channel.name,
            monthly_budget=budget * weight / sum(weights),
            cac=values.value(f"marketing.channels.{i}.expected_cac"),
        )
        for i, (channel, weight) in enumerate(zip(audience.channels, weights, strict=True))
    ]
    blended = eco.blended_cac(channels=channels)
    return MarketingView(
        personas=[persona.model_dump() for persona in audience.personas],
        channels=[
            {**channel.model_dump(), "new_customers": channel.monthly_budget / channel.cac}
            for channel in channels
        ],
        monthly_budget=budget,
        blended_cac=blended.cac,
        launch_plan=list(artifact.launch.launch_plan),
        calendar=[item.model_dump() for item in artifact.launch.calendar],
        kpis=[
            {**kpi.model_dump(), "target": values.value(f"marketing.kpis.{i}.target")}
            for i, kpi in enumerate(artifact.launch.kpis)
        ],
        copy_text=artifact.copywriting.model_dump(),
    )


def _finish(plan: Plan, values: AssumptionSet) -> None:
    """Compute unit economics, break-even and the verdict once both money stages have run."""
    money, market = plan.monetization, plan.marketing
    gross_margin = values.value("funnel.gross_margin")
    economics = eco.unit_economics(
        arpa=money.arpa,
        gross_margin=gross_margin,
        monthly_churn=values.value("funnel.monthly_churn"),
        cac=market.blended_cac,
    )
    base = money.projections.base
    break_even = eco.break_even_month(
        monthly_revenue=base.monthly_revenue(),
        gross_margin=gross_margin,
        fixed_costs_per_month=values.value("funnel.fixed_costs_per_month"),
        marketing_spend_per_month=market.monthly_budget,
        upfront_cost=values.value("funnel.upfront_cost"),
    )
    money.unit_economics, money.break_even_month = economics, break_even
    niche = next(view for view in plan.niches if view.index == plan.chosen_niche)
    goal = values.value("founder.income_goal")
    decision = eco.verdict(
        economics=economics,
        break_even_month=break_even,
        horizon_months=len(base.months),
        som=niche.market.som,
        income_goal=goal or None,
    )
    plan.summary = Summary(
        niche=niche.name,
        verdict=decision,
        som=niche.market.som,
        mrr_month_12=base.months[11].mrr_cents / 100,
        mrr_month_36=base.months[-1].mrr_cents / 100,
        ltv_to_cac=economics.ltv_to_cac,
        cac_payback_months=economics.cac_payback_months,
        break_even_month=break_even,
    )
