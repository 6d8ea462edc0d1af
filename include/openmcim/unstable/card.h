/* openmcim (unstable): the MCIM as a UICC, sans-I/O (src/tred/card.c), and
 * the vsmartcard vpcd socket that carries it to pcscd (src/tred/vpcd.c).
 *
 * The card holds no key: AUTHENTICATE calls the auth function, which is
 * the TRE's AKA (omc_tre_aka, or omc_tred_aka through the daemon). What
 * the card knows is public: IMSI, ICCID, MNC length, IMPI/IMPU. A terminal
 * sees a USIM (TS 31.102) and, for an ISIM-type MCIM, an ISIM (TS 31.103),
 * spoken T=0 style (TS 102 221): answers with data come as 61 xx and GET
 * RESPONSE. Files and commands: docs/card.md. */
#ifndef OPENMCIM_UNSTABLE_CARD_H
#define OPENMCIM_UNSTABLE_CARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openmcim/aka.h"
#include "openmcim/common.h"
#include "openmcim/err.h"

#define OMC_CARD_MAX_APDU 261     /* CLA INS P1 P2 Lc 255 data Le */
#define OMC_CARD_MAX_RAPDU 258    /* 256 data + SW1 SW2 */
#define OMC_CARD_MAX_URI 128      /* IMPI, IMPU: the TRE's record limit */
#define OMC_CARD_MAX_ATR 33

/* The TRE's AKA for one MCIM: OMC_OK with out->status, or an error (the
 * MCIM is not usable now: locked down, deactivated, denied). */
typedef omc_err (*omc_card_auth_fn)(void *ctx, const uint8_t rand[OMC_STATIC_LEN(16)], const uint8_t *autn,
				    size_t autn_len, omc_aka_check_result *out);

typedef struct omc_card_profile {
	char imsi[16];                 /* 6..15 digits */
	uint8_t mnc_len;               /* 2 or 3 (EF_AD) */
	char iccid[21];                /* 10..20 digits; "" gives one made from the IMSI */
	bool isim;                     /* an ISIM application next to the USIM */
	char impi[OMC_CARD_MAX_URI];   /* ISIM: "" gives IMSI@ims.mncMNC.mccMCC.3gppnetwork.org */
	char impu[OMC_CARD_MAX_URI];   /* ISIM: "" gives sip:IMPI */
} omc_card_profile;

/* Caller-allocated; no interior pointers but the auth context. */
typedef struct omc_card {
	omc_card_profile p;
	omc_card_auth_fn auth;
	void *auth_ctx;
	uint8_t app;     /* 0 none, 1 USIM, 2 ISIM: the selected ADF */
	uint16_t df;     /* 0x3F00 or 0x7FFF (the ADF) */
	uint16_t ef;     /* the selected EF, 0 none */
	uint8_t resp[OMC_CARD_MAX_RAPDU]; /* waiting for GET RESPONSE (RES, CK, IK: wiped) */
	size_t resp_len;
} omc_card;

/* Check the profile (OMC_ERR_BAD_FORMAT: IMSI, ICCID or MNC length), fill
 * in the defaults, and reset the card. */
OMC_API OMC_MUST_USE omc_err omc_card_init(omc_card *c, const omc_card_profile *p, omc_card_auth_fn auth,
					    void *auth_ctx) OMC_NONNULL(1, 2, 3);
/* Power on or reset: nothing selected, nothing pending (wiped). */
OMC_API void omc_card_reset(omc_card *c) OMC_NONNULL(1);
OMC_API void omc_card_wipe(omc_card *c);
/* The answer to reset (T=0, then T=1 offered; TS 102 221 clause 6.3). */
OMC_API size_t omc_card_atr(uint8_t out[OMC_STATIC_LEN(OMC_CARD_MAX_ATR)]);

/* One C-APDU in, one R-APDU out (data and SW1 SW2; at least 2 bytes).
 * Anything the card refuses is a status word, not an error; errors are
 * OMC_ERR_BAD_ARG (out smaller than OMC_CARD_MAX_RAPDU) and
 * OMC_ERR_BAD_LENGTH (fewer than 4 bytes or more than OMC_CARD_MAX_APDU). */
OMC_API OMC_MUST_USE omc_err omc_card_apdu(omc_card *c, uint8_t *out, size_t cap, size_t *out_len,
					    const uint8_t *apdu, size_t len) OMC_NONNULL(1, 2, 4, 5);

/* Serve the card to vsmartcard's vpcd at host:port (TCP; the reader driver
 * listens): 2-byte big-endian length + payload each way; a 1-byte payload
 * is a control (0 off, 1 on, 2 reset, 4 ATR?), a longer one a C-APDU.
 * Returns OMC_OK when *stop becomes true (checked every 200 ms) or vpcd
 * closes the connection; OMC_ERR_IO if it cannot connect or a read or
 * write fails; OMC_ERR_BAD_FORMAT on a malformed message. */
OMC_API OMC_MUST_USE omc_err omc_card_vpcd_serve(omc_card *c, const char *host, const char *port,
						  volatile int *stop) OMC_NONNULL(1, 2, 3);

#endif
