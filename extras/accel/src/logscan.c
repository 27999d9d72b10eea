/*
 * LogScanner: the compiled fast path of airlock.incident's log_scan (plugins/module_utils/evidence/scan.py).
 *
 * Copyright (c) 2026, airlock.incident contributors
 * GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * LogScanner(names, bucket_seconds).scan(chunk, rooms) reads every line of a chunk once and settles what it
 * can answer exactly as Python's `re` engine does (patterns.py is the single source of truth):
 *
 *   ssn, credit_card, email   every match (Python's finditer semantics: leftmost, non-overlapping), with
 *                             the same validators (SSN rules, Luhn);
 *   the three signals         401, 403 and security_violation, with the line's time bucket (timestamps.py).
 *
 * Everything else goes back to Python as a "hot line" (start, end, pattern positions, signal indexes), the
 * same tuples the hyperscan engine produces, and Python's _LineProcessor.process_hot counts it:
 *
 *   password, jwt, bearer_token, api_key   on a line that holds a literal every match of theirs needs
 *                                          (bigrams found in one pass, then checked);
 *   a settled pattern's first `rooms[i]` matched lines   Python writes their locations and masked samples;
 *   a signal line whose timestamp is not the plain common case   Python computes its bucket (and reports a
 *                                                                 damaged timestamp).
 *
 * Returns (counts, signal_lines, buckets, hot): counts[i] = (candidate lines, matched lines, findings) of
 * the settled lines of pattern position i; signal_lines[s] the settled lines of signal s; buckets a list of
 * (signal, first second of the bucket or None for "unknown", lines). The GIL is held; nothing is kept.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logscan.h"

enum { P_SSN, P_CARD, P_PASSWORD, P_JWT, P_BEARER, P_API_KEY, P_EMAIL, P_COUNT };
static const char *const PATTERN_IDS[P_COUNT] = {"ssn", "credit_card", "password", "jwt", "bearer_token",
                                                 "api_key", "email"};
enum { S_401, S_403, S_SECURITY, S_COUNT };

#define C_WORD 1  /* [A-Za-z0-9_]: what \b looks at */
#define C_DIGIT 2
#define C_LOCAL 4  /* an email's local part: [A-Za-z0-9._%+-] */
#define C_DOMAIN 8 /* an email's domain: [A-Za-z0-9.-] */
#define C_ALPHA 16
#define C_VAL 32     /* patterns._VAL: [^ \t\r\n"'\\,;&}] */
#define C_B64URL 64  /* [A-Za-z0-9_-] */
#define C_BEARER 128 /* [A-Za-z0-9._~+/=-] */
#define UNSURE (-1)

static unsigned short CLS[256];

/* The literals one of which every match of a deferred pattern needs, and the signals' own literals. A line holding
 * one of the first is handed to that pattern's matcher; the second are the signals (security[_ ]violation, the auth
 * middleware's messages). Literals marked any_case are lowercase and matched in any case. */
typedef struct {
    const char *text;
    int any_case;
    int pattern; /* P_*, or -1 */
    int signal;  /* S_*, or -1 */
} Literal;

static const Literal LITERALS[] = {
    {"passw", 1, P_PASSWORD, -1}, {"passp", 1, P_PASSWORD, -1}, {"pwd", 1, P_PASSWORD, -1},
    {"secret", 1, P_PASSWORD, -1}, {"private_key", 1, P_PASSWORD, -1},
    {"eyJ", 0, P_JWT, -1},
    {"bearer", 1, P_BEARER, -1},
    {"api", 1, P_API_KEY, -1}, {"sk-", 0, P_API_KEY, -1}, {"sk_", 0, P_API_KEY, -1}, {"rk_", 0, P_API_KEY, -1},
    {"AKIA", 0, P_API_KEY, -1}, {"ASIA", 0, P_API_KEY, -1}, {"ghp_", 0, P_API_KEY, -1}, {"gho_", 0, P_API_KEY, -1},
    {"ghu_", 0, P_API_KEY, -1}, {"ghs_", 0, P_API_KEY, -1}, {"ghr_", 0, P_API_KEY, -1}, {"xox", 0, P_API_KEY, -1},
    {"AIza", 0, P_API_KEY, -1},
    {"Token validation failed", 0, -1, S_401}, {"Token extraction failed", 0, -1, S_401},
    {"Insufficient permissions", 0, -1, S_403},
    {"security_violation", 1, -1, S_SECURITY}, {"security violation", 1, -1, S_SECURITY},
};
#define N_LITERALS ((int)(sizeof LITERALS / sizeof LITERALS[0]))
#define MAX_GROUPS 64
#define MAX_BUCKETS 4096
#define MAX_NUMBER 40

/* Every literal starts with two word bytes, so it is found from the bigram at its start inside a word: BIGRAM maps
 * a bigram to its group (0: none), GROUPS lists a group's literals (-1 ends the list). */
static unsigned char BIGRAM[65536];
static signed char GROUPS[MAX_GROUPS][N_LITERALS + 1];

static void add_literal_bigram(int a, int b, int literal) {
    unsigned char *group = &BIGRAM[(a << 8) | b];
    static int used = 0;
    if (*group == 0) {
        *group = (unsigned char)++used;
        GROUPS[used][0] = -1;
    }
    signed char *list = GROUPS[*group];
    int k = 0;
    while (list[k] >= 0) {
        k++;
    }
    list[k] = (signed char)literal;
    list[k + 1] = -1;
}

static void init_tables(void) {
    static int done = 0;
    if (done) {
        return;
    }
    for (int c = '0'; c <= '9'; c++) {
        CLS[c] = C_WORD | C_DIGIT | C_LOCAL | C_DOMAIN;
    }
    for (int c = 'a'; c <= 'z'; c++) {
        CLS[c] = C_WORD | C_LOCAL | C_DOMAIN | C_ALPHA;
        CLS[c - 32] = C_WORD | C_LOCAL | C_DOMAIN | C_ALPHA;
    }
    CLS['_'] = C_WORD | C_LOCAL;
    CLS['.'] = C_LOCAL | C_DOMAIN;
    CLS['-'] = C_LOCAL | C_DOMAIN;
    CLS['%'] = C_LOCAL;
    CLS['+'] = C_LOCAL;
    for (int c = 0; c < 256; c++) {
        if (!strchr(" \t\r\n\"'\\,;&}", c) || c == 0) {
            CLS[c] |= C_VAL;
        }
        if ((CLS[c] & (C_ALPHA | C_DIGIT)) || c == '_' || c == '-') {
            CLS[c] |= C_B64URL;
        }
        if ((CLS[c] & (C_ALPHA | C_DIGIT)) || (c && strchr("._~+/=-", c))) {
            CLS[c] |= C_BEARER;
        }
    }
    for (int k = 0; k < N_LITERALS; k++) {
        const int a = (unsigned char)LITERALS[k].text[0], b = (unsigned char)LITERALS[k].text[1];
        if (!LITERALS[k].any_case) {
            add_literal_bigram(a, b, k);
            continue;
        }
        for (int x = 0; x < 4; x++) {
            add_literal_bigram((x & 1) ? (a & ~0x20) : a, (x & 2) ? (b & ~0x20) : b, k);
        }
    }
    done = 1;
}

/* buf[p:le] starts with `word` (lowercase letters, digits, '_'), letters in any case. */
static int ci_at(const unsigned char *buf, Py_ssize_t p, Py_ssize_t le, const char *word) {
    for (; *word; word++, p++) {
        if (p >= le) {
            return 0;
        }
        int c = buf[p];
        if (CLS[c] & C_ALPHA) {
            c |= 0x20;
        }
        if (c != (unsigned char)*word) {
            return 0;
        }
    }
    return 1;
}

static int cs_at(const unsigned char *buf, Py_ssize_t p, Py_ssize_t le, const char *text) {
    Py_ssize_t n = (Py_ssize_t)strlen(text);
    return le - p >= n && memcmp(buf + p, text, (size_t)n) == 0;
}

/* \b at p in buf[ls:le] (the byte before a line is a newline, the end of the line is no word byte). */
static inline int word_at(const unsigned char *buf, Py_ssize_t p, Py_ssize_t ls, Py_ssize_t le) {
    return p >= ls && p < le && (CLS[buf[p]] & C_WORD);
}

static inline int digit_at(const unsigned char *buf, Py_ssize_t p, Py_ssize_t le) {
    return p < le && (CLS[buf[p]] & C_DIGIT);
}

static int digits_at(const unsigned char *buf, Py_ssize_t p, Py_ssize_t le, int n) {
    for (int k = 0; k < n; k++) {
        if (!digit_at(buf, p + k, le)) {
            return 0;
        }
    }
    return 1;
}

/* The index after the blanks ([ \t]*) from q; before the blanks that end at j (backwards, not before ls). */
static inline Py_ssize_t skip_blanks(const unsigned char *buf, Py_ssize_t q, Py_ssize_t le) {
    while (q < le && (buf[q] == ' ' || buf[q] == '\t')) {
        q++;
    }
    return q;
}

static inline Py_ssize_t skip_blanks_back(const unsigned char *buf, Py_ssize_t j, Py_ssize_t ls) {
    while (j > ls && (buf[j - 1] == ' ' || buf[j - 1] == '\t')) {
        j--;
    }
    return j;
}

static int luhn(const char *digits, int n) {
    int total = 0, parity = n % 2;
    for (int i = 0; i < n; i++) {
        int v = digits[i] - '0';
        if (i % 2 == parity) {
            v *= 2;
            if (v > 9) {
                v -= 9;
            }
        }
        total += v;
    }
    return total % 10 == 0;
}

/* ---------------------------------------------------------------- signals: 401/403 in their contexts */

static const char *const STATUS_KEYS[] = {"status_code", "statuscode", "http_status", "status", "code", NULL};

/* _STATUS_KEYS + _SEP + code: the separator read backwards from the code at s (patterns.py). */
static int status_key_before(const unsigned char *buf, Py_ssize_t s, Py_ssize_t ls) {
    Py_ssize_t j = s;
    if (j > ls && (buf[j - 1] == '"' || buf[j - 1] == '\'')) {
        j--;
    }
    if (j > ls && buf[j - 1] == '\\') {
        j--;
    }
    j = skip_blanks_back(buf, j, ls);
    if (!(j > ls && (buf[j - 1] == '=' || buf[j - 1] == ':'))) {
        return 0;
    }
    j--;
    j = skip_blanks_back(buf, j, ls);
    if (j > ls && (buf[j - 1] == '"' || buf[j - 1] == '\'')) {
        j--;
    }
    if (j > ls && buf[j - 1] == '\\') {
        j--;
    }
    for (int k = 0; STATUS_KEYS[k]; k++) {
        Py_ssize_t n = (Py_ssize_t)strlen(STATUS_KEYS[k]);
        Py_ssize_t start = j - n;
        if (start < ls || !ci_at(buf, start, j, STATUS_KEYS[k])) {
            continue;
        }
        if (!word_at(buf, start - 1, ls, j)) {
            return 1;
        }
    }
    return 0;
}

/* HTTP/[0-9.]+"?[ \t]+ before the code at s. */
static int http_before(const unsigned char *buf, Py_ssize_t s, Py_ssize_t ls) {
    Py_ssize_t j = s;
    j = skip_blanks_back(buf, j, ls);
    if (j == s) {
        return 0;
    }
    if (j > ls && buf[j - 1] == '"') {
        j--;
    }
    Py_ssize_t k = j;
    while (j > ls && ((CLS[buf[j - 1]] & C_DIGIT) || buf[j - 1] == '.')) {
        j--;
    }
    if (j == k) {
        return 0;
    }
    return j - 5 >= ls && memcmp(buf + j - 5, "HTTP/", 5) == 0;
}

/* Whether the 3-digit word at s (a whole word) is the status code of the signal `code` ("401"/"403"). */
static int status_code_at(const unsigned char *buf, Py_ssize_t s, Py_ssize_t ls, Py_ssize_t le,
                          const char *reason) {
    if (status_key_before(buf, s, ls) || http_before(buf, s, ls)) {
        return 1;
    }
    /* \b401 Unauthorized\b */
    Py_ssize_t p = s + 3;
    if (p < le && buf[p] == ' ' && cs_at(buf, p + 1, le, reason)) {
        return !word_at(buf, p + 1 + (Py_ssize_t)strlen(reason), ls, le);
    }
    return 0;
}

/* ---------------------------------------------------------------- email: finditer of patterns._EMAIL */

static Py_ssize_t email_count(const unsigned char *buf, Py_ssize_t ls, Py_ssize_t le) {
    Py_ssize_t pos = ls, found = 0;
    while (pos < le) {
        const unsigned char *at = memchr(buf + pos, '@', (size_t)(le - pos));
        if (at == NULL) {
            break;
        }
        Py_ssize_t a = at - buf;
        Py_ssize_t r = a;
        while (r > pos && (CLS[buf[r - 1]] & C_LOCAL)) {
            r--;
        }
        Py_ssize_t p = -1;
        for (Py_ssize_t q = r; q < a; q++) {
            if (word_at(buf, q - 1, ls, le) != word_at(buf, q, ls, le)) {
                p = q;
                break;
            }
        }
        Py_ssize_t match_end = -1;
        if (p >= 0) {
            Py_ssize_t d = a + 1, e = a + 1;
            while (e < le && (CLS[buf[e]] & C_DOMAIN)) {
                e++;
            }
            /* domain+ backtracks from the longest: the last '.' (not the first domain byte) followed by 2
               letters; [A-Za-z]{2,} then takes every letter after it. */
            for (Py_ssize_t m = e - 1; m >= d + 1; m--) {
                if (buf[m] == '.' && m + 2 < le && (CLS[buf[m + 1]] & C_ALPHA) && (CLS[buf[m + 2]] & C_ALPHA)) {
                    Py_ssize_t x = m + 3;
                    while (x < le && (CLS[buf[x]] & C_ALPHA)) {
                        x++;
                    }
                    match_end = x;
                    break;
                }
            }
        }
        if (match_end < 0) {
            pos = a + 1;
            continue;
        }
        found++;
        pos = match_end;
    }
    return found;
}

/* ---------------------------------------------------------------- secrets: password, jwt, bearer_token, api_key
 *
 * Each returns the number of matches of its pattern in buf[ls:le] (finditer: leftmost, non-overlapping) and
 * sets *valid to how many pass the pattern's validator, or returns UNSURE where only Python can tell (a
 * value with a byte outside ASCII, a JWT header that is not a plain JSON object, ...). */

static const char *const PLACEHOLDERS[] = {"null", "none", "nil", "true", "false", "redacted", "[redacted]",
                                           "<redacted>", "hidden", "masked", "changeme_redacted", "undefined",
                                           "****", "xxxx", "$", "{", "[", NULL};
static const char *const PLACEHOLDER_PREFIXES[] = {"[redacted", "${", "{{", "<redacted", "%(", NULL};

/* patterns._valid_secret_value for an ASCII value; UNSURE for any other byte. */
static int secret_value_valid(const unsigned char *v, Py_ssize_t n) {
    char low[32];
    int masked_only = 1;
    for (Py_ssize_t k = 0; k < n; k++) {
        if (v[k] >= 0x80) {
            return UNSURE;
        }
        if (v[k] == 0 || !strchr("*xX#.", v[k])) {
            masked_only = 0;
        }
    }
    if (n < (Py_ssize_t)sizeof low) {
        for (Py_ssize_t k = 0; k < n; k++) {
            low[k] = (char)((CLS[v[k]] & C_ALPHA) ? (v[k] | 0x20) : v[k]);
        }
        low[n] = 0;
        for (int k = 0; PLACEHOLDERS[k]; k++) {
            /* Lengths compared first: a value may hold NUL bytes ("{\0..." is no placeholder). */
            if ((size_t)n == strlen(PLACEHOLDERS[k]) && memcmp(low, PLACEHOLDERS[k], (size_t)n) == 0) {
                return 0;
            }
        }
    }
    for (int k = 0; PLACEHOLDER_PREFIXES[k]; k++) {
        if (ci_at(v, 0, n, PLACEHOLDER_PREFIXES[k])) {
            return 0;
        }
    }
    return !masked_only;
}

/* _SEP then a value of at least `least` _VAL bytes, at q: the value's [start, end) or 0. */
static int sep_value_at(const unsigned char *buf, Py_ssize_t q, Py_ssize_t le, Py_ssize_t least, Py_ssize_t *vs,
                        Py_ssize_t *ve) {
    if (q < le && buf[q] == '\\') {
        q++;
    }
    if (q < le && (buf[q] == '"' || buf[q] == '\'')) {
        q++;
    }
    q = skip_blanks(buf, q, le);
    if (!(q < le && (buf[q] == '=' || buf[q] == ':'))) {
        return 0;
    }
    q++;
    q = skip_blanks(buf, q, le);
    if (q < le && buf[q] == '\\') {
        q++;
    }
    if (q < le && (buf[q] == '"' || buf[q] == '\'')) {
        q++;
    }
    Py_ssize_t e = q;
    while (e < le && (CLS[buf[e]] & C_VAL)) {
        e++;
    }
    if (e - q < least) {
        return 0;
    }
    *vs = q;
    *ve = e;
    return 1;
}

/* One match of a pattern at p (0: none there): its value's [*vs, *ve) for the validator, and in *next where the
 * search goes on (after a match, its end; after none, at least p + 1). */
typedef int (*match_at_fn)(const unsigned char *buf, Py_ssize_t p, Py_ssize_t ls, Py_ssize_t le, Py_ssize_t *vs,
                           Py_ssize_t *ve, Py_ssize_t *next);
/* 1 valid, 0 not, UNSURE for Python to decide. */
typedef int (*valid_fn)(const unsigned char *value, Py_ssize_t n);

/* finditer of one pattern over buf[ls:le] (leftmost, non-overlapping): the matches, and in *valid how many pass
 * the validator; UNSURE as soon as one value is for Python to judge. */
static Py_ssize_t count_matches(const unsigned char *buf, Py_ssize_t ls, Py_ssize_t le, match_at_fn at, valid_fn judge,
                                Py_ssize_t *valid) {
    Py_ssize_t found = 0, p = ls;
    *valid = 0;
    while (p < le) {
        Py_ssize_t vs = 0, ve = 0, next = p + 1;
        if (!at(buf, p, ls, le, &vs, &ve, &next)) {
            p = next > p ? next : p + 1;
            continue;
        }
        int ok = judge(buf + vs, ve - vs);
        if (ok == UNSURE) {
            return UNSURE;
        }
        found++;
        *valid += ok;
        p = next;
    }
    return found;
}

static const char *const PASSWORD_KEYS[] = {"password", "passwd", "passphrase", "pwd", "secret_key", "secretkey",
                                            "secret", "private_key", NULL};

/* _PASSWORD: the first key (in the alternation's order) followed by _SEP and a value. */
static int password_at(const unsigned char *buf, Py_ssize_t p, Py_ssize_t ls, Py_ssize_t le, Py_ssize_t *vs,
                       Py_ssize_t *ve, Py_ssize_t *next) {
    const int c = buf[p] | 0x20;
    (void)ls;
    if (c != 'p' && c != 's') {
        return 0;
    }
    for (int k = 0; PASSWORD_KEYS[k]; k++) {
        if (ci_at(buf, p, le, PASSWORD_KEYS[k]) &&
            sep_value_at(buf, p + (Py_ssize_t)strlen(PASSWORD_KEYS[k]), le, 1, vs, ve)) {
            *next = *ve;
            return 1;
        }
    }
    return 0;
}

/* _BEARER: \b bearer (any case), blanks, at least 16 bytes of the token class. */
static int bearer_at(const unsigned char *buf, Py_ssize_t p, Py_ssize_t ls, Py_ssize_t le, Py_ssize_t *vs,
                     Py_ssize_t *ve, Py_ssize_t *next) {
    if ((buf[p] | 0x20) != 'b' || !ci_at(buf, p, le, "bearer") || word_at(buf, p - 1, ls, le)) {
        return 0;
    }
    Py_ssize_t q = skip_blanks(buf, p + 6, le), e = q;
    while (e < le && (CLS[buf[e]] & C_BEARER)) {
        e++;
    }
    if (q == p + 6 || e - q < 16) {
        return 0;
    }
    /* Placeholders and their prefixes cannot be 16 bytes of this class; masking bytes can. */
    *vs = q;
    *ve = *next = e;
    return 1;
}

/* ------------------------------------------------ JWT headers: base64url, then a JSON object (json.loads) */

static int json_value(const unsigned char *s, Py_ssize_t n, Py_ssize_t *i, int depth);

static void json_ws(const unsigned char *s, Py_ssize_t n, Py_ssize_t *i) {
    while (*i < n && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\n' || s[*i] == '\r')) {
        (*i)++;
    }
}

static int json_string(const unsigned char *s, Py_ssize_t n, Py_ssize_t *i) {
    Py_ssize_t k = *i + 1;
    while (k < n) {
        unsigned char c = s[k];
        if (c == '"') {
            *i = k + 1;
            return 1;
        }
        if (c < 0x20) {
            return 0;
        }
        if (c == '\\') {
            if (k + 1 >= n) {
                return 0;
            }
            unsigned char e = s[k + 1];
            if (e == 'u') {
                for (int h = 2; h < 6; h++) {
                    if (k + h >= n || !strchr("0123456789abcdefABCDEF", s[k + h]) || !s[k + h]) {
                        return 0;
                    }
                }
                k += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || !e) {
                return 0;
            }
            k += 2;
            continue;
        }
        k++;
    }
    return 0;
}

static int json_number(const unsigned char *s, Py_ssize_t n, Py_ssize_t *i) {
    Py_ssize_t k = *i;
    if (k < n && s[k] == '-') {
        k++;
    }
    if (k < n && s[k] == '0') {
        k++;
    } else if (k < n && s[k] >= '1' && s[k] <= '9') {
        while (k < n && (CLS[s[k]] & C_DIGIT)) {
            k++;
        }
    } else {
        return 0;
    }
    if (k + 1 < n && s[k] == '.' && (CLS[s[k + 1]] & C_DIGIT)) {
        k++;
        while (k < n && (CLS[s[k]] & C_DIGIT)) {
            k++;
        }
    }
    if (k < n && (s[k] == 'e' || s[k] == 'E')) {
        Py_ssize_t e = k + 1;
        if (e < n && (s[e] == '+' || s[e] == '-')) {
            e++;
        }
        if (e < n && (CLS[s[e]] & C_DIGIT)) {
            while (e < n && (CLS[s[e]] & C_DIGIT)) {
                e++;
            }
            k = e;
        }
    }
    *i = k;
    return 1;
}

static int json_literal(const unsigned char *s, Py_ssize_t n, Py_ssize_t *i, const char *word) {
    Py_ssize_t len = (Py_ssize_t)strlen(word);
    if (n - *i >= len && memcmp(s + *i, word, (size_t)len) == 0) {
        *i += len;
        return 1;
    }
    return 0;
}

/* Members or elements up to the closing byte; the caller consumed the opening one. */
static int json_container(const unsigned char *s, Py_ssize_t n, Py_ssize_t *i, int depth, int object) {
    const unsigned char close = object ? '}' : ']';
    json_ws(s, n, i);
    if (*i < n && s[*i] == close) {
        (*i)++;
        return 1;
    }
    while (1) {
        if (object) {
            if (!(*i < n && s[*i] == '"') || !json_string(s, n, i)) {
                return 0;
            }
            json_ws(s, n, i);
            if (!(*i < n && s[*i] == ':')) {
                return 0;
            }
            (*i)++;
            json_ws(s, n, i);
        }
        if (!json_value(s, n, i, depth + 1)) {
            return 0;
        }
        json_ws(s, n, i);
        if (*i < n && s[*i] == ',') {
            (*i)++;
            json_ws(s, n, i);
            continue;
        }
        if (*i < n && s[*i] == close) {
            (*i)++;
            return 1;
        }
        return 0;
    }
}

static int json_value(const unsigned char *s, Py_ssize_t n, Py_ssize_t *i, int depth) {
    if (depth > 32 || *i >= n) {
        return 0;
    }
    switch (s[*i]) {
    case '{':
        (*i)++;
        return json_container(s, n, i, depth, 1);
    case '[':
        (*i)++;
        return json_container(s, n, i, depth, 0);
    case '"':
        return json_string(s, n, i);
    case 'n':
        return json_literal(s, n, i, "null");
    case 't':
        return json_literal(s, n, i, "true");
    case 'f':
        return json_literal(s, n, i, "false");
    case 'N':
        return json_literal(s, n, i, "NaN");
    case 'I':
        return json_literal(s, n, i, "Infinity");
    case '-':
        if (json_literal(s, n, i, "-Infinity")) {
            return 1;
        }
        return json_number(s, n, i);
    default:
        return json_number(s, n, i);
    }
}

static int b64url_value(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    return 63; /* '_' */
}

/* patterns._valid_jwt for the header buf[p:e] (base64url bytes only): 1 when it decodes to ASCII JSON that
 * is an object; UNSURE otherwise (Python decides: bad padding, UTF-8, another JSON value, an error). */
static int jwt_header_valid(const unsigned char *h, Py_ssize_t n) {
    unsigned char out[1024];
    Py_ssize_t m = 0;
    if (n % 4 == 1 || n / 4 * 3 + 3 > (Py_ssize_t)sizeof out) {
        return UNSURE;
    }
    unsigned acc = 0;
    int bits = 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        acc = (acc << 6) | (unsigned)b64url_value(h[k]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[m++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    for (Py_ssize_t k = 0; k < m; k++) {
        if (out[k] >= 0x80) {
            return UNSURE;
        }
    }
    Py_ssize_t i = 0;
    json_ws(out, m, &i);
    if (!(i < m && out[i] == '{') || !json_value(out, m, &i, 0)) {
        return UNSURE;
    }
    json_ws(out, m, &i);
    return i == m ? 1 : UNSURE;
}

/* _JWT: \b eyJ base64url+ . eyJ base64url+ . base64url*; the value judged is the header (up to the first dot). */
static int jwt_at(const unsigned char *buf, Py_ssize_t p, Py_ssize_t ls, Py_ssize_t le, Py_ssize_t *vs,
                  Py_ssize_t *ve, Py_ssize_t *next) {
    if (buf[p] != 'e') {
        const unsigned char *hit = memchr(buf + p, 'e', (size_t)(le - p));
        *next = hit ? hit - buf : le;
        return 0;
    }
    if (!cs_at(buf, p, le, "eyJ") || word_at(buf, p - 1, ls, le)) {
        return 0;
    }
    Py_ssize_t r1 = p + 3, r2, r3;
    while (r1 < le && (CLS[buf[r1]] & C_B64URL)) {
        r1++;
    }
    r2 = r1 + 4;
    if (r1 > p + 3 && cs_at(buf, r1, le, ".eyJ")) {
        while (r2 < le && (CLS[buf[r2]] & C_B64URL)) {
            r2++;
        }
    }
    if (!(r1 > p + 3 && cs_at(buf, r1, le, ".eyJ") && r2 > r1 + 4 && r2 < le && buf[r2] == '.')) {
        /* Every later start inside this base64url run ends its run at r1 too, and fails the same way:
           skipping them keeps a hostile line ("eyJ-eyJ-eyJ-...") linear. */
        *next = r1;
        return 0;
    }
    r3 = r2 + 1;
    while (r3 < le && (CLS[buf[r3]] & C_B64URL)) {
        r3++;
    }
    *vs = p;
    *ve = r1;
    *next = r3;
    return 1;
}

/* The class [chars] of api_key's alternatives, by code: 'a' [A-Za-z0-9_-], 'b' [A-Za-z0-9], 'c' [0-9A-Z],
 * 'd' [A-Za-z0-9-]. */
static int api_class(int c, char which) {
    int alnum = (CLS[c] & (C_ALPHA | C_DIGIT)) != 0;
    switch (which) {
    case 'a': return alnum || c == '_' || c == '-';
    case 'b': return alnum;
    case 'c': return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    default: return alnum || c == '-';
    }
}

/* At least `least` bytes of class `which` from q, greedily (`exact`: exactly `least`, whatever follows): 1 with the
 * end in *ve, else 0. */
static int class_run(const unsigned char *buf, Py_ssize_t q, Py_ssize_t le, char which, Py_ssize_t least, int exact,
                     Py_ssize_t *ve) {
    Py_ssize_t e = q;
    while (e < le && api_class(buf[e], which) && !(exact && e - q == least)) {
        e++;
    }
    if (e - q < least) {
        return 0;
    }
    *ve = e;
    return 1;
}

static int one_of(int c, const char *set) {
    return c && strchr(set, c) != NULL;
}

/* One match of api_key's alternation at p: 1 with the value's [vs, ve) (the whole match but for api_key=...), or 0.
 * The alternatives start differently, so at most one can match at p. */
static int api_key_at(const unsigned char *buf, Py_ssize_t p, Py_ssize_t ls, Py_ssize_t le, Py_ssize_t *vs,
                      Py_ssize_t *ve) {
    const int boundary = !word_at(buf, p - 1, ls, le);
    *vs = p;
    if (boundary && cs_at(buf, p, le, "sk-")) { /* \bsk-[A-Za-z0-9_-]{20,} */
        return class_run(buf, p + 3, le, 'a', 20, 0, ve);
    }
    if (boundary && one_of(buf[p], "rs") && (cs_at(buf, p + 1, le, "k_live_") || cs_at(buf, p + 1, le, "k_test_"))) {
        return class_run(buf, p + 8, le, 'b', 16, 0, ve); /* \b[rs]k_(live|test)_[A-Za-z0-9]{16,} */
    }
    if (boundary && (cs_at(buf, p, le, "AKIA") || cs_at(buf, p, le, "ASIA"))) { /* ...[0-9A-Z]{16}\b */
        return class_run(buf, p + 4, le, 'c', 16, 1, ve) && !word_at(buf, *ve, ls, le);
    }
    if (boundary && cs_at(buf, p, le, "gh") && p + 3 < le && one_of(buf[p + 2], "pousr") && buf[p + 3] == '_') {
        return class_run(buf, p + 4, le, 'b', 36, 0, ve); /* \bgh[pousr]_[A-Za-z0-9]{36,} */
    }
    if (boundary && cs_at(buf, p, le, "xox") && p + 4 < le && one_of(buf[p + 3], "abprs") && buf[p + 4] == '-') {
        return class_run(buf, p + 5, le, 'd', 10, 0, ve); /* \bxox[abprs]-[A-Za-z0-9-]{10,} */
    }
    if (boundary && cs_at(buf, p, le, "AIza")) { /* \bAIza[0-9A-Za-z_-]{35} */
        return class_run(buf, p + 4, le, 'a', 35, 1, ve);
    }
    if (ci_at(buf, p, le, "api")) { /* api[_-]?key, _SEP, at least 8 value bytes */
        Py_ssize_t q = p + 3;
        if (q < le && (buf[q] == '_' || buf[q] == '-') && ci_at(buf, q + 1, le, "key")) {
            q++;
        }
        if (ci_at(buf, q, le, "key")) {
            return sep_value_at(buf, q + 3, le, 8, vs, ve);
        }
    }
    return 0;
}

static int api_key_match_at(const unsigned char *buf, Py_ssize_t p, Py_ssize_t ls, Py_ssize_t le, Py_ssize_t *vs,
                            Py_ssize_t *ve, Py_ssize_t *next) {
    if (!one_of(buf[p], "srAgxa") || !api_key_at(buf, p, ls, le, vs, ve)) {
        return 0;
    }
    *next = *ve;
    return 1;
}

/* ---------------------------------------------------------------- timestamps (timestamps.py) */

static int two(const unsigned char *b) { return (b[0] - '0') * 10 + (b[1] - '0'); }

static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m) {
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        return 29;
    }
    return dim[m - 1];
}

/* `(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|z|[+-]\d{2}:?\d{2})` at p, then `tail` (a byte that
 * must follow; 0 for [ \t]). Returns the length matched (0: no match) and sets *ok to whether the plain
 * conversion below applies (else the caller lets Python decide). */
static Py_ssize_t rfc3339_at(const unsigned char *buf, Py_ssize_t p, Py_ssize_t le, int tail, int64_t *seconds,
                             int *ok) {
    Py_ssize_t q = p;
    *ok = 0;
    if (!(digits_at(buf, q, le, 4) && q + 4 < le && buf[q + 4] == '-' && digits_at(buf, q + 5, le, 2) &&
          q + 7 < le && buf[q + 7] == '-' && digits_at(buf, q + 8, le, 2) && q + 10 < le &&
          (buf[q + 10] == 'T' || buf[q + 10] == ' ') && digits_at(buf, q + 11, le, 2) && q + 13 < le &&
          buf[q + 13] == ':' && digits_at(buf, q + 14, le, 2) && q + 16 < le && buf[q + 16] == ':' &&
          digits_at(buf, q + 17, le, 2))) {
        return 0;
    }
    int year = two(buf + q) * 100 + two(buf + q + 2), month = two(buf + q + 5), day = two(buf + q + 8);
    int hour = two(buf + q + 11), minute = two(buf + q + 14), second = two(buf + q + 17);
    q += 19;
    if (q < le && buf[q] == '.' && digit_at(buf, q + 1, le)) {
        q++;
        while (digit_at(buf, q, le)) {
            q++;
        }
    }
    int offset = 0, plain_zone = 1;
    if (q < le && (buf[q] == 'Z' || buf[q] == 'z')) {
        q++;
    } else if (q < le && (buf[q] == '+' || buf[q] == '-')) {
        int sign = buf[q] == '-' ? -1 : 1;
        if (!digits_at(buf, q + 1, le, 2)) {
            return 0;
        }
        int zh = two(buf + q + 1), zm;
        q += 3;
        if (q < le && buf[q] == ':') {
            q++;
        }
        if (!digits_at(buf, q, le, 2)) {
            return 0;
        }
        zm = two(buf + q);
        q += 2;
        if (zh > 23 || zm > 59) {
            plain_zone = 0;
        }
        offset = sign * (zh * 3600 + zm * 60);
    } else {
        return 0;
    }
    if (q >= le) {
        return 0;
    }
    if (tail ? buf[q] != tail : (buf[q] != ' ' && buf[q] != '\t')) {
        return 0;
    }
    if (plain_zone && year >= 2 && year <= 9998 && month >= 1 && month <= 12 && day >= 1 &&
        day <= days_in_month(year, month) && hour <= 23 && minute <= 59 && second <= 59) {
        *seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
        *ok = 1;
    }
    return q + 1 - p;
}

/* "(?:ts|timestamp|time)"[ \t]*:[ \t]* at p: the index after it, or -1. */
static Py_ssize_t ts_key_at(const unsigned char *buf, Py_ssize_t p, Py_ssize_t le) {
    Py_ssize_t q;
    if (cs_at(buf, p, le, "\"ts\"")) {
        q = p + 4;
    } else if (cs_at(buf, p, le, "\"timestamp\"")) {
        q = p + 11;
    } else if (cs_at(buf, p, le, "\"time\"")) {
        q = p + 6;
    } else {
        return -1;
    }
    q = skip_blanks(buf, q, le);
    if (!(q < le && buf[q] == ':')) {
        return -1;
    }
    q++;
    q = skip_blanks(buf, q, le);
    return q;
}

enum { TS_NONE = 0, TS_OK = 1, TS_UNSURE = -1 };

/* line_epoch_seconds() for the common cases; TS_UNSURE where Python must decide (and report damage). */
static int line_seconds(const unsigned char *buf, Py_ssize_t ls, Py_ssize_t le, int64_t *seconds) {
    int ok;
    if (rfc3339_at(buf, ls, le, 0, seconds, &ok)) {
        return ok ? TS_OK : TS_UNSURE;
    }
    /* _JSON_TS_NUM.search first; _JSON_TS_STR.search only when it finds nothing. */
    Py_ssize_t str_at = -1;
    const unsigned char *hit = buf + ls;
    while (1) {
        hit = memchr(hit, '"', (size_t)(buf + le - hit));
        if (hit == NULL) {
            break;
        }
        Py_ssize_t p = hit - buf;
        hit++;
        if (p + 1 >= le || buf[p + 1] != 't') {
            continue;
        }
        Py_ssize_t q = ts_key_at(buf, p, le);
        if (q < 0 || q >= le) {
            continue;
        }
        if (CLS[buf[q]] & C_DIGIT) {
            Py_ssize_t x = q;
            while (digit_at(buf, x, le)) {
                x++;
            }
            if (x < le && buf[x] == '.') {
                x++;
                while (digit_at(buf, x, le)) {
                    x++;
                }
            }
            if (x >= le) {
                continue;
            }
            if (buf[x] == 'e' || buf[x] == 'E') {
                return TS_UNSURE;
            }
            if (!(buf[x] == ',' || buf[x] == '}' || buf[x] == ' ' || buf[x] == '\t')) {
                continue;
            }
            if (x - q > MAX_NUMBER) {
                return TS_UNSURE;
            }
            char text[MAX_NUMBER + 1];
            memcpy(text, buf + q, (size_t)(x - q));
            text[x - q] = 0;
            double value = strtod(text, NULL);
            if (value >= 1e17) {
                value /= 1e9;
            } else if (value >= 1e14) {
                value /= 1e6;
            } else if (value >= 1e11) {
                value /= 1e3;
            }
            if (!(value >= 0.0 && value < 253402300800.0)) {
                return TS_UNSURE;
            }
            *seconds = (int64_t)value;
            return TS_OK;
        }
        if (buf[q] == '"' && str_at < 0) {
            int64_t s;
            if (rfc3339_at(buf, q + 1, le, '"', &s, &ok)) {
                if (!ok) {
                    return TS_UNSURE; /* the leftmost text match decides, unless a number follows: Python */
                }
                str_at = q;
                *seconds = s;
            }
        }
    }
    return str_at >= 0 ? TS_OK : TS_NONE;
}

/* The literals of bigram group g that are at p: marks the pattern whose matches need one (needle) or the signal it
 * is (sig). Out of the scanning loop: bigram hits are rare. */
static __attribute__((noinline)) void bigram_hit(const unsigned char *buf, Py_ssize_t p, Py_ssize_t le, unsigned g,
                                                 int *needle, int *sig) {
    for (const signed char *k = GROUPS[g]; *k >= 0; k++) {
        const Literal *lit = &LITERALS[*k];
        if (lit->any_case ? ci_at(buf, p, le, lit->text) : cs_at(buf, p, le, lit->text)) {
            if (lit->pattern >= 0) {
                needle[lit->pattern] = 1;
            } else {
                sig[lit->signal] = 1;
            }
        }
    }
}

/* ---------------------------------------------------------------- the scanner */

typedef struct {
    PyObject_HEAD
    int npatterns;
    int ids[P_COUNT];      /* pattern position -> pattern id */
    int position[P_COUNT]; /* pattern id -> position, or -1 when not selected */
    int64_t bucket_seconds;
} LogScanner;

static int scanner_init(LogScanner *self, PyObject *args, PyObject *kwds) {
    PyObject *names;
    long long bucket;
    static char *kwlist[] = {"names", "bucket_seconds", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OL", kwlist, &names, &bucket)) {
        return -1;
    }
    if (bucket < 1) {
        PyErr_SetString(PyExc_ValueError, "bucket_seconds: at least 1");
        return -1;
    }
    PyObject *seq = PySequence_Fast(names, "names: a sequence of pattern names");
    if (seq == NULL) {
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > P_COUNT) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "names: too many patterns");
        return -1;
    }
    for (int k = 0; k < P_COUNT; k++) {
        self->position[k] = -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *name = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i));
        int id = -1;
        if (name == NULL) {
            Py_DECREF(seq);
            return -1;
        }
        for (int k = 0; k < P_COUNT; k++) {
            if (strcmp(name, PATTERN_IDS[k]) == 0) {
                id = k;
            }
        }
        if (id < 0 || self->position[id] >= 0) {
            Py_DECREF(seq);
            PyErr_Format(PyExc_ValueError, "names: unknown or repeated pattern %s", name);
            return -1;
        }
        self->ids[i] = id;
        self->position[id] = (int)i;
    }
    Py_DECREF(seq);
    self->npatterns = (int)n;
    self->bucket_seconds = bucket;
    return 0;
}

typedef struct {
    int signal;
    int known;
    int64_t first;
    Py_ssize_t lines;
} Bucket;

typedef struct {
    Bucket items[MAX_BUCKETS];
    int n;
    int last;
} Buckets;

/* Count one line into its bucket; 0 when the table is full (the caller hands the line to Python). */
static int bucket_add(Buckets *table, int signal, int known, int64_t first) {
    if (table->n > 0) {
        Bucket *b = &table->items[table->last];
        if (b->signal == signal && b->known == known && b->first == first) {
            b->lines++;
            return 1;
        }
    }
    for (int k = 0; k < table->n; k++) {
        Bucket *b = &table->items[k];
        if (b->signal == signal && b->known == known && b->first == first) {
            b->lines++;
            table->last = k;
            return 1;
        }
    }
    if (table->n >= MAX_BUCKETS) {
        return 0;
    }
    table->items[table->n] = (Bucket){signal, known, first, 1};
    table->last = table->n++;
    return 1;
}

/* A hot line for Python: (start, end, [pattern positions], [signal indexes]). */
static int add_hot(PyObject *hot, Py_ssize_t ls, Py_ssize_t le, const int *patterns, int np, const int *signals,
                   int ns) {
    PyObject *plist = PyList_New(np), *slist = PyList_New(ns), *item;
    if (plist == NULL || slist == NULL) {
        Py_XDECREF(plist);
        Py_XDECREF(slist);
        return -1;
    }
    for (int k = 0; k < np; k++) {
        PyList_SET_ITEM(plist, k, PyLong_FromLong(patterns[k]));
    }
    for (int k = 0; k < ns; k++) {
        PyList_SET_ITEM(slist, k, PyLong_FromLong(signals[k]));
    }
    item = Py_BuildValue("(nnNN)", ls, le, plist, slist);
    if (item == NULL) {
        return -1;
    }
    int rc = PyList_Append(hot, item);
    Py_DECREF(item);
    return rc;
}

static PyObject *scanner_scan(LogScanner *self, PyObject *args) {
    Py_buffer view;
    PyObject *rooms_arg;
    if (!PyArg_ParseTuple(args, "y*O", &view, &rooms_arg)) {
        return NULL;
    }
    Py_ssize_t rooms[P_COUNT] = {0};
    PyObject *rooms_seq = PySequence_Fast(rooms_arg, "rooms: a sequence of integers");
    if (rooms_seq == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    if (PySequence_Fast_GET_SIZE(rooms_seq) != self->npatterns) {
        Py_DECREF(rooms_seq);
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "rooms: one integer per pattern");
        return NULL;
    }
    for (int i = 0; i < self->npatterns; i++) {
        rooms[i] = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(rooms_seq, i));
        if (rooms[i] == -1 && PyErr_Occurred()) {
            Py_DECREF(rooms_seq);
            PyBuffer_Release(&view);
            return NULL;
        }
    }
    Py_DECREF(rooms_seq);

    const unsigned char *buf = view.buf;
    const Py_ssize_t n = view.len;
    Py_ssize_t candidate[P_COUNT] = {0}, matched[P_COUNT] = {0}, findings[P_COUNT] = {0};
    Py_ssize_t signal_lines[S_COUNT] = {0};
    const int *pos = self->position;
    const int want_ssn = pos[P_SSN] >= 0, want_card = pos[P_CARD] >= 0, want_email = pos[P_EMAIL] >= 0;
    Buckets *table = PyMem_Malloc(sizeof(Buckets));
    PyObject *hot = PyList_New(0);
    if (table == NULL || hot == NULL) {
        PyMem_Free(table);
        Py_XDECREF(hot);
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    table->n = 0;
    table->last = 0;

    Py_ssize_t ls = 0, newlines = 0;
    while (ls < n) {
        const unsigned char *nl = memchr(buf + ls, '\n', (size_t)(n - ls));
        const Py_ssize_t le = nl ? nl - buf : n;
        int needle[P_COUNT] = {0};
        int sig[S_COUNT] = {0};
        int at_seen = 0;
        Py_ssize_t ssn_pos = ls, card_pos = ls;
        Py_ssize_t ssn_found = 0, ssn_valid = 0, card_found = 0, card_valid = 0;
        Py_ssize_t i = ls;
        while (i < le) {
            const unsigned c = buf[i];
            if (!(CLS[c] & C_WORD)) {
                at_seen |= c == '@';
                i++;
                continue;
            }
            const Py_ssize_t s = i;
            /* Digits first: a word of digits only (no literal starts with a digit) is what cards, SSNs and
               status codes are made of. */
            while (i < le && (CLS[buf[i]] & C_DIGIT)) {
                i++;
            }
            if (i == s || (i < le && (CLS[buf[i]] & C_WORD))) {
                unsigned prev = i > s ? buf[i - 1] : buf[i];
                if (i == s) {
                    i++;
                }
                while (i < le) {
                    const unsigned c2 = buf[i];
                    if (!(CLS[c2] & C_WORD)) {
                        break;
                    }
                    const unsigned g = BIGRAM[(prev << 8) | c2];
                    if (__builtin_expect(g != 0, 0)) {
                        bigram_hit(buf, i - 1, le, g, needle, sig);
                    }
                    prev = c2;
                    i++;
                }
                continue;
            }
            /* A word of digits only, buf[s:i], with \b on both sides. */
            const Py_ssize_t len = i - s;
            if (len == 3) {
                if (buf[s] == '4' && buf[s + 1] == '0' && (buf[s + 2] == '1' || buf[s + 2] == '3')) {
                    int which = buf[s + 2] == '1' ? S_401 : S_403;
                    if (!sig[which] &&
                        status_code_at(buf, s, ls, le, which == S_401 ? "Unauthorized" : "Forbidden")) {
                        sig[which] = 1;
                    }
                }
                /* \b[0-9]{3}-[0-9]{2}-[0-9]{4}\b */
                if (want_ssn && s >= ssn_pos && i < le && buf[i] == '-' && digits_at(buf, i + 1, le, 2) &&
                    i + 3 < le && buf[i + 3] == '-' && digits_at(buf, i + 4, le, 4) &&
                    !word_at(buf, i + 8, ls, le)) {
                    ssn_found++;
                    ssn_pos = i + 8;
                    const unsigned char *m = buf + s;
                    int area_bad = (m[0] == '0' && m[1] == '0' && m[2] == '0') ||
                                   (m[0] == '6' && m[1] == '6' && m[2] == '6') || m[0] == '9';
                    int group_bad = m[4] == '0' && m[5] == '0';
                    int serial_bad = m[7] == '0' && m[8] == '0' && m[9] == '0' && m[10] == '0';
                    if (!area_bad && !group_bad && !serial_bad) {
                        ssn_valid++;
                    }
                }
            } else if (want_card && s >= card_pos && buf[s] >= '2' && buf[s] <= '6') {
                char digits[20];
                int nd = 0;
                Py_ssize_t end = -1;
                if (len >= 13 && len <= 19) {
                    memcpy(digits, buf + s, (size_t)len);
                    nd = (int)len;
                    end = i;
                } else if (len == 4 && i < le && (buf[i] == ' ' || buf[i] == '-')) {
                    const unsigned char sep = buf[i];
                    /* [2-6][0-9]{3}( [0-9]{4}){3} and the same with '-' */
                    int ok = 1;
                    for (int g = 0; g < 3 && ok; g++) {
                        Py_ssize_t at = i + g * 5;
                        ok = at < le && buf[at] == sep && digits_at(buf, at + 1, le, 4);
                    }
                    if (ok && !word_at(buf, i + 15, ls, le)) {
                        for (int g = 0; g < 4; g++) {
                            memcpy(digits + 4 * g, buf + s + 5 * g, 4);
                        }
                        nd = 16;
                        end = i + 15;
                    } else if (buf[s] == '3' && (buf[s + 1] == '4' || buf[s + 1] == '7') &&
                               digits_at(buf, i + 1, le, 6) && i + 7 < le &&
                               (buf[i + 7] == ' ' || buf[i + 7] == '-') && digits_at(buf, i + 8, le, 5) &&
                               !word_at(buf, i + 13, ls, le)) {
                        /* 3[47][0-9]{2}[ -][0-9]{6}[ -][0-9]{5} */
                        memcpy(digits, buf + s, 4);
                        memcpy(digits + 4, buf + i + 1, 6);
                        memcpy(digits + 10, buf + i + 8, 5);
                        nd = 15;
                        end = i + 13;
                    }
                }
                if (end >= 0) {
                    card_found++;
                    card_pos = end;
                    if (luhn(digits, nd)) {
                        card_valid++;
                    }
                }
            }
        }

        int hot_patterns[P_COUNT], nhp = 0, hot_signals[S_COUNT], nhs = 0;
        Py_ssize_t found[P_COUNT] = {0}, valid[P_COUNT] = {0};
        found[P_SSN] = ssn_found;
        valid[P_SSN] = ssn_valid;
        found[P_CARD] = card_found;
        valid[P_CARD] = card_valid;
        if (want_email && at_seen) {
            found[P_EMAIL] = valid[P_EMAIL] = email_count(buf, ls, le);
        }
        if (needle[P_PASSWORD] && pos[P_PASSWORD] >= 0) {
            found[P_PASSWORD] = count_matches(buf, ls, le, password_at, secret_value_valid, &valid[P_PASSWORD]);
        }
        if (needle[P_JWT] && pos[P_JWT] >= 0) {
            found[P_JWT] = count_matches(buf, ls, le, jwt_at, jwt_header_valid, &valid[P_JWT]);
        }
        if (needle[P_BEARER] && pos[P_BEARER] >= 0) {
            found[P_BEARER] = count_matches(buf, ls, le, bearer_at, secret_value_valid, &valid[P_BEARER]);
        }
        if (needle[P_API_KEY] && pos[P_API_KEY] >= 0) {
            found[P_API_KEY] = count_matches(buf, ls, le, api_key_match_at, secret_value_valid, &valid[P_API_KEY]);
        }
        for (int position = 0; position < self->npatterns; position++) {
            const int id = self->ids[position];
            if (found[id] == UNSURE) {
                hot_patterns[nhp++] = position; /* Python decides */
                continue;
            }
            if (found[id] == 0) {
                continue;
            }
            if (valid[id] > 0 && rooms[position] > 0) {
                rooms[position]--; /* Python writes its location and samples */
                hot_patterns[nhp++] = position;
                continue;
            }
            candidate[position]++;
            if (valid[id] > 0) {
                matched[position]++;
                findings[position] += valid[id];
            }
        }
        if (sig[S_401] || sig[S_403] || sig[S_SECURITY]) {
            int64_t seconds = 0;
            int status = line_seconds(buf, ls, le, &seconds);
            if (status == TS_OK && seconds < 0) {
                status = TS_UNSURE; /* Python's floor modulo decides the bucket before 1970 */
            }
            int known = status == TS_OK;
            int64_t first = known ? seconds - seconds % self->bucket_seconds : 0;
            for (int s = 0; s < S_COUNT; s++) {
                if (!sig[s]) {
                    continue;
                }
                if (status != TS_UNSURE && bucket_add(table, s, known, first)) {
                    signal_lines[s]++;
                } else {
                    hot_signals[nhs++] = s;
                }
            }
        }
        if (nhp || nhs) {
            if (add_hot(hot, ls, le, hot_patterns, nhp, hot_signals, nhs) < 0) {
                PyMem_Free(table);
                Py_DECREF(hot);
                PyBuffer_Release(&view);
                return NULL;
            }
        }
        if (nl != NULL) {
            newlines++;
        }
        ls = le + 1;
    }
    PyBuffer_Release(&view);

    PyObject *counts = PyTuple_New(self->npatterns);
    PyObject *sigs = PyTuple_New(S_COUNT);
    PyObject *buckets = PyList_New(table->n);
    if (counts == NULL || sigs == NULL || buckets == NULL) {
        goto fail;
    }
    for (int k = 0; k < self->npatterns; k++) {
        PyObject *item = Py_BuildValue("(nnn)", candidate[k], matched[k], findings[k]);
        if (item == NULL) {
            goto fail;
        }
        PyTuple_SET_ITEM(counts, k, item);
    }
    for (int s = 0; s < S_COUNT; s++) {
        PyObject *item = PyLong_FromSsize_t(signal_lines[s]);
        if (item == NULL) {
            goto fail;
        }
        PyTuple_SET_ITEM(sigs, s, item);
    }
    for (int k = 0; k < table->n; k++) {
        Bucket *b = &table->items[k];
        PyObject *item = b->known ? Py_BuildValue("(iLn)", b->signal, (long long)b->first, b->lines)
                                  : Py_BuildValue("(iOn)", b->signal, Py_None, b->lines);
        if (item == NULL) {
            goto fail;
        }
        PyList_SET_ITEM(buckets, k, item);
    }
    PyMem_Free(table);
    return Py_BuildValue("(NNNNn)", counts, sigs, buckets, hot, newlines);
fail:
    PyMem_Free(table);
    Py_XDECREF(counts);
    Py_XDECREF(sigs);
    Py_XDECREF(buckets);
    Py_DECREF(hot);
    return NULL;
}

static PyMethodDef scanner_methods[] = {
    {"scan", (PyCFunction)scanner_scan, METH_VARARGS,
     "scan(chunk, rooms) -> (counts, signal_lines, buckets, hot lines for Python)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject LogScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "airlock_incident_accel.LogScanner",
    .tp_doc = "LogScanner(names, bucket_seconds): counts the common lines of a log chunk in C",
    .tp_basicsize = sizeof(LogScanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_init = (initproc)scanner_init,
    .tp_new = PyType_GenericNew,
    .tp_methods = scanner_methods,
};

int accel_logscan_register(PyObject *module) {
    init_tables();
    if (PyType_Ready(&LogScannerType) < 0) {
        return -1;
    }
    Py_INCREF(&LogScannerType);
    if (PyModule_AddObject(module, "LogScanner", (PyObject *)&LogScannerType) < 0) {
        Py_DECREF(&LogScannerType);
        return -1;
    }
    return PyModule_AddStringConstant(module, "LOGSCAN_PATTERNS_SHA256", LOGSCAN_PATTERNS_SHA256);
}
