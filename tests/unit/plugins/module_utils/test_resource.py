# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The venue-neutral resource runner (module_utils/resource.py) on a fake venue: the plan of every state, duplicates
and impossible removals refused before any request or write, check mode, rendered without a client, the results."""

from __future__ import annotations

import pytest

from ansible_collections.marketops.mmp.plugins.module_utils import resource
from ansible_collections.marketops.mmp.plugins.module_utils.errors import ApplyError, UnknownOutcome, ValidationError
from ansible_collections.marketops.mmp.plugins.module_utils.runner import argument_spec, task_result


class FakeVenue:
    """A venue of the runner's tests: no connection option required but ``key``."""

    name = 'fake'
    label = 'Fakex'

    @staticmethod
    def connection_argument_spec():
        return dict(key=dict(type='str', required=True, no_log=True), timeout=dict(type='float', default=10.0),
                    account=dict(type='str'))

    @staticmethod
    def validate_connection(params):
        if params.get('key') != 'good':
            raise ValidationError('key', None, None, message='key: wrong')

    @staticmethod
    def client(params):
        raise AssertionError('the tests hand the client in')


class FakeClient:
    used_weight = None

    def __init__(self, held, answers=None):
        self.held = dict(held)        # name -> limit
        self.log = []                 # ('read' | 'write' | 'remove', name)
        self.answers = answers or {}  # name -> what a write answers instead of applying / an exception
        self.recoveries = []

    def take_recoveries(self):
        out, self.recoveries = self.recoveries, []
        return out

    def note_recovery(self, text):
        self.recoveries.append(text)


class FakeResource:
    """Items ``{name, limit, note}``: ``name`` is the scope, ``limit`` required but in merged, ``note`` optional."""

    venue = FakeVenue()
    noun = 'fake configs'
    scope_keys = ('name',)
    can_remove = True
    cannot_remove = None

    @staticmethod
    def item_spec():
        return dict(name=dict(type='str', required=True), limit=dict(type='int'), note=dict(type='str'))

    @staticmethod
    def validate_item(item, state):
        name = item.get('name')
        if not isinstance(name, str) or not name.isalpha():
            raise ValidationError('name', name, 'letters')
        limit = item.get('limit')
        if state == 'deleted':
            if limit is not None:
                raise ValidationError('limit', limit, 'nothing: deleted names the scope only')
            return dict(name=name.lower(), limit=None, note=None), []
        if limit is None and state != 'merged' or limit is not None and not 0 < limit < 100:
            raise ValidationError('limit', limit, 'an integer in (0, 100)')
        warnings = ['limit 1 for %s' % name] if limit == 1 else []
        return dict(name=name.lower(), limit=limit, note=item.get('note')), warnings

    @staticmethod
    def scope(item):
        return item['name']

    @staticmethod
    def describe(key):
        return 'scope %s' % key

    @staticmethod
    def read(client, items, every, gathering):
        names = sorted(client.held) if every else [i['name'] for i in items]
        out = {}
        for name in names:
            client.log.append(('read', name))
            out[name] = client.held.get(name)
        return out, (['gathering'] if gathering else [])

    @staticmethod
    def public(raw):
        return None if raw is None else dict(name=raw[0], limit=raw[1], note=raw[2])

    @staticmethod
    def differences(held, item):
        return [k for k in ('limit', 'note') if item.get(k) is not None and held.get(k) != item[k]]

    @staticmethod
    def write_requests(item, raw):
        return [dict(method='PUT', path='/fake/%s' % item['name'], params=dict(limit=item['limit'], note=item['note']))]

    @staticmethod
    def remove_requests(raw):
        return [dict(method='DELETE', path='/fake/%s' % raw[0], params={})]

    def write(self, client, key, raw, item):
        client.log.append(('write', key))
        answer = client.answers.get(key)
        if isinstance(answer, Exception):
            raise answer
        client.held[key] = (key, item['limit'], item['note']) if answer is None else answer
        after = self.public(client.held[key])
        if self.differences(after, item):
            raise ApplyError('the exchange holds %r' % (after,), asked=item, exchange=after)
        return after, self.write_requests(item, raw), ['wrote %s' % key]

    def remove(self, client, key, raw):
        client.log.append(('remove', key))
        del client.held[key]
        return self.remove_requests(raw)


class NoRemoval(FakeResource):
    can_remove = False
    cannot_remove = 'Fakex has no call that removes a config'


CORE = resource.ResourceCore(FakeResource())
NO_REMOVAL = resource.ResourceCore(NoRemoval())
HELD = {'a': ('a', 10, None), 'b': ('b', 20, 'x'), 'c': ('c', 30, None)}


def run(core=CORE, held=None, check_mode=False, client=None, **options):
    params = dict(key='good', timeout=10.0, account='acct-r', state='merged', config=None)
    params.update(options)
    client = client or FakeClient(HELD if held is None else held)
    result, warnings, failed = task_result(core, params, check_mode=check_mode, diff_mode=True,
                                           client_factory=lambda p: client)
    return result, warnings, failed, client


def writes(client):
    return [entry for entry in client.log if entry[0] != 'read']


def test_merged_keeps_what_an_item_leaves_out_and_writes_only_what_differs():
    result, warnings, failed, client = run(config=[dict(name='B', note='y'), dict(name='a', limit=10),
                                                   dict(name='d', limit=1)])
    assert not failed and result['changed'], result
    assert client.log == [('read', 'b'), ('read', 'a'), ('read', 'd'), ('write', 'b'), ('write', 'd')]
    assert client.held['b'] == ('b', 20, 'y')  # the limit left out is kept
    assert result['before'] == [dict(name='a', limit=10), dict(name='b', limit=20, note='x')]
    assert result['after'] == [dict(name='a', limit=10), dict(name='b', limit=20, note='y'), dict(name='d', limit=1)]
    assert result['requests'] == [dict(method='PUT', path='/fake/b', params=dict(limit=20, note='y')),
                                  dict(method='PUT', path='/fake/d', params=dict(limit=1, note=None))]
    assert result['diff']['before'] == {'scope a': dict(name='a', limit=10),
                                        'scope b': dict(name='b', limit=20, note='x')}
    assert result['diff']['after']['scope d'] == dict(name='d', limit=1)
    assert warnings == ['account acct-r: limit 1 for d', 'account acct-r: wrote b', 'account acct-r: wrote d']


def test_merged_in_sync_reads_the_listed_scopes_only_and_writes_nothing():
    result, warnings, failed, client = run(config=[dict(name='a'), dict(name='b', limit=20)])
    assert not failed and not result['changed'] and result['requests'] == []
    assert client.log == [('read', 'a'), ('read', 'b')]
    assert result['before'] == result['after']


def test_merged_a_new_scope_needs_every_required_value_and_nothing_is_written():
    result, warnings, failed, client = run(config=[dict(name='a', limit=11), dict(name='new', note='n')])
    assert failed and writes(client) == []
    assert 'config[2]' in result['msg'] and 'limit' in result['msg'] and 'Fakex holds no config for scope new' \
        in result['msg'] and 'nothing was written' in result['msg'], result['msg']


def test_replaced_makes_each_listed_scope_exactly_its_item():
    result, warnings, failed, client = run(state='replaced', config=[dict(name='b', limit=20)])
    assert not failed and not result['changed']  # the fake's note is optional: unmanaged when left out
    result, warnings, failed, client = run(state='replaced', config=[dict(name='b', limit=21), dict(name='e', limit=5)])
    assert result['changed'] and writes(client) == [('write', 'b'), ('write', 'e')]
    assert 'c' in client.held  # not listed, kept


def test_replaced_refuses_an_incomplete_item_before_any_request():
    result, warnings, failed, client = run(state='replaced', config=[dict(name='b')])
    assert failed and client.log == [] and result['option'] == 'config[1].limit', result
    assert result['msg'].startswith('account acct-r: config[1]: limit: got None')


def test_a_scope_listed_twice_is_refused_before_any_request_naming_both_items():
    result, warnings, failed, client = run(config=[dict(name='a', limit=1), dict(name='b', limit=2),
                                                   dict(name='A', limit=3)])
    assert failed and client.log == []
    assert result['msg'] == 'account acct-r: config: scope a is listed twice, items #1 and #3; list each scope once'


def test_overridden_removes_every_unlisted_scope_and_check_mode_writes_nothing():
    result, warnings, failed, client = run(state='overridden', config=[dict(name='a', limit=10)], check_mode=True)
    assert not failed and result['changed'] and writes(client) == []
    assert client.log == [('read', 'a'), ('read', 'b'), ('read', 'c')]  # every scope
    assert result['requests'] == [dict(method='DELETE', path='/fake/b', params={}),
                                  dict(method='DELETE', path='/fake/c', params={})]
    assert result['after'] == [dict(name='a', limit=10)]
    result, warnings, failed, client = run(state='overridden', config=[dict(name='a', limit=10)])
    assert writes(client) == [('remove', 'b'), ('remove', 'c')] and set(client.held) == {'a'}
    assert result['changed'] and result['after'] == [dict(name='a', limit=10)]


def test_overridden_on_a_venue_that_cannot_remove_fails_before_any_write_naming_the_unlisted_scopes():
    result, warnings, failed, client = run(NO_REMOVAL, state='overridden', config=[dict(name='a', limit=11)])
    assert failed and writes(client) == []
    assert 'scope b, scope c' in result['msg'] and 'Fakex has no call that removes a config' in result['msg']
    assert result['unlisted'] == ['scope b', 'scope c']
    # nothing unlisted: the same as replaced
    result, warnings, failed, client = run(NO_REMOVAL, held={'a': ('a', 10, None)}, state='overridden',
                                           config=[dict(name='a', limit=11)])
    assert not failed and writes(client) == [('write', 'a')]


def test_deleted_removes_the_listed_scopes_or_every_scope():
    result, warnings, failed, client = run(state='deleted', config=[dict(name='b'), dict(name='zz')])
    assert not failed and result['changed'] and writes(client) == [('remove', 'b')]
    assert client.log[:2] == [('read', 'b'), ('read', 'zz')]
    result, warnings, failed, client = run(state='deleted', config=[dict(name='b', limit=3)])
    assert failed and client.log == [] and result['option'] == 'config[1].limit'
    result, warnings, failed, client = run(state='deleted', config=[])
    assert writes(client) == [('remove', 'a'), ('remove', 'b'), ('remove', 'c')] and client.held == {}
    result, warnings, failed, client = run(state='deleted', held={}, config=[])
    assert not failed and not result['changed'] and result['requests'] == []


def test_deleted_on_a_venue_that_cannot_remove_is_refused_before_any_request():
    result, warnings, failed, client = run(NO_REMOVAL, state='deleted', config=[dict(name='a')])
    assert failed and client.log == [] and result['option'] == 'state'
    assert 'deleted is not possible on Fakex: Fakex has no call that removes a config' in result['msg']


def test_gathered_round_trips_through_replaced():
    result, warnings, failed, client = run(state='gathered')
    assert not failed and not result['changed'] and writes(client) == []
    assert result['gathered'] == [dict(name='a', limit=10), dict(name='b', limit=20, note='x'), dict(name='c', limit=30)]
    assert 'before' not in result and 'requests' not in result and warnings == ['account acct-r: gathering']
    again, warnings, failed, client = run(state='replaced', config=result['gathered'])
    assert not failed and not again['changed'] and writes(client) == [] and again['requests'] == []
    result, warnings, failed, client = run(state='gathered', config=[dict(name='a', limit=1)])
    assert failed and client.log == [] and result['option'] == 'config'


def test_rendered_builds_no_client_and_needs_no_credentials():
    def no_client(params):
        raise AssertionError('no client for rendered')
    params = dict(timeout=10.0, account=None, state='rendered', config=[dict(name='a', limit=5, note='n')])
    result, warnings, failed = task_result(CORE, params, client_factory=no_client)
    assert not failed and not result['changed'], result
    assert result['rendered'] == [dict(method='PUT', path='/fake/a', params=dict(limit=5, note='n'))]
    assert result['used_weight'] is None
    # every other state needs the venue's required options, checked before any request
    result, warnings, failed = task_result(CORE, dict(params, state='merged'), client_factory=no_client)
    assert failed and result['option'] == 'key' and 'missing required arguments: key' in result['msg']
    result, warnings, failed = task_result(CORE, dict(params, state='merged', key='bad'), client_factory=no_client)
    assert failed and result['msg'] == 'key: wrong'


def test_the_argument_spec_makes_the_connection_options_optional_only_for_a_core_that_may_send_nothing():
    spec = argument_spec(CORE)
    assert 'required' not in spec['key'] and spec['state']['default'] == 'merged'
    assert spec['config']['options'] == FakeResource.item_spec()

    class Plain:
        venue = FakeVenue()

        @staticmethod
        def argument_spec():
            return {}
    assert argument_spec(Plain())['key']['required'] is True


def test_a_write_the_exchange_does_not_hold_fails_naming_the_scope_and_what_was_applied():
    client = FakeClient(HELD, answers={'b': ('b', 99, None)})
    result, warnings, failed, client = run(state='replaced', client=client,
                                           config=[dict(name='a', limit=11), dict(name='b', limit=21),
                                                   dict(name='c', limit=31)])
    assert failed
    assert result['msg'].startswith("account acct-r: fake configs scope b: the exchange holds {'name': 'b', 'limit': 99"), \
        result
    assert 'applied before this failure: scope a; not attempted: scope c' in result['msg']
    assert result['applied'] == ['scope a'] and result['not_attempted'] == ['scope c'] and result['changed'] is True
    assert result['requests'] == [dict(method='PUT', path='/fake/a', params=dict(limit=11, note=None))]
    assert result['exchange'] == dict(name='b', limit=99, note=None)  # the write's own details are kept
    assert writes(client) == [('write', 'a'), ('write', 'b')]


def test_an_unknown_outcome_raised_by_a_write_fails_the_task_and_names_the_scope():
    client = FakeClient(HELD, answers={'a': UnknownOutcome('timeout')})
    result, warnings, failed, client = run(state='replaced', client=client, config=[dict(name='a', limit=12)])
    assert failed and 'scope a: timeout' in result['msg'] and result['state'] == 'replaced'
    assert result['changed'] is False and result['requests'] == []


@pytest.mark.parametrize('config, option', [
    ('a', 'config'),
    ([dict(name='a', limit=1)] * 1001, 'config'),
    (['a'], 'config[1]'),
    ([dict(name='a', limit=1), dict(name='b-c', limit=1)], 'config[2].name'),
])
def test_bad_config_is_refused_before_any_request(config, option):
    result, warnings, failed, client = run(config=config)
    assert failed and client.log == [] and result['option'] == option, result


def test_the_runner_names_no_venue():
    import inspect
    text = inspect.getsource(resource).lower()
    assert not [venue for venue in ('binance', 'deribit', 'okx', 'bybit') if venue in text]


def test_check_mode_predicts_after_without_a_write():
    result, warnings, failed, client = run(state='replaced', config=[dict(name='a', limit=50)], check_mode=True)
    assert result['changed'] and writes(client) == []
    assert result['diff'] == dict(before={'scope a': dict(name='a', limit=10)}, after={'scope a': dict(name='a', limit=50)})
    assert result['requests'] == [dict(method='PUT', path='/fake/a', params=dict(limit=50, note=None))]
