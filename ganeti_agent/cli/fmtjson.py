"""``ganeti-fmtjson [FILE...]``: pretty-print JSON, like Ganeti's ``tools/fmtjson``.

Reads each FILE (or standard input when there is none or FILE is ``-``) and prints
it indented; a file that is not JSON is reported on stderr and makes the exit
status 1, the other files are still printed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TextIO

from ganeti_agent.report import pretty_json


def format_stream(name: str, stream: TextIO, out: TextIO, err: TextIO) -> bool:
    try:
        value = json.load(stream)
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
    return 0 if ok else 1


def main() -> None:
    raise SystemExit(run(sys.argv[1:], sys.stdout, sys.stderr, sys.stdin))
