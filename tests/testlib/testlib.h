/* Test helpers (never linked into production). */
#ifndef OMC_TESTLIB_H
#define OMC_TESTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "openmcim/openmcim.h"

/* Loads tests/vectors/<name>; fails the test if unreadable. */
json_t *tl_load_vectors(const char *name);
/* Member `key` of obj as a string; fails the test if absent. */
const char *tl_str(const json_t *obj, const char *key);
/* Decode exactly len bytes of hex; fails the test otherwise. */
void tl_hex(uint8_t *out, size_t len, const char *hex);
/* Decode hex of any length up to cap; returns the length. */
size_t tl_hex_var(uint8_t *out, size_t cap, const char *hex);
/* Fails with a readable message if got (n bytes) differs from want_hex. */
void tl_expect_hex(const uint8_t *got, size_t n, const char *want_hex, const char *what, int set);
/* Random bytes for property tests (OpenSSL DRBG). */
void tl_rand(void *out, size_t n);
/* Runs a command through sh -c, captures stdout (at most cap-1 bytes,
 * NUL-terminated) and stderr into separate buffers; returns the exit status
 * (or -1). Either buffer may be NULL. */
int tl_run(const char *cmd, char *out, size_t out_cap, char *err, size_t err_cap);

#endif
