#!/usr/bin/env python3
"""Run a playbook in check mode and fail if any task reports a change.

Usage: check_clean.py INVENTORY PLAYBOOK [extra ansible-playbook args]
Prints one line per changed task (host, play, task) and a summary line.
"""
import json
import os
import subprocess
import sys


def changed_tasks(report):
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            for host, res in task.get("hosts", {}).items():
                if res.get("changed"):
                    yield host, play["play"]["name"], task["task"]["name"]


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    inventory, playbook = argv[1], argv[2]
    # A converge playbook imported by path resolves relative to the scenario directory.
    playbook = os.path.realpath(playbook)
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    cmd = ["ansible-playbook", "-i", inventory, "--check", playbook] + argv[3:]
    proc = subprocess.run(cmd, env=env, check=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    try:
        # Other enabled callbacks (profile_tasks) may print around the JSON document.
        report = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{"):])[0]
    except ValueError:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        print("check mode: ansible-playbook did not produce a JSON report (exit %d)" % proc.returncode)
        return 1
    changes = list(changed_tasks(report))
    for host, play, task in changes:
        print("would change: %s | %s | %s" % (host, play, task))
    stats = report.get("stats", {})
    failed = {h: s for h, s in stats.items() if s.get("failures") or s.get("unreachable")}
    for host, s in sorted(stats.items()):
        print("%s: ok=%d changed=%d failed=%d unreachable=%d" % (
            host, s.get("ok", 0), s.get("changed", 0), s.get("failures", 0), s.get("unreachable", 0)))
    if proc.returncode != 0 or failed:
        sys.stderr.write(proc.stderr[-4000:])
        print("check mode: the run failed (exit %d)" % proc.returncode)
        return 1
    if changes:
        print("check mode: %d task(s) would change a converged host" % len(changes))
        return 1
    print("check mode: no changes on %d host(s)" % len(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
