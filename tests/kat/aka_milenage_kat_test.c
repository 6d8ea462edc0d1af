/* MILENAGE known answers: every test set of TS 35.208 (sets 1-6 are also
 * those of TS 35.207), every function, through the single-call API, the
 * vector API and every batch implementation this CPU has.
 * covers: SEC-4, TRE-8, EVAL-6 */
#include "testlib.h"

typedef struct mset {
	int set;
	uint8_t k[16], rand[16], sqn[6], amf[2], op[16], opc[16];
	const char *f1, *f1star, *f2, *f3, *f4, *f5, *f5star, *opc_hex;
} mset;

static json_t *vectors;

static void load(mset *m, const json_t *v)
{
	m->set = (int)json_integer_value(json_object_get(v, "set"));
	tl_hex(m->k, 16, tl_str(v, "k"));
	tl_hex(m->rand, 16, tl_str(v, "rand"));
	tl_hex(m->sqn, 6, tl_str(v, "sqn"));
	tl_hex(m->amf, 2, tl_str(v, "amf"));
	tl_hex(m->op, 16, tl_str(v, "op"));
	tl_hex(m->opc, 16, tl_str(v, "opc"));
	m->opc_hex = tl_str(v, "opc");
	m->f1 = tl_str(v, "f1");
	m->f1star = tl_str(v, "f1star");
	m->f2 = tl_str(v, "f2");
	m->f3 = tl_str(v, "f3");
	m->f4 = tl_str(v, "f4");
	m->f5 = tl_str(v, "f5");
	m->f5star = tl_str(v, "f5star");
}

static void test_count(void **state)
{
	(void)state;
	/* TS 35.208 has 20 test sets; all of them are here. */
	assert_int_equal(json_array_size(vectors), 20);
}

static void test_opc(void **state)
{
	(void)state;
	size_t i;
	json_t *v;
	json_array_foreach(vectors, i, v)
	{
		mset m;
		load(&m, v);
		uint8_t opc[16];
		assert_int_equal(omc_aka_milenage_opc(opc, m.k, m.op), OMC_OK);
		tl_expect_hex(opc, 16, m.opc_hex, "OPc", m.set);
		/* In place (opc == op) is allowed. */
		uint8_t x[16];
		memcpy(x, m.op, 16);
		assert_int_equal(omc_aka_milenage_opc(x, m.k, x), OMC_OK);
		tl_expect_hex(x, 16, m.opc_hex, "OPc in place", m.set);
	}
}

static void test_functions(void **state)
{
	(void)state;
	size_t i;
	json_t *v;
	json_array_foreach(vectors, i, v)
	{
		mset m;
		load(&m, v);
		omc_aka_milenage ctx;
		assert_int_equal(omc_aka_milenage_init(&ctx, m.k, m.opc, NULL), OMC_OK);
		uint8_t mac_a[8], mac_s[8], res[8], ck[16], ik[16], ak[6], ak_star[6];
		assert_int_equal(omc_aka_milenage_f1(mac_a, mac_s, &ctx, m.rand, m.sqn, m.amf), OMC_OK);
		tl_expect_hex(mac_a, 8, m.f1, "f1", m.set);
		tl_expect_hex(mac_s, 8, m.f1star, "f1*", m.set);
		assert_int_equal(omc_aka_milenage_f2345(res, ck, ik, ak, ak_star, &ctx, m.rand), OMC_OK);
		tl_expect_hex(res, 8, m.f2, "f2", m.set);
		tl_expect_hex(ck, 16, m.f3, "f3", m.set);
		tl_expect_hex(ik, 16, m.f4, "f4", m.set);
		tl_expect_hex(ak, 6, m.f5, "f5", m.set);
		tl_expect_hex(ak_star, 6, m.f5star, "f5*", m.set);

		/* Each output alone (the others NULL) gives the same value. */
		memset(mac_s, 0, 8);
		assert_int_equal(omc_aka_milenage_f1(NULL, mac_s, &ctx, m.rand, m.sqn, m.amf), OMC_OK);
		tl_expect_hex(mac_s, 8, m.f1star, "f1* alone", m.set);
		memset(ak_star, 0, 6);
		assert_int_equal(omc_aka_milenage_f2345(NULL, NULL, NULL, NULL, ak_star, &ctx, m.rand), OMC_OK);
		tl_expect_hex(ak_star, 6, m.f5star, "f5* alone", m.set);
		memset(ik, 0, 16);
		assert_int_equal(omc_aka_milenage_f2345(NULL, NULL, ik, NULL, NULL, &ctx, m.rand), OMC_OK);
		tl_expect_hex(ik, 16, m.f4, "f4 alone", m.set);
		memset(ak, 0, 6);
		assert_int_equal(omc_aka_milenage_f2345(NULL, NULL, NULL, ak, NULL, &ctx, m.rand), OMC_OK);
		tl_expect_hex(ak, 6, m.f5, "f5 alone", m.set);
		omc_aka_milenage_wipe(&ctx);
		assert_true(omc_ct_is_zero(&ctx, sizeof ctx));
	}
}

static void test_vector_api(void **state)
{
	(void)state;
	size_t i;
	json_t *v;
	json_array_foreach(vectors, i, v)
	{
		mset m;
		load(&m, v);
		omc_aka_cred c = {.alg = OMC_AKA_ALG_MILENAGE};
		assert_int_equal(omc_aka_milenage_init(&c.u.milenage, m.k, m.opc, NULL), OMC_OK);
		omc_aka_outputs o;
		assert_int_equal(omc_aka_outputs_gen(&o, &c, m.rand, m.sqn, m.amf), OMC_OK);
		tl_expect_hex(o.mac_a, o.mac_len, m.f1, "outputs f1", m.set);
		tl_expect_hex(o.mac_s, o.mac_len, m.f1star, "outputs f1*", m.set);
		tl_expect_hex(o.res, o.res_len, m.f2, "outputs f2", m.set);
		tl_expect_hex(o.ck, o.ck_len, m.f3, "outputs f3", m.set);
		tl_expect_hex(o.ik, o.ik_len, m.f4, "outputs f4", m.set);
		tl_expect_hex(o.ak, 6, m.f5, "outputs f5", m.set);
		tl_expect_hex(o.ak_star, 6, m.f5star, "outputs f5*", m.set);

		/* AUTN = (SQN xor AK) || AMF || MAC-A. */
		uint8_t ak[6], autn[16];
		tl_hex(ak, 6, m.f5);
		for (int b = 0; b < 6; b++)
			autn[b] = (uint8_t)(m.sqn[b] ^ ak[b]);
		memcpy(autn + 6, m.amf, 2);
		tl_hex(autn + 8, 8, m.f1);
		assert_int_equal(o.autn_len, 16);
		assert_memory_equal(o.autn, autn, 16);

		omc_aka_av av;
		assert_int_equal(omc_aka_av_gen(&av, &c, m.rand, m.sqn, m.amf), OMC_OK);
		assert_memory_equal(av.rand, m.rand, 16);
		tl_expect_hex(av.xres, av.xres_len, m.f2, "AV XRES", m.set);
		tl_expect_hex(av.ck, av.ck_len, m.f3, "AV CK", m.set);
		tl_expect_hex(av.ik, av.ik_len, m.f4, "AV IK", m.set);
		assert_int_equal(av.autn_len, 16);
		assert_memory_equal(av.autn, autn, 16);
		omc_aka_cred_wipe(&c);
	}
}

static void test_batch_all_impls(void **state)
{
	(void)state;
	size_t n = json_array_size(vectors);
	omc_aka_milenage_batch_in in[32];
	omc_aka_milenage_batch_out out[32];
	assert_true(n <= 32);
	for (size_t i = 0; i < n; i++) {
		mset m;
		load(&m, json_array_get(vectors, i));
		memcpy(in[i].k, m.k, 16);
		memcpy(in[i].opc, m.opc, 16);
		memcpy(in[i].rand, m.rand, 16);
		memcpy(in[i].sqn, m.sqn, 6);
		memcpy(in[i].amf, m.amf, 2);
	}
	int ran = 0;
	for (int impl = OMC_AKA_IMPL_AUTO; impl <= OMC_AKA_IMPL_VAES; impl++) {
		if (!omc_aka_impl_available((omc_aka_impl)impl)) {
			assert_int_equal(omc_aka_milenage_batch(out, in, n, NULL, (omc_aka_impl)impl),
					 OMC_ERR_UNSUPPORTED);
			continue;
		}
		ran++;
		memset(out, 0, sizeof out);
		assert_int_equal(omc_aka_milenage_batch(out, in, n, NULL, (omc_aka_impl)impl), OMC_OK);
		for (size_t i = 0; i < n; i++) {
			mset m;
			load(&m, json_array_get(vectors, i));
			tl_expect_hex(out[i].xres, 8, m.f2, omc_aka_impl_name((omc_aka_impl)impl), m.set);
			tl_expect_hex(out[i].ck, 16, m.f3, "batch f3", m.set);
			tl_expect_hex(out[i].ik, 16, m.f4, "batch f4", m.set);
			uint8_t ak[6];
			tl_hex(ak, 6, m.f5);
			for (int b = 0; b < 6; b++)
				assert_int_equal(out[i].autn[b], m.sqn[b] ^ ak[b]);
			assert_memory_equal(out[i].autn + 6, m.amf, 2);
			tl_expect_hex(out[i].autn + 8, 8, m.f1, "batch f1", m.set);
		}
	}
	print_message("batch implementations run here: %d (auto resolves to %s)\n", ran,
		      omc_aka_impl_name(omc_aka_impl_auto()));
	assert_true(ran >= 2);
}

int main(void)
{
	vectors = tl_load_vectors("milenage.json");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_opc),
		cmocka_unit_test(test_functions),
		cmocka_unit_test(test_vector_api),
		cmocka_unit_test(test_batch_all_impls),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	json_decref(vectors);
	return rc;
}
