"""A scripted chat model for agent tests: realistic JSON per output schema, through the openai SDK.

It answers by the ``response_format.json_schema.name`` of each request, varies the niche numbers
by niche name (so rankings differ), and records every request. Test-only: the product's default
is a real model.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable

import httpx
import openai


def _est(value, why: str, confidence: str = "medium") -> dict:
    return {"value": value, "rationale": why, "confidence": confidence}


def _seed(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


NICHES = [
    ("Legal translation QA", "small legal translation agencies"),
    ("Subtitle timing assistant", "freelance subtitle translators"),
    ("Medical glossary builder", "medical translators"),
    ("Quote estimator for translators", "solo freelance translators"),
]


def niche_ideas(prompt: str) -> dict:
    return {
        "niches": [
            {"name": name, "target_customer": who, "summary": f"AI help for {who}."}
            for name, who in NICHES
        ],
        "income_goal_per_year": 60000 if "60k" in prompt or "60000" in prompt else None,
    }


def niche_assessment(prompt: str) -> dict:
    name = re.search(r"Niche: (.+)", prompt).group(1)
    s = _seed(name)
    return {
        "problems": [
            {
                "problem": "Checking terminology consistency takes hours",
                "importance": 6 + s % 5,
                "satisfaction": 2 + s % 4,
                "rationale": "Reviewers redo term checks by hand on every job.",
                "confidence": "medium",
            },
            {
                "problem": "Clients dispute quality without evidence",
                "importance": 7,
                "satisfaction": 5,
                "rationale": "Disputes cost agencies margin.",
                "confidence": "low",
            },
        ],
        "target_customers": _est(2000 + s % 20000, "Directories list thousands of agencies."),
        "annual_contract_value": _est(300 + s % 900, "Comparable QA tools cost $30-90/month."),
        "reachable_share": _est(0.3, "Reachable through LinkedIn and associations."),
        "achievable_share": _est(0.02 + (s % 5) / 100, "Early-stage capture of 2-6%."),
        "competitors": [
            {"kind": "Desktop QA tools", "monthly_price": 29.0, "weakness": "No AI, manual rules"},
            {"kind": "CAT suite add-ons", "monthly_price": 49.0, "weakness": "Tied to one suite"},
        ],
        "competition_intensity": _est(3 + s % 6, "A few established tools.", "medium"),
        "growth_rate": _est(0.12, "Translation demand grows with e-commerce.", "low"),
        "solo_feasibility": _est(5 + s % 5, "An API plus a web app.", "high"),
    }


def concept(prompt: str) -> dict:
    features = [
        ("Term checker", 800, 2, 80, 1.0),
        ("Quality report PDF", 500, 1, 100, 0.5),
        ("CAT tool plugin", 300, 2, 50, 3.0),
        ("Team dashboard", 200, 0.5, 80, 2.0),
    ]
    return {
        "concept": {
            "name": "TermGuard",
            "one_liner": "AI terminology QA for translation agencies",
            "value_proposition": "Catch term errors before the client does.",
        },
        "features": [
            {
                "name": name,
                "description": f"{name} for reviewers",
                "reach": reach,
                "impact": impact,
                "confidence": confidence,
                "effort": effort,
                "rationale": "Asked for by reviewers in forums.",
            }
            for name, reach, impact, confidence, effort in features
        ],
    }


def build(prompt: str) -> dict:
    return {
        "stack": [
            {"layer": "Web", "choice": "Flask", "why": "Simple server-rendered app"},
            {"layer": "Models", "choice": "pAIssive AI Models Service", "why": "Runs locally"},
        ],
        "model_tasks": ["text-generation", "embeddings"],
        "milestones": [
            {"name": "Term extraction prototype", "weeks": 2, "confidence": "medium"},
            {"name": "Paid beta", "weeks": 4, "confidence": "low"},
        ],
    }


def pricing(prompt: str) -> dict:
    return {
        "willingness_to_pay": _est(59.0, "Agencies pay $29-49 for weaker tools."),
        "tiers": [
            {
                "name": "Solo",
                "monthly_price": _est(19.0, "Below desktop QA tools at $29."),
                "mix": _est(0.7, "Most buyers are freelancers."),
                "features": ["Term checker"],
            },
            {
                "name": "Agency",
                "monthly_price": _est(79.0, "Agencies pay for reports."),
                "mix": _est(0.3, "Fewer but larger buyers."),
                "features": ["Term checker", "Quality report PDF"],
            },
        ],
    }


def funnel(prompt: str) -> dict:
    return {
        "monthly_visitors": _est(2000, "Content marketing in month 1."),
        "visitor_growth": _est(0.08, "Compounding SEO."),
        "signup_rate": _est(0.05, "Typical SaaS landing page."),
        "free_to_paid": _est(0.1, "Freemium benchmarks 2-10%."),
        "monthly_churn": _est(0.04, "SMB SaaS churn 3-7%."),
        "monthly_expansion": _est(0.01, "Upgrades to Agency."),
        "gross_margin": _est(0.85, "Local models, cheap hosting."),
        "fixed_costs_per_month": _est(150.0, "Hosting and tools."),
        "upfront_cost": _est(2000.0, "Design and legal."),
    }


def audience(prompt: str) -> dict:
    return {
        "personas": [
            {
                "name": "Agency owner Ana",
                "role": "Owner of a 5-person agency",
                "pains": ["Client complaints about terms"],
                "where_to_find": "ATA forums and LinkedIn groups",
            }
        ],
        "channels": [
            {
                "name": "LinkedIn",
                "budget_share": _est(0.6, "Where agency owners are."),
                "expected_cac": _est(120.0, "B2B SMB benchmarks."),
            },
            {
                "name": "Content/SEO",
                "budget_share": _est(0.4, "Compounding traffic."),
                "expected_cac": _est(60.0, "Cheaper over time."),
            },
        ],
        "monthly_budget": _est(500.0, "A solo founder's budget."),
    }


def launch(prompt: str) -> dict:
    return {
        "launch_plan": ["Private beta with 10 agencies", "Launch on Product Hunt", "Webinar"],
        "calendar": [
            {"week": w, "channel": "LinkedIn", "topic": f"Term errors story {w}"}
            for w in range(1, 5)
        ],
        "kpis": [
            {"name": "Paid customers", "unit": "customers", "target": 50},
            {"name": "Trial to paid", "unit": "percent", "target": 10},
        ],
    }


def copy(prompt: str) -> dict:
    return {
        "headline": "Never ship a wrong term again",
        "subheadline": "AI terminology QA for translation agencies.",
        "launch_email_subject": "TermGuard is live",
        "launch_email_body": "Hi! TermGuard checks every term before delivery.",
        "social_posts": ["Post one", "Post two", "Post three"],
    }


SCRIPTS: dict[str, Callable[[str], dict]] = {
    "NicheIdeas": niche_ideas,
    "NicheAssessment": niche_assessment,
    "ConceptProposal": concept,
    "BuildProposal": build,
    "Pricing": pricing,
    "Funnel": funnel,
    "Audience": audience,
    "Launch": launch,
    "Copy": copy,
}


class ScriptedModel:
    """An OpenAI-compatible chat model answering from ``SCRIPTS`` (or an override per schema)."""

    def __init__(self, overrides: dict[str, Callable[[str], str]] | None = None) -> None:
        self.overrides = overrides or {}
        self.requests: list[dict] = []
        self._lock = threading.Lock()

    def calls(self, schema: str | None = None) -> int:
        """Return how many requests asked for ``schema`` (all requests when None)."""
        names = [r["response_format"]["json_schema"]["name"] for r in self.requests]
        return len(names) if schema is None else names.count(schema)

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        with self._lock:
            self.requests.append(body)
        name = body["response_format"]["json_schema"]["name"]
        prompt = body["messages"][-1]["content"]
        if name in self.overrides:
            content = self.overrides[name](prompt)
        else:
            content = json.dumps(SCRIPTS[name](prompt))
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-scripted",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 200, "completion_tokens": 100, "total_tokens": 300},
            },
        )

    def client(self) -> openai.OpenAI:
        """Return an ``openai.OpenAI`` whose requests this model answers."""
        return openai.OpenAI(
            base_url="http://scripted.test/v1",
            api_key="scripted",
            max_retries=0,
            http_client=httpx.Client(transport=httpx.MockTransport(self.handler)),
        )


class ScriptedServer:
    """The scripted model over real HTTP on 127.0.0.1 (for worker processes and the CLI)."""

    def __init__(self, model: ScriptedModel | None = None, *, delay: float = 0.0) -> None:
        from werkzeug.serving import make_server

        self.model = model or ScriptedModel()
        self.delay = delay
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _wsgi(self, environ, start_response):
        import time

        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        if self.delay:
            time.sleep(self.delay)
        request = httpx.Request("POST", self.url + "/chat/completions", content=body)
        response = self.model.handler(request)
        start_response(f"{response.status_code} OK", [("Content-Type", "application/json")])
        return [response.content]

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
