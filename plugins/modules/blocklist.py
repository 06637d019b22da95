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
  - Parses, validates, de-duplicates and collapses address lists per family, subtracts an allowlist,
    and loads the result as interval sets in its own nftables table (C(table inet quietnode_blocklist)),
    with a prerouting chain at priority raw (before connection tracking) that drops with counters.
  - The whole table is replaced in one C(nft -f) transaction after an C(nft -c -f) check, so the host
    is never half-loaded and a refused list changes nothing.
  - Whether anything changed is decided from a digest kept in the table comment and in the persisted
    script, read with C(nft -t list ruleset) which never reads set elements back. An input identical to the
    last applied one (same bytes, allowlist and options) is recognised without parsing it.
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
  description: Entries (intervals) per family after collapsing and subtracting the allowlist.
  returned: when state is present
  type: dict
  sample: {"v4": 166686, "v6": 19511}
added:
  description:
    - Entries in the new list that are not in the persisted one; 0 when nothing changed.
    - Counted in check mode only (null otherwise), since comparing large lists costs time on every apply.
  returned: when state is present
  type: int
  sample: 120
removed:
  description: Entries in the persisted list that are not in the new one; counted like RV(added).
  returned: when state is present
  type: int
  sample: 3
counters:
  description: Packets and bytes dropped per family since the table was last loaded.
  returned: when state is present
  type: dict
  sample: {"v4": {"packets": 12, "bytes": 720}}
load:
  description: Whether the kernel table was (or in check mode would be) replaced.
  returned: always
  type: bool
persist:
  description: Whether the persisted files were (or would be) rewritten.
  returned: always
  type: bool
"""

import hashlib
import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist import (
    FORMAT_VERSION, BlocklistError, decode_lines, normalise,
)
from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist_options import (
    NORMALISE_OPTIONS, argument_spec, role_var,
)
from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist_nft import (
    Enforcer, NftError,
)

_TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def _input_digest(params, named):
    """Digest of everything the result depends on, so an identical input skips parsing."""
    digest = hashlib.sha256()
    digest.update(repr((FORMAT_VERSION, params["table"], [(opt, params[opt]) for opt in NORMALISE_OPTIONS],
                        sorted(params["allowlist"]))).encode())
    for name, data, fmt in named:
        digest.update(b"\0" + repr((name, fmt)).encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


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
    if any(source.get("src") or source.get("url") for source in params["sources"]) or params["countries"]:
        module.fail_json(msg="sources with src or url, and countries, are read on the controller: call the module as "
                             "quietnode.baseline.blocklist so its action plugin runs. Nothing was changed.")
    enforcer = Enforcer(module.run_command, module.get_bin_path("nft", required=params["state"] == "present" and not module.check_mode),
                        params["table"], params["state_dir"], params["validate"])
    try:
        if params["state"] == "absent":
            if enforcer.nft is None:
                module.exit_json(changed=False, load=False, persist=False, digest=None)
            module.exit_json(**enforcer.remove(module.check_mode))
        named = []
        missing = []
        for source in params["sources"]:
            try:
                named.append((source["path"], _read(source["path"]), source["format"]))
            except (IOError, OSError) as exc:
                if not (module.check_mode and not os.path.exists(source["path"])):
                    module.fail_json(msg="cannot read blocklist source %s: %s. Nothing was changed." % (source["path"], exc))
                # In check mode an earlier task may be about to create it: predict a change instead of failing.
                module.warn("blocklist source %s does not exist yet; check mode predicts a change" % source["path"])
                missing.append(source["path"])
        trusted = [("controller-normalised list", _read(params["normalised"]), "plain")] if params["normalised"] else []
        input_digest = _input_digest(params, trusted + named)
        plan = enforcer.unchanged_input(input_digest)
        if plan is None:
            lists = normalise([(name, decode_lines(data), fmt) for name, data, fmt in named], params["allowlist"],
                              params["min_prefix_v4"], params["min_prefix_v6"], params["allow_wide"],
                              params["reject_host_bits"], [(name, decode_lines(data)) for name, data, _fmt in trusted])
            plan = enforcer.plan(lists, input_digest, count_changes=module.check_mode)
            if not module.check_mode:
                enforcer.apply(lists, plan)
        if missing:
            plan["changed"] = True
    except BlocklistError as exc:
        module.fail_json(msg=str(exc), problems=[list(p) for p in exc.problems])
    except NftError as exc:
        module.fail_json(msg="%s (the previous table stays in force)" % exc)
    module.exit_json(**plan)


if __name__ == "__main__":
    main()
