# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Watching Binance's MMP: the Binance part of the ``marketops.mmp.mmp_watch`` event source (the shared parts are
in the core's ``watch.py``). Plain Python, no asyncio.

- ``validate_watch_args()`` checks the source's arguments before any request;
- ``mmp_events()`` is the state machine: the previous state of an underlying, the exchange's new answer
  and the exchange's clock give the new state and the events (``triggered``, ``thawed``);
- ``AccountWatch`` polls one account (``GET /eapi/v1/mmp`` per underlying) with the collection's client
  (signing, retries, pacing) and returns events; ``UnderlyingCatalog`` caches the exchange's list of underlyings;
- ``Watcher`` ties them together with the core's ``StopGate`` for the event source, which awaits what it decides.
"""

from __future__ import annotations

import os
import threading
import time

from ansible_collections.marketops.mmp.plugins.module_utils.binance.api import (
    API_KEY_MAX_LEN,
    DEFAULT_BASE_URL,
    DEFAULT_RECV_WINDOW,
    DOCUMENTED_WEIGHT_LIMIT,
    VENUE_LABEL,
    check_base_url,
    check_key_text,
)
from ansible_collections.marketops.mmp.plugins.module_utils.binance.mmp import (
    config_from_api,
    listed_underlyings,
    mmp_status,
)
from ansible_collections.marketops.mmp.plugins.module_utils.binance.venue import BINANCE, UNDERLYING_RE
from ansible_collections.marketops.mmp.plugins.module_utils.errors import (
    APIError,
    ConfigError,
    ApplyError,
    IPBanned,
    MMPError,
    RateLimited,
    ResponseError,
    TLSError,
    TransportError,
    ValidationError,
    credentials_refused,
)
from ansible_collections.marketops.mmp.plugins.module_utils.transport import insecure_tls_warning
from ansible_collections.marketops.mmp.plugins.module_utils.pacing import later_stop, recorded_stop
from ansible_collections.marketops.mmp.plugins.module_utils.runner import validate_connection_params
from ansible_collections.marketops.mmp.plugins.module_utils.watch import (
    AccountReports,
    DEFAULT_ERROR_INTERVAL,
    DEFAULT_WEIGHT_BUDGET,
    ErrorThrottle,
    StopGate,
    WatchConfigError,
    _number,
    describe_error as _describe_error,
    make_event as _make_event,
    poll_interval,
    stop_of,
    validate_common,
    venue_accounts,
    weight_per_minute,
)

VENUE = BINANCE.name
PROBE_REQUEST = 'GET /eapi/v1/time'
UNDERLYINGS_REFRESH = 3600.0      # seconds between two reads of exchangeInfo


EXCHANGE_INFO_WEIGHT = 1          # GET /eapi/v1/exchangeInfo

ACCOUNT_KEYS = frozenset(('name', 'api_key', 'api_secret', 'private_key', 'private_key_passphrase', 'underlyings'))

SOURCE_KEYS = frozenset(('accounts', 'base_url', 'interval', 'validate_certs', 'ca_path', 'recv_window', 'timeout',
                         'weight_budget', 'error_interval'))
# Errors that say the account as a whole cannot be read: its other underlyings are not asked in that poll.

ACCOUNT_CODES = frozenset((-1021, -1022, -2014, -2015, -1131))
# Answers that refuse the key itself (signature, key format, key unknown, IP not whitelisted, no permission; HTTP 401):
# the account is polled every error_interval until it reads again (watch.next_poll_at).
CREDENTIAL_CODES = (-1022, -2014, -2015)
CREDENTIAL_STATUSES = (401,)


def _underlyings(name, value):
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise WatchConfigError('%s: got %r; a non-empty list such as [BTCUSDT, ETHUSDT], or omit it to watch every '
                               'underlying the exchange lists' % (name, value))
    out = []
    for item in value:
        if not isinstance(item, str) or not UNDERLYING_RE.match(item.strip()):
            raise WatchConfigError('%s: got %r; letters and digits only (1 to 32), such as BTCUSDT' % (name, item))
        item = item.strip().upper()
        if item not in out:
            out.append(item)
    return out


def validate_watch_args(args, environ=None, positions=None):
    """Check the event source's arguments and return them normalised. Raises WatchConfigError; makes no request.

    ``environ`` (default ``os.environ``) supplies ``BINANCE_EAPI_URL`` when ``base_url`` is not set. ``positions``: the
    place of each account among the source's accounts, for the messages (the source's accounts of every venue:
    ``watch.validate_source_args``); default: their place in ``args['accounts']``.
    """
    environ = os.environ if environ is None else environ
    if not isinstance(args, dict):
        raise WatchConfigError('the arguments of marketops.mmp.mmp_watch must be a mapping')
    unknown = sorted(k for k in args if k not in SOURCE_KEYS and not str(k).startswith('eda_'))
    if unknown:
        raise WatchConfigError('unknown argument(s): %s; known: %s' % (', '.join(map(str, unknown)),
                                                                       ', '.join(sorted(SOURCE_KEYS))))
    base_url = args.get('base_url') or environ.get('BINANCE_EAPI_URL') or DEFAULT_BASE_URL
    try:
        check_base_url(base_url)  # the modules' rules and messages: never the URL's userinfo, query or fragment
    except MMPError as e:
        raise WatchConfigError(e.message)
    settings = dict(
        validate_common(args),
        base_url=base_url,
        recv_window=_number('recv_window', args.get('recv_window', DEFAULT_RECV_WINDOW), 1, 59999, integer=True),
        weight_budget=_number('weight_budget', args.get('weight_budget', DEFAULT_WEIGHT_BUDGET), 1,
                              DOCUMENTED_WEIGHT_LIMIT, integer=True),
    )
    insecure = insecure_tls_warning(base_url, settings['validate_certs'])
    settings['warnings'] = [insecure] if insecure else []
    settings['accounts'] = []
    for where, name, account in venue_accounts(args.get('accounts'), ACCOUNT_KEYS,
                                               '{name, api_key, api_secret or private_key (+ private_key_passphrase), '
                                               'underlyings}', positions):
        try:
            api_key = check_key_text(where + '.api_key', account.get('api_key'), API_KEY_MAX_LEN)
        except MMPError as e:
            raise WatchConfigError(e.message)
        params = dict(api_key=api_key, api_secret=account.get('api_secret'), private_key=account.get('private_key'),
                      private_key_passphrase=account.get('private_key_passphrase'), base_url=base_url,
                      recv_window=settings['recv_window'], timeout=settings['timeout'],
                      validate_certs=settings['validate_certs'], ca_path=settings['ca_path'],
                      weight_limit=None, weight_reserve=None)
        for key in ('api_secret', 'private_key', 'private_key_passphrase'):
            if params[key] is not None and not isinstance(params[key], str):
                raise WatchConfigError('%s.%s: must be a string' % (where, key))
        try:
            validate_connection_params(BINANCE, params)
        except ValidationError as e:
            raise WatchConfigError('%s.%s' % (where, e))
        if params['private_key_passphrase'] and not params['private_key']:
            raise WatchConfigError('%s.private_key_passphrase: goes with private_key, not with api_secret' % where)
        params['name'] = name
        params['underlyings'] = _underlyings(where + '.underlyings', account.get('underlyings'))
        settings['accounts'].append(params)
    return settings


def mmp_events(previous, config, now_ms, account, since_ms=None):
    """Previous state + the exchange's new answer + the exchange's clock -> (new state, events).

    ``previous`` is None before the first answer for this underlying (start-up), else what this function
    returned last time: ``{last_trigger_time, frozen, frozen_until, config}``. ``config`` is what
    ``config_from_api()`` returns; ``now_ms`` is the exchange's clock in milliseconds. ``since_ms`` is when the
    watch of this account began: a first answer whose trigger is later than that (the account could not be
    read at first) is a new trigger, not an initial one.

    - ``triggered`` when ``last_trigger_time`` moves forward; at start-up, for an underlying already frozen
      (``initial: true``). A trigger whose freeze has already ended when it is seen (a short ``frozen_ms``)
      gives ``triggered`` then ``thawed``, so that every ``triggered`` is followed by one ``thawed``.
    - ``thawed`` when an underlying this function reported frozen is no longer frozen: its frozen time
      passed (``reason: expired``), ``last_trigger_time`` went back (``reason: reset``: a manual reset), or
      its ``frozen_ms`` changed (``reason: frozen_ms_changed``). ``frozen_until`` is then the time the
      freeze was planned to end (null for a freeze until a reset).
    - a ``last_trigger_time`` that goes back never produces ``triggered`` again for the same trigger.
    """
    underlying = config['underlying']
    last = config.get('last_trigger_time') or 0
    status = mmp_status(config, now_ms)
    state = dict(last_trigger_time=last, frozen=status['frozen'], frozen_until=status['frozen_until'],
                 config=dict(config))
    events = []
    if previous is None and since_ms is not None and last > since_ms:
        previous = dict(last_trigger_time=0, frozen=False, frozen_until=None, config=None)
    if previous is None:
        if status['frozen']:
            events.append(make_event('triggered', account, underlying, config, now_ms, initial=True,
                                     previous_trigger_time=None))
        return state, events

    seen = previous.get('last_trigger_time') or 0
    if last > seen:
        events.append(make_event('triggered', account, underlying, config, now_ms, previous_trigger_time=seen))
        if not status['frozen']:
            events.append(make_event('thawed', account, underlying, config, now_ms, reason='expired',
                                     frozen_until=last + (config.get('frozen_ms') or 0)))
        return state, events

    # No new trigger: keep the highest trigger time seen, so that an answer going back and forth
    # (replicas that disagree) never reports the same trigger twice.
    state['last_trigger_time'] = max(seen, last)
    if previous.get('frozen') and not status['frozen']:
        if last < seen:
            reason = 'reset'
        elif (config.get('frozen_ms') or 0) != ((previous.get('config') or {}).get('frozen_ms') or 0):
            reason = 'frozen_ms_changed'
        else:
            reason = 'expired'
        events.append(make_event('thawed', account, underlying, config, now_ms, reason=reason,
                                 frozen_until=previous.get('frozen_until')))
    elif not previous.get('frozen') and status['frozen']:
        # Frozen again without a new trigger (frozen_ms changed to 0 after an old trigger): the exchange does
        # not re-freeze an old trigger, so this is not reported, and no thawed follows either.
        state['frozen'], state['frozen_until'] = False, None
    return state, events


SKIPPED_NOTE = ('GET /eapi/v1/exchangeInfo lists option contracts whose underlying is not a name of letters and '
                'digits: %s; they are not watched')


def make_event(kind, account, underlying, config=None, now_ms=None, **extra):
    """One event (the value under ``mmp_watch``) with the keys every event carries (``watch.make_event``), its
    ``frozen`` and ``frozen_until`` from Binance's config (``mmp_status``)."""
    return _make_event(kind, account, underlying, config, now_ms, status_of=mmp_status, venue=VENUE, **extra)


def underlying_scope(exc):
    """Whether a Binance error concerns one underlying only (its other underlyings are still read in that poll)."""
    if isinstance(exc, (TransportError, IPBanned, RateLimited, ConfigError, TLSError)):
        return False
    return (isinstance(exc, APIError) and exc.code not in ACCOUNT_CODES and exc.http_status not in (401, 403)) \
        or isinstance(exc, (ResponseError, ApplyError))


def describe_error(exc):
    """What an event says of an exception: ``(scope, details)`` (``watch.describe_error``, Binance's scopes)."""
    return _describe_error(exc, VENUE_LABEL, underlying_scope)


class UnderlyingCatalog:
    """Every underlying the exchange lists (``exchangeInfo.optionContracts[].underlying``), read rarely."""

    def __init__(self, refresh=UNDERLYINGS_REFRESH, clock=time.monotonic):
        self.refresh = refresh
        self._clock = clock
        self._lock = threading.Lock()
        self.underlyings = None
        self.read_at = None
        self.reads = 0
        self.skipped = []    # the odd entries of the last list read
        self.notes = []      # what the watcher logs: the odd entries, once per change

    def get(self, client):
        """The cached list; read through ``client`` when missing or older than ``refresh``. Raises MMPError
        only when no list was ever read (a failed refresh keeps the old one)."""
        with self._lock:
            now = self._clock()
            if self.underlyings is not None and now - self.read_at < self.refresh:
                return self.underlyings
            try:
                self.reads += 1
                found, skipped = listed_underlyings(client.exchange_info())
                if skipped and skipped != self.skipped:
                    self.notes.append(SKIPPED_NOTE % ', '.join(skipped))
                self.skipped = skipped
            except MMPError:
                if self.underlyings is None:
                    raise
                self.read_at = now  # keep the old list; try again after another refresh period
                return self.underlyings
            self.underlyings, self.read_at = sorted(found), now
            return self.underlyings


class AccountWatch:
    """One account: its client, the state of each underlying, its error throttle.

    ``poll()`` is blocking (run it in a thread) and returns the events of one poll. One account is never
    polled by two threads at once.
    """

    def __init__(self, params, client_factory, catalog, error_interval=DEFAULT_ERROR_INTERVAL, clock=time.monotonic,
                 index=0):
        self.name = params['name']
        self.underlyings = params['underlyings']
        self.index = index  # its place among the source's accounts (polls resume spread in that order)
        self._params = params
        self._client_factory = client_factory
        self._catalog = catalog
        self._clock = clock
        self.client = None
        self.states = {}
        self.errors = ErrorThrottle(error_interval)
        self.stop = None  # set by poll(): the stop its client met, ``(until, at, status)``, or None
        self.started_ms = None  # the exchange's clock when this account's watch began
        self.credentials_refused = False  # the exchange refused its credentials, and no poll read it since

    def ensure_client(self):
        """The account's client, built through its factory when it has none yet."""
        if self.client is None:
            self.client = self._client_factory(self._params)
        return self.client

    def watched(self):
        """The underlyings this account's next poll reads (None: not known before exchangeInfo was read)."""
        return self.underlyings if self.underlyings is not None else self._catalog.underlyings

    def _error(self, events, underlying, exc, now_ms):
        scope, details = describe_error(exc)
        key = (self.name, underlying if scope == 'underlying' else None)
        due = self.errors.failure(key, details, self._clock())
        if due is not None:
            known = (self.states.get(underlying) or {}).get('config') if underlying else None
            events.append(make_event('error', self.name, underlying, known, now_ms if known else None,
                                     scope=scope, error=due))
        stop = stop_of(exc)
        if stop is not None:
            self.stop = later_stop(self.stop, stop)
        if credentials_refused(exc, CREDENTIAL_CODES, CREDENTIAL_STATUSES):
            self.credentials_refused = True
        return scope

    def _recovered(self, events, underlying, now_ms):
        self.credentials_refused = False
        for key in ((self.name, None), (self.name, underlying)):
            back = self.errors.success(key, self._clock())
            if back is not None:
                state = self.states.get(underlying) or {}
                events.append(make_event('recovered', self.name, key[1], state.get('config') if key[1] else None,
                                         now_ms if key[1] else None, **back))

    def poll(self):
        events = []
        self.stop = None
        try:
            self.ensure_client()
            if self.started_ms is None:
                self.started_ms = self.client.server_now_ms()
            underlyings = self.underlyings if self.underlyings is not None else self._catalog.get(self.client)
        except Exception as exc:  # pylint: disable=broad-except
            self._error(events, None, exc, None)
            return events
        for gone in set(self.states) - set(underlyings):
            del self.states[gone]
        for underlying in underlyings:
            try:
                answer = self.client.get_mmp(underlying)
                now_ms = self.client.server_now_ms()
                config = config_from_api(answer, underlying)
            except Exception as exc:  # pylint: disable=broad-except
                if self._error(events, underlying, exc, self.client.server_now_ms()) == 'account':
                    break  # the others would fail the same way: spare the weight
                continue
            self._recovered(events, underlying, now_ms)
            self.states[underlying], found = mmp_events(self.states.get(underlying), config, now_ms, self.name,
                                                        since_ms=self.started_ms)
            events.extend(found)
        return events


def client_factory(user_agent='marketops.mmp mmp_watch'):
    """A function building one account's client from its validated params (TLS settings included)."""
    def build(params):
        return BINANCE.client(params, user_agent=user_agent)
    return build


class Watcher(AccountReports):
    """Every account of one event source, the shared list of underlyings, the interval and the stop gate.

    The event loop's thread calls ``interval_now()``; ``before_poll()``, ``probe()`` and ``poll()`` run in worker
    threads (they may read the pacing ledger, or send requests). ``read_stop`` (default: ``pacing.recorded_stop``
    for the source's ``base_url``) and ``wall_clock`` (epoch seconds, the clock stops are recorded in) are
    injectable for tests.
    """

    def __init__(self, settings, build_client=None, clock=time.monotonic, refresh=UNDERLYINGS_REFRESH, read_stop=None,
                 wall_clock=time.time):
        self.settings = settings
        self.catalog = UnderlyingCatalog(refresh=refresh, clock=clock)
        build_client = build_client or client_factory()
        self.accounts = [AccountWatch(params, build_client, self.catalog, settings['error_interval'], clock, index)
                         for index, params in enumerate(settings['accounts'])]
        if read_stop is None:
            # the client's own key for its base URL (check_base_url): this process's record counts without a ledger
            base_url = settings['base_url'].rstrip('/')

            def read_stop():
                return recorded_stop(base_url, clock=wall_clock)
        self.gate = StopGate(len(self.accounts), read_stop, clock=wall_clock, venue_label=VENUE_LABEL,
                             probe_request=PROBE_REQUEST, describe=describe_error, venue=VENUE)
        self._reported = (float(settings['interval']), False)

    def describe(self):
        """What the source logs at start-up of this venue's accounts."""
        return '%d %s account(s) at %s every %ss, weight budget %d per minute' % (
            len(self.accounts), VENUE_LABEL, self.settings['base_url'], self.current_interval,
            self.settings['weight_budget'])

    def reads_per_poll(self):
        return sum(len(account.watched() or ()) for account in self.accounts)

    def extra_per_minute(self):
        if any(account.underlyings is None for account in self.accounts):
            return EXCHANGE_INFO_WEIGHT * 60.0 / self.catalog.refresh
        return 0.0

    def interval_now(self):
        """(seconds between two polls of an account, a message to report once or None)."""
        reads, extra = self.reads_per_poll(), self.extra_per_minute()
        interval, stretched = poll_interval(self.settings['interval'], reads, self.settings['weight_budget'], extra)
        interval = round(interval, 3)
        message = None
        if (interval, stretched) != self._reported and (stretched or self._reported[1]):
            message = dict(interval=interval, requested_interval=self.settings['interval'], stretched=stretched,
                           reads_per_poll=reads, weight_budget=self.settings['weight_budget'],
                           weight_per_minute=round(weight_per_minute(interval, reads, extra), 1))
        self._reported = (interval, stretched)
        return interval, message

    @property
    def current_interval(self):
        """The interval last computed by ``interval_now()`` (seconds)."""
        return self._reported[0]

    def before_poll(self, account):
        """What ``account`` does before its poll: ``(POLL, 0)``, ``(WAIT, seconds)`` then ask again, or ``(PROBE, 0)``:
        call ``probe(account)``, then ask again."""
        return self.gate.before_poll(account.index)

    def probe(self, account):
        """The one request after a stop: the exchange's time (unsigned, weight 1), through ``account``'s client (built
        when it has none yet). Returns the exception it failed with, or None; the gate learns the outcome."""
        error = None
        try:
            account.ensure_client().probe()
        except Exception as exc:  # pylint: disable=broad-except
            error = exc
        finally:
            self.gate.after_probe(error, self.current_interval)
        return error

    def poll(self, account):
        """One poll of ``account`` (its events); a stop its client met holds the other accounts at once."""
        events = account.poll()
        if account.stop is not None:
            self.gate.note(account.stop)
        return events

    def take_notices(self):
        """What to say since the last call: ``(message, info event)`` per stop and per resume (the gate's), and
        ``(message, None)`` when the exchange's list of underlyings has entries that are not watched."""
        out = []
        while self.gate.notices:
            out.append(self.gate.notices.popleft())
        while self.catalog.notes:
            out.append((self.catalog.notes.pop(0), None))
        return out
