# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Deribit's API v2 over HTTP: authentication, the MMP methods, its error codes and its rate limit.

The Deribit part of the collection's client; the transport, pacing, retries and recoveries are the core's
(``transport.py``, ``pacing.py``):

- every private request is signed on its own (``Authorization: deri-hmac-sha256 id=...,ts=...,sig=...,nonce=...``,
  HMAC-SHA256 of the timestamp, a nonce and the request with the client secret): the secret never leaves the host
  and there is no access token to keep, print, expire or renew;
- a method is a path (``/api/v2/private/set_mmp_config``) with its parameters in the query string, as Deribit
  documents it for HTTP and as its clients send it; a write through GET is still a write (``is_write``): its
  unknown outcome is read back, never sent again blindly;
- Deribit counts requests per account (per sub-account), so pacing counts per ``client_id``
  (``pacing_scope``): the workers of one controller share it through the ledger; ``too_many_requests``
  (code 10028, or HTTP 429) is waited out a bounded number of times on a new connection (Deribit ends the session),
  then recorded as a stop for that account, as long as its ``Retry-After`` says (``DEFAULT_STOP_429`` without one);
  an HTTP 418 is not the account's: it is recorded for the whole URL (every account on it), as long as its
  ``Retry-After`` says (``DEFAULT_BAN`` without one);
- the answers are JSON-RPC: ``result``, or ``error`` with ``code`` and ``message``; the documented codes map to
  clear messages (``HINTS``); wrong credentials are never retried.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os

from urllib.parse import urlencode

from ansible_collections.marketops.mmp.plugins.module_utils.errors import APIError, ResponseError, register_api_path
from ansible_collections.marketops.mmp.plugins.module_utils.pacing import DEFAULT_STOP_429, header as _header
from ansible_collections.marketops.mmp.plugins.module_utils.transport import (
    DEFAULT_TIMEOUT,
    Answer,
    HttpClient,
    _excerpt,
    _int_or_none,
    check_base_url as _check_base_url,
    check_key_text as _check_key_text,
    retry_after_seconds,
    stop_length,
)

VENUE_LABEL = 'Deribit'
DEFAULT_BASE_URL = 'https://www.deribit.com'
TESTNET_URL = 'https://test.deribit.com'
API_PREFIX = '/api/v2/'
CREDENTIALS = 'client_id and client_secret'
CLIENT_ID_MAX_LEN = 128
CLIENT_SECRET_MAX_LEN = 256
# Requests per minute and account paced under when weight_limit is not set. Deribit's limits are per sub-account,
# tiered by volume and refreshed hourly (the lowest matching-engine tiers allow a few requests per second); an MMP
# run sends one or two requests per config, so 300 a minute (5 a second) leaves room for the trading systems.
DEFAULT_RATE_LIMIT = 300
# The largest weight_limit: Deribit's highest documented matching-engine tier, 30 requests a second sustained (1800 a
# minute). A larger value is refused before any request (it was silently cut to another venue's limit).
MAX_RATE_LIMIT = 1800
# Seconds of an HTTP 418 without a Retry-After. Deribit documents no 418: one is taken as a stop of the whole URL (a
# proxy or the exchange refusing this host), never of one account.
DEFAULT_BAN = 120.0
RATE_LIMITED_CODE = 10028
# Authentication and permission failures: never retried.
AUTH_CODES = (10000, 10001, 13004, 13009, 13010, 13011, 13021, 13778)
# Of those, the ones that mean the credentials themselves are wrong (not what they may do).
CREDENTIAL_CODES = (10000, 10001, 13004, 13009, 13010)
# "Try again" answers: nothing was done (retried like a 5xx).
RETRY_CODES = (10040, 10041, 10047, 10066, 11051)
# Failures while the request was being handled: a write may or may not have happened (read back).
UNKNOWN_CODES = (11094, 13028, 13888)
METHODS_WRITING = ('private/set_mmp_config', 'private/reset_mmp')
RATE_LIMIT_HINT = ': something else uses this account\'s request credits (another system, or weight_limit above its tier)'

HINTS = {
    10000: 'the request was not authenticated: check client_id and client_secret',
    10001: 'wrong client_id or client_secret',
    13004: 'wrong client_id or client_secret (or the key was removed, or this host\'s clock is more than a few '
           'seconds off: the signature\'s timestamp is valid for 60 s)',
    13009: 'the request was not authorized: check client_id and client_secret, and this host\'s clock',
    13010: 'the API key was revoked',
    13011: 'the API key lacks a scope: MMP needs trade:read_write (block_rfq:read_write for Block RFQ configs)',
    13021: 'the API key may not do this: check its scopes and IP whitelist',
    13778: 'the API key may not act for this (sub-)account',
    11029: 'a parameter was rejected',
    11043: 'a parameter was rejected',
    11050: 'the request was malformed',
    10009: 'a parameter was rejected',
    -32602: 'a parameter was rejected',
    -32601: 'the exchange does not know this method',
}
MMP_HINT = ('Deribit staff must activate MMP for the account (index by index) before it can be configured; an '
            'mmp_group is bound to one index')

register_api_path(API_PREFIX)  # the query string of an /api/v2/ path never reaches a message


def check_key_text(option, value, max_len=None):
    """A client id or secret's text, checked before anything is sent (``transport.check_key_text``)."""
    return _check_key_text(option, value, max_len, VENUE_LABEL)


def check_base_url(base_url):
    """A Deribit base URL, normalised (``transport.check_base_url``). Raises ConfigError."""
    return _check_base_url(base_url, DEFAULT_BASE_URL, CREDENTIALS)


def _wire(value):
    """A parameter as the query string carries it: booleans as true/false."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return value


class DeribitClient(HttpClient):
    """A small client for Deribit's MMP methods (see ``HttpClient`` for what is shared).

    ``weight_limit``: requests per minute for this account (None: DEFAULT_RATE_LIMIT; 0: pacing off; at most
    MAX_RATE_LIMIT). A 429 / 10028 given up on stops this account; a 418 every account on the URL (``url_wide_stops``).
    """

    venue_label = VENUE_LABEL
    example_url = DEFAULT_BASE_URL
    credentials = CREDENTIALS
    credential_options = 'client_id, client_secret'
    rate_limit_hint = RATE_LIMIT_HINT
    missing_library_reason = 'to talk to the Deribit API'
    default_weight_limit = DEFAULT_RATE_LIMIT
    max_weight_limit = MAX_RATE_LIMIT
    fallback_weight_limit = MAX_RATE_LIMIT      # nothing is published: weight_limit alone decides
    weight_limit_unset = '%d requests a minute' % DEFAULT_RATE_LIMIT
    url_wide_stops = (418,)
    url_stop_subject = 'every account at %(host)s'
    scope_stop_subject = 'this account (%(scope)s)'

    def __init__(self, client_id, client_secret, base_url=DEFAULT_BASE_URL, timeout=DEFAULT_TIMEOUT,
                 validate_certs=True, ca_path=None, weight_limit=None, weight_reserve=None, weight_ledger='auto',
                 session=None, sleep=None, clock=None, rand=None, user_agent=None, nonce=None, pacing_dir=None):
        self.client_id = check_key_text('client_id', client_id, CLIENT_ID_MAX_LEN)
        self._secret = check_key_text('client_secret', client_secret, CLIENT_SECRET_MAX_LEN).encode('ascii')
        self._nonce = nonce or (lambda: os.urandom(8).hex())
        self._renew_connection = False
        super().__init__(base_url, timeout=timeout, validate_certs=validate_certs, ca_path=ca_path, session=session,
                         sleep=sleep, clock=clock, rand=rand, user_agent=user_agent,
                         weight_limit=weight_limit, weight_reserve=weight_reserve, weight_ledger=weight_ledger,
                         pacing_scope='client_id:%s' % self.client_id, pacing_dir=pacing_dir,
                         scope_label='client_id %s' % self.client_id)

    def __repr__(self):
        return '<DeribitClient %s>' % self.base_url

    # -- what the core asks of a venue -----------------------------------------------------

    def is_write(self, method, path):
        return path.startswith(API_PREFIX) and path[len(API_PREFIX):] in METHODS_WRITING

    def about(self, params):
        scope = [params.get('index_name')] if params.get('index_name') else []
        if params.get('mmp_group'):
            scope.append('group %s' % params['mmp_group'])
        if params.get('block_rfq'):
            scope.append('Block RFQ')
        return ' for %s' % ' '.join(scope) if scope else ''

    def authorization(self, method, path_and_query, body=''):
        """The ``deri-hmac-sha256`` header of one request: the secret signs, never travels."""
        timestamp = str(self.server_now_ms())
        nonce = self._nonce()
        data = '%s\n%s\n%s\n' % (method.upper(), path_and_query, body)
        signature = hmac.new(self._secret, ('%s\n%s\n%s' % (timestamp, nonce, data)).encode('utf-8'),
                             hashlib.sha256).hexdigest()
        return 'deri-hmac-sha256 id=%s,ts=%s,sig=%s,nonce=%s' % (self.client_id, timestamp, signature, nonce)

    def _send_once(self, method, path, params, signed):
        """One HTTP exchange. Returns (status, headers, text)."""
        self._pace('%s %s' % (method, path))  # first: a request that waited is signed with a fresh timestamp
        if self._renew_connection:
            # Deribit ends the session of an account that ran out of credits: the next request opens a new one.
            self._renew_connection = False
            self.session.close()
        query = urlencode([(k, _wire(v)) for k, v in params.items() if v is not None])
        path_and_query = path + ('?' + query if query else '')
        headers = {'Accept': 'application/json'}
        if signed:
            headers['Authorization'] = self.authorization(method, path_and_query)
        return self._http(method, self.base_url + path_and_query, None, headers)

    def interpret(self, method, path, params, signed, status, headers, text):
        """What a Deribit answer means (``transport.Answer``): its HTTP status and its JSON-RPC ``result`` / ``error``."""
        what = '%s %s' % (method, path)
        data = None
        try:
            data = json.loads(text) if text else None
        except ValueError:
            pass
        error = data.get('error') if isinstance(data, dict) else None
        code = message = reason = None
        if isinstance(error, dict):
            code = _int_or_none(error.get('code'))
            message = error.get('message') if isinstance(error.get('message'), str) else None
            extra = error.get('data')
            if isinstance(extra, dict):
                reason = '; '.join('%s: %s' % (k, extra[k]) for k in ('reason', 'param') if isinstance(extra.get(k), (str, int)))
        elif error is not None:
            code = _int_or_none(error)  # an older shape: {"error": 10028, "message": "..."}
            message = data.get('message') if isinstance(data.get('message'), str) else None
        message = _excerpt(message, 200) if message else None
        shown = '%s%s' % (message or '(no message)', ' (%s)' % _excerpt(reason, 200) if reason else '')
        facts = dict(status=status, code=code, message=shown if (message or reason) else None)
        if status == 418:
            # every account on the URL (url_wide_stops), for as long as Retry-After says (bounded)
            return Answer(Answer.BANNED, seconds=stop_length(retry_after_seconds(headers, self._server_now()),
                                                             DEFAULT_BAN), **facts)
        if code == RATE_LIMITED_CODE or status == 429 or message == 'too_many_requests':
            self._renew_connection = True
            # waited out when Retry-After is short enough, else recorded for this account as long as it says (bounded)
            return Answer(Answer.RATE_LIMITED, retry_after=_int_or_none(_header(headers, 'Retry-After')), stop=True,
                          seconds=stop_length(retry_after_seconds(headers, self._server_now()), DEFAULT_STOP_429),
                          **facts)
        if code in AUTH_CODES:
            return Answer(Answer.ERROR, error=self._api_error(what, status, code, shown), **facts)
        if code in RETRY_CODES or code in UNKNOWN_CODES or status >= 500:
            detail = 'code %s: %s' % (code, shown) if code is not None else _excerpt(text)
            return Answer(Answer.SERVER_ERROR, unknown=code not in RETRY_CODES, detail=detail, **facts)
        if not isinstance(data, dict):
            return Answer(Answer.ERROR, error=ResponseError('%s: HTTP %s with a body that is not a JSON-RPC answer (a '
                                                            'proxy or WAF page?): %s' % (what, status, _excerpt(text)),
                                                            http_status=status), **facts)
        if error is not None or status >= 400 or 'result' not in data:
            return Answer(Answer.ERROR, error=self._api_error(what, status, code, shown), **facts)
        return Answer(Answer.OK, data=data['result'], **facts)

    @staticmethod
    def _api_error(what, status, code, shown):
        hint = HINTS.get(code)
        # Deribit documents no code for "MMP not activated" or "group bound to another index": any refusal of an MMP
        # method but wrong credentials may be one of them
        if 'mmp' in (shown or '').lower() or 'mmp' in what and code not in CREDENTIAL_CODES:
            hint = '%s; %s' % (hint, MMP_HINT) if hint else MMP_HINT
        return APIError('%s: HTTP %s, code %s: %s%s' % (what, status, code, shown, ' (%s)' % hint if hint else ''),
                        http_status=status, code=code, exchange_message=shown)

    # -- methods ---------------------------------------------------------------------------

    def call(self, method, params=None, retry=True):
        """A JSON-RPC method (``private/get_mmp_config``) with the retry rules; its ``result``."""
        return self._send_with_retries('GET', API_PREFIX + method, dict(params or {}),
                                       signed=method.startswith('private/'), retry=retry)

    def server_time(self):
        return self.call('public/get_time')

    def probe(self):
        """Exactly one request (``public/get_time``, never sent again): the watcher's first after a stop."""
        return self.call('public/get_time', retry=False)

    @staticmethod
    def _scope(index_name, mmp_group=None, block_rfq=False):
        params = {'index_name': index_name}
        if mmp_group is not None:
            params['mmp_group'] = mmp_group
        if block_rfq:
            params['block_rfq'] = True
        return params

    def _listing(self, index_name, mmp_group, block_rfq):
        """The parameters of a get / status call: a scope, or (``index_name`` None) a listing of the account, of its
        Block RFQ configs only when ``block_rfq`` (Deribit documents block_rfq's default as false, so that a listing
        without it may leave the Block RFQ configs out: see ``mmp.read_listing``)."""
        if index_name:
            return self._scope(index_name, mmp_group, block_rfq)
        return {'block_rfq': True} if block_rfq else {}

    def get_mmp_config(self, index_name=None, mmp_group=None, block_rfq=False):
        """The configs of one index (and group, Block RFQ), or a listing of the account (``index_name`` None; with
        ``block_rfq`` its Block RFQ configs)."""
        return self.call('private/get_mmp_config', self._listing(index_name, mmp_group, block_rfq))

    def get_mmp_status(self, index_name=None, mmp_group=None, block_rfq=False):
        """The triggered (frozen) configs of one index, or a listing of the account's (``index_name`` None; with
        ``block_rfq`` its Block RFQ ones)."""
        return self.call('private/get_mmp_status', self._listing(index_name, mmp_group, block_rfq))

    def set_mmp_config(self, index_name, interval, frozen_time, mmp_group=None, block_rfq=False, quantity_limit=None,
                       delta_limit=None, vega_limit=None, max_quote_quantity=None, trade_count_limit=None):
        """Limits are formatted decimal strings (or None: not sent, so unset: a set replaces the whole config)."""
        params = self._scope(index_name, mmp_group, block_rfq)
        params.update(interval=interval, frozen_time=frozen_time, quantity_limit=quantity_limit,
                      delta_limit=delta_limit, vega_limit=vega_limit, max_quote_quantity=max_quote_quantity,
                      trade_count_limit=trade_count_limit)
        return self.call('private/set_mmp_config', params)

    def reset_mmp(self, index_name, mmp_group=None, block_rfq=False):
        return self.call('private/reset_mmp', self._scope(index_name, mmp_group, block_rfq))
