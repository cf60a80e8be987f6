# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection input is checked before anything is sent: base_url (never echoed with its userinfo, query or fragment;
plain http only to a loopback address), api_key and api_secret (no whitespace, nothing outside printable ASCII),
on both execution paths and for every module."""

from __future__ import annotations

import json

from ansible.release import __version__ as ansible_version

import pytest

from ansible_collections.marketops.mmp.plugins.module_utils.binance.api import check_base_url, check_key_text
from ansible_collections.marketops.mmp.plugins.module_utils.errors import ConfigError
from ansible_collections.marketops.mmp.plugins.module_utils.transport import is_loopback_host, url_secrets
from ansible_collections.marketops.mmp.plugins.module_utils.errors import ValidationError
from ansible_collections.marketops.mmp.plugins.module_utils.runner import validate_connection_params
from ansible_collections.marketops.mmp.plugins.module_utils.binance.modules import CORES
from ansible_collections.marketops.mmp.plugins.module_utils.binance.venue import BINANCE
from ansible_collections.marketops.mmp.tests.unit.helpers import API_KEY, SECRET
from ansible_collections.marketops.mmp.tests.unit.plugins.test_parity import (  # noqa: F401 pylint: disable=unused-import
    fresh_module_warnings,  # an autouse fixture: a module's warnings are process-global
    module_process,  # an autouse fixture: modules run as in a process of their own
    run_action,
    run_module,
)

PASSWORD = 'PASSWORD-9c1e7a'
TOKEN = 'tok-5d2f8b3a61'
USERINFO = 'svc:' + PASSWORD
SECRET_URLS = [
    'https://%s@gw.corp.example/' % USERINFO,
    'https://svc@gw.corp.example/',
    'https://gw.corp.example/?token=%s' % TOKEN,
    'https://gw.corp.example/eapi#%s' % TOKEN,
    'https://%s@gw.corp.example:8443/base?token=%s#%s' % (USERINFO, TOKEN, TOKEN),
    'http://%s@127.0.0.1:8765' % USERINFO,                    # loopback or not, a password is never echoed
    'https://%s@[::1' % USERINFO,                             # not even in a URL that is not valid
]
# A value of the URL that no message may hold: the password, the token, the userinfo, the URL itself.
NEVER_SHOWN = (PASSWORD, TOKEN, 'svc:', 'svc@')

MODULE_ARGS = {
    'binance_mmp': dict(underlying='BTCUSDT', window_ms=3000, frozen_ms=300000, qty_limit='2', delta_limit='2.3'),
    'binance_mmp_info': dict(underlyings=['BTCUSDT']),
    'binance_mmp_reset': dict(underlying='BTCUSDT'),
    'binance_kill_switch': dict(underlying='BTCUSDT', countdown_ms=30000),
    'binance_mmp_configs': dict(state='replaced', config=[dict(underlying='BTCUSDT', window_ms=3000, frozen_ms=1, qty_limit=2, delta_limit=2)]),
}
# (name, auth overrides, the option the message names, what the message says, the values never shown)
BAD_INPUTS = [
    ('userinfo', dict(base_url='https://%s@gw.corp.example/' % USERINFO), 'base_url', 'user name or password',
     (PASSWORD, USERINFO)),
    ('token', dict(base_url='https://gw.corp.example/?token=%s' % TOKEN), 'base_url', 'query string', (TOKEN,)),
    ('fragment', dict(base_url='https://gw.corp.example/#%s' % TOKEN), 'base_url', 'fragment', (TOKEN,)),
    ('prefix-loopback', dict(base_url='http://127.attacker.example/'), 'base_url', 'loopback', ()),
    ('bad-port', dict(base_url='https://gw.corp.example:99999/'), 'base_url', 'port', ()),
    ('key-newline', dict(api_key=API_KEY + '\n'), 'api_key', 'ends with a newline', (API_KEY,)),
    ('key-nul', dict(api_key=API_KEY + '\x00'), 'api_key', 'control character', (API_KEY,)),
    ('secret-space', dict(api_secret=SECRET[:-6] + ' ' + SECRET[-6:]), 'api_secret', 'whitespace',
     (SECRET[:-6], SECRET[-6:])),
    ('secret-non-ascii', dict(api_secret=SECRET + '\u2019'), 'api_secret', 'non-ASCII', (SECRET,)),
]

# Whether module results carry "invocation" on this ansible-core (2.21 made it a setting, off by default)
INJECTS_INVOCATION = tuple(int(x) for x in ansible_version.split('.')[:2]) < (2, 21)


def params(**overrides):
    p = dict(api_key=API_KEY, api_secret=SECRET, private_key=None, private_key_passphrase=None,
             base_url='https://eapi.binance.com', recv_window=5000, timeout=10.0, validate_certs=True, ca_path=None,
             weight_limit=2400, weight_reserve=None, account=None)
    p.update(overrides)
    return p


# --------------------------------------------------------------------------------------------
# base_url
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize('url', SECRET_URLS)
def test_base_url_errors_never_repeat_userinfo_query_or_fragment(url):
    with pytest.raises(ConfigError) as e:
        check_base_url(url)
    message = str(e.value)
    assert message.startswith('base_url')
    assert url not in message and not any(value in message for value in NEVER_SHOWN), message
    with pytest.raises(ValidationError) as e:
        validate_connection_params(BINANCE, params(base_url=url))
    assert e.value.option == 'base_url' and not any(value in str(e.value) for value in NEVER_SHOWN)


@pytest.mark.parametrize('url, words', [
    ('https://%s@gw.corp.example/' % USERINFO, 'must not carry a user name or password (the part before @)'),
    ('https://gw.corp.example/?token=%s' % TOKEN, 'must not carry a query string (the part after ?)'),
    ('https://gw.corp.example/?', 'must not carry a query string'),
    ('https://gw.corp.example/#%s' % TOKEN, 'must not carry a fragment (the part after #)'),
])
def test_base_url_errors_name_the_part_that_is_wrong(url, words):
    with pytest.raises(ConfigError, match=r'^base_url ') as e:
        check_base_url(url)
    assert words in str(e.value)


@pytest.mark.parametrize('url, words', [
    ('https://gw.corp.example:99999/', 'port'),
    ('https://gw.corp.example:8x43/', 'port'),
    ('http://[::1', 'host that is not valid'),
    ('http://[::1]x/', 'host that is not valid'),
    ('https://eapi.binance.com\n', 'whitespace'),
    ('ftp://gw.corp.example/a', 'got ftp://gw.corp.example/a'),
    ('gw.corp.example', 'http(s) URL'),
    ('', 'http(s) URL'),
    (None, 'http(s) URL'),
    (8443, 'http(s) URL'),
])
def test_a_malformed_base_url_is_a_clean_validation_error(url, words):
    with pytest.raises(ConfigError) as e:
        check_base_url(url)
    assert words in str(e.value) and 'Traceback' not in str(e.value)
    with pytest.raises(ValidationError) as e:
        validate_connection_params(BINANCE, params(base_url=url))
    assert e.value.option == 'base_url'


@pytest.mark.parametrize('url', ['http://127.0.0.1', 'http://127.0.0.1:8765/', 'http://127.1.2.3:1', 'http://[::1]:8765',
                                 'http://localhost:8765', 'http://LOCALHOST', 'http://LocalHost:1/eapi',
                                 'http://[::ffff:127.0.0.1]:8765'])
def test_plain_http_to_a_loopback_address(url):
    assert check_base_url(url) == url.rstrip('/')


@pytest.mark.parametrize('url', ['http://127.attacker.example/', 'http://127.0.0.1.nip.io/', 'http://localhost.evil/',
                                 'http://localhost./', 'http://127.1/', 'http://2130706433/', 'http://10.0.0.1/',
                                 'http://[::2]/', 'http://[::ffff:10.0.0.1]/', 'http://eapi.binance.com'])
def test_plain_http_to_anything_else_is_refused(url):
    with pytest.raises(ConfigError, match='plain http is only allowed to a loopback address') as e:
        check_base_url(url)
    assert 'use https' in str(e.value)


@pytest.mark.parametrize('url', ['https://eapi.binance.com', 'https://127.attacker.example/', 'https://10.0.0.1:8443/x',
                                 'https://[2001:db8::1]:443', 'https://localhost.evil'])
def test_https_to_any_host(url):
    assert check_base_url(url) == url.rstrip('/')


@pytest.mark.parametrize('host, loopback', [('127.0.0.1', True), ('127.255.0.9', True), ('::1', True),
                                            ('::ffff:127.0.0.1', True), ('localhost', True), ('LOCALHOST', True),
                                            ('127.attacker.example', False), ('localhost.evil', False),
                                            ('128.0.0.1', False), ('', False), (None, False)])
def test_is_loopback_host(host, loopback):
    assert is_loopback_host(host) is loopback


def test_url_secrets_are_the_url_and_its_secret_parts():
    assert url_secrets('https://eapi.binance.com') == [] and url_secrets('http://127.0.0.1:1/x') == []
    assert url_secrets(None) == [] and url_secrets(42) == []
    url = 'https://%s@gw.corp.example/?token=%s#frag%%40ment' % (USERINFO, TOKEN)
    found = url_secrets(url)
    for value in (url, USERINFO, PASSWORD, 'token=' + TOKEN, 'frag%40ment', 'frag@ment'):
        assert value in found
    assert 'svc' not in found and '' not in found  # the user name alone is no secret, and would mask too much
    assert url_secrets('https://svc:p%40ss@h/') == ['https://svc:p%40ss@h/', 'https://svc:p@ss@h/', 'svc:p%40ss',
                                                    'svc:p@ss', 'p%40ss', 'p@ss']
    assert url_secrets('https://h:1/#') == ['https://h:1/#']  # an empty fragment: the URL alone


# --------------------------------------------------------------------------------------------
# api_key and api_secret
# --------------------------------------------------------------------------------------------

MARK = 'SeCrEtVaLuE01'  # no message may hold it, nor a part of it


@pytest.mark.parametrize('value, words', [
    (MARK + '\n', 'ends with a newline; a Vault value written as a YAML block scalar `|` keeps one: write it with `|-`'),
    (MARK + '\r\n', 'ends with a newline'),
    ('\n', 'ends with a newline'),
    (MARK + ' ', 'begins or ends with whitespace'),
    (' ' + MARK, 'begins or ends with whitespace'),
    ('\t' + MARK, 'begins or ends with whitespace'),
    (MARK[:6] + ' ' + MARK[6:], 'contains whitespace'),
    (MARK[:6] + '\t' + MARK[6:], 'contains whitespace'),
    (MARK[:6] + '\n' + MARK[6:], 'contains whitespace'),
    (MARK[:6] + '\x00' + MARK[6:], 'contains a control character'),
    (MARK + '\x7f', 'contains a control character'),
    (MARK + '\u00e9', 'contains a non-ASCII character'),
    (MARK + '\u00a0', 'contains a non-ASCII character'),
    ('\u201c' + MARK + '\u201d', 'contains a non-ASCII character'),
    ('', 'is empty'),
    (None, 'must be a string'),
])
@pytest.mark.parametrize('option', ['api_key', 'api_secret'])
def test_a_key_that_no_key_can_be_fails_naming_the_option_never_the_value(option, value, words):
    with pytest.raises(ConfigError) as e:
        check_key_text(option, value)
    assert str(e.value).startswith(option + ': ') and words in str(e.value)
    if option == 'api_secret' and not value:
        return  # an unset or empty api_secret is "set exactly one of api_secret and private_key"
    with pytest.raises(ValidationError) as e:
        validate_connection_params(BINANCE, params(**{option: value}))
    message = str(e.value)
    assert e.value.option == option and message.startswith(option + ': ') and words in message
    assert MARK[:6] not in message and MARK[6:] not in message


def test_good_keys_pass():
    assert check_key_text('api_key', API_KEY) == API_KEY
    assert check_key_text('api_key', '!~' * 32, 64) == '!~' * 32
    with pytest.raises(ConfigError, match='longer than 64'):
        check_key_text('api_key', 'a' * 65, 64)
    validate_connection_params(BINANCE, params())
    validate_connection_params(BINANCE, params(api_key='a' * 256))
    with pytest.raises(ValidationError, match='api_key: is longer than 256'):
        validate_connection_params(BINANCE, params(api_key='a' * 257))


def test_private_key_and_passphrase_are_not_checked_as_keys():
    # PEM text has line breaks; a passphrase may hold anything. Both are checked when the key is loaded.
    validate_connection_params(BINANCE, params(api_secret=None, private_key='-----BEGIN PRIVATE KEY-----\nabc\n-----END '
                                               'PRIVATE KEY-----\n', private_key_passphrase='a phrase\n'))


# --------------------------------------------------------------------------------------------
# Every module, both paths: the task fails, names the option, sends nothing, shows no secret
# --------------------------------------------------------------------------------------------

CASES = [(module, case) for module in sorted(CORES) for case in BAD_INPUTS]


@pytest.mark.parametrize('path', ['module', 'fast'])
@pytest.mark.parametrize('module, case', CASES, ids=['%s-%s' % (m, c[0]) for m, c in CASES])
def test_bad_connection_input_fails_before_any_request_on_both_paths(exchange, capsys, path, module, case):
    name, overrides, option, words, never = case
    args = dict(MODULE_ARGS[module], api_key=API_KEY, api_secret=SECRET, account='acct-input')
    args.update(overrides)
    if path == 'module':
        result = run_module(capsys, module, args, False)
    else:
        result = run_action(module, args, False, 'marketops.mmp.%s' % module)
    text = json.dumps(result)
    assert result['failed'] is True and result['option'] == option
    assert result['msg'].startswith('account acct-input: %s' % option) and words in result['msg']
    for value in never:
        assert value not in text, '%s in %s' % (value, text)
    if not INJECTS_INVOCATION:  # ansible-core 2.21+ leaves "invocation" out of results by default: nothing shown
        assert 'invocation' not in result and exchange.journal == []
        return
    shown = result['invocation']['module_args']
    if option == 'base_url' and never:  # a URL with a secret in it is masked in the invocation too
        assert shown['base_url'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' and overrides['base_url'] not in text
    else:
        assert shown['base_url'] == overrides.get('base_url', 'https://eapi.binance.com')
    assert shown['api_key'] == shown['api_secret'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'
    assert exchange.journal == []


@pytest.mark.parametrize('path', ['module', 'fast'])
@pytest.mark.parametrize('variable, value, option', [
    ('BINANCE_API_KEY', API_KEY + '\n', 'api_key'),
    ('BINANCE_API_SECRET', ' ' + SECRET, 'api_secret'),
    ('BINANCE_EAPI_URL', 'https://%s@gw.corp.example/' % USERINFO, 'base_url'),
])
def test_env_fallbacks_are_checked_as_the_options(exchange, capsys, monkeypatch, path, variable, value, option):
    monkeypatch.setenv(variable, value)
    args = dict(MODULE_ARGS['binance_mmp_info'], api_key=API_KEY, api_secret=SECRET)
    args.pop(option, None)
    if path == 'module':
        result = run_module(capsys, 'binance_mmp_info', args, False)
    else:
        result = run_action('binance_mmp_info', args, False, 'marketops.mmp.binance_mmp_info')
    text = json.dumps(result)
    assert result['failed'] is True and result['option'] == option and result['msg'].startswith(option)
    assert value not in text and value.strip() not in text and PASSWORD not in text
    assert exchange.journal == []
