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


# --- The batch fast path: plain greedy rows on the model's own logits, the rest in float32 ---


def reference(logits: torch.Tensor, seq: Sequence, stops: torch.Tensor) -> int:
    """Choose one row's token the plain way: a float32 copy, then every step in order."""
    row_logits = logits.float().clone()
    params = seq.params
    counts = torch.bincount(
        torch.tensor(seq.generated, dtype=torch.long), minlength=len(row_logits)
    )
    row_logits -= params.frequency_penalty * counts[: len(row_logits)]
    row_logits -= params.presence_penalty * (counts[: len(row_logits)] > 0).float()
    for token, bias in params.logit_bias.items():
        if token < len(row_logits):
            row_logits[token] += bias
    if params.ignore_eos:
        row_logits[stops] = float("-inf")
    if params.temperature == 0:
        return int(row_logits.argmax())
    probs = (row_logits / params.temperature).softmax(-1)
    if params.top_p < 1.0:
        ordered = probs.sort(descending=True).values
        keep = int(((ordered.cumsum(-1) - ordered) <= params.top_p).sum())
        probs = torch.where(probs >= ordered[keep - 1], probs, 0.0)
    cdf = probs.double().cumsum(-1)
    u = torch.rand((), generator=seq.generator, dtype=torch.float64)
    return int(torch.searchsorted(cdf, u * cdf[-1], right=True))


KINDS = {
    "greedy": {},
    "greedy-no-eos": {"ignore_eos": True},
    "penalised": {"presence_penalty": 0.7, "frequency_penalty": 0.4},
    "biased": {"logit_bias": {3: 2.5, 40: -100.0}},
    "sampled": {"temperature": 0.9},
    "top-p": {"temperature": 1.3, "top_p": 0.8},
    "sampled-penalised-no-eos": {"temperature": 0.7, "presence_penalty": 1.0, "ignore_eos": True},
}


def run_rows(kinds: list[str], logits: torch.Tensor, stops: torch.Tensor, steps: int = 8):
    """Decode ``steps`` tokens for a batch of rows of ``kinds``; return each row's tokens."""
    rows = [row(seed=7 + i, **KINDS[kind]) for i, kind in enumerate(kinds)]
    for step in range(steps):
        batch = logits[step % len(logits)].expand(len(rows), -1).clone()
        for seq, token in zip(rows, choose_tokens(batch, rows, stops), strict=True):
            seq.generated.append(token)
    return [seq.generated for seq in rows]


def test_every_row_matches_the_plain_reference_in_mixed_batches():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn((8, 64), generator=gen) * 2
    stops = torch.tensor([int(logits[s].argmax()) for s in range(2)])  # EOS is often the best
    for dtype in (torch.float32, torch.bfloat16):
        kinds = list(KINDS)
        rows = [row(seed=7 + i, **KINDS[kind]) for i, kind in enumerate(kinds)]
        twins = [row(seed=7 + i, **KINDS[kind]) for i, kind in enumerate(kinds)]
        for step in range(8):
            step_logits = logits[step].to(dtype)
            expected = [reference(step_logits, seq, stops) for seq in twins]
            batch = step_logits.expand(len(rows), -1).clone()
            assert choose_tokens(batch, rows, stops) == expected, (dtype, step)
            for seq, twin, token in zip(rows, twins, expected, strict=True):
                seq.generated.append(token)
                twin.generated.append(token)


def test_a_seeded_row_does_not_depend_on_its_batch_mates():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn((8, 64), generator=gen)
    stops = torch.tensor([5])
    alone = run_rows(["sampled"], logits, stops)[0]
    for mates in (["greedy"], ["biased", "greedy-no-eos"], ["top-p", "penalised", "greedy"]):
        # the row under test is first, so its generator has the same seed (7) each time
        assert run_rows(["sampled", *mates], logits, stops)[0] == alone, mates
    assert len(set(alone)) > 1, "the draws vary, so equality above is not by chance"


def test_greedy_is_the_argmax_of_float_logits_and_ties_go_to_the_lowest_id():
    gen = torch.Generator().manual_seed(2)
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        logits = (torch.randn((16, 151936), generator=gen) * 3).to(dtype)
        rows = [row() for _ in range(16)]
        expected = logits.float().argmax(dim=-1).tolist()
        assert choose_tokens(logits.clone(), rows, NO_STOPS) == expected, dtype
    tied = torch.zeros((2, 10), dtype=torch.bfloat16)
    tied[0, [4, 2, 8]] = 1.0
    tied[1, [9, 6]] = 1.0
    assert choose_tokens(tied, [row(), row()], NO_STOPS) == [2, 6]


def test_ignore_eos_rows_never_pick_a_stop_token_and_others_may():
    logits = torch.tensor([[0.0, 1.0, 5.0, 4.0]] * 4, dtype=torch.bfloat16)
    stops = torch.tensor([2])
    rows = [row(), row(ignore_eos=True), row(ignore_eos=True, presence_penalty=0.1), row()]
    rows[2].generated = [0]
    assert choose_tokens(logits, rows, stops) == [2, 3, 3, 2]


def test_penalties_and_bias_apply_beside_plain_greedy_rows_in_bf16():
    logits = torch.tensor([[0.0, 3.0, 2.5, 0.0]] * 3, dtype=torch.bfloat16)
    rows = [row([1], presence_penalty=0.6), row(), row(logit_bias={3: 3.5})]
    assert choose_tokens(logits, rows, NO_STOPS) == [2, 1, 3]


def test_bias_is_added_in_float32_not_in_the_models_dtype():
    logits = torch.tensor([[100.0, 100.0]], dtype=torch.bfloat16)  # bf16 steps by 0.5 here
    assert choose_tokens(logits, [row(logit_bias={1: 0.05})], NO_STOPS) == [1]


def test_draws_follow_the_distribution_at_each_temperature():
    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log().tolist()
    for temperature, expected in ((1.0, [0.5, 0.3, 0.15, 0.05]), (0.5, [0.69, 0.25, 0.06, 0.0])):
        seq = row(temperature=temperature, seed=3)
        picks = [choose(logits, seq) for _ in range(4000)]
        shares = [picks.count(token) / len(picks) for token in range(4)]
        assert all(abs(s - e) < 0.03 for s, e in zip(shares, expected, strict=True)), shares


def test_top_p_on_a_full_size_vocabulary_matches_the_reference():
    gen = torch.Generator().manual_seed(4)
    logits = torch.randn((3, 151936), generator=gen) * 4  # nuclei of tens to thousands of ids
    stops = torch.tensor([0])
    for top_p in (0.3, 0.9, 0.999):
        seq, twin = row(temperature=1.0, top_p=top_p), row(temperature=1.0, top_p=top_p)
        for step in range(3):
            expected = reference(logits[step], twin, stops)
            assert choose_tokens(logits[step : step + 1].clone(), [seq], stops) == [expected]
