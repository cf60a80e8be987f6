# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deribit's stops end to end, scoped as Deribit counts: an HTTP 418 holds every account on the URL, a 429 (code
10028) the account that met it, each for as long as its Retry-After says; through the module and the fast path."""

from __future__ import annotations

import re

import pytest

from ansible_collections.marketops.mmp.tests.e2e.conftest import PATHS
from ansible_collections.marketops.mmp.tests.e2e.test_deribit_playbooks import BTC, DEFAULTS, calls, deribit_host

RETRY_AFTER = 600


def sent_by(emulator, account):
    """The requests of ``account`` (by the client id it claimed: a fault answers before authenticating)."""
    return [c for c in calls(emulator) if c.get('claimed_client_id') == account['client_id']]


def seconds_left(output):
    """The seconds left of the stop a failed task names ('(597 s left)')."""
    found = re.findall(r'\((\d+) s left\)', output)
    assert found, output
    return int(found[-1])


def host(account, emulator):
    return deribit_host(account, emulator.url, [BTC], deribit_mmp_defaults=DEFAULTS)


@pytest.mark.parametrize('path', PATHS)
def test_a_418_holds_every_deribit_account_on_the_url_for_its_retry_after(
        deribit_emulator, deribit_accounts, run_playbook, path):
    emu, a, b = deribit_emulator, deribit_accounts['deribit-a'], deribit_accounts['deribit-b']
    emu.add_faults([dict(kind='status', status=418, message='banned', client_id=a['client_id'],
                         retry_after=RETRY_AFTER)])

    banned = run_playbook({'der-a': host(a, emu)}, path=path)
    text = ' '.join(banned.output.split())
    assert banned.rc != 0 and 'HTTP 418' in text, banned.output
    mine = sent_by(emu, a)
    assert mine and mine[-1].get('status') == 418, mine  # nothing sent after the 418
    assert RETRY_AFTER - 30 <= seconds_left(text) <= RETRY_AFTER, text

    # another account on the same URL sends nothing: the ban is the URL's, recorded for as long as Retry-After said
    held = run_playbook({'der-b': host(b, emu)}, path=path)
    text = ' '.join(held.output.split())
    assert held.rc != 0 and 'nothing was sent' in text, held.output
    assert sent_by(emu, b) == [] and len(sent_by(emu, a)) == len(mine)
    assert RETRY_AFTER - 60 <= seconds_left(text) <= RETRY_AFTER, text


@pytest.mark.parametrize('path', PATHS)
def test_a_429_with_a_long_retry_after_holds_that_account_only_for_as_long_as_it_says(
        deribit_emulator, deribit_accounts, run_playbook, path):
    emu, a, b = deribit_emulator, deribit_accounts['deribit-a'], deribit_accounts['deribit-b']
    emu.add_faults([dict(kind='rate_limit', client_id=a['client_id'], retry_after=RETRY_AFTER)])

    limited = run_playbook({'der-a': host(a, emu)}, path=path)
    text = ' '.join(limited.output.split())
    assert limited.rc != 0 and 'HTTP 429' in text, limited.output
    mine = sent_by(emu, a)
    assert mine and mine[-1].get('code') == 10028, mine  # not waited out (600 s is past the bound), not sent again

    # the same account: held for the 600 s Retry-After said (not the default 60 s), nothing sent
    again = run_playbook({'der-a': host(a, emu)}, path=path)
    text = ' '.join(again.output.split())
    assert again.rc != 0 and 'nothing was sent' in text, again.output
    assert len(sent_by(emu, a)) == len(mine)
    assert RETRY_AFTER - 60 <= seconds_left(text) <= RETRY_AFTER, text

    # another account on the same URL is not held: Deribit counts requests per account
    other = run_playbook({'der-b': host(b, emu)}, path=path)
    assert other.rc == 0, other.output
    assert sent_by(emu, b) and all(c.get('status') == 200 for c in sent_by(emu, b))
