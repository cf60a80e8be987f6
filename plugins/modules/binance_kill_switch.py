#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: binance_kill_switch
short_description: Keep a Binance options kill-switch (auto-cancel countdown) as code
version_added: 1.1.0
description:
  - Makes the kill-switch, the auto-cancel countdown of C(POST /eapi/v1/countdownCancelAll), of one underlying
    on one Binance options account equal to O(countdown_ms).
  - Reads the current countdown (C(GET /eapi/v1/countdownCancelAll)); writes only when it differs, and decides
    C(changed) by comparing the exchange's answer with the request. When the outcome of a write is unknown, reads
    the countdown back and decides from what the exchange holds.
  - B(Warning:) a non-zero countdown arms the kill-switch. When O(countdown_ms) passes without a heartbeat
    (C(POST /eapi/v1/countdownCancelAllHeartBeat)) from the trading system, the exchange cancels B(every open
    order) of the underlying, MMP quotes and all others. This module never sends heartbeats; arm the kill-switch
    only for an underlying whose trading system sends them. Arming it returns a warning.
  - The exchange's documentation and its official SDK disagree on the shape of the GET answer (a list of the
    active countdowns, or one object). Both are accepted; an empty answer, an underlying that is absent from it,
    or a countdown of 0 all mean off.
  - All options are validated before any request is sent.
author:
  - marketops infrastructure team (@marketops)
extends_documentation_fragment:
  - marketops.mmp.binance
  - marketops.mmp.attributes
attributes:
  check_mode:
    support: full
    description: Reads the current countdown and reports what would change; never writes.
  diff_mode:
    support: full
    description: Returns the kill-switch before and after the task.
options:
  underlying:
    description:
      - The underlying, such as V(BTCUSDT). Letters and digits only; any case is accepted and sent in upper case.
    type: str
    required: true
  countdown_ms:
    description:
      - The countdown in milliseconds. V(0) turns the kill-switch off.
      - Otherwise at least V(5000), at most 9223372036854775807 (the exchange's LONG). The exchange checks the
        countdowns about every 100 ms and advises against small, precise values.
    type: int
    required: true
seealso:
  - module: marketops.mmp.binance_mmp_info
  - name: Binance options auto-cancel endpoints
    description: The exchange's documentation of countdownCancelAll and its heartbeat.
    link: https://developers.binance.com/docs/derivatives/option/trade
'''

EXAMPLES = r'''
- name: Turn the BTCUSDT kill-switch off
  marketops.mmp.binance_kill_switch:
    underlying: BTCUSDT
    countdown_ms: 0
    account: "{{ inventory_hostname }}"
    api_key: "{{ binance_api_key }}"
    api_secret: "{{ binance_api_secret }}"

- name: Arm a 30 s kill-switch on ETHUSDT (the trading system must send heartbeats)
  marketops.mmp.binance_kill_switch:
    underlying: ETHUSDT
    countdown_ms: 30000
'''

RETURN = r'''
config:
  description:
    - The kill-switch the exchange holds after the task. In check mode, the one it holds now (nothing is written);
      the diff's C(after) shows what would be set.
  returned: success
  type: dict
  contains:
    underlying:
      description: The underlying, upper case.
      type: str
      sample: ETHUSDT
    countdown_ms:
      description: The countdown in milliseconds; 0 when off.
      type: int
      sample: 30000
diff:
  description: The kill-switch before and after the task, with the keys of RV(config).
  returned: in check mode and in diff mode
  type: dict
  contains:
    before:
      description: The kill-switch before the task.
      type: dict
    after:
      description: The kill-switch after the task.
      type: dict
used_weight:
  description: The last C(X-MBX-USED-WEIGHT-1M) the exchange reported; null if the exchange sent none.
  returned: always
  type: int
  sample: 2
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.marketops.mmp.plugins.module_utils.binance.killswitch import KILL_SWITCH as CORE
from ansible_collections.marketops.mmp.plugins.module_utils.runner import argument_spec, run_module


def main():
    run_module(AnsibleModule(argument_spec=argument_spec(CORE), supports_check_mode=True), CORE)


if __name__ == '__main__':
    main()
