# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Connection and credential options shared by the collection's modules.
    # Kept in step with BinanceVenue.connection_argument_spec() in plugins/module_utils/binance/venue.py.
    DOCUMENTATION = r'''
options:
  api_key:
    description:
      - The Binance API key of the account.
      - If not set, the value of the E(BINANCE_API_KEY) environment variable is used.
      - Treated as a secret (never logged), although on its own it cannot sign requests.
      - Printable ASCII without whitespace, as Binance issues it. A value with a space, a tab, a line break or a
        character outside printable ASCII fails before any request, with a message that names the option and the
        likely cause but never shows the value. A Vault value written as a YAML block scalar C(|) keeps a trailing
        newline; write it with C(|-). The value of E(BINANCE_API_KEY) is checked the same way.
    type: str
    required: true
  api_secret:
    description:
      - The secret of an HMAC API key.
      - If not set, the value of the E(BINANCE_API_SECRET) environment variable is used.
      - Checked as O(api_key) is, before any request (printable ASCII without whitespace, no trailing newline).
      - Set exactly one of O(api_secret) and O(private_key).
    type: str
  private_key:
    description:
      - The private key of an Ed25519 or RSA API key, as PEM text or as the path of a PEM file on the host
        that runs the task. The key type is detected from the key.
      - If not set, the value of the E(BINANCE_PRIVATE_KEY) environment variable is used.
      - Needs the Python library C(cryptography) on the host that runs the task.
      - Set exactly one of O(api_secret) and O(private_key).
    type: str
  private_key_passphrase:
    description:
      - The passphrase of an encrypted O(private_key).
    type: str
  base_url:
    description:
      - The base URL of Binance's options API.
      - If not set, the value of the E(BINANCE_EAPI_URL) environment variable is used, then the default.
      - Plain C(http) is accepted only for a loopback IP address (C(127.0.0.0/8) or C(::1), also in the IPv4-mapped
        form C(::ffff:127.0.0.1)) or for the host name C(localhost) exactly, such as the collection's local emulator.
        A host name that merely starts with C(127.) or C(localhost) is refused, as it may resolve anywhere.
      - It must not carry a user name or password (C(user:password@)), a query string or a fragment. Such a URL is
        refused before any request, with a message that says which part is wrong without repeating it, and its
        value is masked in the task's result (C(invocation) included) on both execution paths.
    type: str
    default: https://eapi.binance.com
  recv_window:
    description:
      - How many milliseconds after its timestamp a signed request stays valid, in (0, 60000).
    type: int
    default: 5000
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
      - Whether to verify the exchange's TLS certificate (its issuer and that it is valid for the host of
        O(base_url)).
      - V(false) turns every check off, so that anything on the network path can read and change the requests,
        the API key included; the task then gives a warning. Only do this against a test endpoint; for a private
        CA, or a proxy that re-signs TLS with its own CA, set O(ca_path) instead.
    type: bool
    default: true
  ca_path:
    description:
      - A file of CA certificates in PEM format on the host that runs the task, trusted to verify the exchange's
        TLS certificate instead of the public CAs of the C(requests) library's default bundle. Use it for the CA
        of a proxy that re-signs TLS, or of a test endpoint.
      - It takes precedence over the E(REQUESTS_CA_BUNDLE) and E(CURL_CA_BUNDLE) environment variables.
      - Checked before any request is sent; a file that is missing, unreadable, holds no certificate or that
        every user may write is refused.
    type: path
  weight_limit:
    description:
      - Caps the request weight this IP may use per minute, an integer in [0, 10000000]; a value outside it fails
        before any request. If not set, the limit is the one Binance publishes
        (C(REQUEST_WEIGHT) per minute in C(/eapi/v1/exchangeInfo)'s C(rateLimits)), read by one worker of the
        controller at most once an hour and shared with the others; 2400 (Binance's documented limit) when it cannot
        be read, with a warning. When set, it can only lower the published limit, never raise it. The limit is per
        IP, shared by every account and process behind it.
      - Every request claims its weight before it is sent, in each minute of the exchange's clock it may land in,
        and waits while that would cross the limit minus O(weight_reserve). The workers of one controller
        (forks, module processes) claim in one ledger, a file in O(pacing_dir), locked while a claim is made; the
        exchange's C(X-MBX-USED-WEIGHT-1M) raises the count when other systems use the IP too.
      - No wait for the weight or for a shared C(Retry-After) is longer than 120 seconds.
      - V(0) turns pacing off (a recorded ban still holds, and the ledger is still needed to know it).
    type: int
  weight_reserve:
    description:
      - Weight left unused in each minute for what this controller's ledger cannot see - other systems and other
        controllers (AWX nodes, cron hosts) behind the same IP. The workers of one controller need no reserve among
        themselves.
      - If not set, a tenth of the limit in force (240 of 2400), at least 1 and below it. A larger value is cut to
        one below the limit.
      - V(0) when these tasks are the only user of the IP.
    type: int
  pacing_dir:
    description:
      - The directory of the pacing ledger, where the workers of the controller count their request weight and
        record the stops (bans, rate limits given up on) that every task, run and watcher must honour.
      - If not set, the value of the E(MARKETOPS_MMP_PACING_DIR) environment variable is used, then
        C(~/.cache/marketops-mmp) in the home directory of the user running the task (created with mode 0700), where
        no other user can create it first. Every task, run and watcher of the controller must use the same directory
        (the environment variable is read by the watcher too).
      - An absolute path. It must be a directory of the user running the task, not writable by group or others and
        not a symbolic link; its ledger files must be regular files of that user. Otherwise, or when another process
        holds a ledger's lock for more than 10 seconds, the task B(fails before sending anything), saying which path
        and why, as a ban recorded there could not be honoured.
    type: path
  pacing_ledger:
    description:
      - Whether to use the pacing ledger in O(pacing_dir). V(false) paces this task alone (only its own requests
        count against O(weight_limit)) and B(gives up the shared stops) - a ban or rate limit recorded by another
        task, run or watcher is not seen, and one this task meets is not recorded for the others. Only for a task
        that is the only user of its IP and account.
    type: bool
    default: true
  account:
    description:
      - A label of the account, such as the inventory host name; not sent to the exchange.
      - When set, every warning and error message of the task starts with C(account <label>:), so that a message
        says whose underlying it is about. The collection's playbooks set it to C(inventory_hostname).
    type: str
notes:
  - The API key needs the options trading permission, and Binance must have enabled the account as a
    market maker. Keys bound to an IP whitelist only work from that IP, so run the task on (or delegate it to)
    a host whose egress IP is whitelisted.
  - Retries are bounded. HTTP 429 answers are retried only after the wait that C(Retry-After) asks for,
    HTTP 418 (IP banned) is never retried, and a write whose outcome is unknown is decided by reading the
    state back.
  - A ban (HTTP 418) and a 429 that is not retried are recorded in the pacing ledger until their end (from
    C(Retry-After), else Binance's message, else 2 minutes; at most 3 days), for the IP (every account on the
    O(base_url)). Until then every task of every module on the controller, in this run and the next, fails at once
    saying until when, and sends nothing, not even the read of the published limit.
  - A task that succeeded only because a request was sent again (a timeout, a connection error, a 5xx, a 429,
    a C(-1021) clock resynchronisation) or because a write was read back gives one warning per recovery, naming
    the request and why; at most ten a task, the others counted.
  - A failed TLS handshake (a certificate that cannot be verified, or that is issued for another host name)
    fails at once, saying why and what to do, and is never retried.
  - A request that the HTTP library cannot build (an invalid header value or URL, a proxy URL it cannot use) fails
    at once, saying that it was not sent; it is never retried, and a write that failed so is known not to be applied.
requirements:
  - requests
  - cryptography (only for Ed25519 and RSA keys)
'''
