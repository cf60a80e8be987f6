# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the playbooks refuse in an account's inventory, and the audit's alarms, through real ansible-playbook runs
against both emulators, on both execution paths: a scope listed twice (apply_mmp fails that account before any
request and applies the others; the audit makes it an error row), an unknown mmp_venue in apply_mmp (that account
only), and mmp_audit_fail_on_unmanaged."""

from __future__ import annotations

import json
import re
import sys

import pytest

from ansible_collections.marketops.mmp.tests.e2e.conftest import PATHS, config, host_vars

pytestmark = pytest.mark.parametrize('path', PATHS)

REFUSE = 'Fail an account whose mmp_venue is not a venue, or whose configs list a scope twice'
BINANCE_APPLY = 'Apply the MMP config of each underlying'
DERIBIT_APPLY = 'Apply the MMP config of each Deribit scope (index, MMP group, Block RFQ)'
BTC = dict(index_name='btc_usd', qty_limit='2.5', delta_limit=1)
ETH_Q1 = dict(index_name='eth_usd', mmp_group='q1', qty_limit=400)
RFQ = dict(index_name='all', block_rfq=True, qty_limit='1000', trade_count_limit=10)
DEFAULTS = dict(window_s=10, frozen_s=30)


def deribit_host(account, url, configs, **extra):
    hv = dict(ansible_connection='local', ansible_python_interpreter=sys.executable, mmp_venue='deribit',
              deribit_base_url=url, deribit_client_id=account['client_id'],
              deribit_client_secret=account['client_secret'], deribit_mmp_configs=configs,
              deribit_mmp_defaults=DEFAULTS)
    hv.update(extra)
    return hv


def journal(emulator):
    with emulator.lock:
        return list(emulator.journal)


def accounts_sent_to(emulator):
    """The accounts whose credentials the emulator's requests carried (an unsigned public read carries none)."""
    return {entry['account'] for entry in journal(emulator)} - {None}


def refusal(run, host):
    (record,) = run.for_host(host, REFUSE)
    assert record['status'] == 'failed', record
    return record['result']['msg']


def a_mixed_fleet(emulator, accounts, deribit_emulator, deribit_accounts):
    """Two accounts that apply (one per venue) and three that list a scope twice, the second item written otherwise:
    the Binance underlying in lower case (after other items), a Deribit index in upper case (its group from an item
    and from the defaults), and a Block RFQ config with block_rfq true and "yes". The refused accounts have the
    credentials of accounts no other host uses, so that any request for them shows in the journals."""
    durl, burl = deribit_emulator.url, emulator.url
    return {
        'bin-ok': host_vars(accounts['hmac-a'], burl, [config('BTCUSDT'), config('ETHUSDT')]),
        'bin-dup': host_vars(accounts['hmac-b'], burl, [dict(config('BTCUSDT'), kill_switch_ms=0), config('ETHUSDT'),
                                                        config(' btcusdt', qty_limit='3')]),
        'der-ok': deribit_host(deribit_accounts['deribit-a'], durl, [BTC, ETH_Q1, RFQ]),
        'der-dup': deribit_host(deribit_accounts['deribit-b'], durl,
                                [dict(index_name='eth_usd', qty_limit=400), BTC, dict(ETH_Q1, index_name='ETH_USD')],
                                deribit_mmp_defaults=dict(DEFAULTS, mmp_group='q1')),
        'der-rfq': deribit_host(deribit_accounts['deribit-b'], durl, [RFQ, BTC, dict(RFQ, block_rfq='yes')]),
    }


def test_apply_refuses_an_account_that_lists_a_scope_twice_and_applies_the_others(
        path, emulator, accounts, deribit_emulator, deribit_accounts, run_playbook):
    hosts = a_mixed_fleet(emulator, accounts, deribit_emulator, deribit_accounts)
    run = run_playbook(hosts, path=path, forks=5)
    recap = run.recap()
    assert run.rc != 0, run.output
    assert refusal(run, 'bin-dup') == ('bin-dup: binance_mmp_configs lists the underlying BTCUSDT twice, items #1 and '
                                       '#3: nothing was sent for this account')
    # positions after the defaults merge: item #1's mmp_group comes from deribit_mmp_defaults
    assert refusal(run, 'der-dup') == ('der-dup: deribit_mmp_configs lists the config eth_usd group q1 twice, items '
                                       '#1 and #3: nothing was sent for this account')
    assert refusal(run, 'der-rfq') == ('der-rfq: deribit_mmp_configs lists the config all Block RFQ twice, items #1 '
                                       'and #3: nothing was sent for this account')
    for host in ('bin-dup', 'der-dup', 'der-rfq'):
        assert recap[host]['failed'] == 1 and recap[host]['changed'] == 0, (host, run.output)
        assert not [r for r in run.results if r['host'] == host and r['task'] in (BINANCE_APPLY, DERIBIT_APPLY)]
    # the others are applied, each by its venue's tasks only
    assert recap['bin-ok']['changed'] == 1 and recap['bin-ok']['failed'] == 0, run.output
    assert recap['der-ok']['changed'] == 1 and recap['der-ok']['failed'] == 0, run.output
    assert sorted(emulator.state()['mmp']) == ['hmac-a']
    assert list(deribit_emulator.state()['mmp']) == ['deribit-a']
    assert {(e['index_name'], e.get('mmp_group'), e['block_rfq']) for e in deribit_emulator.state()['mmp']['deribit-a']} \
        == {('btc_usd', None, False), ('eth_usd', 'q1', False), ('all', None, True)}
    # not one request with the refused accounts' credentials
    assert accounts_sent_to(emulator) == {'hmac-a'}
    assert accounts_sent_to(deribit_emulator) == {'deribit-a'}

    # in check mode too, and nothing is read for them either
    emulator.journal.clear()
    with deribit_emulator.lock:
        deribit_emulator.journal.clear()
    check = run_playbook(hosts, '--check', path=path, forks=5)
    assert check.rc != 0 and check.recap()['bin-dup']['failed'] == 1 and check.recap()['der-ok']['failed'] == 0
    assert 'items #1 and #3: nothing was sent for this account' in refusal(check, 'der-rfq')
    assert accounts_sent_to(emulator) == {'hmac-a'}
    assert accounts_sent_to(deribit_emulator) == {'deribit-a'}


def test_apply_fails_an_account_of_an_unknown_venue_only(path, emulator, accounts, deribit_emulator, deribit_accounts,
                                                         run_playbook):
    hosts = {'bin': host_vars(accounts['hmac-a'], emulator.url, [config()]),
             'der': deribit_host(deribit_accounts['deribit-a'], deribit_emulator.url, [BTC]),
             'typo': deribit_host(deribit_accounts['deribit-b'], deribit_emulator.url, [BTC], mmp_venue='derbit')}
    run = run_playbook(hosts, path=path)
    recap = run.recap()
    assert run.rc != 0 and recap['typo']['failed'] == 1, run.output
    assert refusal(run, 'typo') == ('typo: mmp_venue must be binance (the default) or deribit; got "derbit": nothing '
                                    'was sent for this account')
    assert recap['bin']['changed'] == 1 and recap['der']['changed'] == 1, run.output
    assert recap['bin']['failed'] == 0 and recap['der']['failed'] == 0
    assert accounts_sent_to(deribit_emulator) == {'deribit-a'}
    assert list(deribit_emulator.state()['mmp']) == ['deribit-a']

    # alone (no account left to apply), it still fails by name, with no request
    before = len(journal(deribit_emulator)), len(journal(emulator))
    alone = run_playbook({'typo': dict(hosts['typo'], mmp_venue='Deribit')}, path=path)
    assert alone.rc != 0 and 'got "Deribit": nothing was sent for this account' in refusal(alone, 'typo')
    assert (len(journal(deribit_emulator)), len(journal(emulator))) == before


def test_audit_reports_a_scope_listed_twice_as_an_error_and_reads_block_rfq_as_the_module_does(
        path, emulator, accounts, deribit_emulator, deribit_accounts, run_playbook, tmp_path):
    hosts = a_mixed_fleet(emulator, accounts, deribit_emulator, deribit_accounts)
    applied = run_playbook({k: hosts[k] for k in ('bin-ok', 'der-ok')}, path=path)
    assert applied.rc == 0, applied.output
    # block_rfq "on": the same config as the applied block_rfq true, in sync (not missing + unmanaged)
    hosts['der-ok']['deribit_mmp_configs'] = [BTC, ETH_Q1, dict(RFQ, block_rfq='on')]
    out = tmp_path / 'audit'
    run = run_playbook(hosts, '-e', 'mmp_audit_dir=%s' % out, path=path, playbook='marketops.mmp.audit_mmp')
    assert run.rc != 0  # an error row fails the run, after the report is written
    assert re.search(r'MMP audit: 3 accounts could not be read or compared, ', run.output), run.output
    report = json.loads((out / 'report.json').read_text())
    rows = {}
    for row in report['rows']:
        rows.setdefault(row['account'], []).append(row)
    assert [(r['status'], r['detail']) for r in rows['bin-dup']] == [('error', (
        'binance_mmp_configs lists the underlying BTCUSDT twice, items #1 and #3: not compared (apply_mmp refuses '
        'this account, before any request); list each once'))]
    assert [r['status'] for r in rows['der-dup']] == ['error']
    assert rows['der-dup'][0]['detail'].startswith('deribit_mmp_configs lists the config eth_usd group q1 twice, '
                                                   'items #1 and #3: not compared')
    assert [r['status'] for r in rows['der-rfq']] == ['error']
    assert 'the config all Block RFQ twice, items #1 and #3' in rows['der-rfq'][0]['detail']
    assert {r['scope']: r['status'] for r in rows['der-ok']} == {
        'btc_usd': 'in_sync', 'eth_usd group q1': 'in_sync', 'all Block RFQ': 'in_sync'}
    assert {r['status'] for r in rows['bin-ok'] if r['scope'] in ('BTCUSDT', 'ETHUSDT')} == {'in_sync'}
    assert report['errors'] == 3 and report['counts']['unmanaged'] == 0
    assert '| der-rfq | deribit | - | error | deribit_mmp_configs lists the config all Block RFQ twice' in \
        (out / 'report.md').read_text()


def test_audit_fail_on_unmanaged_fails_after_the_report(path, emulator, accounts, run_playbook, tmp_path):
    hosts = {'hmac-a': host_vars(accounts['hmac-a'], emulator.url, [config('BTCUSDT')])}
    assert run_playbook(hosts, path=path).rc == 0
    # set by hand on the exchange, not in the inventory
    emulator.set_state(dict(api_key=accounts['hmac-a']['api_key'], underlying='ETHUSDT', window_ms=100, frozen_ms=0,
                            qty_limit='1', delta_limit='1'))

    quiet = run_playbook(hosts, '-e', 'mmp_audit_dir=%s' % (tmp_path / 'quiet'), '-e', 'mmp_audit_fail_on_drift=true',
                         path=path, playbook='marketops.mmp.audit_mmp')
    assert quiet.rc == 0, quiet.output  # unmanaged is not drift, and the default is false
    report = json.loads((tmp_path / 'quiet' / 'report.json').read_text())
    assert report['counts']['unmanaged'] == 1 and report['alarm'] == 0

    out = tmp_path / 'alarm'
    loud = run_playbook(hosts, '-e', 'mmp_audit_dir=%s' % out, '-e', 'mmp_audit_fail_on_unmanaged=true', path=path,
                        playbook='marketops.mmp.audit_mmp')
    assert loud.rc != 0
    assert 'MMP audit: 0 accounts could not be read or compared, 0 configs are missing, drift or are frozen, 1 are unmanaged ' \
           '(on the exchange, not in the inventory); see %s/report.md' % out in ' '.join(loud.output.split())
    assert (out / 'report.json').exists() and (out / 'report.md').exists()  # written first
    assert [r['underlying'] for r in json.loads((out / 'report.json').read_text())['rows']
            if r['status'] == 'unmanaged'] == ['ETHUSDT']

    # in the inventory now: in sync, the alarm stays quiet
    hosts['hmac-a']['binance_mmp_configs'].append(config('ETHUSDT'))
    assert run_playbook(hosts, path=path).rc == 0
    calm = run_playbook(hosts, '-e', 'mmp_audit_dir=%s' % (tmp_path / 'calm'), '-e', 'mmp_audit_fail_on_unmanaged=yes',
                        path=path, playbook='marketops.mmp.audit_mmp')
    assert calm.rc == 0, calm.output
