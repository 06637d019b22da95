"""Verify what the recorders really record on the converged target, with traffic to the peer container."""

import datetime
import json
import os
import re
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
import qn_run  # noqa: E402  pylint: disable=wrong-import-position

DISTRO = os.environ.get("MOLECULE_DISTRO", "debian12")
INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
EPHEMERAL = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]
PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
PACCT = "/var/log/account/pacct"
PEER = {4: "10.231.77.20", 6: "fd00:231:77::20"}
TABLE = "quietnode_connlog"
BASELINE_DIR = "/var/lib/quietnode/baseline"
# Every traffic loop is bounded in count, every wait in seconds.
FLOOD = 300

testinfra_hosts = ["ansible://recorders-target-%s" % DISTRO]


def _wait(check, seconds, step=2):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    return check()


# ---- atop -------------------------------------------------------------------------------------------

def test_atop_settings_and_units(host):
    config = host.file("/etc/default/atop").content_string
    assert "LOGINTERVAL=60\n" in config
    assert "LOGGENERATIONS=35\n" in config
    assert "ATOPACCT=/var/log/account/pacct\n" in config
    assert host.service("atop").is_running
    assert host.service("atop").is_enabled
    assert host.run("systemctl is-enabled atop-rotate.timer").stdout.strip() == "enabled"
    assert host.run("systemctl is-enabled atopacct.service").stdout.strip() == "masked"
    # acct still owns kernel accounting: atopacctd never took it over.
    assert host.service("acct").is_running
    pid = host.check_output("systemctl show -p MainPID --value atop.service")
    environ = host.check_output("tr '\\0' '\\n' < /proc/%s/environ", pid)
    assert "ATOPACCT=/var/log/account/pacct" in environ.splitlines()


def _raw_file(host):
    return "/var/log/atop/atop_" + host.check_output("date +%Y%m%d")


def test_atop_records_a_process_that_ended_within_the_minute(host):
    """A short-lived program has ended by the next sample; the accounting record tells atop it exited."""
    # /tmp is mounted noexec in the test containers.
    host.check_output("cp /bin/sleep /var/tmp/qnshortlived && /var/tmp/qnshortlived 1 && rm -f /var/tmp/qnshortlived")
    raw = _raw_file(host)

    def exited_line():
        out = host.run("atop -r %s -P PRG", raw).stdout
        # PRG host epoch date time interval pid (name) state ...: state E is a process that exited.
        # A sample taken during its one second shows it running (S) first; the E row must follow.
        rows = [line.split() for line in out.splitlines() if line.startswith("PRG ") and "(qnshortlived)" in line]
        exited = [fields for fields in rows if fields[fields.index("(qnshortlived)") + 1] == "E"]
        return exited[-1] if exited else None

    fields = _wait(exited_line, 150, step=5)
    assert fields, host.run("atop -r %s -P PRG | grep -F '(qnshortlived)' || atop -r %s -P PRG | tail -5", raw, raw).stdout
    minute = fields[4][:5]
    following = (datetime.datetime.strptime(minute, "%H:%M") + datetime.timedelta(minutes=1)).strftime("%H:%M")
    # The sample of that minute, read back with parseable output for each process label.
    out = host.check_output("atop -r %s -b %s -e %s -P PRG,PRC,PRM,PRD", raw, minute, following)
    labels = set(row.split()[0] for row in out.splitlines() if row and row[0].isupper())
    assert {"PRG", "PRC", "PRM", "PRD"} <= labels
    assert "(qnshortlived)" in out
    assert host.run("lastcomm qnshortlived").stdout.strip()


def _atop_pid(host):
    return host.check_output("systemctl show -p MainPID --value atop.service")


def _new_atop_pid(host, before, seconds):
    """The PID of an atop started after `before`, once there is one, else None."""
    return _wait(lambda: (lambda pid: pid if pid not in ("0", before) else None)(_atop_pid(host)), seconds)


def test_atop_is_restarted_when_the_accounting_file_is_rotated(host):
    """Debian's cron.daily/acct restarts acct after savelog; atop must reopen the new file."""
    before = _atop_pid(host)
    host.check_output("systemctl restart acct.service")
    assert _new_atop_pid(host, before, 30)


@pytest.mark.parametrize("signal", ["KILL", "TERM"])
def test_atop_comes_back_after_it_is_killed(host, signal):
    """An intruder's kill, or the OOM killer's, must not end the recording until the next run."""
    before = _atop_pid(host)
    assert before != "0"
    host.check_output("kill -%s %s", signal, before)
    # RestartSec=10s: allow for a busy machine.
    assert _new_atop_pid(host, before, 60), host.run("systemctl status --no-pager atop.service").stdout
    assert host.service("atop").is_running


def _pacct_grows(host):
    """The kernel appends a record to acct's file as each process ends; a file that stays put means off."""
    before = int(host.check_output("stat -c %%s %s", PACCT))
    host.check_output("/bin/true")
    return int(host.check_output("stat -c %%s %s", PACCT)) > before


def _converge(*options):
    """Re-run this scenario's converge playbook as an operator would; return (rc, output)."""
    return qn_run.playbook(["-i", INVENTORY, os.path.join(PROJECT, "molecule", "recorders", "converge.yml")] + list(options),
                           os.path.join(EPHEMERAL, "ansible.cfg"))


def test_accounting_switched_off_behind_acct_is_turned_back_on(host):
    """atopacctd's exit switches kernel accounting off (acct(NULL), what `accton off` does) while the
    oneshot acct.service still reads active; re-applying the role must notice and restart acct."""
    assert _pacct_grows(host)
    host.check_output("accton off")
    try:
        assert host.service("acct").is_running
        assert not _pacct_grows(host)
        rc, out = _converge("--tags", "process_accounting")
    finally:
        if not _pacct_grows(host):
            host.check_output("systemctl restart acct.service")
    assert rc == 0, out
    restart = out.split("Restart process accounting, which turns kernel accounting back on", 1)[1]
    assert re.search(r"^(ok|changed|skipping|fatal):", restart, re.M).group(1) == "changed", restart[:400]
    assert re.search(r"recorders-target-\S+\s*: ok=\d+\s+changed=1\s", out), out[-600:]
    assert _pacct_grows(host)


def test_accounting_taken_by_atopacctd_is_returned_to_acct(host):
    """The trap itself: atopacct.service (Conflicts=acct.service) ran on the host; starting acct stops it
    and atopacctd switches accounting off as it exits. Re-applying both roles leaves accounting live."""
    # acct first: atopacct.service refuses to start (ExecStartPre) while acct is active.
    host.check_output("systemctl unmask atopacct.service && systemctl stop acct.service && systemctl start atopacct.service")
    try:
        assert host.service("atopacct").is_running
        assert not host.service("acct").is_running
        assert not _pacct_grows(host)
        rc, out = _converge("--tags", "process_accounting,atop")
    finally:
        host.run("systemctl mask --now atopacct.service")
        if not _pacct_grows(host):
            host.check_output("systemctl restart acct.service")
    assert rc == 0, out
    assert host.run("systemctl is-enabled atopacct.service").stdout.strip() == "masked"
    assert not host.service("atopacct").is_running and host.service("acct").is_running
    assert _pacct_grows(host)


# ---- connection log ----------------------------------------------------------------------------------

def _counters(host):
    out = host.check_output("nft list table inet %s", TABLE)
    match = re.search(r"counter packets (\d+) bytes \d+ limit rate .*? counter packets (\d+) bytes \d+ log", out)
    assert match, out
    return int(match.group(1)), int(match.group(2))


def _connect(host, family, count, user="nobody"):
    """count new TCP connections to the peer as user; each bounded by a 3 s timeout."""
    script = "for i in $(seq %d); do timeout 3 bash -c 'exec 3<>/dev/tcp/%s/8080' 2>/dev/null; done" % (count, PEER[family])
    host.run("setpriv --reuid=%s --regid=nogroup --clear-groups bash -c %s", user, script)


def test_connlog_table_and_rule(host):
    out = host.check_output("nft list table inet %s", TABLE)
    assert "hook output priority filter - 10" in out
    assert "ct state new" in out
    assert 'log prefix "qn-connlog: " level info flags skuid' in out
    assert 'oifname "lo" return' in out


@pytest.mark.parametrize("family", [4, 6])
def test_connlog_counts_new_outbound_connections(host, family):
    total, logged = _counters(host)
    _connect(host, family, 5)
    total_after, logged_after = _counters(host)
    assert total_after - total >= 5
    assert logged_after - logged >= 5


def test_connlog_ignores_loopback(host):
    total, _logged = _counters(host)
    host.run("timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/9' 2>/dev/null")
    assert _counters(host)[0] == total


def test_connlog_rate_limit_bounds_the_log_under_a_flood(host):
    total, logged = _counters(host)
    start = time.time()
    _connect(host, 4, FLOOD)
    elapsed = time.time() - start
    total_after, logged_after = _counters(host)
    assert total_after - total >= FLOOD
    # 10/s with a burst of 50: the logged count stays far below the flood.
    assert logged_after - logged <= 50 + 10 * (elapsed + 2)
    assert logged_after - logged < FLOOD


@pytest.mark.parametrize("action", [
    "firewall-cmd --reload",
    "systemctl restart firewalld",
    "nft -f /tmp/qn-blocklist-replace.nft",
], ids=["firewalld-reload", "firewalld-restart", "blocklist-table-replaced"])
def test_connlog_survives(host, action):
    host.check_output(
        "printf 'table inet quietnode_blocklist\\ndelete table inet quietnode_blocklist\\n"
        "table inet quietnode_blocklist { chain c { type filter hook prerouting priority raw; }; }\\n'"
        " > /tmp/qn-blocklist-replace.nft")
    host.check_output(action)
    assert _wait(lambda: host.run("firewall-cmd --state").stdout.strip() == "running", 60)
    total, _logged = _counters(host)
    _connect(host, 4, 3)
    assert _counters(host)[0] - total >= 3


def test_connlog_boot_unit_reloads_the_table(host):
    assert host.run("systemctl is-enabled quietnode-connlog.service").stdout.strip() == "enabled"
    host.check_output("nft delete table inet %s", TABLE)
    host.check_output("systemctl restart quietnode-connlog.service")
    assert _counters(host)


def test_connlog_byte_accounting_settings(host):
    assert "net.netfilter.nf_conntrack_acct = 1" in host.file("/etc/sysctl.d/50-quietnode-connlog.conf").content_string
    # DefaultIPAccounting=yes reaches every unit (systemd 252 does not show the manager setting itself).
    assert host.check_output("systemctl show -p IPAccounting --value atop.service") == "yes"


# ---- persistence baseline ----------------------------------------------------------------------------

def _latest(host):
    name = host.check_output("ls %s | grep '^snapshot-' | sort | tail -1", BASELINE_DIR)
    return json.loads(host.check_output("cat %s/%s", BASELINE_DIR, name))


def test_baseline_snapshot(host):
    assert host.file(BASELINE_DIR).mode == 0o700
    manifest = _latest(host)
    passwd = manifest["files"]["/etc/passwd"]
    assert passwd["sha256"] == host.check_output("sha256sum /etc/passwd").split()[0]
    assert passwd["owner"] == "root" and passwd["mode"] == "0644"
    assert manifest["files"]["/usr/bin/passwd"]["surface"] == "suid"
    assert "/etc/systemd/system/sysstat-collect.timer.d/50-quietnode.conf" in manifest["files"]
    assert "/etc/cron.daily/acct" in manifest["files"]
    shadow = host.check_output("cut -d: -f2 /etc/shadow").split()
    text = json.dumps(manifest)
    assert not [field for field in shadow if len(field) > 2 and field in text]
    assert {"proto": "tcp", "address": "0.0.0.0", "port": 22, "uid": 0, "process": "sshd"} in manifest["listening"] \
        or not host.socket("tcp://0.0.0.0:22").is_listening


def test_baseline_sees_a_planted_key_and_forgets_nothing_after_removal(host):
    host.check_output("install -d -m 0700 /root/.ssh && echo 'ssh-ed25519 AAAAplanted qn-test' >> /root/.ssh/authorized_keys")
    try:
        result = host.ansible("quietnode.baseline.persistence_baseline", "state_dir=%s" % BASELINE_DIR, check=True)
    finally:
        host.check_output("sed -i '/qn-test$/d' /root/.ssh/authorized_keys")
    assert result["changed"]
    touched = result["difference"]["added"] + [row["path"] for row in result["difference"]["changed"]]
    assert "/root/.ssh/authorized_keys" in touched


def test_baseline_audit_watches(host):
    rules = host.file("/etc/audit/rules.d/60-quietnode-persist.rules").content_string
    assert "-w /etc/profile.d -p wa -k quietnode_persist" in rules
    assert "-w /etc/ld.so.preload -p wa -k quietnode_persist" in rules
    assert "-w /root/.bashrc -p wa -k quietnode_persist" in rules
    # Paths roles/auditd already watches are not watched twice.
    assert "/etc/sudoers" not in rules and "/.ssh" not in rules


# ---- the evidence bundle's atop and baseline members -----------------------------------------------

def _member(host, bundle, name):
    return host.check_output("tar -xOzf %s --wildcards '*/%s'", bundle, name)


def test_bundle_holds_process_history_and_persistence_difference(host):
    """The collector decodes atop for the window and compares the newest snapshot with the host, on the host."""
    host.check_output("cp /bin/sleep /var/tmp/qnbundled && /var/tmp/qnbundled 1 && rm -f /var/tmp/qnbundled")
    raw = _raw_file(host)
    # Until atop has written the sample with its exit (state E): a sample taken during the sleep shows it
    # still running, and under load the exit may fall in the next one.
    _wait(lambda: "(qnbundled) E " in host.run("atop -r %s -P PRG", raw).stdout, 150, step=5)
    host.check_output("echo 'ssh-ed25519 AAAAplanted qn-bundle' >> /root/.ssh/authorized_keys")
    try:
        result = host.ansible("quietnode.baseline.evidence_bundle",
                              "since=-15m dest=/var/tmp/qn-verify include=live,acct,atop,audit,baseline",
                              check=False, become=True)
    finally:
        host.check_output("sed -i '/qn-bundle$/d' /root/.ssh/authorized_keys")
    bundle = result["bundle"]
    try:
        readiness = dict((r["recorder"], r) for r in result["readiness"])
        assert readiness["atop"]["status"] == "on", readiness["atop"]
        assert readiness["persistence baseline"]["status"] == "on"
        # a container cannot run auditd: readiness names what that leaves unanswered
        assert readiness["auditd"]["unanswerable"]
        rows = [json.loads(line) for line in _member(host, bundle, "atop/processes.jsonl").splitlines()]
        ended = [r for r in rows if r["name"] == "qnbundled"]
        assert ended and ended[-1]["exited"] and ended[-1]["user"] == "root", rows[-3:]
        diff = json.loads(_member(host, bundle, "baseline/diff.json"))
        keys = diff["surfaces"]["authorized_keys"]
        item = [i for i in keys["changed"] + keys["added"] if i["path"] == "/root/.ssh/authorized_keys"][0]
        assert "ssh-ed25519 AAAAplanted qn-bundle" in item.get("lines_added", item.get("lines_now", []))
        assert json.loads(_member(host, bundle, "baseline/snapshot.json"))["files"]
        session = json.loads(_member(host, bundle, "summary/own_session.json"))
        assert session["collector_pid"] and session["chain"][0]["comm"].startswith("python")
    finally:
        host.check_output("rm -rf /var/tmp/qn-verify")


# ---- sysstat journal noise ---------------------------------------------------------------------------

def test_sysstat_collect_logs_no_per_sample_lines(host):
    assert host.check_output("systemctl show -p LogLevelMax --value sysstat-collect.service") == "5"
    since = int(host.check_output("stat -c %Y /etc/systemd/system/sysstat-collect.service.d/50-quietnode.conf")) + 2

    def samples_since():
        last = host.check_output(
            "date -d \"$(systemctl show -p ExecMainExitTimestamp --value sysstat-collect.service)\" +%s || echo 0")
        return int(last) > since + 61

    assert _wait(samples_since, 150, step=5)
    lines = host.check_output("journalctl -q -u sysstat-collect.service --since @%s | wc -l", str(since))
    assert lines == "0", host.check_output("journalctl -q -u sysstat-collect.service --since @%s", str(since))
