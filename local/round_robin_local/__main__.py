"""`python -m round_robin_local run` (make run) and `python -m round_robin_local demo` (make demo)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from round_robin_local.stack import LocalStack, StackConfig


def run(args: argparse.Namespace) -> int:
    overrides = {"port": args.port} if args.port is not None else {}
    print("Starting the local stack: AWS emulator, Zendesk sandbox, and each function's execution environments ...",
          flush=True)
    stack = LocalStack(StackConfig.from_env(**overrides)).start()
    info = stack.info()
    lines = [
        "Round Robin for Zendesk - local stack",
        f"  API:              {info['api']}",
        f"  Connect (admin):  {info['connect_link']}",
        f"  Admin console:    {info['console_link']}   (sign in with Zendesk, after connecting)",
    ]
    if info["sandbox"]:
        lines.append(f"  Zendesk sandbox:  {info['sandbox']}/acme/   (new tickets: {info['sandbox']}/acme/tickets/new)")
    else:
        lines.append(f"  Zendesk:          {info['zendesk_url_template']}")
    lines += [f"  AWS emulator:     {info['emulator']}   (table {info['table']})",
              f"  Operator CLI:     {_cli_path()} --local {info['api']} accounts", "Press Ctrl-C to stop."]
    print("\n".join(lines), flush=True)  # one write, so that log lines from other threads cannot split it
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    print("\nStopping the local stack ...", flush=True)
    stack.stop()
    print("Stopped.", flush=True)
    sys.stderr.flush()
    # Everything is stopped in order; the interpreter's own teardown of the emulator's modules adds 1-2 s more.
    os._exit(0)


def _cli_path() -> str:
    """The operator CLI next to this interpreter (.venv/bin/round-robin): not on PATH, so shown by its path."""
    return os.path.relpath(os.path.join(os.path.dirname(sys.executable), "round-robin"))


def demo(args: argparse.Namespace) -> int:
    from round_robin_local.demo import run_demo  # noqa: PLC0415 - only the demo needs it

    return run_demo(port=args.port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="round_robin_local", description="Round Robin for Zendesk, locally")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, function, text in (("run", run, "run the local stack until Ctrl-C"),
                                 ("demo", demo, "connect the sandbox account end to end and print the result")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--port", type=int, default=None, help="HTTP API port (default: $PORT or 3000)")
        command.set_defaults(function=function)
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOCAL_LOG_LEVEL", "INFO"), stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3"):  # the emulator's own request lines
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return args.function(args)


if __name__ == "__main__":
    sys.exit(main())
