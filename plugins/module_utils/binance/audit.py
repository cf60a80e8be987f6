# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Binance's part of the fleet audit (the ``mmp_audit_report`` filter, which finds it by the host's ``mmp_venue``):
the inventory's desired state of an account (``binance_mmp_defaults`` + ``binance_mmp_configs``, ``kill_switch_ms``
included) against what ``binance_mmp_info`` read (registered as ``binance_audit_state``), one row per underlying.
An underlying the inventory wants and the exchange has not configured is ``missing``, not ``drift``."""

from __future__ import annotations

from ansible_collections.marketops.mmp.plugins.module_utils.audit import differences as _differences, iso as _iso
from ansible_collections.marketops.mmp.plugins.module_utils.binance.venue import item_underlying
from ansible_collections.marketops.mmp.plugins.module_utils.decimals import plain as _plain
from ansible_collections.marketops.mmp.plugins.module_utils.inventory import check_no_duplicates, merged_items

STATE_VAR = 'binance_audit_state'
CONFIGS_VAR = 'binance_mmp_configs'
DEFAULTS_VAR = 'binance_mmp_defaults'
MMP_FIELDS = ('window_ms', 'frozen_ms', 'qty_limit', 'delta_limit')


def scope_of(item):
    """(underlying, ``the underlying BTCUSDT``): the scope of an inventory item, upper case as the modules read it.
    Raises ValueError for an item they would refuse."""
    if not isinstance(item, dict) or item.get('underlying') is None:
        raise ValueError('every %s item needs an underlying, got %r' % (CONFIGS_VAR, item))
    underlying = item_underlying(item)
    return underlying, 'the underlying %s' % underlying


def _desired_configs(hv):
    """The inventory's desired state of one account: {UNDERLYING: merged item}, in the inventory's order. Raises
    ValueError for an item the modules would refuse, or an underlying listed twice."""
    items = merged_items(hv, CONFIGS_VAR, DEFAULTS_VAR)
    out = {}
    for position, item in enumerate(items, 1):
        try:
            underlying, dummy = scope_of(item)
        except ValueError as e:
            raise ValueError('%s item #%d: %s' % (CONFIGS_VAR, position, e))
        out[underlying] = dict(item, underlying=underlying)
    check_no_duplicates(CONFIGS_VAR, items, scope_of)
    return out


def _row(account, underlying, desired, mmp, kill_switch):
    """One report row. The MMP config decides the status; the kill-switch only ever adds drift (0 is "off", a value
    the inventory may want, so the exchange cannot be "missing" a kill-switch)."""
    row = dict(account=account, venue='binance', scope=underlying, underlying=underlying, status=None, detail='',
               drift=[], desired=None, exchange=None)
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


def rows(account, hv, state):
    """The report rows of one Binance account: ``hv`` its hostvars, ``state`` what binance_mmp_info returned (a dict
    with ``mmp``, checked by the caller). Raises ValueError for an inventory it cannot read."""
    desired = _desired_configs(hv)
    mmp = dict((m.get('underlying'), m) for m in state['mmp'] if isinstance(m, dict))
    kill = dict((k.get('underlying'), k) for k in state.get('kill_switch') or [] if isinstance(k, dict))
    return [_row(account, underlying, desired.get(underlying), mmp.get(underlying), kill.get(underlying))
            for underlying in list(mmp) + [u for u in desired if u not in mmp]]
