#!/usr/bin/env python3
"""Time the evidence report: on the bench bundle (1 GiB of logs) against the collection's own time, and
50 ordinary bundles reported in parallel against one.

Bundles: QN_BENCH_BUNDLE (default: a bundle below bench-results/ from tests/bench/bench_evidence.sh or an
earlier run of this bench; when there is none, one is made the same way in a container of its own,
QN_BENCH_LOG_MB of logs, default 1024; QN_BENCH_SKIP_BIG=1 leaves this part out) and
QN_BENCH_SMALL_BUNDLE (default: tests/unit/fixtures/report/debian12.tar.gz). Each report runs in a
process of its own, as Ansible runs the module; peak RSS is that process's ru_maxrss.
Where one report's CPU goes (interpreter, imports, reading, rules, writing) is measured without cached bytecode,
as Ansible runs a module (from its zipped payload), and with it. 50 bundles are timed two ways: one process per
report (as a module run per host would), and in one process with a pool of one worker per core (the module's
`bundles` option, which playbooks/report.yml uses), and report.yml itself is timed over 1 and 50 local hosts
(QN_BENCH_PLAYBOOK=0 leaves this out).
Targets (issue 13): report <= 0.5x collection time, peak RSS <= 300 MB, 50 in parallel <= 5x one, judged on
report.yml (the path collect_evidence.yml and a user take); the other two 50-bundle figures show where the time goes.
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
import sys, resource, time
start = time.process_time()
sys.path.insert(0, %r)
from ansible_collections.quietnode.baseline.plugins.module_utils._report_bundle import read_bundle
from ansible_collections.quietnode.baseline.plugins.module_utils._report_rules import Context, evaluate
from ansible_collections.quietnode.baseline.plugins.module_utils._report_output import write_outputs
imported = time.process_time()
ev = read_bundle(sys.argv[1])
read = time.process_time()
findings = evaluate(ev, Context())
rules = time.process_time()
write_outputs(ev, findings, Context(), sys.argv[2])
done = time.process_time()
print(len(findings), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, imported - start, read - imported, rules - read,
      done - rules)
''' % os.path.join(ROOT, 'collections')
PHASES = ('imports', 'read the bundle', 'rules', 'write HTML and JSON')
# What evidence_report runs for its `bundles` option (playbooks/report.yml): every bundle in one process, by a pool.
FLEET = r'''
import sys
sys.path.insert(0, %r)
from ansible_collections.quietnode.baseline.plugins.module_utils._report_fleet import report_many
results = report_many([{'bundle': b} for b in sys.argv[1:]])
sys.exit(sum(1 for r in results if 'error' in r))
''' % os.path.join(ROOT, 'collections')


def report(bundle, dest, env=None):
    """Wall seconds, findings, peak RSS in MB and CPU seconds of one report in a process of its own."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    out = subprocess.run([PY, '-c', RUN, bundle, dest], check=True, capture_output=True, text=True, env=env).stdout.split()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    report.cpu = cpu
    report.phases = [float(x) for x in out[2:6]]
    return time.time() - start, int(out[0]), int(out[1]) / 1024.0


def child_cpu(argv, env=None):
    """CPU seconds (user + system) of one command run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def breakdown(small, work, runs=5):
    """Median CPU seconds of each part of one report, without and with cached bytecode."""
    rows = {}
    for label, bytecode in (('no cached bytecode (as Ansible runs a module)', False), ('cached bytecode', True)):
        env = dict(os.environ)
        if bytecode:
            env.pop('PYTHONDONTWRITEBYTECODE', None)
            env['PYTHONPYCACHEPREFIX'] = os.path.join(work, 'pycache')
            report(small, os.path.join(work, 'warm'), env)
        else:
            env['PYTHONDONTWRITEBYTECODE'] = '1'
            env.pop('PYTHONPYCACHEPREFIX', None)
        start = sorted(child_cpu([PY, '-c', 'pass'], env) for _ in range(runs))[runs // 2]
        samples = []
        for i in range(runs):
            report(small, os.path.join(work, 'phase-%d' % i), env)
            samples.append([report.cpu] + report.phases)
        med = [sorted(col)[runs // 2] for col in zip(*samples)]
        rows[label] = [('interpreter start', start)] + list(zip(PHASES, med[1:])) + [('total (one process)', med[0])]
    return rows


def playbook_seconds(small, work, hosts):
    """Wall seconds of playbooks/report.yml over `hosts` local hosts, each with a copy of the small bundle."""
    base = os.path.join(work, 'playbook-%d' % hosts)
    names = ['bench%02d' % i for i in range(hosts)]
    for name in names:
        # named as collect_evidence.yml names a fetched bundle: report.yml looks for evidence-*.tar.gz
        path = os.path.join(base, 'evidence', name, '20261130T000000Z', 'evidence-%s-20261130T000000Z.tar.gz' % name)
        os.makedirs(os.path.dirname(path))
        shutil.copy(small, path)
        shutil.copy(small + '.sha256', path + '.sha256')
    with open(os.path.join(base, 'inventory.yml'), 'w') as handle:
        handle.write('all:\n  hosts:\n' + ''.join('    %s:\n      ansible_connection: local\n' % n for n in names))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               PATH=os.path.join(ROOT, '.venv', 'bin') + os.pathsep + os.environ['PATH'])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    with open(os.path.join(base, 'playbook.log'), 'w') as log:
        subprocess.run(['ansible-playbook', '-i', os.path.join(base, 'inventory.yml'), os.path.join(ROOT, 'playbooks/report.yml'),
                        '-e', 'local_dir=%s' % os.path.join(base, 'evidence')], env=env, stdout=log, stderr=subprocess.STDOUT,
                       check=True, cwd=base)
    wall = time.time() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    written = len(glob.glob(os.path.join(base, 'evidence', '*', '*', 'report.html')))
    if written != hosts:
        raise SystemExit('report.yml wrote %d report(s) for %d host(s): see %s/playbook.log' % (written, hosts, base))
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def verdict(ok):
    return 'met' if ok else 'NOT met'


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
    small = os.environ.get('QN_BENCH_SMALL_BUNDLE') or os.path.join(ROOT, 'tests/unit/fixtures/report/debian12.tar.gz')
    work = tempfile.mkdtemp(prefix='qn-bench-report-')
    fail = 0
    result = {}
    cores = os.cpu_count()
    print('evidence report, %d host cores, load average %.1f at start' % (cores, os.getloadavg()[0]))
    try:
        if not os.environ.get('QN_BENCH_SKIP_BIG'):
            fail |= big_bundle(work, result)
        print()
        print('where one report of %s spends its CPU (median of 5, seconds)' % os.path.basename(small))
        rows = breakdown(small, work)
        labels = list(rows)
        print('%-28s %14s %14s' % ('part', 'no bytecode', 'bytecode'))
        for i, (part, value) in enumerate(rows[labels[0]]):
            print('%-28s %14.3f %14.3f' % (part, value, rows[labels[1]][i][1]))
        print('(columns: %s; %s)' % tuple(labels))
        one_cpu = rows[labels[0]][-1][1]
        one = min(report(small, os.path.join(work, 'one-%d' % i))[0] for i in range(3))
        copies = []
        for i in range(50):
            path = os.path.join(work, 'b%02d' % i, os.path.basename(small))
            os.makedirs(os.path.dirname(path))
            shutil.copy(small, path)
            shutil.copy(small + '.sha256', path + '.sha256')
            copies.append(path)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.time()
        procs = [subprocess.Popen([PY, '-c', RUN, p, os.path.dirname(p)], stdout=subprocess.DEVNULL) for p in copies]
        rcs = [p.wait() for p in procs]
        fifty = time.time() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        fifty_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        # 50 reports of c CPU seconds on n cores need at least 50 c / n seconds, whatever the scheduling
        floor = fifty_cpu / cores
        print()
        print('50 bundles in parallel, one process per report (as a module run per host would)')
        print('%-44s %10s' % ('measure', 'value'))
        print('%-44s %10.2f s' % ('one report, wall (best of 3)', one))
        print('%-44s %10.3f s' % ('one report, CPU (no bytecode)', one_cpu))
        print('%-44s %10.3f s' % ('CPU per report, mean of the 50', fifty_cpu / 50))
        print('%-44s %10d' % ('cores', cores))
        print('%-44s %10.2f s' % ('50 in parallel, wall', fifty))
        print('%-44s %10.2f s' % ('least possible: 50 x CPU per report / cores', floor))
        print('%-44s %10.1fx' % ('50 in parallel / one', fifty / one))
        print('%-44s %10.1fx' % ('least possible ratio on this host', floor / one))
        print('target: 50 in parallel <= 5x one: %s (at %d cores, 50 CPU-bound processes cannot do better than %.0fx '
              'an idle run; 5x needs %d cores)' % (verdict(fifty <= 5 * one), cores, 50.0 / cores, 50 // 5))
        # Shown for where the time goes; the target is judged on report.yml, the path a user runs.
        fail |= any(rcs)
        result.update(one_s=one, one_cpu_s=one_cpu, fifty_s=fifty, fifty_cpu_s=fifty_cpu, cores=cores)
        pool = {}
        for n in (1, 50):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.time()
            subprocess.run([PY, '-c', FLEET] + copies[:n], check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            pool[n] = (time.time() - start, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        print()
        print('the same bundles in one process with a pool of %d workers (evidence_report bundles=, as report.yml runs it)' % cores)
        print('%-44s %10s %10s' % ('bundles', 'wall', 'CPU'))
        for n in (1, 50):
            print('%-44s %10.2f s %8.2f s' % (n, pool[n][0], pool[n][1]))
        print('%-44s %10.3f s' % ('CPU per extra bundle', (pool[50][1] - pool[1][1]) / 49))
        print('target: 50 in one call <= 5x one: %s (%.1fx)' % (verdict(pool[50][0] <= 5 * pool[1][0]), pool[50][0] / pool[1][0]))
        result.update(pool_1_s=pool[1][0], pool_50_s=pool[50][0], pool_1_cpu_s=pool[1][1], pool_50_cpu_s=pool[50][1])
        if os.environ.get('QN_BENCH_PLAYBOOK', '1') != '0':
            (pb1, pb1_cpu), (pb50, pb50_cpu) = playbook_seconds(small, work, 1), playbook_seconds(small, work, 50)
            print()
            print('playbooks/report.yml over local hosts (one module run for every host; every '
                  'report.html checked)')
            print('%-44s %10s %10s' % ('hosts', 'wall', 'CPU'))
            print('%-44s %10.1f s %8.1f s' % ('1', pb1, pb1_cpu))
            print('%-44s %10.1f s %8.1f s' % ('50', pb50, pb50_cpu))
            print('%-44s %10.2f s' % ('CPU per extra host', (pb50_cpu - pb1_cpu) / 49))
            print('target: report.yml, 50 hosts <= 5x 1 host: %s (%.1fx)' % (verdict(pb50 <= 5 * pb1), pb50 / pb1))
            fail |= pb50 > 5 * pb1
            result.update(playbook_1_s=pb1, playbook_50_s=pb50, playbook_1_cpu_s=pb1_cpu, playbook_50_cpu_s=pb50_cpu)
        with open(os.path.join(ROOT, 'bench-results', 'report.json') if os.path.isdir(os.path.join(ROOT, 'bench-results')) else os.devnull, 'w') as handle:
            json.dump(result, handle)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if fail else 0


def big_bundle(work, result):
    big = os.environ.get('QN_BENCH_BUNDLE') or next(iter(sorted(glob.glob(os.path.join(ROOT, 'bench-results/*/bundles/*/*/*.tar.gz')))), None)
    if not big:
        big = make_bench_bundle()
    collect_s = collection_seconds(big)
    wall, count, rss = report(big, os.path.join(work, 'big'))
    size = os.path.getsize(big) / 1048576.0
    print('%-40s %.1f MB (%s)' % ('bench bundle', size, os.path.basename(big)))
    print('%-40s %.1f s' % ('collection time (collection.log)', collect_s or 0))
    ratio = wall / collect_s if collect_s else 0
    met = verdict(collect_s and wall <= 0.5 * collect_s)
    print('%-40s %.1f s = %.2fx collection (target <= 0.5x: %s)' % ('report time', wall, ratio, met))
    print('%-40s %.1f s (both threads; load average %.1f)' % ('report CPU time', report.cpu, os.getloadavg()[0]))
    print('%-40s %.1f MB (target <= 300 MB: %s)' % ('report peak RSS', rss, verdict(rss <= 300)))
    print('%-40s %d' % ('findings', count))
    result.update(bundle_mb=size, collect_s=collect_s, report_s=wall, rss_mb=rss)
    return bool(collect_s and wall > 0.5 * collect_s) or rss > 300


if __name__ == '__main__':
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    sys.exit(main())
