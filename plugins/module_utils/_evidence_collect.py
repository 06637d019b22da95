# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the evidence bundle holds, in order of volatility, and how it is gathered.

Live state (processes, sockets, sessions) is read from /proc first, then
firewall state, then files.  External commands run only where no file holds
the answer, each under a timeout, and every one is written to collection.log.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import pwd
import queue
import select
import socket
import stat
import subprocess
import tempfile
import threading
import time

from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_authlog import AuthSummary, journal_event
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_proc import list_processes, list_sockets
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_records import (
    ACCT_V3, AcctSummary, decode_acct, iso, iter_lastlog, iter_lastlog2, iter_utmp, iter_wtmpdb, parse_sa_header,
)

GROUPS = ('live', 'firewall', 'auth', 'syslog', 'journal', 'sysstat', 'acct', 'audit', 'logins', 'cron',
          'packages', 'fail2ban', 'ssh', 'accounts', 'system', 'history', 'recent', 'integrity')
PATH = ('/usr/sbin', '/usr/bin', '/sbin', '/bin')
HISTORIES = ('.bash_history', '.zsh_history', '.sh_history', '.ash_history', '.history', '.python_history',
             '.mysql_history', '.psql_history', '.lesshst', '.viminfo', '.wget-hsts')
RECENT_DIRS = ('/etc', '/usr/bin', '/usr/sbin', '/usr/local', '/usr/lib/systemd', '/boot', '/root', '/home',
               '/tmp', '/var/tmp', '/dev/shm', '/var/spool/cron', '/run/systemd/transient')


def parse_time(text, now):
    """A UTC time given as ISO 8601, 'YYYY-MM-DD HH:MM[:SS]', '@epoch' or '-48h'/'-30m'/'-2d'."""
    text = text.strip()
    if text.startswith('@'):
        return float(text[1:])
    if text[:1] == '-' and text[-1:] in 'smhd' and text[1:-1].isdigit():
        return now - int(text[1:-1]) * {'s': 1, 'm': 60, 'h': 3600, 'd': 86400}[text[-1]]
    norm = text.replace('Z', '+00:00').replace(' ', 'T')
    for fmt in ('%Y-%m-%dT%H:%M:%S%z', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%dT%H:%M%z', '%Y-%m-%dT%H:%M', '%Y-%m-%d'):
        probe = norm
        if fmt.endswith('%z') and len(probe) > 6 and probe[-3] == ':':
            probe = probe[:-3] + probe[-2:]
        try:
            parsed = datetime.datetime.strptime(probe, fmt)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        return parsed.timestamp()
    raise ValueError("cannot read %r as a UTC time; use e.g. 2026-11-20T08:00:00Z, '@1795300000' or '-48h'" % text)


def which(name):
    for directory in PATH:
        path = os.path.join(directory, name)
        if os.access(path, os.X_OK):
            return path
    return None


class CollectionLog:
    """collection.log: one UTC-stamped line per step and per command."""

    def __init__(self):
        self.lines = []
        self.commands = []

    def write(self, text):
        self.lines.append('%s %s' % (iso(time.time()), text))

    def command(self, argv, rc, duration, note=''):
        self.commands.append({'argv': argv, 'rc': rc, 'duration_s': round(duration, 3), 'note': note})
        self.write('command rc=%s duration=%.3fs %s%s' % (rc, duration, ' '.join(argv), (' (%s)' % note) if note else ''))

    def data(self):
        return ('\n'.join(self.lines) + '\n').encode('utf-8')


def clock_state():
    """Time zone and kernel clock discipline (adjtimex), read without starting a process."""
    out = {'utc_now': iso(time.time()), 'tzname': list(time.tzname), 'utc_offset_s': -time.timezone}
    try:
        out['localtime'] = os.readlink('/etc/localtime')
    except OSError:
        out['localtime'] = None
    try:
        with open('/etc/timezone') as handle:
            out['timezone'] = handle.read().strip()
    except OSError:
        out['timezone'] = None
    try:
        import ctypes
        import struct
        libc = ctypes.CDLL(None, use_errno=True)
        buf = ctypes.create_string_buffer(256)
        state = libc.adjtimex(buf)
        _modes, offset, _freq, maxerror, esterror, status = struct.unpack_from('@iLllli', buf.raw)
        offset = ctypes.c_long(offset).value
        nano = status & 0x2000
        out.update({'clock_state': {0: 'TIME_OK', 5: 'TIME_ERROR (not synchronised)'}.get(state, str(state)),
                    'ntp_offset_us': offset / 1000.0 if nano else offset, 'maxerror_us': maxerror,
                    'esterror_us': esterror, 'synchronised': state != 5 and not status & 0x40})
    except Exception as exc:  # pylint: disable=broad-except
        out['clock_state'] = 'unknown: %s' % exc
    return out


class BlockObserver:
    """Pass streamed chunks on as blocks of whole lines (without the last newline), unsplit.

    Holds at most one partial line (capped at max_line bytes) between chunks.
    """

    def __init__(self, callback, max_line=1 << 16):
        self.callback = callback
        self.rest = b''
        self.max_line = max_line

    def __call__(self, chunk):
        data = self.rest + chunk if self.rest else chunk
        cut = data.rfind(b'\n')
        if cut >= 0:
            self.callback(data[:cut])
        self.rest = data[cut + 1:][-self.max_line:]

    def close(self):
        if self.rest:
            self.callback(self.rest)
            self.rest = b''


class LineObserver(BlockObserver):
    """Split streamed chunks into lines for a callback that takes a list of lines."""

    def __init__(self, callback, max_line=1 << 16):
        super(LineObserver, self).__init__(lambda block: callback(block.split(b'\n')), max_line)


class BackgroundObserver:
    """Run an observer in a thread of its own.

    Its Python-level parsing then overlaps the hashing and compression of the same
    chunks, which release the GIL; at most `depth` chunks wait in between.
    """

    def __init__(self, observer, depth=4):
        self.observer = observer
        self.queue = queue.Queue(depth)
        self.error = None
        self.thread = threading.Thread(target=self._work, name='evidence-observer')
        self.thread.daemon = True
        self.thread.start()

    def _work(self):
        while True:
            chunk = self.queue.get()
            if chunk is None:
                return
            if self.error is None:
                try:
                    self.observer(chunk)
                except Exception as exc:  # raised again in close(), in the collecting thread
                    self.error = exc

    def __call__(self, chunk):
        self.queue.put(chunk)

    def close(self):
        self.queue.put(None)
        self.thread.join()
        if self.error is None and hasattr(self.observer, 'close'):
            self.observer.close()
        if self.error is not None:
            raise self.error


class AcctObserver:
    """Decode pacct records while the raw file streams into the bundle, into a streaming summary."""

    def __init__(self, summary):
        self.rest = b''
        self.summary = summary

    def __call__(self, chunk):
        data = self.rest + chunk
        size = ACCT_V3.size
        usable = len(data) - len(data) % size
        for off in range(0, usable, size):
            rec = decode_acct(data[off:off + size])
            self.summary.add(rec if rec is not None else {'error': 'not an acct v3 record'})
        self.rest = data[usable:]


class Collector:
    """Gather the groups asked for into a BundleWriter."""

    def __init__(self, writer, since, until, groups, timeout, log=None):
        self.w = writer
        self.since = since
        self.until = until
        self.groups = groups
        self.timeout = timeout
        self.log = log or CollectionLog()
        self.readiness = []
        self.flagged = []
        self.auth = AuthSummary(since, until)
        self.homes = self._homes()
        self.spool_dir = os.path.dirname(writer.path) or '.'

    # -- helpers -----------------------------------------------------------
    @staticmethod
    def _homes():
        homes = {}
        for entry in pwd.getpwall():
            if entry.pw_dir and entry.pw_dir != '/' and os.path.isdir(entry.pw_dir):
                homes.setdefault(os.path.realpath(entry.pw_dir), entry.pw_name)
        return homes

    def ready(self, recorder, status, detail):
        self.readiness.append({'recorder': recorder, 'status': status, 'detail': detail})

    def files(self, paths, group, in_window=False, observer_for=None):
        """Store listed files that exist; rotated logs last written before the window are skipped."""
        for path in paths:
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if in_window and st.st_mtime < self.since:
                self.log.write('skip %s: last written %s, before the window' % (path, iso(st.st_mtime)))
                continue
            observer = observer_for(path, st) if observer_for else None
            self.w.add_file(path, group, root=os.path.dirname(path), observer=observer)
            if observer is not None and hasattr(observer, 'close'):
                observer.close()

    @staticmethod
    def listdir(directory, prefix=''):
        try:
            return sorted(os.path.join(directory, n) for n in os.listdir(directory) if n.startswith(prefix))
        except OSError:
            return []

    def tree(self, top, group):
        if os.path.isdir(top) and not os.path.islink(top):
            self.w.add_tree(top, group, root=top)

    def run(self, name, argv, group, cap=None, observer=None, ok_rcs=(0,)):
        """Run one command under the timeout, streaming at most cap bytes of stdout into the bundle."""
        exe = which(argv[0])
        if exe is None:
            self.log.write('not present: %s' % argv[0])
            return None
        argv = [exe] + list(argv[1:])
        if self.w.dry_run:
            self.log.write('would run: %s' % ' '.join(argv))
            self.w.add_bytes(name, b'', group, source=' '.join(argv))
            return None
        cap = cap or self.w.max_file
        env = {'PATH': ':'.join(PATH), 'LC_ALL': 'C', 'TZ': 'UTC', 'SYSTEMD_PAGER': '', 'PAGER': 'cat',
               'SYSTEMD_COLORS': '0'}
        start = time.time()
        spool = tempfile.TemporaryFile(dir=self.spool_dir)
        err = tempfile.TemporaryFile(dir=self.spool_dir)
        note = ''
        truncated = False
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                    env=env, close_fds=True)
        except OSError as exc:
            self.log.command(argv, None, time.time() - start, 'could not start: %s' % exc)
            return None
        written = 0
        deadline = start + self.timeout
        fd = proc.stdout.fileno()
        while True:
            left = deadline - time.time()
            if left <= 0:
                note = 'timed out after %ss; output kept up to then' % self.timeout
                proc.kill()
                break
            ready, _w, _x = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            if written + len(chunk) > cap:
                chunk = chunk[:cap - written]
                truncated = True
            spool.write(chunk)
            written += len(chunk)
            if truncated:
                note = 'output capped at %d bytes' % cap
                proc.kill()
                break
        proc.stdout.close()
        rc = proc.wait()
        spool.flush()
        err.seek(0)
        stderr = err.read(4096).decode('utf-8', 'replace').strip()
        err.close()
        duration = time.time() - start
        self.log.command(argv, rc, duration, note)
        if stderr:
            self.log.write('stderr of %s: %s' % (argv[0], stderr.replace('\n', ' | ')[:2000]))
        error = None if rc in ok_rcs or note else 'exit code %s' % rc
        self.w.add_spool(name, spool, written, group, source=' '.join(argv), truncated=truncated,
                         error=error, observer=observer)
        if observer is not None and hasattr(observer, 'close'):
            observer.close()
        spool.close()
        return rc

    def jsonl(self, name, rows, group, source=None):
        """Store decoded records as JSON lines through a spool file, so memory stays flat however many there are."""
        if self.w.dry_run:
            return self.w.add_bytes(name, b'', group, source=source)
        spool = tempfile.TemporaryFile(dir=self.spool_dir)
        try:
            for row in rows:
                spool.write(json.dumps(row, sort_keys=True).encode('utf-8') + b'\n')
            spool.flush()
            self.w.add_spool(name, spool, spool.tell(), group, source=source, kind='decoded-records')
        finally:
            spool.close()
        return None

    def in_window(self, path):
        try:
            return os.stat(path).st_mtime >= self.since
        except OSError:
            return False

    # -- groups, in order of volatility -----------------------------------
    def collect(self):
        self.log.write('window since=%s until=%s' % (iso(self.since), iso(self.until)))
        self.log.write('clock %s' % json.dumps(clock_state(), sort_keys=True))
        self.log.write('host %s, collector pid %d' % (socket.gethostname(), os.getpid()))
        for group in GROUPS:
            if group in self.groups:
                started = time.time()
                getattr(self, 'g_' + group)()
                self.log.write('group %s done in %.2fs, bundle holds %d bytes' % (group, time.time() - started, self.w.stored))
        self.w.add_json('summary/readiness.json', self.readiness, 'readiness')
        self.w.add_json('summary/auth_events.json', self.auth.result(), 'auth')
        return self

    def g_live(self):
        procs = list_processes()
        for info in procs:
            if info['flags']:
                self.flagged.append({'pid': info['pid'], 'exe': info['exe'], 'flags': info['flags'],
                                     'cmdline': info['cmdline'], 'exe_sha256': info['exe_sha256']})
                self._copy_exe(info)
        self.w.add_json('live/processes.json', procs, 'live', source='/proc')
        self.w.add_json('live/flagged_processes.json', self.flagged, 'live', source='/proc')
        sockets, listening = list_sockets()
        self.w.add_json('live/sockets.json', sockets, 'live', source='/proc/net')
        self.w.add_json('live/listening.json', listening, 'live', source='/proc/net')
        self.run('live/ss.txt', ['ss', '-tunapeO'], 'live')
        for src, name in (('/proc/modules', 'modules.txt'), ('/proc/self/mountinfo', 'mountinfo.txt'),
                          ('/proc/net/unix', 'unix_sockets.txt'), ('/proc/loadavg', 'loadavg.txt'),
                          ('/proc/uptime', 'uptime.txt'), ('/proc/sys/kernel/tainted', 'kernel_tainted.txt')):
            try:
                with open(src, 'rb') as handle:
                    self.w.add_bytes('live/' + name, handle.read(self.w.max_file), 'live', source=src)
            except OSError as exc:
                self.w.error(src, str(exc), 'live')
        sessions = []
        for path in ('/run/utmp', '/var/run/utmp'):
            if os.path.exists(path):
                with open(path, 'rb') as handle:
                    sessions = [r for r in iter_utmp(handle) if r.get('type') == 'USER_PROCESS']
                break
        self.w.add_json('live/logged_in.json', sessions, 'live', source='/run/utmp')

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

    def g_firewall(self):
        self.run('firewall/nft_ruleset.txt', ['nft', '-a', 'list', 'ruleset'], 'firewall')
        self.run('firewall/iptables-save.txt', ['iptables-save', '-c'], 'firewall')
        self.run('firewall/ip6tables-save.txt', ['ip6tables-save', '-c'], 'firewall')
        self.run('firewall/ipset.txt', ['ipset', 'list'], 'firewall')
        if os.path.exists('/run/fail2ban/fail2ban.sock') or os.path.exists('/var/run/fail2ban/fail2ban.sock'):
            self.run('firewall/fail2ban_status.txt', ['fail2ban-client', 'status'], 'firewall')
            self.run('firewall/fail2ban_banned.txt', ['fail2ban-client', 'banned'], 'firewall')
        else:
            self.ready('fail2ban', 'off', 'no fail2ban server socket')

    def _auth_observer(self, path, st):
        def feed(block):
            self.auth.add_block(block, st.st_mtime, path)
        return BackgroundObserver(BlockObserver(feed)) if not path.endswith(('.gz', '.xz', '.bz2', '.zst')) else None

    def g_auth(self):
        paths = self.listdir('/var/log', 'auth.log') + self.listdir('/var/log', 'secure')
        if not paths:
            self.ready('auth log', 'missing', 'no /var/log/auth.log or /var/log/secure: authentication is only in the journal')
        self.files(paths, 'auth', in_window=True, observer_for=self._auth_observer)

    def g_syslog(self):
        paths = []
        for prefix in ('syslog', 'messages', 'kern.log', 'daemon.log', 'user.log', 'cron'):
            paths += self.listdir('/var/log', prefix)
        self.files(paths, 'syslog', in_window=True)

    def g_journal(self):
        if os.path.isdir('/var/log/journal') and os.listdir('/var/log/journal'):
            self.ready('journal', 'on', 'persistent journal in /var/log/journal')
        elif os.path.isdir('/run/log/journal'):
            self.ready('journal', 'volatile', 'journal only in /run/log/journal: lost at every reboot')
        else:
            self.ready('journal', 'missing', 'no journal directory')

        def feed(lines):
            for line in lines:
                if not AuthSummary.WORDS.search(line):
                    continue
                try:
                    event = journal_event(json.loads(line))
                except ValueError:
                    continue
                if event:
                    self.auth.add(event)
        self.run('journal/journal.json', ['journalctl', '--utc', '--no-pager', '-o', 'json',
                                          '--since', '@%d' % int(self.since), '--until', '@%d' % int(self.until + 1)],
                 'journal', observer=LineObserver(feed))

    def g_sysstat(self):
        headers = []
        found = False
        for directory in ('/var/log/sysstat', '/var/log/sa'):
            for path in self.listdir(directory, 'sa'):
                found = True
                base = os.path.basename(path)
                if not base[2:].isdigit() or not self.in_window(path):
                    continue
                self.files([path], 'sysstat')
                try:
                    with open(path, 'rb') as handle:
                        header = parse_sa_header(handle.read(4096))
                except OSError as exc:
                    header = {'error': str(exc)}
                header['path'] = path
                headers.append(header)
                self.run('sysstat/%s.json' % base, ['sadf', '-j', path, '--', '-A'], 'sysstat')
        self.w.add_json('sysstat/headers.json', headers, 'sysstat')
        enabled = self._sysstat_enabled()
        if not found:
            self.ready('sysstat', 'missing', 'no sa files in /var/log/sysstat or /var/log/sa')
        elif not headers:
            self.ready('sysstat', 'off', 'sa files exist but none was written in the window')
        else:
            self.ready('sysstat', 'on' if enabled is not False else 'off', 'sa files in window: %d; ENABLED=%s' % (len(headers), enabled))

    @staticmethod
    def _sysstat_enabled():
        try:
            with open('/etc/default/sysstat') as handle:
                for line in handle:
                    if line.strip().startswith('ENABLED='):
                        return line.split('=', 1)[1].strip().strip('"') == 'true'
        except OSError:
            return None
        return None

    def g_acct(self):
        paths = self.listdir('/var/log/account', 'pacct') + self.listdir('/var/account', 'pacct')
        current = [p for p in paths if p.endswith('/pacct')]
        summary = AcctSummary(self.since, self.until)

        def observer_for(path, _st):
            return None if path.endswith('.gz') else AcctObserver(summary)
        self.files(paths, 'acct', in_window=True, observer_for=observer_for)
        self.w.add_json('acct/summary.json', summary.result(), 'acct', source=' '.join(paths))
        if not current:
            self.ready('process accounting', 'missing', 'no pacct file: install acct (Debian) or psacct (EL)')
        elif not any(self.in_window(p) for p in current):
            self.ready('process accounting', 'off', 'pacct not written in the window')
        else:
            self.ready('process accounting', 'on', ', '.join(current))

    def g_audit(self):
        paths = self.listdir('/var/log/audit', 'audit.log')
        self.files(paths, 'audit', in_window=True)
        running = any(self._comm(pid) == 'auditd' for pid in os.listdir('/proc') if pid.isdigit())
        self.ready('auditd', 'on' if running else ('off' if paths else 'missing'),
                   'auditd running' if running else 'auditd not running; audit logs: %d' % len(paths))
        if paths:
            fmt = '%m/%d/%Y %H:%M:%S'
            start = datetime.datetime.fromtimestamp(self.since, datetime.timezone.utc).strftime(fmt).split()
            end = datetime.datetime.fromtimestamp(self.until, datetime.timezone.utc).strftime(fmt).split()
            self.run('audit/ausearch.txt', ['ausearch', '--input-logs', '-i', '--start'] + start + ['--end'] + end, 'audit', ok_rcs=(0, 1))

    @staticmethod
    def _comm(pid):
        try:
            with open('/proc/%s/comm' % pid) as handle:
                return handle.read().strip()
        except OSError:
            return None

    def g_logins(self):
        names = dict((p.pw_uid, p.pw_name) for p in pwd.getpwall())
        for path in ('/var/log/wtmp', '/var/log/btmp') + tuple(self.listdir('/var/log', 'wtmp.')) + tuple(self.listdir('/var/log', 'btmp.')):
            if not os.path.isfile(path) or path.endswith(('.gz', '.db')):
                continue
            self.files([path], 'logins')
            try:
                with open(path, 'rb') as handle:
                    rows = (r for r in iter_utmp(handle) if 'error' in r or self.since <= r['epoch'] <= self.until)
                    self.jsonl('logins/%s.jsonl' % os.path.basename(path), rows, 'logins', source=path)
            except OSError as exc:
                self.w.error(path, 'cannot decode: %s' % exc.strerror, 'logins')
        if os.path.isfile('/var/log/lastlog'):
            self.files(['/var/log/lastlog'], 'logins')
            try:
                fd = os.open('/var/log/lastlog', os.O_RDONLY | os.O_CLOEXEC)
                try:
                    self.jsonl('logins/lastlog.jsonl', iter_lastlog(fd, names), 'logins', source='/var/log/lastlog')
                finally:
                    os.close(fd)
            except OSError as exc:
                self.w.error('/var/log/lastlog', 'cannot decode: %s' % exc.strerror, 'logins')
        self._login_databases()

    def _login_databases(self):
        """wtmpdb and lastlog2, the SQLite successors of wtmp and lastlog (Debian 13): stored raw, then decoded."""
        # Debian 13 links /var/lib/wtmpdb/wtmp.db to /var/log/wtmp.db: the link is recorded, the file stored.
        # `wtmpdb rotate` moves old entries into further .db files beside the live one.
        wtmpdbs = sorted(set(['/var/log/wtmp.db'] + [p for p in self.listdir('/var/log', 'wtmp') + self.listdir('/var/lib/wtmpdb')
                                                     if p.endswith('.db')]))
        databases = [(p, 'logins/wtmpdb_%s.jsonl' % os.path.basename(p)[:-3], lambda p: iter_wtmpdb(p, self.since, self.until))
                     for p in wtmpdbs]
        databases.append(('/var/lib/lastlog/lastlog2.db', 'logins/lastlog2.jsonl', iter_lastlog2))
        self.files([path for path, _name, _decode in databases], 'logins')
        seen = set()
        for path, name, decode in databases:
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            rows = decode(path)
            try:
                self.jsonl(name, rows, 'logins', source=path)
            except OSError as exc:
                self.w.error(path, 'cannot decode: %s' % exc.strerror, 'logins')

    def g_cron(self):
        self.files(['/etc/crontab', '/etc/anacrontab'], 'cron')
        for top in ('/etc/cron.d', '/etc/cron.hourly', '/etc/cron.daily', '/etc/cron.weekly', '/etc/cron.monthly',
                    '/var/spool/cron', '/var/spool/anacron', '/etc/systemd/system', '/run/systemd/transient'):
            self.tree(top, 'cron')
        timers = []
        for path in self.listdir('/var/lib/systemd/timers'):
            st = os.stat(path)
            timers.append({'stamp': path, 'timer': os.path.basename(path)[6:], 'last_run': iso(st.st_mtime)})
        self.w.add_json('cron/timer_last_runs.json', timers, 'cron', source='/var/lib/systemd/timers')
        self.run('cron/systemctl_list_timers.txt', ['systemctl', 'list-timers', '--all', '--no-pager'], 'cron')

    def g_packages(self):
        self.files(['/var/lib/dnf/history.sqlite', '/var/lib/dnf/history.sqlite-wal', '/var/lib/dnf/history.sqlite-shm',
                    '/var/log/yum.log', '/var/log/dnf.log', '/var/log/dnf.rpm.log', '/var/log/dnf.librepo.log'] +
                   self.listdir('/var/log', 'dpkg.log'), 'packages')
        self.tree('/var/lib/yum/history', 'packages')
        self.tree('/var/log/apt', 'packages')

    def g_fail2ban(self):
        self.files(self.listdir('/var/log', 'fail2ban.log') + ['/var/lib/fail2ban/fail2ban.sqlite3'], 'fail2ban')

    def g_ssh(self):
        self.run('ssh/sshd_T.txt', ['sshd', '-T'], 'ssh')
        self.files(['/etc/ssh/sshd_config', '/etc/ssh/ssh_config', '/etc/ssh/moduli'], 'ssh')
        self.tree('/etc/ssh/sshd_config.d', 'ssh')
        self.tree('/etc/ssh/authorized_keys', 'ssh')
        for home in sorted(self.homes):
            for name in ('.ssh/authorized_keys', '.ssh/authorized_keys2'):
                path = os.path.join(home, name)
                if os.path.lexists(path):
                    self.w.add_file(path, 'ssh', root=home)

    def g_accounts(self):
        self.files(['/etc/passwd', '/etc/group', '/etc/sudoers', '/etc/login.defs', '/etc/security/access.conf'], 'accounts')
        self.tree('/etc/sudoers.d', 'accounts')
        self.tree('/etc/pam.d', 'accounts')
        rows = []
        try:
            with open('/etc/shadow') as handle:
                for line in handle:
                    parts = line.rstrip('\n').split(':')
                    if len(parts) >= 3:
                        secret = parts[1]
                        # hashes stay on the host: only whether a password is set or locked leaves it
                        rows.append({'user': parts[0], 'password': 'locked' if secret.startswith('!') else
                                     ('none' if secret in ('', '*') else 'set'),
                                     'last_change_days': parts[2]})
        except OSError as exc:
            rows = [{'error': str(exc)}]
        self.w.add_json('accounts/shadow_summary.json', rows, 'accounts', source='/etc/shadow (no hashes)')

    def g_system(self):
        self.files(['/etc/ld.so.preload', '/etc/hosts', '/etc/resolv.conf', '/etc/rc.local', '/etc/environment',
                    '/etc/os-release', '/etc/hostname', '/etc/machine-id'], 'system')
        self.tree('/etc/profile.d', 'system')
        self.tree('/etc/modules-load.d', 'system')

    def g_history(self):
        for home in sorted(self.homes):
            for name in HISTORIES:
                path = os.path.join(home, name)
                if os.path.lexists(path):
                    self.w.add_file(path, 'history', root=home)

    def g_recent(self):
        """Metadata of files changed in the window under system and temporary directories."""
        counts = {'scanned': 0, 'changed': 0}
        self.jsonl('recent/changed_files.jsonl', self._recent(counts), 'recent', source=' '.join(RECENT_DIRS))
        self.log.write('recent: scanned %(scanned)d entries, %(changed)d changed in the window' % counts)

    def _recent(self, counts, max_scan=400000, max_rows=100000):
        for top in RECENT_DIRS:
            try:
                top_dev = os.lstat(top).st_dev
            except OSError:
                continue
            stack = [top]
            while stack and counts['scanned'] < max_scan and counts['changed'] < max_rows:
                current = stack.pop()
                try:
                    entries = list(os.scandir(current))
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
                    if max(st.st_mtime, st.st_ctime) >= self.since:
                        counts['changed'] += 1
                        entry = self.w.metadata(item.path, st)
                        yield entry

    def g_integrity(self):
        if which('dpkg'):
            self.run('integrity/dpkg_verify.txt', ['dpkg', '--verify'], 'integrity', ok_rcs=(0, 1))
        elif which('rpm'):
            self.run('integrity/rpm_Va.txt', ['rpm', '-Va', '--nomtime'], 'integrity', ok_rcs=(0, 1))


def bundle_name(hostname, when):
    stamp = datetime.datetime.fromtimestamp(when, datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
    return 'evidence-%s-%s' % (hostname.split('.')[0] or 'host', stamp), stamp
