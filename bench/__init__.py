"""ganeti-agent's benchmark suite: throughput, latency, memory, scale and idle CPU.

``python -m bench`` (``make bench``) runs every part against ganeti-agent and, when
Ganeti 3.0.2 is installed, against the real ganeti-mond and ganeti-confd in the same
run, prints one table and writes it with a machine description to ``bench/results/``.
``python -m bench.soak`` runs the long-duration soak. See ``bench/README.md``.
"""
