"""The command line: Ganeti 3.0.2's options, its checks with its messages, and what we fixed."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

import pytest

from ganeti_agent.moveinstance import options
from tests.moveinstance.conversation import REAL_PYTHONPATH, REAL_TOOL, SYSTEM_PYTHON

CA = "--src-ca-file=ca.pem"
#: (arguments, Ganeti's message); every one is refused with status 2.
REFUSED = [
    (["a", "b"], "Not enough arguments"),
    (["a", "b", "c"], "Missing source cluster CA file"),
    ([CA, "-p", "0", "a", "b", "c"], "Number of simultaneous moves must be >= 1"),
    (
        [CA, "-I", "hail", "--dest-primary-node=n1", "a", "b", "c"],
        "Destination node and iallocator options exclude each other",
    ),
    (
        [CA, "--opportunistic-tries=2", "a", "b", "c"],
        "Opportunistic instance creation can only be used with an iallocator",
    ),
    (
        [CA, "-I", "hail", "--opportunistic-tries=-1", "a", "b", "c"],
        "Number of opportunistic creation attempts must be >= 0",
    ),
    (
        [CA, "-I", "hail", "--opportunistic-tries=1", "--opportunistic-delay=0", "a", "b", "c"],
        "The delay between two successive creation attempts must be greater than zero",
    ),
    (
        [CA, "-I", "hail", "--opportunistic-delay=5", "a", "b", "c"],
        "Opportunistic delay can only be specified when opportunistic tries are used",
    ),
    ([CA, "-I", "hail", "-p", "many", "a", "b", "c"], "option -p: invalid integer value: 'many'"),
]
#: Ganeti's checks whose own code crashes in 3.0.2 (``compat.any`` given 7 arguments:
#: TypeError); ours gives the message the code meant.
REFUSED_CRASHING = [
    (
        [CA, "-I", "hail", "--dest-instance-name=z", "a", "b", "c", "d"],
        "The options --dest-instance-name, --dest-primary-node, --dest-secondary-node,"
        " --hypervisor-parameters, --backend-parameters, --os-parameters and --net can"
        " only be used when moving exactly one instance",
    ),
    (
        [CA, "-I", "hail", "--net", "0:link=br1", "a", "b", "c", "d"],
        "The options --dest-instance-name, --dest-primary-node, --dest-secondary-node,"
        " --hypervisor-parameters, --backend-parameters, --os-parameters and --net can"
        " only be used when moving exactly one instance",
    ),
]
#: Refused by us where Ganeti 3.0.2 prints a traceback or accepts nonsense.
REFUSED_BY_US = [
    ([CA, "-I", "h", "-B", "colour=red", "a", "b", "c"], "Unknown parameter 'colour'"),
    (
        [CA, "-I", "h", "-B", "maxmem=lots", "a", "b", "c"],
        "'maxmem' (value lots) is not a valid size. error: Invalid format",
    ),
    (
        [CA, "-I", "h", "-H", "acpi=maybe", "a", "b", "c"],
        "'acpi' (value maybe) is not a valid boolean",
    ),
    ([CA, "-I", "h", "--net", "0:colour=red", "a", "b", "c"], "Unknown parameter 'colour'"),
    ([CA, "-I", "h", "-B", "a=1,a=2", "a", "b", "c"], "Duplicate key 'a' in option -B"),
    (
        [CA, "-I", "h", "--dest-disk-template=file", "a", "b", "c"],
        "Disk template file is file-based and cannot be moved between clusters",
    ),
    ([CA, "-I", "h", "--net-map=br0", "a", "b", "c"], "--net-map takes OLD=NEW, not 'br0'"),
    (
        [CA, "-I", "h", "--src-rapi-port=70000", "a", "b", "c"],
        "--src-rapi-port must be between 1 and 65535",
    ),
]


def refusal(arguments: Sequence[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        options.parse(arguments)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Usage: ganeti-move-instance [--debug|--verbose]")
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize(("arguments", "message"), REFUSED + REFUSED_CRASHING + REFUSED_BY_US)
def test_refused_with_the_message(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert refusal(arguments, capsys) == f"ganeti-move-instance: error: {message}"


def real_tool(arguments: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SYSTEM_PYTHON, str(REAL_TOOL), *arguments],
        env={"PYTHONPATH": REAL_PYTHONPATH, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


needs_real_tool = pytest.mark.skipif(
    not REAL_TOOL.exists(), reason="ganeti-3.0 (Ganeti's move-instance) is not installed"
)


@needs_real_tool
@pytest.mark.parametrize(("arguments", "message"), REFUSED)
def test_real_tool_says_the_same(arguments: list[str], message: str) -> None:
    done = real_tool(arguments)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == f"move-instance: error: {message}"


@needs_real_tool
@pytest.mark.parametrize(("arguments", "message"), REFUSED_CRASHING)
def test_real_tool_crashes_where_ours_refuses(arguments: list[str], message: str) -> None:
    done = real_tool(arguments)
    assert done.returncode == 1
    assert "TypeError: any() takes exactly one argument" in done.stderr


@needs_real_tool
def test_every_real_option_is_accepted() -> None:
    real_help = real_tool(["--help"]).stdout
    ours = options.build_parser("ganeti-move-instance").format_help()
    real_flags = {
        word.split("=")[0].rstrip(",") for word in real_help.split() if word.startswith("-")
    }
    our_flags = {word.split("=")[0].rstrip(",") for word in ours.split() if word.startswith("-")}
    assert real_flags <= our_flags
    assert our_flags - real_flags == {"--keep-source-instance", "--net-map"}


def test_defaults_and_fixes() -> None:
    parsed = options.parse([CA, "--src-rapi-port=6080", "--dest-primary-node=n1", "s", "d", "i"])
    assert parsed.opportunistic_tries == 0
    assert parsed.opportunistic_delay == options.DEFAULT_OPPORTUNISTIC_DELAY
    assert parsed.dest.port == 6080
    assert parsed.dest.ca_file == "ca.pem"
    assert (parsed.source_cluster, parsed.dest_cluster, parsed.instances) == ("s", "d", ("i",))


def test_dest_credentials_default_to_the_source() -> None:
    parsed = options.parse(
        [CA, "--src-username=u", "--src-password-file=p", "-I", "h", "s", "d", "i"]
    )
    assert (parsed.dest.username, parsed.dest.password_file) == ("u", "p")
    parsed = options.parse(
        [
            CA,
            "--src-username=u",
            "--dest-username=v",
            "--dest-ca-file=dca",
            "--dest-rapi-port=1",
            "-I",
            "h",
            "s",
            "d",
            "i",
        ]
    )
    assert (parsed.dest.username, parsed.dest.ca_file, parsed.dest.port) == ("v", "dca", 1)


def test_parameters_get_ganeti_types() -> None:
    parsed = options.parse(
        [
            CA,
            "-I",
            "h",
            "-B",
            "maxmem=1G,vcpus=2,auto_balance=false",
            "-H",
            "acpi=true",
            "-O",
            "variant=x",
            "--net",
            "0:link=,mode=,network=net1",
            "--net",
            "1:ip=-",
            "s",
            "d",
            "i",
        ]
    )
    assert parsed.beparams == {"maxmem": 1024, "vcpus": 2, "auto_balance": False}
    assert parsed.hvparams == {"acpi": True}
    assert parsed.osparams == {"variant": "x"}
    assert parsed.nics == [{"network": "net1", "link": None, "mode": None}, {"ip": "-"}]


def test_net_map_and_keep_source_work_for_many_instances() -> None:
    parsed = options.parse(
        [
            CA,
            "-I",
            "h",
            "--net-map=br0=br1",
            "--net-map",
            "net-a=net-b",
            "--keep-source-instance",
            "s",
            "d",
            "i1",
            "i2",
        ]
    )
    assert parsed.net_map == {"br0": "br1", "net-a": "net-b"}
    assert parsed.keep_source_instance and parsed.instances == ("i1", "i2")
