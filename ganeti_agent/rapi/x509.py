"""HMAC-SHA1 signatures over the cluster domain secret, as Ganeti computes them.

Clusters that share ``/var/lib/ganeti/cluster-domain-secret`` trust each
other's remote import/export: the source proves it knows the secret with a
handshake, and each side's X.509 CA travels as PEM behind an
``X-Ganeti-Signature: <salt>/<hmac>`` header (``lib/utils/x509.py`` and
``lib/masterd/instance.py`` in Ganeti). The values here must equal Ganeti's
byte for byte, or a real cluster refuses them. Text in, text out; no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ganeti_agent.core.jsontypes import JSONArray

SIGNATURE_HEADER = "X-Ganeti-Signature"
#: Ganeti's remote import/export protocol version and handshake text.
RIE_VERSION = 0
RIE_HANDSHAKE = "Hi, I'm Ganeti"

_SALT = re.compile(r"^[a-zA-Z0-9]+$")
_SIGNATURE_LINE = re.compile(
    rf"^{re.escape(SIGNATURE_HEADER)}:\s*(?P<salt>[a-zA-Z0-9]+)/(?P<sign>[a-zA-Z0-9]+)$",
    re.S | re.I,
)
_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"


class SignatureError(ValueError):
    """A signed certificate, handshake or disk description that does not check out."""


def sha1_hmac(key: str, message: str | bytes, salt: str | None = None) -> str:
    """Ganeti's ``Sha1Hmac``: hex HMAC-SHA1 of salt + message under the secret."""
    body = message.encode("utf-8") if isinstance(message, str) else message
    if salt:
        body = salt.encode("utf-8") + body
    return hmac.new(key.encode("utf-8"), body, hashlib.sha1).hexdigest()


def verify_sha1_hmac(key: str, message: str | bytes, digest: str, salt: str | None = None) -> bool:
    """Ganeti's ``VerifySha1Hmac`` (case-insensitive), compared in constant time."""
    expected = sha1_hmac(key, message, salt)
    return hmac.compare_digest(digest.lower().encode(), expected.encode())


def canonical_certificate_pem(pem: str) -> str:
    """The certificate re-serialised, as OpenSSL's load-then-dump gives it.

    Ganeti signs this form, not the text it was handed, so stray whitespace or
    a leading header cannot change the signature.
    """
    start = pem.find(_PEM_BEGIN)
    if start < 0:
        raise SignatureError("no PEM certificate found")
    try:
        certificate = x509.load_pem_x509_certificate(pem[start:].encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise SignatureError(f"certificate is not valid PEM: {exc}") from None
    return certificate.public_bytes(Encoding.PEM).decode("ascii")


def sign_x509_certificate(certificate_pem: str, key: str, salt: str) -> str:
    """Ganeti's ``SignX509Certificate``: the signature header, a blank line, the PEM."""
    if not _SALT.match(salt):
        raise SignatureError(f"invalid salt: {salt!r}")
    pem = canonical_certificate_pem(certificate_pem)
    return f"{SIGNATURE_HEADER}: {salt}/{sha1_hmac(key, pem, salt)}\n\n{pem}"


def certificate_signature(signed_pem: str) -> tuple[str, str]:
    """The (salt, signature) of a signed certificate; needs no secret.

    Like Ganeti, only the lines before the PEM block are searched.
    """
    for line in signed_pem.splitlines():
        if line.startswith("---"):
            break
        found = _SIGNATURE_LINE.match(line.strip())
        if found:
            return found.group("salt"), found.group("sign")
    raise SignatureError("X509 certificate signature is missing")


def load_signed_x509_certificate(signed_pem: str, key: str) -> tuple[str, str]:
    """Ganeti's ``LoadSignedX509Certificate``: (canonical PEM, salt) once the HMAC checks."""
    salt, signature = certificate_signature(signed_pem)
    pem = canonical_certificate_pem(signed_pem)
    if not verify_sha1_hmac(key, pem, signature, salt):
        raise SignatureError("X509 certificate signature is invalid")
    return pem, salt


def _handshake_message(version: object) -> str:
    return f"{version}:{RIE_HANDSHAKE}"


def remote_export_handshake(key: str, salt: str) -> JSONArray:
    """``[version, hmac, salt]``, which the source sends to prove it shares the secret."""
    return [RIE_VERSION, sha1_hmac(key, _handshake_message(RIE_VERSION), salt), salt]


def check_remote_export_handshake(key: str, handshake: Sequence[object]) -> str | None:
    """Ganeti's ``CheckRemoteExportHandshake``: None when good, else why not."""
    if len(handshake) != 3 or not all(isinstance(part, str) for part in handshake[1:]):
        return f"Invalid data: {handshake!r}"
    version, digest, salt = handshake
    assert isinstance(digest, str) and isinstance(salt, str)
    if not verify_sha1_hmac(key, _handshake_message(version), digest, salt):
        return "Hash didn't match, clusters don't share the same domain secret"
    if version != RIE_VERSION:
        return (
            "Clusters don't have the same remote import/export protocol"
            f" (local={RIE_VERSION}, remote={version})"
        )
    return None


def _disk_message(index: int, host: object, port: object, magic: object) -> str:
    return f"{index}:{host}:{port}:{magic}"


def remote_import_disk_info(
    key: str, salt: str, index: int, host: str, port: int, magic: str
) -> JSONArray:
    """``[host, port, magic, hmac, salt]``: where the destination listens for disk ``index``."""
    return [host, port, magic, sha1_hmac(key, _disk_message(index, host, port, magic), salt), salt]


def check_remote_export_disk_info(key: str, index: int, disk_info: Sequence[object]) -> None:
    """Ganeti's ``CheckRemoteExportDiskInfo``, without the name resolution."""
    if len(disk_info) != 5:
        raise SignatureError(f"Invalid data: {disk_info!r}")
    host, port, magic, digest, salt = disk_info
    if not (host and port and magic):
        raise SignatureError("Missing destination host, port or magic")
    if not (isinstance(digest, str) and isinstance(salt, str)):
        raise SignatureError(f"Invalid data: {disk_info!r}")
    if not verify_sha1_hmac(key, _disk_message(index, host, port, magic), digest, salt):
        raise SignatureError("HMAC is wrong")


def x509_key_name(key: str, name: str, salt: str) -> JSONArray:
    """``[name, hmac, salt]``: the source's export key, as prepare-export returns it."""
    return [name, sha1_hmac(key, name, salt), salt]


def check_x509_key_name(key: str, key_name: Sequence[object]) -> None:
    """The HMAC check LUBackupExport makes on the key name it is sent back."""
    if len(key_name) != 3 or not all(isinstance(part, str) for part in key_name):
        raise SignatureError(f"Invalid data: {key_name!r}")
    name, digest, salt = key_name
    assert isinstance(name, str) and isinstance(digest, str) and isinstance(salt, str)
    if not verify_sha1_hmac(key, name, digest, salt):
        raise SignatureError("HMAC for X509 key name is wrong")
