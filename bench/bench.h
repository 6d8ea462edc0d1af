/* openmcim benchmarks: shared timing helpers. Figures are rates measured in
 * one run, each printed beside its bound from the same run; nothing here is
 * a pass/fail assertion. */
#ifndef OMC_BENCH_H
#define OMC_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include <stddef.h>

typedef struct bench_opts {
	double seconds; /* per measurement */
	bool json;
	/* --server-dir DIR and --server MAP[,MAP...] (server, sim): an external
	 * deployment instead of the demo one (docs/sim.md, "External servers") */
	const char *server_dir;
	const char *const *maps;
	size_t n_maps;
	const char *db; /* server: also on this PostgreSQL database (--db URI, empty) */
} bench_opts;

double bench_now(void);
/* Pin the calling thread to the CPU it runs on (one core); bench_unpin
 * gives it back every CPU it had before the first bench_pin (threads it
 * starts afterwards inherit that). */
void bench_pin(void);
void bench_unpin(void);

int bench_aka(const bench_opts *o);
int bench_tre(const bench_opts *o);
int bench_server(const bench_opts *o);
int bench_sim(const bench_opts *o);
/* All four, then one table of every figure beside its bound (bench_all.c). */
int bench_all(const bench_opts *o);

#endif
