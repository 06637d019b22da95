# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The steps and decoders the artifact table names, and what they observed for readiness.

observe_<decoder>(path, st) returns an observer fed the file's bytes as they stream into
the bundle; decode_<decoder>(path, st) decodes a stored file; step_<name>() does what no
row can say.  Every path is a host path below the engine's root.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import pwd
import stat
import tempfile

from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_authlog import AuthSummary, journal_event
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_network import (
    NetworkJournal, RulesetObserver, connlog_prefixes, user_names,
)
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_observers import (
    AcctObserver, BackgroundObserver, BlockObserver, LineObserver,
)
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_proc import list_processes, list_sockets
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_process import ProcessSteps
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_records import (
    AcctSummary, iter_lastlog, iter_lastlog2, iter_utmp, iter_wtmpdb, parse_sa_header, shadow_status,
)
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_readiness import journal_head
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_table import RECENT_DIRS
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_window import HostZone, iso


def read_homes(root):
    """Home directories of the accounts, with their first owner: from NSS on the host, from etc/passwd in a tree."""
    if root == '/':
        entries = [(p.pw_name, p.pw_dir) for p in pwd.getpwall()]
    else:
        try:
            with open(os.path.join(root, 'etc/passwd')) as handle:
                entries = [(f[0], f[5]) for f in (line.split(':') for line in handle) if len(f) > 6]
        except OSError:
            entries = []
    homes = {}
    for name, home in entries:
        path = root.rstrip('/') + home
        if home and home != '/' and os.path.isdir(path):
            homes.setdefault(os.path.realpath(path), name)
    return homes


class Steps(ProcessSteps):
    """What the table's decoders and steps need, sharing one window and one engine."""

    def __init__(self, engine):
        self.e = engine
        self.w = engine.w
        self.window = engine.window
        self.zone = HostZone(engine.root)
        self.auth_text = AuthSummary(self.window.since, self.window.until, zone=self.zone)
        self.auth_journal = AuthSummary(self.window.since, self.window.until, zone=self.zone)
        self.acct = AcctSummary(self.window.since, self.window.until)
        self.homes = read_homes(engine.root)
        self.flagged = []
        self.sa_headers = []
        self.seen_inodes = set()
        self.audit_selection = None
        self.observed = {'audit_records_in_window': 0, 'journal_head': None}
        self.process_init()

    # -- live ------------------------------------------------------------------
    def step_processes(self):
        procs = list_processes() if self.e.root == '/' else []
        for info in procs:
            if info['flags']:
                self.flagged.append({'pid': info['pid'], 'exe': info['exe'], 'flags': info['flags'],
                                     'cmdline': info['cmdline'], 'exe_sha256': info['exe_sha256']})
                self._copy_exe(info)
        self.observed['auditd_running'] = any(p.get('comm') == 'auditd' for p in procs)
        self.w.add_json('live/processes.json', procs, 'live', source='/proc')
        self.w.add_json('live/flagged_processes.json', self.flagged, 'live', source='/proc')

    def _copy_exe(self, info):
        try:
            fd = os.open('/proc/%d/exe' % info['pid'], os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            self.w.error('/proc/%d/exe' % info['pid'], 'cannot copy flagged executable: %s' % exc.strerror, 'live')
            return
        try:
            self.w.add_fd('live/exe/%d.bin' % info['pid'], fd, 'live', source=info['exe'])
        finally:
            os.close(fd)

    def step_sockets(self):
        sockets, listening = list_sockets() if self.e.root == '/' else ([], [])
        self.w.add_json('live/sockets.json', sockets, 'live', source='/proc/net')
        self.w.add_json('live/listening.json', listening, 'live', source='/proc/net')

    def step_sessions(self):
        sessions = []
        for path in ('/run/utmp', '/var/run/utmp'):
            if self.e.exists(path):
                with open(self.e.host(path), 'rb') as handle:
                    sessions = [r for r in iter_utmp(handle) if r.get('type') == 'USER_PROCESS']
                break
        self.w.add_json('live/logged_in.json', sessions, 'live', source='/run/utmp')

    # -- logs ------------------------------------------------------------------
    def observe_auth(self, path, st):
        return BackgroundObserver(BlockObserver(lambda block: self.auth_text.add_block(block, st.st_mtime, path)))

    def step_journal(self):
        heads = []
        for top in ('/var/log/journal', '/run/log/journal'):
            for name in self._listdir(top):
                for journal in self._listdir(os.path.join(top, name)):
                    heads += [h for h in [journal_head(self.e.host(os.path.join(top, name, journal)))] if h]
                    self.observed.setdefault('journal_' + top.split('/')[1], True)
        self.observed['journal_head'] = min(heads) if heads else None

        # a dry run writes nothing, not even spools
        spools = [tempfile.TemporaryFile(dir=self.e.spool_dir) for _name in range(0 if self.w.dry_run else 2)]
        # The firewall group read the ruleset before this step: lines with the host's own connlog prefix count.
        prefixes = connlog_prefixes(self.observed.get('connlog_prefix'))
        network = NetworkJournal(user_names(self.e.root), *spools, prefixes=prefixes) if spools else None

        def feed(lines):
            network.feed(lines)
            for line in lines:
                if AuthSummary.WORDS.search(line):
                    try:
                        event = journal_event(json.loads(line))
                    except ValueError:
                        continue
                    if event:
                        self.auth_journal.add(event)
        try:
            rc = self.e.run('journal/journal.json', ['journalctl', '--utc', '--no-pager', '-o', 'json']
                            + self.window.journalctl_args(), 'journal', observer=LineObserver(feed))
            if rc is not None and network is not None:
                self._network_members(network, spools)
        finally:
            for spool in spools:
                spool.close()

    def _network_members(self, network, spools):
        """The network recorders decoded from the journal (_evidence_network), and what they say of readiness."""
        for name, spool in zip(('network/connections.jsonl', 'network/unit_ip.jsonl'), spools):
            spool.flush()
            self.w.add_spool(name, spool, spool.tell(), 'journal', source='journal/journal.json', kind='decoded-records')
        self.w.add_json('network/denied.json', network.denied.result(), 'journal', source='journal/journal.json')
        counts = dict(network.counts)
        counts.update(connlog_table=self.observed.get('connlog_table'), denied_rule=self.observed.get('denied_rule'),
                      connlog_prefixes=network.prefixes,
                      ip_accounting=self._ip_accounting())
        self.observed['network'] = counts
        self.w.add_json('network/summary.json', counts, 'journal', source='journal/journal.json, firewall/nft_ruleset.txt')

    def _ip_accounting(self):
        """Whether systemd's per-unit IP accounting is on by default, and whether the host has cgroup v2 for it."""
        on = False
        paths = ['/etc/systemd/system.conf'] + ['/etc/systemd/system.conf.d/' + n
                                                for n in self._listdir('/etc/systemd/system.conf.d') if n.endswith('.conf')]
        for path in paths:
            try:
                with open(self.e.host(path)) as handle:
                    for line in handle:
                        key, _sep, value = line.strip().partition('=')
                        if key == 'DefaultIPAccounting':
                            on = value.strip().lower() in ('yes', 'true', '1', 'on')
            except (OSError, UnicodeDecodeError):
                continue
        return {'default_ip_accounting': on, 'cgroup_v2': self.e.exists('/sys/fs/cgroup/cgroup.controllers')}

    def observe_ruleset(self):
        return RulesetObserver(self.observed)

    def _listdir(self, path):
        try:
            return sorted(os.listdir(self.e.host(path)))
        except OSError:
            return []

    def decode_sa(self, path, st):
        try:
            with open(path, 'rb') as handle:
                header = parse_sa_header(handle.read(4096))
        except OSError as exc:
            header = {'error': str(exc)}
        header['path'] = self.w.shown(path)
        self.sa_headers.append(header)
        self.e.run('sysstat/%s.json' % os.path.basename(path), ['sadf', '-j', path, '--', '-A'], 'sysstat')

    def step_sysstat(self):
        self.w.add_json('sysstat/headers.json', self.sa_headers, 'sysstat')
        self.observed['sysstat_enabled'] = None
        try:
            with open(self.e.host('/etc/default/sysstat')) as handle:
                for line in handle:
                    if line.strip().startswith('ENABLED='):
                        self.observed['sysstat_enabled'] = line.split('=', 1)[1].strip().strip('"') == 'true'
        except OSError:
            pass

    def observe_acct(self, path, st):
        return AcctObserver(self.acct)

    def step_acct(self):
        self.w.add_json('acct/summary.json', self.acct.result(), 'acct')

    def observe_audit(self, path, st):
        if self.audit_selection is None:
            self.audit_selection = tempfile.NamedTemporaryFile(dir=self.e.spool_dir, prefix='.audit-selection-')

        def select(block):
            starts = self.window.audit_session_starts(block)
            if starts:
                self.audit_selection.write(b'\n'.join(starts) + b'\n')
            lines = self.window.audit_lines(block)
            if lines:
                self.observed['audit_records_in_window'] += len(lines)
                self.audit_selection.write(b'\n'.join(lines) + b'\n')
                self.watch.feed(lines)
        return BlockObserver(select)

    def step_audit(self):
        """Decode the raw records the window selected by their epoch stamps; ausearch only interprets them."""
        selection, count = self.audit_selection, self.observed['audit_records_in_window']
        if selection is None:
            return
        if not count:
            selection.close()
            return
        selection.flush()

        def check(rc, written):
            return None if written else 'ausearch printed nothing for %d raw audit records in the window' % count
        rc = self.e.run('audit/ausearch.txt', ['ausearch'] + self.window.ausearch_args(selection.name), 'audit', check=check)
        self.observed['ausearch'] = 'not present' if rc is None else (self.e.last_error or 'ok')
        selection.close()

    # -- logins ----------------------------------------------------------------
    def decode_utmp(self, path, st):
        try:
            with open(path, 'rb') as handle:
                rows = (r for r in iter_utmp(handle) if 'error' in r or self.window.contains(r['epoch']))
                self.e.jsonl('logins/%s.jsonl' % os.path.basename(path), rows, 'logins', source=path)
        except OSError as exc:
            self.w.error(path, 'cannot decode: %s' % exc.strerror, 'logins')

    def decode_lastlog(self, path, st):
        names = dict((p.pw_uid, p.pw_name) for p in pwd.getpwall()) if self.e.root == '/' else {}
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                self.e.jsonl('logins/lastlog.jsonl', iter_lastlog(fd, names), 'logins', source=path)
            finally:
                os.close(fd)
        except OSError as exc:
            self.w.error(path, 'cannot decode: %s' % exc.strerror, 'logins')

    def _database(self, path, st, name, rows):
        """A SQLite login database, decoded once however many links name it."""
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) in self.seen_inodes:
            return
        self.seen_inodes.add((st.st_dev, st.st_ino))
        try:
            self.e.jsonl(name, rows(path), 'logins', source=path)
        except OSError as exc:
            self.w.error(path, 'cannot decode: %s' % exc.strerror, 'logins')

    def decode_wtmpdb(self, path, st):
        self._database(path, st, 'logins/wtmpdb_%s.jsonl' % os.path.basename(path)[:-3],
                       lambda p: iter_wtmpdb(p, self.window.since, self.window.until))

    def decode_lastlog2(self, path, st):
        self._database(path, st, 'logins/lastlog2.jsonl', iter_lastlog2)

    # -- configuration ---------------------------------------------------------
    def step_timers(self):
        timers = []
        for name in self._listdir('/var/lib/systemd/timers'):
            st = os.stat(self.e.host('/var/lib/systemd/timers/' + name))
            timers.append({'stamp': '/var/lib/systemd/timers/' + name, 'timer': name[6:], 'last_run': iso(st.st_mtime)})
        self.w.add_json('cron/timer_last_runs.json', timers, 'cron', source='/var/lib/systemd/timers')

    def step_shadow(self):
        rows = []
        try:
            with open(self.e.host('/etc/shadow')) as handle:
                for line in handle:
                    parts = line.rstrip('\n').split(':')
                    if len(parts) >= 3:
                        # hashes stay on the host: only whether a password is set, empty or locked leaves it
                        rows.append({'user': parts[0], 'password': shadow_status(parts[1]), 'last_change_days': parts[2]})
        except OSError as exc:
            rows = [{'error': str(exc)}]
        self.w.add_json('accounts/shadow_summary.json', rows, 'accounts', source='/etc/shadow (no hashes)')

    def step_recent(self):
        """Metadata of files changed in the window under system and temporary directories."""
        counts = {'scanned': 0, 'changed': 0}
        self.e.jsonl('recent/changed_files.jsonl', self._recent(counts), 'recent', source=' '.join(RECENT_DIRS))
        self.e.log.write('recent: scanned %(scanned)d entries, %(changed)d changed in the window' % counts)

    def _recent(self, counts, max_scan=400000, max_rows=100000):
        for top in RECENT_DIRS:
            try:
                top_dev = os.lstat(self.e.host(top)).st_dev
            except OSError:
                continue
            stack = [self.e.host(top)]
            while stack and counts['scanned'] < max_scan and counts['changed'] < max_rows:
                try:
                    entries = list(os.scandir(stack.pop()))
                except OSError:
                    continue
                for item in entries:
                    counts['scanned'] += 1
                    try:
                        st = item.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    # stay on the directory's filesystem: /proc-like mounts and network shares are not walked
                    if item.is_dir(follow_symlinks=False) and st.st_dev == top_dev:
                        stack.append(item.path)
                    if self.window.written_in(max(st.st_mtime, st.st_ctime)):
                        counts['changed'] += 1
                        yield self.w.metadata(item.path, st)
