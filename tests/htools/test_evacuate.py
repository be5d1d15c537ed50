"""Emptying nodes for a reboot (``evacuate``): first-fit moves and the greedy split."""

from __future__ import annotations

from ganeti_agent.htools import evacuate, text
from ganeti_agent.htools.evacuate import Config
from ganeti_agent.htools.loader import merge_data, update_missing


def _conf(free_mem: list[int], instances: str, groups: str = "") -> Config:
    groups = groups or "1" * len(free_mem)
    nodes = "".join(
        f"node-{n}|{mem + 1024}|1024|{mem}|409600|409600|4|N|uuid-{g}|1\n"
        for n, (mem, g) in enumerate(zip(free_mem, groups, strict=True))
    )
    group_lines = "".join(f"group-{g}|uuid-{g}|preferred|\n" for g in sorted(set(groups)))
    data = merge_data(text.parse_data(f"{group_lines}\n{nodes}\n{instances}\n\n"))
    _, loaded = update_missing(data.nodes, data.instances)
    return Config(loaded, data.instances)


PLAIN_ON_0 = "big|3000|256|1|running|Y|node-0||plain||1\n"


def test_a_non_redundant_instance_moves_to_the_first_node_that_takes_it() -> None:
    conf = _conf([3000, 1000, 8000, 8000], PLAIN_ON_0)
    after = evacuate.locate_instances([0], [1, 2, 3], conf)
    assert after is not None
    assert after.instances[0].pnode == 2
    assert after.nodes[0].plist == () and after.nodes[2].plist == (0,)
    assert evacuate.locate_instances([0], [1], conf) is None


def test_nodes_whose_instances_fit_nowhere_else_go_to_a_later_group() -> None:
    # node-0's instance fits only on node-1; once node-1 is being emptied too
    # it cannot take it, so node-1 waits for a second group.
    conf = _conf([8000, 4000, 1000], PLAIN_ON_0)
    cleared, after = evacuate.clear_nodes([0, 1], [0, 1, 2], conf)
    assert cleared == [0]
    assert after.instances[0].pnode == 1
    parts = evacuate.partition_non_redundant([0, 1], [0, 1, 2], conf)
    assert parts is not None
    assert [group for group, _ in parts] == [[0], [1]]
    # Each group is cleared from the original cluster, not after the previous one.
    assert parts[1][1].instances[0].pnode == 0


def test_instances_only_move_within_their_node_group() -> None:
    conf = _conf([3000, 8000, 8000], PLAIN_ON_0, groups="122")
    assert evacuate.partition_non_redundant([0], [0, 1, 2], conf) is None


def test_migration_swaps_primary_and_secondary_and_is_no_move() -> None:
    conf = _conf([8000, 8000, 8000], "d|512|256|1|running|Y|node-0|node-1|drbd||1\n")
    after = evacuate.migrate_off_nodes([0], conf)
    assert after is not None
    assert (after.instances[0].pnode, after.instances[0].snode) == (1, 0)
    assert after.nodes[1].plist == (0,) and after.nodes[0].slist == (0,)
    assert evacuate.moves(conf, after) == []


def test_replacing_a_secondary_stores_the_primary_record_at_the_old_index() -> None:
    """Ganeti's replaceSecondary reads the primary where it means the old secondary."""
    conf = _conf([8000, 8000, 8000], "d|512|256|1|running|Y|node-0|node-1|drbd||1\n")
    after = evacuate.replace_secondary(0, 2, conf)
    assert after is not None
    assert after.instances[0].snode == 2
    assert after.nodes[1].name == "node-0"
    assert after.nodes[2].slist == (0,)
    [(inst, pnode, snode)] = evacuate.moves(conf, after)
    assert (inst.name, pnode.name, snode is not None and snode.name) == ("d", "node-0", "node-2")
    assert evacuate.replace_secondary(0, 0, conf) is None
