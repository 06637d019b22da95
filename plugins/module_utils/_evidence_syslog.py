# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Syslog lines and journal entries of both families as timed authentication events.

Debian writes /var/log/auth.log (RFC 3339 stamps since bookworm's rsyslog,
classic "Mmm dd hh:mm:ss" before); EL writes /var/log/secure in the classic
form.  journald entries are handled through journal_event().
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import datetime
import re

UTC = datetime.timezone.utc
MONTHS = dict((m, i + 1) for i, m in enumerate('Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split()))

RFC3339 = re.compile(
    r'^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d))\s+(?P<host>\S+)\s+'
    r'(?P<prog>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?:\s?(?P<msg>.*)$')
CLASSIC = re.compile(
    r'^(?P<mon>[A-Z][a-z]{2})\s+(?P<day>\d{1,2})\s+(?P<hms>\d\d:\d\d:\d\d)\s+(?P<host>\S+)\s+'
    r'(?P<prog>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?:\s?(?P<msg>.*)$')

_IP = r'(?P<ip>[0-9A-Fa-f:.]+)'
_PORT = r'(?: port (?P<port>\d+))?'
# sshd writes the port in every failure it logs; requiring it keeps a user name such as
# "x from f" from being read as the address (the fast block patterns require it too).
_PORT_ALWAYS = r' port (?P<port>\d+)'
# Order matters: the first pattern that matches names the event. ASCII classes, as the byte
# patterns of the block path have: a user name holding U+0085 is one word to both.
AUTH_PATTERNS = [
    ('failed_password', re.compile(r'^Failed (?P<method>password|publickey|keyboard-interactive/pam|none) for '
                                   r'(?P<invalid>invalid user )?(?P<user>.*?) from ' + _IP + _PORT_ALWAYS)),
    ('accepted', re.compile(r'^Accepted (?P<method>\S+) for (?P<user>\S+) from ' + _IP + _PORT)),
    ('invalid_user', re.compile(r'^Invalid user (?P<user>.*?) from ' + _IP + _PORT_ALWAYS)),
    ('max_attempts', re.compile(r'^error: maximum authentication attempts exceeded for '
                                r'(?P<invalid>invalid user )?(?P<user>.*?) from ' + _IP + _PORT)),
    ('preauth_close', re.compile(r'^(?:Connection closed|Disconnected) (?:by|from) (?:(?P<invalid>invalid user )|authenticating user |user )?'
                                 r'(?:(?P<user>\S+) )?' + _IP + _PORT_ALWAYS + r' \[preauth\]')),
    ('preauth_disconnect', re.compile(r'^Received disconnect from ' + _IP + _PORT + r':.*\[preauth\]')),
    ('no_identification', re.compile(r'^Did not receive identification string from ' + _IP + _PORT)),
    ('pam_failure', re.compile(r'^pam_unix\((?P<service>[^:]+):auth\): authentication failure;.*?'
                               r'(?:rhost=(?P<ip>\S*))?(?:\s+user=(?P<user>\S+))?\s*$')),
    ('session_opened', re.compile(r'^pam_unix\((?P<service>[^:]+):session\): session opened for user '
                                  r'(?P<user>[^\s(]+)')),
    ('sudo', re.compile(r'^\s*(?P<user>\S+) : .*?USER=(?P<target>\S+) ; COMMAND=(?P<command>.*)$')),
]
AUTH_PATTERNS = [(kind, re.compile(rx.pattern, re.A)) for kind, rx in AUTH_PATTERNS]


RFC3339_TIME = re.compile(r'(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:Z|([+-])(\d\d):?(\d\d))$')


_LAST = ['', 0.0, '']  # logs repeat the same second for many lines: reuse the last conversion


def _rfc3339(ts):
    if ts[:19] == _LAST[0] and len(ts) >= 20 and ts[19] in '.Z+-':
        base = _LAST[1]
        rest = ts[19:]
        if rest[:1] == '.':
            digits = rest[1:].split('+', 1)[0].split('-', 1)[0].rstrip('Z')
            if rest[len(digits) + 1:] == _LAST[2]:
                return base + int(digits[:6].ljust(6, '0')) / 1e6
        elif rest == _LAST[2]:
            return base
    m = RFC3339_TIME.match(ts)
    if not m:
        return None
    y, mo, d, h, mi, sec, frac, sign, oh, om = m.groups()
    epoch = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(sec)))
    if frac:
        epoch += int(frac[:6].ljust(6, '0')) / 1e6
    if sign:
        offset = int(oh) * 3600 + int(om) * 60
        epoch += -offset if sign == '+' else offset
    if not frac:
        _LAST[:] = [ts[:19], epoch, ts[19:]]
    else:
        _LAST[:] = [ts[:19], epoch - int(frac[:6].ljust(6, '0')) / 1e6, ts[20 + len(frac):]]
    return epoch


class _Utc:
    name = 'UTC'

    @staticmethod
    def epoch(year, month, day, hour, minute, second):
        return calendar.timegm((year, month, day, hour, minute, second))


UTC_ZONE = _Utc()


def _classic(mon, day, hms, ref, zone=UTC_ZONE, years=None):
    h, mi, sec = (int(x) for x in hms.split(':'))
    year = datetime.datetime.fromtimestamp(ref, UTC).year
    for candidate in (year, year - 1):
        try:
            datetime.date(candidate, MONTHS[mon], int(day))
        except ValueError:
            continue  # 29 February in a common year
        epoch = zone.epoch(candidate, MONTHS[mon], int(day), h, mi, sec)
        if epoch <= ref + 86400:
            if years is not None:
                years.add(candidate)
            return float(epoch)
    return None


def parse_timestamp(text, ref, zone=UTC_ZONE):
    """RFC 3339 or classic syslog time as epoch seconds.

    RFC 3339 stamps carry their offset.  Classic stamps carry no year or zone: they are
    read in zone (the host's, in which rsyslog wrote them), in the year of ref (the
    file's mtime), or the year before when that would put them after ref.
    """
    m = RFC3339.match(text)
    if m:
        return _rfc3339(m.group('ts'))
    m = CLASSIC.match(text)
    if m:
        return _classic(m.group('mon'), m.group('day'), m.group('hms'), ref, zone)
    return None


def parse_line(line, ref, zone=UTC_ZONE, years=None):
    """Split one syslog line into time, host, program, pid and message; None if it is not syslog."""
    m = RFC3339.match(line)
    if m:
        epoch = _rfc3339(m.group('ts'))
    else:
        m = CLASSIC.match(line)
        if not m:
            return None
        epoch = _classic(m.group('mon'), m.group('day'), m.group('hms'), ref, zone, years)
    pid = m.group('pid')
    return {'epoch': epoch, 'host': m.group('host'), 'prog': m.group('prog'),
            'pid': int(pid) if pid else None, 'msg': m.group('msg')}


def classify(prog, msg):
    """Name the authentication event in a message, with its user, address and port; None if none."""
    prog = prog.lower()
    for kind, rx in AUTH_PATTERNS:
        if kind == 'sudo' and prog != 'sudo':
            continue
        m = rx.match(msg)
        if m:
            groups = m.groupdict()
            event = {'event': kind}
            for key in ('user', 'ip', 'port', 'method', 'service', 'target', 'command'):
                if groups.get(key):
                    event[key] = int(groups[key]) if key == 'port' else groups[key]
            if groups.get('invalid'):
                event['invalid_user'] = True
            return event
    return None


def journal_event(entry):
    """Classify a journal entry (dict from journalctl -o json); None if it is not an auth event."""
    msg = entry.get('MESSAGE')
    if not isinstance(msg, str):
        return None
    prog = entry.get('SYSLOG_IDENTIFIER') or entry.get('_COMM') or ''
    event = classify(prog, msg)
    if event is None:
        return None
    try:
        epoch = int(entry.get('__REALTIME_TIMESTAMP', '0')) / 1e6
        pid = int(entry.get('_PID') or entry.get('SYSLOG_PID') or 0) or None
    except ValueError:
        epoch = pid = None
    event.update({'epoch': epoch, 'prog': prog, 'pid': pid, 'source': 'journal'})
    return event
