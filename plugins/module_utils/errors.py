# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The errors of the collection's core and of every venue, and the redaction of their messages. No venue named here.

Every error a client or a module's core raises is an ``MMPError``; its message never holds a secret: it is passed
through ``redact()``, which removes PEM blocks, ``signature=`` values and the query strings of URLs (of full URLs,
and of the API paths that venues register with ``register_api_path()``).
"""

from __future__ import annotations

import re

_SIGNATURE_RE = re.compile(r'(signature=)[^&\s\'"]*', re.IGNORECASE)
_PEM_RE = re.compile(r'-----BEGIN [A-Z ]+-----.*?(-----END [A-Z ]+-----|$)', re.DOTALL)
_FULL_URL_QUERY_RE = re.compile(r'(https?://[^\s?\'"]*)\?[^\s\'"]*')
_API_PATHS = []  # compiled patterns of the venues' API paths: such a path's query string is removed


def register_api_path(prefix):
    """A venue's API path prefix (``/api/`` of ``/api/v1/x?a=b``): the query string of such a path is removed from
    messages."""
    pattern = re.compile(r'((?:https?://[^\s?\'"]*)?%s[^\s?\'"]*)\?[^\s\'"]*' % re.escape(prefix))
    if all(p.pattern != pattern.pattern for p in _API_PATHS):
        _API_PATHS.append(pattern)


def redact(text):
    """Remove PEM blocks, signatures and the query strings of URLs and API paths from ``text``."""
    if text is None:
        return text
    text = str(text)
    text = _PEM_RE.sub('[private key redacted]', text)
    for pattern in _API_PATHS:
        text = pattern.sub(r'\1?[query redacted]', text)
    text = _FULL_URL_QUERY_RE.sub(r'\1?[query redacted]', text)
    text = _SIGNATURE_RE.sub(r'\1[redacted]', text)
    return text


class MMPError(Exception):
    """Base class of every error the collection raises at run time. Its message never holds a secret."""

    credentials_refused = False  # the exchange refused the credentials themselves (``credentials_refused()``)

    def __init__(self, message, http_status=None, code=None, exchange_message=None):
        super().__init__(redact(message))
        self.http_status = http_status
        self.code = code
        self.exchange_message = exchange_message

    @property
    def message(self):
        return self.args[0]

    def kind(self, venue_label=''):
        """The error's kind for events and reports: the venue's label and the class (``BinanceAPIError``)."""
        return '%s%s' % (venue_label or '', type(self).__name__)


class ConfigError(MMPError):
    """The client was configured wrongly (bad URL, unreadable key, ...). No request was sent."""


class MissingLibrary(ConfigError):
    """A Python library the chosen configuration needs is missing."""

    def __init__(self, library, reason):
        super().__init__('the Python library %s is required %s' % (library, reason))
        self.library = library
        self.reason = reason


class APIError(MMPError):
    """The exchange refused the request (a 4xx, or an error code). Not retried."""


def credentials_refused(exc, codes=(), http_statuses=()):
    """Whether ``exc`` says that the exchange refused the request's credentials: the key is unknown, revoked or
    malformed, the signature does not match, the IP is not whitelisted or the key lacks a permission. Such a refusal
    is never retried, and sending again at once cannot help: the watcher polls that account every ``error_interval``
    (at least its interval) until it can be read again.

    A venue names its answers of that kind: ``codes`` (the exchange's error codes) and ``http_statuses``; an error
    whose ``credentials_refused`` attribute is True (set by a client that knows) counts too. Only an ``APIError`` (an
    answer of the exchange) is such a refusal: a timeout, a 5xx or a stop is not."""
    if not isinstance(exc, MMPError):
        return False
    if getattr(exc, 'credentials_refused', False) is True:
        return True
    return isinstance(exc, APIError) and (
        (exc.code is not None and exc.code in tuple(codes))
        or (exc.http_status is not None and exc.http_status in tuple(http_statuses)))


class RateLimited(MMPError):
    """Still rate limited after the bounded waits, or a recorded 429 stop holds (``until`` set)."""

    until = None       # our clock: no request before then (a recorded stop), else None
    recorded_at = None
    sent = True        # whether this request reached the exchange


class IPBanned(MMPError):
    """The exchange banned this IP (Binance: HTTP 418), or a recorded ban holds (``sent`` False: nothing was sent).
    Never retried."""

    until = None
    recorded_at = None
    sent = True


class TransportError(MMPError):
    """Timeouts, connection errors and 5xx answers that outlived the bounded retries."""


class TLSError(MMPError):
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


class ResponseError(MMPError):
    """The answer was not what the API documents (an HTML page from a proxy, a missing field)."""


class UnknownOutcome(MMPError):
    """A write was sent and its outcome is unknown (a 503 "Unknown error", a timeout, a dropped connection).

    The caller must read the state back before deciding anything.
    """


class TaskError(MMPError):
    """The task could not do what was asked (the exchange holds something else, an answer makes no sense).

    ``details`` are added to the failure's result (both sides of a mismatch, for example).
    """

    def __init__(self, message, details=None, **kwargs):
        super().__init__(message, **kwargs)
        self.details = dict(details or {})


class ApplyError(TaskError):
    """The exchange did not end up holding what was asked, or answered nonsense. Carries both sides."""

    def __init__(self, message, before=None, asked=None, exchange=None):
        details = {}
        if before is not None:
            details['before'] = before
        if exchange is not None:
            details['exchange'] = exchange
            details['asked'] = dict(asked or {})
        super().__init__(message, details=details)
        self.before = before
        self.asked = asked
        self.exchange = exchange

    def kind(self, venue_label=''):
        return 'MMPApplyError'  # as events have always called it, for every venue


class ValidationError(ValueError):
    """Bad input. Raised before any request is made; the message names the option and what is allowed."""

    def __init__(self, option, value, allowed, message=None):
        super().__init__(message or '%s: got %r; %s' % (option, value, allowed))
        self.option = option
