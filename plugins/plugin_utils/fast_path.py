# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller fast path shared by every module of the collection, of every venue (one implementation).

Every module's tasks are handled by one action plugin (a ``FastPathAction`` with nothing of its own, in
``plugins/action/``; ``meta/runtime.yml`` routes the other modules to it): the module is found from
``self._task.action``, and its core from the venue package its name begins with (``<venue>_<name>`` ->
``module_utils/<venue>/modules.py``'s ``CORES``). When the task runs on the controller (a ``local``
connection, which includes ``delegate_to: localhost``),
the work is done here, in the worker process, with the same module_utils code, argument spec,
validation, check and diff mode, warnings and secret masking as the module, without packaging and
starting the module in a new interpreter for every task item (about 20 times cheaper).

When the task runs anywhere else (for example delegated to a whitelisted egress host), when the variable
``marketops_mmp_fast_path`` is false, for an ``async:`` task, or for a module this file does not know,
the module is executed as usual.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.arg_spec import ModuleArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.marketops.mmp.plugins.module_utils.transport import HAS_REQUESTS, url_secrets
from ansible_collections.marketops.mmp.plugins.module_utils.runner import argument_spec, task_result
from ansible_collections.marketops.mmp.plugins.module_utils.venues import venue_packages as core_venue_packages, venue_part

COLLECTION = 'marketops.mmp'
FAST_PATH_VAR = 'marketops_mmp_fast_path'
# What requests reads from the environment to connect: proxies and CA bundles. The module sees them in the task's
# ``environment:``; the fast path sets them in its own process while the task runs, so that both paths agree.
CONNECTION_ENV = tuple(v for name in ('https_proxy', 'http_proxy', 'all_proxy', 'no_proxy')
                       for v in (name, name.upper())) + ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE')
_MODULE_NAME_RE = re.compile(r'^([a-z][a-z0-9]*)_[a-z0-9_]+$')


@functools.lru_cache(maxsize=None)
def venue_cores(venue):
    """``{module short name: core}`` of a venue package (its ``modules.CORES``), {} when there is no such package (or
    it cannot be imported: its modules then run as usual, and fail there saying why)."""
    try:
        modules = venue_part(venue, 'modules')
    except ImportError:
        return {}
    return dict(modules.CORES) if modules is not None else {}


def venue_packages():
    """The venue packages beside the core: ``module_utils/<venue>/`` directories that hold a ``modules.py``."""
    return core_venue_packages('modules')


def core_of(module):
    """The core a module's tasks run (the module and the fast path alike), or None for a name of no venue's module."""
    match = _MODULE_NAME_RE.match(module or '')
    return venue_cores(match.group(1)).get(module) if match else None


# Every venue's cores are imported with this file. Ansible's strategy loads the action plugin (and so this file) in
# its own process before it forks a worker per host and task: the workers find them imported instead of importing
# (compiling, through the collection loader) a venue's package for every task.
for _venue in venue_packages():
    venue_cores(_venue)


def module_of(action):
    """The short name of one of the collection's modules for a task's action name, else None.

    ``action`` is what the task says: the module's short name (with ``collections:``) or its FQCN.
    """
    if not isinstance(action, str):
        return None
    namespace, dummy, short = action.rpartition('.')
    if namespace not in ('', COLLECTION, 'ansible_collections.' + COLLECTION + '.plugins.modules'):
        return None
    return short if core_of(short) is not None else None


def injects_invocation(task_vars):
    """Whether a module's result carries ``invocation`` here, as AnsibleModule decides it on this ansible-core.

    ansible-core 2.21 made it a setting (INJECT_INVOCATION, default false); before, every module result had it.
    """
    try:
        return boolean(C.config.get_config_value('INJECT_INVOCATION', variables=task_vars), strict=False)
    except AnsibleError:  # no such setting: ansible-core < 2.21
        return True


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
def validator(module):
    """One validator per module and process: building one deep-copies the argument spec (milliseconds per item)."""
    return ModuleArgumentSpecValidator(argument_spec(core_of(module)))


class FastPathAction(ActionBase):
    _supports_check_mode = True
    _supports_async = True  # an async task runs the module (below)

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
        module = module_of(self._task.action)
        if module is None or self._task.async_val or not (self._runs_on_controller()
                                                          and self._fast_path_enabled(task_vars)):
            wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
            name = '%s.%s' % (COLLECTION, module) if module else self._task.action
            result.update(self._execute_module(module_name=name, module_args=args, task_vars=task_vars,
                                               wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result

        check_mode = bool(self._task.check_mode or self._play_context.check_mode)
        diff_mode = bool(self._task.diff or self._play_context.diff)
        out = self.run_in_process(args, check_mode, diff_mode, module=module)
        if not injects_invocation(task_vars):
            out.pop('invocation', None)
        result.update(out)
        return result

    def run_in_process(self, args, check_mode, diff_mode, module):
        """What the module would return, computed here. Every value of a no_log option is masked."""
        core = core_of(module)
        environment = {}
        self._compute_environment_string(raw_environment_out=environment)
        params = apply_env_fallbacks(argument_spec(core), args, environment)

        validation = validator(module).validate(params)
        no_log_values = set(validation._no_log_values)
        # A password or token in base_url (refused by the validation) stays out of the result, invocation included.
        for base_url in (params.get('base_url'), validation.validated_parameters.get('base_url')):
            no_log_values.update(url_secrets(base_url))
        if validation.errors.errors:
            error = validation.errors[0]
            msg = validation.errors.msg
            if isinstance(error, UnsupportedError):
                msg = 'Unsupported parameters for (%s.%s) module: %s' % (COLLECTION, module, msg)
            out = dict(failed=True, msg=msg, invocation=dict(module_args=validation.validated_parameters))
            return self._mask(out, no_log_values)

        params = validation.validated_parameters
        if not HAS_REQUESTS:
            return self._mask(dict(failed=True, msg=missing_required_lib('requests'),
                                   invocation=dict(module_args=params)), no_log_values)

        with connection_environment(environment):
            out, warnings, failed = task_result(core, params, check_mode=check_mode, diff_mode=diff_mode)
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
