/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The anti-replay sliding window of RFC 6479, sized as the kernel driver's:
 * 8192 bits of which the last 64 are redundant, so 8128 counters behind the
 * highest seen are still accepted once each.
 */
#ifndef FLOWSPREAD_REPLAY_H
#define FLOWSPREAD_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include "messages.h"

struct fs_replay_counter {
	uint64_t counter;	/* highest counter seen, plus one; 0 before any */
	uint64_t backtrack[WG_COUNTER_BITS_TOTAL / 64];
};

void fs_replay_init(struct fs_replay_counter *r);

/*
 * Accepts (and records) "counter" if it was never seen, is not too old for
 * the window and is below WG_REJECT_AFTER_MESSAGES. Call only after the
 * packet authenticated.
 */
bool fs_replay_check(struct fs_replay_counter *r, uint64_t counter);

#endif
