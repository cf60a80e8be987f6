# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Deribit's MMP configs as one resource (``deribit_mmp_configs``; the runner is the core's ``resource.py``).

An item is one config, with the keys, units and checks of ``deribit_mmp`` without ``state`` (``mmp.py``); its scope
is (index_name, mmp_group or None for the default group, block_rfq). A set replaces the whole config of its scope, so
``merged`` sends the values held for those an item leaves out; ``interval`` 0 removes a config.

Reads: ``read_every_config()``, the account's listings (two requests whatever the number of configs), for every
state but ``rendered``.
"""

from __future__ import annotations

from ansible_collections.marketops.mmp.plugins.module_utils.deribit.mmp import (
    COMPARED_KEYS,
    FROZEN_ZERO_WARNING,
    INFO_MAX_CONFIGS,
    LIMIT_KEYS,
    REQUIRED_ONE_OF,
    WIRE,
    _key,
    config_from_api,
    differences as mmp_differences,
    empty_config,
    ensure_mmp,
    public_config,
    read_listing,
    validate_mmp_params,
)
from ansible_collections.marketops.mmp.plugins.module_utils.deribit.venue import DERIBIT, describe_scope, validate_scope
from ansible_collections.marketops.mmp.plugins.module_utils.errors import TaskError, ValidationError
from ansible_collections.marketops.mmp.plugins.module_utils.resource import ResourceCore

SET_METHOD = 'private/set_mmp_config'
SET_PATH = '/api/v2/' + SET_METHOD
SCOPE_KEYS = ('index_name', 'mmp_group', 'block_rfq')
# Values that pass validate_mmp_params(), standing in for those a merged item leaves out (only those given are kept).
PLACEHOLDERS = dict(window_s=1, frozen_s=1)


def read_every_config(client):
    """Every config of the account, normalised, in the exchange's order: the two listings of ``mmp.read_listing``
    (without parameters and with ``block_rfq=true``, merged by scope), complete whichever way the exchange reads
    ``block_rfq``'s default. Two requests, whatever the number of configs."""
    return [config_from_api(entry, 'get_mmp_config') for entry in read_listing(client, 'config')]


def scope_params(scope):
    """A scope as set_mmp_config's parameters (as ``DeribitClient`` sends them: no group for the default group, no
    block_rfq when false)."""
    params = {'index_name': scope['index_name']}
    if scope.get('mmp_group') is not None:
        params['mmp_group'] = scope['mmp_group']
    if scope.get('block_rfq'):
        params['block_rfq'] = True
    return params


def set_request(scope, values):
    """The set_mmp_config request of ``scope`` with ``values`` (the module's keys; None: not sent)."""
    params = scope_params(scope)
    params.update({WIRE[k]: values.get(k) for k in COMPARED_KEYS if values.get(k) is not None})
    return dict(method='GET', path=SET_PATH, params=params)


def remove_request(held):
    """The request that removes ``held``'s config (``interval`` 0, the other values those held: as ``ensure_mmp``
    with ``state: absent`` sends it)."""
    values = {k: held.get(k) for k in LIMIT_KEYS + ('trade_count_limit',)}
    request = set_request(held, values)
    request['params'].update(interval=0, frozen_time=held.get('frozen_s') or 0)
    return request


class DeribitConfigs:
    """Deribit's MMP configs, one per scope (see resource.py for what a resource declares)."""

    venue = DERIBIT
    noun = 'MMP configs'
    scope_keys = SCOPE_KEYS
    can_remove = True
    cannot_remove = None

    @staticmethod
    def item_spec():
        return dict(
            index_name=dict(type='str', required=True),
            mmp_group=dict(type='str'),
            block_rfq=dict(type='bool', default=False),
            window_s=dict(type='int'),
            frozen_s=dict(type='int'),
            qty_limit=dict(type='raw'),
            delta_limit=dict(type='raw'),
            vega_limit=dict(type='raw'),
            max_quote_qty=dict(type='raw'),
            trade_count_limit=dict(type='int'),
        )

    @staticmethod
    def validate_item(item, state):
        """deribit_mmp's checks (``validate_mmp_params``), on the values given when ``merged``; the scope only when
        ``deleted``."""
        item = dict(item)
        if item.get('block_rfq') is None:
            item['block_rfq'] = False  # the option's default
        if state == 'deleted':
            scope = validate_scope(item)
            given = [k for k in COMPARED_KEYS if item.get(k) is not None]
            if given:
                raise ValidationError(given[0], item.get(given[0]), None, message='%s: not allowed with state deleted '
                                      '(an item names the scope to remove: %s)' % (given[0], ', '.join(SCOPE_KEYS)))
            return dict(scope, **{k: None for k in COMPARED_KEYS}), []
        if state == 'merged':
            given = {k: item.get(k) for k in COMPARED_KEYS if item.get(k) is not None}
            probe = dict(PLACEHOLDERS, **{k: item.get(k) for k in SCOPE_KEYS})
            probe.update(given, state='present')
            if not any(k in given for k in REQUIRED_ONE_OF):
                probe['qty_limit'] = '1'
            checked = validate_mmp_params(probe)
            out = {k: checked[k] for k in SCOPE_KEYS}
            out.update({k: checked[k] if k in given else None for k in COMPARED_KEYS})
        else:
            checked = validate_mmp_params(dict(item, state='present'))
            out = {k: checked[k] for k in SCOPE_KEYS + COMPARED_KEYS}
        warnings = [FROZEN_ZERO_WARNING % describe_scope(out)] if out['frozen_s'] == 0 else []
        return out, warnings

    @staticmethod
    def scope(item):
        return (item['index_name'], item['mmp_group'], bool(item['block_rfq']))

    @staticmethod
    def describe(key):
        return describe_scope(dict(zip(SCOPE_KEYS, key)))

    @staticmethod
    def read(client, items, every, gathering):
        """``{scope: public_config()}`` of every config the account holds, whatever is asked."""
        configs = read_every_config(client)
        if len(configs) > INFO_MAX_CONFIGS:
            raise TaskError('get_mmp_config lists %d configs, more than the %d this module handles' %
                            (len(configs), INFO_MAX_CONFIGS))
        return {_key(config): public_config(config) for config in configs}, []

    @staticmethod
    def public(raw):
        return public_config(raw) if raw.get('window_s') else None

    @staticmethod
    def differences(held, item):
        return mmp_differences(public_config(held), dict(public_config(item), state='present'))

    def write_requests(self, item, raw):
        if raw is not None and self.public(raw) is not None and not self.differences(raw, item):
            return []
        return [set_request(item, item)]

    @staticmethod
    def remove_requests(raw):
        return [remove_request(raw)]

    def write(self, client, key, raw, item):
        """deribit_mmp's write (``ensure_mmp``), from the config already read."""
        scope = dict(zip(SCOPE_KEYS, key))
        before = public_config(raw) if raw is not None else public_config(empty_config(scope))
        outcome = ensure_mmp(client, dict(public_config(item), state='present'), before=before)
        return outcome['config'], self.write_requests(item, raw) if outcome['changed'] else [], []

    @staticmethod
    def remove(client, key, raw):
        """deribit_mmp's ``state: absent`` (``interval`` 0), from the config already read."""
        scope = dict(zip(SCOPE_KEYS, key))
        outcome = ensure_mmp(client, dict(empty_config(scope), state='absent'), before=public_config(raw))
        return [remove_request(raw)] if outcome['changed'] else []


CONFIGS = DeribitConfigs()
MMP_CONFIGS = ResourceCore(CONFIGS)
