"""The AWS emulator (moto in server mode) in a process of its own.

In the stack's own process it shared one interpreter lock with the HTTP API, the AWS proxy and the embedded
sandbox: in a burst of 1,000 webhook deliveries that process was the bottleneck (about 30 ms of its CPU a delivery,
a third of it moto's), and deliveries timed out. Its own process runs it on the other core.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import threading
import time

import requests

STARTUP_DEADLINE = 60.0


def list_moto_services_once() -> None:
    """moto's server finds the service of each request by listing its own package folder (a listdir and a stat per
    service, twice a request) under one lock for every thread: in a burst that lock queued every AWS call of the
    stack. The folder does not change while the emulator runs, so it is listed once."""
    from moto import backends  # noqa: PLC0415 (moto's server imports it anyway)

    services = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: services


def free_port() -> int:
    """A loopback port free now (the emulator binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class EmulatorProcess:
    """moto's threaded server on 127.0.0.1:`port` in a child process; `start()` returns once it answers."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> EmulatorProcess:
        self._process = subprocess.Popen(  # noqa: S603 - our own module, with the interpreter running the stack
            [sys.executable, "-m", "round_robin_local.emulator", str(self.port)], stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + STARTUP_DEADLINE
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the AWS emulator exited at start (code {self._process.returncode})")
            try:
                requests.get(f"{self.url}/moto-api/data.json", timeout=2)
                return self
            except requests.RequestException:  # not listening yet
                time.sleep(0.05)  # polling, bounded by the deadline
        self.stop()
        raise RuntimeError(f"the AWS emulator did not answer within {STARTUP_DEADLINE:g} s")

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)


def main(port: int) -> None:
    """Serve moto on 127.0.0.1:`port` until SIGTERM."""
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    from round_robin_local import emulator_speedups  # noqa: PLC0415 (moto's models: only in this process)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the stack stops us in order
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per AWS call on the stack's output
    list_moto_services_once()
    emulator_speedups.install()  # Query and read answers cost what DynamoDB's do, not the whole table's
    emulator_speedups.install_queues()  # a receive or an attribute read does not walk the queue's messages again
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    stopped.wait()
    server.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]))
