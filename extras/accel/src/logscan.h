/*
 * Copyright (c) 2026, airlock.incident contributors
 * GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef AIRLOCK_INCIDENT_LOGSCAN_H
#define AIRLOCK_INCIDENT_LOGSCAN_H

#include <Python.h>

/* scan.accel_rules_digest() of the expressions and rules logscan.c reimplements: plugins/module_utils/evidence/
 * scan.py uses LogScanner only when its own digest is this one. Update it (and logscan.c) together with
 * patterns.py, timestamps.py or scan.ACCEL_RULES; tests/unit/plugins/module_utils/test_scan_accel.py checks it. */
#define LOGSCAN_PATTERNS_SHA256 "86ee79565ea41e6cb984b0e0fba32d31025b9f1feaeb438a4d51f8d721fb6be6"

/* Adds LogScanner and LOGSCAN_PATTERNS_SHA256 to the module; -1 with an exception set on failure. */
int accel_logscan_register(PyObject *module);

#endif
