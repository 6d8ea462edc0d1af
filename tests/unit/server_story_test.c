/* The provisioning story against `openmcim server` in-process, over real
 * HTTP on loopback: CCIF-1, CCIF-2, NET-1, NET-3, NET-4, SVC-1, SEC-8,
 * EVAL-1, SVC-2, SEC-9, MGT-1, SEC-7, EVAL-3, EVAL-6. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_story_sho1_milenage),
		cmocka_unit_test(test_story_sho2_tuak_profile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
