/* openmcim demo, the network part: every role of `openmcim server` on
 * loopback with a fresh demo deployment (the server in a process of its
 * own, this binary's `server --config`), a fleet made in the factory step
 * (TREs on real files), its PCIDs reported to the CCIF, each device
 * registered with an SHO by the demo subscriber, then each device's agent
 * runs the story (attach with the PCID, bootstrap, DRF, PVA, DPF, install,
 * receipt, attach with the MCIM, a command poll). A progress bar on a
 * terminal, a table at the end. Nothing secret is printed. */
#define _XOPEN_SOURCE 700
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "fleet.h"
#include "openmcim/openmcim.h"

typedef struct fleet_dev {
	char dir[FLEET_DIR_MAX + 32], tre_id[64], platform_id[32], pcid_imsi[16];
	char *report;
	char transfer_code[64]; /* what its subscriber holds to move it to another SHO */
	int sho;
	bool registered, reported;
	omc_agent_info info;
	bool ran, ok;
	bool changed, recovered; /* the second act: an operator change, a recovery */
	char error[128];
} fleet_dev;

typedef struct fleet {
	fleet_srv s;
	fleet_dev *devs;
	unsigned n;
	unsigned next, done; /* atomics */
	bool quiet;
} fleet;

static volatile sig_atomic_t stop_flag;

static void on_sigint(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* The factory step, the CCIF report (as the M2MES) and the subscriber's
 * registration with its SHO. */
static bool make_devices(fleet *f)
{
	omc_key *mk = NULL;
	omc_cert *mc = NULL;
	omc_http_client *c = NULL;
	if (omc_pki_load(f->s.pki, "m2mes", &mk, &mc) != OMC_OK || omc_http_client_new(&c, NULL) != OMC_OK) {
		omc_key_free(mk);
		omc_cert_free(mc);
		return false;
	}
	char devroot[sizeof f->s.dir + 16];
	snprintf(devroot, sizeof devroot, "%s/devices", f->s.dir);
	bool ok = mkdir(devroot, 0700) == 0;
	for (unsigned i = 0; ok && i < f->n && !stop_flag; i++) {
		fleet_dev *d = &f->devs[i];
		snprintf(d->dir, sizeof d->dir, "%s/dev%03u", devroot, i + 1);
		d->sho = 1 + (int)(i % 2);
		omc_factory_device_opts fo = {.pki_dir = f->s.pki, .dir = d->dir};
		fleet_made m;
		memset(&m, 0, sizeof m);
		ok = mkdir(d->dir, 0700) == 0 && fleet_device_make(&f->s, c, mk, mc, &fo, d->sho, &m);
		snprintf(d->tre_id, sizeof d->tre_id, "%s", m.tre_id);
		snprintf(d->platform_id, sizeof d->platform_id, "%s", m.platform_id);
		snprintf(d->pcid_imsi, sizeof d->pcid_imsi, "%s", m.pcid_imsi);
		snprintf(d->transfer_code, sizeof d->transfer_code, "%s", m.transfer_code);
		d->reported = d->registered = ok;
	}
	omc_http_client_free(c);
	omc_key_free(mk);
	omc_cert_free(mc);
	return ok && !stop_flag;
}

static void run_device(fleet *f, fleet_dev *d)
{
	omc_tre *t = NULL;
	omc_tre_opts to = {.dir = d->dir, .count_boot = true};
	omc_store_io *io = NULL;
	omc_agent *a = NULL;
	omc_agent_local local;
	omc_err e = omc_tre_open(&t, &to);
	if (e == OMC_OK)
		e = omc_store_io_posix_new(&io, d->dir);
	if (e == OMC_OK) {
		omc_agent_opts ao = {.io = io,
				     .state_path = "agent.state",
				     .vno_url = fleet_url(&f->s, "vno"),
				     .bootstrap_url = fleet_url(&f->s, "bootstrap"),
				     .bootstrap_ca = f->s.ico_ca,
				     .backoff_min_ms = 50,
				     .backoff_max_ms = 1000,
				     .poll_ms = 100};
		omc_agent_tre_local(&ao.tre, &local, t, "agent");
		e = omc_agent_new(&a, &ao);
	}
	if (e == OMC_OK)
		e = omc_agent_run(a, 60000);
	if (a)
		omc_agent_info_get(a, &d->info);
	d->ok = e == OMC_OK && d->info.state == OMC_AGENT_OPERATIONAL;
	if (!d->ok)
		snprintf(d->error, sizeof d->error, "%s", d->info.last_error[0] ? d->info.last_error : omc_err_name(e));
	d->ran = true;
	omc_agent_free(a);
	omc_store_io_posix_free(io);
	omc_tre_close(t);
}

/* TRE-4, SEC-5: the case of device d is opened; its TRE locks down and
 * its agent goes silent. The maintainer (as the RO) takes the TRE's signed
 * tamper report and evidence over a PVA recovery nonce to the PVA, gets a
 * recovery authorisation and applies it; the TRE is pristine again and the
 * agent provisions it by itself. */
static bool recover_device(fleet *f, fleet_dev *d)
{
	omc_tre *t = NULL;
	omc_tre_opts to = {.dir = d->dir, .count_boot = true};
	omc_http_client *c = NULL;
	omc_http_client_opts co = {.timeout_ms = 15000};
	bool ok = omc_tre_open(&t, &to) == OMC_OK && omc_http_client_new(&c, &co) == OMC_OK &&
		  fleet_recover(&f->s, c, t);
	omc_http_client_free(c);
	omc_tre_close(t);
	if (!ok) {
		snprintf(d->error, sizeof d->error, "recovery refused");
		return false;
	}
	return true;
}

/* CHG-1: the subscriber of the other SHO takes device d over. */
static bool change_device(fleet *f, fleet_dev *d)
{
	omc_http_client *c = NULL;
	omc_http_client_opts co = {.timeout_ms = 15000};
	if (omc_http_client_new(&c, &co) != OMC_OK)
		return false;
	int to = d->sho == 1 ? 2 : 1;
	fleet_made m;
	memset(&m, 0, sizeof m);
	snprintf(m.platform_id, sizeof m.platform_id, "%s", d->platform_id);
	snprintf(m.transfer_code, sizeof m.transfer_code, "%s", d->transfer_code);
	int st = fleet_change(&f->s, c, &m, to);
	omc_http_client_free(c);
	if (st != 202) {
		snprintf(d->error, sizeof d->error, "change to sho%d: %d", to, st);
		return false;
	}
	d->sho = to;
	return true;
}

/* The second act, device by device: every fourth device changes its
 * operator, the first one is tampered with and recovered. */
static void act_two(fleet *f, fleet_dev *d, unsigned i)
{
	bool change = i % 4 == 3, recover = i == 0;
	if (!d->ok || (!change && !recover))
		return;
	if (recover && recover_device(f, d)) {
		run_device(f, d);
		d->recovered = d->ok && d->info.mcim_id[0];
	}
	if (change && change_device(f, d)) {
		char want[8];
		snprintf(want, sizeof want, "sho%d", d->sho);
		run_device(f, d);
		d->changed = d->ok && !strcmp(d->info.sho, want);
		if (d->ok && !d->changed)
			snprintf(d->error, sizeof d->error, "still with %s after the change", d->info.sho);
	}
}

static void *worker2(void *arg)
{
	fleet *f = arg;
	for (;;) {
		unsigned i = __atomic_fetch_add(&f->next, 1, __ATOMIC_RELAXED);
		if (i >= f->n || stop_flag)
			break;
		act_two(f, &f->devs[i], i);
	}
	return NULL;
}

static void *worker(void *arg)
{
	fleet *f = arg;
	for (;;) {
		unsigned i = __atomic_fetch_add(&f->next, 1, __ATOMIC_RELAXED);
		if (i >= f->n || stop_flag)
			break;
		run_device(f, &f->devs[i]);
		__atomic_fetch_add(&f->done, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void progress(const fleet *f, unsigned done)
{
	if (!f->quiet && isatty(STDERR_FILENO))
		fleet_progress(done, f->n);
}

int demo_fleet(unsigned n, bool json_out, unsigned *provisioned, unsigned *attached)
{
	fleet f;
	memset(&f, 0, sizeof f);
	f.n = n;
	f.quiet = json_out;
	f.devs = omc_calloc(n ? n : 1, sizeof *f.devs);
	struct sigaction old[2];
	fleet_signals_catch(on_sigint, old);
	stop_flag = 0;
	omc_log_set_level(OMC_LOG_LEVEL_ERR);
	bool ok = f.devs && fleet_server_start(&f.s, &stop_flag);
	if (!json_out)
		printf("The network story: every role on loopback, %u devices from the factory\n", n);
	if (ok && !json_out)
		printf("  openmcim server (pid %d): %zu listeners on loopback, demo PKI and database in %s\n",
		       (int)f.s.pid, json_object_size(f.s.urls), f.s.dir);
	fflush(stdout); /* a pipe or a file sees progress as it happens */
	ok = ok && make_devices(&f);
	if (ok && !json_out)
		printf("  factory: %u devices; PCIDs reported to the CCIF; each registered with an SHO\n", n);
	fflush(stdout);
	if (ok) {
		pthread_t th[4];
		unsigned nth = n < 4 ? (n ? n : 1) : 4, started = 0;
		for (unsigned i = 0; i < nth; i++)
			if (pthread_create(&th[i], NULL, worker, &f) == 0)
				started++;
		unsigned done;
		while ((done = __atomic_load_n(&f.done, __ATOMIC_RELAXED)) < n && !stop_flag && started) {
			progress(&f, done);
			struct timespec ts = {0, 100 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		for (unsigned i = 0; i < started; i++)
			pthread_join(th[i], NULL);
		progress(&f, __atomic_load_n(&f.done, __ATOMIC_RELAXED));
		if (!f.quiet && isatty(STDERR_FILENO))
			fputc('\n', stderr);
	}
	/* The second act: operator changes and a recovery, in parallel too. */
	unsigned want_changes = n / 4, changes = 0, recovered = 0, want_recovered = n > 0;
	if (ok && !stop_flag) {
		__atomic_store_n(&f.next, 0, __ATOMIC_RELAXED);
		pthread_t th[4];
		unsigned nth = n < 4 ? (n ? n : 1) : 4, started = 0;
		for (unsigned i = 0; i < nth; i++)
			if (pthread_create(&th[i], NULL, worker2, &f) == 0)
				started++;
		for (unsigned i = 0; i < started; i++)
			pthread_join(th[i], NULL);
		for (unsigned i = 0; i < n; i++) {
			changes += f.devs[i].changed;
			recovered += f.devs[i].recovered;
		}
		if (!json_out)
			printf("  operator changes: %u of %u devices moved to the other SHO by its subscriber (the RO's\n"
			       "  signed reprovision erased the old MCIM; the old SHO disabled its IMSI on the TRE's receipt)\n"
			       "  tamper: %u of %u device recovered (lockdown, silent agent, the PVA's recovery authorisation\n"
			       "  after a passing integrity check, pristine, provisioned again)\n",
			       changes, want_changes, recovered, want_recovered);
	}
	*provisioned = *attached = 0;
	json_t *fails = json_array();
	if (!json_out && ok) {
		printf("\n  %-8s %-22s %-12s %-24s %-5s %s\n", "device", "TRE", "state", "MCIM", "SHO", "attach");
	}
	for (unsigned i = 0; i < n && f.devs; i++) {
		fleet_dev *d = &f.devs[i];
		bool prov = d->ran && d->info.mcim_id[0] && d->info.state >= OMC_AGENT_ATTACH_MCIM &&
			    d->info.state != OMC_AGENT_LOCKDOWN;
		*provisioned += prov;
		*attached += d->ok;
		if (!d->ok)
			json_array_append_new(fails, json_pack("{s:i,s:s,s:s,s:s}", "device", (int)i + 1, "tre_id", d->tre_id,
							       "state", omc_agent_state_name(d->info.state), "error",
							       d->ran ? d->error : "not run"));
		if (!json_out && ok)
			printf("  dev%03u   %-22s %-12s %-24s %-5s %s\n", i + 1, d->tre_id, omc_agent_state_name(d->info.state),
			       d->info.mcim_id[0] ? d->info.mcim_id : "-", d->info.sho[0] ? d->info.sho : "-",
			       d->ok ? "ok (operational session)" : d->ran ? d->error : "not run");
	}
	if (json_out) {
		json_t *o = json_pack("{s:i,s:i,s:i,s:i,s:i,s:o,s:b}", "devices", (int)n, "provisioned", (int)*provisioned,
				      "attached", (int)*attached, "operator_changes", (int)changes, "recovered",
				      (int)recovered, "failures", fails, "interrupted", stop_flag != 0);
		char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (s)
			printf("%s\n", s);
		omc_free(s);
		json_decref(o);
	} else {
		if (!ok)
			printf("  setup FAILED%s\n", stop_flag ? " (interrupted)" : "");
		printf("\n  %u of %u devices provisioned, %u attached with their MCIM\n", *provisioned, n, *attached);
		json_decref(fails);
	}
	fleet_server_stop(&f.s);
	for (unsigned i = 0; i < n && f.devs; i++)
		omc_free(f.devs[i].report);
	omc_free(f.devs);
	fleet_signals_restore(old);
	int rc = stop_flag ? -1 : ok && *attached == n && changes == want_changes && recovered == want_recovered ? 0 : 1;
	return rc;
}
