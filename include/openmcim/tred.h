/* openmcim: the TRE daemon and its client (src/tred).
 *
 * The TRE library behind a Unix stream socket (TRE-1): one process opens
 * the TRE once (its start is a boot) and serves local processes, one
 * request at a time on the single TRE handle. Each connection is
 * authenticated by its peer credentials (SO_PEERCRED); a configuration maps
 * uids to local user names, and AKA runs as that name, so the MCIMs' ACLs
 * apply. Operations a local user authorises (user management, local
 * lifecycle changes) carry that user's name and PIN and go through
 * omc_tre_user_auth (TRE-10).
 *
 * The wire format is one JSON object a line each way:
 *   {"op": NAME, ...args}  ->  {"ok": true, ...}
 *                          or  {"ok": false, "error": CODE, "message": TEXT}
 * where CODE is an omc_err name ("DENIED", "BAD_JSON", ...). Binary
 * arguments and answers are lowercase hex (either case accepted). Every op,
 * its arguments and its answer: docs/tred.md.
 *
 * The client mirrors omc_tre_*: one call per op, the same results and
 * errors; plus omc_tred_agent_tre, the agent's TRE table over the socket.
 * K, OPc, TOPc and PINs never cross the socket from the daemon; RES, CK,
 * IK and AUTS do (the modem needs them) and are wiped wherever this code
 * held them. */
#ifndef OPENMCIM_TRED_H
#define OPENMCIM_TRED_H

#include <stdbool.h>

#include "openmcim/agent.h"
#include "openmcim/common.h"
#include "openmcim/err.h"
#include "openmcim/tre.h"

/* A request line, without its newline: longer ones are answered TOO_LARGE
 * (the line is read to its end and dropped; the connection stays). */
#define OMC_TRED_MAX_REQUEST (1u << 20)
/* The longest answer the client reads (an audit export is the long one). */
#define OMC_TRED_MAX_ANSWER (64u << 20)
/* Connections served at once; one more is told BUSY and closed. */
#define OMC_TRED_MAX_CLIENTS 64
/* uid-to-name lines of a users file. */
#define OMC_TRED_MAX_USERS 64
/* The client's send and receive timeout. */
#define OMC_TRED_TIMEOUT_MS 60000

/* =========================================================================
 * The daemon
 * ========================================================================= */
typedef struct omc_tred_daemon omc_tred_daemon;

typedef struct omc_tred_opts {
	const char *dir;         /* TREDIR */
	const char *socket_path; /* the socket to create (mode 0660) */
	/* Lines "UID NAME" (UID decimal, or a login name looked up once at
	 * start), '#' comments and blank lines; NAME is a TRE user name
	 * ([a-z0-9_-], 1..32). NULL: the daemon's own uid is "agent", and root,
	 * if that is another uid, is "admin". */
	const char *users_file;
	/* The TPM's TCTI (omc_tre_opts.tpm); NULL: TREDIR/tpm.conf, if any. */
	const char *tpm;
} omc_tred_opts;

/* Claim the socket path (refused with OMC_ERR_EXISTS if a daemon listens
 * there or the path is not a socket; a stale socket is removed), take an
 * exclusive lock on TREDIR (OMC_ERR_EXISTS if another daemon holds it),
 * open the TRE counting a boot, and listen. The process umask is narrowed
 * for the moment of bind(2). Errors also: OMC_ERR_BAD_ARG (path too long),
 * OMC_ERR_BAD_FORMAT / OMC_ERR_NOT_FOUND (users file), those of
 * omc_tre_open, OMC_ERR_IO. */
OMC_API OMC_MUST_USE omc_err omc_tred_daemon_new(omc_tred_daemon **d, const omc_tred_opts *o);
/* Serve until omc_tred_daemon_stop; OMC_OK then, OMC_ERR_IO if polling fails. */
OMC_API OMC_MUST_USE omc_err omc_tred_daemon_run(omc_tred_daemon *d);
/* Make run return (soon, between two requests). Async-signal-safe; from
 * any thread or a signal handler. */
OMC_API void omc_tred_daemon_stop(omc_tred_daemon *d);
/* Close every connection and the TRE, remove the socket (if it is still
 * the one this daemon made). NULL: nothing. Not while run runs. */
OMC_API void omc_tred_daemon_free(omc_tred_daemon *d);
/* The TRE's status, before run or after it has returned. */
OMC_API OMC_MUST_USE omc_err omc_tred_daemon_status(omc_tred_daemon *d, omc_tre_status *st);

/* =========================================================================
 * The client
 *
 * Calls on one client are not thread-safe. A connection found closed (the
 * daemon restarted) is made again before the next request; a request whose
 * answer was lost is not sent again (OMC_ERR_IO). Every call returns the
 * daemon's error code as the TRE gave it, or OMC_ERR_IO (no daemon, a
 * broken connection, a timeout), OMC_ERR_BAD_FORMAT (an answer that is not
 * the protocol's), OMC_ERR_DENIED (the daemon does not serve this peer).
 * ========================================================================= */
typedef struct omc_tred_client omc_tred_client;

OMC_API OMC_MUST_USE omc_err omc_tred_connect(omc_tred_client **c, const char *socket_path);
OMC_API void omc_tred_disconnect(omc_tred_client *c);

/* One request as a JSON text (one object, no newline), its answer as the
 * daemon sent it (without the newline; omc_alloc'd). OMC_OK means an
 * answer came, whatever its "ok". */
OMC_API OMC_MUST_USE omc_err omc_tred_call(omc_tred_client *c, const char *request, size_t len, char **answer,
					    size_t *answer_len);

/* The same as the omc_tre_* of the same name. Strings the answers carry
 * (evidence, receipts, results, records, PEM) are omc_alloc'd. */
OMC_API OMC_MUST_USE omc_err omc_tred_status(omc_tred_client *c, omc_tre_status *st);
OMC_API OMC_MUST_USE omc_err omc_tred_registry(omc_tred_client *c, omc_tre_mcim_info *out, size_t cap, size_t *n);
/* Both in one request: the status answer carries the registry, and it is
 * what a peer the daemon does not map may read. */
OMC_API OMC_MUST_USE omc_err omc_tred_status_registry(omc_tred_client *c, omc_tre_status *st,
						       omc_tre_mcim_info *out, size_t cap, size_t *n);
OMC_API OMC_MUST_USE omc_err omc_tred_attest(omc_tred_client *c, const uint8_t *nonce, size_t nonce_len,
					      char **evidence);
OMC_API OMC_MUST_USE omc_err omc_tred_session_begin(omc_tred_client *c, const uint8_t *nonce, size_t nonce_len,
						     char **evidence);
OMC_API OMC_MUST_USE omc_err omc_tred_install(omc_tred_client *c, const char *package, size_t len, char **receipt);
OMC_API OMC_MUST_USE omc_err omc_tred_command(omc_tred_client *c, const char *command, size_t len, char **result,
					       bool *applied);
/* AKA as the name the daemon maps this process's uid to. key_id NULL:
 * omc_tre_aka with mcim_id; else omc_tre_aka_shared(app = mcim_id, key =
 * key_id) (MGT-3). */
OMC_API OMC_MUST_USE omc_err omc_tred_aka(omc_tred_client *c, const char *mcim_id, const char *key_id,
					   const uint8_t rand[OMC_STATIC_LEN(16)], const uint8_t *autn, size_t autn_len,
					   omc_aka_check_result *out);
OMC_API OMC_MUST_USE omc_err omc_tred_tamper(omc_tred_client *c, const char *reason);
OMC_API OMC_MUST_USE omc_err omc_tred_recover(omc_tred_client *c, const char *authorisation, size_t len);
OMC_API OMC_MUST_USE omc_err omc_tred_recovery_counter(omc_tred_client *c, uint64_t *counter);
OMC_API OMC_MUST_USE omc_err omc_tred_audit_export(omc_tred_client *c, char **buf, size_t *len);
/* As omc_tre_audit_verify: OMC_ERR_TAMPERED (or the fault the TRE found)
 * with *count = records up to the first bad one. */
OMC_API OMC_MUST_USE omc_err omc_tred_audit_verify(omc_tred_client *c, uint64_t *count);
OMC_API OMC_MUST_USE omc_err omc_tred_audit_checkpoint(omc_tred_client *c, char **jws);
/* omc_tre_tamper_report through the daemon. */
OMC_API OMC_MUST_USE omc_err omc_tred_tamper_report(omc_tred_client *c, char **jws);
/* omc_tre_switch_confirm (confirm) or omc_tre_switch_rollback through the daemon. */
OMC_API OMC_MUST_USE omc_err omc_tred_switch_end(omc_tred_client *c, bool confirm, char **statement);
OMC_API OMC_MUST_USE omc_err omc_tred_certificates(omc_tred_client *c, char **pem, size_t *len);

/* --- local users (TRE-10) ----------------------------------------------------------- */
/* The name strings (role) point to constants. */
OMC_API OMC_MUST_USE omc_err omc_tred_user_list(omc_tred_client *c, omc_tre_user_info *out, size_t cap, size_t *n);
/* admin NULL (and its PIN NULL): the first user. The daemon authenticates
 * admin with admin_pin (omc_tre_user_auth), then asks the TRE. */
OMC_API OMC_MUST_USE omc_err omc_tred_user_add(omc_tred_client *c, const char *admin, const char *admin_pin,
						size_t admin_pin_len, const char *name, const char *role,
						const char *pin, size_t pin_len);
OMC_API OMC_MUST_USE omc_err omc_tred_user_del(omc_tred_client *c, const char *admin, const char *admin_pin,
						size_t admin_pin_len, const char *name);
OMC_API OMC_MUST_USE omc_err omc_tred_user_unblock(omc_tred_client *c, const char *admin, const char *admin_pin,
						    size_t admin_pin_len, const char *name);
/* A local lifecycle change by user (authenticated by pin). */
OMC_API OMC_MUST_USE omc_err omc_tred_local_lifecycle(omc_tred_client *c, const char *user, const char *pin,
						       size_t pin_len, const char *mcim_id, omc_mcim_event event);

/* The agent's TRE table over the socket: AKA runs as the name the daemon
 * maps the agent's uid to (make that "agent" for the factory's and the
 * SHOs' MCIMs). c must outlive ops. */
OMC_API void omc_tred_agent_tre(omc_agent_tre *ops, omc_tred_client *c);

#endif
