# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Attributes every module of the collection shares.
    DOCUMENTATION = r'''
options: {}
attributes:
  action_group:
    description: Use C(group/marketops.mmp.binance) in C(module_defaults) to set the credentials once.
    support: full
    membership:
      - marketops.mmp.binance
'''

    # For modules that only read: check mode changes nothing, and there is no diff.
    INFO_MODULE = r'''
options: {}
attributes:
  check_mode:
    support: full
    description: The module only reads; it runs the same in check mode.
  diff_mode:
    support: N/A
    description: The module only reads; it returns no diff.
'''

    # Deribit's modules: their action group.
    DERIBIT = r'''
options: {}
attributes:
  action_group:
    description: Use C(group/marketops.mmp.deribit) in C(module_defaults) to set the credentials once.
    support: full
    membership:
      - marketops.mmp.deribit
'''
