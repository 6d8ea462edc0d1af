/* openmcim net: internal helpers shared by the HTTP server and client. */
#ifndef OMC_NET_INTERNAL_H
#define OMC_NET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Append n bytes to *buf (len, cap), growing it by doubling through
 * omc_realloc (the old block wiped) and always leaving room for a NUL
 * after the data. False when out of memory (the buffer is unchanged). */
bool omc_net_append(uint8_t **buf, size_t *len, size_t *cap, const void *p, size_t n);

#ifdef OMC_TEST_HOOKS
#include "openmcim/common.h"
/* Called by every HTTP server of the process, from its pool's threads, with
 * each request's body and the answer's body once the handler has run: the
 * secret canary (tests/canary) scans them. NULL: none. Set it while no
 * server runs. */
typedef void (*omc_test_http_body_fn)(void *arg, const char *method, const char *path, const uint8_t *req,
				      size_t req_len, const char *resp, size_t resp_len);
OMC_API void omc_test_http_on_body(omc_test_http_body_fn fn, void *arg);
#endif

#endif
