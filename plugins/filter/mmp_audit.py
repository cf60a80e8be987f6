# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the audit_mmp playbook: the fleet report from the accounts' hostvars, and its Markdown; and of the
apply_mmp playbook: the accounts sorted by venue, with what makes an account's inventory one to refuse.

``mmp_audit_report`` compares, for every audited account host, what its venue's info module read with the
inventory's desired state, through the venue's audit module (``module_utils/<venue>/audit.py``, the venue named by
the host's ``mmp_venue``, default ``binance``), and returns one report for the whole fleet: a count per status and
one row per account and scope (an underlying on Binance; an index, MMP group and Block RFQ flag on Deribit). A
config the inventory wants and the exchange does not have is ``missing``, not ``drift``. Runs on the controller,
once, after every account was read.

``mmp_inventory_check`` returns, for every account host, its venue and what is wrong with its inventory, if
anything: an ``mmp_venue`` that is not a venue of the collection, or a scope listed twice (``binance_mmp_configs``
with ``BTCUSDT`` and ``btcusdt``), found by the venue's own normalisation (``module_utils/inventory.py``).
``apply_mmp`` refuses such an account before any request, and applies the others.
"""

from __future__ import annotations

import datetime
import json

from ansible.errors import AnsibleError, AnsibleFilterError

from ansible_collections.marketops.mmp.plugins.module_utils.inventory import account_duplicates
from ansible_collections.marketops.mmp.plugins.module_utils.venues import venue_packages, venue_part

DEFAULT_VENUE = 'binance'  # a host without mmp_venue
NOT_READ = 'no state was read for this account (see the play\'s output)'
# Report order and what each status means (for the Markdown legend).
STATUSES = (
    ('in_sync', 'in sync', 'the exchange holds the inventory\'s config'),
    ('missing', 'missing', 'the inventory has an MMP config that the exchange does not have (not configured there, or '
                           'the exchange does not list the underlying); the desired config is shown'),
    ('drift', 'drift', 'the exchange has an MMP config, but a field differs from the inventory (which fields, desired '
                       'and exchange values); a kill-switch countdown that differs is drift too'),
    ('frozen', 'frozen', 'MMP triggered and quoting is frozen (until a time, or until a manual reset)'),
    ('triggered', 'triggered', 'MMP triggered earlier and has thawed; in sync otherwise'),
    ('not_configured', 'not configured', 'neither the inventory nor the exchange has an MMP config or a kill-switch'),
    ('unmanaged', 'unmanaged', 'not in the inventory, but the exchange has an MMP config or a kill-switch (shown)'),
    ('error', 'error', 'the account could not be read'),
)
LABELS = dict((key, label) for key, label, dummy in STATUSES)
# The statuses mmp_audit_fail_on_drift fails on (error always fails the run). A missing config leaves the
# underlying without MMP at all, which is at least as dangerous as one that drifts.
ALARM = ('missing', 'drift', 'frozen')


def _venue_audit(venue):
    """A venue's audit module (``module_utils/<venue>/audit.py``), or None when there is no such venue."""
    return venue_part(venue, 'audit')


def _account_venue(hv):
    """(venue, its audit module or None): the host's ``mmp_venue``, ``DEFAULT_VENUE`` when it has none."""
    venue = hv['mmp_venue'] if 'mmp_venue' in hv else DEFAULT_VENUE
    return venue, _venue_audit(venue)


def _not_a_venue(venue):
    """``mmp_venue must be binance (the default) or deribit; got "Deribit"``."""
    names = ['%s (the default)' % name if name == DEFAULT_VENUE else name for name in venue_packages('audit')]
    try:
        got = json.dumps(venue)
    except (TypeError, ValueError):
        got = repr(venue)
    listed = '%s or %s' % (', '.join(names[:-1]), names[-1]) if len(names) > 1 else ''.join(names)
    return 'mmp_venue must be %s; got %s' % (listed, got)


def _error_row(account, venue, detail):
    return dict(account=account, venue=venue, scope=None, underlying=None, status='error', detail=detail, drift=[],
                desired=None, exchange=None)


def mmp_audit_report(hostvars, hosts, generated_at=None):
    """The fleet report of ``hosts`` (the audited account hosts) from ``hostvars``."""
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError('mmp_audit_report: hosts must be a list of host names')
    rows = []
    for host in hosts:
        hv = hostvars[host]
        account = str(host)
        venue, audit = _account_venue(hv)
        if audit is None:
            rows.append(_error_row(account, str(venue), _not_a_venue(venue)))
            continue
        state = hv.get(audit.STATE_VAR) if audit.STATE_VAR in hv else None
        if not isinstance(state, dict) or state.get('failed') or not isinstance(state.get('mmp'), list):
            msg = state.get('msg') if isinstance(state, dict) else None
            rows.append(_error_row(account, venue, str(msg or NOT_READ)))
            continue
        try:
            rows += audit.rows(account, hv, state)
        except ValueError as e:
            rows.append(_error_row(account, venue, str(e)))
    counts = dict((key, 0) for key, dummy, dummy2 in STATUSES)
    for row in rows:
        counts[row['status']] += 1
    return dict(generated_at=generated_at or datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
                accounts=len(hosts), counts=counts, alarm=sum(counts[k] for k in ALARM), errors=counts['error'],
                summary=', '.join('%s %d' % (label, counts[key]) for key, label, dummy in STATUSES), rows=rows)


def mmp_inventory_check(hostvars, hosts):
    """For each of ``hosts`` (account hosts), in order: ``account``, ``venue`` (its ``mmp_venue``, ``DEFAULT_VENUE``
    when unset) and ``error``: why apply_mmp must refuse it before any request (an ``mmp_venue`` that is not a venue,
    a scope its configs list twice), or None."""
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError('mmp_inventory_check: hosts must be a list of host names')
    out = []
    for host in hosts:
        hv = hostvars[host]
        venue, audit = _account_venue(hv)
        error = None
        if audit is None:
            error = _not_a_venue(venue)
        else:
            try:
                error = account_duplicates(hv, audit)
            except AnsibleError:
                # a variable that cannot be templated: the apply task stops at it, naming it
                error = None
        out.append(dict(account=str(host), venue=venue, error=error))
    return out


def _cell(value):
    return str(value if value is not None else '').replace('|', '\\|').replace('\n', ' ')


def mmp_audit_markdown(report):
    """The report for people: counts per status at the top, then a table of every account and underlying."""
    if not isinstance(report, dict) or 'rows' not in report:
        raise AnsibleFilterError('mmp_audit_markdown expects the output of mmp_audit_report')
    lines = ['# MMP audit report', '',
             'Generated %s: %d accounts, %d rows.' % (report['generated_at'], report['accounts'], len(report['rows'])),
             '', '| status | count |', '|---|---:|']
    for key, label, dummy in STATUSES:
        lines.append('| %s | %d |' % (label, report['counts'].get(key, 0)))
    lines += ['', '| account | venue | scope | status | details |', '|---|---|---|---|---|']
    for row in report['rows']:
        cells = (row['account'], row.get('venue') or '-', row.get('scope') or '-', LABELS[row['status']], row['detail'])
        lines.append('| %s |' % ' | '.join(_cell(c) for c in cells))
    lines += ['', 'Statuses: ' + '; '.join('*%s*: %s' % (label, meaning) for dummy, label, meaning in STATUSES) + '.', '']
    return '\n'.join(lines)


class FilterModule:
    def filters(self):
        return {'mmp_audit_report': mmp_audit_report, 'mmp_audit_markdown': mmp_audit_markdown,
                'mmp_inventory_check': mmp_inventory_check}
