"""``ganeti-fmtjson [FILE...]``: pretty-print JSON, like Ganeti's ``tools/fmtjson``.

Reads each FILE (or standard input when there is none or FILE is ``-``) and prints
it indented. An input that is empty, not JSON or unreadable is reported on stderr in
one line and the other files are still printed.

Exit status: 0 when every input was printed, 1 when one was not, 2 for a command-line
error (argparse's convention).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from ganeti_agent import __version__
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.report import pretty_json

PROGRAM = "ganeti-fmtjson"
BAD_INPUT = 1


def parser() -> argparse.ArgumentParser:
    command = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Print JSON documents indented, as Ganeti's tools/fmtjson does.",
        epilog=f"Exit status: 0 when every input was printed, {BAD_INPUT} when one was empty,"
        " not JSON or unreadable (the others are still printed), 2 for a usage error."
        " A file named like an option goes after --.",
    )
    command.add_argument(
        "files", nargs="*", metavar="FILE", help="a JSON file; - or none reads standard input"
    )
    command.add_argument("--version", action="version", version=f"{PROGRAM} {__version__}")
    return command


def format_stream(name: str, stream: TextIO, out: TextIO, err: TextIO) -> bool:
    try:
        text = stream.read()
        if not text.strip():
            print(f"fmtjson: {name}: empty input, expected a JSON document", file=err)
            return False
        value: JSON = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        print(f"fmtjson: {name}: not JSON: {exc}", file=err)
        return False
    out.write(pretty_json(value))
    return True


def run(arguments: Sequence[str], out: TextIO, err: TextIO, stdin: TextIO) -> int:
    ok = True
    for name in arguments or ["-"]:
        if name == "-":
            ok = format_stream("<stdin>", stdin, out, err) and ok
            continue
        try:
            with open(name, encoding="utf-8") as handle:
                ok = format_stream(name, handle, out, err) and ok
        except OSError as exc:
            print(f"fmtjson: {name}: {exc.strerror or exc}", file=err)
            ok = False
    return 0 if ok else BAD_INPUT


def main(argv: Sequence[str] | None = None) -> None:
    files = parser().parse_args(argv).files
    raise SystemExit(run(files, sys.stdout, sys.stderr, sys.stdin))
