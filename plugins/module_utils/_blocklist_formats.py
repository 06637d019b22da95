# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Blocklist file formats: each turns one line into the entry text it carries, or None for no entry.

An entry text is what _blocklist.parse_entry reads (address, CIDR network or a-b range).
A line that is neither an entry nor a comment raises EntryError, so the run fails naming it.
Standard library only: this file runs on the controller and on the target.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re


class EntryError(Exception):
    """Reason one line or entry is invalid."""


def strip_comment(line):
    """Plain lines: `#` and `;` start a comment anywhere on the line (Spamhaus DROP uses `;`)."""
    cut = line.find("#")
    if cut >= 0:
        line = line[:cut]
    cut = line.find(";")
    if cut >= 0:
        line = line[:cut]
    return line.strip() or None


def _json_line(line):
    """Spamhaus DROP JSON lines: {"cidr": ..., "sblid": ...}; the closing metadata record has no cidr."""
    text = line.strip()
    if not text:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        raise EntryError("not a JSON object")
    if not isinstance(record, dict):
        raise EntryError("not a JSON object")
    if "cidr" in record:
        if not isinstance(record["cidr"], str):
            raise EntryError("cidr is not a string")
        return record["cidr"].strip()
    if record.get("type") == "metadata":
        return None
    raise EntryError("JSON object has no cidr")


def _ipset(line):
    """ipset save files: `create SET hash:net ...` declares a set, `add SET ENTRY [options]` fills it."""
    words = line.split()
    if not words or words[0].startswith("#"):
        return None
    if words[0] == "create" and len(words) >= 3:
        return None
    if words[0] == "add" and len(words) >= 3:
        if "nomatch" in words[3:]:
            # An exception inside the set: blocking it would block what the list meant to spare.
            raise EntryError("nomatch entries are not supported; list the exception in blocklist_allowlist")
        return words[2]
    raise EntryError("not an ipset 'create' or 'add' line")


def _p2p(line):
    """P2P/PeerGuardian: `description:first-last`; the description may itself hold colons."""
    text = line.strip()
    if not text or text[0] == "#":
        return None
    _name, sep, rng = text.rpartition(":")
    if not sep or "-" not in rng:
        raise EntryError("not a P2P 'name:first-last' line")
    return rng.strip()


def _dshield(line):
    """DShield block list: start, end, netblock (prefix length), then attacks, name, country, email; tab-separated."""
    text = line.strip()
    if not text or text[0] == "#":
        return None
    fields = text.split("\t")
    if len(fields) < 3:
        raise EntryError("not a DShield 'start<TAB>end<TAB>netblock' line")
    first, last, netblock = (field.strip() for field in fields[:3])
    if first == "Start":
        return None
    if not netblock.isdigit():
        raise EntryError("DShield netblock is not a prefix length")
    return "%s-%s" % (first, last)


# name: (line reader, one-line example for the README); plain is read inline by the parser for speed.
FORMATS = {
    "plain": (strip_comment, "192.0.2.0/24  # comment, or ; comment"),
    "spamhaus": (strip_comment, "1.10.16.0/20 ; SBL256894"),
    "spamhaus_json": (_json_line, '{"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}'),
    "firehol": (strip_comment, "1.19.0.0/16"),
    "ipset": (_ipset, "add blocklist 192.0.2.7"),
    "p2p": (_p2p, "Some Organisation:192.0.2.0-192.0.2.255"),
    "dshield": (_dshield, "192.0.2.0<TAB>192.0.2.255<TAB>24<TAB>1234<TAB>EXAMPLE-NET<TAB>ZZ<TAB>abuse@example.org"),
}
FORMAT_NAMES = ("auto",) + tuple(sorted(FORMATS))
PLAIN = frozenset(("plain", "spamhaus", "firehol"))

# Lines looked at to detect a format; comments and blank lines do not count.
DETECT_LINES = 20
_P2P_RE = re.compile(r":\s*\d{1,3}(\.\d{1,3}){3}\s*-\s*\d{1,3}(\.\d{1,3}){3}\s*$")


def _detect_one(text):
    if text[0] == "{":
        return "spamhaus_json"
    word = text.split(None, 1)[0]
    if word in ("create", "add"):
        return "ipset"
    fields = text.split("\t")
    if len(fields) >= 3 and (fields[0] == "Start" or fields[2].strip().isdigit()):
        return "dshield"
    if _P2P_RE.search(text):
        return "p2p"
    return "plain"


def detect(lines):
    """The format of a list from its first significant lines; plain when nothing else fits.

    A DShield header (`Start<TAB>End...`) or the first entry decides; comments (`#`, `;`) are skipped.
    """
    seen = 0
    for line in lines:
        text = line.strip()
        if not text or text[0] in "#;":
            continue
        found = _detect_one(text)
        if found != "plain":
            return found
        seen += 1
        if seen >= DETECT_LINES:
            break
    return "plain"
