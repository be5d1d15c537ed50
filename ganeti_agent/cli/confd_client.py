"""``ganeti-confd-client``: Ganeti's ``tools/confd-client``, fixed, with JSON output.

Without ``--type`` it runs the real tool's sequence (PING, CLUSTER_MASTER, its field
form, NODE_ROLE_BYNAME of the master, NODE_PIP_LIST, MC_PIP_LIST, INSTANCES_IPS_LIST,
NODE_PIP_BY_INSTANCE_IP, then ``-r`` timed PINGs and INSTANCES_IPS_LISTs), one JSON
line per step. ``--type TYPE [QUERY]`` sends any single request instead. Unlike the
original it accepts host names (``-a localhost`` works), sends field selectors as
integers (3.0.2 drops the strings the original sends), reads ``hmac.key`` whole and
restores the newline a shell strips from ``--hmac "$(cat hmac.key)"``. Where the
original stays silent (no key, a name that does not resolve, no reply: confd ignores
requests signed with another key) it says so on stderr, with an exit code per case.
"""

from __future__ import annotations

import argparse
import enum
import json
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.defer import ensureDeferred
from twisted.internet.interfaces import IReactorCore
from twisted.internet.task import react

from ganeti_agent import __version__
from ganeti_agent.confd.client import ConfdClient, IConfdReactor, QueryResult
from ganeti_agent.confd.constants import DEFAULT_PORT, RequestType
from ganeti_agent.confd.queries import read_key
from ganeti_agent.core.cluster import ClusterUnavailable
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.paths import GanetiPaths


class ExitCode(enum.IntEnum):
    """What the command's exit status says; ``--help`` lists them."""

    OK = 0
    ERROR_REPLY = 1
    USAGE = 2
    NO_REPLY = 3
    UNRESOLVED = 4
    NO_KEY = 5


#: Why a confd server may stay silent: it never answers what it cannot verify.
SILENCE_CAUSES = "no confd there, a firewall, or a wrong HMAC key"

EXIT_CODES = {
    ExitCode.OK: "every request got a reply with status OK",
    ExitCode.ERROR_REPLY: "a server replied with an error status",
    ExitCode.USAGE: "bad command line",
    ExitCode.NO_REPLY: f"no reply in time: {SILENCE_CAUSES}",
    ExitCode.UNRESOLVED: "the server's host name does not resolve",
    ExitCode.NO_KEY: "the HMAC key file cannot be read",
}


class Failed(Exception):
    """A step that ends the run; the message goes to stderr, the code is the exit status."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def request_type(text: str) -> RequestType:
    """A type by number (0-11) or name (``PING``, ``node_drbd``...)."""
    try:
        return RequestType(int(text)) if text.isdigit() else RequestType[text.upper()]
    except (KeyError, ValueError):
        names = ", ".join(t.name for t in RequestType)
        raise argparse.ArgumentTypeError(f"unknown request type {text!r} ({names})") from None


def parse_query(text: str | None) -> JSON:
    """No query, a JSON object when it starts with ``{``, ``null``, else a plain string."""
    if text is None or text == "null":
        return None
    if text.startswith("{"):
        try:
            value: JSON = json.loads(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"invalid JSON query: {exc}") from None
        return value
    return text


def build_parser() -> argparse.ArgumentParser:
    codes = "\n".join(f"  {int(code)}  {text}" for code, text in EXIT_CODES.items())
    parser = argparse.ArgumentParser(
        prog="ganeti-confd-client",
        description="Query confd servers (Ganeti's confd-client, with JSON output).",
        epilog=f"exit status:\n{codes}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
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


def unanswered(what: str) -> Failed:
    return Failed(ExitCode.NO_REPLY, f"no reply to {what}")


def line(out: TextIO, test: str, result: QueryResult) -> None:
    """Print one step; raise ``Failed`` unless some peer answered with status OK."""
    best = result.best
    record: dict[str, JSON] = {"test": test, "ok": best is not None and best.ok}
    if best is not None:
        record.update(status=best.status, answer=best.answer, serial=best.serial)
    else:
        record["error"] = "no answer"
    out.write(json.dumps(record) + "\n")
    if best is None:
        raise unanswered(test)
    if not best.ok:
        raise Failed(ExitCode.ERROR_REPLY, f"{test}: error reply {json.dumps(best.answer)}")


async def single(client: ConfdClient, options: argparse.Namespace, out: TextIO) -> None:
    """Print every reply; fail without one, or when none has status OK."""
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
    best, name = result.best, options.type.name
    if best is None:
        raise unanswered(name)
    if not best.ok:
        raise Failed(ExitCode.ERROR_REPLY, f"{name}: error reply {json.dumps(best.answer)}")


async def sequence(client: ConfdClient, requests: int, out: TextIO) -> None:
    """The steps of Ganeti's confd-client, stopping at the first one that fails."""
    line(out, "ping", await client.query(RequestType.PING))
    master_result = await client.query(RequestType.CLUSTER_MASTER)
    line(out, "master", master_result)
    assert master_result.best is not None
    master = master_result.best.answer
    fields: JSON = {"3": [0, 1, 2]}
    steps: list[tuple[str, RequestType, JSON]] = [
        ("master-fields", RequestType.CLUSTER_MASTER, fields),
        ("master-role", RequestType.NODE_ROLE_BYNAME, master),
        ("node-pip-list", RequestType.NODE_PIP_LIST, None),
        ("mc-pip-list", RequestType.MC_PIP_LIST, None),
        ("instances-ips-list", RequestType.INSTANCES_IPS_LIST, None),
    ]
    ips: JSON = []
    for name, rtype, query in steps:
        result = await client.query(rtype, query)
        line(out, name, result)
        if rtype is RequestType.INSTANCES_IPS_LIST and result.best is not None:
            ips = result.best.answer
    pips = await client.query(RequestType.NODE_PIP_BY_INSTANCE_IP, {"2": ips})
    line(out, "node-pip-by-instance-ip", pips)
    for name, rtype in (
        ("ping-timing", RequestType.PING),
        ("ips-timing", RequestType.INSTANCES_IPS_LIST),
    ):
        await timing(client, name, rtype, requests, out)


async def timing(
    client: ConfdClient, name: str, rtype: RequestType, requests: int, out: TextIO
) -> None:
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
    if answered < requests:
        raise unanswered(f"{requests - answered} of {requests} {name} requests")


async def resolve(reactor: IReactorCore, host: str) -> str:
    """The address to send to, found once for the whole run."""
    if isIPAddress(host) or isIPv6Address(host):
        return host
    try:
        address: str = await reactor.resolve(host)
    except Exception as exc:
        raise Failed(ExitCode.UNRESOLVED, f"cannot resolve host {host!r}: {exc}") from None
    return address


def where(options: argparse.Namespace, address: str) -> str:
    named = options.address if options.address == address else f"{options.address} ({address})"
    return f"{named} port {options.port} within {options.timeout:g} s"


async def run(reactor: IConfdReactor, options: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The whole command; the exit status, with a line on ``err`` for every failure."""
    address = options.address
    try:
        try:
            key = key_from(options)
        except ClusterUnavailable as exc:
            raise Failed(ExitCode.NO_KEY, f"cannot read the HMAC key: {exc}") from None
        address = await resolve(reactor, options.address)
        client = ConfdClient(reactor, key, [address], options.port, options.timeout)
        if options.type is not None:
            await single(client, options, out)
        else:
            await sequence(client, options.requests, out)
    except Failed as failure:
        message = str(failure)
        if failure.code is ExitCode.NO_REPLY:
            message += f" from {where(options, address)}: {SILENCE_CAUSES}"
        err.write(f"ganeti-confd-client: {message}\n")
        return failure.code
    return ExitCode.OK


def main(argv: Sequence[str] | None = None) -> None:
    options = build_parser().parse_args(argv)
    if options.query is not None and options.type is None:
        build_parser().error("a query needs --type")

    async def entry(reactor: IConfdReactor) -> None:
        status = await run(reactor, options, sys.stdout, sys.stderr)
        if status:
            raise SystemExit(status)

    react(lambda reactor: ensureDeferred(entry(reactor)))
