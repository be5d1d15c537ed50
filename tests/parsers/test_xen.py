"""Parsers of xl/xm outputs, on Ganeti's real captures and on the quirks of its grammar."""

from __future__ import annotations

import pytest

from ganeti_agent.parsers import xen
from ganeti_agent.parsers.errors import ParseError
from tests.support import shared_fixture


def test_list_long_fixture() -> None:
    text = shared_fixture("xen-xl-list-long-4.0.1.txt").read_text()
    domains = xen.parse_list_long(text)
    assert domains == {
        "Domain-0": xen.Domain(0, "Domain-0", 184000.41332, "r-----"),
        "instance1.example.com": xen.Domain(119, "instance1.example.com", 24.116146647, "-b----"),
    }
    assert domains["instance1.example.com"].actual_state == "blocked"


def test_uptime_fixture() -> None:
    uptimes = xen.parse_uptime(shared_fixture("xen-xl-uptime-4.0.1.txt").read_text())
    assert uptimes[119] == xen.Uptime("instance1.example.com", 119, "15 days, 20:57:07")
    assert uptimes[0].uptime == "98 days,  2:27:44"


@pytest.mark.parametrize(
    ("name", "count", "states"),
    [
        ("xen-xl-list-4.0.1-dom0-only.txt", 1, {"r-----"}),
        ("xen-xl-list-4.0.1-four-instances.txt", 4, {"r-----", "-b----"}),
        ("xen-xl-list-4.4-crashed-instances.txt", 4, {"r-----", "-b----", "--psc-"}),
    ],
)
def test_plain_list_fixtures(name: str, count: int, states: set[str]) -> None:
    entries = xen.parse_list(shared_fixture(name).read_text())
    assert len(entries) == count
    assert {entry.state for entry in entries} == states
    if "crashed" in name:
        assert entries[2].name == "(null)" and entries[2].flags == {"p", "s", "c"}


def test_every_state_and_unknown() -> None:
    for state, word in xen.STATE_NAMES.items():
        assert xen.Domain(1, "a", 0.0, state).actual_state == word
    assert xen.Domain(1, "a", 0.0, "--psc-").actual_state == "unknown"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("garbage", 'Not a domain configuration: LCString "garbage"'),
        ("(domain (domid 3) (cpu_time 1.5) (state r-----))", "Configuration not found"),
        ("(domain (domid x) (name a) (cpu_time 1) (state r-----))", "Unable to extract a Int"),
        ("(vm (x 1.5e3))", 'Not a domain configuration: LCList [LCString "vm",LCList'),
    ],
)
def test_list_long_rejections_use_ganeti_words(text: str, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        xen.parse_list_long(text)
    assert caught.value.reason.startswith(message)


@pytest.mark.parametrize("text", ["(domain (domid 3)", "(a(b))", ")", "(a (b)(c))"])
def test_syntax_errors(text: str) -> None:
    with pytest.raises(xen.LispSyntaxError):
        xen.parse_lisp(text)


def test_atoms_are_numbers_only_when_wholly_numeric() -> None:
    assert xen.parse_lisp("(a 1 -2.5 3e2 3. 9a 00000000-0000)") == [
        xen.LispList(("a", 1.0, -2.5, 300.0, "3.", "9a", "00000000-0000"))
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1.0, "1.0"),
        (0.1, "0.1"),
        (0.05, "5.0e-2"),
        (1e7, "1.0e7"),
        (-2.5, "-2.5"),
        (1363620320.874901, "1.363620320874901e9"),
        (9999999.0, "9999999.0"),
    ],
)
def test_haskell_double(value: float, shown: str) -> None:
    assert xen.haskell_double(value) == shown


def test_uptime_quirks() -> None:
    assert xen.parse_uptime("Name ID Uptime\n") == {}
    # As in Ganeti, a line without uptime takes the next line as its uptime.
    parsed = xen.parse_uptime("Name ID Uptime\na 1\nb 2 0:01:00\n")
    assert parsed[1].uptime == "b 2 0:01:00"
    with pytest.raises(ParseError):
        xen.parse_uptime("nothing to see")
    with pytest.raises(ParseError):
        xen.parse_uptime("Name ID Uptime\nname notanumber 1:00\n")


XENTOP = """      NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%)  MAXMEM(k) MAXMEM(%) VCPUS NETS
  Domain-0 -----r     154706    0.0    1048576    6.2   no limit       n/a     1    0
web.example.org --b---       812    2.1     524288    3.1     524288       3.1     1    1
broken.example.org --b---     n/a
short
"""


def test_xentop() -> None:
    assert xen.parse_xentop(XENTOP) == {"web.example.org": 812.0}
    for bad in ("", "NAME STATE\n", "ID STATE CPU(sec)\n"):
        with pytest.raises(ParseError):
            xen.parse_xentop(bad)
