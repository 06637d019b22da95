"""Findings from atop's process history and the persistence baseline, on a bundle the module wrote on the
Molecule `recorders` target (Debian 12; fixtures/report/recorders-debian12.tar.gz, groups live, acct, atop, audit,
baseline, accounts, ssh, cron, logins; 12 minutes). Planted after converge: /var/tmp/.kworkerd (sha256sum reading
/dev/zero as www-data for 150 s, its file deleted), a new persistence snapshot, then a uid-0 account toor, a sudo
user helpdesk, a key attacker@planted in root's authorized_keys, /etc/cron.d/planted and planted.timer.
Each rule fires on the fixture and has a benign case that changes one real input.
"""

import copy
import os

import pytest

from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_process as ep
from ansible_collections.quietnode.baseline.plugins.module_utils import _report_bundle as rb
from ansible_collections.quietnode.baseline.plugins.module_utils import _report_output as ro
from ansible_collections.quietnode.baseline.plugins.module_utils import _report_process as rp
from ansible_collections.quietnode.baseline.plugins.module_utils import _report_rules as rr

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, '..', '..', 'fixtures', 'evidence', 'audit', 'watch.log')) as _handle:
    WATCH_LINES = _handle.read().splitlines()
BUNDLE = os.path.join(HERE, '..', '..', 'fixtures', 'report', 'recorders-debian12.tar.gz')
_CACHE = {}


def evidence():
    if 'ev' not in _CACHE:
        _CACHE['ev'] = rb.read_bundle(BUNDLE)
    return copy.deepcopy(_CACHE['ev'])


def of(findings, rule):
    return [f for f in findings if f['rule'] == rule]


def test_bundle_members_are_read():
    ev = evidence()
    assert {'atop_processes', 'atop_summary', 'baseline', 'baseline_diff', 'watch_events', 'own_session'} <= ev.present
    assert len(ev.atop) > 100 and ev.atop_dropped == 0
    assert isinstance(ev.baseline_diff, dict) and ev.baseline_diff['manifest_format'] == 2


# -- top CPU -------------------------------------------------------------------------------------
def test_top_cpu_comes_from_atop_with_command_lines():
    ev = evidence()
    findings = rr.evaluate(ev, rr.Context())
    top = of(findings, 'cpu-top')
    assert len(top) == 1 and top[0]['facts']['source'] == 'atop/processes.jsonl'
    first = top[0]['facts']['top'][0]
    assert (first['user'], first['command'], first['command_line']) == ('www-data', '.kworkerd', '/var/tmp/.kworkerd /dev/zero')
    # started 04:49:19, killed by timeout after 150 s; last seen in the sample of 04:52:03
    assert first['cpu_s'] > 10 and 150 <= first['running_s'] <= 170 and not first['still_running']
    assert top[0]['severity'] == 'info' and top[0]['evidence'][0]['member'] == 'atop/processes.jsonl'
    # the collection's own python is labelled, not ranked as a stranger's
    own = [t for t in top[0]['facts']['top'] if t['command'].startswith('python3')]
    assert own and all(t['label'] and 'this collection' in t['label'] for t in own)


def test_top_cpu_falls_back_to_accounting_without_atop():
    ev = evidence()
    ev.atop = []
    top = of(rr.evaluate(ev, rr.Context()), 'cpu-top')
    assert len(top) == 1 and 'source' not in top[0]['facts']


def test_disguised_name_from_atop_and_its_benign_case():
    ev = evidence()
    hit = of(rr.evaluate(ev, rr.Context()), 'exec-disguised')
    assert len(hit) == 1 and hit[0]['facts']['source'] == 'atop' and hit[0]['facts']['user'] == 'www-data'
    assert hit[0]['explanation'].startswith('atop (/var/tmp/.kworkerd /dev/zero) shows')
    ev.atop = [r for r in ev.atop if r.name != '.kworkerd']
    ev.acct = [r for r in ev.acct if r[4] != '.kworkerd']
    assert not of(rr.evaluate(ev, rr.Context()), 'exec-disguised')


# -- programs from temporary directories ----------------------------------------------------------
def temp_hits(ev):
    return [f for f in rr.evaluate(ev, rr.Context()) if f['rule'] == 'exec-temp']


def test_program_from_a_temp_dir_is_named_with_its_user():
    ev = evidence()
    hit = temp_hits(ev)
    assert len(hit) == 1 and hit[0]['severity'] == 'high'
    facts = hit[0]['facts']
    assert (facts['program'], facts['user'], facts['uid']) == ('/var/tmp/.kworkerd', 'www-data', 33)
    assert facts['sources'] == ['atop/processes.jsonl']
    assert facts['atop']['first'] == '2026-11-30T04:49:19Z' and facts['atop']['cpu_s'] > 10
    # this bundle has no list of changed files: whether the file is gone is not known
    assert facts['file_deleted'] is None and facts['atop']['file_deleted'] is None
    assert hit[0]['evidence'][0]['member'] == 'atop/processes.jsonl' and hit[0]['evidence'][0]['line'] >= 1
    # it ended before the collection: nothing to kill
    assert '(it has already ended)' in hit[0]['next_steps']


@pytest.mark.parametrize('listed,deleted', [(False, True), (True, False)], ids=['gone', 'still-there'])
def test_a_temp_program_whose_file_is_gone_says_so(listed, deleted):
    ev = evidence()
    ev.present.add('changed_files')
    ev.changed = [{'path': '/var/tmp/.kworkerd', 'type': 'file'}] if listed else []
    hit = temp_hits(ev)[0]
    assert hit['facts']['file_deleted'] is deleted
    assert ('its file has since been deleted' in hit['explanation']) is deleted


def test_programs_from_usr_are_not_flagged():
    ev = evidence()
    ev.atop = [r for r in ev.atop if not rp.temp_program(r)]
    assert not rp.atop_temp_programs(ev) and not temp_hits(ev)


# -- persistence against the snapshot --------------------------------------------------------------
def test_planted_persistence_is_found_per_surface():
    ev = evidence()
    findings = rr.evaluate(ev, rr.Context())
    kinds = dict((f['facts']['kind'], f) for f in findings if f['rule'] == 'persistence')
    assert set(kinds) >= {'authorized_keys', 'cron', 'systemd', 'accounts'}
    assert 'attacker@planted' in kinds['authorized_keys']['explanation']
    assert 'owner@laptop' not in kinds['authorized_keys']['explanation']  # in the snapshot already
    assert '/etc/cron.d/planted' in kinds['cron']['explanation']
    assert '/etc/systemd/system/planted.timer' in kinds['systemd']['explanation']
    accounts = kinds['accounts']
    assert accounts['severity'] == 'critical' and 'toor added (uid 0' in accounts['explanation']
    assert 'helpdesk added to the sudo group' in accounts['explanation']
    assert accounts['time_range']['start'].startswith('2026-11-30T04:54')
    assert kinds['cron']['confidence'] == 'high'  # the difference dates nothing but needs no changed-files list
    assert kinds['cron']['evidence'][0]['member'] == 'baseline/diff.json'


def test_changes_in_an_owner_session_are_labelled_not_flagged():
    ev = evidence()
    when = rb.iso_epoch('2026-11-30T04:54:00Z')
    ev.events['accepted'] = [{'t': when, 'user': 'admin', 'ip': '192.0.2.10', 'method': 'publickey',
                              'ref': rb.Ref('journal/journal.json', 'Accepted publickey', line=1)}]
    findings = rr.evaluate(ev, rr.Context(allowlist=['192.0.2.10']))
    flagged = set(f['facts']['kind'] for f in findings if f['rule'] == 'persistence')
    assert not flagged & {'authorized_keys', 'cron', 'systemd'}
    owner = [f for f in findings if f['rule'] == 'persistence-owner']
    assert owner and all(f['severity'] == 'info' for f in owner)


def test_no_snapshot_no_baseline_findings():
    ev = evidence()
    ev.baseline_diff, ev.watch_events = None, []
    assert rp.r_baseline(ev, rr.Context()) == []


# -- watch events: changed and put back ------------------------------------------------------------
def _watched(ev):
    watch = ep.WatchEvents()
    watch.feed(WATCH_LINES)
    ev.watch_events = []
    for n, row in enumerate(watch.rows(), 1):
        rp.store_watch(ev, 'baseline/watch_events.jsonl', n, row)
    return ev


def test_a_change_that_was_undone_is_still_on_record():
    ev = _watched(evidence())
    undone = of(rr.evaluate(ev, rr.Context()), 'persistence-undone')
    assert len(undone) == 1 and undone[0]['severity'] == 'high'
    paths = [item['path'] for item in undone[0]['facts']['items']]
    assert paths == ['/home/admin/.ssh/authorized_keys', '/etc/cron.d/beacon']
    assert undone[0]['facts']['items'][1]['events'][0]['action'] == 'deleted'
    assert undone[0]['evidence'][0]['member'] == 'baseline/watch_events.jsonl'


def test_the_collections_own_audit_session_is_not_an_intruder():
    ev = _watched(evidence())
    ev.own_session = dict(ev.own_session, audit_session=5)
    findings = rr.evaluate(ev, rr.Context())
    undone = of(findings, 'persistence-undone')
    assert [i['path'] for i in undone[0]['facts']['items']] == ['/etc/cron.d/beacon']
    assert any('/home/admin/.ssh/authorized_keys' in f['facts'].get('paths', [])
               for f in findings if f['rule'] == 'persistence-owner')


# -- readiness and the own session --------------------------------------------------------------------
def test_recorders_off_carry_the_questions_readiness_names():
    ev = evidence()
    off = dict((f['facts']['recorder'], f) for f in of(rr.evaluate(ev, rr.Context()), 'recorder-off'))
    assert off['auditd']['facts']['questions'][1].startswith('Which persistence files were changed')
    assert 'atop' not in off and 'persistence baseline' not in off
    ev.readiness = [dict(r, status='missing', unanswerable=['Q?']) if r['recorder'] == 'atop' else r for r in ev.readiness]
    off = dict((f['facts']['recorder'], f) for f in of(rr.evaluate(ev, rr.Context()), 'recorder-off'))
    assert off['atop']['facts']['questions'] == ['Q?'] and 'atop role' in off['atop']['next_steps']


@pytest.mark.parametrize('session,owner', [
    ({'login_user': 'admin', 'source_address': '192.0.2.77'}, True),
    ({'login_user': None, 'source_address': None}, False),
], ids=['ssh-login', 'no-login'])
def test_own_session_member_marks_the_collections_login(session, owner):
    ev = evidence()
    ev.own_session = session
    users, ips = rr.own_session(ev, rr.Context())
    assert ('admin' in users and '192.0.2.77' in ips) == owner


# -- the HTML's CPU-by-range table ---------------------------------------------------------------------
def test_range_table_rows_come_from_atop(tmp_path):
    ev = evidence()
    rows, dropped = ro.processes(ev)
    assert dropped == 0 and rows[0][3:5] == ['www-data', '/var/tmp/.kworkerd /dev/zero']
    # each row is one atop interval: [start, end] spans that interval, CPU within it
    assert all(r[1] - r[0] in (60, 7) or r[1] - r[0] > 60 for r in rows) and rows[0][2] <= 60


# A real bundle from the README's own commands (fixtures/report/readme-debian12.tar.gz: a Debian 12 container,
# site.yml and its re-apply over SSH from the controller root@vm, then collect_evidence.yml, trimmed with
# tests/scripts/trim_bundle.py). atop holds the re-apply's Mitogen interpreters, titled with the controller.
README_BUNDLE = os.path.join(HERE, '..', '..', 'fixtures', 'report', 'readme-debian12.tar.gz')


def test_an_earlier_ansible_run_is_named_as_ansible_not_as_this_collection():
    ev = rb.read_bundle(README_BUNDLE)
    top = of(rr.evaluate(ev, rr.Context()), 'cpu-top')[0]
    rows = top['facts']['top']
    ansible = [t for t in rows if '(mitogen:' in t['command_line']]
    assert ansible and all(t['label'] == 'Ansible, run from root@vm' for t in ansible), rows
    assert '[Ansible, run from root@vm]' in top['explanation']
    # the collector's own interpreter (its process chain in summary/own_session.json) keeps its label
    own = rp.own_pids(ev)
    assert own and any(t['label'] == 'this collection' for t in rows if t['command'].startswith('python3'))
