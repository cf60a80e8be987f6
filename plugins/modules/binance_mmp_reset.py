#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: binance_mmp_reset
short_description: Reset a frozen Binance options Market Maker Protection (MMP) underlying
version_added: 1.1.0
description:
  - Reads the MMP config of one underlying (C(GET /eapi/v1/mmp)) and, when MMP has frozen it, resets it
    (C(POST /eapi/v1/mmpReset)) so that the account can quote it again.
  - Frozen means MMP has triggered (C(lastTriggerTime) > 0) and either the frozen time is 0 (frozen until a manual
    reset) or the exchange's clock is before C(lastTriggerTime) plus the frozen time.
  - With O(only_if_frozen=false) the reset is sent whatever the state.
  - The exchange's answer to the reset is taken as the state after it. When the outcome of the reset is unknown
    (a timeout, a 503 C(Unknown error)), the config is read back and the reset is sent again, a bounded number
    of times, while it still reads as frozen.
  - All options are validated before any request is sent.
author:
  - marketops infrastructure team (@marketops)
extends_documentation_fragment:
  - marketops.mmp.binance
  - marketops.mmp.attributes
attributes:
  check_mode:
    support: full
    description: Reads the config and reports whether a reset would be sent; never sends it.
  diff_mode:
    support: full
    description: Returns the config before and after the task.
  idempotent:
    support: partial
    description:
      - With O(only_if_frozen=true) a second run is C(ok) once the underlying is no longer frozen.
      - With O(only_if_frozen=false) every run sends a reset and reports C(changed).
      - If the exchange keeps C(lastTriggerTime) after a reset (undocumented), an underlying with C(frozen_ms=0)
        reads as frozen again and every run resets it.
options:
  underlying:
    description:
      - The underlying, such as V(BTCUSDT). Letters and digits only; any case is accepted and sent in upper case.
    type: str
    required: true
  only_if_frozen:
    description:
      - If V(true), send the reset only when the underlying is frozen, as described above.
      - If V(false), send it always.
    type: bool
    default: true
seealso:
  - module: marketops.mmp.binance_mmp_info
  - module: marketops.mmp.binance_mmp
'''

EXAMPLES = r'''
- name: Reset BTCUSDT if MMP froze it
  marketops.mmp.binance_mmp_reset:
    underlying: BTCUSDT
    account: "{{ inventory_hostname }}"
    api_key: "{{ binance_api_key }}"
    api_secret: "{{ binance_api_secret }}"
  register: reset

- name: See what would be reset, without sending anything
  marketops.mmp.binance_mmp_reset:
    underlying: ETHUSDT
  check_mode: true
'''

RETURN = r'''
config:
  description:
    - The MMP config after the task, with the keys of the C(config) of M(marketops.mmp.binance_mmp). After a
      reset, the exchange's answer to it. In check mode, or when nothing was sent, the config read.
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
      sample: 0
    qty_limit:
      description: The quantity limit as a normalised decimal string.
      type: str
      sample: "2"
    delta_limit:
      description: The delta limit as a normalised decimal string.
      type: str
      sample: "2.3"
    last_trigger_time:
      description: When MMP last triggered, in milliseconds since the epoch; 0 if never (or cleared by the reset).
      type: int
      sample: 0
was_frozen:
  description: Whether the underlying was frozen when the task read it.
  returned: success
  type: bool
  sample: true
diff:
  description: The config before and after the task. In check mode C(after) assumes the reset clears
    C(last_trigger_time).
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
  description: The last C(X-MBX-USED-WEIGHT-1M) the exchange reported; null if the exchange sent none.
  returned: always
  type: int
  sample: 2
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.marketops.mmp.plugins.module_utils.binance.mmp import MMP_RESET as CORE
from ansible_collections.marketops.mmp.plugins.module_utils.runner import argument_spec, run_module


def main():
    run_module(AnsibleModule(argument_spec=argument_spec(CORE), supports_check_mode=True), CORE)


if __name__ == '__main__':
    main()
