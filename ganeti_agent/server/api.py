"""The monitoring HTTP API (protocol version 1), as Ganeti's mond answers it.

Routing follows mond's rules exactly (spec 3.3): segments are percent-decoded before
matching, the query string is ignored except ``verbose``, trailing segments after a
complete route are ignored, and the two 404 bodies differ by where the path went
astray. Reports are served from the collectors' encoded bytes, so a request does no
JSON work for a cached report. Improvements over mond are listed in the README.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import unquote_to_bytes

from klein import Klein
from twisted.internet.defer import Deferred
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request
from werkzeug.exceptions import HTTPException

from ganeti_agent.core.framework import CollectedReport, CollectorSet, ManagedCollector
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.report import (
    Kind,
    category_segment,
    encode_json,
    parse_category_segment,
)

API_VERSIONS: list[JSON] = [1]
ALLOWED_METHODS = (b"GET", b"HEAD")
NOT_FOUND = b"Resource not found"
NO_REPORT = b"Unable to produce a report for the requested resource"
BAD_REQUEST = b"Bad request"
JSON_TYPE = b"application/json"
TEXT_TYPE = b"text/plain; charset=utf-8"

ExtraRoute = Callable[[IRequest, Sequence[str]], bytes | Deferred[bytes] | None]


def path_segments(raw_path: bytes) -> list[str]:
    """Split the raw path on ``/`` and percent-decode each segment, as mond does.

    A decoded ``%2F`` therefore stays inside its segment.
    """
    parts = raw_path.split(b"/")[1:]
    return [unquote_to_bytes(part).decode("utf-8", "replace") for part in parts]


def _verbose(request: IRequest) -> bool:
    """``verbose=0`` asks for the short status form; the default is the full data."""
    values = request.args.get(b"verbose") if request.args else None
    return not (values and values[-1].strip() in (b"0", b"false", b"no"))


def short_form(report: CollectedReport) -> bytes:
    """The design document's non-verbose report: a status collector's status only."""
    if report.report.kind is not Kind.STATUS or not isinstance(report.report.data, dict):
        return report.encoded
    status = report.report.data.get("status")
    envelope = report.report.to_json_object()
    envelope["data"] = {"status": status} if status is not None else report.report.data
    return encode_json(envelope)


def _with_length(request: Request, body: bytes) -> bytes:
    """Set Content-Length, so Twisted sends the body as is instead of chunk-encoding it."""
    request.setHeader(b"Content-Length", b"%d" % len(body))
    return body


def _decodable(text: bytes) -> bool:
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class GuardedResource(Resource):
    """Klein's resource, with the requests it cannot route answered ``400`` here.

    Klein logs a traceback for a path or Host that is not UTF-8, and werkzeug refuses
    a Host that is not a valid IDNA name (``a..b``, a label over 63 characters) with an
    exception that becomes a 500 and a critical traceback. Neither is worth more than
    the access-log line of its 400.
    """

    isLeaf = True

    def __init__(self, routed: IResource) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.routed = routed

    def render(self, request: Request) -> bytes | int:
        path = b"/".join(request.prepath + request.postpath)  # type: ignore[operator]
        if not (_decodable(path) and _decodable(request.getRequestHostname())):
            return _bad_request(request)
        try:
            answer: bytes | int = self.routed.render(request)
        except HTTPException:
            return _bad_request(request)
        return answer


def _bad_request(request: Request) -> bytes:
    request.setResponseCode(400)
    request.setHeader(b"Content-Type", TEXT_TYPE)
    return _with_length(request, BAD_REQUEST)


class MonitoringAPI:
    """Klein application serving Ganeti's monitoring protocol from a CollectorSet."""

    app = Klein()

    def __init__(self, collectors: CollectorSet) -> None:
        self.collectors = collectors
        self.extra_routes: dict[str, ExtraRoute] = {}

    def resource(self) -> IResource:
        routed: IResource = self.app.resource()
        return GuardedResource(routed)

    @app.route("/", branch=True, methods=None)
    def dispatch(self, request: Request) -> bytes | Deferred[bytes]:
        if request.method not in ALLOWED_METHODS:
            request.setResponseCode(405)
            request.setHeader(b"Allow", b", ".join(ALLOWED_METHODS))
            return self._text(request, b"Method not allowed")
        segments = path_segments(request.path)
        extra = self.extra_routes.get(segments[0]) if segments else None
        if extra is not None:
            answer = extra(request, segments)
            if answer is not None:
                return answer
        return self._route(request, segments)

    def _route(self, request: Request, segments: list[str]) -> bytes | Deferred[bytes]:
        if segments == [""]:
            return self._json(request, encode_json(API_VERSIONS))
        if not segments or segments[0] != "1":
            return self._not_found(request, NOT_FOUND)
        rest = segments[1:]
        if rest in ([], [""]):
            return self._json(request, b"null")
        if rest[:2] == ["list", "collectors"]:
            return self._json(request, self._listing())
        if rest[:1] == ["report"]:
            return self._report(request, rest[1:])
        return self._not_found(request, NOT_FOUND)

    def _listing(self) -> bytes:
        return encode_json(
            [
                [m.name, category_segment(m.collector.category), int(m.collector.kind)]
                for m in self.collectors.active()
            ]
        )

    def _report(self, request: Request, rest: list[str]) -> bytes | Deferred[bytes]:
        verbose = _verbose(request)
        if rest[:1] == ["all"]:
            gathered = self.collectors.reports(self.collectors.active())
            return gathered.addCallback(
                lambda reports: self._json(request, self._join(reports, verbose))
            )
        if len(rest) < 2:
            return self._not_found(request, NO_REPORT)
        known, category = parse_category_segment(rest[0])
        managed: ManagedCollector | None = (
            self.collectors.find(category, rest[1]) if known else None
        )
        if managed is None:
            return self._not_found(request, NO_REPORT)
        return managed.report().addCallback(
            lambda report: self._json(request, report.encoded if verbose else short_form(report))
        )

    @staticmethod
    def _join(reports: list[CollectedReport], verbose: bool) -> bytes:
        parts = [r.encoded if verbose else short_form(r) for r in reports]
        return b"[" + b",".join(parts) + b"]"

    @staticmethod
    def _json(request: Request, body: bytes) -> bytes:
        request.setHeader(b"Content-Type", JSON_TYPE)
        return _with_length(request, body)

    @staticmethod
    def _text(request: Request, body: bytes) -> bytes:
        request.setHeader(b"Content-Type", TEXT_TYPE)
        return _with_length(request, body)

    def _not_found(self, request: Request, body: bytes) -> bytes:
        request.setResponseCode(404, b"Not found")
        return self._text(request, body)
