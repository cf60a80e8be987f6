# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Watching MMP, whatever the venue: the pieces behind the ``marketops.mmp.mmp_watch`` event source that are the
same for every venue. Plain Python, no asyncio; no venue named here (a venue's watcher: ``binance/watch.py``).

- ``make_event()``: one event, with the keys every event carries;
- ``ErrorThrottle`` decides when an ``error`` event is due: once per change of state, then at most every
  ``error_interval`` seconds, and ``recovered`` once when the account can be read again; ``describe_error()``;
- ``poll_interval()`` stretches the interval so that the watcher's request weight stays within its budget;
- ``StopGate`` decides, before every poll of every account, whether it may poll: not while a stop (a ban, a 429
  not retried) recorded in the pacing ledger holds; after it, one probe request, then the accounts spread over
  the interval;
- the argument checks every venue's watcher uses (``WatchConfigError``, ``validate_common()``);
- the venues: a venue's watcher is ``module_utils/<venue>/watch.py``, found by the venue's name (``venue_watch()``,
  imported only when an account uses it); ``validate_source_args()`` and ``SourceWatcher`` route every account to its
  venue's watcher, which gives it the interface the event source's loop uses (``before_poll``, ``probe``, ``poll``,
  ``take_notices``, ``recoveries``, ``unpaced_warning``, ``interval_now``, ``next_poll_at``);
- ``next_poll_at()``: when an account polls next: every interval, and every ``error_interval`` (at least the interval)
  while the exchange refuses its credentials (``errors.credentials_refused()``), until a poll reads it again.

Events never hold a secret: only the venue's and the account's names, the config's scope, the normalised MMP config
and error messages built by the client, which redacts them.
"""

from __future__ import annotations

import math
import threading
import time

from collections import deque

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.marketops.mmp.plugins.module_utils.errors import IPBanned, MMPError, RateLimited, redact
from ansible_collections.marketops.mmp.plugins.module_utils.transport import (
    DEFAULT_TIMEOUT,
    check_ca_path,
    pacing_ledger_warning,
    utc,
)
from ansible_collections.marketops.mmp.plugins.module_utils.pacing import later_stop
from ansible_collections.marketops.mmp.plugins.module_utils.venues import venue_packages, venue_part

EVENT_KEY = 'mmp_watch'

DEFAULT_INTERVAL = 10

MIN_INTERVAL = 1

DEFAULT_WEIGHT_BUDGET = 600

DEFAULT_ERROR_INTERVAL = 300

STOP_RECHECK = 60.0               # seconds: the longest wait while a stop holds; the ledger is read again after it

STOP_MIN_WAIT = 0.05              # seconds: the shortest wait (a timer that fires a little early never spins)

PROBE_WAIT = 0.5                  # seconds between two looks of an account waiting for the probe's answer

MAX_ACCOUNTS = 1000
READ_WEIGHT = 1                   # the weight of one underlying's read in a poll

# the arguments every venue's watcher reads the same way (``validate_common()``)
COMMON_KEYS = frozenset(('interval', 'error_interval', 'validate_certs', 'ca_path', 'timeout'))


class WatchConfigError(ValueError):
    """Bad source arguments. Raised before any request; the message names the argument, never a secret value."""


def _number(name, value, low, high, integer=False):
    if isinstance(value, str):
        try:
            value = int(value.strip()) if integer else float(value.strip())
        except ValueError:
            pass
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        raise WatchConfigError('%s: got %r; %s in [%s, %s]' % (name, value, 'an integer' if integer else 'a number',
                                                               low, high))
    return value


def _bool(name, value):
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise WatchConfigError('%s: got %r; a boolean' % (name, value))


def _text(name, value):
    if not isinstance(value, str) or not value.strip():
        raise WatchConfigError('%s: got %r; a non-empty string' % (name, value))
    return value


def venue_accounts(accounts, keys, shape, positions=None, venue_note=''):
    """The accounts of one venue's watcher, checked as every venue checks them: a list of 1 to MAX_ACCOUNTS mappings
    ``shape`` (such as ``{name, client_id, client_secret}``), with no key outside ``keys``, each with its own non-empty
    ``name``. ``positions``: the place of each among the source's accounts, for the messages. Yields
    ``(where, name, account)``, ``where`` such as ``accounts[2] (acct-alpha)``. Raises WatchConfigError."""
    if not isinstance(accounts, list) or not accounts or len(accounts) > MAX_ACCOUNTS:
        raise WatchConfigError('accounts: a list of 1 to %d accounts, each %s' % (MAX_ACCOUNTS, shape))
    names = set()
    for index, account in enumerate(accounts):
        where = 'accounts[%d]' % (positions[index] if positions else index)
        if not isinstance(account, dict):
            raise WatchConfigError('%s: a mapping %s' % (where, shape))
        unknown = sorted(str(k) for k in account if k not in keys)
        if unknown:
            raise WatchConfigError('%s: unknown key(s) %s; known%s: %s'
                                   % (where, ', '.join(unknown), venue_note, ', '.join(sorted(keys))))
        name = _text(where + '.name', account.get('name')).strip()
        if name in names:
            raise WatchConfigError('%s.name: %r is used twice; each account needs its own name' % (where, name))
        names.add(name)
        yield '%s (%s)' % (where, name), name, account


def validate_common(args):
    """The arguments every venue's watcher reads the same way (COMMON_KEYS), checked and with their defaults."""
    settings = dict(
        interval=_number('interval', args.get('interval', DEFAULT_INTERVAL), MIN_INTERVAL, 86400),
        validate_certs=_bool('validate_certs', args.get('validate_certs', True)),
        ca_path=None,
        timeout=_number('timeout', args.get('timeout', DEFAULT_TIMEOUT), 0.001, 300),
        error_interval=_number('error_interval', args.get('error_interval', DEFAULT_ERROR_INTERVAL), 1, 86400),
    )
    if args.get('ca_path') is not None:
        try:
            settings['ca_path'] = check_ca_path(args['ca_path'])
        except MMPError as e:
            raise WatchConfigError(e.message)
    return settings


def make_event(kind, account, underlying, config=None, now_ms=None, status_of=None, venue=None, **extra):
    """One event (the value under ``mmp_watch``) with the keys every event carries; ``venue`` is the venue's name."""
    config = dict(config) if config else None
    status = status_of(config, now_ms) if config and now_ms is not None and status_of is not None else None
    event = dict(type=kind, venue=venue, account=account, underlying=underlying, initial=False,
                 last_trigger_time=config.get('last_trigger_time') if config else None,
                 frozen=status['frozen'] if status else None,
                 frozen_ms=config.get('frozen_ms') if config else None,
                 frozen_until=status['frozen_until'] if status else None,
                 config=config, observed_at=now_ms)
    event.update(extra)
    return event


def describe_error(exc, venue_label='', underlying_scope=None):
    """What an event says of an exception: ``(scope, details)``; scope is 'account' or 'underlying'.

    ``underlying_scope(exc)`` (the venue's) says whether an MMPError concerns one underlying only (else: the whole
    account). MMPError messages are built by the clients and redacted there; anything else is reported by its class
    name only. ``kind`` is the error's kind with the venue's label (``APIError``).
    """
    if isinstance(exc, MMPError):
        details = dict(kind=exc.kind(venue_label), message=redact(exc.message), code=exc.code,
                       http_status=exc.http_status)
        scope = 'underlying' if underlying_scope is not None and underlying_scope(exc) else 'account'
        return scope, details
    return 'account', dict(kind=type(exc).__name__, message='unexpected %s while reading the MMP state'
                           % type(exc).__name__, code=None, http_status=None)


class ErrorThrottle:
    """When to report an error: at a change of state, then at most every ``repeat`` seconds.

    Keys are ``(account, underlying)``, underlying None for an error of the whole account. ``failure()``
    returns the fields to add to an ``error`` event, or None when it is not due; ``success()`` returns the
    fields of a ``recovered`` event when the key was failing, else None. ``now`` is any monotonic clock.
    """

    def __init__(self, repeat=DEFAULT_ERROR_INTERVAL):
        self.repeat = repeat
        self.failing = {}

    def failure(self, key, details, now):
        signature = (details.get('kind'), details.get('code'), details.get('http_status'))
        entry = self.failing.get(key)
        if entry is None or entry['signature'] != signature:
            entry = dict(signature=signature, since=now, count=0, reported=None)
            self.failing[key] = entry
        entry['count'] += 1
        if entry['reported'] is not None and now - entry['reported'] < self.repeat:
            return None
        entry['reported'] = now
        return dict(details, failures=entry['count'], failing_for=round(now - entry['since'], 3))

    def success(self, key, now):
        entry = self.failing.pop(key, None)
        if entry is None:
            return None
        return dict(failures=entry['count'], failing_for=round(now - entry['since'], 3))

    def keys_of(self, account):
        return [k for k in self.failing if k[0] == account]


def poll_interval(interval, reads_per_poll, budget, extra_per_minute=0.0):
    """The interval between polls: ``interval``, stretched so that the reads stay within ``budget`` per minute.

    Every poll reads ``reads_per_poll`` underlyings (weight 1 each); ``extra_per_minute`` is the weight of
    the other requests (exchangeInfo refreshes). Returns (seconds, stretched).
    """
    room = max(budget - extra_per_minute, 1e-9)
    needed = reads_per_poll * READ_WEIGHT * 60.0 / room
    if needed > interval:
        return needed, True
    return float(interval), False


def weight_per_minute(interval, reads_per_poll, extra_per_minute=0.0):
    return reads_per_poll * READ_WEIGHT * 60.0 / interval + extra_per_minute


def next_poll_at(started, ended, interval, refused_interval=None):
    """When an account polls next, on the clock of ``started`` and ``ended`` (when its last poll started and ended).

    ``interval`` after that poll started, and not before it ended. After a poll in which the exchange refused the
    account's credentials (``refused_interval``: the source's ``error_interval``; None otherwise), that long after the
    poll ended, and never sooner than ``interval``: each request of the next poll then goes at least that long after
    each request of the last, and each poll is due an ``error`` event (``ErrorThrottle`` counts from the failure)."""
    if refused_interval is not None:
        return ended + max(interval, refused_interval)
    return max(started + interval, ended)


POLL, WAIT, PROBE = 'poll', 'wait', 'probe'

OPEN, STOPPED, PROBING, RESUMING = 'open', 'stopped', 'probing', 'resuming'


def stop_of(exc):
    """The stop an exception of the client tells, ``(until, at, status)`` (our clock), or None.

    IPBanned / RateLimited carry ``until`` when a 418 was received, a 429 was given up on (both recorded
    in the ledger), or a recorded stop refused the request (``sent`` False)."""
    until = getattr(exc, 'until', None)
    if not isinstance(exc, (IPBanned, RateLimited)) or not isinstance(until, (int, float)):
        return None
    at = getattr(exc, 'recorded_at', None)
    return (float(until), float(at) if isinstance(at, (int, float)) else float(until),
            418 if isinstance(exc, IPBanned) else 429)


def _ms(seconds):
    return int(seconds * 1000)


class AccountReports:
    """What every venue's watcher says of an account's client after a poll, the same way: the requests it had to send
    again (``recoveries``), and once per watcher that it paced without the shared ledger (``unpaced_warning``)."""

    _unpaced_reported = False

    def unpaced_warning(self, account):
        """Once per watcher: the warning that the account's client paced without the shared ledger, or None."""
        if self._unpaced_reported:
            return None
        warning = pacing_ledger_warning(account.client)
        self._unpaced_reported = warning is not None
        return warning

    @staticmethod
    def recoveries(account):
        """What the account's client had to send again (a timeout, a 5xx, a rate limit) since the last call, and why."""
        take = getattr(account.client, 'take_recoveries', None)
        return take() if take is not None else []


class StopGate:
    """Whether an account may poll now, given the stop recorded for the exchange URL (see pacing.py).

    - ``open``: every account polls as it is scheduled;
    - ``stopped``: a stop holds until ``stop[0]``: no account polls; each waits until it ends, reading the ledger
      again at least every STOP_RECHECK seconds (another process may lengthen or clear it);
    - ``probing``: the stop ended: one account sends one request (``Watcher.probe``); the others wait for its answer;
    - ``resuming``: the probe was answered (or failed otherwise than with a stop): account i of n polls at
      ``resumed_at + spread * i / n``, not before; once all did (or ``spread`` passed), ``open`` again.
      A probe met by a new stop (the client recorded it) goes back to ``stopped``.

    ``read_stop()`` returns the stop that holds now, ``(until, at, status)``, or None; ``clock`` is the clock stops
    are in (epoch seconds). Thread-safe. ``notices`` holds ``(message, info event)``: one per stop, one per resume.

    A venue that counts per IP has one gate for all its accounts; a venue that counts per account has one gate per
    account (``account``: its name, said in the notices and their events; ``venue``: the venue's name, in the events).
    """

    def __init__(self, count, read_stop, clock=time.time, recheck=STOP_RECHECK, venue_label='', probe_request='',
                 describe=describe_error, venue=None, account=None):
        self.count = max(1, count)
        self._read_stop = read_stop
        self._clock = clock
        self.recheck = recheck
        self._lock = threading.Lock()
        self.state = OPEN
        self.stop = None         # the stop waited for (the last one, once it ended)
        self.resumed_at = None
        self.spread = 0.0
        self.probes = 0          # probe requests decided
        self._resumed = set()    # accounts that polled since the resume
        self._announced = None
        self.notices = deque()
        self.venue_label = venue_label
        self.probe_request = probe_request
        self.describe = describe
        self.venue = venue
        self.account = account

    def _read(self, now):
        """The stop that holds at ``now``, or None."""
        try:
            stop = self._read_stop()
        except Exception:  # pylint: disable=broad-except
            return None  # recorded_stop never raises; a defect here must not stop the watch (the client still refuses)
        return stop if stop is not None and stop[0] > now else None

    def _wait(self, seconds):
        return WAIT, max(STOP_MIN_WAIT, min(seconds, self.recheck))

    def _enter(self, stop, now):
        """No poll before ``stop`` ends; said once per stop (a lengthened stop is said again)."""
        self.state, self.stop = STOPPED, stop
        self._resumed = set()
        if stop != self._announced:
            self._announced = stop
            self.notices.append(stop_notice(stop, now, self.venue_label, self.probe_request, self.venue, self.account))

    def before_poll(self, index):
        """What account ``index`` does now: ``(POLL, 0)``, ``(WAIT, seconds)`` or ``(PROBE, 0)`` (it alone)."""
        with self._lock:
            now = self._clock()
            if self.state == PROBING:
                return WAIT, PROBE_WAIT
            stop = self._read(now)
            if stop is not None:
                self._enter(stop, now)
                return self._wait(stop[0] - now)
            if self.state == STOPPED:
                self.state = PROBING  # the stop ended, or another process cleared it: one request first
                self.probes += 1
                return PROBE, 0.0
            if self.state == RESUMING:
                if index not in self._resumed:
                    slot = self.resumed_at + self.spread * (index % self.count) / self.count
                    if now < slot:
                        return self._wait(slot - now)
                    self._resumed.add(index)
                if len(self._resumed) >= self.count or now >= self.resumed_at + self.spread:
                    self.state, self._resumed = OPEN, set()
            return POLL, 0.0

    def note(self, stop):
        """A poll met ``stop`` (its client recorded it, or was refused by it): the others wait from now on, and a
        probe goes first once it ends, however short it was."""
        with self._lock:
            if self.state == PROBING:
                return  # the probe's answer decides (after_probe reads the ledger)
            now = self._clock()
            self._enter(later_stop(self._read(now), stop), now)

    def after_probe(self, error, spread):
        """The probe's outcome: ``error`` None (answered) or the exception it failed with; ``spread`` the interval."""
        with self._lock:
            now = self._clock()
            stop = self._read(now)
            met = stop_of(error)
            if stop is not None or met is not None:
                # refused again (a new 418 / 429, recorded by the client): wait for that stop, then probe again
                self._enter(later_stop(stop, met), now)
                return
            ended = self.stop
            self.state, self.resumed_at, self.spread, self._resumed = RESUMING, now, float(spread), set()
            self.notices.append(resume_notice(ended, error, now, self.spread, self.count, self.describe, self.venue,
                                              self.account))


def stop_notice(stop, now, venue_label, probe_request, venue=None, account=None):
    """The warning and the ``info`` event of a stop: until when, for how long, which status. ``account``: the stop holds
    that account only (a venue that counts per account), else every account of the gate (per IP)."""
    until, at, status = stop
    seconds = max(0, int(math.ceil(until - now)))
    subject = 'account %s' % account if account is not None else 'this IP'
    kind = ('banned %s (HTTP 418)' % subject if status == 418
            else 'rate-limited %s (HTTP 429, not retried)' % subject)
    message = ('no request %s until %s (%d s): %s %s, recorded at %s; %s until then, then one request (%s) probes the '
               'exchange before %s resumes'
               % ('for account %s' % account if account is not None else 'to the exchange', utc(until), seconds,
                  venue_label, kind, utc(at), 'it does not poll' if account is not None else 'no account polls',
                  probe_request, 'its polling' if account is not None else 'polling'))
    return message, make_event('info', account, None, venue=venue, reason='exchange_stop', status=status,
                               until=_ms(until), recorded_at=_ms(at), seconds=seconds)


def resume_notice(stop, error, now, spread, count, describe, venue=None, account=None):
    """The warning and the ``info`` event of polling resumed after ``stop`` (None when not known)."""
    status, until = (stop[2], _ms(stop[0])) if stop else (None, None)
    spread_text = 'the %d accounts spread over %g s' % (count, round(spread, 3)) if count > 1 else 'the account'
    prefix = 'account %s: ' % account if account is not None else ''
    if error is None:
        message = ('%sthe exchange answered the probe after the stop%s: polling resumes, %s'
                   % (prefix, ' until %s' % utc(stop[0]) if stop else '', spread_text))
        probe, details = 'answered', None
    else:
        details = describe(error)[1]
        message = ('%sthe probe after the stop%s failed (%s): polling resumes, %s; the polls report what fails'
                   % (prefix, ' until %s' % utc(stop[0]) if stop else '', details['message'], spread_text))
        probe = 'failed'
    return message, make_event('info', account, None, venue=venue, reason='exchange_resumed', status=status,
                               until=until, probe=probe, probe_error=details, resumed_at=_ms(now),
                               spread=round(spread, 3))


# --------------------------------------------------------------------------------------------
# The venues: one watcher per venue, found by the venue's name
# --------------------------------------------------------------------------------------------

def venue_names():
    """The venues that have a watcher: ``module_utils/<venue>/watch.py`` (found on disk, nothing imported)."""
    return venue_packages('watch')


def venue_watch(venue):
    """A venue's watcher module (``module_utils/<venue>/watch.py``), imported on first use; None when there is none.

    What the core asks of it: ``VENUE`` (its name), ``SOURCE_KEYS`` (the source arguments it reads),
    ``validate_watch_args(args, environ, positions)`` (its accounts and those arguments, before any request) and
    ``Watcher(settings, **options)`` (the interface the event source's loop uses, and ``accounts``, ``describe()``,
    ``current_interval``, ``settings['error_interval']``); each of its accounts has ``name`` and ``credentials_refused``
    (True from a poll in which the exchange refused its credentials until a poll reads it again). A watcher that
    exists but cannot be imported raises (it is broken, not unknown)."""
    return venue_part(venue, 'watch')


def _venue_declaring(key, skip):
    """The venue (not in ``skip``) whose watcher reads the source argument ``key``, or None. Imports those watchers:
    only for an argument no watched venue reads, and a watcher that cannot be imported is passed over."""
    for venue in venue_names():
        if venue in skip:
            continue
        try:
            module = venue_watch(venue)
        except Exception:  # pylint: disable=broad-except
            continue
        if module is not None and key in getattr(module, 'SOURCE_KEYS', ()):
            return venue
    return None


def validate_source_args(args, environ=None, default_venue=None):
    """Check the event source's arguments and route each account to its venue's watcher (``venue``, else
    ``default_venue``). Raises WatchConfigError naming the argument, never a secret; makes no request.

    Returns ``{venues: {venue: that venue's settings}, warnings: [...]}``: each venue's watcher checks its accounts and
    the source arguments it reads (``SOURCE_KEYS``); a venue no account uses is not imported, and an argument only it
    reads is ignored with a warning.
    """
    if not isinstance(args, dict):
        raise WatchConfigError('the arguments of marketops.mmp.mmp_watch must be a mapping')
    accounts = args.get('accounts')
    if not isinstance(accounts, list) or not accounts or len(accounts) > MAX_ACCOUNTS:
        raise WatchConfigError('accounts: a list of 1 to %d accounts, each {name, venue (%s; default %s) and the '
                               'venue\'s credentials}' % (MAX_ACCOUNTS, ', '.join(venue_names()), default_venue))
    routed, modules = {}, {}
    for index, account in enumerate(accounts):
        if not isinstance(account, dict):
            raise WatchConfigError('accounts[%d]: a mapping {name, venue and the venue\'s credentials}' % index)
        venue = account.get('venue', default_venue)
        module = modules.get(venue) if isinstance(venue, str) else None
        if module is None:
            module = venue_watch(venue)
            if module is None:
                raise WatchConfigError('accounts[%d].venue: got %r; one of %s' % (index, venue,
                                                                                  ', '.join(venue_names())))
            modules[venue] = module
        positions, items = routed.setdefault(venue, ([], []))
        positions.append(index)
        items.append({k: v for k, v in account.items() if k != 'venue'})
    known = set(['accounts']).union(*(module.SOURCE_KEYS for module in modules.values()))
    warnings, unknown = [], []
    for key in sorted(str(k) for k in args if k not in known and not str(k).startswith('eda_')):
        owner = _venue_declaring(key, modules)
        if owner is None:
            unknown.append(key)
        else:
            warnings.append('%s: no account has venue %s; ignored' % (key, owner))
    if unknown:
        raise WatchConfigError('unknown argument(s): %s; known: %s' % (', '.join(unknown), ', '.join(sorted(known))))
    settings = dict(venues={}, warnings=[])
    names = {}
    for venue, (positions, items) in routed.items():
        module = modules[venue]
        venue_args = {k: v for k, v in args.items() if k in module.SOURCE_KEYS or str(k).startswith('eda_')}
        venue_args['accounts'] = items
        venue_settings = module.validate_watch_args(venue_args, environ=environ, positions=positions)
        for position, params in zip(positions, venue_settings['accounts']):
            if params['name'] in names:
                raise WatchConfigError('accounts[%d].name: %r is used twice (accounts[%d]); each account needs its '
                                       'own name' % (position, params['name'], names[params['name']]))
            names[params['name']] = position
        settings['venues'][venue] = venue_settings
        settings['warnings'] += venue_settings.get('warnings', [])
    settings['warnings'] += warnings
    return settings


class SourceWatcher:
    """Every account of one event source, each watched by its venue's watcher (``venue_watch()``), behind the
    interface the event source's loop uses. ``options``: ``{venue: keyword arguments of its Watcher}`` (tests)."""

    def __init__(self, settings, options=None):
        self.watchers = {}
        self.accounts = []
        self._owner = {}
        self._refused = set()  # the accounts polled every error_interval (their credentials were refused)
        for venue, venue_settings in settings['venues'].items():
            watcher = venue_watch(venue).Watcher(venue_settings, **(options or {}).get(venue, {}))
            self.watchers[venue] = watcher
            for account in watcher.accounts:
                self._owner[id(account)] = (venue, watcher)
                self.accounts.append(account)

    def watcher_of(self, account):
        return self._owner[id(account)][1]

    def venue_of(self, account):
        return self._owner[id(account)][0]

    def describe(self):
        return '; '.join(watcher.describe() for watcher in self.watchers.values())

    def interval_now(self, account=None):
        """(seconds until ``account``'s next poll, [reports of an interval stretched or restored, each once]); without
        an account: the shortest interval of every venue, and their reports."""
        chosen = self.watchers.items() if account is None else [(self.venue_of(account), self.watcher_of(account))]
        intervals, reports = [], []
        for venue, watcher in chosen:
            interval, report = watcher.interval_now()
            intervals.append(interval)
            if report:
                reports.append(dict(report, venue=venue))
        return min(intervals), reports

    def next_poll_at(self, account, started, ended, interval):
        """When ``account`` polls next (``next_poll_at()``), its last poll having started at ``started`` and ended at
        ``ended``, with ``interval`` from ``interval_now(account)``; and a message to log when the account just
        changed pace (else None). An account whose credentials the exchange refused (its ``credentials_refused``,
        set by its venue's watcher until a poll reads it again) is polled every ``error_interval`` (at least
        ``interval``), from the end of its last poll; the others keep their interval."""
        error_interval = self.watcher_of(account).settings.get('error_interval', DEFAULT_ERROR_INTERVAL)
        refused = getattr(account, 'credentials_refused', False) is True
        message = None
        if refused and id(account) not in self._refused:
            self._refused.add(id(account))
            message = ('%s: the exchange refused its credentials (see its error event): polled every %g s (%s) until '
                       'it can be read again' % (account.name, max(interval, error_interval),
                                                 'error_interval' if error_interval >= interval
                                                 else 'its interval, longer than error_interval'))
        elif not refused and id(account) in self._refused:
            self._refused.discard(id(account))
            message = '%s: read again: polled every %g s again' % (account.name, interval)
        return next_poll_at(started, ended, interval, error_interval if refused else None), message

    def start_offset(self, account):
        """When ``account`` polls first (seconds from the start): a venue's accounts spread over its interval."""
        watcher = self.watcher_of(account)
        return watcher.current_interval * watcher.accounts.index(account) / len(watcher.accounts)

    def before_poll(self, account):
        return self.watcher_of(account).before_poll(account)

    def probe(self, account):
        return self.watcher_of(account).probe(account)

    def poll(self, account):
        return self.watcher_of(account).poll(account)

    def recoveries(self, account):
        return self.watcher_of(account).recoveries(account)

    def unpaced_warning(self, account):
        return self.watcher_of(account).unpaced_warning(account)

    def take_notices(self):
        out = []
        for watcher in self.watchers.values():
            out += watcher.take_notices()
        return out
