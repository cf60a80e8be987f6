# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake exchange for the unit tests, on top of the ``responses`` library (no network)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from urllib.parse import parse_qsl, urlsplit


BASE = 'https://eapi.binance.com'
API_KEY = 'unit-test-api-key-0001'
SECRET = 'unit-test-secret-4f1b9e0c2d7a'


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
        return 200, dict(optionContracts=[dict(underlying=u) for u in self.underlyings + self.underlyings[:1]])

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
