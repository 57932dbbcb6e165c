"""Serve an ASGI app with uvicorn: :func:`serve` for a service's own process (one or several
worker processes on one port), :func:`serve_in_thread` in a background thread for local demos
that run a collector next to a pipeline, and tests that must speak real HTTP rather than an
in-process transport."""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import uvicorn

from lakehouse_core.metrics import MULTIPROCESS_VARIABLE

log = logging.getLogger(__name__)

#: A worker that exits this soon after the start failed to start: the pool stops rather than
#: forking it again and again.
WORKER_START_GRACE_SECONDS = 10.0


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


#: uvicorn's choice: httptools and uvloop when installed (they come with ``uvicorn[standard]``,
#: which ``fastapi[standard]`` brings), its pure-Python parser and asyncio's loop otherwise.
HTTP_IMPLEMENTATION = "auto"
EVENT_LOOP = "auto"


def serve(
    app_factory: Callable[[], Any],
    *,
    host: str,
    port: int,
    workers: int = 1,
    proxy_headers: bool = False,
) -> None:
    """Serve the app ``app_factory`` builds on ``host:port`` until interrupted, with uvicorn on
    httptools and uvloop where installed, and without an access log line per request (the
    request metrics and, for data reads, the audit records account for every request).

    With ``workers`` > 1 the socket is bound once, then that many worker processes are forked,
    each building its own app and accepting connections on the shared socket (the kernel spreads
    them); a worker that dies is replaced. The workers count their Prometheus metrics in
    multiprocess mode (:func:`lakehouse_core.metrics.exposition`), in a fresh folder (removed at
    the end) unless ``PROMETHEUS_MULTIPROC_DIR`` names one, so ``/metrics`` on the one port sums
    the request metrics of every worker."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    config = uvicorn.Config(
        "unused:app",
        host=host,
        port=port,
        proxy_headers=proxy_headers,
        http=HTTP_IMPLEMENTATION,
        loop=EVENT_LOOP,
        lifespan="on",
        access_log=False,
    )
    if workers == 1:
        config.app = app_factory()
        uvicorn.Server(config).run()
        return
    own_folder = MULTIPROCESS_VARIABLE not in os.environ
    if own_folder:
        os.environ[MULTIPROCESS_VARIABLE] = tempfile.mkdtemp(prefix="lakehouse-metrics-")
    folder = Path(os.environ[MULTIPROCESS_VARIABLE])
    folder.mkdir(parents=True, exist_ok=True)
    try:
        WorkerPool(config, app_factory, workers=workers).run()
    finally:
        if own_folder:
            shutil.rmtree(folder, ignore_errors=True)


class WorkerPool:
    """Forked uvicorn workers sharing one listening socket, replaced when they die, stopped
    together on SIGINT or SIGTERM."""

    def __init__(self, config: uvicorn.Config, app_factory: Callable[[], Any], *, workers: int) -> None:
        self.config = config
        self.app_factory = app_factory
        self.workers = workers
        self._context = multiprocessing.get_context("fork")
        self._stopping = threading.Event()

    def _work(self, sock: socket.socket) -> None:
        from prometheus_client import values

        # prometheus_client chooses how values are kept when it is imported, before the
        # supervisor set the folder: choose again in the worker, before any metric exists.
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        self.config.app = self.app_factory()
        uvicorn.Server(self.config).run(sockets=[sock])

    def _start(self, sock: socket.socket) -> BaseProcess:
        process = self._context.Process(target=self._work, args=(sock,), name="uvicorn-worker")
        process.start()
        return process

    def run(self) -> None:
        from prometheus_client import multiprocess

        sock = self.config.bind_socket()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self._stopping.set())
        processes = [self._start(sock) for _ in range(self.workers)]
        log.info("serving on %s:%s with %d workers", self.config.host, self.config.port, self.workers)
        started = time.monotonic()
        try:
            while not self._stopping.is_set():
                wait([p.sentinel for p in processes], timeout=0.5)
                for index, process in enumerate(processes):
                    if process.is_alive() or self._stopping.is_set():
                        continue
                    if process.pid is not None:
                        multiprocess.mark_process_dead(process.pid)  # type: ignore[no-untyped-call]
                    if time.monotonic() - started < WORKER_START_GRACE_SECONDS:
                        raise RuntimeError(f"a worker exited during start-up (exit code {process.exitcode})")
                    log.warning("worker %s exited with %s; starting another", process.pid, process.exitcode)
                    processes[index] = self._start(sock)
        finally:
            for process in processes:
                if process.is_alive():
                    process.terminate()
            for process in processes:
                process.join(timeout=15)
                if process.is_alive():
                    process.kill()
            sock.close()
