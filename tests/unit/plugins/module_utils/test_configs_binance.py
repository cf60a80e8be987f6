# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""binance_mmp_configs (binance/configs.py on the resource runner) on the fake exchange: every state, the reads an
in-sync run makes, what cannot be removed refused before any request or write, the kill-switch, check mode,
rendered without a client, and gathered given back with replaced."""

from __future__ import annotations

import json

from urllib.parse import parse_qsl, urlsplit

import pytest

from ansible_collections.marketops.mmp.plugins.module_utils.binance.modules import CORES
from ansible_collections.marketops.mmp.plugins.module_utils.runner import argument_spec, task_result
from ansible_collections.marketops.mmp.tests.unit.helpers import API_KEY, SECRET, answer

CORE = CORES['binance_mmp_configs']
UNKNOWN = {'code': -1000, 'msg': 'Unknown error, please check your request or try again later.'}
SIGNING = ('recvWindow', 'timestamp', 'signature')
BTC = dict(underlying='btcusdt', window_ms=3000, frozen_ms=300000, qty_limit='2.50', delta_limit=2.3)
ETH = dict(underlying='ETHUSDT', window_ms=5000, frozen_ms=60000, qty_limit=1, delta_limit='0.5', kill_switch_ms=30000)


def params(**options):
    out = {name: spec.get('default') for name, spec in argument_spec(CORE).items()}
    out.update(api_key=API_KEY, api_secret=SECRET, timeout=10.0, weight_limit=2400, account='acct-b')
    out.update(options)
    return out


def run(check_mode=False, **options):
    return task_result(CORE, params(**options), check_mode=check_mode, diff_mode=True)


def sent(exchange, start=0):
    """The writes the fake received: (method, path, params without the signing fields), params as the wire has them."""
    return [(j['method'], j['path'], {k: v for k, v in parse_qsl(j['body']) if k not in SIGNING})
            for j in exchange.journal[start:] if j['method'] == 'POST']


def as_wire(requests):
    return [(r['method'], r['path'], {k: str(v) for k, v in r['params'].items()}) for r in requests]


def paths(exchange, start=0):
    return [(j['method'], j['path']) for j in exchange.journal[start:]]


def test_replaced_writes_then_is_in_sync_with_one_read_per_underlying(exchange):
    result, warnings, failed = run(state='replaced', config=[BTC])
    assert not failed and result['changed'], result
    assert result['before'] == [] and result['after'] == [dict(underlying='BTCUSDT', window_ms=3000, frozen_ms=300000,
                                                               qty_limit='2.5', delta_limit='2.3')]
    assert as_wire(result['requests']) == sent(exchange)
    assert result['requests'] == [dict(method='POST', path='/eapi/v1/mmpSet', params=dict(
        underlying='BTCUSDT', windowTimeInMilliseconds=3000, frozenTimeInMilliseconds=300000, qtyLimit='2.5',
        deltaLimit='2.3'))]
    assert result['diff'] == dict(before={}, after={'BTCUSDT': result['after'][0]})
    # the same values written otherwise: one MMP read per underlying, nothing else
    start = len(exchange.journal)
    exchange.configure('SOLUSDT', 1000, 1000, '1', '1')
    result, warnings, failed = run(state='replaced', config=[dict(BTC, qty_limit=2.5, delta_limit='2.30'),
                                                             dict(underlying='solusdt', window_ms=1000, frozen_ms=1000,
                                                                  qty_limit='1.0', delta_limit=1)])
    assert not failed and not result['changed'] and result['requests'] == []
    assert paths(exchange, start) == [('GET', '/eapi/v1/mmp')] * 2


def test_merged_keeps_the_values_an_item_leaves_out(exchange):
    exchange.configure('BTCUSDT', 3000, 300000, '2', '2.3')
    result, warnings, failed = run(config=[dict(underlying='BTCUSDT', qty_limit='4')])
    assert not failed and result['changed'], result
    assert exchange.state['BTCUSDT']['windowTimeInMilliseconds'] == 3000 and exchange.state['BTCUSDT']['qtyLimit'] == '4'
    assert paths(exchange) == [('GET', '/eapi/v1/mmp'), ('POST', '/eapi/v1/mmpSet')]
    assert result['after'][0] == dict(underlying='BTCUSDT', window_ms=3000, frozen_ms=300000, qty_limit='4',
                                      delta_limit='2.3')
    # in sync: one read, no write
    start = len(exchange.journal)
    result, warnings, failed = run(config=[dict(underlying='BTCUSDT', qty_limit=4.0)])
    assert not failed and not result['changed'] and paths(exchange, start) == [('GET', '/eapi/v1/mmp')]


def test_merged_a_new_underlying_needs_every_value_and_nothing_is_written(exchange):
    result, warnings, failed = run(config=[dict(underlying='BTCUSDT', qty_limit='4')])
    assert failed and exchange.posts == []
    assert 'config[1].window_ms' == result['option'] and 'Binance holds no config for BTCUSDT' in result['msg']
    assert result['msg'].startswith('account acct-b: config[1]: window_ms: got None')


def test_bad_values_are_refused_before_any_request_naming_the_item(exchange):
    for config, option in (([dict(BTC, window_ms=6000)], 'config[1].window_ms'),
                           ([BTC, dict(BTC, underlying='ETH-USDT')], 'config[2].underlying'),
                           ([dict(BTC, kill_switch_ms=4000)], 'config[1].kill_switch_ms'),
                           ([dict(underlying='BTCUSDT', qty_limit=0)], 'config[1].qty_limit')):
        result, warnings, failed = run(config=config)
        assert failed and result['option'] == option, (config, result)
    assert exchange.journal == []


def test_an_underlying_listed_twice_is_refused_before_any_request(exchange):
    result, warnings, failed = run(state='replaced', config=[BTC, ETH, dict(BTC, underlying='BTCUSDT ')])
    assert failed and exchange.journal == []
    assert result['msg'] == ('account acct-b: config: BTCUSDT is listed twice, items #1 and #3; list each scope once')


def test_deleted_is_refused_before_any_request(exchange):
    for config in ([dict(underlying='BTCUSDT')], []):
        result, warnings, failed = run(state='deleted', config=config)
        assert failed and result['option'] == 'state' and exchange.journal == []
        assert 'Binance has no call that removes an MMP config' in result['msg'] and 'nothing was sent' in result['msg']


def test_overridden_fails_before_any_write_naming_the_unlisted_underlyings(exchange):
    exchange.configure('ETHUSDT', 3000, 1, '1', '1')
    exchange.configure('SOLUSDT', 3000, 1, '1', '1')
    result, warnings, failed = run(state='overridden', config=[BTC])
    assert failed and exchange.posts == []
    assert 'would remove the config of ETHUSDT, SOLUSDT' in result['msg'] and result['unlisted'] == ['ETHUSDT',
                                                                                                     'SOLUSDT']
    # every underlying listed: overridden is replaced
    result, warnings, failed = run(state='overridden', config=[BTC, dict(ETH, kill_switch_ms=None),
                                                               dict(underlying='SOLUSDT', window_ms=3000, frozen_ms=1,
                                                                    qty_limit=1, delta_limit=1)])
    assert not failed and result['changed'] and sent(exchange) == as_wire(result['requests'])
    assert [r['params']['underlying'] for r in result['requests']] == ['BTCUSDT', 'ETHUSDT']


def test_the_kill_switch_is_managed_only_when_an_item_has_kill_switch_ms(exchange):
    exchange.countdowns['BTCUSDT'] = 9000
    result, warnings, failed = run(state='replaced', config=[BTC, ETH])
    assert not failed and result['changed'], result
    assert exchange.countdowns == {'BTCUSDT': 9000, 'ETHUSDT': 30000}
    assert [(r['path'], r['params']['underlying']) for r in result['requests']] == [
        ('/eapi/v1/mmpSet', 'BTCUSDT'), ('/eapi/v1/mmpSet', 'ETHUSDT'), ('/eapi/v1/countdownCancelAll', 'ETHUSDT')]
    assert sent(exchange) == as_wire(result['requests'])
    assert result['after'][1]['kill_switch_ms'] == 30000 and 'kill_switch_ms' not in result['after'][0]
    assert [w for w in warnings if 'kill-switch of ETHUSDT set to 30000 ms' in w]
    # in sync: one MMP read per underlying and one kill-switch read for the item that has it
    start = len(exchange.journal)
    result, warnings, failed = run(state='replaced', config=[BTC, ETH])
    assert not failed and not result['changed']
    assert sorted(paths(exchange, start)) == [('GET', '/eapi/v1/countdownCancelAll'), ('GET', '/eapi/v1/mmp'),
                                              ('GET', '/eapi/v1/mmp')]
    # only the kill-switch differs: only it is written
    result, warnings, failed = run(config=[dict(underlying='ETHUSDT', kill_switch_ms=0)])
    assert result['changed'] and [r['path'] for r in result['requests']] == ['/eapi/v1/countdownCancelAll']
    assert exchange.countdowns['ETHUSDT'] == 0 and result['diff']['before']['ETHUSDT']['kill_switch_ms'] == 30000


def test_check_mode_writes_nothing_and_shows_the_change(exchange):
    exchange.configure('BTCUSDT', 3000, 300000, '2', '2.3')
    result, warnings, failed = run(check_mode=True, state='replaced', config=[dict(BTC, qty_limit=3), ETH])
    assert not failed and result['changed'] and exchange.posts == []
    assert result['diff']['before'] == {'BTCUSDT': dict(underlying='BTCUSDT', window_ms=3000, frozen_ms=300000,
                                                        qty_limit='2', delta_limit='2.3')}
    assert result['diff']['after']['BTCUSDT']['qty_limit'] == '3' and result['diff']['after']['ETHUSDT'] == dict(
        underlying='ETHUSDT', window_ms=5000, frozen_ms=60000, qty_limit='1', delta_limit='0.5', kill_switch_ms=30000)
    assert [(r['path'], r['params']['underlying']) for r in result['requests']] == [
        ('/eapi/v1/mmpSet', 'BTCUSDT'), ('/eapi/v1/mmpSet', 'ETHUSDT'), ('/eapi/v1/countdownCancelAll', 'ETHUSDT')]


def test_rendered_sends_nothing_and_needs_no_credentials():
    # no fake exchange: any request would fail (responses is not active, and the host does not exist)
    options = dict(params(state='rendered', config=[BTC, ETH]), api_key=None, api_secret=None,
                   base_url='https://eapi.invalid')
    result, warnings, failed = task_result(CORE, options)
    assert not failed, result
    assert result['rendered'] == [
        dict(method='POST', path='/eapi/v1/mmpSet', params=dict(underlying='BTCUSDT', windowTimeInMilliseconds=3000,
                                                                frozenTimeInMilliseconds=300000, qtyLimit='2.5',
                                                                deltaLimit='2.3')),
        dict(method='POST', path='/eapi/v1/mmpSet', params=dict(underlying='ETHUSDT', windowTimeInMilliseconds=5000,
                                                                frozenTimeInMilliseconds=60000, qtyLimit='1',
                                                                deltaLimit='0.5')),
        dict(method='POST', path='/eapi/v1/countdownCancelAll', params=dict(underlying='ETHUSDT', countdownTime=30000))]
    assert result['changed'] is False and 'requests' not in result
    # an incomplete item cannot be rendered
    result, warnings, failed = task_result(CORE, dict(options, config=[dict(underlying='BTCUSDT')]))
    assert failed and result['option'] == 'config[1].window_ms'
    # every other state needs the credentials
    result, warnings, failed = task_result(CORE, dict(options, state='replaced'))
    assert failed and 'missing required arguments: api_key' in result['msg']


def test_gathered_reads_every_listed_underlying_and_round_trips_through_replaced(exchange):
    exchange.configure('BTCUSDT', 3000, 300000, '2.50000000', '2.3')
    exchange.configure('SOLUSDT', 1000, 0, '0.1', '7')
    exchange.countdowns.update(SOLUSDT=60000, ETHUSDT=9000)  # ETHUSDT's MMP is not configured
    result, warnings, failed = run(state='gathered')
    assert not failed and not result['changed'] and exchange.posts == []
    assert result['gathered'] == [
        dict(underlying='BTCUSDT', window_ms=3000, frozen_ms=300000, qty_limit='2.5', delta_limit='2.3'),
        dict(underlying='SOLUSDT', window_ms=1000, frozen_ms=0, qty_limit='0.1', delta_limit='7', kill_switch_ms=60000)]
    assert paths(exchange) == [('GET', '/eapi/v1/exchangeInfo')] + [('GET', '/eapi/v1/mmp')] * 3 + [
        ('GET', '/eapi/v1/countdownCancelAll')] * 2
    start = len(exchange.journal)
    again, warnings, failed = run(state='replaced', config=json.loads(json.dumps(result['gathered'])))
    assert not failed and not again['changed'] and again['requests'] == [] and exchange.posts == []
    assert len(paths(exchange, start)) == 3  # two MMP reads, one kill-switch read
    result, warnings, failed = run(state='gathered', config=[BTC])
    assert failed and result['option'] == 'config'


def test_an_answer_that_differs_fails_naming_the_underlying_and_what_was_applied(exchange):
    def write(ex, request):
        status, out = ex._set_mmp(urlsplit(request.url).query, request.body or '', request)
        return status, {}, out

    def clamp(ex, request):  # the exchange silently keeps another delta limit
        write(ex, request)
        ex.state['ETHUSDT']['deltaLimit'] = '0.1'
        return 200, {}, ex._answer('ETHUSDT')
    exchange.configure('SOLUSDT', 1, 1, '1', '1')
    result, warnings, failed = run(state='replaced', config=[BTC])
    assert not failed and result['changed']
    exchange.add_fault('POST', '/eapi/v1/mmpSet', write)  # BTCUSDT's, as usual
    exchange.add_fault('POST', '/eapi/v1/mmpSet', clamp)  # ETHUSDT's
    result, warnings, failed = run(state='replaced', config=[
        dict(BTC, qty_limit=9), ETH, dict(underlying='SOLUSDT', window_ms=2, frozen_ms=1, qty_limit=1, delta_limit=1)])
    assert failed and result['changed'] is True
    assert result['msg'].startswith('account acct-b: MMP configs ETHUSDT: the exchange did not apply the requested '
                                    'MMP config for ETHUSDT'), result['msg']
    assert 'applied before this failure: BTCUSDT; not attempted: SOLUSDT' in result['msg']
    assert result['asked']['delta_limit'] == '0.5' and result['exchange']['delta_limit'] == '0.1'
    assert [r['params']['underlying'] for r in result['requests']] == ['BTCUSDT']
    assert exchange.countdowns == {} and exchange.state['SOLUSDT']['windowTimeInMilliseconds'] == 1


def test_an_unknown_outcome_is_read_back(exchange, sleeps):
    exchange.add_fault('POST', '/eapi/v1/mmpSet', answer(503, UNKNOWN))
    result, warnings, failed = run(state='replaced', config=[BTC])
    assert not failed and result['changed'] and exchange.state['BTCUSDT']['qtyLimit'] == '2.5'
    assert [p for m, p in paths(exchange)] == ['/eapi/v1/mmp', '/eapi/v1/mmpSet', '/eapi/v1/mmp', '/eapi/v1/mmpSet']
    assert [w for w in warnings if 'read back' in w]


@pytest.mark.parametrize('state', ['merged', 'replaced'])
def test_a_read_failure_names_the_underlying(exchange, state):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(400, {'code': -1128, 'msg': 'Invalid underlying.'}))
    result, warnings, failed = run(state=state, config=[dict(BTC, underlying='FOOUSDT')])
    assert failed and result['msg'].startswith('account acct-b: MMP FOOUSDT: ') and result['code'] == -1128
