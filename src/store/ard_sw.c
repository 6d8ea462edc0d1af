/* The software anti-rollback device (docs/store.md "Software ARD").
 *
 *   arb.a, arb.b = "OMCARB01" | version u16 = 1 | reserved u16 = 0 |
 *                  gen u64 | counter u64 | flags u32 |
 *                  HMAC-SHA-256(K_arb, all of the above)        (64 bytes)
 *   K_arb = HKDF-SHA-256(root_key, salt = "", info = "omc/store/v1/arb")
 *
 * Read: the valid slot with the highest gen wins. Write: gen + 1 into the
 * other slot (the one with the lower gen, or an invalid or absent one), then
 * fdatasync, so the slot the state came from is never touched and a torn
 * write only invalidates the slot being written. Both absent: the device
 * does not exist (OMC_ERR_NOT_FOUND); some file present but none valid:
 * OMC_ERR_CORRUPT. Creation writes arb.a through arb.a.tmp, rename and a
 * directory sync, so a power cut leaves either no device or a valid one.
 *
 * Threat model: this stops replay of single files or of the store without
 * its counter, not a replay of the whole directory by someone who can write
 * it (GlobalPlatform "level 0"; OP-TEE REE FS without RPMB). docs/store.md. */
#include <string.h>

#include "store/store_internal.h"

static const char *const arb_name[2] = {"arb.a", "arb.b"};
#define ARB_TMP "arb.a.tmp"

typedef struct ard_sw {
	omc_store_ard ard;
	omc_store_io *io;
	uint8_t k_arb[OMC_ST_KEY_LEN];
} ard_sw;

typedef enum slot_state { SLOT_ABSENT, SLOT_INVALID, SLOT_VALID } slot_state;

typedef struct arb_slot {
	slot_state state;
	uint64_t gen;
	uint64_t counter;
	uint32_t flags;
} arb_slot;

static omc_err arb_encode(uint8_t out[OMC_ST_ARB_LEN], const uint8_t *k_arb, uint64_t gen, uint64_t counter,
			  uint32_t flags)
{
	omc_cur c;
	uint8_t mac[OMC_ST_DIGEST_LEN];
	omc_cur_init_write(&c, out, OMC_ST_ARB_LEN);
	OMC_TRY(omc_cur_write(&c, (const uint8_t *)OMC_ST_ARB_MAGIC, OMC_ST_MAGIC_LEN));
	OMC_TRY(omc_cur_write_u16(&c, OMC_ST_ARB_VERSION));
	OMC_TRY(omc_cur_write_u16(&c, 0));
	OMC_TRY(omc_cur_write_u64(&c, gen));
	OMC_TRY(omc_cur_write_u64(&c, counter));
	OMC_TRY(omc_cur_write_u32(&c, flags));
	OMC_TRY(omc_st_hmac_sha256(mac, k_arb, out, OMC_ST_ARB_BODY_LEN));
	OMC_TRY(omc_cur_write(&c, mac, sizeof mac));
	OMC_ASSERT(omc_cur_space(&c) == 0);
	return OMC_OK;
}

/* OMC_ERR_CORRUPT for anything but an authentic record of exactly the right
 * size and version. */
static omc_err arb_decode(arb_slot *s, const uint8_t *k_arb, const uint8_t *data, size_t len)
{
	OMC_ENSURE(len == OMC_ST_ARB_LEN, OMC_ERR_CORRUPT);
	omc_cur c;
	const uint8_t *magic, *mac;
	uint16_t version, reserved;
	uint8_t want[OMC_ST_DIGEST_LEN];
	OMC_TRY(omc_st_hmac_sha256(want, k_arb, data, OMC_ST_ARB_BODY_LEN));
	omc_cur_init_read(&c, data, len);
	OMC_TRY(omc_cur_read_ptr(&c, &magic, OMC_ST_MAGIC_LEN));
	OMC_TRY(omc_cur_read_u16(&c, &version));
	OMC_TRY(omc_cur_read_u16(&c, &reserved));
	OMC_TRY(omc_cur_read_u64(&c, &s->gen));
	OMC_TRY(omc_cur_read_u64(&c, &s->counter));
	OMC_TRY(omc_cur_read_u32(&c, &s->flags));
	OMC_TRY(omc_cur_read_ptr(&c, &mac, OMC_ST_DIGEST_LEN));
	OMC_TRY(omc_cur_expect_end(&c));
	/* The MAC first: nothing of an unauthenticated record is looked at. */
	OMC_ENSURE(omc_ct_eq(mac, want, sizeof want), OMC_ERR_CORRUPT);
	OMC_ENSURE(memcmp(magic, OMC_ST_ARB_MAGIC, OMC_ST_MAGIC_LEN) == 0, OMC_ERR_CORRUPT);
	OMC_ENSURE(version == OMC_ST_ARB_VERSION && reserved == 0 && s->gen >= 1, OMC_ERR_CORRUPT);
	return OMC_OK;
}

static omc_err read_slot(const ard_sw *a, unsigned i, arb_slot *s)
{
	uint8_t *data = NULL;
	size_t len = 0;
	memset(s, 0, sizeof *s);
	omc_err err = a->io->read(a->io->ctx, arb_name[i], &data, &len);
	if (err == OMC_ERR_NOT_FOUND) {
		s->state = SLOT_ABSENT;
		return OMC_OK;
	}
	OMC_TRY(err);
	err = arb_decode(s, a->k_arb, data, len);
	omc_free(data);
	if (err == OMC_ERR_CORRUPT || err == OMC_ERR_TRUNCATED) {
		memset(s, 0, sizeof *s);
		s->state = SLOT_INVALID;
		return OMC_OK;
	}
	OMC_TRY(err);
	s->state = SLOT_VALID;
	return OMC_OK;
}

/* Both slots; *cur is the index of the newest valid one. */
static omc_err read_both(const ard_sw *a, arb_slot s[2], unsigned *cur)
{
	OMC_TRY(read_slot(a, 0, &s[0]));
	OMC_TRY(read_slot(a, 1, &s[1]));
	if (s[0].state == SLOT_ABSENT && s[1].state == SLOT_ABSENT)
		OMC_BAIL(OMC_ERR_NOT_FOUND);
	OMC_ENSURE(s[0].state == SLOT_VALID || s[1].state == SLOT_VALID, OMC_ERR_CORRUPT);
	if (s[0].state != SLOT_VALID)
		*cur = 1;
	else if (s[1].state != SLOT_VALID)
		*cur = 0;
	else if (s[0].gen != s[1].gen)
		*cur = s[1].gen > s[0].gen ? 1 : 0;
	else /* equal gens are never written; a copy: take the higher counter */
		*cur = s[1].counter > s[0].counter ? 1 : 0;
	return OMC_OK;
}

static omc_err write_state(ard_sw *a, uint64_t counter, uint32_t flags)
{
	arb_slot s[2];
	unsigned cur = 0;
	OMC_TRY(read_both(a, s, &cur));
	OMC_ENSURE(s[cur].gen < UINT64_MAX, OMC_ERR_EXHAUSTED);
	const unsigned dst = 1u - cur;
	uint8_t rec[OMC_ST_ARB_LEN];
	OMC_TRY(arb_encode(rec, a->k_arb, s[cur].gen + 1, counter, flags));
	OMC_TRY(a->io->pwrite(a->io->ctx, arb_name[dst], 0, rec, sizeof rec));
	OMC_TRY(a->io->sync(a->io->ctx, arb_name[dst]));
	/* A slot file created just now needs its name made durable too. */
	if (s[dst].state == SLOT_ABSENT)
		OMC_TRY(a->io->sync_dir(a->io->ctx, ""));
	return OMC_OK;
}

static omc_err sw_read(void *ctx, uint64_t *counter, uint32_t *flags)
{
	const ard_sw *a = ctx;
	arb_slot s[2];
	unsigned cur = 0;
	OMC_TRY(read_both(a, s, &cur));
	*counter = s[cur].counter;
	*flags = s[cur].flags;
	return OMC_OK;
}

static omc_err sw_advance(void *ctx, uint64_t value)
{
	uint64_t counter;
	uint32_t flags;
	OMC_TRY(sw_read(ctx, &counter, &flags));
	OMC_ENSURE(value > counter, OMC_ERR_BAD_ARG);
	return write_state(ctx, value, flags);
}

static omc_err sw_set_flags(void *ctx, uint32_t bits)
{
	uint64_t counter;
	uint32_t flags;
	OMC_TRY(sw_read(ctx, &counter, &flags));
	if ((flags | bits) == flags)
		return OMC_OK; /* already durable */
	return write_state(ctx, counter, flags | bits);
}

static omc_err sw_clear_flags(void *ctx, uint32_t bits)
{
	uint64_t counter;
	uint32_t flags;
	OMC_TRY(sw_read(ctx, &counter, &flags));
	if ((flags & ~bits) == flags)
		return OMC_OK;
	return write_state(ctx, counter, flags & ~bits);
}

/* arb.a at gen 1, counter 0, through a temporary file so that a power cut
 * never leaves a present-but-invalid device (which would read as corrupt). */
static omc_err create(ard_sw *a)
{
	uint8_t rec[OMC_ST_ARB_LEN];
	OMC_TRY(arb_encode(rec, a->k_arb, 1, 0, 0));
	OMC_TRY(a->io->pwrite(a->io->ctx, ARB_TMP, 0, rec, sizeof rec));
	OMC_TRY(a->io->sync(a->io->ctx, ARB_TMP));
	OMC_TRY(a->io->rename(a->io->ctx, ARB_TMP, arb_name[0]));
	OMC_TRY(a->io->sync_dir(a->io->ctx, ""));
	return OMC_OK;
}

static omc_err sw_init(ard_sw *a, bool create_if_absent)
{
	/* A temporary file is a creation a power cut interrupted: drop it. */
	omc_err err = a->io->exists(a->io->ctx, ARB_TMP);
	if (err == OMC_OK)
		err = a->io->unlink(a->io->ctx, ARB_TMP);
	OMC_ENSURE(err == OMC_OK || err == OMC_ERR_NOT_FOUND, err);
	if (!create_if_absent)
		return OMC_OK;
	bool absent[2];
	for (unsigned i = 0; i < 2; i++) {
		err = a->io->exists(a->io->ctx, arb_name[i]);
		OMC_ENSURE(err == OMC_OK || err == OMC_ERR_NOT_FOUND, err);
		absent[i] = err == OMC_ERR_NOT_FOUND;
	}
	if (absent[0] && absent[1])
		OMC_TRY(create(a));
	return OMC_OK;
}

omc_err omc_store_ard_sw_new(omc_store_ard **ard, omc_store_io *io, const uint8_t root_key[OMC_ST_KEY_LEN],
			     bool create_if_absent)
{
	OMC_ENSURE(ard != NULL && io != NULL && root_key != NULL, OMC_ERR_BAD_ARG);
	ard_sw *a = omc_calloc(1, sizeof *a);
	OMC_ENSURE(a != NULL, OMC_ERR_NOMEM);
	a->io = io;
	a->ard = (omc_store_ard){
		.read = sw_read,
		.advance = sw_advance,
		.set_flags = sw_set_flags,
		.clear_flags = sw_clear_flags,
		.ctx = a,
	};
	omc_err err = omc_st_derive(a->k_arb, root_key, OMC_ST_INFO_ARB);
	if (err == OMC_OK)
		err = sw_init(a, create_if_absent);
	if (err != OMC_OK) {
		omc_free(a); /* wipes K_arb */
		return err;
	}
	*ard = &a->ard;
	return OMC_OK;
}

void omc_store_ard_sw_free(omc_store_ard *ard)
{
	if (ard == NULL)
		return;
	omc_free(ard->ctx); /* the ard_sw that contains ard; wipes K_arb */
}
