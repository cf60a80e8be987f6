# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit report filters: statuses and their precedence, decimals, errors, Markdown."""

from __future__ import annotations

import pytest

from ansible_collections.marketops.mmp.plugins.filter.mmp_audit import mmp_audit_markdown, mmp_audit_report


def entry(underlying, window_ms=3000, frozen_ms=300000, qty_limit='2', delta_limit='2.3', last_trigger_time=0,
          frozen=False, frozen_until=None):
    return dict(underlying=underlying, window_ms=window_ms, frozen_ms=frozen_ms, qty_limit=qty_limit,
                delta_limit=delta_limit, last_trigger_time=last_trigger_time, configured=window_ms > 0,
                triggered=last_trigger_time > 0, frozen=frozen, frozen_until=frozen_until)


def host(mmp, kill=None, configs=None, defaults=None, state=None):
    hv = dict(binance_mmp_defaults=defaults or dict(window_ms=3000, frozen_ms=300000), binance_mmp_configs=configs or [])
    hv['binance_audit_state'] = state if state is not None else dict(
        changed=False, mmp=mmp, kill_switch=[dict(underlying=m['underlying'], countdown_ms=(kill or {}).get(
            m['underlying'], 0)) for m in mmp])
    return hv


def test_statuses_and_precedence():
    hostvars = {
        'a': host([entry('BTCUSDT', qty_limit='2.00000000'), entry('ETHUSDT', qty_limit='3'),
                   entry('SOLUSDT', last_trigger_time=1700000000000, frozen=True, frozen_until=1700000300000,
                         qty_limit='9'),
                   entry('XRPUSDT', last_trigger_time=1700000000000),
                   entry('BNBUSDT', window_ms=0, qty_limit='0', delta_limit='0', frozen_ms=0),
                   entry('DOGEUSDT', window_ms=0, qty_limit='0', delta_limit='0', frozen_ms=0)],
                  kill={'BTCUSDT': 30000, 'DOGEUSDT': 5000},
                  configs=[dict(underlying='btcusdt', qty_limit=2.0, delta_limit='2.30', kill_switch_ms=30000),
                           dict(underlying='ETHUSDT', qty_limit='2', delta_limit='2.3'),
                           dict(underlying='SOLUSDT', qty_limit='2', delta_limit='2.3'),
                           dict(underlying='XRPUSDT', qty_limit='2', delta_limit='2.3'),
                           dict(underlying='LTCUSDT', qty_limit='2', delta_limit='2.3')]),
        'b': host([], state=dict(failed=True, msg='account b: MMP info: GET /eapi/v1/exchangeInfo: HTTP 500')),
    }
    report = mmp_audit_report(hostvars, ['a', 'b'], '2026-01-01T00:00:00Z')
    rows = {(r['account'], r['underlying']): r for r in report['rows']}
    assert rows[('a', 'BTCUSDT')]['status'] == 'in_sync'  # decimals, case, kill-switch equal
    assert rows[('a', 'ETHUSDT')]['drift'] == [dict(field='qty_limit', desired='2', exchange='3')]
    sol = rows[('a', 'SOLUSDT')]
    assert sol['status'] == 'frozen' and 'frozen until 2023-11-14T22:18:20Z' in sol['detail']
    assert 'drift: qty_limit desired 2, exchange 9' in sol['detail']  # frozen wins, the drift is still shown
    assert rows[('a', 'XRPUSDT')]['status'] == 'triggered'
    assert rows[('a', 'BNBUSDT')]['status'] == 'not_configured'
    assert rows[('a', 'DOGEUSDT')]['status'] == 'unmanaged' and 'kill_switch_ms 5000' in rows[('a', 'DOGEUSDT')]['detail']
    assert rows[('a', 'LTCUSDT')]['status'] == 'missing' and 'does not list' in rows[('a', 'LTCUSDT')]['detail']
    assert rows[('b', None)]['status'] == 'error' and rows[('b', None)]['detail'].startswith('account b: ')
    assert report['counts'] == dict(in_sync=1, missing=1, drift=1, frozen=1, triggered=1, not_configured=1, unmanaged=1,
                                    error=1)
    assert report['alarm'] == 3 and report['errors'] == 1 and report['accounts'] == 2
    markdown = mmp_audit_markdown(report)
    assert markdown.index('| drift | 1 |') < markdown.index('| account | venue | scope |')
    assert '| a | binance | ETHUSDT | drift | drift: qty_limit desired 2, exchange 3 |' in markdown
    assert '| b | binance | - | error | account b: MMP info: GET /eapi/v1/exchangeInfo: HTTP 500 |' in markdown


def test_missing_is_not_drift():
    """Desired but never configured on the exchange (binance_mmp_info: configured false, zeros) is missing."""
    zeros = dict(window_ms=0, frozen_ms=0, qty_limit='0', delta_limit='0')
    want = dict(qty_limit='2', delta_limit='2.3')
    hostvars = {'a': host([entry('BTCUSDT'), entry('ETHUSDT', qty_limit='3'), entry('SOLUSDT', **zeros),
                           entry('XRPUSDT', **zeros), entry('BNBUSDT', **zeros), entry('ADAUSDT'),
                           entry('DOGEUSDT', **zeros), entry('TRXUSDT'),
                           entry('AVAXUSDT', last_trigger_time=1700000000000, **zeros)],
                          kill={'BNBUSDT': 30000},
                          configs=[dict(want, underlying='BTCUSDT'), dict(want, underlying='ETHUSDT'),
                                   dict(want, underlying='SOLUSDT'),
                                   dict(want, underlying='XRPUSDT', kill_switch_ms=30000),
                                   dict(want, underlying='BNBUSDT', kill_switch_ms=30000),
                                   dict(want, underlying='TRXUSDT', kill_switch_ms=30000),
                                   dict(want, underlying='AVAXUSDT')])}
    report = mmp_audit_report(hostvars, ['a'], '2026-01-01T00:00:00Z')
    rows = {r['underlying']: r for r in report['rows']}
    status = dict((u, r['status']) for u, r in rows.items())
    assert status == dict(BTCUSDT='in_sync', ETHUSDT='drift', SOLUSDT='missing', XRPUSDT='missing', BNBUSDT='missing',
                          ADAUSDT='unmanaged', DOGEUSDT='not_configured', TRXUSDT='drift', AVAXUSDT='missing')
    sol = rows['SOLUSDT']
    # the MMP fields are not listed as drifting against the zeros of an unconfigured underlying
    assert sol['drift'] == [] and sol['exchange']['configured'] is False
    assert sol['desired'] == dict(window_ms='3000', frozen_ms='300000', qty_limit='2', delta_limit='2.3')
    assert sol['detail'] == 'not configured on the exchange; inventory: window_ms 3000, frozen_ms 300000, qty_limit 2, ' \
                            'delta_limit 2.3'
    # the kill-switch of a missing row is still compared, and shown as drift in the row
    assert rows['XRPUSDT']['drift'] == [dict(field='kill_switch_ms', desired='30000', exchange=0)]
    assert rows['XRPUSDT']['detail'].endswith('; drift: kill_switch_ms desired 30000, exchange 0')
    assert rows['BNBUSDT']['drift'] == [] and 'drift' not in rows['BNBUSDT']['detail']
    # MMP in sync, kill-switch desired but none active: drift, as before (0 is "off", not "not configured")
    assert rows['TRXUSDT']['drift'] == [dict(field='kill_switch_ms', desired='30000', exchange=0)]
    assert 'last triggered' not in rows['AVAXUSDT']['detail']  # missing wins over triggered
    assert report['counts'] == dict(in_sync=1, missing=4, drift=2, frozen=0, triggered=0, not_configured=1,
                                    unmanaged=1, error=0)
    assert report['alarm'] == 6  # missing counts as an alarm, as drift and frozen do
    assert report['summary'] == 'in sync 1, missing 4, drift 2, frozen 0, triggered 0, not configured 1, ' \
                                'unmanaged 1, error 0'
    markdown = mmp_audit_markdown(report)
    head = markdown.partition('| account | venue | scope |')[0]
    assert '| in sync | 1 |\n| missing | 4 |\n| drift | 2 |\n' in head
    assert '| a | binance | SOLUSDT | missing | not configured on the exchange; inventory: window_ms 3000' in markdown
    assert '| a | binance | ETHUSDT | drift | drift: qty_limit desired 2, exchange 3 |' in markdown
    legend = markdown.split('Statuses: ')[1]
    assert '*missing*: the inventory has an MMP config that the exchange does not have' in legend
    assert legend.index('*in sync*') < legend.index('*missing*') < legend.index('*drift*')


def test_frozen_wins_over_missing():
    zeros = dict(window_ms=0, frozen_ms=0, qty_limit='0', delta_limit='0')
    hostvars = {'a': host([entry('BTCUSDT', last_trigger_time=1700000000000, frozen=True, **zeros)],
                          configs=[dict(underlying='BTCUSDT', qty_limit='2', delta_limit='2.3')])}
    (row,) = mmp_audit_report(hostvars, ['a'])['rows']
    assert row['status'] == 'frozen' and 'not configured on the exchange' in row['detail']


def test_unread_account_and_bad_inventory_are_errors():
    hostvars = {'never-read': {'binance_mmp_configs': []},
                'bad-configs': host([entry('BTCUSDT')], configs=[dict(qty_limit='1')])}
    report = mmp_audit_report(hostvars, ['never-read', 'bad-configs'])
    assert [r['status'] for r in report['rows']] == ['error', 'error']
    assert 'no state was read' in report['rows'][0]['detail'] and 'needs an underlying' in report['rows'][1]['detail']


def test_markdown_cells_are_escaped():
    report = mmp_audit_report({'a|b': host([], state=dict(failed=True, msg='x | y\nz'))}, ['a|b'])
    assert '| a\\|b | binance | - | error | x \\| y z |' in mmp_audit_markdown(report)


def deribit_entry(index_name, mmp_group=None, block_rfq=False, window_s=10, frozen_s=30, qty_limit='2', delta_limit=None,
                  vega_limit=None, max_quote_qty=None, trade_count_limit=None, frozen=False, frozen_until=None):
    return dict(index_name=index_name, mmp_group=mmp_group, block_rfq=block_rfq, window_s=window_s, frozen_s=frozen_s,
                qty_limit=qty_limit, delta_limit=delta_limit, vega_limit=vega_limit, max_quote_qty=max_quote_qty,
                trade_count_limit=trade_count_limit, frozen=frozen, frozen_until=frozen_until)


def test_one_report_for_a_mixed_fleet_with_deribit_scopes():
    hostvars = {
        'bin': host([entry('BTCUSDT')], configs=[dict(underlying='BTCUSDT', qty_limit='2', delta_limit='2.3')]),
        'der': dict(mmp_venue='deribit', deribit_mmp_defaults=dict(window_s=10, frozen_s=30),
                    deribit_mmp_configs=[
                        dict(index_name='BTC_USD', qty_limit=2.0),                       # in sync (decimals, case)
                        dict(index_name='eth_usd', qty_limit='5'),                       # drift: vega set on the exchange
                        dict(index_name='eth_usd', mmp_group='q1', qty_limit='1'),       # missing
                        dict(index_name='all', block_rfq=True, qty_limit='9', trade_count_limit=5),  # frozen
                        dict(index_name='sol_usdc', state='absent'),                    # drift: should be removed
                        dict(index_name='xrp_usdc', state='absent')],                   # in sync: none wanted, none
                    deribit_audit_state=dict(changed=False, mmp=[
                        deribit_entry('btc_usd'),
                        deribit_entry('eth_usd', qty_limit='5', vega_limit='100'),
                        deribit_entry('all', block_rfq=True, qty_limit='9', trade_count_limit=5, frozen=True),
                        deribit_entry('sol_usdc'),
                        deribit_entry('ada_usdc', mmp_group='m')])),
        'bad': dict(mmp_venue='kraken'),
    }
    report = mmp_audit_report(hostvars, ['bin', 'der', 'bad'], '2026-01-01T00:00:00Z')
    rows = {(r['account'], r['scope']): r for r in report['rows']}
    assert rows[('bin', 'BTCUSDT')]['venue'] == 'binance' and rows[('bin', 'BTCUSDT')]['status'] == 'in_sync'
    status = dict((scope, r['status']) for (account, scope), r in rows.items() if account == 'der')
    assert status == {'btc_usd': 'in_sync', 'eth_usd': 'drift', 'eth_usd group q1': 'missing',
                      'all Block RFQ': 'frozen', 'sol_usdc': 'drift', 'ada_usdc group m': 'unmanaged',
                      'xrp_usdc': 'in_sync'}
    eth = rows[('der', 'eth_usd')]
    assert eth['venue'] == 'deribit' and eth['index_name'] == 'eth_usd' and eth['mmp_group'] is None
    assert eth['drift'] == [dict(field='vega_limit', desired=None, exchange='100')]
    assert 'frozen until a manual reset' in rows[('der', 'all Block RFQ')]['detail']
    assert 'removes this config' in rows[('der', 'sol_usdc')]['detail']
    assert rows[('bad', None)]['status'] == 'error' and 'kraken' in rows[('bad', None)]['detail']
    assert report['counts']['missing'] == 1 and report['alarm'] == 4
    markdown = mmp_audit_markdown(report)
    assert '| der | deribit | eth_usd group q1 | missing | not configured on the exchange; inventory: window_s 10, ' \
           'frozen_s 30, qty_limit 1 |' in markdown


def test_a_deribit_inventory_it_cannot_read_is_an_error_row():
    hostvars = {'der': dict(mmp_venue='deribit', deribit_mmp_configs=[dict(qty_limit=1)],
                            deribit_audit_state=dict(mmp=[]))}
    (row,) = mmp_audit_report(hostvars, ['der'])['rows']
    assert row['status'] == 'error' and 'needs an index_name' in row['detail']


@pytest.mark.parametrize('block_rfq', [True, 'yes', 'on', 'true', 1, 'True'])
def test_the_audit_reads_block_rfq_as_the_module_does(block_rfq):
    """Any Ansible boolean: the config applied with block_rfq true is the one the item means (in sync), not a missing
    default-pool config beside an unmanaged Block RFQ one."""
    item = dict(index_name='all', block_rfq=block_rfq, window_s=10, frozen_s=30, qty_limit='2')
    hostvars = {'der': dict(mmp_venue='deribit', deribit_mmp_configs=[item],
                            deribit_audit_state=dict(mmp=[deribit_entry('all', block_rfq=True)]))}
    (row,) = mmp_audit_report(hostvars, ['der'])['rows']
    assert (row['scope'], row['status'], row['block_rfq']) == ('all Block RFQ', 'in_sync', True)


@pytest.mark.parametrize('block_rfq', [False, 'no', 'off', 0, None])
def test_a_false_block_rfq_is_the_default_pool(block_rfq):
    item = dict(index_name='btc_usd', block_rfq=block_rfq, window_s=10, frozen_s=30, qty_limit='2')
    hostvars = {'der': dict(mmp_venue='deribit', deribit_mmp_configs=[item],
                            deribit_audit_state=dict(mmp=[deribit_entry('btc_usd')]))}
    (row,) = mmp_audit_report(hostvars, ['der'])['rows']
    assert (row['scope'], row['status'], row['block_rfq']) == ('btc_usd', 'in_sync', False)


def test_an_item_the_module_would_refuse_is_an_error_row_naming_it():
    hostvars = {'bin': host([entry('BTCUSDT')], configs=[dict(underlying='BTCUSDT', qty_limit='2', delta_limit='2.3'),
                                                         dict(underlying='BTC-USDT', qty_limit='2', delta_limit='2.3')]),
                'der': dict(mmp_venue='deribit', deribit_audit_state=dict(mmp=[]),
                            deribit_mmp_configs=[dict(index_name='btc_usd', block_rfq='maybe')])}
    rows = dict((r['account'], r) for r in mmp_audit_report(hostvars, ['bin', 'der'])['rows'])
    assert rows['bin']['status'] == 'error' and rows['bin']['detail'] == (
        "binance_mmp_configs item #2: underlying: got 'BTC-USDT'; letters and digits only (1 to 32), such as BTCUSDT")
    assert rows['der']['status'] == 'error' and rows['der']['detail'].startswith(
        "deribit_mmp_configs item #1: block_rfq: got 'maybe'; a boolean")
