"""``-I``: hspace and hroller on the cluster inside an iallocator request (``ialloc.py``).

Every ``hail-*.json`` of Ganeti's test data, and requests broken on purpose,
go through our tools and, when Ganeti's htools are installed, through the
real ones: stdout, stderr and exit code must be the same. Recorded outputs
of the real tools and the real error texts check the same without them.
"""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ganeti_agent.htools import hroller, hspace, ialloc
from ganeti_agent.htools.types import LoadError
from tests.support import SHARED, SHARED_MISSING

FIXTURES = SHARED / "fixtures" / "htools"
REQUESTS = sorted(FIXTURES.glob("hail-*.json"))
RECORDED = Path(__file__).parent / "data" / "ialloc"
REAL = Path("/usr/lib/ganeti/3.0/usr/bin")
ENV = {"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin", "HOME": "/tmp"}

Request = dict[str, Any]


def _fixture(name: str) -> Request:
    if not (FIXTURES / name).exists():
        pytest.skip(f"{SHARED_MISSING} {FIXTURES / name}")
    loaded: Request = json.loads((FIXTURES / name).read_text())
    return loaded


def _first(mapping: dict[str, Any]) -> Any:
    return next(iter(mapping.values()))


def _set(
    path: Callable[[Request], dict[str, Any]], key: str, value: Any
) -> Callable[[Request], None]:
    return lambda request: path(request).__setitem__(key, value)


def _drop(path: Callable[[Request], dict[str, Any]], key: str) -> Callable[[Request], None]:
    return lambda request: path(request).pop(key) and None


def _top(request: Request) -> dict[str, Any]:
    return request


def _req(request: Request) -> dict[str, Any]:
    result: dict[str, Any] = request["request"]
    return result


def _node(request: Request) -> dict[str, Any]:
    result: dict[str, Any] = _first(request["nodes"])
    return result


def _inst(request: Request) -> dict[str, Any]:
    result: dict[str, Any] = _first(request["instances"])
    return result


def _group(request: Request) -> dict[str, Any]:
    result: dict[str, Any] = _first(request["nodegroups"])
    return result


# (name, fixture, change, the real tools' error line without "Error: ")
BROKEN: list[tuple[str, str, Callable[[Request], None], str]] = [
    ("no-request", "hail-alloc-twodisks.json", _drop(_top, "request"),
     "invalid iallocator message: key 'request' not found, object contains only "
     '["cluster_tags","instances","ipolicy","nodegroups","nodes","enabled_hypervisors","version"]'),
    ("request-array", "hail-alloc-drbd.json", _set(_top, "request", []),
     "invalid iallocator message: key 'request': Unable to read JSObject"),
    ("bad-type", "hail-alloc-drbd.json", _set(_req, "type", "explode"),
     "Invalid request type 'explode'"),
    ("type-number", "hail-alloc-drbd.json", _set(_req, "type", 3),
     "invalid request dict: key 'type': Unable to read String"),
    ("group-bad-policy", "hail-alloc-drbd.json", _set(_group, "alloc_policy", "sometimes"),
     "invalid data for group 'uuid-group-1': key 'alloc_policy': "
     'Invalid string value for type AllocPolicy: "sometimes"'),
    ("node-unknown-group", "hail-alloc-drbd.json", _set(_node, "group", "nope"),
     "Unknown group 'nope' for node node1"),
    ("node-bad-memory", "hail-alloc-drbd.json", _set(_node, "total_memory", "lots"),
     "invalid data for node 'node1': key 'total_memory': Unable to read Double"),
    ("node-tags-number", "hail-alloc-drbd.json", _set(_node, "tags", 7),
     "key 'tags': Unable to read list"),
    ("inst-unknown-node", "hail-alloc-drbd.json", _set(_inst, "nodes", ["ghost"]),
     "Unknown node 'ghost' for instance instance14"),
    ("inst-empty-nodes", "hail-alloc-drbd.json", _set(_inst, "nodes", []),
     "empty node list for instance instance14"),
    ("inst-node-number", "hail-alloc-drbd.json", _set(_inst, "nodes", [1]), "Wrong JSON type"),
    ("inst-disks-object", "hail-alloc-drbd.json", _set(_inst, "disks", {"a": 1}),
     'Invalid input, expected array but got {"a": 1}'),
    ("inst-disk-no-size", "hail-alloc-drbd.json", _set(_inst, "disks", [{"mode": "rw"}]),
     "invalid data for instance 'instance14': key 'size' not found, object contains only "
     '["mode"]'),
    ("inst-bad-template", "hail-alloc-drbd.json", _set(_inst, "disk_template", "floppy"),
     "invalid data for instance 'instance14': key 'disk_template': "
     'Invalid string value for type DiskTemplate: "floppy"'),
    ("inst-bad-nic-mode", "hail-alloc-drbd.json", _set(_inst, "nics", [{"mode": "tunnel"}]),
     "invalid NIC mode in instance instance14"),
    ("bad-hypervisor", "hail-alloc-drbd.json", _set(_top, "enabled_hypervisors", ["vmware"]),
     "invalid iallocator message: key 'enabled_hypervisors': "
     'Invalid string value for type Hypervisor: "vmware"'),
    ("tags-not-list", "hail-alloc-drbd.json", _set(_top, "cluster_tags", "x"),
     "invalid iallocator message: key 'cluster_tags': Unable to read list"),
    ("restrict-number", "hail-alloc-drbd.json", _set(_req, "restrict-to-nodes", 4),
     "key 'restrict-to-nodes': Unable to read list"),
    ("reloc-unknown-instance", "hail-reloc-drbd.json", _set(_req, "name", "ghost"),
     "Unknown instance 'ghost'"),
    ("reloc-unknown-from", "hail-reloc-drbd.json", _set(_req, "relocate_from", ["ghost"]),
     "Wrong number of elems found with name ghost"),
    ("evac-bad-mode", "hail-node-evac.json", _set(_req, "evac_mode", "sideways"),
     'invalid request dict: key \'evac_mode\': Invalid string value for type EvacMode: "sideways"'),
    ("multi-not-objects", "hail-alloc-drbd.json",
     _set(_top, "request", {"type": "multi-allocate", "instances": [1]}),
     "invalid request dict: key 'instances': Unable to read JSObject"),
    ("change-group-unknown", "hail-alloc-drbd.json",
     _set(_top, "request", {"type": "change-group", "instances": [], "target_groups": ["x"]}),
     "Wrong number of elems found with name x"),
]  # fmt: skip


def _broken(tmp_path: Path, name: str, fixture: str, change: Callable[[Request], None]) -> Path:
    request = copy.deepcopy(_fixture(fixture))
    change(request)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(request))
    return path


def _run_ours(tool: str, args: list[str]) -> tuple[int, str, str]:
    """The tool in-process; ``main`` prints errors as the console script does."""
    main = hspace.main if tool == "hspace" else hroller.main
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr, sys.getrecursionlimit()
    sys.stdout, sys.stderr = out, err
    try:
        code = main(args)
    finally:
        sys.stdout, sys.stderr = saved[:2]
        sys.setrecursionlimit(saved[2])
    return code, out.getvalue(), err.getvalue()


def _run(argv: list[str], stdin: bytes = b"") -> tuple[int, bytes, bytes]:
    proc = subprocess.run(argv, input=stdin, capture_output=True, check=False, timeout=600, env=ENV)
    return proc.returncode, proc.stdout, proc.stderr


def _real(tool: str) -> Path:
    if not (REAL / tool).exists():
        pytest.skip(
            f"Ganeti's {tool} (ganeti-htools-3.0) is not installed; nothing to compare with"
        )
    return REAL / tool


# --- without the real tools ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fixture", "change", "message"), BROKEN, ids=[c[0] for c in BROKEN]
)
def test_a_broken_request_stops_with_ganetis_message(
    tmp_path: Path, name: str, fixture: str, change: Callable[[Request], None], message: str
) -> None:
    path = _broken(tmp_path, name, fixture, change)
    for tool in ("hspace", "hroller"):
        assert _run_ours(tool, ["-I", str(path)]) == (1, "", f"Error: {message}\n")


def test_hspace_prints_what_the_real_one_printed() -> None:
    """Ganeti's own check ends this run: the request's instances are counted twice."""
    _fixture("hail-alloc-drbd.json")
    code, out, err = _run_ours(
        "hspace", ["-I", str(FIXTURES / "hail-alloc-drbd.json"), "--machine-readable"]
    )
    assert code == 1
    assert out == (RECORDED / "hspace-alloc-drbd.stdout").read_text()
    assert err == (RECORDED / "hspace-alloc-drbd.stderr").read_text()


def test_hroller_prints_what_the_real_one_printed() -> None:
    _fixture("hail-alloc-spindles.json")
    args = ["-I", str(FIXTURES / "hail-alloc-spindles.json"), "--force"]
    code, out, err = _run_ours("hroller", args)
    assert code == 0
    assert out == (RECORDED / "hroller-alloc-spindles.stdout").read_text()
    assert err == (RECORDED / "hroller-alloc-spindles.stderr").read_text()


def test_a_request_has_no_master_node() -> None:
    _fixture("hail-alloc-drbd.json")
    code, out, err = _run_ours("hroller", ["-I", str(FIXTURES / "hail-alloc-drbd.json")])
    assert (code, out) == (1, "")
    assert err.endswith("Error: No master node found (maybe not supported by backend).\n")


def test_the_first_enabled_hypervisor_decides_the_static_kvm_memory(tmp_path: Path) -> None:
    """On KVM the node memory becomes ``--static-kvm-node-memory`` (4096 by default)."""
    xen = _broken(tmp_path, "xen", "hail-alloc-drbd.json", lambda r: None)
    kvm = _broken(
        tmp_path, "kvm", "hail-alloc-drbd.json", _set(_top, "enabled_hypervisors", ["kvm"])
    )
    assert "node4 is missing 8832 MB ram and -5 GB disk" in _run_ours("hspace", ["-I", str(xen)])[2]
    assert "node4 is missing 5753 MB ram and -5 GB disk" in _run_ours("hspace", ["-I", str(kvm)])[2]


def test_an_unreadable_source_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"request": "\xff"}')
    cases = {
        str(tmp_path / "missing.json"): "openFile: does not exist (No such file or directory)",
        str(tmp_path): "openFile: inappropriate type (is a directory)",
        str(bad): "hGetContents: invalid argument (invalid byte sequence)",
    }
    for path, reason in cases.items():
        expected = f"Error: failed to load data, aborting: {path}: {reason}\n"
        assert _run_ours("hspace", ["-I", path]) == (1, "", expected)


def test_a_request_larger_than_the_bound_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text("{}" + " " * 100)
    assert ialloc.read_request_text(str(path), limit=102) == "{}" + " " * 100
    with pytest.raises(LoadError, match=r"big\.json: larger than 101 bytes$"):
        ialloc.read_request_text(str(path), limit=101)
    assert ialloc.MAX_REQUEST_BYTES == 256 * 1024 * 1024


def test_too_deep_a_request_is_one_line(tmp_path: Path) -> None:
    """Ganeti reads any depth; we stop at textjson's bound instead of the stack's."""
    path = tmp_path / "deep.json"
    path.write_text('{"request":' + "[" * 300 + "]" * 300 + "}")
    expected = "Error: Parsing input IAllocator message: JSON nested deeper than 128 levels\n"
    assert _run_ours("hspace", ["-I", str(path)]) == (1, "", expected)


# --- against the real tools -------------------------------------------------------------


def _ours(tool: str) -> list[str]:
    return [sys.executable, "-m", f"ganeti_agent.htools.{tool}"]


@pytest.mark.parametrize("request_file", REQUESTS, ids=[p.name for p in REQUESTS])
def test_every_hail_fixture_matches_the_real_tools(request_file: Path) -> None:
    for tool, extra in (("hspace", []), ("hroller", []), ("hroller", ["--force", "-v"])):
        args = ["-I", str(request_file), *extra]
        assert _run([*_ours(tool), *args]) == _run([str(_real(tool)), *args]), (tool, args)


def test_the_fixtures_are_there() -> None:
    if not REQUESTS:
        pytest.skip(f"{SHARED_MISSING} no hail-*.json in {FIXTURES}")
    assert len(REQUESTS) >= 19


def test_broken_requests_and_sources_match_the_real_tools(tmp_path: Path) -> None:
    real = _real("hspace")
    paths = [str(_broken(tmp_path, *case[:3])) for case in BROKEN]
    (tmp_path / "bad.json").write_bytes(b'{"request": "\xff"}')
    paths += [str(tmp_path / "missing.json"), str(tmp_path), str(tmp_path / "bad.json")]
    for path in paths:
        assert _run([*_ours("hspace"), "-I", path]) == _run([str(real), "-I", path]), path


def test_standard_input_is_read_for_a_dash() -> None:
    real = _real("hspace")
    text = (FIXTURES / "hail-alloc-twodisks.json").read_bytes()
    for stdin in (text, b"{}", b'{"request": "\xff"}'):
        args = ["-I", "-", "--machine-readable"]
        assert _run([*_ours("hspace"), *args], stdin) == _run([str(real), *args], stdin)
