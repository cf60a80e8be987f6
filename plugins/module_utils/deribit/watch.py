# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Watching Deribit's MMP: the Deribit part of the ``marketops.mmp.mmp_watch`` event source (the shared parts are in
the core's ``watch.py``, which finds this file by the accounts' ``venue: deribit``). Plain Python, no asyncio.

- ``validate_watch_args()`` checks the Deribit accounts (``name``, ``client_id``, ``client_secret``) and the source
  arguments Deribit's watcher reads (``deribit_base_url``, ...) before any request, as the modules check them;
- ``frozen_of()`` and ``mmp_events()`` are the state machine: the configs frozen at the previous poll, those of the
  new answer and the exchange's clock give the new state and the changes (``triggered``, ``thawed``);
- ``AccountWatch`` polls one account: TWO ``private/get_mmp_status`` per poll (no index: the account's triggered
  configs, then its triggered Block RFQ configs with ``block_rfq=true``: Deribit documents block_rfq's default as
  false, so that the first may leave the Block RFQ configs out; ``mmp.read_listing`` merges them), and one
  ``private/get_mmp_config`` of a config that triggered, for its event;
- ``Watcher`` ties them together for the event source. Deribit counts requests per account, so each account has a
  ``StopGate`` of its own, reading the stop its client records for it (``pacing.recorded_stop`` of the base URL and
  the account's ``client_id``): a ``too_many_requests`` given up on holds that account only, then one probe
  (``public/get_time``) before it polls again. Another venue's ban (per IP) does not hold it, nor it them.

Events carry ``venue: deribit``, ``account``, ``index_name``, ``mmp_group``, ``block_rfq``, ``underlying`` (the index
name, for rules written for every venue), ``frozen``, ``frozen_until``, ``last_trigger_time`` (when the trigger was
first seen: Deribit's status has no trigger time), ``config`` (as ``deribit_mmp`` returns it), ``observed_at`` and
``initial``.
"""

from __future__ import annotations

import os
import time

from ansible_collections.marketops.mmp.plugins.module_utils.deribit.api import (
    AUTH_CODES,
    DEFAULT_BASE_URL,
    VENUE_LABEL,
    check_base_url,
)
from ansible_collections.marketops.mmp.plugins.module_utils.deribit.mmp import (
    _scope_of,
    configs_from_api,
    describe_scope,
    frozen_state,
    pick,
    public_config,
    read_listing,
)
from ansible_collections.marketops.mmp.plugins.module_utils.deribit.venue import DERIBIT
from ansible_collections.marketops.mmp.plugins.module_utils.errors import MMPError, ValidationError, credentials_refused
from ansible_collections.marketops.mmp.plugins.module_utils.pacing import later_stop, recorded_stop
from ansible_collections.marketops.mmp.plugins.module_utils.runner import validate_connection_params
from ansible_collections.marketops.mmp.plugins.module_utils.transport import insecure_tls_warning
from ansible_collections.marketops.mmp.plugins.module_utils.watch import (
    AccountReports,
    COMMON_KEYS,
    DEFAULT_ERROR_INTERVAL,
    ErrorThrottle,
    StopGate,
    WatchConfigError,
    describe_error as _describe_error,
    make_event as _make_event,
    stop_of,
    validate_common,
    venue_accounts,
)

VENUE = DERIBIT.name
PROBE_REQUEST = 'public/get_time'
BASE_URL_KEY = 'deribit_base_url'
BASE_URL_ENV = 'DERIBIT_URL'
THAW_CLOCK_TOLERANCE_MS = 2000   # a thaw this close to its frozen_until counts as expired (the clock's uncertainty)
ACCOUNT_KEYS = frozenset(('name', 'client_id', 'client_secret'))
SOURCE_KEYS = frozenset((BASE_URL_KEY,)) | COMMON_KEYS


def validate_watch_args(args, environ=None, positions=None):
    """Check the Deribit accounts and the arguments Deribit's watcher reads; return them normalised. Raises
    WatchConfigError naming the argument, never a secret; makes no request.

    ``environ`` (default ``os.environ``) supplies ``DERIBIT_URL`` when ``deribit_base_url`` is not set; ``positions``:
    the place of each account among the source's accounts (for the messages), default their place in ``accounts``.
    """
    environ = os.environ if environ is None else environ
    if not isinstance(args, dict):
        raise WatchConfigError('the arguments of marketops.mmp.mmp_watch must be a mapping')
    unknown = sorted(str(k) for k in args if k not in SOURCE_KEYS and k != 'accounts' and not str(k).startswith('eda_'))
    if unknown:
        raise WatchConfigError('unknown argument(s): %s; known: %s' % (', '.join(unknown),
                                                                       ', '.join(sorted(SOURCE_KEYS | {'accounts'}))))
    base_url = args.get(BASE_URL_KEY) or environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    try:
        check_base_url(base_url)  # the modules' rules and messages: never the URL's userinfo, query or fragment
    except MMPError as e:
        raise WatchConfigError('deribit_%s' % e.message if e.message.startswith('base_url') else e.message)
    settings = dict(validate_common(args), base_url=base_url)
    insecure = insecure_tls_warning(base_url, settings['validate_certs'])
    settings['warnings'] = [insecure] if insecure else []
    settings['accounts'] = []
    for where, name, account in venue_accounts(args.get('accounts'), ACCOUNT_KEYS | {'venue'},
                                               '{name, venue: deribit, client_id, client_secret}', positions,
                                               ' for venue deribit'):
        for key in ('client_id', 'client_secret'):
            if account.get(key) is None:
                raise WatchConfigError('%s.%s: missing; a Deribit API key\'s %s' % (where, key, key))
        params = dict(client_id=account['client_id'], client_secret=account['client_secret'], base_url=base_url,
                      timeout=settings['timeout'], validate_certs=settings['validate_certs'],
                      ca_path=settings['ca_path'], weight_limit=None, weight_reserve=None)
        try:
            # the modules' checks (venue.validate_credentials, the base URL): never the value
            validate_connection_params(DERIBIT, params)
        except ValidationError as e:
            raise WatchConfigError('%s.%s' % (where, e))
        params['name'] = name
        settings['accounts'].append(params)
    return settings


# --------------------------------------------------------------------------------------------
# The state machine
# --------------------------------------------------------------------------------------------

def scope_of(key):
    """A config's scope as a dict, from its key ``(index_name, mmp_group, block_rfq)``."""
    return dict(index_name=key[0], mmp_group=key[1], block_rfq=key[2])


def frozen_of(statuses, now_ms):
    """``{(index_name, mmp_group, block_rfq): frozen_until}`` of the configs frozen at ``now_ms``, from get_mmp_status's
    entries; ``frozen_until`` is ms since the epoch, 0 for a freeze until a manual reset. An entry whose time has
    passed is not frozen (the status may still list it for a moment)."""
    out = {}
    for key in dict.fromkeys(_scope_of(entry) for entry in statuses):
        frozen, until = frozen_state(statuses, scope_of(key), now_ms)
        if frozen:
            out[key] = until or 0
    return out


def mmp_events(previous, frozen, now_ms):
    """The configs frozen at the previous poll + those frozen now + the exchange's clock -> (new state, changes).

    ``previous`` is None before the first answer (start-up), else what this function returned last time:
    ``{key: {frozen_until, last_trigger_time, config}}``. ``frozen`` is ``frozen_of()``'s answer. A change is
    ``(kind, key, state, extra)``:

    - ``triggered`` for a config newly frozen, or whose ``frozen_until`` changed (it triggered again); at start-up for
      every frozen config (``initial: True``). Its ``last_trigger_time`` is ``now_ms``: when it was first seen.
    - ``thawed`` for a config frozen at the previous poll and no longer: ``reason: expired`` when its frozen_until
      passed (or is less than THAW_CLOCK_TOLERANCE_MS ahead: the exchange's clock is known to about a second), else
      ``reset`` (a manual reset, or the config changed). Its ``frozen_until`` is the planned end (null
      for a freeze until a reset).
    """
    states, changes = {}, []
    for key, until in frozen.items():
        before = (previous or {}).get(key)
        if before is not None and before['frozen_until'] == until:
            states[key] = before
            continue
        states[key] = dict(frozen_until=until, last_trigger_time=now_ms, config=None)
        changes.append(('triggered', key, states[key],
                        dict(initial=previous is None,
                             previous_frozen_until=(before['frozen_until'] or None) if before else None)))
    for key, before in (previous or {}).items():
        if key not in frozen:
            # now_ms is the exchange's clock as the Date headers tell it, to about a second: a freeze that ended on
            # time may still look a little ahead; within THAW_CLOCK_TOLERANCE_MS of its end it expired
            expired = bool(before['frozen_until']) and before['frozen_until'] <= now_ms + THAW_CLOCK_TOLERANCE_MS
            changes.append(('thawed', key, before, dict(reason='expired' if expired else 'reset')))
    return states, changes


def make_event(kind, account, key=None, state=None, now_ms=None, **extra):
    """One event of a Deribit account (``watch.make_event``): the config's scope, and ``underlying`` = its index."""
    state = state or {}
    config = state.get('config')
    until = state.get('frozen_until')
    fields = dict(venue=VENUE, index_name=key[0] if key else None, mmp_group=key[1] if key else None,
                  block_rfq=key[2] if key else None, last_trigger_time=state.get('last_trigger_time'),
                  frozen=(kind == 'triggered') if key and kind in ('triggered', 'thawed') else None,
                  frozen_until=until or None,
                  frozen_ms=config['frozen_s'] * 1000 if config and config.get('frozen_s') is not None else None)
    fields.update(extra)
    return _make_event(kind, account, key[0] if key else None, config, now_ms, **fields)


def describe_error(exc):
    """What an event says of an exception: ``(scope, details)``; every failure of a poll concerns the whole account
    (its requests read every config)."""
    return _describe_error(exc, VENUE_LABEL)


# --------------------------------------------------------------------------------------------
# Polling
# --------------------------------------------------------------------------------------------

class AccountWatch:
    """One Deribit account: its client, the state of its frozen configs, its error throttle and its stop gate.

    ``poll()`` is blocking (run it in a thread) and returns the events of one poll. One account is never polled by
    two threads at once.
    """

    def __init__(self, params, client_factory, gate, error_interval=DEFAULT_ERROR_INTERVAL, clock=time.monotonic,
                 index=0):
        self.name = params['name']
        self.index = index
        self.gate = gate
        self._params = params
        self._client_factory = client_factory
        self._clock = clock
        self.client = None
        self.states = None       # None until the first answer (start-up)
        self.errors = ErrorThrottle(error_interval)
        self.stop = None         # set by poll(): the stop its client met, ``(until, at, status)``, or None
        self.started_ms = None   # the exchange's clock when this account's watch began
        self.credentials_refused = False  # the exchange refused its credentials, and no poll read it since

    def ensure_client(self):
        if self.client is None:
            self.client = self._client_factory(self._params)
        return self.client

    def _note_stop(self, exc):
        stop = stop_of(exc)
        if stop is not None:
            self.stop = later_stop(self.stop, stop)

    def _error(self, events, exc):
        details = describe_error(exc)[1]
        due = self.errors.failure((self.name, None), details, self._clock())
        if due is not None:
            events.append(make_event('error', self.name, scope='account', error=due))
        self._note_stop(exc)
        if credentials_refused(exc, AUTH_CODES):  # wrong, revoked or unauthorised key, or a scope it lacks
            self.credentials_refused = True

    def _config(self, key):
        """The config of ``key`` as ``deribit_mmp`` returns it (one ``get_mmp_config``), and None or what failed."""
        if self.stop is not None:
            return None, dict(kind='skipped', message='not read: the account is stopped (see the error event)')
        try:
            data = self.client.get_mmp_config(key[0], key[1], key[2])
            return public_config(pick(configs_from_api(data, describe_scope(scope_of(key))), scope_of(key))), None
        except Exception as exc:  # pylint: disable=broad-except
            self._note_stop(exc)
            return None, describe_error(exc)[1]

    def poll(self):
        events = []
        self.stop = None
        try:
            client = self.ensure_client()
            if self.started_ms is None:
                self.started_ms = client.server_now_ms()
            statuses = read_listing(client, 'status')  # two requests: complete under either reading of block_rfq
            now_ms = client.server_now_ms()
            frozen = frozen_of(statuses, now_ms)
        except Exception as exc:  # pylint: disable=broad-except
            self._error(events, exc)
            return events
        self.credentials_refused = False
        back = self.errors.success((self.name, None), self._clock())
        if back is not None:
            events.append(make_event('recovered', self.name, **back))
        self.states, changes = mmp_events(self.states, frozen, now_ms)
        for kind, key, state, extra in changes:
            if kind == 'triggered':
                state['config'], problem = self._config(key)
                if problem is not None:
                    extra['config_error'] = problem
                config = state['config']
                if extra['initial'] and config and config['frozen_s'] and state['frozen_until']:
                    # a first answer after the account could not be read at start-up: a trigger later than the
                    # start (frozen_until - frozen_s) is new, not initial
                    extra['initial'] = state['frozen_until'] - config['frozen_s'] * 1000 <= self.started_ms
            events.append(make_event(kind, self.name, key, state, now_ms, **extra))
        return events


def client_factory(user_agent='marketops.mmp mmp_watch'):
    """A function building one account's client from its validated params (TLS settings included)."""
    def build(params):
        return DERIBIT.client(params, user_agent=user_agent)
    return build


class Watcher(AccountReports):
    """Every Deribit account of one event source, each with its own stop gate (Deribit counts per account).

    The same interface as Binance's ``Watcher`` for the event source's loop. ``read_stop(params)`` (default:
    ``pacing.recorded_stop`` for the base URL and the account's ``client_id``) and ``wall_clock`` (epoch seconds, the
    clock stops are recorded in) are injectable for tests.
    """

    def __init__(self, settings, build_client=None, clock=time.monotonic, read_stop=None, wall_clock=time.time):
        self.settings = settings
        build_client = build_client or client_factory()
        base_url = check_base_url(settings['base_url'])  # the client's own key for its URL
        self.accounts = []
        for index, params in enumerate(settings['accounts']):
            if read_stop is None:
                def reader(scope='client_id:%s' % params['client_id']):
                    return recorded_stop(base_url, clock=wall_clock, scope=scope)
            else:
                def reader(params=params):
                    return read_stop(params)
            gate = StopGate(1, reader, clock=wall_clock, venue_label=VENUE_LABEL, probe_request=PROBE_REQUEST,
                            describe=describe_error, venue=VENUE, account=params['name'])
            self.accounts.append(AccountWatch(params, build_client, gate, settings['error_interval'], clock, index))

    @property
    def current_interval(self):
        return float(self.settings['interval'])

    def describe(self):
        return '%d %s account(s) at %s every %ss' % (
            len(self.accounts), VENUE_LABEL, self.settings['base_url'], self.current_interval)

    def interval_now(self):
        """(seconds between two polls of an account, None): two requests per poll and account (the triggered configs,
        the triggered Block RFQ configs), counted per account by Deribit: never stretched."""
        return self.current_interval, None

    @staticmethod
    def before_poll(account):
        """``(POLL, 0)``, ``(WAIT, seconds)`` then ask again, or ``(PROBE, 0)``: its gate's decision."""
        return account.gate.before_poll(0)

    def probe(self, account):
        """The one request after the account's stop: ``public/get_time``, through its client. Returns the exception
        it failed with, or None; the account's gate learns the outcome."""
        error = None
        try:
            account.ensure_client().probe()
        except Exception as exc:  # pylint: disable=broad-except
            error = exc
        finally:
            account.gate.after_probe(error, self.current_interval)
        return error

    @staticmethod
    def poll(account):
        """One poll of ``account`` (its events); a stop its client met holds that account (its gate) at once."""
        events = account.poll()
        if account.stop is not None:
            account.gate.note(account.stop)
        return events

    def take_notices(self):
        out = []
        for account in self.accounts:
            while account.gate.notices:
                out.append(account.gate.notices.popleft())
        return out
