/* openmcim TRE: the TPM 2.0 backend (src/tre/tpm.c, docs/tpm.md).
 *
 * Through tpm2-tss ESAPI and the TCTI loader. Every operation connects,
 * does its commands and disconnects, flushing every transient object and
 * session it made on every path: nothing is left loaded between calls, so
 * the backend works without a resource manager and beside other clients.
 *
 *   device root key   sealed (KEYEDHASH, noDA, policy-only) under a storage
 *                     primary made anew each time from the owner seed
 *                     (ECC P-256, the SRK template of the TCG provisioning
 *                     guide, noDA), policy PolicyPCR(sha256:pcr);
 *                     device.tpm = "OMCTPM01" | nv u32 | pcr u8 |
 *                     TPM2B_PUBLIC | TPM2B_PRIVATE; sealed: drk | nv u32
 *   tpm.conf          the TCTI string (one line), beside device.tpm: how
 *                     the TRE finds its TPM when the caller names none
 *   counter           NV index nv + 0, nt=counter, 8 bytes
 *   counter base      NV index nv + 1, ordinary, 8 bytes, written once at
 *                     creation and write-locked (WRITEDEFINE): the counter's
 *                     value when the device was made (a TPM counter starts at
 *                     the highest value any counter of the TPM ever had)
 *   flags             NV index nv + 2, nt=bits, 8 bytes (set-only)
 *   lockdown          set the flag bit, then extend pcr with
 *                     SHA-256("omc/tpm/v1/lockdown"): the root no longer
 *                     unseals until the next TPM reset (a reboot).
 * The ARD's counter is NV(nv) - NV(nv + 1). */
#ifndef OMC_TPM_INTERNAL_H
#define OMC_TPM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "openmcim/store.h"
#include "openmcim/tre.h"

#define OMC_TPM_FILE "device.tpm"
#define OMC_TPM_CONF "tpm.conf"
#define OMC_TPM_BLOB_MAX 512
#define OMC_TPM_TCTI_MAX 256

typedef struct omc_tpm_cfg {
	char tcti[OMC_TPM_TCTI_MAX];
	uint32_t nv;  /* first of the three NV indices */
	uint8_t pcr;  /* the sealing and lockdown PCR */
} omc_tpm_cfg;

/* From a TCTI string and the options' nv/pcr (0: the defaults).
 * OMC_ERR_BAD_ARG for a TCTI too long or an index outside the owner range
 * (0x01000000..0x01bffffd) or a PCR above 23. */
OMC_MUST_USE omc_err omc_tpm_cfg_init(omc_tpm_cfg *c, const char *tcti, uint32_t nv, unsigned pcr);

/* Seal drk to the current value of c->pcr: *blob (omc_alloc) for device.tpm. */
OMC_MUST_USE omc_err omc_tpm_seal(const omc_tpm_cfg *c, uint8_t **blob, size_t *len, const uint8_t drk[32]);
/* Unseal it; c->nv and c->pcr become the ones the blob was made with.
 * OMC_ERR_LOCKDOWN when the PCR no longer matches (a lockdown
 * in this boot, or a boot that measured something else), OMC_ERR_CORRUPT
 * for a blob that does not parse or load, OMC_ERR_IO when the TPM is not
 * reachable. drk is wiped on failure. */
OMC_MUST_USE omc_err omc_tpm_unseal(omc_tpm_cfg *c, uint8_t drk[32], const uint8_t *blob, size_t len);

/* The anti-rollback device on the NV indices. create: (re)define them, for
 * a new device (any old ones are undefined first; the counter still never
 * goes back, see the header). Free with omc_tpm_ard_free. */
OMC_MUST_USE omc_err omc_tpm_ard_new(omc_store_ard **ard, const omc_tpm_cfg *c, bool create);
void omc_tpm_ard_free(omc_store_ard *ard);

/* Test and maintenance helpers. */
/* Number of loaded transient objects plus loaded sessions. */
OMC_MUST_USE omc_err omc_tpm_loaded(const omc_tpm_cfg *c, uint32_t *n);
/* TPM2_Shutdown(CLEAR), before a simulated reboot. */
OMC_MUST_USE omc_err omc_tpm_shutdown(const omc_tpm_cfg *c);
/* Reset a resettable PCR (16 or 23): a reboot of the sealing PCR only. */
OMC_MUST_USE omc_err omc_tpm_pcr_reset(const omc_tpm_cfg *c);
/* Undefine the three NV indices (absent ones are skipped). */
OMC_MUST_USE omc_err omc_tpm_nv_clear(const omc_tpm_cfg *c);

#endif
