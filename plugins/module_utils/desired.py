# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The desired-state helper every write of every venue goes through. No venue named here.

``ensure_state()``: read, compare the normalised values, write only on a difference (never in check mode), check
the answer; ``write_until_held()``: the write itself, where an unknown outcome (``UnknownOutcome``) is decided by
reading the state back, and a write the exchange does not hold is sent again (it is idempotent) at most
``UNKNOWN_OUTCOME_WRITES`` times. Each recovery is noted on the client, for the task's warnings.
"""

from __future__ import annotations

from ansible_collections.marketops.mmp.plugins.module_utils.errors import MMPError, UnknownOutcome

# How many times a write is sent again after the exchange was read back and does not hold it.
UNKNOWN_OUTCOME_WRITES = 2


def unchanged(state):
    """The result of a task that found the exchange already holding what was asked."""
    return dict(changed=False, config=state, diff=dict(before=dict(state), after=dict(state)))


def write_until_held(client, write, read_back, holds, readback_failed, mismatch=None, exhausted=None,
                     held='the exchange holds the requested config', not_held='not applied'):
    """Send ``write()`` (returns the state the exchange answered with) until the exchange holds what was asked.

    - ``holds(state)``: whether ``state`` is what was asked;
    - ``read_back()``: the state, read after a write whose outcome is unknown; ``readback_failed(error, read_error)``
      builds the error raised when that read fails too;
    - ``mismatch(state, source)``: the error raised when the answer (or the state read back after the last write)
      is not what was asked; None: the answer is taken as the state after the write;
    - ``exhausted(error, state)``: the error raised when the state read back still does not hold it after the last
      write; None: ``mismatch`` decides.

    Returns the state after the write.
    """
    writes_left = UNKNOWN_OUTCOME_WRITES
    while True:
        try:
            after = write()
            source = 'answered'
        except UnknownOutcome as e:
            try:
                after = read_back()
            except MMPError as read_error:
                raise readback_failed(e, read_error)
            if not holds(after):
                if writes_left > 0:
                    writes_left -= 1
                    client.note_recovery('%s; read back: %s, sent again' % (e.message, not_held))
                    continue  # read back: not applied; the write is idempotent, send it again
                if exhausted is not None:
                    raise exhausted(e, after)
            else:
                client.note_recovery('%s; read back: %s' % (e.message, held))
            source = 'holds after an unknown write outcome (%s)' % e.message
        if mismatch is not None and not holds(after):
            raise mismatch(after, source)
        return after


def ensure_state(client, read, holds, predict, check_mode, **write):
    """Make the exchange hold what was asked: read; when ``holds(before)``, nothing is sent; in check mode,
    ``predict(before)`` is the state after; else ``write_until_held(client, **write)`` (its ``holds`` too).

    Returns a dict: changed, config (what the exchange holds after the task; in check mode what it holds now), diff
    (before/after).
    """
    before = read()
    if holds(before):
        return unchanged(before)
    if check_mode:
        return dict(changed=True, config=before, diff=dict(before=before, after=predict(before)))
    after = write_until_held(client, holds=holds, **write)
    return dict(changed=True, config=after, diff=dict(before=before, after=after))
