#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: login_probe
short_description: Choose the SSH login that reaches a host now, over fresh connections from the controller
version_added: 0.1.0
description:
  - Runs on the controller (an action plugin). Tries each login in order over a new SSH connection with
    C(ControlMaster=no) and C(ControlPath=none), so a master connection kept from an earlier run cannot make a
    refused login look accepted, and stops at the first that works.
  - The order is the admin with its key on O(port), then on each of O(admin_ports), then the inventory's own login
    (with the inventory's password through C(sshpass), then with a key). The inventory's password is read from the
    connection, never passed as an option.
  - Each login also reports whether C(sudo) needs a password. The task fails, before anything on the host changes,
    when no login works or when the chosen user needs a sudo password and none was given.
  - Used by the C(quietnode.baseline.connection) role, which every playbook of the collection runs first.
author:
  - quietnode maintainers (@quietnode)
options:
  host:
    description: Address to connect to (the inventory's C(ansible_host)).
    type: str
    required: true
  user:
    description: The inventory's login user.
    type: str
    required: true
  port:
    description: The inventory's SSH port.
    type: int
    default: 22
  admin_user:
    description: The admin who logs in with a key once root login is off; empty to try only the inventory's login.
    type: str
  admin_ports:
    description: Further ports the admin is tried on after O(port), such as the port ssh_lockdown moved sshd to.
    type: list
    elements: int
    default: []
  key_file:
    description: Private key file for key logins (the inventory's C(ansible_ssh_private_key_file)).
    type: path
  ssh_args:
    description: Extra ssh arguments (the inventory's C(ansible_ssh_common_args) and C(ansible_ssh_extra_args)).
    type: str
    default: ""
  timeout:
    description: Seconds each login may take.
    type: int
    default: 10
  after_change:
    description:
      - The probe proves a change this run made (the connection role's C(fresh_login.yml)). A failure then
        says the change is not proven, not that nothing was changed; the calling role adds what its dead-man timer does.
    type: bool
    default: false
notes:
  - Host key checking follows Ansible's setting (C(host_key_checking), C(ansible_host_key_checking)).
"""

EXAMPLES = r"""
- name: Find the login that works now
  quietnode.baseline.login_probe:
    host: "{{ ansible_host }}"
    user: "{{ ansible_user }}"
    admin_user: alice
    admin_ports: [2222]
  register: login
"""

RETURN = r"""
login:
  description: The login that worked.
  returned: success
  type: dict
  sample: {user: alice, port: 22, method: key, ok: true, sudo: nopasswd, error: ""}
become_password_given:
  description: Whether a become password was given (C(-K) or C(ansible_become_password)), for roles that switch login later.
  returned: always
  type: bool
attempts:
  description: Every login tried, in order, with the error of those that failed.
  returned: always
  type: list
  elements: dict
  sample: [{user: alice, port: 22, method: key, ok: false, sudo: "", error: "Permission denied (publickey)."}]
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(
        host=dict(type='str', required=True), user=dict(type='str', required=True), port=dict(type='int', default=22),
        admin_user=dict(type='str'), admin_ports=dict(type='list', elements='int', default=[]),
        key_file=dict(type='path'), ssh_args=dict(type='str', default=''), timeout=dict(type='int', default=10),
        after_change=dict(type='bool', default=False),
    ), supports_check_mode=True)
    module.fail_json(msg='login_probe runs on the controller as an action plugin; it was called as a module.')


if __name__ == '__main__':
    main()
