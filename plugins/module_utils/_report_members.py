# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every bundle member the report reads, in one table.

Names are relative to the bundle's top directory (evidence-<host>-<stamp>/). A name
ending in '/' is a prefix (every member below it); '*' matches within one name.
When the collector renames a member or bumps its format, this is the one place to edit.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch

# Bundle formats this report understands; from format 2 on, summary/bundle.json names it.
# 2 added summary/bundle.json, the auth summary's source, attempts per connection and
# classic-stamp zone, and shadow statuses set/empty/locked.
FORMATS_KNOWN = (1, 2)
# Bundles without a format line are the first format (manifest.jsonl + collection.log).
FORMAT_DEFAULT = 1

# key: (patterns, artifact group that writes them, what the report reads it for)
MEMBERS = {
    'manifest': (('manifest.jsonl',), 'bundle', 'hashes of every member, for verification'),
    'collection_log': (('collection.log',), 'bundle', 'window, clock, collection start, commands run'),
    'bundle_info': (('summary/bundle.json',), 'bundle', 'format version and window'),
    'readiness': (('summary/readiness.json',), 'readiness', 'which recorders were on'),
    'auth_summary': (('summary/auth_events.json',), 'auth', 'failures by address and user when the journal is missing'),
    'acct_summary': (('acct/summary.json',), 'acct', 'process accounting totals'),
    'pacct': (('files/var/log/account/pacct*', 'files/var/account/pacct*'), 'acct', 'one record per ended process'),
    'sysstat': (('sysstat/sa[0-9]*.json',), 'sysstat', 'CPU, load, memory, network and disk per interval'),
    'journal': (('journal/journal.json',), 'journal', 'sshd, sudo, cron and systemd unit events'),
    'auth_log': (('files/var/log/auth.log', 'files/var/log/auth.log.1', 'files/var/log/secure', 'files/var/log/secure-*'),
                 'auth', 'sshd and sudo lines when the journal is missing'),
    'syslog': (('files/var/log/syslog', 'files/var/log/syslog.1', 'files/var/log/cron', 'files/var/log/cron-*'),
               'syslog', 'cron runs when the journal is missing'),
    'audit': (('audit/ausearch.txt',), 'audit', 'executions recorded by auditd'),
    'logins': (('logins/*.jsonl',), 'logins', 'wtmp/wtmpdb login records'),
    'processes': (('live/processes.json',), 'live', 'processes running at collection time'),
    'flagged': (('live/flagged_processes.json',), 'live', 'running processes from deleted or temporary executables'),
    'sockets': (('live/sockets.json',), 'live', 'connections open at collection time'),
    'passwd': (('files/etc/passwd',), 'accounts', 'uid-0 accounts, user names'),
    'group': (('files/etc/group',), 'accounts', 'sudo and wheel members'),
    'sudoers': (('files/etc/sudoers', 'files/etc/sudoers.d/'), 'accounts', 'sudo rules'),
    'shadow': (('accounts/shadow_summary.json',), 'accounts', 'which accounts can log in with a password'),
    'crontabs': (('files/etc/crontab', 'files/etc/cron.d/', 'files/var/spool/cron/'), 'cron', 'jobs that exist now'),
    'timers': (('cron/timer_last_runs.json',), 'cron', 'last run of each systemd timer'),
    'changed_files': (('recent/changed_files.jsonl',), 'recent', 'files changed in the window'),
    'authorized_keys': (('files/*/.ssh/authorized_keys', 'files/*/*/.ssh/authorized_keys',
                         'files/*/.ssh/authorized_keys2', 'files/*/*/.ssh/authorized_keys2',
                         'files/etc/ssh/authorized_keys/'), 'ssh', 'keys that can log in'),
    'ld_preload': (('files/etc/ld.so.preload',), 'system', 'libraries forced into every program'),
    'dpkg_log': (('files/var/log/dpkg.log',), 'packages', 'package installs and upgrades'),
    'dnf_log': (('files/var/log/dnf.rpm.log',), 'packages', 'package installs and upgrades (EL)'),
    'fail2ban_log': (('files/var/log/fail2ban.log', 'files/var/log/fail2ban.log.1'), 'fail2ban', 'bans and unbans'),
    'fail2ban_banned': (('firewall/fail2ban_banned.txt',), 'firewall', 'addresses banned at collection time'),
    # -- process history and persistence baseline (_evidence_process; roles atop, persistence_baseline) --
    'baseline': (('baseline/snapshot.json',), 'baseline', 'the newest persistence snapshot taken at converge'),
    'baseline_diff': (('baseline/diff.json',), 'baseline', 'persistence surfaces added, removed and changed since the snapshot'),
    'watch_events': (('baseline/watch_events.jsonl',), 'baseline', 'audit records of the persistence watches in the window'),
    'atop_processes': (('atop/processes.jsonl',), 'atop', 'per-interval CPU, memory and disk of every active process'),
    'atop_summary': (('atop/summary.json',), 'atop', 'atop files decoded and rows dropped at the cap'),
    'own_session': (('summary/own_session.json',), 'live', "the collection's own login, sudo and process chain"),
    # The network recorders (connlog and firewall roles), decoded from the journal by the collector; bundles
    # written before them lack these members, which lowers confidence but is no error (same format number:
    # they only add members).
    'connections': (('network/connections.jsonl',), 'journal', 'new outbound connections with uid, destination and port'),
    'unit_ip': (('network/unit_ip.jsonl',), 'journal', 'bytes sent and received per systemd unit, when it stopped'),
    'denied': (('network/denied.json',), 'journal', 'refused inbound packets per source address'),
    'network_summary': (('network/summary.json',), 'journal', 'whether the network recorders were loaded, line counts'),
}


def member_key(name):
    """The MEMBERS key a bundle-relative member name belongs to, or None when the report does not read it."""
    for key, (patterns, _group, _why) in MEMBERS.items():
        for pattern in patterns:
            if pattern.endswith('/'):
                if name.startswith(pattern):
                    return key
            elif fnmatch.fnmatchcase(name, pattern):
                return key
    return None
