"""What only a real kernel shows: audit rules loaded and firing, their events in a collected
evidence bundle, and the baseline back after a reboot.

Every role checked here must be in playbooks/site.yml: a role dropped from it fails its
checks rather than skipping them.
"""
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
import time
import uuid

import pytest
import yaml

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
REBOOT_TIMEOUT = 240  # seconds: TCG shutdown plus boot measured at about 70 s
EVENT_WAIT = 15  # seconds for auditd to flush an event to its log
COLLECT_TIMEOUT = 900  # seconds for collect_evidence.yml under TCG (about 2 minutes measured)


def _site_roles():
    with open(os.path.join(PROJECT, "playbooks", "site.yml")) as f:
        plays = yaml.safe_load(f)
    names = set()
    for play in plays:
        for entry in play.get("roles", []):
            name = entry["role"] if isinstance(entry, dict) else entry
            names.add(name.split(".")[-1])
    return names


SITE_ROLES = _site_roles()


def need(*roles):
    missing = [r for r in roles if r not in SITE_ROLES]
    if missing:
        pytest.fail("role %s is not in playbooks/site.yml, so the VM cannot check it" % ", ".join(missing))


def role_default(role, var):
    with open(os.path.join(PROJECT, "roles", role, "defaults", "main.yml")) as f:
        return yaml.safe_load(f)[var]


def audit_rules(host):
    return host.check_output("auditctl -l").splitlines()


def key_of(rule):
    m = re.search(r"(?:-k |key=)(\S+)", rule)
    return m.group(1) if m else None


def rule_key(host, predicate, what):
    rules = audit_rules(host)
    for rule in rules:
        if predicate(rule) and key_of(rule):
            return key_of(rule)
    pytest.fail("no loaded audit rule with a key %s; auditctl -l:\n%s" % (what, "\n".join(rules)))


def wait_for_event(host, key, needle):
    deadline = time.time() + EVENT_WAIT
    while True:
        # --input-logs: without a terminal on stdin, ausearch reads stdin instead of the logs.
        out = host.run("ausearch --input-logs -i -k %s" % key).stdout
        if needle in out or time.time() > deadline:
            return out
        time.sleep(1)


def state(host):
    """What must survive a reboot, for the roles site.yml holds."""
    snap = {"boot_id": host.file("/proc/sys/kernel/random/boot_id").content_string.strip()}
    if "firewall" in SITE_ROLES:
        snap["firewalld"] = host.service("firewalld").is_running
        snap["zone"] = host.run("firewall-cmd --get-default-zone").stdout.strip()
    if "blocklist" in SITE_ROLES:
        table = role_default("blocklist", "blocklist_table")
        snap["blocklist"] = host.run("nft list table inet %s" % table).stdout
    if "auditd" in SITE_ROLES:
        snap["audit_rules"] = sorted(audit_rules(host))
    if "sysstat" in SITE_ROLES:
        snap["sysstat_timer"] = host.run("systemctl is-active sysstat-collect.timer").stdout.strip()
    return snap


@pytest.fixture(scope="module")
def before(host):
    return state(host)


def _reboot(host, tries=3):
    """The reboot action, tried again only when its first connection found no SSH answer (ansible exits 4,
    UNREACHABLE, before anything ran): on a loaded machine the TCG VM's sshd has let a new login's banner
    wait past the 120 s connect timeout, seconds after other logins worked (CI simulation, 2026-12-06).
    A reboot that ran and then timed out is a failure (exit 2) and is never retried."""
    for attempt in range(1, tries + 1):
        try:
            return host.ansible("ansible.builtin.reboot", "reboot_timeout=%d connect_timeout=10" % REBOOT_TIMEOUT,
                                check=False, become=True)
        except AssertionError as exc:  # testinfra raises on exit codes other than 0, 2 and 8
            if "exit code 4" not in str(exc) or attempt == tries:
                raise
            print("reboot: no SSH answer before rebooting (attempt %d), trying again in 30 s" % attempt)
            time.sleep(30)


@pytest.fixture(scope="module")
def after(host, before):
    """Reboot once (after the pre-reboot tests) and return the state once the VM is back."""
    start = time.time()
    # The plain linear strategy for this one call: the reboot action resets its connection in a loop
    # while the VM is down, which Mitogen's connections (fast_linear) do not survive.
    os.environ["ANSIBLE_STRATEGY"] = "linear"
    try:
        res = _reboot(host)
    finally:
        del os.environ["ANSIBLE_STRATEGY"]
    assert not res.get("failed"), res
    host.run("timeout 180 systemctl is-system-running --wait")
    print("reboot took %ds" % (time.time() - start))
    return state(host)


# --- before the reboot -------------------------------------------------------------

def test_audit_rules_are_loaded_in_the_kernel(host):
    need("auditd")
    rules = audit_rules(host)
    assert len(rules) >= 10 and "No rules" not in rules[0], rules
    assert any("/etc/sudoers" in r for r in rules), rules
    assert any("/.ssh" in r for r in rules), rules
    assert host.service("auditd").is_running


def test_a_write_to_sudoers_d_is_audited(host):
    need("auditd")
    key = rule_key(host, lambda r: "/etc/sudoers.d" in r, "watching /etc/sudoers.d")
    probe = "/etc/sudoers.d/qn-probe-%s" % uuid.uuid4().hex[:8]
    host.run_expect([0], "printf '# quietnode audit probe\\n' > %s && chmod 0440 %s && rm -f %s" % (probe, probe, probe))
    out = wait_for_event(host, key, os.path.basename(probe))
    assert os.path.basename(probe) in out, "no %s event for %s:\n%s" % (key, probe, out[-2000:])


def test_an_execution_from_tmp_is_audited(host):
    need("auditd")
    key = rule_key(host, lambda r: "execve" in r and re.search(r"dir=/tmp( |$)", r), "for execve from /tmp")
    probe = "/tmp/qn-probe-%s" % uuid.uuid4().hex[:8]
    host.run_expect([0], "cp /bin/true %s && chmod 0755 %s && %s && rm -f %s" % (probe, probe, probe, probe))
    out = wait_for_event(host, key, os.path.basename(probe))
    assert os.path.basename(probe) in out, "no %s event for %s:\n%s" % (key, probe, out[-2000:])


# --- evidence: collect_evidence.yml against the VM, as the admin the baseline left -------

def decoded_audit_export(tar):
    """Text of the bundle's decoded (ausearch -i) audit export for the window.

    The one place that names that member, so a change of the bundle layout is one edit here.
    """
    for member in tar.getmembers():
        if member.isfile() and member.name.endswith("/audit/ausearch.txt"):
            return tar.extractfile(member).read().decode("utf-8", "replace")
    pytest.fail("no decoded audit export in the bundle; audit members: %s"
                % [m.name for m in tar.getmembers() if "audit" in m.name])


def raw_audit_records(tar):
    """member name -> text, for every member holding raw audit records (type=... msg=audit(...))."""
    raw = {}
    for member in tar.getmembers():
        if member.isfile() and ("/var/log/audit/" in member.name or "/audit/" in member.name):
            text = tar.extractfile(member).read().decode("utf-8", "replace")
            if re.search(r"^type=\S+ msg=audit\(\d+\.\d+:\d+\)", text, re.M):
                raw[member.name] = text
    return raw


def collect_evidence(workdir, since, *options, timeout=COLLECT_TIMEOUT):
    """collect_evidence.yml as the README writes it, run from workdir (its default ./evidence), for the window
    from the epoch since; returns the run's output and the one fetched bundle. The incident tests use it too."""
    inventory = os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
    cmd = [shutil.which("ansible-playbook") or "ansible-playbook"] + list(options) + [
        "-i", inventory, os.path.join(PROJECT, "playbooks", "collect_evidence.yml"),
        "-e", "since=@%d" % since, "-e", json.dumps({"exclude": ["integrity"]})]
    run = subprocess.run(cmd, cwd=str(workdir), capture_output=True, text=True, timeout=timeout)
    log = run.stdout + run.stderr
    (workdir / "collect.log").write_text(log)
    assert run.returncode == 0, "collect_evidence.yml failed (log in %s):\n%s" % (workdir, log[-4000:])
    bundles = sorted((workdir / "evidence" / "quietnode-vm").glob("*/evidence-*.tar.gz"))
    assert len(bundles) == 1, (bundles, log[-2000:])
    return log, bundles[0]


@pytest.fixture(scope="module")
def evidence(host, tmp_path_factory):
    """Plant an execution from /tmp, then run collect_evidence.yml with the default local directory.

    Returns the planted program's name, the -vvv output, the run's directory and the fetched bundle.
    """
    need("auditd")
    key = rule_key(host, lambda r: "execve" in r and re.search(r"dir=/tmp( |$)", r), "for execve from /tmp")
    since = int(host.check_output("date +%s")) - 60
    probe = "/tmp/qn-evidence-%s" % uuid.uuid4().hex[:8]
    host.run_expect([0], "cp /bin/true %s && chmod 0755 %s && %s && rm -f %s" % (probe, probe, probe, probe))
    out = wait_for_event(host, key, os.path.basename(probe))
    assert os.path.basename(probe) in out, "the planted execution never reached the audit log:\n%s" % out[-2000:]

    # The default local_dir (./evidence) is relative to where the playbook is run from.
    workdir = tmp_path_factory.mktemp("collect")
    log, bundle = collect_evidence(workdir, since, "-vvv")
    return {"probe": os.path.basename(probe), "log": log, "workdir": workdir, "bundle": bundle}


def test_the_bundle_streams_to_the_controller_without_slurp(host, evidence):
    log = evidence["log"]
    # The user converge.yml recorded after ssh_lockdown (testinfra itself runs commands through sudo).
    with open(os.environ["MOLECULE_INSTANCE_CONFIG"]) as f:
        login = yaml.safe_load(f)[0]["user"]
    assert login != "root", "the VM should be reached as the admin after ssh_lockdown, got %s" % login
    assert "ESTABLISH SSH CONNECTION FOR USER: %s" % login in log
    # -vvv names every module it runs and every file transfer: slurp would hold the bundle in memory.
    assert "AnsiballZ_slurp" not in log and "modules/slurp.py" not in log, "the bundle was slurped"
    # The connection logs FETCH only when it copies the file itself, never after a slurp.
    fetched = re.search(r"FETCH (\S+\.tar\.gz) TO (\S+)", log)
    assert fetched and fetched.group(2) == str(evidence["bundle"]), log[-3000:]
    transfer = re.search(r"SSH: EXEC (sftp|scp) ", log[fetched.end():])
    assert transfer and "\nTASK [" not in log[fetched.end():fetched.end() + transfer.start()], \
        "no sftp/scp transfer follows the FETCH"
    # Handed over to the login user on the VM, 0600, in a directory that user owns.
    remote = host.file(fetched.group(1))
    assert (remote.user, remote.mode) == (login, 0o600), (remote.user, oct(remote.mode))
    assert host.file(os.path.dirname(fetched.group(1))).user == login


def test_the_fetched_bundle_is_private_on_the_controller(evidence):
    bundle = evidence["bundle"]
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(bundle) + ".sha256").st_mode) == 0o600
    # evidence/, evidence/<host>/ and evidence/<host>/<stamp>/ were all created by the play.
    for directory in (bundle.parent, bundle.parent.parent, bundle.parent.parent.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert bundle.parent.parent.parent == evidence["workdir"] / "evidence"


def test_the_planted_execution_is_in_the_raw_audit_logs_of_the_bundle(evidence):
    with tarfile.open(str(evidence["bundle"])) as tar:
        raw = raw_audit_records(tar)
    assert raw, "no raw audit records in the bundle"
    holding = [name for name, text in raw.items() if evidence["probe"] in text]
    assert holding, "planted %s not in the raw audit members %s" % (evidence["probe"], sorted(raw))


def test_the_planted_execution_is_in_the_decoded_audit_export(evidence):
    with tarfile.open(str(evidence["bundle"])) as tar:
        decoded = decoded_audit_export(tar)
    assert decoded.strip(), "the decoded audit export for the window is empty"
    assert evidence["probe"] in decoded, "planted %s not in the decoded export:\n%s" % (evidence["probe"], decoded[-2000:])


def test_the_state_to_compare_after_the_reboot_is_real(host, before):
    # A snapshot of nothing would make the reboot comparison pass vacuously.
    if "firewall" in SITE_ROLES:
        assert before["firewalld"] and before["zone"], before
    if "blocklist" in SITE_ROLES:
        assert "192.0.2.0/24" in before["blocklist"], before["blocklist"]
    if "sysstat" in SITE_ROLES:
        assert before["sysstat_timer"] == "active", before


# --- after one reboot --------------------------------------------------------------

def test_the_vm_really_rebooted(before, after):
    assert after["boot_id"] != before["boot_id"]


def test_firewall_is_back_after_reboot(host, before, after):
    need("firewall")
    assert after["firewalld"], "firewalld is not running after the reboot"
    assert after["zone"] == before["zone"], (before["zone"], after["zone"])


def test_blocklist_is_back_after_reboot(host, before, after):
    need("blocklist")
    assert "192.0.2.0/24" in after["blocklist"] and "2001:db8::/32" in after["blocklist"], after["blocklist"]


def test_audit_rules_are_back_after_reboot(host, before, after):
    need("auditd")
    assert after["audit_rules"] == before["audit_rules"]


def test_sysstat_collection_is_back_after_reboot(host, before, after):
    need("sysstat")
    assert after["sysstat_timer"] == "active"


def test_the_journal_kept_the_previous_boot(host, after):
    need("journald")
    boots = host.check_output("journalctl --list-boots --no-pager").strip().splitlines()
    assert len(boots) >= 2, boots
