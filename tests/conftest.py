"""Shared test configuration: no test may reach a real AWS account."""

import os

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "round-robin")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "RoundRobinForZendesk")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

# The browser tests (marker `browser`) drive Debian's chromium. Without it they are left out, and the run says so
# in one line rather than one skip per test.
CHROMIUM = "/usr/bin/chromium"
NO_BROWSER = f"browser tests not run: {CHROMIUM} is missing (to run them: apt-get install -y chromium)"


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM):
        return
    left_out = [item for item in items if item.get_closest_marker("browser")]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not item.get_closest_marker("browser")]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not os.path.exists(CHROMIUM):
        terminalreporter.write_line(NO_BROWSER)
