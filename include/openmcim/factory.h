/* openmcim: the factory step (TRE-3, TRE-9, CCIF-2) and the demo PKI.
 *
 * The demo PKI is a directory of P-256 keys and X.509 certificates for the
 * roles of the system: for each entity E in OMC_PKI_ENTITIES a self-signed
 * CA (E-ca.crt, E-ca.key) and a signing certificate under it (E.crt,
 * E.key). Private keys are PKCS#8 PEM encrypted under pki.secret (32
 * random bytes, mode 0600), never in plaintext. docs/objects.md ("Sealed identity") and docs/cli-tre.md. */
#ifndef OPENMCIM_FACTORY_H
#define OPENMCIM_FACTORY_H

#include "openmcim/proto.h"
#include "openmcim/store.h"
#include "openmcim/tre.h"

/* m2mes: device certificates; tre-vendor: reference manifests and TRE
 * updates; ico, sho1, sho2: operators (MCIM packages, commands); ro:
 * registration operator; pva: platform validation authority; ccif:
 * credential issuing function; vno: the visited network (its signed requests
 * to the home AuCs); tls: the TLS server certificate of `openmcim server`
 * on loopback (subjectAltName IP 127.0.0.1 and DNS localhost). */
#define OMC_PKI_ENTITIES {"m2mes", "tre-vendor", "ico", "sho1", "sho2", "ro", "pva", "ccif", "vno", "tls"}

/* Make the demo PKI in dir (created if absent; existing files refused:
 * OMC_ERR_EXISTS). */
OMC_API OMC_MUST_USE omc_err omc_factory_pki(const char *dir);

/* Load an entity's signing key and certificate ("sho1"), or its CA
 * ("sho1-ca"). Either output may be NULL. */
OMC_API OMC_MUST_USE omc_err omc_pki_load(const char *dir, const char *name, omc_key **key, omc_cert **cert);

/* The PKI the factory signs with and installs as trust anchors (the M2MES
 * CA and the TRE vendor with their keys, the operators', RO's and PVA's
 * CAs, the ICO), loaded once from a PKI directory for many devices: its
 * keys' password-based decryption is the larger part of one device's
 * factory step otherwise. Read-only once open: several threads may make
 * devices with one at the same time. */
typedef struct omc_factory omc_factory;
OMC_API OMC_MUST_USE omc_err omc_factory_open(omc_factory **p, const char *pki_dir);
OMC_API void omc_factory_free(omc_factory *p);

typedef struct omc_factory_device_opts {
	const char *pki_dir;        /* the demo PKI (read for each device) ... */
	const omc_factory *factory; /* ... or that PKI loaded once (pki_dir is then not read) */
	const char *dir;        /* TREDIR for the POSIX backends */
	omc_store_io *io;       /* or the TRE's files ... */
	omc_store_io *store_io; /* ... and its store (both, or neither) */
	/* The PCID as JSON {"imsi", "k", "opc"} or {"imsi", "k", "alg":"tuak",
	 * "topc"} (CCIF mode 1 or 3); NULL: generated here (mode 2) and reported
	 * encrypted to the ICO. */
	const char *pcid_json;
	size_t pcid_json_len;
	const char *model;   /* default "openmcim-demo-gw" */
	int64_t pcid_lifetime; /* seconds; default 365 days */
	/* The TPM backend (docs/tpm.md): a TCTI string; the root key sealed in
	 * device.tpm instead of device.key, the counter and flags in NV
	 * indices tpm_nv..tpm_nv+2, sealed to PCR tpm_pcr (0: the defaults
	 * OMC_TRE_TPM_NV_DEFAULT, OMC_TRE_TPM_PCR_DEFAULT), the TCTI in
	 * tpm.conf. NULL: the software backend. */
	const char *tpm;
	uint32_t tpm_nv;
	unsigned tpm_pcr;
} omc_factory_device_opts;

/* Make a device: device root key, sealed identity (attestation key and
 * certificate from the M2MES CA, trust anchors, the factory PCID), platform
 * components and their signed reference manifest, and a store holding the
 * PCID as an activated MCIM of role bootstrap. *report (omc_alloc'd JSON):
 * {"tre_id", "platform_id", "model", "pcid_imsi", "pcid_report"}, where
 * pcid_report is a JWE to the ICO holding the PCID's secrets (SEC-6: they
 * leave the factory encrypted only). */
OMC_API OMC_MUST_USE omc_err omc_factory_device(const omc_factory_device_opts *o, char **report);

/* The reference values of a model's platform, as the factory makes it
 * (every device of a model gets the same firmware and agent
 * configuration): JSON [{"name", "sha256"}], omc_alloc'd, for a PVA's
 * reference table. model NULL: the default model. */
OMC_API OMC_MUST_USE omc_err omc_factory_references(const char *model, char **json);

/* One component of a TRE update (TRE-12): its name, its place in the TRE
 * directory ("platform/NAME") and its new content. */
typedef struct omc_factory_update_component {
	const char *name;
	const char *path;
	const uint8_t *data;
	size_t len;
} omc_factory_update_component;

/* A TRE update manifest as the TRE vendor makes it (docs/objects.md "TRE
 * update"): the new reference manifest (typ "omc-manifest+jwt": model,
 * version, counter, components with name, path and sha256) and around it
 * the update manifest (typ "omc-update+jwt": the same claims, each
 * component's size, and "manifest", the reference manifest's compact
 * JWS), both signed with the tre-vendor key of the PKI in pki_dir, x5c
 * [tre-vendor.crt]. model NULL: the default model. *jws from omc_alloc.
 * OMC_ERR_BAD_ARG for no components or more than 16, a version that is
 * not 1..31 printable characters, a counter above 2^63 - 1. */
OMC_API OMC_MUST_USE omc_err omc_factory_update_manifest(char **jws, const char *pki_dir, const char *model,
							  const char *version, uint64_t counter,
							  const omc_factory_update_component *c, size_t n);

#endif
