# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the MMP logic: validation, decimals, compare and apply, unknown outcomes."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from ansible_collections.marketops.mmp.plugins.module_utils.errors import APIError, UnknownOutcome
from ansible_collections.marketops.mmp.plugins.module_utils.binance.mmp import (
    DECIMAL_RE,
    differences,
    ensure_mmp,
    mmp_status,
    normalize_limit,
)
from ansible_collections.marketops.mmp.plugins.module_utils.decimals import to_decimal
from ansible_collections.marketops.mmp.plugins.module_utils.errors import ApplyError, ValidationError
from ansible_collections.marketops.mmp.tests.unit.helpers import API_KEY, SECRET, run_mmp, validate_all, answer, apply_then

UNKNOWN = {'code': -1000, 'msg': 'Unknown error, please check your request or try again later.'}


def params(**overrides):
    p = dict(underlying='BTCUSDT', window_ms=3000, frozen_ms=300000, qty_limit='2', delta_limit='2.3',
             api_key=API_KEY, api_secret=SECRET, private_key=None, private_key_passphrase=None,
             base_url='https://eapi.binance.com', recv_window=5000, timeout=10.0, validate_certs=True,
             weight_limit=2400, weight_reserve=None)
    p.update(overrides)
    return p


# ---------------------------------------------------------------------------------------------
# Decimals
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    (2, '2'), (2.0, '2'), ('2', '2'), ('2.30', '2.3'), ('2.00000000', '2'), (0.00001, '0.00001'),
    (1e-05, '0.00001'), ('1E-5', '0.00001'), (2.3, '2.3'), (0.3, '0.3'),
    (99999999999999999999, '99999999999999999999'),
    ('12345678901234567890.12345678901234567890', '12345678901234567890.1234567890123456789'),
    (' 7 ', '7'), (Decimal('5.50'), '5.5'), (100, '100'), ('100.000', '100'),
])
def test_normalize_limit(value, expected):
    out = normalize_limit('qty_limit', value)
    assert out == expected
    assert DECIMAL_RE.match(out)
    assert 'e' not in out.lower()


def test_float_artefacts_are_not_sent():
    assert normalize_limit('qty_limit', 0.1 * 3) == '0.30000000000000004'  # what the float really is
    assert normalize_limit('qty_limit', 0.3) == '0.3'                     # what YAML's 0.3 becomes


@pytest.mark.parametrize('value', [
    0, '0', 0.0, '0.000', -1, '-2.3', 'abc', '', '2,3', 'NaN', 'nan', 'Infinity', float('inf'), float('nan'),
    True, False, None, [2], {'a': 1},
    '123456789012345678901',          # 21 digits before the point
    '0.000000000000000000001',        # 21 digits after the point
    1e-21, 1e20,
])
def test_normalize_limit_rejects(value):
    with pytest.raises(ValidationError) as e:
        normalize_limit('delta_limit', value)
    msg = str(e.value)
    assert msg.startswith('delta_limit: got ') and '> 0' in msg and '20 digits' in msg


@pytest.mark.parametrize('a, b, equal', [
    ('2', '2.00000000', True), ('2.3', '2.30', True), ('2', 2.0, True), ('0.00001', '1E-5', True),
    ('2.3', '2.31', False), ('2', '20', False),
])
def test_limits_compare_as_decimals(a, b, equal):
    current = dict(window_ms=1, frozen_ms=1, qty_limit=a, delta_limit='1')
    desired = dict(window_ms=1, frozen_ms=1, qty_limit=b, delta_limit='1.0')
    assert (differences(current, desired) == []) is equal


def test_to_decimal_is_exact():
    assert to_decimal(2.3) == Decimal('2.3')
    assert to_decimal(True) is None
    assert to_decimal('1e400') == Decimal('1e400')
    assert to_decimal('inf') is None


# ---------------------------------------------------------------------------------------------
# Validation: every rule names the option, the value and what is allowed
# ---------------------------------------------------------------------------------------------

def test_valid_input_is_normalised():
    desired, warnings = validate_all(params(underlying=' ethusdt ', qty_limit=0.5, delta_limit='1.250'))
    assert desired == dict(underlying='ETHUSDT', window_ms=3000, frozen_ms=300000, qty_limit='0.5',
                           delta_limit='1.25')
    assert warnings == []


def test_frozen_zero_is_allowed_with_a_warning():
    desired, warnings = validate_all(params(frozen_ms=0))
    assert desired['frozen_ms'] == 0
    assert len(warnings) == 1 and 'manual reset' in warnings[0] and 'BTCUSDT' in warnings[0]


@pytest.mark.parametrize('overrides, option, allowed', [
    (dict(underlying='BTC-USDT'), 'underlying', 'letters and digits'),
    (dict(underlying='BTC USDT'), 'underlying', 'letters and digits'),
    (dict(underlying=''), 'underlying', 'letters and digits'),
    (dict(underlying='B' * 33), 'underlying', 'letters and digits'),
    (dict(underlying=None), 'underlying', 'letters and digits'),
    (dict(window_ms=0), 'window_ms', '(0, 5000]'),
    (dict(window_ms=5001), 'window_ms', '(0, 5000]'),
    (dict(window_ms=-1), 'window_ms', '(0, 5000]'),
    (dict(window_ms=True), 'window_ms', '(0, 5000]'),
    (dict(frozen_ms=-1), 'frozen_ms', '>= 0'),
    (dict(frozen_ms=2 ** 63), 'frozen_ms', '>= 0'),
    (dict(qty_limit=0), 'qty_limit', '> 0'),
    (dict(delta_limit='-1'), 'delta_limit', '> 0'),
    (dict(recv_window=0), 'recv_window', '(0, 60000)'),
    (dict(recv_window=60000), 'recv_window', '(0, 60000)'),
    (dict(timeout=0), 'timeout', '(0, 300]'),
    (dict(timeout=301.0), 'timeout', '(0, 300]'),
    (dict(base_url='http://eapi.binance.com'), 'base_url', 'https'),
    (dict(base_url='not a url'), 'base_url', 'http(s) URL'),
    (dict(api_secret=None), 'api_secret', 'exactly one'),
    (dict(weight_limit=-1), 'weight_limit', 'an integer in [0, 10000000]'),
    (dict(weight_limit=10 ** 7 + 1), 'weight_limit', 'an integer in [0, 10000000]'),
    (dict(weight_limit=60, weight_reserve=60), 'weight_reserve', '[0, weight_limit)'),
    (dict(weight_reserve=-1), 'weight_reserve', '[0, weight_limit)'),
    (dict(private_key='-----BEGIN PRIVATE KEY-----'), 'api_secret', 'both set'),
])
def test_validation_errors(overrides, option, allowed):
    with pytest.raises(ValidationError) as e:
        validate_all(params(**overrides))
    assert e.value.option == option
    assert str(e.value).startswith(option)
    assert allowed in str(e.value)
    assert SECRET not in str(e.value)


@pytest.mark.parametrize('overrides', [
    dict(window_ms=0), dict(qty_limit='abc'), dict(underlying='BTC/USDT'), dict(base_url='http://example.com'),
    dict(api_secret=None),
])
def test_bad_input_sends_no_request(exchange, overrides):
    result, error = run_mmp(params(**overrides))
    assert error and error['msg'] and exchange.journal == []
    assert result['changed'] is False


# ---------------------------------------------------------------------------------------------
# Compare and apply, through the real client against the fake exchange
# ---------------------------------------------------------------------------------------------

def test_in_sync_is_one_request_and_no_write(exchange):
    exchange.limit_format = '{}000000'  # the exchange pads: "2.3000000"
    exchange.configure('BTCUSDT', 3000, 300000, '2.', '2.3')
    result, error = run_mmp(params(qty_limit=2.0, delta_limit='2.30'))
    assert error is None
    assert result['changed'] is False
    assert len(exchange.journal) == 1 and exchange.writes == []
    assert result['config'] == dict(underlying='BTCUSDT', window_ms=3000, frozen_ms=300000, qty_limit='2',
                                    delta_limit='2.3', last_trigger_time=0)
    assert result['diff']['before'] == result['diff']['after']
    assert result['used_weight'] == 1


def test_drift_is_two_requests_and_changed(exchange):
    exchange.configure('BTCUSDT', 3000, 300000, '2', '2.3', last_trigger_time=1700000000000)
    result, error = run_mmp(params(window_ms=1500, delta_limit='2.5'))
    assert error is None and result['changed'] is True
    assert len(exchange.journal) == 2 and len(exchange.writes) == 1
    assert result['diff']['before']['window_ms'] == 3000
    assert result['diff']['after']['window_ms'] == 1500
    assert result['diff']['after']['delta_limit'] == '2.5'
    assert result['config'] == result['diff']['after']
    assert result['config']['last_trigger_time'] == 1700000000000


def test_never_configured_underlying_is_written(exchange):
    result, error = run_mmp(params())
    assert error is None and result['changed'] is True
    assert result['diff']['before']['qty_limit'] == '0'
    assert exchange.state['BTCUSDT']['qtyLimit'] == '2'


def test_check_mode_predicts_and_never_writes(exchange):
    exchange.configure('BTCUSDT', 3000, 300000, '2', '2.3')
    result, error = run_mmp(params(qty_limit='4'), check_mode=True)
    assert error is None and result['changed'] is True
    assert exchange.writes == [] and len(exchange.journal) == 1
    assert result['diff']['before']['qty_limit'] == '2' and result['diff']['after']['qty_limit'] == '4'
    assert result['config']['qty_limit'] == '2'  # what the exchange still holds


def test_check_mode_in_sync(exchange):
    exchange.configure('BTCUSDT', 3000, 300000, '2', '2.3')
    result, error = run_mmp(params(), check_mode=True)
    assert error is None and result['changed'] is False and exchange.writes == []


def test_exchange_answer_that_differs_fails_and_shows_both(exchange):
    def clamp(ex, request):  # the exchange silently keeps another delta limit
        apply_then(200, {})(ex, request)
        ex.state['BTCUSDT']['deltaLimit'] = '1'
        return 200, {}, ex._answer('BTCUSDT')
    exchange.add_fault('POST', '/eapi/v1/mmpSet', clamp)
    result, error = run_mmp(params())
    assert error is not None and result['changed'] is False
    assert 'did not apply' in error['msg'] and 'BTCUSDT' in error['msg'] and 'delta_limit' in error['msg']
    assert error['asked']['delta_limit'] == '2.3' and error['exchange']['delta_limit'] == '1'


def test_unknown_outcome_applied_is_read_back_as_success(exchange, sleeps):
    exchange.add_fault('POST', '/eapi/v1/mmpSet', apply_then(503, UNKNOWN))
    result, error = run_mmp(params())
    assert error is None and result['changed'] is True
    assert [j['path'] for j in exchange.journal] == ['/eapi/v1/mmp', '/eapi/v1/mmpSet', '/eapi/v1/mmp']
    assert result['config']['qty_limit'] == '2'


def test_unknown_outcome_not_applied_is_written_again(exchange, sleeps):
    exchange.add_fault('POST', '/eapi/v1/mmpSet', answer(503, UNKNOWN))
    result, error = run_mmp(params())
    assert error is None and result['changed'] is True
    assert [j['path'] for j in exchange.journal] == ['/eapi/v1/mmp', '/eapi/v1/mmpSet', '/eapi/v1/mmp',
                                                     '/eapi/v1/mmpSet']


def test_unknown_outcome_never_applied_fails_loudly(exchange, sleeps):
    exchange.add_fault('POST', '/eapi/v1/mmpSet', requests.exceptions.ReadTimeout('read timed out'), times=5)
    result, error = run_mmp(params())
    assert error is not None and result['changed'] is False
    assert 'BTCUSDT' in error['msg'] and 'did not apply' in error['msg'] and 'timed out' in error['msg']
    assert len(exchange.writes) == 3  # the first write and two more after reading back


def test_unknown_outcome_and_failed_read_back(exchange, sleeps):
    exchange.add_fault('POST', '/eapi/v1/mmpSet', answer(503, UNKNOWN))
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(200, {}))  # the first read is fine (empty config)...
    exchange.faults.pop()
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(200, {'underlying': 'BTCUSDT', 'windowTimeInMilliseconds': 1,
                                                           'frozenTimeInMilliseconds': 1, 'qtyLimit': '1',
                                                           'deltaLimit': '1', 'lastTriggerTime': 0}))
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(401, {'code': -2015, 'msg': 'Invalid API-key, IP, or '
                                                           'permissions for action.'}))
    result, error = run_mmp(params())
    assert error is not None
    assert 'may or may not' in error['msg'] and 'read' in error['msg'] and '-2015' in error['msg']


def test_api_error_names_the_underlying_and_code(exchange):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(400, {'code': -1128, 'msg': 'Invalid underlying.'}))
    result, error = run_mmp(params(underlying='FOOUSDT'))
    assert error['msg'].startswith('MMP FOOUSDT: ') and error['code'] == -1128 and error['http_status'] == 400


def test_answer_for_another_underlying_is_an_error(exchange):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(200, {'underlying': 'ETHUSDT', 'windowTimeInMilliseconds': 1,
                                                           'frozenTimeInMilliseconds': 1, 'qtyLimit': '1',
                                                           'deltaLimit': '1'}))
    result, error = run_mmp(params())
    assert 'ETHUSDT' in error['msg'] and exchange.writes == []


def test_malformed_answer_is_an_error(exchange):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(200, {'underlying': 'BTCUSDT', 'windowTimeInMilliseconds': 'x',
                                                           'qtyLimit': '1', 'deltaLimit': '1'}))
    result, error = run_mmp(params())
    assert 'windowTimeInMilliseconds' in error['msg'] and exchange.writes == []


class ScriptedClient:
    """A client double for ensure_mmp alone: answers from a script, records calls."""

    def __init__(self, script):
        self.script = list(script)
        self.calls = []
        self.used_weight = None
        self.recoveries = []

    def note_recovery(self, text):
        self.recoveries.append(text)

    def _next(self, name):
        self.calls.append(name)
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def get_mmp(self, underlying):
        return self._next('get')

    def set_mmp(self, **kwargs):
        return self._next('set')


def mmp_answer(**kw):
    base = dict(underlying='BTCUSDT', windowTimeInMilliseconds=3000, frozenTimeInMilliseconds=300000,
                qtyLimit='2', deltaLimit='2.3', lastTriggerTime=0)
    base.update(kw)
    return base


def test_ensure_mmp_with_a_scripted_client():
    desired = validate_all(params())[0]
    c = ScriptedClient([mmp_answer()])
    assert ensure_mmp(c, desired)['changed'] is False and c.calls == ['get']
    c = ScriptedClient([mmp_answer(qtyLimit='1'), mmp_answer()])
    assert ensure_mmp(c, desired)['changed'] is True and c.calls == ['get', 'set']
    c = ScriptedClient([mmp_answer(qtyLimit='1'), UnknownOutcome('timeout'), mmp_answer()])
    assert ensure_mmp(c, desired)['changed'] is True and c.calls == ['get', 'set', 'get']
    assert c.recoveries == ['timeout; read back: the exchange holds the requested config']
    c = ScriptedClient([mmp_answer(qtyLimit='1'), UnknownOutcome('timeout'), mmp_answer(qtyLimit='1'),
                        mmp_answer()])
    assert ensure_mmp(c, desired)['changed'] is True and c.calls == ['get', 'set', 'get', 'set']
    assert c.recoveries == ['timeout; read back: not applied, sent again']
    c = ScriptedClient([mmp_answer(qtyLimit='1'), APIError('no', code=-2015)])
    with pytest.raises(APIError):
        ensure_mmp(c, desired)
    c = ScriptedClient([mmp_answer(qtyLimit='1'), mmp_answer(qtyLimit='1')])
    with pytest.raises(ApplyError):
        ensure_mmp(c, desired)


@pytest.mark.parametrize('config,now,expected', [
    (dict(window_ms=0, frozen_ms=0, last_trigger_time=0), 10, (False, False, False, None)),
    (dict(window_ms=3000, frozen_ms=300000, last_trigger_time=0), 10, (True, False, False, None)),
    (dict(window_ms=3000, frozen_ms=1000, last_trigger_time=5000), 5999, (True, True, True, 6000)),
    (dict(window_ms=3000, frozen_ms=1000, last_trigger_time=5000), 6000, (True, True, False, None)),
    (dict(window_ms=3000, frozen_ms=0, last_trigger_time=5000), 10 ** 13, (True, True, True, None)),
])
def test_mmp_status(config, now, expected):
    status = mmp_status(config, now)
    assert (status['configured'], status['triggered'], status['frozen'], status['frozen_until']) == expected
