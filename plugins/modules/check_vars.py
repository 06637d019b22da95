#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: check_vars
short_description: Check a role's raw variables against its argument spec before anything changes
version_added: 0.1.0
description:
  - Runs on the controller (an action plugin), as the first task of each role of the collection.
  - Ansible's own role validation converts the string C(DISK) into the list C([DISK]) when it checks a list option,
    but the role then reads the variable as written. This check reads the raw values and fails, naming the variable,
    what it got and how to write it, when a list option holds a string, a mapping option or a list element has the
    wrong type, an address or network list holds something that is not an IPv4/IPv6 address or network, or a port list
    holds something that is not PORT/PROTOCOL with ports 1-65535.
  - Then it checks the role's own conditions (O(that)), so one task checks both what the spec declares and what it
    cannot express.
author:
  - quietnode maintainers (@quietnode)
options:
  spec:
    description:
      - Path of a role's C(meta/argument_specs.yml), or a list of them.
    type: list
    elements: path
    default: []
  roles_dir:
    description:
      - A directory of roles; the spec of each role in it is checked too.
      - The C(quietnode.baseline.connection) role, which every playbook runs first, passes the collection's roles
        directory, so a bad inventory value fails the run before any role changes anything.
    type: path
  entry:
    description: The entry point in the spec.
    type: str
    default: main
  known:
    description:
      - "Values read on the host that a list variable's items must be among: for each variable name, a dict
        with C(values) (the list), C(what) (for example 'a firewalld service on this host') and C(fix)."
      - The firewall role passes the firewalld services the host defines, so a misspelt service fails before any file is written.
    type: dict
    default: {}
  that:
    description:
      - The role's own rules, beyond what a type can say (ranges and formats). Each is a dict with C(that), a
        condition as in C(ansible.builtin.assert), and C(msg), the message when it is false, templated only then.
      - They are read only when every type is right, so a value of the wrong type is named by its type message.
      - Every rule is read. The message gives the role's name, then each false rule's C(msg), then
        C(Nothing was changed.).
    type: list
    elements: dict
    default: []
"""

EXAMPLES = r"""
- name: Check the role's variables before anything changes
  quietnode.baseline.check_vars:
    spec: "{{ role_path }}/meta/argument_specs.yml"
    that:
      - that: atop_interval_seconds | int >= 10
        msg: atop_interval_seconds must be at least 10 seconds (got {{ atop_interval_seconds }}).
"""

RETURN = r"""
checked:
  description: The variables that were checked.
  returned: always
  type: list
  elements: str
problems:
  description: One message per type problem, each naming the variable and the fix.
  returned: failure
  type: list
  elements: str
assertions:
  description: The conditions in O(that) that were false.
  returned: when a condition failed
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(spec=dict(type='list', elements='path', default=[]), roles_dir=dict(type='path'),
                                              entry=dict(type='str', default='main'), known=dict(type='dict', default={}),
                                              that=dict(type='list', elements='dict', default=[])),
                           supports_check_mode=True)
    module.fail_json(msg='check_vars runs on the controller as an action plugin; it was called as a module.')


if __name__ == '__main__':
    main()
