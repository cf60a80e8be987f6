# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deribit's MMP logic: validation before any request, decimals, the whole config of a scope, answer shapes, unknown
outcomes, rate limits, credentials and the signature."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
import requests
import responses

from ansible_collections.marketops.mmp.plugins.module_utils.deribit import api
from ansible_collections.marketops.mmp.plugins.module_utils.deribit.modules import CORES
from ansible_collections.marketops.mmp.plugins.module_utils.runner import task_result
from ansible_collections.marketops.mmp.tests.unit.deribit_helpers import BASE, CLIENT_ID, CLIENT_SECRET, FakeDeribit

MMP, INFO, RESET = CORES['deribit_mmp'], CORES['deribit_mmp_info'], CORES['deribit_mmp_reset']


@pytest.fixture(params=['strict', 'lenient'])
def deribit(request):
    """The fake Deribit, reading block_rfq's default in listings both ways (``FakeDeribit.list_filter``)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeDeribit(rsps, list_filter=request.param)


def params(core, **options):
    out = {name: spec.get('default') for name, spec in core.argument_spec().items()}
    out.update(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, base_url=BASE, timeout=10.0, validate_certs=True,
               ca_path=None, weight_limit=None, weight_reserve=None, account='acct-d')
    out.update(options)
    return out


def run(core, check_mode=False, **options):
    result, warnings, failed = task_result(core, params(core, **options), check_mode=check_mode, diff_mode=True)
    return result, warnings, failed


BTC = dict(index_name='BTC_USD', window_s=10, frozen_s=30, qty_limit='2.50', delta_limit=1, vega_limit=1000.5)


def test_apply_then_ok_with_decimals_compared_as_decimals(deribit):
    result, warnings, failed = run(MMP, **BTC)
    assert not failed and result['changed'], result
    assert result['config'] == dict(index_name='btc_usd', mmp_group=None, block_rfq=False, window_s=10, frozen_s=30,
                                    qty_limit='2.5', delta_limit='1', vega_limit='1000.5', max_quote_qty=None,
                                    trade_count_limit=None)
    sent = deribit.calls('private/set_mmp_config')[0]['params']
    assert sent == dict(index_name='btc_usd', interval='10', frozen_time='30', quantity_limit='2.5', delta_limit='1',
                        vega_limit='1000.5')
    assert warnings == []
    # the exchange answers JSON numbers (2.5, 1.0): the same config, nothing sent
    result, warnings, failed = run(MMP, **{**BTC, 'qty_limit': 2.5, 'delta_limit': '1.0000'})
    assert not failed and not result['changed'] and len(deribit.calls('private/set_mmp_config')) == 1


@pytest.mark.parametrize('shape', ['object', 'list'])
def test_both_answer_shapes_of_set(deribit, shape):
    deribit.set_shape = shape
    result, dummy, failed = run(MMP, **BTC)
    assert not failed and result['changed'] and result['config']['window_s'] == 10
    assert [c['method'] for c in deribit.journal] == ['private/get_mmp_config', 'private/set_mmp_config']


def test_a_limit_left_out_is_unset(deribit):
    run(MMP, **BTC)
    result, dummy, failed = run(MMP, **{**BTC, 'vega_limit': None})
    assert not failed and result['changed']
    assert result['diff']['before']['vega_limit'] == '1000.5' and result['config']['vega_limit'] is None
    assert 'vega_limit' not in deribit.calls('private/set_mmp_config')[-1]['params']


def test_check_mode_predicts_and_sends_no_write(deribit):
    result, dummy, failed = run(MMP, check_mode=True, **BTC)
    assert not failed and result['changed']
    assert result['config']['window_s'] == 0 and result['diff']['after']['window_s'] == 10
    assert [c['method'] for c in deribit.journal] == ['private/get_mmp_config']


def test_groups_and_block_rfq_are_scopes_of_their_own(deribit):
    run(MMP, **BTC)
    result, dummy, failed = run(MMP, index_name='btc_usd', mmp_group='Q1', window_s=5, frozen_s=0, qty_limit=3,
                                max_quote_qty='0.0001')
    assert not failed and result['changed'] and result['config']['mmp_group'] == 'Q1'
    result, warnings, failed = run(MMP, index_name='all', block_rfq=True, window_s=60, frozen_s=60, qty_limit=100,
                                   trade_count_limit=10)
    assert not failed and result['changed'] and result['config']['trade_count_limit'] == 10
    assert len(deribit.configs) == 3
    # the default group's config was not touched by the others
    result, dummy, failed = run(MMP, **BTC)
    assert not failed and not result['changed']


def test_frozen_zero_warns(deribit):
    dummy, warnings, failed = run(MMP, **{**BTC, 'frozen_s': 0})
    assert not failed and warnings == ['account acct-d: frozen_s is 0 for btc_usd: after MMP triggers, quoting '
                                       'stays frozen until a manual reset (private/reset_mmp, '
                                       'marketops.mmp.deribit_mmp_reset), not for a fixed time']


def test_absent_removes_then_ok(deribit):
    run(MMP, **BTC)
    result, dummy, failed = run(MMP, index_name='btc_usd', state='absent')
    assert not failed and result['changed'] and result['config']['window_s'] == 0 and not deribit.configs
    sent = deribit.calls('private/set_mmp_config')[-1]['params']
    assert sent['interval'] == '0' and sent['quantity_limit'] == '2.5'  # a removal still carries a limit
    result, dummy, failed = run(MMP, index_name='btc_usd', state='absent')
    assert not failed and not result['changed']


BAD = [
    (dict(BTC, index_name='btc usd'), 'index_name'),
    (dict(BTC, index_name='all'), 'index_name'),
    (dict(BTC, window_s=0), 'window_s'),
    (dict(BTC, window_s=3601), 'window_s'),
    (dict(BTC, window_s=None), 'window_s'),
    (dict(BTC, frozen_s=-1), 'frozen_s'),
    (dict(BTC, qty_limit='1.23456'), 'qty_limit'),
    (dict(BTC, delta_limit=0), 'delta_limit'),
    (dict(BTC, vega_limit='nan'), 'vega_limit'),
    (dict(BTC, max_quote_qty=-2), 'max_quote_qty'),
    (dict(index_name='btc_usd', window_s=1, frozen_s=1, max_quote_qty=1), 'qty_limit'),
    (dict(BTC, trade_count_limit=5), 'trade_count_limit'),
    (dict(index_name='all', block_rfq=True, window_s=1, frozen_s=1, qty_limit=1, trade_count_limit=1001),
     'trade_count_limit'),
    (dict(BTC, mmp_group='a' * 65), 'mmp_group'),
    (dict(BTC, mmp_group='two words'), 'mmp_group'),
    (dict(index_name='btc_usd', state='absent', qty_limit=1), 'qty_limit'),
    (dict(BTC, client_secret='secret\n'), 'client_secret'),
    (dict(BTC, client_id='id with space'), 'client_id'),
    (dict(BTC, base_url='http://deribit.example'), 'base_url'),
    (dict(BTC, base_url='https://user:hunter2@deribit.example'), 'base_url'),
]


@pytest.mark.parametrize('options, option', BAD)
def test_bad_input_fails_naming_the_option_and_sends_nothing(deribit, options, option):
    result, dummy, failed = run(MMP, **options)
    assert failed and result['option'] == option and option in result['msg'], result
    assert deribit.journal == []
    assert 'hunter2' not in json.dumps(result) and CLIENT_SECRET not in json.dumps(result)


def test_the_signature_is_deribits_hmac_and_the_secret_never_travels(deribit):
    run(MMP, **BTC)
    for call in deribit.journal:
        header = call['headers']['Authorization']
        assert header.startswith('deri-hmac-sha256 id=%s,ts=' % CLIENT_ID)
        assert CLIENT_SECRET not in header and CLIENT_SECRET not in json.dumps(call['params'])
    # a known answer: the client's signature of a fixed request equals one computed here
    client = api.DeribitClient(CLIENT_ID, CLIENT_SECRET, base_url=BASE, nonce=lambda: 'abc', clock=lambda: 1700000000.0,
                               weight_ledger=None)
    header = client.authorization('GET', '/api/v2/private/get_mmp_config?index_name=btc_usd')
    ts = header.split('ts=')[1].split(',')[0]
    expected = hmac.new(CLIENT_SECRET.encode(), ('%s\nabc\nGET\n/api/v2/private/get_mmp_config?index_name=btc_usd\n\n'
                                                 % ts).encode(), hashlib.sha256).hexdigest()
    assert header == 'deri-hmac-sha256 id=%s,ts=%s,sig=%s,nonce=abc' % (CLIENT_ID, ts, expected)


def test_wrong_credentials_fail_at_once_without_retry(deribit, sleeps):
    deribit.secret = 'another-secret'
    result, dummy, failed = run(MMP, **BTC)
    assert failed and result['code'] == 13004 and 'wrong client_id or client_secret' in result['msg']
    assert result['msg'].startswith('account acct-d: MMP btc_usd:')
    assert len(deribit.journal) == 1 and sleeps == []


def test_too_many_requests_is_waited_out_on_a_new_connection(deribit, sleeps, monkeypatch):
    closed = []

    def close(session):  # a method, so that the session is its argument
        closed.append(session)

    monkeypatch.setattr(requests.Session, 'close', close)
    deribit.faults.append(('private/get_mmp_config', lambda: FakeDeribit.error(10028, 'too_many_requests', 429)))
    result, warnings, failed = run(MMP, **BTC)
    assert not failed and result['changed']
    assert 5.0 in sleeps and len(closed) == 1
    assert any('rate limited by Deribit (HTTP 429, code 10028)' in w and 'wait 1 of 2' in w for w in warnings)


def test_too_many_requests_given_up_is_recorded_for_the_account(deribit, sleeps):
    for dummy in range(3):
        deribit.faults.append(('private/get_mmp_config', lambda: FakeDeribit.error(10028, 'too_many_requests', 400)))
    result, dummy, failed = run(MMP, **BTC)
    assert failed and 'stopped after 2 waits' in result['msg'] and len(deribit.journal) == 3
    # the next task of the account sends nothing until the stop ends
    result, dummy, failed = run(MMP, **BTC)
    assert failed and 'rate-limited this account' in result['msg'] and 'nothing was sent' in result['msg']
    assert len(deribit.journal) == 3


def test_a_write_with_an_unknown_outcome_is_read_back(deribit, sleeps):
    deribit.faults.append(('private/set_mmp_config', ('apply', requests.exceptions.ReadTimeout('read timed out'))))
    result, warnings, failed = run(MMP, **BTC)
    assert not failed and result['changed'] and result['config']['qty_limit'] == '2.5'
    assert [c['method'] for c in deribit.journal] == ['private/get_mmp_config', 'private/set_mmp_config',
                                                      'private/get_mmp_config']
    assert any('read back: the exchange holds the requested config' in w for w in warnings)


def test_a_write_lost_before_it_applied_is_sent_again_after_reading_back(deribit, sleeps):
    deribit.faults.append(('private/set_mmp_config', lambda: FakeDeribit.error(11094, 'internal_server_error', 500)))
    result, warnings, failed = run(MMP, **BTC)
    assert not failed and result['changed']
    assert [c['method'] for c in deribit.journal].count('private/set_mmp_config') == 2
    assert any('not applied, sent again' in w for w in warnings)


def test_an_answer_that_differs_fails_showing_both(deribit):
    deribit.faults.append(('private/set_mmp_config', lambda: FakeDeribit.answer(dict(
        index_name='btc_usd', interval=10, frozen_time=30, quantity_limit=9.0, block_rfq=False))))
    result, dummy, failed = run(MMP, **BTC)
    assert failed and 'did not apply' in result['msg'] and 'qty_limit=9' in result['msg']


def test_an_exchange_that_kept_a_limit_the_set_left_out_fails_the_task_naming_it(deribit):
    """Deribit does not say what a set does to a limit it does not carry (the module expects it unset). Were it
    kept, the task fails, naming the limit, instead of reporting success."""
    assert not run(MMP, **BTC)[2]
    key = ('btc_usd', None, False)

    def merge():
        sent = {k: v for k, v in deribit.calls('private/set_mmp_config')[-1]['params'].items()
                if k not in ('index_name', 'mmp_group', 'block_rfq')}
        deribit.configs[key] = dict(deribit.configs[key], **sent)
        return FakeDeribit.answer(deribit.entry(key, deribit.configs[key]))

    deribit.faults.append(('private/set_mmp_config', merge))
    without_vega = {k: v for k, v in BTC.items() if k != 'vega_limit'}
    result, dummy, failed = run(MMP, **dict(without_vega, qty_limit=3))
    assert failed and 'did not apply' in result['msg'] and 'differs in vega_limit' in result['msg'], result
    assert 'vega_limit=1000.5' in result['msg'] and 'account acct-d' in result['msg']


def test_info_lists_every_config_with_its_frozen_state(deribit):
    run(MMP, **BTC)
    run(MMP, index_name='eth_usd', mmp_group='g', window_s=5, frozen_s=0, delta_limit=3)
    deribit.frozen[('eth_usd', 'g', False)] = 0
    deribit.frozen[('btc_usd', None, False)] = 4102444800000
    result, dummy, failed = run(INFO)
    assert not failed and not result['changed']
    by_index = {m['index_name']: m for m in result['mmp']}
    assert by_index['eth_usd']['frozen'] is True and by_index['eth_usd']['frozen_until'] is None
    assert by_index['btc_usd']['frozen'] is True and by_index['btc_usd']['frozen_until'] == 4102444800000
    # two listings of the configs (without parameters, Block RFQ), one of the statuses (no Block RFQ config)
    assert [(c['method'], c['params']) for c in deribit.journal][-3:] == [
        ('private/get_mmp_config', {}), ('private/get_mmp_config', dict(block_rfq='true')),
        ('private/get_mmp_status', {})]
    result, dummy, failed = run(INFO, index_name='ETH_USD')
    assert [m['index_name'] for m in result['mmp']] == ['eth_usd']


RFQ = dict(index_name='all', block_rfq=True, window_s=60, frozen_s=0, qty_limit=100, trade_count_limit=10)


def info_keys(result):
    return {(m['index_name'], m['mmp_group'], m['block_rfq']): m for m in result['mmp']}


def test_info_lists_the_block_rfq_config_and_every_group_of_an_index(deribit):
    """Deribit's block_rfq defaults to false and index_name without mmp_group means the default group: info reads so
    that it lists everything whichever way the exchange reads a listing (the fake answers both ways)."""
    for config in (BTC, dict(BTC, index_name='eth_usd'), dict(BTC, index_name='eth_usd', mmp_group='q1'),
                   dict(BTC, index_name='eth_usd', mmp_group='q2', block_rfq=False), RFQ):
        assert not run(MMP, **config)[2]
    deribit.frozen[('all', None, True)] = 0
    deribit.frozen[('eth_usd', 'q1', False)] = 0
    deribit.journal.clear()
    result, dummy, failed = run(INFO)
    assert not failed, result
    mmp = info_keys(result)
    assert set(mmp) == {('btc_usd', None, False), ('eth_usd', None, False), ('eth_usd', 'q1', False),
                        ('eth_usd', 'q2', False), ('all', None, True)}
    assert mmp[('all', None, True)]['frozen'] is True and mmp[('all', None, True)]['trade_count_limit'] == 10
    assert mmp[('eth_usd', 'q1', False)]['frozen'] is True and mmp[('eth_usd', None, False)]['frozen'] is False
    # both kinds of config: 4 requests (2 config listings, 2 status listings), whatever the number of configs
    assert [(c['method'], c['params']) for c in deribit.journal] == [
        ('private/get_mmp_config', {}), ('private/get_mmp_config', dict(block_rfq='true')),
        ('private/get_mmp_status', {}), ('private/get_mmp_status', dict(block_rfq='true'))]

    result, dummy, failed = run(INFO, index_name='eth_usd')
    assert not failed and set(info_keys(result)) == {('eth_usd', None, False), ('eth_usd', 'q1', False),
                                                     ('eth_usd', 'q2', False)}
    assert info_keys(result)[('eth_usd', 'q1', False)]['frozen'] is True

    deribit.journal.clear()
    result, dummy, failed = run(INFO, index_name='all')  # the Block RFQ config (not refused: filtered here)
    assert not failed and list(info_keys(result)) == [('all', None, True)], result
    assert info_keys(result)[('all', None, True)]['frozen'] is True
    assert [(c['method'], c['params']) for c in deribit.journal] == [
        ('private/get_mmp_config', {}), ('private/get_mmp_config', dict(block_rfq='true')),
        ('private/get_mmp_status', dict(block_rfq='true'))]

    deribit.journal.clear()
    result, dummy, failed = run(INFO, index_name='sol_usdc')  # no config: no status read
    assert not failed and result['mmp'] == [] and len(deribit.journal) == 2


def test_info_with_a_key_that_may_not_read_block_rfq_fails_naming_that_read(deribit):
    """A key without block_rfq:read: info fails, loud, rather than list the account without its Block RFQ configs."""
    run(MMP, **BTC)
    dispatch = deribit.dispatch

    def refuse_block_rfq(method, params):
        if method.startswith('private/get_') and params.get('block_rfq') == 'true':
            return FakeDeribit.error(13021, 'forbidden', reason='insufficient_scope')
        return dispatch(method, params)

    deribit.dispatch = refuse_block_rfq
    result, dummy, failed = run(INFO)
    assert failed and 'mmp' not in result, result
    assert result['msg'].startswith('account acct-d: MMP info: listing the Block RFQ configs (block_rfq=true; the API '
                                    'key needs block_rfq:read): GET /api/v2/private/get_mmp_config: HTTP 400, code '
                                    '13021: forbidden'), result['msg']
    assert result['code'] == 13021 and 'check its scopes' in result['msg']


def test_reset_of_a_frozen_block_rfq_config(deribit):
    assert not run(MMP, **BTC)[2] and not run(MMP, **RFQ)[2]
    deribit.frozen[('all', None, True)] = 0
    scope = dict(index_name='all', block_rfq=True)
    result, dummy, failed = run(RESET, check_mode=True, **scope)
    assert not failed and result['changed'] and result['was_frozen'] is True
    deribit.journal.clear()
    result, dummy, failed = run(RESET, **scope)
    assert not failed and result['changed'] is True and result['was_frozen'] is True, result
    assert result['config']['trade_count_limit'] == 10 and not deribit.frozen
    assert [(c['method'], c['params']) for c in deribit.calls('private/reset_mmp')] == [
        ('private/reset_mmp', dict(index_name='all', block_rfq='true'))]
    # its status is read from the Block RFQ listing, which lists it whichever way the exchange reads block_rfq
    assert [c['params'] for c in deribit.calls('private/get_mmp_status')] == [dict(block_rfq='true')]
    result, dummy, failed = run(RESET, **scope)
    assert not failed and result['changed'] is False and result['was_frozen'] is False
    assert info_keys(run(INFO)[0])[('all', None, True)]['frozen'] is False


def test_reset_only_if_frozen(deribit):
    run(MMP, **BTC)
    result, dummy, failed = run(RESET, index_name='btc_usd')
    assert not failed and not result['changed'] and result['was_frozen'] is False
    assert not deribit.calls('private/reset_mmp')
    deribit.frozen[('btc_usd', None, False)] = 0
    result, dummy, failed = run(RESET, check_mode=True, index_name='btc_usd')
    assert result['changed'] and not deribit.calls('private/reset_mmp')
    result, dummy, failed = run(RESET, index_name='btc_usd')
    assert not failed and result['changed'] and result['was_frozen'] is True and not deribit.frozen
    assert result['diff']['before']['frozen'] is True and result['diff']['after']['frozen'] is False
    result, dummy, failed = run(RESET, index_name='btc_usd')
    assert not result['changed']


def test_a_reset_with_an_unknown_outcome_is_decided_by_the_status(deribit, sleeps):
    deribit.frozen[('btc_usd', None, False)] = 0
    deribit.faults.append(('private/reset_mmp', ('apply', requests.exceptions.ConnectionError('connection reset'))))
    result, warnings, failed = run(RESET, index_name='btc_usd')
    assert not failed and result['changed'] and len(deribit.calls('private/reset_mmp')) == 1
    assert any('no longer frozen' in w for w in warnings)


def test_writes_through_get_are_writes(deribit):
    client = api.DeribitClient(CLIENT_ID, CLIENT_SECRET, base_url=BASE, weight_ledger=None)
    assert client.is_write('GET', '/api/v2/private/set_mmp_config')
    assert client.is_write('GET', '/api/v2/private/reset_mmp')
    assert not client.is_write('GET', '/api/v2/private/get_mmp_config')


def test_a_proxy_page_is_no_answer(deribit):
    deribit.faults.append(('private/get_mmp_config', lambda: (403, {}, '<html>blocked</html>')))
    result, dummy, failed = run(MMP, **BTC)
    assert failed and 'not a JSON-RPC answer' in result['msg']
