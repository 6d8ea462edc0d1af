/* openmcim bench aka: the AKA engine against the machine's own bounds.
 *
 * Measured on one core (the thread is pinned), in one run:
 *   milenage_vectors_per_s        omc_aka_av_gen, a new subscriber (K, OPc)
 *                                 for every vector
 *   milenage_batch_vectors_per_s  omc_aka_milenage_batch (fastest kernel),
 *                                 a new K for every vector
 *   tuak_vectors_per_s            omc_aka_av_gen on TUAK, a new K each
 *   tuak_batch_vectors_per_s      omc_aka_tuak_batch, a new K each
 *   aes_blocks_per_s              the bound: one AES-128 block per
 *                                 EVP_EncryptUpdate call, as a vector-at-a-
 *                                 time implementation must use OpenSSL
 *   aes_bulk_blocks_per_s         OpenSSL ECB over 4 KiB at a time (the
 *                                 pipelined ceiling of the AES units)
 *   keccak_perms_per_s            nettle's Keccak-f[1600] permutation
 * A MILENAGE vector costs 5 AES blocks and a key expansion; a TUAK vector
 * 2 permutations. */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "aka/aka_internal.h"
#include "bench.h"
#include "cli.h"

#define NSUB 4096

static volatile uint8_t sink;

typedef struct subs {
	omc_aka_milenage_batch_in in[NSUB];
	omc_aka_milenage_batch_out out[NSUB];
	uint8_t tuak_k[NSUB][16];
	uint8_t tuak_topc[NSUB][32];
	omc_aka_tuak_batch_in tuak_in[NSUB];
	omc_aka_tuak_batch_out tuak_out[NSUB];
} subs;

/* Runs fn(arg, chunk) until `seconds` pass; returns items per second. */
static double rate(double seconds, size_t chunk, void (*fn)(void *arg, size_t n), void *arg)
{
	fn(arg, chunk); /* warm up */
	size_t done = 0;
	double t0 = bench_now(), t;
	do {
		fn(arg, chunk);
		done += chunk;
		t = bench_now();
	} while (t - t0 < seconds);
	return (double)done / (t - t0);
}

static void run_milenage_single(void *arg, size_t n)
{
	subs *s = arg;
	omc_aka_cred c = {.alg = OMC_AKA_ALG_MILENAGE};
	omc_aka_av av;
	for (size_t i = 0; i < n; i++) {
		const omc_aka_milenage_batch_in *x = &s->in[i % NSUB];
		if (omc_aka_milenage_init(&c.u.milenage, x->k, x->opc, NULL) != OMC_OK ||
		    omc_aka_av_gen(&av, &c, x->rand, x->sqn, x->amf) != OMC_OK)
			return;
		sink ^= av.xres[0];
	}
	omc_aka_cred_wipe(&c);
	omc_memzero(&av, sizeof av);
}

typedef struct batch_arg {
	subs *s;
	omc_aka_impl impl;
} batch_arg;

static void run_milenage_batch(void *arg, size_t n)
{
	batch_arg *b = arg;
	for (size_t i = 0; i < n; i += NSUB) {
		if (omc_aka_milenage_batch(b->s->out, b->s->in, NSUB, NULL, b->impl) != OMC_OK)
			return;
		sink ^= b->s->out[i % NSUB].xres[0];
	}
}

static void run_tuak(void *arg, size_t n)
{
	subs *s = arg;
	omc_aka_cred c = {.alg = OMC_AKA_ALG_TUAK};
	omc_aka_tuak_params p;
	omc_aka_tuak_params_default(&p);
	omc_aka_av av;
	for (size_t i = 0; i < n; i++) {
		size_t j = i % NSUB;
		const omc_aka_milenage_batch_in *x = &s->in[j];
		if (omc_aka_tuak_init(&c.u.tuak, s->tuak_k[j], 16, s->tuak_topc[j], &p) != OMC_OK ||
		    omc_aka_av_gen(&av, &c, x->rand, x->sqn, x->amf) != OMC_OK)
			return;
		sink ^= av.xres[0];
	}
	omc_aka_cred_wipe(&c);
	omc_memzero(&av, sizeof av);
}

static void run_tuak_batch(void *arg, size_t n)
{
	subs *s = arg;
	for (size_t i = 0; i < n; i += NSUB) {
		if (omc_aka_tuak_batch(s->tuak_out, s->tuak_in, NSUB, 1) != OMC_OK)
			return;
		sink ^= s->tuak_out[i % NSUB].xres[0];
	}
}

typedef struct aes_arg {
	EVP_CIPHER_CTX *ctx;
	uint8_t buf[4096];
} aes_arg;

static void run_aes_single(void *arg, size_t n)
{
	aes_arg *a = arg;
	int outl;
	for (size_t i = 0; i < n; i++)
		if (EVP_EncryptUpdate(a->ctx, a->buf, &outl, a->buf, 16) != 1)
			return;
	sink ^= a->buf[0];
}

static void run_aes_bulk(void *arg, size_t n)
{
	aes_arg *a = arg;
	int outl;
	for (size_t i = 0; i < n; i += sizeof a->buf / 16)
		if (EVP_EncryptUpdate(a->ctx, a->buf, &outl, a->buf, (int)sizeof a->buf) != 1)
			return;
	sink ^= a->buf[0];
}

static void run_keccak(void *arg, size_t n)
{
	uint64_t *st = arg;
	for (size_t i = 0; i < n; i++)
		omc_aka_keccak_permute(st);
	sink ^= (uint8_t)st[0];
}

int bench_aka(const bench_opts *o)
{
	bench_pin();
	subs *s = omc_calloc(1, sizeof *s);
	if (!s)
		return CLI_ERROR;
	int rc = CLI_ERROR;
	EVP_CIPHER_CTX *ctx = NULL;
	aes_arg *aa = NULL;
	if (omc_rand_bytes((uint8_t *)s->in, sizeof s->in) != OMC_OK ||
	    omc_rand_bytes((uint8_t *)s->tuak_k, sizeof s->tuak_k) != OMC_OK ||
	    omc_rand_bytes((uint8_t *)s->tuak_topc, sizeof s->tuak_topc) != OMC_OK ||
	    omc_rand_bytes((uint8_t *)s->tuak_in, sizeof s->tuak_in) != OMC_OK)
		goto out;

	double single = rate(o->seconds, 256, run_milenage_single, s);
	omc_aka_impl best = omc_aka_impl_auto();
	batch_arg ba = {s, best};
	double batch = rate(o->seconds, NSUB, run_milenage_batch, &ba);
	double per_impl[OMC_AKA_IMPL_LAST + 1] = {0};
	for (int i = OMC_AKA_IMPL_OPENSSL; i <= OMC_AKA_IMPL_LAST; i++) {
		if (!omc_aka_impl_available((omc_aka_impl)i))
			continue;
		batch_arg bi = {s, (omc_aka_impl)i};
		per_impl[i] = i == (int)best ? batch : rate(o->seconds, NSUB, run_milenage_batch, &bi);
	}
	double tuak = rate(o->seconds, 256, run_tuak, s);
	double tuak_batch = rate(o->seconds, NSUB, run_tuak_batch, s);

	aa = omc_calloc(1, sizeof *aa);
	ctx = EVP_CIPHER_CTX_new();
	if (!aa || !ctx || EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, s->in[0].k, NULL) != 1)
		goto out;
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	aa->ctx = ctx;
	double aes = rate(o->seconds, 4096, run_aes_single, aa);
	double aes_bulk = rate(o->seconds, 65536, run_aes_bulk, aa);
	uint64_t st[25] = {1};
	double keccak = rate(o->seconds, 4096, run_keccak, st);

	if (o->json) {
		cli_json j;
		cli_json_begin(&j, stdout);
		cli_json_u64(&j, "milenage_vectors_per_s", (uint64_t)single);
		cli_json_u64(&j, "milenage_batch_vectors_per_s", (uint64_t)batch);
		cli_json_str(&j, "milenage_batch_impl", omc_aka_impl_name(best));
		cli_json_u64(&j, "tuak_vectors_per_s", (uint64_t)tuak);
		cli_json_u64(&j, "tuak_batch_vectors_per_s", (uint64_t)tuak_batch);
		cli_json_u64(&j, "aes_blocks_per_s", (uint64_t)aes);
		cli_json_u64(&j, "aes_bulk_blocks_per_s", (uint64_t)aes_bulk);
		cli_json_u64(&j, "keccak_perms_per_s", (uint64_t)keccak);
		cli_json_num(&j, "milenage_ratio_to_aes", single / aes);
		cli_json_num(&j, "milenage_batch_ratio_to_aes", batch / aes);
		cli_json_num(&j, "tuak_ratio_to_keccak", tuak / keccak);
		cli_json_num(&j, "tuak_batch_ratio_to_keccak", tuak_batch / keccak);
		cli_json_end(&j);
	} else {
		printf("openmcim bench aka (one core, %.2f s per figure)\n\n", o->seconds);
		printf("%-40s %14s   %s\n", "measure", "per second", "ratio to its bound");
		printf("%-40s %14.0f   (bound)\n", "AES-128 blocks, one per OpenSSL call", aes);
		printf("%-40s %14.0f   (ceiling)\n", "AES-128 blocks, OpenSSL ECB 4 KiB", aes_bulk);
		printf("%-40s %14.0f   (bound)\n", "Keccak-f[1600] permutations (nettle)", keccak);
		printf("%-40s %14.0f   %.3f of AES blocks\n", "MILENAGE vectors, single call", single, single / aes);
		for (int i = OMC_AKA_IMPL_OPENSSL; i <= OMC_AKA_IMPL_LAST; i++) {
			if (per_impl[i] <= 0)
				continue;
			char label[64];
			snprintf(label, sizeof label, "MILENAGE vectors, batch (%s)%s", omc_aka_impl_name((omc_aka_impl)i),
				 i == (int)best ? " *" : "");
			printf("%-40s %14.0f   %.3f of AES blocks\n", label, per_impl[i], per_impl[i] / aes);
		}
		printf("%-40s %14.0f   %.3f of permutations\n", "TUAK vectors, single call", tuak, tuak / keccak);
		printf("%-40s %14.0f   %.3f of permutations\n", "TUAK vectors, batch", tuak_batch, tuak_batch / keccak);
		printf("\nEvery vector uses a new K. A MILENAGE vector is 5 AES blocks and a key\n"
		       "expansion; a TUAK vector 2 permutations. * = the batch path's choice here.\n");
	}
	rc = CLI_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	omc_free(aa);
	omc_free(s);
	return rc;
}
