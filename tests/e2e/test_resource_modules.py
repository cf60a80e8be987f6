# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resource modules (binance_mmp_configs, deribit_mmp_configs) through real ansible-playbook runs against both
emulators, through the module and through the controller fast path: every state, --check --diff, and a hand-configured
account gathered then given back with replaced, which changes nothing and sends no write."""

from __future__ import annotations

import json

import pytest

from ansible_collections.marketops.mmp.tests.e2e.conftest import PATHS, host_vars
from ansible_collections.marketops.mmp.tests.e2e.test_deribit_playbooks import assert_no_secret, calls, deribit_host

pytestmark = pytest.mark.parametrize('path', PATHS)

BINANCE_AUTH = {
    'account': '{{ inventory_hostname }}',
    'api_key': '{{ binance_api_key }}',
    'api_secret': '{{ binance_api_secret | default(omit) }}',
    'private_key': '{{ binance_private_key | default(omit) }}',
    'private_key_passphrase': '{{ binance_private_key_passphrase | default(omit) }}',
    'base_url': '{{ binance_base_url }}',
}
DERIBIT_AUTH = {
    'account': '{{ inventory_hostname }}',
    'client_id': '{{ deribit_client_id }}',
    'client_secret': '{{ deribit_client_secret }}',
    'base_url': '{{ deribit_base_url }}',
}
DERIBIT_WRITES = ('private/set_mmp_config', 'private/reset_mmp')


def playbooks(tmp_path, venue, auth):
    """Three playbooks over every host: ``one`` (a task ``Configs`` of the state ``st`` and the list ``cfg``),
    ``round_trip`` (``Gather``, then ``Replay`` its result with replaced) and ``rendered`` (without credentials)."""
    module = 'marketops.mmp.%s_mmp_configs' % venue
    defaults = {'group/marketops.mmp.%s' % venue: auth}

    def play(tasks, with_defaults=True):
        out = {'name': 'MMP configs', 'hosts': 'all', 'gather_facts': False, 'tasks': tasks}
        if with_defaults:
            out['module_defaults'] = defaults
        return [out]

    books = {
        'one': play([{'name': 'Configs', module: {'state': '{{ st }}', 'config': '{{ cfg | default(omit) }}'}}]),
        'round_trip': play([{'name': 'Gather', module: {'state': 'gathered'}, 'register': 'held'},
                            {'name': 'Replay', module: {'state': 'replaced', 'config': '{{ held.gathered }}'}}]),
        'rendered': play([{'name': 'Render', module: {'state': 'rendered', 'config': '{{ cfg }}'}}],
                         with_defaults=False),
    }
    out = {}
    for name, book in books.items():
        path = tmp_path / ('%s-%s.yml' % (venue, name))
        path.write_text(json.dumps(book))
        out[name] = str(path)
    return out


def extra(state, config=None):
    return ['-e', json.dumps(dict(st=state, cfg=config) if config is not None else dict(st=state))]


def result(run, host, task='Configs'):
    (record,) = run.for_host(host, task)
    return record['result']


def diff_lines(output):
    """The lines of the default callback's diffs: added (+) and removed (-), without the headers."""
    lines = [line.strip() for line in output.splitlines()]
    return [line for line in lines if line[:1] in '+-' and not line.startswith(('+++', '---'))]


BTC = dict(underlying='BTCUSDT', window_ms=3000, frozen_ms=300000, qty_limit='2', delta_limit='2.3')
ETH = dict(underlying='ETHUSDT', window_ms=5000, frozen_ms=60000, qty_limit='10', delta_limit='5', kill_switch_ms=30000)


def test_binance_every_state(emulator, accounts, run_playbook, tmp_path, path):
    emu, account = emulator, accounts['hmac-a']
    books = playbooks(tmp_path, 'binance', BINANCE_AUTH)
    hosts = {'acct': host_vars(account, emu.url, [])}
    # an account configured by hand: BTCUSDT and SOLUSDT, SOLUSDT's kill-switch armed
    emu.set_state(dict(api_key=account['api_key'], underlying='BTCUSDT', window_ms=3000, frozen_ms=300000,
                       qty_limit='2.00000000', delta_limit='2.3'))
    emu.set_state(dict(api_key=account['api_key'], underlying='SOLUSDT', window_ms=1000, frozen_ms=0, qty_limit='0.5',
                       delta_limit='7'))
    emu.set_countdown(dict(api_key=account['api_key'], underlying='SOLUSDT', countdown_ms=60000))

    # gathered, given back with replaced: nothing changes, no write
    trip = run_playbook(hosts, path=path, playbook=books['round_trip'])
    assert trip.rc == 0 and trip.recap()['acct']['changed'] == 0, trip.output
    assert result(trip, 'acct', 'Gather')['gathered'] == [
        BTC, dict(underlying='SOLUSDT', window_ms=1000, frozen_ms=0, qty_limit='0.5', delta_limit='7',
                  kill_switch_ms=60000)]
    assert result(trip, 'acct', 'Replay')['requests'] == [] and emu.writes() == []

    # merged, previewed: the diff shows the change, nothing is written
    check = run_playbook(hosts, '--check', '--diff', *extra('merged', [dict(underlying='btcusdt', qty_limit=3)]),
                         path=path, playbook=books['one'])
    assert check.rc == 0 and check.recap()['acct']['changed'] == 1, check.output
    changes = diff_lines(check.output)
    assert [line for line in changes if line.startswith('-') and '"qty_limit": "2"' in line], check.output
    assert [line for line in changes if line.startswith('+') and '"qty_limit": "3"' in line], check.output
    assert result(check, 'acct')['requests'][0]['params']['qtyLimit'] == '3' and emu.writes() == []

    # merged: only the limit given changes
    merged = run_playbook(hosts, *extra('merged', [dict(underlying='btcusdt', qty_limit=3)]), path=path,
                          playbook=books['one'])
    assert merged.rc == 0 and merged.recap()['acct']['changed'] == 1, merged.output
    btc = emu.state()['mmp']['hmac-a']['BTCUSDT']
    assert btc['qtyLimit'] in ('3', '3.00000000') and btc['windowTimeInMilliseconds'] == 3000
    assert [(w['path'], w['params']['underlying']) for w in emu.writes()] == [('/eapi/v1/mmpSet', 'BTCUSDT')]

    # replaced: a new underlying with its kill-switch; then in sync: one read per underlying (and kill-switch)
    replaced = run_playbook(hosts, '--diff', *extra('replaced', [BTC, ETH]), path=path, playbook=books['one'])
    assert replaced.rc == 0 and replaced.recap()['acct']['changed'] == 1, replaced.output
    assert emu.state()['countdown'] == {'hmac-a/ETHUSDT': 30000, 'hmac-a/SOLUSDT': 60000}
    done = result(replaced, 'acct')
    assert [(r['path'], r['params']['underlying']) for r in done['requests']] == [
        ('/eapi/v1/mmpSet', 'BTCUSDT'), ('/eapi/v1/mmpSet', 'ETHUSDT'), ('/eapi/v1/countdownCancelAll', 'ETHUSDT')]
    assert done['after'] == [BTC, ETH] and len(emu.writes()) == 4
    start = len(emu.journal)
    again = run_playbook(hosts, *extra('replaced', [BTC, ETH]), path=path, playbook=books['one'])
    assert again.rc == 0 and again.recap()['acct']['changed'] == 0
    assert sorted(j['path'] for j in emu.journal[start:] if j['path'].startswith('/eapi/v1/mmp')
                  or j['path'] == '/eapi/v1/countdownCancelAll') == [
        '/eapi/v1/countdownCancelAll', '/eapi/v1/mmp', '/eapi/v1/mmp']

    # overridden would have to remove SOLUSDT: fails before any write, naming it
    over = run_playbook(hosts, *extra('overridden', [BTC, ETH]), path=path, playbook=books['one'])
    assert over.rc != 0 and len(emu.writes()) == 4
    assert 'SOLUSDT' in result(over, 'acct')['msg'] and 'Binance has no call that removes an MMP config' in \
        result(over, 'acct')['msg']

    # deleted: refused before any request
    start = len(emu.journal)
    deleted = run_playbook(hosts, *extra('deleted', []), path=path, playbook=books['one'])
    assert deleted.rc != 0 and emu.journal[start:] == []
    assert result(deleted, 'acct')['msg'].startswith('account acct: state: deleted is not possible on Binance')

    # rendered: no credentials, no request
    bare = {'acct': dict(ansible_connection='local', ansible_python_interpreter=hosts['acct']['ansible_python_interpreter'])}
    rendered = run_playbook(bare, *extra('rendered', [ETH]), path=path, playbook=books['rendered'])
    assert rendered.rc == 0 and emu.journal[start:] == [], rendered.output
    assert result(rendered, 'acct', 'Render')['rendered'][1] == dict(
        method='POST', path='/eapi/v1/countdownCancelAll', params=dict(underlying='ETHUSDT', countdownTime=30000))
    for text in (trip.output, check.output, replaced.output, rendered.output):
        assert account['secret'] not in text


D_BTC = dict(index_name='btc_usd', block_rfq=False, window_s=10, frozen_s=30, qty_limit='2.5', delta_limit='1',
             vega_limit='1000')
D_ETH_Q1 = dict(index_name='eth_usd', mmp_group='q1', block_rfq=False, window_s=5, frozen_s=0, qty_limit='400',
                max_quote_qty='100')
D_RFQ = dict(index_name='all', block_rfq=True, window_s=60, frozen_s=60, qty_limit='1000', trade_count_limit=10)


def writes_to(emu):
    return [c for c in calls(emu) if c.get('rpc') in DERIBIT_WRITES]


def test_deribit_every_state(deribit_emulator, deribit_accounts, run_playbook, tmp_path, path):
    emu, account = deribit_emulator, deribit_accounts['deribit-a']
    books = playbooks(tmp_path, 'deribit', DERIBIT_AUTH)
    hosts = {'der': deribit_host(account, emu.url, [])}

    # replaced: a group and a Block RFQ config
    replaced = run_playbook(hosts, *extra('replaced', [dict(D_BTC, index_name='BTC_USD', qty_limit=2.50), D_ETH_Q1,
                                                       D_RFQ]), path=path, playbook=books['one'])
    assert replaced.rc == 0 and replaced.recap()['der']['changed'] == 1, replaced.output
    assert result(replaced, 'der')['after'] == [D_RFQ, D_BTC, D_ETH_Q1] and len(writes_to(emu)) == 3

    # gathered, given back with replaced: nothing changes, no write; reads are the account's listings
    start = len(calls(emu))
    trip = run_playbook(hosts, path=path, playbook=books['round_trip'])
    assert trip.rc == 0 and trip.recap()['der']['changed'] == 0, trip.output
    assert result(trip, 'der', 'Gather')['gathered'] == [D_RFQ, D_BTC, D_ETH_Q1]
    assert [c['rpc'] for c in calls(emu)[start:]] == ['private/get_mmp_config'] * 4 and len(writes_to(emu)) == 3

    # overridden, previewed: the diff shows the removals, nothing is written
    check = run_playbook(hosts, '--check', '--diff', *extra('overridden', [D_BTC]), path=path, playbook=books['one'])
    assert check.rc == 0 and check.recap()['der']['changed'] == 1, check.output
    removed = [line for line in diff_lines(check.output) if line.startswith('-') and '"all Block RFQ"' in line]
    assert removed and [line for line in diff_lines(check.output) if '"eth_usd group q1"' in line], check.output
    assert len(writes_to(emu)) == 3

    # merged: the limit given changes, the others are kept (a set replaces the whole config: they are sent too)
    merged = run_playbook(hosts, *extra('merged', [dict(index_name='btc_usd', qty_limit='3')]), path=path,
                          playbook=books['one'])
    assert merged.rc == 0 and merged.recap()['der']['changed'] == 1, merged.output
    sent = writes_to(emu)[-1]['params']
    assert sent['quantity_limit'] == '3' and sent['vega_limit'] == '1000' and sent['index_name'] == 'btc_usd'

    # overridden: the unlisted configs are removed (interval 0)
    over = run_playbook(hosts, *extra('overridden', [dict(D_BTC, qty_limit='3')]), path=path, playbook=books['one'])
    assert over.rc == 0 and over.recap()['der']['changed'] == 1, over.output
    assert [(e['index_name'], e.get('mmp_group')) for e in emu.state()['mmp']['deribit-a']] == [('btc_usd', None)]
    assert [w['params']['interval'] for w in writes_to(emu)[-2:]] == ['0', '0']

    # deleted, every config; then nothing left to delete
    deleted = run_playbook(hosts, *extra('deleted', []), path=path, playbook=books['one'])
    assert deleted.rc == 0 and deleted.recap()['der']['changed'] == 1, deleted.output
    assert emu.state()['mmp'].get('deribit-a', []) == []
    again = run_playbook(hosts, *extra('deleted', []), path=path, playbook=books['one'])
    assert again.rc == 0 and again.recap()['der']['changed'] == 0

    # rendered: no credentials, no request
    start = len(calls(emu))
    bare = {'der': dict(ansible_connection='local', ansible_python_interpreter=hosts['der']['ansible_python_interpreter'])}
    rendered = run_playbook(bare, *extra('rendered', [D_RFQ]), path=path, playbook=books['rendered'])
    assert rendered.rc == 0 and calls(emu)[start:] == [], rendered.output
    assert result(rendered, 'der', 'Render')['rendered'] == [dict(
        method='GET', path='/api/v2/private/set_mmp_config', params=dict(
            index_name='all', block_rfq=True, interval=60, frozen_time=60, quantity_limit='1000', trade_count_limit=10))]
    for run in (replaced, trip, check, merged, over, deleted, rendered):
        assert_no_secret(run.output, emu, deribit_accounts)
