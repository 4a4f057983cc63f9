"""The plan as Markdown (``paissive-income run --out plan.md`` and the web's export)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from agent_team.plan import Plan

SHOWN_MONTHS = (1, 3, 6, 12, 24, 36)
WWW = re.compile(r"(?i)\bwww\.")
# "- x", "+ x", "1. x", "2) x", "---" or "===" at the start of a line open a list, a rule or a
# heading; "-3" and "2.5" do not (and stay as they are).
BLOCK_START = re.compile(r"^(\d*)([-+=.)])(?=\s|[-=\s]*$)")


def cell(value: object) -> str:
    """Return ``value`` as inline Markdown text: one line, with no markup, link or HTML in it."""
    text = " ".join(str(value).split())
    for char in "\\|*_`[]<>#~":
        text = text.replace(char, "\\" + char)
    # GFM links bare URLs, www. names and e-mail addresses by themselves: break each pattern.
    text = text.replace("://", "\\://").replace("@", "\\@")
    text = WWW.sub(lambda match: match.group(0)[:3] + "\\.", text)
    return BLOCK_START.sub(r"\1\\\2", text, count=1)


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines + [""]


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.0f}"


def plan_markdown(plan: Plan) -> str:
    """Return the whole plan as a Markdown document."""
    lines = [f"# Plan: {cell('; '.join(plan.brief.segments))}", ""]
    lines += _summary(plan) + _niches(plan) + _solution(plan) + _money_section(plan)
    lines += _marketing(plan) + _assumptions(plan)
    return "\n".join(lines)


def _summary(plan: Plan) -> list[str]:
    if plan.summary is None:
        return ["*The plan is not complete yet.*", ""]
    s = plan.summary
    lines = [
        "## Executive summary",
        "",
        f"**Verdict: {s.verdict.decision.upper()}** for *{cell(s.niche)}*.",
        "",
    ]
    lines += [f"- {'✓' if r.passed else '✗'} {cell(r.message)}" for r in s.verdict.reasons]
    ratio = "n/a" if s.ltv_to_cac is None else f"{s.ltv_to_cac:.1f}"
    payback = "n/a" if s.cac_payback_months is None else f"{s.cac_payback_months:.1f} months"
    lines += [
        "",
        f"- Obtainable market (SOM): {_money(s.som)} a year",
        f"- MRR at month 12 / 36 (base): {_money(s.mrr_month_12)} / {_money(s.mrr_month_36)}",
        f"- LTV:CAC {ratio}; CAC payback {payback}; break-even month "
        f"{s.break_even_month or 'not within 36 months'}",
        "",
    ]
    return lines


def _niches(plan: Plan) -> list[str]:
    rows = [
        (
            n.rank,
            n.name + (" (chosen)" if n.index == plan.chosen_niche else ""),
            f"{n.score.total:.1f}",
            _money(n.market.tam),
            _money(n.market.sam),
            _money(n.market.som),
        )
        for n in plan.niches
    ]
    lines = ["## Niches", ""] + _table(("Rank", "Niche", "Score", "TAM", "SAM", "SOM"), rows)
    chosen = next(n for n in plan.niches if n.index == plan.chosen_niche)
    lines += [f"Score breakdown of *{cell(chosen.name)}*:", ""]
    lines += _table(
        ("Factor", "Value", "Points"),
        ((f.factor, f"{f.value:g}", f"{f.points:.1f}") for f in chosen.score.factors),
    )
    return lines


def _solution(plan: Plan) -> list[str]:
    if plan.solution is None:
        return []
    s = plan.solution
    lines = ["## Solution", "", f"**{cell(s.concept['name'])}** — {cell(s.concept['one_liner'])}"]
    lines += ["", cell(s.concept["value_proposition"]), ""]
    lines += _table(
        ("Rank", "Feature", "RICE", "Effort (pm)", "MVP"),
        (
            (f.rank, f.name, f"{f.rice:,.0f}", f"{f.effort:g}", "yes" if f.in_mvp else "")
            for f in s.features
        ),
    )
    lines += _table(
        ("Layer", "Choice", "Why"), ((c["layer"], c["choice"], c["why"]) for c in s.stack)
    )
    lines += [
        f"Model tasks: {cell(', '.join(s.model_tasks))}; milestones {s.total_weeks:g} weeks:",
        "",
    ]
    lines += [f"- {cell(m['name'])} ({m['weeks']:g} weeks)" for m in s.milestones] + [""]
    return lines


def _money_section(plan: Plan) -> list[str]:
    if plan.monetization is None:
        return []
    m = plan.monetization
    lines = ["## Monetization", ""]
    lines += _table(
        ("Tier", "Price / month", "Mix", "Features"),
        (
            (t["name"], _money(t["monthly_price"]), f"{t['mix']:.0%}", ", ".join(t["features"]))
            for t in m.tiers
        ),
    )
    above = ", ".join(cell(name) for name in m.tiers_above_willingness) or "none"
    lines += [
        f"Willingness to pay: {_money(m.willingness_to_pay)} a month; "
        f"ARPA {_money(m.arpa)}; tiers priced above it: {above}.",
        "",
    ]
    scenarios = (
        ("low", m.projections.low),
        ("base", m.projections.base),
        ("high", m.projections.high),
    )
    rows = [
        (f"Month {month}", *(_money(p.months[month - 1].mrr_cents / 100) for _, p in scenarios))
        for month in SHOWN_MONTHS
        if month <= len(m.projections.base.months)
    ]
    lines += ["MRR by scenario:", ""] + _table(("", "Low", "Base", "High"), rows)
    if m.unit_economics is not None:
        u = m.unit_economics
        lines += _table(
            ("ARPA", "Gross margin", "Churn / month", "LTV", "CAC", "Break-even"),
            [
                (
                    _money(u.arpa),
                    f"{u.gross_margin:.0%}",
                    f"{u.monthly_churn:.1%}",
                    _money(u.ltv),
                    _money(u.cac),
                    m.break_even_month or "beyond 36 months",
                )
            ],
        )
    return lines


def _marketing(plan: Plan) -> list[str]:
    if plan.marketing is None:
        return []
    k = plan.marketing
    lines = ["## Marketing", ""]
    lines += [
        f"- **{cell(p['name'])}**, {cell(p['role'])}: {cell('; '.join(p['pains']))}"
        for p in k.personas
    ]
    lines += [""] + _table(
        ("Channel", "Budget / month", "CAC", "Customers / month"),
        (
            (c["name"], _money(c["monthly_budget"]), _money(c["cac"]), f"{c['new_customers']:.1f}")
            for c in k.channels
        ),
    )
    lines += ["Launch plan:", ""] + [
        f"{i}. {cell(step)}" for i, step in enumerate(k.launch_plan, 1)
    ]
    lines += [""] + _table(
        ("Week", "Channel", "Topic"), ((c["week"], c["channel"], c["topic"]) for c in k.calendar)
    )
    lines += _table(
        ("KPI", "Target", "Unit"), ((x["name"], f"{x['target']:g}", x["unit"]) for x in k.kpis)
    )
    copy = k.copy_text
    lines += [
        f"**Headline:** {cell(copy['headline'])}",
        "",
        f"**Sub-head:** {cell(copy['subheadline'])}",
        "",
    ]
    lines += [
        f"**Launch email — {cell(copy['launch_email_subject'])}**",
        "",
        cell(copy["launch_email_body"]),
        "",
    ]
    lines += [f"- {cell(post)}" for post in copy["social_posts"]] + [""]
    return lines


def _assumptions(plan: Plan) -> list[str]:
    rows = (
        (a.key, a.label, f"{a.value:g}", a.unit, a.source, a.confidence, a.rationale)
        for a in plan.assumptions
    )
    header = ("Key", "Assumption", "Value", "Unit", "Source", "Confidence", "Rationale")
    return ["## Assumptions", ""] + _table(header, rows)
