"""Bottom-up market size: TAM from target customers and contract value, then SAM and SOM."""

from __future__ import annotations

from .common import Count, FrozenModel, Money, Share, validated


class MarketSize(FrozenModel):
    """Total, serviceable and obtainable market, each in currency per year."""

    tam: float
    sam: float
    som: float


@validated
def market_size(
    *,
    target_customers: Count,
    annual_contract_value: Money,
    reachable_share: Share,
    achievable_share: Share,
) -> MarketSize:
    """Return bottom-up TAM, SAM and SOM for a niche.

    Formula: TAM = target customers × annual contract value (ACV); SAM = TAM × the share the
    product can reach (channel, language, geography); SOM = SAM × the share it can win in the
    plan's horizon (typically 1–5% early). Source: the standard bottom-up TAM/SAM/SOM method
    (TAM = number of accounts × ACV): count the buyers and multiply by what each pays, rather
    than take a share of a top-down industry figure.
    """
    tam = target_customers * annual_contract_value
    sam = tam * reachable_share
    return MarketSize(tam=tam, sam=sam, som=sam * achievable_share)
