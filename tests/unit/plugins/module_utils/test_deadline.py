# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``timeout`` is the deadline of each whole HTTP attempt (connect, send, the answer read to its end), not of each
socket read: an answer trickling in, its body or its headers, one byte at a time well within ``timeout`` of the
last, ends the attempt at its deadline. Real HTTP on 127.0.0.1: the emulators' ``trickle`` fault, and a small server
of this file for answers too large."""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest
import requests

from ansible_collections.marketops.mmp.plugins.module_utils import transport as http_mod
from ansible_collections.marketops.mmp.plugins.module_utils.binance.api import BinanceOptionsClient, HmacSigner
from ansible_collections.marketops.mmp.plugins.module_utils.binance.modules import CORES as BINANCE_CORES
from ansible_collections.marketops.mmp.plugins.module_utils.binance.venue import BINANCE
from ansible_collections.marketops.mmp.plugins.module_utils.binance import watch as binance_watch
from ansible_collections.marketops.mmp.plugins.module_utils.deribit.api import DeribitClient
from ansible_collections.marketops.mmp.plugins.module_utils.deribit.modules import CORES as DERIBIT_CORES
from ansible_collections.marketops.mmp.plugins.module_utils.deribit.venue import DERIBIT
from ansible_collections.marketops.mmp.plugins.module_utils.deribit import watch as deribit_watch
from ansible_collections.marketops.mmp.plugins.module_utils.errors import TransportError, UnknownOutcome
from ansible_collections.marketops.mmp.plugins.module_utils.runner import task_result
from ansible_collections.marketops.mmp.tests.emulator.deribit import DeribitEmulator, DeribitServer
from ansible_collections.marketops.mmp.tests.emulator.server import Emulator, EmulatorServer
from ansible_collections.marketops.mmp.tests.unit.helpers import API_KEY, SECRET
from ansible_collections.marketops.mmp.tests.unit.plugins.module_utils.test_mmp import params as mmp_params

TIMEOUT = 0.5
# Every byte of a trickle comes well within TIMEOUT of the last: a per-read timeout never fires, and the trickle
# lasts 20 s (the bug: the attempt lasted as long). The bounds below are far below that, yet leave a busy 2-core
# machine seconds of slack.
TRICKLE = dict(kind='trickle', interval=0.05, duration=20)
SLACK = 2.5
ATTEMPTS = http_mod.TRANSIENT_RETRIES + 1
MAX_BACKOFF = sum(min(http_mod.BACKOFF_CAP, http_mod.BACKOFF_BASE * 2 ** i) for i in range(http_mod.TRANSIENT_RETRIES))
CLIENT_ID, CLIENT_SECRET = 'deadline-client', 'deadline-secret-7c1f0e'


def test_the_documented_bound_of_a_request():
    """The guides say: at most 4 attempts, and 3.5 s of backoff between them in all."""
    assert (ATTEMPTS, MAX_BACKOFF) == (4, 3.5)


@pytest.fixture
def binance():
    emu = Emulator([dict(name='a', api_key=API_KEY, secret=SECRET)])
    with EmulatorServer(emu) as server:
        emu.url = server.url
        yield emu


@pytest.fixture
def deribit():
    emu = DeribitEmulator([dict(name='d', client_id=CLIENT_ID, client_secret=CLIENT_SECRET)])
    with DeribitServer(emu) as server:
        emu.url = server.url
        yield emu


def trickle(emu, count=1, **fault):
    emu.add_faults([dict(TRICKLE, count=count, **fault)])


def trickled(emu):
    """The journal entries of the requests answered with a trickle."""
    with emu.lock:
        return [dict(e) for e in emu.journal if e.get('fault') == 'trickle']


def wait_for_hang_ups(emu, count, within=10.0):
    """The trickled entries, once ``count`` of them saw the client hang up (the emulator notices at its next byte)."""
    end = time.monotonic() + within
    while True:
        entries = trickled(emu)
        if sum(1 for e in entries if e.get('client_closed_at')) >= count or time.monotonic() > end:
            return entries
        time.sleep(0.02)


class Recorder:
    """The client's ``sleep``: backoff is recorded, not waited (the emulator's trickle waits for real)."""

    def __init__(self):
        self.calls = []

    def __call__(self, seconds):
        self.calls.append(seconds)


def binance_client(emu, sleep=None, **kwargs):
    kwargs.setdefault('timeout', TIMEOUT)
    return BinanceOptionsClient(api_key=API_KEY, signer=HmacSigner(SECRET), base_url=emu.url, weight_ledger=None,
                                published_limit=False, sleep=sleep, **kwargs)


def deribit_client(emu, sleep=None):
    return DeribitClient(CLIENT_ID, CLIENT_SECRET, base_url=emu.url, timeout=TIMEOUT, weight_ledger=None, sleep=sleep)


# ---------------------------------------------------------------------------------------------
# One attempt
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('part', ['body', 'headers'])
def test_one_attempt_ends_at_its_deadline_however_the_answer_trickles(binance, part):
    client = binance_client(binance)
    trickle(binance, path='/eapi/v1/time', part=part)
    start = time.monotonic()
    with pytest.raises(TransportError,
                       match=r'^GET /eapi/v1/time timed out after 0\.5s, after its one attempt \(not sent again\)$'):
        client.probe()  # one attempt, never sent again
    elapsed = time.monotonic() - start
    assert TIMEOUT - 0.05 <= elapsed <= TIMEOUT + SLACK
    entries = wait_for_hang_ups(binance, 1)
    assert len(entries) == 1 and entries[0]['trickle']['part'] == part
    # the client hung up at its deadline, long before the trickle would have ended
    assert entries[0].get('client_closed_at') and not entries[0].get('replied')
    assert entries[0]['client_closed_at'] - entries[0]['time'] <= TIMEOUT + SLACK


def test_an_answer_that_trickles_in_within_the_deadline_is_read_whole_on_a_kept_connection(binance):
    client = binance_client(binance, timeout=10)
    trickle(binance, path='/eapi/v1/mmp', interval=0.01, duration=0.2)
    assert client.get_mmp('BTCUSDT')['underlying'] == 'BTCUSDT'  # the padded answer, whole
    # the emulator journals 'replied' after its last byte, which the client may have read first: wait for it (bounded)
    deadline = time.monotonic() + 10
    while not trickled(binance)[0].get('replied') and time.monotonic() < deadline:
        time.sleep(0.01)
    assert trickled(binance)[0].get('replied') and client.take_recoveries() == []
    pools = client.session.get_adapter(binance.url).poolmanager.pools

    def kept():
        """The local ports of the connections kept in the pool."""
        return [conn.sock.getsockname()[1] for key in pools.keys() for conn in list(pools[key].pool.queue)
                if conn is not None and conn.sock is not None]

    ports = []
    for dummy in range(3):
        assert client.get_mmp('ETHUSDT')['underlying'] == 'ETHUSDT'
        ports += kept()
    # an answer read to its end leaves its connection to the pool: the three went over one connection
    assert len(ports) == 3 and len(set(ports)) == 1, ports


def test_the_shared_session_tells_each_attempt_its_connection():
    """The deadline shuts the socket of the attempt's connection, which the pool names before connecting it."""
    session = http_mod.shared_session('http://127.0.0.1:8765')
    adapter = session.get_adapter('http://127.0.0.1:8765')
    assert isinstance(adapter, http_mod.DeadlineAdapter) and adapter.max_retries.total == 0
    assert all(issubclass(cls, http_mod._WatchedPool) for cls in adapter.poolmanager.pool_classes_by_scheme.values())
    proxy = adapter.proxy_manager_for('http://proxy.internal:3128')
    assert all(issubclass(cls, http_mod._WatchedPool) for cls in proxy.pool_classes_by_scheme.values())


def test_the_watchdog_never_touches_a_connection_after_its_attempt():
    class Conn:
        sock = None

    deadline = http_mod.Deadline(0.05).start()
    deadline.watch(Conn())
    deadline.end()
    assert getattr(http_mod._ATTEMPT, 'deadline', None) is None
    time.sleep(0.2)  # past the deadline: the cancelled watchdog did not fire
    assert deadline.expired is False and deadline.conn is None


# ---------------------------------------------------------------------------------------------
# A request: its retries, a write's unknown outcome
# ---------------------------------------------------------------------------------------------

def test_a_read_that_trickles_is_sent_again_and_fails_within_the_documented_bound(binance):
    """4 attempts of at most ``timeout`` each, and the backoff between them (real waits)."""
    client = binance_client(binance, rand=lambda: 1.0)  # the longest backoff: 0.5 + 1 + 2 s
    trickle(binance, count=ATTEMPTS, path='/eapi/v1/mmp')
    start = time.monotonic()
    with pytest.raises(TransportError, match=r'^GET /eapi/v1/mmp timed out after 0\.5s, after 4 attempts$'):
        client.get_mmp('BTCUSDT')
    elapsed = time.monotonic() - start
    waits = [seconds for reason, seconds in client.waits if reason == 'transient']
    assert waits == [0.5, 1.0, 2.0]
    assert elapsed <= ATTEMPTS * TIMEOUT + MAX_BACKOFF + SLACK
    entries = trickled(binance)
    assert len(entries) == ATTEMPTS
    # each attempt arrived at most its predecessor's deadline and backoff (and slack) after it
    for before, after, wait in zip(entries, entries[1:], waits):
        assert wait <= after['time'] - before['time'] <= TIMEOUT + wait + SLACK


def test_a_read_that_trickled_once_recovers_and_says_so(binance):
    client = binance_client(binance, sleep=Recorder())
    trickle(binance, path='/eapi/v1/mmp', part='headers')
    assert client.get_mmp('BTCUSDT')['underlying'] == 'BTCUSDT'
    assert client.take_recoveries() == ['GET /eapi/v1/mmp for BTCUSDT timed out after 0.5s; sent again (attempt 2 of 4)']


def test_a_write_that_trickles_is_an_unknown_outcome(binance):
    client = binance_client(binance, sleep=Recorder())
    trickle(binance, method='POST', path='/eapi/v1/mmpSet')
    start = time.monotonic()
    with pytest.raises(UnknownOutcome, match=r'POST /eapi/v1/mmpSet for BTCUSDT timed out after 0\.5s; the exchange '
                                             r'may or may not have applied it'):
        client.set_mmp('BTCUSDT', 3000, 300000, '2', '2.3')
    assert time.monotonic() - start <= TIMEOUT + SLACK
    assert len(trickled(binance)) == 1  # not sent again blindly


def binance_params(emu, **overrides):
    return dict(mmp_params(base_url=emu.url, timeout=TIMEOUT, weight_limit=0, account='acct-a'), **overrides)


@pytest.mark.parametrize('apply', [True, False])
def test_a_task_whose_write_trickles_reads_back_and_ends_right(binance, apply):
    """The set was applied (or not) before its answer trickled: the task reads back and says what it found."""
    trickle(binance, method='POST', path='/eapi/v1/mmpSet', apply=apply)
    sleep = Recorder()
    start = time.monotonic()
    result, warnings, failed = task_result(BINANCE_CORES['binance_mmp'], binance_params(binance), diff_mode=True,
                                           client_factory=lambda params: BINANCE.client(params, sleep=sleep))
    assert not failed and result['changed'], result
    assert result['config']['qty_limit'] == '2' and result['config']['delta_limit'] == '2.3'
    assert any('timed out after 0.5s' in w for w in warnings), warnings
    with binance.lock:
        sent = [(e['method'], e['path']) for e in binance.journal]
    sets = [s for s in sent if s == ('POST', '/eapi/v1/mmpSet')]
    assert sets == [('POST', '/eapi/v1/mmpSet')] * (1 if apply else 2)  # read back; sent again only when not applied
    # one write's deadline, at most, beyond the quick requests
    assert time.monotonic() - start <= TIMEOUT + SLACK


# ---------------------------------------------------------------------------------------------
# Deribit
# ---------------------------------------------------------------------------------------------

def test_deribit_a_read_that_trickles_fails_within_the_documented_bound(deribit):
    client = deribit_client(deribit, sleep=Recorder())
    trickle(deribit, count=ATTEMPTS, method='private/get_mmp_config')
    start = time.monotonic()
    with pytest.raises(TransportError, match=r'timed out after 0\.5s, after 4 attempts$'):
        client.get_mmp_config('btc_usd')
    assert time.monotonic() - start <= ATTEMPTS * TIMEOUT + SLACK  # the backoff recorded, not waited
    assert len(trickled(deribit)) == ATTEMPTS


def test_deribit_a_task_whose_write_trickles_reads_back(deribit):
    trickle(deribit, method='private/set_mmp_config')
    core = DERIBIT_CORES['deribit_mmp']
    params = {name: spec.get('default') for name, spec in core.argument_spec().items()}
    params.update(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, base_url=deribit.url, timeout=TIMEOUT,
                  validate_certs=True, ca_path=None, weight_limit=None, weight_reserve=None, account='acct-d',
                  index_name='btc_usd', window_s=10, frozen_s=30, qty_limit='2.5')
    sleep = Recorder()
    result, warnings, failed = task_result(core, params, client_factory=lambda p: DERIBIT.client(p, sleep=sleep))
    assert not failed and result['changed'] and result['config']['qty_limit'] == '2.5', result
    assert any('timed out after 0.5s' in w for w in warnings), warnings
    with deribit.lock:
        rpcs = [e['rpc'] for e in deribit.journal]
    assert rpcs.count('private/set_mmp_config') == 1 and rpcs[-1] == 'private/get_mmp_config'


# ---------------------------------------------------------------------------------------------
# The watcher: a poll that trickles is an error event
# ---------------------------------------------------------------------------------------------

def test_the_binance_watcher_reports_a_poll_that_trickles_as_an_error(binance):
    settings = binance_watch.validate_watch_args(dict(
        base_url=binance.url, timeout=TIMEOUT, accounts=[dict(name='a', api_key=API_KEY, api_secret=SECRET,
                                                              underlyings=['BTCUSDT', 'ETHUSDT'])]), environ={})
    watcher = binance_watch.Watcher(settings, build_client=lambda params: BINANCE.client(params, sleep=Recorder()),
                                    read_stop=lambda: None)
    account = watcher.accounts[0]
    trickle(binance, count=ATTEMPTS, path='/eapi/v1/mmp')
    start = time.monotonic()
    events = watcher.poll(account)
    assert time.monotonic() - start <= ATTEMPTS * TIMEOUT + SLACK  # one read's 4 attempts; ETHUSDT spared
    assert [(e['type'], e['scope'], e['underlying']) for e in events] == [('error', 'account', 'BTCUSDT')]
    error = events[0]['error']
    assert error['kind'] == 'BinanceTransportError'
    assert error['message'] == 'GET /eapi/v1/mmp timed out after 0.5s, after 4 attempts'
    # the next poll is answered: the account recovered
    events = watcher.poll(account)
    assert [e['type'] for e in events] == ['recovered']


def test_the_deribit_watcher_reports_a_poll_that_trickles_as_an_error(deribit):
    settings = deribit_watch.validate_watch_args(dict(
        deribit_base_url=deribit.url, timeout=TIMEOUT,
        accounts=[dict(name='d', client_id=CLIENT_ID, client_secret=CLIENT_SECRET)]), environ={})
    watcher = deribit_watch.Watcher(settings, build_client=lambda params: DERIBIT.client(params, sleep=Recorder()),
                                    read_stop=lambda params: None)
    account = watcher.accounts[0]
    trickle(deribit, count=ATTEMPTS, method='private/get_mmp_status', part='headers')
    start = time.monotonic()
    events = watcher.poll(account)
    assert time.monotonic() - start <= ATTEMPTS * TIMEOUT + SLACK
    assert [e['type'] for e in events] == ['error']
    assert events[0]['error']['kind'] == 'DeribitTransportError'
    assert 'timed out after 0.5s, after 4 attempts' in events[0]['error']['message']


# ---------------------------------------------------------------------------------------------
# An answer larger than any
# ---------------------------------------------------------------------------------------------

class _Huge(http.server.BaseHTTPRequestHandler):
    """Answers GET /length with a Content-Length over the bound (and nothing), GET /chunked with chunks past it."""

    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        try:
            if self.path.startswith('/length'):
                self.send_header('Content-Length', str(http_mod.MAX_ANSWER_BYTES + 1))
                self.end_headers()
                self.wfile.write(b'{')
                return
            self.send_header('Transfer-Encoding', 'chunked')
            self.end_headers()
            chunk = b' ' * (1024 * 1024)
            for dummy in range(http_mod.MAX_ANSWER_BYTES // len(chunk) + 2):
                self.wfile.write(b'%x\r\n%s\r\n' % (len(chunk), chunk))
            self.wfile.write(b'0\r\n\r\n')
        except OSError:
            pass  # the client hung up


@pytest.fixture
def huge():
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Huge)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield 'http://127.0.0.1:%d' % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize('path, said', [('/length', '16777217 bytes (Content-Length)'), ('/chunked', 'more than')])
def test_an_answer_larger_than_any_is_refused(huge, path, said):
    class Client(BinanceOptionsClient):
        def interpret(self, method, path, params, signed, status, headers, text):  # pragma: no cover - never reached
            raise AssertionError('an answer this large is never interpreted')

    client = Client(api_key=API_KEY, signer=HmacSigner(SECRET), base_url=huge, timeout=10, weight_ledger=None,
                    published_limit=False, sleep=Recorder())
    with pytest.raises(TransportError) as e:
        client._send_with_retries('GET', path, {}, signed=False)
    assert str(e.value).startswith('GET %s answered with %s' % (path, said)), str(e.value)
    assert '16 MiB' in str(e.value) and str(e.value).endswith('after 4 attempts')


def test_an_answer_read_is_decoded_as_requests_decodes_it(binance):
    """The body read in pieces, then decoded by requests as before (the JSON of the exchange, UTF-8)."""
    response = requests.Response()
    response.status_code, response.headers['Content-Type'] = 200, 'application/json'
    response.raw = __import__('io').BytesIO(json.dumps({'msg': 'Ünïcödé'}).encode('utf-8'))
    text = binance_client(binance)._read_answer(response, http_mod.Deadline(10))
    assert json.loads(text) == {'msg': 'Ünïcödé'}
