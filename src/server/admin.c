/* What an administrator does to the server's database (`openmcim ctl`),
 * and the demo deployment of `openmcim server --demo`. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "openmcim/factory.h"
#include "server/server_internal.h"

static bool name_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

omc_err omc_server_subscriber_add(omc_db *db, const char *sho, const char *name, char token[48])
{
	OMC_ENSURE(db && token && name_ok(sho, 16) && name_ok(name, 32), OMC_ERR_BAD_ARG);
	uint8_t h[32];
	OMC_TRY(srv_token_new(token));
	OMC_TRY(srv_token_hash(h, token));
	omc_dbs *q = NULL;
	int rc = omc_db_prepare(db, "INSERT INTO sho_subscriber (operator, name, token_hash, created) VALUES (?1, ?2, ?3, ?4)", &q);
	if (rc == OMC_DB_OK) {
		omc_dbs_bind_text(q, 1, sho, -1);
		omc_dbs_bind_text(q, 2, name, -1);
		omc_dbs_bind_blob(q, 3, h, 32);
		omc_dbs_bind_int64(q, 4, (int64_t)time(NULL));
		rc = omc_dbs_step(q);
	}
	omc_dbs_finalize(q);
	if (rc != OMC_DB_DONE) {
		omc_memzero(token, 48);
		OMC_BAIL(omc_db_err(rc));
	}
	return OMC_OK;
}

omc_err omc_server_reference_add(omc_db *db, const char *model, const char *json, size_t len)
{
	OMC_ENSURE(db && model && json && strlen(model) > 0 && strlen(model) < 64, OMC_ERR_BAD_ARG);
	json_error_t je;
	json_t *a = omc_json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	OMC_ENSURE(json_is_array(a) && json_array_size(a) > 0 && json_array_size(a) <= 16, OMC_ERR_BAD_FORMAT);
	omc_err e = omc_db_exec(db, "BEGIN IMMEDIATE");
	for (size_t i = 0; e == OMC_OK && i < json_array_size(a); i++) {
		json_t *c = json_array_get(a, i);
		const char *n = json_string_value(json_object_get(c, "name"));
		const char *h = json_string_value(json_object_get(c, "sha256"));
		json_t *vj = json_object_get(c, "version");
		const char *ver = vj ? json_string_value(vj) : "";
		uint8_t d[32];
		char lower[65];
		if (!n || strlen(n) == 0 || strlen(n) >= 32 || !ver || strlen(ver) >= 16 || !h ||
		    omc_hex_decode(d, 32, h, strlen(h)) != OMC_OK ||
		    omc_hex_encode(lower, sizeof lower, d, 32) != OMC_OK) {
			e = OMC_ERR_BAD_FORMAT;
			break;
		}
		omc_dbs *q = NULL;
		int rc = omc_db_prepare(db, "INSERT INTO pva_reference (model, version, component, digest)"
					    " VALUES (?1, ?4, ?2, ?3)"
					    " ON CONFLICT DO NOTHING", &q);
		if (rc == OMC_DB_OK) {
			omc_dbs_bind_text(q, 1, model, -1);
			omc_dbs_bind_text(q, 2, n, -1);
			omc_dbs_bind_text(q, 3, lower, -1);
			omc_dbs_bind_text(q, 4, ver, -1);
			rc = omc_dbs_step(q);
		}
		omc_dbs_finalize(q);
		if (rc != OMC_DB_DONE)
			e = omc_db_err(rc);
	}
	json_decref(a);
	if (e == OMC_OK)
		e = omc_db_exec(db, "COMMIT");
	if (e != OMC_OK)
		omc_db_rollback(db);
	return e;
}

/* --- the demo deployment --------------------------------------------------------------- */

static omc_err write_file(const char *dir, const char *name, const void *p, size_t n, mode_t mode)
{
	char path[600];
	OMC_ENSURE(snprintf(path, sizeof path, "%s/%s", dir, name) < (int)sizeof path, OMC_ERR_BAD_ARG);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		OMC_BAIL(errno == EEXIST ? OMC_ERR_EXISTS : OMC_ERR_IO);
	bool ok = write(fd, p, n) == (ssize_t)n && fsync(fd) == 0;
	ok &= close(fd) == 0;
	OMC_ENSURE(ok, OMC_ERR_IO);
	return OMC_OK;
}

omc_err omc_server_demo_setup(const char *dir)
{
	return omc_server_demo_setup_db(dir, NULL);
}

omc_err omc_server_demo_setup_db(const char *dir, const char *db_name)
{
	OMC_ENSURE(dir && strlen(dir) < 400 && (!db_name || strlen(db_name) < 400), OMC_ERR_BAD_ARG);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		OMC_BAIL(OMC_ERR_IO);
	char pki[512], db_path[512];
	snprintf(pki, sizeof pki, "%s/pki", dir);
	if (db_name)
		snprintf(db_path, sizeof db_path, "%s", db_name);
	else
		snprintf(db_path, sizeof db_path, "%s/openmcim.db", dir);
	OMC_TRY(omc_factory_pki(pki));
	uint8_t master[32];
	OMC_DEFER_WIPE(master);
	OMC_TRY(omc_rand_bytes(master, sizeof master));
	OMC_TEST_CANARY(master, sizeof master, "MASTER");
	OMC_TRY(write_file(dir, "master.key", master, sizeof master, 0600));
	char conf[2048];
	int n = snprintf(conf, sizeof conf,
			 "# openmcim server: the demo deployment (openmcim server --demo)\n"
			 "[server]\nlisten = 127.0.0.1\nport = 0\nthreads = 2\n"
			 "db = %s\npki = %s\nmaster_key = %s/master.key\n"
			 "roles = ccif vno bootstrap drf pva dpf\n"
			 "# HTTPS on every listener with the PKI's tls certificate (CA: pki/tls-ca.crt)\n"
			 "tls = false\n\n"
			 "[operator ico]\nkind = ico\nimsi_prefix = 00101\npcid_lifetime = 31536000\n\n"
			 "[operator sho1]\nkind = sho\nimsi_prefix = 00102\nalg = milenage\n"
			 "data_only = false\nvolume_cap = 0\n\n"
			 "[operator sho2]\nkind = sho\nimsi_prefix = 00103\nalg = tuak\n"
			 "tuak_mac_bits = 128\ntuak_res_bits = 128\ntuak_ck_bits = 256\ntuak_ik_bits = 256\n"
			 "tuak_iterations = 2\n"
			 "data_only = true\nvolume_cap = 1048576\n\n"
			 "[trust]\nm2mes_ca = %s/m2mes-ca.crt\npva = pva\n",
			 db_path, pki, dir, pki);
	OMC_ENSURE(n > 0 && (size_t)n < sizeof conf, OMC_ERR_BAD_ARG);
	OMC_TRY(write_file(dir, "server.conf", conf, (size_t)n, 0600));
	omc_db *db = NULL;
	OMC_TRY(omc_db_open(&db, db_path));
	char *refs = NULL, t1[48], t2[48];
	omc_err e = omc_factory_references(NULL, &refs);
	if (e == OMC_OK)
		e = omc_server_reference_add(db, "openmcim-demo-gw", refs, strlen(refs));
	omc_free(refs);
	if (e == OMC_OK)
		e = omc_server_subscriber_add(db, "sho1", "demo", t1);
	if (e == OMC_OK)
		e = omc_server_subscriber_add(db, "sho2", "demo", t2);
	omc_db_close(db);
	OMC_TRY(e);
	char subs[256];
	n = snprintf(subs, sizeof subs, "{\"sho1\":{\"demo\":\"%s\"},\"sho2\":{\"demo\":\"%s\"}}\n", t1, t2);
	omc_memzero(t1, sizeof t1);
	omc_memzero(t2, sizeof t2);
	e = n > 0 && (size_t)n < sizeof subs ? write_file(dir, "subscribers.json", subs, (size_t)n, 0600) : OMC_ERR_BUG;
	omc_memzero(subs, sizeof subs);
	return e;
}

omc_err omc_server_sign_request(char **auth, const omc_key *key, const omc_cert *cert, const char *method,
				const char *path, const char *body, size_t body_len, int64_t now)
{
	OMC_ENSURE(auth && key && cert && method && path && (body || body_len == 0), OMC_ERR_BAD_ARG);
	return srv_sign_request(auth, key, cert, method, path, body, body_len, now);
}
