#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: blocklist
short_description: Drop traffic from large address lists in a dedicated nftables table
version_added: 0.1.0
description:
  - Parses, validates, de-duplicates and collapses address lists per source and family, subtracts an allowlist,
    and loads each source into its own sets in a dedicated nftables table (C(table inet quietnode_blocklist));
    single addresses in a hash set, networks and ranges in an interval set, both dropped by rules in a
    prerouting chain at priority raw (before connection tracking) that count into one named counter per
    source and family (C(nft list counters table inet quietnode_blocklist)), so drops are told apart per list
    and country.
  - A first load, a changed list of sources or a change of more than a fifth of the elements replaces the whole
    table in one C(nft -f) transaction after an C(nft -c -f) check. A smaller change adds the new elements and
    rewrites the exempt set of each set that lost entries (its drop rule skips what the exempt set holds), also in
    one transaction, and falls back to the full replace when nft refuses it; either way the host is never
    half-loaded and a refused list changes nothing.
  - Whether anything changed is decided from a digest kept in the rule of the table's C(state) chain and in the
    persisted script, read with C(nft -t list ruleset) which never reads set elements back. An input identical to
    the last applied one (same bytes, allowlist and options) is recognised without parsing it.
  - Sources given with O(sources[].src) or O(sources[].url), and O(countries), are read and normalised on the
    controller by the action plugin of the same name, once per distinct input per run, and shipped to the host.
  - An empty result (no entries, or everything allowlisted) removes the table.
author:
  - quietnode maintainers (@quietnode)
extends_documentation_fragment: []
attributes:
  check_mode:
    support: full
    description: Reports whether the table or the persisted files would change, and the entries to add and remove.
  diff_mode:
    support: none
    description: Lists are too large to diff usefully; counts are returned instead.
options:
  sources:
    description:
      - Address lists. An entry is an address, a CIDR network or an C(a-b) range, IPv4 or IPv6.
      - Each item has exactly one of O(sources[].path), O(sources[].src) or O(sources[].url).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: A list already on the managed host.
        type: path
      src:
        description: A list on the controller (found like M(ansible.builtin.copy) finds C(src)); normalised there.
        type: path
      url:
        description: A list downloaded by the controller, once per run.
        type: str
      checksum:
        description: Optional pinned checksum of the downloaded list, C(sha256:<hex>); the run fails when it differs.
        type: str
      format:
        description:
          - How the list is written. V(auto) detects it from the first lines that are not comments.
          - V(plain), V(spamhaus) and V(firehol) are one entry per line with C(#) or C(;) comments, also after an entry.
          - V(spamhaus_json) is one JSON object per line with a C(cidr) key.
          - V(ipset) is an C(ipset save) file (C(create) and C(add SET ENTRY) lines).
          - V(p2p) is PeerGuardian C(name:first-last).
          - V(dshield) is DShield's tab-separated block list (start, end, netblock, ...).
          - A UTF-8 byte order mark and CRLF line ends are accepted in every format.
        type: str
        choices: [auto, dshield, firehol, ipset, p2p, plain, spamhaus, spamhaus_json]
        default: auto
  countries:
    description:
      - ISO 3166-1 alpha-2 codes of countries whose address space is blocked, read on the controller from
        O(country_url_v4) and O(country_url_v6). Country lists are only refused C(/0) entries, not the prefix limits.
    type: list
    elements: str
    default: []
  country_url_v4:
    description:
      - URL template of a country's IPv4 zone; C({cc}) is the lower-case code, C({CC}) the upper-case one.
      - The default is ipdeny.com's aggregated zones; point it at a mirror. Empty skips IPv4.
    type: str
    default: https://www.ipdeny.com/ipblocks/data/aggregated/{cc}-aggregated.zone
  country_url_v6:
    description: URL template of a country's IPv6 zone, like O(country_url_v4). Empty skips IPv6.
    type: str
    default: https://www.ipdeny.com/ipv6/ipaddresses/aggregated/{cc}-aggregated.zone
  normalised:
    description:
      - Internal, set by the action plugin; a list already normalised on the controller.
    type: path
  feeds:
    description:
      - Internal, set by the action plugin when O(refresh=true); the url and country sources the host fetches
        (keys C(name), C(url), C(format), C(checksum), C(wide)).
    type: list
    elements: dict
    default: []
  refresh:
    description:
      - Fetch url and country sources on the host over HTTPS (system trust store) and keep the last good copy
        of each under O(cache_dir), for the refresh timer the role installs; writes O(cache_dir)C(/refresh.json).
      - V(false) removes the refresh's files from O(cache_dir).
    type: bool
    default: false
  cache_dir:
    description: Last good feeds, the refresh's config and its state file C(refresh-state.json).
    type: path
    default: /var/lib/quietnode/blocklist
  refresh_max_shrink:
    description: A refresh refuses a feed that lost more than this share of its entries.
    type: float
    default: 0.5
  refresh_max_growth:
    description: A refresh refuses a feed that grew by more than this share of its entries.
    type: float
    default: 1.0
  refresh_timeout:
    description: Seconds a feed download on the host may take.
    type: int
    default: 60
  allowlist:
    description:
      - Addresses, networks or ranges that are never blocked (management hosts, the host's own addresses).
      - Subtracted from the lists after collapsing.
    type: list
    elements: str
    default: []
  min_prefix_v4:
    description: Refuse IPv4 entries wider than this prefix length unless O(allow_wide=true).
    type: int
    default: 8
  min_prefix_v6:
    description: Refuse IPv6 entries wider than this prefix length unless O(allow_wide=true).
    type: int
    default: 16
  allow_wide:
    description: Accept entries wider than the prefix limits, including C(/0).
    type: bool
    default: false
  reject_host_bits:
    description: Refuse networks with host bits set (C(10.0.0.5/24)) instead of normalising them to the network.
    type: bool
    default: false
  table:
    description: Name of the C(inet) table this module owns.
    type: str
    default: quietnode_blocklist
  state_dir:
    description: Where the normalised list and the boot-time nft script are persisted.
    type: path
    default: /etc/quietnode/blocklist
  validate:
    description:
      - How the script is checked with C(nft -c -f) before it is loaded.
      - V(sample) checks the whole table, chain and rules with the first 256 elements of each set; the load itself
        is one transaction that the kernel commits whole or not at all, and checking every element would double
        the time of an apply.
      - V(full) checks every element; V(none) skips the check.
    type: str
    choices: [sample, full, none]
    default: sample
  state:
    description: V(present) enforces the lists; V(absent) deletes the table and the persisted files.
    type: str
    choices: [present, absent]
    default: present
notes:
  - IPv4-mapped IPv6 entries (C(::ffff:192.0.2.1), C(::ffff:192.0.2.0/120)) are converted to IPv4, since packets never carry them as IPv6 sources.
  - Traffic on the loopback interface is never dropped.
requirements:
  - nftables (C(nft)) on the managed host.
"""

EXAMPLES = r"""
- name: Block the offender lists shipped with the playbook
  quietnode.baseline.blocklist:
    sources:
      - src: files/offenders-v4.txt
      - url: https://lists.example.org/drop.txt
        format: spamhaus
      - url: https://lists.example.org/pinned.txt
        checksum: sha256:0b4c1f0b0f3e2f1d9e5f0c8b6a7d4e3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e
    countries: [AQ, BV]
    allowlist:
      - 192.0.2.10
      - 2001:db8:1::/48

- name: Remove the blocklist table and its files
  quietnode.baseline.blocklist:
    state: absent
"""

RETURN = r"""
digest:
  description: SHA-256 of the normalised lists as loaded; null when nothing is enforced.
  returned: always
  type: str
  sample: 5f2b4c0a3e...
counts:
  description:
    - Elements loaded per family after collapsing and subtracting the allowlist, summed over the per-source sets
      (an entry two sources list counts twice).
  returned: when state is present
  type: dict
  sample: {"v4": 166686, "v6": 19511}
added:
  description:
    - Entries in the new list that are not in the persisted one; 0 when nothing changed.
    - Counted in check mode and for a partial update (null otherwise), since comparing large lists costs time.
  returned: when state is present
  type: int
  sample: 120
removed:
  description: Entries in the persisted list that are not in the new one; counted like RV(added).
  returned: when state is present
  type: int
  sample: 3
counters:
  description:
    - Packets and bytes dropped per family, and per source under C(sources) (keyed by the source's path, URL or
      country), before this run's change. Counters start at 0 when the table is replaced whole and keep counting
      across partial updates.
  returned: when state is present
  type: dict
  sample: {"v4": {"packets": 12, "bytes": 720}, "sources": {"country AQ (IPv4, https://...)": {"v4": {"packets": 12, "bytes": 720}}}}
method:
  description: How the kernel table was (or would be) updated, V(partial) or V(replace); null when it was not.
  returned: when state is present
  type: str
  sample: partial
load:
  description: Whether the kernel table was (or in check mode would be) replaced.
  returned: always
  type: bool
persist:
  description: Whether the persisted files were (or would be) rewritten.
  returned: always
  type: bool
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist import BlocklistError, Merged
from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist_feeds import (
    CONFIG_FILE, FEED_DIR, STATE_FILE, STATIC_FILE, STATIC_NAME, FeedError, config_text, converge, counts_path, counts_record,
    feed_named, feed_path, fetch, merge_feed, merged_path, merged_record, read_bytes,
)
from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist_nft import write_atomic
from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist_options import argument_spec, role_var
from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist_nft import (
    Enforcer, NftError,
)

_TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")


def _differs(path, data):
    try:
        return read_bytes(path) != data
    except (IOError, OSError):
        return True


def _feeds(module, params):
    """Last good copy of each feed, fetched on the host when there is none yet: ({url: bytes}, files to write, {name: (bytes,
    Parsed)} of the fetched ones)."""
    data_by_url = {}
    writes = []
    parsed = {}
    for feed in params["feeds"]:
        path = feed_path(params["cache_dir"], feed["url"])
        if os.path.exists(path):
            data_by_url[feed["url"]] = read_bytes(path)
            continue
        try:
            data = fetch(feed["url"], feed.get("checksum"), params["refresh_timeout"])
        except FeedError as exc:
            module.fail_json(msg="blocklist feed %s: %s. Nothing was changed." % (feed["name"], exc))
        # Merged (for a plain feed) and recorded like a refresh's copy, so the timer's first refresh patches it.
        entries = merge_feed(feed, params, None, None, data)
        data_by_url[feed["url"]] = data
        parsed[feed["name"]] = (data, entries)
        writes.extend([(path, data), (counts_path(path), counts_record(data, entries.counts()))])
        if isinstance(entries, Merged):
            writes.append((merged_path(path), merged_record(feed, params, data, entries)))
    return data_by_url, writes, parsed


def _refresh_files(params, path_sources):
    """(path, bytes or None to remove) for the refresh timer's inputs: its config and the controller's list."""
    cache_dir = params["cache_dir"]
    names = (CONFIG_FILE, STATIC_FILE, STATE_FILE)
    if not params["refresh"]:
        return [(os.path.join(cache_dir, name), None) for name in names]
    static = read_bytes(params["normalised"]) if params["normalised"] else None
    return [(os.path.join(cache_dir, CONFIG_FILE), config_text(params, params["feeds"], path_sources)),
            (os.path.join(cache_dir, STATIC_FILE), static)]


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    if not _TABLE_RE.match(params["table"]):
        module.fail_json(msg="%s %r is not a valid nftables table name (letters, digits, _; up to 32). "
                             "Nothing was changed." % (role_var("table"), params["table"]))
    for family, bits in ((4, 32), (6, 128)):
        option = "min_prefix_v%d" % family
        if not 0 <= params[option] <= bits:
            module.fail_json(msg="%s is %s; it must be 0-%d. Nothing was changed." % (role_var(option), params[option], bits))
    for option in ("refresh_max_shrink", "refresh_max_growth"):
        if not params[option] > 0:
            module.fail_json(msg="%s is %s; it must be above 0. Nothing was changed." % (role_var(option), params[option]))
    if any(source.get("src") or source.get("url") for source in params["sources"]) or params["countries"]:
        module.fail_json(msg="sources with src or url, and countries, are read on the controller: call the module as "
                             "quietnode.baseline.blocklist so its action plugin runs. Nothing was changed.")
    enforcer = Enforcer(module.run_command, module.get_bin_path("nft", required=params["state"] == "present" and not module.check_mode),
                        params["table"], params["state_dir"], params["validate"])
    try:
        if params["state"] == "absent":
            # Without nft no table can be loaded, but a persisted list is still removed.
            module.exit_json(**enforcer.remove(module.check_mode))
        named = []
        missing = []
        for source in params["sources"]:
            try:
                named.append((source["path"], read_bytes(source["path"]), source["format"]))
            except (IOError, OSError) as exc:
                if not (module.check_mode and not os.path.exists(source["path"])):
                    module.fail_json(msg="cannot read blocklist source %s: %s. Nothing was changed." % (source["path"], exc))
                # In check mode an earlier task may be about to create it: predict a change instead of failing.
                module.warn("blocklist source %s does not exist yet; check mode predicts a change" % source["path"])
                missing.append(source["path"])
        data_by_url, feed_writes, parsed = _feeds(module, params)
        trusted = [(STATIC_NAME, read_bytes(params["normalised"]))] if params["normalised"] else []
        plan = converge(params, enforcer, named + feed_named(params["feeds"], data_by_url), trusted, module.check_mode, parsed)
        path_sources = [dict(path=src["path"], format=src["format"]) for src in params["sources"]]
        writes = feed_writes + [(path, data) for path, data in _refresh_files(params, path_sources)
                                if (os.path.exists(path) if data is None else _differs(path, data))]
        if not params["refresh"] and os.path.isdir(os.path.join(params["cache_dir"], FEED_DIR)):
            writes += [(os.path.join(params["cache_dir"], FEED_DIR, name), None)
                       for name in os.listdir(os.path.join(params["cache_dir"], FEED_DIR))]
        if writes:
            plan["persist"] = plan["changed"] = True
            if not module.check_mode:
                for path, data in writes:
                    if data is None:
                        os.unlink(path)
                    else:
                        write_atomic(path, data, 0o600 if path.endswith(".json") else 0o644)
        if missing:
            plan["changed"] = True
    except BlocklistError as exc:
        module.fail_json(msg=str(exc), problems=[list(p) for p in exc.problems])
    except NftError as exc:
        module.fail_json(msg="%s (the previous table stays in force)" % exc)
    module.exit_json(**plan)


if __name__ == "__main__":
    main()
