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

typedef struct tf_dev {
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
} tf_image;
void tf_image_take(tf_image *im, omc_memfs *fs);
void tf_image_put(const tf_image *im, omc_memfs *fs);
void tf_image_free(tf_image *im);

#endif
