# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""core.fileutil (writes that never follow a link, all-or-nothing) and the backups written through it."""

from __future__ import annotations

import errno
import os
import re

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.change.backups import BackupStore
from ansible_collections.airlock.incident.plugins.module_utils.core import fileutil
from ansible_collections.airlock.incident.plugins.module_utils.core.contract import incident_id_error
from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError


def _outside(tmp_path, data=b"outside, must stay\n"):
    outside = tmp_path / "outside.txt"
    outside.write_bytes(data)
    return outside


def test_atomic_write_refuses_a_symlinked_target_and_leaves_its_target_alone(tmp_path):
    outside = _outside(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    link = work / "incident.json"
    os.symlink(str(outside), str(link))
    with pytest.raises(InputError, match=re.escape(str(link)) + ".*symbolic link"):
        fileutil.atomic_write(str(link), b"overwritten")
    assert outside.read_bytes() == b"outside, must stay\n"
    assert os.path.islink(str(link)) and sorted(os.listdir(str(work))) == ["incident.json"]


def test_atomic_write_refuses_a_fifo_target(tmp_path):
    fifo = tmp_path / "manifest.json"
    os.mkfifo(str(fifo))
    with pytest.raises(InputError, match="FIFO"):
        fileutil.atomic_write(str(fifo), b"x")
    assert sorted(os.listdir(str(tmp_path))) == ["manifest.json"]


def test_atomic_write_follows_a_link_only_when_asked(tmp_path):
    target = tmp_path / "config.yaml"
    target.write_bytes(b"old\n")
    os.chmod(str(target), 0o600)
    link = tmp_path / "link.yaml"
    os.symlink(str(target), str(link))
    fileutil.atomic_write(str(link), b"new\n", follow_link=True)
    assert os.path.islink(str(link)) and target.read_bytes() == b"new\n"
    assert os.stat(str(target)).st_mode & 0o777 == 0o600


def test_atomic_write_on_a_full_disk_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "incident.md"
    target.write_bytes(b"old\n")

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileutil.os, "write", full)
    with pytest.raises(OSError, match="No space"):
        fileutil.atomic_write(str(target), b"new\n" * 100)
    monkeypatch.undo()
    assert target.read_bytes() == b"old\n" and sorted(os.listdir(str(tmp_path))) == ["incident.md"]


def test_write_all_continues_a_short_write(tmp_path, monkeypatch):
    real_write = os.write
    monkeypatch.setattr(fileutil.os, "write", lambda fd, data: real_write(fd, bytes(data[:3])))
    fileutil.write_new(str(tmp_path / "a.bak"), b"0123456789")
    monkeypatch.undo()
    assert (tmp_path / "a.bak").read_bytes() == b"0123456789"


def test_write_new_never_replaces_and_never_writes_through_a_dangling_link(tmp_path):
    (tmp_path / "taken").write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        fileutil.write_new(str(tmp_path / "taken"), b"other")
    assert (tmp_path / "taken").read_bytes() == b"keep"
    os.symlink(str(tmp_path / "created-through-link"), str(tmp_path / "dangling"))
    with pytest.raises(FileExistsError):
        fileutil.write_new(str(tmp_path / "dangling"), b"other")
    assert not os.path.lexists(str(tmp_path / "created-through-link"))
    assert sorted(os.listdir(str(tmp_path))) == ["dangling", "taken"]


def test_open_lock_refuses_a_dangling_link_without_creating_its_target(tmp_path):
    target = tmp_path / "created-by-the-lock"
    lock = tmp_path / ".incident.lock"
    os.symlink(str(target), str(lock))
    with pytest.raises(InputError, match=re.escape(str(lock)) + ".*symbolic link"):
        fileutil.open_lock(str(lock))
    assert not os.path.lexists(str(target))


def test_open_lock_refuses_a_fifo_without_blocking(tmp_path):
    fifo = tmp_path / "lock"
    os.mkfifo(str(fifo))
    with pytest.raises(InputError, match="FIFO"):
        fileutil.open_lock(str(fifo))


def test_read_regular_refuses_links_and_fifos(tmp_path):
    outside = _outside(tmp_path)
    os.symlink(str(outside), str(tmp_path / "link"))
    os.mkfifo(str(tmp_path / "fifo"))
    assert fileutil.read_regular(str(tmp_path / "missing")) is None
    assert fileutil.read_regular(str(outside)) == outside.read_bytes()
    for name in ("link", "fifo"):
        with pytest.raises(InputError, match=name):
            fileutil.read_regular(str(tmp_path / name))


def test_check_real_dirs_refuses_a_linked_component(tmp_path):
    base = tmp_path / "incidents"
    (base / "real").mkdir(parents=True)
    os.symlink(str(tmp_path), str(base / "INC-20261128-160000"))
    fileutil.check_real_dirs(str(base), str(base / "real" / "incident.json"))
    fileutil.check_real_dirs(str(base), str(base / "not-yet" / "incident.json"))
    with pytest.raises(InputError, match="INC-20261128-160000 is a symbolic link"):
        fileutil.check_real_dirs(str(base), str(base / "INC-20261128-160000" / "incident.json"))
    with pytest.raises(InputError, match="not under"):
        fileutil.check_real_dirs(str(base), str(tmp_path / "elsewhere"))


class _Target:
    kind = "file"

    def describe(self):
        return "/etc/airlock/config.yaml"


def test_a_backup_on_a_full_disk_leaves_no_file(tmp_path, monkeypatch):
    store = BackupStore(str(tmp_path / "backups"))
    os.makedirs(store.directory)

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileutil.os, "write", full)
    with pytest.raises(OSError, match="No space"):
        store.save(_Target(), b"server:\n  addr: :8080\n" * 100, incident_id="INC-20261128-160000")
    monkeypatch.undo()
    assert os.listdir(store.directory) == [], "a 0-byte or partial backup was left behind"
    path = store.save(_Target(), b"server: {}\n", incident_id="INC-20261128-160000")
    assert open(path, "rb").read() == b"server: {}\n"
    assert [entry["path"] for entry in store.entries(_Target())] == [path]


@pytest.mark.parametrize("value", ["INC-\u0662\u0660\u0662\u0666", "\uff11abc", "INC-20261128-16000\u0660"])
def test_the_incident_id_rule_takes_ascii_digits_only(value):
    assert "accepted values" in incident_id_error(value)
