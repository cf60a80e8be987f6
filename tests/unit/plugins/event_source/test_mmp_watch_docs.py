# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mmp_watch event source's DOCUMENTATION says exactly what the source accepts.

Galaxy and Automation Hub show an event source from its DOCUMENTATION and EXAMPLES strings (meta/extensions.yml lists
the directory). ansible-test's validate-modules does not look at extensions, so this test keeps the documented options
(and the accounts' suboptions) equal to the ones the source validates, their documented defaults equal to the ones it
applies, and every example within the documented options. An argument added to the source (another venue's accounts,
a new account key) fails here until it is documented.
"""

from __future__ import annotations

import ast
import importlib.util
import os

import pytest
import yaml

from ansible_collections.marketops.mmp.plugins.module_utils.binance import watch as binance_watch
from ansible_collections.marketops.mmp.plugins.module_utils.deribit import watch as deribit_watch
from ansible_collections.marketops.mmp.plugins.module_utils.watch import WatchConfigError

COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SOURCES = os.path.join(COLLECTION, 'extensions', 'eda', 'plugins', 'event_source')
PLUGIN = os.path.join(SOURCES, 'mmp_watch.py')
NO_ENV = {}  # validate_watch_args reads BINANCE_EAPI_URL from here, not from the test's environment
ACCOUNT = {'name': 'acct-alpha', 'api_key': 'demoAlphaKey', 'api_secret': 'demoAlphaSecret'}
DERIBIT_ACCOUNT = {'name': 'acct-delta', 'venue': 'deribit', 'client_id': 'demoDelta', 'client_secret': 'demoDeltaSecret'}
# One value each that the source accepts, for the documented options (ca_path: None, as a real CA file is not needed
# to show that the key is known).
VALUES = {'base_url': 'http://127.0.0.1:8765', 'deribit_base_url': 'http://127.0.0.1:8766', 'interval': 2.5,
          'weight_budget': 100, 'error_interval': 60, 'validate_certs': True, 'ca_path': None, 'recv_window': 6000,
          'timeout': 5}
# The documented account keys, one account of each venue holding its own (venue: the default, binance, said aloud)
ACCOUNT_VALUES = {'name': 'acct-bravo', 'venue': 'binance', 'api_key': 'demoBravoKey', 'api_secret': 'demoBravoSecret',
                  'private_key': None, 'private_key_passphrase': None, 'underlyings': ['BTCUSDT']}
DERIBIT_VALUES = {'name': 'acct-echo', 'venue': 'deribit', 'client_id': 'demoEcho', 'client_secret': 'demoEchoSecret'}


def doc_strings(path):
    """DOCUMENTATION and EXAMPLES of a plugin file, read as Galaxy reads them: string constants, parsed as YAML."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ('DOCUMENTATION', 'EXAMPLES') and isinstance(node.value, ast.Constant):
                found[node.targets[0].id] = yaml.safe_load(node.value.value)
    return found


@pytest.fixture(scope='module')
def docs():
    return doc_strings(PLUGIN)


@pytest.fixture(scope='module')
def validate():
    """The validation the source itself runs (its main() calls this), loaded the way ansible-rulebook loads it."""
    spec = importlib.util.spec_from_file_location('mmp_watch_under_test', PLUGIN)
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    validate_args = plugin._import_watch().validate_watch_args
    return lambda args, environ=None: validate_args(args, environ=environ, default_venue=plugin.DEFAULT_VENUE)


def options(docs):
    return docs['DOCUMENTATION']['options']


def test_every_event_source_is_documented():
    sources = sorted(f for f in os.listdir(SOURCES) if f.endswith('.py') and not f.startswith('_'))
    assert sources == ['mmp_watch.py']
    for name in sources:
        found = doc_strings(os.path.join(SOURCES, name))
        assert set(found) == {'DOCUMENTATION', 'EXAMPLES'}, name
        assert found['DOCUMENTATION']['short_description'] and found['DOCUMENTATION']['description'], name


def test_meta_extensions_lists_the_event_sources():
    with open(os.path.join(COLLECTION, 'meta', 'extensions.yml')) as f:
        meta = yaml.safe_load(f)
    assert {'args': {'ext_dir': 'eda/plugins/event_source'}} in meta['extensions']


def test_documented_options_are_the_accepted_ones(docs):
    assert set(options(docs)) == {'accounts'} | binance_watch.SOURCE_KEYS | deribit_watch.SOURCE_KEYS
    accounts = options(docs)['accounts']
    assert (accounts['type'], accounts['elements']) == ('list', 'dict')
    assert set(accounts['suboptions']) == {'venue'} | binance_watch.ACCOUNT_KEYS | deribit_watch.ACCOUNT_KEYS
    assert accounts['suboptions']['venue']['choices'] == ['binance', 'deribit']


def test_every_documented_option_is_known_to_the_source(docs, validate):
    assert set(VALUES) | {'accounts'} == set(options(docs))
    assert set(ACCOUNT_VALUES) | set(DERIBIT_VALUES) == set(options(docs)['accounts']['suboptions'])
    settings = validate(dict(VALUES, accounts=[ACCOUNT, ACCOUNT_VALUES, DERIBIT_VALUES]), environ=NO_ENV)
    assert set(settings['venues']) == {'binance', 'deribit'} and settings['warnings'] == []


@pytest.mark.parametrize('where', ['source', 'account'])
def test_an_undocumented_option_is_refused(validate, where):
    args = {'accounts': [dict(ACCOUNT)]}
    (args if where == 'source' else args['accounts'][0])['not_documented'] = 1
    with pytest.raises(WatchConfigError, match='unknown'):
        validate(args, environ=NO_ENV)


def test_documented_defaults_are_the_applied_ones(docs, validate):
    settings = validate({'accounts': [ACCOUNT]}, environ=NO_ENV)['venues']['binance']
    documented = {name: spec['default'] for name, spec in options(docs).items() if 'default' in spec}
    assert documented == {name: settings[name] for name in documented}
    assert set(documented) == {'interval', 'weight_budget', 'error_interval', 'validate_certs', 'recv_window', 'timeout'}
    # base_url has no fixed default: the environment's BINANCE_EAPI_URL, else the exchange, as documented
    base_url = ' '.join(options(docs)['base_url']['description'])
    assert settings['base_url'] in base_url and 'E(BINANCE_EAPI_URL)' in base_url
    assert validate({'accounts': [ACCOUNT]}, environ={'BINANCE_EAPI_URL': 'http://127.0.0.1:1'})['venues']['binance'][
        'base_url'] == 'http://127.0.0.1:1'
    assert settings['ca_path'] is None and settings['accounts'][0]['underlyings'] is None
    # a Deribit account's: the common ones as documented, its base URL from DERIBIT_URL, else the exchange
    deribit = validate({'accounts': [DERIBIT_ACCOUNT]}, environ=NO_ENV)['venues']['deribit']
    assert {name: deribit[name] for name in documented if name in deribit_watch.SOURCE_KEYS} == {
        name: value for name, value in documented.items() if name in deribit_watch.SOURCE_KEYS}
    deribit_url = ' '.join(options(docs)['deribit_base_url']['description'])
    assert deribit['base_url'] in deribit_url and 'E(DERIBIT_URL)' in deribit_url
    assert validate({'accounts': [DERIBIT_ACCOUNT]}, environ={'DERIBIT_URL': 'http://127.0.0.1:2'})['venues'][
        'deribit']['base_url'] == 'http://127.0.0.1:2'
    assert options(docs)['accounts']['suboptions']['venue']['default'] == 'binance'


def test_documented_required_options_are_required(docs, validate):
    required = {name for name, spec in options(docs).items() if spec.get('required')}
    assert required == {'accounts'}
    with pytest.raises(WatchConfigError, match='accounts'):
        validate({}, environ=NO_ENV)
    suboptions = options(docs)['accounts']['suboptions']
    required = {name for name, spec in suboptions.items() if spec.get('required')}
    assert required == {'name'}
    # what each venue's account needs (documented as "required for a ... account")
    for base, needed in ((ACCOUNT, ('name', 'api_key')), (DERIBIT_ACCOUNT, ('name', 'client_id', 'client_secret'))):
        for name in needed:
            assert name == 'name' or 'Required for a' in ' '.join(suboptions[name]['description'])
            account = dict(base)
            del account[name]
            with pytest.raises(WatchConfigError, match=name):
                validate({'accounts': [account]}, environ=NO_ENV)


def test_examples_use_documented_options_only(docs):
    seen = []
    for example in docs['EXAMPLES']:
        args = example['sources'][0] if 'sources' in example else example
        args = args['marketops.mmp.mmp_watch']
        assert set(args) <= set(options(docs)), args
        if isinstance(args['accounts'], list):
            for account in args['accounts']:
                assert set(account) <= set(options(docs)['accounts']['suboptions']), account
        seen.extend(args)
    assert set(seen) == set(options(docs)), 'the examples show every option'
