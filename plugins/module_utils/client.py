# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Signed client for Binance's options REST API (eapi), without any AnsibleModule inside.

What it does, in the order a request meets it:

- signs requests with an HMAC secret, or with an Ed25519 or RSA private key (through
  ``cryptography``, imported only when such a key is used);
- keeps an offset to the exchange's clock and, on ``-1021``, reads ``/eapi/v1/time`` and retries once;
- claims each request's weight before sending it, and waits while it would cross the per-IP weight
  budget (``pacing.py``: exact across the workers of one controller, corrected by ``X-MBX-USED-WEIGHT-1M``);
- on 429 / ``-1008`` waits as ``Retry-After`` says (never an immediate retry), a bounded number of times;
- on 418 fails at once: the IP is banned, and the exchange must not be asked again; the ban's end is recorded
  in the pacing ledger, so that no other worker, task, run or watcher of this controller sends before it
  (``BinanceIPBanned`` "... nothing was sent"); a 429 that is not retried is recorded the same way;
- paces under the weight limit the exchange publishes (``exchangeInfo``'s ``rateLimits``, read by one worker
  at most once an hour per controller), lowered by ``weight_limit`` when that is set;
- on 5xx, timeouts and connection errors retries with jittered backoff, a bounded number of times,
  except for a write whose outcome is unknown: that raises ``BinanceUnknownOutcome`` so that the caller
  reads the state back instead of guessing;
- a failed TLS handshake (the certificate not verified, issued for another host name, no common protocol)
  fails at once with ``BinanceTLSError``: retrying cannot help, and nothing was sent;
- a request that could not be built (a header value or URL that is not valid, an unusable proxy URL) fails at
  once with ``BinanceConfigError``: it never left this host, so it is neither retried nor an unknown outcome;
- any other error fails at once with the exchange's code, its message and a hint;
- every request it had to send again, and why, is kept in ``recoveries`` (bounded): the task reports them as
  warnings, so that a run that succeeded only after timeouts, 5xx, 429 or -1021 says so.

No message this module builds contains a secret, a private key, a passphrase, a signature or a
signed URL: URLs are reported without their query string, and text coming from the transport layer
is passed through ``redact()``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import math
import os
import random
import re
import ssl
import time
import traceback
import warnings

from collections import deque

from urllib.parse import quote, unquote, urlencode, urlsplit

try:
    import requests
    from urllib3.exceptions import InsecureRequestWarning, LocationValueError
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by the module's missing_required_lib path
    requests = None
    InsecureRequestWarning = LocationValueError = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.marketops.mmp.plugins.module_utils.pacing import (
    DEFAULT_BAN,
    DEFAULT_STOP_429,
    DEFAULT_WEIGHT_LIMIT,
    MAX_STOP,
    ExchangeStop,
    Ledger,
    Pacer,
    header as _header,
)


DEFAULT_BASE_URL = 'https://eapi.binance.com'
DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000
TIME_SYNC_MAX_AHEAD_MS = 500  # the exchange rejects a timestamp 1000 ms ahead of its clock: stay well under it
DEFAULT_TIMEOUT = 10.0
API_KEY_MAX_LEN = 256  # Binance issues keys of 64 characters
# DEFAULT_WEIGHT_LIMIT (pacing.py): Binance's documented REQUEST_WEIGHT limit for options, per IP and minute, used
# when exchangeInfo's rateLimits cannot be read. The task's weight_limit (None: unset) can only lower the published one.
EXCHANGE_INFO_PATH = '/eapi/v1/exchangeInfo'
# Weight left unused in each minute for other systems and controllers behind the same IP. None: the
# default of pacing.default_reserve() (a tenth of weight_limit); the workers of one controller coordinate
# exactly through the pacing ledger and need no reserve among themselves.
DEFAULT_WEIGHT_RESERVE = None

# Retry budget. Everything is bounded: a run never loops on an unhealthy exchange.
TRANSIENT_RETRIES = 3          # extra attempts after a 5xx, timeout or connection error
RATE_LIMIT_RETRIES = 2         # extra attempts after a 429 / -1008
BACKOFF_BASE = 0.5             # seconds
BACKOFF_CAP = 8.0              # seconds
RATE_LIMIT_DEFAULT_WAIT = 5.0  # seconds, when a 429 carries no Retry-After
RATE_LIMIT_MAX_WAIT = 120.0    # a longer Retry-After fails instead of blocking the run
RECOVERIES_KEPT = 10           # recoveries a client keeps for its task's warnings; more are only counted
WAITS_KEPT = 100               # waits a client keeps for debugging (a watcher's client lives for days)

# A 503 whose message starts so means the execution status is unknown (the write may have happened).
UNKNOWN_OUTCOME_PREFIX = 'unknown error'

_SIGNATURE_RE = re.compile(r'(signature=)[^&\s\'"]*', re.IGNORECASE)
_URL_QUERY_RE = re.compile(r'((?:https?://[^\s?\'"]*)?/eapi/[^\s?\'"]*)\?[^\s\'"]*')
_PEM_RE = re.compile(r'-----BEGIN [A-Z ]+-----.*?(-----END [A-Z ]+-----|$)', re.DOTALL)


def utc(seconds):
    """``seconds`` since the epoch as 'YYYY-MM-DD HH:MM:SS UTC'."""
    return time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(seconds))


_BANNED_UNTIL_RE = re.compile(r'banned until (\d{10,16})')


def stop_seconds(status, headers, exchange_msg, server_now):
    """How long the exchange said to stop after a 418 (or a 429 not retried), in seconds.

    ``Retry-After`` (seconds, or an HTTP date) first; for a 418, then the "banned until <ms>" of Binance's message
    (the exchange's clock, ``server_now`` its present as we know it); else DEFAULT_BAN (418) or DEFAULT_STOP_429.
    Never more than MAX_STOP (3 days, the exchange's longest ban), never less than a second.
    """
    value = _header(headers, 'Retry-After')
    seconds = None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 9:
        seconds = float(int(value.strip()))
    elif isinstance(value, str) and 0 < len(value) <= 64:
        try:
            from email.utils import parsedate_to_datetime
            moment = parsedate_to_datetime(value)
            if moment.tzinfo is not None:
                seconds = moment.timestamp() - server_now
        except (TypeError, ValueError, OverflowError, IndexError):
            seconds = None
    if seconds is None and status == 418 and isinstance(exchange_msg, str):
        match = _BANNED_UNTIL_RE.search(exchange_msg)
        if match:
            until = int(match.group(1))
            seconds = (until / 1000.0 if until > 10 ** 11 else float(until)) - server_now
    if seconds is None or math.isnan(seconds):
        seconds = DEFAULT_BAN if status == 418 else DEFAULT_STOP_429
    return min(max(seconds, 1.0), MAX_STOP)


def published_weight_limit(data):
    """The request weight per minute that ``exchangeInfo``'s ``rateLimits`` allows, or None when it says none.

    Every REQUEST_WEIGHT entry counts, converted to what it allows in one minute at most: ``limit / n`` for a window
    of n minutes, hours or days; ``limit`` for a window of seconds (all of it may fall in one minute). The smallest
    wins; entries that are not well formed are ignored.
    """
    limits = data.get('rateLimits') if isinstance(data, dict) else None
    if not isinstance(limits, list):
        return None
    minutes = {'MINUTE': 1, 'HOUR': 60, 'DAY': 1440}
    found = []
    for entry in limits[:64]:
        if not isinstance(entry, dict) or entry.get('rateLimitType') != 'REQUEST_WEIGHT':
            continue
        limit, num, interval = entry.get('limit'), entry.get('intervalNum', 1), entry.get('interval')
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            continue
        if isinstance(num, bool) or not isinstance(num, int) or num < 1:
            continue
        if interval == 'SECOND':
            found.append(limit)
        elif interval in minutes:
            found.append(max(1, limit // (num * minutes[interval])))
    return min(found) if found else None


def redact(text):
    """Remove signatures, query strings of API URLs and PEM blocks from ``text``."""
    if text is None:
        return text
    text = str(text)
    text = _PEM_RE.sub('[private key redacted]', text)
    text = _URL_QUERY_RE.sub(r'\1?[query redacted]', text)
    text = _SIGNATURE_RE.sub(r'\1[redacted]', text)
    return text


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------

class BinanceError(Exception):
    """Base class of every error this client raises. Its message never holds a secret."""

    def __init__(self, message, http_status=None, code=None, exchange_message=None):
        super().__init__(redact(message))
        self.http_status = http_status
        self.code = code
        self.exchange_message = exchange_message

    @property
    def message(self):
        return self.args[0]


class BinanceConfigError(BinanceError):
    """The client was configured wrongly (bad URL, unreadable key, ...). No request was sent."""


class BinanceMissingLibrary(BinanceConfigError):
    """A Python library the chosen configuration needs is missing."""

    def __init__(self, library, reason):
        super().__init__('the Python library %s is required %s' % (library, reason))
        self.library = library
        self.reason = reason


class BinanceAPIError(BinanceError):
    """The exchange refused the request (4xx with a code). Not retried."""


class BinanceRateLimited(BinanceError):
    """Still rate limited (429 / -1008) after the bounded waits, or a recorded 429 stop holds (``until`` set)."""

    until = None       # our clock: no request before then (a recorded stop), else None
    recorded_at = None
    sent = True        # whether this request reached the exchange


class BinanceIPBanned(BinanceError):
    """HTTP 418: this IP is banned, or a recorded ban holds (``sent`` False: nothing was sent). Never retried."""

    until = None
    recorded_at = None
    sent = True


class BinanceTransportError(BinanceError):
    """Timeouts, connection errors and 5xx answers that outlived the bounded retries."""


class BinanceTLSError(BinanceError):
    """The TLS handshake with the exchange failed: its certificate could not be verified, was issued for another
    host name, or client and server found no common protocol. Never retried (it cannot help); no request was sent.

    ``reason`` is what the TLS library said, ``verify_code`` OpenSSL's verification code (None when the
    failure was not a verification); ``host`` is the host name or address the client connected to.
    """

    def __init__(self, message, host=None, reason=None, verify_code=None):
        super().__init__(message)
        self.host = host
        self.reason = reason
        self.verify_code = verify_code


class BinanceResponseError(BinanceError):
    """The answer was not the JSON the API documents (an HTML page from a proxy, a missing field)."""


class BinanceUnknownOutcome(BinanceError):
    """A write was sent and its outcome is unknown (503 "Unknown error", timeout, dropped connection).

    The caller must read the state back before deciding anything.
    """


HINTS = {
    -1021: 'the clock of the host running this task is too far from the exchange\'s, even after one '
           'resynchronisation; check NTP, or raise recv_window',
    -1022: 'the signature was rejected: check that api_secret / private_key belongs to this api_key',
    -2014: 'the API key has the wrong format: check api_key',
    -2015: 'check the API key, its IP whitelist (the IP this request left from must be whitelisted) '
           'and that the key has the options trading permission; only accounts that Binance enabled '
           'as market makers may use MMP',
    -1100: 'a parameter has characters the exchange does not accept',
    -1102: 'a mandatory parameter was missing or malformed',
    -1111: 'a decimal has more precision than the exchange accepts',
    -1128: 'the exchange does not know this underlying: check the spelling and exchangeInfo',
    -1130: 'a parameter value was rejected',
    -1131: 'recv_window must be below 60000',
}


# --------------------------------------------------------------------------------------------
# Signing
# --------------------------------------------------------------------------------------------

class HmacSigner:
    """HMAC-SHA256, hex encoded."""

    key_type = 'hmac'

    def __init__(self, secret):
        self._secret = check_key_text('api_secret', secret).encode('ascii')

    def sign(self, payload):
        return hmac.new(self._secret, payload.encode('utf-8'), hashlib.sha256).hexdigest()

    def __repr__(self):
        return '<HmacSigner>'


class _PrivateKeySigner:
    key_type = None

    def __init__(self, key):
        self._key = key

    def __repr__(self):
        return '<%s>' % type(self).__name__


class Ed25519Signer(_PrivateKeySigner):
    """Ed25519 signature, base64 then URL-encoded."""

    key_type = 'ed25519'

    def sign(self, payload):
        return quote(base64.b64encode(self._key.sign(payload.encode('utf-8'))).decode('ascii'), safe='')


class RsaSigner(_PrivateKeySigner):
    """RSA PKCS#1 v1.5 over SHA-256, base64 then URL-encoded."""

    key_type = 'rsa'

    def sign(self, payload):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        raw = self._key.sign(payload.encode('utf-8'), padding.PKCS1v15(), hashes.SHA256())
        return quote(base64.b64encode(raw).decode('ascii'), safe='')


def read_private_key(private_key):
    """Return the PEM text of ``private_key``, which is PEM text or a path to a PEM file."""
    text = private_key.strip()
    if text.startswith('-----BEGIN'):
        return text
    if '\n' in text or len(text) > 4096:
        raise BinanceConfigError('private_key is neither PEM text (starting with -----BEGIN) nor a path to a file')
    path = os.path.expanduser(text)
    if not os.path.isfile(path):
        raise BinanceConfigError('private_key is neither PEM text (starting with -----BEGIN) nor a path '
                                 'to a readable file on the host that runs the task')
    try:
        with open(path, 'r') as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise BinanceConfigError('private_key: the file could not be read (%s)' % type(e).__name__)


def load_private_key_signer(private_key, passphrase=None):
    """Build an Ed25519Signer or RsaSigner from PEM text or a path; the type comes from the key."""
    pem = read_private_key(private_key)
    try:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
        from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    except ImportError:
        raise BinanceMissingLibrary('cryptography', 'to sign with an Ed25519 or RSA private_key '
                                    '(install it on the host that runs the task: pip install cryptography)')
    password = passphrase.encode('utf-8') if passphrase else None
    try:
        key = load_pem_private_key(pem.encode('utf-8'), password=password)
    except TypeError:
        # Raised both for "key is encrypted, no password" and "password given, key not encrypted".
        if password is None:
            raise BinanceConfigError('private_key is encrypted: set private_key_passphrase')
        raise BinanceConfigError('private_key_passphrase was given but private_key is not encrypted')
    except Exception as e:  # cryptography raises ValueError or UnsupportedAlgorithm
        if password is not None:
            raise BinanceConfigError('private_key could not be loaded: wrong private_key_passphrase, '
                                     'or not a PEM private key (%s)' % type(e).__name__)
        raise BinanceConfigError('private_key could not be loaded: not a PEM private key (%s)' % type(e).__name__)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return Ed25519Signer(key)
    if isinstance(key, rsa.RSAPrivateKey):
        return RsaSigner(key)
    raise BinanceConfigError('private_key is a %s key; Binance accepts Ed25519 and RSA keys (or an HMAC '
                             'api_secret)' % type(key).__name__.replace('_', '').replace('PrivateKey', ''))


def check_key_text(option, value, max_len=None):
    """Return ``value`` if it can be an API key or HMAC secret: printable ASCII (0x21-0x7e), nothing else.

    Else raise BinanceConfigError naming ``option`` and the likely cause, never the value: a trailing line break
    (a Vault value written as a YAML block scalar ``|`` keeps one), other whitespace (copied with the text around
    it), or characters no key has (control characters, typographic quotes, non-breaking spaces). Sent as is, such a
    key fails in the HTTP library (an invalid header) or at the exchange (a wrong signature).
    """
    if not isinstance(value, str):
        raise BinanceConfigError('%s: must be a string' % option)
    if not value:
        raise BinanceConfigError('%s: is empty' % option)
    if value.endswith(('\n', '\r')):
        raise BinanceConfigError('%s: ends with a newline; a Vault value written as a YAML block scalar `|` keeps one: '
                                 'write it with `|-`, or strip it (`| trim`)' % option)
    if any(c in ' \t\n\r\v\f' for c in value):
        where = 'begins or ends with' if value != value.strip() else 'contains'
        raise BinanceConfigError('%s: %s whitespace (a space, tab or line break), which no key has: was it copied with '
                                 'the text around it?' % (option, where))
    if any(not 0x21 <= ord(c) <= 0x7e for c in value):
        kind = 'a non-ASCII character (a typographic quote, a non-breaking space, ...)' \
            if any(ord(c) > 0x7f for c in value) else 'a control character'
        raise BinanceConfigError('%s: contains %s; keys are printable ASCII only, as Binance issues them: copy it again '
                                 'from the exchange' % (option, kind))
    if max_len is not None and len(value) > max_len:
        raise BinanceConfigError('%s: is longer than %d characters: not a Binance key' % (option, max_len))
    return value


def make_signer(api_secret=None, private_key=None, private_key_passphrase=None):
    """Exactly one of ``api_secret`` and ``private_key``."""
    if bool(api_secret) == bool(private_key):
        raise BinanceConfigError('set exactly one of api_secret (HMAC key) and private_key (Ed25519 or RSA key)')
    if api_secret:
        if private_key_passphrase:
            raise BinanceConfigError('private_key_passphrase goes with private_key, not with api_secret')
        return HmacSigner(api_secret)
    return load_private_key_signer(private_key, private_key_passphrase)


# The five parts of a URI (RFC 3986, appendix B): this never fails, unlike urlsplit() and its .port, so that
# what must not be shown is known even for a URL that is not valid.
_URI_RE = re.compile(r'^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$', re.DOTALL)
_NETLOC_RE = re.compile(r'^(?:\[[0-9A-Za-z:.%]+\]|[^\[\]:]+)(?::[0-9]*)?$')  # host or [IPv6], then :port
_URL_SHOWN_MAX = 200


def url_secrets(base_url):
    """The strings of ``base_url`` that no output may show, for the no_log values of a task; [] when it has none.

    When ``base_url`` carries a user name or password (the part before ``@``), a query string or a fragment (a
    token), that is: the whole ``base_url``, its userinfo and password, its query and its fragment (each as
    written and percent-decoded). ``check_base_url()`` refuses such a URL without repeating these parts; these
    values keep it out of ``invocation.module_args`` and of any other part of the result too.
    """
    if not isinstance(base_url, str):
        return []
    dummy, netloc, dummy, query, fragment = _URI_RE.match(base_url).groups()
    userinfo = netloc.rpartition('@')[0] if netloc and '@' in netloc else None
    if userinfo is None and query is None and fragment is None:
        return []
    parts = [base_url, base_url.strip(), userinfo, query, fragment]
    if userinfo and ':' in userinfo:
        parts.append(userinfo.split(':', 1)[1])
    out = []
    for part in parts:
        for value in (part, unquote(part) if part else part):
            if value and value not in out:
                out.append(value)
    return out


def _shown_url(scheme, netloc, path):
    """scheme://host[:port]/path of a URL, for messages: never its userinfo, query or fragment."""
    text = ('%s://%s%s' % (scheme, netloc, path)) if scheme else (netloc or '') + path
    return text if len(text) <= _URL_SHOWN_MAX else text[:_URL_SHOWN_MAX] + '...'


def is_loopback_host(host):
    """Whether ``host`` (a URL's host name, lower case, without brackets) is a loopback address or ``localhost``.

    Only IP addresses in 127.0.0.0/8 or ::1 (also written as the IPv4-mapped ::ffff:127.x.y.z) and the name
    ``localhost`` itself count: a name that merely starts with ``127.`` or ``localhost`` can resolve anywhere.
    """
    if not isinstance(host, str):
        return False
    if host.lower() == 'localhost':
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, 'ipv4_mapped', None)
    return (mapped or address).is_loopback


def check_base_url(base_url):
    """Return the normalised base URL, or raise BinanceConfigError.

    Plain http is allowed only to a loopback host (the local emulator): the API key travels in a header. No
    message repeats the URL's userinfo, query or fragment (where a password or token would be): it says which
    part is wrong, and shows at most scheme://host[:port]/path.
    """
    if not isinstance(base_url, str) or not base_url.strip():
        raise BinanceConfigError('base_url must be an http(s) URL such as %s' % DEFAULT_BASE_URL)
    scheme, netloc, path, query, fragment = _URI_RE.match(base_url).groups()
    if netloc and '@' in netloc:
        raise BinanceConfigError('base_url must not carry a user name or password (the part before @): the exchange '
                                 'authenticates with api_key and api_secret / private_key, and a proxy\'s credentials '
                                 'go in HTTPS_PROXY')
    if query is not None:
        raise BinanceConfigError('base_url must not carry a query string (the part after ?): give only '
                                 'scheme://host[:port][/path], such as %s' % DEFAULT_BASE_URL)
    if fragment is not None:
        raise BinanceConfigError('base_url must not carry a fragment (the part after #): give only '
                                 'scheme://host[:port][/path], such as %s' % DEFAULT_BASE_URL)
    shown = _shown_url(scheme, netloc, path)
    if any(c.isspace() or not c.isprintable() for c in base_url):
        raise BinanceConfigError('base_url contains whitespace or a control character (a line break at its end comes '
                                 'from a YAML block scalar `|`: write it with `|-`); an http(s) URL such as %s is '
                                 'expected' % DEFAULT_BASE_URL)
    if (scheme or '').lower() not in ('http', 'https') or not netloc:
        raise BinanceConfigError('base_url must be an http(s) URL such as %s, got %s' % (DEFAULT_BASE_URL, shown))
    try:
        parts = urlsplit(base_url)
        dummy = parts.port  # raises ValueError for a port that is not a number in 0-65535
        problem = None if _NETLOC_RE.match(netloc) else 'host'
    except ValueError as e:  # its text may repeat the host: not shown
        problem = 'port' if 'port' in str(e).lower() else 'host'
    if problem:
        raise BinanceConfigError('base_url is not a valid URL: it has %s'
                                 % ('a port that is not a number in 0-65535' if problem == 'port' else
                                    'a host that is not valid (an IPv6 address goes in brackets, such as '
                                    'http://[::1]:8765)'))
    if not parts.hostname:
        raise BinanceConfigError('base_url must be an http(s) URL such as %s, got %s' % (DEFAULT_BASE_URL, shown))
    host = parts.hostname.lower()
    if parts.scheme == 'http' and not is_loopback_host(host):
        raise BinanceConfigError('base_url: plain http is only allowed to a loopback address (127.0.0.0/8, ::1) or '
                                 'localhost, such as a local emulator; %s is none of them (a host name counts only '
                                 'when it is exactly localhost): use https' % host)
    return base_url.rstrip('/')


# --------------------------------------------------------------------------------------------
# TLS: which CAs verify the exchange, and what a failed handshake means
# --------------------------------------------------------------------------------------------

CA_BUNDLE_ENV = ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE')  # read by requests; the first one set wins
# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH
_NAME_MISMATCH_CODES = (62, 64)
# The peer closing the connection during the handshake: as likely a transient drop as a refusal, so it is
# retried like any connection failure (but a write that failed so is still known not to have been sent).
_TLS_CONNECTION_DROPS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)
_SSL_SOURCE_RE = re.compile(r'\s*\(_ssl\.c:\d+\)\s*$')
_PEM_CERTIFICATE_RE = re.compile(br'-----BEGIN (TRUSTED )?CERTIFICATE-----')
CA_PATH_MAX_BYTES = 16 * 1024 * 1024  # how much of ca_path is searched for a certificate

INSECURE_TLS_WARNING = ("the exchange's TLS certificate is not verified (validate_certs: false): anything between "
                        "this host and %s can read and change the requests, API key included. Give the CA that "
                        "signs its certificate with ca_path (or REQUESTS_CA_BUNDLE) instead")


def check_ca_path(ca_path):
    """Return ``ca_path`` (``~`` expanded) if it is a readable file holding PEM certificates, else raise BinanceConfigError.

    Symbolic links are followed (system bundles are often links); a file that anyone may write is refused, as it
    would let anyone decide whom the client trusts to be the exchange. The certificates themselves are parsed by
    the TLS library when it connects (parsing a full bundle takes OpenSSL 3 tens of milliseconds).
    """
    if not isinstance(ca_path, str) or not ca_path.strip():
        raise BinanceConfigError('ca_path must be the path of a CA bundle file (PEM), got %r' % (ca_path,))
    path = os.path.expanduser(ca_path.strip())
    if not os.path.isfile(path):
        raise BinanceConfigError('ca_path: %s is not a file on the host that runs the task (a CA bundle file in PEM '
                                 'format is expected)' % path)
    try:
        if os.stat(path).st_mode & 0o002:
            raise BinanceConfigError('ca_path: %s is writable by every user, so anyone could make this host trust '
                                     'them as the exchange; remove the write permission for others' % path)
        with open(path, 'rb') as f:
            head = f.read(CA_PATH_MAX_BYTES)
    except OSError as e:
        raise BinanceConfigError('ca_path: %s could not be read (%s)' % (path, e.strerror or type(e).__name__))
    if not _PEM_CERTIFICATE_RE.search(head):
        raise BinanceConfigError('ca_path: %s holds no certificate in PEM format (-----BEGIN CERTIFICATE-----)' % path)
    return path


def tls_verify(ca_path=None, validate_certs=True):
    """What verifies the exchange's certificate: (``verify`` for requests, where it comes from).

    ``verify`` is False (no verification), a CA bundle path (``ca_path``, else REQUESTS_CA_BUNDLE or
    CURL_CA_BUNDLE) or True (requests' own bundle, from certifi). The origin is ``validate_certs``,
    ``ca_path``, the environment variable's name or ``default``.
    """
    if not validate_certs:
        return False, 'validate_certs'
    if ca_path:
        return ca_path, 'ca_path'
    for var in CA_BUNDLE_ENV:
        bundle = os.environ.get(var)
        if bundle:
            return bundle, var
    return True, 'default'


def _describe_trust(verify, origin):
    """Which CAs ``verify`` trusts, for messages: 'ca_path /x.pem', 'REQUESTS_CA_BUNDLE=/x.pem', ..."""
    if origin == 'default':
        default = getattr(getattr(requests, 'utils', None), 'DEFAULT_CA_BUNDLE_PATH', None)
        return "the public CAs of requests' default bundle%s" % (' ' + default if default else '')
    if origin == 'validate_certs':
        return 'none, validate_certs is false'
    if origin == 'ca_path':
        return 'ca_path %s' % verify
    return '%s=%s' % (origin, verify)


def insecure_tls_warning(base_url, validate_certs):
    """The warning a task gives when it does not verify the exchange's certificate (None when it does, or for http)."""
    parts = urlsplit(base_url or '')
    if validate_certs or parts.scheme != 'https':
        return None
    return INSECURE_TLS_WARNING % parts.hostname


PACING_LEDGER_WARNING = ("pacing: the shared ledger %s could not be used (%s), so this task counted only its own "
                         "requests against weight_limit, not those of other forks or runs on this host against %s")
PACING_LEDGER_FIX = ("; it must be a regular file of mode 0600 in a directory of mode 0700, both owned by the user "
                     "running the task and not links: remove what is there and the next task recreates it")


def pacing_ledger_warning(client):
    """The warning a task gives when its client paced without the shared ledger (None when it used it, or none)."""
    pacer = getattr(client, 'pacer', None)
    problem = getattr(pacer, 'ledger_problem', None)
    if not problem or pacer.ledger is None:
        return None
    path = pacer.ledger.path
    if problem.startswith(path + ': '):
        problem = problem[len(path) + 2:]  # the path is said once
    text = PACING_LEDGER_WARNING % (path, problem, urlsplit(client.base_url).netloc)
    return text if pacer.ledger_busy else text + PACING_LEDGER_FIX


def _exception_chain(exc, limit=20):
    """``exc`` and the exceptions below it: causes, contexts, urllib3's ``reason`` and exceptions in ``args``."""
    seen, todo = [], [exc]
    while todo and len(seen) < limit:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or any(e is s for s in seen):
            continue
        seen.append(e)
        todo.extend([getattr(e, 'reason', None), e.__cause__, e.__context__] + list(e.args))
    return seen


def _raised_while_connecting(exc):
    """Whether ``exc`` was raised while the connection was being set up (TCP, proxy tunnel, TLS handshake),
    before any byte of the request was sent: urllib3 sets connections up in ``_validate_conn``."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name in ('do_handshake', '_validate_conn'):
            return True
        tb = tb.tb_next
    return False


def request_not_built(exc):
    """Whether ``exc`` was raised before the request left this host, because it could not be built: a header value
    (the API key) or a URL that is not valid, a proxy URL that cannot be used, a header that cannot be encoded.
    Nothing was sent, and sending again cannot help."""
    if isinstance(exc, (UnicodeEncodeError, http.client.InvalidURL)):
        return True
    if requests is None:
        return False
    exceptions = requests.exceptions
    return isinstance(exc, (exceptions.InvalidHeader, exceptions.InvalidURL, exceptions.InvalidSchema,
                            exceptions.MissingSchema, exceptions.URLRequired, LocationValueError))


def _raised_in_handshake(exc):
    """Whether ``exc`` (an ssl error) was raised by the TLS handshake, before any request."""
    if isinstance(exc, ssl.SSLCertVerificationError) or type(exc).__name__ == 'CertificateError':
        return True
    return _raised_while_connecting(exc)


def tls_handshake_failure(exc):
    """The ssl error below ``exc`` (a requests exception) if it broke the TLS handshake, else None.

    An ssl error after the handshake (the connection broken while the answer was read) is a transport
    failure like any other: the request may have reached the exchange.
    """
    chain = _exception_chain(exc)
    for e in chain:
        if isinstance(e, ssl.SSLError) or type(e).__name__ == 'CertificateError':
            return e if _raised_in_handshake(e) or any(_raised_while_connecting(x) for x in chain) else None
    return None


def _host_port(url):
    parts = urlsplit(url or '')
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or '?'
    if ':' in host:
        host = '[%s]' % host
    return '%s:%s' % (host, port) if port else host


# --------------------------------------------------------------------------------------------
# Per-process connection reuse
# --------------------------------------------------------------------------------------------

_SESSIONS = {}


def shared_session(base_url, ca_path=None, validate_certs=True):
    """One requests.Session per base URL, trust settings, proxy and process: loop items reuse the connection.

    The environment (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE, ...) is read once per client here instead of
    on every request, which requests would otherwise do (and read ~/.netrc each time: the API needs no netrc
    auth). Tasks with different ``ca_path`` / ``validate_certs`` / proxy never share a session, nor its pooled
    connections.
    """
    verify = tls_verify(ca_path, validate_certs)[0]
    proxies = requests.utils.get_environ_proxies(base_url)
    key = (base_url, verify, tuple(sorted(proxies.items())))
    session = _SESSIONS.get(key)
    if session is None:
        session = requests.Session()
        session.proxies.update(proxies)
        session.verify = verify
        session.trust_env = False
        _SESSIONS[key] = session
    return session


# --------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------

def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _excerpt(text, limit=160):
    text = re.sub(r'<[^>]*>', ' ', text or '')
    text = re.sub(r'\s+', ' ', text).strip()
    if len(text) > limit:
        text = text[:limit] + '...'
    return redact(text) or '(empty body)'


class BinanceOptionsClient:
    """A small client for the signed options endpoints the collection uses.

    ``session``, ``sleep``, ``clock`` and ``rand`` are injectable so that tests need no network and no
    real waiting. ``weight_limit`` caps the exchange's published limit (None: no cap; 0: pacing off);
    ``published_limit`` False paces under ``weight_limit`` (or DEFAULT_WEIGHT_LIMIT) without reading it.
    """

    def __init__(self, api_key, signer, base_url=DEFAULT_BASE_URL, recv_window=DEFAULT_RECV_WINDOW,
                 timeout=DEFAULT_TIMEOUT, validate_certs=True, weight_limit=None,
                 weight_reserve=DEFAULT_WEIGHT_RESERVE, weight_ledger='auto',
                 session=None, sleep=None, clock=None, rand=None, user_agent=None, ca_path=None,
                 published_limit=True):
        if not HAS_REQUESTS and session is None:
            raise BinanceMissingLibrary('requests', 'to talk to the Binance API')
        self.api_key = check_key_text('api_key', api_key, API_KEY_MAX_LEN)
        self.signer = signer
        self.base_url = check_base_url(base_url)
        self.recv_window = int(recv_window)
        self.timeout = float(timeout)
        self.validate_certs = bool(validate_certs)
        self.ca_path = check_ca_path(ca_path) if ca_path is not None else None
        self.verify, origin = tls_verify(self.ca_path, self.validate_certs)
        if origin in CA_BUNDLE_ENV and not os.path.exists(self.verify):
            raise BinanceConfigError('%s=%s: no such file or directory on the host that runs the task (it should be '
                                     'the CA bundle that verifies the exchange\'s TLS certificate)' % (origin, self.verify))
        self.trust_source = _describe_trust(self.verify, origin)
        if session is None:
            session = shared_session(self.base_url, self.ca_path, self.validate_certs)
        self.session = session
        self.user_agent = user_agent or 'marketops.mmp'
        self._sleep = sleep or time.sleep
        self._clock = clock or time.time
        self._rand = rand or random.random
        self.waits = deque(maxlen=WAITS_KEPT)  # (reason, seconds) of the latest waits, for tests and debugging
        self.recoveries = []  # what had to be sent again and why (note_recovery, take_recoveries)
        self.recoveries_dropped = 0
        # weight_ledger: 'auto' (the user's pacing ledger for this URL), None (this process only) or a Ledger
        self.pacer = Pacer(self.base_url, weight_limit, weight_reserve,
                           ledger=Ledger.for_url(self.base_url) if weight_ledger == 'auto' else weight_ledger,
                           timeout=self.timeout, clock=self._clock, wait=self._wait, rand=self._rand)
        self._sent_at = self._received_at = None
        self._limit_known = not published_limit
        # start from the offset an earlier client's /eapi/v1/time synchronisation found
        self.time_offset_ms = self.pacer.known_time_offset_ms() or 0

    def __repr__(self):
        return '<BinanceOptionsClient %s>' % self.base_url

    @property
    def weight_limit(self):
        return self.pacer.weight_limit

    @property
    def weight_reserve(self):
        return self.pacer.weight_reserve

    @property
    def ledger(self):
        return self.pacer.ledger

    @property
    def used_weight(self):
        """The X-MBX-USED-WEIGHT-1M of the last answer (None before any, or after a 429)."""
        return self.pacer.used_weight

    @used_weight.setter
    def used_weight(self, value):
        self.pacer.used_weight = value

    # -- recoveries ------------------------------------------------------------------------

    def note_recovery(self, text):
        """Keep ``text`` (a request that had to be sent again, or read back, and why) for the task's warnings."""
        if len(self.recoveries) < RECOVERIES_KEPT:
            self.recoveries.append(text)
        else:
            self.recoveries_dropped += 1

    def take_recoveries(self):
        """The recoveries noted since the last call, as warnings (a line for more than RECOVERIES_KEPT)."""
        out = list(self.recoveries)
        if self.recoveries_dropped:
            out.append('and %d more requests sent again' % self.recoveries_dropped)
        self.recoveries, self.recoveries_dropped = [], 0
        return out

    # -- time ------------------------------------------------------------------------------

    def _now_ms(self):
        return int(self._clock() * 1000)

    def sync_time(self):
        """Read the exchange's clock and keep the offset to ours (shared with later clients)."""
        data = self._send_with_retries('GET', '/eapi/v1/time', {}, signed=False)
        server = _int_or_none(data.get('serverTime')) if isinstance(data, dict) else None
        if server is None:
            raise BinanceResponseError('GET /eapi/v1/time answered without a serverTime')
        # The exchange read its clock somewhere between our send and our receipt of the one HTTP exchange that
        # answered (not any wait before it): the offset lies in [server - received, server - sent]. The exchange
        # rejects a timestamp 1000 ms ahead of its clock but takes one up to recv_window behind, so the estimate is
        # the middle of that interval, but never more than TIME_SYNC_MAX_AHEAD_MS above its low end: a slow or
        # lopsided round trip (a starved host, a proxy) then makes timestamps a little late, never rejected as ahead.
        low = server - int(round(self._received_at * 1000))
        round_trip = max(0, int(round((self._received_at - self._sent_at) * 1000)))
        self.time_offset_ms = low + min(round_trip // 2, TIME_SYNC_MAX_AHEAD_MS)
        self.pacer.share_time_offset_ms(self.time_offset_ms)
        return self.time_offset_ms

    # -- pacing ----------------------------------------------------------------------------

    def _wait(self, reason, seconds):
        self.waits.append((reason, seconds))
        self._sleep(seconds)

    def server_now_ms(self):
        """The exchange's clock in milliseconds since the epoch, as well as this client knows it."""
        return int(self._server_now() * 1000)

    def _server_now(self):
        """The exchange's clock, as well as we know it (Date headers, else the -1021 offset)."""
        offset = self.pacer.server_offset()
        return self._clock() + (offset if offset is not None else self.time_offset_ms / 1000.0)

    def _pace(self, what='the request', weight=1):
        """Claim the request's weight in the pacing ledger, waiting while it does not fit (pacing.py); raise
        BinanceIPBanned / BinanceRateLimited, sending nothing, while a recorded stop holds."""
        try:
            self.pacer.claim(weight)
        except ExchangeStop as stop:
            raise self.stopped_error(what, stop.until, stop.at, stop.status, stop.path)

    def stopped_error(self, what, until, at, status, path=None):
        """The error of a request that was not sent because a recorded stop (a ban, a 429) holds until ``until``."""
        left = max(0, int(math.ceil(until - self._clock())))
        kind = 'banned this IP' if status == 418 else 'rate-limited this IP (HTTP 429, not retried)'
        message = ('%s: Binance %s until %s (%d s left), recorded at %s by an earlier request; nothing was sent. '
                   'Every task, run and watcher on this controller waits for it%s'
                   % (what, kind, utc(until), left, utc(at),
                      ' (recorded in %s: see the README, "Rate limits and bans", before clearing it)' % path
                      if path else ''))
        error = (BinanceIPBanned if status == 418 else BinanceRateLimited)(message)
        error.until, error.recorded_at, error.sent = until, at, False
        return error

    def _record_weight(self, headers, stop=None):
        """Learn the exchange's clock (Date) and this IP's used weight from an answer (pacing.py); ``stop``:
        ``(seconds, status)`` of a ban to record with it."""
        self.pacer.observe(headers, self._sent_at, self._received_at, stop=stop)

    # -- requests --------------------------------------------------------------------------

    def _signed_params(self, params):
        items = [(k, v) for k, v in params.items() if v is not None]
        items.append(('recvWindow', self.recv_window))
        items.append(('timestamp', self._now_ms() + self.time_offset_ms))
        payload = urlencode(items)
        return payload + '&signature=' + self.signer.sign(payload)

    def _backoff(self, attempt):
        """Jittered exponential backoff, never zero: half fixed, half random."""
        delay = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** attempt))
        return delay / 2 + self._rand() * delay / 2

    def _send_once(self, method, path, params, signed):
        """One HTTP exchange. Returns (status, headers, text)."""
        self._pace('%s %s' % (method, path))  # first: a request that waited is signed with a fresh timestamp
        if signed:
            encoded = self._signed_params(params)
        else:
            encoded = urlencode([(k, v) for k, v in params.items() if v is not None])
        url = self.base_url + path
        headers = {'User-Agent': self.user_agent}
        if signed:
            headers['X-MBX-APIKEY'] = self.api_key
        body = None
        if method == 'GET':
            if encoded:
                url += '?' + encoded
        else:
            # POST parameters go in a form body: the signature stays out of URLs that proxies log.
            body = encoded
            headers['Content-Type'] = 'application/x-www-form-urlencoded'
        self._sent_at = self._clock()
        if self.verify is False and InsecureRequestWarning is not None:
            # The task warns once, through Ansible; urllib3 would write a warning to stderr on every request.
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', InsecureRequestWarning)
                resp = self.session.request(method, url, data=body, headers=headers, timeout=self.timeout,
                                            verify=False, allow_redirects=False)
        else:
            resp = self.session.request(method, url, data=body, headers=headers, timeout=self.timeout,
                                        verify=self.verify, allow_redirects=False)
        self._received_at = self._clock()
        return resp.status_code, resp.headers, resp.text

    def _transport_failure_is_unknown(self, exc):
        """Whether the request may have reached the exchange (so a write's outcome is unknown)."""
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return False
        if any(_raised_while_connecting(e) for e in _exception_chain(exc)):
            return False  # the connection broke while being set up (a TLS handshake): the request was not sent
        if isinstance(exc, requests.exceptions.ConnectionError):
            reason = exc.args[0] if exc.args else None
            inner = getattr(reason, 'reason', reason)
            name = type(inner).__name__
            if name in ('NewConnectionError', 'NameResolutionError', 'ConnectTimeoutError'):
                return False
            if isinstance(inner, (ConnectionRefusedError,)):
                return False
        return True

    def _tls_error(self, what, err, exc=None):
        """BinanceTLSError for a failed handshake (``err``, below the requests exception ``exc``): the host, the TLS
        library's reason, what to do."""
        host = _host_port(self.base_url)
        code = getattr(err, 'verify_code', None)
        reason = getattr(err, 'verify_message', None) or getattr(err, 'strerror', None) or str(err)
        reason = redact(_SSL_SOURCE_RE.sub('', str(reason)).strip().rstrip('.'))
        proxy = None
        proxies = getattr(self.session, 'proxies', None)
        if requests is not None and proxies:
            proxy = requests.utils.select_proxy(self.base_url + '/', proxies)
        via = ' (reached through the proxy %s)' % _host_port(proxy) if proxy else ''
        if proxy and requests is not None and isinstance(exc, requests.exceptions.ProxyError):
            host, via = 'the HTTPS proxy %s' % _host_port(proxy), ''  # the handshake with the proxy itself failed
        name_mismatch = code in _NAME_MISMATCH_CODES or type(err).__name__ == 'CertificateError' \
            or 'mismatch' in reason.lower()
        if name_mismatch:
            message = ('%s: the TLS certificate that %s%s presented is not valid for that name: %s. Not retried (the '
                       'request was not sent). Check that base_url names the exchange\'s host (a wrong DNS entry or '
                       'proxy may answer in its place); ca_path or REQUESTS_CA_BUNDLE cannot fix a name mismatch, and '
                       'validate_certs: false (not recommended) turns every certificate check off'
                       % (what, host, via, reason))
        elif getattr(err, 'library', None) in ('X509', 'PEM', 'ASN1') and not isinstance(err, ssl.SSLCertVerificationError):
            message = ('%s: the CA certificates to trust (%s) could not be loaded: %s. Not retried (the request was not '
                       'sent). That file must hold CA certificates in PEM format' % (what, self.trust_source, reason))
        elif isinstance(err, ssl.SSLCertVerificationError):
            message = ('%s: the TLS certificate of %s%s could not be verified: %s (trusted CAs: %s). Not retried (the '
                       'request was not sent). If a private CA or a proxy that re-signs TLS issued it, give that CA\'s '
                       'certificate (PEM) with the ca_path option or the REQUESTS_CA_BUNDLE environment variable; '
                       'validate_certs: false would turn verification off (not recommended)'
                       % (what, host, via, reason, self.trust_source))
        else:
            message = ('%s: the TLS handshake with %s%s failed: %s. Not retried (the request was not sent). Check that '
                       'base_url is the exchange\'s https endpoint; if a proxy intercepts TLS, give its CA with the '
                       'ca_path option or REQUESTS_CA_BUNDLE (validate_certs: false is not recommended)'
                       % (what, host, via, reason))
        return BinanceTLSError(message, host=host, reason=reason, verify_code=code)

    def request(self, method, path, params=None, signed=True):
        """Send a request with the retry rules of this module; return the decoded JSON.

        The first request of a client makes sure that the exchange's published limit is known (``_learn_limit``)."""
        if not self._limit_known:
            self._learn_limit('%s %s' % (method, path))
        return self._send_with_retries(method, path, dict(params or {}), signed)

    def _learn_limit(self, what):
        """Read ``exchangeInfo``'s rateLimits when no worker of this controller did within the hour (pacing.py).

        When it cannot be read, pacing uses DEFAULT_WEIGHT_LIMIT (the cap of weight_limit still applies) and the task
        warns; a stop (a ban) or a TLS / configuration error fails the task as the request itself would."""
        try:
            must_read = self.pacer.must_read_limit()
        except ExchangeStop as stop:
            raise self.stopped_error(what, stop.until, stop.at, stop.status, stop.path)
        if must_read:
            try:
                data = self._send_with_retries('GET', EXCHANGE_INFO_PATH, {}, signed=False)
            except (BinanceIPBanned, BinanceRateLimited, BinanceTLSError, BinanceConfigError):
                self.pacer.learn_limit(None)
                raise
            except BinanceError as e:
                self.pacer.learn_limit(None)
                self.note_recovery('pacing: the limit Binance publishes (GET %s, rateLimits) could not be read (%s); '
                                   'paced at %d weight per minute, its documented limit%s'
                                   % (EXCHANGE_INFO_PATH, e.message, DEFAULT_WEIGHT_LIMIT,
                                      ', or weight_limit if lower' if self.pacer.weight_cap else ''))
            else:
                self._learn_limit_from(data)
        self._limit_known = True

    def _learn_limit_from(self, data):
        limit = published_weight_limit(data)
        self.pacer.learn_limit(limit)
        self._limit_known = True
        if limit is None:
            self.note_recovery('pacing: GET %s lists no REQUEST_WEIGHT in rateLimits; paced at %d weight per minute, '
                               'Binance\'s documented limit' % (EXCHANGE_INFO_PATH, DEFAULT_WEIGHT_LIMIT))

    def _send_with_retries(self, method, path, params, signed, retry=True):
        """``retry`` False: one attempt, whatever the answer (a probe); a 429 is then given up on (and recorded)."""
        what = '%s %s' % (method, path)
        about = what + (' for %s' % params['underlying'] if params.get('underlying') else '')
        transient_left = TRANSIENT_RETRIES if retry else 0
        rate_left = RATE_LIMIT_RETRIES if retry else 0
        resynced = False

        def wait_for_transient_retry(why):
            """Back off before the next transient retry and note it (``why``: what went wrong); False when none is
            left."""
            nonlocal transient_left
            if transient_left <= 0:
                return False
            self._wait('transient', self._backoff(TRANSIENT_RETRIES - transient_left))
            transient_left -= 1
            self.note_recovery('%s; sent again (attempt %d of %d)'
                               % (why, TRANSIENT_RETRIES - transient_left + 1, TRANSIENT_RETRIES + 1))
            return True

        while True:
            try:
                status, headers, text = self._send_once(method, path, params, signed)
            except BinanceError:
                raise
            except Exception as e:  # requests' exceptions and anything below them
                if request_not_built(e):
                    raise BinanceConfigError('%s: the request could not be built (%s), so the request was not sent and '
                                             'is not sent again: check api_key, api_secret, base_url and the proxy '
                                             'settings (HTTPS_PROXY) for whitespace or characters they cannot have'
                                             % (what, type(e).__name__))
                if requests is None or not isinstance(e, requests.exceptions.RequestException):
                    raise BinanceTransportError('%s failed: %s: %s' % (what, type(e).__name__, redact(e)))
                tls = tls_handshake_failure(e)
                if tls is not None and not isinstance(tls, _TLS_CONNECTION_DROPS):
                    raise self._tls_error(what, tls, e)
                kind = 'timed out after %ss' % self.timeout if isinstance(e, requests.exceptions.Timeout) \
                    else 'connection failed (%s)' % type(e).__name__
                if tls is not None:
                    kind = 'connection closed by %s during the TLS handshake (%s)' % (_host_port(self.base_url),
                                                                                      type(tls).__name__)
                if method != 'GET' and self._transport_failure_is_unknown(e):
                    raise BinanceUnknownOutcome('%s %s; the exchange may or may not have applied it' % (about, kind))
                if wait_for_transient_retry('%s %s' % (about, kind)):
                    continue
                raise BinanceTransportError('%s %s, after %d attempts' % (what, kind, TRANSIENT_RETRIES + 1))

            data, decoded = None, False
            try:
                data = json.loads(text) if text else None
                decoded = data is not None
            except ValueError:
                pass
            code = data.get('code') if isinstance(data, dict) else None
            exchange_msg = data.get('msg') if isinstance(data, dict) else None
            if isinstance(exchange_msg, str):
                exchange_msg = redact(exchange_msg)
            if not isinstance(exchange_msg, str):
                exchange_msg = None

            if status == 418:
                # Recorded with what the answer teaches the pacer, in one transaction: no worker sends in between.
                seconds = stop_seconds(418, headers, exchange_msg, self._server_now())
                self._record_weight(headers, stop=(seconds, 418))
                stop = self.pacer.current_stop() or (self._clock() + seconds, self._clock(), 418)
                error = BinanceIPBanned(
                    '%s: HTTP 418, Binance banned this IP until %s (%d s left) for breaking the rate limit%s. Not '
                    'retried, and recorded so that no task, run or watcher on this controller sends before then'
                    % (what, utc(stop[0]), int(math.ceil(stop[0] - self._clock())),
                       ': %s' % exchange_msg.rstrip('. ') if exchange_msg else ''),
                    http_status=status, code=code, exchange_message=exchange_msg)
                error.until, error.recorded_at = stop[0], stop[1]
                raise error
            self._record_weight(headers)

            if status == 429 or code == -1008:
                retry_after = _int_or_none(_header(headers, 'Retry-After'))
                wait = float(retry_after) if retry_after is not None else RATE_LIMIT_DEFAULT_WAIT
                wait = max(wait, 1.0)
                if rate_left > 0 and wait <= RATE_LIMIT_MAX_WAIT:
                    rate_left -= 1
                    self.pacer.hold(wait)  # the other workers on this controller hold back too
                    self._wait('rate-limit', wait)
                    self.used_weight = None
                    self.note_recovery('%s: rate limited by Binance (HTTP %s%s); waited %g s, then sent again (wait %d '
                                       'of %d): something else shares this IP\'s weight, or weight_limit is above its '
                                       'real limit' % (about, status, ', code %s' % code if code is not None else '',
                                                       wait, RATE_LIMIT_RETRIES - rate_left, RATE_LIMIT_RETRIES))
                    continue
                recorded = ''
                if status == 429:
                    # Not retried: recorded, so that no other worker, task or run sends before the exchange said.
                    until, at = self.pacer.record_stop(stop_seconds(429, headers, exchange_msg, self._server_now()),
                                                       429)[:2]
                    recorded = ('; recorded so that no task, run or watcher on this controller sends before %s'
                                % utc(until))
                error = BinanceRateLimited(
                    '%s: rate limited by Binance (HTTP %s%s)%s; stopped after %d waits to avoid an IP ban%s%s'
                    % (what, status, ', code %s' % code if code is not None else '',
                       ': %s' % exchange_msg if exchange_msg else '', RATE_LIMIT_RETRIES - rate_left,
                       ' (Retry-After %ss is longer than %ss)' % (retry_after, int(RATE_LIMIT_MAX_WAIT))
                       if retry_after is not None and retry_after > RATE_LIMIT_MAX_WAIT else '', recorded),
                    http_status=status, code=code, exchange_message=exchange_msg)
                if status == 429:
                    error.until, error.recorded_at = until, at
                raise error

            if code == -1021 and signed and not resynced:
                resynced = True
                self.sync_time()
                self.note_recovery('%s: the exchange refused its timestamp (code -1021, outside recv_window); read the '
                                   'exchange\'s clock (this host\'s is %.1f s %s it) and signed again. Keep this '
                                   'host\'s clock in sync (NTP), or raise recv_window if requests are slow to arrive'
                                   % (about, abs(self.time_offset_ms) / 1000.0,
                                      'behind' if self.time_offset_ms > 0 else 'ahead of'))
                continue

            if status >= 500:
                unknown = isinstance(exchange_msg, str) and exchange_msg.strip().lower().startswith(UNKNOWN_OUTCOME_PREFIX)
                detail = ('code %s: %s' % (code, exchange_msg)) if decoded and exchange_msg else _excerpt(text)
                if method != 'GET' and (unknown or not decoded):
                    # "Unknown error" means the write may or may not have happened; an answer we
                    # cannot read (a proxy page) tells nothing either. Read back, never guess.
                    raise BinanceUnknownOutcome('%s: HTTP %s (%s); the exchange may or may not have applied it'
                                                % (about, status, detail), http_status=status, code=code,
                                                exchange_message=exchange_msg)
                if wait_for_transient_retry('%s: HTTP %s from the exchange (%s)' % (about, status, detail)):
                    continue
                raise BinanceTransportError('%s: HTTP %s from the exchange (%s), after %d attempts'
                                            % (what, status, detail, TRANSIENT_RETRIES + 1),
                                            http_status=status, code=code, exchange_message=exchange_msg)

            if not decoded:
                raise BinanceResponseError('%s: HTTP %s with a body that is not JSON (a proxy or WAF page?): %s'
                                           % (what, status, _excerpt(text)), http_status=status)

            if status >= 400 or (isinstance(code, int) and code < 0):
                hint = HINTS.get(code)
                if status == 403 and code is None:
                    hint = 'HTTP 403 is a WAF rejection: check the request and the host\'s egress'
                raise BinanceAPIError('%s: HTTP %s, code %s: %s%s'
                                      % (what, status, code, exchange_msg or '(no message)',
                                         ' (%s)' % hint if hint else ''),
                                      http_status=status, code=code, exchange_message=exchange_msg)
            return data

    # -- endpoints -------------------------------------------------------------------------

    def server_time(self):
        """The exchange's clock (unsigned, weight 1); never reads exchangeInfo first."""
        return self._send_with_retries('GET', '/eapi/v1/time', {}, signed=False)

    def probe(self):
        """Exactly one request (GET /eapi/v1/time, unsigned, weight 1, never sent again): the watcher's first request
        after a ban. A 418 or 429 answer is recorded as a new stop."""
        return self._send_with_retries('GET', '/eapi/v1/time', {}, signed=False, retry=False)

    def exchange_info(self):
        """The exchange's info; every answer also tells the pacer the published limit (no second read)."""
        data = self._send_with_retries('GET', EXCHANGE_INFO_PATH, {}, signed=False)
        self._learn_limit_from(data)
        return data

    def get_mmp(self, underlying):
        return self.request('GET', '/eapi/v1/mmp', {'underlying': underlying})

    def set_mmp(self, underlying, window_ms, frozen_ms, qty_limit, delta_limit):
        """``qty_limit`` and ``delta_limit`` are already formatted decimal strings."""
        return self.request('POST', '/eapi/v1/mmpSet', {
            'underlying': underlying,
            'windowTimeInMilliseconds': window_ms,
            'frozenTimeInMilliseconds': frozen_ms,
            'qtyLimit': qty_limit,
            'deltaLimit': delta_limit,
        })

    def reset_mmp(self, underlying):
        return self.request('POST', '/eapi/v1/mmpReset', {'underlying': underlying})

    def get_countdown(self, underlying=None):
        """The kill-switch (auto-cancel countdown) configs; the answer's shape is not settled (see killswitch.py)."""
        return self.request('GET', '/eapi/v1/countdownCancelAll', {'underlying': underlying})

    def set_countdown(self, underlying, countdown_ms):
        return self.request('POST', '/eapi/v1/countdownCancelAll',
                            {'underlying': underlying, 'countdownTime': countdown_ms})
