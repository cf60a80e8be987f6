# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The cores of Binance's modules, by module name: what the controller fast path runs for each (a venue package's
``modules.CORES``, found by the module name's prefix, ``binance_``)."""

from __future__ import annotations

from ansible_collections.marketops.mmp.plugins.module_utils.binance.configs import MMP_CONFIGS
from ansible_collections.marketops.mmp.plugins.module_utils.binance.killswitch import KILL_SWITCH
from ansible_collections.marketops.mmp.plugins.module_utils.binance.mmp import MMP, MMP_INFO, MMP_RESET

CORES = {
    'binance_mmp': MMP,
    'binance_mmp_info': MMP_INFO,
    'binance_mmp_reset': MMP_RESET,
    'binance_kill_switch': KILL_SWITCH,
    'binance_mmp_configs': MMP_CONFIGS,
}
