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
  - Without Mitogen it is the plain C(linear) strategy and prints one warning saying so.
  - Enabled in the project's C(ansible.cfg) with C(strategy = quietnode.baseline.fast_linear);
    a play or C(ANSIBLE_STRATEGY=linear) can always choose the plain strategy instead.
author:
  - quietnode maintainers (@quietnode)
"""

from ansible.plugins.strategy.linear import StrategyModule as _Linear
from ansible.utils.display import Display

try:
    import ansible_mitogen.loaders
    import ansible_mitogen.strategy
except ImportError:
    ansible_mitogen = None

if ansible_mitogen is not None:
    class StrategyModule(ansible_mitogen.strategy.StrategyMixin,
                         ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)):
        """Linear, with Mitogen's connection plugins in place of ssh, docker, sudo and su."""

else:
    class StrategyModule(_Linear):
        """Linear; says once that Mitogen is missing, so a slow run has a named cause."""

        def __init__(self, tqm):
            super(StrategyModule, self).__init__(tqm)
            Display().warning("quietnode.baseline.fast_linear: the mitogen package is not installed, so tasks run with "
                              "the plain linear strategy (slower). Install the pinned requirements (make setup) to speed up.")
