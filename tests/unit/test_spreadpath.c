// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The return path of our spread sources (spreadpath.h), against tables of
 * events and times: a path broken from the start (probe, timeout, report
 * once the peer shows it is alive, rate limit, backoff), its recovery, a
 * break while in use (revoked), a proof that lapses (a failure only if we
 * sent through it and the peer was still heard), the backoff's cap, and
 * get's text.
 */
#include <criterion/criterion.h>
#include <string.h>
#include "clock.h"
#include "spreadpath.h"

/* Times in ms from an origin far from 0, which means "never". */
#define T(ms) (UINT64_C(1000) * FS_NSEC_PER_SEC + (uint64_t)(ms) * FS_NSEC_PER_MSEC)

enum op {
	UPDATE,		/* fs_spreadpath_update with the receive times so far */
	PROBE,		/* a probe goes out (must be allowed) */
	REVOKE,		/* new_handshake fired while spreading: must revoke */
	RX_PROVEN,	/* an authenticated packet through our spread sources */
	RX_PLAIN,	/* one through the plain path */
	SENT,		/* data left from a spread source */
};

struct step {
	int ms;
	enum op op;
	enum fs_spreadpath_state state;
	enum fs_spreadpath_verdict verdict;	/* UPDATE only */
	int may_probe;				/* -1: not checked */
	int next_check_ms;			/* -1: not checked; 0: at once */
	unsigned int failures;
};

struct world {
	struct fs_spreadpath p;
	uint64_t proven, plain, used, suppressed;
};

static void run(struct world *w, const struct step *steps, size_t n)
{
	for (size_t i = 0; i < n; ++i) {
		const struct step *s = &steps[i];
		uint64_t now = T(s->ms);
		enum fs_spreadpath_verdict verdict = FS_SPREADPATH_QUIET;

		switch (s->op) {
		case UPDATE:
			verdict = fs_spreadpath_update(&w->p, w->proven, w->plain, w->used, now,
						       &w->suppressed);
			break;
		case PROBE:
			cr_assert(fs_spreadpath_may_probe(&w->p, w->proven, now), "step %zu: no probe allowed", i);
			fs_spreadpath_probe_sent(&w->p, now);
			break;
		case REVOKE:
			cr_assert(fs_spreadpath_revoke(&w->p, w->proven, now), "step %zu: not revoked", i);
			w->proven = 0;
			break;
		case RX_PROVEN:
			w->proven = now;
			break;
		case RX_PLAIN:
			w->plain = now;
			break;
		case SENT:
			w->used = now;
			break;
		}
		cr_assert_eq(w->p.state, s->state, "step %zu (%d ms): state %s, expected %s", i, s->ms,
			     fs_spreadpath_state_name(w->p.state), fs_spreadpath_state_name(s->state));
		cr_assert_eq(verdict, s->verdict, "step %zu (%d ms): verdict %d, expected %d", i,
			     s->ms, verdict, s->verdict);
		if (s->may_probe >= 0)
			cr_assert_eq(fs_spreadpath_may_probe(&w->p, w->proven, now), s->may_probe,
				     "step %zu (%d ms): may_probe", i, s->ms);
		if (s->next_check_ms >= 0)
			cr_assert_eq(fs_spreadpath_next_check(&w->p),
				     s->next_check_ms ? T(s->next_check_ms) : 0,
				     "step %zu (%d ms): next check %.3f s after the origin", i, s->ms,
				     ((double)fs_spreadpath_next_check(&w->p) - (double)T(0)) / 1e9);
		cr_assert_eq(w->p.failures, s->failures, "step %zu (%d ms): %llu failures", i, s->ms,
			     (unsigned long long)w->p.failures);
	}
}

#define U FS_SPREADPATH_UNPROVEN
#define PR FS_SPREADPATH_PROBING
#define OK FS_SPREADPATH_PROVEN
#define F FS_SPREADPATH_FAILED
#define Q FS_SPREADPATH_QUIET
#define LOG FS_SPREADPATH_LOG_FAILURE
#define REC FS_SPREADPATH_LOG_RECOVERY

Test(spreadpath, broken_from_the_start_then_recovered_then_broken_in_use)
{
	static const struct step steps[] = {
		{ 0, UPDATE, U, Q, 1, 0, 0 },
		{ 0, PROBE, PR, Q, 0, 5000, 0 },
		{ 4999, UPDATE, PR, Q, 0, 5000, 0 },
		/* no answer in REKEY_TIMEOUT: failed, not logged until the peer shows up */
		{ 5000, UPDATE, F, Q, 0, 10000, 1 },
		{ 5100, RX_PLAIN, F, Q, 0, 10000, 1 },
		{ 5100, UPDATE, F, LOG, 0, 10000, 1 },
		{ 6000, RX_PLAIN, F, Q, 0, 10000, 1 },
		{ 6000, UPDATE, F, Q, 0, 10000, 1 },
		{ 9999, UPDATE, F, Q, 0, 10000, 1 },
		{ 10000, UPDATE, F, Q, 1, 10000, 1 },
		{ 10000, PROBE, PR, Q, 0, 15000, 1 },
		/* the second failure waits twice as long, and is not logged within a minute */
		{ 15000, UPDATE, F, Q, 0, 25000, 2 },
		{ 15100, RX_PLAIN, F, Q, 0, 25000, 2 },
		{ 15100, UPDATE, F, Q, 0, 25000, 2 },
		{ 25000, PROBE, PR, Q, 0, 30000, 2 },
		{ 25200, RX_PROVEN, PR, Q, 0, 30000, 2 },
		{ 25200, UPDATE, OK, REC, 0, 0, 2 },
		{ 26000, SENT, OK, Q, 0, 0, 2 },
		{ 30000, RX_PROVEN, OK, Q, 0, 0, 2 },
		{ 31000, SENT, OK, Q, 0, 0, 2 },
		/* nothing at all came back for 15 s: revoked, backoff back at 5 s */
		{ 46000, REVOKE, F, Q, 0, 51000, 3 },
		{ 46000, UPDATE, F, Q, 0, 51000, 3 },
		/* a new break after a proof is logged at once, naming the one not logged */
		{ 46100, RX_PLAIN, F, Q, 0, 51000, 3 },
		{ 46100, UPDATE, F, LOG, 0, 51000, 3 },
		{ 51000, UPDATE, F, Q, 1, 51000, 3 },
	};
	struct world w = { 0 };

	run(&w, steps, 3);
	cr_assert_eq(w.p.reason, FS_SPREADPATH_NO_REASON);
	memset(&w, 0, sizeof(w));
	run(&w, steps, sizeof(steps) / sizeof(steps[0]));
	cr_assert_eq(w.p.reason, FS_SPREADPATH_ANSWERS_STOPPED);
	cr_assert_eq(w.suppressed, 1, "the failure not logged is named in the next message");
	cr_assert_eq(w.p.proof, T(30000), "the last proof before the break");
}

Test(spreadpath, lapsed_proof_is_a_failure_only_if_we_spread_and_the_peer_was_heard)
{
	/* sent through it, heard on the plain path since: answers stopped, logged at once */
	static const struct step stopped[] = {
		{ 0, RX_PROVEN, U, Q, 0, 0, 0 },
		{ 0, UPDATE, OK, Q, 0, 0, 0 },
		{ 1000, SENT, OK, Q, 0, 0, 0 },
		{ 2000, RX_PLAIN, OK, Q, 0, 0, 0 },
		{ 24999, UPDATE, OK, Q, 0, 0, 0 },
		{ 25000, UPDATE, F, LOG, 0, 30000, 1 },
	};
	/* the peer fell silent: no failure, a probe at once when there is traffic */
	static const struct step silent[] = {
		{ 0, RX_PROVEN, U, Q, 0, 0, 0 },
		{ 0, UPDATE, OK, Q, 0, 0, 0 },
		{ 1000, SENT, OK, Q, 0, 0, 0 },
		{ 25000, UPDATE, U, Q, 1, 25000, 0 },
	};
	/* we only received (keepalives leave from the plain path): no failure either */
	static const struct step idle[] = {
		{ 0, RX_PROVEN, U, Q, 0, 0, 0 },
		{ 0, UPDATE, OK, Q, 0, 0, 0 },
		{ 2000, RX_PLAIN, OK, Q, 0, 0, 0 },
		{ 25000, UPDATE, U, Q, 1, 25000, 0 },
	};
	struct world w = { 0 };

	run(&w, stopped, sizeof(stopped) / sizeof(stopped[0]));
	cr_assert_eq(w.p.reason, FS_SPREADPATH_ANSWERS_STOPPED);
	memset(&w, 0, sizeof(w));
	run(&w, silent, sizeof(silent) / sizeof(silent[0]));
	memset(&w, 0, sizeof(w));
	run(&w, idle, sizeof(idle) / sizeof(idle[0]));
}

Test(spreadpath, only_a_proven_path_is_revoked)
{
	struct fs_spreadpath p = { 0 };

	cr_assert_not(fs_spreadpath_revoke(&p, 0, T(0)));
	fs_spreadpath_probe_sent(&p, T(0));
	cr_assert_not(fs_spreadpath_revoke(&p, T(0), T(100)));
	cr_assert_eq(p.state, FS_SPREADPATH_PROBING);
	cr_assert_eq(p.failures, 0);
}

Test(spreadpath, backoff_doubles_to_120_s_and_a_proof_resets_it)
{
	static const unsigned int waits[] = { 5, 10, 20, 40, 80, 120, 120 };
	struct fs_spreadpath p = { 0 };
	uint64_t now = T(0), s = 0;

	for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); ++i) {
		cr_assert(fs_spreadpath_may_probe(&p, 0, now));
		fs_spreadpath_probe_sent(&p, now);
		now += FS_SPREADPATH_PROBE_TIMEOUT_SEC * FS_NSEC_PER_SEC;
		fs_spreadpath_update(&p, 0, 0, 0, now, &s);
		cr_assert_eq(p.state, FS_SPREADPATH_FAILED);
		cr_assert_eq(p.next_probe - now, waits[i] * FS_NSEC_PER_SEC, "failure %zu", i + 1);
		cr_assert_not(fs_spreadpath_may_probe(&p, 0, p.next_probe - 1));
		now = p.next_probe;
	}
	fs_spreadpath_update(&p, now, 0, 0, now, &s);
	cr_assert_eq(p.state, FS_SPREADPATH_PROVEN);
	fs_spreadpath_update(&p, now, 0, 0, now + 25 * FS_NSEC_PER_SEC, &s);
	fs_spreadpath_probe_sent(&p, now + 25 * FS_NSEC_PER_SEC);
	fs_spreadpath_update(&p, 0, 0, 0, now + 30 * FS_NSEC_PER_SEC, &s);
	cr_assert_eq(p.next_probe, now + 35 * FS_NSEC_PER_SEC, "back to 5 s after a proof");
}

Test(spreadpath, get_text)
{
	struct fs_spreadpath p = { 0 };
	char out[FS_SPREADPATH_STATE_STRLEN];
	uint64_t s = 0;

	fs_spreadpath_format(&p, 0, T(0), out);
	cr_assert_str_eq(out, "unproven,-,0,-");
	fs_spreadpath_probe_sent(&p, T(0));
	fs_spreadpath_format(&p, 0, T(1234), out);
	cr_assert_str_eq(out, "probing,1234,0,-");
	fs_spreadpath_update(&p, 0, 0, 0, T(5000), &s);
	fs_spreadpath_format(&p, 0, T(6000), out);
	cr_assert_str_eq(out, "failed,1000,1,probe_unanswered");
	/* a proof the control thread has not seen yet already shows */
	fs_spreadpath_format(&p, T(6500), T(7000), out);
	cr_assert_str_eq(out, "proven,500,1,probe_unanswered");
	fs_spreadpath_update(&p, T(6500), 0, 0, T(7000), &s);
	fs_spreadpath_format(&p, T(6500), T(31500), out);
	cr_assert_str_eq(out, "unproven,25000,1,probe_unanswered");
}
