// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "allowedips.h"
#include "clock.h"
#include "device.h"
#include "log.h"

static unsigned int hash_of(const uint8_t public_key[WG_KEY_LEN])
{
	uint32_t h;

	memcpy(&h, public_key, sizeof(h));	/* keys are uniformly random */
	return h & ((1U << FS_PEER_HASH_BITS) - 1);
}

struct fs_peer *fs_device_lookup_peer(struct fs_device *dev, const uint8_t public_key[WG_KEY_LEN])
{
	struct fs_peer *peer = dev->peer_hash[hash_of(public_key)];

	while (peer && sodium_memcmp(peer->noise->handshake.remote_static, public_key, WG_KEY_LEN))
		peer = peer->hash_next;
	return peer;
}

/* Called with dev->lock held. */
struct fs_peer *fs_peer_create(struct fs_device *dev, const uint8_t public_key[WG_KEY_LEN])
{
	struct fs_peer *peer;
	unsigned int h = hash_of(public_key);

	if (dev->n_peers >= WG_MAX_PEERS_PER_DEVICE) {
		errno = ENOSPC;
		return NULL;
	}
	peer = calloc(1, sizeof(*peer));
	if (!peer)
		return NULL;
	peer->noise = fs_noise_peer_new(dev->identity, public_key, NULL, peer);
	if (!peer->noise) {
		free(peer);
		return NULL;
	}
	peer->device = dev;
	peer->serial = ++dev->next_peer_serial;
	pthread_mutex_init(&peer->staged_lock, NULL);
	fs_timers_init(peer);
	cds_list_add_tail(&peer->list, &dev->peers);
	peer->hash_next = dev->peer_hash[h];
	dev->peer_hash[h] = peer;
	++dev->n_peers;
	return peer;
}

static void peer_free_rcu(struct rcu_head *head)
{
	struct fs_peer *peer = caa_container_of(head, struct fs_peer, rcu);

	fs_peer_purge_staged(peer);
	pthread_mutex_destroy(&peer->staged_lock);
	/* Keypairs and the handshake were unhashed when the peer was removed. */
	fs_noise_peer_free(peer->noise, NULL);
	free(peer);
}

/*
 * Called with dev->lock held. The peer disappears from every table at
 * once; workers that still hold it (inside their read-side section) may
 * finish with it, and it is freed after the grace period.
 */
void fs_peer_remove(struct fs_peer *peer)
{
	struct fs_device *dev = peer->device;
	struct fs_peer **link = &dev->peer_hash[hash_of(peer->noise->handshake.remote_static)];

	__atomic_store_n(&peer->is_dead, true, __ATOMIC_RELEASE);
	while (*link && *link != peer)
		link = &(*link)->hash_next;
	if (*link)
		*link = peer->hash_next;
	cds_list_del(&peer->list);
	--dev->n_peers;

	fs_allowedips_remove_by_peer(dev->allowedips, peer);
	fs_timers_stop(peer);
	fs_noise_keypairs_clear(peer->noise, dev->index);
	fs_noise_handshake_clear(peer->noise, dev->index);
	urcu_memb_call_rcu(&peer->rcu, peer_free_rcu);
}

static void endpoint_lock(struct fs_peer *peer)
{
	while (__atomic_test_and_set(&peer->endpoint_lock, __ATOMIC_ACQUIRE))
		;
	__atomic_fetch_add(&peer->endpoint_seq, 1, __ATOMIC_ACQ_REL);
}

static void endpoint_unlock(struct fs_peer *peer)
{
	__atomic_fetch_add(&peer->endpoint_seq, 1, __ATOMIC_ACQ_REL);
	__atomic_clear(&peer->endpoint_lock, __ATOMIC_RELEASE);
}

void fs_peer_get_endpoint(struct fs_peer *peer, struct fs_endpoint *out, bool *has)
{
	uint32_t seq;

	do {
		while ((seq = __atomic_load_n(&peer->endpoint_seq, __ATOMIC_ACQUIRE)) & 1)
			;
		memcpy(out, &peer->endpoint, sizeof(*out));
		*has = peer->has_endpoint;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while (__atomic_load_n(&peer->endpoint_seq, __ATOMIC_RELAXED) != seq);
}

/* Roaming: the latest authenticated source wins. Cheap when nothing changed. */
void fs_peer_set_endpoint(struct fs_peer *peer, const struct fs_endpoint *endpoint)
{
	struct fs_endpoint current;
	bool has;

	fs_peer_get_endpoint(peer, &current, &has);
	if (has && fs_endpoint_equal(&current.addr, &endpoint->addr) &&
	    current.has_src == endpoint->has_src &&
	    (!endpoint->has_src || !memcmp(&current.src, &endpoint->src, sizeof(current.src))))
		return;
	endpoint_lock(peer);
	peer->endpoint = *endpoint;
	peer->has_endpoint = true;
	endpoint_unlock(peer);
}

void fs_peer_clear_endpoint_src(struct fs_peer *peer)
{
	endpoint_lock(peer);
	peer->endpoint.has_src = false;
	memset(&peer->endpoint.src, 0, sizeof(peer->endpoint.src));
	peer->endpoint.src_ifindex = 0;
	endpoint_unlock(peer);
}

/* Keeps the newest WG_MAX_STAGED_PACKETS packets, as the kernel does. */
bool fs_peer_stage_packet(struct fs_peer *peer, const void *packet, size_t len)
{
	struct fs_staged_packet *staged = malloc(sizeof(*staged) + len);
	unsigned int slot;

	if (!staged)
		return false;
	staged->len = (uint16_t)len;
	if (len)
		memcpy(staged->data, packet, len);
	pthread_mutex_lock(&peer->staged_lock);
	if (peer->staged_count == WG_MAX_STAGED_PACKETS) {
		free(peer->staged[peer->staged_head]);
		peer->staged_head = (peer->staged_head + 1) % WG_MAX_STAGED_PACKETS;
		--peer->staged_count;
	}
	slot = (peer->staged_head + peer->staged_count) % WG_MAX_STAGED_PACKETS;
	peer->staged[slot] = staged;
	++peer->staged_count;
	pthread_mutex_unlock(&peer->staged_lock);
	return true;
}

void fs_peer_purge_staged(struct fs_peer *peer)
{
	pthread_mutex_lock(&peer->staged_lock);
	while (peer->staged_count) {
		free(peer->staged[peer->staged_head]);
		peer->staged_head = (peer->staged_head + 1) % WG_MAX_STAGED_PACKETS;
		--peer->staged_count;
	}
	pthread_mutex_unlock(&peer->staged_lock);
}

void fs_peer_log_name(const struct fs_peer *peer, char *out, size_t outlen)
{
	char b64[sodium_base64_ENCODED_LEN(WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)];

	sodium_bin2base64(b64, sizeof(b64), peer->noise->handshake.remote_static, WG_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, outlen, "peer(%.4s…%.4s)", b64, b64 + 39);
}
