"""Listening endpoints, TLS and HTTP basic authentication, on real sockets on 127.0.0.1."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from treq.client import HTTPClient
from twisted.cred import error
from twisted.cred.credentials import IUsernamePassword
from twisted.internet import endpoints
from twisted.internet import reactor as global_reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.internet.threads import deferToThread
from twisted.logger import LogEvent
from twisted.python import usage
from twisted.web.client import Agent
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from ganeti_agent.core.framework import AgentContext, CollectorSet
from ganeti_agent.core.paths import GanetiPaths
from ganeti_agent.core.settings import AgentSettings, SettingsError, parse_settings
from ganeti_agent.server.access import (
    MAX_PASSWORD_BYTES,
    AccessSettings,
    BcryptChecker,
    PasswordTooLong,
    access_settings,
    hash_password,
    load_users,
    protect,
)
from ganeti_agent.server.api import MonitoringAPI
from ganeti_agent.server.metrics import MetricsExporter
from ganeti_agent.server.tap import Options
from ganeti_agent.server.web import AgentSite
from tests.log_capture import failures, logged_events
from tests.support import REPO, FakeRunner, async_test

reactor: Any = global_reactor


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 and localhost."""
    directory = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    alt_names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = directory / "key.pem", directory / "cert.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


@implementer(IPolicyForHTTPS)
class TrustOne:
    """Trusts exactly the test's certificate."""

    def __init__(self, pem: bytes) -> None:
        self.certificate = Certificate.loadPEM(pem)

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        return optionsForClientTLS("localhost", trustRoot=self.certificate)


def api() -> MonitoringAPI:
    ctx = AgentContext(clock=reactor, runner=FakeRunner(), paths=GanetiPaths(), hostname="n1")
    collectors = CollectorSet([], reactor, lambda: 1.0)
    served = MonitoringAPI(collectors)
    served.extra_routes["metrics"] = MetricsExporter(collectors).route
    assert ctx.hostname == "n1"
    return served


class Listening:
    def __init__(self) -> None:
        self.ports: list[Any] = []
        self.sites: list[AgentSite] = []

    async def serve(self, description: str, access: AccessSettings) -> int:
        site = AgentSite(protect(api().resource(), access), False)
        self.sites.append(site)
        endpoint = endpoints.serverFromString(reactor, description)
        port = await endpoint.listen(site)
        self.ports.append(port)
        return int(port.getHost().port)


@pytest.fixture
def listening() -> Iterator[Listening]:
    started = Listening()
    yield started
    for port in started.ports:
        port.stopListening()


def ssl_endpoint(tls_files: tuple[Path, Path]) -> str:
    key, cert = tls_files
    return f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"


def https_client(tls_files: tuple[Path, Path]) -> Any:
    return HTTPClient(Agent(reactor, contextFactory=TrustOne(tls_files[1].read_bytes())))


def users() -> dict[str, bytes]:
    return {"prometheus": hash_password("scrape me", rounds=4).encode()}


@async_test
async def test_tls_endpoint_serves_the_api(
    listening: Listening, tls_files: tuple[Path, Path]
) -> None:
    port = await listening.serve(ssl_endpoint(tls_files), AccessSettings(listen=()))
    response = await https_client(tls_files).get(f"https://127.0.0.1:{port}/")
    assert response.code == 200
    assert await response.content() == b"[1]"


@async_test
async def test_basic_auth_over_tls(listening: Listening, tls_files: tuple[Path, Path]) -> None:
    port = await listening.serve(ssl_endpoint(tls_files), AccessSettings((), users()))
    client = https_client(tls_files)
    url = f"https://127.0.0.1:{port}/metrics"
    anonymous = await client.get(url)
    assert anonymous.code == 401
    assert anonymous.headers.getRawHeaders(b"www-authenticate") == [b'basic realm="ganeti-agent"']
    await anonymous.content()
    wrong = await client.get(url, auth=("prometheus", "guess"))
    assert wrong.code == 401
    await wrong.content()
    stranger = await client.get(url, auth=("mallory", "scrape me"))
    assert stranger.code == 401
    await stranger.content()
    right = await client.get(url, auth=("prometheus", "scrape me"))
    assert right.code == 200
    assert b"ganeti_agent_info" in await right.content()


@async_test
async def test_basic_auth_on_plain_http(listening: Listening) -> None:
    port = await listening.serve("tcp:0:interface=127.0.0.1", AccessSettings((), users()))
    client = HTTPClient(Agent(reactor))
    url = f"http://127.0.0.1:{port}/1/list/collectors"
    refused = await client.get(url)
    assert refused.code == 401
    await refused.content()
    allowed = await client.get(url, auth=("prometheus", "scrape me"))
    assert (allowed.code, await allowed.content()) == (200, b"[]")


@async_test
async def test_a_verified_password_is_not_hashed_again() -> None:
    calls: list[bytes] = []

    def verify(password: bytes, hashed: bytes) -> Deferred[bool]:
        calls.append(password)
        return succeed(password == b"right")

    checker = BcryptChecker({"u": b"hash"}, verify)

    @implementer(IUsernamePassword)
    class Creds:
        def __init__(self, password: bytes) -> None:
            self.username, self.password = b"u", password

        def checkPassword(self, password: bytes) -> bool:
            return password == self.password

    assert await checker.requestAvatarId(Creds(b"right")) == b"u"
    assert await checker.requestAvatarId(Creds(b"right")) == b"u"
    with pytest.raises(error.UnauthorizedLogin):
        await checker.requestAvatarId(Creds(b"wrong"))
    assert calls == [b"right", b"wrong"]


@implementer(IUsernamePassword)
class Creds:
    def __init__(self, username: bytes, password: bytes) -> None:
        self.username, self.password = username, password

    def checkPassword(self, password: bytes) -> bool:
        return password == self.password


@async_test
async def test_unknown_users_and_long_passwords_cost_one_check_and_get_refused() -> None:
    """Every refusal costs what a wrong password costs, so timing tells no user names."""
    calls: list[tuple[bytes, bytes]] = []

    def verify(password: bytes, hashed: bytes) -> Deferred[bool]:
        calls.append((password, hashed))
        return succeed(True)

    checker = BcryptChecker({"u": b"hash-of-u"}, verify)
    for name, password in [(b"stranger", b"pw"), (b"u", b"p" * 100), (b"\xff", b"pw")]:
        with pytest.raises(error.UnauthorizedLogin):
            await checker.requestAvatarId(Creds(name, password))
    longest = b"p" * MAX_PASSWORD_BYTES
    assert calls == [(b"pw", b"hash-of-u"), (longest, b"hash-of-u"), (b"pw", b"hash-of-u")]


@async_test
async def test_a_password_over_72_bytes_is_refused_by_real_bcrypt() -> None:
    checker = BcryptChecker(users())
    with pytest.raises(error.UnauthorizedLogin):
        await checker.requestAvatarId(Creds(b"prometheus", b"scrape me" * 20))
    assert await checker.requestAvatarId(Creds(b"prometheus", b"scrape me")) == b"prometheus"


def test_hash_password_refuses_what_bcrypt_cannot_hash() -> None:
    with pytest.raises(PasswordTooLong, match="73 bytes; bcrypt uses at most 72"):
        hash_password("é" * 36 + "x", rounds=4)
    assert hash_password("x" * 72, rounds=4).startswith("$2b$04$")


@pytest.fixture
def log_events() -> Iterator[list[LogEvent]]:
    """Everything logged during the test."""
    with logged_events() as events:
        yield events


def connect(port: int, secure: bool) -> socket.socket:
    """A connection that has finished its TLS handshake (or TCP's), left open."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    if not secure:
        return raw
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context.wrap_socket(raw)


def closed_at_once(port: int, secure: bool) -> bool:
    """Whether a connection over the cap is closed without an answer."""
    try:
        with connect(port, secure) as extra:
            extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            return extra.recv(100) == b""
    except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
        return True


@pytest.mark.parametrize("kind", ["tcp", "ssl"])
@async_test
async def test_connections_over_the_cap_are_closed_quietly_on_tcp_and_tls(
    kind: str,
    listening: Listening,
    tls_files: tuple[Path, Path],
    log_events: list[LogEvent],
) -> None:
    secure = kind == "ssl"
    description = ssl_endpoint(tls_files) if secure else "tcp:0:interface=127.0.0.1"
    port = await listening.serve(description, AccessSettings(listen=()))
    [site] = listening.sites
    site.max_connections = 2
    held = [await deferToThread(connect, port, secure) for _ in range(2)]
    try:
        for _ in range(5):
            assert await deferToThread(closed_at_once, port, secure)
    finally:
        for connection in held:
            with contextlib.suppress(OSError):
                connection.close()
    assert site.refusals.count == 5
    assert failures(log_events) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "has no users"),
        ("# only a comment\n\n", "has no users"),
        ("alice\n", ":1: expected name:bcrypt-hash"),
        ("alice:secret\n", ":1: the hash of 'alice' is not a bcrypt hash"),
        ("a:{h}\na:{h}\n", ":2: user 'a' appears twice"),
    ],
)
def test_users_file_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "users"
    path.write_text(text.replace("{h}", hash_password("x", rounds=4)))
    with pytest.raises(SettingsError, match=message):
        load_users(str(path))


def test_users_file_is_read(tmp_path: Path) -> None:
    hashed = hash_password("x", rounds=4)
    path = tmp_path / "users"
    path.write_text(f"# users\nalice:{hashed}\n\n")
    assert load_users(str(path)) == {"alice": hashed.encode()}
    with pytest.raises(SettingsError, match="cannot read users file"):
        load_users(str(tmp_path / "missing"))


def settings(text: str) -> AgentSettings:
    return parse_settings(text)


def test_listen_precedence_and_validation(tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    default = "tcp:1815:interface=0.0.0.0"
    assert access_settings(settings(""), [], None, default, reactor).listen == (default,)
    configured = settings("[agent]\nlisten = tcp:1:interface=127.0.0.1\n  tcp:2\n")
    assert access_settings(configured, [], None, default, reactor).listen == (
        "tcp:1:interface=127.0.0.1",
        "tcp:2",
    )
    assert access_settings(configured, ["tcp:3"], None, default, reactor).listen == ("tcp:3",)
    with pytest.raises(SettingsError, match="invalid listen endpoint 'bogus:1'"):
        access_settings(settings(""), ["bogus:1"], None, default, reactor)
    missing = f"ssl:1:privateKey={tmp_path}/nokey.pem:certKey={tmp_path}/nocert.pem"
    with pytest.raises(SettingsError, match="invalid listen endpoint"):
        access_settings(settings(""), [missing], None, default, reactor)
    assert (
        access_settings(settings(""), [ssl_endpoint(tls_files)], None, default, reactor).notes == ()
    )


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf", "nan"])
def test_request_timeout_must_be_positive_seconds(value: str) -> None:
    config = settings(f"[agent]\nrequest-timeout = {value}\n")
    with pytest.raises(SettingsError, match="request-timeout: expected seconds above 0"):
        access_settings(config, [], None, "tcp:1815", reactor)


def test_request_timeout_is_read() -> None:
    assert access_settings(settings(""), [], None, "tcp:1", reactor).request_timeout == 10
    configured = settings("[agent]\nrequest-timeout = 2.5\n")
    assert access_settings(configured, [], None, "tcp:1", reactor).request_timeout == 2.5


@pytest.mark.parametrize(
    ("missing", "kind"),
    [("OpenSSL", "ssl"), ("service_identity", "ssl"), ("service_identity", "tcp")],
)
def test_a_missing_tls_module_is_named_in_one_line(
    tmp_path: Path, tls_files: tuple[Path, Path], missing: str, kind: str
) -> None:
    """twistd where ``import OpenSSL`` or ``import service_identity`` fails: no traceback.

    pyOpenSSL without service_identity breaks every Twisted endpoint, tcp: included.
    """
    (tmp_path / "sitecustomize.py").write_text(f"import sys\nsys.modules[{missing!r}] = None\n")
    twistd = Path(sys.executable).with_name("twistd")
    endpoint = ssl_endpoint(tls_files) if kind == "ssl" else "tcp:0:interface=127.0.0.1"
    done = subprocess.run(
        [str(twistd), "--nodaemon", "--pidfile=", "ganeti-agent", "--no-confd",
         "--listen", endpoint],
        env={"PYTHONPATH": f"{tmp_path}:{REPO}", "PATH": "/usr/bin:/bin"},
        capture_output=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    error_text = done.stderr.decode() + done.stdout.decode()
    assert done.returncode != 0
    assert "Traceback" not in error_text
    assert "install ganeti-agent[tls]" in error_text.strip().splitlines()[-1]


def test_auth_without_tls_is_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text(f"a:{hash_password('x', rounds=4)}\n")
    config = settings(f"[agent]\nauth-users = {path}\nauth-realm = cluster1\n")
    access = access_settings(config, [], None, "tcp:1815", reactor)
    assert access.users is not None and access.realm == "cluster1"
    assert access.notes and "clear text" in access.notes[0]


def test_twistd_options(tmp_path: Path) -> None:
    options = Options()
    options.parseOptions(["--listen", "tcp:0:interface=127.0.0.1", "--listen", "tcp:0"])
    assert options["access"].listen == ("tcp:0:interface=127.0.0.1", "tcp:0")
    options = Options()
    options.parseOptions(["-b", "127.0.0.1", "-p", "1900"])
    assert options["access"].listen == ("tcp:1900:interface=127.0.0.1",)
    with pytest.raises(usage.UsageError, match="cannot read users file"):
        Options().parseOptions(["--auth-users", str(tmp_path / "missing")])
