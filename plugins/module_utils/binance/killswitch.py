# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Binance's kill-switch (auto-cancel countdown, ``/eapi/v1/countdownCancelAll``). Plain Python, no AnsibleModule.

The exchange's documentation and its official SDK disagree on the shape of the GET answer: a list of the
active configs, or one object. ``countdown_from_api()`` accepts a single object, a list of them, an empty
object and an empty list; an underlying that is absent, or a countdown of 0, means off. Everything in the
answer is checked like user input. The read / compare / write loop is the core's (``desired.py``).

Nothing here sends heartbeats (``countdownCancelAllHeartBeat``): that is the trading system's job.
"""

from __future__ import annotations

from ansible_collections.marketops.mmp.plugins.module_utils.binance.venue import (
    LONG_MAX,
    UNDERLYING_RE,
    UnderlyingCore,
    validate_underlying,
)
from ansible_collections.marketops.mmp.plugins.module_utils.desired import ensure_state
from ansible_collections.marketops.mmp.plugins.module_utils.errors import MMPError, TaskError
from ansible_collections.marketops.mmp.plugins.module_utils.validation import validate_int

COUNTDOWN_MIN_MS = 5000
COUNTDOWN_ALLOWED = ('0 (off) or an integer number of milliseconds in [%d, %d]' % (COUNTDOWN_MIN_MS, LONG_MAX))
ARMED_WARNING = ('kill-switch of %s set to %d ms: every open order of %s is cancelled when %d ms pass without a '
                 'heartbeat (POST /eapi/v1/countdownCancelAllHeartBeat) from the trading system; this module never '
                 'sends heartbeats')


def validate_countdown(value, option='countdown_ms'):
    """0 or at least 5000 (ms), at most the exchange's LONG. Raises ValidationError."""
    validate_int(option, value, 0, LONG_MAX, COUNTDOWN_ALLOWED)
    if 0 < value < COUNTDOWN_MIN_MS:
        validate_int(option, value, COUNTDOWN_MIN_MS, LONG_MAX, COUNTDOWN_ALLOWED)
    return value


def _countdown_value(raw, underlying):
    """An answer's countdownTime: an int (or a string of digits) in [0, LONG]."""
    if isinstance(raw, str) and raw.isdigit() and len(raw) <= 19:
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= LONG_MAX:
        raise TaskError('the exchange\'s kill-switch answer for %s has countdownTime=%r, not an integer '
                        'number of milliseconds >= 0' % (underlying, raw), details=dict(underlying=underlying))
    return raw


def countdown_from_api(data, underlying):
    """The kill-switch of ``underlying`` in an answer of countdownCancelAll: ``{underlying, countdown_ms}``.

    Accepts one object, a list of objects, ``{}`` and ``[]``; absent or 0 is off. Raises TaskError
    on anything else (another type, an entry with a countdown but no underlying, conflicting entries).
    """
    if isinstance(data, dict):
        entries = [data] if data else []
    elif isinstance(data, list):
        entries = data
    elif data is None:
        entries = []
    else:
        raise TaskError('the exchange answered the kill-switch request for %s with %s, not an object or a '
                        'list' % (underlying, type(data).__name__), details=dict(underlying=underlying))
    found = None
    for entry in entries:
        if not isinstance(entry, dict):
            raise TaskError('the exchange\'s kill-switch answer for %s holds %s, not an object'
                            % (underlying, type(entry).__name__), details=dict(underlying=underlying))
        name = entry.get('underlying')
        countdown = entry.get('countdownTime')
        if name is None or name == '':
            if countdown is None or _countdown_value(countdown, underlying) == 0:
                continue  # an empty entry: nothing is active
            raise TaskError('the exchange\'s kill-switch answer for %s has countdownTime=%r without an '
                            'underlying' % (underlying, countdown), details=dict(underlying=underlying))
        if not isinstance(name, str) or not UNDERLYING_RE.match(name):
            raise TaskError('the exchange\'s kill-switch answer for %s names the underlying %r'
                            % (underlying, name), details=dict(underlying=underlying))
        value = 0 if countdown is None else _countdown_value(countdown, underlying)
        if name.upper() != underlying:
            continue
        if found is not None and found != value:
            raise TaskError('the exchange\'s kill-switch answer for %s lists it twice, with %s and %s ms'
                            % (underlying, found, value), details=dict(underlying=underlying))
        found = value
    return dict(underlying=underlying, countdown_ms=found or 0)


def read_kill_switch(client, underlying):
    """``{underlying, countdown_ms}`` as the exchange holds it (one GET). Raises MMPError naming the underlying."""
    try:
        return countdown_from_api(client.get_countdown(underlying), underlying)
    except TaskError:
        raise
    except MMPError as e:
        raise TaskError('kill-switch %s: %s' % (underlying, e.message), details=dict(underlying=underlying),
                        http_status=e.http_status, code=e.code, exchange_message=e.exchange_message)


def ensure_kill_switch(client, underlying, countdown_ms, check_mode=False, before=None):
    """Make the exchange hold ``countdown_ms`` for ``underlying``; writes only when it differs (``desired.py``).
    ``before``: the kill-switch already read (read_kill_switch()), else it is read first.

    Returns a dict: changed, config (after the task; in check mode what it holds now), diff, warnings.
    ``changed`` compares the exchange's answer with the request; an unknown write outcome is decided by
    reading back.
    """
    desired = dict(underlying=underlying, countdown_ms=countdown_ms)
    state = {}

    def read():
        state['before'] = read_kill_switch(client, underlying) if before is None else before
        return state['before']

    def readback_failed(error, read_error):
        return TaskError('%s; reading the kill-switch of %s back failed too (%s): the exchange may or may not hold the '
                         'requested countdown, run again to converge' % (error.message, underlying, read_error.message),
                         details=dict(underlying=underlying, before=state['before']))

    def mismatch(after, source):
        return TaskError('the exchange did not apply the requested kill-switch for %s: asked countdown_ms=%d; the '
                         'exchange %s countdown_ms=%d' % (underlying, countdown_ms, source, after['countdown_ms']),
                         details=dict(underlying=underlying, before=state['before'], asked=desired, exchange=after))

    outcome = ensure_state(client, read, lambda config: config['countdown_ms'] == countdown_ms, lambda before: desired,
                           check_mode, write=lambda: countdown_from_api(client.set_countdown(underlying, countdown_ms),
                                                                        underlying),
                           read_back=lambda: read_kill_switch(client, underlying), readback_failed=readback_failed,
                           mismatch=mismatch, held='the exchange holds the requested countdown')
    outcome['warnings'] = [ARMED_WARNING % (underlying, countdown_ms, underlying, countdown_ms)] \
        if outcome['changed'] and countdown_ms else []
    return outcome


class KillSwitchCore(UnderlyingCore):
    """binance_kill_switch: keep one underlying's auto-cancel countdown as code."""

    name = 'kill-switch'

    @staticmethod
    def argument_spec():
        return dict(underlying=dict(type='str', required=True), countdown_ms=dict(type='int', required=True))

    @staticmethod
    def validate(params):
        return dict(underlying=validate_underlying(params.get('underlying')),
                    countdown_ms=validate_countdown(params.get('countdown_ms'))), []

    @staticmethod
    def run(client, desired, check_mode):
        return ensure_kill_switch(client, desired['underlying'], desired['countdown_ms'], check_mode=check_mode)


KILL_SWITCH = KillSwitchCore()
