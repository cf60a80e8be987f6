#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: binance_mmp_configs
short_description: Every Binance options Market Maker Protection (MMP) config of an account as one resource
version_added: 2.1.0
description:
  - Manages the MMP configs of one Binance options account as a whole, the way Ansible's network resource modules
    manage a section of a device (C(cisco.ios.ios_vlans), ...), with a O(config) list of items, one per underlying, and a
    O(state).
  - An item has the options of M(marketops.mmp.binance_mmp), with the same units and checks, and optionally
    O(config[].kill_switch_ms), the underlying's kill-switch (as M(marketops.mmp.binance_kill_switch)). An item
    without O(config[].kill_switch_ms) leaves the kill-switch unmanaged.
  - Every item is checked before any request; an underlying listed twice fails before any request, naming both
    items.
  - Writes (C(POST /eapi/v1/mmpSet), C(POST /eapi/v1/countdownCancelAll)) only what differs, never in check mode.
    Limits are compared as decimals. After each write the exchange's answer is compared with what was asked, and
    the task fails naming the underlying (and the underlyings applied before it, and those not attempted) when
    they differ; an unknown outcome (a timeout, a 503 C(Unknown error)) is decided by reading the config back.
  - "Requests: with O(state=merged) or O(state=replaced), one MMP read (C(GET /eapi/v1/mmp)) per listed underlying,
    and one kill-switch read per item with O(config[].kill_switch_ms), as M(marketops.mmp.binance_mmp) and
    M(marketops.mmp.binance_kill_switch) make; then one write per change. O(state=overridden) and
    O(state=gathered) also read the underlyings C(GET /eapi/v1/exchangeInfo) lists, and one MMP config each."
  - Binance has no call that removes an MMP config. O(state=deleted) fails before any request, and
    O(state=overridden) fails before any write when the account holds a config the list does not name, naming
    those underlyings.
author:
  - marketops infrastructure team (@marketops)
extends_documentation_fragment:
  - marketops.mmp.binance
  - marketops.mmp.attributes
attributes:
  check_mode:
    support: full
    description: Reads the current configs and reports what would change, and the requests that would be sent;
      never writes.
  diff_mode:
    support: full
    description: Returns the configs before and after the task, by underlying.
options:
  config:
    description:
      - The MMP configs, one item per underlying.
      - With O(state=merged) an item may leave values out (they keep what the exchange holds), except for an
        underlying that has no config yet; with O(state=replaced), O(state=overridden) and O(state=rendered) every
        value but O(config[].kill_switch_ms) is required.
      - Must be empty with O(state=gathered).
    type: list
    elements: dict
    suboptions:
      underlying:
        description:
          - The underlying, such as V(BTCUSDT). Letters and digits only; any case is accepted and sent in upper case.
        type: str
        required: true
      window_ms:
        description:
          - The MMP window in milliseconds, in (0, 5000].
        type: int
      frozen_ms:
        description:
          - How long quoting stays frozen after MMP triggers, in milliseconds, V(0) or more.
          - V(0) means frozen until a manual reset; it is allowed, with a warning.
        type: int
      qty_limit:
        description:
          - The quantity limit, a decimal number greater than 0, as an int, a float or a string (V("2.30")); sent in
            plain decimal notation with at most 20 digits before and 20 after the point.
        type: raw
      delta_limit:
        description:
          - The net delta limit, a decimal number greater than 0, in the same forms as O(config[].qty_limit).
        type: raw
      kill_switch_ms:
        description:
          - The underlying's kill-switch (auto-cancel countdown), V(0) (off) or a number of milliseconds of at least
            V(5000). Every open order of the underlying is cancelled when that long passes without a heartbeat from
            the trading system; this module never sends heartbeats.
          - If not set, the kill-switch is not managed.
        type: int
  state:
    description:
      - V(merged) gives each listed underlying the values its item gives; the values it leaves out keep what the
        exchange holds. An underlying that has no config yet needs every value.
      - V(replaced) makes each listed underlying's config exactly its item (the meaning of
        M(marketops.mmp.binance_mmp)); the underlyings not listed are left alone.
      - V(overridden) is V(replaced), and would remove every config the list does not name; Binance cannot remove
        one, so it fails before any write when there is such a config.
      - V(deleted) is not possible on Binance (no call removes an MMP config) and fails before any request.
      - V(gathered) only reads, and returns RV(gathered), every configured underlying of the account in the schema
        of O(config); given back with V(replaced), it changes nothing.
      - V(rendered) sends nothing (the credentials may be absent) and returns RV(rendered), the writes that would
        make each item true.
    type: str
    choices: [merged, replaced, overridden, deleted, gathered, rendered]
    default: merged
  api_key:
    description:
      - The Binance API key of the account.
      - If not set, the value of the E(BINANCE_API_KEY) environment variable is used.
      - Required, and checked as for M(marketops.mmp.binance_mmp), with every O(state) but V(rendered), which sends
        nothing.
    type: str
    required: false
notes:
  - "Put the credentials in Ansible Vault and set them once for a play with C(module_defaults:
    group/marketops.mmp.binance: ...)."
  - An underlying the exchange reads with a window of 0 has no config; it is not in RV(before) nor RV(gathered).
  - RV(gathered) gives O(config[].kill_switch_ms) only for the underlyings whose kill-switch is armed; given back,
    the others' kill-switch stays unmanaged.
seealso:
  - module: marketops.mmp.binance_mmp
  - module: marketops.mmp.binance_kill_switch
  - module: marketops.mmp.binance_mmp_info
  - name: Binance options MMP API
    description: The exchange's documentation of the MMP endpoints.
    link: https://developers.binance.com/docs/derivatives/option/market-maker-endpoints
'''

EXAMPLES = r'''
- name: Make the account hold these configs (the underlyings not listed are left alone)
  marketops.mmp.binance_mmp_configs:
    state: replaced
    config:
      - underlying: BTCUSDT
        window_ms: 3000
        frozen_ms: 300000
        qty_limit: "2"
        delta_limit: "2.3"
      - underlying: ETHUSDT
        window_ms: 5000
        frozen_ms: 60000
        qty_limit: "10"
        delta_limit: "5"
        kill_switch_ms: 30000
    api_key: "{{ binance_api_key }}"
    api_secret: "{{ binance_api_secret }}"

- name: Raise one limit, keeping the other values
  marketops.mmp.binance_mmp_configs:
    config:
      - underlying: BTCUSDT
        qty_limit: "3"
    api_key: "{{ binance_api_key }}"
    api_secret: "{{ binance_api_secret }}"

- name: Bring a hand-configured account under code - gather its configs
  marketops.mmp.binance_mmp_configs:
    state: gathered
    api_key: "{{ binance_api_key }}"
    api_secret: "{{ binance_api_secret }}"
  register: held

- name: Give them back - nothing changes (run with --check --diff to preview any change)
  marketops.mmp.binance_mmp_configs:
    state: replaced
    config: "{{ held.gathered }}"
    api_key: "{{ binance_api_key }}"
    api_secret: "{{ binance_api_secret }}"

- name: The requests a config needs, without sending anything (no credentials needed)
  marketops.mmp.binance_mmp_configs:
    state: rendered
    config: "{{ binance_mmp_configs }}"
  register: planned
'''

RETURN = r'''
before:
  description:
    - The configs the exchange held before the task, in the schema of O(config), sorted by underlying.
    - With O(state=merged) and O(state=replaced), those of the listed underlyings; with O(state=overridden), every
      configured underlying. O(config[].kill_switch_ms) is given where the kill-switch was read.
  returned: when O(state) is merged, replaced or overridden
  type: list
  elements: dict
  sample: [{"underlying": "BTCUSDT", "window_ms": 3000, "frozen_ms": 300000, "qty_limit": "2", "delta_limit": "2.3"}]
after:
  description:
    - The configs after the task, as the exchange answered the writes, in the same form as RV(before). In check mode,
      what they would be.
  returned: when O(state) is merged, replaced or overridden
  type: list
  elements: dict
  sample: [{"underlying": "BTCUSDT", "window_ms": 3000, "frozen_ms": 300000, "qty_limit": "3", "delta_limit": "2.3"}]
requests:
  description:
    - The writes sent, in order (in check mode, those that would be sent), each with its HTTP method, its path and
      its parameters. Never a key, a timestamp or a signature. A write sent again after an unknown outcome is listed
      once (the warnings say so).
  returned: when O(state) is merged, replaced or overridden
  type: list
  elements: dict
  sample: [{"method": "POST", "path": "/eapi/v1/mmpSet", "params": {"underlying": "BTCUSDT",
            "windowTimeInMilliseconds": 3000, "frozenTimeInMilliseconds": 300000, "qtyLimit": "3",
            "deltaLimit": "2.3"}}]
gathered:
  description:
    - Every configured underlying of the account, in the schema of O(config) (limits as plain decimal strings),
      sorted by underlying; O(config[].kill_switch_ms) for those whose kill-switch is armed.
  returned: when O(state=gathered)
  type: list
  elements: dict
  sample: [{"underlying": "BTCUSDT", "window_ms": 3000, "frozen_ms": 300000, "qty_limit": "2", "delta_limit": "2.3"}]
rendered:
  description:
    - The writes that make each item of O(config) true, whatever the exchange holds, in the form of RV(requests).
      Nothing is sent.
  returned: when O(state=rendered)
  type: list
  elements: dict
  sample: [{"method": "POST", "path": "/eapi/v1/countdownCancelAll", "params": {"underlying": "ETHUSDT",
            "countdownTime": 30000}}]
diff:
  description: The configs before and after the task, by underlying. In check mode C(after) is what would be set.
  returned: in check mode and in diff mode, when O(state) is merged, replaced or overridden
  type: dict
  contains:
    before:
      description: The configs before the task, by underlying.
      type: dict
    after:
      description: The configs after the task, by underlying.
      type: dict
used_weight:
  description: The last C(X-MBX-USED-WEIGHT-1M) the exchange reported; null if it sent none, or nothing was sent.
  returned: always
  type: int
  sample: 7
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.marketops.mmp.plugins.module_utils.binance.configs import MMP_CONFIGS as CORE
from ansible_collections.marketops.mmp.plugins.module_utils.runner import argument_spec, run_module


def main():
    run_module(AnsibleModule(argument_spec=argument_spec(CORE), supports_check_mode=True), CORE)


if __name__ == '__main__':
    main()
