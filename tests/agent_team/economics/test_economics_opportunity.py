"""Ulwick opportunity, the niche score with its breakdown, and the niche ranking."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_team.economics import (
    NicheFactors,
    NicheWeights,
    Problem,
    rank_niches,
    score_niche,
    ulwick_opportunity,
)

scores_1_to_10 = st.floats(min_value=1, max_value=10)


def niche(name: str = "translators", **changes) -> NicheFactors:
    """Build the worked-example niche, with any field changed."""
    fields = {
        "name": name,
        "problems": [
            Problem(name="finding clients", importance=9, satisfaction=3),
            Problem(name="invoicing", importance=5, satisfaction=5),
        ],
        "som": 100_000.0,
        "competition_intensity": 4,
        "growth_rate": 0.10,
        "solo_feasibility": 7,
    }
    return NicheFactors(**(fields | changes))


niches = st.builds(
    NicheFactors,
    name=st.text(min_size=1, max_size=20),
    problems=st.lists(
        st.builds(
            Problem, name=st.just("p"), importance=scores_1_to_10, satisfaction=scores_1_to_10
        ),
        min_size=1,
        max_size=5,
    ),
    som=st.floats(min_value=0, max_value=1e12),
    competition_intensity=scores_1_to_10,
    growth_rate=st.floats(min_value=-1, max_value=10),
    solo_feasibility=scores_1_to_10,
)


@pytest.mark.parametrize(
    ("importance", "satisfaction", "expected"),
    [
        (9, 3, 15),  # 9 + max(9 − 3, 0) = 9 + 6
        (6, 8, 6),  # 6 + max(6 − 8, 0) = 6 + 0: over-served, importance only
        (10, 1, 19),  # the maximum: 10 + 9
        (1, 10, 1),  # the minimum
        (7.5, 7.5, 7.5),  # served exactly as much as it matters
    ],
)
def test_ulwick_opportunity_matches_the_formula(importance, satisfaction, expected) -> None:
    assert ulwick_opportunity(importance=importance, satisfaction=satisfaction) == expected


@given(importance=scores_1_to_10, satisfaction=scores_1_to_10)
def test_ulwick_opportunity_stays_within_1_and_19(importance, satisfaction) -> None:
    value = ulwick_opportunity(importance=importance, satisfaction=satisfaction)
    assert 1 <= value <= 19
    assert value >= importance


def test_niche_score_matches_the_hand_computed_breakdown() -> None:
    score = score_niche(niche=niche())
    # problem opportunity: max(9 + 6, 5 + 0) = 15 → (15 − 1) / 18 = 0.7778; × 30 = 23.33 points
    # market size: log10(100,000 / 10,000) / 3 = 1/3;                 × 25 =  8.33
    # competition: (10 − 4) / 9 = 0.6667;                              × 15 = 10.00
    # growth: (0.10 + 0.10) / 0.40 = 0.5;                              × 10 =  5.00
    # solo feasibility: (7 − 1) / 9 = 0.6667;                          × 20 = 13.33
    expected = {
        "problem_opportunity": 30 * 14 / 18,
        "market_size": 25 / 3,
        "competition": 15 * 6 / 9,
        "growth": 10 * 0.5,
        "solo_feasibility": 20 * 6 / 9,
    }
    assert score.problem_opportunity == 15
    assert {f.factor: f.points for f in score.factors} == pytest.approx(expected)
    assert score.total == pytest.approx(60.0)  # 23.33 + 8.33 + 10 + 5 + 13.33
    assert [f.value for f in score.factors] == [15, 100_000, 4, 0.10, 7]


def test_niche_weights_are_relative() -> None:
    doubled = NicheWeights(
        problem_opportunity=0.6, market_size=0.5, competition=0.3, growth=0.2, solo_feasibility=0.4
    )
    score = score_niche(niche=niche(), weights=doubled)
    assert score.total == pytest.approx(60.0)
    # 0.6 ÷ 2.0 = 0.30, 0.5 ÷ 2.0 = 0.25, …: the breakdown shows the weights that were used
    assert [f.weight for f in score.factors] == pytest.approx([0.30, 0.25, 0.15, 0.10, 0.20])
    only_market = NicheWeights(
        problem_opportunity=0, market_size=1, competition=0, growth=0, solo_feasibility=0
    )
    assert score_niche(niche=niche(), weights=only_market).total == pytest.approx(100 / 3)


@pytest.mark.parametrize(
    ("som", "expected"),
    [(0.0, 0.0), (10_000.0, 0.0), (1_000_000.0, 2 / 3), (10_000_000.0, 1.0), (1e11, 1.0)],
)
def test_market_size_factor_is_log_scaled_and_clamped(som, expected) -> None:
    factors = {f.factor: f for f in score_niche(niche=niche(som=som)).factors}
    assert factors["market_size"].normalised == pytest.approx(expected)


@pytest.mark.parametrize(("growth", "expected"), [(-1.0, 0.0), (-0.10, 0.0), (0.30, 1.0), (5, 1.0)])
def test_growth_factor_is_linear_and_clamped(growth, expected) -> None:
    factors = {f.factor: f for f in score_niche(niche=niche(growth_rate=growth)).factors}
    assert factors["growth"].normalised == pytest.approx(expected)


def test_weights_that_are_all_zero_are_rejected() -> None:
    with pytest.raises(ValueError, match="weight"):
        NicheWeights(
            problem_opportunity=0, market_size=0, competition=0, growth=0, solo_feasibility=0
        )


@given(niche=niches)
def test_niche_score_stays_within_0_and_100_and_adds_up(niche) -> None:
    score = score_niche(niche=niche)
    assert 0 <= score.total <= 100
    assert math.fsum(f.points for f in score.factors) == pytest.approx(score.total, abs=1e-9)
    assert all(0 <= f.normalised <= 1 for f in score.factors)
    assert math.fsum(f.weight for f in score.factors) == pytest.approx(1.0)


@given(niche=niches, larger=st.floats(min_value=0, max_value=1e12))
def test_a_larger_market_never_lowers_the_score(niche, larger) -> None:
    low, high = sorted([niche.som, larger])
    assert (
        score_niche(niche=niche.model_copy(update={"som": low})).total
        <= score_niche(niche=niche.model_copy(update={"som": high})).total
    )


@given(niche=niches, other=scores_1_to_10)
def test_more_competition_never_raises_the_score(niche, other) -> None:
    calm, crowded = sorted([niche.competition_intensity, other])
    assert (
        score_niche(niche=niche.model_copy(update={"competition_intensity": crowded})).total
        <= score_niche(niche=niche.model_copy(update={"competition_intensity": calm})).total
    )


def test_rank_niches_puts_the_best_first_and_keeps_ties_in_input_order() -> None:
    small = niche("small", som=20_000.0)
    big = niche("big", som=5_000_000.0)
    twin = niche("twin of small", som=20_000.0)
    ranked = rank_niches(niches=[small, big, twin])
    assert [(r.rank, r.score.name, r.index) for r in ranked] == [
        (1, "big", 1),
        (2, "small", 0),
        (3, "twin of small", 2),
    ]


def test_rank_niches_of_nothing_is_empty() -> None:
    assert rank_niches(niches=[]) == ()


@given(items=st.lists(niches, max_size=8))
def test_ranking_is_a_sorted_permutation(items) -> None:
    ranked = rank_niches(niches=items)
    assert sorted(r.index for r in ranked) == list(range(len(items)))
    assert [r.rank for r in ranked] == list(range(1, len(items) + 1))
    totals = [r.score.total for r in ranked]
    assert totals == sorted(totals, reverse=True)
    for first, second in zip(ranked, ranked[1:], strict=False):
        if first.score.total == second.score.total:
            assert first.index < second.index
