# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pacing of requests under a venue's request weight limit, and the ledger shared on one controller. No venue named.

The policy: the venue counts request weight per scope (Binance: per IP; a venue that counts per account gives
each account its own ledger) in fixed windows of one minute of *its* clock, answers 429 when a minute's
weight crosses the limit, then bans (Binance: 418). Every worker of a run (forked
fast-path workers, module processes) sends from the same IP, so they coordinate here:

- **Claims before sending.** A request is sent only after its weight was claimed, atomically under an
  exclusive ``fcntl.flock`` on the ledger, in every exchange minute it may land in, and only when every
  one of those minutes still has room under ``weight_limit - weight_reserve``. Otherwise the worker
  waits until the request surely lands in a later minute.
- **The exchange's clock.** ``Date`` gives the exchange's clock to the second only, and a request
  arrives some time after it is sent. The ledger keeps an interval ``[lo, hi]`` for the offset of the
  exchange's clock to ours, narrowed by every answer (``Date - received <= offset < Date + 1 - sent``,
  widened by ``DATE_MARGIN`` and, below, ``DATE_EARLY_MARGIN``);
  a request sent at ``t`` lands between ``t + lo`` and ``t + hi + LANDING_MARGIN`` (+ the last round
  trip). When that span crosses a minute boundary the request is charged to both minutes: the new
  minute is never assumed to have begun before it surely has. Until the clock is known (first request
  of a controller, or after ``CLOCK_MAX_AGE`` of silence) one worker at a time sends a request to learn
  it, the others wait for its answer.
- **Upward correction.** The used weight the venue reports (Binance: a header) is the weight the whole IP used in the exchange's
  minute of the answer's ``Date``; a minute's count is raised to it (other systems behind the IP), never
  lowered.
- **Retry-After** of a 429 is written to the ledger so that every worker holds back.
- **A stop is shared state.** An HTTP 418 (the IP is banned) or a 429 that will not be retried is written
  to the ledger as "no request to this exchange URL before T" (``stop``). Every claim checks it first:
  while it holds, ``claim()`` raises ``ExchangeStop`` and nothing is sent, by any worker, task or run on
  this controller. A stop further ahead than the exchange's longest ban (``MAX_STOP``, 3 days) is not believed.
- **A stop's scope.** A venue that counts per account (a ``scope``) keeps its weights and the stops of one account
  in that account's ledger; a stop the venue gives the whole URL (every account on it) is recorded in the URL's
  ledger, which every account's client checks too (``recorded_stop`` reads both).
- **The exchange's own limit.** Unless the task caps it lower, the weight limit is the one the exchange
  publishes (``exchangeInfo``'s ``rateLimits``), read by one worker at most once an hour per controller
  and kept in the ledger (``rate_limit``); the venue's ``default_limit`` when it cannot be read.

The ledger is one small JSON file per exchange URL (and scope) in a private directory of the user: ``pacing_dir``
when the task gives one, else ``$MARKETOPS_MMP_PACING_DIR``, else ``~/.cache/marketops-mmp`` (``ledger_directory()``;
the user's home, where no other user can create it first), created 0700. **A stop fails closed**: a directory or
file owned by someone else, writable by group or others, a link, anything but a regular file, a directory that
cannot be created or opened, a lock that cannot be taken within ``LOCK_TIMEOUT``: ``claim()`` (and
``must_read_limit()``, ``current_stop()``) raise ``LedgerUnavailable`` saying why, and nothing is sent, since a
stop recorded there could not be honoured. Only ``ledger=None`` (the task's explicit opt-out) paces without it.
What is learnt after a request was sent (the clock, the used weight, a stop) is written when the ledger can be
used, else kept by this process (``Pacer.ledger_problem`` says why). Every value read is validated and bounded
(types, minutes near now, weights within ``[0, weight_limit]``, clock offsets, holds at most ``MAX_HOLD`` ahead,
stops at most ``MAX_STOP`` ahead, published limits within ``[1, MAX_PUBLISHED_LIMIT]``); anything else is dropped.
Nothing here raises into a task but ``ExchangeStop`` and ``LedgerUnavailable``, and no wait is longer than
``MAX_PACING_WAIT`` (``LOCK_TIMEOUT`` for the lock).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import stat
import time

from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: no shared ledger, pacing per process
    fcntl = None


WEIGHT_WINDOW = 60             # seconds: the exchange counts weight per minute of its clock
MAX_HOLD = 120.0               # seconds: a shared Retry-After hold further ahead is not believed
MAX_PACING_WAIT = 120.0        # seconds a request waits for room in all, then it is sent anyway
MAX_CLOCK_OFFSET = 86400.0     # seconds between the exchange's clock and ours beyond which Date is ignored
MAX_CLOCK_SPREAD = 15.0        # seconds: the widest offset interval kept
CLOCK_MAX_AGE = 600.0          # seconds a known offset is used without a new answer
CLOCK_DRIFT = 1e-4             # the offset interval widens by this much per second of age (100 ppm)
DATE_MARGIN = 0.05             # seconds added on both sides of what a Date header says
DATE_EARLY_MARGIN = 0.5        # and below it: a server that rounds its Date instead of truncating it
LANDING_MARGIN = 1.0           # seconds a request may take from its claim to the exchange, plus the round trip
ASSUMED_OFFSET = 1.0           # no Date header at all: the exchange's clock is assumed within 1 s of ours
LOCK_TIMEOUT = 10.0            # seconds spent trying to lock the ledger before the request fails (sending nothing)
PROBE_POLL = 0.05              # seconds between looks at the ledger while another worker learns the clock
MAX_LEDGER_BYTES = 65536
MAX_MINUTES = 8                # minute entries kept in a ledger
MAX_USED_HEADER = 10 ** 9
MAX_PUBLISHED_LIMIT = 10 ** 7    # a published (or recorded) limit above this is not believed
LIMIT_MAX_AGE = 3600.0         # seconds a published limit is used before it is read again
LIMIT_RETRY = 300.0            # seconds before a limit that could not be read is tried again (the default meanwhile)
MAX_STOP = 3 * 86400.0         # seconds: the longest stop believed (an exchange's longest ban); not further ahead
DEFAULT_STOP_429 = 60.0        # seconds of a 429 given up on without a Retry-After (the rest of a minute at most)
STOP_STATUSES = (418, 429)
PACING_DIR_ENV = 'MARKETOPS_MMP_PACING_DIR'   # the ledger's directory, when the task's pacing_dir is not set
DEFAULT_PACING_DIR = os.path.join('~', '.cache', 'marketops-mmp')  # else: in the user's home
PACING_DIR_MAX_LEN = 1024


class ExchangeStop(Exception):
    """A recorded stop holds: no request may be sent to this exchange URL before ``until`` (our clock).

    ``at`` is when it was recorded, ``status`` the HTTP status that caused it (418 or 429), ``path`` the ledger
    that holds it (None when only this process knows it).
    """

    def __init__(self, until, at, status, path=None):
        super().__init__('no request before %s' % until)
        self.until = until
        self.at = at
        self.status = status
        self.path = path


def effective_limit(cap, published, default=MAX_PUBLISHED_LIMIT):
    """The weight limit to pace under: the exchange's published limit (``published``, a ``(value, at, read)``
    entry, or None: the venue's ``default``), lowered by the task's ``cap`` (None: no cap; 0: pacing off)."""
    if cap == 0:
        return 0
    limit = published[0] if published else default
    return limit if cap is None else min(int(cap), limit)


def default_reserve(weight_limit):
    """The default ``weight_reserve``: a tenth of the limit (240 of 2400), at least 1, below the limit.

    Workers of one controller coordinate exactly through the ledger; the reserve is left for what the
    ledger cannot see: other systems and controllers behind the same IP, between two of our answers.
    """
    limit = int(weight_limit or 0)
    if limit <= 1:
        return 0
    return min(max(1, limit // 10), limit - 1)


# --------------------------------------------------------------------------------------------
# Validation of everything read from outside
# --------------------------------------------------------------------------------------------

def _number(value):
    """A finite int or float (never a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _integer(value):
    """An int (never a bool), or a short string of digits (JSON object keys), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and 0 < len(value) <= 15 and value.lstrip('-').isdigit():
        return int(value)
    return None


def clean_clock(raw, now):
    """``(lo, hi, at)`` from a ledger's ``clock``, or None when anything about it is not sane."""
    if not isinstance(raw, dict):
        return None
    lo, hi, at = _number(raw.get('lo')), _number(raw.get('hi')), _number(raw.get('at'))
    if lo is None or hi is None or at is None:
        return None
    if not (-MAX_CLOCK_OFFSET <= lo <= hi <= MAX_CLOCK_OFFSET) or hi - lo > MAX_CLOCK_SPREAD:
        return None
    if not now - CLOCK_MAX_AGE <= at <= now + 5.0:
        return None
    return (lo, hi, at)


def clean_stop(raw, now):
    """``(until, at, status)`` from a ledger's ``stop``, or None when it is over or not sane."""
    if not isinstance(raw, dict):
        return None
    until, at, status = _number(raw.get('until')), _number(raw.get('at')), raw.get('status')
    if until is None or at is None or isinstance(status, bool) or status not in STOP_STATUSES:
        return None
    if not now < until <= now + MAX_STOP + 1.0 or not until - MAX_STOP - 1.0 <= at <= min(until, now + 5.0):
        return None
    return (until, at, status)


def clean_limit(raw, now):
    """``(weight per minute, at, read)`` from a ledger's ``rate_limit``, or None when stale or not sane."""
    if not isinstance(raw, dict):
        return None
    value, at, read = raw.get('weight_per_minute'), _number(raw.get('at')), raw.get('read')
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PUBLISHED_LIMIT:
        return None
    if at is None or not isinstance(read, bool) or not now - (LIMIT_MAX_AGE if read else LIMIT_RETRY) <= at <= now + 5.0:
        return None
    return (value, at, read)


def clean_state(raw, now, weight_limit, timeout=10.0, default_limit=MAX_PUBLISHED_LIMIT):
    """The ledger's content as a state, every value validated; what is not sane is dropped.

    ``weight_limit`` is the task's cap (None: the published limit alone, else ``default_limit``; 0: pacing off):
    minute counts above the limit in force are dropped."""
    state = empty_state()
    if not isinstance(raw, dict):
        return state
    state['stop'] = clean_stop(raw.get('stop'), now)
    state['limit'] = clean_limit(raw.get('rate_limit'), now)
    probe = _number(raw.get('limit_probe_until'))
    if probe is not None and now < probe <= now + timeout + 2.0:
        state['limit_probe'] = probe
    weight_limit = effective_limit(weight_limit, state['limit'], default_limit)
    state['clock'] = clean_clock(raw.get('clock'), now)
    centre = now + ((state['clock'][0] + state['clock'][1]) / 2 if state['clock'] else 0.0)
    current = int(centre // WEIGHT_WINDOW)
    minutes = raw.get('minutes')
    if isinstance(minutes, dict) and len(minutes) <= 4 * MAX_MINUTES:
        for key, value in minutes.items():
            minute, weight = _integer(key), _integer(value)
            if minute is None or weight is None or isinstance(value, str):
                continue
            if abs(minute - current) <= 2 and 0 <= weight <= weight_limit:
                state['minutes'][minute] = weight
    hold = _number(raw.get('hold_until'))
    if hold is not None and now < hold <= now + MAX_HOLD + 1.0:
        state['hold'] = hold
    sync = raw.get('sync')
    if isinstance(sync, dict):
        offset, at = _integer(sync.get('time_offset_ms')), _number(sync.get('at'))
        if (offset is not None and not isinstance(sync.get('time_offset_ms'), str) and at is not None
                and abs(offset) <= MAX_CLOCK_OFFSET * 1000 and now - CLOCK_MAX_AGE <= at <= now + 5.0):
            state['sync'] = (offset, at)
    probe = _number(raw.get('probe_until'))
    if probe is not None and now < probe <= now + timeout + 2.0:
        state['probe'] = probe
    return state


def empty_state():
    return dict(minutes={}, hold=0.0, clock=None, sync=None, probe=0.0, stop=None, limit=None, limit_probe=0.0)


def dump_state(state):
    out = dict(v=2, minutes={str(m): w for m, w in sorted(state['minutes'].items())})
    if state.get('stop'):
        out['stop'] = dict(zip(('until', 'at', 'status'), state['stop']))
    if state.get('limit'):
        out['rate_limit'] = dict(zip(('weight_per_minute', 'at', 'read'), state['limit']))
    if state.get('limit_probe'):
        out['limit_probe_until'] = state['limit_probe']
    if state['hold']:
        out['hold_until'] = state['hold']
    if state['clock']:
        out['clock'] = dict(zip(('lo', 'hi', 'at'), state['clock']))
    if state['sync']:
        out['sync'] = dict(zip(('time_offset_ms', 'at'), state['sync']))
    if state['probe']:
        out['probe_until'] = state['probe']
    return json.dumps(out, sort_keys=True).encode('ascii')


def aged(clock, now):
    lo, hi, at = clock
    spread = CLOCK_DRIFT * max(0.0, now - at)
    return (lo - spread, hi + spread)


def merge_clocks(a, b, now):
    """The intersection of two offset intervals when they agree, else the more recent one."""
    if a is None or b is None:
        return a or b
    (alo, ahi), (blo, bhi) = aged(a, now), aged(b, now)
    lo, hi = max(alo, blo), min(ahi, bhi)
    if lo <= hi:
        return (lo, hi, max(now, a[2], b[2]))  # aged to now: ``at`` is the moment lo and hi speak of
    return a if a[2] >= b[2] else b  # a clock stepped: the newer observation wins


def merge_states(shared, local, now):
    """What the ledger and this process know together: the larger count, the later hold, the narrower clock."""
    out = dict(shared, minutes=dict(shared['minutes']))
    for minute, weight in local['minutes'].items():
        if weight > out['minutes'].get(minute, 0):
            out['minutes'][minute] = weight
    out['hold'] = max(shared['hold'], local['hold'])
    out['stop'] = later_stop(shared.get('stop'), local.get('stop'))
    limits = [entry for entry in (shared.get('limit'), local.get('limit')) if entry]
    out['limit'] = max(limits, key=lambda entry: entry[1]) if limits else None
    out['limit_probe'] = shared.get('limit_probe', 0.0)
    out['clock'] = merge_clocks(shared['clock'], local['clock'], now)
    if local['sync'] and (not shared['sync'] or local['sync'][1] > shared['sync'][1]):
        out['sync'] = local['sync']
    return out


def later_stop(a, b):
    """Of two stops (or None), the one that ends later."""
    if a is None or b is None:
        return a or b
    return a if a[0] >= b[0] else b


def prune(state, now):
    """Keep the minutes near the exchange's present, at most MAX_MINUTES of them."""
    clock = state['clock']
    centre = now + ((clock[0] + clock[1]) / 2 if clock else 0.0)
    current = int(centre // WEIGHT_WINDOW)
    keep = sorted(m for m in state['minutes'] if abs(m - current) <= 2)[-MAX_MINUTES:]
    state['minutes'] = {m: state['minutes'][m] for m in keep}
    for key in ('hold', 'probe', 'limit_probe'):
        if state.get(key, 0.0) <= now:
            state[key] = 0.0
    if state.get('stop') and state['stop'][0] <= now:
        state['stop'] = None
    if state.get('limit') and state['limit'][1] < now - (LIMIT_MAX_AGE if state['limit'][2] else LIMIT_RETRY):
        state['limit'] = None
    return state


def _narrower(new, old, now, by=0.01):
    """Whether ``new`` tells more than ``old`` (narrower by ``by`` seconds, or moved away from it)."""
    (nlo, nhi), (olo, ohi) = aged(new, now), aged(old, now)
    return nlo > olo + by or nhi < ohi - by or nlo < olo - by or nhi > ohi + by


def landing_minutes(clock, now, margin):
    """The exchange minutes a request sent now may land in: from the earliest to the latest possible."""
    lo, hi = aged(clock, now)
    return int((now + lo) // WEIGHT_WINDOW), int((now + hi + margin) // WEIGHT_WINDOW)


def decide(state, now, weight, budget, margin):
    """``(0, minutes to charge)`` when the request fits in every minute it may land in, else
    ``(seconds to wait, ())``: until the request surely lands after the first minute with no room."""
    first, last = landing_minutes(state['clock'], now, margin)
    for minute in range(first, last + 1):
        if state['minutes'].get(minute, 0) + weight > budget:
            return max(0.001, surely_after(state['clock'], (minute + 1) * WEIGHT_WINDOW) - now), ()
    return 0.0, tuple(range(first, last + 1))


def surely_after(clock, moment):
    """Our time at which the exchange's clock is surely past ``moment``, the interval's ageing included."""
    lo, dummy, at = clock
    plain = moment - lo
    if plain <= at:
        return plain + 0.001
    return max(plain, (moment - lo - CLOCK_DRIFT * at) / (1.0 - CLOCK_DRIFT)) + 0.001


def parse_date(value, received_at):
    """The exchange's time from a Date header (whole seconds), or None when absent or not sane."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = parsedate_to_datetime(value)
        if moment.tzinfo is None:
            return None
        seconds = moment.timestamp()
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if not math.isfinite(seconds) or abs(seconds - received_at) > MAX_CLOCK_OFFSET:
        return None
    return float(int(seconds))


def parse_used(value):
    if not isinstance(value, str) or not value.strip().isdigit() or len(value.strip()) > 10:
        return None
    used = int(value.strip())
    return used if used <= MAX_USED_HEADER else None


def header(headers, name):
    try:
        for key, value in (headers or {}).items():
            if isinstance(key, str) and key.lower() == name.lower():
                return value
    except (AttributeError, TypeError):
        pass
    return None


# --------------------------------------------------------------------------------------------
# The ledger file
# --------------------------------------------------------------------------------------------

class LedgerUnavailable(Exception):
    """The ledger cannot be used (untrusted, unreadable, locked too long): no request may be sent (a stop recorded
    there could not be honoured).

    ``path``: the ledger's file (or directory); ``problem``: why, without the path; ``busy``: it is sound but another
    process held its lock longer than LOCK_TIMEOUT; ``untrusted``: it is there but not safe to use (someone else's,
    writable by others, a link, not a regular file): it must be removed or fixed, not waited for.
    """

    def __init__(self, problem, busy=False, path=None, untrusted=False):
        super().__init__('%s: %s' % (path, problem) if path else problem)
        self.problem = problem
        self.busy = busy
        self.path = path
        self.untrusted = untrusted


def ledger_directory(pacing_dir=None):
    """The directory of the user's pacing ledgers: ``pacing_dir`` (the task's option) when set, else the environment
    variable MARKETOPS_MMP_PACING_DIR, else ``~/.cache/marketops-mmp``: in the user's home, where no other user can
    create it first (unlike a name in the shared temporary directory). ``~`` is expanded; the path is checked
    (absolute, a directory of the user's that nobody else may write, not a link) when the ledger is opened."""
    for candidate in (pacing_dir, os.environ.get(PACING_DIR_ENV)):
        if isinstance(candidate, str) and candidate.strip():
            return os.path.expanduser(candidate.strip())
    return os.path.expanduser(DEFAULT_PACING_DIR)


def ledger_name(base_url, scope=None):
    """The ledger file's name for ``base_url`` (its scheme, host and port) and ``scope`` (None: per IP)."""
    parts = urlsplit(base_url)
    key = hashlib.sha256(('%s://%s:%s%s' % (parts.scheme, (parts.hostname or '').lower(), parts.port,
                                            '' if scope is None else '#%s' % scope)).encode('utf-8')).hexdigest()[:16]
    return 'weight-%s.json' % key


class Ledger:
    """One JSON file per exchange URL in the user's private directory, used under an exclusive flock.

    ``open_locked()`` returns a locked file descriptor or raises LedgerUnavailable; ``read(fd)`` the
    raw decoded content ({} when it is not a JSON object); ``write(fd, data)`` rewrites it in place
    (never through a link: the file was opened with O_NOFOLLOW and checked to be a regular file of ours).
    """

    def __init__(self, path):
        self.path = path
        self.directory, self.name = os.path.split(path)
        self.problem = None  # why the ledger was last found unusable, for debugging

    @classmethod
    def for_url(cls, base_url, base_dir=None, scope=None):
        """The ledger of ``base_url`` (scheme, host and port), and of ``scope`` within it when the venue counts per
        scope (an account) rather than per IP, in the directory ``base_dir`` (None: ``ledger_directory()``)."""
        return cls(os.path.join(ledger_directory(base_dir), ledger_name(base_url, scope)))

    def __repr__(self):
        return '<Ledger %s>' % self.path

    def _fail(self, problem, busy=False, path=None, untrusted=False):
        path = path or self.path
        self.problem = '%s: %s' % (path, problem)
        raise LedgerUnavailable(problem, busy, path, untrusted)

    @staticmethod
    def _trusted(st, uid, kind):
        if st.st_uid != uid:
            return '%s owned by uid %d, not %d' % (kind, st.st_uid, uid)
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return '%s writable by group or others' % kind
        return None

    def _open_directory(self):
        uid = os.getuid()
        directory = self.directory
        if not os.path.isabs(directory) or len(directory) > PACING_DIR_MAX_LEN or '\x00' in directory:
            self._fail('the directory is not an absolute path (no home directory to put it in?)', path=directory)
        flags = os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0) | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0)
        try:
            try:
                dfd = os.open(directory, flags)
            except FileNotFoundError:
                parent = os.path.dirname(directory)
                if not os.path.isdir(parent):
                    os.makedirs(parent, 0o700, exist_ok=True)  # ~/.cache, as XDG creates it
                try:
                    os.mkdir(directory, 0o700)
                except FileExistsError:
                    pass
                dfd = os.open(directory, flags)
        except OSError as e:
            # ELOOP / ENOTDIR: a link or a file in its place
            link = os.path.islink(directory)
            untrusted = link or (os.path.lexists(directory) and not os.path.isdir(directory))
            self._fail('cannot be opened as a directory: %s%s' % (e.strerror, ' (a symbolic link)' if link else ''),
                       path=directory, untrusted=untrusted)
        st = os.fstat(dfd)
        problem = 'not a directory' if not stat.S_ISDIR(st.st_mode) else self._trusted(st, uid, 'directory')
        if problem:
            os.close(dfd)
            self._fail(problem, path=directory, untrusted=True)
        return dfd

    def open_locked(self, timeout=None):
        timeout = LOCK_TIMEOUT if timeout is None else timeout
        if fcntl is None or not hasattr(os, 'O_NOFOLLOW'):
            self._fail('no flock or O_NOFOLLOW on this platform: set pacing_ledger to false')
        dfd = self._open_directory()
        try:
            fd = os.open(self.name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, 'O_CLOEXEC', 0)
                         | getattr(os, 'O_NONBLOCK', 0), 0o600, dir_fd=dfd)
        except OSError as e:
            link = os.path.islink(self.path)
            self._fail('cannot be opened: %s%s' % (e.strerror, ' (a symbolic link)' if link else ''),
                       untrusted=link or os.path.lexists(self.path))  # ELOOP: a symlink
        finally:
            os.close(dfd)
        try:
            st = os.fstat(fd)
            problem = ('not a regular file' if not stat.S_ISREG(st.st_mode)
                       else self._trusted(st, os.getuid(), 'file')
                       or ('%d hard links' % st.st_nlink if st.st_nlink != 1 else None))
            if problem:
                self._fail(problem, untrusted=True)
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return fd
                except (BlockingIOError, InterruptedError):
                    if time.monotonic() >= deadline:
                        self._fail('another process held its lock for more than %g s' % timeout, busy=True)
                    time.sleep(0.001 + random.random() * 0.004)
                except OSError as e:
                    self._fail('cannot be locked: %s' % e.strerror)
        except BaseException:
            os.close(fd)
            raise

    @staticmethod
    def close(fd):
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            pass
        os.close(fd)

    @staticmethod
    def read(fd):
        try:
            chunks, size = [], 0
            offset = 0
            while size <= MAX_LEDGER_BYTES:
                chunk = os.pread(fd, MAX_LEDGER_BYTES + 1 - size, offset)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                offset += len(chunk)
            if size > MAX_LEDGER_BYTES:
                return {}
            data = json.loads(b''.join(chunks).decode('utf-8')) if size else {}
        except Exception:  # OSError, ValueError, UnicodeDecodeError, RecursionError: ignored
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def write(fd, data):
        try:
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        except OSError:
            pass


# --------------------------------------------------------------------------------------------
# The pacer
# --------------------------------------------------------------------------------------------

_LOCAL = {}  # base URL -> what this process knows (used alone when the ledger is unavailable)


def local_state(base_url):
    return _LOCAL.setdefault(base_url, empty_state())


def recorded_stop(base_url, ledger='auto', clock=None, scope=None, pacing_dir=None):
    """The stop recorded for ``base_url`` that holds now, ``(until, at, status)``, or None: what a watcher checks
    before each poll, without a client. With a ``scope`` (an account), the later of the account's stop and the stop
    recorded for the whole URL (every account on it). Raises LedgerUnavailable when a ledger cannot be used."""
    base_url = base_url.rstrip('/')
    stop = Pacer(base_url, None, ledger=ledger, clock=clock, scope=scope, pacing_dir=pacing_dir).current_stop()
    if scope is not None and (ledger == 'auto' or ledger is None):
        stop = later_stop(stop, Pacer(base_url, 0, ledger=ledger, clock=clock, pacing_dir=pacing_dir).current_stop())
    return stop


class Pacer:
    """Claims weight before each request and learns from each answer. See the module's docstring.

    ``clock`` is our clock (seconds since the epoch), ``wait(reason, seconds)`` sleeps; both injectable.
    ``ledger``: 'auto' (the user's ledger for this URL, in ``pacing_dir``: see ``ledger_directory()``), None (this
    process only: the task's opt-out) or a Ledger. ``default_limit``: the limit when none is published (the venue's).
    """

    def __init__(self, base_url, weight_limit, weight_reserve=None, ledger='auto', timeout=10.0,
                 clock=None, wait=None, rand=None, scope=None, default_limit=MAX_PUBLISHED_LIMIT, pacing_dir=None):
        # weight_limit: the task's cap (None: the exchange's published limit alone; 0: pacing off)
        self.weight_cap = None if weight_limit is None else max(0, int(weight_limit))
        self.explicit_reserve = None if weight_reserve is None else max(0, int(weight_reserve))
        self.default_limit = int(default_limit)
        # scope: None when the venue counts per IP (one ledger per URL), else what it counts per (an account)
        self.scope = scope
        self.ledger = Ledger.for_url(base_url, pacing_dir, scope=scope) if ledger == 'auto' else ledger
        self.local = local_state(base_url if scope is None else '%s#%s' % (base_url, scope))
        self.timeout = float(timeout)
        self._clock = clock or time.time
        self._wait = wait or (lambda reason, seconds: time.sleep(seconds))
        self._rand = rand or random.random
        self.used_weight = None  # the last used weight the venue reported
        self.gave_up = 0  # requests sent after MAX_PACING_WAIT without room
        self._probing = False
        self._held_until = 0.0  # the end of the Retry-After this client waits for itself
        self._rtt = 0.0
        self.ledger_problem = None  # the first reason the ledger could not be used (None while it always could)
        self.ledger_busy = False  # that reason was a lock held too long by another process
        self.refused = False  # a request was refused (LedgerUnavailable raised) because of it

    @property
    def published(self):
        """The exchange's published limit as this pacer last saw it: ``(weight per minute, at, read)`` or None."""
        return self.local.get('limit')

    @property
    def weight_limit(self):
        """The limit paced under: the published one (``default_limit`` until known), lowered by the task's cap."""
        return effective_limit(self.weight_cap, self.published, self.default_limit)

    @property
    def weight_reserve(self):
        limit = self.weight_limit
        if self.explicit_reserve is None:
            return default_reserve(limit)
        return max(0, min(self.explicit_reserve, max(0, limit - 1)))

    @property
    def budget(self):
        return max(1, self.weight_limit - self.weight_reserve)

    # -- state -----------------------------------------------------------------------------

    def _open(self, now):
        """The ledger's locked descriptor (None without a ledger); raises LedgerUnavailable when it cannot be used."""
        if self.ledger is None:
            return None
        try:
            return self.ledger.open_locked()
        except LedgerUnavailable as e:
            error = e
        except Exception as e:  # pylint: disable=broad-except
            error = LedgerUnavailable('%s: %s' % (type(e).__name__, e), path=self.ledger.path)
        if self.ledger_problem is None:
            self.ledger_problem, self.ledger_busy = str(error), error.busy
        raise error

    def _load(self, fd, now):
        local = prune(self.local, now)
        if fd is None:
            return merge_states(local, empty_state(), now)
        shared = clean_state(Ledger.read(fd), now, self.weight_cap, self.timeout, self.default_limit)
        state = merge_states(shared, local, now)
        # A stop is what the usable ledger says (this process's records of it are written there): one cleared from
        # the ledger on purpose is cleared for a long-lived process (a watcher) too.
        state['stop'] = shared['stop']
        local['stop'] = shared['stop']
        if state['limit'] != local.get('limit'):
            local['limit'] = state['limit']  # the limit in force, for weight_limit (kept without a commit)
        return state

    def _commit(self, fd, state, now):
        state = prune(state, now)
        local = dict(state, minutes=dict(state['minutes']), probe=0.0, limit_probe=0.0)
        self.local.clear()
        self.local.update(local)
        if fd is not None:
            Ledger.write(fd, dump_state(state))

    def _transaction(self, change):
        """Run ``change(state, shared, now)`` on the merged state under the ledger's lock (when there is one);
        the state is written back when ``change`` returns a true ``commit``. Returns what ``change`` returns.
        ``now`` is read once the lock is held: what others wrote while this waited for it is not in its future."""
        fd = self._open(self._clock())
        try:
            now = self._clock()
            state = self._load(fd, now)
            commit, result = change(state, fd is not None, now)
            if commit:
                self._commit(fd, state, now)
            return result
        finally:
            if fd is not None:
                Ledger.close(fd)

    # -- before a request ------------------------------------------------------------------

    def claim(self, weight=1):
        """Wait until ``weight`` fits in every exchange minute the next request may land in, and claim it.

        Returns the exchange minutes charged (empty when the request goes without a claim: pacing off, the
        clock being learnt, or no room after MAX_PACING_WAIT). Raises ExchangeStop while a recorded stop holds
        (a ban, a 429 not retried), LedgerUnavailable when the ledger cannot be used: then nothing may be sent.
        """
        started, waited = self._clock(), 0.0
        while True:
            now = self._clock()
            try:
                reason, seconds, minutes = self._transaction(
                    lambda state, shared, now: self._try_claim(state, shared, now, weight))
            except ExchangeStop:
                raise
            except LedgerUnavailable:
                self.refused = True
                raise
            except Exception:  # pragma: no cover - defensive: pacing never fails a task
                return ()
            if not seconds or seconds <= 0:
                return minutes
            # bounded by our clock and by the waits asked for, whichever ends first (a clock may stand still)
            left = min(started + MAX_PACING_WAIT - now, MAX_PACING_WAIT - waited)
            if left <= 0:
                self.gave_up += 1
                return ()
            seconds = min(seconds, left)
            waited += seconds
            self._wait(reason, seconds)

    def _check_stop(self, state, shared, now):
        stop = state.get('stop')
        if stop and stop[0] > now:
            raise ExchangeStop(stop[0], stop[1], stop[2], self.ledger.path if shared and self.ledger else None)

    def _try_claim(self, state, shared, now, weight):
        self._check_stop(state, shared, now)
        if not self.weight_limit:
            return False, (None, 0, ())
        if state['hold'] > now and state['hold'] > self._held_until:
            return False, ('rate-limit', state['hold'] - now + self._rand() * 0.25, ())
        if state['clock'] is None:
            # Nobody knows the exchange's clock yet: one request learns it, the others wait for its answer.
            if self._probing or not shared:
                self._probing = True
                return False, (None, 0, ())
            if state['probe'] > now:
                return False, ('clock', min(PROBE_POLL, state['probe'] - now), ())
            state['probe'] = now + self.timeout + 1.0
            self._probing = True
            return True, (None, 0, ())
        if weight > self.budget:
            return False, (None, 0, ())  # can never fit: sent as it is (the exchange decides)
        seconds, minutes = decide(state, now, weight, self.budget, self._margin())
        if seconds > 0:
            return False, ('weight', seconds + self._rand() * 0.05, ())
        for minute in minutes:
            state['minutes'][minute] = state['minutes'].get(minute, 0) + weight
        return True, (None, 0, minutes)

    # -- the exchange's published limit ------------------------------------------------------

    def must_read_limit(self):
        """Whether this client should read the exchange's published limit now (one worker per controller at a
        time, at most once per LIMIT_MAX_AGE): False when it is known, or while it need not be known (pacing off);
        waits (bounded) while another worker reads it. Raises ExchangeStop while a stop holds, LedgerUnavailable when
        the ledger cannot be used (the limit's read is a request too)."""
        if self.weight_cap == 0:
            return False
        deadline = self._clock() + self.timeout + 2.0

        def change(state, shared, now):
            self._check_stop(state, shared, now)
            if state['limit'] is not None:
                return False, False
            if shared and state['limit_probe'] > now:
                return False, None
            if shared:
                state['limit_probe'] = now + self.timeout + 2.0
            return shared, True

        while True:
            try:
                verdict = self._transaction(change)
            except ExchangeStop:
                raise
            except LedgerUnavailable:
                self.refused = True
                raise
            except Exception:  # pragma: no cover - defensive
                return False
            if verdict is not None:
                return verdict
            now = self._clock()
            if now >= deadline:
                return True  # the worker reading it did not answer in time: read it here
            self._wait('limit', min(PROBE_POLL, deadline - now))

    def learn_limit(self, weight_per_minute):
        """Keep the exchange's published limit (None: it could not be read; ``default_limit`` until retried)."""
        ok = isinstance(weight_per_minute, int) and not isinstance(weight_per_minute, bool) \
            and 1 <= weight_per_minute <= MAX_PUBLISHED_LIMIT

        def change(state, shared, now):
            state['limit'] = (weight_per_minute, now, True) if ok else (self.default_limit, now, False)
            state['limit_probe'] = 0.0
            return True, None
        try:
            self._transaction(change)
        except Exception:  # pragma: no cover - defensive
            pass

    # -- stops -----------------------------------------------------------------------------

    def record_stop(self, seconds, status):
        """No request to this exchange URL for ``seconds`` (at most MAX_STOP), for every worker, task and run of this
        controller: an HTTP ``status`` 418 (banned) or a 429 that is not retried. Returns (until, at)."""
        now = self._clock()
        entry = (now + min(max(float(seconds), 1.0), MAX_STOP), now, int(status))

        def change(state, shared, now):
            state['stop'] = later_stop(state.get('stop'), entry)
            state['probe'] = 0.0
            if self._probing:
                self._probing = False
            return True, state['stop']
        try:
            stop = self._transaction(change)
        except Exception:  # pragma: no cover - defensive
            stop = None
        self.local['stop'] = later_stop(self.local.get('stop'), entry)
        return stop or entry

    def current_stop(self):
        """The stop that holds now, ``(until, at, status)``, or None. Raises LedgerUnavailable when the ledger cannot
        be used (whether a stop holds cannot be known)."""
        def change(state, shared, now):
            stop = state.get('stop')
            return False, stop if stop and stop[0] > now else None
        try:
            return self._transaction(change)
        except LedgerUnavailable:
            raise
        except Exception:  # pragma: no cover - defensive
            return None

    def _margin(self):
        return LANDING_MARGIN + min(self._rtt, 5.0)

    # -- after an answer -------------------------------------------------------------------

    def observe(self, headers, sent_at=None, received_at=None, weight=1, stop=None, used=None):
        """Learn the exchange's clock (Date) and the used weight the venue reported (``used``: its header, parsed).

        ``stop``: ``(seconds, status)`` when the answer said to stop (a 418), recorded in the same transaction that
        ends a clock probe, so that no worker sends between the two."""
        if stop is not None and not self.weight_limit:
            self.record_stop(*stop)
        now = self._clock()
        received_at = now if _number(received_at) is None else received_at
        sent_at = received_at if _number(sent_at) is None or sent_at > received_at else sent_at
        self._rtt = received_at - sent_at
        date = parse_date(header(headers, 'Date'), received_at)
        used = used if isinstance(used, int) and not isinstance(used, bool) and 0 <= used <= MAX_USED_HEADER else None
        if used is not None:
            self.used_weight = used
        observed = None
        if date is not None:
            observed = (date - received_at - DATE_MARGIN - DATE_EARLY_MARGIN, date + 1.0 - sent_at + DATE_MARGIN,
                        received_at)
            if observed[1] - observed[0] > MAX_CLOCK_SPREAD:
                observed = None

        def change(state, shared, now):
            clock = state['clock']
            if observed is not None:
                state['clock'] = merge_clocks(clock, observed, now)
            elif clock is None:
                state['clock'] = (-ASSUMED_OFFSET, ASSUMED_OFFSET, now)
            commit = clock is None or _narrower(state['clock'], clock, now)
            if stop is not None:
                entry = (now + min(max(float(stop[0]), 1.0), MAX_STOP), now, int(stop[1]))
                state['stop'] = later_stop(state.get('stop'), entry)
                self.local['stop'] = later_stop(self.local.get('stop'), entry)
                commit = True
            if self._probing:
                self._probing = False
                state['probe'] = 0.0
                if self.weight_limit:
                    lo, hi = aged(state['clock'], now)
                    for minute in range(int((sent_at + lo) // WEIGHT_WINDOW), int((received_at + hi) // WEIGHT_WINDOW) + 1):
                        state['minutes'][minute] = min(self.weight_limit, state['minutes'].get(minute, 0) + weight)
                commit = True
            if used is not None and self.weight_limit:
                minute = self._minute_of_used(date, state['clock'], sent_at, received_at, now)
                if minute is not None and used > state['minutes'].get(minute, 0):
                    state['minutes'][minute] = min(used, self.weight_limit)
                    commit = True
            return commit, None

        if not self.weight_limit:
            self._update_local_clock(observed, now)
            return
        try:
            self._transaction(change)
        except Exception:  # pragma: no cover - defensive: pacing never fails a task
            pass

    @staticmethod
    def _minute_of_used(date, clock, sent_at, received_at, now):
        """The exchange minute a reported used weight speaks of, when it is certain."""
        if date is not None:
            # Date's second fixes the minute, unless the weight was counted a moment before a new minute
            # began: in a minute's first two seconds the header is not attributed.
            return int(date // WEIGHT_WINDOW) if date % WEIGHT_WINDOW >= 2 else None
        lo, hi = aged(clock, now)
        first, last = int((sent_at + lo) // WEIGHT_WINDOW), int((received_at + hi) // WEIGHT_WINDOW)
        return first if first == last else None

    def _update_local_clock(self, observed, now):
        if observed is not None:
            self.local['clock'] = merge_clocks(self.local.get('clock'), observed, now)

    def hold(self, seconds):
        """A 429 asked for ``seconds`` of silence: every worker on this controller holds back."""
        until = self._clock() + min(float(seconds), MAX_HOLD)
        self._held_until = until

        def change(state, shared, now):
            if until > state['hold']:
                state['hold'] = until
                return True, None
            return False, None
        try:
            self._transaction(change)
        except Exception:  # pragma: no cover - defensive
            pass

    # -- the exchange's clock --------------------------------------------------------------

    def server_offset(self):
        """The exchange's clock minus ours in seconds, or None when unknown."""
        clock = self.local.get('clock')
        if clock is None:
            return None
        return (clock[0] + clock[1]) / 2

    def known_time_offset_ms(self):
        """The time offset an earlier synchronisation with the venue's clock found (any worker), or None."""
        def change(state, shared, now):
            return False, state['sync'][0] if state['sync'] else None
        try:
            return self._transaction(change)
        except Exception:  # pragma: no cover - defensive
            return None

    def share_time_offset_ms(self, offset_ms):
        if not isinstance(offset_ms, int) or abs(offset_ms) > MAX_CLOCK_OFFSET * 1000:
            return

        def change(state, shared, now):
            state['sync'] = (offset_ms, now)
            return True, None
        try:
            self._transaction(change)
        except Exception:  # pragma: no cover - defensive
            pass
