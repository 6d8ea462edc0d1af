/* openmcim: the MCIM lifecycle, the TRE states and the operator change by
 * reverting to the pristine state (CHG-1..3), as the C code does them, over
 * a lossy, duplicating, reordering channel with device crashes, tamper and
 * recovery. model/README.md maps every process, variable and message to
 * the C file and function it abstracts, and lists the bounds.
 *
 * Bounds (override with spin -D...): NDEV devices, MAXCHG operator changes,
 * MAXCRASH agent crashes, MAXFAULT channel faults (drop, duplicate,
 * reorder), MAXTAMPER lockdowns, MAXSHOFAIL refused deletion receipts,
 * CAP messages in flight per direction and device, MAXCMD RO commands
 * (the table's size: queue_reprovision asserts it is never full, so the
 * bound cuts no behaviour off).
 * covers: CHG-1, CHG-2, CHG-3, EVAL-4, TRE-4, MGT-4, SEC-10 */

#include "lifecycle.pml"

#ifndef NDEV
#define NDEV 1
#endif
#define NSHO 2
#ifndef MAXCHG
#define MAXCHG 1
#endif
#ifndef MAXCRASH
#define MAXCRASH 1
#endif
#ifndef MAXFAULT
#define MAXFAULT 1
#endif
#ifndef MAXTAMPER
#define MAXTAMPER 1
#endif
#ifndef MAXSHOFAIL
#define MAXSHOFAIL 1
#endif
#ifndef MAXDIRECT
#define MAXDIRECT 0 /* direct changes (a switch on trial): own configurations */
#endif
#ifndef MAXEARLY
#define MAXEARLY 1
#endif
#ifndef CAP
#define CAP 2
#endif
#ifndef MAXCMD
#define MAXCMD 6
#endif
#define MAXSEQ 12 /* package sequence numbers per SHO: reaching it is a livelock */
#define NIMSI 16 /* IMSI s*8+n+1, n < 7; 0 is none */
#ifndef REQUEUE_MAX
#define REQUEUE_MAX 3 /* dpf.c cmd_result: tries <= 3, refusals since the last carried out */
#endif

/* ---- the TRE (src/tre): persistent, changed only by atomic commits ---- */
byte mst[NDEV * NSHO];   /* the record of (device, SHO): M_* */
byte mimsi[NDEV * NSHO]; /* its IMSI */
byte pseq[NDEV * NSHO];  /* issuer sequence of each SHO (packages) */
byte iseq[NDEV];         /* issuer sequence of the RO (commands) */
bool lock[NDEV];         /* lockdown, sticky */
byte sess[NDEV];         /* open session's nonce, 0 none (volatile: lost on a crash) */
byte lock_ep[NDEV];      /* ghost: lockdowns entered */
byte rec_ep[NDEV];       /* ghost: recoveries done */
bool applied[MAXCMD + 1]; /* ghost: commands that changed TRE state */
bool trial[NDEV];        /* a switch on trial (t->trial) */
byte trial_to[NDEV];     /*   the SHO switched to */
byte trial_from[NDEV];   /*   the SHO deactivated for it + 1 (0 none) */

/* ---- the agent (src/agent/agent.c) ---- */
mtype:ag = {AG_BOOT, AG_PCID, AG_RECEIPT, AG_OPER, AG_LOCK};
mtype:ag ast[NDEV];
byte nonce[NDEV];       /* last session nonce (1..3, cycling) */
byte r_id[NDEV];        /* saved result: command id (0 none) */
bool r_ok[NDEV];        /*   signed result (1) or an error name (0) */
byte r_imsi[NDEV];      /*   the IMSI its `deleted` list names (0 none) */
byte rc_sho[NDEV];      /* saved receipt: SHO + 1 (0 none) */
byte rc_imsi[NDEV];
bool a_dir[NDEV];       /* a->direct: a direct change asked (saved) */
byte stm[NDEV];         /* saved end of a switch: 0 none, 1 confirmed, 2 rolled back */
byte stm_own[NDEV];     /*   the SHO whose MCIM it erased + 1 (0 none) */
byte stm_imsi[NDEV];    /*   its IMSI */
byte stm_back[NDEV];    /*   rolled back: the SHO of the MCIM restored + 1 (0 none) */

/* ---- RO: DRF (src/server/drf.c) and DPF (src/server/dpf.c) ---- */
byte drf_sho[NDEV];     /* drf_device.sho */
bool drf_tre[NDEV];     /* drf_device.tre_id known (registered once) */
byte drf_st[NDEV];      /* drf_device.state: 0 another, D_DIRECT, D_SWITCHING */
#define D_DIRECT 1
#define D_SWITCHING 2
mtype:cs = {C_FREE, C_QUEUED, C_FETCHED, C_ANSWERED, C_DONE, C_REJECTED};
mtype:cs c_st[MAXCMD + 1]; /* dpf_command, id 1..MAXCMD */
byte c_dev[MAXCMD + 1];
byte c_seq[MAXCMD + 1];
byte c_owner[MAXCMD + 1];  /* reprovision: the owner; switch: the SHO switched to */
bool c_switch[MAXCMD + 1]; /* the RO's switch (else its reprovision) */
byte ncmd;              /* ids used; the RO's seq is the id */

/* ---- SHOs (src/server/sho.c) ---- */
mtype:ss = {S_NONE, S_ISSUED, S_INSTALLED, S_DELETED};
mtype:ss sm_st[NSHO * NDEV]; /* sho_mcim.state of (SHO, device) */
byte sm_imsi[NSHO * NDEV];
byte msin[NSHO];        /* counter msin.<sho> */
byte sseq[NSHO];        /* counter seq.<sho> */
bool auc_en[NIMSI];    /* auc_subscriber.enabled */

/* ---- budgets ---- */
byte chg, crashes, faults, tampers, shofail, early, dchg;

/* ---- the network: per device, one channel each way ---- */
mtype:msg = {DL, RCPT, POLL, RES, PKG, DLFAIL, RACK, CMD, ACK, CHGD, STMT, SACK};
chan up[NDEV] = [CAP] of {mtype:msg, byte, byte, byte, byte};
chan down[NDEV] = [CAP] of {mtype:msg, byte, byte, byte, byte};

#define K(d, s) ((d) * NSHO + (s))
#define SK(s, d) ((s) * NDEV + (d))
#define LIVE(x) ((x) != M_NONE && (x) != M_DELETED)
#define ACTIVE(d) (mst[K(d, 0)] == M_ACTIVATED || mst[K(d, 1)] == M_ACTIVATED)
#define QUIET(d) (len(up[d]) == 0 && len(down[d]) == 0)

/* A step's message fields are dead after it: cleared, so that states
 * differing only in them are one. */
#define CLEAR_MSG m = 0; f1 = 0; f2 = 0; f3 = 0; f4 = 0

/* A send on a full channel is a loss (the TCP connection gave up). */
#define send(ch, m, a, b, c, e) if :: len(ch) < CAP -> ch!m, a, b, c, e :: else -> skip fi

/* ---------------------------------------------------------------- TRE */

/* install.c other_operator_active(): activating (d, s) would leave two
 * owners' operational MCIMs activated. */
#define OTHER_ACTIVE(d, s) (mst[K(d, 1 - (s))] == M_ACTIVATED)

/* install.c install_checked() + omc_tre_install(): session nonce, issuer
 * sequence, id not live, the table's activate, one operator at a time;
 * then one commit: the record, the sequence, the session closed. */
inline tre_install(d, s, imsi, seq, n, ok) {
	ok = false;
	if
	:: lock[d] || sess[d] == 0 || n % 4 != sess[d] || seq <= pseq[K(d, s)] || LIVE(mst[K(d, s)]) -> skip
	:: else ->
		if
		:: n >= 4 -> tmp = M_INSTALLED /* activate false: a direct change's */
		:: else ->
			lc_next(M_INSTALLED, E_ACTIVATE, A_OWNER, tmp);
			assert(tmp != M_REFUSED)
		fi;
		if
		:: tmp == M_ACTIVATED && OTHER_ACTIVE(d, s) -> skip
		:: else ->
			mst[K(d, s)] = tmp;
			mimsi[K(d, s)] = imsi;
			pseq[K(d, s)] = seq;
			sess[d] = 0;
			ok = true
		fi
	fi
}

/* install.c omc_tre_command() for the RO's `reprovision` naming an owner:
 * a replay (seq not above the RO's) is refused without a result and
 * consumes nothing; else the seq is consumed and reprovision() erases
 * the owner's operational MCIM (the table's delete by the RO) or lists
 * its tombstone, in one commit. */
inline tre_command(d, id, seq, owner) {
	if
	:: seq <= iseq[d] ->
#ifdef SEED_REPLAY
		goto apply;
#endif
		/* a replayed or reordered command changes nothing */
		vr_ok = false;
		vr_imsi = 0
	:: else ->
#ifdef SEED_REPLAY
apply:
#endif
		assert(!applied[id]); /* a command changes TRE state once at most */
		vr_imsi = 0;
		if
		:: c_switch[id] && (trial[d] || !(mst[K(d, owner)] == M_INSTALLED || mst[K(d, owner)] == M_DEACTIVATED)) ->
			goto refused /* switch_to(): on trial, or no such MCIM: nothing consumed */
		:: c_switch[id] ->
			/* switch_to(): in one commit the other owner's activated
			 * MCIM deactivated, this one activated, the trial recorded */
			applied[id] = true;
			iseq[d] = seq;
			trial_from[d] = 0;
			if
			:: mst[K(d, 1 - owner)] == M_ACTIVATED ->
#ifndef SEED_SWITCH_KEEP_OLD
				mst[K(d, 1 - owner)] = M_DEACTIVATED;
#endif
				trial_from[d] = 2 - owner
			:: else -> skip
			fi;
			mst[K(d, owner)] = M_ACTIVATED;
			trial[d] = true;
			trial_to[d] = owner
		:: !c_switch[id] && LIVE(mst[K(d, owner)]) ->
			applied[id] = true;
			iseq[d] = seq;
			lc_next(mst[K(d, owner)], E_DELETE, A_RO, tmp);
			assert(tmp == M_DELETED);
			mst[K(d, owner)] = tmp;
			vr_imsi = mimsi[K(d, owner)]
		:: !c_switch[id] && mst[K(d, owner)] == M_DELETED ->
			applied[id] = true;
			iseq[d] = seq;
			vr_imsi = mimsi[K(d, owner)]
		:: else -> applied[id] = true; iseq[d] = seq
		fi;
		vr_ok = true
	fi;
	goto done;
refused:
	vr_ok = false;
	vr_imsi = 0;
done:
	vr_id = id
}

/* -------------------------------------------------------------- agent */

/* omc_agent_step() on one device, the TRE library inside it. Each atomic
 * block is one agent step (or the part of one step before a crash point). */
proctype Agent(byte d) {
	mtype:msg m;
	byte f1, f2, f3, f4, tmp, s, vr_id, vr_imsi;
	bool vr_ok, ok;
end:
	do
	/* A power cut between two steps, or inside a command's step after the
	 * TRE's commit and before the agent saved the result (vr_*). */
	:: atomic { crashes < MAXCRASH && ast[d] != AG_BOOT ->
		crashes++; ast[d] = AG_BOOT; sess[d] = 0; vr_id = 0; vr_ok = false; vr_imsi = 0 }
	/* Lockdown stops everything else (omc_agent_step's first check). */
	:: atomic { lock[d] && ast[d] != AG_LOCK && vr_id == 0 -> ast[d] = AG_LOCK; sess[d] = 0 }
	:: atomic { ast[d] == AG_LOCK && !lock[d] -> ast[d] = AG_BOOT }
	/* st_attach_mcim() on trial, the agent's next step (no poll before
	 * it): the new MCIM attached, confirm; or it did not, three times,
	 * roll back (omc_tre_switch_confirm/_rollback: one commit each; the
	 * statement saved, then sent). */
	:: atomic { trial[d] && !lock[d] && ast[d] == AG_OPER && vr_id == 0 && stm[d] == 0 ->
		if
		:: stm[d] = 1; /* confirmed: the MCIM deactivated for it becomes a tombstone */
			if
			:: trial_from[d] != 0 ->
				mst[K(d, trial_from[d] - 1)] = M_DELETED;
				stm_own[d] = trial_from[d];
				stm_imsi[d] = mimsi[K(d, trial_from[d] - 1)]
			:: else -> skip
			fi
		:: stm[d] = 2; /* rolled back: the old one activated again, the new one a tombstone */
			if
			:: trial_from[d] != 0 -> mst[K(d, trial_from[d] - 1)] = M_ACTIVATED
			:: else -> skip
			fi;
			mst[K(d, trial_to[d])] = M_DELETED;
			stm_own[d] = trial_to[d] + 1;
			stm_imsi[d] = mimsi[K(d, trial_to[d])];
			stm_back[d] = trial_from[d];
			ast[d] = AG_BOOT
		fi;
		trial[d] = false; trial_to[d] = 0; trial_from[d] = 0;
		send(up[d], STMT, stm[d], stm_own[d], stm_imsi[d], stm_back[d]) }
	/* st_boot: what does the TRE hold? */
	:: atomic { ast[d] == AG_BOOT && !lock[d] ->
		if
		:: rc_sho[d] != 0 -> ast[d] = AG_RECEIPT
		:: rc_sho[d] == 0 && ACTIVE(d) -> ast[d] = AG_OPER
		:: else -> ast[d] = AG_PCID
		fi }
	/* run_commands(): the result saved, then sent (flush_result). */
	:: atomic { vr_id != 0 ->
		r_id[d] = vr_id; r_ok[d] = vr_ok; r_imsi[d] = vr_imsi; vr_id = 0; vr_ok = false; vr_imsi = 0;
		send(up[d], RES, r_id[d], r_ok[d], r_imsi[d], 0);
		/* st_operational, same step: the MCIM gone (a reprovision)? */
		if
		:: ast[d] == AG_OPER && !ACTIVE(d) -> ast[d] = AG_BOOT
		:: else -> skip
		fi }
	/* A step that talks to the network, when nothing of this device is in
	 * flight (the answer would have come by now), or early (MAXEARLY). */
	:: atomic { !lock[d] && vr_id == 0 && (ast[d] == AG_PCID || ast[d] == AG_OPER || ast[d] == AG_RECEIPT) &&
		    (QUIET(d) || early < MAXEARLY) && !(trial[d] && ast[d] == AG_OPER && r_id[d] == 0 && stm[d] == 0) ->
		if
		:: !QUIET(d) -> early++
		:: else -> skip
		fi;
		if
		:: stm[d] != 0 && ast[d] == AG_OPER ->
			/* st_operational: the end of a switch not taken yet first */
			send(up[d], STMT, stm[d], stm_own[d], stm_imsi[d], stm_back[d])
		:: r_id[d] != 0 && ast[d] != AG_RECEIPT && !(stm[d] != 0 && ast[d] == AG_OPER) ->
			/* the last result first, also with the PCID's session */
			send(up[d], RES, r_id[d], r_ok[d], r_imsi[d], 0)
		:: r_id[d] == 0 && ast[d] == AG_PCID ->
			/* attach, register, validate: a new session and its
			 * evidence (the registry's tombstones), then download */
			nonce[d] = nonce[d] % 3 + 1;
			sess[d] = nonce[d];
			send(up[d], DL, nonce[d], (mst[K(d, 0)] == M_DELETED -> mimsi[K(d, 0)] : 0),
			     (mst[K(d, 1)] == M_DELETED -> mimsi[K(d, 1)] : 0), 0)
		:: ast[d] == AG_RECEIPT -> send(up[d], RCPT, rc_sho[d] - 1, rc_imsi[d], 0, 0)
		:: r_id[d] == 0 && stm[d] == 0 && !trial[d] && ast[d] == AG_OPER && ACTIVE(d) && !a_dir[d] ->
			send(up[d], POLL, 0, 0, 0, 0)
		:: r_id[d] == 0 && stm[d] == 0 && !trial[d] && ast[d] == AG_OPER && ACTIVE(d) && a_dir[d] ->
			/* a direct change: validate and download over the
			 * operational session (a new session nonce), right after
			 * the poll that asked it (st_operational) */
			nonce[d] = nonce[d] % 3 + 1;
			sess[d] = nonce[d];
			send(up[d], DL, nonce[d], (mst[K(d, 0)] == M_DELETED -> mimsi[K(d, 0)] : 0),
			     (mst[K(d, 1)] == M_DELETED -> mimsi[K(d, 1)] : 0), 0)
		:: r_id[d] == 0 && stm[d] == 0 && ast[d] == AG_OPER && !ACTIVE(d) -> ast[d] = AG_BOOT /* imsi_of() fails */
		fi }
	/* An answer, in whatever state the agent is now. */
	:: atomic { len(down[d]) > 0 && vr_id == 0 ->
		down[d]?m, f1, f2, f3, f4;
		if
		:: lock[d] -> skip /* no network activity in lockdown */
		:: !lock[d] && m == PKG && (ast[d] == AG_PCID || (ast[d] == AG_OPER && a_dir[d])) ->
			/* st_download: the TRE installs; the receipt saved, then sent */
			tre_install(d, f1, f2, f3, f4, ok);
			if
			:: ok -> rc_sho[d] = f1 + 1; rc_imsi[d] = f2; ast[d] = AG_RECEIPT;
				send(up[d], RCPT, f1, f2, 0, 0)
			:: else -> skip
			fi
		:: !lock[d] && m == RACK && ast[d] == AG_RECEIPT && rc_sho[d] == f1 + 1 ->
			/* st_receipt, then st_attach_mcim: operational */
			rc_sho[d] = 0; rc_imsi[d] = 0; ast[d] = AG_OPER;
			a_dir[d] = false /* the RO's switch comes as a command */
		:: !lock[d] && m == CMD && ast[d] == AG_OPER && r_id[d] == 0 ->
			tre_command(d, f1, f2, f3)
		:: !lock[d] && m == ACK && r_id[d] == f1 ->
			/* taken (200), or no such open command (404) */
			r_id[d] = 0; r_ok[d] = false; r_imsi[d] = 0
		:: !lock[d] && m == CHGD && ast[d] == AG_OPER && !trial[d] ->
			a_dir[d] = true /* run_commands(): "change": {"mode": "direct"} */
		:: !lock[d] && m == SACK && stm[d] == f1 ->
			stm[d] = 0; stm_own[d] = 0; stm_imsi[d] = 0; stm_back[d] = 0 /* flush_stmt(): taken */
		:: else -> skip /* DLFAIL, or an answer for another state: retried */
		fi;
		CLEAR_MSG; tmp = 0; ok = false }
	od
}

/* ---------------------------------------------------------------- SHO */

/* sho.c mcim_gone(): the TRE's signed word that (s, d)'s MCIM with that
 * IMSI is gone; disables the IMSI. */
inline sho_gone(s, d, imsi) {
	if
	:: sm_st[SK(s, d)] != S_NONE && sm_imsi[SK(s, d)] == imsi ->
		sm_st[SK(s, d)] = S_DELETED;
		auc_en[imsi] = false
	:: else -> skip
	fi
}

/* ------------------------------------------------------------ RO: DPF */

inline queue_reprovision(d, owner) {
	assert(ncmd < MAXCMD);
	ncmd++;
	c_st[ncmd] = C_QUEUED;
	c_dev[ncmd] = d;
	c_seq[ncmd] = ncmd;
	c_owner[ncmd] = owner
}

/* One request of device d, served in one transaction. */
inline serve(d) {
	up[d]?m, f1, f2, f3, f4;
	if
	:: m == DL ->
		/* drf.c reg: the DRF knows the TRE; dpf.c download -> sho.c
		 * mcim_make: the evidence's tombstone of this SHO's MCIM is dead
		 * here too; issue(): a new MCIM, or the one issued and never
		 * confirmed (same IMSI), 409 if one is installed */
		drf_tre[d] = true;
		s = drf_sho[d];
		if
		:: s == 0 && f2 != 0 -> sho_gone(0, d, f2)
		:: s == 1 && f3 != 0 -> sho_gone(1, d, f3)
		:: else -> skip
		fi;
		if
		:: sm_st[SK(s, d)] == S_INSTALLED || sseq[s] >= MAXSEQ -> send(down[d], DLFAIL, f1, 0, 0, 0)
		:: else ->
			if
			:: sm_st[SK(s, d)] != S_ISSUED ->
				assert(msin[s] < 7);
				msin[s]++;
				sm_imsi[SK(s, d)] = s * 8 + msin[s];
				sm_st[SK(s, d)] = S_ISSUED;
				auc_en[sm_imsi[SK(s, d)]] = true
			:: else -> skip
			fi;
			sseq[s]++;
			/* a device `direct` at the DRF: the SHO asked with activate false */
			send(down[d], PKG, s, sm_imsi[SK(s, d)], sseq[s], f1 + (drf_st[d] == D_DIRECT -> 4 : 0))
		fi
	:: m == RCPT ->
		/* dpf.c receipt -> sho.c receipt: issued -> installed */
		if
		:: sm_st[SK(f1, d)] == S_ISSUED && sm_imsi[SK(f1, d)] == f2 -> sm_st[SK(f1, d)] = S_INSTALLED
		:: else -> skip
		fi;
		/* a receipt of the SHO the DRF names: in a direct change the RO's
		 * switch to this MCIM queued, the DRF's device `switching`; else
		 * the device `provisioned`, unless it is `switching` (the receipt
		 * sent again: switch_end ends the switch). A late one of another
		 * SHO changes nothing at the DRF (dpf.c receipt, `named`). */
		if
		:: sm_imsi[SK(f1, d)] == f2 && drf_sho[d] == f1 && drf_st[d] == D_DIRECT ->
			queue_reprovision(d, f1);
			c_switch[ncmd] = true;
			drf_st[d] = D_SWITCHING
#ifdef SEED_SWITCH_END
		/* the seeded bug (dpf.c before): a `switching` device provisioned */
		:: sm_imsi[SK(f1, d)] == f2 && drf_sho[d] == f1 && drf_st[d] != D_DIRECT -> drf_st[d] = 0
#else
		:: sm_imsi[SK(f1, d)] == f2 && drf_sho[d] == f1 && drf_st[d] == 0 -> skip
#endif
#ifdef SEED_LATE_RECEIPT
		:: sm_imsi[SK(f1, d)] == f2 && drf_sho[d] != f1 -> drf_st[d] = 0 /* the seeded bug: dpf.c before */
#endif
		:: else -> skip
		fi;
		send(down[d], RACK, f1, 0, 0, 0)
	:: m == POLL ->
		/* dpf.c cmd_fetch: every queued or fetched command, again */
		i = 1;
		do
		:: i <= ncmd ->
			if
			:: c_dev[i] == d && (c_st[i] == C_QUEUED || c_st[i] == C_FETCHED) ->
				c_st[i] = C_FETCHED;
				send(down[d], CMD, i, c_seq[i], c_owner[i], 0)
			:: else -> skip
			fi;
			i++
		:: else -> break
		od;
		/* cmd_fetch: a direct change asked */
		if
		:: drf_st[d] == D_DIRECT -> send(down[d], CHGD, drf_sho[d], 0, 0, 0)
		:: else -> skip
		fi
	:: m == STMT ->
		/* dpf.c switch_end: the deletion passed on (pass_deletions, 502
		 * if the SHO did not take it), then the DRF's device
		 * provisioned, with the SHO of the MCIM restored on a rollback;
		 * only a device still `switching`: a statement sent again after
		 * the next change was asked leaves that change alone */
		if
		:: f3 != 0 && shofail < MAXSHOFAIL -> shofail++
		:: else ->
			if
			:: f3 != 0 -> sho_gone(f2 - 1, d, f3)
			:: else -> skip
			fi;
#ifdef SEED_SWITCH_END
			/* the seeded bug (dpf.c before): no condition on the state */
			drf_st[d] = D_SWITCHING;
#endif
			if
			:: drf_st[d] == D_SWITCHING ->
				drf_st[d] = 0;
				if
				:: f1 == 2 && f4 != 0 -> drf_sho[d] = f4 - 1
				:: else -> skip
				fi
			:: else -> skip
			fi;
			send(down[d], SACK, f1, 0, 0, 0)
		fi
	:: m == RES && (f1 < 1 || f1 > ncmd || c_dev[f1] != d ||
			!(c_st[f1] == C_QUEUED || c_st[f1] == C_FETCHED || c_st[f1] == C_ANSWERED)) ->
		send(down[d], ACK, f1, 0, 0, 0) /* 404: taken before */
	:: m == RES && f2 ->
		/* dpf.c cmd_result: answered; pass_deletions() to the owner's
		 * SHO (sho.c deletions); done and 200 once it took it, else 502 */
		c_st[f1] = C_ANSWERED;
		if
		:: f3 != 0 && shofail < MAXSHOFAIL -> shofail++ /* 502: sent again */
		:: else ->
#ifdef SEED_EARLY_DISABLE
			skip; /* the old SHO disabled the IMSI at the change already */
#else
			if
			:: f3 != 0 -> sho_gone(c_owner[f1], d, f3)
			:: else -> skip
			fi;
#endif
			c_st[f1] = C_DONE;
			send(down[d], ACK, f1, 0, 0, 0)
		fi
	:: m == RES && !f2 ->
		/* refused without a result: rejected; an owner-bound
		 * reprovision goes again under a new number, three times at
		 * most in a row: j counts the device's rejected commands
		 * numbered after the last one the TRE carried out (answered
		 * or done; i the last such) */
		c_st[f1] = C_REJECTED;
		i = ncmd;
#ifdef SEED_LIFE_BUDGET
		i = 0; /* the seeded bug: every refusal in the TRE's life counts */
#endif
		do
		:: i > 0 && !(c_dev[i] == d && (c_st[i] == C_ANSWERED || c_st[i] == C_DONE)) -> i--
		:: else -> break
		od;
		j = 0;
		do
		:: i < ncmd -> i++; j = j + (c_dev[i] == d && c_st[i] == C_REJECTED -> 1 : 0)
		:: else -> break
		od;
		if
		:: j <= REQUEUE_MAX && !c_switch[f1] -> queue_reprovision(d, c_owner[f1])
		:: else -> skip
		fi;
		send(down[d], ACK, f1, 0, 0, 0)
	fi
}

/* One per device: the servers serve connections concurrently (one
 * process for all would let SPIN's weak fairness starve a device), and
 * each request is one transaction (atomic). */
proctype Dpf(byte d) {
	mtype:msg m;
	byte f1, f2, f3, f4, s, i, j;
end:
	do
	:: atomic { nempty(up[d]) -> serve(d); CLEAR_MSG; s = 0; i = 0; j = 0 }
	od
}

/* ------------------------------------------------- subscriber and DRF */

/* sho.c dev_register with change:true -> drf.c assign -> change(): the
 * device moves to the other SHO; with a known TRE the RO's reprovision
 * naming the old SHO is queued (srv_ro_command). */
proctype Subscriber() {
	byte d, old;
end:
	do
	:: atomic { chg < MAXCHG ->
		chg++;
		if
		:: d = 0
#if NDEV > 1
		:: d = 1
#endif
		fi;
		old = drf_sho[d];
		drf_sho[d] = 1 - old;
		if
		:: drf_tre[d] ->
			queue_reprovision(d, old);
#ifdef SEED_EARLY_DISABLE
			/* the seeded bug: the old SHO forgets the MCIM at the change,
			 * before the TRE's signed deletion receipt */
			if
			:: sm_st[SK(old, d)] != S_NONE -> sho_gone(old, d, sm_imsi[SK(old, d)])
			:: else -> skip
			fi
#endif
		:: else -> skip
		fi;
		d = 0; old = 0 }
	/* the same with "direct": true, for a device provisioned at the DRF
	 * (its SHO holds the receipt): `direct`, nothing queued */
	:: atomic { dchg < MAXDIRECT && drf_tre[0] && drf_st[0] == 0 && sm_st[SK(drf_sho[0], 0)] == S_INSTALLED ->
		dchg++; drf_sho[0] = 1 - drf_sho[0]; drf_st[0] = D_DIRECT }
	od
}

/* ------------------------------------------- tamper and recovery */

/* tre.c omc_tre_enter_lockdown(), and install.c omc_tre_recover() after a
 * passing integrity check and a fresh signed authorisation: every
 * operational MCIM erased (the table's delete by the TRE), pristine. */
proctype Tamper() {
	byte d, k, tmp;
end:
	do
	:: atomic { tampers < MAXTAMPER ->
		if
		:: d = 0
#if NDEV > 1
		:: d = 1
#endif
		fi;
		if
		:: !lock[d] -> tampers++; lock[d] = true; lock_ep[d]++; sess[d] = 0
		:: else -> skip
		fi;
		d = 0 }
	:: atomic { (lock[0] && ast[0] == AG_LOCK) -> d = 0; goto recover }
#if NDEV > 1
	:: atomic { (lock[1] && ast[1] == AG_LOCK) -> d = 1; goto recover }
#endif
	od;
recover:
	atomic {
		k = 0;
		do
		:: k < NSHO ->
			if
			:: LIVE(mst[K(d, k)]) ->
				lc_next(mst[K(d, k)], E_DELETE, A_TRE, tmp);
				assert(tmp == M_DELETED);
				mst[K(d, k)] = tmp
			:: else -> skip
			fi;
			k++
		:: else -> break
		od;
		rec_ep[d]++;
		trial[d] = false; trial_to[d] = 0; trial_from[d] = 0;
		lock[d] = false;
		sess[d] = 0;
		d = 0; k = 0; tmp = 0
	}
	goto end
}

/* ------------------------------------------------------- the channel */

/* Loss, duplication and reordering of one message in flight. */
inline fault(ch) {
	ch?m, f1, f2, f3, f4;
	faults++;
	if
	:: skip /* lost */
	:: len(ch) + 2 <= CAP -> ch!m, f1, f2, f3, f4; ch!m, f1, f2, f3, f4 /* duplicated */
	:: len(ch) >= 1 -> ch!m, f1, f2, f3, f4 /* overtaken: to the back */
	fi;
	CLEAR_MSG
}

proctype Net() {
	mtype:msg m;
	byte f1, f2, f3, f4;
end:
	do
	:: atomic { faults < MAXFAULT && nempty(up[0]) -> fault(up[0]) }
	:: atomic { faults < MAXFAULT && nempty(down[0]) -> fault(down[0]) }
#if NDEV > 1
	:: atomic { faults < MAXFAULT && nempty(up[1]) -> fault(up[1]) }
	:: atomic { faults < MAXFAULT && nempty(down[1]) -> fault(down[1]) }
#endif
	od
}

/* ------------------------------------------------------- properties */

/* DESIGN invariant 4: never two operational MCIMs of different SHOs both
 * activated in one TRE. */
#define ONE_OPERATOR(d) (!(mst[K(d, 0)] == M_ACTIVATED && mst[K(d, 1)] == M_ACTIVATED))
/* An IMSI never active in two devices. */
#if NDEV > 1
#define ONE_DEVICE (!(mst[K(0, 0)] == M_ACTIVATED && mst[K(1, 0)] == M_ACTIVATED && mimsi[K(0, 0)] == mimsi[K(1, 0)]) && \
		    !(mst[K(0, 1)] == M_ACTIVATED && mst[K(1, 1)] == M_ACTIVATED && mimsi[K(0, 1)] == mimsi[K(1, 1)]) && \
		    !(mst[K(0, 0)] == M_ACTIVATED && mst[K(1, 1)] == M_ACTIVATED && mimsi[K(0, 0)] == mimsi[K(1, 1)]) && \
		    !(mst[K(0, 1)] == M_ACTIVATED && mst[K(1, 0)] == M_ACTIVATED && mimsi[K(0, 1)] == mimsi[K(1, 0)]))
#else
#define ONE_DEVICE true
#endif
/* An SHO never disables an IMSI that a TRE still has activated (the old
 * SHO waits for the TRE's signed deletion receipt). */
#define NOT_CUT_OFF(d) ((mst[K(d, 0)] != M_ACTIVATED || auc_en[mimsi[K(d, 0)]]) && \
			(mst[K(d, 1)] != M_ACTIVATED || auc_en[mimsi[K(d, 1)]]))
/* Lockdown is left by a recovery only: every episode closed by one. */
#define LOCK_BY_RECOVERY(d) ((lock[d] && lock_ep[d] == rec_ep[d] + 1) || (!lock[d] && lock_ep[d] == rec_ep[d]))
#if NDEV > 1
#define INV (ONE_OPERATOR(0) && ONE_OPERATOR(1) && ONE_DEVICE && NOT_CUT_OFF(0) && NOT_CUT_OFF(1) && \
	     LOCK_BY_RECOVERY(0) && LOCK_BY_RECOVERY(1))
#else
#define INV (ONE_OPERATOR(0) && NOT_CUT_OFF(0) && LOCK_BY_RECOVERY(0))
#endif

/* Checked in every reachable state: blocked while INV holds; the first
 * property that fails is the one reported. */
active proctype Invariants() {
end:
	atomic { !INV ->
		assert(ONE_OPERATOR(0));
		assert(NOT_CUT_OFF(0));
		assert(LOCK_BY_RECOVERY(0));
#if NDEV > 1
		assert(ONE_OPERATOR(1));
		assert(NOT_CUT_OFF(1));
		assert(LOCK_BY_RECOVERY(1));
		assert(ONE_DEVICE);
#endif
		assert(INV) }
}

/* Settled: operational with the MCIM of the SHO the DRF names, nothing
 * left to send. */
#define SETTLED(d) (ast[d] == AG_OPER && mst[K(d, drf_sho[d])] == M_ACTIVATED && r_id[d] == 0 && !lock[d] && \
		    stm[d] == 0 && !trial[d])
#if NDEV > 1
#define ALL_SETTLED (SETTLED(0) && SETTLED(1))
#else
#define ALL_SETTLED SETTLED(0)
#endif

/* Never stranded: whatever happened, once the faults are over the device
 * ends provisioned with its SHO and stays so (no deadlock, no livelock
 * under weak fairness). */
ltl settle { <> [] ALL_SETTLED }
/* From every state, pristine or provisioned is reached again. */
ltl unstranded { [] <> (!lock[0] && (ast[0] == AG_OPER || ast[0] == AG_PCID)) }
/* A lockdown is always left again (by the recovery, INV). */
ltl lockdown_left { [] (lock[0] -> <> !lock[0]) }

init {
	byte d;
	atomic {
		d = 0;
		do
		:: d < NDEV ->
			ast[d] = AG_BOOT;
			drf_sho[d] = d % NSHO; /* registered by its first SHO */
			run Agent(d);
			run Dpf(d);
			d++
		:: else -> break
		od;
		c_st[0] = C_FREE;
		run Subscriber();
		run Tamper();
		run Net()
	}
}
