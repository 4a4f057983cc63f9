"""A whole plan's math chained as the pipeline chains it: each output is a valid next input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agent_team.economics import (
    NicheFactors,
    Problem,
    ProjectionInputs,
    Tier,
    arpa,
    break_even_month,
    cac,
    market_size,
    project_scenarios,
    score_niche,
    unit_economics,
    verdict,
)

shares = st.floats(min_value=0, max_value=1)
# The caps themselves are drawn often: products of capped inputs are where overflow hides.
counts = st.sampled_from([0.0, 1.0, 1e10]) | st.floats(min_value=0, max_value=1e10)
money = st.sampled_from([0.0, 0.01, 1e12]) | st.floats(min_value=0, max_value=1e12)


@settings(max_examples=40, deadline=None)
@given(
    customers=counts,
    acv=money,
    reach=shares,
    win=shares,
    price=money,
    churn=shares,
    expansion=shares,
    visitors=counts,
    growth=st.floats(min_value=-1, max_value=1),
    conversion=shares,
    spend=money,
    fixed=money,
    margin=shares,
)
def test_a_plan_computes_end_to_end_for_any_valid_assumptions(
    customers,
    acv,
    reach,
    win,
    price,
    churn,
    expansion,
    visitors,
    growth,
    conversion,
    spend,
    fixed,
    margin,
) -> None:
    market = market_size(
        target_customers=customers,
        annual_contract_value=acv,
        reachable_share=reach,
        achievable_share=win,
    )
    niche = NicheFactors(
        name="n",
        problems=[Problem(name="p", importance=9, satisfaction=3)],
        som=market.som,
        competition_intensity=5,
        growth_rate=0.1,
        solo_feasibility=5,
    )
    assert 0 <= score_niche(niche=niche).total <= 100
    tier = Tier(
        name="t", monthly_price=price, mix=1.0, monthly_churn=churn, monthly_expansion=expansion
    )
    inputs = ProjectionInputs(
        tiers=[tier],
        monthly_visitors=visitors,
        visitor_growth=growth,
        signup_rate=conversion,
        free_to_paid=conversion,
    )
    base = project_scenarios(inputs=inputs).base
    last = base.months[-1]
    account = arpa(mrr=last.mrr_cents / 100, customers=last.customers)
    acquisition = cac(sales_marketing_spend=spend, new_customers=last.new_customers)
    economics = unit_economics(
        arpa=account or 0.0, gross_margin=margin, monthly_churn=churn, cac=acquisition
    )
    month = break_even_month(
        monthly_revenue=base.monthly_revenue(),
        gross_margin=margin,
        fixed_costs_per_month=fixed,
        marketing_spend_per_month=spend,
    )
    result = verdict(
        economics=economics,
        break_even_month=month,
        horizon_months=len(base.months),
        som=market.som,
        income_goal=60_000.0,
    )
    assert result.decision in {"go", "pivot", "no-go"}
