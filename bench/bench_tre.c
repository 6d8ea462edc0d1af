/* openmcim bench tre: the TRE core's transaction rates, each beside its
 * bound measured in the same run, fsyncs per commit, and the size of the
 * code. Devices live on the in-memory file system, so the rates are the
 * TRE's own CPU cost (crypto, JSON, store) without a disk's fsync latency;
 * the fsync counts say what a disk adds. Operator-side work (signing
 * packages and commands, making vectors) is done outside the timed calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "bench.h"
#include "cli.h"
#include "code_size.h"
#include "openmcim/factory.h"
#include "openmcim/log.h"
#include "openmcim/tre.h"
#include "util/util_internal.h"

#define BENCH_KEY "000102030405060708090a0b0c0d0e0f"
#define BENCH_OPC "f0e0d0c0b0a090807060504030201000"

typedef struct bdev {
	omc_memfs *fs;
	omc_store_io *io, *store_io;
	omc_tre *t;
	char tre_id[64];
} bdev;

static void bdev_free(bdev *d)
{
	omc_tre_close(d->t);
	omc_store_io_mem_free(d->io);
	omc_store_io_mem_free(d->store_io);
	omc_memfs_free(d->fs);
	memset(d, 0, sizeof *d);
}

static omc_err bdev_make(bdev *d, const char *pki)
{
	memset(d, 0, sizeof *d);
	OMC_TRY(omc_memfs_new(&d->fs));
	omc_err e = omc_store_io_mem_new(&d->io, d->fs, "dev/");
	if (e == OMC_OK)
		e = omc_store_io_mem_new(&d->store_io, d->fs, "dev/store/");
	char *rep = NULL;
	omc_factory_device_opts fo = {.pki_dir = pki, .io = d->io, .store_io = d->store_io};
	if (e == OMC_OK)
		e = omc_factory_device(&fo, &rep);
	omc_tre_opts to = {.io = d->io, .store_io = d->store_io};
	if (e == OMC_OK)
		e = omc_tre_open(&d->t, &to);
	omc_tre_status st;
	if (e == OMC_OK)
		e = omc_tre_get_status(d->t, &st);
	if (e == OMC_OK)
		snprintf(d->tre_id, sizeof d->tre_id, "%s", st.tre_id);
	omc_free(rep);
	if (e != OMC_OK)
		bdev_free(d);
	return e;
}

/* The operator side: a signed object as PKI entity `who`. */
static omc_err sign_as(char **out, const char *pki, const char *who, const char *typ, json_t *payload)
{
	omc_key *k = NULL;
	omc_cert *c = NULL;
	char *s = json_dumps(payload, JSON_COMPACT);
	json_decref(payload);
	omc_err e = s ? omc_pki_load(pki, who, &k, &c) : OMC_ERR_NOMEM;
	const omc_cert *x5c[1] = {c};
	if (e == OMC_OK)
		e = omc_jws_sign(out, (const uint8_t *)s, strlen(s), k, x5c, 1, typ);
	omc_free(s);
	omc_key_free(k);
	omc_cert_free(c);
	return e;
}

/* A session on the device, and a package for it (the SHO's and the DPF's work). */
static omc_err make_package(char **pkg, bdev *d, const char *pki, const omc_cert *m2mes, uint64_t seq,
			    const char *id)
{
	uint8_t nonce[16];
	OMC_TRY(omc_rand_bytes(nonce, sizeof nonce));
	char *ev = NULL, nb[32], imsi[16];
	OMC_TRY(omc_tre_session_begin(d->t, nonce, sizeof nonce, &ev));
	omc_err e = omc_b64_encode(nb, sizeof nb, nonce, sizeof nonce, OMC_B64_URL);
	snprintf(imsi, sizeof imsi, "00102%010lu", (unsigned long)seq);
	json_t *m = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[s],s:i}", "id", id, "owner", "sho1", "role",
			      "operational", "type", "usim", "imsi", imsi, "alg", "milenage", "k", BENCH_KEY, "opc",
			      BENCH_OPC, "acl", "agent", "version", 1);
	json_t *p = m ? json_pack("{s:s,s:I,s:s,s:s,s:I,s:b,s:o}", "iss", "sho1", "seq", (json_int_t)seq, "tre",
				  d->tre_id, "nonce", nb, "iat", (json_int_t)time(NULL), "activate", 1, "mcim", m)
		      : NULL;
	char *jws = NULL;
	if (e == OMC_OK)
		e = p ? sign_as(&jws, pki, "sho1", "omc-mcim-package+jwt", p) : OMC_ERR_NOMEM;
	omc_evidence v;
	memset(&v, 0, sizeof v);
	const omc_cert *anchors[1] = {m2mes};
	if (e == OMC_OK)
		e = omc_evidence_verify(&v, ev, strlen(ev), anchors, 1, nonce, sizeof nonce, 0);
	if (e == OMC_OK)
		e = v.eph_pub ? omc_jwe_encrypt(pkg, (const uint8_t *)jws, strlen(jws), v.eph_pub, "omc-mcim-package+jwe")
			      : OMC_ERR_BUG;
	omc_evidence_free(&v);
	omc_free(jws);
	omc_free(ev);
	return e;
}

static omc_err make_command(char **out, const char *pki, const char *tre_id, uint64_t seq, const char *cmd,
			    const char *mcim)
{
	json_t *p = json_pack("{s:s,s:I,s:s,s:s,s:s,s:I}", "iss", "sho1", "seq", (json_int_t)seq, "tre", tre_id, "cmd",
			      cmd, "mcim", mcim, "iat", (json_int_t)time(NULL));
	OMC_ENSURE(p != NULL, OMC_ERR_NOMEM);
	return sign_as(out, pki, "sho1", "omc-command+jwt", p);
}

typedef struct figure {
	double per_s;
	double syncs_per_commit; /* sync + sync_dir per timed call */
	unsigned long calls;
} figure;

static unsigned long syncs(const bdev *d)
{
	omc_memfs_stats st;
	omc_memfs_stats_get(d->fs, &st);
	return st.sync + st.sync_dir;
}

/* Installs: a session and a package made untimed, omc_tre_install timed.
 * A new device every 48 installs (the registry keeps tombstones). */
static omc_err bench_install(figure *f, const char *pki, const omc_cert *m2mes, double seconds)
{
	double spent = 0;
	unsigned long n = 0, sy = 0;
	while (spent < seconds) {
		bdev d;
		OMC_TRY(bdev_make(&d, pki));
		omc_err e = OMC_OK;
		for (unsigned i = 0; i < 48 && e == OMC_OK && spent < seconds; i++) {
			char id[16], *pkg = NULL, *receipt = NULL;
			snprintf(id, sizeof id, "m%u", i);
			e = make_package(&pkg, &d, pki, m2mes, i + 1, id);
			unsigned long s0 = syncs(&d);
			double t0 = bench_now();
			if (e == OMC_OK)
				e = omc_tre_install(d.t, pkg, strlen(pkg), &receipt);
			spent += bench_now() - t0;
			sy += syncs(&d) - s0;
			n++;
			omc_free(pkg);
			omc_free(receipt);
		}
		bdev_free(&d);
		OMC_TRY(e);
	}
	f->per_s = (double)n / spent;
	f->syncs_per_commit = (double)sy / (double)n;
	f->calls = n;
	return OMC_OK;
}

/* Lifecycle changes: signed deactivate/activate by the owner, alternating. */
static omc_err bench_lifecycle(figure *f, const char *pki, const omc_cert *m2mes, double seconds)
{
	bdev d;
	OMC_TRY(bdev_make(&d, pki));
	char *pkg = NULL, *receipt = NULL;
	omc_err e = make_package(&pkg, &d, pki, m2mes, 1, "life");
	if (e == OMC_OK)
		e = omc_tre_install(d.t, pkg, strlen(pkg), &receipt);
	omc_free(pkg);
	omc_free(receipt);
	double spent = 0;
	unsigned long n = 0, sy = 0;
	for (uint64_t seq = 2; e == OMC_OK && spent < seconds; seq++) {
		char *c = NULL, *r = NULL;
		bool applied = false;
		e = make_command(&c, pki, d.tre_id, seq, seq % 2 ? "activate" : "deactivate", "life");
		unsigned long s0 = syncs(&d);
		double t0 = bench_now();
		if (e == OMC_OK)
			e = omc_tre_command(d.t, c, strlen(c), &r, &applied);
		spent += bench_now() - t0;
		sy += syncs(&d) - s0;
		if (e == OMC_OK && !applied)
			e = OMC_ERR_BUG;
		n++;
		omc_free(c);
		omc_free(r);
	}
	bdev_free(&d);
	OMC_TRY(e);
	f->per_s = (double)n / spent;
	f->syncs_per_commit = (double)sy / (double)n;
	f->calls = n;
	return OMC_OK;
}

static omc_err make_av(omc_aka_av *av, uint64_t sqn)
{
	uint8_t k[16], opc[16], rand[16], s[6], amf[2] = {0x80, 0};
	OMC_DEFER_WIPE(k);
	OMC_DEFER_WIPE(opc);
	OMC_TRY(omc_hex_decode(k, sizeof k, BENCH_KEY, 32));
	OMC_TRY(omc_hex_decode(opc, sizeof opc, BENCH_OPC, 32));
	OMC_TRY(omc_rand_bytes(rand, sizeof rand));
	omc_store_be48(s, sqn);
	omc_aka_cred c = {.alg = OMC_AKA_ALG_MILENAGE};
	omc_err e = omc_aka_milenage_init(&c.u.milenage, k, opc, NULL);
	if (e == OMC_OK)
		e = omc_aka_av_gen(av, &c, rand, s, amf);
	omc_aka_cred_wipe(&c);
	return e;
}

#define AV_BATCH 256

/* AKA inside the TRE: vectors made untimed, omc_tre_aka timed; and the
 * bound, the bare USIM-side check (omc_aka_check) on the same vectors. */
static omc_err bench_aka_inside(figure *f, double *bare, const char *pki, const omc_cert *m2mes, double seconds)
{
	bdev d;
	OMC_TRY(bdev_make(&d, pki));
	char *pkg = NULL, *receipt = NULL;
	omc_err e = make_package(&pkg, &d, pki, m2mes, 1, "aka");
	if (e == OMC_OK)
		e = omc_tre_install(d.t, pkg, strlen(pkg), &receipt);
	omc_free(pkg);
	omc_free(receipt);
	omc_aka_av *av = omc_calloc(AV_BATCH, sizeof *av);
	if (!av)
		e = OMC_ERR_NOMEM;
	static const omc_tre_caller agent = {.kind = OMC_ACTOR_USER, .name = "agent"};
	double spent = 0;
	unsigned long n = 0, sy = 0;
	uint64_t sqn = 32;
	while (e == OMC_OK && spent < seconds) {
		for (size_t i = 0; i < AV_BATCH && e == OMC_OK; i++, sqn += 32)
			e = make_av(&av[i], sqn);
		for (size_t i = 0; i < AV_BATCH && e == OMC_OK; i++) {
			omc_aka_check_result r;
			unsigned long s0 = syncs(&d);
			double t0 = bench_now();
			e = omc_tre_aka(d.t, &agent, "aka", av[i].rand, av[i].autn, av[i].autn_len, &r);
			spent += bench_now() - t0;
			sy += syncs(&d) - s0;
			if (e == OMC_OK && r.status != OMC_AKA_STATUS_OK)
				e = OMC_ERR_BUG;
			omc_memzero(&r, sizeof r);
			n++;
		}
	}
	/* The bound: the same check with the credential already in memory
	 * and the SQN state in RAM (what a USIM's own loop costs). */
	double bspent = 0;
	unsigned long bn = 0;
	if (e == OMC_OK) {
		uint8_t k[16], opc[16];
		omc_aka_cred c = {.alg = OMC_AKA_ALG_MILENAGE};
		omc_aka_sqn_ms st;
		e = omc_hex_decode(k, sizeof k, BENCH_KEY, 32);
		if (e == OMC_OK)
			e = omc_hex_decode(opc, sizeof opc, BENCH_OPC, 32);
		if (e == OMC_OK)
			e = omc_aka_milenage_init(&c.u.milenage, k, opc, NULL);
		if (e == OMC_OK)
			e = omc_aka_sqn_ms_init(&st, OMC_AKA_IND_BITS_DEFAULT, 0, 0);
		omc_memzero(k, sizeof k);
		omc_memzero(opc, sizeof opc);
		sqn = 32;
		while (e == OMC_OK && bspent < seconds / 2) {
			for (size_t i = 0; i < AV_BATCH && e == OMC_OK; i++, sqn += 32)
				e = make_av(&av[i], sqn);
			double t0 = bench_now();
			for (size_t i = 0; i < AV_BATCH && e == OMC_OK; i++) {
				omc_aka_check_result r;
				e = omc_aka_check(&r, &st, &c, av[i].rand, av[i].autn, av[i].autn_len);
				if (e == OMC_OK && r.status != OMC_AKA_STATUS_OK)
					e = OMC_ERR_BUG;
				omc_memzero(&r, sizeof r);
			}
			bspent += bench_now() - t0;
			bn += AV_BATCH;
		}
		omc_aka_cred_wipe(&c);
	}
	if (av)
		omc_memzero(av, AV_BATCH * sizeof *av);
	omc_free(av);
	bdev_free(&d);
	OMC_TRY(e);
	f->per_s = (double)n / spent;
	f->syncs_per_commit = (double)sy / (double)n;
	f->calls = n;
	*bare = (double)bn / bspent;
	return OMC_OK;
}

/* Bounds for the signed transactions: P-256 ECDSA verifications and bare
 * store commits of one small object (what any TRE commit costs at least). */
static double bench_ecdsa_verify(double seconds)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	uint8_t msg[64] = {1}, sig[80];
	size_t sl = sizeof sig;
	double r = 0;
	if (k && mc && EVP_DigestSignInit(mc, NULL, EVP_sha256(), NULL, k) == 1 &&
	    EVP_DigestSign(mc, sig, &sl, msg, sizeof msg) == 1) {
		unsigned long n = 0;
		double t0 = bench_now(), t;
		do {
			for (int i = 0; i < 64; i++) {
				EVP_MD_CTX_reset(mc);
				if (EVP_DigestVerifyInit(mc, NULL, EVP_sha256(), NULL, k) != 1 ||
				    EVP_DigestVerify(mc, sig, sl, msg, sizeof msg) != 1)
					goto out;
			}
			n += 64;
			t = bench_now();
		} while (t - t0 < seconds);
		r = (double)n / (t - t0);
	}
out:
	EVP_MD_CTX_free(mc);
	EVP_PKEY_free(k);
	return r;
}

static omc_err bench_store_commit(double *per_s, double *syncs_per_commit, double seconds)
{
	omc_memfs *fs;
	OMC_TRY(omc_memfs_new(&fs));
	omc_store_io *io = NULL;
	omc_store_ard *ard = NULL;
	omc_store *s = NULL;
	uint8_t key[32] = {7}, obj[200] = {0};
	omc_err e = omc_store_io_mem_new(&io, fs, "s/");
	if (e == OMC_OK)
		e = omc_store_ard_sw_new(&ard, io, key, true);
	omc_store_opts so = {.io = io, .ard = ard, .create = true};
	if (e == OMC_OK)
		e = omc_store_open(&s, key, &so);
	unsigned long n = 0;
	omc_memfs_stats a, b;
	omc_memfs_stats_get(fs, &a);
	double t0 = bench_now(), t = t0;
	while (e == OMC_OK && t - t0 < seconds) {
		obj[0] = (uint8_t)n;
		omc_store_op op = {.id = "state", .data = obj, .len = sizeof obj};
		e = omc_store_commit(s, &op, 1, 0);
		n++;
		t = bench_now();
	}
	omc_memfs_stats_get(fs, &b);
	omc_store_close(s);
	omc_store_ard_sw_free(ard);
	omc_store_io_mem_free(io);
	omc_memfs_free(fs);
	OMC_TRY(e);
	*per_s = (double)n / (t - t0);
	*syncs_per_commit = (double)((b.sync + b.sync_dir) - (a.sync + a.sync_dir)) / (double)n;
	return OMC_OK;
}

static int rmrf(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd);
}

int bench_tre(const bench_opts *o)
{
	bench_pin();
	omc_log_set_level(OMC_LOG_LEVEL_ERR);
	char tmp[] = "/tmp/omc-bench-tre-XXXXXX";
	if (!mkdtemp(tmp)) {
		fprintf(stderr, "openmcim bench tre: cannot make a temporary directory\n");
		return CLI_ERROR;
	}
	char pki[sizeof tmp + 8];
	snprintf(pki, sizeof pki, "%s/pki", tmp);
	omc_cert *m2mes = NULL;
	figure inst = {0}, life = {0}, aka = {0};
	double bare_aka = 0, commit = 0, commit_syncs = 0;
	omc_err e = omc_factory_pki(pki);
	if (e == OMC_OK)
		e = omc_pki_load(pki, "m2mes-ca", NULL, &m2mes);
	if (e == OMC_OK)
		e = bench_install(&inst, pki, m2mes, o->seconds);
	if (e == OMC_OK)
		e = bench_lifecycle(&life, pki, m2mes, o->seconds);
	if (e == OMC_OK)
		e = bench_aka_inside(&aka, &bare_aka, pki, m2mes, o->seconds);
	if (e == OMC_OK)
		e = bench_store_commit(&commit, &commit_syncs, o->seconds);
	double ecdsa = e == OMC_OK ? bench_ecdsa_verify(o->seconds) : 0;
	omc_cert_free(m2mes);
	if (rmrf(tmp) != 0)
		fprintf(stderr, "openmcim bench tre: could not remove %s\n", tmp);
	if (e != OMC_OK || ecdsa <= 0) {
		fprintf(stderr, "openmcim bench tre: %s\n", e != OMC_OK ? omc_err_str(e) : "ECDSA reference failed");
		return CLI_ERROR;
	}
	const unsigned long core = OMC_SIZE_TRE_TEXT + OMC_SIZE_TRE_DATA + OMC_SIZE_STORE_TEXT + OMC_SIZE_STORE_DATA;
	const unsigned long with_aka = core + OMC_SIZE_AKA_TEXT + OMC_SIZE_AKA_DATA + OMC_SIZE_UTIL_TEXT +
				       OMC_SIZE_UTIL_DATA + OMC_SIZE_PROTO_TEXT + OMC_SIZE_PROTO_DATA;
	double max_syncs = inst.syncs_per_commit;
	if (life.syncs_per_commit > max_syncs)
		max_syncs = life.syncs_per_commit;
	if (aka.syncs_per_commit > max_syncs)
		max_syncs = aka.syncs_per_commit;
	if (o->json) {
		cli_json j;
		cli_json_begin(&j, stdout);
		cli_json_u64(&j, "installs_per_s", (uint64_t)inst.per_s);
		cli_json_u64(&j, "lifecycle_changes_per_s", (uint64_t)life.per_s);
		cli_json_u64(&j, "aka_runs_per_s", (uint64_t)aka.per_s);
		cli_json_u64(&j, "store_commits_per_s", (uint64_t)commit);
		cli_json_u64(&j, "ecdsa_p256_verifies_per_s", (uint64_t)ecdsa);
		cli_json_u64(&j, "usim_checks_per_s", (uint64_t)bare_aka);
		cli_json_num(&j, "install_fsyncs_per_commit", inst.syncs_per_commit);
		cli_json_num(&j, "lifecycle_fsyncs_per_commit", life.syncs_per_commit);
		cli_json_num(&j, "aka_fsyncs_per_commit", aka.syncs_per_commit);
		cli_json_num(&j, "store_fsyncs_per_commit", commit_syncs);
		cli_json_num(&j, "fsyncs_per_commit", max_syncs);
		cli_json_num(&j, "installs_ratio_to_ecdsa", inst.per_s / ecdsa);
		cli_json_num(&j, "lifecycle_ratio_to_ecdsa", life.per_s / ecdsa);
		cli_json_num(&j, "aka_ratio_to_usim_check", aka.per_s / bare_aka);
		cli_json_num(&j, "aka_ratio_to_store_commit", aka.per_s / commit);
		cli_json_u64(&j, "tre_core_bytes", core);
		cli_json_u64(&j, "tre_bytes", OMC_SIZE_TRE_TEXT + OMC_SIZE_TRE_DATA);
		cli_json_u64(&j, "store_bytes", OMC_SIZE_STORE_TEXT + OMC_SIZE_STORE_DATA);
		cli_json_u64(&j, "device_library_bytes", with_aka);
		cli_json_end(&j);
	} else {
		printf("openmcim bench tre (one core, devices on the in-memory file system, %.2f s per figure)\n\n",
		       o->seconds);
		printf("%-44s %12s %8s   %s\n", "measure", "per second", "fsyncs", "ratio to its bound");
		printf("%-44s %12.0f %8s   (bound)\n", "P-256 ECDSA verifications (OpenSSL)", ecdsa, "");
		printf("%-44s %12.0f %8.2f   (bound)\n", "store commits, one 200-byte object", commit, commit_syncs);
		printf("%-44s %12.0f %8s   (bound)\n", "USIM-side AKA checks, state in RAM", bare_aka, "");
		printf("%-44s %12.0f %8.2f   %.3f of ECDSA verifications\n", "MCIM installs (omc_tre_install)", inst.per_s,
		       inst.syncs_per_commit, inst.per_s / ecdsa);
		printf("%-44s %12.0f %8.2f   %.3f of ECDSA verifications\n", "lifecycle changes (signed command)",
		       life.per_s, life.syncs_per_commit, life.per_s / ecdsa);
		printf("%-44s %12.0f %8.2f   %.3f of USIM checks, %.3f of store commits\n", "AKA runs inside the TRE",
		       aka.per_s, aka.syncs_per_commit, aka.per_s / bare_aka, aka.per_s / commit);
		printf("\ncode (text+data, this build): TRE core %lu bytes (src/tre %u + src/store %u,\n"
		       "without the factory, the in-memory file system and the crypto libraries);\n"
		       "with util, aka and proto: %lu bytes.\n",
		       core, OMC_SIZE_TRE_TEXT + OMC_SIZE_TRE_DATA, OMC_SIZE_STORE_TEXT + OMC_SIZE_STORE_DATA, with_aka);
		printf("fsyncs = fsync and directory syncs per call. An install decrypts (ECDH), verifies\n"
		       "the package's chain and signs a receipt; a command verifies and signs its result.\n");
	}
	return CLI_OK;
}
