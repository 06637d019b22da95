# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network recorders, decoded from the journal while it streams into the bundle.

Three kinds of journal entry are read, each found by a byte search before any JSON is parsed:
  - kernel lines with the connlog role's prefix (a new outbound connection, with the sending uid from
    `log flags skuid`): network/connections.jsonl. The prefix is connlog_log_prefix as the host's
    loaded rule has it (read from `nft list ruleset`), and the default "qn-connlog: " too;
  - kernel lines with the firewall role's prefix "qn-denied: " (a refused inbound packet):
    per source address in network/denied.json;
  - systemd's per-unit resource message (MESSAGE_ID ae8f7b866b0347b9af31fe1c80b127c0, written
    when a unit stops, with IP_METRIC_* bytes when IP accounting is on): network/unit_ip.jsonl.
The members' shapes are documented in roles/connlog/README.md ("Evidence bundle members").
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import ipaddress
import json
import re

from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_window import iso

# Defaults of the roles' prefixes (connlog_log_prefix; the firewall role's fixed __firewall_denied_log_prefix).
CONNLOG_PREFIX = 'qn-connlog: '
DENIED_PREFIX = 'qn-denied: '
# The comment the connlog role gives its rule, whatever its table (connlog_table) and prefix.
CONNLOG_RULE_COMMENT = 'comment "quietnode connection log"'
_LOG_PREFIX = re.compile(rb'\blog prefix "([^"\\]*)"')
MAX_RULESET_LINE = 4096  # bytes kept of an unfinished ruleset line (a set's elements can run long)
UNIT_RESOURCES_ID = 'ae8f7b866b0347b9af31fe1c80b127c0'
UNIT_STARTED_ID = '39f53479d3a045ac8e11786248231fbf'  # "Started <unit>": when the unit's bytes began to count
# The connlog table and the denied-log rule, as `nft list ruleset` prints them.
CONNLOG_TABLE = 'table inet quietnode_connlog'
DENIED_RULE = 'log prefix "%s"' % DENIED_PREFIX

# The kernel audit record of a service start (journald reads the audit socket): systemd writes no "Started"
# line for transient units (systemd-run), so this is often the only start time.
AUDIT_SERVICE_START = b'SERVICE_START'
_AUDIT_UNIT = re.compile(r"msg='unit=(\S+)")
_OTHER_NEEDLES = (DENIED_PREFIX.encode(), UNIT_RESOURCES_ID.encode(), UNIT_STARTED_ID.encode(), AUDIT_SERVICE_START)
RETRY_WINDOW = 120  # s: a SYN sent again unanswered is "new" to conntrack each time; one row per connection
# A non-root uid a unit's own lines carry, so a unit's stop message can name its user.
_UNIT_UID = re.compile(rb'"_SYSTEMD_UNIT":"([^"]{1,200})"')
_UID = re.compile(rb'"_UID":"(\d+)"')
_METRICS = (('egress_bytes', 'IP_METRIC_EGRESS_BYTES'), ('ingress_bytes', 'IP_METRIC_INGRESS_BYTES'),
            ('egress_packets', 'IP_METRIC_EGRESS_PACKETS'), ('ingress_packets', 'IP_METRIC_INGRESS_PACKETS'),
            ('cpu_nsec', 'CPU_USAGE_NSEC'), ('io_read_bytes', 'IO_METRIC_READ_BYTES'),
            ('io_write_bytes', 'IO_METRIC_WRITE_BYTES'))
MAX_SOURCES = 10000   # distinct refused sources kept in denied.json; the rest are counted
MAX_PORTS = 200       # ports listed per source (all are counted)
MAX_UNIT_USERS = 10000


def packet_fields(message, prefix):
    """The KEY=VALUE fields of a netfilter log line after its prefix; flags (SYN, DF) are left out."""
    out = {}
    for word in message[message.find(prefix) + len(prefix):].split():
        key, sep, value = word.partition('=')
        if sep:
            out[key] = value
    return out


def address(text):
    """An address as the kernel logs it (IPv6 written out in full) in its short form."""
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return text


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def connection(fields, when, names):
    """One connections.jsonl row from a connlog line's fields."""
    uid = _int(fields.get('UID'))
    src = address(fields['SRC']) if fields.get('SRC') else None
    return {'time': iso(when), 'uid': uid, 'user': names.get(uid) if uid is not None else None,
            'gid': _int(fields.get('GID')), 'proto': (fields.get('PROTO') or '').lower() or None,
            'family': 'ipv6' if src and ':' in src else 'ipv4', 'src': src,
            'dst': address(fields['DST']) if fields.get('DST') else None,
            'sport': _int(fields.get('SPT')), 'dport': _int(fields.get('DPT')),
            'icmp_type': _int(fields.get('TYPE')), 'out': fields.get('OUT') or None}


class DeniedSources:
    """Refused packets per source address, with first and last time, ports and protocols."""

    def __init__(self):
        self.sources = {}
        self.dropped = 0
        self.lines = 0
        self.per_minute = {}

    def add(self, fields, when):
        self.lines += 1
        minute = (iso(int(when) // 60 * 60) or '')[:16]
        self.per_minute[minute] = self.per_minute.get(minute, 0) + 1
        src = address(fields['SRC']) if fields.get('SRC') else None
        if not src:
            return
        entry = self.sources.get(src)
        if entry is None:
            if len(self.sources) >= MAX_SOURCES:
                self.dropped += 1
                return
            entry = self.sources[src] = {'first': when, 'last': when, 'packets': 0, 'ports': set(),
                                         'protocols': {}, 'icmp_types': {}, 'destinations': set(),
                                         'interfaces': set()}
        entry['first'] = min(entry['first'], when)
        entry['last'] = max(entry['last'], when)
        entry['packets'] += 1
        proto = (fields.get('PROTO') or '?').lower()
        entry['protocols'][proto] = entry['protocols'].get(proto, 0) + 1
        port = _int(fields.get('DPT'))
        if port is not None:
            entry['ports'].add('%s/%d' % (proto, port))
        if proto in ('icmp', 'icmpv6') and fields.get('TYPE'):
            entry['icmp_types'][fields['TYPE']] = entry['icmp_types'].get(fields['TYPE'], 0) + 1
        if fields.get('DST') and len(entry['destinations']) < 64:
            entry['destinations'].add(address(fields['DST']))
        if fields.get('IN'):
            entry['interfaces'].add(fields['IN'])

    def result(self, rate=None):
        rows = []
        for src, e in self.sources.items():
            ports = sorted(e['ports'], key=lambda p: (p.split('/')[0], int(p.split('/')[1])))
            rows.append({'src': src, 'family': 'ipv6' if ':' in src else 'ipv4', 'first': iso(e['first']),
                         'last': iso(e['last']), 'packets': e['packets'], 'distinct_ports': len(ports),
                         'ports': ports[:MAX_PORTS], 'ports_truncated': len(ports) > MAX_PORTS,
                         'protocols': e['protocols'], 'icmp_types': e['icmp_types'],
                         'destinations': sorted(e['destinations']), 'interfaces': sorted(e['interfaces'])})
        rows.sort(key=lambda r: (-r['packets'], r['src']))
        return {'prefix': DENIED_PREFIX, 'lines': self.lines, 'sources_not_listed': self.dropped,
                'per_minute': dict(sorted(self.per_minute.items())), 'sources': rows}


def connlog_prefixes(loaded=None):
    """The prefixes connlog lines may carry: the loaded rule's, and the default (lines from before a change,
    or no ruleset read)."""
    return (loaded, CONNLOG_PREFIX) if loaded and loaded != CONNLOG_PREFIX else (CONNLOG_PREFIX,)


def _json_needle(text):
    """The text as journalctl's JSON output writes it inside a string value."""
    return json.dumps(text, ensure_ascii=False)[1:-1].encode('utf-8')


class NetworkJournal:
    """Fed journal JSON lines (bytes) as they stream; writes connection rows to `spool` as JSON lines."""

    def __init__(self, names, connections_spool, units_spool, prefixes=(CONNLOG_PREFIX,)):
        self.names = names
        # Longest first, so a prefix that begins another (or the denied one) never claims its lines.
        self.prefixes = sorted(set(prefixes), key=len, reverse=True)
        self.needles = tuple(_json_needle(p) for p in self.prefixes) + _OTHER_NEEDLES
        self.connections = connections_spool
        self.units = units_spool
        self.denied = DeniedSources()
        self.unit_users = {}
        self.unit_started = {}
        self.recent = collections.OrderedDict()
        self.counts = {'connlog_lines': 0, 'connlog_retries': 0, 'denied_lines': 0, 'unit_ip_records': 0,
                       'unit_ip_records_with_bytes': 0, 'connlog_per_minute': {}}
        self.first = {}

    def feed(self, lines):
        for line in lines:
            if b'"_UID":"' in line and b'"_UID":"0"' not in line and b'"_SYSTEMD_UNIT":"' in line:
                self._unit_user(line)
            if not any(needle in line for needle in self.needles):
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            message = entry.get('MESSAGE')
            when = _int(entry.get('__REALTIME_TIMESTAMP'))
            if when is None:
                continue
            when /= 1e6
            if entry.get('MESSAGE_ID') == UNIT_RESOURCES_ID:
                self._unit(entry, when)
            elif entry.get('MESSAGE_ID') == UNIT_STARTED_ID:
                self._started(entry.get('UNIT') or entry.get('USER_UNIT'), when)
            elif entry.get('_TRANSPORT') == 'audit' and isinstance(message, str) and message.startswith('SERVICE_START'):
                unit = _AUDIT_UNIT.search(message)
                if unit and 'res=success' in message:
                    self._started(unit.group(1) + ('' if '.' in unit.group(1) else '.service'), when)
            elif not isinstance(message, str) or entry.get('_TRANSPORT') != 'kernel':
                continue
            elif self._connlog_prefix(message):
                self.counts['connlog_lines'] += 1
                row = connection(packet_fields(message, self._connlog_prefix(message)), when, self.names)
                if self._retry(row, when):
                    continue
                minute = (iso(int(when) // 60 * 60) or '')[:16]
                per = self.counts['connlog_per_minute']
                per[minute] = per.get(minute, 0) + 1
                self.connections.write(json.dumps(row, sort_keys=True).encode('utf-8') + b'\n')
            elif DENIED_PREFIX in message:
                self.counts['denied_lines'] += 1
                self.denied.add(packet_fields(message, DENIED_PREFIX), when)

    def _connlog_prefix(self, message):
        """The connlog prefix a kernel line begins with; a denied line is never a connection."""
        if message.startswith(DENIED_PREFIX):
            return None
        return next((p for p in self.prefixes if message.startswith(p)), None)

    def _retry(self, row, when):
        """Whether this line repeats a connection logged moments ago (its SYN sent again)."""
        key = (row['uid'], row['proto'], row['src'], row['sport'], row['dst'], row['dport'])
        last = self.recent.pop(key, None)
        self.recent[key] = when
        if len(self.recent) > 4096:
            self.recent.popitem(last=False)
        if row['sport'] is not None and last is not None and when - last < RETRY_WINDOW:
            self.counts['connlog_retries'] += 1
            return True
        return False

    def _started(self, unit, when):
        if isinstance(unit, str) and (unit in self.unit_started or len(self.unit_started) < MAX_UNIT_USERS):
            self.unit_started[unit] = when

    def _unit_user(self, line):
        unit, uid = _UNIT_UID.search(line), _UID.search(line)
        if unit and uid and len(self.unit_users) < MAX_UNIT_USERS:
            self.unit_users.setdefault(unit.group(1).decode('utf-8', 'replace'), int(uid.group(1)))

    def _unit(self, entry, when):
        unit = entry.get('UNIT') or entry.get('USER_UNIT')
        if not isinstance(unit, str):
            return
        self.counts['unit_ip_records'] += 1
        started = self.unit_started.pop(unit, None)
        row = {'time': iso(when), 'started': iso(started), 'unit': unit,
               'user_manager': 'USER_UNIT' in entry and 'UNIT' not in entry}
        for key, field in _METRICS:
            row[key] = _int(entry.get(field))
        if row['egress_bytes'] is not None or row['ingress_bytes'] is not None:
            self.counts['unit_ip_records_with_bytes'] += 1
        uid = self.unit_users.get(unit)
        if uid is None and row['user_manager']:
            uid = _int(entry.get('_UID'))
        row['uid'] = uid
        row['user'] = self.names.get(uid) if uid is not None else None
        self.units.write(json.dumps(row, sort_keys=True).encode('utf-8') + b'\n')


def user_names(root):
    """uid -> name from the root's etc/passwd (the bundle's own copy of it is the same file)."""
    names = {}
    try:
        with open(root.rstrip('/') + '/etc/passwd') as handle:
            for line in handle:
                parts = line.split(':')
                if len(parts) > 3 and parts[2].isdigit():
                    names.setdefault(int(parts[2]), parts[0])
    except OSError:
        pass
    return names


class RulesetObserver:
    """Whether `nft list ruleset` holds the connlog table and the denied-log rule, and the prefix the
    connlog rule logs with, read line by line as it streams."""

    def __init__(self, observed):
        self.observed = observed
        self.tail = b''
        observed['connlog_table'] = False
        observed['denied_rule'] = False
        observed['connlog_prefix'] = None

    def __call__(self, chunk):
        lines = (self.tail + chunk).split(b'\n')
        self.tail = lines.pop()[-MAX_RULESET_LINE:]
        for line in lines:
            self.line(line)

    def line(self, line):
        # the rule's comment finds the table under another connlog_table too
        if CONNLOG_TABLE.encode() in line or CONNLOG_RULE_COMMENT.encode() in line:
            self.observed['connlog_table'] = True
        if DENIED_RULE.encode() in line:
            self.observed['denied_rule'] = True
        if CONNLOG_RULE_COMMENT.encode() in line:
            prefix = _LOG_PREFIX.search(line)
            if prefix and self.observed['connlog_prefix'] is None:
                self.observed['connlog_prefix'] = prefix.group(1).decode('utf-8', 'replace')
