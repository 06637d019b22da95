# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of quietnode.baseline.blocklist.

Reads sources given as `src` (controller files), `url` (downloaded, optionally pinned checksum) and
`countries` (url sources built from per-family templates),
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
    FORMAT_VERSION, BlocklistError, decode_lines, normalise,
)
from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist_countries import country_sources
from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist_options import (
    cache_key_fields, check_source, role_var, with_defaults,
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
        """The body of url, fetched once per run; checked against checksum (sha256:<hex>) when one is pinned."""
        expected = None
        if checksum:
            algo, _sep, expected = checksum.partition(":")
            if algo != "sha256" or len(expected) != 64:
                raise AnsibleError("blocklist source %s: checksum must be 'sha256:<64 hex digits>' (or left out). "
                                   "Nothing was changed." % url)
            expected = expected.lower()

        def fetch():
            data = open_url(url, timeout=60, http_agent="quietnode-blocklist").read()
            actual = hashlib.sha256(data).hexdigest()
            if expected and actual != expected:
                raise AnsibleError("blocklist source %s: sha256 is %s, the pinned checksum is %s. "
                                   "Nothing was changed." % (url, actual, expected))
            return data
        name = "download-%s" % (expected or "url-" + hashlib.sha256(url.encode()).hexdigest())
        with open(_locked_build(os.path.join(_cache_dir(), name), fetch), "rb") as handle:
            return handle.read()

    @staticmethod
    def _feed(source):
        if source.get("country"):
            return {"name": "country %s (IPv%s)" % (source["country"], source["family"][1]), "url": source["url"],
                    "format": source["format"], "checksum": None, "wide": True}
        return {"name": source["url"], "url": source["url"], "format": source.get("format") or "auto",
                "checksum": source.get("checksum"), "wide": False}

    def _read_sources(self, sources):
        """(name, bytes, format, wide) per controller-side source; countries may hold blocks wider than the limit."""
        named = []
        for source in sources:
            fmt = source.get("format") or "auto"
            if source.get("src"):
                path = self._find_needle("files", source["src"])
                with open(path, "rb") as handle:
                    named.append((source["src"], handle.read(), fmt, False))
            elif source.get("country"):
                name = "country %s (IPv%s, %s)" % (source["country"], source["family"][1], source["url"])
                named.append((name, self._download(source["url"], None), fmt, True))
            else:
                named.append((source["url"], self._download(source["url"], source.get("checksum")), fmt, False))
        return named

    def _normalised_file(self, named, args):
        """Path of the controller-normalised list for these inputs, built once per run."""
        args = with_defaults(args)
        key = hashlib.sha256()
        key.update(repr(("v" + FORMAT_VERSION, cache_key_fields(args))).encode())
        for name, data, fmt, wide in named:
            key.update(b"\0" + repr((name, fmt, wide)).encode() + b"\0" + hashlib.sha256(data).digest())
        path = os.path.join(_cache_dir(), "normalised-%s.list" % key.hexdigest())

        def build():
            display.vvv("blocklist: normalising %s for this run (%s)" % (", ".join(item[0] for item in named), path))
            lists = normalise(
                [(name, decode_lines(data), fmt, wide) for name, data, fmt, wide in named],
                (), args["min_prefix_v4"], args["min_prefix_v6"], args["allow_wide"], args["reject_host_bits"])
            return lists.render().encode("ascii")
        return _locked_build(path, build)

    def _controller_sources(self, args):
        """Checked src/url items and the country sources; raises ValueError with a message for the user."""
        sources = args.get("sources") or []
        if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
            raise ValueError("%s must be a list of dicts (path, src or url). Nothing was changed." % role_var("sources"))
        for index, source in enumerate(sources):
            problem = check_source(index, source)
            if problem:
                raise ValueError(problem)
        controller = [s for s in sources if s.get("src") or s.get("url")]
        countries = args.get("countries") or []
        if not isinstance(countries, list):
            raise ValueError("%s must be a list of country codes. Nothing was changed." % role_var("countries"))
        controller += country_sources(countries, args.get("country_url_v4"), args.get("country_url_v6"))
        return controller, [s for s in sources if not (s.get("src") or s.get("url"))]

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = with_defaults(self._task.args)
        try:
            controller, on_host = self._controller_sources(args)
        except ValueError as exc:
            return dict(result, failed=True, msg=str(exc))
        if args["refresh"]:
            # Fetched, kept fresh and bounded on the host by the refresh timer; the controller reads src only.
            args["feeds"] = [self._feed(source) for source in controller if source.get("url")]
            controller = [source for source in controller if not source.get("url")]
        try:
            if controller and args["state"] == "present":
                local = self._normalised_file(self._read_sources(controller), args)
                remote = self._connection._shell.join_path(self._connection._shell.tmpdir, "blocklist.list")
                self._transfer_file(local, remote)
                self._fixup_perms2((self._connection._shell.tmpdir, remote))
                args["normalised"] = remote
            args["sources"] = on_host
            args["countries"] = []
            result.update(self._execute_module(module_name=_MODULE, module_args=args, task_vars=task_vars))
        except BlocklistError as exc:
            result.update(failed=True, msg=str(exc), problems=[list(p) for p in exc.problems])
        except (AnsibleError, IOError, OSError) as exc:
            result.update(failed=True, msg=to_native(exc))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
