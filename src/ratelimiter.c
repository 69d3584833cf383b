// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A token bucket per source, as the kernel driver's ratelimiter. Tokens are
 * nanoseconds of credit: a bucket earns one a nanosecond up to TOKEN_MAX and
 * a packet costs PACKET_COST, which gives 20 packets a second and a burst
 * of 5. A new source starts one packet short of full and is let through.
 *
 * Every byte is allocated at creation: a pool of entries linked by 32-bit
 * positions, and an array of bucket heads. An entry in use is on its
 * bucket's chain and on the age list, oldest use first; a free entry is on
 * the free list. Since "now" only moves forward, the idle entries are a
 * prefix of the age list, so a collection costs what it frees and may run
 * whenever the pool is empty without letting a flood of fresh sources turn
 * every packet into a scan of the table.
 *
 * Buckets are chosen by SipHash under a key drawn at creation, so chosen
 * sources cannot be aimed at one chain.
 *
 * Not thread-safe: callers serialise.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sodium.h>
#include "ratelimiter.h"

#define NSEC_PER_SEC 1000000000ULL
#define PACKET_COST (NSEC_PER_SEC / FS_RATELIMITER_PACKETS_PER_SECOND)
#define TOKEN_MAX (PACKET_COST * FS_RATELIMITER_PACKETS_BURSTABLE)
#define NIL UINT32_MAX

/* An IPv4 address, or the first 64 bits of an IPv6 one, in network order. */
struct source {
	uint8_t addr[8];
	uint8_t family;
};

struct entry {
	struct source src;
	uint32_t tokens;	/* at most TOKEN_MAX, which fits */
	uint64_t last_time;
	uint32_t bucket;
	uint32_t chain;		/* next on the bucket's chain */
	uint32_t older;		/* age list */
	uint32_t newer;		/* age list, or the free list when unused */
};

struct fs_ratelimiter {
	struct entry *pool;
	uint32_t *buckets;
	uint32_t bucket_mask;
	uint32_t capacity;
	uint32_t count;
	uint32_t free_head;
	uint32_t oldest, newest;
	bool gc_ran;
	uint64_t last_gc;
	size_t memory;
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
};

/*
 * A v4-mapped address is the IPv4 source of a dual-stack socket: without
 * this, all of IPv4 would share the one bucket of ::ffff:0:0/64.
 */
static bool source_parse(struct source *src, const struct sockaddr *sa)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

	memset(src, 0, sizeof(*src));
	switch (sa->sa_family) {
	case AF_INET:
		memcpy(src->addr, &sin->sin_addr, 4);
		src->family = AF_INET;
		return true;
	case AF_INET6:
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memcpy(src->addr, &sin6->sin6_addr.s6_addr[12], 4);
			src->family = AF_INET;
		} else {
			memcpy(src->addr, sin6->sin6_addr.s6_addr, 8);
			src->family = AF_INET6;
		}
		return true;
	default:
		return false;
	}
}

static bool source_equal(const struct source *a, const struct source *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, sizeof(a->addr));
}

static uint32_t bucket_of(const struct fs_ratelimiter *rl, const struct source *src)
{
	uint8_t in[sizeof(src->addr) + 1], out[crypto_shorthash_BYTES];
	uint32_t hash;

	memcpy(in, src->addr, sizeof(src->addr));
	in[sizeof(src->addr)] = src->family;
	crypto_shorthash(out, in, sizeof(in), rl->hash_key);
	memcpy(&hash, out, sizeof(hash));
	return hash & rl->bucket_mask;
}

static uint32_t lookup(const struct fs_ratelimiter *rl, const struct source *src,
		       uint32_t bucket)
{
	uint32_t i = rl->buckets[bucket];

	while (i != NIL && !source_equal(&rl->pool[i].src, src))
		i = rl->pool[i].chain;
	return i;
}

static void age_unlink(struct fs_ratelimiter *rl, uint32_t i)
{
	struct entry *e = &rl->pool[i];

	if (e->older != NIL)
		rl->pool[e->older].newer = e->newer;
	else
		rl->oldest = e->newer;
	if (e->newer != NIL)
		rl->pool[e->newer].older = e->older;
	else
		rl->newest = e->older;
}

static void age_append(struct fs_ratelimiter *rl, uint32_t i)
{
	struct entry *e = &rl->pool[i];

	e->older = rl->newest;
	e->newer = NIL;
	if (rl->newest != NIL)
		rl->pool[rl->newest].newer = i;
	else
		rl->oldest = i;
	rl->newest = i;
}

static void chain_unlink(struct fs_ratelimiter *rl, uint32_t i)
{
	uint32_t *link = &rl->buckets[rl->pool[i].bucket];

	while (*link != i)
		link = &rl->pool[*link].chain;
	*link = rl->pool[i].chain;
}

static void entry_release(struct fs_ratelimiter *rl, uint32_t i)
{
	chain_unlink(rl, i);
	age_unlink(rl, i);
	rl->pool[i].newer = rl->free_head;
	rl->free_head = i;
	--rl->count;
}

static bool entry_idle(const struct entry *e, uint64_t now)
{
	return now >= e->last_time && now - e->last_time >= NSEC_PER_SEC;
}

static bool gc_due(const struct fs_ratelimiter *rl, uint64_t now)
{
	return !rl->gc_ran || (now > rl->last_gc && now - rl->last_gc >= NSEC_PER_SEC);
}

/* Earns the credit since the last packet, then pays for this one if it can. */
static bool entry_spend(struct fs_ratelimiter *rl, uint32_t i, uint64_t now)
{
	struct entry *e = &rl->pool[i];
	bool allowed;

	if (now > e->last_time) {
		if (now - e->last_time >= TOKEN_MAX - e->tokens)
			e->tokens = TOKEN_MAX;
		else
			e->tokens += now - e->last_time;
		e->last_time = now;
	}
	allowed = e->tokens >= PACKET_COST;
	if (allowed)
		e->tokens -= PACKET_COST;
	age_unlink(rl, i);
	age_append(rl, i);
	return allowed;
}

/* A new source: refused only when the pool is full even after collecting. */
static bool entry_admit(struct fs_ratelimiter *rl, const struct source *src,
			uint32_t bucket, uint64_t now)
{
	struct entry *e;
	uint32_t i;

	if (rl->free_head == NIL && !(rl->gc_ran && rl->last_gc == now))
		fs_ratelimiter_gc(rl, now);
	if (rl->free_head == NIL)
		return false;

	i = rl->free_head;
	e = &rl->pool[i];
	rl->free_head = e->newer;
	e->src = *src;
	e->tokens = TOKEN_MAX - PACKET_COST;
	e->last_time = now;
	e->bucket = bucket;
	e->chain = rl->buckets[bucket];
	rl->buckets[bucket] = i;
	age_append(rl, i);
	++rl->count;
	return true;
}

/* Half as many buckets as entries, rounded up to a power of two. */
static uint32_t bucket_count(uint32_t max_entries)
{
	uint32_t n = 1;

	while ((uint64_t)n * 2 < max_entries)
		n <<= 1;
	return n;
}

static void pool_init(struct fs_ratelimiter *rl)
{
	for (uint32_t i = 0; i < rl->capacity; ++i)
		rl->pool[i].newer = i + 1 < rl->capacity ? i + 1 : NIL;
	for (uint32_t b = 0; b <= rl->bucket_mask; ++b)
		rl->buckets[b] = NIL;
	rl->free_head = 0;
	rl->oldest = NIL;
	rl->newest = NIL;
}

struct fs_ratelimiter *fs_ratelimiter_new(size_t max_entries)
{
	struct fs_ratelimiter *rl;
	uint32_t nbuckets;

	if (!max_entries)
		max_entries = FS_RATELIMITER_DEFAULT_ENTRIES;
	if (max_entries >= NIL || max_entries > SIZE_MAX / sizeof(struct entry)) {
		errno = EINVAL;
		return NULL;
	}
	if (sodium_init() < 0) {
		errno = EIO;
		return NULL;
	}
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		goto err_rl;
	rl->capacity = (uint32_t)max_entries;
	nbuckets = bucket_count(rl->capacity);
	rl->bucket_mask = nbuckets - 1;
	rl->pool = calloc(rl->capacity, sizeof(*rl->pool));
	if (!rl->pool)
		goto err_pool;
	rl->buckets = calloc(nbuckets, sizeof(*rl->buckets));
	if (!rl->buckets)
		goto err_buckets;

	rl->memory = sizeof(*rl) + rl->capacity * sizeof(*rl->pool) +
		     nbuckets * sizeof(*rl->buckets);
	crypto_shorthash_keygen(rl->hash_key);
	pool_init(rl);
	return rl;

err_buckets:
	free(rl->pool);
err_pool:
	free(rl);
err_rl:
	errno = ENOMEM;
	return NULL;
}

void fs_ratelimiter_free(struct fs_ratelimiter *rl)
{
	if (!rl)
		return;
	sodium_memzero(rl->hash_key, sizeof(rl->hash_key));
	free(rl->buckets);
	free(rl->pool);
	free(rl);
}

bool fs_ratelimiter_allow(struct fs_ratelimiter *rl, const struct sockaddr *src, uint64_t now)
{
	struct source s;
	uint32_t bucket, i;

	if (!source_parse(&s, src))
		return false;
	if (gc_due(rl, now))
		fs_ratelimiter_gc(rl, now);

	bucket = bucket_of(rl, &s);
	i = lookup(rl, &s, bucket);
	if (i != NIL)
		return entry_spend(rl, i, now);
	return entry_admit(rl, &s, bucket, now);
}

/*
 * Stops at the first entry still in use: everything newer was used later.
 * If "now" ever went backwards the order is only approximate and some idle
 * entries wait for a later collection, which is safe.
 */
void fs_ratelimiter_gc(struct fs_ratelimiter *rl, uint64_t now)
{
	rl->gc_ran = true;
	rl->last_gc = now;
	while (rl->oldest != NIL && entry_idle(&rl->pool[rl->oldest], now))
		entry_release(rl, rl->oldest);
}

size_t fs_ratelimiter_count(const struct fs_ratelimiter *rl)
{
	return rl->count;
}

size_t fs_ratelimiter_capacity(const struct fs_ratelimiter *rl)
{
	return rl->capacity;
}

size_t fs_ratelimiter_memory(const struct fs_ratelimiter *rl)
{
	return rl->memory;
}
