"""The command line's own error: a mistake the operator can fix, or a target that cannot be reached."""

from __future__ import annotations


class CliError(Exception):
    """Printed as one line on stderr, never as a traceback; `exit_code` 2 for a malformed command line."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
