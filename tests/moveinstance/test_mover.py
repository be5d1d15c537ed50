"""Whole moves in-process against two fake clusters over TLS: failures, pre-flight, parallel."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import reactor as global_reactor

from ganeti_agent.moveinstance import cli, options, plan
from ganeti_agent.moveinstance.mover import InstanceMover
from ganeti_agent.rapi.testing import FakeCluster, instance_records, link
from tests.rapi.support import at, certificate
from tests.support import async_test, free_port

reactor: Any = global_reactor  # the real one: TCP, TLS, timers and name resolution


@dataclass
class Pair:
    source: FakeCluster
    dest: FakeCluster
    arguments: list[str]


@asynccontextmanager
async def clusters(
    tmp_path: Path, instances: Sequence[str] = ("web1",), **dest_settings: Any
) -> AsyncIterator[Pair]:
    source = FakeCluster(
        "source", first_job_id=100, users={"admin": ("secret", True), "reader": ("secret", False)}
    )
    dest = FakeCluster("dest", first_job_id=200, **dest_settings)
    link(source, dest)
    for name in instances:
        source.add_instance(*instance_records(name, tags=[f"owner:{name}"]))
    tls = certificate("mover-tls")
    (tmp_path / "ca.pem").write_bytes(tls[1])
    (tmp_path / "password").write_text("secret\n")
    ports = [source.listen_tls(tls), dest.listen_tls(tls)]
    arguments = [
        f"--src-rapi-port={ports[0].getHost().port}",
        f"--dest-rapi-port={ports[1].getHost().port}",
        f"--src-ca-file={tmp_path / 'ca.pem'}",
        "--src-username=admin",
        f"--src-password-file={tmp_path / 'password'}",
    ]
    try:
        yield Pair(source, dest, arguments)
    finally:
        for port in ports:
            await port.stopListening()


async def run(arguments: Sequence[str]) -> tuple[int, str, str]:
    parsed = options.parse(arguments)
    out, err = io.StringIO(), io.StringIO()
    source, dest = cli.clients(reactor, parsed)
    status = await cli.run(reactor, parsed, source, dest, cli.Console(out, err, False))
    return status, out.getvalue(), err.getvalue()


def paths(cluster: FakeCluster) -> list[tuple[str, str]]:
    return [(request.method, request.path) for request in cluster.requests]


@async_test
async def test_failed_export_aborts_the_import_and_reports_both(tmp_path: Path) -> None:
    async with clusters(tmp_path) as pair:
        pair.source.failures["export"] = ["OpExecError", ["Export failed, disk 0"]]
        status, out, _ = await run(
            [*pair.arguments, "-I", "hail", "127.0.0.1", "localhost", "web1"]
        )
    assert status == cli.EXIT_MOVE_FAILED
    assert out.splitlines()[-1] == (
        "web1: Failed (Source error: job 102 failed: OpExecError: Export failed, disk 0,"
        " destination error: job 200 failed: Job was canceled)"
    )
    assert ("DELETE", "/2/jobs/200") in paths(pair.dest)
    assert pair.dest.jobs[200].status == "canceled"


@async_test
async def test_an_answer_of_the_wrong_shape_is_one_clear_line(tmp_path: Path) -> None:
    async with clusters(tmp_path, ["web1", "web2"]) as pair:
        pair.source.instances["web1"]["tags"] = 5
        del pair.source.instance_info["web2"]["hypervisor"]
        status, out, _ = await run(
            [*pair.arguments, "-I", "hail", "127.0.0.1", "localhost", "web1", "web2"]
        )
    assert status == cli.EXIT_MOVE_FAILED
    assert out.splitlines()[1:] == [
        "web1: Failed (Source error: web1 tags: expected an array, got number,"
        " destination error: Aborted)",
        "web2: Failed (Source error: Aborted,"
        " destination error: instance information: missing member 'hypervisor')",
    ]


@async_test
async def test_import_that_cannot_be_cancelled_is_given_up_on(tmp_path: Path) -> None:
    async with clusters(tmp_path) as pair:
        pair.source.failures["export"] = ["OpExecError", ["Export failed, disk 0"]]
        pair.dest.cancel_running = False
        parsed = options.parse([*pair.arguments, "-I", "hail", "127.0.0.1", "localhost", "web1"])
        source, dest = cli.clients(reactor, parsed)
        lines: list[str] = []
        mover = InstanceMover(
            source, dest, reactor, lambda label, line: lines.append(line), abort_grace=0.1
        )
        (move,) = plan.moves_for(parsed)
        result = await mover.move(move)
    assert result.source_error == "job 102 failed: OpExecError: Export failed, disk 0"
    assert result.dest_error == (
        "import job 200 still running 0.1 s after the move was aborted;"
        " see gnt-job info 200 on the destination"
    )
    assert "job 200 not cancelled: ['Job 200 is no longer waiting in the queue']" in lines
    assert pair.dest.jobs[200].status == "running"


@async_test
async def test_refused_import_stops_the_source_before_export(tmp_path: Path) -> None:
    async with clusters(tmp_path) as pair:
        pair.dest.failures["create"] = ["OpPrereqError", ["Instance exists", "exists"]]
        status, out, _ = await run(
            [*pair.arguments, "-I", "hail", "127.0.0.1", "localhost", "web1"]
        )
    assert status == cli.EXIT_MOVE_FAILED
    assert "Source error: Aborted, destination error: job 200 failed: OpPrereqError:" in out
    assert not any(path.endswith("/export") for _, path in paths(pair.source))


@async_test
async def test_missing_instance(tmp_path: Path) -> None:
    async with clusters(tmp_path) as pair:
        status, out, _ = await run(
            [*pair.arguments, "-I", "hail", "127.0.0.1", "localhost", "ghost"]
        )
    assert status == cli.EXIT_MOVE_FAILED
    assert out.splitlines()[-1] == (
        "ghost: Failed (Source error: Instance ghost not found on cluster 127.0.0.1"
        " (404 Not Found: Instance 'ghost' not known), destination error: Aborted)"
    )
    assert ("POST", "/2/instances") not in paths(pair.dest)


@async_test
async def test_keep_source_instance_stops_it_first(tmp_path: Path) -> None:
    async with clusters(tmp_path) as pair:
        status, out, _ = await run(
            [
                *pair.arguments,
                "-I",
                "hail",
                "--keep-source-instance",
                "127.0.0.1",
                "localhost",
                "web1",
            ]
        )
        assert status == cli.EXIT_SUCCESS, out
        source_paths = paths(pair.source)
        shutdown = source_paths.index(("PUT", "/2/instances/web1/shutdown"))
        assert shutdown < source_paths.index(("PUT", "/2/instances/web1/export"))
        export = next(r for r in pair.source.requests if r.path.endswith("/export"))
        assert at(export.body, "remove_instance") is False and at(export.body, "shutdown") is True
        assert pair.source.instances["web1"]["admin_state"] == "down"


@async_test
async def test_opportunistic_attempt_then_a_normal_one(tmp_path: Path) -> None:
    async with clusters(tmp_path) as pair:
        pair.dest.failures["create"] = [
            "OpPrereqError",
            ["No free nodes", "temp_insufficient_resources"],
        ]
        status, out, err = await run(
            [
                *pair.arguments,
                "-I",
                "hail",
                "--opportunistic-tries=1",
                "--opportunistic-delay=1",
                "127.0.0.1",
                "localhost",
                "web1",
            ]
        )
    assert status == cli.EXIT_SUCCESS, out
    creations = [r.body for r in pair.dest.requests if r.method == "POST"]
    assert [at(body, "opportunistic_locking") for body in creations] == [True, False]
    assert "opportunistic attempt failed, next one in" in err


@async_test
async def test_parallel_moves_share_one_reactor(tmp_path: Path) -> None:
    names = ["web1", "web2", "web3"]
    async with clusters(tmp_path, names) as pair:
        status, out, err = await run(
            [*pair.arguments, "-I", "hail", "-p", "3", "127.0.0.1", "localhost", *names]
        )
    assert status == cli.EXIT_SUCCESS
    assert out.splitlines() == ["Instance move results:"] + [f"{n}: Success" for n in names]
    source_paths = paths(pair.source)
    first_export = min(i for i, (m, p) in enumerate(source_paths) if p.endswith("/export"))
    last_lookup = max(source_paths.index(("GET", f"/2/instances/{n}")) for n in names)
    assert last_lookup < first_export
    for name in names:
        assert f"{name}: export finished" in err
        creation = next(
            r.body for r in pair.dest.requests if r.method == "POST" and at(r.body, "name") == name
        )
        assert at(creation, "tags") == [f"owner:{name}"]


@async_test
async def test_destination_default_iallocator_counts(tmp_path: Path) -> None:
    async with clusters(tmp_path, ["a", "b"], info={"default_iallocator": "hail"}) as pair:
        status, _, _ = await run([*pair.arguments, "127.0.0.1", "localhost", "a", "b"])
    assert status == cli.EXIT_SUCCESS


@pytest.mark.parametrize(
    ("extra", "instances", "message"),
    [
        ([], ["a", "b"], "When moving multiple nodes, an iallocator must be used."),
        ([], ["a"], "Target cluster does not have a default iallocator, please specify"),
        (
            ["--src-username=reader"],
            ["a"],
            "Source cluster 127.0.0.1: the RAPI user reader has no write access (HTTP 403)",
        ),
    ],
)
@async_test
async def test_preflight_refusals(
    tmp_path: Path, extra: list[str], instances: list[str], message: str
) -> None:
    async with clusters(tmp_path, instances) as pair:
        status, _, err = await run([*pair.arguments, *extra, "127.0.0.1", "localhost", *instances])
    assert status == cli.EXIT_PREFLIGHT
    assert message in err
    assert not any(method != "GET" for method, _ in paths(pair.source) + paths(pair.dest))


@async_test
async def test_preflight_login_refused(tmp_path: Path) -> None:
    async with clusters(tmp_path, read_needs_auth=True) as pair:
        (tmp_path / "wrong").write_text("not-the-password\n")
        status, _, err = await run(
            [
                *pair.arguments,
                f"--dest-password-file={tmp_path / 'wrong'}",
                "-I",
                "h",
                "127.0.0.1",
                "localhost",
                "web1",
            ]
        )
    assert status == cli.EXIT_PREFLIGHT
    assert (
        "Destination cluster localhost: the RAPI refused the login (HTTP 401); check"
        " --dest-username and --dest-password-file"
    ) in err


@async_test
async def test_preflight_unreachable_and_untrusted(tmp_path: Path) -> None:
    async with clusters(tmp_path) as pair:
        closed = free_port()
        status, _, err = await run(
            [
                *pair.arguments,
                f"--dest-rapi-port={closed}",
                "-I",
                "h",
                "127.0.0.1",
                "localhost",
                "web1",
            ]
        )
        assert status == cli.EXIT_PREFLIGHT
        assert f"Destination cluster localhost: https://localhost:{closed}/version:" in err
        assert "cannot connect" in err
        other = tmp_path / "other.pem"
        other.write_bytes(certificate("some-other-ca")[1])
        status, _, err = await run(
            [
                *pair.arguments,
                f"--dest-ca-file={other}",
                "-I",
                "h",
                "127.0.0.1",
                "localhost",
                "web1",
            ]
        )
    assert status == cli.EXIT_PREFLIGHT
    assert f"TLS certificate does not verify against the CA file {other}" in err


def test_password_file_problems(tmp_path: Path) -> None:
    base = [f"--src-ca-file={tmp_path / 'ca.pem'}", "-I", "h"]
    (tmp_path / "ca.pem").write_bytes(certificate("mover-tls")[1])
    missing = options.parse(
        [*base, "--src-username=u", f"--src-password-file={tmp_path / 'nope'}", "s", "d", "i"]
    )
    with pytest.raises(cli.SetupError, match="cannot read --src-password-file .*nope: No such"):
        cli.clients(reactor, missing)
    no_password = options.parse([*base, "--src-username=u", "s", "d", "i"])
    with pytest.raises(cli.SetupError, match="--src-username needs a password"):
        cli.clients(reactor, no_password)
    (tmp_path / "two").write_text("a\nb\n")
    two_lines = options.parse(
        [*base, "--src-username=u", f"--src-password-file={tmp_path / 'two'}", "s", "d", "i"]
    )
    with pytest.raises(cli.SetupError, match="Too many lines in one-liner file"):
        cli.clients(reactor, two_lines)
    (tmp_path / "huge").write_bytes(b"x" * (cli.MAX_PASSWORD_FILE_BYTES + 1))
    huge = options.parse(
        [*base, "--src-username=u", f"--src-password-file={tmp_path / 'huge'}", "s", "d", "i"]
    )
    with pytest.raises(cli.SetupError, match="is larger than 4096 bytes"):
        cli.clients(reactor, huge)


def test_progress_lines_are_printable_and_bounded() -> None:
    assert cli.printable("web1: job 5: evil\x1b[2J\nline") == "web1: job 5: evil?[2J?line"
    assert len(cli.printable("x" * 5000)) == cli.MAX_LINE + 1


@async_test
async def test_console_script_exit_status_without_traceback(tmp_path: Path) -> None:
    from tests.moveinstance.conversation import OUR_TOOL, run_command

    (tmp_path / "ca.pem").write_bytes(certificate("mover-tls")[1])
    code, out, err = await run_command(
        [
            str(OUR_TOOL),
            f"--src-ca-file={tmp_path / 'ca.pem'}",
            "--src-username=u",
            f"--src-password-file={tmp_path / 'missing'}",
            "-I",
            "h",
            "s",
            "d",
            "i",
        ]
    )
    assert code == cli.EXIT_USAGE
    assert err.strip() == (
        f"ganeti-move-instance: error: cannot read --src-password-file {tmp_path / 'missing'}:"
        " No such file or directory"
    )
    assert "Traceback" not in err and out == ""
    code, _, err = await run_command(
        [
            str(OUR_TOOL),
            f"--src-ca-file={tmp_path / 'ca.pem'}",
            "-I",
            "h",
            "--src-rapi-port=1",
            "127.0.0.1",
            "d",
            "i",
        ]
    )
    assert code == cli.EXIT_PREFLIGHT and "Traceback" not in err
    assert "Source cluster 127.0.0.1: https://127.0.0.1:1/version: cannot connect" in err
