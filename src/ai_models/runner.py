"""Run the model server with uvicorn: in the foreground (``models serve``) or on a daemon thread
bound to an ephemeral 127.0.0.1 port (the in-process service, tests, benchmarks)."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn


def uvicorn_config(app: Any, *, host: str, port: int) -> uvicorn.Config:
    """Return the uvicorn settings every mode shares (our JSON logs, no uvicorn access log)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=25,  # SageMaker and Kubernetes kill 30 s after SIGTERM
        timeout_keep_alive=30,
    )


class BackgroundServer:
    """Serve an ASGI app from a daemon thread; ``base_url`` is known once ``start`` returns."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.server = uvicorn.Server(uvicorn_config(app, host=host, port=port))
        self.thread = threading.Thread(target=self.server.run, name="model-server", daemon=True)
        self.port = port

    def start(self, timeout: float = 60) -> BackgroundServer:
        """Start serving; wait until the socket listens."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the model server did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        """Return the server's root URL."""
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
