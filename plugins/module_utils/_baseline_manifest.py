# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Persistence baseline: a manifest of the surfaces attackers use to stay on a host.

Each surface is a row of SURFACES (a name, a kind and the paths); a small engine walks the
rows under a root prefix, so every row can be tested against a fixture tree. Standard library
only: it runs on the target. Shadow entries are reduced to a status; no hash is ever read out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import json
import os
import stat

from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_records import shadow_status

# 2: entries of the small text surfaces (LINE_SURFACES) carry their lines.
FORMAT = 2
# Shells that cannot start an interactive session: such accounts have no start-up files worth keeping.
NO_LOGIN_SHELLS = ('/usr/sbin/nologin', '/sbin/nologin', '/bin/false', '/usr/bin/false', '/bin/sync')
# Files larger than this are listed with their size and mtime but not hashed (a unit is never this big).
HASH_LIMIT = 64 << 20
# Surfaces whose lines are kept in the manifest, so a difference says which key, job or rule came or went.
# Public keys, cron lines and sudo rules hold no secret; shadow is never among them.
LINE_SURFACES = ('authorized_keys', 'cron', 'at', 'sudoers', 'ld_preload', 'rc_local')
LINE_LIMIT = 64 << 10
MAX_LINES = 200

# (surface, kind, paths). kind: "path" (a file, or a directory walked recursively),
# "home" (relative to every login account's home and root's).
SURFACES = (
    ('authorized_keys', 'home', ('.ssh/authorized_keys', '.ssh/authorized_keys2')),
    ('accounts', 'path', ('/etc/passwd', '/etc/group', '/etc/shadow', '/etc/gshadow')),
    ('sudoers', 'path', ('/etc/sudoers', '/etc/sudoers.d')),
    ('cron', 'path', ('/etc/crontab', '/etc/anacrontab', '/etc/cron.d', '/etc/cron.hourly', '/etc/cron.daily',
                      '/etc/cron.weekly', '/etc/cron.monthly', '/etc/cron.allow', '/etc/cron.deny',
                      '/var/spool/cron', '/var/spool/anacron')),
    ('at', 'path', ('/var/spool/at', '/etc/at.allow', '/etc/at.deny')),
    ('systemd', 'path', ('/etc/systemd', '/usr/lib/systemd/system', '/usr/lib/systemd/user',
                         '/usr/local/lib/systemd', '/lib/systemd/system', '/run/systemd/system',
                         '/etc/xdg/systemd')),
    ('systemd_user', 'home', ('.config/systemd',)),
    ('ld_preload', 'path', ('/etc/ld.so.preload', '/etc/ld.so.conf', '/etc/ld.so.conf.d')),
    ('rc_local', 'path', ('/etc/rc.local', '/etc/rc.d/rc.local')),
    ('profile', 'path', ('/etc/profile', '/etc/profile.d', '/etc/bash.bashrc', '/etc/bashrc',
                         '/etc/environment', '/etc/zsh')),
    ('shell_startup', 'home', ('.profile', '.bashrc', '.bash_profile', '.bash_login', '.bash_logout',
                               '.zshrc', '.zprofile', '.zshenv')),
    ('modules', 'path', ('/etc/modules', '/etc/modules-load.d', '/etc/modprobe.d')),
    ('pam', 'path', ('/etc/pam.d',)),
    ('sshd', 'path', ('/etc/ssh/sshd_config', '/etc/ssh/sshd_config.d')),
)
# Directories searched for setuid/setgid files, each walked without crossing into another file system,
# plus the world-writable ones that are usually their own tmpfs.
SUID_ROOTS = ('/', '/tmp', '/var/tmp', '/dev/shm')
# Never walked for setuid files: kernel views and runtime state.
SUID_SKIP = ('/proc', '/sys', '/dev', '/run')


def iso(ts):
    return datetime.datetime.fromtimestamp(int(ts), datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _read_lines(path):
    try:
        with open(path, 'r', encoding='utf-8', errors='replace') as handle:
            return handle.read().splitlines()
    except OSError:
        return []


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def read_passwd(root):
    """Accounts from <root>/etc/passwd: name, uid, gid, home, shell."""
    out = []
    for line in _read_lines(root + '/etc/passwd'):
        cols = line.split(':')
        if len(cols) < 7 or line.startswith('#'):
            continue
        try:
            out.append({'name': cols[0], 'uid': int(cols[2]), 'gid': int(cols[3]), 'home': cols[5], 'shell': cols[6]})
        except ValueError:
            continue
    return out


def read_group(root):
    out = []
    for line in _read_lines(root + '/etc/group'):
        cols = line.split(':')
        if len(cols) < 4 or line.startswith('#'):
            continue
        try:
            out.append({'name': cols[0], 'gid': int(cols[2]), 'members': [m for m in cols[3].split(',') if m]})
        except ValueError:
            continue
    return out


def read_shadow(root):
    out = []
    for line in _read_lines(root + '/etc/shadow'):
        cols = line.split(':')
        if len(cols) < 3 or line.startswith('#'):
            continue
        out.append({'name': cols[0], 'status': shadow_status(cols[1]), 'changed': cols[2]})
    return out


def content_lines(full):
    """The non-empty, non-comment lines of a small text file, each cut at 1000 characters."""
    with open(full, 'rb') as handle:
        text = handle.read(LINE_LIMIT).decode('utf-8', 'replace')
    lines = [line.strip()[:1000] for line in text.splitlines() if line.strip() and not line.lstrip().startswith('#')]
    return lines[:MAX_LINES]


def file_entry(root, path, surface, users, groups):
    """stat and hash of root+path (not following a final symlink), or None when it does not exist."""
    full = root + path
    try:
        st = os.lstat(full)
    except OSError:
        return None
    entry = {
        'surface': surface,
        'mode': '%04o' % stat.S_IMODE(st.st_mode),
        'owner': users.get(st.st_uid, str(st.st_uid)),
        'group': groups.get(st.st_gid, str(st.st_gid)),
        'size': st.st_size,
        'mtime': iso(st.st_mtime),
    }
    if stat.S_ISLNK(st.st_mode):
        entry['type'] = 'link'
        entry['target'] = os.readlink(full)
    elif stat.S_ISDIR(st.st_mode):
        entry['type'] = 'dir'
        # A directory's size and mtime change with every temporary file in it (spool dirs); its files tell more.
        entry.pop('size')
        entry.pop('mtime')
    elif stat.S_ISREG(st.st_mode):
        entry['type'] = 'file'
        if st.st_size <= HASH_LIMIT:
            try:
                entry['sha256'] = _sha256(full)
                if surface in LINE_SURFACES and st.st_size <= LINE_LIMIT:
                    entry['lines'] = content_lines(full)
            except OSError as exc:
                entry['error'] = exc.strerror
    else:
        entry['type'] = 'other'
    return entry


def walk(root, path):
    """path and, for a directory (not a symlink to one), every path below it, sorted."""
    full = root + path
    if not os.path.lexists(full):
        return []
    out = [path]
    if os.path.isdir(full) and not os.path.islink(full):
        for dirpath, dirnames, filenames in os.walk(full):
            dirnames.sort()
            rel = dirpath[len(root):] or '/'
            for name in sorted(dirnames + filenames):
                out.append(rel.rstrip('/') + '/' + name)
    return out


def names(rows, key):
    """id -> name, the first row of an id winning as in NSS: a second uid-0 account does not rename root's files."""
    out = {}
    for row in rows:
        out.setdefault(row[key], row['name'])
    return out


def login_homes(accounts):
    """Home directories of root and of every account that can log in, once each."""
    homes = []
    for acc in accounts:
        if acc['uid'] != 0 and acc['shell'] in NO_LOGIN_SHELLS:
            continue
        if acc['home'] in ('', '/') or acc['home'] in homes:
            continue
        homes.append(acc['home'])
    return homes


def suid_files(root, roots=SUID_ROOTS, skip=SUID_SKIP):
    """Setuid and setgid files under roots, each walked on its own file system only."""
    found = set()
    for top in roots:
        full = (root + top).rstrip('/') or '/'
        try:
            dev = os.lstat(full).st_dev
        except OSError:
            continue
        for dirpath, dirnames, filenames in os.walk(full):
            rel = dirpath[len(root):] or '/'
            keep = []
            for name in dirnames:
                sub = rel.rstrip('/') + '/' + name
                try:
                    same = os.lstat(dirpath + '/' + name).st_dev == dev
                except OSError:
                    continue
                if same and sub not in skip:
                    keep.append(name)
            dirnames[:] = keep
            for name in filenames:
                try:
                    st = os.lstat(dirpath + '/' + name)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
                    found.add(rel.rstrip('/') + '/' + name)
    return sorted(found)


def read_modules(root):
    """Loaded kernel modules from /proc/modules: name, size, users."""
    out = []
    for line in _read_lines(root + '/proc/modules'):
        cols = line.split()
        if len(cols) >= 4:
            out.append({'name': cols[0], 'size': int(cols[1]), 'used_by': [u for u in cols[3].split(',') if u not in ('', '-')]})
    return sorted(out, key=lambda m: m['name'])


def reduce_sockets(listening):
    """Listening sockets without what changes on every restart (inode, pid)."""
    rows = set()
    for sock in listening:
        owners = sorted(set(o['comm'] for o in sock.get('owners', [])))
        rows.add((sock['proto'], sock['local'], sock['local_port'], sock['uid'], ','.join(owners)))
    return [{'proto': r[0], 'address': r[1], 'port': r[2], 'uid': r[3], 'process': r[4]} for r in sorted(rows)]


def build(root='', surfaces=SURFACES, suid_roots=SUID_ROOTS, sockets=None):
    """The manifest of root (a prefix, '' for the live host), without its creation time."""
    root = root.rstrip('/')
    accounts = read_passwd(root)
    group_rows = read_group(root)
    users, groups = names(accounts, 'uid'), names(group_rows, 'gid')
    homes = login_homes(accounts)
    files = {}
    # /lib/systemd/system is /usr/lib/systemd/system on a merged /usr: walk each real directory once.
    seen = set()
    for surface, kind, paths in surfaces:
        tops = [h.rstrip('/') + '/' + rel for h in homes for rel in paths] if kind == 'home' else list(paths)
        targets = []
        for top in tops:
            real = os.path.realpath(root + top)
            if real in seen:
                continue
            seen.add(real)
            targets.extend(walk(root, top))
        for path in targets:
            if path in files:
                continue
            entry = file_entry(root, path, surface, users, groups)
            if entry is not None:
                files[path] = entry
    for path in suid_files(root, suid_roots):
        if path not in files:
            entry = file_entry(root, path, 'suid', users, groups)
            if entry is not None:
                files[path] = entry
        else:
            files[path]['suid'] = True
    return {
        'format': FORMAT,
        'files': files,
        'accounts': {'passwd': accounts, 'group': group_rows, 'shadow': read_shadow(root)},
        'listening': reduce_sockets(sockets or []),
        'modules': read_modules(root),
    }


def canonical(manifest):
    """Bytes that identify a manifest's content: everything but its creation time."""
    body = dict((k, v) for k, v in manifest.items() if k != 'created')
    return json.dumps(body, sort_keys=True, separators=(',', ':')).encode('utf-8')


def diff(old, new):
    """What changed between two manifests, per file path and per section, for the evidence report."""
    out = {'added': [], 'removed': [], 'changed': []}
    old_files, new_files = old.get('files', {}), new.get('files', {})
    for path in sorted(set(old_files) | set(new_files)):
        if path not in old_files:
            out['added'].append(path)
        elif path not in new_files:
            out['removed'].append(path)
        elif old_files[path] != new_files[path]:
            fields = sorted(k for k in set(old_files[path]) | set(new_files[path])
                            if old_files[path].get(k) != new_files[path].get(k))
            out['changed'].append({'path': path, 'fields': fields})
    for section in ('accounts', 'listening', 'modules'):
        if old.get(section) != new.get(section):
            out.setdefault('sections', []).append(section)
    return out


def latest(directory):
    """The newest snapshot file in directory (names sort by time), or None."""
    try:
        names = sorted(n for n in os.listdir(directory) if n.startswith('snapshot-') and n.endswith('.json'))
    except OSError:
        return None
    return os.path.join(directory, names[-1]) if names else None


def load(path):
    with open(path, 'r', encoding='utf-8') as handle:
        return json.load(handle)


def snapshot_name(now):
    return 'snapshot-%s.json' % datetime.datetime.fromtimestamp(int(now), datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')


def save(directory, manifest, now, keep):
    """Write a new snapshot atomically; prune the oldest beyond keep, never the first one."""
    manifest = dict(manifest, created=iso(now))
    path = os.path.join(directory, snapshot_name(now))
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as handle:
        json.dump(manifest, handle, sort_keys=True, indent=1)
        handle.write('\n')
    os.chmod(tmp, 0o600)
    os.rename(tmp, path)
    names = sorted(n for n in os.listdir(directory) if n.startswith('snapshot-') and n.endswith('.json'))
    # The first snapshot is the baseline every later one is compared with: it is kept (keep is at least 2).
    for name in names[1:max(1, len(names) - (keep - 1))]:
        os.unlink(os.path.join(directory, name))
    return path
