/* 128-EIA2 (TS 33.401 Annex B.2.3): AES-CMAC (NIST SP 800-38B) truncated to
 * 32 bits, over COUNT || BEARER || DIRECTION || 0^26 || MESSAGE. Whole
 * bytes go through OpenSSL's EVP_MAC CMAC; a MESSAGE whose length is not a
 * whole number of bytes through omc_link_cmac_bits (the padding of SP
 * 800-38B starts at a bit there, which a byte interface cannot express). */
#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "link/link_internal.h"

static omc_err cmac_evp_with(EVP_MAC_CTX *m, uint8_t tag[16], const uint8_t *key, const uint8_t head[8],
			     const uint8_t *msg, size_t n)
{
	char cipher[] = "AES-128-CBC";
	OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0), OSSL_PARAM_construct_end()};
	size_t out = 0;
	OMC_ENSURE(EVP_MAC_init(m, key, 16, p) == 1, OMC_ERR_CRYPTO);
	OMC_ENSURE(EVP_MAC_update(m, head, 8) == 1, OMC_ERR_CRYPTO);
	OMC_ENSURE(n == 0 || EVP_MAC_update(m, msg, n) == 1, OMC_ERR_CRYPTO);
	OMC_ENSURE(EVP_MAC_final(m, tag, &out, 16) == 1 && out == 16, OMC_ERR_CRYPTO);
	return OMC_OK;
}

static omc_err cmac_evp(uint8_t tag[16], const uint8_t *key, const uint8_t head[8], const uint8_t *msg, size_t n)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
	OMC_ENSURE(mac != NULL, OMC_ERR_CRYPTO);
	EVP_MAC_CTX *m = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	OMC_ENSURE(m != NULL, OMC_ERR_NOMEM);
	omc_err e = cmac_evp_with(m, tag, key, head, msg, n);
	EVP_MAC_CTX_free(m);
	return e;
}

/* SP 800-38B 6.1: double in GF(2^128), x^128 + x^7 + x^2 + x + 1. Constant
 * time: the reduction is masked, never branched on. */
static void dbl(uint8_t out[16], const uint8_t in[16])
{
	uint8_t carry = (uint8_t)(0u - (unsigned)(in[0] >> 7));
	for (int i = 0; i < 15; i++)
		out[i] = (uint8_t)((in[i] << 1) | (in[i + 1] >> 7));
	out[15] = (uint8_t)(((unsigned)in[15] << 1) ^ (carry & 0x87u));
}

static omc_err block(EVP_CIPHER_CTX *c, uint8_t x[16])
{
	int len = 0;
	OMC_ENSURE(EVP_EncryptUpdate(c, x, &len, x, 16) == 1 && len == 16, OMC_ERR_CRYPTO);
	return OMC_OK;
}

/* Byte i of head || msg (msg past its end reads as zero). */
static uint8_t byte_at(const uint8_t head[8], const uint8_t *msg, size_t msg_bytes, size_t i)
{
	if (i < 8)
		return head[i];
	return i - 8 < msg_bytes ? msg[i - 8] : 0;
}

static omc_err cmac_bits_with(EVP_CIPHER_CTX *c, uint8_t tag[16], const uint8_t *key, const uint8_t head[8],
			      const uint8_t *msg, size_t bits)
{
	uint8_t l[16] = {0}, k1[16], k2[16], x[16] = {0};
	OMC_DEFER_WIPE(l);
	OMC_DEFER_WIPE(k1);
	OMC_DEFER_WIPE(k2);
	OMC_DEFER_WIPE(x);
	OMC_ENSURE(EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, key, NULL) == 1, OMC_ERR_CRYPTO);
	OMC_ENSURE(EVP_CIPHER_CTX_set_padding(c, 0) == 1, OMC_ERR_CRYPTO);
	/* 6.1: L = CIPH_K(0^128), K1 = dbl(L), K2 = dbl(K1). */
	OMC_TRY(block(c, l));
	dbl(k1, l);
	dbl(k2, k1);
	size_t total = 64 + bits;                  /* bits of M = head || msg */
	size_t nblk = total == 0 ? 1 : (total + 127) / 128;
	size_t last_bits = total - (nblk - 1) * 128; /* 1..128 */
	size_t msg_bytes = bits / 8 + (bits % 8 != 0);
	/* 6.2 steps 5 and 6: C_i = CIPH_K(C_i-1 xor M_i) for all but the last. */
	for (size_t b = 0; b + 1 < nblk; b++) {
		for (size_t j = 0; j < 16; j++)
			x[j] ^= byte_at(head, msg, msg_bytes, b * 16 + j);
		OMC_TRY(block(c, x));
	}
	/* 6.2 steps 3 and 4: the last block, complete (xor K1) or padded with
	 * a 1 bit then 0s (xor K2). */
	const uint8_t *k = last_bits == 128 ? k1 : k2;
	for (size_t j = 0; j < 16; j++) {
		size_t at = j * 8; /* bit offset of this byte in the last block */
		uint8_t v = byte_at(head, msg, msg_bytes, (nblk - 1) * 16 + j);
		if (at >= last_bits)
			v = 0;
		else if (last_bits - at < 8)
			v &= (uint8_t)(0xffu << (8 - (last_bits - at)));
		if (last_bits < 128 && at <= last_bits && last_bits < at + 8)
			v |= (uint8_t)(0x80u >> (last_bits - at));
		x[j] ^= (uint8_t)(v ^ k[j]);
	}
	OMC_TRY(block(c, x));
	memcpy(tag, x, 16);
	return OMC_OK;
}

omc_err omc_link_cmac_bits(uint8_t tag[16], const uint8_t key[16], const uint8_t head[8], const uint8_t *msg,
			   size_t bits)
{
	OMC_ENSURE(bits == 0 || msg != NULL, OMC_ERR_BAD_ARG);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	OMC_ENSURE(c != NULL, OMC_ERR_NOMEM);
	omc_err e = cmac_bits_with(c, tag, key, head, msg, bits);
	EVP_CIPHER_CTX_free(c);
	return e;
}

omc_err omc_link_eia2(uint8_t mac[OMC_LINK_MAC_LEN], const uint8_t key[OMC_LINK_KEY_LEN], uint32_t count,
		      uint8_t bearer, uint8_t direction, const uint8_t *msg, size_t bits)
{
	OMC_ENSURE(bearer <= 31 && direction <= 1, OMC_ERR_BAD_ARG);
	OMC_ENSURE(bits == 0 || msg != NULL, OMC_ERR_BAD_ARG);
	OMC_ENSURE(bits / 8 <= INT_MAX, OMC_ERR_TOO_LARGE);
	uint8_t head[8], tag[16];
	OMC_DEFER_WIPE(tag);
	/* B.2.1: M = COUNT || BEARER || DIRECTION || 0^26 || MESSAGE. */
	omc_link_iv64(head, count, bearer, direction);
	if (bits % 8 == 0)
		OMC_TRY(cmac_evp(tag, key, head, msg, bits / 8));
	else
		OMC_TRY(omc_link_cmac_bits(tag, key, head, msg, bits));
	/* B.2.3: MACT = T[0] .. T[31]. */
	memcpy(mac, tag, OMC_LINK_MAC_LEN);
	return OMC_OK;
}
