# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of quietnode.baseline.blocklist.

Reads sources given as `src` (controller files) or `url` (downloaded, pinned checksum),
normalises them ONCE per distinct input per run (an flock-guarded cache in the run's
local temp dir, shared by all forks), ships the result and runs the module with it.
Sources given as `path` (already on the host) are left to the module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import hashlib
import os

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.urls import open_url
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist import (
    FORMAT_VERSION, BlocklistError, normalise,
)

_MODULE = "quietnode.baseline.blocklist"
display = Display()


def _cache_dir():
    path = os.path.join(C.DEFAULT_LOCAL_TMP or "/tmp", "quietnode_blocklist")
    if not os.path.isdir(path):
        os.makedirs(path, 0o700, exist_ok=True)
    return path


def _locked_build(path, build):
    """Create path with build() unless it exists; the lock makes parallel forks wait, not repeat."""
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not os.path.exists(path):
                data = build()
                tmp = path + ".tmp"
                with open(tmp, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return path


class ActionModule(ActionBase):

    TRANSFERS_FILES = True

    def _download(self, url, checksum):
        algo, _sep, expected = (checksum or "").partition(":")
        if algo != "sha256" or len(expected) != 64:
            raise AnsibleError("blocklist source %s: checksum must be 'sha256:<64 hex digits>'" % url)

        def fetch():
            data = open_url(url, timeout=60, http_agent="quietnode-blocklist").read()
            actual = hashlib.sha256(data).hexdigest()
            if actual != expected.lower():
                raise AnsibleError("blocklist source %s: sha256 is %s, the pinned checksum is %s" % (url, actual, expected))
            return data
        path = os.path.join(_cache_dir(), "download-%s" % expected.lower())
        with open(_locked_build(path, fetch), "rb") as handle:
            return handle.read()

    def _read_sources(self, sources):
        named = []
        for source in sources:
            if source.get("src"):
                path = self._find_needle("files", source["src"])
                with open(path, "rb") as handle:
                    named.append((source["src"], handle.read()))
            else:
                named.append((source["url"], self._download(source["url"], source.get("checksum"))))
        return named

    def _normalised_file(self, named, args):
        """Path of the controller-normalised list for these inputs, built once per run."""
        key = hashlib.sha256()
        key.update(("v%s|%s|%s|%s|%s" % (
            FORMAT_VERSION, args.get("min_prefix_v4", 8), args.get("min_prefix_v6", 16),
            bool(args.get("allow_wide", False)), bool(args.get("reject_host_bits", False)))).encode())
        for name, data in named:
            key.update(b"\0" + name.encode() + b"\0" + hashlib.sha256(data).digest())
        path = os.path.join(_cache_dir(), "normalised-%s.list" % key.hexdigest())

        def build():
            display.vvv("blocklist: normalising %s for this run (%s)" % (", ".join(name for name, _data in named), path))
            lists = normalise(
                [(name, data.decode("utf-8", "replace").splitlines()) for name, data in named],
                (), int(args.get("min_prefix_v4", 8)), int(args.get("min_prefix_v6", 16)),
                bool(args.get("allow_wide", False)), bool(args.get("reject_host_bits", False)))
            return lists.render().encode("ascii")
        return _locked_build(path, build)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        sources = args.get("sources") or []
        if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
            return dict(result, failed=True, msg="sources must be a list of dicts (path, src or url)")
        controller = [s for s in sources if s.get("src") or s.get("url")]
        try:
            if controller and args.get("state", "present") == "present":
                local = self._normalised_file(self._read_sources(controller), args)
                remote = self._connection._shell.join_path(self._connection._shell.tmpdir, "blocklist.list")
                self._transfer_file(local, remote)
                self._fixup_perms2((self._connection._shell.tmpdir, remote))
                args["normalised"] = remote
            args["sources"] = [s for s in sources if s not in controller]
            result.update(self._execute_module(module_name=_MODULE, module_args=args, task_vars=task_vars))
        except BlocklistError as exc:
            result.update(failed=True, msg=str(exc), problems=[list(p) for p in exc.problems])
        except (AnsibleError, IOError, OSError) as exc:
            result.update(failed=True, msg=to_native(exc))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
