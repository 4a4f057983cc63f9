"""Benchmark MODEL_CPU_THREADS: generation throughput of the model server per torch thread count.

    python benchmarks/cpu_threads.py                       # 1 vs all cores, ~2 minutes on 2 cores
    python benchmarks/cpu_threads.py --threads 1 2 3 --rounds 5 --hidden 768 --dtype bfloat16

Each setting runs in its own ``models serve`` process (torch's thread pool is per process) with
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
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import httpx  # noqa: E402
import openai  # noqa: E402

from ai_models.tiny_models import build_tiny_causal_lm  # noqa: E402

SERVE = "from ai_models.serve_command import serve; serve()"


def free_port() -> int:
    """Return a port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    model: str, threads: int, args: argparse.Namespace
) -> tuple[subprocess.Popen, str]:
    """Start ``models serve`` with ``MODEL_CPU_THREADS=threads``; return it once ready."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
        "MODEL_PATH": model,
        "MODEL_TYPE": "text-generation",
        "MODEL_ID": "lm",
        "PORT": str(port),
        "MODEL_CPU_THREADS": str(threads),
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


def throughput(url: str, args: argparse.Namespace) -> float:
    """Return tokens/s of ``args.clients`` concurrent clients, each generating ``args.requests``."""
    sdk = openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0)
    counts = [0] * args.clients
    barrier = threading.Barrier(args.clients + 1)

    def client(index: int) -> None:
        barrier.wait()
        for r in range(args.requests):
            reply = sdk.completions.create(
                model="lm",
                prompt=f"client {index} request {r}: a plan for passive income",
                max_tokens=args.tokens,
                temperature=0,
                extra_body={"ignore_eos": True},
            )
            counts[index] += reply.usage.completion_tokens

    workers = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - started)


def main() -> None:
    """Measure each thread count, alternating, and print the medians and ratios."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=sorted({1, cores}))
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
    rates: dict[int, list[float]] = {n: [] for n in args.threads}
    for round_ in range(args.rounds):
        for threads in args.threads if round_ % 2 == 0 else reversed(args.threads):
            server, url = start_server(model, threads, args)
            try:
                throughput(url, argparse.Namespace(**{**vars(args), "requests": 1}))  # warm up
                rate = throughput(url, args)
            finally:
                server.terminate()
                server.wait(30)
            rates[threads].append(rate)
            print(f"round {round_ + 1}: MODEL_CPU_THREADS={threads:<3} {rate:8.1f} tokens/s")
    best = max(statistics.median(values) for values in rates.values())
    print()
    for threads, values in rates.items():
        median = statistics.median(values)
        print(
            f"MODEL_CPU_THREADS={threads:<3} median {median:8.1f} tokens/s  "
            f"{median / best:5.2f}x of the best  (runs: {', '.join(f'{v:.0f}' for v in values)})"
        )


if __name__ == "__main__":
    main()
