# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Market Maker Protection logic: validate, normalise, compare, apply, read, reset. Plain Python, no AnsibleModule.

Holds the cores of ``binance_mmp``, ``binance_mmp_info`` and ``binance_mmp_reset`` (see common.py for what a
core is). The modules and the action plugin (the controller fast path) both run them through
``common.task_result()``, so both paths behave the same way.
"""

from __future__ import annotations

import re

from decimal import Decimal, InvalidOperation

from ansible_collections.marketops.mmp.plugins.module_utils.client import (
    BinanceError,
    BinanceUnknownOutcome,
    insecure_tls_warning,
)
from ansible_collections.marketops.mmp.plugins.module_utils import common
from ansible_collections.marketops.mmp.plugins.module_utils.common import (  # pylint: disable=unused-import
    BinanceTaskError,
    BinanceValidationError,
    LONG_MAX,
    UNDERLYING_RE,
    UNKNOWN_OUTCOME_WRITES,
    auth_argument_spec,  # noqa: F401 (importable from here, as before the split into common.py)
    client_from_params,
    validate_connection_params,
    validate_long,
    validate_underlying,
)
from ansible_collections.marketops.mmp.plugins.module_utils.killswitch import read_kill_switch


WINDOW_MS_MAX = 5000
DECIMAL_DIGITS = 20              # the exchange's ^([0-9]{1,20})(\.[0-9]{1,20})?$
DECIMAL_RE = re.compile(r'^([0-9]{1,20})(\.[0-9]{1,20})?$')
COMPARED_KEYS = ('window_ms', 'frozen_ms', 'qty_limit', 'delta_limit')
INFO_MAX_UNDERLYINGS = 200

FROZEN_ZERO_WARNING = ('frozen_ms is 0 for %s: after MMP triggers, quoting stays frozen until a manual reset '
                       '(POST /eapi/v1/mmpReset), not for a fixed time')

# Kept under its first name: the MMP module's bad input.
MMPValidationError = BinanceValidationError


class MMPApplyError(BinanceTaskError):
    """The exchange did not end up holding what was asked, or answered nonsense. Carries both sides."""

    def __init__(self, message, before=None, asked=None, exchange=None):
        details = {}
        if before is not None:
            details['before'] = before
        if exchange is not None:
            details['exchange'] = exchange
            details['asked'] = dict(asked or {})
        super().__init__(message, details=details)
        self.before = before
        self.asked = asked
        self.exchange = exchange


# --------------------------------------------------------------------------------------------
# Decimals
# --------------------------------------------------------------------------------------------

def to_decimal(value):
    """Exact Decimal of an int, a float (by its shortest repr: 2.3 is 2.3) or a string. None if not a number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, float):
            d = Decimal(repr(value))
        elif isinstance(value, (int, Decimal)):
            d = Decimal(value)
        elif isinstance(value, str):
            d = Decimal(value.strip())
        else:
            return None
    except (InvalidOperation, ValueError):
        return None
    if not d.is_finite():
        return None
    return d


def format_decimal(d):
    """Plain notation, no exponent, no trailing zeros: Decimal('2.30') -> '2.3', Decimal('1E-5') -> '0.00001'."""
    text = format(d, 'f')
    if '.' in text:
        text = text.rstrip('0').rstrip('.')
    if text in ('', '-0'):
        text = '0'
    return text


def normalize_limit(option, value):
    """Validate a qty/delta limit and return it formatted as the exchange accepts it."""
    allowed = ('a decimal number > 0 with at most %d digits before and %d after the point, '
               'as an int, a float or a string such as "2.30"' % (DECIMAL_DIGITS, DECIMAL_DIGITS))
    d = to_decimal(value)
    if d is None or d <= 0:
        raise MMPValidationError(option, value, allowed)
    text = format_decimal(d)
    if not DECIMAL_RE.match(text):
        raise MMPValidationError(option, value, allowed)
    return text


def validate_mmp_params(params):
    """Check every MMP option and return the desired config, normalised. Raises MMPValidationError."""
    return {
        'underlying': validate_underlying(params.get('underlying')),
        'window_ms': validate_long('window_ms', params.get('window_ms'), 1, WINDOW_MS_MAX,
                                   'an integer number of milliseconds in (0, %d]' % WINDOW_MS_MAX),
        'frozen_ms': validate_long('frozen_ms', params.get('frozen_ms'), 0, LONG_MAX,
                                   'an integer number of milliseconds >= 0 (0 = frozen until a manual reset)'),
        'qty_limit': normalize_limit('qty_limit', params.get('qty_limit')),
        'delta_limit': normalize_limit('delta_limit', params.get('delta_limit')),
    }


def validate_all(params):
    """Validate every option; returns the desired MMP config and warnings (as the task gives them, without the
    account label). No request is made."""
    validate_connection_params(params)
    desired, warnings = MMP.validate(params)
    insecure = insecure_tls_warning(params.get('base_url'), params.get('validate_certs', True))
    return desired, ([insecure] if insecure else []) + warnings


# --------------------------------------------------------------------------------------------
# Compare and apply
# --------------------------------------------------------------------------------------------

def config_from_api(data, underlying):
    """Normalise an MMP object from the exchange into the collection's keys. Raises MMPApplyError."""
    if not isinstance(data, dict):
        raise MMPApplyError('the exchange answered the MMP request for %s with %r, not an MMP object'
                            % (underlying, type(data).__name__))
    fields = {'window_ms': 'windowTimeInMilliseconds', 'frozen_ms': 'frozenTimeInMilliseconds',
              'qty_limit': 'qtyLimit', 'delta_limit': 'deltaLimit', 'last_trigger_time': 'lastTriggerTime'}
    config = {'underlying': str(data.get('underlying') or underlying).upper()}
    for key, field in fields.items():
        raw = data.get(field)
        d = to_decimal(raw)
        if key in ('qty_limit', 'delta_limit'):
            if d is None and raw is not None:
                raise MMPApplyError('the exchange\'s MMP answer for %s has %s=%r, not a decimal' % (underlying, field, raw))
            config[key] = format_decimal(d) if d is not None else None
        else:
            if d is None and raw is not None or d is not None and (d != d.to_integral_value() or d < 0):
                raise MMPApplyError('the exchange\'s MMP answer for %s has %s=%r, not an integer >= 0' % (underlying, field, raw))
            config[key] = int(d) if d is not None else None
    if config['underlying'] != underlying:
        raise MMPApplyError('asked for the MMP config of %s, the exchange answered for %s'
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
    diff = []
    for key in COMPARED_KEYS:
        a, b = current.get(key), desired.get(key)
        if key in ('qty_limit', 'delta_limit'):
            da, db = to_decimal(a), to_decimal(b)
            same = da is not None and db is not None and da == db
        else:
            same = a == b
        if not same:
            diff.append(key)
    return diff


def _describe(config):
    return ', '.join('%s=%s' % (k, config.get(k)) for k in COMPARED_KEYS)


def ensure_mmp(client, desired, check_mode=False):
    """Make the exchange hold ``desired`` for its underlying.

    Returns a dict: changed, config (what the exchange holds after the task), diff (before/after).
    ``desired`` is what validate_mmp_params() returns. Raises BinanceError (MMPApplyError when the exchange ends up holding something else).
    """
    underlying = desired['underlying']
    before = config_from_api(client.get_mmp(underlying), underlying)
    if not differences(before, desired):
        return dict(changed=False, config=before, diff=dict(before=dict(before), after=dict(before)))

    predicted = dict(before)
    predicted.update((k, desired[k]) for k in COMPARED_KEYS)
    if check_mode:
        return dict(changed=True, config=before, diff=dict(before=before, after=predicted))

    writes_left = UNKNOWN_OUTCOME_WRITES
    while True:
        try:
            after = config_from_api(client.set_mmp(**desired), underlying)
            source = 'answered'
        except BinanceUnknownOutcome as e:
            try:
                after = config_from_api(client.get_mmp(underlying), underlying)
            except BinanceError as read_error:
                raise MMPApplyError('%s; reading the MMP config of %s back failed too (%s): the exchange may or may '
                                    'not hold the requested config, run again to converge'
                                    % (e.message, underlying, read_error.message),
                                    before=before, asked=desired)
            if differences(after, desired) and writes_left > 0:
                writes_left -= 1
                client.note_recovery('%s; read back: not applied, sent again' % e.message)
                continue  # read back: not applied; setting the config is idempotent, send it again
            source = 'holds after an unknown write outcome (%s)' % e.message
            if not differences(after, desired):
                client.note_recovery('%s; read back: the exchange holds the requested config' % e.message)
        mismatch = differences(after, desired)
        if mismatch:
            raise MMPApplyError('the exchange did not apply the requested MMP config for %s: asked %s; the exchange %s '
                                '%s (differs in %s)' % (underlying, _describe(desired), source, _describe(after),
                                                        ', '.join(mismatch)),
                                before=before, asked=desired, exchange=after)
        return dict(changed=True, config=after, diff=dict(before=before, after=after))


def reset_mmp(client, underlying, only_if_frozen=True, check_mode=False):
    """Reset the MMP of ``underlying`` (``POST /eapi/v1/mmpReset``), only when it is frozen if ``only_if_frozen``.

    Returns a dict: changed (a reset was sent; in check mode: would be), config (after the task; the reset's
    answer is taken as the state after it), was_frozen, diff. An unknown outcome is decided by reading back.
    """
    before = config_from_api(client.get_mmp(underlying), underlying)
    was_frozen = mmp_status(before, client.server_now_ms())['frozen']
    if only_if_frozen and not was_frozen:
        return dict(changed=False, config=before, was_frozen=False, diff=dict(before=dict(before), after=dict(before)))
    if check_mode:
        predicted = dict(before, last_trigger_time=0)
        return dict(changed=True, config=before, was_frozen=was_frozen, diff=dict(before=before, after=predicted))
    sends_left = UNKNOWN_OUTCOME_WRITES
    while True:
        try:
            after = config_from_api(client.reset_mmp(underlying), underlying)
        except BinanceUnknownOutcome as e:
            try:
                after = config_from_api(client.get_mmp(underlying), underlying)
            except BinanceError as read_error:
                raise MMPApplyError('%s; reading the MMP config of %s back failed too (%s): the reset may or may '
                                    'not have happened, run again' % (e.message, underlying, read_error.message),
                                    before=before)
            if mmp_status(after, client.server_now_ms())['frozen']:
                if sends_left > 0:
                    sends_left -= 1
                    client.note_recovery('%s; read back: still frozen, sent again' % e.message)
                    continue  # a reset is safe to repeat
                raise MMPApplyError('%s; the MMP of %s still reads as frozen after %d resets: the exchange may not '
                                    'have reset it' % (e.message, underlying, UNKNOWN_OUTCOME_WRITES + 1),
                                    before=before)
            client.note_recovery('%s; read back: no longer frozen' % e.message)
        return dict(changed=True, config=after, was_frozen=was_frozen, diff=dict(before=before, after=after))


def underlyings_from_exchange_info(data):
    """``optionContracts[].underlying`` of ``GET /eapi/v1/exchangeInfo``, deduplicated, in the exchange's order."""
    contracts = data.get('optionContracts') if isinstance(data, dict) else None
    if not isinstance(contracts, list):
        raise BinanceTaskError('GET /eapi/v1/exchangeInfo answered without an optionContracts list: the underlyings '
                               'cannot be listed; set the underlyings option')
    out = []
    for contract in contracts:
        name = contract.get('underlying') if isinstance(contract, dict) else None
        if not isinstance(name, str) or not UNDERLYING_RE.match(name):
            raise BinanceTaskError('GET /eapi/v1/exchangeInfo lists an option contract with underlying %r, not a '
                                   'name of letters and digits: set the underlyings option' % (name,))
        if name.upper() not in out:
            out.append(name.upper())
    if len(out) > INFO_MAX_UNDERLYINGS:
        raise BinanceTaskError('GET /eapi/v1/exchangeInfo lists %d underlyings, more than the %d this module reads '
                               'in one task: set the underlyings option' % (len(out), INFO_MAX_UNDERLYINGS))
    return out


def read_mmp_info(client, underlyings=None):
    """The MMP state (config and derived status) and the kill-switch of every underlying.

    ``underlyings``: validated names, or None for every underlying the exchange lists. One MMP read and one
    kill-switch read per underlying (plus ``exchangeInfo`` when none is given). Returns (mmp, kill_switch).
    """
    if not underlyings:
        underlyings = underlyings_from_exchange_info(client.exchange_info())
    mmp, kill_switch = [], []
    for underlying in underlyings:
        try:
            config = config_from_api(client.get_mmp(underlying), underlying)
        except BinanceTaskError:
            raise
        except BinanceError as e:
            raise BinanceTaskError('MMP %s: %s' % (underlying, e.message), details=dict(underlying=underlying),
                                   http_status=e.http_status, code=e.code, exchange_message=e.exchange_message)
        config.update(mmp_status(config, client.server_now_ms()))
        mmp.append(config)
    for underlying in underlyings:
        kill_switch.append(read_kill_switch(client, underlying))
    return mmp, kill_switch


# --------------------------------------------------------------------------------------------
# The modules' cores (see common.py)
# --------------------------------------------------------------------------------------------

class _UnderlyingCore:
    name = 'MMP'

    def what(self, desired):
        return '%s %s' % (self.name, desired['underlying'])

    @staticmethod
    def error_context(desired):
        return dict(underlying=desired['underlying'])


class MMPCore(_UnderlyingCore):
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


class MMPResetCore(_UnderlyingCore):
    """binance_mmp_reset: reset a frozen underlying."""

    name = 'MMP reset'

    @staticmethod
    def argument_spec():
        return dict(underlying=dict(type='str', required=True), only_if_frozen=dict(type='bool', default=True))

    @staticmethod
    def validate(params):
        only = params.get('only_if_frozen')
        if not isinstance(only, bool):
            raise BinanceValidationError('only_if_frozen', only, 'true or false')
        return dict(underlying=validate_underlying(params.get('underlying')), only_if_frozen=only), []

    @staticmethod
    def run(client, desired, check_mode):
        return reset_mmp(client, desired['underlying'], only_if_frozen=desired['only_if_frozen'],
                         check_mode=check_mode)


class MMPInfoCore:
    """binance_mmp_info: read the MMP state and kill-switch of several underlyings."""

    @staticmethod
    def argument_spec():
        return dict(underlyings=dict(type='list', elements='str'))

    @staticmethod
    def validate(params):
        given = params.get('underlyings')
        if given is None:
            return dict(underlyings=None), []
        if not isinstance(given, list) or len(given) > INFO_MAX_UNDERLYINGS:
            raise BinanceValidationError('underlyings', given, 'a list of at most %d underlyings' % INFO_MAX_UNDERLYINGS)
        out = []
        for value in given:
            name = validate_underlying(value, option='underlyings')
            if name not in out:
                out.append(name)
        return dict(underlyings=out or None), []

    @staticmethod
    def what(desired):
        return 'MMP info'

    @staticmethod
    def error_context(desired):
        return {}

    @staticmethod
    def run(client, desired, check_mode):
        mmp, kill_switch = read_mmp_info(client, desired['underlyings'])
        return dict(changed=False, mmp=mmp, kill_switch=kill_switch)


MMP = MMPCore()
MMP_RESET = MMPResetCore()
MMP_INFO = MMPInfoCore()


def mmp_argument_spec():
    return common.argument_spec(MMP)


def run_mmp(params, check_mode=False, client_factory=client_from_params):
    """Everything a ``binance_mmp`` task does: (result, error), see common.run_core()."""
    return common.run_core(MMP, params, check_mode=check_mode, client_factory=client_factory)


def task_result(params, check_mode=False, diff_mode=False):
    """A binance_mmp task's result as the module returns it: (result, warnings, failed), see common.task_result()."""
    return common.task_result(MMP, params, check_mode=check_mode, diff_mode=diff_mode)
