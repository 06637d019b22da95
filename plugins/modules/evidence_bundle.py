#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: evidence_bundle
short_description: Collect a verifiable post-incident evidence bundle without changing the host
version_added: 0.1.0
description:
  - Gathers, in one run, what can answer which processes used the CPU and the network in a time window,
    and whether the host was compromised, into one C(tar.gz) written in a single streaming pass.
  - Live state is read first from C(/proc) (processes with executable SHA-256, sockets with their owners,
    sessions, kernel modules, mounts); executables that are deleted, memfd-backed or in C(/tmp), C(/var/tmp)
    or C(/dev/shm) are flagged and copied while the process lives. Then firewall state, then files and exports
    of both families (EL and Debian).
  - External commands run only where no file holds the answer (journalctl, sadf, ausearch, ss, nft,
    iptables-save, fail2ban-client, sshd -T, systemctl list-timers, dpkg --verify or rpm -Va), each under
    O(command_timeout), so the collector adds few entries to the process accounting and audit logs it collects.
  - The bundle holds C(manifest.jsonl) (path, size, mode, owner, UTC mtime and ctime, SHA-256, truncated and
    changed-while-read flags, error), C(collection.log) (UTC timestamps, time zone and kernel clock state,
    every command with exit code and duration) and C(summary/readiness.json), which lists the recorders that
    were off or missing. The bundle's own SHA-256 is returned and written next to it as C(<bundle>.sha256).
  - What is collected is one table of artifacts (path or command, group, platform family, window filter, decoder),
    walked in order of volatility; paths differ between the Debian and EL families only in that table.
  - The journal for the window is exported with the host's own C(journalctl -o json --utc) (one JSON object per line,
    readable with C(jq) and with every field kept); sysstat files written in the window are exported with C(sadf -j)
    (times in UTC) beside the raw files.
  - Audit records are chosen by their own epoch stamps (C(msg=audit(1764460840.123:456))) from the raw audit logs, and
    only that selection is decoded by C(ausearch -i --input) into C(audit/ausearch.txt); no date is passed to ausearch,
    whose C(--start) reads the host's local time in the locale's date format. A non-zero exit code, or no output for
    records that exist in the window, is an error in the manifest and in C(summary/readiness.json). The selection also
    holds sshd's session-start records from before the window, so a session that acts in the window but logged in
    earlier (one long-lived connection, a login left open) still names its user and address.
  - Authentication events are summarised in C(summary/auth_events.json) (failures by source address and user, accepted
    logins, sudo commands) from one source, named in C(source) - the journal, or the text logs (C(auth.log), C(secure))
    when they reach further back, so an event rsyslog copied from the journal counts once; the other source's counts
    are in C(other_source). C(sshd) and C(sshd-session) (OpenSSH 9.8 and later) lines both count. C(failed_attempts)
    counts connections (sshd process ids) with a failure, C(failure_lines) the lines. Classic syslog stamps
    (C(Nov 29 23:20:40)) are read in the host's zone (C(/etc/localtime)), recorded with the assumed year in
    C(classic_stamps); RFC 3339 stamps keep their offset. Process accounting is summarised in C(acct/summary.json).
    The summary assumes a log written in time order, so blocks of lines whose first and last times lie outside the
    window are not parsed (the raw logs are stored whole).
  - "Bundle layout (format version 2, in C(summary/bundle.json)): C(<name>/manifest.jsonl), C(<name>/collection.log),
    C(files/<absolute path>) for every stored file, C(summary/readiness.json), C(summary/auth_events.json),
    C(summary/bundle.json), C(live/*) (processes, flagged processes, sockets, C(exe/<pid>.bin)), C(firewall/*.txt),
    C(journal/journal.json), C(sysstat/headers.json) and C(sysstat/saDD.json), C(acct/summary.json),
    C(audit/ausearch.txt), C(logins/*.jsonl), C(cron/timer_last_runs.json), C(cron/systemctl_list_timers.txt),
    C(ssh/sshd_T.txt), C(accounts/shadow_summary.json), C(recent/changed_files.jsonl), C(integrity/*.txt).
    Version 2 keeps every member name of version 1 and adds C(summary/bundle.json)."
  - "The network recorders are decoded from the journal as it streams (roles connlog and firewall; member shapes in the
    connlog role's README), in C(network/connections.jsonl) (one new outbound connection per line, from the kernel lines
    with the host's connlog_log_prefix as the loaded rule has it in the firewall group's ruleset, and with the default
    C(qn-connlog:)), C(network/denied.json) (refused inbound packets per source address, from C(qn-denied:)),
    C(network/unit_ip.jsonl) (bytes and CPU per systemd unit when it stopped) and C(network/summary.json) (whether the
    connlog table and the refused-packet rule were in the ruleset, and how many lines of each were in the window);
    C(summary/readiness.json) judges them as C(connection log), C(denied-packet log) and C(unit IP accounting).
    C(live/nf_conntrack.txt) is a copy of C(/proc/net/nf_conntrack) (open flows, with bytes each way when accounting
    is on). These members are additions to format version 2; a report that does not know them ignores them."
  - Login records are decoded by the module's own parsers into C(logins/*.jsonl) - wtmp, btmp and lastlog, and on
    Debian 13 and later the SQLite databases of wtmpdb and lastlog2, opened read-only and immutable so that nothing
    is written beside them.
  - With O(verify), checks an existing bundle instead (its SHA-256 and every manifest hash), for example on
    the controller after a fetch.
  - The target needs only the Python standard library.
author:
  - quietnode maintainers (@quietnode)
options:
  since:
    description:
      - Start of the window, in UTC. ISO 8601 (V(2026-11-20T08:00:00Z)), V(YYYY-MM-DD HH:MM:SS), V(@<epoch>)
        or relative to now (V(-48h), V(-90m), V(-2d)).
    type: str
    default: "-48h"
  until:
    description:
      - End of the window, in UTC, in the same forms as O(since). Defaults to now.
    type: str
  dest:
    description:
      - Directory on the target that receives the bundle. Created with mode C(0700) when missing.
    type: path
    default: /var/tmp/quietnode-evidence
  max_file_size_mb:
    description:
      - Largest number of bytes kept from any one file or command output, in MiB. Larger logs keep their newest end.
    type: int
    default: 256
  max_bundle_size_mb:
    description:
      - Largest number of uncompressed bytes stored in the bundle, in MiB. Groups are collected in order of
        volatility, so the cap cuts the least volatile evidence first.
    type: int
    default: 4096
  command_timeout:
    description:
      - Seconds each external command may run before it is killed; its output up to then is kept.
    type: int
    default: 120
  include:
    description:
      - Artifact groups to collect. Default is all of them.
    type: list
    elements: str
    choices: [live, firewall, auth, syslog, journal, sysstat, acct, atop, audit, baseline, logins, cron, packages, fail2ban,
              ssh, accounts, system, history, recent, integrity]
  exclude:
    description:
      - Artifact groups to leave out, applied after O(include).
    type: list
    elements: str
    default: []
    choices: [live, firewall, auth, syslog, journal, sysstat, acct, atop, audit, baseline, logins, cron, packages, fail2ban,
              ssh, accounts, system, history, recent, integrity]
  verify:
    description:
      - Path of an existing bundle to verify instead of collecting. Fails when the bundle's SHA-256 differs
        from O(sha256) or any member differs from its manifest hash.
    type: path
  sha256:
    description:
      - Expected SHA-256 of the bundle named by O(verify).
    type: str
attributes:
  check_mode:
    support: full
    description: Reports what would be collected and the estimated uncompressed size per group; runs no command and writes nothing.
  diff_mode:
    support: none
    description: A bundle is new output, not a change to compare.
notes:
  - Run as root to read every log; files that cannot be read are recorded in the manifest as errors.
  - Symlinks are recorded, never followed; FIFOs, sockets and devices are recorded, never opened.
  - Password hashes are not collected; C(accounts/shadow_summary.json) says only whether each password is C(set),
    C(empty) (no password needed) or C(locked) (C(!), C(!!), C(*) or a C(!)-prefixed hash).
"""

EXAMPLES = r"""
- name: Collect the last 48 hours of evidence
  quietnode.baseline.evidence_bundle:
  register: evidence

- name: Collect a given window, without the slow package verification
  quietnode.baseline.evidence_bundle:
    since: "2026-11-20T08:00:00Z"
    until: "2026-11-20T20:00:00Z"
    exclude: [integrity]
    command_timeout: 60

- name: Verify a fetched bundle on the controller
  quietnode.baseline.evidence_bundle:
    verify: "evidence/web1/20261122T070000Z/evidence-web1-20261122T070000Z.tar.gz"
    sha256: "{{ evidence.sha256 }}"
  delegate_to: localhost
"""

RETURN = r"""
bundle:
  description: Path of the bundle on the target.
  returned: when a bundle was written
  type: str
  sample: /var/tmp/quietnode-evidence/evidence-web1-20261122T070000Z.tar.gz
sha256:
  description: SHA-256 of the bundle (of the verified bundle with O(verify)).
  returned: when a bundle was written or verified
  type: str
size:
  description: Size of the bundle in bytes.
  returned: when a bundle was written
  type: int
checksum_file:
  description: Path of the C(<bundle>.sha256) file written next to the bundle.
  returned: when a bundle was written
  type: str
stamp:
  description: UTC time the collection started, as used in the bundle name.
  returned: unless O(verify) is given
  type: str
  sample: 20261122T070000Z
window:
  description: The collection window in UTC.
  returned: unless O(verify) is given
  type: dict
  sample: {since: "2026-11-20T07:00:00Z", until: "2026-11-22T07:00:00Z"}
groups:
  description: Files and uncompressed bytes per artifact group (an estimate in check mode).
  returned: unless O(verify) is given
  type: dict
manifest_entries:
  description: Number of manifest entries.
  returned: unless O(verify) is given
  type: int
errors:
  description: Number of manifest entries that carry an error (unreadable, vanished, failed command).
  returned: unless O(verify) is given
  type: int
readiness:
  description: Each evidence recorder with its status (on, off, volatile, missing, error) and a detail.
  returned: unless O(verify) is given
  type: list
  elements: dict
flagged_processes:
  description: Processes whose executable is deleted, memfd-backed or in a temporary directory.
  returned: unless O(verify) is given
  type: list
  elements: dict
commands:
  description: External commands run, with exit code and duration.
  returned: unless O(verify) is given
  type: list
  elements: dict
verified:
  description: Result of O(verify); C(checked) manifest entries and C(problems) found.
  returned: when O(verify) is given
  type: dict
"""

import os
import socket
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_bundle import BundleWriter, verify_bundle
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_collect import (
    GROUPS, Collector, bundle_name, parse_time,
)
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_window import iso


def run_verify(module):
    result = verify_bundle(module.params['verify'], module.params['sha256'])
    if not result['ok']:
        module.fail_json(msg='bundle %s failed verification: %s' % (module.params['verify'], '; '.join(result['problems'])),
                         verified=result, sha256=result['sha256'])
    module.exit_json(changed=False, verified=result, sha256=result['sha256'])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            since=dict(type='str', default='-48h'),
            until=dict(type='str'),
            dest=dict(type='path', default='/var/tmp/quietnode-evidence'),
            max_file_size_mb=dict(type='int', default=256),
            max_bundle_size_mb=dict(type='int', default=4096),
            command_timeout=dict(type='int', default=120),
            include=dict(type='list', elements='str', choices=list(GROUPS)),
            exclude=dict(type='list', elements='str', default=[], choices=list(GROUPS)),
            verify=dict(type='path'),
            sha256=dict(type='str'),
        ),
        required_by=dict(sha256=['verify']),
        supports_check_mode=True,
    )
    params = module.params
    if params['verify']:
        run_verify(module)
    now = time.time()
    try:
        since = parse_time(params['since'], now)
        until = parse_time(params['until'], now) if params['until'] else now
    except ValueError as exc:
        module.fail_json(msg='since/until: %s' % exc)
    if since >= until:
        module.fail_json(msg='since (%s) must be before until (%s)' % (iso(since), iso(until)))
    for key in ('max_file_size_mb', 'max_bundle_size_mb', 'command_timeout'):
        if params[key] <= 0:
            module.fail_json(msg='%s must be a positive number, got %s' % (key, params[key]))
    groups = [g for g in (params['include'] or GROUPS) if g not in params['exclude']]

    name, stamp = bundle_name(socket.gethostname(), now)
    dest = params['dest']
    if not module.check_mode and not os.path.isdir(dest):
        os.makedirs(dest, 0o700)
    path = os.path.join(dest, name + '.tar.gz')
    writer = BundleWriter(path, name, params['max_file_size_mb'] << 20, params['max_bundle_size_mb'] << 20,
                          dry_run=module.check_mode)
    try:
        collector = Collector(writer, since, until, groups, params['command_timeout']).collect()
        sha, size = writer.close(collector.log.data())
    except Exception as exc:  # pylint: disable=broad-except
        writer.abort()
        module.fail_json(msg='collection into %s failed: %s' % (path, exc))
    result = dict(changed=not module.check_mode, stamp=stamp, window=dict(since=iso(since), until=iso(until)),
                  groups=writer.estimate, manifest_entries=writer.entries, errors=writer.errors,
                  readiness=collector.readiness, flagged_processes=collector.flagged, commands=collector.log.commands)
    if not module.check_mode:
        checksum_file = path + '.sha256'
        with open(checksum_file, 'w') as handle:
            handle.write('%s  %s\n' % (sha, os.path.basename(path)))
        os.chmod(checksum_file, 0o600)
        result.update(bundle=path, sha256=sha, size=size, checksum_file=checksum_file)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
