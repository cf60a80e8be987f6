# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local emulator of Binance's options (eapi) MMP endpoints, for tests and offline rehearsals.

Start it by hand:

    python3 tests/emulator/server.py --port 8765 --accounts tests/emulator/accounts.example.json

then point the collection at it with ``BINANCE_EAPI_URL=http://127.0.0.1:8765`` (or ``base_url``).
With ``--certfile cert.pem --keyfile key.pem`` it serves HTTPS instead, as the exchange does
(``python3 tests/emulator/certs.py DIR`` makes a throwaway CA and a certificate for 127.0.0.1 and localhost).

It behaves as ../shared/reference/binance-options-mmp-api.md describes the exchange: it checks the
API key, the signature over query string + body (HMAC, Ed25519 or RSA; the signature in either part),
the timestamp against recvWindow (with a configurable clock offset), mandatory parameters, ranges,
decimal syntax and the underlying; it answers with the exchange's codes and HTTP statuses, keeps MMP
state per account and underlying, counts request weight per IP (``X-MBX-USED-WEIGHT-1M``, 429 with
``Retry-After`` over the limit, a timed 418 ban after repeated violations), keeps a journal and
injects faults.

Control endpoints (no signature, loopback only), for tests and rehearsals:

    GET    /_emulator/journal      the requests seen (no secrets, no signatures)
    DELETE /_emulator/journal      clear it
    POST   /_emulator/faults       add faults: {"faults": [{"kind": "503_unknown", "path": "/eapi/v1/mmpSet"}]};
                                   {"kind": "ban", "seconds": 8} bans the IP for real: that request and every
                                   one after it get 418 (Retry-After: the seconds left; omitted from the first
                                   with "retry_after": false) until the ban ends; {"kind": "trickle",
                                   "interval": 0.2, "duration": 20, "part": "body"} answers (after applying a
                                   write, unless "apply": false) with the status line and headers at once, then
                                   the body (padded with leading spaces) one byte every interval for duration
                                   seconds ("part": "headers": a header line trickles instead); the journal entry
                                   says when the client hung up (client_closed_at) or the answer ended (replied);
                                   {"kind": "other_config", "path": "/eapi/v1/mmpSet"} sets and answers another
                                   config than the one asked: the request's with "set" ({"qtyLimit": "7"})
                                   over it, by default qtyLimit one more than asked;
                                   {"kind": "echo_request", "path": ...} answers "status" (400) with an error
                                   that repeats the request as received, signed query string and form body
                                   included (the exchange's JSON error, or with "html": true a proxy's page)
    DELETE /_emulator/faults       clear them
    POST   /_emulator/config       {"clock_offset_ms": -8000, "weight_limit": 60, "limit_format": "padded",
                                    "countdown_get_shape": "list", ...}
    GET    /_emulator/tls          the TLS handshakes seen, failed ones included (HTTPS only)
    GET    /_emulator/state        the MMP and kill-switch state of every account
    POST   /_emulator/state        set state: {"api_key": ..., "underlying": ..., "window_ms": ..., ...}
    POST   /_emulator/trigger      trigger MMP: {"api_key" or "account": ..., "underlying": ..., "at_ms": ...}
                                   (at_ms: when, by the exchange's clock; default now)
    POST   /_emulator/reset        forget state, journal, faults, weights and bans

MMP state follows the reference: after a trigger (lastTriggerTime > 0) the underlying is frozen for
frozenTimeInMilliseconds, or until ``POST /eapi/v1/mmpReset`` when that is 0. Whether the exchange clears
lastTriggerTime on a reset is not documented; this emulator clears it (sets it to 0) and answers the reset
with the state after it. mmpSet keeps lastTriggerTime.

The kill-switch GET answer's shape is not settled (the docs: the active configs; the official SDK: one
object). Setting ``countdown_get_shape``: ``object`` (default; with an underlying, that underlying's
``{underlying, countdownTime}``, 0 when off; without one, the first active config or ``{}``) or ``list``
(the active configs, filtered by the underlying when one is given, ``[]`` when none).

Standard library only; ``cryptography`` is needed only for accounts with an Ed25519 or RSA public key.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import ssl
import sys
import threading
import time

from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote

DECIMAL_RE = re.compile(r'^([0-9]{1,20})(\.[0-9]{1,20})?$')
LONG_RE = re.compile(r'^[0-9]{1,19}$')
DEFAULT_UNDERLYINGS = ('BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT', 'DOGEUSDT')
UNDERLYING_IDS = {}

MSG_UNKNOWN = 'Unknown error, please check your request or try again later.'
MSG_INTERNAL = 'Internal error; unable to process your request. Please try again.'
MSG_UNAVAILABLE = 'Service Unavailable.'
MSG_BAD_KEY = 'Invalid API-key, IP, or permissions for action.'

# Presets for fault injection: kind -> (HTTP status, body, apply the write first?)
FAULT_PRESETS = {
    '500': (500, {'code': -1001, 'msg': MSG_INTERNAL}, False),
    '503_unavailable': (503, {'code': -1001, 'msg': MSG_UNAVAILABLE}, False),
    '503_unknown': (503, {'code': -1000, 'msg': MSG_UNKNOWN}, True),
    '503_unknown_not_applied': (503, {'code': -1000, 'msg': MSG_UNKNOWN}, False),
    '429': (429, {'code': -1003, 'msg': 'Too many requests; please use the websocket for live updates.'}, False),
    '418': (418, {'code': -1003, 'msg': 'Way too many requests; IP banned. Please use the websocket for live updates.'},
            False),
    '-1021': (400, {'code': -1021, 'msg': 'Timestamp for this request is outside of the recvWindow.'}, False),
    '-1008': (503, {'code': -1008, 'msg': 'Server is currently overloaded with other requests. Please try again.'},
              False),
    'non_json': (502, '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>'
                      '</center><hr><center>nginx</center></body></html>', False),
}
FAULT_KINDS = sorted(FAULT_PRESETS) + ['timeout', 'drop', 'custom', 'ban', 'trickle', 'other_config', 'echo_request']
TRICKLE_INTERVAL = 0.2   # the trickle fault: seconds between two bytes
TRICKLE_DURATION = 20.0  # the trickle fault: seconds the trickle lasts


class ApiError(Exception):
    def __init__(self, status, code, msg, headers=None):
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg
        self.headers = headers or {}


def bad_param(name, kind='mandatory'):
    if kind == 'mandatory':
        return ApiError(400, -1102, "Mandatory parameter '%s' was not sent, was empty/null, or malformed." % name)
    if kind == 'decimal':
        return ApiError(400, -1100, "Illegal characters found in parameter '%s'; legal range is "
                                    "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'." % name)
    if kind == 'long':
        return ApiError(400, -1100, "Illegal characters found in parameter '%s'; legal range is '^[0-9]{1,19}$'."
                        % name)
    return ApiError(400, -1130, "Data sent for parameter '%s' is not valid." % name)


def load_public_key(pem):
    try:
        from cryptography.hazmat.primitives.serialization import load_pem_public_key
    except ImportError:
        sys.exit('the emulator needs the Python library cryptography for Ed25519 / RSA accounts')
    return load_pem_public_key(pem.encode())


def verify_signature(account, payload, signature):
    """True when ``signature`` (as sent on the wire) signs ``payload`` for ``account``."""
    if account.get('secret'):
        expected = hmac.new(account['secret'].encode(), payload.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)
    key = account['_public_key']
    try:
        raw = base64.b64decode(unquote(signature), validate=True)
    except ValueError:
        return False
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ed25519, padding
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(raw, payload.encode())
        else:
            key.verify(raw, payload.encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def format_limit(value, style):
    if style == 'padded':
        exponent = value.as_tuple().exponent
        places = max(8, -exponent if isinstance(exponent, int) else 8)
        return '{0:.{1}f}'.format(value, places)
    text = format(value, 'f')
    if '.' in text:
        text = text.rstrip('0').rstrip('.')
    return text


class EmulatorBase:
    """What every venue's emulator shares: a lock, settings, one-shot faults and the TLS handshakes seen.

    ``Handler.control`` and ``_HTTPServer`` rely on it; a venue's emulator adds ``journal``, ``state()``, ``trigger()``
    and ``reset()`` (which must clear ``handshakes``), and lists its fault kinds in ``fault_kinds``.
    """

    fault_kinds = ()

    def __init__(self):
        self.lock = threading.RLock()
        self.tls_idle = threading.Condition(self.lock)
        self.handshaking = 0  # TLS handshakes in progress
        self.handshakes = []
        self.faults = []
        self.settings = {}

    def add_faults(self, faults):
        with self.lock:
            for fault in faults:
                fault = dict(fault)
                if fault.get('kind') not in self.fault_kinds:
                    raise ValueError('unknown fault kind %r; known: %s' % (fault.get('kind'), ', '.join(self.fault_kinds)))
                fault.setdefault('count', 1)
                self.faults.append(fault)

    def take_matching_fault(self, matches):
        """The first fault for which ``matches(fault)`` is true, counted down (and dropped at 0); None if none."""
        with self.lock:
            for fault in self.faults:
                if not matches(fault):
                    continue
                fault['count'] -= 1
                if fault['count'] <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def check_settings(self, data):
        """Raise ValueError when a settings change is not valid (a venue's own rules)."""

    def update_settings(self, data):
        unknown = set(data) - set(self.settings)
        if unknown:
            raise ValueError('unknown settings: %s' % ', '.join(sorted(unknown)))
        self.check_settings(data)
        with self.lock:
            self.settings.update(data)
            return dict(self.settings)

    def tls_handshakes(self, timeout=5.0):
        """The TLS handshakes seen, once none is in progress: a client learns that a handshake failed a moment
        before the server does."""
        with self.tls_idle:
            self.tls_idle.wait_for(lambda: not self.handshaking, timeout)
            return list(self.handshakes)

    def set_state(self, item):
        raise ValueError('this emulator does not set state directly')


class Emulator(EmulatorBase):
    """The exchange's state and rules; the HTTP layer is ``Handler``."""

    fault_kinds = FAULT_KINDS

    def __init__(self, accounts, underlyings=DEFAULT_UNDERLYINGS, weight_limit=2400, ban_after=3,
                 ban_seconds=120, limit_format='plain', clock_offset_ms=0, countdown_get_shape='object'):
        super().__init__()
        self.accounts = {}
        for account in accounts:
            account = dict(account)
            if account.get('public_key'):
                account['_public_key'] = load_public_key(account['public_key'])
            elif not account.get('secret'):
                raise ValueError('account %s needs a secret or a public_key' % account.get('name'))
            account.setdefault('market_maker', True)
            self.accounts[account['api_key']] = account
        self.underlyings = list(underlyings)
        self.settings = dict(weight_limit=weight_limit, ban_after=ban_after, ban_seconds=ban_seconds,
                             limit_format=limit_format, clock_offset_ms=clock_offset_ms,
                             countdown_get_shape=countdown_get_shape)
        self.reset()

    def reset(self):
        with self.lock:
            self.mmp = {}          # (api_key, underlying) -> config
            self.countdown = {}    # (api_key, underlying) -> ms
            self.journal = []
            self.faults = []
            self.weights = {}      # ip -> [minute, used]
            self.violations = {}   # ip -> count
            self.banned_until = {}  # ip -> epoch seconds
            self.signatures = []   # every signature received, for tests that check none leaks (not in the journal)
            self.handshakes = []   # over HTTPS: every TLS handshake, {time, ip, ok, error}; a failed one sends no request

    # -- time and weight -------------------------------------------------------------------

    def server_ms(self):
        return int(time.time() * 1000) + int(self.settings['clock_offset_ms'])

    def server_time(self):
        """The exchange's clock in seconds (clock_offset_ms applies to weight windows and Date too)."""
        return time.time() + int(self.settings['clock_offset_ms']) / 1000.0

    def used_weight(self, ip):
        minute = int(self.server_time() // 60)
        entry = self.weights.get(ip)
        if not entry or entry[0] != minute:
            return 0
        return entry[1]

    def charge(self, ip, weight):
        """Count the request's weight; raise 429/418 over the limit."""
        now = self.server_time()
        until = self.banned_until.get(ip, 0)
        if until > now:
            raise ApiError(418, -1003, 'Way too many requests; IP(%s) banned until %d. Please use the websocket '
                                       'for live updates to avoid bans.' % (ip, int(until * 1000)),
                           {'Retry-After': str(int(until - now) + 1)})
        minute = int(now // 60)
        entry = self.weights.setdefault(ip, [minute, 0])
        if entry[0] != minute:
            entry[:] = [minute, 0]
        if entry[1] + weight > int(self.settings['weight_limit']):
            self.violations[ip] = self.violations.get(ip, 0) + 1
            if self.violations[ip] >= int(self.settings['ban_after']):
                self.banned_until[ip] = now + int(self.settings['ban_seconds'])
                self.violations[ip] = 0
                raise ApiError(418, -1003, 'Way too many requests; IP(%s) banned until %d. Please use the '
                                           'websocket for live updates to avoid bans.'
                               % (ip, int(self.banned_until[ip] * 1000)),
                               {'Retry-After': str(int(self.settings['ban_seconds']))})
            raise ApiError(429, -1003, 'Too many requests; current limit of IP(%s) is %d requests per minute. '
                                       'Please use the websocket for live updates to avoid polling the API.'
                           % (ip, int(self.settings['weight_limit'])),
                           {'Retry-After': str(60 - int(now % 60))})
        entry[1] += weight

    # -- faults ----------------------------------------------------------------------------

    def take_fault(self, method, path, api_key):
        return self.take_matching_fault(lambda fault: fault.get('path', path) == path and fault.get('method', method) == method
                                        and (not fault.get('api_key') or fault['api_key'] == api_key))

    def check_settings(self, data):
        if data.get('countdown_get_shape', 'object') not in ('object', 'list'):
            raise ValueError('countdown_get_shape: object or list')

    # -- signed requests -------------------------------------------------------------------

    def authenticate(self, headers, query, body):
        """Check key, signature and timestamp. Returns (account, params)."""
        api_key = headers.get('X-MBX-APIKEY')
        if not api_key:
            raise ApiError(400, -2014, 'API-key format invalid.')
        account = self.accounts.get(api_key)
        if account is None:
            raise ApiError(401, -2015, MSG_BAD_KEY)
        signature = None
        parts = []
        for raw in (query, body):
            kept = []
            for item in raw.split('&') if raw else []:
                if item.startswith('signature='):
                    if signature is not None:
                        raise ApiError(400, -1101, "Duplicate values for parameter 'signature'.")
                    signature = item[len('signature='):]
                else:
                    kept.append(item)
            parts.append('&'.join(kept))
        if not signature:
            raise bad_param('signature')
        with self.lock:
            self.signatures.append(signature)
        payload = parts[0] + parts[1]
        params = {}
        for key, value in parse_qsl(parts[0], keep_blank_values=True) + parse_qsl(parts[1], keep_blank_values=True):
            if key in params:
                raise ApiError(400, -1101, "Duplicate values for parameter '%s'." % key)
            params[key] = value
        recv_window = params.get('recvWindow', '5000')
        if not LONG_RE.match(recv_window):
            raise bad_param('recvWindow', 'long')
        if int(recv_window) >= 60000:
            raise ApiError(400, -1131, 'recvWindow must be less than 60000')
        timestamp = params.get('timestamp')
        if not timestamp or not LONG_RE.match(timestamp):
            raise bad_param('timestamp')
        if not verify_signature(account, payload, signature):
            raise ApiError(400, -1022, 'Signature for this request is not valid.')
        now = self.server_ms()
        ts = int(timestamp)
        if ts >= now + 1000:
            raise ApiError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - ts > int(recv_window):
            raise ApiError(400, -1021, 'Timestamp for this request is outside of the recvWindow.')
        if not account.get('market_maker'):
            raise ApiError(401, -2015, MSG_BAD_KEY)
        return account, params

    def underlying(self, params, required=True):
        value = params.get('underlying')
        if not value:
            if required:
                raise bad_param('underlying')
            return None
        if value not in self.underlyings:
            raise ApiError(400, -1128, 'Invalid underlying.')
        return value

    def mmp_answer(self, api_key, underlying):
        config = self.mmp.get((api_key, underlying))
        if config is None:  # never configured: undocumented on the exchange, zeros here
            config = dict(window=0, frozen=0, qty=Decimal(0), delta=Decimal(0), last_trigger=0)
        style = self.settings['limit_format']
        return {'underlyingId': UNDERLYING_IDS.setdefault(underlying, len(UNDERLYING_IDS) + 1),
                'underlying': underlying, 'windowTimeInMilliseconds': config['window'],
                'frozenTimeInMilliseconds': config['frozen'], 'qtyLimit': format_limit(config['qty'], style),
                'deltaLimit': format_limit(config['delta'], style), 'lastTriggerTime': config['last_trigger']}

    @staticmethod
    def param(params, name, kind):
        """A mandatory LONG ('long') or DECIMAL ('decimal') parameter, checked as the exchange checks it."""
        raw = params.get(name)
        if raw is None or raw == '':
            raise bad_param(name)
        if not (LONG_RE if kind == 'long' else DECIMAL_RE).match(raw):
            raise bad_param(name, kind)
        return int(raw) if kind == 'long' else Decimal(raw)

    def set_mmp(self, account, params):
        underlying = self.underlying(params)
        values = {name: self.param(params, name, 'long')
                  for name in ('windowTimeInMilliseconds', 'frozenTimeInMilliseconds')}
        if not 0 < values['windowTimeInMilliseconds'] <= 5000:
            raise bad_param('windowTimeInMilliseconds', 'range')
        for name in ('qtyLimit', 'deltaLimit'):
            values[name] = self.param(params, name, 'decimal')
            if values[name] <= 0:
                raise bad_param(name, 'range')
        key = (account['api_key'], underlying)
        with self.lock:
            previous = self.mmp.get(key, {})
            self.mmp[key] = dict(window=values['windowTimeInMilliseconds'], frozen=values['frozenTimeInMilliseconds'],
                                 qty=values['qtyLimit'], delta=values['deltaLimit'],
                                 last_trigger=previous.get('last_trigger', 0))
        return self.mmp_answer(account['api_key'], underlying)

    def dispatch(self, method, path, account, params):
        """The endpoints' own logic, once the request is authenticated (when signed)."""
        if (method, path) == ('GET', '/eapi/v1/time'):
            return {'serverTime': self.server_ms()}
        if (method, path) == ('GET', '/eapi/v1/exchangeInfo'):
            return {'timezone': 'UTC', 'serverTime': self.server_ms(),
                    'optionContracts': [{'baseAsset': u[:-4], 'quoteAsset': 'USDT', 'underlying': u,
                                         'settleAsset': 'USDT'} for u in self.underlyings],
                    'optionAssets': [{'name': 'USDT'}], 'optionSymbols': [],
                    'rateLimits': [{'rateLimitType': 'REQUEST_WEIGHT', 'interval': 'MINUTE', 'intervalNum': 1,
                                    'limit': int(self.settings['weight_limit'])},
                                   {'rateLimitType': 'ORDERS', 'interval': 'MINUTE', 'intervalNum': 1,
                                    'limit': 1200}]}
        if (method, path) == ('GET', '/eapi/v1/mmp'):
            return self.mmp_answer(account['api_key'], self.underlying(params))
        if (method, path) == ('POST', '/eapi/v1/mmpSet'):
            return self.set_mmp(account, params)
        if (method, path) == ('POST', '/eapi/v1/mmpReset'):
            underlying = self.underlying(params)
            with self.lock:
                config = self.mmp.get((account['api_key'], underlying))
                if config is not None:
                    config['last_trigger'] = 0  # undocumented on the exchange: here a reset clears the trigger
            return self.mmp_answer(account['api_key'], underlying)
        if (method, path) == ('POST', '/eapi/v1/countdownCancelAll'):
            underlying = self.underlying(params)
            countdown = self.param(params, 'countdownTime', 'long')
            if 0 < countdown < 5000:
                raise bad_param('countdownTime', 'range')
            with self.lock:
                self.countdown[(account['api_key'], underlying)] = countdown
            return {'underlying': underlying, 'countdownTime': countdown}
        if (method, path) == ('GET', '/eapi/v1/countdownCancelAll'):
            # The shape is not settled (see the module docstring): the setting countdown_get_shape picks one.
            underlying = self.underlying(params, required=False)
            with self.lock:
                active = [{'underlying': u, 'countdownTime': ms} for (k, u), ms in sorted(self.countdown.items())
                          if k == account['api_key'] and ms and (underlying is None or u == underlying)]
            if self.settings['countdown_get_shape'] == 'list':
                return active
            if underlying:
                return {'underlying': underlying,
                        'countdownTime': self.countdown.get((account['api_key'], underlying), 0)}
            return active[0] if active else {}
        raise ApiError(404, -1000, 'Not found.')

    def state(self):
        with self.lock:
            out = {}
            for (api_key, underlying), _config in sorted(self.mmp.items()):
                name = self.accounts[api_key].get('name', api_key)
                out.setdefault(name, {})[underlying] = self.mmp_answer(api_key, underlying)
            return {'mmp': out, 'countdown': {'%s/%s' % (self.accounts[k].get('name', k), u): ms
                                              for (k, u), ms in sorted(self.countdown.items())}}

    def set_state(self, item):
        api_key = self.account_key(item)
        with self.lock:
            self.mmp[(api_key, item['underlying'])] = dict(
                window=int(item['window_ms']), frozen=int(item['frozen_ms']), qty=Decimal(str(item['qty_limit'])),
                delta=Decimal(str(item['delta_limit'])), last_trigger=int(item.get('last_trigger_time', 0)))

    def account_key(self, item):
        """The API key an item of a control request means: ``api_key``, or ``account`` (the account's name)."""
        if item.get('api_key'):
            if item['api_key'] not in self.accounts:
                raise ValueError('unknown api_key')
            return item['api_key']
        for api_key, account in self.accounts.items():
            if account.get('name') == item.get('account'):
                return api_key
        raise ValueError('unknown account %r' % item.get('account'))

    def trigger(self, item):
        """MMP triggers for an account's underlying at ``at_ms`` (the exchange's clock; default now)."""
        api_key = self.account_key(item)
        underlying = item.get('underlying')
        at_ms = int(item.get('at_ms') or self.server_ms())
        with self.lock:
            config = self.mmp.get((api_key, underlying))
            if config is None or not config['window']:
                raise ValueError('MMP of %s is not configured for this account: it cannot trigger' % underlying)
            config['last_trigger'] = at_ms
        return self.mmp_answer(api_key, underlying)

    def set_countdown(self, item):
        """Set a kill-switch countdown directly (for tests): {api_key|account, underlying, countdown_ms}."""
        with self.lock:
            self.countdown[(self.account_key(item), item['underlying'])] = int(item['countdown_ms'])

    def writes(self):
        with self.lock:
            return [j for j in self.journal if j['method'] == 'POST' and j['path'].startswith('/eapi/')]


SIGNED = {('GET', '/eapi/v1/mmp'), ('POST', '/eapi/v1/mmpSet'), ('POST', '/eapi/v1/mmpReset'),
          ('GET', '/eapi/v1/countdownCancelAll'), ('POST', '/eapi/v1/countdownCancelAll')}


class Handler(BaseHTTPRequestHandler):
    server_version = 'eapi-emulator/1.0'
    protocol_version = 'HTTP/1.1'
    # Headers and body leave in one send, and without Nagle's algorithm: otherwise every keep-alive
    # answer waits ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    emulator = None  # set on the subclass the server uses

    def date_time_string(self, timestamp=None):
        return super().date_time_string(self.emulator.server_time() if timestamp is None else timestamp)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if getattr(self.server, 'verbose', False):
            sys.stderr.write('emulator: %s\n' % (format % args))

    def do_GET(self):
        self.handle_any('GET')

    def do_POST(self):
        self.handle_any('POST')

    def do_DELETE(self):
        self.handle_any('DELETE')

    def reply(self, status, body, headers=None):
        data = body if isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        ctype = 'application/json' if not isinstance(body, (str, bytes)) else 'text/html'
        try:
            self.send_response(status)
            self.send_header('Content-Type', ctype)
            self.send_header('Content-Length', str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self._headers_buffer.append(b'\r\n')  # end_headers() without its flush: one write below
            self.wfile.write(b''.join(self._headers_buffer) + data)
            self._headers_buffer = []
        except (BrokenPipeError, ConnectionResetError):
            pass

    def trickle(self, status, body, headers, fault, entry):
        """The ``trickle`` fault: the answer ``body`` with ``headers``, its status line and headers at once, then one
        byte every ``interval`` seconds for ``duration`` seconds: the body, padded with leading spaces (JSON allows
        them) so that a client that waits to the end reads the whole answer; ``part: headers``: a header line trickles
        instead, then the rest comes at once. Ends early when the client hangs up (``client_closed_at`` in the journal
        entry), else ``replied`` says when the answer was whole."""
        interval = float(fault.get('interval', TRICKLE_INTERVAL))
        steps = max(1, int(float(fault.get('duration', TRICKLE_DURATION)) / interval))
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        entry.update(status=status, trickle=dict(interval=interval, steps=steps, part=fault.get('part', 'body')))
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if fault.get('part', 'body') == 'headers':
            head, slow = b''.join(self._headers_buffer) + b'X-Trickle: ', b'a' * steps
            tail = b'\r\nContent-Length: %d\r\n\r\n' % len(data) + data
        else:
            slow = b' ' * steps + data
            head, tail = b''.join(self._headers_buffer) + b'Content-Length: %d\r\n\r\n' % len(slow), b''
        self._headers_buffer = []
        self.close_connection = True
        try:
            self.wfile.write(head)
            self.wfile.flush()
            for index in range(len(slow)):
                time.sleep(interval if index < steps else 0)
                self.wfile.write(slow[index:index + 1])
                self.wfile.flush()
            self.wfile.write(tail)
            self.wfile.flush()
        except OSError:  # the client hung up (a broken pipe, a reset)
            entry['client_closed_at'] = time.time()
            return None
        entry['replied'] = time.time()
        return None

    def handle_any(self, method):
        path, dummy, query = self.path.partition('?')
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length).decode('utf-8', 'replace') if length else ''
        if path.startswith('/_emulator/'):
            return self.control(method, path, body)
        emu = self.emulator
        ip = self.client_address[0]
        api_key = self.headers.get('X-MBX-APIKEY')
        entry = dict(time=time.time(), ip=ip, method=method, path=path,
                     account=emu.accounts.get(api_key, {}).get('name') if api_key else None,
                     params={k: v for k, v in parse_qsl(query) + parse_qsl(body) if k != 'signature'},
                     signature_in='query' if 'signature=' in query else 'body' if 'signature=' in body else None)
        headers = {}
        with emu.lock:
            emu.journal.append(entry)
        try:
            with emu.lock:
                emu.charge(ip, 1)
            fault = emu.take_fault(method, path, api_key)
            if fault:
                entry['fault'] = fault['kind']
                return self.inject(fault, method, path, query, body, entry)
            account, params = None, {}
            if (method, path) in SIGNED:
                account, params = emu.authenticate(self.headers, query, body)
            elif method == 'POST' or path not in ('/eapi/v1/time', '/eapi/v1/exchangeInfo'):
                raise ApiError(404 if method == 'GET' else 405, -1000, 'Not found.')
            status, out = 200, emu.dispatch(method, path, account, params)
        except ApiError as e:
            status, out, headers = e.status, {'code': e.code, 'msg': e.msg}, e.headers
        entry['status'] = status
        if isinstance(out, dict) and 'code' in out:
            entry['code'] = out['code']
        headers = dict(headers, **{'X-MBX-USED-WEIGHT-1M': str(emu.used_weight(ip))})
        self.reply(status, out, headers)
        entry['replied'] = time.time()  # how long the answer took: the journal tells a slow emulator from a slow client
        return None

    def inject(self, fault, method, path, query, body, entry):
        emu = self.emulator
        kind = fault['kind']
        if kind == 'ban':
            return self.ban(fault, entry)

        def apply():
            try:
                if (method, path) in SIGNED:
                    account, params = emu.authenticate(self.headers, query, body)
                    return emu.dispatch(method, path, account, params)
                return emu.dispatch(method, path, None, {})
            except ApiError as e:
                return {'code': e.code, 'msg': e.msg}

        weight = {'X-MBX-USED-WEIGHT-1M': str(emu.used_weight(self.client_address[0]))}
        if kind == 'trickle':
            return self.trickle(200, apply() if fault.get('apply', True) else {}, weight, fault, entry)
        if kind in ('other_config', 'echo_request'):
            status, out, headers = self.set_other_config(fault, path, query, body) if kind == 'other_config' \
                else self.echoed_request(fault, method, path, query, body)
            entry['status'] = status
            if isinstance(out, dict) and 'code' in out:
                entry['code'] = out['code']
            self.reply(status, out, dict(weight, **headers))
            entry['replied'] = time.time()
            return None
        if kind in ('timeout', 'drop'):
            out = apply() if fault.get('apply', kind == 'timeout') else None
            if kind == 'timeout':
                time.sleep(float(fault.get('delay', 3)))
                entry['status'] = 200
                return self.reply(200, out or {}, weight)
            entry['status'] = 0
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return None
        if kind == 'custom':
            status, out, applies = int(fault['status']), fault.get('body', {}), bool(fault.get('apply'))
        else:
            status, out, applies = FAULT_PRESETS[kind]
            applies = fault.get('apply', applies)
        if applies:
            apply()
        headers = dict(weight)
        if status in (429, 418):
            headers['Retry-After'] = str(fault.get('retry_after', 1 if status == 429 else 120))
        headers.update(fault.get('headers', {}))
        entry['status'] = status
        self.reply(status, out, headers)
        entry['replied'] = time.time()  # a retry's wait is measured from here (a 429's Retry-After)
        return None

    def set_other_config(self, fault, path, query, body):
        """The ``other_config`` fault (mmpSet): the request is checked as usual, then the exchange sets and answers
        another config than the one asked: the request's with ``set`` over it (by default qtyLimit one more than
        asked). Returns (status, body, headers)."""
        emu = self.emulator
        try:
            if path != '/eapi/v1/mmpSet':
                raise ApiError(400, -1000, 'other_config is a fault of POST /eapi/v1/mmpSet')
            account, params = emu.authenticate(self.headers, query, body)
            changes = fault.get('set')
            if changes is None:
                changes = {'qtyLimit': str(emu.param(params, 'qtyLimit', 'decimal') + 1)}
            return 200, emu.set_mmp(account, dict(params, **{k: str(v) for k, v in changes.items()})), {}
        except ApiError as e:
            return e.status, {'code': e.code, 'msg': e.msg}, e.headers

    def echoed_request(self, fault, method, path, query, body):
        """The ``echo_request`` fault: HTTP ``status`` (400) with an error that repeats the request as received, its
        query string and form body included, signature and all (as a careless exchange or proxy might): the exchange's
        JSON error (``code``, -1100), or with ``html`` a proxy's HTML page. The signature is added to ``signatures``
        (it never goes into the journal). Returns (status, body, headers)."""
        emu = self.emulator
        for item in (query + '&' + body).split('&'):
            if item.startswith('signature='):
                with emu.lock:
                    emu.signatures.append(item[len('signature='):])
        request = '%s %s%s%s' % (method, path, '?' + query if query else '', ' with the form body ' + body if body else '')
        status = int(fault.get('status', 400))
        if fault.get('html'):
            return status, ('<html><head><title>%d Request rejected</title></head><body><h1>Request rejected</h1><p>%s'
                            '</p></body></html>' % (status, request)), {}
        return status, {'code': int(fault.get('code', -1100)), 'msg': 'Illegal characters found in the request %s'
                        % request}, {}

    def ban(self, fault, entry):
        """The ``ban`` fault: the IP is banned for ``seconds`` (default: the setting ban_seconds) from this request on;
        ``charge()`` answers every later request 418 until it ends, as after repeated 429s."""
        emu = self.emulator
        ip = self.client_address[0]
        seconds = int(fault.get('seconds', emu.settings['ban_seconds']))
        with emu.lock:
            until = emu.server_time() + seconds
            emu.banned_until[ip] = until
        entry['status'] = 418
        headers = {'X-MBX-USED-WEIGHT-1M': str(emu.used_weight(ip))}
        if fault.get('retry_after', True):  # false: a 418 that says only "banned until" in its message
            headers['Retry-After'] = str(seconds)
        self.reply(418, {'code': -1003, 'msg': 'Way too many requests; IP(%s) banned until %d. Please use the '
                                               'websocket for live updates to avoid bans.' % (ip, int(until * 1000))},
                   headers)
        entry['replied'] = time.time()

    def control(self, method, path, body):
        emu = self.emulator
        if self.client_address[0] not in ('127.0.0.1', '::1'):
            return self.reply(403, {'error': 'control endpoints answer on loopback only'})
        try:
            data = json.loads(body) if body else {}
            if (method, path) == ('GET', '/_emulator/journal'):
                with emu.lock:
                    return self.reply(200, {'journal': list(emu.journal)})
            if (method, path) == ('GET', '/_emulator/tls'):
                return self.reply(200, {'handshakes': emu.tls_handshakes()})
            if (method, path) == ('DELETE', '/_emulator/journal'):
                with emu.lock:
                    emu.journal.clear()
                return self.reply(200, {})
            if (method, path) == ('POST', '/_emulator/faults'):
                emu.add_faults(data.get('faults', []))
                return self.reply(200, {'faults': emu.faults})
            if (method, path) == ('DELETE', '/_emulator/faults'):
                with emu.lock:
                    emu.faults.clear()
                return self.reply(200, {})
            if method == 'POST' and path in ('/_emulator/config', '/_emulator/settings'):
                return self.reply(200, emu.update_settings(data))
            if (method, path) == ('GET', '/_emulator/state'):
                return self.reply(200, emu.state())
            if (method, path) == ('POST', '/_emulator/state'):
                emu.set_state(data)
                return self.reply(200, emu.state())
            if (method, path) == ('POST', '/_emulator/trigger'):
                return self.reply(200, emu.trigger(data))
            if (method, path) == ('POST', '/_emulator/reset'):
                emu.reset()
                return self.reply(200, {})
        except (ValueError, KeyError, TypeError) as e:
            return self.reply(400, {'error': str(e)})
        return self.reply(404, {'error': 'no such control endpoint'})


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that, given an ssl.SSLContext, does each TLS handshake in the connection's own thread
    (a slow or failing client never holds up the others) and records it in the emulator."""

    daemon_threads = True
    tls_context = None
    emulator = None
    handshake_timeout = 10.0

    def finish_request(self, request, client_address):
        if self.tls_context is None:
            return super().finish_request(request, client_address)
        record = dict(time=time.time(), ip=client_address[0], ok=False, error=None)
        with self.emulator.lock:
            self.emulator.handshaking += 1
        try:
            request.settimeout(self.handshake_timeout)
            conn = self.tls_context.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        except OSError as e:
            record['error'] = str(e)
            self._record(record)
            return None
        try:
            try:
                conn.do_handshake()
            except (OSError, ValueError) as e:  # ssl.SSLError is an OSError: e.g. the client refused the certificate
                record['error'] = str(e)
                self._record(record)
                return None
            record['ok'] = True
            self._record(record)
            conn.settimeout(None)
            return super().finish_request(conn, client_address)
        finally:
            self.shutdown_request(conn)  # the plain socket was detached into conn

    def _record(self, record):
        with self.emulator.lock:
            self.emulator.handshakes.append(record)
            self.emulator.handshaking -= 1
            self.emulator.tls_idle.notify_all()


class EmulatorServer:
    """The emulator on a real HTTP server on 127.0.0.1, in a background thread; HTTPS given a certificate and key.

    A venue's server subclasses it with its own ``handler_class`` (a ``Handler``) and ``thread_name``."""

    handler_class = Handler
    thread_name = 'eapi-emulator'

    def __init__(self, emulator, host='127.0.0.1', port=0, verbose=False, certfile=None, keyfile=None):
        handler = type('BoundHandler', (self.handler_class,), {'emulator': emulator})
        self.emulator = emulator
        self.httpd = _HTTPServer((host, port), handler)
        self.httpd.verbose = verbose
        self.httpd.emulator = emulator
        self.scheme = 'http'
        if certfile:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile, keyfile)
            self.httpd.tls_context = context
            self.scheme = 'https'
        self.thread = None

    @property
    def url(self):
        host, port = self.httpd.server_address[:2]
        return '%s://%s:%d' % (self.scheme, host, port)

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=self.thread_name, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def load_accounts(path):
    """Read an accounts file (JSON); ``public_key_file`` paths are relative to the file."""
    with open(path) as f:
        data = json.load(f)
    accounts = []
    for account in data.get('accounts', []):
        account = dict(account)
        if account.get('public_key_file'):
            with open(os.path.join(os.path.dirname(os.path.abspath(path)), account.pop('public_key_file'))) as f:
                account['public_key'] = f.read()
        accounts.append(account)
    return accounts, data.get('underlyings', list(DEFAULT_UNDERLYINGS))


def main(argv=None):
    parser = argparse.ArgumentParser(description='Local emulator of the Binance options MMP API.')
    parser.add_argument('--port', type=int, default=8765, help='port on 127.0.0.1 (0: any free port)')
    parser.add_argument('--accounts', required=True, help='accounts file (JSON)')
    parser.add_argument('--weight-limit', type=int, default=2400, help='request weight per IP and minute')
    parser.add_argument('--ban-after', type=int, default=3, help='429s in a row before a 418 ban')
    parser.add_argument('--ban-seconds', type=int, default=120)
    parser.add_argument('--limit-format', choices=['plain', 'padded'], default='padded',
                        help='how limits are returned: "2.3" or "2.30000000"')
    parser.add_argument('--clock-offset-ms', type=int, default=0, help='the exchange clock minus the real one')
    parser.add_argument('--certfile', help='serve HTTPS with this certificate (PEM, the chain after it if any)')
    parser.add_argument('--keyfile', help='the private key of --certfile (PEM; default: in --certfile)')
    parser.add_argument('--countdown-get-shape', choices=['object', 'list'], default='object',
                        help='the shape of the kill-switch GET answer')
    parser.add_argument('--port-file', help='write the URL here once listening (for scripts)')
    parser.add_argument('-v', '--verbose', action='store_true', help='log every request')
    args = parser.parse_args(argv)
    if args.keyfile and not args.certfile:
        parser.error('--keyfile goes with --certfile')
    accounts, underlyings = load_accounts(args.accounts)
    emulator = Emulator(accounts, underlyings=underlyings, weight_limit=args.weight_limit, ban_after=args.ban_after,
                        ban_seconds=args.ban_seconds, limit_format=args.limit_format,
                        clock_offset_ms=args.clock_offset_ms, countdown_get_shape=args.countdown_get_shape)
    server = EmulatorServer(emulator, port=args.port, verbose=args.verbose, certfile=args.certfile,
                            keyfile=args.keyfile)
    return serve(server, 'eapi emulator listening on %s (%d accounts)' % (server.url, len(accounts)), args.port_file)


def serve(server, banner, port_file=None):
    """Serve in the foreground until interrupted (the scripts' main); ``port_file`` receives the URL once listening."""
    print(banner, flush=True)
    if port_file:
        with open(port_file, 'w') as f:
            f.write(server.url)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
