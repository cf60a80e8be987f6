#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: deribit_mmp_configs
short_description: Every Deribit Market Maker Protection (MMP) config of an account as one resource
version_added: 2.1.0
description:
  - Manages the MMP configs of one Deribit account as a whole, the way Ansible's network resource modules manage a
    section of a device (C(cisco.ios.ios_vlans), ...), with a O(config) list of items, one per scope, and a O(state).
  - An item has the options of M(marketops.mmp.deribit_mmp) but O(marketops.mmp.deribit_mmp#module:state), with the
    same units and checks. Its scope is O(config[].index_name), O(config[].mmp_group) and O(config[].block_rfq);
    another group, or the Block RFQ config, is another scope.
  - Every item is checked before any request; a scope listed twice fails before any request, naming both items.
  - Reads the account's configs with two requests whatever their number (C(private/get_mmp_config) without
    parameters, and with C(block_rfq=true), since Deribit documents C(block_rfq) with a default of false, so a listing
    without it may leave the Block RFQ configs out).
  - Writes (C(private/set_mmp_config)) only the scopes that differ, never in check mode. A set replaces the whole
    config of its scope. Limits are compared as decimals. After each write the exchange's answer is compared with
    what was asked, and the task fails naming the scope (and the scopes applied before it, and those not
    attempted) when they differ; an unknown outcome is decided by reading the config back.
  - A config is removed with C(interval) V(0), as M(marketops.mmp.deribit_mmp) with
    O(marketops.mmp.deribit_mmp#module:state=absent) does.
author:
  - marketops infrastructure team (@marketops)
extends_documentation_fragment:
  - marketops.mmp.deribit
  - marketops.mmp.attributes.deribit
attributes:
  check_mode:
    support: full
    description: Reads the current configs and reports what would change, and the requests that would be sent;
      never writes.
  diff_mode:
    support: full
    description: Returns the configs before and after the task, by scope.
options:
  config:
    description:
      - The MMP configs, one item per scope.
      - With O(state=merged) an item may leave values out (they keep what the exchange holds), except for a scope
        that has no config yet; with O(state=replaced), O(state=overridden) and O(state=rendered) an item is the
        whole config of its scope (O(config[].window_s), O(config[].frozen_s) and at least one limit; a limit
        left out is unset).
      - With O(state=deleted), the scopes to remove (O(config[].index_name), O(config[].mmp_group),
        O(config[].block_rfq) only); empty, every config of the account.
      - Must be empty with O(state=gathered).
    type: list
    elements: dict
    suboptions:
      index_name:
        description:
          - The index, such as V(btc_usd) or V(eth_usdc). Any case is accepted; it is sent in lower case.
          - V(all) only with O(config[].block_rfq=true).
        type: str
        required: true
      mmp_group:
        description:
          - The MMP group (for mass quotes), 1 to 64 characters, case-sensitive. If not set, the default group.
        type: str
      block_rfq:
        description:
          - Whether the item is the separate Block RFQ MMP config.
        type: bool
        default: false
      window_s:
        description:
          - The MMP window in B(seconds), in [1, 3600] (Deribit's C(interval)).
        type: int
      frozen_s:
        description:
          - How long quoting stays frozen after MMP triggers, in B(seconds), in [0, 3600] (Deribit's
            C(frozen_time)). V(0) means frozen until a manual reset; it is allowed, with a warning.
        type: int
      qty_limit:
        description:
          - The quantity limit (Deribit's C(quantity_limit)), a decimal number greater than 0 with at most 4 decimal
            places, as a string, an int or a float.
        type: raw
      delta_limit:
        description:
          - The delta limit, in the same forms as O(config[].qty_limit).
        type: raw
      vega_limit:
        description:
          - The vega limit, in the same forms as O(config[].qty_limit).
        type: raw
      max_quote_qty:
        description:
          - The max quote quantity (Deribit's C(max_quote_quantity)), in the same forms as O(config[].qty_limit).
            Setting it reserves initial margin on the account (see M(marketops.mmp.deribit_mmp)).
        type: raw
      trade_count_limit:
        description:
          - The Block RFQ trade count limit, in [1, 1000]. Only with O(config[].block_rfq=true) and
            O(config[].index_name=all).
        type: int
  state:
    description:
      - V(merged) gives each listed scope the values its item gives; the values it leaves out keep what the exchange
        holds. A scope that has no config yet needs O(config[].window_s), O(config[].frozen_s) and a limit.
      - V(replaced) makes each listed scope's config exactly its item (the meaning of M(marketops.mmp.deribit_mmp));
        the scopes not listed are left alone.
      - V(overridden) is V(replaced), and removes every config of the account the list does not name.
      - V(deleted) removes the listed scopes' configs, or every config of the account when O(config) is empty.
      - V(gathered) only reads, and returns RV(gathered), every config of the account in the schema of O(config);
        given back with V(replaced) (or V(overridden)), it changes nothing.
      - V(rendered) sends nothing (the credentials may be absent) and returns RV(rendered), the writes that would
        make each item true.
    type: str
    choices: [merged, replaced, overridden, deleted, gathered, rendered]
    default: merged
  client_id:
    description:
      - The Client ID of the Deribit API key of the account (or sub-account).
      - If not set, the value of the E(DERIBIT_CLIENT_ID) environment variable is used.
      - Required, and checked as for M(marketops.mmp.deribit_mmp), with every O(state) but V(rendered), which sends
        nothing.
    type: str
    required: false
  client_secret:
    description:
      - The Client Secret of the API key.
      - If not set, the value of the E(DERIBIT_CLIENT_SECRET) environment variable is used.
      - Required, and checked as for M(marketops.mmp.deribit_mmp), with every O(state) but V(rendered). The key needs
        the scope C(trade:read_write) (C(block_rfq:read_write) for Block RFQ configs).
    type: str
    required: false
notes:
  - "Put the credentials in Ansible Vault and set them once for a play with C(module_defaults:
    group/marketops.mmp.deribit: ...)."
  - Older Deribit documentation says that setting a config resets MMP; treat a change as possibly un-freezing a
    triggered config.
seealso:
  - module: marketops.mmp.deribit_mmp
  - module: marketops.mmp.deribit_mmp_info
  - name: Deribit set_mmp_config
    description: The exchange's documentation of the method.
    link: https://docs.deribit.com/api-reference/trading/private-set_mmp_config
'''

EXAMPLES = r'''
- name: Make the account hold exactly these configs, removing any other (preview with --check --diff)
  marketops.mmp.deribit_mmp_configs:
    state: overridden
    config:
      - index_name: btc_usd
        window_s: 10
        frozen_s: 30
        qty_limit: "50"
        delta_limit: "20.5"
      - index_name: eth_usd
        mmp_group: q1
        window_s: 5
        frozen_s: 0
        qty_limit: 400
        max_quote_qty: 100
      - index_name: all
        block_rfq: true
        window_s: 60
        frozen_s: 60
        qty_limit: 1000
        trade_count_limit: 10
    client_id: "{{ deribit_client_id }}"
    client_secret: "{{ deribit_client_secret }}"

- name: Bring a hand-configured account under code - gather its configs
  marketops.mmp.deribit_mmp_configs:
    state: gathered
    client_id: "{{ deribit_client_id }}"
    client_secret: "{{ deribit_client_secret }}"
  register: held

- name: Give them back - nothing changes
  marketops.mmp.deribit_mmp_configs:
    state: replaced
    config: "{{ held.gathered }}"
    client_id: "{{ deribit_client_id }}"
    client_secret: "{{ deribit_client_secret }}"

- name: Remove the configs of one group
  marketops.mmp.deribit_mmp_configs:
    state: deleted
    config:
      - index_name: eth_usd
        mmp_group: q1
    client_id: "{{ deribit_client_id }}"
    client_secret: "{{ deribit_client_secret }}"

- name: The requests a config needs, without sending anything (no credentials needed)
  marketops.mmp.deribit_mmp_configs:
    state: rendered
    config: "{{ deribit_mmp_configs }}"
  register: planned
'''

RETURN = r'''
before:
  description:
    - Every config of the account before the task, in the schema of O(config) (a value unset is left out), sorted
      by scope.
  returned: when O(state) is merged, replaced, overridden or deleted
  type: list
  elements: dict
  sample: [{"index_name": "btc_usd", "block_rfq": false, "window_s": 10, "frozen_s": 30, "qty_limit": "50"}]
after:
  description:
    - Every config of the account after the task, as the exchange answered the writes, in the same form as
      RV(before). In check mode, what they would be.
  returned: when O(state) is merged, replaced, overridden or deleted
  type: list
  elements: dict
  sample: [{"index_name": "btc_usd", "block_rfq": false, "window_s": 10, "frozen_s": 30, "qty_limit": "60"}]
requests:
  description:
    - The writes sent, in order (in check mode, those that would be sent), each with its HTTP method, the method's
      path and its parameters. Never a key, a timestamp or a signature. A write sent again after an unknown outcome
      is listed once (the warnings say so).
  returned: when O(state) is merged, replaced, overridden or deleted
  type: list
  elements: dict
  sample: [{"method": "GET", "path": "/api/v2/private/set_mmp_config", "params": {"index_name": "btc_usd",
            "interval": 10, "frozen_time": 30, "quantity_limit": "60"}}]
gathered:
  description:
    - Every config of the account, in the schema of O(config) (limits as plain decimal strings, a value unset left
      out), sorted by scope.
  returned: when O(state=gathered)
  type: list
  elements: dict
  sample: [{"index_name": "all", "block_rfq": true, "window_s": 60, "frozen_s": 60, "qty_limit": "1000",
            "trade_count_limit": 10}]
rendered:
  description:
    - The writes that make each item of O(config) true, whatever the exchange holds, in the form of RV(requests).
      Nothing is sent.
  returned: when O(state=rendered)
  type: list
  elements: dict
  sample: [{"method": "GET", "path": "/api/v2/private/set_mmp_config", "params": {"index_name": "eth_usd",
            "mmp_group": "q1", "interval": 5, "frozen_time": 0, "quantity_limit": "400"}}]
diff:
  description: The configs before and after the task, by scope (C(btc_usd), C(eth_usd group q1), C(all Block RFQ)).
    In check mode C(after) is what would be set.
  returned: in check mode and in diff mode, when O(state) is merged, replaced, overridden or deleted
  type: dict
  contains:
    before:
      description: The configs before the task, by scope.
      type: dict
    after:
      description: The configs after the task, by scope.
      type: dict
used_weight:
  description: Always null for Deribit (it reports no used weight in its answers).
  returned: always
  type: int
  sample: null
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.marketops.mmp.plugins.module_utils.deribit.configs import MMP_CONFIGS as CORE
from ansible_collections.marketops.mmp.plugins.module_utils.runner import argument_spec, run_module


def main():
    run_module(AnsibleModule(argument_spec=argument_spec(CORE), supports_check_mode=True), CORE)


if __name__ == '__main__':
    main()
