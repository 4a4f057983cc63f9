"""Apply each constrained row's grammar to a batch of logits (one bitmask for the whole batch)."""

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
    states = [(rows[i].grammar, n) for n, i in enumerate(constrained)]
    apply_bitmask(logits, grammar.fill_batch(states, len(constrained)), constrained)


def apply_bitmask(logits: torch.Tensor, bitmask: np.ndarray, rows: list[int]) -> None:
    """Set ``logits[rows[n], t]`` to -inf where bit ``t`` of ``bitmask[n]`` is clear (and past
    the bitmask's width). CPU float32 logits are masked in place by numpy: one thread, so no
    OpenMP barrier on a machine whose cores the model already keeps busy."""
    bits = np.unpackbits(bitmask.view(np.uint8), axis=1, bitorder="little")
    width = min(logits.shape[-1], bits.shape[1])
    forbidden = bits[:, :width] == 0
    if logits.device.type == "cpu" and logits.dtype == torch.float32 and logits.is_contiguous():
        array = logits.numpy()
        for n, row in enumerate(rows):
            np.putmask(array[row, :width], forbidden[n], -np.inf)
            array[row, width:] = -np.inf
        return
    index = torch.tensor(rows, device=logits.device)
    masked = logits[index]
    masked[:, :width].masked_fill_(torch.from_numpy(forbidden).to(logits.device), float("-inf"))
    masked[:, width:] = float("-inf")  # tokens past the grammar's vocabulary are never valid
    logits[index] = masked
