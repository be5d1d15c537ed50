"""Ganeti's cluster planning tools (htools), starting with hspace.

Layers, as in Ganeti's ``src/Ganeti/HTools``: ``types`` → ``instance``,
``node``, ``group`` → ``loader`` → backends (``text``, ``simu``) →
``metrics``, ``allocation``, ``globaln1`` → programs (``hspace``).
"""
