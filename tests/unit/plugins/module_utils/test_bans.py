# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A ban (418) and a 429 given up on are shared state; the weight limit is the one the exchange publishes."""

from __future__ import annotations

import json
import os
import time

from email.utils import formatdate

import pytest

from ansible_collections.marketops.mmp.plugins.module_utils import pacing
from ansible_collections.marketops.mmp.plugins.module_utils.binance.api import (
    DEFAULT_BAN,
    DEFAULT_WEIGHT_LIMIT,
    BinanceOptionsClient,
    HmacSigner,
    published_weight_limit,
    stop_seconds,
)
from ansible_collections.marketops.mmp.plugins.module_utils.errors import IPBanned, RateLimited
from ansible_collections.marketops.mmp.plugins.module_utils.runner import task_result
from ansible_collections.marketops.mmp.plugins.module_utils.binance.killswitch import KILL_SWITCH
from ansible_collections.marketops.mmp.plugins.module_utils.binance.mmp import MMP, MMP_INFO, MMP_RESET
from ansible_collections.marketops.mmp.plugins.module_utils.pacing import ExchangeStop, Ledger, Pacer
from ansible_collections.marketops.mmp.tests.unit.helpers import API_KEY, SECRET, answer
from ansible_collections.marketops.mmp.tests.unit.plugins.module_utils.test_pacing import Clock

URL = 'https://eapi.binance.com'
BANNED = {'code': -1003, 'msg': 'Way too many requests; IP(1.2.3.4) banned until 1700000000000. Please use the '
                                'websocket for live updates to avoid bans.'}
TOO_MANY = {'code': -1003, 'msg': 'Too many requests'}


def pacer(clock, ledger, limit=None, reserve=None):
    return Pacer(URL, limit, reserve, ledger=ledger, clock=clock, wait=clock.wait, rand=lambda: 0.0,
                 default_limit=DEFAULT_WEIGHT_LIMIT)


@pytest.fixture
def ledger(tmp_path):
    return Ledger(str(tmp_path / 'private' / 'weight.json'))


def write_ledger(ledger, content):
    os.makedirs(os.path.dirname(ledger.path), mode=0o700, exist_ok=True)
    with open(ledger.path, 'w') as f:
        json.dump(content, f)
    os.chmod(ledger.path, 0o600)


def make_client(**kwargs):
    kwargs.setdefault('signer', HmacSigner(SECRET))
    return BinanceOptionsClient(api_key=API_KEY, **kwargs)


def params(**overrides):
    p = dict(underlying='BTCUSDT', window_ms=3000, frozen_ms=300000, qty_limit='2', delta_limit='2.3',
             api_key=API_KEY, api_secret=SECRET, private_key=None, private_key_passphrase=None, base_url=URL,
             recv_window=5000, timeout=10.0, validate_certs=True, weight_limit=None, weight_reserve=None,
             account='acct-alpha', ca_path=None)
    p.update(overrides)
    return p


# ---------------------------------------------------------------------------------------------
# The stop in the ledger
# ---------------------------------------------------------------------------------------------

def test_a_recorded_stop_holds_every_pacer_of_the_ledger_until_it_ends(ledger):
    clock = Clock(1_000_000)
    until, at = pacer(clock, ledger).record_stop(600, 418)[:2]
    assert (until, at) == (clock.now + 600, clock.now)
    other = pacer(clock, ledger)
    with pytest.raises(ExchangeStop) as e:
        other.claim()
    assert (e.value.until, e.value.at, e.value.status, e.value.path) == (until, at, 418, ledger.path)
    assert clock.waits == []  # refused at once, no wait
    assert pacing.recorded_stop(URL, ledger=ledger, clock=clock) == (until, at, 418)
    clock.now = until + 0.01
    other.claim()  # not refused
    assert pacing.recorded_stop(URL, ledger=ledger, clock=clock) is None


def test_the_later_stop_wins_and_none_is_longer_than_three_days(ledger):
    clock = Clock(1_000_000)
    p = pacer(clock, ledger)
    p.record_stop(600, 418)
    p.record_stop(30, 429)  # shorter: the ban still holds
    assert p.current_stop() == (clock.now + 600, clock.now, 418)
    p.record_stop(10 ** 9, 418)
    assert p.current_stop()[0] == clock.now + pacing.MAX_STOP


@pytest.mark.parametrize('stop', [
    {'until': 1_000_000 + pacing.MAX_STOP + 60, 'at': 1_000_000, 'status': 418},  # further than the longest ban
    {'until': 1_000_600, 'at': 1_000_000, 'status': 503},                           # not a stop's status
    {'until': 1_000_600, 'at': 1_000_000, 'status': True},
    {'until': 1_000_600, 'at': 1_000_100, 'status': '418'},
    {'until': 1_000_600, 'at': 1_000_700, 'status': 418},                           # recorded after it ends
    {'until': 1_000_600, 'at': 1_000_060, 'status': 418},                           # recorded in the future
    {'until': 'soon', 'at': 1_000_000, 'status': 418},
    {'until': float('nan'), 'at': 1_000_000, 'status': 418},
    {'until': 999_999, 'at': 999_000, 'status': 418},                               # over
    'x', [1, 2], None,
])
def test_a_stop_that_is_not_sane_is_not_believed(ledger, stop):
    clock = Clock(1_000_000)
    write_ledger(ledger, {'v': 2, 'stop': stop})
    p = pacer(clock, ledger)
    assert p.current_stop() is None
    p.claim()  # not refused, not held back
    assert clock.waits == []


def test_a_sane_stop_written_by_another_process_is_believed(ledger):
    clock = Clock(1_000_000)
    write_ledger(ledger, {'v': 2, 'stop': {'until': 1_000_000 + 2 * 86400, 'at': 999_000, 'status': 418}})
    with pytest.raises(ExchangeStop):
        pacer(clock, ledger).claim()


def test_without_a_usable_ledger_the_process_still_remembers_its_stop(tmp_path):
    clock = Clock(1_000_000)
    pacer(clock, None).record_stop(60, 418)
    with pytest.raises(ExchangeStop) as e:
        pacer(clock, None).claim()
    assert e.value.path is None


def test_a_ban_ends_a_clock_probe_in_the_same_transaction(ledger):
    """The cold controller's first request learns the clock while the others wait; when it comes back 418, the ban is
    recorded as the probe is released, so the waiting workers see the ban, not a free ledger."""
    clock = Clock(1_000_000)
    first, second = pacer(clock, ledger, limit=60), pacer(clock, ledger, limit=60)
    first.claim()
    first.observe({'Date': formatdate(clock.now, usegmt=True)}, clock.now, clock.now, stop=(600, 418))
    state = Ledger.read(os.open(ledger.path, os.O_RDONLY))
    assert 'probe_until' not in state and state['stop']['status'] == 418
    with pytest.raises(ExchangeStop):
        second.claim()


# ---------------------------------------------------------------------------------------------
# How long the exchange said to stop
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('status, headers, msg, expected', [
    (418, {'Retry-After': '600'}, None, 600),
    (418, {'retry-after': ' 7 '}, None, 7),
    (418, {}, 'IP(1.2.3.4) banned until 1000000300000. Please', 300),  # Binance's message: the exchange's ms
    (418, {}, 'banned', DEFAULT_BAN),
    (418, {'Retry-After': 'garbage'}, None, DEFAULT_BAN),
    (418, {'Retry-After': formatdate(1_000_000_000 + 90, usegmt=True)}, None, 90),
    (418, {'Retry-After': '99999999'}, None, pacing.MAX_STOP),
    (418, {'Retry-After': '0'}, None, 1),
    (429, {}, 'Too many requests', pacing.DEFAULT_STOP_429),
    (429, {'Retry-After': '30'}, None, 30),
    (429, {}, 'banned until 1000000300000', pacing.DEFAULT_STOP_429),  # only a 418 is read for it
])
def test_stop_seconds(status, headers, msg, expected):
    assert stop_seconds(status, headers, msg, 1_000_000_000.0) == pytest.approx(expected)


def test_a_ban_of_the_default_length_is_at_least_two_minutes():
    assert DEFAULT_BAN >= 120


# ---------------------------------------------------------------------------------------------
# The client: a ban fails the task at once, and every later request sends nothing
# ---------------------------------------------------------------------------------------------

def test_a_418_is_recorded_and_the_next_client_sends_nothing(exchange, sleeps):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(418, BANNED, {'Retry-After': '600'}))
    with pytest.raises(IPBanned) as first:
        make_client().get_mmp('BTCUSDT')
    assert first.value.sent and first.value.until == pytest.approx(time.time() + 600, abs=5)
    assert len(exchange.journal) == 1
    with pytest.raises(IPBanned) as later:
        make_client().set_mmp('ETHUSDT', 3000, 300000, '2', '2.3')
    message = str(later.value)
    assert message.startswith('POST /eapi/v1/mmpSet: Binance banned this IP until ')
    assert ' UTC (' in message and ' s left), recorded at ' in message and 'by an earlier request; nothing was sent' in message
    assert not later.value.sent and later.value.until == first.value.until
    assert len(exchange.journal) == 1 and sleeps == []


def test_a_418_without_retry_after_is_read_from_binances_message(exchange, sleeps):
    until_ms = int((time.time() + 900) * 1000)
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(418, {'code': -1003, 'msg': 'Way too many requests; IP(1.2.3.4) '
                                                           'banned until %d.' % until_ms}))
    with pytest.raises(IPBanned) as e:
        make_client().get_mmp('BTCUSDT')
    assert e.value.until == pytest.approx(until_ms / 1000.0, abs=5)


def test_a_429_given_up_on_is_recorded_too(exchange, sleeps):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(429, TOO_MANY, {'Retry-After': '300'}))  # > 120 s: not waited
    with pytest.raises(RateLimited) as e:
        make_client().get_mmp('BTCUSDT')
    assert 'recorded so that no task, run or watcher on this controller sends before' in str(e.value)
    with pytest.raises(RateLimited) as later:
        make_client().get_mmp('ETHUSDT')
    assert 'Binance rate-limited this IP (HTTP 429, not retried) until ' in str(later.value)
    assert 'nothing was sent' in str(later.value) and not later.value.sent
    assert len(exchange.journal) == 1 and sleeps == []


def test_a_429_that_is_waited_out_records_no_stop(exchange, sleeps):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(429, TOO_MANY, {'Retry-After': '2'}))
    c = make_client()
    c.get_mmp('BTCUSDT')
    assert c.pacer.current_stop() is None and len(exchange.journal) == 2


def test_when_the_ban_ends_requests_go_again(exchange, sleeps, monkeypatch):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(418, BANNED, {'Retry-After': '600'}))
    with pytest.raises(IPBanned):
        make_client().get_mmp('BTCUSDT')
    later = time.time() + 601
    monkeypatch.setattr(time, 'time', lambda: later)
    make_client().get_mmp('BTCUSDT')
    assert len(exchange.journal) == 2


@pytest.mark.parametrize('core, extra', [
    (MMP, {}),
    (MMP_INFO, dict(underlyings=['BTCUSDT'])),
    (MMP_INFO, dict(underlyings=None)),
    (MMP_RESET, dict(only_if_frozen=True)),
    (KILL_SWITCH, dict(countdown_ms=30000)),
])
def test_every_module_fails_at_once_naming_the_ban_and_sends_nothing(exchange, sleeps, core, extra):
    make_client().pacer.record_stop(600, 418)
    spec = core.argument_spec()
    p = {k: v for k, v in params(**extra).items() if k in spec or k in params()}
    for name, option in spec.items():
        p.setdefault(name, option.get('default'))
    result, warnings, failed = task_result(core, p)
    assert failed, result
    assert result['msg'].startswith('account acct-alpha: ')
    assert 'Binance banned this IP until ' in result['msg'] and 'nothing was sent' in result['msg']
    assert exchange.journal == [] and sleeps == []


# ---------------------------------------------------------------------------------------------
# The exchange's published limit
# ---------------------------------------------------------------------------------------------

def limits(*entries):
    return {'rateLimits': [dict(zip(('rateLimitType', 'interval', 'intervalNum', 'limit'), e)) for e in entries]}


@pytest.mark.parametrize('data, expected', [
    (limits(('REQUEST_WEIGHT', 'MINUTE', 1, 2400), ('ORDERS', 'MINUTE', 1, 1200)), 2400),
    (limits(('REQUEST_WEIGHT', 'MINUTE', 1, 60)), 60),
    (limits(('REQUEST_WEIGHT', 'MINUTE', 1, 600), ('REQUEST_WEIGHT', 'SECOND', 10, 100)), 100),
    (limits(('REQUEST_WEIGHT', 'MINUTE', 5, 3000)), 600),
    (limits(('REQUEST_WEIGHT', 'HOUR', 1, 6000)), 100),
    (limits(('ORDERS', 'MINUTE', 1, 1200)), None),
    (limits(('REQUEST_WEIGHT', 'MINUTE', 1, '2400')), None),
    (limits(('REQUEST_WEIGHT', 'MINUTE', 1, 0)), None),
    (limits(('REQUEST_WEIGHT', 'MINUTE', 0, 60)), None),
    (limits(('REQUEST_WEIGHT', 'MINUTE', 1, True)), None),
    (limits(('REQUEST_WEIGHT', 'FORTNIGHT', 1, 60)), None),
    ({'rateLimits': 'x'}, None), ({}, None), ([], None), (None, None),
])
def test_published_weight_limit(data, expected):
    assert published_weight_limit(data) == expected


@pytest.mark.cold_ledger
def test_the_first_request_reads_the_published_limit_once_per_controller(exchange, sleeps):
    exchange.weight_limit = 60
    c = make_client()
    c.get_mmp('BTCUSDT')
    assert [j['path'] for j in exchange.journal] == ['/eapi/v1/exchangeInfo', '/eapi/v1/mmp']
    assert (c.weight_limit, c.weight_reserve) == (60, 6)
    other = make_client()
    other.get_mmp('ETHUSDT')
    other.get_mmp('SOLUSDT')
    assert [j['path'] for j in exchange.journal].count('/eapi/v1/exchangeInfo') == 1
    assert other.weight_limit == 60 and c.take_recoveries() == [] and other.take_recoveries() == []


@pytest.mark.cold_ledger
@pytest.mark.parametrize('cap, expected', [(None, 60), (30, 30), (100, 60), (0, 0)])
def test_an_explicit_weight_limit_can_only_lower_the_published_one(exchange, sleeps, cap, expected):
    exchange.weight_limit = 60
    c = make_client(weight_limit=cap)
    c.get_mmp('BTCUSDT')
    assert c.weight_limit == expected
    assert [j['path'] for j in exchange.journal].count('/eapi/v1/exchangeInfo') == (0 if cap == 0 else 1)


@pytest.mark.cold_ledger
def test_a_limit_that_cannot_be_read_paces_at_2400_and_warns(exchange, sleeps):
    internal = {'code': -1001, 'msg': 'Internal error; unable to process your request. Please try again.'}
    exchange.add_fault('GET', '/eapi/v1/exchangeInfo', answer(500, internal), times=4)
    c = make_client()
    c.get_mmp('BTCUSDT')
    assert c.weight_limit == DEFAULT_WEIGHT_LIMIT
    notes = c.take_recoveries()
    assert notes[-1].startswith('pacing: the limit Binance publishes (GET /eapi/v1/exchangeInfo, rateLimits) could not '
                                'be read (') and notes[-1].endswith('paced at 2400 weight per minute, its documented limit')
    make_client().get_mmp('ETHUSDT')  # not tried again by the next task within LIMIT_RETRY
    assert [j['path'] for j in exchange.journal].count('/eapi/v1/exchangeInfo') == 4


@pytest.mark.cold_ledger
def test_the_info_modules_exchange_info_read_also_teaches_the_limit(exchange, sleeps):
    exchange.weight_limit = 90
    p = params(underlyings=None)
    result, warnings, failed = task_result(MMP_INFO, dict(p, **{k: v.get('default') for k, v in
                                                                MMP_INFO.argument_spec().items() if k not in p}))
    assert not failed, result
    assert [j['path'] for j in exchange.journal].count('/eapi/v1/exchangeInfo') == 1


@pytest.mark.cold_ledger
def test_a_ban_on_the_limit_read_fails_the_task_and_records_the_ban(exchange, sleeps):
    exchange.add_fault('GET', '/eapi/v1/exchangeInfo', answer(418, BANNED, {'Retry-After': '60'}))
    with pytest.raises(IPBanned):
        make_client().get_mmp('BTCUSDT')
    with pytest.raises(IPBanned):
        make_client().get_mmp('BTCUSDT')
    assert [j['path'] for j in exchange.journal] == ['/eapi/v1/exchangeInfo']


def test_the_published_limit_is_read_again_after_an_hour(ledger):
    clock = Clock(1_000_000)
    p = pacer(clock, ledger)
    assert p.must_read_limit() is True
    p.learn_limit(60)
    assert pacer(clock, ledger).must_read_limit() is False
    clock.now += pacing.LIMIT_MAX_AGE + 1
    assert pacer(clock, ledger).must_read_limit() is True


def test_one_worker_reads_the_limit_while_the_others_wait_for_it(ledger):
    clock = Clock(1_000_000)
    reader, waiter = pacer(clock, ledger), pacer(clock, ledger)
    assert reader.must_read_limit() is True

    def wait(reason, seconds):  # the reader answers while the waiter waits
        clock.waits.append((reason, seconds))
        clock.now += seconds
        reader.learn_limit(60)
    waiter._wait = wait
    assert waiter.must_read_limit() is False and waiter.weight_limit == 60 and len(clock.waits) == 1


def test_a_reader_that_never_answers_is_replaced_after_its_timeout(ledger):
    clock = Clock(1_000_000)
    assert pacer(clock, ledger).must_read_limit() is True
    assert pacer(clock, ledger).must_read_limit() is True  # after waiting out the first one's timeout
    assert 10.0 < sum(s for r, s in clock.waits) <= 13.0


@pytest.mark.parametrize('entry', [
    {'weight_per_minute': 0, 'at': 999_990, 'read': True},
    {'weight_per_minute': 10 ** 8, 'at': 999_990, 'read': True},
    {'weight_per_minute': '60', 'at': 999_990, 'read': True},
    {'weight_per_minute': True, 'at': 999_990, 'read': True},
    {'weight_per_minute': 60, 'at': 1_000_000 + 3600, 'read': True},
    {'weight_per_minute': 60, 'at': 999_990, 'read': 'yes'},
    {'weight_per_minute': 60, 'at': 1_000_000 - pacing.LIMIT_MAX_AGE - 1, 'read': True},
    'x',
])
def test_a_recorded_limit_that_is_not_sane_is_read_again(ledger, entry):
    clock = Clock(1_000_000)
    write_ledger(ledger, {'v': 2, 'rate_limit': entry})
    p = pacer(clock, ledger)
    assert p.must_read_limit() is True and p.weight_limit == DEFAULT_WEIGHT_LIMIT


def test_minute_counts_are_checked_against_the_published_limit(ledger):
    clock = Clock(1_000_000 * 60 + 30)
    minute = int(clock.now // 60)
    write_ledger(ledger, {'v': 2, 'rate_limit': {'weight_per_minute': 60, 'at': clock.now, 'read': True},
                          'minutes': {str(minute): 61}})
    state = pacing.clean_state(Ledger.read(os.open(ledger.path, os.O_RDONLY)), clock.now, None)
    assert state['minutes'] == {} and state['limit'][0] == 60


def test_a_stop_cleared_from_the_ledger_is_cleared_for_the_process_that_recorded_it(ledger):
    """A long-lived process (the watcher) that recorded a ban sees it cleared when the ledger file is removed."""
    clock = Clock(1_000_000)
    p = pacer(clock, ledger)
    p.record_stop(600, 418)
    os.unlink(ledger.path)
    assert p.current_stop() is None and pacing.recorded_stop(URL, ledger=ledger, clock=clock) is None
    p.claim()  # not refused


def test_recorded_stop_finds_the_clients_record_whatever_the_trailing_slash():
    clock = Clock(1_000_000)
    Pacer(URL, None, ledger=None, clock=clock).record_stop(60, 418)
    assert pacing.recorded_stop(URL + '/', ledger=None, clock=clock) is not None


@pytest.mark.parametrize('fault', [
    answer(500, {'code': -1001, 'msg': 'Internal error; unable to process your request. Please try again.'}),
    answer(429, TOO_MANY, {'Retry-After': '1'}),
])
def test_the_probe_is_one_request_whatever_it_gets(exchange, sleeps, fault):
    exchange.add_fault('GET', '/eapi/v1/time', fault)
    with pytest.raises(Exception):
        make_client().probe()
    assert len(exchange.journal) == 1 and sleeps == []


def test_a_probe_answered_429_records_a_stop(exchange, sleeps):
    exchange.add_fault('GET', '/eapi/v1/time', answer(429, TOO_MANY, {'Retry-After': '30'}))
    c = make_client()
    with pytest.raises(RateLimited):
        c.probe()
    assert c.pacer.current_stop()[2] == 429
