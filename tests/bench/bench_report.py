#!/usr/bin/env python3
"""Time the evidence report: on the bench bundle (1 GiB of logs) against the collection's own time, and
50 ordinary bundles reported in parallel against one.

Bundles: QN_BENCH_BUNDLE (default: a bundle below bench-results/ from tests/bench/bench_evidence.sh or an
earlier run of this bench; when there is none, one is made the same way in a container of its own,
QN_BENCH_LOG_MB of logs, default 1024) and
QN_BENCH_SMALL_BUNDLE (default: tests/unit/fixtures/report/debian12.tar.gz). Each report runs in a
process of its own, as Ansible runs the module; peak RSS is that process's ru_maxrss.
Targets (issue 13): report <= 0.5x collection time, peak RSS <= 300 MB, 50 in parallel <= 5x one.
"""

import datetime
import glob
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
PY = os.path.join(ROOT, '.venv', 'bin', 'python') if os.path.exists(os.path.join(ROOT, '.venv', 'bin', 'python')) else sys.executable
RUN = r'''
import sys, resource
sys.path.insert(0, %r)
from ansible_collections.quietnode.baseline.plugins.module_utils._report_bundle import read_bundle
from ansible_collections.quietnode.baseline.plugins.module_utils._report_rules import Context, evaluate
from ansible_collections.quietnode.baseline.plugins.module_utils._report_output import write_outputs
ev = read_bundle(sys.argv[1])
findings = evaluate(ev, Context())
write_outputs(ev, findings, Context(), sys.argv[2])
print(len(findings), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
''' % os.path.join(ROOT, 'collections')


def report(bundle, dest):
    """Wall seconds, findings, peak RSS in MB and CPU seconds of one report in a process of its own."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    out = subprocess.run([PY, '-c', RUN, bundle, dest], check=True, capture_output=True, text=True).stdout.split()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    report.cpu = cpu
    return time.time() - start, int(out[0]), int(out[1]) / 1024.0


def make_bench_bundle():
    """The bench bundle as tests/bench/bench_evidence.sh makes it (QN_BENCH_LOG_MB of logs, default 1024), in a
    container of this bench's own, collected with playbooks/collect_evidence.yml (without its report)."""
    name = 'qn-bench-report'
    out = os.path.join(ROOT, 'bench-results', 'report')
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    cache = os.environ.get('QN_APT_CACHE', '/var/cache/quietnode-apt')

    def sh(*argv):
        subprocess.run(list(argv), check=True)
    sh('bash', os.path.join(ROOT, 'tests/scripts/vps.sh'), 'boot', name, os.environ.get('QN_BENCH_IMAGE', 'quietnode/debian12:latest'),
       '--volume', '%s/debian12-report-bench:/var/cache/apt/archives:rw' % cache)
    try:
        sh('docker', 'exec', name, 'bash', '-c', 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && '
           'apt-get install -y -qq --no-install-recommends acct sysstat >/dev/null && systemctl start acct')
        with open(os.path.join(ROOT, 'tests/bench/make_logs.py'), 'rb') as script:
            subprocess.run(['docker', 'exec', '-i', name, 'python3', '-', os.environ.get('QN_BENCH_LOG_MB', '1024'), '/var/log'],
                           stdin=script, check=True)
        with open(os.path.join(out, 'inventory.yml'), 'w') as handle:
            handle.write('all:\n  hosts:\n    %s:\n      ansible_connection: community.docker.docker\n'
                         '      ansible_python_interpreter: /usr/bin/python3\n' % name)
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
                   PATH=os.path.join(ROOT, '.venv', 'bin') + os.pathsep + os.environ['PATH'])
        with open(os.path.join(out, 'playbook.log'), 'w') as log:
            subprocess.run(['ansible-playbook', '-i', os.path.join(out, 'inventory.yml'), os.path.join(ROOT, 'playbooks/collect_evidence.yml'),
                            '-e', 'local_dir=%s/bundles' % out, '-e', 'since=-48h', '-e', 'report=false'],
                           env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    finally:
        subprocess.run(['docker', 'rm', '-f', name], stdout=subprocess.DEVNULL, check=False)
    return sorted(glob.glob(os.path.join(out, 'bundles/*/*/*.tar.gz')))[-1]


def collection_seconds(bundle):
    with tarfile.open(bundle, 'r|gz') as tar:
        for member in tar:
            if member.name.endswith('/collection.log'):
                lines = tar.extractfile(member).read().decode().splitlines()
                stamps = [datetime.datetime.strptime(line.split()[0], '%Y-%m-%dT%H:%M:%S.%fZ') for line in lines if line[:4].isdigit()]
                return (stamps[-1] - stamps[0]).total_seconds()
    return None


def main():
    big = os.environ.get('QN_BENCH_BUNDLE') or next(iter(sorted(glob.glob(os.path.join(ROOT, 'bench-results/*/bundles/*/*/*.tar.gz')))), None)
    if not big:
        big = make_bench_bundle()
    small = os.environ.get('QN_BENCH_SMALL_BUNDLE') or os.path.join(ROOT, 'tests/unit/fixtures/report/debian12.tar.gz')
    work = tempfile.mkdtemp(prefix='qn-bench-report-')
    fail = 0
    try:
        collect_s = collection_seconds(big)
        wall, count, rss = report(big, os.path.join(work, 'big'))
        size = os.path.getsize(big) / 1048576.0
        print('evidence report, %d host cores' % os.cpu_count())
        print('%-40s %.1f MB (%s)' % ('bench bundle', size, os.path.basename(big)))
        print('%-40s %.1f s' % ('collection time (collection.log)', collect_s or 0))
        print('%-40s %.1f s = %.2fx collection (target <= 0.5x)' % ('report time', wall, wall / collect_s if collect_s else 0))
        print('%-40s %.1f s (both threads; load average %.1f)' % ('report CPU time', report.cpu, os.getloadavg()[0]))
        print('%-40s %.1f MB (target <= 300 MB)' % ('report peak RSS', rss))
        print('%-40s %d' % ('findings', count))
        fail |= bool(collect_s and wall > 0.5 * collect_s) or rss > 300
        one = min(report(small, os.path.join(work, 'one-%d' % i))[0] for i in range(3))
        copies = []
        for i in range(50):
            path = os.path.join(work, 'b%02d' % i, os.path.basename(small))
            os.makedirs(os.path.dirname(path))
            shutil.copy(small, path)
            shutil.copy(small + '.sha256', path + '.sha256')
            copies.append(path)
        start = time.time()
        procs = [subprocess.Popen([PY, '-c', RUN, p, os.path.dirname(p)], stdout=subprocess.DEVNULL) for p in copies]
        rcs = [p.wait() for p in procs]
        fifty = time.time() - start
        print('%-40s %.2f s (%s)' % ('one ordinary bundle', one, os.path.basename(small)))
        print('%-40s %.2f s = %.1fx one (target <= 5x; %d cores allow at best %.0fx)' % (
            '50 in parallel', fifty, fifty / one, os.cpu_count(), 50.0 / os.cpu_count()))
        fail |= fifty > 5 * one or any(rcs)
        with open(os.path.join(ROOT, 'bench-results', 'report.json') if os.path.isdir(os.path.join(ROOT, 'bench-results')) else os.devnull, 'w') as handle:
            json.dump({'bundle_mb': size, 'collect_s': collect_s, 'report_s': wall, 'rss_mb': rss, 'one_s': one, 'fifty_s': fifty}, handle)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if fail else 0


if __name__ == '__main__':
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    sys.exit(main())
