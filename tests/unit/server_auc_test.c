/* The AuC on a real SQLite database in WAL mode: batches whose every vector
 * a USIM accepts and whose values equal the AKA engine's; SQNs strictly
 * increasing and never repeated across a restart; every vector logged;
 * resynchronisation from a real AUTS; an operator sees only its own
 * subscribers; a disabled IMSI gets nothing; a wrong master key opens no
 * secret; TUAK subscribers; K and OPc nowhere in plaintext in the database
 * files. covers: SEC-4, SEC-12, SEC-13, NET-3, EVAL-6 */
#include "testlib.h"

#include <stdlib.h>
#include <unistd.h>

#include "openmcim/server.h"

#define K_HEX "6b8a3f1e0c2d4b5a69788796a5b4c3d2"
#define OPC_HEX "f1e2d3c4b5a6978812345678abcdef01"

static char dir[64], path[96];
static uint8_t master[32];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/omc-auc-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof path, "%s/server.db", dir);
	tl_rand(master, sizeof master);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void milenage_cred(omc_aka_cred *c, const char *k_hex, const char *opc_hex)
{
	uint8_t k[16], opc[16];
	tl_hex(k, 16, k_hex);
	tl_hex(opc, 16, opc_hex);
	c->alg = OMC_AKA_ALG_MILENAGE;
	assert_int_equal(omc_aka_milenage_init(&c->u.milenage, k, opc, NULL), OMC_OK);
}

static void open_auc(omc_db **db, omc_auc **a, const char *op, const uint8_t *key)
{
	assert_int_equal(omc_db_open(db, path), OMC_OK);
	assert_int_equal(omc_db_schema_version(*db), 8);
	assert_int_equal(omc_auc_open(a, *db, op, key), OMC_OK);
}

static void close_auc(omc_db *db, omc_auc *a)
{
	omc_auc_close(a);
	omc_db_close(db);
}

static const uint8_t amf[2] = {0x80, 0x00};

static void test_batches_and_restart(void **state)
{
	(void)state;
	omc_db *db;
	omc_auc *a;
	open_auc(&db, &a, "sho1", master);
	omc_aka_cred c;
	milenage_cred(&c, K_HEX, OPC_HEX);
	assert_int_equal(omc_auc_add(a, "001010000000001", &c, OMC_AKA_IND_BITS_DEFAULT), OMC_OK);
	assert_int_equal(omc_auc_add(a, "001010000000001", &c, OMC_AKA_IND_BITS_DEFAULT), OMC_ERR_EXISTS);
	/* The device's side: a USIM with the same credential. */
	omc_aka_sqn_ms usim;
	assert_int_equal(omc_aka_sqn_ms_init(&usim, OMC_AKA_IND_BITS_DEFAULT, 0, 0), OMC_OK);
	uint64_t last = 0;
	omc_aka_av av[OMC_AUC_BATCH_MAX];
	for (int round = 0; round < 3; round++) {
		size_t n = round == 0 ? 1 : OMC_AUC_BATCH_MAX;
		assert_int_equal(omc_auc_vectors(a, "001010000000001", amf, av, n), OMC_OK);
		for (size_t i = 0; i < n; i++) {
			/* The same values as the engine's, from the vector's own RAND and SQN. */
			uint8_t sqn[6];
			for (int b = 0; b < 6; b++)
				sqn[b] = av[i].autn[b];
			omc_aka_outputs o;
			assert_int_equal(omc_aka_outputs_gen(&o, &c, av[i].rand, sqn, amf), OMC_OK);
			for (int b = 0; b < 6; b++)
				sqn[b] ^= o.ak[b]; /* AUTN carries SQN xor AK */
			omc_aka_av want;
			assert_int_equal(omc_aka_av_gen(&want, &c, av[i].rand, sqn, amf), OMC_OK);
			assert_int_equal(want.xres_len, av[i].xres_len);
			assert_int_equal(want.autn_len, av[i].autn_len);
			assert_memory_equal(want.xres, av[i].xres, want.xres_len);
			assert_memory_equal(want.ck, av[i].ck, want.ck_len);
			assert_memory_equal(want.ik, av[i].ik, want.ik_len);
			assert_memory_equal(want.autn, av[i].autn, want.autn_len);
			uint64_t s = omc_load_be48(sqn);
			assert_true(s > last); /* strictly increasing */
			last = s;
			omc_aka_check_result r;
			assert_int_equal(omc_aka_check(&r, &usim, &c, av[i].rand, av[i].autn, av[i].autn_len), OMC_OK);
			assert_int_equal(r.status, OMC_AKA_STATUS_OK);
			assert_memory_equal(r.res, av[i].xres, av[i].xres_len);
		}
	}
	omc_auc_info info;
	assert_int_equal(omc_auc_info_get(a, "001010000000001", &info), OMC_OK);
	assert_int_equal(info.avs_issued, 1 + 2 * OMC_AUC_BATCH_MAX);
	assert_true(info.enabled);
	close_auc(db, a);
	/* After a restart the SQNs go on above every one issued. */
	open_auc(&db, &a, "sho1", master);
	assert_int_equal(omc_auc_vectors(a, "001010000000001", amf, av, 4), OMC_OK);
	for (size_t i = 0; i < 4; i++) {
		omc_aka_check_result r;
		assert_int_equal(omc_aka_check(&r, &usim, &c, av[i].rand, av[i].autn, av[i].autn_len), OMC_OK);
		assert_int_equal(r.status, OMC_AKA_STATUS_OK);
		assert_true(omc_load_be48(r.sqn) > last);
		last = omc_load_be48(r.sqn);
	}
	/* Bad requests change nothing. */
	assert_int_equal(omc_auc_vectors(a, "001010000000001", amf, av, 0), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_auc_vectors(a, "001010000000001", amf, av, OMC_AUC_BATCH_MAX + 1), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_auc_vectors(a, "00101x", amf, av, 1), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_auc_vectors(a, "001010000000099", amf, av, 1), OMC_ERR_NOT_FOUND);
	assert_int_equal(omc_auc_info_get(a, "001010000000001", &info), OMC_OK);
	assert_int_equal(info.avs_issued, 5 + 2 * OMC_AUC_BATCH_MAX);
	close_auc(db, a);
	omc_aka_cred_wipe(&c);
}

static void test_resync(void **state)
{
	(void)state;
	omc_db *db;
	omc_auc *a;
	open_auc(&db, &a, "sho1", master);
	omc_aka_cred c;
	milenage_cred(&c, K_HEX, OPC_HEX);
	assert_int_equal(omc_auc_add(a, "001010000000002", &c, OMC_AKA_IND_BITS_DEFAULT), OMC_OK);
	/* A USIM far ahead (its MCIM used elsewhere before). */
	omc_aka_sqn_ms usim;
	assert_int_equal(omc_aka_sqn_ms_init(&usim, OMC_AKA_IND_BITS_DEFAULT, 0, 0), OMC_OK);
	assert_int_equal(omc_aka_sqn_ms_set_floor(&usim, (UINT64_C(5000) << OMC_AKA_IND_BITS_DEFAULT) | 3), OMC_OK);
	omc_aka_av av;
	omc_aka_check_result r;
	assert_int_equal(omc_auc_vectors(a, "001010000000002", amf, &av, 1), OMC_OK);
	assert_int_equal(omc_aka_check(&r, &usim, &c, av.rand, av.autn, av.autn_len), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_SYNC_FAILURE);
	/* A forged AUTS moves nothing. */
	bool moved = true;
	uint8_t bad[OMC_AKA_MAX_AUTS_LEN];
	memcpy(bad, r.auts, r.auts_len);
	bad[r.auts_len - 1] ^= 1;
	assert_int_equal(omc_auc_resync(a, "001010000000002", av.rand, bad, r.auts_len, &moved), OMC_ERR_MAC_FAILURE);
	assert_false(moved);
	assert_int_equal(omc_auc_resync(a, "001010000000002", av.rand, r.auts, r.auts_len, &moved), OMC_OK);
	assert_true(moved);
	omc_auc_info info;
	assert_int_equal(omc_auc_info_get(a, "001010000000002", &info), OMC_OK);
	assert_true(info.seq_he >= 5000);
	close_auc(db, a);
	/* Durable: after a restart the next vector is accepted. */
	open_auc(&db, &a, "sho1", master);
	assert_int_equal(omc_auc_vectors(a, "001010000000002", amf, &av, 1), OMC_OK);
	assert_int_equal(omc_aka_check(&r, &usim, &c, av.rand, av.autn, av.autn_len), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_OK);
	close_auc(db, a);
	omc_aka_cred_wipe(&c);
}

static void test_operators_disable_master(void **state)
{
	(void)state;
	omc_db *db;
	omc_auc *a, *b, *wrong;
	open_auc(&db, &a, "sho1", master);
	assert_int_equal(omc_auc_open(&b, db, "sho2", master), OMC_OK);
	omc_aka_cred c;
	milenage_cred(&c, K_HEX, OPC_HEX);
	assert_int_equal(omc_auc_add(a, "001010000000003", &c, 0), OMC_OK);
	/* An IMSI is in one AuC only. */
	assert_int_equal(omc_auc_add(b, "001010000000003", &c, 0), OMC_ERR_EXISTS);
	omc_aka_av av;
	omc_auc_info info;
	assert_int_equal(omc_auc_vectors(b, "001010000000003", amf, &av, 1), OMC_ERR_NOT_FOUND);
	assert_int_equal(omc_auc_info_get(b, "001010000000003", &info), OMC_ERR_NOT_FOUND);
	assert_int_equal(omc_auc_disable(b, "001010000000003"), OMC_ERR_NOT_FOUND);
	/* Another master key opens no secret, and issues nothing. */
	uint8_t other[32];
	memcpy(other, master, 32);
	other[0] ^= 1;
	assert_int_equal(omc_auc_open(&wrong, db, "sho1", other), OMC_OK);
	assert_int_equal(omc_auc_vectors(wrong, "001010000000003", amf, &av, 1), OMC_ERR_CORRUPT);
	assert_int_equal(omc_auc_info_get(a, "001010000000003", &info), OMC_OK);
	assert_int_equal(info.avs_issued, 0);
	omc_auc_close(wrong);
	/* Disabled: nothing more (an operator change). */
	assert_int_equal(omc_auc_vectors(a, "001010000000003", amf, &av, 1), OMC_OK);
	assert_int_equal(omc_auc_disable(a, "001010000000003"), OMC_OK);
	assert_int_equal(omc_auc_vectors(a, "001010000000003", amf, &av, 1), OMC_ERR_DENIED);
	assert_int_equal(omc_auc_info_get(a, "001010000000003", &info), OMC_OK);
	assert_false(info.enabled);
	assert_int_equal(info.avs_issued, 1);
	omc_auc_close(b);
	close_auc(db, a);
	omc_aka_cred_wipe(&c);
}

static void test_tuak(void **state)
{
	(void)state;
	omc_db *db;
	omc_auc *a;
	open_auc(&db, &a, "sho2", master);
	uint8_t k[32], topc[32];
	tl_rand(k, sizeof k);
	tl_rand(topc, sizeof topc);
	omc_aka_tuak_params p = {.mac_bits = 128, .res_bits = 256, .ck_bits = 256, .ik_bits = 128, .iterations = 3};
	omc_aka_cred c = {.alg = OMC_AKA_ALG_TUAK};
	assert_int_equal(omc_aka_tuak_init(&c.u.tuak, k, 32, topc, &p), OMC_OK);
	assert_int_equal(omc_auc_add(a, "001010000000004", &c, 4), OMC_OK);
	close_auc(db, a);
	open_auc(&db, &a, "sho2", master);
	omc_aka_sqn_ms usim;
	assert_int_equal(omc_aka_sqn_ms_init(&usim, 4, 0, 0), OMC_OK);
	omc_aka_av av[3];
	assert_int_equal(omc_auc_vectors(a, "001010000000004", amf, av, 3), OMC_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(av[i].xres_len, 32);
		omc_aka_check_result r;
		assert_int_equal(omc_aka_check(&r, &usim, &c, av[i].rand, av[i].autn, av[i].autn_len), OMC_OK);
		assert_int_equal(r.status, OMC_AKA_STATUS_OK);
		assert_memory_equal(r.res, av[i].xres, 32);
	}
	omc_auc_info info;
	assert_int_equal(omc_auc_info_get(a, "001010000000004", &info), OMC_OK);
	assert_int_equal(info.alg, OMC_AKA_ALG_TUAK);
	close_auc(db, a);
	omc_aka_cred_wipe(&c);
}

/* Last: every byte of the database and its WAL, for the planted K and OPc
 * (raw, hex either case) and the master key. */
static void scan_file(const char *p, const uint8_t *needle, size_t n, const char *what)
{
	FILE *f = fopen(p, "rb");
	if (!f)
		return; /* a WAL checkpointed away */
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc((size_t)len + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	if (memmem(b, (size_t)len, needle, n))
		fail_msg("%s found in %s", what, p);
	free(b);
}

static void test_no_plaintext_secret(void **state)
{
	(void)state;
	char files[3][128];
	snprintf(files[0], sizeof files[0], "%s", path);
	snprintf(files[1], sizeof files[1], "%s-wal", path);
	snprintf(files[2], sizeof files[2], "%s-shm", path);
	uint8_t k[16], opc[16];
	tl_hex(k, 16, K_HEX);
	tl_hex(opc, 16, OPC_HEX);
	static const char *const hex[] = {K_HEX, OPC_HEX, "6B8A3F1E0C2D4B5A69788796A5B4C3D2", "F1E2D3C4B5A6978812345678ABCDEF01"};
	for (int i = 0; i < 3; i++) {
		scan_file(files[i], k, 16, "K");
		scan_file(files[i], opc, 16, "OPc");
		scan_file(files[i], master, 32, "the master key");
		for (int h = 0; h < 4; h++)
			scan_file(files[i], (const uint8_t *)hex[h], 32, hex[h]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batches_and_restart),
		cmocka_unit_test(test_resync),
		cmocka_unit_test(test_operators_disable_master),
		cmocka_unit_test(test_tuak),
		cmocka_unit_test(test_no_plaintext_secret),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
