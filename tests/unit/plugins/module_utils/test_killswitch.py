# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the kill-switch logic: the answer's shapes, validation, compare and apply."""

from __future__ import annotations

import pytest
import requests

from ansible_collections.marketops.mmp.plugins.module_utils.errors import TaskError, ValidationError
from ansible_collections.marketops.mmp.plugins.module_utils.runner import run_core
from ansible_collections.marketops.mmp.plugins.module_utils.binance.killswitch import (
    countdown_from_api,
    KILL_SWITCH,
    validate_countdown,
)
from ansible_collections.marketops.mmp.tests.unit.helpers import API_KEY, SECRET, answer

UNKNOWN = {'code': -1000, 'msg': 'Unknown error, please check your request or try again later.'}


def params(**overrides):
    p = dict(underlying='ETHUSDT', countdown_ms=30000, api_key=API_KEY, api_secret=SECRET, private_key=None,
             private_key_passphrase=None, base_url='https://eapi.binance.com', recv_window=5000, timeout=10.0,
             validate_certs=True, weight_limit=2400, weight_reserve=None, account=None)
    p.update(overrides)
    return p


@pytest.mark.parametrize('data, expected', [
    ({'underlying': 'ETHUSDT', 'countdownTime': 30000}, 30000),              # the SDK's object
    ([{'underlying': 'ETHUSDT', 'countdownTime': 30000}], 30000),            # the docs' list
    ([{'underlying': 'BTCUSDT', 'countdownTime': 9000}, {'underlying': 'ETHUSDT', 'countdownTime': '12000'}], 12000),
    ({'underlying': 'ETHUSDT', 'countdownTime': 0}, 0),
    ({'underlying': 'BTCUSDT', 'countdownTime': 9000}, 0),                   # another underlying: ours is absent
    ([{'underlying': 'BTCUSDT', 'countdownTime': 9000}], 0),
    ({}, 0), ([], 0), (None, 0),
    ({'countdownTime': 0}, 0),                                               # empty entry
    ({'underlying': 'ethusdt', 'countdownTime': 5000}, 5000),
    ({'underlying': 'ETHUSDT'}, 0),                                          # no countdown: off
])
def test_both_answer_shapes(data, expected):
    assert countdown_from_api(data, 'ETHUSDT') == {'underlying': 'ETHUSDT', 'countdown_ms': expected}


@pytest.mark.parametrize('data', [
    'off', 7, True,
    {'underlying': 'ETHUSDT', 'countdownTime': 'soon'},
    {'underlying': 'ETHUSDT', 'countdownTime': -1},
    {'underlying': 'ETHUSDT', 'countdownTime': True},
    {'underlying': 'ETHUSDT', 'countdownTime': 1.5},
    {'countdownTime': 30000},                                                # a countdown, but for what?
    {'underlying': 'ETH/USDT', 'countdownTime': 5000},
    {'underlying': 42, 'countdownTime': 5000},
    ['ETHUSDT'],
    [{'underlying': 'ETHUSDT', 'countdownTime': 5000}, {'underlying': 'ETHUSDT', 'countdownTime': 6000}],
])
def test_answers_are_checked_like_input(data):
    with pytest.raises(TaskError) as e:
        countdown_from_api(data, 'ETHUSDT')
    assert 'ETHUSDT' in e.value.message


@pytest.mark.parametrize('value', [0, 5000, 30000, 2 ** 63 - 1])
def test_countdown_range(value):
    assert validate_countdown(value) == value


@pytest.mark.parametrize('value', [1, 4999, -1, 2 ** 63, True, '30000', None, 5000.0])
def test_countdown_out_of_range_names_option_and_range(value):
    with pytest.raises(ValidationError) as e:
        validate_countdown(value)
    assert e.value.option == 'countdown_ms'
    assert str(e.value).startswith('countdown_ms: ') and '0 (off)' in str(e.value) and '5000' in str(e.value)


@pytest.mark.parametrize('shape', ['object', 'list'])
def test_in_sync_is_one_request(exchange, shape):
    exchange.countdown_shape = shape
    exchange.countdowns['ETHUSDT'] = 30000
    result, error = run_core(KILL_SWITCH, params())
    assert error is None and result['changed'] is False and result['warnings'] == []
    assert result['config'] == {'underlying': 'ETHUSDT', 'countdown_ms': 30000}
    assert len(exchange.journal) == 1 and exchange.posts == []


@pytest.mark.parametrize('shape', ['object', 'list'])
def test_off_is_in_sync_when_absent(exchange, shape):
    exchange.countdown_shape = shape
    exchange.countdowns['BTCUSDT'] = 9000
    result, error = run_core(KILL_SWITCH, params(countdown_ms=0))
    assert error is None and result['changed'] is False and exchange.posts == []


@pytest.mark.parametrize('shape', ['object', 'list'])
def test_drift_writes_once_and_warns_when_arming(exchange, shape):
    exchange.countdown_shape = shape
    result, error = run_core(KILL_SWITCH, params(account='acct-x'))
    assert error is None and result['changed'] is True
    assert len(exchange.posts) == 1 and exchange.countdowns == {'ETHUSDT': 30000}
    assert 'countdownTime=30000' in exchange.posts[0]['body']
    assert result['diff'] == {'before': {'underlying': 'ETHUSDT', 'countdown_ms': 0},
                              'after': {'underlying': 'ETHUSDT', 'countdown_ms': 30000}}
    assert len(result['warnings']) == 1
    assert result['warnings'][0].startswith('account acct-x: kill-switch of ETHUSDT set to 30000 ms')
    assert 'never sends heartbeats' in result['warnings'][0]
    again, error = run_core(KILL_SWITCH, params())
    assert again['changed'] is False and len(exchange.posts) == 1


def test_turning_off_does_not_warn(exchange):
    exchange.countdowns['ETHUSDT'] = 30000
    result, error = run_core(KILL_SWITCH, params(countdown_ms=0))
    assert error is None and result['changed'] is True and result['warnings'] == []
    assert exchange.countdowns['ETHUSDT'] == 0


def test_check_mode_writes_nothing(exchange):
    result, error = run_core(KILL_SWITCH, params(), check_mode=True)
    assert error is None and result['changed'] is True and exchange.posts == []
    assert result['config']['countdown_ms'] == 0 and result['diff']['after']['countdown_ms'] == 30000


def test_answer_differing_from_the_request_fails_with_both_sides(exchange):
    exchange.add_fault('POST', '/eapi/v1/countdownCancelAll',
                       answer(200, {'underlying': 'ETHUSDT', 'countdownTime': 60000}))
    result, error = run_core(KILL_SWITCH, params(account='acct-x'))
    assert error['msg'].startswith('account acct-x: the exchange did not apply the requested kill-switch for ETHUSDT')
    assert error['asked']['countdown_ms'] == 30000 and error['exchange']['countdown_ms'] == 60000
    assert error['underlying'] == 'ETHUSDT'


def test_unknown_outcome_is_read_back(exchange):
    def applied_then_unknown(exch, request):
        exch._set_countdown('', request.body, request)
        return 503, {}, UNKNOWN
    exchange.add_fault('POST', '/eapi/v1/countdownCancelAll', applied_then_unknown)
    result, error = run_core(KILL_SWITCH, params())
    assert error is None and result['changed'] is True and result['config']['countdown_ms'] == 30000
    assert len(exchange.posts) == 1  # read back: applied, not sent again
    recovered = [w for w in result['warnings'] if 'read back' in w]
    assert len(recovered) == 1 and recovered[0].startswith('POST /eapi/v1/countdownCancelAll for ETHUSDT: HTTP 503 ')
    assert recovered[0].endswith('; the exchange may or may not have applied it; read back: the exchange holds the '
                                 'requested countdown')


def test_unknown_outcome_not_applied_is_sent_again(exchange):
    exchange.add_fault('POST', '/eapi/v1/countdownCancelAll', requests.exceptions.ReadTimeout('read timed out'))
    result, error = run_core(KILL_SWITCH, params())
    assert error is None and result['changed'] is True
    assert len(exchange.posts) == 2 and exchange.countdowns == {'ETHUSDT': 30000}
    assert [w for w in result['warnings'] if 'read back' in w] == [
        'POST /eapi/v1/countdownCancelAll for ETHUSDT timed out after 10.0s; the exchange may or may not have applied '
        'it; read back: not applied, sent again']


def test_api_error_names_account_and_underlying(exchange):
    exchange.add_fault('GET', '/eapi/v1/countdownCancelAll', answer(400, {'code': -1128, 'msg': 'Invalid underlying.'}))
    result, error = run_core(KILL_SWITCH, params(account='acct-x'))
    assert error['msg'].startswith('account acct-x: kill-switch ETHUSDT: GET /eapi/v1/countdownCancelAll')
    assert error['code'] == -1128 and error['http_status'] == 400 and exchange.posts == []


@pytest.mark.parametrize('overrides, option', [
    (dict(countdown_ms=1000), 'countdown_ms'), (dict(countdown_ms=-5), 'countdown_ms'),
    (dict(underlying='ETH-USDT'), 'underlying'), (dict(underlying=''), 'underlying'),
    (dict(account='x' * 201), 'account'),
])
def test_bad_input_sends_no_request(exchange, overrides, option):
    result, error = run_core(KILL_SWITCH, params(**overrides))
    assert error['option'] == option and exchange.journal == [] and result['changed'] is False
