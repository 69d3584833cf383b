// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The replay window, against its definition: a counter is accepted once,
 * if it is below WG_REJECT_AFTER_MESSAGES and no more than
 * WG_COUNTER_WINDOW_SIZE (8128) below the highest counter accepted so far.
 * So with top T, T - 8128 is still accepted and T - 8129 is not (the
 * kernel's counter_validate rejects when their + 1 + 8128 < top + 1).
 * The last tests run long random sequences against a deliberately naive
 * model: a bitmap of every counter ever accepted plus that rule.
 */
#include <stdlib.h>
#include "helpers.h"
#include "replay.h"
#include "leakcheck.h"

#define WINDOW ((uint64_t)WG_COUNTER_WINDOW_SIZE)
#define REJECT WG_REJECT_AFTER_MESSAGES

static struct fs_replay_counter *window_new(void)
{
	struct fs_replay_counter *r = malloc(sizeof(*r));

	cr_assert_not_null(r);
	memset(r, 0xa5, sizeof(*r));	/* fs_replay_init must clear everything */
	fs_replay_init(r);
	return r;
}

#define ACCEPT(r, c) cr_assert(fs_replay_check((r), (c)), "counter %llu rejected", \
			       (unsigned long long)(c))
#define REJECTED(r, c) cr_assert(!fs_replay_check((r), (c)), "counter %llu accepted", \
				 (unsigned long long)(c))

FS_LEAK_CHECKED_SUITE(replay);

Test(replay, constants)
{
	cr_assert_eq(WINDOW, 8128);
	cr_assert_eq(REJECT, UINT64_MAX - 8129);
}

Test(replay, in_order_then_duplicates)
{
	struct fs_replay_counter *r = window_new();

	for (uint64_t c = 0; c < 20000; ++c)
		ACCEPT(r, c);
	/* Every counter still in the window is a duplicate now... */
	for (uint64_t c = 19999 - WINDOW; c < 20000; ++c)
		REJECTED(r, c);
	/* ...and those below it are too old. */
	for (uint64_t c = 0; c < 19999 - WINDOW; ++c)
		REJECTED(r, c);
	free(r);
}

Test(replay, reordered_inside_window_accepted_once)
{
	struct fs_replay_counter *r = window_new();

	ACCEPT(r, 9);
	ACCEPT(r, 8);
	ACCEPT(r, 7);
	REJECTED(r, 7);
	ACCEPT(r, 0);
	REJECTED(r, 0);
	ACCEPT(r, 1000);
	ACCEPT(r, 999);
	REJECTED(r, 999);
	ACCEPT(r, 2);
	REJECTED(r, 2);
	REJECTED(r, 9);
	ACCEPT(r, 1016);
	ACCEPT(r, 3);		/* 1013 below the top: inside the window, unseen */
	REJECTED(r, 1000);
	free(r);
}

Test(replay, descending_through_the_whole_window)
{
	struct fs_replay_counter *r = window_new();

	/* From 8128 down to 0: each is at most 8128 below the top. */
	for (uint64_t c = WINDOW + 1; c-- > 0;)
		ACCEPT(r, c);
	for (uint64_t c = 0; c <= WINDOW; ++c)
		REJECTED(r, c);
	free(r);

	/* From 8129 down to 1: then 0 is 8129 below and too old. */
	r = window_new();
	for (uint64_t c = WINDOW + 2; c-- > 1;)
		ACCEPT(r, c);
	REJECTED(r, 0);
	free(r);
}

Test(replay, exact_boundary_at_every_alignment)
{
	/*
	 * For tops spread over two 64-bit words and around the ring size, with
	 * nothing else seen: top - 8129 is too old, top - 8128 is accepted once.
	 */
	for (uint64_t top = WINDOW; top < WINDOW + 200; ++top) {
		struct fs_replay_counter *r = window_new();

		ACCEPT(r, top);
		if (top >= WINDOW + 1)
			REJECTED(r, top - WINDOW - 1);
		ACCEPT(r, top - WINDOW);
		REJECTED(r, top - WINDOW);
		ACCEPT(r, top - 1);
		REJECTED(r, top);
		free(r);
	}
	for (uint64_t top = 8192 * 5 - 70; top < 8192 * 5 + 70; ++top) {
		struct fs_replay_counter *r = window_new();

		ACCEPT(r, top);
		REJECTED(r, top - WINDOW - 1);
		ACCEPT(r, top - WINDOW);
		free(r);
	}
}

Test(replay, boundary_after_filling_the_window)
{
	struct fs_replay_counter *r = window_new();
	const uint64_t top = 4 * (WINDOW + 1);

	ACCEPT(r, top);
	ACCEPT(r, top - (WINDOW - 1));
	REJECTED(r, 10);
	REJECTED(r, top - (WINDOW + 1));
	ACCEPT(r, top - WINDOW);
	REJECTED(r, top - WINDOW);
	ACCEPT(r, top - (WINDOW - 2));
	free(r);
}

Test(replay, big_jumps_clear_old_bits)
{
	/*
	 * Fill a whole ring's worth (0..8191), then jump forward by j. Counters
	 * above 8191 were never seen and must be accepted even where their bit
	 * in the ring is the bit an old counter used; those at or below 8191
	 * are duplicates if still inside the window.
	 */
	static const uint64_t jumps[] = {
		1, 63, 64, 65, 127, 128, 8127, 8128, 8129, 8191, 8192, 8193, 8256,
		16383, 16384, 16385, UINT64_C(1) << 20, UINT64_C(1) << 40,
	};

	for (size_t i = 0; i < sizeof(jumps) / sizeof(jumps[0]); ++i) {
		struct fs_replay_counter *r = window_new();
		const uint64_t top = 8191 + jumps[i];

		for (uint64_t c = 0; c < 8192; ++c)
			ACCEPT(r, c);
		ACCEPT(r, top);
		for (uint64_t c = top - WINDOW; c < top; ++c) {
			bool fresh = fs_replay_check(r, c);

			cr_assert_eq(fresh, c > 8191, "jump %llu: counter %llu %s",
				     (unsigned long long)jumps[i], (unsigned long long)c,
				     fresh ? "accepted twice" : "rejected though never seen");
		}
		REJECTED(r, top - WINDOW - 1);
		free(r);
	}
}

Test(replay, reject_after_messages)
{
	struct fs_replay_counter *r = window_new();

	REJECTED(r, REJECT);
	REJECTED(r, REJECT + 1);
	REJECTED(r, UINT64_MAX);
	ACCEPT(r, REJECT - 1);
	REJECTED(r, REJECT);
	REJECTED(r, REJECT - 1);
	ACCEPT(r, REJECT - 2);
	REJECTED(r, REJECT + 1);
	REJECTED(r, REJECT + 2);
	REJECTED(r, REJECT - 2);
	ACCEPT(r, REJECT - 3);
	ACCEPT(r, REJECT - 1 - WINDOW);
	REJECTED(r, REJECT - 2 - WINDOW);
	REJECTED(r, 0);
	free(r);
}

/* --- against a naive model ------------------------------------------------ */

struct model {
	uint64_t *seen;		/* one bit per counter - base, no cleverness */
	uint64_t base, span;
	uint64_t max;
	bool any;
};

static bool model_check(struct model *m, uint64_t c)
{
	if (c >= REJECT)
		return false;
	if (m->any && c + WINDOW < m->max)
		return false;
	cr_assert(c >= m->base && c - m->base < m->span, "model out of range");
	if (m->seen[(c - m->base) / 64] >> ((c - m->base) % 64) & 1)
		return false;
	m->seen[(c - m->base) / 64] |= UINT64_C(1) << ((c - m->base) % 64);
	if (!m->any || c > m->max)
		m->max = c;
	m->any = true;
	return true;
}

/*
 * A random walk of counters starting at base: mostly near the top (both
 * sides of the window edge), some duplicates, small steps and jumps of up
 * to max_jump. The walk stays inside [base, base + span).
 */
static void run_against_model(uint64_t base, uint64_t span, uint64_t max_jump, uint64_t seed,
			      unsigned int steps)
{
	struct fs_replay_counter *r = window_new();
	struct model m = { .base = base, .span = span };
	uint64_t state = seed, top = 0, accepted = 0, rejected = 0;

	m.seen = calloc(span / 64 + 1, sizeof(*m.seen));
	cr_assert_not_null(m.seen);
	for (unsigned int i = 0; i < steps; ++i) {
		uint64_t x = fs_test_rand(&state), pick = x % 100, off, c;
		bool want, got;

		x = fs_test_rand(&state);
		if (pick < 45)			/* inside or just below the window */
			off = top - (x % (WINDOW + 64) < top ? x % (WINDOW + 64) : top);
		else if (pick < 55)		/* right at the edge */
			off = top - (WINDOW - 3 + x % 6 < top ? WINDOW - 3 + x % 6 : top);
		else if (pick < 90)		/* a little forward */
			off = top + x % 80;
		else if (pick < 94)		/* a jump, up to two rings */
			off = top + x % max_jump;
		else				/* anywhere seen so far */
			off = x % (top + 1);
		if (off >= span - 1)
			off = x % span;
		c = base + off;

		want = model_check(&m, c);
		got = fs_replay_check(r, c);
		cr_assert_eq(got, want, "step %u: counter %llu (top %llu): window says %d, model %d",
			     i, (unsigned long long)c, (unsigned long long)(base + top), got, want);
		if (got && off > top)
			top = off;
		got ? ++accepted : ++rejected;
	}
	cr_log_info("%llu accepted, %llu rejected, top %llu", (unsigned long long)accepted,
		    (unsigned long long)rejected, (unsigned long long)(base + top));
	/* The walk must have exercised both outcomes a fair amount. */
	cr_assert_gt(accepted, steps / 10);
	cr_assert_gt(rejected, steps / 10);
	free(m.seen);
	free(r);
}

Test(replay, random_walk_matches_naive_model)
{
	run_against_model(0, UINT64_C(1) << 28, 16500, UINT64_C(0x9e3779b97f4a7c15), 300000);
}

Test(replay, random_walk_near_reject_matches_naive_model)
{
	/* Small jumps: the walk reaches REJECT_AFTER_MESSAGES near its end. */
	run_against_model(REJECT - 3000000, 3000000 + 20, 100, UINT64_C(0x0123456789abcdef), 200000);
}
