/* openmcim CLI: what the demo's fleet and the simulator share (fleet.c):
 * `openmcim server` with a fresh demo deployment in a child process, the
 * factory step of one device with its CCIF report and registration, an
 * operator change and a tamper recovery as the network sees them. */
#ifndef OMC_CLI_FLEET_H
#define OMC_CLI_FLEET_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#include "openmcim/openmcim.h"

#define FLEET_REPLICAS_MAX 16
#define FLEET_DIR_MAX 480 /* a deployment directory's path, NUL included */

typedef struct fleet_srv {
	char dir[FLEET_DIR_MAX], pki[FLEET_DIR_MAX + 20], ico_ca[FLEET_DIR_MAX + 40], conf[FLEET_DIR_MAX + 20];
	pid_t pid;          /* 0 for an external deployment */
	bool external;      /* fleet_server_attach: not ours to restart or remove */
	json_t *urls;       /* role -> base URL (the first replica) */
	json_t *replicas[FLEET_REPLICAS_MAX]; /* each replica's role -> base URL */
	unsigned n_replicas;
	/* CLOCK_MONOTONIC milliseconds until which a replica is left out of the
	 * round robin: no connection could be made to it (fleet_routed) */
	int64_t down_until_ms[FLEET_REPLICAS_MAX];
	char tokens[2][64]; /* the demo subscribers' bearer tokens at sho1 and sho2 */
} fleet_srv;

/* A temporary directory, the demo deployment in it, `openmcim server
 * --config` started from this binary (its first stdout line: the URLs). */
bool fleet_server_start(fleet_srv *s, volatile const int *stop);
/* The same deployment again (same ports) after SIGKILL: a crash. */
bool fleet_server_restart(fleet_srv *s, volatile const int *stop);
/* An external deployment (docs/sim.md, "External servers"): the demo
 * deployment directory dir (made by `openmcim server --demo --dir DIR`: its
 * PKI and subscribers.json) and the role maps of its replicas: maps[0..n)
 * are comma-separated lists of files, each holding the JSON object
 * `openmcim server` prints first (n 0: dir's urls.json). On failure false,
 * and why says what is missing. */
bool fleet_server_attach(fleet_srv *s, const char *dir, const char *const *maps, size_t n, char *why,
			 size_t why_cap);
/* Stop it and remove the directory (an external one is left alone). */
void fleet_server_stop(fleet_srv *s);
/* A role's base URL; with several replicas each call takes the next one
 * (round robin). */
const char *fleet_url(const fleet_srv *s, const char *role);
/* omc_http_route_fn over s (arg): a URL of any replica's role goes to that
 * role on the next replica, round robin; false with one replica. */
bool fleet_route(void *arg, const char *url, char *out, size_t cap);
/* omc_http_routed_fn over s (arg): a replica no connection could be made to
 * is left out of the round robin for FLEET_DOWN_MS (then tried again), as a
 * load balancer's health check would; while every replica is out, the
 * round robin goes on over all of them. */
#define FLEET_DOWN_MS 2000
void fleet_routed(void *arg, const char *url, bool unreachable);
/* base+path; the status (0: no answer) and the answer as JSON if out. On a
 * client with fleet_route and fleet_routed, a request that reached no
 * replica at all is sent again, to the next one. */
int fleet_http(omc_http_client *c, const char *method, const char *base, const char *path, const char *auth,
	       const char *body, json_t **out);

typedef struct fleet_made {
	char tre_id[64], platform_id[32], pcid_imsi[16], transfer_code[64];
	char why[48]; /* the step that failed, when one did */
} fleet_made;
/* The factory step (fo), the PCID reported to the CCIF signed as the M2MES
 * (mk, mc), the device registered with SHO sho (1 or 2). false, and
 * out->why, when a step failed. */
bool fleet_device_make(const fleet_srv *s, omc_http_client *c, const omc_key *mk, const omc_cert *mc,
		       const omc_factory_device_opts *fo, int sho, fleet_made *out);
/* CHG-1: sho `to`'s subscriber takes the device over (202). */
int fleet_change(const fleet_srv *s, omc_http_client *c, const fleet_made *d, int to);
/* TRE-4, SEC-5: tamper with t, then the maintainer's recovery through the
 * PVA; true when t is pristine again. */
bool fleet_recover(const fleet_srv *s, omc_http_client *c, omc_tre *t);

/* SIGINT and SIGTERM to h, the old actions kept in old[2] for
 * fleet_signals_restore. */
void fleet_signals_catch(void (*h)(int), struct sigaction old[2]);
void fleet_signals_restore(const struct sigaction old[2]);
/* "\r  [####....] done/n devices" on stderr. */
void fleet_progress(unsigned long done, unsigned long n);

#endif
