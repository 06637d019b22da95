# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings: a table of rules (id, severity, title, text, next step) and one small function per rule.

A rule function takes the Evidence of one host and a Context (who the owner is) and returns
a list of findings; the table holds the words a non-administrator reads.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import ipaddress
import re

from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_readiness import COVERED as READINESS_COVERED
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_readiness import QUESTIONS as READINESS_QUESTIONS
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_records import iso
from ansible_collections.quietnode.baseline.plugins.module_utils._report_bundle import EXACT_LINES, iso_epoch

SEVERITIES = ('info', 'low', 'medium', 'high', 'critical')
CONFIDENCES = ('low', 'medium', 'high')
TEMP_DIRS = ('/tmp/', '/var/tmp/', '/dev/shm/')
# The audit login uid and session of a process no login started (systemd units, daemons): the collector writes
# null for audit's 4294967295 (_evidence_process._int); older or hand-made records may keep the number or "unset".
UNSET = ('None', '4294967295', 'unset', '-1')

# Scheduled work every Debian or EL host runs: labelled, never flagged.
BENIGN_UNITS = {
    'apt-daily.service': 'apt-daily: refreshes the package lists',
    'apt-daily-upgrade.service': 'apt-daily-upgrade: installs security updates',
    'unattended-upgrades.service': 'unattended-upgrades: installs security updates',
    'logrotate.service': 'logrotate: rotates and compresses logs',
    'man-db.service': 'man-db: rebuilds the manual page index',
    'fstrim.service': 'fstrim: tells the disk which blocks are free',
    'e2scrub_all.service': 'e2scrub: checks ext4 file systems',
    'e2scrub_reap.service': 'e2scrub: cleans up after file system checks',
    'dnf-makecache.service': 'dnf-makecache: refreshes the package metadata',
    'sysstat-collect.service': "sysstat: records this host's activity (each minute with the sysstat role, else every 10)",
    'sysstat-summary.service': "sysstat: writes the daily activity summary",
    'systemd-tmpfiles-clean.service': 'systemd-tmpfiles-clean: removes old temporary files',
    'dpkg-db-backup.service': 'dpkg-db-backup: backs up the package database',
    'apt-daily-upgrade.timer': 'apt-daily-upgrade timer',
    'fail2ban.service': 'fail2ban: bans addresses that fail to log in',
}
BENIGN_COMMANDS = (
    ('sysstat', re.compile(r'^(sadc|sa1|sa2|sadf|debian-sa1)$')),
    ('logrotate', re.compile(r'^logrotate$')),
    ('man-db', re.compile(r'^(mandb|man-db)$')),
    ('fstrim', re.compile(r'^fstrim$')),
    ('e2scrub', re.compile(r'^e2scrub')),
    ('package manager', re.compile(r'^(apt|apt-get|apt-check|dpkg|dpkg-.*|unattended-upgr|dnf|dnf-automatic|rpm|http|gpgv|apt-key)$')),
)
# System daemons, each with the accounts the distributions run it as (Debian's messagebus, EL's dbus): busy
# under a loaded systemd (many unit reloads) but never a reason to suspect its account. A program that
# only borrows the name under another account is still reported.
SYSTEM_DAEMONS = (
    ('system bus', re.compile(r'^(dbus-daemon|dbus-broker|dbus-broker-lau)$'), re.compile(r'^(messagebus|dbus)$')),
    ('systemd', re.compile(r'^systemd-'), re.compile(r'^systemd-')),
    ('polkit', re.compile(r'^polkitd$'), re.compile(r'^polkitd$')),
)
BENIGN_CRON = re.compile(r'debian-sa1|/sa1 |/sa2 |run-parts|logrotate|e2scrub|popularity-contest|sessionclean|anacron')
# How Ansible's become shows in sudo's log: a marker it echoes, or, over Mitogen (the fast_linear strategy),
# the bootstrap that starts the host's long-lived interpreter.
ANSIBLE_BECOME = re.compile(r'BECOME-SUCCESS|exec\(zlib\.decompress\(binascii\.a2b_base64\(sys\.argv\[1\]\)')


def ansible_become(command):
    return bool(ANSIBLE_BECOME.search(command or ''))


# What the collector itself starts on the host (collection.log lists them): labelled "this collection".
COLLECTOR_COMMANDS = re.compile(r'^(python3?|python3\.\d+|journalctl|sadf|ausearch|ss|nft|iptables-save|ip6tables-save|ipset|'
                                r'fail2ban-client|sshd|systemctl|dpkg|rpm|sh|sudo|bash|sftp-server|chown|sleep)$')
DISGUISE = re.compile(r'^(\.|kworker|kthreadd|ksoftirqd|kswapd|migration|rcu_|watchdog|kdevtmpfs|khugepaged|\[)')
# Persistence places: (kind, pattern on the path).
PERSISTENCE = (
    ('authorized_keys', re.compile(r'/\.ssh/authorized_keys2?$|^/etc/ssh/authorized_keys/')),
    ('accounts', re.compile(r'^/etc/(passwd|shadow|group|gshadow)$')),
    ('sudo', re.compile(r'^/etc/sudoers(\.d/.*)?$')),
    ('cron', re.compile(r'^/etc/(crontab|anacrontab|cron\.(d|hourly|daily|weekly|monthly)(/.*)?)$|^/var/spool/cron(/.*)?$')),
    ('systemd', re.compile(r'^/(etc|usr/lib|lib|run)/systemd/(system|user|transient)/.+\.(service|timer|socket|path)$'
                           r'|/\.config/systemd/user/.+')),
    ('ld.so.preload', re.compile(r'^/etc/ld\.so\.preload$')),
    ('shell start-up', re.compile(r'/\.(bashrc|bash_profile|bash_login|profile|zshrc|zprofile|bash_logout)$'
                                  r'|^/etc/(profile|bash\.bashrc|environment|rc\.local)$|^/etc/profile\.d/')),
)


def stop_words(pids):
    """How to stop a flagged program: the kill command for its pids, or that it already ended."""
    return 'kill %s' % ' '.join(str(p) for p in pids) if pids else 'it has already ended'


RULES = {
    'ssh-bruteforce': dict(
        severity='medium', title='Someone tried to guess SSH passwords',
        text='{sources} address(es) made {connections} SSH connection(s) and {tried} '
             '({lines} log lines): {top}. This is the background noise of the internet; it matters only if one of them later '
             'logged in (a separate finding says so) or if password login is still allowed.',
        next='Keep password login off (ssh_lockdown does this) and fail2ban on; if a source is also listed under '
             '"login from an address not known as yours", treat the host as compromised.'),
    'ssh-login-after-failures': dict(
        severity='critical', title='An address that was guessing passwords then logged in',
        text='{ip} failed to log in {guesses} time(s) and then logged in as {user} at {when}. A successful guess is the '
             'most common way small servers are taken over.',
        next='Assume the account {user} is compromised: rotate its password and keys, look at what it ran (sudo and '
             'process findings below), and rebuild the host if root was reached.'),
    'ssh-login-unknown': dict(
        severity='high', title='Login from an address not known as yours',
        text='{user} logged in from {ip} with {method} at {when}. The address is not in quietnode_management_allowlist '
             'and is not the address this collection came from.',
        next='If this was you (a new network, a phone), add the address to quietnode_management_allowlist. If not, '
             'remove the key or password that let it in and review what {user} ran afterwards.'),
    'ssh-login-owner': dict(
        severity='info', title='Your own logins',
        text='{count} login(s) came from addresses known as yours: {who}.',
        next='Nothing to do.'),
    'sudo-used': dict(
        severity='medium', title='Commands were run as root with sudo',
        text='{count} sudo command(s) by {users}: {commands}.',
        next='Check that you or your automation ran these; sudo by an account you do not use is a sign of a takeover.'),
    'sudo-owner': dict(
        severity='info', title='Your own sudo commands',
        text="{count} sudo command(s) by {users}, who logged in from an address known as yours{own}.",
        next='Nothing to do.'),
    'exec-temp': dict(
        severity='high', title='A program ran from a temporary directory or from a deleted file',
        text='{what}. Legitimate software is installed in /usr; programs started from /tmp, /var/tmp, /dev/shm, from '
             'memory (memfd) or from a file deleted after it started are a classic sign of an intruder\'s tool.',
        next='Keep the copied executable (live/exe/ in the bundle) for analysis, stop the process ({stop}), and '
             'find how it got there: the logins and persistence findings of the same hours.'),
    'exec-disguised': dict(
        severity='high', title='A program with a disguised name used the CPU',
        text='{source} shows {comm!r} run by {user} for {running} seconds, using {cpu} CPU seconds. Names that start with a dot or '
             'imitate kernel threads (kworker, kthreadd) are what crypto-miners and backdoors pick to hide in a '
             'process list.',
        next='Find and remove the program: a "program ran from a temporary directory" finding or the audit records '
             '(audit/ausearch.txt) give its path; process accounting keeps only the first 16 characters of its name. '
             'If auditd was off (see the recorders), turn it on so the next collection records where it ran from.'),
    'cpu-top': dict(
        severity='info', title='What used the CPU',
        text='The programs that used the most CPU in the window: {top}.',
        next='Nothing to do if you recognise them; programs of a service account (www-data, nobody) that you did not '
             'deploy deserve a look.'),
    'cpu-service-account': dict(
        severity='medium', title='A service account used a lot of CPU',
        text='{user} (a service account, uid {uid}) ran {comm!r} for {cpu} CPU seconds. Service accounts run web '
             'servers and daemons; a heavy unknown program under one is how a hacked web application mines coins.',
        next='Check whether {comm!r} belongs to software you run as {user}; if not, treat the web application as '
             'compromised.'),
    'cpu-spike': dict(
        severity='low', title='CPU spike',
        text='The CPU was {busy}% busy at {when} (usually {median}%). {what}',
        next='See the processes of that minute: select it on the CPU chart.'),
    'net-out-spike': dict(
        severity='medium', title='The host sent an unusual amount of data',
        text='{iface} sent {mb} MB between {start} and {end} (usually {median} kB/s). {who}',
        next='Check whether a backup or an upload you know of ran then; if not, treat it as data leaving the host '
             'and look at the processes and logins of the same minutes.'),
    'net-out-unit': dict(
        severity='high', title='A program sent a lot of data out, and who it was is on record',
        text='{who} sent {mb} MB{dest} between {start} and {end}. {why}',
        next='Find out what {unit} is: `systemctl status {unit}` and `journalctl -u {unit}` on the host. If you do not '
             'know it, treat the data as stolen, block the destination and look at how {user} came to run it (the '
             'logins and process findings of the same hours).'),
    'port-scan': dict(
        severity='low', title='Someone probed the host for open ports (the firewall refused them)',
        text='{src} sent {packets} refused packet(s) to {count} different port(s) ({ports}) between {start} and {end}. '
             'Scans are constant on the internet; the firewall refused every one of these. {more}',
        next='Nothing to do if only SSH and the services you chose are open (see the firewall role). If the same address '
             'also tried to log in or logged in, read those findings first.'),
    'ping-sweep': dict(
        severity='low', title='Someone checked whether the host is alive (ping)',
        text='{src} sent {count} ICMP echo or timestamp request(s), refused by the firewall, between {start} and {end}. '
             'This is how a scan finds hosts before probing their ports.',
        next='Nothing to do; set firewall_ping_rate_limit only if an uptime monitor of yours needs ping answered.'),
    'persistence': dict(
        severity='high', title='Something changed that lets a program or a person come back',
        text='{kind} changed in the window: {what}. Intruders add keys, accounts, cron jobs and services so they '
             'survive a reboot or a password change.',
        next='Open each file (the evidence links show them); remove what you did not add, then rotate the '
             'credentials of the accounts involved.'),
    'persistence-owner': dict(
        severity='info', title='Start-up and login files changed while you were logged in',
        text='{kind} changed during a session of yours (a login from your address, the controller or this '
             "collection): {what}. Running the baseline makes such changes (admin keys, sudo rules, units), so "
             'they are not counted as an intrusion.',
        next='Nothing to do if you ran the baseline or changed them yourself then; if you did not, treat them as '
             'the finding above and open each file.'),
    'persistence-metadata': dict(
        severity='low', title='Permissions or owners changed on start-up and login files',
        text='{count} file(s) that decide what runs at start-up or login had their inode changed in the window but '
             'kept an older content date: {what}. Package updates and permission fixes do this; so does an intruder '
             'who resets the modification date of a file after editing it.',
        next='If no package update or configuration run happened then, compare these files with a known-good copy.'),
    'uid0-account': dict(
        severity='critical', title='A second account has root\'s powers (uid 0)',
        text='{users} has user id 0, which makes it root under another name.',
        next='Remove the account (userdel -f {first}) unless you created it on purpose, and review the logins and '
             'persistence findings.'),
    'cron-vanished': dict(
        severity='high', title='A scheduled job ran that no longer exists',
        text='Cron ran {command!r} as {user} {count} time(s) between {start} and {end}, but no crontab holds it now. '
             'Deleting a job after use is how intruders clean up.',
        next='Find out what the command did; the recently changed files and the process findings of the same minutes help.'),
    'scheduled-benign': dict(
        severity='info', title='Routine maintenance ran (not a problem)',
        text='{runs}.',
        next='Nothing to do: these jobs come with the operating system and with this collection.'),
    'recorder-off': dict(
        severity='low', title='A recorder was off: some questions cannot be answered',
        text='{recorder} was {status} ({detail}). Without it these questions have no answer: {questions}',
        next='{fix}'),
    'missing-evidence': dict(
        severity='low', title='Part of the evidence is missing from the bundle',
        text='The bundle holds no {what}, so {why}. Findings that need it have lower confidence.',
        next='Collect again without excluding that group (exclude=[] in playbooks/collect_evidence.yml).'),
    # -- process history and persistence baseline (_report_process) --
    'persistence-undone': dict(
        severity='high', title='A start-up or login file was changed and then put back',
        text='The audit watches on persistence files recorded changes that the host no longer shows. {what} Adding '
             'a key or a job, using it and removing it again is how an intruder cleans up.',
        next='Find the session that made the change (the login uid in the evidence, and the logins finding of the same '
             'minutes); rotate the credentials of the accounts involved.'),
    'live-nothing-flagged': dict(
        severity='info', title='Nothing running at collection time was flagged (this is not an all-clear)',
        text='No process running when the evidence was collected came from a temporary directory or a deleted file. '
             'A program that ran earlier and has ended leaves no trace here: see the process accounting and audit '
             'findings for the hours before.',
        next='Nothing to do for this check alone.'),
}

# Bundles before readiness named the questions itself (summary/readiness.json 'unanswerable') read them here.
RECORDER_QUESTIONS = READINESS_QUESTIONS
RECORDER_FIX = {
    'connection log': 'Apply the connlog role (playbooks/site.yml does): it loads table inet quietnode_connlog.',
    'denied-packet log': 'Apply the firewall role with firewall_denied_log: true (the default).',
    'unit IP accounting': 'Apply the connlog role (DefaultIPAccounting) on a host with cgroup v2: a VM or a real '
                          'server, not a container on a cgroup v1 host.',
    'auditd': 'Apply the auditd role (playbooks/site.yml does) on a host that can run auditd: a VM or a real server, '
              'not a container.',
    'process accounting': 'Apply the process_accounting role (playbooks/site.yml does): it installs and starts acct (Debian) '
                          'or psacct (EL).',
    'sysstat': 'Apply the sysstat role (playbooks/site.yml does): it turns collection on every minute. A host converged '
               'minutes ago has no sample yet.',
    'journal': 'Apply the journald role (playbooks/site.yml does): Storage=persistent keeps the journal across reboots.',
    'fail2ban': 'Apply the fail2ban role.',
    'auth log': 'Install rsyslog, or rely on the journal.',
    'atop': 'Apply the atop role (playbooks/site.yml does): it records every process every minute for 35 days.',
    'persistence baseline': 'Apply the persistence_baseline role (playbooks/site.yml does): it snapshots the persistence '
                            'surfaces at converge and puts audit watches on them.',
}
MISSING = {
    'sysstat': ('sysstat export', 'the CPU, memory, network and disk charts are empty'),
    'pacct': ('process accounting file', 'no process that ended in the window can be named'),
    'journal': ('journal export', 'systemd units, sudo and cron runs come only from text logs, if any'),
    'passwd': ('/etc/passwd', 'uid-0 accounts cannot be checked'),
    'changed_files': ('list of files changed in the window', 'persistence cannot be dated'),
    'processes': ('live process list', 'nothing running at collection time can be checked'),
    'readiness': ('summary/readiness.json', 'it cannot be told which recorders were on'),
    'network_summary': ('network recorder export (network/)', 'outbound traffic cannot be tied to a user, service or '
                        'destination, and refused scans are not counted'),
}


def rank(finding):
    return (-SEVERITIES.index(finding['severity']), -CONFIDENCES.index(finding['confidence']), finding['time_range']['start'] or '')


class Context:
    """Who counts as the owner: the management allowlist, the controller's addresses, the collection's own session."""

    def __init__(self, allowlist=(), controller=()):
        self.nets = []
        for item in list(allowlist) + list(controller):
            try:
                self.nets.append(ipaddress.ip_network(str(item), strict=False))
            except ValueError:
                continue
        self.allowlist = [str(a) for a in allowlist]
        self.controller = set(str(c) for c in controller)

    def allowed(self, ip):
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.nets if net.version == addr.version)


def _finding(rule, confidence, t0, t1, evidence, severity=None, facts=None, labels=None, **words):
    spec = RULES[rule]
    return {'rule': rule, 'severity': severity or spec['severity'], 'confidence': confidence,
            'title': spec['title'], 'explanation': spec['text'].format(**words), 'next_steps': spec['next'].format(**words),
            'time_range': {'start': iso(int(t0)) if t0 else None, 'end': iso(int(-(-t1 // 1))) if t1 else None},
            'evidence': [dict(r) for r in evidence][:20], 'facts': facts or {}, 'labels': labels or []}


def user_name(ev, uid):
    for row in ev.passwd:
        if row['uid'] == uid:
            return row['user']
    return str(uid)


def when(epoch):
    return (iso(epoch) or '?')[:16].replace('T', ' ') + ' UTC'


def when_s(epoch):
    return (iso(int(epoch)) or '?')[:19].replace('T', ' ') + ' UTC'


def persistence_kind(path):
    for kind, rx in PERSISTENCE:
        if rx.search(path):
            return kind
    return None


def benign_label(comm, user=None):
    for label, rx in BENIGN_COMMANDS:
        if rx.match(comm):
            return label
    for label, program, account in SYSTEM_DAEMONS:
        if user and program.match(comm) and account.match(user):
            return label
    return None


# -- the owner's session -------------------------------------------------------------
def own_session(ev, ctx):
    """The collection's own login: the user whose sudo ran Ansible's become marker just before collection."""
    users = set()
    for event in ev.events.get('sudo', []):
        if ansible_become(event.get('command')) and ev.started - 3600 <= event['t'] <= ev.started + 600:
            users.add(event['user'])
    own_ips = set()
    for event in ev.events.get('accepted', []):
        if event['user'] in users and ev.started - 3600 <= event['t'] <= ev.started + 600:
            own_ips.add(event['ip'])
    # summary/own_session.json: the collector's own login, read from its process chain on the host
    session = getattr(ev, 'own_session', None)
    if isinstance(session, dict) and session.get('login_user') and session.get('source_address'):
        users.add(session['login_user'])
        own_ips.add(session['source_address'])
    return users, own_ips


# A login opens a window in which its changes count as the owner's: Ansible keeps one master
# connection for a whole run, so a change can come minutes after the login that made it.
OWNER_SESSION = 1800


def owner_windows(ev, ctx, own):
    """[(start, end)] of the owner's logins: from the allowlist, the controller or this collection's session."""
    windows = []
    for event in sorted(ev.events.get('accepted', []), key=lambda e: e['t']):
        if login_label(ev, ctx, event, own):
            if windows and event['t'] <= windows[-1][1]:
                windows[-1] = (windows[-1][0], event['t'] + OWNER_SESSION)
            else:
                windows.append((event['t'], event['t'] + OWNER_SESSION))
    return windows


def login_label(ev, ctx, event, own):
    users, ips = own
    if event['user'] in users and event['ip'] in ips and ev.started - 3600 <= event['t'] <= ev.started + 600:
        return "this collection's own session (yours)"
    if event['ip'] in ctx.controller or event['ip'] in ips:
        return "from the controller's address (yours)"
    if ctx.allowed(event['ip']):
        return 'from quietnode_management_allowlist (yours)'
    return None


# -- rules -----------------------------------------------------------------------------
def r_ssh(ev, ctx):
    out = []
    ssh = ev.ssh[ev.ssh_source]
    own = own_session(ev, ctx)
    # The address this collection logged in from is the owner's: its refusals are the connection
    # probe trying the admin before the admin exists, not a guess.
    by_ip = dict((ip, e) for ip, e in ssh['by_ip'].items() if not ctx.allowed(ip) and ip not in own[1])
    confidence = 'high' if ev.ssh_source == 'journal' and ev.window_given else 'medium'
    note = []
    if not by_ip and not ssh['lines'] and ev.auth_summary:
        # No raw lines: the collector's summary (attempts when it has them, else log lines).
        for row in ev.auth_summary.get('failures_by_ip', []):
            if ctx.allowed(row['key']):
                continue
            attempts = row.get('attempts')
            by_ip[row['key']] = {'connections': attempts if attempts is not None else row['count'], 'guesses': row['count'],
                                 'users': collections.Counter(), 'first': ev.since, 'last': ev.until, 'refs': []}
            if attempts is None:
                confidence = 'low'
                note = ['counted per log line from summary/auth_events.json (no attempts per connection in this bundle)']
    if not ev.window_given:
        note.append('per-address counts may include log lines up to a week before the window')
    if ssh.get('estimated'):
        confidence = 'medium'
        note.append('past the first %d failure lines, connections and passwords are estimated from the lines per '
                    'address' % EXACT_LINES)
    if by_ip:
        ranked = sorted(by_ip.items(), key=lambda kv: -kv[1]['guesses'])
        bans = collections.defaultdict(list)
        for ban in ev.bans:
            bans[ban['ip']].append(ban)
        sources = []
        refs = []
        for ip, e in ranked[:50]:
            banned = [b for b in bans.get(ip, []) if b['what'] in ('Ban', 'Restore Ban')]
            sources.append({'ip': ip, 'connections': e['connections'], 'guesses': e['guesses'], 'lines': e.get('lines', e['guesses']),
                            'users': [u for u, _n in e['users'].most_common(10)], 'first': iso(e['first']),
                            'last': iso(e['last']), 'banned': bool(banned),
                            'banned_at': iso(banned[0]['t']) if banned else None})
            refs.extend(e['refs'][:2])
            refs.extend(b['ref'] for b in banned[:1])
        top = '; '.join('%s: %d connection(s), %d password(s), users %s, %s' % (
            s['ip'], s['connections'], s['guesses'], ', '.join(s['users'][:4]) or '?',
            ('banned at %s' % when_iso(s['banned_at'])) if s['banned'] else 'not banned') for s in sources[:3])
        conns = sum(e['connections'] for e in by_ip.values())
        guesses = sum(e['guesses'] for e in by_ip.values())
        f = _finding('ssh-bruteforce', confidence, min(e['first'] for e in by_ip.values()),
                     max(e['last'] for e in by_ip.values()), refs,
                     facts={'sources': sources, 'connections': conns, 'guesses': guesses, 'source_count': len(by_ip),
                            'counted_from': ev.ssh_source if ssh['lines'] else 'summary', 'notes': note},
                     sources=len(by_ip), connections=conns, guesses=guesses, top=top,
                     tried=('tried %d password(s) that do not work' % guesses) if guesses
                     else 'none of them got as far as trying a password',
                     lines=sum(e.get('lines', e['guesses']) for e in by_ip.values()))
        if note:
            f['explanation'] += ' (' + '; '.join(note) + '.)'
        out.append(f)
    owners = []
    for event in ev.events.get('accepted', []):
        label = login_label(ev, ctx, event, own)
        if label:
            owners.append((event, label))
            continue
        failed = by_ip.get(event['ip'])
        if failed and failed['first'] <= event['t']:
            out.append(_finding('ssh-login-after-failures', 'high', failed['first'], event['t'],
                                failed['refs'][:2] + [event['ref']], facts={'ip': event['ip'], 'user': event['user']},
                                ip=event['ip'], guesses=failed['guesses'], user=event['user'], when=when(event['t'])))
        else:
            out.append(_finding('ssh-login-unknown', 'medium' if ev.window_given else 'low', event['t'], event['t'], [event['ref']],
                                facts={'ip': event['ip'], 'user': event['user'], 'method': event.get('method')},
                                ip=event['ip'], user=event['user'], method=event.get('method'), when=when(event['t'])))
    if owners:
        counts = collections.Counter('%s as %s %s' % (e['ip'], e['user'], label) for e, label in owners)
        out.append(_finding('ssh-login-owner', 'high', owners[0][0]['t'], owners[-1][0]['t'], [e['ref'] for e, _l in owners[:5]],
                            facts={'logins': [{'ip': e['ip'], 'user': e['user'], 'time': iso(e['t']), 'label': lab}
                                              for e, lab in owners]},
                            labels=['owner'], count=len(owners),
                            who='; '.join('%s (%d)' % (k, n) for k, n in counts.most_common(5))))
    return out


def when_iso(text):
    return (text or '?')[:16].replace('T', ' ') + ' UTC'


def r_sudo(ev, ctx):
    own = own_session(ev, ctx)
    owners = set(e['user'] for e in ev.events.get('accepted', []) if login_label(ev, ctx, e, own))
    mine, other = [], []
    for e in ev.events.get('sudo', []):
        (mine if e['user'] in owners or e['user'] in own[0] else other).append(e)
    out = []
    for rule, events in (('sudo-used', other), ('sudo-owner', mine)):
        if not events:
            continue
        ansible = sum(1 for e in events if ansible_become(e.get('command')))
        commands = collections.Counter(('Ansible (this collection or your playbooks)' if ansible_become(e['command'])
                                        else e['command'][:80]) for e in events)
        out.append(_finding(rule, 'high', events[0]['t'], events[-1]['t'], [e['ref'] for e in events[:5]],
                            labels=['owner'] if rule == 'sudo-owner' else [],
                            facts={'commands': [{'user': e['user'], 'target': e.get('target'), 'command': e['command'][:300],
                                                 'time': iso(e['t'])} for e in events[:50]]},
                            count=len(events), users=', '.join(sorted(set(e['user'] for e in events))),
                            commands='; '.join('%s (%d)' % kv for kv in commands.most_common(5)),
                            own=(', %d of them Ansible' % ansible) if ansible else ''))
    return out


def _without_deleted(exe):
    return exe[:-len(' (deleted)')] if exe.endswith(' (deleted)') else exe


def _number(text):
    return int(text) if text and text.isdigit() else text


def _login_words(auid, ses):
    if str(auid) in UNSET:
        return 'no login session: login uid unset'
    return 'login uid %s, audit session %s' % (auid, ses)


def r_exec_temp(ev, ctx):
    """One finding per program (path and user) started from a temporary directory, memory or a deleted file,
    whichever recorders saw it: audit's record of its start, atop's minutes of it, the live process list."""
    # imported here: _report_process builds on this module's helpers
    from ansible_collections.quietnode.baseline.plugins.module_utils._report_process import atop_temp_programs
    programs = collections.OrderedDict()
    users = dict((p.get('pid'), p.get('user')) for p in ev.processes or [])
    for proc in ev.flagged or []:
        key = (_without_deleted(proc['exe']), users.get(proc['pid']) or '?')
        programs.setdefault(key, {'live': [], 'audit': [], 'atop': None})['live'].append(proc)
    for rec in ev.audit_exec:
        exe = rec['exe']
        if exe.startswith(TEMP_DIRS) or exe.startswith('/memfd:') or exe.endswith('(deleted)'):
            programs.setdefault((_without_deleted(exe), rec['user']), {'live': [], 'audit': [], 'atop': None})['audit'].append(rec)
    for key, seen in atop_temp_programs(ev).items():
        programs.setdefault(key, {'live': [], 'audit': [], 'atop': None})['atop'] = seen
    live_member = ev.members['flagged'][0] if ev.members['flagged'] else 'live/flagged_processes.json'
    out = []
    for (program, user), seen in programs.items():
        out.append(_exec_temp_finding(ev, program, user, seen, live_member))
    if not out and 'processes' in ev.present:
        out.append(_finding('live-nothing-flagged', 'medium', ev.started, ev.started,
                            [{'member': 'live/flagged_processes.json', 'key': '[]', 'excerpt': 'empty list'}]))
    return out


def _exec_temp_finding(ev, program, user, seen, live_member):
    live, audited, atop = seen['live'], seen['audit'], seen['atop']
    words, refs, times, sources = [], [], [], []
    if audited:
        sources.append('audit/ausearch.txt')
        first = audited[0]
        words.append('audit recorded %s at %s (pid %s, started by pid %s; %s)' % (
            'its start' if len(audited) == 1 else '%d starts, the first' % len(audited),
            when(first['t']), first.get('pid') or '?', first.get('ppid') or '?', _login_words(first.get('auid'), first.get('ses'))))
        refs.extend(r['ref'] for r in audited[:3])
        times.extend(r['t'] for r in audited)
    if atop:
        sources.append('atop/processes.jsonl')
        words.append('atop saw it run for %s s (%s to %s, pid %s), using %s CPU seconds%s' % (
            atop['running_s'], when_iso(atop['first']), when_iso(atop['last']), ', '.join(str(p) for p in atop['pids'][:3]),
            atop['cpu_s'], '; its file has since been deleted' if atop['file_deleted'] else ''))
        refs.extend(atop['refs'])
        times.extend((iso_epoch(atop['first']), iso_epoch(atop['last'])))
    if live:
        sources.append(live_member)
        words.append('it was still running when the evidence was collected (pid %s%s)' % (
            ', '.join(str(p['pid']) for p in live[:3]), ', its file deleted' if any('deleted' in p['flags'] for p in live) else ''))
        refs.extend({'member': live_member, 'key': 'pid %s' % p['pid'], 'excerpt': p['exe']} for p in live)
        times.append(ev.started)
    # kill only what ran at collection time: the live list answers that, else atop's last minute
    if 'processes' in ev.present:
        pids = [p['pid'] for p in live]
    else:
        pids = atop['running_at_end'] if atop else []
    deleted = any('deleted' in p['flags'] for p in live) or (atop or {}).get('file_deleted')
    uid = (atop or {}).get('uid')
    if uid is None:
        uid = next((p.get('uid') for p in ev.processes or [] if p.get('pid') in [x['pid'] for x in live]), None)
    facts = {'program': program, 'user': user, 'uid': uid, 'users': [user], 'sources': sources, 'source': ', '.join(sources),
             'file_deleted': deleted if (live or atop and atop['file_deleted'] is not None) else None,
             'audit': [{'time': iso(r['t']), 'pid': _number(r.get('pid')), 'ppid': _number(r.get('ppid')), 'auid': r.get('auid'),
                        'ses': r.get('ses'), 'comm': r.get('comm')} for r in audited[:20]],
             'atop': dict((k, v) for k, v in atop.items() if k != 'refs') if atop else None,
             'live': [{'pid': p['pid'], 'exe': p['exe'], 'flags': p['flags'], 'command_line': ' '.join(p.get('cmdline') or [])[:300]}
                      for p in live]}
    return _finding('exec-temp', 'high', min(times), max(times), refs, facts=facts,
                    what='%s ran %s: %s' % (user, program, '; '.join(words)), stop=stop_words(pids))


def r_cpu(ev, ctx):
    out = []
    # atop's per-interval rows answer this with command lines (_report_process.r_cpu_atop); accounting is the fallback
    if getattr(ev, 'atop', None) or not ev.acct and not ev.processes:
        return out
    groups = {}
    for btime, end, cpu, uid, comm, elapsed, _sig, member, index in ev.acct:
        g = groups.setdefault((uid, comm), {'cpu': 0.0, 'count': 0, 'elapsed': 0.0, 'first': btime, 'last': end, 'ref': None,
                                            'max': -1})
        g['cpu'] += cpu
        g['count'] += 1
        g['elapsed'] += elapsed
        g['first'] = min(g['first'], btime)
        g['last'] = max(g['last'], end)
        if cpu > g['max']:
            g['max'] = cpu
            g['ref'] = {'member': member, 'record': index, 'excerpt': '%s uid=%s cpu=%.2fs elapsed=%.1fs' % (comm, uid, cpu, elapsed)}
    for proc in ev.processes or []:
        cpu = (proc.get('utime_s') or 0) + (proc.get('stime_s') or 0)
        if cpu < 1 or proc.get('uid') is None:
            continue
        key = (proc['uid'], proc['comm'])
        g = groups.setdefault(key, {'cpu': 0.0, 'count': 0, 'elapsed': 0.0, 'first': ev.started, 'last': ev.started,
                                    'ref': None, 'max': -1})
        g['cpu'] += cpu
        g['count'] += 1
        g['running'] = True
        # a kernel thread (child of kthreadd, no executable, no command line) is what the names imitate
        kernel = (proc.get('pid') == 2 or proc.get('ppid') == 2) and not proc.get('exe') and not proc.get('cmdline')
        g['kernel'] = g.get('kernel', True) and kernel and not g['elapsed']
        g['ref'] = g['ref'] or {'member': 'live/processes.json', 'key': 'pid %s' % proc['pid'], 'excerpt': proc['comm']}
    ranked = sorted(groups.items(), key=lambda kv: -kv[1]['cpu'])
    top = []
    for (uid, comm), g in ranked[:10]:
        if g['cpu'] < 0.5:
            break
        user = user_name(ev, uid)
        label = benign_label(comm, user) or ('this collection' if COLLECTOR_COMMANDS.match(comm) and g['last'] >= ev.started - 120 and uid == 0 else None)
        top.append({'user': user, 'uid': uid, 'command': comm, 'cpu_s': round(g['cpu'], 1), 'runs': g['count'],
                    'running_s': round(g['elapsed'], 1), 'first': iso(g['first']), 'last': iso(g['last']),
                    'still_running': bool(g.get('running')), 'label': label})
    if top:
        confidence = 'high' if 'pacct' in ev.present else 'low'
        out.append(_finding('cpu-top', confidence, min(g['first'] for _k, g in ranked[:10]), max(g['last'] for _k, g in ranked[:10]),
                            [g['ref'] for _k, g in ranked[:5] if g['ref']], facts={'top': top},
                            top='; '.join('%s as %s: %s CPU s over %d run(s)%s' % (
                                t['command'], t['user'], t['cpu_s'], t['runs'], (' [%s]' % t['label']) if t['label'] else '')
                                for t in top[:5])))
    for (uid, comm), g in ranked[:20]:
        user = user_name(ev, uid)
        if DISGUISE.match(comm) and g['cpu'] >= 1 and not g.get('kernel'):
            out.append(_finding('exec-disguised', 'medium', g['first'], g['last'], [g['ref']],
                                facts={'command': comm, 'user': user, 'cpu_s': round(g['cpu'], 1), 'running_s': round(g['elapsed'], 1)},
                                comm=comm, user=user, cpu=round(g['cpu'], 1), running=round(g['elapsed']),
                                source='Process accounting'))
        elif 0 < uid < 1000 and g['cpu'] >= 30 and not benign_label(comm, user):
            out.append(_finding('cpu-service-account', 'medium', g['first'], g['last'], [g['ref']],
                                facts={'command': comm, 'user': user, 'uid': uid, 'cpu_s': round(g['cpu'], 1)},
                                comm=comm, user=user, uid=uid, cpu=round(g['cpu'], 1)))
    return out


def per_minute(ev):
    """Samples folded to UTC minutes: averages of rates."""
    minutes = collections.OrderedDict()
    for t in sorted(ev.samples):
        minutes.setdefault(int(t // 60 * 60), []).append(ev.samples[t])
    return minutes


def _median(values):
    values = sorted(values)
    return values[len(values) // 2] if values else 0


def busy(sample):
    cpu = sample.get('cpu') or {}
    return sum(cpu.get(k, 0) for k in ('user', 'nice', 'system', 'iowait', 'steal'))


def minute_runs(ev, start, end):
    """Labels of what ran in [start, end): benign units, cron, package runs."""
    names = []
    for kind in ('unit', 'cron', 'package'):
        for e in ev.events.get(kind, []):
            if start - 60 <= e['t'] < end:
                names.append(e.get('unit') or e.get('command') or e.get('pkg'))
    for rec in ev.acct:
        if rec[0] < end and rec[1] >= start and rec[2] >= 1:
            names.append('%s (%s, %.1f CPU s)' % (rec[4], user_name(ev, rec[3]), rec[2]))
    return names


def spikes(ev):
    """CPU spike minutes: busy at least 40% and 3 times the median."""
    minutes = per_minute(ev)
    values = dict((m, sum(busy(s) for s in ss) / len(ss)) for m, ss in minutes.items())
    med = _median(values.values())
    return [(m, v, med) for m, v in values.items() if v >= 40 and v >= 3 * med + 5]


def r_cpu_spike(ev, ctx):
    out = []
    for m, value, med in spikes(ev)[:10]:
        runs = minute_runs(ev, m, m + 60)
        benign = [r for r in runs if any(label in r for label in ('sysstat', 'logrotate', 'apt', 'man-db', 'fstrim', 'e2scrub'))]
        what = ('Running then: %s.' % ', '.join(runs[:6])) if runs else 'Nothing recorded ran in that minute.'
        sample = ev.samples[min(t for t in ev.samples if t >= m)]
        out.append(_finding('cpu-spike', 'high' if 'pacct' in ev.present else 'medium', m, m + 60, [sample['ref']],
                            severity='info' if benign and len(benign) == len(runs) else None,
                            facts={'minute': iso(m), 'busy_pct': round(value, 1), 'median_pct': round(med, 1), 'running': runs[:20]},
                            busy=round(value), median=round(med), when=when(m), what=what))
    return out


def r_net_out(ev, ctx):
    out = []
    minutes = per_minute(ev)
    ifaces = set()
    for ss in minutes.values():
        for s in ss:
            ifaces.update(s.get('net', {}))
    for iface in sorted(ifaces):
        rate = dict((m, sum(s.get('net', {}).get(iface, [0, 0])[1] for s in ss) / len(ss)) for m, ss in minutes.items())
        med = _median(rate.values())
        hot = [m for m, v in rate.items() if v * 60 >= 5 * 1024 and v >= 10 * med + 10]  # 5 MB in a minute, 10x usual
        if not hot:
            continue
        start, end = min(hot), max(hot) + 60
        # a sample stands for its whole interval (10 minutes by default, 10 seconds in the fixtures)
        span = dict((m, max(60, max(x.get('interval', 60) for x in minutes[m]))) for m in hot)
        total_kb = sum(rate[m] * span[m] for m in hot)
        conns = [s for s in (ev.sockets or []) if s.get('state') == 'ESTABLISHED' and s.get('remote') not in ('127.0.0.1', '::1')]
        # Programs alive during the spike, service accounts and users before root, heaviest first.
        candidates = sorted((r for r in ev.acct if r[0] < end and r[1] >= start and not benign_label(r[4], user_name(ev, r[3]))),
                            key=lambda r: (r[3] == 0, -r[2]))
        who = []
        if candidates:
            seen = collections.OrderedDict()
            for r in candidates:
                seen.setdefault((r[4], user_name(ev, r[3])), r)
            who.append('Programs running then (process accounting): %s.' % ', '.join(
                '%s as %s' % k for k in list(seen)[:6]))
        if conns:
            who.append('Connections open at collection time: %s.' % ', '.join(
                '%s:%s by %s' % (c['remote'], c['remote_port'], ','.join(o['comm'] for o in c.get('owners', [])) or '?') for c in conns[:5]))
        recorded, units, spike_conns = spike_attribution(ev, start, end)
        if recorded:
            who[:0] = ['%s.' % line for line in recorded]
        elif 'network_summary' in ev.present:
            who.append('The network recorders hold no connection or service that sent data then.')
        else:
            who.append('Destinations and bytes per process were not recorded (no network recorder in this bundle).')
        first = ev.samples[min(t for t in ev.samples if t >= start)]
        out.append(_finding('net-out-spike', 'high' if recorded else 'medium', start, end,
                            [first['ref']] + [u['ref'] for u in units[:3]] + [c['ref'] for c in spike_conns[:3]],
                            facts={'iface': iface, 'bytes': int(total_kb * 1024), 'minutes': [iso(m) for m in hot],
                                   'median_kBps': round(med, 1), 'recorded': recorded,
                                   'candidates': list(collections.OrderedDict(('%s as %s' % (r[4], user_name(ev, r[3])), 1)
                                                                              for r in candidates))[:10]},
                            iface=iface, mb=round(total_kb / 1024, 1), start=when(start), end=when(end), median=round(med, 1),
                            who=' '.join(who)))
    return out


NET_UNIT_BYTES = 10 * 1024 * 1024   # a unit that sent this much gets a finding of its own
NET_SCAN_PORTS = 6                   # distinct refused ports from one source that make a scan (the log bursts 5)
ECHO_TYPES = {'icmp': ('8', '13'), 'icmpv6': ('128',)}


def unit_connections(ev, unit):
    """Logged connections of a unit's user while it ran, and their destinations by bytes-less count."""
    uid = unit.get('uid')
    t1 = unit['t'] + 1
    t0 = unit['t_start'] - 1 if unit.get('t_start') else t1 - 3600
    return [c for c in ev.connections if t0 <= c['t'] <= t1 and (uid is None or c.get('uid') == uid)
            and c.get('dport') != 53]


def describe_user(ev, uid, user=None):
    if uid is None:
        return 'an unknown user'
    return 'uid %s (%s)' % (uid, user or user_name(ev, uid))


def destination(conn):
    """address:port, with an IPv6 address in brackets."""
    dst = conn.get('dst') or '?'
    return '%s:%s' % ('[%s]' % dst if ':' in dst else dst, conn.get('dport'))


def unit_who(ev, unit, conns=()):
    """The unit and its user; when its stop record has no user, the uids the connection log shows meanwhile."""
    uid = unit.get('uid')
    if uid is None:
        seen = collections.Counter(c.get('uid') for c in conns if c.get('uid') is not None)
        if seen:
            return '%s (its stop record names no user; the connection log shows %s connecting meanwhile)' % (
                unit['unit'], ' and '.join(describe_user(ev, u) for u, _n in seen.most_common(3)))
        return '%s (user unknown)' % unit['unit']
    return 'uid %s (%s, %s)' % (uid, unit.get('user') or user_name(ev, uid), unit['unit'])


def r_net_units(ev, ctx):
    """Units whose stop record says they sent a lot, joined with the connections their user opened meanwhile."""
    out = []
    for unit in ev.unit_ip:
        sent = unit.get('egress_bytes') or 0
        if sent < NET_UNIT_BYTES:
            continue
        conns = unit_connections(ev, unit)
        dests = collections.Counter(destination(c) for c in conns)
        top = [d for d, _n in dests.most_common(3)]
        benign = BENIGN_UNITS.get(unit['unit'])
        owner = bool(conns) and all(ctx.allowed(c.get('dst')) for c in conns)
        t0 = min([c['t'] for c in conns] + ([unit['t_start']] if unit.get('t_start') else [])) if conns or unit.get('t_start') else unit['t']
        who = unit_who(ev, unit, conns)
        why = 'systemd counted its bytes when it stopped (IP accounting).'
        if not conns:
            why += ' No connection of its user is in the connection log for that time, so the destination is unknown.'
        severity = 'info' if benign or owner else ('high' if unit.get('uid') not in (None, 0) else 'medium')
        refs = [unit['ref']] + [c['ref'] for c in conns[:5]]
        out.append(_finding('net-out-unit', 'high' if conns and unit.get('uid') is not None else 'medium', t0, unit['t'], refs,
                            severity=severity, labels=(['benign'] if benign else []) + (['owner'] if owner else []),
                            facts={'unit': unit['unit'], 'uid': unit.get('uid'), 'user': unit.get('user'),
                                   'bytes_out': sent, 'bytes_in': unit.get('ingress_bytes'),
                                   'destinations': top, 'connections': len(conns),
                                   'started': unit.get('started'), 'stopped': unit.get('time')},
                            who=who, mb=round(sent / 1e6, 1), dest=(' to ' + ', '.join(top)) if top else '',
                            start=when_s(t0), end=when_s(unit['t']), why=why, unit=unit['unit'],
                            user=unit.get('user') or describe_user(ev, unit.get('uid'))))
    return out


def spike_attribution(ev, start, end):
    """What the network recorders say about [start, end): units that sent bytes, connections by user and destination."""
    units = [u for u in ev.unit_ip if (u.get('egress_bytes') or 0) >= 1024 * 1024 and u['t'] >= start
             and (u.get('t_start') or u['t'] - 3600) <= end]
    conns = [c for c in ev.connections if start - 120 <= c['t'] < end and c.get('dport') != 53]
    lines = []
    for u in sorted(units, key=lambda u: -u['egress_bytes'])[:3]:
        sent = unit_connections(ev, u)
        dests = collections.Counter(destination(c) for c in sent)
        to = (' to ' + ', '.join(d for d, _n in dests.most_common(3))) if dests else ''
        lines.append('%s sent %.1f MB%s' % (unit_who(ev, u, sent), u['egress_bytes'] / 1e6, to))
    by = collections.Counter((c.get('uid'), destination(c)) for c in conns)
    if by:
        lines.append('New outbound connections then (connection log): %s' % ', '.join(
            '%s to %s (%d)' % (describe_user(ev, uid, None), dest, n) for (uid, dest), n in by.most_common(5)))
    return lines, units, conns


def r_scans(ev, ctx):
    """Port scans and ping sweeps, from the refused-packet log's per-source counts."""
    out = []
    denied = ev.denied if isinstance(ev.denied, dict) else {}
    ssh = ev.ssh.get(getattr(ev, 'ssh_source', 'journal'), {}).get('by_ip', {})
    for row in denied.get('sources') or []:
        src = row.get('src')
        if not src or not row.get('first'):
            continue
        t0, t1 = iso_epoch(row['first']), iso_epoch(row['last'])
        if not (ev.in_window(t0) or ev.in_window(t1)):
            continue
        ref = {'member': 'network/denied.json', 'key': src,
               'excerpt': '%s: %s packets, %s ports' % (src, row.get('packets'), row.get('distinct_ports'))}
        owner = ctx.allowed(src)
        more = 'The same address also tried to log in over SSH.' if src in ssh else ''
        if (row.get('distinct_ports') or 0) >= NET_SCAN_PORTS:
            ports = row.get('ports') or []
            out.append(_finding('port-scan', 'high', t0, t1, [ref], severity='info' if owner else ('medium' if more else None),
                                labels=['owner'] if owner else [],
                                facts={'src': src, 'packets': row.get('packets'), 'distinct_ports': row.get('distinct_ports'),
                                       'ports': ports[:50], 'protocols': row.get('protocols'), 'first': row['first'],
                                       'last': row['last'], 'lower_bound': True},
                                src=src, packets=row.get('packets'), count=row.get('distinct_ports'),
                                ports=', '.join(ports[:8]) + (' ...' if len(ports) > 8 else ''),
                                start=when(t0), end=when(t1), more=more))
        types = row.get('icmp_types') or {}
        echoes = sum(n for proto, wanted in ECHO_TYPES.items() if proto in (row.get('protocols') or {})
                     for t, n in types.items() if t in wanted)
        if echoes:
            out.append(_finding('ping-sweep', 'high', t0, t1, [ref], severity='info' if owner else None,
                                labels=['owner'] if owner else [],
                                facts={'src': src, 'echo_requests': echoes, 'first': row['first'], 'last': row['last']},
                                src=src, count=echoes, start=when(t0), end=when(t1)))
    return out


def r_persistence(ev, ctx):
    out = []
    base = (ev.baseline or {}).get('files', {}) if isinstance(ev.baseline, dict) else {}
    by_kind = collections.defaultdict(list)
    by_owner = collections.defaultdict(list)
    windows = owner_windows(ev, ctx, own_session(ev, ctx))
    meta_only = []
    since = iso(int(ev.since))
    # imported here: _report_process builds on this module's helpers
    from ansible_collections.quietnode.baseline.plugins.module_utils import _report_process as process
    touched = process._path_events(ev)
    # With a baseline difference, _report_process.r_baseline compares every surface with the snapshot instead.
    for row in ([] if isinstance(getattr(ev, 'baseline_diff', None), dict) else ev.changed):
        path = row.get('path', '')
        kind = persistence_kind(path)
        if not kind or row.get('type') == 'directory':
            continue
        if base and (base.get(path) or {}).get('sha256') == row.get('sha256'):
            continue
        # Only the inode changed (owner, mode, a package reinstalling it): said apart, at a lower severity.
        if (row.get('mtime') or '') < since:
            meta_only.append(row)
            continue
        mtime = iso_epoch(row['mtime'])
        if touched.get(path):
            # the audit watches name who wrote it: identity decides, not the time (_report_process.attribute)
            who = [process.attribute(ev, ctx, windows, e) for e in touched[path]]
            row = dict(row, attribution='; '.join(sorted(set(h for _o, h in who))))
            (by_owner if all(o for o, _h in who) else by_kind)[kind].append(row)
            continue
        if any(start <= mtime <= end for start, end in windows):
            by_owner[kind].append(dict(row, attribution='time only'))
            continue
        by_kind[kind].append(row)
    if meta_only:
        out.append(_finding('persistence-metadata', 'medium', None, None, [r['ref'] for r in meta_only[:10]],
                            facts={'paths': [r['path'] for r in meta_only]}, count=len(meta_only),
                            what=', '.join(r['path'] for r in meta_only[:8])))
    for kind, rows in sorted(by_kind.items()):
        refs = [r['ref'] for r in rows[:10]]
        what = []
        for r in rows:
            # with audit records the steps say when; without, the modification time does
            detail = r['path'] if r.get('attribution') else '%s (modified %s)' % (r['path'], when_iso(r.get('mtime')))
            if kind == 'authorized_keys':
                text = ev.keys.get('files' + r['path'], '')
                comments = [line.split()[-1] for line in text.splitlines() if line.strip() and not line.startswith('#')]
                if comments:
                    detail += ' now holding keys: %s' % ', '.join(comments[-5:])
                refs.append({'member': 'files' + r['path'], 'line': len(text.splitlines()), 'excerpt': text.splitlines()[-1] if text else ''})
            what.append((r['path'], detail, touched.get(r['path']) if r.get('attribution') else None))
        times = [r['mtime'][:19] + 'Z' for r in rows if r.get('mtime')]
        made_by, words = process.made_by_text(ev, ctx, windows, what)
        out.append(_finding('persistence', 'high' if base else 'medium', None, None, refs,
                            facts={'kind': kind, 'paths': [r['path'] for r in rows], 'baseline_compared': bool(base),
                                   'made_by': made_by},
                            kind=kind, what=words))
        out[-1]['time_range'] = {'start': min(times) if times else None, 'end': max(times) if times else None}
    for kind, rows in sorted(by_owner.items()):
        times = [iso_epoch(r['mtime']) for r in rows]
        by_time = [r['path'] for r in rows if r.get('attribution') == 'time only']
        out.append(_finding('persistence-owner', 'low' if by_time else 'high', min(times), max(times), [r['ref'] for r in rows[:10]],
                            facts={'kind': kind, 'paths': [r['path'] for r in rows],
                                   'attribution': dict((r['path'], r.get('attribution')) for r in rows)},
                            labels=['owner'], kind=kind,
                            what=', '.join(r['path'] for r in rows[:8]) + (' and %d more' % (len(rows) - 8) if len(rows) > 8 else '')))
        if by_time:
            out[-1]['explanation'] += (' Attributed by time only (modified during a login of yours, no audit record of '
                                       'who changed %s): lower confidence.' % ', '.join(by_time[:5]))
    roots = [r for r in ev.passwd if r['uid'] == 0 and r['user'] != 'root']
    if roots:
        out.append(_finding('uid0-account', 'high', None, None, [r['ref'] for r in roots], facts={'users': [r['user'] for r in roots]},
                            users=', '.join(r['user'] for r in roots), first=roots[0]['user']))
    if ev.ld_preload and ev.ld_preload[1].strip():
        out.append(_finding('persistence', 'high', None, None, [{'member': ev.ld_preload[0], 'line': 1, 'excerpt': ev.ld_preload[1][:200]}],
                            severity='critical', facts={'kind': 'ld.so.preload', 'content': ev.ld_preload[1][:500]},
                            kind='ld.so.preload', what='/etc/ld.so.preload loads %s into every program' % ev.ld_preload[1].strip()[:100]))
    # Cron commands that ran but are in no crontab now.
    present = '\n'.join(ev.crontabs.values())
    ran = collections.OrderedDict()
    for e in ev.events.get('cron', []):
        cmd = e.get('command', '')
        if BENIGN_CRON.search(cmd) or cmd in present or not ev.crontabs:
            continue
        ran.setdefault((cmd, e['user']), []).append(e)
    for (cmd, user), events in ran.items():
        out.append(_finding('cron-vanished', 'high' if 'crontabs' in ev.present else 'low', events[0]['t'], events[-1]['t'],
                            [e['ref'] for e in events[:3]], facts={'command': cmd, 'user': user, 'runs': len(events)},
                            command=cmd, user=user, count=len(events), start=when(events[0]['t']), end=when(events[-1]['t'])))
    return out


def r_benign(ev, ctx):
    runs = collections.OrderedDict()
    refs = []
    for e in ev.events.get('unit', []):
        label = BENIGN_UNITS.get(e.get('unit'))
        if label:
            runs.setdefault(label, []).append(e['t'])
            if len(refs) < 5:
                refs.append(e['ref'])
    for e in ev.events.get('cron', []):
        if BENIGN_CRON.search(e.get('command', '')):
            runs.setdefault('cron: %s' % e['command'][:60], []).append(e['t'])
    pkgs = ev.events.get('package', [])
    if pkgs:
        runs.setdefault('package manager: %s' % ', '.join(sorted(set(e['pkg'] for e in pkgs))[:6]), []).extend(e['t'] for e in pkgs)
        refs.append(pkgs[0]['ref'])
    own = [r for r in ev.acct if r[1] >= ev.started - 120 and r[3] == 0 and COLLECTOR_COMMANDS.match(r[4])]
    if own:
        runs.setdefault("this collection's own commands (%d processes)" % len(own), []).append(own[0][0])
    if not runs:
        return []
    times = [t for ts in runs.values() for t in ts]
    return [_finding('scheduled-benign', 'high', min(times), max(times), refs,
                     facts={'runs': [{'what': k, 'count': len(v), 'first': iso(min(v)), 'last': iso(max(v))} for k, v in runs.items()]},
                     labels=['benign'], runs='; '.join('%s (%d run(s))' % (k, len(v)) for k, v in list(runs.items())[:8]))]


def r_recorders(ev, ctx):
    out = []
    journal_on = any(r.get('recorder') == 'journal' and r.get('status') == 'on' for r in ev.readiness or [])
    for row in ev.readiness or []:
        if row.get('status') in READINESS_COVERED:
            continue
        # Older bundles said "missing" for a host without rsyslog; its persistent journal answers the same questions.
        if row.get('recorder') == 'auth log' and journal_on:
            continue
        name = row.get('recorder', '?')
        asked = row.get('unanswerable') or RECORDER_QUESTIONS.get(name, ('(unknown recorder)',))
        questions = ' '.join(asked)
        out.append(_finding('recorder-off', 'high', None, None,
                            [{'member': 'summary/readiness.json', 'key': name, 'excerpt': '%s: %s' % (row.get('status'), row.get('detail'))}],
                            facts={'recorder': name, 'status': row.get('status'), 'questions': list(asked)},
                            recorder=name, status=row.get('status'), detail=row.get('detail'), questions=questions,
                            fix=RECORDER_FIX.get(name, 'Apply playbooks/site.yml, which turns every recorder on.')))
    for key, (what, why) in MISSING.items():
        if key not in ev.present:
            out.append(_finding('missing-evidence', 'high', None, None, [], facts={'member': key}, what=what, why=why))
    return out


RULE_FUNCTIONS = (r_ssh, r_sudo, r_exec_temp, r_cpu, r_cpu_spike, r_net_out, r_net_units, r_scans, r_persistence, r_benign,
                  r_recorders)
# Findings whose confidence drops when the named evidence is missing (exec-temp names the members it rests on).
NEEDS = {'cpu-top': 'pacct', 'cpu-service-account': 'pacct', 'exec-disguised': 'pacct', 'net-out-spike': 'sysstat',
         'persistence': 'changed_files', 'ssh-bruteforce': 'journal',
         'net-out-unit': 'connections', 'port-scan': 'journal'}


def evaluate(ev, ctx):
    # imported here: _report_process builds on this module's helpers
    from ansible_collections.quietnode.baseline.plugins.module_utils._report_process import RULE_FUNCTIONS as PROCESS_RULES
    findings = []
    for rule in RULE_FUNCTIONS + PROCESS_RULES:
        findings.extend(rule(ev, ctx))
    for f in findings:
        need = NEEDS.get(f['rule'])
        # a finding that names its own source (atop, the baseline difference) does not rest on the named member
        if need and need not in ev.present and f['confidence'] == 'high' and not f['facts'].get('source'):
            f['confidence'] = 'medium'
            f['explanation'] += ' (Confidence lowered: the bundle has no %s.)' % need
    findings.sort(key=rank)
    for n, f in enumerate(findings, 1):
        f['id'] = '%s-%02d' % (f['rule'], n)
    return findings
