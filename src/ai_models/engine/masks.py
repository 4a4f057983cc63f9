"""Apply each constrained row's grammar to a batch of logits (one batched llguidance mask fill)."""

from __future__ import annotations

import numpy as np
import torch

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
    bitmask = grammar.fill_batch(
        [(rows[i].grammar, n) for n, i in enumerate(constrained)], len(constrained)
    )
    # One byte per token (bit order within each little-endian int32 word), cut to the logits.
    bits = np.unpackbits(bitmask.view(np.uint8), axis=1, bitorder="little")
    width = min(logits.shape[-1], bits.shape[1])
    forbidden = torch.from_numpy(bits[:, :width] == 0).to(logits.device)
    index = torch.tensor(constrained, device=logits.device)
    masked = logits[index]
    masked[:, :width].masked_fill_(forbidden, float("-inf"))
    masked[:, width:] = float("-inf")  # rows past the grammar's vocabulary are never valid
    logits[index] = masked
