# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MMP watcher for Deribit accounts: state machine, arguments (checked before any request), polling through the
real client on a fake Deribit, and stops per account (a Binance ban does not hold a Deribit account, nor the reverse)."""

from __future__ import annotations

import os


import pytest
import responses

from ansible_collections.marketops.mmp.plugins.module_utils import pacing
from ansible_collections.marketops.mmp.plugins.module_utils import watch as core_watch
from ansible_collections.marketops.mmp.plugins.module_utils.deribit import watch
from ansible_collections.marketops.mmp.plugins.module_utils.deribit.venue import DERIBIT
from ansible_collections.marketops.mmp.plugins.module_utils.errors import IPBanned, RateLimited
from ansible_collections.marketops.mmp.tests.unit import deribit_helpers
from ansible_collections.marketops.mmp.tests.unit.deribit_helpers import BASE, CLIENT_ID, CLIENT_SECRET, FakeDeribit

T0 = 1_800_000_000_000  # ms
BTC = ('btc_usd', None, False)
ETH_Q = ('eth_usd', 'q1', False)
RFQ = ('all', None, True)
BINANCE_URL = 'https://eapi.binance.com'
BINANCE_SECRET = 'watch-binance-secret-3c4d5e'


# --------------------------------------------------------------------------------------------
# State machine
# --------------------------------------------------------------------------------------------

def status(index, until, group=None, block_rfq=False):
    entry = dict(index_name=index, frozen_until=until, block_rfq=block_rfq)
    if group is not None:
        entry['mmp_group'] = group
    return entry


def test_frozen_of_reads_every_scope_and_drops_a_freeze_whose_time_passed():
    statuses = [status('BTC_USD', T0 + 5000), status('eth_usd', 0, group='q1'), status('all', T0 + 1, block_rfq=True),
                status('sol_usdc', T0 - 1)]
    assert watch.frozen_of(statuses, T0) == {BTC: T0 + 5000, ETH_Q: 0, RFQ: T0 + 1}
    assert watch.frozen_of([], T0) == {}


def kinds(changes):
    return [(kind, key, extra.get('initial', extra.get('reason'))) for kind, key, dummy, extra in changes]


def test_start_up_reports_every_frozen_config_as_initial_then_only_changes():
    state, changes = watch.mmp_events(None, {BTC: T0 + 5000, ETH_Q: 0}, T0)
    assert kinds(changes) == [('triggered', BTC, True), ('triggered', ETH_Q, True)]
    assert state[BTC] == dict(frozen_until=T0 + 5000, last_trigger_time=T0, config=None)
    state, changes = watch.mmp_events(state, {BTC: T0 + 5000, ETH_Q: 0}, T0 + 1000)
    assert changes == []
    assert state[BTC]['last_trigger_time'] == T0  # when it was first seen, kept


def test_start_up_without_a_freeze_reports_nothing_and_a_later_trigger_is_new():
    state, changes = watch.mmp_events(None, {}, T0)
    assert state == {} and changes == []
    state, changes = watch.mmp_events(state, {BTC: T0 + 30000}, T0 + 10)
    assert kinds(changes) == [('triggered', BTC, False)] and state[BTC]['last_trigger_time'] == T0 + 10


def test_a_freeze_that_ends_is_expired_one_that_goes_early_is_reset():
    state, dummy = watch.mmp_events({}, {BTC: T0 + 5000, ETH_Q: T0 + 60000}, T0)
    state, changes = watch.mmp_events(state, {}, T0 + 5000)
    assert kinds(changes) == [('thawed', BTC, 'expired'), ('thawed', ETH_Q, 'reset')]
    assert [s['frozen_until'] for dummy, dummy, s, dummy in changes] == [T0 + 5000, T0 + 60000]
    assert state == {}


def test_a_thaw_within_the_clocks_uncertainty_of_its_end_is_expired():
    """The exchange's clock is known to about a second (Date headers): a freeze seen gone 1.5 s before its end, by our
    estimate, ended on time; one gone 2.5 s before was reset."""
    state, dummy = watch.mmp_events({}, {BTC: T0 + 5000, ETH_Q: T0 + 6000}, T0)
    state, changes = watch.mmp_events(state, {}, T0 + 3500)
    assert kinds(changes) == [('thawed', BTC, 'expired'), ('thawed', ETH_Q, 'reset')]
    assert watch.THAW_CLOCK_TOLERANCE_MS == 2000


def test_frozen_until_a_reset_stays_frozen_and_thaws_with_reason_reset():
    state, changes = watch.mmp_events({}, {RFQ: 0}, T0)
    for later in (T0 + 10 ** 6, T0 + 10 ** 9):
        state, changes = watch.mmp_events(state, {RFQ: 0}, later)
        assert changes == []
    state, changes = watch.mmp_events(state, {}, T0 + 10 ** 9)
    assert kinds(changes) == [('thawed', RFQ, 'reset')]


def test_a_new_frozen_until_is_a_new_trigger():
    state, dummy = watch.mmp_events({}, {BTC: T0 + 5000}, T0)
    state, changes = watch.mmp_events(state, {BTC: T0 + 9000}, T0 + 4000)  # reset and triggered again between polls
    assert kinds(changes) == [('triggered', BTC, False)]
    assert changes[0][3]['previous_frozen_until'] == T0 + 5000 and state[BTC]['last_trigger_time'] == T0 + 4000


# --------------------------------------------------------------------------------------------
# Arguments: checked before any request; the message names the argument, never a secret
# --------------------------------------------------------------------------------------------

def deribit_account(**kw):
    out = dict(name='delta', venue='deribit', client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    out.update(kw)
    return {k: v for k, v in out.items() if v is not None}


def binance_account(**kw):
    out = dict(name='alpha', api_key='KEY-alpha-01', api_secret=BINANCE_SECRET, underlyings=['BTCUSDT'])
    out.update(kw)
    return out


def validate(args, environ=None):
    return core_watch.validate_source_args(args, environ={} if environ is None else environ, default_venue='binance')


@pytest.fixture(params=['strict', 'lenient'])
def deribit(request):
    """The fake Deribit, reading block_rfq's default in listings both ways (``FakeDeribit.list_filter``)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeDeribit(rsps, list_filter=request.param)


def test_deribit_accounts_are_routed_with_their_defaults():
    settings = validate(dict(accounts=[binance_account(), deribit_account()], interval='5'),
                        environ={'DERIBIT_URL': 'http://127.0.0.1:9'})
    assert set(settings['venues']) == {'binance', 'deribit'}
    deribit_settings = settings['venues']['deribit']
    assert deribit_settings['base_url'] == 'http://127.0.0.1:9' and deribit_settings['interval'] == 5
    assert deribit_settings['error_interval'] == 300 and deribit_settings['validate_certs'] is True
    assert [(a['name'], a['client_id']) for a in deribit_settings['accounts']] == [('delta', CLIENT_ID)]
    assert settings['venues']['binance']['accounts'][0]['name'] == 'alpha'
    settings = validate(dict(accounts=[deribit_account()], deribit_base_url='https://test.deribit.com/'))
    assert settings['venues']['deribit']['base_url'] == 'https://test.deribit.com/'
    assert list(settings['venues']) == ['deribit']
    assert validate(dict(accounts=[deribit_account()]))['venues']['deribit']['base_url'] == 'https://www.deribit.com'


def test_an_argument_only_an_unused_venue_reads_is_ignored_with_a_warning():
    settings = validate(dict(accounts=[binance_account()], deribit_base_url='https://test.deribit.com'))
    assert settings['warnings'] == ['deribit_base_url: no account has venue deribit; ignored']
    settings = validate(dict(accounts=[deribit_account()], weight_budget=100, base_url='https://eapi.binance.com'))
    assert settings['warnings'] == ['base_url: no account has venue binance; ignored',
                                    'weight_budget: no account has venue binance; ignored']


def test_binance_only_sources_do_not_import_the_deribit_watcher(monkeypatch):
    asked = []
    real = core_watch.venue_watch
    monkeypatch.setattr(core_watch, 'venue_watch', lambda venue: asked.append(venue) or real(venue))
    settings = validate(dict(accounts=[binance_account(), binance_account(name='bravo')]))
    assert asked == ['binance'] and list(settings['venues']) == ['binance']


@pytest.mark.parametrize('args, words', [
    (dict(accounts=[deribit_account(client_secret=None)]), 'accounts[0] (delta).client_secret: missing'),
    (dict(accounts=[deribit_account(client_id=None)]), 'accounts[0] (delta).client_id: missing'),
    (dict(accounts=[deribit_account(client_secret=CLIENT_SECRET + '\n')]), 'accounts[0] (delta).client_secret: ends with a newline'),
    (dict(accounts=[deribit_account(client_secret='a ' + CLIENT_SECRET)]), 'accounts[0] (delta).client_secret: contains whitespace'),
    (dict(accounts=[deribit_account(client_secret=12345)]), 'accounts[0] (delta).client_secret: must be a string'),
    (dict(accounts=[deribit_account(client_id=CLIENT_ID + '\u00e9')]), 'accounts[0] (delta).client_id: contains a non-ASCII'),
    (dict(accounts=[binance_account(), deribit_account(api_key='KEY-alpha-01')]), 'accounts[1]: unknown key(s) api_key'),
    (dict(accounts=[binance_account(), deribit_account(name='alpha')]), 'accounts[1].name: \'alpha\' is used twice'),
    (dict(accounts=[binance_account(), deribit_account(name='')]), 'accounts[1].name'),
    (dict(accounts=[binance_account(), deribit_account(venue='okx')]), 'accounts[1].venue: got \'okx\'; one of'),
    (dict(accounts=[binance_account(), deribit_account(venue=None), deribit_account(name='echo')]),
     'accounts[1]: unknown key(s) client_id, client_secret'),
    (dict(accounts=[deribit_account()], deribit_base_url='https://svc:%s@deribit.example' % CLIENT_SECRET),
     'deribit_base_url must not carry a user name or password'),
    (dict(accounts=[deribit_account()], deribit_base_url='http://www.deribit.com'),
     'deribit_base_url: plain http is only allowed to a loopback address'),
    (dict(accounts=[deribit_account()], interval=0.5), 'interval'),
    (dict(accounts=[deribit_account()], timeout=0), 'timeout'),
    (dict(accounts=[deribit_account()], ca_path='/nonexistent/ca.pem'), 'ca_path'),
    (dict(accounts=[deribit_account()], deribit_url='https://www.deribit.com'), 'unknown argument(s): deribit_url'),
    (dict(accounts=[deribit_account()] * 1001), 'accounts: a list of 1 to 1000'),
])
def test_bad_arguments_fail_before_any_request_naming_the_argument_and_never_a_secret(deribit, args, words):
    with pytest.raises(core_watch.WatchConfigError) as info:
        settings = validate(args)
        core_watch.SourceWatcher(settings)  # not reached
    message = str(info.value)
    assert words in message, message
    assert CLIENT_SECRET not in message and BINANCE_SECRET not in message and 'KEY-alpha-01' not in message
    assert deribit.journal == []


def test_bad_environment_base_url_is_named_too():
    with pytest.raises(core_watch.WatchConfigError) as info:
        validate(dict(accounts=[deribit_account()]),
                 environ={'DERIBIT_URL': 'https://www.deribit.com/?token=%s' % CLIENT_SECRET})
    assert str(info.value).startswith('deribit_base_url must not carry a query string')
    assert CLIENT_SECRET not in str(info.value)


# --------------------------------------------------------------------------------------------
# Polling through the real client on the fake Deribit, on a fake clock
# --------------------------------------------------------------------------------------------

@pytest.fixture
def clock(monkeypatch):
    return deribit_helpers.frozen_clock(monkeypatch)


@pytest.fixture
def ledgers(monkeypatch, tmp_path):
    """One ledger per URL and scope, as on a controller (the unit tests' conftest shares one for every URL)."""
    directory = tmp_path / 'ledgers'
    directory.mkdir(mode=0o700)
    monkeypatch.setattr(pacing.Ledger, 'for_url', classmethod(
        lambda cls, url, base_dir=None, scope=None: cls(str(directory / pacing.ledger_name(url, scope)))))
    return directory


def deribit_watcher(clock, accounts=None, interval=2, error_interval=300, binance=None, extra=None):
    args = dict(accounts=accounts or [deribit_account()], deribit_base_url=BASE, interval=interval,
                error_interval=error_interval)
    args.update(extra or {})
    settings = validate(args)
    options = dict(deribit=dict(build_client=lambda params: DERIBIT.client(params, clock=clock, sleep=clock.sleep),
                                clock=clock, wall_clock=clock))
    if binance:
        options['binance'] = binance
    return core_watch.SourceWatcher(settings, options=options)


def set_config(deribit, key, frozen_time=30):
    deribit.configs[key] = dict(interval='10', frozen_time=str(frozen_time), quantity_limit='2.5', delta_limit='1')


def freeze(deribit, clock, key, seconds):
    deribit.frozen[key] = int((clock() + seconds) * 1000) if seconds else 0


def test_two_status_reads_per_poll_and_a_config_read_per_trigger(deribit, clock):
    """Two status listings per poll and account (without parameters, with block_rfq=true: Deribit's block_rfq
    defaults to false, so the first may leave the Block RFQ configs out), under both readings of that default."""
    set_config(deribit, BTC)
    set_config(deribit, RFQ, frozen_time=0)
    freeze(deribit, clock, RFQ, 0)
    w = deribit_watcher(clock)
    delta = w.accounts[0]
    events = w.poll(delta)
    assert [(e['type'], e['venue'], e['index_name'], e['block_rfq'], e['initial']) for e in events] == \
        [('triggered', 'deribit', 'all', True, True)]
    assert [(c['method'], c['params']) for c in deribit.journal] == [
        ('private/get_mmp_status', {}), ('private/get_mmp_status', dict(block_rfq='true')),
        ('private/get_mmp_config', dict(index_name='all', block_rfq='true'))]
    event = events[0]
    assert event['frozen'] is True and event['frozen_until'] is None and event['underlying'] == 'all'
    assert event['config'] == dict(index_name='all', mmp_group=None, block_rfq=True, window_s=10, frozen_s=0,
                                   qty_limit='2.5', delta_limit='1', vega_limit=None, max_quote_qty=None,
                                   trade_count_limit=None)
    deribit.journal.clear()
    clock.sleep(2)
    assert w.poll(delta) == []
    assert [c['method'] for c in deribit.journal] == ['private/get_mmp_status'] * 2

    # a trigger: one event, with the config read once
    freeze(deribit, clock, BTC, 30)
    deribit.journal.clear()
    clock.sleep(2)
    events = w.poll(delta)
    assert [(e['type'], e['account'], e['underlying'], e['initial']) for e in events] == \
        [('triggered', 'delta', 'btc_usd', False)]
    event = events[0]
    assert event['last_trigger_time'] == int(clock() * 1000) and event['observed_at'] == int(clock() * 1000)
    assert event['frozen_until'] == deribit.frozen[BTC] and event['mmp_group'] is None
    assert event['config']['frozen_s'] == 30 and event['frozen_ms'] == 30000
    assert [c['method'] for c in deribit.journal] == ['private/get_mmp_status'] * 2 + ['private/get_mmp_config']
    trigger_ms = event['last_trigger_time']

    # a manual reset: thawed (reset), with the trigger's time and config
    del deribit.frozen[RFQ]
    clock.sleep(2)
    events = w.poll(delta)
    assert [(e['type'], e['index_name'], e['reason'], e['frozen']) for e in events] == [('thawed', 'all', 'reset', False)]
    # its time passes: thawed (expired)
    clock.sleep(30)
    events = w.poll(delta)
    assert [(e['type'], e['index_name'], e['reason'], e['last_trigger_time']) for e in events] == \
        [('thawed', 'btc_usd', 'expired', trigger_ms)]
    assert events[0]['frozen_until'] == deribit.frozen[BTC]
    clock.sleep(2)
    assert w.poll(delta) == []


def test_a_block_rfq_trigger_is_reported_whichever_way_the_status_listing_reads_block_rfq(deribit, clock):
    """A Block RFQ config that triggers while the account is watched: ``triggered`` with its scope and config (a
    status listing without block_rfq may leave it out: Deribit documents block_rfq's default as false)."""
    set_config(deribit, BTC)
    set_config(deribit, ETH_Q)
    set_config(deribit, RFQ, frozen_time=60)
    w = deribit_watcher(clock)
    delta = w.accounts[0]
    assert w.poll(delta) == []
    freeze(deribit, clock, RFQ, 60)
    freeze(deribit, clock, ETH_Q, 0)
    clock.sleep(2)
    events = w.poll(delta)
    assert sorted((e['type'], e['index_name'], e['mmp_group'], e['block_rfq'], e['initial']) for e in events) == [
        ('triggered', 'all', None, True, False), ('triggered', 'eth_usd', 'q1', False, False)]
    rfq = [e for e in events if e['block_rfq']][0]
    assert rfq['frozen_until'] == deribit.frozen[RFQ] and rfq['config']['frozen_s'] == 60
    assert rfq['config']['block_rfq'] is True and rfq['underlying'] == 'all'
    # reset: thawed, and no event while nothing changes
    del deribit.frozen[RFQ]
    clock.sleep(2)
    assert [(e['type'], e['index_name'], e['reason']) for e in w.poll(delta)] == [('thawed', 'all', 'reset')]
    clock.sleep(2)
    assert w.poll(delta) == []


def test_a_config_that_cannot_be_read_still_gives_its_trigger(deribit, clock):
    w = deribit_watcher(clock)
    delta = w.accounts[0]
    w.poll(delta)
    freeze(deribit, clock, BTC, 30)
    deribit.faults.append(('private/get_mmp_config', lambda: FakeDeribit.error(11050, 'bad_request')))
    clock.sleep(2)
    events = w.poll(delta)
    assert [(e['type'], e['config']) for e in events] == [('triggered', None)]
    assert events[0]['config_error']['code'] == 11050


def test_errors_are_throttled_then_recovered_and_never_hold_a_secret(deribit, clock):
    w = deribit_watcher(clock, error_interval=60)
    delta = w.accounts[0]
    deribit.secret = 'another-secret'
    events = w.poll(delta)
    assert [(e['type'], e['venue'], e['account'], e['index_name']) for e in events] == [('error', 'deribit', 'delta', None)]
    error = events[0]['error']
    assert error['kind'] == 'DeribitAPIError' and error['code'] == 13004 and events[0]['scope'] == 'account'
    clock.sleep(30)
    assert w.poll(delta) == []
    clock.sleep(31)
    assert [e['error']['failures'] for e in w.poll(delta)] == [3]
    deribit.secret = CLIENT_SECRET
    set_config(deribit, BTC, frozen_time=30)
    freeze(deribit, clock, BTC, 30)
    set_config(deribit, ETH_Q, frozen_time=600)
    deribit.frozen[ETH_Q] = int((w.accounts[0].started_ms + 500 * 1000))  # triggered 100 s before the start
    clock.sleep(2)
    events = w.poll(delta)
    # the first answer after failures since the start: a trigger after the start (frozen_until - frozen_s) is new,
    # one from before it is initial
    assert [(e['type'], e['index_name'], e['initial']) for e in events] == \
        [('recovered', None, False), ('triggered', 'btc_usd', False), ('triggered', 'eth_usd', True)]
    assert events[0]['failures'] == 3 and events[0]['venue'] == 'deribit'
    text = repr(events) + repr(w.take_notices())
    assert CLIENT_SECRET not in text and 'sig=' not in text


# --------------------------------------------------------------------------------------------
# Stops: per account for Deribit, per IP for Binance; neither holds the other
# --------------------------------------------------------------------------------------------

class Loop:
    """What mmp_watch's _watch_account does for every account, on the fake clock and without asyncio."""

    def __init__(self, w, clock):
        self.w, self.clock = w, clock
        start = clock()
        self.w.interval_now()
        self.wake = [start + w.start_offset(a) for a in w.accounts]
        self.waits, self.events, self.notices = [], [], []

    def run(self, until):
        while True:
            index = min(range(len(self.wake)), key=lambda i: self.wake[i])
            if self.wake[index] > until:
                self.clock.now = max(self.clock.now, until)
                return
            self.clock.now = max(self.clock.now, self.wake[index])
            account = self.w.accounts[index]
            step, seconds = self.w.before_poll(account)
            if step == core_watch.WAIT:
                assert 0 < seconds <= core_watch.STOP_RECHECK
                self.waits.append((self.clock(), account.name, seconds))
                self.wake[index] = self.clock() + seconds
            elif step == core_watch.PROBE:
                self.w.probe(account)
            else:
                started = self.clock()
                self.events.extend(self.w.poll(account))
                self.wake[index] = started + self.w.interval_now(account)[0]
            self.notices.extend(self.w.take_notices())

    def infos(self):
        return [event for dummy, event in self.notices]


class BinanceClient:
    """A Binance client's stops as the real one keeps them (per IP: the URL's ledger); every request in ``sent``."""

    def __init__(self, clock, sent, bans):
        self.clock, self.sent, self.bans = clock, sent, bans
        self.pacer = pacing.Pacer(BINANCE_URL, None, clock=clock)

    def _send(self, what):
        stop = self.pacer.current_stop()
        if stop is not None:
            error = (IPBanned if stop[2] == 418 else RateLimited)('GET %s: nothing was sent' % what)
            error.until, error.recorded_at, error.sent = stop[0], stop[1], False
            raise error
        self.sent.append((self.clock(), 'alpha', what))
        if self.bans and what != 'time':
            until, at = self.pacer.record_stop(self.bans.pop(0), 418)[:2]
            error = IPBanned('GET %s: HTTP 418' % what, http_status=418)
            error.until, error.recorded_at = until, at
            raise error

    def get_mmp(self, underlying):
        self._send(underlying)
        return dict(underlying=underlying, windowTimeInMilliseconds=3000, frozenTimeInMilliseconds=1000,
                    qtyLimit='2', deltaLimit='2.3', lastTriggerTime=0)

    def server_now_ms(self):
        return int(self.clock() * 1000)

    def probe(self):
        self._send('time')


def mixed(clock, sent, bans, interval=2):
    binance = dict(build_client=lambda params: BinanceClient(clock, sent, bans), clock=clock, wall_clock=clock)
    return deribit_watcher(clock, accounts=[binance_account(), deribit_account()], interval=interval, binance=binance,
                           extra=dict(base_url=BINANCE_URL))


def deribit_sent(deribit):
    return [(c['method'], c['time']) for c in deribit.journal]


@pytest.fixture
def timed(deribit, clock):
    """The fake Deribit, its journal holding the fake clock's time of each request."""
    deribit.journal = deribit_helpers.TimedJournal(clock)
    return deribit


def test_too_many_requests_given_up_holds_that_deribit_account_only_then_one_probe(timed, clock, ledgers):
    deribit = timed
    sent, bans = [], []
    w = mixed(clock, sent, bans)
    start = clock()
    loop = Loop(w, clock)
    loop.run(start + 3.5)  # alpha (Binance) and delta (Deribit) at 0 and 2
    assert [m for m, t in deribit_sent(deribit)] == ['private/get_mmp_status'] * 4  # two per poll
    for retry_after in ('1', '1', '45'):  # the client waits twice (1 s each, Retry-After), then gives up: a stop is
        # recorded for as long as the last Retry-After says
        body = FakeDeribit.error(10028, 'too_many_requests')[2]
        deribit.faults.append(('private/get_mmp_status', lambda after=retry_after, body=body: (429, {'Retry-After': after}, body)))
    loop.run(start + 90)
    calls = deribit_sent(deribit)
    limited = [t for m, t in calls if m == 'private/get_mmp_status'][4:7]
    assert len(limited) == 3 and limited[-1] - limited[0] == pytest.approx(2)
    stop = pacing.recorded_stop(BASE, clock=clock, scope='client_id:%s' % CLIENT_ID)
    assert stop is None  # over by now
    after = [(m, t - limited[-1]) for m, t in calls if t > limited[-1]]
    # nothing for 45 s (the stop of the last 429: its Retry-After), then exactly one probe
    assert after[0][0] == 'public/get_time' and 45 - 1e-6 <= after[0][1] < pacing.DEFAULT_STOP_429
    assert [m for m, t in after].count('public/get_time') == 1
    assert [m for m, t in after[1:]] == ['private/get_mmp_status'] * (len(after) - 1) and len(after) > 2
    # the Binance account polled all along, every 2 s
    binance_times = [t for t, name, what in sent if what != 'time']
    assert max(b - a for a, b in zip(binance_times, binance_times[1:])) == pytest.approx(2)
    assert binance_times[-1] > start + 85
    infos = loop.infos()
    assert [(e['reason'], e['venue'], e['account'], e['status']) for e in infos] == [
        ('exchange_stop', 'deribit', 'delta', 429), ('exchange_resumed', 'deribit', 'delta', 429)]
    message = loop.notices[0][0]
    assert message.startswith('no request for account delta until ') and 'Deribit rate-limited account delta' in message
    assert 'public/get_time' in message
    errors = [e for e in loop.events if e['type'] == 'error']
    assert [(e['venue'], e['account'], e['error']['kind']) for e in errors] == [('deribit', 'delta', 'DeribitRateLimited')]
    assert [(e['type'], e['account']) for e in loop.events if e['type'] == 'recovered'] == [('recovered', 'delta')]
    text = repr(loop.events) + repr(loop.notices)
    assert CLIENT_SECRET not in text and BINANCE_SECRET not in text


def test_a_binance_ban_does_not_hold_the_deribit_account(timed, clock, ledgers):
    deribit = timed
    sent, bans = [], [30]
    w = mixed(clock, sent, bans)
    start = clock()
    loop = Loop(w, clock)
    loop.run(start + 40)
    binance = [(t - start, what) for t, name, what in sent]
    assert binance[0] == (0, 'BTCUSDT') and binance[1] == (30, 'time')  # banned at 0 for 30 s, then one probe
    status_times = [t - start for m, t in deribit_sent(deribit) if m == 'private/get_mmp_status']
    # every 2 s (two reads a poll) through the Binance ban (each venue's accounts start at 0)
    assert status_times[:10] == [0, 0, 2, 2, 4, 4, 6, 6, 8, 8]
    assert [(e['reason'], e['venue'], e['account']) for e in loop.infos()] == [
        ('exchange_stop', 'binance', None), ('exchange_resumed', 'binance', None)]
    assert 'banned this IP (HTTP 418)' in loop.notices[0][0]


class DeribitStub:
    """A Deribit client's stops as the real one keeps them (per account: the URL's ledger for its client_id)."""

    def __init__(self, params, clock, sent, limits):
        self.name, self.clock, self.sent, self.limits = params['name'], clock, sent, limits
        self.pacer = pacing.Pacer(BASE, None, clock=clock, scope='client_id:%s' % params['client_id'])

    def _send(self, what):
        stop = self.pacer.current_stop()
        if stop is not None:
            error = RateLimited('%s: nothing was sent' % what)
            error.until, error.recorded_at, error.sent = stop[0], stop[1], False
            raise error
        self.sent.append((self.clock(), self.name, what))
        if self.limits.get(self.name) and what != 'time':
            until, at = self.pacer.record_stop(self.limits.pop(self.name), 429)[:2]
            error = RateLimited('%s: too_many_requests' % what, http_status=429, code=10028)
            error.until, error.recorded_at = until, at
            raise error

    def get_mmp_status(self, block_rfq=False):
        self._send('status rfq' if block_rfq else 'status')
        return []

    def server_now_ms(self):
        return int(self.clock() * 1000)

    def probe(self):
        self._send('time')


def test_a_stop_of_one_deribit_account_does_not_hold_another(clock, ledgers):
    sent, limits = [], {}
    settings = validate(dict(accounts=[deribit_account(), deribit_account(name='echo', client_id='other-client-id')],
                             interval=2))
    w = core_watch.SourceWatcher(settings, options=dict(deribit=dict(
        build_client=lambda params: DeribitStub(params, clock, sent, limits), clock=clock, wall_clock=clock)))
    start = clock()
    loop = Loop(w, clock)
    loop.run(start + 0.5)
    limits['delta'] = 10
    loop.run(start + 16)
    delta = [(t - start, what) for t, name, what in sent if name == 'delta']
    echo = [t - start for t, name, what in sent if name == 'echo']
    # two status reads a poll; the first one limited at 2 ends that poll
    assert delta[:6] == [(0, 'status'), (0, 'status rfq'), (2, 'status'), (12, 'time'), (12, 'status'),
                         (12, 'status rfq')]
    assert echo == [t for t in (1, 3, 5, 7, 9, 11, 13, 15) for dummy in range(2)]
    assert [(e['reason'], e['account']) for e in loop.infos()] == [('exchange_stop', 'delta'),
                                                                   ('exchange_resumed', 'delta')]
    assert w.watchers['deribit'].accounts[0].gate.probes == 1 and w.watchers['deribit'].accounts[1].gate.probes == 0


def test_a_stop_recorded_elsewhere_for_the_account_holds_it_from_the_start(clock, ledgers):
    sent = []
    pacing.Pacer(BASE, None, clock=clock, scope='client_id:%s' % CLIENT_ID).record_stop(5, 429)
    settings = validate(dict(accounts=[deribit_account()], interval=2))
    w = core_watch.SourceWatcher(settings, options=dict(deribit=dict(
        build_client=lambda params: DeribitStub(params, clock, sent, {}), clock=clock, wall_clock=clock)))
    start = clock()
    loop = Loop(w, clock)
    loop.run(start + 8)
    assert [(t - start, what) for t, name, what in sent] == [(5, 'time'), (5, 'status'), (5, 'status rfq'),
                                                             (7, 'status'), (7, 'status rfq')]
    assert os.listdir(str(ledgers))
