# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kubernetes quantities: parsing, exact values, canonical forms, resource checks.

The canonical forms were checked against kube-apiserver 1.33 (a dry-run patch of a
container limit returns what the server stores).
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.k8s import quantity as q

KI, MI, GI = 1024, 1024 ** 2, 1024 ** 3


@pytest.mark.parametrize("text,value", [
    ("0", 0), ("2", 2), ("+2", 2), ("-2", -2), ("1.", 1), (".5", Fraction(1, 2)), ("0.5", Fraction(1, 2)),
    ("500m", Fraction(1, 2)), ("1000m", 1), ("250m", Fraction(1, 4)), ("100u", Fraction(1, 10000)), ("5n", Fraction(5, 10 ** 9)),
    ("1k", 1000), ("1M", 10 ** 6), ("1G", 10 ** 9), ("1T", 10 ** 12), ("1P", 10 ** 15), ("1E", 10 ** 18),
    ("1Ki", KI), ("512Mi", 512 * MI), ("1Gi", GI), ("1.5Gi", 3 * GI // 2), ("1Ti", 1024 * GI), ("1Pi", 1024 ** 5), ("1Ei", 1024 ** 6),
    ("1e3", 1000), ("1E3", 1000), ("1e-3", Fraction(1, 1000)), ("1e+3", 1000), ("2.5e2", 250), ("129e6", 129 * 10 ** 6),
    (2, 2), (0.5, Fraction(1, 2)),
])
def test_parse_exact_values(text, value):
    assert q.parse(text).value == value


@pytest.mark.parametrize("a,b", [
    ("1024Mi", "1Gi"), ("1Gi", "1073741824"), ("0.5", "500m"), ("1", "1000m"), ("1e3", "1k"), ("1E3", "1k"),
    ("1536Mi", "1.5Gi"), ("2", 2), ("1000000000n", "1"), ("0.001", "1m"),
])
def test_equal_amounts_compare_equal(a, b):
    assert q.equal(a, b)
    assert q.parse(a) == q.parse(b)


@pytest.mark.parametrize("a,b", [("1G", "1Gi"), ("1000Mi", "1Gi"), ("500m", "0.4"), ("1k", "1Ki")])
def test_different_amounts_differ(a, b):
    assert not q.equal(a, b)


def test_equal_with_none():
    assert q.equal(None, None)
    assert not q.equal(None, "1")
    assert not q.equal("1", None)


def test_ordering():
    assert q.parse("512Mi") < q.parse("1Gi") <= q.parse("1024Mi") < q.parse("1.5Gi")
    assert q.parse("2") > q.parse("1500m") >= q.parse("1.5")


@pytest.mark.parametrize("text,canon", [
    # As kube-apiserver 1.33 stores them.
    ("1024Mi", "1Gi"), ("1.5Gi", "1536Mi"), ("1023Ki", "1023Ki"), ("1000m", "1"), ("2000m", "2"), ("0.5", "500m"),
    ("1500000", "1500k"), ("1500", "1500"), ("129e6", "129e6"), ("0.0001", "100u"), ("1e3", "1e3"), ("1E3", "1e3"),
    ("1k", "1k"), ("1000", "1k"), ("1E", "1E"), ("1.", "1"), ("0", "0"), ("0Mi", "0"), ("512Ki", "512Ki"),
    # Binary values below 1024, or not whole, are shown in decimal.
    ("0.5Ki", "512"), ("1000Mi", "1000Mi"), ("1025", "1025"), ("1.5Ki", "1536"), ("-1Gi", "-1Gi"),
    # Quantity's own nano precision, rounded up. (Container resources are rounded up to 1m by the
    # API server, "1001m" here; check_resource refuses such values before they get there.)
    ("1.0000000001", "1000000001n"),
])
def test_canonical_forms(text, canon):
    assert q.canonical(text) == canon


@pytest.mark.parametrize("bad,fragment", [
    ("", "empty"), (" 1", "spaces"), ("1 ", "spaces"), ("abc", "is not a quantity"), ("Mi", "is not a quantity"),
    ("1 Gi", "unknown suffix ' Gi'"), ("1GB", "unknown suffix 'GB'"), ("1gi", "unknown suffix 'gi'"), ("1mi", "unknown suffix"),
    ("--1", "is not a quantity"), ("1e", "unknown suffix 'e'"), ("1e1.5", "unknown suffix"), ("0x10", "unknown suffix"),
    ("1e99", "out of range"), ("1,5", "unknown suffix"), ("½", "is not a quantity"),
    (True, "is not a quantity"), (None, "is not a quantity"), ([], "is not a quantity"), (float("inf"), "is not a quantity"),
])
def test_nonsense_is_refused_with_the_accepted_forms(bad, fragment):
    with pytest.raises(q.QuantityError) as exc:
        q.parse(bad)
    assert fragment in str(exc.value)
    if bad not in ("1e99",):
        assert "512Mi" not in fragment and ("accepted values" in str(exc.value))


@pytest.mark.parametrize("field,resource,text", [
    ("limits.cpu", "cpu", "500m"), ("limits.cpu", "cpu", "0.25"), ("limits.cpu", "cpu", 2), ("limits.cpu", "cpu", "1e-3"),
    ("limits.memory", "memory", "1Gi"), ("limits.memory", "memory", "1.5Gi"), ("limits.memory", "memory", "500M"),
    ("limits.memory", "memory", "1e9"), ("requests.ephemeral-storage", "ephemeral-storage", "2Gi"),
    ("requests.memory", "memory", "0"),
])
def test_usable_resource_values(field, resource, text):
    assert q.check_resource(field, resource, text).value >= 0


@pytest.mark.parametrize("field,resource,text,fragment", [
    ("limits.cpu", "cpu", "0.0005", "finer than 1m"),
    ("limits.cpu", "cpu", "100u", "finer than 1m"),
    ("limits.memory", "memory", "0.5", "not a whole number of bytes"),
    ("limits.memory", "memory", "1500m", "not a whole number of bytes"),
    ("limits.memory", "memory", "-1Gi", "negative"),
    ("limits.memory", "memory", "16Ei", "larger than Kubernetes can store"),
    ("limits.memory", "memory", "2GiB", "unknown suffix"),
    ("requests.cpu", "cpu", "two", "is not a quantity"),
])
def test_unusable_resource_values_name_the_field(field, resource, text, fragment):
    with pytest.raises(q.QuantityError) as exc:
        q.check_resource(field, resource, text)
    assert str(exc.value).startswith(field + ": ")
    assert fragment in str(exc.value)


def test_to_text_of_yaml_scalars():
    assert q.to_text(2) == "2"
    assert q.to_text(0.5) == "0.5"
    assert q.to_text("1Gi") == "1Gi"
    assert q.to_text(True) is None
    assert q.to_text(None) is None
