"""``ganeti-confd-client``: Ganeti's ``tools/confd-client``, fixed, with JSON output.

Without ``--type`` it runs the real tool's sequence (PING, CLUSTER_MASTER, its field
form, NODE_ROLE_BYNAME of the master, NODE_PIP_LIST, MC_PIP_LIST, INSTANCES_IPS_LIST,
NODE_PIP_BY_INSTANCE_IP, then ``-r`` timed PINGs and INSTANCES_IPS_LISTs), one JSON
line per step. ``--type TYPE [QUERY]`` sends any single request instead. Unlike the
original it accepts host names (``-a localhost`` works), sends field selectors as
integers (3.0.2 drops the strings the original sends), reads ``hmac.key`` whole and
restores the newline a shell strips from ``--hmac "$(cat hmac.key)"``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from twisted.internet.defer import ensureDeferred
from twisted.internet.task import react

from ganeti_agent import __version__
from ganeti_agent.cluster import ClusterUnavailable
from ganeti_agent.confd.client import ConfdClient, QueryResult
from ganeti_agent.confd.constants import DEFAULT_PORT, RequestType
from ganeti_agent.confd.queries import read_key
from ganeti_agent.paths import GanetiPaths
from ganeti_agent.report import JSONValue


def request_type(text: str) -> RequestType:
    """A type by number (0-11) or name (``PING``, ``node_drbd``...)."""
    try:
        return RequestType(int(text)) if text.isdigit() else RequestType[text.upper()]
    except (KeyError, ValueError):
        names = ", ".join(t.name for t in RequestType)
        raise argparse.ArgumentTypeError(f"unknown request type {text!r} ({names})") from None


def parse_query(text: str | None) -> JSONValue:
    """No query, a JSON object when it starts with ``{``, ``null``, else a plain string."""
    if text is None or text == "null":
        return None
    if text.startswith("{"):
        try:
            value: JSONValue = json.loads(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"invalid JSON query: {exc}") from None
        return value
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganeti-confd-client",
        description="Query confd servers (Ganeti's confd-client, with JSON output).",
    )
    parser.add_argument("--hmac", help="the HMAC key itself (default: read --key-file)")
    parser.add_argument("--key-file", help="HMAC key file (default: Ganeti's hmac.key)")
    parser.add_argument("-a", "--address", default="localhost", help="server address or host name")
    parser.add_argument("-p", "--port", type=int, default=DEFAULT_PORT, help="UDP port")
    parser.add_argument("-r", "--requests", type=int, default=100, help="requests per timing test")
    parser.add_argument("-t", "--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("-T", "--type", type=request_type, help="send one request of this type")
    parser.add_argument("query", nargs="?", help="query of --type (string or JSON object)")
    parser.add_argument("--version", action="version", version=f"ganeti-confd-client {__version__}")
    return parser


def key_from(options: argparse.Namespace) -> bytes:
    if options.hmac is not None:
        key: bytes = options.hmac.encode("utf-8")
        return key if key.endswith(b"\n") else key + b"\n"
    path = options.key_file or GanetiPaths.from_environment().hmac_key
    return read_key(path)


def line(out: TextIO, test: str, result: QueryResult, **extra: JSONValue) -> bool:
    """Print one step; it passed if some peer answered with status OK."""
    best = result.best
    record: dict[str, JSONValue] = {"test": test, "ok": best is not None and best.ok}
    if best is not None:
        record.update(status=best.status, answer=best.answer, serial=best.serial)
    else:
        record["error"] = "no answer"
    record.update(extra)
    out.write(json.dumps(record) + "\n")
    return bool(record["ok"])


async def single(client: ConfdClient, options: argparse.Namespace, out: TextIO) -> bool:
    result: QueryResult = await client.query(options.type, parse_query(options.query))
    for reply in result.replies:
        out.write(
            json.dumps(
                {
                    "server": f"{reply.host}:{reply.port}",
                    "status": reply.reply.status,
                    "answer": reply.reply.answer,
                    "serial": reply.reply.serial,
                }
            )
            + "\n"
        )
    return bool(result.replies)


async def sequence(client: ConfdClient, requests: int, out: TextIO) -> bool:
    """The steps of Ganeti's confd-client, stopping at the first one that fails."""
    ok = line(out, "ping", await client.query(RequestType.PING))
    master_result = await client.query(RequestType.CLUSTER_MASTER)
    ok = ok and line(out, "master", master_result)
    if not ok or master_result.best is None:
        return False
    master = master_result.best.answer
    fields: JSONValue = {"3": [0, 1, 2]}
    steps: list[tuple[str, RequestType, JSONValue]] = [
        ("master-fields", RequestType.CLUSTER_MASTER, fields),
        ("master-role", RequestType.NODE_ROLE_BYNAME, master),
        ("node-pip-list", RequestType.NODE_PIP_LIST, None),
        ("mc-pip-list", RequestType.MC_PIP_LIST, None),
        ("instances-ips-list", RequestType.INSTANCES_IPS_LIST, None),
    ]
    ips: JSONValue = []
    for name, rtype, query in steps:
        result = await client.query(rtype, query)
        if not line(out, name, result):
            return False
        if rtype is RequestType.INSTANCES_IPS_LIST and result.best is not None:
            ips = result.best.answer
    pips = await client.query(RequestType.NODE_PIP_BY_INSTANCE_IP, {"2": ips})
    ok = line(out, "node-pip-by-instance-ip", pips)
    for name, rtype in (
        ("ping-timing", RequestType.PING),
        ("ips-timing", RequestType.INSTANCES_IPS_LIST),
    ):
        ok = await timing(client, name, rtype, requests, out) and ok
    return ok


async def timing(
    client: ConfdClient, name: str, rtype: RequestType, requests: int, out: TextIO
) -> bool:
    started = time.monotonic()
    answered = 0
    for _ in range(requests):
        result = await client.query(rtype)
        answered += result.best is not None
    elapsed = time.monotonic() - started
    record = {
        "test": name,
        "ok": answered == requests,
        "requests": requests,
        "answered": answered,
        "seconds": round(elapsed, 6),
        "perSecond": round(requests / elapsed, 1) if elapsed > 0 else None,
    }
    out.write(json.dumps(record) + "\n")
    return answered == requests


async def run(reactor: Any, options: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        key = key_from(options)
    except ClusterUnavailable as exc:
        err.write(f"ganeti-confd-client: {exc}\n")
        return 1
    client = ConfdClient(reactor, key, [options.address], options.port, options.timeout)
    if options.type is not None:
        passed = await single(client, options, out)
    else:
        passed = await sequence(client, options.requests, out)
    return 0 if passed else 1


def main(argv: Sequence[str] | None = None) -> None:
    options = build_parser().parse_args(argv)
    if options.query is not None and options.type is None:
        build_parser().error("a query needs --type")

    async def entry(reactor: Any) -> None:
        status = await run(reactor, options, sys.stdout, sys.stderr)
        if status:
            raise SystemExit(status)

    react(lambda reactor: ensureDeferred(entry(reactor)))
