"""confd: Ganeti's UDP configuration query protocol, as server, client and CLI.

``constants`` and ``protocol`` are the wire format (spec/confd.md sections 1-3),
``config`` loads and watches ``config.data``, ``answers`` computes replies from it,
``server`` is the UDP daemon, ``client`` the Deferred-based client, ``queries`` the
``ClusterQueries`` implementations the collectors and the CLIs use.
"""
