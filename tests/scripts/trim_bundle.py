#!/usr/bin/env python3
"""Rewrite an evidence bundle keeping only the members the report reads (and cutting long
logs to their last lines), with a manifest and a .sha256 that match, so the copy still
verifies.  Usage: trim_bundle.py SRC.tar.gz DEST.tar.gz [max_lines]"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'collections'))
from ansible_collections.quietnode.baseline.plugins.module_utils._report_members import member_key  # noqa: E402

SKIP_KEYS = ('manifest',)


def main(src, dest, max_lines=4000):
    kept = {}
    order = []
    manifest = b''
    with tarfile.open(src, 'r|gz') as tar:
        for member in tar:
            if not member.isfile():
                continue
            top, _, rel = member.name.partition('/')
            data = tar.extractfile(member).read()
            if rel == 'manifest.jsonl':
                manifest = data
                continue
            key = member_key(rel)
            if key is None or key in SKIP_KEYS:
                continue
            if key in ('journal', 'auth_log', 'syslog') and data.count(b'\n') > max_lines:
                data = b'\n'.join(data.split(b'\n')[-max_lines - 1:])
            kept[member.name] = data
            order.append(member)
    entries = []
    for line in manifest.splitlines():
        entry = json.loads(line)
        name = entry.get('arcname')
        if name is None or name in kept:
            if name in kept:
                entry['sha256'] = hashlib.sha256(kept[name]).hexdigest()
                entry['stored'] = len(kept[name])
            entries.append(entry)
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode='wb', mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode='w|', format=tarfile.PAX_FORMAT) as tar:
            for member in order:
                member.size = len(kept[member.name])
                tar.addfile(member, io.BytesIO(kept[member.name]))
            mf = ''.join(json.dumps(e, sort_keys=True, separators=(',', ':')) + '\n' for e in entries).encode()
            info = tarfile.TarInfo(top + '/manifest.jsonl')
            info.size = len(mf)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(mf))
    data = out.getvalue()
    with open(dest, 'wb') as handle:
        handle.write(data)
    with open(dest + '.sha256', 'w') as handle:
        handle.write('%s  %s\n' % (hashlib.sha256(data).hexdigest(), os.path.basename(dest)))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:4]))
