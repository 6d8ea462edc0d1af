/* Audit records: the hash chain and its MACs. A chain of 100 records
 * verifies with and without the key; every kind of edit (a field, a line
 * deleted, swapped, duplicated, the tail cut, a record forged without the
 * key, a torn append, every single-byte change of a record) is reported at
 * the right line; the format is pinned by an independent computation.
 * covers: TRE-11, SEC-13 */
#include "testlib.h"

#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tre/tre_internal.h"

static const uint8_t key[32] = {0x6b, 0x61, 0x75, 0x64, 0x69, 0x74, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
				11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26};
static const uint8_t other_key[32] = {0xee};

/* A growable text buffer for chains (test code may use malloc). */
typedef struct chain {
	char *buf;
	size_t len;
	omc_audit_head head;
} chain;

static void chain_add(chain *c, const uint8_t *k, const omc_audit_event *ev)
{
	char *line = NULL;
	size_t n = 0;
	assert_err(omc_audit_record(&line, &n, &c->head, k, ev), OMC_OK);
	assert_non_null(line);
	assert_int_equal(strlen(line), n);
	assert_true(n <= OMC_AUDIT_LINE_MAX);
	assert_int_equal(line[n - 1], '\n');
	c->buf = realloc(c->buf, c->len + n + 1);
	assert_non_null(c->buf);
	memcpy(c->buf + c->len, line, n + 1);
	c->len += n;
	omc_free(line);
}

static void chain_add_n(chain *c, const uint8_t *k, int i)
{
	char subject[32], detail[64];
	snprintf(subject, sizeof subject, "mcim:m%d", i % 7);
	snprintf(detail, sizeof detail, "record %d of the test chain", i);
	omc_audit_event ev = {
		.time = 1700000000 + i,
		.event = (i % 3) ? "aka" : "lifecycle",
		.actor = (i % 2) ? "sho:op1" : "user:alice",
		.subject = subject,
		.result = (i % 5) ? "ok" : "refused",
		.detail = detail,
	};
	chain_add(c, k, &ev);
}

static void chain_build(chain *c, int n)
{
	memset(c, 0, sizeof *c);
	for (int i = 1; i <= n; i++)
		chain_add_n(c, key, i);
}

static void chain_free(chain *c)
{
	free(c->buf);
	memset(c, 0, sizeof *c);
}

/* Offset and length (with '\n') of 1-based line i. */
static void line_span(const char *buf, size_t len, size_t i, size_t *off, size_t *n)
{
	size_t pos = 0;
	for (size_t l = 1; l < i; l++) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		assert_non_null(nl);
		pos = (size_t)(nl - buf) + 1;
	}
	const char *nl = memchr(buf + pos, '\n', len - pos);
	assert_non_null(nl);
	*off = pos;
	*n = (size_t)(nl - buf) + 1 - pos;
}

static void expect_verify(const char *buf, size_t len, const uint8_t *k, omc_err want, size_t want_line)
{
	omc_audit_head h;
	size_t bad = 99999;
	assert_err(omc_audit_verify(&h, &bad, buf, len, k), want);
	assert_int_equal(bad, want_line);
}

static void test_chain_of_100(void **state)
{
	(void)state;
	chain c;
	chain_build(&c, 100);
	omc_audit_head h;
	size_t bad = 7;
	assert_err(omc_audit_verify(&h, &bad, c.buf, c.len, key), OMC_OK);
	assert_int_equal(bad, 0);
	assert_int_equal(h.count, 100);
	assert_memory_equal(h.hash, c.head.hash, 32);
	assert_err(omc_audit_verify(&h, &bad, c.buf, c.len, NULL), OMC_OK);
	assert_int_equal(h.count, 100);
	assert_memory_equal(h.hash, c.head.hash, 32);

	/* The chain extends every checkpoint taken while it was written. */
	chain d;
	memset(&d, 0, sizeof d);
	for (int i = 1; i <= 100; i++) {
		chain_add_n(&d, key, i);
		if (i % 10 == 0 || i == 1) {
			assert_err(omc_audit_extends(c.buf, c.len, key, &d.head), OMC_OK);
			assert_err(omc_audit_extends(c.buf, c.len, NULL, &d.head), OMC_OK);
		}
	}
	assert_int_equal(d.len, c.len);
	assert_memory_equal(d.buf, c.buf, c.len); /* deterministic */
	omc_audit_head zero = {0};
	assert_err(omc_audit_extends(c.buf, c.len, key, &zero), OMC_OK);
	chain_free(&d);
	chain_free(&c);
}

static void test_empty_chain(void **state)
{
	(void)state;
	omc_audit_head h;
	memset(&h, 0xaa, sizeof h);
	size_t bad = 7;
	assert_err(omc_audit_verify(&h, &bad, "", 0, key), OMC_OK);
	assert_int_equal(h.count, 0);
	assert_true(tl_all_bytes_are(h.hash, 32, 0));
	assert_int_equal(bad, 0);
	assert_err(omc_audit_verify(&h, &bad, NULL, 0, NULL), OMC_OK);
	omc_audit_head zero = {0};
	assert_err(omc_audit_extends("", 0, key, &zero), OMC_OK);
	omc_audit_head one = {.count = 1};
	assert_err(omc_audit_extends("", 0, key, &one), OMC_ERR_TAMPERED);
	/* A checkpoint of nothing has a zero hash. */
	omc_audit_head odd = {.count = 0, .hash = {1}};
	assert_err(omc_audit_extends("", 0, key, &odd), OMC_ERR_BAD_ARG);
	/* An empty line is not a record. */
	expect_verify("\n", 1, key, OMC_ERR_BAD_FORMAT, 1);
}

/* Change one character of the value of `field` in 1-based line i: the
 * first character of a string value, or the last digit of a number; the
 * line stays canonical JSON. */
static void edit_field(char *buf, size_t len, size_t i, const char *field)
{
	size_t off, n;
	line_span(buf, len, i, &off, &n);
	char pat[32];
	snprintf(pat, sizeof pat, "\"%s\":", field);
	char *p = strstr(buf + off, pat);
	assert_non_null(p);
	assert_true((size_t)(p - buf) < off + n);
	p += strlen(pat);
	if (*p == '"') {
		p++;
		if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
			*p = (*p == 'a') ? 'b' : 'a'; /* stays lowercase hex */
		else
			*p = (*p == 'x') ? 'y' : 'x';
	} else {
		while (p[1] >= '0' && p[1] <= '9')
			p++;
		*p = (*p == '9') ? '8' : (char)(*p + 1);
	}
}

static void test_edit_each_field(void **state)
{
	(void)state;
	static const char *const fields[] = {"seq",    "time", "event", "actor", "subject",
					     "result", "detail", "prev", "hash"};
	chain c;
	chain_build(&c, 100);
	for (size_t f = 0; f < OMC_ARRAY_LEN(fields); f++) {
		char *copy = malloc(c.len + 1);
		memcpy(copy, c.buf, c.len + 1);
		edit_field(copy, c.len, 50, fields[f]);
		assert_true(memcmp(copy, c.buf, c.len) != 0);
		expect_verify(copy, c.len, key, OMC_ERR_TAMPERED, 50);
		expect_verify(copy, c.len, NULL, OMC_ERR_TAMPERED, 50);
		omc_audit_head h;
		size_t bad;
		assert_err(omc_audit_verify(&h, &bad, copy, c.len, key), OMC_ERR_TAMPERED);
		assert_int_equal(h.count, 49); /* the head of the good part */
		free(copy);
	}
	/* The MAC alone: only a verifier with the key can tell. */
	char *copy = malloc(c.len + 1);
	memcpy(copy, c.buf, c.len + 1);
	edit_field(copy, c.len, 50, "mac");
	expect_verify(copy, c.len, key, OMC_ERR_TAMPERED, 50);
	expect_verify(copy, c.len, NULL, OMC_OK, 0);
	expect_verify(copy, c.len, other_key, OMC_ERR_TAMPERED, 1);

	/* The last character of detail, the first record, the last record. */
	memcpy(copy, c.buf, c.len + 1);
	size_t off, n;
	line_span(copy, c.len, 50, &off, &n);
	char *d = strstr(copy + off, "\"detail\":\"");
	d = strchr(d + 10, '"') - 1;
	*d = (*d == '0') ? '1' : '0';
	expect_verify(copy, c.len, NULL, OMC_ERR_TAMPERED, 50);
	memcpy(copy, c.buf, c.len + 1);
	edit_field(copy, c.len, 1, "detail");
	expect_verify(copy, c.len, key, OMC_ERR_TAMPERED, 1);
	memcpy(copy, c.buf, c.len + 1);
	edit_field(copy, c.len, 100, "time");
	expect_verify(copy, c.len, key, OMC_ERR_TAMPERED, 100);
	free(copy);
	chain_free(&c);
}

/* buf with 1-based lines reordered: order[] lists the source line of each
 * output line. */
static char *reorder(const chain *c, const size_t *order, size_t n_order, size_t *out_len)
{
	char *out = malloc(c->len * 2);
	size_t pos = 0;
	for (size_t i = 0; i < n_order; i++) {
		size_t off, n;
		line_span(c->buf, c->len, order[i], &off, &n);
		memcpy(out + pos, c->buf + off, n);
		pos += n;
	}
	*out_len = pos;
	return out;
}

static void test_delete_swap_duplicate(void **state)
{
	(void)state;
	chain c;
	chain_build(&c, 100);
	size_t order[101], n = 0, len;
	char *b;

	/* delete line 50 */
	for (size_t i = 1; i <= 100; i++)
		if (i != 50)
			order[n++] = i;
	b = reorder(&c, order, n, &len);
	expect_verify(b, len, key, OMC_ERR_TAMPERED, 50);
	expect_verify(b, len, NULL, OMC_ERR_TAMPERED, 50);
	free(b);

	/* delete the first line */
	n = 0;
	for (size_t i = 2; i <= 100; i++)
		order[n++] = i;
	b = reorder(&c, order, n, &len);
	expect_verify(b, len, NULL, OMC_ERR_TAMPERED, 1);
	free(b);

	/* swap 50 and 51 */
	n = 0;
	for (size_t i = 1; i <= 100; i++)
		order[n++] = i == 50 ? 51 : i == 51 ? 50 : i;
	b = reorder(&c, order, n, &len);
	expect_verify(b, len, key, OMC_ERR_TAMPERED, 50);
	expect_verify(b, len, NULL, OMC_ERR_TAMPERED, 50);
	free(b);

	/* duplicate 50 */
	n = 0;
	for (size_t i = 1; i <= 100; i++) {
		order[n++] = i;
		if (i == 50)
			order[n++] = i;
	}
	b = reorder(&c, order, n, &len);
	expect_verify(b, len, key, OMC_ERR_TAMPERED, 51);
	expect_verify(b, len, NULL, OMC_ERR_TAMPERED, 51);
	free(b);

	/* duplicate the last line at the end */
	n = 0;
	for (size_t i = 1; i <= 100; i++)
		order[n++] = i;
	order[n++] = 100;
	b = reorder(&c, order, n, &len);
	expect_verify(b, len, NULL, OMC_ERR_TAMPERED, 101);
	free(b);
	chain_free(&c);
}

static void test_truncated_tail(void **state)
{
	(void)state;
	chain c;
	chain_build(&c, 100);
	size_t off, n;
	line_span(c.buf, c.len, 61, &off, &n);
	/* Cut at a line boundary: a valid shorter chain... */
	omc_audit_head h;
	size_t bad;
	assert_err(omc_audit_verify(&h, &bad, c.buf, off, key), OMC_OK);
	assert_int_equal(h.count, 60);
	/* ...which does not extend the committed head. */
	assert_err(omc_audit_extends(c.buf, off, key, &c.head), OMC_ERR_TAMPERED);
	assert_err(omc_audit_extends(c.buf, off, NULL, &c.head), OMC_ERR_TAMPERED);
	/* Nor a checkpoint with the right count but another hash. */
	omc_audit_head wrong = c.head;
	wrong.hash[31] ^= 1;
	assert_err(omc_audit_extends(c.buf, c.len, key, &wrong), OMC_ERR_TAMPERED);
	wrong = c.head;
	wrong.count = 99;
	assert_err(omc_audit_extends(c.buf, c.len, key, &wrong), OMC_ERR_TAMPERED);
	/* Cut inside a line: a torn record. */
	expect_verify(c.buf, off + n / 2, key, OMC_ERR_BAD_FORMAT, 61);
	assert_err(omc_audit_extends(c.buf, off + n / 2, key, &c.head), OMC_ERR_BAD_FORMAT);
	/* Everything gone. */
	assert_err(omc_audit_extends(c.buf, 0, key, &c.head), OMC_ERR_TAMPERED);
	chain_free(&c);
}

static void test_torn_last_line(void **state)
{
	(void)state;
	chain c;
	chain_build(&c, 100);
	omc_audit_head h;
	size_t bad;
	/* Only the final '\n' is missing: still malformed, at line 100. */
	assert_err(omc_audit_verify(&h, &bad, c.buf, c.len - 1, key), OMC_ERR_BAD_FORMAT);
	assert_int_equal(bad, 100);
	assert_int_equal(h.count, 99);
	/* Appending garbage without a newline. */
	char *b = malloc(c.len + 8);
	memcpy(b, c.buf, c.len);
	memcpy(b + c.len, "{\"seq\"", 6);
	expect_verify(b, c.len + 6, key, OMC_ERR_BAD_FORMAT, 101);
	free(b);
	chain_free(&c);
}

static void test_forged_append(void **state)
{
	(void)state;
	chain c;
	chain_build(&c, 100);
	omc_audit_head committed = c.head;
	/* Someone who can write the file but has not got the key. */
	omc_audit_event ev = {.time = 1800000000,
			      .event = "lifecycle",
			      .actor = "sho:op1",
			      .subject = "mcim:m1",
			      .result = "ok",
			      .detail = "activate (forged)"};
	chain_add(&c, other_key, &ev);
	expect_verify(c.buf, c.len, NULL, OMC_OK, 0);      /* the chain is fine... */
	expect_verify(c.buf, c.len, key, OMC_ERR_TAMPERED, 101); /* ...the MAC is not */
	assert_err(omc_audit_extends(c.buf, c.len, key, &committed), OMC_ERR_TAMPERED);
	assert_err(omc_audit_extends(c.buf, c.len, NULL, &committed), OMC_OK);
	chain_free(&c);
}

/* Every byte of the middle record of a 3-record chain, changed to every
 * other value; and every bit of the whole chain flipped. */
static void test_every_byte_change(void **state)
{
	(void)state;
	chain c;
	chain_build(&c, 3);
	size_t off, n;
	line_span(c.buf, c.len, 2, &off, &n);
	size_t mac_at = (size_t)(strstr(c.buf + off, "\"mac\":\"") - c.buf) + 7;
	char *b = malloc(c.len);
	unsigned changes = 0, undetected_without_key = 0;
	for (size_t i = off; i < off + n; i++) {
		for (int v = 0; v < 256; v++) {
			if ((char)v == c.buf[i])
				continue;
			memcpy(b, c.buf, c.len);
			b[i] = (char)v;
			omc_audit_head h;
			size_t bad = 0;
			omc_err e = omc_audit_verify(&h, &bad, b, c.len, key);
			if (e == OMC_OK)
				fail_msg("change of byte %zu to 0x%02x not detected", i - off, v);
			assert_true(bad == 2 || bad == 3);
			changes++;
			/* Without the key, only a MAC digit changed to another hex
			 * digit goes unnoticed (checked on the MAC and its
			 * neighbours; elsewhere the bit flips below suffice). */
			if (i + 8 < mac_at || i > mac_at + 72)
				continue;
			e = omc_audit_verify(&h, &bad, b, c.len, NULL);
			if (e == OMC_OK) {
				assert_true(i >= mac_at && i < mac_at + 64);
				assert_true((v >= '0' && v <= '9') || (v >= 'a' && v <= 'f'));
				undetected_without_key++;
			}
		}
	}
	size_t macs[3];
	for (size_t l = 0; l < 3; l++) {
		size_t lo, ln;
		line_span(c.buf, c.len, l + 1, &lo, &ln);
		macs[l] = (size_t)(strstr(c.buf + lo, "\"mac\":\"") - c.buf) + 7;
	}
	for (size_t i = 0; i < c.len; i++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(b, c.buf, c.len);
			b[i] = (char)(b[i] ^ (1 << bit));
			omc_audit_head h;
			size_t bad = 0;
			assert_int_not_equal(omc_audit_verify(&h, &bad, b, c.len, key), OMC_OK);
			if (omc_audit_verify(&h, &bad, b, c.len, NULL) == OMC_OK) {
				bool in_a_mac = false;
				for (size_t l = 0; l < 3; l++)
					in_a_mac |= i >= macs[l] && i < macs[l] + 64;
				assert_true(in_a_mac);
			}
		}
	print_message("audit: %u single-byte changes of a record, all detected with the key "
		      "(%u MAC-only changes pass without it)\n",
		      changes, undetected_without_key);
	free(b);
	chain_free(&c);
}

static void test_fields_refused(void **state)
{
	(void)state;
	omc_audit_head h = {0};
	char *line = (char *)1;
	size_t n = 5;
	static const char *const bad_values[] = {"a\nb", "tab\there", "\x01", "del\x7f", "hi\x80", "\xc3\xa9t\xc3\xa9"};
	for (size_t i = 0; i < OMC_ARRAY_LEN(bad_values); i++) {
		for (int f = 0; f < 5; f++) {
			omc_audit_event ev = {.time = 1, .event = "e", .actor = "a", .subject = "s",
					      .result = "ok", .detail = "d"};
			const char **slot[] = {&ev.event, &ev.actor, &ev.subject, &ev.result, &ev.detail};
			*slot[f] = bad_values[i];
			assert_err(omc_audit_record(&line, &n, &h, key, &ev), OMC_ERR_BAD_ARG);
			assert_null(line);
			assert_int_equal(h.count, 0);
			*slot[f] = NULL;
			assert_err(omc_audit_record(&line, &n, &h, key, &ev), OMC_ERR_BAD_ARG);
		}
	}
	omc_audit_event ok = {.time = 1, .event = "e", .actor = "a", .subject = "s", .result = "ok", .detail = ""};
	assert_err(omc_audit_record(&line, &n, &h, NULL, &ok), OMC_ERR_BAD_ARG);
	assert_err(omc_audit_record(&line, &n, &h, key, NULL), OMC_ERR_BAD_ARG);
	assert_err(omc_audit_record(NULL, &n, &h, key, &ok), OMC_ERR_BAD_ARG);
	/* A name field of 257 bytes is refused, 256 is fine. */
	char big[OMC_AUDIT_FIELD_MAX + 2];
	memset(big, 's', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	omc_audit_event ev = ok;
	ev.subject = big;
	assert_err(omc_audit_record(&line, &n, &h, key, &ev), OMC_ERR_BAD_ARG);
	big[OMC_AUDIT_FIELD_MAX] = '\0';
	assert_err(omc_audit_record(&line, &n, &h, key, &ev), OMC_OK);
	assert_int_equal(h.count, 1);
	expect_verify(line, n, key, OMC_OK, 0);
	omc_free(line);
	/* The head stays put on failure. */
	omc_audit_head before = h;
	ev.event = "x\ny";
	assert_err(omc_audit_record(&line, &n, &h, key, &ev), OMC_ERR_BAD_ARG);
	assert_memory_equal(&before, &h, sizeof h);
}

static const char *detail_of(const char *line, size_t n, size_t *len)
{
	void *obj = NULL;
	assert_err(omc_audit_parse_line(&obj, line, n), OMC_OK);
	static char out[OMC_AUDIT_FIELD_MAX + 1];
	const json_t *d = json_object_get(obj, "detail");
	assert_true(json_is_string(d));
	*len = json_string_length(d);
	assert_true(*len <= OMC_AUDIT_FIELD_MAX);
	memcpy(out, json_string_value(d), *len + 1);
	json_decref(obj);
	return out;
}

static void test_detail_truncated(void **state)
{
	(void)state;
	/* A caller passing a long message (which might end in something it
	 * should not have passed) gets exactly the first 256 bytes kept. */
	char detail[1001];
	for (size_t i = 0; i < 1000; i++)
		detail[i] = (char)('a' + i % 26);
	memcpy(detail + 900, "K=465b5ce8b199b49faa5f0a2ee238a6bc", 34);
	detail[1000] = '\0';
	omc_audit_head h = {0};
	omc_audit_event ev = {.time = 5, .event = "aka", .actor = "tre", .subject = "tre", .result = "failed",
			      .detail = detail};
	char *line;
	size_t n, dl;
	assert_err(omc_audit_record(&line, &n, &h, key, &ev), OMC_OK);
	const char *got = detail_of(line, n, &dl);
	assert_int_equal(dl, OMC_AUDIT_FIELD_MAX);
	assert_memory_equal(got, detail, OMC_AUDIT_FIELD_MAX);
	assert_null(strstr(line, "465b5ce8"));
	expect_verify(line, n, key, OMC_OK, 0);
	omc_free(line);

	/* Fields full of characters JSON escapes: the line still fits
	 * OMC_AUDIT_LINE_MAX, detail gives way first. */
	char quotes[OMC_AUDIT_FIELD_MAX + 1], slashes[OMC_AUDIT_FIELD_MAX + 1];
	memset(quotes, '"', OMC_AUDIT_FIELD_MAX);
	quotes[OMC_AUDIT_FIELD_MAX] = '\0';
	memset(slashes, '\\', OMC_AUDIT_FIELD_MAX);
	slashes[OMC_AUDIT_FIELD_MAX] = '\0';
	omc_audit_event esc = {.time = -1, .event = quotes, .actor = quotes, .subject = quotes, .result = "ok",
			       .detail = slashes};
	assert_err(omc_audit_record(&line, &n, &h, key, &esc), OMC_OK);
	assert_true(n <= OMC_AUDIT_LINE_MAX);
	got = detail_of(line, n, &dl);
	assert_true(dl > 0 && dl < OMC_AUDIT_FIELD_MAX);
	assert_true(tl_all_bytes_are((const uint8_t *)got, dl, '\\'));
	omc_free(line);
	/* Four such fields cannot fit at all: refused, not written too long. */
	esc.result = quotes;
	assert_err(omc_audit_record(&line, &n, &h, key, &esc), OMC_ERR_BAD_ARG);
	assert_int_equal(h.count, 2);
}

/* The line for a record with these fields, re-serialised by the test from
 * a parsed valid line after mutate() changed the object. */
static char *mutated_line(const char *line, size_t n, void (*mutate)(json_t *), size_t *out_len)
{
	json_error_t je;
	json_t *o = json_loadb(line, n - 1, 0, &je);
	assert_non_null(o);
	mutate(o);
	/* Into our own buffer: jansson may allocate through omc_alloc. */
	size_t l = json_dumpb(o, NULL, 0, JSON_COMPACT | JSON_SORT_KEYS);
	assert_true(l > 0);
	char *out = malloc(l + 2);
	assert_int_equal(json_dumpb(o, out, l, JSON_COMPACT | JSON_SORT_KEYS), l);
	json_decref(o);
	out[l] = '\n';
	out[l + 1] = '\0';
	*out_len = l + 1;
	return out;
}

static void m_none(json_t *o)
{
	(void)o;
}
static void m_unknown(json_t *o)
{
	json_object_set_new(o, "extra", json_string("x"));
}
static void m_missing(json_t *o)
{
	json_object_del(o, "result");
}
static void m_seq_string(json_t *o)
{
	json_object_set_new(o, "seq", json_string("1"));
}
static void m_seq_zero(json_t *o)
{
	json_object_set_new(o, "seq", json_integer(0));
}
static void m_time_real(json_t *o)
{
	json_object_set_new(o, "time", json_real(1.5));
}
static void m_detail_null(json_t *o)
{
	json_object_set_new(o, "detail", json_null());
}
static void m_detail_ctrl(json_t *o)
{
	json_object_set_new(o, "detail", json_string("a\tb"));
}
static void m_detail_long(json_t *o)
{
	char s[OMC_AUDIT_FIELD_MAX + 2];
	memset(s, 'd', sizeof s - 1);
	s[sizeof s - 1] = '\0';
	json_object_set_new(o, "detail", json_string(s));
}
static void m_hash_upper(json_t *o)
{
	char h[65];
	strcpy(h, json_string_value(json_object_get(o, "hash")));
	for (int i = 0; i < 64; i++)
		if (h[i] >= 'a' && h[i] <= 'f')
			h[i] = (char)(h[i] - 32);
	json_object_set_new(o, "hash", json_string(h));
}
static void m_hash_short(json_t *o)
{
	char h[65];
	strcpy(h, json_string_value(json_object_get(o, "hash")));
	h[62] = '\0';
	json_object_set_new(o, "hash", json_string(h));
}
static void m_prev_nonhex(json_t *o)
{
	char h[65];
	strcpy(h, json_string_value(json_object_get(o, "prev")));
	h[0] = 'g';
	json_object_set_new(o, "prev", json_string(h));
}
static void m_mac_number(json_t *o)
{
	json_object_set_new(o, "mac", json_integer(1));
}

static void test_strict_lines(void **state)
{
	(void)state;
	chain c;
	chain_build(&c, 1);
	static const struct {
		void (*mutate)(json_t *);
		omc_err want;
	} cases[] = {
		{m_none, OMC_OK},
		{m_unknown, OMC_ERR_BAD_FORMAT},
		{m_missing, OMC_ERR_BAD_FORMAT},
		{m_seq_string, OMC_ERR_BAD_FORMAT},
		{m_seq_zero, OMC_ERR_BAD_FORMAT},
		{m_time_real, OMC_ERR_BAD_FORMAT},
		{m_detail_null, OMC_ERR_BAD_FORMAT},
		{m_detail_ctrl, OMC_ERR_BAD_FORMAT},
		{m_detail_long, OMC_ERR_BAD_FORMAT},
		{m_hash_upper, OMC_ERR_BAD_FORMAT},
		{m_hash_short, OMC_ERR_BAD_FORMAT},
		{m_prev_nonhex, OMC_ERR_BAD_FORMAT},
		{m_mac_number, OMC_ERR_BAD_FORMAT},
	};
	for (size_t i = 0; i < OMC_ARRAY_LEN(cases); i++) {
		size_t n;
		char *l = mutated_line(c.buf, c.len, cases[i].mutate, &n);
		expect_verify(l, n, key, cases[i].want, cases[i].want == OMC_OK ? 0 : 1);
		void *obj = (void *)1;
		assert_err(omc_audit_parse_line(&obj, l, n), cases[i].want);
		if (cases[i].want == OMC_OK)
			json_decref(obj);
		else
			assert_null(obj);
		free(l);
	}

	/* Same fields, other bytes: not the canonical form. */
	static const char *const raw_edits[][2] = {
		{"{\"actor\"", "{ \"actor\""},        /* whitespace */
		{"\"seq\":1,", "\"seq\":1.0,"},         /* a real */
		{"\"seq\":1,", "\"seq\":01,"},          /* not JSON */
		{"\"result\":\"ok\"", "\"result\":\"\\u006fk\""}, /* an escape */
		{"record 1 ", "record\\/1 "},                /* "\/" for "/" */
		{"record 1 ", "record\\t1 "},                /* a control character */
		{"\"seq\":1,", "\"seq\":-1,"},
		{"\"seq\":1,", "\"seq\":+1,"},
		{"\"seq\":1,", "\"seq\":18446744073709551617,"},
		{"\"time\":1700000001}", "\"time\":-0}"},
		{"\"time\":1700000001}", "\"time\":01700000001}"},
		{"\"time\":1700000001}", "\"time\":1.7e9}"},
		{"\"time\":1700000001}", "\"time\":9223372036854775808}"},
		{"\"time\":1700000001}", "\"time\":1700000001} "},
		{"\"time\":1700000001}", "\"time\":1700000001,\"x\":1}"},
		{"{\"actor\"", "{\"actor\":\"x\",\"actor\""}, /* a duplicate key */
	};
	for (size_t i = 0; i < OMC_ARRAY_LEN(raw_edits); i++) {
		char *p = strstr(c.buf, raw_edits[i][0]);
		assert_non_null(p);
		size_t pre = (size_t)(p - c.buf), ol = strlen(raw_edits[i][0]), nl = strlen(raw_edits[i][1]);
		size_t n = c.len - ol + nl;
		char *l = malloc(n + 1);
		memcpy(l, c.buf, pre);
		memcpy(l + pre, raw_edits[i][1], nl);
		memcpy(l + pre + nl, c.buf + pre + ol, c.len - pre - ol);
		expect_verify(l, n, key, OMC_ERR_BAD_FORMAT, 1);
		free(l);
	}
	/* A trailing space before the newline, and CRLF. */
	char *l = malloc(c.len + 2);
	memcpy(l, c.buf, c.len - 1);
	memcpy(l + c.len - 1, " \n", 2);
	expect_verify(l, c.len + 1, key, OMC_ERR_BAD_FORMAT, 1);
	memcpy(l + c.len - 1, "\r\n", 2);
	expect_verify(l, c.len + 1, key, OMC_ERR_BAD_FORMAT, 1);
	free(l);

	/* Longer than OMC_AUDIT_LINE_MAX, with or without its newline. */
	size_t big = OMC_AUDIT_LINE_MAX + 100;
	char *g = malloc(big);
	memset(g, ' ', big);
	g[big - 1] = '\n';
	expect_verify(g, big, key, OMC_ERR_BAD_FORMAT, 1);
	expect_verify(g, big - 1, key, OMC_ERR_BAD_FORMAT, 1);
	free(g);
	expect_verify("not json\n", 9, key, OMC_ERR_BAD_FORMAT, 1);
	expect_verify("[]\n", 3, key, OMC_ERR_BAD_FORMAT, 1);
	expect_verify("\0\n", 2, key, OMC_ERR_BAD_FORMAT, 1);
	chain_free(&c);
}

/* The int64 extremes of time, and seq as far as it goes. */
static void test_integer_range(void **state)
{
	(void)state;
	static const int64_t times[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX};
	chain c;
	memset(&c, 0, sizeof c);
	for (size_t i = 0; i < OMC_ARRAY_LEN(times); i++) {
		omc_audit_event ev = {.time = times[i], .event = "e", .actor = "a", .subject = "s", .result = "ok",
				      .detail = ""};
		chain_add(&c, key, &ev);
	}
	expect_verify(c.buf, c.len, key, OMC_OK, 0);
	size_t off = 0;
	for (size_t i = 0; i < OMC_ARRAY_LEN(times); i++) {
		size_t o, n;
		line_span(c.buf, c.len, i + 1, &o, &n);
		void *obj;
		assert_err(omc_audit_parse_line(&obj, c.buf + o, n), OMC_OK);
		assert_true(json_integer_value(json_object_get(obj, "time")) == times[i]);
		json_decref(obj);
		off = o + n;
	}
	assert_int_equal(off, c.len);
	chain_free(&c);

	/* A head at the last seq jansson can hold. */
	omc_audit_head h = {.count = (uint64_t)INT64_MAX - 1};
	omc_audit_event ev = {.time = 0, .event = "e", .actor = "a", .subject = "s", .result = "ok", .detail = ""};
	char *line;
	size_t n;
	assert_err(omc_audit_record(&line, &n, &h, key, &ev), OMC_OK);
	assert_non_null(strstr(line, "\"seq\":9223372036854775807,"));
	void *obj;
	assert_err(omc_audit_parse_line(&obj, line, n), OMC_OK);
	json_decref(obj);
	omc_free(line);
	assert_err(omc_audit_record(&line, &n, &h, key, &ev), OMC_ERR_EXHAUSTED);
}

static void test_parse_line(void **state)
{
	(void)state;
	chain c;
	chain_build(&c, 2);
	size_t off, n;
	line_span(c.buf, c.len, 2, &off, &n);
	void *obj = NULL;
	/* With and without its newline. */
	for (int nl = 0; nl < 2; nl++) {
		assert_err(omc_audit_parse_line(&obj, c.buf + off, n - (size_t)nl), OMC_OK);
		json_t *o = obj;
		assert_int_equal(json_integer_value(json_object_get(o, "seq")), 2);
		assert_int_equal(json_integer_value(json_object_get(o, "time")), 1700000002);
		assert_string_equal(json_string_value(json_object_get(o, "event")), "aka");
		assert_string_equal(json_string_value(json_object_get(o, "actor")), "user:alice");
		assert_string_equal(json_string_value(json_object_get(o, "subject")), "mcim:m2");
		assert_string_equal(json_string_value(json_object_get(o, "result")), "ok");
		assert_string_equal(json_string_value(json_object_get(o, "detail")), "record 2 of the test chain");
		json_decref(o);
	}
	/* Two lines are not one. */
	assert_err(omc_audit_parse_line(&obj, c.buf, c.len), OMC_ERR_BAD_FORMAT);
	assert_null(obj);
	assert_err(omc_audit_parse_line(&obj, "", 0), OMC_ERR_BAD_FORMAT);
	assert_err(omc_audit_parse_line(NULL, "", 0), OMC_ERR_BAD_ARG);
	chain_free(&c);
}

/* The format pinned by an independent computation: the body written out
 * by hand, SHA-256 and HMAC from OpenSSL directly. */
static void test_known_answer(void **state)
{
	(void)state;
	omc_audit_head h = {0};
	omc_audit_event ev = {.time = 1700000000, .event = "install", .actor = "tre", .subject = "mcim:a\"b",
			      .result = "ok", .detail = "boot \\ 1"};
	char *line;
	size_t n;
	assert_err(omc_audit_record(&line, &n, &h, key, &ev), OMC_OK);

	static const char body[] = "{\"actor\":\"tre\",\"detail\":\"boot \\\\ 1\",\"event\":\"install\","
				   "\"result\":\"ok\",\"seq\":1,\"subject\":\"mcim:a\\\"b\",\"time\":1700000000}";
	uint8_t zeros[32] = {0}, hash[32], mac[32];
	unsigned int hl = 0, ml = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, "omc/audit/v1", 12), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, zeros, 32), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, body, strlen(body)), 1);
	assert_int_equal(EVP_DigestFinal_ex(ctx, hash, &hl), 1);
	EVP_MD_CTX_free(ctx);
	assert_non_null(HMAC(EVP_sha256(), key, 32, hash, 32, mac, &ml));
	assert_memory_equal(h.hash, hash, 32);

	char hh[65], mh[65], want[1024];
	assert_err(omc_hex_encode(hh, sizeof hh, hash, 32), OMC_OK);
	assert_err(omc_hex_encode(mh, sizeof mh, mac, 32), OMC_OK);
	snprintf(want, sizeof want,
		 "{\"actor\":\"tre\",\"detail\":\"boot \\\\ 1\",\"event\":\"install\",\"hash\":\"%s\",\"mac\":\"%s\","
		 "\"prev\":\"%064d\",\"result\":\"ok\",\"seq\":1,\"subject\":\"mcim:a\\\"b\",\"time\":1700000000}\n",
		 hh, mh, 0);
	assert_string_equal(line, want);
	omc_free(line);
}

/* Every allocation of record, verify, extends and parse_line made to fail
 * in turn (jansson's included, see main): the answer is OMC_ERR_NOMEM and
 * nothing changes, never a verdict about the log. */
static void test_alloc_failure_sweep(void **state)
{
	(void)state;
	chain c;
	chain_build(&c, 3);
	omc_audit_event ev = {.time = 9, .event = "e", .actor = "a", .subject = "s", .result = "ok", .detail = "d"};
	size_t off1, len1;
	line_span(c.buf, c.len, 1, &off1, &len1);
	unsigned long fails = 0;
	for (unsigned long i = 1;; i++) {
		omc_audit_head h = c.head;
		char *line = NULL;
		size_t n = 0;
		unsigned long before = omc_test_alloc_count();
		omc_test_alloc_fail_at(i);
		omc_err e = omc_audit_record(&line, &n, &h, key, &ev);
		omc_test_alloc_fail_at(0);
		if (omc_test_alloc_count() - before < i) {
			assert_err(e, OMC_OK);
			omc_free(line);
			break;
		}
		assert_err(e, OMC_ERR_NOMEM);
		assert_null(line);
		assert_memory_equal(&h, &c.head, sizeof h);
		fails++;
	}
	for (int what = 0; what < 4; what++)
		for (unsigned long i = 1;; i++) {
			omc_audit_head h;
			size_t bad;
			void *obj = NULL;
			unsigned long before = omc_test_alloc_count();
			omc_test_alloc_fail_at(i);
			omc_err e = what == 0   ? omc_audit_verify(&h, &bad, c.buf, c.len, key)
				    : what == 1 ? omc_audit_verify(&h, &bad, c.buf, c.len, NULL)
				    : what == 2 ? omc_audit_extends(c.buf, c.len, key, &c.head)
						: omc_audit_parse_line(&obj, c.buf, len1);
			omc_test_alloc_fail_at(0);
			if (omc_test_alloc_count() - before < i) {
				assert_err(e, OMC_OK);
				json_decref(obj);
				break;
			}
			assert_err(e, OMC_ERR_NOMEM);
			assert_null(obj);
			fails++;
		}
	print_message("audit: %lu allocation failures injected, all reported as NOMEM\n", fails);
	chain_free(&c);
}

static void test_alloc_failure(void **state)
{
	(void)state;
	omc_audit_head h = {0};
	omc_audit_event ev = {.time = 1, .event = "e", .actor = "a", .subject = "s", .result = "ok", .detail = "d"};
	char *line = (char *)1;
	size_t n = 3;
	omc_test_alloc_fail_at(1);
	assert_err(omc_audit_record(&line, &n, &h, key, &ev), OMC_ERR_NOMEM);
	omc_test_alloc_fail_at(0);
	assert_null(line);
	assert_int_equal(n, 0);
	assert_int_equal(h.count, 0);
	assert_err(omc_audit_record(&line, &n, &h, key, &ev), OMC_OK);
	assert_int_equal(h.count, 1);
	omc_free(line);
}

int main(void)
{
	/* As in the library (omc_proto_init): jansson allocates through
	 * omc_alloc, so its blocks are wiped and can be made to fail. */
	json_set_alloc_funcs(omc_alloc, omc_free);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_of_100),
		cmocka_unit_test(test_empty_chain),
		cmocka_unit_test(test_edit_each_field),
		cmocka_unit_test(test_delete_swap_duplicate),
		cmocka_unit_test(test_truncated_tail),
		cmocka_unit_test(test_torn_last_line),
		cmocka_unit_test(test_forged_append),
		cmocka_unit_test(test_every_byte_change),
		cmocka_unit_test(test_fields_refused),
		cmocka_unit_test(test_detail_truncated),
		cmocka_unit_test(test_strict_lines),
		cmocka_unit_test(test_integer_range),
		cmocka_unit_test(test_parse_line),
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_alloc_failure),
		cmocka_unit_test(test_alloc_failure_sweep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
