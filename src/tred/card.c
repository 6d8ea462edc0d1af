/* The MCIM as a UICC (see include/openmcim/unstable/card.h, docs/card.md).
 *
 * TS 102 221 (UICC: SELECT, READ BINARY/RECORD, GET RESPONSE, STATUS,
 * FCP), TS 31.102 (USIM: ADF, EF_IMSI, EF_AD, EF_UST, EF_EPSLOCI,
 * AUTHENTICATE in 3G context, 7.1.2), TS 31.103 (ISIM: EF_IMPI, EF_DOMAIN,
 * EF_IMPU). Every file's content is made on demand from the profile; the
 * only secret bytes the card holds are RES/CK/IK/Kc/AUTS between
 * AUTHENTICATE and GET RESPONSE, wiped as soon as they are read or
 * replaced. Sans-I/O: bytes in, bytes out. */
#include <stdio.h>
#include <string.h>

#include "openmcim/unstable/card.h"
#include "util/util_internal.h"

enum { APP_NONE = 0, APP_USIM = 1, APP_ISIM = 2 };
enum { EF_TRANSPARENT = 1, EF_LINEAR = 2 };

#define SW(a, b) (((unsigned)(a) << 8) | (unsigned)(b))
#define SW_OK SW(0x90, 0x00)
#define SW_WRONG_LENGTH SW(0x67, 0x00)
#define SW_NO_CHANNEL SW(0x68, 0x81)
#define SW_INCOMPATIBLE SW(0x69, 0x81)
#define SW_NO_REF_DATA SW(0x69, 0x84)
#define SW_CONDITIONS SW(0x69, 0x85)
#define SW_NO_EF SW(0x69, 0x86)
#define SW_BAD_DATA SW(0x6A, 0x80)
#define SW_NOT_FOUND SW(0x6A, 0x82)
#define SW_NO_RECORD SW(0x6A, 0x83)
#define SW_BAD_P1P2 SW(0x6A, 0x86)
#define SW_BAD_OFFSET SW(0x6B, 0x00)
#define SW_BAD_INS SW(0x6D, 0x00)
#define SW_BAD_CLA SW(0x6E, 0x00)
#define SW_AUTH_MAC SW(0x98, 0x62) /* TS 31.102 7.3: authentication error, incorrect MAC */

/* TS 101 220 annex E: RID A000000087, PIX 1002 (USIM) / 1004 (ISIM),
 * then country FF, application provider FFFFFF89, provider field. */
static const uint8_t aid_usim[16] = {0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02, 0xFF,
				     0xFF, 0xFF, 0xFF, 0x89, 0x06, 0x19, 0x00, 0x01};
static const uint8_t aid_isim[16] = {0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x04, 0xFF,
				     0xFF, 0xFF, 0xFF, 0x89, 0x06, 0x19, 0x00, 0x01};
#define AID_MIN_PARTIAL 7 /* RID + PIX application code: a partial DF name selects */

/* The files: where each one lives, its FID and short file identifier. */
typedef struct ef_row {
	uint8_t app; /* APP_NONE: under the MF */
	uint16_t fid;
	uint8_t sfi; /* 0: none */
	uint8_t kind;
} ef_row;

static const ef_row ef_table[] = {
	{.app = APP_NONE, .fid = 0x2F00, .sfi = 0x1E, .kind = EF_LINEAR},      /* EF_DIR */
	{.app = APP_NONE, .fid = 0x2FE2, .sfi = 0x02, .kind = EF_TRANSPARENT}, /* EF_ICCID */
	{.app = APP_USIM, .fid = 0x6F07, .sfi = 0x07, .kind = EF_TRANSPARENT}, /* EF_IMSI */
	{.app = APP_USIM, .fid = 0x6FAD, .sfi = 0x03, .kind = EF_TRANSPARENT}, /* EF_AD */
	{.app = APP_USIM, .fid = 0x6F38, .sfi = 0x04, .kind = EF_TRANSPARENT}, /* EF_UST */
	{.app = APP_USIM, .fid = 0x6F78, .sfi = 0x06, .kind = EF_TRANSPARENT}, /* EF_ACC */
	{.app = APP_USIM, .fid = 0x6F08, .sfi = 0x08, .kind = EF_TRANSPARENT}, /* EF_Keys */
	{.app = APP_USIM, .fid = 0x6F09, .sfi = 0x09, .kind = EF_TRANSPARENT}, /* EF_KeysPS */
	{.app = APP_USIM, .fid = 0x6FE3, .sfi = 0x1E, .kind = EF_TRANSPARENT}, /* EF_EPSLOCI */
	{.app = APP_ISIM, .fid = 0x6F02, .sfi = 0x02, .kind = EF_TRANSPARENT}, /* EF_IMPI */
	{.app = APP_ISIM, .fid = 0x6F03, .sfi = 0x05, .kind = EF_TRANSPARENT}, /* EF_DOMAIN */
	{.app = APP_ISIM, .fid = 0x6F04, .sfi = 0x04, .kind = EF_LINEAR},      /* EF_IMPU */
	{.app = APP_ISIM, .fid = 0x6FAD, .sfi = 0x03, .kind = EF_TRANSPARENT}, /* EF_AD */
	{.app = APP_ISIM, .fid = 0x6F07, .sfi = 0x07, .kind = EF_TRANSPARENT}, /* EF_IST */
};

/* One file's content: all its records for a linear fixed EF. */
typedef struct ef_body {
	uint8_t data[256];
	size_t len;
	size_t rec_len, n_rec; /* EF_LINEAR */
} ef_body;

static const ef_row *ef_find(uint8_t app, uint16_t fid, uint8_t sfi)
{
	for (size_t i = 0; i < sizeof ef_table / sizeof ef_table[0]; i++) {
		const ef_row *r = &ef_table[i];
		if (r->app != app)
			continue;
		if ((fid && r->fid == fid) || (!fid && sfi && r->sfi == sfi))
			return r;
	}
	return NULL;
}

/* --- the profile -------------------------------------------------------------------------- */

static bool digits(const char *s, size_t lo, size_t hi)
{
	size_t n = strnlen(s, hi + 1);
	if (n < lo || n > hi)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* ISO/IEC 7812 check digit over s[0..n). */
static char luhn(const char *s, size_t n)
{
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[n - 1 - i] - '0');
		if (i % 2 == 0) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return (char)('0' + (10 - sum % 10) % 10);
}

omc_err omc_card_init(omc_card *c, const omc_card_profile *p, omc_card_auth_fn auth, void *auth_ctx)
{
	OMC_ENSURE(digits(p->imsi, 6, 15), OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(p->mnc_len == 2 || p->mnc_len == 3, OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(!p->iccid[0] || digits(p->iccid, 10, 20), OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(memchr(p->impi, 0, sizeof p->impi) && memchr(p->impu, 0, sizeof p->impu), OMC_ERR_BAD_FORMAT);
	memset(c, 0, sizeof *c);
	c->p = *p;
	c->auth = auth;
	c->auth_ctx = auth_ctx;
	if (!c->p.iccid[0]) {
		/* 89 (telecom), then the IMSI, zeros to 19 digits, a Luhn digit. */
		char d[21];
		size_t il = strlen(p->imsi);
		memcpy(d, "89", 2);
		memcpy(d + 2, p->imsi, il);
		memset(d + 2 + il, '0', 17 - il);
		d[19] = luhn(d, 19);
		d[20] = 0;
		memcpy(c->p.iccid, d, sizeof d);
	}
	if (p->isim && !c->p.impi[0]) {
		/* TS 23.003 13.3: the private identity derived from the IMSI. */
		char mnc[4] = {0};
		memcpy(mnc, p->imsi + 3, p->mnc_len);
		int n = snprintf(c->p.impi, sizeof c->p.impi, "%s@ims.mnc%s%s.mcc%.3s.3gppnetwork.org", p->imsi,
				 p->mnc_len == 2 ? "0" : "", mnc, p->imsi);
		OMC_ENSURE(n > 0 && (size_t)n < sizeof c->p.impi, OMC_ERR_BUG);
	}
	if (p->isim && !c->p.impu[0]) {
		/* TS 23.003 13.4B: the temporary public identity is sip:IMPI. */
		int n = snprintf(c->p.impu, sizeof c->p.impu, "sip:%s", c->p.impi);
		OMC_ENSURE(n > 0 && (size_t)n < sizeof c->p.impu, OMC_ERR_BAD_FORMAT);
	}
	omc_card_reset(c);
	return OMC_OK;
}

void omc_card_reset(omc_card *c)
{
	c->app = APP_NONE;
	c->df = 0x3F00;
	c->ef = 0;
	omc_memzero(c->resp, sizeof c->resp);
	c->resp_len = 0;
}

void omc_card_wipe(omc_card *c)
{
	if (c)
		omc_memzero(c, sizeof *c);
}

size_t omc_card_atr(uint8_t out[OMC_CARD_MAX_ATR])
{
	/* TS 3B direct; T0 9F: TA1 TD1, 15 historical bytes; TA1 11 (Fi/Di
	 * default); TD1 80: TD2, T=0; TD2 1F: TA3, T=15; TA3 C7: clock stop,
	 * classes A, B, C (TS 102 221 6.3.3); the historical bytes of a
	 * UICC (category 80, card service data 31 E0, capabilities 73 FE 21
	 * 1B ..., status 9000); TCK. */
	static const uint8_t atr[] = {0x3B, 0x9F, 0x11, 0x80, 0x1F, 0xC7, 0x80, 0x31, 0xE0, 0x73, 0xFE,
				      0x21, 0x1B, 0x63, 0x3A, 0x20, 0x4E, 0x83, 0x00, 0x90, 0x00};
	uint8_t tck = 0;
	for (size_t i = 1; i < sizeof atr; i++)
		tck ^= atr[i];
	memcpy(out, atr, sizeof atr);
	out[sizeof atr] = tck;
	return sizeof atr + 1;
}

/* --- file contents ------------------------------------------------------------------------ */

/* Digits as swapped-nibble BCD (TS 102 221 13.2, TS 31.102 4.2.2), F
 * filler, into out[0..n). */
static void bcd(uint8_t *out, size_t n, const char *dig, uint8_t first_low, bool has_first)
{
	memset(out, 0xFF, n);
	size_t nib = 0, dl = strlen(dig);
	if (has_first)
		out[0] = (uint8_t)(0xF0 | first_low), nib = 1;
	for (size_t i = 0; i < dl && nib / 2 < n; i++, nib++) {
		uint8_t d = (uint8_t)(dig[i] - '0');
		if (nib % 2 == 0)
			out[nib / 2] = (uint8_t)(0xF0 | d);
		else
			out[nib / 2] = (uint8_t)((out[nib / 2] & 0x0F) | (d << 4));
	}
}

/* A 0x80-tagged NAI or URI TLV (TS 31.103 4.2.2-4.2.4). */
static void uri_tlv(ef_body *b, const char *s)
{
	size_t n = strlen(s);
	b->data[0] = 0x80;
	b->data[1] = (uint8_t)n;
	memcpy(b->data + 2, s, n);
	b->len = n + 2;
}

static void dir_record(uint8_t rec[32], const uint8_t aid[16], const char *label)
{
	memset(rec, 0xFF, 32);
	size_t ll = strlen(label);
	rec[0] = 0x61; /* application template */
	rec[1] = (uint8_t)(2 + 16 + 2 + ll);
	rec[2] = 0x4F;
	rec[3] = 16;
	memcpy(rec + 4, aid, 16);
	rec[20] = 0x50;
	rec[21] = (uint8_t)ll;
	memcpy(rec + 22, label, ll);
}

static void ef_content(const omc_card *c, const ef_row *r, ef_body *b)
{
	memset(b, 0, sizeof *b);
	const omc_card_profile *p = &c->p;
	switch (r->app << 16 | r->fid) {
	case APP_NONE << 16 | 0x2F00:
		b->rec_len = 32;
		b->n_rec = p->isim ? 2 : 1;
		dir_record(b->data, aid_usim, "USIM");
		if (p->isim)
			dir_record(b->data + 32, aid_isim, "ISIM");
		b->len = b->rec_len * b->n_rec;
		break;
	case APP_NONE << 16 | 0x2FE2:
		b->len = 10;
		bcd(b->data, 10, p->iccid, 0, false);
		break;
	case APP_USIM << 16 | 0x6F07: {
		/* Length, then parity/type nibble 9 (odd) or 1 (even) and the digits. */
		size_t n = strlen(p->imsi);
		b->len = 9;
		memset(b->data, 0xFF, 9);
		b->data[0] = (uint8_t)((n + 2) / 2);
		bcd(b->data + 1, 8, p->imsi, n % 2 ? 0x9 : 0x1, true);
		break;
	}
	case APP_USIM << 16 | 0x6FAD:
	case APP_ISIM << 16 | 0x6FAD:
		/* UE operation mode normal, no OFM, MNC length (TS 31.102 4.2.18). */
		b->len = 4;
		b->data[3] = p->mnc_len;
		break;
	case APP_USIM << 16 | 0x6F38:
		/* Services: n°27 GSM access (Kc in AUTHENTICATE), n°85 EPS
		 * mobility management information (EF_EPSLOCI). */
		b->len = 11;
		b->data[3] = 0x04;
		b->data[10] = 0x10;
		break;
	case APP_USIM << 16 | 0x6F78: {
		/* Access class from the last IMSI digit (TS 22.011 4.2). */
		unsigned d = (unsigned)(p->imsi[strlen(p->imsi) - 1] - '0');
		b->len = 2;
		b->data[0] = (uint8_t)((1u << d) >> 8);
		b->data[1] = (uint8_t)(1u << d);
		break;
	}
	case APP_USIM << 16 | 0x6F08:
	case APP_USIM << 16 | 0x6F09:
		/* KSI 07: no key (TS 31.102 4.2.4). */
		b->len = 33;
		memset(b->data, 0xFF, 33);
		b->data[0] = 0x07;
		break;
	case APP_USIM << 16 | 0x6FE3:
		/* No GUTI, no TAI, EPS update status "not updated" (4.2.91). */
		b->len = 18;
		memset(b->data, 0xFF, 15); /* GUTI, the TAI's PLMN */
		b->data[15] = b->data[16] = 0x00; /* TAC */
		b->data[17] = 0x01;
		break;
	case APP_ISIM << 16 | 0x6F02:
		uri_tlv(b, p->impi);
		break;
	case APP_ISIM << 16 | 0x6F03: {
		const char *at = strchr(p->impi, '@');
		uri_tlv(b, at ? at + 1 : p->impi);
		break;
	}
	case APP_ISIM << 16 | 0x6F04:
		uri_tlv(b, p->impu);
		b->rec_len = b->len;
		b->n_rec = 1;
		break;
	case APP_ISIM << 16 | 0x6F07:
		b->len = 1; /* no ISIM service offered */
		break;
	default:
		break;
	}
}

/* --- FCP (TS 102 221 11.1.1.3) ------------------------------------------------------------ */

#define PUT(cur, ...)                                                        \
	do {                                                                 \
		static const uint8_t put_[] = {__VA_ARGS__};                \
		OMC_TRY(omc_cur_write((cur), put_, sizeof put_));           \
	} while (0)

static omc_err fcp(const omc_card *c, uint8_t *out, size_t cap, size_t *len)
{
	omc_cur w;
	omc_cur_rsv rsv;
	omc_cur_init_write(&w, out, cap);
	OMC_TRY(omc_cur_write_u8(&w, 0x62));
	OMC_TRY(omc_cur_reserve(&w, &rsv, 1));
	if (!c->ef) {
		PUT(&w, 0x82, 0x02, 0x78, 0x21); /* DF, shareable */
		OMC_TRY(omc_cur_write(&w, (const uint8_t[]){0x83, 0x02, (uint8_t)(c->df >> 8), (uint8_t)c->df}, 4));
		if (c->app) {
			OMC_TRY(omc_cur_write(&w, (const uint8_t[]){0x84, 16}, 2));
			OMC_TRY(omc_cur_write(&w, c->app == APP_USIM ? aid_usim : aid_isim, 16));
		}
		PUT(&w, 0x8A, 0x01, 0x05, 0x8B, 0x03, 0x6F, 0x06, 0x01);
		/* PIN status template: PS_DO 00, PIN1 (key reference 01) disabled. */
		PUT(&w, 0xC6, 0x06, 0x90, 0x01, 0x00, 0x83, 0x01, 0x01);
	} else {
		const ef_row *r = ef_find(c->app, c->ef, 0);
		if (!r)
			r = ef_find(APP_NONE, c->ef, 0);
		OMC_ENSURE(r != NULL, OMC_ERR_BUG);
		ef_body b;
		ef_content(c, r, &b);
		if (r->kind == EF_LINEAR)
			OMC_TRY(omc_cur_write(&w, (const uint8_t[]){0x82, 0x05, 0x42, 0x21, 0x00, (uint8_t)b.rec_len,
								    (uint8_t)b.n_rec}, 7));
		else
			PUT(&w, 0x82, 0x02, 0x41, 0x21);
		OMC_TRY(omc_cur_write(&w, (const uint8_t[]){0x83, 0x02, (uint8_t)(r->fid >> 8), (uint8_t)r->fid}, 4));
		PUT(&w, 0x8A, 0x01, 0x05, 0x8B, 0x03, 0x6F, 0x06, 0x01);
		OMC_TRY(omc_cur_write(&w, (const uint8_t[]){0x80, 0x02, (uint8_t)(b.len >> 8), (uint8_t)b.len}, 4));
		if (r->sfi)
			OMC_TRY(omc_cur_write(&w, (const uint8_t[]){0x88, 0x01, (uint8_t)(r->sfi << 3)}, 3));
	}
	OMC_TRY(omc_cur_fill_reservation(&w, &rsv));
	*len = omc_cur_remaining(&w);
	return OMC_OK;
}

/* --- commands ------------------------------------------------------------------------------- */

typedef struct apdu {
	uint8_t cla, ins, p1, p2;
	const uint8_t *data;
	size_t lc;
	size_t le; /* 0: none given (or 00: up to 256) */
} apdu;

/* Cases 1-4, short form (ISO/IEC 7816-3 12.1). */
static bool apdu_parse(apdu *a, const uint8_t *in, size_t len)
{
	omc_cur r;
	omc_cur_init_read(&r, in, len);
	if (omc_cur_read_u8(&r, &a->cla) || omc_cur_read_u8(&r, &a->ins) || omc_cur_read_u8(&r, &a->p1) ||
	    omc_cur_read_u8(&r, &a->p2))
		return false;
	a->data = NULL;
	a->lc = a->le = 0;
	uint8_t b;
	if (omc_cur_read_u8(&r, &b) != OMC_OK)
		return true; /* case 1 */
	if (omc_cur_remaining(&r) == 0) {
		a->le = b; /* case 2 */
		return true;
	}
	a->lc = b;
	if (a->lc == 0 || omc_cur_read_ptr(&r, &a->data, a->lc) != OMC_OK)
		return false;
	if (omc_cur_remaining(&r) == 1 && omc_cur_read_u8(&r, &b) == OMC_OK)
		a->le = b; /* case 4 */
	return omc_cur_remaining(&r) == 0;
}

/* Answer: the data and a status word. */
typedef struct answer {
	uint8_t *out;
	size_t cap, len;
} answer;

static void sw(answer *o, unsigned s)
{
	o->out[o->len++] = (uint8_t)(s >> 8);
	o->out[o->len++] = (uint8_t)s;
}

static void data_sw(answer *o, const uint8_t *d, size_t n, unsigned s)
{
	memcpy(o->out + o->len, d, n);
	o->len += n;
	sw(o, s);
}

/* Keep bytes for GET RESPONSE and say 61 xx (T=0 procedure). */
static void pend(omc_card *c, answer *o, const uint8_t *d, size_t n)
{
	memcpy(c->resp, d, n);
	c->resp_len = n;
	sw(o, SW(0x61, n & 0xFF));
}

static bool select_fid(omc_card *c, uint16_t fid)
{
	if (fid == 0x3F00) {
		c->df = 0x3F00;
		c->ef = 0;
		return true;
	}
	if (fid == 0x7FFF) {
		if (c->app == APP_NONE)
			return false;
		c->df = 0x7FFF;
		c->ef = 0;
		return true;
	}
	/* An EF of the current ADF, else one of the MF. */
	if ((c->df == 0x7FFF && ef_find(c->app, fid, 0)) || ef_find(APP_NONE, fid, 0)) {
		c->ef = fid;
		return true;
	}
	return false;
}

static void cmd_select(omc_card *c, const apdu *a, answer *o)
{
	if (a->p2 != 0x04 && a->p2 != 0x0C && a->p2 != 0x00)
		return sw(o, SW_BAD_P1P2);
	uint8_t app = c->app;
	uint16_t df = c->df, ef = c->ef;
	bool ok = false;
	switch (a->p1) {
	case 0x00: /* by file identifier */
		ok = a->lc == 2 && select_fid(c, (uint16_t)(a->data[0] << 8 | a->data[1]));
		break;
	case 0x04: /* by DF name: the USIM or ISIM AID, partial from RID + PIX code */
		if (a->lc >= AID_MIN_PARTIAL && a->lc <= 16) {
			if (!memcmp(a->data, aid_usim, a->lc))
				c->app = APP_USIM, ok = true;
			else if (c->p.isim && !memcmp(a->data, aid_isim, a->lc))
				c->app = APP_ISIM, ok = true;
			if (ok)
				c->df = 0x7FFF, c->ef = 0;
		}
		break;
	case 0x08: /* path from the MF */
	case 0x09: /* path from the current DF */
		if (a->lc >= 2 && a->lc % 2 == 0) {
			ok = a->p1 == 0x09 || select_fid(c, 0x3F00);
			for (size_t i = 0; ok && i < a->lc; i += 2)
				ok = !c->ef && select_fid(c, (uint16_t)(a->data[i] << 8 | a->data[i + 1]));
		}
		break;
	default:
		return sw(o, SW_BAD_P1P2);
	}
	if (!ok) {
		c->app = app, c->df = df, c->ef = ef;
		bool bad_len = a->lc == 0 || (a->p1 == 0x00 && a->lc != 2) || (a->p1 != 0x04 && a->lc % 2 != 0);
		return sw(o, bad_len ? SW_WRONG_LENGTH : SW_NOT_FOUND);
	}
	if (a->p2 == 0x0C)
		return sw(o, SW_OK);
	uint8_t f[128];
	size_t n;
	if (fcp(c, f, sizeof f, &n) != OMC_OK)
		return sw(o, SW(0x6F, 0x00));
	pend(c, o, f, n);
}

/* The EF a READ names: by SFI (P1 bit 8 for BINARY, P2 high bits for RECORD) or the current one. */
static const ef_row *target_ef(omc_card *c, uint8_t sfi, unsigned *status)
{
	const ef_row *r = NULL;
	if (sfi) {
		r = c->df == 0x7FFF ? ef_find(c->app, 0, sfi) : NULL;
		if (!r)
			r = ef_find(APP_NONE, 0, sfi);
		if (r)
			c->ef = r->fid;
	} else if (c->ef) {
		r = c->df == 0x7FFF ? ef_find(c->app, c->ef, 0) : NULL;
		if (!r)
			r = ef_find(APP_NONE, c->ef, 0);
	}
	*status = r ? SW_OK : sfi ? SW_NOT_FOUND : SW_NO_EF;
	return r;
}

static void cmd_read_binary(omc_card *c, const apdu *a, answer *o)
{
	if (a->lc)
		return sw(o, SW_WRONG_LENGTH);
	unsigned st;
	uint8_t sfi = a->p1 & 0x80 ? a->p1 & 0x1F : 0;
	const ef_row *r = target_ef(c, sfi, &st);
	if (!r)
		return sw(o, st);
	if (r->kind != EF_TRANSPARENT)
		return sw(o, SW_INCOMPATIBLE);
	size_t off = sfi ? a->p2 : (size_t)(a->p1 << 8 | a->p2);
	ef_body b;
	ef_content(c, r, &b);
	if (off >= b.len)
		return sw(o, SW_BAD_OFFSET);
	size_t avail = b.len - off, want = a->le ? a->le : 256;
	if (a->le && want > avail)
		return sw(o, SW(0x6C, avail));
	data_sw(o, b.data + off, want < avail ? want : avail, SW_OK);
}

static void cmd_read_record(omc_card *c, const apdu *a, answer *o)
{
	if (a->lc)
		return sw(o, SW_WRONG_LENGTH);
	if ((a->p2 & 0x07) != 0x04) /* absolute record number only */
		return sw(o, SW_BAD_P1P2);
	unsigned st;
	const ef_row *r = target_ef(c, (uint8_t)(a->p2 >> 3), &st);
	if (!r)
		return sw(o, st);
	if (r->kind != EF_LINEAR)
		return sw(o, SW_INCOMPATIBLE);
	ef_body b;
	ef_content(c, r, &b);
	if (a->p1 == 0 || a->p1 > b.n_rec)
		return sw(o, SW_NO_RECORD);
	if (a->le && a->le != b.rec_len)
		return sw(o, SW(0x6C, b.rec_len));
	data_sw(o, b.data + (a->p1 - 1) * b.rec_len, b.rec_len, SW_OK);
}

static void cmd_get_response(omc_card *c, const apdu *a, answer *o)
{
	if (a->p1 || a->p2)
		return sw(o, SW_BAD_P1P2);
	if (!c->resp_len)
		return sw(o, SW_CONDITIONS);
	if (a->le && a->le != c->resp_len)
		return sw(o, SW(0x6C, c->resp_len));
	data_sw(o, c->resp, c->resp_len, SW_OK);
	omc_memzero(c->resp, sizeof c->resp);
	c->resp_len = 0;
}

/* TS 31.102 7.1.2.1: AUTHENTICATE, 3G security context (P2 = 81):
 * data 10 RAND 10 AUTN; answer DB RES CK IK [Kc] (7.1.2.1 and the c3
 * conversion of TS 33.102 6.8.1.2), DC AUTS, or 98 62. */
static void cmd_authenticate(omc_card *c, const apdu *a, answer *o)
{
	if (a->p1 != 0x00 || a->p2 != 0x81)
		return sw(o, SW_BAD_P1P2);
	if (c->app == APP_NONE)
		return sw(o, SW_CONDITIONS);
	omc_cur r;
	omc_cur_init_read(&r, a->data, a->lc);
	uint8_t rl = 0, al = 0;
	const uint8_t *rnd = NULL, *autn = NULL;
	if (omc_cur_read_u8(&r, &rl) || rl != OMC_AKA_RAND_LEN || omc_cur_read_ptr(&r, &rnd, rl) ||
	    omc_cur_read_u8(&r, &al) || al < 16 || al > OMC_AKA_MAX_AUTN_LEN || omc_cur_read_ptr(&r, &autn, al) ||
	    omc_cur_expect_end(&r))
		return sw(o, a->lc ? SW_BAD_DATA : SW_WRONG_LENGTH);
	omc_aka_check_result res;
	OMC_DEFER_WIPE(res);
	if (c->auth(c->auth_ctx, rnd, autn, al, &res) != OMC_OK)
		return sw(o, SW_CONDITIONS);
	uint8_t buf[OMC_CARD_MAX_RAPDU];
	OMC_DEFER_WIPE(buf);
	omc_cur w;
	omc_cur_init_write(&w, buf, 255);
	omc_err e = OMC_OK;
	switch (res.status) {
	case OMC_AKA_STATUS_OK:
		e = omc_cur_write_u8(&w, 0xDB);
		e = e ? e : omc_cur_write_u8(&w, res.res_len);
		e = e ? e : omc_cur_write(&w, res.res, res.res_len);
		e = e ? e : omc_cur_write_u8(&w, res.ck_len);
		e = e ? e : omc_cur_write(&w, res.ck, res.ck_len);
		e = e ? e : omc_cur_write_u8(&w, res.ik_len);
		e = e ? e : omc_cur_write(&w, res.ik, res.ik_len);
		if (c->app == APP_USIM && res.ck_len == 16 && res.ik_len == 16) {
			uint8_t kc[8];
			for (size_t i = 0; i < 8; i++)
				kc[i] = (uint8_t)(res.ck[i] ^ res.ck[i + 8] ^ res.ik[i] ^ res.ik[i + 8]);
			e = e ? e : omc_cur_write_u8(&w, 8);
			e = e ? e : omc_cur_write(&w, kc, 8);
			OMC_WIPE(kc);
		}
		break;
	case OMC_AKA_STATUS_SYNC_FAILURE:
		e = omc_cur_write_u8(&w, 0xDC);
		e = e ? e : omc_cur_write_u8(&w, res.auts_len);
		e = e ? e : omc_cur_write(&w, res.auts, res.auts_len);
		break;
	default:
		return sw(o, SW_AUTH_MAC);
	}
	if (e != OMC_OK)
		return sw(o, SW(0x6F, 0x00));
	pend(c, o, buf, omc_cur_remaining(&w));
}

/* STATUS (TS 102 221 11.1.2): P2 0C no data; 00 the current DF's FCP. */
static void cmd_status(omc_card *c, const apdu *a, answer *o)
{
	if (a->p2 == 0x0C)
		return sw(o, SW_OK);
	if (a->p2 != 0x00)
		return sw(o, SW_BAD_P1P2);
	uint16_t ef = c->ef;
	c->ef = 0;
	uint8_t f[128];
	size_t n;
	omc_err e = fcp(c, f, sizeof f, &n);
	c->ef = ef;
	if (e != OMC_OK)
		return sw(o, SW(0x6F, 0x00));
	data_sw(o, f, n, SW_OK);
}

/* VERIFY PIN: PIN1 is disabled; a status query (no data) says so. */
static void cmd_verify(const apdu *a, answer *o)
{
	if (a->p1 != 0x00 || (a->p2 != 0x01 && a->p2 != 0x81))
		return sw(o, SW_BAD_P1P2);
	sw(o, a->lc ? SW_NO_REF_DATA : SW_OK);
}

omc_err omc_card_apdu(omc_card *c, uint8_t *out, size_t cap, size_t *out_len, const uint8_t *in, size_t len)
{
	OMC_ENSURE(cap >= OMC_CARD_MAX_RAPDU, OMC_ERR_BAD_ARG);
	OMC_ENSURE(len >= 4 && len <= OMC_CARD_MAX_APDU, OMC_ERR_BAD_LENGTH);
	answer o = {.out = out, .cap = cap, .len = 0};
	apdu a;
	bool parsed = apdu_parse(&a, in, len);
	if (!parsed || a.ins != 0xC0) {
		omc_memzero(c->resp, sizeof c->resp); /* T=0: the next command drops it */
		c->resp_len = 0;
	}
	if (!parsed)
		sw(&o, SW_WRONG_LENGTH);
	else if ((a.cla & 0x03) != 0)
		sw(&o, SW_NO_CHANNEL);
	else if ((a.cla & 0xF0) == 0x80 && a.ins == 0xF2)
		cmd_status(c, &a, &o);
	else if ((a.cla & 0xF0) != 0x00)
		sw(&o, SW_BAD_CLA); /* A0: a GSM SIM terminal; this card is a UICC only */
	else if (a.ins == 0xA4)
		cmd_select(c, &a, &o);
	else if (a.ins == 0xB0)
		cmd_read_binary(c, &a, &o);
	else if (a.ins == 0xB2)
		cmd_read_record(c, &a, &o);
	else if (a.ins == 0xC0)
		cmd_get_response(c, &a, &o);
	else if (a.ins == 0x88)
		cmd_authenticate(c, &a, &o);
	else if (a.ins == 0x20)
		cmd_verify(&a, &o);
	else
		sw(&o, SW_BAD_INS);
	*out_len = o.len;
	return OMC_OK;
}
