# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible's linear strategy, run over Mitogen when the controller has it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: fast_linear
short_description: The linear strategy, with Mitogen's connections when they are installed
version_added: 1.0.0
description:
  - Runs tasks exactly as Ansible's own C(linear) strategy does (task by task, every host before the next task).
  - When the controller has the C(mitogen) package (pinned in the project's requirements.txt), each host keeps one
    Python interpreter for the whole play and modules run in it, instead of a new interpreter per task.
    A re-apply of C(site.yml) is then bound by the tasks' own work rather than by starting Python on the host.
  - Mitogen lists the installed collections once per run, in the controller, rather than in each task's worker that
    runs a module from a collection.
  - Mitogen compiles each module_util's source once per run to find what a module imports, rather than once for every
    module that imports it.
  - On a controller with fewer than 4 CPUs, Mitogen's CPU pinning is turned off and the kernel schedules the
    controller, the task workers and the multiplexer (pinned, they shared one CPU and left the other to the
    multiplexer).
  - Without Mitogen it is the plain C(linear) strategy and prints one warning saying so.
  - Enabled in the project's C(ansible.cfg) with C(strategy = quietnode.baseline.fast_linear);
    a play or C(ANSIBLE_STRATEGY=linear) can always choose the plain strategy instead.
author:
  - quietnode maintainers (@quietnode)
"""

import builtins
import os

from ansible.plugins.strategy.linear import StrategyModule as _Linear
from ansible.utils.display import Display

try:
    import ansible_mitogen.affinity
    import ansible_mitogen.loaders
    import ansible_mitogen.module_finder
    import ansible_mitogen.planner
    import ansible_mitogen.strategy
except ImportError:
    ansible_mitogen = None

# Mitogen pins its processes to CPUs. Below this many it reserves one CPU for its multiplexer and pins the
# controller and every task's worker to the other; on 2 CPUs a site.yml re-apply measured about 1 s slower that
# way (tests/bench/bench_site.sh), and more under load. There the kernel schedules them instead.
PIN_FROM_CPUS = 4


def leave_scheduling_to_the_kernel(cpu_count):
    """Replace Mitogen's CPU pinning with its no-op policy on a controller with fewer than PIN_FROM_CPUS CPUs."""
    if ansible_mitogen is not None and cpu_count < PIN_FROM_CPUS:
        ansible_mitogen.affinity.policy = ansible_mitogen.affinity.Policy()


leave_scheduling_to_the_kernel(os.cpu_count() or 1)


def list_collections_once():
    """Before a task's module from a collection runs, Mitogen lists every installed collection for the host's import
    path, reading each one's metadata: about 0.1 s per such task with the ansible package's hundred collections, and
    its cache dies with each task's worker. List them once, in the controller before the workers fork."""
    if getattr(ansible_mitogen.planner._load_collections, "listed_once", False):
        return
    from ansible.collections.list import list_collection_dirs

    paths = [path.decode("utf-8") for path in list_collection_dirs()]

    def load_collections(invocation):
        invocation._extra_sys_paths.update(paths)
    load_collections.listed_once = True
    ansible_mitogen.planner._load_collections = load_collections


def compile_each_source_once():
    """To find the module_utils a module needs, Mitogen compiles the module and every module_util it imports, anew
    for each module a run uses: in one re-apply, 748 compiles of 137 sources, 1.25 s where 0.25 s would do, in the
    multiplexer while the task waits. Code objects are immutable, so one compile of each source serves every scan.
    Applied before the multiplexer forks."""
    finder = ansible_mitogen.module_finder
    if getattr(getattr(finder, "compile", None), "once", False):
        return
    compiled = {}

    def compile_once(source, filename, mode, *args, **kwargs):
        key = (source, filename, mode, args, tuple(sorted(kwargs.items())))
        if key not in compiled:
            compiled[key] = builtins.compile(source, filename, mode, *args, **kwargs)
        return compiled[key]
    compile_once.once = True
    finder.compile = compile_once


if ansible_mitogen is not None:
    class StrategyModule(ansible_mitogen.strategy.StrategyMixin,
                         ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)):
        """Linear, with Mitogen's connection plugins in place of ssh, docker, sudo and su."""

        def run(self, iterator, play_context, result=0):
            list_collections_once()
            compile_each_source_once()
            return super(StrategyModule, self).run(iterator, play_context, result)

else:
    class StrategyModule(_Linear):
        """Linear; says once that Mitogen is missing, so a slow run has a named cause."""

        def __init__(self, tqm):
            super(StrategyModule, self).__init__(tqm)
            Display().warning("quietnode.baseline.fast_linear: the mitogen package is not installed, so tasks run with "
                              "the plain linear strategy (slower). Install the pinned requirements (make setup) to speed up.")
