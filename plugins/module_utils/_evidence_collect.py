# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the evidence bundle holds, in order of volatility, and how it is gathered.

The artifact table (_evidence_table) names every path and command; the engine
(_evidence_engine) walks it group by group; the steps and decoders (_evidence_groups)
read what no row can say; readiness (_evidence_readiness) is judged from what they saw.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import socket
import time

from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_authlog import one_source
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_engine import (  # pylint: disable=unused-import  # re-exported
    CONDITIONS, PATH, CollectionLog, Engine,
)
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_groups import Steps
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_observers import (  # pylint: disable=unused-import  # re-exported
    AcctObserver, BackgroundObserver, BlockObserver, LineObserver,
)
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_readiness import verdicts
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_table import ARTIFACTS, BLOCKLIST_REFRESH_STATE, GROUPS
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_window import Window, iso, parse_time  # pylint: disable=unused-import

# Bundle layout version, in summary/bundle.json: 2 added summary/bundle.json and the auth summary's
# source, failed_attempts and failure_lines; member names are those of version 1.
FORMAT_VERSION = 2


def clock_state():
    """Time zone and kernel clock discipline (adjtimex), read without starting a process."""
    out = {'utc_now': iso(time.time()), 'tzname': list(time.tzname), 'utc_offset_s': -time.timezone}
    try:
        out['localtime'] = os.readlink('/etc/localtime')
    except OSError:
        out['localtime'] = None
    try:
        with open('/etc/timezone') as handle:
            out['timezone'] = handle.read().strip()
    except OSError:
        out['timezone'] = None
    try:
        import ctypes
        import struct
        libc = ctypes.CDLL(None, use_errno=True)
        buf = ctypes.create_string_buffer(256)
        state = libc.adjtimex(buf)
        _modes, offset, _freq, maxerror, esterror, status = struct.unpack_from('@iLllli', buf.raw)
        offset = ctypes.c_long(offset).value
        nano = status & 0x2000
        out.update({'clock_state': {0: 'TIME_OK', 5: 'TIME_ERROR (not synchronised)'}.get(state, str(state)),
                    'ntp_offset_us': offset / 1000.0 if nano else offset, 'maxerror_us': maxerror,
                    'esterror_us': esterror, 'synchronised': state != 5 and not status & 0x40})
    except Exception as exc:  # pylint: disable=broad-except
        out['clock_state'] = 'unknown: %s' % exc
    return out


def running(proc, name):
    """Whether a process of that name runs, read from /proc without starting one."""
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit()]
    except OSError:
        return False
    for pid in pids:
        try:
            with open(os.path.join(proc, pid, 'comm')) as handle:
                if handle.read().strip() == name:
                    return True
        except OSError:
            continue
    return False


class Collector:
    """Gather the groups asked for into a BundleWriter; root is a fixture tree in tests."""

    def __init__(self, writer, since, until, groups, timeout, log=None, root='/'):
        self.w = writer
        self.window = Window(since, until)
        self.groups = groups
        self.engine = Engine(writer, self.window, timeout, root=root, log=log)
        self.log = self.engine.log
        self.steps = Steps(self.engine)
        self.readiness = []
        self.flagged = self.steps.flagged
        self.auth = None

    def run(self, name, argv, group, cap=None, observer=None, ok_rcs=(0,)):
        return self.engine.run(name, argv, group, cap=cap, observer=observer, ok_rcs=ok_rcs)

    def jsonl(self, name, rows, group, source=None):
        return self.engine.jsonl(name, rows, group, source=source)

    def collect(self):
        self.log.write('window since=%s until=%s' % (iso(self.window.since), iso(self.window.until)))
        self.log.write('clock %s' % json.dumps(clock_state(), sort_keys=True))
        self.log.write('host %s, collector pid %d, root %s, family %s, zone %s' % (
            socket.gethostname(), os.getpid(), self.engine.root, self.engine.family, self.steps.zone.name))
        for group in GROUPS:
            if group in self.groups:
                started = time.time()
                self.engine.walk(group, self.steps)
                self.log.write('group %s done in %.2fs, bundle holds %d bytes' % (group, time.time() - started, self.w.stored))
        self.readiness = verdicts(self.observations(), self.groups)
        self.w.add_json('summary/readiness.json', self.readiness, 'readiness')
        self.auth = one_source(self.steps.auth_text, self.steps.auth_journal, self.steps.observed['journal_head'],
                               self.window.since)
        self.w.add_json('summary/auth_events.json', self.auth, 'auth')
        self.w.add_json('summary/bundle.json', {'format_version': FORMAT_VERSION, 'window': self.window.text(),
                                                'os_family': self.engine.family, 'host_zone': self.steps.zone.name},
                        'readiness')
        return self

    def found(self, decoder):
        """Host paths the rows with this decoder found (also those skipped as older than the window)."""
        return [self.w.shown(path) for index, paths in sorted(self.engine.observed.items())
                if ARTIFACTS[index].get('decoder') == decoder for path in paths]

    def observations(self):
        obs = dict(self.steps.observed)
        pacct = self.found('acct')
        obs.update(auth_logs=self.found('auth'), sa_files=self.found('sa'), sa_in_window=len(self.steps.sa_headers),
                   pacct=pacct, audit_logs=self.found('audit'),
                   fail2ban_socket=CONDITIONS['fail2ban_socket'](self.engine),
                   auditd_running=running(self.engine.host('/proc'), 'auditd'))
        obs.update(atop_files=self.found('atop'), atop_running=running(self.engine.host('/proc'), 'atop'))
        obs['blocklist_refresh'] = read_json(self.engine.host(BLOCKLIST_REFRESH_STATE))
        obs['pacct_in_window'] = any(self.window.written_in(os.stat(self.engine.host(p)).st_mtime)
                                     for p in pacct if p.endswith('/pacct') and self.engine.exists(p))
        return obs


def read_json(path):
    """A small JSON file's value; None when it is absent, '' when it cannot be read."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (IOError, OSError):
        return None
    except ValueError:
        return ''


def bundle_name(hostname, when):
    stamp = datetime.datetime.fromtimestamp(when, datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
    return 'evidence-%s-%s' % (hostname.split('.')[0] or 'host', stamp), stamp
