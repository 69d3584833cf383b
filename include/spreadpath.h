/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Whether the peer can answer us through our spread addresses (or ports):
 * the rule that makes source spreading fail safe (docs/spreading.md,
 * section 2.5). One struct per peer and kind (addresses, ports), kept by
 * the control thread. Pure: no I/O, no clock, no atomics; the caller
 * passes the times (boottime ns), among them the two receive times the
 * workers keep per peer and kind:
 *
 *   proven  the last authenticated packet from the peer that arrived on
 *           one of our spread addresses (on a socket of our spread ports);
 *   plain   the last one that arrived anywhere else;
 *   used    the last data packet we sent from a spread source.
 *
 * Our source is spread only while "proven" is within the trust window
 * (fs_spreadpath_trusted). Otherwise:
 *
 *   untried/unproven --probe sent--> probing --answer through it--> proven
 *   probing  --no answer in REKEY_TIMEOUT--> failed (probe_unanswered)
 *   proven   --proof older than the trust window-->
 *             failed (answers_stopped) if, since the proof, we sent from
 *             spread sources and the peer was heard on the plain path;
 *             else unproven (a silent peer, or one we sent nothing
 *             spread to, is no failure)
 *   proven   --revoked: we spread and heard nothing back at all for
 *             KEEPALIVE + REKEY_TIMEOUT--> failed (answers_stopped)
 *   failed   --backoff over and traffic--> probing (next probe)
 *
 * The wait before the next probe after a failure starts at 5 s and
 * doubles up to 120 s; a proof resets it. A failure is logged only once
 * the peer shows it is alive (an authenticated packet on the plain path
 * after the failure's evidence), and at most once a minute per kind while
 * the path stays broken (the probes' failures); the ones not logged are
 * counted and named in the next message. The first failure after the path
 * was proven again is logged at once: it is a new break, not a retry.
 */
#ifndef FLOWSPREAD_SPREADPATH_H
#define FLOWSPREAD_SPREADPATH_H

#include <stdbool.h>
#include <stdint.h>

enum fs_spreadpath_kind {
	FS_SPREADPATH_ADDRESSES,
	FS_SPREADPATH_PORTS,
	FS_SPREADPATH_KINDS,
};

enum fs_spreadpath_state {
	FS_SPREADPATH_UNPROVEN,	/* never proven, or the proof lapsed while the peer was silent */
	FS_SPREADPATH_PROBING,	/* a probe is out */
	FS_SPREADPATH_PROVEN,
	FS_SPREADPATH_FAILED,
};

enum fs_spreadpath_reason {
	FS_SPREADPATH_NO_REASON,
	FS_SPREADPATH_PROBE_UNANSWERED,	/* a handshake sent from it got no answer */
	FS_SPREADPATH_ANSWERS_STOPPED,	/* answers stopped coming back through it */
};

enum {
	FS_SPREADPATH_PROBE_TIMEOUT_SEC = 5,	/* WG_REKEY_TIMEOUT */
	FS_SPREADPATH_BACKOFF_MIN_SEC = 5,
	FS_SPREADPATH_BACKOFF_MAX_SEC = 120,
	FS_SPREADPATH_LOG_INTERVAL_SEC = 60,
	FS_SPREADPATH_STATE_STRLEN = 96,
};

struct fs_spreadpath {
	enum fs_spreadpath_state state;
	enum fs_spreadpath_reason reason;	/* of the last failure */
	uint64_t since;			/* when it entered the state */
	uint64_t probe_sent;		/* the probe that is out (probing) */
	uint64_t evidence;		/* failed: a plain receive after this shows the peer alive */
	uint64_t proof;			/* failed: the last proof before it, 0 none */
	uint64_t next_probe;		/* no probe before this */
	uint32_t backoff_sec;		/* the wait after the next failure; 0: the minimum */
	uint64_t failures;		/* all of them, logged or not */
	uint64_t logged;		/* when a failure was last logged, 0 never */
	uint64_t suppressed;		/* failures not logged since then */
	bool unreported;		/* a failure waiting for the peer to show it is alive */
};

/* What fs_spreadpath_update asks of the caller. */
enum fs_spreadpath_verdict {
	FS_SPREADPATH_QUIET,
	FS_SPREADPATH_LOG_FAILURE,	/* log p->reason now (then p->suppressed = 0 is done) */
	FS_SPREADPATH_LOG_RECOVERY,	/* proven again after a logged failure */
};

/* Whether a proof at "proven" (0: none) still counts at "now". */
bool fs_spreadpath_trusted(uint64_t proven, uint64_t now);

/*
 * Brings the state up to date with the receive times; at most one thing
 * to log. "suppressed" in the verdict's failure is what was not logged
 * before it.
 */
enum fs_spreadpath_verdict fs_spreadpath_update(struct fs_spreadpath *p, uint64_t proven,
						uint64_t plain, uint64_t used, uint64_t now,
						uint64_t *suppressed);

/* Whether a probe may go out now (untrusted, none out, backoff over). */
bool fs_spreadpath_may_probe(const struct fs_spreadpath *p, uint64_t proven, uint64_t now);
void fs_spreadpath_probe_sent(struct fs_spreadpath *p, uint64_t now);

/*
 * We sent from spread sources and heard nothing back at all for
 * KEEPALIVE + REKEY_TIMEOUT: stop trusting the proof at "proven" (the
 * caller clears it). Only a proven path is revoked.
 */
bool fs_spreadpath_revoke(struct fs_spreadpath *p, uint64_t proven, uint64_t now);

/*
 * When the datapath should call for the control thread next while the
 * path is untrusted (0: at once): the end of the backoff, or of the
 * probe that is out.
 */
uint64_t fs_spreadpath_next_check(const struct fs_spreadpath *p);

const char *fs_spreadpath_state_name(enum fs_spreadpath_state state);
const char *fs_spreadpath_reason_name(enum fs_spreadpath_reason reason);

/*
 * "STATE,AGE_MS,FAILURES,REASON" for get: AGE_MS since the last proof
 * (proven, unproven), the probe (probing) or the failure (failed), "-" if
 * none; REASON of the last failure, "-" if none.
 */
void fs_spreadpath_format(const struct fs_spreadpath *p, uint64_t proven, uint64_t now,
			  char out[FS_SPREADPATH_STATE_STRLEN]);

#endif
