# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulator's fidelity: driven by Binance's official SDK, the reference's vectors, and raw HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request

from urllib.parse import urlencode

import certifi
import pytest

from ansible_collections.marketops.mmp.tests.emulator import control as ctl
from ansible_collections.marketops.mmp.tests.emulator.certs import write_test_pki
from ansible_collections.marketops.mmp.tests.emulator.server import Emulator, EmulatorServer, verify_signature

sdk = pytest.importorskip('binance_sdk_derivatives_trading_options')
from binance_common.configuration import ConfigurationRestAPI  # noqa: E402 pylint: disable=wrong-import-position
from binance_common.errors import BadRequestError, UnauthorizedError  # noqa: E402 pylint: disable=wrong-import-position

VECTOR_SECRET = 'YtP1BudNOWZE1ag5uzCkh4hIC7qSmQOu797r5EJBFGhxBYivjj8HIX0iiiPof5yG'


def sdk_client(url, account):
    config = ConfigurationRestAPI(api_key=account['api_key'], api_secret=account.get('secret'), base_path=url,
                                  private_key=account.get('private_key'),
                                  private_key_passphrase=account.get('passphrase'), retries=0, timeout=5000)
    return sdk.DerivativesTradingOptions(config_rest_api=config).rest_api


@pytest.mark.parametrize('name', ['hmac-a', 'ed25519', 'rsa'])
def test_official_sdk_sets_and_reads_mmp(emulator, accounts, name):
    api = sdk_client(emulator.url, accounts[name])
    answer = api.set_market_maker_protection_config(underlying='BTCUSDT', window_time_in_milliseconds=3000,
                                                    frozen_time_in_milliseconds=300000, qty_limit=2.0,
                                                    delta_limit=2.3).data()
    assert answer.underlying == 'BTCUSDT' and answer.window_time_in_milliseconds == 3000
    read = api.get_market_maker_protection_config(underlying='BTCUSDT').data()
    assert read.qty_limit == '2.00000000' and read.delta_limit == '2.30000000'
    assert read.frozen_time_in_milliseconds == 300000
    reset = api.reset_market_maker_protection_config(underlying='BTCUSDT').data()
    assert reset.underlying == 'BTCUSDT'
    # the SDK puts POST parameters and the signature in the query string
    assert emulator.journal[0]['signature_in'] == 'query'
    assert emulator.state()['mmp'][name]['BTCUSDT']['windowTimeInMilliseconds'] == 3000


def test_official_sdk_kill_switch(emulator, accounts):
    api = sdk_client(emulator.url, accounts['hmac-a'])
    api.set_auto_cancel_all_open_orders(underlying='ETHUSDT', countdown_time=10000)
    active = api.get_auto_cancel_all_open_orders(underlying='ETHUSDT').data()
    assert (active.underlying, active.countdown_time) == ('ETHUSDT', 10000)
    with pytest.raises(BadRequestError):
        api.set_auto_cancel_all_open_orders(underlying='ETHUSDT', countdown_time=3000)
    api.set_auto_cancel_all_open_orders(underlying='ETHUSDT', countdown_time=0)
    assert api.get_auto_cancel_all_open_orders(underlying='ETHUSDT').data().countdown_time == 0


@pytest.mark.parametrize('name', ['hmac-a', 'ed25519', 'rsa'])
def test_official_sdk_kill_switch_in_both_get_shapes(emulator, accounts, name):
    """The SDK sets countdowns on two underlyings; the GET answers in either shape, as the setting says."""
    api = sdk_client(emulator.url, accounts[name])
    answer = api.set_auto_cancel_all_open_orders(underlying='BTCUSDT', countdown_time=30000).data()
    assert (answer.underlying, answer.countdown_time) == ('BTCUSDT', 30000)
    api.set_auto_cancel_all_open_orders(underlying='ETHUSDT', countdown_time=5000)
    assert emulator.journal[0]['signature_in'] == 'query'
    # object: the SDK's model, one object per underlying, countdownTime 0 when off
    emulator.settings['countdown_get_shape'] = 'object'
    assert api.get_auto_cancel_all_open_orders(underlying='SOLUSDT').data().countdown_time == 0
    assert api.get_auto_cancel_all_open_orders(underlying='ETHUSDT').data().countdown_time == 5000
    # list: the docs' wording, the active configs only (the SDK's model cannot hold it: read raw)
    emulator.settings['countdown_get_shape'] = 'list'
    if name == 'hmac-a':
        acct = accounts['hmac-a']
        for params, expected in ((dict(underlying='BTCUSDT'), [{'underlying': 'BTCUSDT', 'countdownTime': 30000}]),
                                 (dict(underlying='SOLUSDT'), []),
                                 ({}, [{'underlying': 'BTCUSDT', 'countdownTime': 30000},
                                       {'underlying': 'ETHUSDT', 'countdownTime': 5000}])):
            status, headers, body = raw(emulator.url, 'GET', '/eapi/v1/countdownCancelAll',
                                        signed(emulator, acct, **params), secret=acct['secret'],
                                        api_key=acct['api_key'])
            assert (status, body) == (200, expected)
    api.set_auto_cancel_all_open_orders(underlying='BTCUSDT', countdown_time=0)
    assert emulator.state()['countdown']['%s/BTCUSDT' % name] == 0
    with pytest.raises(BadRequestError):
        api.set_auto_cancel_all_open_orders(underlying='BTCUSDT', countdown_time=4999)
    with pytest.raises(BadRequestError):
        api.set_auto_cancel_all_open_orders(underlying='FOOUSDT', countdown_time=5000)


def test_trigger_freezes_and_reset_clears_the_trigger(emulator, accounts):
    """Trigger on demand through the control endpoint; the SDK reads lastTriggerTime; a reset clears it."""
    api = sdk_client(emulator.url, accounts['hmac-a'])
    api.set_market_maker_protection_config(underlying='BTCUSDT', window_time_in_milliseconds=3000,
                                           frozen_time_in_milliseconds=0, qty_limit=2.0, delta_limit=2.3)
    with pytest.raises(urllib.error.HTTPError):  # never configured: MMP cannot trigger
        ctl.control(emulator.url, 'POST', 'trigger', dict(account='hmac-a', underlying='ETHUSDT'))
    before = int(time.time() * 1000)
    ctl.control(emulator.url, 'POST', 'trigger', dict(account='hmac-a', underlying='BTCUSDT'))
    read = api.get_market_maker_protection_config(underlying='BTCUSDT').data()
    assert read.last_trigger_time >= before
    ctl.control(emulator.url, 'POST', 'trigger', dict(api_key=accounts['hmac-a']['api_key'], underlying='BTCUSDT',
                                                      at_ms=1700000000000))
    assert api.get_market_maker_protection_config(underlying='BTCUSDT').data().last_trigger_time == 1700000000000
    # mmpSet keeps the trigger time; a reset answers with the state after it, trigger cleared
    api.set_market_maker_protection_config(underlying='BTCUSDT', window_time_in_milliseconds=2000,
                                           frozen_time_in_milliseconds=0, qty_limit=2.0, delta_limit=2.3)
    assert api.get_market_maker_protection_config(underlying='BTCUSDT').data().last_trigger_time == 1700000000000
    reset = api.reset_market_maker_protection_config(underlying='BTCUSDT').data()
    assert reset.last_trigger_time == 0 and reset.window_time_in_milliseconds == 2000


def test_official_sdk_sees_the_exchange_errors(emulator, accounts):
    wrong = dict(accounts['hmac-a'], secret='wrong-secret')
    with pytest.raises(BadRequestError) as e:
        sdk_client(emulator.url, wrong).get_market_maker_protection_config(underlying='BTCUSDT')
    assert 'Signature' in str(e.value)
    with pytest.raises(UnauthorizedError):
        sdk_client(emulator.url, accounts['not-mm']).get_market_maker_protection_config(underlying='BTCUSDT')
    with pytest.raises(BadRequestError) as e:
        sdk_client(emulator.url, accounts['hmac-a']).get_market_maker_protection_config(underlying='FOOUSDT')
    assert 'underlying' in str(e.value)


@pytest.mark.parametrize('message, signature', [
    ('symbol=BTC-210129-40000-C&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=2000&recvWindow=5000'
     '&timestamp=1611825601400', '7c12045972f6140e765e0f2b67d28099718df805732676494238f50be830a7d7'),
    ('symbol=BTC-210129-40000-C&side=BUY&type=LIMIT&timeInForce=GTC'
     'quantity=0.01&price=2000&recvWindow=5000&timestamp=1611825601400',
     'fa6045c54fb02912b766442be1f66fab619217e551a4fb4f8a1ee000df914d8e'),
])
def test_reference_vectors_verify(message, signature):
    assert verify_signature({'secret': VECTOR_SECRET}, message, signature)
    assert not verify_signature({'secret': VECTOR_SECRET}, message + 'x', signature)


def _vector_emulator():
    emu = Emulator([dict(name='vector', api_key='vector-key', secret=VECTOR_SECRET)])
    emu.settings['clock_offset_ms'] = 1611825601400 + 500 - int(time.time() * 1000)
    return emu


def test_signature_over_query_plus_body():
    """The reference's third vector: query string and body joined with nothing, signature in the body."""
    emu = _vector_emulator()
    query = 'symbol=BTC-210129-40000-C&side=BUY&type=LIMIT&timeInForce=GTC'
    body = 'quantity=0.01&price=2000&recvWindow=5000&timestamp=1611825601400'
    sig = 'fa6045c54fb02912b766442be1f66fab619217e551a4fb4f8a1ee000df914d8e'
    account, params = emu.authenticate({'X-MBX-APIKEY': 'vector-key'}, query, body + '&signature=' + sig)
    assert account['name'] == 'vector' and params['quantity'] == '0.01'
    account, params = emu.authenticate({'X-MBX-APIKEY': 'vector-key'}, query + '&signature=' + sig, body)
    assert params['symbol'] == 'BTC-210129-40000-C'


def raw(url, method, path, params=None, secret=None, api_key=None, body_params=False):
    """A hand-made request; returns (status, headers, decoded body)."""
    query, body = '', None
    if params is not None:
        encoded = urlencode(params)
        if secret:
            encoded += '&signature=' + hmac.new(secret.encode(), encoded.encode(), hashlib.sha256).hexdigest()
        if body_params:
            body = encoded.encode()
        else:
            query = '?' + encoded
    request = urllib.request.Request(url + path + query, data=body, method=method,
                                     headers={'X-MBX-APIKEY': api_key} if api_key else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, dict(e.headers), json.loads(text)
        except ValueError:
            return e.code, dict(e.headers), text.decode()


def signed(emulator, account, **params):
    params.setdefault('timestamp', int(time.time() * 1000))
    return params


@pytest.mark.parametrize('params, code', [
    (dict(underlying='BTCUSDT', frozenTimeInMilliseconds=1, qtyLimit='1', deltaLimit='1'), -1102),
    (dict(underlying='BTCUSDT', windowTimeInMilliseconds=0, frozenTimeInMilliseconds=1, qtyLimit='1', deltaLimit='1'),
     -1130),
    (dict(underlying='BTCUSDT', windowTimeInMilliseconds=5001, frozenTimeInMilliseconds=1, qtyLimit='1',
          deltaLimit='1'), -1130),
    (dict(underlying='BTCUSDT', windowTimeInMilliseconds=10, frozenTimeInMilliseconds=1, qtyLimit='1e-05',
          deltaLimit='1'), -1100),
    (dict(underlying='BTCUSDT', windowTimeInMilliseconds=10, frozenTimeInMilliseconds=1, qtyLimit='0',
          deltaLimit='1'), -1130),
    (dict(underlying='BTCUSDT', windowTimeInMilliseconds=10, frozenTimeInMilliseconds=-1, qtyLimit='1',
          deltaLimit='1'), -1100),
    (dict(underlying='FOOUSDT', windowTimeInMilliseconds=10, frozenTimeInMilliseconds=1, qtyLimit='1',
          deltaLimit='1'), -1128),
    (dict(underlying='BTCUSDT', windowTimeInMilliseconds=10, frozenTimeInMilliseconds=1, qtyLimit='1',
          deltaLimit='1', recvWindow=60000), -1131),
    (dict(underlying='BTCUSDT', windowTimeInMilliseconds=10, frozenTimeInMilliseconds=1, qtyLimit='1',
          deltaLimit='1', timestamp=1), -1021),
    (dict(underlying='BTCUSDT', windowTimeInMilliseconds=10, frozenTimeInMilliseconds=1, qtyLimit='1',
          deltaLimit='1', timestamp=10 ** 15), -1021),
])
def test_mmp_set_checks_what_the_exchange_checks(emulator, accounts, params, code):
    acct = accounts['hmac-a']
    status, headers, body = raw(emulator.url, 'POST', '/eapi/v1/mmpSet', signed(emulator, acct, **params),
                                secret=acct['secret'], api_key=acct['api_key'], body_params=True)
    assert status == 400 and body['code'] == code, body
    assert emulator.state()['mmp'] == {}


def test_signed_endpoints_need_key_and_signature(emulator, accounts):
    acct = accounts['hmac-a']
    params = dict(underlying='BTCUSDT', timestamp=int(time.time() * 1000))
    assert raw(emulator.url, 'GET', '/eapi/v1/mmp', params)[2]['code'] == -2014
    assert raw(emulator.url, 'GET', '/eapi/v1/mmp', params, api_key='nope')[0] == 401
    assert raw(emulator.url, 'GET', '/eapi/v1/mmp', params, api_key=acct['api_key'])[2]['code'] == -1102
    status, headers, body = raw(emulator.url, 'GET', '/eapi/v1/mmp', params, secret=acct['secret'],
                                api_key=acct['api_key'])
    assert status == 200 and body['qtyLimit'] == '0.00000000' and body['windowTimeInMilliseconds'] == 0
    assert headers['X-MBX-USED-WEIGHT-1M'] == '4'


def test_public_endpoints(emulator):
    status, headers, body = raw(emulator.url, 'GET', '/eapi/v1/time')
    assert status == 200 and abs(body['serverTime'] - time.time() * 1000) < 5000
    info = raw(emulator.url, 'GET', '/eapi/v1/exchangeInfo')[2]
    assert 'BTCUSDT' in [c['underlying'] for c in info['optionContracts']]
    assert info['rateLimits'][0] == {'rateLimitType': 'REQUEST_WEIGHT', 'interval': 'MINUTE', 'intervalNum': 1,
                                     'limit': 2400}


@pytest.mark.parametrize('style, expected', [('plain', '2.3'), ('padded', '2.30000000')])
def test_limit_formats(emulator, accounts, style, expected):
    emulator.settings['limit_format'] = style
    emulator.set_state(dict(api_key=accounts['hmac-a']['api_key'], underlying='BTCUSDT', window_ms=1, frozen_ms=1,
                            qty_limit='2.30', delta_limit='1'))
    assert emulator.state()['mmp']['hmac-a']['BTCUSDT']['qtyLimit'] == expected


def test_weight_limit_429_then_418_ban(emulator):
    emulator.settings.update(weight_limit=3, ban_after=2, ban_seconds=60)
    statuses = [raw(emulator.url, 'GET', '/eapi/v1/time')[:2] for dummy in range(6)]
    assert [s for s, h in statuses] == [200, 200, 200, 429, 418, 418]
    assert [h['X-MBX-USED-WEIGHT-1M'] for s, h in statuses[:3]] == ['1', '2', '3']
    assert 1 <= int(statuses[3][1]['Retry-After']) <= 60
    assert int(statuses[4][1]['Retry-After']) == 60


def test_control_endpoints_over_http(emulator, accounts):
    url = emulator.url
    ctl.control(url, 'POST', 'faults', {'faults': [{'kind': '500', 'path': '/eapi/v1/time'}]})
    assert raw(url, 'GET', '/eapi/v1/time')[0] == 500
    assert raw(url, 'GET', '/eapi/v1/time')[0] == 200
    assert ctl.summarize(ctl.journal(url))['requests'] == 2
    ctl.control(url, 'POST', 'config', {'limit_format': 'plain'})
    ctl.control(url, 'POST', 'state', dict(api_key=accounts['hmac-a']['api_key'], underlying='ETHUSDT', window_ms=5,
                                           frozen_ms=0, qty_limit='1.50', delta_limit='3'))
    assert ctl.control(url, 'GET', 'state')['mmp']['hmac-a']['ETHUSDT']['qtyLimit'] == '1.5'
    with pytest.raises(urllib.error.HTTPError):
        ctl.control(url, 'POST', 'faults', {'faults': [{'kind': 'meteor'}]})
    ctl.control(url, 'POST', 'reset')
    assert ctl.journal(url) == [] and ctl.control(url, 'GET', 'state')['mmp'] == {}


def test_started_by_hand_from_the_command_line(tmp_path, accounts):
    acct = accounts['ed25519']
    path = tmp_path / 'accounts.json'
    path.write_text(json.dumps({'accounts': [dict(name='by-hand', api_key=acct['api_key'],
                                                  public_key=acct['public_key'])]}))
    with ctl.EmulatorProcess(str(path), python=sys.executable) as proc:
        status, headers, body = raw(proc.url, 'GET', '/eapi/v1/time')
        assert status == 200 and 'serverTime' in body
    assert proc.proc.returncode is not None


def test_started_by_hand_over_https(tmp_path, accounts):
    """--certfile/--keyfile: HTTPS with a certificate of the throwaway CA; failed handshakes are counted too."""
    pki = write_test_pki(str(tmp_path / 'pki'))
    acct = accounts['hmac-a']
    path = tmp_path / 'accounts.json'
    path.write_text(json.dumps({'accounts': [dict(name='by-hand', api_key=acct['api_key'], secret=acct['secret'])]}))
    args = ['--certfile', pki['server_cert'], '--keyfile', pki['server_key']]
    with ctl.EmulatorProcess(str(path), python=sys.executable, extra_args=args) as proc:
        assert proc.url.startswith('https://127.0.0.1:')
        with pytest.raises(urllib.error.URLError) as e:
            urllib.request.urlopen(proc.url + '/eapi/v1/time', timeout=10,
                                   context=ssl.create_default_context(cafile=certifi.where()))
        assert 'CERTIFICATE_VERIFY_FAILED' in str(e.value)
        context = ssl.create_default_context(cafile=pki['ca'])
        with urllib.request.urlopen(proc.url + '/eapi/v1/time', timeout=10, context=context) as response:
            assert 'serverTime' in json.loads(response.read())
        seen = ctl.control(proc.url, 'GET', 'tls', cafile=pki['ca'])['handshakes']
        assert [h['ok'] for h in seen] == [False, True, True]
        assert 'alert' in seen[0]['error']  # the client refused the certificate
        assert [e['path'] for e in ctl.journal(proc.url, cafile=pki['ca'])] == ['/eapi/v1/time']


def test_example_accounts_file_matches_the_example_inventory():
    here = os.path.dirname(os.path.abspath(__file__))
    accounts_file = os.path.join(here, '..', 'emulator', 'accounts.example.json')
    from ansible_collections.marketops.mmp.tests.emulator.server import load_accounts
    accounts, underlyings = load_accounts(accounts_file)
    assert sorted(a['name'] for a in accounts) == ['acct-alpha', 'acct-bravo', 'acct-charlie']
    assert any(a.get('public_key') for a in accounts)
    with EmulatorServer(Emulator(accounts, underlyings=underlyings)):
        pass
