# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Deribit's part of the fleet audit (the ``mmp_audit_report`` filter, which finds it by the host's ``mmp_venue``):
the inventory's desired state of an account (``deribit_mmp_defaults`` merged into each item of
``deribit_mmp_configs``) against what ``deribit_mmp_info`` read (registered as ``deribit_audit_state``), one row per
config scope (index, MMP group, Block RFQ). An item describes the whole config of its scope, as ``deribit_mmp``
applies it: a limit it leaves out must be unset on the exchange; ``state: absent`` wants no config."""

from __future__ import annotations

from ansible_collections.marketops.mmp.plugins.module_utils.audit import differences, iso
from ansible_collections.marketops.mmp.plugins.module_utils.decimals import plain
from ansible_collections.marketops.mmp.plugins.module_utils.deribit.mmp import COMPARED_KEYS
from ansible_collections.marketops.mmp.plugins.module_utils.deribit.venue import describe_scope, item_scope
from ansible_collections.marketops.mmp.plugins.module_utils.inventory import check_no_duplicates, merged_items

STATE_VAR = 'deribit_audit_state'
CONFIGS_VAR = 'deribit_mmp_configs'
DEFAULTS_VAR = 'deribit_mmp_defaults'


def _key(scope):
    return (scope['index_name'], scope['mmp_group'], scope['block_rfq'])


def scope_of(item):
    """((index, group, block_rfq), ``the config eth_usd group q1``): the scope of an inventory item, normalised as
    deribit_mmp reads it (index lower case, group case-sensitive, block_rfq any Ansible boolean). Raises ValueError
    for an item it would refuse."""
    if not isinstance(item, dict) or item.get('index_name') is None:
        raise ValueError('every %s item needs an index_name, got %r' % (CONFIGS_VAR, item))
    scope = item_scope(item)
    return _key(scope), 'the config %s' % describe_scope(scope)


def _exchange_key(entry):
    """The scope of a config deribit_mmp_info read (already normalised by it)."""
    return (entry['index_name'].strip().lower(), entry.get('mmp_group') or None, entry.get('block_rfq') is True)


def desired_configs(hv):
    """The inventory's desired state of one account: {(index, group, block_rfq): merged item}, in its order. Raises
    ValueError for an item deribit_mmp would refuse, or a scope listed twice."""
    items = merged_items(hv, CONFIGS_VAR, DEFAULTS_VAR)
    out = {}
    for position, item in enumerate(items, 1):
        try:
            key, dummy = scope_of(item)
        except ValueError as e:
            raise ValueError('%s item #%d: %s' % (CONFIGS_VAR, position, e))
        out[key] = dict(item, index_name=key[0], mmp_group=key[1], block_rfq=key[2])
    check_no_duplicates(CONFIGS_VAR, items, scope_of)
    return out


def _row(account, scope, desired, exchange):
    row = dict(account=account, venue='deribit', scope=describe_scope(scope), underlying=None,
               index_name=scope['index_name'], mmp_group=scope['mmp_group'], block_rfq=scope['block_rfq'],
               status=None, detail='', drift=[], desired=None, exchange=exchange)
    absent = desired is not None and desired.get('state', 'present') == 'absent'
    if desired is not None and not absent:
        row['desired'] = dict((k, plain(desired.get(k))) for k in COMPARED_KEYS)
    details = []
    if exchange is not None and exchange.get('frozen'):
        row['status'] = 'frozen'
        until = exchange.get('frozen_until')
        details.append('frozen until %s' % iso(until) if until else 'frozen until a manual reset')
    if row['desired'] is not None and exchange is None:
        row['status'] = row['status'] or 'missing'
        details.append('not configured on the exchange; inventory: ' + ', '.join(
            '%s %s' % (k, v) for k, v in row['desired'].items() if v is not None))
    elif row['desired'] is not None:
        row['drift'] = differences(row['desired'], exchange, COMPARED_KEYS)
    elif absent and exchange is not None:
        row['drift'] = [dict(field='window_s', desired='0', exchange=exchange.get('window_s'))]
        details.append('the inventory removes this config (state absent); the exchange has it')
    if row['drift']:
        row['status'] = row['status'] or 'drift'
        if not absent:
            details.append('drift: ' + ', '.join('%s desired %s, exchange %s' % (d['field'], d['desired'],
                                                                                 d['exchange']) for d in row['drift']))
    if desired is None and exchange is not None:
        row['status'] = row['status'] or 'unmanaged'
        details.append('not in the inventory; exchange: ' + ', '.join(
            '%s %s' % (k, exchange.get(k)) for k in COMPARED_KEYS if exchange.get(k) is not None))
    row['status'] = row['status'] or 'in_sync'
    row['detail'] = '; '.join(details)
    return row


def rows(account, hv, state):
    """The report rows of one Deribit account: ``hv`` its hostvars, ``state`` what deribit_mmp_info returned (a dict
    with ``mmp``, checked by the caller). Raises ValueError for an inventory it cannot read."""
    desired = desired_configs(hv)
    exchange = {}
    for entry in state['mmp']:
        if isinstance(entry, dict) and isinstance(entry.get('index_name'), str) and entry.get('window_s'):
            exchange[_exchange_key(entry)] = entry
    return [_row(account, dict(index_name=k[0], mmp_group=k[1], block_rfq=k[2]), desired.get(k), exchange.get(k))
            for k in list(exchange) + [k for k in desired if k not in exchange]]
