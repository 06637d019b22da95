# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection window: one definition of "inside", for every file, log line and command.

Times inside the collector are UTC epoch seconds.  Stamps come in as ISO 8601,
RFC 3339, local wall-clock time (classic syslog, read in the host's zone) or
audit's own epoch stamps, and go out as ISO 8601 UTC and command arguments.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import re
import time

UTC = datetime.timezone.utc
AUDIT_STAMP = re.compile(rb'msg=audit\((\d+\.\d+):\d+\)')
# sshd's record that a login's session began (raw log): it names the session's user and address.
SSHD_SESSION_START = re.compile(rb'^type=(?:USER_START|USER_LOGIN) .* ses=\d+ .*exe="[^"]*/sshd(?:-session)?" .*res=success')


def iso(ts):
    """Epoch seconds as ISO 8601 UTC with a Z (and microseconds when there are any), or None."""
    if ts is None:
        return None
    try:
        return datetime.datetime.fromtimestamp(ts, UTC).isoformat().replace('+00:00', 'Z')
    except (OverflowError, OSError, ValueError):
        return None


def parse_time(text, now):
    """A UTC time given as ISO 8601, 'YYYY-MM-DD HH:MM[:SS]', '@epoch' or '-48h'/'-30m'/'-2d'."""
    text = text.strip()
    if text.startswith('@'):
        return float(text[1:])
    if text[:1] == '-' and text[-1:] in 'smhd' and text[1:-1].isdigit():
        return now - int(text[1:-1]) * {'s': 1, 'm': 60, 'h': 3600, 'd': 86400}[text[-1]]
    norm = text.replace('Z', '+00:00').replace(' ', 'T')
    for fmt in ('%Y-%m-%dT%H:%M:%S%z', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%dT%H:%M%z', '%Y-%m-%dT%H:%M', '%Y-%m-%d'):
        probe = norm
        if fmt.endswith('%z') and len(probe) > 6 and probe[-3] == ':':
            probe = probe[:-3] + probe[-2:]
        try:
            parsed = datetime.datetime.strptime(probe, fmt)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    raise ValueError("cannot read %r as a UTC time; use e.g. 2026-11-20T08:00:00Z, '@1795300000' or '-48h'" % text)


class Window:
    """[since, until] in UTC epoch seconds, both ends included."""

    def __init__(self, since, until):
        self.since = since
        self.until = until

    def contains(self, epoch):
        return epoch is not None and self.since <= epoch <= self.until

    def overlaps(self, first, last):
        """Whether a span (a block of log lines, a file's records) can hold anything in the window."""
        return not (last is not None and last < self.since or first is not None and first > self.until)

    def within(self, first, last):
        return first is not None and last is not None and self.since <= first <= last <= self.until

    def written_in(self, mtime):
        """A file last written before the window cannot hold a record from it."""
        return mtime >= self.since

    def text(self):
        return {'since': iso(self.since), 'until': iso(self.until)}

    def journalctl_args(self):
        # journalctl reads @epoch as UTC whatever the host's zone and locale; --until excludes its second
        return ['--since', '@%d' % int(self.since), '--until', '@%d' % int(self.until + 1)]

    @staticmethod
    def ausearch_args(selection):
        # ausearch only decodes records the window already chose by their epoch stamps: its own
        # --start/--end read local time in the locale's date format (a two-digit year in C)
        return ['-i', '--input', selection]

    def audit_session_starts(self, block):
        """sshd's session-start records stamped before the window. A session that acts in the window may have
        logged in hours before it (one long-lived connection, a login left open): these say whose it is."""
        if b'sshd' not in block:
            return []
        out = []
        for line in block.split(b'\n'):
            if SSHD_SESSION_START.match(line):
                m = AUDIT_STAMP.search(line)
                if m and float(m.group(1)) < self.since:
                    out.append(line)
        return out

    def audit_lines(self, block):
        """The lines of a block of raw audit log whose msg=audit(epoch:serial) stamp lies in the window."""
        stamps = AUDIT_STAMP.findall(block)
        if not stamps:
            return []
        first, last = float(stamps[0]), float(stamps[-1])
        if not self.overlaps(first, last):
            return []
        lines = block.split(b'\n')
        if self.within(first, last):
            return [line for line in lines if line]
        out = []
        for line in lines:
            m = AUDIT_STAMP.search(line)
            if m and self.contains(float(m.group(1))):
                out.append(line)
        return out


class HostZone:
    """The host's time zone, in which rsyslog writes classic 'Mmm dd hh:mm:ss' stamps.

    rsyslogd runs with the system zone (/etc/localtime), not with the collector's TZ.
    """

    def __init__(self, root='/'):
        path = os.path.join(root, 'etc/localtime')
        self.name, self.tz = 'UTC', UTC
        try:
            target = os.readlink(path)
            self.name = target.split('zoneinfo/', 1)[-1]
        except OSError:
            self.name = _read_first_line(os.path.join(root, 'etc/timezone')) or 'UTC'
        try:
            from zoneinfo import ZoneInfo  # Python 3.9+ (EL 9, Debian 12)
            with open(path, 'rb') as handle:
                self.tz = ZoneInfo.from_file(handle, key=self.name)
        except ImportError:
            self.tz, self.name = None, '%s (process zone %s)' % (self.name, '/'.join(time.tzname))
        except (OSError, ValueError):
            self.name, self.tz = 'UTC (no readable /etc/localtime)', UTC
        self._hours = {}

    def epoch(self, year, month, day, hour, minute, second):
        key = (year, month, day, hour)
        base = self._hours.get(key)
        if base is None:
            if self.tz is None:
                base = time.mktime((year, month, day, hour, 0, 0, 0, 0, -1))
            else:
                base = datetime.datetime(year, month, day, hour, tzinfo=self.tz).timestamp()
            if len(self._hours) > 4096:
                self._hours.clear()
            self._hours[key] = base
        return base + minute * 60 + second


def _read_first_line(path):
    try:
        with open(path) as handle:
            return handle.readline().strip() or None
    except OSError:
        return None
