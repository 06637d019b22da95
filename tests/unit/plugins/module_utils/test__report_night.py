"""The report on a real bundle from the `incident` scenario's Debian 12 VM (fixtures/report/incident-night1.tar.gz,
the night of 2026-11-30; trimmed: journal without its audit and most kernel lines, ausearch without BPF and
service records, no ssh moduli; manifest entries of the trimmed members rewritten). Everything in that night was
planted by Ansible as qnadmin + sudo from 10.0.2.2 (the controller, audit session 16); later nights plant the
root-level persistence through systemd-run, whose records carry auid=unset and ses=unset, as the benign cases
rewrite them here.
"""

import copy
import json
import os
import re
import tarfile
import time

import pytest

from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_process as ep
from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_readiness as readiness
from ansible_collections.quietnode.baseline.plugins.module_utils import _report_bundle as rb
from ansible_collections.quietnode.baseline.plugins.module_utils import _report_output as ro
from ansible_collections.quietnode.baseline.plugins.module_utils import _report_process as rp
from ansible_collections.quietnode.baseline.plugins.module_utils import _report_rules as rr

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLE = os.path.join(HERE, '..', '..', 'fixtures', 'report', 'incident-night1.tar.gz')
OWNER = rr.Context(allowlist=['10.0.2.2'])
_CACHE = {}


def evidence():
    if 'ev' not in _CACHE:
        _CACHE['ev'] = rb.read_bundle(BUNDLE)
    return copy.deepcopy(_CACHE['ev'])


def member(rel):
    with tarfile.open(BUNDLE) as tar:
        name = [n for n in tar.getnames() if n.endswith('/' + rel)][0]
        return json.loads(tar.extractfile(name).read())


def of(findings, rule):
    return [f for f in findings if f['rule'] == rule]


def as_systemd_run(ev, unset=None):
    """The watch records as a transient unit started by PID 1 writes them: no login uid, no session (the
    collector writes audit's 4294967295 as null)."""
    for event in ev.watch_events:
        event['auid'], event['ses'] = unset, unset
    return ev


def test_the_collector_writes_an_unset_login_uid_as_null():
    # a real raw record (fixtures/evidence/audit/watch.log): rm of /etc/cron.d/beacon by a unit started by PID 1
    with open(os.path.join(HERE, '..', '..', 'fixtures', 'evidence', 'audit', 'watch.log')) as handle:
        lines = [line for line in handle.read().splitlines() if 'msg=audit(1796014560.004:830)' in line]
    watch = ep.WatchEvents()
    watch.feed(lines)
    event = list(watch.rows())[0]
    assert event['auid'] is None and event['ses'] is None and event['exe'] == '/usr/bin/rm'
    ev = evidence()
    assert rp.attribute(ev, OWNER, [(0, 2 ** 40)], event)[0] is False


def test_an_unset_login_uid_written_as_a_number_is_unset_too():
    findings = rr.evaluate(as_systemd_run(evidence(), 4294967295), OWNER)
    assert len(of(findings, 'persistence-undone')) == 1


# -- A: owner by identity -------------------------------------------------------------------------
def test_the_audit_records_map_sessions_to_addresses():
    ev = evidence()
    assert ev.audit_sessions['16'][:2] == ('qnadmin', '10.0.2.2')
    # cron's sessions (05:35:03, ses 18) have no address
    assert ev.audit_sessions['18'][:2] == ('root', None) and ev.audit_sessions['18'][3] == 'cron'


def test_a_change_made_in_a_cron_session_is_not_yours():
    # as the planted cron job itself would write it: cron opened session 18 for root
    ev = evidence()
    for event in ev.watch_events:
        if event['paths'][0]['name'] == '/root/.ssh/authorized_keys':
            event['auid'], event['ses'] = 0, 18
    findings = rr.evaluate(ev, OWNER)
    keys = [f for f in of(findings, 'persistence') if f['facts'].get('kind') == 'authorized_keys']
    assert keys and 'a session opened by cron for root (audit session 18)' in keys[0]['explanation']
    assert 'night-root-key' in keys[0]['explanation']


def test_changes_of_your_own_audit_session_are_yours():
    findings = rr.evaluate(evidence(), OWNER)
    owner = of(findings, 'persistence-owner')
    keys = [f for f in owner if f['facts'].get('kind') == 'authorized_keys'][0]
    assert keys['facts']['attribution']['/root/.ssh/authorized_keys'] == 'your login from 10.0.2.2 (audit session 16)'
    assert keys['confidence'] == 'high' and 'by time only' not in keys['explanation']
    assert not of(findings, 'persistence-undone')


def test_a_service_writing_while_you_are_logged_in_is_flagged():
    # the owner's logins of that night still cover the minutes: only identity tells them apart
    findings = rr.evaluate(as_systemd_run(evidence()), OWNER)
    keys = [f for f in of(findings, 'persistence') if f['facts'].get('kind') == 'authorized_keys']
    assert len(keys) == 1 and keys[0]['severity'] == 'high'
    assert '/root/.ssh/authorized_keys' in keys[0]['explanation'] and 'night-root-key' in keys[0]['explanation']
    assert 'audit login uid unset' in keys[0]['explanation']
    undone = of(findings, 'persistence-undone')
    assert len(undone) == 1 and undone[0]['severity'] == 'high'
    paths = [i['path'] for i in undone[0]['facts']['items']]
    assert {'/etc/cron.d/night-sync', '/etc/systemd/system/night-beacon.timer'} <= set(paths)
    # the cron file and the timer are named in the words, before any other path; no scratch files
    assert undone[0]['explanation'].index('/etc/cron.d/night-sync') < 200
    assert 'night-beacon.timer' in undone[0]['explanation']
    assert not [p for p in paths if p.endswith(('+', '(null)')) or '/sed' in p or p.startswith('/etc/group')]
    assert 'no login session' in undone[0]['explanation']
    assert not [f for f in of(findings, 'persistence-owner') if f['facts'].get('kind') == 'authorized_keys']


def test_the_package_manager_without_a_login_stays_benign():
    ev = as_systemd_run(evidence())
    for event in ev.watch_events:
        event['exe'], event['comm'] = '/usr/bin/dpkg', 'dpkg'
    findings = rr.evaluate(ev, OWNER)
    assert not of(findings, 'persistence-undone')
    assert not [f for f in of(findings, 'persistence') if f['facts'].get('kind') == 'authorized_keys']


def test_a_login_from_another_address_is_not_yours():
    ev = evidence()
    auid, _addr, ref, exe = ev.audit_sessions['16']
    ev.audit_sessions['16'] = (auid, '10.237.41.20', ref, exe)
    ev.own_session = None
    findings = rr.evaluate(ev, rr.Context(allowlist=['192.0.2.0/24']))
    keys = [f for f in of(findings, 'persistence') if f['facts'].get('kind') == 'authorized_keys']
    assert keys and 'from 10.237.41.20 (audit session 16), not an address known as yours' in keys[0]['explanation']


def test_without_audit_records_the_time_window_decides_and_says_so():
    ev = evidence()
    ev.watch_events = []
    findings = rr.evaluate(ev, OWNER)
    keys = [f for f in of(findings, 'persistence-owner') if f['facts'].get('kind') == 'authorized_keys'][0]
    assert keys['confidence'] == 'low' and 'Attributed by time only' in keys['explanation']


# -- B: an older snapshot format is not a change -------------------------------------------------
def test_an_older_snapshot_format_reports_no_phantom_changes():
    then = member('baseline/snapshot.json')
    assert then['format'] == 1
    diff = member('baseline/diff.json')
    lines = dict((i['path'], i.get('lines_now')) for s in diff['surfaces'].values() for i in s.get('changed', [])
                 if 'path' in i)
    now = copy.deepcopy(then)
    now['format'] = 2
    for path, entry in now['files'].items():
        if lines.get(path) is not None:
            entry['lines'] = lines[path]
    key = now['files']['/root/.ssh/authorized_keys']
    key.update(sha256='245cfbf37ebab2bd3e0decc4dc7746717683936991520d5276a4528256b215fb', size=195,
               mtime='2026-11-30T05:35:11Z')
    now['files']['/home/qnadmin/.ssh/authorized_keys']['mtime'] = '2026-11-30T05:39:23Z'
    changed = dict((i['path'], i) for s in ep.detailed_diff(then, now)['surfaces'].values() for i in s['changed'])
    assert sorted(changed) == ['/home/qnadmin/.ssh/authorized_keys', '/root/.ssh/authorized_keys']
    assert changed['/root/.ssh/authorized_keys']['fields'] == ['sha256', 'size']
    assert changed['/home/qnadmin/.ssh/authorized_keys']['fields'] == ['mtime']


def test_the_report_ignores_changed_items_with_nothing_changed():
    findings = rr.evaluate(evidence(), OWNER)
    named = ' '.join(f['explanation'] for f in findings)
    for phantom in ('/etc/cron.d/.placeholder', '/etc/sudoers', '/etc/ld.so.conf'):
        assert phantom not in named


# -- C: kernel threads ---------------------------------------------------------------------------
def test_kernel_threads_are_not_disguised():
    ev = evidence()
    assert [r for r in ev.atop if r.name == 'rcu_preempt' and r.ppid == 2]
    hits = of(rr.evaluate(ev, OWNER), 'exec-disguised')
    assert [h['facts']['command'] for h in hits] == ['kdevtmpfsi']
    assert hits[0]['facts']['user'] == 'www-data'


# -- D: no rsyslog, a persistent journal -----------------------------------------------------------
def test_auth_log_is_covered_by_the_persistent_journal():
    assert readiness.auth_log({'journal_var': True})[0] == 'journal'
    assert readiness.auth_log({})[0] == 'missing'
    rows = readiness.verdicts({'journal_var': True, 'journal_head': 1796014079}, {'auth', 'journal'})
    assert [r for r in rows if r['recorder'] == 'auth log'][0].get('unanswerable') is None


def test_the_report_does_not_flag_the_auth_log_when_the_journal_is_on():
    ev = evidence()
    assert [r for r in ev.readiness if r['recorder'] == 'auth log'][0]['status'] == 'missing'
    off = [f['facts']['recorder'] for f in of(rr.evaluate(ev, OWNER), 'recorder-off')]
    assert 'auth log' not in off and 'sysstat' in off
    for row in ev.readiness:
        if row['recorder'] == 'journal':
            row['status'] = 'volatile'
    assert 'auth log' in [f['facts']['recorder'] for f in of(rr.evaluate(ev, OWNER), 'recorder-off')]


# -- E: the miner, from audit's own record of its start -------------------------------------------
def test_the_audit_record_of_the_miner_names_its_path_and_user():
    # ausearch -i on Debian 12 prints 11/30/26: a two-digit year
    ev = evidence()
    runs = [r for r in ev.audit_exec if r['exe'] == '/dev/shm/kdevtmpfsi']
    assert len(runs) == 1 and runs[0]['user'] == 'www-data' and runs[0]['t'] == 1796016876
    assert (runs[0]['pid'], runs[0]['ppid'], runs[0]['auid'], runs[0]['ses']) == ('5656', '5655', 'unset', 'unset')


def test_the_miner_is_one_finding_with_the_facts_of_audit_and_atop():
    temp = of(rr.evaluate(evidence(), OWNER), 'exec-temp')
    assert len(temp) == 1, [f['explanation'] for f in temp]
    facts = temp[0]['facts']
    assert (facts['program'], facts['user'], facts['uid']) == ('/dev/shm/kdevtmpfsi', 'www-data', 33)
    assert facts['sources'] == ['audit/ausearch.txt', 'atop/processes.jsonl']
    assert set(r['member'] for r in temp[0]['evidence']) == set(facts['sources'])
    # audit: when, which pid, no login session; atop: how much CPU, how long, and that its file was deleted
    assert facts['audit'] == [{'time': '2026-11-30T05:34:36Z', 'pid': 5656, 'ppid': 5655, 'auid': 'unset', 'ses': 'unset',
                               'comm': 'kdevtmpfsi'}]
    assert facts['atop']['pids'] == [5656] and facts['atop']['cpu_s'] > 30 and facts['atop']['running_s'] >= 60
    assert facts['file_deleted'] is True and facts['atop']['file_deleted'] is True
    words = temp[0]['explanation']
    for said in ('www-data ran /dev/shm/kdevtmpfsi', 'pid 5656', 'login uid unset', 'CPU seconds', 'since been deleted'):
        assert said in words, words
    assert words.count('/dev/shm/kdevtmpfsi') == 1
    assert temp[0]['time_range']['start'] == '2026-11-30T05:34:36Z' and '(it has already ended)' in temp[0]['next_steps']


@pytest.mark.parametrize('keep', ['audit', 'atop'])
def test_a_program_seen_by_one_recorder_is_still_a_finding(keep):
    ev = evidence()
    if keep == 'audit':
        ev.atop = []
    else:
        ev.audit_exec = []
    temp = of(rr.evaluate(ev, OWNER), 'exec-temp')
    assert len(temp) == 1 and temp[0]['facts']['program'] == '/dev/shm/kdevtmpfsi'
    assert [s.split('/')[0] for s in temp[0]['facts']['sources']] == [keep]


def test_the_same_program_run_by_another_user_is_another_finding():
    ev = evidence()
    for rec in ev.audit_exec:
        if rec['exe'] == '/dev/shm/kdevtmpfsi':
            rec['user'] = 'nobody'
    temp = of(rr.evaluate(ev, OWNER), 'exec-temp')
    assert sorted((f['facts']['user'], tuple(f['facts']['sources'])) for f in temp) == [
        ('nobody', ('audit/ausearch.txt',)), ('www-data', ('atop/processes.jsonl',))]


def test_a_program_from_usr_is_no_exec_temp_finding():
    # the benign case: the same night with the miner's copy of yes run from where yes lives
    ev = evidence()
    for rec in ev.audit_exec:
        rec['exe'] = rec['exe'].replace('/dev/shm/kdevtmpfsi', '/usr/bin/yes')
    ev.atop = [r._replace(cmdline=(r.cmdline or '').replace('/dev/shm/kdevtmpfsi', '/usr/bin/yes')) for r in ev.atop]
    assert not of(rr.evaluate(ev, OWNER), 'exec-temp')


def test_the_summary_names_each_cause():
    findings = rr.evaluate(as_systemd_run(evidence()), OWNER)
    accounts = [f for f in of(findings, 'persistence') if f['facts']['kind'] == 'accounts'][0]
    assert accounts['facts']['users'] == ['sysupdate'] and '/etc/passwd' in accounts['facts']['paths']
    keys = [f for f in of(findings, 'persistence') if f['facts']['kind'] == 'authorized_keys'][0]
    assert '/root/.ssh/authorized_keys' in keys['facts']['paths']
    lines = '\n'.join(ro.summary_lines('quietnode-vm', findings))
    for cause in ('sysupdate', '/root/.ssh/authorized_keys', 'kdevtmpfsi as www-data', '/etc/passwd'):
        assert cause in lines


def test_without_a_baseline_the_changed_files_are_attributed_by_audit_too():
    # a host with auditd but no persistence_baseline snapshot: recent/changed_files.jsonl and the watches
    ev = evidence()
    ev.baseline_diff, ev.baseline = None, None
    mine = [f for f in of(rr.evaluate(copy.deepcopy(ev), OWNER), 'persistence-owner') if f['facts']['kind'] == 'authorized_keys']
    assert mine and mine[0]['confidence'] == 'high'
    assert mine[0]['facts']['attribution']['/root/.ssh/authorized_keys'] == 'your login from 10.0.2.2 (audit session 16)'
    flagged = [f for f in of(rr.evaluate(as_systemd_run(ev), OWNER), 'persistence') if f['facts']['kind'] == 'authorized_keys']
    assert flagged and 'night-root-key' in flagged[0]['explanation'] and 'no login session' in flagged[0]['explanation']


def test_the_words_a_reader_sees_have_no_python_values_or_doubled_brackets():
    """An unset login uid reads "unset", and a program that already ended is not told to be killed."""
    findings = rr.evaluate(as_systemd_run(evidence()), OWNER)
    undone = of(findings, 'persistence-undone')
    assert undone and 'login uid unset' in undone[0]['explanation'], undone
    for f in findings:
        for field in ('title', 'explanation', 'next_steps'):
            assert not re.search(r'\bNone\b|\(\(|\(kill \(', f[field]), (f['rule'], f[field])


def test_the_undone_changes_say_who_made_them_once():
    """A busy night's changes by one daemon: who made them is said once, then every file with its steps."""
    undone = of(rr.evaluate(as_systemd_run(evidence()), OWNER), 'persistence-undone')[0]
    words = said_once_by_the_daemon(undone)
    assert ('/etc/cron.d/night-sync (created at 2026-11-30 05:36 UTC by python3.11, written or changed 2 times at '
            '05:36 UTC by python3.11, deleted at 05:39 UTC by rm)') in words


def said_once_by_the_daemon(finding):
    """Its words name the daemon and its user once and every file; it has one group. Returns the words."""
    words = finding['explanation']
    assert words.count('no login session: audit login uid unset') == 1, words
    assert words.count('running as root (uid 0)') == 1, words
    for path in finding['facts']['paths']:
        assert path in words, (path, words)
    assert [g['who'] for g in finding['facts']['made_by']] == ['a service or daemon (no login session: audit login uid unset)']
    return words


def test_undone_changes_of_two_sessions_are_two_groups():
    ev = as_systemd_run(evidence())
    # the deletions as the planted cron job would make them: in a session cron opened for root
    for event in ev.watch_events:
        if event.get('comm') == 'rm':
            event['auid'], event['ses'] = 0, 18
    undone = of(rr.evaluate(ev, OWNER), 'persistence-undone')[0]
    words = undone['explanation']
    daemon, cron = undone['facts']['made_by']
    assert 'a session opened by cron for root (audit session 18)' in cron['who']
    assert words.count('Made by ') == 2 and words.count('no login session') == 1
    assert words.index('/etc/cron.d/night-sync (created') < words.index('Made by a session opened by cron')
    assert '/etc/cron.d/night-sync (deleted at 2026-11-30 05:39 UTC by rm)' in words


def test_the_persistence_finding_says_who_made_the_changes_once():
    """Both keys files were written by the same daemon as root: who is said once, then each file with its keys."""
    for drop_baseline in (False, True):
        ev = as_systemd_run(evidence())
        if drop_baseline:
            ev.baseline_diff, ev.baseline = None, None
        keys = [f for f in of(rr.evaluate(ev, OWNER), 'persistence') if f['facts']['kind'] == 'authorized_keys'][0]
        assert sorted(keys['facts']['paths']) == ['/home/qnadmin/.ssh/authorized_keys', '/root/.ssh/authorized_keys']
        assert 'night-root-key' in said_once_by_the_daemon(keys)


def test_keys_changed_in_two_sessions_say_each_session_once():
    ev = as_systemd_run(evidence())
    # sed's removal of the admin's key as the planted cron job would make it: in a session cron opened for root
    for event in ev.watch_events:
        if event.get('comm') == 'sed':
            event['auid'], event['ses'] = 0, 18
    keys = [f for f in of(rr.evaluate(ev, OWNER), 'persistence') if f['facts']['kind'] == 'authorized_keys'][0]
    words = keys['explanation']
    assert words.count('Made by ') == 2 and words.count('no login session') == 1, words
    assert words.count('a session opened by cron for root (audit session 18)') == 1, words
    # the admin's file is in both groups; what the difference says of it comes once
    assert words.count('/home/qnadmin/.ssh/authorized_keys') == 2 and words.count('changed (mtime)') == 1, words
    # sed -i renames its copy over the file: one step, not "deleted" then "created"
    assert '/home/qnadmin/.ssh/authorized_keys (replaced at 2026-11-30 05:39 UTC by sed)' in words, words


def ansible_tmp(findings):
    return [(f['rule'], p) for f in findings for p in f['facts'].get('paths') or [] if '/.ansible/' in p] + \
        [(f['rule'], f['explanation']) for f in findings if '/.ansible/' in f['explanation']]


@pytest.mark.parametrize('systemd_run', [False, True], ids=['owner session', 'no login session'])
def test_ansibles_temporary_files_are_no_persistence(systemd_run):
    """Ansible's copy renames ~/.ansible/tmp/ansible-tmp-*/.source into /etc/cron.d: the audit record names the
    source too, which lies on no watched surface; the destination is the item."""
    ev = evidence()
    assert any('/.ansible/tmp/' in i['name'] for e in ev.watch_events for i in e['paths'])
    findings = rr.evaluate(as_systemd_run(ev) if systemd_run else ev, OWNER)
    assert ansible_tmp(findings) == []
    rule = 'persistence-undone' if systemd_run else 'persistence-owner'
    named = [p for f in of(findings, rule) for p in f['facts']['paths']]
    assert '/etc/cron.d/night-sync' in named and '/etc/systemd/system/night-beacon.timer' in named


def test_a_start_up_file_in_the_same_home_is_still_persistence():
    """The same copy into ~/.bashrc and a file under the watched ~/.ssh are items; the .source beside them is not."""
    ev = as_systemd_run(evidence())
    rename = [e for e in ev.watch_events if e['syscall'] == 'rename' and '/.ansible/tmp/' in e['paths'][0]['name']][0]
    for target in ('/home/qnadmin/.bashrc', '/home/qnadmin/.ssh/rc'):
        event = copy.deepcopy(rename)
        event['paths'][1]['name'] = target
        ev.watch_events.append(event)
    findings = rr.evaluate(ev, OWNER)
    undone = of(findings, 'persistence-undone')[0]
    assert '/home/qnadmin/.bashrc' in undone['facts']['paths'] and '/home/qnadmin/.ssh/rc' in undone['facts']['paths']
    assert '/home/qnadmin/.bashrc (created at' in undone['explanation']
    assert ansible_tmp(findings) == []


@pytest.mark.parametrize('path, watched', [
    ('/home/qnadmin/.ansible/tmp/ansible-tmp-1796016960.541552-27929-223363859015709/.source', False),
    ('/root/.ansible/tmp/ansible-tmp-1/AnsiballZ_copy.py', False),
    ('/home/qnadmin/.ansible/tmp/ansible-tmp-1/.bashrc', False),
    ('/tmp/x', False),
    ('/home/qnadmin/.bashrc', True),
    ('/root/.ssh/authorized_keys', True),
    ('/home/qnadmin/.ssh/rc', True),
    ('/home/someone/.config/systemd/user/a.service', True),
    ('/etc/cron.d/night-sync', True),
    ('/etc/security/opasswd', True),
    ('/etc/cron.dx', False),
    ('authorized_keys', True),
])
def test_the_watched_places(path, watched):
    assert rp.on_surface(evidence(), path) is watched


def test_a_brute_force_that_never_reached_a_password_says_so():
    # key-only sshd: the night's 3 connections ended before any password prompt
    brute = of(rr.evaluate(evidence(), OWNER), 'ssh-bruteforce')[0]
    assert brute['facts']['guesses'] == 0 and brute['facts']['connections'] == 3
    assert 'made 3 SSH connection(s) and none of them got as far as trying a password' in brute['explanation']
    assert 'tried 0 password' not in brute['explanation']


def test_daemons_are_not_labelled_as_this_collection():
    # The collector's chain climbs through the login's sshd to the listener and pid 1; only the part up to
    # the login is the collection's, so fail2ban and the journal (children of pid 1) stay unlabelled.
    rows = of(rr.evaluate(evidence(), rr.Context()), 'cpu-top')[0]['facts']['top']
    assert [t['label'] for t in rows if t['command'] == 'sh' and t['user'] == 'qnadmin'] == ['this collection']
    top = {t['command']: t for t in rows}
    for daemon in ('fail2ban-server', 'systemd-journal', 'systemd'):
        assert 'this collection' not in (top[daemon]['label'] or ''), daemon


@pytest.mark.parametrize('user, flagged', [('messagebus', False), ('www-data', True)], ids=['its-own-account', 'borrowed-name'])
def test_a_busy_system_bus_is_a_daemon_not_a_suspect(user, flagged):
    # The night's dbus-daemon (messagebus, uid 100), made as busy as it was in a converge under TCG (58 CPU s):
    # under its own account it is the system bus; the same name under www-data is still reported.
    ev = evidence()
    uid = 100 if user == 'messagebus' else 33
    for row in [r for r in ev.atop if r.name == 'dbus-daemon']:
        ev.atop[ev.atop.index(row)] = row._replace(cpu=6.0, uid=uid, user=user)
    for i, rec in enumerate(ev.acct):
        if rec[4] == 'dbus-daemon':
            ev.acct[i] = (rec[0], rec[1], 60.0, uid) + tuple(rec[4:])
    findings = rr.evaluate(ev, rr.Context())
    suspects = [f for f in of(findings, 'cpu-service-account') if 'dbus-daemon' in json.dumps(f)]
    assert bool(suspects) is flagged, suspects
    top = [t for t in of(findings, 'cpu-top')[0]['facts']['top'] if t['command'] == 'dbus-daemon']
    assert top and all((t['label'] == 'system bus') is not flagged for t in top)


def test_a_session_that_logged_in_before_the_window_is_still_yours():
    # One long-lived connection (Mitogen's, or a login left open) logged in before the window: the collector now
    # adds sshd's session start from before it, as ausearch prints it (real form from the incident VM, session
    # 16's address, stamped an hour before this window). It names the owner; it is no program run in the window.
    ev = evidence()
    event = [e for e in ev.watch_events if str(e.get('ses')) == '16'][0]
    del ev.audit_sessions['16']
    assert rp.attribute(ev, OWNER, [], event)[1].startswith('by time only: no login of yours then')
    exec_before = len(ev.audit_exec)
    hour_before = time.strftime('%m/%d/%y %H:%M:%S', time.gmtime(ev.since - 3600))
    rb._audit(ev, 'audit/ausearch.txt',
              "type=USER_START msg=audit(%s.744:1118) : pid=2291 uid=root auid=qnadmin ses=16 subj=unconfined "
              "msg='op=PAM:session_open grantors=pam_selinux,pam_loginuid,pam_keyinit,pam_permit,pam_unix,pam_systemd,"
              "pam_mail,pam_limits,pam_env,pam_env,pam_selinux acct=qnadmin exe=/usr/sbin/sshd hostname=10.0.2.2 "
              "addr=10.0.2.2 terminal=ssh res=success' " % hour_before)
    assert rp.attribute(ev, OWNER, [], event) == (True, 'your login from 10.0.2.2 (audit session 16)')
    assert len(ev.audit_exec) == exec_before


def test_a_change_known_by_time_only_reads_as_a_sentence():
    # The incident VM's own converge over Mitogen, whose login record lay before the window, read
    # "Made by by time only: no login of yours then ...": the lead now fits every attribution.
    group = {'who': 'by time only: no login of yours then (no audit record names session 14)', 'as': 'root (uid 0)',
             'paths': [{'path': '/etc/systemd/system/quietnode-connlog.service',
                        'steps': [{'action': 'created', 'by': 'python3.11', 'time': '2026-12-06T13:02:11Z', 'count': 1}]}]}
    assert rp._made_by_words(group) == (
        'Who made these is known by time only: no login of yours then (no audit record names session 14), running as '
        'root (uid 0): /etc/systemd/system/quietnode-connlog.service (created at 2026-12-06 13:02 UTC by python3.11).')
    group['who'] = 'a service or daemon (no login session: audit login uid unset)'
    assert rp._made_by_words(group).startswith('Made by a service or daemon (no login session')
