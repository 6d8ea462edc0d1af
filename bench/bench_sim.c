/* openmcim bench sim: `openmcim sim` (this binary, a child process) on a
 * small fleet without faults; the provisioning rate beside the rate its
 * window of open devices allows at the latency measured in the same run
 * (Little's law), and the server's peak RSS per device beside the goal
 * of issue 8 (2 KiB). docs/bench.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "bench.h"
#include "cli.h"
#include "openmcim/openmcim.h"

#define SIM_BENCH_WINDOW 64.0 /* cmd_sim.c SIM_WINDOW */

int bench_sim(const bench_opts *o)
{
	unsigned devices = (unsigned)(o->seconds * 400);
	if (devices < 20)
		devices = 20;
	if (devices > 100000)
		devices = 100000;
	char self[512], cmd[4096];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
	if (sl > 0)
		self[sl] = 0;
	if (sl <= 0 || strchr(self, '\'') != NULL) {
		fprintf(stderr, "openmcim bench sim: cannot find this binary\n");
		return CLI_ERROR;
	}
	int n = snprintf(cmd, sizeof cmd, "'%s' sim --devices %u --json", self, devices);
	/* --server-dir and --server go to the simulator as they came. */
	for (size_t i = 0; o->server_dir && i <= o->n_maps && n > 0 && (size_t)n < sizeof cmd; i++) {
		const char *v = i == 0 ? o->server_dir : o->maps[i - 1];
		if (strchr(v, '\'')) {
			fprintf(stderr, "openmcim bench sim: a quote in '%s'\n", v);
			return CLI_USAGE;
		}
		n += snprintf(cmd + n, sizeof cmd - (size_t)n, " %s '%s'", i == 0 ? "--server-dir" : "--server", v);
	}
	if (n <= 0 || (size_t)n >= sizeof cmd) {
		fprintf(stderr, "openmcim bench sim: the arguments are too long\n");
		return CLI_USAGE;
	}
	FILE *p = popen(cmd, "r");
	if (!p) {
		fprintf(stderr, "openmcim bench sim: cannot start the simulator\n");
		return CLI_ERROR;
	}
	char line[4096] = "";
	size_t got = fread(line, 1, sizeof line - 1, p);
	line[got] = 0;
	int st = pclose(p);
	json_error_t je;
	json_t *j = json_loads(line, JSON_DISABLE_EOF_CHECK, &je);
	if (!j || st != 0) {
		fprintf(stderr, "openmcim bench sim: the simulator failed (status %d)\n", st);
		json_decref(j);
		return CLI_FAIL;
	}
	double rate = json_number_value(json_object_get(j, "provision_rate_per_s"));
	double p50 = json_number_value(json_object_get(j, "p50_ms"));
	double p99 = json_number_value(json_object_get(j, "p99_ms"));
	double rss = json_number_value(json_object_get(j, "server_rss_bytes"));
	double open = devices < SIM_BENCH_WINDOW ? devices : SIM_BENCH_WINDOW;
	double bound = p50 > 0 ? open * 1000.0 / p50 : 0;
	double per_dev = rss / devices;
	json_decref(j);
	if (o->json) {
		printf("{\"sim_devices\":%u,\"sim_provisions_per_s\":%.2f,\"sim_p50_ms\":%.1f,\"sim_p99_ms\":%.1f,"
		       "\"sim_server_rss_bytes\":%.0f,\"sim_server_rss_per_device_bytes\":%.1f,"
		       "\"sim_window_bound_per_s\":%.2f,\"sim_ratio_to_window_bound\":%.4f,"
		       "\"sim_rss_ratio_to_goal\":%.2f}\n",
		       devices, rate, p50, p99, rss, per_dev, bound, bound > 0 ? rate / bound : 0, per_dev / 2048.0);
		return CLI_OK;
	}
	printf("openmcim sim, %u devices, no faults, at most %.0f open at once\n", devices, open);
	printf("%-44s %12s   %s\n", "measure", "figure", "beside");
	printf("%-44s %12.1f   %.4f of %.1f/s (open devices / p50)\n", "provisions per second", rate,
	       bound > 0 ? rate / bound : 0, bound);
	printf("%-44s %12.0f   p99 %.0f ms\n", "provisioning latency p50, ms", p50, p99);
	printf("%-44s %12.0f   %.1fx the goal of 2048 (%.0f bytes peak)\n", "server RSS per device, bytes", per_dev,
	       per_dev / 2048.0, rss);
	return CLI_OK;
}
