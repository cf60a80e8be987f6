# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End-to-end fixtures: the emulator on 127.0.0.1 in this process, keys, inventories, ansible-playbook runs."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys

import pytest

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from ansible_collections.marketops.mmp.tests.emulator.certs import write_test_pki
from ansible_collections.marketops.mmp.tests.emulator.deribit import DeribitEmulator, DeribitServer
from ansible_collections.marketops.mmp.tests.emulator.server import Emulator, EmulatorServer

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTION = os.path.dirname(os.path.dirname(HERE))
PASSPHRASE = 'e2e-passphrase-' + secrets.token_hex(8)
PATHS = ['module', 'fast']  # the module executed as usual, and the action plugin's in-process fast path


def source_tree():
    """The checkout (with galaxy.yml): this tree, or the one tests/dev.py names when testing an installed copy."""
    for candidate in (os.environ.get('MARKETOPS_MMP_SOURCE'), COLLECTION):
        if candidate and os.path.isfile(os.path.join(candidate, 'galaxy.yml')):
            return candidate
    pytest.fail('no source tree with galaxy.yml: set MARKETOPS_MMP_SOURCE')
    return None


def below_the_exchange(cmd):
    """``cmd`` run at a lower CPU priority than this process, where the emulator answers.

    The real exchange is another machine: a controller busy with 20 forks never delays its answers. The emulator
    shares this machine's CPUs with the playbook under test (and, in CI, with a second matrix row); at equal priority
    a burst of ansible workers can keep its threads from answering for longer than the client's timeout, and the
    client then rightly sends again. Lowering the playbook's priority keeps the emulator a fair stand-in.
    """
    nice = shutil.which('nice')
    return [nice, '-n', '10'] + list(cmd) if nice else list(cmd)


def pytest_configure(config):
    config.addinivalue_line('markers', 'smoke: the end-to-end smoke test every ansible-core of the matrix runs '
                            '(python3 tests/dev.py matrix)')


def _pem(key, passphrase=None):
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption).decode()


def _public_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture(scope='session')
def accounts():
    """Five accounts: two HMAC, one Ed25519, one RSA with an encrypted key, one that is not a market maker."""
    ed_key = ed25519.Ed25519PrivateKey.generate()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    out = {
        'hmac-a': dict(api_key='e2eA' + secrets.token_hex(20), secret='sA' + secrets.token_hex(24)),
        'hmac-b': dict(api_key='e2eB' + secrets.token_hex(20), secret='sB' + secrets.token_hex(24)),
        'ed25519': dict(api_key='e2eE' + secrets.token_hex(20), private_key=_pem(ed_key),
                        public_key=_public_pem(ed_key)),
        'rsa': dict(api_key='e2eR' + secrets.token_hex(20), private_key=_pem(rsa_key, PASSPHRASE),
                    passphrase=PASSPHRASE, public_key=_public_pem(rsa_key)),
        'not-mm': dict(api_key='e2eN' + secrets.token_hex(20), secret='sN' + secrets.token_hex(24),
                       market_maker=False),
    }
    for name, account in out.items():
        account['name'] = name
    return out


def secrets_of(accounts):
    """Every string that must never appear in any output: secrets, private key bodies, passphrases."""
    found = []
    for account in accounts.values():
        found += [account[k] for k in ('secret', 'passphrase') if account.get(k)]
        if account.get('private_key'):
            found += [line for line in account['private_key'].splitlines() if line and not line.startswith('-----')]
    return found


def _emulator(accounts):
    return Emulator([dict(name=a['name'], api_key=a['api_key'], secret=a.get('secret'), public_key=a.get('public_key'),
                          market_maker=a.get('market_maker', True)) for a in accounts.values()],
                    limit_format='padded')


@pytest.fixture
def emulator(accounts):
    emu = _emulator(accounts)
    with EmulatorServer(emu) as server:
        emu.url = server.url
        yield emu


@pytest.fixture(scope='session')
def pki(tmp_path_factory):
    """A throwaway CA (``ca``), a certificate of it for 127.0.0.1 and localhost (``server_cert``/``server_key``)
    and one for another host name only (``other-host_cert``/``other-host_key``)."""
    return write_test_pki(str(tmp_path_factory.mktemp('pki') / 'pki'))


@pytest.fixture
def https_emulator(accounts, pki):
    """The emulator over HTTPS, with a certificate of the test CA for 127.0.0.1 and localhost."""
    emu = _emulator(accounts)
    with EmulatorServer(emu, certfile=pki['server_cert'], keyfile=pki['server_key']) as server:
        emu.url = server.url
        yield emu


@pytest.fixture
def other_host_emulator(accounts, pki):
    """The emulator over HTTPS, with a certificate of the test CA for another host name only."""
    emu = _emulator(accounts)
    with EmulatorServer(emu, certfile=pki['other-host_cert'], keyfile=pki['other-host_key']) as server:
        emu.url = server.url
        yield emu


def host_vars(account, url, configs, **extra):
    hv = dict(ansible_connection='local', ansible_python_interpreter=sys.executable, binance_base_url=url,
              binance_api_key=account['api_key'], binance_mmp_configs=configs)
    if account.get('secret'):
        hv['binance_api_secret'] = account['secret']
    else:
        hv['binance_private_key'] = account['private_key']
    if account.get('passphrase'):
        hv['binance_private_key_passphrase'] = account['passphrase']
    hv.update(extra)
    return hv


def config(underlying='BTCUSDT', window_ms=3000, frozen_ms=300000, qty_limit='2', delta_limit='2.3'):
    return dict(underlying=underlying, window_ms=window_ms, frozen_ms=frozen_ms, qty_limit=qty_limit,
                delta_limit=delta_limit)


class PlaybookRun:
    def __init__(self, rc, output, results, log):
        self.rc = rc
        self.output = output
        self.results = results
        self.log = log

    def for_host(self, host, task='Apply the MMP config of each underlying'):
        return [r for r in self.results if r['host'] == host and r['task'] == task]

    def recap(self):
        """{host: {'changed': n, 'failed': n, ...}} from PLAY RECAP."""
        out = {}
        for line in self.output.splitlines():
            parts = line.split(' : ')
            if len(parts) == 2 and 'ok=' in parts[1]:
                out[parts[0].strip()] = {k: int(v) for k, v in (p.split('=') for p in parts[1].split())}
        return out


def private_tmp(tmp_path):
    """The test's own temporary directory."""
    path = tmp_path / 'tmp'
    path.mkdir(exist_ok=True)
    return str(path)


@pytest.fixture(autouse=True)
def private_pacing_dir(tmp_path, monkeypatch):
    """The test's own pacing ledger directory (MARKETOPS_MMP_PACING_DIR, inherited by every playbook and watcher the test
    starts, and used by its own clients): a ban or limit an earlier test recorded for an emulator that had the same port
    must not hold this one (within a test, its runs share it, as a user's runs do)."""
    path = tmp_path / 'pacing'
    monkeypatch.setenv('MARKETOPS_MMP_PACING_DIR', str(path))
    return path


@pytest.fixture
def run_playbook(tmp_path):
    """Write an inventory and run ansible-playbook over it; returns a PlaybookRun."""
    counter = [0]

    def run(hosts, *args, path='module', playbook='marketops.mmp.apply_mmp', forks=5, verbose=None,
            env_extra=None):
        counter[0] += 1
        inventory = tmp_path / ('inventory-%d.yml' % counter[0])
        inv_hosts = {}
        for name, hv in hosts.items():
            hv = dict(hv)
            if path == 'module':
                hv['marketops_mmp_fast_path'] = False
            inv_hosts[name] = hv
        inventory.write_text(json.dumps({'binance_accounts': {'hosts': inv_hosts}}))
        results = tmp_path / ('results-%d.jsonl' % counter[0])
        log = tmp_path / ('ansible-%d.log' % counter[0])
        env = dict(os.environ)
        env.update(ANSIBLE_CALLBACKS_ENABLED='e2e_results', ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, 'callback_plugins'),
                   E2E_RESULTS_FILE=str(results), ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_LOG_PATH=str(log),
                   ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_HOST_KEY_CHECKING='0', ANSIBLE_FORKS=str(forks),
                   ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-local'),
                   # the test's own pacing ledger: a ban or limit an earlier test recorded for an emulator that had the
                   # same port must not hold this one (within a test, its runs share it, as a user's runs do)
                   TMPDIR=private_tmp(tmp_path))
        if 'ansible_collections' in COLLECTION:
            env['ANSIBLE_COLLECTIONS_PATH'] = COLLECTION.split(os.sep + 'ansible_collections' + os.sep)[0]
        env.update(env_extra or {})
        cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(inventory), playbook]
        if verbose:
            cmd.append('-' + 'v' * verbose)
        cmd += list(args)
        proc = subprocess.run(below_the_exchange(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env, timeout=300, check=False)
        records = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
        return PlaybookRun(proc.returncode, proc.stdout, records, log.read_text() if log.exists() else '')

    return run


@pytest.fixture(scope='session')
def deribit_accounts():
    """Four Deribit accounts by name: ``deribit-a`` and ``deribit-b`` (full scope), ``deribit-ro`` (read-only scope)
    and ``deribit-off`` (MMP not activated); each a dict of name, client_id, client_secret (and scope, mmp_enabled)."""
    out = {
        'deribit-a': dict(client_id='e2eDA' + secrets.token_hex(4), client_secret='dsA' + secrets.token_hex(20)),
        'deribit-b': dict(client_id='e2eDB' + secrets.token_hex(4), client_secret='dsB' + secrets.token_hex(20)),
        'deribit-ro': dict(client_id='e2eDR' + secrets.token_hex(4), client_secret='dsR' + secrets.token_hex(20),
                           scope='trade:read block_rfq:read'),
        'deribit-off': dict(client_id='e2eDO' + secrets.token_hex(4), client_secret='dsO' + secrets.token_hex(20),
                            mmp_enabled=False),
    }
    for name, account in out.items():
        account['name'] = name
    return out


@pytest.fixture
def deribit_emulator(deribit_accounts):
    """The Deribit emulator (tests/emulator/deribit.py) on 127.0.0.1 in this process; ``.url`` is its base URL."""
    emu = DeribitEmulator(list(deribit_accounts.values()))
    with DeribitServer(emu) as server:
        emu.url = server.url
        yield emu
