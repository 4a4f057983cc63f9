"""What every agent shares: the run's inputs, the model caller and concurrent independent calls."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from agent_team.llm import StructuredCaller, UsageMeter

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")

# One system prompt for every call of every agent: servers with prefix caching compute it once.
SYSTEM_PROMPT = (
    "You are one member of pAIssive Income's agent team, which helps a solo founder plan an "
    "AI-powered product to sell. Answer with one JSON object that matches the required schema, "
    "nothing else. Numbers are estimates: give a realistic value for the stated unit, a short "
    "rationale that a founder can check, and your confidence (low, medium or high). Be concrete "
    "and specific to the niche; never copy these instructions into the answer."
)
MAX_CONCURRENT_CALLS = 8
# Control characters, lone surrogates and bidirectional-text controls (which can make shown
# text read differently from what it is).
_BIDI = r"\u202a-\u202e\u2066-\u2069"
_CONTROLS = re.compile(rf"[\x00-\x1f\x7f-\x9f\ud800-\udfff{_BIDI}]")
_PARAGRAPH_CONTROLS = re.compile(rf"[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff{_BIDI}]")


def one_line(value: object) -> object:
    """Return model text as one clean line: control characters and runs of spaces become one space.

    The platform refuses control characters in text (``paissive_income.text``); a model under a
    JSON grammar can still emit them, escaped. They carry no meaning in a plan, so they are
    dropped here. Text that was only blanks stays one blank (the model's answer, shown as it
    is, not replaced); an empty string still fails the field's limits and goes back to it.
    """
    if not isinstance(value, str):
        return value
    return " ".join(_CONTROLS.sub(" ", value).split()) or value[:1] and " "


def paragraph(value: object) -> object:
    """Return model text with line breaks kept and every other control character dropped."""
    if not isinstance(value, str):
        return value
    lines = (" ".join(line.split()) for line in _PARAGRAPH_CONTROLS.sub(" ", value).split("\n"))
    return "\n".join(lines).strip() or value[:1] and " "


Short = Annotated[str, BeforeValidator(one_line), Field(min_length=1, max_length=80)]
Line = Annotated[str, BeforeValidator(one_line), Field(min_length=1, max_length=200)]
Paragraph = Annotated[str, BeforeValidator(paragraph), Field(min_length=1, max_length=1200)]


class RunCancelled(RuntimeError):
    """The run was cancelled; it stops before its next model call."""


class RunReleased(RuntimeError):
    """The worker is stopping: the run goes back on the queue after its current stage."""


class Brief(BaseModel):
    """What the user asked for: market segments and notes (the run's input)."""

    model_config = ConfigDict(frozen=True)

    # The same limits as a project's segments and notes, so every project can be run.
    segments: tuple[str, ...] = Field(min_length=1, max_length=20)
    notes: str = Field("", max_length=10_000)


class Strict(BaseModel):
    """Base of the model-facing output types: unknown fields are an error the model must fix."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class StageContext:
    """Everything a stage needs: the brief, the model, the caller and the run's meter."""

    brief: Brief
    model: str
    caller: StructuredCaller
    meter: UsageMeter
    max_tokens: int = 2048
    stage_models: Mapping[str, str] = field(default_factory=dict)
    concurrency: int = MAX_CONCURRENT_CALLS
    progress: Callable[[str], None] = field(default=lambda step: None)
    cancelled: Callable[[], bool] = field(default=lambda: False)
    # The worker is stopping: the pipeline hands the run back before its next stage.
    stopping: Callable[[], bool] = field(default=lambda: False)

    def ask(self, output_type: type[T], task: str, facts: Mapping[str, Any] | None = None) -> T:
        """Ask the model for one ``output_type`` value about ``task`` given ``facts``."""
        if self.cancelled():
            raise RunCancelled("the run was cancelled")
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": _user_prompt(self.brief, task, facts or {})},
        ]
        result = self.caller.call(
            output_type,
            model=self.model,
            messages=messages,
            meter=self.meter,
            max_tokens=self.max_tokens,
        )
        return result.value

    def for_stage(self, stage: str) -> StageContext:
        """Return this context with the model configured for ``stage``."""
        return replace(self, model=self.stage_models.get(stage, self.model))

    def map(self, function: Callable[[Any], R], items: Iterable[Any]) -> list[R]:
        """Run ``function`` over ``items`` concurrently (so the model server can batch them)."""
        items = list(items)
        if len(items) <= 1 or self.concurrency <= 1:
            return [function(item) for item in items]
        with ThreadPoolExecutor(min(len(items), self.concurrency)) as pool:
            return list(pool.map(function, items))


def _user_prompt(brief: Brief, task: str, facts: Mapping[str, Any]) -> str:
    lines = [f"Market segments: {'; '.join(brief.segments)}"]
    if brief.notes.strip():
        lines.append(f"Founder's notes: {brief.notes.strip()}")
    for name, value in facts.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        lines.append(f"{name}: {shown}")
    lines.append(f"Task: {task}")
    return "\n".join(lines)
