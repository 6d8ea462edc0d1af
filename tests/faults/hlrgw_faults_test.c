/* Allocation-failure injection on the AuC's hostapd socket (issue 7,
 * docs/SECURITY.md; src/server/auc_hlrgw.c, docs/card.md): each request
 * of the hlr_auc_gw protocol (AKA-REQ-AUTH, AKA-AUTS, SIM-REQ-AUTH) is
 * made once per allocation it makes, the n-th failing, then once with none
 * failing. A failed AKA-REQ-AUTH must answer "AKA-RESP-AUTH IMSI FAILURE"
 * (hostapd's one refusal) or give a whole vector, never a partial line,
 * and log why; a failed AKA-AUTS answers nothing and must leave the
 * subscriber's SQN as it was or resynchronised whole. After every failure
 * the next clean vector must be accepted by the USIM (its SQN fresh: no
 * SQN issued twice, none skipped out of the window). Leaks are LSan's.
 * What fails is what goes through omc_alloc (the other sweeps' scope):
 * SQLite's own allocations are not injected, so AKA-REQ-AUTH has one
 * allocation to fail and AKA-AUTS and SIM-REQ-AUTH none today; the sweep
 * follows them as the code grows.
 * covers: NET-2, SEC-13 */
#include "srv_fixture.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "openmcim/server.h"
#include "util/util_internal.h"

#define K_HEX "465b5ce8b199b49faa5f0a2ee238a6bc"
#define OPC_HEX "cd63cb71954a9f4e48a5994e37a02baf"
#define IMSI "001010000000001"

static sf_auc A;
static omc_aka_sqn_ms usim;
static char out[1000];
static size_t out_len;
static unsigned nomem_logged;

static void log_fn(void *arg, omc_log_level level, const char *module, const char *msg)
{
	(void)arg;
	if (level <= OMC_LOG_LEVEL_WRN && !strcmp(module, "auc") && strstr(msg, omc_err_str(OMC_ERR_NOMEM)))
		nomem_logged++;
}

static int setup(void **state)
{
	(void)state;
	if (!sf_auc_up(&A, IMSI, K_HEX, OPC_HEX))
		return -1;
	if (omc_aka_sqn_ms_init(&usim, 5, 0, 0) != OMC_OK)
		return -1;
	omc_log_set_handler(log_fn, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	omc_log_set_handler(NULL, NULL);
	return sf_auc_down(&A) ? 0 : -1;
}

static omc_err req(const char *r)
{
	memset(out, 0, sizeof out);
	omc_err e = omc_auc_hlrgw_handle(A.auc, out, sizeof out - 1, &out_len, r, strlen(r));
	out[out_len] = 0;
	return e;
}

/* The answer in out is a whole vector the USIM accepts (its SQN fresh);
 * RAND and AUTN into rand_out and autn_out when not NULL. */
static void usim_accepts(uint8_t *rand_out, uint8_t *autn_out)
{
	char imsi[16], r[33], a[33], ik[33], ck[33], res[17];
	if (sscanf(out, "AKA-RESP-AUTH %15s %32s %32s %32s %32s %16s", imsi, r, a, ik, ck, res) != 6)
		fail_msg("not a whole vector: '%s'", out);
	uint8_t rnd[16], autn[16];
	tl_hex(rnd, 16, r);
	tl_hex(autn, 16, a);
	omc_aka_check_result cr;
	assert_int_equal(omc_aka_check(&cr, &usim, &A.cred, rnd, autn, 16), OMC_OK);
	if (cr.status != OMC_AKA_STATUS_OK)
		fail_msg("the USIM refuses the vector (status %d): an SQN issued twice or out of its window",
			 (int)cr.status);
	tl_expect_hex(cr.res, 8, res, "RES", 0);
	if (rand_out)
		memcpy(rand_out, rnd, 16);
	if (autn_out)
		memcpy(autn_out, autn, 16);
}

/* Make request r once per allocation it makes, the i-th failing; check
 * each answer with check(i); the allocations counted. */
typedef void (*check_fn)(omc_err e, unsigned long i);
static unsigned long sweep(const char *what, const char *r, check_fn check)
{
	for (unsigned long i = 1;; i++) {
		unsigned long n0 = omc_test_alloc_count();
		omc_test_alloc_fail_at(i);
		omc_err e = req(r);
		omc_test_alloc_fail_at(0);
		if (omc_test_alloc_count() - n0 < i) {
			print_message("%s: %lu allocations, each failed in turn\n", what, i - 1);
			return i - 1;
		}
		check(e, i);
	}
}

static unsigned long vectors_whole, vectors_refused;

static void check_vector(omc_err e, unsigned long i)
{
	if (e != OMC_OK)
		fail_msg("AKA-REQ-AUTH, allocation %lu failed: %s, want an answer", i, omc_err_name(e));
	if (!strcmp(out, "AKA-RESP-AUTH " IMSI " FAILURE")) {
		vectors_refused++;
	} else {
		usim_accepts(NULL, NULL); /* the vector was made after all */
		vectors_whole++;
	}
	/* The next vector, with nothing failing, is fresh for the USIM. */
	assert_int_equal(req("AKA-REQ-AUTH " IMSI), OMC_OK);
	usim_accepts(NULL, NULL);
}

static void test_vector_request(void **state)
{
	(void)state;
	nomem_logged = 0;
	unsigned long n = sweep("AKA-REQ-AUTH", "AKA-REQ-AUTH " IMSI, check_vector);
	assert_true(n > 0);
	assert_true(vectors_refused > 0);
	assert_true(nomem_logged >= vectors_refused); /* each refusal says why */
	print_message("AKA-REQ-AUTH: %lu refused, %lu whole\n", vectors_refused, vectors_whole);
	/* And the clean call's own answer. */
	usim_accepts(NULL, NULL);
}

static char auts_req[200];
static omc_aka_sqn_ms ahead;

/* A USIM far ahead sends its AUTS for a vector it refused. */
static void make_auts(void)
{
	assert_int_equal(omc_aka_sqn_ms_init(&ahead, 5, 0, 0), OMC_OK);
	for (unsigned i = 0; i < 32; i++)
		assert_int_equal(omc_aka_sqn_ms_accept(&ahead, (UINT64_C(1) << 25) | i), OMC_OK);
	assert_int_equal(req("AKA-REQ-AUTH " IMSI), OMC_OK);
	uint8_t rnd[16], autn[16];
	char r[33], a[33];
	assert_int_equal(sscanf(out, "AKA-RESP-AUTH %*s %32s %32s", r, a), 2);
	tl_hex(rnd, 16, r);
	tl_hex(autn, 16, a);
	omc_aka_check_result cr;
	assert_int_equal(omc_aka_check(&cr, &ahead, &A.cred, rnd, autn, 16), OMC_OK);
	assert_int_equal(cr.status, OMC_AKA_STATUS_SYNC_FAILURE);
	char ah[40];
	assert_int_equal(omc_hex_encode(ah, sizeof ah, cr.auts, cr.auts_len), OMC_OK);
	snprintf(auts_req, sizeof auts_req, "AKA-AUTS " IMSI " %s %s", ah, r);
}

static void check_auts(omc_err e, unsigned long i)
{
	if (e != OMC_OK || out_len != 0)
		fail_msg("AKA-AUTS, allocation %lu failed: %s, '%s', want no answer", i, omc_err_name(e), out);
	/* Resynchronised whole or not at all: the next vector is fresh for the
	 * USIM ahead, or (not resynchronised) still refused by it, then the
	 * AUTS again. */
	assert_int_equal(req("AKA-REQ-AUTH " IMSI), OMC_OK);
	char r[33], a[33];
	assert_int_equal(sscanf(out, "AKA-RESP-AUTH %*s %32s %32s", r, a), 2);
	uint8_t rnd[16], autn[16];
	tl_hex(rnd, 16, r);
	tl_hex(autn, 16, a);
	omc_aka_sqn_ms copy = ahead;
	omc_aka_check_result cr;
	assert_int_equal(omc_aka_check(&cr, &copy, &A.cred, rnd, autn, 16), OMC_OK);
	if (cr.status == OMC_AKA_STATUS_OK)
		fail_msg("AKA-AUTS, allocation %lu failed, yet SEQ_HE moved: no failure was seen", i);
	assert_int_equal(cr.status, OMC_AKA_STATUS_SYNC_FAILURE);
}

static void test_resync(void **state)
{
	(void)state;
	make_auts();
	unsigned long n = sweep("AKA-AUTS", auts_req, check_auts);
	(void)n;
	/* The clean call resynchronised: the next vector is fresh for the USIM
	 * ahead. */
	assert_int_equal(req("AKA-REQ-AUTH " IMSI), OMC_OK);
	usim = ahead;
	usim_accepts(NULL, NULL);
}

static void check_sim(omc_err e, unsigned long i)
{
	if (e != OMC_OK || strcmp(out, "SIM-RESP-AUTH " IMSI " FAILURE") != 0)
		fail_msg("SIM-REQ-AUTH, allocation %lu failed: %s, '%s'", i, omc_err_name(e), out);
}

static void test_sim_request(void **state)
{
	(void)state;
	(void)sweep("SIM-REQ-AUTH", "SIM-REQ-AUTH " IMSI " 3", check_sim);
	assert_string_equal(out, "SIM-RESP-AUTH " IMSI " FAILURE");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector_request),
		cmocka_unit_test(test_resync),
		cmocka_unit_test(test_sim_request),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
