# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start the emulator as a separate process and drive its control endpoints (standard library only)."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'server.py')


class EmulatorProcess:
    """``python server.py --port 0`` in the background (``script``: another venue's emulator, such as deribit.py);
    ``url`` once it listens."""

    def __init__(self, accounts, python=sys.executable, extra_args=(), script=SERVER):
        self.accounts = accounts
        self.script = script
        self.python = python
        self.extra_args = list(extra_args)
        self.proc = None
        self.url = None

    def start(self, wait=15.0):
        fd, port_file = tempfile.mkstemp(prefix='emulator-', suffix='.url')
        os.close(fd)
        os.unlink(port_file)
        self.proc = subprocess.Popen([self.python, self.script, '--port', '0', '--accounts', self.accounts,
                                      '--port-file', port_file] + self.extra_args,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if os.path.exists(port_file) and os.path.getsize(port_file):
                with open(port_file) as f:
                    self.url = f.read().strip()
                os.unlink(port_file)
                return self
            if self.proc.poll() is not None:
                raise RuntimeError('the emulator exited: %s' % self.proc.stderr.read())
            time.sleep(0.05)
        self.stop()
        raise RuntimeError('the emulator did not start within %ss' % wait)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def control(url, method, path, data=None, cafile=None):
    """Call a control endpoint of the emulator at ``url``; returns the decoded answer.

    Over HTTPS, ``cafile`` is the CA that signed the emulator's certificate (tests/emulator/certs.py's ca.pem).
    """
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url + '/_emulator/' + path, data=body, method=method,
                                     headers={'Content-Type': 'application/json'})
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        return json.loads(response.read() or b'{}')


def journal(url, cafile=None):
    return control(url, 'GET', 'journal', cafile=cafile)['journal']


def summarize(entries):
    """Counts of a journal: requests, reads and writes of MMP, exchangeInfo reads, and 429/418 answers."""
    return dict(requests=len(entries),
                mmp_reads=sum(1 for e in entries if e['path'] == '/eapi/v1/mmp'),
                mmp_writes=sum(1 for e in entries if e['path'] == '/eapi/v1/mmpSet'),
                exchange_info=sum(1 for e in entries if e['path'] == '/eapi/v1/exchangeInfo'),
                http_429=sum(1 for e in entries if e.get('status') == 429),
                http_418=sum(1 for e in entries if e.get('status') == 418))
