/* What the demo's fleet and the simulator share (fleet.h). */
#define _XOPEN_SOURCE 700
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fleet.h"

/* The round robin over replicas, for every fleet_srv of the process. */
static unsigned fleet_rr;

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The next replica of the round robin that is not left out (fleet_routed). */
static const json_t *next_replica(const fleet_srv *s)
{
	if (s->n_replicas < 2)
		return s->urls;
	int64_t now = now_ms();
	unsigned first = 0;
	for (unsigned k = 0; k < s->n_replicas; k++) {
		unsigned i = __atomic_fetch_add(&fleet_rr, 1, __ATOMIC_RELAXED) % s->n_replicas;
		if (k == 0)
			first = i;
		if (__atomic_load_n(&s->down_until_ms[i], __ATOMIC_RELAXED) <= now)
			return s->replicas[i];
	}
	return s->replicas[first];
}

/* Set by fleet_routed when this thread's last request found no replica to
 * connect to (fleet_http then sends it again: it never arrived). */
static __thread bool fleet_unreachable;

void fleet_routed(void *arg, const char *url, bool unreachable)
{
	fleet_srv *s = arg;
	if (!unreachable)
		return;
	fleet_unreachable = true;
	for (unsigned i = 0; i < s->n_replicas; i++) {
		const char *role;
		json_t *v;
		json_object_foreach (s->replicas[i], role, v) {
			const char *base = json_string_value(v);
			size_t bl = base ? strlen(base) : 0;
			if (bl && !strncmp(url, base, bl) && (!url[bl] || url[bl] == '/')) {
				__atomic_store_n(&s->down_until_ms[i], now_ms() + FLEET_DOWN_MS, __ATOMIC_RELAXED);
				return;
			}
		}
	}
}

const char *fleet_url(const fleet_srv *s, const char *role)
{
	const char *u = json_string_value(json_object_get(next_replica(s), role));
	return u ? u : "";
}

bool fleet_route(void *arg, const char *url, char *out, size_t cap)
{
	const fleet_srv *s = arg;
	if (s->n_replicas < 2)
		return false;
	for (unsigned i = 0; i < s->n_replicas; i++) {
		const char *role;
		json_t *v;
		json_object_foreach (s->replicas[i], role, v) {
			const char *base = json_string_value(v);
			size_t bl = base ? strlen(base) : 0;
			if (!bl || strncmp(url, base, bl) != 0 || (url[bl] && url[bl] != '/'))
				continue;
			const char *to = json_string_value(json_object_get(next_replica(s), role));
			return to && (size_t)snprintf(out, cap, "%s%s", to, url + bl) < cap;
		}
	}
	return false;
}

int fleet_http(omc_http_client *c, const char *method, const char *base, const char *path, const char *auth,
	       const char *body, json_t **out)
{
	char u[256];
	snprintf(u, sizeof u, "%s%s", base, path);
	int st = 0;
	char *r = NULL;
	size_t rl = 0;
	/* A request no replica could be connected to never arrived: it goes
	 * again (to the next replica, the one that failed being left out). */
	for (unsigned tries = 0; tries <= FLEET_REPLICAS_MAX; tries++) {
		fleet_unreachable = false;
		if (omc_http_call_auth(c, method, u, auth, body, body ? strlen(body) : 0, &st, &r, &rl) == OMC_OK ||
		    !fleet_unreachable)
			break;
		st = 0;
	}
	if (out) {
		json_error_t je;
		*out = r ? json_loadb(r, rl, 0, &je) : NULL;
	}
	omc_free(r);
	return st;
}

/* The child: `openmcim server --config`; its first line on stdout is the
 * role -> URL map. It goes when this process does. */
static bool spawn(fleet_srv *s, volatile const int *stop)
{
	int pfd[2];
	if (pipe(pfd) != 0)
		return false;
	pid_t parent = getpid();
	s->pid = fork();
	if (s->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		int nul = open("/dev/null", O_RDWR);
		dup2(pfd[1], STDOUT_FILENO);
		if (nul >= 0)
			dup2(nul, STDERR_FILENO);
		close(pfd[0]);
		execl("/proc/self/exe", "openmcim", "server", "--config", s->conf, "--log-level", "err", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	if (s->pid < 0) {
		close(pfd[0]);
		return false;
	}
	char line[4096];
	size_t n = 0;
	bool got = false;
	while (!got && n < sizeof line - 1 && !*stop) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		if (poll(&p, 1, 30000) <= 0)
			break;
		ssize_t r = read(pfd[0], line + n, sizeof line - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		line[n] = 0;
		got = strchr(line, '\n') != NULL;
	}
	close(pfd[0]);
	json_error_t je;
	json_decref(s->urls);
	s->urls = got ? json_loads(line, JSON_DISABLE_EOF_CHECK, &je) : NULL;
	s->n_replicas = 0;
	return s->urls != NULL;
}

static bool port_free(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

/* The first port of the kernel's ephemeral range (32768 unless configured
 * otherwise), where connections take their own ports. */
static int ephemeral_low(void)
{
	int lo = 32768, hi = 0;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (f) {
		if (fscanf(f, "%d %d", &lo, &hi) != 2)
			lo = 32768;
		fclose(f);
	}
	return lo;
}

/* Fixed ports (the config's `port = 0` becomes a free base port), so that
 * a restarted server is where the agents saved it. Below the ephemeral
 * range when there is room: there no connection's own port (thousands of
 * them in TIME_WAIT on a busy machine) takes one of them between this
 * check and the server's bind. */
static bool fix_ports(const char *conf)
{
	int port = 0;
	uint32_t r = 0;
	int span = ephemeral_low() - 16 - 10000;
	for (int tries = 0; tries < 200 && !port; tries++) {
		if (omc_rand_bytes((uint8_t *)&r, sizeof r) != OMC_OK)
			return false;
		int p = span >= 1000 ? 10000 + (int)(r % (uint32_t)span) : 20000 + (int)(r % 20000);
		bool ok = true;
		for (int i = 0; i < 16 && ok; i++)
			ok = port_free(p + i);
		if (ok)
			port = p;
	}
	FILE *f = port ? fopen(conf, "r") : NULL;
	if (!f)
		return false;
	char buf[8192];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strstr(buf, "port = 0\n");
	f = p ? fopen(conf, "w") : NULL;
	if (!f)
		return false;
	fprintf(f, "%.*sport = %d\n%s", (int)(p - buf), buf, port, p + 9);
	return fclose(f) == 0;
}

/* The demo subscribers' tokens (subscribers.json of the deployment). */
static bool load_tokens(fleet_srv *s)
{
	char subs[512];
	snprintf(subs, sizeof subs, "%s/subscribers.json", s->dir);
	json_error_t je;
	json_t *t = json_load_file(subs, 0, &je);
	const char *t1 = json_string_value(json_object_get(json_object_get(t, "sho1"), "demo"));
	const char *t2 = json_string_value(json_object_get(json_object_get(t, "sho2"), "demo"));
	bool ok = t1 && t2 && strlen(t1) < 64 && strlen(t2) < 64;
	if (ok) {
		snprintf(s->tokens[0], sizeof s->tokens[0], "%s", t1);
		snprintf(s->tokens[1], sizeof s->tokens[1], "%s", t2);
	}
	json_decref(t);
	return ok;
}

/* The roles the simulator calls itself (the agents learn the DRF, PVA and
 * DPF from the bootstrap answer, which the replicas sign with their own). */
static const char *const needed_roles[] = {"ccif", "vno", "bootstrap", "pva", "sho.sho1", "sho.sho2"};

/* One replica's role map, from the file path. */
static bool add_replica(fleet_srv *s, const char *path, char *why, size_t why_cap)
{
	if (s->n_replicas == FLEET_REPLICAS_MAX) {
		snprintf(why, why_cap, "--server: at most %d replicas", FLEET_REPLICAS_MAX);
		return false;
	}
	json_error_t je;
	json_t *m = json_load_file(path, JSON_DISABLE_EOF_CHECK, &je);
	if (!json_is_object(m)) {
		snprintf(why, why_cap, "%s: not a role map (the JSON line `openmcim server` prints): %s", path, je.text);
		json_decref(m);
		return false;
	}
	s->replicas[s->n_replicas++] = m;
	for (size_t r = 0; r < sizeof needed_roles / sizeof needed_roles[0]; r++) {
		const char *u = json_string_value(json_object_get(m, needed_roles[r]));
		if (!u || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)) {
			snprintf(why, why_cap, "%s: no URL for the role %s", path, needed_roles[r]);
			return false;
		}
	}
	return true;
}

bool fleet_server_attach(fleet_srv *s, const char *dir, const char *const *maps, size_t n, char *why,
			 size_t why_cap)
{
	memset(s, 0, sizeof *s);
	s->external = true;
	char def[512];
	const char *defv[1] = {def};
	if (strlen(dir) > 400) {
		snprintf(why, why_cap, "--server-dir: path too long");
		return false;
	}
	snprintf(s->dir, sizeof s->dir, "%s", dir);
	snprintf(s->pki, sizeof s->pki, "%s/pki", dir);
	snprintf(s->ico_ca, sizeof s->ico_ca, "%s/ico-ca.crt", s->pki);
	snprintf(s->conf, sizeof s->conf, "%s/server.conf", dir);
	if (access(s->ico_ca, R_OK) != 0 || !load_tokens(s)) {
		snprintf(why, why_cap, "%s is not a demo deployment (no pki/ico-ca.crt or subscribers.json)", dir);
		return false;
	}
	if (!n) {
		snprintf(def, sizeof def, "%s/urls.json", dir);
		maps = defv;
		n = 1;
	}
	for (size_t i = 0; i < n; i++) {
		char list[4096];
		if (strlen(maps[i]) >= sizeof list) {
			snprintf(why, why_cap, "--server: too long");
			return false;
		}
		snprintf(list, sizeof list, "%s", maps[i]);
		char *save = NULL;
		for (char *m = strtok_r(list, ",", &save); m; m = strtok_r(NULL, ",", &save))
			if (!add_replica(s, m, why, why_cap))
				return false;
	}
	if (!s->n_replicas) {
		snprintf(why, why_cap, "--server: no role map");
		return false;
	}
	s->urls = json_incref(s->replicas[0]);
	return true;
}

bool fleet_server_start(fleet_srv *s, volatile const int *stop)
{
	if (!demo_mkdtemp(s->dir, sizeof s->dir, "openmcim-demo")) {
		s->dir[0] = 0;
		return false;
	}
	snprintf(s->pki, sizeof s->pki, "%s/pki", s->dir);
	snprintf(s->ico_ca, sizeof s->ico_ca, "%s/ico-ca.crt", s->pki);
	snprintf(s->conf, sizeof s->conf, "%s/server.conf", s->dir);
	if (omc_server_demo_setup(s->dir) != OMC_OK || !fix_ports(s->conf) || !spawn(s, stop))
		return false;
	return load_tokens(s);
}

bool fleet_server_restart(fleet_srv *s, volatile const int *stop)
{
	if (s->external)
		return false;
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	return spawn(s, stop);
}

void fleet_server_stop(fleet_srv *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	json_decref(s->urls);
	s->urls = NULL;
	for (unsigned i = 0; i < s->n_replicas; i++)
		json_decref(s->replicas[i]);
	s->n_replicas = 0;
	if (!s->external && s->dir[0] && s->dir[5])
		demo_rmtree(s->dir);
	s->dir[0] = 0;
}

/* Before the try-th send again of a request that got no answer: 20, 40,
 * 80, 160 ms (a listener at its connection limit refuses a burst; five
 * sends at once would all meet it). */
static void pause_before(unsigned tries)
{
	if (tries > 0)
		(void)poll(NULL, 0, 20 << (tries - 1));
}

bool fleet_device_make(const fleet_srv *s, omc_http_client *c, const omc_key *mk, const omc_cert *mc,
		       const omc_factory_device_opts *fo, int sho, fleet_made *d)
{
	char *rep = NULL;
	d->why[0] = 0;
	omc_err fe = omc_factory_device(fo, &rep);
	bool ok = fe == OMC_OK;
	if (!ok)
		snprintf(d->why, sizeof d->why, "factory step: %s", omc_err_name(fe));
	json_error_t je;
	json_t *j = ok ? json_loads(rep, 0, &je) : NULL;
	omc_free(rep);
	const char *tre = json_string_value(json_object_get(j, "tre_id"));
	const char *plat = json_string_value(json_object_get(j, "platform_id"));
	const char *imsi = json_string_value(json_object_get(j, "pcid_imsi"));
	json_t *report = json_object_get(j, "pcid_report");
	ok = tre && plat && imsi && json_is_string(report);
	if (ok) {
		snprintf(d->tre_id, sizeof d->tre_id, "%s", tre);
		snprintf(d->platform_id, sizeof d->platform_id, "%s", plat);
		snprintf(d->pcid_imsi, sizeof d->pcid_imsi, "%s", imsi);
	}
	/* CCIF-2: the PCID reaches the ICO's AuC encrypted. */
	json_t *b = ok ? json_pack("{s:O}", "report", report) : NULL;
	char *bs = b ? json_dumps(b, JSON_COMPACT) : NULL, *auth = NULL;
	json_decref(b);
	json_decref(j);
	ok = ok && bs;
	/* A factory sends again a report whose answer it did not get (a
	 * replica that went down meanwhile), signed afresh (a request's jti is
	 * good once): 409 `exists` then says the first one landed. The same for
	 * the subscriber's registration below. */
	int st = 0;
	for (unsigned tries = 0; ok && st == 0 && tries < 5; tries++) {
		pause_before(tries);
		omc_free(auth);
		auth = NULL;
		ok = omc_server_sign_request(&auth, mk, mc, "POST", "/v1/reports", bs, strlen(bs), (int64_t)time(NULL)) ==
		     OMC_OK;
		json_t *ra = NULL;
		st = ok ? fleet_http(c, "POST", fleet_url(s, "ccif"), "/v1/reports", auth, bs, &ra) : 0;
		/* libcurl sends again by itself on a kept-alive connection that
		 * died; if the first send did land (and the replica died after
		 * its commit), the copy is refused as a replayed request. */
		const char *code = json_string_value(json_object_get(ra, "error"));
		if (st == 401 && code && !strcmp(code, "replayed_request"))
			st = 0;
		json_decref(ra);
		if (st == 409 && tries > 0)
			st = 201;
	}
	if (ok && st != 201)
		snprintf(d->why, sizeof d->why, "PCID report: HTTP %d", st);
	ok = ok && st == 201;
	omc_free(auth);
	omc_free(bs);
	/* EVAL-3: the subscriber registers the device with the SHO it chose. */
	char body[96], bearer[96], role[16];
	snprintf(body, sizeof body, "{\"platform_id\":\"%s\"}", d->platform_id);
	snprintf(bearer, sizeof bearer, "Bearer %s", s->tokens[sho - 1]);
	snprintf(role, sizeof role, "sho.sho%d", sho);
	json_t *ans = NULL;
	st = 0;
	for (unsigned tries = 0; ok && st == 0 && tries < 5; tries++) {
		pause_before(tries);
		json_decref(ans);
		ans = NULL;
		st = fleet_http(c, "POST", fleet_url(s, role), "/v1/devices", bearer, body, &ans);
	}
	if (ok && st != 201)
		snprintf(d->why, sizeof d->why, "registration: HTTP %d", st);
	ok = ok && st == 201;
	const char *code = json_string_value(json_object_get(ans, "transfer_code"));
	snprintf(d->transfer_code, sizeof d->transfer_code, "%s", code ? code : "");
	json_decref(ans);
	return ok;
}

int fleet_change(const fleet_srv *s, omc_http_client *c, const fleet_made *d, int to)
{
	char body[192], bearer[96], role[16];
	snprintf(body, sizeof body, "{\"platform_id\":\"%s\",\"change\":true,\"transfer_code\":\"%s\"}",
		 d->platform_id, d->transfer_code);
	snprintf(bearer, sizeof bearer, "Bearer %s", s->tokens[to - 1]);
	snprintf(role, sizeof role, "sho.sho%d", to);
	return fleet_http(c, "POST", fleet_url(s, role), "/v1/devices", bearer, body, NULL);
}

/* A request signed as PKI entity who (the RO, as the maintainer). */
static int signed_call(const fleet_srv *s, omc_http_client *c, const char *who, const char *role, const char *path,
		       const char *body, json_t **out)
{
	omc_key *k = NULL;
	omc_cert *cert = NULL;
	char *auth = NULL;
	int st = 0;
	if (omc_pki_load(s->pki, who, &k, &cert) == OMC_OK &&
	    omc_server_sign_request(&auth, k, cert, "POST", path, body, strlen(body), (int64_t)time(NULL)) == OMC_OK)
		st = fleet_http(c, "POST", fleet_url(s, role), path, auth, body, out);
	omc_free(auth);
	omc_key_free(k);
	omc_cert_free(cert);
	return st;
}

bool fleet_recover(const fleet_srv *s, omc_http_client *c, omc_tre *t)
{
	char *rep = NULL, *ev = NULL;
	json_t *o = NULL;
	bool ok = omc_tre_tamper(t, "enclosure opened") == OMC_OK && omc_tre_tamper_report(t, &rep) == OMC_OK &&
		  signed_call(s, c, "ro", "pva", "/v1/recovery/nonce", "{}", &o) == 201;
	const char *nb = json_string_value(json_object_get(o, "nonce"));
	uint8_t n[32];
	size_t nl = 0;
	ok = ok && nb && omc_b64_decode(n, sizeof n, &nl, nb, strlen(nb), OMC_B64_URL) == OMC_OK &&
	     omc_tre_attest(t, n, nl, &ev) == OMC_OK;
	json_decref(o);
	o = NULL;
	json_t *b = ok ? json_pack("{s:s,s:s}", "report", rep, "evidence", ev) : NULL;
	char *bs = b ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	ok = ok && bs && signed_call(s, c, "ro", "pva", "/v1/recovery", bs, &o) == 200;
	const char *auth = json_string_value(json_object_get(o, "authorisation"));
	ok = ok && auth && omc_tre_recover(t, auth, strlen(auth)) == OMC_OK &&
	     omc_tre_get_state(t) == OMC_TRE_PRISTINE;
	json_decref(o);
	omc_free(bs);
	omc_free(ev);
	omc_free(rep);
	return ok;
}

void fleet_signals_catch(void (*h)(int), struct sigaction old[2])
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sigaction(SIGINT, &sa, &old[0]);
	sigaction(SIGTERM, &sa, &old[1]);
}

void fleet_signals_restore(const struct sigaction old[2])
{
	sigaction(SIGINT, &old[0], NULL);
	sigaction(SIGTERM, &old[1], NULL);
}

void fleet_progress(unsigned long done, unsigned long n)
{
	char bar[41];
	unsigned long fill = n ? done * 40 / n : 40;
	for (unsigned i = 0; i < 40; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[40] = 0;
	fprintf(stderr, "\r  [%s] %lu/%lu devices", bar, done, n);
	fflush(stderr);
}
