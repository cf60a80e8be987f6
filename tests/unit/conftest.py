# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the unit tests."""

from __future__ import annotations

import time

import pytest
import responses

from ansible_collections.marketops.binance.tests.unit.helpers import FakeExchange


@pytest.fixture
def sleeps(monkeypatch):
    """Replace time.sleep with a recorder: retries are tested without waiting."""
    calls = []
    monkeypatch.setattr(time, 'sleep', calls.append)
    return calls


@pytest.fixture(autouse=True)
def private_weight_ledger(monkeypatch, tmp_path):
    """Each test gets its own pacing ledger and process state, never the user's ledger."""
    from ansible_collections.marketops.binance.plugins.module_utils import client, pacing
    ledger_dir = tmp_path / 'pacing-ledger'
    monkeypatch.setattr(pacing.Ledger, 'for_url', classmethod(lambda cls, url, base_dir=None: cls(str(ledger_dir / 'ledger.json'))))
    monkeypatch.setattr(pacing, '_LOCAL', {})
    monkeypatch.setattr(client, '_SESSIONS', {})


@pytest.fixture
def exchange():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeExchange(rsps)
