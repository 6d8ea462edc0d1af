/* Subscriber credentials as the CCIF and the SHOs make them, and their JSON
 * form (the MCIM record's members and the PCID report's). Every JSON
 * string made here is freed through omc_free, which wipes it. */
#include <string.h>

#include "server/server_internal.h"

omc_err srv_cred_new(omc_aka_cred *c, omc_aka_alg alg, const omc_aka_tuak_params *tuak)
{
	uint8_t k[32], op[32];
	OMC_DEFER_WIPE(k);
	OMC_DEFER_WIPE(op);
	OMC_TRY(omc_rand_bytes(k, sizeof k));
	OMC_TRY(omc_rand_bytes(op, sizeof op));
	OMC_TEST_CANARY(k, sizeof k, "K");
	OMC_TEST_CANARY(op, sizeof op, "OP");
	memset(c, 0, sizeof *c);
	c->alg = alg;
	if (alg == OMC_AKA_ALG_MILENAGE)
		return omc_aka_milenage_init(&c->u.milenage, k, op, NULL);
	OMC_ENSURE(alg == OMC_AKA_ALG_TUAK, OMC_ERR_BAD_ARG);
	omc_aka_tuak_params p;
	omc_aka_tuak_params_default(&p);
	return omc_aka_tuak_init(&c->u.tuak, k, 16, op, tuak ? tuak : &p);
}

static json_t *hex_str(const uint8_t *p, size_t n)
{
	char h[65];
	if (n > 32 || omc_hex_encode(h, sizeof h, p, n) != OMC_OK)
		return NULL;
	json_t *s = json_string(h);
	omc_memzero(h, sizeof h);
	return s;
}

json_t *srv_cred_json(const omc_aka_cred *c)
{
	json_t *o = json_object();
	bool ok = o && json_object_set_new(o, "alg", json_string(omc_aka_alg_name(c->alg))) == 0;
	if (c->alg == OMC_AKA_ALG_MILENAGE) {
		ok = ok && json_object_set_new(o, "k", hex_str(c->u.milenage.k, 16)) == 0 &&
		     json_object_set_new(o, "opc", hex_str(c->u.milenage.opc, 16)) == 0;
	} else {
		const omc_aka_tuak *t = &c->u.tuak;
		json_t *tu = json_object();
		bool inner = tu && json_object_set_new(tu, "topc", hex_str(t->topc, 32)) == 0 &&
			     json_object_set_new(tu, "iterations", json_integer(t->iterations)) == 0 &&
			     json_object_set_new(tu, "mac_bits", json_integer(8 * t->mac_len)) == 0 &&
			     json_object_set_new(tu, "res_bits", json_integer(8 * t->res_len)) == 0 &&
			     json_object_set_new(tu, "ck_bits", json_integer(8 * t->ck_len)) == 0 &&
			     json_object_set_new(tu, "ik_bits", json_integer(8 * t->ik_len)) == 0;
		ok = ok && json_object_set_new(o, "k", hex_str(t->k, t->k_len)) == 0;
		/* json_object_set_new takes tu even when it fails (jansson
		 * frees it then): it is freed here only when not passed on. */
		if (ok && inner) {
			ok = json_object_set_new(o, "tuak", tu) == 0;
		} else {
			json_decref(tu);
			ok = false;
		}
	}
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static bool hex_member(uint8_t *out, size_t cap, size_t *n, json_t *o, const char *key)
{
	const char *h = json_string_value(json_object_get(o, key));
	return h && omc_hex_decode_var(out, cap, n, h, strlen(h)) == OMC_OK;
}

static unsigned bits_or(json_t *o, const char *key, unsigned dflt)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= 65535
		       ? (unsigned)json_integer_value(v)
		       : dflt;
}

omc_err srv_cred_from_json(omc_aka_cred *c, json_t *o)
{
	uint8_t k[32], op[32];
	OMC_DEFER_WIPE(k);
	OMC_DEFER_WIPE(op);
	size_t kl = 0, ol = 0;
	const char *alg = json_string_value(json_object_get(o, "alg"));
	memset(c, 0, sizeof *c);
	OMC_ENSURE(hex_member(k, sizeof k, &kl, o, "k"), OMC_ERR_BAD_FORMAT);
	if (!alg || !strcmp(alg, "milenage")) {
		OMC_ENSURE(kl == 16 && hex_member(op, sizeof op, &ol, o, "opc") && ol == 16 &&
				   !json_object_get(o, "tuak"),
			   OMC_ERR_BAD_FORMAT);
		c->alg = OMC_AKA_ALG_MILENAGE;
		return omc_aka_milenage_init(&c->u.milenage, k, op, NULL) == OMC_OK ? OMC_OK : OMC_ERR_BAD_FORMAT;
	}
	OMC_ENSURE(!strcmp(alg, "tuak"), OMC_ERR_BAD_FORMAT);
	json_t *tu = json_object_get(o, "tuak");
	OMC_ENSURE(json_is_object(tu) && !json_object_get(o, "opc") && hex_member(op, sizeof op, &ol, tu, "topc") &&
			   ol == 32,
		   OMC_ERR_BAD_FORMAT);
	omc_aka_tuak_params p;
	omc_aka_tuak_params_default(&p);
	p.mac_bits = bits_or(tu, "mac_bits", p.mac_bits);
	p.res_bits = bits_or(tu, "res_bits", p.res_bits);
	p.ck_bits = bits_or(tu, "ck_bits", p.ck_bits);
	p.ik_bits = bits_or(tu, "ik_bits", p.ik_bits);
	p.iterations = bits_or(tu, "iterations", p.iterations);
	c->alg = OMC_AKA_ALG_TUAK;
	return omc_aka_tuak_init(&c->u.tuak, k, kl, op, &p) == OMC_OK ? OMC_OK : OMC_ERR_BAD_FORMAT;
}

bool srv_cred_meets(const omc_aka_cred *c, const srv_op *op)
{
	if (op->alg != OMC_AKA_ALG_TUAK)
		return true;
	if (c->alg != OMC_AKA_ALG_TUAK)
		return false;
	const omc_aka_tuak *t = &c->u.tuak;
	return t->iterations >= op->tuak.iterations && 8u * t->mac_len >= op->tuak.mac_bits &&
	       8u * t->res_len >= op->tuak.res_bits && 8u * t->ck_len >= op->tuak.ck_bits &&
	       8u * t->ik_len >= op->tuak.ik_bits;
}
