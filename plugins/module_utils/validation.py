# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checks of option values that every venue's modules use. No venue named here; nothing is sent.

Each raises ``ValidationError`` naming the option and what is allowed, before any request.
"""

from __future__ import annotations

from ansible_collections.marketops.mmp.plugins.module_utils.errors import ValidationError


def validate_int(option, value, low, high, allowed):
    """An integer option in [low, high]; booleans and strings are refused. Raises ValidationError."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(option, value, allowed)
    return value


def validate_bool(option, value):
    """A boolean option (True or False, nothing else). Raises ValidationError."""
    if not isinstance(value, bool):
        raise ValidationError(option, value, 'true or false')
    return value


def validate_name(option, value, pattern, allowed, upper=False, lower=False):
    """A name option matching ``pattern`` (a compiled regular expression) once stripped; upper or lower case when
    asked. Raises ValidationError."""
    if not isinstance(value, str) or not pattern.match(value.strip()):
        raise ValidationError(option, value, allowed)
    value = value.strip()
    return value.upper() if upper else value.lower() if lower else value


def validate_names(option, values, pattern, allowed, most, upper=False, lower=False, kind='names'):
    """A list option of names (``validate_name``), deduplicated in order, at most ``most`` (of ``kind``); None or
    [] -> None."""
    if values is None:
        return None
    if not isinstance(values, list) or len(values) > most:
        raise ValidationError(option, values, 'a list of at most %d %s' % (most, kind))
    out = []
    for value in values:
        name = validate_name(option, value, pattern, allowed, upper=upper, lower=lower)
        if name not in out:
            out.append(name)
    return out or None
