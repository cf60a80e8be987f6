# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Connection and credential options shared by Deribit's modules.
    # Kept in step with DeribitVenue.connection_argument_spec() in plugins/module_utils/deribit/venue.py.
    DOCUMENTATION = r'''
options:
  client_id:
    description:
      - The Client ID of the Deribit API key of the account (or sub-account).
      - If not set, the value of the E(DERIBIT_CLIENT_ID) environment variable is used.
      - Printable ASCII without whitespace. A value with a space, a line break or a character outside printable
        ASCII fails before any request, with a message that names the option and the likely cause. A Vault value
        written as a YAML block scalar C(|) keeps a trailing newline; write it with C(|-).
    type: str
    required: true
  client_secret:
    description:
      - The Client Secret of the API key.
      - If not set, the value of the E(DERIBIT_CLIENT_SECRET) environment variable is used.
      - Checked as O(client_id) is, before any request. Never sent to the exchange and never logged; every private
        request is signed with it on its own (an C(Authorization) header C(deri-hmac-sha256), an HMAC-SHA256 of a timestamp,
        a nonce and the request), so there is no access token to keep, print or renew.
      - The key needs the scope C(trade:read_write) (C(block_rfq:read_write) for Block RFQ configs);
        C(trade:read) is enough for P(marketops.mmp.deribit_mmp_info#module).
    type: str
    required: true
  base_url:
    description:
      - The base URL of Deribit's API; methods are sent to C(<base_url>/api/v2/...).
      - If not set, the value of the E(DERIBIT_URL) environment variable is used, then the default.
      - Deribit's public testnet is V(https://test.deribit.com), with API keys of its own.
      - Plain C(http) is accepted only for a loopback IP address or for the host name C(localhost) exactly, such as
        the collection's local emulator. It must not carry a user name or password, a query string or a fragment;
        such a URL is refused before any request without being repeated.
    type: str
    default: https://www.deribit.com
  timeout:
    description:
      - Seconds each HTTP attempt may take as a whole, in (0, 300], connecting, sending the request and reading the
        whole answer together, not each read (an answer that trickles in is cut off at this deadline; an answer over
        16 MiB is refused).
      - An attempt cut off is sent again as any timeout is (at most 4 attempts, at most 3.5 s of backoff between them
        in all), so one request fails after at most 4 x O(timeout) + 3.5 s, plus the waits of pacing and of a rate
        limit; a write cut off may have reached the exchange and is read back, not sent again.
    type: float
    default: 10
  validate_certs:
    description:
      - Whether to verify the exchange's TLS certificate. V(false) turns every check off (with a warning); for a
        private CA, or a proxy that re-signs TLS, set O(ca_path) instead.
    type: bool
    default: true
  ca_path:
    description:
      - A file of CA certificates in PEM format on the host that runs the task, trusted to verify the exchange's
        TLS certificate. It takes precedence over E(REQUESTS_CA_BUNDLE) and E(CURL_CA_BUNDLE). Checked before any
        request.
    type: path
  weight_limit:
    description:
      - Requests per minute this account may send, an integer in [0, 1800] (1800 is 30 a second, Deribit's highest
        documented tier); a value outside it fails before any request. Deribit counts requests per account (per
        sub-account), in credits tiered by the account's volume; the collection counts them per O(client_id),
        shared by every worker and process of the controller through its pacing ledger (in O(pacing_dir)).
      - If not set, 300 a minute (5 a second), below Deribit's lowest tiers, leaving room for the account's
        trading systems. Set it to your tier's limit minus what the trading systems use.
      - V(0) turns pacing off (a recorded stop still holds, and the ledger is still needed to know it).
    type: int
  weight_reserve:
    description:
      - Requests left unused in each minute for what this controller cannot see (other systems using the same
        account). If not set, a tenth of O(weight_limit).
    type: int
  pacing_dir:
    description:
      - The directory of the pacing ledger, where the workers of the controller count each account's requests and
        record the stops (rate limits given up on, HTTP 418) that every task, run and watcher must honour.
      - If not set, the value of the E(MARKETOPS_MMP_PACING_DIR) environment variable is used, then
        C(~/.cache/marketops-mmp) in the home directory of the user running the task (created with mode 0700), where
        no other user can create it first. Every task, run and watcher of the controller must use the same directory.
      - An absolute path. It must be a directory of the user running the task, not writable by group or others and
        not a symbolic link; its ledger files must be regular files of that user. Otherwise, or when another process
        holds a ledger's lock for more than 10 seconds, the task B(fails before sending anything), saying which path
        and why.
    type: path
  pacing_ledger:
    description:
      - Whether to use the pacing ledger in O(pacing_dir). V(false) paces this task alone and B(gives up the shared
        stops) - a stop recorded by another task, run or watcher is not seen, and one this task meets is not
        recorded for the others.
    type: bool
    default: true
  account:
    description:
      - A label of the account, such as the inventory host name; not sent to the exchange.
      - When set, every warning and error message of the task starts with C(account <label>:).
    type: str
notes:
  - Deribit staff must activate MMP for the account before it can be configured (once, index by index; the
    activation covers the sub-accounts). Until then the exchange refuses the config, and the task fails saying so.
  - Retries are bounded. C(too_many_requests) (code 10028, or HTTP 429) is waited out at most twice on a new
    connection (Deribit ends the session of an account out of credits), or not at all when its C(Retry-After) is
    longer than 120 seconds, then recorded in the pacing ledger for that account (O(client_id)) for as long as
    C(Retry-After) says (1 minute without it; at most 3 days), so that no task, run or watcher of the controller
    sends for it before the stop ends. An HTTP 418 is recorded for every account on the O(base_url), for as long
    as its C(Retry-After) says (2 minutes without it). Wrong
    credentials (codes 13004, 13009, ...) are never retried. A write whose outcome is unknown (a timeout, a
    dropped connection, a 5xx, code 11094 or 13888) is decided by reading the state back.
  - The signature's timestamp is valid for 60 seconds; keep the clock of the host that runs the task in sync.
  - A task that succeeded only because a request was sent again, or a write was read back, gives one warning per
    recovery.
requirements:
  - requests
'''
