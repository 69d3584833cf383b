// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <criterion/criterion.h>
#include "ratelimiter.h"
#include "leakcheck.h"

#define MSEC 1000000ULL
#define SEC (1000 * MSEC)
#define T0 (1000 * SEC)

union addr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_un sun;
};

static const struct sockaddr *v4(union addr *a, const char *text)
{
	memset(a, 0, sizeof(*a));
	a->sin.sin_family = AF_INET;
	a->sin.sin_port = htons(51820);
	cr_assert_eq(inet_pton(AF_INET, text, &a->sin.sin_addr), 1, "%s", text);
	return &a->sa;
}

static const struct sockaddr *v6(union addr *a, const char *text)
{
	memset(a, 0, sizeof(*a));
	a->sin6.sin6_family = AF_INET6;
	a->sin6.sin6_port = htons(51820);
	cr_assert_eq(inet_pton(AF_INET6, text, &a->sin6.sin6_addr), 1, "%s", text);
	return &a->sa;
}

static struct fs_ratelimiter *limiter(size_t max_entries)
{
	struct fs_ratelimiter *rl = fs_ratelimiter_new(max_entries);

	cr_assert_not_null(rl, "fs_ratelimiter_new(%zu): %s", max_entries, strerror(errno));
	return rl;
}

/* How many packets in a row are allowed at "now", stopping at the first refusal. */
static unsigned int burst(struct fs_ratelimiter *rl, const struct sockaddr *src, uint64_t now)
{
	unsigned int n = 0;

	while (fs_ratelimiter_allow(rl, src, now) && n < 100)
		++n;
	return n;
}

FS_LEAK_CHECKED_SUITE(ratelimiter);

Test(ratelimiter, burst_refill_and_full_again)
{
	struct fs_ratelimiter *rl = limiter(16);
	union addr a;
	const struct sockaddr *src = v4(&a, "192.0.2.1");

	cr_assert_eq(burst(rl, src, T0), 5);
	cr_assert_not(fs_ratelimiter_allow(rl, src, T0));
	cr_assert_eq(burst(rl, src, T0 + 50 * MSEC), 1);
	cr_assert_eq(burst(rl, src, T0 + 50 * MSEC + SEC), 5);
	cr_assert_eq(fs_ratelimiter_count(rl), 1);
	fs_ratelimiter_free(rl);
}

/* Table-driven, in the manner of the kernel's selftest: one source, one packet a row. */
Test(ratelimiter, schedule)
{
	static const struct {
		uint64_t at;
		bool allowed;
	} expect[] = {
		{ 0, true }, { 0, true }, { 0, true }, { 0, true }, { 0, true },
		{ 0, false },
		{ 49 * MSEC, false },	/* not quite a token yet */
		{ 50 * MSEC, true },
		{ 50 * MSEC, false },
		{ 150 * MSEC, true },	/* two tokens earned */
		{ 150 * MSEC, true },
		{ 150 * MSEC, false },
		{ 999 * MSEC, true },	/* 849 ms earns 16, capped at 5 */
		{ 999 * MSEC, true },
		{ 999 * MSEC, true },
		{ 999 * MSEC, true },
		{ 999 * MSEC, true },
		{ 999 * MSEC, false },
		{ 1199 * MSEC, true },	/* 4 earned, 3 left */
		{ 1399 * MSEC, true },	/* 3 + 4 earned, capped at 5 */
		{ 1399 * MSEC, true },
		{ 1399 * MSEC, true },
		{ 1399 * MSEC, true },
		{ 1399 * MSEC, true },
		{ 1399 * MSEC, false },
	};
	struct fs_ratelimiter *rl = limiter(16);
	union addr a;
	const struct sockaddr *src = v4(&a, "198.51.100.7");

	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); ++i)
		cr_assert_eq(fs_ratelimiter_allow(rl, src, T0 + expect[i].at), expect[i].allowed,
			     "step %zu at +%llu ms", i,
			     (unsigned long long)(expect[i].at / MSEC));
	fs_ratelimiter_free(rl);
}

Test(ratelimiter, sources_are_independent)
{
	struct fs_ratelimiter *rl = limiter(16);
	union addr a, b;

	cr_assert_eq(burst(rl, v4(&a, "203.0.113.1"), T0), 5);
	cr_assert_eq(burst(rl, v4(&b, "203.0.113.2"), T0), 5);
	cr_assert_eq(fs_ratelimiter_count(rl), 2);
	fs_ratelimiter_free(rl);
}

Test(ratelimiter, ipv6_buckets_are_per_64)
{
	struct fs_ratelimiter *rl = limiter(16);
	union addr a;

	cr_assert_eq(burst(rl, v6(&a, "2001:db8:1:2::1"), T0), 5);
	cr_assert_not(fs_ratelimiter_allow(rl, v6(&a, "2001:db8:1:2:ffff:ffff:ffff:ffff"), T0));
	cr_assert_not(fs_ratelimiter_allow(rl, v6(&a, "2001:db8:1:2:8000::"), T0));
	cr_assert_eq(fs_ratelimiter_count(rl), 1);
	cr_assert_eq(burst(rl, v6(&a, "2001:db8:1:3::1"), T0), 5);
	cr_assert_eq(burst(rl, v6(&a, "2001:db8:1:1:ffff:ffff:ffff:ffff"), T0), 5);
	cr_assert_eq(fs_ratelimiter_count(rl), 3);
	fs_ratelimiter_free(rl);
}

Test(ratelimiter, v4_mapped_counts_as_ipv4)
{
	struct fs_ratelimiter *rl = limiter(16);
	union addr a;

	cr_assert_eq(burst(rl, v4(&a, "192.0.2.1"), T0), 5);
	cr_assert_not(fs_ratelimiter_allow(rl, v6(&a, "::ffff:192.0.2.1"), T0));
	cr_assert_eq(burst(rl, v6(&a, "::ffff:192.0.2.2"), T0), 5);
	cr_assert_not(fs_ratelimiter_allow(rl, v4(&a, "192.0.2.2"), T0));
	/* An IPv4 address and an IPv6 /64 with the same leading bytes differ. */
	cr_assert_eq(burst(rl, v6(&a, "c000:0201::"), T0), 5);
	cr_assert_eq(fs_ratelimiter_count(rl), 3);
	fs_ratelimiter_free(rl);
}

Test(ratelimiter, other_families_refused)
{
	struct fs_ratelimiter *rl = limiter(16);
	union addr a;

	memset(&a, 0, sizeof(a));
	a.sun.sun_family = AF_UNIX;
	strcpy(a.sun.sun_path, "/run/flowspread.sock");
	cr_assert_not(fs_ratelimiter_allow(rl, &a.sa, T0));
	a.sa.sa_family = AF_UNSPEC;
	cr_assert_not(fs_ratelimiter_allow(rl, &a.sa, T0));
	cr_assert_eq(fs_ratelimiter_count(rl), 0);
	fs_ratelimiter_free(rl);
}

Test(ratelimiter, gc_drops_only_idle_entries)
{
	struct fs_ratelimiter *rl = limiter(16);
	union addr a, b;

	cr_assert(fs_ratelimiter_allow(rl, v4(&a, "192.0.2.1"), T0));
	cr_assert(fs_ratelimiter_allow(rl, v4(&b, "192.0.2.2"), T0 + 500 * MSEC));
	fs_ratelimiter_gc(rl, T0 + SEC - 1);
	cr_assert_eq(fs_ratelimiter_count(rl), 2);
	fs_ratelimiter_gc(rl, T0 + SEC);
	cr_assert_eq(fs_ratelimiter_count(rl), 1);
	/* Using an entry makes it young again. */
	cr_assert(fs_ratelimiter_allow(rl, &b.sa, T0 + SEC));
	fs_ratelimiter_gc(rl, T0 + 1500 * MSEC);
	cr_assert_eq(fs_ratelimiter_count(rl), 1);
	fs_ratelimiter_gc(rl, T0 + 2 * SEC);
	cr_assert_eq(fs_ratelimiter_count(rl), 0);
	fs_ratelimiter_free(rl);
}

Test(ratelimiter, allow_collects_once_a_second)
{
	struct fs_ratelimiter *rl = limiter(16);
	union addr a;

	cr_assert(fs_ratelimiter_allow(rl, v4(&a, "10.0.0.1"), T0));
	cr_assert(fs_ratelimiter_allow(rl, v4(&a, "10.0.0.2"), T0));
	cr_assert(fs_ratelimiter_allow(rl, v4(&a, "10.0.0.3"), T0 + 100 * MSEC));
	cr_assert_eq(fs_ratelimiter_count(rl), 3);
	/* Not a second since the last collection (at T0): nothing goes. */
	cr_assert(fs_ratelimiter_allow(rl, v4(&a, "10.0.0.4"), T0 + SEC - 1));
	cr_assert_eq(fs_ratelimiter_count(rl), 4);
	/* The first two have been idle a second. */
	cr_assert(fs_ratelimiter_allow(rl, v4(&a, "10.0.0.5"), T0 + SEC));
	cr_assert_eq(fs_ratelimiter_count(rl), 3);
	/* 10.0.0.3 is idle too now, but the next collection is due at T0 + 2 s. */
	cr_assert(fs_ratelimiter_allow(rl, v4(&a, "10.0.0.6"), T0 + 1500 * MSEC));
	cr_assert_eq(fs_ratelimiter_count(rl), 4);
	fs_ratelimiter_free(rl);
}

Test(ratelimiter, full_pool_refuses_until_idle)
{
	struct fs_ratelimiter *rl = limiter(4);
	union addr a;
	const char *const hosts[] = { "10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4" };

	for (size_t i = 0; i < 4; ++i)
		cr_assert(fs_ratelimiter_allow(rl, v4(&a, hosts[i]), T0));
	cr_assert_not(fs_ratelimiter_allow(rl, v4(&a, "10.1.0.5"), T0));
	cr_assert_not(fs_ratelimiter_allow(rl, v4(&a, "10.1.0.5"), T0 + 999 * MSEC));
	/* Known sources still get their tokens while the pool is full. */
	cr_assert(fs_ratelimiter_allow(rl, v4(&a, hosts[0]), T0 + 999 * MSEC));
	cr_assert_eq(fs_ratelimiter_count(rl), 4);
	/* At T0 + 1 s, three of them are idle; hosts[0] was used at +999 ms. */
	cr_assert(fs_ratelimiter_allow(rl, v4(&a, "10.1.0.5"), T0 + SEC));
	cr_assert_eq(fs_ratelimiter_count(rl), 2);
	fs_ratelimiter_free(rl);
}

/*
 * A deliberately naive reference: a flat array scanned in full, following the
 * rules as written. The real limiter must agree with it packet by packet.
 */
enum {
	NAIVE_CAPACITY = 8,
	PACKET_COST = SEC / FS_RATELIMITER_PACKETS_PER_SECOND,
	TOKEN_MAX = PACKET_COST * FS_RATELIMITER_PACKETS_BURSTABLE,
};

struct naive {
	struct {
		bool used;
		uint32_t addr;
		uint64_t tokens, last;
	} e[NAIVE_CAPACITY];
	bool gc_ran;
	uint64_t last_gc;
};

static void naive_gc(struct naive *n, uint64_t now)
{
	n->gc_ran = true;
	n->last_gc = now;
	for (size_t i = 0; i < NAIVE_CAPACITY; ++i)
		if (n->e[i].used && now - n->e[i].last >= SEC)
			n->e[i].used = false;
}

static int naive_find(const struct naive *n, bool used, uint32_t addr)
{
	for (int i = 0; i < NAIVE_CAPACITY; ++i)
		if (n->e[i].used == used && (!used || n->e[i].addr == addr))
			return i;
	return -1;
}

static bool naive_allow(struct naive *n, uint32_t addr, uint64_t now)
{
	int i;

	if (!n->gc_ran || now - n->last_gc >= SEC)
		naive_gc(n, now);
	i = naive_find(n, true, addr);
	if (i >= 0) {
		n->e[i].tokens += now - n->e[i].last;
		if (n->e[i].tokens > TOKEN_MAX)
			n->e[i].tokens = TOKEN_MAX;
		n->e[i].last = now;
		if (n->e[i].tokens < PACKET_COST)
			return false;
		n->e[i].tokens -= PACKET_COST;
		return true;
	}
	if (naive_find(n, false, 0) < 0 && !(n->gc_ran && n->last_gc == now))
		naive_gc(n, now);
	i = naive_find(n, false, 0);
	if (i < 0)
		return false;
	n->e[i].used = true;
	n->e[i].addr = addr;
	n->e[i].tokens = TOKEN_MAX - PACKET_COST;
	n->e[i].last = now;
	return true;
}

static size_t naive_count(const struct naive *n)
{
	size_t count = 0;

	for (size_t i = 0; i < NAIVE_CAPACITY; ++i)
		count += n->e[i].used;
	return count;
}

static uint64_t xorshift(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

Test(ratelimiter, agrees_with_naive_reference)
{
	struct fs_ratelimiter *rl = limiter(NAIVE_CAPACITY);
	struct naive n = { 0 };
	uint64_t now = T0, rng = 0x2545f4914f6cdd1dULL;
	size_t allowed = 0, refused = 0;
	union addr a;

	for (int step = 0; step < 200000; ++step) {
		uint32_t addr = 0x0a000000U | (uint32_t)(xorshift(&rng) % 12);
		bool want, got;

		now += xorshift(&rng) % (xorshift(&rng) % 8 ? 5 * MSEC : 1200 * MSEC);
		memset(&a, 0, sizeof(a));
		a.sin.sin_family = AF_INET;
		a.sin.sin_addr.s_addr = htonl(addr);
		want = naive_allow(&n, addr, now);
		got = fs_ratelimiter_allow(rl, &a.sa, now);
		cr_assert_eq(got, want, "step %d, source %08x", step, addr);
		cr_assert_eq(fs_ratelimiter_count(rl), naive_count(&n), "step %d", step);
		if (xorshift(&rng) % 1000 == 0) {
			naive_gc(&n, now);
			fs_ratelimiter_gc(rl, now);
		}
		allowed += got;
		refused += !got;
	}
	/* Both outcomes must be common, or the comparison proves little. */
	cr_assert_gt(allowed, 20000);
	cr_assert_gt(refused, 20000);
	cr_log_info("naive reference: %zu allowed, %zu refused", allowed, refused);
	fs_ratelimiter_free(rl);
}

/* Source i as 10.x.y.z for even i and 2001:db8:hi:lo::1 for odd i: all distinct. */
static const struct sockaddr *nth_source(union addr *a, uint32_t i)
{
	memset(a, 0, sizeof(*a));
	if (i % 2 == 0) {
		a->sin.sin_family = AF_INET;
		a->sin.sin_addr.s_addr = htonl(0x0a000000U | i);
	} else {
		uint8_t *b = a->sin6.sin6_addr.s6_addr;

		a->sin6.sin6_family = AF_INET6;
		b[0] = 0x20; b[1] = 0x01; b[2] = 0x0d; b[3] = 0xb8;
		b[4] = i >> 24; b[5] = i >> 16; b[6] = i >> 8; b[7] = i;
		b[15] = 1;
	}
	return &a->sa;
}

/*
 * A million sources in a tenth of a second: the first "capacity" get in, the
 * rest are refused, and neither count nor memory grows.
 */
Test(ratelimiter, million_sources_stay_bounded)
{
	enum { CAPACITY = 4096, SOURCES = 1000000 };
	struct fs_ratelimiter *rl = limiter(CAPACITY);
	size_t memory = fs_ratelimiter_memory(rl), allowed = 0;
	uint64_t now = T0;
	union addr a;

	cr_assert_eq(fs_ratelimiter_capacity(rl), CAPACITY);
	for (uint32_t i = 0; i < SOURCES; ++i, now += 100) {
		allowed += fs_ratelimiter_allow(rl, nth_source(&a, i), now);
		cr_assert_leq(fs_ratelimiter_count(rl), CAPACITY, "after source %u", i);
	}
	cr_assert_eq(allowed, CAPACITY);
	cr_assert_eq(fs_ratelimiter_count(rl), CAPACITY);
	cr_assert_eq(fs_ratelimiter_memory(rl), memory);

	fs_ratelimiter_gc(rl, now + SEC);
	cr_assert_eq(fs_ratelimiter_count(rl), 0);
	cr_assert_eq(fs_ratelimiter_memory(rl), memory);
	fs_ratelimiter_free(rl);
}

/*
 * A million sources over ten seconds, 100,000 a second: each second the
 * entries of a second ago become idle and make room, so exactly "capacity"
 * new sources get in per second.
 */
Test(ratelimiter, million_sources_recycle)
{
	enum { CAPACITY = 4096, SOURCES = 1000000, STEP = 10000 /* ns */ };
	struct fs_ratelimiter *rl = limiter(CAPACITY);
	size_t memory = fs_ratelimiter_memory(rl), allowed = 0;
	uint64_t now = T0;
	union addr a;

	for (uint32_t i = 0; i < SOURCES; ++i, now += STEP) {
		allowed += fs_ratelimiter_allow(rl, nth_source(&a, i), now);
		cr_assert_leq(fs_ratelimiter_count(rl), CAPACITY, "after source %u", i);
	}
	cr_assert_eq(allowed, 10 * CAPACITY);
	cr_assert_eq(fs_ratelimiter_memory(rl), memory);
	fs_ratelimiter_gc(rl, now + SEC);
	cr_assert_eq(fs_ratelimiter_count(rl), 0);
	fs_ratelimiter_free(rl);
}

Test(ratelimiter, default_size_and_memory)
{
	struct fs_ratelimiter *rl = limiter(0);
	size_t memory = fs_ratelimiter_memory(rl);

	cr_assert_eq(fs_ratelimiter_capacity(rl), FS_RATELIMITER_DEFAULT_ENTRIES);
	cr_assert_eq(fs_ratelimiter_count(rl), 0);
	/* An entry holds at least an address, a time and tokens; and it stays small. */
	cr_assert_geq(memory, FS_RATELIMITER_DEFAULT_ENTRIES * 24);
	cr_assert_leq(memory, 4 << 20);
	cr_log_info("ratelimiter: %zu bytes for %d entries", memory,
		    FS_RATELIMITER_DEFAULT_ENTRIES);
	fs_ratelimiter_free(rl);
}

Test(ratelimiter, absurd_size_refused)
{
	errno = 0;
	cr_assert_null(fs_ratelimiter_new(SIZE_MAX));
	cr_assert_eq(errno, EINVAL);
}

Test(ratelimiter, capacity_one)
{
	struct fs_ratelimiter *rl = limiter(1);
	union addr a;

	cr_assert(fs_ratelimiter_allow(rl, v4(&a, "192.0.2.9"), 0));
	cr_assert_not(fs_ratelimiter_allow(rl, v4(&a, "192.0.2.10"), 0));
	cr_assert(fs_ratelimiter_allow(rl, v4(&a, "192.0.2.10"), SEC));
	cr_assert_eq(fs_ratelimiter_count(rl), 1);
	fs_ratelimiter_free(rl);
}
