/* Test fixture for `openmcim server`: a demo deployment in a temporary
 * directory, the server started in-process (restartable), HTTP calls as a
 * device, a subscriber or a signed peer, and devices made by the factory
 * with the deployment's PKI, driven through the whole provisioning story
 * the way the agent will. */
#ifndef OMC_SRV_FIXTURE_H
#define OMC_SRV_FIXTURE_H

#include "testlib.h"

#include <jansson.h>

#include "openmcim/openmcim.h"

typedef struct sf_env {
	char dir[64];
	char conf[128];
	char pki[128];
	char db[192]; /* [server] db: the file, or a PostgreSQL URI (OMC_TEST_PG) */
	char tokens[2][64]; /* the demo subscribers of sho1 and sho2 */
	omc_server *srv;
	json_t *urls;
	omc_http_client *http;
	int64_t now_offset; /* added to the server's clock */
} sf_env;

/* Make the deployment and start the server. */
void sf_up(sf_env *e);
/* The same, with HTTPS on every listener when tls. */
void sf_up_opts(sf_env *e, bool tls);
/* Stop the server (the deployment stays); sf_start brings it back. */
void sf_stop(sf_env *e);
void sf_start(sf_env *e);
/* Give the listeners fixed ports (a free base found now), so that a
 * restart keeps every URL: clients holding URLs (the agent) go on. */
void sf_fix_ports(sf_env *e);
/* Stop the server, append "[section]" and lines to its config, start it. */
void sf_restart_with(sf_env *e, const char *section, const char *lines);
/* sf_up, the server stopped, and the config it wrote into *base (free
 * with omc_free): for sf_try_config. */
void sf_up_config(sf_env *e, uint8_t **base, size_t *base_len);
/* With the server stopped: its config made of base (base_len bytes: the
 * config as sf_up wrote it) and then text, and a server started on it
 * into *s (NULL unless OMC_OK). For the refusals of a config's values. */
omc_err sf_try_config(sf_env *e, const uint8_t *base, size_t base_len, const char *text, omc_server **s);
/* Stop and remove everything. */
void sf_down(sf_env *e);
/* A role's base URL ("vno", "sho.sho1", ...). */
const char *sf_url(sf_env *e, const char *role);

/* One call: body may be NULL; auth is the whole Authorization value or
 * NULL. *out gets the answer as JSON (NULL if it is not JSON); the status
 * is returned. */
int sf_call(sf_env *e, const char *method, const char *role, const char *path, const char *auth, const char *body,
	    json_t **out);
/* Optional hooks, process-wide (all NULL: none; set them from one thread
 * only): sf_call calls `before` with each call it is about to make (it may
 * restart the server: the URL is looked up after it returns) and `answer`
 * with each answer's status and body. */
typedef struct sf_hooks {
	void (*before)(void *arg, sf_env *e, const char *method, const char *role, const char *path);
	void (*answer)(void *arg, int status, const char *body, size_t len);
	void *arg;
} sf_hooks;
extern sf_hooks sf_hook;
/* The allocation-failure sweep of the server's request path
 * (tests/faults/server_faults_test.c). While sf_sweep.on, every sf_call,
 * sf_signed and sf_bearer is made once per allocation its handlers make
 * (the peers' handlers it reaches included), the n-th of them failing
 * (omc_test_alloc_shared_fail_at), then once with none failing, whose
 * answer it returns. Each failed one must answer 5xx (or succeed without
 * what it could not get: counted in `absorbed`, never a 4xx), and leave the
 * database as it was (sf_db_digest), unless a whole step landed before the
 * failure (a peer's commit, or a commit whose answer was lost): then it is
 * counted in `landed`, and the same call is made once more on the
 * database as it is (a client's retry): it must succeed (retry_ok) or give
 * an answer listed in srv_fixture.c's retry_rules, one that says the step
 * is done (retry_idempotent) or one of a step that by design is not
 * retried but made again from its start (retry_by_design); any other
 * answer fails the test. Then the server is restarted on the database as
 * it was before the call, and the sweep goes on. When the last retry that
 * succeeded answered as the clean call did, the story goes on from the
 * database that retry left and with its answer (went_on), not the clean
 * call's. A signed call is signed again each time. */
typedef struct sf_sweep_state {
	bool on;
	unsigned long calls, failures, landed, absorbed;
	unsigned long retry_ok, retry_idempotent, retry_by_design; /* the same call again after a landed step */
	unsigned long went_on; /* calls whose story went on from a retry's state */
	unsigned long by_status[6];
} sf_sweep_state;
extern sf_sweep_state sf_sweep;
/* Optional (fn NULL: none): while the sweep is on, called with every call
 * that answered a success without an allocation that failed under it
 * (counted in `absorbed`), and with every retry after a landed step that
 * went through, on the database as that call left it and with its answer
 * (NULL if not JSON): a test checks there that the success did the whole
 * step (a 200 that left a step undone fails it), as it checks the clean
 * call's after it. */
typedef struct sf_sweep_check {
	void (*fn)(void *arg, sf_env *e, const char *method, const char *role, const char *path, int status,
		   json_t *answer);
	void *arg;
} sf_sweep_check;
extern sf_sweep_check sf_check;
/* What the sweep did since *b (a copy of sf_sweep taken before): calls,
 * failures injected, landed steps and how their retries went, printed
 * after what. */
void sf_sweep_report(const char *what, const sf_sweep_state *b);
/* Sweep the statement(s), reported as what. */
#define SF_SWEPT(what, ...)                                                                                        \
	do {                                                                                                       \
		sf_sweep_state b_ = sf_sweep;                                                                      \
		__VA_ARGS__;                                                                                       \
		sf_sweep_report(what, &b_);                                                                        \
	} while (0)
/* The same signed as PKI entity `who` (a server calling a server). */
int sf_signed(sf_env *e, const char *who, const char *method, const char *role, const char *path, const char *body,
	      json_t **out);
/* The same with "Bearer TOKEN". */
int sf_bearer(sf_env *e, const char *token, const char *method, const char *role, const char *path,
	      const char *body, json_t **out);
/* The error code of an answer ("" when none). */
const char *sf_code(json_t *o);

/* A device of the deployment's factory, on its own memfs. */
typedef struct sf_dev {
	omc_memfs *fs;
	omc_store_io *io, *store_io;
	omc_tre *t;
	char tre_id[64], platform_id[64], pcid_imsi[16];
	char report[8192]; /* the PCID report JWE */
	char session[64];  /* the VNO session of the last attach */
	char mcim_id[41], mcim_imsi[16];
	char *evidence; /* the last session evidence */
	char token[4096];
	char transfer_code[64]; /* the last one sf_subscribe was given */
} sf_dev;
/* pcid_json as for omc_factory_device (NULL: generated). */
void sf_dev_make(sf_env *e, sf_dev *d, const char *pcid_json);
void sf_dev_free(sf_dev *d);
/* Close and open its TRE again (a reboot). */
void sf_dev_reboot(sf_dev *d);

/* The steps of the story; each returns the HTTP status of its last call
 * (and asserts nothing itself, so tests can check refusals). */
int sf_report_pcid(sf_env *e, sf_dev *d);                       /* CCIF, as the M2MES */
int sf_subscribe(sf_env *e, sf_dev *d, int sho);                 /* sho 1 or 2, as its demo subscriber */
int sf_attach(sf_env *e, sf_dev *d, const char *mcim_id);        /* AKA at the VNO: a session in d->session */
int sf_register(sf_env *e, sf_dev *d, json_t **out);            /* DRF */
int sf_validate(sf_env *e, sf_dev *d);                          /* PVA nonce, session, validate: d->token */
int sf_download(sf_env *e, sf_dev *d, char **receipt);          /* DPF download and TRE install */
int sf_send_receipt(sf_env *e, sf_dev *d, const char *receipt); /* DPF receipts */
/* All of it, asserting every step: subscribe with sho, report, attach with
 * the PCID, register, validate, download, receipt, attach with the MCIM. */
void sf_provision(sf_env *e, sf_dev *d, int sho);

/* A command through SHO sho's subscriber API (POST /v1/commands), failing
 * the test unless the status is want; its id. */
json_int_t sf_sho_command(sf_env *e, int sho, sf_dev *d, const char *cmd, const char *update, int want);
/* The device's side of the DPF relay (MGT-1): its commands fetched over
 * d->session, each carried out by its TRE and the result posted (200, or
 * the test fails); names (may be NULL) gets the first max commands' cmd
 * claims. Returns how many there were. */
size_t sf_dev_commands(sf_env *e, sf_dev *d, char (*names)[24], size_t max);
/* A PVA recovery nonce, asked as the maintainer (the RO). */
void sf_recovery_nonce(sf_env *e, uint8_t n[32]);
/* POST pva /v1/recovery with report and evidence, as the RO: the status;
 * *auth (may be NULL) gets the authorisation on 200 (omc_free), *out (may
 * be NULL) the answer. */
int sf_recovery(sf_env *e, const char *report, const char *evidence, char **auth, json_t **out);
/* A VNO challenge for imsi: the attach id, and RAND and AUTN (either may
 * be NULL), left unanswered. */
void sf_challenge(sf_env *e, const char *imsi, char id[64], uint8_t rand[16], uint8_t autn[16]);

/* The agent of a device, with the TRE in this process and short timers. */
typedef struct sf_agent {
	omc_agent_local local;
	omc_agent *a;
	char ca[160];
} sf_agent;
void sf_agent_make(sf_agent *ae, sf_env *e, sf_dev *d);
/* The same, with edit (may be NULL) given the TRE's operations first: a
 * test puts its own in place of some. */
void sf_agent_make_with(sf_agent *ae, sf_env *e, sf_dev *d, void (*edit)(omc_agent_tre *ops));
void sf_agent_drop(sf_agent *ae);
/* omc_agent_run until it settles; fails the test unless it settles in want. */
omc_agent_info sf_agent_run(sf_agent *ae, omc_agent_state want);

/* SHA-256 over every row of every table but audit and req_jti (and the
 * layer's own omc_schema and omc_sync on PostgreSQL), in no order: equal before and after a refusal means the refusal changed
 * nothing. */
void sf_db_digest(sf_env *e, uint8_t out[32]);
/* The same hash per table (at most max): the tables' names and hashes, by
 * name; their number. */
size_t sf_db_tables(sf_env *e, char (*names)[40], uint8_t (*h)[32], size_t max);
/* Count rows: SELECT count(*) ... (-1: no row) */
long sf_db_count(sf_env *e, const char *sql);
/* One text column of the first row of sql ("" when none), ?1 bound to arg
 * unless NULL; and SQL without results. On either backend. */
void sf_db_text(sf_env *e, char *out, size_t cap, const char *sql, const char *arg);
void sf_db_exec(sf_env *e, const char *sql);
/* Whether the tests run on PostgreSQL (OMC_TEST_PG=DIR, the *_pg entries:
 * scripts/pg/cluster.sh's cluster in DIR). */
bool sf_pg(void);
/* A fresh database for a deployment in dir: a database of its own in the
 * cluster (true), or dir/openmcim.db (false); sf_db_drop drops the former. */
bool sf_db_new(char *db, size_t cap, const char *dir);
void sf_db_drop(const char *db);

/* An AuC of its own, without a server: operator "ico" on a fresh SQLite
 * file in a new directory under /tmp, holding one MILENAGE subscriber
 * (imsi, K and OPc in hex, the default 5 IND bits; cred is its
 * credential). false if any step failed. sf_auc_down closes it, wipes
 * cred and removes the directory (false if that failed). */
typedef struct sf_auc {
	char dir[64];
	omc_db *db;
	omc_auc *auc;
	omc_aka_cred cred;
} sf_auc;
bool sf_auc_up(sf_auc *a, const char *imsi, const char *k_hex, const char *opc_hex);
bool sf_auc_down(sf_auc *a);

#endif
