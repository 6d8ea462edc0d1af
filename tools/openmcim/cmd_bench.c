/* openmcim bench: run benchmarks. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sched.h>

#include "bench.h"
#include "cli.h"
#include "openmcim/server.h"

static const char bench_usage[] =
	"usage: openmcim bench [aka|tre|server|sim] [--seconds S] [--json] [--db URI]\n"
	"                      [--server-dir DIR [--server MAP[,MAP...]]]\n"
	"\n"
	"Runs the benchmarks and prints each figure beside its bound, both measured in\n"
	"the same run on one core (the HTTP figures of server: on every core). Without a\n"
	"name: all four, then one table of every figure beside its bound (with --json,\n"
	"one object: each bench's object under its name, and \"rows\").\n"
	"\n"
	"  aka          MILENAGE vectors per second (single call and batch path, a new K\n"
	"               for every vector), TUAK vectors per second; bounds: the AES-128\n"
	"               block rate through OpenSSL and the Keccak-f[1600] permutation rate\n"
	"  tre          TRE transactions per second (MCIM installs, signed lifecycle\n"
	"               changes, AKA runs inside) with fsyncs per commit, and the code size\n"
	"               of the TRE core; bounds: P-256 ECDSA verifications, bare store\n"
	"               commits, the USIM-side AKA check with its state in RAM\n"
	"  server       the AuC on SQLite: vectors per second in batches of 1 and of 32,\n"
	"               each batch one durable transaction; bound: vectors made in memory.\n"
	"               Then the demo deployment of `openmcim server` in this process over\n"
	"               loopback HTTP, 2 client threads: AVs (batches of 1 and 32),\n"
	"               validations and MCIM packages per second, the database in /tmp\n"
	"               and in /dev/shm; bound: the P-256 work each costs at OpenSSL's\n"
	"               ECDSA, ECDH and key generation rates on 2 threads; with --db URI\n"
	"               (an empty PostgreSQL database, postgresql://...) also on it\n"
	"  sim          `openmcim sim` on 400 x S devices (at least 20), no faults:\n"
	"               provisions per second beside the rate its 64 open devices allow\n"
	"               at the measured p50 latency, and the server's peak RSS per device\n"
	"               beside the goal of 2048 bytes\n"
	"  --seconds S  time per measurement (default 0.5; 0.02 keeps a test short)\n"
	"  --server-dir DIR, --server MAP  server and sim over HTTP against a running\n"
	"               deployment and its replicas, round robin (as `openmcim sim`;\n"
	"               docs/sim.md, \"External servers\")\n"
	"  --json       one JSON object per benchmark, one per line (keys in docs/bench.md)\n";

double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static cpu_set_t unpinned;
static bool have_unpinned;

void bench_pin(void)
{
	int cpu = sched_getcpu();
	if (cpu < 0)
		return;
	if (!have_unpinned && sched_getaffinity(0, sizeof unpinned, &unpinned) == 0)
		have_unpinned = true;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET((size_t)cpu, &set);
	(void)sched_setaffinity(0, sizeof set, &set);
}

void bench_unpin(void)
{
	if (have_unpinned)
		(void)sched_setaffinity(0, sizeof unpinned, &unpinned);
}

int cmd_bench(int argc, char **argv)
{
	static const struct option opts[] = {
		{"seconds", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"server", required_argument, NULL, 'S'},
		{"server-dir", required_argument, NULL, 'D'},
		{"db", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const char *maps[16];
	bench_opts o = {.seconds = 0.5, .json = false, .maps = maps};
	opterr = 0;
	optind = 0;
	int c;
	/* GNU getopt permutes: options may come before or after the name. */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': {
			char *end;
			o.seconds = strtod(optarg, &end);
			if (*end || end == optarg || !(o.seconds > 0 && o.seconds <= 600))
				return cli_usage_error("bench", "--seconds: expected a number from 0 to 600, got '%s'",
						       optarg);
			break;
		}
		case 'j':
			o.json = true;
			break;
		case 'S':
			if (!*optarg || o.n_maps == sizeof maps / sizeof maps[0])
				return cli_usage_error("bench", "--server: 1 to 16 role maps");
			maps[o.n_maps++] = optarg;
			break;
		case 'D':
			o.server_dir = optarg;
			break;
		case 'd':
			if (!omc_db_is_pg(optarg))
				return cli_usage_error("bench", "--db: expected a PostgreSQL URI (postgresql://...), got '%s'",
						       optarg);
			o.db = optarg;
			break;
		case 'h':
			fputs(bench_usage, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("bench", "unknown option '%s'", argv[optind - 1]);
		}
	}
	const char *which = optind < argc ? argv[optind++] : NULL;
	if (optind < argc)
		return cli_usage_error("bench", "unexpected argument '%s'", argv[optind]);
	if (o.n_maps && !o.server_dir)
		return cli_usage_error("bench", "--server needs --server-dir DIR (the deployment's PKI and subscribers)");
	if (o.server_dir && which && strcmp(which, "server") != 0 && strcmp(which, "sim") != 0)
		return cli_usage_error("bench", "--server-dir goes with server and sim, not %s", which);
	if (which && !strcmp(which, "aka"))
		return bench_aka(&o);
	if (which && !strcmp(which, "tre"))
		return bench_tre(&o);
	if (which && !strcmp(which, "server"))
		return bench_server(&o);
	if (which && !strcmp(which, "sim"))
		return bench_sim(&o);
	if (!which)
		return bench_all(&o);
	return cli_usage_error("bench", "unknown benchmark '%s' (available: aka, tre, server, sim)", which);
}
