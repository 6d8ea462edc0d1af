/* Test fixture for the TRE: a demo PKI made once per test binary in a
 * temporary directory, devices on an in-memory file system, and the
 * operator-side objects (packages, commands, recovery) built the way the
 * servers will build them. */
#ifndef OMC_TRE_FIXTURE_H
#define OMC_TRE_FIXTURE_H

#include "testlib.h"

#include "openmcim/factory.h"
#include "openmcim/tre.h"
#include "util/util_internal.h"

/* The PKI directory (made on first call, removed at exit). */
const char *tf_pki(void);

/* A software TPM (swtpm) of a test: its own fresh state directory, a
 * Unix socket in it, started as a child of the test (which it does not
 * outlive), stopped by PID. */
typedef struct tf_tpm {
	int pid;
	char dir[64];
	char tcti[128];
} tf_tpm;
void tf_tpm_start(tf_tpm *t);
/* TPM2_Shutdown, SIGTERM, wait: a clean power-off; the state stays. */
void tf_tpm_poweroff(tf_tpm *t);
/* SIGKILL, wait: a power cut; the state stays. */
void tf_tpm_kill(tf_tpm *t);
/* Start again on the same state (after poweroff or kill): PCRs reset. */
void tf_tpm_restart(tf_tpm *t);
/* Power off (if running) and remove the state. */
void tf_tpm_stop(tf_tpm *t);
/* The TPM's loaded transient objects and sessions. */
uint32_t tf_tpm_loaded(const tf_tpm *t);

/* Whether devices get the TPM backend (environment OMC_TEST_TPM=1, set by
 * the `tpm`-labelled ctest entries of the TRE tests). */
bool tf_tpm_backend(void);
#define TF_TPM_PCR 16u /* resettable: tf_open resets it, a boot */

typedef struct tf_dev {
	tf_tpm tpm; /* with the TPM backend */
	omc_memfs *fs;
	omc_store_io *io, *store_io;
	char base[32];
	char report[4096];
	char tre_id[64];
	char pcid_imsi[16];
} tf_dev;

/* A device on its own memfs (or on fs when given: several devices share it). */
void tf_dev_make(tf_dev *d, omc_memfs *shared, const char *pcid_json);
void tf_dev_free(tf_dev *d);
/* Options for opening its TRE on its backend (the TPM backend: a boot,
 * the sealing PCR reset). */
void tf_opts(tf_dev *d, omc_tre_opts *o);
/* Open its TRE (count_boot as a daemon would). */
omc_tre *tf_open(tf_dev *d);
omc_tre *tf_open_ro(tf_dev *d);

/* Sign a JSON payload as PKI entity `who` ("sho1", "ro", ...) with typ. */
char *tf_sign(const char *who, const char *typ, json_t *payload);
/* A package for an MCIM: evidence from omc_tre_session_begin gives the
 * session key; mcim is the package-form record (consumed). */
char *tf_package(const char *who, uint64_t seq, const char *tre_id, const uint8_t *nonce, size_t nonce_len,
		 const char *evidence, json_t *mcim, bool activate);
/* The same with a nonce claim other than the evidence's. */
char *tf_package_ex(const char *who, uint64_t seq, const char *tre_id, const uint8_t *claim_nonce, size_t claim_len,
		    const uint8_t *nonce, size_t nonce_len, const char *evidence, json_t *mcim, bool activate);
/* A package's JWS (any bytes) encrypted to the session key of evidence,
 * made over nonce, as the DPF does. */
char *tf_seal(const char *jws, const uint8_t *nonce, size_t nonce_len, const char *evidence);
/* A MILENAGE MCIM record in package form with the given K and OPc (hex). */
json_t *tf_mcim(const char *id, const char *owner, const char *imsi, const char *k_hex, const char *opc_hex);
/* A command from `who`. */
char *tf_command(const char *who, uint64_t seq, const char *tre_id, const char *cmd, const char *mcim);
/* Install a fresh operational MCIM (session, package, install); returns the
 * receipt (caller omc_free's). */
char *tf_provision(omc_tre *t, const char *who, uint64_t seq, json_t *mcim);
/* Anchors for checking the TRE's evidence: the M2MES CA. */
omc_cert *tf_m2mes_ca(void);
/* The network's side of AKA for an MCIM: a vector from its K and OPc (hex),
 * a random RAND, the given SQN and AMF 8000. */
void tf_av(omc_aka_av *av, const char *k_hex, const char *opc_hex, uint64_t sqn);

/* Every file of a memfs (its durable content), to put a device back as it
 * was. */
#define TF_IMAGE_MAX 32
typedef struct tf_image {
	size_t n;
	char path[TF_IMAGE_MAX][64];
	uint8_t *data[TF_IMAGE_MAX];
	size_t len[TF_IMAGE_MAX];
	uint8_t *tpm; /* the TPM's NV state, tf_dev_image_* only */
	size_t tpm_len;
} tf_image;
void tf_image_take(tf_image *im, omc_memfs *fs);
void tf_image_put(const tf_image *im, omc_memfs *fs);
void tf_image_free(tf_image *im);
/* The same for a device, with its TPM's NV state on the TPM backend (the
 * swtpm powered off, its state file copied, started again: a reboot). */
void tf_dev_image_take(tf_image *im, tf_dev *d);
void tf_dev_image_put(const tf_image *im, tf_dev *d);

#endif
