# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of pacing.py: claims per exchange minute, the clock, the ledger, and a ledger nothing can poison."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import time

from email.utils import formatdate

import pytest

from ansible_collections.marketops.mmp.plugins.module_utils import pacing
from ansible_collections.marketops.mmp.plugins.module_utils.pacing import Ledger, Pacer

URL = 'https://eapi.binance.com'
FOR_URL = Ledger.__dict__['for_url'].__func__  # before the fixture that gives every test a private ledger
MINUTE = 60


class Clock:
    """Our clock, moved by the fake wait."""

    def __init__(self, now):
        self.now = float(now)
        self.waits = []

    def __call__(self):
        return self.now

    def wait(self, reason, seconds):
        self.waits.append((reason, seconds))
        self.now += seconds


def pacer(clock, ledger=None, limit=60, reserve=0, **kwargs):
    return Pacer(URL, limit, reserve, ledger=ledger, clock=clock, wait=clock.wait, rand=lambda: 0.0, **kwargs)


def seed_clock(p, lo=-0.05, hi=0.3):
    """Give the pacer's process state a known offset interval to the exchange's clock."""
    p.local['clock'] = (lo, hi, p._clock())


def answer(clock, used=None, offset=0.0, rtt=0.0):
    """What ``Pacer.observe()`` learns of an answer received now from an exchange ``offset`` s ahead: its headers (Date),
    when it was sent and received, and the used weight the venue reported (None: not said)."""
    headers = {'Date': formatdate(int(clock.now - rtt / 2 + offset), usegmt=True)}
    return dict(headers=headers, sent_at=clock.now - rtt, received_at=clock.now, used=used)


@pytest.fixture
def ledger(tmp_path):
    return Ledger(str(tmp_path / 'private' / 'weight.json'))


def ledger_content(ledger):
    with open(ledger.path) as f:
        return json.load(f)


# ---------------------------------------------------------------------------------------------
# Claims per exchange minute
# ---------------------------------------------------------------------------------------------

def test_a_claim_in_the_middle_of_a_minute_charges_that_minute_only():
    clock = Clock(1000 * MINUTE + 30)
    p = pacer(clock)
    seed_clock(p)
    assert p.claim() == (1000,)
    assert p.local['minutes'] == {1000: 1}


def test_a_request_that_may_land_in_either_minute_is_charged_to_both():
    clock = Clock(1000 * MINUTE + 59.5)  # lands between 59.45 and 59.5 + 0.3 + the landing margin
    p = pacer(clock)
    seed_clock(p)
    assert p.claim() == (1000, 1001)
    assert p.local['minutes'] == {1000: 1, 1001: 1}


def test_a_full_minute_waits_until_the_next_has_surely_begun():
    clock = Clock(1000 * MINUTE + 40)
    p = pacer(clock, limit=10, reserve=2)  # budget 8
    seed_clock(p, lo=-0.4, hi=0.6)
    for dummy in range(8):
        assert p.claim() == (1000,)
    assert clock.waits == []
    minutes = p.claim()
    # the exchange's clock may be 0.4 s behind ours: its minute 1001 surely began at 60060.4 of ours
    assert [reason for reason, seconds in clock.waits] == ['weight']
    assert 1001 * MINUTE + 0.4 <= clock.now <= 1001 * MINUTE + 0.45
    assert minutes == (1001,)


def test_a_claim_never_fits_in_a_minute_that_is_full_even_when_it_may_land_in_the_next():
    clock = Clock(1000 * MINUTE + 59.8)
    p = pacer(clock, limit=3)
    seed_clock(p)
    p.local['minutes'] = {1000: 3}
    assert p.claim() == (1001,)
    assert clock.now >= 1001 * MINUTE + 0.05  # not before the exchange's minute 1001 surely began


def test_the_used_weight_header_raises_the_count_and_never_lowers_it():
    clock = Clock(1000 * MINUTE + 20)
    p = pacer(clock)
    seed_clock(p)
    p.claim()
    p.observe(**answer(clock, used=25))  # other systems behind the IP used 24
    assert p.local['minutes'][1000] == 25
    p.observe(**answer(clock, used=3))
    assert p.local['minutes'][1000] == 25
    assert p.used_weight == 3


def test_the_used_weight_of_a_minutes_first_seconds_is_not_attributed():
    """In a minute's first two seconds the header may still speak of the previous minute."""
    clock = Clock(1001 * MINUTE + 0.5)
    p = pacer(clock)
    seed_clock(p)
    p.observe(**answer(clock, used=59))
    assert p.local['minutes'].get(1001, 0) == 0


def test_the_clock_is_learnt_from_date_headers_and_narrowed():
    clock = Clock(1000 * MINUTE + 10.3)
    p = pacer(clock)
    p.observe(**answer(clock, offset=5.0, rtt=0.02))  # the exchange is 5 s ahead, Date whole seconds
    lo, hi, dummy = p.local['clock']
    assert lo <= 5.0 <= hi and hi - lo <= 1.7  # a second, the round trip, the margins
    clock.now += 0.6
    p.observe(**answer(clock, offset=5.0, rtt=0.02))
    lo2, hi2, dummy = p.local['clock']
    assert lo2 <= 5.0 <= hi2 and hi2 - lo2 < hi - lo  # another second's phase: a narrower interval
    assert abs(p.server_offset() - 5.0) < 0.6


def test_a_clock_step_replaces_the_interval():
    clock = Clock(1000 * MINUTE + 10.3)
    p = pacer(clock)
    p.observe(**answer(clock, offset=0.0))
    clock.now += 1
    p.observe(**answer(clock, offset=-3600.0))  # our clock jumped an hour ahead
    lo, hi, dummy = p.local['clock']
    assert lo <= -3600 <= hi


def test_without_any_date_header_the_exchanges_clock_is_assumed_close_to_ours():
    clock = Clock(1000 * MINUTE + 10)
    p = pacer(clock)
    p.observe({}, clock.now, clock.now, used=5)
    assert p.local['clock'][:2] == (-pacing.ASSUMED_OFFSET, pacing.ASSUMED_OFFSET)


def test_the_first_worker_learns_the_clock_while_the_others_wait(ledger):
    clock = Clock(1000 * MINUTE + 20)
    first, second = pacer(clock, ledger=ledger), pacer(clock, ledger=ledger)
    assert first.claim() == ()  # nobody knows the exchange's clock: this request learns it
    assert ledger_content(ledger)['probe_until'] > clock.now
    clock.now += 0.01
    # while the first waits for its answer, the second looks again and again, then sees the clock
    second.local = pacing.empty_state()  # (another process)
    second._wait = lambda reason, seconds: (clock.wait(reason, seconds),
                                            first.observe(**answer(clock, used=1)) if len(clock.waits) == 3 else None)
    assert second.claim() == (1000,)
    assert [reason for reason, seconds in clock.waits] == ['clock'] * 3
    content = ledger_content(ledger)
    assert 'probe_until' not in content and content['minutes'] == {'1000': 2}  # the probe was charged too


def test_a_hold_holds_every_worker_but_the_one_that_waits_for_it_itself(ledger):
    clock = Clock(1000 * MINUTE + 20)
    a, b = pacer(clock, ledger=ledger), pacer(clock, ledger=ledger)
    seed_clock(a)
    a.hold(7)
    a.claim()
    assert clock.waits == []
    b.claim()
    assert [reason for reason, seconds in clock.waits] == ['rate-limit'] and 7 <= clock.waits[0][1] <= 7.3


def test_every_wait_is_bounded_even_when_no_room_ever_comes():
    clock = Clock(1000 * MINUTE + 20)
    p = pacer(clock, limit=5)
    seed_clock(p)
    stuck = []
    p._wait = lambda reason, seconds: stuck.append(seconds)  # a clock that stands still
    p.local['minutes'] = {1000: 5}
    assert p.claim() == ()
    assert sum(stuck) <= pacing.MAX_PACING_WAIT and p.gave_up == 1


def test_pacing_off_claims_nothing(ledger):
    clock = Clock(1000 * MINUTE + 20)
    p = pacer(clock, ledger=ledger, limit=0)
    assert p.claim() == ()
    p.observe(**answer(clock, used=10 ** 6))
    assert Ledger.read(os.open(ledger.path, os.O_RDONLY)).get('minutes', {}) == {}  # no count kept
    assert clock.waits == [] and p.must_read_limit() is False  # nor a published limit read


def test_pacing_off_still_honours_a_recorded_stop(ledger):
    clock = Clock(1000 * MINUTE + 20)
    pacer(clock, ledger=ledger, limit=60).record_stop(30, 418)
    with pytest.raises(pacing.ExchangeStop):
        pacer(clock, ledger=ledger, limit=0).claim()


def test_the_default_reserve():
    assert [pacing.default_reserve(n) for n in (0, 1, 2, 9, 10, 60, 2400)] == [0, 0, 1, 1, 1, 6, 240]


# ---------------------------------------------------------------------------------------------
# Many processes, one ledger
# ---------------------------------------------------------------------------------------------

SPEED = 40.0  # fake seconds per real second


def _worker(args):
    """Claim ``count`` times against the ledger with a fast clock; returns the minutes each claim charged."""
    path, base, started, count, limit = args
    pacing._LOCAL.clear()

    def clock():
        return base + (time.time() - started) * SPEED

    def wait(reason, seconds):
        time.sleep(seconds / SPEED)
    p = Pacer(URL, limit, 0, ledger=Ledger(path), clock=clock, wait=wait)
    time.sleep(max(0.0, started - time.time()))  # all start together
    out = []
    for dummy in range(count):
        minutes = p.claim()
        out.append((minutes, clock()))
        time.sleep(0.0005)
        now = clock()  # the answer: the exchange's clock is ours (its Date keeps the ledger's clock fresh)
        p.observe({'Date': formatdate(int(now), usegmt=True)}, now - 0.0005, now)
    return out


def _run_workers(tmp_path, workers, count, limit, second_of_minute):
    path = str(tmp_path / 'private' / 'weight.json')
    base = 1000 * MINUTE + second_of_minute
    started = time.time() + 0.5
    seed = Pacer(URL, limit, 0, ledger=Ledger(path), clock=lambda: base)
    seed.local['clock'] = (-0.1, 0.4, base)
    seed.claim(0)  # writes the known clock to the ledger
    context = multiprocessing.get_context('fork')
    with context.Pool(workers) as pool:
        results = pool.map(_worker, [(path, base, started, count, limit)] * workers)
    return path, [claim for result in results for claim in result]


def test_many_processes_claim_exactly_once_each(tmp_path):
    """16 processes, 25 claims each, far from a boundary: the ledger counts every claim, none lost."""
    path, claimed = _run_workers(tmp_path, workers=16, count=25, limit=2400, second_of_minute=5)
    claims = [minutes for minutes, dummy in claimed]
    assert all(claims)
    charged = {}
    for minutes in claims:
        for minute in minutes:
            charged[minute] = charged.get(minute, 0) + 1
    with open(path) as f:
        content = json.load(f)
    assert {int(k): v for k, v in content['minutes'].items()} == charged
    assert sum(charged.values()) >= 400


def test_many_processes_across_minute_boundaries_never_overfill_a_minute(tmp_path):
    """8 processes claim 12 times each at a budget of 30 per minute, starting 3 s before a minute's end:
    every minute a request may land in holds at most 30, and the ledger agrees with the claims."""
    path, claimed = _run_workers(tmp_path, workers=8, count=12, limit=30, second_of_minute=57)
    claims = [minutes for minutes, dummy in claimed]
    assert all(claims) and len(claims) == 96
    # a request sent right after its claim may land from (our clock - 0.1 s) on: that minute is charged
    assert all(minutes[0] <= (after - 0.1) // MINUTE for minutes, after in claimed)
    charged = {}
    for minutes in claims:
        for minute in minutes:
            charged[minute] = charged.get(minute, 0) + 1
    assert max(charged.values()) <= 30
    assert len(charged) >= 4  # 96 requests at 30 per minute: at least four minutes
    with open(path) as f:
        content = json.load(f)
    for minute, weight in content['minutes'].items():
        assert charged.get(int(minute), 0) == weight


@pytest.mark.parametrize('second_of_minute', [0.2, 20.0, 58.0, 59.9])
@pytest.mark.parametrize('exchange_ahead', [0.0, 17.3])
def test_a_fleet_uses_no_more_of_the_exchanges_minutes_than_its_count_needs(ledger, second_of_minute, exchange_ahead):
    """The end-to-end tests' shape on one fake clock: 20 workers (forks) sharing the ledger, 3 underlyings each, a
    read and a write per underlying (120 requests), limit 60 and no reserve; every request takes 0.1 s. No minute of
    the exchange gets more than 60, and the run takes at most three of them (a partial first and two full ones).
    Deterministic on purpose: how fast a machine sends is the benchmark's business (tests/bench/fleet.py)."""
    clock = Clock(1000 * MINUTE + second_of_minute)
    workers = [pacer(clock, ledger=ledger, limit=60) for dummy in range(20)]
    landed = {}
    for dummy in range(6):
        for p in workers:
            p.claim()
            arrives = clock.now + 0.05 + exchange_ahead  # on the exchange's clock
            landed[int(arrives // MINUTE)] = landed.get(int(arrives // MINUTE), 0) + 1
            clock.now += 0.1
            p.observe(**answer(clock, used=landed[int(arrives // MINUTE)], offset=exchange_ahead, rtt=0.1))
    assert sum(landed.values()) == 120
    assert max(landed.values()) <= 60, landed
    assert len(landed) <= 3, landed
    assert all(seconds <= pacing.MAX_PACING_WAIT for reason, seconds in clock.waits)


# ---------------------------------------------------------------------------------------------
# A ledger nothing can poison
# ---------------------------------------------------------------------------------------------

NOW = 1000 * MINUTE + 20


def poisoned(ledger, content):
    os.makedirs(os.path.dirname(ledger.path), mode=0o700, exist_ok=True)
    with open(ledger.path, 'wb') as f:
        f.write(content if isinstance(content, bytes) else json.dumps(content).encode())


def refused_with(ledger, limit=60):
    """A claim against an unusable ``ledger``: the LedgerUnavailable it raised (never a claim). The published limit's
    read and a watcher's look at the stop are refused the same way; nothing was waited for (but the lock's bound)."""
    clock = Clock(NOW)
    p = pacer(clock, ledger=ledger, limit=None)
    with pytest.raises(pacing.LedgerUnavailable) as e:
        p.claim()
    with pytest.raises(pacing.LedgerUnavailable):
        p.must_read_limit()
    with pytest.raises(pacing.LedgerUnavailable):
        p.current_stop()
    with pytest.raises(pacing.LedgerUnavailable):
        pacing.recorded_stop(URL, ledger=ledger, clock=clock)
    assert clock.waits == [] and p.refused is True and p.ledger_problem == str(e.value)
    assert e.value.path and str(e.value).startswith(e.value.path + ': ')
    return e.value


def claim_with(ledger, limit=60):
    """A claim and an answer against ``ledger``: (claimed minutes, total wait)."""
    clock = Clock(NOW)
    p = pacer(clock, ledger=ledger, limit=limit)
    p.observe(**answer(clock, used=1))
    minutes = p.claim()
    p.observe(**answer(clock, used=2))
    return minutes, sum(seconds for reason, seconds in clock.waits)


@pytest.mark.parametrize('content', [
    {'hold_until': NOW + 10 ** 9},                                   # far-future hold
    {'hold_until': NOW + 121.5},                                     # just past the bound
    {'minutes': {str(NOW // MINUTE): 10 ** 12}},                     # huge weights
    {'minutes': {str(NOW // MINUTE): 61}},                           # over the limit
    {'minutes': {str(NOW // MINUTE): -5}},
    {'minutes': {str(NOW // MINUTE + 10 ** 6): 3}},                  # a minute far from now
    {'clock': {'lo': 1e12, 'hi': 1e12 + 1, 'at': NOW}},              # absurd clock offsets
    {'clock': {'lo': -50.0, 'hi': 50.0, 'at': NOW}},                 # an interval too wide to mean anything
    {'clock': {'lo': 5.0, 'hi': 4.0, 'at': NOW}},
    {'clock': {'lo': 0, 'hi': 0.5, 'at': NOW + 10 ** 6}},
    {'clock': 'x'},                                                  # wrong types
    {'clock': {'lo': 'x', 'hi': [], 'at': None}},
    {'minutes': [1, 2, 3]},
    {'minutes': {str(NOW // MINUTE): '59'}},
    {'minutes': {str(NOW // MINUTE): True}},
    {'minutes': {'x': 1, '': 2, '1e3': 3}},
    {'minutes': {str(m): 1 for m in range(10000)}},
    {'hold_until': 'soon'},
    {'hold_until': True},
    {'hold_until': [NOW + 50]},
    {'sync': {'time_offset_ms': 'x', 'at': NOW}},
    {'sync': {'time_offset_ms': 10 ** 15, 'at': NOW}},
    {'probe_until': NOW + 10 ** 6},
    [1, 2, 3],
    'a string',
    None,
])
def test_hostile_values_are_ignored(ledger, content):
    poisoned(ledger, content)
    minutes, waited = claim_with(ledger)
    assert minutes == (NOW // MINUTE,) and waited == 0.0
    written = ledger_content(ledger)  # and the ledger is clean again
    assert written['minutes'] == {str(NOW // MINUTE): 2}


@pytest.mark.parametrize('content', [
    b'\x00\xff\xfe garbage \x80',
    b'{"minutes": {',
    b'[' * 50000 + b']' * 50000,                                     # too deep for the JSON parser
    b' ' * (pacing.MAX_LEDGER_BYTES + 10) + b'{}',                   # too big
    b'{"hold_until": NaN, "clock": {"lo": -Infinity, "hi": Infinity, "at": 1}}',
    b'',
])
def test_garbage_bytes_are_ignored(ledger, content):
    poisoned(ledger, content)
    minutes, waited = claim_with(ledger)
    assert minutes == (NOW // MINUTE,) and waited == 0.0


def test_a_hold_within_the_bound_is_honoured(ledger):
    poisoned(ledger, {'hold_until': NOW + 100})
    minutes, waited = claim_with(ledger)
    assert 100 <= waited <= 100.3


# A ledger that cannot be used refuses every request (fails closed): a stop recorded there could not be honoured.

def test_a_symlink_in_place_of_the_ledger_is_never_followed_and_refuses(ledger, tmp_path):
    target = tmp_path / 'precious.txt'
    target.write_text('do not touch')
    os.makedirs(os.path.dirname(ledger.path), mode=0o700)
    os.symlink(str(target), ledger.path)
    error = refused_with(ledger)
    assert target.read_text() == 'do not touch' and os.path.islink(ledger.path)
    assert 'symbolic link' in error.problem and error.untrusted and not error.busy
    dangling = tmp_path / 'created-through-a-link'
    os.unlink(ledger.path)
    os.symlink(str(dangling), ledger.path)
    refused_with(ledger)
    assert not dangling.exists()


def test_a_symlinked_directory_is_never_followed_and_refuses(tmp_path):
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir(mode=0o700)
    os.symlink(str(elsewhere), str(tmp_path / 'private'))
    ledger = Ledger(str(tmp_path / 'private' / 'weight.json'))
    error = refused_with(ledger)
    assert os.listdir(str(elsewhere)) == [] and error.path == str(tmp_path / 'private') and error.untrusted
    assert 'symbolic link' in error.problem


def test_a_hard_link_in_place_of_the_ledger_refuses(ledger, tmp_path):
    target = tmp_path / 'other.json'
    target.write_text('{"hold_until": %d}' % (NOW + 100))
    os.chmod(str(target), 0o600)
    os.makedirs(os.path.dirname(ledger.path), mode=0o700)
    os.link(str(target), ledger.path)
    error = refused_with(ledger)
    assert target.read_text() == '{"hold_until": %d}' % (NOW + 100) and '2 hard links' in error.problem


@pytest.mark.skipif(os.getuid() != 0, reason='needs root to give a file to another user')
def test_a_ledger_owned_by_another_user_refuses(ledger):
    poisoned(ledger, {'hold_until': NOW + 100})
    os.chown(ledger.path, 65534, 65534)
    error = refused_with(ledger)
    assert ledger_content(ledger) == {'hold_until': NOW + 100}
    assert 'owned by uid 65534' in error.problem and error.path == ledger.path and error.untrusted


@pytest.mark.skipif(os.getuid() != 0, reason='needs root to give a directory to another user')
def test_a_directory_pre_created_by_another_user_refuses(ledger):
    """Another local user created the directory first (and put a stop-free ledger in it): nothing is sent."""
    poisoned(ledger, {'hold_until': NOW + 100})
    os.chown(os.path.dirname(ledger.path), 65534, 65534)
    error = refused_with(ledger)
    assert ledger_content(ledger) == {'hold_until': NOW + 100}
    assert error.path == os.path.dirname(ledger.path) and 'owned by uid 65534' in error.problem and error.untrusted


@pytest.mark.parametrize('what, mode', [('file', 0o622), ('file', 0o660), ('directory', 0o777), ('directory', 0o730),
                                        ('directory', 0o770)])
def test_anything_writable_by_others_refuses(ledger, what, mode):
    poisoned(ledger, {'hold_until': NOW + 100})
    os.chmod(ledger.path if what == 'file' else os.path.dirname(ledger.path), mode)
    error = refused_with(ledger)
    assert ledger_content(ledger) == {'hold_until': NOW + 100}
    assert '%s writable by group or others' % what in error.problem


def test_a_fifo_in_place_of_the_ledger_refuses_and_nothing_hangs(ledger):
    os.makedirs(os.path.dirname(ledger.path), mode=0o700)
    os.mkfifo(ledger.path, 0o600)
    started = time.monotonic()
    error = refused_with(ledger)
    assert time.monotonic() - started < 5 and 'not a regular file' in error.problem


def test_a_directory_that_cannot_be_created_refuses(tmp_path):
    (tmp_path / 'a-file').write_text('')
    error = refused_with(Ledger(str(tmp_path / 'a-file' / 'dir' / 'weight.json')))
    assert 'cannot be opened as a directory' in error.problem and not error.busy


def test_a_relative_directory_refuses():
    error = refused_with(Ledger(os.path.join('~', 'weight.json')))
    assert 'not an absolute path' in error.problem


def hold_lock(path, ready, release):
    """In another process: hold ``path``'s lock until ``release`` is set."""
    import fcntl
    fd = os.open(path, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    ready.set()
    release.wait(60)
    os.close(fd)


def test_a_lock_held_by_another_process_refuses_after_one_bounded_wait(ledger, monkeypatch):
    monkeypatch.setattr(pacing, 'LOCK_TIMEOUT', 0.2)
    poisoned(ledger, {})
    context = multiprocessing.get_context('fork')
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=hold_lock, args=(ledger.path, ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        clock = Clock(NOW)
        p = pacer(clock, ledger=ledger)
        seed_clock(p)
        started = time.monotonic()
        with pytest.raises(pacing.LedgerUnavailable) as e:
            p.claim()
        assert 0.2 <= time.monotonic() - started < 30
        assert e.value.busy and not e.value.untrusted and 'held its lock for more than 0.2 s' in e.value.problem
        assert p.ledger_busy is True and clock.waits == []
    finally:
        release.set()
        holder.join(60)
    assert p.claim() == (NOW // MINUTE,)  # free again: used again


def test_the_opt_out_paces_alone_and_its_stops_hold_this_process_only(ledger):
    """``ledger=None`` (pacing_ledger: false): no file, no refusal; a stop it records holds this process's pacers."""
    clock = Clock(NOW)
    p = pacer(clock, ledger=None)
    seed_clock(p)
    assert p.claim() == (NOW // MINUTE,) and p.ledger_problem is None
    p.record_stop(30, 418)
    with pytest.raises(pacing.ExchangeStop) as e:
        pacer(clock, ledger=None).claim()
    assert e.value.path is None and not os.path.exists(os.path.dirname(ledger.path))


def problem_after_claims(ledger, count=3):
    """Claims and answers against ``ledger``; the pacer's ``ledger_problem`` after them (None when all were made)."""
    clock = Clock(NOW)
    p = pacer(clock, ledger=ledger)
    try:
        for used in range(count):
            p.observe(**answer(clock, used=used))
            p.claim()
    except pacing.LedgerUnavailable:
        assert p.refused
    assert p.ledger_busy is False  # none of these is a lock held by another process
    return p.ledger_problem


def test_a_usable_ledger_reports_no_problem_even_when_its_content_was_garbage(ledger):
    assert problem_after_claims(ledger) is None
    poisoned(ledger, b'\x00 not json')  # what it holds is dropped; the file itself is fine
    assert problem_after_claims(ledger) is None


def link_to_elsewhere(ledger, tmp_path):
    os.makedirs(os.path.dirname(ledger.path), mode=0o700)
    os.symlink(str(tmp_path / 'elsewhere.json'), ledger.path)


def fifo(ledger, tmp_path):
    os.makedirs(os.path.dirname(ledger.path), mode=0o700)
    os.mkfifo(ledger.path, 0o600)


def writable_by_others(ledger, tmp_path):
    poisoned(ledger, {})
    os.chmod(ledger.path, 0o666)


def open_directory(ledger, tmp_path):
    os.makedirs(os.path.dirname(ledger.path), mode=0o700)
    os.chmod(os.path.dirname(ledger.path), 0o777)


def hard_link(ledger, tmp_path):
    poisoned(ledger, {})
    os.chmod(ledger.path, 0o600)
    os.link(ledger.path, str(tmp_path / 'second-name.json'))


@pytest.mark.parametrize('make, reason', [(link_to_elsewhere, 'symbolic link'), (fifo, 'not a regular file'),
                                          (writable_by_others, 'file writable by group or others'),
                                          (open_directory, 'directory writable by group or others'),
                                          (hard_link, '2 hard links')])
def test_an_unusable_ledger_is_reported_with_its_reason(ledger, tmp_path, make, reason):
    make(ledger, tmp_path)
    problem = problem_after_claims(ledger)
    assert problem is not None and reason in problem


def test_the_first_problem_is_kept(ledger, tmp_path):
    clock = Clock(NOW)
    p = pacer(clock, ledger=ledger)
    fifo(ledger, tmp_path)
    with pytest.raises(pacing.LedgerUnavailable):
        p.claim()
    os.unlink(ledger.path)
    writable_by_others(ledger, tmp_path)
    with pytest.raises(pacing.LedgerUnavailable):
        p.claim()
    assert 'not a regular file' in p.ledger_problem


def test_a_pacer_without_a_ledger_reports_nothing():
    assert problem_after_claims(None) is None


def test_the_directory_is_private_and_the_file_too(ledger):
    clock = Clock(NOW)
    p = pacer(clock, ledger=ledger)
    p.observe(**answer(clock, used=1))
    assert stat.S_IMODE(os.stat(os.path.dirname(ledger.path)).st_mode) & 0o077 == 0
    assert stat.S_IMODE(os.stat(ledger.path).st_mode) & 0o077 == 0


def test_the_ledger_path_is_per_url_in_the_directory_given(tmp_path):
    a = FOR_URL(Ledger, 'https://eapi.binance.com', str(tmp_path / 'pacing'))
    b = FOR_URL(Ledger, 'http://127.0.0.1:8765', str(tmp_path / 'pacing'))
    assert a.path != b.path and os.path.dirname(a.path) == str(tmp_path / 'pacing')


def test_the_ledger_directory_is_in_the_users_home_unless_the_option_or_the_variable_says(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    monkeypatch.delenv(pacing.PACING_DIR_ENV, raising=False)
    monkeypatch.setenv('TMPDIR', str(tmp_path / 'shared-tmp'))  # never under the shared temporary directory
    assert pacing.ledger_directory() == str(tmp_path / 'home' / '.cache' / 'marketops-mmp')
    monkeypatch.setenv(pacing.PACING_DIR_ENV, str(tmp_path / 'from-env'))
    assert pacing.ledger_directory() == str(tmp_path / 'from-env')
    assert pacing.ledger_directory('~/from-option') == str(tmp_path / 'home' / 'from-option')
    assert os.path.dirname(FOR_URL(Ledger, URL).path) == str(tmp_path / 'from-env')
    monkeypatch.setenv(pacing.PACING_DIR_ENV, '  ')
    assert pacing.ledger_directory() == str(tmp_path / 'home' / '.cache' / 'marketops-mmp')


def test_the_default_directory_and_its_parent_are_created_private(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    monkeypatch.delenv(pacing.PACING_DIR_ENV, raising=False)
    (tmp_path / 'home').mkdir()
    clock = Clock(NOW)
    p = pacer(clock, ledger=FOR_URL(Ledger, URL))
    p.record_stop(60, 418)
    directory = tmp_path / 'home' / '.cache' / 'marketops-mmp'
    assert stat.S_IMODE(os.stat(str(directory)).st_mode) == 0o700 and stat.S_IMODE(os.stat(str(directory.parent)).st_mode) == 0o700
    assert pacing.recorded_stop(URL, clock=clock, ledger=FOR_URL(Ledger, URL))[2] == 418


@pytest.mark.parametrize('headers', [
    {'Date': 'not a date', 'X-MBX-USED-WEIGHT-1M': 'lots'},
    {'Date': 'Thu, 01 Jan 9999 00:00:00 GMT', 'X-MBX-USED-WEIGHT-1M': '-3'},
    {'Date': 'Mon, 01 Jan 1900 00:00:00', 'X-MBX-USED-WEIGHT-1M': '1' * 40},
    {'Date': 'x' * 10000, 'X-MBX-USED-WEIGHT-1M': '  '},
    None,
])
def test_odd_exchange_headers_are_ignored(headers):
    clock = Clock(NOW)
    p = pacer(clock)
    p.observe(headers, clock.now, clock.now)
    assert p.used_weight is None
    assert p.local['clock'] is None or p.local['clock'][:2] == (-pacing.ASSUMED_OFFSET, pacing.ASSUMED_OFFSET)


def test_a_venue_that_counts_per_account_gets_a_ledger_per_account(tmp_path):
    url = 'https://exchange.example'
    names = {pacing.ledger_name(url, scope='acct-a'), pacing.ledger_name(url, scope='acct-b'), pacing.ledger_name(url)}
    assert len(names) == 3 and pacing.ledger_name(url + ':443/x', scope='acct-a') != pacing.ledger_name(url)
    assert pacing.ledger_name(url, scope='acct-a') == pacing.ledger_name(url.upper().replace('HTTPS', 'https'), 'acct-a')
    clock = Clock(1000 * MINUTE + 20)
    Pacer(url, 60, 0, ledger=None, clock=clock, scope='acct-a').record_stop(30, 429)
    assert pacing.recorded_stop(url, ledger=None, clock=clock, scope='acct-a') is not None
    assert pacing.recorded_stop(url, ledger=None, clock=clock, scope='acct-b') is None
