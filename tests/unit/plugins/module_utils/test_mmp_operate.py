# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for operating MMP: the info and reset cores, and messages that name the account."""

from __future__ import annotations

import os
import time

import pytest
import requests
import responses

from ansible_collections.marketops.mmp.plugins.module_utils import pacing
from ansible_collections.marketops.mmp.plugins.module_utils.errors import TaskError
from ansible_collections.marketops.mmp.plugins.module_utils.runner import run_core, task_result
from ansible_collections.marketops.mmp.plugins.module_utils.binance.mmp import (
    MMP,
    MMP_INFO,
    MMP_RESET,
    listed_underlyings,
)
from ansible_collections.marketops.mmp.plugins.module_utils.deribit.mmp import MMP_RESET as DERIBIT_RESET
from ansible_collections.marketops.mmp.tests.unit.deribit_helpers import (
    BASE as DERIBIT_BASE,
    CLIENT_ID as DERIBIT_CLIENT_ID,
    CLIENT_SECRET as DERIBIT_CLIENT_SECRET,
    FakeDeribit,
)
from ansible_collections.marketops.mmp.tests.unit.helpers import API_KEY, SECRET, answer

AUTH = dict(api_key=API_KEY, api_secret=SECRET, private_key=None, private_key_passphrase=None,
            base_url='https://eapi.binance.com', recv_window=5000, timeout=10.0, validate_certs=True,
            weight_limit=2400, weight_reserve=None, account=None)


FOR_URL = pacing.Ledger.__dict__['for_url'].__func__  # before the fixture that gives every test a private ledger


def params(**overrides):
    p = dict(AUTH)
    p.update(overrides)
    return p


def now_ms():
    return int(time.time() * 1000)


# ---------------------------------------------------------------------------------------------
# binance_mmp_info
# ---------------------------------------------------------------------------------------------

def test_info_over_a_mixed_account(exchange):
    exchange.configure('BTCUSDT', 3000, 0, '2', '2.3', last_trigger_time=now_ms() - 3600000)      # frozen, manual
    exchange.configure('ETHUSDT', 3000, 600000, '25', '30', last_trigger_time=now_ms() - 60000)   # frozen 9 more min
    exchange.configure('SOLUSDT', 1500, 60000, '400.0', '500', last_trigger_time=now_ms() - 120000)  # thawed
    exchange.configure('BNBUSDT', 1500, 60000, '4', '5')                                          # never triggered
    exchange.countdowns['ETHUSDT'] = 30000
    result, error = run_core(MMP_INFO, params(underlyings=['btcusdt', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT', 'XRPUSDT',
                                                           'BTCUSDT']))
    assert error is None and result['changed'] is False
    mmp = {m['underlying']: m for m in result['mmp']}
    assert list(mmp) == ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT', 'XRPUSDT']  # deduplicated, in order
    assert mmp['BTCUSDT']['frozen'] is True and mmp['BTCUSDT']['frozen_until'] is None
    eth = mmp['ETHUSDT']
    assert eth['frozen'] is True and eth['frozen_until'] == eth['last_trigger_time'] + 600000
    assert eth['qty_limit'] == '25' and eth['configured'] is True and eth['triggered'] is True
    assert mmp['SOLUSDT']['triggered'] is True and mmp['SOLUSDT']['frozen'] is False
    assert mmp['SOLUSDT']['frozen_until'] is None and mmp['SOLUSDT']['qty_limit'] == '400'
    assert mmp['BNBUSDT']['triggered'] is False and mmp['BNBUSDT']['configured'] is True
    assert mmp['XRPUSDT']['configured'] is False and mmp['XRPUSDT']['window_ms'] == 0
    assert result['kill_switch'] == [dict(underlying=u, countdown_ms=30000 if u == 'ETHUSDT' else 0) for u in mmp]
    # one MMP read and one kill-switch read per underlying, nothing else, no write
    assert len(exchange.journal) == 10 and exchange.posts == []


def test_info_defaults_to_the_exchange_underlyings(exchange):
    result, error = run_core(MMP_INFO, params(underlyings=None))
    assert error is None
    assert [m['underlying'] for m in result['mmp']] == ['BTCUSDT', 'ETHUSDT', 'SOLUSDT']
    assert exchange.journal[0]['path'] == '/eapi/v1/exchangeInfo' and len(exchange.journal) == 7


@pytest.mark.parametrize('data', [{}, [], {'optionContracts': 'BTCUSDT'}, {'optionContracts': [{'underlying': 3}]},
                                  {'optionContracts': [{'underlying': 'BTC/USDT'}]}, {'optionContracts': ['BTCUSDT']}])
def test_exchange_info_is_checked(data):
    with pytest.raises(TaskError) as e:
        listed_underlyings(data)
    assert 'underlyings option' in e.value.message


def test_an_odd_contract_is_skipped_and_named():
    names, skipped = listed_underlyings({'optionContracts': [{'underlying': 'BTCUSDT'}, {'underlying': 'BTC/USDT'},
                                                             {'underlying': 'ethusdt'}, {'underlying': None}, 'x']})
    assert names == ['BTCUSDT', 'ETHUSDT'] and skipped == ["'BTC/USDT'", 'None']


def test_the_info_module_warns_about_an_odd_contract(exchange):
    exchange.underlyings = ['BTCUSDT', 'BTC/USDT']
    result, error = run_core(MMP_INFO, params(underlyings=None))
    assert error is None and [m['underlying'] for m in result['mmp']] == ['BTCUSDT']
    assert any("lists option contracts whose underlying is not a name of letters and digits: 'BTC/USDT'" in w
               for w in result['warnings']), result['warnings']


def test_info_error_names_account_and_underlying(exchange):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(400, {'code': -1128, 'msg': 'Invalid underlying.'}))
    result, error = run_core(MMP_INFO, params(underlyings=['FOOUSDT'], account='acct-x'))
    assert error['msg'].startswith('account acct-x: MMP FOOUSDT: GET /eapi/v1/mmp: HTTP 400, code -1128')
    assert error['underlying'] == 'FOOUSDT' and error['code'] == -1128


@pytest.mark.parametrize('underlyings', [['BTC-USDT'], [''], ['x' * 33], [7], ['BTCUSDT'] * 201])
def test_info_bad_input_sends_nothing(exchange, underlyings):
    result, error = run_core(MMP_INFO, params(underlyings=underlyings))
    assert error['option'] == 'underlyings' and exchange.journal == []


# ---------------------------------------------------------------------------------------------
# binance_mmp_reset
# ---------------------------------------------------------------------------------------------

def reset_params(**overrides):
    return params(**dict(dict(underlying='BTCUSDT', only_if_frozen=True), **overrides))


def test_reset_when_frozen_then_ok(exchange):
    trigger = now_ms() - 1000
    exchange.configure('BTCUSDT', 3000, 0, '2', '2.3', last_trigger_time=trigger)
    result, error = run_core(MMP_RESET, reset_params())
    assert error is None and result['changed'] is True and result['was_frozen'] is True
    assert [j['path'] for j in exchange.posts] == ['/eapi/v1/mmpReset']
    assert result['config']['last_trigger_time'] == 0  # the reset's answer is the state after it
    assert result['diff']['before']['last_trigger_time'] == trigger
    again, error = run_core(MMP_RESET, reset_params())
    assert again['changed'] is False and again['was_frozen'] is False and len(exchange.posts) == 1


def test_no_reset_when_thawed_or_never_triggered(exchange):
    exchange.configure('BTCUSDT', 3000, 60000, '2', '2.3', last_trigger_time=now_ms() - 120000)
    result, error = run_core(MMP_RESET, reset_params())
    assert error is None and result['changed'] is False and result['was_frozen'] is False
    assert exchange.posts == [] and len(exchange.journal) == 1


def test_only_if_frozen_false_always_resets(exchange):
    exchange.configure('BTCUSDT', 3000, 60000, '2', '2.3')
    result, error = run_core(MMP_RESET, reset_params(only_if_frozen=False))
    assert error is None and result['changed'] is True and result['was_frozen'] is False
    assert len(exchange.posts) == 1


def test_reset_check_mode_sends_nothing(exchange):
    exchange.configure('BTCUSDT', 3000, 600000, '2', '2.3', last_trigger_time=now_ms() - 1000)
    result, error = run_core(MMP_RESET, reset_params(), check_mode=True)
    assert error is None and result['changed'] is True and result['was_frozen'] is True and exchange.posts == []
    assert result['config']['last_trigger_time'] > 0


def test_reset_unknown_outcome_is_read_back_and_bounded(exchange):
    exchange.configure('BTCUSDT', 3000, 0, '2', '2.3', last_trigger_time=now_ms() - 1000)
    for dummy in range(3):
        exchange.add_fault('POST', '/eapi/v1/mmpReset', requests.exceptions.ReadTimeout('read timed out'))
    result, error = run_core(MMP_RESET, reset_params(account='acct-x'))
    assert error['msg'].startswith('account acct-x: POST /eapi/v1/mmpReset for BTCUSDT timed out')
    assert 'still reads as frozen after 3 resets' in error['msg']
    assert len(exchange.posts) == 3
    assert result['warnings'] == ['account acct-x: POST /eapi/v1/mmpReset for BTCUSDT timed out after 10.0s; the '
                                  'exchange may or may not have applied it; read back: still frozen, sent again'] * 2


def test_reset_unknown_outcome_then_applied(exchange):
    exchange.configure('BTCUSDT', 3000, 0, '2', '2.3', last_trigger_time=now_ms() - 1000)
    exchange.add_fault('POST', '/eapi/v1/mmpReset', requests.exceptions.ReadTimeout('read timed out'))
    result, error = run_core(MMP_RESET, reset_params())
    assert error is None and result['changed'] is True and len(exchange.posts) == 2
    assert result['config']['last_trigger_time'] == 0
    assert [w.split('; ')[-1] for w in result['warnings']] == ['read back: still frozen, sent again']


@pytest.mark.parametrize('overrides, option', [(dict(underlying='BTC USDT'), 'underlying'),
                                               (dict(only_if_frozen='yes'), 'only_if_frozen'),
                                               (dict(recv_window=60000), 'recv_window')])
def test_reset_bad_input_sends_nothing(exchange, overrides, option):
    result, error = run_core(MMP_RESET, reset_params(**overrides))
    assert error['option'] == option and exchange.journal == []


# ---------------------------------------------------------------------------------------------
# Messages name the account
# ---------------------------------------------------------------------------------------------

def test_warnings_and_errors_name_the_account(exchange):
    mmp = dict(underlying='BTCUSDT', window_ms=3000, frozen_ms=0, qty_limit='2', delta_limit='2.3')
    result, warnings, failed = task_result(MMP, params(account='acct-alpha', **mmp))
    assert not failed and warnings == ['account acct-alpha: frozen_ms is 0 for BTCUSDT: after MMP triggers, quoting '
                                       'stays frozen until a manual reset (POST /eapi/v1/mmpReset), not for a fixed time']
    bad = dict(mmp)
    bad['window_ms'] = 9000
    result, warnings, failed = task_result(MMP, params(account='acct-alpha', **bad))
    assert failed and result['msg'].startswith('account acct-alpha: window_ms: got 9000')
    result, warnings, failed = task_result(MMP, params(**bad))
    assert result['msg'].startswith('window_ms: got 9000')  # no label, no prefix
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(401, {'code': -2015, 'msg': 'Invalid API-key.'}))
    result, warnings, failed = task_result(MMP, params(account='acct-alpha', **mmp))
    assert failed and result['msg'].startswith('account acct-alpha: MMP BTCUSDT: GET /eapi/v1/mmp: HTTP 401')


# ---------------------------------------------------------------------------------------------
# A pacing ledger that cannot be used fails the task before any request (a stop recorded there could not be honoured)
# ---------------------------------------------------------------------------------------------

def unusable_ledger(tmp_path):
    """The unit tests' ledger (see conftest) replaced by a link to a file elsewhere."""
    directory = tmp_path / 'pacing-ledger'
    directory.mkdir(mode=0o700)
    (tmp_path / 'elsewhere.json').write_text('{}')
    (directory / 'ledger.json').symlink_to(tmp_path / 'elsewhere.json')
    return str(directory / 'ledger.json')


@pytest.mark.cold_ledger
def test_an_unusable_ledger_fails_the_task_naming_the_account_the_file_and_the_fix_and_sends_nothing(exchange, tmp_path):
    path = unusable_ledger(tmp_path)
    mmp = dict(underlying='BTCUSDT', window_ms=3000, frozen_ms=1000, qty_limit='2', delta_limit='2.3')
    result, warnings, failed = task_result(MMP, params(account='acct-alpha', **mmp))
    assert failed and result['changed'] is False and warnings == []
    # not even the published limit's read (exchangeInfo) was sent
    assert exchange.journal == []
    assert result['msg'].startswith('account acct-alpha: MMP BTCUSDT: GET /eapi/v1/mmp: not sent: the pacing ledger %s '
                                    'cannot be used (cannot be opened: ' % path)
    assert '(a symbolic link)' in result['msg'] and 'remove what is there' in result['msg']
    assert 'set pacing_dir (or MARKETOPS_MMP_PACING_DIR)' in result['msg'] and 'pacing_ledger: false' in result['msg']
    assert (tmp_path / 'elsewhere.json').read_text() == '{}'


@pytest.mark.cold_ledger
def test_the_opt_out_runs_without_the_ledger_and_without_a_warning(exchange, tmp_path):
    unusable_ledger(tmp_path)
    result, warnings, failed = task_result(MMP_INFO, params(underlyings=['BTCUSDT'], pacing_ledger=False))
    paths = [j['path'] for j in exchange.journal]
    assert not failed and warnings == [] and paths[:2] == ['/eapi/v1/exchangeInfo', '/eapi/v1/mmp'], paths
    assert (tmp_path / 'elsewhere.json').read_text() == '{}'


def test_the_pacing_dir_option_is_where_the_ledger_is(exchange, tmp_path, monkeypatch):
    monkeypatch.setattr(pacing.Ledger, 'for_url', classmethod(FOR_URL))  # the real one, not the tests' private ledger
    monkeypatch.setenv(pacing.PACING_DIR_ENV, str(tmp_path / 'not-this-one'))
    result, warnings, failed = task_result(MMP_INFO, params(underlyings=['BTCUSDT'], pacing_dir=str(tmp_path / 'mine')))
    assert not failed, result
    assert [name for name in os.listdir(str(tmp_path / 'mine')) if name.startswith('weight-')]
    assert not os.path.exists(str(tmp_path / 'not-this-one'))


@pytest.mark.parametrize('value', ['relative/dir', '', 'x\ny'])
def test_a_pacing_dir_that_is_not_an_absolute_path_fails_before_any_request(exchange, value):
    result, warnings, failed = task_result(MMP_INFO, params(underlyings=['BTCUSDT'], pacing_dir=value))
    assert failed and result['option'] == 'pacing_dir' and exchange.journal == []


def test_a_usable_ledger_gives_no_warning(exchange):
    result, warnings, failed = task_result(MMP_INFO, params(underlyings=['BTCUSDT']))
    assert not failed and warnings == []


# ---------------------------------------------------------------------------------------------
# deribit_mmp_reset (the Binance tests' counterparts, on the fake Deribit)
# ---------------------------------------------------------------------------------------------

@pytest.fixture(params=['strict', 'lenient'])
def deribit(request):
    """The fake Deribit (tests/unit/deribit_helpers.py), reading block_rfq's default in listings both ways."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeDeribit(rsps, list_filter=request.param)
        fake.configs[('btc_usd', None, False)] = dict(interval='10', frozen_time='0', quantity_limit='2')
        yield fake


def deribit_reset_params(**overrides):
    out = dict(client_id=DERIBIT_CLIENT_ID, client_secret=DERIBIT_CLIENT_SECRET, base_url=DERIBIT_BASE, timeout=10.0,
               validate_certs=True, ca_path=None, weight_limit=None, weight_reserve=None, account='acct-d',
               index_name='btc_usd', mmp_group=None, block_rfq=False, only_if_frozen=True)
    out.update(overrides)
    return out


def test_deribit_only_if_frozen_false_always_resets(deribit):
    result, error = run_core(DERIBIT_RESET, deribit_reset_params(only_if_frozen=False))
    assert error is None and result['changed'] is True and result['was_frozen'] is False
    assert [(c['method'], c['params']) for c in deribit.calls('private/reset_mmp')] == [
        ('private/reset_mmp', dict(index_name='btc_usd'))]


def test_deribit_reset_unknown_outcome_is_read_back_and_bounded(deribit, sleeps):
    deribit.frozen[('btc_usd', None, False)] = 0
    for dummy in range(3):  # three resets time out unapplied: the status still reads frozen after each
        deribit.faults.append(('private/reset_mmp', requests.exceptions.ReadTimeout('read timed out')))
    result, error = run_core(DERIBIT_RESET, deribit_reset_params())
    assert error is not None, result
    assert error['msg'].startswith('account acct-d: GET /api/v2/private/reset_mmp for btc_usd timed out')
    assert 'the MMP of btc_usd still reads as frozen after 3 resets' in error['msg']
    assert len(deribit.calls('private/reset_mmp')) == 3 and deribit.frozen == {('btc_usd', None, False): 0}
    assert [w.split('; ')[-1] for w in result['warnings']] == ['read back: still frozen, sent again'] * 2
