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
/* Fails with both error names unless got == want. */
#define assert_err(got, want)                                                                           \
	do {                                                                                            \
		omc_err got_ = (got);                                                                   \
		omc_err want_ = (want);                                                                 \
		if (got_ != want_)                                                                      \
			fail_msg("%s: got %s, want %s", #got, omc_err_name(got_), omc_err_name(want_)); \
	} while (0)

/* 1 if all n bytes at p equal v. */
int tl_all_bytes_are(const uint8_t *p, size_t n, uint8_t v);
/* A subscriber with random keys: MILENAGE (default constants) or TUAK
 * (default lengths except the MAC, mac_bits; K of k_len bytes). */
void tl_make_cred(omc_aka_cred *c, omc_aka_alg alg, size_t k_len, unsigned mac_bits);
/* A base port P with P .. P+n-1 free on 127.0.0.1 now, below the kernel's
 * ephemeral range (ip_local_port_range) where there is room for it, so
 * that no connection's own port takes one of them later (a server
 * restarted on fixed ports); fails the test if 200 tries find none. */
unsigned tl_port_base(unsigned n);
/* A new P-256 key pair; fails the test if none. */
omc_key *tl_key(void);
/* A certificate for subject's public key, issued by issuer_key under issuer
 * (NULL: self-signed, issuer_key is the subject's); org may be NULL. */
omc_cert *tl_cert(const char *cn, const char *org, bool ca, unsigned days, const omc_key *subject,
		  const omc_cert *issuer, const omc_key *issuer_key);
/* Random bytes for property tests (OpenSSL DRBG). */
void tl_rand(void *out, size_t n);
/* A MILENAGE vector (TS 35.206 constants) of K and OPc in hex at the 48-bit
 * SQN, with a random RAND: what an AuC ahead of the card would send. */
void tl_milenage_av(omc_aka_av *av, const char *k_hex, const char *opc_hex, uint64_t sqn, const uint8_t amf[2]);
/* The first column of the first row of sql on the SQLite database at path
 * (read-only), as an integer; -1 when there is no row. */
long tl_db_count(const char *path, const char *sql);
/* Runs a command through sh -c, captures stdout (at most cap-1 bytes,
 * NUL-terminated) and stderr into separate buffers; returns the exit status
 * (or -1). Either buffer may be NULL. */
int tl_run(const char *cmd, char *out, size_t out_cap, char *err, size_t err_cap);
/* tl_run of `'BIN' ARGS </dev/null`, ARGS formatted from fmt. */
int tl_run_bin(const char *bin, char *out, size_t out_cap, char *err, size_t err_cap, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

#endif
