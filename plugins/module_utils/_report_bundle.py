# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read an evidence bundle for the report: one streaming pass that verifies and parses.

Every file member is hashed as it streams past (the manifest comes last, so the hashes
are compared at the end); only members named in _report_members.MEMBERS are parsed,
each by a small reader that keeps bounded aggregates, never whole logs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import collections
import hashlib
import json
import os
import queue
import re
import tarfile
import threading
import zlib

from ansible_collections.quietnode.baseline.plugins.module_utils._report_members import (
    FORMAT_DEFAULT, FORMATS_KNOWN, MEMBERS, member_key,
)
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_files import manifest_problems
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_records import ACCT_V3, decode_acct

CHUNK = 1 << 20
MAX_EVENTS = 2000      # per event kind, kept for the timeline and the evidence appendix
MAX_ACCT = 100000      # ended processes kept for the CPU-by-range table
MAX_CONNECTIONS = 100000  # logged outbound connections kept for attribution (the rate limit bounds them)
MONTHS = dict((m, i + 1) for i, m in enumerate('Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split()))


class BundleError(Exception):
    """A bundle the report must not be written from; the message names the file and the fix."""


def minute(epoch):
    return int(epoch // 60 * 60)


class Ref(dict):
    """Evidence reference: bundle member plus line, record or key, with a short excerpt."""

    def __init__(self, member, excerpt='', **where):
        super(Ref, self).__init__(member=member, excerpt=excerpt[:300], **where)


# sshd lines, picked out of a whole block by one C-level scan: stamp to the minute, zone, program, pid, message kind.
_STAMP = rb'(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d):\d\d(?:\.\d+)?(?P<tz>Z|[+-]\d\d:?\d\d)?'
SSHD_FAIL = re.compile(
    rb'^' + _STAMP + rb' \S+ (?:sshd|sshd-session)\[(?P<pid>\d+)\]: (?:'
    rb'Failed \S+ for (?:invalid user )?(?P<fu>.*?) from (?P<fip>[0-9A-Fa-f:.]+) port'
    rb'|Invalid user (?P<iu>.*?) from (?P<iip>[0-9A-Fa-f:.]+) port)', re.M)
SLOW = re.compile(rb'Accepted |COMMAND=|CMD \(')
SSHD_MSG = re.compile(
    r'^(?:Failed (?P<method>\S+) for (?:invalid user )?(?P<fu>.*?) from (?P<fip>[0-9A-Fa-f:.]+) port'
    r'|Invalid user (?P<iu>.*?) from (?P<iip>[0-9A-Fa-f:.]+) port'
    r'|Accepted (?P<amethod>\S+) for (?P<au>\S+) from (?P<aip>[0-9A-Fa-f:.]+) port)')
SUDO_MSG = re.compile(r'^\s*(?P<user>\S+) : .*?USER=(?P<target>\S+) ; COMMAND=(?P<command>.*)$')
CRON_MSG = re.compile(r'^\((?P<user>[^)]+)\) CMD \((?P<command>.*)\)\s*$')
SYSLOG_LINE = re.compile(r'^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)'
                         r' \S+ (?P<prog>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$')
F2B_LINE = re.compile(r'^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ fail2ban\.actions\s.*?\[(?P<jail>[^\]]+)\] (?P<what>Ban|Unban|Restore Ban) (?P<ip>\S+)')
DPKG_LINE = re.compile(r'^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?P<what>install|upgrade|remove|purge) (?P<pkg>\S+)')
# ausearch -i prints the year with two digits (11/30/26) on Debian 12's audit 3.0; older tools four.
AUDIT_EXE = re.compile(r'msg=audit\((?P<ts>\d\d/\d\d/(?:\d\d)?\d\d \d\d:\d\d:\d\d)[.\d]*:\d+\).*? exe=(?P<exe>\S+)')
AUDIT_FIELD = re.compile(r' (pid|ppid|auid|ses|comm)=(\S+)')
# sshd's PAM and login records name the session and the address it came from (ses -> addr).
AUDIT_LOGIN = re.compile(r'type=(?:USER_LOGIN|USER_START|USER_AUTH|CRED_ACQ) .*? auid=(?P<auid>\S+) ses=(?P<ses>\d+) '
                         r'.*exe=\S*/sshd(?:-session)? .*?addr=(?P<addr>\S+) .*res=success')
# Programs that open a session of their own (pam_loginuid) without a remote address; sudo and su keep the login's.
AUDIT_SESSION_OPEN = re.compile(r'type=USER_START .*? auid=(?P<auid>\S+) ses=(?P<ses>\d+) .*op=PAM:session_open .*'
                                r'exe=(?P<exe>\S*/(?:cron|crond|atd|systemd|login)) .*res=success')
JOURNAL_WORDS = re.compile(rb'"(?:sshd|sshd-session|sudo|CRON|cron|crond|systemd)"')


def parse_stamp(text, tz, year, utc_offset=0):
    """Epoch of a syslog stamp cut to the minute (RFC 3339 or classic)."""
    if text[:1].isdigit():
        epoch = calendar.timegm((int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]), 0))
        if tz and tz not in ('Z', b'Z'):
            tz = tz.decode() if isinstance(tz, bytes) else tz
            off = int(tz[1:3]) * 3600 + int(tz[-2:]) * 60
            epoch += -off if tz[0] == '+' else off
        return epoch
    parts = text.split()
    hh, mm = parts[2].split(':')[:2]
    return calendar.timegm((year, MONTHS.get(parts[0], 1), int(parts[1]), int(hh), int(mm), 0)) - utc_offset


def _f(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


class Evidence:
    """What the report knows about one host, gathered from one bundle."""

    def __init__(self, path):
        self.path = path
        self.host = None
        self.top = None
        self.format = FORMAT_DEFAULT
        self.present = set()
        self.members = collections.defaultdict(list)
        self.since = self.until = self.started = None
        self.window_given = True
        self.sha256 = self.stamp = None
        self.year = None
        self.utc_offset = 0
        self.readiness = []
        self.auth_summary = {}
        self.acct_summary = {}
        self.samples = {}
        self.events = collections.defaultdict(list)
        self.event_counts = collections.Counter()
        self.ssh = {'journal': self._ssh_state(), 'auth_log': self._ssh_state()}
        self.acct = []
        self.acct_dropped = 0
        self.acct_total = 0
        self.processes = []
        self.flagged = []
        self.sockets = []
        self.passwd = []
        self.groups = {}
        self.sudoers = {}
        self.crontabs = {}
        self.timers = []
        self.changed = []
        self.keys = {}
        self.ld_preload = None
        self.packages = []
        self.bans = []
        self.banned_now = None
        self.audit_exec = []
        # audit session id -> (login uid, address) of sshd logins, from audit/ausearch.txt
        self.audit_sessions = {}
        self.logins = []
        self.baseline = None
        # process history and persistence baseline (_report_process)
        self.baseline_diff = None
        self.watch_events = []
        self.atop = []
        # pid -> (user, host, pid) from the title Mitogen gives the Python it starts: whose Ansible ran it.
        self.mitogen_titles = {}
        self.atop_dropped = 0
        self.atop_summary = None
        self.own_session = None
        self.log_lines = []
        self.connections = []
        self.connections_dropped = 0
        self.unit_ip = []
        self.denied = None
        self.network_summary = None

    @staticmethod
    def _ssh_state():
        return {'by_ip': {}, 'per_minute': collections.Counter(), 'lines': 0, 'conn': {}, 'refs': []}

    def add_event(self, kind, epoch, text, ref, src='', **extra):
        self.event_counts[(src, kind)] += 1
        if len(self.events[(src, kind)]) < MAX_EVENTS:
            event = dict(t=epoch, text=text[:300], ref=ref)
            event.update(extra)
            self.events[(src, kind)].append(event)

    def in_window(self, epoch):
        return epoch is not None and self.since - 60 <= epoch <= self.until + 60


# -- member readers --------------------------------------------------------------
def _lines(handle, observe):
    """Yield (number, bytes line) of a member stream, feeding every chunk to observe (the hash)."""
    for first, block in _blocks(handle, observe):
        for offset, line in enumerate(block[:-1].split(b'\n')):
            yield first + offset, line


def _blocks(handle, observe):
    """Yield (first line number, block of whole lines) of a member stream."""
    rest = b''
    number = 1
    for chunk in iter(lambda: handle.read(CHUNK), b''):
        observe(chunk)
        data = rest + chunk
        cut = data.rfind(b'\n')
        if cut < 0:
            rest = data
            continue
        yield number, data[:cut + 1]
        number += data.count(b'\n', 0, cut + 1)
        rest = data[cut + 1:]
    if rest:
        yield number, rest + b'\n'


def _read_all(handle, observe, limit=256 << 20):
    parts = []
    size = 0
    for chunk in iter(lambda: handle.read(CHUNK), b''):
        observe(chunk)
        size += len(chunk)
        if size <= limit:
            parts.append(chunk)
    return b''.join(parts)


def _ssh_entry(state, ip, epoch):
    entry = state['by_ip'].get(ip)
    if entry is None:
        entry = state['by_ip'][ip] = {'connections': 0, 'guesses': 0, 'lines': 0, 'users': collections.Counter(),
                                      'first': epoch, 'last': epoch, 'refs': []}
    return entry


def _ssh_fail(ev, state, epoch, pid, user, ip, member, line_no, text, guess=True):
    """One failure line: a password guess ('Failed ...') or an unknown user name ('Invalid user ...')."""
    state['lines'] += 1
    state['per_minute'][minute(epoch)] += 1
    entry = _ssh_entry(state, ip, epoch)
    entry['lines'] += 1
    entry['guesses'] += 1 if guess else 0
    entry['first'] = min(entry['first'], epoch)
    entry['last'] = max(entry['last'], epoch)
    if user:
        entry['users'][user] += 1
    conn = state['conn']
    if conn.get(pid) != ip:  # a new sshd process for this address is a new connection
        conn[pid] = ip
        entry['connections'] += 1
        if len(conn) > 200000:
            conn.clear()
    if len(entry['refs']) < 5 and line_no:
        entry['refs'].append(Ref(member, text, line=line_no))


# Blocks of a flood wholly inside the window: one C-level scan per minute of the block (the literal
# prefix lets the regex engine jump between sshd lines), tallied into a Counter in C.
_LINE_STAMP = re.compile(rb'^' + _STAMP)


def _line_epoch(ev, line):
    m = _LINE_STAMP.match(line)
    return parse_stamp(m.group('ts').decode(), m.group('tz'), ev.year or 1970, ev.utc_offset) if m else None


_STAMP_AT = re.compile(_STAMP)
_NEXT = {}


def minute_segments(ev, block):
    """Split a block of time-ordered lines into (minute, start, end): each end is found by one C-level
    search for the next line that does not start with the same minute's stamp."""
    segments = []
    pos = 0
    size = len(block)
    prev = None
    while pos < size:
        m = _STAMP_AT.match(block, pos)
        if m is None:  # a line without a stamp belongs to the minute before it
            end = block.find(b'\n', pos)
            end = size if end < 0 else end + 1
            if prev is not None:
                segments.append((prev, pos, end))
            pos = end
            continue
        prefix = m.group('ts')
        rx = _NEXT.get(prefix)
        if rx is None:
            if len(_NEXT) > 4096:
                _NEXT.clear()
            rx = _NEXT[prefix] = re.compile(b'\n(?!' + re.escape(prefix) + b')')
        prev = parse_stamp(prefix.decode(), m.group('tz'), ev.year or 1970, ev.utc_offset)
        nxt = rx.search(block, pos)
        end = size if nxt is None else nxt.start() + 1
        segments.append((prev, pos, end))
        pos = end
    return segments


EXACT_LINES = 50000  # failure lines read one by one (connections, users); past that a flood is only tallied
FAST_IP = re.compile(rb' sshd(?:-session)?\[\d+\]: (?:Failed \S+ for |Invalid user ).*? from ([0-9A-Fa-f:.]+) port')


def _count_block(ev, state, block, first, name):
    """Tally a block of a flood without a Python step per line: failure lines per minute and per address."""
    tally = state.setdefault('tally', collections.Counter())
    span = state.setdefault('tally_span', {})
    for minute_at, start, end in minute_segments(ev, block):
        found = FAST_IP.findall(block, start, end)
        if not found:
            continue
        state['per_minute'][minute_at] += len(found)
        state['lines'] += len(found)
        tally.update(found)
        span.update(dict.fromkeys(found, minute_at))


def _fold_tally(state):
    """Add the tallied lines to each address, estimating its connections and guesses from the exactly read ones."""
    tally = state.pop('tally', None)
    span = state.pop('tally_span', {})
    if not tally:
        return
    exact = [e for e in state['by_ip'].values() if e['lines']]
    ratio_c = sum(e['connections'] for e in exact) / float(sum(e['lines'] for e in exact) or 1) if exact else 1.0
    ratio_g = sum(e['guesses'] for e in exact) / float(sum(e['lines'] for e in exact) or 1) if exact else 1.0
    for ip, n in tally.items():
        entry = _ssh_entry(state, ip.decode(), span[ip])
        if entry['lines']:
            c, g = entry['connections'] / float(entry['lines']), entry['guesses'] / float(entry['lines'])
        else:
            c, g = ratio_c, ratio_g
        entry['lines'] += n
        entry['connections'] += max(1, int(round(n * c)))
        entry['guesses'] += int(round(n * g))
        entry['last'] = max(entry['last'], span[ip] + 59)
        entry['estimated'] = True
    state['estimated'] = True


def read_auth_log(ev, name, handle, observe):
    state = ev.ssh['auth_log']
    for first, block in _blocks(handle, observe):
        head = _line_epoch(ev, block[:200])
        tail = _line_epoch(ev, block[block.rfind(b'\n', 0, len(block) - 1) + 1:][:200])
        if head is not None and tail is not None and (tail < ev.since - 60 or head > ev.until + 60):
            continue
        if state['lines'] >= EXACT_LINES and head is not None and tail is not None and ev.since - 60 <= head <= tail <= ev.until + 60:
            _count_block(ev, state, block, first, name)
        else:
            line_no, last = first, 0
            stamps = {}
            for m in SSHD_FAIL.finditer(block):
                key = (m.group('ts'), m.group('tz'))
                epoch = stamps.get(key)
                if epoch is None:
                    epoch = stamps[key] = parse_stamp(key[0].decode(), key[1], ev.year or 1970, ev.utc_offset)
                if not ev.in_window(epoch):
                    continue
                guess = bool(m.group('fip'))
                user, ip = (m.group('fu'), m.group('fip')) if guess else (m.group('iu'), m.group('iip'))
                start = m.start()
                line_no += block.count(b'\n', last, start)  # running count: each byte is counted once
                last = start
                text = block[start:block.find(b'\n', start)].decode('utf-8', 'replace')
                _ssh_fail(ev, state, epoch, int(m.group('pid')), user.decode('utf-8', 'replace'), ip.decode(), name,
                          line_no, text, guess)
        if SLOW.search(block):
            for m in SLOW.finditer(block):
                start = block.rfind(b'\n', 0, m.start()) + 1
                end = block.find(b'\n', m.end())
                line = block[start:end].decode('utf-8', 'replace')
                _syslog_event(ev, line, name, first + block.count(b'\n', 0, start), 'auth_log')
    _fold_tally(state)


def _syslog_event(ev, line, member, line_no, source):
    m = SYSLOG_LINE.match(line)
    if not m:
        return
    ts = m.group('ts')
    tz = re.search(r'(Z|[+-]\d\d:?\d\d)$', ts) if ts[:1].isdigit() else None
    epoch = parse_stamp(ts, tz.group(1) if tz else None, ev.year or 1970, ev.utc_offset)
    if not ev.in_window(epoch):
        return
    _message(ev, epoch, m.group('prog'), m.group('pid'), m.group('msg'), Ref(member, line, line=line_no), source)


def _message(ev, epoch, prog, pid, msg, ref, source):
    """Turn one log message into events; shared by the journal and the syslog files."""
    if prog in ('sshd', 'sshd-session'):
        m = SSHD_MSG.match(msg)
        if not m:
            return
        if m.group('aip'):
            ev.add_event('accepted', epoch, msg, ref, source, user=m.group('au'), ip=m.group('aip'), method=m.group('amethod'))
        elif source == 'journal':
            guess = bool(m.group('fip'))
            user, ip = (m.group('fu'), m.group('fip')) if guess else (m.group('iu'), m.group('iip'))
            _ssh_fail(ev, ev.ssh['journal'], epoch, pid, user, ip, ref['member'], ref.get('line'), ref['excerpt'], guess)
    elif prog == 'sudo':
        m = SUDO_MSG.match(msg)
        if m:
            ev.add_event('sudo', epoch, msg, ref, source, user=m.group('user'), target=m.group('target'), command=m.group('command'))
    elif prog.lower() in ('cron', 'crond'):
        m = CRON_MSG.match(msg)
        if m:
            ev.add_event('cron', epoch, msg, ref, source, user=m.group('user'), command=m.group('command'))


def read_journal(ev, name, handle, observe):
    for line_no, line in _lines(handle, observe):
        if not JOURNAL_WORDS.search(line):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        msg = entry.get('MESSAGE')
        if not isinstance(msg, str):
            continue
        try:
            epoch = int(entry.get('__REALTIME_TIMESTAMP', '0')) / 1e6
        except ValueError:
            continue
        if not ev.in_window(epoch):
            continue
        prog = entry.get('SYSLOG_IDENTIFIER') or ''
        ref = Ref(name, msg, line=line_no)
        if prog == 'systemd' and entry.get('UNIT') and msg.startswith('Starting '):
            ev.add_event('unit', epoch, msg, ref, 'journal', unit=entry['UNIT'])
            continue
        try:
            pid = int(entry.get('_PID') or 0)
        except ValueError:
            pid = 0
        _message(ev, epoch, prog, pid, msg, ref, 'journal')


def read_syslog(ev, name, handle, observe):
    for first, block in _blocks(handle, observe):
        if b'CRON' not in block and b'crond' not in block:
            continue
        for m in re.finditer(rb'CMD \(', block):
            start = block.rfind(b'\n', 0, m.start()) + 1
            end = block.find(b'\n', m.end())
            _syslog_event(ev, block[start:end].decode('utf-8', 'replace'), name, first + block.count(b'\n', 0, start), 'syslog')


def _sample(stat):
    ts = stat.get('timestamp', {})
    try:
        epoch = calendar.timegm((int(ts['date'][0:4]), int(ts['date'][5:7]), int(ts['date'][8:10]),
                                 int(ts['time'][0:2]), int(ts['time'][3:5]), int(ts['time'][6:8])))
    except (KeyError, ValueError):
        return None
    if not ts.get('utc', 1):
        return None
    interval = int(_f(ts.get('interval')) or 60)
    # sadc stamps a sample when it is taken: its figures cover the interval that ends there.
    out = {'t': epoch - interval, 'interval': interval}
    for cpu in stat.get('cpu-load', stat.get('cpu-load-all', [])):
        if cpu.get('cpu') == 'all':
            # sadf -u names them user/system, sadf -A (-u ALL) usr/sys
            names = (('user', 'usr'), ('nice', 'nice'), ('system', 'sys'), ('iowait', 'iowait'), ('steal', 'steal'))
            out['cpu'] = dict((k, _f(cpu.get(k, cpu.get(alt)))) for k, alt in names)
    queue = stat.get('queue') or {}
    out['load1'] = _f(queue.get('ldavg-1'))
    out['runq'] = _f(queue.get('runq-sz'))
    mem = stat.get('memory') or {}
    out['mem'] = _f(mem.get('memused-percent'))
    net = (stat.get('network') or {})
    out['net'] = dict((n.get('iface'), [_f(n.get('rxkB')), _f(n.get('txkB')), _f(n.get('rxpck')), _f(n.get('txpck'))])
                      for n in net.get('net-dev', []) if n.get('iface') != 'lo')
    tcp = net.get('net-tcp') or {}
    out['tcp'] = [_f(tcp.get('active')), _f(tcp.get('passive'))]
    io = stat.get('io') or {}
    out['disk'] = [_f((io.get('io-reads') or {}).get('bread')) / 2, _f((io.get('io-writes') or {}).get('bwrtn')) / 2]
    return out


def read_sysstat(ev, name, handle, observe):
    try:
        doc = json.loads(_read_all(handle, observe).decode('utf-8', 'replace'))
    except ValueError:
        ev.members['sysstat_unreadable'].append(name)
        return
    for host in doc.get('sysstat', {}).get('hosts', []):
        for index, stat in enumerate(host.get('statistics', [])):
            sample = _sample(stat)
            if sample and ev.in_window(sample['t']):
                sample['ref'] = Ref(name, '', record=index)
                ev.samples.setdefault(sample['t'], sample)


def read_pacct(ev, name, handle, observe):
    size = ACCT_V3.size
    rest = b''
    index = 0
    for chunk in iter(lambda: handle.read(CHUNK), b''):
        observe(chunk)
        data = rest + chunk
        usable = len(data) - len(data) % size
        for off in range(0, usable, size):
            index += 1
            rec = decode_acct(data[off:off + size])
            if rec is None or not ev.in_window(rec['end_epoch']):
                continue
            ev.acct_total += 1
            cpu = rec['user_s'] + rec['sys_s']
            if len(ev.acct) < MAX_ACCT:
                ev.acct.append((rec['btime'], rec['end_epoch'], round(cpu, 2), rec['uid'], rec['comm'], rec['elapsed_s'],
                                rec['signal'], name, index))
            else:
                ev.acct_dropped += 1
        rest = data[usable:]


def read_json(attr):
    def reader(ev, name, handle, observe):
        try:
            value = json.loads(_read_all(handle, observe).decode('utf-8', 'replace'))
        except ValueError:
            value = None
        setattr(ev, attr, value)
    return reader


def read_text(store):
    def reader(ev, name, handle, observe):
        text = _read_all(handle, observe, 4 << 20).decode('utf-8', 'replace')
        store(ev, name, text)
    return reader


def read_jsonl(store):
    def reader(ev, name, handle, observe):
        for line_no, line in _lines(handle, observe):
            try:
                store(ev, name, line_no, json.loads(line))
            except ValueError:
                continue
    return reader


def _passwd(ev, name, text):
    for line_no, line in enumerate(text.splitlines(), 1):
        parts = line.split(':')
        if len(parts) >= 7 and parts[2].isdigit():
            ev.passwd.append({'user': parts[0], 'uid': int(parts[2]), 'gid': parts[3], 'home': parts[5], 'shell': parts[6],
                              'ref': Ref(name, line, line=line_no)})


def _group(ev, name, text):
    for line_no, line in enumerate(text.splitlines(), 1):
        parts = line.split(':')
        if len(parts) >= 4:
            ev.groups[parts[0]] = {'members': [m for m in parts[3].split(',') if m], 'ref': Ref(name, line, line=line_no)}


def _changed(ev, name, line_no, row):
    path = row.get('path', '')
    from ansible_collections.quietnode.baseline.plugins.module_utils._report_rules import persistence_kind, TEMP_DIRS
    if persistence_kind(path) or path.startswith(TEMP_DIRS):
        row['ref'] = Ref(name, path, line=line_no)
        if len(ev.changed) < 5000:
            ev.changed.append(row)


def _login(ev, name, line_no, row):
    if len(ev.logins) < 2000 and row.get('type') == 'USER_PROCESS':
        row['ref'] = Ref(name, json.dumps(row, sort_keys=True), line=line_no)
        ev.logins.append(row)


def _connection(ev, name, line_no, row):
    epoch = iso_epoch(row['time']) if isinstance(row.get('time'), str) else None
    if epoch is None:
        return
    if len(ev.connections) >= MAX_CONNECTIONS:
        ev.connections_dropped += 1
        return
    row['t'] = epoch
    row['ref'] = Ref(name, '%s uid=%s %s %s:%s' % (row['time'], row.get('uid'), row.get('proto'), row.get('dst'), row.get('dport')),
                     line=line_no)
    ev.connections.append(row)


def _unit_ip(ev, name, line_no, row):
    if not isinstance(row.get('time'), str) or not isinstance(row.get('unit'), str):
        return
    row['t'] = iso_epoch(row['time'])
    row['t_start'] = iso_epoch(row['started']) if isinstance(row.get('started'), str) else None
    if len(ev.unit_ip) < MAX_EVENTS:
        row['ref'] = Ref(name, '%s %s egress=%s' % (row['time'], row['unit'], row.get('egress_bytes')), line=line_no)
        ev.unit_ip.append(row)


def _log_line(ev, name, text):
    ev.log_lines = text.splitlines()


def _local_stamp(ev, text):
    """A 'YYYY-MM-DD HH:MM:SS' stamp in the host's zone, as epoch."""
    return calendar.timegm((int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]),
                            int(text[17:19]))) - ev.utc_offset


def _fail2ban(ev, name, text):
    for line_no, line in enumerate(text.splitlines(), 1):
        m = F2B_LINE.match(line)
        if m:
            epoch = _local_stamp(ev, m.group('ts'))
            if ev.in_window(epoch):
                ev.bans.append({'t': epoch, 'what': m.group('what'), 'ip': m.group('ip'), 'jail': m.group('jail'),
                                'ref': Ref(name, line, line=line_no)})
                ev.add_event('ban', epoch, line, Ref(name, line, line=line_no), 'file', ip=m.group('ip'), what=m.group('what'))


def _dpkg(ev, name, text):
    for line_no, line in enumerate(text.splitlines(), 1):
        m = DPKG_LINE.match(line)
        if m:
            epoch = _local_stamp(ev, m.group('ts'))
            if ev.in_window(epoch):
                ev.add_event('package', epoch, line, Ref(name, line, line=line_no), 'file', pkg=m.group('pkg'), what=m.group('what'))


def _audit(ev, name, text):
    for line_no, line in enumerate(text.splitlines(), 1):
        if ' exe=' not in line:
            continue
        login = AUDIT_LOGIN.search(line)
        if login and login.group('addr') != '?':
            ev.audit_sessions[login.group('ses')] = (login.group('auid'), login.group('addr'), Ref(name, line, line=line_no), 'sshd')
        opened = AUDIT_SESSION_OPEN.search(line)
        if opened and not (ev.audit_sessions.get(opened.group('ses')) or (0, None))[1]:
            # a session no remote login opened: cron's, a user manager's; it has no address
            ev.audit_sessions[opened.group('ses')] = (opened.group('auid'), None, Ref(name, line, line=line_no),
                                                      opened.group('exe').rsplit('/', 1)[-1])
        m = AUDIT_EXE.search(line)
        if not m:
            continue
        day, clock = m.group('ts').split(' ')
        month, mday, year = day.split('/')
        year = int(year) + (2000 if len(year) == 2 else 0)
        epoch = calendar.timegm((year, int(month), int(mday), int(clock[0:2]), int(clock[3:5]), int(clock[6:8])))
        if not ev.in_window(epoch):
            continue  # sshd's session starts from before the window: read above for whose session it is
        exe = m.group('exe').strip('"')
        # the user the program ran as (uid=), else the login uid: a service's auid is "unset"
        uid = re.search(r' uid=(\S+)', line) or re.search(r' auid=(\S+)', line)
        # pid, parent, login uid and session: what the report says of this run (_report_rules.r_exec_temp)
        fields = dict((k, v.strip('"')) for k, v in AUDIT_FIELD.findall(line))
        ev.audit_exec.append({'t': epoch, 'exe': exe, 'user': uid.group(1) if uid else '?', 'ref': Ref(name, line, line=line_no),
                              'pid': fields.get('pid'), 'ppid': fields.get('ppid'), 'auid': fields.get('auid'),
                              'ses': fields.get('ses'), 'comm': fields.get('comm')})


def _process_store(kind, ev, name, line_no, row):
    # imported here: _report_process reads Ref and the rules' helpers from modules that import this one
    from ansible_collections.quietnode.baseline.plugins.module_utils._report_process import STORES
    STORES[kind](ev, name, line_no, row)


READERS = {
    'collection_log': read_text(_log_line),
    'bundle_info': read_json('bundle_info'),
    'readiness': read_json('readiness'),
    'auth_summary': read_json('auth_summary'),
    'acct_summary': read_json('acct_summary'),
    'pacct': read_pacct,
    'sysstat': read_sysstat,
    'journal': read_journal,
    'auth_log': read_auth_log,
    'syslog': read_syslog,
    'audit': read_text(_audit),
    'logins': read_jsonl(_login),
    'processes': read_json('processes'),
    'flagged': read_json('flagged'),
    'sockets': read_json('sockets'),
    'passwd': read_text(_passwd),
    'group': read_text(_group),
    'sudoers': read_text(lambda ev, name, text: ev.sudoers.__setitem__(name, text)),
    'shadow': read_json('shadow'),
    'crontabs': read_text(lambda ev, name, text: ev.crontabs.__setitem__(name, text)),
    'timers': read_json('timers'),
    'changed_files': read_jsonl(_changed),
    'authorized_keys': read_text(lambda ev, name, text: ev.keys.__setitem__(name, text)),
    'ld_preload': read_text(lambda ev, name, text: setattr(ev, 'ld_preload', (name, text))),
    'dpkg_log': read_text(_dpkg),
    'dnf_log': read_text(lambda ev, name, text: None),
    'fail2ban_log': read_text(_fail2ban),
    'fail2ban_banned': read_text(lambda ev, name, text: setattr(ev, 'banned_now', text)),
    # -- process history and persistence baseline (_report_process) --
    'baseline': read_json('baseline'),
    'baseline_diff': read_json('baseline_diff'),
    'watch_events': read_jsonl(lambda ev, name, line_no, row: _process_store('watch', ev, name, line_no, row)),
    'atop_processes': read_jsonl(lambda ev, name, line_no, row: _process_store('atop', ev, name, line_no, row)),
    'atop_summary': read_json('atop_summary'),
    'own_session': read_json('own_session'),
    'connections': read_jsonl(_connection),
    'unit_ip': read_jsonl(_unit_ip),
    'denied': read_json('denied'),
    'network_summary': read_json('network_summary'),
}
if set(READERS) != set(MEMBERS) - {'manifest'}:
    raise ImportError('_report_members.MEMBERS and READERS name different members')


def _stamp_epoch(stamp):
    return calendar.timegm((int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[9:11]), int(stamp[11:13]), int(stamp[13:15])))


def iso_epoch(text):
    """Epoch of an ISO 8601 UTC time as the collector writes it (2026-11-30T01:25:54.558433Z)."""
    frac = float('0' + text[19:].rstrip('Z')) if text[19:20] == '.' else 0.0
    return calendar.timegm((int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]),
                            int(text[17:19]))) + frac


def expected_sha256(path, given=None):
    if given:
        return given.lower()
    side = path + '.sha256'
    if os.path.exists(side):
        with open(side) as handle:
            return handle.read().split()[0].lower()
    return None


class Inflater:
    """The bundle's tar stream, inflated in a thread of its own: zlib and SHA-256 release the GIL, so
    decompression and the bundle's own hash overlap the parsing in the calling thread."""

    def __init__(self, raw, digest, depth=8):
        self.raw = raw
        self.digest = digest
        self.queue = queue.Queue(depth)
        self.buffer = b''
        self.done = False
        self.stop = False
        self.thread = threading.Thread(target=self._work, name='report-inflate')
        self.thread.daemon = True
        self.thread.start()

    def _put(self, item):
        while not self.stop:
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _work(self):
        try:
            inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while not self.stop:
                data = self.raw.read(CHUNK)
                if not data:
                    break
                self.digest.update(data)
                if inflate.eof:
                    continue  # bytes after the gzip stream: hashed, not read
                out = inflate.decompress(data, CHUNK)
                while out:
                    self._put(out)
                    out = inflate.decompress(inflate.unconsumed_tail, CHUNK) if inflate.unconsumed_tail else b''
            if not inflate.eof and not self.stop:
                raise EOFError('compressed stream ended before its end marker')
            self._put(None)
        except (zlib.error, EOFError, OSError) as exc:
            self._put(exc)

    def read(self, size=-1):
        while not self.done and (size < 0 or len(self.buffer) < size):
            item = self.queue.get()
            if item is None:
                self.done = True
            elif isinstance(item, Exception):
                self.done = True
                raise item
            else:
                self.buffer += item
        if size < 0:
            size = len(self.buffer)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def drain(self):
        """Read to the end, so the whole file is hashed and a damaged tail is found."""
        while self.read(CHUNK):
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join()


def read_bundle(path, sha256=None, since=None, until=None):
    """Verify and parse one bundle. Raises BundleError naming the file when no report may be written from it."""
    want = expected_sha256(path, sha256)
    ev = Evidence(path)
    ev.since, ev.until = since, until
    digest = hashlib.sha256()
    seen = {}
    manifest = None
    try:
        raw = open(path, 'rb')
    except OSError as exc:
        raise BundleError('%s: cannot open the bundle: %s' % (path, exc.strerror))

    inflater = Inflater(raw, digest)
    try:
        with raw, inflater, tarfile.open(fileobj=inflater, mode='r|', bufsize=CHUNK) as tar:
            for member in tar:
                if not member.isfile():
                    continue
                top, _sep, rel = member.name.partition('/')
                if ev.top is None:
                    ev.top = top
                    m = re.match(r'^evidence-(?P<host>.+)-(?P<stamp>\d{8}T\d{6}Z)$', top)
                    if not m:
                        raise BundleError('%s: %s is not an evidence bundle directory (evidence-<host>-<stamp>); '
                                          'pass a bundle written by quietnode.baseline.evidence_bundle' % (path, top))
                    ev.host = m.group('host')
                    ev.stamp = m.group('stamp')
                    ev.started = _stamp_epoch(ev.stamp)
                    ev.year = int(ev.stamp[:4])
                    if ev.since is None:
                        # The window is in collection.log, which comes last: read up to a week back, trim at the end.
                        ev.window_given = False
                        ev.since, ev.until = ev.started - 7 * 86400, ev.started + 300
                handle = tar.extractfile(member)
                if rel == 'manifest.jsonl':
                    manifest = _read_all(handle, lambda c: None)
                    continue
                h = hashlib.sha256()
                key = member_key(rel)
                if key and key in READERS:
                    ev.present.add(key)
                    ev.members[key].append(rel)
                    READERS[key](ev, rel, handle, h.update)
                for chunk in iter(lambda: handle.read(CHUNK), b''):
                    h.update(chunk)
                seen[member.name] = h.hexdigest()
            inflater.drain()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise BundleError('%s is truncated or not a tar.gz (%s); fetch it again with playbooks/collect_evidence.yml. '
                          'No report was written.' % (path, exc))
    digest_hex = digest.hexdigest()
    problems = []
    if want and want != digest_hex:
        problems.append('its SHA-256 %s differs from the expected %s' % (digest_hex, want))
    if manifest is None:
        problems.append('it has no manifest.jsonl (truncated?)')
    else:
        problems.extend(manifest_problems(manifest, seen)[0])
    if problems:
        raise BundleError('%s failed verification: %s. No report was written; fetch the bundle again.'
                          % (path, '; '.join(problems[:5])))
    ev.sha256 = digest_hex
    finish(ev)
    return ev


def finish(ev):
    """Settle what needs the whole bundle: format, window, clock, choice of event sources."""
    for line in ev.log_lines:
        if ' format ' in line and 'bundle format' in line:
            m = re.search(r'bundle format (\d+)', line)
            if m:
                ev.format = int(m.group(1))
        if ' window since=' in line:
            m = re.search(r'since=(\S+) until=(\S+)', line)
            if m:
                ev.window_text = (m.group(1), m.group(2))
    info = getattr(ev, 'bundle_info', None)
    if isinstance(info, dict) and info.get('format_version') is not None:
        ev.format = int(info['format_version'])
    if ev.format not in FORMATS_KNOWN:
        raise BundleError('%s has bundle format %s; this report reads formats %s. Update the collection '
                          '(ansible-galaxy collection install --upgrade quietnode.baseline). No report was written.'
                          % (ev.path, ev.format, ', '.join(str(f) for f in FORMATS_KNOWN)))
    if not ev.window_given and getattr(ev, 'window_text', None):
        ev.since, ev.until = iso_epoch(ev.window_text[0]), iso_epoch(ev.window_text[1])
    # The journal and the syslog files hold the same events: take one source per kind, the journal first.
    ev.ssh_source = 'journal' if ev.ssh['journal']['lines'] >= ev.ssh['auth_log']['lines'] else 'auth_log'
    events = collections.defaultdict(list)
    counts = collections.Counter()
    for kind in set(k for _s, k in ev.events):
        srcs = [s for s, k in ev.events if k == kind]
        src = 'journal' if 'journal' in srcs else max(srcs, key=lambda s: ev.event_counts[(s, kind)])
        events[kind] = [e for e in ev.events[(src, kind)] if ev.in_window(e['t'])]
        counts[kind] = ev.event_counts[(src, kind)]
    ev.events, ev.event_counts = events, counts
    ev.samples = dict((t, s) for t, s in ev.samples.items() if ev.in_window(t))
    ev.acct = [r for r in ev.acct if ev.in_window(r[1])]
    ev.atop = [r for r in ev.atop if ev.in_window(r.epoch)]
    ev.watch_events = [e for e in ev.watch_events if ev.in_window(e['epoch'])]
    ev.connections = [r for r in ev.connections if ev.in_window(r['t'])]
    ev.unit_ip = [r for r in ev.unit_ip if ev.in_window(r['t'])]
    ssh = ev.ssh[ev.ssh_source]
    ssh['per_minute'] = collections.Counter(dict((m, n) for m, n in ssh['per_minute'].items() if ev.in_window(m)))
    ssh['by_ip'] = dict((ip, e) for ip, e in ssh['by_ip'].items() if ev.in_window(e['last']))
    ev.ssh_exact = ev.window_given
