/* SQN management, TS 33.102 Annex C.
 *
 * SQN (48 bits) = SEQ || IND, IND the ind_bits least significant bits
 * (C.1.1.1; 5 bits recommended).
 *
 * USIM (C.2): an array SEQ_MS(0..2^ind_bits - 1), all 0 at first. A received
 * SQN with SEQ and IND = i is accepted only if, in this order:
 *   C.2.1  SEQ - SEQ_MS <= Δ            (SEQ_MS the highest entry; wrap-around
 *                                         protection, Δ = 2^28 by default)
 *   C.2.2  SEQ_MS - SEQ < L              (only if the age limit L is set)
 *   C.2.2  SEQ > SEQ_MS(i)               (then SEQ_MS(i) := SEQ)
 * Signed comparisons: SEQ below SEQ_MS passes the Δ test.
 *
 * AuC (C.1.1.2, not time-based; C.1.2 IND allocation): SEQ_HE counts up by
 * one per vector and IND cycles through 0..2^ind_bits - 1, so that vectors
 * handed to different serving nodes land in different array entries. SEQ_HE
 * must never wrap (C.2.1). */
#include <string.h>

#include "aka/aka_internal.h"

static uint64_t seq_max(unsigned ind_bits)
{
	return (UINT64_C(1) << (48 - ind_bits)) - 1;
}

omc_err omc_aka_sqn_ms_init(omc_aka_sqn_ms *s, unsigned ind_bits, uint64_t delta, uint64_t age_limit)
{
	OMC_ENSURE(ind_bits <= OMC_AKA_IND_BITS_MAX, OMC_ERR_BAD_ARG);
	memset(s, 0, sizeof *s);
	s->ind_bits = (uint8_t)ind_bits;
	s->delta = delta ? delta : OMC_AKA_SEQ_DELTA_DEFAULT;
	s->age_limit = age_limit;
	return OMC_OK;
}

static unsigned ms_entries(const omc_aka_sqn_ms *s)
{
	return 1u << (s->ind_bits <= OMC_AKA_IND_BITS_MAX ? s->ind_bits : OMC_AKA_IND_BITS_MAX);
}

/* Index of the entry holding the highest SQN: the highest SEQ, and among
 * equal SEQ the highest IND. */
static unsigned ms_highest(const omc_aka_sqn_ms *s)
{
	unsigned best = 0;
	for (unsigned i = 1; i < ms_entries(s); i++)
		if (s->seq[i] >= s->seq[best])
			best = i;
	return best;
}

uint64_t omc_aka_sqn_ms_highest_seq(const omc_aka_sqn_ms *s)
{
	return s->seq[ms_highest(s)];
}

uint64_t omc_aka_sqn_ms_sqn(const omc_aka_sqn_ms *s)
{
	/* "The highest previously accepted sequence number anywhere in the
	 * array" (C.2.2): that SEQ with the IND it was accepted under. */
	unsigned i = ms_highest(s);
	if (s->seq[i] == 0)
		return 0; /* nothing accepted yet */
	return (s->seq[i] << s->ind_bits) | i;
}

omc_err omc_aka_sqn_ms_set_floor(omc_aka_sqn_ms *s, uint64_t sqn)
{
	OMC_ENSURE(sqn >> 48 == 0 && s->ind_bits <= OMC_AKA_IND_BITS_MAX, OMC_ERR_BAD_ARG);
	uint64_t seq = sqn >> s->ind_bits;
	unsigned ind = (unsigned)(sqn & ((UINT64_C(1) << s->ind_bits) - 1));
	/* SQN = seq || i is acceptable iff seq > SEQ_MS(i): entries up to IND
	 * hold SEQ, the ones above SEQ - 1, so exactly SQN > sqn passes. */
	for (unsigned i = 0; i < ms_entries(s); i++)
		s->seq[i] = i <= ind ? seq : (seq ? seq - 1 : 0);
	return OMC_OK;
}

bool omc_aka_sqn_ms_acceptable(const omc_aka_sqn_ms *s, uint64_t sqn)
{
	if (sqn >> 48 || s->ind_bits > OMC_AKA_IND_BITS_MAX)
		return false;
	uint64_t seq = sqn >> s->ind_bits;
	unsigned ind = (unsigned)(sqn & ((UINT64_C(1) << s->ind_bits) - 1));
	uint64_t hi = omc_aka_sqn_ms_highest_seq(s);
	/* C.2.1: SEQ - SEQ_MS <= Δ (only matters when SEQ is above SEQ_MS). */
	if (seq > hi && seq - hi > s->delta)
		return false;
	/* C.2.2: optional age limit, SEQ_MS - SEQ < L. */
	if (s->age_limit && seq < hi && hi - seq >= s->age_limit)
		return false;
	/* C.2.2 (a)/(b). */
	return seq > s->seq[ind];
}

omc_err omc_aka_sqn_ms_accept(omc_aka_sqn_ms *s, uint64_t sqn)
{
	OMC_ENSURE(omc_aka_sqn_ms_acceptable(s, sqn), OMC_ERR_SYNC_FAILURE);
	s->seq[sqn & ((UINT64_C(1) << s->ind_bits) - 1)] = sqn >> s->ind_bits;
	return OMC_OK;
}

omc_err omc_aka_sqn_he_init(omc_aka_sqn_he *s, unsigned ind_bits, uint64_t seq)
{
	OMC_ENSURE(ind_bits <= OMC_AKA_IND_BITS_MAX, OMC_ERR_BAD_ARG);
	OMC_ENSURE(seq <= seq_max(ind_bits), OMC_ERR_BAD_ARG);
	s->ind_bits = (uint8_t)ind_bits;
	s->seq = seq;
	s->next_ind = 0;
	return OMC_OK;
}

omc_err omc_aka_sqn_he_reserve(uint64_t *first_seq, omc_aka_sqn_he *s, uint64_t count)
{
	OMC_ENSURE(s->ind_bits <= OMC_AKA_IND_BITS_MAX && count >= 1, OMC_ERR_BAD_ARG);
	uint64_t max = seq_max(s->ind_bits);
	OMC_ENSURE(s->seq <= max && count <= max - s->seq, OMC_ERR_EXHAUSTED);
	*first_seq = s->seq + 1;
	s->seq += count;
	return OMC_OK;
}

omc_err omc_aka_sqn_he_next(uint8_t sqn[6], omc_aka_sqn_he *s)
{
	uint64_t seq;
	OMC_TRY(omc_aka_sqn_he_reserve(&seq, s, 1));
	uint32_t ind = s->next_ind & ((1u << s->ind_bits) - 1u);
	s->next_ind = (ind + 1u) & ((1u << s->ind_bits) - 1u);
	omc_store_be48(sqn, (seq << s->ind_bits) | ind);
	return OMC_OK;
}
