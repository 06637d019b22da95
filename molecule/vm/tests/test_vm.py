"""What only a real kernel shows: audit rules loaded and firing, and the baseline back after a reboot.

Every role checked here must be in playbooks/site.yml: a role dropped from it fails its
checks rather than skipping them.
"""
import os
import re
import time
import uuid

import pytest
import yaml

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
REBOOT_TIMEOUT = 240  # seconds: TCG shutdown plus boot measured at about 70 s
EVENT_WAIT = 15  # seconds for auditd to flush an event to its log


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


@pytest.fixture(scope="module")
def after(host, before):
    """Reboot once (after the pre-reboot tests) and return the state once the VM is back."""
    start = time.time()
    res = host.ansible("ansible.builtin.reboot", "reboot_timeout=%d connect_timeout=10" % REBOOT_TIMEOUT,
                       check=False, become=True)
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
