#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: persistence_baseline
short_description: Snapshot the surfaces attackers use to persist, as a JSON manifest
version_added: 0.1.0
description:
  - Records path, sha256, mode, owner, group, size and mtime of every file on the persistence surfaces
    (authorized_keys of every account, passwd, group, shadow and sudoers, every form of cron and at, systemd
    units, timers and drop-ins of the system and of users, ld.so.preload, rc.local, profile.d and the shell
    start-up files of root and every login account, PAM, kernel module configuration, setuid and setgid files),
    plus the accounts (shadow reduced to a status, never a hash), the listening sockets and the loaded kernel modules.
  - A new snapshot C(snapshot-YYYYMMDDTHHMMSSZ.json) is written only when the content differs from the newest
    one, so a converged host reports no change. The first snapshot is never pruned.
  - Standard library only; reads C(/proc) directly and starts no process.
author:
  - quietnode maintainers (@quietnode)
attributes:
  check_mode:
    support: full
    description: Reports whether a new snapshot would be written and what differs, without writing it.
  diff_mode:
    support: none
    description: The difference is returned in RV(difference) instead.
options:
  state_dir:
    description: Directory of the snapshots, created mode 0700.
    type: path
    default: /var/lib/quietnode/baseline
  keep:
    description: Snapshots kept (the first one and the newest O(keep) - 1); at least 2.
    type: int
    default: 50
  root:
    description: Read the host below this prefix (tests and offline images); C(/) for the live host.
    type: path
    default: /
  suid_roots:
    description: Directories searched for setuid and setgid files, each on its own file system only.
    type: list
    elements: path
    default: [/, /tmp, /var/tmp, /dev/shm]
"""

EXAMPLES = r"""
- name: Snapshot the persistence surfaces
  quietnode.baseline.persistence_baseline:
    state_dir: /var/lib/quietnode/baseline
"""

RETURN = r"""
path:
  description: The newest snapshot after the run (the new one when one was written).
  returned: always
  type: str
  sample: /var/lib/quietnode/baseline/snapshot-20261130T011500Z.json
baseline:
  description: The first snapshot, the one later snapshots are compared with.
  returned: always
  type: str
files:
  description: Number of file entries in the manifest.
  returned: always
  type: int
difference:
  description: Paths added, removed and changed since the previous snapshot, and the sections (accounts, listening, modules) that differ.
  returned: always
  type: dict
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.quietnode.baseline.plugins.module_utils import _baseline_manifest as manifest
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_proc import list_sockets


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state_dir=dict(type='path', default='/var/lib/quietnode/baseline'),
            keep=dict(type='int', default=50),
            root=dict(type='path', default='/'),
            suid_roots=dict(type='list', elements='path', default=list(manifest.SUID_ROOTS)),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params['keep'] < 2:
        module.fail_json(msg='persistence_baseline_keep must be at least 2 (the first snapshot and the newest), got %d. '
                             'Nothing was changed.' % params['keep'])
    root = params['root'].rstrip('/')
    # A fixture tree or an offline image has no /proc: no sockets to read.
    listening = list_sockets(root + '/proc')[1] if os.path.isdir(root + '/proc/net') else []
    current = manifest.build(root, suid_roots=params['suid_roots'], sockets=listening)
    state_dir = params['state_dir']
    previous_path = manifest.latest(state_dir)
    previous = None
    if previous_path:
        try:
            previous = manifest.load(previous_path)
        except (OSError, ValueError):
            previous = None
    result = dict(changed=False, path=previous_path, files=len(current['files']),
                  difference=manifest.diff(previous or {}, current))
    if previous is not None and manifest.canonical(previous) == manifest.canonical(current):
        result['difference'] = manifest.diff(previous, previous)
    else:
        result['changed'] = True
        if not module.check_mode:
            if not os.path.isdir(state_dir):
                os.makedirs(state_dir, 0o700)
            result['path'] = manifest.save(state_dir, current, time.time(), params['keep'])
    names = sorted(n for n in os.listdir(state_dir) if n.startswith('snapshot-')) if os.path.isdir(state_dir) else []
    result['baseline'] = os.path.join(state_dir, names[0]) if names else None
    module.exit_json(**result)


if __name__ == '__main__':
    main()
