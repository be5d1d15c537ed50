"""ganeti-agent: a node agent for Ganeti clusters (monitoring API, collectors, confd)."""

__version__ = "0.1.0"
