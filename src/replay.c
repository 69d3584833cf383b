// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * RFC 6479's window: a ring of 64-bit words. "counter" is one more than the
 * highest accepted message counter, so 0 means nothing seen yet. Moving the
 * top forward clears the words it passes; a bit is set for each accepted
 * counter. The last word is never fully usable (it is the one being
 * cleared), so the window that is guaranteed is WG_COUNTER_WINDOW_SIZE.
 */
#include <string.h>
#include "replay.h"

enum {
	WORDS = WG_COUNTER_BITS_TOTAL / 64,
	WORD_SHIFT = 6,
};

void fs_replay_init(struct fs_replay_counter *r)
{
	memset(r, 0, sizeof(*r));
}

bool fs_replay_check(struct fs_replay_counter *r, uint64_t their_counter)
{
	uint64_t word, top_word, bit;

	if (r->counter >= WG_REJECT_AFTER_MESSAGES + 1 || their_counter >= WG_REJECT_AFTER_MESSAGES)
		return false;
	++their_counter;
	if (their_counter + WG_COUNTER_WINDOW_SIZE < r->counter)
		return false;

	word = their_counter >> WORD_SHIFT;
	if (their_counter > r->counter) {
		uint64_t steps;

		top_word = r->counter >> WORD_SHIFT;
		steps = word - top_word;
		if (steps > WORDS)
			steps = WORDS;
		for (uint64_t i = 1; i <= steps; ++i)
			r->backtrack[(top_word + i) & (WORDS - 1)] = 0;
		r->counter = their_counter;
	}

	bit = UINT64_C(1) << (their_counter & 63);
	word &= WORDS - 1;
	if (r->backtrack[word] & bit)
		return false;
	r->backtrack[word] |= bit;
	return true;
}
