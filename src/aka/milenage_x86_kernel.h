/* The MILENAGE batch kernel, written once for any x86 vector width.
 *
 * Included by milenage_x86_aesni.c (V = __m128i, one subscriber per vector)
 * and milenage_x86_vaes.c (V = __m512i, four subscribers per vector: VAES
 * runs an independent AES round in each 128-bit lane, each with its own
 * round key). The includer defines:
 *
 *   V, LANES (subscribers per vector), G (vectors interleaved),
 *   V_LOAD(p), V_STORE(p, v)   aligned load/store of LANES*16 bytes
 *   V_XOR(a, b), V_AND(a, b)
 *   V_ENC(x, k), V_ENCLAST(x, k)  one AES round in every lane
 *   V_SHUF(x, m)               byte shuffle within every lane
 *   V_SLL4(x), V_SLL8(x)       shift left by 4 and 8 bytes within every lane
 *   V_BCAST(p)                 16 bytes repeated in every lane
 *   V_SET32(w)                 32-bit w in every dword
 *   KERNEL                     the batch function's name
 *   AES_ECB                    the name of a plain AES-128 ECB function on
 *                              the same key schedule (for the test that
 *                              checks it block for block against OpenSSL)
 *
 * Key expansion (FIPS 197 5.2) uses no AESKEYGENASSIST: RotWord of the last
 * word is broadcast to all four columns by a shuffle, and AESENCLAST with
 * Rcon as the round key then gives SubWord(RotWord(w3)) xor Rcon in every
 * column (ShiftRows moves nothing when the columns are equal). This keeps
 * the schedule in vector registers, one independent schedule per lane.
 *
 * Data flow per group of LANES * G subscribers (TS 35.206 4.1):
 *   TEMP is computed while the key schedule is produced, round by round;
 *   then OUT1..OUT4 (f1, f2/f5, f3, f4) are encrypted together. OUT5 (f5*)
 *   is not part of a vector and is not computed. */

#include <string.h>

#define BLK (LANES * 16)
#define GROUP (LANES * G)

typedef struct {
	_Alignas(64) uint8_t k[G][BLK];
	_Alignas(64) uint8_t opc[G][BLK];
	_Alignas(64) uint8_t rand[G][BLK];
	_Alignas(64) uint8_t sa[G][BLK]; /* SQN || AMF || SQN || AMF = IN1 */
	_Alignas(64) uint8_t out[4][G][BLK];
	V rk[G][11];
} kernel_work;

static const uint8_t rcon[11] = {0, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36};

/* Shuffle mask for a rotation by r bits (r a multiple of 8) towards the most
 * significant bit: byte i of the result is byte (i + r/8) mod 16. */
static V rot_mask(unsigned r)
{
	_Alignas(64) uint8_t m[BLK];
	for (unsigned l = 0; l < LANES; l++)
		for (unsigned i = 0; i < 16; i++)
			m[16 * l + i] = (uint8_t)((i + r / 8) % 16);
	return V_LOAD(m);
}

/* RotWord(w3) into all four columns: bytes 13, 14, 15, 12. */
static V rotword_mask(void)
{
	_Alignas(64) uint8_t rw[BLK];
	for (unsigned l = 0; l < LANES; l++)
		for (unsigned i = 0; i < 16; i++)
			rw[16 * l + i] = (uint8_t)(12 + (i + 1) % 4);
	return V_LOAD(rw);
}

/* Round key r from round key r - 1, in every lane. */
static inline V expand_next(V key, V rotword, unsigned r)
{
	V t = V_ENCLAST(V_SHUF(key, rotword), V_SET32(rcon[r]));
	key = V_XOR(key, V_SLL4(key));
	key = V_XOR(key, V_SLL8(key));
	return V_XOR(key, t);
}

static void kernel_group(kernel_work *w, const omc_aka_milenage_consts *c)
{
	const V rotword = rotword_mask();
	V key[G], x[G], opc[G];

	for (unsigned g = 0; g < G; g++) {
		key[g] = V_LOAD(w->k[g]);
		opc[g] = V_LOAD(w->opc[g]);
		w->rk[g][0] = key[g];
		x[g] = V_XOR(V_XOR(V_LOAD(w->rand[g]), opc[g]), key[g]);
	}
	for (unsigned r = 1; r <= 10; r++) {
		for (unsigned g = 0; g < G; g++) {
			key[g] = expand_next(key[g], rotword, r);
			w->rk[g][r] = key[g];
			x[g] = r < 10 ? V_ENC(x[g], key[g]) : V_ENCLAST(x[g], key[g]);
		}
	}

	/* x = TEMP. The four blocks per vector of OUT1..OUT4. */
	V b[4][G];
	V cm[4], cc[4];
	for (unsigned i = 0; i < 4; i++) {
		cm[i] = rot_mask(c->r[i]);
		cc[i] = V_BCAST(c->c[i]);
	}
	for (unsigned g = 0; g < G; g++) {
		V t = V_XOR(x[g], opc[g]);
		V in1 = V_XOR(V_LOAD(w->sa[g]), opc[g]);
		b[0][g] = V_XOR(V_XOR(V_SHUF(in1, cm[0]), x[g]), cc[0]);
		for (unsigned i = 1; i < 4; i++)
			b[i][g] = V_XOR(V_SHUF(t, cm[i]), cc[i]);
		for (unsigned i = 0; i < 4; i++)
			b[i][g] = V_XOR(b[i][g], w->rk[g][0]);
	}
	for (unsigned r = 1; r < 10; r++)
		for (unsigned g = 0; g < G; g++) {
			V k = w->rk[g][r];
			for (unsigned i = 0; i < 4; i++)
				b[i][g] = V_ENC(b[i][g], k);
		}
	for (unsigned g = 0; g < G; g++) {
		V k = w->rk[g][10];
		for (unsigned i = 0; i < 4; i++)
			V_STORE(w->out[i][g], V_XOR(V_ENCLAST(b[i][g], k), opc[g]));
	}
	omc_memzero(key, sizeof key);
	omc_memzero(x, sizeof x);
	omc_memzero(b, sizeof b);
}

void KERNEL(omc_aka_milenage_batch_out *out, const omc_aka_milenage_batch_in *in, size_t n,
	    const omc_aka_milenage_consts *c)
{
	kernel_work w;
	for (size_t base = 0; base < n; base += GROUP) {
		size_t m = n - base < GROUP ? n - base : GROUP;
		if (m < GROUP)
			memset(&w, 0, sizeof w);
		for (size_t j = 0; j < m; j++) {
			const omc_aka_milenage_batch_in *s = &in[base + j];
			size_t g = j / LANES, o = 16 * (j % LANES);
			memcpy(w.k[g] + o, s->k, 16);
			memcpy(w.opc[g] + o, s->opc, 16);
			memcpy(w.rand[g] + o, s->rand, 16);
			memcpy(w.sa[g] + o, s->sqn, 6);
			memcpy(w.sa[g] + o + 6, s->amf, 2);
			memcpy(w.sa[g] + o + 8, w.sa[g] + o, 8);
		}
		kernel_group(&w, c);
		for (size_t j = 0; j < m; j++) {
			omc_aka_milenage_batch_out *d = &out[base + j];
			const omc_aka_milenage_batch_in *s = &in[base + j];
			size_t g = j / LANES, o = 16 * (j % LANES);
			const uint8_t *o1 = w.out[0][g] + o, *o2 = w.out[1][g] + o;
			memcpy(d->xres, o2 + 8, 8);
			memcpy(d->ck, w.out[2][g] + o, 16);
			memcpy(d->ik, w.out[3][g] + o, 16);
			for (int i = 0; i < 6; i++)
				d->autn[i] = (uint8_t)(s->sqn[i] ^ o2[i]);
			memcpy(d->autn + 6, s->amf, 2);
			memcpy(d->autn + 8, o1, 8);
		}
	}
	omc_memzero(&w, sizeof w);
}

void AES_ECB(uint8_t *out, const uint8_t key[16], const uint8_t *in, size_t nblocks)
{
	const V rotword = rotword_mask();
	V rk[11];
	_Alignas(64) uint8_t buf[BLK];
	rk[0] = V_BCAST(key);
	for (unsigned r = 1; r <= 10; r++)
		rk[r] = expand_next(rk[r - 1], rotword, r);
	for (size_t b = 0; b < nblocks; b += LANES) {
		size_t m = nblocks - b < LANES ? nblocks - b : LANES;
		memset(buf, 0, sizeof buf);
		memcpy(buf, in + 16 * b, 16 * m);
		V x = V_XOR(V_LOAD(buf), rk[0]);
		for (unsigned r = 1; r < 10; r++)
			x = V_ENC(x, rk[r]);
		V_STORE(buf, V_ENCLAST(x, rk[10]));
		memcpy(out + 16 * b, buf, 16 * m);
	}
	omc_memzero(rk, sizeof rk);
	omc_memzero(buf, sizeof buf);
}
