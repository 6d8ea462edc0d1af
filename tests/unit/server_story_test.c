/* The provisioning story against `openmcim server` in-process, over real
 * HTTP on loopback: CCIF-1, CCIF-2, NET-1, NET-3, NET-4, SVC-1, SEC-8,
 * EVAL-1, SVC-2, SEC-9, MGT-1, SEC-7, EVAL-3, EVAL-6, NET-5. */
#include "srv_fixture.h"


static void test_story_sho1_milenage(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	sf_provision(&e, &d, 1);
	/* The operational session: sho1 is not data-only. */
	json_t *o = NULL;
	assert_int_equal(sf_bearer(&e, d.session, "GET", "vno", "/v1/session", NULL, &o), 200);
	assert_string_equal(json_string_value(json_object_get(o, "scope")), "operational");
	assert_string_equal(json_string_value(json_object_get(o, "imsi")), d.mcim_imsi);
	json_decref(o);
	assert_int_equal(sf_bearer(&e, d.session, "POST", "vno", "/v1/sms", "{}", NULL), 200);
	assert_int_equal(strncmp(d.mcim_imsi, "00102", 5), 0);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM sho_mcim WHERE state = 'installed'"), 1);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM drf_device WHERE state = 'provisioned'"), 1);
	sf_dev_free(&d);
	sf_down(&e);
}

static void test_story_sho2_tuak_profile(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	sf_provision(&e, &d, 2);
	omc_tre_mcim_info reg[8];
	size_t n = 0;
	assert_int_equal(omc_tre_registry(d.t, reg, 8, &n), OMC_OK);
	bool tuak = false;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(reg[i].id, d.mcim_id))
			tuak = !strcmp(reg[i].alg, "tuak") && reg[i].data_only && reg[i].volume_cap == 1048576;
	assert_true(tuak);
	/* EVAL-6: sho2's TUAK parameters (MAC 128 bits: a 24-byte AUTN). */
	char body[64];
	snprintf(body, sizeof body, "{\"imsi\":\"%s\"}", d.mcim_imsi);
	json_t *a = NULL;
	assert_int_equal(sf_call(&e, "POST", "vno", "/v1/attach", NULL, body, &a), 200);
	assert_int_equal(strlen(json_string_value(json_object_get(a, "autn"))), 48);
	json_decref(a);
	/* data only, 1 MiB cap (SEC-7) */
	json_t *o = NULL;
	assert_int_equal(sf_bearer(&e, d.session, "POST", "vno", "/v1/sms", "{}", &o), 403);
	assert_string_equal(sf_code(o), "data_only");
	json_decref(o);
	assert_int_equal(sf_bearer(&e, d.session, "POST", "vno", "/v1/data", "{\"bytes\":1000000}", NULL), 200);
	assert_int_equal(sf_bearer(&e, d.session, "POST", "vno", "/v1/data", "{\"bytes\":100000}", &o), 403);
	assert_string_equal(sf_code(o), "volume_cap");
	json_decref(o);
	sf_dev_free(&d);
	sf_down(&e);
}

/* NET-5: an SHO configured for ISIM-type MCIMs issues them with an IMPI
 * and IMPU (its ims_domain, or the home network domain of TS 23.003 13.2);
 * the TRE holds them and the operational attach works as for a USIM. Bad
 * values of the two keys are refused at start. */
static void test_isim_mcims(void **state)
{
	(void)state;
	sf_env e;
	uint8_t *base = NULL;
	size_t bl = 0;
	sf_up_config(&e, &base, &bl);
	static const char *const bad[] = {
		"[operator sho1]\nmcim_type = sim\n", "[operator sho1]\nims_domain = Ims.example\n",
		"[operator sho1]\nims_domain = ims..example\n", "[operator sho1]\nims_domain = ims-.example\n",
		"[operator sho1]\nims_domain = \n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		omc_server *s = NULL;
		omc_err er = sf_try_config(&e, base, bl, bad[i], &s);
		if (er != OMC_ERR_BAD_FORMAT) {
			omc_server_stop(s);
			fail_msg("config %zu (%s) not refused: %s", i, bad[i], omc_err_name(er));
		}
	}
	FILE *f = fopen(e.conf, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(base, 1, bl, f), bl);
	fprintf(f, "\n[operator sho1]\nmcim_type = isim\nims_domain = ims.sho-1.example\n"
		   "\n[operator sho2]\nmcim_type = isim\n");
	assert_int_equal(fclose(f), 0);
	omc_free(base);
	sf_start(&e);
	for (int sho = 1; sho <= 2; sho++) {
		sf_dev d;
		sf_dev_make(&e, &d, NULL);
		sf_provision(&e, &d, sho);
		omc_tre_mcim_info reg[8];
		size_t n = 0;
		assert_int_equal(omc_tre_registry(d.t, reg, 8, &n), OMC_OK);
		const omc_tre_mcim_info *m = NULL;
		for (size_t i = 0; i < n; i++)
			if (!strcmp(reg[i].id, d.mcim_id))
				m = &reg[i];
		assert_non_null(m);
		assert_string_equal(m->type, "isim");
		char impi[128], impu[136];
		snprintf(impi, sizeof impi, "%s@%s", d.mcim_imsi,
			 sho == 1 ? "ims.sho-1.example" : "ims.mnc003.mcc001.3gppnetwork.org");
		snprintf(impu, sizeof impu, "sip:%s", impi);
		assert_string_equal(m->impi, impi);
		assert_string_equal(m->impu, impu);
		assert_int_equal(sf_attach(&e, &d, d.mcim_id), 200);
		sf_dev_free(&d);
	}
	sf_down(&e);
}

/* CCIF-1, CCIF-2: the CCIF makes PCIDs for the factory, handed over
 * encrypted to the M2MES; a device made with one attaches. */
static void test_ccif_generates_for_the_factory(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	json_t *o = NULL;
	assert_int_equal(sf_signed(&e, "m2mes", "POST", "ccif", "/v1/pcids", "{\"count\":2}", &o), 201);
	json_t *arr = json_object_get(o, "pcids");
	assert_int_equal(json_array_size(arr), 2);
	omc_key *k = NULL;
	assert_int_equal(omc_pki_load(e.pki, "m2mes", &k, NULL), OMC_OK);
	uint8_t *pt = NULL;
	size_t pl = 0;
	const char *jwe = json_string_value(json_object_get(json_array_get(arr, 1), "pcid"));
	assert_int_equal(omc_jwe_decrypt(&pt, &pl, jwe, strlen(jwe), k), OMC_OK);
	/* Only the M2MES key opens it. */
	omc_key *other = NULL;
	uint8_t *pt2 = NULL;
	size_t pl2 = 0;
	assert_int_equal(omc_pki_load(e.pki, "sho1", &other, NULL), OMC_OK);
	assert_int_not_equal(omc_jwe_decrypt(&pt2, &pl2, jwe, strlen(jwe), other), OMC_OK);
	omc_key_free(other);
	omc_key_free(k);
	sf_dev d;
	sf_dev_make(&e, &d, (const char *)pt);
	omc_free(pt);
	assert_string_equal(d.pcid_imsi, json_string_value(json_object_get(json_array_get(arr, 1), "imsi")));
	json_decref(o);
	assert_int_equal(sf_attach(&e, &d, NULL), 200);
	/* mode "ccif": not reported again */
	assert_int_equal(sf_report_pcid(&e, &d), 409);
	sf_dev_free(&d);
	sf_down(&e);
}

/* CCIF-2 mode 3: the subscriber relays the factory's report. */
static void test_ccif_report_through_subscriber(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	json_t *b = json_pack("{s:s}", "report", d.report);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	json_t *o = NULL;
	assert_int_equal(sf_bearer(&e, "not-a-token-of-anyone-here", "POST", "ccif", "/v1/reports", s, &o), 401);
	json_decref(o);
	assert_int_equal(sf_bearer(&e, e.tokens[1], "POST", "ccif", "/v1/reports", s, &o), 201);
	assert_string_equal(json_string_value(json_object_get(o, "mode")), "subscriber");
	assert_string_equal(json_string_value(json_object_get(o, "tre_id")), d.tre_id);
	json_decref(o);
	omc_free(s);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM ccif_pcid WHERE mode = 'subscriber'"), 1);
	sf_dev_free(&d);
	sf_down(&e);
}

/* CCIF-1, CHG-5: a PCID has a lifetime; past it the ICO's AuC gives no
 * vectors and the attach is refused. */
static void test_pcid_lifetime(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	assert_int_equal(sf_report_pcid(&e, &d), 201);
	e.now_offset = 366 * 86400;
	char body[64];
	snprintf(body, sizeof body, "{\"imsi\":\"%s\"}", d.pcid_imsi);
	json_t *o = NULL;
	assert_int_equal(sf_call(&e, "POST", "vno", "/v1/attach", NULL, body, &o), 403);
	assert_string_equal(sf_code(o), "expired");
	json_decref(o);
	e.now_offset = 0;
	assert_int_equal(sf_attach(&e, &d, NULL), 200);
	sf_dev_free(&d);
	sf_down(&e);
}

/* NET-4: the ICO's signed bootstrap answer names the DRF, PVA and DPF. */
static void test_bootstrap_signed(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	assert_int_equal(sf_report_pcid(&e, &d), 201);
	assert_int_equal(sf_attach(&e, &d, NULL), 200);
	json_t *o = NULL;
	assert_int_equal(sf_call(&e, "GET", "bootstrap", "/v1/bootstrap", NULL, NULL, &o), 401);
	json_decref(o);
	assert_int_equal(sf_bearer(&e, d.session, "GET", "bootstrap", "/v1/bootstrap", NULL, &o), 200);
	const char *jws = json_string_value(json_object_get(o, "bootstrap"));
	omc_cert *ca = NULL, *wrong = NULL;
	assert_int_equal(omc_pki_load(e.pki, "ico-ca", NULL, &ca), OMC_OK);
	assert_int_equal(omc_pki_load(e.pki, "sho1-ca", NULL, &wrong), OMC_OK);
	omc_jws_verified v = {0};
	const omc_cert *bad[1] = {wrong}, *good[1] = {ca};
	assert_int_not_equal(omc_jws_verify_x5c(&v, jws, strlen(jws), bad, 1, "omc-bootstrap+jwt", 0), OMC_OK);
	assert_int_equal(omc_jws_verify_x5c(&v, jws, strlen(jws), good, 1, "omc-bootstrap+jwt", 0), OMC_OK);
	json_error_t je;
	json_t *p = json_loadb((const char *)v.payload, v.len, 0, &je);
	assert_string_equal(json_string_value(json_object_get(p, "drf")), sf_url(&e, "drf"));
	assert_string_equal(json_string_value(json_object_get(p, "pva")), sf_url(&e, "pva"));
	assert_string_equal(json_string_value(json_object_get(p, "dpf")), sf_url(&e, "dpf"));
	assert_string_equal(json_string_value(json_object_get(p, "imsi")), d.pcid_imsi);
	json_decref(p);
	omc_jws_verified_free(&v);
	omc_cert_free(ca);
	omc_cert_free(wrong);
	json_decref(o);
	sf_dev_free(&d);
	sf_down(&e);
}

/* MGT-6, MGT-8, SEC-13: an SHO queues a signed command at the DPF, the
 * device fetches it with its session, the TRE answers with a signed
 * result, the SHO reads it back. */
static void test_command_round_trip(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	sf_provision(&e, &d, 1);
	omc_key *k = NULL;
	omc_cert *c = NULL;
	assert_int_equal(omc_pki_load(e.pki, "sho1", &k, &c), OMC_OK);
	json_t *p = json_pack("{s:s,s:I,s:s,s:s,s:s}", "iss", "sho1", "seq", (json_int_t)1000, "tre", d.tre_id, "cmd",
			      "discover", "mcim", "");
	char *ps = json_dumps(p, JSON_COMPACT), *cmd = NULL;
	json_decref(p);
	const omc_cert *x5c[1] = {c};
	assert_int_equal(omc_jws_sign(&cmd, (const uint8_t *)ps, strlen(ps), k, x5c, 1, "omc-command+jwt"), OMC_OK);
	omc_free(ps);
	omc_key_free(k);
	omc_cert_free(c);
	json_t *b = json_pack("{s:s,s:s}", "tre", d.tre_id, "command", cmd);
	char *bs = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	json_t *o = NULL;
	/* sho2 may not queue sho1's command */
	assert_int_equal(sf_signed(&e, "sho2", "POST", "dpf", "/v1/commands", bs, &o), 403);
	json_decref(o);
	assert_int_equal(sf_signed(&e, "sho1", "POST", "dpf", "/v1/commands", bs, &o), 201);
	json_int_t id = json_integer_value(json_object_get(o, "id"));
	json_decref(o);
	/* queued again while open (the answer lost): the same one, no second */
	assert_int_equal(sf_signed(&e, "sho1", "POST", "dpf", "/v1/commands", bs, &o), 201);
	assert_int_equal(json_integer_value(json_object_get(o, "id")), id);
	json_decref(o);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM dpf_command WHERE issuer = 'sho1'"), 1);
	omc_free(bs);
	omc_free(cmd);
	assert_int_equal(sf_bearer(&e, d.session, "GET", "dpf", "/v1/commands", NULL, &o), 200);
	json_t *first = json_array_get(json_object_get(o, "commands"), 0);
	assert_int_equal(json_integer_value(json_object_get(first, "id")), id);
	const char *got = json_string_value(json_object_get(first, "command"));
	char *result = NULL;
	bool applied = false;
	assert_int_equal(omc_tre_command(d.t, got, strlen(got), &result, &applied), OMC_OK);
	json_decref(o);
	b = json_pack("{s:I,s:s}", "id", id, "result", result);
	bs = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	assert_int_equal(sf_bearer(&e, d.session, "POST", "dpf", "/v1/results", bs, NULL), 200);
	assert_int_equal(sf_bearer(&e, d.session, "POST", "dpf", "/v1/results", bs, &o), 404);
	json_decref(o);
	omc_free(bs);
	char q[64];
	snprintf(q, sizeof q, "{\"id\":%lld}", (long long)id);
	assert_int_equal(sf_signed(&e, "sho2", "POST", "dpf", "/v1/commands/status", q, &o), 404);
	json_decref(o);
	assert_int_equal(sf_signed(&e, "sho1", "POST", "dpf", "/v1/commands/status", q, &o), 200);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "done");
	assert_string_equal(json_string_value(json_object_get(o, "result")), result);
	json_decref(o);
	omc_free(result);
	sf_dev_free(&d);
	sf_down(&e);
}

/* The whole story over HTTPS: every listener with libmicrohttpd's TLS, the
 * roles calling each other and the device calling them through TLS with
 * the deployment's CA; a client that does not trust that CA gets nowhere. */
static void test_story_over_https(void **state)
{
	(void)state;
	sf_env e;
	sf_up_opts(&e, true);
	assert_int_equal(strncmp(sf_url(&e, "vno"), "https://127.0.0.1:", 18), 0);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	sf_provision(&e, &d, 1);
	omc_http_client *plain = NULL;
	assert_int_equal(omc_http_client_new(&plain, NULL), OMC_OK);
	char url[200];
	snprintf(url, sizeof url, "%s/healthz", sf_url(&e, "vno"));
	int st = 0;
	char *r = NULL;
	size_t rl = 0;
	assert_int_equal(omc_http_call(plain, "GET", url, NULL, 0, &st, &r, &rl), OMC_ERR_IO);
	omc_http_client_free(plain);
	sf_dev_free(&d);
	sf_down(&e);
}

/* SEC-8, EVAL-1: reference values per model and software version. Values
 * that hold for another version only do not pass; values for this one do. */
static void test_pva_references_per_version(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_stop(&e);
	omc_db *db = NULL;
	assert_int_equal(omc_db_open(&db, e.db), OMC_OK);
	char *refs = NULL;
	assert_int_equal(omc_factory_references(NULL, &refs), OMC_OK);
	json_error_t je;
	json_t *a = json_loads(refs, 0, &je);
	omc_free(refs);
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) json_object_set_new(v, "version", json_string("9.9.9"));
	char *s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	sf_db_exec(&e, "DELETE FROM pva_reference");
	assert_int_equal(omc_server_reference_add(db, "openmcim-demo-gw", s, strlen(s)), OMC_OK);
	omc_free(s);
	sf_start(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	assert_int_equal(sf_subscribe(&e, &d, 1), 201);
	assert_int_equal(sf_report_pcid(&e, &d), 201);
	assert_int_equal(sf_attach(&e, &d, NULL), 200);
	assert_int_equal(sf_register(&e, &d, NULL), 200);
	assert_int_equal(sf_validate(&e, &d), 403);
	/* The same values for this library's version. */
	assert_int_equal(omc_factory_references(NULL, &refs), OMC_OK);
	a = json_loads(refs, 0, &je);
	omc_free(refs);
	json_array_foreach(a, i, v) json_object_set_new(v, "version", json_string(omc_version()));
	s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	assert_int_equal(omc_server_reference_add(db, "openmcim-demo-gw", s, strlen(s)), OMC_OK);
	omc_free(s);
	omc_db_close(db);
	assert_int_equal(sf_validate(&e, &d), 200);
	sf_dev_free(&d);
	sf_down(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_story_sho1_milenage),
		cmocka_unit_test(test_story_sho2_tuak_profile),
		cmocka_unit_test(test_isim_mcims),
		cmocka_unit_test(test_ccif_generates_for_the_factory),
		cmocka_unit_test(test_ccif_report_through_subscriber),
		cmocka_unit_test(test_pcid_lifetime),
		cmocka_unit_test(test_bootstrap_signed),
		cmocka_unit_test(test_command_round_trip),
		cmocka_unit_test(test_story_over_https),
		cmocka_unit_test(test_pva_references_per_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
