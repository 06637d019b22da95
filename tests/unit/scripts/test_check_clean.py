"""tests/scripts/check_clean.py fails a check-mode run that would change a host, and passes a clean one."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SCRIPT = os.path.join(ROOT, "tests", "scripts", "check_clean.py")

PLAYBOOK = """---
- name: Fixture play
  hosts: all
  gather_facts: false
  tasks:
    - name: Write the probe file
      ansible.builtin.copy:
        dest: "{path}"
        content: "converged\\n"
        mode: "0644"
"""


@pytest.mark.parametrize(
    "existing, expected_rc, expected_line",
    [
        ("converged\n", 0, "check mode: no changes on 1 host(s)"),
        ("drifted\n", 1, "check mode: 1 task(s) would change a converged host"),
    ],
    ids=["converged-host-is-clean", "drifted-host-is-reported"],
)
def test_check_clean(tmp_path, existing, expected_rc, expected_line):
    probe = tmp_path / "probe.txt"
    probe.write_text(existing)
    os.chmod(str(probe), 0o644)
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK.format(path=probe))
    inventory = tmp_path / "hosts"
    inventory.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.run([sys.executable, SCRIPT, str(inventory), str(playbook)], env=env, check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, cwd=str(tmp_path))
    assert proc.returncode == expected_rc, proc.stdout + proc.stderr
    assert expected_line in proc.stdout
    if expected_rc:
        assert "would change: localhost | Fixture play | Write the probe file" in proc.stdout
    # check mode never writes
    assert probe.read_text() == existing
