"""The ``llama-cpp`` backend: GGUF models (4-bit and other quantized weights) run by llama.cpp.

Needs the optional extra: ``pip install "paissive-income[gguf]"`` (llama-cpp-python). A
``llama_cpp.Llama`` is not thread-safe, so one worker thread owns it and runs one request at a time
(its choices one after another, reusing the prompt's KV cache); requests wait in a bounded
``WaitQueue`` (``MAX_QUEUE_SIZE`` sequences, 429 beyond). Tokens are chosen by our own sampler
(``engine.sampling.choose_tokens``) inside llama-cpp-python's ``logits_processor``, so sampling
parameters, seeds and JSON grammars (llguidance masks with the guaranteed closing) behave as on
the ``transformers`` backend; plain greedy requests skip it and use llama.cpp's own argmax.
llama.cpp's own schema grammar is not used: it ignores numeric bounds, and validating then
retrying was 5.5x slower per valid answer than masking (``benchmarks/gguf.py``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ai_models.backends import register
from ai_models.backends.base import Backend, RequestContext, ServedModel
from ai_models.errors import InvalidRequestError, ModelLoadError, ModelServiceError
from ai_models.registry import ModelSpec, Task

if TYPE_CHECKING:
    from ai_models.backends.base import GenerateRequest
    from ai_models.backends.gguf_vocab import GgufVocab
    from ai_models.config import ModelServiceSettings
    from ai_models.engine.grammar import JsonGrammar
    from ai_models.engine.sequence import Delta, Sequence
    from ai_models.metrics import ModelMetrics

logger = logging.getLogger(__name__)
INSTALL_HINT = (
    'the llama-cpp backend needs llama-cpp-python: pip install "paissive-income[gguf]" '
    "(or use backend transformers, which loads a GGUF dequantized: slower, 4-8x the memory)"
)
DEFAULT_CONTEXT = 8192  # the KV cache llama.cpp allocates when nothing smaller is configured


def import_llama_cpp() -> Any:
    """Return the ``llama_cpp`` module, or raise ``ImportError`` with the pip command."""
    try:
        import llama_cpp
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return llama_cpp


def default_threads() -> int:
    """Return llama.cpp's usual thread count: half the logical CPUs (the physical cores of most
    x86 laptops). Its threads spin-wait for each other, so counting hyper-threads, or cores other
    work needs, slows decoding many times over (here, 2 threads on 2 busy cores: 13x slower)."""
    return max(1, (os.cpu_count() or 2) // 2)


@register
class LlamaCppBackend(Backend):
    """Load GGUF chat and completion models with llama.cpp."""

    name = "llama-cpp"
    tasks = (Task.TEXT_GENERATION,)

    def load(
        self, spec: ModelSpec, settings: ModelServiceSettings, metrics: ModelMetrics
    ) -> ServedModel:
        """Load the GGUF file of ``spec`` (a path, a folder, or a hub repo and file)."""
        from ai_models.backends.gguf_files import GgufSourceError, gguf_path

        if spec.task is not Task.TEXT_GENERATION:
            raise InvalidRequestError(f"the llama-cpp backend does not serve {spec.task.value}")
        try:
            llama_cpp = import_llama_cpp()
            path = gguf_path(spec)
        except (ImportError, GgufSourceError) as exc:
            raise ModelLoadError(spec.name, spec.source, str(exc)) from None
        limits = [n for n in (spec.options.context_length, settings.max_model_len) if n]
        n_ctx = min(limits) if limits else DEFAULT_CONTEXT
        threads = settings.cpu_threads or default_threads()
        try:
            llama = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        except Exception as exc:  # a corrupt or unsupported file: one line
            raise ModelLoadError(spec.name, str(path), f"{type(exc).__name__}: {exc}") from None
        why = "MODEL_CPU_THREADS" if settings.cpu_threads else "half the logical CPUs"
        logger.info(
            "llama.cpp loaded %s (%s, context %d, %d threads: %s)",
            path.name,
            llama._model.desc(),
            llama.n_ctx(),
            threads,
            why,
        )
        return LlamaCppModel(spec, llama, settings, metrics)


class _Job:
    """One request in the queue: its sequences, where their deltas go, whether it was dropped."""

    __slots__ = ("group", "sequences", "loop", "outbox", "cancelled")

    def __init__(self, group: Any, sequences: list[Sequence]) -> None:
        self.group = group
        self.sequences = sequences
        self.loop = asyncio.get_running_loop()
        self.outbox: asyncio.Queue = asyncio.Queue()
        self.cancelled = False

    def send(self, event: Any) -> None:
        """Hand ``event`` (a ``Delta`` or an exception) to the request's event loop."""
        try:
            self.loop.call_soon_threadsafe(self.outbox.put_nowait, event)
        except RuntimeError:  # that event loop is gone; nobody is listening
            self.cancelled = True


class _DeltaStream:
    """The deltas of one request; closing it early (``aclose``, a cancelled task, garbage
    collection) stops the request's work, even before its first delta was awaited."""

    def __init__(self, model: LlamaCppModel, job: _Job) -> None:
        self._model, self._job = model, job
        self._unfinished = len(job.sequences)

    def __aiter__(self) -> _DeltaStream:
        return self

    async def __anext__(self) -> Delta:
        if not self._unfinished:
            raise StopAsyncIteration
        try:
            event = await self._job.outbox.get()
        except BaseException:  # cancelled while waiting: the client went away
            self._close()
            raise
        if isinstance(event, BaseException):
            self._close()
            raise event
        self._unfinished -= event.finish_reason is not None
        return event

    async def aclose(self) -> None:
        """Stop the request's work if it has not finished."""
        self._close()

    def _close(self) -> None:
        if self._unfinished and not self._job.cancelled:
            self._model._abandon(self._job)

    def __del__(self) -> None:
        self._close()


class LlamaCppModel(ServedModel):
    """A GGUF model served by one llama.cpp worker thread."""

    def __init__(
        self, spec: ModelSpec, llama: Any, settings: ModelServiceSettings, metrics: ModelMetrics
    ) -> None:
        import torch

        from ai_models.backends.gguf_vocab import GgufVocab
        from ai_models.engine.queue import WaitQueue

        super().__init__(spec)
        self.llama = llama
        self.metrics = metrics
        self.vocab: GgufVocab = GgufVocab(llama)
        self.vocab_size = self.vocab.size
        self.context_length = min(llama.n_ctx(), llama._model.n_ctx_train() or llama.n_ctx())
        self.max_tokens = settings.max_tokens
        self.stop_ids = set(self.vocab.stop_ids)
        self._stop_tensor = torch.tensor(self.vocab.stop_ids, dtype=torch.long)
        self._grammar: JsonGrammar | None = None
        self._grammar_lock = threading.Lock()
        self.queue: WaitQueue[_Job] = WaitQueue(max_cost=settings.max_queue_size, unit="sequences")
        self._lock = threading.Lock()  # the Llama object: the worker, or warm-up before it runs
        self._current: _Job | None = None
        self._thread = threading.Thread(target=self._work, name="llama-cpp", daemon=True)
        self._thread.start()

    # -- the contract the serving layer uses --------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """Return the context length and the GGUF's description for ``/v1/models``."""
        return {"max_model_len": self.context_length, "gguf": self.llama._model.desc()}

    def render_chat(self, messages: list[dict[str, str]]) -> list[int]:
        """Render ``messages`` with the GGUF's chat template and tokenize them."""
        text = self.vocab.render_chat(messages, self.name)
        return self.vocab.tokenize(text, special=True)

    def tokenize(self, text: str) -> list[int]:
        """Tokenize a completion prompt (BOS added when the model wants one)."""
        return self.vocab.tokenize(text, special=True)

    def detokenize(self, ids: list[int]) -> str:
        """Return the text of ``ids``."""
        return self.vocab.decode(ids)

    @property
    def grammar(self) -> JsonGrammar:
        """Return the JSON grammar compiler for this vocabulary (built on first use)."""
        with self._grammar_lock:
            if self._grammar is None:
                from ai_models.engine.grammar import JsonGrammar

                self._grammar = JsonGrammar.from_vocab(
                    self.vocab.pieces,
                    eos_token_ids=self.vocab.stop_ids,
                    special_token_ids=self.vocab.special_ids,
                    vocab_size=self.vocab_size,
                )
            return self._grammar

    async def generate(self, request: GenerateRequest, ctx: RequestContext) -> AsyncIterator[Delta]:
        """Queue the request's sequences (429 when the queue is full, 400 for a bad schema) and
        return the iterator of their deltas; abandoning it stops the work."""
        from ai_models.engine.queue import Group
        from ai_models.engine.sequence import Sequence

        n, prompts = request.n, request.prompts
        cost, limit = len(prompts) * n, self.queue.max_cost
        if cost > limit:
            raise InvalidRequestError(
                f"this request asks for {cost} sequences ({len(prompts)} prompts x n={n}) but "
                f"at most {limit} may wait (MAX_QUEUE_SIZE={limit}); send fewer prompts or a "
                "smaller n",
                param="n" if len(prompts) == 1 else "prompt",
            )
        group = Group()
        try:
            self.queue.reserve(group, cost)
        except ModelServiceError:
            ctx.metrics.rejected("queue_full")
            raise
        self._gauges()
        try:
            compiled = None
            fmt = request.response_format
            if fmt is not None and fmt.get("type", "text") != "text":
                compiled = await self.grammar.compile_within_deadline(fmt)
            sequences = []
            for i, (ids, params) in enumerate(zip(prompts, request.params, strict=True)):
                for choice in range(n):
                    state = self.grammar.state(compiled) if compiled is not None else None
                    seq = Sequence(ids, params, grammar=state, context_length=self.context_length)
                    seq.index, seq.group = i * n + choice, group
                    sequences.append(seq)
            job = _Job(group, sequences)
            self.queue.put([job])
        except BaseException:  # a refused schema or a client gone: its place frees at once
            self.queue.discard(group)
            self._gauges()
            raise
        ctx.metrics.prompt_tokens.inc(sum(len(ids) for ids in prompts))
        self._gauges()
        return _DeltaStream(self, job)

    def _abandon(self, job: _Job) -> None:
        """Drop a request whose client went away: out of the queue, or stopped at its next token."""
        job.cancelled = True
        self.queue.discard(job.group)
        self._gauges()

    # -- the worker thread --------------------------------------------------------------------

    def _gauges(self, running: int | None = None) -> None:
        self.metrics.waiting.set(self.queue.waiting_groups)
        if running is not None:
            self.metrics.running.set(running)

    def _work(self) -> None:
        while not self.queue.closed:
            for job in self.queue.take(1, wait_s=0):
                if job.cancelled:
                    continue
                self._gauges(running=1)
                self._current = job
                with self._lock:
                    self._run(job)
                self._current = None
                self._gauges(running=0)

    def _run(self, job: _Job) -> None:
        for seq in job.sequences:
            if job.cancelled:
                return
            try:
                self._decode(job, seq)
            except Exception as exc:  # a failed llama.cpp call ends the request
                logger.exception("llama.cpp generation failed")
                job.send(ModelServiceError(f"generation failed: {type(exc).__name__}: {exc}"[:300]))
                return

    def _decode(self, job: _Job, seq: Sequence) -> None:
        """Generate ``seq`` to its end (or until its request goes away), sending its deltas."""
        import torch

        seq.detokenizer = self.vocab.detokenizer()
        seq.generator = torch.Generator()
        if seq.params.seed is None:
            seq.generator.seed()
        else:  # each choice its own stream, as on the transformers backend
            seq.generator.manual_seed((seq.params.seed + seq.index) % 2**64)
        params = seq.params
        plain = seq.grammar is None and params.temperature == 0 and not params.ignore_eos
        plain = plain and not (params.presence_penalty or params.frequency_penalty)
        plain = plain and not params.logit_bias
        processor = None if plain else [self._processor(seq)]
        self.metrics.iteration_tokens.observe(self._prefill(seq.prompt_ids))
        tokens = self.llama.generate(
            seq.prompt_ids,
            temp=0.0,
            top_k=1,
            top_p=1.0,
            min_p=0.0,
            repeat_penalty=1.0,
            logits_processor=processor,
        )
        try:
            for token in tokens:
                if job.cancelled:
                    return
                first = seq.first_token_at is None
                delta = seq.accept(int(token), self.stop_ids)
                self.metrics.generation_tokens.inc()
                self.metrics.batch("generation", 1)
                if first:
                    self.metrics.ttft.observe(seq.first_token_at - seq.arrival)
                if delta is not None:
                    job.send(delta)
                if seq.done:
                    return
        finally:
            tokens.close()

    def _prefill(self, prompt: list[int]) -> int:
        """Put all but the last prompt token in the KV cache, reusing the longest cached prefix;
        return how many tokens that evaluated.

        ``Llama.generate`` then evaluates the last token alone, whatever was cached before, so a
        prompt's first logits do not depend on history: evaluated inside a batch they round
        differently, and greedy answers to a repeated prompt could change at a near tie.
        """
        llama, head = self.llama, prompt[:-1]
        cached = llama.input_ids[: llama.n_tokens].tolist()
        common = 0
        for a, b in zip(cached, head, strict=False):
            if a != b:
                break
            common += 1
        llama.n_tokens = common  # eval() drops the cache past it
        if common < len(head):
            llama.eval(head[common:])
        return len(head) - common + 1

    def _processor(self, seq: Sequence) -> Any:
        """Return a llama-cpp-python logits processor that leaves only our sampler's choice."""
        import numpy as np
        import torch

        from ai_models.engine.sampling import choose_tokens

        stop_tensor = self._stop_tensor

        def choose(_input_ids: Any, scores: Any) -> Any:
            logits = torch.from_numpy(np.array(scores, dtype=np.float32)).unsqueeze(0)
            if seq.grammar is not None:
                seq.grammar.update_closing(seq.params.max_tokens - len(seq.generated))
            token = choose_tokens(logits, [seq], stop_tensor)[0]
            only = np.full(len(scores), -np.inf, dtype=np.float32)
            only[token] = 0.0
            return only

        return choose

    # -- life cycle ---------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Generate one token, so readiness means the model really answers; build the JSON
        grammar's vocabulary now rather than on the event loop at the first schema."""
        self.grammar  # noqa: B018 (built on first access)
        with self._lock:
            tokens = self.llama.generate(self.vocab.tokenize("Hello"), temp=0.0, top_k=1)
            try:
                next(tokens)
            finally:
                tokens.close()

    def close(self) -> None:
        """Stop the worker (its current request ends at its next token) and free the model."""
        self.queue.close()
        current = self._current
        if current is not None:
            current.send(ModelServiceError("the server is shutting down"))
            current.cancelled = True
        self._thread.join(timeout=10)
        if self._grammar is not None:
            self._grammar.close()
        with self._lock:
            self.llama.close()
