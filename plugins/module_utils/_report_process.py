# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings from the process history (atop/processes.jsonl) and the persistence baseline
(baseline/diff.json, baseline/watch_events.jsonl), and the rows of the HTML's CPU-by-range table.

The bundle members and their shapes are documented in roles/atop/README.md and
roles/persistence_baseline/README.md; _report_rules calls RULE_FUNCTIONS from evaluate().
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import re

from ansible_collections.quietnode.baseline.plugins.module_utils._baseline_manifest import SURFACES
from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_records import iso
from ansible_collections.quietnode.baseline.plugins.module_utils._report_bundle import Ref
from ansible_collections.quietnode.baseline.plugins.module_utils import _report_rules as rules

# Rows of atop/processes.jsonl kept in memory (a 48-hour window of an idle host holds about 30,000).
MAX_ATOP = 150000
AtopRow = collections.namedtuple('AtopRow', 'epoch interval pid ppid uid user name cmdline state cpu rss_kb read_kb '
                                            'write_kb started ref')
# The recorders themselves: labelled, never flagged.
RECORDER_COMMANDS = ('atop', 'atopacctd', 'accton', 'sadc', 'sa1', 'sa2')
# Mitogen titles the Python it starts for Ansible with the controller's user, host and pid.
MITOGEN_TITLE = re.compile(r'\(mitogen:([^@()\s]+)@([^:()\s]+):(\d+)\)')
# Paths below which a package manager, not a person, installs units and setuid programs.
PACKAGE_PATHS = ('/usr/', '/lib/', '/bin/', '/sbin/')
# Surfaces whose change is an intrusion's way back in, with the words a reader sees.
KINDS = {
    'authorized_keys': 'SSH authorized_keys', 'accounts': 'accounts (passwd, group, shadow)', 'sudoers': 'sudo rules',
    'cron': 'cron jobs', 'at': 'at jobs', 'systemd': 'systemd units and timers', 'systemd_user': 'user systemd units',
    'ld_preload': 'ld.so.preload and the loader configuration', 'rc_local': 'rc.local', 'profile': 'shell start-up files',
    'shell_startup': 'shell start-up files', 'modules': 'kernel module configuration', 'pam': 'PAM configuration',
    'sshd': 'sshd configuration', 'suid': 'setuid/setgid programs', 'persistence': 'persistence files',
    'listening': 'listening sockets', 'modules_loaded': 'loaded kernel modules',
}
SUDO_GROUPS = ('sudo', 'wheel', 'admin')


# -- reading ---------------------------------------------------------------------------------
def store_atop(ev, name, line_no, row):
    if len(ev.atop) >= MAX_ATOP:
        ev.atop_dropped += 1
        return
    try:
        started = rules.iso_epoch(row['started']) if row.get('started') else None
        ev.atop.append(AtopRow(row['epoch'], row['interval_s'], row['pid'], row.get('ppid'), row['uid'],
                               row.get('user') or str(row['uid']), row['name'], row.get('cmdline'), row['state'],
                               round((row.get('cpu_user_s') or 0) + (row.get('cpu_system_s') or 0), 2),
                               row.get('rss_kb'), row.get('disk_read_kb') or 0, row.get('disk_write_kb') or 0,
                               started, (name, line_no)))
    except (KeyError, TypeError, ValueError):
        return
    title = mitogen_title(row.get('cmdline'))
    if title:
        ev.mitogen_titles[row['pid']] = title


def mitogen_title(cmdline):
    """(user, host, pid) of the context that started this Mitogen Python, from its title, else None."""
    found = MITOGEN_TITLE.search(cmdline or '')
    return (found.group(1), found.group(2), int(found.group(3))) if found else None


def store_watch(ev, name, line_no, row):
    if len(ev.watch_events) < 20000 and isinstance(row, dict) and 'epoch' in row:
        row['ref'] = Ref(name, '%s %s %s' % (row.get('key'), row.get('syscall'), ' '.join(
            p.get('name') or '' for p in row.get('paths', []))), line=line_no)
        ev.watch_events.append(row)


STORES = {'atop': store_atop, 'watch': store_watch}


def _ref(row):
    name, line_no = row.ref
    text = '%s pid %s %s cpu=%.2fs' % (iso(row.epoch), row.pid, row.cmdline or row.name, row.cpu)
    return Ref(name, text, line=line_no)


def own_pids(ev):
    """The collector's own processes: its chain up to the login's sshd. The chain goes on to the sshd
    listener and pid 1, whose other children (every daemon) are not this collection's."""
    session = ev.own_session if isinstance(ev.own_session, dict) else {}
    chain = [p for p in session.get('chain') or [] if isinstance(p, dict)]
    if not chain:
        return set(session.get('pids') or []) - {1}
    own = set()
    for proc in chain:
        if proc.get('pid') == 1 or '[listener]' in (proc.get('cmdline') or ''):
            break
        own.add(proc.get('pid'))
        if proc.get('pid') == session.get('sshd_pid'):
            break
    return own


def ansible_origin(ev, row):
    """user@host of the controller whose Ansible started this Python, else None. A become (sudo) context is titled
    with the interpreter that started it on this host, so the titles are followed up to the controller's."""
    title = mitogen_title(row.cmdline)
    hops = 0
    while title and title[2] in ev.mitogen_titles and hops < len(ev.mitogen_titles):
        title, hops = ev.mitogen_titles[title[2]], hops + 1
    return '%s@%s' % title[:2] if title else None


def label(ev, row, own):
    """Why a process is not suspicious: the collection itself, a recorder or a known maintenance job."""
    if row.pid in own or row.ppid in own:
        return 'this collection'
    # An earlier Ansible run (site.yml just before, say) is not this collection: say whose it was.
    origin = ansible_origin(ev, row)
    if origin:
        return 'Ansible, run from %s' % origin
    if row.uid == 0 and row.epoch >= ev.started - 120 and rules.COLLECTOR_COMMANDS.match(row.name):
        return 'this collection'
    if row.name in RECORDER_COMMANDS:
        return 'recorder'
    return rules.benign_label(row.name, row.user or rules.user_name(ev, row.uid))


def kernel_thread(row):
    """A kernel thread (kthreadd or its children): atop shows it with no command line and no memory.
    Its name is the kernel's own (rcu_preempt, kworker/0:1), never a disguise."""
    if row.pid == 2 or row.ppid == 2:
        return True
    return row.ppid in (None, 0) and not row.cmdline and not row.rss_kb and row.state != 'Z'


def command_of(row):
    return (row.cmdline or row.name)[:120]


# -- top CPU from atop -----------------------------------------------------------------------
def r_cpu_atop(ev, ctx):
    """The heaviest programs of the window by user and command, with their running time."""
    if not ev.atop:
        return []
    own = own_pids(ev)
    groups = {}
    for row in ev.atop:
        key = (row.uid, row.name, command_of(row))
        g = groups.setdefault(key, {'cpu': 0.0, 'pids': set(), 'first': row.started or row.epoch - row.interval, 'last': row.epoch,
                                    'user': row.user, 'ref': None, 'max': -1, 'labels': set(), 'exited': 0})
        g['cpu'] += row.cpu
        g['pids'].add(row.pid)
        g['first'] = min(g['first'], row.started or row.epoch - row.interval)
        g['last'] = max(g['last'], row.epoch)
        g['exited'] += row.state == 'E'
        g['kernel'] = g.get('kernel', True) and kernel_thread(row)
        lab = label(ev, row, own)
        if lab:
            g['labels'].add(lab)
        if row.cpu > g['max']:
            g['max'], g['ref'] = row.cpu, _ref(row)
    ranked = sorted(groups.items(), key=lambda kv: -kv[1]['cpu'])
    out, top = [], []
    for (uid, name, command), g in ranked[:10]:
        if g['cpu'] < 0.5:
            break
        top.append({'user': g['user'], 'uid': uid, 'command': name, 'command_line': command, 'cpu_s': round(g['cpu'], 1),
                    'runs': len(g['pids']), 'running_s': round(g['last'] - g['first']), 'first': iso(g['first']),
                    'last': iso(g['last']), 'still_running': not g['exited'],
                    'label': ', '.join(sorted(g['labels'])) or None, 'source': 'atop'})
    if top:
        out.append(rules._finding('cpu-top', 'high', min(g['first'] for _k, g in ranked[:10]),
                                  max(g['last'] for _k, g in ranked[:10]), [g['ref'] for _k, g in ranked[:5] if g['ref']],
                                  facts={'top': top, 'source': 'atop/processes.jsonl'},
                                  top='; '.join('%s as %s: %s CPU s over %s s%s' % (
                                      t['command_line'][:60], t['user'], t['cpu_s'], t['running_s'],
                                      (' [%s]' % t['label']) if t['label'] else '') for t in top[:5])))
    for (uid, name, command), g in ranked[:20]:
        if g['labels']:
            continue
        if rules.DISGUISE.match(name) and g['cpu'] >= 1 and not g['kernel']:
            out.append(rules._finding('exec-disguised', 'high', g['first'], g['last'], [g['ref']],
                                      facts={'command': name, 'command_line': command, 'user': g['user'],
                                             'cpu_s': round(g['cpu'], 1), 'running_s': round(g['last'] - g['first']),
                                             'source': 'atop'},
                                      comm=name, user=g['user'], cpu=round(g['cpu'], 1), running=round(g['last'] - g['first']),
                                      source='atop (%s)' % command))
        elif 0 < uid < 1000 and g['cpu'] >= 30:
            out.append(rules._finding('cpu-service-account', 'high', g['first'], g['last'], [g['ref']],
                                      facts={'command': name, 'command_line': command, 'user': g['user'], 'uid': uid,
                                             'cpu_s': round(g['cpu'], 1), 'source': 'atop'},
                                      comm=command, user=g['user'], uid=uid, cpu=round(g['cpu'], 1)))
    return out


# -- programs from temporary directories ---------------------------------------------------------
def temp_program(row):
    """The program path of an atop row when it lies in a temporary directory or in memory."""
    argv0 = (row.cmdline or '').split(' ', 1)[0]
    if argv0.startswith(rules.TEMP_DIRS) or argv0.startswith('/memfd:'):
        return argv0
    return None


def atop_temp_programs(ev):
    """(program, user) -> what atop saw of each program started from a temporary directory or memory.

    _report_rules.r_exec_temp merges these with the audit and live records of the same program."""
    seen = collections.OrderedDict()
    own = own_pids(ev)
    for row in ev.atop:
        program = temp_program(row)
        if not program or row.pid in own:
            continue
        g = seen.setdefault((program, row.user), {'pids': set(), 'cpu': 0.0, 'first': row.started or row.epoch - row.interval,
                                                  'last': row.epoch, 'refs': [], 'cmdline': row.cmdline, 'uid': row.uid,
                                                  'ended': set()})
        g['pids'].add(row.pid)
        g['cpu'] += row.cpu
        g['first'] = min(g['first'], row.started or row.epoch - row.interval)
        g['last'] = max(g['last'], row.epoch)
        if row.state == 'E':
            g['ended'].add(row.pid)
        if len(g['refs']) < 3:
            g['refs'].append(_ref(row))
    # A program started in the window from a temporary directory and still there is in the list of files changed
    # in the window; missing from it, its file was deleted since.
    on_disk = set(r.get('path') for r in ev.changed) if 'changed_files' in ev.present else None
    out = collections.OrderedDict()
    for (program, user), g in seen.items():
        out[(program, user)] = {
            'uid': g['uid'], 'command_line': g['cmdline'], 'pids': sorted(g['pids']), 'cpu_s': round(g['cpu'], 1),
            'first': iso(g['first']), 'last': iso(g['last']), 'running_s': round(g['last'] - g['first']),
            'file_deleted': None if on_disk is None else program not in on_disk,
            'running_at_end': sorted(g['pids'] - g['ended']) if g['last'] >= ev.started - 180 else [],
            'refs': g['refs']}
    return out


# -- persistence against the baseline ---------------------------------------------------------
UNSET = rules.UNSET
PACKAGE_EXES = ('dpkg', 'apt', 'apt-get', 'aptitude', 'unattended-upgr', 'unattended-upgrade', 'rpm', 'dnf', 'yum',
                'dnf-automatic', 'packagekitd')


def attribute(ev, ctx, windows, event, program=True):
    """(owner?, how) for one watch event: by its audit session when the records name it, else by time only.

    A session is the owner's when sshd logged it in from the allowlist, the controller or this collection's
    address, or it is the collection's own; a change with no login (auid unset) was made by a service or a
    daemon, which is never the owner, except the package manager. program=False leaves the daemon's program out
    of the words, for a text that names it with each change."""
    exe = (event.get('exe') or '').rsplit('/', 1)[-1]
    auid, ses = str(event.get('auid')), str(event.get('ses'))
    session = ev.own_session if isinstance(ev.own_session, dict) else {}
    if exe in PACKAGE_EXES or (event.get('comm') or '') in PACKAGE_EXES:
        return True, 'the package manager (%s)' % exe
    if auid in UNSET or ses in UNSET:
        exe = ('%s, ' % (event.get('exe') or event.get('comm'))) if program else ''
        return False, 'a service or daemon (%sno login session: audit login uid unset)' % exe
    if session.get('audit_session') is not None and ses == str(session.get('audit_session')):
        return True, "this collection's own session (audit session %s)" % ses
    login = (getattr(ev, 'audit_sessions', None) or {}).get(ses)
    if login and not login[1]:
        return False, 'a session opened by %s for %s (audit session %s), not a login of yours' % (login[3], login[0], ses)
    if login:
        _users, ips = rules.own_session(ev, ctx)
        addr = login[1]
        if ctx.allowed(addr) or addr in ctx.controller or addr in ips:
            return True, 'your login from %s (audit session %s)' % (addr, ses)
        return False, 'a login of %s from %s (audit session %s), not an address known as yours' % (login[0], addr, ses)
    if any(start <= event['epoch'] <= end for start, end in windows):
        return True, 'by time only: during a login of yours (no audit record names session %s)' % ses
    return False, 'by time only: no login of yours then (no audit record names session %s)' % ses


def _owner_event(ev, ctx, windows, event):
    return attribute(ev, ctx, windows, event)[0]


def _path_events(ev):
    """path -> successful watch events that touched it, oldest first."""
    out = collections.defaultdict(list)
    for event in ev.watch_events:
        if event.get('success', True):
            for item in event.get('paths') or []:
                if item.get('name') and event not in out[item['name']]:
                    out[item['name']].append(event)
    return out


def _item_words(surface, action, item):
    text = '%s %s' % (item['path'], action)
    if item.get('fields'):
        text += ' (%s)' % ', '.join(item['fields'])
    added, removed = item.get('lines_added') or [], item.get('lines_removed') or []
    if surface == 'authorized_keys':
        added = [line.split()[-1] for line in added if line.split()]
        removed = [line.split()[-1] for line in removed if line.split()]
    if added:
        text += ', lines added: %s' % '; '.join(x[:100] for x in added[:3])
    if removed:
        text += ', lines removed: %s' % '; '.join(x[:100] for x in removed[:3])
    if not added and not removed and item.get('lines_now') and action == 'changed':
        # a snapshot without lines (format 1): what the file holds now is all that can be said
        now = [line.split()[-1] if surface == 'authorized_keys' else line for line in item['lines_now'] if line.split()]
        text += ', now holding: %s' % '; '.join(x[:100] for x in now[-3:])
    return text


def r_baseline(ev, ctx):
    diff = ev.baseline_diff if isinstance(ev.baseline_diff, dict) else None
    if diff is None and not ev.watch_events:
        return []
    own = rules.own_session(ev, ctx)
    windows = rules.owner_windows(ev, ctx, own)
    packages = bool(ev.events.get('package'))
    out = []
    by_kind = collections.defaultdict(list)
    routine = collections.defaultdict(list)
    paths_in_diff = set()
    touched = _path_events(ev)
    for surface, changes in sorted(((diff or {}).get('surfaces') or {}).items()):
        if surface in ('listening', 'modules', 'accounts'):
            # the account files are said by _accounts(); they are not "undone" either
            paths_in_diff.update(i.get('path') for a in changes.values() for i in a if isinstance(i, dict) and i.get('path'))
            if surface == 'accounts':
                paths_in_diff.update(('/etc/passwd', '/etc/group', '/etc/shadow', '/etc/gshadow'))
            continue
        for action in ('added', 'removed', 'changed'):
            for item in changes.get(action, []):
                # An older collector compared a format-1 snapshot with a format-2 host: nothing differs.
                if action == 'changed' and not (item.get('fields') or item.get('lines_added') or item.get('lines_removed')):
                    continue
                paths_in_diff.add(item['path'])
                ref = Ref(ev.members['baseline_diff'][0] if ev.members['baseline_diff'] else 'baseline/diff.json',
                          item['path'], key='surfaces.%s.%s' % (surface, action))
                mtime = item.get('mtime_now') or item.get('mtime_then')
                epoch = rules.iso_epoch(mtime) if mtime else None
                entry = (epoch, _item_words(surface, action, item), ref, item)
                events = touched.get(item['path'])
                if events:
                    # The audit watches name who wrote the file: identity decides, not the time.
                    who = [attribute(ev, ctx, windows, e) for e in events]
                    item = dict(item, attribution='; '.join(sorted(set(h for _o, h in who))))
                    entry = (epoch, entry[1], ref, item)
                    (routine if all(o for o, _h in who) else by_kind)[surface].append(entry)
                elif item['path'].startswith(PACKAGE_PATHS) and (packages or surface == 'suid' and action == 'changed'):
                    routine[surface].append(entry)
                elif epoch is not None and any(start <= epoch <= end for start, end in windows):
                    entry[3]['attribution'] = 'by time only: changed during a login of yours (no audit record of the change)'
                    routine[surface].append(entry)
                else:
                    by_kind[surface].append(entry)
    for surface, entries in sorted(by_kind.items()):
        times = [e[0] for e in entries if e[0]]
        made_by, words = made_by_text(ev, ctx, windows, [(e[3]['path'], e[1], touched.get(e[3]['path'])) for e in entries])
        out.append(rules._finding('persistence', 'high', min(times) if times else None, max(times) if times else None,
                                  [e[2] for e in entries[:10]],
                                  facts={'kind': surface, 'source': 'baseline/diff.json',
                                         'snapshot': (diff or {}).get('snapshot'),
                                         'paths': [e[3]['path'] for e in entries], 'made_by': made_by,
                                         'items': [dict(e[3], what=e[1]) for e in entries[:50]]},
                                  kind=KINDS.get(surface, surface), what=words))
    for surface, entries in sorted(routine.items()):
        times = [e[0] for e in entries if e[0]]
        by_time = [e[3]['path'] for e in entries if (e[3].get('attribution') or '').startswith('by time only')]
        f = rules._finding('persistence-owner', 'low' if by_time else 'high', min(times) if times else None,
                           max(times) if times else None, [e[2] for e in entries[:10]], labels=['owner'],
                           facts={'kind': surface, 'source': 'baseline/diff.json',
                                  'why': 'package manager run or a session of yours',
                                  'paths': [e[3]['path'] for e in entries],
                                  'attribution': dict((e[3]['path'], e[3].get('attribution') or 'package manager run')
                                                      for e in entries)},
                           kind=KINDS.get(surface, surface), what=', '.join(e[3]['path'] for e in entries[:8]))
        if by_time:
            f['explanation'] += (' Attributed by time only (no audit record names who changed %s): lower confidence.'
                                 % ', '.join(by_time[:5]))
        out.append(f)
    out.extend(_accounts(ev, diff))
    out.extend(_undone(ev, ctx, windows, paths_in_diff))
    return out


def _accounts(ev, diff):
    """New accounts, uid changes to 0 and new members of the sudo groups since the snapshot."""
    accounts = (diff or {}).get('accounts') or {}
    passwd, group = accounts.get('passwd') or {}, accounts.get('group') or {}
    ref = Ref(ev.members['baseline_diff'][0] if ev.members['baseline_diff'] else 'baseline/diff.json', '', key='accounts')
    items = []
    for row in passwd.get('added', []):
        items.append(('account %s added (uid %s, shell %s)' % (row.get('name'), row.get('uid'), row.get('shell')),
                      row.get('uid') == 0))
    for row in passwd.get('changed', []):
        then, now = row.get('then') or {}, row.get('now') or {}
        if then.get('uid') != now.get('uid') or then.get('shell') != now.get('shell'):
            items.append(('account %s changed (uid %s -> %s, shell %s -> %s)' % (
                row.get('name'), then.get('uid'), now.get('uid'), then.get('shell'), now.get('shell')), now.get('uid') == 0))
    for row in group.get('changed', []) + group.get('added', []):
        then, now = row.get('then') or {'members': []}, row.get('now') or row
        if now.get('name') in SUDO_GROUPS:
            new = sorted(set(now.get('members', [])) - set(then.get('members', [])))
            if new:
                items.append(('%s added to the %s group (can use sudo)' % (', '.join(new), now['name']), False))
    if not items:
        return []
    # when: the modification times of the account files that changed since the snapshot
    files = ((diff or {}).get('surfaces') or {}).get('accounts') or {}
    times = [rules.iso_epoch(i['mtime_now']) for i in files.get('changed', []) + files.get('added', []) if i.get('mtime_now')]
    return [rules._finding('persistence', 'high', min(times) if times else None, max(times) if times else None, [ref],
                           severity='critical' if any(root for _t, root in items) else None,
                           facts={'kind': 'accounts', 'source': 'baseline/diff.json', 'items': [t for t, _r in items],
                                  'paths': sorted(set(i['path'] for i in files.get('changed', []) + files.get('added', [])
                                                      if i.get('path'))),
                                  'users': sorted(set(r.get('name') for r in passwd.get('added', []) + passwd.get('changed', [])
                                                      if r.get('name')))},
                           kind=KINDS['accounts'], what='; '.join(t for t, _r in items[:6]))]


# Names a watch records that are no persistence of their own: shadow-utils' lock and backup files
# (/etc/passwd+, /etc/shadow-), sed -i's scratch copy and a path the kernel could not resolve.
SCRATCH = re.compile(r'[+-]$|\(null\)$|/sed[A-Za-z0-9]{6}$|\.dpkg-(new|old|tmp|dist)$')


def _scratch(path):
    return bool(SCRATCH.search(path))


# roles/auditd watches every ~/.ssh (not only the key files) and /etc/security/opasswd beside the account files;
# the other watched places are the snapshot's surfaces.
WATCHED_BEYOND_SURFACES = (('home', ('.ssh',)), ('path', ('/etc/security/opasswd',)))


def on_surface(ev, path):
    """Whether a path a watch event names lies in a watched place. A rename names its source as well: the
    ~/.ansible/tmp/.../.source that Ansible (anyone's) moves into /etc/cron.d is no persistence file, the
    destination is, and it is an item of its own. A name the collector could not make absolute is kept."""
    if not path.startswith('/'):
        return True
    homes = set(r['home'].rstrip('/') for r in ev.passwd if r.get('home')) | {'/root'}
    if path.startswith('/home/'):
        homes.add('/'.join(path.split('/')[:3]))
    for _surface, kind, places in SURFACES + tuple((None, k, p) for k, p in WATCHED_BEYOND_SURFACES):
        for place in places:
            for full in ([h + '/' + place for h in homes] if kind == 'home' else [place]):
                if path == full or path.startswith(full + '/'):
                    return True
    return False


def _undone(ev, ctx, windows, paths_in_diff):
    """Files the watches saw created, written or deleted that the diff no longer shows (undone since)."""
    by_path = collections.OrderedDict()
    for event in ev.watch_events:
        if not event.get('success', True):
            continue
        for item in event.get('paths') or []:
            name = item.get('name') or ''
            if not name or name in paths_in_diff or name.endswith('/') or _scratch(name) or not on_surface(ev, name):
                continue
            by_path.setdefault(name, []).append((event, item.get('action')))
    # the surfaces a reader knows (cron, units, keys) first, so the explanation names them
    by_path = collections.OrderedDict(sorted(by_path.items(), key=lambda kv: rules.persistence_kind(kv[0]) is None))
    mine, other = [], []
    for path, events in by_path.items():
        owner = all(_owner_event(ev, ctx, windows, e) for e, _a in events)
        tool = all(rules.benign_label(e.get('comm') or '') == 'package manager' for e, _a in events)
        (mine if owner or tool else other).append((path, events))
    by_time = [path for path, events in mine
               if any(attribute(ev, ctx, windows, e)[1].startswith('by time only') for e, _a in events)]
    out = []
    for rule, group in (('persistence-undone', other), ('persistence-owner', mine)):
        if not group:
            continue
        refs, times, facts = [], [], []
        for path, events in group[:20]:
            refs.extend(e['ref'] for e, _a in events[:2])
            times.extend(e['epoch'] for e, _a in events)
            facts.append({'path': path, 'events': [{'time': e.get('time'), 'action': a, 'syscall': e.get('syscall'),
                                                    'comm': e.get('comm'), 'exe': e.get('exe'), 'uid': e.get('uid'),
                                                    'auid': e.get('auid'), 'ses': e.get('ses'),
                                                    'attribution': attribute(ev, ctx, windows, e)[1]}
                                                   for e, a in events[:10]]})
        if rule == 'persistence-undone':
            made_by = _made_by(ev, ctx, windows, group[:20])
            out.append(rules._finding(rule, 'high', min(times), max(times), refs,
                                      facts={'items': facts, 'paths': [f['path'] for f in facts], 'made_by': made_by,
                                             'source': 'baseline/watch_events.jsonl'},
                                      what=' '.join(_made_by_words(m) for m in made_by)))
        else:
            f = rules._finding(rule, 'low' if by_time else 'high', min(times), max(times), refs, labels=['owner'],
                               facts={'kind': 'watched files', 'paths': [f['path'] for f in facts],
                                      'source': 'baseline/watch_events.jsonl', 'items': facts},
                               kind='watched persistence files', what=', '.join(f['path'] for f in facts[:8]))
            if by_time:
                f['explanation'] += (' Attributed by time only (no audit record names the session that changed %s): '
                                     'lower confidence.' % ', '.join(by_time[:5]))
            out.append(f)
    return out


# Paths a group's words name; the rest are counted, and all are in facts.items.
UNDONE_NAMED = 12


def _made_by(ev, ctx, windows, group):
    """The changes grouped by who made them (session and user), each path once per group with its steps in order,
    so a busy night says "a service or daemon" once rather than once per change."""
    groups = collections.OrderedDict()
    last = {}
    for path, events in group:
        for event, action in events:
            uid = event.get('uid')
            who = (attribute(ev, ctx, windows, event, program=False)[1],
                   'root (uid 0)' if uid in (0, '0') else '%s (uid %s)' % (rules.user_name(ev, uid), uid))
            steps = groups.setdefault(who, collections.OrderedDict()).setdefault(path, [])
            what, by = action or event.get('syscall') or 'changed', event.get('comm') or event.get('exe') or '?'
            if (what == 'created' and steps and steps[-1]['action'] == 'deleted' and steps[-1]['count'] == 1
                    and last.get(path) is event):
                # one rename over the file (sed -i, useradd, an atomic copy): its records say deleted, then created
                steps[-1]['action'] = 'replaced'
            elif steps and steps[-1]['action'] == what and steps[-1]['by'] == by:
                steps[-1]['count'] += 1
            else:
                steps.append({'action': what, 'by': by, 'time': rules.iso(int(event['epoch'])), 'count': 1})
            last[path] = event
    return [{'who': who, 'as': user, 'paths': [{'path': p, 'steps': s} for p, s in paths.items()]}
            for (who, user), paths in groups.items()]


def _with_actions(path, events):
    """(event, action) for each PATH record of path in the watch events (a rename over it: deleted, then created)."""
    return [(e, i.get('action')) for e in events for i in e.get('paths') or [] if i.get('name') == path]


def made_by_text(ev, ctx, windows, items):
    """(made_by, words) for changed files: who made them once per session and user, then each file's words
    and steps. items: [(path, words, watch events that named it)]; a file no audit record names comes first."""
    plain = [w for _p, w, events in items if not events]
    made_by = _made_by(ev, ctx, windows, [(p, _with_actions(p, events)) for p, _w, events in items if events])
    # what is said of a file after its name follows its steps: "path (steps) changed, lines added: key"
    words = dict((p, w[len(p):] if w.startswith(p) else ' ' + w) for p, w, events in items if events)
    parts = ['No audit record says who changed %s%s.' % (
        '; '.join(plain[:UNDONE_NAMED]), ' and %d more file(s)' % (len(plain) - UNDONE_NAMED) if len(plain) > UNDONE_NAMED else '')
    ] if plain else []
    parts += [_made_by_words(m, words) for m in made_by]
    count = len(items)
    return made_by, '%d file%s. %s' % (count, '' if count == 1 else 's', ' '.join(parts)[:-1])


def _made_by_words(group, words=None):
    """One actor's sentence. words: path -> what the difference says of it after its name, said the first time
    the path comes up (popped), so a file two sessions touched is described once."""
    day = None
    items = []
    for item in group['paths'][:UNDONE_NAMED]:
        steps = []
        for step in item['steps'][:6]:
            # the date once per group: a night's changes share it
            stamp = rules.when_iso(step['time']) if step['time'][:10] != day else step['time'][11:16] + ' UTC'
            day = step['time'][:10]
            steps.append('%s%s at %s by %s' % (step['action'], ' %d times' % step['count'] if step['count'] > 1 else '',
                                               stamp, step['by']))
        items.append('%s (%s)%s' % (item['path'], ', '.join(steps), (words or {}).pop(item['path'], '')))
    more = len(group['paths']) - UNDONE_NAMED
    # attribute() words are "a login of ...", "a service ..." or "by time only: ..."; the last needs its own lead
    who = group['who']
    lead = ('Who made these is known %s' % who) if who.startswith('by time only') else 'Made by %s' % who
    return '%s, running as %s: %s%s.' % (lead, group['as'], '; '.join(items),
                                         ' and %d more file(s)' % more if more > 0 else '')


RULE_FUNCTIONS = (r_cpu_atop, r_baseline)


# -- the HTML's CPU-by-range table -------------------------------------------------------------
def process_rows(ev, limit):
    """[start, end, cpu_s, user, command, label] per atop interval, heaviest first; (rows, dropped)."""
    own = own_pids(ev)
    rows = sorted((r for r in ev.atop if r.cpu > 0), key=lambda r: -r.cpu)
    out = [[int(r.epoch - r.interval), int(r.epoch), r.cpu, r.user, command_of(r)[:80], label(ev, r, own) or '']
           for r in rows[:limit]]
    return out, max(0, len(rows) - limit)
