# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of quietnode.baseline.check_vars: raw variables against one or more role argument specs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os

import yaml
from ansible.module_utils.six import string_types
from ansible.plugins.action import ActionBase
from ansible_collections.quietnode.baseline.plugins.module_utils._check_vars import ADDRESS_VARIABLES, check


# libyaml's loader where PyYAML has it: the same data, read about ten times faster (every run reads each spec).
_LOADER = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)


def _role(spec_path):
    return os.path.basename(os.path.dirname(os.path.dirname(spec_path)))


class ActionModule(ActionBase):

    _requires_connection = False

    @classmethod
    def finalize_task_arg(cls, name, value, templar, context):
        # Left as written: the conditions are evaluated, and the message templated, only once every type is right.
        if name == 'that':
            return value
        return super(ActionModule, cls).finalize_task_arg(name, value, templar, context)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        specs = self._task.args.get('spec')
        specs = [specs] if isinstance(specs, string_types) else list(specs or [])
        if self._task.args.get('roles_dir'):
            specs += glob.glob(os.path.join(self._task.args['roles_dir'], '*', 'meta', 'argument_specs.yml'))
        entry = self._task.args.get('entry', 'main')
        options, owner = {}, {}
        for spec_path in sorted(specs):
            with open(spec_path) as handle:
                found = (yaml.load(handle, Loader=_LOADER)['argument_specs'].get(entry) or {}).get('options', {})
            for name, spec in found.items():
                options.setdefault(name, spec)
                owner.setdefault(name, _role(spec_path))
        for name in ADDRESS_VARIABLES:
            options.setdefault(name, {'type': 'list', 'elements': 'str'})
        # Only what is set where this task runs: a role's defaults when run inside it, the inventory's everywhere.
        values = dict((name, self._templar.template(task_vars[name])) for name in options if name in task_vars)
        # One check per role, so each problem is said under the role that declares the variable.
        by_role = {}
        for name in options:
            by_role.setdefault(owner.get(name, 'quietnode'), {})[name] = options[name]
        said, problems = [], []
        known = self._task.args.get('known') or {}
        for role in sorted(by_role):
            found = check(by_role[role], values, known=known)
            if found:
                problems.extend(found)
                said.append('%s: %s' % (role, ' '.join(found)))
        result.update(changed=False, checked=sorted(values))
        if problems:
            result.update(failed=True, problems=problems, msg='%s Nothing was changed.' % ' '.join(said))
            return result
        # Every rule is read, so the message names each broken one and only those, after the role's name.
        failing = [rule for rule in self._task.args.get('that') or []
                   if not self._templar.evaluate_conditional(conditional=rule['that'])]
        if failing:
            said = ' '.join(self._templar.template(rule['msg']) for rule in failing)
            result.update(failed=True, assertion=failing[0]['that'], assertions=[rule['that'] for rule in failing],
                          msg='%s: %s Nothing was changed.' % (_role(sorted(specs)[0]) if specs else 'quietnode', said))
        return result
