# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The whole MMP section of an account as one resource, the way Ansible's network resource modules manage a section
of a device: a ``config`` list in the venue's item schema and a ``state`` (``merged``, ``replaced``, ``overridden``,
``deleted``, ``gathered``, ``rendered``). One runner, for every venue; no venue named here.

The runner computes the plan from (what the venue holds, what is asked, the state); a venue only says how to read
what it holds, write one scope, remove one (or that it cannot), and what those writes send. It:

- validates every item (a venue's own checks, the option named ``config[2].qty_limit``) and refuses a scope listed
  twice, naming both 1-based positions, before any request;
- refuses ``deleted`` on a venue that cannot remove before any request, and an ``overridden`` that would have to
  remove there before any write, naming the unlisted scopes;
- reads once (``resource.read``), plans per scope (create, change, remove, none), writes only outside check mode,
  each scope through the venue's write (``desired.py``: the answer is compared with the request, an unknown outcome
  is read back), and returns ``before`` / ``after`` (sorted by scope), ``requests`` (the writes sent, or that would
  be sent in check mode), ``diff`` (keyed by scope, as the default callback prints it), ``gathered``, ``rendered``;
- ``rendered`` needs no client (``needs_client``): nothing is sent, credentials may be absent.

A *resource* (one per venue, ``<venue>/configs.py``) is an object with:

- ``venue``: its venue (see runner.py); ``noun``: what its items are, for messages ('MMP configs');
- ``scope_keys``: the item keys that name a scope (``('underlying',)``);
- ``item_spec()``: the argument spec of one item (the ``config`` suboptions);
- ``validate_item(item, state)``: ``(item, warnings)``, the item normalised in the config schema (a value left out
  is None); complete for ``replaced``, ``overridden`` and ``rendered``, partial for ``merged``, its scope only for
  ``deleted``. Raises ``ValidationError`` naming the option (the runner adds the item's position); no request;
- ``scope(item)``: a hashable key of the item's scope; ``describe(key)``: the scope in messages ('btc_usd group q1');
- ``can_remove``: whether it can remove a scope's config; ``cannot_remove``: why not, for messages;
- ``read(client, items, every, gathering)``: ``(held, warnings)``: ``{key: raw}`` of the listed items' scopes, or
  of every scope of the account when ``every`` (``gathering``: for ``gathered``); a raw state is the venue's own,
  given back to its write and remove;
- ``public(raw)``: the raw state as an item of the config schema, None when nothing is held;
- ``differences(held, item)``: the keys of ``item`` (complete) that ``held`` (an item, or None) does not hold;
- ``write(client, key, raw, item)``: make the scope hold ``item`` (never called in check mode; ``raw`` None when
  nothing was read for it); returns ``(item after, requests sent, warnings)``, the item from the exchange's answer
  (an answer that differs from the request raises, an unknown outcome is read back: ``desired.py``); raises
  MMPError;
- ``remove(client, key, raw)``: remove the scope's config (only if ``can_remove``); returns the requests sent;
- ``write_requests(item, raw)`` / ``remove_requests(raw)``: the requests ``write`` / ``remove`` would send given
  ``raw`` (None: without knowing the current state, for ``rendered``), each ``{method, path, params}``, never a
  key, a secret, a timestamp or a signature.

Items in the results leave out the values that are None (unset, or not managed). ``changed`` is whether a write
was sent (and answered as asked); a task that failed midway names the scopes applied before the failure and those
not attempted.
"""

from __future__ import annotations

from ansible_collections.marketops.mmp.plugins.module_utils.errors import MMPError, TaskError, ValidationError

STATES = ('merged', 'replaced', 'overridden', 'deleted', 'gathered', 'rendered')
WRITING_STATES = ('merged', 'replaced', 'overridden', 'deleted')
MAX_ITEMS = 1000


def at(position, option=None):
    """How messages name an item (``config[2]``) or one of its options (``config[2].qty_limit``): 1-based."""
    return 'config[%d]%s' % (position, '.%s' % option if option else '')


def _prefixed(error, position, scope_text=None):
    """``error`` (a ValidationError about one item's option) naming the item's position (and scope)."""
    where = at(position) + (' (%s)' % scope_text if scope_text else '')
    return ValidationError(at(position, error.option), None, None, message='%s: %s' % (where, error))


def validate_items(resource, state, config):
    """Every item of ``config`` (``resource.validate_item``), in order: ``(items, warnings)``. Refuses a scope listed
    twice, naming both positions. Raises ValidationError; sends nothing."""
    if config is None:
        config = []
    if not isinstance(config, list) or len(config) > MAX_ITEMS:
        raise ValidationError('config', None, None, message='config: a list of at most %d items in the schema of %s'
                              % (MAX_ITEMS, resource.noun))
    if state == 'gathered' and config:
        raise ValidationError('config', None, None, message='config: not allowed with state gathered (it reads '
                              'every config of the account); got %d items' % len(config))
    if state == 'deleted' and not resource.can_remove:
        raise ValidationError('state', state, None, message='state: deleted is not possible on %s: %s; nothing '
                              'was sent' % (resource.venue.label, resource.cannot_remove))
    items, warnings, seen = [], [], {}
    for position, raw in enumerate(config, 1):
        if not isinstance(raw, dict):
            raise ValidationError(at(position), None, None, message='%s: an item of %s (a dict), got %s'
                                  % (at(position), resource.noun, type(raw).__name__))
        try:
            item, item_warnings = resource.validate_item(raw, state)
        except ValidationError as e:
            raise _prefixed(e, position)
        key = resource.scope(item)
        if key in seen:
            raise ValidationError('config', None, None, message='config: %s is listed twice, items #%d and #%d; '
                                  'list each scope once' % (resource.describe(key), seen[key], position))
        seen[key] = position
        items.append(item)
        warnings.extend(item_warnings)
    return items, warnings


def merged_item(resource, item, held, position):
    """``item`` (partial) over what is held (an item, or None): the complete item ``merged`` makes the scope hold.
    Raises ValidationError (a scope with nothing held needs every required value) before any write."""
    full = dict(held or {})
    full.update({k: v for k, v in item.items() if v is not None})
    try:
        return resource.validate_item(full, 'replaced')[0]
    except ValidationError as e:
        if held is None:
            e = ValidationError(e.option, None, None, message='%s; %s holds no config for %s, so the item needs '
                                'every required value' % (e, resource.venue.label, resource.describe(resource.scope(item))))
        raise _prefixed(e, position)


def shown(item):
    """An item as the results show it: without the values that are None."""
    return {k: v for k, v in item.items() if v is not None}


def _sorted(resource, held):
    """``{key: item}`` as a list sorted by scope."""
    return [shown(held[key]) for key in sorted(held, key=resource.describe)]


def _by_scope(resource, held):
    return {resource.describe(key): shown(item) for key, item in held.items()}


def render(resource, items):
    """The writes that make each item true, whatever the exchange holds now: nothing is sent."""
    return [request for item in items for request in resource.write_requests(item, None)]


def plan(resource, state, items, held):
    """What the task does: ``(writes, removals)``, ``writes`` a list of ``(position, key, item)`` (the complete item
    each listed scope must hold, when it does not yet), ``removals`` the keys of the held scopes to remove. Raises
    ValidationError (an incomplete ``merged`` item) and TaskError (a removal the venue cannot make), sending
    nothing."""
    writes, removals, listed = [], [], set()
    for position, item in enumerate(items, 1):
        key = resource.scope(item)
        listed.add(key)
        current = held.get(key)
        if state == 'deleted':
            if current is not None:
                removals.append(key)
            continue
        wanted = merged_item(resource, item, current, position) if state == 'merged' else item
        if current is None or resource.differences(current, wanted):
            writes.append((position, key, wanted))
    if state == 'overridden' or (state == 'deleted' and not items):
        removals = [key for key in sorted(held, key=resource.describe) if key not in listed]
    if removals and not resource.can_remove:
        raise TaskError('state %s would remove the config of %s, which the list does not name; %s: list them, or use '
                        'state replaced; nothing was written' % (state, ', '.join(resource.describe(k) for k in removals),
                                                                 resource.cannot_remove),
                        details=dict(unlisted=[resource.describe(k) for k in removals]))
    return writes, removals


def _failed(resource, key, error, done, left, requests):
    """The error of a write that failed: which scope, what was applied before it, what was not attempted."""
    message = '%s %s: %s' % (resource.noun, resource.describe(key), error.message)
    message += '; applied before this failure: %s' % (', '.join(done) or 'nothing')
    if left:
        message += '; not attempted: %s' % ', '.join(left)
    details = dict(getattr(error, 'details', {}) or {})
    details.update(scope=resource.describe(key), applied=list(done), not_attempted=list(left), requests=requests,
                   changed=bool(requests))  # a failed task that wrote before its failure says so
    return TaskError(message, details=details, http_status=error.http_status, code=error.code,
                     exchange_message=error.exchange_message)


def run(resource, client, state, items, check_mode):
    """Run the task: see the module docstring. Returns the result's keys; raises MMPError."""
    if state == 'rendered':
        return dict(changed=False, rendered=render(resource, items))
    every = state in ('overridden', 'gathered') or (state == 'deleted' and not items)
    raw, warnings = resource.read(client, items, every, state == 'gathered')
    held = {}
    for key, value in raw.items():
        item = resource.public(value)
        if item is not None:
            held[key] = item
    if state == 'gathered':
        return dict(changed=False, gathered=_sorted(resource, held), warnings=warnings)

    try:
        writes, removals = plan(resource, state, items, held)
    except ValidationError as e:  # an incomplete merged item, found once the exchange was read: nothing written
        raise TaskError('%s; nothing was written' % e, details=dict(option=e.option))
    steps = [(key, item) for dummy, key, item in writes] + [(key, None) for key in removals]
    after = dict(held)
    if check_mode:
        requests = []
        for key, item in steps:
            if item is not None:
                requests.extend(resource.write_requests(item, raw.get(key)))
                after[key] = item
            else:
                requests.extend(resource.remove_requests(raw[key]))
                del after[key]
        changed = bool(steps)
    else:
        requests = []
        for index, (key, item) in enumerate(steps):
            try:
                if item is not None:
                    after[key], sent, written = resource.write(client, key, raw.get(key), item)
                    warnings.extend(written)
                else:
                    sent = resource.remove(client, key, raw[key])
                    del after[key]
            except MMPError as e:
                raise _failed(resource, key, e, [resource.describe(k) for k, dummy in steps[:index]],
                              [resource.describe(k) for k, dummy in steps[index + 1:]], requests)
            requests.extend(sent)
        changed = bool(requests)
    return dict(changed=changed, before=_sorted(resource, held), after=_sorted(resource, after), requests=requests,
                diff=dict(before=_by_scope(resource, held), after=_by_scope(resource, after)), warnings=warnings)


class ResourceCore:
    """The core (see runner.py) of a venue's resource module (``<venue>_mmp_configs``), given its resource."""

    def __init__(self, resource):
        self.resource = resource
        self.venue = resource.venue

    def argument_spec(self):
        return dict(config=dict(type='list', elements='dict', options=self.resource.item_spec()),
                    state=dict(type='str', default='merged', choices=list(STATES)))

    def validate(self, params):
        state = params.get('state')
        if state not in STATES:
            raise ValidationError('state', state, 'one of %s' % ', '.join(STATES))
        items, warnings = validate_items(self.resource, state, params.get('config'))
        return dict(state=state, items=items), warnings

    @staticmethod
    def needs_client(desired):
        """Whether the task sends requests: every state but ``rendered``."""
        return desired['state'] != 'rendered'

    def run(self, client, desired, check_mode):
        return run(self.resource, client, desired['state'], desired['items'], check_mode)

    def what(self, desired):
        return self.resource.noun

    @staticmethod
    def error_context(desired):
        return dict(state=desired['state'])
