// SPDX-License-Identifier: GPL-2.0-or-later
#include <time.h>
#include "tai64n.h"

/* TAI64 labels 1970 as 2^62 and TAI ran 10 s ahead of UTC then. */
#define TAI64_EPOCH (UINT64_C(1) << 62)
#define TAI64_UTC_OFFSET 10
/* 2^24 ns: the largest power of two below 1 s / WG_INITIATIONS_PER_SECOND. */
#define WHITENER_MASK ((UINT32_C(1) << 24) - 1)

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; --i, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; --i, v >>= 8)
		p[i] = (uint8_t)v;
}

void fs_tai64n_from(uint8_t out[WG_TIMESTAMP_LEN], uint64_t unix_seconds, uint32_t nanoseconds)
{
	put_be64(out, TAI64_EPOCH + TAI64_UTC_OFFSET + unix_seconds);
	put_be32(out + 8, nanoseconds);
}

void fs_tai64n_now(uint8_t out[WG_TIMESTAMP_LEN])
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	fs_tai64n_from(out, (uint64_t)now.tv_sec, (uint32_t)now.tv_nsec & ~WHITENER_MASK);
}
