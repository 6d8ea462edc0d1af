#!/bin/sh
# Run SPIN on model/openmcim.pml in one configuration (model/README.md).
# Usage: model/check.sh RUN WORKDIR
#   bounded-safety, bounded-liveness   the ctest configuration (label model);
#   bounded-settle, bounded-unstranded, bounded-lockdown_left: one LTL each
#   bounded-direct                     the direct change (safety and settle)
#   direct-safety, direct-liveness     `DIRECT` alone, as `make model` runs it
#   full-safety, full-liveness         the `make model` configuration
#   seeded-early-disable, seeded-replay, seeded-life-budget,
#   seeded-late-receipt, seeded-switch-keep-old, seeded-switch-end
#                                      a copy of the model with a known bug:
#                                      passes only if SPIN finds a violation
# Exit 0 when the run ends as it must; the pan output is in WORKDIR.
set -eu

run=${1:?usage: check.sh RUN WORKDIR}
work=${2:?usage: check.sh RUN WORKDIR}
here=$(cd "$(dirname "$0")" && pwd)
command -v spin >/dev/null 2>&1 || {
	echo "check.sh: spin not found (scripts/deps.sh test)" >&2
	exit 1
}

# The bounds of each configuration (README.md, "Configurations").
BOUNDED="-DNDEV=1 -DMAXCHG=1 -DMAXCRASH=1 -DMAXFAULT=1 -DMAXTAMPER=1 -DMAXSHOFAIL=1 -DCAP=2"
# settle (<>[]) costs the most under fairness: no tamper in the ctest run
# (the other two formulas and make model keep it).
BOUNDED_SETTLE="-DNDEV=1 -DMAXCHG=1 -DMAXCRASH=1 -DMAXFAULT=1 -DMAXTAMPER=0 -DMAXSHOFAIL=1 -DCAP=2"
# the other two formulas under ctest: no SHO refusing a receipt
BOUNDED_LIVE="-DNDEV=1 -DMAXCHG=1 -DMAXCRASH=1 -DMAXFAULT=1 -DMAXTAMPER=1 -DMAXSHOFAIL=0 -DCAP=2"
FULL="-DNDEV=1 -DMAXCHG=2 -DMAXCRASH=1 -DMAXFAULT=1 -DMAXTAMPER=1 -DMAXSHOFAIL=1 -DCAP=2"
FULLF="-DNDEV=1 -DMAXCHG=1 -DMAXCRASH=1 -DMAXFAULT=2 -DMAXTAMPER=1 -DMAXSHOFAIL=1 -DCAP=2"
# seeded-life-budget: two changes, a crash and a fault, no tamper, no SHO
# refusal, and a budget of one requeue, so that two refusals spend it.
SEEDLIFE="-DNDEV=1 -DMAXCHG=2 -DMAXCRASH=1 -DMAXFAULT=1 -DMAXTAMPER=0 -DMAXSHOFAIL=0 -DCAP=2 -DREQUEUE_MAX=1"
# The direct change (a switch on trial): two, with a crash, two faults and an
# SHO refusal; no change by reverting, no tamper (model/README.md).
DIRECT="-DNDEV=1 -DMAXCHG=0 -DMAXDIRECT=2 -DMAXCRASH=1 -DMAXFAULT=2 -DMAXTAMPER=0 -DMAXSHOFAIL=1 -DCAP=2"
FULL2="-DNDEV=2 -DMAXCHG=1 -DMAXCRASH=0 -DMAXFAULT=1 -DMAXTAMPER=0 -DMAXSHOFAIL=1 -DCAP=2"
CC=${CC:-cc}
# pan.c takes longer to optimise than the bounded runs take to run.
case "$run" in
full-*) PANFLAGS="-O2 -w -DCOLLAPSE -DMEMLIM=2048" ;;
*-liveness | *-settle | *-unstranded | *-lockdown_left | *-direct | seeded-life-budget | seeded-late-receipt | seeded-switch-end) PANFLAGS="-O1 -w -DCOLLAPSE -DMEMLIM=2048" ;;
*) PANFLAGS="-O0 -w -DCOLLAPSE -DMEMLIM=2048" ;;
esac

rm -rf "$work"
mkdir -p "$work"
cp "$here/openmcim.pml" "$here/lifecycle.pml" "$work/"
cd "$work"

# spin -a, cc, pan; $1 the model defines, $2 the pan.c defines, $3 pan's
# arguments. Fails unless pan ran to its end.
pan() {
	# shellcheck disable=SC2086
	spin -a $1 openmcim.pml >spin.out 2>&1 || {
		cat spin.out >&2
		exit 1
	}
	# shellcheck disable=SC2086
	$CC $PANFLAGS $2 -o pan pan.c >cc.out 2>&1 || {
		cat cc.out >&2
		exit 1
	}
	# shellcheck disable=SC2086
	./pan $3 >pan.out 2>&1 || true
	grep -q "State-vector" pan.out || {
		cat pan.out >&2
		exit 1
	}
	sed -n '/^(Spin/,/^pan: elapsed/p' pan.out
}

errors() { sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' pan.out | head -n 1; }

# A complete search and no error.
clean() {
	[ "$(errors)" = 0 ] || {
		echo "check.sh: $run: SPIN found a violation:" >&2
		grep -E "assertion violated|acceptance cycle|invalid end state|errors:" pan.out >&2 || true
		# shellcheck disable=SC2086
		[ ! -f openmcim.pml.trail ] || spin -t -p $1 openmcim.pml 2>&1 | tail -n 60 >&2
		exit 1
	}
	if grep -q "search not completed\|max search depth too small" pan.out; then
		echo "check.sh: $run: search incomplete (raise -m)" >&2
		exit 1
	fi
	if grep -q "hash factor\|out of memory" pan.out && grep -q "pan: out of memory" pan.out; then
		echo "check.sh: $run: out of memory" >&2
		exit 1
	fi
}

# The seeded bug must be found.
bites() {
	e=$(errors)
	if [ -z "$e" ] || [ "$e" -eq 0 ]; then
		echo "check.sh: $run: SPIN did NOT find the seeded bug" >&2
		exit 1
	fi
	grep -q "$1" pan.out || {
		echo "check.sh: $run: the violation is not the expected one ($1)" >&2
		grep -E "violated|cycle|errors:" pan.out >&2 || true
		exit 1
	}
	echo "check.sh: $run: found, as it must be: $(grep -m1 -E 'violated|cycle' pan.out)"
}

safety() {
	pan "$1" "-DSAFETY -DNOCLAIM" "-m100000"
	clean "$1"
}

liveness() {
	for f in ${2:-settle unstranded lockdown_left}; do
		pan "$1" "-DNFAIR=4" "-a -f -m100000 -N $f"
		clean "$1"
		echo "check.sh: $run: ltl $f holds"
	done
}

case "$run" in
bounded-safety) safety "$BOUNDED" ;;
bounded-liveness) liveness "$BOUNDED" ;;
bounded-settle) liveness "$BOUNDED_SETTLE" settle ;;
bounded-unstranded) liveness "$BOUNDED_LIVE" unstranded ;;
bounded-lockdown_left) liveness "$BOUNDED_LIVE" lockdown_left ;;
bounded-direct)
	safety "$DIRECT"
	liveness "$DIRECT" settle
	;;
direct-safety) safety "$DIRECT" ;;
direct-liveness) liveness "$DIRECT" ;;
full-safety)
	safety "$FULL"
	safety "$FULLF"
	safety "$FULL2"
	safety "$DIRECT"
	;;
full-liveness)
	liveness "$FULL"
	liveness "$FULLF"
	liveness "$FULL2"
	liveness "$DIRECT"
	;;
seeded-early-disable)
	# The copy: the old SHO disables the IMSI when the change is asked,
	# before the TRE's signed deletion receipt (the issue's example).
	pan "$BOUNDED -DSEED_EARLY_DISABLE" "-DSAFETY -DNOCLAIM" "-m100000"
	bites "assertion violated.*auc_en"
	;;
seeded-replay)
	# The copy: the TRE's issuer-sequence check is gone; a duplicated or
	# overtaken command is carried out again.
	pan "$BOUNDED -DSEED_REPLAY" "-DSAFETY -DNOCLAIM" "-m100000"
	bites "assertion violated.*applied"
	;;
seeded-life-budget)
	# The copy: the DPF's requeue budget counts every refusal in the TRE's
	# life (dpf.c before the fix): a reprovision refused having done
	# nothing, once the budget is spent, is not sent again and the device
	# keeps the old SHO's MCIM while the DRF names the new one.
	pan "$SEEDLIFE -DSEED_LIFE_BUDGET" "-DNFAIR=4" "-a -f -m100000 -N settle"
	bites "acceptance cycle"
	;;
seeded-late-receipt)
	# The copy: a late receipt of the SHO the device has left makes the
	# DRF's `direct` device `provisioned` (dpf.c receipt before the fix):
	# the device never hears of the change.
	pan "$DIRECT -DSEED_LATE_RECEIPT" "-DNFAIR=4" "-a -f -m100000 -N settle"
	bites "acceptance cycle"
	;;
seeded-switch-keep-old)
	# The copy: the RO's switch activates the new MCIM and leaves the old
	# one activated (no deactivation for the trial).
	pan "$DIRECT -DSEED_SWITCH_KEEP_OLD" "-DSAFETY -DNOCLAIM" "-m100000"
	bites "assertion violated.*mst"
	;;
seeded-switch-end)
	# The copy: dpf.c before the fix. The receipt sent again while the
	# device is `switching` makes it `provisioned`, and switch_end's
	# update has no condition on the state: with two direct changes it
	# overwrites the second one's `direct`, and the device never hears
	# of that change.
	pan "$DIRECT -DSEED_SWITCH_END" "-DNFAIR=4" "-a -f -m100000 -N settle"
	bites "acceptance cycle"
	;;
*)
	echo "check.sh: unknown run $run" >&2
	exit 2
	;;
esac
