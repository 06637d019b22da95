"""The window: one test of "inside" for files, lines, audit records and command arguments."""

import datetime
import os

import pytest

from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_window as win

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "evidence")
AUDIT = open(os.path.join(FIX, "audit", "audit.log.debian12"), "rb").read()


@pytest.mark.parametrize("epoch, inside", [(99.9, False), (100, True), (150, True), (200, True), (200.5, False),
                                           (None, False)], ids=["before", "start", "middle", "end", "after", "none"])
def test_contains_includes_both_ends(epoch, inside):
    assert win.Window(100, 200).contains(epoch) is inside


@pytest.mark.parametrize("first, last, overlaps, within", [
    (10, 99, False, False), (10, 100, True, False), (120, 180, True, True), (200, 300, True, False),
    (201, 300, False, False), (None, 150, True, False),
], ids=["before", "touches-start", "inside", "touches-end", "after", "open-start"])
def test_spans(first, last, overlaps, within):
    window = win.Window(100, 200)
    assert window.overlaps(first, last) is overlaps and window.within(first, last) is within


def test_file_written_before_the_window_is_out():
    window = win.Window(100, 200)
    assert not window.written_in(99.5) and window.written_in(100) and window.written_in(5000)


def test_journalctl_gets_utc_epochs_and_a_whole_last_second():
    assert win.Window(1796001318.4, 1796001320.9).journalctl_args() == ["--since", "@1796001318", "--until", "@1796001321"]


def test_ausearch_gets_no_date_only_the_selection():
    # ausearch reads --start/--end as local time in the locale's format (C: 11/30/26, a two-digit year):
    # the window never passes a date to it, so neither the zone nor the locale can shift or break it
    args = win.Window(0, 1).ausearch_args("/tmp/sel")
    assert args == ["-i", "--input", "/tmp/sel"]
    assert not [a for a in args if "/" in a and a != "/tmp/sel" or ":" in a]


@pytest.mark.parametrize("since, until, count", [
    (1796001319, 1796001319.5, 4),      # the daemon restarts stamped 1796001319.030 and .380, two records each
    (1796001318.3, 1796001318.4, 2),    # to the millisecond: 1796001318.356
    (1796001321.4, 2e9, 2),             # 1796001321.465 and .466, not .321
    (0, 2e9, 16), (1796001322, 2e9, 0), (0, 1796001318, 0),
], ids=["half-second", "millisecond", "fraction-at-start", "all", "after", "before"])
def test_audit_records_are_chosen_by_their_own_epoch_stamps(since, until, count):
    lines = win.Window(since, until).audit_lines(AUDIT)
    assert len(lines) == count
    assert all(line.startswith(b"type=DAEMON_") for line in lines)


def test_audit_selection_works_block_by_block():
    window = win.Window(1796001319, 1796001320)
    half = AUDIT.index(b"\n", len(AUDIT) // 2)
    assert window.audit_lines(AUDIT[:half]) + window.audit_lines(AUDIT[half + 1:]) == window.audit_lines(AUDIT)


def test_host_zone_reads_etc_localtime_of_a_tree():
    zone = win.HostZone(os.path.join(FIX, "trees", "debian12"))
    assert zone.name == "America/New_York"
    assert zone.epoch(2026, 11, 29, 20, 17, 33) == 1796001453  # EST: UTC-5
    assert zone.epoch(2026, 7, 1, 20, 0, 0) == 1782950400  # EDT: UTC-4, 2026-07-02T00:00:00Z


def test_host_zone_without_localtime_is_utc(tmp_path):
    zone = win.HostZone(str(tmp_path))
    assert zone.name.startswith("UTC") and zone.epoch(2026, 11, 30, 1, 17, 33) == 1796001453


@pytest.mark.parametrize("text, epoch", [("@1796001453", 1796001453.0), ("2026-11-30T01:17:33Z", 1796001453.0),
                                         ("2026-11-29T20:17:33-05:00", 1796001453.0)])
def test_parse_time(text, epoch):
    assert win.parse_time(text, 0) == epoch


def test_iso_is_utc_with_z():
    assert win.iso(1796001453) == "2026-11-30T01:17:33Z" and win.iso(None) is None


def test_ausearch_decodes_the_selection_in_utc():
    # captured: `LC_ALL=C TZ=UTC ausearch -i --input audit.log` (the engine's environment) in the debian12 container
    decoded = open(os.path.join(FIX, "audit", "ausearch-i.debian12.txt")).read()
    selected = win.Window(0, 2e9).audit_lines(AUDIT)
    assert decoded.count("type=DAEMON_") == len(selected) == 16
    for line in selected:
        epoch, serial = win.AUDIT_STAMP.search(line).group(1).decode(), line.split(b":")[1].split(b")")[0].decode()
        stamp = datetime.datetime.fromtimestamp(float(epoch), datetime.timezone.utc)
        assert "msg=audit(%s.%s:%s)" % (stamp.strftime("%m/%d/%y %H:%M:%S"), epoch.split(".")[1], serial) in decoded


def test_sshd_session_starts_before_the_window_are_kept():
    # audit.log.vm-excerpt: the incident VM's raw audit log (Debian 12, auditd 3.0.9), its first 400 lines
    # (the converge's logins, 12:49-12:5x UTC) and lines 3500-3624 (13:10-13:11). A window at 13:10 keeps
    # the earlier logins' session starts, so a session that acts in the window still has its owner.
    with open(os.path.join(FIX, "audit", "audit.log.vm-excerpt"), "rb") as handle:
        log = handle.read()
    window = win.Window(1796562640, 2e9)
    starts = window.audit_session_starts(log)
    assert len(starts) == 13  # of 18 in the excerpt; the other 5 are in the window
    assert all(b'exe="/usr/sbin/sshd"' in line and b"res=success" in line for line in starts)
    assert any(b" ses=14 " in line and b"addr=10.0.2.2" in line for line in starts)
    # only what precedes the window: the window's own records come through audit_lines, once
    assert not set(starts) & set(window.audit_lines(log))
    assert win.Window(0, 2e9).audit_session_starts(log) == []
    # a failed login names no session's owner
    assert not [line for line in starts if b"res=failed" in line]
