# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one table of blocklist options: name, role variable, type, default, and whether it shapes the list.

The module's argument spec, the action plugin's defaults and its per-run cache key are derived
from it; tests/unit hold the role's defaults and argument_specs.yml to the same rows.
Standard library only: this file runs on the controller and on the target.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist_formats import FORMAT_NAMES

# Country-zone provider: ipdeny.com's aggregated zones, one CIDR per line, lower-case codes.
COUNTRY_URL_V4 = "https://www.ipdeny.com/ipblocks/data/aggregated/{cc}-aggregated.zone"
COUNTRY_URL_V6 = "https://www.ipdeny.com/ipv6/ipaddresses/aggregated/{cc}-aggregated.zone"

# (option, role variable or None, type, default, choices, normalise: the option changes the normalised list)
OPTIONS = (
    ("countries", "blocklist_countries", "list", [], None, True),
    ("country_url_v4", "blocklist_country_url_v4", "str", COUNTRY_URL_V4, None, True),
    ("country_url_v6", "blocklist_country_url_v6", "str", COUNTRY_URL_V6, None, True),
    ("min_prefix_v4", "blocklist_min_prefix_v4", "int", 8, None, True),
    ("min_prefix_v6", "blocklist_min_prefix_v6", "int", 16, None, True),
    ("allow_wide", "blocklist_allow_wide", "bool", False, None, True),
    ("reject_host_bits", "blocklist_reject_host_bits", "bool", False, None, True),
    ("table", "blocklist_table", "str", "quietnode_blocklist", None, False),
    ("state_dir", "blocklist_state_dir", "path", "/etc/quietnode/blocklist", None, False),
    ("refresh", "blocklist_refresh_enabled", "bool", False, None, False),
    ("cache_dir", "blocklist_cache_dir", "path", "/var/lib/quietnode/blocklist", None, False),
    ("refresh_max_shrink", "blocklist_refresh_max_shrink", "float", 0.5, None, False),
    ("refresh_max_growth", "blocklist_refresh_max_growth", "float", 1.0, None, False),
    ("refresh_timeout", "blocklist_refresh_timeout", "int", 60, None, False),
    ("validate", None, "str", "sample", ("sample", "full", "none"), False),
    ("state", None, "str", "present", ("present", "absent"), False),
)

# One item of `sources`; exactly one of path, src, url.
SOURCE_KEYS = ("path", "src", "url")
SOURCE_OPTIONS = dict(
    path=dict(type="path"),
    src=dict(type="path"),
    url=dict(type="str"),
    checksum=dict(type="str"),
    format=dict(type="str", choices=list(FORMAT_NAMES), default="auto"),
)
SOURCE_RULES = dict(mutually_exclusive=[list(SOURCE_KEYS)], required_one_of=[list(SOURCE_KEYS)])

DEFAULTS = dict((row[0], row[3]) for row in OPTIONS)
ROLE_VARS = dict((row[0], row[1]) for row in OPTIONS if row[1])
NORMALISE_OPTIONS = tuple(row[0] for row in OPTIONS if row[5])


def role_var(option):
    """The variable a role user sets for option (messages name it), or the option itself."""
    return ROLE_VARS.get(option, option)


def sources_spec():
    spec = dict(type="list", elements="dict", default=[], options=copy.deepcopy(SOURCE_OPTIONS))
    spec.update(copy.deepcopy(SOURCE_RULES))
    return spec


def argument_spec():
    """The module's argument spec, built from OPTIONS."""
    spec = dict(
        sources=sources_spec(),
        normalised=dict(type="path"),
        feeds=dict(type="list", elements="dict", default=[]),
        allowlist=dict(type="list", elements="str", default=[]),
    )
    for option, _var, kind, default, choices, _norm in OPTIONS:
        row = dict(type=kind, default=copy.copy(default))
        if kind == "list":
            row["elements"] = "str"
        if choices:
            row["choices"] = list(choices)
        spec[option] = row
    return spec


def with_defaults(args):
    """args with every missing option filled from OPTIONS (controller side, before the module validates)."""
    out = dict(args)
    for option, default in DEFAULTS.items():
        if out.get(option) is None:
            out[option] = copy.copy(default)
    return out


def cache_key_fields(args):
    """The options that shape the normalised list, in table order, for the per-run cache key."""
    args = with_defaults(args)
    return [(option, args[option]) for option in NORMALISE_OPTIONS]


def check_source(index, source):
    """Message for an item of blocklist_sources that breaks SOURCE_RULES, or None.

    The module's argument spec and the role's argument_specs.yml declare the same rules; the action
    plugin runs this first because it takes src and url items before the module sees them.
    """
    given = [key for key in SOURCE_KEYS if source.get(key)]
    where = "blocklist_sources[%d]" % index
    if len(given) > 1:
        return ("%s has %s: give exactly one of path, src or url per item (split it into %d items). "
                "Nothing was changed." % (where, " and ".join(given), len(given)))
    if not given:
        return "%s has none of path, src or url: give exactly one. Nothing was changed." % where
    unknown = sorted(set(source) - set(SOURCE_OPTIONS))
    if unknown:
        return "%s has unknown key(s) %s; known: %s. Nothing was changed." % (
            where, ", ".join(unknown), ", ".join(sorted(SOURCE_OPTIONS)))
    fmt = source.get("format") or "auto"
    if fmt not in FORMAT_NAMES:
        return "%s has format %r; choose one of %s. Nothing was changed." % (where, fmt, ", ".join(FORMAT_NAMES))
    return None
