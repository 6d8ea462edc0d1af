/* osmo-hlr as the ICO's authentication centre (docs/hlr.md): the VNO's
 * GSUP sources (vno_gsup.c), the CCIF's CTRL client (ccif_ctrl.c) and
 * their config (hlr.c). */
#ifndef OMC_SERVER_HLR_INTERNAL_H
#define OMC_SERVER_HLR_INTERNAL_H

#include "server/server_internal.h"

#define SRV_HLR_SOURCES 8 /* [vno.home NAME] sections at most */
#define OMC_GSUP_MAX_AV 5 /* vectors in one SendAuthInfo result (TS 29.002) */
#define SRV_HLR_TIMEOUT_MS 5000 /* default time limit of one GSUP or CTRL exchange */

typedef struct srv_gsup srv_gsup;

typedef struct srv_hlr_source {
	char name[SRV_NAME_MAX];
	char prefix[16]; /* the IMSI range: 5 to 15 digits */
	char ip[16];     /* dotted IPv4 */
	unsigned port;
	bool typed; /* type = gsup was given */
} srv_hlr_source;

struct srv_hlr {
	srv_hlr_source src[SRV_HLR_SOURCES];
	size_t n_src;
	unsigned timeout_ms; /* [vno] gsup_timeout, GSUP exchanges */
	/* [ccif] hlr_ctrl: osmo-hlr's CTRL interface on loopback */
	bool ctrl;
	char ctrl_ip[16];
	unsigned ctrl_port;
	unsigned ctrl_timeout_ms;
	srv_gsup *gsup; /* the loop thread, when there are sources */
};

/* The answer of osmo-hlr to a SendAuthInfo, beside vectors. */
#define SRV_GSUP_DOWN (-1)    /* not connected, or the link dropped */
#define SRV_GSUP_TIMEOUT (-2) /* no answer within timeout_ms */
/* The GSM 04.08 cause osmo-hlr gives for an unknown IMSI (and an AUTS that
 * does not verify). */
#define SRV_GSUP_CAUSE_IMSI_UNKNOWN 2

/* Start the loop thread and a GSUP client per source; it connects (and
 * reconnects every second) by itself. */
OMC_MUST_USE omc_err srv_gsup_start(srv_hlr *h);
void srv_gsup_stop(srv_hlr *h);
/* One SendAuthInfo for imsi to source src, a resynchronisation when rand
 * and auts (16 and 14 bytes) are given: up to cap vectors in out, *n of
 * them. OMC_OK with *cause > 0: osmo-hlr's SEND_AUTH_INFO_ERROR cause (no
 * vectors). OMC_ERR_IO with *cause SRV_GSUP_DOWN or SRV_GSUP_TIMEOUT.
 * Any thread; waits at most timeout_ms. The caller wipes out. */
OMC_MUST_USE omc_err srv_gsup_sai(srv_hlr *h, size_t src, const char *imsi, const uint8_t *rand,
				  const uint8_t *auts, omc_aka_av *out, size_t cap, size_t *n, int *cause);

/* --- CTRL (ccif_ctrl.c) ---------------------------------------------------------------- */
#define SRV_CTRL_MSG_MAX 1024 /* a CTRL message we send or take */

typedef enum srv_ctrl_verb { SRV_CTRL_SET_REPLY, SRV_CTRL_GET_REPLY, SRV_CTRL_ERROR, SRV_CTRL_TRAP,
	       SRV_CTRL_OTHER /* an IPA CCM frame (PING...): skipped */ } srv_ctrl_verb;

typedef struct srv_ctrl_reply {
	srv_ctrl_verb verb;
	unsigned id;      /* the request id it answers (TRAP: 0) */
	char var[128];    /* the variable ("" for ERROR) */
	char value[256];  /* the value, or ERROR's reason; cut at 255 bytes */
} srv_ctrl_reply;

/* One IPA frame from buf[0..len): *used bytes make the whole frame, or 0
 * when more are needed. OMC_ERR_BAD_FORMAT for a frame that is not CTRL
 * (IPA osmo extension 0x00) or a reply that does not parse. Pure: the
 * fuzz target's entry (fuzz/ctrl_fuzz.c). */
OMC_MUST_USE omc_err srv_ctrl_parse(srv_ctrl_reply *out, size_t *used, const uint8_t *buf, size_t len);
/* The IPA frame of "SET id var value" (or GET without value) in out. */
OMC_MUST_USE omc_err srv_ctrl_frame(uint8_t *out, size_t cap, size_t *len, bool set, unsigned id, const char *var,
				    const char *value);

#endif
