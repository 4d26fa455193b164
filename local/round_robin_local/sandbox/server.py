"""The Zendesk sandbox served on a loopback port (the app itself: app.py)."""

from __future__ import annotations

from round_robin_local.sandbox.app import SandboxApp
from round_robin_local.sandbox.demo_data import DEMO_SUBDOMAIN
from round_robin_local.sandbox.model import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox
from round_robin_local.serving import LoopbackServer


class SandboxServer:
    """The sandbox on a loopback port, served by threads; `start()` returns once it accepts connections."""

    def __init__(self, port: int = 0, *, client_id: str = DEFAULT_CLIENT_ID,
                 client_secret: str = DEFAULT_CLIENT_SECRET, auto_approve: bool = False,
                 demo_account: bool = True) -> None:
        self.sandbox = Sandbox(client_id=client_id, client_secret=client_secret, auto_approve=auto_approve)
        if demo_account:
            self.sandbox.create_account(DEMO_SUBDOMAIN)
        self.app = SandboxApp(self.sandbox)
        self._server = LoopbackServer(self.app, port, name="zendesk-sandbox")
        self.port = self._server.port

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def url_template(self) -> str:
        return f"{self.url}/{{subdomain}}"

    def start(self) -> SandboxServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self.app.dispatcher.shutdown()
        self._server.stop()
