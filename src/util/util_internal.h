/* openmcim: internal helpers shared by every module (never installed).
 *
 * Guard macros keep the happy path straight (s2n safety macros):
 *   OMC_TRY(expr)          return expr's error if it is not OMC_OK
 *   OMC_ENSURE(cond, err)  return err unless cond
 *   OMC_BAIL(err)          return err
 * Each failure records file:line for omc_err_source(), so a debug session can
 * tell where an error was raised. Nothing secret is recorded.
 *
 * Wiping on every exit path: OMC_DEFER_WIPE(var) zeroes var (any object)
 * when the enclosing block is left, by return or otherwise. */
#ifndef OMC_UTIL_INTERNAL_H
#define OMC_UTIL_INTERNAL_H

#include <stdlib.h>

#include "openmcim/cur.h"
#include "openmcim/err.h"
#include "openmcim/log.h"
#include "openmcim/util.h"

omc_err omc_err_raise(omc_err e, const char *file, int line);
/* "src/aka/sqn.c:120" for the last error raised in this thread, or "". */
OMC_API const char *omc_err_source(void);

#define OMC_TRY(expr)                                                  \
	do {                                                           \
		omc_err omc_try_e_ = (expr);                            \
		if (omc_try_e_ != OMC_OK)                               \
			return omc_try_e_;                              \
	} while (0)
#define OMC_BAIL(err) return omc_err_raise((err), __FILE__, __LINE__)
#define OMC_ENSURE(cond, err)                \
	do {                                 \
		if (!(cond))                 \
			OMC_BAIL(err);       \
	} while (0)

#define OMC_CONCAT2_(a, b) a##b
#define OMC_CONCAT_(a, b) OMC_CONCAT2_(a, b)

struct omc_wipe_guard {
	void *p;
	size_t n;
};
static inline void omc_wipe_guard_run_(struct omc_wipe_guard *g)
{
	omc_memzero(g->p, g->n);
}
#define OMC_DEFER_WIPE(var)                                                      \
	__attribute__((cleanup(omc_wipe_guard_run_), unused)) struct omc_wipe_guard OMC_CONCAT_( \
		omc_wipe_, __LINE__) = {(void *)&(var), sizeof(var)}

#define OMC_WIPE(var) omc_memzero(&(var), sizeof(var))
#define OMC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Can't-happen branches that must still fail safe in release builds
 * (SQLite ALWAYS/NEVER): the condition is evaluated, and if violated the
 * error is logged with its place and the caller sees OMC_ERR_BUG. */
#define OMC_ASSERT(cond)                                                              \
	do {                                                                          \
		if (!(cond)) {                                                        \
			OMC_LOG_ERR("assert", "%s:%d: assertion failed: %s", __FILE__, \
				    __LINE__, #cond);                                 \
			OMC_BAIL(OMC_ERR_BUG);                                        \
		}                                                                     \
	} while (0)

/* AES-256-GCM (src/util/aead.c). ct and pt are len bytes (they may be the
 * same buffer); open returns OMC_ERR_MAC_FAILURE for a tag that does not
 * check, and then wipes pt. */
#define OMC_AEAD_KEY_LEN 32
#define OMC_AEAD_NONCE_LEN 12
#define OMC_AEAD_TAG_LEN 16
OMC_API OMC_MUST_USE omc_err omc_aead_seal(uint8_t *ct, uint8_t tag[OMC_STATIC_LEN(OMC_AEAD_TAG_LEN)],
					    const uint8_t key[OMC_STATIC_LEN(OMC_AEAD_KEY_LEN)],
					    const uint8_t nonce[OMC_STATIC_LEN(OMC_AEAD_NONCE_LEN)], const uint8_t *aad,
					    size_t aad_len, const uint8_t *pt, size_t len);
OMC_API OMC_MUST_USE omc_err omc_aead_open(uint8_t *pt, const uint8_t key[OMC_STATIC_LEN(OMC_AEAD_KEY_LEN)],
					    const uint8_t nonce[OMC_STATIC_LEN(OMC_AEAD_NONCE_LEN)], const uint8_t *aad,
					    size_t aad_len, const uint8_t *ct, size_t len,
					    const uint8_t tag[OMC_STATIC_LEN(OMC_AEAD_TAG_LEN)]);

/* The whole file at path (absolute or relative to the current directory),
 * NUL-terminated, at most max bytes (else OMC_ERR_TOO_LARGE); *buf from
 * omc_alloc. OMC_ERR_NOT_FOUND if it does not exist (src/util/file.c). */
OMC_MUST_USE omc_err omc_read_file(const char *path, uint8_t **buf, size_t *len, size_t max);

/* How many allocations of this thread have failed so far (real or
 * injected): a caller of a library that does not report its own failures
 * compares it before and after (omc_json_loadb). */
unsigned long omc_alloc_failures(void);

/* e when it is OMC_ERR_NOMEM, else other: a caller that turns a callee's
 * failure into its own verdict (CORRUPT, DENIED) keeps "out of memory",
 * which says nothing about the input and must not be taken for one. */
static inline omc_err omc_nomem_or(omc_err e, omc_err other)
{
	return e == OMC_ERR_NOMEM ? e : other;
}

/* jansson's json_loadb and json_loads, but NULL ("out of memory") when an
 * allocation failed while reading: jansson itself does not notice all of
 * them (src/util/json.c). Every reader of JSON in src/ goes through these. */
struct json_t;
struct json_error_t;
OMC_MUST_USE struct json_t *omc_json_loadb(const char *buf, size_t len, size_t flags, struct json_error_t *err);
OMC_MUST_USE struct json_t *omc_json_loads(const char *s, size_t flags, struct json_error_t *err);
/* json_dumps, but NULL when an allocation failed while writing (free the
 * result with omc_free). */
OMC_MUST_USE char *omc_json_dumps(const struct json_t *j, size_t flags);

/* Test-only hooks exist only in the test archive (omc_t). */
#ifdef OMC_TEST_HOOKS
/* Make the n-th allocation of this thread from now fail (1 = the next
 * one); 0 disables. */
OMC_API void omc_test_alloc_fail_at(unsigned long n);
OMC_API unsigned long omc_test_alloc_count(void);
/* While held (nested), this thread's allocations are not counted and never
 * fail on purpose (jansson's reader, which cannot take a failure). */
OMC_API void omc_test_alloc_hold(bool on);
/* While on (nested), this thread's allocations also count in one counter
 * shared by all threads (the HTTP server's request handlers), and the n-th
 * of them from omc_test_alloc_shared_fail_at(n) fails; 0 disables. */
OMC_API void omc_test_alloc_counted(bool on);
OMC_API void omc_test_alloc_shared_fail_at(unsigned long n);
OMC_API unsigned long omc_test_alloc_shared_count(void);
/* The secret canary (tests/canary): when the environment variable
 * OMC_TEST_CANARY_<name> holds at least n bytes in hex, their first n go to
 * out and true is returned; else out is left alone. Only test builds (the
 * omc_t archive, the openmcim_t CLI) have it: production never reads it. */
OMC_API bool omc_test_canary(uint8_t *out, size_t n, const char *name);
#define OMC_TEST_CANARY(out, n, name) ((void)omc_test_canary(out, n, name))
#else
#define OMC_TEST_CANARY(out, n, name) ((void)0)
#endif

#endif
