"""Apply each constrained row's grammar to a batch of logits (token bitmasks from xgrammar)."""

from __future__ import annotations

import torch
import xgrammar as xgr

from ai_models.engine.sequence import Sequence


def apply_grammar(logits: torch.Tensor, rows: list[Sequence], stop_ids: torch.Tensor) -> None:
    """Mask each constrained row to its grammar's allowed tokens; keep EOS from ignore_eos rows."""
    constrained = [i for i, seq in enumerate(rows) if seq.grammar is not None]
    free_no_eos = [i for i, seq in enumerate(rows) if seq.grammar is None and seq.params.ignore_eos]
    if free_no_eos and stop_ids.numel():
        index = torch.tensor(free_no_eos, device=logits.device)
        logits[index.unsqueeze(-1), stop_ids.to(logits.device)] = float("-inf")
    if not constrained:
        return
    grammar = rows[constrained[0]].grammar.grammar
    bitmask = xgr.allocate_token_bitmask(len(rows), grammar.vocab_size)
    for i in constrained:
        rows[i].grammar.fill(bitmask, i)
    device_logits = logits if logits.device.type in ("cpu", "cuda") else logits.cpu()
    xgr.apply_token_bitmask_inplace(
        device_logits, bitmask.to(device_logits.device), indices=constrained
    )
    if device_logits is not logits:
        logits.copy_(device_logits)
    if grammar.forbidden.numel():
        index = torch.tensor(constrained, device=logits.device)
        logits[index.unsqueeze(-1), grammar.forbidden.to(logits.device)] = float("-inf")
