# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way every role finds its per-platform variable files."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: platform_vars
author:
  - quietnode maintainers (@quietnode)
short_description: A role's per-platform variable files that exist, broadest first
description:
  - Looks in a role's C(vars) directory for C(<os_family>.yml), C(<distribution>.yml),
    C(<distribution>_<major version>.yml) and C(<distribution>_<version>.yml), in that order, and returns the
    paths of those that exist, each once.
  - Loaded in that order with C(ansible.builtin.include_vars), a narrower file overrides only what it names, so
    C(RedHat_9.yml) (RHEL 9 itself, whose distribution fact is RedHat) holds only what differs from C(RedHat.yml).
  - Reads the distribution facts (C(os_family), C(distribution), C(distribution_major_version),
    C(distribution_version)); gather them first.
options:
  _terms:
    description: The role's vars directory, usually C({{ role_path }}/vars).
    required: true
    type: list
    elements: path
  required:
    description:
      - Fail when the directory has no C(<os_family>.yml), naming the families it does have.
      - For roles whose tasks need platform data on every host.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Load the platform data for atop
  ansible.builtin.include_vars:
    file: "{{ item }}"
  loop: "{{ query('quietnode.baseline.platform_vars', role_path ~ '/vars', required=true) }}"
"""

RETURN = r"""
_raw:
  description: Paths of the files that exist, broadest first.
  type: list
  elements: path
"""

import glob
import os

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

# Broadest first. No <os_family>_<major>: for RHEL itself os_family and distribution are both RedHat, so
# RedHat_9.yml would otherwise also apply to Rocky 9 and AlmaLinux 9.
LADDER = ('{os_family}', '{distribution}', '{distribution}_{distribution_major_version}', '{distribution}_{distribution_version}')
FACTS = ('os_family', 'distribution', 'distribution_major_version', 'distribution_version')


def platform_files(vars_dir, facts, required=False):
    """The files of the ladder that exist in vars_dir, broadest first, each once."""
    missing = [name for name in FACTS if not facts.get(name)]
    if missing:
        raise AnsibleError('platform_vars needs the distribution facts (%s): gather them with ansible.builtin.setup '
                           'and gather_subset [distribution] first.' % ', '.join(missing))
    found = []
    for step in LADDER:
        path = os.path.join(vars_dir, step.format(**dict((name, str(facts[name])) for name in FACTS)) + '.yml')
        if path not in found and os.path.isfile(path):
            found.append(path)
    family = os.path.join(vars_dir, '%s.yml' % facts['os_family'])
    if required and family not in found:
        role = os.path.basename(os.path.dirname(os.path.normpath(vars_dir)))
        have = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(vars_dir, '*.yml'))
                      if '_' not in os.path.basename(p) and os.path.basename(p) != 'main.yml')
        raise AnsibleError('quietnode.baseline.%s has no platform data for %s %s (os_family %s): it supports the %s '
                           'families (%s). Nothing was changed.' % (
                               role, facts['distribution'], facts['distribution_version'], facts['os_family'],
                               ' and '.join(have) or 'no', vars_dir))
    return found


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        facts = (variables or {}).get('ansible_facts') or {}
        facts = dict((name, facts.get(name)) for name in FACTS)
        paths = []
        for term in terms:
            paths.extend(platform_files(term, facts, required=self.get_option('required')))
        return paths
