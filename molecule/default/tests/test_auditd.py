"""auditd in a container: rules written and checked by auditctl's parser, kernel load and service skipped.

The kernel side (auditctl -l, ausearch after a watched write and an exec from /tmp, rules after a
reboot) is verified in the vm scenario.
"""
import json
import re

import pytest

RULES = "/etc/audit/rules.d/50-quietnode.rules"
CHECKER = "/usr/local/sbin/quietnode-audit-rules-check"
KEYS = {"identity", "sudoers", "sshd_config", "ssh_keys", "cron", "systemd_units", "exec_tmp", "modules",
        "time_change", "logins", "privileged"}


@pytest.fixture(scope="module")
def rules(host):
    return [line.strip() for line in host.file(RULES).content_string.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _key(rule):
    match = re.search(r"(?:^|\s)(?:-k\s+|-F\s+key=)(\S+)", rule)
    return match.group(1) if match else None


def test_rules_pass_the_auditctl_syntax_check(host):
    # No errors and no performance advice either (audit 4 flags -w and arch-less perm rules as slower).
    result = host.run_expect([0], "%s %s" % (CHECKER, RULES))
    assert result.stderr.strip() == ""


def test_syntax_check_rejects_a_broken_rule(host):
    # Proves the check above can fail: auditctl's parser rejects an unknown syscall and a missing arch.
    broken = host.run("cp %s /tmp/qn-broken.rules && printf '%%s\\n' '-a always,exit -F arch=b64 -S notasyscall -k x' "
                      "'-a always,exit -S adjtimex -k y' >> /tmp/qn-broken.rules && %s /tmp/qn-broken.rules"
                      % (RULES, CHECKER))
    host.run("rm -f /tmp/qn-broken.rules")
    assert broken.rc == 1
    assert "notasyscall" in broken.stderr
    assert "arch" in broken.stderr


def test_every_watch_and_syscall_rule_has_a_key(rules):
    for rule in rules:
        if rule.startswith(("-w", "-a", "-A")):
            key = _key(rule)
            assert key, "rule without a key: %s" % rule
            assert len(key) <= 31, rule


def _watched(rules, arch):
    """path or dir -> key for the watch-style rules of one architecture."""
    watched = {}
    for rule in rules:
        match = re.search(r"-F arch=%s -F (?:path|dir)=(\S+) -F perm=" % arch, rule)
        if match:
            assert match.group(1) not in watched, "watched twice: %s" % rule
            watched[match.group(1)] = _key(rule)
    return watched


def test_rules_cover_every_intrusion_path(host, rules):
    assert KEYS <= {_key(rule) for rule in rules}
    for arch in ("b64", "b32"):
        watched = _watched(rules, arch)
        # Paths absent from the host are left out of the rules (a missing directory would stop the load).
        for path, key in (("/etc/passwd", "identity"), ("/etc/shadow", "identity"), ("/etc/sudoers", "sudoers"),
                          ("/etc/ssh/sshd_config", "sshd_config"), ("/root/.ssh", "ssh_keys"),
                          ("/etc/crontab", "cron"), ("/etc/systemd/system", "systemd_units"),
                          ("/usr/lib/systemd/system", "systemd_units"), ("/etc/localtime", "time_change")):
            if host.file(path).exists:
                assert watched.get(path) == key, (arch, path)
        for directory in ("/tmp", "/var/tmp", "/dev/shm"):
            assert any("arch=%s " % arch in r and "execve" in r and "dir=%s " % directory in r for r in rules)
        assert any("arch=%s " % arch in r and "finit_module" in r for r in rules)


def test_every_setuid_program_is_a_privileged_rule(host, rules):
    found = set(host.check_output("find /usr -xdev -type f -perm /6000").split())
    for arch in ("b64", "b32"):
        covered = {path for path, key in _watched(rules, arch).items() if key == "privileged"}
        assert found and found <= covered, (arch, found - covered)


def test_retention_never_halts_the_host(host):
    conf = {}
    for line in host.file("/etc/audit/auditd.conf").content_string.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            conf[key.strip()] = value.strip().upper()
    assert conf["max_log_file_action"] == "ROTATE"
    assert int(conf["num_logs"]) >= 2
    for action in ("space_left_action", "admin_space_left_action", "disk_full_action", "disk_error_action"):
        assert conf[action] not in ("HALT", "SINGLE"), action


def test_in_a_container_auditd_is_not_started_and_the_role_says_why(host):
    if host.run("systemd-detect-virt --container").rc != 0:
        pytest.skip("not a container: the vm scenario checks the loaded rules")
    assert not host.service("auditd").is_running
    fact = json.loads(host.file("/etc/ansible/facts.d/quietnode_auditd.fact").content_string)
    assert fact["kernel_load"] == "skipped"
    assert "container" in fact["reason"] and "real kernel" in fact["reason"], fact["reason"]


def test_in_a_container_no_audit_unit_fails_and_the_host_is_not_degraded(host):
    if host.run("systemd-detect-virt --container").rc != 0:
        pytest.skip("not a container: auditd runs there")
    # Installed, yet masked before the package could start it: no failed unit is left behind.
    assert host.package("auditd" if host.system_info.distribution in ("debian", "ubuntu") else "audit").is_installed
    for unit in ("auditd.service", "audit-rules.service"):
        assert host.run("systemctl is-enabled %s" % unit).stdout.strip() == "masked", unit
        assert host.run("systemctl is-failed %s" % unit).stdout.strip() != "failed", unit
    state = host.run("systemctl is-system-running").stdout.strip()
    failed = host.run("systemctl list-units --state=failed --no-legend --plain").stdout
    assert state == "running", "is-system-running says %s; failed units:\n%s" % (state, failed)
