# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action plugin of Deribit's modules (meta/runtime.yml routes the others to it): the controller fast path
(plugins/plugin_utils/fast_path.py), the same one as every venue's."""

from __future__ import annotations

from ansible_collections.marketops.mmp.plugins.plugin_utils.fast_path import FastPathAction


class ActionModule(FastPathAction):
    """The shared fast path; the module is found from the task's action name."""
