# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The built artifact: ``ansible-galaxy collection build`` of the checkout, its tarball listed and read.

No virtualenv, cache, test output, scratch directory or key material other than the emulator's demo keys may be
in it; the full GPL-3.0-or-later text is its LICENSE. The checkout is the one tests/dev.py names
($MARKETOPS_MMP_SOURCE; CI's clean clone, with the virtualenvs and scratch files the earlier steps made).
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile

import yaml

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ansible_collections.marketops.mmp.tests.e2e.conftest import source_tree

# sha256 of the GPL version 3 text as the FSF publishes it (Debian: /usr/share/common-licenses/GPL-3).
GPL3_SHA256 = '3972dc9744f6499f0f9b2dbf76696f2ae7ad8af9b23dde66d6af86c9dfb36986'

# Never in an artifact: a path with one of these components, or a name matching one of these patterns.
JUNK_DIRS = {'.venv', '.venv-matrix', '.venv-docs', '.venv-importer', '.tmp', '.git', '__pycache__', '.pytest_cache', '.ansible',
             '.tox', '.nox', '.mypy_cache', '.ruff_cache', 'node_modules'}
JUNK_FILES = ['*.pyc', '*.pyo', '*.tar.gz', '*.log', '*.retry', '.coverage', 'junit*.xml', 'pyvenv.cfg']
KEY_FILES = ['*.pem', '*.key', '*.p12', '*.pfx', '*.jks', '*.ppk', 'id_rsa*', 'id_ecdsa*', 'id_ed25519*', '*.asc',
             '*vault*']
# The emulator's demo keys, and nothing else: the public key the emulator checks acct-bravo's signatures with,
# and the example inventory's Vault files with the demo password (the HMAC demo secrets are in
# tests/emulator/accounts.example.json, a file no key pattern names).
DEMO_KEYS = ['tests/emulator/keys/*.pub.pem', 'playbooks/inventory/host_vars/*/vault.yml',
             'playbooks/inventory/vault-password-demo.txt']
# A PEM private key block with a body (the unit tests' truncated stand-ins have none): never, anywhere.
PRIVATE_KEY = re.compile(rb'-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----\s+(\S+: [^\n]*\n)*[A-Za-z0-9+/=\s]{60,}')
VAULT = re.compile(rb'\$ANSIBLE_VAULT;\d\.\d;AES256[^\n]*\n\s*[0-9a-f]{32}')  # only in the demo Vault files


def build(source, out_dir):
    galaxy = os.path.join(os.path.dirname(sys.executable), 'ansible-galaxy')
    subprocess.run([galaxy, 'collection', 'build', '--force', '--output-path', str(out_dir), source], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    with open(os.path.join(source, 'galaxy.yml')) as f:
        meta = yaml.safe_load(f)
    path = os.path.join(str(out_dir), '%s-%s-%s.tar.gz' % (meta['namespace'], meta['name'], meta['version']))
    assert os.path.isfile(path), os.listdir(str(out_dir))
    return path


def problems(tarball):
    """Every member that should not be in the artifact, with the reason."""
    out = []
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            name = member.name[2:] if member.name.startswith('./') else member.name
            parts = name.split('/')
            base = parts[-1]
            if member.issym() or member.islnk():
                out.append('%s: a link' % name)
            if JUNK_DIRS & set(parts[:-1] if member.isfile() else parts) or (name.startswith('tests/output')):
                out.append('%s: virtualenv, cache, scratch or test output' % name)
            elif member.isfile() and any(fnmatch.fnmatch(base, p) for p in JUNK_FILES):
                out.append('%s: build or test leftover' % name)
            if not member.isfile():
                continue
            demo = any(fnmatch.fnmatch(name, p) for p in DEMO_KEYS)
            if any(fnmatch.fnmatch(base.lower(), p) for p in KEY_FILES) and not demo:
                out.append('%s: a key file' % name)
            data = tar.extractfile(member).read()
            if PRIVATE_KEY.search(data) or (VAULT.search(data) and not demo):
                out.append('%s: holds key material' % name)
    return out


def members(tarball):
    with tarfile.open(tarball) as tar:
        return {m.name[2:] if m.name.startswith('./') else m.name: m for m in tar.getmembers()}


def read(tarball, name):
    with tarfile.open(tarball) as tar:
        return tar.extractfile(name).read()


def test_artifact_of_the_checkout_is_clean(tmp_path):
    tarball = build(source_tree(), tmp_path)
    assert problems(tarball) == []
    names = members(tarball)
    for wanted in ('MANIFEST.json', 'FILES.json', 'LICENSE', 'README.md', 'meta/runtime.yml',
                   'plugins/modules/binance_mmp.py', 'plugins/action/binance_mmp.py', 'playbooks/apply_mmp.yml'):
        assert wanted in names, wanted
    assert hashlib.sha256(read(tarball, 'LICENSE')).hexdigest() == GPL3_SHA256, 'LICENSE is not the GPL-3.0 text'
    # every demo key the artifact holds is the emulator's: demo accounts, encrypted by Vault, or a public key
    for name in names:
        if fnmatch.fnmatch(name, 'playbooks/inventory/host_vars/*/vault.yml'):
            assert read(tarball, name).startswith(b'$ANSIBLE_VAULT;'), name
        if fnmatch.fnmatch(name, 'tests/emulator/keys/*'):
            assert b'PRIVATE' not in read(tarball, name), name


def tracked_files(source):
    try:
        out = subprocess.run(['git', '-C', source, 'ls-files', '-z'], check=True, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return [p for p in out.decode().split('\0') if p and os.path.isfile(os.path.join(source, p))]


def test_build_ignore_drops_what_a_working_checkout_holds(tmp_path):
    """A copy of the checkout with everything tests, tools and editors leave in one: none of it is built in."""
    source = source_tree()
    copy = tmp_path / 'checkout'
    files = tracked_files(source)
    if files is None:
        shutil.copytree(source, str(copy), ignore=shutil.ignore_patterns(*JUNK_DIRS))
    else:
        for name in files:
            os.makedirs(str(copy / os.path.dirname(name)), exist_ok=True)
            shutil.copy2(os.path.join(source, name), str(copy / name))
    junk = ['.venv/bin/python', '.venv/pyvenv.cfg', '.venv-matrix/ansible-core-2.16-py3.10/pyvenv.cfg',
            '.venv-docs/lib/x.py', '.venv-importer/bin/galaxy-importer', '.tmp/importer/importer_result.json',
            '.tmp/collections/ansible_collections/marketops/mmp/galaxy.yml',
            '.tmp/docs/build/html/index.html', 'tests/output/junit/python3.11-units.xml',
            'plugins/module_utils/__pycache__/client.cpython-311.pyc', 'tests/unit/__pycache__/conftest.cpython-311.pyc',
            '.pytest_cache/v/cache/lastfailed', 'tests/.pytest_cache/README.md', '.ansible/collections/x.txt',
            'tests/e2e/.pytest_cache/CACHEDIR.TAG', 'marketops-mmp-0.9.0.tar.gz',
            'execution-environment/context/Containerfile', 'execution-environment/collections/x.tar.gz']
    for name in junk:
        os.makedirs(str(copy / os.path.dirname(name)), exist_ok=True)
        (copy / name).write_text('junk\n')
    tarball = build(str(copy), tmp_path / 'out')
    assert problems(tarball) == []
    assert set(junk) & set(members(tarball)) == set()


def test_the_listing_finds_keys_and_leftovers(tmp_path):
    """The check itself: a tarball with a private key, a venv and a cache is refused, member by member."""
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    entries = {'plugins/modules/binance_mmp.py': b'# module\n', 'tests/unit/fixtures/key.txt': pem,
               'tests/emulator/keys/acct-x.pub.pem': pem, 'README.md': b'text\n' + pem, 'docs/id_ed25519': b'x', '.venv/pyvenv.cfg': b'x',
               'plugins/__pycache__/a.pyc': b'x', 'tests/output/results.xml': b'x',
               'playbooks/secrets.yml': b'$ANSIBLE_VAULT;1.1;AES256\n' + b'3961' * 20 + b'\n'}
    tarball = str(tmp_path / 'bad.tar.gz')
    with tarfile.open(tarball, 'w:gz') as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    found = '\n'.join(problems(tarball))
    for name in entries:
        if name != 'plugins/modules/binance_mmp.py':
            assert name in found
    assert 'plugins/modules/binance_mmp.py' not in found
