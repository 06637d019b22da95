"""Controller side of login_probe: when the probe also answers Ansible's interpreter discovery."""

import pytest

from ansible_collections.quietnode.baseline.plugins.action.login_probe import _discovers_python


@pytest.mark.parametrize("task_vars,looks", [
    ({}, True),                                                           # auto (ansible.cfg): discover
    ({"ansible_python_interpreter": "/usr/bin/python3"}, False),          # the inventory names it
    ({"ansible_facts": {"discovered_interpreter_python": "/usr/bin/python3"}}, False),  # already known
    ({"ansible_interpreter_python_fallback": ["/opt/py/bin/python3"]}, True),
], ids=["auto", "inventory-sets-it", "already-discovered", "own-fallback-list"])
def test_the_probe_looks_for_python_only_where_ansible_would_discover_it(task_vars, looks):
    pythons = _discovers_python(task_vars)
    assert bool(pythons) == looks
    if "ansible_interpreter_python_fallback" in task_vars:
        assert list(pythons) == ["/opt/py/bin/python3"]
    elif looks:
        assert "/usr/bin/python3" in pythons and list(pythons).index("/usr/bin/python3") > 0
