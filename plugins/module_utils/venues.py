# -*- coding: utf-8 -*-
# Copyright: (c) 2026, marketops infrastructure team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""How the core finds a venue's parts without naming a venue: a venue is a package ``module_utils/<venue>/`` beside
the core, and a part is one of its files (``modules.py`` for the fast path, ``watch.py`` for the event source,
``audit.py`` for the audit report). No venue named here."""

from __future__ import annotations

import importlib
import os
import re

MODULE_UTILS = 'ansible_collections.marketops.mmp.plugins.module_utils'
VENUE_RE = re.compile(r'^[a-z][a-z0-9]*$')


def venue_packages(part):
    """The venues whose package holds ``<part>.py``, by name (found on disk, nothing imported)."""
    found = []
    for base in getattr(importlib.import_module(MODULE_UTILS), '__path__', []):
        try:
            names = sorted(os.listdir(base))
        except OSError:
            continue
        found += [name for name in names if VENUE_RE.match(name) and name not in found
                  and os.path.isfile(os.path.join(base, name, part + '.py'))]
    return found


def venue_part(venue, part):
    """``module_utils/<venue>/<part>.py``, imported; None when there is no such venue or part. A part that exists but
    cannot be imported raises its ImportError (it is broken, not unknown)."""
    if not isinstance(venue, str) or not VENUE_RE.match(venue):
        return None
    name = '%s.%s.%s' % (MODULE_UTILS, venue, part)
    try:
        return importlib.import_module(name)
    except ImportError as e:
        if getattr(e, 'name', None) in (name, '%s.%s' % (MODULE_UTILS, venue)):
            return None
        raise
