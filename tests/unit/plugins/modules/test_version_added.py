# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every ``version_added`` names a release of this collection: one in the changelog, or the
version ``galaxy.yml`` is about to release. Nothing is documented as added in a version that
was never and will not next be released."""

from __future__ import annotations

import os
import re

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
PATTERN = re.compile(r"^\s*version_added:\s*[\"']?([0-9][0-9.]*)[\"']?\s*$", re.M)


def _versions():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        upcoming = yaml.safe_load(handle)["version"]
    with open(os.path.join(ROOT, "changelogs", "changelog.yaml"), encoding="utf-8") as handle:
        released = set((yaml.safe_load(handle) or {}).get("releases") or {})
    return upcoming, released | {upcoming}


def _documented():
    found = []
    for top in ("plugins", "roles"):
        for base, _dirs, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if not name.endswith((".py", ".yml", ".yaml")):
                    continue
                path = os.path.join(base, name)
                with open(path, encoding="utf-8") as handle:
                    found.extend((os.path.relpath(path, ROOT), v) for v in PATTERN.findall(handle.read()))
    return found


def test_every_version_added_is_a_release_of_this_collection():
    upcoming, known = _versions()
    documented = _documented()
    assert len(documented) > 20, "the walk found the plugins' and roles' version_added entries"
    wrong = sorted("%s: %s" % item for item in documented if item[1] not in known)
    assert not wrong, "version_added must be a released version or galaxy.yml's %s: %s" % (upcoming, wrong)
