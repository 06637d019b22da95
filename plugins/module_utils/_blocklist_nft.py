# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Blocklist enforcement: render, check, load and persist one nftables table.

Each source has its own sets, named counter and drop rules per family, so the counters say which list
stopped what. A first load (or a large change) replaces the whole table in one `nft -f` transaction
(create, delete, recreate); a small change adds the new elements and rewrites a small exempt set that
holds what the list dropped, also in one transaction, and falls back to the full replace when that is
refused. Either way the old rules stay in force until the commit and a failure changes nothing.
Whether anything changed is decided from a digest kept in the comment of the one rule in the `state`
chain (replaceable in the same transaction as the elements, unlike a table comment; read with
`nft -t list ruleset`, which never reads set elements back) and in the first line of the persisted
file, never by listing the sets.
Standard library only (runs on the target).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import re
import tempfile

from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist import (
    V4, V6, diff_counts, format_range, merge, parse_entry, section_name, subtract,
)

COMMENT_TAG = "quietnode-blocklist "
NFT_FILE = "blocklist.nft"
LIST_FILE = "blocklist.list"
_HEADER = "# " + COMMENT_TAG
# First line of the persisted list: the digest it was loaded with, so a partial update diffs against the right list.
_LIST_STATE = "# loaded "
_LIST_SET = "# set "
_COUNTER_RE = re.compile(r'\n\tcounter (s_[0-9a-f]+_v(4|6)) \{\s*comment "([^"]*)"\s*packets (\d+) bytes (\d+)')
STATE_CHAIN = "state"
# A partial update may write (added plus exempt elements) at most this share of the elements; more replaces the table.
PARTIAL_MAX_SHARE = 0.2
# Suffix of each set's exempt set: entries the set still holds but the list no longer has. nft (1.0.6 and
# 1.1.3) reads every interval set in the ruleset back from the kernel for any `add/delete element`
# command (0.4 s at 60k intervals), so a partial update never deletes: it declares additions and
# flushes and re-declares the small exempt set, neither of which reads elements back.
EXEMPT = "x"
_FAMILY = {V4: ("ip", "ipv4_addr"), V6: ("ip6", "ipv6_addr")}
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


def counter_name(source, family):
    """Counter of one source's family: stable across runs and list order, valid in nft."""
    return "s_%s_v%d" % (hashlib.sha256(section_name(source).encode("utf-8")).hexdigest()[:12], family)


def set_name(source, family, network):
    """Single addresses go to a hash set (element changes are cheap), networks and ranges to an interval set."""
    return counter_name(source, family) + ("n" if network else "a")


def _comment(source, family):
    # nft limits comments to 128 bytes; the counter name is the exact key, the comment is for people.
    text = "%s (IPv%d)" % (section_name(source), family)
    return text if len(text.encode("utf-8")) <= 128 else text.encode("utf-8")[:125].decode("utf-8", "ignore") + "..."


class Set(object):
    __slots__ = ("name", "exempt", "counter", "family", "network", "source", "lines")

    def __init__(self, source, family, network, lines):
        self.name = set_name(source, family, network)
        self.exempt = self.name + EXEMPT
        self.counter = counter_name(source, family)
        self.family = family
        self.network = network
        self.source = source
        self.lines = lines


def layout(lists):
    """Every non-empty Set, in rule order (per source and family: addresses, then networks); computed once per lists."""
    cached = getattr(lists, "_nft_layout", None)
    if cached is not None:
        return cached
    out = []
    for source, group in lists.groups:
        for family in (V4, V6):
            lines = group.lines(family)
            networks = [line for line in lines if "/" in line or "-" in line]
            addresses = [line for line in lines if not ("/" in line or "-" in line)] if networks else lines
            out.extend(Set(source, family, network, items) for network, items in ((False, addresses), (True, networks)) if items)
    lists._nft_layout = out
    return out


def _contents(item, state):
    """(elements of the set, elements of its exempt set): the list itself unless a partial update left a state."""
    if state is None:
        return item.lines, []
    return state[item.name], state[item.exempt]


def render_list(lists, digest, state=None, held=None):
    """The persisted list: the digest (and held= mark of a partial update) it was loaded with, then each set's
    and exempt set's lines under its name."""
    parts = ["%ssha256=%s%s\n" % (_LIST_STATE, digest or "none", " held=%s" % held if held else "")]
    for item in layout(lists):
        held, exempt = _contents(item, state)
        parts.append("%s%s\n%s\n%s%s\n%s\n" % (_LIST_SET, item.name, "\n".join(held), _LIST_SET, item.exempt, "\n".join(exempt)))
    return "".join(parts)


def _state_rule(stamp):
    # The kernel keeps the set digest and counts; the input digest lives in the persisted header only.
    return 'return comment "%s%s"' % (COMMENT_TAG, " ".join(word for word in stamp.split() if not word.startswith("input=")))


def _set_block(item, name, lines, sample):
    head = "\tset %s {\n\t\ttype %s\n%s" % (name, _FAMILY[item.family][1], "\t\tflags interval\n" if item.network else "")
    if not lines:
        return head + "\t}\n"
    return head + "\t\telements = {\n\t\t\t" + ",\n\t\t\t".join(lines[:sample]) + "\n\t\t}\n\t}\n"


def render_table(table, lists, stamp, sample=None, state=None):
    """The nft script: ensure, delete and recreate the table in one transaction.

    sample limits the elements per set, for the cheap `nft -c` probe of the same script; state (from a
    partial update) gives what each set and exempt set holds, so the boot script loads what the kernel has.
    """
    if lists.is_empty():
        return "%s%s\ntable inet %s\ndelete table inet %s\n" % (_HEADER, stamp, table, table)
    sets = layout(lists)
    parts = [
        "%s%s\n" % (_HEADER, stamp),
        "table inet %s\ndelete table inet %s\n" % (table, table),
        "table inet %s {\n\tcomment \"quietnode blocklist\"\n" % table,
    ]
    counters = []
    for item in sets:
        if item.counter not in counters:
            counters.append(item.counter)
            parts.append("\tcounter %s {\n\t\tcomment \"%s\"\n\t}\n" % (item.counter, _comment(item.source, item.family)))
        held, exempt = _contents(item, state)
        parts.append(_set_block(item, item.name, held, sample))
        parts.append(_set_block(item, item.exempt, exempt, sample))
    parts.append("\tchain %s {\n\t\t%s\n\t}\n" % (STATE_CHAIN, _state_rule(stamp)))
    # raw (-300) runs before connection tracking (-200): blocked packets never create state.
    parts.append("\tchain prerouting {\n\t\ttype filter hook prerouting priority raw; policy accept;\n\t\tiif \"lo\" accept\n")
    for item in sets:
        parts.append("\t\t%s saddr @%s %s saddr != @%s counter name \"%s\" drop comment \"%s\"\n" % (
            _FAMILY[item.family][0], item.name, _FAMILY[item.family][0], item.exempt, item.counter,
            _comment(item.source, item.family)))
    parts.append("\t}\n}\n")
    return "".join(parts)


def _declare(table, item, name, lines):
    # Elements added through a set declaration: nft then skips reading every interval set back from the
    # kernel, which an `add element` command costs.
    return "add set inet %s %s { type %s;%s elements = { %s }; }\n" % (
        table, name, _FAMILY[item.family][1], " flags interval;" if item.network else "", ", ".join(lines))


def render_delta(table, stamp, changes):
    """The nft script of a partial update: the new digest, then per set its additions and new exempt set, one transaction.

    changes: [(Set, lines to add, exempt lines or None when the exempt set stays as it is)]. Nothing is
    deleted from a set: what the list dropped goes to the set's exempt set, which is flushed and declared again.
    """
    parts = ["%s%s\n" % (_HEADER, stamp),
             "flush chain inet %s %s\n" % (table, STATE_CHAIN),
             "add rule inet %s %s %s\n" % (table, STATE_CHAIN, _state_rule(stamp))]
    for item, add, exempt in changes:
        if exempt is not None:
            parts.append("flush set inet %s %s\n" % (table, item.exempt))
            if exempt:
                parts.append(_declare(table, item, item.exempt, exempt))
        if add:
            parts.append(_declare(table, item, item.name, add))
    return "".join(parts)


def _ranges(lines):
    return sorted(parse_entry(line)[1:] for line in lines)


def set_delta(item, held, exempt, target):
    """(additions, new exempt lines, entries added, entries removed) that make a set holding `held` with the
    exempt set `exempt` enforce exactly `target`.

    The set only grows; whatever it holds that target does not cover is exempt. Hash sets compare lines;
    interval sets compare ranges, because a range that grows or shrinks is a different line. The counts
    compare the lines enforced before (held but not exempt) with target.
    """
    if not exempt and held == target:
        return [], [], 0, 0
    held_set = set(held)
    target_set = set(target)
    gone = held_set - target_set
    new = target_set - held_set
    exempt_set = set(exempt)
    back = len(exempt_set & target_set)
    counts = (len(new) + back, max(0, len(gone) - len(exempt_set) + back))
    if not item.network or not gone:
        return sorted(new), sorted(gone), counts[0], counts[1]
    # Elements a set holds are disjoint, and so are the target's: only the changed lines need parsing.
    gone_ranges = _ranges(gone)
    new_ranges = _ranges(new)
    adds = [format_range(item.family, s, e) for s, e in subtract(new_ranges, merge(gone_ranges))]
    return adds, [format_range(item.family, s, e) for s, e in subtract(gone_ranges, merge(new_ranges))], counts[0], counts[1]


def parse_loaded(ruleset_text, table):
    """From `nft -t list ruleset` output: (present, stamp fields, counters).

    counters: {"v4": {packets, bytes}, "v6": ..., "sources": {source comment: {"v4": {packets, bytes}}}}, the family
    totals summed over the per-source named counters.
    """
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
    for _name, fam, comment, packets, nbytes in _COUNTER_RE.findall(block):
        key = "v" + fam
        total = counters.setdefault(key, {"packets": 0, "bytes": 0})
        total["packets"] += int(packets)
        total["bytes"] += int(nbytes)
        source = re.sub(r" \(IPv[46]\)$", "", comment)
        counters.setdefault("sources", {}).setdefault(source, {})[key] = {"packets": int(packets), "bytes": int(nbytes)}
    return True, stamp, counters


def read_sections(path):
    """(digest, {set name: list of lines}, held mark or None) of a persisted list; (None, None, None) when it is
    missing or unreadable."""
    try:
        with open(path, "r") as handle:
            text = handle.read()
    except (IOError, OSError):
        return None, None, None
    head, _sep, rest = text.partition("\n")
    if not head.startswith(_LIST_STATE):
        return None, None, None  # written before per-source sets: no layout to diff against
    out = {}
    for chunk in rest.split(_LIST_SET)[1:]:
        name, _sep, body = chunk.partition("\n")
        out[name] = [line for line in body.split("\n") if line]
    fields = parse_stamp(head[len(_LIST_STATE):])
    return fields.get("sha256"), out, fields.get("held")


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
        self._changes = None

    def _nft(self, *args):
        rc, out, err = self.run([self.nft] + list(args))
        if rc != 0:
            raise NftError("%s %s failed (rc=%s): %s" % (self.nft, " ".join(args), rc, (err or out).strip()))
        return out

    def loaded(self):
        """(present, stamp, counters) of the table in the kernel, read once without set elements."""
        if self._loaded is None:
            if self.nft is None:  # nftables not installed (yet): nothing can be loaded
                return False, {}, {}
            self._loaded = parse_loaded(self._nft("-t", "list", "ruleset"), self.table)
        return self._loaded

    def _old_lines(self):
        """Entries the persisted list enforces: each set's lines that its exempt set does not hold."""
        path = os.path.join(self.state_dir, LIST_FILE)
        sections = read_sections(path)[1]
        if sections is not None:
            return [line for name, lines in sections.items() if not name.endswith(EXEMPT)
                    for line in set(lines) - set(sections.get(name + EXEMPT, ()))]
        try:
            with open(path, "r") as handle:
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

    def _held(self, lists, loaded):
        """What each set and exempt set holds per the persisted list, and the list's held= mark, when the kernel
        holds exactly that list (same digest and mark) with the same sets; (None, None) otherwise."""
        if not loaded.get("sha256"):
            return None, None
        digest, old, held = read_sections(os.path.join(self.state_dir, LIST_FILE))
        if old is None or digest != loaded["sha256"] or held != loaded.get("held"):
            return None, None
        if set(old) != set(name for item in layout(lists) for name in (item.name, item.exempt)):
            return None, None
        return old, held

    def _partial_changes(self, lists, loaded, persisted):
        """(changes, state, held, added, removed) when the kernel holds the persisted list with the same sets and
        the change is small; None when only a full replace is safe (state unknown, sets added or removed, large diff).

        changes as render_delta takes them; state what each set and exempt set then holds; held a new mark for it.
        """
        if loaded.get("sha256") != persisted.get("sha256"):
            return None
        old, held = self._held(lists, loaded)
        if old is None:
            return None
        sets = layout(lists)
        changes = []
        state = {}
        added = removed = 0
        budget = PARTIAL_MAX_SHARE * sum(len(item.lines) for item in sets)
        mark = hashlib.sha256((held or "full").encode("ascii"))
        for item in sets:
            kept, exempt = old[item.name], old[item.exempt]
            add, now_exempt, plus, minus = set_delta(item, kept, exempt, item.lines)
            # Exempt entries stay in the kernel until the next full replace, so they count against the budget too.
            budget -= len(add) + len(now_exempt)
            if budget < 0:
                return None
            exempt_changed = set(now_exempt) != set(exempt)
            state[item.name] = kept + add if add else kept
            state[item.exempt] = now_exempt
            added += plus
            removed += minus
            if add or exempt_changed:
                changes.append((item, add, now_exempt if exempt_changed else None))
                mark.update(("\0%s\0%s\0%s" % (item.name, ",".join(add), ",".join(now_exempt))).encode("ascii"))
        return changes, state, mark.hexdigest()[:8], added, removed

    def plan(self, lists, input_digest=None, count_changes=True):
        """What would change: a dict safe to return from a module, without touching anything.

        method says how the kernel would be updated: "partial" (changed elements only) or "replace".
        count_changes compares with the persisted list line by line (about 0.1 s per 100k entries);
        the module asks for it in check mode, where the counts are the answer. A partial update knows
        its counts anyway.
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
            "method": None,
        }
        self._changes = None
        if load:
            self._changes = self._partial_changes(lists, loaded, persisted) if digest is not None and present else None
            result["method"] = "replace" if self._changes is None else "partial"
        if self._changes is not None:
            result["added"], result["removed"] = self._changes[3:]
        elif not count_changes:
            result["added"] = result["removed"] = None
        elif load or persist:
            new_lines = [line for item in layout(lists) for line in item.lines]
            result["added"], result["removed"] = diff_counts(self._old_lines(), new_lines)
        else:
            result["added"] = result["removed"] = 0
        return result

    def _check(self, lists, stamp, tmp):
        if self.validate == "full":
            self._nft("-c", "-f", tmp)
        elif self.validate == "sample":
            probe = tmp + ".probe"
            try:
                write_atomic(probe, render_table(self.table, lists, stamp, SAMPLE))
                self._nft("-c", "-f", probe)
            finally:
                if os.path.exists(probe):
                    os.unlink(probe)

    def apply(self, lists, plan):
        """Load in one transaction (partial, or checked full replace), then persist; nothing is persisted if nft refuses.

        A refused partial update (the kernel set is not what the persisted list says) falls back to the full replace.
        The persisted list and boot script hold what the kernel then holds, exempt sets included.
        """
        if not (plan["load"] or plan["persist"]):
            return plan
        if not os.path.isdir(self.state_dir):
            os.makedirs(self.state_dir, 0o755)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".nft", dir=self.state_dir)
        try:
            os.close(fd)
            if plan["load"] and plan.get("method") == "partial" and self._changes is None:
                # Planned by another Enforcer: diff again rather than trust a plan without its changes.
                self._changes = self._partial_changes(lists, self.loaded()[1], persisted_stamp(self.state_dir))
                if self._changes is None:
                    plan["method"] = "replace"
            state = held = None
            if plan["load"] and plan.get("method") == "partial":
                _changes, state, held = self._changes[:3]
                plan["stamp"] = "%s held=%s" % (plan["stamp"], held)
                write_atomic(tmp, render_delta(self.table, plan["stamp"], _changes))
                try:
                    self._nft("-f", tmp)
                except NftError as exc:
                    plan.update(method="replace", partial_refused=str(exc).splitlines()[0], stamp=plan["stamp"].rsplit(" ", 1)[0])
                    state = held = None
            elif not plan["load"] and plan["digest"] is not None:
                # Only the persisted files change: keep what the kernel's sets and exempt sets hold.
                state, held = self._held(lists, self.loaded()[1])
                if held:
                    plan["stamp"] = "%s held=%s" % (plan["stamp"], held)
            write_atomic(tmp, render_table(self.table, lists, plan["stamp"], state=state))
            if plan["load"] and plan.get("method") != "partial":
                self._check(lists, plan["stamp"], tmp)
                self._nft("-f", tmp)
            write_atomic(os.path.join(self.state_dir, LIST_FILE), render_list(lists, plan["digest"], state, held))
            os.chmod(tmp, 0o644)
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
