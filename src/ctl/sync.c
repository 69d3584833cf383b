// SPDX-License-Identifier: GPL-2.0-or-later
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "sync.h"

/* The file's peers sorted by key, then by position; positions in file->peers. */
struct file_index {
	size_t n;
	struct index_entry {
		uint8_t key[WG_KEY_LEN];
		size_t at;
	} *entries;
};

static int entry_cmp(const void *a, const void *b)
{
	const struct index_entry *x = a, *y = b;
	int cmp = memcmp(x->key, y->key, WG_KEY_LEN);

	return cmp ? cmp : (x->at > y->at) - (x->at < y->at);
}

static bool index_build(struct file_index *index, const struct ctl_device *file)
{
	index->n = file->n_peers;
	index->entries = calloc(index->n ? index->n : 1, sizeof(*index->entries));
	if (!index->entries)
		return false;
	for (size_t i = 0; i < index->n; ++i) {
		memcpy(index->entries[i].key, file->peers[i].public_key, WG_KEY_LEN);
		index->entries[i].at = i;
	}
	qsort(index->entries, index->n, sizeof(*index->entries), entry_cmp);
	return true;
}

/* Where in index->entries the blocks for key begin; *count of them (0: none). */
static size_t index_find(const struct file_index *index, const uint8_t key[WG_KEY_LEN],
			 size_t *count)
{
	size_t low = 0, high = index->n, end;

	while (low < high) {
		size_t mid = low + (high - low) / 2;

		if (memcmp(index->entries[mid].key, key, WG_KEY_LEN) < 0)
			low = mid + 1;
		else
			high = mid;
	}
	for (end = low; end < index->n && !memcmp(index->entries[end].key, key, WG_KEY_LEN);
	     ++end)
		;
	*count = end - low;
	return low;
}

static bool index_has(const struct file_index *index, const uint8_t key[WG_KEY_LEN])
{
	size_t count;

	index_find(index, key, &count);
	return count > 0;
}

/* What the file's blocks for one key say, together. */
struct file_entry {
	size_t first;		/* the index of the first block */
	bool psk, keepalive, spread_ports;
};

static bool file_entry(struct file_entry *entry, const struct file_index *index,
		       const struct ctl_device *file, const uint8_t key[WG_KEY_LEN])
{
	size_t count, at = index_find(index, key, &count);

	memset(entry, 0, sizeof(*entry));
	if (!count)
		return false;
	entry->first = index->entries[at].at;	/* sorted by position among equal keys */
	for (size_t i = at; i < at + count; ++i) {
		const struct ctl_peer *peer = &file->peers[index->entries[i].at];

		entry->psk |= peer->has_preshared_key;
		entry->keepalive |= peer->has_persistent_keepalive;
		entry->spread_ports |= peer->has_spread_ports;
	}
	return true;
}

/* Prepends a removal block for each running peer that the file lacks; *removals: how many. */
static bool prepend_removals(struct ctl_device *file, const struct ctl_device *running,
			     const struct file_index *index, size_t *removals)
{
	struct ctl_peer *peers;
	size_t n;

	*removals = 0;
	for (size_t i = 0; i < running->n_peers; ++i)
		if (!index_has(index, running->peers[i].public_key))
			++*removals;
	if (!*removals)
		return true;
	n = *removals + file->n_peers;
	peers = calloc(n, sizeof(*peers));
	if (!peers)
		return false;
	*removals = 0;
	for (size_t i = 0; i < running->n_peers; ++i) {
		if (index_has(index, running->peers[i].public_key))
			continue;
		memcpy(peers[*removals].public_key, running->peers[i].public_key, WG_KEY_LEN);
		peers[(*removals)++].remove = true;
	}
	memcpy(peers + *removals, file->peers, file->n_peers * sizeof(*peers));
	sodium_memzero(file->peers, file->alloc_peers * sizeof(*file->peers));
	free(file->peers);
	file->peers = peers;
	file->n_peers = file->alloc_peers = n;
	return true;
}

void ctl_sync_clear_device(struct ctl_device *file, const struct ctl_device *running)
{
	file->clear_spread_prefixes |= running->spread_prefixes.n > 0;
	file->clear_spread_mode |= running->has_spread_mode && !file->has_spread_mode;
	file->clear_spread_ports |= running->has_spread_ports && !file->has_spread_ports;
	file->clear_spread_pairs |= running->has_spread_pairs && !file->has_spread_pairs &&
				    running->spread_pairs != FS_SPREAD_PAIRS_DEFAULT;
	file->clear_endpoint_limit |= running->has_endpoint_limit && !file->has_endpoint_limit &&
				      running->endpoint_limit != FS_ENDPOINT_LIMIT_DEFAULT;
	file->clear_steer |= running->has_steer && !file->has_steer &&
			     strcmp(running->steer, "off");
	file->clear_steer_qdisc |= running->has_steer_qdisc && !file->has_steer_qdisc;
}

/* A peer in both: clears in its first block what the running one has and the file lacks. */
static void sync_peer(struct ctl_peer *peer, const struct ctl_peer *live,
		      const struct file_entry *entry)
{
	if (live->has_preshared_key && !entry->psk) {
		peer->has_preshared_key = true;
		memset(peer->preshared_key, 0, WG_KEY_LEN);
	}
	if (live->persistent_keepalive && !entry->keepalive) {
		peer->has_persistent_keepalive = true;
		peer->persistent_keepalive = 0;
	}
	peer->clear_endpoint_alt |= live->endpoint_alt.n > 0;
	peer->clear_spread_prefixes |= live->spread_prefixes.n > 0;
	peer->clear_spread_ports |= live->has_spread_ports && !entry->spread_ports;
}

bool ctl_sync_diff(struct ctl_device *file, const struct ctl_device *running)
{
	struct file_index index;
	size_t removals;

	ctl_sync_clear_device(file, running);
	if (!file->n_peers || !running->n_peers)
		return true;
	if (!index_build(&index, file))
		return false;
	if (!prepend_removals(file, running, &index, &removals)) {
		free(index.entries);
		return false;
	}
	for (size_t i = 0; i < index.n; ++i)
		index.entries[i].at += removals;	/* the file's blocks now follow the removals */
	file->replace_peers = false;
	for (size_t i = 0; i < running->n_peers; ++i) {
		const struct ctl_peer *live = &running->peers[i];
		struct file_entry entry;

		if (file_entry(&entry, &index, file, live->public_key))
			sync_peer(&file->peers[entry.first], live, &entry);
	}
	free(index.entries);
	return true;
}
