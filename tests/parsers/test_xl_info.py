"""``xl info`` parser on Xen's real output and on broken text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ganeti_agent.parsers.errors import ParseError
from ganeti_agent.parsers.xl_info import parse_fields, parse_xl_info
from tests.support import shared_fixture


def test_real_xen_4_0_1_output() -> None:
    info = parse_xl_info(shared_fixture("xen-xl-info-4.0.1.txt").read_text())
    assert (info.total_memory, info.free_memory, info.nr_cpus) == (16378, 8004, 4)
    assert (info.nr_nodes, info.cores_per_socket, info.threads_per_core) == (1, 2, 1)
    assert info.cpu_sockets == 2
    assert info.cpu_mhz == 2800
    assert info.version == "4.0.1"
    assert info.fields["xen_scheduler"] == "credit"
    assert info.fields["virt_caps"] == ""
    assert info.fields["xen_commandline"].startswith("placeholder dom0_mem=1024M")


def test_minimal_output_without_topology() -> None:
    info = parse_xl_info("total_memory : 10\nfree_memory : 5\nnr_cpus : 1\n")
    assert info.cpu_sockets is None
    assert info.version is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "missing total_memory, free_memory, nr_cpus"),
        ("total_memory : 1\nnr_cpus : 2\n", "missing free_memory"),
        (
            "total_memory : lots\nfree_memory : 1\nnr_cpus : 1\n",
            "total_memory: expected an",
        ),
        ("Segmentation fault\n", "line 1: expected 'key : value'"),
        ("<html>error: here</html>\n", "missing total_memory"),
    ],
)
def test_garbage_is_a_parse_error(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_xl_info(text)


@given(
    st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), st.text("abc 0:9", max_size=20))
)
def test_fields_round_trip(fields: dict[str, str]) -> None:
    text = "".join(f"{key:<22} : {value}\n" for key, value in fields.items())
    assert parse_fields(text) == {key: value.strip() for key, value in fields.items()}
