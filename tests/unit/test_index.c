// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdlib.h>
#include <criterion/criterion.h>
#include "index.h"
#include "leakcheck.h"

enum { MANY = 100000 };

/* Hands out a fixed script of values, then fails the test if asked again. */
struct script {
	const uint32_t *values;
	size_t len, pos;
};

static uint32_t script_next(void *ctx)
{
	struct script *s = ctx;

	cr_assert_lt(s->pos, s->len, "random hook asked for value %zu of %zu", s->pos + 1, s->len);
	return s->values[s->pos++];
}

static struct fs_index_table *table_with_script(struct script *s)
{
	struct fs_index_table *table = fs_index_table_new();

	cr_assert_not_null(table);
	fs_index_table_set_random(table, script_next, s);
	return table;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static enum fs_index_type type_for(size_t i)
{
	return i % 3 ? FS_INDEX_KEYPAIR : FS_INDEX_HANDSHAKE;
}

static unsigned int other_type(enum fs_index_type t)
{
	return t == FS_INDEX_KEYPAIR ? FS_INDEX_HANDSHAKE : FS_INDEX_KEYPAIR;
}

static void check_all_found(struct fs_index_table *table, struct fs_index_entry *e, size_t n)
{
	for (size_t i = 0; i < n; ++i) {
		cr_assert_eq(fs_index_lookup(table, e[i].type, e[i].index), &e[i], "entry %zu", i);
		cr_assert_eq(fs_index_lookup(table, FS_INDEX_HANDSHAKE | FS_INDEX_KEYPAIR,
					     e[i].index), &e[i]);
		cr_assert_null(fs_index_lookup(table, other_type(e[i].type), e[i].index));
	}
}

FS_LEAK_CHECKED_SUITE(index);

Test(index, many_inserts_are_distinct_and_found)
{
	struct fs_index_table *table = fs_index_table_new();
	struct fs_index_entry *e = calloc(MANY, sizeof(*e));
	uint32_t *sorted = calloc(MANY, sizeof(*sorted));

	cr_assert(table && e && sorted);
	for (size_t i = 0; i < MANY; ++i) {
		e[i].type = type_for(i);
		sorted[i] = fs_index_insert(table, &e[i]);
		cr_assert_eq(sorted[i], e[i].index);
		cr_assert(e[i].hashed);
		cr_assert_eq(fs_index_count(table), i + 1);
	}
	qsort(sorted, MANY, sizeof(*sorted), cmp_u32);
	for (size_t i = 1; i < MANY; ++i)
		cr_assert_neq(sorted[i - 1], sorted[i], "index %u handed out twice", sorted[i]);
	check_all_found(table, e, MANY);

	for (size_t i = 0; i < MANY; i += 2)
		fs_index_remove(table, &e[i]);
	cr_assert_eq(fs_index_count(table), MANY / 2);
	for (size_t i = 0; i < MANY; ++i) {
		struct fs_index_entry *found = fs_index_lookup(table, e[i].type, e[i].index);

		cr_assert_eq(found, i % 2 ? &e[i] : NULL, "entry %zu", i);
		cr_assert_eq(e[i].hashed, i % 2 == 1);
	}
	for (size_t i = 1; i < MANY; i += 2)
		fs_index_remove(table, &e[i]);
	cr_assert_eq(fs_index_count(table), 0);

	fs_index_table_free(table);
	free(sorted);
	free(e);
}

Test(index, wrong_type_or_unknown_index_is_null)
{
	static const uint32_t values[] = { 0x12345678 };
	struct script s = { values, 1, 0 };
	struct fs_index_table *table = table_with_script(&s);
	struct fs_index_entry hs = { .type = FS_INDEX_HANDSHAKE };

	cr_assert_eq(fs_index_insert(table, &hs), 0x12345678);
	cr_assert_eq(fs_index_lookup(table, FS_INDEX_HANDSHAKE, 0x12345678), &hs);
	cr_assert_null(fs_index_lookup(table, FS_INDEX_KEYPAIR, 0x12345678));
	cr_assert_null(fs_index_lookup(table, 0, 0x12345678));
	cr_assert_null(fs_index_lookup(table, FS_INDEX_HANDSHAKE, 0x12345679));
	/* Same bucket, different index. */
	cr_assert_null(fs_index_lookup(table, FS_INDEX_HANDSHAKE, 0x12345678 ^ 0x80000000));
	fs_index_table_free(table);
}

Test(index, collision_draws_again)
{
	static const uint32_t values[] = { 7, 7, 7, 9 };
	struct script s = { values, 4, 0 };
	struct fs_index_table *table = table_with_script(&s);
	struct fs_index_entry a = { .type = FS_INDEX_HANDSHAKE };
	struct fs_index_entry b = { .type = FS_INDEX_KEYPAIR };

	cr_assert_eq(fs_index_insert(table, &a), 7);
	cr_assert_eq(fs_index_insert(table, &b), 9);
	cr_assert_eq(s.pos, 4, "hook called %zu times", s.pos);
	cr_assert_eq(a.index, 7);
	cr_assert_eq(b.index, 9);
	cr_assert_eq(fs_index_count(table), 2);
	cr_assert_eq(fs_index_lookup(table, FS_INDEX_HANDSHAKE, 7), &a);
	cr_assert_eq(fs_index_lookup(table, FS_INDEX_KEYPAIR, 9), &b);
	fs_index_table_free(table);
}

/* Three indices that share a bucket (2^13 buckets), to exercise the chain. */
static const uint32_t same_bucket[] = { 5, 5 + (1U << 13), 5 + (2U << 13) };

Test(index, replace_keeps_index_and_place)
{
	struct script s = { same_bucket, 3, 0 };
	struct fs_index_table *table = table_with_script(&s);
	struct fs_index_entry hs[3] = {
		{ .type = FS_INDEX_HANDSHAKE },
		{ .type = FS_INDEX_HANDSHAKE },
		{ .type = FS_INDEX_HANDSHAKE },
	};
	struct fs_index_entry kp = { .type = FS_INDEX_KEYPAIR };

	for (size_t i = 0; i < 3; ++i)
		cr_assert_eq(fs_index_insert(table, &hs[i]), same_bucket[i]);

	/* The middle of the chain. */
	cr_assert(fs_index_replace(table, &hs[1], &kp));
	cr_assert_eq(kp.index, same_bucket[1]);
	cr_assert(kp.hashed);
	cr_assert_not(hs[1].hashed);
	cr_assert_eq(fs_index_count(table), 3);
	cr_assert_eq(fs_index_lookup(table, FS_INDEX_KEYPAIR, same_bucket[1]), &kp);
	cr_assert_null(fs_index_lookup(table, FS_INDEX_HANDSHAKE, same_bucket[1]));
	cr_assert_eq(fs_index_lookup(table, FS_INDEX_HANDSHAKE, same_bucket[0]), &hs[0]);
	cr_assert_eq(fs_index_lookup(table, FS_INDEX_HANDSHAKE, same_bucket[2]), &hs[2]);

	/* An unhashed entry cannot be replaced. */
	cr_assert_not(fs_index_replace(table, &hs[1], &kp));
	cr_assert_eq(fs_index_lookup(table, FS_INDEX_KEYPAIR, same_bucket[1]), &kp);
	cr_assert_eq(fs_index_count(table), 3);
	fs_index_table_free(table);
}

Test(index, remove_unhashes_and_is_idempotent)
{
	struct script s = { same_bucket, 3, 0 };
	struct fs_index_table *table = table_with_script(&s);
	struct fs_index_entry e[3] = {
		{ .type = FS_INDEX_KEYPAIR },
		{ .type = FS_INDEX_KEYPAIR },
		{ .type = FS_INDEX_KEYPAIR },
	};
	struct fs_index_entry never = { .type = FS_INDEX_KEYPAIR };

	for (size_t i = 0; i < 3; ++i)
		fs_index_insert(table, &e[i]);
	cr_assert_eq(fs_index_count(table), 3);

	fs_index_remove(table, &e[2]);	/* the head of the chain */
	cr_assert_null(fs_index_lookup(table, FS_INDEX_KEYPAIR, same_bucket[2]));
	cr_assert_not(e[2].hashed);
	cr_assert_eq(fs_index_count(table), 2);

	fs_index_remove(table, &e[2]);
	fs_index_remove(table, &never);
	cr_assert_eq(fs_index_count(table), 2);

	fs_index_remove(table, &e[0]);	/* the tail */
	cr_assert_null(fs_index_lookup(table, FS_INDEX_KEYPAIR, same_bucket[0]));
	cr_assert_eq(fs_index_lookup(table, FS_INDEX_KEYPAIR, same_bucket[1]), &e[1]);
	cr_assert_eq(fs_index_count(table), 1);
	fs_index_table_free(table);
}

Test(index, reinsert_moves_the_entry)
{
	static const uint32_t values[] = { 100, 200 };
	struct script s = { values, 2, 0 };
	struct fs_index_table *table = table_with_script(&s);
	struct fs_index_entry e = { .type = FS_INDEX_HANDSHAKE };

	cr_assert_eq(fs_index_insert(table, &e), 100);
	cr_assert_eq(fs_index_insert(table, &e), 200);
	cr_assert_eq(fs_index_count(table), 1);
	cr_assert_null(fs_index_lookup(table, FS_INDEX_HANDSHAKE, 100));
	cr_assert_eq(fs_index_lookup(table, FS_INDEX_HANDSHAKE, 200), &e);
	fs_index_table_free(table);
}

Test(index, null_hook_restores_default)
{
	static const uint32_t values[] = { 1 };
	struct script s = { values, 1, 0 };
	struct fs_index_table *table = table_with_script(&s);
	struct fs_index_entry a = { .type = FS_INDEX_HANDSHAKE };
	struct fs_index_entry b = { .type = FS_INDEX_HANDSHAKE };

	fs_index_insert(table, &a);
	fs_index_table_set_random(table, NULL, NULL);
	fs_index_insert(table, &b);	/* the script would fail the test */
	cr_assert_eq(s.pos, 1);
	cr_assert_neq(b.index, a.index);
	cr_assert_eq(fs_index_lookup(table, FS_INDEX_HANDSHAKE, b.index), &b);
	fs_index_table_free(table);
}
