# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet benchmark: apply_mmp over N accounts x M underlyings against the emulator, both execution paths.

    python3 tests/dev.py bench [--accounts 100] [--underlyings 4] [--forks 10]

Measures, for the controller fast path (action plugin) and the module path: a cold run (every config
drifts), a warm run (all in sync) and a check run; wall time, task items per second, MMP requests per
underlying, writes and exchangeInfo reads (the published limit: at most one per controller and hour), from the
emulator's journal, and the peak RSS of the controller (the
ansible-playbook process, and its whole process tree, sampled from /proc). Then the pacing runs: the
emulator's weight limit at 60 per minute (published in exchangeInfo, weight_limit unset), cold runs of 20 accounts x 3 underlyings (forks 20, 120 requests)
and 40 x 1 (80 requests), weight_reserve 0 and the default, both paths, counting 429 and 418 answers and
the emulator's minute windows the requests fell in (``--pacing-only``, ``--pacing-repeat N``).

Numbers, not assertions: the targets are read off the table, never asserted by timed tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'emulator'))

from control import EmulatorProcess, control, journal, summarize  # noqa: E402 pylint: disable=wrong-import-position

PAGE = os.sysconf('SC_PAGE_SIZE') if hasattr(os, 'sysconf') else 4096


def tree_rss(pid):
    """(RSS of pid, RSS of pid and all its descendants) in bytes, from /proc; (0, 0) where unreadable."""
    def rss(p):
        try:
            with open('/proc/%d/statm' % p) as f:
                return int(f.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            return 0

    def children(p):
        out = []
        try:
            for task in os.listdir('/proc/%d/task' % p):
                with open('/proc/%d/task/%s/children' % (p, task)) as f:
                    out += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            pass
        return out

    own, total, todo, seen = rss(pid), 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        total += rss(p)
        todo += children(p)
    return own, total


def run_measured(cmd, env, cwd):
    """Run a command; return (returncode, wall seconds, peak own RSS, peak tree RSS, output)."""
    out = tempfile.TemporaryFile(mode='w+')
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    peak_own = peak_tree = 0
    while proc.poll() is None:
        own, tree = tree_rss(proc.pid)
        peak_own, peak_tree = max(peak_own, own), max(peak_tree, tree)
        time.sleep(0.05)
    wall = time.monotonic() - started
    out.seek(0)
    return proc.returncode, wall, peak_own, peak_tree, out.read()


def underlyings(count):
    base = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT', 'DOGEUSDT']
    return (base + ['U%03dUSDT' % i for i in range(count)])[:count]


def write_fleet(workdir, accounts, unders, weight_limit):
    """The emulator's accounts file and an inventory of ``accounts`` hosts, one per account."""
    hosts, accts = {}, []
    for i in range(accounts):
        name = 'acct-%04d' % i
        key, secret = 'bench%04d%s' % (i, secrets.token_hex(16)), secrets.token_hex(24)
        accts.append(dict(name=name, api_key=key, secret=secret))
        hosts[name] = dict(binance_api_key=key, binance_api_secret=secret,
                           binance_mmp_configs=[dict(underlying=u, qty_limit=str(1 + n), delta_limit='%d.5' % (n + 1))
                                                for n, u in enumerate(unders)])
    accounts_file = os.path.join(workdir, 'accounts.json')
    with open(accounts_file, 'w') as f:
        json.dump({'accounts': accts, 'underlyings': unders}, f)
    group_vars = dict(ansible_connection='local', ansible_python_interpreter=sys.executable,
                      binance_mmp_defaults=dict(window_ms=3000, frozen_ms=300000))
    if weight_limit is not None:  # None: the limit the emulator publishes in exchangeInfo
        group_vars['binance_weight_limit'] = weight_limit
    inventory = os.path.join(workdir, 'inventory-%d.json' % accounts)
    with open(inventory, 'w') as f:
        json.dump({'binance_accounts': {'hosts': hosts, 'vars': group_vars}}, f)
    return accounts_file, inventory


def playbook(inventory, url, forks, fast, extra=()):
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', inventory,
           'marketops.mmp.apply_mmp', '-f', str(forks), '-e', 'binance_base_url=%s' % url,
           '-e', 'marketops_mmp_fast_path=%s' % ('true' if fast else 'false')] + list(extra)
    return cmd


def bench_paths(args, env, workdir):
    unders = underlyings(args.underlyings)
    accounts_file, inventory = write_fleet(workdir, args.accounts, unders, weight_limit=1000000)
    items = args.accounts * len(unders)
    rows = []
    with EmulatorProcess(accounts_file, extra_args=['--weight-limit', '1000000', '--limit-format', 'padded']) as emu:
        for path in args.paths:
            control(emu.url, 'POST', 'reset')
            for run, extra in (('cold', ()), ('warm', ()), ('check', ('--check',))):
                control(emu.url, 'DELETE', 'journal')
                rc, wall, own, tree, output = run_measured(playbook(inventory, emu.url, args.forks, path == 'fast', extra),
                                                           env, workdir)
                counts = summarize(journal(emu.url))
                if rc != 0:
                    print(output[-3000:])
                    sys.exit('the %s %s run failed (exit %d)' % (path, run, rc))
                rows.append(dict(path=path, run=run, items=items, wall=wall, rate=items / wall,
                                 per_underlying=(counts['mmp_reads'] + counts['mmp_writes']) / items,
                                 writes=counts['mmp_writes'], exchange_info=counts['exchange_info'],
                                 http_429=counts['http_429'], own_mb=own / 2 ** 20,
                                 tree_mb=tree / 2 ** 20))
                print('  %-6s %-5s %6.1f s' % (path, run, wall), flush=True)
    return rows


def windows_of(entries, clock_offset_ms=0):
    """The emulator's minute windows the journal's requests fell in: {minute: requests}, by the emulator's clock."""
    out = {}
    for entry in entries:
        minute = int((entry['time'] + clock_offset_ms / 1000.0) // 60)
        out[minute] = out.get(minute, 0) + 1
    return out


def pacing_case(env, workdir, name, accounts, unders, forks, path, reserve, clock_offset_ms=0):
    """One cold run against its own emulator (own port: own weight budget, own pacing ledger), limit 60 as the
    emulator publishes it (weight_limit unset)."""
    casedir = os.path.join(workdir, name)
    os.makedirs(casedir)
    accounts_file, inventory = write_fleet(casedir, accounts, underlyings(unders), weight_limit=None)
    extra = ['-e', 'binance_weight_reserve=%d' % reserve] if reserve is not None else []
    with EmulatorProcess(accounts_file, extra_args=['--weight-limit', '60',
                                                    '--clock-offset-ms', str(clock_offset_ms)]) as emu:
        started = time.time()
        rc, wall, dummy, dummy, output = run_measured(playbook(inventory, emu.url, forks, path == 'fast', extra),
                                                      env, casedir)
        entries = journal(emu.url)
    counts = summarize(entries)
    windows = windows_of(entries, clock_offset_ms)
    return dict(name=name, shape='%dx%d%s' % (accounts, unders, ' (clock +%.1f s)' % (clock_offset_ms / 1000.0)
                                              if clock_offset_ms else ''), forks=forks, path=path,
                reserve='default' if reserve is None else reserve, rc=rc, wall=wall,
                start_second=(started + clock_offset_ms / 1000.0) % 60, windows=len(windows),
                per_window=[windows[m] for m in sorted(windows)], output=output if rc else '', **counts)


def run_concurrently(cases, env, workdir, batch):
    """Run the cases ``batch`` at a time (each against its own emulator, so their budgets do not mix)."""
    import threading
    results, lock = [], threading.Lock()

    def one(case):
        result = pacing_case(env, workdir, **case)
        with lock:
            results.append(result)
            print('  pacing %(shape)s forks %(forks)d %(path)-6s reserve %(reserve)-7s: %(requests)d requests, '
                  '%(http_429)d x 429, %(windows)d windows %(per_window)s, exit %(rc)d, %(wall).0f s' % result,
                  flush=True)
    for i in range(0, len(cases), batch):
        threads = [threading.Thread(target=one, args=(case,)) for case in cases[i:i + batch]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    order = {case['name']: n for n, case in enumerate(cases)}
    return sorted(results, key=lambda r: order[r['name']])


def bench_pacing(args, env, workdir):
    """The emulator's limit at 60 weight per minute, cold runs: 20 accounts x 3 underlyings with forks 20
    (120 requests) and 40 x 1 with the benchmark's forks (80 requests), weight_reserve 0 and the default;
    20 x 3 with the exchange's clock 17.3 s ahead; then ``--pacing-repeat`` more rounds of the 20 x 3, reserve 0
    runs. Four runs at a time."""
    cases = []
    for accounts, unders, forks in ((20, 3, 20), (40, 1, args.forks)):
        for reserve in (0, None):
            for path in args.paths:
                cases.append(dict(name='%dx%d-f%d-%s-r%s' % (accounts, unders, forks, path, reserve),
                                  accounts=accounts, unders=unders, forks=forks, path=path, reserve=reserve))
    for path in args.paths:  # the exchange's clock 17.3 s ahead of ours: pacing by its Date, not by ours
        cases.append(dict(name='20x3-f20-%s-r0-offset' % path, accounts=20, unders=3, forks=20, path=path, reserve=0,
                          clock_offset_ms=17300))
    for n in range(args.pacing_repeat):
        for path in args.paths:
            cases.append(dict(name='repeat%d-%s' % (n, path), accounts=20, unders=3, forks=20, path=path, reserve=0))
    results = run_concurrently(cases, env, workdir, batch=4)
    for r in results:
        if r['rc']:
            print(r['output'][-3000:])
    return results


def machine():
    try:
        with open('/proc/cpuinfo') as f:
            model = [line.split(':', 1)[1].strip() for line in f if line.startswith('model name')][0]
    except (OSError, IndexError):
        model = platform.processor() or platform.machine()
    try:
        import ansible
        core = ansible.__version__
    except ImportError:
        core = '?'
    return '%d cores (%s), Python %s, ansible-core %s, %s' % (
        os.cpu_count(), model, platform.python_version(), core, platform.system())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--accounts', type=int, default=100)
    parser.add_argument('--underlyings', type=int, default=4)
    parser.add_argument('--forks', type=int, default=10)
    parser.add_argument('--paths', nargs='+', choices=['fast', 'module'], default=['fast', 'module'])
    parser.add_argument('--no-pacing', action='store_true', help='skip the pacing runs (they take 6 to 9 minutes)')
    parser.add_argument('--pacing-only', action='store_true', help='only the pacing runs')
    parser.add_argument('--pacing-repeat', type=int, default=0, metavar='N',
                        help='N more rounds of the 20 x 3, forks 20, weight_reserve 0 runs (both paths at once)')
    args = parser.parse_args(argv)
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_HOST_KEY_CHECKING='0', ANSIBLE_RETRY_FILES_ENABLED='0')
    with tempfile.TemporaryDirectory(prefix='marketops-bench-') as workdir:
        print('fleet benchmark: %d accounts x %d underlyings, forks %d' % (args.accounts, args.underlyings, args.forks))
        rows = [] if args.pacing_only else bench_paths(args, env, workdir)
        pacing = [] if args.no_pacing else bench_pacing(args, env, workdir)

    print('\n| path | run | items | wall (s) | items/s | MMP requests per underlying | writes | exchangeInfo | 429 | '
          'peak RSS ansible-playbook (MB) | peak RSS process tree (MB) |')
    print('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    for r in rows:
        print('| %(path)s | %(run)s | %(items)d | %(wall).1f | %(rate).1f | %(per_underlying).2f | %(writes)d | '
              '%(exchange_info)d | %(http_429)d | %(own_mb).0f | %(tree_mb).0f |' % r)
    by = {(r['path'], r['run']): r for r in rows}
    for run in ('cold', 'warm', 'check'):
        if ('fast', run) in by and ('module', run) in by:
            print('\nfast path vs module path, %s run: %.1f x faster' % (run, by['module', run]['wall'] / by['fast', run]['wall']))
    if pacing:
        print('\npacing, cold runs, emulator limit 60 weight/minute per IP (windows: the emulator\'s minutes used)\n')
        print('| shape | forks | path | weight_reserve | requests | 429 | 418 | windows (requests in each) | '
              'start (s into the minute) | wall (s) | exit |')
        print('|---|---:|---|---|---:|---:|---:|---|---:|---:|---:|')
        for p in pacing:
            print('| %(shape)s | %(forks)d | %(path)s | %(reserve)s | %(requests)d | %(http_429)d | %(http_418)d | '
                  '%(windows)d %(per_window)s | %(start_second).0f | %(wall).0f | %(rc)d |' % p)
    print('\nmachine: %s' % machine())
    return 0


if __name__ == '__main__':
    sys.exit(main())
