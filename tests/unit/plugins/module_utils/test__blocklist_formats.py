"""Every list format, detected and named: fixture in, normalised entries out; bad lines named by source and line."""

import os

import pytest

from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist as bl
from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist_formats as fm

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "blocklist")


def _lines(name):
    with open(os.path.join(FIXTURES, name), "rb") as handle:
        return bl.decode_lines(handle.read())


# id, fixture, detected format, IPv4 entries, IPv6 entries
FORMAT_CASES = [
    ("plain-comments", "plain-comments.list", "plain",
     ["192.0.2.7", "198.51.100.0/24", "203.0.113.9"], ["2001:db8:bad::/48"]),
    ("bom-crlf", "bom-crlf.list", "plain", ["192.0.2.7", "198.51.100.0/24"], ["2001:db8:bad::1"]),
    ("spamhaus-drop", "spamhaus-drop.txt", "plain", ["192.0.2.0/24", "198.51.100.0/25", "203.0.113.64/26"], []),
    ("spamhaus-json", "spamhaus-drop.jsonl", "spamhaus_json", ["192.0.2.0/24", "198.51.100.0/25"], ["2001:db8:bad::/48"]),
    ("ipset", "ipset-save.txt", "ipset", ["192.0.2.7", "198.51.100.0/24", "203.0.113.9"], ["2001:db8:bad::/48"]),
    ("firehol", "firehol.netset", "plain", ["192.0.2.7", "198.51.100.0/24", "203.0.113.0/29"], []),
    ("p2p", "p2p.txt", "p2p", ["192.0.2.0/24", "198.51.100.5-198.51.100.9", "203.0.113.9"], []),
    ("dshield", "dshield-block.txt", "dshield", ["192.0.2.0/24", "198.51.100.0/24"], []),
]


@pytest.mark.parametrize("name,detected,v4,v6", [c[1:] for c in FORMAT_CASES], ids=[c[0] for c in FORMAT_CASES])
def test_format_is_detected_and_read(name, detected, v4, v6):
    lines = _lines(name)
    assert fm.detect(lines) == detected
    formats = {}
    lists = bl.normalise([(name, lines)], formats=formats)
    assert formats == {name: detected}
    assert (lists.lines(4), lists.lines(6)) == (v4, v6)


# The named format reads the same fixture the same way as detection does.
NAMED = [("spamhaus-drop.txt", "spamhaus"), ("firehol.netset", "firehol"), ("plain-comments.list", "plain"),
         ("spamhaus-drop.jsonl", "spamhaus_json"), ("ipset-save.txt", "ipset"), ("p2p.txt", "p2p"),
         ("dshield-block.txt", "dshield")]


@pytest.mark.parametrize("name,fmt", NAMED, ids=[n[1] for n in NAMED])
def test_named_format_matches_detection(name, fmt):
    assert bl.normalise([(name, _lines(name), fmt)]).render() == bl.normalise([(name, _lines(name))]).render()


def test_bom_would_fail_without_decode_lines():
    # The byte order mark is what made line 1 fail before; decode_lines removes it.
    with open(os.path.join(FIXTURES, "bom-crlf.list"), "rb") as handle:
        raw = handle.read().decode("utf-8").splitlines()
    with pytest.raises(bl.BlocklistError, match=r"bom-crlf.list:1: "):
        bl.normalise([("bom-crlf.list", raw, "plain")])


# id, fixture, format, message naming source, line and reason
BAD_CASES = [
    ("spamhaus-bad-address", "spamhaus-bad.txt", "auto", r"spamhaus-bad.txt:2: not a valid IPv4 address or network: '192.0.2.300/32'"),
    ("json-without-cidr", "spamhaus-bad.jsonl", "auto", r"spamhaus-bad.jsonl:2: JSON object has no cidr"),
    ("json-not-json", "spamhaus-drop.txt", "spamhaus_json", r"spamhaus-drop.txt:1: not a JSON object"),
    ("ipset-nomatch", "ipset-nomatch.txt", "auto", r"ipset-nomatch.txt:3: nomatch entries are not supported; list the exception in blocklist_allowlist"),
    ("ipset-other-line", "plain-comments.list", "ipset", r"plain-comments.list:3: not an ipset 'create' or 'add' line"),
    ("p2p-no-range", "p2p-bad.txt", "auto", r"p2p-bad.txt:2: not a P2P 'name:first-last' line"),
    ("dshield-not-tabbed", "plain-comments.list", "dshield", r"plain-comments.list:3: not a DShield"),
]


@pytest.mark.parametrize("name,fmt,message", [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_bad_lines_are_named(name, fmt, message):
    with pytest.raises(bl.BlocklistError, match=message) as info:
        bl.normalise([(name, _lines(name), fmt)])
    assert "nothing was applied" in str(info.value)


DETECT_CASES = [
    ("comments-only", ["# nothing", "; here", ""], "plain"),
    ("ipv6-is-plain", ["2001:db8::1", "2001:db8::/32"], "plain"),
    ("mapped-range-is-plain", ["::ffff:192.0.2.1-::ffff:192.0.2.9"], "plain"),
    ("p2p-after-plain-comments", ["# header", "name:192.0.2.1-192.0.2.2"], "p2p"),
    ("dshield-header", ["Start\tEnd\tNetblock\tAttacks"], "dshield"),
    ("two-tabs-no-netblock-is-plain", ["192.0.2.1\t\t# note"], "plain"),
    ("ipset-add-first", ["add x 192.0.2.1"], "ipset"),
]


@pytest.mark.parametrize("lines,expected", [c[1:] for c in DETECT_CASES], ids=[c[0] for c in DETECT_CASES])
def test_detect(lines, expected):
    assert fm.detect(lines) == expected


def test_dshield_header_and_metadata_lines_are_skipped():
    assert fm.FORMATS["dshield"][0]("Start\tEnd\tNetblock\tAttacks\tName\tCountry\temail") is None
    assert fm.FORMATS["spamhaus_json"][0]('{"type":"metadata","records":0}') is None


def test_every_format_has_a_readme_example():
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "blocklist", "README.md")) as handle:
        readme = handle.read()
    for name, (_reader, example) in fm.FORMATS.items():
        assert "`%s`" % name in readme and example.replace("<TAB>", "\\t") in readme.replace("<TAB>", "\\t"), name


def test_wide_sources_refuse_only_slash_zero():
    lines = _lines("country-v4.zone")
    with pytest.raises(bl.BlocklistError, match=r"wider than /8 \(the blocklist_min_prefix_v4 limit\); set blocklist_allow_wide"):
        bl.normalise([("zone", lines)])
    assert bl.normalise([("zone", lines, "plain", True)]).lines(4) == ["192.0.2.0/24", "240.0.0.0/7"]
    with pytest.raises(bl.BlocklistError, match=r"every IPv4 address \(/0\); set blocklist_allow_wide"):
        bl.normalise([("zone", ["0.0.0.0/0"], "plain", True)])
