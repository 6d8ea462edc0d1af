/* `openmcim server` restarted between any two steps of the provisioning
 * story, and between any two HTTP calls a device makes: nothing issued is
 * lost or issued twice, one IMSI is never given to two devices, a device
 * ends with exactly one operational MCIM (DESIGN invariant 4). A download
 * whose answer is lost gets the same MCIM again; a receipt whose answer is
 * lost is taken again after a restart. AuC batches over HTTP equal the AKA
 * engine's answers and no SQN repeats across a restart. Devices provisioned
 * concurrently all succeed with distinct IMSIs.
 * covers: SVC-2, NET-1, NET-3, SEC-4, SEC-9, SEC-13, MGT-1, EVAL-3, EVAL-6 */
#include "srv_fixture.h"

#include <pthread.h>


#define MAX_DEVS 24

static void restart(sf_env *e)
{
	sf_stop(e);
	sf_start(e);
}

/* One text column of the first row ("" when none). */
static void db_text(sf_env *e, char *out, size_t cap, const char *sql, const char *arg)
{
	sf_db_text(e, out, cap, sql, arg);
}

/* count(*) with ?1 bound to arg. */
static long db_count1(sf_env *e, const char *sql, const char *arg)
{
	char n[24];
	db_text(e, n, sizeof n, sql, arg);
	return n[0] ? strtol(n, NULL, 10) : -1;
}

/* The operational MCIMs in a device's registry (not deleted). */
static size_t operational(sf_dev *d, omc_tre_mcim_info *one)
{
	omc_tre_mcim_info reg[16];
	size_t n = 0, ops = 0;
	assert_int_equal(omc_tre_registry(d->t, reg, 16, &n), OMC_OK);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(reg[i].role, "operational") && reg[i].state != OMC_MCIM_DELETED) {
			ops++;
			if (one)
				*one = reg[i];
		}
	return ops;
}

/* What must hold after every story (DESIGN invariant 4, SVC-2, SEC-13): per
 * device exactly one MCIM row at its SHO, installed, with the IMSI the
 * device holds in its only operational MCIM; no IMSI in two devices; no
 * SQN twice for one IMSI; exactly one download installed per device. */
static void check_invariants(sf_env *e, sf_dev *devs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sf_dev *d = &devs[i];
		const char *plat = d->platform_id;
		assert_int_equal(db_count1(e, "SELECT count(*) FROM sho_mcim WHERE platform_id = ?1", plat), 1);
		assert_int_equal(db_count1(e, "SELECT count(*) FROM sho_mcim WHERE platform_id = ?1"
					      " AND state = 'installed'",
					   plat),
				 1);
		assert_int_equal(db_count1(e,
					   "SELECT count(*) FROM dpf_download WHERE platform_id = ?1"
					   " AND state = 'installed'",
					   d->platform_id),
				 1);
		assert_int_equal(db_count1(e,
					   "SELECT count(*) FROM drf_device WHERE platform_id = ?1"
					   " AND state = 'provisioned'",
					   d->platform_id),
				 1);
		char imsi[16], id[41];
		db_text(e, imsi, sizeof imsi, "SELECT imsi FROM sho_mcim WHERE platform_id = ?1", d->platform_id);
		db_text(e, id, sizeof id, "SELECT mcim_id FROM sho_mcim WHERE platform_id = ?1", d->platform_id);
		omc_tre_mcim_info m;
		assert_int_equal(operational(d, &m), 1);
		assert_string_equal(m.id, id);
		assert_string_equal(m.imsi, imsi);
		assert_int_equal(m.state, OMC_MCIM_ACTIVATED);
		assert_string_equal(d->mcim_imsi, imsi);
		for (size_t j = 0; j < i; j++) {
			assert_string_not_equal(devs[j].mcim_imsi, d->mcim_imsi);
			assert_string_not_equal(devs[j].pcid_imsi, d->pcid_imsi);
			assert_string_not_equal(devs[j].mcim_imsi, d->pcid_imsi);
		}
	}
	assert_int_equal(sf_db_count(e, "SELECT count(*) FROM sho_mcim"), (long)n);
	assert_int_equal(sf_db_count(e, "SELECT count(DISTINCT imsi) FROM sho_mcim"), (long)n);
	assert_int_equal(sf_db_count(e, "SELECT count(*) FROM (SELECT 1 FROM auc_av_log GROUP BY imsi, sqn"
					" HAVING count(*) > 1) AS twice"),
			 0);
	/* An IMSI is in one AuC only, and every MCIM's IMSI is in its SHO's. */
	assert_int_equal(sf_db_count(e, "SELECT count(*) FROM sho_mcim m JOIN auc_subscriber a ON a.imsi = m.imsi"
					" AND a.operator = m.operator"),
			 (long)n);
}

/* --- a restart between two steps of the story ------------------------------------------ */

#define STEPS 8
static const char *const step_names[STEPS] = {"subscribe", "report", "attach PCID", "register",
					      "validate",  "download", "receipt", "attach MCIM"};

static void step(sf_env *e, sf_dev *d, int i, int sho, char **receipt)
{
	json_t *r = NULL;
	char want[16];
	switch (i) {
	case 0: assert_int_equal(sf_subscribe(e, d, sho), 201); break;
	case 1: assert_int_equal(sf_report_pcid(e, d), 201); break;
	case 2: assert_int_equal(sf_attach(e, d, NULL), 200); break;
	case 3:
		assert_int_equal(sf_register(e, d, &r), 200);
		snprintf(want, sizeof want, "sho%d", sho);
		assert_string_equal(json_string_value(json_object_get(r, "sho")), want);
		json_decref(r);
		break;
	case 4: assert_int_equal(sf_validate(e, d), 200); break;
	case 5: assert_int_equal(sf_download(e, d, receipt), 200); break;
	case 6:
		assert_int_equal(sf_send_receipt(e, d, *receipt), 200);
		omc_free(*receipt);
		*receipt = NULL;
		break;
	default: assert_int_equal(sf_attach(e, d, d->mcim_id), 200); break;
	}
}

/* Issue 4: the story with sf_stop + sf_start in gap k (before step k), for
 * every gap, on one deployment, sho1 and sho2 in turn. */
static void test_restart_between_steps(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	static sf_dev devs[STEPS];
	size_t n = 0;
	for (int k = 1; k < STEPS; k++) {
		print_message("restart between %s and %s\n", step_names[k - 1], step_names[k]);
		sf_dev *d = &devs[n];
		sf_dev_make(&e, d, NULL);
		char *receipt = NULL;
		int sho = 1 + (k & 1);
		for (int i = 0; i < STEPS; i++) {
			if (i == k)
				restart(&e);
			step(&e, d, i, sho, &receipt);
		}
		n++;
		check_invariants(&e, devs, n);
	}
	/* and a last restart: all of it still holds */
	restart(&e);
	check_invariants(&e, devs, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(sf_attach(&e, &devs[i], devs[i].mcim_id), 200);
	check_invariants(&e, devs, n);
	for (size_t i = 0; i < n; i++)
		sf_dev_free(&devs[i]);
	sf_down(&e);
}

/* --- a restart before any HTTP call of the story ------------------------------------------ */

typedef struct call_hook {
	int calls, at;
	bool restarted;
} call_hook;

static void before_call(void *arg, sf_env *e, const char *method, const char *role, const char *path)
{
	call_hook *h = arg;
	if (++h->calls == h->at) {
		print_message("restart before call %d (%s %s%s)\n", h->calls, method, role, path);
		restart(e);
		h->restarted = true;
	}
}

/* Finer than the steps: also between the attach challenge and its answer,
 * and between the PVA nonce and the validation (NET-1, SEC-9). */
static void test_restart_before_every_call(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	static sf_dev devs[MAX_DEVS];
	/* Count the device's calls in one story. */
	call_hook h = {0};
	sf_hook = (sf_hooks){.before = before_call, .arg = &h};
	sf_dev_make(&e, &devs[0], NULL);
	sf_provision(&e, &devs[0], 1);
	int total = h.calls;
	assert_true(total >= 11);
	assert_true(total < MAX_DEVS);
	size_t n = 1;
	for (int k = 2; k <= total; k++) {
		h = (call_hook){.at = k};
		sf_dev *d = &devs[n];
		sf_dev_make(&e, d, NULL);
		sf_provision(&e, d, 1 + (k & 1));
		assert_true(h.restarted);
		n++;
		check_invariants(&e, devs, n);
	}
	sf_hook = (sf_hooks){0};
	for (size_t i = 0; i < n; i++)
		sf_dev_free(&devs[i]);
	sf_down(&e);
}

/* --- lost answers ------------------------------------------------------------------------ */

/* The DPF's download without the install: the answer the device never got. */
static char *download_lost(sf_env *e, sf_dev *d, char mcim[41])
{
	json_t *b = json_pack("{s:s,s:s}", "token", d->token, "evidence", d->evidence);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	json_t *a = NULL;
	assert_int_equal(sf_bearer(e, d->session, "POST", "dpf", "/v1/download", s, &a), 200);
	omc_free(s);
	snprintf(mcim, 41, "%s", json_string_value(json_object_get(a, "mcim")));
	char *pkg = strdup(json_string_value(json_object_get(a, "package")));
	json_decref(a);
	assert_non_null(pkg);
	return pkg;
}

/* The download's answer is lost (and the server restarts): the device
 * validates again and downloads again, and gets the same MCIM with the same
 * IMSI, the one the SHO issued and never saw confirmed; it installs exactly
 * once, and the lost package no longer installs (SVC-2, SEC-9, MGT-1). */
static void test_download_answer_lost(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	static sf_dev devs[2];
	for (int sho = 1; sho <= 2; sho++) {
		sf_dev *d = &devs[sho - 1];
		sf_dev_make(&e, d, NULL);
		for (int i = 0; i < 5; i++)
			step(&e, d, i, sho, NULL);
		char first[41];
		char *lost = download_lost(&e, d, first);
		char imsi1[16];
		db_text(&e, imsi1, sizeof imsi1, "SELECT imsi FROM sho_mcim WHERE platform_id = ?1", d->platform_id);
		assert_int_equal(strlen(imsi1), 15);
		assert_int_equal(operational(d, NULL), 0);
		if (sho == 2)
			restart(&e);
		assert_int_equal(sf_validate(&e, d), 200);
		char *receipt = NULL;
		assert_int_equal(sf_download(&e, d, &receipt), 200);
		assert_string_equal(d->mcim_id, first);
		assert_string_equal(d->mcim_imsi, imsi1);
		/* The package of the lost answer was for the old session. */
		char *r2 = NULL;
		assert_int_not_equal(omc_tre_install(d->t, lost, strlen(lost), &r2), OMC_OK);
		assert_null(r2);
		free(lost);
		assert_int_equal(operational(d, NULL), 1);
		assert_int_equal(sf_send_receipt(&e, d, receipt), 200);
		omc_free(receipt);
		assert_int_equal(sf_attach(&e, d, d->mcim_id), 200);
		assert_int_equal(db_count1(&e, "SELECT count(*) FROM auc_subscriber WHERE imsi = ?1", imsi1), 1);
		assert_int_equal(
			db_count1(&e, "SELECT count(*) FROM dpf_download WHERE platform_id = ?1", d->platform_id), 2);
		check_invariants(&e, devs, (size_t)sho);
	}
	for (int i = 0; i < 2; i++)
		sf_dev_free(&devs[i]);
	sf_down(&e);
}

/* The package is installed, the receipt's answer is lost, the server
 * restarts, the device sends the receipt again: 200 and the SHO holds the
 * MCIM as installed; once more, still 200 (MGT-1, EVAL-3). */
static void test_receipt_answer_lost(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	static sf_dev d[2];
	char *receipt[2] = {NULL, NULL};
	/* sent, but the device never heard the answer */
	sf_dev_make(&e, &d[0], NULL);
	for (int i = 0; i < 6; i++)
		step(&e, &d[0], i, 1, &receipt[0]);
	assert_non_null(receipt[0]);
	assert_int_equal(sf_send_receipt(&e, &d[0], receipt[0]), 200);
	restart(&e);
	assert_int_equal(sf_send_receipt(&e, &d[0], receipt[0]), 200);
	assert_int_equal(db_count1(&e, "SELECT count(*) FROM sho_mcim WHERE platform_id = ?1 AND state = 'installed'",
				   d[0].platform_id),
			 1);
	/* never sent before the restart: the SHO still holds it as issued */
	sf_dev_make(&e, &d[1], NULL);
	for (int i = 0; i < 6; i++)
		step(&e, &d[1], i, 2, &receipt[1]);
	assert_int_equal(db_count1(&e, "SELECT count(*) FROM sho_mcim WHERE platform_id = ?1 AND state = 'issued'",
				   d[1].platform_id),
			 1);
	restart(&e);
	assert_int_equal(sf_send_receipt(&e, &d[1], receipt[1]), 200);
	restart(&e);
	assert_int_equal(sf_send_receipt(&e, &d[1], receipt[1]), 200);
	for (int i = 0; i < 2; i++) {
		omc_free(receipt[i]);
		assert_int_equal(sf_attach(&e, &d[i], d[i].mcim_id), 200);
	}
	check_invariants(&e, d, 2);
	for (int i = 0; i < 2; i++)
		sf_dev_free(&d[i]);
	sf_down(&e);
}

/* --- the AuC over HTTP ----------------------------------------------------------------------- */

typedef struct batch {
	uint64_t sqn[OMC_AUC_BATCH_MAX];
	uint8_t rand[OMC_AUC_BATCH_MAX][16];
} batch;

static void hex_member(uint8_t *out, size_t cap, size_t *n, json_t *o, const char *key)
{
	const char *h = json_string_value(json_object_get(o, key));
	assert_non_null(h);
	assert_int_equal(omc_hex_decode_var(out, cap, n, h, strlen(h)), OMC_OK);
}

/* 32 vectors from the ICO's AuC as the VNO asks for them, each recomputed
 * with the AKA engine from its RAND and the SQN in its AUTN. */
static void vectors_checked(sf_env *e, const char *imsi, const omc_aka_cred *c, const char *alg, batch *out)
{
	char body[96];
	snprintf(body, sizeof body, "{\"imsi\":\"%s\",\"n\":%d}", imsi, OMC_AUC_BATCH_MAX);
	json_t *a = NULL;
	assert_int_equal(sf_signed(e, "vno", "POST", "auc.ico", "/v1/vectors", body, &a), 200);
	assert_string_equal(json_string_value(json_object_get(a, "alg")), alg);
	assert_true(json_is_true(json_object_get(a, "provisional")));
	json_t *vs = json_object_get(a, "vectors");
	assert_int_equal(json_array_size(vs), OMC_AUC_BATCH_MAX);
	static const uint8_t amf[2] = {0x80, 0x00};
	for (size_t i = 0; i < OMC_AUC_BATCH_MAX; i++) {
		json_t *v = json_array_get(vs, i);
		uint8_t rand[16], autn[64], xres[64], ck[64], ik[64];
		size_t rl = 0, al = 0, xl = 0, cl = 0, il = 0;
		hex_member(rand, sizeof rand, &rl, v, "rand");
		hex_member(autn, sizeof autn, &al, v, "autn");
		hex_member(xres, sizeof xres, &xl, v, "xres");
		hex_member(ck, sizeof ck, &cl, v, "ck");
		hex_member(ik, sizeof ik, &il, v, "ik");
		assert_int_equal(rl, 16);
		/* SQN = (SQN xor AK) xor AK, AK = f5(RAND) (TS 33.102 6.3.2) */
		uint8_t sqn[6];
		memcpy(sqn, autn, 6);
		omc_aka_outputs o;
		assert_int_equal(omc_aka_outputs_gen(&o, c, rand, sqn, amf), OMC_OK);
		for (int b = 0; b < 6; b++)
			sqn[b] ^= o.ak[b];
		omc_aka_av want;
		assert_int_equal(omc_aka_av_gen(&want, c, rand, sqn, amf), OMC_OK);
		assert_int_equal(al, want.autn_len);
		assert_int_equal(xl, want.xres_len);
		assert_int_equal(cl, want.ck_len);
		assert_int_equal(il, want.ik_len);
		assert_memory_equal(autn, want.autn, al);
		assert_memory_equal(xres, want.xres, xl);
		assert_memory_equal(ck, want.ck, cl);
		assert_memory_equal(ik, want.ik, il);
		out->sqn[i] = omc_load_be48(sqn);
		memcpy(out->rand[i], rand, 16);
		if (i > 0)
			assert_true(out->sqn[i] > out->sqn[i - 1]); /* TS 33.102 C.1.1: increasing */
		/* SEC-13: every vector in the log, with its RAND */
		char rh[33], sql[160];
		assert_int_equal(omc_hex_encode(rh, sizeof rh, rand, 16), OMC_OK);
		snprintf(sql, sizeof sql,
			 "SELECT count(*) FROM auc_av_log WHERE imsi = ?1 AND sqn = %llu AND %s = '%s'",
			 (unsigned long long)out->sqn[i], sf_pg() ? "encode(rand, 'hex')" : "lower(hex(rand))", rh);
		assert_int_equal(db_count1(e, sql, imsi), 1);
		omc_memzero(&o, sizeof o);
		omc_memzero(&want, sizeof want);
	}
	json_decref(a);
}

/* NET-3, SEC-4, SEC-13, EVAL-6: batches of 32 over HTTP equal the engine's
 * answers; after a restart the SQNs go on, none repeats; MILENAGE and TUAK.
 * The TUAK PCID gives no lengths: the TRE must take the same defaults as
 * the AuC (a TRE that took RES of 32 bits by default failed its attach). */
static void test_auc_batches_across_restart(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	static const char *const pcids[2] = {
		"{\"imsi\":\"001019000000411\",\"k\":\"3c4d5e6f708192a3b4c5d6e7f8091a2b\","
		"\"opc\":\"a1b2c3d4e5f60718293a4b5c6d7e8f90\"}",
		"{\"imsi\":\"001019000000412\",\"alg\":\"tuak\",\"k\":\"0f1e2d3c4b5a69788796a5b4c3d2e1f0\","
		"\"topc\":\"112233445566778899aabbccddeeff00f0e0d0c0b0a090807060504030201000\"}",
	};
	static const char *const imsis[2] = {"001019000000411", "001019000000412"};
	omc_aka_cred c[2];
	uint8_t k[16], opc[16], topc[32];
	tl_hex(k, 16, "3c4d5e6f708192a3b4c5d6e7f8091a2b");
	tl_hex(opc, 16, "a1b2c3d4e5f60718293a4b5c6d7e8f90");
	c[0].alg = OMC_AKA_ALG_MILENAGE;
	assert_int_equal(omc_aka_milenage_init(&c[0].u.milenage, k, opc, NULL), OMC_OK);
	tl_hex(k, 16, "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
	tl_hex(topc, 32, "112233445566778899aabbccddeeff00f0e0d0c0b0a090807060504030201000");
	omc_aka_tuak_params p;
	omc_aka_tuak_params_default(&p);
	c[1].alg = OMC_AKA_ALG_TUAK;
	assert_int_equal(omc_aka_tuak_init(&c[1].u.tuak, k, 16, topc, &p), OMC_OK);
	static batch before[2][2], after[2];
	sf_dev d[2];
	for (int i = 0; i < 2; i++) {
		sf_dev_make(&e, &d[i], pcids[i]);
		assert_string_equal(d[i].pcid_imsi, imsis[i]);
		assert_int_equal(sf_report_pcid(&e, &d[i]), 201);
		vectors_checked(&e, imsis[i], &c[i], i ? "tuak" : "milenage", &before[i][0]);
		vectors_checked(&e, imsis[i], &c[i], i ? "tuak" : "milenage", &before[i][1]);
		/* the device accepts one of them as a USIM does: an attach with the PCID */
		assert_int_equal(sf_attach(&e, &d[i], NULL), 200);
	}
	restart(&e);
	for (int i = 0; i < 2; i++) {
		vectors_checked(&e, imsis[i], &c[i], i ? "tuak" : "milenage", &after[i]);
		for (int x = 0; x < OMC_AUC_BATCH_MAX; x++)
			for (int b = 0; b < 2; b++)
				for (int y = 0; y < OMC_AUC_BATCH_MAX; y++)
					assert_int_not_equal(after[i].sqn[x], before[i][b].sqn[y]);
		assert_true(after[i].sqn[0] > before[i][1].sqn[OMC_AUC_BATCH_MAX - 1]);
		assert_true(before[i][1].sqn[0] > before[i][0].sqn[OMC_AUC_BATCH_MAX - 1]);
		/* 3 batches and 1 attach */
		assert_int_equal(db_count1(&e, "SELECT count(*) FROM auc_av_log WHERE imsi = ?1", imsis[i]),
				 3 * OMC_AUC_BATCH_MAX + 1);
		assert_int_equal(sf_attach(&e, &d[i], NULL), 200);
		sf_dev_free(&d[i]);
	}
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM (SELECT 1 FROM auc_av_log GROUP BY imsi, sqn"
					 " HAVING count(*) > 1) AS twice"),
			 0);
	omc_aka_cred_wipe(&c[0]);
	omc_aka_cred_wipe(&c[1]);
	sf_down(&e);
}

/* --- concurrent devices ---------------------------------------------------------------------- */

#define THREADS 3
#define PER_THREAD 2

typedef struct worker {
	sf_env env; /* a copy with its own HTTP client */
	sf_dev *devs[PER_THREAD];
	int sho[PER_THREAD];
	int status[PER_THREAD][8];
} worker;

static void *work(void *arg)
{
	worker *w = arg;
	sf_env *e = &w->env;
	for (int j = 0; j < PER_THREAD; j++) {
		sf_dev *d = w->devs[j];
		int *st = w->status[j];
		char *receipt = NULL;
		/* no cmocka asserts here: the main thread checks the statuses */
		st[0] = sf_subscribe(e, d, w->sho[j]);
		st[1] = st[0] == 201 ? sf_report_pcid(e, d) : 0;
		st[2] = st[1] == 201 ? sf_attach(e, d, NULL) : 0;
		st[3] = st[2] == 200 ? sf_register(e, d, NULL) : 0;
		st[4] = st[3] == 200 ? sf_validate(e, d) : 0;
		st[5] = st[4] == 200 ? sf_download(e, d, &receipt) : 0;
		st[6] = st[5] == 200 ? sf_send_receipt(e, d, receipt) : 0;
		st[7] = st[6] == 200 ? sf_attach(e, d, d->mcim_id) : 0;
		omc_free(receipt);
	}
	return NULL;
}

/* SVC-2, EVAL-3: six devices from three threads at once, sho1 and sho2
 * mixed: all provisioned, distinct IMSIs, one MCIM each. */
static void test_concurrent_devices(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	static sf_dev devs[THREADS * PER_THREAD];
	static worker w[THREADS];
	for (int t = 0; t < THREADS; t++) {
		w[t].env = e;
		omc_http_client_opts co = {.timeout_ms = 30000};
		assert_int_equal(omc_http_client_new(&w[t].env.http, &co), OMC_OK);
		for (int j = 0; j < PER_THREAD; j++) {
			w[t].devs[j] = &devs[t * PER_THREAD + j];
			w[t].sho[j] = 1 + ((t + j) & 1);
			sf_dev_make(&e, w[t].devs[j], NULL);
		}
	}
	pthread_t th[THREADS];
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, work, &w[t]), 0);
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(pthread_join(th[t], NULL), 0);
	static const int want[8] = {201, 201, 200, 200, 200, 200, 200, 200};
	for (int t = 0; t < THREADS; t++) {
		for (int j = 0; j < PER_THREAD; j++)
			for (int s = 0; s < 8; s++) {
				if (w[t].status[j][s] != want[s])
					print_error("thread %d device %d: %s answered %d\n", t, j, step_names[s],
						    w[t].status[j][s]);
				assert_int_equal(w[t].status[j][s], want[s]);
			}
		omc_http_client_free(w[t].env.http);
	}
	check_invariants(&e, devs, THREADS * PER_THREAD);
	restart(&e);
	check_invariants(&e, devs, THREADS * PER_THREAD);
	for (size_t i = 0; i < THREADS * PER_THREAD; i++)
		sf_dev_free(&devs[i]);
	sf_down(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_between_steps),
		cmocka_unit_test(test_restart_before_every_call),
		cmocka_unit_test(test_download_answer_lost),
		cmocka_unit_test(test_receipt_answer_lost),
		cmocka_unit_test(test_auc_batches_across_restart),
		cmocka_unit_test(test_concurrent_devices),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
