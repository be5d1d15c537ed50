"""Reading a job's outcome the way Ganeti's GenericPollJob does (pure)."""

from __future__ import annotations

import pytest

from ganeti_agent.core.jsontypes import JSONObject
from ganeti_agent.rapi import jobs


def test_success_gives_the_results() -> None:
    assert jobs.job_result("1", {"status": "success", "opresult": [{"a": 1}]}) == [{"a": 1}]


def test_error_names_the_failing_opcode() -> None:
    job: JSONObject = {
        "status": "error",
        "opstatus": ["error"],
        "opresult": [["OpPrereqError", ["No free nodes", "temp_insufficient_resources"]]],
    }
    with pytest.raises(jobs.JobFailed) as caught:
        jobs.job_result("7", job)
    assert caught.value.message == "OpPrereqError: No free nodes (temp_insufficient_resources)"
    assert caught.value.error is not None
    assert caught.value.error.error_code == jobs.ECODE_TEMP_NORES


def test_partial_failure_and_cancel_and_unknown() -> None:
    job: JSONObject = {
        "status": "error",
        "opstatus": ["success", "error"],
        "opresult": [None, ["OpExecError", ["disk 0 failed"]]],
    }
    with pytest.raises(jobs.JobFailed, match=r"partial failure \(opcode 1\): OpExecError"):
        jobs.job_result("7", job)
    with pytest.raises(jobs.JobFailed, match="Job was canceled"):
        jobs.job_result("7", {"status": "canceled"})
    with pytest.raises(jobs.JobFailed, match="status 'weird'"):
        jobs.job_result("7", {"status": "weird"})


def test_log_entries_are_checked() -> None:
    assert jobs.log_entries({"log_entries": [[1, [0, 0], "message", "hi"]]})[0][3] == "hi"
    with pytest.raises(ValueError, match="malformed log entries"):
        jobs.log_entries({"log_entries": [["short"]]})
