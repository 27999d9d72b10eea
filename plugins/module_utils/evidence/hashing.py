# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hashing of evidence: SHA-256 and BLAKE3 in one pass, while the item is staged in the bundle.

Every item is hashed with SHA-256 and BLAKE3 in one pass over large buffers
(sources are streamed, never held in memory). New content is written to a
temporary name in the bundle directory (same file system as the final name)
and flushed before it is linked into place by :mod:`.store`. A local file is
copied by the kernel (``copy_file_range``, as ``cp`` does) and the copy is
hashed where it lies, so the digests are those of the bytes in the bundle;
streams and systems without that call are copied and hashed block by block.
"""

from __future__ import annotations

import collections
import concurrent.futures
import errno
import hashlib
import os
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core import fileutil
from ansible_collections.airlock.incident.plugins.module_utils.core.optional import optional_import
from ansible_collections.airlock.incident.plugins.module_utils.evidence.errors import EvidenceError

_blake3, BLAKE3_IMPORT_ERROR = optional_import("blake3")
HAS_BLAKE3 = _blake3 is not None

#: One pass, both hashes, over 1 MiB reads: the block is still in cache for the
#: second hash (see tests/benchmarks/bench_evidence.py for the measurements).
HASH_BUFFER = 1024 * 1024
Buffer = t.Union[bytes, bytearray, memoryview]


class Digest:
    """Size and hashes of one byte stream."""

    __slots__ = ("size", "sha256", "blake3")

    def __init__(self, size: int, sha256: str, blake3: str) -> None:
        self.size = size
        self.sha256 = sha256
        self.blake3 = blake3

    def as_dict(self) -> t.Dict[str, t.Any]:
        return dict(size=self.size, sha256=self.sha256, blake3=self.blake3)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Digest) and (self.size, self.sha256, self.blake3) == (
            other.size, other.sha256, other.blake3)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def parallel_default() -> bool:
    """Hash SHA-256 in a helper thread while BLAKE3 runs in the caller (both release the GIL)?

    Only when the process may use two CPUs or more and the machine is not overloaded
    (1-minute load average below CPUs + 1). Measured on 2 CPUs with
    tests/benchmarks/bench_evidence.py: 1.5x faster than sequential at load 1.8, 0.8x at
    load 5-7, where the helper thread waits for a CPU at every block.
    """
    cpus = _cpus()
    if cpus < 2:
        return False
    try:
        return os.getloadavg()[0] < cpus + 1
    except (AttributeError, OSError):
        return True


class _Hasher:
    """SHA-256 and BLAKE3 fed together, so every byte is read once.

    In parallel mode SHA-256 runs in a helper thread: a block passed to
    update() must stay unchanged until ``settle(1)`` returns (callers that
    reuse two buffers call it before refilling one); at most two blocks are
    in flight. Always call close() (digest() does).
    """

    def __init__(self, parallel: t.Optional[bool] = None) -> None:
        if not HAS_BLAKE3:
            raise EvidenceError("the blake3 Python package is required")
        self._sha = hashlib.sha256()
        self._b3 = _blake3.blake3()
        self.size = 0
        self._pool: t.Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._pending: t.Deque[concurrent.futures.Future] = collections.deque()
        if parallel_default() if parallel is None else parallel:
            self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def update(self, data: Buffer) -> None:
        self.size += len(data)
        if self._pool is None:
            self._sha.update(data)
            self._b3.update(data)
            return
        self.settle(1)
        self._pending.append(self._pool.submit(self._sha.update, data))
        self._b3.update(data)

    def settle(self, keep: int = 0) -> None:
        """Wait until at most ``keep`` blocks are still being hashed."""
        while len(self._pending) > keep:
            self._pending.popleft().result()

    def close(self) -> None:
        if self._pool is not None:
            self.settle()
            self._pool.shutdown()
            self._pool = None

    def digest(self) -> Digest:
        self.close()
        return Digest(self.size, self._sha.hexdigest(), self._b3.hexdigest())


def hash_bytes(data: bytes) -> Digest:
    hasher = _Hasher(parallel=False)
    hasher.update(data)
    return hasher.digest()


def _read_blocks(handle: t.Any, hasher: t.Optional[_Hasher], buffer_size: int, sink: t.Optional[t.Any] = None) -> None:
    """Feed ``handle`` to ``hasher`` through two reused buffers (and write each block to ``sink``; no hasher:
    only copy)."""
    buffers = (bytearray(buffer_size), bytearray(buffer_size))
    views = (memoryview(buffers[0]), memoryview(buffers[1]))
    turn = 0
    while True:
        if hasher is not None:
            hasher.settle(1)  # the block that last used this buffer is hashed
        count = handle.readinto(buffers[turn])
        if not count:
            return
        block = views[turn][:count]
        if hasher is not None:
            hasher.update(block)
        if sink is not None:
            written = 0
            while written < count:
                written += sink.write(block[written:])
        turn ^= 1


def hash_file(path: str, buffer_size: int = HASH_BUFFER, parallel: t.Optional[bool] = None,
              nofollow: bool = False) -> Digest:
    """Digest of a file, read in ``buffer_size`` blocks into reused buffers.

    With ``nofollow`` (a file inside a bundle) a link or a non-regular file is refused
    (:class:`.fileutil.UnsafePathError`) instead of read through, and a FIFO never blocks.
    """
    hasher = _Hasher(parallel)
    try:
        if nofollow:
            opened = os.fdopen(fileutil.open_regular(path), "rb", buffering=0)
        else:
            opened = open(path, "rb", buffering=0)
        with opened as handle:
            _read_blocks(handle, hasher, buffer_size)
        return hasher.digest()
    finally:
        hasher.close()


def _pump(reader: t.Any, hasher: _Hasher, max_bytes: t.Optional[int], buffer_size: int,
          sink: t.Optional[t.BinaryIO] = None) -> None:
    """Feed ``reader`` to ``hasher`` (and ``sink``); EvidenceError past ``max_bytes``."""
    while True:
        block = reader.read(buffer_size)
        if not block:
            return
        hasher.update(block)
        if max_bytes is not None and hasher.size > max_bytes:
            raise EvidenceError("more than %d bytes" % max_bytes)
        if sink is not None:
            sink.write(block)


def hash_stream(reader: t.Any, max_bytes: t.Optional[int] = None, buffer_size: int = HASH_BUFFER) -> Digest:
    """Digest of a readable stream, without storing it; EvidenceError past ``max_bytes``."""
    hasher = _Hasher()
    try:
        _pump(reader, hasher, max_bytes, buffer_size)
        return hasher.digest()
    finally:
        hasher.close()


def temp_path(directory: str, name: str, readable: bool = False) -> t.Tuple[int, str]:
    """A new empty temporary file in ``directory`` (same file system as the item): (fd, path).

    Created by :func:`.fileutil.create_temp` (``O_CREAT|O_EXCL|O_NOFOLLOW`` relative to the directory fd).
    """
    dir_fd = fileutil.open_dir(directory)
    try:
        fd, temp = fileutil.create_temp(dir_fd, name, suffix=".partial", readable=readable)
    finally:
        os.close(dir_fd)
    return fd, os.path.join(directory, temp)


def _hashed_temp(directory: str, name: str, hasher: _Hasher,
                 fill: t.Callable[[int], None], readable: bool = False) -> t.Tuple[str, Digest]:
    """A new temp file in ``directory`` written by ``fill(fd)`` while ``hasher`` hashes it: (temp path, Digest).

    The temp file is removed when anything fails.
    """
    try:
        fd, path = temp_path(directory, name, readable)
        try:
            fill(fd)
            return path, hasher.digest()
        except BaseException:
            unlink_quietly(path)
            raise
    finally:
        hasher.close()


def stream_to_temp(reader: t.Any, directory: str, name: str, max_bytes: t.Optional[int] = None,
                   buffer_size: int = HASH_BUFFER) -> t.Tuple[str, Digest]:
    """Copy a stream into a temp file in ``directory`` while hashing it: (temp path, Digest)."""
    hasher = _Hasher()

    def fill(fd: int) -> None:
        with os.fdopen(fd, "wb") as out:
            _pump(reader, hasher, max_bytes, buffer_size, sink=out)
            out.flush()
            os.fsync(out.fileno())

    return _hashed_temp(directory, name, hasher, fill)


#: errno values of copy_file_range that mean "not between these two files": copy block by block instead.
_NO_KERNEL_COPY = frozenset((errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF, errno.EPERM,
                             errno.ETXTBSY))
#: Bytes per copy_file_range call (the call is restartable; large calls keep the loop short).
KERNEL_COPY_CHUNK = 1 << 30


def _kernel_copy(src_fd: int, out_fd: int) -> bool:
    """Copy ``src_fd`` from its offset to its end into ``out_fd`` with ``copy_file_range``.

    Returns False when the kernel cannot copy between these files and nothing was copied (the
    caller copies block by block); a file whose size the kernel does not know (``/proc``) ends
    the kernel copy early and the caller reads the rest. OSError (a full disk) propagates.
    """
    copy_file_range = getattr(os, "copy_file_range", None)
    if copy_file_range is None:
        return False
    copied = 0
    while True:
        try:
            count = copy_file_range(src_fd, out_fd, KERNEL_COPY_CHUNK)
        except OSError as exc:
            if copied == 0 and exc.errno in _NO_KERNEL_COPY:
                return False
            raise
        if count == 0:
            return True
        copied += count


def copy_to_temp(src: str, directory: str, name: str, buffer_size: int = HASH_BUFFER,
                 parallel: t.Optional[bool] = None, kernel_copy: bool = True) -> t.Tuple[str, Digest]:
    """Copy ``src`` into a temp file in ``directory`` and hash the copy: (temp path, Digest).

    The kernel copies (``copy_file_range``, no pass through this process; ``kernel_copy=False``
    or a kernel that cannot falls back to a block-by-block copy), then the copy is read back
    and hashed, so the digests are those of the bytes the bundle holds, even when ``src``
    changes meanwhile. The copy is fsynced before it is returned.
    """
    hasher = _Hasher(parallel)

    def fill(fd: int) -> None:
        try:
            with open(src, "rb", buffering=0) as handle, os.fdopen(fd, "wb", buffering=0, closefd=False) as sink:
                kernel = kernel_copy and _kernel_copy(handle.fileno(), fd)
                # after a kernel copy: what it did not copy (a /proc file), if anything, copied only
                _read_blocks(handle, None if kernel else hasher, buffer_size, sink=sink)
            if kernel:
                with os.fdopen(fd, "rb", buffering=0, closefd=False) as copy:
                    copy.seek(0)
                    _read_blocks(copy, hasher, buffer_size)
            os.fsync(fd)
        finally:
            os.close(fd)

    return _hashed_temp(directory, name, hasher, fill, readable=True)


def bytes_to_temp(data: bytes, directory: str, name: str) -> str:
    fd, path = temp_path(directory, name)
    try:
        try:
            fileutil.write_all(fd, data)
        finally:
            os.close(fd)
        return path
    except BaseException:
        unlink_quietly(path)
        raise


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def discard(path: t.Optional[str]) -> None:
    """Remove a temporary file (no error when it is already gone)."""
    if path:
        unlink_quietly(path)
