// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * TAI64N labels: 2^62 + 10 + unix seconds, big-endian, then big-endian
 * nanoseconds (cr.yp.to/libtai/tai64.html and whitepaper section 5.1).
 * The expected bytes are worked out by hand from that definition.
 */
#include <time.h>
#include "helpers.h"
#include "tai64n.h"
#include "leakcheck.h"

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; ++i)
		v = v << 8 | p[i];
	return v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

FS_LEAK_CHECKED_SUITE(tai64n);

Test(tai64n, unix_epoch)
{
	uint8_t t[WG_TIMESTAMP_LEN];

	fs_tai64n_from(t, 0, 0);
	fs_assert_hex(t, 12, "400000000000000a00000000");
	/* 123456789 = 0x075bcd15 */
	fs_tai64n_from(t, 0, 123456789);
	fs_assert_hex(t, 12, "400000000000000a075bcd15");
}

Test(tai64n, known_dates)
{
	uint8_t t[WG_TIMESTAMP_LEN];

	/* 1700000000 = 0x6553f100, plus 10 */
	fs_tai64n_from(t, UINT64_C(1700000000), 5U << 24);
	fs_assert_hex(t, 12, "400000006553f10a05000000");
	/* 2^32 s crosses into the fifth byte */
	fs_tai64n_from(t, UINT64_C(1) << 32, 999999999);
	fs_assert_hex(t, 12, "400000010000000a3b9ac9ff");
}

Test(tai64n, later_times_compare_greater)
{
	static const struct {
		uint64_t s;
		uint32_t ns;
	} times[] = {
		{ 0, 0 }, { 0, 1 }, { 0, 255 }, { 0, 256 }, { 0, 999999999 }, { 1, 0 },
		{ 255, 0 }, { 256, 0 }, { 1600000000, 16777216 }, { 1600000000, 33554432 },
		{ 1600000001, 0 }, { UINT64_C(1) << 32, 0 },
	};
	uint8_t a[WG_TIMESTAMP_LEN], b[WG_TIMESTAMP_LEN];

	for (size_t i = 0; i + 1 < sizeof(times) / sizeof(times[0]); ++i) {
		fs_tai64n_from(a, times[i].s, times[i].ns);
		fs_tai64n_from(b, times[i + 1].s, times[i + 1].ns);
		cr_assert_lt(memcmp(a, b, WG_TIMESTAMP_LEN), 0, "%llu.%09u is not before %llu.%09u",
			     (unsigned long long)times[i].s, times[i].ns,
			     (unsigned long long)times[i + 1].s, times[i + 1].ns);
		fs_tai64n_from(b, times[i].s, times[i].ns);
		cr_assert_eq(memcmp(a, b, WG_TIMESTAMP_LEN), 0, "same time, different label");
	}
}

Test(tai64n, now_is_whitened_and_current)
{
	uint8_t t[WG_TIMESTAMP_LEN], later[WG_TIMESTAMP_LEN];
	struct timespec before, after;

	clock_gettime(CLOCK_REALTIME, &before);
	fs_tai64n_now(t);
	clock_gettime(CLOCK_REALTIME, &after);

	cr_assert_eq(be32(t + 8) & ((1U << 24) - 1), 0,
		     "nanoseconds %u are not a multiple of 2^24", be32(t + 8));
	cr_assert_lt(be32(t + 8), 1000000000U);
	cr_assert_geq(be64(t), (UINT64_C(1) << 62) + 10 + (uint64_t)before.tv_sec);
	cr_assert_leq(be64(t), (UINT64_C(1) << 62) + 10 + (uint64_t)after.tv_sec);

	fs_tai64n_now(later);
	cr_assert_geq(memcmp(later, t, WG_TIMESTAMP_LEN), 0, "the clock went backwards");
}

Test(tai64n, now_within_one_whitening_step)
{
	uint8_t t[WG_TIMESTAMP_LEN];
	struct timespec after;
	uint64_t label_ns, after_ns;

	fs_tai64n_now(t);
	clock_gettime(CLOCK_REALTIME, &after);
	label_ns = (be64(t) - (UINT64_C(1) << 62) - 10) * FS_NSEC_PER_SEC + be32(t + 8);
	after_ns = (uint64_t)after.tv_sec * FS_NSEC_PER_SEC + (uint64_t)after.tv_nsec;
	/* Rounded down, never up, and by less than 2^24 ns (plus the time between the calls). */
	cr_assert_leq(label_ns, after_ns);
	cr_assert_lt(after_ns - label_ns, (UINT64_C(1) << 24) + 100 * FS_NSEC_PER_MSEC);
}
