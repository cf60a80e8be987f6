# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Deribit emulator's fidelity, driven by ccxt (a real client nobody here wrote), and its own rules over raw HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time

import ccxt
import pytest
import requests

from ansible_collections.marketops.mmp.tests.emulator import control as ctl
from ansible_collections.marketops.mmp.tests.emulator.deribit import SCRIPT, DeribitEmulator, DeribitServer

EXAMPLE_ACCOUNTS = os.path.join(os.path.dirname(SCRIPT), 'deribit_accounts.example.json')


def exchange(emu, account, secret=None):
    """ccxt's Deribit client pointed at the emulator, without its markets loading or its own rate limiter."""
    client = ccxt.deribit({'apiKey': account['client_id'], 'secret': secret or account['client_secret'],
                           'enableRateLimit': False, 'timeout': 10000})
    client.urls['api'] = {'rest': emu.url}
    return client


def hmac_header(account, method, path_query, body='', ts=None, nonce='n0nce'):
    ts = str(int(time.time() * 1000 if ts is None else ts))
    data = '%s\n%s\n%s\n%s\n%s\n' % (ts, nonce, method, path_query, body)
    sig = hmac.new(account['client_secret'].encode(), data.encode(), hashlib.sha256).hexdigest()
    return 'deri-hmac-sha256 id=%s,ts=%s,sig=%s,nonce=%s' % (account['client_id'], ts, sig, nonce)


def basic(account, secret=None):
    raw = '%s:%s' % (account['client_id'], secret or account['client_secret'])
    return 'Basic ' + base64.b64encode(raw.encode()).decode()


def get(emu, path_query, authorization=None):
    headers = {'Authorization': authorization} if authorization else {}
    response = requests.get(emu.url + path_query, headers=headers, timeout=10)
    return response.status_code, response.json()


def post(emu, path, payload, authorization=None, timeout=10):
    body = json.dumps(payload)
    headers = {'Content-Type': 'application/json'}
    if authorization:
        headers['Authorization'] = authorization
    response = requests.post(emu.url + path, data=body, headers=headers, timeout=timeout)
    return response.status_code, response.json()


def set_config(client, **params):
    return client.privateGetSetMmpConfig(params)['result']


def error_of(answer):
    return answer[0], answer[1]['error']['code'], answer[1]['error'].get('data', {}).get('param')


# -- ccxt ---------------------------------------------------------------------------------------------------------


def test_ccxt_public_time_and_auth(deribit_emulator, deribit_accounts):
    client = exchange(deribit_emulator, deribit_accounts['deribit-a'])
    answer = client.publicGetGetTime()
    assert answer['jsonrpc'] == '2.0' and abs(answer['result'] - time.time() * 1000) < 5000
    assert answer['usOut'] >= answer['usIn'] and answer['testnet'] is True
    account = deribit_accounts['deribit-a']
    auth = client.publicGetAuth({'grant_type': 'client_credentials', 'client_id': account['client_id'],
                                 'client_secret': account['client_secret']})['result']
    assert auth['token_type'] == 'bearer' and auth['expires_in'] == 900 and 'trade:read_write' in auth['scope']
    status, body = get(deribit_emulator, '/api/v2/private/get_mmp_config', 'Bearer ' + auth['access_token'])
    assert status == 200 and body['result'] == []
    ts, nonce = str(int(time.time() * 1000)), 'abc'
    signature = hmac.new(account['client_secret'].encode(), ('%s\n%s\n' % (ts, nonce)).encode(), hashlib.sha256).hexdigest()
    signed = client.publicGetAuth({'grant_type': 'client_signature', 'client_id': account['client_id'], 'timestamp': ts,
                                   'signature': signature, 'nonce': nonce})['result']
    assert signed['access_token'] != auth['access_token']
    with pytest.raises(ccxt.AuthenticationError):
        client.publicGetAuth({'grant_type': 'client_credentials', 'client_id': account['client_id'],
                              'client_secret': 'wrong'})
    assert deribit_emulator.journal[0]['auth'] == 'none' and deribit_emulator.journal[1]['account'] == 'deribit-a'


@pytest.mark.parametrize('shape', ['object', 'list'])
def test_ccxt_set_then_get_round_trip(deribit_emulator, deribit_accounts, shape):
    deribit_emulator.update_settings({'set_answer_shape': shape})
    client = exchange(deribit_emulator, deribit_accounts['deribit-a'])
    answer = set_config(client, index_name='btc_usd', interval=3, frozen_time=0, quantity_limit=2.5, delta_limit=0.4,
                        vega_limit=100, max_quote_quantity=1.25)
    entry = answer[0] if shape == 'list' else answer
    if shape == 'list':
        assert isinstance(answer, list) and len(answer) == 1
    else:
        assert isinstance(answer, dict)
    assert entry == {'index_name': 'btc_usd', 'interval': 3, 'frozen_time': 0, 'quantity_limit': 2.5, 'delta_limit': 0.4,
                     'vega_limit': 100, 'max_quote_quantity': 1.25, 'id': entry['id'], 'block_rfq': False}
    assert isinstance(entry['id'], int) and isinstance(entry['interval'], int)
    read = client.privateGetGetMmpConfig({'index_name': 'btc_usd'})['result']
    assert read == [entry]
    again = set_config(client, index_name='btc_usd', interval=5, frozen_time=10, quantity_limit=2.5)
    assert (again[0] if shape == 'list' else again)['id'] == entry['id']  # the id is stable per config
    # ccxt signs GET /api/v2/private/<method>?<query> in the deri-hmac-sha256 header
    writes = [e for e in deribit_emulator.journal if e['rpc'] == 'private/set_mmp_config']
    assert [e['auth'] for e in writes] == ['hmac-header', 'hmac-header'] and writes[0]['method'] == 'GET'
    assert writes[0]['params']['quantity_limit'] == '2.5' and writes[0]['account'] == 'deribit-a'


def test_ccxt_a_set_replaces_the_whole_config(deribit_emulator, deribit_accounts):
    client = exchange(deribit_emulator, deribit_accounts['deribit-a'])
    set_config(client, index_name='eth_usd', interval=60, frozen_time=30, quantity_limit=20, delta_limit=5, vega_limit=2.5)
    set_config(client, index_name='eth_usd', interval=60, frozen_time=30, quantity_limit=10)
    [entry] = client.privateGetGetMmpConfig({'index_name': 'eth_usd'})['result']
    assert entry['quantity_limit'] == 10 and 'delta_limit' not in entry and 'vega_limit' not in entry
    assert 'trade_count_limit' not in entry and 'mmp_group' not in entry


def test_ccxt_groups(deribit_emulator, deribit_accounts):
    client = exchange(deribit_emulator, deribit_accounts['deribit-a'])
    set_config(client, index_name='btc_usd', interval=3, frozen_time=0, quantity_limit=1)
    grouped = set_config(client, index_name='btc_usd', interval=5, frozen_time=0, quantity_limit=2, mmp_group='MassQuote1')
    assert grouped['mmp_group'] == 'MassQuote1'
    everything = client.privateGetGetMmpConfig()['result']
    assert [e.get('mmp_group') for e in everything] == [None, 'MassQuote1']
    assert 'mmp_group' not in everything[0] and everything[0]['id'] != everything[1]['id']
    default = client.privateGetGetMmpConfig({'index_name': 'btc_usd'})['result']
    assert [e['quantity_limit'] for e in default] == [1]
    group = client.privateGetGetMmpConfig({'index_name': 'btc_usd', 'mmp_group': 'MassQuote1'})['result']
    assert [e['quantity_limit'] for e in group] == [2]
    assert client.privateGetGetMmpConfig({'index_name': 'btc_usd', 'mmp_group': 'massquote1'})['result'] == []
    with pytest.raises(ccxt.BadRequest, match='already linked'):
        set_config(client, index_name='eth_usd', interval=5, frozen_time=0, quantity_limit=2, mmp_group='MassQuote1')
    with pytest.raises(ccxt.BadRequest, match='mmp_group'):
        client.privateGetGetMmpConfig({'mmp_group': 'MassQuote1'})
    with pytest.raises(ccxt.BadRequest, match='mmp_group'):
        set_config(client, index_name='btc_usd', interval=5, frozen_time=0, quantity_limit=2, mmp_group='g' * 65)


@pytest.mark.parametrize('list_filter', ['strict', 'lenient'])
def test_ccxt_block_rfq_trade_count_limit_on_all(deribit_emulator, deribit_accounts, list_filter):
    deribit_emulator.update_settings({'list_filter': list_filter})
    client = exchange(deribit_emulator, deribit_accounts['deribit-a'])
    entry = set_config(client, index_name='all', block_rfq=True, interval=60, frozen_time=0, trade_count_limit=10,
                       quantity_limit=100)
    assert entry['block_rfq'] is True and entry['trade_count_limit'] == 10 and entry['index_name'] == 'all'
    assert client.privateGetGetMmpConfig({'index_name': 'all', 'block_rfq': True})['result'] == [entry]
    assert client.privateGetGetMmpConfig({'block_rfq': False})['result'] == []
    # a listing without block_rfq: documented default false (strict), or every config (lenient)
    assert client.privateGetGetMmpConfig()['result'] == ([] if list_filter == 'strict' else [entry])
    assert client.privateGetGetMmpConfig({'block_rfq': True})['result'] == [entry]
    with pytest.raises(ccxt.BadRequest, match='trade_count_limit'):
        set_config(client, index_name='btc_usd', block_rfq=True, interval=60, frozen_time=0, trade_count_limit=10)
    with pytest.raises(ccxt.BadRequest, match='index_name'):
        set_config(client, index_name='all', interval=60, frozen_time=0, quantity_limit=1)
    with pytest.raises(ccxt.BadRequest, match='trade_count_limit'):
        set_config(client, index_name='all', block_rfq=True, interval=60, frozen_time=0, trade_count_limit=1001)


def test_ccxt_interval_zero_removes_the_config(deribit_emulator, deribit_accounts):
    client = exchange(deribit_emulator, deribit_accounts['deribit-a'])
    created = set_config(client, index_name='sol_usdc', interval=10, frozen_time=5, delta_limit=3)
    set_config(client, index_name='xrp_usdc', interval=10, frozen_time=5, delta_limit=3)
    removed = set_config(client, index_name='sol_usdc', interval=0, frozen_time=0)
    assert removed['interval'] == 0 and removed['id'] == created['id']
    assert [e['index_name'] for e in client.privateGetGetMmpConfig()['result']] == ['xrp_usdc']
    again = set_config(client, index_name='sol_usdc', interval=10, frozen_time=5, delta_limit=3)
    assert again['id'] != created['id']


def test_ccxt_status_after_a_trigger_and_reset(deribit_emulator, deribit_accounts):
    client = exchange(deribit_emulator, deribit_accounts['deribit-a'])
    set_config(client, index_name='btc_usd', interval=3, frozen_time=0, quantity_limit=1)
    set_config(client, index_name='eth_usd', interval=3, frozen_time=30, quantity_limit=1)
    assert client.privateGetGetMmpStatus()['result'] == []
    ctl.control(deribit_emulator.url, 'POST', 'trigger', {'account': 'deribit-a', 'index_name': 'btc_usd'})
    before = int(time.time() * 1000)
    ctl.control(deribit_emulator.url, 'POST', 'trigger',
                {'client_id': deribit_accounts['deribit-a']['client_id'], 'index_name': 'eth_usd'})
    status = client.privateGetGetMmpStatus()['result']
    assert status[0] == {'index_name': 'btc_usd', 'frozen_until': 0, 'block_rfq': False}
    assert status[1]['index_name'] == 'eth_usd' and before + 29000 <= status[1]['frozen_until'] <= before + 31000
    assert client.privateGetGetMmpStatus({'index_name': 'eth_usd'})['result'] == [status[1]]
    assert client.privateGetResetMmp({'index_name': 'btc_usd'})['result'] == 'ok'
    assert [s['index_name'] for s in client.privateGetGetMmpStatus()['result']] == ['eth_usd']
    ctl.control(deribit_emulator.url, 'POST', 'trigger', {'account': 'deribit-a', 'index_name': 'btc_usd', 'for_s': 0.3})
    time.sleep(0.4)  # frozen_time passed: no longer triggered
    assert [s['index_name'] for s in client.privateGetGetMmpStatus()['result']] == ['eth_usd']
    with pytest.raises(ccxt.BadRequest, match='index_name'):
        client.privateGetResetMmp({'index_name': 'all'})
    with pytest.raises(ccxt.BadRequest, match='index_name'):
        client.privateGetResetMmp()


def test_ccxt_wrong_credentials_raise_authentication_error(deribit_emulator, deribit_accounts):
    with pytest.raises(ccxt.AuthenticationError, match='invalid_credentials'):
        exchange(deribit_emulator, deribit_accounts['deribit-a'], secret='not-the-secret').privateGetGetMmpConfig()
    stranger = dict(client_id='nobody', client_secret='x')
    with pytest.raises(ccxt.AuthenticationError, match='13004'):
        exchange(deribit_emulator, stranger).privateGetGetMmpStatus()
    assert [e['code'] for e in deribit_emulator.journal] == [13004, 13004]
    assert [e['status'] for e in deribit_emulator.journal] == [400, 400]


@pytest.mark.parametrize('status', [429, 400])
def test_ccxt_rate_limit(deribit_emulator, deribit_accounts, status):
    deribit_emulator.update_settings({'credit_pool': 1000, 'refill_per_s': 0, 'rate_limit_status': status})
    client = exchange(deribit_emulator, deribit_accounts['deribit-a'])
    other = exchange(deribit_emulator, deribit_accounts['deribit-b'])
    client.privateGetGetMmpConfig()
    client.privateGetGetMmpConfig()
    for dummy in range(2):  # it keeps failing until refilled
        with pytest.raises(ccxt.DDoSProtection, match='too_many_requests'):
            client.privateGetGetMmpConfig()
    other.privateGetGetMmpConfig()  # counted per account
    deribit_emulator.update_settings({'refill_per_s': 10000})
    time.sleep(0.06)
    client.privateGetGetMmpConfig()
    assert [e['status'] for e in deribit_emulator.journal] == [200, 200, status, status, 200, 200]
    assert [e.get('code') for e in deribit_emulator.journal][2:4] == [10028, 10028]


def test_ccxt_rate_limit_fault_once(deribit_emulator, deribit_accounts):
    deribit_emulator.add_faults([{'kind': 'rate_limit', 'method': 'get_mmp_status'}])
    client = exchange(deribit_emulator, deribit_accounts['deribit-a'])
    client.privateGetGetMmpConfig()
    with pytest.raises(ccxt.DDoSProtection, match='10028'):  # ccxt maps 10028 so (RateLimitExceeded is a kind of it)
        client.privateGetGetMmpStatus()
    assert client.privateGetGetMmpStatus()['result'] == []


@pytest.mark.parametrize('params, param', [
    (dict(interval=3601), 'interval'),
    (dict(frozen_time=-1), 'frozen_time'),
    (dict(quantity_limit=1.00001), 'quantity_limit'),
    (dict(delta_limit=0), 'delta_limit'),
    (dict(index_name='doge_usd'), 'index_name'),
    (dict(quantity_limit=None), 'quantity_limit'),
])
def test_ccxt_bad_arguments(deribit_emulator, deribit_accounts, params, param):
    client = exchange(deribit_emulator, deribit_accounts['deribit-a'])
    request = dict(index_name='btc_usd', interval=3, frozen_time=0, quantity_limit=1)
    request.update(params)
    request = {k: v for k, v in request.items() if v is not None}
    with pytest.raises(ccxt.BadRequest, match='"param": "%s"' % param):
        set_config(client, **request)
    assert client.privateGetGetMmpConfig()['result'] == []


def test_ccxt_mmp_not_enabled_and_read_only_scope(deribit_emulator, deribit_accounts):
    with pytest.raises(ccxt.PermissionDenied, match='mmp_not_enabled'):
        set_config(exchange(deribit_emulator, deribit_accounts['deribit-off']), index_name='btc_usd', interval=3,
                   frozen_time=0, quantity_limit=1)
    read_only = exchange(deribit_emulator, deribit_accounts['deribit-ro'])
    assert read_only.privateGetGetMmpConfig()['result'] == []
    with pytest.raises(ccxt.PermissionDenied, match='insufficient_scope'):
        set_config(read_only, index_name='btc_usd', interval=3, frozen_time=0, quantity_limit=1)
    with pytest.raises(ccxt.PermissionDenied, match='insufficient_scope'):
        read_only.privateGetResetMmp({'index_name': 'btc_usd'})


# -- the emulator's own rules over raw HTTP -----------------------------------------------------------------------


@pytest.mark.parametrize('query, code, param', [
    ('interval=3&frozen_time=0', 11029, 'quantity_limit'),                          # no limit at all
    ('interval=3&frozen_time=0&quantity_limit=1&vega_limit=-2', 11029, 'vega_limit'),
    ('interval=3&frozen_time=3601&quantity_limit=1', 11029, 'frozen_time'),
    ('interval=3&quantity_limit=1', -32602, 'frozen_time'),                          # missing
    ('interval=3.5&frozen_time=0&quantity_limit=1', -32602, 'interval'),              # not an integer
    ('interval=3&frozen_time=0&quantity_limit=1e3', -32602, 'quantity_limit'),
    ('interval=3&frozen_time=0&quantity_limit=1&block_rfq=yes', -32602, 'block_rfq'),
    ('interval=3&frozen_time=0&max_quote_quantity=0.00001&quantity_limit=1', 11029, 'max_quote_quantity'),
])
def test_set_rules(deribit_emulator, deribit_accounts, query, code, param):
    account = deribit_accounts['deribit-a']
    answer = get(deribit_emulator, '/api/v2/private/set_mmp_config?index_name=btc_usd&' + query, basic(account))
    assert error_of(answer) == (400, code, param)


def test_four_decimals_and_trailing_zeros(deribit_emulator, deribit_accounts):
    account = deribit_accounts['deribit-a']
    status, body = get(deribit_emulator, '/api/v2/private/set_mmp_config?index_name=btc_usd&interval=3600&frozen_time=3600'
                       '&quantity_limit=1.2345&delta_limit=2.50000', basic(account))
    assert status == 200 and body['result']['quantity_limit'] == 1.2345 and body['result']['delta_limit'] == 2.5


def test_json_rpc_post_and_hmac_over_the_body(deribit_emulator, deribit_accounts):
    account = deribit_accounts['deribit-a']
    payload = {'jsonrpc': '2.0', 'id': 42, 'method': 'private/set_mmp_config',
               'params': {'index_name': 'eth_usdc', 'interval': 5, 'frozen_time': 0, 'vega_limit': 2.5, 'block_rfq': False}}
    body = json.dumps(payload)
    for path in ('/api/v2/private/set_mmp_config', '/api/v2'):
        status, answer = post(deribit_emulator, path, payload, hmac_header(account, 'POST', path, body))
        assert status == 200 and answer['id'] == 42 and answer['result']['vega_limit'] == 2.5
    tampered = hmac_header(account, 'POST', '/api/v2', body.replace('2.5', '3.5'))
    assert error_of(post(deribit_emulator, '/api/v2', payload, tampered)) == (400, 13004, None)
    other = dict(payload, method='private/get_mmp_config')
    assert error_of(post(deribit_emulator, '/api/v2/private/set_mmp_config', other, basic(account)))[1] == -32600
    assert error_of(post(deribit_emulator, '/api/v2', dict(payload, method='private/nope'), basic(account)))[1] == -32601
    assert deribit_emulator.journal[0]['rpc'] == 'private/set_mmp_config' and deribit_emulator.journal[0]['id'] == 42


def test_hmac_header_timestamp_window(deribit_emulator, deribit_accounts):
    account = deribit_accounts['deribit-a']
    path = '/api/v2/private/get_mmp_config?index_name=btc_usd'
    assert get(deribit_emulator, path, hmac_header(account, 'GET', path, ts=time.time() * 1000 - 50000))[0] == 200
    status, body = get(deribit_emulator, path, hmac_header(account, 'GET', path, ts=time.time() * 1000 - 61000))
    assert status == 400 and body['error'] == {'code': 13009, 'message': 'unauthorized',
                                               'data': {'reason': 'invalid_timestamp'}}
    deribit_emulator.update_settings({'clock_offset_ms': 120000})
    assert error_of(get(deribit_emulator, path, hmac_header(account, 'GET', path)))[1] == 13009
    # the path is signed exactly as sent: another query string is another request
    assert error_of(get(deribit_emulator, path + '&block_rfq=false', hmac_header(account, 'GET', path)))[1] == 13004


def test_tokens_expire_and_refresh(deribit_emulator, deribit_accounts):
    account = deribit_accounts['deribit-b']
    deribit_emulator.update_settings({'token_lifetime_s': 60})
    status, body = get(deribit_emulator, '/api/v2/public/auth?grant_type=client_credentials&client_id=%s&client_secret=%s'
                       % (account['client_id'], account['client_secret']))
    assert status == 200 and body['result']['expires_in'] == 60
    token, refresh = body['result']['access_token'], body['result']['refresh_token']
    assert get(deribit_emulator, '/api/v2/private/get_mmp_status', 'Bearer ' + token)[0] == 200
    deribit_emulator.update_settings({'clock_offset_ms': 61000})
    status, body = get(deribit_emulator, '/api/v2/private/get_mmp_status', 'Bearer ' + token)
    assert status == 400 and body['error']['code'] == 13009 and body['error']['data']['reason'] == 'invalid_token'
    assert error_of(get(deribit_emulator, '/api/v2/private/get_mmp_status', 'Bearer made-up'))[1] == 13009
    status, body = get(deribit_emulator, '/api/v2/public/auth?grant_type=refresh_token&refresh_token=' + refresh)
    assert status == 200
    assert get(deribit_emulator, '/api/v2/private/get_mmp_status', 'Bearer ' + body['result']['access_token'])[0] == 200
    assert error_of(get(deribit_emulator, '/api/v2/public/auth?grant_type=refresh_token&refresh_token=' + refresh))[1] == 13009
    assert [e['auth'] for e in deribit_emulator.journal if e['rpc'] == 'private/get_mmp_status'][0] == 'bearer'


def test_basic_auth_and_no_auth(deribit_emulator, deribit_accounts):
    account = deribit_accounts['deribit-a']
    assert get(deribit_emulator, '/api/v2/private/get_mmp_config', basic(account))[0] == 200
    assert error_of(get(deribit_emulator, '/api/v2/private/get_mmp_config', basic(account, 'bad'))) == (400, 13004, None)
    assert error_of(get(deribit_emulator, '/api/v2/private/get_mmp_config')) == (400, 13009, None)
    assert error_of(get(deribit_emulator, '/api/v2/private/get_mmp_config', 'Token abc'))[1] == 13009
    assert get(deribit_emulator, '/api/v2/public/get_time')[0] == 200
    assert [e['auth'] for e in deribit_emulator.journal] == ['basic', 'basic', 'none', 'other', 'none']


def test_at_most_16_groups(deribit_emulator, deribit_accounts):
    account = deribit_accounts['deribit-a']
    for n in range(17):
        status, body = get(deribit_emulator, '/api/v2/private/set_mmp_config?index_name=btc_usd&interval=1&frozen_time=0'
                           '&quantity_limit=1&mmp_group=g%d' % n, basic(account))
    assert (status, body['error']['data']['param']) == (400, 'mmp_group')
    assert len(deribit_emulator.state()['mmp']['deribit-a']) == 16


@pytest.mark.parametrize('list_filter', ['strict', 'lenient'])
def test_list_filter_setting_reads_block_rfq_in_listings_both_ways(deribit_emulator, deribit_accounts, list_filter):
    """get_mmp_config / get_mmp_status without index_name: block_rfq defaults to false as documented (strict, the
    default), or filters only when given (lenient); with index_name both read it the same (default false)."""
    if list_filter == 'lenient':
        deribit_emulator.update_settings({'list_filter': 'lenient'})
    assert deribit_emulator.state()['settings']['list_filter'] == list_filter
    client = exchange(deribit_emulator, deribit_accounts['deribit-a'])
    set_config(client, index_name='eth_usd', interval=3, frozen_time=0, quantity_limit=1)
    set_config(client, index_name='eth_usd', interval=3, frozen_time=0, quantity_limit=2, mmp_group='q1')
    set_config(client, index_name='all', block_rfq=True, interval=60, frozen_time=0, trade_count_limit=10)
    for scope in (dict(index_name='eth_usd', mmp_group='q1'), dict(index_name='all', block_rfq=True)):
        deribit_emulator.trigger(dict(scope, account='deribit-a'))

    def scopes(entries):
        return [(e['index_name'], e.get('mmp_group'), e['block_rfq']) for e in entries]

    plain = [('eth_usd', None, False), ('eth_usd', 'q1', False)]
    rfq = [('all', None, True)]
    listed = scopes(client.privateGetGetMmpConfig()['result'])
    assert listed == (plain if list_filter == 'strict' else rfq + plain)
    assert scopes(client.privateGetGetMmpConfig({'block_rfq': False})['result']) == plain
    assert scopes(client.privateGetGetMmpConfig({'block_rfq': True})['result']) == rfq
    statuses = scopes(client.privateGetGetMmpStatus()['result'])
    assert statuses == ([('eth_usd', 'q1', False)] if list_filter == 'strict' else rfq + [('eth_usd', 'q1', False)])
    assert scopes(client.privateGetGetMmpStatus({'block_rfq': True})['result']) == rfq
    # with index_name: its default group (or the given one), block_rfq false unless given, either way
    assert scopes(client.privateGetGetMmpConfig({'index_name': 'eth_usd'})['result']) == [('eth_usd', None, False)]
    assert scopes(client.privateGetGetMmpStatus({'index_name': 'eth_usd', 'mmp_group': 'q1'})['result']) == [
        ('eth_usd', 'q1', False)]
    assert scopes(client.privateGetGetMmpConfig({'index_name': 'all', 'block_rfq': True})['result']) == rfq
    with pytest.raises(ccxt.BadRequest, match='index_name'):
        client.privateGetGetMmpConfig({'index_name': 'all'})
    with pytest.raises(ValueError, match='list_filter'):
        deribit_emulator.update_settings({'list_filter': 'loose'})


@pytest.mark.parametrize('apply', [True, False])
def test_other_config_fault_answers_another_config_than_asked(deribit_emulator, deribit_accounts, apply):
    client = exchange(deribit_emulator, deribit_accounts['deribit-a'])
    set_config(client, index_name='btc_usd', interval=3, frozen_time=0, quantity_limit=1)
    fault = {'kind': 'other_config', 'method': 'set_mmp_config'}
    if not apply:
        fault['apply'] = False
    deribit_emulator.add_faults([fault])
    answer = set_config(client, index_name='btc_usd', interval=5, frozen_time=0, quantity_limit=2.5)
    assert (answer['interval'], answer['quantity_limit']) == (5, 3.5)  # another limit than asked (2.5 + 1)
    held = client.privateGetGetMmpConfig({'index_name': 'btc_usd'})['result'][0]
    assert (held['interval'], held['quantity_limit']) == ((5, 3.5) if apply else (3, 1))
    assert [e.get('fault') for e in deribit_emulator.journal][-2:] == ['other_config', None]
    deribit_emulator.add_faults([dict(fault, quantity_limit='7')])
    assert set_config(client, index_name='btc_usd', interval=5, frozen_time=0, quantity_limit=2.5)['quantity_limit'] == 7


@pytest.mark.parametrize('resets', [True, False])
def test_set_resets_mmp_setting(deribit_emulator, deribit_accounts, resets):
    deribit_emulator.update_settings({'set_resets_mmp': resets})
    client = exchange(deribit_emulator, deribit_accounts['deribit-a'])
    set_config(client, index_name='btc_usd', interval=3, frozen_time=0, quantity_limit=1)
    deribit_emulator.trigger({'account': 'deribit-a', 'index_name': 'btc_usd'})
    set_config(client, index_name='btc_usd', interval=3, frozen_time=0, quantity_limit=2)
    assert len(client.privateGetGetMmpStatus()['result']) == (0 if resets else 1)


def test_faults(deribit_emulator, deribit_accounts):
    account, other = deribit_accounts['deribit-a'], deribit_accounts['deribit-b']
    url = '/api/v2/private/set_mmp_config?index_name=btc_usd&interval=3&frozen_time=0&quantity_limit=%d'
    ctl.control(deribit_emulator.url, 'POST', 'faults', {'faults': [
        {'kind': 'drop_after_apply', 'method': 'private/set_mmp_config', 'client_id': account['client_id']},
        {'kind': 'timeout_after_apply', 'method': 'set_mmp_config', 'account': 'deribit-a', 'delay': 1},
        {'kind': 'status', 'status': 503, 'code': 10040, 'message': 'retry', 'method': 'get_mmp_config'},
        {'kind': 'not_json', 'method': 'get_mmp_status'}]})
    assert get(deribit_emulator, url % 9, basic(other))[0] == 200  # another account: no fault
    with pytest.raises(requests.ConnectionError):
        get(deribit_emulator, url % 1, basic(account))
    with pytest.raises(requests.Timeout):
        requests.get(deribit_emulator.url + url % 2, headers={'Authorization': basic(account)}, timeout=0.3)
    time.sleep(1)
    assert deribit_emulator.state()['mmp']['deribit-a'][0]['quantity_limit'] == 2  # both writes were applied
    assert error_of(get(deribit_emulator, '/api/v2/private/get_mmp_config', basic(account))) == (503, 10040, None)
    response = requests.get(deribit_emulator.url + '/api/v2/private/get_mmp_status', timeout=10)
    assert response.status_code == 502 and response.text.startswith('<html>')
    assert get(deribit_emulator, '/api/v2/private/get_mmp_status', basic(account))[0] == 200  # one-shot
    assert [e.get('fault') for e in deribit_emulator.journal] == [
        None, 'drop_after_apply', 'timeout_after_apply', 'status', 'not_json', None]


def test_control_endpoints(deribit_emulator, deribit_accounts):
    url = deribit_emulator.url
    with pytest.raises(Exception, match='400'):
        ctl.control(url, 'POST', 'settings', {'set_answer_shape': 'tuple'})
    with pytest.raises(Exception, match='400'):
        ctl.control(url, 'POST', 'faults', {'faults': [{'kind': 'explode'}]})
    assert ctl.control(url, 'POST', 'settings', {'set_answer_shape': 'list'})['set_answer_shape'] == 'list'
    get(deribit_emulator, '/api/v2/private/set_mmp_config?index_name=btc_usd&interval=3&frozen_time=0&quantity_limit=1',
        basic(deribit_accounts['deribit-a']))
    state = ctl.control(url, 'GET', 'state')
    assert state['mmp']['deribit-a'][0]['quantity_limit'] == 1 and state['settings']['set_answer_shape'] == 'list'
    assert len(ctl.journal(url)) == 1
    ctl.control(url, 'DELETE', 'journal')
    assert ctl.journal(url) == []
    ctl.control(url, 'POST', 'reset')
    assert ctl.control(url, 'GET', 'state')['mmp'] == {}


def test_the_journal_keeps_no_secret(deribit_emulator, deribit_accounts):
    account = deribit_accounts['deribit-a']
    client = exchange(deribit_emulator, account)
    set_config(client, index_name='btc_usd', interval=3, frozen_time=0, quantity_limit=1)
    auth = client.publicGetAuth({'grant_type': 'client_credentials', 'client_id': account['client_id'],
                                 'client_secret': account['client_secret']})['result']
    client.publicGetAuth({'grant_type': 'refresh_token', 'refresh_token': auth['refresh_token']})
    get(deribit_emulator, '/api/v2/private/get_mmp_config', 'Bearer ' + auth['access_token'])
    get(deribit_emulator, '/api/v2/private/get_mmp_config', basic(account))
    seen = set(deribit_emulator.secrets_seen)
    assert account['client_secret'] in seen and auth['access_token'] in seen and auth['refresh_token'] in seen
    assert len(seen) >= 6  # the header signature, the secret, two token pairs, the Basic credentials
    journal = json.dumps(ctl.journal(deribit_emulator.url))
    for secret in seen:
        assert secret not in journal


def test_as_a_process_with_the_example_accounts():
    with open(EXAMPLE_ACCOUNTS) as f:
        account = json.load(f)['accounts'][0]
    with ctl.EmulatorProcess(EXAMPLE_ACCOUNTS, script=SCRIPT,
                             extra_args=['--set-answer-shape', 'list', '--list-filter', 'lenient']) as process:
        client = ccxt.deribit({'apiKey': account['client_id'], 'secret': account['client_secret'],
                               'enableRateLimit': False})
        client.urls['api'] = {'rest': process.url}
        answer = client.privateGetSetMmpConfig({'index_name': 'btc_usd', 'interval': 3, 'frozen_time': 0,
                                                'quantity_limit': 2.5})['result']
        assert answer[0]['quantity_limit'] == 2.5
        state = ctl.control(process.url, 'GET', 'state')
        assert state['mmp'][account['name']][0]['interval'] == 3 and state['settings']['list_filter'] == 'lenient'


def test_over_https(deribit_accounts, pki):
    emu = DeribitEmulator(list(deribit_accounts.values()))
    with DeribitServer(emu, certfile=pki['server_cert'], keyfile=pki['server_key']) as server:
        response = requests.get(server.url + '/api/v2/public/get_time', verify=pki['ca'], timeout=10)
        assert server.url.startswith('https://') and response.json()['result'] > 0
        assert [h['ok'] for h in emu.tls_handshakes()] == [True]
