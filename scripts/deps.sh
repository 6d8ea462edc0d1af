#!/bin/sh
# Install the Debian packages openmcim needs, and nothing when all are present.
# Usage: scripts/deps.sh [build|test|demo|all]   (default: all)
# Idempotent: apt-get runs only when a package is missing. Needs root (or sudo)
# only in that case.
set -eu

BUILD="gcc make cmake pkg-config libssl-dev nettle-dev libjansson-dev libargon2-dev"
BUILD="$BUILD libcjose-dev"
BUILD="$BUILD libmicrohttpd-dev libcurl4-openssl-dev" # src/net
BUILD="$BUILD libsqlite3-dev libinih-dev"              # src/server
BUILD="$BUILD libtss2-dev"                            # src/tre/tpm.c
BUILD="$BUILD libosmo-gsup-client-dev libosmocore-dev" # src/server/vno_gsup.c: GSUP to osmo-hlr
BUILD="$BUILD libpq-dev"                              # src/server/db_pg.c: the PostgreSQL backend
TEST="libcmocka-dev libosmocore-utils clang"
TEST="$TEST spin" # model/: SPIN checks the protocol model (pan.c built with cc)
TEST="$TEST valgrind" # make check-valgrind
TEST="$TEST openssl python3-jwcrypto" # tests/interop/jose_*_test.c, link_openssl_test.c (openssl enc, openssl mac)
TEST="$TEST pcscd vsmartcard-vpcd libpcsclite-dev util-linux" # tests/peers/card_pcsc_test.c
TEST="$TEST hostapd eapoltest wpasupplicant iproute2" # tests/peers/eap_aka_test.c (wpa_supplicant: the wired 802.1X run)
TEST="$TEST osmo-hlr"                   # tests/peers/hlr_gsup_test.c: the ICO's AuC
TEST="$TEST libclang-rt-14-dev"        # make fuzz: libFuzzer, clang's sanitizers
TEST="$TEST swtpm swtpm-tools"         # tests/unit/tre_tpm_test.c, the *_tpm entries
TEST="$TEST chromium"                 # tests/cli/sim_cli_test.c: the report drawn
TEST="$TEST postgresql"               # scripts/pg/cluster.sh: the *_pg server tests

case "${1:-all}" in
build) want="$BUILD" ;;
demo) want="$BUILD" ;;
test | all) want="$BUILD $TEST" ;;
*)
	echo "usage: $0 [build|test|demo|all]" >&2
	exit 2
	;;
esac

missing=""
for p in $want; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done

[ -z "$missing" ] && exit 0

echo "deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "deps: missing packages:$missing (run as root to install)" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
# One update per run; the package lists of a fresh machine are empty.
# .ci/run updates them itself and says so.
[ "${OMC_APT_UPDATED:-0}" = 1 ] || $SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
