"""RICE scores on Intercom's scales and the feature ranking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from agent_team.economics import Feature, rank_features, rice_score

features = st.builds(
    Feature,
    name=st.text(min_size=1, max_size=10),
    reach=st.floats(min_value=0, max_value=1e10),
    impact=st.sampled_from([3.0, 2.0, 1.0, 0.5, 0.25]),
    confidence=st.sampled_from([1.0, 0.8, 0.5]),
    effort=st.floats(min_value=0.1, max_value=1200),
)


@pytest.mark.parametrize(
    ("reach", "impact", "confidence", "effort", "expected"),
    [
        (2000, 2, 0.8, 4, 800),  # 2,000 × 2 (high) × 80% ÷ 4 person-months
        (500, 0.25, 0.5, 0.5, 125),  # 500 × 0.25 (minimal) × 50% ÷ 0.5
        (150, 3, 1.0, 1, 450),  # 150 × 3 (massive) × 100% ÷ 1
        (0, 3, 1.0, 1, 0),  # reaches nobody
    ],
)
def test_rice_score_matches_the_formula(reach, impact, confidence, effort, expected) -> None:
    score = rice_score(reach=reach, impact=impact, confidence=confidence, effort=effort)
    assert score == pytest.approx(expected)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("impact", 1.5),  # between two steps of the scale
        ("impact", 5),  # a 1–5 scale is not Intercom's
        ("confidence", 0.9),
        ("confidence", 80),  # percent instead of a fraction
        ("effort", 0),  # would divide by zero
        ("effort", 0.01),
    ],
)
def test_values_off_intercoms_scales_are_rejected(field, value) -> None:
    inputs = {"reach": 100, "impact": 1, "confidence": 0.8, "effort": 1} | {field: value}
    with pytest.raises(ValidationError) as error:
        rice_score(**inputs)
    assert error.value.errors()[0]["loc"] == (field,)


def test_rank_features_orders_by_score_and_keeps_ties_in_input_order() -> None:
    ranked = rank_features(
        features=[
            Feature(name="export", reach=100, impact=1, confidence=0.5, effort=1),  # 50
            Feature(name="glossary", reach=2000, impact=2, confidence=0.8, effort=4),  # 800
            Feature(name="csv", reach=50, impact=2, confidence=0.5, effort=1),  # 50
        ]
    )
    assert [(r.rank, r.name, r.score) for r in ranked] == [
        (1, "glossary", 800),
        (2, "export", 50),
        (3, "csv", 50),
    ]


def test_rank_features_accepts_plain_json_like_dicts() -> None:
    ranked = rank_features(
        features=[{"name": "a", "reach": 10, "impact": 1, "confidence": 1, "effort": 1}]
    )
    assert ranked[0].score == 10


@given(items=st.lists(features, max_size=10))
def test_ranking_is_a_sorted_permutation(items) -> None:
    ranked = rank_features(features=items)
    assert sorted(r.index for r in ranked) == list(range(len(items)))
    scores = [r.score for r in ranked]
    assert scores == sorted(scores, reverse=True)
    for first, second in zip(ranked, ranked[1:], strict=False):
        if first.score == second.score:
            assert first.index < second.index
