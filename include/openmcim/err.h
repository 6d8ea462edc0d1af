/* openmcim: error codes.
 *
 * omc_err is an enum where 0 is OMC_OK. The category sits in bits 8..15 so
 * that callers can branch on the kind of failure without knowing every code:
 * omc_err_category(e) == OMC_CAT_AUTH. One table (OMC_ERR_TABLE) gives each
 * code its name and message. No message ever carries secret bytes. */
#ifndef OPENMCIM_ERR_H
#define OPENMCIM_ERR_H

#include "openmcim/common.h"

typedef enum omc_err_cat {
	OMC_CAT_OK = 0,
	OMC_CAT_USAGE = 1,    /* the caller used the API or CLI wrongly */
	OMC_CAT_INPUT = 2,    /* malformed data from outside */
	OMC_CAT_AUTH = 3,     /* a MAC, signature or freshness check failed */
	OMC_CAT_POLICY = 4,   /* well-formed and authentic, but not allowed */
	OMC_CAT_STORE = 5,    /* persistent storage */
	OMC_CAT_TAMPER = 6,   /* evidence of tampering; the TRE locks down */
	OMC_CAT_INTERNAL = 7, /* resources, libraries, bugs */
} omc_err_cat;

#define OMC_ERR_CODE(cat, n) (((cat) << 8) | (n))

/* X(name, category, number, message) */
#define OMC_ERR_TABLE(X)                                                          \
	X(OK, OK, 0, "success")                                                   \
	X(USAGE, USAGE, 1, "invalid usage")                                       \
	X(BAD_ARG, USAGE, 2, "invalid argument")                                  \
	X(UNSUPPORTED, USAGE, 3, "unsupported parameter")                         \
	X(BAD_HEX, INPUT, 1, "malformed hex")                                     \
	X(BAD_BASE64, INPUT, 2, "malformed base64")                               \
	X(BAD_LENGTH, INPUT, 3, "wrong length")                                   \
	X(TRUNCATED, INPUT, 4, "input truncated")                                 \
	X(NO_SPACE, INPUT, 5, "output does not fit")                              \
	X(BAD_FORMAT, INPUT, 6, "malformed input")                                \
	X(BAD_JSON, INPUT, 7, "malformed JSON")                                   \
	X(TOO_LARGE, INPUT, 8, "input too large")                                 \
	X(LINK_DIRECTION, INPUT, 9, "frame of the wrong direction")               \
	X(LINK_BEARER, INPUT, 10, "frame of another bearer")                      \
	X(MAC_FAILURE, AUTH, 1, "authentication failed: MAC mismatch")            \
	X(SYNC_FAILURE, AUTH, 2, "sequence number not acceptable")                \
	X(BAD_SIGNATURE, AUTH, 3, "signature verification failed")               \
	X(AUTH_FAILED, AUTH, 4, "authentication failed")                          \
	X(LINK_REPLAY, AUTH, 5, "frame replayed or older than the window")        \
	X(DENIED, POLICY, 1, "not permitted")                                     \
	X(BAD_STATE, POLICY, 2, "not permitted in the current state")             \
	X(EXHAUSTED, POLICY, 3, "counter or range exhausted")                     \
	X(IO, STORE, 1, "I/O error")                                              \
	X(CORRUPT, STORE, 2, "stored data corrupt")                               \
	X(NOT_FOUND, STORE, 3, "not found")                                       \
	X(EXISTS, STORE, 4, "already exists")                                     \
	X(LOCKDOWN, TAMPER, 1, "TRE is locked down")                              \
	X(ROLLBACK, TAMPER, 2, "rollback detected")                               \
	X(TAMPERED, TAMPER, 3, "tampering detected")                              \
	X(NOMEM, INTERNAL, 1, "out of memory")                                    \
	X(CRYPTO, INTERNAL, 2, "crypto library failure")                          \
	X(BUG, INTERNAL, 3, "internal error")

typedef enum omc_err {
#define OMC_ERR_ENUM_(name, cat, n, msg) OMC_ERR_##name = OMC_ERR_CODE(OMC_CAT_##cat, n),
	OMC_ERR_TABLE(OMC_ERR_ENUM_)
#undef OMC_ERR_ENUM_
} omc_err;

#define OMC_OK OMC_ERR_OK

/* "MAC_FAILURE"; "UNKNOWN" for a value outside the table. */
OMC_API const char *omc_err_name(omc_err e);
/* A one-line English message; never NULL. */
OMC_API const char *omc_err_str(omc_err e);
OMC_API omc_err_cat omc_err_category(omc_err e);
/* "AUTH" and so on. */
OMC_API const char *omc_err_cat_name(omc_err_cat c);

#endif
