#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: deribit_mmp_info
short_description: Read the Market Maker Protection (MMP) configs and frozen state of a Deribit account
version_added: 2.0.0
description:
  - Reads every MMP config of one Deribit account, or those of one index, and whether each is frozen now.
  - Deribit documents C(block_rfq) with a default of false, so that a listing of the account without it may leave
    the Block RFQ configs out. The configs are listed twice (C(private/get_mmp_config) without parameters, and with
    C(block_rfq=true)), merged by scope and filtered by O(index_name) here; then the triggered configs are listed
    (C(private/get_mmp_status)) once per kind of config found (without parameters, with C(block_rfq=true)).
  - Never writes. Makes 2 to 4 requests (2 when there is no config), whatever the number of configs. The API key
    needs C(trade:read) and C(block_rfq:read).
  - All options are validated before any request is sent.
author:
  - marketops infrastructure team (@marketops)
extends_documentation_fragment:
  - marketops.mmp.deribit
  - marketops.mmp.attributes.deribit
  - marketops.mmp.attributes.info_module
options:
  index_name:
    description:
      - Only the configs of this index, such as V(btc_usd) (any case), whatever their MMP group and Block RFQ or not.
        V(all) is the Block RFQ config of every index.
      - If not set, every config of the account.
    type: str
notes:
  - C(frozen) and C(frozen_until) use the exchange's clock as well as the task knows it (the C(Date) header of its
    answers), not only the clock of the host running the task.
seealso:
  - module: marketops.mmp.deribit_mmp
  - module: marketops.mmp.deribit_mmp_reset
'''

EXAMPLES = r'''
- name: Read every MMP config of the account
  marketops.mmp.deribit_mmp_info:
    account: "{{ inventory_hostname }}"
    client_id: "{{ deribit_client_id }}"
    client_secret: "{{ deribit_client_secret }}"
  register: state

- name: Show the frozen configs
  ansible.builtin.debug:
    msg: "{{ state.mmp | selectattr('frozen') | list }}"

- name: Read the BTC configs only
  marketops.mmp.deribit_mmp_info:
    index_name: btc_usd
    client_id: "{{ deribit_client_id }}"
    client_secret: "{{ deribit_client_secret }}"
'''

RETURN = r'''
mmp:
  description: One entry per config, in the exchange's order; an empty list when there is none.
  returned: success
  type: list
  elements: dict
  contains:
    index_name:
      description: The index, lower case.
      type: str
      sample: btc_usd
    mmp_group:
      description: The MMP group; null for the default group.
      type: str
      sample: null
    block_rfq:
      description: Whether this is a Block RFQ config.
      type: bool
      sample: false
    window_s:
      description: The MMP window in seconds.
      type: int
      sample: 10
    frozen_s:
      description: The frozen time in seconds; 0 means until a manual reset.
      type: int
      sample: 30
    qty_limit:
      description: The quantity limit as a plain decimal string; null when unset.
      type: str
      sample: "50"
    delta_limit:
      description: The delta limit as a plain decimal string; null when unset.
      type: str
      sample: "20.5"
    vega_limit:
      description: The vega limit as a plain decimal string; null when unset.
      type: str
      sample: null
    max_quote_qty:
      description: The max quote quantity as a plain decimal string; null when unset.
      type: str
      sample: null
    trade_count_limit:
      description: The Block RFQ trade count limit; null when unset.
      type: int
      sample: null
    frozen:
      description: Whether MMP triggered for this config and quoting is frozen now.
      type: bool
      sample: false
    frozen_until:
      description: When the freeze ends, in milliseconds since the epoch; null when not frozen, or when frozen until
        a manual reset.
      type: int
      sample: null
used_weight:
  description: Always null for Deribit (it reports no used weight in its answers).
  returned: always
  type: int
  sample: null
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.marketops.mmp.plugins.module_utils.deribit.mmp import MMP_INFO as CORE
from ansible_collections.marketops.mmp.plugins.module_utils.runner import argument_spec, run_module


def main():
    run_module(AnsibleModule(argument_spec=argument_spec(CORE), supports_check_mode=True), CORE)


if __name__ == '__main__':
    main()
