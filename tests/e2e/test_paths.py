# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module path and the controller fast path return the same results."""

from __future__ import annotations

from ansible_collections.marketops.mmp.tests.e2e.conftest import config, host_vars

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
    # The check run with ansible-core's defaults (2.21 stopped adding "invocation" to module results unless
    # INJECT_INVOCATION is set, and the fast path follows); the others with it set, so that the masking of the
    # no_log options in "invocation" is compared on every ansible-core.
    inject = dict(ANSIBLE_INJECT_INVOCATION='true')
    for path in ('module', 'fast'):
        emulator.reset()
        check = run_playbook(hosts, '--check', '--diff', path=path)
        apply = run_playbook(hosts, '--diff', path=path, env_extra=inject)
        again = run_playbook(hosts, '--diff', path=path, env_extra=inject)
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


OPERATE_TASKS = [
    {'name': 'Info', 'marketops.mmp.binance_mmp_info': {'underlyings': ['BTCUSDT', 'ETHUSDT', 'SOLUSDT']}},
    {'name': 'Info bad', 'marketops.mmp.binance_mmp_info': {'underlyings': ['BTC/USDT']}, 'ignore_errors': True},
    {'name': 'Reset', 'marketops.mmp.binance_mmp_reset': {'underlying': 'BTCUSDT'}},
    {'name': 'Reset again', 'marketops.mmp.binance_mmp_reset': {'underlying': 'BTCUSDT'}},
    {'name': 'Reset unknown', 'marketops.mmp.binance_mmp_reset': {'underlying': 'FOOUSDT'}, 'ignore_errors': True},
    {'name': 'Kill-switch', 'marketops.mmp.binance_kill_switch': {'underlying': 'ETHUSDT', 'countdown_ms': 30000}},
    {'name': 'Kill-switch again',
     'marketops.mmp.binance_kill_switch': {'underlying': 'ETHUSDT', 'countdown_ms': 30000}},
    {'name': 'Kill-switch bad', 'marketops.mmp.binance_kill_switch': {'underlying': 'ETHUSDT', 'countdown_ms': 10},
     'ignore_errors': True},
]


def test_new_modules_return_identical_results_on_both_paths(emulator, accounts, run_playbook, tmp_path):
    """binance_mmp_info, binance_mmp_reset and binance_kill_switch through a real playbook, module vs fast path."""
    from ansible_collections.marketops.mmp.tests.e2e.test_operate import write_playbook
    playbook = write_playbook(tmp_path, OPERATE_TASKS)
    hosts = {'hmac-a': host_vars(accounts['hmac-a'], emulator.url, [])}
    api_key = accounts['hmac-a']['api_key']
    runs = {}
    for path in ('module', 'fast'):
        emulator.reset()
        emulator.set_state(dict(api_key=api_key, underlying='BTCUSDT', window_ms=3000, frozen_ms=0, qty_limit='2',
                                delta_limit='2.3', last_trigger_time=1700000000000))
        emulator.set_state(dict(api_key=api_key, underlying='SOLUSDT', window_ms=3000, frozen_ms=60000,
                                qty_limit='2', delta_limit='2.3', last_trigger_time=1700000000000))
        run = run_playbook(hosts, '--diff', path=path, playbook=playbook)
        out = {}
        for record in run.results:
            result = dict(record['result'])
            result.pop('used_weight', None)
            result['warnings'] = [w if isinstance(w, str) else w.get('event', {}).get('msg')
                                  for w in result.get('warnings', [])]
            out[record['task']] = (record['status'], result)
        runs[path] = (out, [line for line in run.output.splitlines() if '[WARNING]' in line])
    assert runs['module'][0].keys() == runs['fast'][0].keys() == {t['name'] for t in OPERATE_TASKS}
    for task in runs['module'][0]:
        assert runs['module'][0][task] == runs['fast'][0][task], task
    assert runs['module'][1] == runs['fast'][1] and runs['module'][1]
    out = runs['module'][0]
    assert out['Reset'][1]['changed'] is True and out['Reset again'][1]['changed'] is False
    assert out['Kill-switch'][1]['changed'] is True and out['Kill-switch again'][1]['changed'] is False
    assert [m['frozen'] for m in out['Info'][1]['mmp']] == [True, False, False]
    for task in ('Info bad', 'Reset unknown', 'Kill-switch bad'):
        assert out[task][0] == 'failed' and out[task][1]['msg'].startswith('account hmac-a: '), out[task]
