/* openmcim sim: the fleet simulator (docs/sim.md). N devices, each an
 * in-process TRE on an in-memory file system of its own and an agent,
 * against `openmcim server` in a child process over loopback HTTP. No
 * thread per device: a fixed pool of workers takes the device whose next
 * step is due from a timer heap, runs one omc_agent_step (the agent's
 * state machine) and puts it back at the time the step asked for. At most
 * `window` devices are open at once; a finished device is checked and
 * its memory given back, so the cost per device does not grow with N.
 * Faults are injected through the agent's HTTP hook, the memfs power cut,
 * the TRE's tamper entry point and the server process itself. */
#define _XOPEN_SOURCE 700
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fleet.h"
#include "sim_report.h"

#define SIM_DEVICES_MAX 1000000u
#define SIM_WINDOW 64u
#define SIM_CAUSES 24u
#define SIM_SAMPLES 512u
#define SIM_DEVICE_TIMEOUT_S 300.0

typedef struct sim_faults {
	double drop, powercut, tamper, pcid_expiry, change_wave, pcid_repeat;
	unsigned delay_ms, restarts;
	bool test_dup_imsi; /* test-only: the checker must see two devices with one IMSI */
} sim_faults;

typedef struct sim_dev {
	omc_memfs *fs;
	omc_store_io *io, *sio;
	omc_tre *t;
	omc_agent *a;
	omc_agent_local local;
	fleet_made m;
	double t_start, t_done;
	unsigned failures_seen;
	uint8_t state; /* omc_agent_state, read by the sampler */
	uint8_t sho, change_tries;
	bool want_change, want_tamper, want_cut, want_expiry, want_repeat;
	bool changed, tampered, cut, done, ok;
	char imsi[16];
} sim_dev;

typedef struct sim_ev {
	double due;
	unsigned dev;
} sim_ev;

typedef struct sim {
	fleet_srv srv;
	sim_faults f;
	sim_dev *devs;
	unsigned n, next, finished, workers;
	sim_ev *heap;
	size_t heap_n;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	omc_key *mk;
	omc_cert *mc;
	omc_factory *fac; /* the deployment's PKI, loaded once for every device */
	double t0;
	uint64_t seed;
	sim_cause causes[SIM_CAUSES];
	size_t n_causes;
	unsigned long drops_req, drops_resp, delays, powercuts, restarts, tampers, changes, expiries;
	unsigned long repeats;   /* pcid-repeat: devices made again after the CCIF refused their PCID IMSI */
	char last_pcid[16];      /* under mu: the PCID IMSI of the last device reported */
	sim_sample samples[SIM_SAMPLES];
	size_t n_samples;
	double sample_every;
} sim;

static volatile sig_atomic_t sim_stop;

static void on_sig(int sig)
{
	(void)sig;
	sim_stop = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* splitmix64: the faults' dice, reproducible from --seed per device. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static double dice(uint64_t seed, unsigned dev, unsigned what)
{
	return (double)(mix(seed ^ mix(((uint64_t)dev << 8) | what)) >> 11) * 0x1.0p-53;
}

static _Thread_local uint64_t thread_rng;

static double thread_dice(void)
{
	thread_rng = mix(thread_rng);
	return (double)(thread_rng >> 11) * 0x1.0p-53;
}

static void cause_add(sim *s, const char *name, unsigned long k)
{
	pthread_mutex_lock(&s->mu);
	size_t i = 0;
	while (i < s->n_causes && strncmp(s->causes[i].name, name, sizeof s->causes[i].name - 1) != 0)
		i++;
	if (i == s->n_causes && i < SIM_CAUSES) {
		snprintf(s->causes[i].name, sizeof s->causes[i].name, "%s", name);
		s->n_causes++;
	}
	if (i < s->n_causes)
		s->causes[i].n += k;
	pthread_mutex_unlock(&s->mu);
}

/* The agents' HTTP hook: drop=p loses half the requests before they are
 * sent and half the answers after the server acted; delay=D holds each
 * request back by up to D ms. */
static omc_http_fault sim_fault(void *arg, const char *method, const char *url)
{
	sim *s = arg;
	(void)method;
	(void)url;
	if (s->f.delay_ms) {
		unsigned ms = (unsigned)(thread_dice() * s->f.delay_ms);
		struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		__atomic_fetch_add(&s->delays, 1, __ATOMIC_RELAXED);
	}
	if (s->f.drop > 0 && thread_dice() < s->f.drop) {
		bool req = thread_dice() < 0.5;
		__atomic_fetch_add(req ? &s->drops_req : &s->drops_resp, 1, __ATOMIC_RELAXED);
		return req ? OMC_HTTP_FAULT_DROP_REQUEST : OMC_HTTP_FAULT_DROP_RESPONSE;
	}
	return OMC_HTTP_FAULT_NONE;
}

/* --- the timer heap (under s->mu) -------------------------------------- */

static void heap_push(sim *s, double due, unsigned dev)
{
	size_t i = s->heap_n++;
	while (i > 0 && s->heap[(i - 1) / 2].due > due) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = (sim_ev){due, dev};
}

static sim_ev heap_pop(sim *s)
{
	sim_ev top = s->heap[0], last = s->heap[--s->heap_n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= s->heap_n)
			break;
		if (c + 1 < s->heap_n && s->heap[c + 1].due < s->heap[c].due)
			c++;
		if (s->heap[c].due >= last.due)
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->heap_n)
		s->heap[i] = last;
	return top;
}

/* --- one device ---------------------------------------------------------- */

static void dev_close(sim_dev *d)
{
	omc_agent_free(d->a);
	d->a = NULL;
	omc_tre_close(d->t);
	d->t = NULL;
}

static void dev_release(sim_dev *d)
{
	dev_close(d);
	omc_store_io_mem_free(d->io);
	omc_store_io_mem_free(d->sio);
	omc_memfs_free(d->fs);
	d->io = d->sio = NULL;
	d->fs = NULL;
}

/* Open the TRE on the device's memfs and its agent (which resumes from its
 * saved state), as a start of the device. */
static bool dev_open(sim *s, sim_dev *d, unsigned i)
{
	omc_tre_opts to = {.io = d->io, .store_io = d->sio, .count_boot = true};
	if (omc_tre_open(&d->t, &to) != OMC_OK)
		return false;
	omc_agent_opts ao = {.io = d->io,
			     .state_path = "agent.state",
			     .vno_url = fleet_url(&s->srv, "vno"),
			     .bootstrap_url = fleet_url(&s->srv, "bootstrap"),
			     .bootstrap_ca = s->srv.ico_ca,
			     .backoff_min_ms = 20,
			     .backoff_max_ms = 2000,
			     .poll_ms = 50,
			     .seed = mix(s->seed + i) | 1,
			     .http_fault = sim_fault,
			     .http_fault_arg = s,
			     .http_route = fleet_route,
			     .http_route_arg = &s->srv,
			     .http_routed = fleet_routed};
	omc_agent_tre_local(&ao.tre, &d->local, d->t, "agent");
	return omc_agent_new(&d->a, &ao) == OMC_OK;
}

/* pcid-repeat: a PCID of its own, but with the IMSI of the last device
 * reported (as a factory whose random draw repeats one), into json (K and
 * OPc fresh; the caller wipes json). false if there is none yet. */
static bool repeat_pcid(sim *s, char *json, size_t cap)
{
	char imsi[16];
	pthread_mutex_lock(&s->mu);
	memcpy(imsi, s->last_pcid, sizeof imsi);
	pthread_mutex_unlock(&s->mu);
	uint8_t r[32];
	char k[33], opc[33];
	bool ok = imsi[0] && omc_rand_bytes(r, sizeof r) == OMC_OK && omc_hex_encode(k, sizeof k, r, 16) == OMC_OK &&
		  omc_hex_encode(opc, sizeof opc, r + 16, 16) == OMC_OK &&
		  snprintf(json, cap, "{\"imsi\":\"%s\",\"k\":\"%s\",\"opc\":\"%s\"}", imsi, k, opc) < (int)cap;
	omc_memzero(r, sizeof r);
	omc_memzero(k, sizeof k);
	omc_memzero(opc, sizeof opc);
	return ok;
}

static bool dev_make(sim *s, omc_http_client *c, sim_dev *d, unsigned i)
{
	d->sho = (uint8_t)(1 + i % 2);
	/* The factory draws a PCID's IMSI at random from the demo ICO's 10^9
	 * (omc_factory_device): at 100,000 devices some five are drawn twice,
	 * and the CCIF refuses the second (409 `exists`). The factory then
	 * makes that device again, with another PCID. */
	for (unsigned made = 0;; made++) {
		if (omc_memfs_new(&d->fs) != OMC_OK || omc_store_io_mem_new(&d->io, d->fs, "") != OMC_OK ||
		    omc_store_io_mem_new(&d->sio, d->fs, "store/") != OMC_OK) {
			cause_add(s, "factory step: out of memory", 1);
			return false;
		}
		omc_factory_device_opts fo = {.factory = s->fac, .io = d->io, .store_io = d->sio};
		/* pcid-expiry: a PCID that expires in two minutes, so the agent
		 * must get a new one from the ICO first (CHG-4). */
		if (d->want_expiry)
			fo.pcid_lifetime = 120;
		char given[160];
		if (made == 0 && d->want_repeat && repeat_pcid(s, given, sizeof given)) {
			fo.pcid_json = given;
			fo.pcid_json_len = strlen(given);
		}
		bool ok = fleet_device_make(&s->srv, c, s->mk, s->mc, &fo, d->sho, &d->m);
		omc_memzero(given, sizeof given);
		if (ok)
			break;
		bool taken = !strcmp(d->m.why, "PCID report: HTTP 409");
		if (!taken || made == 2) {
			cause_add(s, d->m.why[0] ? d->m.why : "factory step failed", 1);
			return false;
		}
		if (fo.pcid_json)
			__atomic_fetch_add(&s->repeats, 1, __ATOMIC_RELAXED);
		cause_add(s, "PCID IMSI drawn twice: device made again", 1);
		dev_release(d);
	}
	pthread_mutex_lock(&s->mu);
	memcpy(s->last_pcid, d->m.pcid_imsi, sizeof s->last_pcid);
	pthread_mutex_unlock(&s->mu);
	if (!dev_open(s, d, i)) {
		cause_add(s, "TRE open after the factory failed", 1);
		return false;
	}
	return true;
}

/* How many operational MCIMs the TRE holds activated (tombstones of the
 * ones erased at an operator change do not count), and the IMSI of the
 * last. */
static unsigned operational_mcims(sim_dev *d, char imsi[16])
{
	omc_tre_mcim_info info[8];
	size_t n = 0;
	unsigned k = 0;
	if (omc_tre_registry(d->t, info, 8, &n) != OMC_OK)
		return 0;
	for (size_t j = 0; j < n && j < 8; j++)
		if (info[j].role && !strcmp(info[j].role, "operational") && info[j].state == OMC_MCIM_ACTIVATED) {
			k++;
			memcpy(imsi, info[j].imsi, 16);
		}
	return k;
}

/* One event of device i: make it, or one agent step, or what comes when it
 * is operational (a tamper, an operator change, the end). Returns the wait
 * in ms before its next event, or -1 when it is finished. */
static long dev_event(sim *s, omc_http_client *c, sim_dev *d, unsigned i)
{
	double now = now_s();
	if (!d->fs) {
		d->t_start = now;
		if (!dev_make(s, c, d, i))
			return -1; /* its cause counted */
		return 0;
	}
	if (now - d->t_start > SIM_DEVICE_TIMEOUT_S) {
		cause_add(s, "stranded: timed out", 1);
		return -1;
	}
	if (!d->a) { /* a start after a failed reopen */
		dev_close(d);
		if (!dev_open(s, d, i)) {
			cause_add(s, "reopen after a power cut failed", 1);
			return -1;
		}
	}
	omc_agent_info info;
	omc_agent_info_get(d->a, &info);
	bool cut = d->want_cut && !d->cut && info.state == OMC_AGENT_DOWNLOAD;
	if (cut) /* powercut: the power goes at one of the install's first writes */
		omc_memfs_crash_at(d->fs, 1 + (unsigned long)(dice(s->seed, i, 7) * 12), OMC_MEMFS_TEAR_UNSYNCED,
				   s->seed ^ i);
	unsigned wait = 0;
	omc_err e = omc_agent_step(d->a, &wait);
	if (cut) {
		d->cut = true;
		__atomic_fetch_add(&s->powercuts, 1, __ATOMIC_RELAXED);
		omc_memfs_reboot(d->fs);
		dev_close(d);
		if (!dev_open(s, d, i))
			cause_add(s, "reopen after a power cut failed", 1);
		return 0;
	}
	if (e != OMC_OK) {
		cause_add(s, omc_err_name(e), 1);
		return 100;
	}
	omc_agent_info_get(d->a, &info);
	__atomic_store_n(&d->state, (uint8_t)info.state, __ATOMIC_RELAXED);
	if (info.failures > d->failures_seen)
		cause_add(s, info.last_error[0] ? info.last_error : "failure", info.failures - d->failures_seen);
	d->failures_seen = info.failures;
	if (info.state == OMC_AGENT_LOCKDOWN && !d->tampered) {
		cause_add(s, "lockdown without a tamper", 1);
		return -1;
	}
	if (info.state != OMC_AGENT_OPERATIONAL || !info.polled)
		return wait;
	char want[8];
	snprintf(want, sizeof want, "sho%u", d->sho);
	if (strcmp(info.sho, want) != 0) /* a change under way: the old SHO until the reprovision lands */
		return wait;
	if (d->want_tamper && !d->tampered) {
		d->tampered = true;
		__atomic_fetch_add(&s->tampers, 1, __ATOMIC_RELAXED);
		bool ok = fleet_recover(&s->srv, c, d->t);
		dev_close(d);
		if (!ok || !dev_open(s, d, i)) {
			cause_add(s, "tamper recovery refused", 1);
			return -1;
		}
		return 0;
	}
	if (d->want_change && !d->changed) {
		int to = d->sho == 1 ? 2 : 1, st = fleet_change(&s->srv, c, &d->m, to);
		/* A subscriber tries again when the server did not answer (a
		 * restart) or was busy; a refusal that stays is a failure. */
		if (st != 202 && ++d->change_tries < 10) {
			cause_add(s, st ? "operator change: retried" : "operator change: no answer", 1);
			return 500;
		}
		d->changed = true;
		if (st != 202) {
			cause_add(s, "operator change refused", 1);
			return -1;
		}
		__atomic_fetch_add(&s->changes, 1, __ATOMIC_RELAXED);
		d->sho = (uint8_t)to;
		return 0;
	}
	/* Provisioned: check what the TRE holds, then give the memory back. */
	char imsi[16] = "";
	unsigned k = operational_mcims(d, imsi);
	if (k != 1) {
		cause_add(s, k ? "more than one operational MCIM" : "MCIM lost", 1);
		return -1;
	}
	memcpy(d->imsi, imsi, sizeof d->imsi);
	d->t_done = now_s();
	d->ok = true;
	return -1;
}

static void *worker(void *arg)
{
	sim *s = arg;
	omc_http_client *c = NULL;
	/* The factory's and the subscribers' calls go round the replicas too. */
	omc_http_client_opts co = {
		.timeout_ms = 15000, .route = fleet_route, .route_arg = &s->srv, .routed = fleet_routed};
	thread_rng = mix(s->seed ^ (uint64_t)(uintptr_t)&c);
	if (omc_http_client_new(&c, &co) != OMC_OK)
		return NULL;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		if (sim_stop || s->finished == s->n)
			break;
		if (!s->heap_n) {
			pthread_cond_wait(&s->cv, &s->mu);
			continue;
		}
		double now = now_s();
		if (s->heap[0].due > now) {
			double w = s->heap[0].due - now;
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			long ns = ts.tv_nsec + (long)(w * 1e9);
			ts.tv_sec += ns / 1000000000L;
			ts.tv_nsec = ns % 1000000000L;
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
			continue;
		}
		sim_ev ev = heap_pop(s);
		pthread_mutex_unlock(&s->mu);
		sim_dev *d = &s->devs[ev.dev];
		long wait = dev_event(s, c, d, ev.dev);
		if (wait < 0)
			dev_release(d);
		pthread_mutex_lock(&s->mu);
		if (wait >= 0) {
			heap_push(s, now_s() + (double)wait / 1000.0, ev.dev);
		} else {
			__atomic_store_n(&d->done, true, __ATOMIC_RELAXED);
			s->finished++;
			if (s->next < s->n)
				heap_push(s, now_s(), s->next++);
			if (s->finished == s->n)
				pthread_cond_broadcast(&s->cv);
		}
		pthread_cond_signal(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	pthread_cond_broadcast(&s->cv);
	omc_http_client_free(c);
	return NULL;
}

/* --- sampling, checking, output -------------------------------------------- */

static void sample(sim *s)
{
	if (s->n_samples == SIM_SAMPLES) { /* keep every other one, sample half as often */
		for (size_t i = 0; i < SIM_SAMPLES / 2; i++)
			s->samples[i] = s->samples[2 * i + 1];
		s->n_samples = SIM_SAMPLES / 2;
		s->sample_every *= 2;
	}
	sim_sample *p = &s->samples[s->n_samples++];
	memset(p, 0, sizeof *p);
	p->t = now_s() - s->t0;
	pthread_mutex_lock(&s->mu);
	p->done = s->finished;
	unsigned next = s->next;
	pthread_mutex_unlock(&s->mu);
	for (unsigned i = 0; i < next; i++) {
		sim_dev *d = &s->devs[i];
		if (!__atomic_load_n(&d->done, __ATOMIC_RELAXED))
			p->states[__atomic_load_n(&d->state, __ATOMIC_RELAXED) % OMC_AGENT_STATE_COUNT]++;
	}
}

static int cmp_str16(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

typedef struct sim_result {
	unsigned provisioned;
	bool exactly_once, imsi_unique, none_lost, none_stranded;
	double rate, p50, p99, wall;
	uint64_t rss, sim_rss;     /* peak RSS of the server child and of this process */
	double sim_cpu, server_cpu; /* CPU seconds of the run, this process and the server child */
	double *lat;           /* sorted, provisioned of them */
} sim_result;

/* The invariants, from the simulator's own bookkeeping. */
static bool check(sim *s, sim_result *r)
{
	r->provisioned = 0;
	char (*imsis)[16] = omc_calloc(s->n ? s->n : 1, 16);
	r->lat = omc_calloc(s->n ? s->n : 1, sizeof *r->lat);
	if (!imsis || !r->lat) {
		omc_free(imsis);
		return false;
	}
	unsigned lost = 0, stranded = 0;
	for (unsigned i = 0; i < s->n; i++) {
		sim_dev *d = &s->devs[i];
		if (!d->done) {
			stranded++;
			continue;
		}
		if (!d->ok) {
			lost += d->state >= OMC_AGENT_ATTACH_MCIM;
			stranded += d->state < OMC_AGENT_ATTACH_MCIM;
			continue;
		}
		memcpy(imsis[r->provisioned], d->imsi, 16);
		r->lat[r->provisioned++] = (d->t_done - d->t_start) * 1000.0;
	}
	if (s->f.test_dup_imsi && r->provisioned >= 2)
		memcpy(imsis[1], imsis[0], 16);
	qsort(imsis, r->provisioned, 16, cmp_str16);
	r->imsi_unique = true;
	for (unsigned i = 1; i < r->provisioned; i++)
		r->imsi_unique = r->imsi_unique && strcmp(imsis[i - 1], imsis[i]) != 0;
	omc_free(imsis);
	qsort(r->lat, r->provisioned, sizeof *r->lat, cmp_double);
	r->p50 = r->provisioned ? r->lat[(r->provisioned - 1) / 2] : 0;
	r->p99 = r->provisioned ? r->lat[(size_t)((r->provisioned - 1) * 0.99)] : 0;
	r->exactly_once = r->provisioned == s->n;
	r->none_lost = lost == 0;
	r->none_stranded = stranded == 0;
	return r->exactly_once && r->imsi_unique && r->none_lost && r->none_stranded;
}

/* CPU seconds (user + system) a process used: its /proc/PID/stat. */
static double cpu_of(pid_t pid)
{
	char p[64], buf[1024];
	snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(p, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = 0;
	/* after "(comm)": state, then fields 4 to 13, then utime and stime */
	const char *q = strrchr(buf, ')');
	unsigned long long ut = 0, st = 0;
	long hz = sysconf(_SC_CLK_TCK);
	if (!q || hz <= 0 ||
	    sscanf(q + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)hz;
}

static uint64_t rss_of(pid_t pid)
{
	char p[64], line[128];
	snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
	FILE *f = fopen(p, "r");
	unsigned long long kb = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return (uint64_t)kb * 1024;
}


static bool parse_faults(const char *spec, sim_faults *f)
{
	char buf[256];
	if (strlen(spec) >= sizeof buf)
		return false;
	strcpy(buf, spec);
	char *save = NULL;
	for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq)
			return false;
		*eq = 0;
		const char *k = kv, *v = eq + 1;
		char *end;
		double x = strtod(v, &end);
		if (end == v || !(x >= 0))
			return false;
		double *p = !strcmp(k, "drop")          ? &f->drop
			    : !strcmp(k, "powercut")    ? &f->powercut
			    : !strcmp(k, "tamper")      ? &f->tamper
			    : !strcmp(k, "pcid-expiry") ? &f->pcid_expiry
			    : !strcmp(k, "change-wave") ? &f->change_wave
			    : !strcmp(k, "pcid-repeat") ? &f->pcid_repeat
							: NULL;
		if (p) {
			if (*end || x > 1)
				return false;
			*p = x;
		} else if (!strcmp(k, "delay")) {
			if ((strcmp(end, "ms") != 0 && *end) || x > 10000)
				return false;
			f->delay_ms = (unsigned)x;
		} else if (!strcmp(k, "restart")) {
			if (*end || x > 100 || x != (double)(unsigned)x)
				return false;
			f->restarts = (unsigned)x;
		} else if (!strcmp(k, "test-dup-imsi")) {
			if (*end || (x != 0 && x != 1))
				return false;
			f->test_dup_imsi = x == 1;
		} else {
			return false;
		}
	}
	return true;
}

static const char sim_usage[] =
	"usage: openmcim sim --devices N [--faults SPEC] [--workers W] [--seed S] [--json]\n"
	"                    [--report FILE.html] [--server-dir DIR [--server MAP[,MAP...]]]\n"
	"\n"
	"Simulates a fleet of N devices (1 to 1000000): each an in-process TRE on an\n"
	"in-memory file system and an agent, driven by W worker threads (default 8)\n"
	"from a timer heap, at most 64 devices open at once, against `openmcim server`\n"
	"with a fresh demo deployment in a child process over loopback HTTP. Checks\n"
	"that each device is provisioned exactly once, that no IMSI is on two devices,\n"
	"that no MCIM is lost and that no device is stranded.\n"
	"\n"
	"--server-dir DIR  run against a deployment already running instead: DIR as\n"
	"               made by `openmcim server --demo --dir DIR` (its pki/ and\n"
	"               subscribers.json; the role map in DIR/urls.json)\n"
	"--server MAP   with --server-dir: a replica's role map, a file holding the JSON\n"
	"               line `openmcim server` prints first (DIR/urls.json); repeat or\n"
	"               separate with commas for several replicas sharing one database:\n"
	"               each request goes to the next replica, round robin. The fault\n"
	"               restart is refused with an external server\n"
	"\n"
	"--faults SPEC  comma-separated, e.g. drop=0.01,delay=50ms,restart=2,\n"
	"               powercut=0.01,tamper=0.001,pcid-expiry=0.01,change-wave=0.1,\n"
	"               pcid-repeat=0.01\n"
	"               (docs/sim.md)\n"
	"--seed S       the faults' dice (default 1)\n"
	"--json         one JSON object on stdout (keys in docs/sim.md)\n"
	"--report FILE  a self-contained HTML page with SVG charts\n"
	"\n"
	"Exit status: 0 every invariant held, 1 one broke, 2 usage error, 3 setup\n"
	"failed, 130 interrupted.\n";

static void print_json(const sim *s, const sim_result *r, bool ok)
{
	cli_json j;
	cli_json_begin(&j, stdout);
	cli_json_u64(&j, "devices", s->n);
	cli_json_u64(&j, "provisioned", r->provisioned);
	cli_json_num(&j, "provision_rate_per_s", r->rate);
	cli_json_num(&j, "p50_ms", r->p50);
	cli_json_num(&j, "p99_ms", r->p99);
	cli_json_u64(&j, "server_rss_bytes", r->rss);
	cli_json_u64(&j, "sim_rss_bytes", r->sim_rss);
	/* Per device of the run: all N, or those provisioned when it was
	 * interrupted (the rest had barely begun). */
	uint64_t per = sim_stop != 0 ? r->provisioned : s->n;
	cli_json_num(&j, "sim_cpu_ms_per_device", per ? r->sim_cpu * 1000.0 / (double)per : 0);
	cli_json_num(&j, "server_cpu_ms_per_device", per ? r->server_cpu * 1000.0 / (double)per : 0);
	cli_json_bool(&j, "server_external", s->srv.external);
	cli_json_u64(&j, "replicas", s->srv.external ? s->srv.n_replicas : 1);
	cli_json_num(&j, "server_rss_per_device_bytes", per ? (double)r->rss / (double)per : 0);
	cli_json_num(&j, "seconds", r->wall);
	cli_json_bool(&j, "invariants_ok", ok);
	cli_json_bool(&j, "provisioned_exactly_once", r->exactly_once);
	cli_json_bool(&j, "imsi_unique", r->imsi_unique);
	cli_json_bool(&j, "no_mcim_lost", r->none_lost);
	cli_json_bool(&j, "no_device_stranded", r->none_stranded);
	cli_json_u64(&j, "dropped_requests", s->drops_req);
	cli_json_u64(&j, "dropped_responses", s->drops_resp);
	cli_json_u64(&j, "delayed_requests", s->delays);
	cli_json_u64(&j, "server_restarts", s->restarts);
	cli_json_u64(&j, "power_cuts", s->powercuts);
	cli_json_u64(&j, "tampers", s->tampers);
	cli_json_u64(&j, "operator_changes", s->changes);
	cli_json_u64(&j, "pcid_expiries", s->expiries);
	cli_json_u64(&j, "pcid_repeats", s->repeats);
	unsigned long retries = 0;
	for (size_t i = 0; i < s->n_causes; i++)
		retries += s->causes[i].n;
	cli_json_u64(&j, "failures", retries);
	cli_json_bool(&j, "interrupted", sim_stop != 0);
	cli_json_end(&j);
}

typedef struct sim_cfg {
	unsigned long devices, workers, seed;
	sim_faults f;
	bool json;
	const char *report;
	const char *server_dir;
	const char *maps[FLEET_REPLICAS_MAX]; /* the --server values: MAP[,MAP...] */
	size_t n_maps;
} sim_cfg;

static int sim_run(const sim_cfg *cfg);

int cmd_sim(int argc, char **argv)
{
	static const struct option opts[] = {{"devices", required_argument, NULL, 'n'},
					     {"faults", required_argument, NULL, 'f'},
					     {"workers", required_argument, NULL, 'w'},
					     {"seed", required_argument, NULL, 's'},
					     {"json", no_argument, NULL, 'j'},
					     {"report", required_argument, NULL, 'r'},
					     {"server", required_argument, NULL, 'S'},
					     {"server-dir", required_argument, NULL, 'D'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	static sim_cfg cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.workers = 8;
	cfg.seed = 1;
	opterr = 0;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (!cli_uint_opt("sim", "--devices", optarg, 1, SIM_DEVICES_MAX, &cfg.devices))
				return CLI_USAGE;
			break;
		case 'w':
			if (!cli_uint_opt("sim", "--workers", optarg, 1, 64, &cfg.workers))
				return CLI_USAGE;
			break;
		case 's':
			if (!cli_uint_opt("sim", "--seed", optarg, 0, 0xffffffffUL, &cfg.seed))
				return CLI_USAGE;
			break;
		case 'f':
			if (!parse_faults(optarg, &cfg.f))
				return cli_usage_error("sim", "--faults: cannot parse '%s' (see docs/sim.md)", optarg);
			break;
		case 'j':
			cfg.json = true;
			break;
		case 'r':
			cfg.report = optarg;
			break;
		case 'S':
			if (!*optarg || cfg.n_maps == FLEET_REPLICAS_MAX)
				return cli_usage_error("sim", "--server: 1 to %d role maps", FLEET_REPLICAS_MAX);
			cfg.maps[cfg.n_maps++] = optarg;
			break;
		case 'D':
			cfg.server_dir = optarg;
			break;
		case 'h':
			fputs(sim_usage, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("sim", "unknown option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("sim", "unexpected argument '%s'", argv[optind]);
	if (!cfg.devices)
		return cli_usage_error("sim", "--devices N is required");
	if (cfg.n_maps && !cfg.server_dir)
		return cli_usage_error("sim", "--server needs --server-dir DIR (the deployment's PKI and subscribers)");
	if (cfg.server_dir && cfg.f.restarts)
		return cli_usage_error("sim", "--faults restart=%u: the simulator restarts only a server it started "
					      "itself, not one given with --server-dir",
				       cfg.f.restarts);
	return sim_run(&cfg);
}

static int sim_run(const sim_cfg *cfg)
{
	sim *s = omc_calloc(1, sizeof *s);
	if (!s)
		return CLI_ERROR;
	const bool json_out = cfg->json;
	const char *report = cfg->report;
	const uint64_t seed = cfg->seed;
	const unsigned workers = (unsigned)cfg->workers;
	s->n = (unsigned)cfg->devices;
	s->f = cfg->f;
	s->seed = seed;
	s->workers = workers;
	s->sample_every = 0.1;
	s->devs = omc_calloc(s->n, sizeof *s->devs);
	s->heap = omc_calloc(SIM_WINDOW + 1, sizeof *s->heap);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	struct sigaction old[2];
	fleet_signals_catch(on_sig, old);
	sim_stop = 0;
	omc_log_set_level(OMC_LOG_LEVEL_ERR);
	char why[600] = "";
	bool ok = s->devs && s->heap;
	if (ok && cfg->server_dir)
		ok = fleet_server_attach(&s->srv, cfg->server_dir, cfg->maps, cfg->n_maps, why, sizeof why);
	else if (ok)
		ok = fleet_server_start(&s->srv, &sim_stop);
	if (ok && (omc_pki_load(s->srv.pki, "m2mes", &s->mk, &s->mc) != OMC_OK ||
		   omc_factory_open(&s->fac, s->srv.pki) != OMC_OK)) {
		snprintf(why, sizeof why, "cannot load the PKI from %s", s->srv.pki);
		ok = false;
	}
	int rc = CLI_ERROR;
	if (!ok) {
		fprintf(stderr, "openmcim sim: setup failed%s%s%s\n", why[0] ? ": " : "", why,
			sim_stop ? " (interrupted)" : "");
		goto out;
	}
	for (unsigned i = 0; i < s->n; i++) {
		sim_dev *d = &s->devs[i];
		d->want_change = dice(seed, i, 1) < s->f.change_wave;
		d->want_tamper = dice(seed, i, 2) < s->f.tamper;
		d->want_cut = dice(seed, i, 3) < s->f.powercut;
		d->want_expiry = dice(seed, i, 4) < s->f.pcid_expiry;
		d->want_repeat = dice(seed, i, 5) < s->f.pcid_repeat;
		s->expiries += d->want_expiry;
	}
	double cpu0 = cpu_of(getpid()), srv_cpu0 = s->srv.pid > 0 ? cpu_of(s->srv.pid) : 0;
	s->t0 = now_s();
	for (; s->next < s->n && s->next < SIM_WINDOW; s->next++)
		heap_push(s, s->t0, s->next);
	pthread_t th[64];
	unsigned started = 0;
	for (unsigned i = 0; i < workers; i++)
		if (pthread_create(&th[started], NULL, worker, s) == 0)
			started++;
	bool bar = !json_out && isatty(STDERR_FILENO);
	double last_sample = -1;
	unsigned restarts_done = 0;
	for (;;) {
		pthread_mutex_lock(&s->mu);
		unsigned done = s->finished;
		pthread_mutex_unlock(&s->mu);
		double t = now_s() - s->t0;
		if (t - last_sample >= s->sample_every) {
			sample(s);
			last_sample = t;
		}
		if (bar)
			fleet_progress(done, s->n);
		if (done == s->n || sim_stop || !started)
			break;
		/* restart=K: the server is killed and started again K times, spread
		 * evenly over the run. */
		if (restarts_done < s->f.restarts &&
		    (uint64_t)done * (s->f.restarts + 1) >= (uint64_t)(restarts_done + 1) * s->n) {
			restarts_done++;
			if (fleet_server_restart(&s->srv, &sim_stop))
				s->restarts++;
			else
				cause_add(s, "server restart failed", 1);
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	pthread_mutex_lock(&s->mu);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	sample(s);
	if (bar)
		fputc('\n', stderr);
	sim_result r;
	memset(&r, 0, sizeof r);
	r.wall = now_s() - s->t0;
	r.rss = s->srv.pid > 0 ? rss_of(s->srv.pid) : 0; /* an external server's is not ours to read */
	r.sim_rss = rss_of(getpid());
	r.sim_cpu = cpu_of(getpid()) - cpu0;
	/* after restarts: the last server process's CPU only */
	r.server_cpu = s->srv.pid > 0 ? cpu_of(s->srv.pid) - (s->restarts ? 0 : srv_cpu0) : 0;
	bool inv = check(s, &r);
	r.rate = r.wall > 0 ? r.provisioned / r.wall : 0;
	if (json_out) {
		print_json(s, &r, inv);
	} else {
		printf("openmcim sim: %u devices, %u provisioned in %.1f s: %.1f/s, p50 %.0f ms, p99 %.0f ms\n", s->n,
		       r.provisioned, r.wall, r.rate, r.p50, r.p99);
		if (s->srv.external)
			printf("  server: external, %u replica%s (its RSS is not measured)\n", s->srv.n_replicas,
			       s->srv.n_replicas == 1 ? "" : "s");
		else
			printf("  server RSS (peak) %llu bytes, %.0f bytes per device\n", (unsigned long long)r.rss,
			       s->n ? (double)r.rss / s->n : 0.0);
		printf("  faults: %lu requests dropped, %lu answers dropped, %lu delayed, %lu server restarts,\n"
		       "  %lu power cuts, %lu tampers, %lu operator changes, %lu PCID expiries\n",
		       s->drops_req, s->drops_resp, s->delays, s->restarts, s->powercuts, s->tampers, s->changes,
		       s->expiries);
		for (size_t i = 0; i < s->n_causes; i++)
			printf("  failure: %-48s %lu\n", s->causes[i].name, s->causes[i].n);
		printf("  invariants: provisioned exactly once %s, IMSIs unique %s, no MCIM lost %s, none stranded %s\n",
		       r.exactly_once ? "ok" : "BROKEN", r.imsi_unique ? "ok" : "BROKEN", r.none_lost ? "ok" : "BROKEN",
		       r.none_stranded ? "ok" : "BROKEN");
	}
	sim_report_data rd = {.samples = s->samples,
			      .n_samples = s->n_samples,
			      .lat_ms = r.lat,
			      .n_lat = r.provisioned,
			      .causes = s->causes,
			      .n_causes = s->n_causes,
			      .devices = s->n};
	if (report && sim_report_html(report, &rd) != 0) {
		fprintf(stderr, "openmcim sim: cannot write %s\n", report);
		inv = false;
	}
	omc_free(r.lat);
	rc = sim_stop ? 130 : inv ? CLI_OK : CLI_FAIL;
out:
	for (unsigned i = 0; s->devs && i < s->n; i++)
		dev_release(&s->devs[i]);
	fleet_server_stop(&s->srv);
	omc_key_free(s->mk);
	omc_cert_free(s->mc);
	omc_factory_free(s->fac);
	omc_free(s->heap);
	omc_free(s->devs);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	omc_free(s);
	fleet_signals_restore(old);
	return rc;
}
