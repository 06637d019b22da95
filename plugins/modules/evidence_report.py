#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: evidence_report
short_description: Turn a fetched evidence bundle into findings, a timeline and an offline HTML report
version_added: 0.1.0
description:
  - Runs on the controller (delegate it to C(localhost)) against a bundle written by M(quietnode.baseline.evidence_bundle)
    and fetched by C(playbooks/collect_evidence.yml).
  - Reads the bundle in one streaming pass; every member is hashed and checked against C(manifest.jsonl) and the bundle
    against its SHA-256 (O(sha256) or the C(<bundle>.sha256) file beside it), while only the members the report needs
    are parsed. A bundle that fails verification, is truncated, or has a format this module does not know fails the
    task with a message naming the file, and no report is written.
  - Writes next to the bundle (or into O(dest)) C(report.html), one self-contained file that works offline (data and
    charts inside it, nothing fetched), and C(findings.json).
  - With O(index), also writes C(index.html) and C(correlation.json) in that directory, ranking every host's newest
    report by severity and naming CPU spikes at the same minute on several hosts (scheduled work) and addresses that
    tried to log in on several hosts.
  - "C(findings.json) schema C(quietnode.evidence_report/1): C(schema), C(host), C(bundle), C(bundle_sha256), C(generated),
    C(collection_started), C(window) (C(since), C(until), C(given)), C(max_severity), C(counts) (per severity),
    C(coverage) (C(recorders) with status, C(members_read), C(members_missing), C(processes_not_embedded)), C(owner)
    (C(allowlist), C(controller)), C(correlation) (C(cpu_spike_minutes), C(attack_sources)) and C(findings), a list
    ranked most serious first of: C(id), C(rule), C(severity) (info, low, medium, high, critical), C(confidence)
    (low, medium, high), C(title), C(explanation), C(next_steps), C(time_range) (C(start), C(end), UTC ISO 8601 or null),
    C(evidence) (a list of C(member) plus one of C(line), C(record) or C(key), with an C(excerpt)), C(facts) (rule-specific
    values, such as C(sources) of an SSH brute force) and C(labels) (C(owner), C(benign))."
  - "Findings built from the recorders' members say so in C(facts.source): C(atop/processes.jsonl) or C(atop) for
    C(cpu-top) (C(facts.top), each with C(user), C(command), C(command_line), C(cpu_s), C(running_s), C(runs),
    C(label)), C(exec-disguised) and C(cpu-service-account); C(baseline/diff.json) for C(persistence)
    (C(facts.kind) is the surface, C(facts.items) the difference's items, C(facts.made_by) who changed them, grouped
    as for C(persistence-undone)) and C(persistence-owner);
    C(baseline/watch_events.jsonl) for C(persistence-undone) (C(facts.items), each a C(path) with its C(events);
    C(facts.made_by), the same changes grouped by C(who) made them and the user they ran C(as), with their C(paths))."
  - "C(exec-temp) is one finding per program started from a temporary directory, memory or a deleted file, and per
    user, whichever recorders saw it: C(facts.program), C(user), C(uid), C(sources) (the members it rests on),
    C(file_deleted), C(audit) (each start audit recorded: C(time), C(pid), C(ppid), C(auid), C(ses), C(comm)),
    C(atop) (C(pids), C(cpu_s), C(first), C(last), C(running_s), C(file_deleted)) and C(live) (the processes still
    running at collection, with their C(flags))."
  - "Network findings (from the bundle's C(network/) members; the connlog role's README describes them): C(net-out-unit)
    (a systemd unit that sent at least 10 MB; facts C(unit), C(uid), C(user), C(bytes_out), C(bytes_in),
    C(destinations) as C(address:port), C(connections), C(started), C(stopped)), C(port-scan) (a source refused on at
    least 10 ports; facts C(src), C(packets), C(distinct_ports), C(ports) as C(proto/port), C(protocols), C(first),
    C(last), C(lower_bound) because the log is rate-limited) and C(ping-sweep) (ICMP echo or timestamp requests
    refused; facts C(src), C(echo_requests), C(first), C(last)). C(net-out-spike) adds C(recorded), the units and
    connections the network recorders hold for the spike's minutes."
author:
  - quietnode maintainers (@quietnode)
options:
  bundle:
    description:
      - Path of the fetched bundle (C(.tar.gz)) on the controller.
    type: path
  bundles:
    description:
      - Several bundles reported in one module run by a pool of O(workers) processes, which share one Python start and
        one set of imports (a report on an ordinary bundle costs less CPU than those); C(playbooks/report.yml) reports
        every host this way. Each report is written beside its bundle.
      - A bundle that fails verification gets no report and is named in RV(errors); the others are written and the task
        does not fail, so that the fleet index is still written (C(playbooks/report.yml) fails after it).
    type: list
    elements: dict
    suboptions:
      bundle:
        description: Path of the fetched bundle.
        type: path
        required: true
      sha256:
        description: Expected SHA-256 of the bundle. Default is the one in C(<bundle>.sha256) when that file exists.
        type: str
      since:
        description: Start of the bundle's collection window in UTC, as O(since).
        type: str
      until:
        description: End of the bundle's collection window in UTC, as O(until).
        type: str
      allowlist:
        description: The owner's addresses and networks for this bundle's host, as O(allowlist); default O(allowlist).
        type: list
        elements: str
  workers:
    description:
      - Processes reporting O(bundles) at once. Default is one per controller core.
    type: int
  sha256:
    description:
      - Expected SHA-256 of the bundle. Default is the one in C(<bundle>.sha256) when that file exists.
    type: str
  dest:
    description:
      - Directory for C(report.html) and C(findings.json). Default is the bundle's directory.
    type: path
  since:
    description:
      - Start of the collection window in UTC (as given to the collection). Default is the window in the bundle's
        C(collection.log); without it, per-address SSH counts may include log lines from before the window.
    type: str
  until:
    description:
      - End of the collection window in UTC.
    type: str
  allowlist:
    description:
      - Addresses and networks that are the owner's (C(quietnode_management_allowlist)); logins from them are labelled
        as yours, and their failures are not counted as an attack.
    type: list
    elements: str
    default: []
  controller:
    description:
      - Addresses the controller connects from; logins from them are labelled as yours.
    type: list
    elements: str
    default: []
  index:
    description:
      - Evidence directory (C(evidence/)) in which to write the fleet C(index.html) from every host's newest C(findings.json).
    type: path
attributes:
  check_mode:
    support: full
    description: Verifies and reads the bundle and returns the findings; writes nothing.
  diff_mode:
    support: none
    description: A report is new output, not a change to compare.
notes:
  - Controller-side; the Python standard library only (the charts are a small inline script drawing SVG).
"""

EXAMPLES = r"""
- name: Write the report of a fetched bundle
  quietnode.baseline.evidence_report:
    bundle: evidence/web1/20261122T070000Z/evidence-web1-20261122T070000Z.tar.gz
    allowlist: "{{ quietnode_management_allowlist | default([]) }}"
  delegate_to: localhost
  register: report

- name: Print one line per finding
  ansible.builtin.debug:
    msg: "{{ report.summary }}"

- name: Rank every host's newest report in evidence/index.html
  quietnode.baseline.evidence_report:
    index: evidence
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
host:
  description: Host name from the bundle.
  returned: when O(bundle) is given
  type: str
report:
  description: Path of C(report.html).
  returned: when O(bundle) is given
  type: str
findings_file:
  description: Path of C(findings.json).
  returned: when O(bundle) is given
  type: str
max_severity:
  description: Severity of the most serious finding.
  returned: when O(bundle) is given
  type: str
findings:
  description: The findings, ranked (the C(findings) list of C(findings.json)).
  returned: when O(bundle) is given
  type: list
  elements: dict
summary:
  description: One line per finding, for the terminal.
  returned: when O(bundle) is given
  type: list
  elements: str
reports:
  description: With O(bundles), one result per bundle in their order, each with C(bundle) and either C(error) or the
    keys returned for O(bundle) (C(host), C(report), C(findings_file), C(max_severity), C(findings), C(summary)).
  returned: when O(bundles) is given
  type: list
  elements: dict
errors:
  description: With O(bundles), why each bundle that got no report got none (the file and the fix).
  returned: when O(bundles) is given
  type: list
  elements: str
index_file:
  description: Path of the fleet C(index.html).
  returned: when O(index) is given
  type: str
correlation:
  description: Shared spike minutes and shared attacking addresses across hosts.
  returned: when O(index) is given
  type: dict
"""

import os
import re
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_collect import parse_time
from ansible_collections.quietnode.baseline.plugins.module_utils._report_fleet import report_many, report_one
from ansible_collections.quietnode.baseline.plugins.module_utils._report_output import write_index


def window(module, item, name):
    """{'since', 'until'} epochs of one bundle's window, or {} when none is given."""
    if not item.get('since'):
        return {}
    try:
        # the collection returns its window with microseconds, which parse_time does not read
        return dict((key, parse_time(re.sub(r'\.\d+', '', item[key]), time.time())) for key in ('since', 'until'))
    except ValueError as exc:
        module.fail_json(msg='%s since/until: %s' % (name, exc))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            bundle=dict(type='path'),
            bundles=dict(type='list', elements='dict', options=dict(
                bundle=dict(type='path', required=True),
                sha256=dict(type='str'),
                since=dict(type='str'),
                until=dict(type='str'),
                allowlist=dict(type='list', elements='str'),
            ), required_together=[['since', 'until']]),
            workers=dict(type='int'),
            sha256=dict(type='str'),
            dest=dict(type='path'),
            since=dict(type='str'),
            until=dict(type='str'),
            allowlist=dict(type='list', elements='str', default=[]),
            controller=dict(type='list', elements='str', default=[]),
            index=dict(type='path'),
        ),
        required_one_of=[['bundle', 'bundles', 'index']],
        required_together=[['since', 'until']],
        mutually_exclusive=[['bundle', 'bundles'], ['bundles', 'dest']],
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False)
    common = dict(allowlist=p['allowlist'], controller=p['controller'], check=module.check_mode)
    if p['bundle']:
        one = report_one(dict(common, bundle=p['bundle'], sha256=p['sha256'], window=window(module, p, 'bundle'), dest=p['dest']))
        if 'error' in one:
            module.fail_json(msg=one['error'])
        one.pop('bundle')
        result.update(one, changed=not module.check_mode)
    if p['bundles']:
        jobs = [dict(common, bundle=item['bundle'], sha256=item['sha256'], window=window(module, item, item['bundle']),
                     allowlist=p['allowlist'] if item['allowlist'] is None else item['allowlist'])
                for item in p['bundles']]
        reports = report_many(jobs, p['workers'])
        # a bundle that fails verification does not stop the others' reports nor the index: the caller fails on errors
        result.update(reports=reports, errors=[r['error'] for r in reports if 'error' in r],
                      changed=not module.check_mode and any('error' not in r for r in reports))
    if p['index']:
        if module.check_mode:
            result['index_file'] = os.path.join(p['index'], 'index.html')
        else:
            path, corr, _docs = write_index(p['index'])
            result.update(changed=True, index_file=path, correlation=corr)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
