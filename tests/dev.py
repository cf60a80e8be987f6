# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Developer entry point; needs nothing but Python 3.11+.

    python3 tests/dev.py demo      apply the example inventory against the local emulator, twice
    python3 tests/dev.py test      the whole test suite (what .ci/run runs)

and, for the pieces of ``test``: ``units``, ``changelog``, ``lint``, ``docs-lint`` (antsibull-docs), ``importer``
(galaxy-importer on the built tarball, in ``.venv-importer/``, pinned in tests/requirements-importer.txt), ``matrix`` (every
ansible-core of tests/matrix.txt, see tests/matrix.py, which runs the end-to-end tests and ``ansible-test sanity``);
``e2e`` (the end-to-end tests) and ``sanity`` (ansible-test sanity) run on the development virtualenv alone;
``docs`` builds the collection's HTML docs into .tmp/docs; ``bench`` runs the fleet benchmark (tests/bench/fleet.py,
its options after it); ``bench-watch`` the mmp_watch event source's (tests/bench/watch.py).

Everything it makes stays in the checkout: ``.venv/`` (the tools, pinned in tests/requirements-dev.txt),
``.venv-matrix/`` (the matrix's virtualenvs), ``.venv-importer/`` (galaxy-importer) and ``.tmp/`` (the collection installed from the working tree,
scratch files).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, '.venv')
TMP = os.path.join(ROOT, '.tmp')
COLLECTIONS = os.path.join(TMP, 'collections')
INSTALLED = os.path.join(COLLECTIONS, 'ansible_collections', 'marketops', 'mmp')
REQUIREMENTS = os.path.join(ROOT, 'tests', 'requirements-dev.txt')
OFFLINE_PIP = os.path.normpath(os.path.join(ROOT, '..', 'shared', 'tools', 'ansible-test-offline-pip'))
BIN = os.path.join(VENV, 'Scripts' if os.name == 'nt' else 'bin')
IMPORTER_VENV = os.path.join(ROOT, '.venv-importer')  # galaxy-importer has pins of its own: a virtualenv of its own
IMPORTER_REQUIREMENTS = os.path.join(ROOT, 'tests', 'requirements-importer.txt')
IMPORTER_BIN = os.path.join(IMPORTER_VENV, 'Scripts' if os.name == 'nt' else 'bin')
PYTEST_DIRS = ('tests/unit', 'tests/e2e')  # what pytest runs in each full row of the matrix


def say(text):
    print('\n==> %s' % text, flush=True)


def run(cmd, cwd=ROOT, env=None, check=True):
    print('$ %s' % ' '.join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=cwd, env=env, check=False)
    if check and proc.returncode != 0:
        sys.exit('command failed (exit %d): %s' % (proc.returncode, ' '.join(cmd)))
    return proc.returncode


def tool(name):
    return os.path.join(BIN, name)


def ensure_venv(venv=VENV, requirements=REQUIREMENTS):
    """Create a virtualenv (.venv by default) and install its pinned tools; reinstall only when the requirements
    change."""
    if sys.version_info < (3, 11):
        sys.exit('Python 3.11 or newer is needed, this is %s' % sys.version.split()[0])
    with open(requirements, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    stamp = os.path.join(venv, '.requirements.sha256')
    if os.path.exists(stamp):
        with open(stamp) as f:
            if f.read().strip() == digest:
                return
    say('setting up %s' % os.path.relpath(venv, ROOT))
    python = os.path.join(venv, 'Scripts' if os.name == 'nt' else 'bin', 'python')
    if not os.path.exists(python):
        run([sys.executable, '-m', 'venv', venv])
    run([python, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirements])
    with open(stamp, 'w') as f:
        f.write(digest)


def env_for_tests():
    env = dict(os.environ)
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    env['VIRTUAL_ENV'] = VENV
    env['ANSIBLE_COLLECTIONS_PATH'] = COLLECTIONS
    env['PYTHONPATH'] = COLLECTIONS
    env['ANSIBLE_NOCOLOR'] = '1'
    env['MARKETOPS_MMP_SOURCE'] = ROOT  # for tests that need the checkout itself (galaxy.yml)
    env.pop('PYTHONHOME', None)
    return env


def install_collection():
    """Install the collection from the working tree, as a user would from a checkout."""
    say('installing marketops.mmp from the working tree into %s' % os.path.relpath(COLLECTIONS, ROOT))
    if os.path.isdir(INSTALLED):
        shutil.rmtree(INSTALLED)
    run([tool('ansible-galaxy'), 'collection', 'install', '--force', '-p', COLLECTIONS, ROOT],
        env=env_for_tests())


def pytest(what, tests):
    say('%s (pytest)' % what)
    tests = [t for t in tests if os.path.isdir(os.path.join(INSTALLED, t))]
    if not tests:
        print('no tests found in the installed copy')
        return 1
    return run([tool('python'), '-m', 'pytest', '-p', 'no:cacheprovider', '-q', '-ra'] + tests,
               cwd=INSTALLED, env=env_for_tests(), check=False)


def step_units():
    return pytest('unit tests', ['tests/unit'])


def step_e2e():
    # Not part of `test`: the matrix's full rows run these on the oldest and the newest ansible-core.
    return pytest('end-to-end tests', ['tests/e2e'])


def step_changelog():
    say('changelog fragments (antsibull-changelog lint)')
    return run([tool('antsibull-changelog'), 'lint'], env=env_for_tests(), check=False)


def step_lint():
    say('ansible-lint, production profile')
    env = env_for_tests()
    env.pop('PYTHONPATH', None)
    # So that the example inventory's vaulted files are linted too, not skipped.
    env['ANSIBLE_VAULT_PASSWORD_FILE'] = os.path.join(ROOT, 'playbooks', 'inventory', 'vault-password-demo.txt')
    return run([tool('ansible-lint'), '--profile', 'production', '--offline'], env=env, check=False)


def step_sanity(tests=()):
    say('ansible-test sanity')
    env = env_for_tests()
    env.pop('PYTHONPATH', None)
    if os.path.exists(OFFLINE_PIP):
        # This machine reaches the package index but not ansible-test's own download host.
        run(['bash', OFFLINE_PIP, tool('python')], env=env)
    # ansible-test lists the files to check with git. The installed copy lies in the checkout's ignored
    # .tmp/, so it gets a throw-away repository of its own; otherwise every target would be skipped.
    git_env = dict(env, GIT_AUTHOR_NAME='dev.py', GIT_AUTHOR_EMAIL='dev@localhost',
                   GIT_COMMITTER_NAME='dev.py', GIT_COMMITTER_EMAIL='dev@localhost')
    run(['git', 'init', '-q'], cwd=INSTALLED, env=git_env)
    run(['git', 'add', '-A'], cwd=INSTALLED, env=git_env)
    python = '%d.%d' % sys.version_info[:2]
    selected = [arg for name in tests for arg in ('--test', name)]
    proc = subprocess.run([tool('ansible-test'), 'sanity', '--requirements', '--python', python, '--color', 'no'] + selected,
                          cwd=INSTALLED, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    print(proc.stdout, flush=True)
    if proc.returncode == 0 and 'All targets skipped' in proc.stdout:
        print('ansible-test found nothing to check: treated as a failure')
        return 1
    return proc.returncode


def step_docs():
    """The collection's docs as the ecosystem checks them (antsibull-docs, plugin docs included)."""
    say('collection docs (antsibull-docs lint-collection-docs: plugin docs and the guides of docs/docsite)')
    env = env_for_tests()
    env.pop('PYTHONPATH', None)
    # The checkout, not the installed copy: antsibull-docs wants the directory holding galaxy.yml (given the installed
    # copy, it finds no plugin and passes). Every reference to a plugin or module, in the plugin docs and in the guides
    # (docs/docsite/rst, listed in docs/docsite/extra-docs.yml), must name one that exists; a collection it cannot find
    # is an error too. Links to the guides' own labels (:ref:) are checked by tests/unit/test_docs.py and by `docs`.
    return run([tool('antsibull-docs'), 'lint-collection-docs', '--plugin-docs', '--check-extra-docs-refs',
                '--validate-collection-refs', 'all', '--disallow-unknown-collection-refs', ROOT], env=env, check=False)


# What galaxy-importer may warn about without failing the step. Only this: an empty sanity ignore file (the project
# keeps tests/sanity/ignore-*.txt empty, see STYLE) skips nothing; one with an entry is a warning that fails.
IMPORTER_BENIGN = (re.compile(r'^WARNING: Ignore files skip ansible-test sanity tests, found ignore-[0-9.]+\.txt with 0 '
                              r'statement\(s\)$'),)


def importer_problems(output, result, collection=ROOT):
    """What fails the importer step: its errors, its warnings (but the benign ones), and a result that lacks what Galaxy
    shows (the docs of every module, filter and event source; requires_ansible)."""
    problems = [line for line in output.splitlines() if line.startswith('ERROR:')
                or (line.startswith('WARNING:') and not any(p.match(line) for p in IMPORTER_BENIGN))]
    if 'Importer processing completed successfully' not in output or result is None:
        return problems + ['the import did not complete']
    with open(os.path.join(collection, 'meta', 'runtime.yml')) as f:
        requires = re.search(r"^requires_ansible: *'?([^'\n]+)'?", f.read(), re.M).group(1)
    if result.get('requires_ansible') != requires:
        problems.append('requires_ansible: %r, meta/runtime.yml says %r' % (result.get('requires_ansible'), requires))
    documented = {(c['content_type'], c['content_name']) for c in result['docs_blob']['contents'] if c['doc_strings']}
    wanted = {(kind, os.path.splitext(name)[0]) for kind, folder in
              (('module', 'plugins/modules'), ('filter', 'plugins/filter'),
               ('eda/plugins/event_source', 'extensions/eda/plugins/event_source'))
              for name in os.listdir(os.path.join(collection, folder))
              if name.endswith(('.py', '.yml')) and not name.startswith('_') and
              not (kind == 'filter' and name.endswith('.py'))}  # a filter file holds several: their docs are .yml
    problems += ['%s %s: no documentation in the import result' % item for item in sorted(wanted - documented)]
    return problems


def step_importer():
    """galaxy-importer, as Galaxy and Automation Hub run it, on the tarball `ansible-galaxy collection build` makes:
    ansible-doc on every plugin and the event source (meta/extensions.yml), meta/runtime.yml, the changelog, its
    ansible-lint, file checks. Its ansible-test step is off (it needs containers); the matrix runs ansible-test."""
    say('galaxy-importer on the built collection (tests/requirements-importer.txt, in %s)'
        % os.path.relpath(IMPORTER_VENV, ROOT))
    ensure_venv(IMPORTER_VENV, IMPORTER_REQUIREMENTS)
    work = os.path.join(TMP, 'importer')
    if os.path.isdir(work):
        shutil.rmtree(work)
    os.makedirs(os.path.join(work, 'tmp'))
    env = env_for_tests()
    for name in ('PYTHONPATH', 'ANSIBLE_COLLECTIONS_PATH', 'VIRTUAL_ENV'):
        env.pop(name, None)
    run([tool('ansible-galaxy'), 'collection', 'build', '--force', '--output-path', work, ROOT], env=env)
    tarballs = [name for name in os.listdir(work) if name.endswith('.tar.gz')]
    config = os.path.join(work, 'galaxy-importer.cfg')
    with open(config, 'w') as f:
        f.write('[galaxy-importer]\n'
                'run_ansible_test = false\n'        # containers; the matrix runs ansible-test sanity
                'run_ansible_doc = true\n'
                'run_ansible_lint = true\n'
                'offline_ansible_lint = true\n'
                'check_changelog = true\n'
                'ansible_local_tmp = %s\n'
                'tmp_root_dir = %s\n' % (os.path.join(work, 'ansible-tmp'), os.path.join(work, 'tmp')))
    env['GALAXY_IMPORTER_CONFIG'] = config
    env['PATH'] = IMPORTER_BIN + os.pathsep + os.environ.get('PATH', '')  # its ansible-doc and ansible-lint
    env['VIRTUAL_ENV'] = IMPORTER_VENV
    cmd = [os.path.join(IMPORTER_BIN, 'python'), '-m', 'galaxy_importer.main', tarballs[0]]
    print('$ %s' % ' '.join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False)
    print('\n'.join(line for line in proc.stdout.splitlines() if not line.startswith('Loading ')), flush=True)
    result = None
    if os.path.isfile(os.path.join(work, 'importer_result.json')):
        with open(os.path.join(work, 'importer_result.json')) as f:
            result = json.load(f)
    problems = importer_problems(proc.stdout, result)
    if proc.returncode != 0:
        problems.append('galaxy-importer exited with %d' % proc.returncode)
    if problems:
        print('galaxy-importer: %d problem(s):\n  %s' % (len(problems), '\n  '.join(problems)))
        return 1
    print('galaxy-importer: imported, no error and no warning (but an empty sanity ignore file)')
    return 0


def cmd_docs():
    """Build the collection's HTML docs into .tmp/docs (antsibull-docs sphinx-init, then Sphinx)."""
    ensure_venv()
    install_collection()
    if step_docs() != 0:
        return 1
    docs = os.path.join(TMP, 'docs')
    if os.path.isdir(docs):
        shutil.rmtree(docs)
    os.makedirs(docs, mode=0o700)  # sphinx-init wants an existing directory only its owner may write
    env = env_for_tests()
    env.pop('PYTHONPATH', None)
    say('HTML docs into %s' % os.path.relpath(docs, ROOT))
    run([tool('antsibull-docs'), 'sphinx-init', '--use-current', '--squash-hierarchy', '--dest-dir', docs,
         'marketops.mmp'], env=env)
    # What build.sh does, with this checkout's tools (sphinx-init's requirements.txt is not installed: the pinned
    # antsibull-docs, Sphinx and sphinx-ansible-theme of tests/requirements-dev.txt are).
    rst = os.path.join(docs, 'rst')
    run([tool('antsibull-docs'), 'collection', '--use-current', '--squash-hierarchy', '--dest-dir', rst,
         'marketops.mmp'], env=env)
    warnings = os.path.join(docs, 'sphinx-warnings.txt')
    run([tool('sphinx-build'), '-M', 'html', rst, os.path.join(docs, 'build'), '-c', docs, '-q', '-w', warnings],
        env=env)
    # Offline, Sphinx cannot fetch the intersphinx inventories (docs.ansible.com, docs.python.org), so references to
    # the Ansible docsite's labels stay unresolved: those warnings are expected here; any other fails the build.
    with open(warnings) as f:
        text = f.read()
    offline = 'not fetchable' in text
    # A label of this collection (the guides' :ref: targets, the plugin pages') is never an intersphinx one: undefined,
    # it fails even offline.
    other = [line for line in text.splitlines() if 'WARNING' in line and 'failed to reach any of the inventories' not in line
             and not (offline and 'undefined label' in line and 'ansible_collections.marketops.mmp.' not in line)]
    index = os.path.join(docs, 'build', 'html', 'index.html')
    if other or not os.path.isfile(index):
        print('\n'.join(other) or 'no %s: the build failed' % index)
        return 1
    if offline:
        print('(offline: the intersphinx inventories could not be fetched; links to the Ansible docsite are plain text)')
    print('docs: %s' % index)
    return 0


MATRIX_OPTIONS = dict(jobs=min(2, os.cpu_count() or 1), only=(), write=False)


def step_matrix():
    """Every ansible-core of tests/matrix.txt in its own virtualenv (tests/matrix.py)."""
    sys.path.insert(0, os.path.join(ROOT, 'tests'))
    import matrix  # pylint: disable=import-outside-toplevel
    try:
        return matrix.run_matrix(PYTEST_DIRS, OFFLINE_PIP if os.path.exists(OFFLINE_PIP) else None, **MATRIX_OPTIONS)
    except matrix.MatrixError as e:
        print('matrix: %s' % e)
        return 2


STEPS = {'units': step_units, 'e2e': step_e2e, 'changelog': step_changelog, 'lint': step_lint,
         'sanity': step_sanity, 'docs-lint': step_docs, 'importer': step_importer, 'matrix': step_matrix}


def cmd_test(names):
    if names != ['matrix']:  # the matrix makes virtualenvs of its own
        ensure_venv()
        install_collection()
    started = time.monotonic()
    results = []
    for name in names:
        step_started = time.monotonic()
        rc = STEPS[name]()
        results.append((name, rc, time.monotonic() - step_started))
    failed = [name for name, rc, _seconds in results if rc != 0]
    say('summary (%.0f s)' % (time.monotonic() - started))
    for name, rc, seconds in results:
        print('  %-10s %-20s %5.0f s' % (name, 'ok' if rc == 0 else 'FAILED (exit %d)' % rc, seconds))
    print('checks: %d passed, %d failed' % (len(results) - len(failed), len(failed)))
    return 1 if failed else 0


def cmd_demo(args):
    ensure_venv()
    install_collection()
    sys.path.insert(0, os.path.join(ROOT, 'tests'))
    from demo import run_demo  # pylint: disable=import-outside-toplevel
    return run_demo(ROOT, BIN, COLLECTIONS, env_for_tests())


def cmd_bench(extra):
    ensure_venv()
    install_collection()
    return run([tool('python'), os.path.join(ROOT, 'tests', 'bench', 'fleet.py')] + extra, env=env_for_tests(),
               check=False)


def cmd_bench_watch(extra):
    ensure_venv()
    install_collection()
    return run([tool('python'), os.path.join(ROOT, 'tests', 'bench', 'watch.py')] + extra, env=env_for_tests(),
               check=False)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python3 tests/dev.py', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('command', choices=['demo', 'test', 'bench', 'bench-watch', 'docs'] + sorted(STEPS))
    parser.add_argument('--test', action='append', default=[], metavar='NAME',
                        help='with sanity: run only this ansible-test sanity test (repeatable)')
    parser.add_argument('--jobs', type=int, default=MATRIX_OPTIONS['jobs'],
                        help='with matrix: ansible-core versions run at a time (default: %(default)s)')
    parser.add_argument('--only', action='append', default=[], metavar='X.Y',
                        help='with matrix: run only this ansible-core minor (repeatable)')
    parser.add_argument('--write-readme', action='store_true',
                        help='with matrix: write README.md\'s tested-range table from this run')
    parser.add_argument('--latest', action='store_true',
                        help='with matrix: compare the pinned ansible-core releases with PyPI, run nothing')
    args, extra = parser.parse_known_args(argv)
    if args.command == 'bench':
        return cmd_bench(extra)
    if args.command == 'bench-watch':
        return cmd_bench_watch(extra)
    if extra:
        parser.error('unrecognized arguments: %s' % ' '.join(extra))
    if args.test:
        STEPS['sanity'] = lambda: step_sanity(args.test)
    MATRIX_OPTIONS.update(jobs=args.jobs, only=tuple(args.only), write=args.write_readme)
    if args.command == 'matrix' and args.latest:
        sys.path.insert(0, os.path.join(ROOT, 'tests'))
        import matrix  # pylint: disable=import-outside-toplevel
        return matrix.latest_versions(matrix.read_matrix())
    if args.command == 'demo':
        return cmd_demo(args)
    if args.command == 'docs':
        return cmd_docs()
    if args.command == 'test':
        # No `sanity` or `e2e` here: the matrix runs ansible-test sanity on every ansible-core (2.19 included), the
        # end-to-end tests in full on the oldest and the newest and their smoke on every other (README, Tested range).
        return cmd_test(['units', 'changelog', 'lint', 'docs-lint', 'importer', 'matrix'])
    return cmd_test([args.command])


if __name__ == '__main__':
    sys.exit(main())
