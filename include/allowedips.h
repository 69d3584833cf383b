/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Allowed IPs: a longest-prefix-match trie per address family mapping inner
 * addresses to peers. It routes outgoing packets to a peer and checks the
 * inner source of packets received from one (cryptokey routing).
 *
 * Concurrency: one writer at a time (the caller holds the device's config
 * lock); any number of readers inside an RCU read-side critical section of
 * liburcu's "memb" flavour (urcu_memb_read_lock). Removed nodes are freed
 * after a grace period. Readers never block and take no lock.
 */
#ifndef FLOWSPREAD_ALLOWEDIPS_H
#define FLOWSPREAD_ALLOWEDIPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fs_allowedips;

struct fs_allowedips *fs_allowedips_new(void);
/* Frees every node at once: call only when no reader can hold a reference. */
void fs_allowedips_free(struct fs_allowedips *table);

/*
 * Maps family (AF_INET or AF_INET6) address/cidr to peer. Host bits of the
 * address beyond cidr are ignored (masked). An existing entry for exactly
 * that prefix is moved to the new peer, as WireGuard does.
 * 0, -EINVAL (family or cidr out of range) or -ENOMEM; on error nothing changed.
 */
int fs_allowedips_insert(struct fs_allowedips *table, int family, const void *address,
			 uint8_t cidr, void *peer);

/* Removes exactly address/cidr if it maps to peer. 0 or -ENOENT. */
int fs_allowedips_remove(struct fs_allowedips *table, int family, const void *address,
			 uint8_t cidr, void *peer);

/* Removes every prefix of the peer. */
void fs_allowedips_remove_by_peer(struct fs_allowedips *table, void *peer);

/* The peer owning the longest prefix that contains address, or NULL. RCU reader. */
void *fs_allowedips_lookup(const struct fs_allowedips *table, int family, const void *address);

/*
 * Calls fn for each prefix of the peer, in the order they were inserted;
 * stops early if fn returns false. Writer side (config lock held).
 */
typedef bool (*fs_allowedips_walk_fn)(void *ctx, int family, const void *address, uint8_t cidr);
void fs_allowedips_walk_by_peer(const struct fs_allowedips *table, void *peer,
				fs_allowedips_walk_fn fn, void *ctx);

/*
 * Sets aside memory for the next "inserts" insertions, so that they cannot
 * fail for want of it: 0 or -ENOMEM (what was set aside stays until
 * unreserve). unreserve frees what was not used.
 */
int fs_allowedips_reserve(struct fs_allowedips *table, size_t inserts);
void fs_allowedips_unreserve(struct fs_allowedips *table);

/* Number of prefixes stored (all peers). */
size_t fs_allowedips_count(const struct fs_allowedips *table);

#endif
