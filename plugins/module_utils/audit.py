# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What every venue's part of the fleet audit shares (the ``mmp_audit_report`` filter builds the report from the
venues' rows). No venue named here.

A venue's audit module (``module_utils/<venue>/audit.py``) has ``STATE_VAR`` (the name the audit playbook registers
its info module's result under) and ``rows(account, hostvars, state)``: the report rows of one account, each with
``account``, ``venue``, ``scope`` (what a row is about, in the venue's words), ``status`` (one of ``STATUSES``),
``detail``, ``drift`` (a list of ``field``, ``desired``, ``exchange``), ``desired`` and ``exchange``.
"""

from __future__ import annotations

import datetime

from ansible_collections.marketops.mmp.plugins.module_utils.decimals import plain, same_decimal


def iso(ms):
    """Milliseconds since the epoch as an ISO 8601 UTC time."""
    return datetime.datetime.fromtimestamp(ms / 1000.0, tz=datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def differences(desired, exchange, fields):
    """The fields whose desired and exchange values differ, compared as decimals (unset equals unset)."""
    return [dict(field=f, desired=plain(desired.get(f)), exchange=exchange.get(f))
            for f in fields if not (same_decimal(desired.get(f), exchange.get(f))
                                    or desired.get(f) is None and exchange.get(f) is None)]
