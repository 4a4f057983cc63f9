"""Benchmark MODEL_CPU_THREADS and MODEL_DTYPE: generation throughput of the model server.

    python benchmarks/cpu_threads.py                       # 1 vs all cores, ~2 minutes on 2 cores
    python benchmarks/cpu_threads.py --omp-wait-policy PASSIVE ACTIVE --rounds 4
    python benchmarks/cpu_threads.py --qwen --threads 0 1 --dtype bfloat16 --clients 1 16
    python benchmarks/cpu_threads.py --qwen --threads 0 --dtype float32 auto --clients 1 16

Each setting (thread count x ``OMP_WAIT_POLICY`` x dtype; thread count 0 leaves
MODEL_CPU_THREADS unset, the server's default) runs in its own ``models serve`` process (torch's
thread pool is per process) with the same random-weight Qwen2 LM built once (``--qwen``: Qwen2.5-
0.5B-Instruct's dimensions, 24 layers x 896, 151936-token vocabulary); 1 and 16 concurrent
``openai``-SDK clients generate against it (greedy, ``ignore_eos``). Settings alternate A, B, A,
B, ... so drift on a shared machine hits both alike; the table gives each setting's median
tokens/s and its ratio to the best, per client count.

Figures behind the defaults (2-core AMD EPYC with AVX-512 BF16, no hyper-threads, load average
12-20 from other jobs, so absolute rates are low; ``--qwen --threads 0 1 --dtype auto --clients
1 16 --rounds 3``), median tokens/s, default = all 2 cores, bf16:

    1 client:   default 1.4 (runs 1.3, 1.9, 1.4)    1 thread 0.8 (0.9, 0.8, 0.6)   0.58x
    16 clients: default 12.1 (14.8, 12.1, 11.9)     1 thread 7.2 (7.2, 7.3, 6.7)   0.60x

and ``--threads 0 --dtype auto float32``: float32 against the auto default (bf16 here):

    1 client:   auto 1.4 (1.5, 1.1, 1.4)            float32 0.5 (0.4, 0.5, 0.7)    0.37x
    16 clients: auto 10.9 (10.9, 7.5, 12.4)         float32 3.4 (3.4, 3.0, 4.1)    0.31x
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import httpx  # noqa: E402
import openai  # noqa: E402
from model_server import concurrently  # noqa: E402  (this folder is on sys.path)

from ai_models.tiny_models import build_tiny_causal_lm  # noqa: E402

SERVE = "from ai_models.serve_command import serve; serve()"


def free_port() -> int:
    """Return a port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


Setting = tuple[int, str, str]  # (MODEL_CPU_THREADS or 0 for the default, OMP_WAIT_POLICY, dtype)


def build_qwen_sized_lm(path: Path) -> Path:
    """Save a random-weight LM with Qwen2.5-0.5B-Instruct's dimensions (bf16) at ``path``.

    The tokenizer is the tiny test one: ids past it decode to nothing, which costs the same.
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    from ai_models.tiny_models import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer(path)
    config = Qwen2Config(
        vocab_size=151936,
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        max_position_embeddings=32768,
        rope_theta=1_000_000.0,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(str(path))
    return path


def start_server(
    model: str, setting: Setting, args: argparse.Namespace
) -> tuple[subprocess.Popen, str]:
    """Start ``models serve`` with one setting; return it once ready."""
    threads, policy, dtype = setting
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
        "MODEL_PATH": model,
        "MODEL_TYPE": "text-generation",
        "MODEL_ID": "lm",
        "PORT": str(port),
        "OMP_WAIT_POLICY": policy,
        "MODEL_DEVICE": "cpu",
        "MODEL_DTYPE": dtype,
        "MAX_BATCH_SIZE": str(max(args.clients)),
        "MAX_QUEUE_SIZE": "4096",
        "LOG_LEVEL": "WARNING",
        "PAISSIVE_MODELS_HOME": tempfile.mkdtemp(prefix="threads-bench-home-"),
    }
    env.pop("MODEL_CPU_THREADS", None)
    if threads:
        env["MODEL_CPU_THREADS"] = str(threads)
    server = subprocess.Popen([sys.executable, "-c", SERVE], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"the server with {label(setting)} never became ready")


def throughput(url: str, args: argparse.Namespace, clients: int, requests: int) -> float:
    """Return tokens/s of ``clients`` concurrent clients, each generating ``requests``."""

    def generate(sdk: openai.OpenAI, index: int) -> int:
        done = 0
        for r in range(requests):
            reply = sdk.completions.create(
                model="lm",
                prompt=f"client {index} request {r}: a plan for passive income",
                max_tokens=args.tokens,
                temperature=0,
                extra_body={"ignore_eos": True},
            )
            done += reply.usage.completion_tokens
        return done

    seconds, tokens = concurrently(clients, generate, url)
    return tokens / seconds


def main() -> None:
    """Measure each setting, alternating, and print the medians and ratios."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--threads", type=int, nargs="+", default=sorted({1, cores}), help="0: the default"
    )
    parser.add_argument(
        "--omp-wait-policy", nargs="+", default=["PASSIVE"], choices=["PASSIVE", "ACTIVE"]
    )
    parser.add_argument(
        "--dtype", nargs="+", default=["float32"], choices=["auto", "float32", "bfloat16"]
    )
    parser.add_argument("--rounds", type=int, default=3, help="measurements per setting")
    parser.add_argument("--clients", type=int, nargs="+", default=[16])
    parser.add_argument("--requests", type=int, default=2, help="generations per client")
    parser.add_argument("--tokens", type=int, default=32, help="tokens per generation")
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--qwen", action="store_true", help="Qwen2.5-0.5B-Instruct's dimensions")
    parser.add_argument("--model", help="an LM folder to use instead of building one")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="threads-bench-")) / "lm"
    if args.model:
        model, shape = args.model, f"LM {args.model}"
    elif args.qwen:
        model = str(build_qwen_sized_lm(folder))
        shape = "Qwen2.5-0.5B-sized LM"
    else:
        model = str(build_tiny_causal_lm(folder, hidden_size=args.hidden, layers=args.layers))
        shape = f"LM {args.layers} layers x {args.hidden} hidden"
    print(f"{cores} cores, {shape}, {args.requests} requests x {args.tokens} tokens per client")
    settings = [(t, p, d) for d in args.dtype for p in args.omp_wait_policy for t in args.threads]
    rates: dict[tuple[Setting, int], list[float]] = {
        (setting, n): [] for n in args.clients for setting in settings
    }
    for round_ in range(args.rounds):
        for setting in settings if round_ % 2 == 0 else reversed(settings):
            server, url = start_server(model, setting, args)
            try:
                throughput(url, args, max(args.clients), 1)  # warm up
                for clients in args.clients:
                    rate = throughput(url, args, clients, args.requests)
                    rates[setting, clients].append(rate)
                    print(
                        f"round {round_ + 1}: {label(setting)} {clients:>2} clients "
                        f"{rate:8.1f} tokens/s",
                        flush=True,
                    )
            finally:
                server.terminate()
                server.wait(30)
    print()
    for clients in args.clients:
        best = max(statistics.median(rates[s, clients]) for s in settings)
        for setting in settings:
            values = rates[setting, clients]
            median = statistics.median(values)
            runs = ", ".join(f"{v:.1f}" for v in values)
            print(
                f"{clients:>2} clients  {label(setting)} median {median:8.1f} tokens/s  "
                f"{median / best:5.2f}x of the best  (runs: {runs})"
            )


def label(setting: Setting) -> str:
    """Name a setting as its environment variables."""
    threads, policy, dtype = setting
    shown = str(threads) if threads else "default"
    return f"MODEL_CPU_THREADS={shown:<7} OMP_WAIT_POLICY={policy:<7} MODEL_DTYPE={dtype:<8}"


if __name__ == "__main__":
    main()
