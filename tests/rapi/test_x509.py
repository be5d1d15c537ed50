"""Signatures over the cluster domain secret equal Ganeti's, byte for byte."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ganeti_agent.rapi import x509

DATA = Path(__file__).parent / "data"
CERTIFICATE = (DATA / "x509-ca.pem").read_text()
GANETI_LIBRARY = Path("/usr/share/ganeti/3.0/ganeti/utils/x509.py")
KEY = "cluster-domain-secret"


def check_vectors(vectors: dict[str, Any]) -> None:
    for key, message, salt, digest in vectors["hmac"]:
        assert x509.sha1_hmac(key, message, salt) == digest
    for key, salt, signed in vectors["signed"]:
        assert x509.sign_x509_certificate(CERTIFICATE, key, salt) == signed
    host, port, magic, _, salt = vectors["disk_info"]
    assert x509.remote_import_disk_info(KEY, salt, 1, host, port, magic) == vectors["disk_info"]
    assert x509.x509_key_name(KEY, "x509-101", "00000065")[1] == vectors["key_name_hmac"]
    handshake = x509.remote_export_handshake(KEY, "abc")
    assert handshake[1] == x509.sha1_hmac(KEY, vectors["handshake_message"], "abc")


def test_recorded_ganeti_vectors() -> None:
    check_vectors(json.loads((DATA / "x509-vectors.json").read_text()))


@pytest.mark.skipif(not GANETI_LIBRARY.exists(), reason="ganeti-3.0 is not installed")
def test_against_ganeti_library() -> None:
    output = subprocess.run(
        [
            "/usr/bin/python3",
            str(Path(__file__).parent / "ganeti_vectors.py"),
            str(DATA / "x509-ca.pem"),
        ],
        env={"PYTHONPATH": "/usr/share/ganeti/3.0", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    check_vectors(json.loads(output))


def test_signed_certificate_round_trip_and_tampering() -> None:
    signed = x509.sign_x509_certificate(CERTIFICATE, KEY, "0a1b2c3d")
    pem, salt = x509.load_signed_x509_certificate(signed, KEY)
    assert salt == "0a1b2c3d" and pem == x509.canonical_certificate_pem(CERTIFICATE)
    with pytest.raises(x509.SignatureError, match="signature is invalid"):
        x509.load_signed_x509_certificate(signed, "another secret")
    with pytest.raises(x509.SignatureError, match="signature is missing"):
        x509.load_signed_x509_certificate(CERTIFICATE, KEY)
    with pytest.raises(x509.SignatureError, match="invalid salt"):
        x509.sign_x509_certificate(CERTIFICATE, KEY, "not/hex")


def test_handshake_and_disk_checks() -> None:
    handshake = x509.remote_export_handshake(KEY, "1234")
    assert x509.check_remote_export_handshake(KEY, handshake) is None
    assert "same domain secret" in str(x509.check_remote_export_handshake("other", handshake))
    assert "Invalid data" in str(x509.check_remote_export_handshake(KEY, ["x"]))
    disk = x509.remote_import_disk_info(KEY, "99", 0, "10.0.0.1", 1234, "m")
    x509.check_remote_export_disk_info(KEY, 0, disk)
    with pytest.raises(x509.SignatureError, match="HMAC is wrong"):
        x509.check_remote_export_disk_info(KEY, 1, disk)
    with pytest.raises(x509.SignatureError, match="Missing destination"):
        x509.check_remote_export_disk_info(KEY, 0, ["", 1, "m", "d", "s"])
