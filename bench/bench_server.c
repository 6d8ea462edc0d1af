/* openmcim bench server: the network side, each figure beside the bound
 * measured in the same run.
 *
 * In process, on one core: the AuC on its SQLite database (a real file,
 * synchronous=FULL) against vectors made in memory.
 *
 * Over loopback HTTP (issue 4): the demo deployment (omc_server_demo_setup)
 * started in this process, every role on its own listener, driven by
 * HTTP_THREADS client threads the way devices and a VNO drive it: AVs in
 * batches of 1 and 32, validations (PVA nonce, the TRE's session and
 * evidence, validate) and MCIM packages (a validation and the DPF
 * download). The bound beside them is the P-256 crypto one of them costs
 * (counted below), at the ECDSA, ECDH and key generation rates OpenSSL
 * gives on the same HTTP_THREADS threads in the same run. The run is made
 * twice: the database in /tmp and, when it exists, in /dev/shm (tmpfs, so
 * fsync costs nothing), which tells durability from the rest. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "bench.h"
#include "cli.h"
#include "fleet.h"
#include "openmcim/factory.h"
#include "openmcim/net.h"
#include "openmcim/server.h"
#include "openmcim/tre.h"
#include "openmcim/util.h"
#include "server/server_internal.h"
#include "util/util_internal.h"

#define SUBS 64

static int rmrf(const char *dir)
{
	char cmd[FLEET_DIR_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd);
}

/* AVs per second in batches of n, round robin over the subscribers. */
static omc_err auc_rate(double *per_s, double *commits_per_s, omc_auc *a, size_t n, double seconds)
{
	static const uint8_t amf[2] = {0x80, 0};
	omc_aka_av av[OMC_AUC_BATCH_MAX];
	unsigned long vectors = 0, calls = 0;
	double t0 = bench_now(), t = t0;
	omc_err e = OMC_OK;
	while (e == OMC_OK && t - t0 < seconds) {
		char imsi[16];
		snprintf(imsi, sizeof imsi, "00101%010lu", calls % SUBS);
		e = omc_auc_vectors(a, imsi, amf, av, n);
		vectors += n;
		calls++;
		t = bench_now();
	}
	omc_memzero(av, sizeof av);
	OMC_TRY(e);
	*per_s = (double)vectors / (t - t0);
	*commits_per_s = (double)calls / (t - t0);
	return OMC_OK;
}

/* The bound: vectors made in memory, one at a time (omc_aka_av_gen). */
static unsigned long engine_run(const omc_aka_cred *c, double seconds, double *elapsed)
{
	static const uint8_t amf[2] = {0x80, 0};
	uint8_t rand[16] = {1}, sqn[6] = {0};
	omc_aka_av av;
	unsigned long n = 0;
	double t0 = bench_now(), t;
	do {
		for (int i = 0; i < 256; i++) {
			sqn[5] = (uint8_t)i;
			if (omc_aka_av_gen(&av, c, rand, sqn, amf) != OMC_OK)
				return 0;
		}
		n += 256;
		t = bench_now();
	} while (t - t0 < seconds);
	omc_memzero(&av, sizeof av);
	*elapsed = t - t0;
	return n;
}

static double engine_rate(const omc_aka_cred *c, double seconds)
{
	double el = 0;
	unsigned long n = engine_run(c, seconds, &el);
	return n && el > 0 ? (double)n / el : 0;
}

/* The in-process figures (one core). */
typedef struct inproc {
	double b1, c1, b32, eng;
} inproc;

static omc_err inproc_run(inproc *r, double seconds)
{
	char dir[] = "/tmp/omc-bench-server-XXXXXX";
	OMC_ENSURE(mkdtemp(dir) != NULL, OMC_ERR_IO);
	char path[sizeof dir + 16];
	snprintf(path, sizeof path, "%s/auc.db", dir);
	omc_db *db = NULL;
	omc_auc *a = NULL;
	uint8_t master[32], k[16], opc[16];
	omc_aka_cred c = {.alg = OMC_AKA_ALG_MILENAGE};
	double c32 = 0;
	omc_err e = omc_rand_bytes(master, 32);
	if (e == OMC_OK)
		e = omc_rand_bytes(k, 16);
	if (e == OMC_OK)
		e = omc_rand_bytes(opc, 16);
	if (e == OMC_OK)
		e = omc_aka_milenage_init(&c.u.milenage, k, opc, NULL);
	if (e == OMC_OK)
		e = omc_db_open(&db, path);
	if (e == OMC_OK)
		e = omc_auc_open(&a, db, "sho1", master);
	for (unsigned i = 0; e == OMC_OK && i < SUBS; i++) {
		char imsi[16];
		snprintf(imsi, sizeof imsi, "00101%010u", i);
		e = omc_auc_add(a, imsi, &c, OMC_AKA_IND_BITS_DEFAULT);
	}
	if (e == OMC_OK)
		e = auc_rate(&r->b1, &r->c1, a, 1, seconds);
	if (e == OMC_OK)
		e = auc_rate(&r->b32, &c32, a, OMC_AUC_BATCH_MAX, seconds);
	if (e == OMC_OK && (r->eng = engine_rate(&c, seconds)) <= 0)
		e = OMC_ERR_BUG;
	omc_aka_cred_wipe(&c);
	omc_memzero(master, sizeof master);
	omc_memzero(k, sizeof k);
	omc_memzero(opc, sizeof opc);
	omc_auc_close(a);
	omc_db_close(db);
	if (rmrf(dir) != 0)
		fprintf(stderr, "openmcim bench server: could not remove %s\n", dir);
	return e;
}

/* --- over loopback HTTP ------------------------------------------------------------ */

#define HTTP_THREADS 2 /* client threads, and the threads of the crypto bound */
#define HTTP_SUBS 16   /* AuC subscribers of the AV figures */
#define HTTP_DEVS 2    /* devices per client thread */

/* The P-256 work of one validation and of one package, counted in the code
 * (src/server/pva.c, dpf.c, sho.c, server.c; src/tre/attest.c). Every
 * x5c-signed object is one chain signature (the leaf under its CA; an
 * anchor's own signature is not checked) plus its own: 2 verifications.
 *   validation, server: the evidence (2 V), the validation token (1 S);
 *               device:  the session key (1 K), the evidence (1 S).
 *   download,   server: the token and the evidence again at the DPF (4 V),
 *               the DPF's signed request to the SHO (1 S) checked there
 *               (2 V), the SHO's signed MCIM (1 S), sealed to the DPF (JWE
 *               ECDH-ES: 1 K, 1 ECDH), opened at the DPF (1 ECDH), sealed
 *               to the TRE's session key (1 K, 1 ECDH).
 *   AV request: the VNO's signature (1 S), checked at the AuC (2 V), and
 *               n vectors.
 * The device runs in this process, on the same cores, so the bounds count
 * its share too; the server's share alone is given beside. */
typedef struct crypto_ops {
	unsigned sign, verify, ecdh, keygen;
} crypto_ops;
static const crypto_ops ops_validation = {.sign = 2, .verify = 2, .ecdh = 0, .keygen = 1};
static const crypto_ops ops_validation_server = {.sign = 1, .verify = 2, .ecdh = 0, .keygen = 0};
static const crypto_ops ops_package = {.sign = 4, .verify = 8, .ecdh = 3, .keygen = 3};
static const crypto_ops ops_package_server = {.sign = 3, .verify = 8, .ecdh = 3, .keygen = 2};
static const crypto_ops ops_av_request = {.sign = 1, .verify = 2, .ecdh = 0, .keygen = 0};

typedef struct crypto_rates {
	double sign, verify, ecdh, keygen, engine; /* per second, on HTTP_THREADS threads */
} crypto_rates;

/* Operations per second the crypto alone allows, with n vectors each. */
static double crypto_bound(const crypto_rates *r, const crypto_ops *o, unsigned vectors)
{
	double t = o->sign / r->sign + o->verify / r->verify + (double)vectors / r->engine;
	if (o->ecdh)
		t += o->ecdh / r->ecdh;
	if (o->keygen)
		t += o->keygen / r->keygen;
	return t > 0 ? 1 / t : 0;
}

static const omc_tre_caller hb_agent = {.kind = OMC_ACTOR_USER, .name = "agent"};

typedef struct hb_env {
	char dir[FLEET_DIR_MAX], pki[FLEET_DIR_MAX + 16], conf[FLEET_DIR_MAX + 16];
	const char *db; /* a PostgreSQL URI (--db), or NULL: dir/openmcim.db */
	char token[64]; /* sho1's demo subscriber */
	omc_server *srv;
	json_t *urls;
	fleet_srv ext; /* --server-dir: the replicas, each call to the next */
	bool external;
	omc_key *vno_key, *m2mes_key;
	omc_cert *vno_cert, *m2mes_cert;
} hb_env;

typedef struct hb_dev {
	omc_memfs *fs;
	omc_store_io *io, *store_io;
	omc_tre *t;
	char platform_id[32], pcid_imsi[16], session[64];
	char *report, *evidence, *token, *package; /* omc_alloc'd */
} hb_dev;

typedef enum hb_task {
	HB_SETUP,
	HB_AVS,
	HB_VALIDATE,
	HB_PACKAGE,
	HB_INSTALL,
	HB_SIGN,
	HB_VERIFY,
	HB_ECDH,
	HB_KEYGEN,
	HB_ENGINE
} hb_task;

typedef struct hb_worker {
	hb_env *env;
	unsigned id;
	omc_http_client *http;
	hb_dev dev[HTTP_DEVS];
	hb_task task;
	size_t batch;
	double seconds;
	unsigned long items;
	omc_err err;
	char why[192];
	pthread_t th;
} hb_worker;

static omc_err hb_fail(hb_worker *w, omc_err e, const char *step, int status, json_t *answer)
{
	if (w->err == OMC_OK) {
		const char *code = json_string_value(json_object_get(answer, "error"));
		w->err = e != OMC_OK ? e : OMC_ERR_BUG;
		if (status)
			snprintf(w->why, sizeof w->why, "%s: HTTP %d %s", step, status, code ? code : "");
		else
			snprintf(w->why, sizeof w->why, "%s: %s", step, omc_err_name(w->err));
	}
	return w->err;
}

static char *hb_dup(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	char *p = s ? omc_alloc(n + 1) : NULL;
	if (p)
		memcpy(p, s, n + 1);
	return p;
}

/* The compact text of o (consumed), from jansson's allocator (omc_alloc). */
static char *hb_dumps(json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

/* One call; anything but the status `want` is a failure. *out (optional)
 * gets the answer. */
static omc_err hb_call(hb_worker *w, const char *method, const char *role, const char *path, const char *auth,
		       const char *body, int want, json_t **out)
{
	if (out)
		*out = NULL;
	const char *base = w->env->external ? fleet_url(&w->env->ext, role)
					    : json_string_value(json_object_get(w->env->urls, role));
	if (!base || !base[0])
		return hb_fail(w, OMC_ERR_NOT_FOUND, role, 0, NULL);
	char url[512];
	snprintf(url, sizeof url, "%s%s", base, path);
	int st = 0;
	char *r = NULL;
	size_t rl = 0;
	omc_err e = body ? OMC_OK : OMC_ERR_NOMEM;
	if (e == OMC_OK)
		e = omc_http_call_auth(w->http, method, url, auth, body, strlen(body), &st, &r, &rl);
	json_t *j = NULL;
	if (e == OMC_OK) {
		json_error_t je;
		j = json_loadb(r, rl, 0, &je);
	}
	omc_free(r);
	if (e != OMC_OK || st != want) {
		hb_fail(w, e != OMC_OK ? e : OMC_ERR_DENIED, path, e == OMC_OK ? st : 0, j);
		json_decref(j);
		return w->err;
	}
	if (out)
		*out = j;
	else
		json_decref(j);
	return OMC_OK;
}

/* Signed as a server calling a server (srv_sign_request). */
static omc_err hb_signed(hb_worker *w, const omc_key *k, const omc_cert *c, const char *role, const char *path,
			 const char *body, int want, json_t **out)
{
	char *auth = NULL;
	omc_err e = body ? srv_sign_request(&auth, k, c, "POST", path, body, strlen(body), (int64_t)time(NULL))
			 : OMC_ERR_NOMEM;
	if (e != OMC_OK)
		return hb_fail(w, e, path, 0, NULL);
	e = hb_call(w, "POST", role, path, auth, body, want, out);
	omc_free(auth);
	return e;
}

static omc_err hb_bearer(hb_worker *w, const char *token, const char *role, const char *path, const char *body,
			 int want, json_t **out)
{
	char auth[128];
	snprintf(auth, sizeof auth, "Bearer %s", token);
	return hb_call(w, "POST", role, path, auth, body, want, out);
}

static void hb_dev_free(hb_dev *d)
{
	omc_tre_close(d->t);
	omc_store_io_mem_free(d->io);
	omc_store_io_mem_free(d->store_io);
	omc_memfs_free(d->fs);
	omc_free(d->report);
	omc_free(d->evidence);
	omc_free(d->token);
	omc_free(d->package);
	memset(d, 0, sizeof *d);
}

/* A device of the deployment's factory on its own memfs, as
 * tests/testlib/srv_fixture.c makes it. */
static omc_err hb_dev_make(hb_worker *w, hb_dev *d)
{
	memset(d, 0, sizeof *d);
	omc_err e = omc_memfs_new(&d->fs);
	if (e == OMC_OK)
		e = omc_store_io_mem_new(&d->io, d->fs, "dev/");
	if (e == OMC_OK)
		e = omc_store_io_mem_new(&d->store_io, d->fs, "dev/store/");
	char *rep = NULL;
	if (e == OMC_OK) {
		omc_factory_device_opts o = {.pki_dir = w->env->pki, .io = d->io, .store_io = d->store_io};
		e = omc_factory_device(&o, &rep);
	}
	json_error_t je;
	json_t *j = e == OMC_OK ? json_loads(rep, 0, &je) : NULL;
	omc_free(rep);
	const char *plat = json_string_value(json_object_get(j, "platform_id"));
	const char *imsi = json_string_value(json_object_get(j, "pcid_imsi"));
	if (e == OMC_OK && (!plat || !imsi || strlen(plat) >= sizeof d->platform_id ||
			    strlen(imsi) >= sizeof d->pcid_imsi ||
			    !(d->report = hb_dup(json_string_value(json_object_get(j, "pcid_report"))))))
		e = OMC_ERR_BAD_FORMAT;
	if (e == OMC_OK) {
		snprintf(d->platform_id, sizeof d->platform_id, "%s", plat);
		snprintf(d->pcid_imsi, sizeof d->pcid_imsi, "%s", imsi);
	}
	json_decref(j);
	if (e == OMC_OK) {
		omc_tre_opts to = {.io = d->io, .store_io = d->store_io, .count_boot = true};
		e = omc_tre_open(&d->t, &to);
	}
	return e == OMC_OK ? OMC_OK : hb_fail(w, e, "factory device", 0, NULL);
}

/* AKA at the VNO with the PCID: a provisioning session. */
static omc_err hb_attach(hb_worker *w, hb_dev *d)
{
	json_t *a = NULL, *c = NULL;
	char *body = hb_dumps(json_pack("{s:s}", "imsi", d->pcid_imsi));
	omc_err e = hb_call(w, "POST", "vno", "/v1/attach", NULL, body, 200, &a);
	omc_free(body);
	OMC_TRY(e);
	const char *att = json_string_value(json_object_get(a, "attach"));
	const char *rh = json_string_value(json_object_get(a, "rand"));
	const char *ah = json_string_value(json_object_get(a, "autn"));
	uint8_t rand[16], autn[16];
	omc_aka_check_result r;
	OMC_DEFER_WIPE(r);
	char res[2 * OMC_AKA_MAX_RES_LEN + 1];
	OMC_DEFER_WIPE(res);
	e = att && rh && ah && omc_hex_decode(rand, 16, rh, strlen(rh)) == OMC_OK &&
			    omc_hex_decode(autn, 16, ah, strlen(ah)) == OMC_OK
		    ? OMC_OK
		    : OMC_ERR_BAD_FORMAT;
	if (e == OMC_OK)
		e = omc_tre_aka(d->t, &hb_agent, "pcid", rand, autn, 16, &r);
	if (e == OMC_OK && r.status != OMC_AKA_STATUS_OK)
		e = OMC_ERR_SYNC_FAILURE;
	if (e == OMC_OK)
		e = omc_hex_encode(res, sizeof res, r.res, r.res_len);
	if (e != OMC_OK) {
		json_decref(a);
		return hb_fail(w, e, "attach (TRE)", 0, NULL);
	}
	body = hb_dumps(json_pack("{s:s,s:s}", "attach", att, "res", res));
	json_decref(a);
	e = hb_call(w, "POST", "vno", "/v1/attach/complete", NULL, body, 200, &c);
	omc_free(body);
	OMC_TRY(e);
	const char *sess = json_string_value(json_object_get(c, "session"));
	if (sess && strlen(sess) < sizeof d->session)
		snprintf(d->session, sizeof d->session, "%s", sess);
	else
		e = hb_fail(w, OMC_ERR_BAD_FORMAT, "/v1/attach/complete", 0, NULL);
	json_decref(c);
	return e;
}

/* Register at the DRF with attestation evidence for its nonce. */
static omc_err hb_register(hb_worker *w, hb_dev *d)
{
	int64_t t = (int64_t)time(NULL);
	uint8_t nonce[32];
	char *ev = NULL;
	omc_err e = omc_drf_nonce(nonce, d->pcid_imsi, t);
	if (e == OMC_OK)
		e = omc_tre_attest(d->t, nonce, sizeof nonce, &ev);
	if (e != OMC_OK)
		return hb_fail(w, e, "attest", 0, NULL);
	char *body = hb_dumps(json_pack("{s:s,s:I}", "evidence", ev, "time", (json_int_t)t));
	omc_free(ev);
	e = hb_bearer(w, d->session, "drf", "/v1/register", body, 200, NULL);
	omc_free(body);
	return e;
}

/* A device ready to validate and download: its PCID reported to the CCIF
 * (as the M2MES), subscribed at sho1 (as its demo subscriber), attached,
 * registered. */
static omc_err hb_dev_setup(hb_worker *w, hb_dev *d)
{
	OMC_TRY(hb_dev_make(w, d));
	char *body = hb_dumps(json_pack("{s:s}", "report", d->report));
	omc_err e = hb_signed(w, w->env->m2mes_key, w->env->m2mes_cert, "ccif", "/v1/reports", body, 201, NULL);
	omc_free(body);
	OMC_TRY(e);
	body = hb_dumps(json_pack("{s:s}", "platform_id", d->platform_id));
	e = hb_bearer(w, w->env->token, "sho.sho1", "/v1/devices", body, 201, NULL);
	omc_free(body);
	OMC_TRY(e);
	OMC_TRY(hb_attach(w, d));
	return hb_register(w, d);
}

/* One validation: the PVA's nonce, the TRE's session and evidence, the
 * validation token. */
static omc_err hb_validate(hb_worker *w, hb_dev *d)
{
	json_t *a = NULL;
	OMC_TRY(hb_bearer(w, d->session, "pva", "/v1/nonce", "{}", 201, &a));
	const char *nb = json_string_value(json_object_get(a, "nonce"));
	uint8_t n[64];
	size_t nl = 0;
	omc_err e = nb ? omc_b64_decode(n, sizeof n, &nl, nb, strlen(nb), OMC_B64_URL) : OMC_ERR_BAD_FORMAT;
	json_decref(a);
	omc_free(d->evidence);
	d->evidence = NULL;
	if (e == OMC_OK)
		e = omc_tre_session_begin(d->t, n, nl, &d->evidence);
	if (e != OMC_OK)
		return hb_fail(w, e, "session begin", 0, NULL);
	char *body = hb_dumps(json_pack("{s:s}", "evidence", d->evidence));
	e = hb_bearer(w, d->session, "pva", "/v1/validate", body, 200, &a);
	omc_free(body);
	OMC_TRY(e);
	omc_free(d->token);
	d->token = hb_dup(json_string_value(json_object_get(a, "token")));
	json_decref(a);
	return d->token ? OMC_OK : hb_fail(w, OMC_ERR_BAD_FORMAT, "/v1/validate", 0, NULL);
}

/* The DPF download on the token: the package sealed to the session. The
 * SHO issues the same MCIM again while no receipt confirms it (a retried
 * download), so one device downloads many times. */
static omc_err hb_download(hb_worker *w, hb_dev *d)
{
	json_t *a = NULL;
	char *body = hb_dumps(json_pack("{s:s,s:s}", "token", d->token, "evidence", d->evidence));
	omc_err e = hb_bearer(w, d->session, "dpf", "/v1/download", body, 200, &a);
	omc_free(body);
	OMC_TRY(e);
	omc_free(d->package);
	d->package = hb_dup(json_string_value(json_object_get(a, "package")));
	json_decref(a);
	return d->package ? OMC_OK : hb_fail(w, OMC_ERR_BAD_FORMAT, "/v1/download", 0, NULL);
}

/* --- the crypto bound, on each thread ---------------------------------------------- */

/* The primitives through OpenSSL's EVP interface with their contexts made
 * once, as `openssl speed` does: the cost of the arithmetic, without the
 * per-call set-up the proto layer pays (that is part of the work measured
 * over HTTP, not of the bound). ECDH without the peer-key check. */
static omc_err hb_crypto(hb_worker *w, double t0)
{
	static const uint8_t msg[256] = {1};
	uint8_t dg[32], sig[80], sig2[80], z[32];
	size_t sl = sizeof sig;
	EVP_PKEY *k = EVP_EC_gen("P-256"), *peer = EVP_EC_gen("P-256");
	EVP_PKEY_CTX *sc = k ? EVP_PKEY_CTX_new(k, NULL) : NULL, *vc = k ? EVP_PKEY_CTX_new(k, NULL) : NULL;
	EVP_PKEY_CTX *dc = k ? EVP_PKEY_CTX_new(k, NULL) : NULL, *gc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	omc_err e = peer && sc && vc && dc && gc && EVP_Digest(msg, sizeof msg, dg, NULL, EVP_sha256(), NULL) == 1 &&
			    EVP_PKEY_sign_init(sc) == 1 && EVP_PKEY_sign(sc, sig, &sl, dg, sizeof dg) == 1 &&
			    EVP_PKEY_verify_init(vc) == 1 && EVP_PKEY_derive_init(dc) == 1 &&
			    EVP_PKEY_derive_set_peer_ex(dc, peer, 0) == 1 && EVP_PKEY_keygen_init(gc) == 1 &&
			    EVP_PKEY_CTX_set_group_name(gc, "P-256") == 1
		    ? OMC_OK
		    : OMC_ERR_CRYPTO;
	do {
		for (int i = 0; e == OMC_OK && i < 16; i++) {
			if (w->task == HB_SIGN) {
				size_t l = sizeof sig2;
				e = EVP_PKEY_sign(sc, sig2, &l, dg, sizeof dg) == 1 ? OMC_OK : OMC_ERR_CRYPTO;
			} else if (w->task == HB_VERIFY) {
				e = EVP_PKEY_verify(vc, sig, sl, dg, sizeof dg) == 1 ? OMC_OK : OMC_ERR_CRYPTO;
			} else if (w->task == HB_ECDH) {
				size_t zl = sizeof z;
				e = EVP_PKEY_derive(dc, z, &zl) == 1 && zl == 32 ? OMC_OK : OMC_ERR_CRYPTO;
			} else {
				EVP_PKEY *g = NULL;
				e = EVP_PKEY_keygen(gc, &g) == 1 ? OMC_OK : OMC_ERR_CRYPTO;
				EVP_PKEY_free(g);
			}
		}
		w->items += 16;
	} while (e == OMC_OK && bench_now() - t0 < w->seconds);
	omc_memzero(z, sizeof z);
	EVP_PKEY_CTX_free(sc);
	EVP_PKEY_CTX_free(vc);
	EVP_PKEY_CTX_free(dc);
	EVP_PKEY_CTX_free(gc);
	EVP_PKEY_free(k);
	EVP_PKEY_free(peer);
	return e == OMC_OK ? OMC_OK : hb_fail(w, e, "OpenSSL", 0, NULL);
}

static omc_err hb_engine(hb_worker *w)
{
	uint8_t k[16], opc[16];
	omc_aka_cred c = {.alg = OMC_AKA_ALG_MILENAGE};
	omc_err e = omc_rand_bytes(k, 16);
	if (e == OMC_OK)
		e = omc_rand_bytes(opc, 16);
	if (e == OMC_OK)
		e = omc_aka_milenage_init(&c.u.milenage, k, opc, NULL);
	double el = 0;
	if (e == OMC_OK && (w->items = engine_run(&c, w->seconds, &el)) == 0)
		e = OMC_ERR_BUG;
	omc_aka_cred_wipe(&c);
	omc_memzero(k, sizeof k);
	omc_memzero(opc, sizeof opc);
	return e == OMC_OK ? OMC_OK : hb_fail(w, e, "omc_aka_av_gen", 0, NULL);
}

static void *hb_main(void *arg)
{
	hb_worker *w = arg;
	hb_env *env = w->env;
	double t0 = bench_now();
	unsigned long i = 0;
	switch (w->task) {
	case HB_SETUP:
		for (size_t d = 0; d < HTTP_DEVS && w->err == OMC_OK; d++)
			(void)hb_dev_setup(w, &w->dev[d]);
		break;
	case HB_AVS:
		do {
			char imsi[16];
			/* An external deployment's AuC is not ours to fill: the
			 * devices' PCID subscribers instead. */
			if (env->external)
				snprintf(imsi, sizeof imsi, "%s", w->dev[i % HTTP_DEVS].pcid_imsi);
			else
				snprintf(imsi, sizeof imsi, "00101999%07lu", (w->id + i * HTTP_THREADS) % HTTP_SUBS);
			char *body = hb_dumps(json_pack("{s:s,s:I}", "imsi", imsi, "n", (json_int_t)w->batch));
			json_t *a = NULL;
			omc_err e = hb_signed(w, env->vno_key, env->vno_cert, "auc.ico", "/v1/vectors", body, 200, &a);
			omc_free(body);
			if (e == OMC_OK && json_array_size(json_object_get(a, "vectors")) != w->batch)
				hb_fail(w, OMC_ERR_BAD_FORMAT, "/v1/vectors", 0, NULL);
			json_decref(a); /* wiped on free: the vectors' CK and IK */
			w->items += w->batch;
			i++;
		} while (w->err == OMC_OK && bench_now() - t0 < w->seconds);
		break;
	case HB_VALIDATE:
		do {
			if (hb_validate(w, &w->dev[i++ % HTTP_DEVS]) == OMC_OK)
				w->items++;
		} while (w->err == OMC_OK && bench_now() - t0 < w->seconds);
		break;
	case HB_PACKAGE:
		do {
			hb_dev *d = &w->dev[i++ % HTTP_DEVS];
			if (hb_validate(w, d) == OMC_OK && hb_download(w, d) == OMC_OK)
				w->items++;
		} while (w->err == OMC_OK && bench_now() - t0 < w->seconds);
		break;
	case HB_INSTALL:
		/* Not timed: each device installs the last package it got, which
		 * proves the packages were real (a device installs an MCIM once). */
		for (size_t d = 0; d < HTTP_DEVS && w->err == OMC_OK; d++) {
			char *receipt = NULL;
			omc_err e = w->dev[d].package ? omc_tre_install(w->dev[d].t, w->dev[d].package,
									strlen(w->dev[d].package), &receipt)
						      : OMC_OK;
			omc_free(receipt);
			if (e != OMC_OK)
				hb_fail(w, e, "install of the package downloaded", 0, NULL);
			else if (w->dev[d].package)
				w->items++;
		}
		break;
	case HB_SIGN:
	case HB_VERIFY:
	case HB_ECDH:
	case HB_KEYGEN:
		(void)hb_crypto(w, t0);
		break;
	case HB_ENGINE:
		(void)hb_engine(w);
		break;
	}
	return NULL;
}

/* A rate, and how many cores the process kept busy meanwhile (its CPU time
 * over the wall time: what waits on fsync, locks or the network shows as
 * idle cores). */
typedef struct hb_rate {
	double per_s, cores;
} hb_rate;

static double cpu_seconds(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* Run task on every worker at once: items per second of wall time. */
static omc_err hb_phase(hb_worker *ws, hb_task task, size_t batch, double seconds, hb_rate *out, char *why,
			size_t why_cap)
{
	size_t started = 0;
	for (size_t i = 0; i < HTTP_THREADS; i++) {
		ws[i].task = task;
		ws[i].batch = batch;
		ws[i].seconds = seconds;
		ws[i].items = 0;
	}
	double c0 = cpu_seconds(), t0 = bench_now();
	while (started < HTTP_THREADS && pthread_create(&ws[started].th, NULL, hb_main, &ws[started]) == 0)
		started++;
	unsigned long items = 0;
	for (size_t i = 0; i < started; i++) {
		pthread_join(ws[i].th, NULL);
		items += ws[i].items;
	}
	double t = bench_now() - t0, cpu = cpu_seconds() - c0;
	if (started < HTTP_THREADS) {
		snprintf(why, why_cap, "cannot start a thread");
		return OMC_ERR_NOMEM;
	}
	for (size_t i = 0; i < HTTP_THREADS; i++)
		if (ws[i].err != OMC_OK) {
			snprintf(why, why_cap, "%s", ws[i].why);
			return ws[i].err;
		}
	out->per_s = t > 0 ? (double)items / t : 0;
	out->cores = t > 0 ? cpu / t : 0;
	return OMC_OK;
}

/* r: operations per second of wall time; per_cpu: per second of the
 * process's CPU time, which other load on the machine slows far less. */
static omc_err crypto_measure(crypto_rates *r, crypto_rates *per_cpu, double seconds, char *why, size_t why_cap)
{
	hb_worker ws[HTTP_THREADS];
	memset(ws, 0, sizeof ws);
	for (unsigned i = 0; i < HTTP_THREADS; i++)
		ws[i].id = i;
	static const hb_task tasks[] = {HB_SIGN, HB_VERIFY, HB_ECDH, HB_KEYGEN, HB_ENGINE};
	double *outs[] = {&r->sign, &r->verify, &r->ecdh, &r->keygen, &r->engine};
	double *cpus[] = {&per_cpu->sign, &per_cpu->verify, &per_cpu->ecdh, &per_cpu->keygen, &per_cpu->engine};
	for (size_t i = 0; i < OMC_ARRAY_LEN(tasks); i++) {
		hb_rate x = {0};
		OMC_TRY(hb_phase(ws, tasks[i], 0, seconds, &x, why, why_cap));
		*outs[i] = x.per_s;
		*cpus[i] = x.cores > 0 ? x.per_s / x.cores : 0;
	}
	return OMC_OK;
}

/* --- one HTTP run ------------------------------------------------------------------- */

typedef struct http_figs {
	bool done;
	char where[64]; /* the database's directory and file system */
	unsigned replicas;
	hb_rate avs1, avs32, validations, packages;
} http_figs;

static omc_err hb_read_token(hb_env *env)
{
	char path[FLEET_DIR_MAX + 32];
	snprintf(path, sizeof path, "%s/subscribers.json", env->dir);
	json_error_t je;
	json_t *t = json_load_file(path, 0, &je);
	const char *tok = json_string_value(json_object_get(json_object_get(t, "sho1"), "demo"));
	omc_err e = tok && strlen(tok) < sizeof env->token ? OMC_OK : OMC_ERR_BAD_FORMAT;
	if (e == OMC_OK)
		snprintf(env->token, sizeof env->token, "%s", tok);
	json_decref(t);
	return e;
}

/* The subscribers of the AV figures, straight into the ICO's AuC. */
static omc_err hb_add_subscribers(hb_env *env)
{
	char path[FLEET_DIR_MAX + 32];
	uint8_t master[32];
	snprintf(path, sizeof path, "%s/master.key", env->dir);
	FILE *f = fopen(path, "rb");
	omc_err e = f && fread(master, 1, sizeof master, f) == sizeof master ? OMC_OK : OMC_ERR_IO;
	if (f)
		fclose(f);
	omc_db *db = NULL;
	omc_auc *a = NULL;
	snprintf(path, sizeof path, "%s/openmcim.db", env->dir);
	if (e == OMC_OK)
		e = omc_db_open(&db, env->db ? env->db : path);
	if (e == OMC_OK)
		e = omc_auc_open(&a, db, "ico", master);
	omc_memzero(master, sizeof master);
	for (unsigned i = 0; e == OMC_OK && i < HTTP_SUBS; i++) {
		uint8_t k[16], opc[16];
		omc_aka_cred c = {.alg = OMC_AKA_ALG_MILENAGE};
		char imsi[16];
		snprintf(imsi, sizeof imsi, "00101999%07u", i);
		e = omc_rand_bytes(k, 16);
		if (e == OMC_OK)
			e = omc_rand_bytes(opc, 16);
		if (e == OMC_OK)
			e = omc_aka_milenage_init(&c.u.milenage, k, opc, NULL);
		if (e == OMC_OK)
			e = omc_auc_add(a, imsi, &c, OMC_AKA_IND_BITS_DEFAULT);
		omc_aka_cred_wipe(&c);
		omc_memzero(k, sizeof k);
		omc_memzero(opc, sizeof opc);
	}
	omc_auc_close(a);
	omc_db_close(db);
	return e;
}

static void fs_name(char *out, size_t cap, const char *dir)
{
	struct statfs sf;
	const char *t = "?";
	if (statfs(dir, &sf) == 0)
		t = sf.f_type == 0x01021994 ? "tmpfs" : "not tmpfs";
	snprintf(out, cap, "%s, %s", dir, t);
}

/* base: where the demo deployment is made and run in this process, on the
 * PostgreSQL database db when not NULL; o with server_dir: the external
 * deployment and its replicas instead (base and db unused). */
static omc_err http_run(http_figs *r, const char *base, const char *db, const bench_opts *o, char *why,
			 size_t why_cap)
{
	double seconds = o->seconds;
	hb_env env;
	memset(&env, 0, sizeof env);
	hb_worker ws[HTTP_THREADS];
	memset(ws, 0, sizeof ws);
	const char *step = "demo setup";
	omc_err e = OMC_OK;
	if (o->server_dir) {
		env.external = true;
		if (!fleet_server_attach(&env.ext, o->server_dir, o->maps, o->n_maps, why, why_cap))
			return OMC_ERR_BAD_ARG;
		snprintf(env.dir, sizeof env.dir, "%s", env.ext.dir);
		r->replicas = env.ext.n_replicas;
		snprintf(r->where, sizeof r->where, "the external deployment, %u replica%s", env.ext.n_replicas,
			 env.ext.n_replicas == 1 ? "" : "s");
	} else {
		snprintf(env.dir, sizeof env.dir, "%s/omc-bench-http-XXXXXX", base);
		if (!mkdtemp(env.dir)) {
			snprintf(why, why_cap, "cannot make a directory in %s", base);
			return OMC_ERR_IO;
		}
		if (db)
			snprintf(r->where, sizeof r->where, "PostgreSQL (--db)");
		else
			fs_name(r->where, sizeof r->where, base);
		env.db = db;
		e = omc_server_demo_setup_db(env.dir, db);
	}
	snprintf(env.pki, sizeof env.pki, "%s/pki", env.dir);
	snprintf(env.conf, sizeof env.conf, "%s/server.conf", env.dir);
	if (e == OMC_OK && (step = "subscribers.json", e = hb_read_token(&env)) == OMC_OK && !env.external)
		e = (step = "AuC subscribers", hb_add_subscribers(&env));
	if (e == OMC_OK)
		e = (step = "PKI", omc_pki_load(env.pki, "vno", &env.vno_key, &env.vno_cert));
	if (e == OMC_OK)
		e = omc_pki_load(env.pki, "m2mes", &env.m2mes_key, &env.m2mes_cert);
	if (e == OMC_OK && !env.external) {
		omc_server_opts so = {.config = env.conf};
		e = (step = "server start", omc_server_start(&env.srv, &so));
	}
	char *u = NULL;
	if (e == OMC_OK && !env.external && (e = omc_server_urls(env.srv, &u)) == OMC_OK) {
		json_error_t je;
		env.urls = json_loads(u, 0, &je);
		e = env.urls ? OMC_OK : OMC_ERR_BAD_FORMAT;
	}
	omc_free(u);
	if (e != OMC_OK)
		snprintf(why, why_cap, "%s: %s", step, omc_err_name(e));
	for (unsigned i = 0; e == OMC_OK && i < HTTP_THREADS; i++) {
		ws[i].env = &env;
		ws[i].id = i;
		omc_http_client_opts co = {.timeout_ms = 30000};
		if ((e = omc_http_client_new(&ws[i].http, &co)) != OMC_OK)
			snprintf(why, why_cap, "HTTP client: %s", omc_err_name(e));
	}
	hb_rate none;
	if (e == OMC_OK)
		e = hb_phase(ws, HB_SETUP, 0, 0, &none, why, why_cap);
	if (e == OMC_OK)
		e = hb_phase(ws, HB_AVS, 1, seconds, &r->avs1, why, why_cap);
	if (e == OMC_OK)
		e = hb_phase(ws, HB_AVS, OMC_AUC_BATCH_MAX, seconds, &r->avs32, why, why_cap);
	if (e == OMC_OK)
		e = hb_phase(ws, HB_VALIDATE, 0, seconds, &r->validations, why, why_cap);
	if (e == OMC_OK)
		e = hb_phase(ws, HB_PACKAGE, 0, seconds, &r->packages, why, why_cap);
	if (e == OMC_OK)
		e = hb_phase(ws, HB_INSTALL, 0, 0, &none, why, why_cap);
	omc_server_stop(env.srv);
	for (unsigned i = 0; i < HTTP_THREADS; i++) {
		for (size_t d = 0; d < HTTP_DEVS; d++)
			hb_dev_free(&ws[i].dev[d]);
		omc_http_client_free(ws[i].http);
	}
	json_decref(env.urls);
	omc_key_free(env.vno_key);
	omc_key_free(env.m2mes_key);
	omc_cert_free(env.vno_cert);
	omc_cert_free(env.m2mes_cert);
	omc_memzero(env.token, sizeof env.token);
	if (env.external)
		fleet_server_stop(&env.ext); /* the role maps only: the deployment is left alone */
	else if (rmrf(env.dir) != 0)
		fprintf(stderr, "openmcim bench server: could not remove %s\n", env.dir);
	r->done = e == OMC_OK;
	return e;
}

/* --- the report ---------------------------------------------------------------------- */

typedef struct http_bounds {
	double avs1, avs32, validation, validation_server, package, package_server;
	double package_cpu_ms; /* the package's P-256 work in CPU time */
} http_bounds;

/* CPU milliseconds of the process per package (0 against an external
 * deployment: its servers' CPU is not counted). */
static double package_cpu_ms(const http_figs *f)
{
	return !f->replicas && f->packages.per_s > 0 ? 1000 * f->packages.cores / f->packages.per_s : 0;
}

static void json_http(cli_json *j, const http_figs *f, const http_bounds *b, const char *sfx)
{
	const struct {
		const char *rate, *ratio, *cores;
		const hb_rate *v;
		double bound;
	} rows[] = {
		{"http_avs_per_s_batch1", "http_avs_batch1_ratio_to_crypto", "http_cores_busy_avs_batch1", &f->avs1,
		 b->avs1},
		{"http_avs_per_s_batch32", "http_avs_batch32_ratio_to_crypto", "http_cores_busy_avs_batch32", &f->avs32,
		 b->avs32},
		{"http_validations_per_s", "validation_ratio_to_crypto", "http_cores_busy_validations", &f->validations,
		 b->validation},
		{"http_packages_per_s", "package_ratio_to_crypto", "http_cores_busy_packages", &f->packages, b->package},
	};
	char k[64];
	for (size_t i = 0; i < OMC_ARRAY_LEN(rows); i++) {
		snprintf(k, sizeof k, "%s%s", rows[i].rate, sfx);
		cli_json_num(j, k, rows[i].v->per_s);
		snprintf(k, sizeof k, "%s%s", rows[i].ratio, sfx);
		cli_json_num(j, k, rows[i].v->per_s / rows[i].bound);
		snprintf(k, sizeof k, "%s%s", rows[i].cores, sfx);
		cli_json_num(j, k, rows[i].v->cores);
	}
	snprintf(k, sizeof k, "package_within_2x_of_crypto%s", sfx);
	cli_json_bool(j, k, f->packages.per_s * 2 >= b->package);
	double ms = package_cpu_ms(f);
	if (ms > 0) {
		snprintf(k, sizeof k, "package_cpu_ms%s", sfx);
		cli_json_num(j, k, ms);
		snprintf(k, sizeof k, "package_cpu_ratio_to_crypto%s", sfx);
		cli_json_num(j, k, b->package_cpu_ms / ms);
	}
}

static void print_ops(const char *what, const crypto_ops *all, const crypto_ops *srv)
{
	printf("  %-11s %u signatures, %u verifications, %u ECDH, %u key generations (server: %u, %u, %u, %u)\n", what,
	       all->sign, all->verify, all->ecdh, all->keygen, srv->sign, srv->verify, srv->ecdh, srv->keygen);
}

static void print_http(const http_figs *f, const http_bounds *b)
{
	if (f->replicas)
		printf("\nOver HTTP, %s (cores busy: this process only)\n", f->where);
	else
		printf("\nOver loopback HTTP, the database in %s\n", f->where);
	printf("%-34s %10s %12s %9s %11s\n", "measure", "per second", "crypto bound", "ratio", "cores busy");
	const struct {
		const char *name;
		const hb_rate *v;
		double bound;
	} rows[] = {
		{"AVs, batches of 1 (auc.ico)", &f->avs1, b->avs1},
		{"AVs, batches of 32 (auc.ico)", &f->avs32, b->avs32},
		{"validations (nonce, validate)", &f->validations, b->validation},
		{"packages (validate, download)", &f->packages, b->package},
	};
	for (size_t i = 0; i < OMC_ARRAY_LEN(rows); i++)
		printf("%-34s %10.1f %12.0f %9.4f %11.2f\n", rows[i].name, rows[i].v->per_s, rows[i].bound,
		       rows[i].v->per_s / rows[i].bound, rows[i].v->cores);
	double ms = package_cpu_ms(f);
	if (ms > 0)
		printf("CPU per package: %.3f ms, of which its P-256 work %.3f ms (%.4f)\n", ms, b->package_cpu_ms,
		       b->package_cpu_ms / ms);
}

int bench_server(const bench_opts *o)
{
	bench_pin();
	inproc ip = {0};
	omc_err e = inproc_run(&ip, o->seconds);
	if (e != OMC_OK) {
		fprintf(stderr, "openmcim bench server: %s\n", omc_err_str(e));
		return CLI_ERROR;
	}
	/* The rest runs on every core: the server's threads and the clients'. */
	bench_unpin();
	omc_proto_init(); /* jansson's allocations through omc_alloc, before any JSON */
	char why[256] = "";
	crypto_rates cr = {0}, cr_cpu = {0};
	http_figs disk = {0}, shm = {0}, pg = {0};
	e = crypto_measure(&cr, &cr_cpu, o->seconds, why, sizeof why);
	if (e == OMC_OK)
		e = http_run(&disk, "/tmp", NULL, o, why, sizeof why);
	/* The tmpfs and PostgreSQL runs make deployments of their own: not with an
	 * external one. */
	if (e == OMC_OK && !o->server_dir && access("/dev/shm", W_OK) == 0)
		e = http_run(&shm, "/dev/shm", NULL, o, why, sizeof why);
	if (e == OMC_OK && !o->server_dir && o->db)
		e = http_run(&pg, "/tmp", o->db, o, why, sizeof why);
	if (e != OMC_OK || !(cr.sign > 0 && cr.verify > 0 && cr.ecdh > 0 && cr.keygen > 0 && cr.engine > 0)) {
		fprintf(stderr, "openmcim bench server: over HTTP: %s\n", why[0] ? why : omc_err_str(OMC_ERR_BUG));
		return CLI_ERROR;
	}
	http_bounds b = {.avs1 = crypto_bound(&cr, &ops_av_request, 1),
			 .avs32 = OMC_AUC_BATCH_MAX * crypto_bound(&cr, &ops_av_request, OMC_AUC_BATCH_MAX),
			 .validation = crypto_bound(&cr, &ops_validation, 0),
			 .validation_server = crypto_bound(&cr, &ops_validation_server, 0),
			 .package = crypto_bound(&cr, &ops_package, 0),
			 .package_server = crypto_bound(&cr, &ops_package_server, 0)};
	bool cpu_ok = cr_cpu.sign > 0 && cr_cpu.verify > 0 && cr_cpu.ecdh > 0 && cr_cpu.keygen > 0 && cr_cpu.engine > 0;
	double cpu_bound = cpu_ok ? crypto_bound(&cr_cpu, &ops_package, 0) : 0;
	b.package_cpu_ms = cpu_bound > 0 ? 1000 / cpu_bound : 0;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (o->json) {
		cli_json j;
		cli_json_begin(&j, stdout);
		cli_json_u64(&j, "auc_avs_per_s_batch1", (uint64_t)ip.b1);
		cli_json_u64(&j, "auc_avs_per_s_batch32", (uint64_t)ip.b32);
		cli_json_u64(&j, "auc_commits_per_s_batch1", (uint64_t)ip.c1);
		cli_json_u64(&j, "engine_avs_per_s", (uint64_t)ip.eng);
		cli_json_num(&j, "auc_batch1_ratio_to_engine", ip.b1 / ip.eng);
		cli_json_num(&j, "auc_batch32_ratio_to_engine", ip.b32 / ip.eng);
		cli_json_u64(&j, "http_threads", HTTP_THREADS);
		cli_json_bool(&j, "http_server_external", o->server_dir != NULL);
		cli_json_u64(&j, "http_replicas", o->server_dir ? disk.replicas : 1);
		cli_json_u64(&j, "cpus", cpus > 0 ? (uint64_t)cpus : 0);
		cli_json_u64(&j, "crypto_ecdsa_signs_per_s", (uint64_t)cr.sign);
		cli_json_u64(&j, "crypto_ecdsa_verifies_per_s", (uint64_t)cr.verify);
		cli_json_u64(&j, "crypto_ecdh_per_s", (uint64_t)cr.ecdh);
		cli_json_u64(&j, "crypto_keygens_per_s", (uint64_t)cr.keygen);
		cli_json_u64(&j, "crypto_engine_avs_per_s", (uint64_t)cr.engine);
		cli_json_num(&j, "http_avs_batch1_crypto_bound_per_s", b.avs1);
		cli_json_num(&j, "http_avs_batch32_crypto_bound_per_s", b.avs32);
		cli_json_num(&j, "validation_crypto_bound_per_s", b.validation);
		cli_json_num(&j, "validation_server_crypto_bound_per_s", b.validation_server);
		cli_json_num(&j, "package_crypto_bound_per_s", b.package);
		cli_json_num(&j, "package_server_crypto_bound_per_s", b.package_server);
		cli_json_num(&j, "package_crypto_cpu_ms", b.package_cpu_ms);
		json_http(&j, &disk, &b, "");
		if (shm.done)
			json_http(&j, &shm, &b, "_tmpfs");
		if (pg.done)
			json_http(&j, &pg, &b, "_pg");
		cli_json_end(&j);
		return CLI_OK;
	}
	printf("openmcim bench server (%.2f s per figure)\n\n", o->seconds);
	printf("In process, one core: the AuC on SQLite in a temporary directory\n");
	printf("%-44s %12s   %s\n", "measure", "per second", "ratio to its bound");
	printf("%-44s %12.0f   (bound)\n", "MILENAGE vectors in memory (omc_aka_av_gen)", ip.eng);
	printf("%-44s %12.0f   %.4f of the engine (%.0f commits/s)\n", "AuC vectors, batches of 1", ip.b1, ip.b1 / ip.eng,
	       ip.c1);
	printf("%-44s %12.0f   %.4f of the engine\n", "AuC vectors, batches of 32", ip.b32, ip.b32 / ip.eng);
	printf("\nThe crypto bound: OpenSSL on %d threads (%ld CPUs online), contexts made once\n", HTTP_THREADS, cpus);
	printf("%-44s %12.0f\n", "P-256 ECDSA signatures", cr.sign);
	printf("%-44s %12.0f\n", "P-256 ECDSA verifications", cr.verify);
	printf("%-44s %12.0f\n", "P-256 ECDH", cr.ecdh);
	printf("%-44s %12.0f\n", "P-256 key generations", cr.keygen);
	printf("%-44s %12.0f\n", "MILENAGE vectors (omc_aka_av_gen)", cr.engine);
	if (o->server_dir)
		printf("\nThe deployment in %s (already running, requests round robin over\n"
		       "its replicas), %d client threads:\n",
		       o->server_dir, HTTP_THREADS);
	else
		printf("\nThe demo deployment of `openmcim server` in this process (every role on its\n"
		       "own listener, one database with group commit), %d client threads:\n",
		       HTTP_THREADS);
	print_http(&disk, &b);
	if (shm.done)
		print_http(&shm, &b);
	if (pg.done)
		print_http(&pg, &b);
	printf("\nP-256 work per operation (the device runs in this process: its share counts):\n");
	print_ops("validation", &ops_validation, &ops_validation_server);
	print_ops("package", &ops_package, &ops_package_server);
	print_ops("AV request", &ops_av_request, &ops_av_request);
	printf("The server's share alone bounds validations at %.0f/s and packages at %.0f/s.\n"
	       "A package is a validation and the DPF download (the SHO signs and seals the\n"
	       "MCIM, the DPF seals it to the TRE's session key); the device's install is\n"
	       "not timed (bench tre has it).\n",
	       b.validation_server, b.package_server);
	printf("Goal (issue 4), packages within 2x of the crypto bound: %s (%.4f of it)",
	       disk.packages.per_s * 2 >= b.package ? "met" : "not met", disk.packages.per_s / b.package);
	if (shm.done)
		printf("; on tmpfs: %s (%.4f)", shm.packages.per_s * 2 >= b.package ? "met" : "not met",
		       shm.packages.per_s / b.package);
	printf(".\n");
	return CLI_OK;
}
