# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the playbooks check in an account's inventory before any request, the same way for every venue (the
``mmp_inventory_errors`` filter for ``apply_mmp``, the venues' audit parts for ``audit_mmp``). No venue named here.

A venue's audit part (``module_utils/<venue>/audit.py``, found with ``venues.venue_part``) names the inventory
variables that hold an account's desired state, ``CONFIGS_VAR`` (a list of items) and ``DEFAULTS_VAR`` (a mapping
every item starts from, the item's keys win), and has ``scope_of(item)``: ``(key, text)``, the scope an item is about,
normalised as the venue's module normalises its options (``key``, comparable) and named for messages (``text``,
``the underlying BTCUSDT``); it raises ValueError for an item whose scope the module would refuse.

A scope listed twice is written twice every run (reported ``changed`` forever, the second item winning), so an
account that lists one is refused whole, before any request.
"""

from __future__ import annotations


def merged_items(hv, configs_var, defaults_var):
    """The items of ``hv[configs_var]``, each with ``hv[defaults_var]`` under it (the item's keys win), in order: what
    ``apply_mmp`` applies. An item that is not a mapping is kept as it is. Raises ValueError when the variables are
    not a list and a mapping (unset: none)."""
    defaults = hv.get(defaults_var) or {}
    configs = hv.get(configs_var) or []
    if not isinstance(defaults, dict) or not isinstance(configs, list):
        raise ValueError('%s must be a mapping and %s a list' % (defaults_var, configs_var))
    out = []
    for item in configs:
        if isinstance(item, dict):
            merged = dict(defaults)
            merged.update(item)
            item = merged
        out.append(item)
    return out


def duplicate_scopes(items, scope_of):
    """``[(text, [position, ...])]``: every scope that more than one of ``items`` is about, with the 1-based positions
    of those items, in the order the scopes are first listed. ``scope_of(item)`` is the venue's; an item it refuses
    (ValueError) is left out here, the module reports it."""
    seen = {}
    order = []
    for position, item in enumerate(items, 1):
        try:
            key, text = scope_of(item)
        except ValueError:
            continue
        if key not in seen:
            seen[key] = (text, [])
            order.append(key)
        seen[key][1].append(position)
    return [seen[key] for key in order if len(seen[key][1]) > 1]


def _times(count):
    return 'twice' if count == 2 else '%d times' % count


def _positions(positions):
    texts = ['#%d' % p for p in positions]
    return '%s and %s' % (', '.join(texts[:-1]), texts[-1])


def describe_duplicates(configs_var, duplicates):
    """``binance_mmp_configs lists the underlying BTCUSDT twice, items #1 and #3``; several scopes joined with
    ``, and``. None when ``duplicates`` (of ``duplicate_scopes``) is empty."""
    if not duplicates:
        return None
    return '%s lists %s' % (configs_var, ', and '.join('%s %s, items %s' % (text, _times(len(positions)),
                                                                            _positions(positions))
                                                       for text, positions in duplicates))


def check_no_duplicates(configs_var, items, scope_of):
    """For the audit: raise ValueError naming every scope that more than one of ``items`` is about
    (``describe_duplicates``), and what follows from it."""
    message = describe_duplicates(configs_var, duplicate_scopes(items, scope_of))
    if message:
        raise ValueError('%s: not compared (apply_mmp refuses this account, before any request); list each once'
                         % message)


def account_duplicates(hv, audit):
    """What ``describe_duplicates`` says of one account's inventory (``hv`` its hostvars, ``audit`` its venue's audit
    part), or None: none listed twice, or variables that are not a list and a mapping (the apply task reports
    those)."""
    try:
        items = merged_items(hv, audit.CONFIGS_VAR, audit.DEFAULTS_VAR)
    except ValueError:
        return None
    return describe_duplicates(audit.CONFIGS_VAR, duplicate_scopes(items, audit.scope_of))
