/* The only place that calls malloc. Each block carries its size in a
 * header so that omc_free can wipe it; the test archive can make any chosen
 * allocation fail (SQLite-style fault injection). */
#include <stdlib.h>
#ifdef OMC_TEST_HOOKS
#include <execinfo.h>
#include <stdio.h>
#endif
#include <string.h>

#include "util/util_internal.h"

/* 16 bytes keep the user pointer aligned for any scalar type. */
#define HDR 16

/* Failed allocations of this thread, real or injected: a reader that
 * cannot report one (jansson's, see omc_json_loadb) is checked with it. */
static _Thread_local unsigned long alloc_failures;

unsigned long omc_alloc_failures(void)
{
	return alloc_failures;
}

#ifdef OMC_TEST_HOOKS
/* Two counters: this thread's (the TRE, called in the test's thread), and
 * one shared by every thread inside a counted section (the server's
 * request handlers on libmicrohttpd's pool, which also call each other).
 * Allocations made while held count in neither and never fail. */
static _Thread_local unsigned long fail_at;
static _Thread_local unsigned long alloc_count;
static _Thread_local unsigned hold, counted;
static unsigned long shared_fail_at, shared_count;

void omc_test_alloc_fail_at(unsigned long n)
{
	fail_at = n ? alloc_count + n : 0;
}

unsigned long omc_test_alloc_count(void)
{
	return alloc_count;
}

void omc_test_alloc_hold(bool on)
{
	hold = on ? hold + 1 : hold - 1;
}

void omc_test_alloc_counted(bool on)
{
	counted = on ? counted + 1 : counted - 1;
}

void omc_test_alloc_shared_fail_at(unsigned long n)
{
	unsigned long c = __atomic_load_n(&shared_count, __ATOMIC_SEQ_CST);
	__atomic_store_n(&shared_fail_at, n ? c + n : 0, __ATOMIC_SEQ_CST);
}

unsigned long omc_test_alloc_shared_count(void)
{
	return __atomic_load_n(&shared_count, __ATOMIC_SEQ_CST);
}

/* OMC_FAULT_TRACE set in the environment: the stack of every injected
 * failure on stderr, to find the caller that mishandled it. */
static bool trace(void)
{
	if (getenv("OMC_FAULT_TRACE")) {
		void *fr[32];
		int n = backtrace(fr, 32);
		fputs("omc_alloc: failure injected at\n", stderr); /* lint: allow (test archive only) */
		backtrace_symbols_fd(fr, n, 2);
	}
	return true;
}

static bool injected(void)
{
	if (hold)
		return false;
	alloc_count++;
	if (fail_at && alloc_count == fail_at)
		return trace();
	if (!counted)
		return false;
	unsigned long c = __atomic_add_fetch(&shared_count, 1, __ATOMIC_SEQ_CST);
	return c == __atomic_load_n(&shared_fail_at, __ATOMIC_SEQ_CST) && trace();
}
#endif

void *omc_alloc(size_t n)
{
#ifdef OMC_TEST_HOOKS
	if (injected()) {
		alloc_failures++;
		return NULL;
	}
#endif
	if (n > SIZE_MAX - HDR - 1)
		return NULL;
	/* One byte more than asked for when n is 0: the pointer handed out
	 * then points into its block, not one past it, so that LeakSanitizer
	 * counts whoever holds it (the tred fuzz target's empty files). */
	uint8_t *p = malloc(HDR + (n ? n : 1));
	if (!p) {
		alloc_failures++;
		return NULL;
	}
	memcpy(p, &n, sizeof n);
	return p + HDR;
}

void *omc_calloc(size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	void *p = omc_alloc(count * size);
	if (p)
		memset(p, 0, count * size);
	return p;
}

/* Always moves: a new block, a copy, then the old one wiped and freed, so
 * that no stale copy of its bytes is left behind the way realloc() can
 * leave one. The new block counts as one allocation for the test hook; when
 * it fails, ptr is untouched (realloc semantics). n == 0 frees ptr and
 * returns NULL, as glibc's realloc does. */
void *omc_realloc(void *ptr, size_t n)
{
	if (!ptr)
		return omc_alloc(n);
	if (n == 0) {
		omc_free(ptr);
		return NULL;
	}
	size_t old;
	memcpy(&old, (uint8_t *)ptr - HDR, sizeof old);
	void *q = omc_alloc(n);
	if (!q)
		return NULL;
	memcpy(q, ptr, old < n ? old : n);
	omc_free(ptr);
	return q;
}

void omc_free(void *ptr)
{
	if (!ptr)
		return;
	uint8_t *p = (uint8_t *)ptr - HDR;
	size_t n;
	memcpy(&n, p, sizeof n);
	omc_memzero(p, HDR + n);
	free(p);
}
