"""Open the fetched bundle on the controller and check it holds what prepare.yml planted.

The bundle is read with this file's own tarfile and hashlib code, not with the
collection's verifier, so a fault in one cannot hide a fault in the other.
"""

import glob
import hashlib
import json
import os
import tarfile

import pytest

DISTRO = os.environ.get("MOLECULE_DISTRO", "debian12")
HOST = "evidence-%s" % DISTRO
EVIDENCE = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "evidence", HOST)
PLANTED_ATTEMPTS = 15
AUTH_LOG = "files/var/log/secure" if DISTRO.startswith(("centos", "rocky", "alma")) else "files/var/log/auth.log"

testinfra_hosts = ["ansible://%s" % HOST]


@pytest.fixture(scope="module")
def bundle():
    """Newest fetched bundle: its path, members (name -> bytes) and manifest rows."""
    paths = sorted(glob.glob(os.path.join(EVIDENCE, "*", "evidence-*.tar.gz")))
    assert paths, "no bundle fetched under %s" % EVIDENCE
    path = paths[-1]
    members, manifest = {}, []
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            data = tar.extractfile(member).read()
            if member.name.endswith("/manifest.jsonl"):
                manifest = [json.loads(line) for line in data.splitlines()]
            else:
                members[member.name.split("/", 1)[1]] = data
    return {"path": path, "members": members, "manifest": manifest}


def _json(bundle, name):
    return json.loads(bundle["members"][name])


def test_bundle_sha256_matches_the_checksum_file(bundle):
    digest = hashlib.sha256(open(bundle["path"], "rb").read()).hexdigest()
    recorded = open(bundle["path"] + ".sha256").read().split()
    assert recorded == [digest, os.path.basename(bundle["path"])]


def test_every_manifest_hash_matches_its_member(bundle):
    hashed = [row for row in bundle["manifest"] if row.get("arcname")]
    assert len(hashed) > 50
    for row in hashed:
        data = bundle["members"][row["arcname"].split("/", 1)[1]]
        assert hashlib.sha256(data).hexdigest() == row["sha256"], row["path"]
        assert len(data) == row["stored"], row["path"]
    named = set(row["arcname"].split("/", 1)[1] for row in hashed)
    assert set(bundle["members"]) == named


def test_planted_ssh_failures_are_counted(bundle):
    summary = _json(bundle, "summary/auth_events.json")
    users = dict((row["key"], row["count"]) for row in summary["failures_by_user"])
    assert users.get("intruder", 0) >= PLANTED_ATTEMPTS
    ips = dict((row["key"], row["count"]) for row in summary["failures_by_ip"])
    assert ips.get("127.0.0.1", 0) >= PLANTED_ATTEMPTS


def test_failures_are_counted_once_as_attempts_next_to_lines(bundle):
    # each planted connection logs "Invalid user", a PAM failure, "Failed password" and "Connection closed":
    # one attempt, four lines; rsyslog's copy in auth.log is not counted again
    summary = _json(bundle, "summary/auth_events.json")
    assert summary["source"] == "journal", summary["source_reason"]
    assert summary["failed_attempts"] == PLANTED_ATTEMPTS
    assert summary["failure_lines"] == 4 * PLANTED_ATTEMPTS
    # the text log holds the same events: counted there too (sshd-session lines on Debian 13), reported aside
    text = summary["other_source"]["text logs"]
    assert (text["failed_attempts"], text["failure_lines"]) == (PLANTED_ATTEMPTS, 4 * PLANTED_ATTEMPTS)


def test_sshd_session_failures_are_counted_where_openssh_logs_them(bundle):
    log = bundle["members"][AUTH_LOG].decode("utf-8", "replace")
    if DISTRO == "debian13":
        assert log.count("sshd-session[") >= 4 * PLANTED_ATTEMPTS  # OpenSSH 10: failures come from sshd-session
    assert _json(bundle, "summary/auth_events.json")["other_source"]["text logs"]["by_event"]["failed_password"] \
        == PLANTED_ATTEMPTS


def test_locked_and_passwordless_accounts_are_told_apart(bundle):
    rows = dict((r["user"], r["password"]) for r in _json(bundle, "accounts/shadow_summary.json"))
    assert (rows["qn-locked"], rows["qn-empty"], rows["root"]) == ("locked", "empty", "locked")
    assert b"$y$" not in bundle["members"]["accounts/shadow_summary.json"]


def test_audit_records_in_the_window_are_decoded_without_error(bundle, host):
    status = dict((r["recorder"], r) for r in _json(bundle, "summary/readiness.json"))["auditd"]
    audit_rows = [r for r in bundle["manifest"] if r.get("group") == "audit"]
    assert not [r for r in audit_rows if r.get("error")], audit_rows
    # Debian 12's auditd 3.0 writes DAEMON_START before it fails in a container; Debian 13's 4.0 writes nothing
    if DISTRO == "debian12" or host.file("/var/log/audit/audit.log").exists:
        # auditd's failed start in the container wrote real records: chosen by their epoch stamps, decoded by ausearch
        assert status["status"] == "off" and "records in the window: 0" not in status["detail"], status
        decoded = bundle["members"]["audit/ausearch.txt"].decode()
        assert "type=DAEMON_START msg=audit(" in decoded and " : op=start " in decoded
    else:
        assert status["status"] == "missing" and "audit/ausearch.txt" not in bundle["members"], status


@pytest.mark.parametrize("member", ["journal/journal.json", AUTH_LOG])
def test_planted_ssh_failures_are_in_the_raw_logs(bundle, member):
    text = bundle["members"][member].decode("utf-8", "replace")
    assert text.count("Failed password for invalid user intruder from 127.0.0.1") >= PLANTED_ATTEMPTS


def test_planted_cron_job_is_collected(bundle):
    assert b"quietnode-planted-beacon" in bundle["members"]["files/etc/cron.d/quietnode-planted"]
    row = [r for r in bundle["manifest"] if r["path"] == "/etc/cron.d/quietnode-planted"][0]
    assert (row["mode"], row["owner"], row["error"]) == ("0644", "root", None)


def test_deleted_tmp_process_is_flagged_and_its_binary_copied(bundle, host):
    flagged = [p for p in _json(bundle, "live/flagged_processes.json") if p["exe"] == "/tmp/x (deleted)"]
    assert flagged, "the process running from deleted /tmp/x is not flagged"
    proc = flagged[0]
    assert set(proc["flags"]) >= {"deleted", "temp_dir"} and proc["cmdline"] == ["/tmp/x", "3600"]
    sleep_sha = host.check_output("sha256sum /bin/sleep").split()[0]
    assert proc["exe_sha256"] == sleep_sha
    copied = bundle["members"]["live/exe/%d.bin" % proc["pid"]]
    assert hashlib.sha256(copied).hexdigest() == sleep_sha
    # collecting changed nothing: the process still runs from its deleted binary
    assert host.file("/proc/%d/exe" % proc["pid"]).linked_to == "/tmp/x (deleted)"


def _jsonl(bundle, name):
    return [json.loads(line) for line in bundle["members"].get(name, b"").splitlines()]


def test_planted_key_login_is_decoded_from_the_login_records(bundle, host):
    logins = [row for name in bundle["members"] if name.startswith("logins/") and name.endswith(".jsonl")
              for row in _jsonl(bundle, name)]
    assert [row for row in logins if row.get("user") == "witness"], "no decoded login record of the planted user"
    if DISTRO == "debian13" or host.file("/var/log/wtmp.db").exists:
        # Debian 13: sshd writes wtmpdb; the link in /var/lib/wtmpdb is recorded, the database decoded
        rows = _jsonl(bundle, "logins/wtmpdb_wtmp.jsonl")
        assert [row for row in rows if row["user"] == "witness" and row["type"] == "USER_PROCESS"]
        link = [r for r in bundle["manifest"] if r["path"] == "/var/lib/wtmpdb/wtmp.db"]
        assert link and link[0]["type"] == "symlink"


def test_readiness_names_what_was_on_and_what_never_existed(bundle):
    status = dict((r["recorder"], r["status"]) for r in _json(bundle, "summary/readiness.json"))
    assert status["process accounting"] == "on" and status["sysstat"] == "on"
    assert status["auditd"] in ("off", "missing")  # a container cannot run auditd; never "error"
    # atop and the persistence baseline are not installed here: missing, with what that leaves unanswered
    rows = dict((r["recorder"], r) for r in _json(bundle, "summary/readiness.json"))
    assert rows["atop"]["status"] == "missing" and rows["atop"]["unanswerable"]
    assert rows["persistence baseline"]["status"] == "missing" and rows["persistence baseline"]["unanswerable"]


def test_collections_own_session_is_labelled(bundle):
    session = _json(bundle, "summary/own_session.json")
    # the module's own python first, then its ancestors (Ansible's shell, sudo) up to the login or pid 1
    assert session["chain"][0]["pid"] == session["collector_pid"] and session["chain"][0]["uid"] == 0
    assert session["pids"] == [p["pid"] for p in session["chain"]] and len(session["pids"]) >= 2


def test_collection_log_records_commands_and_clock(bundle):
    log = bundle["members"]["collection.log"].decode()
    assert " clock {" in log and "journalctl --utc" in log
    commands = [line for line in log.splitlines() if " command rc=" in line]
    assert 3 <= len(commands) <= 40
