# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The smoke test each ansible-core of the matrix runs (``python3 tests/dev.py matrix``, marker ``smoke``).

The example inventory (playbooks/inventory, Vault and all: Binance and Deribit accounts) applied to the emulators:
``--check`` first (reports the drift, writes nothing), then applied (changed), again (ok, no write), and ``--check``
again (nothing to change), through the controller fast path and through the module path. The module path runs on each target
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
from ansible_collections.marketops.mmp.tests.emulator.deribit import (
    DeribitEmulator,
    DeribitServer,
    load_accounts as load_deribit_accounts,
)
from ansible_collections.marketops.mmp.tests.emulator.server import Emulator, EmulatorServer, load_accounts

pytestmark = pytest.mark.smoke

INVENTORY = os.path.join(COLLECTION, 'playbooks', 'inventory')
VAULT_PASSWORD = os.path.join(INVENTORY, 'vault-password-demo.txt')
ACCOUNTS = os.path.join(COLLECTION, 'tests', 'emulator', 'accounts.example.json')
DERIBIT_ACCOUNTS = os.path.join(COLLECTION, 'tests', 'emulator', 'deribit_accounts.example.json')
DERIBIT_HOST = 'acct-delta'  # the example inventory's Deribit account (host_vars/acct-delta): 3 configs
DERIBIT_CONFIGS = 3
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


def deribit_writes(deribit):
    with deribit.lock:
        return [e for e in deribit.journal if e.get('rpc') in ('private/set_mmp_config', 'private/reset_mmp')]


HELD_KEYS = ('windowTimeInMilliseconds', 'frozenTimeInMilliseconds', 'qtyLimit', 'deltaLimit')


def held(emulator):
    return {(account, underlying): {k: config[k] for k in HELD_KEYS}
            for account, configs in emulator.state()['mmp'].items() for underlying, config in configs.items()}


@pytest.mark.parametrize('path, python', cases())
def test_example_inventory_check_apply_reapply(path, python, tmp_path):
    if python and not python_version(python):
        pytest.fail('target Python %s does not run' % python)
    accounts, underlyings = load_accounts(ACCOUNTS)
    deribit_accounts, index_names = load_deribit_accounts(DERIBIT_ACCOUNTS)
    secrets = [a['secret'] for a in accounts if a.get('secret')] + [a['client_secret'] for a in deribit_accounts]
    emulator = Emulator(accounts, underlyings=underlyings, limit_format='padded')
    deribit = DeribitEmulator(deribit_accounts, index_names=index_names)
    extra = {'marketops_mmp_fast_path': path == 'fast'}
    if python:
        extra['ansible_python_interpreter'] = python
    with EmulatorServer(emulator) as server, DeribitServer(deribit) as deribit_server:
        env = dict(os.environ, BINANCE_EAPI_URL=server.url, DERIBIT_URL=deribit_server.url, ANSIBLE_NOCOLOR='1',
                   ANSIBLE_FORCE_COLOR='0',
                   ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-local'),
                   ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, 'callback_plugins'))
        env.pop('ANSIBLE_LOG_PATH', None)
        if 'ansible_collections' in COLLECTION:
            env['ANSIBLE_COLLECTIONS_PATH'] = COLLECTION.split(os.sep + 'ansible_collections' + os.sep)[0]

        def play(*args):
            emulator.journal.clear()
            with deribit.lock:
                deribit.journal.clear()
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
        everyone = hosts + [DERIBIT_HOST]

        check = play('--check', '--diff')
        assert check.rc == 0, check.output
        assert all(check.recap()[h]['changed'] == 1 for h in everyone), check.output
        assert '+    "qty_limit": "400"' in check.output  # the diff of acct-bravo's SOLUSDT (and acct-delta's q1)
        assert '+    "trade_count_limit": 10' in check.output  # acct-delta's Block RFQ config
        assert emulator.writes() == [] and held(emulator) == {}
        assert deribit_writes(deribit) == [] and deribit.state()['mmp'] == {}

        first = play('--diff', '-vvv')
        assert first.rc == 0, first.output
        assert all(first.recap()[h]['changed'] == 1 for h in everyone), first.output
        assert len(emulator.writes()) == len(wanted)
        assert held(emulator) == wanted
        assert len(deribit_writes(deribit)) == DERIBIT_CONFIGS
        assert len(deribit.state()['mmp']['deribit-alpha']) == DERIBIT_CONFIGS
        # The path asked for is the one that ran: the module is executed by the target Python, or not at all.
        # (ansible-core 2.21 dropped the " && sleep 0" suffix)
        for module, count in (('binance_mmp', len(wanted)), ('deribit_mmp', DERIBIT_CONFIGS)):
            runs = re.findall(r"EXEC /bin/sh -c '(\S+) \S+/AnsiballZ_%s\.py(?: && sleep 0)?'" % module, first.output)
            if path == 'module':
                assert runs == [python] * count, (module, runs)
            else:
                assert 'AnsiballZ_%s' % module not in first.output

        second = play('--diff')
        assert second.rc == 0, second.output
        assert all(second.recap()[h]['changed'] == 0 and second.recap()[h]['failed'] == 0 for h in everyone), \
            second.output
        assert emulator.writes() == [] and deribit_writes(deribit) == []
        assert len([j for j in emulator.journal if j['path'] == '/eapi/v1/mmp']) == len(wanted)
        assert len(deribit.journal) == DERIBIT_CONFIGS

        again = play('--check', '--diff')
        assert again.rc == 0, again.output
        assert all(again.recap()[h]['changed'] == 0 for h in everyone), again.output
        assert emulator.writes() == [] and held(emulator) == wanted and deribit_writes(deribit) == []
