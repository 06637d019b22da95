"""The artifact table walked over fixture trees of Debian 12, Debian 13, EL 9 and EL 10 layouts."""

import io
import json
import os
import re
import shutil
import tarfile

import pytest

from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_bundle as eb
from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_collect as col
from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_table as table

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "evidence")
TREES = os.path.join(FIX, "trees")
LAYOUTS = ("debian12", "debian13", "el9", "el10")
NOW = 1796001500.0  # 2026-11-30T01:18:20Z, just after the captures
WINDOW = (NOW - 30 * 86400, NOW + 3600)  # the EL fixture's lines are of 2 November
OLD = re.compile(r"\.\d+$|-\d{8}$")  # rotated: auth.log.1, btmp-20261101
GROUPS = [g for g in table.GROUPS if g not in ("live", "recent")]  # these read the running host's /proc and tree


def _tree(tmp_path, layout):
    root = str(tmp_path / layout)
    shutil.copytree(os.path.join(TREES, layout), root, symlinks=True)
    for top, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(top, name)
            if not os.path.islink(path):
                when = NOW - 40 * 86400 if OLD.search(name) else NOW - 60
                os.utime(path, (when, when))
    if layout == "debian12":
        shutil.copy(os.path.join(FIX, "lastlog.bin"), os.path.join(root, "var/log/lastlog"))
    return root


def _collect(tmp_path, layout, groups=GROUPS):
    root = _tree(tmp_path, layout)
    writer = eb.BundleWriter(str(tmp_path / "b.tar.gz"), "ev", 1 << 20, 64 << 20)
    collector = col.Collector(writer, WINDOW[0], WINDOW[1], groups, 5, root=root).collect()
    sha, _size = writer.close(collector.log.data())
    assert eb.verify_bundle(str(tmp_path / "b.tar.gz"), sha)["ok"]
    members, manifest = {}, []
    with tarfile.open(str(tmp_path / "b.tar.gz")) as tar:
        for member in tar:
            data = tar.extractfile(member).read()
            if member.name == "ev/manifest.jsonl":
                manifest = [json.loads(line) for line in data.splitlines()]
            else:
                members[member.name[3:]] = data
    return collector, members, manifest


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    return dict((layout, _collect(tmp_path_factory.mktemp(layout), layout)) for layout in LAYOUTS)


EXPECTED = {
    "debian12": ["files/var/log/auth.log", "files/var/log/syslog", "files/var/log/sysstat/sa29",
                 "files/var/log/account/pacct", "files/var/log/audit/audit.log", "files/var/log/wtmp",
                 "files/var/log/btmp", "files/var/log/lastlog", "files/var/log/apt/history.log",
                 "files/var/log/dpkg.log", "logins/wtmp.jsonl", "logins/btmp.jsonl", "logins/lastlog.jsonl",
                 "files/var/log/atop/atop_20261130", "atop/summary.json",
                 # saYYYYMMDD: sysstat's name when HISTORY is above 28 days (captured in the incident VM)
                 "files/var/log/sysstat/sa20261130"],
    "debian13": ["files/var/log/auth.log", "files/var/log/sysstat/sa30", "files/var/log/account/pacct",
                 "files/var/log/wtmp.db", "files/var/lib/lastlog/lastlog2.db", "logins/wtmpdb_wtmp.jsonl",
                 "logins/lastlog2.jsonl", "files/etc/cron.d/quietnode-planted", "files/etc/ssh/sshd_config",
                 "files/etc/ssh/sshd_config.d/00-evidence-test.conf", "files/home/witness/.ssh/authorized_keys",
                 "files/home/witness/.bash_history", "cron/timer_last_runs.json"],
    "el9": ["files/var/log/secure", "files/var/log/messages", "files/var/log/cron", "files/var/log/sa/sa29",
            "files/var/account/pacct", "files/var/log/audit/audit.log", "files/var/log/dnf.rpm.log",
            "files/var/log/dnf.log", "files/var/lib/dnf/history.sqlite", "files/var/log/wtmp",
            "files/var/log/btmp-20261101", "logins/wtmp.jsonl", "logins/btmp-20261101.jsonl"],
    "el10": ["files/var/log/secure", "files/var/log/sa/sa29", "files/var/account/pacct"],
}
# what a layout must not hold: the other family's paths, and the rotated log older than the window
ABSENT = {
    "debian12": ["files/var/log/auth.log.1", "files/var/log/secure"],
    "debian13": ["files/var/log/wtmp", "files/var/log/secure", "logins/wtmp.jsonl"],
    "el9": ["files/var/log/auth.log", "files/var/log/sysstat/sa29"],
    "el10": ["files/var/log/auth.log"],
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_yields_its_own_members(bundles, layout):
    _collector, members, manifest = bundles[layout]
    assert set(EXPECTED[layout]) <= set(members), sorted(set(EXPECTED[layout]) - set(members))
    assert not set(ABSENT[layout]) & set(members)
    # member names and manifest paths leave the root prefix out
    assert not [row for row in manifest if "/trees/" in row.get("path", "") or layout in row.get("arcname", "")]


def test_every_path_row_is_found_in_some_layout(bundles):
    hit = set()
    for collector, _members, _manifest in bundles.values():
        hit |= set(i for i, paths in collector.engine.observed.items() if paths)
    rows = [i for i, row in enumerate(table.ARTIFACTS) if ("file" in row or "tree" in row or "home" in row)
            and row["group"] in GROUPS]
    missing = [table.ARTIFACTS[i].get("file") or table.ARTIFACTS[i].get("tree") for i in rows if i not in hit]
    assert len(missing) <= len(UNCOVERED) and set(missing) <= UNCOVERED, missing


# Paths no fixture layout holds (absent from the captured images); their rows are the same code as their neighbours'.
UNCOVERED = {"/etc/anacrontab", "/etc/sudoers", "/etc/rc.local", "/etc/ld.so.preload", "/etc/machine-id",
             "/etc/resolv.conf", "/etc/sudoers.d", "/etc/profile.d", "/etc/modules-load.d", "/var/spool/cron",
             "/var/spool/anacron", "/etc/systemd/system", "/run/systemd/transient", "/etc/ssh/authorized_keys",
             "/etc/cron.hourly", "/etc/cron.weekly", "/etc/cron.monthly", "/var/log/kern.log*", "/var/log/daemon.log*",
             "/var/log/user.log*", "/var/log/dnf.librepo.log*", "/var/log/yum.log*", "/var/lib/yum/history",
             "/var/log/fail2ban.log*", "/var/lib/fail2ban/fail2ban.sqlite3", "/var/log/wtmp[.-][0-9]*",
             "/var/log/sa/sa[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]"}


def test_commands_are_looked_up_below_the_root(bundles):
    collector, _members, _manifest = bundles["debian13"]
    log = collector.log.data().decode()
    for argv in ("journalctl", "sshd", "systemctl", "dpkg", "nft"):
        assert "not present: %s" % argv in log
    assert "not present: rpm" not in log  # an EL row, not walked on Debian
    assert collector.log.commands == []


@pytest.mark.parametrize("layout, family", [("debian12", "Debian"), ("debian13", "Debian"), ("el9", "RedHat"),
                                            ("el10", "RedHat")])
def test_family_from_os_release(bundles, layout, family):
    assert bundles[layout][0].engine.family == family


@pytest.mark.parametrize("layout, attempts, lines, source_prog", [
    ("debian12", 2, 8, "sshd"), ("debian13", 6, 23, "sshd-session"), ("el10", 2, 8, "sshd-session"),
], ids=["new-york-classic", "sshd-session-rfc3339", "sshd-session-classic"])
def test_auth_summary_per_layout(bundles, layout, attempts, lines, source_prog):
    summary = json.loads(bundles[layout][1]["summary/auth_events.json"])
    assert (summary["failed_attempts"], summary["failure_lines"]) == (attempts, lines)
    assert summary["source"] == "text logs"  # no journalctl below the root: the text logs are the only source
    users = dict((row["key"], row["count"]) for row in summary["failures_by_user"])
    assert users["intruder"] >= 2 and users["witness"] >= 2


def test_classic_stamps_are_read_in_the_hosts_zone(bundles):
    summary = json.loads(bundles["debian12"][1]["summary/auth_events.json"])
    # "Nov 29 20:17:33" in New York is 01:17:33 UTC on 30 November (journal: __REALTIME_TIMESTAMP 1796001453...)
    assert summary["first_epoch"] == 1796001453.0
    assert summary["classic_stamps"] == {"zone": "America/New_York", "years_assumed": [2026]}


@pytest.mark.parametrize("layout, want", [
    ("debian13", {"root": "locked", "daemon": "locked", "sshd": "locked", "witness": "set", "lockeduser": "locked",
                  "emptyuser": "empty"}),
    ("el9", {"root": "locked", "sshd": "locked", "witness": "set", "nopass": "empty"}),
])
def test_shadow_status_in_the_bundle(bundles, layout, want):
    rows = json.loads(bundles[layout][1]["accounts/shadow_summary.json"])
    got = dict((r["user"], r["password"]) for r in rows if r["user"] in want)
    assert got == want
    assert b"$y$" not in bundles[layout][1]["accounts/shadow_summary.json"]


def test_readiness_from_what_the_tree_holds(bundles):
    status = dict((layout, dict((r["recorder"], (r["status"], r["detail"])) for r in c.readiness))
                  for layout, (c, _m, _f) in bundles.items())
    assert status["debian12"]["journal"][0] == "on" and status["debian12"]["journal"][1].endswith("oldest entry 2026-11-30T01:14:45Z")
    assert status["debian13"]["journal"][0] == "missing"
    assert status["debian12"]["auditd"] == (
        "off", "auditd not running (a container cannot run it); audit logs: 1; records in the window: 16; "
               "ausearch not present: raw records only")
    assert status["debian13"]["auditd"][0] == "missing"
    for layout in LAYOUTS:
        assert status[layout]["process accounting"][0] == "on"
        assert status[layout]["sysstat"][0] == "on"
        assert status[layout]["auth log"][0] == "on"
    # Only the layout with a blocklist refresh state file says anything about it.
    assert status["debian12"]["blocklist refresh"] == (
        "on", "last refresh 2026-11-30T00:53:20Z: kept-some, 2 source(s); kept the last good copy of "
              "feed-2 (the feed shrank by 90% (bound 50%))")
    assert all("blocklist refresh" not in status[layout] for layout in ("debian13", "el9", "el10"))
    assert "files/var/lib/quietnode/blocklist/refresh-state.json" in bundles["debian12"][1]


def test_bundle_records_its_format_version(bundles):
    info = json.loads(bundles["el9"][1]["summary/bundle.json"])
    assert info["format_version"] == col.FORMAT_VERSION and info["os_family"] == "RedHat"


def test_login_database_link_is_recorded_and_decoded_once(bundles):
    _c, members, manifest = bundles["debian13"]
    link = [r for r in manifest if r["path"] == "/var/lib/wtmpdb/wtmp.db"]
    assert link and link[0]["type"] == "symlink"
    assert [name for name in members if name.startswith("logins/wtmpdb_")] == ["logins/wtmpdb_wtmp.jsonl"]
    assert io.BytesIO(members["logins/wtmpdb_wtmp.jsonl"]).read()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_check_mode_walks_every_row_and_writes_nothing(tmp_path, layout):
    root = _tree(tmp_path, layout)
    writer = eb.BundleWriter(str(tmp_path / "out" / "b.tar.gz"), "ev", 1 << 20, 64 << 20, dry_run=True)
    collector = col.Collector(writer, WINDOW[0], WINDOW[1], GROUPS, 5, root=root).collect()
    writer.close(b"")
    assert collector.log.commands == [] and not os.path.exists(str(tmp_path / "out"))
    assert writer.estimate["auth"]["files"] >= 1 and writer.estimate["logins"]["files"] >= 1
