/* The growable body buffer of the HTTP server and client. */
#include <string.h>

#include "net/net_internal.h"
#include "util/util_internal.h"

bool omc_net_append(uint8_t **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap : 1024;
		while (c < *len + n + 1)
			c *= 2;
		uint8_t *b = omc_realloc(*buf, c);
		if (!b)
			return false;
		*buf = b;
		*cap = c;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	return true;
}
