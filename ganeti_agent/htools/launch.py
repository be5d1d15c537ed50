"""The console scripts of the htools programs: each imports its program, then runs it.

Importing a program creates thousands of objects that live until the process
ends (some 15,000 for hroller: modules, classes, functions, dataclass methods;
many more with hspace's NumPy) and almost no garbage, yet the cyclic collector
examines them again and again while they are created: some 6 ms of
``ganeti-hroller``'s 40 ms on a small cluster, more for hspace's NumPy. So the
collector is paused while the program is imported, what the import created is
frozen (``gc.freeze``: never examined again), and the program runs with the
collector on as usual. The programs' ``main`` functions stay the entry points
for everything else.
"""

from __future__ import annotations

import gc


def _resume_collector() -> None:
    gc.freeze()
    gc.enable()


def hroller() -> int:
    """``ganeti-hroller``."""
    gc.disable()
    try:
        from ganeti_agent.htools.hroller import main
    finally:
        _resume_collector()
    return main()


def hspace() -> int:
    """``ganeti-hspace``."""
    gc.disable()
    try:
        from ganeti_agent.htools.hspace import main
    finally:
        _resume_collector()
    return main()
