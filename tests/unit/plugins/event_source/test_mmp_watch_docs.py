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
from ansible_collections.marketops.mmp.plugins.module_utils.watch import WatchConfigError

COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SOURCES = os.path.join(COLLECTION, 'extensions', 'eda', 'plugins', 'event_source')
PLUGIN = os.path.join(SOURCES, 'mmp_watch.py')
NO_ENV = {}  # validate_watch_args reads BINANCE_EAPI_URL from here, not from the test's environment
ACCOUNT = {'name': 'acct-alpha', 'api_key': 'demoAlphaKey', 'api_secret': 'demoAlphaSecret'}
# One value each that the source accepts, for the documented options (ca_path: None, as a real CA file is not needed
# to show that the key is known).
VALUES = {'base_url': 'http://127.0.0.1:8765', 'interval': 2.5, 'weight_budget': 100, 'error_interval': 60,
          'validate_certs': True, 'ca_path': None, 'recv_window': 6000, 'timeout': 5}
ACCOUNT_VALUES = {'name': 'acct-bravo', 'api_key': 'demoBravoKey', 'api_secret': 'demoBravoSecret',
                  'private_key': None, 'private_key_passphrase': None, 'underlyings': ['BTCUSDT']}


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
    return plugin._import_watch().validate_watch_args


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
    assert set(options(docs)) == set(binance_watch.SOURCE_KEYS)
    accounts = options(docs)['accounts']
    assert (accounts['type'], accounts['elements']) == ('list', 'dict')
    assert set(accounts['suboptions']) == set(binance_watch.ACCOUNT_KEYS)


def test_every_documented_option_is_known_to_the_source(docs, validate):
    assert set(VALUES) | {'accounts'} == set(options(docs))
    assert set(ACCOUNT_VALUES) == set(options(docs)['accounts']['suboptions'])
    validate(dict(VALUES, accounts=[ACCOUNT, ACCOUNT_VALUES]), environ=NO_ENV)


@pytest.mark.parametrize('where', ['source', 'account'])
def test_an_undocumented_option_is_refused(validate, where):
    args = {'accounts': [dict(ACCOUNT)]}
    (args if where == 'source' else args['accounts'][0])['not_documented'] = 1
    with pytest.raises(WatchConfigError, match='unknown'):
        validate(args, environ=NO_ENV)


def test_documented_defaults_are_the_applied_ones(docs, validate):
    settings = validate({'accounts': [ACCOUNT]}, environ=NO_ENV)
    documented = {name: spec['default'] for name, spec in options(docs).items() if 'default' in spec}
    assert documented == {name: settings[name] for name in documented}
    assert set(documented) == {'interval', 'weight_budget', 'error_interval', 'validate_certs', 'recv_window', 'timeout'}
    # base_url has no fixed default: the environment's BINANCE_EAPI_URL, else the exchange, as documented
    base_url = ' '.join(options(docs)['base_url']['description'])
    assert settings['base_url'] in base_url and 'E(BINANCE_EAPI_URL)' in base_url
    assert validate({'accounts': [ACCOUNT]}, environ={'BINANCE_EAPI_URL': 'http://127.0.0.1:1'})['base_url'] == \
        'http://127.0.0.1:1'
    assert settings['ca_path'] is None and settings['accounts'][0]['underlyings'] is None


def test_documented_required_options_are_required(docs, validate):
    required = {name for name, spec in options(docs).items() if spec.get('required')}
    assert required == {'accounts'}
    with pytest.raises(WatchConfigError, match='accounts'):
        validate({}, environ=NO_ENV)
    suboptions = options(docs)['accounts']['suboptions']
    required = {name for name, spec in suboptions.items() if spec.get('required')}
    assert required == {'name', 'api_key'}
    for name in required:
        account = dict(ACCOUNT)
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
