"""``paissive-income models serve``: run the OpenAI-compatible model server in the foreground.

Options fall back to environment variables (``ModelServiceSettings``). ``--sagemaker``, or the
trailing argument ``serve`` that SageMaker passes (``docker run IMAGE serve``), switches to
SageMaker's contract: port 8080 (or ``SAGEMAKER_BIND_TO_PORT``), ``GET /ping``,
``POST /invocations``. A model that cannot load stops the server with one line and status 1.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ai_models.config import ModelServiceSettings, SettingsError, load_settings
from ai_models.errors import ModelLoadError
from ai_models.registry import RegistryError

SAGEMAKER_PORT = 8080


def listen_address(settings: ModelServiceSettings, *, port_given: bool) -> tuple[str, int]:
    """Return the host and port to bind, following SageMaker's rules in SageMaker mode."""
    if settings.sagemaker:
        port = (
            settings.port
            if port_given
            else int(os.environ.get("SAGEMAKER_BIND_TO_PORT", SAGEMAKER_PORT))
        )
        return settings.host or "0.0.0.0", port
    return settings.host or "127.0.0.1", 8000 if settings.port is None else settings.port


@click.command()
@click.argument("mode", required=False, type=click.Choice(["serve"]), metavar="[serve]")
@click.option("--model-path", help="Local folder or Hub id to serve [MODEL_PATH].")
@click.option(
    "--model-type", help="text-generation (or chat), embeddings, text-classification [MODEL_TYPE]."
)
@click.option("--model-id", help="Served name; alone, a registry name or Hub id [MODEL_ID].")
@click.option("--host", help="Interface to bind [HOST] (default 127.0.0.1).")
@click.option("--port", type=int, help="Port [PORT] (default 8000; SageMaker 8080).")
@click.option(
    "--sagemaker",
    is_flag=True,
    default=None,
    help="Serve SageMaker's /ping and /invocations on 8080.",
)
@click.option("--max-batch-size", type=int, help="Requests per batch [MAX_BATCH_SIZE].")
@click.option("--batch-wait-ms", type=float, help="Batching window in ms [BATCH_WAIT_MS].")
@click.option("--max-queue-size", type=int, help="Waiting requests before 429 [MAX_QUEUE_SIZE].")
@click.option(
    "--max-body-bytes", type=int, help="Largest request body before 413 [MAX_BODY_BYTES]."
)
@click.option("--max-tokens", type=int, help="Largest max_tokens a request may ask [MAX_TOKENS].")
@click.option("--max-model-len", type=int, help="Context length cap [MAX_MODEL_LEN].")
@click.option("--device", help="auto, cpu, cuda, cuda:N or mps [MODEL_DEVICE].")
@click.option("--dtype", help="auto, float32, float16 or bfloat16 [MODEL_DTYPE].")
def serve(mode: str | None, **options: Any) -> None:
    """Serve one model over an OpenAI-compatible HTTP API."""
    from ai_models.selection import spec_for_serving

    options["sagemaker"] = True if mode == "serve" or options["sagemaker"] else None
    try:
        settings = load_settings(**options)
        host, port = listen_address(settings, port_given=options["port"] is not None)
        spec = spec_for_serving(settings)
    except (SettingsError, RegistryError, ValueError) as exc:
        raise click.ClickException(str(exc).splitlines()[0]) from None
    _run(settings, spec, host, port)


def _run(settings: ModelServiceSettings, spec: Any, host: str, port: int) -> None:
    import uvicorn

    from ai_models.app import create_app
    from ai_models.runner import uvicorn_config
    from paissive_income.observability.logging import configure_logging

    configure_logging(settings.log_level)
    failures: list[ModelLoadError] = []
    server: uvicorn.Server | None = None

    def stop_on_failure(error: ModelLoadError) -> None:
        failures.append(error)
        if server is not None:
            server.should_exit = True

    app = create_app(settings, specs=[spec], on_load_failure=stop_on_failure)
    server = uvicorn.Server(uvicorn_config(app, host=host, port=port))
    server.run()
    if failures:
        click.echo(f"Error: {failures[0]}", err=True)
        sys.exit(1)
    if not server.started:
        sys.exit(1)
