/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Receiver indices: the 32-bit values a peer puts in the receiver field of
 * responses, cookie replies and data messages so that we find the handshake
 * or keypair without trial decryption. Each is drawn at random and checked
 * against those in use, so indices reveal nothing about how many sessions
 * exist. Entries are intrusive: they live inside the handshake or keypair
 * they name.
 *
 * Not thread-safe: the daemon serialises writers and gives readers a
 * consistent view (issue 3 adds RCU on top).
 */
#ifndef FLOWSPREAD_INDEX_H
#define FLOWSPREAD_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fs_noise_peer;

enum fs_index_type {
	FS_INDEX_HANDSHAKE = 1U << 0,
	FS_INDEX_KEYPAIR = 1U << 1,
};

struct fs_index_entry {
	struct fs_index_entry *next;	/* bucket chain; owned by the table */
	struct fs_noise_peer *peer;
	uint32_t index;			/* as it appears on the wire (le32 decoded) */
	enum fs_index_type type;
	bool hashed;
};

struct fs_index_table;

/* A source of random 32-bit values; tests replace it to force collisions. */
typedef uint32_t (*fs_index_random_fn)(void *ctx);

struct fs_index_table *fs_index_table_new(void);
void fs_index_table_free(struct fs_index_table *table);
void fs_index_table_set_random(struct fs_index_table *table, fs_index_random_fn fn, void *ctx);

/* Gives the entry a fresh random index not in use and returns it. */
uint32_t fs_index_insert(struct fs_index_table *table, struct fs_index_entry *entry);

/* new takes old's index and place; old is unhashed. False if old is not hashed. */
bool fs_index_replace(struct fs_index_table *table, struct fs_index_entry *old,
		      struct fs_index_entry *new_entry);

/* Unhashes the entry if it is hashed; a no-op otherwise. */
void fs_index_remove(struct fs_index_table *table, struct fs_index_entry *entry);

/* The entry with this index whose type is in the mask "types", or NULL. */
struct fs_index_entry *fs_index_lookup(const struct fs_index_table *table, unsigned int types,
				       uint32_t index);

size_t fs_index_count(const struct fs_index_table *table);

#endif
