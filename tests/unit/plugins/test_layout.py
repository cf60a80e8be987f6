# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The layout the collection promises (README, "Where things live"): a venue-neutral core, one package per venue.

- the core (every module_utils file outside a venue package, plugin_utils, the action, filter and doc fragment
  plugins but a venue's own) imports no venue package;
- a venue's API facts (Binance's ``/eapi/`` paths and ``X-MBX-`` headers, Deribit's ``/api/v2/`` paths and
  ``deri-hmac-sha256`` signature) appear only in its package, its modules'
  docs and its doc fragment;
- module_utils never imports AnsibleModule (the controller fast path runs the same code).
"""

from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..'))
MODULE_UTILS = os.path.join(ROOT, 'plugins', 'module_utils')
PREFIX = 'ansible_collections.marketops.mmp.plugins.module_utils.'
VENUE_FACTS = {'binance': ('/eapi/', 'X-MBX-'), 'deribit': ('/api/v2/', 'deri-hmac-sha256')}


def venues():
    return sorted(d for d in os.listdir(MODULE_UTILS)
                  if os.path.isfile(os.path.join(MODULE_UTILS, d, '__init__.py')))


def python_files(*parts):
    top = os.path.join(ROOT, *parts)
    for root, dummy, files in os.walk(top):
        for name in sorted(files):
            if name.endswith('.py'):
                yield os.path.join(root, name)


def core_files():
    venue_dirs = tuple(os.path.join(MODULE_UTILS, v) + os.sep for v in venues())
    for path in python_files('plugins'):
        rel = os.path.relpath(path, ROOT)
        name = os.path.splitext(os.path.basename(path))[0]
        if path.startswith(venue_dirs) or rel.startswith('plugins' + os.sep + 'modules' + os.sep):
            continue
        if rel.startswith(os.path.join('plugins', 'doc_fragments')) and name in venues():
            continue  # a venue's doc fragment
        yield path


def imported_modules(path):
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            for alias in node.names:
                yield '%s.%s' % (node.module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name


def test_there_is_a_core_and_a_venue_package():
    assert {'binance', 'deribit'} <= set(venues())
    assert list(core_files())


@pytest.mark.parametrize('path', list(core_files()), ids=lambda p: os.path.relpath(p, ROOT))
def test_the_core_imports_no_venue_package(path):
    bad = [m for m in imported_modules(path) if m.startswith(PREFIX) and m[len(PREFIX):].split('.')[0] in venues()]
    assert bad == [], '%s imports a venue package: %s' % (os.path.relpath(path, ROOT), bad)


@pytest.mark.parametrize('path', list(core_files()), ids=lambda p: os.path.relpath(p, ROOT))
def test_no_venue_api_fact_in_the_core(path):
    with open(path) as f:
        text = f.read()
    found = [fact for facts in VENUE_FACTS.values() for fact in facts if fact in text]
    assert found == [], '%s holds %s' % (os.path.relpath(path, ROOT), found)


def test_a_venues_api_facts_stay_in_its_package_its_modules_and_its_fragment():
    for venue, facts in VENUE_FACTS.items():
        allowed = (os.path.join(MODULE_UTILS, venue) + os.sep, os.path.join(ROOT, 'plugins', 'modules', venue + '_'),
                   os.path.join(ROOT, 'plugins', 'doc_fragments', venue + '.py'))
        for path in list(python_files('plugins')) + list(python_files('extensions')):
            if path.startswith(allowed):
                continue
            with open(path) as f:
                text = f.read()
            assert not [fact for fact in facts if fact in text], os.path.relpath(path, ROOT)


@pytest.mark.parametrize('path', list(python_files('plugins', 'module_utils')), ids=lambda p: os.path.relpath(p, ROOT))
def test_module_utils_never_imports_ansible_module(path):
    assert not [m for m in imported_modules(path) if m.endswith('AnsibleModule')], os.path.relpath(path, ROOT)


def test_the_check_would_fail(tmp_path):
    """The import check finds a core file that imports a venue package (the test cannot pass by finding nothing)."""
    bad = tmp_path / 'bad.py'
    bad.write_text('from %sbinance.api import BinanceOptionsClient\n' % PREFIX)
    assert [m for m in imported_modules(str(bad)) if m[len(PREFIX):].split('.')[0] in venues()]
