# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build of airlock_incident_accel: one C file and BLAKE3's portable C implementation (vendor/blake3).

Only BLAKE3's portable code is built, on every platform: the verifier hashes one row of a few hundred
bytes at a time, where the SIMD back ends give nothing (measured: docs/audit-forensics.md).
"""

from setuptools import Extension, setup

VERSION = "0.2.0"

setup(
    version=VERSION,
    ext_modules=[
        Extension(
            "airlock_incident_accel",
            sources=[
                "src/airlock_incident_accel.c",
                "src/logscan.c",
                "vendor/blake3/blake3.c",
                "vendor/blake3/blake3_dispatch.c",
                "vendor/blake3/blake3_portable.c",
            ],
            include_dirs=["vendor/blake3"],
            define_macros=[
                ("ACCEL_VERSION", '"%s"' % VERSION),
                ("BLAKE3_NO_SSE2", "1"),
                ("BLAKE3_NO_SSE41", "1"),
                ("BLAKE3_NO_AVX2", "1"),
                ("BLAKE3_NO_AVX512", "1"),
                ("BLAKE3_USE_NEON", "0"),
            ],
            extra_compile_args=["-O3"],
        )
    ],
)
