# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine that walks the artifact table into a BundleWriter, below a root prefix.

With root='/' it collects the host; with a fixture tree as root, unit tests see what
each row finds on a Debian or EL layout.  Commands are looked up below the root too.
What each row found is kept in `observed`, from which readiness is judged.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import select
import subprocess
import tempfile
import time

from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_table import ARTIFACTS
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_window import iso

PATH = ('/usr/sbin', '/usr/bin', '/sbin', '/bin')
COMPRESSED = ('.gz', '.xz', '.bz2', '.zst')
FAMILIES = {'debian': 'Debian', 'ubuntu': 'Debian', 'rhel': 'RedHat', 'fedora': 'RedHat', 'centos': 'RedHat'}
CONDITIONS = {
    'fail2ban_socket': lambda e: e.exists('/run/fail2ban/fail2ban.sock') or e.exists('/var/run/fail2ban/fail2ban.sock'),
}


def os_family(root='/'):
    """Debian or RedHat from os-release's ID and ID_LIKE; None when neither says."""
    words = []
    try:
        with open(os.path.join(root, 'etc/os-release')) as handle:
            for line in handle:
                key, _sep, value = line.strip().partition('=')
                if key in ('ID', 'ID_LIKE'):
                    words += value.strip('"\'').split()
    except OSError:
        return None
    for word in words:
        if word in FAMILIES:
            return FAMILIES[word]
    return None


def read_chunks(proc, deadline, state):
    """Chunks of a running command's stdout until it closes or the deadline passes (then the command is
    killed and state['timed_out'] is set): one reader for every command the collector streams."""
    fd = proc.stdout.fileno()
    while True:
        left = deadline - time.time()
        if left <= 0:
            state['timed_out'] = True
            proc.kill()
            return
        ready, _w, _x = select.select([fd], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return
        yield chunk


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


class Engine:
    """Store what the table's rows name; decoders and steps come from `groups` (_evidence_groups)."""

    def __init__(self, writer, window, timeout, root='/', log=None, rows=ARTIFACTS):
        self.w = writer
        self.window = window
        self.timeout = timeout
        self.root = os.path.abspath(root)
        self.log = log or CollectionLog()
        self.rows = rows
        self.family = os_family(self.root)
        self.observed = {}  # row index -> host paths stored (or skipped) by the row
        self.last_error = None  # of the last command run
        self.spool_dir = os.path.dirname(writer.path) or '.'
        writer.source_root = '' if self.root == '/' else self.root

    # -- paths below the root ----------------------------------------------
    def host(self, path):
        return path if self.root == '/' else self.root + path

    def exists(self, path):
        return os.path.lexists(self.host(path))

    def which(self, name):
        for directory in PATH:
            path = self.host(os.path.join(directory, name))
            if os.access(path, os.X_OK):
                return path
        return None

    def applies(self, row):
        if row.get('platform') and self.family and row['platform'] != self.family:
            return False
        return 'when' not in row or CONDITIONS[row['when']](self)

    # -- the walk ------------------------------------------------------------
    def walk(self, group, groups):
        """Run the rows of one group in table order."""
        for index, row in enumerate(self.rows):
            if row['group'] != group or not self.applies(row):
                continue
            found = self.observed.setdefault(index, [])
            if 'file' in row:
                for path in sorted(glob.glob(self.host(row['file']))):
                    found.append(path)
                    self.file(path, group, row.get('window'), row.get('decoder'), groups)
            elif 'tree' in row:
                top = self.host(row['tree'])
                if os.path.isdir(top) and not os.path.islink(top):
                    found.append(top)
                    self.w.add_tree(top, group, root=top)
            elif 'copy' in row:
                if not row.get('optional') or self.exists(row['copy']):
                    self.copy(self.host(row['copy']), row['as'], group, found)
            elif 'run' in row:
                observe = getattr(groups, 'observe_' + row['decoder']) if row.get('decoder') else None
                observer = observe() if observe and not self.w.dry_run else None
                if self.run(row['as'], row['run'], group, ok_rcs=row.get('ok_rcs', (0,)), observer=observer) is not None:
                    found.append(row['as'])
            elif 'home' in row:
                for home in sorted(groups.homes):
                    for name in row['home']:
                        path = os.path.join(home, name)
                        if os.path.lexists(path):
                            found.append(path)
                            self.w.add_file(path, group, root=home)
            else:
                getattr(groups, 'step_' + row['step'])()

    def file(self, path, group, window, decoder, groups):
        """Store one file; a log last written before the window is skipped; decoders read it as it streams."""
        try:
            st = os.lstat(path)
        except OSError:
            return
        if window and not self.window.written_in(st.st_mtime):
            self.log.write('skip %s: last written %s, before the window' % (path, iso(st.st_mtime)))
            return
        plain = not path.endswith(COMPRESSED)
        observe = getattr(groups, 'observe_' + decoder, None) if decoder and plain else None
        observer = observe(path, st) if observe and not self.w.dry_run else None
        self.w.add_file(path, group, root=os.path.dirname(path), observer=observer)
        if observer is not None and hasattr(observer, 'close'):
            observer.close()
        after = getattr(groups, 'decode_' + decoder, None) if decoder and plain and not self.w.dry_run else None
        if after:
            after(path, st)

    def copy(self, path, name, group, found):
        try:
            with open(path, 'rb') as handle:
                self.w.add_bytes(name, handle.read(self.w.max_file), group, source=path)
            found.append(path)
        except OSError as exc:
            if self.root == '/':
                self.w.error(path, str(exc), group)

    # -- commands ------------------------------------------------------------
    def run(self, name, argv, group, cap=None, observer=None, ok_rcs=(0,), check=None):
        """Run one command under the timeout, streaming at most cap bytes of stdout into the bundle.

        check(rc, written) may name an error the exit code alone does not show.  Returns the exit
        code, or None when the command is absent or did not run.
        """
        exe = self.which(argv[0])
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
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                    env=env, close_fds=True)
        except OSError as exc:
            self.log.command(argv, None, time.time() - start, 'could not start: %s' % exc)
            return None
        written, note, truncated = self._pump(proc, spool, start, cap)
        rc = proc.wait()
        spool.flush()
        err.seek(0)
        stderr = err.read(4096).decode('utf-8', 'replace').strip()
        err.close()
        self.log.command(argv, rc, time.time() - start, note)
        if stderr:
            self.log.write('stderr of %s: %s' % (argv[0], stderr.replace('\n', ' | ')[:2000]))
        error = None if rc in ok_rcs or note else 'exit code %s%s' % (rc, (': ' + stderr[:300]) if stderr else '')
        if error is None and check is not None:
            error = check(rc, written)
        self.w.add_spool(name, spool, written, group, source=' '.join(argv), truncated=truncated,
                         error=error, observer=observer)
        if observer is not None and hasattr(observer, 'close'):
            observer.close()
        spool.close()
        self.last_error = error
        return rc

    def _pump(self, proc, spool, start, cap):
        written, truncated, state = 0, False, {}
        for chunk in read_chunks(proc, start + self.timeout, state):
            if written + len(chunk) > cap:
                chunk = chunk[:cap - written]
                truncated = True
            spool.write(chunk)
            written += len(chunk)
            if truncated:
                proc.kill()
                break
        proc.stdout.close()
        if truncated:
            return written, 'output capped at %d bytes' % cap, truncated
        note = 'timed out after %ss; output kept up to then' % self.timeout if state.get('timed_out') else ''
        return written, note, truncated

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
