"""Random cluster descriptions in Ganeti's text format, for differential tests.

Wide on purpose: several groups with their own policies, offline nodes,
spindles and exclusive storage, node and instance tags with the cluster
tags that give them meaning (exclusion tags, location tags), forthcoming
instances and every disk template. A quarter of the clusters are tiny
(two or three nodes in one group, where tiered allocation walks long
shrink chains), and exclusive storage is off, sparse or on every node.
"""

from __future__ import annotations

import random

TEMPLATES = ("plain", "drbd", "drbd", "ext", "file", "sharedfile", "rbd", "diskless")
STATUSES = ("running", "running", "running", "ADMIN_down", "ADMIN_offline", "ERROR_up")


def _spec(rng: random.Random, scale: int) -> str:
    return ",".join(
        str(v)
        for v in (
            rng.choice([128, 512, 1024]) * scale,
            rng.randint(1, 2) * scale,
            rng.choice([1024, 4096]) * scale,
            rng.randint(1, 2),
            1,
            rng.randint(1, 2) * scale,
        )
    )


def _policy(rng: random.Random, owner: str) -> str:
    minmax = [f"{_spec(rng, 1)};{_spec(rng, 8)}" for _ in range(rng.randint(1, 2))]
    templates = rng.choice(["drbd,plain,diskless,file,sharedfile,rbd,ext", "plain,drbd", "drbd"])
    vcpu = rng.choice(["4.0", "2.0", "8.0", "1.5"])
    spindle = rng.choice(["32.0", "4.0", "2.0"])
    return f"{owner}|{_spec(rng, 1)}|{';'.join(minmax)}|{templates}|{vcpu}|{spindle}"


def random_cluster(rng: random.Random, max_nodes: int = 6, max_instances: int = 8) -> str:
    """One cluster description; the first node is the master."""
    tiny = rng.random() < 0.25
    groups = 1 if tiny else rng.randint(1, 3)
    excl_share = rng.choice([0.0, 0.2, 0.2, 1.0])
    lines = [
        f"group-{g}|uuid-{g}|{rng.choice(['preferred', 'preferred', 'last_resort'])}|"
        f"{rng.choice(['', 'gtag'])}|"
        for g in range(groups)
    ]
    lines.append("")
    nodes: list[tuple[str, int, bool]] = []
    location = rng.random() < 0.3
    for n in range(rng.randint(2, 3) if tiny else rng.randint(2, max_nodes)):
        mem = rng.choice([4096, 8192, 16384, 32768])
        dsk = rng.choice([20480, 102400, 409600])
        group = rng.randrange(groups)
        name = f"node-{n}.example.com"
        excl = rng.random() < excl_share
        nodes.append((name, group, excl))
        flag = rng.choice("NNNNNY") if n else "M"
        spindles = rng.randint(1, 12)
        tags = rng.choice(["power:a", "power:b", "rack:1"]) if location else ""
        fields = [
            name,
            str(mem),
            str(rng.choice([0, 512])),
            str(mem - rng.randint(0, 1024)),
            str(dsk),
            str(dsk - rng.choice([0, 0, 1024])),
            str(rng.choice([4, 8, 16])),
            flag,
            f"uuid-{group}",
            str(spindles),
            tags,
            "Y" if excl else "N",
            str(spindles - rng.randint(0, 1)),
            str(rng.choice([1, 1, 2])),
            rng.choice(["1.0", "1.0", "2.0"]),
        ]
        lines.append("|".join(fields[: rng.choice([10, 12, 15])]) if not excl else "|".join(fields))
    lines.append("")
    for i in range(rng.randint(0, max_instances)):
        template = rng.choice(TEMPLATES)
        pnode, group, _ = rng.choice(nodes)
        peers = [n for n, g, _ in nodes if n != pnode and g == group]
        if template == "drbd" and not peers:
            template = "plain"
        snode = rng.choice(peers) if template == "drbd" else ""
        tags = rng.choice(["", "", "service:dns", "service:web"])
        fields = [
            f"inst-{i}.example.com",
            str(rng.choice([128, 512, 1024])),
            str(rng.choice([1024, 4096])),
            str(rng.randint(1, 2)),
            rng.choice(STATUSES),
            rng.choice("YYN"),
            pnode,
            snode,
            template,
            tags,
            "1",
            str(rng.randint(1, 2)),
            rng.choice("NNNNY"),
        ]
        lines.append("|".join(fields[: rng.choice([11, 13])]))
    lines.append("")
    ctags = []
    if location:
        ctags.append("htools:nlocation:power")
    if rng.random() < 0.4:
        ctags.append("htools:iextags:service")
    lines.extend(ctags)
    if rng.random() < 0.4:
        lines.append("")
        lines.append(_policy(rng, ""))
        lines.extend(_policy(rng, f"group-{g}") for g in range(groups))
    return "\n".join(lines) + "\n"
