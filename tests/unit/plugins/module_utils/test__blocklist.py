"""Unit and property tests for the blocklist normaliser."""

import ipaddress
import os

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist as bl

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "blocklist")


def _fixture(name):
    path = os.path.join(FIXTURES, name)
    with open(path) as handle:
        return (name, handle.read().splitlines())


def _ip(text):
    return int(ipaddress.ip_address(text))


PARSE_CASES = [
    ("v4-address", "192.0.2.1", (4, _ip("192.0.2.1"), _ip("192.0.2.1"))),
    ("v4-network", "192.0.2.0/24", (4, _ip("192.0.2.0"), _ip("192.0.2.255"))),
    ("v4-host-bits-normalised", "192.0.2.77/24", (4, _ip("192.0.2.0"), _ip("192.0.2.255"))),
    ("v4-range", "192.0.2.10-192.0.2.20", (4, _ip("192.0.2.10"), _ip("192.0.2.20"))),
    ("v4-range-spaces", "192.0.2.10 - 192.0.2.20", (4, _ip("192.0.2.10"), _ip("192.0.2.20"))),
    ("v4-slash-32", "192.0.2.1/32", (4, _ip("192.0.2.1"), _ip("192.0.2.1"))),
    ("v6-address", "2001:db8::1", (6, _ip("2001:db8::1"), _ip("2001:db8::1"))),
    ("v6-network", "2001:db8::/32", (6, _ip("2001:db8::"), _ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"))),
    ("v6-mapped-address", "::ffff:192.0.2.9", (4, _ip("192.0.2.9"), _ip("192.0.2.9"))),
    ("v6-mapped-network", "::ffff:192.0.2.0/120", (4, _ip("192.0.2.0"), _ip("192.0.2.255"))),
]


@pytest.mark.parametrize("text,expected", [c[1:] for c in PARSE_CASES], ids=[c[0] for c in PARSE_CASES])
def test_parse_entry(text, expected):
    assert bl.parse_entry(text) == expected


BAD_CASES = [
    ("octet-too-big", "192.0.2.300", "not a valid IPv4"),
    ("leading-zero", "192.0.02.1", "not a valid IPv4"),
    ("short-form", "10.1", "not a valid IPv4"),
    ("hostname", "example.org", "not a valid IPv4"),
    ("prefix-too-long", "192.0.2.0/33", "prefix length above /32"),
    ("prefix-not-number", "192.0.2.0/x", "not a number"),
    ("v6-garbage", "2001:db8::zz", "not a valid IPv6"),
    ("v6-zone", "fe80::1%eth0", "zone"),
    ("range-reversed", "192.0.2.20-192.0.2.10", "ends before it starts"),
    ("range-mixed-family", "192.0.2.1-2001:db8::1", "mixes IPv4 and IPv6"),
    ("mapped-mixed-range", "::ffff:192.0.2.1-2001:db8::1", "mixes IPv4-mapped"),
]


@pytest.mark.parametrize("text,reason", [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_parse_entry_rejects(text, reason):
    with pytest.raises(bl._Entry, match=reason):
        bl.parse_entry(text)


def test_reject_host_bits_names_the_network():
    with pytest.raises(bl._Entry, match=r"host bits set \(use 192.0.2.0/24\)"):
        bl.parse_entry("192.0.2.77/24", reject_host_bits=True)


MERGE_CASES = [
    ("empty", [], []),
    ("single", [(5, 9)], [(5, 9)]),
    ("overlap", [(5, 9), (7, 12)], [(5, 12)]),
    ("adjacent", [(5, 9), (10, 12)], [(5, 12)]),
    ("gap", [(5, 9), (11, 12)], [(5, 9), (11, 12)]),
    ("contained", [(1, 100), (5, 9), (50, 50)], [(1, 100)]),
    ("unsorted-duplicates", [(20, 30), (1, 2), (20, 30), (3, 3)], [(1, 3), (20, 30)]),
]


@pytest.mark.parametrize("ranges,expected", [c[1:] for c in MERGE_CASES], ids=[c[0] for c in MERGE_CASES])
def test_merge(ranges, expected):
    assert bl.merge(list(ranges)) == expected


SUBTRACT_CASES = [
    ("no-holes", [(1, 10)], [], [(1, 10)]),
    ("hole-inside", [(1, 10)], [(4, 5)], [(1, 3), (6, 10)]),
    ("hole-at-start", [(1, 10)], [(0, 3)], [(4, 10)]),
    ("hole-at-end", [(1, 10)], [(8, 20)], [(1, 7)]),
    ("hole-covers", [(1, 10)], [(0, 20)], []),
    ("two-holes-two-ranges", [(1, 10), (20, 30)], [(5, 5), (9, 21), (30, 30)], [(1, 4), (6, 8), (22, 29)]),
    ("hole-between", [(1, 3), (8, 9)], [(5, 6)], [(1, 3), (8, 9)]),
]


@pytest.mark.parametrize("ranges,holes,expected", [c[1:] for c in SUBTRACT_CASES], ids=[c[0] for c in SUBTRACT_CASES])
def test_subtract(ranges, holes, expected):
    assert bl.subtract(ranges, holes) == expected


FORMAT_CASES = [
    ("address", 4, "192.0.2.1", "192.0.2.1", "192.0.2.1"),
    ("network", 4, "192.0.2.0", "192.0.2.255", "192.0.2.0/24"),
    ("unaligned-range", 4, "192.0.2.1", "192.0.2.4", "192.0.2.1-192.0.2.4"),
    ("v6-network", 6, "2001:db8::", "2001:db8::ffff", "2001:db8::/112"),
]


@pytest.mark.parametrize("family,start,end,expected", [c[1:] for c in FORMAT_CASES], ids=[c[0] for c in FORMAT_CASES])
def test_format_range(family, start, end, expected):
    assert bl.format_range(family, _ip(start), _ip(end)) == expected


def test_normalise_fixture_collapses_and_unmaps():
    lists = bl.normalise([_fixture("offenders.list")])
    assert lists.lines(4) == ["192.0.2.0/24", "198.51.100.5-198.51.100.9", "198.51.100.200", "203.0.113.128/25"]
    assert lists.lines(6) == ["2001:db8:dead::/48"]
    # The rendered form parses back to itself.
    again = bl.normalise([], trusted=[("rendered", lists.render().splitlines())])
    assert again.render() == lists.render()


def test_sources_keep_their_own_groups_through_the_rendered_form():
    lists = bl.normalise([("a.list", ["192.0.2.0/24", "198.51.100.1"]), ("b.list", ["192.0.2.128/25", "2001:db8::/32"]),
                          ("a.list", ["198.51.100.2"])])
    assert [name for name, _group in lists.groups] == ["a.list", "b.list"]  # one group per name, first-seen order
    assert lists.groups[0][1].lines(4) == ["192.0.2.0/24", "198.51.100.1-198.51.100.2"]
    assert lists.groups[1][1].lines(4) == ["192.0.2.128/25"]
    # The union is what is enforced; counts are the elements loaded, an overlap counted once per source.
    assert lists.lines(4) == ["192.0.2.0/24", "198.51.100.1-198.51.100.2"] and lists.counts() == {"v4": 3, "v6": 1}
    text = lists.render().splitlines()
    assert text[1] == "# source: a.list" and "# source: b.list" in text
    for allowlist in ([], ["192.0.2.200"]):
        again = bl.normalise([], allowlist, trusted=[("shipped", text)])
        assert [name for name, _group in again.groups] == ["a.list", "b.list"]
        expected = bl.normalise([("a.list", lists.groups[0][1].lines(4)), ("b.list", lists.groups[1][1].lines(4) + ["2001:db8::/32"])],
                                allowlist)
        assert again.render() == expected.render() and again.digest() == expected.digest()


def test_section_names_are_one_safe_line():
    assert bl.section_name('evil"name\nwith\tcontrol\\') == "evil_name_with_control_"
    assert bl.section_name("  ") == "unnamed"


def test_allowlist_is_subtracted():
    lists = bl.normalise([_fixture("offenders.list")], allowlist=["192.0.2.128/25", "198.51.100.7", "2001:db8:dead::1"])
    assert lists.lines(4)[:3] == ["192.0.2.0/25", "198.51.100.5-198.51.100.6", "198.51.100.8/31"]
    assert lists.lines(6) == ["2001:db8:dead::", "2001:db8:dead::2-2001:db8:dead:ffff:ffff:ffff:ffff:ffff"]


ERROR_CASES = [
    ("bad-line", "bad-line.list", r"bad-line.list:3: not a valid IPv4 address or network: '192.0.2.300'"),
    ("too-wide", "too-wide.list", r"too-wide.list:2: entry is wider than /8"),
    ("everything", "everything.list", r"everything.list:1: entry covers every IPv6 address \(/0\)"),
]


@pytest.mark.parametrize("name,message", [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_errors_name_file_line_and_text(name, message):
    with pytest.raises(bl.BlocklistError, match=message) as info:
        bl.normalise([_fixture(name)])
    assert "nothing was applied" in str(info.value)


def test_allow_wide_accepts_wide_entries():
    lists = bl.normalise([_fixture("too-wide.list"), _fixture("everything.list")], allow_wide=True)
    assert lists.lines(4) == ["10.0.0.0/7", "192.0.2.0/24"]
    assert lists.lines(6) == ["::/0"]


def test_reject_host_bits_is_reported_with_file_and_line():
    with pytest.raises(bl.BlocklistError, match=r"host-bits.list:1: network has host bits set"):
        bl.normalise([_fixture("host-bits.list")], reject_host_bits=True)


def test_errors_are_collected_up_to_a_limit():
    lines = ["bad%d" % i for i in range(100)]
    with pytest.raises(bl.BlocklistError) as info:
        bl.normalise([("many", lines)])
    assert len(info.value.problems) == bl.MAX_ERRORS


def test_bad_allowlist_entry_is_named():
    with pytest.raises(bl.BlocklistError, match=r"allowlist:2: .*'nonsense'"):
        bl.normalise([], allowlist=["192.0.2.1", "nonsense"])


def test_count_networks_matches_collapse_addresses():
    lists = bl.normalise([_fixture("offenders.list")])
    nets = list(ipaddress.collapse_addresses(
        n for s, e in lists.ranges[4]
        for n in ipaddress.summarize_address_range(ipaddress.IPv4Address(s), ipaddress.IPv4Address(e))))
    assert bl.count_networks(4, lists.ranges[4]) == len(nets)


def test_diff_counts():
    assert bl.diff_counts(["a", "b", "c"], ["b", "c", "d", "e"]) == (2, 1)


# Property tests: small address spaces (IPv4 within 10.0.0.0/22) so overlaps are frequent.
_BASE = _ip("10.0.0.0")
_entry = st.tuples(st.integers(0, 1023), st.integers(0, 10)).map(
    lambda t: "%s/%d" % (ipaddress.IPv4Address(_BASE + (t[0] & ~((1 << t[1]) - 1))), 32 - t[1]))
_range = st.tuples(st.integers(0, 1023), st.integers(0, 64)).map(
    lambda t: "%s-%s" % (ipaddress.IPv4Address(_BASE + t[0]), ipaddress.IPv4Address(_BASE + min(1023, t[0] + t[1]))))
_entries = st.lists(st.one_of(_entry, _range), max_size=40)


def _covered(lines):
    nets = set()
    for line in lines:
        if "-" in line:
            first, last = line.split("-")
            nets.update(range(_ip(first), _ip(last) + 1))
        else:
            net = ipaddress.ip_network(line)
            nets.update(range(int(net.network_address), int(net.broadcast_address) + 1))
    return nets


@settings(max_examples=200, deadline=None)
@given(_entries)
def test_property_collapse_keeps_coverage(entries):
    lists = bl.normalise([("generated", entries)])
    assert _covered(lists.lines(4)) == _covered(entries)
    # Collapsed ranges are sorted, disjoint and not adjacent: the smallest set of intervals.
    ranges = lists.ranges[4]
    assert all(a[1] + 1 < b[0] for a, b in zip(ranges, ranges[1:]))


@settings(max_examples=200, deadline=None)
@given(_entries, st.lists(st.one_of(_entry, _range), max_size=10))
def test_property_allowlist_never_covered(entries, allow):
    lists = bl.normalise([("generated", entries)], allowlist=allow)
    covered = _covered(lists.lines(4))
    assert not covered & _covered(allow)
    assert covered == _covered(entries) - _covered(allow)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, (1 << 128) - 1), st.integers(0, 1 << 70))
def test_property_range_to_cidrs_matches_ipaddress(start, length):
    end = min(start + length, (1 << 128) - 1)
    ours = [(n, p) for n, p in bl.range_to_cidrs(start, end, 128)]
    theirs = [(int(n.network_address), n.prefixlen) for n in ipaddress.summarize_address_range(
        ipaddress.IPv6Address(start), ipaddress.IPv6Address(end))]
    assert ours == theirs


@settings(max_examples=200, deadline=None)
@given(_entries, st.lists(st.one_of(_entry, _range), max_size=10))
def test_property_rendered_fast_path_matches_full_parser(entries, allow):
    rendered = bl.normalise([("generated", entries)]).render().splitlines()
    fast = bl.normalise([], allow, trusted=[("rendered", rendered)])
    full = bl.normalise([], allow, trusted=[("rendered", rendered), ("empty", [])])
    assert fast.ranges == full.ranges and fast.render() == full.render()


@pytest.mark.parametrize("lines", [
    ["192.0.2.5/24"], ["192.0.2.9", "192.0.2.1"], ["192.0.2.1 "], ["192.0.2.1", "192.0.2.2"],
], ids=["host-bits", "unsorted", "trailing-space", "adjacent"])
def test_rendered_fast_path_refuses_non_canonical_text(lines):
    assert bl._parse_rendered(lines) is None
    assert bl.normalise([], trusted=[("hand-edited", lines)]).ranges == bl.normalise([("x", lines)]).ranges


@settings(max_examples=200, deadline=None)
@given(_entries, st.lists(_entries, max_size=3))
def test_property_whole_text_split_matches_the_line_split(entries, others):
    sources = [("first", entries)] + [("other %d" % i, lines) for i, lines in enumerate(others)]
    text = bl.normalise(sources).render()
    by_text = bl.normalise([], trusted=[("rendered", text)])
    by_lines = bl.normalise([], trusted=[("rendered", text.splitlines())])
    assert [(n, g.lines(4), g.lines(6)) for n, g in by_text.groups] == [(n, g.lines(4), g.lines(6)) for n, g in by_lines.groups]


@pytest.mark.parametrize("text", [
    bl.HEADER + "\n# source: a\n2001:db8::1\n192.0.2.1\n",
    bl.HEADER + "\n# source: a\n192.0.2.1\n\n192.0.2.3\n",
    bl.HEADER + "\r\n# source: a\r\n192.0.2.1\r\n",
    "# source: a\n192.0.2.1\n",
], ids=["v6-before-v4", "empty-line", "crlf", "no-header"])
def test_whole_text_split_refuses_other_text_and_the_lines_path_reads_it(text):
    assert bl._split_text(text) is None
    assert bl.normalise([], trusted=[("x", text)]).ranges == bl.normalise([], trusted=[("x", text.splitlines())]).ranges


def test_parsed_source_gives_what_its_lines_give():
    lines = ["192.0.2.0/24", "192.0.2.7", "198.51.100.1", "2001:db8::/48"]
    keys = {4: [], 6: []}
    fmt = bl.parse_lines(lines, "feed", keys, fmt="auto")
    parsed = bl.normalise([("feed", bl.Parsed(keys, fmt), "plain")])
    assert parsed.render() == bl.normalise([("feed", lines, "plain")]).render()
    assert bl.Parsed(keys, fmt).counts() == {"v4": 3, "v6": 1}


@settings(max_examples=300, deadline=None)
@given(_entries, st.data())
def test_property_patched_merge_equals_a_whole_merge(old, data):
    old = sorted(set(old))
    kept = data.draw(st.lists(st.sampled_from(old), unique=True)) if old else []
    new = sorted(set(kept + data.draw(_entries)))

    def keys(lines):
        out = {4: [], 6: []}
        bl.parse_lines(lines, "x", out, allow_wide=True)
        return out
    patched = bl.Merged.build(keys(old)).patch(keys(sorted(set(old) - set(new))), keys(sorted(set(new) - set(old))))
    whole = bl.Merged.build(keys(new))
    assert (patched.keys, patched.ranges, patched.texts) == (whole.keys, whole.ranges, whole.texts)
