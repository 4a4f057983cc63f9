"""The Monetization tab's pure parts: MRR chart geometry, its table, the economics reading."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_team import economics as eco
from agent_team.plan.chart import (
    NARROW,
    WIDE,
    money_label,
    mrr_chart,
    mrr_series,
    mrr_table,
    nice_ticks,
)
from agent_team.plan.reading import read_unit_economics


def projections(**funnel) -> eco.ScenarioProjections:
    """Project a two-tier plan; ``funnel`` overrides the funnel and churn of the base inputs."""
    churn = funnel.pop("churn", 0.04)
    price = funnel.pop("price", 19.0)
    tiers = (
        eco.Tier(name="Solo", monthly_price=price, mix=0.7, monthly_churn=churn),
        eco.Tier(name="Team", monthly_price=price * 4, mix=0.3, monthly_churn=churn),
    )
    values = {
        "monthly_visitors": 2000.0,
        "visitor_growth": 0.08,
        "signup_rate": 0.05,
        "free_to_paid": 0.1,
        **funnel,
    }
    return eco.project_scenarios(inputs=eco.ProjectionInputs(tiers=tiers, **values))


def inside(chart) -> bool:
    box = chart.box
    return all(
        box.left <= x <= box.right and box.top <= y <= box.bottom
        for line in chart.lines
        for x, y in line.points
    )


@pytest.mark.parametrize("layout", [WIDE, NARROW])
def test_growing_mrr_draws_rising_lines_inside_the_plot(layout):
    data = projections()
    chart = mrr_chart(data, layout)
    assert [line.scenario for line in chart.lines] == ["low", "base", "high"]
    assert (chart.width, chart.height) == (layout.width, layout.height)
    assert inside(chart)
    for line, values in zip(chart.lines, mrr_series(data).values(), strict=True):
        assert len(line.points) == 36
        xs = [x for x, _ in line.points]
        assert xs == sorted(xs) and xs[0] == chart.box.left and xs[-1] == chart.box.right
        ys = [y for _, y in line.points]
        assert values == tuple(sorted(values))  # the data rise...
        assert ys == sorted(ys, reverse=True)  # ...so the line climbs (SVG y grows downwards)
    # The high scenario ends above the base, the base above the low.
    ends = {line.scenario: line.points[-1][1] for line in chart.lines}
    assert ends["high"] < ends["base"] < ends["low"]


def test_the_axis_reaches_the_highest_value_in_nice_steps():
    data = projections()
    chart = mrr_chart(data)
    top = max(max(values) for values in mrr_series(data).values())
    values = [tick.value for tick in chart.y_ticks]
    assert values[0] == 0 and values[-1] >= top and values[-2] < top
    steps = {round(b - a, 6) for a, b in zip(values, values[1:], strict=False)}
    assert len(steps) == 1
    assert chart.y_ticks[0].position == chart.box.bottom
    assert chart.y_ticks[-1].position == chart.box.top
    assert [tick.label for tick in chart.x_ticks] == ["1", "6", "12", "18", "24", "30", "36"]
    assert [tick.label for tick in mrr_chart(data, NARROW).x_ticks] == ["1", "12", "24", "36"]
    # The tallest line touches the axis' top only if it ends on a tick; it never passes it.
    assert min(y for line in chart.lines for _, y in line.points) >= chart.box.top


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        (0, (0, 0.25, 0.5, 0.75, 1)),
        (37, (0, 10, 20, 30, 40)),
        (35_135.29, (0, 10_000, 20_000, 30_000, 40_000)),
        (100, (0, 25, 50, 75, 100)),
        (float("inf"), (0, 0.25, 0.5, 0.75, 1)),
    ],
)
def test_nice_ticks(top, expected):
    assert nice_ticks(top) == pytest.approx(expected)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-2, max_value=1e300), st.integers(min_value=2, max_value=8))
def test_nice_ticks_cover_any_top_in_few_steps(top, count):
    ticks = nice_ticks(top, count)
    assert ticks[0] == 0 and ticks[-1] >= top and len(ticks) <= 2 * count + 1


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (0, "$0"),
        (2.5, "$2.5"),
        (950, "$950"),
        (1500, "$1.5k"),
        (12e6, "$12M"),
        (3.4e21, "$3.40e+21"),
    ],
)
def test_money_labels_stay_short(value, label):
    assert money_label(value) == label


@pytest.mark.parametrize(
    "funnel",
    [
        {"monthly_visitors": 0.0},  # all zero
        {"free_to_paid": 0.0, "visitor_growth": 0.0},  # all zero another way
        {"visitor_growth": 0.0, "churn": 1.0},  # every line flat: each month's customers leave
        {"monthly_visitors": 1e7, "visitor_growth": 1.0, "price": 10_000.0},  # astronomic
    ],
)
def test_degenerate_data_draws_without_dividing_by_zero(funnel):
    data = projections(**funnel)
    chart = mrr_chart(data)
    assert inside(chart)
    assert len(chart.y_ticks) >= 2 and chart.y_ticks[-1].value > 0
    assert all(line.svg_points.count(",") == 36 for line in chart.lines)
    if all(value == 0 for values in mrr_series(data).values() for value in values):
        assert {y for line in chart.lines for _, y in line.points} == {chart.box.bottom}


def test_the_table_has_the_key_months_or_every_month():
    data = projections()
    rows = mrr_table(data)
    assert [row["month"] for row in rows] == [1, 3, 6, 12, 18, 24, 30, 36]
    assert rows[-1]["base"] == data.base.months[-1].mrr_cents / 100
    assert rows[-1]["low"] < rows[-1]["base"] < rows[-1]["high"]
    assert [row["month"] for row in mrr_table(data, None)] == list(range(1, 37))


def economics(*, arpa=37.0, margin=0.85, churn=0.04, cac=85.0) -> eco.UnitEconomics:
    return eco.unit_economics(arpa=arpa, gross_margin=margin, monthly_churn=churn, cac=cac)


def texts(sentences) -> str:
    return " ".join(sentence.text for sentence in sentences)


def test_a_healthy_plan_reads_as_healthy():
    # LTV = 37 × 0.85 ÷ 0.04 = 786.25; ÷ CAC 80 = 9.83; payback = 80 ÷ (37 × 0.85) = 2.54.
    reading = read_unit_economics(economics(cac=80.0), 14)
    assert [s.tone for s in reading] == ["good"] * 4
    text = texts(reading)
    assert "Each customer brings $786 of gross profit over their lifetime" in text
    assert "25 months at 4.0% monthly churn" in text
    assert "9.8 times the $80.00 it costs to win them, above the usual bar of 3" in text
    assert "paid back in 2.5 months, within the usual 12-month target" in text
    assert "breaks even in month 14" in text


def test_no_marketing_spend_means_no_cac_to_compare():
    reading = read_unit_economics(economics(cac=None), 3)
    assert "no acquisition cost (CAC)" in reading[1].text and reading[1].tone == "neutral"
    assert "nothing to pay back" in reading[2].text


def test_ltv_below_cac_loses_money_on_every_customer():
    reading = read_unit_economics(economics(cac=2000.0), None)
    assert "0.4 times" in reading[1].text and "loses money" in reading[1].text
    assert reading[1].tone == "bad"


def test_ltv_to_cac_between_one_and_three_is_below_the_bar():
    assert "below the usual bar of 3" in read_unit_economics(economics(cac=400.0), 20)[1].text


def test_payback_beyond_the_lifetime_is_never_repaid():
    # Lifetime 1 ÷ 0.2 = 5 months; payback 200 ÷ (37 × 0.85) = 6.4 months.
    sentence = read_unit_economics(economics(churn=0.2, cac=200.0), None)[2]
    assert (
        "6.4 months" in sentence.text and "longer than they stay (about 5 months)" in sentence.text
    )
    assert sentence.tone == "bad"


def test_payback_beyond_a_year_but_within_the_lifetime_is_a_warning():
    sentence = read_unit_economics(economics(churn=0.01, cac=500.0), 30)[2]
    assert "15.9 months, beyond the usual 12-month target" in sentence.text
    assert sentence.tone == "warning"


def test_no_gross_profit_never_pays_back():
    reading = read_unit_economics(economics(margin=0.0), None)
    assert "$0.00 of gross profit" in reading[0].text and reading[0].tone == "bad"
    assert "never paid back" in reading[2].text


def test_no_break_even_within_the_horizon_says_so():
    sentence = read_unit_economics(economics(), None)[3]
    assert "does not break even within 36 months" in sentence.text and sentence.tone == "bad"


def test_zero_churn_uses_the_capped_lifetime():
    assert (
        "about 60 months at 0.0% monthly churn"
        in read_unit_economics(economics(churn=0.0), 1)[0].text
    )


def test_without_the_marketing_stage_the_reading_waits():
    (sentence,) = read_unit_economics(None, None)
    assert "wait for the marketing stage" in sentence.text
