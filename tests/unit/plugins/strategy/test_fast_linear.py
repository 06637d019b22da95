"""The fast_linear strategy: Mitogen's linear strategy when Mitogen imports, the plain one (with a warning) when not."""

import builtins
import importlib
import os
import sys
from unittest import mock

import pytest
from ansible.plugins.strategy.linear import StrategyModule as Linear

NAME = "ansible_collections.quietnode.baseline.plugins.strategy.fast_linear"


@pytest.fixture(autouse=True)
def _fresh_import():
    # Each test imports the plugin anew; none leaves its variant (or Mitogen's policy it set) behind for later tests.
    import ansible_mitogen.affinity
    policy = ansible_mitogen.affinity.policy
    sys.modules.pop(NAME, None)
    yield
    sys.modules.pop(NAME, None)
    ansible_mitogen.affinity.policy = policy


def _load(block_mitogen):
    blocked = {"ansible_mitogen": None, "ansible_mitogen.affinity": None, "ansible_mitogen.loaders": None,
               "ansible_mitogen.strategy": None}
    with mock.patch.dict(sys.modules, blocked if block_mitogen else {}):
        return importlib.import_module(NAME)


def test_with_mitogen_the_strategy_is_mitogens_linear():
    import ansible_mitogen.strategy  # pinned in requirements.txt, so the test venv has it

    plugin = _load(block_mitogen=False)
    assert issubclass(plugin.StrategyModule, ansible_mitogen.strategy.StrategyMixin)
    assert issubclass(plugin.StrategyModule, Linear)


def test_without_mitogen_it_is_plain_linear_and_says_so():
    plugin = _load(block_mitogen=True)
    assert plugin.ansible_mitogen is None
    assert plugin.StrategyModule.__mro__[1] is Linear
    warnings = []
    with mock.patch.object(Linear, "__init__", lambda self, tqm: None), \
            mock.patch.object(plugin.Display, "warning", lambda self, msg: warnings.append(msg)):
        plugin.StrategyModule(tqm=None)
    assert len(warnings) == 1 and "mitogen package is not installed" in warnings[0]
    assert "make setup" in warnings[0]


def _cpus_after(assign):
    """The CPUs a forked child may run on after assign() (a policy's pinning applies to the calling process)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            assign()
            os.write(write, ",".join(str(cpu) for cpu in sorted(os.sched_getaffinity(0))).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as handle:
        return set(int(cpu) for cpu in handle.read().split(","))


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning is only visible with two CPUs or more")
def test_below_four_cpus_workers_and_the_controller_are_not_pinned():
    import ansible_mitogen.affinity

    allowed = os.sched_getaffinity(0)
    mitogens = ansible_mitogen.affinity.LinuxPolicy(cpu_count=2)
    assert len(_cpus_after(mitogens.assign_worker)) == 1  # what Mitogen does on two CPUs
    plugin = _load(block_mitogen=False)
    plugin.leave_scheduling_to_the_kernel(2)
    policy = ansible_mitogen.affinity.policy
    assert _cpus_after(policy.assign_worker) == allowed
    assert _cpus_after(policy.assign_controller) == allowed
    assert _cpus_after(lambda: policy.assign_muxprocess(0)) == allowed


def test_from_four_cpus_mitogen_keeps_its_pinning():
    import ansible_mitogen.affinity

    plugin = _load(block_mitogen=False)
    ansible_mitogen.affinity.policy = mitogens = ansible_mitogen.affinity.LinuxPolicy(cpu_count=4)
    plugin.leave_scheduling_to_the_kernel(4)
    assert ansible_mitogen.affinity.policy is mitogens


def test_collections_are_listed_once_and_give_the_host_mitogens_own_paths():
    import ansible_mitogen.planner
    from ansible.collections import list as collection_list

    original = ansible_mitogen.planner._load_collections
    calls = []
    listed = [b"/x/ansible_collections/a/b", b"/y/ansible_collections/c/d"]

    def list_collection_dirs():
        calls.append(1)
        return iter(listed)

    class Invocation(object):
        def __init__(self):
            self._extra_sys_paths = set()
    try:
        with mock.patch.object(collection_list, "list_collection_dirs", list_collection_dirs):
            theirs = Invocation()
            original(theirs)
            plugin = _load(block_mitogen=False)
            plugin.list_collections_once()
            plugin.list_collections_once()  # a later play in the same run
            ours = [Invocation(), Invocation()]
            for invocation in ours:
                ansible_mitogen.planner._load_collections(invocation)
        assert len(calls) == 2  # Mitogen's own call, then ours once
        assert [invocation._extra_sys_paths for invocation in ours] == [theirs._extra_sys_paths] * 2
        assert theirs._extra_sys_paths == {"/x/ansible_collections/a/b", "/y/ansible_collections/c/d"}
    finally:
        ansible_mitogen.planner._load_collections = original


def test_each_source_is_compiled_once_and_the_scan_finds_what_mitogens_does():
    import ansible.module_utils
    import ansible.modules.ping
    import ansible.modules.stat
    import ansible_mitogen.module_finder as finder

    search = (os.path.dirname(ansible.module_utils.__file__),)
    modules = [("ansible.modules.ping", ansible.modules.ping.__file__),
               ("ansible.modules.stat", ansible.modules.stat.__file__)]
    theirs = [finder.scan(name, path, search) for name, path in modules]
    plugin = _load(block_mitogen=False)
    compiled = []
    real = builtins.compile

    def counting(*args, **kwargs):
        compiled.append(args[1])
        return real(*args, **kwargs)
    try:
        with mock.patch("builtins.compile", counting):
            plugin.compile_each_source_once()
            plugin.compile_each_source_once()  # a later play in the same run keeps the one cache
            ours = [finder.scan(name, path, search) for name, path in modules]
        assert ours == theirs
        assert "ansible.module_utils.basic" in compiled
        assert len(compiled) == len(set(compiled))  # ping and stat share basic and its imports: compiled once
        assert len(theirs[1]) > 10 and len(compiled) < sum(len(found) + 1 for found in theirs)
    finally:
        del finder.compile  # Mitogen's module uses the builtin again
