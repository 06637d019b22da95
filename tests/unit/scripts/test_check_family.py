"""tests/scripts/check_family.py fails Debian-only names in shared steps and passes per-platform data."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SCRIPT = os.path.join(ROOT, "tests", "scripts", "check_family.py")
sys.path.insert(0, os.path.dirname(SCRIPT))
import check_family  # noqa: E402  pylint: disable=wrong-import-position

GOOD_TASKS = """---
# apt's lock and ssh.service are named in this comment only.
- name: Restart sshd
  ansible.builtin.systemd_service:
    name: "{{ __role_ssh_service }}"
    state: restarted
- name: Install the tools
  ansible.builtin.package:
    name: "{{ __role_packages }}"
- name: A message that says "#" is fine
  ansible.builtin.debug:
    msg: "sshd-session and openssh-clients are EL names"
"""

BAD_TASKS = """---
- name: Refresh the index
  ansible.builtin.apt:
    update_cache: true
- name: Restart sshd
  ansible.builtin.systemd_service:
    name: ssh.service
- name: Reload the unit by its short name
  ansible.builtin.service:
    name: ssh
- name: Read the auth log
  ansible.builtin.command: tail /var/log/auth.log  # not on EL
- name: Install clients
  ansible.builtin.package:
    name: [nmap, netcat-openbsd, openssh-client]
- name: Set a default
  ansible.builtin.lineinfile:
    path: /etc/default/sysstat
    line: ENABLED="true"
- name: Short module name
  apt:
    name: curl
"""

DEBIAN_VARS = """---
__role_ssh_service: ssh.service
__role_packages: [openssh-client, netcat-openbsd]
__role_defaults: /etc/default/acct
"""


def make_tree(tmp_path, files):
    for relpath, text in files.items():
        path = tmp_path / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return str(tmp_path)


def run(root):
    return subprocess.run([sys.executable, SCRIPT, root], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)


def test_good_tree_passes(tmp_path):
    root = make_tree(tmp_path, {
        "roles/demo/tasks/main.yml": GOOD_TASKS,
        "roles/demo/vars/Debian.yml": DEBIAN_VARS,
        "roles/demo/vars/Debian_13.yml": DEBIAN_VARS,
        "molecule/shared/vars/Ubuntu.yml": DEBIAN_VARS,
        "molecule/shared/tasks/Debian.yml": "---\n- name: Refresh\n  ansible.builtin.apt:\n    update_cache: true\n",
    })
    proc = run(root)
    assert proc.returncode == 0, proc.stdout
    assert "no Debian-only names outside per-platform data (0 allowed)" in proc.stdout


def test_bad_tree_fails_naming_each_line(tmp_path):
    root = make_tree(tmp_path, {"molecule/demo/prepare.yml": BAD_TASKS})
    proc = run(root)
    assert proc.returncode == 1
    expected = [
        "molecule/demo/prepare.yml:3: Debian-only module 'apt'",
        "molecule/demo/prepare.yml:7: Debian unit name (EL: sshd) 'ssh.service'",
        "molecule/demo/prepare.yml:10: Debian unit name (EL: sshd) 'ssh'",
        "molecule/demo/prepare.yml:12: Debian-only path '/var/log/auth.log'",
        "molecule/demo/prepare.yml:15: Debian-only package 'netcat-openbsd'",
        "molecule/demo/prepare.yml:15: Debian-only package 'openssh-client'",
        "molecule/demo/prepare.yml:18: Debian-only path '/etc/default/sysstat'",
        "molecule/demo/prepare.yml:21: Debian-only module 'apt'",
    ]
    findings = [line.split(" outside")[0] for line in proc.stdout.splitlines() if " outside " in line]
    assert findings == expected, proc.stdout
    assert "check_family: 8 Debian-only name(s) in shared steps" in proc.stdout


def test_playbooks_are_scanned(tmp_path):
    root = make_tree(tmp_path, {"playbooks/site.yml": BAD_TASKS})
    proc = run(root)
    assert proc.returncode == 1
    assert "playbooks/site.yml:3: Debian-only module 'apt' outside per-platform data" in proc.stdout
    assert "check_family: 8 Debian-only name(s) in shared steps" in proc.stdout


def test_vars_main_is_not_platform_data(tmp_path):
    root = make_tree(tmp_path, {"roles/demo/vars/main.yml": DEBIAN_VARS})
    assert run(root).returncode == 1


def test_allowlist_reports_without_failing(tmp_path):
    root = make_tree(tmp_path, {
        "molecule/demo/prepare.yml": BAD_TASKS,
        "tests/scripts/check_family.allow": "# comment\nmolecule/demo/prepare.yml: fixed by its owner at merge\n",
    })
    proc = run(root)
    assert proc.returncode == 0, proc.stdout
    assert "(allowed: fixed by its owner at merge)" in proc.stdout
    assert "(8 allowed)" in proc.stdout


def test_allowlist_line_without_reason_is_refused(tmp_path):
    root = make_tree(tmp_path, {"tests/scripts/check_family.allow": "molecule/demo/prepare.yml\n"})
    with pytest.raises(ValueError, match="write PATH: REASON"):
        check_family.load_allowlist(root)


@pytest.mark.parametrize("line, expected", [
    ("name: ssh.service  # Debian", "name: ssh.service  "),
    ("msg: \"a # in quotes\" # comment", "msg: \"a # in quotes\" "),
    ("# whole line", ""),
    ("url: http://x/#frag", "url: http://x/#frag"),
], ids=["trailing", "quoted-hash", "whole-line", "hash-in-word"])
def test_strip_comment(line, expected):
    assert check_family.strip_comment(line) == expected


def test_this_checkout_passes():
    proc = run(ROOT)
    assert proc.returncode == 0, proc.stdout
