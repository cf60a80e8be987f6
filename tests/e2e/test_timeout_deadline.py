# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``timeout`` is the deadline of each whole HTTP attempt, end to end: real ansible-playbook runs, through the module
and through the controller fast path, against the emulators' ``trickle`` fault (an answer one byte every 0.2 s for
20 s: a per-read timeout never fires on it, and a task waited the whole 20 s for each attempt)."""

from __future__ import annotations

import re
import time

import pytest

from ansible_collections.marketops.mmp.tests.e2e.conftest import PATHS, config, host_vars
from ansible_collections.marketops.mmp.tests.e2e.test_deribit_playbooks import APPLY as DERIBIT_APPLY, deribit_host

TASK = 'Apply the MMP config of each underlying'
TIMEOUT = 2
ATTEMPTS = 4
BACKOFF = 3.5        # the most backoff between 4 attempts: 0.5 + 1 + 2 s
SLACK = 4.0          # a busy 2-core machine; far below a trickle's 20 s
TRICKLE = dict(kind='trickle', interval=0.2, duration=20)


def trickled(emulator, within=10.0):
    """The journal entries answered with a trickle, once each saw the client hang up (the emulator notices at its
    next byte, after the run may have ended): bounded."""
    end = time.monotonic() + within
    while True:
        with emulator.lock:
            entries = [dict(e) for e in emulator.journal if e.get('fault') == 'trickle']
        if all(e.get('client_closed_at') for e in entries) or time.monotonic() > end:
            return entries
        time.sleep(0.05)


def assert_each_attempt_ended_by_its_deadline(entries):
    for entry in entries:
        assert entry.get('client_closed_at') and not entry.get('replied'), entry
        assert entry['client_closed_at'] - entry['time'] <= TIMEOUT + SLACK, entry


@pytest.mark.parametrize('path', PATHS)
def test_a_read_that_trickles_fails_within_the_documented_bound(path, emulator, accounts, run_playbook):
    emulator.add_faults([dict(TRICKLE, path='/eapi/v1/mmp', count=ATTEMPTS)])
    hosts = {'hmac-a': host_vars(accounts['hmac-a'], emulator.url, [config()], binance_timeout=TIMEOUT)}
    start = time.monotonic()
    run = run_playbook(hosts, path=path)
    elapsed = time.monotonic() - start
    assert run.rc != 0, run.output
    (result,) = run.for_host('hmac-a', TASK)
    assert result['status'] == 'failed'
    assert re.search(r'GET /eapi/v1/mmp timed out after 2\.0s, after 4 attempts', result['result']['msg']), \
        result['result']['msg']
    entries = trickled(emulator)
    assert len(entries) == ATTEMPTS
    assert_each_attempt_ended_by_its_deadline(entries)
    # the 4 attempts: 4 deadlines and the backoff between them, not 4 trickles of 20 s
    assert entries[-1]['client_closed_at'] - entries[0]['time'] <= ATTEMPTS * TIMEOUT + BACKOFF + SLACK
    assert elapsed < 2 * (ATTEMPTS * TIMEOUT + BACKOFF) + 20  # and the whole run (ansible's own start included)


@pytest.mark.parametrize('path', PATHS)
def test_a_write_that_trickles_is_read_back_and_the_task_ends_right(path, emulator, accounts, run_playbook):
    emulator.add_faults([dict(TRICKLE, method='POST', path='/eapi/v1/mmpSet')])
    hosts = {'hmac-a': host_vars(accounts['hmac-a'], emulator.url, [config()], binance_timeout=TIMEOUT)}
    run = run_playbook(hosts, path=path)
    assert run.rc == 0, run.output
    (result,) = run.for_host('hmac-a', TASK)
    assert result['result']['changed'] is True and result['result']['config']['qty_limit'] == '2'
    output = ' '.join(run.output.split())
    assert re.search(r'\[WARNING\]: account hmac-a: POST /eapi/v1/mmpSet for BTCUSDT timed out after 2\.0s; the '
                     r'exchange may or may not have applied it; read back: the exchange holds the requested config',
                     output), run.output
    (entry,) = trickled(emulator)
    assert_each_attempt_ended_by_its_deadline([entry])
    with emulator.lock:
        after = [(e['method'], e['path']) for e in emulator.journal if e['time'] > entry['time']]
    assert after == [('GET', '/eapi/v1/mmp')]  # read back once, not written again
    assert emulator.state()['mmp']['hmac-a']['BTCUSDT']['qtyLimit'] == '2.00000000'


@pytest.mark.parametrize('path', PATHS)
def test_deribit_a_write_that_trickles_is_read_back(path, deribit_emulator, deribit_accounts, run_playbook):
    emu = deribit_emulator
    emu.add_faults([dict(TRICKLE, method='private/set_mmp_config', part='headers')])
    hosts = {'der': deribit_host(deribit_accounts['deribit-a'], emu.url,
                                 [dict(index_name='btc_usd', window_s=10, frozen_s=30, qty_limit='2.5')],
                                 deribit_timeout=TIMEOUT)}
    run = run_playbook(hosts, path=path)
    assert run.rc == 0, run.output
    (result,) = run.for_host('der', DERIBIT_APPLY)
    assert result['result']['changed'] is True and result['result']['config']['qty_limit'] == '2.5'
    assert re.search(r'timed out after 2\.0s; the exchange may or may not have applied it; read back',
                     ' '.join(run.output.split())), run.output
    (entry,) = trickled(emu)
    assert_each_attempt_ended_by_its_deadline([entry])
    with emu.lock:
        after = [e['rpc'] for e in emu.journal if e['time'] > entry['time']]
    assert after == ['private/get_mmp_config']
