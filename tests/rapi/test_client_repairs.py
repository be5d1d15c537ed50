"""The RAPI client's bulk queries and repair resources send what Ganeti's client sends.

(``lib/rapi/client.py`` 3.0.2: tags as repeated ``tag`` query values, the reason as
``reason``, failover and recreate-disks with JSON bodies, replace-disks with query
values, a version-1 reinstall body.) Served by harep's fake RAPI over TLS.
"""

from __future__ import annotations

from pathlib import Path

from ganeti_agent.core.jsontypes import expect_array
from ganeti_agent.rapi.client import RapiClient, RapiEndpoint
from tests.harep import fake_master
from tests.harep.fake_rapi import PASSWORD, USER, served_rapi
from tests.rapi.support import at, reactor
from tests.support import async_test


@async_test
async def test_bulk_queries_and_repairs(tmp_path: Path) -> None:
    master = fake_master.one_repair_master()
    async with served_rapi(master, tmp_path) as served:
        point = RapiEndpoint("127.0.0.1", served.port, USER, PASSWORD, str(served.ca_file))
        client = RapiClient(point, reactor)
        groups = await client.get_groups(bulk=True)
        nodes = await client.get_nodes(bulk=True)
        instances = await client.get_instances(bulk=True)
        jobs = [
            await client.add_instance_tags("i1", ["a", "b:c"], reason="why"),
            await client.delete_instance_tags("i1", ["a"]),
            await client.failover_instance("i1", reason="why"),
            await client.replace_instance_disks("i1", "replace_new_secondary", "hail"),
            await client.recreate_instance_disks("i1", "hail"),
            await client.reinstall_instance("i1", start=False),
        ]
    assert [at(g, "name") for g in expect_array(groups, "groups")] == ["default", "manual"]
    assert len(expect_array(nodes, "nodes")) == 7
    assert [at(i, "name") for i in expect_array(instances, "instances")] == ["primary-off"]
    assert jobs == ["1000", "1001", "1002", "1003", "1004", "1005"]
    sent = [(r.method, r.path, r.query, r.body) for r in served.rapi.requests]
    assert sent == [
        ("GET", "/2/groups", [("bulk", "1")], None),
        ("GET", "/2/nodes", [("bulk", "1")], None),
        ("GET", "/2/instances", [("bulk", "1")], None),
        ("PUT", "/2/instances/i1/tags", [("tag", "a"), ("tag", "b:c"), ("reason", "why")], None),
        ("DELETE", "/2/instances/i1/tags", [("tag", "a")], None),
        ("PUT", "/2/instances/i1/failover", [("reason", "why")], {"ignore_consistency": False}),
        ("POST", "/2/instances/i1/replace-disks",
         [("mode", "replace_new_secondary"), ("iallocator", "hail")], None),
        ("POST", "/2/instances/i1/recreate-disks", [], {"iallocator": "hail"}),
        ("POST", "/2/instances/i1/reinstall", [], {"start": False}),
    ]  # fmt: skip
