#!/usr/bin/env python3
"""Auth-log summary bench: what the evidence module's log parsing costs next to compressing the same bytes.

Writes QN_BENCH_AUTH_MB (default 256) MiB of auth log (tests/bench/make_logs.py: a 5000-address
botnet trying eight users) and measures, side by side in one run, on the same file:
  - gzip -6 of the file (zlib, 1 MiB chunks), the reference;
  - the summary as the module runs it (whole 1 MiB blocks), with the window over all lines and
    over the newest quarter;
  - the exact line-by-line parser over every line, which the block path must agree with;
  - the bundle writer storing the file alone, and with the summary running in its thread.
Fails when the block summary and the line parser disagree, or when storing the file with the
summary takes more than twice as long as storing it alone: compression and hashing must stay the
larger part of the time (the issue's target: time dominated by compression).
Usage: tests/bench/bench_authlog.py
"""

import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "collections"))

from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_authlog as authlog  # noqa: E402
from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_bundle as bundle  # noqa: E402
from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_collect as collect  # noqa: E402

CHUNK = 1 << 20


def chunks(path):
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            yield chunk


def timed(func):
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def gzip6(path):
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    return sum(len(comp.compress(c)) for c in chunks(path)) + len(comp.flush())


def by_blocks(path, since, until):
    summary = authlog.AuthSummary(since, until)
    ref = os.stat(path).st_mtime
    obs = collect.BlockObserver(lambda block: summary.add_block(block, ref, path))
    for chunk in chunks(path):
        obs(chunk)
    obs.close()
    return summary.result()


def by_lines(path, since, until):
    summary = authlog.AuthSummary(since, until)
    ref = os.stat(path).st_mtime
    with open(path, "rb") as handle:
        summary.add_lines(handle, ref, path)
    return summary.result()


def store(path, out, with_summary):
    writer = bundle.BundleWriter(out, "bench", 1 << 40, 1 << 40)
    observer = None
    if with_summary:
        summary = authlog.AuthSummary(0, 2e9)
        ref = os.stat(path).st_mtime
        observer = collect.BackgroundObserver(collect.BlockObserver(lambda block: summary.add_block(block, ref, path)))
    writer.add_file(path, "auth", root=os.path.dirname(path), observer=observer)
    if observer is not None:
        observer.close()
    writer.close(b'')
    os.unlink(out)


def comparable(result):
    return dict((k, v) for k, v in result.items() if k not in ("first_epoch", "last_epoch", "accepted", "privileged"))


def main():
    mib = int(os.environ.get("QN_BENCH_AUTH_MB", "256"))
    work = tempfile.mkdtemp(prefix="qn-bench-auth-")
    start = 1795300000
    subprocess.check_call([sys.executable, os.path.join(ROOT, "tests", "bench", "make_logs.py"), str(mib * 4), work,
                           "--start", str(start), "--only", "auth.log"])
    path = os.path.join(work, "auth.log")
    size = os.path.getsize(path)
    whole = (start - 86400, start + 60)
    newest = (start - 10800, start + 60)  # the last quarter of the file's twelve hours
    rows = []
    gz_s, gz_bytes = timed(lambda: gzip6(path))
    rows.append(("gzip -6 of the file (reference)", gz_s))
    blk_s, blk = timed(lambda: by_blocks(path, *whole))
    rows.append(("summary by blocks, all lines in window", blk_s))
    edge_s, edge = timed(lambda: by_blocks(path, *newest))
    rows.append(("summary by blocks, newest quarter in window", edge_s))
    line_s, line = timed(lambda: by_lines(path, *whole))
    rows.append(("summary line by line (exact reference)", line_s))
    edge_line = by_lines(path, *newest)
    out = os.path.join(work, "bundle.tar.gz")
    alone_s, _ = timed(lambda: store(path, out, False))
    rows.append(("bundle writer, file alone", alone_s))
    both_s, _ = timed(lambda: store(path, out, True))
    rows.append(("bundle writer + summary in its thread", both_s))
    for name in os.listdir(work):
        os.unlink(os.path.join(work, name))
    os.rmdir(work)

    print("auth log: %.0f MiB, %d events by kind %s, %d host cores, Python %s" % (
        size / 1048576.0, sum(blk["by_event"].values()), sorted(blk["by_event"].items()), os.cpu_count(),
        sys.version.split()[0]))
    print("%-46s %9s %9s %10s" % ("measure", "seconds", "MiB/s", "x gzip"))
    for name, secs in rows:
        print("%-46s %9.2f %9.1f %10.2f" % (name, secs, size / 1048576.0 / secs, secs / gz_s))
    print("summary cost added to storing the file: %.2f s (%.0f%% of the writer alone); compressed to %.1f MiB" % (
        both_s - alone_s, 100.0 * (both_s - alone_s) / alone_s, gz_bytes / 1048576.0))
    print("peak RSS of this bench: %.1f MB" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))

    failed = []
    if comparable(blk) != comparable(line):
        failed.append("block and line summaries disagree over the whole window")
    if comparable(edge) != comparable(edge_line):
        failed.append("block and line summaries disagree over the newest quarter")
    if both_s > 2 * alone_s:
        failed.append("the summary (%.2f s added) costs more than storing the file (%.2f s)" % (both_s - alone_s, alone_s))
    for message in failed:
        print("FAIL: " + message)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
