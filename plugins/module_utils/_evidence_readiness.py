# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness verdicts: which recorders were on, off or missing, judged from what collection observed.

Each judge takes the observations (a plain dict, so tests can give any) and returns
(status, detail), or None when there is nothing to judge (an optional feature not set up).  Status is one of on,
off, volatile, missing, error, and for the auth log journal (covered by the persistent journal).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_window import iso


def fail2ban(obs):
    if obs.get('fail2ban_socket'):
        return 'on', 'fail2ban server socket present'
    return 'off', 'no fail2ban server socket'


def auth_log(obs):
    if obs.get('auth_logs'):
        return 'on', ', '.join(obs['auth_logs'])
    if obs.get('journal_var'):
        # Debian 12 cloud images have no rsyslog: the persistent journal holds sshd, sudo and PAM.
        return 'journal', 'no /var/log/auth.log or /var/log/secure; authentication is in the persistent journal'
    return 'missing', 'no /var/log/auth.log or /var/log/secure: authentication is only in the journal'


def journal(obs):
    if obs.get('journal_var'):
        detail = 'persistent journal in /var/log/journal'
        status = 'on'
    elif obs.get('journal_run'):
        detail, status = 'journal only in /run/log/journal: lost at every reboot', 'volatile'
    else:
        return 'missing', 'no journal files'
    head = obs.get('journal_head')
    return status, '%s; oldest entry %s' % (detail, iso(int(head)) if head else 'unknown')


def sysstat(obs):
    files, used, enabled = obs.get('sa_files', []), obs.get('sa_in_window', 0), obs.get('sysstat_enabled')
    if not files:
        return 'missing', 'no sa files in /var/log/sysstat or /var/log/sa'
    if not used:
        return 'off', 'sa files exist but none was written in the window'
    return ('on' if enabled is not False else 'off'), 'sa files in window: %d; ENABLED=%s' % (used, enabled)


def acct(obs):
    current = [p for p in obs.get('pacct', []) if p.endswith('/pacct')]
    if not current:
        return 'missing', 'no pacct file: install acct (Debian) or psacct (EL)'
    if not obs.get('pacct_in_window'):
        return 'off', 'pacct not written in the window'
    return 'on', ', '.join(current)


def auditd(obs):
    logs, records, ausearch = obs.get('audit_logs', []), obs.get('audit_records_in_window', 0), obs.get('ausearch')
    if ausearch not in (None, 'ok', 'not present'):
        return 'error', '%s; the raw audit logs are in the bundle' % ausearch
    if obs.get('auditd_running'):
        status, detail = 'on', 'auditd running'
    elif logs:
        status, detail = 'off', 'auditd not running (a container cannot run it)'
    else:
        return 'missing', 'no /var/log/audit/audit.log: auditd is not installed or never wrote a log'
    detail += '; audit logs: %d; records in the window: %d' % (len(logs), records)
    if records and ausearch == 'not present':
        detail += '; ausearch not present: raw records only'
    return status, detail


def blocklist_refresh(obs):
    state = obs.get('blocklist_refresh')
    if state is None:
        return None
    if not isinstance(state, dict) or 'outcome' not in state:
        return 'error', 'the refresh state file could not be read'
    sources = state.get('sources') or {}
    kept = sorted('%s (%s)' % (name, result.get('reason', '?')) for name, result in sources.items()
                  if result.get('outcome') == 'kept')
    detail = 'last refresh %s: %s, %d source(s)' % (iso(int(state.get('time') or 0)), state['outcome'], len(sources))
    if kept:
        detail += '; kept the last good copy of %s' % ', '.join(kept)
    if state.get('reason'):
        detail += '; %s' % state['reason']
    return ('error' if state['outcome'] == 'failed' else 'on'), detail


def atop(obs):
    files, used, rows = obs.get('atop_files', []), obs.get('atop_files_in_window', 0), obs.get('atop_rows', 0)
    if not files:
        return 'missing', 'no raw files in /var/log/atop: apply the atop role'
    if not used:
        return 'off', 'atop files exist but none was written in the window'
    running = obs.get('atop_running')
    detail = 'raw files in the window: %d; process rows decoded: %d; atop %s' % (
        used, rows, 'running' if running else 'not running now')
    return ('on' if running is not False else 'off'), detail


def persistence_baseline(obs):
    if obs.get('baseline_snapshot'):
        if obs.get('baseline_error'):
            return 'error', '%s: %s' % (obs['baseline_snapshot'], obs['baseline_error'])
        return 'on', 'snapshot %s compared with the host now; persistence watch records in the window: %d' % (
            obs['baseline_snapshot'], obs.get('watch_events', 0))
    return 'missing', obs.get('baseline_error') or 'no snapshot'


def _log_recorder(obs, loaded_key, lines_key, what, loaded, missing):
    """A kernel-log recorder: its rule in the ruleset at collection time, and its lines in the window."""
    net = obs.get('network')
    if not isinstance(net, dict):
        return None
    present, lines = net.get(loaded_key), net.get(lines_key) or 0
    seen = '%d %s in the window' % (lines, what)
    if present:
        return 'on', '%s; %s' % (loaded, seen)
    if present is None:
        # the ruleset was not read (firewall group not collected, or no nft): only the lines speak
        return ('on' if lines else 'missing'), 'ruleset not read; %s' % seen
    return 'off', '%s; %s%s' % (missing, seen, ' (it was on earlier in the window)' if lines else '')


def connection_log(obs):
    return _log_recorder(obs, 'connlog_table', 'connlog_lines', 'new outbound connections logged',
                         'table inet quietnode_connlog loaded',
                         'no table inet quietnode_connlog: which user or service opened an outbound connection, '
                         'and to where, is not recorded (connlog role)')


def denied_log(obs):
    return _log_recorder(obs, 'denied_rule', 'denied_lines', 'refused inbound packets logged',
                         'firewall rule logging refused packets (qn-denied) loaded',
                         'no rule logging refused packets: port scans and ping sweeps leave no trace '
                         '(firewall role, firewall_denied_log)')


def unit_ip_accounting(obs):
    net = obs.get('network')
    if not isinstance(net, dict):
        return None
    acct = net.get('ip_accounting') or {}
    seen = '%d unit stop records with IP bytes in the window' % (net.get('unit_ip_records_with_bytes') or 0)
    if acct.get('default_ip_accounting') and acct.get('cgroup_v2'):
        return 'on', 'DefaultIPAccounting=yes on cgroup v2; %s' % seen
    why = 'no cgroup v2 (a container or an old host)' if not acct.get('cgroup_v2') else 'DefaultIPAccounting is off'
    return 'off', '%s: bytes sent per service are not recorded (connlog role); %s' % (why, seen)


JUDGES = (
    ('fail2ban', 'firewall', fail2ban),
    ('auth log', 'auth', auth_log),
    ('journal', 'journal', journal),
    ('sysstat', 'sysstat', sysstat),
    ('process accounting', 'acct', acct),
    ('auditd', 'audit', auditd),
    ('blocklist refresh', 'firewall', blocklist_refresh),
    ('atop', 'atop', atop),
    ('persistence baseline', 'baseline', persistence_baseline),
    ('connection log', 'journal', connection_log),
    ('denied-packet log', 'journal', denied_log),
    ('unit IP accounting', 'journal', unit_ip_accounting),
)

# What no longer has an answer when a recorder is missing, off or volatile: the report shows these words
# (empty live state must never read as "all clear"). One row per recorder name of JUDGES or of another
# module's readiness rows.
QUESTIONS = {
    'atop': ('Which processes used the CPU, memory or disk in a given minute, with their command lines?',
             'Which programs ran and ended between two samples, with their full command line?'),
    'process accounting': ('Which programs ran and ended in the window, as whom, and how much CPU each used?',),
    'sysstat': ('When did CPU, memory, network or disk activity spike?',),
    'auditd': ('Where on disk did each program run from (a temporary directory, a deleted file)?',
               'Which persistence files were changed, by whom, even if the change was undone since?'),
    'connection log': ('Which process or user opened each outbound connection, to which address and port?',
                       'How many bytes left the host per connection or per service?'),
    'denied-packet log': ('Who scanned the host or swept it with ping, from where and on which ports?',),
    'unit IP accounting': ('How many bytes did each service send and receive?',),
    'persistence baseline': ('What changed in authorized_keys, accounts, sudo, cron, systemd units and start-up files '
                             'since the host was provisioned?',),
    'journal': ('What did services, sshd, sudo and cron log in the window (lost at a reboot when volatile)?',),
    'fail2ban': ('Were the addresses guessing passwords banned, and when?',),
    'auth log': ('Who tried to log in (only the journal holds it)?',),
    'blocklist refresh': ('Were the blocklists current in the window?',),
}


# Statuses that leave no question open: on, or answered by another recorder (the auth log by the journal).
COVERED = ('on', 'journal')


def verdicts(obs, groups):
    out = []
    for recorder, group, judge in JUDGES:
        verdict = judge(obs) if group in groups else None
        # A judge with nothing to judge (an optional feature that is not set up) says nothing.
        if verdict:
            row = {'recorder': recorder, 'status': verdict[0], 'detail': verdict[1]}
            if verdict[0] not in COVERED:
                row['unanswerable'] = list(QUESTIONS.get(recorder, ()))
            out.append(row)
    return out


JOURNAL_HEAD = 184  # head_entry_realtime in a journal file's header (systemd's JOURNAL_FILE_FORMAT)


def journal_head(path):
    """The time of a journal file's oldest entry, from its header; None when it is not a journal file."""
    try:
        with open(path, 'rb') as handle:
            header = handle.read(JOURNAL_HEAD + 8)
    except OSError:
        return None
    if len(header) < JOURNAL_HEAD + 8 or header[:8] != b'LPKSHHRH':
        return None
    value = int.from_bytes(header[JOURNAL_HEAD:JOURNAL_HEAD + 8], 'little')
    return value / 1e6 if value else None
