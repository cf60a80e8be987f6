# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What every module of the collection shares: the auth options, the connection checks, the client
factory, the mapping of errors to results, and the runner "validate, build the client, run the core,
shape the result". The modules (through ``run_module()``, the whole of their ``main()``) and the
controller fast path (the action plugin) both call ``task_result()``, so both paths return the same thing.

A *core* is an object with:

- ``argument_spec()``: the module's own options (the auth options are added here);
- ``validate(params)``: returns ``(desired, warnings)`` or raises ``BinanceValidationError``; no request;
- ``run(client, desired, check_mode)``: returns the result's own keys (``changed``, ``diff``, ...,
  optional ``warnings``), raises ``BinanceError``;
- ``what(desired)``: what the task is about, for messages ("MMP BTCUSDT");
- ``error_context(desired)``: keys added to a failure's result (``{'underlying': 'BTCUSDT'}``).
"""

from __future__ import annotations

import re

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.marketops.mmp.plugins.module_utils.client import (
    BinanceError,
    BinanceOptionsClient,
    API_KEY_MAX_LEN,
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    DEFAULT_BASE_URL,
    DEFAULT_RECV_WINDOW,
    DEFAULT_TIMEOUT,
    MAX_RECV_WINDOW,
    check_base_url,
    check_ca_path,
    check_key_text,
    insecure_tls_warning,
    make_signer,
    pacing_ledger_warning,
    url_secrets,
)

ACCOUNT_MAX_LEN = 200
MAX_WEIGHT_RESERVE = 10 ** 7      # with weight_limit unset: at most the largest published limit believed (pacing.py)
LONG_MAX = 2 ** 63 - 1           # the exchange's LONG parameters
UNDERLYING_RE = re.compile(r'^[A-Za-z0-9]{1,32}$')
UNDERLYING_ALLOWED = 'letters and digits only (1 to 32), such as BTCUSDT'
# How many times a write is sent again after the exchange was read back and does not hold it.
UNKNOWN_OUTCOME_WRITES = 2


def auth_argument_spec():
    """Connection and credential options shared by every module of the collection.

    Kept in step with the ``marketops.mmp.auth`` doc fragment.
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
        weight_limit=dict(type='int'),
        weight_reserve=dict(type='int'),
        account=dict(type='str', no_log=False),
    )


def argument_spec(core):
    """A module's full argument spec: its own options plus the shared auth options."""
    spec = core.argument_spec()
    spec.update(auth_argument_spec())
    return spec


class BinanceValidationError(ValueError):
    """Bad input. Raised before any request is made; the message names the option and what is allowed."""

    def __init__(self, option, value, allowed, message=None):
        super().__init__(message or '%s: got %r; %s' % (option, value, allowed))
        self.option = option


class BinanceTaskError(BinanceError):
    """The task could not do what was asked (the exchange holds something else, an answer makes no sense).

    ``details`` are added to the failure's result (both sides of a mismatch, for example).
    """

    def __init__(self, message, details=None, **kwargs):
        super().__init__(message, **kwargs)
        self.details = dict(details or {})


def validate_underlying(value, option='underlying'):
    """An underlying option, stripped and upper case. Raises BinanceValidationError."""
    if not isinstance(value, str) or not UNDERLYING_RE.match(value.strip()):
        raise BinanceValidationError(option, value, UNDERLYING_ALLOWED)
    return value.strip().upper()


def validate_long(option, value, low, high, allowed):
    """An integer option in [low, high]; booleans and strings are refused. Raises BinanceValidationError."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BinanceValidationError(option, value, allowed)
    return value


def account_label(params):
    """The ``account`` option, stripped; None when unset."""
    account = params.get('account')
    if isinstance(account, str) and account.strip():
        return account.strip()
    return None


def for_account(params, message):
    """``message`` naming the account the task is about, when the task says which one (``account``)."""
    account = account_label(params)
    return 'account %s: %s' % (account, message) if account else message


def validate_connection_params(params):
    """Check the connection options that the argument spec cannot. Raises BinanceValidationError."""
    account = params.get('account')
    if account is not None and (not isinstance(account, str) or len(account) > ACCOUNT_MAX_LEN
                                or not account.isprintable()):
        raise BinanceValidationError('account', account, 'a printable label of at most %d characters, such as the '
                                     'inventory host name' % ACCOUNT_MAX_LEN)
    recv_window = params.get('recv_window')
    if isinstance(recv_window, bool) or not isinstance(recv_window, int) or not 0 < recv_window < MAX_RECV_WINDOW:
        raise BinanceValidationError('recv_window', recv_window, 'an integer number of milliseconds in (0, %d)'
                                     % MAX_RECV_WINDOW)
    timeout = params.get('timeout')
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 300:
        raise BinanceValidationError('timeout', timeout, 'a number of seconds in (0, 300]')
    weight_limit = params.get('weight_limit')
    if weight_limit is not None and (isinstance(weight_limit, bool) or not isinstance(weight_limit, int)
                                     or weight_limit < 0):
        raise BinanceValidationError('weight_limit', weight_limit, 'unset (the limit Binance publishes), or an '
                                     'integer >= 0 that caps it (request weight per IP and minute; 0 turns pacing off)')
    weight_reserve = params.get('weight_reserve')
    if weight_reserve is not None and (isinstance(weight_reserve, bool) or not isinstance(weight_reserve, int)
                                       or not 0 <= weight_reserve < max(weight_limit or MAX_WEIGHT_RESERVE, 1)):
        raise BinanceValidationError('weight_reserve', weight_reserve, 'an integer in [0, weight_limit)' if weight_limit
                                     else 'an integer in [0, %d) (below the weight limit in force, which it is cut '
                                     'to)' % MAX_WEIGHT_RESERVE)
    try:
        check_base_url(params.get('base_url'))
    except BinanceError as e:  # the message says what is wrong without the URL's userinfo, query or fragment
        raise BinanceValidationError('base_url', None, None, message=e.message)
    validate_credentials(params)
    if params.get('ca_path') is not None:
        try:
            check_ca_path(params['ca_path'])
        except BinanceError as e:
            raise BinanceValidationError('ca_path', params['ca_path'], None, message=e.message)
    if params.get('api_secret') and params.get('private_key'):
        raise BinanceValidationError('api_secret', None, None,
                                     message='api_secret and private_key are both set (as options or through '
                                     'BINANCE_API_SECRET / BINANCE_PRIVATE_KEY); set exactly one of them')
    if not params.get('api_secret') and not params.get('private_key'):
        raise BinanceValidationError('api_secret', None, 'set exactly one of api_secret (HMAC key) and private_key '
                                     '(Ed25519 or RSA key), or BINANCE_API_SECRET / BINANCE_PRIVATE_KEY')


def validate_credentials(params):
    """``api_key`` and ``api_secret`` (also when they come from BINANCE_API_KEY / BINANCE_API_SECRET) are printable
    ASCII, without whitespace. Raises BinanceValidationError naming the option and the likely cause, never the value.
    ``private_key`` is PEM text (with line breaks) or a path, checked when it is loaded."""
    for option, max_len in (('api_key', API_KEY_MAX_LEN), ('api_secret', None)):
        value = params.get(option)
        if option == 'api_secret' and not value:
            continue  # unset (or empty): "exactly one of api_secret and private_key" is checked below
        try:
            check_key_text(option, value, max_len)
        except BinanceError as e:
            raise BinanceValidationError(option, None, None, message=e.message)


def client_from_params(params, **kwargs):
    """Build the client from validated options. Raises BinanceConfigError / BinanceMissingLibrary."""
    signer = make_signer(api_secret=params.get('api_secret'), private_key=params.get('private_key'),
                         private_key_passphrase=params.get('private_key_passphrase'))
    return BinanceOptionsClient(api_key=params['api_key'], signer=signer, base_url=params['base_url'],
                                recv_window=params['recv_window'], timeout=params['timeout'],
                                validate_certs=params['validate_certs'], ca_path=params.get('ca_path'),
                                weight_limit=params.get('weight_limit'),
                                weight_reserve=params.get('weight_reserve'), **kwargs)


def error_result(params, core, desired, exc):
    """The failure keys of a task that raised ``exc`` (a BinanceError) while running ``core``."""
    if isinstance(exc, BinanceTaskError):
        error = dict(core.error_context(desired))
        error.update(exc.details)
        error['msg'] = for_account(params, exc.message)
    else:
        error = dict(core.error_context(desired))
        error['msg'] = for_account(params, '%s: %s' % (core.what(desired), exc.message))
    if exc.code is not None:
        error['code'] = exc.code
    if exc.http_status is not None:
        error['http_status'] = exc.http_status
    return error


def run_core(core, params, check_mode=False, client_factory=None):
    """Validate, build the client, run the core. For the module and the action plugin alike.

    Returns (result, error): ``result`` holds changed/used_weight/warnings and the core's keys; ``error`` is
    None or a dict with ``msg`` and the failure's details. Never raises on bad input or API errors; nothing
    secret is in either. Every message names the account when ``account`` is set.
    """
    try:
        validate_connection_params(params)
        desired, warnings = core.validate(params)
    except BinanceValidationError as e:
        return dict(changed=False, warnings=[]), dict(msg=for_account(params, str(e)), option=e.option)
    insecure = insecure_tls_warning(params.get('base_url'), params.get('validate_certs', True))
    warnings = ([insecure] if insecure else []) + list(warnings)
    result = dict(changed=False, warnings=[for_account(params, w) for w in warnings], used_weight=None)
    try:
        client = (client_factory or client_from_params)(params)
    except BinanceError as e:
        return result, dict(msg=for_account(params, e.message), missing_library=getattr(e, 'library', None),
                            missing_reason=getattr(e, 'reason', None))
    try:
        outcome = core.run(client, desired, check_mode)
    except BinanceError as e:
        result['used_weight'] = client.used_weight
        return result, error_result(params, core, desired, e)
    finally:
        result['warnings'] += [for_account(params, w) for w in client.take_recoveries()]
        unpaced = pacing_ledger_warning(client)
        if unpaced:
            result['warnings'].append(for_account(params, unpaced))
    result['warnings'] += [for_account(params, w) for w in outcome.pop('warnings', [])]
    result.update(outcome)
    result['used_weight'] = client.used_weight
    return result, None


def task_result(core, params, check_mode=False, diff_mode=False, client_factory=None):
    """A task's result as the module returns it, for the module and the action plugin alike.

    Returns (result, warnings, failed). ``result`` carries ``diff`` only in diff or check mode, and on failure
    the error's ``msg`` (the standard missing-library message where a library is missing) and details.
    """
    result, error = run_core(core, params, check_mode=check_mode, client_factory=client_factory)
    warnings = result.pop('warnings', [])
    if not (diff_mode or check_mode):
        result.pop('diff', None)
    if error:
        library, reason = error.pop('missing_library', None), error.pop('missing_reason', None)
        if library:
            error['msg'] = for_account(params, missing_required_lib(library, reason=reason))
        result.update(error)
    return result, warnings, bool(error)


def run_module(core):
    """The ``main()`` of every module of the collection: its options, check and diff mode, one task's result."""
    # "Exactly one of api_secret / private_key" is checked in task_result(), by value: a null option counts as unset.
    module = AnsibleModule(argument_spec=argument_spec(core), supports_check_mode=True)
    # A password or token in base_url (refused by the validation) stays out of the result, invocation included.
    module.no_log_values.update(url_secrets(module.params.get('base_url')))
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
    result, warnings, failed = task_result(core, module.params, check_mode=module.check_mode, diff_mode=module._diff)
    for warning in warnings:
        module.warn(warning)
    if failed:
        module.fail_json(**result)
    module.exit_json(**result)
