/* The MCIM as a card behind a private pcscd (tests/peers): a factory
 * device whose PCID has the given IMSI, K and OPc, `openmcim tred` on it,
 * pcscd with vpcd in a mount namespace of its own (/run/pcscd bound to a
 * directory of the test, its own vpcd port), and `openmcim tred card`
 * inserted. Needs root. PC/SC clients use PCSCLITE_CSOCK_NAME=cr->comm
 * (cr_start sets it in this process). */
#ifndef OMC_TEST_CARD_RIG_H
#define OMC_TEST_CARD_RIG_H

#include <stdbool.h>

#include "daemon.h"

typedef struct card_rig {
	char sock[256];  /* tred's socket */
	char comm[320];  /* pcscd's client socket */
	td_proc *tred, *pcscd, *card;
} card_rig;

/* false (with the reason on stderr) if a part did not come up. */
bool cr_start(card_rig *cr, const char *bin, const char *tag, const char *imsi, const char *k_hex,
	      const char *opc_hex);

#endif
