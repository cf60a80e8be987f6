# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Binance as a venue of the collection (see runner.py for what a venue declares): its connection and credential
options, their checks, the client built from them, and its units and names (underlyings, LONG parameters)."""

from __future__ import annotations

import re

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.validation import check_type_str

from ansible_collections.marketops.mmp.plugins.module_utils.binance.api import (
    API_KEY_MAX_LEN,
    DEFAULT_BASE_URL,
    DEFAULT_RECV_WINDOW,
    MAX_RECV_WINDOW,
    BinanceOptionsClient,
    check_base_url,
    check_key_text,
    make_signer,
)
from ansible_collections.marketops.mmp.plugins.module_utils.errors import MMPError, ValidationError
from ansible_collections.marketops.mmp.plugins.module_utils.runner import common_connection_spec, pacing_kwargs
from ansible_collections.marketops.mmp.plugins.module_utils.validation import validate_name

LONG_MAX = 2 ** 63 - 1           # the exchange's LONG parameters
UNDERLYING_RE = re.compile(r'^[A-Za-z0-9]{1,32}$')
UNDERLYING_ALLOWED = 'letters and digits only (1 to 32), such as BTCUSDT'


def validate_underlying(value, option='underlying'):
    """An underlying option, stripped and upper case. Raises ValidationError."""
    return validate_name(option, value, UNDERLYING_RE, UNDERLYING_ALLOWED, upper=True)


def item_underlying(item):
    """The underlying an inventory item (a ``binance_mmp_configs`` item, a mapping) is about, as ``binance_mmp`` and
    ``binance_kill_switch`` read their ``underlying`` option: as text (the option's type), then
    ``validate_underlying``. Raises ValidationError."""
    value = item.get('underlying')
    return validate_underlying(check_type_str(value) if value is not None else None)


def validate_credentials(params):
    """``api_key`` and ``api_secret`` (also when they come from BINANCE_API_KEY / BINANCE_API_SECRET) are printable
    ASCII, without whitespace. Raises ValidationError naming the option and the likely cause, never the value.
    ``private_key`` is PEM text (with line breaks) or a path, checked when it is loaded."""
    for option, max_len in (('api_key', API_KEY_MAX_LEN), ('api_secret', None)):
        value = params.get(option)
        if option == 'api_secret' and not value:
            continue  # unset (or empty): "exactly one of api_secret and private_key" is checked below
        try:
            check_key_text(option, value, max_len)
        except MMPError as e:
            raise ValidationError(option, None, None, message=e.message)


class BinanceVenue:
    """Binance's options API (eapi)."""

    name = 'binance'
    label = 'Binance'
    client_class = BinanceOptionsClient  # its weight_limit bounds (runner.validate_common_connection)

    @staticmethod
    def connection_argument_spec():
        """Connection and credential options of every Binance module. Kept in step with the ``marketops.mmp.binance``
        doc fragment."""
        return dict(
            common_connection_spec(),
            api_key=dict(type='str', required=True, no_log=True, fallback=(env_fallback, ['BINANCE_API_KEY'])),
            api_secret=dict(type='str', no_log=True, fallback=(env_fallback, ['BINANCE_API_SECRET'])),
            private_key=dict(type='str', no_log=True, fallback=(env_fallback, ['BINANCE_PRIVATE_KEY'])),
            private_key_passphrase=dict(type='str', no_log=True),
            base_url=dict(type='str', default=DEFAULT_BASE_URL, fallback=(env_fallback, ['BINANCE_EAPI_URL'])),
            recv_window=dict(type='int', default=DEFAULT_RECV_WINDOW),
        )

    @staticmethod
    def validate_connection(params):
        """Binance's own connection checks (the shared ones are in runner.py). Raises ValidationError."""
        recv_window = params.get('recv_window')
        if isinstance(recv_window, bool) or not isinstance(recv_window, int) or not 0 < recv_window < MAX_RECV_WINDOW:
            raise ValidationError('recv_window', recv_window, 'an integer number of milliseconds in (0, %d)'
                                  % MAX_RECV_WINDOW)
        try:
            check_base_url(params.get('base_url'))
        except MMPError as e:  # the message says what is wrong without the URL's userinfo, query or fragment
            raise ValidationError('base_url', None, None, message=e.message)
        validate_credentials(params)
        if params.get('api_secret') and params.get('private_key'):
            raise ValidationError('api_secret', None, None,
                                  message='api_secret and private_key are both set (as options or through '
                                  'BINANCE_API_SECRET / BINANCE_PRIVATE_KEY); set exactly one of them')
        if not params.get('api_secret') and not params.get('private_key'):
            raise ValidationError('api_secret', None, 'set exactly one of api_secret (HMAC key) and private_key '
                                  '(Ed25519 or RSA key), or BINANCE_API_SECRET / BINANCE_PRIVATE_KEY')

    @staticmethod
    def client(params, **kwargs):
        """The client of validated options. Raises ConfigError / MissingLibrary."""
        signer = make_signer(api_secret=params.get('api_secret'), private_key=params.get('private_key'),
                             private_key_passphrase=params.get('private_key_passphrase'))
        return BinanceOptionsClient(api_key=params['api_key'], signer=signer, base_url=params['base_url'],
                                    recv_window=params['recv_window'], timeout=params['timeout'],
                                    validate_certs=params['validate_certs'], ca_path=params.get('ca_path'),
                                    weight_limit=params.get('weight_limit'),
                                    weight_reserve=params.get('weight_reserve'),
                                    **dict(pacing_kwargs(params), **kwargs))


BINANCE = BinanceVenue()


class UnderlyingCore:
    """What the cores of Binance's modules about one underlying share: their venue; messages name the underlying,
    failures carry it."""

    name = 'MMP'
    venue = BINANCE

    def what(self, desired):
        return '%s %s' % (self.name, desired['underlying'])

    @staticmethod
    def error_context(desired):
        return dict(underlying=desired['underlying'])
