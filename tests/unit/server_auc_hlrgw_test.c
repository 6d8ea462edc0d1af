/* The AuC's hlr_auc_gw protocol (src/server/auc_hlrgw.c), request by
 * request: AKA-REQ-AUTH gives RAND AUTN IK CK RES that a USIM with the
 * subscriber's K accepts (AMF 8000), an unknown IMSI gets FAILURE, an
 * AKA-AUTS from the USIM moves SEQ_HE (and is answered by nothing), SIM
 * requests get FAILURE, malformed requests are refused; and the socket
 * serves one round trip. covers: NET-1, NET-2, SEC-13 */
#include "srv_fixture.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "openmcim/server.h"

#define K_HEX "465b5ce8b199b49faa5f0a2ee238a6bc"
#define OPC_HEX "cd63cb71954a9f4e48a5994e37a02baf"
#define IMSI "001010000000001"

static sf_auc A;

static int setup(void **state)
{
	(void)state;
	if (!sf_auc_up(&A, IMSI, K_HEX, OPC_HEX))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return sf_auc_down(&A) ? 0 : -1;
}

static char out[1000];
static size_t out_len;

static omc_err req(const char *r)
{
	memset(out, 0, sizeof out);
	omc_err e = omc_auc_hlrgw_handle(A.auc, out, sizeof out - 1, &out_len, r, strlen(r));
	out[out_len] = 0;
	return e;
}

/* Split "AKA-RESP-AUTH IMSI RAND AUTN IK CK RES" and check it on a USIM. */
static void check_resp(omc_aka_sqn_ms *ms, uint8_t rand_out[16])
{
	char imsi[16], r[33], a[33], ik[33], ck[33], res[17];
	assert_int_equal(sscanf(out, "AKA-RESP-AUTH %15s %32s %32s %32s %32s %16s", imsi, r, a, ik, ck, res), 6);
	assert_string_equal(imsi, IMSI);
	uint8_t rnd[16], autn[16];
	tl_hex(rnd, 16, r);
	tl_hex(autn, 16, a);
	assert_int_equal(autn[6], 0x80); /* AMF 8000 (EAP-AKA' needs the separation bit) */
	assert_int_equal(autn[7], 0x00);
	omc_aka_check_result cr;
	assert_int_equal(omc_aka_check(&cr, ms, &A.cred, rnd, autn, 16), OMC_OK);
	assert_int_equal(cr.status, OMC_AKA_STATUS_OK);
	tl_expect_hex(cr.res, 8, res, "RES", 0);
	tl_expect_hex(cr.ck, 16, ck, "CK", 0);
	tl_expect_hex(cr.ik, 16, ik, "IK", 0);
	if (rand_out)
		memcpy(rand_out, rnd, 16);
}

static void test_vectors_and_resync(void **state)
{
	(void)state;
	omc_aka_sqn_ms ms;
	assert_int_equal(omc_aka_sqn_ms_init(&ms, 5, 0, 0), OMC_OK);
	assert_int_equal(req("AKA-REQ-AUTH " IMSI), OMC_OK);
	check_resp(&ms, NULL);
	/* An identity with a realm: the IMSI before '@'. */
	assert_int_equal(req("AKA-REQ-AUTH " IMSI "@wlan.mnc001.mcc001.3gppnetwork.org"), OMC_OK);
	check_resp(&ms, NULL);

	/* A USIM far ahead: its AUTS makes the next vector acceptable. */
	omc_aka_sqn_ms ahead;
	assert_int_equal(omc_aka_sqn_ms_init(&ahead, 5, 0, 0), OMC_OK);
	for (unsigned i = 0; i < 32; i++)
		assert_int_equal(omc_aka_sqn_ms_accept(&ahead, (UINT64_C(1) << 25) | i), OMC_OK);
	assert_int_equal(req("AKA-REQ-AUTH " IMSI), OMC_OK);
	char r[33], a[33];
	assert_int_equal(sscanf(out, "AKA-RESP-AUTH %*s %32s %32s", r, a), 2);
	uint8_t rnd[16], autn[16];
	tl_hex(rnd, 16, r);
	tl_hex(autn, 16, a);
	omc_aka_check_result cr;
	assert_int_equal(omc_aka_check(&cr, &ahead, &A.cred, rnd, autn, 16), OMC_OK);
	assert_int_equal(cr.status, OMC_AKA_STATUS_SYNC_FAILURE);
	char auts_hex[29], line[200];
	assert_int_equal(omc_hex_encode(auts_hex, sizeof auts_hex, cr.auts, 14), OMC_OK);
	/* A forged AUTS is refused (and answered by nothing). */
	char bad[29];
	memcpy(bad, auts_hex, sizeof bad);
	bad[27] = bad[27] == '0' ? '1' : '0';
	snprintf(line, sizeof line, "AKA-AUTS %s %s %s", IMSI, bad, r);
	assert_int_equal(req(line), OMC_OK);
	assert_int_equal(out_len, 0);
	assert_int_equal(req("AKA-REQ-AUTH " IMSI), OMC_OK);
	assert_int_equal(sscanf(out, "AKA-RESP-AUTH %*s %32s %32s", r, a), 2);
	tl_hex(rnd, 16, r);
	tl_hex(autn, 16, a);
	assert_int_equal(omc_aka_check(&cr, &ahead, &A.cred, rnd, autn, 16), OMC_OK);
	assert_int_equal(cr.status, OMC_AKA_STATUS_SYNC_FAILURE);
	/* The real one. */
	assert_int_equal(omc_hex_encode(auts_hex, sizeof auts_hex, cr.auts, 14), OMC_OK);
	snprintf(line, sizeof line, "AKA-AUTS %s %s %s", IMSI, auts_hex, r);
	assert_int_equal(req(line), OMC_OK);
	assert_int_equal(out_len, 0);
	assert_int_equal(req("AKA-REQ-AUTH " IMSI), OMC_OK);
	check_resp(&ahead, NULL);
}

static void test_refusals(void **state)
{
	(void)state;
	assert_int_equal(req("AKA-REQ-AUTH 001019999999999"), OMC_OK);
	assert_string_equal(out, "AKA-RESP-AUTH 001019999999999 FAILURE");
	assert_int_equal(req("SIM-REQ-AUTH " IMSI " 3"), OMC_OK);
	assert_string_equal(out, "SIM-RESP-AUTH " IMSI " FAILURE");
	assert_int_equal(req(""), OMC_ERR_BAD_FORMAT);
	assert_int_equal(req("AKA-REQ-AUTH"), OMC_ERR_BAD_FORMAT);
	assert_int_equal(req("AKA-REQ-AUTH 0010a"), OMC_ERR_BAD_FORMAT);
	assert_int_equal(req("AKA-REQ-AUTH 0010100000000012"), OMC_ERR_BAD_FORMAT);
	assert_int_equal(req("FOO " IMSI), OMC_ERR_UNSUPPORTED);
	assert_int_equal(req("AKA-AUTS " IMSI " 00"), OMC_ERR_BAD_FORMAT);
	assert_int_equal(req("AKA-AUTS " IMSI " 0011 00112233445566778899aabbccddeeff"), OMC_ERR_BAD_LENGTH);
	/* No room for an answer. */
	char small[20];
	size_t l;
	assert_int_equal(omc_auc_hlrgw_handle(A.auc, small, sizeof small, &l, "AKA-REQ-AUTH " IMSI, 28),
			 OMC_ERR_NO_SPACE);
}

static volatile int stop;
static char sock_path[96];

static void *serve(void *arg)
{
	(void)arg;
	omc_err e = omc_auc_hlrgw_serve(A.auc, sock_path, &stop);
	return (void *)(uintptr_t)e;
}

static void test_socket(void **state)
{
	(void)state;
	snprintf(sock_path, sizeof sock_path, "%s/hlr.sock", A.dir);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, serve, NULL), 0);
	for (int i = 0; i < 250 && access(sock_path, F_OK) != 0; i++)
		usleep(20000);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_un me = {.sun_family = AF_UNIX}, to = {.sun_family = AF_UNIX};
	snprintf(me.sun_path, sizeof me.sun_path, "%s/client.sock", A.dir);
	snprintf(to.sun_path, sizeof to.sun_path, "%s", sock_path);
	assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof me), 0);
	const char *q = "AKA-REQ-AUTH " IMSI;
	assert_int_equal(sendto(fd, q, strlen(q), 0, (struct sockaddr *)&to, sizeof to), (ssize_t)strlen(q));
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	ssize_t n = recv(fd, out, sizeof out - 1, 0);
	assert_true(n > 0);
	out[n] = 0;
	omc_aka_sqn_ms ms;
	assert_int_equal(omc_aka_sqn_ms_init(&ms, 5, 0, 0), OMC_OK);
	check_resp(&ms, NULL);
	close(fd);
	stop = 1;
	void *rv;
	pthread_join(th, &rv);
	assert_int_equal((omc_err)(uintptr_t)rv, OMC_OK);
	assert_int_equal(access(sock_path, F_OK), -1); /* removed at the end */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_and_resync),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_socket),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
