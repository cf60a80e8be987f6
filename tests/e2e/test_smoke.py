# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The smoke test each ansible-core of the matrix runs (``python3 tests/dev.py matrix``, marker ``smoke``).

The example inventory (playbooks/inventory, Vault and all) applied to the emulator: ``--check`` first (reports
the drift, writes nothing), then applied (changed), again (ok, no write), and ``--check`` again (nothing to
change), through the controller fast path and through the module path. The module path runs on each target
Python named in $MARKETOPS_E2E_TARGET_PYTHONS (interpreter paths separated by os.pathsep; each needs requests
and cryptography), else on this interpreter.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from ansible_collections.marketops.mmp.tests.e2e.conftest import COLLECTION, HERE, PlaybookRun, below_the_exchange
from ansible_collections.marketops.mmp.tests.emulator.server import Emulator, EmulatorServer, load_accounts

pytestmark = pytest.mark.smoke

INVENTORY = os.path.join(COLLECTION, 'playbooks', 'inventory')
VAULT_PASSWORD = os.path.join(INVENTORY, 'vault-password-demo.txt')
ACCOUNTS = os.path.join(COLLECTION, 'tests', 'emulator', 'accounts.example.json')
TARGETS_ENV = 'MARKETOPS_E2E_TARGET_PYTHONS'


def python_version(python):
    """'3.9' for an interpreter path, or None when it does not run."""
    try:
        out = subprocess.run([python, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], check=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip() or None


def cases():
    targets = [p for p in os.environ.get(TARGETS_ENV, '').split(os.pathsep) if p] or [sys.executable]
    out = [pytest.param('fast', None, id='fast')]
    for python in targets:
        version = python_version(python)
        # A target that does not run is a failing case (never a skip): it was asked for.
        out.append(pytest.param('module', python, id='module-py%s' % version if version
                                else 'module-broken-%s' % os.path.basename(python)))
    return out


def expected_configs():
    """What the example inventory asks for, per (account, underlying), as the emulator answers it (padded)."""
    import yaml  # ansible-core's dependency

    def load(path):
        with open(path) as f:
            return yaml.safe_load(f)

    group = load(os.path.join(INVENTORY, 'group_vars', 'binance_accounts', 'main.yml'))
    out = {}
    for host in load(os.path.join(INVENTORY, 'hosts.yml'))['binance_accounts']['hosts']:
        host_vars = dict(group, **load(os.path.join(INVENTORY, 'host_vars', host, 'main.yml')))
        for item in host_vars['binance_mmp_configs']:
            item = dict(host_vars['binance_mmp_defaults'], **item)
            out[(host, item['underlying'])] = dict(windowTimeInMilliseconds=int(item['window_ms']),
                                                   frozenTimeInMilliseconds=int(item['frozen_ms']),
                                                   qtyLimit='%.8f' % float(item['qty_limit']),
                                                   deltaLimit='%.8f' % float(item['delta_limit']))
    return out


HELD_KEYS = ('windowTimeInMilliseconds', 'frozenTimeInMilliseconds', 'qtyLimit', 'deltaLimit')


def held(emulator):
    return {(account, underlying): {k: config[k] for k in HELD_KEYS}
            for account, configs in emulator.state()['mmp'].items() for underlying, config in configs.items()}


@pytest.mark.parametrize('path, python', cases())
def test_example_inventory_check_apply_reapply(path, python, tmp_path):
    if python and not python_version(python):
        pytest.fail('target Python %s does not run' % python)
    accounts, underlyings = load_accounts(ACCOUNTS)
    secrets = [a['secret'] for a in accounts if a.get('secret')]
    emulator = Emulator(accounts, underlyings=underlyings, limit_format='padded')
    extra = {'marketops_mmp_fast_path': path == 'fast'}
    if python:
        extra['ansible_python_interpreter'] = python
    with EmulatorServer(emulator) as server:
        env = dict(os.environ, BINANCE_EAPI_URL=server.url, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0',
                   ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-local'),
                   ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, 'callback_plugins'))
        env.pop('ANSIBLE_LOG_PATH', None)
        if 'ansible_collections' in COLLECTION:
            env['ANSIBLE_COLLECTIONS_PATH'] = COLLECTION.split(os.sep + 'ansible_collections' + os.sep)[0]

        def play(*args):
            emulator.journal.clear()
            cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', INVENTORY,
                   'marketops.mmp.apply_mmp', '--vault-password-file', VAULT_PASSWORD, '-e', json.dumps(extra)]
            proc = subprocess.run(below_the_exchange(cmd + list(args)), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, env=env, timeout=300, check=False)
            for secret in secrets:
                assert secret not in proc.stdout
            return PlaybookRun(proc.returncode, proc.stdout, [], '')

        wanted = expected_configs()
        hosts = sorted({host for host, _underlying in wanted})
        assert len(hosts) == 3 and len(wanted) == 7

        check = play('--check', '--diff')
        assert check.rc == 0, check.output
        assert all(check.recap()[h]['changed'] == 1 for h in hosts), check.output
        assert '+    "qty_limit": "400"' in check.output  # the diff of acct-bravo's SOLUSDT
        assert emulator.writes() == [] and held(emulator) == {}

        first = play('--diff', '-vvv')
        assert first.rc == 0, first.output
        assert all(first.recap()[h]['changed'] == 1 for h in hosts), first.output
        assert len(emulator.writes()) == len(wanted)
        assert held(emulator) == wanted
        # The path asked for is the one that ran: the module is executed by the target Python, or not at all.
        # (ansible-core 2.21 dropped the " && sleep 0" suffix)
        runs = re.findall(r"EXEC /bin/sh -c '(\S+) \S+/AnsiballZ_binance_mmp\.py(?: && sleep 0)?'", first.output)
        if path == 'module':
            assert runs == [python] * len(wanted), runs
        else:
            assert 'AnsiballZ_binance_mmp' not in first.output

        second = play('--diff')
        assert second.rc == 0, second.output
        assert all(second.recap()[h]['changed'] == 0 and second.recap()[h]['failed'] == 0 for h in hosts), \
            second.output
        assert emulator.writes() == []
        assert len([j for j in emulator.journal if j['path'] == '/eapi/v1/mmp']) == len(wanted)

        again = play('--check', '--diff')
        assert again.rc == 0, again.output
        assert all(again.recap()[h]['changed'] == 0 for h in hosts), again.output
        assert emulator.writes() == [] and held(emulator) == wanted
