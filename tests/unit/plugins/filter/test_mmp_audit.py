# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit report filters: statuses and their precedence, decimals, errors, Markdown."""

from __future__ import annotations

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
    assert markdown.index('| drift | 1 |') < markdown.index('| account | underlying |')
    assert '| a | ETHUSDT | drift | drift: qty_limit desired 2, exchange 3 |' in markdown
    assert '| b | - | error | account b: MMP info: GET /eapi/v1/exchangeInfo: HTTP 500 |' in markdown


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
    head = markdown.partition('| account | underlying |')[0]
    assert '| in sync | 1 |\n| missing | 4 |\n| drift | 2 |\n' in head
    assert '| a | SOLUSDT | missing | not configured on the exchange; inventory: window_ms 3000' in markdown
    assert '| a | ETHUSDT | drift | drift: qty_limit desired 2, exchange 3 |' in markdown
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
    assert '| a\\|b | - | error | x \\| y z |' in mmp_audit_markdown(report)
