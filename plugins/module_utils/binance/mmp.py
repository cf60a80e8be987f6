# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Binance's Market Maker Protection: validate, normalise, compare, apply, read, reset. Plain Python, no AnsibleModule.

Holds the cores of ``binance_mmp``, ``binance_mmp_info`` and ``binance_mmp_reset`` (see runner.py for what a core
is): the translation between Binance's wire format and the module options, its units and ranges; the read /
compare / write loop is the core's (``desired.py``). The modules and the action plugin (the controller fast path)
both run them through ``runner.task_result()``, so both paths behave the same way.
"""

from __future__ import annotations

import re

from ansible_collections.marketops.mmp.plugins.module_utils.binance.api import EXCHANGE_INFO_PATH
from ansible_collections.marketops.mmp.plugins.module_utils.binance.killswitch import read_kill_switch
from ansible_collections.marketops.mmp.plugins.module_utils.binance.venue import (
    BINANCE,
    LONG_MAX,
    UNDERLYING_ALLOWED,
    UNDERLYING_RE,
    UnderlyingCore,
    validate_underlying,
)
from ansible_collections.marketops.mmp.plugins.module_utils.decimals import format_decimal, same_decimal, to_decimal
from ansible_collections.marketops.mmp.plugins.module_utils.desired import (
    UNKNOWN_OUTCOME_WRITES,
    ensure_state,
    unchanged,
    write_until_held,
)
from ansible_collections.marketops.mmp.plugins.module_utils.errors import ApplyError, MMPError, TaskError, ValidationError
from ansible_collections.marketops.mmp.plugins.module_utils.validation import validate_bool, validate_int, validate_names

WINDOW_MS_MAX = 5000
DECIMAL_DIGITS = 20              # the exchange's ^([0-9]{1,20})(\.[0-9]{1,20})?$
DECIMAL_RE = re.compile(r'^([0-9]{1,20})(\.[0-9]{1,20})?$')
COMPARED_KEYS = ('window_ms', 'frozen_ms', 'qty_limit', 'delta_limit')
DECIMAL_KEYS = ('qty_limit', 'delta_limit')
INFO_MAX_UNDERLYINGS = 200

FROZEN_ZERO_WARNING = ('frozen_ms is 0 for %s: after MMP triggers, quoting stays frozen until a manual reset '
                       '(POST /eapi/v1/mmpReset), not for a fixed time')


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------

def normalize_limit(option, value):
    """Validate a qty/delta limit and return it formatted as the exchange accepts it."""
    allowed = ('a decimal number > 0 with at most %d digits before and %d after the point, '
               'as an int, a float or a string such as "2.30"' % (DECIMAL_DIGITS, DECIMAL_DIGITS))
    d = to_decimal(value)
    if d is None or d <= 0:
        raise ValidationError(option, value, allowed)
    text = format_decimal(d)
    if not DECIMAL_RE.match(text):
        raise ValidationError(option, value, allowed)
    return text


def validate_mmp_params(params):
    """Check every MMP option and return the desired config, normalised. Raises ValidationError."""
    return {
        'underlying': validate_underlying(params.get('underlying')),
        'window_ms': validate_int('window_ms', params.get('window_ms'), 1, WINDOW_MS_MAX,
                                  'an integer number of milliseconds in (0, %d]' % WINDOW_MS_MAX),
        'frozen_ms': validate_int('frozen_ms', params.get('frozen_ms'), 0, LONG_MAX,
                                  'an integer number of milliseconds >= 0 (0 = frozen until a manual reset)'),
        'qty_limit': normalize_limit('qty_limit', params.get('qty_limit')),
        'delta_limit': normalize_limit('delta_limit', params.get('delta_limit')),
    }


# --------------------------------------------------------------------------------------------
# Compare and apply
# --------------------------------------------------------------------------------------------

def config_from_api(data, underlying):
    """Normalise an MMP object from the exchange into the collection's keys. Raises ApplyError."""
    if not isinstance(data, dict):
        raise ApplyError('the exchange answered the MMP request for %s with %r, not an MMP object'
                         % (underlying, type(data).__name__))
    fields = {'window_ms': 'windowTimeInMilliseconds', 'frozen_ms': 'frozenTimeInMilliseconds',
              'qty_limit': 'qtyLimit', 'delta_limit': 'deltaLimit', 'last_trigger_time': 'lastTriggerTime'}
    config = {'underlying': str(data.get('underlying') or underlying).upper()}
    for key, field in fields.items():
        raw = data.get(field)
        d = to_decimal(raw)
        if key in ('qty_limit', 'delta_limit'):
            if d is None and raw is not None:
                raise ApplyError('the exchange\'s MMP answer for %s has %s=%r, not a decimal' % (underlying, field, raw))
            config[key] = format_decimal(d) if d is not None else None
        else:
            if d is None and raw is not None or d is not None and (d != d.to_integral_value() or d < 0):
                raise ApplyError('the exchange\'s MMP answer for %s has %s=%r, not an integer >= 0' % (underlying, field, raw))
            config[key] = int(d) if d is not None else None
    if config['underlying'] != underlying:
        raise ApplyError('asked for the MMP config of %s, the exchange answered for %s'
                         % (underlying, config['underlying']))
    return config


def mmp_status(config, now_ms):
    """What an MMP config (as config_from_api() returns it) says about its state at ``now_ms``.

    ``now_ms`` is the exchange's clock in milliseconds since the epoch. Returns a dict:
    ``configured`` (window_ms > 0), ``triggered`` (last_trigger_time > 0), ``frozen`` (triggered, and
    frozen_ms is 0 or now_ms is before last_trigger_time + frozen_ms) and ``frozen_until`` (milliseconds
    since the epoch; None when not frozen, or when frozen until a manual reset).
    """
    window = config.get('window_ms') or 0
    frozen_ms = config.get('frozen_ms') or 0
    last = config.get('last_trigger_time') or 0
    triggered = last > 0
    frozen = triggered and (frozen_ms == 0 or now_ms < last + frozen_ms)
    return dict(configured=window > 0, triggered=triggered, frozen=frozen,
                frozen_until=last + frozen_ms if frozen and frozen_ms > 0 else None)


def differences(current, desired):
    """The compared keys whose values differ; limits are compared as decimals."""
    return [key for key in COMPARED_KEYS
            if not (same_decimal(current.get(key), desired.get(key)) if key in DECIMAL_KEYS
                    else current.get(key) == desired.get(key))]


def _describe(config):
    return ', '.join('%s=%s' % (k, config.get(k)) for k in COMPARED_KEYS)


def ensure_mmp(client, desired, check_mode=False, before=None):
    """Make the exchange hold ``desired`` for its underlying (``desired.ensure_state``); ``before``: the config
    already read (config_from_api()), else it is read first.

    Returns a dict: changed, config (what the exchange holds after the task), diff (before/after).
    ``desired`` is what validate_mmp_params() returns. Raises MMPError (ApplyError when the exchange ends up holding
    something else).
    """
    underlying = desired['underlying']
    state = {}

    def read():
        state['before'] = config_from_api(client.get_mmp(underlying), underlying) if before is None else before
        return state['before']

    def predict(current):
        return dict(current, **{k: desired[k] for k in COMPARED_KEYS})

    def readback_failed(error, read_error):
        return ApplyError('%s; reading the MMP config of %s back failed too (%s): the exchange may or may not hold '
                          'the requested config, run again to converge' % (error.message, underlying, read_error.message),
                          before=state['before'], asked=desired)

    def mismatch(after, source):
        return ApplyError('the exchange did not apply the requested MMP config for %s: asked %s; the exchange %s %s '
                          '(differs in %s)' % (underlying, _describe(desired), source, _describe(after),
                                               ', '.join(differences(after, desired))),
                          before=state['before'], asked=desired, exchange=after)

    return ensure_state(client, read, lambda config: not differences(config, desired), predict, check_mode,
                        write=lambda: config_from_api(client.set_mmp(**desired), underlying),
                        read_back=lambda: config_from_api(client.get_mmp(underlying), underlying),
                        readback_failed=readback_failed, mismatch=mismatch)


def reset_mmp(client, underlying, only_if_frozen=True, check_mode=False):
    """Reset the MMP of ``underlying`` (``POST /eapi/v1/mmpReset``), only when it is frozen if ``only_if_frozen``.

    Returns a dict: changed (a reset was sent; in check mode: would be), config (after the task; the reset's
    answer is taken as the state after it), was_frozen, diff. An unknown outcome is decided by reading back.
    """
    before = config_from_api(client.get_mmp(underlying), underlying)
    was_frozen = mmp_status(before, client.server_now_ms())['frozen']
    if only_if_frozen and not was_frozen:
        return dict(unchanged(before), was_frozen=False)
    if check_mode:
        predicted = dict(before, last_trigger_time=0)
        return dict(changed=True, config=before, was_frozen=was_frozen, diff=dict(before=before, after=predicted))

    def readback_failed(error, read_error):
        return ApplyError('%s; reading the MMP config of %s back failed too (%s): the reset may or may not have '
                          'happened, run again' % (error.message, underlying, read_error.message), before=before)

    def exhausted(error, after):
        return ApplyError('%s; the MMP of %s still reads as frozen after %d resets: the exchange may not have reset '
                          'it' % (error.message, underlying, UNKNOWN_OUTCOME_WRITES + 1), before=before)

    after = write_until_held(client, write=lambda: config_from_api(client.reset_mmp(underlying), underlying),
                             read_back=lambda: config_from_api(client.get_mmp(underlying), underlying),
                             holds=lambda config: not mmp_status(config, client.server_now_ms())['frozen'],
                             readback_failed=readback_failed, exhausted=exhausted,
                             held='no longer frozen', not_held='still frozen')
    return dict(changed=True, config=after, was_frozen=was_frozen, diff=dict(before=before, after=after))


def listed_underlyings(data):
    """``optionContracts[].underlying`` of ``GET /eapi/v1/exchangeInfo``: (names, skipped), deduplicated, upper
    case, in the exchange's order. The one parser of that list, for the info module, the audit and the watcher.

    An entry whose underlying is not a name of letters and digits is skipped, and given in ``skipped`` (so that the
    caller says so); an answer without an ``optionContracts`` list, or that lists no name, raises TaskError.
    """
    contracts = data.get('optionContracts') if isinstance(data, dict) else None
    if not isinstance(contracts, list):
        raise TaskError('GET %s answered without an optionContracts list: the underlyings cannot be listed; set the '
                        'underlyings option' % EXCHANGE_INFO_PATH)
    names, skipped = [], []
    for contract in contracts:
        name = contract.get('underlying') if isinstance(contract, dict) else None
        if not isinstance(name, str) or not UNDERLYING_RE.match(name):
            if repr(name)[:64] not in skipped:
                skipped.append(repr(name)[:64])
        elif name.upper() not in names:
            names.append(name.upper())
    if not names:
        raise TaskError('GET %s lists no underlying: set the underlyings option' % EXCHANGE_INFO_PATH)
    return names, skipped


SKIPPED_WARNING = ('GET %s lists option contracts whose underlying is not a name of letters and digits: %s; they were '
                   'skipped' % (EXCHANGE_INFO_PATH, '%s'))


def read_mmp_info(client, underlyings=None):
    """The MMP state (config and derived status) and the kill-switch of every underlying.

    ``underlyings``: validated names, or None for every underlying the exchange lists. One MMP read and one
    kill-switch read per underlying (plus ``exchangeInfo`` when none is given). Returns (mmp, kill_switch, warnings).
    """
    warnings = []
    if not underlyings:
        underlyings, skipped = listed_underlyings(client.exchange_info())
        if skipped:
            warnings.append(SKIPPED_WARNING % ', '.join(skipped))
        if len(underlyings) > INFO_MAX_UNDERLYINGS:
            raise TaskError('GET %s lists %d underlyings, more than the %d this module reads in one task: set the '
                            'underlyings option' % (EXCHANGE_INFO_PATH, len(underlyings), INFO_MAX_UNDERLYINGS))
    mmp, kill_switch = [], []
    for underlying in underlyings:
        try:
            config = config_from_api(client.get_mmp(underlying), underlying)
        except TaskError:
            raise
        except MMPError as e:
            raise TaskError('MMP %s: %s' % (underlying, e.message), details=dict(underlying=underlying),
                            http_status=e.http_status, code=e.code, exchange_message=e.exchange_message)
        config.update(mmp_status(config, client.server_now_ms()))
        mmp.append(config)
    for underlying in underlyings:
        kill_switch.append(read_kill_switch(client, underlying))
    return mmp, kill_switch, warnings


# --------------------------------------------------------------------------------------------
# The modules' cores (see runner.py)
# --------------------------------------------------------------------------------------------

class MMPCore(UnderlyingCore):
    """binance_mmp: make one underlying's MMP config equal to the options."""

    @staticmethod
    def argument_spec():
        return dict(
            underlying=dict(type='str', required=True),
            window_ms=dict(type='int', required=True),
            frozen_ms=dict(type='int', required=True),
            qty_limit=dict(type='raw', required=True),
            delta_limit=dict(type='raw', required=True),
        )

    @staticmethod
    def validate(params):
        desired = validate_mmp_params(params)
        warnings = [FROZEN_ZERO_WARNING % desired['underlying']] if desired['frozen_ms'] == 0 else []
        return desired, warnings

    @staticmethod
    def run(client, desired, check_mode):
        outcome = ensure_mmp(client, desired, check_mode=check_mode)
        return dict(changed=outcome['changed'], config=outcome['config'], diff=outcome['diff'])


class MMPResetCore(UnderlyingCore):
    """binance_mmp_reset: reset a frozen underlying."""

    name = 'MMP reset'

    @staticmethod
    def argument_spec():
        return dict(underlying=dict(type='str', required=True), only_if_frozen=dict(type='bool', default=True))

    @staticmethod
    def validate(params):
        return dict(underlying=validate_underlying(params.get('underlying')),
                    only_if_frozen=validate_bool('only_if_frozen', params.get('only_if_frozen'))), []

    @staticmethod
    def run(client, desired, check_mode):
        return reset_mmp(client, desired['underlying'], only_if_frozen=desired['only_if_frozen'],
                         check_mode=check_mode)


class MMPInfoCore:
    """binance_mmp_info: read the MMP state and kill-switch of several underlyings."""

    venue = BINANCE

    @staticmethod
    def argument_spec():
        return dict(underlyings=dict(type='list', elements='str'))

    @staticmethod
    def validate(params):
        return dict(underlyings=validate_names('underlyings', params.get('underlyings'), UNDERLYING_RE,
                                               UNDERLYING_ALLOWED, INFO_MAX_UNDERLYINGS, upper=True,
                                               kind='underlyings')), []

    @staticmethod
    def what(desired):
        return 'MMP info'

    @staticmethod
    def error_context(desired):
        return {}

    @staticmethod
    def run(client, desired, check_mode):
        mmp, kill_switch, warnings = read_mmp_info(client, desired['underlyings'])
        return dict(changed=False, mmp=mmp, kill_switch=kill_switch, warnings=warnings)


MMP = MMPCore()
MMP_RESET = MMPResetCore()
MMP_INFO = MMPInfoCore()
