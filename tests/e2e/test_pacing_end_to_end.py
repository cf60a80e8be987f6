# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pacing end to end: real ansible-playbook runs against the emulator's per-IP weight limit, and hostile ledgers."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.marketops.mmp.plugins.module_utils.pacing import Ledger
from ansible_collections.marketops.mmp.tests.e2e.conftest import COLLECTION, below_the_exchange, config, host_vars
from ansible_collections.marketops.mmp.tests.emulator.server import Emulator, EmulatorServer

UNDERLYINGS = ('BTCUSDT', 'ETHUSDT', 'BNBUSDT')
LIMIT = 60
# These tests are about pacing. Their emulators run in the pytest process, which CI's load (two matrix rows, 80
# forks, on 2 cores) can starve for seconds between a request's sending and the emulator's check of its timestamp:
# the real exchange is not starved by our controller. A wide recv_window keeps such stalls from failing a task with
# -1021 twice; the -1021 recovery itself is tested in test_playbook.py (test_clock_offset_is_absorbed). For the same
# reason the client waits up to a minute for an answer: an answer the emulator was too starved to send within the
# default 10 s would rightly be asked for again (a GET) or read back (a write), and the count of requests below would
# then measure this machine's load, not the pacer. Timeouts and read-backs are tested in test_playbook.py
# (test_injected_faults); the playbooks also run at a lower priority than the emulators (below_the_exchange).
RECV_WINDOW = 30000
TIMEOUT = 60


def fleet(count):
    return [dict(name='acct-%02d' % i, api_key='pace%02d%s' % (i, secrets.token_hex(16)),
                 secret=secrets.token_hex(24)) for i in range(count)]


def start_emulator(accounts, **settings):
    emu = Emulator([dict(a, public_key=None, market_maker=True) for a in accounts], underlyings=UNDERLYINGS,
                   limit_format='padded', **settings)
    server = EmulatorServer(emu).start()
    emu.url = server.url
    return emu, server


def pacing_dir(tmpdir):
    """The pacing ledger's directory of the runs that share ``tmpdir``."""
    return str(tmpdir / 'pacing')


def playbook_env(tmpdir, workdir):
    env = dict(os.environ)
    env.update(ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_RETRY_FILES_ENABLED='0',
               ANSIBLE_HOST_KEY_CHECKING='0', ANSIBLE_LOCAL_TEMP=str(workdir / 'ansible-local'),
               TMPDIR=str(tmpdir), MARKETOPS_MMP_PACING_DIR=pacing_dir(tmpdir))
    if 'ansible_collections' in COLLECTION:
        env['ANSIBLE_COLLECTIONS_PATH'] = COLLECTION.split(os.sep + 'ansible_collections' + os.sep)[0]
    return env


def start_playbook(workdir, tmpdir, accounts, url, path, forks, reserve=None, underlyings=UNDERLYINGS, limit=LIMIT):
    """apply_mmp in the background; ``limit`` None leaves weight_limit unset (the limit the emulator publishes)."""
    workdir.mkdir(parents=True, exist_ok=True)
    tmpdir.mkdir(parents=True, exist_ok=True)
    extra = dict(binance_recv_window=RECV_WINDOW, binance_timeout=TIMEOUT, marketops_mmp_fast_path=path == 'fast')
    if limit is not None:
        extra['binance_weight_limit'] = limit
    if reserve is not None:
        extra['binance_weight_reserve'] = reserve
    hosts = {a['name']: host_vars(a, url, [config(u) for u in underlyings], **extra) for a in accounts}
    inventory = workdir / 'inventory.json'
    inventory.write_text(json.dumps({'binance_accounts': {'hosts': hosts}}))
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(inventory),
           'marketops.mmp.apply_mmp', '-f', str(forks)]
    return subprocess.Popen(below_the_exchange(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=playbook_env(tmpdir, workdir))


def windows(emu):
    """{exchange minute: requests} of the emulator's journal, by the emulator's clock."""
    out = {}
    for entry in emu.journal:
        minute = int((entry['time'] + emu.settings['clock_offset_ms'] / 1000.0) // 60)
        out[minute] = out.get(minute, 0) + 1
    return dict(sorted(out.items()))


def repeated(emu):
    """Every request for an (account, method, path, underlying) the emulator answered more than once, in order: when
    the count of requests is off, which ones came again and how long the emulator took to answer each."""
    seen = {}
    for entry in emu.journal:
        key = (entry.get('account'), entry['method'], entry['path'], entry['params'].get('underlying'))
        seen.setdefault(key, []).append(entry)
    t0 = min((entry['time'] for entry in emu.journal), default=0)
    return [dict(request=' '.join(str(k) for k in key),
                 attempts=[dict(at=round(e['time'] - t0, 2), status=e.get('status'), code=e.get('code'),
                                answered_in=round(e['replied'] - e['time'], 2) if 'replied' in e else None)
                           for e in entries])
            for key, entries in seen.items() if len(entries) > 1]


def slowest_answer(emu):
    """The longest the emulator took between a request's arrival and its answer, in seconds."""
    return round(max((e['replied'] - e['time'] for e in emu.journal if 'replied' in e), default=0.0), 2)


# (path, weight_reserve, accounts, underlyings, forks): the shapes of issue 15, run at once, each against its own emulator
SHAPES = [('fast', 0, 20, 3, 20), ('fast', None, 20, 3, 20), ('module', 0, 20, 3, 20), ('module', None, 20, 3, 20),
          ('fast', None, 20, 2, 10), ('module', None, 20, 2, 10)]


def test_pacing_follows_the_published_limit_on_both_paths_with_no_reserve_and_the_default(tmp_path):
    """The emulator publishes REQUEST_WEIGHT 60 per minute in exchangeInfo and weight_limit is left unset: 20 accounts x 3
    underlyings at forks 20 (weight_reserve 0 and the default) and 20 x 2 at forks 10, cold, both paths: 120 or 80
    requests and one exchangeInfo each.

    All runs at once, each against its own emulator (own port: own budget, own ledger). No 429 or 418 anywhere, no
    minute of the exchange over the limit, every task done, and no request beyond one exchangeInfo (the published limit,
    read once per controller) and a read and a write per item but -1021's recovery.
    """
    runs = {}
    for path, reserve, count, width, forks in SHAPES:
        accounts = fleet(count)
        emu, server = start_emulator(accounts, weight_limit=LIMIT)
        name = '%s-%s-%dx%d-f%d' % (path, 'default' if reserve is None else reserve, count, width, forks)
        proc = start_playbook(tmp_path / name, tmp_path / 'tmp', accounts, emu.url, path, forks, reserve,
                              underlyings=UNDERLYINGS[:width], limit=None)
        runs[name] = dict(emu=emu, server=server, proc=proc, reserve=reserve, items=count * width)
    try:
        outputs = {}

        def collect(name):
            outputs[name] = runs[name]['proc'].communicate(timeout=480)[0]
        threads = [threading.Thread(target=collect, args=(name,)) for name in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for run in runs.values():
            if run['proc'].poll() is None:
                run['proc'].kill()
            run['server'].stop()
    report = {}
    for name, run in runs.items():
        statuses = [entry.get('status') for entry in run['emu'].journal]
        answered = [(e['method'], e['path']) for e in run['emu'].journal if e.get('status') == 200]
        other = [(e['method'], e['path'], e.get('status'), e.get('code')) for e in run['emu'].journal
                 if e.get('status') != 200 or e['path'] not in ('/eapi/v1/mmp', '/eapi/v1/mmpSet')]
        report[name] = dict(rc=run['proc'].returncode, requests=len(statuses), http_429=statuses.count(429),
                            http_418=statuses.count(418), windows=list(windows(run['emu']).values()),
                            reads=answered.count(('GET', '/eapi/v1/mmp')),
                            writes=answered.count(('POST', '/eapi/v1/mmpSet')), other=other,
                            repeated=repeated(run['emu']), slowest_answer=slowest_answer(run['emu']))
    print(json.dumps(report, indent=1))  # shown when an assertion below fails
    for name, run in runs.items():
        (tmp_path / ('%s.out' % name)).write_text(outputs[name])
        if report[name]['rc'] != 0:  # pytest.fail: an assertion's message would be cut short
            failed = [line[:2000] for line in outputs[name].splitlines() if line.startswith(('fatal: [', 'failed: ['))]
            details = '\n'.join(failed) or outputs[name][-3000:]
            pytest.fail('%s: ansible-playbook exit %d\n%s\n%s' % (name, report[name]['rc'], details, report))
        assert report[name]['http_429'] == 0 and report[name]['http_418'] == 0, report
        # A GET and a write per item, each answered once. The only other requests allowed are the published limit's
        # read (exchangeInfo, once per controller and hour) and the documented recovery from -1021 (a request that
        # reached the exchange more than recv_window after it was signed): the exchange's clock read once, the
        # request signed again.
        items = run['items']
        assert report[name]['reads'] == items and report[name]['writes'] == items, report
        info = [o for o in report[name]['other'] if o[:3] == ('GET', '/eapi/v1/exchangeInfo', 200)]
        resyncs = [o for o in report[name]['other'] if o[3] == -1021]
        clock_reads = [o for o in report[name]['other'] if o[:3] == ('GET', '/eapi/v1/time', 200)]
        assert len(info) == 1, report
        assert len(report[name]['other']) == 1 + 2 * len(resyncs) == 1 + 2 * len(clock_reads), report
        assert max(report[name]['windows']) <= LIMIT, report
        # How many of the exchange's minutes a run takes depends on how fast this machine sends: on a starved CI
        # machine (two matrix rows and 100 forks on 2 cores) a minute can pass with fewer than 60 requests. That the
        # pacer itself wastes no minute is checked on a fake clock (test_pacing.py,
        # test_a_fleet_uses_no_more_of_the_exchanges_minutes_than_its_count_needs); the benchmark measures the rest.


# ---------------------------------------------------------------------------------------------
# A ban is shared state: after the 418, nothing more is sent by any worker, task or run
# ---------------------------------------------------------------------------------------------

BAN_UNDERLYINGS = UNDERLYINGS


def ban_at_first_read(emu, seconds):
    """The emulator bans the IP at the first MMP read, for ``seconds`` (418 with Retry-After from then on)."""
    emu.add_faults([dict(kind='ban', method='GET', path='/eapi/v1/mmp', seconds=seconds)])


def after_the_418(emu):
    """The requests that reached the emulator after its first 418."""
    statuses = [e.get('status') for e in emu.journal]
    return emu.journal[statuses.index(418) + 1:] if 418 in statuses else None


def failed_items(output):
    """{(host, item): msg} of every failed loop item in an ansible-playbook output."""
    found = {}
    for match in re.finditer(r'^failed: \[(\S+)\] \(item=(\w+)\) => (\{.*?\})$', output, re.M):
        found[(match.group(1), match.group(2))] = json.loads(match.group(3)).get('msg', '')
    return found


@pytest.mark.parametrize('path', ['fast', 'module'])
def test_a_ban_at_the_first_read_stops_every_worker_and_the_next_run(path, tmp_path):
    """30 accounts x 3 underlyings, forks 10, cold: the emulator bans the IP (418, Retry-After 600) at the first MMP
    read. Fewer than forks requests reach it after the 418 (only those already on their way), every item fails naming
    the ban, and a second run during the ban sends nothing at all."""
    accounts = fleet(30)
    emu, server = start_emulator(accounts)
    try:
        ban_at_first_read(emu, 600)
        tmpdir = tmp_path / 'tmp'
        runs = []
        for attempt in ('first', 'second'):
            before = len(emu.journal)
            started = time.monotonic()
            proc = start_playbook(tmp_path / attempt, tmpdir, accounts, emu.url, path, 10, limit=None)
            output = proc.communicate(timeout=300)[0]
            runs.append(dict(rc=proc.returncode, output=output, sent=emu.journal[before:],
                             seconds=time.monotonic() - started))
            (tmp_path / ('%s.out' % attempt)).write_text(output)
        first, second = runs
        after = after_the_418(emu)
        assert after is not None, [e['path'] for e in emu.journal]
        assert len(after) < 10, [(e['path'], e.get('status')) for e in after]
        for run in runs:
            assert run['rc'] != 0
            failed = failed_items(run['output'])
            assert len(failed) == 90, (len(failed), run['output'][-3000:])
            assert all('Binance banned this IP until ' in msg and msg.startswith('account acct-')
                       for msg in failed.values()), run['output'][-3000:]
            assert 'failed=1 ' in run['output'] and run['output'].count('failed=1 ') == 30
        nothing_sent = [msg for msg in failed_items(first['output']).values() if 'nothing was sent' in msg]
        assert len(nothing_sent) >= 90 - 10, len(nothing_sent)
        assert second['sent'] == [], [(e['path'], e.get('status')) for e in second['sent']]
        assert all('nothing was sent' in msg for msg in failed_items(second['output']).values())
    finally:
        server.stop()


@pytest.mark.parametrize('path', ['fast', 'module'])
def test_a_run_after_the_ban_ends_proceeds_normally(path, tmp_path):
    """A short ban (Retry-After 8 s) at the first read: the run fails, the next run after the ban's end applies every
    config, with one read and one write per item and no 418."""
    accounts = fleet(4)
    emu, server = start_emulator(accounts)
    try:
        ban_at_first_read(emu, 8)
        tmpdir = tmp_path / 'tmp'
        proc = start_playbook(tmp_path / 'first', tmpdir, accounts, emu.url, path, 4, limit=None)
        output = proc.communicate(timeout=300)[0]
        assert proc.returncode != 0 and 'Binance banned this IP until ' in output
        banned_until = max(e['time'] for e in emu.journal if e.get('status') == 418) + 8
        time.sleep(max(0.0, banned_until - time.time() + 1.5))
        before = len(emu.journal)
        proc = start_playbook(tmp_path / 'second', tmpdir, accounts, emu.url, path, 4, limit=None)
        output = proc.communicate(timeout=300)[0]
        assert proc.returncode == 0, output[-3000:]
        assert output.count('changed=1 ') == 4
        sent = emu.journal[before:]
        assert [e.get('status') for e in sent].count(200) == len(sent)
        assert len([e for e in sent if e['path'] in ('/eapi/v1/mmp', '/eapi/v1/mmpSet')]) == 4 * 3 * 2
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# A ledger nothing can poison: each case ends in a successful task, quickly, on both paths
# ---------------------------------------------------------------------------------------------

def hostile_content(now):
    minute = int(now // 60)
    return {
        'far-future hold': {'v': 2, 'hold_until': now + 10 ** 7},
        # further ahead than Binance's longest ban (3 days), or recorded after its own end: not believed
        'far-future stop': {'v': 2, 'stop': {'until': now + 10 ** 7, 'at': now, 'status': 418},
                            'limit_probe_until': now + 10 ** 7},
        'huge weights': {'v': 2, 'minutes': {str(minute + d): 10 ** 15 for d in range(-1, 3)},
                         'rate_limit': {'weight_per_minute': 10 ** 12, 'at': now, 'read': True}},
        'absurd clock offsets': {'v': 2, 'clock': {'lo': 1e15, 'hi': 1e15 + 1, 'at': now},
                                 'sync': {'time_offset_ms': -10 ** 18, 'at': now}},
        'wrong types': {'v': 2, 'clock': 'x', 'minutes': [1, 2], 'hold_until': {'a': 1}, 'probe_until': 'y',
                        'stop': {'until': str(now + 600), 'at': now, 'status': 418},
                        'rate_limit': {'weight_per_minute': '60', 'at': now, 'read': 1}},
    }


def place(ledger, kind, tmp_path):
    """Put ``kind`` in place of the ledger; returns a check that whatever must stay untouched did."""
    directory = os.path.dirname(ledger.path)
    if kind == 'directory owned by another user':
        os.makedirs(directory, mode=0o700)
        with open(ledger.path, 'w') as f:
            json.dump({'hold_until': time.time() + 10 ** 7}, f)
        os.chown(directory, 65534, 65534)
        content = open(ledger.path).read()
        return lambda: os.stat(directory).st_uid == 65534 and open(ledger.path).read() == content
    os.makedirs(directory, mode=0o700, exist_ok=True)
    if kind == 'garbage bytes':
        with open(ledger.path, 'wb') as f:
            f.write(os.urandom(4096) + b'\x00{"hold_until": 1e300')
        return lambda: True
    if kind == 'symlink to another file':
        target = tmp_path / 'somebody-elses-file'
        target.write_text('{"hold_until": 1e300}')
        os.symlink(str(target), ledger.path)
        return lambda: target.read_text() == '{"hold_until": 1e300}' and os.path.islink(ledger.path)
    if kind == 'file owned by another user':
        content = json.dumps({'hold_until': time.time() + 10 ** 7})
        with open(ledger.path, 'w') as f:
            f.write(content)
        os.chown(ledger.path, 65534, 65534)
        return lambda: open(ledger.path).read() == content
    with open(ledger.path, 'w') as f:
        json.dump(hostile_content(time.time())[kind], f)
    return lambda: True


HOSTILE = ['far-future hold', 'far-future stop', 'huge weights', 'absurd clock offsets', 'wrong types', 'garbage bytes',
           'symlink to another file', 'file owned by another user', 'directory owned by another user']
# The ledger itself cannot be used (the others are ours, and only what they hold is dropped): each account's task fails
# before sending anything, saying which file and why (a stop recorded there could not be honoured).
REFUSED = {'symlink to another file', 'file owned by another user', 'directory owned by another user'}


def run_with_ledger(tmp_path, emu, accounts, path, underlyings, prepare):
    """apply_mmp through ``path`` (forks 5) with a TMPDIR of its own, whose ledger ``prepare(ledger)`` sets up first.

    Returns (what ``prepare`` returned, the exit code, the output, the seconds the run took).
    """
    tmpdir = tmp_path / ('tmp-' + path)
    tmpdir.mkdir()
    prepared = prepare(Ledger.for_url(emu.url, pacing_dir(tmpdir)))
    emu.reset()
    started = time.monotonic()
    proc = start_playbook(tmp_path / ('run-' + path), tmpdir, accounts, emu.url, path, 5, underlyings=underlyings)
    try:
        output = proc.communicate(timeout=150)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    return prepared, proc.returncode, output, time.monotonic() - started


@pytest.mark.parametrize('kind', HOSTILE)
def test_a_hostile_ledger_neither_stalls_a_task_nor_lets_it_send_without_the_ledger(kind, tmp_path):
    if 'owned by another user' in kind and os.getuid() != 0:
        pytest.skip('needs root to give a file to another user')
    accounts = fleet(2)
    emu, server = start_emulator(accounts)
    try:
        for path in ('fast', 'module'):
            (tmp_path / path).mkdir()
            untouched, rc, output, elapsed = run_with_ledger(tmp_path, emu, accounts, path, UNDERLYINGS[:2],
                                                             lambda ledger, at=tmp_path / path: place(ledger, kind, at))
            assert untouched(), kind
            if kind in REFUSED:
                # every item of every account fails naming the ledger and why; not one request (not even exchangeInfo)
                assert rc != 0 and emu.journal == [], (output[-3000:], [e['path'] for e in emu.journal])
                failed = failed_items(output)
                assert len(failed) == 4 and all(
                    msg.startswith('account acct-') and 'not sent: the pacing ledger ' in msg and 'cannot be used' in msg
                    for msg in failed.values()), output[-3000:]
                assert elapsed < 60, elapsed
                continue
            assert rc == 0, output[-3000:]
            assert output.count('changed=1 ') == 2 and output.count('failed=0 ') == 2, output[-3000:]
            assert elapsed < 60, elapsed  # no wait for anything the ledger claims
            # a read and a write per item, and the published limit's read once (the hostile entries are not believed)
            info = [e['path'] for e in emu.journal].count('/eapi/v1/exchangeInfo')
            assert info == 1, info
            assert [e.get('status') for e in emu.journal].count(200) == 8 + info
            # ansible-core < 2.19 wraps a warning over several lines
            warned = re.findall(r'\[WARNING\]: account (\S+): pacing: the shared ledger .{1,600}? could not be used',
                                ' '.join(output.split()))
            assert warned == [], output[-3000:]
    finally:
        server.stop()


def hold_for(seconds):
    """A preparation for run_with_ledger: a sane Retry-After hold in the ledger; returns when it ends."""
    def prepare(ledger):
        os.makedirs(os.path.dirname(ledger.path), mode=0o700)
        hold = time.time() + seconds
        with open(ledger.path, 'w') as f:
            json.dump({'v': 2, 'hold_until': hold}, f)
        return hold
    return prepare


def test_a_hold_in_the_ledger_is_honoured_by_both_paths(tmp_path):
    """The control case of the above: a sane Retry-After hold in the ledger does hold the task back."""
    accounts = fleet(1)
    emu, server = start_emulator(accounts)
    try:
        for path in ('fast', 'module'):
            hold, rc, output, elapsed = run_with_ledger(tmp_path, emu, accounts, path, UNDERLYINGS[:1], hold_for(15))
            assert rc == 0, output[-3000:]
            assert elapsed >= 14, path
            assert min(entry['time'] for entry in emu.journal) >= hold - 0.1, path
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# A recorded ban holds when the ledger cannot be used: the run fails, sending nothing (issue 21)
# ---------------------------------------------------------------------------------------------

def banned_then(tmp_path, path, spoil):
    """A first run meets a ban (418, Retry-After 600) at its first read and records it; then ``spoil(ledger)`` makes the
    ledger unusable (and returns what undoes it), and a second run goes. Returns (the second run's exit code, its output,
    the requests the emulator saw during it)."""
    accounts = fleet(3)
    emu, server = start_emulator(accounts)
    tmpdir = tmp_path / 'tmp'
    try:
        ban_at_first_read(emu, 600)
        proc = start_playbook(tmp_path / 'first', tmpdir, accounts, emu.url, path, 3, limit=None,
                              underlyings=UNDERLYINGS[:2])
        output = proc.communicate(timeout=300)[0]
        assert proc.returncode != 0 and 'Binance banned this IP until ' in output, output[-3000:]
        ledger = Ledger.for_url(emu.url, pacing_dir(tmpdir))
        assert json.load(open(ledger.path))['stop']['status'] == 418
        undo = spoil(ledger)
        try:
            before = len(emu.journal)
            proc = start_playbook(tmp_path / 'second', tmpdir, accounts, emu.url, path, 3, limit=None,
                                  underlyings=UNDERLYINGS[:2])
            output = proc.communicate(timeout=300)[0]
            (tmp_path / 'second.out').write_text(output)
            return proc.returncode, output, emu.journal[before:]
        finally:
            undo()
    finally:
        server.stop()


def given_to_another_user(ledger):
    """As if another local user had created the directory first."""
    directory = os.path.dirname(ledger.path)
    os.chown(directory, 65534, 65534)
    return lambda: os.chown(directory, os.getuid(), os.getgid())


def locked_by_another_process(ledger):
    """Another process holds the ledger's lock for the whole run."""
    holder = subprocess.Popen([sys.executable, '-c', 'import fcntl, os, sys\n'
                               'fd = os.open(sys.argv[1], os.O_RDWR)\n'
                               'fcntl.flock(fd, fcntl.LOCK_EX)\n'
                               'print("locked", flush=True)\n'
                               'sys.stdin.read()\n', ledger.path],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == 'locked'

    def release():
        holder.stdin.close()
        holder.wait(60)
    return release


@pytest.mark.parametrize('path', ['fast', 'module'])
@pytest.mark.parametrize('spoil, why', [(given_to_another_user, 'directory owned by uid 65534'),
                                        (locked_by_another_process, 'another process held its lock for more than')])
def test_a_recorded_ban_holds_when_the_ledger_cannot_be_used(path, spoil, why, tmp_path):
    """Issue 21: with the ledger unusable (its directory another user's, or its lock held by another process), no worker
    paces alone and sends to the banned IP: each account's task fails naming the ledger and why, and the emulator sees
    not one request (not even exchangeInfo's unsigned read of the published limit)."""
    if spoil is given_to_another_user and os.getuid() != 0:
        pytest.skip('needs root to give a directory to another user')
    rc, output, sent = banned_then(tmp_path, path, spoil)
    assert sent == [], [(e['path'], e.get('status')) for e in sent]
    assert rc != 0
    failed = failed_items(output)
    assert len(failed) == 6, output[-3000:]
    for (host, item), msg in failed.items():
        assert msg.startswith('account %s: ' % host) and 'not sent: the pacing ledger ' in msg and why in msg, msg
        assert 'pacing_dir' in msg
    assert output.count('failed=1 ') == 3
