"""Certificates for the fabric's HTTPS mode, where a management certificate is required as on a real subscription.

``fabric cert`` writes, under ``<VAR_DIR>/fabric/certs/`` (every file 0600):

* ``ca.pem`` / ``ca.key``: the lab certificate authority;
* ``server.pem`` / ``server.key``: the fabric's certificate for 127.0.0.1 and localhost;
* ``management.pem``: the client management certificate *and* its key in one
  PEM file, the form ``ServiceManagementService(cert_file=...)`` and
  ``requests.Session.cert`` take; ``management.cer`` is its public part (DER),
  what one would upload to a subscription.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

FILES = ("ca.pem", "ca.key", "server.pem", "server.key", "management.pem", "management.cer")


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _cert(subject: str, issuer: x509.Name | None, key, signer, *, ca: bool, usage, san=None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=825))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
    if ca:
        builder = builder.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                      content_commitment=False, key_encipherment=False,
                                                      data_encipherment=False, key_agreement=False, encipher_only=False,
                                                      decipher_only=False), critical=True)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(signer, hashes.SHA256())


def generate(directory: Path, force: bool = False) -> Path:
    """Write the CA, server and management certificates (kept if present unless ``force``)."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    if not force and all((directory / name).exists() for name in FILES):
        return directory
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("Recovery Services lab CA", None, ca_key, ca_key, ca=True, usage=None)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert("127.0.0.1", ca.subject, server_key, ca_key, ca=False, usage=[ExtendedKeyUsageOID.SERVER_AUTH],
                   san=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert("Lab management certificate", ca.subject, client_key, ca_key, ca=False,
                   usage=[ExtendedKeyUsageOID.CLIENT_AUTH])
    pem = serialization.Encoding.PEM
    _write(directory / "ca.pem", ca.public_bytes(pem))
    _write(directory / "ca.key", _key_pem(ca_key))
    _write(directory / "server.pem", server.public_bytes(pem))
    _write(directory / "server.key", _key_pem(server_key))
    _write(directory / "management.pem", client.public_bytes(pem) + _key_pem(client_key))
    _write(directory / "management.cer", client.public_bytes(serialization.Encoding.DER))
    return directory
