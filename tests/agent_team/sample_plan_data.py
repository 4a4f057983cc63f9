"""Make the sample plan's stored artifacts from the scripted model (run once; output committed).

python tests/agent_team/sample_plan_data.py > src/agent_team/plan/sample_artifacts.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from scripted_model import ScriptedModel  # noqa: E402

from agent_team.agents.base import Brief, StageContext  # noqa: E402
from agent_team.llm import StructuredCaller, UsageMeter  # noqa: E402
from agent_team.pipeline import MemoryStore, run_pipeline  # noqa: E402

BRIEF = Brief(
    segments=("freelance translators", "translation agencies"),
    notes="I want 60k a year from a product I can build and sell alone.",
)


def sample_data() -> dict:
    """Run the whole pipeline on the scripted model; return the brief and every stage artifact."""
    store = MemoryStore()
    context = StageContext(
        brief=BRIEF,
        model="scripted",
        caller=StructuredCaller(ScriptedModel().client()),
        meter=UsageMeter(),
    )
    run_pipeline(context=context, store=store)
    return {"brief": BRIEF.model_dump(mode="json"), "artifacts": store.artifacts()}


if __name__ == "__main__":
    print(json.dumps(sample_data(), indent=1, ensure_ascii=False, sort_keys=True))
