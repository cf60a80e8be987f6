# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The binance_mmp module run as Ansible runs it: arguments in, one JSON document out."""

from __future__ import annotations

import contextlib
import json

import pytest

from ansible_collections.marketops.mmp.plugins.modules import binance_mmp
from ansible_collections.marketops.mmp.tests.unit.helpers import API_KEY, SECRET, answer, signing_key

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args):
        old = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = old


@pytest.fixture(autouse=True)
def module_process(monkeypatch):
    """A module runs in its own process, not in the controller: its warnings go into its result (ansible-core
    2.19 routes them to the display once controller code, such as an action plugin, was imported)."""
    try:
        from ansible.module_utils import _internal
    except ImportError:  # older ansible-core: no controller/module split to undo
        return
    if hasattr(_internal, 'is_controller'):
        monkeypatch.setattr(_internal, 'is_controller', False)


def run_module(capsys, args, check_mode=False, diff=False):
    args = dict(args)
    args['_ansible_check_mode'] = check_mode
    args['_ansible_diff'] = diff
    with patch_module_args(args):
        with pytest.raises(SystemExit) as e:
            binance_mmp.main()
    out = capsys.readouterr().out
    result = json.loads(out)
    result['_rc'] = e.value.code
    result['_raw'] = out
    return result


def warning_text(warning):
    """A warning as text: a plain string before ansible-core 2.19, a summary object since."""
    return warning if isinstance(warning, str) else warning['event']['msg']


def args(**overrides):
    a = dict(underlying='btcusdt', window_ms=3000, frozen_ms=300000, qty_limit='2', delta_limit=2.3,
             api_key=API_KEY, api_secret=SECRET)
    a.update(overrides)
    return a


def test_changes_then_is_idempotent(exchange, capsys):
    first = run_module(capsys, args())
    assert first['_rc'] == 0 and first['changed'] is True
    assert first['config'] == dict(underlying='BTCUSDT', window_ms=3000, frozen_ms=300000, qty_limit='2',
                                   delta_limit='2.3', last_trigger_time=0)
    assert 'diff' not in first
    assert first['used_weight'] == 2
    second = run_module(capsys, args(qty_limit=2.0, delta_limit='2.30'))
    assert second['changed'] is False
    assert len(exchange.journal) == 3 and len(exchange.writes) == 1


def test_check_mode_returns_a_diff_and_writes_nothing(exchange, capsys):
    exchange.configure('BTCUSDT', 3000, 300000, '2', '2.3')
    result = run_module(capsys, args(window_ms=1000), check_mode=True)
    assert result['changed'] is True and exchange.writes == []
    assert result['diff']['before']['window_ms'] == 3000 and result['diff']['after']['window_ms'] == 1000


def test_diff_mode(exchange, capsys):
    result = run_module(capsys, args(), diff=True)
    assert result['diff']['after']['qty_limit'] == '2' and result['diff']['before']['qty_limit'] == '0'


def test_frozen_zero_warns(exchange, capsys):
    result = run_module(capsys, args(frozen_ms=0))
    assert any('manual reset' in warning_text(w) for w in result['warnings'])


def test_validation_failure_names_the_option_and_sends_nothing(exchange, capsys):
    result = run_module(capsys, args(window_ms=6000))
    assert result['failed'] is True and result['_rc'] == 1
    assert result['msg'].startswith('window_ms: got 6000; ') and '(0, 5000]' in result['msg']
    assert exchange.journal == []


def test_type_failure_sends_nothing(exchange, capsys):
    result = run_module(capsys, args(window_ms='soon'))
    assert result['failed'] is True and 'window_ms' in result['msg'] and exchange.journal == []


def test_both_secrets_are_mutually_exclusive(exchange, capsys):
    pem = signing_key('ed25519_test_key.pem')
    result = run_module(capsys, args(private_key=pem))
    assert result['failed'] is True and 'both set' in result['msg'] and exchange.journal == []
    assert 'BEGIN PRIVATE KEY' not in result['_raw'] and SECRET not in result['_raw']


def test_credentials_from_the_environment(exchange, capsys, monkeypatch):
    monkeypatch.setenv('BINANCE_API_KEY', API_KEY)
    monkeypatch.setenv('BINANCE_API_SECRET', SECRET)
    a = args()
    del a['api_key'], a['api_secret']
    result = run_module(capsys, a)
    assert result['changed'] is True
    assert SECRET not in result['_raw']


def test_api_failure_is_precise_and_masks_secrets(exchange, capsys):
    exchange.add_fault('GET', '/eapi/v1/mmp', answer(401, {'code': -2015, 'msg': 'Invalid API-key, IP, or '
                                                           'permissions for action.'}))
    result = run_module(capsys, args())
    assert result['failed'] is True
    assert 'BTCUSDT' in result['msg'] and '-2015' in result['msg'] and 'IP whitelist' in result['msg']
    assert result['code'] == -2015
    assert SECRET not in result['_raw'] and 'signature' not in result['_raw']
    assert API_KEY not in result['msg']


def test_missing_cryptography_gives_the_standard_message(exchange, capsys, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, 'cryptography.hazmat.primitives.serialization', None)
    pem = signing_key('ed25519_test_key.pem')
    result = run_module(capsys, args(api_secret=None, private_key=pem))
    assert result['failed'] is True
    assert 'Failed to import the required Python library (cryptography)' in result['msg']
    assert 'BEGIN PRIVATE KEY' not in result['_raw'] and exchange.journal == []


def test_missing_requests_gives_the_standard_message(exchange, capsys, monkeypatch):
    from ansible_collections.marketops.mmp.plugins.module_utils import runner
    monkeypatch.setattr(runner, 'HAS_REQUESTS', False)  # the check every module's main() runs (runner.run_module)
    result = run_module(capsys, args())
    assert result['failed'] is True
    assert 'Failed to import the required Python library (requests)' in result['msg']
    assert exchange.journal == []
