/* Slow and half-open HTTP clients against `openmcim server` (issue 7,
 * docs/SECURITY.md): connections opened and left idle, headers trickled and
 * never finished, a body announced and never sent whole, many at once. The
 * listener holds no thread per connection, so a normal client is served
 * while they hang on; an idle one is closed after `[server]
 * connection_timeout`, and past `connection_limit_per_ip` a new connection
 * from that address is closed as it is accepted, while other addresses are
 * still served. The attackers come from 127.0.0.2 (all of 127/8 is
 * loopback), the normal client from 127.0.0.1. Waits are generous and only
 * bound how long the test may take: nothing here measures time.
 * covers: NET-1 (the network roles stay available) */
#include "srv_fixture.h"

#include "util/util_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ATTACKER "127.0.0.2"
#define WAIT_S 180 /* the most any socket is waited for */

static uint16_t port_of(sf_env *e, const char *role)
{
	const char *u = sf_url(e, role);
	const char *p = strrchr(u, ':');
	assert_non_null(p);
	return (uint16_t)atoi(p + 1);
}

/* A connection from src to the listener; what is sent first (may be ""). */
static int open_from(const char *src, uint16_t port, const char *first)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	assert_int_equal(inet_pton(AF_INET, src, &a.sin_addr), 1);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
		fail_msg("bind %s: %s", src, strerror(errno));
	a.sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &a.sin_addr), 1);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
		fail_msg("connect: %s", strerror(errno));
	size_t n = strlen(first);
	if (n)
		assert_int_equal(send(fd, first, n, MSG_NOSIGNAL), (ssize_t)n);
	return fd;
}

/* A deadline s seconds from now, in ms of CLOCK_MONOTONIC. */
static long deadline_in(int s)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000 + s * 1000L;
}

/* Whether the server closed fd by the deadline, reading (and dropping)
 * whatever it said first. */
static bool closed_by(int fd, long deadline)
{
	for (;;) {
		long left = deadline - deadline_in(0);
		if (left <= 0)
			return false;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)left);
		if (r <= 0)
			continue;
		char buf[512];
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
	}
}

/* A whole GET /healthz from src on a connection of its own: its status (0:
 * closed without one). */
static int get_healthz_from(const char *src, uint16_t port)
{
	int fd = open_from(src, port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	char buf[2048];
	size_t len = 0;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, WAIT_S * 1000) <= 0)
			fail_msg("no answer to GET /healthz from %s", src);
		ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
		if (n <= 0 || (len += (size_t)n) == sizeof buf - 1)
			break;
	}
	close(fd);
	buf[len] = 0;
	int st = 0;
	if (sscanf(buf, "HTTP/1.1 %d", &st) != 1)
		return 0;
	return st;
}

/* The normal client (127.0.0.1): a real handler answers, and healthz. */
static void normal_client_served(sf_env *e)
{
	json_t *o = NULL;
	assert_int_equal(sf_call(e, "POST", "vno", "/v1/attach", NULL, "{}", &o), 400);
	assert_string_equal(sf_code(o), "bad_request");
	json_decref(o);
	assert_int_equal(sf_call(e, "GET", "drf", "/healthz", NULL, NULL, NULL), 200);
}


static const char *const half[] = {
	"",                                                     /* opened and left */
	"POST /v1/attach HTTP/1.1\r\nHost: x\r\n",              /* headers never finished */
	("POST /v1/attach HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	 "Content-Length: 100000\r\n\r\n{\"imsi\":"),            /* a body never finished */
	"G",                                                    /* a request line never finished */
};

#define N_IDLE 40

/* Idle and half-open connections are closed after connection_timeout, and
 * meanwhile other clients are served. */
static void test_idle_connections_closed(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_restart_with(&e, "server", "connection_timeout = 2\n");
	uint16_t port = port_of(&e, "vno");
	int fd[N_IDLE];
	for (int i = 0; i < N_IDLE; i++)
		fd[i] = open_from(ATTACKER, port, half[(size_t)i % OMC_ARRAY_LEN(half)]);
	normal_client_served(&e);
	assert_int_equal(get_healthz_from("127.0.0.1", port), 200);
	/* 25 s: below the default timeout (30 s), so that the 2 s configured
	 * is the one that closed them, and still more than ten times it. */
	long end = deadline_in(25);
	for (int i = 0; i < N_IDLE; i++) {
		if (!closed_by(fd[i], end))
			fail_msg("connection %d (\"%.20s\") still open after 25 s", i,
				 half[(size_t)i % OMC_ARRAY_LEN(half)]);
		close(fd[i]);
	}
	/* and the listener still serves the attacker's address too */
	assert_int_equal(get_healthz_from(ATTACKER, port), 200);
	normal_client_served(&e);
	print_message("%d idle or half-open connections closed by the 2 s timeout\n", N_IDLE);
	sf_down(&e);
}

#define PER_IP 8
#define BURST 30

/* Past connection_limit_per_ip, connections from that address are closed
 * as they come (the timeout is long: nothing else closes them), the ones
 * held stay open, other addresses are served; once the attacker lets go,
 * its address is served again. */
static void test_per_ip_limit(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_restart_with(&e, "server", "connection_timeout = 600\nconnection_limit_per_ip = 8\n");
	uint16_t port = port_of(&e, "vno");
	int held[PER_IP], burst[BURST];
	for (int i = 0; i < PER_IP; i++)
		held[i] = open_from(ATTACKER, port, half[1 + i % 3]);
	/* the server has taken them in once it answers this one, on the same thread or not */
	normal_client_served(&e);
	assert_int_equal(get_healthz_from("127.0.0.1", port), 200);
	for (int i = 0; i < BURST; i++)
		burst[i] = open_from(ATTACKER, port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	int refused = 0;
	long end = deadline_in(WAIT_S);
	for (int i = 0; i < BURST; i++) {
		if (closed_by(burst[i], end))
			refused++;
		close(burst[i]);
	}
	assert_int_equal(refused, BURST);
	normal_client_served(&e);
	/* the held ones are still open: the timeout is 600 s */
	for (int i = 0; i < PER_IP; i++)
		if (closed_by(held[i], deadline_in(0) + 200))
			fail_msg("held connection %d closed under the per-address limit", i);
	for (int i = 0; i < PER_IP; i++)
		close(held[i]);
	/* the address is served again once the server has seen them go */
	int st = 0;
	for (int t = 0; t < WAIT_S && st != 200; t++) {
		st = get_healthz_from(ATTACKER, port);
		if (st != 200)
			sleep(1);
	}
	assert_int_equal(st, 200);
	print_message("%d connections from one address held, %d more closed as they came\n", PER_IP, BURST);
	sf_down(&e);
}

/* The keys take bounded numbers only. */
static void test_bad_values_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"connection_timeout = 0\n",      "connection_timeout = 3601\n", "connection_timeout = 2s\n",
		"connection_limit = 0\n",        "connection_limit = -1\n",     "connection_limit_per_ip = 100001\n",
	};
	sf_env e;
	sf_up(&e);
	sf_stop(&e);
	uint8_t *orig = NULL;
	size_t len = 0;
	assert_int_equal(omc_read_file(e.conf, &orig, &len, 1 << 20), OMC_OK);
	for (size_t i = 0; i < OMC_ARRAY_LEN(bad); i++) {
		FILE *f = fopen(e.conf, "w");
		assert_non_null(f);
		fprintf(f, "%.*s\n[server]\n%s", (int)len, (const char *)orig, bad[i]);
		fclose(f);
		omc_server *s = NULL;
		omc_server_opts o = {.config = e.conf};
		assert_err(omc_server_start(&s, &o), OMC_ERR_BAD_FORMAT);
		assert_null(s);
	}
	FILE *f = fopen(e.conf, "w");
	assert_non_null(f);
	fprintf(f, "%.*s", (int)len, (const char *)orig);
	fclose(f);
	omc_free(orig);
	sf_start(&e);
	sf_down(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_connections_closed),
		cmocka_unit_test(test_per_ip_limit),
		cmocka_unit_test(test_bad_values_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
