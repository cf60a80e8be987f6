# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the mmp_watch event source: detection latency and request weight.

    python3 tests/dev.py bench-watch [--accounts 10] [--underlyings 4] [--interval 1] [--duration 65]

For each weight budget (2400, the exchange's whole per-IP limit, and the default 600), it starts the emulator
(a separate process, weight limit 2400 as on the exchange), runs the event source's ``main()`` in this process
with ``accounts`` x ``underlyings``, triggers MMP at random moments on random accounts and underlyings, and
measures the time from each trigger to its ``triggered`` event (median, worst) and the request weight per
minute the emulator counted. Nothing is asserted: the figures go in the README.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import runpy
import secrets
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'emulator'))

from control import EmulatorProcess, control, journal  # noqa: E402  pylint: disable=wrong-import-position

UNDERLYINGS = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT', 'DOGEUSDT']


def plugin_main():
    """The event source as ansible-rulebook loads it: the installed copy when there is one, else the checkout's."""
    for base in os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(os.pathsep) + [None]:
        path = os.path.join(base, 'ansible_collections', 'marketops', 'mmp') if base else ROOT
        path = os.path.join(path, 'extensions', 'eda', 'plugins', 'event_source', 'mmp_watch.py')
        if os.path.isfile(path):
            return runpy.run_path(path)['main']
    sys.exit('mmp_watch.py not found')


class Queue:
    def __init__(self):
        self.events = []

    async def put(self, event):
        self.events.append((time.time(), event['mmp_watch']))


async def scenario(source, url, accounts, interval, budget, duration, triggers, seed):
    rng = random.Random(seed)
    queue = Queue()
    args = dict(base_url=url, interval=interval, weight_budget=budget,
                accounts=[dict(name=a['name'], api_key=a['api_key'], api_secret=a['secret'], underlyings=a['underlyings'])
                          for a in accounts])
    control(url, 'DELETE', 'journal')
    task = asyncio.create_task(source(queue, args))
    await asyncio.sleep(max(3.0, 2 * interval))  # start-up: every account polled once
    started = time.time()
    fired = []
    gap = (duration - 5) / float(triggers)
    # every (account, underlying) at most once per round, so that no trigger overwrites an unseen one
    pairs = [(a, u) for a in accounts for u in a['underlyings']]
    rng.shuffle(pairs)
    for index in range(triggers):
        await asyncio.sleep(rng.uniform(0.5, 1.5) * gap)
        account, underlying = pairs[index % len(pairs)]
        at = time.time()
        now_ms = int(at * 1000)
        await asyncio.get_running_loop().run_in_executor(None, lambda: control(url, 'POST', 'state', dict(
            api_key=account['api_key'], underlying=underlying, window_ms=3000, frozen_ms=200, qty_limit='2',
            delta_limit='2.3', last_trigger_time=now_ms)))
        fired.append((account['name'], underlying, now_ms, at))
    await asyncio.sleep(max(5.0, 3 * interval))
    ended = time.time()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    latencies, missed = [], 0
    for name, underlying, now_ms, at in fired:
        seen = [t for t, e in queue.events if e['type'] == 'triggered' and e['account'] == name
                and e['underlying'] == underlying and e['last_trigger_time'] == now_ms]
        if seen:
            latencies.append(seen[0] - at)
        else:
            missed += 1
    entries = [e for e in journal(url) if e['path'].startswith('/eapi/') and started <= e['time'] < ended]
    stretched = [e for t, e in queue.events if e['type'] == 'info']
    return dict(budget=budget, interval=stretched[-1]['interval'] if stretched else float(interval),
                triggers=len(fired), detected=len(latencies), missed=missed,
                median=statistics.median(latencies) if latencies else None,
                worst=max(latencies) if latencies else None,
                weight_per_minute=round(len(entries) * 60.0 / (ended - started), 1),
                http_429=sum(1 for e in entries if e.get('status') in (429, 418)),
                errors=sum(1 for t, e in queue.events if e['type'] == 'error'))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--accounts', type=int, default=10)
    parser.add_argument('--underlyings', type=int, default=4, choices=range(1, len(UNDERLYINGS) + 1))
    parser.add_argument('--interval', type=float, default=1.0)
    parser.add_argument('--duration', type=float, default=65.0, help='seconds of triggers per budget')
    parser.add_argument('--triggers', type=int, default=40, help='triggers per budget')
    parser.add_argument('--budgets', default='2400,600', help='weight budgets to measure, comma-separated')
    parser.add_argument('--seed', type=int, default=11)
    args = parser.parse_args(argv)
    accounts = [dict(name='bench-%02d' % i, api_key='bench%02d%s' % (i, secrets.token_hex(16)),
                     secret=secrets.token_hex(24), underlyings=UNDERLYINGS[:args.underlyings])
                for i in range(args.accounts)]
    fd, path = tempfile.mkstemp(suffix='.json', prefix='bench-watch-accounts-')
    with os.fdopen(fd, 'w') as f:
        json.dump(dict(underlyings=UNDERLYINGS, accounts=[dict(name=a['name'], api_key=a['api_key'], secret=a['secret'])
                                                          for a in accounts]), f)
    results = []
    source = plugin_main()
    try:
        for budget in [int(b) for b in args.budgets.split(',')]:
            with EmulatorProcess(path, extra_args=['--weight-limit', '2400']) as emulator:
                results.append(asyncio.run(scenario(source, emulator.url, accounts, args.interval, budget, args.duration,
                                                    args.triggers, args.seed)))
    finally:
        os.unlink(path)
    print('\nmmp_watch: %d accounts x %d underlyings, interval %ss, %d triggers per row\n'
          % (args.accounts, args.underlyings, args.interval, args.triggers))
    print('| weight budget | effective interval | detected | latency median | latency worst | weight / minute | 429/418 |')
    print('|---:|---:|---:|---:|---:|---:|---:|')
    for r in results:
        print('| %d | %.2f s | %d/%d | %s | %s | %s | %d |' % (
            r['budget'], r['interval'], r['detected'], r['triggers'],
            '%.2f s' % r['median'] if r['median'] is not None else '-',
            '%.2f s' % r['worst'] if r['worst'] is not None else '-', r['weight_per_minute'], r['http_429']))
    return 0 if all(r['http_429'] == 0 and r['errors'] == 0 for r in results) else 1


if __name__ == '__main__':
    sys.exit(main())
