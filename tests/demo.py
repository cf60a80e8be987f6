# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's main job: the example inventory's MMP configs applied to the local emulator, twice; then MMP
triggers on one account, the fleet audit reports it, and reset_mmp resets it.

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


def playbook(root, bin_dir, env, title, name='apply_mmp', args=('--diff',)):
    print('\n==> %s' % title, flush=True)
    vault = ['--vault-password-file', os.path.join('playbooks', 'inventory', 'vault-password-demo.txt')]
    cmd = [os.path.join(bin_dir, 'ansible-playbook'), '-i', os.path.join('playbooks', 'inventory'),
           'marketops.mmp.' + name] + list(args) + vault
    print('$ BINANCE_EAPI_URL=%s ansible-playbook %s' % (env['BINANCE_EAPI_URL'], ' '.join(cmd[1:])), flush=True)
    proc = subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False)
    print(proc.stdout, flush=True)
    recap = re.findall(r'^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', proc.stdout, re.M)
    return proc.returncode, recap


def run_demo(root, bin_dir, collections, env):
    env = dict(env, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_FORCE_COLOR='0')
    accounts = os.path.join(root, 'tests', 'emulator', 'accounts.example.json')
    with EmulatorProcess(accounts, python=os.path.join(bin_dir, 'python')) as emulator:
        print('\n==> local exchange emulator listening on %s' % emulator.url, flush=True)
        env['BINANCE_EAPI_URL'] = emulator.url
        rc1, recap1 = playbook(root, bin_dir, env, 'first run: every account drifts, the configs are applied')
        first = summarize(journal(emulator.url))
        control(emulator.url, 'DELETE', 'journal')
        rc2, recap2 = playbook(root, bin_dir, env, 'second run: everything is in place, nothing changes')
        second = summarize(journal(emulator.url))
        operate_ok = operate(root, bin_dir, env, emulator.url)
    print('==> what the emulator saw')
    print('  first run:  %(requests)d requests, %(mmp_reads)d MMP reads, %(mmp_writes)d MMP writes' % first)
    print('  second run: %(requests)d requests, %(mmp_reads)d MMP reads, %(mmp_writes)d MMP writes' % second)
    ok = (rc1 == 0 and rc2 == 0 and recap1 and recap2
          and any(int(changed) for host, changed, unreachable, failed in recap1)
          and all(int(changed) == 0 for host, changed, unreachable, failed in recap2)
          and second['mmp_writes'] == 0 and operate_ok)
    print('demo %s' % ('OK: the first run changed the accounts, the second changed nothing; the audit found the '
                       'frozen underlying and reset_mmp reset it' if ok else 'FAILED'))
    return 0 if ok else 1


def operate(root, bin_dir, env, url):
    """MMP triggers on acct-charlie's BTCUSDT (frozen_ms 0: frozen until a reset); audit, reset, audit again."""
    out = os.path.join(root, '.tmp', 'demo-audit')
    shutil.rmtree(out, ignore_errors=True)
    print('\n==> MMP triggers on acct-charlie BTCUSDT (POST /_emulator/trigger)', flush=True)
    control(url, 'POST', 'trigger', {'account': 'acct-charlie', 'underlying': 'BTCUSDT'})
    rc_audit, dummy = playbook(root, bin_dir, env, 'the daily audit finds it', 'audit_mmp',
                               ['-e', 'binance_audit_dir=' + os.path.relpath(out, root)])
    report_md = os.path.join(out, 'report.md')
    report = ''
    if os.path.exists(report_md):
        with open(report_md) as f:
            report = f.read()
        lines = report.splitlines()
        shown = [line for line in lines if '| not configured |' not in line or line.startswith('| not configured | ')]
        print('==> %s (without its %d "not configured" rows)\n%s'
              % (os.path.relpath(report_md, root), len(lines) - len(shown), '\n'.join(shown)))
    rc_reset, recap_reset = playbook(root, bin_dir, env, 'reset it', 'reset_mmp', ['-l', 'acct-charlie'])
    after = os.path.join(out, 'after-reset')
    rc_after, dummy = playbook(root, bin_dir, env, 'audit again, failing on drift or freezes', 'audit_mmp',
                               ['-e', 'binance_audit_dir=' + os.path.relpath(after, root),
                                '-e', 'binance_audit_fail_on_drift=true'])
    return (rc_audit == 0 and '| frozen | 1 |' in report and rc_reset == 0
            and [int(changed) for host, changed, unreachable, failed in recap_reset] == [1] and rc_after == 0)
