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

/* Test-only hooks exist only in the test archive (omc_t). */
#ifdef OMC_TEST_HOOKS
/* Make the n-th allocation from now fail (1 = the next one); 0 disables. */
OMC_API void omc_test_alloc_fail_at(unsigned long n);
OMC_API unsigned long omc_test_alloc_count(void);
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
