# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the signed client: signing vectors, request shape, error classes and retry rules."""

from __future__ import annotations

import base64
import random
import re
import sys
import time

from urllib.parse import parse_qsl, unquote

import pytest
import requests

from ansible_collections.marketops.mmp.plugins.module_utils import transport as http_mod
from ansible_collections.marketops.mmp.plugins.module_utils.binance import api as client_mod
from ansible_collections.marketops.mmp.plugins.module_utils.binance.api import (
    BinanceOptionsClient,
    check_base_url,
    HmacSigner,
    load_private_key_signer,
    make_signer,
)
from ansible_collections.marketops.mmp.plugins.module_utils.errors import (
    APIError,
    ConfigError,
    IPBanned,
    MissingLibrary,
    RateLimited,
    redact,
    ResponseError,
    TransportError,
    UnknownOutcome,
)
from ansible_collections.marketops.mmp.plugins.module_utils.pacing import Ledger

from ansible_collections.marketops.mmp.tests.unit.helpers import (
    API_KEY,
    SECRET,
    answer,
    apply_then,
    rsa_pkcs1v15_sha256,
    signing_key,
    signing_key_object,
)

TOO_MANY = {'code': -1003, 'msg': 'Too many requests'}
MESSAGE = ('underlying=BTCUSDT&windowTimeInMilliseconds=3000&frozenTimeInMilliseconds=300000&qtyLimit=2'
           '&deltaLimit=2.3&recvWindow=5000&timestamp=1611825601400')


def fixture(name):
    return signing_key(name)


def make_client(**kwargs):
    kwargs.setdefault('signer', HmacSigner(SECRET))
    kwargs.setdefault('weight_ledger', None)
    kwargs.setdefault('published_limit', False)  # the tests of reading exchangeInfo's rateLimits say so
    return BinanceOptionsClient(api_key=API_KEY, **kwargs)


# ---------------------------------------------------------------------------------------------
# Signing: the reference's known-answer vectors, RFC 8032, and openssl-computed RSA/Ed25519 answers
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('secret, message, expected', [
    ('NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j',
     'symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559',
     'c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71'),
    ('YtP1BudNOWZE1ag5uzCkh4hIC7qSmQOu797r5EJBFGhxBYivjj8HIX0iiiPof5yG',
     'symbol=BTC-210129-40000-C&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=2000&recvWindow=5000'
     '&timestamp=1611825601400',
     '7c12045972f6140e765e0f2b67d28099718df805732676494238f50be830a7d7'),
    ('YtP1BudNOWZE1ag5uzCkh4hIC7qSmQOu797r5EJBFGhxBYivjj8HIX0iiiPof5yG',
     'symbol=BTC-210129-40000-C&side=BUY&type=LIMIT&timeInForce=GTC'
     + 'quantity=0.01&price=2000&recvWindow=5000&timestamp=1611825601400',
     'fa6045c54fb02912b766442be1f66fab619217e551a4fb4f8a1ee000df914d8e'),
])
def test_hmac_known_answers(secret, message, expected):
    assert HmacSigner(secret).sign(message) == expected


def test_ed25519_rfc8032_vector():
    signer = load_private_key_signer(fixture('rfc8032_test2_key.pem'))
    assert signer.key_type == 'ed25519'
    raw = base64.b64decode(unquote(signer.sign('r')))
    assert raw.hex() == ('92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da'
                         '085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00')


def test_ed25519_matches_openssl_and_is_url_encoded():
    signer = load_private_key_signer(fixture('ed25519_test_key.pem'))
    # openssl pkeyutl -sign -rawin over MESSAGE with the RFC 8032 TEST 1 key
    expected = 'AHmWfBd7NAAzz2duvUnV9QPQmxZX0f7xv9/y/yazbgqamoRRKTU5BvzjQHusbK63nZZFBmUJcx/0oat+SJwZAg=='
    signed = signer.sign(MESSAGE)
    assert unquote(signed) == expected
    assert '/' not in signed and '+' not in signed and '=' not in signed


def test_ed25519_rfc8032_test1_vector():
    raw = base64.b64decode(unquote(load_private_key_signer(fixture('ed25519_test_key.pem')).sign('')))
    assert raw.hex() == ('e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555'
                         'fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b')


def test_rsa_matches_pkcs1v15_sha256():
    signer = load_private_key_signer(fixture('rsa_test_key.pem'))
    assert signer.key_type == 'rsa'
    expected = base64.b64encode(rsa_pkcs1v15_sha256(signing_key_object('rsa_test_key.pem'), MESSAGE.encode())).decode()
    assert unquote(signer.sign(MESSAGE)) == expected


def test_private_key_from_path(tmp_path):
    path = tmp_path / 'key.pem'
    path.write_text(fixture('ed25519_test_key.pem'))
    assert load_private_key_signer(str(path)).key_type == 'ed25519'


def test_encrypted_private_key():
    pem = fixture('ed25519_test_key_encrypted.pem')
    assert load_private_key_signer(pem, 'correct-horse').key_type == 'ed25519'
    with pytest.raises(ConfigError, match='set private_key_passphrase'):
        load_private_key_signer(pem)
    with pytest.raises(ConfigError, match='wrong private_key_passphrase') as e:
        load_private_key_signer(pem, 'wrong-passphrase')
    assert 'wrong-passphrase' not in str(e.value)
    with pytest.raises(ConfigError, match='not encrypted'):
        load_private_key_signer(fixture('ed25519_test_key.pem'), 'correct-horse')


def test_private_key_errors_do_not_echo_the_key():
    with pytest.raises(ConfigError, match='neither PEM text') as e:
        load_private_key_signer('/no/such/key.pem')
    with pytest.raises(ConfigError, match='not a PEM private key') as e:
        load_private_key_signer('-----BEGIN PRIVATE KEY-----\nQUFBQUFBQQ==\n-----END PRIVATE KEY-----')
    assert 'QUFBQUFBQQ' not in str(e.value)
    with pytest.raises(ConfigError, match='Ed25519 and RSA'):
        load_private_key_signer(fixture('ec_test_key.pem'))


def test_missing_cryptography_is_reported(monkeypatch):
    monkeypatch.setitem(sys.modules, 'cryptography.hazmat.primitives.serialization', None)
    with pytest.raises(MissingLibrary) as e:
        load_private_key_signer(fixture('ed25519_test_key.pem'))
    assert e.value.library == 'cryptography'


def test_make_signer_needs_exactly_one():
    with pytest.raises(ConfigError, match='exactly one'):
        make_signer()
    with pytest.raises(ConfigError, match='exactly one'):
        make_signer(api_secret='a', private_key=fixture('ed25519_test_key.pem'))
    assert make_signer(api_secret='a').key_type == 'hmac'


@pytest.mark.parametrize('url, ok', [
    ('https://eapi.binance.com', True),
    ('https://eapi.binance.com/', True),
    ('http://127.0.0.1:8080', True),
    ('http://localhost:1', True),
    ('http://eapi.binance.com', False),
    ('ftp://eapi.binance.com', False),
    ('eapi.binance.com', False),
    ('https://user:pw@eapi.binance.com', False),
    ('https://eapi.binance.com/?a=b', False),
    ('http://127.attacker.example', False),
    ('http://[::1]:8765', True),
    ('http://[::1', False),
])
def test_check_base_url(url, ok):
    if ok:
        assert not check_base_url(url).endswith('/')
    else:
        with pytest.raises(ConfigError):
            check_base_url(url)


# ---------------------------------------------------------------------------------------------
# Request shape
# ---------------------------------------------------------------------------------------------

def test_get_is_signed_in_the_query(exchange):
    exchange.configure('BTCUSDT', 3000, 300000, '2', '2.3')
    c = make_client()
    data = c.get_mmp('BTCUSDT')
    assert data['qtyLimit'] == '2'
    (req,) = exchange.journal
    params = dict(parse_qsl(req['query']))
    assert set(params) == {'underlying', 'recvWindow', 'timestamp', 'signature'}
    assert req['query'].endswith('&signature=' + params['signature'])
    assert req['headers']['X-MBX-APIKEY'] == API_KEY
    assert req['body'] == ''
    assert c.used_weight == 1


def test_post_is_signed_in_the_body(exchange):
    c = make_client()
    c.set_mmp('BTCUSDT', 3000, 300000, '2', '2.3')
    (req,) = exchange.journal
    assert req['query'] == ''
    assert req['headers']['Content-Type'] == 'application/x-www-form-urlencoded'
    params = dict(parse_qsl(req['body']))
    assert params['qtyLimit'] == '2' and params['deltaLimit'] == '2.3'
    assert params['windowTimeInMilliseconds'] == '3000'
    assert list(params)[-1] == 'signature'


def test_recv_window_is_sent(exchange):
    make_client(recv_window=12345).get_mmp('BTCUSDT')
    assert dict(parse_qsl(exchange.journal[0]['query']))['recvWindow'] == '12345'


# ---------------------------------------------------------------------------------------------
# Retry rules and error classes
# ---------------------------------------------------------------------------------------------

def test_1021_resyncs_the_clock_and_retries_once(exchange, sleeps):
    exchange.clock_offset_ms = -20000  # the exchange's clock is 20 s behind ours
    c = make_client()
    assert c.get_mmp('BTCUSDT')['underlying'] == 'BTCUSDT'
    assert [j['path'] for j in exchange.journal] == ['/eapi/v1/mmp', '/eapi/v1/time', '/eapi/v1/mmp']
    assert -21000 < c.time_offset_ms < -19000
    assert sleeps == []
    (note,) = c.take_recoveries()
    assert re.match(r'GET /eapi/v1/mmp for BTCUSDT: the exchange refused its timestamp \(code -1021.*this host\'s '
                    r'is 2\d\.\d s ahead of it\) and signed again.*NTP', note), note
    assert c.take_recoveries() == []  # taken once


def test_1021_twice_fails_with_a_hint(exchange, sleeps):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(400, {'code': -1021, 'msg': 'Timestamp outside recvWindow'}), times=3)
    with pytest.raises(APIError, match=r'code -1021.*NTP') as e:
        make_client().get_mmp('BTCUSDT')
    assert e.value.code == -1021
    assert [j['path'] for j in exchange.journal] == ['/eapi/v1/mmp', '/eapi/v1/time', '/eapi/v1/mmp']


def test_429_waits_retry_after_then_succeeds(exchange, sleeps):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(429, TOO_MANY, {'Retry-After': '7'}))
    c = make_client()
    c.get_mmp('BTCUSDT')
    assert sleeps == [7.0]
    assert len(exchange.journal) == 2
    assert c.take_recoveries() == ['GET /eapi/v1/mmp for BTCUSDT: rate limited by Binance (HTTP 429, code -1003); waited 7 s, '
                                   'then sent again (wait 1 of 2): something else shares this IP\'s weight, or weight_limit is above '
                                   'its real limit']


def test_429_without_retry_after_never_retries_immediately(exchange, sleeps):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(429, TOO_MANY))
    make_client().get_mmp('BTCUSDT')
    assert len(sleeps) == 1 and sleeps[0] >= 1


def test_minus_1008_is_a_rate_limit(exchange, sleeps):
    exchange.add_fault('POST', '/eapi/v1/mmpSet', answer(400, {'code': -1008, 'msg': 'Server is busy'}, {'Retry-After': '2'}))
    make_client().set_mmp('BTCUSDT', 3000, 300000, '2', '2.3')
    assert sleeps == [2.0]


def test_429_is_bounded(exchange, sleeps):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(429, TOO_MANY, {'Retry-After': '3'}), times=5)
    with pytest.raises(RateLimited, match='avoid an IP ban'):
        make_client().get_mmp('BTCUSDT')
    assert sleeps == [3.0, 3.0]
    assert len(exchange.journal) == 3


def test_429_with_a_huge_retry_after_fails_without_waiting(exchange, sleeps):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(429, TOO_MANY, {'Retry-After': '3600'}))
    with pytest.raises(RateLimited, match='Retry-After 3600s'):
        make_client().get_mmp('BTCUSDT')
    assert sleeps == [] and len(exchange.journal) == 1


def test_418_fails_at_once(exchange, sleeps):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(418, {'code': -1003, 'msg': 'Way too many requests; IP banned '
                                                           'until 1700000000000.'}, {'Retry-After': '120'}))
    with pytest.raises(IPBanned) as e:
        make_client().get_mmp('BTCUSDT')
    assert 'Binance banned this IP until ' in str(e.value) and '(120 s left)' in str(e.value)
    assert '1700000000000' in str(e.value) and 'Not retried, and recorded' in str(e.value)
    assert sleeps == [] and len(exchange.journal) == 1


def test_5xx_on_read_is_retried_with_jittered_backoff(exchange, sleeps):
    internal = {'code': -1001, 'msg': 'Internal error; unable to process your request. Please try again.'}
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(500, internal), times=2)
    c = make_client()
    c.get_mmp('BTCUSDT')
    assert len(sleeps) == 2 and all(0 < s <= http_mod.BACKOFF_CAP for s in sleeps)
    assert len(exchange.journal) == 3
    assert c.take_recoveries() == ['GET /eapi/v1/mmp for BTCUSDT: HTTP 500 from the exchange (code -1001: Internal '
                                   'error; unable to process your request. Please try again.); sent again (attempt %d '
                                   'of 4)' % n for n in (2, 3)]


def test_5xx_retries_are_bounded(exchange, sleeps):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(502, '<html><body><h1>502 Bad Gateway</h1></body></html>'), times=10)
    with pytest.raises(TransportError) as e:
        make_client().get_mmp('BTCUSDT')
    assert 'HTTP 502' in str(e.value) and '502 Bad Gateway' in str(e.value) and '<h1>' not in str(e.value)
    assert len(exchange.journal) == http_mod.TRANSIENT_RETRIES + 1
    assert len(sleeps) == http_mod.TRANSIENT_RETRIES
    # each wait in its attempt's range (the real jitter): bounded, never zero, and growing, as each range starts
    # where the one before ended
    for attempt, slept in enumerate(sleeps):
        low, high = backoff_range(attempt)
        assert low <= slept < high, (attempt, sleeps)
    assert all(a < b for a, b in zip(sleeps, sleeps[1:])), sleeps


def backoff_range(attempt):
    """The wait the retry policy promises before transient retry ``attempt`` (0: the first), as [low, high): the delay
    doubles from BACKOFF_BASE up to BACKOFF_CAP; half of it is fixed, the other half random."""
    delay = min(http_mod.BACKOFF_CAP, http_mod.BACKOFF_BASE * 2 ** attempt)
    return delay / 2, delay


def test_the_backoff_policy_is_bounded_and_never_zero():
    assert 0 < http_mod.BACKOFF_BASE < http_mod.BACKOFF_CAP <= 10
    assert backoff_range(0)[0] >= 0.25  # the first retry never follows at once
    # the whole budget of transient retries stays bounded: a run never loops on an unhealthy exchange
    assert sum(backoff_range(a)[1] for a in range(http_mod.TRANSIENT_RETRIES)) <= 10


def test_backoff_grows_to_its_cap_and_is_jittered_over_its_range():
    for attempt in range(12):
        low, high = backoff_range(attempt)
        for r in (0.0, 0.25, 0.5, 0.999999):
            # the random part spans the upper half of the delay, in proportion to rand()
            assert make_client(rand=lambda r=r: r)._backoff(attempt) == pytest.approx(low + r * (high - low)), \
                (attempt, r)
    lows = [backoff_range(a)[0] for a in range(12)]
    assert lows[:5] == [0.25, 0.5, 1.0, 2.0, 4.0] and set(lows[5:]) == {http_mod.BACKOFF_CAP / 2}


def test_backoff_jitter_is_random_by_default():
    state = random.getstate()
    random.seed(25)
    try:
        c = make_client()
        for attempt in (0, 2, 8):
            low, high = backoff_range(attempt)
            waits = [c._backoff(attempt) for dummy in range(200)]
            assert all(low <= w < high for w in waits), attempt
            # spread over the range: neither one fixed value nor a corner of it
            assert len(set(waits)) > 150 and min(waits) < low + (high - low) / 10 and max(waits) > high - (high - low) / 10
    finally:
        random.setstate(state)


def test_transient_retries_wait_the_backoff_of_their_attempt(exchange, sleeps):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(500, {'code': -1001, 'msg': 'Internal error.'}), times=10)
    with pytest.raises(TransportError):
        make_client(rand=lambda: 0.5).get_mmp('BTCUSDT')
    assert sleeps == pytest.approx([sum(backoff_range(a)) / 2 for a in range(http_mod.TRANSIENT_RETRIES)])
    assert sleeps == pytest.approx([0.375, 0.75, 1.5])


def test_503_service_unavailable_on_write_is_resent(exchange, sleeps):
    exchange.add_fault('POST', '/eapi/v1/mmpSet', answer(503, {'code': -1001, 'msg': 'Service Unavailable.'}))
    make_client().set_mmp('BTCUSDT', 3000, 300000, '2', '2.3')
    assert len(exchange.writes) == 2 and len(sleeps) == 1


def test_503_unknown_on_write_is_an_unknown_outcome(exchange, sleeps):
    exchange.add_fault('POST', '/eapi/v1/mmpSet',
                       apply_then(503, {'code': -1000, 'msg': 'Unknown error, please check your request or try '
                                                              'again later.'}))
    with pytest.raises(UnknownOutcome):
        make_client().set_mmp('BTCUSDT', 3000, 300000, '2', '2.3')
    assert len(exchange.writes) == 1 and sleeps == []


def test_non_json_5xx_on_write_is_an_unknown_outcome(exchange, sleeps):
    exchange.add_fault('POST', '/eapi/v1/mmpSet', answer(504, '<html>Gateway Timeout</html>'))
    with pytest.raises(UnknownOutcome, match='Gateway Timeout'):
        make_client().set_mmp('BTCUSDT', 3000, 300000, '2', '2.3')


def test_timeout_on_read_is_retried(exchange, sleeps):
    exchange.add_fault('GET', '/eapi/v1/mmp', requests.exceptions.ReadTimeout('read timed out'))
    c = make_client()
    c.get_mmp('BTCUSDT')
    assert len(exchange.journal) == 2 and len(sleeps) == 1
    assert c.take_recoveries() == ['GET /eapi/v1/mmp for BTCUSDT timed out after 10.0s; sent again (attempt 2 of 4)']


def test_recoveries_are_bounded(exchange, sleeps):
    """A watcher's client lives for days: what it keeps for warnings, and its waits, stay bounded."""
    c = make_client()
    for dummy in range(http_mod.RECOVERIES_KEPT + 5):
        exchange.add_fault('GET', '/eapi/v1/mmp', requests.exceptions.ReadTimeout('read timed out'))
        c.get_mmp('BTCUSDT')
    notes = c.take_recoveries()
    assert len(notes) == http_mod.RECOVERIES_KEPT + 1 and notes[-1] == 'and 5 more requests sent again'
    assert c.take_recoveries() == []
    for dummy in range(http_mod.WAITS_KEPT + 50):
        c._wait('weight', 0)
    assert len(c.waits) == http_mod.WAITS_KEPT


def test_timeout_on_write_is_an_unknown_outcome(exchange, sleeps):
    exchange.add_fault('POST', '/eapi/v1/mmpSet', requests.exceptions.ReadTimeout('read timed out'))
    with pytest.raises(UnknownOutcome, match='timed out'):
        make_client().set_mmp('BTCUSDT', 3000, 300000, '2', '2.3')
    assert len(exchange.writes) == 1


def test_dropped_connection_on_write_is_an_unknown_outcome(exchange, sleeps):
    exchange.add_fault('POST', '/eapi/v1/mmpSet',
                       requests.exceptions.ConnectionError(ConnectionResetError('Connection reset by peer')))
    with pytest.raises(UnknownOutcome):
        make_client().set_mmp('BTCUSDT', 3000, 300000, '2', '2.3')


def test_refused_connection_on_write_is_resent(exchange, sleeps):
    exchange.add_fault('POST', '/eapi/v1/mmpSet', requests.exceptions.ConnectTimeout('connect timed out'))
    c = make_client()
    c.set_mmp('BTCUSDT', 3000, 300000, '2', '2.3')
    assert len(exchange.writes) == 2
    assert c.take_recoveries() == ['POST /eapi/v1/mmpSet for BTCUSDT timed out after 10.0s; sent again (attempt 2 of '
                                   '4)']


NOT_BUILT = [
    requests.exceptions.InvalidHeader('Invalid leading whitespace, reserved character(s), or return character(s) in '
                                      'header value'),
    requests.exceptions.InvalidURL('Failed to parse'),
    requests.exceptions.InvalidProxyURL('Please check proxy URL. It is malformed and could be missing the host.'),
    requests.exceptions.InvalidSchema('No connection adapters were found'),
    requests.exceptions.MissingSchema('Invalid URL: No scheme supplied'),
    requests.exceptions.URLRequired('a valid URL is required'),
    UnicodeEncodeError('latin-1', 'key\u2019', 3, 4, 'ordinal not in range(256)'),
]


@pytest.mark.parametrize('method', ['GET', 'POST'])
@pytest.mark.parametrize('error', NOT_BUILT, ids=[type(e).__name__ for e in NOT_BUILT])
def test_a_request_that_could_not_be_built_is_not_retried_nor_an_unknown_outcome(exchange, sleeps, method, error):
    """Raised before the request left this host: nothing was sent, and sending again cannot help."""
    path = '/eapi/v1/mmp' if method == 'GET' else '/eapi/v1/mmpSet'
    exchange.add_fault(method, path, error, times=http_mod.TRANSIENT_RETRIES + 1)
    c = make_client()
    with pytest.raises(ConfigError) as e:
        if method == 'GET':
            c.get_mmp('BTCUSDT')
        else:
            c.set_mmp('BTCUSDT', 3000, 300000, '2', '2.3')
    assert not isinstance(e.value, UnknownOutcome)
    assert str(e.value) == ('%s %s: the request could not be built (%s), so the request was not sent and is not sent '
                            'again: check api_key, api_secret, base_url and the proxy settings (HTTPS_PROXY) for '
                            'whitespace or characters they cannot have' % (method, path, type(error).__name__))
    assert len(exchange.journal) == 1 and sleeps == [] and c.take_recoveries() == []


@pytest.mark.parametrize('method', ['GET', 'POST'])
def test_a_key_requests_refuses_as_a_header_fails_at_once(exchange, sleeps, method):
    """A key with a line break that got past the checks: requests refuses the header, before sending anything."""
    c = make_client()
    c.api_key = API_KEY + '\n'
    with pytest.raises(ConfigError, match=r'\(InvalidHeader\), so the request was not sent') as e:
        if method == 'GET':
            c.get_mmp('BTCUSDT')
        else:
            c.set_mmp('BTCUSDT', 3000, 300000, '2', '2.3')
    assert not isinstance(e.value, UnknownOutcome) and API_KEY not in str(e.value)
    assert exchange.journal == [] and sleeps == []


def test_the_client_refuses_a_key_no_key_can_be():
    with pytest.raises(ConfigError, match='^api_key: ends with a newline'):
        BinanceOptionsClient(api_key=API_KEY + '\n', signer=HmacSigner(SECRET), weight_ledger=None)
    with pytest.raises(ConfigError, match='^api_secret: contains whitespace') as e:
        HmacSigner('abc def')
    assert 'abc' not in str(e.value)


@pytest.mark.parametrize('status, code, msg, hint', [
    (400, -1022, 'Signature for this request is not valid.', 'api_secret / private_key'),
    (401, -2014, 'API-key format invalid.', 'wrong format'),
    (401, -2015, 'Invalid API-key, IP, or permissions for action.', 'IP whitelist'),
    (400, -1128, 'Invalid underlying.', 'underlying'),
    (400, -1102, 'Mandatory parameter was not sent.', 'mandatory'),
    (400, -1131, 'recvWindow must be less than 60000', 'recv_window'),
    (400, -9999, 'Something new.', None),
])
def test_client_errors_fail_at_once(exchange, sleeps, status, code, msg, hint):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(status, {'code': code, 'msg': msg}))
    with pytest.raises(APIError) as e:
        make_client().get_mmp('BTCUSDT')
    text = str(e.value)
    assert 'code %d' % code in text and msg in text and 'HTTP %d' % status in text
    if hint:
        assert hint in text
    assert e.value.code == code
    assert len(exchange.journal) == 1 and sleeps == []


def test_403_waf_page_is_named(exchange, sleeps):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(403, '<html><title>403 Forbidden</title>Request blocked</html>'))
    with pytest.raises(ResponseError) as e:
        make_client().get_mmp('BTCUSDT')
    assert 'HTTP 403' in str(e.value) and 'Request blocked' in str(e.value)


def test_non_json_200_is_an_error_not_a_traceback(exchange):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(200, 'OK but not json'))
    with pytest.raises(ResponseError, match=r'HTTP 200 .*not JSON.*OK but not json'):
        make_client().get_mmp('BTCUSDT')


# ---------------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------------

def test_redact():
    text = ('GET https://eapi.binance.com/eapi/v1/mmp?underlying=BTCUSDT&timestamp=1&signature=deadbeef failed; '
            'signature=cafe; -----BEGIN PRIVATE KEY-----\nMC4CAQ\n-----END PRIVATE KEY-----')
    out = redact(text)
    assert 'deadbeef' not in out and 'cafe' not in out and 'MC4CAQ' not in out
    assert 'https://eapi.binance.com/eapi/v1/mmp' in out


def test_transport_errors_never_carry_the_signed_url(exchange, sleeps):
    signed_url_error = requests.exceptions.ConnectionError(
        "HTTPSConnectionPool(host='eapi.binance.com', port=443): Max retries exceeded with url: "
        "/eapi/v1/mmp?underlying=BTCUSDT&recvWindow=5000&timestamp=1&signature=0123456789abcdef")
    exchange.add_fault('GET', '/eapi/v1/mmp', signed_url_error, times=http_mod.TRANSIENT_RETRIES + 1)
    with pytest.raises(TransportError) as e:
        make_client().get_mmp('BTCUSDT')
    assert '0123456789abcdef' not in str(e.value) and SECRET not in str(e.value)


def test_reprs_hold_no_secret():
    c = make_client()
    assert SECRET not in repr(c) and SECRET not in repr(c.signer) and API_KEY not in repr(c)


# ---------------------------------------------------------------------------------------------
# Pacing by X-MBX-USED-WEIGHT-1M
# ---------------------------------------------------------------------------------------------

class Clock:
    """A clock that the fake sleep advances."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def paced_client(clock, sleeps, ledger=None, **kwargs):
    def sleep(seconds):
        sleeps.append(seconds)
        clock.now += seconds
    kwargs.setdefault('weight_ledger', ledger)
    return make_client(clock=clock, sleep=sleep, rand=lambda: 0.0, **kwargs)


def date_of(seconds):
    """An HTTP Date header for ``seconds`` after the epoch (whole seconds, as the exchange sends it)."""
    from email.utils import formatdate
    return formatdate(seconds, usegmt=True)


def test_pacing_waits_for_the_next_minute_when_the_budget_is_spent():
    clock, sleeps = Clock(1000 * 60 + 30.0), []  # 30 s into a minute
    c = paced_client(clock, sleeps, weight_limit=5, weight_reserve=2)  # budget 3
    c._record_weight({'X-MBX-USED-WEIGHT-1M': '2', 'Date': date_of(clock.now)})
    c._pace()
    assert sleeps == []
    c._record_weight({'X-MBX-USED-WEIGHT-1M': '3', 'Date': date_of(clock.now)})
    c._pace()
    # until the exchange's clock is surely past its minute: its Date said 60030 s, so 30 s and a margin
    assert len(sleeps) == 1 and 30.0 < sleeps[0] < 30.7
    assert c.waits[-1][0] == 'weight'
    c._pace()  # a new minute: the budget is fresh
    assert len(sleeps) == 1


def test_pacing_follows_the_exchanges_clock():
    clock, sleeps = Clock(1000 * 60 + 30.0), []
    c = paced_client(clock, sleeps, weight_limit=3, weight_reserve=0)
    # the exchange's clock is 20 s ahead of ours: its minute ends in 10 s, not 30
    date = 'Thu, 01 Jan 1970 16:40:50 GMT'  # 60050 s after the epoch
    c._record_weight({'X-MBX-USED-WEIGHT-1M': '3', 'Date': date})
    c._pace()
    assert len(sleeps) == 1 and 10 <= sleeps[0] <= 11


def test_pacing_off():
    clock, sleeps = Clock(60 * 1000 + 1.0), []
    c = paced_client(clock, sleeps, weight_limit=0)
    c._record_weight({'X-MBX-USED-WEIGHT-1M': '100000'})
    c._pace()
    assert sleeps == []


def test_the_default_reserve_is_a_tenth_of_the_limit_whatever_the_forks():
    assert make_client().weight_reserve == 240
    assert make_client(weight_limit=60, weight_reserve=None).weight_reserve == 6
    assert make_client(weight_limit=60, weight_reserve=0).weight_reserve == 0
    assert make_client(weight_limit=2, weight_reserve=None).weight_reserve == 1


def test_workers_share_the_weight_through_the_ledger(tmp_path):
    ledger = Ledger(str(tmp_path / 'private' / 'ledger.json'))
    clock, sleeps_a, sleeps_b = Clock(1000 * 60 + 10.0), [], []
    a = paced_client(clock, sleeps_a, ledger=ledger, weight_limit=10, weight_reserve=2)
    b = paced_client(clock, sleeps_b, ledger=ledger, weight_limit=10, weight_reserve=2)
    a._record_weight({'X-MBX-USED-WEIGHT-1M': '8', 'Date': date_of(clock.now)})
    b._pace()  # b has seen nothing itself, but a's answer is in the ledger
    assert len(sleeps_b) == 1 and 50.0 < sleeps_b[0] < 50.7


def test_a_429_holds_back_the_other_workers(exchange, tmp_path):
    ledger = Ledger(str(tmp_path / 'private' / 'ledger.json'))
    clock, sleeps_a, sleeps_b = Clock(time.time()), [], []
    a = paced_client(clock, sleeps_a, ledger=ledger)
    b = paced_client(clock, sleeps_b, ledger=ledger)
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(429, TOO_MANY, {'Retry-After': '5'}))
    a.get_mmp('BTCUSDT')
    assert sleeps_a == [5.0]  # a waited once, and not again for its own hold
    a.pacer.hold(5.0)  # another 429
    clock.now += 2.0  # b starts while the hold lasts
    b._pace()
    assert len(sleeps_b) == 1 and 3.0 <= sleeps_b[0] <= 3.3
    assert b.waits[0][0] == 'rate-limit'


@pytest.mark.parametrize('second', [0.0, 0.5, 30.0, 59.5, 59.99])
def test_pacing_keeps_a_client_under_the_limit(exchange, second):
    """Against the fake exchange: with a budget of 3, the 4th request waits instead of crossing it, wherever in the
    minute the run starts (the test once took the real time of day, and failed in a minute's first and last second).
    """
    start = (int(time.time()) // 60 + 1) * 60 + second
    clock, sleeps = Clock(start), []
    exchange.clock_offset_ms = int(round((start - time.time()) * 1000))  # the exchange's clock reads as ours

    def sleep(seconds):  # the exchange's clock moves with ours
        sleeps.append(seconds)
        clock.now += seconds
        exchange.clock_offset_ms += int(seconds * 1000)
    c = make_client(clock=clock, sleep=sleep, rand=lambda: 0.0, weight_limit=3, weight_reserve=0,
                    weight_ledger=None)
    for underlying in ('BTCUSDT', 'ETHUSDT', 'SOLUSDT'):
        c.get_mmp(underlying)
    assert sleeps == []  # the first three fit
    c.get_mmp('BNBUSDT')
    assert sleeps and all(reason == 'weight' for reason, seconds in c.waits)
    # Away from a minute boundary the 4th request waits once; next to one, the pacer may wake up once on the way
    # (out of the earlier minute, then out of the full one): the same wait, in two steps.
    assert len(c.waits) == (1 if 2 <= second <= 58 else len(c.waits)) and len(c.waits) <= 2
    # No Date header: the exchange's clock is assumed within 1 s of ours. Whatever it really is in that range, no
    # exchange minute gets more than 3 requests, and the 4th waits only until the first minute none of the first three
    # may have landed in (the next one; the one after when they were sent within 1 s of the end of a minute), plus
    # that second of doubt and the landing margin.
    stamps = [int(dict(parse_qsl(j['query']))['timestamp']) for j in exchange.journal]
    assert len(stamps) == 4
    for shift in (-1000, 0, 1000):
        minutes = [(stamp + shift) // 60000 for stamp in stamps]
        assert max(minutes.count(m) for m in minutes) <= 3, (shift, stamps)
    assert 0 < sum(sleeps) <= (120.0 if second > 59 else 60.0) - second + 2.1


def test_a_new_client_starts_from_the_clock_an_earlier_one_learnt(exchange, sleeps, tmp_path):
    ledger = Ledger(str(tmp_path / 'private' / 'ledger.json'))
    exchange.clock_offset_ms = -20000
    first = make_client(weight_ledger=ledger)
    first.get_mmp('BTCUSDT')  # -1021, /time, retry
    exchange.journal.clear()
    second = make_client(weight_ledger=ledger)
    assert -21000 < second.time_offset_ms < -19000
    second.get_mmp('BTCUSDT')
    assert [j['path'] for j in exchange.journal] == ['/eapi/v1/mmp']  # no -1021 this time


def test_sync_time_measures_the_exchange_not_the_waits(sleeps):
    clock, waits = Clock(1000 * 60 + 58.0), []
    c = paced_client(clock, waits, weight_limit=3, weight_reserve=0)
    # the next request waits for the next minute
    c._record_weight({'X-MBX-USED-WEIGHT-1M': '3', 'Date': date_of(clock.now)})

    class TimeSession:
        def request(self, method, url, **kwargs):
            class Response:
                status_code, headers = 200, {}
                text = '{"serverTime": %d}' % int((clock.now + 30) * 1000)  # the exchange is 30 s ahead
            return Response()
    c.session = TimeSession()
    c.sync_time()
    assert waits and 29500 <= c.time_offset_ms <= 30500


def test_the_session_reads_proxy_and_ca_settings_once(monkeypatch):
    monkeypatch.setenv('HTTPS_PROXY', 'http://proxy.internal:3128')
    monkeypatch.setenv('NO_PROXY', 'localhost')
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', '/etc/ssl/corporate.pem')
    session = http_mod.shared_session('https://eapi.binance.com')
    assert session.proxies['https'] == 'http://proxy.internal:3128'
    assert session.verify == '/etc/ssl/corporate.pem'
    assert session.trust_env is False  # not re-read (nor ~/.netrc) on every request
    assert http_mod.shared_session('https://eapi.binance.com') is session
    assert 'https' not in http_mod.shared_session('http://localhost:8765').proxies


class SlowTimeSession:
    """Answers GET /eapi/v1/time after ``trip`` seconds, the exchange reading its clock (== ours) ``stamp`` s in."""

    def __init__(self, clock, trip, stamp):
        self.clock, self.trip, self.stamp = clock, trip, stamp

    def request(self, method, url, **kwargs):
        server_ms = int(round((self.clock.now + self.stamp) * 1000))
        self.clock.now += self.trip

        class Response:
            status_code, headers = 200, {}
            text = '{"serverTime": %d}' % server_ms
        return Response()


@pytest.mark.parametrize('trip, stamp', [(0.2, 0.1), (0.8, 0.0), (0.8, 0.8), (3.0, 2.9), (3.0, 0.1), (5.5, 5.4),
                                         (5.5, 0.0)])
def test_a_slow_time_sync_never_makes_timestamps_run_ahead_of_the_exchange(sleeps, trip, stamp):
    """However lopsided the round trip of GET /eapi/v1/time (a starved host, a proxy), the timestamps signed after it
    are never 1000 ms ahead of the exchange's clock (always rejected), and late by no more than the round trip."""
    clock, waits = Clock(1000 * 60 + 20.0), []
    c = paced_client(clock, waits, weight_limit=0)
    c.session = SlowTimeSession(clock, trip, stamp)
    c.sync_time()
    error_ms = c.time_offset_ms  # the exchange's clock is ours: the whole offset is the estimate's error
    assert error_ms <= client_mod.TIME_SYNC_MAX_AHEAD_MS < 1000
    assert -trip * 1000 <= error_ms
    if trip <= 2 * client_mod.TIME_SYNC_MAX_AHEAD_MS / 1000.0:  # a short round trip: its middle, as before
        assert abs(error_ms - (stamp - trip / 2) * 1000) <= 1


def test_the_pacing_ledger_warning_says_why_and_how_to_fix_it(tmp_path):
    ledger = Ledger(str(tmp_path / 'private' / 'weight.json'))
    client = make_client(base_url='http://127.0.0.1:8765', weight_ledger=ledger)
    assert http_mod.pacing_ledger_warning(client) is None
    client.pacer.ledger_problem = '%s: file writable by group or others' % ledger.path
    text = http_mod.pacing_ledger_warning(client)
    assert text.startswith('pacing: the shared ledger %s could not be used (file writable by group or others) after '
                           'a request was sent, so ' % ledger.path)
    assert 'the weight used on 127.0.0.1:8765' in text and text.endswith('the next task recreates it')
    client.pacer.ledger_problem, client.pacer.ledger_busy = '%s: stayed locked for 5.0s' % ledger.path, True
    text = http_mod.pacing_ledger_warning(client)
    assert '(stayed locked for 5.0s)' in text and 'recreates' not in text  # a busy ledger is not to be removed
    assert http_mod.pacing_ledger_warning(make_client(weight_ledger=None)) is None
    assert http_mod.pacing_ledger_warning(None) is None
    client.pacer.refused = True  # the ledger refused a request: that failed the task, which says it once
    assert http_mod.pacing_ledger_warning(client) is None
