# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The HTTP transport every venue's client shares, and its rules. No venue named here; no AnsibleModule.

A venue's client is an ``HttpClient`` that says how to send one request (``_send_once``: signing, headers, the
body) and what an answer means (``interpret``: an ``Answer``). Everything else is here, once:

- the connection: one ``requests`` session per URL, trust settings and proxy; TLS verification (``ca_path``,
  ``REQUESTS_CA_BUNDLE``, ``validate_certs``) and what a failed handshake means (``TLSError``: never retried,
  nothing was sent); the checks of ``base_url`` (plain http only to loopback; no userinfo, query or fragment,
  which no message repeats) and of key text;
- pacing (``pacing.py``): each request claims its weight before it is sent; a recorded stop (a ban, a 429 given
  up on) refuses every request at once, sending nothing, and so does a pacing ledger that cannot be used
  (``PacingLedgerError``: a stop recorded there could not be honoured); what a stop covers is the venue's
  (``url_wide_stops``: the statuses whose stop holds every account on the URL, not only the client's scope);
- the deadline: ``timeout`` bounds each HTTP attempt as a whole (connect, send, the whole answer read), not each
  socket read: the answer is read in pieces against the deadline, and a watchdog shuts the attempt's socket at the
  deadline, so that an answer trickling in (or a status line or headers trickling in) cannot hold a task or a watcher;
  an answer longer than MAX_ANSWER_BYTES is refused (``AttemptTimeout``, ``AnswerTooLarge``: transport failures);
- the retry rules: 5xx, timeouts and connection errors are retried with jittered backoff a bounded number of
  times, except for a write whose outcome is unknown (``UnknownOutcome``: the caller reads the state back); a
  rate limit is waited out as ``Retry-After`` says, a bounded number of times, then given up on and recorded; a
  ban is never retried and is recorded; a request that could not be built (a header value or URL that is not
  valid) fails at once with ``ConfigError``; the venue's clock resynchronisation is tried once;
- every request that had to be sent again, and why, is kept in ``recoveries`` (bounded), for the task's warnings.

No message built here contains a secret: URLs are reported without their query string, and text coming from the
transport layer is passed through ``redact()``.
"""

from __future__ import annotations

import http.client
import ipaddress
import math
import os
import random
import re
import socket
import ssl
import threading
import time
import traceback
import warnings

from collections import deque

from urllib.parse import unquote, urlsplit

try:
    import requests
    import requests.adapters
    from urllib3.exceptions import InsecureRequestWarning, LocationValueError
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
    _ReadTimeout, _RequestException, _HTTPAdapter = (requests.exceptions.ReadTimeout,
                                                     requests.exceptions.RequestException,
                                                     requests.adapters.HTTPAdapter)
except ImportError:  # pragma: no cover - exercised by the module's missing_required_lib path
    requests = None
    InsecureRequestWarning = LocationValueError = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
    _ReadTimeout = _RequestException = Exception
    _HTTPAdapter = object

from ansible_collections.marketops.mmp.plugins.module_utils.errors import (
    ConfigError,
    IPBanned,
    MMPError,
    MissingLibrary,
    RateLimited,
    TLSError,
    TransportError,
    UnknownOutcome,
    redact,
)
from ansible_collections.marketops.mmp.plugins.module_utils.pacing import (
    MAX_PUBLISHED_LIMIT,
    MAX_STOP,
    PACING_DIR_ENV,
    ExchangeStop,
    Ledger,
    LedgerUnavailable,
    Pacer,
    header,
)

DEFAULT_TIMEOUT = 10.0         # seconds: the deadline of one HTTP attempt (connect, send, the whole answer read)
MAX_ANSWER_BYTES = 16 * 1024 * 1024  # a longer answer is refused (an MMP answer is a few KB, exchangeInfo ~1-2 MB)
READ_CHUNK = 16 * 1024         # bytes: the answer is read in pieces of this size, the deadline checked between them
DEADLINE_RECHECK = 0.05        # seconds: after the deadline, how often a connection still being set up is looked at
# Retry budget. Everything is bounded: a run never loops on an unhealthy exchange.
TRANSIENT_RETRIES = 3          # extra attempts after a 5xx, timeout or connection error
RATE_LIMIT_RETRIES = 2         # extra attempts after a rate limit answer
BACKOFF_BASE = 0.5             # seconds
BACKOFF_CAP = 8.0              # seconds
RATE_LIMIT_DEFAULT_WAIT = 5.0  # seconds, when a rate limit answer carries no Retry-After
RATE_LIMIT_MAX_WAIT = 120.0    # a longer Retry-After fails instead of blocking the run
RECOVERIES_KEPT = 10           # recoveries a client keeps for its task's warnings; more are only counted
WAITS_KEPT = 100               # waits a client keeps for debugging (a watcher's client lives for days)


def utc(seconds):
    """``seconds`` since the epoch as 'YYYY-MM-DD HH:MM:SS UTC'."""
    return time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(seconds))


class PacingLedgerError(ConfigError):
    """The pacing ledger cannot be used (someone else's, writable by others, a link, locked too long by another
    process): the request was not sent, as a stop recorded there could not be honoured."""

    sent = False


def retry_after_seconds(headers, server_now):
    """The seconds an answer's ``Retry-After`` asks for (a number of seconds, or an HTTP date read against
    ``server_now``, the exchange's present as we know it), or None when it has none that can be read."""
    value = header(headers, 'Retry-After')
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 9:
        return float(int(value.strip()))
    if isinstance(value, str) and 0 < len(value) <= 64:
        try:
            from email.utils import parsedate_to_datetime
            moment = parsedate_to_datetime(value)
            if moment.tzinfo is not None:
                seconds = moment.timestamp() - server_now
                return seconds if math.isfinite(seconds) else None
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
    return None


def stop_length(seconds, default):
    """How long a stop lasts: ``seconds`` (what the exchange said, None: ``default``), within [1 s, MAX_STOP]."""
    if seconds is None or not isinstance(seconds, (int, float)) or math.isnan(seconds):
        seconds = default
    return min(max(float(seconds), 1.0), MAX_STOP)


# --------------------------------------------------------------------------------------------
# base_url and key text
# --------------------------------------------------------------------------------------------

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


def check_base_url(base_url, example, credentials='its API credentials'):
    """Return the normalised base URL, or raise ConfigError.

    Plain http is allowed only to a loopback host (the local emulator): the API key travels in a header. No
    message repeats the URL's userinfo, query or fragment (where a password or token would be): it says which
    part is wrong, and shows at most scheme://host[:port]/path.
    """
    if not isinstance(base_url, str) or not base_url.strip():
        raise ConfigError('base_url must be an http(s) URL such as %s' % example)
    scheme, netloc, path, query, fragment = _URI_RE.match(base_url).groups()
    if netloc and '@' in netloc:
        raise ConfigError('base_url must not carry a user name or password (the part before @): the exchange '
                          'authenticates with %s, and a proxy\'s credentials go in HTTPS_PROXY' % credentials)
    if query is not None:
        raise ConfigError('base_url must not carry a query string (the part after ?): give only '
                          'scheme://host[:port][/path], such as %s' % example)
    if fragment is not None:
        raise ConfigError('base_url must not carry a fragment (the part after #): give only '
                          'scheme://host[:port][/path], such as %s' % example)
    shown = _shown_url(scheme, netloc, path)
    if any(c.isspace() or not c.isprintable() for c in base_url):
        raise ConfigError('base_url contains whitespace or a control character (a line break at its end comes '
                          'from a YAML block scalar `|`: write it with `|-`); an http(s) URL such as %s is '
                          'expected' % example)
    if (scheme or '').lower() not in ('http', 'https') or not netloc:
        raise ConfigError('base_url must be an http(s) URL such as %s, got %s' % (example, shown))
    try:
        parts = urlsplit(base_url)
        dummy = parts.port  # raises ValueError for a port that is not a number in 0-65535
        problem = None if _NETLOC_RE.match(netloc) else 'host'
    except ValueError as e:  # its text may repeat the host: not shown
        problem = 'port' if 'port' in str(e).lower() else 'host'
    if problem:
        raise ConfigError('base_url is not a valid URL: it has %s'
                          % ('a port that is not a number in 0-65535' if problem == 'port' else
                             'a host that is not valid (an IPv6 address goes in brackets, such as '
                             'http://[::1]:8765)'))
    if not parts.hostname:
        raise ConfigError('base_url must be an http(s) URL such as %s, got %s' % (example, shown))
    host = parts.hostname.lower()
    if parts.scheme == 'http' and not is_loopback_host(host):
        raise ConfigError('base_url: plain http is only allowed to a loopback address (127.0.0.0/8, ::1) or '
                          'localhost, such as a local emulator; %s is none of them (a host name counts only '
                          'when it is exactly localhost): use https' % host)
    return base_url.rstrip('/')


def check_key_text(option, value, max_len=None, venue_label='the exchange'):
    """Return ``value`` if it can be an API key or HMAC secret: printable ASCII (0x21-0x7e), nothing else.

    Else raise ConfigError naming ``option`` and the likely cause, never the value: a trailing line break
    (a Vault value written as a YAML block scalar ``|`` keeps one), other whitespace (copied with the text around
    it), or characters no key has (control characters, typographic quotes, non-breaking spaces). Sent as is, such a
    key fails in the HTTP library (an invalid header) or at the exchange (a wrong signature).
    """
    if not isinstance(value, str):
        raise ConfigError('%s: must be a string' % option)
    if not value:
        raise ConfigError('%s: is empty' % option)
    if value.endswith(('\n', '\r')):
        raise ConfigError('%s: ends with a newline; a Vault value written as a YAML block scalar `|` keeps one: '
                          'write it with `|-`, or strip it (`| trim`)' % option)
    if any(c in ' \t\n\r\v\f' for c in value):
        where = 'begins or ends with' if value != value.strip() else 'contains'
        raise ConfigError('%s: %s whitespace (a space, tab or line break), which no key has: was it copied with '
                          'the text around it?' % (option, where))
    if any(not 0x21 <= ord(c) <= 0x7e for c in value):
        kind = 'a non-ASCII character (a typographic quote, a non-breaking space, ...)' \
            if any(ord(c) > 0x7f for c in value) else 'a control character'
        raise ConfigError('%s: contains %s; keys are printable ASCII only, as %s issues them: copy it again '
                          'from the exchange' % (option, kind, venue_label))
    if max_len is not None and len(value) > max_len:
        raise ConfigError('%s: is longer than %d characters: not a key %s issues' % (option, max_len, venue_label))
    return value


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
    """Return ``ca_path`` (``~`` expanded) if it is a readable file holding PEM certificates, else raise ConfigError.

    Symbolic links are followed (system bundles are often links); a file that anyone may write is refused, as it
    would let anyone decide whom the client trusts to be the exchange. The certificates themselves are parsed by
    the TLS library when it connects (parsing a full bundle takes OpenSSL 3 tens of milliseconds).
    """
    if not isinstance(ca_path, str) or not ca_path.strip():
        raise ConfigError('ca_path must be the path of a CA bundle file (PEM), got %r' % (ca_path,))
    path = os.path.expanduser(ca_path.strip())
    if not os.path.isfile(path):
        raise ConfigError('ca_path: %s is not a file on the host that runs the task (a CA bundle file in PEM '
                          'format is expected)' % path)
    try:
        if os.stat(path).st_mode & 0o002:
            raise ConfigError('ca_path: %s is writable by every user, so anyone could make this host trust '
                              'them as the exchange; remove the write permission for others' % path)
        with open(path, 'rb') as f:
            head = f.read(CA_PATH_MAX_BYTES)
    except OSError as e:
        raise ConfigError('ca_path: %s could not be read (%s)' % (path, e.strerror or type(e).__name__))
    if not _PEM_CERTIFICATE_RE.search(head):
        raise ConfigError('ca_path: %s holds no certificate in PEM format (-----BEGIN CERTIFICATE-----)' % path)
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


PACING_LEDGER_WARNING = ("pacing: the shared ledger %s could not be used (%s) after a request was sent, so what "
                         "its answer taught (the exchange's clock, the weight used on %s) was kept by this task only")
PACING_LEDGER_FIX = ("; it must be a regular file of mode 0600 in a directory of mode 0700, both owned by the user "
                     "running the task and not links: remove what is there and the next task recreates it")
LEDGER_UNTRUSTED_FIX = ('it is not safe to use: the directory must be owned by uid %d, not writable by group or '
                        'others, and not a symbolic link, the file a regular file of its own, mode 0600: remove what '
                        'is there (as its owner or root) and the next task recreates it')
LEDGER_BUSY_FIX = ('another process holds its lock (find it with: fuser -v %s); if that process hangs, stop it')
LEDGER_OTHER_FIX = 'check that the user running the task can create and write it'
LEDGER_ELSEWHERE = ('; or set pacing_dir (or %s) to a directory of your own, the same for every task and watcher '
                    'of this controller; pacing_ledger: false paces this task alone and gives up the stops other '
                    'tasks, runs and watchers recorded')


def pacing_ledger_warning(client):
    """The warning a task gives when its client could not use the shared ledger after a request was sent (None when
    it always could, when it has none, or when the ledger refused the request itself: that failed the task)."""
    pacer = getattr(client, 'pacer', None)
    problem = getattr(pacer, 'ledger_problem', None)
    if not problem or pacer.ledger is None or getattr(pacer, 'refused', False):
        return None
    path = pacer.ledger.path
    if problem.startswith(path + ': '):
        problem = problem[len(path) + 2:]  # the path is said once
    text = PACING_LEDGER_WARNING % (path, problem, urlsplit(client.base_url).netloc)
    return text if pacer.ledger_busy else text + PACING_LEDGER_FIX


def ledger_error(what, error):
    """The PacingLedgerError of a request ``what`` that was not sent because the ledger cannot be used (``error``: the
    LedgerUnavailable): the path, why, and what to do."""
    if error.busy:
        fix = LEDGER_BUSY_FIX % error.path
    elif error.untrusted:
        fix = LEDGER_UNTRUSTED_FIX % (os.getuid() if hasattr(os, 'getuid') else 0)
    else:
        fix = LEDGER_OTHER_FIX
    return PacingLedgerError(
        '%s: not sent: the pacing ledger %s cannot be used (%s). It holds the stops (bans, rate limits given up on) '
        'that every task, run and watcher on this controller must honour, so nothing is sent without it: %s%s'
        % (what, error.path, error.problem, fix, LEDGER_ELSEWHERE % PACING_DIR_ENV))


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
# The deadline of one HTTP attempt
# --------------------------------------------------------------------------------------------

class AttemptTimeout(_ReadTimeout):
    """An HTTP attempt that did not end within ``timeout`` (connect, send, the whole answer read). A requests
    ``ReadTimeout``: the retry rules treat it as any timeout (a GET is sent again; a write whose request may have left
    is an unknown outcome, read back)."""


class AnswerTooLarge(_RequestException):
    """An answer longer than MAX_ANSWER_BYTES: no answer this collection reads is (a proxy's page or a broken
    exchange). A transport failure for the retry rules (the request was sent: a write's outcome is unknown)."""


_ATTEMPT = threading.local()  # .deadline: the Deadline of the HTTP attempt this thread is making, or None


def _shut(conn):
    """Shut the socket of ``conn`` (a urllib3 connection) down, waking a read or write blocked on it in another thread;
    False when it has none yet (still being set up)."""
    sock = getattr(conn, 'sock', None)
    if sock is not None and not isinstance(sock, socket.socket):
        sock = getattr(sock, 'socket', None)  # TLS inside TLS (urllib3's SSLTransport): the socket below
    if not isinstance(sock, socket.socket):
        return False
    try:
        # socket.socket's own shutdown: an SSLSocket's would drop its TLS state under the reading thread
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed
    return True


class Deadline:
    """The deadline of one HTTP attempt, ``seconds`` from now (``time.monotonic``).

    A watchdog timer fires at the deadline: it marks the attempt ``expired`` and shuts down the socket of the
    attempt's connection (``watch()``: the connection pool says which one, see ``_WatchedPool``), so that a read
    or write blocked on it returns at once however the other end trickles (the status line, the headers, the body);
    a connection still being set up is looked at again every DEADLINE_RECHECK seconds (the connect timeout, the time
    left, bounds it too). ``end()`` stops the watchdog: it never touches a connection after that (the pool may have
    lent it to the next request). Name resolution is the system resolver's: no socket to shut.
    """

    def __init__(self, seconds, clock=time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self.at = clock() + seconds
        self.expired = False
        self.conn = None
        self._done = False
        self._lock = threading.Lock()
        self._timer = None

    def start(self):
        """Arm the watchdog; the thread's attempt is this one (``_WatchedPool`` tells it its connection)."""
        _ATTEMPT.deadline = self
        with self._lock:
            self._arm(self.left())
        return self

    def _arm(self, seconds):
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def left(self):
        """Seconds left before the deadline (0 after it)."""
        return max(0.0, self.at - self._clock())

    def watch(self, conn):
        """``conn`` is the attempt's connection (shut at once when the deadline passed already)."""
        with self._lock:
            if self._done or conn is None:
                return
            self.conn = conn
            if self.expired:
                _shut(conn)

    def _fire(self):
        with self._lock:
            if self._done:
                return
            self.expired = True
            if not _shut(self.conn):
                self._arm(DEADLINE_RECHECK)  # not connected yet (or not known): look again

    def end(self):
        """The attempt ended: the watchdog never fires again, nor touches its connection."""
        with self._lock:
            self._done = True
            self.conn = None
            timer = self._timer
        if timer is not None:
            timer.cancel()
        if getattr(_ATTEMPT, 'deadline', None) is self:
            _ATTEMPT.deadline = None


class _WatchedPool:
    """Mixed into urllib3's connection pool classes (``_watched_pool_class``): the connection a request takes from
    the pool (new or kept alive) is given to the thread's attempt ``Deadline``, before it is connected or written to."""

    def _get_conn(self, *args, **kwargs):
        conn = super()._get_conn(*args, **kwargs)  # pylint: disable=no-member
        deadline = getattr(_ATTEMPT, 'deadline', None)
        if deadline is not None:
            deadline.watch(conn)
        return conn


_WATCHED_POOL_CLASSES = {}


def _watched_pool_class(cls):
    """``cls`` (a urllib3 pool class: HTTP, HTTPS, SOCKS) with ``_WatchedPool`` mixed in."""
    if issubclass(cls, _WatchedPool):
        return cls
    watched = _WATCHED_POOL_CLASSES.get(cls)
    if watched is None:
        watched = _WATCHED_POOL_CLASSES[cls] = type('Watched' + cls.__name__, (_WatchedPool, cls), {})
    return watched


def _watch_pools(manager):
    """Make the pools of ``manager`` (a urllib3 PoolManager or proxy manager) report their connections."""
    classes = getattr(manager, 'pool_classes_by_scheme', None)
    if isinstance(classes, dict):
        manager.pool_classes_by_scheme = {scheme: _watched_pool_class(cls) for scheme, cls in classes.items()}
    return manager


class DeadlineAdapter(_HTTPAdapter):
    """requests' HTTPAdapter (its defaults: no retries of its own, the same pool sizes) whose connection pools tell
    each attempt's ``Deadline`` which connection it uses."""

    def init_poolmanager(self, *args, **kwargs):  # pylint: disable=arguments-differ
        super().init_poolmanager(*args, **kwargs)
        _watch_pools(self.poolmanager)

    def proxy_manager_for(self, proxy, **proxy_kwargs):  # pylint: disable=arguments-differ
        return _watch_pools(super().proxy_manager_for(proxy, **proxy_kwargs))


def _connection_of(resp):
    """The urllib3 connection below a streamed requests answer (None when not known)."""
    raw = getattr(resp, 'raw', None)
    return getattr(raw, 'connection', None) or getattr(raw, '_connection', None)


# --------------------------------------------------------------------------------------------
# Per-process connection reuse
# --------------------------------------------------------------------------------------------

_SESSIONS = {}


def shared_session(base_url, ca_path=None, validate_certs=True):
    """One requests.Session per base URL, trust settings, proxy and process: loop items reuse the connection; its
    adapters (``DeadlineAdapter``) let each attempt's deadline shut the connection it uses.

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
        for prefix in ('https://', 'http://'):
            session.mount(prefix, DeadlineAdapter())  # each attempt's deadline can shut its connection
        session.proxies.update(proxies)
        session.verify = verify
        session.trust_env = False
        _SESSIONS[key] = session
    return session


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


# --------------------------------------------------------------------------------------------
# What a venue makes of an answer
# --------------------------------------------------------------------------------------------

class Answer:
    """What a venue's ``interpret()`` makes of one HTTP answer; ``kind`` is one of:

    - ``OK``: ``data`` is the decoded result;
    - ``BANNED``: the IP is banned for ``seconds`` (never retried; recorded as a stop);
    - ``RATE_LIMITED``: ``retry_after`` seconds (None: not said); ``stop``: record a stop when given up on;
    - ``RESYNC``: the venue's clock must be read again (``resync()``), once; ``error`` when it happens twice;
    - ``SERVER_ERROR``: the exchange failed (``detail``); ``unknown``: a write's outcome is unknown;
    - ``ERROR``: ``error`` is raised as it is.

    ``status``, ``code`` and ``message`` (the exchange's, redacted) go into the errors raised.
    """

    OK, BANNED, RATE_LIMITED, RESYNC, SERVER_ERROR, ERROR = 'ok', 'banned', 'rate_limited', 'resync', 'server', 'error'

    def __init__(self, kind, data=None, status=None, code=None, message=None, seconds=None, retry_after=None,
                 stop=False, detail=None, unknown=False, error=None):
        self.kind = kind
        self.data = data
        self.status = status
        self.code = code
        self.message = message
        self.seconds = seconds
        self.retry_after = retry_after
        self.stop = stop
        self.detail = detail
        self.unknown = unknown
        self.error = error


# --------------------------------------------------------------------------------------------
# The client every venue's builds on
# --------------------------------------------------------------------------------------------

class HttpClient:
    """Sessions, TLS, pacing, retries and recoveries; a venue's client adds ``_send_once``, ``interpret`` and its
    endpoints (see the module's docstring).

    ``session``, ``sleep``, ``clock`` and ``rand`` are injectable so that tests need no network and no real waiting.
    Pacing is the venue's policy: ``weight_limit``, ``weight_reserve``, ``weight_ledger`` ('auto': the user's ledger
    for this URL in ``pacing_dir``, see ``pacing.ledger_directory()``; None: this process only, the task's opt-out;
    or a Ledger) and ``pacing_scope`` (None: the venue counts per IP; else what it counts per, such as an account:
    each gets its own ledger, and a stop of a status in ``url_wide_stops`` is recorded in the URL's ledger, which
    every account's client checks too; ``scope_label`` names the scope in messages).
    """

    venue_label = None            # 'Binance': in messages
    example_url = None            # the venue's default base URL, in messages
    credentials = 'its API credentials'   # what authenticates a request, in messages
    credential_options = 'the credentials'  # the options that hold it, in messages
    rate_limit_hint = ''          # appended to a rate limit's recovery note
    missing_library_reason = 'to talk to the exchange'
    # The venue's weight limit (requests or weight per minute): the task's weight_limit when unset (None: the limit
    # the exchange publishes), its largest allowed value (a larger one is refused, never cut), and the limit paced
    # under while none is published and none is given (None: max_weight_limit).
    default_weight_limit = None
    max_weight_limit = MAX_PUBLISHED_LIMIT
    fallback_weight_limit = None
    # What a stop covers. With a pacing_scope, a stop whose HTTP status is in url_wide_stops holds every account on the
    # URL (recorded in the URL's ledger), another one the scope only. In messages: what is stopped.
    url_wide_stops = (418, 429)
    url_stop_subject = 'every request to %(host)s'   # %(host)s: the URL's host[:port]
    scope_stop_subject = 'this account (%(scope)s)'  # %(scope)s: scope_label

    def __init__(self, base_url, timeout=DEFAULT_TIMEOUT, validate_certs=True, ca_path=None, session=None,
                 sleep=None, clock=None, rand=None, user_agent=None, weight_limit=None, weight_reserve=None,
                 weight_ledger='auto', pacing_scope=None, pacing_dir=None, scope_label=None):
        if not HAS_REQUESTS and session is None:
            raise MissingLibrary('requests', self.missing_library_reason)
        weight_limit = self.default_weight_limit if weight_limit is None else weight_limit
        if weight_limit is not None and (isinstance(weight_limit, bool) or not isinstance(weight_limit, int)
                                         or not 0 <= weight_limit <= self.max_weight_limit):
            raise ConfigError('weight_limit: %r is outside [0, %d], the range %s allows'
                              % (weight_limit, self.max_weight_limit, self.venue_label or 'the exchange'))
        self.base_url = check_base_url(base_url, self.example_url, self.credentials)
        self.timeout = float(timeout)
        self.validate_certs = bool(validate_certs)
        self.ca_path = check_ca_path(ca_path) if ca_path is not None else None
        self.verify, origin = tls_verify(self.ca_path, self.validate_certs)
        if origin in CA_BUNDLE_ENV and not os.path.exists(self.verify):
            raise ConfigError('%s=%s: no such file or directory on the host that runs the task (it should be '
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
        default_limit = self.fallback_weight_limit or self.max_weight_limit
        self.pacer = Pacer(self.base_url, weight_limit, weight_reserve,
                           ledger=Ledger.for_url(self.base_url, pacing_dir, scope=pacing_scope) if weight_ledger == 'auto'
                           else weight_ledger, timeout=self.timeout, clock=self._clock, wait=self._wait,
                           rand=self._rand, scope=pacing_scope, default_limit=default_limit)
        # With a scope: the URL's own ledger, for the stops that hold every account on it (nothing else is paced there).
        self.url_pacer = None
        if pacing_scope is not None:
            url_ledger = (Ledger.for_url(self.base_url, pacing_dir) if weight_ledger == 'auto' else
                          None if weight_ledger is None else
                          Ledger(os.path.join(os.path.dirname(weight_ledger.path), 'url-' + weight_ledger.name)))
            self.url_pacer = Pacer(self.base_url, 0, ledger=url_ledger, timeout=self.timeout, clock=self._clock,
                                   wait=self._wait, rand=self._rand, default_limit=default_limit)
        self.scope_label = scope_label or pacing_scope
        self._sent_at = self._received_at = None

    def __repr__(self):
        return '<%s %s>' % (type(self).__name__, self.base_url)

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
        """The weight the venue said this IP (or account) used, in its last answer (None before any, after a 429)."""
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

    # -- the venue's part ------------------------------------------------------------------

    def _send_once(self, method, path, params, signed):  # pragma: no cover - every venue's client has its own
        """One HTTP exchange (after ``self._pace()``, through ``self._http()``). Returns (status, headers, text)."""
        raise NotImplementedError

    def interpret(self, method, path, params, signed, status, headers, text):  # pragma: no cover - the venue's
        """What one answer means: an ``Answer``."""
        raise NotImplementedError

    def resync(self, about):  # pragma: no cover - a venue whose interpret() returns RESYNC has its own
        """Read the venue's clock again after it refused a request's timestamp, and note the recovery."""
        raise NotImplementedError

    def is_write(self, method, path):
        """Whether a request changes the exchange's state (its outcome may then be unknown: never retried blindly, read
        back). Most venues: every method but GET; a venue that writes through GET (a JSON-RPC method path) says so."""
        return method != 'GET'

    def used_weight_of(self, headers):
        """The weight the venue says was used, from an answer's headers (None: it does not say)."""
        return None

    def about(self, params):
        """What a request is about, after its method and path in messages (' for BTCUSDT')."""
        return ''

    def server_offset_fallback(self):
        """The exchange's clock minus ours in seconds, when no Date header told it (the venue's time read)."""
        return 0.0

    # -- pacing ----------------------------------------------------------------------------

    def _wait(self, reason, seconds):
        self.waits.append((reason, seconds))
        self._sleep(seconds)

    def server_now_ms(self):
        """The exchange's clock in milliseconds since the epoch, as well as this client knows it."""
        return int(self._server_now() * 1000)

    def _server_now(self):
        """The exchange's clock, as well as we know it (Date headers, else the venue's own time read)."""
        offset = self.pacer.server_offset()
        return self._clock() + (offset if offset is not None else self.server_offset_fallback())

    def _pace(self, what='the request', weight=1):
        """Claim the request's weight in the pacing ledger, waiting while it does not fit (pacing.py); raise
        IPBanned / RateLimited, sending nothing, while a recorded stop holds (the URL's, then the client's scope's),
        and PacingLedgerError when a ledger cannot be used."""
        self.check_stops(what)
        try:
            self.pacer.claim(weight)
        except ExchangeStop as stop:
            raise self.stopped_error(what, stop.until, stop.at, stop.status, stop.path, self.url_pacer is None)
        except LedgerUnavailable as e:
            raise ledger_error(what, e)

    def check_stops(self, what):
        """Raise what ``_pace()`` raises for a stop of the whole URL (a client with a scope); nothing else."""
        if self.url_pacer is None:
            return
        try:
            self.url_pacer.claim(0)
        except ExchangeStop as stop:
            raise self.stopped_error(what, stop.until, stop.at, stop.status, stop.path, True)
        except LedgerUnavailable as e:
            raise ledger_error(what, e)

    def stop_subject(self, url_wide):
        """What a stop covers, in messages: 'this IP', 'every account at host:port', 'this account (client_id x)'."""
        if url_wide or self.url_pacer is None:
            return self.url_stop_subject % dict(host=_host_port(self.base_url))
        return self.scope_stop_subject % dict(scope=self.scope_label)

    def stop_pacer(self, status):
        """The pacer whose ledger records a stop of HTTP ``status``: the URL's (every account) or the client's."""
        return self.url_pacer if self.url_pacer is not None and status in self.url_wide_stops else self.pacer

    def stopped_error(self, what, until, at, status, path=None, url_wide=True):
        """The error of a request that was not sent because a recorded stop (a ban, a 429) holds until ``until``."""
        left = max(0, int(math.ceil(until - self._clock())))
        subject = self.stop_subject(url_wide)
        kind = 'banned %s' % subject if status == 418 else 'rate-limited %s (HTTP 429, not retried)' % subject
        message = ('%s: %s %s until %s (%d s left), recorded at %s by an earlier request; nothing was sent. '
                   'Every task, run and watcher on this controller waits for it%s'
                   % (what, self.venue_label, kind, utc(until), left, utc(at),
                      ' (recorded in %s: see the guide "Rate limits and bans" (docs/docsite/rst/rate_limits_guide.rst) before '
                      'clearing it)' % path
                      if path else ' (this process only: no pacing ledger)'))
        error = (IPBanned if status == 418 else RateLimited)(message)
        error.until, error.recorded_at, error.sent = until, at, False
        return error

    def _record_stop(self, headers, seconds, status):
        """Record a stop of ``seconds`` for HTTP ``status`` where it belongs (``stop_pacer``), with what the answer
        teaches the pacer; returns ``(until, at, where)``: ``where`` the ledger's path, None when only this process
        holds it (no ledger, or one that could not be used)."""
        pacer = self.stop_pacer(status)
        if pacer is self.pacer:
            # in one transaction with what the answer teaches: no worker sends in between
            self._record_weight(headers, stop=(seconds, status))
        else:
            self._record_weight(headers)
            pacer.record_stop(seconds, status)
        try:
            stop = pacer.current_stop()
            where = pacer.ledger.path if pacer.ledger is not None else None
        except LedgerUnavailable:
            stop, where = None, None
        if stop is None:
            stop = pacer.local.get('stop') or (self._clock() + seconds, self._clock(), status)
        return stop[0], stop[1], where

    @staticmethod
    def _recorded(where, until):
        """Where a stop until ``until`` was recorded, for messages."""
        if where:
            return ('recorded so that no task, run or watcher on this controller sends before %s (in %s)'
                    % (utc(until), where))
        return 'recorded for this process only (no pacing ledger to share it), which sends nothing before %s' % utc(until)

    def _record_weight(self, headers, stop=None):
        """Learn the exchange's clock (Date) and the used weight from an answer (pacing.py); ``stop``:
        ``(seconds, status)`` of a ban to record with it."""
        self.pacer.observe(headers, self._sent_at, self._received_at, stop=stop, used=self.used_weight_of(headers))

    # -- sending ---------------------------------------------------------------------------

    def _backoff(self, attempt):
        """Jittered exponential backoff, never zero: half fixed, half random."""
        delay = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** attempt))
        return delay / 2 + self._rand() * delay / 2

    def _http(self, method, url, body, headers):
        """The HTTP exchange itself, timed for the pacer. Returns (status, headers, text).

        ``timeout`` is the deadline of the whole attempt (``Deadline``): connect, send and the whole answer read.
        Past it the attempt fails with ``AttemptTimeout`` (a requests ``ReadTimeout``), whatever it was doing; an
        answer longer than MAX_ANSWER_BYTES fails with ``AnswerTooLarge``. Both are transport failures for the retry
        rules (``_send_with_retries``)."""
        headers = dict(headers, **{'User-Agent': self.user_agent})
        self._sent_at = self._clock()
        deadline = Deadline(self.timeout).start()
        try:
            left = max(deadline.left(), 0.001)  # connect, and each socket read, by the time left at most
            kwargs = dict(data=body, headers=headers, timeout=(left, left), allow_redirects=False, stream=True)
            if self.verify is False and InsecureRequestWarning is not None:
                # The task warns once, through Ansible; urllib3 would write a warning to stderr on every request.
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore', InsecureRequestWarning)
                    resp = self.session.request(method, url, verify=False, **kwargs)
            else:
                resp = self.session.request(method, url, verify=self.verify, **kwargs)
            try:
                text = self._read_answer(resp, deadline)
            finally:
                close = getattr(resp, 'close', None)
                if close is not None:
                    close()  # a whole answer's connection goes back to the pool; any other is closed
        except Exception as e:
            if deadline.expired and not isinstance(e, (AttemptTimeout, AnswerTooLarge)) \
                    and not (requests is not None and isinstance(e, requests.exceptions.ConnectTimeout)):
                # the watchdog shut the socket: what broke below is the deadline (a ConnectTimeout says so itself)
                raise AttemptTimeout('timed out after %ss' % self.timeout) from e
            raise
        finally:
            deadline.end()
        self._received_at = self._clock()
        return resp.status_code, resp.headers, text

    def _read_answer(self, resp, deadline):
        """The text of a streamed answer ``resp``, read in pieces of READ_CHUNK bytes before ``deadline``, at most
        MAX_ANSWER_BYTES; decoded as requests decodes ``resp.text``."""
        pieces = getattr(resp, 'iter_content', None)
        if pieces is None:
            return resp.text  # a session that hands over whole answers (a test's stand-in)
        deadline.watch(_connection_of(resp))  # when the pool did not tell it (a session of other adapters)
        length = _int_or_none((resp.headers or {}).get('Content-Length'))
        if length is not None and length > MAX_ANSWER_BYTES:
            raise AnswerTooLarge('answered with %d bytes (Content-Length), more than the %d MiB any answer may have'
                                 % (length, MAX_ANSWER_BYTES // (1024 * 1024)))
        chunks, size = [], 0
        for chunk in pieces(chunk_size=READ_CHUNK):
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise AnswerTooLarge('answered with more than the %d MiB any answer may have'
                                     % (MAX_ANSWER_BYTES // (1024 * 1024)))
            chunks.append(chunk)
            if deadline.expired or deadline.left() <= 0:
                break
        if deadline.expired or deadline.left() <= 0:
            # the watchdog may have cut the answer short (an end of file, to the reader): it is not the whole answer
            deadline.expired = True
            raise AttemptTimeout('timed out after %ss' % self.timeout)
        resp._content = b''.join(chunks)  # what resp.content holds after a read: resp.text decodes it as usual
        return resp.text

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
        """TLSError for a failed handshake (``err``, below the requests exception ``exc``): the host, the TLS
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
        return TLSError(message, host=host, reason=reason, verify_code=code)

    def _send_with_retries(self, method, path, params, signed, retry=True):
        """Send until an answer decides, under the retry rules (the module's docstring); return the decoded data.

        ``retry`` False: one attempt, whatever the answer (a probe); a rate limit is then given up on (and recorded).
        """
        what = '%s %s' % (method, path)
        about = what + self.about(params)
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
            except MMPError:
                raise
            except Exception as e:  # requests' exceptions and anything below them
                if request_not_built(e):
                    raise ConfigError('%s: the request could not be built (%s), so the request was not sent and is not '
                                      'sent again: check %s, base_url and the proxy settings (HTTPS_PROXY) for '
                                      'whitespace or characters they cannot have' % (what, type(e).__name__,
                                                                                     self.credential_options))
                if requests is None or not isinstance(e, requests.exceptions.RequestException):
                    raise TransportError('%s failed: %s: %s' % (what, type(e).__name__, redact(e)))
                tls = tls_handshake_failure(e)
                if tls is not None and not isinstance(tls, _TLS_CONNECTION_DROPS):
                    raise self._tls_error(what, tls, e)
                kind = 'timed out after %ss' % self.timeout if isinstance(e, requests.exceptions.Timeout) \
                    else redact(e) if isinstance(e, AnswerTooLarge) \
                    else 'connection failed (%s)' % type(e).__name__
                if tls is not None:
                    kind = 'connection closed by %s during the TLS handshake (%s)' % (_host_port(self.base_url),
                                                                                      type(tls).__name__)
                if self.is_write(method, path) and self._transport_failure_is_unknown(e):
                    raise UnknownOutcome('%s %s; the exchange may or may not have applied it' % (about, kind))
                if wait_for_transient_retry('%s %s' % (about, kind)):
                    continue
                raise TransportError('%s %s, after %s' % (what, kind, '%d attempts' % (TRANSIENT_RETRIES + 1) if retry
                                                          else 'its one attempt (not sent again)'))

            answer = self.interpret(method, path, params, signed, status, headers, text)
            details = dict(http_status=status, code=answer.code, exchange_message=answer.message)

            if answer.kind == Answer.BANNED:
                until, at, where = self._record_stop(headers, answer.seconds, 418)
                error = IPBanned(
                    '%s: HTTP %s, %s banned %s until %s (%d s left) for breaking the rate limit%s. Not '
                    'retried, and %s'
                    % (what, status, self.venue_label, self.stop_subject(418 in self.url_wide_stops), utc(until),
                       int(math.ceil(until - self._clock())),
                       ': %s' % answer.message.rstrip('. ') if answer.message else '', self._recorded(where, until)),
                    **details)
                error.until, error.recorded_at = until, at
                raise error
            self._record_weight(headers)

            if answer.kind == Answer.RATE_LIMITED:
                retry_after = answer.retry_after
                wait = max(float(retry_after) if retry_after is not None else RATE_LIMIT_DEFAULT_WAIT, 1.0)
                code = ', code %s' % answer.code if answer.code is not None else ''
                if rate_left > 0 and wait <= RATE_LIMIT_MAX_WAIT:
                    rate_left -= 1
                    self.pacer.hold(wait)  # the other workers on this controller hold back too
                    self._wait('rate-limit', wait)
                    self.used_weight = None
                    self.note_recovery('%s: rate limited by %s (HTTP %s%s); waited %g s, then sent again (wait %d of '
                                       '%d)%s' % (about, self.venue_label, status, code, wait,
                                                  RATE_LIMIT_RETRIES - rate_left, RATE_LIMIT_RETRIES,
                                                  self.rate_limit_hint))
                    continue
                recorded, until, at = '', None, None
                if answer.stop:
                    # Not retried: recorded, so that no other worker, task or run sends before the exchange said.
                    pacer = self.stop_pacer(429)
                    until, at = pacer.record_stop(answer.seconds, 429)[:2]
                    recorded = '; %s: %s' % (self.stop_subject(pacer is self.url_pacer),
                                             self._recorded(pacer.ledger.path if pacer.ledger is not None and
                                                            pacer.ledger_problem is None else None, until))
                error = RateLimited(
                    '%s: rate limited by %s (HTTP %s%s)%s; stopped after %d waits to avoid an IP ban%s%s'
                    % (what, self.venue_label, status, code, ': %s' % answer.message if answer.message else '',
                       RATE_LIMIT_RETRIES - rate_left,
                       ' (Retry-After %ss is longer than %ss)' % (retry_after, int(RATE_LIMIT_MAX_WAIT))
                       if retry_after is not None and retry_after > RATE_LIMIT_MAX_WAIT else '', recorded), **details)
                if answer.stop:
                    error.until, error.recorded_at = until, at
                raise error

            if answer.kind == Answer.RESYNC:
                if not resynced:
                    resynced = True
                    self.resync(about)
                    continue
                raise answer.error

            if answer.kind == Answer.SERVER_ERROR:
                if self.is_write(method, path) and answer.unknown:
                    # "Unknown error" means the write may or may not have happened; an answer we cannot read (a
                    # proxy page) tells nothing either. Read back, never guess.
                    raise UnknownOutcome('%s: HTTP %s (%s); the exchange may or may not have applied it'
                                         % (about, status, answer.detail), **details)
                if wait_for_transient_retry('%s: HTTP %s from the exchange (%s)' % (about, status, answer.detail)):
                    continue
                raise TransportError('%s: HTTP %s from the exchange (%s), after %d attempts'
                                     % (what, status, answer.detail, TRANSIENT_RETRIES + 1), **details)

            if answer.kind == Answer.ERROR:
                raise answer.error
            return answer.data
