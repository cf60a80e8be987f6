# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The execution environment definition: ansible-builder accepts it and finds the Python requirements."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from ansible_collections.marketops.mmp.tests.e2e.conftest import source_tree

BIN = os.path.dirname(sys.executable)


def tool(name):
    path = os.path.join(BIN, name)
    if not os.path.exists(path):
        pytest.skip('%s is not installed' % name)
    return path


def test_ansible_builder_creates_the_build_context(tmp_path):
    source = source_tree()
    with open(os.path.join(source, 'galaxy.yml')) as f:
        version = yaml.safe_load(f)['version']
    ee = tmp_path / 'execution-environment'
    shutil.copytree(os.path.join(source, 'execution-environment'), str(ee))
    with open(str(ee / 'requirements.yml')) as f:
        wanted = yaml.safe_load(f)['collections'][0]['name']
    assert wanted == '/build/collections/marketops-mmp-%s.tar.gz' % version, 'requirements.yml names another version'

    subprocess.run([tool('ansible-galaxy'), 'collection', 'build', '--force', '--output-path', str(ee / 'collections'),
                    source], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([tool('ansible-builder'), 'create', '-f', str(ee / 'execution-environment.yml'),
                    '-c', str(tmp_path / 'context')], check=True, stdout=subprocess.DEVNULL)
    context = tmp_path / 'context'
    assert (context / '_build' / 'collections' / os.path.basename(wanted)).is_file()
    dockerfile = (context / 'Dockerfile').read_text() if (context / 'Dockerfile').exists() else \
        (context / 'Containerfile').read_text()
    assert 'ansible-galaxy collection install' in dockerfile and 'COPY _build /build' in dockerfile

    # what the builder stage will find: the collection's Python requirements
    installed = tmp_path / 'installed'
    subprocess.run([tool('ansible-galaxy'), 'collection', 'install', '--force', '-p', str(installed),
                    str(ee / 'collections' / os.path.basename(wanted))], check=True, stdout=subprocess.DEVNULL)
    out = subprocess.run([sys.executable, str(context / '_build' / 'scripts' / 'introspect.py'), 'introspect',
                          str(installed)], check=True, stdout=subprocess.PIPE, text=True).stdout
    python = yaml.safe_load(out)['python']
    assert any(r.startswith('requests') for r in python) and any(r.startswith('cryptography') for r in python), out
