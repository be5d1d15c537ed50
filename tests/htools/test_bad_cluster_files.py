"""Odd and hostile cluster files: what hspace and hroller answer, as Ganeti 3.0.2's tools do.

Every expectation marked "real" was printed by Ganeti 3.0.2's own hspace or
hroller on the same file and options; ``test_same_as_the_real_tool`` runs
the real tools on every case when they are installed.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ganeti_agent.htools import hroller, hspace

REAL_DIR = Path("/usr/lib/ganeti/3.0/usr/bin")
POLICY = (
    "128,1,1024,1,1,1|128,1,1024,1,1,1;32768,8,1048576,16,8,12|"
    "diskless,file,sharedfile,plain,blockdev,drbd,rbd,ext,gluster"
)
NODE = "65536|0|65536|7629394|{free_disk}|16|{flag}|fake-uuid-01|1||N|0|1|{speed}"
INSTANCES = """\
new-0|32768|1048576|8|running|Y|node-01-004|node-01-003|drbd||1|12|N
new-1|32768|1048576|8|running|Y|node-01-002|node-01-001|drbd||1|12|N
new-2|32704|1048576|8|running|Y|node-01-003|node-01-001|drbd||1|12|N
new-3|32704|1048576|8|running|Y|node-01-001|node-01-004|drbd||1|12|N
new-4|32704|1048576|8|running|Y|node-01-002|node-01-004|drbd||1|12|N
"""


def cluster(
    group_vcpu_ratio: str = "4.0", node_02_memory: str = "0", node_02_speed: str = "1.0"
) -> bytes:
    """Ganeti's hspace -S output of its single-group shelltest, with one field changed."""
    nodes = []
    for number, free_disk, flag in ((1, 4483666, "M"), (2, 5532242, "N"), (3, 5532242, "N"),
                                    (4, 4483666, "N")):  # fmt: skip
        line = f"node-01-00{number}|" + NODE.format(free_disk=free_disk, flag=flag, speed="1.0")
        if number == 2:
            fields = line.split("|")
            fields[2], fields[14] = node_02_memory, node_02_speed
            line = "|".join(fields)
        nodes.append(line + "\n")
    text = (
        "group-01|fake-uuid-01|preferred||\n\n"
        + "".join(nodes)
        + "\n"
        + INSTANCES
        + "\n\n"
        + f"|{POLICY}|4.0|32.0\n"
        + f"group-01|{POLICY}|{group_vcpu_ratio}|32.0"
    )
    return text.encode()


REBOOT_ALL_APART = "'Node Reboot Groups'\nnode-01-004\nnode-01-003\nnode-01-002\nnode-01-001\n"
NO_ALLOCATION_HUMAN = """\
The cluster has 4 nodes and the following resources:
  MEM 262144, DSK 30517576, CPU 64, VCPU {vcpu}.
There are 5 initial instances on the cluster.
Tiered (initial size) instance spec is:
  MEM 32768, DSK 1048576, CPU 8, using disk template 'diskless'.
Tiered allocation results:
  - no instances allocated
  - most likely failure reason: FailMem
  - initial cluster score: {score}
  -   final cluster score: {score}
  - memory usage efficiency: 62.43%
  -   disk usage efficiency: 34.36%
  -   vcpu usage efficiency: {cpu_eff}%
Standard (fixed-size) instance spec is:
  MEM 128, DSK 1024, CPU 1, using disk template 'diskless'.
Normal (fixed-size) allocation results:
  -   0 instances allocated
  - most likely failure reason: FailMem
  - initial cluster score: {score}
  -   final cluster score: {score}
  - memory usage efficiency: 62.43%
  -   disk usage efficiency: 34.36%
  -   vcpu usage efficiency: {cpu_eff}%
"""


@dataclass(frozen=True)
class Case:
    name: str
    tool: str
    content: bytes
    args: tuple[str, ...]
    check: Callable[[str, str, int, str], None]
    """Called with stdout, stderr, exit code and the file's path."""


def _exactly(stdout: str, stderr: str = "", code: int = 0) -> Callable[[str, str, int, str], None]:
    def check(out: str, err: str, rc: int, path: str) -> None:
        assert (out, err, rc) == (stdout, stderr.format(path=path), code)

    return check


def _lines(*wanted: str) -> Callable[[str, str, int, str], None]:
    """Exit 0, nothing on stderr, and these whole lines somewhere in stdout."""

    def check(out: str, err: str, rc: int, path: str) -> None:
        assert (err, rc) == ("", 0)
        lines = out.splitlines()
        assert [w for w in wanted if w not in lines] == []

    return check


DECODE_ERROR = "{tool}: {{path}}: hGetContents: invalid argument (invalid byte sequence)\n"
VALID = cluster()
CASES = [
    # real: GHC decodes the whole file with the (UTF-8) locale before parsing.
    *(
        Case(
            f"not-utf8-{tool}", tool, b"x\xff", (), _exactly("", DECODE_ERROR.format(tool=tool), 1)
        )
        for tool in ("hroller", "hspace")
    ),
    # real: the decoding error wins over a parse error earlier in the file.
    Case(
        "not-utf8-after-a-bad-group",
        "hroller",
        b"bad-group\n" + VALID.replace(b"\n\n\n|", b"\ntag\xed\xa0\x80\n\n|"),
        (),
        _exactly("", DECODE_ERROR.format(tool="hroller"), 1),
    ),
    # real: no newline translation, so a CRLF file has no empty line at all.
    Case(
        "crlf",
        "hroller",
        VALID.replace(b"\n", b"\r\n"),
        (),
        _exactly(
            "",
            "Error: failed to load data, aborting: Invalid format of the input file: "
            "1 sections instead of 4 or more\n",
            1,
        ),
    ),
    # real: floor(Infinity * 16) :: Int is minBound, summed as an Integer.
    Case(
        "group-vcpu-ratio-infinity-hroller",
        "hroller",
        cluster(group_vcpu_ratio="Infinity"),
        (),
        _exactly(REBOOT_ALL_APART),
    ),
    Case(
        "group-vcpu-ratio-infinity-hspace",
        "hspace",
        cluster(group_vcpu_ratio="Infinity"),
        (),
        _exactly(
            NO_ALLOCATION_HUMAN.format(
                vcpu="-36893488147419103232", score="2.79919344", cpu_eff="-0.00"
            )
        ),
    ),
    # real: floor(-Infinity) is maxBound; the unavailable VCPUs wrap as an Int.
    Case(
        "group-vcpu-ratio-minus-infinity",
        "hspace",
        cluster(group_vcpu_ratio="-Infinity"),
        ("--machine-readable",),
        _lines("HTS_CLUSTER_VCPU=36893488147419103228", "HTS_KM_UNAV_CPU='-48'"),
    ),
    Case(
        "group-vcpu-ratio-1e999",
        "hspace",
        cluster(group_vcpu_ratio="1e999"),
        ("--machine-readable",),
        _lines("HTS_CLUSTER_VCPU='-36893488147419103232'", "HTS_KM_UNAV_CPU='-44'"),
    ),
    Case(
        "max-cpu-nan",
        "hspace",
        VALID,
        ("--max-cpu=NaN",),
        _exactly(
            NO_ALLOCATION_HUMAN.format(
                vcpu="-36893488147419103232", score="2.79919344", cpu_eff="-0.00"
            )
        ),
    ),
    # real: a minBound loDsk makes availDisk wrap negative; the sums do not wrap.
    Case(
        "min-disk-infinity",
        "hspace",
        VALID,
        ("--machine-readable", "--min-disk=Infinity"),
        _lines(
            "HTS_INI_DSK_AVAIL='-36893488147399071416'",
            "HTS_INI_DSK_RESVD=36893488147419103232",
            "HTS_INI_MNODE_DSK_AVAIL=0",
        ),
    ),
    # real: a 5,000-digit Int wraps; a zero with a huge exponent is a zero.
    Case(
        "5000-digit-node-memory",
        "hroller",
        cluster(node_02_memory="7" * 5000),
        (),
        _exactly(REBOOT_ALL_APART),
    ),
    Case(
        "cpu-speed-zero-huge-exponent",
        "hspace",
        cluster(node_02_speed="0e99999999999"),
        (),
        _exactly(NO_ALLOCATION_HUMAN.format(vcpu="256", score="NaN", cpu_eff="17.19")),
    ),
]


@pytest.fixture
def ours_recursion_limit() -> Iterator[None]:
    """``hspace.main`` raises the recursion limit for tiered allocation; put it back."""
    limit = sys.getrecursionlimit()
    yield
    sys.setrecursionlimit(limit)


def _write(tmp_path: Path, case: Case) -> str:
    path = tmp_path / f"{case.name}.data"
    path.write_bytes(case.content)
    return str(path)


def _run_ours(case: Case, path: str, capsys: pytest.CaptureFixture[str]) -> tuple[str, str, int]:
    main = hroller.main if case.tool == "hroller" else hspace.main
    code = main([*case.args, "-t", path])
    captured = capsys.readouterr()
    return captured.out, captured.err, code


@pytest.mark.usefixtures("ours_recursion_limit")
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_ours(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, case)
    case.check(*_run_ours(case, path, capsys), path)


@pytest.mark.usefixtures("ours_recursion_limit")
@pytest.mark.skipif(not (REAL_DIR / "hspace").exists(), reason="Ganeti's htools are not installed")
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_same_as_the_real_tool(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real tool still prints the expectation, and ours prints all it prints."""
    path = _write(tmp_path, case)
    done = subprocess.run(
        [str(REAL_DIR / case.tool), *case.args, "-t", path],
        capture_output=True,
        text=True,
        env={"LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"},
        check=False,
        timeout=120,
    )
    case.check(done.stdout, done.stderr, done.returncode, path)
    assert _run_ours(case, path, capsys) == (done.stdout, done.stderr, done.returncode)
