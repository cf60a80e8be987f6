# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mmp_watch event source under real ansible-rulebook (Java 17) against the emulator."""

from __future__ import annotations

import ast
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.marketops.mmp.tests.e2e.conftest import COLLECTION, secrets_of
from ansible_collections.marketops.mmp.tests.emulator import control as ctl

BIN = os.path.dirname(sys.executable)
# How long after the first 418 was answered a request another thread had already let go may still arrive (CI load).
IN_FLIGHT_GRACE = 2.0
RULEBOOK = '''---
- name: MMP watch, end to end
  hosts: all
  sources:
    - marketops.mmp.mmp_watch:
        accounts: "{{ watch_accounts }}"
        base_url: "{{ watch_url }}"
        interval: "{{ watch_interval }}"
        weight_budget: "{{ watch_budget }}"
  rules:
    - name: Print every MMP event
      condition: event.mmp_watch is defined
      action:
        print_event:
'''


def private_tmp(tmp_path):
    """A temporary directory of the test's own: the client's weight ledger (keyed by host and port) of an earlier
    emulator that had the same port must not pace or skew the clock of this one."""
    path = tmp_path / 'tmp'
    path.mkdir(exist_ok=True)
    return str(path)


@pytest.fixture
def private_ledger(monkeypatch, tmp_path):
    """The same for the tests that run the source in this process."""
    from ansible_collections.marketops.mmp.plugins.module_utils import pacing
    for_url = pacing.Ledger.for_url
    monkeypatch.setattr(pacing.Ledger, 'for_url', lambda url, base_dir=None, scope=None: for_url(url, base_dir=str(tmp_path), scope=scope))


def java_home():
    """JAVA_HOME as set, else derived from the java on PATH (drools_jpy needs a JVM; ansible-rulebook needs 17+)."""
    if os.environ.get('JAVA_HOME'):
        return os.environ['JAVA_HOME']
    java = shutil.which('java')
    if not java:
        pytest.fail('ansible-rulebook needs Java 17: no java on PATH and no JAVA_HOME')
    return os.path.dirname(os.path.dirname(os.path.realpath(java)))


class Rulebook:
    """ansible-rulebook in the background; its stdout parsed into events as they arrive."""

    def __init__(self, tmp_path, variables, verbosity='-v', name='run', extra_env=None, text=RULEBOOK):
        rulebook = shutil.which('ansible-rulebook', path=BIN)
        if not rulebook:
            pytest.fail('ansible-rulebook is not installed (tests/requirements-dev.txt pins it)')
        (tmp_path / 'rulebook.yml').write_text(text)
        (tmp_path / 'inventory.yml').write_text('all:\n  hosts:\n    localhost:\n      ansible_connection: local\n')
        vars_file = tmp_path / ('vars-%s.yml' % name)
        vars_file.write_text(json.dumps(variables))
        env = dict(os.environ, JAVA_HOME=java_home(), PATH=BIN + os.pathsep + os.environ.get('PATH', ''),
                   ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-local'), PYTHONUNBUFFERED='1', TMPDIR=private_tmp(tmp_path))
        env.update(extra_env or {})
        env['ANSIBLE_COLLECTIONS_PATH'] = COLLECTION.split(os.sep + 'ansible_collections' + os.sep)[0]
        # As a user runs it: the collections path is not on PYTHONPATH; the plugin finds its module_utils itself.
        env.pop('PYTHONPATH', None)
        self.lines, self.events = [], []
        self.proc = subprocess.Popen([rulebook, '-r', str(tmp_path / 'rulebook.yml'), '-i', str(tmp_path / 'inventory.yml'),
                                      '--vars', str(vars_file), verbosity], cwd=str(tmp_path), env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.startswith("{'mmp_watch'"):
                event = ast.literal_eval(line.strip())
                received = event.get('meta', {}).get('received_at', '')
                event['mmp_watch']['_received'] = datetime.datetime.fromisoformat(received.replace('Z', '+00:00')) \
                    .timestamp() if received else time.time()
                self.events.append(event['mmp_watch'])

    def wait_for(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events if predicate(e)]
            if found:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError('no %s within %ss; output:\n%s' % (what, timeout, ''.join(self.lines[-60:])))

    def of(self, kind, account=None, underlying=None):
        return [e for e in self.events if e['type'] == kind and (account is None or e['account'] == account)
                and (underlying is None or e['underlying'] == underlying)]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(timeout=5)
        return ''.join(self.lines)


def watch_account(account, underlyings=None, secret=None):
    out = dict(name=account['name'], api_key=account['api_key'])
    if secret or account.get('secret'):
        out['api_secret'] = secret or account['secret']
    else:
        out['private_key'] = account['private_key']
        if account.get('passphrase'):
            out['private_key_passphrase'] = account['passphrase']
    if underlyings:
        out['underlyings'] = underlyings
    return out


def trigger(emulator, account, underlying, frozen_ms):
    """MMP triggers now (the emulator's clock) for ``account``'s ``underlying``; returns the time in seconds."""
    now_ms = emulator.server_ms()
    emulator.set_state(dict(api_key=account['api_key'], underlying=underlying, window_ms=3000, frozen_ms=frozen_ms,
                            qty_limit='2', delta_limit='2.3', last_trigger_time=now_ms))
    return now_ms / 1000.0


def assert_no_secret(output, accounts, emulator, extra=()):
    for secret in list(secrets_of(accounts)) + list(extra) + [a['api_key'] for a in accounts.values()]:
        assert secret not in output, 'a secret or an API key was printed'
    for signature in set(emulator.signatures):
        assert signature not in output, 'a request signature was printed'


def test_triggers_thaws_errors_and_a_restart_under_ansible_rulebook(tmp_path, emulator, accounts):
    interval = 2  # seconds; "within two intervals" leaves room for a loaded CI machine
    wrong_secret = 'wrong-' + accounts['hmac-b']['secret'][::-1]
    variables = dict(watch_url=emulator.url, watch_interval=interval, watch_budget=600, watch_accounts=[
        watch_account(accounts['hmac-a'], ['BTCUSDT', 'ETHUSDT']),
        watch_account(accounts['ed25519']),  # every underlying the exchange lists
        watch_account(accounts['rsa'], ['BTCUSDT']),
        watch_account(accounts['hmac-b'], ['BTCUSDT'], secret=wrong_secret),
    ])
    rb = Rulebook(tmp_path, variables, verbosity='-vv')
    try:
        errors = rb.wait_for(lambda e: e['type'] == 'error', 60, 'error event for the wrong secret')
        assert errors[0]['account'] == 'hmac-b' and errors[0]['error']['code'] == -1022
        time.sleep(2 * interval)  # every account polled at least once: the start-up state is known
        assert rb.of('triggered') == []

        # a trigger becomes one triggered event within two intervals
        at = trigger(emulator, accounts['hmac-a'], 'BTCUSDT', frozen_ms=4000)
        found = rb.wait_for(lambda e: e['type'] == 'triggered' and e['account'] == 'hmac-a', 10, 'triggered event')
        event = found[0]
        assert event['_received'] - at <= 2 * interval, 'detected after %.2f s' % (event['_received'] - at)
        assert event['underlying'] == 'BTCUSDT' and event['initial'] is False and event['frozen'] is True
        assert event['last_trigger_time'] == int(at * 1000) and event['frozen_ms'] == 4000
        assert event['frozen_until'] == int(at * 1000) + 4000
        assert event['config'] == dict(underlying='BTCUSDT', window_ms=3000, frozen_ms=4000, qty_limit='2',
                                       delta_limit='2.3', last_trigger_time=int(at * 1000))

        # the same for an account watching every listed underlying, frozen until a reset; and an RSA key
        trigger(emulator, accounts['ed25519'], 'SOLUSDT', frozen_ms=0)
        trigger(emulator, accounts['rsa'], 'BTCUSDT', frozen_ms=600000)
        rb.wait_for(lambda e: e['type'] == 'triggered' and e['account'] == 'ed25519', 10, 'triggered (ed25519)')
        rb.wait_for(lambda e: e['type'] == 'triggered' and e['account'] == 'rsa', 10, 'triggered (rsa)')

        # the thaw, when frozen_ms has passed
        thawed = rb.wait_for(lambda e: e['type'] == 'thawed', 15, 'thawed event')[0]
        assert (thawed['account'], thawed['underlying'], thawed['reason']) == ('hmac-a', 'BTCUSDT', 'expired')
        assert thawed['_received'] - (at + 4) <= 2 * interval + 1  # the Date header has whole seconds
        time.sleep(2 * interval)
    finally:
        output = rb.stop()

    assert [(e['account'], e['underlying']) for e in rb.of('triggered')] == \
        [('hmac-a', 'BTCUSDT'), ('ed25519', 'SOLUSDT'), ('rsa', 'BTCUSDT')] or \
        sorted((e['account'], e['underlying']) for e in rb.of('triggered')) == \
        [('ed25519', 'SOLUSDT'), ('hmac-a', 'BTCUSDT'), ('rsa', 'BTCUSDT')]
    assert len(rb.of('thawed')) == 1
    # the wrong secret: one error (error_interval is 300 s), while the others kept being watched
    assert [e['account'] for e in rb.of('error')] == ['hmac-b']
    assert_no_secret(output, accounts, emulator, extra=[wrong_secret])
    assert 'signature=' not in output.replace('signature=[redacted]', '')

    # restart while frozen: the frozen underlyings come back as initial, the thawed one does not
    rb = Rulebook(tmp_path, variables, name='restart')
    try:
        found = rb.wait_for(lambda e: e['type'] == 'triggered', 60, 'initial triggered events')
        time.sleep(3 * interval)
    finally:
        output = rb.stop()
    assert sorted((e['account'], e['underlying'], e['initial'], e['frozen_until'] is None)
                  for e in rb.of('triggered')) == [('ed25519', 'SOLUSDT', True, True), ('rsa', 'BTCUSDT', True, False)]
    assert found
    assert_no_secret(output, accounts, emulator, extra=[wrong_secret])


def test_the_budget_stretches_the_interval_instead_of_a_429(tmp_path, emulator, accounts):
    # 3 accounts x 6 listed underlyings = 18 reads per poll; at 1 s that is 1080 weight per minute.
    emulator.settings['weight_limit'] = 100  # the exchange would answer 429 within seconds at 1 s
    variables = dict(watch_url=emulator.url, watch_interval=1, watch_budget=60, watch_accounts=[
        watch_account(accounts[name]) for name in ('hmac-a', 'hmac-b', 'ed25519')])
    rb = Rulebook(tmp_path, variables)
    try:
        info = rb.wait_for(lambda e: e['type'] == 'info', 60, 'info event')[0]
        started = time.monotonic()
        time.sleep(8)
    finally:
        output = rb.stop()
    assert info['reason'] == 'interval_stretched' and info['reads_per_poll'] == 18
    assert info['interval'] == pytest.approx(18 * 60 / 59.98, abs=0.01) and info['weight_per_minute'] <= 60
    assert len(rb.of('info')) == 1 and output.count('polling every') == 1  # reported once
    journal = emulator.journal
    assert not [e for e in journal if e.get('status') in (429, 418)]
    reads = [e for e in journal if e['path'] == '/eapi/v1/mmp']
    # the first poll of each account, then nothing until the stretched interval has passed
    assert len(reads) == 18, '%d reads within %.0f s' % (len(reads), time.monotonic() - started)
    assert len([e for e in journal if e['path'] == '/eapi/v1/exchangeInfo']) == 1
    assert_no_secret(output, accounts, emulator)


def test_the_example_rulebook_records_the_incident_with_a_vaulted_secret(tmp_path, emulator, accounts):
    """extensions/eda/rulebooks/mmp_oncall.yml as shipped: a trigger runs record_mmp_incident (and audit_mmp)."""
    password = tmp_path / 'vault-password.txt'
    password.write_text('e2e-vault-password\n')
    vaulted = subprocess.run([os.path.join(BIN, 'ansible-vault'), 'encrypt_string', '--vault-password-file',
                              str(password), accounts['hmac-a']['secret']], check=True, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, env=dict(os.environ, ANSIBLE_NOCOLOR='1')).stdout
    incidents, audits = tmp_path / 'incidents', tmp_path / 'audits'
    # audit_mmp (the second action) is another playbook of the collection; where it is, its report must appear
    audit = os.path.exists(os.path.join(COLLECTION, 'playbooks', 'audit_mmp.yml'))
    (tmp_path / 'vars.yml').write_text(
        'mmp_watch_interval: 1\n'
        'binance_incident_dir: %s\n'
        'binance_audit_dir: %s\n'
        'mmp_watch_accounts:\n'
        '  - name: hmac-a\n'
        '    api_key: %s\n'
        '    underlyings: [BTCUSDT]\n'
        '    api_secret: %s\n' % (json.dumps(str(incidents)), json.dumps(str(audits)), accounts['hmac-a']['api_key'], vaulted.strip()))
    (tmp_path / 'inventory.yml').write_text(json.dumps({'binance_accounts': {'hosts': {'hmac-a': {
        'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}}}))
    env = dict(os.environ, JAVA_HOME=java_home(), PATH=BIN + os.pathsep + os.environ.get('PATH', ''),
               BINANCE_EAPI_URL=emulator.url, ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-local'), PYTHONUNBUFFERED='1',
               TMPDIR=private_tmp(tmp_path),
               ANSIBLE_COLLECTIONS_PATH=COLLECTION.split(os.sep + 'ansible_collections' + os.sep)[0])
    env.pop('PYTHONPATH', None)
    proc = subprocess.Popen([os.path.join(BIN, 'ansible-rulebook'), '-r', 'marketops.mmp.mmp_oncall',
                             '-i', str(tmp_path / 'inventory.yml'), '--vars', str(tmp_path / 'vars.yml'),
                             '--vault-password-file', str(password)], cwd=str(tmp_path), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()

    def audited():
        if audit:
            return bool(list(audits.rglob('report.json')))
        return 'Could not find a playbook for marketops.mmp.audit_mmp' in ''.join(lines)

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and not emulator.journal:
            time.sleep(0.1)
        time.sleep(2)
        at = trigger(emulator, accounts['hmac-a'], 'BTCUSDT', frozen_ms=600000)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and not (list(incidents.glob('*.json')) and audited()):
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)
    output = ''.join(lines)
    files = list(incidents.glob('*.json'))
    assert [f.name for f in files] == ['hmac-a-BTCUSDT-%d.json' % int(at * 1000)], output[-3000:]
    incident = json.loads(files[0].read_text())
    assert incident['account'] == 'hmac-a' and incident['underlying'] == 'BTCUSDT'
    assert incident['last_trigger_time'] == int(at * 1000) and incident['frozen_until'] == int(at * 1000) + 600000
    assert incident['config']['frozen_ms'] == 600000 and incident['initial'] is False
    if audit:
        assert list(audits.rglob('report.json')), output[-3000:]
    else:
        assert 'Could not find a playbook for marketops.mmp.audit_mmp' in output
    assert accounts['hmac-a']['secret'] not in output and accounts['hmac-a']['api_key'] not in output


def test_the_stretch_is_reported_once_at_start_up_when_the_underlyings_are_listed(emulator, accounts, private_ledger):
    """The plugin's main() directly (as ansible-rulebook calls it), for a fleet whose reads are known at start."""
    import asyncio
    import runpy

    main = runpy.run_path(os.path.join(COLLECTION, 'extensions', 'eda', 'plugins', 'event_source', 'mmp_watch.py'))['main']
    events = []

    class Queue:
        async def put(self, event):
            events.append(event['mmp_watch'])

    def reads(name):
        return [e['time'] for e in emulator.journal if e['path'] == '/eapi/v1/mmp' and e['account'] == name
                and e['params'].get('underlying') == 'BTCUSDT']

    async def run():
        args = dict(base_url=emulator.url, interval=1, weight_budget=120, accounts=[
            watch_account(accounts[name], ['BTCUSDT', 'ETHUSDT', 'SOLUSDT']) for name in ('hmac-a', 'hmac-b')])
        task = asyncio.ensure_future(main(Queue(), args))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(len(reads(n)) >= 3 for n in ('hmac-a', 'hmac-b')):
            await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    infos = [e for e in events if e['type'] == 'info']
    assert len(infos) == 1 and infos[0]['interval'] == 3.0 and infos[0]['reads_per_poll'] == 6
    assert infos[0]['weight_per_minute'] == 120.0
    for name in ('hmac-a', 'hmac-b'):
        times = reads(name)
        assert len(times) >= 3
        # every 3 s, not every second as asked (a loaded machine can only make the gaps longer)
        assert min(b - a for a, b in zip(times, times[1:])) >= 2.5, times
    assert not [e for e in emulator.journal if e.get('status') in (429, 418)]


def test_bad_arguments_stop_the_source_before_any_request(emulator, accounts):
    import asyncio
    import runpy

    main = runpy.run_path(os.path.join(COLLECTION, 'extensions', 'eda', 'plugins', 'event_source', 'mmp_watch.py'))['main']
    args = dict(base_url=emulator.url, interval=1, accounts=[watch_account(accounts['hmac-a'], ['BTC/USDT'])])
    with pytest.raises(ValueError, match=r'accounts\[0\] \(hmac-a\)\.underlyings'):
        asyncio.run(main(None, args))
    assert emulator.journal == []


def test_a_defect_in_one_account_poll_does_not_stop_the_others(emulator, accounts, monkeypatch, caplog, private_ledger):
    import asyncio
    import runpy

    from ansible_collections.marketops.mmp.plugins.module_utils.binance import watch

    original = watch.AccountWatch.poll

    def poll(self):
        if self.name == 'hmac-b':
            raise KeyError(accounts['hmac-b']['secret'])
        return original(self)

    monkeypatch.setattr(watch.AccountWatch, 'poll', poll)
    main = runpy.run_path(os.path.join(COLLECTION, 'extensions', 'eda', 'plugins', 'event_source', 'mmp_watch.py'))['main']
    events = []

    class Queue:
        async def put(self, event):
            events.append(event['mmp_watch'])

    async def run():
        args = dict(base_url=emulator.url, interval=1, accounts=[
            watch_account(accounts[name], ['BTCUSDT']) for name in ('hmac-b', 'hmac-a')])
        task = asyncio.ensure_future(main(Queue(), args))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (emulator.journal and 'failed unexpectedly' in caplog.text):
            await asyncio.sleep(0.1)
        trigger(emulator, accounts['hmac-a'], 'BTCUSDT', frozen_ms=60000)
        while time.monotonic() < deadline and not events:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert [(e['type'], e['account']) for e in events] == [('triggered', 'hmac-a')]
    assert 'polling hmac-b failed unexpectedly (KeyError)' in caplog.text
    assert accounts['hmac-b']['secret'] not in caplog.text


def test_a_ban_holds_every_account_then_one_probe_then_the_polls_resume_spread(tmp_path, emulator, accounts):
    """A real ban (418, Retry-After 8 s) under ansible-rulebook: nothing is sent until it ends, then one probe."""
    interval, ban = 3, 8
    names = ('hmac-a', 'hmac-b', 'ed25519')
    variables = dict(watch_url=emulator.url, watch_interval=interval, watch_budget=600, watch_accounts=[
        watch_account(accounts['hmac-a'], ['BTCUSDT', 'ETHUSDT']),
        watch_account(accounts['hmac-b'], ['BTCUSDT']),
        watch_account(accounts['ed25519'], ['BTCUSDT'])])

    def journal():
        with emulator.lock:
            return list(emulator.journal)

    def polled(after=0.0):
        return {e['account'] for e in journal() if e['path'] == '/eapi/v1/mmp' and e['time'] > after}

    rb = Rulebook(tmp_path, variables)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and polled() != set(names) and rb.proc.poll() is None:
            time.sleep(0.1)
        assert polled() == set(names), ''.join(rb.lines[-40:])
        # hmac-a's next read is answered 418: the IP is banned for 8 s, and every request until then would be too
        emulator.add_faults([dict(kind='ban', seconds=ban, path='/eapi/v1/mmp', api_key=accounts['hmac-a']['api_key'])])
        rb.wait_for(lambda e: e.get('reason') == 'exchange_resumed', ban + 30, 'exchange_resumed event')
        probed = [e['time'] for e in journal() if e['path'] == '/eapi/v1/time'][-1]
        deadline = time.monotonic() + 3 * interval + 10
        while time.monotonic() < deadline and polled(probed) != set(names):
            time.sleep(0.1)
    finally:
        output = rb.stop()

    seen = journal()
    banned = [i for i, e in enumerate(seen) if e.get('status') == 418]
    assert banned, seen
    first = seen[banned[0]]
    assert (first['account'], first['params']['underlying'], first.get('fault')) == ('hmac-a', 'BTCUSDT', 'ban')
    # Another account's poll may already have been on its way when the 418 came (the polls run in threads): such a
    # request met the ban too. At most one per other account, arrived while the 418 was being answered and recorded;
    # nothing after that (not even hmac-a's ETHUSDT).
    in_flight = [seen[i] for i in banned[1:]]
    assert len({e['account'] for e in in_flight}) == len(in_flight), in_flight
    assert all(e['account'] not in (None, 'hmac-a') and e['path'] == '/eapi/v1/mmp'
               and e['time'] < first['replied'] + IN_FLIGHT_GRACE for e in in_flight), (first, in_flight)
    later = seen[banned[-1] + 1:]
    # nothing until the ban's end, then exactly one request: the probe, unsigned
    assert later[0]['path'] == '/eapi/v1/time' and later[0]['account'] is None
    assert later[0]['time'] >= first['time'] + ban, 'the probe came %.2f s after the 418' % (later[0]['time'] - first['time'])
    assert [e['path'] for e in later].count('/eapi/v1/time') == 1
    assert not [e for e in later if e.get('status') in (418, 429)]
    # then every account's polls resume, spread over the interval (account i of 3 at probe + 3 s * i / 3)
    resumed = {}
    for entry in later[1:]:
        if entry['path'] == '/eapi/v1/mmp':
            resumed.setdefault(entry['account'], entry['time'])
    assert set(resumed) == set(names), later
    starts = sorted(resumed.values())
    assert starts[-1] - starts[0] >= interval / 3.0, 'the accounts resumed within %.2f s' % (starts[-1] - starts[0])
    assert starts[0] - later[0]['time'] < 1.5

    # one stop event per stop recorded: the ban, and again only where an in-flight 418 said a later end (Retry-After
    # is whole seconds); the last one ends with the ban
    stops = [e for e in rb.events if e.get('reason') == 'exchange_stop']
    assert 1 <= len(stops) <= 1 + len(in_flight), stops
    assert all(e['type'] == 'info' and e['status'] == 418 for e in stops), stops
    # (the event says its end in whole milliseconds, cut down: up to 1 ms before the emulator's own float)
    assert -0.001 <= stops[-1]['until'] / 1000.0 - (first['time'] + ban) < 1.5 + (IN_FLIGHT_GRACE if in_flight else 0)
    assert [e['reason'] for e in rb.of('info')] == ['exchange_stop'] * len(stops) + ['exchange_resumed']
    assert output.count('no request to the exchange until') == len(stops) and 'banned this IP (HTTP 418)' in output
    errors = rb.of('error')
    assert sorted((e['account'], e['error']['http_status']) for e in errors) == sorted(
        (e['account'], 418) for e in [first] + in_flight)
    assert sorted(e['account'] for e in rb.of('recovered')) == sorted(e['account'] for e in [first] + in_flight)
    assert_no_secret(output, accounts, emulator)


def test_a_stop_in_the_ledger_when_the_watch_starts_holds_every_account(emulator, accounts, private_ledger,
                                                                        monkeypatch, caplog):
    """A ban another process recorded (only the ledger knows it): no request before it ends, then one probe."""
    import asyncio
    import runpy

    from ansible_collections.marketops.mmp.plugins.module_utils import pacing

    monkeypatch.setattr(pacing, '_LOCAL', {})
    until = pacing.Pacer(emulator.url, None).record_stop(4, 418)[0]
    monkeypatch.setattr(pacing, '_LOCAL', {})  # this process forgets it: it is in the ledger only
    main = runpy.run_path(os.path.join(COLLECTION, 'extensions', 'eda', 'plugins', 'event_source', 'mmp_watch.py'))['main']
    events = []
    names = ('hmac-a', 'hmac-b')

    class Queue:
        async def put(self, event):
            events.append(event['mmp_watch'])

    def polled():
        return {e['account'] for e in emulator.journal if e['path'] == '/eapi/v1/mmp'}

    async def run():
        args = dict(base_url=emulator.url, interval=1, accounts=[watch_account(accounts[n], ['BTCUSDT']) for n in names])
        task = asyncio.ensure_future(main(Queue(), args))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and polled() != set(names):
            await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    started = time.time()
    asyncio.run(run())
    journal = list(emulator.journal)
    assert journal and journal[0]['path'] == '/eapi/v1/time' and journal[0]['time'] >= until, \
        (journal[:1], until, started)
    assert [e['path'] for e in journal].count('/eapi/v1/time') == 1 and polled() == set(names)
    assert not [e for e in journal if e.get('status') in (418, 429)]
    infos = [e for e in events if e['type'] == 'info']
    assert [(e['reason'], e['status'], e['until']) for e in infos] == [
        ('exchange_stop', 418, int(until * 1000)), ('exchange_resumed', 418, int(until * 1000))]
    assert infos[1]['probe'] == 'answered'
    assert caplog.text.count('no request to the exchange until') == 1


# -- Deribit accounts, beside Binance's ----------------------------------------------------------------------------

def deribit_watch_account(account, secret=None):
    return dict(name=account['name'], venue='deribit', client_id=account['client_id'],
                client_secret=secret or account['client_secret'])


def deribit_client(emulator, account):
    """The collection's Deribit client on the emulator, for the test's own writes (its pacing in this process only)."""
    from ansible_collections.marketops.mmp.plugins.module_utils.deribit.api import DeribitClient
    return DeribitClient(account['client_id'], account['client_secret'], base_url=emulator.url, weight_ledger=None)


def deribit_trigger(emulator, **item):
    """MMP triggers now for a Deribit config, through the emulator's control endpoint; returns the time in seconds."""
    at = time.time()
    ctl.control(emulator.url, 'POST', 'trigger', item)
    return at


def test_a_mixed_watch_reports_deribit_triggers_and_thaws_under_ansible_rulebook(tmp_path, emulator, accounts,
                                                                                 deribit_emulator, deribit_accounts):
    interval = 1
    alpha, bravo = deribit_accounts['deribit-a'], deribit_accounts['deribit-b']
    client_a = deribit_client(deribit_emulator, alpha)
    client_a.set_mmp_config('btc_usd', 10, 30, quantity_limit='2', delta_limit='1.5')
    client_a.set_mmp_config('eth_usd', 10, 2, mmp_group='q1', quantity_limit='1')
    deribit_client(deribit_emulator, bravo).set_mmp_config('btc_usd', 10, 0, quantity_limit='3')
    deribit_trigger(deribit_emulator, account='deribit-b', index_name='btc_usd')  # frozen until a reset, before the start
    variables = dict(watch_url=emulator.url, watch_interval=interval, watch_budget=600, watch_accounts=[
        watch_account(accounts['hmac-a'], ['BTCUSDT']), deribit_watch_account(alpha), deribit_watch_account(bravo)])
    rb = Rulebook(tmp_path, variables, verbosity='-vv', extra_env=dict(DERIBIT_URL=deribit_emulator.url))
    try:
        initial = rb.wait_for(lambda e: e['type'] == 'triggered' and e['account'] == 'deribit-b', 60,
                              'initial triggered event (deribit-b)')[0]
        assert (initial['venue'], initial['index_name'], initial['underlying'], initial['mmp_group'],
                initial['block_rfq'], initial['initial'], initial['frozen'], initial['frozen_until']) == \
            ('deribit', 'btc_usd', 'btc_usd', None, False, True, True, None)
        assert initial['config']['frozen_s'] == 0 and initial['config']['qty_limit'] == '3'
        time.sleep(2 * interval)
        assert [e for e in rb.of('triggered') if e['account'] != 'deribit-b'] == []

        # a trigger through the control endpoint becomes one triggered event, with venue deribit, within two intervals
        at = deribit_trigger(deribit_emulator, account='deribit-a', index_name='btc_usd')
        event = rb.wait_for(lambda e: e['type'] == 'triggered' and e['account'] == 'deribit-a', 10,
                            'triggered event (deribit-a)')[0]
        assert event['_received'] - at <= 2 * interval + 1, 'detected after %.2f s' % (event['_received'] - at)
        assert (event['venue'], event['index_name'], event['underlying'], event['mmp_group'], event['block_rfq'],
                event['initial'], event['frozen']) == ('deribit', 'btc_usd', 'btc_usd', None, False, False, True)
        assert abs(event['frozen_until'] - (at * 1000 + 30000)) < 1500
        assert abs(event['last_trigger_time'] - at * 1000) < 1000 * (2 * interval + 1)
        assert event['config'] == dict(index_name='btc_usd', mmp_group=None, block_rfq=False, window_s=10, frozen_s=30,
                                       qty_limit='2', delta_limit='1.5', vega_limit=None, max_quote_qty=None,
                                       trade_count_limit=None)

        # a manual reset: thawed, reason reset
        client_a.reset_mmp('btc_usd')
        thawed = rb.wait_for(lambda e: e['type'] == 'thawed' and e['account'] == 'deribit-a', 10, 'thawed (reset)')[0]
        assert (thawed['venue'], thawed['index_name'], thawed['reason'], thawed['frozen']) == \
            ('deribit', 'btc_usd', 'reset', False)
        assert thawed['frozen_until'] == event['frozen_until'] and thawed['last_trigger_time'] == event['last_trigger_time']

        # an MMP group's config whose frozen time passes: triggered, then thawed, reason expired
        at = deribit_trigger(deribit_emulator, account='deribit-a', index_name='eth_usd', mmp_group='q1')
        grouped = rb.wait_for(lambda e: e['type'] == 'triggered' and e.get('mmp_group') == 'q1', 10,
                              'triggered (group q1)')[0]
        assert grouped['index_name'] == 'eth_usd' and grouped['config']['mmp_group'] == 'q1'
        expired = rb.wait_for(lambda e: e['type'] == 'thawed' and e.get('mmp_group') == 'q1', 15, 'thawed (expired)')[0]
        assert expired['reason'] == 'expired' and expired['_received'] - (at + 2) <= 2 * interval + 1

        # Binance in the same watch: its events say venue binance
        trigger(emulator, accounts['hmac-a'], 'BTCUSDT', frozen_ms=60000)
        binance = rb.wait_for(lambda e: e['type'] == 'triggered' and e['account'] == 'hmac-a', 10, 'triggered (hmac-a)')[0]
        assert binance['venue'] == 'binance' and binance['underlying'] == 'BTCUSDT'
        time.sleep(interval)
    finally:
        output = rb.stop()

    assert sorted((e['venue'], e['account'], e['underlying']) for e in rb.of('triggered')) == [
        ('binance', 'hmac-a', 'BTCUSDT'), ('deribit', 'deribit-a', 'btc_usd'), ('deribit', 'deribit-a', 'eth_usd'),
        ('deribit', 'deribit-b', 'btc_usd')]
    assert [(e['account'], e['reason']) for e in rb.of('thawed')] == [('deribit-a', 'reset'), ('deribit-a', 'expired')]
    assert rb.of('error') == []
    journal = list(deribit_emulator.journal)
    # two status reads per poll and account (no index: without parameters, then block_rfq=true, so that the Block RFQ
    # configs are listed whichever way Deribit reads block_rfq's default); a config read per trigger only
    statuses = [e for e in journal if e['rpc'] == 'private/get_mmp_status']
    assert statuses and all(e['params'] in ({}, {'block_rfq': 'true'}) and e['status'] == 200 for e in statuses)
    for name in ('deribit-a', 'deribit-b'):
        mine = [e['params'] for e in statuses if e['account'] == name]
        pairs = len(mine) // 2  # (the watcher may have been stopped between a poll's two reads)
        assert pairs and mine[:2 * pairs] == [{}, {'block_rfq': 'true'}] * pairs, (name, mine)
    assert {e['account'] for e in statuses} == {'deribit-a', 'deribit-b'}
    reads = [(e['account'], e['params'].get('index_name'), e['params'].get('mmp_group'))
             for e in journal if e['rpc'] == 'private/get_mmp_config']
    assert sorted(reads, key=str) == sorted([('deribit-b', 'btc_usd', None), ('deribit-a', 'btc_usd', None),
                                             ('deribit-a', 'eth_usd', 'q1')], key=str)
    assert 'Deribit account(s) at %s' % deribit_emulator.url in output
    assert_no_secret(output, accounts, emulator, extra=[alpha['client_secret'], bravo['client_secret']]
                     + list(deribit_emulator.secrets_seen))


def test_the_example_rulebook_records_a_deribit_incident(tmp_path, deribit_accounts):
    """record_mmp_incident, as mmp_oncall runs it, on a Deribit trigger: the file is named after the venue's scope."""
    alpha = deribit_accounts['deribit-a']
    event = dict(type='triggered', venue='deribit', account='deribit-a', underlying='eth_usd', index_name='eth_usd',
                 mmp_group='q1/x', block_rfq=False, initial=False, last_trigger_time=1800000000123, frozen=True,
                 frozen_ms=2000, frozen_until=1800000002123, observed_at=1800000000200,
                 config=dict(index_name='eth_usd', mmp_group='q1/x', block_rfq=False, window_s=10, frozen_s=2))
    incidents = tmp_path / 'incidents'
    rfq = dict(event, index_name='all', underlying='all', mmp_group=None, block_rfq=True)
    for name, item in (('deribit', event), ('rfq', rfq)):
        (tmp_path / ('%s.json' % name)).write_text(json.dumps({'ansible_eda': {'event': {'mmp_watch': item}},
                                                               'mmp_incident_dir': str(incidents),
                                                               'ansible_python_interpreter': sys.executable}))
        env = dict(os.environ, ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-local'), TMPDIR=private_tmp(tmp_path))
        proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), 'marketops.mmp.record_mmp_incident', '-i',
                               'localhost,', '-c', 'local', '-e', '@%s' % (tmp_path / ('%s.json' % name))],
                              cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              check=False)
        assert proc.returncode == 0, proc.stdout[-3000:]
    assert sorted(f.name for f in incidents.glob('*.json')) == [
        'deribit-a-all-block_rfq-1800000000123.json', 'deribit-a-eth_usd-q1_x-1800000000123.json']
    incident = json.loads((incidents / 'deribit-a-eth_usd-q1_x-1800000000123.json').read_text())
    assert (incident['venue'], incident['index_name'], incident['mmp_group'], incident['block_rfq']) == \
        ('deribit', 'eth_usd', 'q1/x', False)
    assert incident['frozen_until'] == 1800000002123 and incident['config']['frozen_s'] == 2
    assert alpha['client_secret'] not in proc.stdout
    # a Binance-shaped event without an underlying, or a Deribit one without an index, is refused
    (tmp_path / 'bad.json').write_text(json.dumps({'ansible_eda': {'event': {'mmp_watch': dict(event, index_name=None)}},
                                                   'mmp_incident_dir': str(incidents),
                                                   'ansible_python_interpreter': sys.executable}))
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), 'marketops.mmp.record_mmp_incident', '-i', 'localhost,',
                           '-c', 'local', '-e', '@%s' % (tmp_path / 'bad.json')], cwd=str(tmp_path), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    # (ansible-core 2.16 shows the message inside JSON, its quotes escaped)
    assert proc.returncode != 0 and 'this playbook records a "triggered" event' in proc.stdout.replace('\\"', '"')


# -- refused credentials: polled every error_interval until the account reads again (issue 21) ----------------------

# The rulebook above, with error_interval
RULEBOOK_ERROR_INTERVAL = RULEBOOK.replace('        weight_budget: "{{ watch_budget }}"\n',
                                           '        weight_budget: "{{ watch_budget }}"\n'
                                           '        error_interval: "{{ watch_error_interval }}"\n')
# How much earlier than error_interval after the last one a refused account's next request may arrive: the watcher
# waits on its monotonic clock, the emulator's journal says the wall clock (both of this machine)
CLOCK_TOLERANCE = 0.1


def test_a_refused_account_is_polled_every_error_interval_until_it_reads_again_the_others_every_interval(
        tmp_path, emulator, accounts, deribit_emulator, deribit_accounts):
    """Under ansible-rulebook, interval 1 s and error_interval 5 s. Binance: hmac-a reads; hmac-b's secret is wrong
    (-1022, refused all along); ed25519's key is refused (-2015, HTTP 401) at its first two polls, then reads. Deribit:
    deribit-a reads; deribit-b's secret is wrong (13004); deribit-ro is refused (13021, a scope) at its first two polls.
    The emulators' journals show when each request arrived."""
    interval, error_interval = 1, 5
    assert RULEBOOK_ERROR_INTERVAL != RULEBOOK
    wrong_secret = 'wrong-' + accounts['hmac-b']['secret'][::-1]
    wrong_deribit_secret = 'wrong-' + deribit_accounts['deribit-b']['client_secret'][::-1]
    emulator.add_faults([dict(kind='custom', status=401, path='/eapi/v1/mmp', api_key=accounts['ed25519']['api_key'],
                              count=2, body={'code': -2015, 'msg': 'Invalid API-key, IP, or permissions for action.'})])
    deribit_emulator.add_faults([dict(kind='status', status=400, code=13021, message='forbidden',
                                      data={'reason': 'insufficient_scope'}, method='private/get_mmp_status',
                                      client_id=deribit_accounts['deribit-ro']['client_id'], count=2)])
    variables = dict(watch_url=emulator.url, watch_interval=interval, watch_error_interval=error_interval,
                     watch_budget=600, watch_accounts=[
                         watch_account(accounts['hmac-a'], ['BTCUSDT']),
                         watch_account(accounts['hmac-b'], ['BTCUSDT'], secret=wrong_secret),
                         watch_account(accounts['ed25519'], ['BTCUSDT']),
                         deribit_watch_account(deribit_accounts['deribit-a']),
                         deribit_watch_account(deribit_accounts['deribit-b'], secret=wrong_deribit_secret),
                         deribit_watch_account(deribit_accounts['deribit-ro'])])

    def reads():
        """{account: [(time, refused)]}: every MMP read each account sent (Binance's signed GET /eapi/v1/mmp, Deribit's
        private/get_mmp_status), in order. A Deribit request refused before its key was known names no account: its
        code tells whose it was (13004: deribit-b's wrong secret, 13021: deribit-ro's fault)."""
        with emulator.lock:
            binance = list(emulator.journal)
        with deribit_emulator.lock:
            deribit = list(deribit_emulator.journal)
        out = {}
        for entry in binance:
            if entry['path'] == '/eapi/v1/mmp' and 'status' in entry:
                out.setdefault(entry['account'], []).append((entry['time'], entry['status'] != 200))
        for entry in deribit:
            # a Deribit poll reads the status twice (without parameters, then block_rfq=true): its first read is the poll
            if entry['rpc'] == 'private/get_mmp_status' and 'status' in entry and not entry['params'].get('block_rfq'):
                name = {13004: 'deribit-b', 13021: 'deribit-ro'}.get(entry.get('code'), entry['account'])
                out.setdefault(name, []).append((entry['time'], entry['status'] != 200))
        return out

    def refused(name, seen):
        return [t for t, no in seen.get(name, []) if no]

    def read_ok(name, seen):
        return [t for t, no in seen.get(name, []) if not no]

    def enough(seen):
        # three refused polls of each refused account (two gaps), three reads of each account that read again
        return (all(len(refused(name, seen)) >= 3 for name in ('hmac-b', 'deribit-b'))
                and all(len(read_ok(name, seen)) >= 3 for name in ('ed25519', 'deribit-ro')))

    rb = Rulebook(tmp_path, variables, extra_env=dict(DERIBIT_URL=deribit_emulator.url), text=RULEBOOK_ERROR_INTERVAL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not enough(reads()) and rb.proc.poll() is None:
            time.sleep(0.2)
        snapshot = reads()
        assert enough(snapshot), (snapshot, ''.join(rb.lines[-40:]))
        # the error event of every refused poll so far, and the recovered events, reach the rulebook
        for name in ('hmac-b', 'deribit-b', 'ed25519', 'deribit-ro'):
            count = len(refused(name, snapshot))
            rb.wait_for(lambda e, n=name, c=count: len(rb.of('error', n)) >= c, 30, '%d error events of %s' % (count, name))
        for name in ('ed25519', 'deribit-ro'):
            rb.wait_for(lambda e, n=name: e['type'] == 'recovered' and e['account'] == n, 30, 'recovered (%s)' % name)
    finally:
        output = rb.stop()
    seen = reads()

    def gaps(times):
        return [round(b - a, 3) for a, b in zip(times, times[1:])]

    # (an account's first poll builds its client and reads the exchange's limits: it may take seconds on a busy
    # machine, and the next poll is counted from its start, or from its end when refused; the bounds above the
    # interval leave it out)
    # the refused accounts: each signed read error_interval after the last, at least (and not much more)
    for name in ('hmac-b', 'deribit-b'):
        times = [t for t, dummy in seen[name]]
        assert read_ok(name, seen) == [] and len(times) >= 3, (name, seen[name])
        assert min(gaps(times)) >= error_interval - CLOCK_TOLERANCE, (name, gaps(times))
        assert max(gaps(times[1:])) < 2 * error_interval, (name, gaps(times))
    # the accounts refused twice: error_interval apart while refused, then every interval again
    for name in ('ed25519', 'deribit-ro'):
        no, ok = refused(name, seen), read_ok(name, seen)
        assert len(no) == 2 and len(ok) >= 3 and no[-1] < ok[0], (name, seen[name])
        assert gaps(no + ok[:1]) and min(gaps(no + ok[:1])) >= error_interval - CLOCK_TOLERANCE, (name, gaps(no + ok))
        assert max(gaps(ok)) < error_interval - 1, (name, gaps(ok))  # about 1 s; far from 5 even on a busy machine
    # the accounts that read: every interval all along, while the others were refused
    window = (refused('hmac-b', seen)[0], refused('hmac-b', seen)[-1])
    for name in ('hmac-a', 'deribit-a'):
        times = read_ok(name, seen)
        assert refused(name, seen) == [] and len(times) >= 5, (name, seen.get(name))
        assert max(gaps(times[1:])) < error_interval - 1 and min(gaps(times)) > interval / 2.0, (name, gaps(times))
        during = [t for t in times if window[0] <= t <= window[1]]
        assert len(during) >= (window[1] - window[0]) / interval / 2, (name, during, window)

    # every refused poll reported its error (its event, throttled per error_interval: each poll is that far apart)
    for name, code in (('hmac-b', -1022), ('deribit-b', 13004), ('ed25519', -2015), ('deribit-ro', 13021)):
        errors = rb.of('error', name)
        assert len(refused(name, snapshot)) <= len(errors) <= len(refused(name, seen)), (name, errors)
        assert {(e['error']['code'], e['scope']) for e in errors} == {(code, 'account')}, errors
        assert [e['error']['failures'] for e in errors] == list(range(1, len(errors) + 1))
    assert [(e['account'], e['failures']) for e in rb.of('recovered')] in (
        [('ed25519', 2), ('deribit-ro', 2)], [('deribit-ro', 2), ('ed25519', 2)])
    assert rb.of('error', 'hmac-a') == [] and rb.of('error', 'deribit-a') == []
    for name in ('hmac-b', 'deribit-b', 'ed25519', 'deribit-ro'):
        assert output.count('%s: the exchange refused its credentials (see its error event): polled every 5 s '
                            '(error_interval) until it can be read again' % name) == 1, output[-3000:]
    assert 'ed25519: read again: polled every 1 s again' in output
    assert 'deribit-ro: read again: polled every 1 s again' in output
    assert_no_secret(output, accounts, emulator, extra=[wrong_secret, wrong_deribit_secret]
                     + [a['client_secret'] for a in deribit_accounts.values()] + list(deribit_emulator.secrets_seen))
