# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading files for the bundle without following symlinks, and checking a bundle afterwards.

Files are opened without following any symlink below a trusted root, without
touching atime where the kernel lets us, and read in fixed-size chunks as regions
that hash what they give; holes of sparse files read as zeros without touching the disk.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import errno
import grp
import hashlib
import io
import json
import os
import pwd
import stat
import tarfile

CHUNK = 1024 * 1024
O_NOATIME = getattr(os, 'O_NOATIME', 0)
SEEK_DATA = getattr(os, 'SEEK_DATA', None)
SEEK_HOLE = getattr(os, 'SEEK_HOLE', None)

_TYPES = ((stat.S_ISREG, 'file'), (stat.S_ISDIR, 'directory'), (stat.S_ISLNK, 'symlink'), (stat.S_ISFIFO, 'fifo'),
          (stat.S_ISSOCK, 'socket'), (stat.S_ISCHR, 'char-device'), (stat.S_ISBLK, 'block-device'))


def file_type(mode):
    for test, name in _TYPES:
        if test(mode):
            return name
    return 'unknown'


_NAMES = {}


def owner_names(uid, gid):
    """User and group names for ids, cached; the id as text when there is no name."""
    key = (uid, gid)
    if key not in _NAMES:
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = str(uid)
        try:
            group = grp.getgrgid(gid).gr_name
        except KeyError:
            group = str(gid)
        _NAMES[key] = (user, group)
    return _NAMES[key]


def text_path(path):
    """A path as JSON-safe text, plus its base64 bytes when it is not valid UTF-8."""
    raw = os.fsencode(path)
    try:
        return raw.decode('utf-8'), None
    except UnicodeDecodeError:
        return raw.decode('utf-8', 'backslashreplace'), base64.b64encode(raw).decode('ascii')


def open_nofollow(path, root='/'):
    """Open path read-only, following no symlink in any component below root.

    root itself is resolved (it is named by the collector, not by a user);
    every later component is opened relative to its parent with O_NOFOLLOW.
    Returns (fd, noatime_used).  Raises OSError (ELOOP for a symlink).
    """
    root = os.path.realpath(root)
    rel = os.path.relpath(path, root)
    if rel.startswith('..'):
        raise OSError(errno.EXDEV, 'path is outside its root %s' % root, path)
    parts = [p for p in rel.split(os.sep) if p not in ('', '.')]
    dir_flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            try:
                nxt = os.open(part, dir_flags, dir_fd=fd)
            except OSError as exc:
                if exc.errno == errno.ENOTDIR and stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode):
                    raise OSError(errno.ELOOP, 'symlink in path', path)
                raise
            os.close(fd)
            fd = nxt
        last = parts[-1] if parts else '.'
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            return os.open(last, flags | O_NOATIME, dir_fd=fd), bool(O_NOATIME)
        except OSError as exc:
            if exc.errno != errno.EPERM or not O_NOATIME:
                raise
            return os.open(last, flags, dir_fd=fd), False
    finally:
        os.close(fd)


class _Region(io.RawIOBase):
    """Exactly `length` bytes of fd from `start`, hashing them; holes and a shrunken tail read as zeros."""

    def __init__(self, fd, start, length, sparse, observer=None):
        super(_Region, self).__init__()
        self.observer = observer
        self.fd = fd
        self.pos = start
        self.end = start + length
        self.sparse = sparse and SEEK_DATA is not None
        self.hash = hashlib.sha256()
        self.short = False
        self.data_end = -1  # end of the current data extent, for sparse files

    def readable(self):
        return True

    def _seen(self, chunk):
        self.hash.update(chunk)
        if self.observer is not None:
            self.observer(chunk)

    def _next_data(self):
        try:
            data = os.lseek(self.fd, self.pos, SEEK_DATA)
        except OSError:
            return self.end, self.end  # only a hole remains
        hole = os.lseek(self.fd, data, SEEK_HOLE)
        return data, hole

    def readinto(self, buf):
        want = min(len(buf), self.end - self.pos, CHUNK)
        if want <= 0:
            return 0
        if self.sparse and self.pos >= self.data_end:
            data, hole = self._next_data()
            if data > self.pos:
                want = min(want, data - self.pos)
                buf[:want] = bytes(want)
                self._seen(bytes(want))
                self.pos += want
                return want
            self.data_end = hole
        if self.sparse:
            want = min(want, max(self.data_end - self.pos, 1))
        chunk = os.pread(self.fd, want, self.pos)
        if not chunk:
            self.short = True
            chunk = bytes(want)
        n = len(chunk)
        buf[:n] = chunk
        self._seen(chunk)
        self.pos += n
        return n


class _HashingFile:
    """Write-through file object that hashes and counts what reaches the disk."""

    def __init__(self, fd):
        self.raw = os.fdopen(fd, 'wb', buffering=CHUNK)
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.hash.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self):
        self.raw.flush()

    def close(self):
        self.raw.flush()
        os.fsync(self.raw.fileno())
        self.raw.close()


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def verify_bundle(path, expected_sha256=None):
    """Check a bundle's own SHA-256 and every manifest hash in one streaming read.

    Returns a dict with ok, sha256, checked and a list of problems.
    """
    problems = []
    sha = sha256_file(path)
    if expected_sha256 and sha != expected_sha256.lower():
        problems.append('bundle sha256 %s differs from the expected %s' % (sha, expected_sha256))
    seen = {}
    manifest = None
    with tarfile.open(path, mode='r|gz') as tar:
        for member in tar:
            if not member.isfile():
                continue
            handle = tar.extractfile(member)
            if member.name.endswith('/manifest.jsonl'):
                manifest = handle.read()
                continue
            digest = hashlib.sha256()
            for chunk in iter(lambda: handle.read(CHUNK), b''):
                digest.update(chunk)
            seen[member.name] = digest.hexdigest()
    if manifest is None:
        problems.append('no manifest.jsonl in the bundle')
        manifest = b''
    found, checked = manifest_problems(manifest, seen)
    problems.extend(found)
    return {'ok': not problems, 'sha256': sha, 'checked': checked, 'problems': problems[:50]}


def manifest_problems(manifest, seen):
    """Members missing, altered or unlisted: manifest.jsonl bytes against seen (member name -> sha256).

    Returns (problems, members checked); seen is consumed. The controller's verifier and the
    report both call this, so a bundle is judged the same way by both.
    """
    problems, checked = [], 0
    for line in manifest.splitlines():
        entry = json.loads(line.decode('utf-8'))
        name = entry.get('arcname')
        if not name:
            continue
        if name not in seen:
            problems.append('%s is in the manifest but not in the bundle' % name)
        elif seen.pop(name) != entry.get('sha256'):
            problems.append('%s does not match its manifest sha256' % name)
        checked += 1
    problems.extend('%s is in the bundle but not in the manifest' % name for name in sorted(seen))
    return problems, checked
