"""Every later run of the collection's playbooks with the unedited day-one inventory.

The inventory still says root with a password; root login is off after converge. Each run is a
real ansible-playbook over real SSH from the controller, and its output is read as a user
reads it: no UNREACHABLE, no red [ERROR], no ignored failures, no warnings on the normal path.
"""

import json
import os
import re
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
import qn_run  # noqa: E402  pylint: disable=wrong-import-position

DISTRO = os.environ.get("MOLECULE_DISTRO", "debian12")
CONTAINER = "access-%s" % DISTRO
ADDR = "10.222.55.10"
EPHEMERAL = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]
INVENTORY = os.environ.get("MOLECULE_INVENTORY_FILE", os.path.join(EPHEMERAL, "inventory"))
PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
KEY = os.path.join(EPHEMERAL, "qn_throwaway_admin_ed25519")
SSH_OPTS = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes"]
# Ansible keeps master connections for 120 s (ansible.cfg): runs here reuse them as a user's would.
CONTROL_DIR = os.path.join(EPHEMERAL, "cp")

testinfra_hosts = ["docker://%s" % CONTAINER]


def playbook(name, *args, timeout=600):
    """Run one of the collection's playbooks as a user would, against the scenario inventory."""
    return qn_run.playbook(["-i", INVENTORY, os.path.join(PROJECT, "playbooks", name)] + list(args),
                           os.path.join(PROJECT, "ansible.cfg"), timeout=timeout, cwd=EPHEMERAL,
                           ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1", ANSIBLE_SSH_CONTROL_PATH_DIR=CONTROL_DIR)


def recap(output):
    """The PLAY RECAP counters of the one host."""
    for line in output.splitlines():
        if line.startswith(CONTAINER + " ") and "ok=" in line:
            return dict(part.split("=") for part in line.split(":", 1)[1].split())
    raise AssertionError("no PLAY RECAP line in:\n" + output[-3000:])


def assert_quiet(rc, output):
    assert rc == 0, output[-4000:]
    counts = recap(output)
    assert counts["unreachable"] == "0" and counts["failed"] == "0" and counts["ignored"] == "0", counts
    # Python's own warnings too (a library's DeprecationWarning opened every run once): "...Warning: ..." lines.
    noisy = [line for line in output.splitlines()
             if any(noise in line for noise in ("UNREACHABLE", "[ERROR]", "[WARNING]", "FAILED!"))
             or re.search(r"\w+Warning: ", line)]
    assert not noisy, "a normal run printed:\n" + "\n".join(noisy)


# The roles' install tasks that package_index_installed lets a converged host skip.
INSTALLS = ("firewall : Install firewalld", "fail2ban : Install fail2ban", "sysstat : Install sysstat",
            "process_accounting : Install process accounting", "auditd : Install auditd", "atop : Install atop",
            "connlog : Install nftables")


def task_status(output, name):
    """ok, changed, skipping or failed: the first result line after the task named (by its start)."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("TASK [quietnode.baseline.%s" % name):
            for after in lines[index + 1:]:
                word = after.split(":", 1)[0]
                if word in ("ok", "changed", "skipping", "fatal"):
                    return word
    raise AssertionError("no task %r in:\n%s" % (name, output[-3000:]))


def ssh(user, command="true", port=22):
    return subprocess.run(["ssh"] + SSH_OPTS + ["-i", KEY, "-p", str(port), "%s@%s" % (user, ADDR), command],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=30,
                          check=False)


def test_root_login_is_off_and_the_admin_gets_in():
    assert ssh("root").returncode != 0
    assert ssh("qnadmin", "sudo -n true").returncode == 0


def test_a_quick_rerun_is_quiet_and_changes_nothing():
    # Twice, so the second run goes through the master connections the first one left open.
    for _ in range(2):
        rc, out = playbook("site.yml")
        assert_quiet(rc, out)
        assert recap(out)["changed"] == "0", out[-4000:]
    assert "Log in from now on with a key, as qnadmin on port 22" in out
    # package_index's list of installed names is what lets each role skip its package manager call.
    for install in INSTALLS:
        assert task_status(out, install) == "skipping", install


def test_a_run_with_tags_that_skip_ssh_lockdown_still_logs_in(host):
    # A real firewall change (then back): the reload is proven by a fresh login, with no warning.
    for extra, opened in (('{"firewall_services": ["http"]}', True), ("{}", False)):
        rc, out = playbook("site.yml", "--tags", "firewall", "-e", extra)
        assert_quiet(rc, out)
        assert "Log in afresh over SSH from the controller, as the login in use" in out
        assert recap(out)["changed"] != "0"
        services = host.check_output("firewall-cmd --list-services").split()
        assert ("http" in services) is opened


def test_check_mode_with_tags_is_quiet():
    rc, out = playbook("site.yml", "--check", "--tags", "sysstat")
    assert_quiet(rc, out)
    assert recap(out)["changed"] == "0", out[-4000:]


def test_collect_evidence_as_the_readme_writes_it():
    # The README's commands, with its default ./evidence in the directory the playbook runs from.
    local = os.path.join(EPHEMERAL, "evidence")

    def fetched():
        return set(os.path.join(root, name) for root, _dirs, files in os.walk(local) for name in files
                   if name.endswith(".tar.gz"))

    before = fetched()
    rc, out = playbook("collect_evidence.yml", "-l", CONTAINER, "-e", "since=-1h",
                       "-e", "remove_remote=true", "-e", json.dumps({"exclude": ["integrity"]}))
    assert_quiet(rc, out)
    bundles = sorted(fetched() - before)
    assert len(bundles) == 1, out[-4000:]
    assert os.stat(bundles[0]).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(bundles[0])).st_mode & 0o777 == 0o700
    # -l names the host only: the report is still written next to its bundle, and the fleet index.
    assert os.path.isfile(os.path.join(os.path.dirname(bundles[0]), "report.html")), out[-4000:]
    assert os.path.isfile(os.path.join(local, "index.html")), out[-4000:]


def test_no_login_works_fails_before_any_change_with_the_fix(host):
    before = host.check_output("sha256sum /etc/ssh/sshd_config.d/*.conf")
    rc, out = playbook("site.yml", "-e", "ansible_ssh_private_key_file=/nonexistent-key",
                       "-e", "ansible_password=wrong-password")
    assert rc != 0
    assert "connection: no login to %s works now" % ADDR in out, out[-4000:]
    assert "Nothing was changed." in out
    assert "UNREACHABLE" not in out
    assert recap(out)["changed"] == "0"
    assert host.check_output("sha256sum /etc/ssh/sshd_config.d/*.conf") == before


def test_missing_become_password_is_caught_before_any_change(host):
    rc, out = playbook("collect_evidence.yml", "-e", "connection_admin_user=qnpwsudo", "-e", "since=-1h")
    assert rc != 0
    assert "connection: qnpwsudo logs in to %s but sudo asks for a password and none was given" % ADDR in out, \
        out[-4000:]
    assert "Nothing was changed." in out
    assert not host.file("/var/tmp/quietnode-evidence").exists or \
        host.check_output("find /var/tmp/quietnode-evidence -name '*.tar.gz' -mmin -5") == ""


@pytest.mark.parametrize("user", ["qnadmin", "qnpwsudo"])
def test_password_logins_are_refused_to_every_allowed_user(user):
    out = subprocess.run(["ssh"] + SSH_OPTS + ["-o", "PreferredAuthentications=none", "%s@%s" % (user, ADDR), "true"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=30,
                         check=False).stdout
    assert "Permission denied (publickey)" in out, out


def test_sudo_password_needed_later_is_caught_before_sshd_changes(host):
    before = host.check_output("sha256sum /etc/ssh/sshd_config.d/*.conf /etc/sudoers.d/*")
    admins = [{"name": "qnadmin", "key_files": [KEY + ".pub"], "sudo": "password",
               "password_hash": "$6$qnsalt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefgh"}]
    rc, out = playbook("site.yml", "-e", json.dumps({"ssh_lockdown_admin_users": admins}))
    assert rc != 0
    assert "ssh_lockdown: qnadmin gets sudo: password in ssh_lockdown_admin_users" in out, out[-4000:]
    assert "Nothing was changed." in out and "UNREACHABLE" not in out
    assert host.check_output("sha256sum /etc/ssh/sshd_config.d/*.conf /etc/sudoers.d/*") == before


# A wrong type is caught by the first task of the first play, before any role runs; a range a type cannot express
# by the first task of the role that reads it (in the same check as its types).
BAD_SETTINGS = [
    ('{"sysstat_collect_groups": "DISK"}', "sysstat_collect_groups must be a list, got the string 'DISK'", True),
    ('{"firewall_services": "http"}', "firewall_services must be a list, got the string 'http'", True),
    ('{"ssh_lockdown_admin_users": "alice"}', "ssh_lockdown_admin_users must be a list, got the string 'alice'", True),
    ('{"quietnode_management_allowlist": ["300.1.2.3"]}', "quietnode_management_allowlist holds '300.1.2.3'", True),
    ('{"firewall_ports": ["99999/tcp"]}', "firewall_ports holds '99999/tcp'", True),
    # Only the broken rule is named: "firewall: " is followed by it, then the end of the message.
    ('{"firewall_rollback_delay": 5}',
     "firewall: firewall_rollback_delay must be at least 15 seconds (got 5). Nothing was changed.", False),
    ('{"atop_interval_seconds": 5}',
     "atop: atop_interval_seconds must be at least 10 seconds (got 5). Nothing was changed.", False),
]
WATCHED = "cat /etc/sysstat/sysstat /etc/firewalld/zones/*.xml /etc/ssh/sshd_config.d/*.conf /etc/default/atop | sha256sum"


@pytest.mark.parametrize("extra,message,before_any_role", BAD_SETTINGS, ids=[m.split()[0] for _e, m, _f in BAD_SETTINGS])
def test_bad_settings_fail_naming_the_variable(host, extra, message, before_any_role):
    before = host.check_output(WATCHED)
    rc, out = playbook("site.yml", "-e", extra)
    assert rc != 0
    said = " ".join(out.split())  # the result callback wraps long messages
    assert message in said and "Nothing was changed." in said, out[-3000:]
    assert ("TASK [quietnode.baseline.ssh_lockdown" not in out) == before_any_role
    assert recap(out)["changed"] == "0" and recap(out)["failed"] == "1"
    assert host.check_output(WATCHED) == before
