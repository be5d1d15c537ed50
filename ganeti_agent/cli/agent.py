"""``ganeti-agent``: the agent's tools for the sysadmin's toolbox.

* ``targets``: Prometheus ``file_sd`` JSON for every node of the cluster (config.data);
* ``check``: a Nagios/Icinga plugin, asking a running agent or running the collectors
  here (``--local``);
* ``hash-password``: a users-file line for the API's basic authentication.

The daemon itself is ``twistd ganeti-agent``.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import json
import os
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import NoReturn, TypeAlias

from ganeti_agent import __version__
from ganeti_agent.cli.nagios import PluginState, Verdict, evaluate, select, unknown
from ganeti_agent.cli.targets import ADDRESS_KINDS, DEFAULT_PORT, file_sd_targets
from ganeti_agent.core.files import write_atomically
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.paths import GanetiPaths
from ganeti_agent.core.settings import PORT, SECONDS, parse_port
from ganeti_agent.server.access import PasswordTooLong, hash_password

DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
MAX_BODY = 64 * 1024 * 1024


class ToolParser(argparse.ArgumentParser):
    """argparse, except that a Nagios plugin's usage error is UNKNOWN, not CRITICAL.

    argparse exits 2 on a bad option, which monitoring reads as CRITICAL; the plugin
    guidelines want UNKNOWN (3) and a status line on stdout.
    """

    plugin = False

    def error(self, message: str) -> NoReturn:
        if self.plugin:
            _plugin_usage_error(self.prog, message)
        super().error(message)


Subcommands: TypeAlias = "argparse._SubParsersAction[ToolParser]"
"""The subcommand table of ``ganeti-agent``, each subcommand a :class:`ToolParser`."""


def _plugin_usage_error(prog: str, message: str) -> NoReturn:
    print(unknown(f"{prog}: {message} (see {prog} --help)").line())
    raise SystemExit(int(PluginState.UNKNOWN))


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="ganeti-agent", description=__doc__.splitlines()[0])
    top.add_argument("--version", action="version", version=f"ganeti-agent {__version__}")
    commands = top.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=ToolParser
    )
    _targets_parser(commands)
    _check_parser(commands)
    hashing = commands.add_parser("hash-password", help="print a users-file line")
    hashing.add_argument("user", help="user name")
    return top


def _port(value: str) -> int:
    try:
        return parse_port(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {PORT.expected}, got {value!r}") from None


def _seconds(value: str) -> float:
    try:
        seconds = SECONDS.parse(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {SECONDS.expected}, got {value!r}") from None
    assert isinstance(seconds, float)
    return seconds


def _targets_parser(commands: Subcommands) -> None:
    targets = commands.add_parser("targets", help="Prometheus file_sd targets of the cluster")
    targets.add_argument("--config-data", help="config.data (default: Ganeti's, GANETI_ROOTDIR)")
    targets.add_argument("--port", type=_port, default=DEFAULT_PORT, help="agent port (1815)")
    targets.add_argument("--address", choices=ADDRESS_KINDS, default="name", help="target host")
    targets.add_argument("--include-offline", action="store_true", help="list offline nodes")
    targets.add_argument("-o", "--output", help="write this file atomically instead of stdout")


def _check_parser(commands: Subcommands) -> None:
    check = commands.add_parser("check", help="Nagios/Icinga plugin")
    check.plugin = True
    check.add_argument("-u", "--url", default=DEFAULT_URL, help=f"agent URL ({DEFAULT_URL})")
    check.add_argument(
        "-C", "--collector", action="append", default=[], help="check only this (repeatable)"
    )
    check.add_argument(
        "-w",
        "--warning-on-temporary",
        action="store_true",
        help="status 1 (being fixed automatically) is WARNING instead of OK",
    )
    check.add_argument("-t", "--timeout", type=_seconds, default=30.0, help="seconds (30)")
    check.add_argument("--ca-file", help="CA certificates for an https URL")
    check.add_argument("--insecure", action="store_true", help="do not verify the certificate")
    check.add_argument("--user", help="basic auth user; password from --password-file")
    check.add_argument("--password-file", help="file whose first line is the password")
    check.add_argument(
        "--local", action="store_true", help="run the stateless collectors here, no agent"
    )
    check.add_argument("-c", "--config", help="agent configuration for --local")
    check.add_argument("--data-dir", help="Ganeti's data directory for --local")


def main(argv: Sequence[str] | None = None) -> None:
    top = parser()
    arguments, extra = top.parse_known_args(argv)
    if extra:
        message = f"unrecognized arguments: {' '.join(extra)}"
        if arguments.command == "check":
            _plugin_usage_error("ganeti-agent check", message)
        top.error(message)
    if arguments.command == "targets":
        raise SystemExit(targets(arguments))
    if arguments.command == "check":
        raise SystemExit(check(arguments))
    raise SystemExit(hash_password_command(arguments))


def targets(arguments: argparse.Namespace) -> int:
    from ganeti_agent.confd.config import ConfigError, parse_config

    path = arguments.config_data or GanetiPaths.from_environment().config_data
    try:
        with open(path, "rb") as handle:
            config = parse_config(handle.read())
    except OSError as exc:
        return _fail(f"cannot read {path}: {exc.strerror or exc}")
    except ConfigError as exc:
        return _fail(f"{path}: {exc}")
    groups = file_sd_targets(config, arguments.port, arguments.address, arguments.include_offline)
    text = json.dumps(groups, indent=2) + "\n"
    if arguments.output is None:
        sys.stdout.write(text)
        return 0
    try:
        write_atomically(arguments.output, text)
    except OSError as exc:
        return _fail(f"cannot write {arguments.output}: {exc.strerror or exc}")
    return 0


def _fail(message: str) -> int:
    print(f"ganeti-agent: {message}", file=sys.stderr)
    return 1


def check(arguments: argparse.Namespace) -> int:
    """Print the plugin line and return the plugin exit code; never raises."""
    try:
        verdict = _check_verdict(arguments)
    except Exception as exc:
        verdict = unknown(f"check failed: {type(exc).__name__}: {exc}")
    print(verdict.line())
    return int(verdict.state)


def _check_verdict(arguments: argparse.Namespace) -> Verdict:
    if arguments.local:
        from ganeti_agent.cli.local import local_reports

        reports: list[JSON] | str = local_reports(arguments.config, arguments.data_dir)
    else:
        reports = fetch_reports(arguments)
    if isinstance(reports, str):
        return unknown(reports)
    selected = select(reports, arguments.collector)
    if isinstance(selected, str):
        return unknown(selected)
    return evaluate(selected, arguments.warning_on_temporary)


def fetch_reports(arguments: argparse.Namespace) -> list[JSON] | str:
    """``/1/report/all`` of a running agent, or why it could not be had."""
    url = arguments.url.rstrip("/") + "/1/report/all"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        if arguments.user:
            password = _password(arguments.password_file)
            token = base64.b64encode(f"{arguments.user}:{password}".encode()).decode("ascii")
            request.add_header("Authorization", f"Basic {token}")
        context = _tls_context(arguments)
    except (OSError, UnicodeDecodeError, ssl.SSLError) as exc:
        return str(exc)
    try:
        with urllib.request.urlopen(  # noqa: S310 - the URL is the operator's
            request, timeout=arguments.timeout, context=context
        ) as response:
            body = response.read(MAX_BODY)
    except urllib.error.HTTPError as exc:
        return f"agent at {url} answered HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"cannot reach the agent at {url}: {reason}"
    try:
        reports: JSON = json.loads(body)
    except ValueError as exc:
        return f"agent at {url} sent invalid JSON: {exc}"
    if not isinstance(reports, list):
        return f"agent at {url} sent {type(reports).__name__}, not a list of reports"
    return reports


def _password(path: str | None) -> str:
    if path is None:
        return os.environ.get("GANETI_AGENT_PASSWORD", "")
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise OSError(f"cannot read the password file {path}: {_reason(exc)}") from None


def _reason(exc: Exception) -> object:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else exc


def _tls_context(arguments: argparse.Namespace) -> ssl.SSLContext | None:
    if not arguments.url.startswith("https:"):
        return None
    try:
        context = ssl.create_default_context(cafile=arguments.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise OSError(f"cannot load the CA file {arguments.ca_file}: {_reason(exc)}") from None
    if arguments.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def hash_password_command(arguments: argparse.Namespace) -> int:
    """Reads the password twice on a terminal, once from a pipe.

    Ctrl-D and Ctrl-C at a prompt end it with one line, as a refusal does.
    """
    if ":" in arguments.user or not arguments.user:
        return _fail("a user name must be non-empty and must not contain ':'")
    try:
        password = _read_password()
    except EOFError:
        return _fail("no password given (end of input)")
    except KeyboardInterrupt:
        print(file=sys.stderr)
        _fail("interrupted")
        return 130
    if password is None:
        return _fail("the passwords differ")
    if not password:
        return _fail("empty password")
    try:
        line = f"{arguments.user}:{hash_password(password)}"
    except PasswordTooLong as exc:
        return _fail(f"{exc}: choose a shorter one")
    print(line)
    return 0


def _read_password() -> str | None:
    """The password, or None when the two entries on a terminal differ."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    return password if getpass.getpass("Again: ") == password else None


__all__ = ["PluginState", "main"]


if __name__ == "__main__":
    main()
