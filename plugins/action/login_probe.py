# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of quietnode.baseline.login_probe: choose the login that works now."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible import constants as C
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible_collections.quietnode.baseline.plugins.module_utils._login_probe import candidates, explain, probe

_ARGS = ('host', 'admin_user', 'admin_ports', 'user', 'port', 'key_file', 'ssh_args', 'timeout', 'after_change')


def _host_key_checking(task_vars):
    for name in ('ansible_ssh_host_key_checking', 'ansible_host_key_checking'):
        if task_vars.get(name) is not None:
            return boolean(task_vars[name], strict=False)
    return bool(C.HOST_KEY_CHECKING)


def _discovers_python(task_vars):
    """The Python list to look for when Ansible would discover the interpreter itself, else ()."""
    # INTERPRETER_PYTHON reads ansible_python_interpreter too: a path set anywhere is not "auto".
    if task_vars.get('ansible_facts', {}).get('discovered_interpreter_python') or not str(
            C.config.get_config_value('INTERPRETER_PYTHON', variables=task_vars) or '').startswith('auto'):
        return ()
    return tuple(C.config.get_config_value('INTERPRETER_PYTHON_FALLBACK', variables=task_vars) or ())


class ActionModule(ActionBase):

    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        args = dict((k, self._task.args.get(k)) for k in _ARGS)
        unknown = set(self._task.args) - set(_ARGS)
        if unknown:
            return dict(result, failed=True, msg='login_probe: unknown options %s' % ', '.join(sorted(unknown)))
        timeout = int(args['timeout'] or 10)
        # Read here rather than passed as an option, so the password never appears in task arguments.
        password = self._play_context.password or self._templar.template(
            task_vars.get('ansible_password', task_vars.get('ansible_ssh_pass', ''))) or ''
        tries = candidates(args['admin_user'] or '', [p for p in (args['admin_ports'] or []) if p],
                           args['user'] or 'root', args['port'] or 22, password)
        pythons = _discovers_python(task_vars)
        chosen, attempts = probe(args['host'], tries, args['key_file'] or None, args['ssh_args'] or '',
                                 _host_key_checking(task_vars), timeout, pythons=pythons)
        become_pass = self._play_context.become_pass or self._templar.template(
            task_vars.get('ansible_become_password', task_vars.get('ansible_become_pass', ''))) or ''
        # Roles that switch to another login later (ssh_lockdown) need to know, and -K is not a variable.
        result.update(changed=False, attempts=attempts, login=chosen or {}, become_password_given=bool(become_pass))
        if pythons and chosen and chosen.get('python'):
            # Cached as Ansible's own discovery caches it: the first module call then starts Python at once
            # instead of opening a connection just to look for it (1.6 s per run over Mitogen).
            result['ansible_facts'] = {'discovered_interpreter_python': chosen['python']}
        if chosen is None:
            return dict(result, failed=True, msg=explain(args['host'], attempts, boolean(args['after_change'] or False, strict=False)))
        if chosen['sudo'] == 'missing':
            return dict(result, failed=True, msg=(
                "connection: %s logs in to %s but sudo is not installed, so nothing can run as root. Log in as root "
                "once (ansible_user: root) so ssh_lockdown can install it. Nothing was changed." % (chosen['user'], args['host'])))
        if chosen['sudo'] == 'password' and not become_pass:
            return dict(result, failed=True, msg=(
                "connection: %s logs in to %s but sudo asks for a password and none was given. Run with "
                "--ask-become-pass (-K), or set ansible_become_password from a vault, or give the admin "
                "sudo: nopasswd in ssh_lockdown_admin_users. Nothing was changed." % (chosen['user'], args['host'])))
        return result
