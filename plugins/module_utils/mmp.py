# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Market Maker Protection logic: validate, normalise, compare, apply. Plain Python, no AnsibleModule.

Used by the ``binance_mmp`` module and by its action plugin (the controller fast path), so both
behave the same way.
"""

from __future__ import annotations

import re

from decimal import Decimal, InvalidOperation

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.marketops.binance.plugins.module_utils.client import (
    BinanceError,
    BinanceOptionsClient,
    BinanceUnknownOutcome,
    DEFAULT_BASE_URL,
    DEFAULT_RECV_WINDOW,
    DEFAULT_TIMEOUT,
    DEFAULT_WEIGHT_LIMIT,
    DEFAULT_WEIGHT_RESERVE,
    MAX_RECV_WINDOW,
    check_base_url,
    check_ca_path,
    insecure_tls_warning,
    make_signer,
)


WINDOW_MS_MAX = 5000
LONG_MAX = 2 ** 63 - 1
DECIMAL_DIGITS = 20              # the exchange's ^([0-9]{1,20})(\.[0-9]{1,20})?$
DECIMAL_RE = re.compile(r'^([0-9]{1,20})(\.[0-9]{1,20})?$')
UNDERLYING_RE = re.compile(r'^[A-Za-z0-9]{1,32}$')
COMPARED_KEYS = ('window_ms', 'frozen_ms', 'qty_limit', 'delta_limit')
# How many times a write is sent again after the exchange was read back and does not hold it.
UNKNOWN_OUTCOME_WRITES = 2

FROZEN_ZERO_WARNING = ('frozen_ms is 0 for %s: after MMP triggers, quoting stays frozen until a manual reset '
                       '(POST /eapi/v1/mmpReset), not for a fixed time')


def auth_argument_spec():
    """Connection and credential options shared by every module of the collection.

    Kept in step with the ``marketops.binance.auth`` doc fragment.
    """
    return dict(
        api_key=dict(type='str', required=True, no_log=True, fallback=(env_fallback, ['BINANCE_API_KEY'])),
        api_secret=dict(type='str', no_log=True, fallback=(env_fallback, ['BINANCE_API_SECRET'])),
        private_key=dict(type='str', no_log=True, fallback=(env_fallback, ['BINANCE_PRIVATE_KEY'])),
        private_key_passphrase=dict(type='str', no_log=True),
        base_url=dict(type='str', default=DEFAULT_BASE_URL, fallback=(env_fallback, ['BINANCE_EAPI_URL'])),
        recv_window=dict(type='int', default=DEFAULT_RECV_WINDOW),
        timeout=dict(type='float', default=DEFAULT_TIMEOUT),
        validate_certs=dict(type='bool', default=True),
        ca_path=dict(type='path'),
        weight_limit=dict(type='int', default=DEFAULT_WEIGHT_LIMIT),
        weight_reserve=dict(type='int'),
    )


def mmp_argument_spec():
    spec = dict(
        underlying=dict(type='str', required=True),
        window_ms=dict(type='int', required=True),
        frozen_ms=dict(type='int', required=True),
        qty_limit=dict(type='raw', required=True),
        delta_limit=dict(type='raw', required=True),
    )
    spec.update(auth_argument_spec())
    return spec


class MMPValidationError(ValueError):
    """Bad input. Raised before any request is made; the message names the option and what is allowed."""

    def __init__(self, option, value, allowed, message=None):
        super().__init__(message or '%s: got %r; %s' % (option, value, allowed))
        self.option = option


class MMPApplyError(BinanceError):
    """The exchange did not end up holding what was asked. Carries both sides."""

    def __init__(self, message, before=None, asked=None, exchange=None):
        super().__init__(message)
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


def _int_option(option, value, low, high, allowed):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MMPValidationError(option, value, allowed)
    return value


def validate_mmp_params(params):
    """Check every MMP option and return the desired config, normalised. Raises MMPValidationError."""
    underlying = params.get('underlying')
    if not isinstance(underlying, str) or not UNDERLYING_RE.match(underlying.strip()):
        raise MMPValidationError('underlying', underlying, 'letters and digits only (1 to 32), such as BTCUSDT')
    return {
        'underlying': underlying.strip().upper(),
        'window_ms': _int_option('window_ms', params.get('window_ms'), 1, WINDOW_MS_MAX,
                                 'an integer number of milliseconds in (0, %d]' % WINDOW_MS_MAX),
        'frozen_ms': _int_option('frozen_ms', params.get('frozen_ms'), 0, LONG_MAX,
                                 'an integer number of milliseconds >= 0 (0 = frozen until a manual reset)'),
        'qty_limit': normalize_limit('qty_limit', params.get('qty_limit')),
        'delta_limit': normalize_limit('delta_limit', params.get('delta_limit')),
    }


def validate_connection_params(params):
    """Check the connection options that the argument spec cannot. Raises MMPValidationError."""
    recv_window = params.get('recv_window')
    if isinstance(recv_window, bool) or not isinstance(recv_window, int) or not 0 < recv_window < MAX_RECV_WINDOW:
        raise MMPValidationError('recv_window', recv_window, 'an integer number of milliseconds in (0, %d)'
                                 % MAX_RECV_WINDOW)
    timeout = params.get('timeout')
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 300:
        raise MMPValidationError('timeout', timeout, 'a number of seconds in (0, 300]')
    weight_limit = params.get('weight_limit')
    if isinstance(weight_limit, bool) or not isinstance(weight_limit, int) or weight_limit < 0:
        raise MMPValidationError('weight_limit', weight_limit, 'an integer >= 0 (request weight per IP and minute; '
                                 '0 turns pacing off)')
    weight_reserve = params.get('weight_reserve')
    if weight_reserve is not None and (isinstance(weight_reserve, bool) or not isinstance(weight_reserve, int)
                                       or not 0 <= weight_reserve < max(weight_limit, 1)):
        raise MMPValidationError('weight_reserve', weight_reserve, 'an integer in [0, weight_limit)')
    try:
        check_base_url(params.get('base_url'))
    except BinanceError as e:
        raise MMPValidationError('base_url', params.get('base_url'), e.message.split(': ', 1)[-1])
    if params.get('ca_path') is not None:
        try:
            check_ca_path(params['ca_path'])
        except BinanceError as e:
            raise MMPValidationError('ca_path', params['ca_path'], None, message=e.message)
    if params.get('api_secret') and params.get('private_key'):
        raise MMPValidationError('api_secret', None, None,
                                 message='api_secret and private_key are both set (as options or through '
                                 'BINANCE_API_SECRET / BINANCE_PRIVATE_KEY); set exactly one of them')
    if not params.get('api_secret') and not params.get('private_key'):
        raise MMPValidationError('api_secret', None, 'set exactly one of api_secret (HMAC key) and private_key '
                                 '(Ed25519 or RSA key), or BINANCE_API_SECRET / BINANCE_PRIVATE_KEY')


def validate_all(params):
    """Validate every option; returns the desired MMP config and warnings. No request is made."""
    validate_connection_params(params)
    desired = validate_mmp_params(params)
    warnings = []
    insecure = insecure_tls_warning(params.get('base_url'), params.get('validate_certs', True))
    if insecure:
        warnings.append(insecure)
    if desired['frozen_ms'] == 0:
        warnings.append(FROZEN_ZERO_WARNING % desired['underlying'])
    return desired, warnings


def client_from_params(params, **kwargs):
    """Build the client from validated options. Raises BinanceConfigError / BinanceMissingLibrary."""
    signer = make_signer(api_secret=params.get('api_secret'), private_key=params.get('private_key'),
                         private_key_passphrase=params.get('private_key_passphrase'))
    reserve = params.get('weight_reserve')
    return BinanceOptionsClient(api_key=params['api_key'], signer=signer, base_url=params['base_url'],
                                recv_window=params['recv_window'], timeout=params['timeout'],
                                validate_certs=params['validate_certs'], ca_path=params.get('ca_path'),
                                weight_limit=params.get('weight_limit'),
                                weight_reserve=DEFAULT_WEIGHT_RESERVE if reserve is None else reserve, **kwargs)


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
            if d is None and raw is not None or d is not None and d != d.to_integral_value():
                raise MMPApplyError('the exchange\'s MMP answer for %s has %s=%r, not an integer' % (underlying, field, raw))
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
                continue  # read back: not applied; setting the config is idempotent, send it again
            source = 'holds after an unknown write outcome (%s)' % e.message
        mismatch = differences(after, desired)
        if mismatch:
            raise MMPApplyError('the exchange did not apply the requested MMP config for %s: asked %s; the exchange %s '
                                '%s (differs in %s)' % (underlying, _describe(desired), source, _describe(after),
                                                        ', '.join(mismatch)),
                                before=before, asked=desired, exchange=after)
        return dict(changed=True, config=after, diff=dict(before=before, after=after))


def run_mmp(params, check_mode=False, client_factory=client_from_params):
    """Everything a ``binance_mmp`` task does, for the module and the action plugin alike.

    Returns (result, error): ``result`` holds changed/config/diff/used_weight/warnings;
    ``error`` is None or a dict with ``msg`` and the failure's details. Never raises on bad input or API
    errors; nothing secret is in either.
    """
    try:
        desired, warnings = validate_all(params)
    except MMPValidationError as e:
        return dict(changed=False, warnings=[]), dict(msg=str(e), option=e.option)
    result = dict(changed=False, warnings=warnings, used_weight=None)
    try:
        client = client_factory(params)
    except BinanceError as e:
        return result, dict(msg=e.message, missing_library=getattr(e, 'library', None),
                            missing_reason=getattr(e, 'reason', None))
    try:
        outcome = ensure_mmp(client, desired, check_mode=check_mode)
    except MMPApplyError as e:
        result['used_weight'] = client.used_weight
        error = dict(msg=e.message, underlying=desired['underlying'])
        if e.before is not None:
            error['before'] = e.before
        if e.exchange is not None:
            error['exchange'] = e.exchange
            error['asked'] = dict(desired)
        return result, error
    except BinanceError as e:
        result['used_weight'] = client.used_weight
        error = dict(msg='MMP %s: %s' % (desired['underlying'], e.message), underlying=desired['underlying'])
        if e.code is not None:
            error['code'] = e.code
        if e.http_status is not None:
            error['http_status'] = e.http_status
        return result, error
    result.update(changed=outcome['changed'], config=outcome['config'], diff=outcome['diff'],
                  used_weight=client.used_weight)
    return result, None


def task_result(params, check_mode=False, diff_mode=False):
    """A binance_mmp task's result as the module returns it, for the module and the action plugin alike.

    Returns (result, warnings, failed). ``result`` carries ``diff`` only in diff or check mode, and on failure
    the error's ``msg`` (the standard missing-library message where a library is missing) and details.
    """
    result, error = run_mmp(params, check_mode=check_mode)
    warnings = result.pop('warnings', [])
    if not (diff_mode or check_mode):
        result.pop('diff', None)
    if error:
        library, reason = error.pop('missing_library', None), error.pop('missing_reason', None)
        if library:
            error['msg'] = missing_required_lib(library, reason=reason)
        result.update(error)
    return result, warnings, bool(error)
