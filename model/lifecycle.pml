/* GENERATED from src/tre/lifecycle.c by tests/model/lifecycle_pml.c: do not edit.
 * Regenerate: build/tests/lifecycle_pml > model/lifecycle.pml (ctest model_lifecycle_sync
 * fails while the two differ). State 0 (M_NONE) is the model's "no record"; the C
 * states are shifted by one. */
#define M_NONE 0
#define M_INSTALLED 1
#define M_ACTIVATED 2
#define M_DEACTIVATED 3
#define M_BLOCKED 4
#define M_DELETED 5
#define M_REFUSED 255
#define E_ACTIVATE 0
#define E_DEACTIVATE 1
#define E_BLOCK 2
#define E_UNBLOCK 3
#define E_DELETE 4
#define E_INTEGRITY_FAIL 5
#define A_TRE 0
#define A_OWNER 1
#define A_RO 2
#define A_USER 3
#define A_OTHER 4
#define LC_ROWS 25

/* omc_lifecycle_next(): first match of (from, event, actor), else refused. */
inline lc_next(from, ev, actor, to) {
	if
	:: from == M_INSTALLED && ev == E_ACTIVATE && actor == A_OWNER -> to = M_ACTIVATED
	:: from == M_DEACTIVATED && ev == E_ACTIVATE && actor == A_OWNER -> to = M_ACTIVATED
	:: from == M_DEACTIVATED && ev == E_ACTIVATE && actor == A_USER -> to = M_ACTIVATED
	:: from == M_ACTIVATED && ev == E_DEACTIVATE && actor == A_OWNER -> to = M_DEACTIVATED
	:: from == M_ACTIVATED && ev == E_DEACTIVATE && actor == A_USER -> to = M_DEACTIVATED
	:: from == M_INSTALLED && ev == E_BLOCK && actor == A_OWNER -> to = M_BLOCKED
	:: from == M_ACTIVATED && ev == E_BLOCK && actor == A_OWNER -> to = M_BLOCKED
	:: from == M_DEACTIVATED && ev == E_BLOCK && actor == A_OWNER -> to = M_BLOCKED
	:: from == M_INSTALLED && ev == E_INTEGRITY_FAIL && actor == A_TRE -> to = M_BLOCKED
	:: from == M_ACTIVATED && ev == E_INTEGRITY_FAIL && actor == A_TRE -> to = M_BLOCKED
	:: from == M_DEACTIVATED && ev == E_INTEGRITY_FAIL && actor == A_TRE -> to = M_BLOCKED
	:: from == M_BLOCKED && ev == E_INTEGRITY_FAIL && actor == A_TRE -> to = M_BLOCKED
	:: from == M_BLOCKED && ev == E_UNBLOCK && actor == A_OWNER -> to = M_DEACTIVATED
	:: from == M_INSTALLED && ev == E_DELETE && actor == A_OWNER -> to = M_DELETED
	:: from == M_ACTIVATED && ev == E_DELETE && actor == A_OWNER -> to = M_DELETED
	:: from == M_DEACTIVATED && ev == E_DELETE && actor == A_OWNER -> to = M_DELETED
	:: from == M_BLOCKED && ev == E_DELETE && actor == A_OWNER -> to = M_DELETED
	:: from == M_INSTALLED && ev == E_DELETE && actor == A_RO -> to = M_DELETED
	:: from == M_ACTIVATED && ev == E_DELETE && actor == A_RO -> to = M_DELETED
	:: from == M_DEACTIVATED && ev == E_DELETE && actor == A_RO -> to = M_DELETED
	:: from == M_BLOCKED && ev == E_DELETE && actor == A_RO -> to = M_DELETED
	:: from == M_INSTALLED && ev == E_DELETE && actor == A_TRE -> to = M_DELETED
	:: from == M_ACTIVATED && ev == E_DELETE && actor == A_TRE -> to = M_DELETED
	:: from == M_DEACTIVATED && ev == E_DELETE && actor == A_TRE -> to = M_DELETED
	:: from == M_BLOCKED && ev == E_DELETE && actor == A_TRE -> to = M_DELETED
	:: else -> to = M_REFUSED
	fi
}
