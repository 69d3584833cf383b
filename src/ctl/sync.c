// SPDX-License-Identifier: GPL-2.0-or-later
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "sync.h"

/* The first file block for key, and whether any block for it sets psk / keepalive. */
static struct ctl_peer *file_peer(struct ctl_device *file, const uint8_t key[WG_KEY_LEN],
				  bool *any_psk, bool *any_keepalive)
{
	struct ctl_peer *first = NULL;

	*any_psk = *any_keepalive = false;
	for (size_t i = 0; i < file->n_peers; ++i) {
		struct ctl_peer *peer = &file->peers[i];

		if (memcmp(peer->public_key, key, WG_KEY_LEN))
			continue;
		if (!first)
			first = peer;
		*any_psk |= peer->has_preshared_key;
		*any_keepalive |= peer->has_persistent_keepalive;
	}
	return first;
}

static bool prepend_removals(struct ctl_device *file, const struct ctl_device *running)
{
	size_t removals = 0, n;
	struct ctl_peer *peers;

	for (size_t i = 0; i < running->n_peers; ++i)
		if (!ctl_device_find_peer(file, running->peers[i].public_key))
			++removals;
	if (!removals)
		return true;
	n = removals + file->n_peers;
	peers = calloc(n, sizeof(*peers));
	if (!peers)
		return false;
	removals = 0;
	for (size_t i = 0; i < running->n_peers; ++i) {
		if (ctl_device_find_peer(file, running->peers[i].public_key))
			continue;
		memcpy(peers[removals].public_key, running->peers[i].public_key, WG_KEY_LEN);
		peers[removals++].remove = true;
	}
	memcpy(peers + removals, file->peers, file->n_peers * sizeof(*peers));
	sodium_memzero(file->peers, file->alloc_peers * sizeof(*file->peers));
	free(file->peers);
	file->peers = peers;
	file->n_peers = file->alloc_peers = n;
	return true;
}

bool ctl_sync_diff(struct ctl_device *file, const struct ctl_device *running)
{
	if (!file->n_peers || !running->n_peers)
		return true;
	if (!prepend_removals(file, running))
		return false;
	file->replace_peers = false;
	for (size_t i = 0; i < running->n_peers; ++i) {
		const struct ctl_peer *live = &running->peers[i];
		bool any_psk, any_keepalive;
		struct ctl_peer *peer = file_peer(file, live->public_key, &any_psk, &any_keepalive);

		if (!peer || peer->remove)
			continue;
		if (live->has_preshared_key && !any_psk) {
			peer->has_preshared_key = true;
			memset(peer->preshared_key, 0, WG_KEY_LEN);
		}
		if (live->persistent_keepalive && !any_keepalive) {
			peer->has_persistent_keepalive = true;
			peer->persistent_keepalive = 0;
		}
	}
	return true;
}
