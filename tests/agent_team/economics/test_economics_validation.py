"""Invalid inputs are refused with a ValidationError (a ValueError) that names the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent_team.economics import (
    Channel,
    NicheFactors,
    Problem,
    ProjectionInputs,
    Tier,
    UnitEconomics,
    arpa,
    break_even_month,
    cac,
    cac_payback_months,
    gross_margin,
    ltv,
    ltv_to_cac,
    market_size,
    project,
    ulwick_opportunity,
    unit_economics,
    verdict,
)

NAN, INF = float("nan"), float("inf")
TIER = {"name": "Solo", "monthly_price": 10.0, "mix": 1.0, "monthly_churn": 0.1}
FUNNEL = {
    "tiers": [TIER],
    "monthly_visitors": 1000.0,
    "visitor_growth": 0.0,
    "signup_rate": 0.1,
    "free_to_paid": 0.1,
}
NICHE = {
    "name": "translators",
    "problems": [{"name": "clients", "importance": 9.0, "satisfaction": 3.0}],
    "som": 1e5,
    "competition_intensity": 4.0,
    "growth_rate": 0.1,
    "solo_feasibility": 7.0,
}
ECONOMICS = unit_economics(arpa=50, gross_margin=0.8, monthly_churn=0.02, cac=400)

# (callable, valid keyword arguments, field to spoil, the spoiled values)
CASES = [
    (ulwick_opportunity, {"importance": 9.0, "satisfaction": 3.0}, "importance", [0.0, 11.0]),
    (ulwick_opportunity, {"importance": 9.0, "satisfaction": 3.0}, "satisfaction", [0.5, 10.5]),
    (Problem, {"name": "p", "importance": 5.0, "satisfaction": 5.0}, "name", ["", "x" * 201]),
    (NicheFactors, NICHE, "som", [-1.0, 1e251]),
    (NicheFactors, NICHE, "competition_intensity", [0.0, 11.0]),
    (NicheFactors, NICHE, "growth_rate", [-1.5, 11.0]),
    (NicheFactors, NICHE, "problems", [[]]),
    (
        market_size,
        {
            "target_customers": 1e4,
            "annual_contract_value": 240.0,
            "reachable_share": 0.25,
            "achievable_share": 0.04,
        },
        "reachable_share",
        [-0.1, 1.5, 25.0],  # 25 is a percent where a share is due
    ),
    (Tier, TIER, "monthly_churn", [-0.01, 1.01]),
    (Tier, TIER, "monthly_price", [-10.0]),
    (ProjectionInputs, FUNNEL, "visitor_growth", [-1.5, 2.0]),
    (ProjectionInputs, FUNNEL, "monthly_visitors", [-1.0, 1e11]),
    (ProjectionInputs, FUNNEL, "months", [0, 121, 36.5]),
    (ProjectionInputs, FUNNEL, "tiers", [[]]),
    (arpa, {"mrr": 100.0, "customers": 2.0}, "customers", [-1.0]),
    (gross_margin, {"revenue": 100.0, "cost_of_revenue": 20.0}, "cost_of_revenue", [-1.0]),
    (ltv, {"arpa": 50.0, "gross_margin": 0.8, "monthly_churn": 0.02}, "gross_margin", [80.0]),
    (ltv, {"arpa": 50.0, "gross_margin": 0.8, "monthly_churn": 0.02}, "monthly_churn", [-0.01]),
    (
        ltv,
        {"arpa": 50.0, "gross_margin": 0.8, "monthly_churn": 0.02},
        "lifetime_cap_months",
        [0.0, 1201.0],
    ),
    (cac, {"sales_marketing_spend": 1e3, "new_customers": 3.0}, "sales_marketing_spend", [-5.0]),
    (ltv_to_cac, {"ltv": 2000.0, "cac": 400.0}, "cac", [-400.0]),
    (cac_payback_months, {"cac": 400.0, "arpa": 50.0, "gross_margin": 0.8}, "arpa", [-50.0]),
    (Channel, {"name": "ads", "monthly_budget": 1e3, "cac": 100.0}, "cac", [0.0, -1.0]),
    (
        break_even_month,
        {"monthly_revenue": [1.0], "gross_margin": 0.5, "fixed_costs_per_month": 1.0},
        "fixed_costs_per_month",
        [-1.0],
    ),
    (
        verdict,
        {"economics": ECONOMICS, "break_even_month": 3, "horizon_months": 36, "som": 1e5},
        "income_goal",
        [-1.0],
    ),
    (
        verdict,
        {"economics": ECONOMICS, "break_even_month": 3, "horizon_months": 36, "som": 1e5},
        "horizon_months",
        [0, 36.0],
    ),
]
NOT_A_NUMBER = [NAN, INF, -INF, "3", True]


def spoiled(cases):
    """Yield a case per spoiled value, plus NaN, ±inf, a string, a bool, and None if required."""
    for function, valid, field, values in cases:
        numeric = not isinstance(valid.get(field), str | list)
        required = [None] if field in valid else []
        for value in values + (NOT_A_NUMBER if numeric else []) + required:
            label = f"{getattr(function, '__name__', function)}-{field}-{value!r}"[:60]
            yield pytest.param(function, valid | {field: value}, field, id=label)


@pytest.mark.parametrize(("function", "arguments", "field"), spoiled(CASES))
def test_invalid_input_names_the_field(function, arguments, field) -> None:
    with pytest.raises(ValidationError) as error:
        function(**arguments)
    assert isinstance(error.value, ValueError)
    assert field in error.value.errors()[0]["loc"]
    assert field in str(error.value)


@pytest.mark.parametrize("value", [NAN, INF, -1.0, "0.5"])
def test_a_bad_month_of_revenue_names_its_place(value) -> None:
    with pytest.raises(ValidationError) as error:
        break_even_month(monthly_revenue=[1.0, value], gross_margin=0.5, fixed_costs_per_month=1.0)
    assert error.value.errors()[0]["loc"] == ("monthly_revenue", 1)


@pytest.mark.parametrize("value", [NAN, -1.0, 2.0])
def test_a_bad_tier_names_its_place(value) -> None:
    with pytest.raises(ValidationError) as error:
        ProjectionInputs(**FUNNEL | {"tiers": [TIER, TIER | {"mix": value}]})
    assert error.value.errors()[0]["loc"] == ("tiers", 1, "mix")


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="monthly_churn_rate"):
        Tier(**TIER, monthly_churn_rate=0.1)
    with pytest.raises(ValidationError, match="months"):
        ltv(arpa=50.0, gross_margin=0.8, monthly_churn=0.02, months=3)


def test_inputs_are_keyword_only() -> None:
    with pytest.raises(ValidationError, match="keyword"):
        market_size(1e4, 240.0, 0.25, 0.04)  # type: ignore[misc]


def test_inputs_are_frozen() -> None:
    tier = Tier(**TIER)
    with pytest.raises(ValidationError):
        tier.monthly_price = 5.0  # type: ignore[misc]


def test_inputs_arrive_from_json_with_the_same_checks() -> None:
    inputs = ProjectionInputs.model_validate_json(
        '{"tiers": [{"name": "Solo", "monthly_price": 10, "mix": 1, "monthly_churn": 0.1}],'
        ' "monthly_visitors": 1000, "visitor_growth": 0, "signup_rate": 0.1, "free_to_paid": 0.1}'
    )
    assert project(inputs=inputs).months[0].mrr_cents == 10_000
    with pytest.raises(ValidationError, match="monthly_churn"):
        Tier.model_validate_json(
            '{"name": "Solo", "monthly_price": 10, "mix": 1, "monthly_churn": "0.1"}'
        )


@pytest.mark.parametrize("value", [NAN, INF])
def test_non_finite_numbers_are_named_as_such(value) -> None:
    with pytest.raises(ValidationError) as error:
        ltv(arpa=50.0, gross_margin=value, monthly_churn=0.02)
    assert error.value.errors()[0]["type"] == "finite_number"


def test_outputs_refuse_infinity_so_an_overflow_fails_loudly() -> None:
    with pytest.raises(ValidationError, match="ltv"):
        UnitEconomics(
            arpa=1.0,
            gross_margin=1.0,
            monthly_churn=0.0,
            cac=1.0,
            ltv=INF,
            ltv_to_cac=None,
            cac_payback_months=None,
        )
