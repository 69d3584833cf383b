// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The secure pool (secmem.h). Every chunk holds slots of one size; which
 * slots are taken is a bitmap kept outside the chunk, so a free slot is
 * all zeros. Chunks are found from an address by binary search over an
 * array sorted by address; each size keeps a list of its chunks that have
 * a free slot.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sodium.h>
#include "secmem.h"

enum {
	SLOT_ALIGN = 16,
	CHUNK_FIRST = 64 << 10,
	CHUNK_MAX = 1 << 20,
};

struct chunk {
	uint8_t *base;			/* the usable bytes; a guard page either side */
	size_t size;
	unsigned int cls;
	unsigned int n_slots, n_free;
	unsigned int hint;		/* a bitmap word that may have a free slot */
	struct chunk *prev, *next;	/* the size's chunks with a free slot */
	bool partial;			/* on that list */
	bool locked;
	uint64_t used[];		/* one bit per slot */
};

struct size_class {
	size_t slot;
	size_t next_size;		/* of its next chunk */
	size_t n_chunks;
	struct chunk *partial;
};

static struct {
	pthread_mutex_t lock;
	struct chunk **chunks;		/* sorted by base */
	size_t n_chunks, cap;
	struct size_class classes[FS_SECMEM_CLASSES];
	size_t n_classes;
	size_t mapped, in_use, objects, limit, unlocked;
	bool told_unlocked;
	void (*log)(const char *msg);
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER };

void fs_secmem_set_logger(void (*log)(const char *msg))
{
	pthread_mutex_lock(&pool.lock);
	pool.log = log;
	pthread_mutex_unlock(&pool.lock);
}

static size_t page_size(void)
{
	static size_t page;

	if (!page)
		page = (size_t)sysconf(_SC_PAGESIZE);
	return page;
}

static struct size_class *class_for(size_t slot)
{
	for (size_t i = 0; i < pool.n_classes; ++i)
		if (pool.classes[i].slot == slot)
			return &pool.classes[i];
	if (pool.n_classes == FS_SECMEM_CLASSES)
		return NULL;
	pool.classes[pool.n_classes] = (struct size_class){ .slot = slot, .next_size = CHUNK_FIRST };
	return &pool.classes[pool.n_classes++];
}

static void partial_add(struct size_class *c, struct chunk *chunk)
{
	chunk->prev = NULL;
	chunk->next = c->partial;
	if (c->partial)
		c->partial->prev = chunk;
	c->partial = chunk;
	chunk->partial = true;
}

static void partial_del(struct size_class *c, struct chunk *chunk)
{
	if (chunk->prev)
		chunk->prev->next = chunk->next;
	else
		c->partial = chunk->next;
	if (chunk->next)
		chunk->next->prev = chunk->prev;
	chunk->prev = chunk->next = NULL;
	chunk->partial = false;
}

/* Index of the first chunk whose base is above ptr. */
static size_t chunk_upper(const void *ptr)
{
	size_t lo = 0, hi = pool.n_chunks;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((const uint8_t *)ptr < pool.chunks[mid]->base)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static struct chunk *chunk_of(const void *ptr, size_t *index)
{
	size_t i = chunk_upper(ptr);
	struct chunk *chunk;

	if (!i)
		return NULL;
	chunk = pool.chunks[i - 1];
	if ((const uint8_t *)ptr >= chunk->base + chunk->size)
		return NULL;
	if (index)
		*index = i - 1;
	return chunk;
}

static void lock_chunk(struct chunk *chunk)
{
	char msg[160];

	chunk->locked = !mlock(chunk->base, chunk->size);
	if (chunk->locked)
		return;
	++pool.unlocked;
	if (pool.told_unlocked || !pool.log)
		return;
	pool.told_unlocked = true;
	snprintf(msg, sizeof(msg),
		 "cannot lock key memory (mlock: %s; raise RLIMIT_MEMLOCK): going on unlocked",
		 strerror(errno));
	pool.log(msg);
}

static struct chunk *chunk_new(struct size_class *c, unsigned int cls)
{
	size_t page = page_size(), size = c->next_size, n_slots = size / c->slot;
	size_t words = (n_slots + 63) / 64;
	struct chunk *chunk, **chunks;
	uint8_t *map;
	size_t at;

	if (pool.limit && pool.mapped + size > pool.limit)
		return NULL;
	if (pool.n_chunks == pool.cap) {
		size_t cap = pool.cap ? pool.cap * 2 : 64;

		chunks = realloc(pool.chunks, cap * sizeof(*chunks));
		if (!chunks)
			return NULL;
		pool.chunks = chunks;
		pool.cap = cap;
	}
	chunk = calloc(1, sizeof(*chunk) + words * sizeof(uint64_t));
	if (!chunk)
		return NULL;
	map = mmap(NULL, size + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		goto err_map;
	if (mprotect(map + page, size, PROT_READ | PROT_WRITE))
		goto err_protect;
	madvise(map + page, size, MADV_DONTDUMP);
	chunk->base = map + page;
	chunk->size = size;
	chunk->cls = cls;
	chunk->n_slots = chunk->n_free = (unsigned int)n_slots;
	lock_chunk(chunk);

	at = chunk_upper(chunk->base);
	memmove(&pool.chunks[at + 1], &pool.chunks[at], (pool.n_chunks - at) * sizeof(*chunks));
	pool.chunks[at] = chunk;
	++pool.n_chunks;
	pool.mapped += size;
	++c->n_chunks;
	if (c->next_size < CHUNK_MAX)
		c->next_size *= 2;
	partial_add(c, chunk);
	return chunk;

err_protect:
	munmap(map, size + 2 * page);
err_map:
	free(chunk);
	return NULL;
}

static void chunk_free(struct chunk *chunk, size_t index)
{
	struct size_class *c = &pool.classes[chunk->cls];
	size_t page = page_size();

	if (chunk->partial)
		partial_del(c, chunk);
	memmove(&pool.chunks[index], &pool.chunks[index + 1],
		(pool.n_chunks - index - 1) * sizeof(*pool.chunks));
	--pool.n_chunks;
	--c->n_chunks;
	pool.mapped -= chunk->size;
	if (!chunk->locked)
		--pool.unlocked;
	/* Every slot is free, so already wiped: munmap drops the lock too. */
	munmap(chunk->base - page, chunk->size + 2 * page);
	free(chunk);
}

static void *slot_take(struct size_class *c, struct chunk *chunk)
{
	unsigned int words = (chunk->n_slots + 63) / 64;

	for (unsigned int k = 0; k < words; ++k) {
		unsigned int w = (chunk->hint + k) % words;
		uint64_t free_bits = ~chunk->used[w];
		unsigned int bit, slot;

		if (!free_bits)
			continue;
		bit = (unsigned int)__builtin_ctzll(free_bits);
		slot = w * 64 + bit;
		if (slot >= chunk->n_slots)
			continue;
		chunk->used[w] |= UINT64_C(1) << bit;
		chunk->hint = w;
		if (!--chunk->n_free)
			partial_del(c, chunk);
		return chunk->base + (size_t)slot * c->slot;
	}
	return NULL;	/* not reached: n_free said there was one */
}

void *fs_secmem_alloc(size_t size)
{
	size_t slot = (size + SLOT_ALIGN - 1) & ~(size_t)(SLOT_ALIGN - 1);
	struct size_class *c;
	struct chunk *chunk;
	void *ptr = NULL;

	if (!size || size > FS_SECMEM_MAX_OBJECT) {
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&pool.lock);
	c = class_for(slot);
	if (!c) {
		errno = EINVAL;
		goto out;
	}
	chunk = c->partial ? c->partial : chunk_new(c, (unsigned int)(c - pool.classes));
	if (chunk)
		ptr = slot_take(c, chunk);
	if (!ptr) {
		errno = ENOMEM;
		goto out;
	}
	pool.in_use += slot;
	++pool.objects;
out:
	pthread_mutex_unlock(&pool.lock);
	return ptr;	/* free slots are all zeros */
}

/* The chunk and slot of ptr, if it is the start of a taken slot. */
static struct chunk *taken_slot(const void *ptr, size_t *index, unsigned int *slot)
{
	struct chunk *chunk = chunk_of(ptr, index);
	size_t offset, size;

	if (!chunk)
		return NULL;
	size = pool.classes[chunk->cls].slot;
	offset = (size_t)((const uint8_t *)ptr - chunk->base);
	if (offset % size)
		return NULL;
	*slot = (unsigned int)(offset / size);
	return chunk;
}

void fs_secmem_free(void *ptr)
{
	struct size_class *c;
	struct chunk *chunk;
	unsigned int slot;
	size_t index;

	if (!ptr)
		return;
	pthread_mutex_lock(&pool.lock);
	chunk = taken_slot(ptr, &index, &slot);
	if (!chunk || !(chunk->used[slot / 64] & (UINT64_C(1) << (slot % 64)))) {
		/* Not ours, or freed twice: a bug, but not worth a crash. */
		pthread_mutex_unlock(&pool.lock);
		return;
	}
	c = &pool.classes[chunk->cls];
	sodium_memzero(ptr, c->slot);
	chunk->used[slot / 64] &= ~(UINT64_C(1) << (slot % 64));
	if (!chunk->n_free++)
		partial_add(c, chunk);
	pool.in_use -= c->slot;
	--pool.objects;
	if (chunk->n_free == chunk->n_slots && c->n_chunks > 1)
		chunk_free(chunk, index);
	pthread_mutex_unlock(&pool.lock);
}

void fs_secmem_set_limit(size_t bytes)
{
	pthread_mutex_lock(&pool.lock);
	pool.limit = bytes;
	pthread_mutex_unlock(&pool.lock);
}

void fs_secmem_get_stats(struct fs_secmem_stats *stats)
{
	pthread_mutex_lock(&pool.lock);
	*stats = (struct fs_secmem_stats){
		.chunks = pool.n_chunks,
		.mapped = pool.mapped,
		.in_use = pool.in_use,
		.objects = pool.objects,
		.limit = pool.limit,
		.locked = !pool.unlocked,
	};
	pthread_mutex_unlock(&pool.lock);
}

bool fs_secmem_is_wiped(const void *ptr)
{
	struct chunk *chunk;
	unsigned int slot;
	size_t index;
	bool wiped;

	pthread_mutex_lock(&pool.lock);
	chunk = taken_slot(ptr, &index, &slot);
	wiped = chunk && !(chunk->used[slot / 64] & (UINT64_C(1) << (slot % 64))) &&
		sodium_is_zero(ptr, pool.classes[chunk->cls].slot);
	pthread_mutex_unlock(&pool.lock);
	return wiped;
}
