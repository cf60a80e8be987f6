# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Refused credentials (issue 21): an account whose credentials the exchange refused is polled every error_interval
(at least its interval), counted from the end of its last poll, until a poll reads it again; the other accounts keep
their interval, on both venues.

The event source's own loop (``mmp_watch._watch_account``) runs here on a fake clock: its ``asyncio`` is replaced by
one whose ``sleep`` hands the seconds to a small driver, which resumes the account whose wake-up comes first with the
clock set to it (no real sleep, no thread). Deribit accounts poll through the real client on the fake Deribit.
"""

from __future__ import annotations

import importlib.util
import logging
import os

from types import SimpleNamespace

import pytest
import responses

from ansible_collections.marketops.mmp.plugins.module_utils import watch as core_watch
from ansible_collections.marketops.mmp.plugins.module_utils.deribit.venue import DERIBIT
from ansible_collections.marketops.mmp.plugins.module_utils.errors import (
    APIError,
    IPBanned,
    RateLimited,
    ResponseError,
    TransportError,
    credentials_refused,
)
from ansible_collections.marketops.mmp.tests.unit import deribit_helpers
from ansible_collections.marketops.mmp.tests.unit.deribit_helpers import BASE, CLIENT_ID, CLIENT_SECRET, FakeDeribit

COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
PLUGIN = os.path.join(COLLECTION, 'extensions', 'eda', 'plugins', 'event_source', 'mmp_watch.py')
BINANCE_URL = 'https://eapi.binance.com'
BINANCE_SECRET = 'creds-binance-secret-7a6b5c'
POLL_S = 0.25  # how long a poll of the accounts in SLOW takes, on the fake clock
SLOW = ('bravo',)


# --------------------------------------------------------------------------------------------
# What counts as a refusal of the credentials
# --------------------------------------------------------------------------------------------

def refused_error(code=-2015, status=401):
    return APIError('GET /eapi/v1/mmp: HTTP %s, code %s: Invalid API-key, IP, or permissions for action.'
                    % (status, code), http_status=status, code=code)


def test_credentials_refused_is_told_by_the_venues_codes_and_statuses_only_for_answers():
    assert credentials_refused(refused_error(-2015, 401), (-2015,))
    assert credentials_refused(refused_error(None, 401), (-2015,), (401,))
    assert not credentials_refused(refused_error(-1128, 400), (-2015,), (401,))
    assert not credentials_refused(refused_error(-2015, 401))  # the venue names its codes; none named, none refused
    assert not credentials_refused(refused_error(['odd'], 400), (-2015,))  # an odd code from an answer: not one
    # a timeout, a stop, an answer that makes no sense: not a refusal of the credentials, whatever they carry
    for error in (TransportError('timed out', http_status=401, code=-2015), ResponseError('not JSON', http_status=401),
                  IPBanned('HTTP 418', http_status=418), RateLimited('HTTP 429', http_status=429), KeyError('x'), None):
        assert not credentials_refused(error, (-2015,), (401,))
    flagged = APIError('refused', http_status=400, code=1)
    flagged.credentials_refused = True  # a client that knows may say so itself
    assert credentials_refused(flagged)


@pytest.mark.parametrize('started, ended, interval, refused, expected', [
    (100.0, 100.2, 1, None, 101.0),      # every interval, from the start of the poll
    (100.0, 103.0, 1, None, 103.0),      # not before the poll ended
    (100.0, 100.2, 1, 5, 105.2),         # refused: error_interval from the end of the poll
    (100.0, 100.2, 10, 2, 110.2),        # never sooner than the interval
    (100.0, 100.2, 4.0, 4, 104.2),
])
def test_next_poll_at(started, ended, interval, refused, expected):
    assert core_watch.next_poll_at(started, ended, interval, refused) == pytest.approx(expected)


# --------------------------------------------------------------------------------------------
# The event source's loop on a fake clock
# --------------------------------------------------------------------------------------------

@pytest.fixture
def clock(monkeypatch):
    return deribit_helpers.frozen_clock(monkeypatch)


class _Sleep:
    def __init__(self, seconds):
        self.seconds = seconds

    def __await__(self):
        seconds = yield self.seconds
        return seconds


def fake_asyncio(clock):
    """What the plugin uses of asyncio, on the fake clock: ``sleep`` yields the seconds to the driver; work handed to
    the executor runs at once, in this thread, and a poll of an account in SLOW then takes POLL_S (its coroutine is
    resumed that much later, the others run meanwhile, as when the poll runs in a thread)."""
    async def sleep(seconds):
        assert seconds > 0
        await _Sleep(seconds)

    async def run_in_executor(executor, function, *args):
        result = function(*args)
        if function.__name__ == 'poll' and args[0].name in SLOW:
            await _Sleep(POLL_S)
        return result

    loop = SimpleNamespace(time=clock, run_in_executor=run_in_executor)
    return SimpleNamespace(sleep=sleep, get_running_loop=lambda: loop)


@pytest.fixture
def plugin(monkeypatch, clock):
    spec = importlib.util.spec_from_file_location('mmp_watch_under_test', PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, 'asyncio', fake_asyncio(clock))
    return module


class Source:
    """Every account's ``_watch_account`` coroutine of the plugin, resumed in the order of their wake-ups."""

    def __init__(self, plugin, watcher, clock):
        self.watcher, self.clock, self.events = watcher, clock, []
        watch = plugin._import_watch()
        watcher.interval_now()
        source = self

        class Queue:
            async def put(self, event):
                source.events.append(event[watch.EVENT_KEY])

        self.coroutines = [plugin._watch_account(Queue(), watcher, account, watcher.start_offset(account), None, watch)
                           for account in watcher.accounts]
        self.wake = [clock() for dummy in self.coroutines]

    def run(self, until):
        while True:
            index = min(range(len(self.wake)), key=lambda i: self.wake[i])
            if self.wake[index] > until:
                self.clock.now = max(self.clock.now, until)
                return
            self.clock.now = max(self.clock.now, self.wake[index])
            seconds = self.coroutines[index].send(None)
            self.wake[index] = self.clock() + seconds

    def close(self):
        for coroutine in self.coroutines:
            coroutine.close()

    def of(self, kind, account):
        return [e for e in self.events if e['type'] == kind and e['account'] == account]


class FakeBinance:
    """A Binance client on the fake clock: ``failures[name]`` is what the account's reads raise (an exception), and
    every request sent is in ``sent`` as (time it was sent, account, underlying)."""

    def __init__(self, params, clock, sent, failures):
        self.name, self.clock, self.sent, self.failures = params['name'], clock, sent, failures

    def get_mmp(self, underlying):
        self.sent.append((self.clock(), self.name, underlying))
        failure = self.failures.get(self.name)
        if failure is not None:
            raise failure
        return dict(underlying=underlying, windowTimeInMilliseconds=3000, frozenTimeInMilliseconds=1000,
                    qtyLimit='2', deltaLimit='2.3', lastTriggerTime=0)

    def server_now_ms(self):
        return int(self.clock() * 1000)

    def probe(self):
        self.sent.append((self.clock(), self.name, 'time'))


def binance_account(name):
    return dict(name=name, api_key='KEY-%s-01' % name, api_secret=BINANCE_SECRET, underlyings=['BTCUSDT'])


def deribit_account(name='delta'):
    return dict(name=name, venue='deribit', client_id=CLIENT_ID, client_secret=CLIENT_SECRET)


def source_watcher(clock, accounts, sent, failures, interval=1, error_interval=5):
    settings = core_watch.validate_source_args(dict(accounts=accounts, base_url=BINANCE_URL, deribit_base_url=BASE,
                                                    interval=interval, error_interval=error_interval),
                                               environ={}, default_venue='binance')
    return core_watch.SourceWatcher(settings, options=dict(
        binance=dict(build_client=lambda params: FakeBinance(params, clock, sent, failures), clock=clock,
                     wall_clock=clock),
        deribit=dict(build_client=lambda params: DERIBIT.client(params, clock=clock, sleep=clock.sleep), clock=clock,
                     wall_clock=clock)))


@pytest.fixture
def deribit(clock):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeDeribit(rsps)
        fake.journal = deribit_helpers.TimedJournal(clock)
        yield fake


def times(sent, name, start):
    return [t - start for t, who, what in sent if who == name and what != 'time']


def status_times(deribit, start):
    """When each Deribit poll began: its first status read (a poll reads the status twice, without parameters then
    with block_rfq=true; a refused poll stops at its first)."""
    return [c['time'] - start for c in deribit.journal
            if c['method'] == 'private/get_mmp_status' and not c['params'].get('block_rfq')]


def near(values):
    """``values`` give or take what float sums lose (the fake clock is epoch seconds)."""
    return pytest.approx(values, abs=1e-6)


def gaps(values):
    return [b - a for a, b in zip(values, values[1:])]


def test_a_refused_account_is_polled_every_error_interval_until_it_reads_again_the_others_every_interval(
        plugin, clock, deribit, caplog):
    """Binance: alpha reads, bravo's key is refused (-2015), charlie times out (not a refusal); Deribit: delta's
    secret is refused (13004, the real client's answer). interval 1, error_interval 5."""
    caplog.set_level(logging.WARNING, logger='marketops.mmp.mmp_watch')
    sent, failures = [], {'bravo': refused_error(), 'charlie': TransportError('GET /eapi/v1/mmp timed out')}
    deribit.secret = 'not-the-secret-of-this-client-id'
    w = source_watcher(clock, [binance_account('alpha'), binance_account('bravo'), binance_account('charlie'),
                               deribit_account()], sent, failures)
    start = clock()
    source = Source(plugin, w, clock)
    try:
        source.run(start + 20.9)
        # the Binance accounts start spread over the interval (0, 1/3, 2/3), Deribit's at 0
        alpha, bravo, charlie = (times(sent, name, start) for name in ('alpha', 'bravo', 'charlie'))
        assert alpha == near([float(i) for i in range(21)])  # every interval, from the start of each poll
        assert charlie == near([i + 2 / 3.0 for i in range(21)])  # a timeout is no reason to slow down
        # bravo: refused at 1/3; then error_interval after each refused poll ended (each of its polls takes 0.25 s)
        assert bravo == near([1 / 3.0 + i * (5 + POLL_S) for i in range(4)])
        assert min(gaps(bravo)) >= 5 - 1e-6
        assert status_times(deribit, start) == near([0, 5, 10, 15, 20])  # delta: refused at 0, then every 5 s
        assert [c['params'] for c in deribit.journal] == [{}] * 5
        # every refused poll reports its error (the throttle counts error_interval from the last report)
        assert [e['error']['failures'] for e in source.of('error', 'bravo')] == [1, 2, 3, 4]
        assert {(e['error']['code'], e['scope']) for e in source.of('error', 'bravo')} == {(-2015, 'account')}
        assert [(e['venue'], e['error']['code'], e['error']['failures']) for e in source.of('error', 'delta')] == \
            [('deribit', 13004, n) for n in range(1, 6)]
        assert [e["error"]["failures"] for e in source.of("error", "charlie")] == [1, 6, 11, 16, 21]  # as before
        assert source.of('error', 'alpha') == []
        warnings = [r.getMessage() for r in caplog.records]
        assert warnings.count('mmp_watch: bravo: the exchange refused its credentials (see its error event): polled '
                              'every 5 s (error_interval) until it can be read again') == 1
        assert sum('delta: the exchange refused its credentials' in m for m in warnings) == 1
        assert not [m for m in warnings if 'alpha:' in m or 'charlie:' in m]

        # the key is fixed: the next poll, still error_interval after the last refused one, reads; then every interval
        del failures['bravo']
        deribit.secret = CLIENT_SECRET
        source.run(start + 31)
        bravo, delta = times(sent, 'bravo', start), status_times(deribit, start)
        later = [t for t in bravo if t > 21]
        assert later[0] == near(1 / 3.0 + 4 * (5 + POLL_S))
        assert gaps(later) == near([1.0] * (len(later) - 1)) and len(later) >= 8
        assert [t for t in delta if t > 20.5] == near([25, 26, 27, 28, 29, 30, 31])
        assert [(e['type'], e['failures']) for e in source.events if e['type'] == 'recovered'
                and e['account'] in ('bravo', 'delta')] == [('recovered', 4), ('recovered', 5)]
        assert len(source.of('error', 'bravo')) == 4 and len(source.of('error', 'delta')) == 5
        warnings = [r.getMessage() for r in caplog.records]
        assert 'mmp_watch: bravo: read again: polled every 1 s again' in warnings
        assert 'mmp_watch: delta: read again: polled every 1 s again' in warnings
        assert times(sent, 'alpha', start) == near([float(i) for i in range(32)])  # alpha never noticed
        text = repr(source.events) + caplog.text
        assert CLIENT_SECRET not in text and BINANCE_SECRET not in text
    finally:
        source.close()


def test_an_error_interval_shorter_than_the_interval_leaves_a_refused_account_at_its_interval(
        plugin, clock, deribit, caplog):
    caplog.set_level(logging.WARNING, logger='marketops.mmp.mmp_watch')
    sent, failures = [], {'bravo': refused_error(-1022, 400)}
    deribit.secret = 'not-the-secret-of-this-client-id'
    w = source_watcher(clock, [deribit_account(), binance_account('bravo')], sent, failures, interval=4,
                       error_interval=1)
    start = clock()
    source = Source(plugin, w, clock)
    try:
        source.run(start + 20)
        assert times(sent, 'bravo', start) == near([i * (4 + POLL_S) for i in range(5)])
        assert status_times(deribit, start) == near([0, 4, 8, 12, 16, 20])
        # every poll reports (error_interval 1 s has passed each time)
        assert len(source.of('error', 'bravo')) == 5 and len(source.of('error', 'delta')) == 6
        assert 'mmp_watch: bravo: the exchange refused its credentials (see its error event): polled every 4 s (its ' \
            'interval, longer than error_interval) until it can be read again' in [r.getMessage() for r in caplog.records]
    finally:
        source.close()


# --------------------------------------------------------------------------------------------
# Deribit: which answers refuse the credentials (the real client on the fake Deribit)
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize('code, reason, refused', [
    (10000, 'authorization_required', True),
    (10001, None, True),
    (13004, None, True),
    (13009, 'invalid_token', True),
    (13010, None, True),
    (13011, None, True),           # a scope the key lacks
    (13021, 'insufficient_scope', True),
    (13778, None, True),
    (11050, None, False),          # a malformed request: not the key
    (-32602, None, False),
])
def test_deribit_answers_that_refuse_the_credentials(clock, deribit, code, reason, refused):
    w = source_watcher(clock, [deribit_account()], [], {})
    delta = w.accounts[0]
    deribit.faults.append(('private/get_mmp_status', lambda: FakeDeribit.error(code, 'refused', reason=reason)))
    events = w.poll(delta)
    assert [(e['type'], e['error']['code']) for e in events] == [('error', code)]
    assert delta.credentials_refused is refused
    assert w.next_poll_at(delta, clock(), clock(), 1)[0] == clock() + (5 if refused else 1)


def test_a_refused_deribit_account_stays_slow_through_other_failures_until_a_poll_reads_it(clock, deribit):
    w = source_watcher(clock, [deribit_account()], [], {})
    delta = w.accounts[0]
    deribit.secret = 'not-the-secret-of-this-client-id'
    w.poll(delta)
    assert delta.credentials_refused is True
    deribit.secret = CLIENT_SECRET
    deribit.faults.append(('private/get_mmp_status', lambda: FakeDeribit.error(11050, 'bad_request')))
    w.poll(delta)  # a failure that says nothing of the key: still polled every error_interval
    assert delta.credentials_refused is True
    assert [e['type'] for e in w.poll(delta)] == ['recovered']
    assert delta.credentials_refused is False
