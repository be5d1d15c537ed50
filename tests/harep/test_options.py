"""harep's command line: Ganeti's texts and exit codes (recorded from 3.0.2), our options after."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ganeti_agent.harep import options
from ganeti_agent.htools.cli import UsageExit
from tests.harep.normalize import VERSION

RECORDED: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "options.json").read_text()
)
PARSED_ONLY = [case for case in RECORDED if case != "-L"]


def _outcome(argv: list[str]) -> tuple[int, str, str]:
    try:
        options.parse(argv)
    except UsageExit as stop:
        return stop.code, stop.stdout_text, stop.stderr_text
    return -1, "", ""


@pytest.mark.parametrize("case", PARSED_ONLY)
def test_ganetis_texts_then_ours(case: str) -> None:
    expected = RECORDED[case]
    code, out, err = _outcome(case.split())
    if expected["code"] == 0 and not expected["stdout"]:
        assert code == -1  # parsed; Ganeti's run would start here
        return
    assert code == expected["code"]
    for mine, theirs in ((out, expected["stdout"]), (err, expected["stderr"])):
        mine, theirs = VERSION.sub("<v>", mine), VERSION.sub("<v>", theirs)
        assert mine.startswith(theirs)
        extension = mine[len(theirs) :]
        assert all(name not in extension for name in ("--luxi", "--job-delay", "--dry-run"))


def test_values() -> None:
    parsed = options.parse(
        ["-L/s", "--job-delay=0x10", "--reason=why", "--dry-run", "-v", "-q", "-q"]
    )
    assert (parsed.luxi, parsed.job_delay, parsed.reason, parsed.dry_run) == (
        "/s",
        16.0,
        "why",
        True,
    )
    assert parsed.verbose == 0
    assert options.parse(["-L"]).luxi == "/var/run/ganeti/socket/ganeti-query"
    assert options.parse([]).luxi is None
    assert options.parse([]).job_delay == 10.0


def test_rapi_options() -> None:
    parsed = options.parse(
        ["-m", "cluster", "--rapi-port=5081", "--ca-file=ca.pem", "--username=u",
         "--password-file=pw", "--lock-file=l"]
    )  # fmt: skip
    assert (parsed.master, parsed.rapi_port, parsed.ca_file) == ("cluster", 5081, "ca.pem")
    assert (parsed.username, parsed.password_file, parsed.lock_file) == ("u", "pw", "l")


def test_luxi_and_rapi_together_are_refused() -> None:
    assert _outcome(["-L", "-m", "cluster"]) == (1, "", "Error: give either -L or -m, not both.\n")


def test_rapi_endpoint(tmp_path: Path) -> None:
    from ganeti_agent.harep.errors import HarepError
    from ganeti_agent.harep.rapi_backend import endpoint_for

    password = tmp_path / "pw"
    password.write_text("s3cret\n")
    given = ["--username=u", f"--password-file={password}", "--ca-file=ca.pem"]
    point = endpoint_for(options.parse(["-m", "https://c.example.com:5081", *given]))
    assert (point.host, point.port, point.username, point.password) == (
        "c.example.com", 5081, "u", "s3cret"
    )  # fmt: skip
    assert endpoint_for(options.parse(["-m", "c", *given])).port == 5080
    for wrong in (["-m", "http://c"], ["-m", "c", "--username=u"]):
        with pytest.raises(HarepError):
            endpoint_for(options.parse(wrong))
