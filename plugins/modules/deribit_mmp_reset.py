#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: deribit_mmp_reset
short_description: Reset a triggered Deribit Market Maker Protection (MMP) config
version_added: 2.0.0
description:
  - Resets the MMP of one config of one Deribit account (C(private/reset_mmp)), so that quoting may resume before
    its frozen time ends, or at all when its frozen time is 0.
  - Reads the config (C(private/get_mmp_config) of its scope) and the account's triggered configs of its kind first
    (C(private/get_mmp_status) without parameters, or with C(block_rfq=true) for a Block RFQ config, which lists it
    whichever way Deribit reads the documented default false of C(block_rfq)); with O(only_if_frozen=true) (the
    default) nothing is sent when the config is not frozen.
  - When the outcome of the reset is unknown (a timeout, a dropped connection, a 5xx), reads the status back and
    decides from it.
  - All options are validated before any request is sent.
author:
  - marketops infrastructure team (@marketops)
extends_documentation_fragment:
  - marketops.mmp.deribit
  - marketops.mmp.attributes.deribit
attributes:
  check_mode:
    support: full
    description: Reads the state and reports whether a reset would be sent; never sends it.
  diff_mode:
    support: full
    description: Returns the frozen state before and after the task.
  idempotent:
    support: partial
    description:
      - With O(only_if_frozen=true) a second run is C(ok) once the config is no longer frozen.
      - With O(only_if_frozen=false) every run sends a reset and reports C(changed).
options:
  index_name:
    description:
      - The index of the config, such as V(btc_usd) (any case). V(all) only with O(block_rfq=true).
    type: str
    required: true
  mmp_group:
    description:
      - The MMP group of the config; if not set, the default group.
    type: str
  block_rfq:
    description:
      - Whether to reset the Block RFQ config.
    type: bool
    default: false
  only_if_frozen:
    description:
      - Send the reset only when the config is frozen now. V(false) sends it whatever the state.
    type: bool
    default: true
seealso:
  - module: marketops.mmp.deribit_mmp
  - module: marketops.mmp.deribit_mmp_info
'''

EXAMPLES = r'''
- name: Reset BTC's MMP if it triggered
  marketops.mmp.deribit_mmp_reset:
    index_name: btc_usd
    client_id: "{{ deribit_client_id }}"
    client_secret: "{{ deribit_client_secret }}"
  register: reset

- name: Reset the mass-quote group q1 of ETH, whatever its state
  marketops.mmp.deribit_mmp_reset:
    index_name: eth_usd
    mmp_group: q1
    only_if_frozen: false
    client_id: "{{ deribit_client_id }}"
    client_secret: "{{ deribit_client_secret }}"
'''

RETURN = r'''
config:
  description: The MMP config of the scope (as P(marketops.mmp.deribit_mmp#module) returns it); C(window_s=0) when
    there is none.
  returned: success
  type: dict
  sample:
    index_name: btc_usd
    mmp_group: null
    block_rfq: false
    window_s: 10
    frozen_s: 0
    qty_limit: "50"
    delta_limit: null
    vega_limit: null
    max_quote_qty: null
    trade_count_limit: null
was_frozen:
  description: Whether the config was frozen before the task.
  returned: success
  type: bool
  sample: true
diff:
  description: The config with C(frozen) and C(frozen_until) before and after the task.
  returned: in check mode and in diff mode
  type: dict
  contains:
    before:
      description: Before the task.
      type: dict
    after:
      description: After the task.
      type: dict
used_weight:
  description: Always null for Deribit (it reports no used weight in its answers).
  returned: always
  type: int
  sample: null
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.marketops.mmp.plugins.module_utils.deribit.mmp import MMP_RESET as CORE
from ansible_collections.marketops.mmp.plugins.module_utils.runner import argument_spec, run_module


def main():
    run_module(AnsibleModule(argument_spec=argument_spec(CORE), supports_check_mode=True), CORE)


if __name__ == '__main__':
    main()
