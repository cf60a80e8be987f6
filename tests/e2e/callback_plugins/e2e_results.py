# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: append every task result as a JSON line to $E2E_RESULTS_FILE."""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
name: e2e_results
type: notification
short_description: write task results as JSON lines for the end-to-end tests
description:
  - Appends one JSON object a task result (an item result for loops) to the file named by E2E_RESULTS_FILE.
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'notification'
    CALLBACK_NAME = 'e2e_results'
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, status, result):
        path = os.environ.get('E2E_RESULTS_FILE')
        if not path:
            return
        # Not _dump_results(): it drops the diff, which the tests check.
        data = {k: v for k, v in result._result.items() if not k.startswith('_ansible')}
        data = json.loads(json.dumps(data, default=str))
        record = dict(host=result._host.get_name(), task=result._task.get_name(), status=status, result=data)
        with open(path, 'a') as f:
            f.write(json.dumps(record) + '\n')

    def v2_runner_on_ok(self, result):
        if 'results' not in result._result:
            self._write('ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if 'results' not in result._result:
            self._write('failed', result)

    def v2_runner_item_on_ok(self, result):
        self._write('ok', result)

    def v2_runner_item_on_failed(self, result):
        self._write('failed', result)

    def v2_runner_on_unreachable(self, result):
        self._write('unreachable', result)
