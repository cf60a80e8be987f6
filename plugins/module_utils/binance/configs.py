# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Binance's MMP configs as one resource (``binance_mmp_configs``; the runner is the core's ``resource.py``).

An item is one underlying's MMP config, with the keys, units and checks of ``binance_mmp`` (``mmp.py``), plus an
optional ``kill_switch_ms`` (``killswitch.py``; an item without it leaves the kill-switch unmanaged). The scope is
the underlying. Binance has no call that removes an MMP config: ``deleted`` is refused before any request, and an
``overridden`` that would have to remove one fails before any write.

Reads: for ``merged`` and ``replaced``, one MMP read per listed underlying (and one kill-switch read per item that
has ``kill_switch_ms``), as many as ``binance_mmp`` (and ``binance_kill_switch``) need; for ``overridden`` and
``gathered`` the underlyings ``exchangeInfo`` lists, and one MMP read each (``gathered`` also reads the kill-switch
of each configured underlying, and gives ``kill_switch_ms`` for those that are armed).
"""

from __future__ import annotations

from ansible_collections.marketops.mmp.plugins.module_utils.binance.killswitch import (
    ARMED_WARNING,
    ensure_kill_switch,
    read_kill_switch,
    validate_countdown,
)
from ansible_collections.marketops.mmp.plugins.module_utils.binance.mmp import (
    COMPARED_KEYS,
    FROZEN_ZERO_WARNING,
    INFO_MAX_UNDERLYINGS,
    SKIPPED_WARNING,
    config_from_api,
    differences as mmp_differences,
    ensure_mmp,
    listed_underlyings,
    validate_mmp_params,
)
from ansible_collections.marketops.mmp.plugins.module_utils.binance.api import EXCHANGE_INFO_PATH
from ansible_collections.marketops.mmp.plugins.module_utils.binance.venue import BINANCE
from ansible_collections.marketops.mmp.plugins.module_utils.errors import MMPError, TaskError
from ansible_collections.marketops.mmp.plugins.module_utils.resource import ResourceCore

SET_PATH = '/eapi/v1/mmpSet'
COUNTDOWN_PATH = '/eapi/v1/countdownCancelAll'
ITEM_KEYS = ('underlying',) + COMPARED_KEYS + ('kill_switch_ms',)
# Values that pass validate_mmp_params(), standing in for those a merged item leaves out (only those given are kept).
PLACEHOLDERS = dict(window_ms=1, frozen_ms=1, qty_limit='1', delta_limit='1')


def mmp_request(item):
    """The ``mmpSet`` request that makes ``item``'s MMP config true (as ``BinanceOptionsClient.set_mmp`` sends it)."""
    return dict(method='POST', path=SET_PATH, params={
        'underlying': item['underlying'], 'windowTimeInMilliseconds': item['window_ms'],
        'frozenTimeInMilliseconds': item['frozen_ms'], 'qtyLimit': item['qty_limit'], 'deltaLimit': item['delta_limit']})


def countdown_request(underlying, countdown_ms):
    """The kill-switch request (as ``BinanceOptionsClient.set_countdown`` sends it)."""
    return dict(method='POST', path=COUNTDOWN_PATH, params={'underlying': underlying, 'countdownTime': countdown_ms})


def read_mmp(client, underlying):
    """The MMP config of ``underlying`` (config_from_api()); a failure names it."""
    try:
        return config_from_api(client.get_mmp(underlying), underlying)
    except TaskError:
        raise
    except MMPError as e:
        raise TaskError('MMP %s: %s' % (underlying, e.message), details=dict(underlying=underlying),
                        http_status=e.http_status, code=e.code, exchange_message=e.exchange_message)


def configured(mmp):
    """Whether an MMP read holds a config (an underlying never configured reads with a window of 0)."""
    return bool(mmp.get('window_ms'))


class BinanceConfigs:
    """Binance's MMP configs, one per underlying (see resource.py for what a resource declares)."""

    venue = BINANCE
    noun = 'MMP configs'
    scope_keys = ('underlying',)
    can_remove = False
    cannot_remove = 'Binance has no call that removes an MMP config'

    @staticmethod
    def item_spec():
        return dict(
            underlying=dict(type='str', required=True),
            window_ms=dict(type='int'),
            frozen_ms=dict(type='int'),
            qty_limit=dict(type='raw'),
            delta_limit=dict(type='raw'),
            kill_switch_ms=dict(type='int'),
        )

    @staticmethod
    def validate_item(item, state):
        """binance_mmp's checks (``validate_mmp_params``), on the values given when ``merged``; ``kill_switch_ms``
        as binance_kill_switch's ``countdown_ms``."""
        if state == 'merged':
            given = {k: item.get(k) for k in COMPARED_KEYS if item.get(k) is not None}
            checked = validate_mmp_params(dict(PLACEHOLDERS, underlying=item.get('underlying'), **given))
            out = dict(underlying=checked['underlying'], **{k: checked[k] if k in given else None for k in COMPARED_KEYS})
        else:
            out = validate_mmp_params(item)
        countdown = item.get('kill_switch_ms')
        out['kill_switch_ms'] = validate_countdown(countdown, 'kill_switch_ms') if countdown is not None else None
        warnings = [FROZEN_ZERO_WARNING % out['underlying']] if out['frozen_ms'] == 0 else []
        return out, warnings

    @staticmethod
    def scope(item):
        return item['underlying']

    @staticmethod
    def describe(key):
        return key

    @staticmethod
    def read(client, items, every, gathering):
        """``{underlying: {'mmp': config_from_api(), 'kill_switch': countdown_ms or None (not read)}}``."""
        warnings = []
        names = [item['underlying'] for item in items]
        if every:
            listed, skipped = listed_underlyings(client.exchange_info())
            if skipped:
                warnings.append(SKIPPED_WARNING % ', '.join(skipped))
            if len(listed) > INFO_MAX_UNDERLYINGS:
                raise TaskError('GET %s lists %d underlyings, more than the %d this module reads in one task'
                                % (EXCHANGE_INFO_PATH, len(listed), INFO_MAX_UNDERLYINGS))
            names = listed + [name for name in names if name not in listed]
        held = {name: dict(mmp=read_mmp(client, name), kill_switch=None) for name in names}
        for item in items:
            if item.get('kill_switch_ms') is not None:
                held[item['underlying']]['kill_switch'] = read_kill_switch(client, item['underlying'])['countdown_ms']
        if gathering:
            for name, raw in held.items():
                if configured(raw['mmp']):
                    countdown = read_kill_switch(client, name)['countdown_ms']
                    raw['kill_switch'] = countdown or None  # off: left out (unmanaged when given back)
        return held, warnings

    @staticmethod
    def public(raw):
        if not configured(raw['mmp']):
            return None
        item = {k: raw['mmp'][k] for k in ('underlying',) + COMPARED_KEYS}
        if raw['kill_switch'] is not None:
            item['kill_switch_ms'] = raw['kill_switch']
        return item

    @staticmethod
    def differences(held, item):
        out = mmp_differences(held, item)
        if item.get('kill_switch_ms') is not None and held.get('kill_switch_ms') != item['kill_switch_ms']:
            out.append('kill_switch_ms')
        return out

    @staticmethod
    def write_requests(item, raw):
        out = []
        if raw is None or not configured(raw['mmp']) or mmp_differences(raw['mmp'], item):
            out.append(mmp_request(item))
        countdown = item.get('kill_switch_ms')
        if countdown is not None and (raw is None or raw['kill_switch'] != countdown):
            out.append(countdown_request(item['underlying'], countdown))
        return out

    @staticmethod
    def remove_requests(raw):
        raise TaskError(BinanceConfigs.cannot_remove)

    @staticmethod
    def write(client, key, raw, item):
        """binance_mmp's write (``ensure_mmp``), then binance_kill_switch's when the item has ``kill_switch_ms``,
        from the state already read."""
        sent, warnings = [], []
        desired = {k: item[k] for k in ('underlying',) + COMPARED_KEYS}
        outcome = ensure_mmp(client, desired, before=raw['mmp'] if raw else None)
        if outcome['changed']:
            sent.append(mmp_request(item))
        after = {k: outcome['config'][k] for k in ('underlying',) + COMPARED_KEYS}
        countdown = item.get('kill_switch_ms')
        if countdown is not None:
            before = dict(underlying=key, countdown_ms=raw['kill_switch']) \
                if raw and raw['kill_switch'] is not None else None
            try:
                switch = ensure_kill_switch(client, key, countdown, before=before)
            except MMPError as e:
                if not sent:
                    raise
                raise TaskError('%s (its MMP config was written first: %s)' % (e.message, ', '.join(
                    '%s=%s' % (k, after[k]) for k in COMPARED_KEYS)), details=getattr(e, 'details', None),
                    http_status=e.http_status, code=e.code, exchange_message=e.exchange_message)
            if switch['changed']:
                sent.append(countdown_request(key, countdown))
                if countdown:
                    warnings.append(ARMED_WARNING % (key, countdown, key, countdown))
            after['kill_switch_ms'] = switch['config']['countdown_ms']
        return after, sent, warnings

    @staticmethod
    def remove(client, key, raw):
        raise TaskError(BinanceConfigs.cannot_remove)


CONFIGS = BinanceConfigs()
MMP_CONFIGS = ResourceCore(CONFIGS)
