/* The factory step (TRE-3, TRE-9, CCIF-2) and the demo PKI. The only part
 * of the project that writes a device root key: it runs in the M2MES's
 * secure out-of-band environment. docs/cli-tre.md, docs/objects.md. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "openmcim/factory.h"
#include "tre/tre_internal.h"

#define PKI_SECRET "pki.secret"

/* --- small POSIX helpers for the PKI directory ---------------------------------- */

static omc_err write_new(const char *dir, const char *name, const void *data, size_t len, mode_t mode)
{
	char path[4096];
	OMC_ENSURE(snprintf(path, sizeof path, "%s/%s", dir, name) < (int)sizeof path, OMC_ERR_BAD_ARG);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		OMC_BAIL(errno == EEXIST ? OMC_ERR_EXISTS : OMC_ERR_IO);
	const uint8_t *p = data;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			OMC_BAIL(OMC_ERR_IO);
		}
		off += (size_t)w;
	}
	int ok = fsync(fd) == 0;
	ok &= close(fd) == 0;
	OMC_ENSURE(ok, OMC_ERR_IO);
	return OMC_OK;
}

static omc_err read_all(const char *dir, const char *name, uint8_t **data, size_t *len)
{
	omc_store_io *io;
	OMC_TRY(omc_store_io_posix_new(&io, dir));
	omc_err e = io->read(io->ctx, name, data, len);
	omc_store_io_posix_free(io);
	return e;
}

static omc_err pki_secret(const char *dir, uint8_t out[32])
{
	uint8_t *s;
	size_t n;
	OMC_TRY(read_all(dir, PKI_SECRET, &s, &n));
	omc_err e = n == 32 ? OMC_OK : OMC_ERR_CORRUPT;
	if (e == OMC_OK)
		memcpy(out, s, 32);
	omc_free(s);
	return e;
}

static omc_err save_pair(const char *dir, const char *name, const omc_key *k, const omc_cert *c,
			 const uint8_t secret[32])
{
	char fn[128], *pem;
	size_t len;
	OMC_TRY(omc_key_to_pem(&pem, &len, k, true, secret, 32));
	snprintf(fn, sizeof fn, "%s.key", name);
	omc_err e = write_new(dir, fn, pem, len, 0600);
	omc_free(pem);
	OMC_TRY(e);
	OMC_TRY(omc_cert_to_pem(&pem, &len, c));
	snprintf(fn, sizeof fn, "%s.crt", name);
	e = write_new(dir, fn, pem, len, 0644);
	omc_free(pem);
	return e;
}

omc_err omc_factory_pki(const char *dir)
{
	OMC_ENSURE(dir != NULL, OMC_ERR_BAD_ARG);
	omc_proto_init();
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		OMC_BAIL(OMC_ERR_IO);
	uint8_t secret[32];
	OMC_DEFER_WIPE(secret);
	OMC_TRY(omc_rand_bytes(secret, sizeof secret));
	OMC_TRY(write_new(dir, PKI_SECRET, secret, sizeof secret, 0600));
	static const char *const entities[] = OMC_PKI_ENTITIES;
	for (size_t i = 0; i < OMC_ARRAY_LEN(entities); i++) {
		omc_key *ca_key = NULL, *key = NULL;
		omc_cert *ca = NULL, *leaf = NULL;
		char ca_name[64], ca_cn[96];
		snprintf(ca_name, sizeof ca_name, "%s-ca", entities[i]);
		snprintf(ca_cn, sizeof ca_cn, "%s CA (openmcim demo)", entities[i]);
		omc_cert_req ca_req = {.subject_cn = ca_cn, .subject_org = "openmcim demo", .ca = true, .days = 3650};
		/* The signing certificate's CN is the entity's name: it is the
		 * "iss" of everything the entity signs. */
		omc_cert_req req = {.subject_cn = entities[i], .subject_org = "openmcim demo", .ca = false, .days = 825};
		if (!strcmp(entities[i], "tls"))
			req.san = "IP:127.0.0.1,DNS:localhost";
		omc_err e = omc_key_generate(&ca_key);
		if (e == OMC_OK)
			e = omc_cert_issue(&ca, &ca_req, ca_key, NULL, ca_key);
		if (e == OMC_OK)
			e = omc_key_generate(&key);
		if (e == OMC_OK)
			e = omc_cert_issue(&leaf, &req, key, ca, ca_key);
		if (e == OMC_OK)
			e = save_pair(dir, ca_name, ca_key, ca, secret);
		if (e == OMC_OK)
			e = save_pair(dir, entities[i], key, leaf, secret);
		omc_key_free(ca_key);
		omc_key_free(key);
		omc_cert_free(ca);
		omc_cert_free(leaf);
		OMC_TRY(e);
	}
	return OMC_OK;
}

omc_err omc_pki_load(const char *dir, const char *name, omc_key **key, omc_cert **cert)
{
	OMC_ENSURE(dir && name && strlen(name) < 64, OMC_ERR_BAD_ARG);
	omc_proto_init();
	char fn[80];
	uint8_t *buf;
	size_t len;
	if (cert) {
		snprintf(fn, sizeof fn, "%s.crt", name);
		OMC_TRY(read_all(dir, fn, &buf, &len));
		omc_err e = omc_cert_from_pem(cert, (const char *)buf, len);
		omc_free(buf);
		OMC_TRY(e);
	}
	if (key) {
		uint8_t secret[32];
		OMC_DEFER_WIPE(secret);
		snprintf(fn, sizeof fn, "%s.key", name);
		omc_err e = pki_secret(dir, secret);
		if (e == OMC_OK)
			e = read_all(dir, fn, &buf, &len);
		if (e == OMC_OK) {
			e = omc_key_from_pem(key, (const char *)buf, len, secret, sizeof secret);
			omc_free(buf);
		}
		if (e != OMC_OK && cert) {
			omc_cert_free(*cert);
			*cert = NULL;
		}
		OMC_TRY(e);
	}
	return OMC_OK;
}

/* --- device ------------------------------------------------------------------------ */

static omc_err rand_hex(char *out, size_t bytes)
{
	uint8_t r[32];
	OMC_ENSURE(bytes <= sizeof r, OMC_ERR_BAD_ARG);
	OMC_TRY(omc_rand_bytes(r, bytes));
	return omc_hex_encode(out, 2 * bytes + 1, r, bytes);
}

static omc_err sha256_hex(char out[65], const uint8_t *d, size_t n)
{
	uint8_t h[32];
	unsigned l = 0;
	OMC_ENSURE(EVP_Digest(d, n, h, &l, EVP_sha256(), NULL) == 1, OMC_ERR_CRYPTO);
	return omc_hex_encode(out, 65, h, 32);
}

static omc_err pem_array_add(json_t *arr, const omc_cert *c)
{
	char *pem;
	size_t len;
	OMC_TRY(omc_cert_to_pem(&pem, &len, c));
	int r = json_array_append_new(arr, json_stringn(pem, len));
	omc_free(pem);
	OMC_ENSURE(r == 0, OMC_ERR_NOMEM);
	return OMC_OK;
}

/* The PCID in the package form of an MCIM (docs/objects.md). */
static omc_err pcid_object(json_t **out, const char *given, size_t given_len, int64_t expires, char imsi[16])
{
	json_t *p = NULL;
	if (given) {
		json_error_t je;
		json_t *in = omc_json_loadb(given, given_len, JSON_REJECT_DUPLICATES, &je);
		OMC_ENSURE(in != NULL, OMC_ERR_BAD_FORMAT);
		const json_t *im = json_object_get(in, "imsi"), *alg = json_object_get(in, "alg");
		const char *a = json_is_string(alg) ? json_string_value(alg) : "milenage";
		bool tuak = !strcmp(a, "tuak");
		/* a points into `in`: decide everything about it before `in` goes. A
		 * non-string alg, or the other algorithm's operator key, is refused. */
		bool known = (!alg || json_is_string(alg)) && (tuak || !strcmp(a, "milenage")) &&
			     !json_object_get(in, tuak ? "opc" : "topc");
		p = json_pack("{s:s,s:s,s:s,s:s,s:O,s:s,s:O}", "id", "pcid", "owner", "ico", "role", "bootstrap",
			      "type", "usim", "imsi", im ? im : json_null(), "alg", a, "k",
			      json_object_get(in, "k") ? json_object_get(in, "k") : json_null());
		if (p && tuak)
			json_object_set_new(p, "tuak", json_pack("{s:O}", "topc",
								   json_object_get(in, "topc") ? json_object_get(in, "topc")
											       : json_null()));
		else if (p)
			json_object_set(p, "opc", json_object_get(in, "opc") ? json_object_get(in, "opc") : json_null());
		/* Anything else in the file is refused (strictness, not guesswork). */
		const char *key;
		json_t *v;
		bool extra = false;
		json_object_foreach(in, key, v)
		{
			(void)v;
			extra = extra || !(!strcmp(key, "imsi") || !strcmp(key, "k") || !strcmp(key, "opc") ||
					   !strcmp(key, "topc") || !strcmp(key, "alg"));
		}
		json_decref(in);
		if (extra || !known) {
			json_decref(p);
			OMC_BAIL(OMC_ERR_BAD_FORMAT);
		}
	} else {
		uint8_t r[8];
		char k[33], opc[33], im[16];
		OMC_TRY(omc_rand_bytes(r, sizeof r));
		/* The ICO's range of the demo: MCC 001, MNC 01, MSIN 9xxxxxxxxx. */
		uint64_t msin = omc_load_be64(r) % 1000000000u;
		snprintf(im, sizeof im, "001019%09llu", (unsigned long long)msin);
		OMC_TRY(rand_hex(k, 16));
		OMC_TRY(rand_hex(opc, 16));
		p = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "id", "pcid", "owner", "ico", "role", "bootstrap",
			      "type", "usim", "imsi", im, "alg", "milenage", "k", k, "opc", opc);
		omc_memzero(k, sizeof k);
		omc_memzero(opc, sizeof opc);
	}
	OMC_ENSURE(p != NULL, OMC_ERR_BAD_FORMAT);
	if (json_object_set_new(p, "acl", json_pack("[s]", "agent")) ||
	    json_object_set_new(p, "version", json_integer(1)) ||
	    json_object_set_new(p, "expires", json_integer(expires))) {
		json_decref(p);
		OMC_BAIL(OMC_ERR_NOMEM);
	}
	const json_t *im = json_object_get(p, "imsi");
	if (!json_is_string(im) || strlen(json_string_value(im)) >= 16) {
		json_decref(p);
		OMC_BAIL(OMC_ERR_BAD_FORMAT);
	}
	memcpy(imsi, json_string_value(im), strlen(json_string_value(im)) + 1);
	*out = p;
	return OMC_OK;
}

/* What the factory signs with and puts in every device as trust anchors. */
struct omc_factory {
	omc_key *m2mes_ca_key, *vendor_key;
	omc_cert *m2mes_ca, *vendor, *vendor_ca, *ico_ca, *sho1_ca, *sho2_ca, *ro_ca, *pva_ca, *ico;
};

typedef struct dev_ctx {
	const omc_factory *p; /* o->factory, or own */
	omc_factory *own;
	omc_key *att;
	omc_cert *dev_cert;
	json_t *pcid, *ident;
	omc_store_io *io, *store_io;
	bool own_io, own_store_io;
	omc_store_ard *ard;
	bool use_tpm; /* the TPM backend: device.tpm, NV counter and flags */
	omc_tpm_cfg tpm;
	omc_store *store;
	uint8_t drk[32], k_ident[32], k_keys[32], sk[32];
	omc_mcim pcid_rec;
} dev_ctx;

void omc_factory_free(omc_factory *p)
{
	if (!p)
		return;
	omc_key_free(p->m2mes_ca_key);
	omc_key_free(p->vendor_key);
	omc_cert *certs[] = {p->m2mes_ca, p->vendor, p->vendor_ca, p->ico_ca, p->sho1_ca,
			     p->sho2_ca,  p->ro_ca,  p->pva_ca,    p->ico};
	for (size_t i = 0; i < OMC_ARRAY_LEN(certs); i++)
		omc_cert_free(certs[i]);
	omc_free(p);
}

static omc_err load_pki(omc_factory *p, const char *pki)
{
	OMC_TRY(omc_pki_load(pki, "m2mes-ca", &p->m2mes_ca_key, &p->m2mes_ca));
	OMC_TRY(omc_pki_load(pki, "tre-vendor", &p->vendor_key, &p->vendor));
	OMC_TRY(omc_pki_load(pki, "tre-vendor-ca", NULL, &p->vendor_ca));
	OMC_TRY(omc_pki_load(pki, "ico-ca", NULL, &p->ico_ca));
	OMC_TRY(omc_pki_load(pki, "sho1-ca", NULL, &p->sho1_ca));
	OMC_TRY(omc_pki_load(pki, "sho2-ca", NULL, &p->sho2_ca));
	OMC_TRY(omc_pki_load(pki, "ro-ca", NULL, &p->ro_ca));
	OMC_TRY(omc_pki_load(pki, "pva-ca", NULL, &p->pva_ca));
	OMC_TRY(omc_pki_load(pki, "ico", NULL, &p->ico));
	return OMC_OK;
}

omc_err omc_factory_open(omc_factory **out, const char *pki_dir)
{
	OMC_ENSURE(out != NULL && pki_dir != NULL, OMC_ERR_BAD_ARG);
	omc_proto_init();
	omc_factory *p = omc_calloc(1, sizeof *p);
	*out = NULL;
	OMC_ENSURE(p != NULL, OMC_ERR_NOMEM);
	omc_err e = load_pki(p, pki_dir);
	if (e != OMC_OK) {
		omc_factory_free(p);
		return e;
	}
	*out = p;
	return OMC_OK;
}

static void dev_free(dev_ctx *d)
{
	omc_factory_free(d->own);
	omc_key_free(d->att);
	omc_cert_free(d->dev_cert);
	json_decref(d->pcid);
	json_decref(d->ident);
	omc_store_close(d->store);
	if (d->use_tpm)
		omc_tpm_ard_free(d->ard);
	else
		omc_store_ard_sw_free(d->ard);
	if (d->own_store_io)
		omc_store_io_posix_free(d->store_io);
	if (d->own_io)
		omc_store_io_posix_free(d->io);
	omc_mcim_wipe(&d->pcid_rec);
	omc_memzero(d, sizeof *d);
}

/* The platform a model ships: the same firmware image and agent
 * configuration on every device of the model, so a PVA can hold reference
 * values per model (omc_factory_references). The demo firmware is 4096
 * bytes of SHA-256 in counter mode over the model name: the same bytes on
 * every run and every machine. */
typedef struct platform_files {
	uint8_t fw[4096];
	char conf[256];
	size_t conf_len;
} platform_files;

static omc_err platform_make(platform_files *p, const char *model)
{
	for (uint32_t i = 0; i < sizeof p->fw / 32; i++) {
		char in[128];
		int n = snprintf(in, sizeof in, "omc/demo-firmware/v1|%s|%u", model, (unsigned)i);
		OMC_ENSURE(n > 0 && (size_t)n < sizeof in, OMC_ERR_BAD_ARG);
		unsigned olen = 0;
		OMC_ENSURE(EVP_Digest(in, (size_t)n, p->fw + 32 * i, &olen, EVP_sha256(), NULL) == 1, OMC_ERR_CRYPTO);
	}
	int cl = snprintf(p->conf, sizeof p->conf, "# M2ME agent configuration\nmodel = %s\nagent_user = agent\n", model);
	OMC_ENSURE(cl > 0 && (size_t)cl < sizeof p->conf, OMC_ERR_BAD_ARG);
	p->conf_len = (size_t)cl;
	return OMC_OK;
}

typedef struct platform_file {
	const char *name, *path;
	const uint8_t *data;
	size_t len;
} platform_file;

static void platform_list(platform_file out[2], const platform_files *pf)
{
	out[0] = (platform_file){"firmware", "platform/firmware.bin", pf->fw, sizeof pf->fw};
	out[1] = (platform_file){"agent-config", "platform/agent.conf", (const uint8_t *)pf->conf, pf->conf_len};
}

static omc_err write_platform(dev_ctx *d, const char *model, json_t *comps)
{
	platform_files pf;
	OMC_TRY(platform_make(&pf, model));
	(void)d->io->mkdir(d->io->ctx, "platform");
	platform_file files[2];
	platform_list(files, &pf);
	for (size_t i = 0; i < OMC_ARRAY_LEN(files); i++) {
		char h[65];
		OMC_TRY(omc_tre_write_file(d->io, files[i].path, files[i].data, files[i].len));
		OMC_TRY(sha256_hex(h, files[i].data, files[i].len));
		OMC_ENSURE(json_array_append_new(comps, json_pack("{s:s,s:s,s:s}", "name", files[i].name, "path",
								  files[i].path, "sha256", h)) == 0,
			   OMC_ERR_NOMEM);
	}
	return OMC_OK;
}

omc_err omc_factory_references(const char *model, char **json)
{
	OMC_ENSURE(json != NULL, OMC_ERR_BAD_ARG);
	*json = NULL;
	if (!model)
		model = "openmcim-demo-gw";
	OMC_ENSURE(strlen(model) > 0 && strlen(model) < 64, OMC_ERR_BAD_ARG);
	omc_proto_init();
	platform_files pf;
	OMC_TRY(platform_make(&pf, model));
	platform_file files[2];
	platform_list(files, &pf);
	json_t *a = json_array();
	OMC_ENSURE(a != NULL, OMC_ERR_NOMEM);
	omc_err e = OMC_OK;
	for (size_t i = 0; e == OMC_OK && i < OMC_ARRAY_LEN(files); i++) {
		char h[65];
		e = sha256_hex(h, files[i].data, files[i].len);
		if (e == OMC_OK && json_array_append_new(a, json_pack("{s:s,s:s}", "name", files[i].name, "sha256", h)))
			e = OMC_ERR_NOMEM;
	}
	if (e == OMC_OK && !(*json = omc_json_dumps(a, JSON_COMPACT)))
		e = OMC_ERR_NOMEM;
	json_decref(a);
	return e;
}

/* What a factory run cut short (a power cut, a crash) leaves behind: every
 * file it writes before device.key. Unlinked, then both directories synced,
 * so that the next run starts from nothing. */
static omc_err clear_leftovers(const dev_ctx *d)
{
	static const char *const store_files[] = {"root.a", "root.b", "objs.a", "objs.b", "arb.a",
						  "arb.b", "root.a.tmp", "root.b.tmp", "arb.a.tmp"};
	static const char *const tre_files[] = {"identity.sealed", "identity.sealed.tmp", "manifest.jws",
						"manifest.jws.tmp", "audit.log", "device.key.tmp",
						"device.tpm.tmp", "tpm.conf", "tpm.conf.tmp"};
	for (size_t i = 0; i < sizeof store_files / sizeof store_files[0]; i++)
		if (d->store_io->exists(d->store_io->ctx, store_files[i]) == OMC_OK)
			OMC_TRY(d->store_io->unlink(d->store_io->ctx, store_files[i]));
	for (size_t i = 0; i < sizeof tre_files / sizeof tre_files[0]; i++)
		if (d->io->exists(d->io->ctx, tre_files[i]) == OMC_OK)
			OMC_TRY(d->io->unlink(d->io->ctx, tre_files[i]));
	if (d->store_io->exists(d->store_io->ctx, "") == OMC_OK)
		OMC_TRY(d->store_io->sync_dir(d->store_io->ctx, ""));
	return d->io->sync_dir(d->io->ctx, "");
}

static omc_err make_device(dev_ctx *d, const omc_factory_device_opts *o, char **report)
{
	const char *model = o->model ? o->model : "openmcim-demo-gw";
	int64_t now = (int64_t)time(NULL);
	if (o->factory) {
		d->p = o->factory;
	} else {
		OMC_TRY(omc_factory_open(&d->own, o->pki_dir));
		d->p = d->own;
	}
	/* A device is there once device.key or device.tpm is (it is written
	 * last): refused. Anything else is the remains of a run cut short,
	 * made anew. */
	omc_err ke = d->io->exists(d->io->ctx, "device.key");
	OMC_ENSURE(ke == OMC_ERR_NOT_FOUND, ke == OMC_OK ? OMC_ERR_EXISTS : ke);
	ke = d->io->exists(d->io->ctx, OMC_TPM_FILE);
	OMC_ENSURE(ke == OMC_ERR_NOT_FOUND, ke == OMC_OK ? OMC_ERR_EXISTS : ke);
	if (o->tpm) {
		OMC_TRY(omc_tpm_cfg_init(&d->tpm, o->tpm, o->tpm_nv, o->tpm_pcr));
		d->use_tpm = true;
	}
	OMC_TRY(clear_leftovers(d));

	/* Device root key and the keys derived from it. */
	OMC_TRY(omc_rand_bytes(d->drk, 32));
	OMC_TRY(omc_tre_hkdf(d->k_ident, d->drk, OMC_TRE_LABEL_IDENTITY));
	OMC_TRY(omc_tre_hkdf(d->k_keys, d->drk, OMC_TRE_LABEL_KEYS));
	OMC_TRY(omc_tre_hkdf(d->sk, d->drk, OMC_TRE_LABEL_STORE));

	/* Identity: attestation key, certificate from the M2MES CA. */
	char tre_id[40] = "tre-", plat_id[40] = "plat-";
	OMC_TRY(rand_hex(tre_id + 4, 8));
	OMC_TRY(rand_hex(plat_id + 5, 8));
	OMC_TRY(omc_key_generate(&d->att));
	omc_cert_req req = {.subject_cn = tre_id, .subject_org = model, .ca = false, .days = 3650};
	OMC_TRY(omc_cert_issue(&d->dev_cert, &req, d->att, d->p->m2mes_ca, d->p->m2mes_ca_key));

	/* Platform components and the signed reference manifest (SEC-3). */
	json_t *comps = json_array();
	OMC_ENSURE(comps != NULL, OMC_ERR_NOMEM);
	omc_err e = write_platform(d, model, comps);
	json_t *man = e == OMC_OK ? json_pack("{s:s,s:s,s:o}", "model", model, "version", "1.0", "components", comps)
				   : NULL;
	if (!man) {
		/* json_pack's "o" takes comps even when it fails (jansson 2.14);
		 * without the pack it is still ours. */
		if (e != OMC_OK)
			json_decref(comps);
		return e != OMC_OK ? e : OMC_ERR_NOMEM;
	}
	char *payload = omc_json_dumps(man, JSON_COMPACT | JSON_SORT_KEYS), *mjws = NULL;
	json_decref(man);
	OMC_ENSURE(payload != NULL, OMC_ERR_NOMEM);
	const omc_cert *x5c[] = {d->p->vendor};
	e = omc_jws_sign(&mjws, (const uint8_t *)payload, strlen(payload), d->p->vendor_key, x5c, 1, "omc-manifest+jwt");
	omc_free(payload);
	OMC_TRY(e);
	e = omc_tre_write_file(d->io, "manifest.jws", (const uint8_t *)mjws, strlen(mjws));
	omc_free(mjws);
	OMC_TRY(e);

	/* The PCID (CCIF-2): given, or generated here. */
	char imsi[16];
	OMC_TRY(pcid_object(&d->pcid, o->pcid_json, o->pcid_json_len,
			    now + (o->pcid_lifetime ? o->pcid_lifetime : 365 * 24 * 3600), imsi));
	OMC_TRY(omc_mcim_from_json(&d->pcid_rec, d->pcid, true));
	OMC_TRY(omc_lifecycle_next(&d->pcid_rec.state, d->pcid_rec.state, OMC_EV_ACTIVATE, OMC_ACTOR_OWNER));

	/* The sealed identity. The attestation key inside it sealed once more
	 * under K_keys (omc_key_seal, base64url): a random key needs no
	 * password-based derivation, which made every TRE open cost a PBKDF2. */
	uint8_t *att_sealed = NULL;
	size_t att_sl = 0;
	char att_b64[256];
	OMC_TRY(omc_key_seal(&att_sealed, &att_sl, d->att, d->k_keys));
	omc_err se = omc_b64_encode(att_b64, sizeof att_b64, att_sealed, att_sl, OMC_B64_URL);
	omc_free(att_sealed);
	OMC_TRY(se);
	d->ident = json_pack("{s:i,s:s,s:s,s:s,s:s,s:[],s:{s:[],s:[],s:[],s:[],s:[]},s:O}", "version", 1, "tre_id",
			     tre_id, "platform_id", plat_id, "model", model, "att_key", att_b64, "chain", "anchors",
			     "m2mes", "tre_vendor", "operator", "ro", "pva", "pcid", d->pcid);
	OMC_ENSURE(d->ident != NULL, OMC_ERR_NOMEM);
	json_t *an = json_object_get(d->ident, "anchors");
	OMC_TRY(pem_array_add(json_object_get(d->ident, "chain"), d->dev_cert));
	OMC_TRY(pem_array_add(json_object_get(an, "m2mes"), d->p->m2mes_ca));
	OMC_TRY(pem_array_add(json_object_get(an, "tre_vendor"), d->p->vendor_ca));
	OMC_TRY(pem_array_add(json_object_get(an, "operator"), d->p->ico_ca));
	OMC_TRY(pem_array_add(json_object_get(an, "operator"), d->p->sho1_ca));
	OMC_TRY(pem_array_add(json_object_get(an, "operator"), d->p->sho2_ca));
	OMC_TRY(pem_array_add(json_object_get(an, "ro"), d->p->ro_ca));
	OMC_TRY(pem_array_add(json_object_get(an, "pva"), d->p->pva_ca));
	char *ident = omc_json_dumps(d->ident, JSON_COMPACT | JSON_SORT_KEYS);
	OMC_ENSURE(ident != NULL, OMC_ERR_NOMEM);
	uint8_t *sealed;
	size_t sealed_len;
	e = omc_tre_seal(&sealed, &sealed_len, d->k_ident, OMC_TRE_IDENTITY_MAGIC, (const uint8_t *)ident,
			 strlen(ident));
	omc_free(ident);
	OMC_TRY(e);
	e = omc_tre_write_file(d->io, "identity.sealed", sealed, sealed_len);
	omc_free(sealed);
	OMC_TRY(e);

	/* The store, with the PCID activated in it. */
	if (d->use_tpm)
		OMC_TRY(omc_tpm_ard_new(&d->ard, &d->tpm, true));
	else
		OMC_TRY(omc_store_ard_sw_new(&d->ard, d->store_io, d->sk, true));
	omc_store_opts so = {.io = d->store_io, .ard = d->ard, .create = true};
	OMC_TRY(omc_store_open(&d->store, d->sk, &so));
	OMC_TRY(omc_tre_factory_commit(d->store, d->drk, &d->pcid_rec, now));

	/* The device root key last: a device without it is not a device. On
	 * the TPM it is sealed to the sealing PCR's value in this boot. */
	if (d->use_tpm) {
		uint8_t *blob = NULL;
		size_t blob_len = 0;
		OMC_TRY(omc_tre_write_file(d->io, OMC_TPM_CONF, (const uint8_t *)o->tpm, strlen(o->tpm)));
		OMC_TRY(omc_tpm_seal(&d->tpm, &blob, &blob_len, d->drk));
		omc_err we = omc_tre_write_file(d->io, OMC_TPM_FILE, blob, blob_len);
		omc_free(blob);
		OMC_TRY(we);
	} else {
		OMC_TRY(omc_tre_write_file(d->io, "device.key", d->drk, 32));
	}

	/* The PCID leaves the factory encrypted to the ICO only (SEC-6). */
	json_t *rep = json_pack("{s:s,s:O,s:O,s:O,s:O}", "tre_id", tre_id, "imsi", json_object_get(d->pcid, "imsi"),
				"alg", json_object_get(d->pcid, "alg"), "k", json_object_get(d->pcid, "k"), "expires",
				json_object_get(d->pcid, "expires"));
	OMC_ENSURE(rep != NULL, OMC_ERR_NOMEM);
	if (json_object_get(d->pcid, "opc"))
		json_object_set(rep, "opc", json_object_get(d->pcid, "opc"));
	if (json_object_get(d->pcid, "tuak"))
		json_object_set(rep, "tuak", json_object_get(d->pcid, "tuak"));
	char *rs = omc_json_dumps(rep, JSON_COMPACT | JSON_SORT_KEYS), *jwe = NULL, *jws = NULL;
	json_decref(rep);
	OMC_ENSURE(rs != NULL, OMC_ERR_NOMEM);
	/* Signed by the device it was made for (its attestation key, x5c its
	 * certificate from the M2MES CA), then encrypted to the ICO: the ICO
	 * knows which device, and that a factory of a trusted M2MES made it. */
	const omc_cert *rx5c[1] = {d->dev_cert};
	e = omc_jws_sign(&jws, (const uint8_t *)rs, strlen(rs), d->att, rx5c, 1, "omc-pcid-report+jwt");
	omc_free(rs);
	OMC_TRY(e);
	omc_key *ico_pub = NULL;
	e = omc_cert_public_key(&ico_pub, d->p->ico);
	if (e == OMC_OK)
		e = omc_jwe_encrypt(&jwe, (const uint8_t *)jws, strlen(jws), ico_pub, "omc-pcid-report+jwe");
	omc_free(jws);
	omc_key_free(ico_pub);
	OMC_TRY(e);
	json_t *out = json_pack("{s:s,s:s,s:s,s:s,s:s}", "tre_id", tre_id, "platform_id", plat_id, "model", model,
				"pcid_imsi", imsi, "pcid_report", jwe);
	omc_free(jwe);
	OMC_ENSURE(out != NULL, OMC_ERR_NOMEM);
	*report = omc_json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(out);
	OMC_ENSURE(*report != NULL, OMC_ERR_NOMEM);
	return OMC_OK;
}

omc_err omc_factory_device(const omc_factory_device_opts *o, char **report)
{
	OMC_ENSURE(o && report && (o->pki_dir || o->factory), OMC_ERR_BAD_ARG);
	OMC_ENSURE((o->io == NULL) == (o->store_io == NULL), OMC_ERR_BAD_ARG);
	omc_proto_init();
	*report = NULL;
	dev_ctx *d = omc_calloc(1, sizeof *d);
	OMC_ENSURE(d != NULL, OMC_ERR_NOMEM);
	omc_err e = OMC_OK;
	if (o->io) {
		d->io = o->io;
		d->store_io = o->store_io;
	} else {
		char sd[4096];
		if (!o->dir || snprintf(sd, sizeof sd, "%s/store", o->dir) >= (int)sizeof sd)
			e = OMC_ERR_BAD_ARG;
		if (e == OMC_OK && mkdir(o->dir, 0700) != 0 && errno != EEXIST)
			e = OMC_ERR_IO;
		if (e == OMC_OK && mkdir(sd, 0700) != 0 && errno != EEXIST)
			e = OMC_ERR_IO;
		if (e == OMC_OK)
			e = omc_store_io_posix_new(&d->io, o->dir);
		d->own_io = e == OMC_OK;
		if (e == OMC_OK)
			e = omc_store_io_posix_new(&d->store_io, sd);
		d->own_store_io = e == OMC_OK;
	}
	if (e == OMC_OK)
		e = make_device(d, o, report);
	dev_free(d);
	omc_free(d);
	return e;
}

/* --- TRE update manifests (TRE-12) --------------------------------------------------- */

static omc_err vendor_sign(char **jws, const json_t *o, const omc_key *k, const omc_cert *c, const char *typ)
{
	char *payload = omc_json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	OMC_ENSURE(payload != NULL, OMC_ERR_NOMEM);
	const omc_cert *x5c[] = {c};
	omc_err e = omc_jws_sign(jws, (const uint8_t *)payload, strlen(payload), k, x5c, 1, typ);
	omc_free(payload);
	return e;
}

static omc_err update_payloads(json_t **ref, json_t **upd, const char *model, const char *version,
			       uint64_t counter, const omc_factory_update_component *c, size_t n)
{
	json_t *rc = json_array(), *uc = json_array();
	omc_err e = rc && uc ? OMC_OK : OMC_ERR_NOMEM;
	for (size_t i = 0; e == OMC_OK && i < n; i++) {
		char h[65];
		if (!c[i].name || !c[i].path || (!c[i].data && c[i].len != 0)) {
			e = OMC_ERR_BAD_ARG;
			break;
		}
		e = sha256_hex(h, c[i].data, c[i].len);
		if (e == OMC_OK &&
		    (json_array_append_new(rc, json_pack("{s:s,s:s,s:s}", "name", c[i].name, "path", c[i].path, "sha256",
							 h)) ||
		     json_array_append_new(uc, json_pack("{s:s,s:s,s:s,s:I}", "name", c[i].name, "path", c[i].path,
							 "sha256", h, "size", (json_int_t)c[i].len))))
			e = OMC_ERR_NOMEM;
	}
	if (e == OMC_OK) {
		*ref = json_pack("{s:s,s:s,s:I,s:O}", "model", model, "version", version, "counter", (json_int_t)counter,
				 "components", rc);
		*upd = json_pack("{s:s,s:s,s:I,s:O}", "model", model, "version", version, "counter", (json_int_t)counter,
				 "components", uc);
		if (!*ref || !*upd) {
			json_decref(*ref);
			json_decref(*upd);
			e = OMC_ERR_NOMEM;
		}
	}
	json_decref(rc);
	json_decref(uc);
	return e;
}

omc_err omc_factory_update_manifest(char **jws, const char *pki_dir, const char *model, const char *version,
				    uint64_t counter, const omc_factory_update_component *c, size_t n)
{
	OMC_ENSURE(jws && pki_dir && version && (c || n == 0), OMC_ERR_BAD_ARG);
	*jws = NULL;
	if (!model)
		model = "openmcim-demo-gw";
	OMC_ENSURE(n >= 1 && n <= OMC_TRE_MAX_COMPONENTS && counter <= (uint64_t)INT64_MAX, OMC_ERR_BAD_ARG);
	OMC_ENSURE(strlen(model) > 0 && strlen(model) < 64 && strlen(version) > 0 && strlen(version) < 32,
		   OMC_ERR_BAD_ARG);
	for (const char *v = version; *v; v++)
		OMC_ENSURE(*v >= 0x20 && *v <= 0x7e, OMC_ERR_BAD_ARG);
	omc_proto_init();
	omc_key *k = NULL;
	omc_cert *cert = NULL;
	OMC_TRY(omc_pki_load(pki_dir, "tre-vendor", &k, &cert));
	json_t *ref = NULL, *upd = NULL;
	char *ref_jws = NULL;
	omc_err e = update_payloads(&ref, &upd, model, version, counter, c, n);
	if (e == OMC_OK)
		e = vendor_sign(&ref_jws, ref, k, cert, "omc-manifest+jwt");
	if (e == OMC_OK && json_object_set_new(upd, "manifest", json_string(ref_jws)))
		e = OMC_ERR_NOMEM;
	if (e == OMC_OK)
		e = vendor_sign(jws, upd, k, cert, "omc-update+jwt");
	omc_free(ref_jws);
	json_decref(ref);
	json_decref(upd);
	omc_key_free(k);
	omc_cert_free(cert);
	return e;
}
