// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The secure pool: objects come zeroed, are wiped when freed, mappings grow
 * with chunks and not with objects, and a full pool answers NULL.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "helpers.h"
#include "noise.h"
#include "secmem.h"
#include "leakcheck.h"

FS_LEAK_CHECKED_SUITE(secmem);

static size_t count_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	size_t n = 0;
	int c;

	cr_assert(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; ++i)
		if (p[i])
			return false;
	return true;
}

Test(secmem, objects_come_zeroed_aligned_and_distinct)
{
	enum { N = 1000 };
	static uint8_t *p[N];
	struct fs_secmem_stats st;

	for (size_t i = 0; i < N; ++i) {
		size_t size = 24 + i % 3 * 200;

		p[i] = fs_secmem_alloc(size);
		cr_assert(p[i], "allocation %zu of %zu bytes failed", i, size);
		cr_assert_eq((uintptr_t)p[i] % 16, 0);
		cr_assert(all_zero(p[i], size));
		memset(p[i], 0xa5, size);
	}
	for (size_t i = 1; i < N; ++i)
		cr_assert_neq(p[i], p[i - 1]);
	fs_secmem_get_stats(&st);
	cr_assert_eq(st.objects, N);
	for (size_t i = 0; i < N; i += 2)
		fs_secmem_free(p[i]);
	/* Freed slots are reused, zeroed again. */
	for (size_t i = 0; i < N; i += 2) {
		p[i] = fs_secmem_alloc(24 + i % 3 * 200);
		cr_assert(p[i]);
		cr_assert(all_zero(p[i], 24 + i % 3 * 200));
	}
	for (size_t i = 0; i < N; ++i)
		fs_secmem_free(p[i]);
	fs_secmem_get_stats(&st);
	cr_assert_eq(st.objects, 0);
	cr_assert_eq(st.in_use, 0);
	/* One chunk of each of the three sizes stays. */
	cr_assert_eq(st.chunks, 3);
}

Test(secmem, free_wipes)
{
	uint8_t *a = fs_secmem_alloc(64), *b = fs_secmem_alloc(64);

	cr_assert(a && b);
	memset(a, 0x5a, 64);
	memset(b, 0x5a, 64);
	cr_assert_not(fs_secmem_is_wiped(a), "a live object with data is not wiped");
	fs_secmem_free(a);
	/* b keeps the chunk mapped: a's slot is free and reads as zero. */
	cr_assert(fs_secmem_is_wiped(a));
	cr_assert(all_zero(a, 64));
	fs_secmem_free(b);
	cr_assert(fs_secmem_is_wiped(b));
}

Test(secmem, keypair_and_peer_of_the_core_are_wiped)
{
	uint8_t key[WG_KEY_LEN] = { 1 }, remote[WG_KEY_LEN] = { 9 };
	struct fs_noise_identity *identity = fs_noise_identity_new(), *keep;
	struct fs_noise_peer *peer;

	fs_test_sodium_init();
	keep = fs_noise_identity_new();	/* keeps the identities' chunk mapped */
	cr_assert(identity && keep);
	cr_assert(fs_noise_identity_set_private(identity, key));
	peer = fs_noise_peer_new(identity, remote, key, NULL);
	cr_assert(peer);
	fs_noise_peer_free(peer, NULL);
	fs_noise_identity_free(identity);
	cr_assert(fs_secmem_is_wiped(identity));
	fs_noise_identity_free(keep);
}

Test(secmem, mappings_grow_with_chunks_not_objects)
{
	enum { N = 20000 };
	static void *p[N];
	struct fs_secmem_stats st;
	size_t before, after;

	/* The first chunk, and whatever the first malloc maps, out of the count. */
	fs_secmem_free(fs_secmem_alloc(320));
	before = count_mappings();
	for (size_t i = 0; i < N; ++i)
		cr_assert(p[i] = fs_secmem_alloc(320 + i % 2 * 200));
	after = count_mappings();
	fs_secmem_get_stats(&st);
	cr_assert_geq(st.mapped, (size_t)N / 2 * (320 + 528));
	/* sodium_malloc would map about 4 per object: 80,000 here. */
	cr_assert_leq(after - before, 3 * st.chunks + 8,
		      "%zu mappings for %zu chunks", after - before, st.chunks);
	cr_assert_lt(st.chunks, 40);
	for (size_t i = 0; i < N; ++i)
		fs_secmem_free(p[i]);
	fs_secmem_get_stats(&st);
	cr_assert_eq(st.chunks, 2, "empty chunks are unmapped but the last of each size");
	cr_assert_leq(count_mappings(), before + 6);
}

Test(secmem, exhaustion_returns_null_and_recovers)
{
	enum { N = 10000 };
	static void *p[N];
	struct fs_secmem_stats st;
	size_t n = 0;

	fs_secmem_set_limit(256 << 10);
	while (n < N && (p[n] = fs_secmem_alloc(512)))
		++n;
	cr_assert_lt(n, N, "the limit stopped the pool");
	cr_assert_eq(errno, ENOMEM);
	fs_secmem_get_stats(&st);
	cr_assert_leq(st.mapped, (size_t)256 << 10);
	cr_assert_eq(n, st.mapped / 512, "every slot of the mapped chunks was used first");
	fs_secmem_free(p[--n]);
	cr_assert(p[n] = fs_secmem_alloc(512), "a freed slot is there again");
	++n;
	for (size_t i = 0; i < n; ++i)
		fs_secmem_free(p[i]);
	fs_secmem_set_limit(0);
}

Test(secmem, refuses_what_it_cannot_hold)
{
	cr_assert_null(fs_secmem_alloc(0));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(fs_secmem_alloc(FS_SECMEM_MAX_OBJECT + 1));
	cr_assert_eq(errno, EINVAL);
	fs_secmem_free(NULL);
}
