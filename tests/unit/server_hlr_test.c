/* osmo-hlr as the ICO's authentication centre, without osmo-hlr
 * (docs/hlr.md; tests/peers/hlr_gsup_test.c runs the real one): the CTRL
 * frame and its bounds-checked parser (every prefix of a frame is
 * "incomplete", malformed replies refused, long values cut); the CCIF's
 * CTRL client against a scripted peer on loopback (the commands and the
 * aud3g value it sends, an existing subscriber taken over, a refusal
 * making the whole registration fail and roll back, TRAPs and split
 * frames; a retired PCID deleted); the config's refusals; and the VNO with its GSUP source down:
 * a clear 502 naming osmo-hlr, while another range still goes to its own
 * AuC.
 * And hostapd's hlr_auc_gw socket of the ICO's AuC, set in the config.
 * covers: NET-1, NET-2, CCIF-1, CHG-5, SEC-13 */
#include "srv_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "server/hlr_internal.h"

#define K1 "465b5ce8b199b49faa5f0a2ee238a6bc"
#define OPC1 "cd63cb71954a9f4e48a5994e37a02baf"

/* --- the frame and the parser ------------------------------------------------------------------- */

static size_t frame_of(uint8_t *out, size_t cap, uint8_t proto, uint8_t ext, const char *text)
{
	size_t n = strlen(text);
	assert_true(4 + n <= cap);
	out[0] = (uint8_t)((n + 1) >> 8);
	out[1] = (uint8_t)(n + 1);
	out[2] = proto;
	out[3] = ext;
	memcpy(out + 4, text, n);
	return 4 + n;
}

static void test_frame(void **state)
{
	(void)state;
	uint8_t f[SRV_CTRL_MSG_MAX];
	size_t fl = 0;
	assert_int_equal(srv_ctrl_frame(f, sizeof f, &fl, true, 3, "subscriber.create", "001010000000001"), OMC_OK);
	const char *want = "SET 3 subscriber.create 001010000000001";
	assert_int_equal(fl, 4 + strlen(want));
	assert_int_equal(f[0], 0);
	assert_int_equal(f[1], strlen(want) + 1);
	assert_int_equal(f[2], 0xee);
	assert_int_equal(f[3], 0x00);
	assert_memory_equal(f + 4, want, strlen(want));
	assert_int_equal(srv_ctrl_frame(f, sizeof f, &fl, false, 9, "subscriber.by-imsi-1.info", NULL), OMC_OK);
	assert_memory_equal(f + 4, "GET 9 subscriber.by-imsi-1.info", fl - 4);
	/* Too small a buffer: refused, nothing claimed. */
	assert_int_equal(srv_ctrl_frame(f, 20, &fl, true, 3, "subscriber.create", "001010000000001"), OMC_ERR_NO_SPACE);
	assert_int_equal(fl, 0);
}

static void test_parse_replies(void **state)
{
	(void)state;
	uint8_t f[2048];
	srv_ctrl_reply r;
	size_t used = 9;
	size_t n = frame_of(f, sizeof f, 0xee, 0x00, "SET_REPLY 12 subscriber.create 4");
	/* Every proper prefix: wait for more. */
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(srv_ctrl_parse(&r, &used, f, i), OMC_OK);
		assert_int_equal(used, 0);
	}
	assert_int_equal(srv_ctrl_parse(&r, &used, f, n), OMC_OK);
	assert_int_equal(used, n);
	assert_int_equal(r.verb, SRV_CTRL_SET_REPLY);
	assert_int_equal(r.id, 12);
	assert_string_equal(r.var, "subscriber.create");
	assert_string_equal(r.value, "4");
	/* Two frames in a row: the first one's length only. */
	size_t n2 = frame_of(f + n, sizeof f - n, 0xee, 0x00, "ERROR 13 Subscriber already exists.");
	assert_int_equal(srv_ctrl_parse(&r, &used, f, n + n2), OMC_OK);
	assert_int_equal(used, n);
	assert_int_equal(srv_ctrl_parse(&r, &used, f + n, n2), OMC_OK);
	assert_int_equal(r.verb, SRV_CTRL_ERROR);
	assert_int_equal(r.id, 13);
	assert_string_equal(r.value, "Subscriber already exists.");
	/* ERROR without a reason; a GET_REPLY of several lines; a TRAP. */
	n = frame_of(f, sizeof f, 0xee, 0x00, "ERROR 5");
	assert_int_equal(srv_ctrl_parse(&r, &used, f, n), OMC_OK);
	assert_int_equal(r.verb, SRV_CTRL_ERROR);
	assert_string_equal(r.value, "");
	n = frame_of(f, sizeof f, 0xee, 0x00, "GET_REPLY 7 subscriber.by-imsi-1.info \nid\t1\nimsi\t1");
	assert_int_equal(srv_ctrl_parse(&r, &used, f, n), OMC_OK);
	assert_int_equal(r.verb, SRV_CTRL_GET_REPLY);
	assert_string_equal(r.value, "\nid\t1\nimsi\t1");
	n = frame_of(f, sizeof f, 0xee, 0x00, "TRAP 0 bts.0.location 1,2");
	assert_int_equal(srv_ctrl_parse(&r, &used, f, n), OMC_OK);
	assert_int_equal(r.verb, SRV_CTRL_TRAP);
	/* An IPA CCM frame (PING): skipped whole. */
	const uint8_t ping[] = {0x00, 0x01, 0xfe, 0x00};
	assert_int_equal(srv_ctrl_parse(&r, &used, ping, sizeof ping), OMC_OK);
	assert_int_equal(r.verb, SRV_CTRL_OTHER);
	assert_int_equal(used, 4);
	/* A value longer than the reply holds is cut, not overrun. */
	char big[1200];
	memcpy(big, "SET_REPLY 1 v ", 14);
	memset(big + 14, 'x', sizeof big - 15);
	big[sizeof big - 1] = 0;
	n = frame_of(f, sizeof f, 0xee, 0x00, big);
	assert_int_equal(srv_ctrl_parse(&r, &used, f, n), OMC_OK);
	assert_int_equal(strlen(r.value), sizeof r.value - 1);
}

static void test_parse_refusals(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"SET_REPLY",          /* no id */
		"SET_REPLY 1",        /* no variable */
		"SET_REPLY x1 v 1",   /* id not digits */
		"SET_REPLY 1234567890 v 1", /* id too long */
		"HELLO 1 v 1",        /* no such verb */
		" SET_REPLY 1 v 1",   /* empty verb */
		"SET_REPLY  1 v 1",   /* empty id */
		"",                   /* nothing after the extension */
	};
	uint8_t f[256];
	srv_ctrl_reply r;
	size_t used = 0;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t n = frame_of(f, sizeof f, 0xee, 0x00, bad[i]);
		if (srv_ctrl_parse(&r, &used, f, n) != OMC_ERR_BAD_FORMAT)
			fail_msg("'%s' was not refused", bad[i]);
		assert_int_equal(used, n); /* the frame is consumed all the same */
	}
	/* Not CTRL: another osmo extension, another IPA protocol, no extension. */
	size_t n = frame_of(f, sizeof f, 0xee, 0x05, "SET_REPLY 1 v 1");
	assert_int_equal(srv_ctrl_parse(&r, &used, f, n), OMC_ERR_BAD_FORMAT);
	n = frame_of(f, sizeof f, 0x00, 0x00, "SET_REPLY 1 v 1");
	assert_int_equal(srv_ctrl_parse(&r, &used, f, n), OMC_ERR_BAD_FORMAT);
	const uint8_t empty[] = {0x00, 0x00, 0xee};
	assert_int_equal(srv_ctrl_parse(&r, &used, empty, sizeof empty), OMC_ERR_BAD_FORMAT);
	/* A NUL inside the value. */
	n = frame_of(f, sizeof f, 0xee, 0x00, "SET_REPLY 1 v 1x");
	f[n - 1] = 0;
	assert_int_equal(srv_ctrl_parse(&r, &used, f, n), OMC_ERR_BAD_FORMAT);
	/* A control byte in the variable. */
	n = frame_of(f, sizeof f, 0xee, 0x00, "SET_REPLY 1 v\x01 1");
	assert_int_equal(srv_ctrl_parse(&r, &used, f, n), OMC_ERR_BAD_FORMAT);
}

/* --- a scripted CTRL peer -------------------------------------------------------------------------- */

typedef struct peer {
	int lfd;
	unsigned port;
	pthread_t th;
	/* What to answer, by the command's variable: "ok", "exists", "refuse". */
	const char *create, *aud3g, *del;
	bool trap_first; /* a TRAP before each reply, and the reply split */
	char got[8][200];
	size_t n_got;
} peer;

static void *peer_main(void *arg)
{
	peer *p = arg;
	for (;;) {
		int c = accept(p->lfd, NULL, NULL);
		if (c < 0)
			return NULL;
		uint8_t in[2048];
		size_t il = 0;
		for (;;) {
			ssize_t n = recv(c, in + il, sizeof in - il, 0);
			if (n <= 0)
				break;
			il += (size_t)n;
			while (il >= 3 && il >= 3 + ((size_t)in[0] << 8 | in[1])) {
				size_t fl = 3 + ((size_t)in[0] << 8 | in[1]);
				char cmd[190];
				snprintf(cmd, sizeof cmd, "%.*s", (int)(fl - 4), (const char *)in + 4);
				memmove(in, in + fl, il - fl);
				il -= fl;
				if (p->n_got < 8)
					memcpy(p->got[p->n_got++], cmd, sizeof cmd);
				unsigned id = 0;
				char var[200] = "";
				sscanf(cmd, "SET %u %199s", &id, var);
				const char *how = strstr(var, "create")	 ? p->create
						  : strstr(var, "aud3g")  ? p->aud3g
						  : strstr(var, "delete") ? p->del
									  : "ok";
				char reply[400];
				if (!strcmp(how, "exists"))
					snprintf(reply, sizeof reply, "ERROR %u Subscriber already exists.", id);
				else if (!strcmp(how, "missing"))
					snprintf(reply, sizeof reply, "ERROR %u Subscriber doesn't exist.", id);
				else if (!strcmp(how, "refuse"))
					snprintf(reply, sizeof reply, "ERROR %u Update aud3g failed.", id);
				else
					snprintf(reply, sizeof reply, "SET_REPLY %u %s OK", id, var);
				uint8_t f[512];
				size_t n2 = 0;
				if (p->trap_first) {
					n2 = frame_of(f, sizeof f, 0xee, 0x00, "TRAP 0 hlr.event 1");
					assert_true(send(c, f, n2, 0) == (ssize_t)n2);
				}
				n2 = frame_of(f, sizeof f, 0xee, 0x00, reply);
				if (p->trap_first) {
					assert_true(send(c, f, 5, 0) == 5);
					usleep(20000);
					assert_true(send(c, f + 5, n2 - 5, 0) == (ssize_t)(n2 - 5));
				} else {
					assert_true(send(c, f, n2, 0) == (ssize_t)n2);
				}
			}
		}
		close(c);
	}
}

static void peer_start(peer *p)
{
	p->lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t al = sizeof a;
	assert_int_equal(getsockname(p->lfd, (struct sockaddr *)&a, &al), 0);
	p->port = ntohs(a.sin_port);
	assert_int_equal(listen(p->lfd, 4), 0);
	assert_int_equal(pthread_create(&p->th, NULL, peer_main, p), 0);
}

static void peer_stop(peer *p)
{
	shutdown(p->lfd, SHUT_RDWR);
	close(p->lfd);
	pthread_join(p->th, NULL);
}

static void conf_append(sf_env *e, const char *text)
{
	FILE *f = fopen(e->conf, "a");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A PCID of the factory, reported by the subscriber: the status. */
static int report(sf_env *e, const char *imsi, const char *alg_json)
{
	char pcid[300];
	snprintf(pcid, sizeof pcid, "{\"imsi\":\"%s\",\"k\":\"%s\",%s}", imsi, K1, alg_json);
	sf_dev d;
	sf_dev_make(e, &d, pcid);
	json_t *b = json_pack("{s:s}", "report", d.report);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	int st = sf_bearer(e, e->tokens[0], "POST", "ccif", "/v1/reports", s, NULL);
	omc_free(s);
	sf_dev_free(&d);
	return st;
}

static void test_ccif_ctrl(void **state)
{
	(void)state;
	peer p = {.create = "ok", .aud3g = "ok"};
	peer_start(&p);
	sf_env e;
	sf_up(&e);
	sf_stop(&e);
	char c[200];
	snprintf(c, sizeof c, "\n[ccif]\nhlr_ctrl = 127.0.0.1:%u\nhlr_timeout = 10000\n", p.port);
	conf_append(&e, c);
	sf_start(&e);
	/* CCIF-1: the PCID goes to osmo-hlr, K and OPc in aud3g. */
	assert_int_equal(report(&e, "001019000000101", "\"opc\":\"" OPC1 "\""), 201);
	assert_int_equal(p.n_got, 4);
	assert_string_equal(p.got[0], "SET 1 subscriber.create 001019000000101");
	assert_string_equal(p.got[1], "SET 2 subscriber.by-imsi-001019000000101.aud3g MILENAGE," K1 ",OPC," OPC1 ",5");
	assert_string_equal(p.got[2], "SET 3 subscriber.by-imsi-001019000000101.ps-enabled 1");
	assert_string_equal(p.got[3], "SET 4 subscriber.by-imsi-001019000000101.cs-enabled 0");
	/* A subscriber osmo-hlr has already (left by a failed registration),
	 * with a TRAP before each reply and the replies split: taken over. */
	p.n_got = 0;
	p.create = "exists";
	p.trap_first = true;
	assert_int_equal(report(&e, "001019000000102", "\"opc\":\"" OPC1 "\""), 201);
	assert_int_equal(p.n_got, 4);
	/* osmo-hlr refuses the key: nothing of the PCID is kept here. */
	p.n_got = 0;
	p.create = "ok";
	p.aud3g = "refuse";
	p.trap_first = false;
	assert_int_equal(report(&e, "001019000000103", "\"opc\":\"" OPC1 "\""), 500);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM auc_subscriber WHERE imsi = '001019000000103'"), 0);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM ccif_pcid WHERE imsi = '001019000000103'"), 0);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM ccif_pcid WHERE imsi = '001019000000101'"), 1);
	/* TUAK: osmo-hlr 1.5 has none; refused before anything is sent. */
	p.n_got = 0;
	p.aud3g = "ok";
	assert_int_equal(report(&e, "001019000000104", "\"alg\":\"tuak\",\"topc\":\"" K1 K1 "\""), 500);
	assert_int_equal(p.n_got, 0);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM auc_subscriber WHERE imsi = '001019000000104'"), 0);
	/* No CTRL peer at all: refused too, and kept nowhere. */
	peer_stop(&p);
	assert_int_equal(report(&e, "001019000000105", "\"opc\":\"" OPC1 "\""), 500);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM ccif_pcid WHERE imsi = '001019000000105'"), 0);
	sf_down(&e);
}

/* A PCID a renewal retired leaves osmo-hlr (CHG-5); one it never had is
 * no error, any other refusal is. */
static void test_ccif_retire(void **state)
{
	(void)state;
	peer p = {.del = "ok"};
	peer_start(&p);
	omc_server *s = omc_calloc(1, sizeof *s);
	assert_non_null(s);
	char a[40];
	snprintf(a, sizeof a, "127.0.0.1:%u", p.port);
	assert_true(srv_hlr_config(s, "ccif", "hlr_ctrl", a));
	assert_int_equal(srv_ccif_hlr_retire(s, "001019000000201"), OMC_OK);
	assert_int_equal(p.n_got, 1);
	assert_string_equal(p.got[0], "SET 1 subscriber.delete 001019000000201");
	p.del = "missing";
	assert_int_equal(srv_ccif_hlr_retire(s, "001019000000202"), OMC_OK);
	p.del = "refuse";
	assert_int_equal(srv_ccif_hlr_retire(s, "001019000000203"), OMC_ERR_DENIED);
	assert_int_equal(srv_ccif_hlr_retire(s, "12345"), OMC_ERR_BAD_ARG);
	assert_int_equal(p.n_got, 3);
	srv_hlr_stop(s);
	omc_free(s);
	peer_stop(&p);
}

static void test_config_refusals(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"[ccif]\nhlr_ctrl = 10.0.0.1:4259\n",              /* K and OPc off loopback */
		"[ccif]\nhlr_ctrl = 127.0.0.1\n",                  /* no port */
		"[ccif]\nhlr_ctrl = 127.0.0.1:0\n",                /* port 0 */
		"[ccif]\nhlr_timeout = 5\n",                       /* under 100 ms */
		"[ccif]\nmode = x\n",                              /* unknown key */
		"[vno.home h]\naddress = 127.0.0.1:4222\nimsi_prefix = 00101\n", /* no type */
		"[vno.home h]\ntype = diameter\n",                 /* not a type */
		"[vno.home h]\ntype = gsup\nimsi_prefix = 00101\n", /* no address */
		"[vno.home h]\ntype = gsup\naddress = localhost:4222\nimsi_prefix = 00101\n",
		"[vno.home h]\ntype = gsup\naddress = 127.0.0.1:4222\nimsi_prefix = 0010\n", /* too short */
		"[vno.home h]\ntype = gsup\naddress = 127.0.0.1:4222\nimsi_prefix = 99999\n", /* no operator */
		"[vno.home H!]\ntype = gsup\n",                    /* not a name */
		"[vno]\ngsup_timeout = abc\n",
	};
	sf_env e;
	sf_up(&e);
	sf_stop(&e);
	uint8_t *orig = NULL;
	size_t ol = 0;
	assert_int_equal(omc_read_file(e.conf, &orig, &ol, 1 << 20), OMC_OK);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		FILE *f = fopen(e.conf, "w");
		assert_non_null(f);
		assert_int_equal(fwrite(orig, 1, ol, f), ol);
		fprintf(f, "\n%s", bad[i]);
		fclose(f);
		omc_server_opts o = {.config = e.conf};
		omc_server *s = NULL;
		omc_err er = omc_server_start(&s, &o);
		if (er != OMC_ERR_BAD_FORMAT) {
			omc_server_stop(s);
			fail_msg("config %zu (%s) not refused: %s", i, bad[i], omc_err_name(er));
		}
		assert_null(s);
	}
	FILE *f = fopen(e.conf, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(orig, 1, ol, f), ol);
	fclose(f);
	omc_free(orig);
	sf_down(&e);
}

static void test_vno_gsup_down(void **state)
{
	(void)state;
	unsigned port = td_free_port(); /* nobody listens there */
	sf_env e;
	sf_up(&e);
	sf_stop(&e);
	char c[300];
	snprintf(c, sizeof c,
		 "\n[vno.home ico]\ntype = gsup\naddress = 127.0.0.1:%u\nimsi_prefix = 00101\n\n[vno]\ngsup_timeout = 2000\n",
		 port);
	conf_append(&e, c);
	sf_start(&e);
	json_t *a = NULL;
	/* NET-1: the ICO's range goes to osmo-hlr, which is not there. */
	assert_int_equal(sf_call(&e, "POST", "vno", "/v1/attach", NULL, "{\"imsi\":\"001019000000001\"}", &a), 502);
	assert_string_equal(sf_code(a), "peer_unavailable");
	const char *m = json_string_value(json_object_get(a, "message"));
	char want[80];
	snprintf(want, sizeof want, "osmo-hlr ico (127.0.0.1:%u, not connected)", port);
	if (!m || !strstr(m, want))
		fail_msg("message '%s' does not say '%s'", m ? m : "", want);
	json_decref(a);
	/* Another operator's range still goes to its own AuC over HTTP. */
	assert_int_equal(sf_call(&e, "POST", "vno", "/v1/attach", NULL, "{\"imsi\":\"001020000000001\"}", &a), 404);
	assert_string_equal(sf_code(a), "unknown_subscriber");
	m = json_string_value(json_object_get(a, "message"));
	assert_non_null(m);
	assert_non_null(strstr(m, "the home AuC"));
	json_decref(a);
	/* Stopping joins the GSUP thread while it still tries to connect. */
	sf_down(&e);
}

/* --- hostapd's hlr_auc_gw socket of an AuC, from the config ------------------------------------- */

/* One hlr_auc_gw request to the socket at path: the answer into ans. */
static void gw_ask(const char *dir, const char *path, const char *q, char *ans, size_t cap)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_un me = {.sun_family = AF_UNIX}, to = {.sun_family = AF_UNIX};
	snprintf(me.sun_path, sizeof me.sun_path, "%s/hostapd.sock", dir);
	snprintf(to.sun_path, sizeof to.sun_path, "%s", path);
	(void)unlink(me.sun_path);
	assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof me), 0);
	assert_int_equal(sendto(fd, q, strlen(q), 0, (struct sockaddr *)&to, sizeof to), (ssize_t)strlen(q));
	struct timeval tv = {.tv_sec = 10};
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
	ssize_t n = recv(fd, ans, cap - 1, 0);
	close(fd);
	(void)unlink(me.sun_path);
	if (n <= 0)
		fail_msg("no answer to '%s' on %s", q, path);
	ans[n] = 0;
}

/* NET-2: `[operator ico] hlrgw_socket` makes `openmcim server` answer
 * hostapd's EAP-SIM/AKA database requests for its AuC (docs/card.md).
 * A device's PCID, reported to the CCIF, gets a vector there that its TRE
 * accepts with the same RES, CK and IK; each request is a new SQN
 * (SEC-13); the socket is mode 0660, gone after the stop; relative paths
 * and one path for two operators are refused at start. */
static void test_hostapd_socket(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	assert_int_equal(sf_report_pcid(&e, &d), 201);
	sf_stop(&e);
	uint8_t *orig = NULL;
	size_t ol = 0;
	assert_int_equal(omc_read_file(e.conf, &orig, &ol, 1 << 20), OMC_OK);
	char path[128], c[300];
	snprintf(path, sizeof path, "%s/auc-hlrgw.sock", e.dir);
	char twice[400];
	snprintf(twice, sizeof twice, "\n[operator ico]\nhlrgw_socket = %s\n\n[operator sho1]\nhlrgw_socket = %s\n", path,
		 path);
	const char *const bad[] = {"\n[operator ico]\nhlrgw_socket = auc.sock\n", twice};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		omc_server *s = NULL;
		omc_err er = sf_try_config(&e, orig, ol, bad[i], &s);
		if (er != OMC_ERR_BAD_FORMAT) {
			omc_server_stop(s);
			fail_msg("config %zu not refused: %s", i, omc_err_name(er));
		}
		assert_int_equal(access(path, F_OK), -1); /* nothing left bound */
	}
	FILE *f = fopen(e.conf, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(orig, 1, ol, f), ol);
	assert_int_equal(fclose(f), 0);
	omc_free(orig);
	snprintf(c, sizeof c, "hlrgw_socket = %s\n", path);
	sf_restart_with(&e, "operator ico", c);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	uint8_t last_rand[16] = {0};
	for (int round = 0; round < 2; round++) {
		char q[64], ans[1024];
		snprintf(q, sizeof q, "AKA-REQ-AUTH %s", d.pcid_imsi);
		gw_ask(e.dir, path, q, ans, sizeof ans);
		char imsi[16], rh[33], ah[33], ikh[33], ckh[33], resh[33];
		if (sscanf(ans, "AKA-RESP-AUTH %15s %32s %32s %32s %32s %32s", imsi, rh, ah, ikh, ckh, resh) != 6)
			fail_msg("answer '%s'", ans);
		assert_string_equal(imsi, d.pcid_imsi);
		uint8_t rand[16], autn[16], ik[16], ck[16], res[16];
		size_t resl = 0;
		assert_int_equal(omc_hex_decode(rand, 16, rh, strlen(rh)), OMC_OK);
		assert_int_equal(omc_hex_decode(autn, 16, ah, strlen(ah)), OMC_OK);
		assert_int_equal(omc_hex_decode(ik, 16, ikh, strlen(ikh)), OMC_OK);
		assert_int_equal(omc_hex_decode(ck, 16, ckh, strlen(ckh)), OMC_OK);
		assert_int_equal(omc_hex_decode_var(res, sizeof res, &resl, resh, strlen(resh)), OMC_OK);
		assert_memory_not_equal(rand, last_rand, 16);
		memcpy(last_rand, rand, 16);
		omc_aka_check_result r;
		static const omc_tre_caller agent = {.kind = OMC_ACTOR_USER, .name = "agent"};
		assert_int_equal(omc_tre_aka(d.t, &agent, "pcid", rand, autn, 16, &r), OMC_OK);
		assert_int_equal(r.status, OMC_AKA_STATUS_OK); /* a fresh SQN each time */
		assert_int_equal(r.res_len, resl);
		assert_memory_equal(r.res, res, resl);
		assert_int_equal(r.ck_len, 16);
		assert_memory_equal(r.ck, ck, 16);
		assert_memory_equal(r.ik, ik, 16);
	}
	/* An IMSI the AuC does not hold. */
	char ans[256];
	gw_ask(e.dir, path, "AKA-REQ-AUTH 001019999999999", ans, sizeof ans);
	assert_string_equal(ans, "AKA-RESP-AUTH 001019999999999 FAILURE");
	sf_dev_free(&d);
	sf_down(&e);
	assert_int_equal(access(path, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame),           cmocka_unit_test(test_parse_replies),
		cmocka_unit_test(test_parse_refusals),  cmocka_unit_test(test_ccif_ctrl),
		cmocka_unit_test(test_ccif_retire),
		cmocka_unit_test(test_config_refusals), cmocka_unit_test(test_vno_gsup_down),
		cmocka_unit_test(test_hostapd_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
