"""The simulated night (night.yml) against what the bundle and its report hold.

Each planted fact must be found in *recorded* evidence: the night ended, its files were deleted
and its processes exited before the collection ran, so live state cannot answer. Then the report
(findings.json) must name every planted cause, and flag nothing benign above "info".
"""
import json
import os
import re
import tarfile

import pytest
# The vm scenario's tests sit beside these (a link): one way to run collect_evidence.yml for both.
from test_vm import collect_evidence  # pylint: disable=import-error

COLLECT_TIMEOUT = 1200  # seconds for collect_evidence.yml and its report under TCG
SEVERITY = ("info", "low", "medium", "high", "critical")


def night_record():
    path = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "night.json")
    if not os.path.exists(path):
        pytest.fail("no %s: the side_effect step (night.yml) did not run" % path)
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def night():
    return night_record()


@pytest.fixture(scope="module")
def collected(night, tmp_path_factory):
    """collect_evidence.yml as the README writes it, for a window that starts before the night."""
    workdir = tmp_path_factory.mktemp("incident")
    log, bundle = collect_evidence(workdir, int(night["start"]) - 120, timeout=COLLECT_TIMEOUT)
    members = {}
    with tarfile.open(str(bundle)) as tar:
        for member in tar:
            if member.isfile():
                members[member.name.split("/", 1)[1]] = tar.extractfile(member).read()
    findings_path = bundle.parent / "findings.json"
    findings = json.loads(findings_path.read_text()) if findings_path.exists() else None
    return {"members": members, "log": log, "bundle": bundle, "findings": findings}


def member(collected, name):
    members = collected["members"]
    if name not in members:
        near = sorted(m for m in members if m.split("/")[0] == name.split("/")[0])
        pytest.fail("the bundle has no %s; members of %s/: %s" % (name, name.split("/")[0], near[:40]))
    return members[name]


def text(collected, name):
    return member(collected, name).decode("utf-8", "replace")


def jsonl(collected, name):
    return [json.loads(line) for line in text(collected, name).splitlines() if line.strip()]


def journal_messages(collected, needle):
    """MESSAGE of every journal record in the bundle whose message contains needle."""
    out = []
    for line in text(collected, "journal/journal.json").splitlines():
        if needle not in line:
            continue
        rec = json.loads(line)
        msg = rec.get("MESSAGE")
        if isinstance(msg, list):  # journald exports non-UTF-8 messages as byte lists
            msg = bytes(msg).decode("utf-8", "replace")
        if msg and needle in msg:
            out.append(rec)
    return out


def ausearch_events(collected, *needles):
    """Decoded audit events (ausearch -i, separated by ----) that contain every needle."""
    events = text(collected, "audit/ausearch.txt").split("----")
    return [e for e in events if all(n in e for n in needles)]


# --- the night itself -------------------------------------------------------------

def test_the_night_happened_as_planned(night):
    assert night["scan"]["tried"] == 1024, night["scan"]
    assert 22 in night["scan"]["open"], "the scan did not even find SSH: the attacker network is broken"
    assert len(night["brute"]["attempts"]) == 10
    assert night["received"]["bytes"] == night["upload"]["bytes"], night["received"]
    assert night["received"]["peer"] == night["target"]
    # The blocklisted address never reached SSH: dropped in the kernel, so the attempt timed out.
    assert night["blocked_connect"]["result"] != 0, night["blocked_connect"]


# --- inbound: scan, brute force, the blocklisted address ------------------------------

def test_the_port_scan_is_in_the_denied_packets(collected, night):
    """The refused-packet log is rate-limited (10/s, burst 5): a fast scan leaves a sample of its
    ports, at least ten of them, never the whole 1024."""
    denied = json.loads(member(collected, "network/denied.json"))
    sources = {s["src"]: s for s in denied["sources"]}
    assert night["attacker"] in sources, denied
    scan = sources[night["attacker"]]
    assert scan["distinct_ports"] >= 10 and scan["packets"] >= scan["distinct_ports"], scan


def test_brute_force_attempts_are_counted_per_connection(collected, night):
    """One attempt per SSH connection: at least every login sshd refused, at most every connection
    made (a login the ban cut off mid-handshake may or may not have reached sshd)."""
    reached = [a for a in night["brute"]["attempts"] if "Permission denied" in a["err"]]
    assert reached, night["brute"]
    auth = json.loads(member(collected, "summary/auth_events.json"))
    by_ip = {row["key"]: row["count"] for row in auth["failures_by_ip"]}
    assert night["attacker"] in by_ip, auth["failures_by_ip"]
    made = [a for a in night["brute"]["attempts"] if "Connection timed out" not in a["err"]]
    assert len(reached) <= auth["failed_attempts"] <= len(made), (auth["failed_attempts"], night["brute"])


def test_the_attacker_was_banned_by_fail2ban_on_record(collected, night):
    log = "".join(text(collected, name) for name in collected["members"]
                  if name.startswith("files/var/log/fail2ban.log"))
    assert re.search(r"\] Ban %s\b" % re.escape(night["attacker"]), log), log[-2000:]


def test_the_blocklisted_address_was_dropped_and_counted(collected, night):
    """The blocklist's per-source counter (nft -j list counters) for the list holding the address."""
    listing = json.loads(member(collected, "firewall/blocklist_counters.json"))
    counters = [item["counter"] for item in listing["nftables"] if "counter" in item]
    ours = [c for c in counters if "offenders.list" in c.get("comment", "")]
    assert ours, "no counter for offenders.list among %s" % [c.get("comment") for c in counters]
    assert sum(c["packets"] for c in ours) >= 1, ours


# --- the miner -------------------------------------------------------------------------

def test_the_miner_execution_from_dev_shm_is_audited(collected, night):
    events = ausearch_events(collected, night["miner"]["path"], "uid=www-data")
    assert events, "no decoded audit event runs %s as www-data" % night["miner"]["path"]


def test_the_miner_is_in_the_per_process_history(collected, night):
    rows = [r for r in jsonl(collected, "atop/processes.jsonl")
            if "kdevtmpfsi" in (r.get("cmdline") or "") + (r.get("name") or "")]
    assert rows, "atop's history has no row for the miner"
    assert {r.get("user") for r in rows} == {"www-data"}, rows[:3]
    cpu = sum(float(r.get("cpu_user_s", 0)) + float(r.get("cpu_system_s", 0)) for r in rows)
    assert cpu >= 30, "the miner burnt a core for 150 s but atop has %.1f CPU seconds" % cpu


def test_the_miner_is_in_process_accounting(collected, night):
    acct = json.dumps(json.loads(member(collected, "acct/summary.json")))
    assert "kdevtmpfsi" in acct, acct[:2000]


# --- the upload -------------------------------------------------------------------------

def test_the_upload_connection_is_logged_with_its_uid(collected, night):
    raw = [r for r in journal_messages(collected, "qn-connlog") if "DPT=4444" in str(r.get("MESSAGE"))]
    assert raw and "UID=%d" % night["upload"]["uid"] in str(raw[0]["MESSAGE"]), raw[:3]
    rows = [c for c in jsonl(collected, "network/connections.jsonl")
            if c.get("dst") == night["attacker"] and int(c.get("dport", 0)) == 4444]
    assert rows and rows[0]["uid"] == night["upload"]["uid"] and rows[0].get("user") == "www-data", rows[:3]


def test_the_upload_bytes_are_recorded_for_its_unit(collected, night):
    rows = [u for u in jsonl(collected, "network/unit_ip.jsonl") if u.get("unit") == night["upload"]["unit"]]
    assert rows, "no per-unit IP record for %s" % night["upload"]["unit"]
    assert int(rows[-1]["egress_bytes"]) >= night["upload"]["bytes"], rows


# --- persistence -----------------------------------------------------------------------

def baseline_diff(collected):
    return json.dumps(json.loads(member(collected, "baseline/diff.json")))


def test_the_key_added_to_root_is_in_the_bundle_and_the_baseline_diff(collected, night):
    key = night["root_key"].split()[1]
    assert key in text(collected, "files/root/.ssh/authorized_keys")
    assert "/root/.ssh/authorized_keys" in baseline_diff(collected)


def test_the_key_added_then_removed_from_the_admin_is_on_record(collected, night):
    path = "/home/%s/.ssh/authorized_keys" % night["admin"]
    assert night["admin_key"].split()[1] not in text(collected, "files" + path), "the cleanup did not remove it"
    events = jsonl(collected, "baseline/watch_events.jsonl")
    assert any(path in json.dumps(e) for e in events), "no watch event for %s" % path


def test_the_uid0_user_is_in_passwd_and_the_baseline_diff(collected, night):
    assert re.search(r"^%s:x?:0:" % night["uid0_user"], text(collected, "files/etc/passwd"), re.M)
    assert night["uid0_user"] in baseline_diff(collected)


def test_the_deleted_cron_job_ran_and_its_file_is_on_record(collected, night):
    assert journal_messages(collected, "night-cron-ran"), "cron's run of the planted job is not in the journal"
    assert "files" + night["cron_file"] not in collected["members"], "the cleanup did not delete it"
    events = jsonl(collected, "baseline/watch_events.jsonl")
    assert any(night["cron_file"] in json.dumps(e) for e in events), "no watch event for %s" % night["cron_file"]


def test_the_deleted_timer_ran_and_its_unit_file_is_on_record(collected, night):
    assert journal_messages(collected, "night-timer-ran"), "the timer's service output is not in the journal"
    events = jsonl(collected, "baseline/watch_events.jsonl")
    assert any(night["timer"] in json.dumps(e) for e in events), "no watch event for %s" % night["timer"]


# --- benign work and the owner ------------------------------------------------------------

def test_the_package_run_is_in_dpkg_log(collected):
    log = "".join(text(collected, n) for n in collected["members"] if n.startswith("files/var/log/dpkg.log"))
    assert re.search(r" status installed tree:", log), log[-1000:]


def test_the_owner_login_is_recorded(collected, night):
    auth = json.loads(member(collected, "summary/auth_events.json"))
    assert any(a.get("user") == night["admin"] and a.get("ip") == "10.0.2.2" for a in auth["accepted"]), auth["accepted"][:5]


# --- the report -----------------------------------------------------------------------------

def findings(collected):
    report = collected["findings"]
    assert report is not None, "collect_evidence.yml wrote no findings.json next to the bundle"
    return report["findings"]


def flagged(collected, *needles, at_least="medium"):
    """Findings at or above a severity whose JSON mentions every needle."""
    floor = SEVERITY.index(at_least)
    return [f for f in findings(collected)
            if SEVERITY.index(f["severity"]) >= floor and all(n in json.dumps(f) for n in needles)]


def test_the_report_names_the_brute_force_source_and_attempts(collected, night):
    hits = flagged(collected, night["attacker"])
    assert any(f["rule"] == "ssh-bruteforce" for f in hits), [f["rule"] for f in findings(collected)]


def test_the_report_names_the_port_scan(collected, night):
    assert any("scan" in f["rule"] for f in flagged(collected, night["attacker"], at_least="low")), \
        [(f["rule"], f["title"]) for f in findings(collected)]


def test_the_report_names_the_miner_and_its_user(collected, night):
    assert flagged(collected, "kdevtmpfsi", "www-data", at_least="high"), \
        [(f["rule"], f["title"]) for f in findings(collected)]


def test_the_report_names_the_upload_destination_user_and_bytes(collected, night):
    hits = flagged(collected, night["attacker"], "4444", "www-data")
    assert hits, [(f["rule"], f["title"]) for f in findings(collected)]
    assert any(re.search(r"\b5[0-9](\.\d)? ?M", json.dumps(f)) for f in hits), hits


@pytest.mark.parametrize("item", ["root_key", "admin_key", "uid0_user", "cron_file", "timer"])
def test_the_report_names_each_persistence_item(collected, night, item):
    needle = {"root_key": "/root/.ssh/authorized_keys", "admin_key": "/home/%s/.ssh/authorized_keys" % night["admin"],
              "uid0_user": night["uid0_user"], "cron_file": night["cron_file"], "timer": night["timer"]}[item]
    assert flagged(collected, needle, at_least="high"), [(f["rule"], f["title"]) for f in findings(collected)]


def test_nothing_benign_is_flagged_above_info(collected, night):
    """Every finding above "info" is about the night: apt, sysstat, atop, logrotate, the owner's
    login and sudo and this collection's own session must all stay at "info"."""
    night_marks = (night["attacker"], night["blocked"], "kdevtmpfsi", "night-", night["uid0_user"],
                   "www-data", "/root/.ssh/authorized_keys", "/home/%s/.ssh/authorized_keys" % night["admin"])
    unrelated = [(f["rule"], f["severity"], f["title"]) for f in findings(collected)
                 if f["severity"] != "info" and not any(m in json.dumps(f) for m in night_marks)]
    assert not unrelated, "flagged, but not part of the night: %s" % unrelated
