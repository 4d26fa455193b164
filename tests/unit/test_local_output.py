"""An execution environment of the local stack writes each line of output in one piece: the environments share the
stack's stdout, and e2e tests read it line by line (a metrics line and a log line once ran together)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap


def test_an_environment_writes_whole_lines_even_when_python_runs_unbuffered(tmp_path):
    (tmp_path / "handler.py").write_text("def lambda_handler(event, context):\n    return event\n")
    script = textwrap.dedent(f"""
        import json, sys
        from round_robin_local.functions import FunctionSpec, _cold_start
        _cold_start(FunctionSpec("TestFunction", {str(tmp_path)!r}, "handler", "lambda_handler", 3.0, 128))
        sys.stderr.write(json.dumps({{"line_buffering": sys.stdout.line_buffering,
                                      "write_through": sys.stdout.write_through}}))
    """)
    ran = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONUNBUFFERED": "1"},
                         capture_output=True, text=True, timeout=60, check=True)

    # line buffered and not written through: print() hands the line and its newline to one write
    assert json.loads(ran.stderr.strip().splitlines()[-1]) == {"line_buffering": True, "write_through": False}
