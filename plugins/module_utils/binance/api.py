# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Binance's options REST API (eapi): signing, endpoints, its error codes, its headers and its rate limit.

The Binance part of the collection's client; the transport, pacing, retries and recoveries are the core's
(``transport.py``, ``pacing.py``):

- signs requests with an HMAC secret, or with an Ed25519 or RSA private key (through ``cryptography``,
  imported only when such a key is used); the API key travels in ``X-MBX-APIKEY``;
- keeps an offset to the exchange's clock and, on ``-1021``, reads ``/eapi/v1/time`` and retries once;
- paces under the weight limit Binance publishes (``exchangeInfo``'s ``rateLimits``, read by one worker at
  most once an hour per controller), lowered by ``weight_limit`` when that is set, per IP, corrected by
  ``X-MBX-USED-WEIGHT-1M``;
- reads what its answers mean: 418 is a ban (``Retry-After``, else the "banned until" of its message, else
  ``DEFAULT_BAN``), 429 and ``-1008`` a rate limit, a 503 "Unknown error" an unknown outcome, the other codes
  errors with a hint (``HINTS``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re

from urllib.parse import quote, urlencode

from ansible_collections.marketops.mmp.plugins.module_utils.errors import (
    APIError,
    ConfigError,
    IPBanned,
    MissingLibrary,
    MMPError,
    RateLimited,
    ResponseError,
    TLSError,
    register_api_path,
    redact,
)
from ansible_collections.marketops.mmp.plugins.module_utils.transport import (
    Answer,
    DEFAULT_TIMEOUT,
    HttpClient,
    _excerpt,
    _int_or_none,
    check_base_url as _check_base_url,
    check_key_text as _check_key_text,
    ledger_error,
    retry_after_seconds,
    stop_length,
)
from ansible_collections.marketops.mmp.plugins.module_utils.pacing import (
    DEFAULT_STOP_429,
    MAX_PUBLISHED_LIMIT,
    ExchangeStop,
    LedgerUnavailable,
    header as _header,
    parse_used,
)

VENUE_LABEL = 'Binance'
DEFAULT_BASE_URL = 'https://eapi.binance.com'
DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000
TIME_SYNC_MAX_AHEAD_MS = 500  # the exchange rejects a timestamp 1000 ms ahead of its clock: stay well under it
API_KEY_MAX_LEN = 256  # Binance issues keys of 64 characters
# Binance's documented REQUEST_WEIGHT limit for options, per IP and minute, used when exchangeInfo's rateLimits cannot
# be read. The task's weight_limit (None: unset) can only lower the published one: any value up to the largest published
# limit believed (MAX_WEIGHT_LIMIT) is a cap.
DOCUMENTED_WEIGHT_LIMIT = 2400
DEFAULT_WEIGHT_LIMIT = DOCUMENTED_WEIGHT_LIMIT
MAX_WEIGHT_LIMIT = MAX_PUBLISHED_LIMIT
EXCHANGE_INFO_PATH = '/eapi/v1/exchangeInfo'
TIME_PATH = '/eapi/v1/time'
USED_WEIGHT_HEADER = 'X-MBX-USED-WEIGHT-1M'
DEFAULT_BAN = 120.0  # seconds of a 418 that says neither Retry-After nor until when (Binance's shortest ban)
# A 503 whose message starts so means the execution status is unknown (the write may have happened).
UNKNOWN_OUTCOME_PREFIX = 'unknown error'
CREDENTIALS = 'api_key and api_secret / private_key'
RATE_LIMIT_HINT = (': something else shares this IP\'s weight, or weight_limit is above its real limit')

register_api_path('/eapi/')  # the query string of an /eapi/ path (a signature) never reaches a message


def check_key_text(option, value, max_len=None):
    """An API key or HMAC secret's text, checked before anything is sent (``transport.check_key_text``)."""
    return _check_key_text(option, value, max_len, VENUE_LABEL)


def check_base_url(base_url):
    """A Binance base URL, normalised (``transport.check_base_url``: plain http only to loopback, no userinfo, query or
    fragment, none of which a message repeats). Raises ConfigError."""
    return _check_base_url(base_url, DEFAULT_BASE_URL, CREDENTIALS)


_BANNED_UNTIL_RE = re.compile(r'banned until (\d{10,16})')


def stop_seconds(status, headers, exchange_msg, server_now):
    """How long the exchange said to stop after a 418 (or a 429 not retried), in seconds.

    ``Retry-After`` (seconds, or an HTTP date) first; for a 418, then the "banned until <ms>" of Binance's message
    (the exchange's clock, ``server_now`` its present as we know it); else DEFAULT_BAN (418) or DEFAULT_STOP_429.
    Never more than MAX_STOP (3 days, the exchange's longest ban), never less than a second.
    """
    seconds = retry_after_seconds(headers, server_now)
    if seconds is None and status == 418 and isinstance(exchange_msg, str):
        match = _BANNED_UNTIL_RE.search(exchange_msg)
        if match:
            until = int(match.group(1))
            seconds = (until / 1000.0 if until > 10 ** 11 else float(until)) - server_now
    return stop_length(seconds, DEFAULT_BAN if status == 418 else DEFAULT_STOP_429)


def published_weight_limit(data):
    """The request weight per minute that ``exchangeInfo``'s ``rateLimits`` allows, or None when it says none.

    Every REQUEST_WEIGHT entry counts, converted to what it allows in one minute at most: ``limit / n`` for a window
    of n minutes, hours or days; ``limit`` for a window of seconds (all of it may fall in one minute). The smallest
    wins; entries that are not well formed are ignored.
    """
    limits = data.get('rateLimits') if isinstance(data, dict) else None
    if not isinstance(limits, list):
        return None
    minutes = {'MINUTE': 1, 'HOUR': 60, 'DAY': 1440}
    found = []
    for entry in limits[:64]:
        if not isinstance(entry, dict) or entry.get('rateLimitType') != 'REQUEST_WEIGHT':
            continue
        limit, num, interval = entry.get('limit'), entry.get('intervalNum', 1), entry.get('interval')
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            continue
        if isinstance(num, bool) or not isinstance(num, int) or num < 1:
            continue
        if interval == 'SECOND':
            found.append(limit)
        elif interval in minutes:
            found.append(max(1, limit // (num * minutes[interval])))
    return min(found) if found else None


HINTS = {
    -1021: 'the clock of the host running this task is too far from the exchange\'s, even after one '
           'resynchronisation; check NTP, or raise recv_window',
    -1022: 'the signature was rejected: check that api_secret / private_key belongs to this api_key',
    -2014: 'the API key has the wrong format: check api_key',
    -2015: 'check the API key, its IP whitelist (the IP this request left from must be whitelisted) '
           'and that the key has the options trading permission; only accounts that Binance enabled '
           'as market makers may use MMP',
    -1100: 'a parameter has characters the exchange does not accept',
    -1102: 'a mandatory parameter was missing or malformed',
    -1111: 'a decimal has more precision than the exchange accepts',
    -1128: 'the exchange does not know this underlying: check the spelling and exchangeInfo',
    -1130: 'a parameter value was rejected',
    -1131: 'recv_window must be below 60000',
}


# --------------------------------------------------------------------------------------------
# Signing
# --------------------------------------------------------------------------------------------

class HmacSigner:
    """HMAC-SHA256, hex encoded."""

    key_type = 'hmac'

    def __init__(self, secret):
        self._secret = check_key_text('api_secret', secret).encode('ascii')

    def sign(self, payload):
        return hmac.new(self._secret, payload.encode('utf-8'), hashlib.sha256).hexdigest()

    def __repr__(self):
        return '<HmacSigner>'


class _PrivateKeySigner:
    key_type = None

    def __init__(self, key):
        self._key = key

    def __repr__(self):
        return '<%s>' % type(self).__name__


class Ed25519Signer(_PrivateKeySigner):
    """Ed25519 signature, base64 then URL-encoded."""

    key_type = 'ed25519'

    def sign(self, payload):
        return quote(base64.b64encode(self._key.sign(payload.encode('utf-8'))).decode('ascii'), safe='')


class RsaSigner(_PrivateKeySigner):
    """RSA PKCS#1 v1.5 over SHA-256, base64 then URL-encoded."""

    key_type = 'rsa'

    def sign(self, payload):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        raw = self._key.sign(payload.encode('utf-8'), padding.PKCS1v15(), hashes.SHA256())
        return quote(base64.b64encode(raw).decode('ascii'), safe='')


def read_private_key(private_key):
    """Return the PEM text of ``private_key``, which is PEM text or a path to a PEM file."""
    text = private_key.strip()
    if text.startswith('-----BEGIN'):
        return text
    if '\n' in text or len(text) > 4096:
        raise ConfigError('private_key is neither PEM text (starting with -----BEGIN) nor a path to a file')
    path = os.path.expanduser(text)
    if not os.path.isfile(path):
        raise ConfigError('private_key is neither PEM text (starting with -----BEGIN) nor a path '
                          'to a readable file on the host that runs the task')
    try:
        with open(path, 'r') as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError('private_key: the file could not be read (%s)' % type(e).__name__)


def load_private_key_signer(private_key, passphrase=None):
    """Build an Ed25519Signer or RsaSigner from PEM text or a path; the type comes from the key."""
    pem = read_private_key(private_key)
    try:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
        from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    except ImportError:
        raise MissingLibrary('cryptography', 'to sign with an Ed25519 or RSA private_key '
                             '(install it on the host that runs the task: pip install cryptography)')
    password = passphrase.encode('utf-8') if passphrase else None
    try:
        key = load_pem_private_key(pem.encode('utf-8'), password=password)
    except TypeError:
        # Raised both for "key is encrypted, no password" and "password given, key not encrypted".
        if password is None:
            raise ConfigError('private_key is encrypted: set private_key_passphrase')
        raise ConfigError('private_key_passphrase was given but private_key is not encrypted')
    except Exception as e:  # cryptography raises ValueError or UnsupportedAlgorithm
        if password is not None:
            raise ConfigError('private_key could not be loaded: wrong private_key_passphrase, '
                              'or not a PEM private key (%s)' % type(e).__name__)
        raise ConfigError('private_key could not be loaded: not a PEM private key (%s)' % type(e).__name__)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return Ed25519Signer(key)
    if isinstance(key, rsa.RSAPrivateKey):
        return RsaSigner(key)
    raise ConfigError('private_key is a %s key; Binance accepts Ed25519 and RSA keys (or an HMAC '
                      'api_secret)' % type(key).__name__.replace('_', '').replace('PrivateKey', ''))


def make_signer(api_secret=None, private_key=None, private_key_passphrase=None):
    """Exactly one of ``api_secret`` and ``private_key``."""
    if bool(api_secret) == bool(private_key):
        raise ConfigError('set exactly one of api_secret (HMAC key) and private_key (Ed25519 or RSA key)')
    if api_secret:
        if private_key_passphrase:
            raise ConfigError('private_key_passphrase goes with private_key, not with api_secret')
        return HmacSigner(api_secret)
    return load_private_key_signer(private_key, private_key_passphrase)


# --------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------

class BinanceOptionsClient(HttpClient):
    """A small client for the signed options endpoints the collection uses (see ``HttpClient`` for what is shared).

    ``weight_limit`` caps the exchange's published limit (None: no cap; 0: pacing off); ``published_limit`` False
    paces under ``weight_limit`` (or DEFAULT_WEIGHT_LIMIT) without reading it. Binance counts weight per IP, and
    bans an IP: every stop holds every account on the URL (one ledger per URL, no pacing scope).
    """

    venue_label = VENUE_LABEL
    example_url = DEFAULT_BASE_URL
    credentials = CREDENTIALS
    credential_options = 'api_key, api_secret'
    rate_limit_hint = RATE_LIMIT_HINT
    missing_library_reason = 'to talk to the Binance API'
    default_weight_limit = None                 # the limit Binance publishes
    max_weight_limit = MAX_WEIGHT_LIMIT
    fallback_weight_limit = DEFAULT_WEIGHT_LIMIT
    weight_limit_unset = 'the limit Binance publishes, %d when it cannot be read' % DEFAULT_WEIGHT_LIMIT
    url_stop_subject = 'this IP'

    def __init__(self, api_key, signer, base_url=DEFAULT_BASE_URL, recv_window=DEFAULT_RECV_WINDOW,
                 timeout=DEFAULT_TIMEOUT, validate_certs=True, weight_limit=None, weight_reserve=None,
                 weight_ledger='auto', session=None, sleep=None, clock=None, rand=None, user_agent=None, ca_path=None,
                 published_limit=True, pacing_dir=None):
        self.api_key = check_key_text('api_key', api_key, API_KEY_MAX_LEN)
        self.signer = signer
        self.recv_window = int(recv_window)
        super().__init__(base_url, timeout=timeout, validate_certs=validate_certs, ca_path=ca_path, session=session,
                         sleep=sleep, clock=clock, rand=rand, user_agent=user_agent, weight_limit=weight_limit,
                         weight_reserve=weight_reserve, weight_ledger=weight_ledger, pacing_dir=pacing_dir)
        self._limit_known = not published_limit
        # start from the offset an earlier client's /eapi/v1/time synchronisation found
        self.time_offset_ms = self.pacer.known_time_offset_ms() or 0

    # -- time ------------------------------------------------------------------------------

    def _now_ms(self):
        return int(self._clock() * 1000)

    def sync_time(self):
        """Read the exchange's clock and keep the offset to ours (shared with later clients)."""
        data = self._send_with_retries('GET', TIME_PATH, {}, signed=False)
        server = _int_or_none(data.get('serverTime')) if isinstance(data, dict) else None
        if server is None:
            raise ResponseError('GET /eapi/v1/time answered without a serverTime')
        # The exchange read its clock somewhere between our send and our receipt of the one HTTP exchange that
        # answered (not any wait before it): the offset lies in [server - received, server - sent]. The exchange
        # rejects a timestamp 1000 ms ahead of its clock but takes one up to recv_window behind, so the estimate is
        # the middle of that interval, but never more than TIME_SYNC_MAX_AHEAD_MS above its low end: a slow or
        # lopsided round trip (a starved host, a proxy) then makes timestamps a little late, never rejected as ahead.
        low = server - int(round(self._received_at * 1000))
        round_trip = max(0, int(round((self._received_at - self._sent_at) * 1000)))
        self.time_offset_ms = low + min(round_trip // 2, TIME_SYNC_MAX_AHEAD_MS)
        self.pacer.share_time_offset_ms(self.time_offset_ms)
        return self.time_offset_ms

    def resync(self, about):
        self.sync_time()
        self.note_recovery('%s: the exchange refused its timestamp (code -1021, outside recv_window); read the '
                           'exchange\'s clock (this host\'s is %.1f s %s it) and signed again. Keep this '
                           'host\'s clock in sync (NTP), or raise recv_window if requests are slow to arrive'
                           % (about, abs(self.time_offset_ms) / 1000.0,
                              'behind' if self.time_offset_ms > 0 else 'ahead of'))

    def server_offset_fallback(self):
        return self.time_offset_ms / 1000.0

    # -- what the core asks of a venue -----------------------------------------------------

    def used_weight_of(self, headers):
        return parse_used(_header(headers, USED_WEIGHT_HEADER))

    def about(self, params):
        return ' for %s' % params['underlying'] if params.get('underlying') else ''

    def _signed_params(self, params):
        items = [(k, v) for k, v in params.items() if v is not None]
        items.append(('recvWindow', self.recv_window))
        items.append(('timestamp', self._now_ms() + self.time_offset_ms))
        payload = urlencode(items)
        return payload + '&signature=' + self.signer.sign(payload)

    def _send_once(self, method, path, params, signed):
        """One HTTP exchange. Returns (status, headers, text)."""
        self._pace('%s %s' % (method, path))  # first: a request that waited is signed with a fresh timestamp
        if signed:
            encoded = self._signed_params(params)
        else:
            encoded = urlencode([(k, v) for k, v in params.items() if v is not None])
        url = self.base_url + path
        headers = {}
        if signed:
            headers['X-MBX-APIKEY'] = self.api_key
        body = None
        if method == 'GET':
            if encoded:
                url += '?' + encoded
        else:
            # POST parameters go in a form body: the signature stays out of URLs that proxies log.
            body = encoded
            headers['Content-Type'] = 'application/x-www-form-urlencoded'
        return self._http(method, url, body, headers)

    def interpret(self, method, path, params, signed, status, headers, text):
        """What a Binance answer means (``transport.Answer``): its HTTP status and its ``{"code", "msg"}``."""
        what = '%s %s' % (method, path)
        data, decoded = None, False
        try:
            data = json.loads(text) if text else None
            decoded = data is not None
        except ValueError:
            pass
        code = data.get('code') if isinstance(data, dict) else None
        exchange_msg = data.get('msg') if isinstance(data, dict) else None
        exchange_msg = redact(exchange_msg) if isinstance(exchange_msg, str) else None
        facts = dict(status=status, code=code, message=exchange_msg)
        if status == 418:
            return Answer(Answer.BANNED, seconds=stop_seconds(418, headers, exchange_msg, self._server_now()), **facts)
        if status == 429 or code == -1008:
            return Answer(Answer.RATE_LIMITED, retry_after=_int_or_none(_header(headers, 'Retry-After')),
                          stop=status == 429, seconds=stop_seconds(429, headers, exchange_msg, self._server_now()),
                          **facts)
        if code == -1021 and signed:
            return Answer(Answer.RESYNC, error=self._api_error(what, status, code, exchange_msg), **facts)
        if status >= 500:
            unknown = isinstance(exchange_msg, str) and exchange_msg.strip().lower().startswith(UNKNOWN_OUTCOME_PREFIX)
            detail = ('code %s: %s' % (code, exchange_msg)) if decoded and exchange_msg else _excerpt(text)
            return Answer(Answer.SERVER_ERROR, unknown=unknown or not decoded, detail=detail, **facts)
        if not decoded:
            return Answer(Answer.ERROR, error=ResponseError('%s: HTTP %s with a body that is not JSON (a proxy or WAF '
                                                            'page?): %s' % (what, status, _excerpt(text)),
                                                            http_status=status), **facts)
        if status >= 400 or (isinstance(code, int) and code < 0):
            return Answer(Answer.ERROR, error=self._api_error(what, status, code, exchange_msg), **facts)
        return Answer(Answer.OK, data=data, **facts)

    @staticmethod
    def _api_error(what, status, code, exchange_msg):
        hint = HINTS.get(code)
        if status == 403 and code is None:
            hint = 'HTTP 403 is a WAF rejection: check the request and the host\'s egress'
        return APIError('%s: HTTP %s, code %s: %s%s' % (what, status, code, exchange_msg or '(no message)',
                                                        ' (%s)' % hint if hint else ''),
                        http_status=status, code=code, exchange_message=exchange_msg)

    # -- requests --------------------------------------------------------------------------

    def request(self, method, path, params=None, signed=True):
        """Send a request with the retry rules of this module; return the decoded JSON.

        The first request of a client makes sure that the exchange's published limit is known (``_learn_limit``)."""
        if not self._limit_known:
            self._learn_limit('%s %s' % (method, path))
        return self._send_with_retries(method, path, dict(params or {}), signed)

    def _learn_limit(self, what):
        """Read ``exchangeInfo``'s rateLimits when no worker of this controller did within the hour (pacing.py).

        When it cannot be read, pacing uses DEFAULT_WEIGHT_LIMIT (the cap of weight_limit still applies) and the task
        warns; a stop (a ban) or a TLS / configuration error fails the task as the request itself would."""
        try:
            must_read = self.pacer.must_read_limit()
        except ExchangeStop as stop:
            raise self.stopped_error(what, stop.until, stop.at, stop.status, stop.path)
        except LedgerUnavailable as e:
            raise ledger_error(what, e)
        if must_read:
            try:
                data = self._send_with_retries('GET', EXCHANGE_INFO_PATH, {}, signed=False)
            except (IPBanned, RateLimited, TLSError, ConfigError):
                self.pacer.learn_limit(None)
                raise
            except MMPError as e:
                self.pacer.learn_limit(None)
                self.note_recovery('pacing: the limit Binance publishes (GET %s, rateLimits) could not be read (%s); '
                                   'paced at %d weight per minute, its documented limit%s'
                                   % (EXCHANGE_INFO_PATH, e.message, DEFAULT_WEIGHT_LIMIT,
                                      ', or weight_limit if lower' if self.pacer.weight_cap else ''))
            else:
                self._learn_limit_from(data)
        self._limit_known = True

    def _learn_limit_from(self, data):
        limit = published_weight_limit(data)
        self.pacer.learn_limit(limit)
        self._limit_known = True
        if limit is None:
            self.note_recovery('pacing: GET %s lists no REQUEST_WEIGHT in rateLimits; paced at %d weight per minute, '
                               'Binance\'s documented limit' % (EXCHANGE_INFO_PATH, DEFAULT_WEIGHT_LIMIT))

    # -- endpoints -------------------------------------------------------------------------

    def server_time(self):
        """The exchange's clock (unsigned, weight 1); never reads exchangeInfo first."""
        return self._send_with_retries('GET', TIME_PATH, {}, signed=False)

    def probe(self):
        """Exactly one request (GET /eapi/v1/time, unsigned, weight 1, never sent again): the watcher's first request
        after a ban. A 418 or 429 answer is recorded as a new stop."""
        return self._send_with_retries('GET', TIME_PATH, {}, signed=False, retry=False)

    def exchange_info(self):
        """The exchange's info; every answer also tells the pacer the published limit (no second read)."""
        data = self._send_with_retries('GET', EXCHANGE_INFO_PATH, {}, signed=False)
        self._learn_limit_from(data)
        return data

    def get_mmp(self, underlying):
        return self.request('GET', '/eapi/v1/mmp', {'underlying': underlying})

    def set_mmp(self, underlying, window_ms, frozen_ms, qty_limit, delta_limit):
        """``qty_limit`` and ``delta_limit`` are already formatted decimal strings."""
        return self.request('POST', '/eapi/v1/mmpSet', {
            'underlying': underlying,
            'windowTimeInMilliseconds': window_ms,
            'frozenTimeInMilliseconds': frozen_ms,
            'qtyLimit': qty_limit,
            'deltaLimit': delta_limit,
        })

    def reset_mmp(self, underlying):
        return self.request('POST', '/eapi/v1/mmpReset', {'underlying': underlying})

    def get_countdown(self, underlying=None):
        """The kill-switch (auto-cancel countdown) configs; the answer's shape is not settled (see killswitch.py)."""
        return self.request('GET', '/eapi/v1/countdownCancelAll', {'underlying': underlying})

    def set_countdown(self, underlying, countdown_ms):
        return self.request('POST', '/eapi/v1/countdownCancelAll',
                            {'underlying': underlying, 'countdownTime': countdown_ms})
