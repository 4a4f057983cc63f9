"""Benchmark MODEL_CPU_THREADS: generation throughput of the model server per torch thread count.

    python benchmarks/cpu_threads.py                       # 1 vs all cores, ~2 minutes on 2 cores
    python benchmarks/cpu_threads.py --omp-wait-policy PASSIVE ACTIVE --rounds 4
    python benchmarks/cpu_threads.py --threads 1 2 3 --rounds 5 --hidden 768 --dtype bfloat16

Each setting (thread count x ``OMP_WAIT_POLICY``, default PASSIVE as the server sets it) runs in
its own ``models serve`` process (torch's thread pool is per process) with
the same random-weight Qwen2 LM built once; 16 concurrent ``openai``-SDK clients generate
against it. Settings alternate A, B, A, B, ... so drift on a shared machine hits both alike;
the table gives each setting's median tokens/s and its ratio to the best.
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


def start_server(
    model: str, setting: tuple[int, str], args: argparse.Namespace
) -> tuple[subprocess.Popen, str]:
    """Start ``models serve`` with (MODEL_CPU_THREADS, OMP_WAIT_POLICY); return it once ready."""
    threads, policy = setting
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
        "MODEL_PATH": model,
        "MODEL_TYPE": "text-generation",
        "MODEL_ID": "lm",
        "PORT": str(port),
        "MODEL_CPU_THREADS": str(threads),
        "OMP_WAIT_POLICY": policy,
        "MODEL_DEVICE": "cpu",
        "MODEL_DTYPE": args.dtype,
        "MAX_BATCH_SIZE": str(args.clients),
        "MAX_QUEUE_SIZE": "4096",
        "LOG_LEVEL": "WARNING",
        "PAISSIVE_MODELS_HOME": tempfile.mkdtemp(prefix="threads-bench-home-"),
    }
    server = subprocess.Popen([sys.executable, "-c", SERVE], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"the server with {threads} threads never became ready")


def throughput(url: str, args: argparse.Namespace, requests: int) -> float:
    """Return tokens/s of ``args.clients`` concurrent clients, each generating ``requests``."""

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

    seconds, tokens = concurrently(args.clients, generate, url)
    return tokens / seconds


def main() -> None:
    """Measure each thread count, alternating, and print the medians and ratios."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=sorted({1, cores}))
    parser.add_argument(
        "--omp-wait-policy", nargs="+", default=["PASSIVE"], choices=["PASSIVE", "ACTIVE"]
    )
    parser.add_argument("--rounds", type=int, default=3, help="measurements per setting")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2, help="generations per client")
    parser.add_argument("--tokens", type=int, default=32, help="tokens per generation")
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    args = parser.parse_args()
    model = str(
        build_tiny_causal_lm(
            Path(tempfile.mkdtemp(prefix="threads-bench-")) / "lm",
            hidden_size=args.hidden,
            layers=args.layers,
        )
    )
    print(
        f"{cores} cores, LM {args.layers} layers x {args.hidden} hidden ({args.dtype}), "
        f"{args.clients} clients x {args.requests} requests x {args.tokens} tokens"
    )
    settings = [(t, p) for p in args.omp_wait_policy for t in args.threads]
    rates: dict[tuple[int, str], list[float]] = {setting: [] for setting in settings}
    for round_ in range(args.rounds):
        for setting in settings if round_ % 2 == 0 else reversed(settings):
            server, url = start_server(model, setting, args)
            try:
                throughput(url, args, 1)  # warm up
                rate = throughput(url, args, args.requests)
            finally:
                server.terminate()
                server.wait(30)
            rates[setting].append(rate)
            print(f"round {round_ + 1}: {label(setting)} {rate:8.1f} tokens/s")
    best = max(statistics.median(values) for values in rates.values())
    print()
    for setting, values in rates.items():
        median = statistics.median(values)
        print(
            f"{label(setting)} median {median:8.1f} tokens/s  {median / best:5.2f}x of the best  "
            f"(runs: {', '.join(f'{v:.0f}' for v in values)})"
        )


def label(setting: tuple[int, str]) -> str:
    """Name a setting as its environment variables."""
    return f"MODEL_CPU_THREADS={setting[0]:<3} OMP_WAIT_POLICY={setting[1]:<8}"


if __name__ == "__main__":
    main()
