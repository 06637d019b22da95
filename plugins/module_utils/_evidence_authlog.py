# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Authentication events of a window, counted from whole blocks of log at C speed.

Debian writes /var/log/auth.log (RFC 3339 stamps since bookworm's rsyslog,
classic "Mmm dd hh:mm:ss" before); EL writes /var/log/secure in the classic
form.  journald entries are handled through journal_event().
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import re
from operator import itemgetter

from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_syslog import (  # pylint: disable=unused-import  # re-exported
    _LAST, AUTH_PATTERNS, UTC_ZONE, _classic, _rfc3339, classify, journal_event, parse_line, parse_timestamp,
)
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_window import Window, iso


# Fast path for the lines an attack floods a log with: one C-level scan of a whole block
# picks them out with their fields; everything else an auth pattern could match goes
# through parse_line() and classify() (SLOW_LINES).  The two never select the same line.
_TS = rb'(?P<ts>\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:?\d\d)|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)'
_BIP = rb'([0-9A-Fa-f:.]+)'
_SSHD = rb' (?:sshd|sshd-session)\['  # OpenSSH 9.8 and later log a connection's failures as sshd-session[pid]
FAST_LINES = re.compile(
    rb'^' + _TS + rb' \S+' + _SSHD + rb'(?P<pid>\d+)\]: (?:'
    rb'Failed (?:password|publickey|keyboard-interactive/pam|none) for (?P<fi>invalid user )?(?P<fu>.*?) from (?P<fip>[0-9A-Fa-f:.]+) port \d+'
    rb'|Invalid user (?P<iu>.*?) from (?P<iip>[0-9A-Fa-f:.]+) port \d+'
    rb'|(?:Connection closed|Disconnected) (?:by|from) (?:(?P<ci>invalid user )|authenticating user |user )?'
    rb'(?:(?P<cu>\S+) )?(?P<cip>[0-9A-Fa-f:.]+) port \d+ \[preauth\])', re.M)
# In a block wholly inside the window only counts matter. One pattern that begins with a
# literal (searched at C speed) yields each failure's pid and its message without the port, so a
# botnet's repeated (kind, user, address) lines collapse into one key, decoded once by FAST_DECODE.
FAST_MESSAGES = re.compile(
    _SSHD + rb'(\d+)\]: ('
    rb'Failed (?:password|publickey|keyboard-interactive/pam|none) for .*? from [0-9A-Fa-f:.]+(?= port \d)'
    rb'|Invalid user .*? from [0-9A-Fa-f:.]+(?= port \d)'
    rb'|(?:Connection closed|Disconnected) (?:by|from) (?:invalid user |authenticating user |user )?(?:\S+ )?'
    rb'[0-9A-Fa-f:.]+(?= port \d+ \[preauth\]))')
FAST_DECODE = re.compile(
    r'^(?:Failed \S+ for (?:invalid user )?(?P<fu>.*?) from (?P<fip>[0-9A-Fa-f:.]+)'
    r'|Invalid user (?P<iu>.*?) from (?P<iip>[0-9A-Fa-f:.]+)'
    r'|(?:Connection closed|Disconnected) (?:by|from) (?:invalid user |authenticating user |user )?'
    r'(?:(?P<cu>\S+) )?(?P<cip>[0-9A-Fa-f:.]+))$', re.S | re.A)
# The fast patterns may only count sshd's own lines: when " sshd[" appears anywhere else in a
# block (inside another program's message), the block takes the exact line-by-line path.
SSHD_HEADERS = re.compile(rb'\n' + _TS.replace(b'(?P<ts>', b'(?:') + rb' \S+' + _SSHD)
SLOW_WORDS = re.compile(rb'Accepted |COMMAND=|session opened|maximum authentication|Received disconnect|'
                        rb'Did not receive|authentication failure')
# In a block wholly inside the window, session openings (a cron job's every run) are only counted.
SLOW_WORDS_COUNTED_LIST = (b'Accepted ', b'COMMAND=', b'maximum authentication', b'Received disconnect',
                           b'Did not receive', b'authentication failure')
SLOW_WORDS_COUNTED = re.compile(b'|'.join(SLOW_WORDS_COUNTED_LIST))
SESSION_OPENED = re.compile(rb'pam_unix\([^:)\n]+:session\): session opened for user ')


def lines_with(words, block):
    """The whole lines of block that hold a match of words, each once, found by C-level search."""
    end = -1
    for m in words.finditer(block):
        if m.start() <= end:
            continue  # a second word on a line already given
        start = block.rfind(b'\n', 0, m.start()) + 1
        end = block.find(b'\n', m.end())
        if end < 0:
            end = len(block)
        yield block[start:end]


class AuthSummary:
    """Counts of authentication events in a window, by kind, source address and user."""

    WORDS = re.compile(rb'sshd|sudo|pam_unix|su[\[:]')
    FAILURES = ('failed_password', 'invalid_user', 'max_attempts', 'pam_failure', 'preauth_close')

    MAX_KEYS = 20000  # distinct addresses or users counted exactly; beyond, the rarest are dropped

    # A connection's lines lie close together: a pid is looked up among the last two
    # generations of this many connections, so a pid the kernel reuses later counts again.
    CONN_GENERATION = 4096

    def __init__(self, since, until, keep=200, zone=UTC_ZONE):
        self.since = since
        self.until = until
        self.window = Window(since, until)
        self.keep = keep
        self.zone = zone
        self.years = set()  # years assumed for classic stamps
        self.covered_from = None  # time of the earliest line seen, in or before the window
        self.attempts = 0
        self._conn_now, self._conn_before = set(), set()
        self.by_event = {}
        self.failures_by_ip = {}
        self.failures_by_user = {}
        self.accepted = []
        self.privileged = []
        self.first = None
        self.last = None
        self.pruned = 0
        self._raw = collections.Counter()  # undecoded fast-path messages, folded in by _fold()
        self._raw_bytes = 0

    def _connections(self, pids):
        """Count the connections (sshd pids) among pids not seen failing in the last generations."""
        self.attempts += len(pids.difference(self._conn_now, self._conn_before))
        self._conn_now.update(pids)
        if len(self._conn_now) > self.CONN_GENERATION:
            self._conn_before, self._conn_now = self._conn_now, set()

    def add(self, event):
        epoch = event.get('epoch')
        if not self.window.contains(epoch):
            return
        kind = event['event']
        self.by_event[kind] = self.by_event.get(kind, 0) + 1
        if kind in self.FAILURES and event.get('pid'):
            self._connections({b'%d' % int(event['pid'])})  # bytes, as the block path finds them
        self.first = epoch if self.first is None else min(self.first, epoch)
        self.last = epoch if self.last is None else max(self.last, epoch)
        if kind in self.FAILURES:
            for key, counts in ((event.get('ip'), self.failures_by_ip), (event.get('user'), self.failures_by_user)):
                if key:
                    counts[key] = counts.get(key, 0) + 1
                    if len(counts) > self.MAX_KEYS:
                        self._prune(counts)
        elif kind == 'accepted' and len(self.accepted) < self.keep:
            self.accepted.append(event)
        elif kind == 'sudo' and len(self.privileged) < self.keep:
            self.privileged.append(event)

    def _prune(self, counts):
        """Keep the most frequent half so memory stays bounded under a botnet's many addresses."""
        keep = sorted(counts.items(), key=lambda kv: -kv[1])[:self.MAX_KEYS // 2]
        counts.clear()
        counts.update(keep)
        self.pruned += 1

    def add_lines(self, lines, ref, source):
        wanted = self.WORDS.search
        for raw in lines:
            if isinstance(raw, bytes):
                if not wanted(raw):
                    continue  # cheap skip of lines no pattern can match
                line = raw.decode('utf-8', 'replace')
            else:
                line = raw
            parsed = parse_line(line.rstrip('\n'), ref, self.zone, self.years)
            if not parsed:
                continue
            event = classify(parsed['prog'], parsed['msg'])
            if event:
                event.update({'epoch': parsed['epoch'], 'prog': parsed['prog'], 'pid': parsed['pid'], 'source': source})
                self.add(event)

    def _tally(self, counts, key, n):
        counts[key] = counts.get(key, 0) + n
        if len(counts) > self.MAX_KEYS:
            self._prune(counts)

    def _block_span(self, block, ref):
        """Times of the first and last lines of a block, or None when either is not a syslog line."""
        first = parse_line(block[:200].split(b'\n', 1)[0].decode('utf-8', 'replace'), ref, self.zone, self.years)
        last = parse_line(block[block.rfind(b'\n') + 1:][:200].decode('utf-8', 'replace'), ref, self.zone, self.years)
        if not first or not last or first['epoch'] is None or last['epoch'] is None:
            return None
        if self.covered_from is None or first['epoch'] < self.covered_from:
            self.covered_from = first['epoch']
        return first['epoch'], last['epoch']

    # Distinct messages held undecoded before they are folded into the counts (about 150 bytes
    # each): a botnet of 5000 addresses trying eight users makes about 85,000. RAW_BYTES bounds
    # their text too, since forged sshd lines can carry long user names.
    RAW_LIMIT = 100000
    RAW_BYTES = 16 << 20

    def _fold(self):
        """Decode the messages counted so far into the per-kind, per-address and per-user counts."""
        for msg, n in self._raw.items():
            m = FAST_DECODE.match(msg.decode('utf-8', 'replace'))
            if m is None:
                continue  # cannot happen while the two patterns agree; never fail the collection over it
            if m.group('fip'):
                kind, user, ip = 'failed_password', m.group('fu'), m.group('fip')
            elif m.group('iip'):
                kind, user, ip = 'invalid_user', m.group('iu'), m.group('iip')
            else:
                kind, user, ip = 'preauth_close', m.group('cu'), m.group('cip')
            self.by_event[kind] = self.by_event.get(kind, 0) + n
            self._tally(self.failures_by_ip, ip, n)
            if user:
                self._tally(self.failures_by_user, user, n)
        self._raw.clear()
        self._raw_bytes = 0

    def add_block(self, block, ref, source):
        """Count the events in a block of whole log lines (bytes) at C speed where the lines allow it.

        Logs are written in time order, so a block whose first and last lines lie on
        one side of the window is skipped, and one wholly inside it is only counted.
        """
        span = self._block_span(block, ref)
        if span and not self.window.overlaps(*span):
            return
        if span and self.window.within(*span) and \
                block.count(b' sshd') == len(SSHD_HEADERS.findall(b'\n' + block)):
            # Counted undecoded, in C, across blocks; each distinct key is decoded once.
            found = FAST_MESSAGES.findall(block)  # (pid, message) pairs
            if found:
                self._connections(set(map(itemgetter(0), found)))
                self._raw.update(map(itemgetter(1), found))
                self._raw_bytes += len(block)  # an upper bound of the new keys' text
            if self._raw_bytes > self.RAW_BYTES:
                self._raw_bytes = sum(map(len, self._raw))
            if len(self._raw) > self.RAW_LIMIT or self._raw_bytes > self.RAW_BYTES:
                self._fold()
            sessions = b':session): session opened for user ' in block and len(SESSION_OPENED.findall(block))
            if sessions:
                self.by_event['session_opened'] = self.by_event.get('session_opened', 0) + sessions
            self.first = span[0] if self.first is None else min(self.first, span[0])
            self.last = span[1] if self.last is None else max(self.last, span[1])
            if any(word in block for word in SLOW_WORDS_COUNTED_LIST):
                self.add_lines(lines_with(SLOW_WORDS_COUNTED, block), ref, source)
            return
        for m in FAST_LINES.finditer(block):
            ts = m.group('ts').decode('ascii')
            epoch = _rfc3339(ts) if ts[0].isdigit() else _classic(ts[:3], ts[4:6].strip(), ts[7:], ref, self.zone, self.years)
            if m.group('fu') is not None:
                event = {'event': 'failed_password', 'user': m.group('fu'), 'ip': m.group('fip')}
            elif m.group('iu') is not None:
                event = {'event': 'invalid_user', 'user': m.group('iu'), 'ip': m.group('iip')}
            else:
                event = {'event': 'preauth_close', 'user': m.group('cu'), 'ip': m.group('cip')}
            for key in ('user', 'ip'):
                if event[key] is not None:
                    event[key] = event[key].decode('utf-8', 'replace')
            event['epoch'] = epoch
            event['pid'] = int(m.group('pid'))
            self.add(event)
        self.add_lines(lines_with(SLOW_WORDS, block), ref, source)

    def result(self):
        self._fold()

        def top(counts):
            return [{'key': k, 'count': v} for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:self.keep]]
        return {'by_event': self.by_event, 'failures_by_ip': top(self.failures_by_ip),
                'failures_by_user': top(self.failures_by_user), 'accepted': self.accepted,
                'privileged': self.privileged, 'first_epoch': self.first, 'last_epoch': self.last,
                'approximate': self.pruned > 0,
                # attempts: sshd connections (one pid each) with a failure; lines: every failure line
                'failed_attempts': self.attempts,
                'failure_lines': sum(self.by_event.get(kind, 0) for kind in self.FAILURES),
                'classic_stamps': {'zone': self.zone.name, 'years_assumed': sorted(self.years)}}


def one_source(text, journal, journal_from, since):
    """The summary of one source, so an event rsyslog copied from the journal counts once.

    The journal is preferred (UTC stamps, pids, no copy lost to rate limits) unless the text
    logs reach further back into the window (a volatile or rotated journal).  journal_from is
    the time of the journal's oldest entry on disk, from its file headers.
    """
    results = {'journal': journal.result(), 'text logs': text.result()}
    has = dict((name, bool(r['by_event'])) for name, r in results.items())
    text_from = text.covered_from
    if has['journal'] and has['text logs']:
        later = journal_from is not None and journal_from > since and text_from is not None and text_from < journal_from
        chosen = 'text logs' if later else 'journal'
        reason = ('the journal starts at %s, after the text logs: it was rotated or is volatile' % iso(journal_from)
                  if later else 'both hold the events; the journal reaches as far back into the window')
    elif has['text logs']:
        chosen, reason = 'text logs', 'only the text logs hold authentication events'
    else:
        chosen = 'journal'
        reason = 'only the journal holds authentication events' if has['journal'] else 'no authentication events'
    out = dict(results[chosen])
    out['source'] = chosen
    out['source_reason'] = reason
    out['other_source'] = dict((name, {'failed_attempts': r['failed_attempts'], 'failure_lines': r['failure_lines'],
                                       'by_event': r['by_event']}) for name, r in results.items() if name != chosen)
    return out
