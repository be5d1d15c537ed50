"""Compute HMAC and signature vectors with Ganeti's own library (run by the system Python).

``python3 tests/rapi/ganeti_vectors.py CERT.pem`` with PYTHONPATH=/usr/share/ganeti/3.0
prints JSON; tests/rapi/test_x509.py compares ours with it, and the output is
kept as tests/rapi/data/x509-vectors.json for machines without Ganeti.
"""

import json
import sys

import OpenSSL
from ganeti import utils  # type: ignore[import-not-found]
from ganeti.masterd import instance  # type: ignore[import-not-found]
from ganeti.utils import x509  # type: ignore[import-not-found]

CASES = [
    ("cluster-domain-secret", "plain message", None),
    ("cluster-domain-secret", "plain message", "0a1b2c3d"),
    ("sécret ünicode", "0:Hi, I'm Ganeti", "ffffffff"),
    ("", "", "1"),
]


def main() -> None:
    with open(sys.argv[1], "rb") as handle:
        pem = handle.read()
    cert = OpenSSL.crypto.load_certificate(OpenSSL.crypto.FILETYPE_PEM, pem)
    key = "cluster-domain-secret"
    result = {
        "hmac": [[k, m, s, utils.Sha1Hmac(k, m, salt=s)] for k, m, s in CASES],
        "signed": [
            [key, salt, x509.SignX509Certificate(cert, key, salt)]
            for salt in ("0a1b2c3d", "00000065")
        ],
        "handshake_message": instance._GetImportExportHandshakeMessage(0),
        "disk_info": list(
            instance.ComputeRemoteImportDiskInfo(key, "000000c8", 1, "10.0.0.1", 11001, "magic")
        ),
        "key_name_hmac": utils.Sha1Hmac(key, "x509-101", salt="00000065"),
    }
    print(json.dumps(result, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
