# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""deribit_mmp_configs (deribit/configs.py on the resource runner) on the fake Deribit: every state, the account's
two listings whatever the number of configs, an MMP group and a Block RFQ config, removal by interval 0, check mode,
rendered without a client, and gathered given back with replaced."""

from __future__ import annotations

import json

import pytest
import responses

from ansible_collections.marketops.mmp.plugins.module_utils.deribit.configs import read_every_config
from ansible_collections.marketops.mmp.plugins.module_utils.deribit.modules import CORES
from ansible_collections.marketops.mmp.plugins.module_utils.runner import argument_spec, task_result
from ansible_collections.marketops.mmp.tests.unit.deribit_helpers import BASE, CLIENT_ID, CLIENT_SECRET, FakeDeribit

CORE = CORES['deribit_mmp_configs']
GET, SET = 'private/get_mmp_config', 'private/set_mmp_config'
BTC = dict(index_name='BTC_USD', window_s=10, frozen_s=30, qty_limit='2.50', delta_limit=1, vega_limit=1000.5)
ETH_Q1 = dict(index_name='eth_usd', mmp_group='q1', window_s=5, frozen_s=0, qty_limit=400, max_quote_qty='100')
RFQ = dict(index_name='all', block_rfq=True, window_s=60, frozen_s=60, qty_limit='1000', trade_count_limit=10)


@pytest.fixture
def deribit():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeDeribit(rsps)


def params(**options):
    out = {name: spec.get('default') for name, spec in argument_spec(CORE).items()}
    out.update(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, base_url=BASE, timeout=10.0, account='acct-d')
    out.update(options)
    return out


def run(check_mode=False, **options):
    return task_result(CORE, params(**options), check_mode=check_mode, diff_mode=True)


def methods(deribit, start=0):
    return [j['method'] for j in deribit.journal[start:]]


def as_wire(requests):
    """The requests as the query string carries them."""
    return [{k: ('true' if v is True else str(v)) for k, v in r['params'].items()} for r in requests]


def sets(deribit, start=0):
    return [j['params'] for j in deribit.journal[start:] if j['method'] == SET]


def test_replaced_writes_a_group_and_a_block_rfq_config_then_is_in_sync_with_the_two_listings(deribit):
    result, warnings, failed = run(state='replaced', config=[BTC, ETH_Q1, RFQ])
    assert not failed and result['changed'], result
    assert methods(deribit) == [GET, GET, SET, SET, SET]
    assert as_wire(result['requests']) == sets(deribit)
    assert result['requests'][2] == dict(method='GET', path='/api/v2/private/set_mmp_config', params=dict(
        index_name='all', block_rfq=True, interval=60, frozen_time=60, quantity_limit='1000', trade_count_limit=10))
    assert result['after'] == [
        dict(index_name='all', block_rfq=True, window_s=60, frozen_s=60, qty_limit='1000', trade_count_limit=10),
        dict(index_name='btc_usd', block_rfq=False, window_s=10, frozen_s=30, qty_limit='2.5', delta_limit='1',
             vega_limit='1000.5'),
        dict(index_name='eth_usd', mmp_group='q1', block_rfq=False, window_s=5, frozen_s=0, qty_limit='400',
             max_quote_qty='100')]
    assert set(result['diff']['after']) == {'all Block RFQ', 'btc_usd', 'eth_usd group q1'}
    assert [w for w in warnings if 'frozen_s is 0 for eth_usd group q1' in w]
    # the same configs written otherwise: the account's two listings, nothing else
    start = len(deribit.journal)
    result, warnings, failed = run(state='replaced', config=[dict(BTC, qty_limit=2.5, delta_limit='1.0000'), ETH_Q1,
                                                             RFQ])
    assert not failed and not result['changed'] and result['requests'] == []
    assert methods(deribit, start) == [GET, GET]
    assert [j['params'] for j in deribit.journal[start:]] == [{}, {'block_rfq': 'true'}]


def test_replaced_unsets_a_limit_left_out_merged_keeps_it(deribit):
    assert not run(state='replaced', config=[BTC])[2]
    result, warnings, failed = run(config=[dict(index_name='btc_usd', qty_limit=3)])
    assert not failed and result['changed']
    assert sets(deribit)[-1] == dict(index_name='btc_usd', interval='10', frozen_time='30', quantity_limit='3',
                                     delta_limit='1', vega_limit='1000.5')
    no_vega = dict(BTC)
    del no_vega['vega_limit']
    result, warnings, failed = run(state='replaced', config=[no_vega])
    assert not failed and result['changed'] and 'vega_limit' not in sets(deribit)[-1]
    assert result['diff']['before']['btc_usd']['vega_limit'] == '1000.5' and 'vega_limit' not in \
        result['diff']['after']['btc_usd']


def test_merged_a_new_scope_needs_every_required_value(deribit):
    result, warnings, failed = run(config=[dict(index_name='btc_usd', qty_limit=3)])
    assert failed and sets(deribit) == [] and result['option'] == 'config[1].window_s'
    assert 'Deribit holds no config for btc_usd' in result['msg']


def test_overridden_removes_every_unlisted_config_with_interval_0(deribit):
    assert not run(state='replaced', config=[BTC, ETH_Q1, RFQ])[2]
    start = len(deribit.journal)
    result, warnings, failed = run(check_mode=True, state='overridden', config=[BTC])
    assert not failed and result['changed'] and sets(deribit, start) == []
    assert result['after'] == [result['before'][1]] and len(result['before']) == 3
    assert [r['params']['interval'] for r in result['requests']] == [0, 0]
    result, warnings, failed = run(state='overridden', config=[BTC])
    assert not failed and result['changed']
    assert as_wire(result['requests']) == sets(deribit, start)
    assert sets(deribit, start)[0] == dict(index_name='all', block_rfq='true', interval='0', frozen_time='60',
                                           quantity_limit='1000', trade_count_limit='10')
    assert list(deribit.configs) == [('btc_usd', None, False)]


def test_deleted_removes_the_listed_scopes_or_every_config(deribit):
    assert not run(state='replaced', config=[BTC, ETH_Q1, RFQ])[2]
    result, warnings, failed = run(state='deleted', config=[dict(index_name='eth_usd', mmp_group='q1'),
                                                            dict(index_name='sol_usd')])
    assert not failed and result['changed'] and len(result['requests']) == 1
    assert set(deribit.configs) == {('btc_usd', None, False), ('all', None, True)}
    result, warnings, failed = run(state='deleted', config=[dict(index_name='btc_usd', window_s=10)])
    assert failed and result['option'] == 'config[1].window_s' and 'not allowed with state deleted' in result['msg']
    result, warnings, failed = run(state='deleted', config=[])
    assert not failed and result['changed'] and deribit.configs == {} and result['after'] == []
    start = len(deribit.journal)
    result, warnings, failed = run(state='deleted', config=[])
    assert not failed and not result['changed'] and methods(deribit, start) == [GET, GET]


def test_a_scope_listed_twice_is_refused_before_any_request(deribit):
    result, warnings, failed = run(state='replaced', config=[BTC, RFQ, dict(BTC, index_name='btc_usd', qty_limit=1)])
    assert failed and deribit.journal == []
    assert result['msg'] == 'account acct-d: config: btc_usd is listed twice, items #1 and #3; list each scope once'
    # another group, or Block RFQ, is another scope
    result, warnings, failed = run(check_mode=True, state='replaced', config=[
        BTC, dict(BTC, mmp_group='q1'), dict(BTC, block_rfq=True)])
    assert not failed and len(result['requests']) == 3


def test_gathered_round_trips_through_replaced(deribit):
    assert not run(state='replaced', config=[BTC, ETH_Q1, RFQ])[2]
    start = len(deribit.journal)
    result, warnings, failed = run(state='gathered')
    assert not failed and not result['changed'] and methods(deribit, start) == [GET, GET]
    assert [(g['index_name'], g.get('mmp_group'), g['block_rfq']) for g in result['gathered']] == [
        ('all', None, True), ('btc_usd', None, False), ('eth_usd', 'q1', False)]
    start = len(deribit.journal)
    again, warnings, failed = run(state='replaced', config=json.loads(json.dumps(result['gathered'])))
    assert not failed and not again['changed'] and sets(deribit, start) == []
    again, warnings, failed = run(state='overridden', config=result['gathered'])
    assert not failed and not again['changed'] and sets(deribit, start) == []


@pytest.mark.parametrize('block_field', [True, False])
def test_the_block_rfq_configs_are_read_when_a_listing_without_parameters_leaves_them_out(deribit, block_field):
    """Deribit documents block_rfq's default as false: a listing without it may hold only the other configs."""
    assert not run(state='replaced', config=[BTC, RFQ])[2]
    btc = deribit.entry(('btc_usd', None, False), deribit.configs[('btc_usd', None, False)])
    rfq = deribit.entry(('all', None, True), deribit.configs[('all', None, True)])
    if not block_field:
        del rfq['block_rfq']
    deribit.faults += [(GET, lambda: FakeDeribit.answer([btc])), (GET, lambda: FakeDeribit.answer([rfq]))]
    result, warnings, failed = run(state='gathered')
    assert not failed and [g['index_name'] for g in result['gathered']] == ['all', 'btc_usd']
    assert result['gathered'][0]['block_rfq'] is True and result['gathered'][0]['trade_count_limit'] == 10


def test_read_every_config_is_two_requests_whatever_the_number_of_configs(deribit):
    for i in range(30):
        deribit.configs[('btc_usd', 'g%d' % i, False)] = dict(interval='1', frozen_time='1', quantity_limit='1')
    client = CORE.venue.client(params())
    assert len(read_every_config(client)) == 30 and methods(deribit) == [GET, GET]


def test_rendered_sends_nothing_and_needs_no_credentials():
    options = dict(params(state='rendered', config=[BTC, ETH_Q1, RFQ]), client_id=None, client_secret=None,
                   base_url='https://deribit.invalid')
    result, warnings, failed = task_result(CORE, options)
    assert not failed, result
    assert [r['params'] for r in result['rendered']] == [
        dict(index_name='btc_usd', interval=10, frozen_time=30, quantity_limit='2.5', delta_limit='1',
             vega_limit='1000.5'),
        dict(index_name='eth_usd', mmp_group='q1', interval=5, frozen_time=0, quantity_limit='400',
             max_quote_quantity='100'),
        dict(index_name='all', block_rfq=True, interval=60, frozen_time=60, quantity_limit='1000', trade_count_limit=10)]
    assert {(r['method'], r['path']) for r in result['rendered']} == {('GET', '/api/v2/private/set_mmp_config')}
    result, warnings, failed = task_result(CORE, dict(options, state='gathered', config=None))
    assert failed and 'missing required arguments: client_id, client_secret' in result['msg']


def test_a_bad_item_is_refused_before_any_request(deribit):
    for state, config, option in (
            ('merged', [dict(BTC, window_s=3601)], 'config[1].window_s'),
            ('merged', [BTC, dict(RFQ, index_name='btc_usd')], 'config[2].trade_count_limit'),
            ('replaced', [dict(index_name='btc_usd', window_s=1, frozen_s=1)], 'config[1].qty_limit'),
            ('rendered', [dict(index_name='btc_usd', window_s=1, qty_limit=1)], 'config[1].frozen_s'),
            ('merged', [dict(index_name='all', qty_limit=1)], 'config[1].index_name')):
        result, warnings, failed = run(state=state, config=config)
        assert failed and result['option'] == option, (config, result)
    assert deribit.journal == []


def test_an_answer_that_differs_fails_naming_the_scope(deribit):
    def clamped():  # the exchange answers (and holds) another quantity limit
        deribit.configs[('all', None, True)]['quantity_limit'] = '5'
        return FakeDeribit.answer(deribit.entry(('all', None, True), deribit.configs[('all', None, True)]))
    deribit.faults.append((SET, ('apply', lambda: FakeDeribit.answer('ok'))))  # btc_usd's: read back, as asked
    deribit.faults.append((SET, ('apply', clamped)))
    result, warnings, failed = run(state='replaced', config=[BTC, RFQ, ETH_Q1])
    assert failed and result['changed'] is True
    assert result['msg'].startswith('account acct-d: MMP configs all Block RFQ: the exchange did not apply'), result
    assert 'applied before this failure: btc_usd; not attempted: eth_usd group q1' in result['msg']
    assert result['asked']['qty_limit'] == '1000' and result['exchange']['qty_limit'] == '5'
    assert len(sets(deribit)) == 2
