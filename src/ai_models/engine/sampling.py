"""Pick the next token of every row of a batch: penalties, grammar masks, temperature, top-p.

Rows are independent: each has its own sampling parameters and its own random generator (seeded
when the request gives a ``seed``), so a request's output does not depend on its batch-mates.
"""

from __future__ import annotations

import torch

from ai_models.engine.masks import apply_grammar
from ai_models.engine.sequence import Sequence


def _apply_penalties(logits: torch.Tensor, rows: list[Sequence]) -> None:
    for i, seq in enumerate(rows):
        params = seq.params
        if seq.generated and (params.presence_penalty or params.frequency_penalty):
            ids = torch.tensor(seq.generated, device=logits.device)
            counts = torch.bincount(ids, minlength=logits.shape[-1])[: logits.shape[-1]]
            logits[i] -= params.frequency_penalty * counts
            logits[i] -= params.presence_penalty * (counts > 0).to(logits.dtype)
        for token, bias in params.logit_bias.items():
            if 0 <= token < logits.shape[-1]:
                logits[i, token] += bias


def _top_p_filter(logits: torch.Tensor, top_p: torch.Tensor) -> torch.Tensor:
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    drop = probs.cumsum(dim=-1) - probs > top_p.unsqueeze(-1)
    sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
    return torch.empty_like(logits).scatter_(-1, order, sorted_logits)


def _draw(logits: torch.Tensor, rows: list[Sequence]) -> list[int]:
    temperature = torch.tensor(
        [max(seq.params.temperature, 1e-5) for seq in rows], device=logits.device
    )
    scaled = logits / temperature.unsqueeze(-1)
    top_p = torch.tensor([seq.params.top_p for seq in rows], device=logits.device)
    if bool((top_p < 1.0).any()):
        scaled = _top_p_filter(scaled, top_p)
    probs = scaled.softmax(dim=-1)
    chosen = []
    for i, seq in enumerate(rows):
        # Exponential race: argmax(p / E) with E ~ Exp(1) samples from p, using the row's generator.
        noise = torch.empty_like(probs[i]).exponential_(generator=seq.generator)
        chosen.append(int((probs[i] / noise).argmax()))
    return chosen


def choose_tokens(logits: torch.Tensor, rows: list[Sequence], stop_ids: torch.Tensor) -> list[int]:
    """Return the next token for each row (``logits`` is modified in place)."""
    logits = logits.float()
    _apply_penalties(logits, rows)
    apply_grammar(logits, rows, stop_ids)
    greedy = logits.argmax(dim=-1).tolist()
    sampled_rows = [i for i, seq in enumerate(rows) if seq.params.temperature > 0]
    if sampled_rows:
        index = torch.tensor(sampled_rows, device=logits.device)
        drawn = _draw(logits[index], [rows[i] for i in sampled_rows])
        for i, token in zip(sampled_rows, drawn, strict=True):
            greedy[i] = token
    for i, seq in enumerate(rows):
        if seq.grammar is not None:
            greedy[i] = seq.grammar.guard(greedy[i], seq.params.max_tokens - len(seq.generated))
    return greedy
