# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action plugin's own pieces (the end-to-end tests run it for real through ansible-playbook)."""

from __future__ import annotations

import os

from ansible.release import __version__ as ansible_version

from ansible_collections.marketops.mmp.plugins.module_utils.binance.mmp import MMP
from ansible_collections.marketops.mmp.plugins.module_utils.runner import argument_spec
from ansible_collections.marketops.mmp.plugins.plugin_utils.fast_path import (
    apply_env_fallbacks,
    connection_environment,
    injects_invocation,
)


def test_env_fallbacks_prefer_the_task_environment(monkeypatch):
    monkeypatch.setenv('BINANCE_API_KEY', 'from-the-controller')
    monkeypatch.setenv('BINANCE_API_SECRET', 'secret-from-the-controller')
    monkeypatch.delenv('BINANCE_EAPI_URL', raising=False)
    params = apply_env_fallbacks(argument_spec(MMP), {'underlying': 'BTCUSDT', 'api_secret': 'given'},
                                 {'BINANCE_API_KEY': 'from-the-task-environment'})
    assert params['api_key'] == 'from-the-task-environment'
    assert params['api_secret'] == 'given'  # a given option wins over any fallback
    assert 'base_url' not in params  # no fallback value: the spec's default applies later


def test_connection_environment_applies_the_task_proxy_and_ca_settings_then_restores(monkeypatch):
    monkeypatch.setenv('HTTPS_PROXY', 'http://controller-proxy:3128')
    monkeypatch.delenv('REQUESTS_CA_BUNDLE', raising=False)
    monkeypatch.delenv('no_proxy', raising=False)
    task_env = {'HTTPS_PROXY': 'http://task-proxy:8080', 'REQUESTS_CA_BUNDLE': '/etc/corp-ca.pem', 'no_proxy': 'internal',
                'UNRELATED': 'x'}
    with connection_environment(task_env):
        assert os.environ['HTTPS_PROXY'] == 'http://task-proxy:8080'
        assert os.environ['REQUESTS_CA_BUNDLE'] == '/etc/corp-ca.pem' and os.environ['no_proxy'] == 'internal'
        assert 'UNRELATED' not in os.environ  # only what requests reads to connect
    assert os.environ['HTTPS_PROXY'] == 'http://controller-proxy:3128'
    assert 'REQUESTS_CA_BUNDLE' not in os.environ and 'no_proxy' not in os.environ


# ---------------------------------------------------------------------------------------------
# One implementation for every module: dispatch by the task's action name, fallbacks to the module
# ---------------------------------------------------------------------------------------------

import importlib  # noqa: E402 pylint: disable=wrong-import-position

from unittest.mock import MagicMock  # noqa: E402 pylint: disable=wrong-import-position

import pytest  # noqa: E402 pylint: disable=wrong-import-position

from ansible_collections.marketops.mmp.plugins.module_utils.binance.modules import CORES  # noqa: E402 pylint: disable=wrong-import-position
from ansible_collections.marketops.mmp.plugins.plugin_utils.fast_path import (  # noqa: E402 pylint: disable=wrong-import-position
    FastPathAction,
    core_of,
    module_of,
)

# The one action plugin of every module (meta/runtime.yml routes the others to it)
ACTION_PLUGIN = 'binance_mmp'


@pytest.mark.parametrize('action, module', [
    ('binance_mmp_info', 'binance_mmp_info'), ('marketops.mmp.binance_kill_switch', 'binance_kill_switch'),
    ('ansible_collections.marketops.mmp.plugins.modules.binance_mmp_reset', 'binance_mmp_reset'),
    ('other.collection.binance_mmp', None), ('marketops.mmp.unknown', None), (None, None),
])
def test_module_of(action, module):
    assert module_of(action) == module


@pytest.mark.parametrize('module, found', [('binance_mmp', True), ('binance_nothing', False), ('nosuchvenue_mmp', False),
                                           ('Binance_mmp', False), ('binance', False), ('../x_y', False)])
def test_a_modules_core_is_found_in_its_venue_package(module, found):
    assert (core_of(module) is not None) is found
    if found:
        assert core_of(module) is CORES[module]


def make_action(module, action_name, async_val=0, transport='local'):
    plugin = importlib.import_module('ansible_collections.marketops.mmp.plugins.action.%s' % ACTION_PLUGIN).ActionModule
    assert issubclass(plugin, FastPathAction)
    task = MagicMock(action=action_name, args={'underlying': 'BTCUSDT'}, async_val=async_val, check_mode=False,
                     diff=False)
    connection = MagicMock(transport=transport, has_native_async=False)
    action = plugin(task, connection, MagicMock(check_mode=False, diff=False), loader=MagicMock(),
                    templar=MagicMock(), shared_loader_obj=MagicMock())
    action._execute_module = MagicMock(return_value={'changed': False, 'executed': True})
    action._remove_tmp_path = MagicMock()
    action.run_in_process = MagicMock(return_value={'changed': False, 'in_process': True})
    return action


@pytest.mark.parametrize('module', sorted(CORES))
def test_every_module_takes_the_fast_path_on_the_controller(module):
    action = make_action(module, 'marketops.mmp.%s' % module)
    result = action.run(task_vars={})
    assert result['in_process'] is True and not action._execute_module.called
    assert action.run_in_process.call_args.kwargs['module'] == module


@pytest.mark.parametrize('module', sorted(CORES))
def test_async_tasks_run_the_module(module):
    action = make_action(module, module, async_val=30)
    result = action.run(task_vars={})
    assert result['executed'] is True and not action.run_in_process.called
    kwargs = action._execute_module.call_args.kwargs
    assert kwargs['module_name'] == 'marketops.mmp.%s' % module and kwargs['wrap_async'] is True
    assert not action._remove_tmp_path.called  # the async wrapper cleans up after itself


def test_remote_disabled_or_unknown_run_the_module():
    remote = make_action('binance_mmp_reset', 'marketops.mmp.binance_mmp_reset', transport='ssh')
    assert remote.run(task_vars={})['executed'] is True
    assert remote._execute_module.call_args.kwargs['wrap_async'] is False and remote._remove_tmp_path.called
    disabled = make_action('binance_mmp_info', 'binance_mmp_info')
    assert disabled.run(task_vars={'marketops_mmp_fast_path': False})['executed'] is True
    unknown = make_action('binance_mmp', 'someone.else.binance_mmp')
    assert unknown.run(task_vars={})['executed'] is True
    assert unknown._execute_module.call_args.kwargs['module_name'] == 'someone.else.binance_mmp'


def test_invocation_is_injected_as_this_ansible_core_does(monkeypatch):
    """ansible-core 2.21 made "invocation" in module results a setting, off by default; before, it was always there."""
    monkeypatch.delenv('ANSIBLE_INJECT_INVOCATION', raising=False)
    setting_exists = tuple(int(x) for x in ansible_version.split('.')[:2]) >= (2, 21)
    assert injects_invocation({}) is (not setting_exists)
    assert injects_invocation({'ansible_inject_invocation': True}) is True
    if setting_exists:
        assert injects_invocation({'ansible_inject_invocation': False}) is False
