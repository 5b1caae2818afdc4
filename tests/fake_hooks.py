"""A local webhook receiver on 127.0.0.1: records every POST (path, JSON body, arrival time) and answers as told.

`statuses` are answered in order, then 200; with `hang` every request waits that many seconds before
answering (a receiver that hangs). Slack- and Discord-style webhooks and Apprise's `json://` both POST here.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    """One POST: its path, its JSON body, and when it arrived (monotonic seconds)."""

    path: str
    body: dict
    at: float


@dataclass
class FakeHooks:
    """Use as a context manager; `url(path)` is a hook address on it."""

    statuses: list[int] = field(default_factory=list)
    hang: float = 0.0
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hooks.received.append(Received(self.path, json.loads(body or b"{}"), time.monotonic()))
                if hooks.hang:
                    time.sleep(hooks.hang)
                status = hooks.statuses.pop(0) if hooks.statuses else 200
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up waiting (a hanging receiver's test)

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}{path}"

    def at(self, path: str) -> list[Received]:
        """What arrived at `path`, in order."""
        return [r for r in self.received if r.path == path]

    def __enter__(self) -> FakeHooks:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
