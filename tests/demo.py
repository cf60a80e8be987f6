# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's main job: the example inventory's MMP configs (Binance and Deribit accounts) applied to the local
emulators, twice; then MMP triggers on one account of each venue, the fleet audit reports both, and reset_mmp resets
them.

Run through ``python3 tests/dev.py demo``, which prepares .venv and the installed collection first.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'emulator'))

from control import EmulatorProcess, control, journal, summarize  # noqa: E402 pylint: disable=wrong-import-position

EMULATORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'emulator')
DERIBIT_WRITES = ('private/set_mmp_config', 'private/reset_mmp')
# The example inventory's Deribit account (playbooks/inventory/host_vars/acct-delta) is this emulator account.
DERIBIT_DEMO_ACCOUNT = 'deribit-alpha'


def playbook(root, bin_dir, env, title, name='apply_mmp', args=('--diff',)):
    print('\n==> %s' % title, flush=True)
    vault = ['--vault-password-file', os.path.join('playbooks', 'inventory', 'vault-password-demo.txt')]
    cmd = [os.path.join(bin_dir, 'ansible-playbook'), '-i', os.path.join('playbooks', 'inventory'),
           'marketops.mmp.' + name] + list(args) + vault
    print('$ BINANCE_EAPI_URL=%s DERIBIT_URL=%s ansible-playbook %s' % (env['BINANCE_EAPI_URL'], env['DERIBIT_URL'],
                                                                       ' '.join(cmd[1:])), flush=True)
    proc = subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False)
    print(proc.stdout, flush=True)
    recap = re.findall(r'^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', proc.stdout, re.M)
    return proc.returncode, recap


def deribit_summary(entries):
    """Counts of the Deribit emulator's journal: requests, MMP writes."""
    return dict(requests=len(entries), writes=sum(1 for e in entries if e.get('rpc') in DERIBIT_WRITES))


def run_demo(root, bin_dir, collections, env):
    env = dict(env, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_FORCE_COLOR='0')
    accounts = os.path.join(root, 'tests', 'emulator', 'accounts.example.json')
    deribit_accounts = os.path.join(root, 'tests', 'emulator', 'deribit_accounts.example.json')
    python = os.path.join(bin_dir, 'python')
    with EmulatorProcess(accounts, python=python) as emulator, \
            EmulatorProcess(deribit_accounts, python=python, script=os.path.join(EMULATORS, 'deribit.py')) as deribit:
        print('\n==> local exchange emulators listening: Binance on %s, Deribit on %s' % (emulator.url, deribit.url),
              flush=True)
        env['BINANCE_EAPI_URL'] = emulator.url
        env['DERIBIT_URL'] = deribit.url
        rc1, recap1 = playbook(root, bin_dir, env, 'first run: every account drifts, the configs are applied')
        first, first_deribit = summarize(journal(emulator.url)), deribit_summary(journal(deribit.url))
        for url in (emulator.url, deribit.url):
            control(url, 'DELETE', 'journal')
        rc2, recap2 = playbook(root, bin_dir, env, 'second run: everything is in place, nothing changes')
        second, second_deribit = summarize(journal(emulator.url)), deribit_summary(journal(deribit.url))
        operate_ok = operate(root, bin_dir, env, emulator.url, deribit.url)
    print('==> what the emulators saw')
    print('  first run:  Binance %(requests)d requests, %(mmp_reads)d MMP reads, %(mmp_writes)d MMP writes' % first
          + '; Deribit %(requests)d requests, %(writes)d MMP writes' % first_deribit)
    print('  second run: Binance %(requests)d requests, %(mmp_reads)d MMP reads, %(mmp_writes)d MMP writes' % second
          + '; Deribit %(requests)d requests, %(writes)d MMP writes' % second_deribit)
    changed1 = dict((host, int(changed)) for host, changed, unreachable, failed in recap1)
    ok = (rc1 == 0 and rc2 == 0 and recap1 and recap2
          and changed1.get('acct-delta') and any(changed for host, changed in changed1.items() if host != 'acct-delta')
          and all(int(changed) == 0 for host, changed, unreachable, failed in recap2)
          and second['mmp_writes'] == 0 and first_deribit['writes'] > 0 and second_deribit['writes'] == 0
          and operate_ok)
    print('demo %s' % ('OK: the first run changed the Binance and Deribit accounts, the second changed nothing; the '
                       'audit found the frozen configs and reset_mmp reset them' if ok else 'FAILED'))
    return 0 if ok else 1


def operate(root, bin_dir, env, url, deribit_url):
    """MMP triggers on acct-charlie's BTCUSDT (frozen_ms 0: frozen until a reset) and on acct-delta's eth_usd group q1
    (Deribit, frozen_s 0); audit, reset, audit again."""
    out = os.path.join(root, '.tmp', 'demo-audit')
    shutil.rmtree(out, ignore_errors=True)
    print('\n==> MMP triggers on acct-charlie BTCUSDT (POST /_emulator/trigger)', flush=True)
    control(url, 'POST', 'trigger', {'account': 'acct-charlie', 'underlying': 'BTCUSDT'})
    print('==> MMP triggers on acct-delta eth_usd group q1 (Deribit, POST /_emulator/trigger)', flush=True)
    control(deribit_url, 'POST', 'trigger', {'account': DERIBIT_DEMO_ACCOUNT, 'index_name': 'eth_usd', 'mmp_group': 'q1'})
    rc_audit, dummy = playbook(root, bin_dir, env, 'the daily audit finds it', 'audit_mmp',
                               ['-e', 'mmp_audit_dir=' + os.path.relpath(out, root)])
    report_md = os.path.join(out, 'report.md')
    report = ''
    if os.path.exists(report_md):
        with open(report_md) as f:
            report = f.read()
        lines = report.splitlines()
        shown = [line for line in lines if '| not configured |' not in line or line.startswith('| not configured | ')]
        print('==> %s (without its %d "not configured" rows)\n%s'
              % (os.path.relpath(report_md, root), len(lines) - len(shown), '\n'.join(shown)))
    rc_reset, recap_reset = playbook(root, bin_dir, env, 'reset them', 'reset_mmp', ['-l', 'acct-charlie,acct-delta'])
    after = os.path.join(out, 'after-reset')
    rc_after, dummy = playbook(root, bin_dir, env, 'audit again, failing on drift or freezes', 'audit_mmp',
                               ['-e', 'mmp_audit_dir=' + os.path.relpath(after, root),
                                '-e', 'mmp_audit_fail_on_drift=true'])
    return (rc_audit == 0 and '| frozen | 2 |' in report and '| acct-delta | deribit | eth_usd group q1 | frozen |' in report
            and rc_reset == 0 and [int(changed) for host, changed, unreachable, failed in recap_reset] == [1, 1]
            and rc_after == 0)
