# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The cores of Deribit's modules, by module name: what the controller fast path runs for each (a venue package's
``modules.CORES``, found by the module name's prefix, ``deribit_``)."""

from __future__ import annotations

from ansible_collections.marketops.mmp.plugins.module_utils.deribit.configs import MMP_CONFIGS
from ansible_collections.marketops.mmp.plugins.module_utils.deribit.mmp import MMP, MMP_INFO, MMP_RESET

CORES = {
    'deribit_mmp': MMP,
    'deribit_mmp_info': MMP_INFO,
    'deribit_mmp_reset': MMP_RESET,
    'deribit_mmp_configs': MMP_CONFIGS,
}
