"""The application served by uvicorn on a free loopback port in a background thread, for tests that
need a real server (browsers, MCP clients, the Inspector)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from companion.app import create_app
from companion.config import Settings


@contextmanager
def serving(settings: Settings, *, start_timeout: float) -> Iterator[str]:
    """Serve the app until the block ends; yields its base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    # OAuth metadata and DNS-rebinding checks must name the address clients really use.
    app = create_app(settings.model_copy(update={"public_base_url": base_url}))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        listener.close()
