# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Observers that read a file's or a command's bytes while they stream into the bundle."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import queue
import threading

from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_records import ACCT_V3, decode_acct


class BlockObserver:
    """Pass streamed chunks on as blocks of whole lines (without the last newline), unsplit.

    Holds at most one partial line (capped at max_line bytes) between chunks.
    """

    def __init__(self, callback, max_line=1 << 16):
        self.callback = callback
        self.rest = b''
        self.max_line = max_line

    def __call__(self, chunk):
        data = self.rest + chunk if self.rest else chunk
        cut = data.rfind(b'\n')
        if cut >= 0:
            self.callback(data[:cut])
        self.rest = data[cut + 1:][-self.max_line:]

    def close(self):
        if self.rest:
            self.callback(self.rest)
            self.rest = b''


class LineObserver(BlockObserver):
    """Split streamed chunks into lines for a callback that takes a list of lines."""

    def __init__(self, callback, max_line=1 << 16):
        super(LineObserver, self).__init__(lambda block: callback(block.split(b'\n')), max_line)


class BackgroundObserver:
    """Run an observer in a thread of its own.

    Its Python-level parsing then overlaps the hashing and compression of the same
    chunks, which release the GIL; at most `depth` chunks wait in between.
    """

    def __init__(self, observer, depth=4):
        self.observer = observer
        self.queue = queue.Queue(depth)
        self.error = None
        self.thread = threading.Thread(target=self._work, name='evidence-observer')
        self.thread.daemon = True
        self.thread.start()

    def _work(self):
        while True:
            chunk = self.queue.get()
            if chunk is None:
                return
            if self.error is None:
                try:
                    self.observer(chunk)
                except Exception as exc:  # raised again in close(), in the collecting thread
                    self.error = exc

    def __call__(self, chunk):
        self.queue.put(chunk)

    def close(self):
        self.queue.put(None)
        self.thread.join()
        if self.error is None and hasattr(self.observer, 'close'):
            self.observer.close()
        if self.error is not None:
            raise self.error


class AcctObserver:
    """Decode pacct records while the raw file streams into the bundle, into a streaming summary."""

    def __init__(self, summary):
        self.rest = b''
        self.summary = summary

    def __call__(self, chunk):
        data = self.rest + chunk
        size = ACCT_V3.size
        usable = len(data) - len(data) % size
        for off in range(0, usable, size):
            rec = decode_acct(data[off:off + size])
            self.summary.add(rec if rec is not None else {'error': 'not an acct v3 record'})
        self.rest = data[usable:]
