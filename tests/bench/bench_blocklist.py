#!/usr/bin/env python3
"""Blocklist bench: seed-sized lists, normalisation and nftables apply, measured side by side in one run.

Generates (seeded) 157,600 IPv4 addresses, 46,084 IPv4 networks, 19,507 IPv6 networks and 7 IPv6
addresses, with addresses that fall inside listed networks, then measures:
  - normalisation: our integer range merge vs ipaddress.collapse_addresses (time, peak RSS, entries);
  - in a throwaway network namespace (the host's ruleset is never touched): raw `nft -f` of the
    collapsed table (per-source sets, and one interval set per family as before), the module's first apply,
    a no-change re-apply, a re-apply after a 1% change (partial),
    a raw atomic replace of the loaded table, `nft -t list ruleset`, the module's peak RSS, and the host's
    feed refresh for a first copy, a 1% changed and an unchanged feed. The refresh runs as its timer does:
    the role's script under `python -I` with its own copy of module_utils, whose bytecode the first run caches
    (the module, like every module Ansible sends, is compiled on each run).
Needs root, nft and ip. Usage: tests/bench/bench_blocklist.py [--seed N] [--rounds N] [--strict] [--skip-ipaddress]
"""

import os
import resource
import sys


def _peak_mb(who=resource.RUSAGE_SELF):
    return resource.getrusage(who).ru_maxrss / 1024.0


def _module_alone(args_path):
    """The module's process: run it before this file imports its harness, so its time and memory are its own
    (as under Ansible), then report its peak RSS and that of nft (its children)."""
    import atexit
    import runpy

    def report():
        sys.stderr.write("BENCH_RSS %s %s\n" % (_peak_mb(), _peak_mb(resource.RUSAGE_CHILDREN)))
    atexit.register(report)
    sys.argv = ["ansible_collections.quietnode.baseline.plugins.modules.blocklist", args_path]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__" and sys.argv[1:2] == ["--module"] and len(sys.argv) == 3:
    _module_alone(sys.argv[2])
    sys.exit(0)

import argparse  # noqa: E402
import ipaddress
import json
import random
import shutil
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIONS = os.path.join(ROOT, "collections")
sys.path.insert(0, COLLECTIONS)

from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist as bl  # noqa: E402
from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist_nft as bnft  # noqa: E402
from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist_feeds as bfeeds  # noqa: E402
from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist_options import with_defaults  # noqa: E402

SIZES = {"v4_addresses": 157600, "v4_networks": 46084, "v6_networks": 19507, "v6_addresses": 7}
TABLE = "quietnode_blocklist"
# The module needs ansible-core; the project's virtualenv has it even when this file runs under another python.
PYTHON = os.path.join(ROOT, ".venv", "bin", "python") if os.path.exists(os.path.join(ROOT, ".venv", "bin", "python")) else sys.executable
MODULE = "ansible_collections.quietnode.baseline.plugins.modules.blocklist"


def generate(seed, fraction_changed=0.0):
    """Seeded lists of the issue's sizes; about 10% of the addresses fall inside listed networks."""
    rnd = random.Random(seed)
    lines = ["# synthetic offenders, seed %d" % seed]
    nets = []
    for _ in range(SIZES["v4_networks"]):
        prefix = rnd.choice((16, 18, 20, 21, 22, 23, 24, 24, 24, 24))
        net = (rnd.randrange(1, 224) << 24 | rnd.getrandbits(24)) & ~((1 << (32 - prefix)) - 1)
        nets.append((net, prefix))
        lines.append("%s/%d" % (ipaddress.IPv4Address(net), prefix))
    change = random.Random(seed + 1)
    for index in range(SIZES["v4_addresses"]):
        if index % 10 == 0:
            net, prefix = rnd.choice(nets)
            addr = net + rnd.randrange(1 << (32 - prefix))
        else:
            addr = rnd.randrange(1, 224) << 24 | rnd.getrandbits(24)
        if fraction_changed and change.random() < fraction_changed:
            addr = change.randrange(1, 224) << 24 | change.getrandbits(24)
        lines.append(str(ipaddress.IPv4Address(addr)))
    v6nets = []
    for _ in range(SIZES["v6_networks"]):
        prefix = rnd.choice((29, 32, 32, 40, 48, 48, 56, 64))
        net = (0x2 << 124 | rnd.getrandbits(125 - 3) << 3) & ~((1 << (128 - prefix)) - 1)
        v6nets.append((net, prefix))
        lines.append("%s/%d" % (ipaddress.IPv6Address(net), prefix))
    for index in range(SIZES["v6_addresses"]):
        if index % 2 == 0:
            net, prefix = rnd.choice(v6nets)
            addr = net + rnd.randrange(1 << (128 - prefix))
        else:
            addr = 0x2 << 124 | rnd.getrandbits(124)
        lines.append(str(ipaddress.IPv6Address(addr)))
    return "\n".join(lines) + "\n"


def single_interval_sets(lists):
    """The table as it was before per-source sets: one interval set per family, for the raw baseline."""
    body = "".join("\tset v%d {\n\t\ttype %s\n\t\tflags interval\n\t\telements = { %s }\n\t}\n" % (
        family, kind, ", ".join(lists.lines(family))) for family, kind in ((4, "ipv4_addr"), (6, "ipv6_addr")))
    return "table inet %s {\n%s\tchain prerouting {\n\t\ttype filter hook prerouting priority raw; policy accept;\n" \
        "\t\tip saddr @v4 counter drop\n\t\tip6 saddr @v6 counter drop\n\t}\n}\n" % (TABLE, body)


def worker(kind, path, out):
    """Run one normaliser in this (fresh) process; print seconds, peak RSS and entry count as JSON."""
    with open(path) as handle:
        lines = handle.read().splitlines()
    start = time.perf_counter()
    if kind == "ours":
        # Named like a `src` list, which keeps its name when its content changes (the name picks its sets).
        lists = bl.normalise([("offenders.list", lines)])
        seconds = time.perf_counter() - start
        with open(out, "w") as handle:
            handle.write(lists.render())
        networks = bl.count_networks(4, lists.ranges[4]) + bl.count_networks(6, lists.ranges[6])
        intervals = len(lists.ranges[4]) + len(lists.ranges[6])
    else:
        nets = [ipaddress.ip_network(line, strict=False) for line in lines if line and not line.startswith("#")]
        v4 = list(ipaddress.collapse_addresses(n for n in nets if n.version == 4))
        v6 = list(ipaddress.collapse_addresses(n for n in nets if n.version == 6))
        seconds = time.perf_counter() - start
        networks = len(v4) + len(v6)
        intervals = None
    print(json.dumps({"seconds": seconds, "rss_mb": _peak_mb(), "networks": networks, "intervals": intervals}))


def refresh_config(work, state_dir):
    """A refresh config with one feed, as the module writes it with blocklist_refresh_enabled."""
    params = with_defaults({"state_dir": state_dir, "cache_dir": os.path.join(work, "cache"), "allowlist": []})
    feed = {"name": "offenders", "url": "https://feeds.example.org/offenders.txt", "format": "plain", "checksum": None, "wide": False}
    path = os.path.join(work, "refresh.json")
    with open(path, "wb") as handle:
        handle.write(bfeeds.config_text(params, [feed], []))
    return path


# The timer's script (templates/quietnode-blocklist-refresh.j2) with the feed read from a file instead of HTTPS.
# It runs the same way: `python -I`, importing the role's copy of module_utils, whose bytecode the first run caches.
REFRESH_SCRIPT = """import sys

sys.path.insert(0, %(lib)r)
import atexit  # noqa: E402
import resource  # noqa: E402
import ssl  # noqa: E402,F401  a real refresh fetches over HTTPS, so it pays these imports; so does the bench
import urllib.request  # noqa: E402,F401
from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist_feeds as feeds  # noqa: E402

with open(sys.argv[2], "rb") as handle:
    body = handle.read()
feeds.fetch = lambda url, checksum=None, timeout=60, context=None: body
atexit.register(lambda: sys.stderr.write("BENCH_RSS %%s %%s\\n" %% tuple(
    resource.getrusage(who).ru_maxrss / 1024.0 for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))))
sys.exit(feeds.main([sys.argv[1]]))
"""


def refresh_script(work):
    """The refresh script and its own copy of the module_utils the role copies to the host."""
    import yaml
    with open(os.path.join(ROOT, "roles", "blocklist", "vars", "main.yml")) as handle:
        names = yaml.safe_load(handle)["__blocklist_refresh_module_utils"]
    lib = os.path.join(work, "lib")
    dest = os.path.join(lib, "ansible_collections", "quietnode", "baseline", "plugins", "module_utils")
    os.makedirs(dest)
    for name in names:
        shutil.copy(os.path.join(ROOT, "plugins", "module_utils", name), dest)
    path = os.path.join(work, "quietnode-blocklist-refresh")
    with open(path, "w") as handle:
        handle.write(REFRESH_SCRIPT % {"lib": lib})
    return path


def _self(*args, **kwargs):
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    proc = subprocess.run([PYTHON, os.path.abspath(__file__)] + list(args), capture_output=True, text=True,
                          env=env, timeout=kwargs.get("timeout", 300))
    if proc.returncode != 0:
        raise SystemExit("worker %s failed:\n%s%s" % (args, proc.stdout, proc.stderr))
    return proc


class Netns(object):
    def __init__(self):
        self.name = "qnbl-bench-%d" % os.getpid()

    def __enter__(self):
        subprocess.check_call(["ip", "netns", "add", self.name])
        return self

    def __exit__(self, *exc):
        subprocess.call(["ip", "netns", "delete", self.name])

    def timed(self, argv, timeout=600):
        start = time.perf_counter()
        proc = subprocess.run(["ip", "netns", "exec", self.name] + argv, capture_output=True, text=True, timeout=timeout)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit("%s failed: %s" % (" ".join(argv), proc.stderr[-2000:]))
        return seconds, proc

    def refresh(self, script, config, feed):
        seconds, proc = self.timed([PYTHON, "-I", script, config, feed])
        with open(config) as handle:
            cache_dir = json.load(handle)["cache_dir"]
        with open(os.path.join(cache_dir, bfeeds.STATE_FILE)) as handle:
            state = json.load(handle)
        state["rss_mb"], state["nft_rss_mb"] = [float(value) for line in proc.stderr.splitlines()
                                                if line.startswith("BENCH_RSS") for value in line.split()[1:]]
        return seconds, state

    def module(self, work, normalised, state_dir, check=False):
        args = os.path.join(work, "args.json")
        with open(args, "w") as handle:
            json.dump({"ANSIBLE_MODULE_ARGS": {"normalised": normalised, "state_dir": state_dir,
                                               "_ansible_check_mode": check}}, handle)
        env_python = ["env", "PYTHONPATH=%s" % COLLECTIONS, PYTHON, os.path.abspath(__file__), "--module", args]
        seconds, proc = self.timed(env_python)
        result = json.loads(proc.stdout[proc.stdout.index("{"):])
        rss = [line.split()[1:] for line in proc.stderr.splitlines() if line.startswith("BENCH_RSS")][0]
        if result.get("failed"):
            raise SystemExit("module failed: %s" % result.get("msg"))
        return seconds, result, float(rss[0]), float(rss[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--rounds", type=int, default=3, help="apply rounds; the median is reported (default 3)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--skip-ipaddress", action="store_true", help="skip the slow ipaddress.collapse_addresses baseline")
    parser.add_argument("--worker", nargs=3, metavar=("KIND", "IN", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--module", metavar="ARGS", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.worker:
        return worker(*opts.worker)
    if opts.module:
        return _module_alone(opts.module)
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"):
        raise SystemExit("bench_blocklist needs root, nft and ip (it works in a throwaway network namespace)")

    work = tempfile.mkdtemp(prefix="qnbl-bench-")
    rows = []
    try:
        raw = os.path.join(work, "offenders.list")
        with open(raw, "w") as handle:
            handle.write(generate(opts.seed))
        changed_raw = os.path.join(work, "offenders-1pct.list")
        with open(changed_raw, "w") as handle:
            handle.write(generate(opts.seed, fraction_changed=0.01))
        entries = sum(SIZES.values())

        normalised = os.path.join(work, "normalised.list")
        ours = json.loads(_self("--worker", "ours", raw, normalised).stdout)
        rows.append(("normalise: integer range merge", ours["seconds"], ours["rss_mb"],
                     "%d in -> %d intervals (%d networks)" % (entries, ours["intervals"], ours["networks"])))
        if not opts.skip_ipaddress:
            theirs = json.loads(_self("--worker", "ipaddress", raw, os.devnull).stdout)
            rows.append(("normalise: ipaddress.collapse_addresses", theirs["seconds"], theirs["rss_mb"],
                         "%d networks (%s)" % (theirs["networks"], "same" if theirs["networks"] == ours["networks"] else "DIFFERENT")))
        normalised_1pct = os.path.join(work, "normalised-1pct.list")
        ours_1pct = json.loads(_self("--worker", "ours", changed_raw, normalised_1pct).stdout)

        with open(normalised) as handle:
            lists = bl.normalise([], trusted=[("normalised", handle.read().splitlines())])
        script = os.path.join(work, "raw.nft")
        with open(script, "w") as handle:
            handle.write(bnft.render_table(TABLE, lists, bnft.table_digest(TABLE, lists)))
        single = os.path.join(work, "single.nft")
        with open(single, "w") as handle:
            handle.write(single_interval_sets(lists))

        script_path = refresh_script(work)
        with Netns() as ns:
            samples = {}

            def keep(name, seconds):
                samples.setdefault(name, []).append(seconds)
            state = os.path.join(work, "state")
            # Each round starts from an empty namespace; the median of the rounds is reported.
            for _round in range(opts.rounds):
                keep("raw_single", ns.timed(["nft", "-f", single])[0])
                ns.timed(["nft", "delete", "table", "inet", TABLE])
                keep("raw_load", ns.timed(["nft", "-f", script])[0])
                keep("raw_replace", ns.timed(["nft", "-f", script])[0])
                keep("terse", ns.timed(["nft", "-t", "list", "ruleset"])[0])
                ns.timed(["nft", "delete", "table", "inet", TABLE])
                shutil.rmtree(state, ignore_errors=True)
                seconds, result, rss, nft_rss = ns.module(work, normalised, state)
                keep("first", seconds)
                seconds, result2, rss2, _nft = ns.module(work, normalised, state)
                keep("again", seconds)
                seconds, result4, rss4, _nft = ns.module(work, normalised_1pct, state, check=True)
                keep("check", seconds)
                seconds, result3, rss3, _nft = ns.module(work, normalised_1pct, state)
                keep("one", seconds)
                ns.timed(["nft", "delete", "table", "inet", TABLE])
                # The host's refresh (timer): the feed's first copy, then the same feed with 1% changed.
                shutil.rmtree(state, ignore_errors=True)
                shutil.rmtree(os.path.join(work, "cache"), ignore_errors=True)
                config = refresh_config(work, state)
                seconds, refreshed = ns.refresh(script_path, config, raw)
                keep("refresh_first", seconds)
                seconds, refreshed_1pct = ns.refresh(script_path, config, changed_raw)
                keep("refresh_one", seconds)
                seconds, refreshed_same = ns.refresh(script_path, config, changed_raw)
                keep("refresh_same", seconds)
                ns.timed(["nft", "delete", "table", "inet", TABLE])
            raw_single, raw_load, raw_replace, terse, first, again, check, one, refresh_first, refresh_one, refresh_same = [
                statistics.median(samples[key]) for key in ("raw_single", "raw_load", "raw_replace", "terse", "first", "again",
                                                            "check", "one", "refresh_first", "refresh_one", "refresh_same")]
            rows.append(("nft -f: raw load, one interval set per family", raw_single, None, "empty netns, the layout before per-source sets"))
            rows.append(("nft -f: raw load of the collapsed table", raw_load, None, "empty netns, the module's per-source sets"))
            rows.append(("nft -f: raw atomic replace of the loaded table", raw_replace, None, "add+delete+recreate, one transaction"))
            rows.append(("nft -t list ruleset (digest read)", terse, None, "elements omitted"))
            rows.append(("module: first apply", first, rss, "changed=%s, nft child peak %.0f MB" % (result["changed"], nft_rss)))
            rows.append(("module: no-change re-apply", again, rss2, "changed=%s" % result2["changed"]))
            rows.append(("module: check mode after a 1% change", check, rss4, "changed=%s, would add %d and remove %d entries" % (
                result4["changed"], result4["added"], result4["removed"])))
            rows.append(("module: re-apply after a 1% change", one, rss3, "changed=%s method=%s, added %s, removed %s (normalise %.2f s on the controller)" % (
                result3["changed"], result3["method"], result3["added"], result3["removed"], ours_1pct["seconds"])))
            for name, seconds, state_ in (("refresh (timer): first copy of the feed", refresh_first, refreshed),
                                          ("refresh (timer): feed with 1% changed", refresh_one, refreshed_1pct),
                                          ("refresh (timer): unchanged feed", refresh_same, refreshed_same)):
                rows.append((name, seconds, state_["rss_mb"], "outcome=%s applied=%s method=%s, normalised on the host, nft child peak %.0f MB" % (
                    state_["outcome"], state_["applied"], state_.get("method"), state_["nft_rss_mb"])))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("\nquietnode.baseline blocklist bench, %s, %s, nft %s, python %s, %d CPUs, load %.1f, median of %d rounds" % (
        time.strftime("%Y-%m-%d"), os.uname().machine, _nft_version(), sys.version.split()[0], os.cpu_count(),
        os.getloadavg()[0], opts.rounds))
    print("| step | seconds | peak RSS MB | notes |")
    print("| --- | ---: | ---: | --- |")
    for name, seconds, rss, note in rows:
        print("| %s | %.2f | %s | %s |" % (name, seconds, "" if rss is None else "%.0f" % rss, note))
    module_rss = max(rss, rss2, rss3, rss4)
    print("\nside by side (median seconds, same run):")
    print("| step | seconds | / raw nft -f | / first apply | target | met |")
    print("| --- | ---: | ---: | ---: | --- | --- |")
    for name, seconds, target, met in (
            ("raw nft -f of the same table", raw_load, "", None),
            ("first apply", first, "<= 1.5x raw nft -f", first <= 1.5 * raw_load),
            ("no-change re-apply", again, "<= 1 s", again <= 1.0 and not result2["changed"]),
            ("1%% change (%s)" % result3["method"], one, "<= 0.5x first apply", one <= 0.5 * first),
            ("feed refresh, 1%% changed (%s)" % refreshed_1pct.get("method"), refresh_one, "<= 0.5x first apply",
             refresh_one <= 0.5 * first)):
        print("| %s | %.2f | %.2fx | %.2fx | %s | %s |" % (name, seconds, seconds / raw_load, seconds / first, target,
                                                         "" if met is None else ("yes" if met else "NO")))
    print("\nratios:")
    if not opts.skip_ipaddress:
        print("  ipaddress / integer merge: %.1fx time, %.1fx memory" % (
            theirs["seconds"] / ours["seconds"], theirs["rss_mb"] / ours["rss_mb"]))
    print("  first apply / raw nft -f: %.2fx" % (first / raw_load))
    print("  1%% change / first apply: %.2fx" % (one / first))
    print("  no-change / first apply: %.2fx" % (again / first))
    print("  feed refresh (1%% changed) / first apply: %.2fx; / raw nft -f: %.2fx" % (refresh_one / first, refresh_one / raw_load))
    checks = [
        ("first apply <= 1.5x raw nft -f", first <= 1.5 * raw_load),
        ("no-change re-apply <= 1 s", again <= 1.0 and not result2["changed"]),
        ("1% change <= 0.5x first apply", one <= 0.5 * first),
        ("feed refresh <= 0.5x first apply", refresh_one <= 0.5 * first),
        ("normalise < 1 s", ours["seconds"] < 1.0),
        ("module peak RSS <= 150 MB", module_rss <= 150),
    ]
    print("\ntargets: " + ", ".join("%s %s" % (name, "PASS" if ok else "FAIL") for name, ok in checks))
    return 1 if opts.strict and not all(ok for _name, ok in checks) else 0


def _nft_version():
    proc = subprocess.run(["nft", "--version"], capture_output=True, text=True)
    return proc.stdout.split()[1] if proc.returncode == 0 else "?"


if __name__ == "__main__":
    sys.exit(main())
