/* Several `openmcim server` replicas on one database, one of them killed
 * in the middle (issue 9): the demo deployment (`openmcim server --demo
 * --dir D`, with --db on PostgreSQL) and two more replicas of it
 * (`openmcim server --config D/server.conf`) share one database; `openmcim
 * sim --server-dir D --server MAP1,MAP2,MAP3` spreads every device's
 * requests over the three, round robin; once a quarter of the devices hold
 * their MCIM, the second replica is killed (SIGKILL, mid-request). Every
 * device must still complete exactly once: the simulator's invariants, and
 * the database's own record (one installed download per TRE, one TRE per
 * IMSI, no IMSI twice, no command left open).
 *
 * Runs on PostgreSQL under OMC_TEST_PG (the entry replicas_cli_test_pg, the
 * cluster of scripts/pg/cluster.sh), else on one SQLite file that the three
 * processes share. The real binary is argv[1].
 * covers: EVAL-8, SEC-9, CCIF-2 */
#include "srv_fixture.h"
#include "testlib.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REPLICAS 3
#define DEVICES 240

static const char *bin;
static pid_t kids[REPLICAS + 1];

static void stop_all(void)
{
	for (size_t i = 0; i < sizeof kids / sizeof kids[0]; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGTERM);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
}

/* argv (bin first) with stdout into out, stderr into out.err. */
static pid_t spawn(const char *const *argv, const char *out)
{
	char err[600];
	snprintf(err, sizeof err, "%s.err", out);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600), e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (o < 0 || e < 0)
			_exit(126);
		dup2(o, 1);
		dup2(e, 2);
		execv(bin, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	return pid;
}

static void sleep_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

/* Up to 120 s (the machine is shared) until path holds a whole line. */
static void wait_line(const char *path, pid_t pid)
{
	for (int i = 0; i < 1200; i++) {
		FILE *f = fopen(path, "r");
		char line[4096] = "";
		bool got = f && fgets(line, sizeof line, f) && strchr(line, '\n');
		if (f)
			fclose(f);
		if (got)
			return;
		assert_int_equal(waitpid(pid, NULL, WNOHANG), 0); /* still running */
		sleep_ms(100);
	}
	fail_msg("no role map in %s", path);
}

static void test_kill_one_replica(void **state)
{
	(void)state;
	char root[] = "/tmp/omc-replicas-XXXXXX";
	assert_non_null(mkdtemp(root));
	sf_env e;
	memset(&e, 0, sizeof e);
	char dep[64], maps[REPLICAS][96], simout[96];
	snprintf(dep, sizeof dep, "%s/dep", root);
	bool pg = sf_db_new(e.db, sizeof e.db, dep);
	for (unsigned r = 0; r < REPLICAS; r++)
		snprintf(maps[r], sizeof maps[r], "%s/r%u.out", root, r + 1);

	/* The deployment, then the other replicas of it. */
	const char *a1[] = {bin, "server", "--demo", "--dir", dep, "--log-level", "err", pg ? "--db" : NULL, e.db, NULL};
	kids[0] = spawn(a1, maps[0]);
	wait_line(maps[0], kids[0]);
	char conf[96];
	snprintf(conf, sizeof conf, "%s/server.conf", dep);
	for (unsigned r = 1; r < REPLICAS; r++) {
		const char *a[] = {bin, "server", "--config", conf, "--log-level", "err", NULL};
		kids[r] = spawn(a, maps[r]);
		wait_line(maps[r], kids[r]);
	}

	/* The fleet over the three. */
	char list[3 * 96 + 4], n[16];
	snprintf(list, sizeof list, "%s,%s,%s", maps[0], maps[1], maps[2]);
	snprintf(n, sizeof n, "%d", DEVICES);
	snprintf(simout, sizeof simout, "%s/sim.json", root);
	const char *as[] = {bin, "sim", "--devices", n, "--server-dir", dep, "--server", list, "--json", NULL};
	kids[REPLICAS] = spawn(as, simout);

	/* In the middle: a quarter of the devices hold their MCIM, the fleet
	 * is still running; then the second replica goes, mid-request. */
	long installed = 0;
	for (int i = 0; i < 3000 && installed < DEVICES / 4; i++) {
		assert_int_equal(waitpid(kids[REPLICAS], NULL, WNOHANG), 0);
		installed = sf_db_count(&e, "SELECT count(*) FROM dpf_download WHERE state = 'installed'");
		sleep_ms(100);
	}
	assert_true(installed >= DEVICES / 4);
	assert_int_equal(kill(kids[1], SIGKILL), 0);
	waitpid(kids[1], NULL, 0);
	kids[1] = 0;
	long at_kill = sf_db_count(&e, "SELECT count(*) FROM dpf_download WHERE state = 'installed'");
	assert_true(at_kill < DEVICES); /* the kill came before the end */

	int st = 0;
	assert_int_equal(waitpid(kids[REPLICAS], &st, 0), kids[REPLICAS]);
	kids[REPLICAS] = 0;
	char out[65536] = "";
	FILE *f = fopen(simout, "r");
	assert_non_null(f);
	size_t got = fread(out, 1, sizeof out - 1, f);
	fclose(f);
	out[got] = 0;
	json_error_t je;
	json_t *o = json_loads(out, JSON_DISABLE_EOF_CHECK, &je);
	if (!o || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("sim: exit %d, %s", WIFEXITED(st) ? WEXITSTATUS(st) : -1, out);
	assert_true(json_is_true(json_object_get(o, "invariants_ok")));
	assert_int_equal(json_integer_value(json_object_get(o, "provisioned")), DEVICES);
	assert_int_equal(json_integer_value(json_object_get(o, "replicas")), REPLICAS);
	json_decref(o);

	/* The database's own account of it, read after the last replica
	 * stopped: one installed download per device, never two, and no IMSI
	 * given twice. */
	stop_all();
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM dpf_download WHERE state = 'installed'"), DEVICES);
	assert_int_equal(sf_db_count(&e, "SELECT count(DISTINCT tre_id) FROM dpf_download WHERE state = 'installed'"),
			 DEVICES);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM sho_mcim WHERE state = 'installed'"), DEVICES);
	assert_int_equal(sf_db_count(&e, "SELECT count(DISTINCT imsi) FROM sho_mcim"),
			 sf_db_count(&e, "SELECT count(*) FROM sho_mcim"));
	assert_int_equal(sf_db_count(&e, "SELECT count(DISTINCT tre_id) FROM sho_mcim"), DEVICES);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM drf_device WHERE state = 'provisioned'"), DEVICES);
	if (pg)
		sf_db_drop(e.db);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s OPENMCIM\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	atexit(stop_all);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_one_replica),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
