"""Token choice, row by row: penalties, logit bias, top-p and seeded sampling, on logits whose
outcome is worked out by hand."""

from __future__ import annotations

import torch

from ai_models.engine.sampling import choose_tokens
from ai_models.engine.sequence import SamplingParams, Sequence

NO_STOPS = torch.tensor([], dtype=torch.long)


def row(generated: list[int] = (), seed: int = 0, **params) -> Sequence:
    params.setdefault("temperature", 0)
    seq = Sequence([1], SamplingParams(max_tokens=99, **params), context_length=1000)
    seq.generated = list(generated)
    seq.generator = torch.Generator().manual_seed(seed)
    return seq


def choose(logits: list[float], seq: Sequence) -> int:
    return choose_tokens(torch.tensor([logits]), [seq], NO_STOPS)[0]


def test_presence_penalty_pushes_a_used_token_down_once():
    logits = [0.0, 3.0, 2.5, 0.0]  # token 1 leads token 2 by 0.5
    assert choose(logits, row([1], presence_penalty=0.4)) == 1  # 3.0 - 0.4 > 2.5
    assert choose(logits, row([1], presence_penalty=0.6)) == 2  # 3.0 - 0.6 < 2.5
    assert choose(logits, row([1, 1, 1], presence_penalty=0.4)) == 1, "once, however often used"
    assert choose(logits, row([2], presence_penalty=-0.6)) == 2, "a negative one pulls it up"


def test_frequency_penalty_grows_with_each_use():
    logits = [0.0, 3.0, 2.5, 0.0]
    assert choose(logits, row([1], frequency_penalty=0.3)) == 1  # 3.0 - 0.3
    assert choose(logits, row([1, 1], frequency_penalty=0.3)) == 2  # 3.0 - 0.6
    assert choose(logits, row([1, 2, 2], frequency_penalty=0.3)) == 1  # 2.7 vs 1.9


def test_logit_bias_adds_to_the_named_tokens():
    logits = [0.0, 3.0, 2.5, 0.0]
    assert choose(logits, row(logit_bias={3: 3.5})) == 3
    assert choose(logits, row(logit_bias={1: -1.0})) == 2
    assert choose(logits, row(logit_bias={1: -0.4})) == 1
    assert choose(logits, row(logit_bias={99: 100.0})) == 1, "ids past the logits are ignored"


def draws(logits: list[float], *, top_p: float, times: int = 300) -> set[int]:
    seq = row(temperature=1.0, top_p=top_p, seed=1)
    return {choose(logits, seq) for _ in range(times)}


def test_top_p_keeps_the_smallest_set_reaching_p():
    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log().tolist()
    assert draws(logits, top_p=1.0) == {0, 1, 2, 3}
    assert draws(logits, top_p=0.45) == {0}
    assert draws(logits, top_p=0.7) == {0, 1}
    assert draws(logits, top_p=0.9) == {0, 1, 2}


def test_each_row_samples_from_its_own_seeded_generator():
    logits = torch.zeros((3, 50))  # uniform: only the noise decides
    rows = [row(temperature=1.0, seed=s) for s in (5, 5, 6)]
    picks = [choose_tokens(logits.clone(), rows, NO_STOPS) for _ in range(20)]
    first, second, third = zip(*picks, strict=True)
    assert first == second, "the same seed gives the same draws, whatever the batch-mates"
    assert first != third
