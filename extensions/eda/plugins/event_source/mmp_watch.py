# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""mmp_watch: an ansible-rulebook event source that tells, within seconds, that MMP triggered or thawed.

Its documentation is DOCUMENTATION and EXAMPLES below (what Galaxy and Automation Hub show; meta/extensions.yml lists
the source); the Event-Driven Ansible guide (docs/docsite/rst/eda_guide.rst) explains it at length.
"""

from __future__ import annotations

DOCUMENTATION = r'''
---
short_description: Tell within seconds that MMP triggered or thawed, on Binance options and Deribit accounts
description:
  - An ansible-rulebook event source that polls Binance's options MMP config (the MMP read of the options API, one request per
    underlying) for every account and underlying with the collection's client (signing, retries, pacing, redaction),
    and puts one event per change on the queue, under the key C(mmp_watch).
  - Deribit accounts (O(accounts[].venue=deribit)) are watched with two C(private/get_mmp_status) per account and poll,
    which list every triggered config of the account (one without parameters, one with C(block_rfq=true), as Deribit
    documents block_rfq's default as false, so that a listing without it may leave the Block RFQ configs out);
    V(triggered) when a config is newly frozen or its C(frozen_until) changed (C(initial=true) at start-up), with its
    config read once; V(thawed) with C(reason) V(expired) or V(reset). Their events also have C(index_name),
    C(mmp_group) and C(block_rfq); C(underlying) is the index name and C(last_trigger_time) when the trigger was first
    seen (Deribit's status gives no trigger time).
    Deribit counts requests per account, so a C(too_many_requests) the client gave up on holds that account only
    (then one probe, C(public/get_time)); a Binance ban holds the Binance accounts only.
  - V(triggered) when an underlying's C(lastTriggerTime) moves forward, and at start-up for every underlying already
    frozen (C(initial=true)), so a restarted source misses nothing. A trigger whose freeze already ended when it was
    seen gives V(triggered) then V(thawed).
  - V(thawed) when a frozen underlying is no longer frozen; C(reason) is V(expired) (its frozen time passed, by the
    exchange's clock), V(reset) (C(lastTriggerTime) went back, a manual reset) or V(frozen_ms_changed).
  - V(error) when an account or an underlying cannot be read (bad key or signature, IP not whitelisted, exchange down,
    banned), once when the state changes, then at most every O(error_interval) seconds; the other accounts keep being
    watched. C(scope) says V(account) or V(underlying); C(error) holds C(kind), C(code), C(http_status), the client's
    (redacted) C(message), C(failures) and C(failing_for) (seconds). V(recovered) once when it can be read again.
  - An account whose credentials the exchange refused (a wrong, revoked or malformed key, a signature that does not
    match, an IP not whitelisted, a permission or scope the key lacks) is polled every O(error_interval) seconds (at
    least O(interval)) until a poll reads it again, instead of every O(interval); each such poll reports V(error). The
    other accounts keep their interval.
  - V(info) once when the interval is stretched to keep within O(weight_budget) (C(reason=interval_stretched), with
    C(interval), C(reads_per_poll), C(weight_per_minute)); once per stop, a ban or a 429 the client gave up on
    (C(reason=exchange_stop), with C(until) in ms, C(seconds) and C(status) 418 or 429), and once when polling resumes
    after it (C(reason=exchange_resumed), with C(probe) V(answered) or V(failed)). All are also logged as warnings.
  - Every event has C(venue) (V(binance) or V(deribit)), C(account) (the name given, never the key), C(underlying), C(initial), C(last_trigger_time),
    C(frozen), C(frozen_ms), C(frozen_until) (ms; null when not frozen or frozen until a manual reset; for V(thawed),
    when the freeze was due to end), C(config) (normalised as M(marketops.mmp.binance_mmp) returns it) and
    C(observed_at) (the exchange's clock, ms). Never a secret.
  - A ban (HTTP 418) or a 429 the client gave up on is recorded in the controller's pacing ledger. Before every poll of
    every account the source reads that record; while it holds (whoever recorded it, this source, a playbook or another
    source) no account polls, and the ledger is read again at least every minute. When it ends, one request
    (the exchange's time, unsigned, weight 1) probes the exchange. A probe banned (or rate-limited) again waits for
    that new stop; otherwise the accounts resume, spread over the interval (account i of n at interval x i / n), never
    all at once; after a probe that failed otherwise, a timeout or a 5xx, their polls report what fails.
  - Each poll reads one underlying per request (weight 1), so the source uses accounts x underlyings x 60 / interval
    weight per minute (plus one read of the exchange information an hour for accounts without O(accounts[].underlyings)).
    When that would exceed O(weight_budget), the interval is stretched to accounts x underlyings x 60 / weight_budget
    seconds. The accounts are polled spread over the interval, not in bursts; the client's pacing stays on as a second
    guard, and a 429 is only retried after its C(Retry-After).
  - Thaws are derived as the API implies (frozen is triggered and C(frozen_ms) 0, or the exchange's clock, learnt
    from its C(Date) header, before C(lastTriggerTime + frozen_ms)).
  - Bad arguments stop the source at start-up, before any request, with a message naming the argument (never a secret
    value).
options:
  accounts:
    description:
      - The accounts to watch, 1 to 1000.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The account's name, as events report it; each account needs its own. Use the inventory hostname for the
            C(marketops.mmp.mmp_oncall) rulebook to audit that host.
        type: str
        required: true
      venue:
        description:
          - The account's venue.
        type: str
        choices: [binance, deribit]
        default: binance
      api_key:
        description:
          - A Binance account's API key; printable ASCII without whitespace, as Binance issues them. Required for a
            Binance account.
        type: str
      api_secret:
        description:
          - The secret of an HMAC key. Exactly one of O(accounts[].api_secret) and O(accounts[].private_key).
        type: str
      private_key:
        description:
          - An Ed25519 or RSA private key, PEM text or a path on the host running ansible-rulebook; the type is
            detected.
        type: str
      private_key_passphrase:
        description:
          - The passphrase of an encrypted O(accounts[].private_key); only with O(accounts[].private_key).
        type: str
      client_id:
        description:
          - A Deribit account's Client ID. Required for a Deribit account.
        type: str
      client_secret:
        description:
          - A Deribit account's Client Secret; it signs every request and is never sent. Required for a Deribit
            account.
        type: str
      underlyings:
        description:
          - Binance only. The underlyings to watch, such as V(BTCUSDT); letters and digits, any case (upper-cased).
          - Omitted, every underlying the exchange lists in its exchange information (read once, refreshed
            hourly).
        type: list
        elements: str
  base_url:
    description:
      - Binance's options API, for the Binance accounts.
      - Default the E(BINANCE_EAPI_URL) environment variable, else V(https://eapi.binance.com).
      - Checked as the modules check it, plain C(http) only to a loopback address, no user name or password, query
        or fragment.
    type: str
  deribit_base_url:
    description:
      - Deribit's API, for the Deribit accounts.
      - Default the E(DERIBIT_URL) environment variable, else V(https://www.deribit.com) (the testnet is
        V(https://test.deribit.com)). Checked as O(base_url) is.
    type: str
  interval:
    description:
      - Seconds between two polls of an account, at least 1 (at most 86400); stretched to keep within
        O(weight_budget).
      - Detection costs about one interval plus one round trip.
    type: float
    default: 10
  weight_budget:
    description:
      - The request weight per minute the source may use, 1 to 2400 (Binance allows 2400 per IP, shared with
        everything else behind it).
    type: int
    default: 600
  error_interval:
    description:
      - Seconds between two V(error) events of the same failure (1 to 86400).
      - Also the pace of an account whose credentials the exchange refused (Binance codes -1022, -2014, -2015 or HTTP
        401; Deribit's authentication and permission codes, such as 13004, 13009 and 13021). Its next poll is
        O(error_interval) seconds after that poll ended, or O(interval) when that is longer, and so on until a poll
        reads it again (V(recovered)); then every O(interval) again. Each of those polls reports V(error). The change
        of pace, both ways, is logged as a warning. The other accounts keep their interval.
      - Both O(interval) and O(error_interval) are at least 1; an O(error_interval) at or below O(interval) leaves the
        refused account at O(interval) (it still reports every poll's V(error) then).
    type: float
    default: 300
  validate_certs:
    description:
      - Whether to verify the exchange's TLS certificate. V(false) turns every certificate check off, with a warning.
    type: bool
    default: true
  ca_path:
    description:
      - A CA bundle (PEM) on the host running ansible-rulebook that verifies the exchange's certificate; wins over
        E(REQUESTS_CA_BUNDLE).
    type: path
  recv_window:
    description:
      - Milliseconds a signed request stays valid, 1 to 59999.
    type: int
    default: 5000
  timeout:
    description:
      - Seconds each HTTP attempt may take as a whole (connect, send, the whole answer read), in (0, 300], as for the
        modules. A read cut off is sent again (at most 4 attempts, 3.5 s of backoff in all), then the poll reports an
        C(error) event, so a poll waits at most 4 x O(timeout) + 3.5 s for one read.
    type: float
    default: 10
notes:
  - It polls (the MMP endpoints push nothing). Binance does not document whether C(mmpReset) clears
    C(lastTriggerTime); if it does not, a reset of an underlying frozen until a reset (C(frozen_ms=0)) is not seen as a
    thaw until its config changes.
  - Arguments whose names start with C(eda_), which ansible-rulebook and the EDA controller may add, are ignored.
  - It needs the collection's Python requirements (C(requests); C(cryptography) for Ed25519 or RSA keys) where
    ansible-rulebook runs.
  - An argument only one venue reads (O(weight_budget), O(recv_window)) is ignored, with a warning, when no account of
    that venue is watched.
seealso:
  - module: marketops.mmp.binance_mmp_info
  - module: marketops.mmp.binance_mmp_reset
  - module: marketops.mmp.deribit_mmp_info
  - module: marketops.mmp.deribit_mmp_reset
'''

EXAMPLES = r'''
# In a rulebook: watch two accounts every 10 s (accounts from a vars file whose secrets are vault-encrypted).
- name: Watch MMP
  hosts: all
  sources:
    - marketops.mmp.mmp_watch:
        accounts: "{{ mmp_watch_accounts }}"
        interval: 10
  rules:
    - name: Record an incident when MMP triggers
      condition: event.mmp_watch.type == "triggered"
      action:
        run_playbook:
          name: marketops.mmp.record_mmp_incident

# The source's arguments in full, with one HMAC and one Ed25519 Binance account and one Deribit account.
- marketops.mmp.mmp_watch:
    accounts:
      - name: acct-alpha
        api_key: "{{ alpha_api_key }}"
        api_secret: "{{ alpha_api_secret }}"
        underlyings: [BTCUSDT, ETHUSDT]
      - name: acct-bravo
        venue: binance
        api_key: "{{ bravo_api_key }}"
        private_key: /etc/marketops/acct-bravo.pem
        private_key_passphrase: "{{ bravo_key_passphrase }}"
      - name: acct-delta
        venue: deribit
        client_id: "{{ delta_client_id }}"
        client_secret: "{{ delta_client_secret }}"
    base_url: https://eapi.binance.com
    deribit_base_url: https://www.deribit.com
    interval: 5
    weight_budget: 600
    error_interval: 300
    validate_certs: true
    ca_path: /etc/pki/corp-proxy-ca.pem
    recv_window: 5000
    timeout: 10
'''

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
        # every interval; every error_interval (at least the interval) while the exchange refuses its credentials
        next_at, pace = watcher.next_poll_at(account, started, loop.time(), interval)
        if pace:
            LOG.warning('mmp_watch: %s', pace)


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
