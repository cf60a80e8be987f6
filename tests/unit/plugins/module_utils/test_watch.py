# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MMP watcher's logic: state machine, error throttle, weight budget, argument checks, polling."""

from __future__ import annotations

import json
import os

from types import SimpleNamespace

import pytest

from ansible_collections.marketops.mmp.plugins.module_utils import pacing
from ansible_collections.marketops.mmp.plugins.module_utils import watch as core_watch
from ansible_collections.marketops.mmp.plugins.module_utils.binance import watch
from ansible_collections.marketops.mmp.plugins.module_utils.errors import (
    APIError,
    ConfigError,
    IPBanned,
    RateLimited,
    TransportError,
)
from ansible_collections.marketops.mmp.plugins.module_utils.transport import ledger_error
from ansible_collections.marketops.mmp.tests.unit import helpers

T0 = 1_800_000_000_000  # ms
SECRET = 'watch-unit-secret-9f8e7d6c5b4a'
PASSPHRASE = 'watch-unit-passphrase-1a2b'


def cfg(last=0, frozen_ms=300000, underlying='BTCUSDT', window_ms=3000):
    return dict(underlying=underlying, window_ms=window_ms, frozen_ms=frozen_ms, qty_limit='2', delta_limit='2.3',
                last_trigger_time=last)


def run(states, now, previous=None):
    """Feed answers in order; returns [(type, extra...)] per step."""
    out = []
    for config in states:
        previous, events = watch.mmp_events(previous, config, now, 'acct')
        out.append(events)
    return previous, out


# --------------------------------------------------------------------------------------------
# State machine
# --------------------------------------------------------------------------------------------

def test_start_up_with_a_frozen_underlying_reports_it_as_initial():
    state, events = watch.mmp_events(None, cfg(last=T0 - 1000), T0, 'acct')
    assert [e['type'] for e in events] == ['triggered']
    event = events[0]
    assert event['initial'] is True and event['account'] == 'acct' and event['underlying'] == 'BTCUSDT'
    assert event['last_trigger_time'] == T0 - 1000 and event['frozen'] is True
    assert event['frozen_ms'] == 300000 and event['frozen_until'] == T0 - 1000 + 300000
    assert event['config'] == cfg(last=T0 - 1000) and event['observed_at'] == T0
    assert state['frozen'] is True


@pytest.mark.parametrize('config', [cfg(), cfg(last=T0 - 300000), cfg(last=T0 - 400000), cfg(window_ms=0)])
def test_start_up_without_a_freeze_reports_nothing(config):
    state, events = watch.mmp_events(None, config, T0, 'acct')
    assert events == [] and state['frozen'] is False


def test_a_new_trigger_is_reported_once_then_thawed_when_its_time_passes():
    state, events = watch.mmp_events(None, cfg(), T0, 'acct')
    state, events = watch.mmp_events(state, cfg(last=T0 + 10), T0 + 500, 'acct')
    assert [(e['type'], e['initial'], e['previous_trigger_time']) for e in events] == [('triggered', False, 0)]
    assert events[0]['frozen_until'] == T0 + 10 + 300000
    # the same answer again: nothing new
    state, events = watch.mmp_events(state, cfg(last=T0 + 10), T0 + 1500, 'acct')
    assert events == []
    # one millisecond before the end: still frozen
    state, events = watch.mmp_events(state, cfg(last=T0 + 10), T0 + 10 + 300000 - 1, 'acct')
    assert events == []
    # at the end exactly: thawed (frozen while now < last + frozen_ms)
    state, events = watch.mmp_events(state, cfg(last=T0 + 10), T0 + 10 + 300000, 'acct')
    assert [(e['type'], e['reason'], e['frozen'], e['frozen_until']) for e in events] == \
        [('thawed', 'expired', False, T0 + 10 + 300000)]
    state, events = watch.mmp_events(state, cfg(last=T0 + 10), T0 + 10 + 400000, 'acct')
    assert events == []


def test_a_trigger_seen_after_its_freeze_ended_gives_triggered_then_thawed():
    state, dummy = watch.mmp_events(None, cfg(frozen_ms=200), T0, 'acct')
    state, events = watch.mmp_events(state, cfg(last=T0 + 100, frozen_ms=200), T0 + 1000, 'acct')
    assert [(e['type'], e['frozen']) for e in events] == [('triggered', False), ('thawed', False)]
    assert events[1]['frozen_until'] == T0 + 300 and events[1]['reason'] == 'expired'
    state, events = watch.mmp_events(state, cfg(last=T0 + 100, frozen_ms=200), T0 + 2000, 'acct')
    assert events == []


def test_frozen_until_reset_stays_frozen_whatever_the_clock_and_thaws_on_reset():
    state, events = watch.mmp_events(None, cfg(last=T0, frozen_ms=0), T0 + 1, 'acct')
    assert [(e['type'], e['initial'], e['frozen_until']) for e in events] == [('triggered', True, None)]
    for later in (T0 + 10 ** 6, T0 + 10 ** 9):
        state, events = watch.mmp_events(state, cfg(last=T0, frozen_ms=0), later, 'acct')
        assert events == []
    # a manual reset that clears lastTriggerTime
    state, events = watch.mmp_events(state, cfg(last=0, frozen_ms=0), T0 + 10 ** 9, 'acct')
    assert [(e['type'], e['reason'], e['frozen_until']) for e in events] == [('thawed', 'reset', None)]


def test_frozen_until_reset_then_a_timed_freeze_configured_thaws_with_that_reason():
    state, dummy = watch.mmp_events(None, cfg(last=T0, frozen_ms=0), T0 + 5000, 'acct')
    state, events = watch.mmp_events(state, cfg(last=T0, frozen_ms=1000), T0 + 5000, 'acct')
    assert [(e['type'], e['reason']) for e in events] == [('thawed', 'frozen_ms_changed')]


def test_a_trigger_time_going_back_and_forth_is_reported_once():
    state, dummy = watch.mmp_events(None, cfg(), T0, 'acct')
    state, events = watch.mmp_events(state, cfg(last=T0 + 1), T0 + 2, 'acct')
    assert [e['type'] for e in events] == ['triggered']
    state, events = watch.mmp_events(state, cfg(last=0), T0 + 3, 'acct')  # a replica that lags
    assert [(e['type'], e['reason']) for e in events] == [('thawed', 'reset')]
    state, events = watch.mmp_events(state, cfg(last=T0 + 1), T0 + 4, 'acct')
    assert events == []
    state, events = watch.mmp_events(state, cfg(last=T0 + 2), T0 + 5, 'acct')
    assert [e['type'] for e in events] == ['triggered']


def test_an_old_trigger_made_frozen_by_frozen_ms_0_is_not_a_new_trigger():
    state, dummy = watch.mmp_events(None, cfg(last=T0 - 400000), T0, 'acct')
    state, events = watch.mmp_events(state, cfg(last=T0 - 400000, frozen_ms=0), T0 + 1, 'acct')
    assert events == [] and state['frozen'] is False
    state, events = watch.mmp_events(state, cfg(last=T0 - 400000, frozen_ms=300000), T0 + 2, 'acct')
    assert events == []


def test_a_trigger_during_an_outage_at_start_up_is_new_not_initial():
    # the account could not be read from T0 (start) until T0 + 60 s; MMP triggered and thawed meanwhile
    state, events = watch.mmp_events(None, cfg(last=T0 + 1000, frozen_ms=2000), T0 + 60000, 'acct', since_ms=T0)
    assert [(e['type'], e['initial']) for e in events] == [('triggered', False), ('thawed', False)]
    # a trigger from before the start is initial (reported when still frozen, else not at all)
    state, events = watch.mmp_events(None, cfg(last=T0 - 1000), T0 + 60000, 'acct', since_ms=T0)
    assert [(e['type'], e['initial']) for e in events] == [('triggered', True)]
    state, events = watch.mmp_events(None, cfg(last=T0 - 1000, frozen_ms=2000), T0 + 60000, 'acct', since_ms=T0)
    assert events == []


def test_a_trigger_ahead_of_the_local_estimate_of_the_exchange_clock_counts_as_frozen():
    state, dummy = watch.mmp_events(None, cfg(), T0, 'acct')
    state, events = watch.mmp_events(state, cfg(last=T0 + 2000), T0, 'acct')
    assert [(e['type'], e['frozen']) for e in events] == [('triggered', True)]


# --------------------------------------------------------------------------------------------
# Errors and the weight budget
# --------------------------------------------------------------------------------------------

def test_error_throttle_reports_changes_at_once_and_repeats_rarely():
    throttle = core_watch.ErrorThrottle(repeat=300)
    bad_key = dict(kind='BinanceAPIError', code=-2015, http_status=401, message='m')
    key = ('acct', None)
    assert throttle.failure(key, bad_key, 0)['failures'] == 1
    assert all(throttle.failure(key, bad_key, t) is None for t in range(10, 300, 10))
    due = throttle.failure(key, bad_key, 300)
    assert due['failures'] == 31 and due['failing_for'] == 300
    # another failure: a change of state, reported at once
    down = dict(kind='BinanceTransportError', code=None, http_status=None, message='m')
    assert throttle.failure(key, down, 301)['failures'] == 1
    assert throttle.failure(key, down, 302) is None
    assert throttle.success(key, 310) == dict(failures=2, failing_for=9)
    assert throttle.success(key, 311) is None
    assert throttle.failure(key, down, 312)['failures'] == 1


@pytest.mark.parametrize('reads, interval, budget, extra, expected', [
    (40, 1, 2400, 0, (1.0, False)),
    (40, 1, 600, 0, (4.0, True)),
    (40, 10, 600, 0, (10.0, False)),
    (400, 10, 600, 0, (40.0, True)),
    (600, 60, 600, 1, (60.0 * 600 / 599, True)),
    (0, 10, 600, 0, (10.0, False)),
])
def test_poll_interval_keeps_the_weight_within_the_budget(reads, interval, budget, extra, expected):
    got = core_watch.poll_interval(interval, reads, budget, extra)
    assert got[1] == expected[1] and got[0] == pytest.approx(expected[0])
    assert core_watch.weight_per_minute(got[0], reads, extra) <= budget + 1e-6


def test_describe_error_scopes_and_redacts():
    scope, details = watch.describe_error(APIError('GET /eapi/v1/mmp?underlying=X&signature=abc: HTTP 401',
                                                   http_status=401, code=-2015))
    assert scope == 'account' and 'abc' not in details['message'] and details['code'] == -2015
    assert watch.describe_error(APIError('bad underlying', http_status=400, code=-1128))[0] == 'underlying'
    assert watch.describe_error(TransportError('down'))[0] == 'account'
    scope, details = watch.describe_error(ValueError(SECRET))
    assert scope == 'account' and SECRET not in repr(details)


# --------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------

def account(**kw):
    out = dict(name='alpha', api_key='KEY-alpha-01', api_secret=SECRET, underlyings=['btcusdt', 'ETHUSDT', 'BTCUSDT'])
    out.update(kw)
    return {k: v for k, v in out.items() if v is not None}


def test_arguments_are_normalised_with_their_defaults():
    settings = watch.validate_watch_args(dict(accounts=[account(), account(name='bravo', underlyings=None)]),
                                         environ={'BINANCE_EAPI_URL': 'http://127.0.0.1:9'})
    assert settings['base_url'] == 'http://127.0.0.1:9' and settings['interval'] == 10
    assert settings['weight_budget'] == 600 and settings['error_interval'] == 300 and settings['validate_certs'] is True
    assert settings['accounts'][0]['underlyings'] == ['BTCUSDT', 'ETHUSDT']
    assert settings['accounts'][1]['underlyings'] is None
    settings = watch.validate_watch_args(dict(accounts=[account()], interval='2.5', validate_certs='no',
                                              weight_budget='100'), environ={})
    assert settings['base_url'] == 'https://eapi.binance.com' and settings['interval'] == 2.5
    assert settings['validate_certs'] is False and settings['weight_budget'] == 100


def test_tls_settings_reach_the_client(tmp_path):
    bundle = tmp_path / 'ca.pem'
    bundle.write_text('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')
    bundle.chmod(0o600)
    settings = watch.validate_watch_args(dict(accounts=[account()], ca_path=str(bundle)), environ={})
    assert settings['ca_path'] == str(bundle) and settings['warnings'] == []
    client = watch.client_factory()(settings['accounts'][0])
    assert client.ca_path == str(bundle) and client.verify == str(bundle)
    settings = watch.validate_watch_args(dict(accounts=[account()], validate_certs=False), environ={})
    assert len(settings['warnings']) == 1 and 'eapi.binance.com' in settings['warnings'][0]
    assert watch.client_factory()(settings['accounts'][0]).verify is False


@pytest.mark.parametrize('args, words', [
    (dict(), 'accounts'),
    (dict(accounts=[]), 'accounts'),
    (dict(accounts=[account(), account()]), 'used twice'),
    (dict(accounts=[account(private_key='-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----')]),
     'exactly one'),
    (dict(accounts=[account(api_secret=None)]), 'api_secret'),
    (dict(accounts=[account(underlying='BTCUSDT')]), 'unknown key'),
    (dict(accounts=[account(underlyings=['BTC-USDT'])]), 'underlyings'),
    (dict(accounts=[account(underlyings=[])]), 'underlyings'),
    (dict(accounts=[account(api_key='has space')]), 'api_key'),
    (dict(accounts=[account(api_secret=12345)]), 'api_secret'),
    (dict(accounts=[account()], interval=0.5), 'interval'),
    (dict(accounts=[account()], weight_budget=5000), 'weight_budget'),
    (dict(accounts=[account()], recv_window=60000), 'recv_window'),
    (dict(accounts=[account()], timeout=0), 'timeout'),
    (dict(accounts=[account()], validate_certs='maybe'), 'validate_certs'),
    (dict(accounts=[account()], ca_path='/nonexistent/ca.pem'), 'ca_path'),
    (dict(accounts=[account()], base_url='https://user:%s@eapi.binance.com' % SECRET), 'base_url'),
    (dict(accounts=[account()], base_url='http://eapi.binance.com'), 'base_url'),
    (dict(accounts=[account()], intervall=10), 'unknown argument'),
    (dict(accounts=[account(private_key_passphrase=PASSPHRASE)]), 'private_key_passphrase'),
])
def test_bad_arguments_fail_naming_the_argument_and_never_a_secret(args, words):
    with pytest.raises(core_watch.WatchConfigError) as info:
        watch.validate_watch_args(args, environ={})
    message = str(info.value)
    assert words in message
    assert SECRET not in message and PASSPHRASE not in message and 'KEY-alpha-01' not in message


WATCH_PASSWORD = 'watch-url-password-77aa'
WATCH_TOKEN = 'watch-url-token-88bb'


@pytest.mark.parametrize('base_url, words', [
    ('https://svc:%s@gw.corp.example/' % WATCH_PASSWORD, 'must not carry a user name or password (the part before @)'),
    ('https://gw.corp.example/?token=%s' % WATCH_TOKEN, 'must not carry a query string'),
    ('https://gw.corp.example/#%s' % WATCH_TOKEN, 'must not carry a fragment'),
    ('http://127.attacker.example/', 'plain http is only allowed to a loopback address'),
    ('http://localhost.evil/', 'plain http is only allowed to a loopback address'),
    ('https://gw.corp.example:99999/', 'port that is not a number'),
    ('http://[::1', 'host that is not valid'),
])
@pytest.mark.parametrize('source', ['argument', 'environment'])
def test_base_url_is_checked_as_the_modules_check_it(base_url, words, source):
    args = dict(accounts=[account()])
    environ = {}
    if source == 'argument':
        args['base_url'] = base_url
    else:
        environ['BINANCE_EAPI_URL'] = base_url
    with pytest.raises(core_watch.WatchConfigError) as info:
        watch.validate_watch_args(args, environ=environ)
    message = str(info.value)
    assert message.startswith('base_url') and words in message
    assert WATCH_PASSWORD not in message and WATCH_TOKEN not in message and 'svc' not in message


@pytest.mark.parametrize('base_url', ['http://127.0.0.1:8765', 'http://127.1.2.3:1', 'http://[::1]:8765',
                                      'http://localhost:8765', 'http://LOCALHOST:8765', 'https://127.attacker.example'])
def test_loopback_http_and_any_https_are_watched(base_url):
    assert watch.validate_watch_args(dict(accounts=[account()], base_url=base_url), environ={})['base_url'] == base_url


@pytest.mark.parametrize('key', ['api_key', 'api_secret'])
@pytest.mark.parametrize('value, words', [
    ('Watch-Key-Value-01\n', 'ends with a newline; a Vault value written as a YAML block scalar `|` keeps one'),
    ('Watch-Key-Value-01 ', 'begins or ends with whitespace'),
    ('Watch-Key Value-01', 'contains whitespace'),
    ('Watch-Key\tValue-01', 'contains whitespace'),
    ('Watch-Key\x00Value-01', 'control character'),
    ('Watch-Key-Value-01\u00e9', 'non-ASCII character'),
    ('\n', 'ends with a newline'),
])
def test_account_keys_are_checked_as_the_modules_check_them(key, value, words):
    with pytest.raises(core_watch.WatchConfigError) as info:
        watch.validate_watch_args(dict(accounts=[account(**{key: value})]), environ={})
    message = str(info.value)
    assert message.startswith('accounts[0] (alpha).%s: ' % key) and words in message
    assert 'Watch-Key' not in message and 'Value-01' not in message


# --------------------------------------------------------------------------------------------
# Polling with a fake client
# --------------------------------------------------------------------------------------------

class FakeClient:
    def __init__(self, exchange):
        self.exchange = exchange

    def get_mmp(self, underlying):
        self.exchange.reads.append(underlying)
        failure = self.exchange.failures.get(underlying) or self.exchange.failures.get('*')
        if failure:
            raise failure
        return dict(underlying=underlying, windowTimeInMilliseconds=3000, frozenTimeInMilliseconds=1000,
                    qtyLimit='2.00000000', deltaLimit='2.3', lastTriggerTime=self.exchange.last.get(underlying, 0))

    def exchange_info(self):
        self.exchange.info_reads += 1
        if self.exchange.info_failure:
            raise self.exchange.info_failure
        return dict(optionContracts=[dict(underlying=u) for u in self.exchange.listed] + [dict(underlying='bad-name')])

    def server_now_ms(self):
        return self.exchange.now_ms


class FakeExchange:
    def __init__(self):
        self.reads, self.failures, self.last = [], {}, {}
        self.listed = ['ETHUSDT', 'BTCUSDT']
        self.info_reads, self.info_failure = 0, None
        self.now_ms = T0
        self.clock = 0.0


@pytest.fixture
def fake():
    return FakeExchange()


def make_watcher(fake, accounts, interval=1, budget=600, error_interval=300, build=None):
    settings = watch.validate_watch_args(dict(accounts=accounts, interval=interval, weight_budget=budget,
                                              error_interval=error_interval), environ={})
    return watch.Watcher(settings, build_client=build or (lambda params: FakeClient(fake)),
                         clock=lambda: fake.clock, refresh=3600, wall_clock=lambda: fake.clock)


def types(events):
    return [(e['type'], e['account'], e['underlying']) for e in events]


def test_poll_reads_every_underlying_and_reports_changes(fake):
    w = make_watcher(fake, [account(underlyings=['BTCUSDT', 'ETHUSDT'])])
    alpha = w.accounts[0]
    assert alpha.poll() == [] and fake.reads == ['BTCUSDT', 'ETHUSDT']
    fake.last['ETHUSDT'] = T0 + 5
    fake.now_ms = T0 + 10
    assert types(alpha.poll()) == [('triggered', 'alpha', 'ETHUSDT')]
    fake.now_ms = T0 + 1005
    assert types(alpha.poll()) == [('thawed', 'alpha', 'ETHUSDT')]


def test_an_account_error_spares_the_other_underlyings_and_is_throttled(fake):
    w = make_watcher(fake, [account(underlyings=['BTCUSDT', 'ETHUSDT', 'SOLUSDT'])], error_interval=60)
    alpha = w.accounts[0]
    fake.failures['*'] = APIError('GET /eapi/v1/mmp: HTTP 401, code -2015', http_status=401, code=-2015)
    events = alpha.poll()
    assert types(events) == [('error', 'alpha', 'BTCUSDT')] and fake.reads == ['BTCUSDT']
    assert events[0]['scope'] == 'account' and events[0]['error']['code'] == -2015
    fake.clock = 30
    assert alpha.poll() == []
    fake.clock = 61
    assert [e['error']['failures'] for e in alpha.poll()] == [3]
    del fake.failures['*']
    fake.clock = 62
    assert types(alpha.poll()) == [('recovered', 'alpha', None)]
    assert alpha.poll() == []


def test_an_underlying_error_does_not_stop_the_others(fake):
    w = make_watcher(fake, [account(underlyings=['BTCUSDT', 'XYZUSDT', 'ETHUSDT'])])
    alpha = w.accounts[0]
    fake.failures['XYZUSDT'] = APIError('GET /eapi/v1/mmp: HTTP 400, code -1128', http_status=400, code=-1128)
    fake.last['ETHUSDT'] = T0 - 10
    events = alpha.poll()
    assert types(events) == [('error', 'alpha', 'XYZUSDT'), ('triggered', 'alpha', 'ETHUSDT')]
    assert events[0]['scope'] == 'underlying' and fake.reads == ['BTCUSDT', 'XYZUSDT', 'ETHUSDT']


def test_a_trigger_while_the_account_could_not_be_read_is_reported_when_it_can(fake):
    w = make_watcher(fake, [account(underlyings=['BTCUSDT'])])
    alpha = w.accounts[0]
    fake.failures['*'] = TransportError('GET /eapi/v1/mmp timed out')
    assert types(alpha.poll()) == [('error', 'alpha', 'BTCUSDT')]
    fake.last['BTCUSDT'] = T0 + 100
    fake.now_ms = T0 + 5000
    del fake.failures['*']
    events = alpha.poll()
    assert [(e['type'], e['underlying'], e['initial']) for e in events] == [
        ('recovered', None, False), ('triggered', 'BTCUSDT', False), ('thawed', 'BTCUSDT', False)]


def test_an_account_whose_client_cannot_be_built_reports_and_the_others_go_on(fake):
    def build(params):
        if params['name'] == 'bravo':
            raise ConfigError('private_key could not be loaded: not a PEM private key (ValueError)')
        return FakeClient(fake)
    w = make_watcher(fake, [account(), account(name='bravo')], build=build)
    fake.last['BTCUSDT'] = T0 - 10
    assert types(w.accounts[1].poll()) == [('error', 'bravo', None)]
    assert types(w.accounts[0].poll()) == [('triggered', 'alpha', 'BTCUSDT')]


def test_underlyings_come_from_exchange_info_read_once_and_kept_when_a_refresh_fails(fake):
    w = make_watcher(fake, [account(underlyings=None), account(name='bravo', underlyings=None)])
    fake.info_failure = TransportError('GET /eapi/v1/exchangeInfo timed out')
    assert types(w.accounts[0].poll()) == [('error', 'alpha', None)]
    fake.info_failure = None
    w.accounts[0].poll()
    w.accounts[1].poll()
    assert fake.info_reads == 2 and fake.reads == ['BTCUSDT', 'ETHUSDT'] * 2
    assert w.reads_per_poll() == 4
    fake.clock = 3601
    fake.info_failure = TransportError('down')
    w.accounts[0].poll()
    assert fake.info_reads == 3 and w.catalog.underlyings == ['BTCUSDT', 'ETHUSDT']


def test_the_interval_is_stretched_and_reported_once(fake):
    w = make_watcher(fake, [account(name='a%d' % i, underlyings=['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT'])
                            for i in range(10)], interval=1, budget=600)
    interval, report = w.interval_now()
    assert interval == 4.0 and report['stretched'] and report['reads_per_poll'] == 40
    assert report['weight_per_minute'] == 600.0
    assert w.interval_now() == (4.0, None)


def test_a_pacing_ledger_that_cannot_be_used_is_reported_once(fake):
    def build(params):
        client = FakeClient(fake)
        client.base_url = 'https://eapi.binance.com'
        client.pacer = SimpleNamespace(ledger=SimpleNamespace(path='/tmp/marketops-mmp-0/weight-x.json'),
                                       ledger_problem='/tmp/marketops-mmp-0: directory owned by uid 7, not 0',
                                       ledger_busy=False)
        return client

    w = make_watcher(fake, [account(), account(name='bravo')], build=build)
    alpha, bravo = w.accounts
    assert w.unpaced_warning(alpha) is None  # no client yet
    alpha.poll()
    warning = w.unpaced_warning(alpha)
    assert warning.startswith('pacing: the shared ledger /tmp/marketops-mmp-0/weight-x.json could not be used '
                              '(/tmp/marketops-mmp-0: directory owned by uid 7, not 0)')
    bravo.poll()
    assert w.unpaced_warning(bravo) is None and w.unpaced_warning(alpha) is None  # said once


def test_what_a_client_sent_again_is_taken_after_each_poll(fake):
    notes = [['GET /eapi/v1/mmp for BTCUSDT timed out after 10.0s; sent again (attempt 2 of 4)'], []]

    def build(params):
        client = FakeClient(fake)
        client.take_recoveries = lambda: notes.pop(0)
        return client

    w = make_watcher(fake, [account()], build=build)
    alpha = w.accounts[0]
    assert w.recoveries(alpha) == []  # no client yet
    alpha.poll()
    assert w.recoveries(alpha) == ['GET /eapi/v1/mmp for BTCUSDT timed out after 10.0s; sent again (attempt 2 of 4)']
    assert w.recoveries(alpha) == []
    plain = make_watcher(fake, [account()])  # a client without recoveries
    plain.accounts[0].poll()
    assert plain.recoveries(plain.accounts[0]) == []


def test_a_usable_pacing_ledger_is_not_reported(fake):
    w = make_watcher(fake, [account()])
    w.accounts[0].poll()
    assert w.unpaced_warning(w.accounts[0]) is None


# --------------------------------------------------------------------------------------------
# Refused credentials: the account is polled every error_interval until it reads again (the loop itself:
# test_watch_credentials.py)
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize('error, refused', [
    (APIError('GET /eapi/v1/mmp: HTTP 400, code -1022', http_status=400, code=-1022), True),   # signature
    (APIError('GET /eapi/v1/mmp: HTTP 400, code -2014', http_status=400, code=-2014), True),   # key format
    (APIError('GET /eapi/v1/mmp: HTTP 401, code -2015', http_status=401, code=-2015), True),   # key, IP, permission
    (APIError('GET /eapi/v1/mmp: HTTP 401, code None', http_status=401), True),
    (APIError('GET /eapi/v1/mmp: HTTP 400, code -1021', http_status=400, code=-1021), False),  # the clock
    (APIError('GET /eapi/v1/mmp: HTTP 400, code -1131', http_status=400, code=-1131), False),  # recv_window
    (APIError('GET /eapi/v1/mmp: HTTP 403, code None (WAF)', http_status=403), False),
    (TransportError('GET /eapi/v1/mmp timed out'), False),
    (RateLimited('GET /eapi/v1/mmp: HTTP 429', http_status=429), False),
])
def test_a_refusal_of_the_credentials_is_told_from_other_account_failures(fake, error, refused):
    w = make_watcher(fake, [account(underlyings=['BTCUSDT', 'ETHUSDT'])], error_interval=60)
    alpha = w.accounts[0]
    fake.failures['*'] = error
    assert types(alpha.poll()) == [('error', 'alpha', 'BTCUSDT')] and fake.reads == ['BTCUSDT']
    assert alpha.credentials_refused is refused


def test_a_refused_account_stays_refused_through_other_failures_until_a_poll_reads_it(fake):
    w = make_watcher(fake, [account(underlyings=['BTCUSDT', 'ETHUSDT']), account(name='bravo')], error_interval=60)
    alpha, bravo = w.accounts
    fake.failures['*'] = APIError('GET /eapi/v1/mmp: HTTP 401, code -2015', http_status=401, code=-2015)
    alpha.poll()
    assert alpha.credentials_refused is True and bravo.credentials_refused is False
    fake.failures['*'] = TransportError('GET /eapi/v1/mmp timed out')  # says nothing of the key
    alpha.poll()
    assert alpha.credentials_refused is True
    # one underlying the exchange does not know, the other read: the key works
    fake.failures = {'BTCUSDT': APIError('GET /eapi/v1/mmp: HTTP 400, code -1128', http_status=400, code=-1128)}
    assert [e['type'] for e in alpha.poll()] == ['error', 'recovered']
    assert alpha.credentials_refused is False


def test_the_clients_own_refusals_are_told(exchange):
    """The real client against the fake exchange: a wrong secret (-1022) and an unknown key (-2015, HTTP 401) are
    refusals of the credentials; the right ones read."""
    settings = watch.validate_watch_args(dict(accounts=[
        dict(name='good', api_key=helpers.API_KEY, api_secret=helpers.SECRET, underlyings=['BTCUSDT']),
        dict(name='wrong-secret', api_key=helpers.API_KEY, api_secret='wrong-' + helpers.SECRET, underlyings=['BTCUSDT']),
        dict(name='unknown-key', api_key='unknown-key-0002', api_secret=helpers.SECRET, underlyings=['BTCUSDT'])],
        base_url=helpers.BASE, interval=1, error_interval=30), environ={})
    w = watch.Watcher(settings)
    codes = {}
    for account_watch in w.accounts:
        events = account_watch.poll()
        codes[account_watch.name] = ([e['error']['code'] for e in events], account_watch.credentials_refused)
    assert codes == {'good': ([], False), 'wrong-secret': ([-1022], True), 'unknown-key': ([-2015], True)}


# --------------------------------------------------------------------------------------------
# Stops: a ban or a 429 given up on, recorded in the pacing ledger (the real one of each test, tests/unit/conftest.py)
# --------------------------------------------------------------------------------------------

URL = 'https://eapi.binance.com'
EPOCH = 1_800_000_000.0  # the fake clock of these tests is an epoch clock, as the ledger's stops are


class StopClient(FakeClient):
    """FakeClient with what the real client does about stops: it refuses to send while one is recorded (sent False),
    records one when the exchange bans (418), and sends GET /eapi/v1/time for the probe. Every request sent is kept
    in ``exchange.sent`` as (time, account, what)."""

    def __init__(self, exchange, name):
        super().__init__(exchange)
        self.name = name
        self.pacer = pacing.Pacer(URL, None, clock=lambda: exchange.clock)

    def _send(self, what):
        try:
            stop = self.pacer.current_stop()
        except pacing.LedgerUnavailable as e:  # as the real client's claim: nothing is sent
            raise ledger_error('GET %s' % what, e)
        if stop is not None:
            error = (IPBanned if stop[2] == 418 else RateLimited)('GET %s: nothing was sent' % what)
            error.until, error.recorded_at, error.sent = stop[0], stop[1], False
            raise error
        self.exchange.sent.append((self.exchange.clock, self.name, what))
        if self.exchange.after_send:
            self.exchange.after_send.pop(0)()
        answer = self.exchange.answers.pop(0) if self.exchange.answers and what == 'time' else None
        ban = self.exchange.bans.pop(0) if self.exchange.bans and what != 'time' else None
        ban = ban or (answer if isinstance(answer, tuple) else None)
        if ban:
            seconds, status = ban
            until, at = self.pacer.record_stop(seconds, status)[:2]
            kind = IPBanned if status == 418 else RateLimited
            error = kind('GET %s: HTTP %d' % (what, status), http_status=status)
            error.until, error.recorded_at = until, at
            raise error
        if isinstance(answer, Exception):
            raise answer

    def get_mmp(self, underlying):
        self._send(underlying)
        return super().get_mmp(underlying)

    def server_time(self):
        self._send('time')

    def probe(self):  # the real client's probe: one GET /eapi/v1/time, never sent again
        self._send('time')
        return dict(serverTime=int(self.exchange.clock * 1000))


@pytest.fixture
def stops():
    exchange = FakeExchange()
    exchange.clock = EPOCH
    exchange.sent, exchange.bans, exchange.answers, exchange.after_send = [], [], [], []
    return exchange


def stop_watcher(exchange, names=('alpha', 'bravo', 'charlie'), interval=3, underlyings=('BTCUSDT',)):
    return make_watcher(exchange, [account(name=n, underlyings=list(underlyings)) for n in names], interval=interval,
                        build=lambda params: StopClient(exchange, params['name']))


class Loop:
    """What mmp_watch's _watch_account does for every account, on the fake clock and without asyncio: sleep until the
    account's next poll; ask before_poll (wait and ask again, or probe and ask again); poll; next poll one interval
    after this one started. Accounts start spread over the first interval."""

    def __init__(self, w, exchange):
        self.w, self.exchange = w, exchange
        count = len(w.accounts)
        self.wake = [exchange.clock + w.current_interval * i / count for i in range(count)]
        self.waits, self.events, self.notices = [], [], []

    def run(self, until):
        while True:
            index = min(range(len(self.wake)), key=lambda i: self.wake[i])
            if self.wake[index] > until:
                self.exchange.clock = until
                return
            self.exchange.clock = max(self.exchange.clock, self.wake[index])
            account = self.w.accounts[index]
            step, seconds = self.w.before_poll(account)
            if step == core_watch.WAIT:
                assert 0 < seconds <= core_watch.STOP_RECHECK  # bounded, never a busy loop
                self.waits.append((self.exchange.clock, account.name, seconds))
                self.wake[index] = self.exchange.clock + seconds
            elif step == core_watch.PROBE:
                self.w.probe(account)
            else:
                started = self.exchange.clock
                self.events.extend(self.w.poll(account))
                self.wake[index] = started + self.w.interval_now()[0]
            self.notices.extend(self.w.take_notices())

    def infos(self):
        return [event for dummy, event in self.notices]


def sent_between(exchange, start, end):
    return [r for r in exchange.sent if start <= r[0] < end]


def record_stop(exchange, seconds, status=418):
    """A stop recorded by another process: in the ledger only, not in this process's own state (pacing._LOCAL)."""
    own = pacing._LOCAL
    pacing._LOCAL = {}
    try:
        pacing.Pacer(URL, None, clock=lambda: exchange.clock).record_stop(seconds, status)
    finally:
        pacing._LOCAL = own


def test_no_account_polls_while_a_stop_holds_then_one_probe_then_the_accounts_resume_spread(stops):
    w = stop_watcher(stops)
    loop = Loop(w, stops)
    loop.run(EPOCH + 3.5)  # alpha polled at 0 and 3, bravo at 1, charlie at 2
    assert [(r[0] - EPOCH, r[1]) for r in stops.sent] == [(0, 'alpha'), (1, 'bravo'), (2, 'charlie'), (3, 'alpha')]
    stops.clock = EPOCH + 4  # bravo's next poll is due now
    record_stop(stops, 8)  # until EPOCH + 12
    loop.run(EPOCH + 30)
    assert sent_between(stops, EPOCH + 4, EPOCH + 12) == []
    after = [(r[0] - EPOCH, r[1], r[2]) for r in sent_between(stops, EPOCH + 12, EPOCH + 15)]
    # exactly one probe when the stop ends, then account i of 3 at end + 3 * i / 3
    assert after == [(12, 'alpha', 'time'), (12, 'alpha', 'BTCUSDT'), (13, 'bravo', 'BTCUSDT'),
                     (14, 'charlie', 'BTCUSDT')]
    assert w.gate.probes == 1 and w.gate.state == core_watch.OPEN
    # then every account every interval again
    assert [(r[0] - EPOCH, r[1]) for r in sent_between(stops, EPOCH + 15, EPOCH + 18)] == \
        [(15, 'alpha'), (16, 'bravo'), (17, 'charlie')]
    # the accounts that were due waited for the end of the stop, not more
    assert {(t - EPOCH, name, s) for t, name, s in loop.waits if t < EPOCH + 12} == \
        {(4, 'bravo', 8), (5, 'charlie', 7), (6, 'alpha', 6)}
    stop, resumed = loop.infos()
    assert (stop['type'], stop['reason'], stop['status'], stop['until'], stop['seconds']) == \
        ('info', 'exchange_stop', 418, int((EPOCH + 12) * 1000), 8)
    assert stop['account'] is None and stop['recorded_at'] == int((EPOCH + 4) * 1000)
    assert (resumed['reason'], resumed['probe'], resumed['status'], resumed['until'], resumed['spread']) == \
        ('exchange_resumed', 'answered', 418, int((EPOCH + 12) * 1000), 3.0)
    message = loop.notices[0][0]
    assert 'until 2027-01-15 08:00:12 UTC (8 s)' in message and 'banned this IP (HTTP 418)' in message
    assert loop.events == []  # no account met the stop: no error event


def test_a_probe_banned_again_waits_for_the_new_stop_then_probes_again(stops):
    w = stop_watcher(stops)
    loop = Loop(w, stops)
    loop.run(EPOCH + 0.5)
    record_stop(stops, 5)  # until EPOCH + 5.5
    stops.answers.append((20, 418))  # the probe is banned again: for 20 s
    loop.run(EPOCH + 40)
    assert [(r[0] - EPOCH, r[1], r[2]) for r in sent_between(stops, EPOCH + 0.5, EPOCH + 28)] == [
        (5.5, 'alpha', 'time'),                      # banned again: until 25.5
        (25.5, 'alpha', 'time'),                     # the second probe, answered
        (25.5, 'alpha', 'BTCUSDT'), (26.5, 'bravo', 'BTCUSDT'), (27.5, 'charlie', 'BTCUSDT')]
    assert w.gate.probes == 2
    reasons = [(e['reason'], e['status'], e.get('seconds')) for e in loop.infos()]
    assert reasons == [('exchange_stop', 418, 5), ('exchange_stop', 418, 20), ('exchange_resumed', 418, None)]


def test_a_stop_lengthened_or_cleared_in_the_ledger_is_seen_within_a_minute(stops):
    w = stop_watcher(stops, names=('alpha', 'bravo'))
    loop = Loop(w, stops)
    loop.run(EPOCH + 0.5)
    record_stop(stops, 100)  # until EPOCH + 100.5
    loop.run(EPOCH + 30)
    stops.clock = EPOCH + 30
    record_stop(stops, 300)  # another process lengthens it: until EPOCH + 330
    loop.run(EPOCH + 200)
    assert sent_between(stops, EPOCH + 0.5, EPOCH + 200) == []
    assert max(s for t, name, s in loop.waits) == core_watch.STOP_RECHECK  # the ledger is read again every minute
    assert [(e['reason'], e['seconds']) for e in loop.infos()] == [('exchange_stop', 99), ('exchange_stop', 269)]
    # cleared (someone who knows it is over removed it from the ledger): the watch sees it within a minute
    ledger = pacing.Ledger.for_url(URL)
    with open(ledger.path) as f:
        data = json.load(f)
    del data['stop']
    with open(ledger.path, 'w') as f:
        json.dump(data, f)
    cleared = stops.clock
    loop.run(EPOCH + 300)
    probe = [r for r in stops.sent if r[2] == 'time']
    assert len(probe) == 1 and cleared < probe[0][0] <= cleared + core_watch.STOP_RECHECK
    # bravo asked first (its wait ended first): it probed; then alpha at its turn, bravo half an interval later
    assert [(r[0] - EPOCH, r[1], r[2]) for r in stops.sent[1:4]] == [
        (probe[0][0] - EPOCH, 'bravo', 'time'), (probe[0][0] - EPOCH + 1.5, 'alpha', 'BTCUSDT'),
        (probe[0][0] - EPOCH + 1.5, 'bravo', 'BTCUSDT')]


def test_a_stop_met_mid_poll_sends_nothing_more_and_stops_the_other_accounts(stops):
    w = stop_watcher(stops, underlyings=('BTCUSDT', 'ETHUSDT'))
    loop = Loop(w, stops)
    loop.run(EPOCH + 2.5)
    assert len(stops.sent) == 6
    stops.bans.append((8, 418))  # alpha's next read (at 3) is banned: until 11
    loop.run(EPOCH + 11.5)
    # alpha's second underlying was not asked, and nobody else polled until the stop ended
    assert [(r[0] - EPOCH, r[1], r[2]) for r in stops.sent[6:]] == [
        (3, 'alpha', 'BTCUSDT'), (11, 'alpha', 'time'), (11, 'alpha', 'BTCUSDT'), (11, 'alpha', 'ETHUSDT')]
    errors = [e for e in loop.events if e['type'] == 'error']
    assert [(e['account'], e['error']['kind'], e['error']['http_status']) for e in errors] == \
        [('alpha', 'BinanceIPBanned', 418)]
    assert [e['reason'] for e in loop.infos()] == ['exchange_stop', 'exchange_resumed']
    loop.run(EPOCH + 20)
    assert [(r[0] - EPOCH, r[1]) for r in sent_between(stops, EPOCH + 11.5, EPOCH + 14)] == \
        [(12, 'bravo'), (12, 'bravo'), (13, 'charlie'), (13, 'charlie')]
    assert [e['type'] for e in loop.events if e['account'] == 'alpha'] == ['error', 'recovered']
    assert [e['type'] for e in loop.events if e['account'] != 'alpha'] == []


def test_a_stop_recorded_elsewhere_during_a_poll_makes_its_client_refuse_the_rest(stops):
    w = stop_watcher(stops, underlyings=('BTCUSDT', 'ETHUSDT', 'SOLUSDT'))
    loop = Loop(w, stops)
    loop.run(EPOCH + 2.5)
    # another process records a 429 stop (60 s) while alpha's poll at 3 is between its first and second read
    stops.after_send.append(lambda: record_stop(stops, 60, 429))
    loop.run(EPOCH + 63)
    assert [(r[0] - EPOCH, r[1], r[2]) for r in stops.sent[9:11]] == [(3, 'alpha', 'BTCUSDT'), (63, 'alpha', 'time')]
    errors = [e for e in loop.events if e['type'] == 'error']
    assert [(e['account'], e['underlying'], e['error']['kind']) for e in errors] == \
        [('alpha', 'ETHUSDT', 'BinanceRateLimited')]
    assert 'nothing was sent' in errors[0]['error']['message']
    assert [(e['reason'], e['status'], e.get('seconds')) for e in loop.infos()] == [
        ('exchange_stop', 429, 60), ('exchange_resumed', 429, None)]


def test_a_stop_shorter_than_the_time_to_the_next_poll_still_gets_a_probe_first(stops):
    w = stop_watcher(stops, names=('alpha', 'bravo'), interval=10)
    loop = Loop(w, stops)
    loop.run(EPOCH + 9)
    stops.bans.append((1, 429))  # alpha's poll at 10 meets a 1 s stop; bravo's next poll is at 15
    loop.run(EPOCH + 30)
    after = [(r[0] - EPOCH, r[1], r[2]) for r in sent_between(stops, EPOCH + 9, EPOCH + 30)]
    # the stop was over when bravo's turn came (15): still one probe first, then the polls as scheduled
    assert after[:4] == [(10, 'alpha', 'BTCUSDT'), (15, 'bravo', 'time'), (20, 'alpha', 'BTCUSDT'),
                         (20, 'bravo', 'BTCUSDT')]
    assert [(e['reason'], e['status']) for e in loop.infos()] == [('exchange_stop', 429), ('exchange_resumed', 429)]


def test_a_probe_that_fails_otherwise_resumes_the_accounts_spread(stops):
    w = stop_watcher(stops)
    loop = Loop(w, stops)
    loop.run(EPOCH + 0.5)
    record_stop(stops, 3)
    stops.answers.append(TransportError('GET /eapi/v1/time timed out after 10.0s, after 4 attempts'))
    loop.run(EPOCH + 6)
    assert [(r[0] - EPOCH, r[1], r[2]) for r in sent_between(stops, EPOCH + 0.5, EPOCH + 6)] == [
        (3.5, 'alpha', 'time'), (3.5, 'alpha', 'BTCUSDT'), (4.5, 'bravo', 'BTCUSDT'), (5.5, 'charlie', 'BTCUSDT')]
    message, resumed = loop.notices[-1]
    assert resumed['probe'] == 'failed' and resumed['probe_error']['kind'] == 'BinanceTransportError'
    assert 'the probe after the stop until' in message and 'timed out' in message


def test_while_the_probe_is_out_the_other_accounts_wait_and_none_probes_twice(stops):
    w = stop_watcher(stops)
    record_stop(stops, 2)
    alpha, bravo, charlie = w.accounts
    assert w.before_poll(alpha)[0] == core_watch.WAIT
    stops.clock += 2
    assert w.before_poll(bravo) == (core_watch.PROBE, 0.0)
    assert w.before_poll(alpha) == (core_watch.WAIT, core_watch.PROBE_WAIT)
    assert w.before_poll(charlie) == (core_watch.WAIT, core_watch.PROBE_WAIT)
    assert w.probe(bravo) is None and bravo.client is not None  # its client built for the probe
    assert w.gate.probes == 1 and [r[2] for r in stops.sent] == ['time']
    assert w.before_poll(alpha) == (core_watch.POLL, 0.0)


def test_without_a_usable_ledger_no_account_sends_and_each_reports_an_error(stops, tmp_path):
    """The ledger's directory is writable by others: whether a stop holds cannot be known, so no account sends anything
    (not even a probe), and each reports the ledger's problem in an error event naming the path and the fix."""
    w = stop_watcher(stops, names=('alpha', 'bravo'))
    ledger = pacing.Ledger.for_url(URL)
    os.chmod(ledger.directory, 0o777)  # writable by others: not used, by the clients nor by the watch
    loop = Loop(w, stops)
    loop.run(EPOCH + 10)
    assert stops.sent == []
    errors = [e for e in loop.events if e['type'] == 'error']
    assert {e['account'] for e in errors} == {'alpha', 'bravo'}, loop.events
    assert all('the pacing ledger %s cannot be used (directory writable by group or others)' % ledger.directory
               in e['error']['message'] and 'not sent' in e['error']['message'] and 'pacing_dir' in e['error']['message']
               and e['error']['kind'] == 'BinancePacingLedgerError' for e in errors), errors
