"""One verdict per report: the Ganeti status code a report stands for, and why.

Status collectors carry their code in ``data.status``; performance collectors have
none, so a performance report is OK unless its data is the ``{"error": ...}`` object
that a failed collection produces, which counts as "unknown". The Prometheus
exposition and the Nagios check both use this, so they never disagree.

Ganeti writes a code only as one of the integers 0, 1, 2 and 4 (``DCStatusCode``'s
JSON instance in ``Ganeti.DataCollectors.Types``). Anything else, JSON ``true``
included (Python would take it for 1), is not a code Ganeti could have sent, so it
reads as "unknown".
"""

from __future__ import annotations

from collections.abc import Mapping

from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.report import Kind, StatusCode


def status_of(kind: JSON, data: JSON) -> tuple[StatusCode, str]:
    """The status code and message of a report with this ``kind`` and ``data``."""
    if kind == Kind.STATUS:
        return _declared_status(data)
    if isinstance(data, Mapping) and "error" in data:
        return StatusCode.UNKNOWN, str(data["error"])
    return StatusCode.OK, ""


def report_status(report: JSON) -> tuple[StatusCode, str]:
    """The status of a report object as the API serves it (the whole envelope)."""
    if not isinstance(report, Mapping):
        return StatusCode.UNKNOWN, "report is not a JSON object"
    return status_of(report.get("kind"), report.get("data"))


def _declared_status(data: JSON) -> tuple[StatusCode, str]:
    status = data.get("status") if isinstance(data, Mapping) else None
    if not isinstance(status, Mapping):
        return StatusCode.UNKNOWN, "status report without a status object"
    code = status.get("code")
    message = status.get("message")
    text = message if isinstance(message, str) else ""
    if isinstance(code, bool) or not isinstance(code, int):
        return StatusCode.UNKNOWN, text or f"invalid status code {code!r}"
    try:
        return StatusCode(code), text
    except ValueError:
        return StatusCode.UNKNOWN, text or f"invalid status code {code}"
