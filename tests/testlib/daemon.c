/* Test daemons (see daemon.h). */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

static char dir[64];
static td_proc procs[TD_MAX];
static bool registered;

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

void td_cleanup(void)
{
	for (size_t i = 0; i < TD_MAX; i++)
		if (procs[i].pid > 0)
			(void)td_stop(&procs[i]);
	if (dir[0] && !getenv("OMC_KEEP_PEERS_DIR"))
		(void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	dir[0] = 0;
}

const char *td_dir(const char *tag)
{
	if (!dir[0]) {
		snprintf(dir, sizeof dir, "/tmp/omc-%s-XXXXXX", tag);
		if (!mkdtemp(dir))
			fail_msg("mkdtemp: %s", strerror(errno));
		chmod(dir, 0755);
	}
	if (!registered) {
		atexit(td_cleanup);
		registered = true;
	}
	return dir;
}

void td_path(char *p, size_t cap, const char *name)
{
	if (snprintf(p, cap, "%s/%s", dir, name) >= (int)cap)
		fail_msg("path too long: %s", name);
}

td_proc *td_start(const char *name, const char *const *argv, const char *const *env)
{
	td_proc *p = NULL;
	for (size_t i = 0; i < TD_MAX && !p; i++)
		if (procs[i].pid == 0)
			p = &procs[i];
	assert_non_null(p);
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", name);
	char ln[64];
	snprintf(ln, sizeof ln, "%s.log", name);
	td_path(p->log, sizeof p->log, ln);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(p->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
		if (in < 0 || out < 0)
			_exit(126);
		dup2(in, 0);
		dup2(out, 1);
		dup2(out, 2);
		for (size_t i = 0; env && env[i]; i++)
			putenv((char *)(uintptr_t)env[i]);
		execvp(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	p->pid = pid;
	return p;
}

void td_read_log(const td_proc *p, char *buf, size_t cap)
{
	buf[0] = 0;
	FILE *f = fopen(p->log, "r");
	if (!f)
		return;
	size_t n = fread(buf, 1, cap - 1, f);
	buf[n] = 0;
	fclose(f);
}

bool td_wait_log(td_proc *p, const char *text, int ms)
{
	static char buf[1 << 20];
	long end = now_ms() + ms;
	for (;;) {
		td_read_log(p, buf, sizeof buf);
		if (strstr(buf, text))
			return true;
		int st;
		if (p->pid > 0 && waitpid(p->pid, &st, WNOHANG) == p->pid) {
			p->pid = -1;
			fprintf(stderr, "%s exited (status 0x%x) before '%s'; its log:\n%s\n", p->name, (unsigned)st,
				text, buf);
			return false;
		}
		if (now_ms() > end) {
			fprintf(stderr, "%s: no '%s' within %d ms; its log:\n%s\n", p->name, text, ms, buf);
			return false;
		}
		usleep(20000);
	}
}

bool td_wait_path(const char *path, int ms)
{
	long end = now_ms() + ms;
	while (access(path, F_OK) != 0) {
		if (now_ms() > end)
			return false;
		usleep(20000);
	}
	return true;
}

int td_stop(td_proc *p)
{
	if (p->pid <= 0) {
		p->pid = 0;
		return -1;
	}
	int st = -1;
	kill(p->pid, SIGTERM);
	long end = now_ms() + 10000;
	pid_t w;
	while ((w = waitpid(p->pid, &st, WNOHANG)) == 0 && now_ms() < end)
		usleep(20000);
	if (w != p->pid) {
		kill(p->pid, SIGKILL);
		(void)waitpid(p->pid, &st, 0);
	}
	p->pid = 0;
	return st;
}

static bool port_bindable(unsigned port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
	close(s);
	return ok;
}

/* A port below Linux's ephemeral range (32768 up), so no client socket of
 * another test takes it between this check and the daemon's bind; and, for
 * daemons that listen on two (vpcd: port and port + 1), its neighbour free
 * too. */
unsigned td_free_port(void)
{
	static unsigned next; /* successive calls in one process differ */
	for (int i = 0; i < 1000; i++) {
		unsigned p = 20000u + ((unsigned)getpid() * 7919u + next++ * 2u) % 12000u;
		if (port_bindable(p) && port_bindable(p + 1))
			return p;
	}
	fail_msg("no free port pair");
	return 0;
}

bool td_file_has(const char *path, const char *text)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	static char buf[1 << 22];
	size_t n = fread(buf, 1, sizeof buf - 1, f), m = 0;
	fclose(f);
	for (size_t i = 0; i < n; i++) /* hex in APDU logs comes as "A0 B1 ..." */
		if (buf[i] != ' ')
			buf[m++] = buf[i];
	buf[m] = 0;
	return strcasestr(buf, text) != NULL;
}
