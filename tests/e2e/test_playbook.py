# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real ansible-playbook runs of marketops.mmp.apply_mmp against the emulator on 127.0.0.1."""

from __future__ import annotations

import re
import time

import pytest

from ansible_collections.marketops.mmp.tests.e2e.conftest import PATHS, config, host_vars, secrets_of

pytestmark = pytest.mark.parametrize('path', PATHS)

TASK = 'Apply the MMP config of each underlying'


def mmp_requests(emulator, method=None):
    return [j for j in emulator.journal if j['path'] in ('/eapi/v1/mmp', '/eapi/v1/mmpSet')
            and (method is None or j['method'] == method)]


def item_results(run, host):
    return {r['result']['item']['underlying']: r for r in run.for_host(host)}


def test_first_run_changes_second_run_is_idempotent(path, emulator, accounts, run_playbook):
    configs = [config('BTCUSDT', qty_limit='2', delta_limit='2.3'),
               config('ETHUSDT', window_ms=1500, qty_limit=25, delta_limit=30.5),
               config('SOLUSDT', frozen_ms=60000, qty_limit='0.00001', delta_limit='400.10')]
    hosts = {'hmac-a': host_vars(accounts['hmac-a'], emulator.url, configs)}

    first = run_playbook(hosts, path=path)
    assert first.rc == 0, first.output
    assert first.recap()['hmac-a']['changed'] == 1
    items = item_results(first, 'hmac-a')
    assert all(r['result']['changed'] for r in items.values())
    assert items['SOLUSDT']['result']['config']['qty_limit'] == '0.00001'
    assert items['SOLUSDT']['result']['config']['delta_limit'] == '400.1'
    assert len(mmp_requests(emulator)) == 6 and len(mmp_requests(emulator, 'POST')) == 3

    emulator.journal.clear()
    second = run_playbook(hosts, path=path)
    assert second.rc == 0, second.output
    assert second.recap()['hmac-a']['changed'] == 0
    assert not any(r['result']['changed'] for r in second.for_host('hmac-a'))
    # exactly one request per underlying, and no write, although the emulator pads "2" as "2.00000000"
    assert [j['params']['underlying'] for j in emulator.journal] == ['BTCUSDT', 'ETHUSDT', 'SOLUSDT']
    assert mmp_requests(emulator, 'POST') == []


def test_check_mode_reports_and_never_writes(path, emulator, accounts, run_playbook):
    api_key = accounts['hmac-a']['api_key']
    emulator.set_state(dict(api_key=api_key, underlying='BTCUSDT', window_ms=3000, frozen_ms=300000,
                            qty_limit='2', delta_limit='2.3'))
    configs = [config('BTCUSDT', qty_limit='2.000'), config('ETHUSDT', qty_limit='7')]
    hosts = {'hmac-a': host_vars(accounts['hmac-a'], emulator.url, configs)}
    run = run_playbook(hosts, '--check', '--diff', path=path)
    assert run.rc == 0, run.output
    items = item_results(run, 'hmac-a')
    assert items['BTCUSDT']['result']['changed'] is False
    assert items['ETHUSDT']['result']['changed'] is True
    diff = items['ETHUSDT']['result']['diff']
    assert diff['before']['qty_limit'] == '0' and diff['after']['qty_limit'] == '7'
    assert diff['after']['window_ms'] == 3000
    assert '+    "qty_limit": "7"' in run.output
    assert mmp_requests(emulator, 'POST') == [] and len(mmp_requests(emulator)) == 2
    assert emulator.state()['mmp']['hmac-a'].keys() == {'BTCUSDT'}


def test_accounts_in_parallel_keep_their_own_config(path, emulator, accounts, run_playbook):
    """HMAC, Ed25519 and RSA (encrypted key) accounts, forks 4, each with its own values: no cross-talk."""
    hosts = {}
    for n, name in enumerate(('hmac-a', 'hmac-b', 'ed25519', 'rsa')):
        configs = [config('BTCUSDT', window_ms=1000 + n, qty_limit=str(n + 1), delta_limit='%d.5' % (n + 1)),
                   config('ETHUSDT', window_ms=2000 + n, qty_limit=str(10 * (n + 1)), delta_limit='1')]
        hosts[name] = host_vars(accounts[name], emulator.url, configs)
    run = run_playbook(hosts, forks=4, path=path)
    assert run.rc == 0, run.output
    state = emulator.state()['mmp']
    for n, name in enumerate(('hmac-a', 'hmac-b', 'ed25519', 'rsa')):
        assert state[name]['BTCUSDT']['windowTimeInMilliseconds'] == 1000 + n
        assert state[name]['BTCUSDT']['qtyLimit'] == '%d.00000000' % (n + 1)
        assert state[name]['BTCUSDT']['deltaLimit'] == '%d.50000000' % (n + 1)
        assert state[name]['ETHUSDT']['windowTimeInMilliseconds'] == 2000 + n
        assert run.recap()[name]['changed'] == 1
    signed_in = {j['account'] for j in emulator.journal if j['path'] == '/eapi/v1/mmpSet'}
    assert signed_in == {'hmac-a', 'hmac-b', 'ed25519', 'rsa'}


FAULTS = [
    # (fault, expected outcome, what the journal must show)
    (dict(kind='500', path='/eapi/v1/mmp', count=2), 'changed', ['GET', 'GET', 'GET', 'POST']),
    (dict(kind='503_unavailable', path='/eapi/v1/mmpSet'), 'changed', ['GET', 'POST', 'POST']),
    (dict(kind='503_unknown', path='/eapi/v1/mmpSet'), 'changed', ['GET', 'POST', 'GET']),
    (dict(kind='503_unknown_not_applied', path='/eapi/v1/mmpSet'), 'changed', ['GET', 'POST', 'GET', 'POST']),
    (dict(kind='429', path='/eapi/v1/mmp', retry_after=1), 'changed', ['GET', 'GET', 'POST']),
    (dict(kind='non_json', path='/eapi/v1/mmp'), 'changed', ['GET', 'GET', 'POST']),
    (dict(kind='timeout', path='/eapi/v1/mmp', delay=2.5), 'changed', ['GET', 'GET', 'POST']),
    (dict(kind='timeout', path='/eapi/v1/mmpSet', delay=2.5, apply=True), 'changed', ['GET', 'POST', 'GET']),
    (dict(kind='drop', path='/eapi/v1/mmpSet', apply=True), 'changed', ['GET', 'POST', 'GET']),
    (dict(kind='drop', path='/eapi/v1/mmp'), 'changed', ['GET', 'GET', 'POST']),
    (dict(kind='-1021', path='/eapi/v1/mmp'), 'changed', ['GET', 'GET', 'POST']),
    (dict(kind='418', path='/eapi/v1/mmp'), r'HTTP 418, Binance banned this IP until .* UTC \(1[12]\d s left\).*Not retried, and recorded', ['GET']),
    (dict(kind='non_json', path='/eapi/v1/mmp', count=10), r'HTTP 502 from the exchange \(502 Bad Gateway', ['GET'] * 4),
    (dict(kind='500', path='/eapi/v1/mmpSet', count=10), r'HTTP 500 from the exchange .*-1001', ['GET'] + ['POST'] * 4),
    (dict(kind='429', path='/eapi/v1/mmp', count=10, retry_after=1), r'rate limited .*avoid an IP ban', ['GET'] * 3),
]


# What the task warns about each fault it recovered from: a run that succeeded only by sending again says so.
RECOVERED = {
    '500-mmp-2': [r'GET /eapi/v1/mmp for BTCUSDT: HTTP 500 from the exchange \(code -1001: [^)]*\); sent again '
                  r'\(attempt %d of 4\)' % n for n in (2, 3)],
    '503_unavailable-mmpSet-1': [r'POST /eapi/v1/mmpSet for BTCUSDT: HTTP 503 from the exchange \(code -1001: '
                                 r'Service Unavailable\.\); sent again \(attempt 2 of 4\)'],
    '503_unknown-mmpSet-1': [r'POST /eapi/v1/mmpSet for BTCUSDT: HTTP 503 \(code -1000: Unknown error[^)]*\); the '
                             r'exchange may or may not have applied it; read back: the exchange holds the requested '
                             r'config'],
    '503_unknown_not_applied-mmpSet-1': [r'POST /eapi/v1/mmpSet for BTCUSDT: HTTP 503 .{0,200}; read back: not '
                                         r'applied, sent again'],
    '429-mmp-1': [r'GET /eapi/v1/mmp for BTCUSDT: rate limited by Binance \(HTTP 429[^)]*\); waited 1 s, then sent '
                  r'again \(wait 1 of 2\)'],
    'non_json-mmp-1': [r'GET /eapi/v1/mmp for BTCUSDT: HTTP 502 from the exchange \(502 Bad Gateway[^;]*; sent again '
                       r'\(attempt 2 of 4\)'],
    'timeout-mmp-1': [r'GET /eapi/v1/mmp for BTCUSDT timed out after 1\.0s; sent again \(attempt 2 of 4\)'],
    'timeout-mmpSet-1': [r'POST /eapi/v1/mmpSet for BTCUSDT timed out after 1\.0s; the exchange may or may not have '
                         r'applied it; read back: the exchange holds the requested config'],
    'drop-mmpSet-1': [r'POST /eapi/v1/mmpSet for BTCUSDT connection failed \(\w+\); the exchange may or may not have '
                      r'applied it; read back: the exchange holds the requested config'],
    'drop-mmp-1': [r'GET /eapi/v1/mmp for BTCUSDT connection failed \(\w+\); sent again \(attempt 2 of 4\)'],
    '-1021-mmp-1': [r'GET /eapi/v1/mmp for BTCUSDT: the exchange refused its timestamp \(code -1021, outside '
                    r'recv_window\); read the exchange\'s clock \(this host\'s is [\d.]+ s (behind|ahead of) it\) and '
                    r'signed again'],
}


@pytest.mark.parametrize('fault, outcome, methods', FAULTS, ids=['%s-%s-%s' % (f['kind'], f['path'].rsplit('/', 1)[1],
                                                                               f.get('count', 1)) for f, o, m in FAULTS])
def test_injected_faults(path, emulator, accounts, run_playbook, fault, outcome, methods):
    emulator.add_faults([fault])
    hosts = {'hmac-a': host_vars(accounts['hmac-a'], emulator.url, [config()], binance_timeout=1)}
    run = run_playbook(hosts, path=path)
    (result,) = run.for_host('hmac-a')
    assert [j['method'] for j in mmp_requests(emulator)] == methods, run.output
    if outcome == 'changed':
        assert run.rc == 0, run.output
        assert result['result']['changed'] is True
        # Each recovery is a warning of its own, in order (ansible-core < 2.19 wraps a warning over several lines).
        output = ' '.join(run.output.split())
        expected = RECOVERED['%s-%s-%s' % (fault['kind'], fault['path'].rsplit('/', 1)[1], fault.get('count', 1))]
        assert output.count('[WARNING]: account hmac-a: ') == len(expected), run.output
        assert re.search('.*'.join(r'\[WARNING\]: account hmac-a: ' + pattern for pattern in expected), output), \
            (expected, run.output)
        assert result['result']['config']['qty_limit'] == '2'
        assert emulator.state()['mmp']['hmac-a']['BTCUSDT']['qtyLimit'] == '2.00000000'
    else:
        assert run.rc != 0
        assert result['status'] == 'failed'
        assert re.search(outcome, result['result']['msg']), result['result']['msg']
        assert 'BTCUSDT' in result['result']['msg']
        assert 'Traceback' not in run.output and 'MODULE FAILURE' not in run.output


@pytest.mark.parametrize('offset_ms', [-8000, 8000])
def test_clock_offset_is_absorbed(path, emulator, accounts, run_playbook, offset_ms):
    emulator.settings['clock_offset_ms'] = offset_ms
    hosts = {'hmac-a': host_vars(accounts['hmac-a'], emulator.url, [config()])}
    run = run_playbook(hosts, path=path)
    assert run.rc == 0, run.output
    signed = [j for j in emulator.journal if j['path'] != '/eapi/v1/exchangeInfo']  # the published limit, read first
    assert [j['path'] for j in signed][:3] == ['/eapi/v1/mmp', '/eapi/v1/time', '/eapi/v1/mmp']
    assert signed[0]['code'] == -1021
    assert emulator.state()['mmp']['hmac-a']['BTCUSDT']['qtyLimit'] == '2.00000000'
    # the task says why it read the exchange's clock, and by how much this host's is off
    assert re.search(r'\[WARNING\]: account hmac-a: GET /eapi/v1/mmp for BTCUSDT: the exchange refused its timestamp '
                     r'\(code -1021, outside recv_window\); read the exchange\'s clock \(this host\'s is [78]\.\d s %s it\)'
                     % ('ahead of' if offset_ms < 0 else 'behind'), ' '.join(run.output.split())), run.output


def test_exchange_refusals_fail_precisely(path, emulator, accounts, run_playbook):
    wrong_secret = dict(accounts['hmac-b'], secret='not-the-right-secret-0000')
    hosts = {
        'wrong-secret': host_vars(wrong_secret, emulator.url, [config()]),
        'not-mm': host_vars(accounts['not-mm'], emulator.url, [config()]),
        'unknown-underlying': host_vars(accounts['hmac-a'], emulator.url, [config('FOOUSDT')]),
    }
    run = run_playbook(hosts, path=path)
    assert run.rc != 0
    msgs = {h: run.for_host(h)[0]['result']['msg'] for h in hosts}
    assert 'code -1022' in msgs['wrong-secret'] and 'api_secret / private_key' in msgs['wrong-secret']
    assert 'code -2015' in msgs['not-mm'] and 'IP whitelist' in msgs['not-mm']
    assert 'code -1128' in msgs['unknown-underlying'] and 'FOOUSDT' in msgs['unknown-underlying']
    assert all(msg.startswith('account %s: ' % host) for host, msg in msgs.items()), msgs
    assert mmp_requests(emulator, 'POST') == []


# Bad input: each case is one account host whose variables carry one mistake. (host, vars override, message)
BAD_INPUTS = [
    ('window-zero', dict(binance_mmp_configs=[config(window_ms=0)]), r'window_ms: got 0; .*\(0, 5000\]'),
    ('window-too-big', dict(binance_mmp_configs=[config(window_ms=5001)]), r'window_ms: got 5001; .*\(0, 5000\]'),
    ('window-not-int', dict(binance_mmp_configs=[config(window_ms='soon')]), r'window_ms'),
    ('frozen-negative', dict(binance_mmp_configs=[config(frozen_ms=-1)]), r'frozen_ms: got -1; .*>= 0'),
    # (ansible-core < 2.19 templates values into strings: "got '0'" there, "got 0" since)
    ('qty-zero', dict(binance_mmp_configs=[config(qty_limit=0)]), r"qty_limit: got '?0'?; .*> 0"),
    ('qty-text', dict(binance_mmp_configs=[config(qty_limit='lots')]), r"qty_limit: got 'lots'; .*> 0"),
    ('qty-bool', dict(binance_mmp_configs=[config(qty_limit=True)]), r"qty_limit: got '?True'?"),
    ('delta-negative', dict(binance_mmp_configs=[config(delta_limit=-2.3)]), r"delta_limit: got '?-2.3'?; .*> 0"),
    ('delta-too-precise', dict(binance_mmp_configs=[config(delta_limit='0.000000000000000000001')]),
     r'delta_limit: .*20 after the point'),
    ('underlying-dash', dict(binance_mmp_configs=[config('BTC-USDT')]), r"underlying: got 'BTC-USDT'; letters and digits"),
    ('underlying-empty', dict(binance_mmp_configs=[config('')]), r"underlying: got ''; letters and digits"),
    ('recv-window', dict(binance_recv_window=60000), r'recv_window: got 60000; .*\(0, 60000\)'),
    ('timeout-zero', dict(binance_timeout=0), r'timeout: got 0.0; .*\(0, 300\]'),
    ('http-remote', dict(binance_base_url='http://eapi.example.com'), r'base_url: .*use https'),
    ('two-secrets', dict(binance_private_key='-----BEGIN PRIVATE KEY-----\nMC4CAQ\n-----END PRIVATE KEY-----'),
     r'api_secret and private_key are both set'),
    ('no-secret', dict(binance_api_secret=None), r'set exactly one of api_secret'),
    ('key-not-a-file', dict(binance_api_secret=None, binance_private_key='/nonexistent/key.pem'),
     r'private_key is neither PEM text'),
]


def test_bad_input_fails_clearly_with_zero_requests(path, emulator, accounts, run_playbook):
    hosts = {}
    for name, override, _message in BAD_INPUTS:
        hv = host_vars(accounts['hmac-a'], emulator.url, [config()])
        hv.update(override)
        if hv.get('binance_api_secret') is None:
            hv.pop('binance_api_secret')
        hosts[name] = hv
    run = run_playbook(hosts, forks=10, path=path)
    assert run.rc != 0
    for name, override, message in BAD_INPUTS:
        (result,) = run.for_host(name)
        assert result['status'] == 'failed', (name, result)
        assert re.search(message, result['result']['msg']), (name, result['result']['msg'])
    assert len(BAD_INPUTS) >= 10
    assert emulator.journal == []
    assert 'Traceback' not in run.output


def test_missing_variables_are_named(path, emulator, accounts, run_playbook):
    no_key = host_vars(accounts['hmac-a'], emulator.url, [config()])
    del no_key['binance_api_key']
    no_configs = host_vars(accounts['hmac-a'], emulator.url, [config()])
    del no_configs['binance_mmp_configs']
    no_window = host_vars(accounts['hmac-a'], emulator.url, [config()])
    del no_window['binance_mmp_configs'][0]['window_ms']
    run = run_playbook({'no-key': no_key, 'no-configs': no_configs, 'no-window': no_window}, path=path)
    assert run.rc != 0
    recap = run.recap()
    assert all(recap[h]['failed'] == 1 for h in ('no-key', 'no-configs', 'no-window')), run.output
    assert "'binance_api_key' is undefined" in run.output
    assert "'binance_mmp_configs' is undefined" in run.output
    (result,) = run.for_host('no-window')
    assert 'missing required arguments: window_ms' in result['result']['msg']
    assert emulator.journal == []


def test_frozen_zero_warns(path, emulator, accounts, run_playbook):
    hosts = {'hmac-a': host_vars(accounts['hmac-a'], emulator.url, [config(frozen_ms=0)])}
    run = run_playbook(hosts, path=path)
    assert run.rc == 0, run.output
    # the warning says whose BTCUSDT: the playbook labels every message with the account (inventory_hostname);
    # ansible-core < 2.19 wraps a warning over several lines
    assert re.search(r'\[WARNING\]: account hmac-a: frozen_ms is 0 for BTCUSDT: .*manual reset',
                     ' '.join(run.output.split())), run.output


@pytest.mark.parametrize('scenario', ['success', 'failure'])
def test_no_secret_in_any_output(path, emulator, accounts, run_playbook, scenario):
    hosts = {name: host_vars(accounts[name], emulator.url, [config()]) for name in ('hmac-a', 'ed25519', 'rsa')}
    if scenario == 'failure':  # signed requests that fail: a wrong secret, an unknown underlying, bad input
        hosts['hmac-a']['binance_api_secret'] = 'wrong-' + accounts['hmac-a']['secret'][::-1]
        hosts['ed25519']['binance_mmp_configs'] = [config('FOOUSDT')]
        hosts['rsa']['binance_mmp_configs'] = [config(), config('ETHUSDT', window_ms=0)]
    run = run_playbook(hosts, '--diff', path=path, verbose=4)
    assert (run.rc == 0) == (scenario == 'success'), run.output
    if scenario == 'failure':
        assert {r['host'] for r in run.results if r['status'] == 'failed'} == {'hmac-a', 'ed25519', 'rsa'}
    assert emulator.signatures, 'the emulator saw no signed request'
    haystacks = {'output': run.output, 'log': run.log, 'results': str(run.results)}
    assert run.log, 'ANSIBLE_LOG_PATH wrote nothing'
    for needle in secrets_of(accounts) + emulator.signatures:
        for where, text in haystacks.items():
            assert needle not in text, 'a secret or signature appears in the %s' % where
    for where, text in haystacks.items():
        assert 'signature=' not in text and 'BEGIN PRIVATE KEY' not in text and 'ENCRYPTED' not in text, where


def test_pacing_keeps_the_ip_under_its_weight_limit(path, emulator, accounts, run_playbook):
    """18 requests against a limit of 12 per minute, forks 3: the run waits for the next minute, no 429.

    Kept short: the emulator's clock is set ahead so that its minute ends about 10 s after the start (a
    large recv_window keeps the offset from causing -1021), and the client follows the exchange's clock.
    """
    emulator.settings['weight_limit'] = 12
    emulator.settings['clock_offset_ms'] = int(((50 - time.time() % 60) % 60) * 1000)
    configs = [config('BTCUSDT'), config('ETHUSDT'), config('SOLUSDT')]
    hosts = {name: host_vars(accounts[name], emulator.url, configs, binance_weight_limit=12, binance_recv_window=59999)
             for name in ('hmac-a', 'hmac-b', 'ed25519')}
    run = run_playbook(hosts, forks=3, path=path)
    assert run.rc == 0, run.output
    statuses = [j.get('status') for j in emulator.journal]
    assert statuses.count(429) == 0 and statuses.count(418) == 0
    assert len(mmp_requests(emulator)) == 18
    per_minute = {}
    for j in emulator.journal:
        minute = int((j['time'] + emulator.settings['clock_offset_ms'] / 1000.0) // 60)
        per_minute[minute] = per_minute.get(minute, 0) + 1
    assert len(per_minute) >= 2 and max(per_minute.values()) <= 12, per_minute
