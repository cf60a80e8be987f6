# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end, on both execution paths, what unit tests alone used to hold: an error that would repeat a signed
request is shown redacted; a write the exchange answers with another config than the one asked fails the task; a
429's Retry-After is really waited (the emulator's journal times the requests, not the warning's text)."""

from __future__ import annotations

import re

import pytest

from ansible_collections.marketops.mmp.tests.e2e.conftest import PATHS, config, host_vars, secrets_of

pytestmark = pytest.mark.parametrize('path', PATHS)

TASK = 'Apply the MMP config of each underlying'
# How much earlier than Retry-After the retry may arrive, measured from the moment the emulator answered the 429:
# the client may get the answer a moment before the emulator's clock reads "answered" (its thread is preempted
# between the write and the reading). Sleeping longer is allowed: no upper bound (CI is a busy 2-core machine).
TOLERANCE = 0.1


def mmp_requests(emulator, path='/eapi/v1/mmp', account=None):
    with emulator.lock:
        return [dict(j) for j in emulator.journal if j['path'] == path and (account is None or j['account'] == account)]


def item_results(run, host):
    return {r['result']['item']['underlying']: r for r in run.for_host(host, TASK)}


# ---------------------------------------------------------------------------------------------
# Redaction: an exchange's error or a proxy's page that repeats the signed request
# ---------------------------------------------------------------------------------------------

def test_an_error_repeating_the_signed_request_is_shown_redacted(path, emulator, accounts, run_playbook):
    """The emulator's ``echo_request`` fault repeats each request as it came, signature and all: in the exchange's
    JSON error for a read (hmac-a) and a write (hmac-b, the signature in the form body), and in a proxy's HTML page for
    a read (ed25519, a URL-encoded signature). At -vvvv nothing shows a signature or a signed query string; every
    message shows where it was redacted, names the account, and says what failed."""
    echo = {'hmac-a': dict(kind='echo_request', path='/eapi/v1/mmp'),
            'hmac-b': dict(kind='echo_request', path='/eapi/v1/mmpSet'),
            'ed25519': dict(kind='echo_request', path='/eapi/v1/mmp', status=403, html=True)}
    emulator.add_faults([dict(fault, api_key=accounts[name]['api_key']) for name, fault in echo.items()])
    hosts = {name: host_vars(accounts[name], emulator.url, [config()]) for name in echo}
    run = run_playbook(hosts, path=path, verbose=4)
    assert run.rc != 0, run.output

    # the emulator did repeat each signed request (else nothing here would test the redaction)
    echoed = [j for j in emulator.journal if j.get('fault') == 'echo_request']
    assert sorted(j['account'] for j in echoed) == sorted(echo), echoed
    assert len(emulator.signatures) >= len(echo)

    msgs = {}
    for name in echo:
        (record,) = run.for_host(name, TASK)
        assert record['status'] == 'failed', record
        msgs[name] = record['result']['msg']
        assert msgs[name].startswith('account %s: ' % name) and 'BTCUSDT' in msgs[name], msgs[name]
    assert 'GET /eapi/v1/mmp: HTTP 400, code -1100: ' in msgs['hmac-a']
    assert 'the request GET /eapi/v1/mmp?[query redacted]' in msgs['hmac-a'], msgs['hmac-a']
    assert 'POST /eapi/v1/mmpSet: HTTP 400, code -1100: ' in msgs['hmac-b']
    assert re.search(r'with the form body underlying=BTCUSDT&\S*&signature=\[redacted\]', msgs['hmac-b']), msgs['hmac-b']
    assert 'HTTP 403 with a body that is not JSON' in msgs['ed25519']
    assert 'Request rejected GET /eapi/v1/mmp?[query redacted]' in msgs['ed25519'], msgs['ed25519']

    haystacks = {'output': run.output, 'log': run.log, 'results': str(run.results)}
    for where, text in haystacks.items():
        for needle in emulator.signatures + secrets_of(accounts):
            assert needle not in text, 'a signature or secret appears in the %s' % where
        assert not re.search(r'signature=(?!\[redacted\])', text), where
        assert not re.search(r'/eapi/v1/mmp\?(?!\[query redacted\])', text), where
    assert 'BEGIN PRIVATE KEY' not in run.output


# ---------------------------------------------------------------------------------------------
# A write answered with another config than the one asked
# ---------------------------------------------------------------------------------------------

def test_a_write_answered_with_another_config_fails_the_task(path, emulator, accounts, run_playbook):
    """The emulator's ``other_config`` fault sets and answers another config than the one asked (hmac-a: qtyLimit
    one more; hmac-b: another deltaLimit). The item fails loudly naming the account and the underlying, with both
    configs; it is not sent again; the other items of the account are applied."""
    emulator.add_faults([dict(kind='other_config', path='/eapi/v1/mmpSet', api_key=accounts['hmac-a']['api_key']),
                         dict(kind='other_config', path='/eapi/v1/mmpSet', api_key=accounts['hmac-b']['api_key'],
                              set={'deltaLimit': '9.5'})])
    configs = [config('BTCUSDT', qty_limit='2', delta_limit='2.3'), config('ETHUSDT', qty_limit='5')]
    hosts = {name: host_vars(accounts[name], emulator.url, configs) for name in ('hmac-a', 'hmac-b')}
    run = run_playbook(hosts, path=path)
    assert run.rc != 0, run.output
    assert {h: run.recap()[h]['failed'] for h in hosts} == {'hmac-a': 1, 'hmac-b': 1}, run.output
    other = {'hmac-a': ('qty_limit', '3'), 'hmac-b': ('delta_limit', '9.5')}
    for name, (field, answered) in other.items():
        items = item_results(run, name)
        failed = items['BTCUSDT']
        assert failed['status'] == 'failed', failed
        msg = failed['result']['msg']
        assert msg.startswith('account %s: the exchange did not apply the requested MMP config for BTCUSDT: ' % name), msg
        assert 'the exchange answered ' in msg and '(differs in %s)' % field in msg, msg
        assert '%s=%s' % (field, answered) in msg.split('the exchange answered ')[1], msg
        assert failed['result']['asked'][field] == {'qty_limit': '2', 'delta_limit': '2.3'}[field]
        assert failed['result']['exchange'][field] == answered
        # the other underlying was applied as asked
        assert items['ETHUSDT']['status'] == 'ok' and items['ETHUSDT']['result']['changed'] is True
        # one write for BTCUSDT, not sent again, and no read back: the answer itself said what the exchange holds
        writes = mmp_requests(emulator, '/eapi/v1/mmpSet', name)
        assert [j['params']['underlying'] for j in writes] == ['BTCUSDT', 'ETHUSDT'], writes
        assert writes[0]['fault'] == 'other_config' and writes[0]['status'] == 200
        assert [j['params']['underlying'] for j in mmp_requests(emulator, account=name)] == ['BTCUSDT', 'ETHUSDT']
    state = emulator.state()['mmp']
    assert state['hmac-a']['BTCUSDT']['qtyLimit'] == '3.00000000'
    assert state['hmac-b']['BTCUSDT']['deltaLimit'] == '9.50000000'
    assert 'Traceback' not in run.output and 'MODULE FAILURE' not in run.output


# ---------------------------------------------------------------------------------------------
# A 429's Retry-After is waited: the time between the requests, from the emulator's journal
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('where, retry_after', [('/eapi/v1/mmp', 2), ('/eapi/v1/mmpSet', 3)])
def test_a_429s_retry_after_is_waited_before_the_request_is_sent_again(path, emulator, accounts, run_playbook,
                                                                       where, retry_after):
    """Two 429s in a row with Retry-After N (on the read, or on the write, which a 429 does not apply): each request
    sent again arrives N seconds or more after the 429 before it was answered, as the emulator's clock says."""
    emulator.add_faults([dict(kind='429', path=where, retry_after=retry_after, count=2)])
    hosts = {'hmac-a': host_vars(accounts['hmac-a'], emulator.url, [config()])}
    run = run_playbook(hosts, path=path)
    assert run.rc == 0, run.output
    assert emulator.state()['mmp']['hmac-a']['BTCUSDT']['qtyLimit'] == '2.00000000'
    sent = mmp_requests(emulator, where)
    assert [j.get('status') for j in sent] == [429, 429, 200], sent
    for answered, again in zip(sent, sent[1:]):
        waited = again['time'] - answered['replied']
        assert waited >= retry_after - TOLERANCE, (waited, retry_after, sent)
    # and the task says so, once per wait
    text = ' '.join(run.output.split())  # ansible-core < 2.19 wraps a warning over several lines
    assert text.count('waited %d s, then sent again' % retry_after) == 2, run.output
