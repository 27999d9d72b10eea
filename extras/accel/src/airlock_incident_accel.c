/*
 * airlock_incident_accel: the compiled fast path of airlock.incident's audit-chain verifier.
 *
 * Copyright (c) 2026, airlock.incident contributors
 * GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * ChainChecker(salt, pieces, kinds, safe).check(field_1, ..., field_n, stored) answers, for one audit row,
 * what plugins/module_utils/audit/walk.py's Python path answers for the common row:
 *
 *   True   the row is the common case and BLAKE3(salt || payload), as 64 lowercase hex digits, equals stored;
 *   False  the row is the common case and it does not;
 *   None   the row is not the common case (a text field with a byte outside `safe`, a value of another type,
 *          an integer outside 64 bits, a payload over 8 KiB): the caller runs its Python path.
 *
 * The payload is pieces[0] field_1 pieces[1] ... field_n pieces[n], each field written by its kind:
 * 's' a bytes value whose every byte is in `safe`, written as is; 'd' an int, in decimal; 'r' raw bytes,
 * or "null" for None and for an empty value. The caller's Python path stays the single source of truth:
 * it passes the template it formats with, and every row the checker does not settle goes through it.
 * No argument is kept, nothing is written anywhere, the GIL is held throughout.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "blake3.h"
#include "logscan.h"

#define MAX_FIELDS 32
#define PAYLOAD_LIMIT 8192

/* The BLAKE3 of salt || data as 64 lowercase hex digits (salt may be empty). */
static void blake3_hex_of(const unsigned char *salt, size_t salt_len, const void *data, size_t len,
                          char out[2 * BLAKE3_OUT_LEN]) {
    static const char hex[] = "0123456789abcdef";
    blake3_hasher hasher;
    unsigned char digest[BLAKE3_OUT_LEN];
    blake3_hasher_init(&hasher);
    blake3_hasher_update(&hasher, salt, salt_len);
    blake3_hasher_update(&hasher, data, len);
    blake3_hasher_finalize(&hasher, digest, BLAKE3_OUT_LEN);
    for (int i = 0; i < BLAKE3_OUT_LEN; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
}

typedef struct {
    PyObject_HEAD
    unsigned char *salt;
    Py_ssize_t salt_len;
    int nfields;
    char kinds[MAX_FIELDS];
    PyObject *pieces; /* tuple of nfields + 1 bytes */
    unsigned char safe[256];
} ChainChecker;

static void checker_dealloc(ChainChecker *self) {
    Py_XDECREF(self->pieces);
    PyMem_Free(self->salt);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int checker_init(ChainChecker *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"salt", "pieces", "kinds", "safe", NULL};
    Py_buffer salt = {0}, safe = {0};
    PyObject *pieces = NULL;
    const char *kinds = NULL;
    Py_ssize_t nkinds = 0;
    int ok = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*O!s#y*", keywords, &salt, &PyTuple_Type, &pieces, &kinds,
                                     &nkinds, &safe)) {
        return -1;
    }
    if (nkinds < 1 || nkinds > MAX_FIELDS) {
        PyErr_Format(PyExc_ValueError, "kinds: between 1 and %d fields, got %zd", MAX_FIELDS, nkinds);
        goto done;
    }
    if (PyTuple_GET_SIZE(pieces) != nkinds + 1) {
        PyErr_Format(PyExc_ValueError, "pieces: %zd bytes values (one more than kinds), got %zd", nkinds + 1,
                     PyTuple_GET_SIZE(pieces));
        goto done;
    }
    for (Py_ssize_t i = 0; i <= nkinds; i++) {
        if (!PyBytes_CheckExact(PyTuple_GET_ITEM(pieces, i))) {
            PyErr_Format(PyExc_TypeError, "pieces: item %zd is not bytes", i);
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < nkinds; i++) {
        if (kinds[i] != 's' && kinds[i] != 'd' && kinds[i] != 'r') {
            PyErr_Format(PyExc_ValueError, "kinds: item %zd is '%c'; accepted values: s, d, r", i,
                         (int)(unsigned char)kinds[i]);
            goto done;
        }
    }
    unsigned char *copy = PyMem_Malloc(salt.len ? (size_t)salt.len : 1);
    if (copy == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(copy, salt.buf, (size_t)salt.len);
    PyMem_Free(self->salt);
    self->salt = copy;
    self->salt_len = salt.len;
    memcpy(self->kinds, kinds, (size_t)nkinds);
    self->nfields = (int)nkinds;
    Py_INCREF(pieces);
    Py_XSETREF(self->pieces, pieces);
    memset(self->safe, 0, sizeof self->safe);
    for (Py_ssize_t i = 0; i < safe.len; i++) {
        self->safe[((const unsigned char *)safe.buf)[i]] = 1;
    }
    ok = 1;
done:
    PyBuffer_Release(&salt);
    PyBuffer_Release(&safe);
    return ok ? 0 : -1;
}

/* Append to the payload buffer; a payload over the limit is not the common case (the Python path takes it). */
#define PUT(data, size)                                  \
    do {                                                 \
        size_t put_size_ = (size_t)(size);               \
        if (put_size_ > PAYLOAD_LIMIT - used) {          \
            Py_RETURN_NONE;                              \
        }                                                \
        memcpy(payload + used, (data), put_size_);       \
        used += put_size_;                               \
    } while (0)

static PyObject *checker_check(ChainChecker *self, PyObject *const *args, Py_ssize_t nargs) {
    unsigned char payload[PAYLOAD_LIMIT];
    size_t used = 0;
    if (self->pieces == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ChainChecker was not initialised");
        return NULL;
    }
    if (nargs != self->nfields + 1) {
        PyErr_Format(PyExc_TypeError, "check() takes %d arguments (the fields, then the stored hash), got %zd",
                     self->nfields + 1, nargs);
        return NULL;
    }
    for (int i = 0; i < self->nfields; i++) {
        PyObject *piece = PyTuple_GET_ITEM(self->pieces, i);
        PyObject *value = args[i];
        PUT(PyBytes_AS_STRING(piece), PyBytes_GET_SIZE(piece));
        if (self->kinds[i] == 'd') {
            int overflow = 0;
            long long number;
            char digits[32];
            if (!PyLong_CheckExact(value)) {
                Py_RETURN_NONE;
            }
            number = PyLong_AsLongLongAndOverflow(value, &overflow);
            if (overflow || (number == -1 && PyErr_Occurred())) {
                PyErr_Clear();
                Py_RETURN_NONE;
            }
            PUT(digits, snprintf(digits, sizeof digits, "%lld", number));
        } else if (self->kinds[i] == 'r') {
            if (value == Py_None || (PyBytes_CheckExact(value) && PyBytes_GET_SIZE(value) == 0)) {
                PUT("null", 4);
            } else if (PyBytes_CheckExact(value)) {
                PUT(PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value));
            } else {
                Py_RETURN_NONE;
            }
        } else {
            const unsigned char *text;
            Py_ssize_t size;
            if (!PyBytes_CheckExact(value)) {
                Py_RETURN_NONE;
            }
            text = (const unsigned char *)PyBytes_AS_STRING(value);
            size = PyBytes_GET_SIZE(value);
            for (Py_ssize_t j = 0; j < size; j++) {
                if (!self->safe[text[j]]) {
                    Py_RETURN_NONE;
                }
            }
            PUT(text, size);
        }
    }
    {
        PyObject *last = PyTuple_GET_ITEM(self->pieces, self->nfields);
        PUT(PyBytes_AS_STRING(last), PyBytes_GET_SIZE(last));
    }
    {
        char computed[2 * BLAKE3_OUT_LEN];
        PyObject *stored = args[self->nfields];
        blake3_hex_of(self->salt, (size_t)self->salt_len, payload, used, computed);
        /* The Python path compares hexlify(digest) != stored: anything but these 64 bytes differs. */
        if (!PyBytes_CheckExact(stored) || PyBytes_GET_SIZE(stored) != 2 * BLAKE3_OUT_LEN ||
            memcmp(PyBytes_AS_STRING(stored), computed, sizeof computed) != 0) {
            Py_RETURN_FALSE;
        }
    }
    Py_RETURN_TRUE;
}

static PyObject *accel_blake3_hex(PyObject *module, PyObject *arg) {
    /* BLAKE3 of a bytes-like value as 64 lowercase hex digits (for tests against the blake3 package). */
    Py_buffer data;
    char out[2 * BLAKE3_OUT_LEN];
    (void)module;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    blake3_hex_of(NULL, 0, data.buf, (size_t)data.len, out);
    PyBuffer_Release(&data);
    return PyBytes_FromStringAndSize(out, sizeof out);
}

static PyMethodDef checker_methods[] = {
    {"check", (PyCFunction)(void (*)(void))checker_check, METH_FASTCALL,
     "check(*fields, stored) -> True (intact), False (hash differs) or None (not the common row)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ChainCheckerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "airlock_incident_accel.ChainChecker",
    .tp_doc = "ChainChecker(salt, pieces, kinds, safe): checks the common audit row in C",
    .tp_basicsize = sizeof(ChainChecker),
    .tp_dealloc = (destructor)checker_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = checker_methods,
    .tp_init = (initproc)checker_init,
    .tp_new = PyType_GenericNew,
};

static PyMethodDef module_methods[] = {
    {"blake3_hex", accel_blake3_hex, METH_O, "blake3_hex(data) -> 64 lowercase hex digits as bytes"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef accel_module = {
    PyModuleDef_HEAD_INIT, "airlock_incident_accel",
    "The compiled fast paths of airlock.incident's audit-chain verifier and log scan (optional).", -1,
    module_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_airlock_incident_accel(void) {
    PyObject *module;
    if (PyType_Ready(&ChainCheckerType) < 0) {
        return NULL;
    }
    module = PyModule_Create(&accel_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&ChainCheckerType);
    if (PyModule_AddObject(module, "ChainChecker", (PyObject *)&ChainCheckerType) < 0 ||
        PyModule_AddStringConstant(module, "__version__", ACCEL_VERSION) < 0 ||
        PyModule_AddStringConstant(module, "BLAKE3_VERSION", BLAKE3_VERSION_STRING) < 0 ||
        accel_logscan_register(module) < 0) {
        Py_DECREF(&ChainCheckerType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
