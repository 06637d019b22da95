# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report on many bundles in one process: a pool of forked workers shares one interpreter start and one set of
imports, which cost more CPU than reading, judging and writing an ordinary bundle (tests/bench/bench_report.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import multiprocessing
import os

from ansible_collections.quietnode.baseline.plugins.module_utils._report_bundle import BundleError, read_bundle
from ansible_collections.quietnode.baseline.plugins.module_utils._report_output import findings_doc, summary_lines, write_outputs
from ansible_collections.quietnode.baseline.plugins.module_utils._report_rules import Context, evaluate


def report_one(job):
    """One job: {'bundle', 'sha256', 'window' ({'since', 'until'} epochs or {}), 'dest', 'allowlist', 'controller',
    'check'}. Returns the module's per-bundle result, or {'bundle', 'error'} when no report may be written from it."""
    try:
        ev = read_bundle(job['bundle'], job.get('sha256'), **(job.get('window') or {}))
    except BundleError as exc:
        return {'bundle': job['bundle'], 'error': str(exc)}
    ctx = Context(job.get('allowlist') or [], job.get('controller') or [])
    findings = evaluate(ev, ctx)
    dest = job.get('dest') or os.path.dirname(os.path.abspath(job['bundle']))
    if job.get('check'):
        doc = findings_doc(ev, findings, ctx)
        paths = {'html': os.path.join(dest, 'report.html'), 'findings': os.path.join(dest, 'findings.json')}
    else:
        doc, paths = write_outputs(ev, findings, ctx, dest)
    return {'bundle': job['bundle'], 'host': ev.host, 'report': paths['html'], 'findings_file': paths['findings'],
            'max_severity': doc['max_severity'], 'findings': findings, 'summary': summary_lines(ev.host, findings)}


def report_many(jobs, workers=None):
    """report_one() of every job, in the jobs' order, by at most `workers` forked processes (default: one per core)."""
    workers = max(1, min(len(jobs), workers or os.cpu_count() or 1))
    if workers == 1 or 'fork' not in multiprocessing.get_all_start_methods():
        return [report_one(job) for job in jobs]
    # fork: the workers inherit the imported modules instead of importing them again
    with multiprocessing.get_context('fork').Pool(workers) as pool:
        return pool.map(report_one, jobs, chunksize=1)
