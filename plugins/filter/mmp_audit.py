# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the audit_mmp playbook: the fleet report from the accounts' hostvars, and its Markdown.

``mmp_audit_report`` compares, for every audited account host, what ``binance_mmp_info`` read (registered as
``binance_audit_state``) with the inventory's desired state (``binance_mmp_defaults`` + ``binance_mmp_configs``,
``kill_switch_ms`` included) and returns the report: a count per status and one row per account and underlying.
An underlying the inventory wants and the exchange has not configured is ``missing``, not ``drift``.
Runs on the controller, once, after every account was read.
"""

from __future__ import annotations

import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.marketops.mmp.plugins.module_utils.decimals import plain as _plain, same_decimal as _same

STATE_VAR = 'binance_audit_state'
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
# The statuses binance_audit_fail_on_drift fails on (error always fails the run). A missing config leaves the
# underlying without MMP at all, which is at least as dangerous as one that drifts.
ALARM = ('missing', 'drift', 'frozen')
MMP_FIELDS = ('window_ms', 'frozen_ms', 'qty_limit', 'delta_limit')


def _iso(ms):
    return datetime.datetime.fromtimestamp(ms / 1000.0, tz=datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _desired_configs(hv):
    """The inventory's desired state of one account: {UNDERLYING: merged item}, in the inventory's order."""
    defaults = hv.get('binance_mmp_defaults') or {}
    configs = hv.get('binance_mmp_configs') or []
    if not isinstance(defaults, dict) or not isinstance(configs, list):
        raise ValueError('binance_mmp_defaults must be a mapping and binance_mmp_configs a list')
    out = {}
    for item in configs:
        if not isinstance(item, dict) or not isinstance(item.get('underlying'), str):
            raise ValueError('every binance_mmp_configs item needs an underlying, got %r' % (item,))
        merged = dict(defaults)
        merged.update(item)
        out[merged['underlying'].strip().upper()] = merged
    return out


def _differences(desired, exchange, fields):
    return [dict(field=f, desired=_plain(desired.get(f)), exchange=exchange.get(f))
            for f in fields if not _same(desired.get(f), exchange.get(f))]


def _row(account, underlying, desired, mmp, kill_switch):
    """One report row. The MMP config decides the status; the kill-switch only ever adds drift (0 is "off", a value
    the inventory may want, so the exchange cannot be "missing" a kill-switch)."""
    row = dict(account=account, underlying=underlying, status=None, detail='', drift=[],
               desired=None, exchange=None)
    if desired is not None:
        row['desired'] = dict((k, _plain(desired[k])) for k in MMP_FIELDS + ('kill_switch_ms',) if k in desired)
    if mmp is None:
        row['status'] = 'missing'
        row['detail'] = 'the exchange does not list this underlying (delisted, or a typo in the inventory?)'
        return row
    row['exchange'] = dict(mmp, kill_switch_ms=(kill_switch or {}).get('countdown_ms', 0))
    kill_fields = ('kill_switch_ms',) if desired is not None and 'kill_switch_ms' in desired else ()
    # binance_mmp_info: configured is window_ms > 0; an underlying never configured reads as zeros.
    # Missing: its MMP fields are not compared (nothing to compare with), its kill-switch still is.
    missing = desired is not None and not mmp.get('configured')
    if desired is not None:
        row['drift'] = _differences(desired, row['exchange'], kill_fields if missing else MMP_FIELDS + kill_fields)
    details = []
    if mmp.get('frozen'):
        row['status'] = 'frozen'
        until = mmp.get('frozen_until')
        details.append('frozen until %s' % _iso(until) if until else 'frozen until a manual reset')
        details.append('triggered at %s' % _iso(mmp['last_trigger_time']))
    if missing:
        row['status'] = row['status'] or 'missing'
        details.append('not configured on the exchange; inventory: ' + ', '.join(
            '%s %s' % (k, row['desired'][k]) for k in MMP_FIELDS if k in row['desired']))
    if row['drift']:
        row['status'] = row['status'] or 'drift'
        details.append('drift: ' + ', '.join('%s desired %s, exchange %s' % (d['field'], d['desired'], d['exchange'])
                                             for d in row['drift']))
    if not row['status'] and mmp.get('triggered'):
        row['status'] = 'triggered'
        details.append('last triggered at %s' % _iso(mmp['last_trigger_time']))
    active = mmp.get('configured') or row['exchange']['kill_switch_ms']
    if not row['status']:
        row['status'] = 'in_sync' if desired is not None else 'unmanaged' if active else 'not_configured'
    if desired is None and active:
        details.append('not in the inventory; exchange: ' + ', '.join(
            '%s %s' % (k, row['exchange'].get(k)) for k in MMP_FIELDS + ('kill_switch_ms',)))
    row['detail'] = '; '.join(details)
    return row


def mmp_audit_report(hostvars, hosts, generated_at=None):
    """The fleet report of ``hosts`` (the audited account hosts) from ``hostvars``."""
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError('mmp_audit_report: hosts must be a list of host names')
    rows = []
    for host in hosts:
        hv = hostvars[host]
        account = str(host)
        state = hv.get(STATE_VAR) if STATE_VAR in hv else None
        try:
            desired = _desired_configs(hv)
        except ValueError as e:
            rows.append(dict(account=account, underlying=None, status='error', detail=str(e), drift=[],
                             desired=None, exchange=None))
            continue
        if not isinstance(state, dict) or state.get('failed') or not isinstance(state.get('mmp'), list):
            msg = state.get('msg') if isinstance(state, dict) else None
            rows.append(dict(account=account, underlying=None, status='error', drift=[], desired=None, exchange=None,
                             detail=str(msg or 'no state was read for this account (see the play\'s output)')))
            continue
        mmp = dict((m.get('underlying'), m) for m in state['mmp'] if isinstance(m, dict))
        kill = dict((k.get('underlying'), k) for k in state.get('kill_switch') or [] if isinstance(k, dict))
        for underlying in list(mmp) + [u for u in desired if u not in mmp]:
            rows.append(_row(account, underlying, desired.get(underlying), mmp.get(underlying), kill.get(underlying)))
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
    lines += ['', '| account | underlying | status | details |', '|---|---|---|---|']
    for row in report['rows']:
        cells = (row['account'], row['underlying'] or '-', LABELS[row['status']], row['detail'])
        lines.append('| %s |' % ' | '.join(_cell(c) for c in cells))
    lines += ['', 'Statuses: ' + '; '.join('*%s*: %s' % (label, meaning) for dummy, label, meaning in STATUSES) + '.', '']
    return '\n'.join(lines)


class FilterModule:
    def filters(self):
        return {'mmp_audit_report': mmp_audit_report, 'mmp_audit_markdown': mmp_audit_markdown}
