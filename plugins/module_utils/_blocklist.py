# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Blocklist normaliser: parse, validate, merge and subtract address lists.

Addresses are held as integer ranges (start, end) per family, because a sort
and one pass over integers is an order of magnitude faster and smaller than
ipaddress objects on lists of hundreds of thousands of entries.
Standard library only: this file runs on the controller and on the target.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import bisect
import hashlib
import socket

from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist_formats import (
    FORMATS, PLAIN, EntryError as _Entry, detect,
)
from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist_options import DEFAULTS, role_var

# Bumped when the output format or the semantics change, so caches keyed on it expire.
FORMAT_VERSION = "2"

V4 = 4
V6 = 6
BITS = {V4: 32, V6: 128}
_AF = {V4: socket.AF_INET, V6: socket.AF_INET6}
# Starts each source's section in a rendered list, so per-source sets survive the trip from controller to host.
SECTION = "# source: "
HEADER = "# quietnode blocklist, normalised (format %s)" % FORMAT_VERSION
_MAPPED_BASE = 0xFFFF << 32
_MAPPED_MASK = ((1 << 128) - 1) ^ ((1 << 32) - 1)
# Width limits for sources that are wide by nature (whole countries): only /0 is refused.
_WIDE_LIMITS = {V4: 1, V6: 1}
# Errors collected before giving up, so one run shows more than the first typo.
MAX_ERRORS = 20


class BlocklistError(ValueError):
    """One or more invalid entries; str() names source, line and text of each."""

    def __init__(self, problems):
        self.problems = list(problems)
        lines = ["%s:%s: %s: %r" % p for p in self.problems]
        super(BlocklistError, self).__init__(
            "invalid blocklist input (nothing was applied):\n" + "\n".join(lines))


def _parse_address(text):
    """Return (family, int) for one address, or raise _Entry."""
    if ":" in text:
        if "%" in text:
            raise _Entry("IPv6 zone identifiers are not allowed")
        try:
            packed = socket.inet_pton(socket.AF_INET6, text)
        except (OSError, ValueError):
            raise _Entry("not a valid IPv6 address")
        return V6, int.from_bytes(packed, "big")
    try:
        packed = socket.inet_pton(socket.AF_INET, text)
    except (OSError, ValueError):
        raise _Entry("not a valid IPv4 address or network")
    return V4, int.from_bytes(packed, "big")


def _unmap(family, start, end):
    """Turn IPv4-mapped IPv6 (::ffff:a.b.c.d) into IPv4; packets never carry them as IPv6 sources.

    A network shorter than /96 cannot start inside the mapped range, so it stays plain IPv6.
    """
    if family != V6 or (start & _MAPPED_MASK) != _MAPPED_BASE:
        return family, start, end
    if (end & _MAPPED_MASK) != _MAPPED_BASE:
        raise _Entry("range mixes IPv4-mapped and plain IPv6 addresses")
    return V4, start & 0xFFFFFFFF, end & 0xFFFFFFFF


def parse_entry(text, reject_host_bits=False):
    """Parse one entry (address, CIDR network or a-b range) into (family, start, end)."""
    if "/" in text:
        addr, _sep, plen = text.partition("/")
        family, value = _parse_address(addr.strip())
        plen = plen.strip()
        if not plen.isdigit() or len(plen) > 3:
            raise _Entry("prefix length is not a number")
        prefix = int(plen)
        bits = BITS[family]
        if prefix > bits:
            raise _Entry("prefix length above /%d" % bits)
        hostmask = (1 << (bits - prefix)) - 1
        if value & hostmask:
            if reject_host_bits:
                raise _Entry("network has host bits set (use %s/%d)" % (format_address(family, value & ~hostmask), prefix))
            value &= ~hostmask
        return _unmap(family, value, value | hostmask)
    if "-" in text:
        first, _sep, last = text.partition("-")
        family, start = _parse_address(first.strip())
        family2, end = _parse_address(last.strip())
        if family != family2:
            raise _Entry("range mixes IPv4 and IPv6")
        if end < start:
            raise _Entry("range ends before it starts")
        return _unmap(family, start, end)
    family, value = _parse_address(text)
    return _unmap(family, value, value)


def decode_text(data):
    """Text of a downloaded or read list, without a UTF-8 byte order mark."""
    return data.decode("utf-8-sig", "replace")


def decode_lines(data):
    """Lines of a downloaded or read list: a UTF-8 byte order mark is dropped, CRLF and LF both end a line."""
    return decode_text(data).splitlines()


def parse_lines(lines, source, out, reject_host_bits=False, min_prefix=None, allow_wide=False, problems=None,
                fmt="plain"):
    """Parse an iterable of lines into out[family], a list of sort keys (start << bits | end).

    fmt names a reader in _blocklist_formats.FORMATS ("auto" detects it from the first lines);
    min_prefix maps family to the shortest prefix accepted; None skips the width check
    (for input this module produced itself). Invalid lines are appended to problems as
    (source, line number, reason, text); a BlocklistError is raised when problems is None.
    Integer keys sort several times faster than (start, end) tuples on lists of this size.
    Returns the format used.
    """
    own_problems = problems is None
    if own_problems:
        problems = []
    if fmt == "auto":
        lines = list(lines)
        fmt = detect(lines)
    reader = None if fmt in PLAIN else FORMATS[fmt][0]
    v4 = out[V4]
    v6 = out[V6]
    pton = socket.inet_pton
    from_bytes = int.from_bytes
    af_inet = socket.AF_INET
    for lineno, line in enumerate(lines, 1):
        if reader is None:
            # Plain lines inline: this loop runs once per entry of lists with hundreds of thousands.
            cut = line.find("#")
            if cut >= 0:
                line = line[:cut]
            cut = line.find(";")
            text = (line if cut < 0 else line[:cut]).strip()
            if not text:
                continue
        else:
            try:
                text = reader(line)
            except _Entry as exc:
                problems.append((source, lineno, str(exc), line.strip()))
                if len(problems) >= MAX_ERRORS:
                    break
                continue
            if not text:
                continue
        if "/" not in text and "-" not in text and ":" not in text:
            # Most entries are single IPv4 addresses: skip the general parser for them.
            try:
                value = from_bytes(pton(af_inet, text), "big")
                v4.append(value << 32 | value)
                continue
            except (OSError, ValueError):
                pass
        try:
            family, start, end = parse_entry(text, reject_host_bits)
            if min_prefix is not None:
                _check_width(family, start, end, min_prefix, allow_wide)
        except _Entry as exc:
            problems.append((source, lineno, str(exc), text))
            if len(problems) >= MAX_ERRORS:
                break
            continue
        if family == V4:
            v4.append(start << 32 | end)
        else:
            v6.append(start << 128 | end)
    if own_problems and problems:
        raise BlocklistError(problems)
    return fmt


class Parsed(object):
    """One source parsed and validated already (sort keys per family, as parse_lines makes them), so a caller that
    had to parse it to check it hands normalise() the keys instead of the lines."""
    __slots__ = ("keys", "fmt")

    def __init__(self, keys, fmt):
        self.keys = keys
        self.fmt = fmt

    def counts(self):
        return {"v4": len(self.keys[V4]), "v6": len(self.keys[V6])}


class Merged(object):
    """One source's entries kept for the next change of it, per family: keys (sorted sort keys, one per distinct
    entry line) and the merged ranges as parallel lists of starts and ends, with their text. patch() turns it into
    the next version from the keys of the lines that went and came, re-merging only the ranges those touch.
    repeated: {line: count} of the lines the source repeats, when the caller knows them. Starts and ends rather
    than (start, end) tuples: a refresh reads and writes them as flat arrays, and never needs the tuples."""
    __slots__ = ("keys", "starts", "ends", "texts", "repeated", "_ranges")

    def __init__(self, keys, starts, ends, texts):
        self.keys = keys
        self.starts = starts
        self.ends = ends
        self.texts = texts
        self.repeated = None
        self._ranges = None

    @classmethod
    def build(cls, keys):
        keys = dict((fam, sorted(keys[fam])) for fam in (V4, V6))
        ranges = dict((fam, merge_keys(list(keys[fam]), BITS[fam])) for fam in (V4, V6))
        return cls(keys, dict((fam, [start for start, _end in ranges[fam]]) for fam in (V4, V6)),
                   dict((fam, [end for _start, end in ranges[fam]]) for fam in (V4, V6)),
                   dict((fam, [format_range(fam, s, e) for s, e in ranges[fam]]) for fam in (V4, V6)))

    @property
    def ranges(self):
        """(start, end) tuples per family, built when first asked for (an allowlist to subtract, or a merge)."""
        if self._ranges is None:
            self._ranges = dict((fam, list(zip(self.starts[fam], self.ends[fam]))) for fam in (V4, V6))
        return self._ranges

    def counts(self):
        return {"v4": len(self.keys[V4]), "v6": len(self.keys[V6])}

    def patch(self, gone, came):
        """The Merged after removing the keys `gone` (each once; they must be held) and adding `came`, per family."""
        keys, starts, ends, texts = {}, {}, {}, {}
        for fam in (V4, V6):
            keys[fam], starts[fam], ends[fam], texts[fam] = _patch_family(
                fam, self.keys[fam], self.starts[fam], self.ends[fam], self.texts[fam], gone[fam], came[fam])
        return Merged(keys, starts, ends, texts)


def _patch_family(fam, keys, starts, ends, texts, gone, came):
    bits = BITS[fam]
    mask = (1 << bits) - 1
    if not gone and not came:
        return keys, starts, ends, texts
    # Remove one copy of each gone key, then put each new one in its place, a slice at a time: keys, starts and ends
    # are lists or (IPv4 read from a record) arrays, and for an array each slice is one copy of memory.
    cut = []
    for key in sorted(gone):
        at = bisect.bisect_left(keys, key, cut[-1] + 1 if cut and keys[cut[-1]] == key else 0)
        if at >= len(keys) or keys[at] != key:
            raise ValueError("key not held")
        cut.append(at)
    kept_keys = keys[:0]
    last = 0
    for at in cut:
        kept_keys.extend(keys[last:at])
        last = at + 1
    kept_keys.extend(keys[last:])
    new_keys = kept_keys[:0]
    last = 0
    for key in sorted(came):
        at = bisect.bisect_left(kept_keys, key, last)
        new_keys.extend(kept_keys[last:at])
        new_keys.append(key)
        last = at
    new_keys.extend(kept_keys[last:])
    # Merged ranges touched by a changed key, or adjacent to one, are recomputed with every range a new key covers.
    # Ranges are disjoint and sorted, so their ends are sorted the same way as their starts.
    dirty = set()
    for key in list(gone) + list(came):
        low, high = (key >> bits) - 1, (key & mask) + 1
        first = bisect.bisect_left(starts, low)
        if first and ends[first - 1] >= low:
            first -= 1
        dirty.update(range(first, bisect.bisect_left(starts, high + 1)))
    regions = merge([(starts[i], ends[i]) for i in dirty] + [(key >> bits, key & mask) for key in came])
    # Every key in a region lies inside it and regions are neither overlapping nor adjacent: one merge for all.
    region_keys = []
    for low, high in regions:
        region_keys.extend(new_keys[bisect.bisect_left(new_keys, low << bits):bisect.bisect_left(new_keys, (high + 1) << bits)])
    rebuilt = merge_keys(region_keys, bits)
    # The untouched ranges, copied a run at a time, with the rebuilt ones put in their places.
    kept_starts, kept_ends, kept_texts = starts[:0], ends[:0], []
    last = 0
    for i in sorted(dirty) + [len(starts)]:
        kept_starts.extend(starts[last:i])
        kept_ends.extend(ends[last:i])
        kept_texts.extend(texts[last:i])
        last = i + 1
    out_starts, out_ends, out_texts = starts[:0], ends[:0], []
    last = 0
    for start, end in rebuilt:
        at = bisect.bisect_left(kept_starts, start, last)
        out_starts.extend(kept_starts[last:at])
        out_ends.extend(kept_ends[last:at])
        out_texts.extend(kept_texts[last:at])
        out_starts.append(start)
        out_ends.append(end)
        out_texts.append(format_range(fam, start, end))
        last = at
    out_starts.extend(kept_starts[last:])
    out_ends.extend(kept_ends[last:])
    out_texts.extend(kept_texts[last:])
    return new_keys, out_starts, out_ends, out_texts


def _check_width(family, start, end, min_prefix, allow_wide):
    """Refuse entries wider than the configured prefix limit (and /0) unless allowed."""
    if allow_wide:
        return
    bits = BITS[family]
    size = end - start + 1
    if size >= (1 << bits):
        raise _Entry("entry covers every IPv%d address (/0); set %s: true to block it" % (family, role_var("allow_wide")))
    limit = min_prefix[family]
    if size > (1 << (bits - limit)):
        raise _Entry("entry is wider than /%d (the %s limit); set %s: true to block it" % (
            limit, role_var("min_prefix_v%d" % family), role_var("allow_wide")))


def merge_keys(keys, bits):
    """Sort keys (start << bits | end) and merge overlapping or adjacent ranges in one pass."""
    keys.sort()
    mask = (1 << bits) - 1
    starts = []
    ends = []
    last_end = -2
    for key in keys:
        start = key >> bits
        if start <= last_end + 1:
            end = key & mask
            if end > last_end:
                ends[-1] = end
                last_end = end
        else:
            last_end = key & mask
            starts.append(start)
            ends.append(last_end)
    return list(zip(starts, ends))


def merge(ranges):
    """Merge (start, end) tuples; ranges beyond 128 bits are not expected."""
    return merge_keys([start << 128 | end for start, end in ranges], 128)


def subtract(ranges, holes):
    """Remove merged, sorted holes from merged, sorted ranges; both lists of (start, end)."""
    if not holes:
        return ranges
    out = []
    hole_idx = 0
    nholes = len(holes)
    for start, end in ranges:
        while hole_idx < nholes and holes[hole_idx][1] < start:
            hole_idx += 1
        idx = hole_idx
        while idx < nholes and holes[idx][0] <= end:
            hole_start, hole_end = holes[idx]
            if hole_start > start:
                out.append((start, hole_start - 1))
            start = hole_end + 1
            if start > end:
                break
            idx += 1
        if start <= end:
            out.append((start, end))
    return out


def range_to_cidrs(start, end, bits):
    """Yield (network, prefix) pairs that exactly cover start..end, fewest first-fit blocks."""
    while start <= end:
        size = (start & -start) if start else (1 << bits)
        remaining = end - start + 1
        while size > remaining:
            size >>= 1
        yield start, bits - size.bit_length() + 1
        start += size


def format_address(family, value):
    """Render an integer address in its family's canonical text form."""
    return socket.inet_ntop(_AF[family], value.to_bytes(BITS[family] // 8, "big"))


def format_range(family, start, end):
    """Render a range as an address, a CIDR network when it is exactly one, or a-b."""
    if start == end:
        return format_address(family, start)
    size = end - start + 1
    if size & (size - 1) == 0 and start & (size - 1) == 0:
        return "%s/%d" % (format_address(family, start), BITS[family] - size.bit_length() + 1)
    return "%s-%s" % (format_address(family, start), format_address(family, end))


def count_networks(family, ranges):
    """Number of CIDR networks the ranges collapse to (what collapse_addresses would return)."""
    bits = BITS[family]
    return sum(sum(1 for _net in range_to_cidrs(s, e, bits)) for s, e in ranges)


class Lists(object):
    """Normalised per-family ranges, merged and with the allowlist removed.

    Built from ranges, or from the text lines of a list this code rendered or of a Merged (ranges are then
    parsed or taken from it only when asked for: loading and diffing need the text alone).
    """

    def __init__(self, v4=None, v6=None, lines=None, merged=None):
        self._ranges = None if v4 is None and v6 is None and lines else {V4: v4 or [], V6: v6 or []}
        self._lines = dict(lines or {})
        self._merged = merged

    @property
    def ranges(self):
        if self._ranges is None and self._merged is not None:
            self._ranges = self._merged.ranges
        if self._ranges is None:
            parsed = _parse_rendered(self._lines[V4] + self._lines[V6], "-")
            if parsed is None:
                raise BlocklistError([("normalised list", 0, "not in the form this module renders", "")])
            self._ranges = dict((fam, parsed[0][1][fam][0] if parsed else []) for fam in (V4, V6))
        return self._ranges

    def lines(self, family):
        """Text entries of one family, rendered once."""
        if family not in self._lines:
            self._lines[family] = [format_range(family, s, e) for s, e in self.ranges[family]]
        return self._lines[family]

    def render(self):
        """Text form: one entry per line, IPv4 first; parses back to the same ranges."""
        out = ["# quietnode blocklist, normalised (format %s)" % FORMAT_VERSION]
        out.extend(self.lines(V4))
        out.extend(self.lines(V6))
        return "\n".join(out) + "\n"

    def digest(self, salt=""):
        """SHA-256 of the canonical text of the entries (what nft is given)."""
        hasher = hashlib.sha256(("format=%s %s\n" % (FORMAT_VERSION, salt)).encode("ascii"))
        for family in (V4, V6):
            hasher.update(("v%d\n%s\n" % (family, "\n".join(self.lines(family)))).encode("ascii"))
        return hasher.hexdigest()

    def counts(self):
        return {"v4": len(self.lines(V4)), "v6": len(self.lines(V6))}

    def is_empty(self):
        return not (self.lines(V4) or self.lines(V6))


def _split_rendered(lines):
    """Sections of a list rendered in this format, as text only: [(name, {family: lines})], or None.

    Used when no allowlist is subtracted: the text is loaded as it is, so nothing needs parsing.
    """
    lines = [line for line in lines if line]
    if not lines or lines[0] != HEADER or len(lines) < 2 or not lines[1].startswith(SECTION):
        return None
    starts = [index for index, line in enumerate(lines) if line[0] == "#"] + [len(lines)]
    groups = []
    for at, end in zip(starts, starts[1:]):
        if lines[at].startswith(SECTION):
            chunk = lines[at + 1:end]
            groups.append((lines[at][len(SECTION):], {V4: [line for line in chunk if ":" not in line],
                                                      V6: [line for line in chunk if ":" in line]}))
    return groups


def _first_v6(lines):
    """Index of the first IPv6 line of a section (IPv4 lines come first), or None when the lines are not in that order."""
    low, high = 0, len(lines)
    while low < high:
        mid = (low + high) // 2
        if ":" in lines[mid]:
            high = mid
        else:
            low = mid + 1
    if ":" in "\n".join(lines[:low]) or sum(1 for line in lines[low:] if ":" in line) != len(lines) - low:
        return None
    return low


def _split_text(text):
    """_split_rendered for the whole text of a list, split by str methods rather than line by line (a third of the
    time on 200k lines); None when the text is not exactly in the rendered form."""
    if not text.startswith(HEADER + "\n" + SECTION) or "\r" in text or "\n\n" in text:
        return None
    groups = []
    for chunk in text[len(HEADER):].split("\n" + SECTION)[1:]:
        name, _sep, body = chunk.partition("\n")
        if "#" in body:
            return None
        lines = body.split("\n")
        if lines[-1] == "":
            lines.pop()
        cut = _first_v6(lines)
        if cut is None:
            return None
        groups.append((name, {V4: lines[:cut], V6: lines[cut:]}))
    return groups


class Grouped(object):
    """Normalised lists per source, in first-seen order: one kernel set and counter per source and family.

    ranges, lines() and counts() describe what is enforced: the union for ranges and lines, the
    elements loaded (summed over sources) for counts.
    """

    def __init__(self, groups):
        self.groups = [(name, lists) for name, lists in groups if not lists.is_empty()]
        self._union = None

    @property
    def ranges(self):
        if self._union is None:
            if len(self.groups) == 1:
                self._union = self.groups[0][1].ranges
            else:
                self._union = dict((fam, merge_keys([s << BITS[fam] | e for _n, lists in self.groups for s, e in lists.ranges[fam]],
                                                    BITS[fam])) for fam in (V4, V6))
        return self._union

    def lines(self, family):
        if len(self.groups) == 1:
            return self.groups[0][1].lines(family)
        return [format_range(family, s, e) for s, e in self.ranges[family]]

    def render(self):
        """Text form: a section per source, IPv4 first in each; parses back to the same groups."""
        out = [HEADER]
        for name, lists in self.groups:
            out.append(SECTION + section_name(name))
            out.extend(lists.lines(V4))
            out.extend(lists.lines(V6))
        return "\n".join(out) + "\n"

    def digest(self, salt=""):
        hasher = hashlib.sha256(("format=%s %s" % (FORMAT_VERSION, salt)).encode("ascii"))
        for name, lists in self.groups:
            hasher.update(("\0%s\0%s" % (section_name(name), lists.digest())).encode("utf-8"))
        return hasher.hexdigest()

    def counts(self):
        return {"v4": sum(len(lists.lines(V4)) for _n, lists in self.groups),
                "v6": sum(len(lists.lines(V6)) for _n, lists in self.groups)}

    def is_empty(self):
        return not self.groups


def section_name(name):
    """A source name as one printable line (it is written in section headers and nft comments)."""
    return "".join(ch if ch.isprintable() and ch not in '"\\' else "_" for ch in name).strip() or "unnamed"


def _parse_rendered(lines, default_name="-"):
    """Fast path for text this module rendered (sections of sorted, disjoint, canonical entries).

    Returns [(name, {family: (ranges, texts)})], or None at the first line not in that form, so the
    caller can fall back to the full parser. Lines before any section belong to default_name.
    """
    pton = socket.inet_pton
    from_bytes = int.from_bytes
    groups = []
    out = last = None
    try:
        for line in lines:
            if not line:
                continue
            if line[0] == "#":
                if line.startswith(SECTION):
                    out = {V4: ([], []), V6: ([], [])}
                    last = {V4: -2, V6: -2}
                    groups.append((line[len(SECTION):], out))
                continue
            if out is None:
                out = {V4: ([], []), V6: ([], [])}
                last = {V4: -2, V6: -2}
                groups.append((default_name, out))
            family = V6 if ":" in line else V4
            af = _AF[family]
            if "/" in line:
                addr, plen = line.split("/")
                start = from_bytes(pton(af, addr), "big")
                hostmask = (1 << (BITS[family] - int(plen))) - 1
                if start & hostmask:
                    return None
                end = start | hostmask
            elif "-" in line:
                first, second = line.split("-")
                start = from_bytes(pton(af, first), "big")
                end = from_bytes(pton(af, second), "big")
            else:
                start = end = from_bytes(pton(af, line), "big")
            if start <= last[family] + 1 or end < start:
                return None
            last[family] = end
            ranges, texts = out[family]
            ranges.append((start, end))
            texts.append(line)
    except (OSError, ValueError):
        return None
    return groups


def _reuse_text(family, before, texts, after):
    """Text for the ranges left after subtraction: unchanged ranges keep their text, others are rendered."""
    out = []
    idx = 0
    count = len(before)
    for rng in after:
        while idx < count and before[idx][1] < rng[0]:
            idx += 1
        out.append(texts[idx] if idx < count and before[idx] == rng else format_range(family, rng[0], rng[1]))
    return out


def normalise(sources, allowlist=(), min_prefix_v4=DEFAULTS["min_prefix_v4"], min_prefix_v6=DEFAULTS["min_prefix_v6"],
              allow_wide=DEFAULTS["allow_wide"], reject_host_bits=DEFAULTS["reject_host_bits"], trusted=(), formats=None):
    """Parse, validate, merge and subtract, per source.

    sources: iterable of (name, lines) or (name, lines, format) or (name, lines, format, wide) with
    untrusted input, lines a list of text lines or a Parsed; format defaults to "auto"; a wide source (a whole country) is only refused /0,
    the others entries wider than the min_prefix limits, unless allow_wide;
    trusted: iterable of (name, lines or the whole text) this code produced before (width not re-checked; its
    sections keep their source names);
    allowlist: iterable of entry strings that must never be covered;
    formats: an optional dict that receives the format used per source name.
    Sources with the same name share one group. Raises BlocklistError naming every bad line (up to
    MAX_ERRORS); returns Grouped.
    """
    limits = {V4: min_prefix_v4, V6: min_prefix_v6}
    allow = {V4: [], V6: []}
    problems = []
    parse_lines(allowlist, "allowlist", allow, False, None, True, problems)
    holes = None
    raw = {}
    done = {}
    order = []
    premerged = {}

    def group(name):
        name = section_name(name)
        if name not in raw and name not in done:
            order.append(name)
        return raw.setdefault(name, {V4: [], V6: []})
    no_holes = not (allow[V4] or allow[V6])
    for name, lines in trusted:
        whole = lines if isinstance(lines, str) else None
        split = _split_text(whole) if whole is not None and no_holes and not problems else None
        if whole is not None:
            lines = whole.splitlines() if split is None else None
        if no_holes and not problems:
            if split is None:
                split = _split_rendered(lines)
            if split is not None and not any(section_name(section) in done or section_name(section) in raw
                                             for section, _lines in split):
                for section, texts in split:
                    order.append(section_name(section))
                    done[section_name(section)] = Lists(lines=texts)
                continue
        if lines is None:
            lines = whole.splitlines()
        rendered = _parse_rendered(lines, name) if not problems else None
        if rendered is None:
            parse_lines(lines, name, group(name), False, None, True, problems)
            continue
        # Already merged per section, so only the allowlist is subtracted (and text is reused).
        holes = holes or dict((fam, merge_keys(list(allow[fam]), BITS[fam])) for fam in (V4, V6))
        for section, per_family in rendered:
            section = section_name(section)
            if section in done or section in raw:
                target = group(section)
                for fam in (V4, V6):
                    target[fam].extend(s << BITS[fam] | e for s, e in per_family[fam][0])
                continue
            ranges = {}
            texts = {}
            for fam in (V4, V6):
                before, text = per_family[fam]
                ranges[fam] = subtract(before, holes[fam])
                texts[fam] = text if ranges[fam] is before else _reuse_text(fam, before, text, ranges[fam])
            order.append(section)
            done[section] = Lists(ranges[V4], ranges[V6], texts)
    for item in sources:
        name, lines = item[0], item[1]
        fmt = item[2] if len(item) > 2 and item[2] else "auto"
        item_limits = _WIDE_LIMITS if len(item) > 3 and item[3] else limits
        if isinstance(lines, Merged):
            group(name)
            premerged.setdefault(section_name(name), []).append(lines)
            used = fmt
        elif isinstance(lines, Parsed):
            target = group(name)
            target[V4].extend(lines.keys[V4])
            target[V6].extend(lines.keys[V6])
            used = lines.fmt
        else:
            used = parse_lines(lines, name, group(name), reject_host_bits, item_limits, allow_wide, problems, fmt)
        if formats is not None:
            formats[name] = used
    if problems:
        raise BlocklistError(problems[:MAX_ERRORS])
    holes = holes or dict((fam, merge_keys(list(allow[fam]), BITS[fam])) for fam in (V4, V6))
    for name, keys in raw.items():
        ready = premerged.get(name, ())
        if len(ready) == 1 and name not in done and not (keys[V4] or keys[V6]):
            # Merged already (a feed patched since its last copy): only the allowlist is subtracted.
            if not (holes[V4] or holes[V6]):
                done[name] = Lists(lines=ready[0].texts, merged=ready[0])
                continue
            ranges = dict((fam, subtract(ready[0].ranges[fam], holes[fam])) for fam in (V4, V6))
            done[name] = Lists(ranges[V4], ranges[V6], dict(
                (fam, ready[0].texts[fam] if ranges[fam] is ready[0].ranges[fam] else
                 _reuse_text(fam, ready[0].ranges[fam], ready[0].texts[fam], ranges[fam])) for fam in (V4, V6)))
            continue
        for merged in ready:
            for fam in (V4, V6):
                keys[fam].extend(s << BITS[fam] | e for s, e in merged.ranges[fam])
        if name in done:
            # A section seen in a trusted list and again as a source: merge both into one group.
            for fam in (V4, V6):
                keys[fam].extend(s << BITS[fam] | e for s, e in done[name].ranges[fam])
        done[name] = Lists(*[subtract(merge_keys(keys[fam], BITS[fam]), holes[fam]) for fam in (V4, V6)])
    return Grouped([(name, done[name]) for name in order])


def diff_counts(old_lines, new_lines):
    """Entries to add and to remove between two rendered lists (set difference of lines)."""
    old = set(old_lines)
    new = set(new_lines)
    return len(new - old), len(old - new)
