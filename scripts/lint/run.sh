#!/bin/sh
# Project greps (s2n's grep_simple_mistakes): patterns that are bugs here.
set -u
cd "$(dirname "$0")/../.."
fail=0
complain() {
	echo "lint: $1" >&2
	echo "$2" | sed 's/^/  /' >&2
	fail=1
}

# One wipe: omc_memzero. memset(.., 0, ..) right before a return or on a
# secret is a wipe the compiler may drop.
hits=$(grep -rnE 'memset\([^;]*(k|key|opc|topc|pin|secret|priv)[a-z_]*\b[^;]*,[[:space:]]*0[[:space:]]*,' src --include=*.c | grep -v 'lint: allow')
[ -n "$hits" ] && complain "wipe secrets with omc_memzero, not memset" "$hits"

# One constant-time compare: no memcmp on MACs, RES, AUTS, tags, keys.
hits=$(grep -rnEi 'memcmp\([^)]*(mac|res|auts|tag|key|opc|pin|digest)' src tools --include=*.c | grep -v 'lint: allow')
[ -n "$hits" ] && complain "compare secrets and MACs with omc_ct_eq, not memcmp" "$hits"

# Only src/util/mem.c calls the allocator.
hits=$(grep -rnE '\b(malloc|calloc|realloc|free)\(' src --include=*.c | grep -v '^src/util/mem.c:' | grep -v 'lint: allow')
[ -n "$hits" ] && complain "allocate through omc_alloc/omc_free (src/util/mem.c)" "$hits"

# src/aka allocates nothing.
hits=$(grep -rnE '\bomc_(alloc|calloc)\(' src/aka)
[ -n "$hits" ] && complain "src/aka must not allocate" "$hits"

# No log call names a secret.
hits=$(grep -rnE 'OMC_LOG_(ERR|WRN|INF|DBG)\([^;]*[^a-z_](k|opc|topc|op|top|pin|key|secret|ck|ik)(\[|,|\)|->|\.)' src tools --include=*.c)
[ -n "$hits" ] && complain "log calls must not take key material" "$hits"

# printf-family calls in the library (logging goes through omc_log).
hits=$(grep -rnE '\b(printf|fprintf|puts|fputs)\(' src --include=*.c | grep -v '^src/util/log.c:' | grep -v 'lint: allow')
[ -n "$hits" ] && complain "the library logs through omc_log_*, never prints" "$hits"

[ $fail -eq 0 ] && echo "lint: ok"
exit $fail
