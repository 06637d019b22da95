"""Controller side of check_vars: the argument specs it reads."""

import glob
import os

import pytest
import yaml

from ansible_collections.quietnode.baseline.plugins.action import check_vars

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
SPECS = sorted(glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")))


def test_every_role_has_a_spec_to_read():
    assert len(SPECS) >= 13


@pytest.mark.parametrize("path", SPECS, ids=[p.split(os.sep)[-3] for p in SPECS])
def test_the_fast_loader_reads_each_spec_as_the_safe_loader_does(path):
    with open(path) as handle:
        text = handle.read()
    assert yaml.load(text, Loader=check_vars._LOADER) == yaml.safe_load(text)


SPEC = """---
argument_specs:
  main:
    short_description: Fixture
    options:
      fixture_count:
        type: int
        description: A count.
      fixture_names:
        type: list
        elements: str
        description: Names.
"""

# Each case runs the real action in a real play. The third rule's message names a variable that does not exist,
# so templating it when it is not needed fails the run.
PLAYBOOK = """---
- name: Fixture play
  hosts: all
  gather_facts: false
  tasks:
    - name: Check the fixture's variables
      quietnode.baseline.check_vars:
        spec: "{spec}"
        that:
          - that: fixture_count | int >= 10
            msg: fixture_count must be at least 10 (got {{{{ fixture_count }}}}).
          - that: fixture_names | length > 0
            msg: fixture_names must name one at least.
          - that: fixture_count | int < 100
            msg: fixture_count must be below 100 (got {{{{ fixture_count }}}}){{{{ no_such_variable }}}}.
      register: outcome
      ignore_errors: true

    - name: Keep the outcome for the test
      ansible.builtin.copy:
        content: "{{{{ outcome | to_json }}}}"
        dest: "{out}"
        mode: "0600"
"""


def _run(tmp_path, extra):
    import json
    import subprocess
    import sys

    (tmp_path / "fixture" / "meta").mkdir(parents=True)
    spec = tmp_path / "fixture" / "meta" / "argument_specs.yml"  # as in a role, whose name the messages give
    spec.write_text(SPEC)
    out = tmp_path / "outcome.json"
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK.format(spec=spec, out=out))
    inventory = tmp_path / "hosts"
    inventory.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_STRATEGY="linear")
    cli = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    proc = subprocess.run([cli, "-i", str(inventory), str(playbook), "-e", json.dumps(extra)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout
    return json.loads(out.read_text())


def test_values_in_range_pass(tmp_path):
    outcome = _run(tmp_path, {"fixture_count": 12, "fixture_names": ["a"]})
    assert not outcome.get("failed") and outcome["changed"] is False
    assert outcome["checked"] == ["fixture_count", "fixture_names"]


def test_a_value_out_of_range_fails_with_its_rules_message(tmp_path):
    outcome = _run(tmp_path, {"fixture_count": 3, "fixture_names": ["a"]})
    assert outcome["failed"] is True
    assert outcome["msg"] == "fixture: fixture_count must be at least 10 (got 3). Nothing was changed."
    assert outcome["assertion"] == "fixture_count | int >= 10"
    assert outcome["assertions"] == ["fixture_count | int >= 10"]


def test_the_second_condition_is_checked_too(tmp_path):
    outcome = _run(tmp_path, {"fixture_count": 12, "fixture_names": []})
    assert outcome["failed"] is True and outcome["assertion"] == "fixture_names | length > 0"
    assert outcome["msg"] == "fixture: fixture_names must name one at least. Nothing was changed."


def test_each_false_condition_is_named_and_only_those(tmp_path):
    outcome = _run(tmp_path, {"fixture_count": 3, "fixture_names": []})
    assert outcome["failed"] is True
    assert outcome["msg"] == ("fixture: fixture_count must be at least 10 (got 3). "
                              "fixture_names must name one at least. Nothing was changed.")
    assert outcome["assertions"] == ["fixture_count | int >= 10", "fixture_names | length > 0"]


def test_a_wrong_type_is_named_before_any_range_is_read(tmp_path):
    # Read as ranges, 300 breaks the third rule, whose message would fail to template: neither may happen.
    outcome = _run(tmp_path, {"fixture_count": 300, "fixture_names": "abc"})
    assert outcome["failed"] is True
    assert outcome["msg"].startswith("fixture: fixture_names must be a list, got the string 'abc'.")
    assert "assertion" not in outcome
