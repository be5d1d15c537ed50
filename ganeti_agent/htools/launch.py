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
from collections.abc import Callable


def _launch(program: str) -> int:
    """Import ``ganeti_agent.htools.<program>`` with the collector paused, then run its ``main``.

    ``__import__`` rather than ``importlib``, which a plain start does not load.
    """
    gc.disable()
    try:
        module = __import__(f"ganeti_agent.htools.{program}", fromlist=["main"])
    finally:
        gc.freeze()
        gc.enable()
    main: Callable[[], int] = module.main
    return main()


def hroller() -> int:
    """``ganeti-hroller``."""
    return _launch("hroller")


def hspace() -> int:
    """``ganeti-hspace``."""
    return _launch("hspace")
