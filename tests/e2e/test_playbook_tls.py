# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS as production uses it: the emulator over HTTPS with a certificate of a throwaway private CA, through both
execution paths of marketops.mmp.apply_mmp."""

from __future__ import annotations

import pytest

from ansible_collections.marketops.mmp.tests.e2e.conftest import PATHS, config, host_vars, secrets_of

pytestmark = pytest.mark.parametrize('path', PATHS)

# The machine's own CA bundle settings are cleared: only what a test sets is trusted, besides requests' public CAs.
NO_CA_ENV = dict(REQUESTS_CA_BUNDLE='', CURL_CA_BUNDLE='')
INSECURE = "the exchange's TLS certificate is not verified (validate_certs: false)"


def results(run, host='hmac-a'):
    """The task's results for ``host``, item by item, with the callback's status."""
    return [dict(r['result'], status=r['status']) for r in run.for_host(host)]


def warnings_of(result):
    return [w if isinstance(w, str) else w.get('event', {}).get('msg') for w in result.get('warnings', [])]


def handshakes(emulator):
    return [h['ok'] for h in emulator.tls_handshakes()]


def assert_quiet(run, accounts):
    """Nothing written around Display (urllib3's warning, a worker's stderr), and no secret anywhere."""
    for text in (run.output, run.log):
        assert 'errantly sent data directly to stderr' not in text
        assert 'InsecureRequestWarning' not in text and 'Unverified HTTPS request' not in text
        assert not [s for s in secrets_of(accounts) if s in text]


def test_untrusted_ca_fails_at_once_and_clearly(path, https_emulator, accounts, run_playbook):
    hosts = {'hmac-a': host_vars(accounts['hmac-a'], https_emulator.url, [config()])}
    run = run_playbook(hosts, path=path, env_extra=NO_CA_ENV)
    assert run.rc == 2, run.output
    [result] = results(run)
    host = https_emulator.url.split('//')[1]
    assert result['status'] == 'failed' and result['msg'].startswith(
        # a cold controller's first request reads the published rate limit (exchangeInfo)
        'account hmac-a: MMP BTCUSDT: GET /eapi/v1/exchangeInfo: the TLS certificate of %s could not be verified: unable to get local issuer '
        "certificate (trusted CAs: the public CAs of requests' default bundle" % host)
    for fix in ('ca_path', 'REQUESTS_CA_BUNDLE', 'validate_certs: false', 'not recommended'):
        assert fix in result['msg']
    assert 'Not retried' in result['msg'] and 'after 4 attempts' not in result['msg']
    # one attempt: one handshake, refused by the client; no request ever reached the exchange
    assert handshakes(https_emulator) == [False] and https_emulator.journal == []
    assert_quiet(run, accounts)


def test_certificate_for_another_host_name_fails_naming_the_mismatch(
        path, other_host_emulator, accounts, pki, run_playbook):
    hosts = {'hmac-a': host_vars(accounts['hmac-a'], other_host_emulator.url, [config()], binance_ca_path=pki['ca'])}
    run = run_playbook(hosts, path=path, env_extra=NO_CA_ENV)
    assert run.rc == 2, run.output
    [result] = results(run)
    assert result['msg'].startswith('account hmac-a: MMP BTCUSDT: GET /eapi/v1/exchangeInfo: the TLS certificate that %s presented '
                                    'is not valid '
                                    "for that name: IP address mismatch, certificate is not valid for '127.0.0.1'. "
                                    % other_host_emulator.url.split('//')[1])
    assert 'base_url' in result['msg']
    assert handshakes(other_host_emulator) == [False] and other_host_emulator.journal == []


def test_ca_path_is_trusted(path, https_emulator, accounts, pki, run_playbook):
    url = https_emulator.url.replace('127.0.0.1', 'localhost')  # the certificate names both
    hosts = {'hmac-a': host_vars(accounts['hmac-a'], url, [config(), config('ETHUSDT')], binance_ca_path=pki['ca'])}
    run = run_playbook(hosts, path=path, env_extra=NO_CA_ENV)
    assert run.rc == 0, run.output
    assert [r['changed'] for r in results(run)] == [True, True]
    assert all(handshakes(https_emulator)) and len(https_emulator.writes()) == 2
    assert_quiet(run, accounts)


def test_requests_ca_bundle_is_trusted(path, https_emulator, accounts, pki, run_playbook):
    hosts = {'hmac-a': host_vars(accounts['hmac-a'], https_emulator.url, [config()])}
    run = run_playbook(hosts, path=path, env_extra=dict(NO_CA_ENV, REQUESTS_CA_BUNDLE=pki['ca']))
    assert run.rc == 0, run.output
    assert [r['changed'] for r in results(run)] == [True]
    assert handshakes(https_emulator) == [True]


def test_requests_ca_bundle_in_the_task_environment_is_trusted(path, https_emulator, accounts, pki, run_playbook,
                                                               tmp_path):
    """The play's ``environment:`` reaches the module's process; the fast path honours it the same way."""
    playbook = tmp_path / 'environment.yml'
    playbook.write_text('''
- name: TLS settings from the environment keyword
  hosts: binance_accounts
  gather_facts: false
  environment:
    REQUESTS_CA_BUNDLE: "{{ e2e_ca_bundle }}"
  tasks:
    - name: Apply the MMP config of each underlying
      marketops.mmp.binance_mmp:
        api_key: "{{ binance_api_key }}"
        api_secret: "{{ binance_api_secret }}"
        base_url: "{{ binance_base_url }}"
        underlying: BTCUSDT
        window_ms: 3000
        frozen_ms: 300000
        qty_limit: 2
        delta_limit: 2.3
''')
    hosts = {'hmac-a': host_vars(accounts['hmac-a'], https_emulator.url, [], e2e_ca_bundle=pki['ca'])}
    run = run_playbook(hosts, path=path, playbook=str(playbook), env_extra=NO_CA_ENV)
    assert run.rc == 0, run.output
    assert [r['changed'] for r in results(run)] == [True]
    assert handshakes(https_emulator) == [True]


def test_validate_certs_false_works_with_one_warning_and_nothing_on_stderr(path, https_emulator, accounts,
                                                                           run_playbook):
    hosts = {'hmac-a': host_vars(accounts['hmac-a'], https_emulator.url, [config(), config('ETHUSDT')],
                                 binance_validate_certs=False)}
    run = run_playbook(hosts, path=path, env_extra=NO_CA_ENV)
    assert run.rc == 0, run.output
    items = results(run)
    assert [r['changed'] for r in items] == [True, True]
    # each task item: exactly one warning, which says what is at stake, and for which account (apply_mmp labels
    # every message with the inventory host)
    insecure = 'account hmac-a: ' + INSECURE
    for result in items:
        assert len([w for w in warnings_of(result) if w.startswith(insecure)]) == 1, result
        assert [w for w in warnings_of(result) if w.startswith(insecure)][0].startswith(
            insecure + ': anything between this host and 127.0.0.1 can read and change the requests, API key included')
    warning_lines = [line for line in run.output.splitlines() if "TLS certificate is not verified" in line]
    assert len(warning_lines) == 1 and warning_lines[0].startswith('[WARNING]: '), run.output
    assert len(https_emulator.writes()) == 2
    assert_quiet(run, accounts)
