# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local emulator of Deribit's MMP API (API v2, JSON-RPC over HTTP), for tests and offline rehearsals.

Start it by hand:

    python3 tests/emulator/deribit.py --port 8766 --accounts tests/emulator/deribit_accounts.example.json

(``--certfile``/``--keyfile`` serve HTTPS, as tests/emulator/server.py does; certs.py makes a throwaway CA). It follows
../shared/reference/deribit-mmp-api.md. The HTTP server, TLS, control endpoints, settings and fault queue are those of
server.py (the Binance emulator); this file holds Deribit's wire protocol, authentication and MMP rules.

Requests: ``GET /api/v2/public|private/<method>?<params>`` (booleans ``true``/``false``, numbers as text), or ``POST``
of a JSON-RPC body ``{"jsonrpc": "2.0", "id": N, "method": "private/set_mmp_config", "params": {...}}`` to
``/api/v2/<method>`` or ``/api/v2``. In a JSON body, numbers and booleans may be JSON values or text (lenient: how
strict the exchange is there is unknown). Methods: public/get_time, public/test, public/auth, private/set_mmp_config,
private/get_mmp_config, private/get_mmp_status, private/reset_mmp.

Answers: HTTP 200 ``{"jsonrpc": "2.0", "id": ..., "result": ..., "usIn", "usOut", "usDiff", "testnet": true}`` (``id``
only when the request had one); errors ``{"jsonrpc": "2.0", "error": {"code", "message", "data": {"reason", "param"}},
...}`` with HTTP 400, except a rate limit (setting ``rate_limit_status``, default 429) and a path outside ``/api/v2``
(404). Codes and messages (G: a guess, Deribit documents no code for this case):

    -32700 Parse error            the body is not JSON
    -32600 Invalid Request        a JSON-RPC body that is not an object, or whose method differs from the path's
    -32601 Method not found       an unknown method
    -32602 Invalid params         a parameter missing, of the wrong syntax, or not in its enum (data.param names it)
    11029  invalid_arguments      a value out of range (interval, frozen_time, trade_count_limit), not positive, more than
                                  4 decimal places, no limit given, index_name ``all`` without block_rfq, trade_count_limit
                                  outside block RFQ on ``all``, mmp_group without index_name (get/status), a group already
                                  linked to another index (G), a 17th group (G)
    13004  invalid_credentials    unknown client_id, wrong secret, wrong signature
    13009  unauthorized           no or malformed Authorization (reason ``authorization_required``), unknown or expired
                                  token (reason ``invalid_token``), a timestamp more than ``timestamp_window_ms`` (60 s)
                                  from the server clock (reason ``invalid_timestamp``; G: the exchange's code is undocumented)
    13021  forbidden              scope not granted (reason ``insufficient_scope``; G: the newer docs say 13011); MMP not
                                  activated for the account, on set and reset (reason ``mmp_not_enabled``; G)
    10028  too_many_requests      the account's credits are exhausted (HTTP ``rate_limit_status``); the connection closes
                                  (the exchange terminates the session)

Authentication of private methods: ``Authorization: deri-hmac-sha256 id=..,ts=..,sig=..,nonce=..`` (sig = hex
HMAC-SHA256(secret, ts LF nonce LF METHOD LF path?query LF body LF), the path exactly as sent), ``Authorization: Bearer
<access_token>`` from ``public/auth`` (grant types client_credentials, client_signature, refresh_token; a refresh
token is single-use (G): it is replaced by the new one; refresh tokens do not expire), or ``Authorization: Basic
base64(client_id:client_secret)``. Every secret, signature and token the emulator sees or issues is kept in
``secrets_seen`` (never in the journal), so tests can check none leaks.

MMP state per account and (index_name, mmp_group or None, block_rfq). Where the docs are silent or disagree:
- set answers one object (setting ``set_answer_shape: object``, the documented example) or a list of one (``list``,
  the schema). A set replaces the whole config (a limit not sent is unset) and keeps its ``id``. interval 0 removes
  the config and answers the entry with interval 0 (G); no limit is needed then.
- set un-freezes a triggered config (setting ``set_resets_mmp``, default true, from the older docs' "triggers MMP
  reset"). max_quote_quantity is optional (setting ``require_max_quote_quantity``: the spec marks it required).
- limits are answered as JSON numbers: integers when integral (``3``), else floats (``2.5``), as in the examples;
  a value's decimal places are counted after dropping trailing zeros (``2.50000`` is 2.5).
- get/status: with index_name, that index's default group or the given mmp_group, block_rfq default false. Without
  index_name the docs can be read two ways (setting ``list_filter``, CLI ``--list-filter``): ``strict`` (the default,
  as documented: block_rfq defaults to false, so a listing without it lists only the configs that are not Block RFQ,
  and one with block_rfq=true only the Block RFQ ones) or ``lenient`` (every config, filtered by block_rfq only when
  it is given). Status lists only triggered configs: frozen_until is ms, 0 until a reset (frozen_time 0). An account
  without MMP activated (``mmp_enabled: false``) reads ``[]``.
- rate limit: a credit bucket per account (per IP for public methods): ``credits_per_request`` (500) out of
  ``credit_pool`` (50000), refilled at ``refill_per_s`` (10000); a request refused spends nothing.

Control endpoints (server.py's, loopback only): ``GET|DELETE /_emulator/journal``, ``POST|DELETE /_emulator/faults``,
``POST /_emulator/settings`` (or ``config``), ``GET /_emulator/state``, ``POST /_emulator/trigger`` ({"client_id" or
"account", "index_name", "mmp_group", "block_rfq", "frozen_until_ms" (0: until a reset) or "for_s"; default: the
config's frozen_time}), ``POST /_emulator/reset``, ``GET /_emulator/tls``. Faults (one-shot, or ``count``), matched by
``method`` (``private/set_mmp_config`` or ``set_mmp_config``; absent: any) and optionally ``client_id`` or ``account``:
``status`` (HTTP ``status``, default 503, with error ``code``/``message``, default 10040 ``retry``; ``apply``: true
to apply the call first), ``drop_after_apply`` (apply, then close the connection unanswered), ``timeout_after_apply``
(apply, wait ``delay`` seconds (3), then answer), ``rate_limit`` (10028 once, not applied; ``status`` and
``rate_limit`` answer a ``Retry-After`` header given ``retry_after``), ``not_json`` (a proxy's
HTML 502 page; ``apply`` optional), ``trickle`` (apply unless ``apply`` is false, then answer with the status line
and headers at once and the body one byte every ``interval`` seconds (0.2) for ``duration`` seconds (20); ``part:
headers``: a header line trickles instead; server.py's ``Handler.trickle``), ``other_config`` (set_mmp_config only:
the exchange holds another config than the one asked, ``quantity_limit`` replaced by the fault's (default: the asked
one plus 1), and answers it; ``apply: false`` answers that other config without applying anything).

Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import sys
import time

from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

try:
    from .server import EmulatorBase, EmulatorServer, Handler, serve
except ImportError:  # run as a script: python3 tests/emulator/deribit.py
    from server import EmulatorBase, EmulatorServer, Handler, serve  # pylint: disable=import-error

SCRIPT = os.path.abspath(__file__)
INDEX_NAMES = ('btc_usd', 'eth_usd', 'btc_usdc', 'eth_usdc', 'ada_usdc', 'algo_usdc', 'avax_usdc', 'bch_usdc',
               'bnb_usdc', 'doge_usdc', 'dot_usdc', 'link_usdc', 'ltc_usdc', 'near_usdc', 'paxg_usdc', 'shib_usdc',
               'sol_usdc', 'trump_usdc', 'trx_usdc', 'uni_usdc', 'xrp_usdc', 'btc_usdt', 'eth_usdt', 'all')
LIMITS = ('quantity_limit', 'delta_limit', 'vega_limit', 'max_quote_quantity')
MAX_SECONDS = 3600
MAX_GROUP_LENGTH = 64
MAX_GROUPS = 16
DEFAULT_SCOPE = 'trade:read_write block_rfq:read_write'
SECRET_PARAMS = ('client_secret', 'signature', 'refresh_token', 'access_token')
INT_RE = re.compile(r'^-?[0-9]{1,18}$')
NUMBER_RE = re.compile(r'^-?[0-9]{1,20}(\.[0-9]{1,20})?$')
PATH_RE = re.compile(r'^/api/v2/((?:public|private)/[a-z_]+)$')
FAULT_KINDS = ('status', 'drop_after_apply', 'timeout_after_apply', 'rate_limit', 'not_json', 'trickle', 'other_config')
LIST_FILTERS = ('strict', 'lenient')
PROXY_PAGE = ('<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>'
              '<hr><center>cloudflare</center></body></html>')
AUTH_KINDS = {'deri-hmac-sha256': 'hmac-header', 'bearer': 'bearer', 'basic': 'basic'}
METHODS = ('public/get_time', 'public/test', 'public/auth', 'private/set_mmp_config', 'private/get_mmp_config',
           'private/get_mmp_status', 'private/reset_mmp')
SETTINGS = dict(set_answer_shape='object', credits_per_request=500, credit_pool=50000, refill_per_s=10000,
                rate_limit_status=429, token_lifetime_s=900, clock_offset_ms=0, timestamp_window_ms=60000,
                set_resets_mmp=True, require_max_quote_quantity=False, testnet=True, list_filter='strict')


class RpcError(Exception):
    def __init__(self, code, message, data=None, status=400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        self.status = status

    def body(self):
        out = {'code': self.code, 'message': self.message}
        if self.data is not None:
            out['data'] = self.data
        return out


def invalid_params(param, reason):
    return RpcError(-32602, 'Invalid params', {'reason': reason, 'param': param})


def invalid_arguments(param, reason):
    return RpcError(11029, 'invalid_arguments', {'reason': reason, 'param': param})


def unauthorized(reason):
    return RpcError(13009, 'unauthorized', {'reason': reason})


def invalid_credentials():
    return RpcError(13004, 'invalid_credentials')


def forbidden(reason):
    return RpcError(13021, 'forbidden', {'reason': reason})


def sign(secret, text):
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def as_text(value):
    """A parameter as the query string carries it (JSON-RPC bodies carry typed values)."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        return repr(value)
    return value if isinstance(value, str) else str(value)


def json_number(value):
    return int(value) if value == value.to_integral_value() else float(value)


class Params:
    """A request's parameters, read and checked as Deribit's schema does."""

    def __init__(self, raw):
        self.raw = {k: as_text(v) for k, v in raw.items() if v is not None}

    def has(self, name):
        return name in self.raw

    def text(self, name, required=False):
        value = self.raw.get(name)
        if value is None and required:
            raise invalid_params(name, 'missing param')
        return value

    def boolean(self, name, default=False):
        value = self.raw.get(name)
        if value is None:
            return default
        if value not in ('true', 'false'):
            raise invalid_params(name, 'must be a boolean')
        return value == 'true'

    def integer(self, name, low, high, required=False):
        value = self.text(name, required)
        if value is None:
            return None
        if not INT_RE.match(value):
            raise invalid_params(name, 'wrong format')
        number = int(value)
        if not low <= number <= high:
            raise invalid_arguments(name, 'must be between %d and %d' % (low, high))
        return number

    def limit(self, name):
        value = self.text(name)
        if value is None:
            return None
        if not NUMBER_RE.match(value):
            raise invalid_params(name, 'wrong format')
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise invalid_params(name, 'wrong format') from None
        if number <= 0:
            raise invalid_arguments(name, 'must be positive')
        if number.normalize().as_tuple().exponent < -4:
            raise invalid_arguments(name, 'at most 4 decimal places')
        return number

    def group(self):
        value = self.text('mmp_group')
        if value is not None and not 1 <= len(value) <= MAX_GROUP_LENGTH:
            raise invalid_params('mmp_group', 'length must be 1 to %d' % MAX_GROUP_LENGTH)
        return value

    def index(self, names, block_rfq, required=True):
        value = self.text('index_name', required)
        if value is None:
            return None
        if value not in names:
            raise invalid_params('index_name', 'must be one of %s' % ', '.join(names))
        if value == 'all' and not block_rfq:
            raise invalid_arguments('index_name', 'all is allowed only with block_rfq=true')
        return value

    def redacted(self):
        return {k: v for k, v in self.raw.items() if k not in SECRET_PARAMS}


def has_scope(scope, area, write):
    granted = scope.split()
    return '%s:read_write' % area in granted or (not write and '%s:read' % area in granted)


class DeribitEmulator(EmulatorBase):
    """Deribit's MMP state and rules; the HTTP layer is ``DeribitHandler``. Settings: module docstring."""

    fault_kinds = FAULT_KINDS

    def __init__(self, accounts, index_names=INDEX_NAMES, **settings):
        super().__init__()
        self.accounts = {}
        for account in accounts:
            account = dict(account)
            for key in ('name', 'client_id', 'client_secret'):
                if not account.get(key):
                    raise ValueError('every Deribit account needs name, client_id and client_secret')
            account.setdefault('mmp_enabled', True)
            account.setdefault('scope', DEFAULT_SCOPE)
            self.accounts[account['client_id']] = account
        self.index_names = tuple(index_names)
        self.settings = dict(SETTINGS)
        self.update_settings(settings)
        self.url = None
        self.reset()

    def reset(self):
        with self.lock:
            self.configs = {}        # (client_id, index_name, mmp_group or None, block_rfq) -> config
            self.next_id = 1000000001
            self.journal = []
            self.faults = []
            self.handshakes = []
            self.tokens = {}         # access token -> (client_id, expiry in server ms, scope)
            self.refresh_tokens = {}  # refresh token -> (client_id, scope)
            self.buckets = {}        # client_id or 'ip:<address>' -> [credits, server time of the last refill]
            self.secrets_seen = []   # every secret, signature and token seen or issued (never in the journal)

    def check_settings(self, data):
        if data.get('set_answer_shape', 'object') not in ('object', 'list'):
            raise ValueError('set_answer_shape: object or list')
        if data.get('list_filter', 'strict') not in LIST_FILTERS:
            raise ValueError('list_filter: %s' % ' or '.join(LIST_FILTERS))
        for name in ('credits_per_request', 'credit_pool', 'refill_per_s', 'token_lifetime_s', 'timestamp_window_ms'):
            if name in data and (not isinstance(data[name], (int, float)) or data[name] < 0):
                raise ValueError('%s: a number, 0 or more' % name)
        if 'rate_limit_status' in data and not 400 <= int(data['rate_limit_status']) <= 599:
            raise ValueError('rate_limit_status: an HTTP error status')

    # -- time and credits ------------------------------------------------------------------

    def server_time(self):
        return time.time() + int(self.settings['clock_offset_ms']) / 1000.0

    def server_ms(self):
        return int(self.server_time() * 1000)

    def charge(self, key):
        """Spend ``credits_per_request`` of ``key``'s bucket, or raise 10028 when it has not that many."""
        now = self.server_time()
        pool = float(self.settings['credit_pool'])
        bucket = self.buckets.setdefault(key, [pool, now])
        bucket[0] = min(pool, bucket[0] + max(0.0, now - bucket[1]) * float(self.settings['refill_per_s']))
        bucket[1] = now
        cost = float(self.settings['credits_per_request'])
        if bucket[0] < cost:
            raise RpcError(10028, 'too_many_requests', status=int(self.settings['rate_limit_status']))
        bucket[0] -= cost

    # -- authentication --------------------------------------------------------------------

    def seen(self, *values):
        self.secrets_seen.extend(v for v in values if v)

    def check_timestamp(self, value):
        try:
            ts = int(value)
        except (TypeError, ValueError):
            raise unauthorized('invalid_timestamp') from None
        if abs(self.server_ms() - ts) > int(self.settings['timestamp_window_ms']):
            raise unauthorized('invalid_timestamp')

    def account_of(self, client_id):
        account = self.accounts.get(client_id or '')
        if account is None:
            raise invalid_credentials()
        return account

    @staticmethod
    def header_fields(value):
        fields = {}
        for part in value.split(','):
            key, sep, val = part.strip().partition('=')
            if sep:
                fields[key] = val
        return fields

    def claimed_client_id(self, headers, params):
        """Whose request this says it is, before any check (for faults matched by client_id)."""
        scheme, dummy, value = (headers.get('Authorization') or '').strip().partition(' ')
        scheme = scheme.lower()
        if scheme == 'deri-hmac-sha256':
            return self.header_fields(value).get('id')
        if scheme == 'bearer':
            return self.tokens.get(value.strip(), (None,))[0]
        if scheme == 'basic':
            try:
                return base64.b64decode(value.strip()).decode().partition(':')[0]
            except ValueError:
                return None
        return params.text('client_id')

    def authenticate(self, call):
        """(account, auth kind, scope) of a private call, or RpcError."""
        scheme, dummy, value = (call.headers.get('Authorization') or '').strip().partition(' ')
        scheme, value = scheme.lower(), value.strip()
        if scheme == 'deri-hmac-sha256':
            fields = self.header_fields(value)
            self.seen(fields.get('sig'))
            if not all(fields.get(k) for k in ('id', 'ts', 'sig')):
                raise unauthorized('authorization_required')
            account = self.account_of(fields['id'])
            data = '%s\n%s\n%s\n%s\n%s\n' % (fields['ts'], fields.get('nonce', ''), call.http_method.upper(),
                                             call.raw_path, call.body)
            if not hmac.compare_digest(sign(account['client_secret'], data), fields['sig']):
                raise invalid_credentials()
            self.check_timestamp(fields['ts'])
            return account, 'hmac-header', account['scope']
        if scheme == 'bearer':
            self.seen(value)
            client_id, expiry, scope = self.tokens.get(value, (None, 0, ''))
            if client_id is None or expiry <= self.server_ms():
                raise unauthorized('invalid_token')
            return self.accounts[client_id], 'bearer', scope
        if scheme == 'basic':
            self.seen(value)
            try:
                client_id, sep, secret = base64.b64decode(value, validate=True).decode().partition(':')
            except ValueError:
                raise unauthorized('authorization_required') from None
            self.seen(secret)
            account = self.account_of(client_id)
            if not sep or not hmac.compare_digest(secret.encode(), account['client_secret'].encode()):
                raise invalid_credentials()
            return account, 'basic', account['scope']
        raise unauthorized('authorization_required')

    def auth(self, params):
        """public/auth: a new access token (and refresh token)."""
        grant = params.text('grant_type', required=True)
        self.seen(*(params.raw.get(k) for k in SECRET_PARAMS))
        if grant == 'client_credentials':
            account = self.account_of(params.text('client_id', required=True))
            secret = params.text('client_secret', required=True)
            if not hmac.compare_digest(secret.encode(), account['client_secret'].encode()):
                raise invalid_credentials()
            scope = account['scope']
        elif grant == 'client_signature':
            account = self.account_of(params.text('client_id', required=True))
            timestamp = params.text('timestamp', required=True)
            signature = params.text('signature', required=True)
            data = '%s\n%s\n%s' % (timestamp, params.text('nonce') or '', params.text('data') or '')
            expected = sign(account['client_secret'], data)
            if not hmac.compare_digest(expected, signature):
                raise invalid_credentials()
            self.check_timestamp(timestamp)
            scope = account['scope']
        elif grant == 'refresh_token':
            token = params.text('refresh_token', required=True)
            if token not in self.refresh_tokens:
                raise unauthorized('invalid_token')
            client_id, scope = self.refresh_tokens.pop(token)
            account = self.accounts[client_id]
        else:
            raise invalid_params('grant_type', 'must be one of client_credentials, client_signature, refresh_token')
        lifetime = int(self.settings['token_lifetime_s'])
        access = '%d.%s' % (self.server_ms(), secrets.token_urlsafe(32))
        refresh = '%d.%s' % (self.server_ms(), secrets.token_urlsafe(32))
        self.tokens[access] = (account['client_id'], self.server_ms() + lifetime * 1000, scope)
        self.refresh_tokens[refresh] = (account['client_id'], scope)
        self.seen(access, refresh)
        return account, {'access_token': access, 'refresh_token': refresh, 'expires_in': lifetime,
                         'scope': 'connection ' + scope, 'token_type': 'bearer', 'enabled_features': []}

    # -- the calls -------------------------------------------------------------------------

    def call(self, call, entry):
        """Run one JSON-RPC call; returns its result or raises RpcError. Fills the journal entry's account and auth."""
        with self.lock:
            if call.rpc not in METHODS:
                raise RpcError(-32601, 'Method not found')
            params = call.params
            if call.rpc.startswith('private/'):
                account, entry['auth'], scope = self.authenticate(call)
                entry['account'] = account['name']
                self.charge(account['client_id'])
                return self.private(call.rpc, account, scope, params)
            self.charge('ip:' + call.ip)
            if call.rpc == 'public/auth':
                account, result = self.auth(params)
                entry['account'] = account['name']
                return result
            if call.rpc == 'public/test':
                return {'version': '1.2.26'}
            return self.server_ms()

    def private(self, rpc, account, scope, params):
        block_rfq = params.boolean('block_rfq')
        write = rpc in ('private/set_mmp_config', 'private/reset_mmp')
        if not has_scope(scope, 'block_rfq' if block_rfq else 'trade', write):
            raise forbidden('insufficient_scope')
        if write and not account['mmp_enabled']:
            raise forbidden('mmp_not_enabled')
        if rpc == 'private/set_mmp_config':
            return self.set_config(account['client_id'], params, block_rfq)
        if rpc == 'private/reset_mmp':
            index = params.index(self.index_names, block_rfq)
            config = self.configs.get((account['client_id'], index, params.group(), block_rfq))
            if config is not None:
                config['frozen'] = None
            return 'ok'
        keys = self.select(account['client_id'], params)
        if rpc == 'private/get_mmp_config':
            return [self.entry(key) for key in keys]
        return [self.status_entry(key) for key in keys if self.frozen_until(key) is not None]

    def select(self, client_id, params):
        """The config keys a get or status call means (see the module docstring: setting ``list_filter``)."""
        block_rfq = params.boolean('block_rfq') if params.has('block_rfq') else None
        if self.settings['list_filter'] == 'strict':
            block_rfq = bool(block_rfq)  # documented default: false
        index = params.index(self.index_names, block_rfq, required=False)
        group = params.group()
        if index is None:
            if group is not None:
                raise invalid_arguments('mmp_group', 'mmp_group needs index_name')
            return sorted((k for k in self.configs if k[0] == client_id and block_rfq in (None, k[3])), key=sort_key)
        key = (client_id, index, group, bool(block_rfq))
        return [key] if key in self.configs else []

    def set_config(self, client_id, params, block_rfq):
        index = params.index(self.index_names, block_rfq)
        interval = params.integer('interval', 0, MAX_SECONDS, required=True)
        frozen_time = params.integer('frozen_time', 0, MAX_SECONDS, required=True)
        group = params.group()
        limits = {name: params.limit(name) for name in LIMITS}
        trade_count = params.integer('trade_count_limit', 1, 1000)
        if trade_count is not None and not (block_rfq and index == 'all'):
            raise invalid_arguments('trade_count_limit', 'only with block_rfq=true and index_name=all')
        key = (client_id, index, group, block_rfq)
        previous = self.configs.get(key)
        if interval == 0:
            self.configs.pop(key, None)
            config = dict(id=previous['id'] if previous else 0, interval=0, frozen_time=frozen_time,
                          limits={k: v for k, v in limits.items() if v is not None}, trade_count_limit=trade_count,
                          frozen=None)
            return self.answer(self.entry(key, config))
        if all(limits[name] is None for name in LIMITS[:3]) and trade_count is None:
            raise invalid_arguments('quantity_limit', 'at least one of quantity_limit, delta_limit, vega_limit is needed')
        if limits['max_quote_quantity'] is None and self.settings['require_max_quote_quantity']:
            raise invalid_params('max_quote_quantity', 'missing param')
        if group is not None:
            groups = {k[2]: k[1] for k in self.configs if k[0] == client_id and k[2] is not None}
            if groups.get(group, index) != index:
                raise invalid_arguments('mmp_group', 'mmp_group is already linked to index_name %s' % groups[group])
            if group not in groups and len(groups) >= MAX_GROUPS:
                raise invalid_arguments('mmp_group', 'at most %d mmp groups' % MAX_GROUPS)
        if previous is None:
            config_id, self.next_id = self.next_id, self.next_id + 1
        else:
            config_id = previous['id']
        frozen = previous['frozen'] if previous and not self.settings['set_resets_mmp'] else None
        self.configs[key] = dict(id=config_id, interval=interval, frozen_time=frozen_time,
                                 limits={k: v for k, v in limits.items() if v is not None},
                                 trade_count_limit=trade_count, frozen=frozen)
        return self.answer(self.entry(key))

    def answer(self, entry):
        return [entry] if self.settings['set_answer_shape'] == 'list' else entry

    def entry(self, key, config=None):
        config = config or self.configs[key]
        out = {'index_name': key[1], 'interval': config['interval'], 'frozen_time': config['frozen_time']}
        for name in LIMITS:
            if name in config['limits']:
                out[name] = json_number(config['limits'][name])
        if config['trade_count_limit'] is not None:
            out['trade_count_limit'] = config['trade_count_limit']
        if key[2] is not None:
            out['mmp_group'] = key[2]
        out.update(id=config['id'], block_rfq=key[3])
        return out

    def frozen_until(self, key):
        """The config's frozen_until (0: until a reset), or None when it is not frozen (now)."""
        config = self.configs.get(key)
        if config is None or config['frozen'] is None:
            return None
        if config['frozen'] and config['frozen'] <= self.server_ms():
            config['frozen'] = None
            return None
        return config['frozen']

    def status_entry(self, key):
        out = {'index_name': key[1], 'frozen_until': self.frozen_until(key)}
        if key[2] is not None:
            out['mmp_group'] = key[2]
        out['block_rfq'] = key[3]
        return out

    # -- control ---------------------------------------------------------------------------

    def client_id_of(self, item):
        """The client_id an item of a control request means: ``client_id``, or ``account`` (the account's name)."""
        if item.get('client_id'):
            if item['client_id'] not in self.accounts:
                raise ValueError('unknown client_id')
            return item['client_id']
        for client_id, account in self.accounts.items():
            if account['name'] == item.get('account'):
                return client_id
        raise ValueError('unknown account %r' % item.get('account'))

    def trigger(self, item):
        """MMP triggers for a config now; frozen until ``frozen_until_ms`` (0: a reset), ``for_s`` from now, or for the
        config's frozen_time (0: until a reset). Returns its status entry."""
        with self.lock:
            key = (self.client_id_of(item), item.get('index_name'), item.get('mmp_group'), bool(item.get('block_rfq')))
            config = self.configs.get(key)
            if config is None:
                raise ValueError('no MMP config %s: it cannot trigger' % (key[1:],))
            if item.get('frozen_until_ms') is not None:
                config['frozen'] = int(item['frozen_until_ms'])
            elif item.get('for_s') is not None:
                config['frozen'] = self.server_ms() + int(float(item['for_s']) * 1000)
            else:
                config['frozen'] = self.server_ms() + config['frozen_time'] * 1000 if config['frozen_time'] else 0
            return self.status_entry(key)

    def state(self):
        with self.lock:
            out = {}
            for key in sorted(self.configs, key=sort_key):
                entry = self.entry(key)
                until = self.frozen_until(key)
                if until is not None:
                    entry['frozen_until'] = until
                out.setdefault(self.accounts[key[0]]['name'], []).append(entry)
            return {'mmp': out, 'credits': {k: int(v[0]) for k, v in self.buckets.items()},
                    'settings': dict(self.settings)}


def sort_key(key):
    return key[0], key[1], key[3], key[2] or ''


class Call:
    """One JSON-RPC call as received: enough to authenticate it again (a fault applies it before answering)."""

    def __init__(self, http_method, raw_path, body, headers, ip, rpc, params):
        self.http_method = http_method
        self.raw_path = raw_path
        self.body = body
        self.headers = headers
        self.ip = ip
        self.rpc = rpc
        self.params = params


class DeribitHandler(Handler):
    """Deribit's JSON-RPC over HTTP; replies, control endpoints and the rest come from server.py's ``Handler``."""

    server_version = 'deribit-emulator/1.0'

    def parse(self, method, path, query, body):
        """(id, rpc method, Params) of a request, or RpcError."""
        match = PATH_RE.match(path)
        if path.rstrip('/') != '/api/v2' and not match:
            raise RpcError(-32601, 'Method not found', status=404)
        rpc = match.group(1) if match else None
        if method != 'POST' or not body.strip():
            if rpc is None:
                raise RpcError(-32600, 'Invalid Request')
            return None, rpc, Params(dict(parse_qsl(query, keep_blank_values=True)))
        try:
            data = json.loads(body)
        except ValueError:
            raise RpcError(-32700, 'Parse error') from None
        if not isinstance(data, dict) or not isinstance(data.get('params', {}), dict):
            raise RpcError(-32600, 'Invalid Request')
        if rpc and data.get('method', rpc) != rpc or not (rpc or data.get('method')):
            raise RpcError(-32600, 'Invalid Request')
        return data.get('id'), rpc or data['method'], Params(data.get('params', {}))

    def envelope(self, rpc_id, us_in, result=None, error=None):
        out = {'jsonrpc': '2.0'}
        if rpc_id is not None:
            out['id'] = rpc_id
        if error is not None:
            out['error'] = error.body()
        else:
            out['result'] = result
        us_out = int(time.time() * 1e6)
        out.update(usIn=us_in, usOut=us_out, usDiff=us_out - us_in, testnet=bool(self.emulator.settings['testnet']))
        return out

    def handle_any(self, method):
        us_in = int(time.time() * 1e6)
        path, dummy, query = self.path.partition('?')
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length).decode('utf-8', 'replace') if length else ''
        if path.startswith('/_emulator/'):
            return self.control(method, path, body)
        emu = self.emulator
        entry = dict(time=time.time(), ip=self.client_address[0], method=method, path=path, rpc=None, id=None,
                     account=None, params={}, auth='none')
        scheme = (self.headers.get('Authorization') or '').strip().partition(' ')[0].lower()
        entry['auth'] = AUTH_KINDS.get(scheme, 'none' if not scheme else 'other')
        with emu.lock:
            emu.journal.append(entry)
        rpc_id = None
        try:
            rpc_id, rpc, params = self.parse(method, path, query, body)
            entry.update(rpc=rpc, id=rpc_id, params=params.redacted())
            call = Call(method, self.path, body, self.headers, self.client_address[0], rpc, params)
            with emu.lock:
                claimed = emu.claimed_client_id(self.headers, params)
                entry['claimed_client_id'] = claimed  # whose it says it is (a fault answers before authenticating)
                fault = emu.take_matching_fault(lambda f: self.fault_matches(f, rpc, claimed))
            if fault:
                entry['fault'] = fault['kind']
                return self.inject(fault, call, entry, us_in)
            status, out = 200, self.envelope(rpc_id, us_in, result=emu.call(call, entry))
        except RpcError as e:
            status, out = e.status, self.envelope(rpc_id, us_in, error=e)
        self.answer(status, out, entry)
        return None

    def answer(self, status, out, entry, headers=None):
        entry['status'] = status
        if 'error' in out:
            entry['code'] = out['error']['code']
        headers = dict(headers or {})
        if out.get('error', {}).get('code') == 10028:  # the exchange terminates the session
            self.close_connection = True
            headers['Connection'] = 'close'
        self.reply(status, out, headers or None)
        entry['replied'] = time.time()

    def fault_matches(self, fault, rpc, client_id):
        if fault.get('method') not in (None, rpc, rpc.partition('/')[2]):
            return False
        if fault.get('client_id') and fault['client_id'] != client_id:
            return False
        account = self.emulator.accounts.get(client_id or '', {})
        return not fault.get('account') or fault['account'] == account.get('name')

    def inject(self, fault, call, entry, us_in):
        emu = self.emulator
        kind = fault['kind']
        result = error = None
        if kind == 'other_config':
            return self.other_config(fault, call, entry, us_in)
        if kind in ('drop_after_apply', 'timeout_after_apply') or fault.get('apply', kind == 'trickle'):
            try:
                result = emu.call(call, entry)
            except RpcError as e:
                error = e
        if kind == 'drop_after_apply':
            entry['status'] = 0
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return None
        if kind == 'timeout_after_apply':
            time.sleep(float(fault.get('delay', 3)))
            out = self.envelope(entry['id'], us_in, result=result, error=error)
            return self.answer(error.status if error else 200, out, entry)
        if kind == 'trickle':
            return self.trickle(error.status if error else 200,
                                self.envelope(entry['id'], us_in, result=result, error=error), {}, fault, entry)
        if kind == 'not_json':
            entry['status'] = 502
            self.reply(502, PROXY_PAGE)
            entry['replied'] = time.time()
            return None
        if kind == 'rate_limit':
            error = RpcError(10028, 'too_many_requests', status=int(emu.settings['rate_limit_status']))
        else:
            error = RpcError(int(fault.get('code', 10040)), fault.get('message', 'retry'), fault.get('data'),
                             status=int(fault.get('status', 503)))
        headers = {'Retry-After': str(fault['retry_after'])} if fault.get('retry_after') is not None else None
        return self.answer(error.status, self.envelope(entry['id'], us_in, error=error), entry, headers)

    def other_config(self, fault, call, entry, us_in):
        """Fault ``other_config``: the call runs with another quantity_limit than asked; the exchange keeps that other
        config (``apply``, default true) or only answers it (``apply: false``: its MMP state is left as it was)."""
        emu = self.emulator
        raw = dict(call.params.raw)
        asked = Decimal(raw['quantity_limit']) if NUMBER_RE.match(raw.get('quantity_limit') or '') else Decimal(0)
        raw['quantity_limit'] = str(fault.get('quantity_limit', asked + 1))
        other = Call(call.http_method, call.raw_path, call.body, call.headers, call.ip, call.rpc, Params(raw))
        result = error = None
        with emu.lock:
            saved = dict(emu.configs), emu.next_id
            try:
                result = emu.call(other, entry)
            except RpcError as e:
                error = e
            if not fault.get('apply', True):
                emu.configs, emu.next_id = saved
        out = self.envelope(entry['id'], us_in, result=result, error=error)
        return self.answer(error.status if error else 200, out, entry)


class DeribitServer(EmulatorServer):
    """The Deribit emulator on 127.0.0.1 in a background thread (a context manager); HTTPS given a certificate."""

    handler_class = DeribitHandler
    thread_name = 'deribit-emulator'


def load_accounts(path):
    """Read an accounts file (JSON): {"accounts": [{name, client_id, client_secret, mmp_enabled?, scope?}],
    "index_names": [...]?}."""
    with open(path) as f:
        data = json.load(f)
    return [dict(a) for a in data.get('accounts', [])], data.get('index_names', list(INDEX_NAMES))


def main(argv=None):
    parser = argparse.ArgumentParser(description='Local emulator of the Deribit MMP API (API v2 over HTTP).')
    parser.add_argument('--port', type=int, default=8766, help='port on 127.0.0.1 (0: any free port)')
    parser.add_argument('--accounts', required=True, help='accounts file (JSON)')
    parser.add_argument('--set-answer-shape', choices=['object', 'list'], default='object',
                        help='set_mmp_config answers one object (the docs example) or a list of one (the schema)')
    parser.add_argument('--list-filter', choices=LIST_FILTERS, default='strict',
                        help='get/status without index_name: strict (as documented: block_rfq defaults to false, so '
                        'only the configs of the block_rfq asked) or lenient (every config unless block_rfq is given)')
    parser.add_argument('--token-lifetime-s', type=int, default=900, help="public/auth's expires_in")
    parser.add_argument('--credit-pool', type=int, default=50000, help='rate limit: credits per account')
    parser.add_argument('--credits-per-request', type=int, default=500)
    parser.add_argument('--refill-per-s', type=int, default=10000)
    parser.add_argument('--rate-limit-status', type=int, default=429, help='the HTTP status of a 10028 answer')
    parser.add_argument('--clock-offset-ms', type=int, default=0, help='the exchange clock minus the real one')
    parser.add_argument('--certfile', help='serve HTTPS with this certificate (PEM, the chain after it if any)')
    parser.add_argument('--keyfile', help='the private key of --certfile (PEM; default: in --certfile)')
    parser.add_argument('--port-file', help='write the URL here once listening (for scripts)')
    parser.add_argument('-v', '--verbose', action='store_true', help='log every request')
    args = parser.parse_args(argv)
    if args.keyfile and not args.certfile:
        parser.error('--keyfile goes with --certfile')
    accounts, index_names = load_accounts(args.accounts)
    emulator = DeribitEmulator(accounts, index_names=index_names, set_answer_shape=args.set_answer_shape,
                               token_lifetime_s=args.token_lifetime_s, credit_pool=args.credit_pool,
                               credits_per_request=args.credits_per_request, refill_per_s=args.refill_per_s,
                               rate_limit_status=args.rate_limit_status, clock_offset_ms=args.clock_offset_ms,
                               list_filter=args.list_filter)
    server = DeribitServer(emulator, port=args.port, verbose=args.verbose, certfile=args.certfile,
                           keyfile=args.keyfile)
    emulator.url = server.url
    return serve(server, 'deribit emulator listening on %s (%d accounts)' % (server.url, len(accounts)),
                 args.port_file)


if __name__ == '__main__':
    sys.exit(main())
