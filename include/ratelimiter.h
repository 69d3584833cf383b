/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Handshake rate limiting per source, as the kernel driver's ratelimiter: a
 * token bucket per IPv4 address or IPv6 /64, 20 packets a second with a
 * burst of 5. Memory is fixed when the limiter is created: a preallocated
 * pool of max_entries entries; when every entry is in use new sources are
 * refused until idle entries (no packet for a second) are collected.
 */
#ifndef FLOWSPREAD_RATELIMITER_H
#define FLOWSPREAD_RATELIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
	FS_RATELIMITER_PACKETS_PER_SECOND = 20,
	FS_RATELIMITER_PACKETS_BURSTABLE = 5,
	FS_RATELIMITER_DEFAULT_ENTRIES = 65536,
};

struct fs_ratelimiter;

/* max_entries 0 means FS_RATELIMITER_DEFAULT_ENTRIES. NULL with errno on failure. */
struct fs_ratelimiter *fs_ratelimiter_new(size_t max_entries);
void fs_ratelimiter_free(struct fs_ratelimiter *rl);

/* AF_INET and AF_INET6 sources only; anything else is refused. */
bool fs_ratelimiter_allow(struct fs_ratelimiter *rl, const struct sockaddr *src, uint64_t now);

/* Drops entries idle for a second or more. allow() also calls it, at most once a second. */
void fs_ratelimiter_gc(struct fs_ratelimiter *rl, uint64_t now);

size_t fs_ratelimiter_count(const struct fs_ratelimiter *rl);
size_t fs_ratelimiter_capacity(const struct fs_ratelimiter *rl);
/* Bytes allocated for the limiter, fixed at creation. */
size_t fs_ratelimiter_memory(const struct fs_ratelimiter *rl);

#endif
