#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: deribit_mmp
short_description: Keep a Deribit Market Maker Protection (MMP) config as code
version_added: 2.0.0
description:
  - Makes one Market Maker Protection config of one Deribit account equal to the options given. A config is
    identified by its scope, O(index_name), O(mmp_group) and O(block_rfq); the task describes the B(whole) config
    of its scope, so a limit left out is unset on the exchange.
  - Reads the current config (C(private/get_mmp_config)); writes (C(private/set_mmp_config)) only when the window,
    the frozen time or a limit differs. Limits are compared as decimals, so V("2.50") and V(2.5) are equal.
  - After a write, compares the exchange's answer (an object or a list, both documented) with what was asked, and
    fails showing both when they differ. When the outcome of a write is unknown (a timeout, a dropped connection,
    a 5xx), reads the config back and decides from what the exchange holds.
  - Makes 1 request when the config is already in place and 2 when it is not.
  - All options are validated before any request is sent.
author:
  - marketops infrastructure team (@marketops)
extends_documentation_fragment:
  - marketops.mmp.deribit
  - marketops.mmp.attributes.deribit
attributes:
  check_mode:
    support: full
    description: Reads the current config and reports what would change; never writes.
  diff_mode:
    support: full
    description: Returns the config before and after the task.
options:
  index_name:
    description:
      - The index the config is for, such as V(btc_usd) or V(eth_usdc). Any case is accepted; it is sent in lower
        case.
      - V(all) only with O(block_rfq=true) (a Block RFQ config for every index).
    type: str
    required: true
  mmp_group:
    description:
      - The MMP group (for mass quotes) the config is for, 1 to 64 characters, case-sensitive.
      - If not set, the default group (orders that are not mass quotes). Deribit binds a group to one index.
    type: str
  block_rfq:
    description:
      - Whether the config is the separate Block RFQ MMP config.
    type: bool
    default: false
  state:
    description:
      - V(present) makes the config equal to the options; V(absent) removes it (Deribit's C(interval) V(0)).
      - With V(absent), O(window_s), O(frozen_s) and the limits must not be set.
    type: str
    choices: [present, absent]
    default: present
  window_s:
    description:
      - The MMP window in B(seconds), in [1, 3600] (Deribit's C(interval)). The window starts at the first trade; it
        does not roll per trade.
      - Required with O(state=present).
    type: int
  frozen_s:
    description:
      - How long quoting stays frozen after MMP triggers, in B(seconds), in [0, 3600] (Deribit's C(frozen_time)).
      - V(0) means frozen until a manual reset (P(marketops.mmp.deribit_mmp_reset#module)); it is allowed, with a
        warning.
      - Required with O(state=present).
    type: int
  qty_limit:
    description:
      - The quantity limit (Deribit's C(quantity_limit)), in the base currency, on the gross traded quantity
        whatever its direction (a buy of 10 and a sell of 10 count 20).
      - A decimal number greater than 0 with at most 4 decimal places, as a string, an int or a float.
      - At least one of O(qty_limit), O(delta_limit) and O(vega_limit) is required with O(state=present).
    type: raw
  delta_limit:
    description:
      - The delta limit, in the base currency, on the absolute net transaction delta, in the same forms as
        O(qty_limit).
    type: raw
  vega_limit:
    description:
      - The vega limit, in USD, on the net vega (direction-aware, with the greeks at execution time), in the same
        forms as O(qty_limit).
    type: raw
  max_quote_qty:
    description:
      - The max quote quantity (Deribit's C(max_quote_quantity)), in the base currency, enforced per side and per
        instrument on the open MMP orders, in the same forms as O(qty_limit).
      - Setting it B(reserves initial margin) on the account (Deribit documents about 3% of the quantity, per group
        and pair, even with no position or order); Deribit's pages disagree on whether the reservation follows
        this value or O(qty_limit).
    type: raw
  trade_count_limit:
    description:
      - The Block RFQ trade count limit, in [1, 1000]. Only with O(block_rfq=true) and O(index_name=all), as
        Deribit documents it.
    type: int
notes:
  - "Put the credentials in Ansible Vault and set them once for a play with C(module_defaults:
    group/marketops.mmp.deribit: ...)."
  - Older Deribit documentation says that setting a config resets MMP; current pages are silent. Treat a change as
    possibly un-freezing a triggered config.
  - The config can also be edited in Deribit's web interface; a run puts back what the task describes.
seealso:
  - name: Deribit set_mmp_config
    description: The exchange's documentation of the method.
    link: https://docs.deribit.com/api-reference/trading/private-set_mmp_config
  - name: Deribit Market Maker Protection
    description: What MMP does on Deribit, and its activation.
    link: https://docs.deribit.com/articles/market-maker-protection
  - module: marketops.mmp.deribit_mmp_info
  - module: marketops.mmp.deribit_mmp_reset
'''

EXAMPLES = r'''
- name: Set the BTC MMP config of the default group
  marketops.mmp.deribit_mmp:
    index_name: btc_usd
    window_s: 10
    frozen_s: 30
    qty_limit: "50"
    delta_limit: "20.5"
    vega_limit: "10000"
    client_id: "{{ deribit_client_id }}"
    client_secret: "{{ deribit_client_secret }}"

- name: Credentials set once, a mass-quote group and a Block RFQ config
  module_defaults:
    group/marketops.mmp.deribit:
      client_id: "{{ deribit_client_id }}"
      client_secret: "{{ deribit_client_secret }}"
  block:
    - name: The ETH config of the mass-quote group q1, with a max quote quantity
      marketops.mmp.deribit_mmp:
        index_name: eth_usd
        mmp_group: q1
        window_s: 5
        frozen_s: 0
        qty_limit: 400
        max_quote_qty: 100
      delegate_to: localhost

    - name: The Block RFQ config
      marketops.mmp.deribit_mmp:
        index_name: all
        block_rfq: true
        window_s: 60
        frozen_s: 60
        qty_limit: 1000
        trade_count_limit: 10
      delegate_to: localhost

- name: Remove a config
  marketops.mmp.deribit_mmp:
    index_name: sol_usdc
    state: absent
    client_id: "{{ deribit_client_id }}"
    client_secret: "{{ deribit_client_secret }}"
'''

RETURN = r'''
config:
  description:
    - The MMP config the exchange holds for the scope after the task. In check mode, the config it holds now
      (nothing is written); the diff's C(after) shows what would be set.
    - A scope with no config reads as C(window_s=0), C(frozen_s=0) and every limit null.
  returned: success
  type: dict
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
      description: Whether this is the Block RFQ config.
      type: bool
      sample: false
    window_s:
      description: The MMP window in seconds; 0 when there is no config.
      type: int
      sample: 10
    frozen_s:
      description: The frozen time in seconds; 0 means until a manual reset.
      type: int
      sample: 30
    qty_limit:
      description: The quantity limit as a plain decimal string (no exponent, no trailing zeros); null when unset.
      type: str
      sample: "50"
    delta_limit:
      description: The delta limit as a plain decimal string; null when unset.
      type: str
      sample: "20.5"
    vega_limit:
      description: The vega limit as a plain decimal string; null when unset.
      type: str
      sample: "10000"
    max_quote_qty:
      description: The max quote quantity as a plain decimal string; null when unset.
      type: str
      sample: null
    trade_count_limit:
      description: The Block RFQ trade count limit; null when unset.
      type: int
      sample: null
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
  description: Always null for Deribit (it reports no used weight in its answers); kept so that every venue's
    modules return the same keys.
  returned: always
  type: int
  sample: null
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.marketops.mmp.plugins.module_utils.deribit.mmp import MMP as CORE
from ansible_collections.marketops.mmp.plugins.module_utils.runner import argument_spec, run_module


def main():
    run_module(AnsibleModule(argument_spec=argument_spec(CORE), supports_check_mode=True), CORE)


if __name__ == '__main__':
    main()
