"""Parse time of the storage collectors' inputs as they grow.

``python -m bench.storage`` builds /proc/drbd files of 10, 100 and 1,000 minors (DRBD
8.4 format, a quarter of them resyncing) and lvs outputs of 100, 1,000 and 10,000
volumes, parses each several times and prints the best time per parse and the time per
item, so linear growth shows as a constant per-item figure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.timing import best_time
from ganeti_agent.parsers.drbd import parse_drbd
from ganeti_agent.parsers.lvs import lv_data, parse_lvs

HEADER = (
    "version: 8.4.11 (api:1/proto:86-101)\n"
    "GIT-hash: 0123456789abcdef0123456789abcdef01234567 build by bench@example.com\n"
)
PERF = "    ns:1048576 nr:0 dw:1048576 dr:2048 al:12 bm:64 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0\n"
SYNC = (
    "\t[=====>..............] sync'ed: 34.9% (346112/524288)K\n"
    "\tfinish: 0:00:05 speed: 59,392 (59,392) want: 61,440 K/sec\n"
)
LV = (
    "  nhasjL-cnZi-uqLS-WRLj-tkXI-nvCB-{n:06d};{n:08x}-a833-48ff-8bd5-bff2eaeab759.disk0_data;"
    "-wi-ao----;-1;-1;253;{n};1073741824B;1;originstname+inst{n}.example.com;;"
    "uZgXit-eiRr-vRqe-xpEo-e9nU-mTuR-9nfVIU;xenvg;linear;0B;0;1073741824B;;"
    "/dev/sda5:0-255;/dev/sda5(0)\n"
)


def drbd_text(minors: int) -> str:
    parts = [HEADER]
    for minor in range(minors):
        if minor % 4 == 3:
            head = f"{minor:3d}: cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate"
            parts.append(f"{head} C r-----\n{PERF}{SYNC}")
        else:
            head = f"{minor:3d}: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate"
            parts.append(f"{head} C r-----\n{PERF}")
    return "".join(parts)


def lvs_text(volumes: int) -> str:
    return "".join(LV.format(n=n) for n in range(volumes))


@dataclass(frozen=True)
class Row:
    input: str
    items: int
    size_bytes: int
    best_ms: float
    per_item_us: float


def _row(label: str, items: int, text: str, parse: Callable[[str], object], repeat: int) -> Row:
    seconds = best_time(lambda: parse(text), repeat)
    return Row(label, items, len(text), seconds * 1e3, seconds / items * 1e6)


def _drbd(text: str) -> object:
    return parse_drbd(text).to_json({})


def _lvs(text: str) -> object:
    return lv_data(parse_lvs(text), [])


def rows(repeat: int = 5) -> list[Row]:
    """One row per input size: best of ``repeat`` parses (including the JSON mapping)."""
    result = [_row("/proc/drbd minors", n, drbd_text(n), _drbd, repeat) for n in (10, 100, 1000)]
    result += [_row("lvs volumes", n, lvs_text(n), _lvs, repeat) for n in (100, 1000, 10000)]
    return result


def main() -> None:
    print(f"{'input':<20} {'items':>7} {'bytes':>10} {'best ms':>9} {'us/item':>8}")
    for row in rows():
        print(
            f"{row.input:<20} {row.items:>7} {row.size_bytes:>10} "
            f"{row.best_ms:>9.2f} {row.per_item_us:>8.2f}"
        )


if __name__ == "__main__":
    main()
