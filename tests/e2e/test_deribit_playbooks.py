# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deribit end to end: real ansible-playbook runs of the collection's playbooks against the local Deribit emulator
(tests/emulator/deribit.py), through the module and through the controller fast path."""

from __future__ import annotations

import json
import sys

import pytest

from ansible_collections.marketops.mmp.tests.e2e.conftest import PATHS

APPLY = 'Apply the MMP config of each Deribit scope (index, MMP group, Block RFQ)'
INFO = 'Read every MMP config and its frozen state (Deribit accounts)'
RESET = 'Reset each frozen Deribit config'
WRITES = ('private/set_mmp_config', 'private/reset_mmp')


def deribit_host(account, url, configs, **extra):
    hv = dict(ansible_connection='local', ansible_python_interpreter=sys.executable, mmp_venue='deribit',
              deribit_base_url=url, deribit_client_id=account['client_id'],
              deribit_client_secret=account['client_secret'], deribit_mmp_configs=configs)
    hv.update(extra)
    return hv


def calls(emulator, rpc=None):
    with emulator.lock:
        return [e for e in emulator.journal if rpc is None or e.get('rpc') == rpc]


def items(run, host, task=APPLY):
    return {(r['result']['item'].get('index_name'), r['result']['item'].get('mmp_group'),
             bool(r['result']['item'].get('block_rfq'))): r for r in run.for_host(host, task)}


def assert_no_secret(output, emulator, accounts):
    for account in accounts.values():
        assert account['client_secret'] not in output
    for value in emulator.secrets_seen:  # every signature and token the emulator saw
        if len(value) >= 16:
            assert value not in output


BTC = dict(index_name='BTC_USD', qty_limit='2.50', delta_limit=1, vega_limit='1000')
ETH_Q1 = dict(index_name='eth_usd', mmp_group='q1', window_s=5, frozen_s=0, qty_limit=400, max_quote_qty='100')
RFQ = dict(index_name='all', block_rfq=True, window_s=60, frozen_s=60, qty_limit='1000', trade_count_limit=10)
DEFAULTS = dict(window_s=10, frozen_s=30)


@pytest.mark.parametrize('path', PATHS)
def test_check_then_apply_then_ok_then_a_limit_removed_then_absent(deribit_emulator, deribit_accounts, run_playbook,
                                                                   path):
    emu, account = deribit_emulator, deribit_accounts['deribit-a']
    hosts = {'der': deribit_host(account, emu.url, [BTC, ETH_Q1, RFQ], deribit_mmp_defaults=DEFAULTS)}

    check = run_playbook(hosts, '--check', '--diff', path=path)
    assert check.rc == 0, check.output
    planned = items(check, 'der')
    assert all(r['result']['changed'] for r in planned.values()) and len(planned) == 3
    assert planned[('BTC_USD', None, False)]['result']['diff']['after']['qty_limit'] == '2.5'
    assert not [c for c in calls(emu) if c['rpc'] in WRITES]
    assert 'frozen_s is 0 for eth_usd group q1' in ' '.join(check.output.split())  # 2.16 wraps warnings

    apply = run_playbook(hosts, '--diff', path=path)
    assert apply.rc == 0 and apply.recap()['der']['changed'] == 1, apply.output
    done = items(apply, 'der')
    assert done[('BTC_USD', None, False)]['result']['config'] == dict(
        index_name='btc_usd', mmp_group=None, block_rfq=False, window_s=10, frozen_s=30, qty_limit='2.5',
        delta_limit='1', vega_limit='1000', max_quote_qty=None, trade_count_limit=None)
    assert done[('eth_usd', 'q1', False)]['result']['config']['max_quote_qty'] == '100'
    assert done[('all', None, True)]['result']['config']['trade_count_limit'] == 10
    assert len(calls(emu, 'private/set_mmp_config')) == 3
    state = emu.state()['mmp']['deribit-a']
    assert {(e['index_name'], e.get('mmp_group'), e['block_rfq']) for e in state} == {
        ('btc_usd', None, False), ('eth_usd', 'q1', False), ('all', None, True)}

    # the same configs written otherwise (2.5 as a float, 1 as "1.0000"): nothing to do, one read per config
    before = len(calls(emu))
    same = dict(BTC, qty_limit=2.5, delta_limit='1.0000', index_name='btc_usd')
    again = run_playbook(dict(der=dict(hosts['der'], deribit_mmp_configs=[same, ETH_Q1, RFQ])), path=path)
    assert again.rc == 0 and again.recap()['der']['changed'] == 0, again.output
    assert [c['rpc'] for c in calls(emu)[before:]] == ['private/get_mmp_config'] * 3

    # a limit left out is unset on the exchange
    no_vega = dict(BTC)
    del no_vega['vega_limit']
    removed = run_playbook(dict(der=dict(hosts['der'], deribit_mmp_configs=[no_vega])), '--diff', path=path)
    assert removed.rc == 0 and removed.recap()['der']['changed'] == 1
    btc = [e for e in emu.state()['mmp']['deribit-a'] if e['index_name'] == 'btc_usd'][0]
    assert 'vega_limit' not in btc and btc['quantity_limit'] == 2.5

    # state absent removes a config (the defaults' window and frozen time are not sent with it), then ok
    absent = dict(der=dict(hosts['der'], deribit_mmp_configs=[dict(index_name='eth_usd', mmp_group='q1',
                                                                   state='absent')]))
    gone = run_playbook(absent, path=path)
    assert gone.rc == 0 and gone.recap()['der']['changed'] == 1, gone.output
    assert ('eth_usd', 'q1') not in {(e['index_name'], e.get('mmp_group')) for e in emu.state()['mmp']['deribit-a']}
    assert run_playbook(absent, path=path).recap()['der']['changed'] == 0


LIST_FILTERS = ['strict', 'lenient']  # how the emulator reads block_rfq in listings (tests/emulator/deribit.py)


@pytest.mark.parametrize('path', PATHS)
@pytest.mark.parametrize('list_filter', LIST_FILTERS)
def test_info_after_a_trigger_then_reset_only_if_frozen(deribit_emulator, deribit_accounts, run_playbook, tmp_path,
                                                        path, list_filter):
    emu, account = deribit_emulator, deribit_accounts['deribit-a']
    emu.update_settings({'list_filter': list_filter})
    hosts = {'der': deribit_host(account, emu.url, [dict(BTC, index_name='btc_usd'), ETH_Q1, RFQ],
                                 deribit_mmp_defaults=DEFAULTS)}
    assert run_playbook(hosts, path=path).rc == 0
    emu.trigger(dict(account='deribit-a', index_name='eth_usd', mmp_group='q1'))           # until a manual reset
    frozen = emu.trigger(dict(account='deribit-a', index_name='btc_usd', for_s=600))['frozen_until']

    audit = run_playbook(hosts, '-e', 'mmp_audit_dir=%s' % (tmp_path / 'audit'), path=path,
                         playbook='marketops.mmp.audit_mmp')
    assert audit.rc == 0, audit.output
    (info,) = audit.for_host('der', INFO)
    mmp = {(m['index_name'], m['mmp_group'], m['block_rfq']): m for m in info['result']['mmp']}
    assert (mmp[('eth_usd', 'q1', False)]['frozen'], mmp[('eth_usd', 'q1', False)]['frozen_until']) == (True, None)
    assert (mmp[('btc_usd', None, False)]['frozen'], mmp[('btc_usd', None, False)]['frozen_until']) == (True, frozen)
    assert mmp[('all', None, True)]['frozen'] is False and mmp[('all', None, True)]['window_s'] == 60
    report = json.loads((tmp_path / 'audit' / 'report.json').read_text())
    assert sorted((r['venue'], r['scope'], r['status']) for r in report['rows']) == [
        ('deribit', 'all Block RFQ', 'in_sync'), ('deribit', 'btc_usd', 'frozen'), ('deribit', 'eth_usd group q1', 'frozen')]

    reset = run_playbook(hosts, '--diff', path=path, playbook='marketops.mmp.reset_mmp')
    assert reset.rc == 0 and reset.recap()['der']['changed'] == 1, reset.output
    assert sorted((c['params'].get('index_name'), c['params'].get('mmp_group'))
                  for c in calls(emu, 'private/reset_mmp')) == [('btc_usd', None), ('eth_usd', 'q1')]
    done = [r['result'] for r in reset.for_host('der', RESET)]
    assert all(r['changed'] and r['was_frozen'] for r in done) and len(done) == 2
    # nothing is frozen any more: the next run sends no reset
    again = run_playbook(hosts, path=path, playbook='marketops.mmp.reset_mmp')
    assert again.rc == 0 and again.recap()['der']['changed'] == 0
    assert len(calls(emu, 'private/reset_mmp')) == 2


@pytest.mark.parametrize('path', PATHS)
@pytest.mark.parametrize('list_filter', LIST_FILTERS)
def test_reset_by_index_resets_its_groups_and_all_its_block_rfq_config(deribit_emulator, deribit_accounts,
                                                                       run_playbook, path, list_filter):
    """reset_mmp -e deribit_reset_index_name: an index's MMP groups (not only its default group), and ``all`` (the
    Block RFQ config), whichever way the exchange reads block_rfq in a listing (Deribit documents it false)."""
    emu, account = deribit_emulator, deribit_accounts['deribit-a']
    emu.update_settings({'list_filter': list_filter})
    eth = dict(BTC, index_name='eth_usd')
    hosts = {'der': deribit_host(account, emu.url, [BTC, eth, ETH_Q1, RFQ], deribit_mmp_defaults=DEFAULTS)}
    assert run_playbook(hosts, path=path).rc == 0
    emu.trigger(dict(account='deribit-a', index_name='eth_usd', mmp_group='q1'))
    emu.trigger(dict(account='deribit-a', index_name='all', block_rfq=True, frozen_until_ms=0))
    emu.trigger(dict(account='deribit-a', index_name='btc_usd', for_s=600))

    eth_reset = run_playbook(hosts, '-e', 'deribit_reset_index_name=eth_usd', path=path,
                             playbook='marketops.mmp.reset_mmp')
    assert eth_reset.rc == 0 and eth_reset.recap()['der']['changed'] == 1, eth_reset.output
    (info,) = eth_reset.for_host('der', INFO)
    assert {(m['index_name'], m['mmp_group'], m['block_rfq'], m['frozen']) for m in info['result']['mmp']} == {
        ('eth_usd', None, False, False), ('eth_usd', 'q1', False, True)}
    assert [(c['params'].get('index_name'), c['params'].get('mmp_group')) for c in calls(emu, 'private/reset_mmp')] \
        == [('eth_usd', 'q1')]
    (done,) = [r['result'] for r in eth_reset.for_host('der', RESET)]
    assert done['changed'] and done['was_frozen'] and done['config']['mmp_group'] == 'q1'

    rfq_reset = run_playbook(hosts, '-e', 'deribit_reset_index_name=all', path=path,
                             playbook='marketops.mmp.reset_mmp')
    assert rfq_reset.rc == 0 and rfq_reset.recap()['der']['changed'] == 1, rfq_reset.output
    (info,) = rfq_reset.for_host('der', INFO)
    assert [(m['index_name'], m['block_rfq'], m['frozen'], m['trade_count_limit']) for m in info['result']['mmp']] \
        == [('all', True, True, 10)]
    (done,) = [r['result'] for r in rfq_reset.for_host('der', RESET)]
    assert done['changed'] is True and done['was_frozen'] is True and done['config']['block_rfq'] is True
    assert calls(emu, 'private/reset_mmp')[-1]['params'] == dict(index_name='all', block_rfq='true')
    # it reads unfrozen after; btc_usd (another index) is still frozen
    frozen = {(e['index_name'], e.get('mmp_group'), e['block_rfq']) for e in emu.state()['mmp']['deribit-a']
              if 'frozen_until' in e}
    assert frozen == {('btc_usd', None, False)}
    again = run_playbook(hosts, '-e', 'deribit_reset_index_name=all', path=path, playbook='marketops.mmp.reset_mmp')
    assert again.rc == 0 and again.recap()['der']['changed'] == 0 and len(calls(emu, 'private/reset_mmp')) == 2


@pytest.mark.parametrize('path', PATHS)
@pytest.mark.parametrize('apply', [True, False])
def test_a_set_answered_with_another_config_fails_the_task_naming_the_scope(deribit_emulator, deribit_accounts,
                                                                            run_playbook, path, apply):
    """The exchange answers set_mmp_config with another config than asked (and holds it, or holds nothing new):
    the task fails, naming the account and the scope, not ok."""
    emu = deribit_emulator
    hosts = {'der': deribit_host(deribit_accounts['deribit-a'], emu.url, [ETH_Q1], deribit_mmp_defaults=DEFAULTS)}
    emu.add_faults([dict(kind='other_config', method='private/set_mmp_config', apply=apply)])
    run = run_playbook(hosts, path=path)
    assert run.rc != 0 and run.recap()['der']['failed'] == 1, run.output
    (record,) = run.for_host('der', APPLY)
    msg = record['result']['msg']
    assert record['status'] == 'failed', record
    assert msg.startswith('account der: ') and 'did not apply the requested MMP config for eth_usd group q1' in msg
    assert 'qty_limit=400' in msg and 'qty_limit=401' in msg, msg
    assert len(calls(emu, 'private/set_mmp_config')) == 1  # an answer is no unknown outcome: not sent again


BAD = [
    (dict(BTC, index_name='btc usd'), 'index_name'),
    (dict(BTC, index_name='all'), 'index_name'),
    (dict(BTC, window_s=0), 'window_s'),
    (dict(BTC, window_s=3601), 'window_s'),
    (dict(BTC, frozen_s=-1), 'frozen_s'),
    (dict(BTC, qty_limit='0.00001'), 'qty_limit'),
    (dict(BTC, delta_limit=-1), 'delta_limit'),
    (dict(BTC, vega_limit='lots'), 'vega_limit'),
    (dict(index_name='btc_usd', max_quote_qty=5), 'qty_limit'),
    (dict(BTC, trade_count_limit=3), 'trade_count_limit'),
    (dict(RFQ, trade_count_limit=1001), 'trade_count_limit'),
    (dict(BTC, mmp_group='x' * 65), 'mmp_group'),
]


@pytest.mark.parametrize('path', PATHS)
def test_bad_input_fails_naming_the_option_with_no_request(deribit_emulator, deribit_accounts, run_playbook, path):
    emu = deribit_emulator
    hosts = {'der-%d' % i: deribit_host(deribit_accounts['deribit-a'], emu.url, [config],
                                        deribit_mmp_defaults=DEFAULTS) for i, (config, dummy) in enumerate(BAD)}
    hosts['der-secret'] = deribit_host(dict(deribit_accounts['deribit-a'],
                                            client_secret=deribit_accounts['deribit-a']['client_secret'] + '\n'),
                                       emu.url, [BTC], deribit_mmp_defaults=DEFAULTS)
    hosts['der-url'] = deribit_host(deribit_accounts['deribit-a'], 'http://deribit.example.com', [BTC],
                                    deribit_mmp_defaults=DEFAULTS)
    run = run_playbook(hosts, path=path, forks=10)
    assert run.rc != 0
    expected = dict(('der-%d' % i, option) for i, (dummy, option) in enumerate(BAD))
    expected.update({'der-secret': 'client_secret', 'der-url': 'base_url'})
    for host, option in expected.items():
        (record,) = run.for_host(host, APPLY)
        result = record['result']
        assert record['status'] == 'failed' and result.get('option') == option, (host, result)
        assert result['msg'].startswith('account %s: ' % host) and option in result['msg']
    assert 'ends with a newline' in run.for_host('der-secret', APPLY)[0]['result']['msg']
    assert calls(emu) == []
    assert_no_secret(run.output, emu, deribit_accounts)


@pytest.mark.parametrize('path', PATHS)
def test_wrong_credentials_and_no_secret_at_vvvv(deribit_emulator, deribit_accounts, run_playbook, path):
    emu = deribit_emulator
    wrong = dict(deribit_accounts['deribit-b'], client_secret='wrong-secret-' + 'z' * 20)
    hosts = {'wrong': deribit_host(wrong, emu.url, [BTC], deribit_mmp_defaults=DEFAULTS),
             'right': deribit_host(deribit_accounts['deribit-a'], emu.url, [BTC], deribit_mmp_defaults=DEFAULTS)}
    run = run_playbook(hosts, '--diff', path=path, verbose=4)
    (record,) = run.for_host('wrong', APPLY)
    assert record['status'] == 'failed' and record['result']['code'] == 13004
    assert 'wrong client_id or client_secret' in record['result']['msg']
    assert len([c for c in calls(emu) if c['account'] == 'deribit-b' or c.get('status') != 200]) == 1  # no retry
    assert run.recap()['right']['changed'] == 1
    assert_no_secret(run.output + run.log, emu, dict(deribit_accounts, wrong=wrong))
    assert 'deri-hmac-sha256' not in run.output and 'sig=' not in run.output


@pytest.mark.parametrize('path', PATHS)
def test_too_many_requests_is_waited_out_then_given_up_and_held(deribit_emulator, deribit_accounts, run_playbook, path):
    emu = deribit_emulator
    account = deribit_accounts['deribit-a']
    hosts = {'der': deribit_host(account, emu.url, [BTC], deribit_mmp_defaults=DEFAULTS)}
    emu.add_faults([dict(kind='rate_limit', method='private/get_mmp_config')])
    run = run_playbook(hosts, path=path)
    assert run.rc == 0 and run.recap()['der']['changed'] == 1, run.output
    text = ' '.join(run.output.split())  # ansible-core 2.16 wraps warnings
    assert 'rate limited by Deribit (HTTP 429, code 10028)' in text and 'wait 1 of 2' in text
    # three in a row: given up after two waits, recorded for the account; the next run sends nothing for it
    emu.add_faults([dict(kind='rate_limit', method='private/get_mmp_config', count=3)])
    failed = run_playbook(hosts, path=path)
    assert failed.rc != 0 and 'stopped after 2 waits' in ' '.join(failed.output.split())
    sent = len(calls(emu))
    held = run_playbook(hosts, path=path)
    text = ' '.join(held.output.split())
    assert held.rc != 0 and 'rate-limited this account' in text and 'nothing was sent' in text
    assert len(calls(emu)) == sent
    # another account is not held by it
    other = {'other': deribit_host(deribit_accounts['deribit-b'], emu.url, [BTC], deribit_mmp_defaults=DEFAULTS)}
    assert run_playbook(other, path=path).rc == 0


@pytest.mark.parametrize('path', PATHS)
@pytest.mark.parametrize('kind', ['drop_after_apply', 'not_applied'])
def test_a_write_with_an_unknown_outcome_is_read_back(deribit_emulator, deribit_accounts, run_playbook, path, kind):
    emu = deribit_emulator
    hosts = {'der': deribit_host(deribit_accounts['deribit-a'], emu.url, [BTC], deribit_mmp_defaults=DEFAULTS)}
    if kind == 'drop_after_apply':
        emu.add_faults([dict(kind='drop_after_apply', method='private/set_mmp_config')])
    else:  # a 500 internal_server_error before anything was applied: read back, not held, sent again
        emu.add_faults([dict(kind='status', method='private/set_mmp_config', status=500, code=11094,
                             message='internal_server_error')])
    run = run_playbook(hosts, path=path)
    assert run.rc == 0 and run.recap()['der']['changed'] == 1, run.output
    rpcs = [c['rpc'] for c in calls(emu)]
    if kind == 'drop_after_apply':
        assert rpcs == ['private/get_mmp_config', 'private/set_mmp_config', 'private/get_mmp_config']
        assert 'read back: the exchange holds the requested config' in ' '.join(run.output.split())
    else:
        assert rpcs.count('private/set_mmp_config') == 2 and 'not applied, sent again' in ' '.join(run.output.split())
    assert [e['quantity_limit'] for e in emu.state()['mmp']['deribit-a']] == [2.5]


def test_mmp_not_activated_says_so(deribit_emulator, deribit_accounts, run_playbook):
    emu = deribit_emulator
    hosts = {'off': deribit_host(deribit_accounts['deribit-off'], emu.url, [BTC], deribit_mmp_defaults=DEFAULTS)}
    run = run_playbook(hosts, path='fast')
    (record,) = run.for_host('off', APPLY)
    assert record['status'] == 'failed' and 'Deribit staff must activate MMP' in record['result']['msg']


def test_an_unknown_venue_fails_that_account_before_any_request(deribit_emulator, deribit_accounts, emulator, accounts,
                                                                run_playbook):
    # (since issue 21 the other accounts are still applied: tests/e2e/test_playbook_duplicates.py, both paths)
    hosts = {'der': deribit_host(deribit_accounts['deribit-a'], deribit_emulator.url, [BTC], deribit_mmp_defaults=DEFAULTS),
             'typo': deribit_host(deribit_accounts['deribit-b'], deribit_emulator.url, [BTC], mmp_venue='derbit')}
    run = run_playbook(hosts, path='fast')
    # (ansible-core 2.16 shows the message inside JSON, its quotes escaped)
    assert run.rc != 0 and 'typo: mmp_venue must be binance (the default) or deribit; got "derbit": nothing was sent ' \
        'for this account' in run.output.replace('\\"', '"')
    assert run.recap()['typo']['failed'] == 1 and run.recap()['der']['changed'] == 1, run.output
    assert not [c for c in calls(deribit_emulator) if c.get('account') == 'deribit-b'] and emulator.journal == []


def test_reset_fails_an_account_of_an_unknown_venue_by_name_and_still_resets_the_others(deribit_emulator,
                                                                                        deribit_accounts, run_playbook):
    emu = deribit_emulator
    hosts = {'der': deribit_host(deribit_accounts['deribit-a'], emu.url, [BTC], deribit_mmp_defaults=DEFAULTS),
             'typo': deribit_host(deribit_accounts['deribit-b'], emu.url, [BTC], deribit_mmp_defaults=DEFAULTS,
                                  mmp_venue='Deribit')}
    assert run_playbook({'der': hosts['der']}, path='fast').rc == 0
    emu.trigger(dict(account='deribit-a', index_name='btc_usd'))
    before = len(calls(emu))
    reset = run_playbook(hosts, path='fast', playbook='marketops.mmp.reset_mmp')
    # the typo is loud and named, not an account skipped and shown ok; the other account is still reset
    assert reset.rc != 0 and reset.recap()['typo']['failed'] == 1 and reset.recap()['der']['changed'] == 1, reset.output
    (check,) = reset.for_host('typo', "Check the account's venue")
    assert check['status'] == 'failed' and check['result']['msg'] == (
        'typo: mmp_venue must be binance (the default) or deribit; got "Deribit": nothing was read or reset on this '
        'account')
    assert [(c['params'].get('index_name'), c.get('account')) for c in calls(emu, 'private/reset_mmp')] == [
        ('btc_usd', 'deribit-a')]
    assert not [c for c in calls(emu)[before:] if c.get('account') == 'deribit-b']


def test_a_mixed_fleet_runs_each_venue_once_and_only_its_own_tasks(deribit_emulator, deribit_accounts, emulator,
                                                                   accounts, run_playbook):
    from ansible_collections.marketops.mmp.tests.e2e.conftest import config, host_vars
    hosts = {'der': deribit_host(deribit_accounts['deribit-a'], deribit_emulator.url, [BTC], deribit_mmp_defaults=DEFAULTS),
             'bin': host_vars(accounts['hmac-a'], emulator.url, [config()])}
    run = run_playbook(hosts, path='fast')
    assert run.rc == 0 and run.recap()['der']['changed'] == 1 and run.recap()['bin']['changed'] == 1, run.output
    # no task of the other venue ran on an account, not even skipped: the Binance account skips only its own
    # kill-switch task (no kill_switch_ms), the Deribit account nothing
    assert run.recap()['der']['skipped'] == 0 and run.recap()['bin']['skipped'] == 1, run.output
    assert [r['task'] for r in run.results if r['host'] == 'der' and r['task'].startswith('Apply')] == [APPLY]
    assert len(calls(deribit_emulator, 'private/set_mmp_config')) == 1
