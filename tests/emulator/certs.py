# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throwaway private CA and server certificates, for the emulator over HTTPS (tests and rehearsals).

    python3 tests/emulator/certs.py DIR

writes into DIR (created, mode 0700): ``ca.pem`` (the CA's certificate, what ``ca_path`` or
REQUESTS_CA_BUNDLE point to), ``server.pem`` / ``server.key`` (a certificate for 127.0.0.1 and localhost)
and ``other-host.pem`` / ``other-host.key`` (a certificate of the same CA for another host name only).
The CA's private key is never written: nothing else can be signed with it. Needs ``cryptography``.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

OTHER_HOST = 'eapi.other-host.test'


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'marketops.mmp tests'),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity(builder, days):
    now = datetime.datetime.now(datetime.timezone.utc)
    return builder.not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))


def _key_usage(cert_sign):
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
                         encipher_only=False, decipher_only=False)


def make_ca(common_name='marketops.mmp test CA', days=2):
    """(private key, certificate) of a new self-signed CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = _validity(x509.CertificateBuilder(), days).subject_name(_name(common_name)).issuer_name(
        _name(common_name)).public_key(key.public_key()).serial_number(x509.random_serial_number())
    cert = (builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_server_cert(ca_key, ca_cert, names, days=2):
    """(private key, certificate) for ``names`` (host names and IP addresses), signed by the CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    sans = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    builder = _validity(x509.CertificateBuilder(), days).subject_name(_name(names[0])).issuer_name(
        ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
    cert = (builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def _write(path, data, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, 'wb') as f:
        f.write(data)
    return path


def write_test_pki(directory):
    """Write a CA and two server certificates into ``directory`` (which must not hold them yet); returns their paths."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    ca_key, ca_cert = make_ca()
    paths = dict(ca=_write(os.path.join(directory, 'ca.pem'), ca_cert.public_bytes(serialization.Encoding.PEM), 0o644))
    for name, names in (('server', ['127.0.0.1', 'localhost']), ('other-host', [OTHER_HOST])):
        key, cert = make_server_cert(ca_key, ca_cert, names)
        paths[name + '_cert'] = _write(os.path.join(directory, name + '.pem'),
                                       cert.public_bytes(serialization.Encoding.PEM), 0o644)
        paths[name + '_key'] = _write(os.path.join(directory, name + '.key'), key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit('usage: certs.py DIR')
    for what, path in sorted(write_test_pki(argv[0]).items()):
        print('%-16s %s' % (what, path))
    return 0


if __name__ == '__main__':
    sys.exit(main())
