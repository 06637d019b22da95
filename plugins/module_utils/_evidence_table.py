# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every artifact the evidence bundle holds, as data, in order of volatility.

A row is a dict literal with a group and one of:
  file  a path or glob; 'window': True skips files last written before the window
  tree  a directory stored whole
  run   a command (argv) whose stdout becomes member 'as'
  step  a named step of _evidence_groups for what no row can say (live processes, summaries)
and optionally 'optional' (a 'copy' whose absence is not an error), 'platform' (Debian or RedHat family, from /etc/os-release), 'when' (a condition
named in _evidence_engine.CONDITIONS), 'decoder' (a _evidence_groups decoder that reads the file
as it streams or decodes it after; on a 'run' row, an observer of the command's output), 'ok_rcs'
(exit codes that are not errors).
Paths are absolute on the target; the engine puts its root prefix in front of them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

GROUPS = ('live', 'firewall', 'auth', 'syslog', 'journal', 'sysstat', 'acct', 'atop', 'audit', 'baseline', 'logins', 'cron',
          'packages', 'fail2ban', 'ssh', 'accounts', 'system', 'history', 'recent', 'integrity')

HISTORIES = ('.bash_history', '.zsh_history', '.sh_history', '.ash_history', '.history', '.python_history',
             '.mysql_history', '.psql_history', '.lesshst', '.viminfo', '.wget-hsts')
RECENT_DIRS = ('/etc', '/usr/bin', '/usr/sbin', '/usr/local', '/usr/lib/systemd', '/boot', '/root', '/home',
               '/tmp', '/var/tmp', '/dev/shm', '/var/spool/cron', '/run/systemd/transient')

# Written by the blocklist role's refresh timer (blocklist_cache_dir); readiness reports its last run.
BLOCKLIST_REFRESH_STATE = '/var/lib/quietnode/blocklist/refresh-state.json'

ARTIFACTS = (
    # live state first: it changes while we read
    {'group': 'live', 'step': 'processes'},
    {'group': 'live', 'step': 'sockets'},
    {'group': 'live', 'run': ['ss', '-tunapeO'], 'as': 'live/ss.txt'},
    {'group': 'live', 'copy': '/proc/modules', 'as': 'live/modules.txt'},
    {'group': 'live', 'copy': '/proc/self/mountinfo', 'as': 'live/mountinfo.txt'},
    {'group': 'live', 'copy': '/proc/net/unix', 'as': 'live/unix_sockets.txt'},
    {'group': 'live', 'copy': '/proc/loadavg', 'as': 'live/loadavg.txt'},
    # open flows with bytes and packets each way (connlog role: nf_conntrack_acct); absent until conntrack loads
    {'group': 'live', 'copy': '/proc/net/nf_conntrack', 'as': 'live/nf_conntrack.txt', 'optional': True},
    {'group': 'live', 'copy': '/proc/uptime', 'as': 'live/uptime.txt'},
    {'group': 'live', 'copy': '/proc/sys/kernel/tainted', 'as': 'live/kernel_tainted.txt'},
    {'group': 'live', 'step': 'sessions'},
    {'group': 'live', 'step': 'own_session'},

    {'group': 'firewall', 'run': ['nft', '-a', 'list', 'ruleset'], 'as': 'firewall/nft_ruleset.txt', 'decoder': 'ruleset'},
    {'group': 'firewall', 'run': ['iptables-save', '-c'], 'as': 'firewall/iptables-save.txt'},
    {'group': 'firewall', 'run': ['ip6tables-save', '-c'], 'as': 'firewall/ip6tables-save.txt'},
    {'group': 'firewall', 'run': ['ipset', 'list'], 'as': 'firewall/ipset.txt'},
    {'group': 'firewall', 'run': ['fail2ban-client', 'status'], 'as': 'firewall/fail2ban_status.txt', 'when': 'fail2ban_socket'},
    {'group': 'firewall', 'run': ['fail2ban-client', 'banned'], 'as': 'firewall/fail2ban_banned.txt', 'when': 'fail2ban_socket'},
    {'group': 'firewall', 'file': BLOCKLIST_REFRESH_STATE},
    # Drops per blocklist source and family (named counters, comment = source); rc 1 when no blocklist table exists.
    {'group': 'firewall', 'run': ['nft', '-j', 'list', 'counters', 'table', 'inet', 'quietnode_blocklist'],
     'as': 'firewall/blocklist_counters.json', 'ok_rcs': (0, 1)},

    # logs that rotate: only files written in the window
    {'group': 'auth', 'file': '/var/log/auth.log*', 'platform': 'Debian', 'window': True, 'decoder': 'auth'},
    # EL: /etc/rsyslog.conf of the rsyslog package, "authpriv.* /var/log/secure"
    {'group': 'auth', 'file': '/var/log/secure*', 'platform': 'RedHat', 'window': True, 'decoder': 'auth'},
    {'group': 'syslog', 'file': '/var/log/syslog*', 'platform': 'Debian', 'window': True},
    # EL: /etc/rsyslog.conf of the rsyslog package, "*.info;mail.none;authpriv.none;cron.none /var/log/messages"
    {'group': 'syslog', 'file': '/var/log/messages*', 'platform': 'RedHat', 'window': True},
    {'group': 'syslog', 'file': '/var/log/kern.log*', 'platform': 'Debian', 'window': True},
    {'group': 'syslog', 'file': '/var/log/daemon.log*', 'platform': 'Debian', 'window': True},
    {'group': 'syslog', 'file': '/var/log/user.log*', 'platform': 'Debian', 'window': True},
    # EL: /etc/rsyslog.conf of the rsyslog package, "cron.* /var/log/cron"
    {'group': 'syslog', 'file': '/var/log/cron*', 'platform': 'RedHat', 'window': True},
    {'group': 'journal', 'step': 'journal'},
    # saDD, or saYYYYMMDD when HISTORY is above 28 days (sa1 -D), as the sysstat role sets for 35 days.
    {'group': 'sysstat', 'file': '/var/log/sysstat/sa[0-9][0-9]', 'platform': 'Debian', 'window': True, 'decoder': 'sa'},
    {'group': 'sysstat', 'file': '/var/log/sysstat/sa' + '[0-9]' * 8, 'platform': 'Debian', 'window': True, 'decoder': 'sa'},
    # EL: sysstat.spec of the sysstat package, "%dir %{_localstatedir}/log/sa" (sa_path of sos report's sar plugin)
    {'group': 'sysstat', 'file': '/var/log/sa/sa[0-9][0-9]', 'platform': 'RedHat', 'window': True, 'decoder': 'sa'},
    {'group': 'sysstat', 'file': '/var/log/sa/sa' + '[0-9]' * 8, 'platform': 'RedHat', 'window': True, 'decoder': 'sa'},
    {'group': 'sysstat', 'step': 'sysstat'},
    {'group': 'acct', 'file': '/var/log/account/pacct*', 'platform': 'Debian', 'window': True, 'decoder': 'acct'},
    # EL: psacct.spec of the psacct package, "%{_localstatedir}/account/pacct" (also sos report's psacct plugin)
    {'group': 'acct', 'file': '/var/account/pacct*', 'platform': 'RedHat', 'window': True, 'decoder': 'acct'},
    {'group': 'acct', 'step': 'acct'},
    {'group': 'audit', 'file': '/var/log/audit/audit.log*', 'window': True, 'decoder': 'audit'},
    {'group': 'audit', 'step': 'audit'},

    # -- process history and persistence baseline (roles atop, persistence_baseline; _evidence_process) --
    # atop's daily raw files, decoded to atop/processes.jsonl. Both families: upstream atop.service (Atoptool/atop,
    # packaged unchanged by Debian and by EPEL/Fedora's atop.spec) runs atop -w ${LOGPATH}/atop_YYYYMMDD with
    # LOGPATH=/var/log/atop, and the RPM specs create /var/log/atop (e.g. microsoft/azurelinux SPECS/atop/atop.spec).
    {'group': 'atop', 'file': '/var/log/atop/atop_[0-9]*', 'window': True, 'decoder': 'atop'},
    {'group': 'atop', 'step': 'atop'},
    # The newest snapshot, its difference from now and the audit records of the persistence watches.
    {'group': 'baseline', 'step': 'baseline'},

    {'group': 'logins', 'file': '/var/log/wtmp', 'decoder': 'utmp'},
    {'group': 'logins', 'file': '/var/log/btmp', 'decoder': 'utmp'},
    # rotated by logrotate: wtmp.1 (Debian) or wtmp-YYYYMMDD (EL, dateext in /etc/logrotate.conf)
    {'group': 'logins', 'file': '/var/log/wtmp[.-][0-9]*', 'decoder': 'utmp'},
    {'group': 'logins', 'file': '/var/log/btmp[.-][0-9]*', 'decoder': 'utmp'},
    {'group': 'logins', 'file': '/var/log/lastlog', 'decoder': 'lastlog'},
    # wtmpdb (Debian 13): /var/lib/wtmpdb/wtmp.db links to /var/log/wtmp.db; `wtmpdb rotate` adds wtmp_*.db
    {'group': 'logins', 'file': '/var/log/wtmp*.db', 'decoder': 'wtmpdb'},
    {'group': 'logins', 'file': '/var/lib/wtmpdb/*.db', 'decoder': 'wtmpdb'},
    {'group': 'logins', 'file': '/var/lib/lastlog/lastlog2.db', 'decoder': 'lastlog2'},

    {'group': 'cron', 'file': '/etc/crontab'},
    {'group': 'cron', 'file': '/etc/anacrontab'},
    {'group': 'cron', 'tree': '/etc/cron.d'},
    {'group': 'cron', 'tree': '/etc/cron.hourly'},
    {'group': 'cron', 'tree': '/etc/cron.daily'},
    {'group': 'cron', 'tree': '/etc/cron.weekly'},
    {'group': 'cron', 'tree': '/etc/cron.monthly'},
    {'group': 'cron', 'tree': '/var/spool/cron'},
    {'group': 'cron', 'tree': '/var/spool/anacron'},
    {'group': 'cron', 'tree': '/etc/systemd/system'},
    {'group': 'cron', 'tree': '/run/systemd/transient'},
    {'group': 'cron', 'step': 'timers'},
    {'group': 'cron', 'run': ['systemctl', 'list-timers', '--all', '--no-pager'], 'as': 'cron/systemctl_list_timers.txt'},

    {'group': 'packages', 'file': '/var/log/dpkg.log*', 'platform': 'Debian'},
    {'group': 'packages', 'tree': '/var/log/apt', 'platform': 'Debian'},
    # EL: dnf 4's history database and logs (dnf.conf(5): persistdir /var/lib/dnf, logdir /var/log)
    {'group': 'packages', 'file': '/var/lib/dnf/history.sqlite*', 'platform': 'RedHat'},
    {'group': 'packages', 'file': '/var/log/dnf.log*', 'platform': 'RedHat'},
    {'group': 'packages', 'file': '/var/log/dnf.rpm.log*', 'platform': 'RedHat'},
    {'group': 'packages', 'file': '/var/log/dnf.librepo.log*', 'platform': 'RedHat'},
    {'group': 'packages', 'file': '/var/log/yum.log*', 'platform': 'RedHat'},
    {'group': 'packages', 'tree': '/var/lib/yum/history', 'platform': 'RedHat'},

    {'group': 'fail2ban', 'file': '/var/log/fail2ban.log*'},
    {'group': 'fail2ban', 'file': '/var/lib/fail2ban/fail2ban.sqlite3'},

    {'group': 'ssh', 'run': ['sshd', '-T'], 'as': 'ssh/sshd_T.txt'},
    {'group': 'ssh', 'file': '/etc/ssh/sshd_config'},
    {'group': 'ssh', 'file': '/etc/ssh/ssh_config'},
    {'group': 'ssh', 'file': '/etc/ssh/moduli'},
    {'group': 'ssh', 'tree': '/etc/ssh/sshd_config.d'},
    {'group': 'ssh', 'tree': '/etc/ssh/authorized_keys'},
    {'group': 'ssh', 'home': ('.ssh/authorized_keys', '.ssh/authorized_keys2')},

    {'group': 'accounts', 'file': '/etc/passwd'},
    {'group': 'accounts', 'file': '/etc/group'},
    {'group': 'accounts', 'file': '/etc/sudoers'},
    {'group': 'accounts', 'file': '/etc/login.defs'},
    {'group': 'accounts', 'file': '/etc/security/access.conf'},
    {'group': 'accounts', 'tree': '/etc/sudoers.d'},
    {'group': 'accounts', 'tree': '/etc/pam.d'},
    {'group': 'accounts', 'step': 'shadow'},

    {'group': 'system', 'file': '/etc/ld.so.preload'},
    {'group': 'system', 'file': '/etc/hosts'},
    {'group': 'system', 'file': '/etc/resolv.conf'},
    {'group': 'system', 'file': '/etc/rc.local'},
    {'group': 'system', 'file': '/etc/environment'},
    {'group': 'system', 'file': '/etc/os-release'},
    {'group': 'system', 'file': '/etc/hostname'},
    {'group': 'system', 'file': '/etc/machine-id'},
    {'group': 'system', 'tree': '/etc/profile.d'},
    {'group': 'system', 'tree': '/etc/modules-load.d'},

    {'group': 'history', 'home': HISTORIES},
    {'group': 'recent', 'step': 'recent'},

    {'group': 'integrity', 'run': ['dpkg', '--verify'], 'as': 'integrity/dpkg_verify.txt', 'platform': 'Debian', 'ok_rcs': (0, 1)},
    {'group': 'integrity', 'run': ['rpm', '-Va', '--nomtime'], 'as': 'integrity/rpm_Va.txt', 'platform': 'RedHat', 'ok_rcs': (0, 1)},
)
