#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: binance_mmp
short_description: Keep a Binance options Market Maker Protection (MMP) config as code
version_added: 1.0.0
description:
  - Makes one underlying's Market Maker Protection config on one Binance options account equal to
    the options given.
  - Reads the current config (C(GET /eapi/v1/mmp)); writes (C(POST /eapi/v1/mmpSet)) only when the window,
    the frozen time or a limit differs. Limits are compared as decimals, so V(2), V(2.0) and V("2.00000000")
    are equal.
  - After a write, compares the exchange's answer with what was asked, and fails showing both when they
    differ. When the outcome of a write is unknown (a timeout, a dropped connection, a 503
    C(Unknown error)), reads the config back and decides from what the exchange holds.
  - Makes 1 request when the config is already in place and 2 when it is not.
  - All options are validated before any request is sent.
author:
  - marketops infrastructure team (@marketops)
extends_documentation_fragment:
  - marketops.mmp.binance
  - marketops.mmp.attributes
attributes:
  check_mode:
    support: full
    description: Reads the current config and reports what would change; never writes.
  diff_mode:
    support: full
    description: Returns the config before and after the task.
options:
  underlying:
    description:
      - The underlying, such as V(BTCUSDT). Letters and digits only; any case is accepted and sent in upper case.
    type: str
    required: true
  window_ms:
    description:
      - The MMP window in milliseconds, in (0, 5000].
    type: int
    required: true
  frozen_ms:
    description:
      - How long quoting stays frozen after MMP triggers, in milliseconds, V(0) or more.
      - V(0) means frozen until a manual reset (C(POST /eapi/v1/mmpReset)); it is allowed, with a warning.
    type: int
    required: true
  qty_limit:
    description:
      - The quantity limit, a decimal number greater than 0.
      - An int, a float or a string (V(2), V(2.0), V("2.30"), V(0.00001)); it is sent in plain decimal notation
        with at most 20 digits before and 20 after the point.
    type: raw
    required: true
  delta_limit:
    description:
      - The net delta limit, a decimal number greater than 0, in the same forms as O(qty_limit).
    type: raw
    required: true
notes:
  - "Put the credentials in Ansible Vault and set them once for a play with C(module_defaults:
    group/marketops.mmp.binance: ...)."
  - What the exchange answers for an underlying that was never configured is not documented; an answer
    with zero values is treated as a config that differs from any valid request.
seealso:
  - name: Binance options MMP API
    description: The exchange's documentation of the MMP endpoints.
    link: https://developers.binance.com/docs/derivatives/option/market-maker-endpoints
  - module: marketops.mmp.binance_mmp_info
  - module: marketops.mmp.binance_mmp_reset
  - module: marketops.mmp.binance_kill_switch
'''

EXAMPLES = r'''
- name: Set the BTCUSDT MMP config of one account
  marketops.mmp.binance_mmp:
    underlying: BTCUSDT
    window_ms: 3000
    frozen_ms: 300000
    qty_limit: "2"
    delta_limit: "2.3"
    api_key: "{{ binance_api_key }}"
    api_secret: "{{ binance_api_secret }}"

- name: Credentials set once for a block, an Ed25519 key from a file, several underlyings
  module_defaults:
    group/marketops.mmp.binance:
      api_key: "{{ binance_api_key }}"
      private_key: "{{ binance_private_key_path }}"
  block:
    - name: Apply the MMP configs
      marketops.mmp.binance_mmp:
        underlying: "{{ item.underlying }}"
        window_ms: "{{ item.window_ms }}"
        frozen_ms: "{{ item.frozen_ms }}"
        qty_limit: "{{ item.qty_limit }}"
        delta_limit: "{{ item.delta_limit }}"
      loop: "{{ binance_mmp_configs }}"
      loop_control:
        label: "{{ item.underlying }}"
      delegate_to: localhost

- name: See what would change, without writing (run with --check --diff)
  marketops.mmp.binance_mmp:
    underlying: ethusdt
    window_ms: 5000
    frozen_ms: 0
    qty_limit: 0.5
    delta_limit: 1.25
  check_mode: true
  register: planned
'''

RETURN = r'''
config:
  description:
    - The MMP config the exchange holds after the task. In check mode, the config it holds now (nothing is
      written); the diff's C(after) shows what would be set.
  returned: success
  type: dict
  contains:
    underlying:
      description: The underlying, upper case.
      type: str
      sample: BTCUSDT
    window_ms:
      description: The MMP window in milliseconds.
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
diff:
  description: The config before and after the task, with the keys of RV(config). In check mode C(after) is
    what would be set.
  returned: in check mode and in diff mode
  type: dict
  contains:
    before:
      description: The config before the task.
      type: dict
    after:
      description: The config after the task.
      type: dict
used_weight:
  description: The last C(X-MBX-USED-WEIGHT-1M) the exchange reported, the request weight this IP used in the
    current minute; null if the exchange sent none.
  returned: always
  type: int
  sample: 2
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.marketops.mmp.plugins.module_utils.binance.mmp import MMP as CORE
from ansible_collections.marketops.mmp.plugins.module_utils.runner import argument_spec, run_module


def main():
    run_module(AnsibleModule(argument_spec=argument_spec(CORE), supports_check_mode=True), CORE)


if __name__ == '__main__':
    main()
