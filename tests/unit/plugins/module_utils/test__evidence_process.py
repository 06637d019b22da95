"""Process history, persistence difference, watch events and the collection's own session.

atop fixtures are `atop -r FILE -P PRG,PRC,PRM,PRD` of real hosts (tests/unit/fixtures/evidence/atop/README.md);
the baseline cases change one real file of the baseline fixture tree.
"""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from ansible_collections.quietnode.baseline.plugins.module_utils import _baseline_manifest as manifest
from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_process as ep
from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_readiness as readiness

HERE = os.path.dirname(os.path.abspath(__file__))
ATOP = os.path.join(HERE, '..', '..', 'fixtures', 'evidence', 'atop')
BASELINE = os.path.join(HERE, '..', '..', 'fixtures', 'baseline', 'debian12')
USERS = {0: 'root', 33: 'www-data'}


def decode(distro, since=0, until=2e9, **kw):
    decoder = ep.AtopDecoder(since, until, users=USERS, **kw)
    rows = []
    with open(os.path.join(ATOP, 'atop-P.%s.txt' % distro)) as handle:
        for line in handle:
            rows.extend(decoder.feed(line.rstrip('\n')))
    rows.extend(decoder.flush())
    return decoder, rows


# -- atop ----------------------------------------------------------------------------------
@pytest.mark.parametrize('distro,version', [('debian12', '2.8.1'), ('debian13', '2.11.1')])
def test_atop_rows_name_the_program_its_user_and_its_cpu(distro, version):
    _decoder, rows = decode(distro)
    hog = [r for r in rows if r['name'] == '.kworkerd']
    assert hog, version
    assert all(r['uid'] == 33 and r['user'] == 'www-data' for r in hog)
    assert all(r['cmdline'] == '/var/tmp/.kworkerd /dev/zero' for r in hog)
    # a program spinning on /dev/zero: user time dominates and each sample's CPU is at most its interval
    assert sum(r['cpu_user_s'] for r in hog) > 1
    assert all(r['cpu_user_s'] + r['cpu_system_s'] <= r['interval_s'] * 2 for r in hog)
    assert all(r['rss_kb'] and r['rss_kb'] > 0 for r in hog if not r['exited'])
    # threads (is_process n) are folded into their process: firewalld's gmain thread is no row of its own
    assert not [r for r in rows if r['name'] == 'gmain']


def test_atop_keeps_processes_that_ended_within_the_interval():
    _decoder, rows = decode('debian12')
    ended = dict((r['name'], r) for r in rows if r['exited'])
    # timeout sent SIGTERM: atop's exit code is the signal + 256
    assert ended['.kworkerd']['exit_code'] == 15 + 256 and ended['.kworkerd']['time'] == '2026-11-30T04:52:03Z'
    # a program that started and ended between two samples is there too, with its parent
    short = [r for r in rows if r['name'] == 'shortlived']
    assert short and all(r['exited'] and r['new'] and r['ppid'] for r in short)


def test_atop_window_and_cap():
    # samples cover (epoch - interval, epoch]: 04:50:50-04:50:55 lies in the one that ends at 04:51:03
    _decoder, rows = decode('debian12', since=1796014250, until=1796014255)
    assert set(r['time'] for r in rows) == {'2026-11-30T04:51:03Z'}
    decoder, rows = decode('debian12', max_rows=2)
    assert len(rows) == 2 and decoder.dropped > 0 and decoder.rows == 2


def test_atop_argv_reads_utc_minutes():
    argv = ep.atop_argv('/var/log/atop/atop_20261130', 1796014203, 1796014263)
    assert argv == ['atop', '-r', '/var/log/atop/atop_20261130', '-b', '202611300450', '-e', '202611300452',
                    '-P', 'PRG,PRC,PRM,PRD']


# -- the persistence difference --------------------------------------------------------------
@pytest.fixture
def tree(tmp_path):
    root = str(tmp_path / 'root')
    shutil.copytree(BASELINE, root, symlinks=True)
    return root


def _append(path, text):
    with open(path, 'a') as handle:
        handle.write(text)


def test_diff_names_each_surface_and_the_lines(tree):
    before = manifest.build(tree, suid_roots=())
    keys = os.path.join(tree, 'home/admin/.ssh/authorized_keys')
    _append(keys, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlanted000000000000000000000000000000000000 intruder@x\n')
    _append(os.path.join(tree, 'etc/passwd'), 'toor:x:0:0::/root:/bin/bash\n')
    os.makedirs(os.path.join(tree, 'etc/cron.d'), exist_ok=True)
    _append(os.path.join(tree, 'etc/cron.d/beacon'), '* * * * * root /dev/shm/.b\n')
    after = manifest.build(tree, suid_roots=())
    diff = ep.detailed_diff(before, after)
    key = diff['surfaces']['authorized_keys']['changed'][0]
    assert key['path'] == '/home/admin/.ssh/authorized_keys' and 'sha256' in key['fields']
    assert key['lines_added'] == ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlanted000000000000000000000000000000000000 intruder@x']
    assert key['lines_removed'] == []
    cron = diff['surfaces']['cron']['added'][0]
    assert cron['path'] == '/etc/cron.d/beacon' and cron['lines_now'] == ['* * * * * root /dev/shm/.b']
    assert [a['name'] for a in diff['accounts']['passwd']['added']] == ['toor']
    # a second uid-0 account does not make every root-owned file "changed"
    assert not [i for s in diff['surfaces'].values() for i in s['changed'] if 'owner' in i.get('fields', [])]
    json.dumps(diff)


def test_diff_of_an_unchanged_host_is_empty(tree):
    before = manifest.build(tree, suid_roots=())
    diff = ep.detailed_diff(before, manifest.build(tree, suid_roots=()))
    assert diff['surfaces'] == {} and not any(any(v.values()) for v in diff['accounts'].values())


def test_removed_key_shows_the_removed_line(tree):
    keys = os.path.join(tree, 'home/admin/.ssh/authorized_keys')
    before = manifest.build(tree, suid_roots=())
    with open(keys) as handle:
        old = [line.strip() for line in handle if line.strip()]
    with open(keys, 'w') as handle:
        handle.write('')
    diff = ep.detailed_diff(before, manifest.build(tree, suid_roots=()))
    assert diff['surfaces']['authorized_keys']['changed'][0]['lines_removed'] == old


def test_baseline_state_reads_the_newest_snapshot(tree, tmp_path):
    state = os.path.join(tree, 'var/lib/quietnode/baseline')
    os.makedirs(state)
    manifest.save(state, manifest.build(tree), time.time() - 60, 5)
    path, raw, result = ep.baseline_state(tree)
    assert path.startswith(state) and json.loads(raw)['format'] == manifest.FORMAT
    assert result['surfaces'] == {} and result['snapshot'].startswith('/var/lib/quietnode/baseline/snapshot-')
    assert ep.baseline_state(str(tmp_path / 'empty'))[2].startswith('no snapshot in /var/lib/quietnode/baseline')


# -- audit records of the watches ---------------------------------------------------------------
# Records in the kernel's format (type=SYSCALL ... key=, type=PATH ... nametype=) as auditd writes them with
# log_format=ENRICHED, for the watch keys of roles/auditd and roles/persistence_baseline (fixtures/evidence/audit).
with open(os.path.join(HERE, '..', '..', 'fixtures', 'evidence', 'audit', 'watch.log')) as _handle:
    WATCH_LINES = _handle.read().splitlines()


def test_watch_events_keep_persistence_keys_with_their_paths():
    watch = ep.WatchEvents()
    watch.feed([line.encode() for line in WATCH_LINES])
    rows = list(watch.rows())
    assert [r['key'] for r in rows] == ['ssh_keys', 'cron']  # exec_tmp is not a persistence watch
    key, cron = rows
    assert key['syscall'] == 'openat' and key['auid'] == 1000 and key['ses'] == 5 and key['comm'] == 'bash'
    assert key['paths'] == [{'name': '/home/admin/.ssh/authorized_keys', 'nametype': 'NORMAL', 'action': 'written or changed'}]
    assert key['proctitle'] == '-bash'
    # relative names are completed with the CWD record; audit's unset login uid reads as None
    assert cron['paths'][0]['name'] == '/etc/cron.d/beacon' and cron['paths'][0]['action'] == 'deleted'
    assert cron['auid'] is None and cron['syscall'] == 'unlink' and cron['time'] == '2026-11-30T04:56:00Z'


def test_watch_events_are_capped():
    watch = ep.WatchEvents(max_events=1)
    watch.feed(WATCH_LINES)
    assert len(list(watch.rows())) == 1 and watch.dropped == 1


# -- the collection's own session ---------------------------------------------------------------
def test_own_session_reads_the_login_from_the_ancestors_environment():
    env = dict(os.environ, SSH_CONNECTION='203.0.113.7 50022 10.0.0.5 22', SUDO_USER='admin', SUDO_UID='1000')
    child = subprocess.Popen(['sh', '-c', 'sleep 30'], env=env)
    try:
        # until exec: before it the child still has this process's environment
        for _ in range(100):
            with open('/proc/%d/cmdline' % child.pid, 'rb') as handle:
                if handle.read().startswith((b'sh', b'sleep')):
                    break
            time.sleep(0.02)
        session = ep.own_session(pid=child.pid, users=USERS)
    finally:
        child.kill()
        child.wait()
    assert session['collector_pid'] == child.pid
    assert os.getpid() in session['pids']
    assert session['source_address'] == '203.0.113.7' and session['source_port'] == 50022
    assert session['server_port'] == 22 and session['login_user'] == 'admin'
    assert session['sudo']['user'] == 'admin' and session['sudo']['uid'] == 1000


def test_own_session_without_ssh_says_so():
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(('SSH_', 'SUDO_')))
    env['PYTHONPATH'] = os.pathsep.join(p for p in sys.path if p)
    out = subprocess.check_output([sys.executable, '-c', 'import json, sys; '
                                   'from ansible_collections.quietnode.baseline.plugins.module_utils import '
                                   '_evidence_process as ep; print(json.dumps(ep.own_session()))'], env=env)
    session = json.loads(out)
    if any('SSH_CONNECTION' in ep._environ('/proc', pid) for pid in session['pids']):
        pytest.skip('the test itself runs below an SSH login')
    assert session['source_address'] is None and session['sshd_pid'] is None and session['pids'][-1] >= 1


# -- readiness -----------------------------------------------------------------------------------
@pytest.mark.parametrize('obs,status', [
    ({}, 'missing'),
    ({'atop_files': ['/var/log/atop/atop_20261129'], 'atop_files_in_window': 0}, 'off'),
    ({'atop_files': ['/var/log/atop/atop_20261130'], 'atop_files_in_window': 1, 'atop_running': False}, 'off'),
    ({'atop_files': ['/var/log/atop/atop_20261130'], 'atop_files_in_window': 1, 'atop_running': True, 'atop_rows': 9}, 'on'),
], ids=['no-files', 'old-files', 'not-running', 'on'])
def test_atop_readiness_names_what_cannot_be_answered(obs, status):
    row = [r for r in readiness.verdicts(obs, ['atop']) if r['recorder'] == 'atop'][0]
    assert row['status'] == status
    if status == 'on':
        assert 'unanswerable' not in row
    else:
        assert row['unanswerable'] == list(readiness.QUESTIONS['atop'])


def test_every_judged_recorder_has_its_questions():
    assert set(name for name, _group, _judge in readiness.JUDGES) <= set(readiness.QUESTIONS)
    rows = readiness.verdicts({}, ['baseline'])
    assert rows == [{'recorder': 'persistence baseline', 'status': 'missing', 'detail': 'no snapshot',
                     'unanswerable': list(readiness.QUESTIONS['persistence baseline'])}]
