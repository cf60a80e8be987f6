# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS: ca_path, the trust settings' precedence, handshake failures classified (not retried, not an unknown outcome),
no urllib3 warning on stderr. Real handshakes against the emulator over HTTPS on 127.0.0.1, with a throwaway CA."""

from __future__ import annotations

import os
import socket
import ssl
import threading
import warnings

import pytest
import requests
import urllib3

from cryptography.hazmat.primitives import serialization

from ansible_collections.marketops.mmp.plugins.module_utils import transport as http_mod
from ansible_collections.marketops.mmp.plugins.module_utils.binance.api import BinanceOptionsClient, HmacSigner
from ansible_collections.marketops.mmp.plugins.module_utils.errors import (
    ConfigError,
    TLSError,
    TransportError,
    UnknownOutcome,
)
from ansible_collections.marketops.mmp.plugins.module_utils.transport import (
    check_ca_path,
    insecure_tls_warning,
    shared_session,
    tls_handshake_failure,
)
from ansible_collections.marketops.mmp.plugins.module_utils.errors import ValidationError
from ansible_collections.marketops.mmp.tests.emulator.certs import make_ca, write_test_pki
from ansible_collections.marketops.mmp.tests.emulator.server import Emulator, EmulatorServer
from ansible_collections.marketops.mmp.tests.unit.helpers import API_KEY, SECRET, run_mmp, validate_all

from ansible_collections.marketops.mmp.tests.unit.plugins.module_utils.test_mmp import params


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    return write_test_pki(str(tmp_path_factory.mktemp('pki') / 'pki'))


@pytest.fixture(autouse=True)
def no_ca_bundle_env(monkeypatch):
    """Whatever the machine sets, the tests start from requests' default bundle."""
    for var in http_mod.CA_BUNDLE_ENV:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def emulator():
    return Emulator([dict(name='a', api_key=API_KEY, secret=SECRET)])


@pytest.fixture
def https(emulator, pki):
    """The emulator over HTTPS with a certificate of the test CA for 127.0.0.1 and localhost."""
    with EmulatorServer(emulator, certfile=pki['server_cert'], keyfile=pki['server_key']) as server:
        yield server


@pytest.fixture
def other_host(emulator, pki):
    """The emulator over HTTPS with a certificate of the test CA for another host name only."""
    with EmulatorServer(emulator, certfile=pki['other-host_cert'], keyfile=pki['other-host_key']) as server:
        yield server


def make_client(url, **kwargs):
    kwargs.setdefault('weight_ledger', None)
    kwargs.setdefault('published_limit', False)  # these tests are about the request they send first
    return BinanceOptionsClient(api_key=API_KEY, signer=HmacSigner(SECRET), base_url=url, **kwargs)


def handshakes(emulator):
    """[(ok, error)] of every TLS handshake the emulator saw."""
    return [(h['ok'], h['error']) for h in emulator.tls_handshakes()]


def one_failed_handshake(emulator):
    seen = handshakes(emulator)
    return len(seen) == 1 and seen[0][0] is False


# ---------------------------------------------------------------------------------------------
# Handshake failures: at once, one attempt, a message that says why and what to do
# ---------------------------------------------------------------------------------------------

def test_untrusted_ca_fails_at_once_naming_host_reason_and_fixes(https, emulator, sleeps):
    with pytest.raises(TLSError) as e:
        make_client(https.url).get_mmp('BTCUSDT')
    msg = e.value.message
    host = https.url.split('//')[1]
    assert msg.startswith('GET /eapi/v1/mmp: the TLS certificate of %s could not be verified: ' % host)
    assert 'unable to get local issuer certificate' in msg and e.value.verify_code == 20
    assert "requests' default bundle" in msg  # which CAs were trusted
    assert 'ca_path' in msg and 'REQUESTS_CA_BUNDLE' in msg and 'validate_certs: false' in msg
    assert 'Not retried' in msg
    assert sleeps == [] and one_failed_handshake(emulator)
    assert emulator.journal == []


def test_untrusted_ca_on_a_write_is_not_an_unknown_outcome(https, emulator, sleeps):
    with pytest.raises(TLSError) as e:
        make_client(https.url).set_mmp('BTCUSDT', 3000, 300000, '2', '2.3')
    assert not isinstance(e.value, UnknownOutcome)
    assert e.value.message.startswith('POST /eapi/v1/mmpSet: the TLS certificate of ')
    assert sleeps == [] and one_failed_handshake(emulator) and emulator.writes() == []


def test_certificate_for_another_host_name_fails_naming_the_mismatch(other_host, emulator, pki, sleeps):
    with pytest.raises(TLSError) as e:
        make_client(other_host.url, ca_path=pki['ca']).get_mmp('BTCUSDT')
    msg = e.value.message
    assert "is not valid for that name: IP address mismatch, certificate is not valid for '127.0.0.1'" in msg
    assert 'base_url' in msg and 'validate_certs: false' in msg and e.value.verify_code == 64
    assert sleeps == [] and one_failed_handshake(emulator) and emulator.journal == []


def test_host_name_mismatch_for_a_dns_name(other_host, emulator, pki, sleeps):
    url = other_host.url.replace('127.0.0.1', 'localhost')
    with pytest.raises(TLSError) as e:
        make_client(url, ca_path=pki['ca']).get_mmp('BTCUSDT')
    assert "Hostname mismatch, certificate is not valid for 'localhost'" in e.value.message
    assert e.value.host == url.split('//')[1] and e.value.verify_code == 62 and sleeps == []


def test_tls_to_a_plain_http_port_is_a_handshake_failure(emulator, sleeps):
    with EmulatorServer(emulator) as plain:
        url = plain.url.replace('http://', 'https://')
        with pytest.raises(TLSError) as e:
            make_client(url).set_mmp('BTCUSDT', 3000, 300000, '2', '2.3')
    msg = e.value.message
    assert 'the TLS handshake with %s failed: [SSL: WRONG_VERSION_NUMBER] wrong version number.' % url.split('//')[1] in msg
    assert '_ssl.c' not in msg and sleeps == [] and emulator.journal == []


def test_a_ca_bundle_that_does_not_load_fails_at_once(https, emulator, tmp_path, sleeps):
    """check_ca_path() only looks for a PEM certificate; what the TLS library cannot load fails at connection."""
    bundle = tmp_path / 'garbage.pem'
    bundle.write_text('-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n')
    with pytest.raises(TLSError) as e:
        make_client(https.url, ca_path=str(bundle)).set_mmp('BTCUSDT', 3000, 300000, '2', '2.3')
    assert e.value.message.startswith('POST /eapi/v1/mmpSet: the CA certificates to trust (ca_path %s) could not be '
                                      'loaded: [X509] PEM lib. Not retried' % bundle)
    assert sleeps == [] and emulator.writes() == []


def test_run_mmp_reports_the_tls_failure_with_the_underlying(https, emulator):
    def factory(p):
        return make_client(p['base_url'], sleep=lambda s: None)

    result, error = run_mmp(params(base_url=https.url), client_factory=factory)
    assert error['msg'].startswith('MMP BTCUSDT: GET /eapi/v1/mmp: the TLS certificate of ')
    assert result['changed'] is False and one_failed_handshake(emulator)


@pytest.fixture
def closing_server():
    """A TCP server that reads the ClientHello and closes the connection: a drop during the handshake."""
    srv = socket.socket()
    srv.bind(('127.0.0.1', 0))
    srv.listen(16)
    accepted = []

    def serve():
        while True:
            try:
                conn, dummy = srv.accept()
            except OSError:
                return
            accepted.append(1)
            conn.settimeout(5)
            try:
                conn.recv(65536)
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield 'https://127.0.0.1:%d' % srv.getsockname()[1], accepted
    srv.close()


def test_connection_closed_in_the_handshake_is_retried_and_a_write_was_not_sent(closing_server, sleeps):
    """A drop is as likely transient as not: retried like any connection failure. As the request was not sent,
    a write's outcome is known (not applied): no UnknownOutcome."""
    url, accepted = closing_server
    with pytest.raises(TransportError) as e:
        make_client(url).set_mmp('BTCUSDT', 3000, 300000, '2', '2.3')
    assert not isinstance(e.value, UnknownOutcome)
    assert 'during the TLS handshake' in e.value.message and 'after 4 attempts' in e.value.message
    assert len(accepted) == http_mod.TRANSIENT_RETRIES + 1 and len(sleeps) == http_mod.TRANSIENT_RETRIES


def _post_handshake_ssl_error():
    """What requests raises when TLS breaks while the answer is read: the request may have been processed."""
    inner = ssl.SSLEOFError(8, 'EOF occurred in violation of protocol (_ssl.c:2427)')
    return requests.exceptions.SSLError(urllib3.exceptions.MaxRetryError(
        None, '/eapi/v1/mmpSet', reason=urllib3.exceptions.SSLError(inner)))


def test_tls_error_after_the_handshake_is_a_transport_failure(exchange, sleeps):
    assert tls_handshake_failure(_post_handshake_ssl_error()) is None
    exchange.add_fault('GET', '/eapi/v1/mmp', _post_handshake_ssl_error())
    make_client('https://eapi.binance.com').get_mmp('BTCUSDT')  # retried once, then answered
    assert len(sleeps) == 1
    exchange.add_fault('POST', '/eapi/v1/mmpSet', _post_handshake_ssl_error())
    with pytest.raises(UnknownOutcome):
        make_client('https://eapi.binance.com').set_mmp('BTCUSDT', 3000, 300000, '2', '2.3')


@pytest.fixture
def connect_proxy(monkeypatch):
    """An HTTP proxy that tunnels CONNECT requests, as corporate proxies do; HTTPS_PROXY points to it."""
    srv = socket.socket()
    srv.bind(('127.0.0.1', 0))
    srv.listen(16)
    tunnels = []

    def pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def tunnel(conn):
        head = b''
        while b'\r\n\r\n' not in head:
            chunk = conn.recv(4096)
            if not chunk:
                return
            head += chunk
        target = head.split(b' ')[1].decode()
        tunnels.append(target)
        host, port = target.rsplit(':', 1)
        upstream = socket.create_connection((host, int(port)), timeout=10)
        conn.sendall(b'HTTP/1.1 200 Connection established\r\n\r\n')
        threading.Thread(target=pipe, args=(upstream, conn), daemon=True).start()
        pipe(conn, upstream)

    def serve():
        while True:
            try:
                conn, dummy = srv.accept()
            except OSError:
                return
            threading.Thread(target=tunnel, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    for var in ('NO_PROXY', 'no_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy'):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('HTTPS_PROXY', 'http://127.0.0.1:%d' % srv.getsockname()[1])
    yield '127.0.0.1:%d' % srv.getsockname()[1], tunnels
    srv.close()


def test_through_a_proxy_the_exchange_certificate_is_verified_and_the_proxy_named(connect_proxy, https, emulator, pki,
                                                                                  sleeps):
    proxy, tunnels = connect_proxy
    with pytest.raises(TLSError) as e:
        make_client(https.url).get_mmp('BTCUSDT')
    assert 'the TLS certificate of %s (reached through the proxy %s) could not be verified' % (
        https.url.split('//')[1], proxy) in e.value.message
    assert sleeps == [] and tunnels == [https.url.split('//')[1]]
    assert make_client(https.url, ca_path=pki['ca']).get_mmp('BTCUSDT')['underlying'] == 'BTCUSDT'
    assert len(tunnels) == 2 and [ok for ok, dummy in handshakes(emulator)] == [False, True]


def test_a_https_proxy_whose_certificate_fails_is_named_as_such(https, emulator, monkeypatch, sleeps):
    for var in ('NO_PROXY', 'no_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy'):
        monkeypatch.delenv(var, raising=False)
    proxy = https.url.split('//')[1]
    monkeypatch.setenv('HTTPS_PROXY', 'https://%s' % proxy)  # a TLS proxy with a certificate of the untrusted CA
    with pytest.raises(TLSError) as e:
        make_client('https://eapi.binance.com').get_mmp('BTCUSDT')
    assert e.value.message.startswith('GET /eapi/v1/mmp: the TLS certificate of the HTTPS proxy %s could not be '
                                      'verified: unable to get local issuer certificate' % proxy)
    assert sleeps == [] and one_failed_handshake(emulator)


# ---------------------------------------------------------------------------------------------
# What is trusted: ca_path, then REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE, then requests' bundle
# ---------------------------------------------------------------------------------------------

def test_ca_path_is_trusted(https, emulator, pki):
    assert make_client(https.url, ca_path=pki['ca']).get_mmp('BTCUSDT')['underlying'] == 'BTCUSDT'
    assert make_client(https.url.replace('127.0.0.1', 'localhost'), ca_path=pki['ca']).get_mmp('BTCUSDT')
    assert [ok for ok, dummy in handshakes(emulator)] == [True, True]


@pytest.mark.parametrize('var', http_mod.CA_BUNDLE_ENV)
def test_ca_bundle_environment_variable_is_trusted(var, https, pki, monkeypatch):
    monkeypatch.setenv(var, pki['ca'])
    assert make_client(https.url).get_mmp('BTCUSDT')['underlying'] == 'BTCUSDT'


def test_ca_path_wins_over_requests_ca_bundle(https, pki, monkeypatch, tmp_path):
    # Another CA, which did not sign the server's certificate: it verifies on no Python. (The server's own leaf
    # would verify on Python 3.13+, whose default context accepts a trusted leaf: VERIFY_X509_PARTIAL_CHAIN.)
    other_ca = tmp_path / 'other-ca.pem'
    other_ca.write_bytes(make_ca('another CA')[1].public_bytes(serialization.Encoding.PEM))
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', str(other_ca))
    with pytest.raises(TLSError) as e:
        make_client(https.url).get_mmp('BTCUSDT')
    assert '(trusted CAs: REQUESTS_CA_BUNDLE=%s)' % other_ca in e.value.message
    assert make_client(https.url, ca_path=pki['ca']).get_mmp('BTCUSDT')


def test_missing_requests_ca_bundle_fails_before_any_connection(https, emulator, monkeypatch, tmp_path):
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', str(tmp_path / 'nope.pem'))
    with pytest.raises(ConfigError) as e:
        make_client(https.url)
    assert e.value.message.startswith('REQUESTS_CA_BUNDLE=%s: no such file or directory' % (tmp_path / 'nope.pem'))
    assert handshakes(emulator) == []


def test_sessions_are_not_shared_across_trust_settings(pki):
    url = 'https://eapi.binance.com'
    default, insecure, private = shared_session(url), shared_session(url, validate_certs=False), \
        shared_session(url, ca_path=pki['ca'])
    assert len({id(default), id(insecure), id(private)}) == 3
    assert (default.verify, insecure.verify, private.verify) == (True, False, pki['ca'])
    assert shared_session(url, ca_path=pki['ca']) is private
    assert shared_session(url, ca_path=pki['ca'], validate_certs=False) is insecure


def test_sessions_are_not_shared_across_proxies(monkeypatch):
    url = 'https://eapi.binance.com'
    monkeypatch.setenv('HTTPS_PROXY', 'http://proxy-a:3128')
    first = shared_session(url)
    monkeypatch.setenv('HTTPS_PROXY', 'http://proxy-b:3128')
    second = shared_session(url)
    assert first is not second and second.proxies['https'] == 'http://proxy-b:3128'


def test_an_unverified_task_does_not_lend_its_connection_to_a_verified_one(https, emulator):
    """Two tasks in one process (the fast path's worker, loop items): validate_certs false, then the default."""
    assert make_client(https.url, validate_certs=False).get_mmp('BTCUSDT')
    with pytest.raises(TLSError):
        make_client(https.url).get_mmp('BTCUSDT')
    assert [ok for ok, dummy in handshakes(emulator)] == [True, False]


def test_validate_certs_false_writes_no_warning_and_leaves_the_filters_alone(https, emulator):
    before = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        client = make_client(https.url, validate_certs=False)
        client.get_mmp('BTCUSDT')
        client.set_mmp('BTCUSDT', 3000, 300000, '2', '2.3')
        assert list(warnings.filters)[0][2] is Warning  # our 'always' filter still first: nothing left behind
    assert [w for w in caught if issubclass(w.category, urllib3.exceptions.InsecureRequestWarning)] == []
    assert list(warnings.filters) == before
    assert len(emulator.journal) == 2


def test_other_code_still_gets_urllib3_warnings(https):
    """The warning is silenced for the collection's own requests, not for the whole process."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        requests.get(https.url + '/eapi/v1/time', verify=False, timeout=10)
    assert any(issubclass(w.category, urllib3.exceptions.InsecureRequestWarning) for w in caught)


# ---------------------------------------------------------------------------------------------
# ca_path validation and the warning, before any request
# ---------------------------------------------------------------------------------------------

def test_check_ca_path_accepts_a_pem_bundle_and_expands_home(pki, monkeypatch):
    assert check_ca_path(pki['ca']) == pki['ca']
    monkeypatch.setenv('HOME', os.path.dirname(pki['ca']))
    assert check_ca_path('~/ca.pem') == pki['ca']


def test_check_ca_path_follows_a_symbolic_link(pki, tmp_path):
    link = tmp_path / 'bundle.pem'
    link.symlink_to(pki['ca'])
    assert check_ca_path(str(link)) == str(link)


@pytest.mark.parametrize('case, expected', [
    ('missing', 'is not a file on the host that runs the task'),
    ('directory', 'is not a file on the host that runs the task'),
    ('empty', 'holds no certificate in PEM format'),
    ('private_key', 'holds no certificate in PEM format'),
    ('world_writable', 'is writable by every user'),
])
def test_check_ca_path_refuses(case, expected, pki, tmp_path):
    path = tmp_path / 'ca.pem'
    if case == 'directory':
        path.mkdir()
    elif case == 'empty':
        path.write_text('')
    elif case == 'private_key':
        with open(pki['server_key']) as f:
            path.write_text(f.read())
    elif case == 'world_writable':
        with open(pki['ca']) as f:
            path.write_text(f.read())
        path.chmod(0o666)
    with pytest.raises(ConfigError) as e:
        check_ca_path(str(path))
    assert e.value.message.startswith('ca_path: %s ' % path) and expected in e.value.message


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads any file')
def test_check_ca_path_refuses_an_unreadable_file(pki, tmp_path):
    path = tmp_path / 'ca.pem'
    with open(pki['ca']) as f:
        path.write_text(f.read())
    path.chmod(0)
    with pytest.raises(ConfigError) as e:
        check_ca_path(str(path))
    assert 'could not be read' in e.value.message


def test_bad_ca_path_is_an_input_error_before_any_request(tmp_path, https, emulator):
    with pytest.raises(ValidationError) as e:
        validate_all(params(ca_path=str(tmp_path / 'nope.pem')))
    assert e.value.option == 'ca_path' and str(e.value).startswith('ca_path: ')
    result, error = run_mmp(params(base_url=https.url, ca_path=str(tmp_path / 'nope.pem')))
    assert error['option'] == 'ca_path' and handshakes(emulator) == []


def test_validate_certs_false_gives_one_warning(pki):
    desired, warns = validate_all(params(validate_certs=False))
    assert warns == [insecure_tls_warning('https://eapi.binance.com', False)]
    assert warns[0].startswith("the exchange's TLS certificate is not verified (validate_certs: false)")
    assert 'eapi.binance.com' in warns[0]
    assert validate_all(params())[1] == []
    assert validate_all(params(validate_certs=False, base_url='http://127.0.0.1:8765'))[1] == []  # no TLS at all
    assert len(validate_all(params(validate_certs=False, frozen_ms=0, ca_path=pki['ca']))[1]) == 2
