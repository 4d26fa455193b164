"""Run the Zendesk sandbox alone: `python -m round_robin_local.sandbox [--port 4010] [--auto-approve]`."""

import argparse
import logging
import signal
import threading

from round_robin_local.sandbox.server import SandboxServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=4010)
    parser.add_argument("--auto-approve", action="store_true", help="approve OAuth consent without a page")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = SandboxServer(args.port, auto_approve=args.auto_approve).start()
    print(f"Zendesk sandbox on {server.url} (URL template {server.url_template}); demo account: {server.url}/acme/")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
