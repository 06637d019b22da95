# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which login reaches a host right now, tried over fresh SSH connections from the controller.

Every try opens a new connection (ControlMaster=no, ControlPath=none), so a master
connection that Ansible kept open from an earlier run cannot make a refused login
look accepted. The remote command also reports whether sudo needs a password, so a
missing become password is caught before anything changes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shlex
import subprocess

# What the remote shell prints: the controller's address as the host sees it (the one read the
# other roles use), and whether this user reaches root without a password.
REMOTE_COMMAND = ('echo "QN_CLIENT=${SSH_CONNECTION%% *}"; '
                  'if [ "$(id -u)" = 0 ]; then echo QN_SUDO=root; '
                  'elif ! command -v sudo >/dev/null 2>&1; then echo QN_SUDO=missing; '
                  'elif sudo -n true 2>/dev/null; then echo QN_SUDO=nopasswd; '
                  'else echo QN_SUDO=password; fi')


def remote_command(pythons=()):
    """REMOTE_COMMAND, plus the first of `pythons` the login finds, as Ansible's interpreter discovery
    would (`command -v` in list order, paths only). Knowing it saves a second connection per run."""
    if not pythons:
        return REMOTE_COMMAND
    return REMOTE_COMMAND + ('; for p in %s; do q=$(command -v "$p" 2>/dev/null) && case $q in /*) '
                             'echo "QN_PYTHON=$q"; break;; esac; done; true' % ' '.join(shlex.quote(str(p)) for p in pythons))


FRESH = ['-o', 'ControlMaster=no', '-o', 'ControlPath=none', '-o', 'ControlPersist=no']
KEY_ONLY = ['-o', 'BatchMode=yes', '-o', 'PasswordAuthentication=no', '-o', 'KbdInteractiveAuthentication=no']
PASSWORD = ['-o', 'BatchMode=no', '-o', 'PubkeyAuthentication=no', '-o', 'NumberOfPasswordPrompts=1',
            '-o', 'PreferredAuthentications=password,keyboard-interactive']


def ssh_argv(host, candidate, key_file=None, ssh_args='', host_key_checking=True, timeout=10, executable='ssh', pythons=()):
    """The ssh (or sshpass ssh) command line for one candidate {user, port, password}."""
    argv = [executable] + FRESH + ['-o', 'ConnectTimeout=%d' % int(timeout)]
    if not host_key_checking:
        argv += ['-o', 'StrictHostKeyChecking=no']
    if candidate.get('password'):
        # The password reaches sshpass through its environment, never the command line.
        argv = ['sshpass', '-e'] + argv + PASSWORD
    else:
        argv += KEY_ONLY
    if key_file:
        argv += ['-i', key_file]
    argv += shlex.split(ssh_args or '')
    argv += ['-l', candidate['user'], '-p', str(int(candidate['port'])), host, remote_command(pythons)]
    return argv


def _last_line(text):
    lines = [line.strip() for line in (text or '').splitlines() if line.strip() and 'Warning: Permanently added' not in line]
    return lines[-1] if lines else ''


def run_ssh(argv, password, timeout):
    env = None
    if password:
        env = dict(os.environ, SSHPASS=password)
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return 255, '', 'no answer within %d s' % timeout
    except OSError as exc:
        return 127, '', '%s: %s' % (argv[0], exc.strerror)
    return proc.returncode, proc.stdout, proc.stderr


def probe(host, candidates, key_file=None, ssh_args='', host_key_checking=True, timeout=10, runner=run_ssh, pythons=()):
    """Try each candidate in order; stop at the first login that works.

    Returns (chosen or None, attempts). Each attempt: user, port, method, ok, sudo, client, python, error.
    """
    attempts = []
    for candidate in candidates:
        argv = ssh_argv(host, candidate, key_file, ssh_args, host_key_checking, timeout, pythons=pythons)
        rc, out, err = runner(argv, candidate.get('password'), timeout + 5)
        answer = {}
        for line in out.splitlines():
            if line.startswith(('QN_SUDO=', 'QN_CLIENT=', 'QN_PYTHON=')):
                answer[line.split('=', 1)[0]] = line.split('=', 1)[1].strip()
        sudo = answer.get('QN_SUDO', '')
        attempt = {
            'user': candidate['user'], 'port': int(candidate['port']),
            'method': 'password' if candidate.get('password') else 'key',
            'ok': rc == 0 and bool(sudo), 'sudo': sudo, 'client': answer.get('QN_CLIENT', ''),
            'python': answer.get('QN_PYTHON', ''),
            'error': '' if rc == 0 and sudo else (_last_line(err) or 'ssh exited %d' % rc),
        }
        attempts.append(attempt)
        if attempt['ok']:
            return attempt, attempts
    return None, attempts


def candidates(admin_user, admin_ports, configured_user, configured_port, password):
    """The logins to try, in order: the admin with a key, then the inventory's own login.

    Deterministic: once the admin can log in, every run uses it, whatever the inventory says
    about the first run; until then, the inventory's login (root with a password on day one).
    The admin is tried on the inventory's port before the managed one: behind NAT or a port
    forward the inventory's port is the only way in, and a managed port on a forwarded
    address could be some other machine's sshd.
    """
    out, seen = [], set()

    def add(user, port, secret):
        key = (user, int(port), bool(secret))
        if user and key not in seen:
            seen.add(key)
            out.append({'user': user, 'port': int(port), 'password': secret or ''})

    for port in [configured_port] + list(admin_ports):
        add(admin_user, port, '')
    if password:
        add(configured_user, configured_port, password)
    add(configured_user, configured_port, '')
    return out


# ssh's words when nothing answered: no credential can help then.
UNANSWERED = ('Connection refused', 'Connection timed out', 'No route to host', 'no answer within',
              'Could not resolve hostname', 'Network is unreachable')


def explain(host, attempts, after_change=False):
    """Why no login works, and the fix: the address or port when nothing answered, else the credentials.

    after_change: the probe that proves a change this run made (a firewall reload, new sshd settings), where
    something was changed and the role that made it says what its dead-man timer does next."""
    tried = '; '.join('%s@%s:%d by %s: %s' % (a['user'], host, a['port'], a['method'], a['error'] or 'sudo ' + a['sudo'])
                      for a in attempts)
    unanswered = attempts and all(any(word in a['error'] for word in UNANSWERED) for a in attempts)
    if after_change:
        cause = ('nothing answers SSH there now' if unanswered else
                 'SSH answers but refuses the login, or sudo fails, with the new settings')
        return 'connection: the fresh login to %s that proves this run\'s change failed (tried %s): %s.' % (host, tried, cause)
    if unanswered:
        fix = ("Nothing answered SSH there: check ansible_host and ansible_port in the inventory (and "
               "ssh_lockdown_port if sshd was moved), that the server is up, and that a firewall in front of it "
               "lets the controller in.")
    else:
        fix = ("On a new server set ansible_user and ansible_password (or a key) for the provider's first login; "
               "after the first run the admin in ssh_lockdown_admin_users logs in with its key. 'Host key "
               "verification failed' means the controller has not seen this host's key yet: ssh to it once.")
    return 'connection: no login to %s works now (tried %s). %s Nothing was changed.' % (host, tried, fix)
