// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The receiver-index table, as the kernel driver's index_hashtable: 2^13
 * buckets chained through the entries themselves. Indices are uniformly
 * random, so the low bits pick the bucket without further hashing; an
 * attacker who could steer indices would have to break the random source
 * first.
 *
 * Entries belong to their handshake or keypair; the table only links them.
 * "hashed" says whether an entry is on a chain, so removing twice is harmless.
 *
 * Readers (fs_index_lookup) may run concurrently with one writer, inside an
 * RCU read-side section: links are published with release stores and read
 * with acquire loads, and an unlinked entry keeps its "next" pointer so a
 * reader standing on it can walk on. The owner frees an unlinked entry only
 * after a grace period. A reader racing a re-insert may follow the entry
 * into another chain and miss what it looked for: a dropped packet, never
 * a wrong result, since indices are compared.
 */
#include <stdlib.h>
#include <sodium.h>
#include "index.h"

enum {
	HASH_BITS = 13,
	HASH_SIZE = 1U << HASH_BITS,
};

struct fs_index_table {
	struct fs_index_entry *buckets[HASH_SIZE];
	size_t count;
	fs_index_random_fn random;
	void *random_ctx;
};

static uint32_t default_random(void *ctx)
{
	(void)ctx;
	return randombytes_random();
}

static size_t bucket_of(uint32_t index)
{
	return index & (HASH_SIZE - 1);
}

static struct fs_index_entry *load(struct fs_index_entry *const *link)
{
	return __atomic_load_n(link, __ATOMIC_ACQUIRE);
}

static void publish(struct fs_index_entry **link, struct fs_index_entry *entry)
{
	__atomic_store_n(link, entry, __ATOMIC_RELEASE);
}

static struct fs_index_entry *find(const struct fs_index_table *table, uint32_t index)
{
	struct fs_index_entry *entry = load(&table->buckets[bucket_of(index)]);

	while (entry && entry->index != index)
		entry = load(&entry->next);
	return entry;
}

/* The link that points at entry, or NULL if entry is not on its chain. */
static struct fs_index_entry **link_of(struct fs_index_table *table,
				       const struct fs_index_entry *entry)
{
	struct fs_index_entry **link = &table->buckets[bucket_of(entry->index)];

	while (*link && *link != entry)
		link = &(*link)->next;
	return *link ? link : NULL;
}

struct fs_index_table *fs_index_table_new(void)
{
	struct fs_index_table *table;

	if (sodium_init() < 0)
		return NULL;
	table = calloc(1, sizeof(*table));
	if (!table)
		return NULL;
	table->random = default_random;
	return table;
}

/* Entries still hashed are left as they are: they are not ours to touch. */
void fs_index_table_free(struct fs_index_table *table)
{
	free(table);
}

void fs_index_table_set_random(struct fs_index_table *table, fs_index_random_fn fn, void *ctx)
{
	table->random = fn ? fn : default_random;
	table->random_ctx = fn ? ctx : NULL;
}

/*
 * Draws until the value is free. With at most a few thousand sessions in a
 * 2^32 space a retry is rare; a test hook that only returns used values
 * would loop forever, as it asked to.
 */
uint32_t fs_index_insert(struct fs_index_table *table, struct fs_index_entry *entry)
{
	struct fs_index_entry **head;
	uint32_t index;

	fs_index_remove(table, entry);
	do
		index = table->random(table->random_ctx);
	while (find(table, index));

	head = &table->buckets[bucket_of(index)];
	entry->index = index;
	entry->next = *head;
	entry->hashed = true;
	publish(head, entry);
	++table->count;
	return index;
}

bool fs_index_replace(struct fs_index_table *table, struct fs_index_entry *old,
		      struct fs_index_entry *new_entry)
{
	struct fs_index_entry **link;

	if (!old->hashed)
		return false;
	if (new_entry == old)
		return true;
	fs_index_remove(table, new_entry);
	link = link_of(table, old);
	if (!link)
		return false;

	new_entry->index = old->index;
	new_entry->next = old->next;
	new_entry->hashed = true;
	publish(link, new_entry);
	old->hashed = false;
	return true;
}

void fs_index_remove(struct fs_index_table *table, struct fs_index_entry *entry)
{
	struct fs_index_entry **link;

	if (!entry->hashed)
		return;
	link = link_of(table, entry);
	if (!link)
		return;
	publish(link, entry->next);
	entry->hashed = false;
	--table->count;
}

/* Indices are unique across types, so a wrong type ends the search. */
struct fs_index_entry *fs_index_lookup(const struct fs_index_table *table, unsigned int types,
				       uint32_t index)
{
	struct fs_index_entry *entry = find(table, index);

	if (!entry || !(entry->type & types))
		return NULL;
	return entry;
}

size_t fs_index_count(const struct fs_index_table *table)
{
	return table->count;
}
