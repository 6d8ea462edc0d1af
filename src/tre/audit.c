/* Audit records (TRE-11, SEC-13): an append-only hash chain of JSON lines,
 * each also MACed with the TRE's audit key. Format in tre_internal.h:
 *
 *   body = {seq,time,event,actor,subject,result,detail}, jansson
 *          JSON_COMPACT | JSON_SORT_KEYS
 *   hash = SHA-256("omc/audit/v1" || prev || body)
 *   mac  = HMAC-SHA-256(k_audit, hash)
 *
 * The verifier is stricter than the format strictly needs, so that no byte
 * of a line can change without the change being reported:
 *   - a line is exactly the canonical serialisation of its ten fields (the
 *     same call that wrote it), so whitespace, key order, escapes and
 *     number spellings cannot vary; anything else is OMC_ERR_BAD_FORMAT;
 *   - hex is 64 lowercase digits (hex decoding accepts either case, and an
 *     'a' -> 'A' flip would otherwise decode to the same hash);
 *   - strings are printable ASCII of at most OMC_AUDIT_FIELD_MAX bytes;
 *   - a line with its '\n' is at most OMC_AUDIT_LINE_MAX bytes.
 * omc_audit_record truncates detail to OMC_AUDIT_FIELD_MAX bytes, and
 * further if the escaped line would not fit OMC_AUDIT_LINE_MAX (only
 * possible when fields are full of '"' or '\\'), so it never writes a line
 * the verifier refuses.
 *
 * Lines are found by offsets into the caller's buffer and read by a strict
 * parser that allocates nothing (see "parsing one line"); jansson writes
 * (records and the canonical check) but never reads. Running out of memory
 * is reported as OMC_ERR_NOMEM, never as a verdict on the log. */
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tre/tre_internal.h"

#define AUDIT_DOMAIN "omc/audit/v1"
#define AUDIT_HASH_LEN 32
#define AUDIT_HEX_LEN (2 * AUDIT_HASH_LEN)
#define AUDIT_DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)

/* One record's fields. The strings are borrowed: from the caller's event
 * when recording, from the parsed JSON object when verifying. */
typedef struct audit_rec {
	uint64_t seq;
	int64_t time;
	const char *event, *actor, *subject, *result;
	const char *detail;
	size_t detail_len; /* detail may be a prefix of a longer string */
	uint8_t prev[AUDIT_HASH_LEN];
	uint8_t hash[AUDIT_HASH_LEN];
	uint8_t mac[AUDIT_HASH_LEN];
} audit_rec;

/* --- field rules --------------------------------------------------------------- */

static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

/* Bytes jansson writes for printable ASCII s[0..n): '"' and '\\' are
 * escaped with a backslash, everything else is itself (no JSON_ESCAPE_SLASH). */
static size_t escaped_len(const char *s, size_t n)
{
	size_t e = 0;
	for (size_t i = 0; i < n; i++)
		e += (s[i] == '"' || s[i] == '\\') ? 2u : 1u;
	return e;
}

static bool valid_field(const char *s)
{
	if (!s)
		return false;
	size_t n = strnlen(s, OMC_AUDIT_FIELD_MAX + 1);
	return n <= OMC_AUDIT_FIELD_MAX && printable(s, n);
}

/* 64 lowercase hex digits into 32 bytes. */
static omc_err parse_hash_hex(uint8_t out[AUDIT_HASH_LEN], const char *s, size_t n)
{
	OMC_ENSURE(n == AUDIT_HEX_LEN, OMC_ERR_BAD_FORMAT);
	for (size_t i = 0; i < n; i++)
		OMC_ENSURE((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'), OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(omc_hex_decode(out, AUDIT_HASH_LEN, s, n) == OMC_OK, OMC_ERR_BAD_FORMAT);
	return OMC_OK;
}

/* --- serialisation --------------------------------------------------------------- */

static omc_err set_new(json_t *o, const char *key, json_t *v)
{
	/* json_object_set_new takes v even when it fails. */
	OMC_ENSURE(v != NULL && json_object_set_new(o, key, v) == 0, OMC_ERR_NOMEM);
	return OMC_OK;
}

static omc_err set_hash_hex(json_t *o, const char *key, const uint8_t b[AUDIT_HASH_LEN])
{
	char h[AUDIT_HEX_LEN + 1];
	OMC_TRY(omc_hex_encode(h, sizeof h, b, AUDIT_HASH_LEN));
	return set_new(o, key, json_stringn(h, AUDIT_HEX_LEN));
}

static omc_err fill_body(json_t *o, const audit_rec *r)
{
	OMC_ENSURE(r->seq <= (uint64_t)INT64_MAX, OMC_ERR_BAD_ARG);
	OMC_TRY(set_new(o, "seq", json_integer((json_int_t)r->seq)));
	OMC_TRY(set_new(o, "time", json_integer((json_int_t)r->time)));
	OMC_TRY(set_new(o, "event", json_string(r->event)));
	OMC_TRY(set_new(o, "actor", json_string(r->actor)));
	OMC_TRY(set_new(o, "subject", json_string(r->subject)));
	OMC_TRY(set_new(o, "result", json_string(r->result)));
	OMC_TRY(set_new(o, "detail", json_stringn(r->detail, r->detail_len)));
	return OMC_OK;
}

/* Serialise o into out[0..cap) without a NUL; *n gets the length.
 * OMC_ERR_NO_SPACE if it does not fit. */
static omc_err dump(char *out, size_t cap, size_t *n, const json_t *o)
{
	size_t need = json_dumpb(o, out, cap, AUDIT_DUMP_FLAGS);
	OMC_ENSURE(need != 0, OMC_ERR_NOMEM);
	OMC_ENSURE(need <= cap, OMC_ERR_NO_SPACE);
	*n = need;
	return OMC_OK;
}

/* The body (with_chain false) or the whole line without its '\n'. */
static omc_err serialise(char *out, size_t cap, size_t *n, const audit_rec *r, bool with_chain)
{
	json_t *o = json_object();
	OMC_ENSURE(o != NULL, OMC_ERR_NOMEM);
	omc_err e = fill_body(o, r);
	if (e == OMC_OK && with_chain)
		e = set_hash_hex(o, "prev", r->prev);
	if (e == OMC_OK && with_chain)
		e = set_hash_hex(o, "hash", r->hash);
	if (e == OMC_OK && with_chain)
		e = set_hash_hex(o, "mac", r->mac);
	if (e == OMC_OK)
		e = dump(out, cap, n, o);
	json_decref(o);
	return e;
}

/* --- crypto ---------------------------------------------------------------------- */

static omc_err chain_hash(uint8_t out[AUDIT_HASH_LEN], const uint8_t prev[AUDIT_HASH_LEN], const char *body,
			  size_t body_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	OMC_ENSURE(ctx != NULL, OMC_ERR_NOMEM);
	unsigned int n = 0;
	int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		 EVP_DigestUpdate(ctx, AUDIT_DOMAIN, sizeof AUDIT_DOMAIN - 1) == 1 &&
		 EVP_DigestUpdate(ctx, prev, AUDIT_HASH_LEN) == 1 && EVP_DigestUpdate(ctx, body, body_len) == 1 &&
		 EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == AUDIT_HASH_LEN;
	EVP_MD_CTX_free(ctx);
	OMC_ENSURE(ok, OMC_ERR_CRYPTO);
	return OMC_OK;
}

static omc_err record_mac(uint8_t out[AUDIT_HASH_LEN], const uint8_t k_audit[32], const uint8_t hash[AUDIT_HASH_LEN])
{
	unsigned int n = 0;
	OMC_ENSURE(HMAC(EVP_sha256(), k_audit, 32, hash, AUDIT_HASH_LEN, out, &n) != NULL && n == AUDIT_HASH_LEN,
		   OMC_ERR_CRYPTO);
	return OMC_OK;
}

/* The chain hash of r from r->prev and its body. */
static omc_err compute_hash(const audit_rec *r, uint8_t out[AUDIT_HASH_LEN])
{
	char body[OMC_AUDIT_LINE_MAX];
	size_t n = 0;
	OMC_TRY(serialise(body, sizeof body, &n, r, false));
	return chain_hash(out, r->prev, body, n);
}

/* --- recording ------------------------------------------------------------------- */

omc_err omc_audit_record(char **line, size_t *len, omc_audit_head *head, const uint8_t k_audit[32],
			 const omc_audit_event *ev)
{
	OMC_ENSURE(line != NULL && len != NULL && head != NULL && k_audit != NULL && ev != NULL, OMC_ERR_BAD_ARG);
	*line = NULL;
	*len = 0;
	OMC_ENSURE(valid_field(ev->event) && valid_field(ev->actor) && valid_field(ev->subject) &&
			   valid_field(ev->result),
		   OMC_ERR_BAD_ARG);
	OMC_ENSURE(ev->detail != NULL, OMC_ERR_BAD_ARG);
	size_t detail_full = strlen(ev->detail);
	OMC_ENSURE(printable(ev->detail, detail_full), OMC_ERR_BAD_ARG);
	OMC_ENSURE(head->count < (uint64_t)INT64_MAX, OMC_ERR_EXHAUSTED);

	audit_rec r = {
		.seq = head->count + 1,
		.time = ev->time,
		.event = ev->event,
		.actor = ev->actor,
		.subject = ev->subject,
		.result = ev->result,
		.detail = ev->detail,
		.detail_len = 0,
	};
	memcpy(r.prev, head->hash, AUDIT_HASH_LEN);

	/* Room left for the escaped detail: the line without detail has a
	 * fixed length (hex fields are always 64 digits). */
	char buf[OMC_AUDIT_LINE_MAX];
	size_t n0 = 0;
	omc_err e = serialise(buf, sizeof buf, &n0, &r, true);
	OMC_ENSURE(e != OMC_ERR_NO_SPACE, OMC_ERR_BAD_ARG);
	OMC_TRY(e);
	OMC_ENSURE(n0 + 1 <= OMC_AUDIT_LINE_MAX, OMC_ERR_BAD_ARG);
	size_t budget = OMC_AUDIT_LINE_MAX - 1 - n0, used = 0, keep = 0;
	while (keep < detail_full && keep < OMC_AUDIT_FIELD_MAX) {
		size_t c = escaped_len(ev->detail + keep, 1);
		if (used + c > budget)
			break;
		used += c;
		keep++;
	}
	r.detail_len = keep;

	OMC_TRY(compute_hash(&r, r.hash));
	OMC_TRY(record_mac(r.mac, k_audit, r.hash));
	size_t n = 0;
	OMC_TRY(serialise(buf, sizeof buf, &n, &r, true));
	OMC_ASSERT(n + 1 <= OMC_AUDIT_LINE_MAX);

	char *out = omc_alloc(n + 2);
	OMC_ENSURE(out != NULL, OMC_ERR_NOMEM);
	memcpy(out, buf, n);
	out[n] = '\n';
	out[n + 1] = '\0';
	*line = out;
	*len = n + 1;
	head->count = r.seq;
	memcpy(head->hash, r.hash, AUDIT_HASH_LEN);
	return OMC_OK;
}

/* --- parsing one line -------------------------------------------------------------- */

/* A line is read by hand, not by jansson: jansson's lexer is not safe when
 * an allocation fails (load.c lex_save ignores strbuffer_append_byte's
 * result, jansson issue #362): it may drop a character and report success,
 * or worse, which would turn an out-of-memory into a verdict against the
 * log. This parser allocates
 * nothing and accepts exactly the canonical form jansson writes for these
 * ten fields: keys in sorted order, no whitespace, strings of printable
 * ASCII in which only '"' and '\\' are escaped, integers without leading
 * zeros or '+', hex in lowercase. The canonical re-serialisation check in
 * parse_rec then confirms, through jansson's own writer, that nothing else
 * got through. */

typedef struct audit_strs {
	char event[OMC_AUDIT_FIELD_MAX + 1], actor[OMC_AUDIT_FIELD_MAX + 1], subject[OMC_AUDIT_FIELD_MAX + 1];
	char result[OMC_AUDIT_FIELD_MAX + 1], detail[OMC_AUDIT_FIELD_MAX + 1];
} audit_strs;

static omc_err expect_lit(omc_cur *c, const char *lit)
{
	size_t n = strlen(lit);
	const uint8_t *p;
	OMC_ENSURE(omc_cur_read_ptr(c, &p, n) == OMC_OK, OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(omc_ct_eq(p, lit, n), OMC_ERR_BAD_FORMAT);
	return OMC_OK;
}

/* The rest of a string whose opening '"' has been read, up to and
 * including its closing '"'; out gets it unescaped and NUL-terminated. */
static omc_err read_str(omc_cur *c, char out[OMC_AUDIT_FIELD_MAX + 1], size_t *len)
{
	size_t n = 0;
	for (;;) {
		uint8_t ch;
		OMC_ENSURE(omc_cur_read_u8(c, &ch) == OMC_OK, OMC_ERR_BAD_FORMAT);
		if (ch == '"')
			break;
		if (ch == '\\') {
			OMC_ENSURE(omc_cur_read_u8(c, &ch) == OMC_OK, OMC_ERR_BAD_FORMAT);
			OMC_ENSURE(ch == '"' || ch == '\\', OMC_ERR_BAD_FORMAT);
		} else {
			OMC_ENSURE(ch >= 0x20 && ch <= 0x7e, OMC_ERR_BAD_FORMAT);
		}
		OMC_ENSURE(n < OMC_AUDIT_FIELD_MAX, OMC_ERR_BAD_FORMAT);
		out[n++] = (char)ch;
	}
	out[n] = '\0';
	*len = n;
	return OMC_OK;
}

/* 64 lowercase hex digits and the closing '"'. */
static omc_err read_hash(omc_cur *c, uint8_t out[AUDIT_HASH_LEN])
{
	const uint8_t *p;
	OMC_ENSURE(omc_cur_read_ptr(c, &p, AUDIT_HEX_LEN) == OMC_OK, OMC_ERR_BAD_FORMAT);
	OMC_TRY(parse_hash_hex(out, (const char *)p, AUDIT_HEX_LEN));
	return expect_lit(c, "\"");
}

/* A canonical JSON integer in int64 range, up to and including the byte
 * `end` that follows it. */
static omc_err read_int(omc_cur *c, int64_t *v, char end)
{
	uint8_t ch;
	OMC_ENSURE(omc_cur_read_u8(c, &ch) == OMC_OK, OMC_ERR_BAD_FORMAT);
	bool neg = ch == '-';
	if (neg)
		OMC_ENSURE(omc_cur_read_u8(c, &ch) == OMC_OK, OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(ch >= '0' && ch <= '9', OMC_ERR_BAD_FORMAT);
	/* Magnitudes up to 2^63 (INT64_MIN's). */
	const uint64_t limit = (uint64_t)INT64_MAX + (neg ? 1u : 0u);
	uint64_t m = (uint64_t)(ch - '0');
	const bool zero = m == 0;
	for (;;) {
		OMC_ENSURE(omc_cur_read_u8(c, &ch) == OMC_OK, OMC_ERR_BAD_FORMAT);
		if (ch == (uint8_t)end)
			break;
		/* No leading zeros; no overflow. */
		OMC_ENSURE(ch >= '0' && ch <= '9' && !zero, OMC_ERR_BAD_FORMAT);
		uint64_t d = (uint64_t)(ch - '0');
		OMC_ENSURE(m <= (limit - d) / 10, OMC_ERR_BAD_FORMAT);
		m = m * 10 + d;
	}
	OMC_ENSURE(!(neg && zero), OMC_ERR_BAD_FORMAT); /* "-0" */
	*v = neg ? (m == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)m) : (int64_t)m;
	return OMC_OK;
}

static omc_err scan_fields(audit_rec *r, audit_strs *st, const char *line, size_t n)
{
	omc_cur c;
	omc_cur_init_read(&c, (const uint8_t *)line, n);
	size_t ignored = 0;
	int64_t seq = 0;
	OMC_TRY(expect_lit(&c, "{\"actor\":\""));
	OMC_TRY(read_str(&c, st->actor, &ignored));
	OMC_TRY(expect_lit(&c, ",\"detail\":\""));
	OMC_TRY(read_str(&c, st->detail, &r->detail_len));
	OMC_TRY(expect_lit(&c, ",\"event\":\""));
	OMC_TRY(read_str(&c, st->event, &ignored));
	OMC_TRY(expect_lit(&c, ",\"hash\":\""));
	OMC_TRY(read_hash(&c, r->hash));
	OMC_TRY(expect_lit(&c, ",\"mac\":\""));
	OMC_TRY(read_hash(&c, r->mac));
	OMC_TRY(expect_lit(&c, ",\"prev\":\""));
	OMC_TRY(read_hash(&c, r->prev));
	OMC_TRY(expect_lit(&c, ",\"result\":\""));
	OMC_TRY(read_str(&c, st->result, &ignored));
	OMC_TRY(expect_lit(&c, ",\"seq\":"));
	OMC_TRY(read_int(&c, &seq, ','));
	OMC_ENSURE(seq >= 1, OMC_ERR_BAD_FORMAT);
	OMC_TRY(expect_lit(&c, "\"subject\":\""));
	OMC_TRY(read_str(&c, st->subject, &ignored));
	OMC_TRY(expect_lit(&c, ",\"time\":"));
	OMC_TRY(read_int(&c, &r->time, '}'));
	OMC_ENSURE(omc_cur_expect_end(&c) == OMC_OK, OMC_ERR_BAD_FORMAT);
	r->seq = (uint64_t)seq;
	r->event = st->event;
	r->actor = st->actor;
	r->subject = st->subject;
	r->result = st->result;
	r->detail = st->detail;
	return OMC_OK;
}

/* Parse line[0..n) (without its '\n') into *r, whose strings point into
 * *st. Only the syntax and the canonical form are checked here, not the
 * chain. Fails with OMC_ERR_BAD_FORMAT for the line, or with NOMEM when
 * jansson cannot allocate for the canonical check (never a verdict then). */
static omc_err parse_rec(audit_rec *r, audit_strs *st, const char *line, size_t n)
{
	OMC_ENSURE(n > 0 && n + 1 <= OMC_AUDIT_LINE_MAX, OMC_ERR_BAD_FORMAT);
	OMC_TRY(scan_fields(r, st, line, n));
	/* Byte for byte what omc_audit_record writes for these fields. */
	char canon[OMC_AUDIT_LINE_MAX];
	size_t cn = 0;
	omc_err e = serialise(canon, sizeof canon, &cn, r, true);
	OMC_ENSURE(e != OMC_ERR_NO_SPACE, OMC_ERR_BAD_FORMAT);
	OMC_TRY(e);
	OMC_ENSURE(cn == n && omc_ct_eq(canon, line, n), OMC_ERR_BAD_FORMAT);
	return OMC_OK;
}

omc_err omc_audit_parse_line(void **obj, const char *line, size_t len)
{
	OMC_ENSURE(obj != NULL && line != NULL, OMC_ERR_BAD_ARG);
	*obj = NULL;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	audit_rec r = {0};
	audit_strs st;
	OMC_TRY(parse_rec(&r, &st, line, len));
	json_t *o = json_object();
	OMC_ENSURE(o != NULL, OMC_ERR_NOMEM);
	omc_err e = fill_body(o, &r);
	if (e == OMC_OK)
		e = set_hash_hex(o, "prev", r.prev);
	if (e == OMC_OK)
		e = set_hash_hex(o, "hash", r.hash);
	if (e == OMC_OK)
		e = set_hash_hex(o, "mac", r.mac);
	if (e != OMC_OK) {
		json_decref(o);
		return e;
	}
	*obj = o;
	return OMC_OK;
}

/* --- verification ------------------------------------------------------------------ */

/* Walk the chain. If want_count is nonzero and the chain reaches it,
 * *want_found is set and want_hash gets that record's hash. On failure
 * *head is the head after the last good record. */
static omc_err walk(omc_audit_head *head, size_t *bad_line, const char *buf, size_t len, const uint8_t *k_audit,
		    uint64_t want_count, uint8_t want_hash[AUDIT_HASH_LEN], bool *want_found)
{
	omc_audit_head h = {0};
	size_t pos = 0, lineno = 0;
	omc_err e = OMC_OK;
	*bad_line = 0;
	while (pos < len) {
		lineno++;
		size_t rest = len - pos;
		size_t scan = rest < OMC_AUDIT_LINE_MAX ? rest : OMC_AUDIT_LINE_MAX;
		const char *nl = memchr(buf + pos, '\n', scan);
		if (!nl) {
			/* A line too long, or a torn last line (no '\n'). */
			e = omc_err_raise(OMC_ERR_BAD_FORMAT, __FILE__, __LINE__);
			break;
		}
		size_t n = (size_t)(nl - (buf + pos));
		audit_rec r = {0};
		audit_strs st;
		e = parse_rec(&r, &st, buf + pos, n);
		if (e != OMC_OK)
			break;
		uint8_t want[AUDIT_HASH_LEN];
		int ok = r.seq == h.count + 1;
		ok &= omc_ct_eq(r.prev, h.hash, AUDIT_HASH_LEN);
		e = compute_hash(&r, want);
		if (e == OMC_OK) {
			ok &= omc_ct_eq(r.hash, want, AUDIT_HASH_LEN);
			if (k_audit) {
				e = record_mac(want, k_audit, r.hash);
				ok &= omc_ct_eq(r.mac, want, AUDIT_HASH_LEN);
			}
		}
		if (e == OMC_OK && !ok)
			e = omc_err_raise(OMC_ERR_TAMPERED, __FILE__, __LINE__);
		if (e != OMC_OK)
			break;
		h.count = r.seq;
		memcpy(h.hash, r.hash, AUDIT_HASH_LEN);
		if (want_count != 0 && h.count == want_count) {
			memcpy(want_hash, h.hash, AUDIT_HASH_LEN);
			*want_found = true;
		}
		pos += n + 1;
	}
	if (e != OMC_OK)
		*bad_line = lineno;
	*head = h;
	return e;
}

omc_err omc_audit_verify(omc_audit_head *head, size_t *bad_line, const char *buf, size_t len,
			 const uint8_t *k_audit)
{
	OMC_ENSURE(head != NULL && bad_line != NULL && (buf != NULL || len == 0), OMC_ERR_BAD_ARG);
	bool found = false;
	uint8_t unused[AUDIT_HASH_LEN];
	return walk(head, bad_line, buf, len, k_audit, 0, unused, &found);
}

omc_err omc_audit_extends(const char *buf, size_t len, const uint8_t *k_audit, const omc_audit_head *expect)
{
	OMC_ENSURE(expect != NULL && (buf != NULL || len == 0), OMC_ERR_BAD_ARG);
	/* A count of 0 is the empty chain, whose head hash is all zeros; any
	 * other checkpoint with count 0 cannot have been made by
	 * omc_audit_record. */
	OMC_ENSURE(expect->count != 0 || omc_ct_is_zero(expect->hash, AUDIT_HASH_LEN), OMC_ERR_BAD_ARG);
	omc_audit_head h;
	size_t bad = 0;
	bool found = false;
	uint8_t got[AUDIT_HASH_LEN] = {0};
	OMC_TRY(walk(&h, &bad, buf, len, k_audit, expect->count, got, &found));
	if (expect->count == 0)
		return OMC_OK;
	OMC_ENSURE(found, OMC_ERR_TAMPERED); /* shorter than the checkpoint */
	OMC_ENSURE(omc_ct_eq(got, expect->hash, AUDIT_HASH_LEN), OMC_ERR_TAMPERED);
	return OMC_OK;
}
