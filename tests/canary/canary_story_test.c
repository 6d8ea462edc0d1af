/* The secret canary over the provisioning story (DESIGN invariant 1): the
 * server runs with a planted master key, the factory makes devices with
 * planted PCID K and OPc, and every K, OPc and TOPc the CCIF and the SHOs
 * make is planted too (OMC_TEST_CANARY_*, read by test builds only). The whole
 * story runs for MILENAGE (sho1) and TUAK (sho2); then every log line,
 * every HTTP request and answer body, every file under the deployment
 * (SQLite database with its -wal, config, PKI, subscriber list) and every
 * file of the devices' stores is scanned for each secret, raw, in hex of
 * either case and in base64 of either alphabet, padded or not: zero hits.
 * Ciphertexts (the store's, the database's sealed columns, JWEs) are fine:
 * SEC-12. A control checks that the planted keys were really the ones in
 * use: the VNO's challenge verifies under the planted K and OPc. The
 * users' PINs of the TRE (an admin added with a planted PIN, and logged
 * in with it), the private keys of every entity of the deployment's PKI
 * (the servers' signing keys, their scalars, and the passphrase the key
 * files are encrypted under) and each device's root key are planted too:
 * the key files are encrypted and scanned with the rest; pki.secret and
 * device.key are their secrets' home, left out of the scan and scanned
 * alone as controls, and each key's scalar is found in that key written
 * as plain DER (the control that the right scalar was planted).
 * covers: SEC-12, SEC-6, CCIF-1, CCIF-2, NET-3 */
#include "srv_fixture.h"

#include "canary.h"

#include <stdlib.h>
#include <unistd.h>


#include "net/net_internal.h"

/* Distinct, recognisable, and not all one byte: a scan for them cannot
 * match by accident. */
static uint8_t master[32], sho_k[32], sho_op[32], pcid_k[2][16], pcid_opc[2][16];

static size_t log_lines, bodies;

/* A PIN of the TRE's users (4 to 64 bytes): long enough to be found by
 * nothing but itself. */
static const char pin[] = "canary-PIN-7205-9381-4466";
static size_t n_keys, pem_hits;

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + 37 * i + (i >> 2));
}

static void on_log(void *arg, omc_log_level level, const char *module, const char *msg)
{
	(void)arg;
	(void)level;
	__atomic_fetch_add(&log_lines, 1, __ATOMIC_RELAXED);
	tl_canary_scan_buf(module, msg, strlen(msg));
}

static void on_body(void *arg, const char *method, const char *path, const uint8_t *req, size_t req_len,
		    const char *resp, size_t resp_len)
{
	(void)arg;
	(void)method;
	__atomic_fetch_add(&bodies, 2, __ATOMIC_RELAXED);
	tl_canary_scan_buf(path, req, req_len);
	tl_canary_scan_buf(path, resp, resp_len);
}

static void set_hex(const char *var, const uint8_t *p, size_t n)
{
	char h[65];
	assert_int_equal(omc_hex_encode(h, sizeof h, p, n), OMC_OK);
	assert_int_equal(setenv(var, h, 1), 0);
	omc_memzero(h, sizeof h);
}

static void plant(void)
{
	fill(master, sizeof master, 0x11);
	fill(sho_k, sizeof sho_k, 0x5a);
	fill(sho_op, sizeof sho_op, 0xc3);
	for (int i = 0; i < 2; i++) {
		fill(pcid_k[i], 16, (uint8_t)(0x27 + i));
		fill(pcid_opc[i], 16, (uint8_t)(0x81 + i));
	}
	tl_canary_reset();
	tl_canary_add("server master key", master, sizeof master);
	tl_canary_add("SHO K (MILENAGE, TUAK-128)", sho_k, 16);
	tl_canary_add("SHO K (TUAK-256)", sho_k, 32);
	tl_canary_add("SHO OPc", sho_op, 16);
	tl_canary_add("SHO TOPc", sho_op, 32);
	tl_canary_add("PCID K 1", pcid_k[0], 16);
	tl_canary_add("PCID OPc 1", pcid_opc[0], 16);
	tl_canary_add("PCID K 2", pcid_k[1], 16);
	tl_canary_add("PCID OPc 2", pcid_opc[1], 16);
	tl_canary_add("a user's PIN", (const uint8_t *)pin, strlen(pin));
	set_hex("OMC_TEST_CANARY_K", sho_k, 32);
	set_hex("OMC_TEST_CANARY_OP", sho_op, 32);
	set_hex("OMC_TEST_CANARY_MASTER", master, 32);
	omc_log_set_level(OMC_LOG_LEVEL_DBG);
	omc_log_set_handler(on_log, NULL);
	omc_test_http_on_body(on_body, NULL);
}

static void unplant(void)
{
	omc_test_http_on_body(NULL, NULL);
	omc_log_set_handler(NULL, NULL);
	omc_log_set_level(OMC_LOG_LEVEL_WRN);
	unsetenv("OMC_TEST_CANARY_K");
	unsetenv("OMC_TEST_CANARY_OP");
	unsetenv("OMC_TEST_CANARY_MASTER");
}

/* A device whose factory PCID (CCIF mode 1) is planted. */
static void dev_make(sf_env *e, sf_dev *d, int i)
{
	char k[33], opc[33], pcid[160];
	assert_int_equal(omc_hex_encode(k, sizeof k, pcid_k[i], 16), OMC_OK);
	assert_int_equal(omc_hex_encode(opc, sizeof opc, pcid_opc[i], 16), OMC_OK);
	snprintf(pcid, sizeof pcid, "{\"imsi\":\"00101000000%04d\",\"k\":\"%s\",\"opc\":\"%s\"}", 4711 + i, k, opc);
	sf_dev_make(e, d, pcid);
	omc_memzero(k, sizeof k);
	omc_memzero(opc, sizeof opc);
	omc_memzero(pcid, sizeof pcid);
}

/* The control: a challenge for the device's MCIM verifies under the
 * planted keys (MAC-A right; the SQN may be fresh or not). */
static void challenge_is_planted(sf_env *e, sf_dev *d, omc_aka_alg alg)
{
	char body[64];
	snprintf(body, sizeof body, "{\"imsi\":\"%s\"}", d->mcim_imsi);
	json_t *a = NULL;
	assert_int_equal(sf_call(e, "POST", "vno", "/v1/attach", NULL, body, &a), 200);
	const char *rh = json_string_value(json_object_get(a, "rand"));
	const char *ah = json_string_value(json_object_get(a, "autn"));
	assert_non_null(rh);
	assert_non_null(ah);
	uint8_t rand[16], autn[OMC_AKA_MAX_AUTN_LEN];
	size_t al = 0;
	assert_int_equal(omc_hex_decode(rand, 16, rh, strlen(rh)), OMC_OK);
	assert_int_equal(omc_hex_decode_var(autn, sizeof autn, &al, ah, strlen(ah)), OMC_OK);
	json_decref(a);
	omc_aka_cred c;
	memset(&c, 0, sizeof c);
	c.alg = alg;
	if (alg == OMC_AKA_ALG_MILENAGE) {
		assert_int_equal(omc_aka_milenage_init(&c.u.milenage, sho_k, sho_op, NULL), OMC_OK);
	} else {
		/* sho2's profile (server.conf of the demo deployment) */
		omc_aka_tuak_params p;
		omc_aka_tuak_params_default(&p);
		p.mac_bits = 128;
		p.res_bits = 128;
		p.ck_bits = 256;
		p.ik_bits = 256;
		p.iterations = 2;
		assert_int_equal(omc_aka_tuak_init(&c.u.tuak, sho_k, 16, sho_op, &p), OMC_OK);
	}
	omc_aka_sqn_ms ms;
	assert_int_equal(omc_aka_sqn_ms_init(&ms, 5, 0, 0), OMC_OK);
	omc_aka_check_result r;
	assert_int_equal(omc_aka_check(&r, &ms, &c, rand, autn, al), OMC_OK);
	assert_int_not_equal(r.status, OMC_AKA_STATUS_MAC_FAILURE);
	omc_aka_cred_wipe(&c);
	omc_memzero(&r, sizeof r);
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);
	return n >= m && !strcmp(s + n - m, tail);
}

/* Every file of a device but its root key's (device.key), whose hits go to
 * *key_hits, the control. */
static size_t scan_memfs(omc_memfs *fs, size_t *files, size_t *key_hits)
{
	char *paths = NULL;
	size_t len = 0, found = 0;
	assert_int_equal(omc_memfs_list(fs, &paths, &len), OMC_OK);
	for (size_t at = 0; at < len; at += strlen(paths + at) + 1) {
		uint8_t *data = NULL;
		size_t n = 0;
		assert_int_equal(omc_memfs_raw_get(fs, paths + at, &data, &n), OMC_OK);
		if (ends_with(paths + at, "device.key"))
			*key_hits += tl_canary_scan_buf(paths + at, data, n);
		else
			found += tl_canary_scan_buf(paths + at, data, n);
		omc_free(data);
		++*files;
	}
	omc_free(paths);
	return found;
}

/* The device's root key, from its file: planted. */
static void plant_root_key(omc_memfs *fs, int i)
{
	char *paths = NULL;
	size_t len = 0;
	bool found = false;
	assert_int_equal(omc_memfs_list(fs, &paths, &len), OMC_OK);
	for (size_t at = 0; at < len; at += strlen(paths + at) + 1) {
		if (!ends_with(paths + at, "device.key"))
			continue;
		uint8_t *data = NULL;
		size_t n = 0;
		assert_int_equal(omc_memfs_raw_get(fs, paths + at, &data, &n), OMC_OK);
		assert_int_equal(n, 32);
		tl_canary_add(i ? "device 2 root key" : "device 1 root key", data, n);
		omc_free(data);
		found = true;
	}
	omc_free(paths);
	assert_true(found);
}

static void test_canary_story_milenage_and_tuak(void **state)
{
	(void)state;
	plant();
	sf_env e;
	sf_up(&e);
	n_keys = tl_canary_add_pki(e.pki, &pem_hits);
	assert_true(n_keys >= 6);
	sf_dev d[2];
	dev_make(&e, &d[0], 0);
	plant_root_key(d[0].fs, 0);
	sf_provision(&e, &d[0], 1);
	dev_make(&e, &d[1], 1);
	plant_root_key(d[1].fs, 1);
	sf_provision(&e, &d[1], 2);
	/* A local admin with the planted PIN, logged in with it. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(omc_tre_user_add(d[i].t, NULL, "alice", "admin", pin, strlen(pin)), OMC_OK);
		omc_tre_caller who;
		assert_int_equal(omc_tre_user_auth(d[i].t, "alice", pin, strlen(pin), &who), OMC_OK);
		assert_string_equal(who.name, "alice");
	}
	/* The operational sessions use the MCIMs. */
	assert_int_equal(sf_bearer(&e, d[0].session, "POST", "vno", "/v1/sms", "{}", NULL), 200);
	assert_int_equal(sf_bearer(&e, d[1].session, "POST", "vno", "/v1/data", "{\"bytes\":1000}", NULL), 200);
	challenge_is_planted(&e, &d[0], OMC_AKA_ALG_MILENAGE);
	challenge_is_planted(&e, &d[1], OMC_AKA_ALG_TUAK);
	/* A restart in between: what the server reloads and logs then. */
	sf_stop(&e);
	sf_start(&e);
	assert_int_equal(sf_attach(&e, &d[0], d[0].mcim_id), 200);

	size_t files = 0;
	/* While it runs (the -wal file is there), then stopped. The master
	 * key's own file is the one place its bytes live: left out. */
	char mk[128];
	snprintf(mk, sizeof mk, "%s/master.key", e.dir);
	char moved[140];
	snprintf(moved, sizeof moved, "%s.canary-skip", e.dir);
	/* The key files of the PKI are encrypted: scanned with the rest, no
	 * hit. Its passphrase's file (pki.secret) is its home: left out, like
	 * the master key's, and scanned alone as a control. */
	char ps[160], ps_moved[170];
	snprintf(ps, sizeof ps, "%s/pki.secret", e.pki);
	snprintf(ps_moved, sizeof ps_moved, "%s.pki-secret-skip", e.dir);
	size_t tree_hits = 0;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			sf_stop(&e);
		assert_int_equal(rename(mk, moved), 0);
		assert_int_equal(rename(ps, ps_moved), 0);
		tree_hits += tl_canary_scan_tree(e.dir, &files);
		assert_int_equal(rename(moved, mk), 0);
		assert_int_equal(rename(ps_moved, ps), 0);
	}
	assert_int_equal(tree_hits, 0);
	size_t root_hits = 0;
	for (int i = 0; i < 2; i++)
		assert_int_equal(scan_memfs(d[i].fs, &files, &root_hits), 0);
	/* The controls: each device's root key is found in its own file. */
	assert_true(root_hits >= 2);
	/* Every log line and body so far, every file: zero hits but the
	 * controls' own. */
	assert_int_equal(tl_canary_hits(), pem_hits + root_hits);
	assert_true(tl_canary_scan_file(ps) >= 1);
	/* Positive control of the file scan: the key file itself is found. */
	assert_true(tl_canary_scan_file(mk) >= 1);
	size_t control = tl_canary_hits();
	fprintf(stderr,
		"canary: %zu scans, %llu bytes, %zu files, %zu log lines, %zu bodies; %zu private keys, 2 root keys "
		"and a PIN planted too\n",
		tl_canary_scans(), (unsigned long long)tl_canary_bytes(), files, log_lines, bodies, n_keys);
	/* The scans ran over something: the files, a few log lines (restart)
	 * and two bodies per request of the story. */
	assert_true(files >= 8);
	assert_true(bodies >= 40);
	unplant();
	for (int i = 0; i < 2; i++)
		sf_dev_free(&d[i]);
	sf_down(&e);
	/* The shutdown logged nothing secret either: the control's hits only. */
	assert_int_equal(tl_canary_hits(), control);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canary_story_milenage_and_tuak),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
