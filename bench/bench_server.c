/* openmcim bench server: what exists of the network side so far, the AuC on
 * its SQLite database (a real file, synchronous=FULL), each figure beside
 * the bound measured in the same run. The HTTP figures of issue 4 join it
 * when the roles' endpoints land. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "openmcim/server.h"
#include "openmcim/util.h"
#include "util/util_internal.h"

#define SUBS 64

static int rmrf(const char *dir)
{
	char cmd[256];
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
static double engine_rate(const omc_aka_cred *c, double seconds)
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
	return (double)n / (t - t0);
}

int bench_server(const bench_opts *o)
{
	bench_pin();
	char dir[] = "/tmp/omc-bench-server-XXXXXX";
	if (!mkdtemp(dir)) {
		fprintf(stderr, "openmcim bench server: cannot make a temporary directory\n");
		return CLI_ERROR;
	}
	char path[sizeof dir + 16];
	snprintf(path, sizeof path, "%s/auc.db", dir);
	omc_db *db = NULL;
	omc_auc *a = NULL;
	uint8_t master[32], k[16], opc[16];
	omc_aka_cred c = {.alg = OMC_AKA_ALG_MILENAGE};
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
	double b1 = 0, c1 = 0, b32 = 0, c32 = 0, eng = 0;
	if (e == OMC_OK)
		e = auc_rate(&b1, &c1, a, 1, o->seconds);
	if (e == OMC_OK)
		e = auc_rate(&b32, &c32, a, OMC_AUC_BATCH_MAX, o->seconds);
	if (e == OMC_OK)
		eng = engine_rate(&c, o->seconds);
	omc_aka_cred_wipe(&c);
	omc_memzero(master, sizeof master);
	omc_memzero(k, sizeof k);
	omc_memzero(opc, sizeof opc);
	omc_auc_close(a);
	omc_db_close(db);
	if (rmrf(dir) != 0)
		fprintf(stderr, "openmcim bench server: could not remove %s\n", dir);
	if (e != OMC_OK || eng <= 0) {
		fprintf(stderr, "openmcim bench server: %s\n", omc_err_str(e != OMC_OK ? e : OMC_ERR_BUG));
		return CLI_ERROR;
	}
	if (o->json) {
		cli_json j;
		cli_json_begin(&j, stdout);
		cli_json_u64(&j, "auc_avs_per_s_batch1", (uint64_t)b1);
		cli_json_u64(&j, "auc_avs_per_s_batch32", (uint64_t)b32);
		cli_json_u64(&j, "auc_commits_per_s_batch1", (uint64_t)c1);
		cli_json_u64(&j, "engine_avs_per_s", (uint64_t)eng);
		cli_json_num(&j, "auc_batch1_ratio_to_engine", b1 / eng);
		cli_json_num(&j, "auc_batch32_ratio_to_engine", b32 / eng);
		cli_json_end(&j);
	} else {
		printf("openmcim bench server (one core, the AuC on SQLite in a temporary directory, %.2f s per figure)\n\n",
		       o->seconds);
		printf("%-44s %12s   %s\n", "measure", "per second", "ratio to its bound");
		printf("%-44s %12.0f   (bound)\n", "MILENAGE vectors in memory (omc_aka_av_gen)", eng);
		printf("%-44s %12.0f   %.4f of the engine (%.0f commits/s)\n", "AuC vectors, batches of 1", b1, b1 / eng,
		       c1);
		printf("%-44s %12.0f   %.4f of the engine\n", "AuC vectors, batches of 32", b32, b32 / eng);
		printf("\nEach batch is one durable transaction (synchronous=FULL): the SQN range is\n"
		       "reserved and every vector logged before any is made. No HTTP yet.\n");
	}
	return CLI_OK;
}
