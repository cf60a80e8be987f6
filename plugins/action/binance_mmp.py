# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for binance_mmp: the controller fast path.

When the task runs on the controller (a ``local`` connection, which includes ``delegate_to: localhost``),
the work is done here, in the worker process, with the same module_utils code, argument spec,
validation, check and diff mode, warnings and secret masking as the module, without packaging and
starting the module in a new interpreter for every task item (about 20 times cheaper).

When the task runs anywhere else (for example delegated to a whitelisted egress host), or when the
variable ``marketops_binance_fast_path`` is false, the module is executed as usual.
"""

from __future__ import annotations

import contextlib
import functools
import os

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.arg_spec import ModuleArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.marketops.binance.plugins.module_utils.client import HAS_REQUESTS
from ansible_collections.marketops.binance.plugins.module_utils.mmp import mmp_argument_spec, task_result

MODULE = 'marketops.binance.binance_mmp'
FAST_PATH_VAR = 'marketops_binance_fast_path'
# What requests reads from the environment to connect: proxies and CA bundles. The module sees them in the task's
# ``environment:``; the fast path sets them in its own process while the task runs, so that both paths agree.
CONNECTION_ENV = tuple(v for name in ('https_proxy', 'http_proxy', 'all_proxy', 'no_proxy')
                       for v in (name, name.upper())) + ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE')


def apply_env_fallbacks(spec, params, environment):
    """Fill unset options from their env fallbacks, looking at the task's ``environment:`` first."""
    params = dict(params)
    for name, option in spec.items():
        fallback = option.get('fallback')
        if params.get(name) is not None or not fallback:
            continue
        strategy, names = fallback[0], fallback[1]
        if getattr(strategy, '__name__', '') != 'env_fallback':
            continue
        for var in names:
            if var in environment:
                params[name] = environment[var]
                break
            if var in os.environ:
                params[name] = os.environ[var]
                break
    return params


@contextlib.contextmanager
def connection_environment(environment):
    """Set the task's ``environment:`` values of CONNECTION_ENV in os.environ, and restore them afterwards."""
    saved = {name: os.environ.get(name) for name in CONNECTION_ENV if name in environment}
    try:
        for name in saved:
            os.environ[name] = str(environment[name])
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@functools.lru_cache(maxsize=None)
def validator():
    """One validator per process: building one deep-copies the argument spec (milliseconds per item)."""
    return ModuleArgumentSpecValidator(mmp_argument_spec())


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def _runs_on_controller(self):
        return getattr(self._connection, 'transport', None) == 'local'

    def _fast_path_enabled(self, task_vars):
        value = task_vars.get(FAST_PATH_VAR, True)
        if isinstance(value, str):
            value = self._templar.template(value)
        return boolean(value, strict=False)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp  # not used

        args = self._task.args
        if not (self._runs_on_controller() and self._fast_path_enabled(task_vars)):
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
            return result

        check_mode = bool(self._task.check_mode or self._play_context.check_mode)
        diff_mode = bool(self._task.diff or self._play_context.diff)
        result.update(self.run_in_process(args, check_mode, diff_mode))
        return result

    def run_in_process(self, args, check_mode, diff_mode):
        """What the module would return, computed here. Every value of a no_log option is masked."""
        spec = mmp_argument_spec()
        environment = {}
        self._compute_environment_string(raw_environment_out=environment)
        params = apply_env_fallbacks(spec, args, environment)

        validation = validator().validate(params)
        no_log_values = set(validation._no_log_values)
        if validation.errors.errors:
            error = validation.errors[0]
            msg = validation.errors.msg
            if isinstance(error, UnsupportedError):
                msg = 'Unsupported parameters for (%s) module: %s' % (MODULE, msg)
            out = dict(failed=True, msg=msg, invocation=dict(module_args=validation.validated_parameters))
            return self._mask(out, no_log_values)

        params = validation.validated_parameters
        if not HAS_REQUESTS:
            return self._mask(dict(failed=True, msg=missing_required_lib('requests'),
                                   invocation=dict(module_args=params)), no_log_values)

        with connection_environment(environment):
            out, warnings, failed = task_result(params, check_mode=check_mode, diff_mode=diff_mode)
        if failed:
            out['failed'] = True
        out['invocation'] = dict(module_args=params)
        if warnings:
            out['warnings'] = warnings
        return self._mask(out, no_log_values)

    @staticmethod
    def _mask(out, no_log_values):
        """As AnsibleModule does: mask no_log values everywhere, keep booleans and None."""
        preserved = {k: v for k, v in out.items() if v is None or isinstance(v, bool)}
        out = remove_values(out, no_log_values)
        out.update(preserved)
        return out
