"""Serve an ASGI app with uvicorn in a background thread: local demos that run a collector
next to a pipeline, and tests that must speak real HTTP rather than an in-process transport."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def serve_in_thread(
    app: Any, *, port: int, host: str = "127.0.0.1", startup_timeout: float = 30.0
) -> Iterator[str]:
    """Run ``app`` until the block ends; yields its base URL (``http://<host>:<port>``).

    uvicorn's own ``X-Forwarded-For`` handling is off: it would replace the peer address with
    whatever a client on 127.0.0.1 claims; the collector decides whom to believe itself."""
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", proxy_headers=False)
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"uvicorn on port {port} exited during start-up")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"uvicorn on port {port} did not start within {startup_timeout}s")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
