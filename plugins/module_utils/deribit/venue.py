# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Deribit as a venue of the collection (see runner.py for what a venue declares): its connection and credential
options, their checks, the client built from them, and its names (index names, MMP groups, the config's scope)."""

from __future__ import annotations

import re

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.validation import check_type_str
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.marketops.mmp.plugins.module_utils.deribit.api import (
    CLIENT_ID_MAX_LEN,
    CLIENT_SECRET_MAX_LEN,
    DEFAULT_BASE_URL,
    DeribitClient,
    check_base_url,
    check_key_text,
)
from ansible_collections.marketops.mmp.plugins.module_utils.errors import MMPError, ValidationError
from ansible_collections.marketops.mmp.plugins.module_utils.runner import common_connection_spec, pacing_kwargs
from ansible_collections.marketops.mmp.plugins.module_utils.validation import validate_bool, validate_name

INDEX_RE = re.compile(r'^(?:[A-Za-z0-9]{2,16}_[A-Za-z0-9]{2,16}|all)$')
INDEX_ALLOWED = 'an index name such as btc_usd or eth_usdc (any case; all only with block_rfq)'
GROUP_MAX_LEN = 64
GROUP_ALLOWED = '1 to %d printable characters without whitespace (case-sensitive), or unset for the default group' \
    % GROUP_MAX_LEN


def validate_index_name(value, option='index_name'):
    """An index name, stripped and lower case. Raises ValidationError."""
    return validate_name(option, value, INDEX_RE, INDEX_ALLOWED, lower=True)


def validate_group(value, option='mmp_group'):
    """An MMP group name (case-sensitive), or None for the default group. Raises ValidationError."""
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= GROUP_MAX_LEN or any(
            c.isspace() or not c.isprintable() for c in value):
        raise ValidationError(option, value, GROUP_ALLOWED)
    return value


def validate_scope(params):
    """(index_name, mmp_group, block_rfq) of a task: which config it is about. Raises ValidationError."""
    block_rfq = validate_bool('block_rfq', params.get('block_rfq'))
    index_name = validate_index_name(params.get('index_name'))
    if index_name == 'all' and not block_rfq:
        raise ValidationError('index_name', params.get('index_name'), 'an index name such as btc_usd; all is only '
                              'allowed with block_rfq: true')
    return dict(index_name=index_name, mmp_group=validate_group(params.get('mmp_group')), block_rfq=block_rfq)


def item_scope(item):
    """The scope of an inventory item (a ``deribit_mmp_configs`` item, a mapping), as ``deribit_mmp`` reads its
    options: ``index_name`` and ``mmp_group`` as text, ``block_rfq`` as any Ansible boolean (``yes``, ``on``, ``1``;
    unset is false), the options' types, then ``validate_scope``. Raises ValidationError."""
    params = dict((option, check_type_str(item[option]) if item.get(option) is not None else None)
                  for option in ('index_name', 'mmp_group'))
    block_rfq = item.get('block_rfq')
    try:
        params['block_rfq'] = boolean(block_rfq) if block_rfq is not None else False
    except TypeError:
        raise ValidationError('block_rfq', block_rfq, 'a boolean (true or false, yes or no, on or off, 1 or 0)')
    return validate_scope(params)


def describe_scope(scope):
    """``btc_usd``, ``btc_usd group q1``, ``all Block RFQ``: a config's scope in messages."""
    parts = [scope['index_name']]
    if scope.get('mmp_group') is not None:
        parts.append('group %s' % scope['mmp_group'])
    if scope.get('block_rfq'):
        parts.append('Block RFQ')
    return ' '.join(parts)


def validate_credentials(params):
    """``client_id`` and ``client_secret`` (also from DERIBIT_CLIENT_ID / DERIBIT_CLIENT_SECRET) are printable ASCII
    without whitespace. Raises ValidationError naming the option and the likely cause, never the value."""
    for option, max_len in (('client_id', CLIENT_ID_MAX_LEN), ('client_secret', CLIENT_SECRET_MAX_LEN)):
        value = params.get(option)
        if value is None:
            raise ValidationError(option, None, 'set it, or DERIBIT_%s' % option.upper())
        try:
            check_key_text(option, value, max_len)
        except MMPError as e:
            raise ValidationError(option, None, None, message=e.message)


class DeribitVenue:
    """Deribit's API v2."""

    name = 'deribit'
    label = 'Deribit'
    client_class = DeribitClient  # its weight_limit bounds (runner.validate_common_connection)

    @staticmethod
    def connection_argument_spec():
        """Connection and credential options of every Deribit module. Kept in step with the ``marketops.mmp.deribit``
        doc fragment."""
        return dict(
            common_connection_spec(),
            client_id=dict(type='str', required=True, no_log=False, fallback=(env_fallback, ['DERIBIT_CLIENT_ID'])),
            client_secret=dict(type='str', required=True, no_log=True,
                               fallback=(env_fallback, ['DERIBIT_CLIENT_SECRET'])),
            base_url=dict(type='str', default=DEFAULT_BASE_URL, fallback=(env_fallback, ['DERIBIT_URL'])),
        )

    @staticmethod
    def validate_connection(params):
        """Deribit's own connection checks (the shared ones are in runner.py). Raises ValidationError."""
        try:
            check_base_url(params.get('base_url'))
        except MMPError as e:  # the message says what is wrong without the URL's userinfo, query or fragment
            raise ValidationError('base_url', None, None, message=e.message)
        validate_credentials(params)

    @staticmethod
    def client(params, **kwargs):
        """The client of validated options. Raises ConfigError / MissingLibrary."""
        return DeribitClient(client_id=params['client_id'], client_secret=params['client_secret'],
                             base_url=params['base_url'], timeout=params['timeout'],
                             validate_certs=params['validate_certs'], ca_path=params.get('ca_path'),
                             weight_limit=params.get('weight_limit'), weight_reserve=params.get('weight_reserve'),
                             **dict(pacing_kwargs(params), **kwargs))


DERIBIT = DeribitVenue()


class ScopeCore:
    """What the cores of Deribit's modules about one config share: their venue; messages name the config's scope
    (index, group, Block RFQ), failures carry it."""

    name = 'MMP'
    venue = DERIBIT

    def what(self, desired):
        return '%s %s' % (self.name, describe_scope(desired))

    @staticmethod
    def error_context(desired):
        return dict(index_name=desired['index_name'], mmp_group=desired['mmp_group'], block_rfq=desired['block_rfq'])
