# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake Deribit for the unit tests, on top of the ``responses`` library (no network): the deri-hmac-sha256
check, the MMP methods' state per scope, a journal and faults. The end-to-end tests use tests/emulator/deribit.py."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import sys
import time

from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

BASE = 'https://www.deribit.com'
CLIENT_ID = 'unit-client-id'
CLIENT_SECRET = 'unit-client-secret-5b7e0c'
_AUTH_RE = re.compile(r'^deri-hmac-sha256 id=([^,]+),ts=(\d+),sig=([0-9a-f]{64}),nonce=([^,]+)$')
FIELDS = ('interval', 'frozen_time', 'quantity_limit', 'delta_limit', 'vega_limit', 'max_quote_quantity',
          'trade_count_limit')


class FakeDeribit:
    """``faults``: (rpc method, fault) consumed in order, one per matching request; a fault is a callable returning
    (status, headers, body), an exception instance to raise, or ``('apply', callable)`` to apply the request and
    then answer what the callable returns (or raise it).

    ``list_filter``: how get_mmp_config / get_mmp_status without index_name read block_rfq, as the emulator's setting
    of that name: ``strict`` (documented: block_rfq defaults to false) or ``lenient`` (every config unless block_rfq
    is given). With index_name: that index's default group or the given mmp_group, block_rfq default false."""

    def __init__(self, rsps, secret=CLIENT_SECRET, set_shape='object', list_filter='strict'):
        self.rsps = rsps
        self.secret = secret
        self.set_shape = set_shape
        self.list_filter = list_filter
        self.configs = {}      # (index, group, block_rfq) -> wire config
        self.frozen = {}       # (index, group, block_rfq) -> frozen_until ms (0 = until reset)
        self.journal = []
        self.faults = []
        self.next_id = 1
        rsps.add_callback('GET', re.compile(re.escape(BASE) + r'/api/v2/.*'), callback=self.handle)

    def calls(self, method=None):
        return [j for j in self.journal if method is None or j['method'] == method]

    @staticmethod
    def answer(result):
        return 200, {}, json.dumps({'jsonrpc': '2.0', 'result': result, 'usIn': 1, 'usOut': 2, 'usDiff': 1,
                                    'testnet': False})

    @staticmethod
    def error(code, message, status=400, reason=None):
        body = {'jsonrpc': '2.0', 'error': {'code': code, 'message': message}}
        if reason:
            body['error']['data'] = {'reason': reason}
        return status, {}, json.dumps(body)

    def handle(self, request):
        parts = urlsplit(request.url)
        method = parts.path[len('/api/v2/'):]
        params = dict(parse_qsl(parts.query))
        self.journal.append(dict(method=method, params=params, headers=dict(request.headers)))
        for i, (name, fault) in enumerate(self.faults):
            if name == method:
                del self.faults[i]
                if isinstance(fault, tuple) and fault[0] == 'apply':
                    self.dispatch(method, params)
                    fault = fault[1]
                if isinstance(fault, Exception):
                    raise fault
                return fault()
        if method.startswith('private/'):
            match = _AUTH_RE.match(request.headers.get('Authorization', ''))
            if not match:
                return self.error(10000, 'authorization_required')
            client_id, ts, sig, nonce = match.groups()
            path_and_query = parts.path + ('?' + parts.query if parts.query else '')
            data = 'GET\n%s\n\n' % path_and_query
            expected = hmac.new(self.secret.encode(), ('%s\n%s\n%s' % (ts, nonce, data)).encode(), hashlib.sha256).hexdigest()
            if client_id != CLIENT_ID or not hmac.compare_digest(expected, sig):
                return self.error(13004, 'invalid_credentials')
            if abs(int(ts) - time.time() * 1000) > 60000:
                return self.error(13004, 'invalid_credentials', reason='timestamp')
        return self.dispatch(method, params)

    @staticmethod
    def key(params):
        return (params.get('index_name'), params.get('mmp_group'), params.get('block_rfq') == 'true')

    def entry(self, key, config):
        out = dict(index_name=key[0], block_rfq=key[2], id=abs(hash(key)) % 10 ** 9)
        if key[1] is not None:
            out['mmp_group'] = key[1]
        for field in FIELDS:
            if config.get(field) is not None:
                value = float(config[field]) if field not in ('interval', 'frozen_time', 'trade_count_limit') \
                    else int(config[field])
                out[field] = value
        return out

    def selected(self, keys, params):
        """The keys among ``keys`` that a get or status call with ``params`` lists (see ``list_filter``)."""
        block_rfq = params['block_rfq'] == 'true' if 'block_rfq' in params else None
        if 'index_name' not in params:
            if self.list_filter == 'strict':
                block_rfq = bool(block_rfq)
            return [k for k in keys if block_rfq in (None, k[2])]
        return [k for k in keys if k == (params['index_name'], params.get('mmp_group'), bool(block_rfq))]

    def dispatch(self, method, params):
        if method == 'public/get_time':
            return self.answer(int(time.time() * 1000))
        if method == 'private/get_mmp_config':
            return self.answer([self.entry(k, self.configs[k]) for k in self.selected(list(self.configs), params)])
        if method == 'private/get_mmp_status':
            now = time.time() * 1000
            out = []
            for k in self.selected(list(self.frozen), params):
                until = self.frozen[k]
                if until == 0 or until > now:
                    entry = dict(index_name=k[0], frozen_until=until, block_rfq=k[2])
                    if k[1] is not None:
                        entry['mmp_group'] = k[1]
                    out.append(entry)
            return self.answer(out)
        if method == 'private/set_mmp_config':
            key = self.key(params)
            config = {f: params[f] for f in FIELDS if f in params}
            if int(config.get('interval', 0)) == 0:
                self.configs.pop(key, None)
                return self.answer([] if self.set_shape == 'list' else self.entry(key, config))
            self.configs[key] = config
            entry = self.entry(key, config)
            return self.answer([entry] if self.set_shape == 'list' else entry)
        if method == 'private/reset_mmp':
            self.frozen.pop(self.key(params), None)
            return self.answer('ok')
        return self.error(-32601, 'Method not found')


class Clock:
    """An epoch clock that moves only when told (or when a client sleeps); the fake Deribit reads it too (``frozen``)."""

    def __init__(self):
        self.now = float(int(time.time()))

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def frozen_clock(monkeypatch):
    """A ``Clock`` that this module's fakes read as the time (for a test's ``clock`` fixture)."""
    clock = Clock()
    monkeypatch.setattr(sys.modules[__name__], 'time', SimpleNamespace(time=clock))
    return clock


class TimedJournal(list):
    """A fake Deribit's journal that stamps each request with ``clock()`` (a test's fake clock) as it is appended."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    def append(self, item):
        item['time'] = self.clock()
        super().append(item)
