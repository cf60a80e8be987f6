# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the unit tests."""

from __future__ import annotations

import json
import time

import pytest
import responses

from ansible_collections.marketops.mmp.tests.unit.helpers import FakeExchange


@pytest.fixture
def sleeps(monkeypatch):
    """Replace time.sleep with a recorder: retries are tested without waiting."""
    calls = []
    monkeypatch.setattr(time, 'sleep', calls.append)
    return calls


@pytest.fixture(autouse=True)
def private_weight_ledger(monkeypatch, tmp_path, request):
    """Each test gets its own pacing ledger and process state, never the user's ledger.

    The ledger starts as an earlier task of the controller left it: Binance's published limit (2400) read a minute
    ago, so that a test's first request is the one it is about. Tests of reading the limit (and of an empty ledger)
    say ``@pytest.mark.cold_ledger``: their ledger starts empty.
    """
    from ansible_collections.marketops.mmp.plugins.module_utils import transport, pacing
    ledger_dir = tmp_path / 'pacing-ledger'
    # one file for every URL; an account's (a scope's) file of its own, as in the user's directory
    monkeypatch.setattr(pacing.Ledger, 'for_url', classmethod(lambda cls, url, base_dir=None, scope=None: cls(str(
        ledger_dir / ('ledger.json' if scope is None else pacing.ledger_name(url, scope))))))
    monkeypatch.setattr(pacing, '_LOCAL', {})
    monkeypatch.setattr(transport, '_SESSIONS', {})
    if request.node.get_closest_marker('cold_ledger') is None:
        ledger_dir.mkdir(mode=0o700)
        path = ledger_dir / 'ledger.json'
        path.write_text(json.dumps({'v': 2, 'rate_limit': {'weight_per_minute': 2400, 'at': time.time() - 60,
                                                           'read': True}}))
        path.chmod(0o600)


def pytest_configure(config):
    config.addinivalue_line('markers', 'cold_ledger: the pacing ledger starts empty (no published limit known yet)')


@pytest.fixture
def exchange():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeExchange(rsps)
