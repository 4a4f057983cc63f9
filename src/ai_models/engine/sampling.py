"""Pick the next token of every row of a batch: penalties, grammar masks, temperature, top-p.

Rows are independent: each has its own sampling parameters and its own random generator (seeded
when the request gives a ``seed``), so a request's output does not depend on its batch-mates.

Plain greedy rows (temperature 0, no grammar, penalty or bias) take the maximum of the model's
own logits in their own dtype: no float copy of the vocabulary (bf16/fp16 through ``max``, as
torch's bf16 ``argmax`` is about 8x slower on CPU; both return the lowest id among ties). Only
the other rows are copied to float32 for penalties, bias, grammar and sampling; sampled rows
draw with one uniform number each (inverse CDF) and find their top-p nucleus without a sort."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from ai_models.engine.masks import apply_grammar
from ai_models.engine.sequence import Sequence


def _needs_work(seq: Sequence) -> bool:
    """Tell whether a row needs more than the maximum of its logits (and EOS masking)."""
    params = seq.params
    penalised = bool(seq.generated) and bool(params.presence_penalty or params.frequency_penalty)
    return params.temperature > 0 or seq.grammar is not None or bool(params.logit_bias) or penalised


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


def _nucleus(probs: torch.Tensor, top_p: list[float]) -> torch.Tensor:
    """Return ``probs`` (rows of one distribution each) with zeros outside each top-p nucleus.

    The nucleus: the most likely tokens while the ones before each hold at most ``top_p``, and
    every token as likely as the last of them (so ties do not depend on sort order). Exact,
    without sorting the vocabulary: the ``k`` largest are taken, ``k`` growing 8x until they
    pass ``top_p`` (sorting 151936 probabilities costs about 100 ms per row on one core).
    """
    vocab = probs.shape[-1]
    k = min(64, vocab)
    values = probs.topk(k).values
    sums = values.sum(-1).tolist()
    thresholds = []
    for i, p in enumerate(top_p):
        row_values, row_k, row_sum = values[i], k, sums[i]
        while row_sum <= p and row_k < vocab:
            row_k = min(row_k * 8, vocab)
            row_values = probs[i].topk(row_k).values
            row_sum = float(row_values.sum())
        keep = max(1, int(((row_values.cumsum(-1) - row_values) <= p).sum()))
        thresholds.append(row_values[keep - 1])
    threshold = torch.stack(thresholds).unsqueeze(-1)
    return torch.where(probs >= threshold, probs, 0.0)


def _uniforms(rows: list[Sequence], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Return one uniform number in [0, 1) per row, each from the row's own generator."""
    draws = []
    for seq in rows:
        at = seq.generator.device if seq.generator is not None else device
        draws.append(torch.rand((), generator=seq.generator, device=at, dtype=dtype))
    return torch.stack([u.to(device) for u in draws])


def _draw(logits: torch.Tensor, rows: list[Sequence]) -> list[int]:
    """Sample each row from softmax(logits / temperature), within its top-p nucleus.

    Inverse CDF with one uniform number per row from the row's own generator, rather than a
    noise value per vocabulary entry: one cumulative sum for the batch against 3-35 ms per row
    for 151936 exponentials on one core.
    """
    temperature = torch.tensor(
        [max(seq.params.temperature, 1e-5) for seq in rows], device=logits.device
    )
    probs = (logits / temperature.unsqueeze(-1)).softmax(dim=-1)
    nucleus = [i for i, seq in enumerate(rows) if seq.params.top_p < 1.0]
    if nucleus:
        index = torch.tensor(nucleus, device=logits.device)
        probs[index] = _nucleus(probs[index], [rows[i].params.top_p for i in nucleus])
    exact = torch.float32 if probs.device.type == "mps" else torch.float64
    cdf = probs.to(exact).cumsum(dim=-1)
    total = cdf[:, -1:]
    target = _uniforms(rows, exact, probs.device).unsqueeze(-1) * total
    chosen = torch.searchsorted(cdf, target, right=True).squeeze(-1).tolist()
    valid = (total.squeeze(-1) > 0).tolist()
    for i, token in enumerate(chosen):
        if not valid[i]:  # nothing allowed (NaN or all zero): the grammar's guard decides
            chosen[i] = int(probs[i].argmax())
        elif token >= probs.shape[-1]:  # u * total rounded up to total: the last possible token
            chosen[i] = int(probs[i].nonzero()[-1])
    return chosen


def _rows(logits: torch.Tensor, picked: list[int], total: int) -> torch.Tensor:
    """Return the logits of rows ``picked``: the tensor itself when it is every row."""
    if len(picked) == total:
        return logits
    return logits[torch.tensor(picked, device=logits.device)]


def _maximum(logits: torch.Tensor, rows: list[Sequence]) -> list[int]:
    """Return each row's highest-scoring token, the lowest id among ties."""
    if logits.dtype == torch.float32:
        return logits.argmax(dim=-1).tolist()
    return logits.max(dim=-1).indices.tolist()  # bf16 argmax is ~8x slower than max on CPU


def _greedy(logits: torch.Tensor, rows: list[Sequence], stop_ids: torch.Tensor) -> list[int]:
    """Return each plain greedy row's highest-scoring token (EOS excluded for ignore_eos)."""
    no_eos = [i for i, seq in enumerate(rows) if seq.params.ignore_eos]
    if no_eos and stop_ids.numel():
        index = torch.tensor(no_eos, device=logits.device)
        logits[index.unsqueeze(-1), stop_ids.to(logits.device)] = float("-inf")
    return _maximum(logits, rows)


def _worked(logits: torch.Tensor, rows: list[Sequence], stop_ids: torch.Tensor) -> list[int]:
    """Return the tokens of rows that need penalties, bias, grammar or sampling (float32)."""
    logits = logits.float()
    _apply_penalties(logits, rows)
    apply_grammar(logits, rows, stop_ids)
    sampled = [seq.params.temperature > 0 for seq in rows]
    chosen = _in_groups(logits, rows, sampled, _maximum, _draw)
    for i, seq in enumerate(rows):
        if seq.grammar is not None:
            chosen[i] = seq.grammar.guard(chosen[i], seq.params.max_tokens - len(seq.generated))
    return chosen


def _in_groups(
    logits: torch.Tensor,
    rows: list[Sequence],
    flags: list[bool],
    unflagged: Callable[[torch.Tensor, list[Sequence]], list[int]],
    flagged: Callable[[torch.Tensor, list[Sequence]], list[int]],
) -> list[int]:
    """Return each row's token from ``flagged`` or ``unflagged``, each run on its rows only."""
    tokens = [0] * len(rows)
    for flag, pick in ((False, unflagged), (True, flagged)):
        picked = [i for i, value in enumerate(flags) if value is flag]
        if picked:
            chosen = pick(_rows(logits, picked, len(rows)), [rows[i] for i in picked])
            for i, token in zip(picked, chosen, strict=True):
                tokens[i] = token
    return tokens


def choose_tokens(logits: torch.Tensor, rows: list[Sequence], stop_ids: torch.Tensor) -> list[int]:
    """Return the next token for each row (``logits`` may be modified in place)."""
    work = [_needs_work(seq) for seq in rows]
    greedy = partial(_greedy, stop_ids=stop_ids)
    return _in_groups(logits, rows, work, greedy, partial(_worked, stop_ids=stop_ids))
