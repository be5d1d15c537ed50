"""Imported first by the daemon: stop with one line when Twisted's TLS half is half there.

Twisted loads its TLS support whenever pyOpenSSL can be imported, and that support
needs service_identity too. With pyOpenSSL alone, importing any endpoint, plain TCP
included, fails deep inside Twisted, and twistd prints a traceback instead of saying
what to install. Without pyOpenSSL nothing is loaded; only ``ssl:`` endpoints fail,
and the endpoint check in :mod:`ganeti_agent.access` says so.
"""

from __future__ import annotations

TLS_EXTRA_HINT = (
    "ssl: endpoints need pyOpenSSL and service_identity: install ganeti-agent[tls] "
    "(Debian: python3-openssl python3-service-identity)"
)


def half_installed() -> str | None:
    """Why Twisted cannot load at all here, or None."""
    try:
        import OpenSSL  # noqa: F401
    except ImportError:
        return None
    try:
        import service_identity  # noqa: F401
    except ImportError as exc:
        return f"pyOpenSSL is installed without service_identity ({exc}); {TLS_EXTRA_HINT}"
    return None


_problem = half_installed()
if _problem is not None:
    raise SystemExit(f"ganeti-agent: {_problem}")
