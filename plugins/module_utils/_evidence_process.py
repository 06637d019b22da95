# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Process history (atop), the persistence baseline and the collection's own session, for the bundle.

Members (documented in roles/atop/README.md and roles/persistence_baseline/README.md):
  atop/processes.jsonl     one row per interval per process that used CPU or disk, started or ended
  atop/summary.json        files decoded, samples, rows, rows dropped at the cap, atop's version
  baseline/snapshot.json   the newest snapshot of /var/lib/quietnode/baseline, as written at converge
  baseline/diff.json       that snapshot against the host now, per surface (same manifest code)
  baseline/watch_events.jsonl  audit records of the persistence watches in the window
  summary/own_session.json the collector's own process chain, login, source address and sudo
Standard library only: it runs on the target.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import subprocess
import time

from ansible_collections.quietnode.baseline.plugins.module_utils import _baseline_manifest as manifest
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_engine import read_chunks
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_proc import boot_time, list_sockets, parse_stat
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_window import iso

# -- atop ------------------------------------------------------------------------------
# atop(1) "PARSEABLE OUTPUT": general, CPU, memory and disk lines per process (the same on atop 2.8 and 2.11).
ATOP_LABELS = 'PRG,PRC,PRM,PRD'
ATOP_DIR = '/var/log/atop'
ATOP_MAX_ROWS = 200000
ATOP_MAX_CMDLINE = 400
SECTOR_KB = 0.5
# After the label: host epoch date time interval pid (name) state ...; name holds at most 15 characters.
ATOP_HEAD = re.compile(r'^(PR[GCMD]) \S+ (\d+) \S+ \S+ (\d+) (\d+) \((.{0,15}?)\) (\S) (.*)$')
# PRG after the state: ruid rgid tgid nthreads exitcode start (cmdline) ppid nrun nslpi nslpu euid egid suid sgid
# fsuid fsgid elapsed isproc ...; the command line may hold parentheses, so it ends where this tail matches.
PRG_REST = re.compile(r'^(\d+) (\d+) (\d+) (\d+) (-?\d+) (\d+) \((.*)\) (-?\d+) \d+ \d+ \d+ (\d+) (?:\d+ ){5}(\d+) ([yn])\b')


def atop_argv(path, since, until):
    """atop reads -b/-e as [YYYYMMDD]hhmm in its TZ (UTC for the collector); the rows are filtered by epoch too."""
    def stamp(epoch):
        return time.strftime('%Y%m%d%H%M', time.gmtime(epoch))
    return ['atop', '-r', path, '-b', stamp(since), '-e', stamp(until + 60), '-P', ATOP_LABELS]


class AtopDecoder:
    """Fold atop's parseable lines (PRG/PRC/PRM/PRD, process lines only, not threads) into one row per
    process per sample, keeping those that used CPU or disk, started or ended in the interval."""

    def __init__(self, since, until, users=None, max_rows=ATOP_MAX_ROWS):
        self.since, self.until = since, until
        self.users = users or {}
        self.max_rows = max_rows
        self.rows = 0
        self.dropped = 0
        self.samples = 0
        self.sample = None
        self.procs = {}

    def feed(self, line):
        """Rows of the sample that this line closes (a line of the next sample closes the previous one)."""
        m = ATOP_HEAD.match(line)
        if not m:
            return self.flush() if line.startswith('RESET') else []
        label, epoch, interval, pid, name, state, rest = m.groups()
        key = (int(epoch), int(interval))
        out = self.flush() if key != self.sample else []
        self.sample = key
        fields = rest.split()
        if label == 'PRG':
            g = PRG_REST.match(rest)
            if not g or g.group(11) != 'y':
                return out
            self.procs[int(pid)] = {
                'time': iso(key[0]), 'epoch': key[0], 'interval_s': key[1], 'pid': int(pid), 'name': name,
                'state': state, 'exited': state == 'E', 'uid': int(g.group(1)), 'euid': int(g.group(9)),
                'threads': int(g.group(4)), 'exit_code': int(g.group(5)) if state == 'E' else None,
                'started': iso(int(g.group(6))) if int(g.group(6)) else None,
                'new': int(g.group(6)) >= key[0] - key[1],
                'cmdline': g.group(7)[:ATOP_MAX_CMDLINE] or None, 'ppid': int(g.group(8)) or None,
                'cpu_user_s': 0.0, 'cpu_system_s': 0.0, 'rss_kb': None, 'vmem_kb': None,
                'disk_read_kb': 0.0, 'disk_write_kb': 0.0}
            return out
        row = self.procs.get(int(pid))
        if row is None:
            return out
        try:
            if label == 'PRC' and fields[10] == 'y':
                hz = float(fields[0]) or 100.0
                row['cpu_user_s'] = round(int(fields[1]) / hz, 2)
                row['cpu_system_s'] = round(int(fields[2]) / hz, 2)
            elif label == 'PRM' and fields[13] == 'y':
                row['vmem_kb'], row['rss_kb'] = int(fields[1]), int(fields[2])
            elif label == 'PRD' and fields[9] == 'y':
                row['disk_read_kb'] = int(fields[3]) * SECTOR_KB
                row['disk_write_kb'] = int(fields[5]) * SECTOR_KB
        except (IndexError, ValueError):
            pass
        return out

    def flush(self):
        procs, self.procs = self.procs, {}
        # a sample covers (epoch - interval, epoch]: kept when that overlaps the window
        if not procs or self.sample is None or self.sample[0] < self.since or self.sample[0] - self.sample[1] > self.until:
            return []
        self.samples += 1
        out = []
        for pid in sorted(procs):
            row = procs[pid]
            if not (row['cpu_user_s'] or row['cpu_system_s'] or row['disk_read_kb'] or row['disk_write_kb']
                    or row['exited'] or row['new']):
                continue
            if self.rows >= self.max_rows:
                self.dropped += 1
                continue
            row['user'] = self.users.get(row['uid'], str(row['uid']))
            self.rows += 1
            out.append(row)
        return out


def stream_lines(engine, argv):
    """Lines of a command's stdout as it runs, under the engine's timeout; logged like the engine's commands."""
    exe = engine.which(argv[0])
    if exe is None:
        engine.log.write('not present: %s' % argv[0])
        return
    argv = [exe] + list(argv[1:])
    env = {'PATH': '/usr/sbin:/usr/bin:/sbin:/bin', 'LC_ALL': 'C', 'TZ': 'UTC'}
    start = time.time()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env=env, close_fds=True)
    except OSError as exc:
        engine.log.command(argv, None, time.time() - start, 'could not start: %s' % exc)
        return
    state, rest = {}, b''
    try:
        for chunk in read_chunks(proc, start + engine.timeout, state):
            lines = (rest + chunk).split(b'\n')
            rest = lines.pop()
            for line in lines:
                yield line.decode('utf-8', 'replace')
        if rest and not state.get('timed_out'):
            yield rest.decode('utf-8', 'replace')
    finally:
        proc.stdout.close()
        rc = proc.wait()
        note = 'timed out after %ss; rows kept up to then' % engine.timeout if state.get('timed_out') else ''
        engine.log.command(argv, rc, time.time() - start, note)


def atop_rows(engine, paths, decoder):
    for path in paths:
        for line in stream_lines(engine, atop_argv(path, decoder.since, decoder.until)):
            yield from decoder.feed(line)
        yield from decoder.flush()
        decoder.sample = None


def atop_version(engine):
    """atop's version from its package metadata (atop -V needs no terminal but prints to stdout; this starts nothing)."""
    for path in ('/var/lib/dpkg/status',):
        try:
            with open(engine.host(path), encoding='utf-8', errors='replace') as handle:
                text = handle.read()
        except OSError:
            continue
        m = re.search(r'^Package: atop\n(?:[^\n]+\n)*?Version: (\S+)', text, re.M)
        if m:
            return m.group(1)
    return None


# -- persistence baseline ----------------------------------------------------------------
BASELINE_DIR = '/var/lib/quietnode/baseline'
# Fields of a manifest entry compared and shown, in the order a reader wants them.
ENTRY_FIELDS = ('type', 'owner', 'group', 'mode', 'sha256', 'size', 'target', 'suid', 'lines')


def _lines_diff(old, new):
    old_lines, new_lines = old.get('lines'), new.get('lines')
    if new_lines is None:
        return {}
    if old_lines is None:
        return {'lines_now': new_lines}
    return {'lines_added': [x for x in new_lines if x not in old_lines],
            'lines_removed': [x for x in old_lines if x not in new_lines]}


def detailed_diff(old, new):
    """The snapshot against now, per surface: added, removed and changed items with what changed."""
    surfaces = {}

    def bucket(surface):
        return surfaces.setdefault(surface, {'added': [], 'removed': [], 'changed': []})

    old_files, new_files = old.get('files', {}), new.get('files', {})
    for path in sorted(set(old_files) | set(new_files)):
        before, after = old_files.get(path), new_files.get(path)
        if before == after:
            continue
        entry = after or before
        item = {'path': path, 'type': entry.get('type'), 'mtime_then': (before or {}).get('mtime'),
                'mtime_now': (after or {}).get('mtime')}
        if before is None:
            item.update(dict((k, after[k]) for k in ENTRY_FIELDS if k in after and k != 'lines'))
            item.update(_lines_diff({}, after))
            bucket(after['surface'])['added'].append(item)
        elif after is None:
            item.update(dict((k, before[k]) for k in ENTRY_FIELDS if k in before and k != 'lines'))
            if before.get('lines') is not None:
                item['lines_removed'] = before['lines']
            bucket(before['surface'])['removed'].append(item)
        else:
            # Only fields both sides have: a snapshot of an older format (no lines) is not "changed" everywhere.
            changes = dict((k, {'then': before[k], 'now': after[k]}) for k in ENTRY_FIELDS
                           if k != 'lines' and k in before and k in after and before[k] != after[k])
            item.update(changes=changes, fields=sorted(changes))
            item.update(_lines_diff(before, after))
            lines_moved = item.get('lines_added') or item.get('lines_removed')
            if not changes and not lines_moved:
                if 'mtime' not in before or 'mtime' not in after or before['mtime'] == after['mtime']:
                    continue
                item['fields'] = ['mtime']
            bucket(after['surface'])['changed'].append(item)
    accounts = _accounts_diff(old.get('accounts', {}), new.get('accounts', {}))
    for section in ('passwd', 'group', 'shadow'):
        if any(accounts[section].values()):
            surfaces.setdefault('accounts', {'added': [], 'removed': [], 'changed': []})
    for section in ('listening', 'modules'):
        before = set(json.dumps(x, sort_keys=True) for x in old.get(section, []))
        after = set(json.dumps(x, sort_keys=True) for x in new.get(section, []))
        if before != after:
            surfaces[section] = {'added': [json.loads(x) for x in sorted(after - before)],
                                 'removed': [json.loads(x) for x in sorted(before - after)], 'changed': []}
    return {'surfaces': surfaces, 'accounts': accounts,
            'counts': dict((s, dict((k, len(v)) for k, v in d.items())) for s, d in surfaces.items())}


def _accounts_diff(old, new):
    out = {}
    for section, key in (('passwd', 'name'), ('group', 'name'), ('shadow', 'name')):
        before = dict((r[key], r) for r in old.get(section, []))
        after = dict((r[key], r) for r in new.get(section, []))
        out[section] = {
            'added': [after[n] for n in sorted(set(after) - set(before))],
            'removed': [before[n] for n in sorted(set(before) - set(after))],
            'changed': [{'name': n, 'then': before[n], 'now': after[n]} for n in sorted(set(before) & set(after))
                        if before[n] != after[n]],
        }
    return out


def baseline_state(root, directory=BASELINE_DIR, sockets=None):
    """(snapshot path, snapshot bytes, diff) for the host below root; (None, None, reason) without a snapshot."""
    path = manifest.latest(root.rstrip('/') + directory)
    if path is None:
        return None, None, 'no snapshot in %s: the persistence_baseline role has not run' % directory
    with open(path, 'rb') as handle:
        raw = handle.read()
    try:
        old = json.loads(raw.decode('utf-8'))
    except ValueError as exc:
        return path, raw, 'the snapshot cannot be read: %s' % exc
    now = manifest.build(root.rstrip('/'), sockets=sockets)
    if sockets is None:
        # Without /proc (a fixture tree) the listening sockets were not read: they are not compared.
        now['listening'] = old.get('listening', [])
    result = detailed_diff(old, now)
    result.update(snapshot=path[len(root.rstrip('/')):], snapshot_created=old.get('created'),
                  compared_at=iso(time.time()), manifest_format=old.get('format'))
    return path, raw, result


def live_listening(root):
    return list_sockets(root.rstrip('/') + '/proc')[1] if os.path.isdir(root.rstrip('/') + '/proc/net') else None


# -- audit records of the persistence watches ------------------------------------------------
# Keys of the watches on persistence surfaces: roles/auditd (vars/main.yml __auditd_watches, ssh_keys,
# systemd_units) and roles/persistence_baseline (__persistence_baseline_audit_key).
WATCH_KEYS = {
    'ssh_keys': 'authorized_keys', 'identity': 'accounts', 'sudoers': 'sudoers', 'cron': 'cron',
    'systemd_units': 'systemd', 'sshd_config': 'sshd', 'quietnode_persist': 'persistence',
}
WATCH_MAX = 20000
AUDIT_RECORD = re.compile(r'type=(\w+) msg=audit\((\d+)\.(\d+):(\d+)\): ?(.*)$')
AUDIT_FIELD = re.compile(r'(\w+)=("[^"]*"|\S+)')
# nametype of PATH records (kernel audit: CREATE, DELETE, NORMAL, PARENT, UNKNOWN).
ACTIONS = {'CREATE': 'created', 'DELETE': 'deleted', 'NORMAL': 'written or changed'}
# Syscall numbers of the file changes the watches report, per audit arch (x86_64, aarch64).
SYSCALLS = {
    'c000003e': {2: 'open', 76: 'truncate', 77: 'ftruncate', 82: 'rename', 83: 'mkdir', 84: 'rmdir', 85: 'creat',
                 86: 'link', 87: 'unlink', 88: 'symlink', 90: 'chmod', 91: 'fchmod', 92: 'chown', 93: 'fchown',
                 94: 'lchown', 188: 'setxattr', 257: 'openat', 258: 'mkdirat', 260: 'fchownat', 263: 'unlinkat',
                 264: 'renameat', 265: 'linkat', 266: 'symlinkat', 268: 'fchmodat', 316: 'renameat2', 437: 'openat2'},
    'c00000b7': {34: 'mkdirat', 35: 'unlinkat', 36: 'symlinkat', 37: 'linkat', 38: 'renameat', 45: 'truncate',
                 46: 'ftruncate', 52: 'fchmod', 53: 'fchmodat', 54: 'fchownat', 55: 'fchown', 56: 'openat',
                 276: 'renameat2', 437: 'openat2'},
}


def _value(text):
    """An audit field's value: quoted text, hex-encoded text (names with spaces) or a plain token."""
    if text.startswith('"'):
        return text[1:-1]
    if len(text) % 2 == 0 and len(text) >= 2 and re.match(r'^[0-9A-F]+$', text) and not text.isdigit():
        try:
            return bytes.fromhex(text).decode('utf-8', 'replace').replace('\0', ' ')
        except ValueError:
            return text
    return text


class WatchEvents:
    """Audit events whose SYSCALL record carries a persistence watch key, with their PATH names."""

    def __init__(self, max_events=WATCH_MAX):
        self.events = {}
        self.order = []
        self.max_events = max_events
        self.dropped = 0

    def feed(self, lines):
        for raw in lines:
            line = raw.decode('utf-8', 'replace') if isinstance(raw, bytes) else raw
            # enriched logs append interpreted names after a group separator: the raw fields come first
            m = AUDIT_RECORD.match(line.split('\x1d', 1)[0])
            if not m:
                continue
            kind, sec, _ms, serial, body = m.groups()
            ident = (sec, serial)
            fields = dict((k, _value(v)) for k, v in AUDIT_FIELD.findall(body))
            if kind == 'SYSCALL':
                key = fields.get('key', '')
                if key not in WATCH_KEYS:
                    continue
                if len(self.order) >= self.max_events:
                    self.dropped += 1
                    continue
                try:
                    number = int(fields.get('syscall', '-1'))
                except ValueError:
                    number = -1
                self.events[ident] = {
                    'time': iso(int(sec)), 'epoch': int(sec), 'serial': int(serial), 'key': key, 'surface': WATCH_KEYS[key],
                    'syscall': SYSCALLS.get(fields.get('arch'), {}).get(number, fields.get('syscall')),
                    'success': fields.get('success') == 'yes', 'pid': _int(fields.get('pid')),
                    'ppid': _int(fields.get('ppid')), 'uid': _int(fields.get('uid')), 'auid': _int(fields.get('auid')),
                    'ses': _int(fields.get('ses')), 'comm': fields.get('comm'), 'exe': fields.get('exe'),
                    'paths': [], 'cwd': None, 'proctitle': None}
                self.order.append(ident)
            elif ident in self.events:
                event = self.events[ident]
                if kind == 'PATH' and fields.get('nametype') != 'PARENT':
                    event['paths'].append({'name': fields.get('name'), 'nametype': fields.get('nametype'),
                                           'action': ACTIONS.get(fields.get('nametype'), fields.get('nametype'))})
                elif kind == 'CWD':
                    event['cwd'] = fields.get('cwd')
                elif kind == 'PROCTITLE':
                    event['proctitle'] = fields.get('proctitle', '')[:400]

    def rows(self):
        for ident in self.order:
            event = self.events[ident]
            for item in event['paths']:
                name = item['name'] or ''
                if name and not name.startswith('/') and event['cwd']:
                    item['name'] = event['cwd'].rstrip('/') + '/' + name
            yield event


def _int(text):
    try:
        value = int(text)
    except (TypeError, ValueError):
        return None
    # 4294967295 is audit's "unset" (no login uid, no session)
    return None if value == 4294967295 else value


# -- the collection's own session ------------------------------------------------------------
SSHD_NAMES = ('sshd', 'sshd-session')


def _environ(proc, pid):
    try:
        with open('%s/%d/environ' % (proc, pid), 'rb') as handle:
            data = handle.read(1 << 16)
    except OSError:
        return {}
    out = {}
    for item in data.split(b'\0'):
        key, sep, value = item.partition(b'=')
        if sep:
            out[key.decode('utf-8', 'replace')] = value.decode('utf-8', 'replace')
    return out


def _first(text):
    try:
        with open(text, 'rb') as handle:
            return handle.read(4096).decode('utf-8', 'replace').strip()
    except OSError:
        return None


def own_session(proc='/proc', pid=None, users=None):
    """The collector's ancestry up to sshd (or pid 1): each process, and the login it came from.

    SSH_CONNECTION and SUDO_* are read from the ancestors' environments, since sudo resets the collector's.
    """
    pid = pid or os.getpid()
    users = users or {}
    btime = boot_time(proc)
    hz = os.sysconf('SC_CLK_TCK')
    chain = []
    seen = set()
    while pid and pid not in seen and len(chain) < 64:
        seen.add(pid)
        try:
            with open('%s/%d/stat' % (proc, pid), 'rb') as handle:
                comm, rest = parse_stat(handle.read())
            uid = os.stat('%s/%d' % (proc, pid)).st_uid
        except (OSError, ValueError):
            break
        try:
            with open('%s/%d/cmdline' % (proc, pid), 'rb') as handle:
                cmdline = [a.decode('utf-8', 'replace') for a in handle.read(4096).split(b'\0') if a]
        except OSError:
            cmdline = []
        chain.append({'pid': pid, 'ppid': int(rest[1]), 'comm': comm, 'uid': uid, 'user': users.get(uid, str(uid)),
                      'cmdline': ' '.join(cmdline)[:400], 'started': iso(btime + int(rest[19]) / float(hz))})
        if pid == 1:
            break
        pid = int(rest[1])
    session = {'collector_pid': chain[0]['pid'] if chain else None, 'chain': chain, 'pids': [p['pid'] for p in chain]}
    sshd = [p for p in chain if p['comm'] in SSHD_NAMES]
    # The connection's own sshd: the one nearest the listener but not the listener itself (privileged monitor).
    conn = [p for p in sshd if '[listener]' not in p['cmdline'] and p['ppid'] != 1]
    login = conn[-1] if conn else None
    session['sshd_pid'] = login['pid'] if login else None
    session['login_time'] = login['started'] if login else None
    env = {}
    for p in chain:
        found = _environ(proc, p['pid'])
        for key in ('SSH_CONNECTION', 'SSH_CLIENT', 'SUDO_USER', 'SUDO_UID', 'SUDO_COMMAND', 'USER', 'LOGNAME'):
            if key in found and key not in env:
                env[key] = found[key]
    conn_fields = env.get('SSH_CONNECTION', '').split()
    if len(conn_fields) == 4:
        session.update(source_address=conn_fields[0], source_port=int(conn_fields[1]),
                       server_address=conn_fields[2], server_port=int(conn_fields[3]))
    else:
        session.update(source_address=None, source_port=None, server_address=None, server_port=None)
    sudo = [p for p in chain if p['comm'] == 'sudo']
    session['sudo'] = {'user': env.get('SUDO_USER'), 'uid': _int(env.get('SUDO_UID')),
                       'pid': sudo[0]['pid'] if sudo else None, 'started': sudo[0]['started'] if sudo else None,
                       'command': env.get('SUDO_COMMAND', '')[:400] or None} if sudo or 'SUDO_USER' in env else None
    # The login user: sudo's caller, else the owner of the first process below sshd.
    below = [p for p in chain if p['comm'] not in SSHD_NAMES and p['uid'] != 0]
    session['login_user'] = env.get('SUDO_USER') or (below[-1]['user'] if below else env.get('LOGNAME') or env.get('USER'))
    session['audit_loginuid'] = _int(_first('%s/%d/loginuid' % (proc, session['collector_pid'] or 0)))
    session['audit_session'] = _int(_first('%s/%d/sessionid' % (proc, session['collector_pid'] or 0)))
    return session


# -- the steps the artifact table names (mixed into _evidence_groups.Steps) --------------------
class ProcessSteps:
    """decode_atop/step_atop, step_baseline and step_own_session; self.e is the engine, self.w the writer."""

    def process_init(self):
        self.atop_paths = []
        self.watch = WatchEvents()
        self.observed.update(atop_files_in_window=0, atop_rows=0, baseline_snapshot=None, baseline_error=None)

    def users(self):
        return manifest.names(manifest.read_passwd(self.e.root.rstrip('/')), 'uid')

    def decode_atop(self, path, st):
        self.atop_paths.append(path)

    def step_atop(self):
        self.observed['atop_files_in_window'] = len(self.atop_paths)
        decoder = AtopDecoder(self.window.since, self.window.until, users=self.users())
        if self.atop_paths and not self.w.dry_run:
            self.e.jsonl('atop/processes.jsonl', atop_rows(self.e, self.atop_paths, decoder), 'atop',
                         source='atop -r <file> -P %s' % ATOP_LABELS)
        summary = {'files': [self.w.shown(p) for p in self.atop_paths], 'labels': ATOP_LABELS,
                   'samples': decoder.samples, 'rows': decoder.rows, 'rows_dropped_at_cap': decoder.dropped,
                   'max_rows': decoder.max_rows, 'atop_version': atop_version(self.e),
                   'row_rule': 'processes that used CPU or disk, started or ended in the interval; threads folded '
                               'into their process'}
        self.observed['atop_rows'] = decoder.rows
        self.w.add_json('atop/summary.json', summary, 'atop')

    def step_baseline(self):
        root = self.e.root
        sockets = live_listening(root) if root == '/' else None
        try:
            path, raw, result = baseline_state('' if root == '/' else root, sockets=sockets)
        except OSError as exc:
            path, raw, result = None, None, 'cannot read the baseline: %s' % exc
        if raw is not None:
            self.w.add_bytes('baseline/snapshot.json', raw, 'baseline', source=self.w.shown(path))
            self.observed['baseline_snapshot'] = self.w.shown(path)
        if isinstance(result, dict):
            self.w.add_json('baseline/diff.json', result, 'baseline', source='%s against the host now' % self.w.shown(path))
        else:
            self.observed['baseline_error'] = result
        rows = list(self.watch.rows())
        self.observed['watch_events'] = len(rows)
        self.e.jsonl('baseline/watch_events.jsonl', rows, 'baseline',
                     source='audit records keyed %s' % ','.join(sorted(WATCH_KEYS)))

    def step_own_session(self):
        session = own_session(self.e.host('/proc'), users=self.users()) if self.e.root == '/' else {}
        self.w.add_json('summary/own_session.json', session, 'live', source='/proc (the collector and its ancestors)')
