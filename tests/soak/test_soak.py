"""A short soak of the real agent: steady HTTP and confd load, no growth beyond the bounds.

The agent (``twistd -n ganeti-agent`` on 127.0.0.1, free ports) is loaded for
``SOAK_SECONDS`` at 150 HTTP and 50 confd requests per second, and sampled every
2 s. It fails when, from the sample after the 8 s warm-up to the end:

* resident memory grows by more than 8 MiB,
* open file descriptors grow by more than 4,
* more than 4 child processes exist at one sample, or any zombie is left,
* any HTTP request fails or gets a non-2xx answer,
* fewer than 95 % of confd requests get a verified reply.

The rates are a small fraction of what the agent serves, so a loaded 2-core CI
machine still passes; ``python -m bench.soak`` runs the 10-minute version.
"""

from __future__ import annotations

import pytest

from bench.soak import Bounds, render, run_soak

pytestmark = pytest.mark.e2e

SOAK_SECONDS = 25.0
BOUNDS = Bounds(
    rss_growth_mib=8.0,
    fd_growth=4,
    max_children=4,
    min_confd_reply_ratio=0.95,
    max_http_errors=0,
)


def test_soak_short() -> None:
    result = run_soak(
        duration=SOAK_SECONDS,
        interval=2.0,
        http_rate=150.0,
        confd_rate=50.0,
        warmup=8.0,
        bounds=BOUNDS,
    )
    assert result.http["requests"] > SOAK_SECONDS * 50, render(result)
    assert result.ok, render(result)
