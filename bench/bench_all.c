/* openmcim bench without a name: aka, tre, server and sim in that order,
 * each run with --json into a temporary file, then one table of every
 * figure beside its bound from the same run (docs/bench.md, "All of
 * them"). */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "bench.h"
#include "cli.h"

typedef struct all_row {
	const char *bench, *measure, *figure, *bound;
	double bound_const; /* when bound is NULL: a goal, not a measurement */
	const char *bound_is;
} all_row;

/* Each figure and the key of its bound in the same bench's object. */
static const all_row rows[] = {
	{"aka", "MILENAGE vectors/s, one per call", "milenage_vectors_per_s", "aes_blocks_per_s", 0,
	 "AES blocks/s, one per call"},
	{"aka", "MILENAGE vectors/s, batch path", "milenage_batch_vectors_per_s", "aes_blocks_per_s", 0,
	 "AES blocks/s, one per call"},
	{"aka", "TUAK vectors/s", "tuak_vectors_per_s", "keccak_perms_per_s", 0, "Keccak-f[1600]/s"},
	{"tre", "MCIM installs/s", "installs_per_s", "ecdsa_p256_verifies_per_s", 0, "P-256 verifies/s"},
	{"tre", "signed lifecycle changes/s", "lifecycle_changes_per_s", "ecdsa_p256_verifies_per_s", 0,
	 "P-256 verifies/s"},
	{"tre", "AKA runs in the TRE/s", "aka_runs_per_s", "usim_checks_per_s", 0, "USIM checks in RAM/s"},
	{"server", "AuC vectors/s, batches of 1", "auc_avs_per_s_batch1", "engine_avs_per_s", 0,
	 "vectors in memory/s"},
	{"server", "AuC vectors/s, batches of 32", "auc_avs_per_s_batch32", "engine_avs_per_s", 0,
	 "vectors in memory/s"},
	{"server", "HTTP AVs/s, batches of 1", "http_avs_per_s_batch1", "http_avs_batch1_crypto_bound_per_s", 0,
	 "P-256 work at OpenSSL's rate"},
	{"server", "HTTP AVs/s, batches of 32", "http_avs_per_s_batch32", "http_avs_batch32_crypto_bound_per_s", 0,
	 "P-256 work at OpenSSL's rate"},
	{"server", "HTTP validations/s", "http_validations_per_s", "validation_crypto_bound_per_s", 0,
	 "P-256 work at OpenSSL's rate"},
	{"server", "HTTP MCIM packages/s", "http_packages_per_s", "package_crypto_bound_per_s", 0,
	 "P-256 work at OpenSSL's rate"},
	{"server", "HTTP validations/s, tmpfs", "http_validations_per_s_tmpfs", "validation_crypto_bound_per_s", 0,
	 "P-256 work at OpenSSL's rate"},
	{"server", "HTTP MCIM packages/s, tmpfs", "http_packages_per_s_tmpfs", "package_crypto_bound_per_s", 0,
	 "P-256 work at OpenSSL's rate"},
	{"sim", "fleet provisions/s", "sim_provisions_per_s", "sim_window_bound_per_s", 0,
	 "open devices / p50 latency"},
	{"sim", "server RSS per device, bytes", "sim_server_rss_per_device_bytes", NULL, 2048,
	 "the goal of issue 8 (2 KiB)"},
};

/* Run one bench with --json, its standard output caught in a temporary
 * file: the object it printed (NULL on failure; *rc its status). */
static json_t *run_json(int (*fn)(const bench_opts *), const bench_opts *o, const char *name, int *rc)
{
	bench_opts jo = *o;
	jo.json = true;
	FILE *tmp = tmpfile();
	int saved = dup(STDOUT_FILENO);
	if (!tmp || saved < 0) {
		if (tmp)
			fclose(tmp);
		if (saved >= 0)
			close(saved);
		fprintf(stderr, "openmcim bench: cannot make a temporary file\n");
		*rc = CLI_ERROR;
		return NULL;
	}
	fflush(stdout);
	dup2(fileno(tmp), STDOUT_FILENO);
	*rc = fn(&jo);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	rewind(tmp);
	json_error_t je;
	json_t *j = *rc == CLI_OK ? json_loadf(tmp, JSON_DISABLE_EOF_CHECK, &je) : NULL;
	fclose(tmp);
	if (*rc == CLI_OK && !json_is_object(j)) {
		fprintf(stderr, "openmcim bench: %s printed no JSON object\n", name);
		json_decref(j);
		j = NULL;
		*rc = CLI_ERROR;
	}
	return j;
}

int bench_all(const bench_opts *o)
{
	static const struct {
		const char *name;
		int (*fn)(const bench_opts *);
	} benches[] = {{"aka", bench_aka}, {"tre", bench_tre}, {"server", bench_server}, {"sim", bench_sim}};
	json_t *all = json_object(), *out_rows = json_array();
	int rc = all && out_rows ? CLI_OK : CLI_ERROR;
	for (size_t i = 0; rc == CLI_OK && i < sizeof benches / sizeof benches[0]; i++) {
		if (!o->json)
			fprintf(stderr, "openmcim bench: %s ...\n", benches[i].name);
		json_t *j = run_json(benches[i].fn, o, benches[i].name, &rc);
		if (j)
			json_object_set_new(all, benches[i].name, j);
	}
	if (rc != CLI_OK) {
		json_decref(all);
		json_decref(out_rows);
		return rc;
	}
	if (!o->json) {
		printf("openmcim bench (%.2f s per figure): every figure beside its bound from this run\n\n", o->seconds);
		printf("%-7s %-36s %13s %13s %9s   %s\n", "bench", "measure", "figure", "bound", "ratio", "the bound");
	}
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const all_row *r = &rows[i];
		const json_t *b = json_object_get(all, r->bench);
		const json_t *fv = json_object_get(b, r->figure);
		if (!json_is_number(fv)) /* the tmpfs rows, when /dev/shm is not writable */
			continue;
		double fig = json_number_value(fv);
		double bound = r->bound ? json_number_value(json_object_get(b, r->bound)) : r->bound_const;
		double ratio = bound > 0 ? fig / bound : 0;
		json_array_append_new(out_rows,
				      json_pack("{s:s,s:s,s:s,s:f,s:s?,s:f,s:f,s:s}", "bench", r->bench, "measure",
						r->measure, "figure_key", r->figure, "figure", fig, "bound_key", r->bound,
						"bound", bound, "ratio", ratio, "bound_is", r->bound_is));
		if (!o->json)
			printf("%-7s %-36s %13.1f %13.1f %9.4f   %s\n", r->bench, r->measure, fig, bound, ratio,
			       r->bound_is);
	}
	json_object_set_new(all, "rows", out_rows);
	json_object_set_new(all, "seconds", json_real(o->seconds));
	if (o->json) {
		if (json_dumpf(all, stdout, JSON_COMPACT) != 0 || putchar('\n') == EOF)
			rc = CLI_ERROR;
	} else {
		const json_t *sim = json_object_get(all, "sim");
		printf("\nsim: %lld devices, p50 %.0f ms, p99 %.0f ms. `openmcim bench NAME` prints each\n"
		       "bench's own table with the rest of its figures (docs/bench.md).\n",
		       (long long)json_integer_value(json_object_get(sim, "sim_devices")),
		       json_number_value(json_object_get(sim, "sim_p50_ms")),
		       json_number_value(json_object_get(sim, "sim_p99_ms")));
	}
	json_decref(all);
	return rc;
}
