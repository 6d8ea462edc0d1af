/* Writes the generated part of the seed corpora (fuzz/corpus/<target>/gen-*)
 * from real objects: a device made by the factory with a fresh demo PKI of
 * test keys, its evidence, audit log and checkpoint, and an operator's
 * package and command for it. Not a test; run by hand when a format
 * changes (docs/fuzzing.md):  fuzz_seeds fuzz/corpus
 * The keys die with the process: the objects that need a signature to
 * verify reach the harnesses' claim parsers through their "signed here"
 * selectors, whose seeds are the claims alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "server/server_internal.h"
#include "store/store_internal.h"
#include "tre/tre_internal.h"
#include "tre_fixture.h"

static const char *root;

static void out(const char *target, const char *name, uint8_t sel, const void *data, size_t len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s/gen-%s", root, target, name);
	FILE *f = fopen(path, "wb");
	if (!f || fputc(sel, f) == EOF || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
		fprintf(stderr, "seeds: cannot write %s\n", path);
		exit(1);
	}
}

static void outs(const char *target, const char *name, uint8_t sel, const char *s)
{
	out(target, name, sel, s, strlen(s));
}

/* "HEAD\nTAIL" */
static void out_lines(const char *target, const char *name, uint8_t sel, const char *head, const char *tail,
		      size_t tail_len)
{
	size_t hl = strlen(head);
	char *b = malloc(hl + 1 + tail_len);
	if (!b)
		exit(1);
	memcpy(b, head, hl);
	b[hl] = '\n';
	memcpy(b + hl + 1, tail, tail_len);
	out(target, name, sel, b, hl + 1 + tail_len);
	free(b);
}

/* The claims of a JWS, with some replaced (the harness's signer). */
static char *claims(const char *jws, const char *key, const char *val, const char *key2, const char *val2)
{
	uint8_t *p;
	size_t n;
	if (omc_jws_peek(&p, &n, jws, strlen(jws)) != OMC_OK)
		exit(1);
	json_t *o = json_loadb((const char *)p, n, 0, NULL);
	omc_free(p);
	if (key)
		json_object_set_new(o, key, json_string(val));
	if (key2)
		json_object_set_new(o, key2, json_string(val2));
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static void put_be(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* store_fuzz: a table of one object (sealed here) and the object, an MCIM
 * record in store form, a users table. */
static void store_seeds(omc_tre *t)
{
	(void)t;
	json_t *pm = tf_mcim("mcim-fuzz", "sho1", "001019999999999", "000102030405060708090a0b0c0d0e0f",
			     "0f0e0d0c0b0a09080706050403020100");
	omc_mcim m;
	char *rec_json = NULL;
	size_t rl;
	if (omc_mcim_from_json(&m, pm, true) != OMC_OK || omc_mcim_to_json(&rec_json, &rl, &m) != OMC_OK)
		exit(1);
	json_decref(pm);
	omc_mcim_wipe(&m);
	out("store", "mcim-record", 6, rec_json, rl);
	const char id[] = "mcim/sho1/mcim-fuzz";
	size_t idl = sizeof id - 1;
	omc_st_entry ent;
	memset(&ent, 0, sizeof ent);
	memcpy(ent.id, id, idl);
	ent.id_len = (uint8_t)idl;
	size_t reclen = rl + OMC_ST_REC_OVERHEAD;
	uint8_t *rec = malloc(reclen);
	if (omc_st_record_seal(rec, &ent, (const uint8_t *)rec_json, rl) != OMC_OK)
		exit(1);
	size_t tlen = 4 + 1 + idl + 32 + 8 + 4 + 32;
	uint8_t *b = malloc(2 + tlen + reclen), *p = b;
	put_be(p, tlen, 2), p += 2;
	put_be(p, 1, 4), p += 4;
	*p++ = (uint8_t)idl;
	memcpy(p, id, idl), p += idl;
	memcpy(p, ent.fek, 32), p += 32;
	put_be(p, 0, 8), p += 8;
	put_be(p, reclen, 4), p += 4;
	memcpy(p, ent.digest, 32), p += 32;
	memcpy(p, rec, reclen);
	out("store", "root-sealed-one", 4, b, 2 + tlen + reclen);
	out("store", "root-sealed-empty", 4, "\0\4\0\0\0\0", 6);
	out("store", "record-sealed", 5, rec_json, rl);
	omc_memzero(&ent, sizeof ent);
	free(b);
	free(rec);
	omc_free(rec_json);
	omc_users u;
	memset(&u, 0, sizeof u);
	u.t_cost = 1, u.m_cost_kib = 8, u.lanes = 1;
	char *uj = NULL;
	size_t ul;
	if (omc_users_to_json(&uj, &ul, &u) != OMC_OK)
		exit(1);
	out("store", "users", 7, uj, ul);
	omc_free(uj);
}

/* config_fuzz: the demo deployment's config, its paths made relative (the
 * harness runs in a demo deployment of its own); a users file. */
static void config_seeds(void)
{
	char d[128], conf[160];
	snprintf(d, sizeof d, "%s/demo", fz_tmpdir());
	snprintf(conf, sizeof conf, "%s/server.conf", d);
	uint8_t *txt = NULL;
	size_t n;
	if (omc_server_demo_setup(d) != OMC_OK || omc_read_file(conf, &txt, &n, 1 << 16) != OMC_OK)
		exit(1);
	char *rel = malloc(n + 1);
	size_t dl = strlen(d), m = 0;
	for (size_t i = 0; i < n;) {
		if (i + dl + 1 <= n && memcmp(txt + i, d, dl) == 0 && txt[i + dl] == '/') {
			i += dl + 1;
			continue;
		}
		rel[m++] = (char)txt[i++];
	}
	out("config", "server-demo", 0, rel, m);
	out("config", "ctl-demo", 1, rel, m);
	free(rel);
	omc_free(txt);
	outs("config", "users", 2, "# uid   name\n1001 agent\n  0\tadmin\n\nroot ops-1\n");
}

/* server_fuzz: its route table, one line each ("INDEX LISTENER METHOD
 * PATH") on stdout, for fuzz/server_seeds.py to make the bodies. */
static void server_routes(void)
{
	char d[128], conf[160];
	snprintf(d, sizeof d, "%s/demo2", fz_tmpdir());
	snprintf(conf, sizeof conf, "%s/server.conf", d);
	omc_server *s = NULL;
	omc_server_opts o = {.config = conf};
	if (omc_server_demo_setup(d) != OMC_OK || omc_server_start(&s, &o) != OMC_OK)
		exit(1);
	size_t n = 0;
	for (size_t i = 0; i < s->n_ls; i++)
		for (size_t j = 0; j < s->ls[i].n_routes; j++, n++)
			printf("%zu %s %s %s\n", n, s->ls[i].name, s->ls[i].routes[j].method, s->ls[i].routes[j].path);
	omc_server_stop(s);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds CORPUS-DIR\n");
		return 2;
	}
	root = argv[1];
	fz_init();
	tf_dev dev;
	tf_dev_make(&dev, NULL, NULL);
	omc_tre *t = tf_open(&dev);
	/* jose_fuzz's nonce: 1..16 then zeros */
	uint8_t nonce[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	char nb[64];
	if (omc_b64_encode(nb, sizeof nb, nonce, sizeof nonce, OMC_B64_URL) != OMC_OK)
		return 1;
	char *ev = NULL, *sev = NULL, *cp = NULL, *audit = NULL;
	size_t alen;
	if (omc_tre_attest(t, nonce, sizeof nonce, &ev) != OMC_OK ||
	    omc_tre_session_begin(t, nonce, sizeof nonce, &sev) != OMC_OK ||
	    omc_tre_audit_checkpoint(t, &cp) != OMC_OK || omc_tre_audit_export(t, &audit, &alen) != OMC_OK)
		return 1;
	/* jose_fuzz */
	outs("jose", "peek-evidence", 0, ev);
	outs("jose", "key-evidence", 1, ev);
	outs("jose", "x5c-session-evidence", 2, sev);
	outs("jose", "jwe-report", 3, dev.report);
	outs("jose", "evidence", 5, ev);
	char *c = claims(ev, "tre_id", "tre-fuzz", "eat_nonce", nb);
	outs("jose", "signed-evidence", 6, c);
	omc_free(c);
	c = claims(sev, "tre_id", "tre-fuzz", "eat_nonce", nb);
	outs("jose", "signed-session-evidence", 6, c);
	omc_free(c);
	out_lines("jose", "checkpoint", 7, cp, audit, alen);
	c = claims(cp, "tre", "tre-fuzz", NULL, NULL);
	out_lines("jose", "signed-checkpoint", 8, c, audit, alen);
	omc_free(c);
	char *pem = NULL;
	size_t pl;
	if (omc_tre_certificates(t, &pem, &pl) != OMC_OK)
		return 1;
	out("jose", "cert-pem", 4 + 2 * 10, pem, pl);
	omc_cert *leaf = NULL;
	uint8_t *der = NULL;
	size_t dl;
	if (omc_cert_from_pem(&leaf, pem, pl) != OMC_OK || omc_cert_to_der(&der, &dl, leaf) != OMC_OK)
		return 1;
	out("jose", "cert-der", 4 + 3 * 10, der, dl);
	omc_key *pub = NULL;
	char *jwk = NULL;
	if (omc_cert_public_key(&pub, leaf) != OMC_OK || omc_key_to_jwk(&jwk, pub) != OMC_OK)
		return 1;
	outs("jose", "jwk", 4, jwk);
	char *kpem = NULL;
	size_t kl;
	if (omc_key_to_pem(&kpem, &kl, pub, false, NULL, 0) != OMC_OK)
		return 1;
	out("jose", "key-pem", 4 + 10, kpem, kl);
	/* store_fuzz: the audit log, one record */
	out("store", "audit-log", 0, audit, alen);
	out("store", "audit-log-keyless", 1, audit, alen);
	const char *nl = memchr(audit, '\n', alen);
	out("store", "audit-line", 2, audit, nl ? (size_t)(nl - audit) : alen);
	store_seeds(t);
	config_seeds();
	server_routes();
	/* tred_fuzz: a package and a command for this device */
	omc_tre_status st;
	if (omc_tre_get_status(t, &st) != OMC_OK)
		return 1;
	json_t *m = tf_mcim("mcim-fuzz", "sho1", "001019999999999", "000102030405060708090a0b0c0d0e0f",
			    "0f0e0d0c0b0a09080706050403020100");
	char *pkg = tf_package("sho1", 1, st.tre_id, nonce, sizeof nonce, sev, m, true);
	json_t *r = json_pack("{s:s,s:s}", "op", "install", "package", pkg);
	char *line = json_dumps(r, JSON_COMPACT);
	outs("tred", "install", 0, line);
	omc_free(line);
	json_decref(r);
	char *cmd = tf_command("sho1", 2, st.tre_id, "deactivate", "mcim-fuzz");
	r = json_pack("{s:s,s:s}", "op", "command", "command", cmd);
	line = json_dumps(r, JSON_COMPACT);
	outs("tred", "command", 0, line);
	omc_free(line);
	json_decref(r);
	static const uint8_t fw[] = "fuzz firmware 2.0";
	omc_factory_update_component comp = {.name = "fw", .path = "platform/fw", .data = fw, .len = sizeof fw};
	char *upd = NULL;
	if (omc_factory_update_manifest(&upd, tf_pki(), NULL, "2.0", 2, &comp, 1) != OMC_OK)
		return 1;
	outs("tred", "update", 3, upd);
	omc_free(upd);
	omc_free(pkg);
	omc_free(cmd);
	omc_free(ev);
	omc_free(sev);
	omc_free(cp);
	omc_free(audit);
	omc_free(pem);
	omc_free(der);
	omc_free(jwk);
	omc_free(kpem);
	omc_key_free(pub);
	omc_cert_free(leaf);
	omc_tre_close(t);
	tf_dev_free(&dev);
	return 0;
}
