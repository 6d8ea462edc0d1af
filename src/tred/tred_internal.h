/* openmcim tred: what the daemon's files share (never installed). */
#ifndef OMC_TRED_INTERNAL_H
#define OMC_TRED_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "openmcim/tre.h"
#include "openmcim/tred.h"

#define TRED_NAME_MAX 32 /* a TRE user name: [a-z0-9_-], 1..32 */

/* Who is on the other end of a connection (SO_PEERCRED at accept). */
typedef struct tred_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool mapped;                 /* the users map names this uid */
	char name[TRED_NAME_MAX + 1]; /* the local user name, "" if not mapped */
} tred_peer;

/* uid -> local user name (peers.c). */
typedef struct tred_usermap {
	struct {
		uid_t uid;
		char name[TRED_NAME_MAX + 1];
	} e[OMC_TRED_MAX_USERS];
	size_t n;
} tred_usermap;

/* The default: own_uid is "agent"; root, if that is another uid, "admin". */
void tred_usermap_default(tred_usermap *m, uid_t own_uid);
/* A users file (docs/tred.md): OMC_ERR_NOT_FOUND, OMC_ERR_IO,
 * OMC_ERR_BAD_FORMAT (a malformed line, an unknown login name, a uid named
 * twice; the line number is logged), OMC_ERR_TOO_LARGE (too many lines). */
OMC_MUST_USE omc_err tred_usermap_load(tred_usermap *m, const char *path);
/* Fill peer->mapped and peer->name from peer->uid. */
void tred_usermap_apply(const tred_usermap *m, tred_peer *peer);
/* 1..32 of [a-z0-9_-]. */
bool tred_name_ok(const char *s, size_t len);

/* One request line (without its newline) in, one answer line (with its
 * newline, omc_alloc'd: the caller frees it, which wipes it) out. Every
 * request gets an answer; the only error is OMC_ERR_NOMEM with no answer
 * (ops.c). */
OMC_MUST_USE omc_err tred_handle(omc_tre *t, const tred_peer *peer, const char *line, size_t len, char **answer,
				 size_t *answer_len);
/* An error answer the daemon makes without a request (TOO_LARGE, BUSY). */
OMC_MUST_USE omc_err tred_error_answer(omc_err e, const char *message, char **answer, size_t *answer_len);

#endif
