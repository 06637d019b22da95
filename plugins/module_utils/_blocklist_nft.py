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

import os
import re
import tempfile

from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist import (
    V4, V6, diff_counts,
)

COMMENT_TAG = "quietnode-blocklist "
NFT_FILE = "blocklist.nft"
LIST_FILE = "blocklist.list"
_HEADER = "# " + COMMENT_TAG
_COUNTER_RE = re.compile(r'counter packets (\d+) bytes (\d+) drop comment "quietnode blocklist (v4|v6)"')
# Elements per set in the `nft -c` probe: enough to exercise element syntax, cheap on any list size.
SAMPLE = 256


class NftError(RuntimeError):
    """nft refused a ruleset or could not be run."""


def table_digest(table, lists):
    """Digest of everything that ends up in the kernel; None when there is nothing to enforce."""
    if lists.is_empty():
        return None
    return lists.digest("table=%s" % table)


def make_stamp(digest, input_digest, lists):
    """The record in the persisted script's first line (the table comment carries it without input=)."""
    counts = lists.counts()
    return "sha256=%s input=%s v4=%d v6=%d" % (digest or "none", input_digest or "-", counts["v4"], counts["v6"])


def parse_stamp(text):
    """Fields of a stamp; {} when there is none."""
    fields = {}
    for word in text.split():
        key, sep, value = word.partition("=")
        if sep:
            fields[key] = value
    return fields if "sha256" in fields else {}


def _elements(name, family_type, lines):
    head = "\tset %s {\n\t\ttype %s\n\t\tflags interval\n" % (name, family_type)
    if not lines:
        return head + "\t}\n"
    return head + "\t\telements = {\n\t\t\t" + ",\n\t\t\t".join(lines) + "\n\t\t}\n\t}\n"


def render_table(table, lists, stamp, sample=None):
    """The nft script: ensure, delete and recreate the table in one transaction.

    sample limits the elements per set, for the cheap `nft -c` probe of the same script.
    """
    if lists.is_empty():
        return "%s%s\ntable inet %s\ndelete table inet %s\n" % (_HEADER, stamp, table, table)
    parts = [
        "%s%s\n" % (_HEADER, stamp),
        "table inet %s\ndelete table inet %s\n" % (table, table),
        # The kernel keeps the set digest and counts; the input digest lives in the persisted header only.
        "table inet %s {\n\tcomment \"%s%s\"\n" % (table, COMMENT_TAG, " ".join(
            word for word in stamp.split() if not word.startswith("input="))),
        _elements("v4", "ipv4_addr", lists.lines(V4)[:sample]),
        _elements("v6", "ipv6_addr", lists.lines(V6)[:sample]),
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
    """From `nft -t list ruleset` output: (present, stamp fields, {family: counters})."""
    start = ruleset_text.find("table inet %s {" % table)
    if start < 0:
        return False, {}, {}
    end = ruleset_text.find("\n}", start)
    block = ruleset_text[start:end if end >= 0 else len(ruleset_text)]
    stamp = {}
    at = block.find('comment "' + COMMENT_TAG)
    if at >= 0:
        value_at = at + len('comment "' + COMMENT_TAG)
        stamp = parse_stamp(block[value_at:block.find('"', value_at)])
    counters = {}
    for packets, nbytes, fam in _COUNTER_RE.findall(block):
        counters[fam] = {"packets": int(packets), "bytes": int(nbytes)}
    return True, stamp, counters


def persisted_stamp(state_dir):
    """Stamp in the first line of the persisted script; {} if missing or unreadable."""
    try:
        with open(os.path.join(state_dir, NFT_FILE), "r") as handle:
            first = handle.readline().strip()
    except (IOError, OSError):
        return {}
    return parse_stamp(first[len(_HEADER):]) if first.startswith(_HEADER) else {}


def write_atomic(path, data, mode=0o644):
    """Replace path with data (text or bytes) in one rename, creating its directory when missing."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _counts(stamp):
    return {"v4": int(stamp.get("v4", 0)), "v6": int(stamp.get("v6", 0))}


class Enforcer(object):
    """Plans and applies the table; run(args) returns (rc, stdout, stderr) like module.run_command.

    validate: "sample" checks the script with `nft -c -f` using SAMPLE elements per set (the full load
    is itself one transaction the kernel commits whole or not at all); "full" checks every element
    (doubles the apply time); "none" skips the check.
    """

    def __init__(self, run, nft, table, state_dir, validate="sample"):
        self.run = run
        self.nft = nft
        self.table = table
        self.state_dir = state_dir
        self.validate = validate
        self._loaded = None

    def _nft(self, *args):
        rc, out, err = self.run([self.nft] + list(args))
        if rc != 0:
            raise NftError("%s %s failed (rc=%s): %s" % (self.nft, " ".join(args), rc, (err or out).strip()))
        return out

    def loaded(self):
        """(present, stamp, counters) of the table in the kernel, read once without set elements."""
        if self._loaded is None:
            if self.nft is None:  # check mode before nftables is installed: nothing can be loaded
                return False, {}, {}
            self._loaded = parse_loaded(self._nft("-t", "list", "ruleset"), self.table)
        return self._loaded

    def _old_lines(self):
        try:
            with open(os.path.join(self.state_dir, LIST_FILE), "r") as handle:
                return [line.strip() for line in handle if line.strip() and not line.startswith("#")]
        except (IOError, OSError):
            return []

    def unchanged_input(self, input_digest):
        """Result for an input identical to what is loaded and persisted, without parsing it; else None."""
        present, stamp, counters = self.loaded()
        persisted = persisted_stamp(self.state_dir)
        if not input_digest or persisted.get("input") != input_digest:
            return None
        if persisted["sha256"] == "none":
            if present:
                return None
        elif stamp.get("sha256") != persisted["sha256"] or not os.path.exists(os.path.join(self.state_dir, LIST_FILE)):
            return None
        digest = None if persisted["sha256"] == "none" else persisted["sha256"]
        return {"changed": False, "load": False, "persist": False, "digest": digest, "counts": _counts(persisted),
                "counters": counters, "added": 0, "removed": 0}

    def plan(self, lists, input_digest=None, count_changes=True):
        """What would change: a dict safe to return from a module, without touching anything.

        count_changes compares with the persisted list line by line (about 0.1 s per 100k entries);
        the module asks for it in check mode, where the counts are the answer.
        """
        digest = table_digest(self.table, lists)
        stamp = make_stamp(digest, input_digest, lists)
        present, loaded, counters = self.loaded()
        persisted = persisted_stamp(self.state_dir)
        load = present if digest is None else loaded.get("sha256") != digest
        persist = (persisted.get("sha256") != (digest or "none") or persisted.get("input") != (input_digest or "-")
                   or (digest is not None and not os.path.exists(os.path.join(self.state_dir, LIST_FILE))))
        result = {
            "digest": digest,
            "stamp": stamp,
            "counts": lists.counts(),
            "counters": counters,
            "load": bool(load),
            "persist": bool(persist),
            "changed": bool(load or persist),
        }
        if not count_changes:
            result["added"] = result["removed"] = None
        elif load or persist:
            result["added"], result["removed"] = diff_counts(self._old_lines(), lists.lines(V4) + lists.lines(V6))
        else:
            result["added"] = result["removed"] = 0
        return result

    def apply(self, lists, plan):
        """Check, load in one transaction, then persist; nothing is persisted if nft refuses."""
        if not (plan["load"] or plan["persist"]):
            return plan
        if not os.path.isdir(self.state_dir):
            os.makedirs(self.state_dir, 0o755)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".nft", dir=self.state_dir)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(render_table(self.table, lists, plan["stamp"]))
            if self.validate == "full":
                self._nft("-c", "-f", tmp)
            elif self.validate == "sample":
                probe = tmp + ".probe"
                try:
                    write_atomic(probe, render_table(self.table, lists, plan["stamp"], SAMPLE))
                    self._nft("-c", "-f", probe)
                finally:
                    if os.path.exists(probe):
                        os.unlink(probe)
            if plan["load"]:
                self._nft("-f", tmp)
            os.chmod(tmp, 0o644)
            write_atomic(os.path.join(self.state_dir, LIST_FILE), lists.render())
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
