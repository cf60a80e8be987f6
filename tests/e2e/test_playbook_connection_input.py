# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection input is checked before anything is sent, by every module on both execution paths, at -vvv: a base_url
with a password or a token, plain http to a host that only looks like loopback, a key with a trailing newline (a Vault
value written as a YAML block scalar ``|``), a secret with a space. Each task fails naming the option, the emulator
gets no request, and no output holds the password, the token, the key or the secret."""

from __future__ import annotations

import json

from ansible.release import __version__ as ansible_version

import pytest

from ansible_collections.marketops.mmp.tests.e2e.conftest import PATHS, host_vars

pytestmark = pytest.mark.parametrize('path', PATHS)

PASSWORD = 'e2e-url-password-3f9a1c'
TOKEN = 'e2e-url-token-7b2d4e'
MODULE_ARGS = {
    'binance_mmp': dict(underlying='BTCUSDT', window_ms=3000, frozen_ms=300000, qty_limit='2', delta_limit='2.3'),
    'binance_mmp_info': dict(underlyings=['BTCUSDT']),
    'binance_mmp_reset': dict(underlying='BTCUSDT'),
    'binance_kill_switch': dict(underlying='BTCUSDT', countdown_ms=30000),
}
# (case, connection arguments as templates, the option named, words of the message)
CASES = [
    ('userinfo', dict(base_url='{{ url_with_password }}'), 'base_url', 'must not carry a user name or password'),
    ('token', dict(base_url='{{ url_with_token }}'), 'base_url', 'must not carry a query string'),
    ('prefix-loopback', dict(base_url='http://127.attacker.example/'), 'base_url',
     'plain http is only allowed to a loopback address'),
    ('key-newline', dict(api_key='{{ key_with_newline }}'), 'api_key',
     'ends with a newline; a Vault value written as a YAML block scalar `|` keeps one: write it with `|-`'),
    ('secret-space', dict(api_secret='{{ secret_with_space }}'), 'api_secret', 'whitespace'),
]
CONTROL = 'control: good input reaches the emulator'


def write_playbook(tmp_path, account, url):
    """One play: every module x every bad input (ignore_errors), then one task with good input."""
    auth = dict(api_key='{{ binance_api_key }}', api_secret='{{ binance_api_secret }}', base_url='{{ binance_base_url }}',
                account='{{ inventory_hostname }}')
    tasks = []
    for module, args in sorted(MODULE_ARGS.items()):
        for case, connection, dummy, dummy in CASES:
            tasks.append({'name': '%s %s' % (module, case), 'marketops.mmp.%s' % module: dict(args, **dict(auth, **connection)),
                          'ignore_errors': True})
    tasks.append({'name': CONTROL, 'marketops.mmp.binance_mmp_info': dict(MODULE_ARGS['binance_mmp_info'], **auth)})
    secret = account['secret']
    # The values are in a vars file, as they would be in a Vault-encrypted one (ansible-core shows the playbook lines
    # around a failed task, never a vars file's), and the key is written as Vault values often are: a YAML block scalar
    # "|", which keeps a trailing newline.
    values = tmp_path / 'connection-input-vars.yml'
    values.write_text('''key_with_newline: |
  %s
secret_with_space: %s
url_with_password: %s
url_with_token: %s
''' % (account['api_key'], json.dumps(secret[:12] + ' ' + secret[12:]),
       json.dumps(url.replace('://', '://svc:%s@' % PASSWORD, 1) + '/'), json.dumps(url + '/?token=' + TOKEN)))
    playbook = tmp_path / 'connection-input.yml'
    playbook.write_text(json.dumps([{'name': 'Connection input is checked before anything is sent',
                                     'hosts': 'binance_accounts', 'gather_facts': False, 'vars_files': [str(values)],
                                     'tasks': tasks}], indent=1))
    return str(playbook)


def test_bad_connection_input_fails_every_module_before_any_request(path, emulator, accounts, run_playbook, tmp_path):
    account = accounts['hmac-a']
    hosts = {'hmac-a': host_vars(account, emulator.url, [])}
    run = run_playbook(hosts, path=path, playbook=write_playbook(tmp_path, account, emulator.url), verbose=3)
    assert run.rc == 0, run.output  # every bad task failed and was ignored; the control task succeeded
    results = {r['task']: r for r in run.results if r['host'] == 'hmac-a'}
    for module in MODULE_ARGS:
        for case, dummy, option, words in CASES:
            record = results['%s %s' % (module, case)]
            result = record['result']
            assert record['status'] == 'failed', (module, case, result)
            assert result['option'] == option, (module, case, result)
            assert result['msg'].startswith('account hmac-a: %s' % option) and words in result['msg'], (module, result)
    assert results[CONTROL]['status'] == 'ok' and results[CONTROL]['result']['changed'] is False
    # The bad tasks sent nothing: the only requests are the control task's (the first of a cold controller reads the
    # published rate limit)
    assert [(j['method'], j['path']) for j in emulator.journal] == [('GET', '/eapi/v1/exchangeInfo'),
                                                                    ('GET', '/eapi/v1/mmp'),
                                                                    ('GET', '/eapi/v1/countdownCancelAll')]
    # No output holds the password, the token, the key or the secret (nor the secret's two halves)
    secret = account['secret']
    needles = [PASSWORD, TOKEN, 'svc:', account['api_key'], secret, secret[:12], secret[12:]]
    haystacks = {'output': run.output, 'log': run.log, 'results': json.dumps(run.results)}
    assert run.log, 'ANSIBLE_LOG_PATH wrote nothing'
    for needle in needles:
        for where, text in haystacks.items():
            assert needle not in text, 'a secret appears in the %s' % where
    assert 'Traceback' not in run.output
    # at -vvv the result, its invocation included, is shown: the URLs with a secret are masked there too
    if tuple(int(x) for x in ansible_version.split('.')[:2]) < (2, 21):  # 2.21+ shows no "invocation" by default
        assert run.output.count('VALUE_SPECIFIED_IN_NO_LOG_PARAMETER') >= len(MODULE_ARGS) * len(CASES)
