#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: binance_mmp_info
short_description: Read the Market Maker Protection (MMP) state and kill-switch of a Binance options account
version_added: 1.1.0
description:
  - Reads, for each underlying, the MMP config (C(GET /eapi/v1/mmp)) and the kill-switch, the auto-cancel
    countdown (C(GET /eapi/v1/countdownCancelAll)), of one Binance options account, and derives whether MMP is
    configured, has triggered, and is frozen now.
  - Never writes. Makes one MMP read and one kill-switch read per underlying, plus one
    C(GET /eapi/v1/exchangeInfo) when O(underlyings) is not set.
  - All options are validated before any request is sent.
author:
  - marketops infrastructure team (@marketops)
extends_documentation_fragment:
  - marketops.mmp.binance
  - marketops.mmp.attributes
  - marketops.mmp.attributes.info_module
options:
  underlyings:
    description:
      - The underlyings to read, such as V(BTCUSDT). Letters and digits only; any case is accepted. Duplicates are
        read once; at most 200.
      - If not set (or empty), every underlying the exchange lists in C(GET /eapi/v1/exchangeInfo)
        (C(optionContracts[].underlying)), in the exchange's order.
    type: list
    elements: str
notes:
  - The derived values use the exchange's clock (the C(Date) header of its answers, to the second), not the clock
    of the host running the task.
  - What the exchange answers for an underlying that was never configured is not documented; an answer with zero
    values reads as not configured.
  - Whether a reset clears C(lastTriggerTime) is not documented. If the exchange keeps it, an underlying with
    C(frozen_ms=0) keeps reading as frozen after a reset.
seealso:
  - module: marketops.mmp.binance_mmp
  - module: marketops.mmp.binance_mmp_reset
  - module: marketops.mmp.binance_kill_switch
'''

EXAMPLES = r'''
- name: Read the MMP state of every underlying the exchange lists
  marketops.mmp.binance_mmp_info:
    account: "{{ inventory_hostname }}"
    api_key: "{{ binance_api_key }}"
    api_secret: "{{ binance_api_secret }}"
  register: state

- name: Show the frozen underlyings
  ansible.builtin.debug:
    msg: "{{ state.mmp | selectattr('frozen') | map(attribute='underlying') | list }}"

- name: Read two underlyings only
  marketops.mmp.binance_mmp_info:
    underlyings: [BTCUSDT, ETHUSDT]
    api_key: "{{ binance_api_key }}"
    private_key: "{{ binance_private_key }}"
  register: state
'''

RETURN = r'''
mmp:
  description:
    - One entry per underlying, in the order read; an empty list when there is none.
    - The config keys are those of the C(config) of M(marketops.mmp.binance_mmp); the derived keys are
      computed by the module from them and the exchange's clock.
  returned: success
  type: list
  elements: dict
  contains:
    underlying:
      description: The underlying, upper case.
      type: str
      sample: BTCUSDT
    window_ms:
      description: The MMP window in milliseconds; 0 when not configured.
      type: int
      sample: 3000
    frozen_ms:
      description: The frozen time in milliseconds; 0 means until a manual reset.
      type: int
      sample: 300000
    qty_limit:
      description: The quantity limit as a normalised decimal string (no exponent, no trailing zeros).
      type: str
      sample: "2"
    delta_limit:
      description: The delta limit as a normalised decimal string.
      type: str
      sample: "2.3"
    last_trigger_time:
      description: When MMP last triggered, in milliseconds since the epoch; 0 if never.
      type: int
      sample: 0
    configured:
      description: Derived, C(window_ms > 0).
      type: bool
      sample: true
    triggered:
      description: Derived, C(last_trigger_time > 0).
      type: bool
      sample: false
    frozen:
      description:
        - Derived, triggered and either C(frozen_ms) is 0 (frozen until a manual reset) or the exchange's clock is
          before C(last_trigger_time + frozen_ms).
      type: bool
      sample: false
    frozen_until:
      description:
        - Derived, C(last_trigger_time + frozen_ms) in milliseconds since the epoch while frozen for a fixed time;
          null when not frozen or when frozen until a manual reset.
      type: int
      sample: null
kill_switch:
  description:
    - One entry per underlying, in the same order as RV(mmp).
  returned: success
  type: list
  elements: dict
  contains:
    underlying:
      description: The underlying, upper case.
      type: str
      sample: BTCUSDT
    countdown_ms:
      description: The auto-cancel countdown in milliseconds; 0 when the kill-switch is off.
      type: int
      sample: 0
used_weight:
  description: The last C(X-MBX-USED-WEIGHT-1M) the exchange reported, the request weight this IP used in the
    current minute; null if the exchange sent none.
  returned: always
  type: int
  sample: 13
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.marketops.mmp.plugins.module_utils.binance.mmp import MMP_INFO as CORE
from ansible_collections.marketops.mmp.plugins.module_utils.runner import argument_spec, run_module


def main():
    run_module(AnsibleModule(argument_spec=argument_spec(CORE), supports_check_mode=True), CORE)


if __name__ == '__main__':
    main()
