# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Deribit's Market Maker Protection: validate, normalise, compare, apply, read, reset. Plain Python, no AnsibleModule.

Holds the cores of ``deribit_mmp``, ``deribit_mmp_info`` and ``deribit_mmp_reset`` (see runner.py for what a core
is): the translation between Deribit's wire format (``interval``, ``frozen_time`` in seconds, ``quantity_limit``,
...) and the module options (``window_s``, ``frozen_s``, ``qty_limit``, ...), its units and ranges; the read /
compare / write loop is the core's (``desired.py``).

A config is identified by its scope: (index_name, mmp_group or None for the default group, block_rfq). A task
describes the whole config of its scope: a limit it leaves out is unset on the exchange (a set replaces the config).
A scope with no config reads as ``window_s`` 0 (Deribit's ``interval`` 0 removes a config).
"""

from __future__ import annotations

import re

from ansible_collections.marketops.mmp.plugins.module_utils.decimals import format_decimal, same_decimal, to_decimal
from ansible_collections.marketops.mmp.plugins.module_utils.deribit.venue import (
    DERIBIT,
    ScopeCore,
    describe_scope,
    validate_index_name,
    validate_scope,
)
from ansible_collections.marketops.mmp.plugins.module_utils.desired import (
    UNKNOWN_OUTCOME_WRITES,
    ensure_state,
    unchanged,
    write_until_held,
)
from ansible_collections.marketops.mmp.plugins.module_utils.errors import (
    APIError,
    ApplyError,
    MMPError,
    TaskError,
    ValidationError,
)
from ansible_collections.marketops.mmp.plugins.module_utils.validation import validate_bool, validate_int

SECONDS_MAX = 3600
TRADE_COUNT_MAX = 1000
DECIMAL_PLACES = 4
DECIMAL_RE = re.compile(r'^[0-9]{1,20}(\.[0-9]{1,%d})?$' % DECIMAL_PLACES)
LIMIT_KEYS = ('qty_limit', 'delta_limit', 'vega_limit', 'max_quote_qty')
REQUIRED_ONE_OF = ('qty_limit', 'delta_limit', 'vega_limit')
COMPARED_KEYS = ('window_s', 'frozen_s') + LIMIT_KEYS + ('trade_count_limit',)
# the module's keys and Deribit's fields
WIRE = {'window_s': 'interval', 'frozen_s': 'frozen_time', 'qty_limit': 'quantity_limit',
        'delta_limit': 'delta_limit', 'vega_limit': 'vega_limit', 'max_quote_qty': 'max_quote_quantity',
        'trade_count_limit': 'trade_count_limit'}
INFO_MAX_CONFIGS = 1000

FROZEN_ZERO_WARNING = ('frozen_s is 0 for %s: after MMP triggers, quoting stays frozen until a manual reset '
                       '(private/reset_mmp, marketops.mmp.deribit_mmp_reset), not for a fixed time')


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------

def normalize_limit(option, value):
    """A limit given as a string, an int or a float: > 0, at most 4 decimal places, as a plain decimal string."""
    allowed = ('a decimal number > 0 with at most %d decimal places, as a string such as "2.5", an int or a float'
               % DECIMAL_PLACES)
    d = to_decimal(value)
    if d is None or d <= 0:
        raise ValidationError(option, value, allowed)
    text = format_decimal(d)
    if not DECIMAL_RE.match(text):
        raise ValidationError(option, value, allowed)
    return text


def empty_config(scope):
    """The config of a scope the exchange holds nothing for."""
    config = dict(scope)
    config.update(window_s=0, frozen_s=0, trade_count_limit=None, **{k: None for k in LIMIT_KEYS})
    return config


def validate_mmp_params(params):
    """Check every option of ``deribit_mmp`` and return the desired config, normalised. Raises ValidationError."""
    scope = validate_scope(params)
    state = params.get('state')
    if state not in ('present', 'absent'):
        raise ValidationError('state', state, 'present or absent')
    if state == 'absent':
        given = [k for k in COMPARED_KEYS if params.get(k) is not None]
        if given:
            raise ValidationError(given[0], params.get(given[0]), None,
                                  message='%s: not allowed with state absent (the config of %s is removed)'
                                  % (given[0], describe_scope(scope)))
        return dict(empty_config(scope), state='absent')
    desired = dict(scope, state='present')
    desired['window_s'] = validate_int('window_s', params.get('window_s'), 1, SECONDS_MAX,
                                       'an integer number of seconds in [1, %d] (required with state present)'
                                       % SECONDS_MAX)
    desired['frozen_s'] = validate_int('frozen_s', params.get('frozen_s'), 0, SECONDS_MAX,
                                       'an integer number of seconds in [0, %d] (0 = frozen until a manual reset; '
                                       'required with state present)' % SECONDS_MAX)
    for key in LIMIT_KEYS:
        desired[key] = normalize_limit(key, params[key]) if params.get(key) is not None else None
    if all(desired[key] is None for key in REQUIRED_ONE_OF):
        raise ValidationError('qty_limit', None, None, message='qty_limit, delta_limit, vega_limit: set at least one '
                              'of them (Deribit needs at least one limit); got none')
    count = params.get('trade_count_limit')
    if count is not None:
        if not scope['block_rfq'] or scope['index_name'] != 'all':
            raise ValidationError('trade_count_limit', count, None,
                                  message='trade_count_limit: only with block_rfq: true and index_name: all (a Block '
                                  'RFQ config), got it for %s' % describe_scope(scope))
        count = validate_int('trade_count_limit', count, 1, TRADE_COUNT_MAX,
                             'an integer in [1, %d]' % TRADE_COUNT_MAX)
    desired['trade_count_limit'] = count
    return desired


# --------------------------------------------------------------------------------------------
# The exchange's answers
# --------------------------------------------------------------------------------------------

def _scope_of(entry):
    group = entry.get('mmp_group')
    return (str(entry.get('index_name') or '').lower(), group if isinstance(group, str) and group else None,
            entry.get('block_rfq') is True)


def _key(scope):
    return (scope['index_name'], scope['mmp_group'], bool(scope['block_rfq']))


def entries_of(data, what):
    """The list of objects of a get / set / status answer (Deribit documents both a list and a single object for
    set). Raises ApplyError on anything else."""
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
        raise ApplyError('the exchange answered %s with %s, not a list of MMP objects' % (what, type(data).__name__))
    return data


def config_from_api(entry, what):
    """One MMP config object of Deribit, in the module's keys and units. Raises ApplyError on a malformed value."""
    index_name, group, block_rfq = _scope_of(entry)
    config = dict(index_name=index_name, mmp_group=group, block_rfq=block_rfq)
    for key, field in WIRE.items():
        raw = entry.get(field)
        d = to_decimal(raw)
        if raw is not None and d is None:
            raise ApplyError('the exchange\'s MMP answer for %s has %s=%r, not a number' % (what, field, raw))
        if key in LIMIT_KEYS:
            if d is not None and d < 0:
                raise ApplyError('the exchange\'s MMP answer for %s has %s=%r, a negative limit' % (what, field, raw))
            config[key] = format_decimal(d) if d else None  # 0 or absent: unset
        else:
            if d is not None and (d != d.to_integral_value() or d < 0):
                raise ApplyError('the exchange\'s MMP answer for %s has %s=%r, not an integer >= 0' % (what, field, raw))
            config[key] = int(d) if d else (0 if key in ('window_s', 'frozen_s') else None)
    return config


def configs_from_api(data, what):
    """Every config of a get_mmp_config answer, normalised, in the exchange's order."""
    return [config_from_api(entry, what) for entry in entries_of(data, what)]


def read_listing(client, method, kinds=(False, True)):
    """Every entry the account's ``get_mmp_config`` (``method`` ``config``) or ``get_mmp_status`` (``status``) lists,
    without an index: complete whichever way the exchange reads ``block_rfq``.

    Deribit documents ``block_rfq`` with a default of false and does not say whether a listing without it lists every
    config or only those that are not Block RFQ. So one listing is sent per kind in ``kinds``: without parameters
    (every config that is not Block RFQ, under either reading) and with ``block_rfq=true`` (every Block RFQ config);
    their entries are merged by scope (the first seen kept, in the exchange's order). An entry of the Block RFQ
    listing without a ``block_rfq`` field is a Block RFQ one. One request per kind. A refusal of the Block RFQ
    listing (a key without ``block_rfq:read``) is raised, saying which read it was: never a listing without them."""
    read = client.get_mmp_config if method == 'config' else client.get_mmp_status
    merged = {}
    for block_rfq in kinds:
        what = 'get_mmp_%s%s' % (method, ' (Block RFQ)' if block_rfq else '')
        try:
            data = read(block_rfq=block_rfq)
        except APIError as e:
            if not block_rfq:
                raise
            raise APIError('listing the Block RFQ configs (block_rfq=true; the API key needs block_rfq:read): %s'
                           % e.message, http_status=e.http_status, code=e.code, exchange_message=e.exchange_message)
        for entry in entries_of(data, what):
            if block_rfq and 'block_rfq' not in entry:
                entry = dict(entry, block_rfq=True)
            merged.setdefault(_scope_of(entry), entry)
    return list(merged.values())


def pick(configs, scope):
    """The config of ``scope`` among ``configs``; the empty config when none is of that scope."""
    for config in configs:
        if _key(config) == _key(scope):
            return config
    return empty_config(scope)


def frozen_state(statuses, scope, now_ms):
    """Whether the config of ``scope`` is frozen now, from get_mmp_status's entries: (frozen, frozen_until) where
    ``frozen_until`` is ms since the epoch, None when not frozen or frozen until a manual reset."""
    for entry in statuses:
        if _scope_of(entry) != _key(scope):
            continue
        until = to_decimal(entry.get('frozen_until'))
        if until is None or until == 0:
            return True, None
        if until > now_ms:
            return True, int(until)
    return False, None


# --------------------------------------------------------------------------------------------
# Compare and apply
# --------------------------------------------------------------------------------------------

def differences(current, desired):
    """The compared keys whose values differ; limits are compared as decimals (unset equals unset)."""
    if desired['state'] == 'absent':
        return ['window_s'] if current['window_s'] else []
    out = []
    for key in COMPARED_KEYS:
        a, b = current.get(key), desired.get(key)
        if key in LIMIT_KEYS:
            same = (a is None and b is None) or same_decimal(a, b)
        else:
            same = a == b
        if not same:
            out.append(key)
    return out


def _describe(config):
    return ', '.join('%s=%s' % (k, config.get(k)) for k in COMPARED_KEYS if config.get(k) is not None) or 'no config'


def public_config(config):
    """A config as the modules return it."""
    return {k: config.get(k) for k in ('index_name', 'mmp_group', 'block_rfq') + COMPARED_KEYS}


def ensure_mmp(client, desired, check_mode=False, before=None):
    """Make the exchange hold ``desired`` for its scope (``desired.ensure_state``); ``state: absent`` removes it.
    ``before``: the config already read (public_config()), else it is read first.

    Returns a dict: changed, config (what the exchange holds after the task), diff (before/after). Raises MMPError
    (ApplyError when the exchange ends up holding something else).
    """
    scope = {k: desired[k] for k in ('index_name', 'mmp_group', 'block_rfq')}
    shown = describe_scope(scope)
    state = {}

    def read():
        data = client.get_mmp_config(scope['index_name'], scope['mmp_group'], scope['block_rfq'])
        return public_config(pick(configs_from_api(data, shown), scope))

    def first_read():
        state['before'] = read() if before is None else before
        return state['before']

    def predict(before):
        if desired['state'] == 'absent':
            return public_config(empty_config(scope))
        return public_config(desired)

    def write():
        if desired['state'] == 'absent':
            # interval 0 removes the config; the other values are the current ones (Deribit wants a limit in a set)
            current = state['before']
            params = dict(interval=0, frozen_time=current['frozen_s'] or 0)
            params.update({WIRE[k]: current[k] for k in LIMIT_KEYS + ('trade_count_limit',)})
        else:
            params = {WIRE[k]: desired[k] for k in COMPARED_KEYS}
        data = client.set_mmp_config(scope['index_name'], mmp_group=scope['mmp_group'], block_rfq=scope['block_rfq'],
                                     **params)
        try:
            configs = configs_from_api(data, shown) if data not in (None, 'ok', []) else []
        except ApplyError:
            configs = []
        if not any(_key(c) == _key(scope) for c in configs):
            return read()  # the answer does not show the config: the exchange's state decides
        return public_config(pick(configs, scope))

    def readback_failed(error, read_error):
        return ApplyError('%s; reading the MMP config of %s back failed too (%s): the exchange may or may not hold '
                          'the requested config, run again to converge' % (error.message, shown, read_error.message),
                          before=state['before'], asked=public_config(desired))

    def mismatch(after, source):
        return ApplyError('the exchange did not apply the requested MMP config for %s: asked %s; the exchange %s %s '
                          '(differs in %s)' % (shown, _describe(predict(None)), source, _describe(after),
                                               ', '.join(differences(after, desired))),
                          before=state['before'], asked=public_config(desired), exchange=after)

    return ensure_state(client, first_read, lambda config: not differences(config, desired), predict, check_mode,
                        write=write, read_back=read, readback_failed=readback_failed, mismatch=mismatch)


def scope_frozen(client, scope):
    """(frozen, frozen_until) of one scope: one read, the account's triggered configs of its kind (``read_listing``:
    without parameters for a config that is not Block RFQ, with ``block_rfq=true`` for a Block RFQ one; either lists
    it whichever way the exchange reads block_rfq's default)."""
    statuses = read_listing(client, 'status', (bool(scope['block_rfq']),))
    return frozen_state(statuses, scope, client.server_now_ms())


def read_status(client, scope):
    """(config, frozen, frozen_until) of one scope: two reads (its config, the account's triggered configs of its
    kind)."""
    shown = describe_scope(scope)
    config = public_config(pick(configs_from_api(
        client.get_mmp_config(scope['index_name'], scope['mmp_group'], scope['block_rfq']), shown), scope))
    frozen, until = scope_frozen(client, scope)
    return config, frozen, until


def reset_mmp(client, scope, only_if_frozen=True, check_mode=False):
    """Reset the MMP of ``scope`` (``private/reset_mmp``), only when it is frozen if ``only_if_frozen``.

    Returns a dict: changed (a reset was sent; in check mode: would be), config, was_frozen, diff. An unknown outcome
    is decided by reading the status back.
    """
    shown = describe_scope(scope)
    config, was_frozen, until = read_status(client, scope)
    before = dict(config, frozen=was_frozen, frozen_until=until)
    after_reset = dict(config, frozen=False, frozen_until=None)
    if only_if_frozen and not was_frozen:
        return dict(unchanged(before), config=config, was_frozen=False)
    if check_mode:
        return dict(changed=True, config=config, was_frozen=was_frozen, diff=dict(before=before, after=after_reset))

    def frozen_now():
        return scope_frozen(client, scope)[0]

    def readback_failed(error, read_error):
        return ApplyError('%s; reading the MMP status of %s back failed too (%s): the reset may or may not have '
                          'happened, run again' % (error.message, shown, read_error.message), before=before)

    def exhausted(error, after):
        return ApplyError('%s; the MMP of %s still reads as frozen after %d resets: the exchange may not have reset '
                          'it' % (error.message, shown, UNKNOWN_OUTCOME_WRITES + 1), before=before)

    def write():
        client.reset_mmp(scope['index_name'], scope['mmp_group'], scope['block_rfq'])
        return False  # "ok": no longer frozen

    write_until_held(client, write=write, read_back=frozen_now, holds=lambda frozen: not frozen,
                     readback_failed=readback_failed, exhausted=exhausted, held='no longer frozen',
                     not_held='still frozen')
    return dict(changed=True, config=config, was_frozen=was_frozen, diff=dict(before=before, after=after_reset))


def read_mmp_info(client, index_name=None):
    """Every config of the account (or of one index: its default group, its MMP groups and its Block RFQ configs;
    ``all``: the Block RFQ configs of every index) with its frozen state.

    Complete whichever way the exchange reads block_rfq's default (``read_listing``): two get_mmp_config (the
    account's configs, its Block RFQ configs), filtered here by index, then one get_mmp_status per kind among them
    (none when there is no config, two when there are both): 2 to 4 requests, whatever the number of configs."""
    configs = [config_from_api(entry, 'get_mmp_config') for entry in read_listing(client, 'config')]
    if index_name:
        configs = [c for c in configs if c['index_name'] == index_name]
    if len(configs) > INFO_MAX_CONFIGS:
        raise TaskError('get_mmp_config lists %d configs, more than the %d this module returns' %
                        (len(configs), INFO_MAX_CONFIGS))
    kinds = tuple(kind for kind in (False, True) if any(c['block_rfq'] is kind for c in configs))
    statuses = read_listing(client, 'status', kinds) if kinds else []
    now = client.server_now_ms()
    out = []
    for config in configs:
        frozen, until = frozen_state(statuses, config, now)
        out.append(dict(public_config(config), frozen=frozen, frozen_until=until))
    return out


# --------------------------------------------------------------------------------------------
# The modules' cores (see runner.py)
# --------------------------------------------------------------------------------------------

def _scope_spec():
    return dict(index_name=dict(type='str', required=True), mmp_group=dict(type='str'),
                block_rfq=dict(type='bool', default=False))


class MMPCore(ScopeCore):
    """deribit_mmp: make one config (index, group, Block RFQ) equal to the options."""

    @staticmethod
    def argument_spec():
        spec = _scope_spec()
        spec.update(state=dict(type='str', default='present', choices=['present', 'absent']),
                    window_s=dict(type='int'), frozen_s=dict(type='int'),
                    qty_limit=dict(type='raw'), delta_limit=dict(type='raw'), vega_limit=dict(type='raw'),
                    max_quote_qty=dict(type='raw'), trade_count_limit=dict(type='int'))
        return spec

    @staticmethod
    def validate(params):
        desired = validate_mmp_params(params)
        warnings = []
        if desired['state'] == 'present' and desired['frozen_s'] == 0:
            warnings.append(FROZEN_ZERO_WARNING % describe_scope(desired))
        return desired, warnings

    @staticmethod
    def run(client, desired, check_mode):
        return ensure_mmp(client, desired, check_mode=check_mode)


class MMPResetCore(ScopeCore):
    """deribit_mmp_reset: reset a frozen config."""

    name = 'MMP reset'

    @staticmethod
    def argument_spec():
        spec = _scope_spec()
        spec.update(only_if_frozen=dict(type='bool', default=True))
        return spec

    @staticmethod
    def validate(params):
        desired = validate_scope(params)
        desired['only_if_frozen'] = validate_bool('only_if_frozen', params.get('only_if_frozen'))
        return desired, []

    @staticmethod
    def run(client, desired, check_mode):
        scope = {k: desired[k] for k in ('index_name', 'mmp_group', 'block_rfq')}
        return reset_mmp(client, scope, only_if_frozen=desired['only_if_frozen'], check_mode=check_mode)


class MMPInfoCore:
    """deribit_mmp_info: read every config (or one index's) and its frozen state."""

    venue = DERIBIT

    @staticmethod
    def argument_spec():
        return dict(index_name=dict(type='str'))

    @staticmethod
    def validate(params):
        index_name = params.get('index_name')
        return dict(index_name=validate_index_name(index_name) if index_name is not None else None), []

    @staticmethod
    def what(desired):
        return 'MMP info%s' % (' %s' % desired['index_name'] if desired['index_name'] else '')

    @staticmethod
    def error_context(desired):
        return dict(index_name=desired['index_name']) if desired['index_name'] else {}

    @staticmethod
    def run(client, desired, check_mode):
        try:
            mmp = read_mmp_info(client, desired['index_name'])
        except TaskError:
            raise
        except MMPError as e:
            raise TaskError('MMP info: %s' % e.message, http_status=e.http_status, code=e.code,
                            exchange_message=e.exchange_message)
        return dict(changed=False, mmp=mmp)


MMP = MMPCore()
MMP_RESET = MMPResetCore()
MMP_INFO = MMPInfoCore()
