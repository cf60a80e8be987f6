# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of issue 21: a stop is scoped as the exchange counts (Deribit's 418 holds every account on the URL, its
429 the account, as long as Retry-After says), each venue bounds weight_limit, and a ledger that cannot be used fails
the task before anything is sent, for both venues."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest
import responses

from ansible_collections.marketops.mmp.plugins.module_utils import pacing
from ansible_collections.marketops.mmp.plugins.module_utils.binance.mmp import MMP_INFO
from ansible_collections.marketops.mmp.plugins.module_utils.binance.venue import BINANCE
from ansible_collections.marketops.mmp.plugins.module_utils.deribit import api as deribit_api
from ansible_collections.marketops.mmp.plugins.module_utils.deribit.modules import CORES
from ansible_collections.marketops.mmp.plugins.module_utils.errors import ValidationError
from ansible_collections.marketops.mmp.plugins.module_utils.runner import task_result, validate_common_connection
from ansible_collections.marketops.mmp.tests.unit.deribit_helpers import BASE, CLIENT_ID, CLIENT_SECRET, FakeDeribit
from ansible_collections.marketops.mmp.tests.unit.helpers import API_KEY, SECRET

DERIBIT_INFO = CORES['deribit_mmp_info']
BINANCE_URL = 'https://eapi.binance.com'
OTHER_ID = 'other-account-id'


@pytest.fixture
def deribit():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeDeribit(rsps)


@pytest.fixture
def ledgers(tmp_path, monkeypatch):
    """A ledger per URL and scope, as in the user's directory (the unit tests' default shares one file per URL)."""
    directory = tmp_path / 'ledgers'
    monkeypatch.setattr(pacing.Ledger, 'for_url', classmethod(
        lambda cls, url, base_dir=None, scope=None: cls(str(directory / pacing.ledger_name(url, scope)))))
    return directory


def deribit_params(client_id=CLIENT_ID, **options):
    out = {name: spec.get('default') for name, spec in DERIBIT_INFO.argument_spec().items()}
    out.update(client_id=client_id, client_secret=CLIENT_SECRET, base_url=BASE, timeout=10.0, validate_certs=True,
               ca_path=None, weight_limit=None, weight_reserve=None, account='acct-%s' % client_id[:5],
               index_name='btc_usd')
    out.update(options)
    return out


def deribit_run(client_id=CLIENT_ID, **options):
    return task_result(DERIBIT_INFO, deribit_params(client_id, **options))


def binance_params(**options):
    out = {name: spec.get('default') for name, spec in MMP_INFO.argument_spec().items()}
    out.update(api_key=API_KEY, api_secret=SECRET, private_key=None, private_key_passphrase=None, base_url=BINANCE_URL,
               recv_window=5000, timeout=10.0, validate_certs=True, ca_path=None, weight_limit=None, weight_reserve=None,
               account='acct-b', underlyings=['BTCUSDT'])
    out.update(options)
    return out


def fault(status, headers, code=None, message=None):
    body = FakeDeribit.error(code or 10028, message or 'too_many_requests', status)[2]
    return lambda: (status, headers, body)


# ---------------------------------------------------------------------------------------------
# Deribit: a 418 holds every account on the URL, a 429 the account; both as long as Retry-After says
# ---------------------------------------------------------------------------------------------

def test_a_deribit_418_holds_every_account_on_the_url_for_its_retry_after_and_binance_is_unaffected(
        deribit, ledgers, sleeps):
    deribit.faults.append(('private/get_mmp_config', fault(418, {'Retry-After': '900'}, 0, 'banned')))
    started = time.time()
    result, dummy, failed = deribit_run()
    assert failed and 'HTTP 418, Deribit banned every account at www.deribit.com until ' in result['msg']
    assert 'recorded so that no task, run or watcher on this controller sends before' in result['msg']
    stop = pacing.recorded_stop(BASE, scope='client_id:%s' % OTHER_ID)
    assert stop[2] == 418 and started + 899 <= stop[0] <= time.time() + 901
    assert pacing.recorded_stop(BASE) == stop  # in the URL's ledger, not the account's
    assert pacing.Pacer(BASE, None, scope='client_id:%s' % CLIENT_ID).current_stop() is None
    sent = len(deribit.journal)
    for client_id in (CLIENT_ID, OTHER_ID):  # the account that met it, and another one on the same URL
        result, dummy, failed = deribit_run(client_id)
        assert failed and 'Deribit banned every account at www.deribit.com until ' in result['msg'], result['msg']
        assert 'nothing was sent' in result['msg'] and result['msg'].startswith('account acct-%s: ' % client_id[:5])
    assert len(deribit.journal) == sent
    # Binance (another URL) is not held: its client claims (sends) at once
    assert pacing.recorded_stop(BINANCE_URL) is None
    client = BINANCE.client(binance_params(), session=object())
    client.pacer.local['clock'] = (-0.1, 0.1, time.time())
    client.check_stops('GET /eapi/v1/mmp')
    client._pace('GET /eapi/v1/mmp')


def test_a_deribit_418_without_retry_after_holds_the_url_for_the_default(deribit, ledgers, sleeps):
    deribit.faults.append(('private/get_mmp_config', fault(418, {}, 0, 'banned')))
    started = time.time()
    deribit_run()
    stop = pacing.recorded_stop(BASE)
    assert stop[2] == 418 and started + deribit_api.DEFAULT_BAN - 1 <= stop[0] <= time.time() + deribit_api.DEFAULT_BAN


def test_a_deribit_429_with_retry_after_600_stops_that_account_for_600_s_only(deribit, ledgers, sleeps):
    deribit.faults.append(('private/get_mmp_config', fault(429, {'Retry-After': '600'})))
    started = time.time()
    result, dummy, failed = deribit_run()
    # longer than the longest wait in a task: not waited, recorded as long as it says
    assert failed and sleeps == [] and len(deribit.journal) == 1
    assert 'Retry-After 600s is longer than 120s' in result['msg'], result['msg']
    assert 'this account (client_id %s): recorded so that no task' % CLIENT_ID in result['msg']
    stop = pacing.recorded_stop(BASE, scope='client_id:%s' % CLIENT_ID)
    assert stop[2] == 429 and started + 599 <= stop[0] <= time.time() + 601
    assert pacing.recorded_stop(BASE) is None and pacing.recorded_stop(BASE, scope='client_id:%s' % OTHER_ID) is None
    result, dummy, failed = deribit_run()
    assert failed and ('Deribit rate-limited this account (client_id %s) (HTTP 429, not retried) until ' % CLIENT_ID
                       in result['msg']) and 'nothing was sent' in result['msg']
    assert len(deribit.journal) == 1
    deribit_run(OTHER_ID)  # another account on the URL is not held: it is sent (and refused: the fake knows one key)
    assert len(deribit.journal) == 2


@pytest.mark.parametrize('value, expected', [('99999999', pacing.MAX_STOP), ('0', 1.0), ('soon', pacing.DEFAULT_STOP_429)])
def test_a_deribit_429_stop_is_bounded(deribit, ledgers, sleeps, value, expected):
    for dummy in range(3):
        deribit.faults.append(('private/get_mmp_config', fault(429, {'Retry-After': value})))
    started = time.time()
    deribit_run()
    stop = pacing.recorded_stop(BASE, scope='client_id:%s' % CLIENT_ID)
    assert started + expected - 1 <= stop[0] <= time.time() + expected


# ---------------------------------------------------------------------------------------------
# weight_limit: each venue's bounds, refused before any request, never cut
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('value', [-1, deribit_api.MAX_RATE_LIMIT + 1, 2400, 5000])
def test_a_deribit_weight_limit_outside_its_range_fails_before_any_request(deribit, value):
    result, dummy, failed = deribit_run(weight_limit=value)
    assert failed and result['option'] == 'weight_limit' and deribit.journal == []
    assert 'an integer in [0, 1800]' in result['msg'] and 'unset (300 requests a minute)' in result['msg']


def test_a_deribit_weight_limit_up_to_its_maximum_is_paced_under_as_given():
    for value, expected in ((None, 300), (0, 0), (1800, 1800), (700, 700)):
        client = deribit_api.DeribitClient(CLIENT_ID, CLIENT_SECRET, base_url=BASE, weight_limit=value, weight_ledger=None)
        assert client.weight_limit == expected
    with pytest.raises(Exception) as e:
        deribit_api.DeribitClient(CLIENT_ID, CLIENT_SECRET, base_url=BASE, weight_limit=1801, weight_ledger=None)
    assert 'weight_limit: 1801 is outside [0, 1800]' in str(e.value)


@pytest.mark.parametrize('value', [-1, 10 ** 7 + 1])
def test_a_binance_weight_limit_outside_its_range_fails_before_any_request(exchange, value):
    result, dummy, failed = task_result(MMP_INFO, binance_params(weight_limit=value))
    assert failed and result['option'] == 'weight_limit' and exchange.journal == []
    assert 'an integer in [0, 10000000]' in result['msg'] and 'the limit Binance publishes' in result['msg']


def test_a_deribit_weight_reserve_must_be_below_the_limit_in_force(deribit):
    result, dummy, failed = deribit_run(weight_reserve=300)
    assert failed and result['option'] == 'weight_reserve' and '[0, 300)' in result['msg'] and deribit.journal == []
    # 299 is accepted: checked by the same validation, not by a run (a budget of 1 request a minute would make the run
    # wait for the exchange's next minutes, for real)
    validate_common_connection(deribit_params(CLIENT_ID, weight_reserve=299), deribit_api.DeribitClient)
    with pytest.raises(ValidationError, match=r'\[0, 300\)'):
        validate_common_connection(deribit_params(CLIENT_ID, weight_reserve=300), deribit_api.DeribitClient)


# ---------------------------------------------------------------------------------------------
# A ledger that cannot be used: the task fails naming it and sends nothing, for both venues
# ---------------------------------------------------------------------------------------------

def other_users_directory(directory):
    directory.mkdir(mode=0o700)
    os.chown(str(directory), 65534, 65534)
    return 'directory owned by uid 65534, not %d' % os.getuid()


def group_writable_directory(directory):
    directory.mkdir(mode=0o700)
    os.chmod(str(directory), 0o770)
    return 'directory writable by group or others'


def symlinked_directory(directory):
    (directory.parent / 'elsewhere').mkdir(mode=0o700)
    directory.symlink_to(directory.parent / 'elsewhere')
    return '(a symbolic link)'


CASES = [other_users_directory, group_writable_directory, symlinked_directory]


def run_venue(venue, fake, **options):
    """The venue's task against its fake exchange; (result, failed, requests the exchange saw)."""
    if venue == 'deribit':
        result, dummy, failed = deribit_run(**options)
    else:
        result, dummy, failed = task_result(MMP_INFO, binance_params(**options))
    return result, failed, len(fake.journal)


@pytest.fixture(params=['binance', 'deribit'])
def venue(request):
    """(the venue's name, its fake exchange)."""
    return request.param, request.getfixturevalue('exchange' if request.param == 'binance' else 'deribit')


@pytest.mark.cold_ledger
@pytest.mark.parametrize('make', CASES)
def test_a_ledger_directory_that_cannot_be_trusted_fails_the_task_and_sends_nothing(venue, ledgers, make):
    if make is other_users_directory and os.getuid() != 0:
        pytest.skip('needs root to give a directory to another user')
    why = make(ledgers)
    result, failed, sent = run_venue(*venue)
    assert failed and sent == 0, result
    assert 'not sent: the pacing ledger %s cannot be used (' % ledgers in result['msg'] and why in result['msg']
    assert 'remove what is there' in result['msg'] and 'pacing_dir' in result['msg']
    # the opt-out: the task runs without it
    result, failed, sent = run_venue(*venue, pacing_ledger=False)
    assert not failed and sent >= 1, result


def hold_lock(path, ready, release):
    import fcntl
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    ready.set()
    release.wait(60)
    os.close(fd)


def test_a_ledger_locked_by_another_process_beyond_the_bound_fails_the_task_and_sends_nothing(venue, ledgers,
                                                                                              monkeypatch):
    monkeypatch.setattr(pacing, 'LOCK_TIMEOUT', 0.3)
    ledgers.mkdir(mode=0o700)
    url = BASE if venue[0] == 'deribit' else BINANCE_URL
    path = str(ledgers / pacing.ledger_name(url))  # the URL's ledger: every account of the venue checks it
    context = multiprocessing.get_context('fork')
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=hold_lock, args=(path, ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        result, failed, sent = run_venue(*venue)
    finally:
        release.set()
        holder.join(60)
    assert failed and sent == 0, result
    assert 'the pacing ledger %s cannot be used (another process held its lock for more than 0.3 s)' % path \
        in result['msg'] and 'fuser -v %s' % path in result['msg'] and 'remove' not in result['msg']
