"""Run-wide rules: a missing ../shared fixture fails the run where CI requires them."""

from __future__ import annotations

from collections.abc import Generator

import pytest
from _pytest.reports import TestReport

from tests.support import REQUIRE_SHARED_VARIABLE, SHARED_MISSING, shared_required


def _skip_reason(report: TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return ""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport() -> Generator[None, pytest.TestReport, None]:
    """Turn a skip for a missing shared fixture into a failure when they are required."""
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and shared_required()):
        return
    reason = _skip_reason(report)
    if SHARED_MISSING in reason:
        report.outcome = "failed"
        report.longrepr = f"{reason} ({REQUIRE_SHARED_VARIABLE}=1: shared fixtures are required)"
