"""Where the HTTP API listens, and who may use it.

Listening is configuration, as in ``twistd web``: repeatable Twisted endpoint strings
(``tcp:1815:interface=127.0.0.1``, ``ssl:1815:privateKey=key.pem:certKey=cert.pem``,
``systemd:domain=INET:index=0``) replace ``--bind``/``--port`` when given. HTTP basic
authentication checks a users file of bcrypt hashes. Both are off by default, as in
Ganeti's mond; basic authentication without TLS sends passwords in clear text.

bcrypt is slow on purpose (hundreds of milliseconds), so hashes are checked in a
thread, and a password that matched once is remembered as a keyed digest for the
life of the process, so a Prometheus scraping every few seconds costs nothing. An
unknown user name costs the same check (against another user's hash, whose answer is
ignored), so timing does not tell which names exist. bcrypt reads at most 72 bytes:
longer passwords are refused by ``hash-password`` and answered 401 by the API.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import bcrypt
from twisted.cred import credentials, error
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.portal import IRealm, Portal
from twisted.internet import endpoints
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorCore
from twisted.internet.threads import deferToThread
from twisted.web.guard import BasicCredentialFactory, HTTPAuthSessionWrapper
from twisted.web.resource import IResource
from zope.interface import implementer

from ganeti_agent.core.settings import AgentSettings, SettingsError
from ganeti_agent.server.tls_guard import TLS_EXTRA_HINT
from ganeti_agent.server.web import REQUEST_TIMEOUT

DEFAULT_REALM = "ganeti-agent"
#: bcrypt's limit; longer passwords were silently cut by older versions, refused by newer.
MAX_PASSWORD_BYTES = 72
BCRYPT_HASH = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")


@dataclass(frozen=True)
class AccessSettings:
    """Validated endpoint descriptions and, when authentication is on, the users."""

    listen: tuple[str, ...]
    users: Mapping[str, bytes] | None = None
    realm: str = DEFAULT_REALM
    notes: tuple[str, ...] = field(default=())
    request_timeout: float = REQUEST_TIMEOUT


def split_endpoints(value: str) -> list[str]:
    """Endpoint strings from the configuration: separated by blanks or newlines."""
    return value.split()


def access_settings(
    settings: AgentSettings,
    listen: Sequence[str],
    auth_users: str | None,
    default_listen: str,
    reactor: IReactorCore,
) -> AccessSettings:
    """Command-line values win over ``[agent]`` keys; errors name what is wrong."""
    descriptions = list(listen) or split_endpoints(settings.get("agent", "listen", ""))
    if not descriptions:
        descriptions = [default_listen]
    for description in descriptions:
        check_endpoint(description, reactor)
    users_file = auth_users or settings.get("agent", "auth-users", "").strip() or None
    realm = settings.get("agent", "auth-realm", DEFAULT_REALM)
    users = load_users(users_file) if users_file else None
    notes = _notes(descriptions, users)
    timeout = request_timeout(settings.get("agent", "request-timeout", str(REQUEST_TIMEOUT)))
    return AccessSettings(tuple(descriptions), users, realm, notes, timeout)


def request_timeout(raw: str) -> float:
    """``[agent] request-timeout``: seconds, more than 0."""
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise SettingsError(f"[agent] request-timeout: expected seconds above 0, got {raw!r}")
    return seconds


def _notes(descriptions: Iterable[str], users: Mapping[str, bytes] | None) -> tuple[str, ...]:
    if users is None or all(d.startswith("ssl:") for d in descriptions):
        return ()
    return ("basic authentication on an endpoint without TLS sends passwords in clear text",)


def check_endpoint(description: str, reactor: IReactorCore) -> None:
    """Refuse an endpoint string Twisted cannot use (syntax, unreadable TLS files)."""
    try:
        endpoints.serverFromString(reactor, description)
    except ImportError as exc:
        if description.startswith("ssl:"):
            raise SettingsError(f"{TLS_EXTRA_HINT} ({exc})") from None
        raise SettingsError(f"invalid listen endpoint {description!r}: {exc}") from None
    except Exception as exc:
        raise SettingsError(f"invalid listen endpoint {description!r}: {exc}") from None


def load_users(path: str) -> dict[str, bytes]:
    """Parse a users file: ``name:bcrypt-hash`` per line, ``#`` comments, blank lines."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise SettingsError(f"cannot read users file {path}: {reason}") from None
    users: dict[str, bytes] = {}
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        name, _, hashed = text.partition(":")
        where = f"{path}:{number}"
        if not name or not hashed:
            raise SettingsError(f"{where}: expected name:bcrypt-hash")
        if not BCRYPT_HASH.fullmatch(hashed):
            raise SettingsError(f"{where}: the hash of {name!r} is not a bcrypt hash ($2b$...)")
        if name in users:
            raise SettingsError(f"{where}: user {name!r} appears twice")
        users[name] = hashed.encode("ascii")
    if not users:
        raise SettingsError(f"users file {path} has no users; remove auth-users to turn it off")
    return users


class PasswordTooLong(ValueError):
    """bcrypt would refuse (or, before bcrypt 4.1, silently cut) the password."""


def hash_password(password: str, rounds: int = 12) -> str:
    """A bcrypt hash for the users file."""
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise PasswordTooLong(
            f"the password has {len(encoded)} bytes; bcrypt uses at most {MAX_PASSWORD_BYTES}"
        )
    return bcrypt.hashpw(encoded, bcrypt.gensalt(rounds)).decode("ascii")


Verifier = Callable[[bytes, bytes], Deferred[bool]]


def _threaded_verify(password: bytes, hashed: bytes) -> Deferred[bool]:
    return deferToThread(bcrypt.checkpw, password, hashed)


@implementer(ICredentialsChecker)
class BcryptChecker:
    """Checks user names and passwords against bcrypt hashes."""

    credentialInterfaces = (credentials.IUsernamePassword,)

    def __init__(self, users: Mapping[str, bytes], verify: Verifier = _threaded_verify) -> None:
        self.users = dict(users)
        self.verify = verify
        self._decoy = next(iter(self.users.values()), None)
        self._key = os.urandom(32)
        self._verified: dict[str, bytes] = {}

    def _digest(self, password: bytes) -> bytes:
        return hmac.new(self._key, password, hashlib.sha256).digest()

    def requestAvatarId(self, creds: IUsernamePassword) -> Deferred[bytes | tuple[()]]:
        username = creds.username.decode("utf-8", "replace")
        password: bytes = creds.password
        hashed = self.users.get(username)
        if hashed is None or len(password) > MAX_PASSWORD_BYTES:
            return self._refuse_as_slowly(password)
        digest = self._digest(password)
        remembered = self._verified.get(username)
        if remembered is not None and hmac.compare_digest(remembered, digest):
            return succeed(creds.username)

        def checked(matches: bool) -> bytes | tuple[()]:
            if not matches:
                raise error.UnauthorizedLogin()
            self._verified[username] = digest
            return bytes(creds.username)

        return self.verify(password, hashed).addCallback(checked)

    def _refuse_as_slowly(self, password: bytes) -> Deferred[bytes | tuple[()]]:
        """401 after the cost of a real check, so its timing tells nothing."""
        if self._decoy is None:
            return fail(error.UnauthorizedLogin())

        def refuse(_: object) -> bytes | tuple[()]:
            raise error.UnauthorizedLogin()

        checked = self.verify(password[:MAX_PASSWORD_BYTES], self._decoy)
        return checked.addBoth(refuse)


@implementer(IRealm)
class _ResourceRealm:
    """Every authenticated user sees the same API."""

    def __init__(self, resource: IResource) -> None:
        self.resource = resource

    def requestAvatar(
        self, avatar_id: bytes | tuple[()], mind: object, *interfaces: object
    ) -> tuple[type[IResource], IResource, Callable[[], None]]:
        if IResource not in interfaces:
            raise NotImplementedError("only web resources are served")
        return IResource, self.resource, lambda: None


def protect(resource: IResource, access: AccessSettings) -> IResource:
    """The resource behind HTTP basic authentication when users are configured."""
    if access.users is None:
        return resource
    portal = Portal(_ResourceRealm(resource), [BcryptChecker(access.users)])
    factory = BasicCredentialFactory(access.realm.encode("utf-8"))
    wrapped: IResource = HTTPAuthSessionWrapper(portal, [factory])
    return wrapped
