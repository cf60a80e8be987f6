# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decision environment definition: ansible-builder accepts it; the image gets ansible-rulebook, Java 17
and the collection with its event source."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile

import yaml

from ansible_collections.marketops.mmp.tests.e2e.conftest import source_tree
from ansible_collections.marketops.mmp.tests.e2e.test_execution_environment import tool


def test_ansible_builder_creates_the_decision_environment_build_context(tmp_path):
    source = source_tree()
    with open(os.path.join(source, 'galaxy.yml')) as f:
        version = yaml.safe_load(f)['version']
    de = tmp_path / 'decision-environment'
    shutil.copytree(os.path.join(source, 'decision-environment'), str(de))
    with open(str(de / 'requirements.yml')) as f:
        wanted = yaml.safe_load(f)['collections'][0]['name']
    assert wanted == '/build/collections/marketops-mmp-%s.tar.gz' % version, 'requirements.yml names another version'
    with open(str(de / 'decision-environment.yml')) as f:
        definition = yaml.safe_load(f)
    with open(os.path.join(source, 'tests', 'requirements-dev.txt')) as f:
        pinned = [line.strip() for line in f if line.startswith('ansible-rulebook==')]
    assert definition['dependencies']['python'] == pinned, 'the DE and the tests use different ansible-rulebook versions'

    subprocess.run([tool('ansible-galaxy'), 'collection', 'build', '--force', '--output-path', str(de / 'collections'),
                    source], check=True, stdout=subprocess.DEVNULL)
    tarball = de / 'collections' / os.path.basename(wanted)
    with tarfile.open(str(tarball)) as tar:
        names = tar.getnames()
    for needed in ('extensions/eda/plugins/event_source/mmp_watch.py', 'extensions/eda/rulebooks/mmp_oncall.yml',
                   'plugins/module_utils/binance/watch.py', 'playbooks/record_mmp_incident.yml'):
        assert needed in names, '%s is missing from the collection tarball' % needed

    subprocess.run([tool('ansible-builder'), 'create', '-f', str(de / 'decision-environment.yml'),
                    '-c', str(tmp_path / 'context')], check=True, stdout=subprocess.DEVNULL)
    context = tmp_path / 'context'
    assert (context / '_build' / 'collections' / os.path.basename(wanted)).is_file()
    containerfile = context / 'Containerfile' if (context / 'Containerfile').exists() else context / 'Dockerfile'
    text = containerfile.read_text()
    assert 'ansible-galaxy collection install' in text and 'ENV JAVA_HOME=/usr/lib/jvm/jre-17-openjdk' in text
    requirements = (context / '_build' / 'requirements.txt').read_text()
    assert 'ansible-rulebook==1.3.2' in requirements
    assert 'java-17-openjdk' in (context / '_build' / 'bindep.txt').read_text()
