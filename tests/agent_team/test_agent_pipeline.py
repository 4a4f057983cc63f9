"""The whole pipeline against a scripted model: content, resume, cancel, overrides, bad output."""

from __future__ import annotations

import json
import time

import pytest
from scripted_model import ScriptedModel

from agent_team.agents.base import Brief, RunCancelled, StageContext
from agent_team.assumptions import AssumptionError
from agent_team.llm import StructuredCaller, StructuredOutputError, UsageMeter
from agent_team.pipeline import MemoryStore, load_artifacts, run_pipeline
from agent_team.plan import compute_plan
from paissive_income.cache import DiskCache

BRIEF = Brief(segments=("freelance translators",), notes="I want 60k a year from this.")


def _context(model: ScriptedModel, *, cache=None, cancelled=lambda: False) -> StageContext:
    return StageContext(
        brief=BRIEF,
        model="scripted",
        caller=StructuredCaller(model.client(), cache=cache),
        meter=UsageMeter(),
        cancelled=cancelled,
    )


def test_full_plan_from_a_scripted_model():
    model = ScriptedModel()
    events = []
    plan = run_pipeline(
        context=_context(model),
        store=MemoryStore(),
        on_event=lambda kind, stage, detail: events.append((kind, stage)),
    )
    # One ideas call + one assessment per niche, 2 solution calls, 2 money calls, 3 marketing.
    assert model.calls() == 1 + 4 + 2 + 2 + 3
    assert [e for e in events if e[0] == "stage_finished"] == [
        ("stage_finished", s) for s in ("research", "solution", "monetization", "marketing")
    ]
    ranks = [niche.rank for niche in plan.niches]
    assert ranks == [1, 2, 3, 4]
    totals = [niche.score.total for niche in plan.niches]
    assert totals == sorted(totals, reverse=True)
    assert plan.chosen_niche == plan.niches[0].index  # the best niche by default
    # Market size: TAM = customers × ACV, SAM = TAM × 0.3, SOM = SAM × achievable share.
    best = plan.niches[0]
    values = {a.key: a.value for a in plan.assumptions}
    key = f"niches.{best.index}"
    tam = values[f"{key}.target_customers"] * values[f"{key}.annual_contract_value"]
    assert best.market.tam == pytest.approx(tam)
    assert best.market.som == pytest.approx(tam * 0.3 * values[f"{key}.achievable_share"])
    # RICE: Term checker 800 × 2 × 0.8 / 1 = 1280 ranks first; the MVP fits 3 person-months.
    features = plan.solution.features
    assert (features[0].name, features[0].rice) == ("Term checker", pytest.approx(1280))
    assert sum(f.effort for f in features if f.in_mvp) <= 3
    assert plan.monetization.arpa == pytest.approx(19 * 0.7 + 79 * 0.3)
    # Blended CAC: $300 buys 2.5 on LinkedIn, $200 buys 3.33 via content → $500 / 5.833.
    assert plan.marketing.blended_cac == pytest.approx(500 / (300 / 120 + 200 / 60))
    summary = plan.summary
    assert summary.verdict.decision in {"go", "pivot", "no-go"}
    assert {r.metric for r in summary.verdict.reasons} >= {"ltv_to_cac", "cac_payback_months"}
    assert values["founder.income_goal"] == 60000
    months = plan.monetization.projections.base.months
    assert len(months) == 36 and summary.mrr_month_36 == months[-1].mrr_cents / 100
    json.loads(plan.model_dump_json())  # serialisable for the API


def test_override_recomputes_without_a_model_call():
    model = ScriptedModel()
    store = MemoryStore()
    plan = run_pipeline(context=_context(model), store=store)
    calls = model.calls()
    artifacts = load_artifacts(store.artifacts())
    started = time.perf_counter()
    cheaper = compute_plan(
        brief=BRIEF, artifacts=artifacts, overrides={"funnel.monthly_churn": 0.2}
    )
    assert time.perf_counter() - started < 1  # milliseconds in practice; generous for CI
    assert model.calls() == calls
    assert cheaper.monetization.unit_economics.ltv < plan.monetization.unit_economics.ltv
    churn = next(a for a in cheaper.assumptions if a.key == "funnel.monthly_churn")
    assert (churn.source, churn.value, churn.model_value) == ("user", 0.2, 0.04)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"funnel.monthly_churn": 1.5}, "outside 0–1"),
        ({"funnel.monthly_churn": float("nan")}, "finite number"),
        ({"no.such.key": 1}, "no such assumption"),
        ({"solution.features.0.impact": 4}, "not one of 0.25, 0.5, 1, 2, 3"),
    ],
)
def test_bad_overrides_are_refused_naming_the_assumption(overrides, message):
    store = MemoryStore()
    run_pipeline(context=_context(ScriptedModel()), store=store)
    with pytest.raises(AssumptionError, match=message):
        compute_plan(brief=BRIEF, artifacts=load_artifacts(store.artifacts()), overrides=overrides)


def test_resume_skips_finished_stages():
    store = MemoryStore()
    run_pipeline(context=_context(ScriptedModel()), store=store)
    del store.stored["marketing"]
    model = ScriptedModel()
    run_pipeline(context=_context(model), store=store)
    assert model.calls() == 3 and model.calls("Launch") == 1  # only the marketing stage ran


def test_choosing_another_niche_redesigns_for_it():
    store = MemoryStore()
    first = run_pipeline(context=_context(ScriptedModel()), store=store)
    other = first.niches[2].index
    for stage in ("solution", "monetization", "marketing"):
        del store.stored[stage]
    store.chosen = other
    model = ScriptedModel()
    plan = run_pipeline(context=_context(model), store=store)
    assert plan.chosen_niche == other and plan.solution.niche_index == other
    assert first.niches[2].name in model.requests[0]["messages"][-1]["content"]
    assert model.calls("NicheIdeas") == 0


def test_cached_rerun_makes_no_model_call(tmp_path):
    cache = DiskCache(tmp_path / "cache")
    run_pipeline(context=_context(ScriptedModel(), cache=cache), store=MemoryStore())
    model = ScriptedModel()
    context = _context(model, cache=cache)
    run_pipeline(context=context, store=MemoryStore())
    assert model.calls() == 0 and context.meter.total_tokens == 0


def test_cancel_stops_before_the_next_model_call():
    model = ScriptedModel()
    store = MemoryStore()
    with pytest.raises(RunCancelled):
        run_pipeline(context=_context(model, cancelled=lambda: model.calls() >= 1), store=store)
    assert model.calls() == 1 and store.stored == {}  # nothing half-written


def test_garbage_from_the_model_fails_the_stage_naming_the_field():
    model = ScriptedModel(overrides={"Funnel": lambda prompt: '{"monthly_visitors": "lots"}'})
    store = MemoryStore()
    with pytest.raises(StructuredOutputError) as caught:
        run_pipeline(context=_context(model), store=store)
    assert caught.value.field == "monthly_visitors"
    assert model.calls("Funnel") == 3  # the call and two retries, then a clear failure
    assert set(store.stored) == {"research", "solution"}  # finished stages kept for resume


def test_stale_artifacts_after_a_missing_stage_are_dropped():
    store = MemoryStore()
    run_pipeline(context=_context(ScriptedModel()), store=store)
    stored = store.artifacts()
    del stored["solution"]
    assert set(load_artifacts(stored)) == {"research"}
    stored = store.artifacts()
    stored["solution"]["version"] = 99
    assert set(load_artifacts(stored)) == {"research"}


@pytest.mark.parametrize("extreme", ["minimum", "maximum"])
def test_every_assumption_at_its_bound_still_computes(extreme):
    store = MemoryStore()
    run_pipeline(context=_context(ScriptedModel()), store=store)
    artifacts = load_artifacts(store.artifacts())
    plan = compute_plan(brief=BRIEF, artifacts=artifacts)
    overrides = {
        a.key: (min(a.choices) if extreme == "minimum" else max(a.choices))
        if a.choices
        else getattr(a, extreme)
        for a in plan.assumptions
    }
    bounded = compute_plan(brief=BRIEF, artifacts=artifacts, overrides=overrides)
    assert bounded.summary is not None
    assert all(a.source == "user" for a in bounded.assumptions)


def test_control_characters_in_model_text_are_dropped_and_empty_text_is_sent_back():
    def ideas(prompt: str) -> str:
        from scripted_model import niche_ideas

        answer = niche_ideas(prompt)
        answer["niches"][0]["name"] = "Legal\x00 translation\x7f\nQA\u202e"
        return json.dumps(answer)

    plan = run_pipeline(
        context=_context(ScriptedModel(overrides={"NicheIdeas": ideas})), store=MemoryStore()
    )
    names = {niche.name for niche in plan.niches}
    assert "Legal translation QA" in names  # NUL, DEL, the newline and the bidi override gone

    def blank(prompt: str) -> str:
        from scripted_model import copy

        answer = copy(prompt)
        answer["headline"] = ""
        return json.dumps(answer)

    model = ScriptedModel(overrides={"Copy": blank})
    with pytest.raises(StructuredOutputError) as caught:
        run_pipeline(context=_context(model), store=MemoryStore())
    assert caught.value.field == "headline" and model.calls("Copy") == 3


def test_willingness_to_pay_is_an_assumption_the_tiers_are_checked_against():
    store = MemoryStore()
    plan = run_pipeline(context=_context(ScriptedModel()), store=store)
    assert plan.monetization.willingness_to_pay == 59.0
    assert plan.monetization.tiers_above_willingness == ["Agency"]  # $79 > $59
    lowered = compute_plan(
        brief=BRIEF,
        artifacts=load_artifacts(store.artifacts()),
        overrides={"pricing.willingness_to_pay": 10},
    )
    assert lowered.monetization.tiers_above_willingness == ["Solo", "Agency"]
