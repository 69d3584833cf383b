/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The secure pool: memory for key material (identities, noise peers,
 * keypairs, cookie checkers).
 *
 * sodium_malloc gives every object its own mapping with guard pages, three
 * or four mappings each; with one per peer and one per keypair, about
 * 16,000 peers exhaust vm.max_map_count (65530). The pool instead maps
 * chunks of many objects of one size (64 KiB at first, doubling up to
 * 1 MiB), each chunk between two guard pages, excluded from core dumps
 * (MADV_DONTDUMP) and locked in memory when RLIMIT_MEMLOCK allows (when it
 * does not, the pool goes on unlocked and says so once in the log).
 * Mappings grow with chunks, not with objects.
 *
 * Objects are zeroed when allocated and wiped with sodium_memzero when
 * freed. A chunk that becomes empty is unmapped, except the last of its
 * size. Thread-safe: allocations come from the control thread, frees also
 * from RCU callbacks.
 */
#ifndef FLOWSPREAD_SECMEM_H
#define FLOWSPREAD_SECMEM_H

#include <stdbool.h>
#include <stddef.h>

enum {
	FS_SECMEM_MAX_OBJECT = 4096,	/* larger objects are refused (EINVAL) */
	FS_SECMEM_CLASSES = 16,		/* distinct object sizes */
};

struct fs_secmem_stats {
	size_t chunks;		/* mapped chunks */
	size_t mapped;		/* bytes of chunks, guard pages not counted */
	size_t in_use;		/* bytes of live objects (rounded to their slot) */
	size_t objects;		/* live objects */
	size_t limit;		/* 0: none */
	bool locked;		/* every chunk is locked in memory */
};

/* A zeroed object of "size" bytes, 16-byte aligned; NULL with errno ENOMEM (or EINVAL). */
void *fs_secmem_alloc(size_t size);
/* Wipes and frees; NULL is fine. */
void fs_secmem_free(void *ptr);
/* The most the pool may map, in bytes (0: no limit); allocations beyond fail with ENOMEM. */
void fs_secmem_set_limit(size_t bytes);
void fs_secmem_get_stats(struct fs_secmem_stats *stats);
/* Told once that chunks cannot be locked (NULL: silent). */
void fs_secmem_set_logger(void (*log)(const char *msg));
/* For tests: ptr lies in a chunk of the pool, in a free slot that reads as zero. */
bool fs_secmem_is_wiped(const void *ptr);

#endif
