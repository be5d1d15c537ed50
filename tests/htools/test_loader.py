"""Merging a loaded cluster (``loader``) where Ganeti's ``Loader.hs`` has quirks to keep."""

from __future__ import annotations

from ganeti_agent.htools import text
from ganeti_agent.htools.loader import merge_data, update_missing

SAME_NODE_TWICE = (
    "group-01|fake-uuid-01|preferred||\n\n"
    "node-1|4096|0|2048|10240|9216|4|M|fake-uuid-01|1\n\n"
    "inst-1|2048|1024|1|running|Y|node-1|node-1|plain||1\n\n\n"
)


def test_instance_naming_its_primary_as_secondary_counts_only_as_secondary() -> None:
    """fixNodes reads the secondary node before it records the primary, so the
    primary record is lost: the node hosts the instance only as secondary, and
    its memory shows up as missing (as Ganeti 3.0.2's hroller reports it)."""
    merged = merge_data(text.parse_data(SAME_NODE_TWICE))
    messages, nodes = update_missing(merged.nodes, merged.instances)
    assert nodes[0].plist == ()
    assert nodes[0].slist == (0,)
    assert nodes[0].i_mem == 0
    assert messages == ["node node-1 is missing 2048 MB ram and 0 GB disk"]
