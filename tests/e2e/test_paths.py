# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module path and the controller fast path return the same results."""

from __future__ import annotations

from ansible_collections.marketops.binance.tests.e2e.conftest import config, host_vars

TASK = 'Apply the MMP config of each underlying'


def comparable(run):
    """Per (host, underlying): everything a user sees of a result, warnings as text."""
    out = {}
    for record in run.results:
        if record['task'] != TASK:
            continue
        result = dict(record['result'])
        warnings = [w if isinstance(w, str) else w.get('event', {}).get('msg') for w in result.pop('warnings', [])]
        keys = ('changed', 'failed', 'config', 'diff', 'msg', 'code', 'http_status', 'option', 'invocation', 'asked',
                'exchange')
        keep = {k: result.get(k) for k in keys}
        # The IP's weight counter at that moment depends on the order of concurrent requests: its type is compared.
        keep['used_weight'] = type(result.get('used_weight')).__name__
        keep['warnings'] = warnings
        keep['status'] = record['status']
        out[(record['host'], result['item']['underlying'])] = keep
    return out


def test_both_paths_return_identical_results(emulator, accounts, run_playbook):
    """The same scenarios through the module and through the fast path: the same results, field by field."""
    hosts = {
        'hmac-a': host_vars(accounts['hmac-a'], emulator.url, [config(), config('ETHUSDT', frozen_ms=0)]),
        'ed25519': host_vars(accounts['ed25519'], emulator.url, [config(window_ms=0), config('SOLUSDT')]),
        'rsa': host_vars(accounts['rsa'], emulator.url, [config('FOOUSDT'), config(qty_limit='1.50')]),
    }
    runs = {}
    for path in ('module', 'fast'):
        emulator.reset()
        check = run_playbook(hosts, '--check', '--diff', path=path)
        apply = run_playbook(hosts, '--diff', path=path)
        again = run_playbook(hosts, '--diff', path=path)
        runs[path] = [comparable(check), comparable(apply), comparable(again)]
        runs[path + '-output'] = apply.output
    for module_run, fast_run in zip(runs['module'], runs['fast']):
        assert module_run.keys() == fast_run.keys()
        for key in module_run:
            assert module_run[key] == fast_run[key], key
    apply = runs['module'][1]
    assert apply[('hmac-a', 'ETHUSDT')]['warnings'] and apply[('hmac-a', 'BTCUSDT')]['changed'] is True
    assert apply[('ed25519', 'BTCUSDT')]['status'] == 'failed' and apply[('rsa', 'FOOUSDT')]['code'] == -1128
    assert apply[('hmac-a', 'BTCUSDT')]['invocation']['module_args']['api_secret'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'
    assert all(not r['changed'] for r in runs['fast'][2].values() if r['status'] == 'ok')
    warning_lines = [[line for line in runs[p + '-output'].splitlines() if '[WARNING]' in line] for p in ('module', 'fast')]
    assert warning_lines[0] == warning_lines[1] and warning_lines[0]
