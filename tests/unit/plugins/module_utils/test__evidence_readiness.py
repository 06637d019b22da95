"""Readiness verdicts judged from observations, and the observations' sources (shadow, journal headers)."""

import os

import pytest

from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_records as records

from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_groups as groups
from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_readiness as ready

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "evidence")


@pytest.mark.parametrize("obs, want", [
    ({}, ("missing", "no /var/log/audit/audit.log: auditd is not installed or never wrote a log")),
    ({"audit_logs": ["/var/log/audit/audit.log"], "audit_records_in_window": 0},
     ("off", "auditd not running (a container cannot run it); audit logs: 1; records in the window: 0")),
    ({"audit_logs": ["/var/log/audit/audit.log"], "auditd_running": True, "audit_records_in_window": 40, "ausearch": "ok"},
     ("on", "auditd running; audit logs: 1; records in the window: 40")),
    ({"audit_logs": ["/var/log/audit/audit.log"], "auditd_running": True, "audit_records_in_window": 40,
      "ausearch": "exit code 1: Error parsing start date (11/30/2026)"},
     ("error", "exit code 1: Error parsing start date (11/30/2026); the raw audit logs are in the bundle")),
    ({"audit_logs": ["/var/log/audit/audit.log"], "auditd_running": True, "audit_records_in_window": 40,
      "ausearch": "ausearch printed nothing for 40 raw audit records in the window"},
     ("error", "ausearch printed nothing for 40 raw audit records in the window; the raw audit logs are in the bundle")),
], ids=["no-audit", "container", "decoded", "ausearch-failed", "ausearch-silent"])
def test_audit_verdicts(obs, want):
    assert ready.auditd(obs) == want


@pytest.mark.parametrize("obs, want", [
    ({}, "missing"), ({"sa_files": ["/var/log/sa/sa01"]}, "off"),
    ({"sa_files": ["/var/log/sa/sa29"], "sa_in_window": 1, "sysstat_enabled": False}, "off"),
    ({"sa_files": ["/var/log/sa/sa29"], "sa_in_window": 1, "sysstat_enabled": None}, "on"),
], ids=["none", "stale", "disabled", "el-no-default-file"])
def test_sysstat_verdicts(obs, want):
    assert ready.sysstat(obs)[0] == want


@pytest.mark.parametrize("obs, want", [
    ({}, "missing"), ({"pacct": ["/var/account/pacct"]}, "off"),
    ({"pacct": ["/var/log/account/pacct", "/var/log/account/pacct.1.gz"], "pacct_in_window": True}, "on"),
    ({"pacct": ["/var/log/account/pacct.1.gz"], "pacct_in_window": True}, "missing"),
], ids=["none", "stale", "on", "only-rotated"])
def test_acct_verdicts(obs, want):
    assert ready.acct(obs)[0] == want


def test_verdicts_only_for_collected_groups():
    rows = ready.verdicts({"journal_run": True, "journal_head": 1796001287.2}, ["journal", "accounts"])
    assert rows == [{"recorder": "journal", "status": "volatile",
                     "detail": "journal only in /run/log/journal: lost at every reboot; oldest entry 2026-11-30T01:14:47Z",
                     "unanswerable": list(ready.QUESTIONS["journal"])}]


@pytest.mark.parametrize("field, status", [
    ("$y$j9T$6V8pB/ZMPupBMvn7fCw5s/$XUMk", "set"), ("!$y$j9T$O4CANwH1f7DqXS9e1FjzM.$1m", "locked"),
    ("!", "locked"), ("!!", "locked"), ("*", "locked"), ("!*", "locked"), ("", "empty"),
], ids=["hash", "locked-hash", "bang", "el-never-set", "star", "bang-star", "empty"])
def test_shadow_status(field, status):
    assert records.shadow_status(field) == status


def test_shadow_fixture_has_every_status():
    with open(os.path.join(FIX, "shadow.debian13")) as handle:
        got = dict((line.split(":")[0], records.shadow_status(line.split(":")[1])) for line in handle)
    assert (got["lockeduser"], got["emptyuser"], got["witness"], got["root"]) == ("locked", "empty", "set", "locked")


def test_journal_head_from_a_real_header(tmp_path):
    path = os.path.join(FIX, "trees", "debian12", "var", "log", "journal", "0f1e", "system.journal")
    assert ready.journal_head(path) == 1796001285.071295  # head_entry_realtime, 2026-11-30T01:14:45.071295Z
    other = tmp_path / "x.journal"
    other.write_bytes(b"not a journal" * 30)
    assert ready.journal_head(str(other)) is None and ready.journal_head(str(tmp_path / "none")) is None


REFRESH_CASES = [
    ("absent", {}, None),
    ("ok", {"blocklist_refresh": {"time": 1796000000, "outcome": "ok", "sources": {"a": {"outcome": "updated"}}}},
     ("on", "last refresh 2026-11-30T00:53:20Z: ok, 1 source(s)")),
    ("failed", {"blocklist_refresh": {"time": 1796000000, "outcome": "failed", "sources": {},
                                      "reason": "no good copy of a yet"}},
     ("error", "last refresh 2026-11-30T00:53:20Z: failed, 0 source(s); no good copy of a yet")),
    ("unreadable", {"blocklist_refresh": ""}, ("error", "the refresh state file could not be read")),
]


@pytest.mark.parametrize("obs,want", [c[1:] for c in REFRESH_CASES], ids=[c[0] for c in REFRESH_CASES])
def test_blocklist_refresh_verdicts(obs, want):
    assert ready.blocklist_refresh(obs) == want
