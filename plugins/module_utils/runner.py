# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What every module of the collection shares, whatever its venue: the option checks every venue has, the mapping
of errors to results, and the runner "validate, build the client, run the core, shape the result". No venue named
here; no AnsibleModule (a module hands its own to ``run_module()``).

The modules (``run_module()``, the whole of their ``main()``) and the controller fast path (the action plugin) both
call ``task_result()``, so both paths return the same thing.

A *venue* (``binance/venue.py``, and one per venue) is an object with:

- ``name`` ('binance') and ``label`` ('Binance');
- ``connection_argument_spec()``: its connection and credential options (kept in step with its doc fragment);
- ``validate_connection(params)``: raises ``ValidationError``; no request;
- ``client(params, **kwargs)``: a client (a ``transport.HttpClient``) built from validated options (with
  ``pacing_kwargs(params)``);
- ``client_class``: that client's class, whose ``default_weight_limit``, ``max_weight_limit`` and
  ``weight_limit_unset`` bound ``weight_limit`` before any request.

A *core* (one per module) is an object with:

- ``venue``: its venue;
- ``argument_spec()``: the module's own options (the venue's connection options are added here);
- ``validate(params)``: returns ``(desired, warnings)`` or raises ``ValidationError``; no request;
- ``run(client, desired, check_mode)``: returns the result's own keys (``changed``, ``diff``, ..., optional
  ``warnings``), raises ``MMPError``;
- ``what(desired)``: what the task is about, for messages ("MMP BTCUSDT");
- ``error_context(desired)``: keys added to a failure's result (``{'underlying': 'BTCUSDT'}``);
- optional ``needs_client(desired)``: False when the task sends nothing (a resource module's ``rendered``): no client
  is built and the venue's connection options are not checked. A core that has it may run without the options its
  venue requires (credentials): they are optional in its argument spec, and required when it needs a client.
"""

from __future__ import annotations

import os

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.marketops.mmp.plugins.module_utils.errors import MMPError, TaskError, ValidationError
from ansible_collections.marketops.mmp.plugins.module_utils.pacing import PACING_DIR_ENV, PACING_DIR_MAX_LEN
from ansible_collections.marketops.mmp.plugins.module_utils.transport import (
    DEFAULT_TIMEOUT,
    HAS_REQUESTS,
    HttpClient,
    REQUESTS_IMPORT_ERROR,
    check_ca_path,
    insecure_tls_warning,
    pacing_ledger_warning,
    url_secrets,
)

ACCOUNT_MAX_LEN = 200
MAX_WEIGHT_RESERVE = 10 ** 7      # with weight_limit unset: at most the largest published limit believed (pacing.py)


def common_connection_spec():
    """The connection options every venue's modules have (checked by ``validate_common_connection``); a venue adds its
    credentials and ``base_url``."""
    return dict(
        timeout=dict(type='float', default=DEFAULT_TIMEOUT),
        validate_certs=dict(type='bool', default=True),
        ca_path=dict(type='path'),
        weight_limit=dict(type='int'),
        weight_reserve=dict(type='int'),
        pacing_dir=dict(type='path', fallback=(env_fallback, [PACING_DIR_ENV])),
        pacing_ledger=dict(type='bool', default=True),
        account=dict(type='str', no_log=False),
    )


def pacing_kwargs(params):
    """What a venue's ``client()`` passes its client about the pacing ledger: its directory (``pacing_dir``, None: the
    default) and whether there is one (``pacing_ledger`` false: this task paces alone, ``weight_ledger=None``)."""
    return dict(pacing_dir=params.get('pacing_dir'),
                weight_ledger='auto' if params.get('pacing_ledger', True) is not False else None)


def argument_spec(core):
    """A module's full argument spec: its own options plus its venue's connection options (none of them required
    when the core may send nothing: ``needs_client``)."""
    spec = core.argument_spec()
    connection = core.venue.connection_argument_spec()
    if hasattr(core, 'needs_client'):
        connection = {name: {k: v for k, v in option.items() if k != 'required'} for name, option in connection.items()}
    spec.update(connection)
    return spec


def validate_task(core, params):
    """Every check of a task before any request: ``(desired, warnings, needs_client)``. Raises ValidationError."""
    needs_client = getattr(core, 'needs_client', None)
    if needs_client is None:
        validate_connection_params(core.venue, params)
        desired, warnings = core.validate(params)
        return desired, warnings, True
    validate_common_connection(params)
    desired, warnings = core.validate(params)
    if not needs_client(desired):
        return desired, warnings, False
    missing = [name for name, option in sorted(core.venue.connection_argument_spec().items())
               if option.get('required') and params.get(name) is None]
    if missing:
        raise ValidationError(missing[0], None, None, message='missing required arguments: %s (this task sends '
                              'requests to %s)' % (', '.join(missing), core.venue.label))
    core.venue.validate_connection(params)
    return desired, warnings, True


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


def validate_common_connection(params, client_class=HttpClient):
    """The connection options every venue has (``account``, ``timeout``, ``weight_limit``, ``weight_reserve``,
    ``ca_path``, ``pacing_dir``), checked where the argument spec cannot; ``weight_limit`` within the bounds of the
    venue's ``client_class``. Raises ValidationError."""
    account = params.get('account')
    if account is not None and (not isinstance(account, str) or len(account) > ACCOUNT_MAX_LEN
                                or not account.isprintable()):
        raise ValidationError('account', account, 'a printable label of at most %d characters, such as the '
                              'inventory host name' % ACCOUNT_MAX_LEN)
    timeout = params.get('timeout')
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 300:
        raise ValidationError('timeout', timeout, 'a number of seconds in (0, 300]')
    weight_limit = params.get('weight_limit')
    max_limit = getattr(client_class, 'max_weight_limit', None) or MAX_WEIGHT_RESERVE
    if weight_limit is not None and (isinstance(weight_limit, bool) or not isinstance(weight_limit, int)
                                     or not 0 <= weight_limit <= max_limit):
        raise ValidationError('weight_limit', weight_limit, 'unset (%s), or an integer in [0, %d] (request weight per '
                              'minute; 0 turns pacing off)'
                              % (getattr(client_class, 'weight_limit_unset', 'the limit the exchange publishes'),
                                 max_limit))
    weight_reserve = params.get('weight_reserve')
    in_force = weight_limit if weight_limit is not None else getattr(client_class, 'default_weight_limit', None)
    if weight_reserve is not None and (isinstance(weight_reserve, bool) or not isinstance(weight_reserve, int)
                                       or not 0 <= weight_reserve < max(in_force or max_limit, 1)):
        raise ValidationError('weight_reserve', weight_reserve, 'an integer in [0, weight_limit), here [0, %d)' % in_force
                              if in_force else 'an integer in [0, %d) (below the weight limit in force, which it is '
                              'cut to)' % max_limit)
    pacing_dir = params.get('pacing_dir')
    if pacing_dir is not None and (not isinstance(pacing_dir, str) or not pacing_dir.strip()
                                   or len(pacing_dir) > PACING_DIR_MAX_LEN or not pacing_dir.isprintable()
                                   or not os.path.isabs(os.path.expanduser(pacing_dir.strip()))):
        raise ValidationError('pacing_dir', pacing_dir, 'the absolute path of a directory of the user running the task '
                              '(at most %d printable characters; also from %s), created if missing'
                              % (PACING_DIR_MAX_LEN, PACING_DIR_ENV))
    if params.get('ca_path') is not None:
        try:
            check_ca_path(params['ca_path'])
        except MMPError as e:
            raise ValidationError('ca_path', params['ca_path'], None, message=e.message)


def validate_connection_params(venue, params):
    """Every connection option of ``venue``'s modules. Raises ValidationError; sends nothing."""
    validate_common_connection(params, getattr(venue, 'client_class', HttpClient))
    venue.validate_connection(params)


def error_result(params, core, desired, exc):
    """The failure keys of a task that raised ``exc`` (an MMPError) while running ``core``."""
    error = dict(core.error_context(desired))
    if isinstance(exc, TaskError):
        error.update(exc.details)
        error['msg'] = for_account(params, exc.message)
    else:
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
        desired, warnings, needs_client = validate_task(core, params)
    except ValidationError as e:
        return dict(changed=False, warnings=[]), dict(msg=for_account(params, str(e)), option=e.option)
    insecure = insecure_tls_warning(params.get('base_url'), params.get('validate_certs', True)) if needs_client else None
    warnings = ([insecure] if insecure else []) + list(warnings)
    result = dict(changed=False, warnings=[for_account(params, w) for w in warnings], used_weight=None)
    if not needs_client:  # nothing is sent: no client, no connection
        try:
            outcome = core.run(None, desired, check_mode)
        except MMPError as e:
            return result, error_result(params, core, desired, e)
        result['warnings'] += [for_account(params, w) for w in outcome.pop('warnings', [])]
        result.update(outcome)
        return result, None
    try:
        client = (client_factory or core.venue.client)(params)
    except MMPError as e:
        return result, dict(msg=for_account(params, e.message), missing_library=getattr(e, 'library', None),
                            missing_reason=getattr(e, 'reason', None))
    try:
        outcome = core.run(client, desired, check_mode)
    except MMPError as e:
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


def run_module(module, core):
    """The ``main()`` of every module of the collection, given its AnsibleModule (built with ``argument_spec(core)``
    and check mode support): one task's result, warnings and check and diff mode."""
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
