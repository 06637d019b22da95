#!/usr/bin/env python3
"""Write auth and syslog files of realistic shape for the evidence benches.

Usage: make_logs.py MIB DIR [--start EPOCH] [--only NAME]
Writes DIR/auth.log, auth.log.1, syslog and syslog.1, MIB MiB in all (MIB / 4 each), in time
order over the day before --start (default now); --only writes just one of them. A botnet of 5000 addresses tries eight user names,
and addresses, ports and pids vary, so gzip works as it would on a real host. Standard
library only: it also runs inside the bench containers.
"""

import os
import random
import sys
import time

USERS = ['root', 'admin', 'oracle', 'ubuntu', 'test', 'deploy', 'git', 'postgres']


def main(argv):
    total = int(argv[1]) << 20
    directory = argv[2]
    now = float(argv[argv.index('--start') + 1]) if '--start' in argv else time.time()
    rnd = random.Random(7)
    botnet = ['%d.%d.%d.%d' % (rnd.randrange(1, 224), rnd.randrange(256), rnd.randrange(256), rnd.randrange(1, 255))
              for _ in range(5000)]

    def stamp(t, i):
        return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t)) + '.%06d+00:00' % (i % 1000000)

    def auth_line(t, i):
        ip, pid, port = rnd.choice(botnet), 1000 + i % 60000, rnd.randrange(1024, 65535)
        kind = i % 4
        if kind == 0:
            return '%s bench sshd[%d]: Invalid user %s from %s port %d\n' % (stamp(t, i), pid, rnd.choice(USERS), ip, port)
        if kind == 1:
            return '%s bench sshd[%d]: Failed password for invalid user %s from %s port %d ssh2\n' % (
                stamp(t, i), pid, rnd.choice(USERS), ip, port)
        if kind == 2:
            return '%s bench sshd[%d]: Connection closed by authenticating user root %s port %d [preauth]\n' % (
                stamp(t, i), pid, ip, port)
        return '%s bench CRON[%d]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)\n' % (stamp(t, i), pid)

    def sys_line(t, i):
        return '%s bench kernel: [%d.%06d] IN=eth0 OUT= SRC=%d.%d.%d.%d DST=10.0.0.5 LEN=%d TTL=%d ID=%d PROTO=TCP SPT=%d DPT=22 SYN\n' % (
            stamp(t, i), i // 1000, i % 1000000, rnd.randrange(1, 224), rnd.randrange(256), rnd.randrange(256),
            rnd.randrange(256), rnd.choice((40, 44, 60)), rnd.randrange(30, 128), rnd.randrange(65536), rnd.randrange(1024, 65535))

    # rotated files hold the older half of the day: .1 first, then the live file
    only = argv[argv.index('--only') + 1] if '--only' in argv else None
    for n, name in enumerate(['auth.log.1', 'auth.log', 'syslog.1', 'syslog']):
        if only and name != only:
            continue
        want = total // 4
        make = auth_line if name.startswith('auth') else sys_line
        first = now - 86400 + (n % 2) * 43200
        written = i = 0
        with open(os.path.join(directory, name), 'w') as handle:
            while written < want:
                block = ''.join(make(first + 43200.0 * written / want, i + k) for k in range(2000))
                handle.write(block)
                written += len(block)
                i += 2000
        mtime = first + 43200
        os.utime(os.path.join(directory, name), (mtime, mtime))


if __name__ == '__main__':
    main(sys.argv)
