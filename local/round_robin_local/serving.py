"""Threaded loopback HTTP serving for the local stack and the sandbox, with access logs that never print
query strings (OAuth callbacks carry the code and state there)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

access_log = logging.getLogger("round_robin_local.access")


class QuietRequestHandler(WSGIRequestHandler):
    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        if getattr(self.server, "access_log", True) is False:
            return
        path = self.path.split("?", 1)[0]
        access_log.info("%s %s %s", self.command, path, getattr(code, "value", code))

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 (werkzeug's signature)
        if type == "error":
            access_log.warning(message.split("?", 1)[0] if "%" not in message else message, *args)


class _ThreadedServer(ThreadedWSGIServer):
    # Zendesk may send a thousand webhook deliveries at once. Connections past the listen backlog (werkzeug's
    # default: 128) are dropped, and their senders try again only 1, 3 and 7 seconds later (TCP's SYN retries).
    request_queue_size = 1024


class LoopbackServer:
    """A WSGI app on 127.0.0.1:<port> (0 = any free port) served by a daemon thread."""

    def __init__(self, app: Any, port: int = 0, name: str = "http", *, access_log: bool = True) -> None:
        self._server = _ThreadedServer("127.0.0.1", port, app, QuietRequestHandler)
        self._server.access_log = access_log  # type: ignore[attr-defined]
        self.port = self._server.server_port
        # A short poll interval so that stop() returns at once (Ctrl-C on `make run`).
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=name, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
