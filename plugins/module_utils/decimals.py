# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Decimals as every venue's modules, the audit report and the comparisons handle them: as ``Decimal``, never as
floats. No venue named here."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def to_decimal(value):
    """Exact Decimal of an int, a float (by its shortest repr: 2.3 is 2.3) or a string. None if not a number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, float):
            d = Decimal(repr(value))
        elif isinstance(value, (int, Decimal)):
            d = Decimal(value)
        elif isinstance(value, str):
            d = Decimal(value.strip())
        else:
            return None
    except (InvalidOperation, ValueError):
        return None
    if not d.is_finite():
        return None
    return d


def format_decimal(d):
    """Plain notation, no exponent, no trailing zeros: Decimal('2.30') -> '2.3', Decimal('1E-5') -> '0.00001'."""
    text = format(d, 'f')
    if '.' in text:
        text = text.rstrip('0').rstrip('.')
    if text in ('', '-0'):
        text = '0'
    return text


def same_decimal(a, b):
    """Whether ``a`` and ``b`` are the same number (``'2.50'`` and ``2.5`` are); False when either is not one."""
    da, db = to_decimal(a), to_decimal(b)
    return da is not None and db is not None and da == db


def plain(value):
    """A value as reports show it: a number as a plain decimal string without trailing zeros, anything else as is."""
    d = to_decimal(value)
    return value if d is None else format_decimal(d)
