"""Authentication log lines of both families (Debian auth.log, EL secure) and journal entries."""

import json
import os

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_authlog as auth
from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_window as win

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "evidence")
REF = 1795330918  # 2026-11-22T07:01:58Z, the fixtures' mtime


def _lines(name):
    with open(os.path.join(FIX, name)) as handle:
        return [line.rstrip("\n") for line in handle]


EXPECTED = {
    "auth.log.debian": [
        ("invalid_user", "admin", "192.0.2.66", 1795316401.123456),
        ("failed_password", "admin", "192.0.2.66", 1795316401.523456),
        ("failed_password", "root", "192.0.2.66", 1795316402.000001),
        ("preauth_close", "root", "192.0.2.66", 1795312803.0),  # +01:00 offset
        ("accepted", "deploy", "198.51.100.23", 1795317255.0),
        ("session_opened", "deploy", None, 1795317255.1),
        ("sudo", "deploy", None, 1795317600.0),
        ("preauth_close", "test", "192.0.2.67", 1795317660.0),
        ("max_attempts", "root", "192.0.2.66", 1795317720.0),
        ("session_opened", "root", None, 1795317780.0),
        ("failed_password", "ubnt", "192.0.2.68", 1795317840.0),
        ("accepted", "alice", "2001:db8::7", 1795317900.0),
    ],
    "secure.el": [
        ("accepted", "centos", "198.51.100.23", 1793592306.0),
        ("sudo", "centos", None, 1793592307.0),
        ("session_opened", "root", None, 1793592308.0),
        ("preauth_disconnect", None, "192.0.2.69", 1793592360.0),
        ("preauth_close", "oracle", "192.0.2.70", 1793592420.0),
        ("no_identification", None, "192.0.2.71", 1793592480.0),
        (None, None, None, 1793592540.0),
        ("invalid_user", "admin", "192.0.2.66", 1795316401.0),
        (None, None, None, 1795316401.0),
        ("pam_failure", None, "192.0.2.66", 1795316401.0),
        ("failed_password", "admin", "192.0.2.66", 1795316403.0),
        ("failed_password", "root", "192.0.2.66", 1795316405.0),
    ],
}


def _cases():
    for name, rows in EXPECTED.items():
        for i, (line, want) in enumerate(zip(_lines(name), rows)):
            yield pytest.param(line, want, id="%s-%02d-%s" % (name, i, want[0]))


@pytest.mark.parametrize("line, want", list(_cases()))
def test_fixture_line(line, want):
    parsed = auth.parse_line(line, REF)
    assert parsed["epoch"] == pytest.approx(want[3], abs=1e-6)
    event = auth.classify(parsed["prog"], parsed["msg"])
    if want[0] is None:
        assert event is None
        return
    assert (event["event"], event.get("user"), event.get("ip")) == want[:3]


def test_fixture_files_have_one_expectation_per_line():
    assert {n: len(_lines(n)) for n in EXPECTED} == {n: len(r) for n, r in EXPECTED.items()}


@pytest.mark.parametrize("line, ref, epoch", [
    ("Dec 31 23:59:59 h sshd[1]: x", 1798761600 + 10, 1798761599.0),  # read on 1 January: last year
    ("Jan  1 00:00:01 h sshd[1]: x", 1798761600 + 10, 1798761601.0),
    ("Feb 29 12:00:00 h sshd[1]: x", 1795330918, 1709208000.0),  # 2026 has none: 2024 is too far, 2025 neither
    ("2026-11-22T03:00:01Z h sshd[1]: x", 0, 1795316401.0),
    ("2026-11-22T03:00:01.1234567891-0500 h sshd[1]: x", 0, 1795334401.123456),
], ids=["year-rollover", "new-year", "leap-day-missing", "rfc3339-z", "rfc3339-nanos-offset"])
def test_timestamps(line, ref, epoch):
    got = auth.parse_timestamp(line, ref)
    if line.startswith("Feb 29"):
        assert got is None
    else:
        assert got == pytest.approx(epoch, abs=1e-6)


@pytest.mark.parametrize("line", ["", "garbage", "-- Reboot --", "Nov 22 03:00:01 host"], ids=["empty", "text", "marker", "no-prog"])
def test_non_syslog_lines(line):
    assert auth.parse_line(line, REF) is None


def test_sudo_only_from_sudo():
    msg = "deploy : TTY=pts/2 ; PWD=/ ; USER=root ; COMMAND=/bin/true"
    assert auth.classify("sudo", msg)["command"] == "/bin/true"
    assert auth.classify("bash", msg) is None


@pytest.mark.parametrize("entry, kind", [
    ({"MESSAGE": "Failed password for invalid user x from 127.0.0.1 port 5 ssh2", "SYSLOG_IDENTIFIER": "sshd",
      "__REALTIME_TIMESTAMP": "1795316401000000", "_PID": "9"}, "failed_password"),
    ({"MESSAGE": [70, 97], "SYSLOG_IDENTIFIER": "sshd"}, None),
    ({"MESSAGE": "Started cron", "SYSLOG_IDENTIFIER": "systemd"}, None),
], ids=["sshd-failure", "binary-message", "unrelated"])
def test_journal_event(entry, kind):
    event = auth.journal_event(entry)
    assert (event or {}).get("event") == kind
    if kind:
        assert event["epoch"] == 1795316401.0 and event["source"] == "journal"


def test_summary_counts_failures_in_window_from_both_families():
    summary = auth.AuthSummary(1795316400, 1795317800)
    summary.add_lines(_lines("auth.log.debian"), REF, "auth.log")
    summary.add_lines([line.encode() for line in _lines("secure.el")], REF, "secure")
    result = summary.result()
    assert result["failures_by_ip"][0] == {"key": "192.0.2.66", "count": 8}
    assert result["by_event"]["failed_password"] == 4 and result["by_event"]["accepted"] == 1
    assert [e["user"] for e in result["privileged"]] == ["deploy"]
    assert result["first_epoch"] == pytest.approx(1795316401.123456)


@pytest.mark.parametrize("first, second", [
    ("2026-11-22T03:00:01.5+01:00", "2026-11-22T03:00:01.25+01:00"),
    ("2026-11-22T03:00:01.5+01:00", "2026-11-22T03:00:01.25Z"),
    ("2026-11-22T03:00:01Z", "2026-11-22T03:00:01.000001Z"),
    ("2026-11-22T03:00:01.9Z", "2026-11-22T03:00:01-05:00"),
], ids=["same-zone", "other-zone", "fraction-after-none", "zone-after-fraction"])
def test_same_second_cache_gives_what_a_fresh_parse_gives(first, second):
    auth._rfc3339(first)
    cached = auth._rfc3339(second)
    auth._LAST[:] = ["", 0.0, ""]
    assert cached == pytest.approx(auth._rfc3339(second), abs=1e-7)


def _comparable(result):
    for event in result["accepted"] + result["privileged"]:
        for key in ("source", "prog", "pid"):
            event.pop(key, None)
    return dict((k, v) for k, v in result.items() if k not in ("first_epoch", "last_epoch"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("window", [(0, 2e9), (1795316400, 1795317800)], ids=["all-in-window", "edge-of-window"])
def test_block_scan_counts_what_line_parsing_counts(name, window):
    data = open(os.path.join(FIX, name), "rb").read().rstrip(b"\n")
    by_line, by_block = auth.AuthSummary(*window), auth.AuthSummary(*window)
    by_line.add_lines(data.split(b"\n"), REF, name)
    by_block.add_block(data, REF, name)
    assert _comparable(by_block.result()) == _comparable(by_line.result())


def test_block_whose_ends_lie_outside_the_window_is_skipped_whole():
    # The summary assumes time order (the module docs say so): a line inside the window between
    # two lines before it is not counted, while the line parser, which reads every line, counts it.
    lines = [b"2026-11-22T01:00:00Z h sshd[1]: Invalid user a from 192.0.2.1 port 22",
             b"2026-11-22T03:30:00Z h sshd[2]: Invalid user b from 192.0.2.2 port 22",
             b"2026-11-22T01:00:05Z h sshd[3]: Invalid user c from 192.0.2.3 port 22"]
    window = (1795316400, 1795330800)  # 03:00 to 07:00
    by_block, by_line = auth.AuthSummary(*window), auth.AuthSummary(*window)
    by_block.add_block(b"\n".join(lines), REF, "auth.log")
    by_line.add_lines(lines, REF, "auth.log")
    assert by_block.result()["by_event"] == {}
    assert by_line.result()["by_event"] == {"invalid_user": 1}


@pytest.mark.parametrize("limit", ["RAW_LIMIT", "RAW_BYTES"])
def test_undecoded_messages_are_folded_when_they_grow_and_the_counts_stay_exact(limit):
    lines = b"\n".join(b"2026-11-22T03:00:01Z h sshd[1]: Invalid user %s from 10.0.0.%d port 22" % (b"u" * (i % 7 + 1) * 40, i % 9)
                        for i in range(300))
    bounded, reference = auth.AuthSummary(0, 2e9), auth.AuthSummary(0, 2e9)
    setattr(bounded, limit, 10 if limit == "RAW_LIMIT" else 1000)
    folds = []
    fold = bounded._fold
    bounded._fold = lambda: (folds.append(len(bounded._raw)), fold())
    for start in range(0, 300, 50):
        bounded.add_block(b"\n".join(lines.split(b"\n")[start:start + 50]), REF, "x")
    reference.add_lines(lines.split(b"\n"), REF, "x")
    assert folds and bounded._raw_bytes <= 1000 + 7 * 40 + 20
    assert bounded.result() == reference.result()


def test_counters_stay_bounded_under_many_addresses():
    summary = auth.AuthSummary(0, 2e9)
    summary.MAX_KEYS = 100
    block = b"\n".join(b"2026-11-22T03:00:01Z h sshd[1]: Invalid user u%d from 10.0.%d.%d port 22" % (i, i // 256, i % 256)
                       for i in range(1000))
    summary.add_block(block, REF, "x")
    result = summary.result()
    assert result["approximate"] and len(result["failures_by_ip"]) <= 100 and result["by_event"]["invalid_user"] == 1000


_SSHD_TEMPLATES = [
    "Failed password for {user} from {ip} port 22 ssh2",
    "Failed publickey for invalid user {user} from {ip} port 22 ssh2",
    "Invalid user {user} from {ip} port 4242",
    "Connection closed by authenticating user {user} {ip} port 22 [preauth]",
    "Disconnected from invalid user {user} {ip} port 22 [preauth]",
    "Connection closed by {ip} port 22 [preauth]",
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_SSHD_TEMPLATES),
                          st.one_of(
                              st.text(st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), max_size=12),
                              st.lists(st.sampled_from(["from", "port", "22", "10.9.8.7", "invalid", "user", "by", "[preauth]", "x"]),
                                       max_size=6).map(" ".join)),
                          st.sampled_from(["192.0.2.1", "2001:db8::5", "198.51.100.77"])), min_size=1, max_size=30))
def test_block_counts_equal_line_counts_whatever_the_user_names(rows):
    # User names are attacker-chosen: spaces, "from", "port" and any character must not make the
    # block path's message key decode differently from what the line parser reads.
    lines = [("2026-11-22T03:00:%02dZ h sshd[7]: " % (i % 60) + template.format(user=user, ip=ip)).encode("utf-8")
             for i, (template, user, ip) in enumerate(rows)]
    by_line, by_block = auth.AuthSummary(0, 2e9), auth.AuthSummary(0, 2e9)
    by_line.add_lines(lines, REF, "x")
    by_block.add_block(b"\n".join(lines), REF, "x")
    assert _comparable(by_block.result()) == _comparable(by_line.result())


# -- captured in the quietnode/debian12 and debian13 containers: real sshd, ssh with SSH_ASKPASS,
# three connections as an unknown user (one password each), two as a known user with one password
# and one with three; rsyslog copies every journal entry into auth.log.
AUTH = os.path.join(FIX, "auth")


def _text(name, zone=auth.UTC_ZONE, window=(0, 2e9), block=True):
    summary = auth.AuthSummary(*window, zone=zone)
    data = open(os.path.join(AUTH, name), "rb").read().rstrip(b"\n")
    if block:
        summary.add_block(data, 1796001500, name)
    else:
        summary.add_lines(data.split(b"\n"), 1796001500, name)
    return summary


def _journal(name, window=(0, 2e9)):
    summary = auth.AuthSummary(*window)
    for line in open(os.path.join(AUTH, name)):
        event = auth.journal_event(json.loads(line))
        if event:
            summary.add(event)
    return summary


@pytest.mark.parametrize("name", ["auth.log.debian12", "auth.log.debian13", "journal.debian12.json",
                                  "journal.debian13.json"])
@pytest.mark.parametrize("block", [True, False], ids=["block", "line"])
def test_attempts_are_connections_and_lines_are_lines(name, block):
    summary = _journal(name) if name.startswith("journal") else _text(name, block=block)
    result = summary.result()
    # 6 connections; each logs pam failure, Failed password and Connection closed, the unknown user also "Invalid user"
    assert (result["failed_attempts"], result["failure_lines"]) == (6, 23)
    assert result["by_event"]["failed_password"] == 8 and result["by_event"]["invalid_user"] == 3


def test_sshd_session_lines_take_the_fast_block_path():
    # OpenSSH 10 (Debian 13): every failure comes from sshd-session[pid]; the block is counted in C
    data = open(os.path.join(AUTH, "auth.log.debian13"), "rb").read()
    assert data.count(b" sshd-session[") == 27 and data.count(b" sshd[") == 3
    assert len(auth.FAST_MESSAGES.findall(data)) == 17  # 8 Failed, 3 Invalid user, 6 Connection closed


def test_one_source_counts_an_rsyslog_copy_once():
    text, journal = _text("auth.log.debian13"), _journal("journal.debian13.json")
    both = auth.one_source(text, journal, journal_from=1796001287.0, since=1796001000.0)
    assert both["source"] == "journal" and both["failed_attempts"] == 6 and both["failure_lines"] == 23
    assert both["other_source"]["text logs"]["failed_attempts"] == 6


def test_one_source_prefers_the_text_logs_when_the_journal_starts_later():
    text, journal = _text("auth.log.debian13"), _journal("journal.debian13.json")
    # a journal that begins after the text log's first line (rotated, or volatile since a reboot)
    both = auth.one_source(text, journal, journal_from=1796001420.0, since=1796001000.0)
    assert both["source"] == "text logs" and "2026-11-30T01:17:00Z" in both["source_reason"]


def test_one_source_with_only_one_source():
    empty = auth.AuthSummary(0, 2e9)
    assert auth.one_source(_text("auth.log.debian12"), empty, None, 0)["source"] == "text logs"
    assert auth.one_source(empty, _journal("journal.debian12.json"), None, 0)["source"] == "journal"


def test_classic_stamps_in_new_york_agree_with_the_journal():
    # rsyslog in the traditional format on a host in America/New_York, rsyslogd under LANG=de_DE.UTF-8:
    # month names stay English and the wall-clock times read in the host's zone match the journal's UTC
    zone = win.HostZone(os.path.join(FIX, "trees", "debian12"))
    text = _text("auth.log.debian12-new_york-de_DE", zone=zone).result()
    journal = _journal("journal.debian12-new_york.json").result()
    assert (text["failed_attempts"], text["failure_lines"]) == (journal["failed_attempts"], journal["failure_lines"]) == (2, 8)
    assert int(journal["first_epoch"]) == text["first_epoch"] == 1796001453
    assert int(journal["last_epoch"]) == text["last_epoch"]
    assert text["classic_stamps"] == {"zone": "America/New_York", "years_assumed": [2026]}
    as_utc = _text("auth.log.debian12-new_york-de_DE").result()
    assert text["first_epoch"] - as_utc["first_epoch"] == 5 * 3600  # read as UTC they were five hours early


def test_window_edges_apply_to_classic_local_stamps():
    zone = win.HostZone(os.path.join(FIX, "trees", "debian12"))
    # the window opens at 01:17:38Z: the first connection (01:17:33-36Z) is out, the second (from 01:17:37Z) is in
    late = _text("auth.log.debian12-new_york-de_DE", zone=zone, window=(1796001457, 2e9)).result()
    assert late["failed_attempts"] == 1 and late["by_event"].get("invalid_user") is None
