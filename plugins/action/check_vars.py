# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of quietnode.baseline.check_vars: a role's raw variables against its argument spec."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import yaml
from ansible.plugins.action import ActionBase
from ansible_collections.quietnode.baseline.plugins.module_utils._check_vars import ADDRESS_VARIABLES, check


class ActionModule(ActionBase):

    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        spec_path = self._task.args.get('spec')
        entry = self._task.args.get('entry', 'main')
        with open(spec_path) as handle:
            options = (yaml.safe_load(handle)['argument_specs'][entry] or {}).get('options', {})
        role = os.path.basename(os.path.dirname(os.path.dirname(spec_path)))
        names = set(options) | (ADDRESS_VARIABLES & set(task_vars))
        values = {}
        for name in names:
            if name in task_vars:
                values[name] = self._templar.template(task_vars[name])
        options = dict(options)
        for name in ADDRESS_VARIABLES & set(values):
            options.setdefault(name, {'type': 'list', 'elements': 'str'})
        problems = check(options, values)
        result.update(changed=False, checked=sorted(values))
        if problems:
            result.update(failed=True, problems=problems, msg='%s: %s Nothing was changed.' % (role, ' '.join(problems)))
        return result
