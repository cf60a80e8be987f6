# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the audit_mmp playbook: the fleet report from the accounts' hostvars, and its Markdown.

``mmp_audit_report`` compares, for every audited account host, what its venue's info module read with the
inventory's desired state, through the venue's audit module (``module_utils/<venue>/audit.py``, the venue named by
the host's ``mmp_venue``, default ``binance``), and returns one report for the whole fleet: a count per status and
one row per account and scope (an underlying on Binance; an index, MMP group and Block RFQ flag on Deribit). A
config the inventory wants and the exchange does not have is ``missing``, not ``drift``. Runs on the controller,
once, after every account was read.
"""

from __future__ import annotations

import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.marketops.mmp.plugins.module_utils.venues import venue_part

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
        venue = hv.get('mmp_venue') or DEFAULT_VENUE
        audit = _venue_audit(venue)
        if audit is None:
            rows.append(_error_row(account, str(venue), 'mmp_venue: %r is not a venue of this collection' % (venue,)))
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
        return {'mmp_audit_report': mmp_audit_report, 'mmp_audit_markdown': mmp_audit_markdown}
