# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake exchange for the unit tests, on top of the ``responses`` library (no network)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import time

from urllib.parse import parse_qsl, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa


BASE = 'https://eapi.binance.com'
API_KEY = 'unit-test-api-key-0001'
SECRET = 'unit-test-secret-4f1b9e0c2d7a'

# The signing tests' keys are made at test time: no private key is kept in the repository or the built artifact.
# The two Ed25519 keys are RFC 8032's published test vectors (section 7.1, TEST 1 and TEST 2), so what they sign
# has known answers; the RSA and EC keys are new each run (the RSA signature is checked against a computation
# of its own, see rsa_pkcs1v15_sha256).
RFC8032_TEST1_SECRET = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'
RFC8032_TEST2_SECRET = '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb'
KEY_PASSPHRASE = 'correct-horse'


def _pem(key, passphrase=None):
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption).decode()


@functools.lru_cache(maxsize=None)
def signing_key_object(name):
    if name in ('ed25519_test_key.pem', 'ed25519_test_key_encrypted.pem'):
        return ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC8032_TEST1_SECRET))
    if name == 'rfc8032_test2_key.pem':
        return ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC8032_TEST2_SECRET))
    if name == 'rsa_test_key.pem':
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if name == 'ec_test_key.pem':
        return ec.generate_private_key(ec.SECP256R1())
    raise KeyError(name)


@functools.lru_cache(maxsize=None)
def signing_key(name):
    """The PEM text of a signing test's key, by the name its file had (``ed25519_test_key.pem``, ...)."""
    return _pem(signing_key_object(name), KEY_PASSPHRASE if name.endswith('_encrypted.pem') else None)


def rsa_pkcs1v15_sha256(key, message):
    """RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017, 8.2.1) computed from the key's numbers, not by the signer's library."""
    numbers = key.private_numbers()
    n, d = numbers.public_numbers.n, numbers.d
    size = (n.bit_length() + 7) // 8
    digest_info = bytes.fromhex('3031300d060960864801650304020105000420') + hashlib.sha256(message).digest()
    encoded = b'\x00\x01' + b'\xff' * (size - len(digest_info) - 3) + b'\x00' + digest_info
    return pow(int.from_bytes(encoded, 'big'), d, n).to_bytes(size, 'big')


class FakeExchange:
    """Just enough of the options MMP API: HMAC checks, per-underlying state, a journal and faults.

    ``faults`` is a list of (method, path, fault) consumed in order, one per matching request. A fault is
    a callable returning (status, headers, body), or an exception instance to raise.
    """

    def __init__(self, rsps, secret=SECRET, limit_format='{}', clock_offset_ms=0):
        self.rsps = rsps
        self.secret = secret
        self.limit_format = limit_format
        self.clock_offset_ms = clock_offset_ms
        self.state = {}
        self.journal = []
        self.faults = []
        self.weight = 0
        self.weight_limit = 2400  # what exchangeInfo's rateLimits publishes
        self.countdowns = {}
        self.countdown_shape = 'object'  # or 'list': the two shapes of the kill-switch GET answer
        self.underlyings = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT']
        for method, path, handler in (('GET', '/eapi/v1/mmp', self._get_mmp),
                                      ('POST', '/eapi/v1/mmpSet', self._set_mmp),
                                      ('POST', '/eapi/v1/mmpReset', self._reset_mmp),
                                      ('GET', '/eapi/v1/countdownCancelAll', self._get_countdown),
                                      ('POST', '/eapi/v1/countdownCancelAll', self._set_countdown),
                                      ('GET', '/eapi/v1/exchangeInfo', self._exchange_info),
                                      ('GET', '/eapi/v1/time', self._time)):
            rsps.add_callback(method, BASE + path, callback=self._wrap(method, path, handler))

    def configure(self, underlying, window_ms, frozen_ms, qty_limit, delta_limit, last_trigger_time=0):
        self.state[underlying] = dict(windowTimeInMilliseconds=window_ms, frozenTimeInMilliseconds=frozen_ms,
                                      qtyLimit=str(qty_limit), deltaLimit=str(delta_limit),
                                      lastTriggerTime=last_trigger_time)

    def add_fault(self, method, path, fault, times=1):
        self.faults.extend([(method, path, fault)] * times)

    @property
    def writes(self):
        return [j for j in self.journal if j['path'] == '/eapi/v1/mmpSet']

    @property
    def posts(self):
        return [j for j in self.journal if j['method'] == 'POST']

    def _wrap(self, method, path, handler):
        def callback(request):
            parts = urlsplit(request.url)
            body = request.body or ''
            if isinstance(body, bytes):
                body = body.decode()
            entry = dict(method=method, path=path, query=parts.query, body=body,
                         headers=dict(request.headers))
            self.journal.append(entry)
            self.weight += 1
            for i, (f_method, f_path, fault) in enumerate(self.faults):
                if f_method == method and f_path == path:
                    del self.faults[i]
                    if isinstance(fault, BaseException):
                        raise fault
                    status, headers, out = fault(self, request)
                    headers = dict(headers, **{'X-MBX-USED-WEIGHT-1M': str(self.weight)})
                    return status, headers, out if isinstance(out, str) else json.dumps(out)
            status, out = handler(parts.query, body, request)
            return status, {'X-MBX-USED-WEIGHT-1M': str(self.weight)}, json.dumps(out)
        return callback

    def _check_signed(self, query, body, request):
        if request.headers.get('X-MBX-APIKEY') != API_KEY:
            return 401, {'code': -2015, 'msg': 'Invalid API-key, IP, or permissions for action.'}
        total = query + body
        payload, dummy, signature = total.rpartition('&signature=')
        if not hmac.compare_digest(hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest(),
                                   signature):
            return 400, {'code': -1022, 'msg': 'Signature for this request is not valid.'}
        params = dict(parse_qsl(payload))
        now = int(time.time() * 1000) + self.clock_offset_ms
        ts = int(params['timestamp'])
        if not (ts < now + 1000 and now - ts <= int(params.get('recvWindow', 5000))):
            return 400, {'code': -1021, 'msg': 'Timestamp for this request is outside of the recvWindow.'}
        return None, params

    def _answer(self, underlying):
        cfg = self.state.get(underlying) or dict(windowTimeInMilliseconds=0, frozenTimeInMilliseconds=0,
                                                 qtyLimit='0', deltaLimit='0', lastTriggerTime=0)
        out = dict(underlyingId=2, underlying=underlying, **cfg)
        out['qtyLimit'] = self.limit_format.format(out['qtyLimit'])
        out['deltaLimit'] = self.limit_format.format(out['deltaLimit'])
        return out

    def _get_mmp(self, query, body, request):
        status, params = self._check_signed(query, body, request)
        if status:
            return status, params
        return 200, self._answer(params['underlying'])

    def _set_mmp(self, query, body, request):
        status, params = self._check_signed(query, body, request)
        if status:
            return status, params
        self.configure(params['underlying'], int(params['windowTimeInMilliseconds']),
                       int(params['frozenTimeInMilliseconds']), params['qtyLimit'], params['deltaLimit'],
                       self.state.get(params['underlying'], {}).get('lastTriggerTime', 0))
        return 200, self._answer(params['underlying'])

    def _reset_mmp(self, query, body, request):
        status, params = self._check_signed(query, body, request)
        if status:
            return status, params
        if params['underlying'] in self.state:
            self.state[params['underlying']]['lastTriggerTime'] = 0
        return 200, self._answer(params['underlying'])

    def _get_countdown(self, query, body, request):
        status, params = self._check_signed(query, body, request)
        if status:
            return status, params
        underlying = params.get('underlying')
        active = [dict(underlying=u, countdownTime=ms) for u, ms in sorted(self.countdowns.items())
                  if ms and (underlying is None or u == underlying)]
        if self.countdown_shape == 'list':
            return 200, active
        return 200, active[0] if active else {}

    def _set_countdown(self, query, body, request):
        status, params = self._check_signed(query, body, request)
        if status:
            return status, params
        self.countdowns[params['underlying']] = int(params['countdownTime'])
        return 200, dict(underlying=params['underlying'], countdownTime=int(params['countdownTime']))

    def _exchange_info(self, query, body, request):
        return 200, dict(optionContracts=[dict(underlying=u) for u in self.underlyings + self.underlyings[:1]],
                         rateLimits=[dict(rateLimitType='REQUEST_WEIGHT', interval='MINUTE', intervalNum=1,
                                          limit=self.weight_limit),
                                     dict(rateLimitType='ORDERS', interval='MINUTE', intervalNum=1, limit=1200)])

    def _time(self, query, body, request):
        return 200, {'serverTime': int(time.time() * 1000) + self.clock_offset_ms}


def answer(status, body, headers=None):
    """A fault that answers ``status`` with ``body`` (a dict for JSON, a str as is)."""
    def fault(exchange, request):
        return status, headers or {}, body
    return fault


def apply_then(status, body, headers=None):
    """A fault for mmpSet: apply the write, then answer ``status`` with ``body``."""
    def fault(exchange, request):
        exchange._set_mmp(urlsplit(request.url).query, request.body or '', request)
        return status, headers or {}, body
    return fault


def run_mmp(params, check_mode=False, client_factory=None):
    """Everything a ``binance_mmp`` task does: (result, error), see runner.run_core()."""
    from ansible_collections.marketops.mmp.plugins.module_utils.binance.mmp import MMP
    from ansible_collections.marketops.mmp.plugins.module_utils.runner import run_core
    return run_core(MMP, params, check_mode=check_mode, client_factory=client_factory)


def validate_all(params):
    """Every check of a ``binance_mmp`` task before any request: the desired config and the warnings (as the task
    gives them, without the account label). Raises ValidationError."""
    from ansible_collections.marketops.mmp.plugins.module_utils.binance.mmp import MMP
    from ansible_collections.marketops.mmp.plugins.module_utils.transport import insecure_tls_warning
    from ansible_collections.marketops.mmp.plugins.module_utils.runner import validate_connection_params
    validate_connection_params(MMP.venue, params)
    desired, warnings = MMP.validate(params)
    insecure = insecure_tls_warning(params.get('base_url'), params.get('validate_certs', True))
    return desired, ([insecure] if insecure else []) + warnings
