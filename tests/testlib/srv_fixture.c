#include "srv_fixture.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <libpq-fe.h>

#include "server/server_internal.h"

static const omc_tre_caller agent_user = {.kind = OMC_ACTOR_USER, .name = "agent"};

static int64_t sf_clock(void *arg)
{
	sf_env *e = arg;
	return (int64_t)time(NULL) + e->now_offset;
}

void sf_start(sf_env *e)
{
	omc_server_opts o = {.config = e->conf, .now = sf_clock, .now_arg = e};
	omc_err er = omc_server_start(&e->srv, &o);
	if (er != OMC_OK)
		fail_msg("omc_server_start: %s at %s", omc_err_name(er), omc_err_source());
	char *u = NULL;
	assert_int_equal(omc_server_urls(e->srv, &u), OMC_OK);
	json_error_t je;
	json_decref(e->urls);
	e->urls = json_loads(u, 0, &je);
	omc_free(u);
	assert_non_null(e->urls);
}

void sf_fix_ports(sf_env *e)
{
	sf_stop(e);
	uint8_t *c = NULL;
	size_t len = 0;
	assert_int_equal(omc_read_file(e->conf, &c, &len, 1 << 20), OMC_OK);
	char *conf = omc_alloc(len + 1);
	assert_non_null(conf);
	memcpy(conf, c, len);
	conf[len] = 0;
	omc_free(c);
	char *at = strstr(conf, "\nport = 0\n");
	assert_non_null(at);
	/* A base the listeners can bind to now, kept across restarts: below
	 * the ephemeral range (tl_port_base), where the TIME_WAIT sockets of
	 * the sweeps' thousands of client connections hold ports. */
	for (unsigned i = 0; i < 20; i++) {
		unsigned base = tl_port_base(16);
		FILE *f = fopen(e->conf, "w");
		assert_non_null(f);
		fprintf(f, "%.*s\nport = %u\n%s", (int)(at - conf), conf, base, at + 10);
		assert_int_equal(fclose(f), 0);
		omc_server_opts o = {.config = e->conf, .now = sf_clock, .now_arg = e};
		if (omc_server_start(&e->srv, &o) == OMC_OK)
			break;
		e->srv = NULL;
	}
	omc_free(conf);
	assert_non_null(e->srv);
	sf_stop(e);
	sf_start(e);
}

void sf_stop(sf_env *e)
{
	omc_server_stop(e->srv);
	e->srv = NULL;
}

void sf_up_config(sf_env *e, uint8_t **base, size_t *base_len)
{
	sf_up(e);
	sf_stop(e);
	*base = NULL;
	*base_len = 0;
	assert_int_equal(omc_read_file(e->conf, base, base_len, 1 << 20), OMC_OK);
}

omc_err sf_try_config(sf_env *e, const uint8_t *base, size_t base_len, const char *text, omc_server **s)
{
	FILE *f = fopen(e->conf, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(base, 1, base_len, f), base_len);
	fprintf(f, "\n%s", text);
	assert_int_equal(fclose(f), 0);
	omc_server_opts o = {.config = e->conf};
	*s = NULL;
	return omc_server_start(s, &o);
}

void sf_restart_with(sf_env *e, const char *section, const char *lines)
{
	sf_stop(e);
	FILE *f = fopen(e->conf, "a");
	assert_non_null(f);
	fprintf(f, "\n[%s]\n%s", section, lines);
	assert_int_equal(fclose(f), 0);
	sf_start(e);
}

void sf_up(sf_env *e)
{
	sf_up_opts(e, false);
}

void sf_up_opts(sf_env *e, bool tls)
{
	memset(e, 0, sizeof *e);
	snprintf(e->dir, sizeof e->dir, "/tmp/omc-srv-XXXXXX");
	if (!mkdtemp(e->dir))
		fail_msg("mkdtemp");
	sf_db_new(e->db, sizeof e->db, e->dir);
	assert_int_equal(omc_server_demo_setup_db(e->dir, e->db), OMC_OK);
	snprintf(e->conf, sizeof e->conf, "%s/server.conf", e->dir);
	snprintf(e->pki, sizeof e->pki, "%s/pki", e->dir);
	char path[128];
	snprintf(path, sizeof path, "%s/subscribers.json", e->dir);
	json_error_t je;
	json_t *t = json_load_file(path, 0, &je);
	assert_non_null(t);
	snprintf(e->tokens[0], sizeof e->tokens[0], "%s",
		 json_string_value(json_object_get(json_object_get(t, "sho1"), "demo")));
	snprintf(e->tokens[1], sizeof e->tokens[1], "%s",
		 json_string_value(json_object_get(json_object_get(t, "sho2"), "demo")));
	json_decref(t);
	assert_int_equal(strlen(e->tokens[0]), 43);
	char ca[160];
	snprintf(ca, sizeof ca, "%s/tls-ca.crt", e->pki);
	if (tls) {
		FILE *f = fopen(e->conf, "r");
		assert_non_null(f);
		char buf[4096];
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = 0;
		char *p = strstr(buf, "tls = false");
		assert_non_null(p);
		memcpy(p, "tls = true ", 11);
		f = fopen(e->conf, "w");
		assert_non_null(f);
		assert_int_equal(fwrite(buf, 1, n, f), n);
		fclose(f);
	}
	omc_http_client_opts co = {.timeout_ms = 20000, .ca_file = tls ? ca : NULL};
	assert_int_equal(omc_http_client_new(&e->http, &co), OMC_OK);
	sf_start(e);
}

void sf_down(sf_env *e)
{
	sf_stop(e);
	json_decref(e->urls);
	omc_http_client_free(e->http);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", e->dir);
	sf_db_drop(e->db);
	memset(e, 0, sizeof *e);
}

const char *sf_url(sf_env *e, const char *role)
{
	const char *u = json_string_value(json_object_get(e->urls, role));
	if (!u)
		fail_msg("no role %s", role);
	return u;
}

sf_hooks sf_hook;
sf_sweep_state sf_sweep;
sf_sweep_check sf_check;

static int call_once(sf_env *e, const char *method, const char *role, const char *path, const char *auth,
		     const char *body, json_t **out)
{
	if (sf_hook.before)
		sf_hook.before(sf_hook.arg, e, method, role, path);
	char url[256];
	snprintf(url, sizeof url, "%s%s", sf_url(e, role), path);
	int st = 0;
	char *r = NULL;
	size_t rl = 0;
	omc_err er = omc_http_call_auth(e->http, method, url, auth, body, body ? strlen(body) : 0, &st, &r, &rl);
	if (er != OMC_OK)
		fail_msg("%s %s: %s", method, url, omc_err_name(er));
	if (sf_hook.answer)
		sf_hook.answer(sf_hook.arg, st, r, rl);
	if (out) {
		json_error_t je;
		*out = json_loadb(r, rl, 0, &je);
	}
	omc_free(r);
	return st;
}

static char *sign_as(sf_env *e, const char *who, const char *method, const char *path, const char *body)
{
	omc_key *k = NULL;
	omc_cert *c = NULL;
	assert_int_equal(omc_pki_load(e->pki, who, &k, &c), OMC_OK);
	char *auth = NULL;
	assert_int_equal(srv_sign_request(&auth, k, c, method, path, body, body ? strlen(body) : 0,
					  (int64_t)time(NULL) + e->now_offset),
			 OMC_OK);
	omc_key_free(k);
	omc_cert_free(c);
	return auth;
}

/* Copy a file whole (false: src is absent; dst then removed too). */
static bool copy_file(const char *src, const char *dst)
{
	FILE *in = fopen(src, "rb");
	if (!in) {
		unlink(dst);
		return false;
	}
	FILE *out = fopen(dst, "wb");
	assert_non_null(out);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
	return true;
}

/* The database and its WAL copied to (save) or put back from (!save) the
 * files named with suffix `kept` while no request is in flight: each
 * answer is durable before it leaves. */
static void db_files(sf_env *e, const char *kept_sfx, bool save)
{
	static const char *const ext[] = {"", "-wal"};
	for (size_t i = 0; i < 2; i++) {
		char live[sizeof e->db + 8], kept[sizeof e->db + 24];
		snprintf(live, sizeof live, "%s%s", e->db, ext[i]);
		snprintf(kept, sizeof kept, "%s%s%s", e->db, kept_sfx, ext[i]);
		if (save)
			copy_file(live, kept);
		else
			copy_file(kept, live);
	}
	if (!save) {
		char shm[sizeof e->db + 8];
		snprintf(shm, sizeof shm, "%s-shm", e->db);
		unlink(shm);
	}
}

/* The answers other than a success that the same call, made again after a
 * failure that came once a whole step had landed, may give, and why. A
 * retry not listed must succeed; any other answer fails the sweep.
 * idempotent: the step is done, and the answer says so (the story goes
 * on from the database as it is). Not idempotent (by design): the step
 * is done, and only a new one from the start goes on (a challenge is
 * answered once, a nonce spent once). */
typedef struct retry_rule {
	const char *role, *path; /* role: exact, or a prefix ending in '.' */
	int status;
	const char *code, *why;
	bool idempotent;
} retry_rule;

static const retry_rule retry_rules[] = {
	{"ccif", "/v1/reports", 409, "exists", "the report was taken: the PCID is known", true},
	{"vno", "/v1/attach/complete", 404, "unknown_attach",
	 "a challenge is answered once (TS 33.102 6.3.3): the device attaches again", false},
	{"pva", "/v1/validate", 409, "nonce_used", "a PVA nonce is spent once: the device asks for a new one", false},
	{"dpf", "/v1/download", 409, "token_replayed",
	 "a validation token is good for one download: the device validates again for a new one", false},
	{"vno", "/v1/attach/resync", 404, "unknown_attach",
	 "an AUTS ends its challenge (TS 33.102 6.3.5): the device attaches again", false},
	{"bootstrap", "/v1/pcids/renew", 409, "nonce_used",
	 "an ICO nonce is spent once: the agent asks for a new one (CHG-4)", false},
	{"pva", "/v1/recovery", 409, "nonce_used",
	 "a recovery nonce is spent once: the maintainer asks for a new one, the TRE attests over it", false},
	{"dpf", "/v1/results", 404, "unknown_command",
	 "the result was taken: no open command has that id now, which the agent takes as taken before", true},
};

static const retry_rule *retry_rule_of(const char *role, const char *path, int status, const char *code)
{
	for (size_t i = 0; i < sizeof retry_rules / sizeof retry_rules[0]; i++) {
		const retry_rule *r = &retry_rules[i];
		size_t rl = strlen(r->role);
		bool role_ok = r->role[rl - 1] == '.' ? !strncmp(role, r->role, rl) : !strcmp(role, r->role);
		if (role_ok && !strcmp(path, r->path) && status == r->status && !strcmp(code, r->code))
			return r;
	}
	return NULL;
}

/* One call, or under sf_sweep the sweep of it: who (NULL: auth as given)
 * signs each attempt afresh, since a request's jti is good once. */
static int call(sf_env *e, const char *who, const char *method, const char *role, const char *path,
		const char *auth, const char *body, json_t **out)
{
	if (!sf_sweep.on) {
		char *a = who ? sign_as(e, who, method, path, body) : NULL;
		int st = call_once(e, method, role, path, a ? a : auth, body, out);
		omc_free(a);
		return st;
	}
	uint8_t before[32], after[32];
	sf_db_digest(e, before);
	db_files(e, ".sweep", true);
	sf_sweep.calls++;
	json_t *kept = NULL; /* the answer of the last landed step's retry that succeeded */
	int kept_st = 0;
	for (unsigned long i = 1;; i++) {
		char *a = who ? sign_as(e, who, method, path, body) : NULL;
		json_t *o = NULL;
		unsigned long n0 = omc_test_alloc_shared_count();
		omc_test_alloc_shared_fail_at(i);
		int st = call_once(e, method, role, path, a ? a : auth, body, &o);
		omc_test_alloc_shared_fail_at(0);
		unsigned long made = omc_test_alloc_shared_count() - n0;
		omc_free(a);
		if (made < i) { /* nothing failed: the answer */
			if (kept && kept_st == st) {
				/* The story goes on from where the last landed
				 * failure and its retry left the database, with
				 * the retry's answer. */
				json_decref(o);
				o = kept;
				kept = NULL;
				sf_stop(e);
				db_files(e, ".retry", false);
				sf_start(e);
				sf_sweep.went_on++;
			}
			json_decref(kept);
			if (out)
				*out = o;
			else
				json_decref(o);
			return st;
		}
		sf_sweep.failures++;
		sf_sweep.by_status[st / 100 % 6]++;
		char code[48];
		snprintf(code, sizeof code, "%s", sf_code(o));
		/* A refusal made while memory ran out would be a false verdict;
		 * a success is fine when the handler did without what it could
		 * not get (an anchor it did not need, say), and did the whole
		 * step (sf_check). */
		if (st >= 400 && st < 500)
			fail_msg("%s %s %s: allocation %lu of %lu failed, and the answer is %d %s, want a 5xx", method,
				 role, path, i, made, st, code);
		if (st < 400) {
			sf_sweep.absorbed++;
			if (sf_check.fn)
				sf_check.fn(sf_check.arg, e, method, role, path, st, o);
		}
		json_decref(o);
		sf_db_digest(e, after);
		if (memcmp(before, after, 32) != 0) {
			/* A whole step landed before the failure (a peer's commit
			 * before the caller failed, or a commit whose answer was
			 * lost, like a power cut after it), or the call did without
			 * the allocation and succeeded: the server is restarted
			 * on the database as it was before the call, and the sweep
			 * goes on from the next allocation. */
			if (st >= 500) {
				/* The same call made again from there, as a
				 * client's retry after a lost answer: it goes
				 * through (its state kept for the story to go on
				 * from), or gives an answer retry_rules lists. */
				sf_sweep.landed++;
				char *ra = who ? sign_as(e, who, method, path, body) : NULL;
				json_t *ro = NULL;
				int rst = call_once(e, method, role, path, ra ? ra : auth, body, &ro);
				omc_free(ra);
				if (rst >= 200 && rst < 300) {
					sf_sweep.retry_ok++;
					if (sf_check.fn)
						sf_check.fn(sf_check.arg, e, method, role, path, rst, ro);
					db_files(e, ".retry", true);
					json_decref(kept);
					kept = ro;
					kept_st = rst;
					ro = NULL;
				} else {
					const retry_rule *r = retry_rule_of(role, path, rst, sf_code(ro));
					if (!r)
						fail_msg("%s %s %s: allocation %lu of %lu failed after a whole step landed, "
							 "and the same call again answers %d %s: neither a success nor an "
							 "answer listed in retry_rules",
							 method, role, path, i, made, rst, sf_code(ro));
					if (r->idempotent)
						sf_sweep.retry_idempotent++;
					else
						sf_sweep.retry_by_design++;
					static const retry_rule *last;
					if (r != last)
						print_message("after a landed step, the same call again: %s %s %s: %d %s (%s)\n",
							      method, role, path, rst, r->code, r->why);
					last = r;
				}
				json_decref(ro);
			}
			sf_stop(e);
			db_files(e, ".sweep", false);
			sf_start(e);
			sf_db_digest(e, after);
			assert_memory_equal(before, after, 32);
		}
	}
}

void sf_sweep_report(const char *what, const sf_sweep_state *b)
{
	print_message("%s: %lu calls, %lu allocation failures injected (%lu succeeded without it; %lu landed: retry ok "
		      "%lu, idempotent %lu, by design %lu; went on from a retry %lu)\n",
		      what, sf_sweep.calls - b->calls, sf_sweep.failures - b->failures, sf_sweep.absorbed - b->absorbed,
		      sf_sweep.landed - b->landed,
		      sf_sweep.retry_ok - b->retry_ok, sf_sweep.retry_idempotent - b->retry_idempotent,
		      sf_sweep.retry_by_design - b->retry_by_design, sf_sweep.went_on - b->went_on);
}

int sf_call(sf_env *e, const char *method, const char *role, const char *path, const char *auth, const char *body,
	    json_t **out)
{
	return call(e, NULL, method, role, path, auth, body, out);
}

int sf_signed(sf_env *e, const char *who, const char *method, const char *role, const char *path, const char *body,
	      json_t **out)
{
	return call(e, who, method, role, path, NULL, body, out);
}

int sf_bearer(sf_env *e, const char *token, const char *method, const char *role, const char *path,
	      const char *body, json_t **out)
{
	char auth[256];
	snprintf(auth, sizeof auth, "Bearer %s", token);
	return sf_call(e, method, role, path, auth, body, out);
}

const char *sf_code(json_t *o)
{
	const char *c = json_string_value(json_object_get(o, "error"));
	return c ? c : "";
}

/* --- devices --------------------------------------------------------------------------- */

void sf_dev_make(sf_env *e, sf_dev *d, const char *pcid_json)
{
	memset(d, 0, sizeof *d);
	assert_int_equal(omc_memfs_new(&d->fs), OMC_OK);
	assert_int_equal(omc_store_io_mem_new(&d->io, d->fs, "dev/"), OMC_OK);
	assert_int_equal(omc_store_io_mem_new(&d->store_io, d->fs, "dev/store/"), OMC_OK);
	omc_factory_device_opts o = {.pki_dir = e->pki,
				     .io = d->io,
				     .store_io = d->store_io,
				     .pcid_json = pcid_json,
				     .pcid_json_len = pcid_json ? strlen(pcid_json) : 0};
	char *rep = NULL;
	omc_err er = omc_factory_device(&o, &rep);
	if (er != OMC_OK)
		fail_msg("factory device: %s at %s", omc_err_name(er), omc_err_source());
	json_error_t je;
	json_t *j = json_loads(rep, 0, &je);
	assert_non_null(j);
	snprintf(d->tre_id, sizeof d->tre_id, "%s", json_string_value(json_object_get(j, "tre_id")));
	snprintf(d->platform_id, sizeof d->platform_id, "%s", json_string_value(json_object_get(j, "platform_id")));
	snprintf(d->pcid_imsi, sizeof d->pcid_imsi, "%s", json_string_value(json_object_get(j, "pcid_imsi")));
	snprintf(d->report, sizeof d->report, "%s", json_string_value(json_object_get(j, "pcid_report")));
	json_decref(j);
	omc_free(rep);
	sf_dev_reboot(d);
}

void sf_dev_reboot(sf_dev *d)
{
	omc_tre_close(d->t);
	omc_tre_opts o = {.io = d->io, .store_io = d->store_io, .count_boot = true};
	omc_err er = omc_tre_open(&d->t, &o);
	if (er != OMC_OK)
		fail_msg("omc_tre_open: %s", omc_err_name(er));
}

void sf_dev_free(sf_dev *d)
{
	omc_tre_close(d->t);
	omc_free(d->evidence);
	omc_store_io_mem_free(d->io);
	omc_store_io_mem_free(d->store_io);
	omc_memfs_free(d->fs);
	memset(d, 0, sizeof *d);
}

int sf_report_pcid(sf_env *e, sf_dev *d)
{
	json_t *b = json_pack("{s:s}", "report", d->report);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	json_t *out = NULL;
	int st = sf_signed(e, "m2mes", "POST", "ccif", "/v1/reports", s, &out);
	omc_free(s);
	json_decref(out);
	return st;
}

int sf_subscribe(sf_env *e, sf_dev *d, int sho)
{
	char body[128], role[16];
	snprintf(body, sizeof body, "{\"platform_id\":\"%s\"}", d->platform_id);
	snprintf(role, sizeof role, "sho.sho%d", sho);
	json_t *o = NULL;
	int st = sf_bearer(e, e->tokens[sho - 1], "POST", role, "/v1/devices", body, &o);
	const char *code = json_string_value(json_object_get(o, "transfer_code"));
	if (code)
		snprintf(d->transfer_code, sizeof d->transfer_code, "%s", code);
	json_decref(o);
	return st;
}

int sf_attach(sf_env *e, sf_dev *d, const char *mcim_id)
{
	omc_tre_mcim_info reg[16];
	size_t n = 0;
	assert_int_equal(omc_tre_registry(d->t, reg, 16, &n), OMC_OK);
	const char *id = mcim_id ? mcim_id : "pcid", *imsi = NULL;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(reg[i].id, id))
			imsi = reg[i].imsi;
	assert_non_null(imsi);
	for (int round = 0; round < 2; round++) {
		char body[64];
		snprintf(body, sizeof body, "{\"imsi\":\"%s\"}", imsi);
		json_t *a = NULL;
		int st = sf_call(e, "POST", "vno", "/v1/attach", NULL, body, &a);
		if (st != 200) {
			json_decref(a);
			return st;
		}
		const char *att = json_string_value(json_object_get(a, "attach"));
		const char *rh = json_string_value(json_object_get(a, "rand"));
		const char *ah = json_string_value(json_object_get(a, "autn"));
		uint8_t rand[16], autn[OMC_AKA_MAX_AUTN_LEN];
		size_t al = 0;
		assert_int_equal(omc_hex_decode(rand, 16, rh, strlen(rh)), OMC_OK);
		assert_int_equal(omc_hex_decode_var(autn, sizeof autn, &al, ah, strlen(ah)), OMC_OK);
		omc_aka_check_result r;
		assert_int_equal(omc_tre_aka(d->t, &agent_user, id, rand, autn, al, &r), OMC_OK);
		char hex[80];
		json_t *resp = NULL;
		if (r.status == OMC_AKA_STATUS_SYNC_FAILURE) {
			assert_int_equal(omc_hex_encode(hex, sizeof hex, r.auts, r.auts_len), OMC_OK);
			char b2[256];
			snprintf(b2, sizeof b2, "{\"attach\":\"%s\",\"auts\":\"%s\"}", att, hex);
			json_decref(a);
			st = sf_call(e, "POST", "vno", "/v1/attach/resync", NULL, b2, &resp);
			json_decref(resp);
			if (st != 200)
				return st;
			continue;
		}
		assert_int_equal(r.status, OMC_AKA_STATUS_OK);
		assert_int_equal(omc_hex_encode(hex, sizeof hex, r.res, r.res_len), OMC_OK);
		char b2[256];
		snprintf(b2, sizeof b2, "{\"attach\":\"%s\",\"res\":\"%s\"}", att, hex);
		json_decref(a);
		st = sf_call(e, "POST", "vno", "/v1/attach/complete", NULL, b2, &resp);
		if (st == 200)
			snprintf(d->session, sizeof d->session, "%s",
				 json_string_value(json_object_get(resp, "session")));
		json_decref(resp);
		return st;
	}
	return 0;
}

int sf_register(sf_env *e, sf_dev *d, json_t **out)
{
	int64_t t = (int64_t)time(NULL) + e->now_offset;
	uint8_t nonce[32];
	assert_int_equal(omc_drf_nonce(nonce, d->pcid_imsi, t), OMC_OK);
	char *ev = NULL;
	assert_int_equal(omc_tre_attest(d->t, nonce, 32, &ev), OMC_OK);
	json_t *b = json_pack("{s:s,s:I}", "evidence", ev, "time", (json_int_t)t);
	omc_free(ev);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	int st = sf_bearer(e, d->session, "POST", "drf", "/v1/register", s, out);
	omc_free(s);
	return st;
}

int sf_validate(sf_env *e, sf_dev *d)
{
	json_t *a = NULL;
	int st = sf_bearer(e, d->session, "POST", "pva", "/v1/nonce", "{}", &a);
	if (st != 201) {
		json_decref(a);
		return st;
	}
	const char *nb = json_string_value(json_object_get(a, "nonce"));
	uint8_t n[64];
	size_t nl = 0;
	assert_int_equal(omc_b64_decode(n, sizeof n, &nl, nb, strlen(nb), OMC_B64_URL), OMC_OK);
	json_decref(a);
	omc_free(d->evidence);
	d->evidence = NULL;
	assert_int_equal(omc_tre_session_begin(d->t, n, nl, &d->evidence), OMC_OK);
	json_t *b = json_pack("{s:s}", "evidence", d->evidence);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	st = sf_bearer(e, d->session, "POST", "pva", "/v1/validate", s, &a);
	omc_free(s);
	if (st == 200)
		snprintf(d->token, sizeof d->token, "%s", json_string_value(json_object_get(a, "token")));
	json_decref(a);
	return st;
}

int sf_download(sf_env *e, sf_dev *d, char **receipt)
{
	json_t *b = json_pack("{s:s,s:s}", "token", d->token, "evidence", d->evidence);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	json_t *a = NULL;
	int st = sf_bearer(e, d->session, "POST", "dpf", "/v1/download", s, &a);
	omc_free(s);
	if (st != 200) {
		json_decref(a);
		return st;
	}
	const char *pkg = json_string_value(json_object_get(a, "package"));
	snprintf(d->mcim_id, sizeof d->mcim_id, "%s", json_string_value(json_object_get(a, "mcim")));
	omc_err er = omc_tre_install(d->t, pkg, strlen(pkg), receipt);
	json_decref(a);
	if (er != OMC_OK)
		fail_msg("install: %s at %s", omc_err_name(er), omc_err_source());
	omc_tre_mcim_info reg[16];
	size_t n = 0;
	assert_int_equal(omc_tre_registry(d->t, reg, 16, &n), OMC_OK);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(reg[i].id, d->mcim_id))
			snprintf(d->mcim_imsi, sizeof d->mcim_imsi, "%s", reg[i].imsi);
	return st;
}

int sf_send_receipt(sf_env *e, sf_dev *d, const char *receipt)
{
	json_t *b = json_pack("{s:s}", "receipt", receipt);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	int st = sf_bearer(e, d->session, "POST", "dpf", "/v1/receipts", s, NULL);
	omc_free(s);
	return st;
}

void sf_provision(sf_env *e, sf_dev *d, int sho)
{
	assert_int_equal(sf_subscribe(e, d, sho), 201);
	assert_int_equal(sf_report_pcid(e, d), 201);
	assert_int_equal(sf_attach(e, d, NULL), 200);
	json_t *r = NULL;
	assert_int_equal(sf_register(e, d, &r), 200);
	char want[8];
	snprintf(want, sizeof want, "sho%d", sho);
	assert_string_equal(json_string_value(json_object_get(r, "sho")), want);
	json_decref(r);
	assert_int_equal(sf_validate(e, d), 200);
	char *receipt = NULL;
	assert_int_equal(sf_download(e, d, &receipt), 200);
	assert_int_equal(sf_send_receipt(e, d, receipt), 200);
	omc_free(receipt);
	assert_int_equal(sf_attach(e, d, d->mcim_id), 200);
}

/* --- the database -------------------------------------------------------------------------- */

/* OMC_TEST_PG=DIR (the *_pg entries of ctest): every deployment on a
 * database of its own in the PostgreSQL cluster of scripts/pg/cluster.sh
 * in DIR (its socket's directory in DIR/host), made here and dropped by
 * sf_down. */
static bool pg_host(char *out, size_t cap)
{
	const char *dir = getenv("OMC_TEST_PG");
	if (!dir || !dir[0])
		return false;
	char path[256];
	snprintf(path, sizeof path, "%s/host", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("OMC_TEST_PG=%s: no cluster there (scripts/pg/cluster.sh start %s)", dir, dir);
	bool ok = fgets(out, (int)cap, f) != NULL;
	fclose(f);
	out[strcspn(out, "\n")] = 0;
	if (!ok || !out[0])
		fail_msg("%s: empty", path);
	return true;
}

static void pg_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static void pg_admin(const char *host, const char *sql)
{
	char url[256];
	snprintf(url, sizeof url, "postgresql:///postgres?host=%s&user=omc", host);
	PGconn *c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("%s: %s", url, PQerrorMessage(c));
	PQsetNoticeProcessor(c, pg_quiet, NULL);
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

bool sf_pg(void)
{
	const char *dir = getenv("OMC_TEST_PG");
	return dir && dir[0];
}

bool sf_db_new(char *db, size_t cap, const char *dir)
{
	char host[200];
	if (!pg_host(host, sizeof host)) {
		snprintf(db, cap, "%s/openmcim.db", dir);
		return false;
	}
	static unsigned seq;
	char name[64], sql[160];
	snprintf(name, sizeof name, "omc_t_%ld_%u", (long)getpid(), ++seq);
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
	pg_admin(host, sql);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
	pg_admin(host, sql);
	int n = snprintf(db, cap, "postgresql:///%s?host=%s&user=omc", name, host);
	assert_true(n > 0 && (size_t)n < cap);
	return true;
}

void sf_db_drop(const char *db)
{
	char host[200];
	if (!omc_db_is_pg(db) || !pg_host(host, sizeof host))
		return;
	const char *name = db + strlen("postgresql:///");
	char sql[160];
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %.*s WITH (FORCE)", (int)strcspn(name, "?"), name);
	pg_admin(host, sql);
}

static int cmp32(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* SHA-256 of every row of a table, in no order: the rows' own hashes
 * sorted (rows that tie on ORDER BY come in any order, and PostgreSQL moves
 * a row it updates, with the same values too). */
static void table_digest(omc_db *db, const char *table, uint8_t out[32])
{
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT * FROM %s", table);
	omc_dbs *q = NULL;
	assert_int_equal(omc_db_prepare(db, sql, &q), OMC_DB_OK);
	size_t n = 0, cap = 64;
	uint8_t(*rows)[32] = malloc(cap * 32);
	assert_non_null(rows);
	int rc;
	while ((rc = omc_dbs_step(q)) == OMC_DB_ROW) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		assert_non_null(md);
		assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
		for (int c = 0; c < omc_dbs_column_count(q); c++) {
			const void *p = omc_dbs_column_blob(q, c);
			int len = omc_dbs_column_bytes(q, c);
			EVP_DigestUpdate(md, &len, sizeof len);
			if (p)
				EVP_DigestUpdate(md, p, (size_t)len);
		}
		if (n == cap) {
			cap *= 2;
			rows = realloc(rows, cap * 32);
			assert_non_null(rows);
		}
		unsigned l = 0;
		assert_int_equal(EVP_DigestFinal_ex(md, rows[n++], &l), 1);
		EVP_MD_CTX_free(md);
	}
	assert_int_equal(rc, OMC_DB_DONE);
	omc_dbs_finalize(q);
	qsort(rows, n, 32, cmp32);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	EVP_DigestUpdate(md, sql, strlen(sql));
	if (n)
		EVP_DigestUpdate(md, rows, n * 32);
	unsigned l = 0;
	assert_int_equal(EVP_DigestFinal_ex(md, out, &l), 1);
	EVP_MD_CTX_free(md);
	free(rows);
}

size_t sf_db_tables(sf_env *e, char (*names)[40], uint8_t (*h)[32], size_t max)
{
	omc_db *db = NULL;
	assert_int_equal(omc_db_open(&db, e->db), OMC_OK);
	omc_dbs *t = NULL;
	assert_int_equal(omc_db_prepare(db,
					omc_db_is_pg(e->db)
						? "SELECT table_name FROM information_schema.tables WHERE table_schema ="
						  " 'public' AND table_name NOT IN ('audit', 'req_jti', 'omc_schema',"
						  " 'omc_sync') ORDER BY 1"
						: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN"
						  " ('audit', 'req_jti') ORDER BY name",
					&t),
			 OMC_DB_OK);
	size_t n = 0;
	while (n < max && omc_dbs_step(t) == OMC_DB_ROW) {
		snprintf(names[n], sizeof names[n], "%s", (const char *)omc_dbs_column_text(t, 0));
		table_digest(db, names[n], h[n]);
		n++;
	}
	omc_dbs_finalize(t);
	omc_db_close(db);
	return n;
}

void sf_db_digest(sf_env *e, uint8_t out[32])
{
	static char names[64][40];
	static uint8_t h[64][32];
	size_t n = sf_db_tables(e, names, h, 64);
	assert_true(n > 0 && n < 64);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	for (size_t i = 0; i < n; i++) {
		EVP_DigestUpdate(md, names[i], strlen(names[i]));
		EVP_DigestUpdate(md, h[i], 32);
	}
	unsigned l = 0;
	assert_int_equal(EVP_DigestFinal_ex(md, out, &l), 1);
	EVP_MD_CTX_free(md);
}

void sf_db_text(sf_env *e, char *out, size_t cap, const char *sql, const char *arg)
{
	omc_db *db = NULL;
	assert_int_equal(omc_db_open(&db, e->db), OMC_OK);
	omc_dbs *q = NULL;
	if (omc_db_prepare(db, sql, &q) != OMC_DB_OK)
		fail_msg("%s: %s", sql, omc_db_errmsg(db));
	if (arg)
		omc_dbs_bind_text(q, 1, arg, -1);
	out[0] = 0;
	int rc = omc_dbs_step(q);
	if (rc != OMC_DB_ROW && rc != OMC_DB_DONE)
		fail_msg("%s: %s", sql, omc_db_errmsg(db));
	if (rc == OMC_DB_ROW && omc_dbs_column_text(q, 0))
		snprintf(out, cap, "%s", (const char *)omc_dbs_column_text(q, 0));
	omc_dbs_finalize(q);
	omc_db_close(db);
}

void sf_db_exec(sf_env *e, const char *sql)
{
	omc_db *db = NULL;
	assert_int_equal(omc_db_open(&db, e->db), OMC_OK);
	assert_int_equal(omc_db_exec(db, sql), OMC_OK);
	omc_db_close(db);
}

long sf_db_count(sf_env *e, const char *sql)
{
	char n[32];
	sf_db_text(e, n, sizeof n, sql, NULL);
	return n[0] ? strtol(n, NULL, 10) : -1;
}

void sf_agent_make(sf_agent *ae, sf_env *e, sf_dev *d)
{
	sf_agent_make_with(ae, e, d, NULL);
}

void sf_agent_make_with(sf_agent *ae, sf_env *e, sf_dev *d, void (*edit)(omc_agent_tre *ops))
{
	omc_agent_opts o = {.io = d->io,
			    .state_path = "agent.state",
			    .vno_url = sf_url(e, "vno"),
			    .bootstrap_url = sf_url(e, "bootstrap"),
			    .backoff_min_ms = 2,
			    .backoff_max_ms = 20,
			    .poll_ms = 20,
			    .seed = 11};
	snprintf(ae->ca, sizeof ae->ca, "%s/ico-ca.crt", e->pki);
	o.bootstrap_ca = ae->ca;
	omc_agent_tre_local(&o.tre, &ae->local, d->t, "agent");
	if (edit)
		edit(&o.tre);
	assert_int_equal(omc_agent_new(&ae->a, &o), OMC_OK);
}

void sf_agent_drop(sf_agent *ae)
{
	omc_agent_free(ae->a);
	ae->a = NULL;
}

omc_agent_info sf_agent_run(sf_agent *ae, omc_agent_state want)
{
	omc_agent_info in;
	omc_err e = omc_agent_run(ae->a, 30000);
	omc_agent_info_get(ae->a, &in);
	if (e != OMC_OK || in.state != want)
		fail_msg("agent in %s (%s), wanted %s: %s", omc_agent_state_name(in.state), omc_err_name(e),
			 omc_agent_state_name(want), in.last_error);
	return in;
}

/* --- more of the story: commands, recovery, resynchronisation ------------------------------- */

json_int_t sf_sho_command(sf_env *e, int sho, sf_dev *d, const char *cmd, const char *update, int want)
{
	char body[256], role[16];
	if (update)
		snprintf(body, sizeof body, "{\"platform_id\":\"%s\",\"cmd\":\"%s\",\"update\":%s}", d->platform_id, cmd,
			 update);
	else
		snprintf(body, sizeof body, "{\"platform_id\":\"%s\",\"cmd\":\"%s\"}", d->platform_id, cmd);
	snprintf(role, sizeof role, "sho.sho%d", sho);
	json_t *o = NULL;
	int st = sf_bearer(e, e->tokens[sho - 1], "POST", role, "/v1/commands", body, &o);
	if (st != want)
		fail_msg("%s: %d %s", cmd, st, sf_code(o));
	json_int_t id = json_integer_value(json_object_get(o, "id"));
	json_decref(o);
	return id;
}

size_t sf_dev_commands(sf_env *e, sf_dev *d, char (*names)[24], size_t max)
{
	json_t *o = NULL;
	assert_int_equal(sf_bearer(e, d->session, "GET", "dpf", "/v1/commands", NULL, &o), 200);
	json_t *cmds = json_object_get(o, "commands");
	size_t n = json_array_size(cmds);
	for (size_t i = 0; i < n; i++) {
		json_t *c = json_array_get(cmds, i);
		json_int_t id = json_integer_value(json_object_get(c, "id"));
		const char *cmd = json_string_value(json_object_get(c, "command"));
		assert_non_null(cmd);
		if (names && i < max) {
			uint8_t *p = NULL;
			size_t pl = 0;
			assert_int_equal(omc_jws_peek(&p, &pl, cmd, strlen(cmd)), OMC_OK);
			json_t *cl = json_loadb((const char *)p, pl, 0, NULL);
			omc_free(p);
			snprintf(names[i], sizeof names[i], "%s", json_string_value(json_object_get(cl, "cmd")));
			json_decref(cl);
		}
		char *result = NULL;
		bool applied = false;
		assert_int_equal(omc_tre_command(d->t, cmd, strlen(cmd), &result, &applied), OMC_OK);
		json_t *r = json_pack("{s:I,s:s}", "id", id, "result", result);
		char *rb = json_dumps(r, JSON_COMPACT);
		json_decref(r);
		int st = sf_bearer(e, d->session, "POST", "dpf", "/v1/results", rb, NULL);
		if (st != 200)
			fail_msg("dpf POST /v1/results of command %lld: %d", (long long)id, st);
		omc_free(rb);
		omc_free(result);
	}
	json_decref(o);
	return n;
}

void sf_recovery_nonce(sf_env *e, uint8_t n[32])
{
	json_t *o = NULL;
	assert_int_equal(sf_signed(e, "ro", "POST", "pva", "/v1/recovery/nonce", "{}", &o), 201);
	const char *nb = json_string_value(json_object_get(o, "nonce"));
	size_t nl = 0;
	assert_int_equal(omc_b64_decode(n, 32, &nl, nb, strlen(nb), OMC_B64_URL), OMC_OK);
	assert_int_equal(nl, 32);
	json_decref(o);
}

int sf_recovery(sf_env *e, const char *report, const char *evidence, char **auth, json_t **out)
{
	json_t *b = json_pack("{s:s,s:s}", "report", report, "evidence", evidence);
	char *bs = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	json_t *o = NULL;
	int st = sf_signed(e, "ro", "POST", "pva", "/v1/recovery", bs, &o);
	omc_free(bs);
	if (auth) {
		*auth = NULL;
		const char *a = json_string_value(json_object_get(o, "authorisation"));
		if (a) {
			*auth = omc_alloc(strlen(a) + 1);
			assert_non_null(*auth);
			memcpy(*auth, a, strlen(a) + 1);
		}
	}
	if (out)
		*out = o;
	else
		json_decref(o);
	return st;
}

void sf_challenge(sf_env *e, const char *imsi, char id[64], uint8_t rand[16], uint8_t autn[16])
{
	char b[64];
	snprintf(b, sizeof b, "{\"imsi\":\"%s\"}", imsi);
	json_t *a = NULL;
	int st = sf_call(e, "POST", "vno", "/v1/attach", NULL, b, &a);
	if (st != 200)
		fail_msg("vno POST /v1/attach: %d %s", st, sf_code(a));
	snprintf(id, 64, "%s", json_string_value(json_object_get(a, "attach")));
	const char *rh = json_string_value(json_object_get(a, "rand"));
	const char *ah = json_string_value(json_object_get(a, "autn"));
	if (rand)
		assert_int_equal(omc_hex_decode(rand, 16, rh, strlen(rh)), OMC_OK);
	if (autn)
		assert_int_equal(omc_hex_decode(autn, 16, ah, strlen(ah)), OMC_OK);
	json_decref(a);
}

bool sf_auc_up(sf_auc *a, const char *imsi, const char *k_hex, const char *opc_hex)
{
	memset(a, 0, sizeof *a);
	snprintf(a->dir, sizeof a->dir, "/tmp/omc-auc-XXXXXX");
	if (!mkdtemp(a->dir))
		return false;
	char path[128];
	snprintf(path, sizeof path, "%s/auc.db", a->dir);
	uint8_t master[32], k[16], opc[16];
	tl_rand(master, sizeof master);
	tl_hex(k, 16, k_hex);
	tl_hex(opc, 16, opc_hex);
	a->cred.alg = OMC_AKA_ALG_MILENAGE;
	bool ok = omc_db_open(&a->db, path) == OMC_OK && omc_auc_open(&a->auc, a->db, "ico", master) == OMC_OK &&
		  omc_aka_milenage_init(&a->cred.u.milenage, k, opc, NULL) == OMC_OK &&
		  omc_auc_add(a->auc, imsi, &a->cred, 5) == OMC_OK;
	omc_memzero(master, sizeof master);
	omc_memzero(k, sizeof k);
	omc_memzero(opc, sizeof opc);
	return ok;
}

bool sf_auc_down(sf_auc *a)
{
	omc_aka_cred_wipe(&a->cred);
	omc_auc_close(a->auc);
	omc_db_close(a->db);
	a->auc = NULL;
	a->db = NULL;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", a->dir);
	return system(cmd) == 0;
}
