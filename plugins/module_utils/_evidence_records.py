# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decoders for the binary records Linux keeps about logins, processes and sysstat.

Standard library only; runs on every Python the target may have (3.8+).
Layouts are those of glibc on 64-bit Linux (utmp, lastlog), the kernel's
struct acct_v3 (linux/acct.h) and sysstat's struct file_magic/file_header;
wtmpdb and lastlog2 (Debian 13 and later) are SQLite databases.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import socket
import struct

from urllib.parse import quote

from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_window import UTC, Window, iso  # pylint: disable=unused-import  # UTC re-exported

try:
    import sqlite3
except ImportError:  # some minimal Python builds leave it out
    sqlite3 = None


UTMP = struct.Struct('<h2xi32s4s32s256shhii i16s20x'.replace(' ', ''))
LASTLOG = struct.Struct('<i32s256s')
ACCT_V3 = struct.Struct('<BBHIIIIIIf8H16s')
AHZ = 100

UT_TYPES = {
    0: 'EMPTY', 1: 'RUN_LVL', 2: 'BOOT_TIME', 3: 'NEW_TIME', 4: 'OLD_TIME',
    5: 'INIT_PROCESS', 6: 'LOGIN_PROCESS', 7: 'USER_PROCESS', 8: 'DEAD_PROCESS', 9: 'ACCOUNTING',
}
ACCT_FLAGS = ((0x01, 'F'), (0x02, 'S'), (0x08, 'D'), (0x10, 'X'))

SA_MAGIC = 0xd596
SA_FILE_MAGIC = struct.Struct('<HHBBBBII3I48x')


def shadow_status(secret):
    """What a shadow password field says, without the hash: locked, empty (no password) or set."""
    if secret[:1] in ('!', '*'):
        return 'locked'  # '!hash' (passwd -l), '!!' (EL, never set), '*' and '!*' (no login by password)
    return 'empty' if secret == '' else 'set'


def cstr(raw):
    """A NUL-terminated C char array as text, never failing on bad bytes."""
    return raw.split(b'\0', 1)[0].decode('utf-8', 'backslashreplace')


def _addr(raw):
    words = struct.unpack('<4I', raw)
    if not any(words):
        return ''
    if not any(words[1:]):
        return socket.inet_ntop(socket.AF_INET, raw[:4])
    return socket.inet_ntop(socket.AF_INET6, raw)


def iter_utmp(fileobj):
    """Yield one dict per utmp/wtmp/btmp record; a short tail is reported, not parsed."""
    size = UTMP.size
    while True:
        raw = fileobj.read(size)
        if not raw:
            return
        if len(raw) < size:
            yield {'error': 'short record of %d bytes at end of file' % len(raw)}
            return
        (ut_type, pid, line, ut_id, user, host, e_term, e_exit, session,
         tv_sec, tv_usec, addr) = UTMP.unpack(raw)
        yield {
            'type': UT_TYPES.get(ut_type, str(ut_type)),
            'pid': pid,
            'line': cstr(line),
            'id': cstr(ut_id),
            'user': cstr(user),
            'host': cstr(host),
            'exit': [e_term, e_exit],
            'session': session,
            'time': iso(tv_sec + tv_usec / 1e6),
            'epoch': tv_sec + tv_usec / 1e6,
            'addr': _addr(addr),
        }


def iter_lastlog(fd, names=None, max_records=100000):
    """Yield the used records of a lastlog file given as an open descriptor.

    lastlog is indexed by uid and usually sparse (uid 65534 puts it near 19 MB,
    large directory uids near a terabyte), so holes are skipped with SEEK_DATA.
    """
    names = names or {}
    size = LASTLOG.size
    end = os.fstat(fd).st_size
    pos = 0
    found = 0
    while pos < end and found < max_records:
        try:
            data_at = os.lseek(fd, pos, getattr(os, 'SEEK_DATA', 3))
        except OSError:
            return  # ENXIO: only holes remain
        uid = data_at // size
        pos = uid * size
        os.lseek(fd, pos, os.SEEK_SET)
        chunk = os.read(fd, size * 256)
        if not chunk:
            return
        for off in range(0, len(chunk) - size + 1, size):
            ll_time, line, host = LASTLOG.unpack_from(chunk, off)
            cur = uid + off // size
            if ll_time:
                found += 1
                yield {'uid': cur, 'user': names.get(cur, ''), 'time': iso(ll_time), 'epoch': ll_time,
                       'line': cstr(line), 'host': cstr(host)}
        pos += (len(chunk) // size) * size
        if len(chunk) < size:
            return


WTMPDB_TYPES = {1: 'BOOT_TIME', 2: 'RUNLEVEL', 3: 'USER_PROCESS'}


def _sqlite_rows(path, query, args=()):
    """Rows of a query on a SQLite file opened read-only and immutable: no lock, journal or -shm is written."""
    if sqlite3 is None:
        raise OSError(errno.ENOSYS, 'this Python has no sqlite3 module; the raw database is stored')
    con = sqlite3.connect('file:%s?mode=ro&immutable=1' % quote(path), uri=True)
    try:
        yield from con.execute(query, args)
    except sqlite3.DatabaseError as exc:
        raise OSError(errno.EIO, 'unreadable SQLite database: %s' % exc)
    finally:
        con.close()


def iter_wtmpdb(path, since, until):
    """Yield the wtmpdb entries (logins, boots) whose span overlaps the window; times are in microseconds."""
    query = ('SELECT ID, Type, User, Login, Logout, TTY, RemoteHost, Service FROM wtmp '
             'WHERE Login <= ? AND (Logout IS NULL OR Logout >= ?) ORDER BY ID')
    for ident, kind, user, login, logout, tty, host, service in _sqlite_rows(path, query, (int(until * 1e6), int(since * 1e6))):
        yield {'id': ident, 'type': WTMPDB_TYPES.get(kind, str(kind)), 'user': user,
               'login': iso(login / 1e6) if login is not None else None,
               'logout': iso(logout / 1e6) if logout is not None else None,
               'tty': tty, 'host': host, 'service': service}


def iter_lastlog2(path):
    """Yield every user's last login from a lastlog2 database; times are in seconds."""
    for name, when, tty, host, service in _sqlite_rows(path, 'SELECT Name, Time, TTY, RemoteHost, Service FROM Lastlog2 ORDER BY Name'):
        yield {'user': name, 'time': iso(when) if when else None, 'epoch': when, 'tty': tty, 'host': host, 'service': service}


def comp_t(value):
    """Decode the kernel's comp_t: 13-bit mantissa, 3-bit base-8 exponent."""
    return (value & 0x1fff) << (((value >> 13) & 0x7) * 3)


def decode_acct(raw):
    """Decode one 64-byte struct acct_v3 record, or return None when it is not v3."""
    if len(raw) != ACCT_V3.size or (raw[1] & 0x0f) != 3:
        return None
    (flag, _version, tty, exitcode, uid, gid, pid, ppid, btime, etime,
     utime, stime, mem, io, rw, minflt, majflt, swaps, comm) = ACCT_V3.unpack(raw)
    del io, rw, swaps
    return {
        'comm': cstr(comm),
        'flags': ''.join(letter for bit, letter in ACCT_FLAGS if flag & bit),
        'tty': tty,
        'exitcode': exitcode,
        'exit_status': (exitcode >> 8) & 0xff,
        'signal': exitcode & 0x7f,
        'uid': uid,
        'gid': gid,
        'pid': pid,
        'ppid': ppid,
        'start': iso(btime),
        'btime': btime,
        'end_epoch': btime + etime / AHZ,
        'elapsed_s': round(etime / AHZ, 2),
        'user_s': comp_t(utime) / AHZ,
        'sys_s': comp_t(stime) / AHZ,
        'mem_kb': comp_t(mem),
        'minflt': comp_t(minflt),
        'majflt': comp_t(majflt),
    }


def iter_acct(fileobj):
    """Yield decoded records of a pacct file; records that are not v3 are counted as errors."""
    size = ACCT_V3.size
    while True:
        raw = fileobj.read(size * 1024)
        if not raw:
            return
        for off in range(0, len(raw) - size + 1, size):
            rec = decode_acct(raw[off:off + size])
            yield rec if rec is not None else {'error': 'not an acct v3 record'}
        if len(raw) % size:
            yield {'error': 'short record at end of file'}
            return


class AcctSummary:
    """Streaming aggregate of accounting records in [since, until]: memory grows with distinct commands only."""

    def __init__(self, since, until, top=50):
        self.since = since
        self.until = until
        self.window = Window(since, until)
        self.top = top
        self.groups = {}
        self.heaviest = []
        self.total = self.errors = 0

    def add(self, rec):
        if 'error' in rec:
            self.errors += 1
            return
        if not self.window.overlaps(rec['btime'], rec['end_epoch']):
            return
        self.total += 1
        cpu = rec['user_s'] + rec['sys_s']
        key = (rec['comm'], rec['uid'])
        grp = self.groups.get(key)
        if grp is None:
            grp = self.groups[key] = {'comm': rec['comm'], 'uid': rec['uid'], 'count': 0, 'cpu_s': 0.0, 'elapsed_s': 0.0}
        grp['count'] += 1
        grp['cpu_s'] += cpu
        grp['elapsed_s'] += rec['elapsed_s']
        self.heaviest.append((cpu, rec))
        if len(self.heaviest) > self.top * 4:
            self.heaviest.sort(key=lambda item: -item[0])
            del self.heaviest[self.top:]

    def result(self):
        self.heaviest.sort(key=lambda item: -item[0])
        by_cpu = sorted(self.groups.values(), key=lambda g: (-g['cpu_s'], -g['count']))[:self.top * 4]
        for grp in by_cpu:
            grp['cpu_s'] = round(grp['cpu_s'], 2)
            grp['elapsed_s'] = round(grp['elapsed_s'], 2)
        return {'records_in_window': self.total, 'undecodable_records': self.errors, 'by_command': by_cpu,
                'heaviest': [rec for _cpu, rec in self.heaviest[:self.top]]}


def summarize_acct(records, since, until, top=50):
    """Aggregate process accounting records that ran in [since, until] by command and uid."""
    summary = AcctSummary(since, until, top)
    for rec in records:
        summary.add(rec)
    return summary.result()


def parse_sa_header(raw):
    """Decode the header of a sysstat sa data file (the part sadf -H prints)."""
    if len(raw) < SA_FILE_MAGIC.size:
        return {'error': 'file shorter than the sysstat magic header'}
    magic, fmt, ver, patch, sub, extra, hdr_size, upgraded, t1, t2, t3 = SA_FILE_MAGIC.unpack_from(raw)
    if magic != SA_MAGIC:
        if magic == 0x96d5:
            return {'error': 'sa file written with the other byte order'}
        return {'error': 'not a sysstat data file (magic 0x%04x)' % magic}
    out = {'format_magic': '0x%04x' % fmt, 'sysstat_version': '%d.%d.%d' % (ver, patch, sub),
           'header_size': hdr_size, 'upgraded': bool(upgraded), 'composition': [t1, t2, t3]}
    if extra:
        out['sysstat_version'] += '-%d' % extra
    base = SA_FILE_MAGIC.size
    hdr = raw[base:base + hdr_size]
    if fmt != 0x2175 or len(hdr) < 64:
        out['error'] = 'file header format not decoded; use the raw file with a matching sadf'
        return out
    ust_time, hz, cpu_nr, act_nr, year = struct.unpack_from('<QQIII', hdr)
    day, month, sizeof_long = struct.unpack_from('<BBB', hdr, 64)
    strings = [s.decode('utf-8', 'replace') for s in hdr[67:].split(b'\0') if s]
    out.update({
        'file_time': iso(ust_time), 'file_epoch': ust_time, 'hz': hz,
        'cpu_count': max(cpu_nr - 1, 1), 'activities': act_nr,
        'file_date': '%04d-%02d-%02d' % (year + 1900, month + 1, day),
        'sizeof_long': sizeof_long,
    })
    for key, val in zip(('sysname', 'nodename', 'release', 'machine', 'timezone'), strings):
        out[key] = val
    return out
