# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live state read straight from /proc: processes, their executables, and sockets.

No external command is started: every process the collector starts would be
written to the process accounting and audit logs it is collecting.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import pwd
import socket
import struct

from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_records import iso

SUSPECT_DIRS = ('/tmp/', '/var/tmp/', '/dev/shm/')
TCP_STATES = {
    '01': 'ESTABLISHED', '02': 'SYN_SENT', '03': 'SYN_RECV', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2',
    '06': 'TIME_WAIT', '07': 'CLOSE', '08': 'CLOSE_WAIT', '09': 'LAST_ACK', '0A': 'LISTEN', '0B': 'CLOSING',
}


def _read(path, limit=1 << 20):
    with open(path, 'rb') as handle:
        return handle.read(limit)


def boot_time(proc='/proc'):
    for line in _read(proc + '/stat').splitlines():
        if line.startswith(b'btime '):
            return int(line.split()[1])
    return 0


def exe_flags(exe):
    """Why an executable path deserves attention: deleted, memfd, or in a world-writable directory."""
    flags = []
    if exe is None:
        return flags
    if exe.endswith(' (deleted)'):
        flags.append('deleted')
        exe = exe[:-len(' (deleted)')]
    if exe.startswith('/memfd:'):
        flags.append('memfd')
    if exe.startswith(SUSPECT_DIRS):
        flags.append('temp_dir')
    return flags


def parse_stat(raw):
    """Fields of /proc/<pid>/stat after the command name (which may hold spaces and parens)."""
    text = raw.decode('utf-8', 'replace')
    comm = text[text.index('(') + 1:text.rindex(')')]
    rest = text[text.rindex(')') + 2:].split()
    return comm, rest


def read_process(pid, proc='/proc', btime=0, hz=100, page_kb=4, users=None):
    """One process as a dict; fields that cannot be read are None."""
    base = '%s/%d' % (proc, pid)
    comm, rest = parse_stat(_read(base + '/stat'))
    info = {'pid': pid, 'comm': comm, 'state': rest[0], 'ppid': int(rest[1]),
            'utime_s': int(rest[11]) / hz, 'stime_s': int(rest[12]) / hz,
            'start': iso(btime + int(rest[19]) / hz), 'threads': int(rest[17]),
            'rss_kb': int(rest[21]) * page_kb}
    try:
        uid = int(os.stat(base).st_uid)
        info['uid'] = uid
        info['user'] = (users or {}).get(uid) or _user(uid)
    except OSError:
        info['uid'] = info['user'] = None
    try:
        info['cmdline'] = [a.decode('utf-8', 'backslashreplace') for a in _read(base + '/cmdline').split(b'\0') if a]
    except OSError:
        info['cmdline'] = None
    for key in ('cwd', 'exe', 'root'):
        try:
            info[key] = os.readlink(base + '/' + key)
        except OSError:
            info[key] = None
    info['flags'] = exe_flags(info['exe'])
    return info


def _user(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def hash_exe(pid, proc='/proc', limit=256 << 20):
    """SHA-256 of a process's executable through /proc/<pid>/exe, which works even when deleted."""
    digest = hashlib.sha256()
    try:
        with open('%s/%d/exe' % (proc, pid), 'rb') as handle:
            read = 0
            while read < limit:
                chunk = handle.read(1 << 20)
                if not chunk:
                    return digest.hexdigest()
                digest.update(chunk)
                read += len(chunk)
    except OSError:
        return None
    return None


def list_processes(proc='/proc'):
    """Every process visible in /proc, with its executable hashed; vanished ones are skipped."""
    btime = boot_time(proc)
    hz = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100
    page_kb = os.sysconf('SC_PAGE_SIZE') // 1024
    out = []
    hashes = {}
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            info = read_process(pid, proc, btime, hz, page_kb)
        except (OSError, ValueError, IndexError):
            continue
        info['exe_sha256'] = None
        if info['exe']:
            try:
                st = os.stat('%s/%d/exe' % (proc, pid))
                key = (st.st_dev, st.st_ino)
            except OSError:
                key = None
            # one read per executable inode: 300 sleepers need one hash of sleep
            if key not in hashes or key is None:
                hashes[key] = hash_exe(pid, proc)
            info['exe_sha256'] = hashes[key]
        out.append(info)
    out.sort(key=lambda p: p['pid'])
    return out


def socket_owners(proc='/proc'):
    """Map socket inode to the pids and commands holding it, from /proc/<pid>/fd."""
    owners = {}
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        fd_dir = '%s/%s/fd' % (proc, name)
        try:
            fds = os.listdir(fd_dir)
            comm = _read('%s/%s/comm' % (proc, name)).strip().decode('utf-8', 'replace')
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd_dir + '/' + fd)
            except OSError:
                continue
            if target.startswith('socket:['):
                owners.setdefault(int(target[8:-1]), []).append({'pid': int(name), 'comm': comm})
    return owners


def _hex_addr(text, family):
    addr, port = text.split(':')
    raw = bytes.fromhex(addr)
    if family == socket.AF_INET:
        ip = socket.inet_ntop(family, struct.pack('<I', struct.unpack('>I', raw)[0]))
    else:
        words = struct.unpack('>4I', raw)
        ip = socket.inet_ntop(family, struct.pack('<4I', *words))
    return ip, int(port, 16)


def parse_net(raw, proto, family, owners):
    """Rows of /proc/net/{tcp,tcp6,udp,udp6} as dicts with their owning processes."""
    out = []
    for line in raw.decode('ascii', 'replace').splitlines()[1:]:
        cols = line.split()
        if len(cols) < 10:
            continue
        lip, lport = _hex_addr(cols[1], family)
        rip, rport = _hex_addr(cols[2], family)
        state = TCP_STATES.get(cols[3], cols[3]) if proto.startswith('tcp') else ('UNCONN' if cols[3] == '07' else 'ESTAB')
        inode = int(cols[9])
        out.append({'proto': proto, 'local': lip, 'local_port': lport, 'remote': rip, 'remote_port': rport,
                    'state': state, 'uid': int(cols[7]), 'inode': inode, 'owners': owners.get(inode, [])})
    return out


def list_sockets(proc='/proc'):
    owners = socket_owners(proc)
    sockets = []
    for proto, family in (('tcp', socket.AF_INET), ('tcp6', socket.AF_INET6), ('udp', socket.AF_INET), ('udp6', socket.AF_INET6)):
        try:
            sockets.extend(parse_net(_read('%s/net/%s' % (proc, proto), 64 << 20), proto, family, owners))
        except OSError:
            continue
    listening = [s for s in sockets if s['state'] in ('LISTEN', 'UNCONN')]
    return sockets, listening
