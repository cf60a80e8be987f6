# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guides (docs/docsite/rst) hang together: each is listed in extra-docs.yml and linked from the README, and every
:ref: to one of this collection's guide labels names a label a guide defines. antsibull-docs' lint checks the plugin
references (:ansplugin:, with --check-extra-docs-refs), Sphinx the rest, but only when `python3 tests/dev.py docs` runs;
this is the cheap check that `test` runs every time.
"""

from __future__ import annotations

import os
import re

import yaml

COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCSITE = os.path.join(COLLECTION, 'docs', 'docsite')
RST = os.path.join(DOCSITE, 'rst')
LABEL = re.compile(r'^\.\. _(ansible_collections\.marketops\.mmp\.docsite\.[\w.]+):\s*$', re.M)
REF = re.compile(r':ref:`(?:[^`<]*<)?(ansible_collections\.marketops\.mmp\.docsite\.[\w.]+)>?`')


def guides():
    return sorted(f[:-4] for f in os.listdir(RST) if f.endswith('.rst'))


def read(name):
    with open(os.path.join(RST, name + '.rst')) as f:
        return f.read()


def test_every_guide_is_listed_once_and_every_listed_one_exists():
    with open(os.path.join(DOCSITE, 'extra-docs.yml')) as f:
        listed = [doc for section in yaml.safe_load(f)['sections'] for doc in section['toctree']]
    assert sorted(listed) == guides()


def test_each_guide_starts_with_its_own_label():
    for name in guides():
        labels = LABEL.findall(read(name))
        assert labels and labels[0] == 'ansible_collections.marketops.mmp.docsite.%s' % name, name


def test_every_ref_to_a_guide_label_is_defined():
    defined = {label for name in guides() for label in LABEL.findall(read(name))}
    for name in guides():
        missing = sorted(set(REF.findall(read(name))) - defined)
        assert missing == [], '%s: %s' % (name, missing)


def test_the_readme_links_every_guide():
    with open(os.path.join(COLLECTION, 'README.md')) as f:
        readme = f.read()
    linked = set(re.findall(r'\]\(docs/docsite/rst/(\w+)\.rst\)', readme))
    assert linked == set(guides())
