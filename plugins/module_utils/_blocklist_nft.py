# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Blocklist enforcement: render, check, load and persist one nftables table.

The whole table is replaced in one `nft -f` transaction (create, delete, recreate),
so the old rules stay in force until the commit and a failure changes nothing.
Whether anything changed is decided from a digest kept in the table comment
(read with `nft -t list ruleset`, which never reads set elements back) and in the
first line of the persisted file, never by listing the sets.
Standard library only (runs on the target).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import re
import tempfile

from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist import (
    FORMAT_VERSION, V4, V6, diff_counts,
)

COMMENT_TAG = "quietnode-blocklist sha256="
NFT_FILE = "blocklist.nft"
LIST_FILE = "blocklist.list"
_HEADER = "# " + COMMENT_TAG
_COUNTER_RE = re.compile(r'counter packets (\d+) bytes (\d+) drop comment "quietnode blocklist (v4|v6)"')


class NftError(RuntimeError):
    """nft refused a ruleset or could not be run."""


def table_digest(table, lists):
    """Digest of everything that ends up in the kernel; None when there is nothing to enforce."""
    if lists.is_empty():
        return None
    text = "format=%s table=%s\n%s" % (FORMAT_VERSION, table, lists.render())
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _elements(name, family_type, lines):
    head = "\tset %s {\n\t\ttype %s\n\t\tflags interval\n" % (name, family_type)
    if not lines:
        return head + "\t}\n"
    return head + "\t\telements = {\n\t\t\t" + ",\n\t\t\t".join(lines) + "\n\t\t}\n\t}\n"


def render_table(table, lists, digest):
    """The nft script: ensure, delete and recreate the table in one transaction."""
    if digest is None:
        return "%s%s\ntable inet %s\ndelete table inet %s\n" % (_HEADER, "none", table, table)
    parts = [
        "%s%s\n" % (_HEADER, digest),
        "table inet %s\ndelete table inet %s\n" % (table, table),
        "table inet %s {\n\tcomment \"%s%s\"\n" % (table, COMMENT_TAG, digest),
        _elements("v4", "ipv4_addr", lists.lines(V4)),
        _elements("v6", "ipv6_addr", lists.lines(V6)),
        "\tchain prerouting {\n",
        # raw (-300) runs before connection tracking (-200): blocked packets never create state.
        "\t\ttype filter hook prerouting priority raw; policy accept;\n",
        "\t\tiif \"lo\" accept\n",
        "\t\tip saddr @v4 counter drop comment \"quietnode blocklist v4\"\n",
        "\t\tip6 saddr @v6 counter drop comment \"quietnode blocklist v6\"\n",
        "\t}\n}\n",
    ]
    return "".join(parts)


def parse_loaded(ruleset_text, table):
    """From `nft -t list ruleset` output: (present, digest or None, {family: (packets, bytes)})."""
    start = ruleset_text.find("table inet %s {" % table)
    if start < 0:
        return False, None, {}
    end = ruleset_text.find("\n}", start)
    block = ruleset_text[start:end if end >= 0 else len(ruleset_text)]
    digest = None
    at = block.find('comment "' + COMMENT_TAG)
    if at >= 0:
        value_at = at + len('comment "' + COMMENT_TAG)
        digest = block[value_at:block.find('"', value_at)]
    counters = {}
    for packets, nbytes, fam in _COUNTER_RE.findall(block):
        counters[fam] = {"packets": int(packets), "bytes": int(nbytes)}
    return True, digest, counters


def persisted_digest(state_dir):
    """Digest recorded in the first line of the persisted script, '' if unreadable."""
    try:
        with open(os.path.join(state_dir, NFT_FILE), "r") as handle:
            first = handle.readline().strip()
    except (IOError, OSError):
        return ""
    if first.startswith(_HEADER):
        value = first[len(_HEADER):]
        return None if value == "none" else value
    return ""


def _write_atomic(path, text, mode=0o644):
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class Enforcer(object):
    """Plans and applies the table; run(args) returns (rc, stdout, stderr) like module.run_command."""

    def __init__(self, run, nft, table, state_dir, validate=True):
        self.run = run
        self.nft = nft
        self.table = table
        self.state_dir = state_dir
        self.validate = validate

    def _nft(self, *args):
        rc, out, err = self.run([self.nft] + list(args))
        if rc != 0:
            raise NftError("%s %s failed (rc=%s): %s" % (self.nft, " ".join(args), rc, (err or out).strip()))
        return out

    def loaded(self):
        return parse_loaded(self._nft("-t", "list", "ruleset"), self.table)

    def _old_lines(self):
        try:
            with open(os.path.join(self.state_dir, LIST_FILE), "r") as handle:
                return [line.strip() for line in handle if line.strip() and not line.startswith("#")]
        except (IOError, OSError):
            return []

    def plan(self, lists):
        """What would change: a dict safe to return from a module, without touching anything."""
        digest = table_digest(self.table, lists)
        present, loaded_digest, counters = self.loaded()
        persisted = persisted_digest(self.state_dir)
        load = present if digest is None else loaded_digest != digest
        persist = persisted != digest or (digest is not None and not os.path.exists(os.path.join(self.state_dir, LIST_FILE)))
        result = {
            "digest": digest,
            "loaded_digest": loaded_digest,
            "counts": lists.counts(),
            "counters": counters,
            "load": bool(load),
            "persist": bool(persist),
            "changed": bool(load or persist),
        }
        if result["changed"]:
            new_lines = lists.lines(V4) + lists.lines(V6)
            result["added"], result["removed"] = diff_counts(self._old_lines(), new_lines)
        else:
            result["added"] = result["removed"] = 0
        return result

    def apply(self, lists, plan):
        """Check, load in one transaction, then persist; nothing is persisted if nft refuses."""
        if not plan["changed"]:
            return plan
        if not os.path.isdir(self.state_dir):
            os.makedirs(self.state_dir, 0o755)
        script = render_table(self.table, lists, plan["digest"])
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".nft", dir=self.state_dir)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(script)
            if self.validate:
                self._nft("-c", "-f", tmp)
            if plan["load"]:
                self._nft("-f", tmp)
            os.chmod(tmp, 0o644)
            _write_atomic(os.path.join(self.state_dir, LIST_FILE), lists.render())
            os.replace(tmp, os.path.join(self.state_dir, NFT_FILE))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return plan

    def remove(self, check_mode):
        """state=absent: drop the table and the persisted files."""
        present = self.loaded()[0]
        files = [os.path.join(self.state_dir, name) for name in (NFT_FILE, LIST_FILE)]
        existing = [path for path in files if os.path.exists(path)]
        changed = bool(present or existing)
        if changed and not check_mode:
            if present:
                self._nft("delete", "table", "inet", self.table)
            for path in existing:
                os.unlink(path)
        return {"changed": changed, "load": present, "persist": bool(existing), "digest": None}
