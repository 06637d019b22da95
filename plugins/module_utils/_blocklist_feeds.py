# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Feeds kept fresh on the host: HTTPS download, last-good copies, sanity bounds and the daily refresh.

The module and the refresh timer's script both converge through converge() below, so one normaliser
and one input digest decide what is loaded whichever of them runs.
Standard library only (runs on the target, also outside Ansible as the refresh script).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import array
import collections
import gc
import hashlib
import json
import marshal
import os
import subprocess
import sys
import time

from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist import (
    FORMAT_VERSION, V4, V6, BlocklistError, Merged, Parsed, decode_lines, decode_text, normalise, parse_lines,
)
from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist_formats import PLAIN, detect
from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist_nft import Enforcer, NftError, write_atomic
from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist_options import (
    NORMALISE_OPTIONS, role_var,
)

CONFIG_FILE = "refresh.json"
STATE_FILE = "refresh-state.json"
STATIC_FILE = "static.list"
FEED_DIR = "feeds"
STATIC_NAME = "controller-normalised list"
BOM = b"\xef\xbb\xbf"
# The options a refresh needs to rebuild exactly what the module loaded.
CONFIG_KEYS = ("table", "state_dir", "validate", "allowlist", "cache_dir", "refresh_max_shrink",
               "refresh_max_growth", "refresh_timeout") + NORMALISE_OPTIONS


class FeedError(RuntimeError):
    """A feed could not be fetched or broke a sanity bound; the last good copy stays in force."""


def feed_path(cache_dir, url):
    return os.path.join(cache_dir, FEED_DIR, hashlib.sha256(url.encode("utf-8")).hexdigest()[:32] + ".feed")


def read_bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


def fetch(url, checksum=None, timeout=60, context=None):
    """Body of an https:// URL, certificate checked against the system trust store; FeedError on any failure."""
    if not url.startswith("https://"):
        raise FeedError("%s: the host fetches feeds over https:// only" % url)
    # Imported here: ssl and urllib take about 30 ms, which a module run that fetches nothing need not pay.
    import ssl
    from urllib.error import URLError
    from urllib.request import HTTPSHandler, Request, build_opener
    if context is None:
        context = ssl.create_default_context()
    try:
        # Outside Ansible (the timer's script), so the standard library's opener rather than open_url.
        opener = build_opener(HTTPSHandler(context=context))
        response = opener.open(Request(url, headers={"User-Agent": "quietnode-blocklist"}), timeout=timeout)
        try:
            data = response.read()
        finally:
            response.close()
    except ssl.SSLError as exc:
        raise FeedError("%s: TLS error: %s" % (url, exc))
    except URLError as exc:
        reason = getattr(exc, "code", None) or getattr(exc, "reason", exc)
        if isinstance(reason, ssl.SSLError) or "CERTIFICATE" in str(reason).upper():
            raise FeedError("%s: TLS error: %s" % (url, reason))
        raise FeedError("%s: HTTP error: %s" % (url, reason))
    except (OSError, ValueError) as exc:
        raise FeedError("%s: %s" % (url, exc))
    if checksum:
        actual = hashlib.sha256(data).hexdigest()
        expected = checksum.partition(":")[2].lower()
        if actual != expected:
            raise FeedError("%s: sha256 is %s, the pinned checksum is %s" % (url, actual, expected))
    return data


def parse_feed(feed, data, params):
    """One feed's raw data parsed and validated (Parsed), parsed once for its bounds and its sets; raises BlocklistError."""
    raw = {V4: [], V6: []}
    limits = {V4: 1, V6: 1} if feed.get("wide") else {V4: params["min_prefix_v4"], V6: params["min_prefix_v6"]}
    problems = []
    fmt = parse_lines(decode_lines(data), feed["name"], raw, params["reject_host_bits"], limits, params["allow_wide"],
                      problems, feed.get("format") or "auto")
    if problems:
        raise BlocklistError(problems)
    return Parsed(raw, fmt)


def count_entries(feed, data, params):
    """Entries per family in one feed's raw data, after its own validation; raises BlocklistError."""
    return parse_feed(feed, data, params).counts()


def counts_path(path):
    """Beside each last good copy: its SHA-256 and entry counts, so a refresh need not parse the old copy again."""
    return path + ".count"


def counts_record(data, counts):
    return ("%s %d %d\n" % (hashlib.sha256(data).hexdigest(), counts["v4"], counts["v6"])).encode("ascii")


def merged_path(path):
    """Beside each last good copy: its entries merged, so a changed feed is patched rather than parsed whole."""
    return path + ".merged"


def _merge_key(feed, params):
    # Everything a feed's entries depend on besides its bytes: a record made under other options is not used.
    return repr((FORMAT_VERSION, "byte-lines", "arrays", sys.version_info[:2], sys.byteorder, feed.get("format") or "auto",
                 bool(feed.get("wide")), params["reject_host_bits"], params["min_prefix_v4"], params["min_prefix_v6"],
                 params["allow_wide"]))


def merged_record(feed, params, data, merged):
    """The record of merged (marshal): IPv4 numbers as 64-bit arrays and texts as one string each, which read and
    write several times faster than lists of Python ints and strings. IPv6 numbers do not fit an array."""
    v4 = [(numbers if isinstance(numbers, array.array) else array.array("Q", numbers)).tobytes()
          for numbers in (merged.keys[V4], merged.starts[V4], merged.ends[V4])]
    return marshal.dumps((_merge_key(feed, params), hashlib.sha256(data).hexdigest(), v4, merged.keys[V6],
                          merged.starts[V6], merged.ends[V6], "\n".join(merged.texts[V4]), "\n".join(merged.texts[V6]),
                          merged.repeated))


def _numbers(data):
    # Kept as an array: Merged.patch slices it without making a Python int of every number.
    numbers = array.array("Q")
    numbers.frombytes(data)
    return numbers


def _texts(text):
    return text.split("\n") if text else []


def read_merged(path, feed, params, data):
    """The Merged recorded for exactly data under these options, or None."""
    try:
        record = marshal.loads(read_bytes(merged_path(path)))
        if record[:2] == (_merge_key(feed, params), hashlib.sha256(data).hexdigest()):
            v4 = [_numbers(part) for part in record[2]]
            merged = Merged({V4: v4[0], V6: record[3]}, {V4: v4[1], V6: record[4]}, {V4: v4[2], V6: record[5]},
                            {V4: _texts(record[6]), V6: _texts(record[7])})
            merged.repeated = record[8]
            return merged
    except (IOError, OSError, ValueError, EOFError, TypeError, IndexError):
        pass
    return None


def byte_lines(data):
    """Lines of raw data as bytes, split only at CR and LF (decode_lines splits at a few more), no byte order mark.
    A refresh diffs two copies of a feed on these, so it need not decode either copy whole."""
    return (data[len(BOM):] if data.startswith(BOM) else data).splitlines()


def text_lines(lines):
    """Byte lines decoded into the lines decode_lines gives for them (CR/LF are ASCII, so line by line is the same)."""
    return [text for line in lines for text in line.decode("utf-8", "replace").splitlines()]


def _plain_lines(feed, lines):
    """The distinct byte lines of a plain-format feed (where a line is at most one entry), else None."""
    fmt = feed.get("format") or "auto"
    # detect() stops after a few lines: decode them lazily.
    if fmt not in PLAIN and (fmt != "auto" or detect(text for line in lines for text in text_lines((line,))) not in PLAIN):
        return None
    return set(lines)


def _repeated(lines, distinct, candidates=None):
    """{line: count} of the lines that appear more than once. With candidates (lines that may repeat), only those
    are counted when their repeats add up to every repeat in lines; otherwise all lines are."""
    extra = len(lines) - len(distinct)
    if not extra:
        return {}
    if candidates is not None:
        found = dict((line, count) for line, count in collections.Counter(filter(candidates.__contains__, lines)).items()
                     if count > 1)
        if sum(found.values()) - len(found) == extra:
            return found
    return dict((line, count) for line, count in collections.Counter(lines).items() if count > 1)


def _changed_lines(old_counts, went, new_counts, came, before, now):
    """(lines that went, lines that came), each as often as its count changed; *_counts are _repeated(),
    went and came the distinct lines only one copy has."""
    gone = [line for line in went for _i in range(old_counts.get(line, 1))]
    new = [line for line in came for _i in range(new_counts.get(line, 1))]
    for line in set(old_counts) | set(new_counts):
        if line in before and line in now:
            change = new_counts.get(line, 1) - old_counts.get(line, 1)
            (new if change > 0 else gone).extend([line] * abs(change))
    return sorted(gone), sorted(new)


def _patch(feed, params, old, old_merged, new_lines, now):
    """The new copy as old_merged patched with the lines that went and came, or None when it cannot be (the old
    copy is not plain, its record does not hold what it says, or a changed line is bad: the whole parse names it)."""
    old_lines = byte_lines(old)
    before = _plain_lines(feed, old_lines)
    if before is None:
        return None
    old_repeated = old_merged.repeated if old_merged.repeated is not None else _repeated(old_lines, before)
    went, came = before - now, now - before
    repeated = _repeated(new_lines, now, came.union(old_repeated))
    went, came = _changed_lines(old_repeated, went, repeated, came, before, now)
    keys = {"gone": {V4: [], V6: []}, "came": {V4: [], V6: []}}
    problems = []
    limits = {V4: 1, V6: 1} if feed.get("wide") else {V4: params["min_prefix_v4"], V6: params["min_prefix_v6"]}
    parse_lines(text_lines(came), feed["name"], keys["came"], params["reject_host_bits"], limits, params["allow_wide"],
                problems, "plain")
    if not problems:
        parse_lines(text_lines(went), feed["name"], keys["gone"], False, None, True, problems, "plain")
    if problems:
        return None
    try:
        merged = old_merged.patch(keys["gone"], keys["came"])
    except ValueError:
        return None
    merged.repeated = repeated
    return merged


def merge_feed(feed, params, old, old_merged, new):
    """The new copy of a feed as Merged: patched from the old copy's record when both are plain text (only the
    lines that went and came are parsed), else parsed whole (and merged, for a plain one). Raises BlocklistError."""
    new_lines = byte_lines(new)
    now = _plain_lines(feed, new_lines)
    if old_merged is not None and now is not None:
        merged = _patch(feed, params, old, old_merged, new_lines, now)
        if merged is not None:
            return merged
    entries = parse_feed(feed, new, params)
    if now is None:
        return entries
    merged = Merged.build(entries.keys)
    merged.repeated = _repeated(new_lines, now)
    return merged


def read_counts(path, data):
    """Entry counts recorded for data (the copy at path), or None when there is no record for exactly these bytes."""
    try:
        digest, v4, v6 = read_bytes(counts_path(path)).decode("ascii").split()
        if digest == hashlib.sha256(data).hexdigest():
            return {"v4": int(v4), "v6": int(v6)}
    except (IOError, OSError, ValueError, UnicodeDecodeError):
        pass
    return None


def check_bounds(old, new, max_shrink, max_growth):
    """Why a feed's new entry count must not replace the old one, or None (counts are {v4, v6} dicts)."""
    before = old["v4"] + old["v6"] if old else 0
    after = new["v4"] + new["v6"]
    if after == 0:
        return "feed is empty"
    if before and after < before * (1 - max_shrink):
        return "shrank from %d to %d entries, more than %s allows (%d%%)" % (
            before, after, role_var("refresh_max_shrink"), round(max_shrink * 100))
    if before and after > before * (1 + max_growth):
        return "grew from %d to %d entries, more than %s allows (%d%%)" % (
            before, after, role_var("refresh_max_growth"), round(max_growth * 100))
    return None


def input_digest(params, named):
    """Digest of everything the result depends on, so an identical input skips parsing."""
    digest = hashlib.sha256()
    digest.update(repr((FORMAT_VERSION, params["table"], [(opt, params[opt]) for opt in NORMALISE_OPTIONS],
                        sorted(params["allowlist"]))).encode())
    for item in named:
        digest.update(b"\0" + repr((item[0],) + tuple(item[2:])).encode() + b"\0" + hashlib.sha256(item[1]).digest())
    return digest.hexdigest()


def converge(params, enforcer, named, trusted, check_mode=False, parsed=None):
    """Plan and (unless check_mode) apply named sources (name, bytes, format, wide) and trusted ones (name, bytes).

    parsed: {name: (bytes, Parsed)} for sources the caller parsed already; used when the bytes are the same object.
    """
    digest = input_digest(params, trusted + named)
    plan = enforcer.unchanged_input(digest)
    if plan is None:
        parsed = parsed or {}

        def lines(item):
            known = parsed.get(item[0])
            return known[1] if known is not None and known[0] is item[1] else decode_lines(item[1])
        lists = normalise([(item[0], lines(item)) + tuple(item[2:]) for item in named], params["allowlist"],
                          params["min_prefix_v4"], params["min_prefix_v6"], params["allow_wide"],
                          params["reject_host_bits"], [(name, decode_text(data)) for name, data in trusted])
        plan = enforcer.plan(lists, digest, count_changes=check_mode)
        if not check_mode:
            enforcer.apply(lists, plan)
    return plan


def feed_named(feeds, data_by_url):
    return [(feed["name"], data_by_url[feed["url"]], feed.get("format") or "auto", bool(feed.get("wide")))
            for feed in feeds]


def config_text(params, feeds, path_sources):
    config = dict((key, params[key]) for key in CONFIG_KEYS)
    config.update(version=1, feeds=feeds, sources=path_sources)
    return (json.dumps(config, indent=1, sort_keys=True) + "\n").encode("utf-8")


def _run(args):
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    out, err = proc.communicate()
    return proc.returncode, out, err


def refresh(config, enforcer, fetcher=None, now=time.time):
    """Re-fetch every feed, keep the last good copy of any that fails or breaks a bound, apply; returns the state."""
    # A refresh holds a few million ints and strings and makes no reference cycles: the collector's full passes
    # over them cost a fifth of a refresh and free nothing. Its short-lived process frees everything on exit.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _refresh(config, enforcer, fetcher or fetch, now)
    finally:
        if collecting:
            gc.enable()


def _refresh(config, enforcer, fetcher, now):
    cache_dir = config["cache_dir"]
    data_by_url = {}
    parsed = {}
    per_source = {}
    for feed in config["feeds"]:
        path = feed_path(cache_dir, feed["url"])
        try:
            old = read_bytes(path)
        except (IOError, OSError):
            old = None
        old_counts = None if old is None else read_counts(path, old)
        if old is not None and old_counts is None:
            try:
                old_counts = count_entries(feed, old, config)
            except BlocklistError:
                old = None
        try:
            new = fetcher(feed["url"], feed.get("checksum"), config["refresh_timeout"])
            if new == old:
                # Unchanged bytes were validated when they became the last good copy.
                per_source[feed["name"]] = dict(old_counts, outcome="unchanged")
                data_by_url[feed["url"]] = new
                continue
            try:
                old_merged = None if old is None else read_merged(path, feed, config, old)
                entries = merge_feed(feed, config, old, old_merged, new)
            except BlocklistError as exc:
                problem = exc.problems[0]
                raise FeedError("line %s: %s: %r" % (problem[1], problem[2], problem[3]))
            counts = entries.counts()
            reason = check_bounds(old_counts, counts, config["refresh_max_shrink"], config["refresh_max_growth"])
            if reason:
                raise FeedError(reason)
            write_atomic(path, new)
            write_atomic(counts_path(path), counts_record(new, counts))
            if isinstance(entries, Merged):
                write_atomic(merged_path(path), merged_record(feed, config, new, entries))
            elif os.path.exists(merged_path(path)):
                os.unlink(merged_path(path))
            per_source[feed["name"]] = dict(counts, outcome="updated")
            data_by_url[feed["url"]] = new
            parsed[feed["name"]] = (new, entries)
        except FeedError as exc:
            per_source[feed["name"]] = dict(old_counts or {"v4": 0, "v6": 0}, outcome="kept", reason=str(exc))
            if old is not None:
                data_by_url[feed["url"]] = old
    state = {"time": int(now()), "sources": per_source}
    missing = [feed["name"] for feed in config["feeds"] if feed["url"] not in data_by_url]
    kept = [name for name, result in per_source.items() if result["outcome"] == "kept"]
    try:
        if missing:
            raise FeedError("no good copy of %s yet" % ", ".join(missing))
        named = [(src["path"], read_bytes(src["path"]), src.get("format") or "auto") for src in config["sources"]]
        static = os.path.join(cache_dir, STATIC_FILE)
        trusted = [(STATIC_NAME, read_bytes(static))] if os.path.exists(static) else []
        plan = converge(config, enforcer, named + feed_named(config["feeds"], data_by_url), trusted, parsed=parsed)
        state.update(outcome="kept-some" if kept else "ok", applied=bool(plan.get("load")), counts=plan["counts"],
                     digest=plan["digest"], method=plan.get("method"))
    except (FeedError, BlocklistError, NftError, IOError, OSError) as exc:
        state.update(outcome="failed", applied=False, reason=str(exc).splitlines()[0])
    return state


def journal_line(state):
    """One line per refresh: outcome, then counts (and why, when kept) per source."""
    parts = ["quietnode-blocklist refresh: outcome=%s applied=%s" % (
        state["outcome"], ("yes (%s)" % state["method"] if state.get("method") else "yes") if state.get("applied") else "no")]
    if state.get("counts"):
        parts[0] += " total v4=%d v6=%d" % (state["counts"]["v4"], state["counts"]["v6"])
    if state.get("reason"):
        parts[0] += " reason=%r" % state["reason"]
    for name in sorted(state["sources"]):
        result = state["sources"][name]
        text = "%s %s v4=%d v6=%d" % (name, result["outcome"], result["v4"], result["v6"])
        if result.get("reason"):
            text += " (%s)" % result["reason"]
        parts.append(text)
    return "; ".join(parts)


def main(argv=None):
    """The refresh timer's entry point: quietnode-blocklist-refresh [CONFIG]."""
    argv = sys.argv[1:] if argv is None else argv
    config_path = argv[0] if argv else "/var/lib/quietnode/blocklist/" + CONFIG_FILE
    with open(config_path, "r") as handle:
        config = json.load(handle)
    nft = next((path for path in ("/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft") if os.path.exists(path)), "nft")
    enforcer = Enforcer(_run, nft, config["table"], config["state_dir"], config["validate"])
    state = refresh(config, enforcer)
    write_atomic(os.path.join(config["cache_dir"], STATE_FILE), (json.dumps(state, sort_keys=True) + "\n").encode("utf-8"))
    sys.stdout.write(journal_line(state) + "\n")
    sys.stdout.flush()
    # A kept feed is the bound doing its job; only a refresh that could not apply anything fails the unit.
    return 1 if state["outcome"] == "failed" else 0
