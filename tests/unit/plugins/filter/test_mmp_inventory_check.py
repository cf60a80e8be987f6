# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""mmp_inventory_check (apply_mmp's refusal of an account before any request) and the core it shares with the
audit (module_utils/inventory.py): a scope listed twice, found by the modules' own normalisation; an unknown venue."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError, AnsibleUndefinedVariable
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.marketops.mmp.plugins.filter.mmp_audit import mmp_audit_report, mmp_inventory_check
from ansible_collections.marketops.mmp.plugins.module_utils.binance import audit as binance_audit
from ansible_collections.marketops.mmp.plugins.module_utils.binance.mmp import MMPCore as BinanceMMPCore
from ansible_collections.marketops.mmp.plugins.module_utils.deribit import audit as deribit_audit
from ansible_collections.marketops.mmp.plugins.module_utils.deribit.mmp import MMPCore as DeribitMMPCore
from ansible_collections.marketops.mmp.plugins.module_utils.inventory import (
    describe_duplicates,
    duplicate_scopes,
    merged_items,
)

LIMITS = dict(window_ms=3000, frozen_ms=0, qty_limit='2', delta_limit='2.3')
DERIBIT_LIMITS = dict(window_s=10, frozen_s=30, qty_limit='2')


def errors(hostvars):
    return dict((r['account'], r['error']) for r in mmp_inventory_check(hostvars, list(hostvars)))


def test_each_account_has_its_venue_and_a_refusal_or_none():
    hostvars = {
        'bin': dict(binance_mmp_configs=[dict(underlying='BTCUSDT'), dict(underlying='ETHUSDT')]),
        'bin-dup': dict(binance_mmp_configs=[dict(underlying='BTCUSDT'), dict(underlying='ETHUSDT'),
                                             dict(underlying=' btcusdt ')]),
        'der': dict(mmp_venue='deribit', deribit_mmp_configs=[dict(index_name='btc_usd'),
                                                              dict(index_name='btc_usd', mmp_group='q1')]),
        'der-dup': dict(mmp_venue='deribit', deribit_mmp_configs=[dict(index_name='btc_usd'),
                                                                  dict(index_name='BTC_USD')]),
        'typo': dict(mmp_venue='Deribit'),
        'empty': dict(mmp_venue=''),
        'null': dict(mmp_venue=None),
        'none-listed': {},
    }
    assert mmp_inventory_check(hostvars, ['bin', 'der', 'typo']) == [
        dict(account='bin', venue='binance', error=None), dict(account='der', venue='deribit', error=None),
        dict(account='typo', venue='Deribit',
             error='mmp_venue must be binance (the default) or deribit; got "Deribit"')]
    assert errors(hostvars) == {
        'bin': None,
        'bin-dup': 'binance_mmp_configs lists the underlying BTCUSDT twice, items #1 and #3',
        'der': None,
        'der-dup': 'deribit_mmp_configs lists the config btc_usd twice, items #1 and #2',
        'typo': 'mmp_venue must be binance (the default) or deribit; got "Deribit"',
        'empty': 'mmp_venue must be binance (the default) or deribit; got ""',
        'null': 'mmp_venue must be binance (the default) or deribit; got null',
        'none-listed': None,
    }
    with pytest.raises(AnsibleFilterError, match='hosts must be a list'):
        mmp_inventory_check(hostvars, 'bin')


@pytest.mark.parametrize('first, second', [
    (dict(block_rfq=True), dict(block_rfq='yes')),
    (dict(block_rfq='true'), dict(block_rfq='on')),
    (dict(block_rfq=1), dict(block_rfq='True')),
    (dict(), dict(block_rfq=False)),
    (dict(block_rfq='no'), dict(block_rfq=0)),
    (dict(block_rfq='off'), dict(block_rfq=None)),
])
def test_deribit_block_rfq_is_any_ansible_boolean(first, second):
    configs = [dict(first, index_name='btc_usd'), dict(index_name='eth_usd'), dict(second, index_name=' BTC_usd')]
    (error,) = errors({'d': dict(mmp_venue='deribit', deribit_mmp_configs=configs)}).values()
    block_rfq = dict(second).get('block_rfq') in (True, 'yes', 'on', 'True')
    assert error == 'deribit_mmp_configs lists the config btc_usd%s twice, items #1 and #3' % (
        ' Block RFQ' if block_rfq else '')


def test_deribit_scopes_that_differ_are_not_duplicates():
    configs = [dict(index_name='btc_usd'), dict(index_name='btc_usd', mmp_group='q1'),
               dict(index_name='btc_usd', mmp_group='Q1'),            # groups are case-sensitive
               dict(index_name='btc_usd', block_rfq='yes'), dict(index_name='btc_usdc'),
               dict(index_name='all', block_rfq=True), dict(index_name='btc_usd', mmp_group='q1', block_rfq=True)]
    assert errors({'d': dict(mmp_venue='deribit', deribit_mmp_configs=configs)}) == {'d': None}


def test_positions_are_after_the_defaults_merge_and_every_scope_is_named():
    # the defaults give the item without an mmp_group its group; state absent and present of one scope clash too
    hostvars = {'d': dict(mmp_venue='deribit', deribit_mmp_defaults=dict(DERIBIT_LIMITS, mmp_group='q1'),
                          deribit_mmp_configs=[dict(index_name='eth_usd'), dict(index_name='btc_usd'),
                                               dict(index_name='eth_usd', mmp_group='q1', state='absent'),
                                               dict(index_name='all', block_rfq=True, mmp_group=None),
                                               dict(index_name='ETH_USD'), dict(index_name='all', block_rfq='1', mmp_group=None)]),
                'b': dict(binance_mmp_defaults=dict(LIMITS, underlying='BTCUSDT'),
                          binance_mmp_configs=[dict(qty_limit='1'), dict(underlying='ETHUSDT'), dict(delta_limit='3')])}
    assert errors(hostvars) == {
        'd': 'deribit_mmp_configs lists the config eth_usd group q1 3 times, items #1, #3 and #5, and the config all '
             'Block RFQ twice, items #4 and #6',
        'b': 'binance_mmp_configs lists the underlying BTCUSDT twice, items #1 and #3'}


def test_items_the_module_refuses_are_left_to_it():
    # no scope, a scope the module refuses, not a mapping: apply_mmp's task names them (item by item); a list that is
    # not one: the task fails on it. None of them refuses the account here.
    hostvars = {
        'b': dict(binance_mmp_configs=[dict(qty_limit=1), dict(qty_limit=1), dict(underlying='BTC-USDT'),
                                       dict(underlying='BTC-USDT'), 'BTCUSDT', 'BTCUSDT', dict(underlying='')]),
        'd': dict(mmp_venue='deribit', deribit_mmp_configs=[dict(index_name='all'), dict(index_name='all'),
                                                            dict(index_name='btc_usd', block_rfq='maybe'),
                                                            dict(index_name='btc_usd', block_rfq='maybe'),
                                                            dict(index_name='btc_usd', mmp_group='a b'),
                                                            dict(index_name='btc_usd', mmp_group='a b')]),
        'not-a-list': dict(binance_mmp_configs='BTCUSDT'),
        'bad-defaults': dict(binance_mmp_defaults=['x'], binance_mmp_configs=[dict(underlying='A'), dict(underlying='a')]),
    }
    assert errors(hostvars) == dict.fromkeys(hostvars)


class UndefinedHostvars(dict):
    """hostvars whose configs cannot be templated (an undefined variable in them)."""

    def get(self, key, default=None):
        if key.endswith('_mmp_configs'):
            raise AnsibleUndefinedVariable("'qty' is undefined")
        return super().get(key, default)


def test_an_inventory_that_cannot_be_templated_is_left_to_the_task():
    assert errors({'b': UndefinedHostvars(binance_mmp_configs=[])}) == {'b': None}


# What the modules make of an item (their argument spec's types, then their validation): the scope the check uses must
# be the same, or two items the modules take as one config would not be found (or two configs would be refused).
BINANCE_ITEMS = [dict(underlying=u) for u in ('BTCUSDT', 'btcusdt', ' BtcUsdt ', 123, 'X1')]
DERIBIT_ITEMS = [dict(index_name='btc_usd'), dict(index_name=' BTC_USD', block_rfq='no'),
                 dict(index_name='eth_usdc', mmp_group='Q1', block_rfq='yes'), dict(index_name='all', block_rfq=1),
                 dict(index_name='ETH_USD', mmp_group='q1', block_rfq='on'), dict(index_name='sol_usdc', block_rfq=0.0)]


def module_params(spec, item, extra):
    result = ArgumentSpecValidator(spec).validate(dict(extra, **item))
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


@pytest.mark.parametrize('item', BINANCE_ITEMS)
def test_binance_scope_is_the_modules(item):
    desired, dummy = BinanceMMPCore.validate(module_params(BinanceMMPCore.argument_spec(), item, LIMITS))
    assert binance_audit.scope_of(item) == (desired['underlying'], 'the underlying %s' % desired['underlying'])


@pytest.mark.parametrize('item', DERIBIT_ITEMS)
def test_deribit_scope_is_the_modules(item):
    desired, dummy = DeribitMMPCore.validate(module_params(DeribitMMPCore.argument_spec(), item, DERIBIT_LIMITS))
    key, dummy = deribit_audit.scope_of(item)
    assert key == (desired['index_name'], desired['mmp_group'], desired['block_rfq'])


def test_core_merges_finds_and_describes():
    hv = dict(c=[dict(k='a'), dict(k='B'), 'x', dict(k='b'), dict(k='A'), dict(k='a')], d=dict(k='a', z=1))
    items = merged_items(hv, 'c', 'd')
    assert items[0] == dict(k='a', z=1) and items[2] == 'x'

    def scope_of(item):
        if not isinstance(item, dict):
            raise ValueError('not a mapping')
        return item['k'].lower(), 'the key %s' % item['k'].lower()

    found = duplicate_scopes(items, scope_of)
    assert found == [('the key a', [1, 5, 6]), ('the key b', [2, 4])]
    assert describe_duplicates('c', found) == 'c lists the key a 3 times, items #1, #5 and #6, and the key b twice, ' \
                                              'items #2 and #4'
    assert describe_duplicates('c', []) is None
    assert merged_items({}, 'c', 'd') == []
    with pytest.raises(ValueError, match='d must be a mapping and c a list'):
        merged_items(dict(c=dict(k='a')), 'c', 'd')


def test_the_audit_reports_the_same_duplicate_as_an_error_row():
    hostvars = {'b': dict(binance_mmp_configs=[dict(LIMITS, underlying='BTCUSDT'), dict(LIMITS, underlying='btcusdt')],
                          binance_audit_state=dict(mmp=[], kill_switch=[])),
                'd': dict(mmp_venue='deribit', deribit_audit_state=dict(mmp=[]),
                          deribit_mmp_configs=[dict(DERIBIT_LIMITS, index_name='all', block_rfq=True),
                                               dict(DERIBIT_LIMITS, index_name='all', block_rfq='yes')])}
    report = mmp_audit_report(hostvars, ['b', 'd'])
    assert [(r['account'], r['status'], r['detail']) for r in report['rows']] == [
        ('b', 'error', 'binance_mmp_configs lists the underlying BTCUSDT twice, items #1 and #2: not compared '
                       '(apply_mmp refuses this account, before any request); list each once'),
        ('d', 'error', 'deribit_mmp_configs lists the config all Block RFQ twice, items #1 and #2: not compared '
                       '(apply_mmp refuses this account, before any request); list each once')]
    assert [e for r, e in errors(hostvars).items()] == [
        'binance_mmp_configs lists the underlying BTCUSDT twice, items #1 and #2',
        'deribit_mmp_configs lists the config all Block RFQ twice, items #1 and #2']
