# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action plugin's own pieces (the end-to-end tests run it for real through ansible-playbook)."""

from __future__ import annotations

import os

from ansible_collections.marketops.binance.plugins.action.binance_mmp import apply_env_fallbacks, connection_environment
from ansible_collections.marketops.binance.plugins.module_utils.mmp import mmp_argument_spec


def test_env_fallbacks_prefer_the_task_environment(monkeypatch):
    monkeypatch.setenv('BINANCE_API_KEY', 'from-the-controller')
    monkeypatch.setenv('BINANCE_API_SECRET', 'secret-from-the-controller')
    monkeypatch.delenv('BINANCE_EAPI_URL', raising=False)
    params = apply_env_fallbacks(mmp_argument_spec(), {'underlying': 'BTCUSDT', 'api_secret': 'given'},
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
