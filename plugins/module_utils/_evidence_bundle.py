# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tar.gz evidence bundle written in one streaming pass, with a manifest.

Files are read through _evidence_files in fixed-size chunks, so memory stays
bounded whatever the sizes.  Special files are recorded, never opened.
Oversized files keep their newest end.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import io
import json
import os
import stat
import tarfile
import tempfile
import time

from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_files import (  # pylint: disable=unused-import  # re-exported
    CHUNK, O_NOATIME, _HashingFile, _Region, file_type, open_nofollow, owner_names, sha256_file, text_path, verify_bundle,
)
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_window import iso

SPOOL_RAM = 4 * 1024 * 1024


class BundleWriter:
    """Stream files, generated documents and command output into one tar.gz.

    With dry_run=True nothing is opened or written; add_* only record what
    would be stored and its estimated size, which is what check mode reports.
    """

    def __init__(self, path, prefix, max_file_size, max_bundle_size, dry_run=False, compresslevel=6):
        self.path = path
        self.prefix = prefix.strip('/')
        self.max_file = max_file_size
        self.max_bundle = max_bundle_size
        self.dry_run = dry_run
        self.source_root = ''  # a fixture tree's root, left out of member names and manifest paths
        self.stored = 0
        self.entries = 0
        self.errors = 0
        self.estimate = {}
        self.manifest = tempfile.SpooledTemporaryFile(max_size=SPOOL_RAM)
        self._out = self._gz = self._tar = self._self_id = None
        if not dry_run:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            self._out = _HashingFile(fd)
            self._self_id = (os.fstat(fd).st_dev, os.fstat(fd).st_ino)
            import gzip
            self._gz = gzip.GzipFile(filename='', mode='wb', fileobj=self._out, compresslevel=compresslevel, mtime=0)
            # Whole chunks reach zlib, which then runs long without the GIL, beside the log parsers' thread.
            self._tar = tarfile.open(fileobj=self._gz, mode='w|', format=tarfile.PAX_FORMAT, encoding='utf-8',
                                     bufsize=CHUNK, copybufsize=CHUNK)

    # -- manifest ---------------------------------------------------------
    def _record(self, entry, group):
        entry['group'] = group
        self.entries += 1
        if entry.get('error'):
            self.errors += 1
        est = self.estimate.setdefault(group, {'files': 0, 'bytes': 0})
        est['files'] += 1
        est['bytes'] += entry.get('stored', 0)
        line = json.dumps(entry, sort_keys=True, separators=(',', ':')) + '\n'
        self.manifest.write(line.encode('utf-8'))

    def shown(self, path):
        """A host path as the bundle names it: without the root prefix of a fixture tree."""
        if self.source_root and os.fsdecode(path).startswith(self.source_root + '/'):
            return os.fsdecode(path)[len(self.source_root):]
        return path

    def _meta(self, path, st):
        text, raw = text_path(self.shown(path))
        entry = {'path': text, 'type': file_type(st.st_mode), 'size': st.st_size,
                 'mode': '%04o' % stat.S_IMODE(st.st_mode), 'uid': st.st_uid, 'gid': st.st_gid,
                 'mtime': iso(st.st_mtime), 'ctime': iso(st.st_ctime), 'truncated': False,
                 'changed_while_read': False, 'error': None}
        entry['owner'], entry['group_name'] = owner_names(st.st_uid, st.st_gid)
        if raw:
            entry['path_b64'] = raw
        return entry

    def metadata(self, path, st):
        """Manifest-style metadata of a path, without the read flags: for listings of changed files."""
        entry = self._meta(path, st)
        for key in ('truncated', 'changed_while_read', 'error'):
            del entry[key]
        return entry

    def arcname(self, path):
        return '%s/files%s' % (self.prefix, os.fsdecode(self.shown(path)))

    def _room(self, length):
        left = self.max_bundle - self.stored
        return max(0, min(length, left))

    def _tarinfo(self, name, size, st=None):
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = int(st.st_mtime) if st is not None else int(time.time())
        info.mode = stat.S_IMODE(st.st_mode) if st is not None else 0o600
        if st is not None:
            info.uid, info.gid = st.st_uid, st.st_gid
            info.uname, info.gname = owner_names(st.st_uid, st.st_gid)
        return info

    # -- files ------------------------------------------------------------
    def error(self, path, message, group):
        text, raw = text_path(self.shown(path))
        entry = {'path': text, 'error': message}
        if raw:
            entry['path_b64'] = raw
        self._record(entry, group)

    def add_file(self, path, group, root='/', cap=None, observer=None):
        """Store one file found below root; anything but a regular file is recorded only."""
        try:
            st = os.lstat(path)
        except OSError as exc:
            return self.error(path, '%s: %s' % (errno.errorcode.get(exc.errno, exc.errno), exc.strerror), group)
        if (st.st_dev, st.st_ino) == self._self_id:
            return None  # the bundle being written, when dest lies inside a collected tree
        entry = self._meta(path, st)
        if stat.S_ISLNK(st.st_mode):
            try:
                entry['link_target'] = text_path(os.readlink(path))[0]
            except OSError:
                entry['link_target'] = None
            entry['note'] = 'symlink recorded, not followed'
            return self._record(entry, group)
        if not stat.S_ISREG(st.st_mode):
            entry['note'] = 'special file recorded, never read' if not stat.S_ISDIR(st.st_mode) else 'directory'
            return self._record(entry, group)
        cap = self.max_file if cap is None else min(cap, self.max_file)
        length = self._room(min(st.st_size, cap))
        entry['truncated'] = length < st.st_size
        entry['sparse'] = st.st_blocks * 512 < st.st_size
        if self.dry_run:
            entry['stored'] = length
            return self._record(entry, group)
        try:
            fd, noatime = open_nofollow(path, root)
        except OSError as exc:
            entry['error'] = '%s: %s' % (errno.errorcode.get(exc.errno, exc.errno), exc.strerror)
            if exc.errno == errno.ELOOP:
                entry['error'] = 'symlink in path not followed'
            return self._record(entry, group)
        try:
            before = os.fstat(fd)
            if (before.st_dev, before.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(before.st_mode):
                entry['error'] = 'file replaced between lstat and open; not read'
                return self._record(entry, group)
            entry['noatime'] = noatime
            if entry['truncated']:
                entry['stored_from_offset'] = st.st_size - length
            self._store(fd, path, entry, (st.st_size - length, length), entry['sparse'], before, observer)
        finally:
            os.close(fd)
        return self._record(entry, group)

    def _store(self, fd, path, entry, span, sparse, before, observer):
        start, length = span
        region = _Region(fd, start, length, sparse, observer)
        entry['arcname'] = self.arcname(path)
        self._tar.addfile(self._tarinfo(entry['arcname'], length, before), io.BufferedReader(region, CHUNK))
        self.stored += length
        entry['stored'] = length
        entry['sha256'] = region.hash.hexdigest()
        after = os.fstat(fd)
        if region.short:
            entry['changed_while_read'] = True
            entry['error'] = 'file shrank while read; missing bytes stored as zeros'
        elif (after.st_size, after.st_mtime_ns, after.st_ctime_ns) != (before.st_size, before.st_mtime_ns, before.st_ctime_ns):
            entry['changed_while_read'] = True

    def add_tree(self, top, group, match=None, root=None, max_depth=8, max_entries=20000):
        """Store every file below top (not crossing into symlinked directories); returns the count."""
        root = root or top
        count = 0
        stack = [(top, 0)]
        while stack and count < max_entries:
            current, depth = stack.pop()
            try:
                it = sorted(os.scandir(current), key=lambda e: e.name)
            except OSError as exc:
                self.error(current, 'cannot list: %s' % exc.strerror, group)
                continue
            for item in it:
                if item.is_dir(follow_symlinks=False):
                    if depth < max_depth:
                        stack.append((item.path, depth + 1))
                    continue
                if match is None or match(item.name):
                    self.add_file(item.path, group, root=root)
                    count += 1
        return count

    # -- generated content -------------------------------------------------
    def add_bytes(self, name, data, group, source=None):
        """Store generated bytes (JSON summaries, decoded records) under name."""
        length = self._room(len(data))
        entry = {'path': name, 'type': 'generated', 'size': len(data), 'stored': length,
                 'truncated': length < len(data), 'changed_while_read': False, 'error': None,
                 'mtime': iso(time.time()), 'sha256': hashlib.sha256(data[:length]).hexdigest()}
        if source:
            entry['source'] = self.shown(source)
        if not self.dry_run:
            entry['arcname'] = '%s/%s' % (self.prefix, name)
            self._tar.addfile(self._tarinfo(entry['arcname'], length), io.BytesIO(data[:length]))
            self.stored += length
        self._record(entry, group)

    def add_json(self, name, obj, group, source=None):
        self.add_bytes(name, (json.dumps(obj, indent=1, sort_keys=True, default=str) + '\n').encode('utf-8'), group, source)

    def add_spool(self, name, spool, length, group, source=None, truncated=False, error=None, observer=None,
                  kind='command-output'):
        """Store `length` bytes from a spool file (command output, decoded records)."""
        fd = spool.fileno() if not self.dry_run else -1
        self._spool_entry(name, fd, length, self._room(length), group, source, kind, truncated, error, observer)

    def add_fd(self, name, fd, group, source=None):
        """Store an already open file (a deleted executable through /proc/<pid>/exe)."""
        size = os.fstat(fd).st_size
        length = self._room(min(size, self.max_file))
        self._spool_entry(name, fd, size, length, group, source, 'copied-executable')

    def _spool_entry(self, name, fd, size, length, group, source, kind, truncated=False, error=None, observer=None):
        entry = {'path': name, 'type': kind, 'size': size, 'stored': length,
                 'truncated': truncated or length < size, 'changed_while_read': False,
                 'error': error, 'mtime': iso(time.time())}
        if source:
            entry['source'] = source
        if not self.dry_run:
            region = _Region(fd, 0, length, False, observer)
            entry['arcname'] = '%s/%s' % (self.prefix, name)
            self._tar.addfile(self._tarinfo(entry['arcname'], length), io.BufferedReader(region, CHUNK))
            self.stored += length
            entry['sha256'] = region.hash.hexdigest()
            if region.short:
                entry['changed_while_read'] = True
        self._record(entry, group)

    # -- finish -------------------------------------------------------------
    def close(self, log_bytes):
        """Write collection.log and manifest.jsonl, finish the stream; returns (sha256, size)."""
        self.add_bytes('collection.log', log_bytes, 'bundle')
        if self.dry_run:
            return None, 0
        size = self.manifest.tell()
        self.manifest.seek(0)
        self._tar.addfile(self._tarinfo('%s/manifest.jsonl' % self.prefix, size), self.manifest)
        self.manifest.close()
        self._tar.close()
        self._gz.close()
        self._out.close()
        return self._out.hash.hexdigest(), self._out.size

    def abort(self):
        """Close and remove a partial bundle."""
        for obj in (self._tar, self._gz, self._out):
            try:
                if obj is not None:
                    obj.close()
            except Exception:  # pylint: disable=broad-except
                pass
        if not self.dry_run:
            try:
                os.unlink(self.path)
            except OSError:
                pass
