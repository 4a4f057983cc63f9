"""Bottom-up TAM, SAM and SOM."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_team.economics import market_size

counts = st.floats(min_value=0, max_value=1e10)
money = st.floats(min_value=0, max_value=1e12)
shares = st.floats(min_value=0, max_value=1)


def test_market_size_matches_the_hand_computed_case() -> None:
    size = market_size(
        target_customers=40_000,  # freelance translators in the reachable languages
        annual_contract_value=240.0,  # $20 a month
        reachable_share=0.25,
        achievable_share=0.04,
    )
    assert size.tam == 9_600_000  # 40,000 × $240
    assert size.sam == 2_400_000  # $9.6M × 25%
    assert size.som == pytest.approx(96_000)  # $2.4M × 4%


@given(customers=counts, more=counts, acv=money, reach=shares, win=shares)
def test_more_customers_never_lowers_any_market_size(customers, more, acv, reach, win) -> None:
    fewer, larger = sorted([customers, more])
    small = market_size(
        target_customers=fewer,
        annual_contract_value=acv,
        reachable_share=reach,
        achievable_share=win,
    )
    big = market_size(
        target_customers=larger,
        annual_contract_value=acv,
        reachable_share=reach,
        achievable_share=win,
    )
    assert small.tam <= big.tam
    assert small.sam <= big.sam
    assert small.som <= big.som


@given(customers=counts, acv=money, reach=shares, win=shares)
def test_som_within_sam_within_tam(customers, acv, reach, win) -> None:
    size = market_size(
        target_customers=customers,
        annual_contract_value=acv,
        reachable_share=reach,
        achievable_share=win,
    )
    assert 0 <= size.som <= size.sam <= size.tam
