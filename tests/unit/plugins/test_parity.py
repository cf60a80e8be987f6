# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module: its main() and the shared action plugin (the controller fast path) on the same fake exchange
return identical results, for success, warnings, check mode, exchange errors and bad input; and both mask every
no_log value, on every ansible-core."""

from __future__ import annotations

import copy
import importlib
import json
import os
import time

from unittest.mock import MagicMock

import pytest
import yaml

from ansible.module_utils.common.parameters import PASS_VARS

from ansible_collections.marketops.mmp.plugins.module_utils.binance.modules import CORES
from ansible_collections.marketops.mmp.plugins.module_utils.deribit.modules import CORES as DERIBIT_CORES
from ansible_collections.marketops.mmp.tests.unit.deribit_helpers import CLIENT_ID, CLIENT_SECRET, FakeDeribit
from ansible_collections.marketops.mmp.tests.unit.helpers import API_KEY, SECRET, answer
from ansible_collections.marketops.mmp.tests.unit.plugins.modules.test_binance_mmp import (  # noqa: F401 pylint: disable=unused-import
    module_process,  # an autouse fixture: modules run as in a process of their own
    patch_module_args,
    warning_text,
)

AUTH = dict(api_key=API_KEY, api_secret=SECRET, account='acct-parity')
NOW = int(time.time() * 1000)
MASK = 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'  # a no_log option's value in "invocation"
MASKED = '********'  # a no_log value anywhere else in a result

# ansible-core 2.21 made "invocation" in a module's result a setting (INJECT_INVOCATION, default false; a module
# learns it from _ansible_inject_invocation); before, every result had it. Each case runs with the default and with
# "invocation" asked for where that is a setting, so that the masking of no_log options in "invocation" is checked on
# every ansible-core, and that 2.21's default (no "invocation" on either path) is checked too.
INJECT_IS_A_SETTING = 'inject_invocation' in PASS_VARS
INVOCATION = ['default', 'injected']


def invocation_expected(invocation):
    return invocation == 'injected' or not INJECT_IS_A_SETTING


def echoed(*secrets):
    """An exchange's error message that repeats what it was sent, secrets included (a careless exchange or proxy):
    masked on both paths, on every ansible-core, whether or not the result carries "invocation"."""
    return 'Invalid request: the signature does not match the credentials %s' % ' / '.join(secrets)


# module -> scenarios: (name, args, check_mode, set-up of the fake exchange)
SCENARIOS = {
    'binance_mmp': [
        ('drift', dict(underlying='btcusdt', window_ms=3000, frozen_ms=0, qty_limit='2', delta_limit=2.3), False, None),
        ('check', dict(underlying='ETHUSDT', window_ms=3000, frozen_ms=1, qty_limit='2', delta_limit='2'), True, None),
        ('bad', dict(underlying='ETHUSDT', window_ms=6000, frozen_ms=1, qty_limit='2', delta_limit='2'), False, None),
        ('refused', dict(underlying='BTCUSDT', window_ms=3000, frozen_ms=1, qty_limit='2', delta_limit='2'), False,
         lambda ex: ex.add_fault('GET', '/eapi/v1/mmp', answer(400, {'code': -1128, 'msg': 'Invalid underlying.'}))),
        ('echo', dict(underlying='BTCUSDT', window_ms=3000, frozen_ms=1, qty_limit='2', delta_limit='2'), False,
         lambda ex: ex.add_fault('GET', '/eapi/v1/mmp', answer(400, {'code': -1022, 'msg': echoed(API_KEY, SECRET)}))),
    ],
    'binance_mmp_info': [
        ('all', dict(), False, lambda ex: ex.configure('BTCUSDT', 3000, 0, '2', '2.3', last_trigger_time=NOW - 5000)),
        ('some', dict(underlyings=['ethusdt']), True, lambda ex: ex.countdowns.update(ETHUSDT=30000)),
        ('bad', dict(underlyings=['ETH-USDT']), False, None),
        ('refused', dict(underlyings=['BTCUSDT']), False,
         lambda ex: ex.add_fault('GET', '/eapi/v1/countdownCancelAll', answer(200, 'not json'))),
    ],
    'binance_mmp_reset': [
        ('frozen', dict(underlying='BTCUSDT'), False,
         lambda ex: ex.configure('BTCUSDT', 3000, 0, '2', '2.3', last_trigger_time=NOW - 5000)),
        ('check', dict(underlying='BTCUSDT', only_if_frozen=False), True, None),
        ('bad', dict(underlying='BTC_USDT'), False, None),
        ('type', dict(underlying='BTCUSDT', only_if_frozen='maybe'), False, None),
        ('missing', dict(), False, None),
    ],
    'binance_kill_switch': [
        ('arm', dict(underlying='ETHUSDT', countdown_ms=30000), False, None),
        ('check', dict(underlying='ETHUSDT', countdown_ms=0), True, lambda ex: ex.countdowns.update(ETHUSDT=9000)),
        ('bad', dict(underlying='ETHUSDT', countdown_ms=4000), False, None),
        ('unknown-option', dict(underlying='ETHUSDT', countdown_ms=0, countdown=5), False, None),
    ],
    'binance_mmp_configs': [
        ('drift', dict(state='replaced', config=[dict(underlying='btcusdt', window_ms=3000, frozen_ms=0, qty_limit='2',
                                                      delta_limit=2.3, kill_switch_ms=30000)]), False, None),
        ('check', dict(config=[dict(underlying='ETHUSDT', window_ms=3000, frozen_ms=1, qty_limit='2', delta_limit='2')]),
         True, None),
        ('bad', dict(state='deleted', config=[dict(underlying='ETHUSDT')]), False, None),
        ('type', dict(config=[dict(underlying='ETHUSDT', window_ms='soon')]), False, None),
        ('rendered', dict(state='rendered', config=[dict(underlying='ETHUSDT', window_ms=1, frozen_ms=1, qty_limit=1,
                                                         delta_limit=1)]), False, None),
    ],
}
CASES = [(module, scenario) for module, scenarios in SCENARIOS.items() for scenario in scenarios]

DERIBIT_AUTH = dict(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, account='acct-parity')
BTC = dict(index_name='btc_usd', window_s=10, frozen_s=0, qty_limit='2', vega_limit=100.5)
DERIBIT_SCENARIOS = {
    'deribit_mmp': [
        ('drift', BTC, False, None),
        ('check', dict(BTC, mmp_group='g1', max_quote_qty=1), True, None),
        ('absent', dict(index_name='btc_usd', state='absent'), False,
         lambda ex: ex.configs.update({('btc_usd', None, False): dict(interval=5, frozen_time=1, quantity_limit=1)})),
        ('bad', dict(BTC, window_s=3601), False, None),
        ('refused', BTC, False, lambda ex: ex.faults.append(
            ('private/get_mmp_config', lambda: FakeDeribit.error(13011, 'insufficient_scope')))),
        ('echo', BTC, False, lambda ex: ex.faults.append(
            ('private/get_mmp_config', lambda: FakeDeribit.error(13009, echoed(CLIENT_SECRET))))),
    ],
    'deribit_mmp_info': [
        ('all', dict(), False, lambda ex: ex.frozen.update({('btc_usd', None, False): 0})),
        ('bad', dict(index_name='btc-usd'), False, None),
    ],
    'deribit_mmp_reset': [
        ('frozen', dict(index_name='btc_usd'), False, lambda ex: ex.frozen.update({('btc_usd', None, False): 0})),
        ('check', dict(index_name='BTC_USD', only_if_frozen=False), True, None),
        ('bad', dict(index_name='all'), False, None),
        ('missing', dict(), False, None),
    ],
    'deribit_mmp_configs': [
        ('drift', dict(state='overridden', config=[BTC]), False, lambda ex: ex.configs.update(
            {('eth_usd', 'q1', False): dict(interval=5, frozen_time=1, quantity_limit=1)})),
        ('check', dict(state='deleted'), True, lambda ex: ex.configs.update(
            {('all', None, True): dict(interval=5, frozen_time=1, quantity_limit=1)})),
        ('bad', dict(config=[BTC, dict(BTC, index_name='BTC_USD')]), False, None),
    ],
}
DERIBIT_CASES = [(module, scenario) for module, scenarios in DERIBIT_SCENARIOS.items() for scenario in scenarios]


def test_every_module_has_scenarios_and_an_action_plugin():
    assert sorted(SCENARIOS) == sorted(CORES)
    for module in CORES:
        importlib.import_module('ansible_collections.marketops.mmp.plugins.modules.%s' % module)
        assert action_plugin_of(module) == 'binance_mmp'
    importlib.import_module('ansible_collections.marketops.mmp.plugins.action.binance_mmp')
    assert sorted(DERIBIT_SCENARIOS) == sorted(DERIBIT_CORES)
    for module in DERIBIT_CORES:
        importlib.import_module('ansible_collections.marketops.mmp.plugins.modules.%s' % module)
        assert action_plugin_of(module) == 'deribit_mmp'
    importlib.import_module('ansible_collections.marketops.mmp.plugins.action.deribit_mmp')


def action_plugin_of(module):
    """The action plugin that handles ``module``'s tasks: its own, or the one meta/runtime.yml routes it to."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, '..', '..', '..', 'meta', 'runtime.yml')) as f:
        routing = yaml.safe_load(f).get('plugin_routing', {}).get('modules', {})
    routed = (routing.get(module) or {}).get('action_plugin')
    if routed:
        return routed.rsplit('.', 1)[-1]
    return module if os.path.exists(os.path.join(here, '..', '..', '..', 'plugins', 'action', module + '.py')) else None


@pytest.fixture(autouse=True)
def fresh_module_warnings():
    """A module's warnings are process-global; a real module runs in a process of its own."""
    from ansible.module_utils.common import warnings
    warnings._global_warnings.clear()
    yield
    warnings._global_warnings.clear()


def run_module(capsys, module, args, check_mode, invocation='default'):
    # the action plugin runs a module under its FQCN (as ansible-playbook names it)
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=False,
                _ansible_module_name='marketops.mmp.%s' % module)
    if invocation == 'injected' and INJECT_IS_A_SETTING:
        args['_ansible_inject_invocation'] = True  # as ansible-core's action plugins pass INJECT_INVOCATION on
    main = importlib.import_module('ansible_collections.marketops.mmp.plugins.modules.%s' % module).main
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            main()
    return json.loads(capsys.readouterr().out)


def run_action(module, args, check_mode, action_name, invocation='default'):
    plugin = importlib.import_module('ansible_collections.marketops.mmp.plugins.action.%s'
                                     % action_plugin_of(module)).ActionModule
    task = MagicMock(action=action_name, args=dict(args), async_val=0, check_mode=check_mode, diff=False)
    connection = MagicMock(transport='local')
    play_context = MagicMock(check_mode=check_mode, diff=False)
    action = plugin(task, connection, play_context, loader=MagicMock(), templar=MagicMock(),
                    shared_loader_obj=MagicMock())
    action._compute_environment_string = lambda raw_environment_out=None: ''
    return action.run(task_vars={'ansible_inject_invocation': True} if invocation == 'injected' else {})


def check_masking(result, invocation, option, secrets, echo):
    """No no_log value (``secrets``) in the result; ``option`` masked in "invocation", which the result must have
    where ansible-core adds it (and must not have where it does not); an exchange's message that repeated the
    secrets (``echo``) shows each of them masked."""
    text = json.dumps(result)
    assert not [secret for secret in secrets if secret in text]
    if invocation_expected(invocation):
        assert result['invocation']['module_args'][option] == MASK, result.get('invocation')
    else:
        assert 'invocation' not in result
    if echo:
        assert 'does not match the credentials %s' % ' / '.join([MASKED] * len(secrets)) in result['msg'], result['msg']


def comparable(result):
    result = copy.deepcopy(result)
    result['warnings'] = [warning_text(w) for w in result.get('warnings', [])]
    for key in list(result):
        if key.startswith('_ansible') or key in ('deprecations',):
            del result[key]
    result.pop('used_weight', None)  # the fake exchange's counter keeps counting across the two runs
    return result


@pytest.mark.parametrize('module, scenario', CASES, ids=['%s-%s' % (m, s[0]) for m, s in CASES])
@pytest.mark.parametrize('action_name', ['fqcn', 'short'])
@pytest.mark.parametrize('invocation', INVOCATION)
def test_module_and_fast_path_return_the_same(exchange, capsys, module, scenario, action_name, invocation):
    name, args, check_mode, setup = scenario
    args = dict(AUTH, **args)
    results = []
    for path in ('module', 'fast'):
        exchange.state.clear()
        exchange.countdowns.clear()
        exchange.faults.clear()
        if setup:
            setup(exchange)
        before = len(exchange.journal)
        if path == 'module':
            results.append(comparable(run_module(capsys, module, args, check_mode, invocation)))
        else:
            action = 'marketops.mmp.%s' % module if action_name == 'fqcn' else module
            results.append(comparable(run_action(module, args, check_mode, action, invocation)))
        results[-1]['_requests'] = [(j['method'], j['path']) for j in exchange.journal[before:]]
    assert results[0] == results[1]
    result = results[0]
    # Ansible's own argument-spec errors (type, required, unknown option) come before the collection's code runs,
    # on both paths; every error of the collection's own validation names the account.
    if name in ('bad', 'missing', 'unknown-option', 'type'):
        assert result['failed'] is True and result['_requests'] == []
    if name in ('bad', 'refused', 'echo'):
        assert result['msg'].startswith('account acct-parity: ')
    if check_mode:
        assert all(method == 'GET' for method, path in result['_requests'])
    check_masking(result, invocation, 'api_secret', (API_KEY, SECRET), echo=name == 'echo')


@pytest.fixture
def deribit():
    import responses
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeDeribit(rsps)


@pytest.mark.parametrize('module, scenario', DERIBIT_CASES, ids=['%s-%s' % (m, s[0]) for m, s in DERIBIT_CASES])
@pytest.mark.parametrize('action_name', ['fqcn', 'short'])
@pytest.mark.parametrize('invocation', INVOCATION)
def test_deribit_module_and_fast_path_return_the_same(deribit, capsys, module, scenario, action_name, invocation):
    name, args, check_mode, setup = scenario
    args = dict(DERIBIT_AUTH, **args)
    results = []
    for path in ('module', 'fast'):
        deribit.configs.clear()
        deribit.frozen.clear()
        del deribit.faults[:]
        if setup:
            setup(deribit)
        before = len(deribit.journal)
        if path == 'module':
            results.append(comparable(run_module(capsys, module, args, check_mode, invocation)))
        else:
            action = 'marketops.mmp.%s' % module if action_name == 'fqcn' else module
            results.append(comparable(run_action(module, args, check_mode, action, invocation)))
        results[-1]['_requests'] = [j['method'] for j in deribit.journal[before:]]
    assert results[0] == results[1]
    result = results[0]
    if name in ('bad', 'missing'):
        assert result['failed'] is True and result['_requests'] == []
    if name in ('bad', 'refused', 'echo'):
        assert result['msg'].startswith('account acct-parity: ')
    if name == 'refused':
        assert result['code'] == 13011 and 'trade:read_write' in result['msg']
    if check_mode:
        assert not [m for m in result['_requests'] if m in ('private/set_mmp_config', 'private/reset_mmp')]
    if name in ('drift', 'absent', 'frozen'):
        assert result['changed'] is True
    check_masking(result, invocation, 'client_secret', (CLIENT_SECRET,), echo=name == 'echo')
