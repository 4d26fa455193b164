"""`round-robin`: the operator's command line, on the same AWS resources as the deployed functions.

    .venv/bin/round-robin --stack round-robin accounts            # a deployed stack (your AWS credentials)
    .venv/bin/round-robin --local http://127.0.0.1:3000 accounts  # the local stack (make run)
    .venv/bin/round-robin accounts                                # the functions' environment variables

Commands: accounts, agents, availability, capacity, settings, hours, exclude, resync, maintain,
register-api-token, migrate; --json (anywhere on the line) prints JSON. API tokens are read from the
ZENDESK_API_TOKEN environment variable or typed at a prompt, never taken as an argument (shell history).
A mistake is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import BotoCoreError, ClientError

from round_robin.errors import RoundRobinError, SettingsError
from round_robin_cli.errors import CliError
from round_robin_cli.output import one_line, render
from round_robin_cli.targets import aws_error, local_environment, stack_environment

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run one command; 0 on success, 1 (2 for a malformed line, 130 on Ctrl-C) with one line on stderr."""
    from round_robin_cli.arguments import parse

    try:
        args = parse(argv, __doc__)
        with _logs_on_stderr(args.verbose):
            _use_target(args.local, args.stack)
            output = args.run(args)
    except CliError as exc:
        return _fail(str(exc), exc.exit_code)
    except SettingsError as exc:
        where = "" if os.environ.get("TABLE_NAME") else " (or give --stack <name> or --local <url>)"
        return _fail(f"{exc}{where}")
    except RoundRobinError as exc:
        return _fail(str(exc))
    except (BotoCoreError, ClientError) as exc:  # a client made outside the adapters (no region, no credentials)
        return _fail(str(aws_error(exc, "calling AWS")))
    except GetParameterError as exc:  # Powertools reading one of the service's secrets (e.g. the state key)
        return _fail(f"reading the service's secret failed: {exc}")
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    print(render(output, args.json))
    return 0


@contextmanager
def _logs_on_stderr(verbose: bool) -> Iterator[None]:
    """The service's structured log lines on stderr, so that stdout holds only the command's answer; errors only
    unless --verbose (the command says what went wrong itself). Restored after: main also runs in-process."""
    from round_robin.observability import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)  # Powertools' handler writes to a stream
    level, stream = logger.log_level, handler.stream
    handler.setStream(sys.stderr)
    logger.setLevel("INFO" if verbose else "ERROR")
    try:
        yield
    finally:
        handler.setStream(stream)
        logger.setLevel(level)


def _use_target(local: str | None, stack: str | None) -> None:
    """The functions' environment of the target, for round_robin.wiring to build the service objects from."""
    from round_robin import wiring

    if local:
        os.environ.update(local_environment(local))
    elif stack:
        os.environ.update(stack_environment(stack))
    wiring.reset()


def _fail(message: str, exit_code: int = 1) -> int:
    print(f"round-robin: {one_line(message)}", file=sys.stderr)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
