# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Operating MMP through real ansible-playbook runs, both paths: info, reset, kill-switch, the fleet audit."""

from __future__ import annotations

import json
import re
import time

import pytest

from ansible_collections.marketops.mmp.tests.e2e.conftest import PATHS, config, host_vars

pytestmark = pytest.mark.parametrize('path', PATHS)

UNDERLYINGS = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT', 'DOGEUSDT']  # the emulator's, in its order
AUTH_DEFAULTS = {
    'account': '{{ inventory_hostname }}',
    'api_key': '{{ binance_api_key }}',
    'api_secret': '{{ binance_api_secret | default(omit) }}',
    'private_key': '{{ binance_private_key | default(omit) }}',
    'private_key_passphrase': '{{ binance_private_key_passphrase | default(omit) }}',
    'base_url': '{{ binance_base_url }}',
}


def write_playbook(tmp_path, tasks, name='operate.yml'):
    """A play over the account hosts with the collection's action group defaults; JSON is YAML."""
    play = [{'name': 'Operate MMP', 'hosts': 'binance_accounts', 'gather_facts': False,
             'module_defaults': {'group/marketops.mmp.binance': AUTH_DEFAULTS}, 'tasks': tasks}]
    path = tmp_path / name
    path.write_text(json.dumps(play))
    return str(path)


def now_ms():
    return int(time.time() * 1000)


def requests_to(emulator, path, method=None):
    return [j for j in emulator.journal if j['path'] == path and (method is None or j['method'] == method)]


def posts(emulator):
    return [j for j in emulator.journal if j['method'] == 'POST']


def setup_mixed_account(emulator, api_key):
    """configured, never configured, triggered and frozen (manual / timed), triggered and thawed, kill-switch on/off."""
    emulator.set_state(dict(api_key=api_key, underlying='BTCUSDT', window_ms=3000, frozen_ms=0, qty_limit='2',
                            delta_limit='2.3'))
    emulator.trigger(dict(api_key=api_key, underlying='BTCUSDT', at_ms=now_ms() - 3600000))      # frozen, manual
    emulator.set_state(dict(api_key=api_key, underlying='ETHUSDT', window_ms=1500, frozen_ms=600000, qty_limit='25',
                            delta_limit='30'))
    emulator.trigger(dict(api_key=api_key, underlying='ETHUSDT', at_ms=now_ms() - 60000))         # frozen, 9 min left
    emulator.set_state(dict(api_key=api_key, underlying='SOLUSDT', window_ms=1000, frozen_ms=60000, qty_limit='400',
                            delta_limit='500', last_trigger_time=now_ms() - 120000))              # thawed
    emulator.set_state(dict(api_key=api_key, underlying='XRPUSDT', window_ms=5000, frozen_ms=1000, qty_limit='0.5',
                            delta_limit='1'))                                                     # never triggered
    emulator.set_countdown(dict(api_key=api_key, underlying='ETHUSDT', countdown_ms=30000))
    emulator.set_countdown(dict(api_key=api_key, underlying='BTCUSDT', countdown_ms=0))


@pytest.mark.parametrize('shape', ['object', 'list'])
def test_info_over_a_mixed_account(path, shape, emulator, accounts, run_playbook, tmp_path):
    emulator.settings['countdown_get_shape'] = shape
    setup_mixed_account(emulator, accounts['hmac-a']['api_key'])
    playbook = write_playbook(tmp_path, [{'name': 'Read', 'marketops.mmp.binance_mmp_info': None}])
    hosts = {'hmac-a': host_vars(accounts['hmac-a'], emulator.url, [])}
    run = run_playbook(hosts, path=path, playbook=playbook)
    assert run.rc == 0, run.output
    (record,) = run.for_host('hmac-a', task='Read')
    result = record['result']
    assert result['changed'] is False and record['status'] == 'ok'
    mmp = {m['underlying']: m for m in result['mmp']}
    assert list(mmp) == UNDERLYINGS  # every underlying exchangeInfo lists, in its order
    btc, eth, sol, xrp, bnb = (mmp[u] for u in ('BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT', 'BNBUSDT'))
    assert (btc['configured'], btc['triggered'], btc['frozen'], btc['frozen_until']) == (True, True, True, None)
    assert btc['qty_limit'] == '2' and btc['delta_limit'] == '2.3' and btc['frozen_ms'] == 0
    assert (eth['triggered'], eth['frozen']) == (True, True)
    assert eth['frozen_until'] == eth['last_trigger_time'] + 600000
    assert (sol['triggered'], sol['frozen'], sol['frozen_until']) == (True, False, None)
    assert (xrp['configured'], xrp['triggered'], xrp['frozen']) == (True, False, False) and xrp['qty_limit'] == '0.5'
    assert (bnb['configured'], bnb['triggered'], bnb['window_ms']) == (False, False, 0)
    state = emulator.state()['mmp']['hmac-a']
    for underlying, entry in mmp.items():
        if underlying in state:
            assert entry['last_trigger_time'] == state[underlying]['lastTriggerTime']
            assert entry['window_ms'] == state[underlying]['windowTimeInMilliseconds']
    assert result['kill_switch'] == [dict(underlying=u, countdown_ms=30000 if u == 'ETHUSDT' else 0)
                                     for u in UNDERLYINGS]
    # one exchangeInfo, then one MMP read and one kill-switch read per underlying; nothing written
    assert len(requests_to(emulator, '/eapi/v1/exchangeInfo')) == 1
    assert len(requests_to(emulator, '/eapi/v1/mmp')) == 6 and len(requests_to(emulator, '/eapi/v1/countdownCancelAll')) == 6
    assert posts(emulator) == [] and len(emulator.journal) == 13


def test_reset_playbook_only_frozen_check_then_apply_then_ok(path, emulator, accounts, run_playbook):
    setup_mixed_account(emulator, accounts['hmac-a']['api_key'])
    hosts = {'hmac-a': host_vars(accounts['hmac-a'], emulator.url, []),
             'hmac-b': host_vars(accounts['hmac-b'], emulator.url, [])}
    task = 'Reset each frozen underlying'

    check = run_playbook(hosts, '--check', path=path, playbook='marketops.mmp.reset_mmp')
    assert check.rc == 0, check.output
    assert sorted(r['result']['item']['underlying'] for r in check.for_host('hmac-a', task=task)
                  if r['result']['changed']) == ['BTCUSDT', 'ETHUSDT']
    assert check.for_host('hmac-b', task=task) == []
    assert posts(emulator) == []  # --check lists, sends nothing
    assert 'changed: [hmac-a] => (item=BTCUSDT)' in check.output

    emulator.journal.clear()
    run = run_playbook(hosts, '-l', 'hmac-a', path=path, playbook='marketops.mmp.reset_mmp')
    assert run.rc == 0, run.output
    items = {r['result']['item']['underlying']: r['result'] for r in run.for_host('hmac-a', task=task)}
    assert sorted(items) == ['BTCUSDT', 'ETHUSDT']
    assert all(r['changed'] and r['was_frozen'] for r in items.values())
    assert items['BTCUSDT']['config']['last_trigger_time'] == 0
    assert sorted(j['params']['underlying'] for j in posts(emulator)) == ['BTCUSDT', 'ETHUSDT']
    assert {j['account'] for j in emulator.journal} - {None} == {'hmac-a'}  # the limit holds
    state = emulator.state()['mmp']['hmac-a']
    assert state['SOLUSDT']['lastTriggerTime'] > 0  # thawed: not reset
    assert state['BTCUSDT']['windowTimeInMilliseconds'] == 3000  # a reset keeps the config

    emulator.journal.clear()
    again = run_playbook(hosts, '-l', 'hmac-a', path=path, playbook='marketops.mmp.reset_mmp')
    assert again.rc == 0 and again.recap()['hmac-a']['changed'] == 0, again.output
    assert posts(emulator) == []


def test_reset_module_only_if_frozen_false_and_selected_underlyings(path, emulator, accounts, run_playbook, tmp_path):
    setup_mixed_account(emulator, accounts['hmac-a']['api_key'])
    playbook = write_playbook(tmp_path, [
        {'name': 'Reset always',
         'marketops.mmp.binance_mmp_reset': {'underlying': 'solusdt', 'only_if_frozen': False}},
        {'name': 'Reset if frozen', 'marketops.mmp.binance_mmp_reset': {'underlying': 'XRPUSDT'}},
    ])
    run = run_playbook({'hmac-a': host_vars(accounts['hmac-a'], emulator.url, [])}, '--diff', path=path,
                       playbook=playbook)
    assert run.rc == 0, run.output
    (always,) = run.for_host('hmac-a', task='Reset always')
    (if_frozen,) = run.for_host('hmac-a', task='Reset if frozen')
    assert always['result']['changed'] is True and always['result']['was_frozen'] is False
    assert always['result']['diff']['before']['last_trigger_time'] > 0
    assert if_frozen['result']['changed'] is False and if_frozen['result']['was_frozen'] is False
    assert [j['params']['underlying'] for j in posts(emulator)] == ['SOLUSDT']


@pytest.mark.parametrize('shape', ['object', 'list'])
def test_kill_switch_through_apply_is_idempotent(path, shape, emulator, accounts, run_playbook):
    emulator.settings['countdown_get_shape'] = shape
    api_key = accounts['hmac-a']['api_key']
    emulator.set_countdown(dict(api_key=api_key, underlying='SOLUSDT', countdown_ms=60000))  # not managed: untouched
    emulator.set_countdown(dict(api_key=api_key, underlying='ETHUSDT', countdown_ms=20000))
    configs = [dict(config('BTCUSDT'), kill_switch_ms=30000), dict(config('ETHUSDT'), kill_switch_ms=0),
               config('SOLUSDT')]
    hosts = {'hmac-a': host_vars(accounts['hmac-a'], emulator.url, configs)}
    task = 'Apply the kill-switch of each underlying that sets kill_switch_ms'

    check = run_playbook(hosts, '--check', '--diff', path=path)
    assert check.rc == 0, check.output
    assert [r['result']['changed'] for r in check.for_host('hmac-a', task=task)] == [True, True]
    assert posts(emulator) == []  # check mode writes nothing, MMP or kill-switch

    first = run_playbook(hosts, '--diff', path=path)
    assert first.rc == 0, first.output
    results = {r['result']['item']['underlying']: r['result'] for r in first.for_host('hmac-a', task=task)}
    assert results['BTCUSDT']['changed']
    assert results['BTCUSDT']['config'] == dict(underlying='BTCUSDT', countdown_ms=30000)
    assert results['ETHUSDT']['changed'] and results['ETHUSDT']['config']['countdown_ms'] == 0
    # ansible-core < 2.19 wraps a warning over several lines
    assert re.search(r'\[WARNING\]: account hmac-a: kill-switch of BTCUSDT set to 30000 ms: every open order',
                     ' '.join(first.output.split())), first.output
    countdown = emulator.state()['countdown']
    assert countdown['hmac-a/BTCUSDT'] == 30000 and countdown['hmac-a/ETHUSDT'] == 0
    assert countdown['hmac-a/SOLUSDT'] == 60000

    emulator.journal.clear()
    second = run_playbook(hosts, '--diff', path=path)
    assert second.rc == 0 and second.recap()['hmac-a']['changed'] == 0, second.output
    assert posts(emulator) == []
    assert len(requests_to(emulator, '/eapi/v1/countdownCancelAll')) == 2  # one read per managed kill-switch


def desired_fleet(accounts, url):
    """hmac-a: BTCUSDT in sync, ETHUSDT qty drift + kill-switch drift, SOLUSDT frozen; hmac-b: BTCUSDT missing
    (the emulator never configured it)."""
    return {
        'hmac-a': host_vars(accounts['hmac-a'], url, [config('BTCUSDT', qty_limit='2.0'),
                                                      dict(config('ETHUSDT', qty_limit='25'), kill_switch_ms=30000),
                                                      config('SOLUSDT', frozen_ms=600000)]),
        'hmac-b': host_vars(accounts['hmac-b'], url, [config('BTCUSDT')]),
    }


def setup_fleet(emulator, accounts):
    a, b = accounts['hmac-a']['api_key'], accounts['hmac-b']['api_key']
    emulator.set_state(dict(api_key=a, underlying='BTCUSDT', window_ms=3000, frozen_ms=300000, qty_limit='2',
                            delta_limit='2.3'))
    emulator.set_state(dict(api_key=a, underlying='ETHUSDT', window_ms=3000, frozen_ms=300000, qty_limit='20',
                            delta_limit='2.3'))
    emulator.set_state(dict(api_key=a, underlying='SOLUSDT', window_ms=3000, frozen_ms=600000, qty_limit='2',
                            delta_limit='2.3'))
    emulator.trigger(dict(api_key=a, underlying='SOLUSDT', at_ms=now_ms() - 60000))
    emulator.set_state(dict(api_key=b, underlying='XRPUSDT', window_ms=100, frozen_ms=0, qty_limit='1',
                            delta_limit='1'))


def test_audit_report_matches_the_exchange(path, emulator, accounts, run_playbook, tmp_path):
    setup_fleet(emulator, accounts)
    out = tmp_path / 'audit'
    # --check: the audit is read-only anyway, and its report (a local file) is written in check mode too
    run = run_playbook(desired_fleet(accounts, emulator.url), '--check', '-e', 'binance_audit_dir=%s' % out,
                       path=path, forks=2, playbook='marketops.mmp.audit_mmp')
    assert run.rc == 0, run.output
    report = json.loads((out / 'report.json').read_text())
    markdown = (out / 'report.md').read_text()
    rows = {(r['account'], r['underlying']): r for r in report['rows']}
    assert len(rows) == 12 and report['accounts'] == 2
    state = emulator.state()
    # every row's exchange side is what the emulator holds, field by field
    for (account, underlying), row in rows.items():
        held = state['mmp'].get(account, {}).get(underlying)
        exchange = row['exchange']
        if held:
            assert exchange['window_ms'] == held['windowTimeInMilliseconds']
            assert exchange['frozen_ms'] == held['frozenTimeInMilliseconds']
            assert exchange['last_trigger_time'] == held['lastTriggerTime']
            assert float(exchange['qty_limit']) == float(held['qtyLimit'])
            assert float(exchange['delta_limit']) == float(held['deltaLimit'])
        else:
            assert exchange['window_ms'] == 0 and exchange['configured'] is False
        assert exchange['kill_switch_ms'] == state['countdown'].get('%s/%s' % (account, underlying), 0)
    assert rows[('hmac-a', 'BTCUSDT')]['status'] == 'in_sync'
    eth = rows[('hmac-a', 'ETHUSDT')]
    assert eth['status'] == 'drift'
    assert eth['drift'] == [dict(field='qty_limit', desired='25', exchange='20'),
                            dict(field='kill_switch_ms', desired='30000', exchange=0)]
    sol = rows[('hmac-a', 'SOLUSDT')]
    assert sol['status'] == 'frozen' and sol['exchange']['frozen_until'] == sol['exchange']['last_trigger_time'] + 600000
    assert 'frozen until 20' in sol['detail']
    # desired, never configured on the exchange: missing, not drift on every field against the exchange's zeros
    missing = rows[('hmac-b', 'BTCUSDT')]
    assert 'BTCUSDT' not in state['mmp'].get('hmac-b', {})
    assert missing['status'] == 'missing' and missing['drift'] == [] and missing['exchange']['configured'] is False
    assert missing['desired'] == dict(window_ms='3000', frozen_ms='300000', qty_limit='2', delta_limit='2.3')
    assert missing['detail'] == 'not configured on the exchange; inventory: window_ms 3000, frozen_ms 300000, ' \
                                'qty_limit 2, delta_limit 2.3'
    assert rows[('hmac-b', 'XRPUSDT')]['status'] == 'unmanaged' and 'window_ms 100' in rows[('hmac-b', 'XRPUSDT')]['detail']
    assert rows[('hmac-a', 'DOGEUSDT')]['status'] == 'not_configured'
    assert report['counts'] == dict(in_sync=1, missing=1, drift=1, frozen=1, triggered=0, not_configured=7,
                                    unmanaged=1, error=0)
    assert report['alarm'] == 3  # missing, drift and frozen
    # report.md: counts at the top, then the table, then the legend
    head = markdown.split('| account |')[0]
    assert '| in sync | 1 |\n| missing | 1 |\n| drift | 1 |\n| frozen | 1 |' in head
    assert '| hmac-b | binance | BTCUSDT | missing | not configured on the exchange; inventory: window_ms 3000, ' in markdown
    assert '*missing*: the inventory has an MMP config that the exchange does not have' in markdown.split('Statuses: ')[1]
    assert '| hmac-a | binance | ETHUSDT | drift | drift: qty_limit desired 25, exchange 20, kill_switch_ms desired ' \
           '30000, exchange 0 |' in markdown
    # read-only, and one request per underlying and account plus the kill-switch reads
    assert posts(emulator) == []
    assert len(requests_to(emulator, '/eapi/v1/mmp')) == 12
    assert len(requests_to(emulator, '/eapi/v1/countdownCancelAll')) == 12
    assert len(requests_to(emulator, '/eapi/v1/exchangeInfo')) == 2
    assert 'MMP audit of 2 accounts written to %s' % out in run.output
    assert 'in sync 1, missing 1, drift 1, frozen 1, triggered 0, not configured 7, unmanaged 1, error 0' in run.output


def test_audit_fail_on_drift_fails_at_the_end(path, emulator, accounts, run_playbook, tmp_path):
    setup_fleet(emulator, accounts)
    hosts = desired_fleet(accounts, emulator.url)
    out = tmp_path / 'alarm'
    run = run_playbook(hosts, '-e', 'binance_audit_dir=%s' % out, '-e', 'binance_audit_fail_on_drift=true',
                       path=path, playbook='marketops.mmp.audit_mmp')
    assert run.rc != 0
    assert re.search(r'MMP audit: 0 accounts could not be read or compared, 3 configs are missing, drift or are frozen',
                     run.output)
    assert (out / 'report.json').exists() and (out / 'report.md').exists()  # the report is written first

    # in sync (after a reset and an apply): the alarm stays quiet
    emulator.reset()
    apply = run_playbook(hosts, path=path)
    assert apply.rc == 0, apply.output
    quiet = run_playbook(hosts, '-e', 'binance_audit_dir=%s' % (tmp_path / 'quiet'), '-e',
                         'binance_audit_fail_on_drift=true', path=path, playbook='marketops.mmp.audit_mmp')
    assert quiet.rc == 0, quiet.output
    report = json.loads((tmp_path / 'quiet' / 'report.json').read_text())
    assert report['counts']['in_sync'] == 4 and report['alarm'] == 0

    # a config the inventory adds and nobody applied yet is missing, and missing alone fails the run too
    hosts['hmac-a']['binance_mmp_configs'].append(config('XRPUSDT'))
    late = run_playbook(hosts, '-e', 'binance_audit_dir=%s' % (tmp_path / 'late'), '-e',
                        'binance_audit_fail_on_drift=true', path=path, playbook='marketops.mmp.audit_mmp')
    assert late.rc != 0
    assert re.search(r'MMP audit: 0 accounts could not be read or compared, 1 configs are missing, drift or are frozen',
                     late.output)
    report = json.loads((tmp_path / 'late' / 'report.json').read_text())
    assert report['counts']['missing'] == 1 and report['counts']['drift'] == 0 and report['alarm'] == 1
    assert [r['underlying'] for r in report['rows'] if r['status'] == 'missing'] == ['XRPUSDT']


def test_audit_reports_an_unreadable_account_and_fails(path, emulator, accounts, run_playbook, tmp_path):
    hosts = desired_fleet(accounts, emulator.url)
    hosts['not-mm'] = host_vars(accounts['not-mm'], emulator.url, [config()])
    run = run_playbook(hosts, '-e', 'binance_audit_dir=%s' % (tmp_path / 'r'), path=path,
                       playbook='marketops.mmp.audit_mmp')
    assert run.rc != 0
    report = json.loads((tmp_path / 'r' / 'report.json').read_text())
    (error,) = [r for r in report['rows'] if r['status'] == 'error']
    assert error['account'] == 'not-mm' and error['detail'].startswith('account not-mm: MMP BTCUSDT: ')
    assert '-2015' in error['detail']
    assert report['counts']['error'] == 1 and report['errors'] == 1


# Bad input to the new modules: (host, module, args, expected message). Each fails before any request.
BAD_INPUTS = [
    ('ks-short', 'binance_kill_switch', dict(underlying='BTCUSDT', countdown_ms=4999),
     r'^account ks-short: countdown_ms: got 4999; 0 \(off\) or an integer number of milliseconds in \[5000, '),
    ('ks-negative', 'binance_kill_switch', dict(underlying='BTCUSDT', countdown_ms=-1), r'countdown_ms: got -1'),
    ('ks-text', 'binance_kill_switch', dict(underlying='BTCUSDT', countdown_ms='soon'), r'countdown_ms'),
    ('ks-missing', 'binance_kill_switch', dict(underlying='BTCUSDT'), r'missing required arguments: countdown_ms'),
    ('ks-underlying', 'binance_kill_switch', dict(underlying='BTC-USDT', countdown_ms=0),
     r"^account ks-underlying: underlying: got 'BTC-USDT'; letters and digits"),
    ('reset-underlying', 'binance_mmp_reset', dict(underlying='ETH USDT'),
     r"^account reset-underlying: underlying: got 'ETH USDT'"),
    ('reset-flag', 'binance_mmp_reset', dict(underlying='ETHUSDT', only_if_frozen='maybe'), r'only_if_frozen'),
    ('info-underlying', 'binance_mmp_info', dict(underlyings=['BTCUSDT', 'BTC/USDT']),
     r"^account info-underlying: underlyings: got 'BTC/USDT'"),
    ('info-too-many', 'binance_mmp_info', dict(underlyings=['U%d' % n for n in range(201)]),
     r'underlyings: .*at most 200'),
    ('info-unknown-option', 'binance_mmp_info', dict(underlying='BTCUSDT'), r'Unsupported parameters'),
    ('info-recv-window', 'binance_mmp_info', dict(recv_window=0), r'^account info-recv-window: recv_window: got 0'),
]


def test_bad_input_to_the_new_modules_fails_with_zero_requests(path, emulator, accounts, run_playbook, tmp_path):
    options = {'binance_kill_switch': ('underlying', 'countdown_ms'),
               'binance_mmp_reset': ('underlying', 'only_if_frozen'),
               'binance_mmp_info': ('underlyings', 'underlying', 'recv_window')}
    tasks = [{'name': 'Bad %s' % module, 'when': "bad_module == '%s'" % module,
              'marketops.mmp.%s' % module: {o: '{{ bad_args.%s | default(omit) }}' % o for o in names}}
             for module, names in options.items()]
    playbook = write_playbook(tmp_path, tasks)
    hosts = {}
    for host, module, args, _message in BAD_INPUTS:
        hosts[host] = host_vars(accounts['hmac-a'], emulator.url, [], bad_module=module, bad_args=args)
    run = run_playbook(hosts, forks=10, path=path, playbook=playbook)
    assert run.rc != 0
    for host, module, args, message in BAD_INPUTS:
        (record,) = run.for_host(host, task='Bad %s' % module)
        assert record['status'] == 'failed', (host, record)
        assert re.search(message, record['result']['msg']), (host, record['result']['msg'])
    assert len({m for h, m, a, msg in BAD_INPUTS}) == 3 and len(BAD_INPUTS) >= 6
    assert emulator.journal == []
    assert 'Traceback' not in run.output
