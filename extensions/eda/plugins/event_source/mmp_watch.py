# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""mmp_watch: an ansible-rulebook event source that tells, within seconds, that MMP triggered or thawed.

It polls Binance's MMP config (one read per underlying) for every account and underlying with the collection's
client (signing, retries, pacing) and puts one event per change on the queue, under the key ``mmp_watch``:

- ``type: triggered`` when an underlying's ``lastTriggerTime`` moves forward, and at start-up for every
  underlying already frozen (``initial: true``);
- ``type: thawed`` when a frozen underlying is no longer frozen (``reason``: expired, reset, frozen_ms_changed);
- ``type: error`` when an account or an underlying cannot be read: once when the state changes, then at most
  every ``error_interval`` seconds; ``type: recovered`` once when it can be read again;
- ``type: info`` once when the interval is stretched to keep within ``weight_budget`` (also logged); once per
  stop (``reason: exchange_stop``, with ``until`` in ms and ``status`` 418 or 429) and once when polling resumes
  after it (``reason: exchange_resumed``).

A ban (HTTP 418) or a 429 the client gave up on is recorded in the controller's pacing ledger. Before every poll of
every account the source reads that record: while it holds (whoever recorded it: this source, a playbook, another
source) no account polls; when it ends one request (the exchange's time) probes the exchange. A probe banned (or
rate-limited) again waits for that new stop; otherwise the accounts resume, spread over the interval (after a probe
that failed otherwise, a timeout or a 5xx, their polls report what fails).

Every event has ``venue`` (binance, deribit), ``account``, ``underlying``, ``initial``, ``last_trigger_time``,
``frozen``, ``frozen_ms``, ``frozen_until`` (ms, null when not frozen or frozen until a manual reset), ``config`` (as
``binance_mmp`` / ``deribit_mmp`` returns it) and ``observed_at`` (the exchange's clock, ms). Never a secret.

Deribit accounts (``venue: deribit``): one ``private/get_mmp_status`` per account and poll finds every triggered
config; ``triggered`` when a config is newly frozen or its frozen_until changed (``initial: true`` at start-up), its
config read once; ``thawed`` (``reason``: expired, reset). Their events also have ``index_name``, ``mmp_group``,
``block_rfq`` (``underlying`` is the index name; ``last_trigger_time`` when the trigger was first seen). Deribit
counts requests per account: a ``too_many_requests`` the client gave up on holds that account only (then one
probe, ``public/get_time``); a Binance ban holds the Binance accounts only.

Arguments:
    accounts: list of {name, api_key, api_secret | private_key (+ private_key_passphrase), underlyings};
        underlyings omitted: every underlying the exchange lists in its exchange info (read once an hour);
        or {name, venue: deribit, client_id, client_secret} (venue default: binance)
    base_url: default BINANCE_EAPI_URL, else https://eapi.binance.com
    deribit_base_url: default DERIBIT_URL, else https://www.deribit.com
    interval: seconds between two polls of an account, default 10, at least 1
    weight_budget: request weight per minute the source may use, default 600 (the exchange allows 2400 per
        IP); the interval is stretched when accounts x underlyings x polls per minute would exceed it
    error_interval: seconds between two error events of the same failure, default 300
    validate_certs (default true), ca_path, recv_window (default 5000), timeout (default 10)

Example:
    - marketops.mmp.mmp_watch:
        accounts: "{{ mmp_watch_accounts }}"
        interval: 10
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import types

from concurrent.futures import ThreadPoolExecutor


def _import_watch():
    """What the source uses of the collection's module_utils: the watcher's shared parts (``watch``), which find each
    venue's watcher (``<venue>.watch``) when an account uses it. When the collections path is not on sys.path
    (ansible-rulebook does not add it), the copy this file was installed in."""
    try:
        from ansible_collections.marketops.mmp.plugins.module_utils import watch as core
    except ImportError:
        here = os.path.dirname(os.path.abspath(__file__))
        parts = here.split(os.sep)
        if parts[-7:] != ['ansible_collections', 'marketops', 'mmp', 'extensions', 'eda', 'plugins', 'event_source']:
            raise
        sys.path.append(os.sep.join(parts[:-7]) or os.sep)
        from ansible_collections.marketops.mmp.plugins.module_utils import watch as core
    return types.SimpleNamespace(EVENT_KEY=core.EVENT_KEY, make_event=core.make_event, POLL=core.POLL,
                                 PROBE=core.PROBE, WAIT=core.WAIT, validate_watch_args=core.validate_source_args,
                                 Watcher=core.SourceWatcher)


LOG = logging.getLogger('marketops.mmp.mmp_watch')
MAX_WORKERS = 8
DEFAULT_VENUE = 'binance'  # an account without ``venue``


async def _report(queue, reports, watch):
    """Say once, in the log and as an ``info`` event, that a venue's interval was stretched (or restored)."""
    for report in reports:
        await _report_one(queue, report, watch)


async def _report_one(queue, report, watch):
    if report['stretched']:
        LOG.warning('mmp_watch: %d underlyings to read per poll would use more than weight_budget %d per minute at '
                    'interval %ss: polling every %ss instead (%s weight per minute)', report['reads_per_poll'],
                    report['weight_budget'], report['requested_interval'], report['interval'],
                    report['weight_per_minute'])
    else:
        LOG.warning('mmp_watch: polling every %ss again', report['interval'])
    reason = 'interval_stretched' if report['stretched'] else 'interval_restored'
    await queue.put({watch.EVENT_KEY: watch.make_event('info', None, None, reason=reason, **report)})


async def _announce(queue, watcher, watch):
    """What the watcher decided about a stop (a ban, a 429 given up on): logged, and put on the queue as ``info``."""
    for message, event in watcher.take_notices():
        LOG.warning('mmp_watch: %s', message)
        if event is not None:
            await queue.put({watch.EVENT_KEY: event})


async def _until_allowed(queue, watcher, account, executor, watch):
    """Wait until ``account`` may poll, as watch.StopGate decides: not while a recorded stop holds; after it, one probe
    request (by whichever account asks first), then each account at its turn."""
    loop = asyncio.get_running_loop()
    while True:
        step, seconds = await loop.run_in_executor(executor, watcher.before_poll, account)
        await _announce(queue, watcher, watch)
        if step == watch.POLL:
            return
        if step == watch.PROBE:
            await loop.run_in_executor(executor, watcher.probe, account)
            await _announce(queue, watcher, watch)
        else:
            await asyncio.sleep(seconds)


async def _watch_account(queue, watcher, account, offset, executor, watch):
    loop = asyncio.get_running_loop()
    next_at = loop.time() + offset
    while True:
        delay = next_at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await _until_allowed(queue, watcher, account, executor, watch)
        started = loop.time()
        try:
            events = await loop.run_in_executor(executor, watcher.poll, account)
        except Exception as exc:  # pylint: disable=broad-except
            # a defect must not stop the other accounts; the message could hold anything: only its type
            LOG.error('mmp_watch: polling %s failed unexpectedly (%s); trying again at the next interval',
                      account.name, type(exc).__name__)
            events = []
        await _announce(queue, watcher, watch)
        for note in watcher.recoveries(account):
            LOG.warning('mmp_watch: %s: %s', account.name, note)
        unpaced = watcher.unpaced_warning(account)
        if unpaced:
            LOG.warning('mmp_watch: %s', unpaced)
        for event in events:
            if event['type'] in ('error', 'recovered'):
                LOG.warning('mmp_watch: %s %s%s: %s', event['type'], event['account'],
                            '/%s' % event['underlying'] if event['underlying'] else '',
                            event.get('error', {}).get('message', 'can be read again'))
            else:
                LOG.info('mmp_watch: %s %s/%s', event['type'], event['account'], event['underlying'])
            await queue.put({watch.EVENT_KEY: event})
        interval, reports = watcher.interval_now(account)
        await _report(queue, reports, watch)
        next_at = max(started + interval, loop.time())


async def main(queue, args):
    """Watch MMP of every account until cancelled; bad arguments fail at once, before any request."""
    watch = _import_watch()
    settings = watch.validate_watch_args(args, default_venue=DEFAULT_VENUE)
    # urllib3 logs every request line, signature included, at DEBUG (ansible-rulebook -vv).
    logging.getLogger('urllib3').setLevel(logging.INFO)
    for warning in settings['warnings']:
        LOG.warning('mmp_watch: %s', warning)
    watcher = watch.Watcher(settings)
    dummy, reports = watcher.interval_now()
    await _report(queue, reports, watch)
    LOG.info('mmp_watch: watching %s', watcher.describe())
    executor = ThreadPoolExecutor(max_workers=min(len(watcher.accounts), MAX_WORKERS),
                                  thread_name_prefix='mmp_watch')
    try:
        # A venue's accounts start spread over its first interval, so that the weight spreads over the minute too.
        await asyncio.gather(*(_watch_account(queue, watcher, account, watcher.start_offset(account), executor, watch)
                               for account in watcher.accounts))
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


if __name__ == '__main__':
    # Run directly: python mmp_watch.py accounts.json prints the events (the JSON holds the arguments).
    import json

    class _PrintQueue:
        async def put(self, event):
            print(json.dumps(event), flush=True)

    with open(sys.argv[1]) as f:
        _args = json.load(f)
    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(_PrintQueue(), _args))
