// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "allowedips.h"
#include "clock.h"
#include "device.h"
#include "endpoint.h"
#include "failpoint.h"
#include "flowkey.h"
#include "spread.h"
#include "log.h"

static unsigned int hash_of(const uint8_t public_key[WG_KEY_LEN], unsigned int bits)
{
	uint32_t h;

	memcpy(&h, public_key, sizeof(h));	/* keys are uniformly random */
	return h & ((1U << bits) - 1);
}

struct fs_peer *fs_device_lookup_peer(struct fs_device *dev, const uint8_t public_key[WG_KEY_LEN])
{
	struct fs_peer *peer = dev->peer_hash[hash_of(public_key, dev->peer_hash_bits)];

	while (peer && sodium_memcmp(peer->noise->handshake.remote_static, public_key, WG_KEY_LEN))
		peer = peer->hash_next;
	return peer;
}

/*
 * A peer with everything it needs allocated, in no table yet: nothing
 * reads it until fs_peer_link. Its static-static secret is computed with
 * "identity", the device's once the set is applied (fs_peer_link then
 * points it at the device's). Needs no lock. NULL with errno set on failure.
 */
struct fs_peer *fs_peer_new(struct fs_device *dev, const uint8_t public_key[WG_KEY_LEN],
			    const struct fs_noise_identity *identity,
			    const struct fs_endpoints_config *endpoints)
{
	struct fs_peer *peer = calloc(1, sizeof(*peer));

	if (!peer)
		return NULL;
	peer->noise = fs_noise_peer_new(identity, public_key, NULL, peer);
	if (!peer->noise)
		goto err_noise;
	peer->device = dev;
	peer->endpoints = fs_endpoints_new(endpoints, fs_clock_now());
	if (!peer->endpoints)
		goto err_endpoints;
	pthread_mutex_init(&peer->staged_lock, NULL);
	pthread_mutex_init(&peer->endpoints_lock, NULL);
	return peer;

err_endpoints:
	fs_noise_peer_free(peer->noise, NULL);
err_noise:
	free(peer);
	errno = ENOMEM;
	return NULL;
}

/* Frees a peer of fs_peer_new that was never linked (no reader saw it). */
void fs_peer_discard(struct fs_peer *peer)
{
	if (!peer)
		return;
	pthread_mutex_destroy(&peer->staged_lock);
	pthread_mutex_destroy(&peer->endpoints_lock);
	fs_endpoints_free(peer->endpoints);
	fs_noise_peer_free(peer->noise, NULL);
	free(peer);
}

/* Moves every peer of the device's table into table (1 << bits chains, empty). */
static void peer_hash_rehash(struct fs_device *dev, struct fs_peer **table, unsigned int bits)
{
	struct fs_peer *peer, *next;

	for (size_t i = 0; i < (size_t)1 << dev->peer_hash_bits; ++i) {
		for (peer = dev->peer_hash[i]; peer; peer = next) {
			unsigned int h = hash_of(peer->noise->handshake.remote_static, bits);

			next = peer->hash_next;
			peer->hash_next = table[h];
			table[h] = peer;
		}
	}
}

/*
 * Doubles the peer table once it holds as many peers as chains, so chains
 * stay short and a set of n peers costs O(n). Without memory the table
 * stays as it is: lookups merely take longer. A set sizes the table in
 * its prepare instead (fs_peer_hash_alloc): this is for what it did not
 * foresee.
 */
static void peer_hash_grow(struct fs_device *dev)
{
	unsigned int bits = dev->peer_hash_bits + 1;
	struct fs_peer **table;

	if (dev->n_peers < (1U << dev->peer_hash_bits) || bits > FS_PEER_HASH_BITS_MAX)
		return;
	table = calloc((size_t)1 << bits, sizeof(*table));
	if (!table)
		return;
	peer_hash_rehash(dev, table, bits);
	free(dev->peer_hash);
	dev->peer_hash = table;
	dev->peer_hash_bits = bits;
}

/* The bits peer_hash_grow ends at once the device holds n peers (never fewer than now). */
static unsigned int peer_hash_bits_for(const struct fs_device *dev, size_t n)
{
	unsigned int bits = dev->peer_hash_bits;

	while (bits < FS_PEER_HASH_BITS_MAX && n > (size_t)1 << bits)
		++bits;
	return bits;
}

int fs_peer_hash_alloc(const struct fs_device *dev, size_t n, struct fs_peer ***table,
		       unsigned int *bits)
{
	*bits = peer_hash_bits_for(dev, n);
	*table = NULL;
	if (*bits == dev->peer_hash_bits)
		return 0;
	if (fs_failpoint_hit(FS_FAILPOINT_PEER_HASH))
		return -ENOMEM;
	*table = calloc((size_t)1 << *bits, sizeof(**table));
	return *table ? 0 : -ENOMEM;
}

struct fs_peer **fs_peer_hash_install(struct fs_device *dev, struct fs_peer **table,
				      unsigned int bits)
{
	struct fs_peer **old = dev->peer_hash;

	if (!table || bits <= dev->peer_hash_bits)
		return table;	/* never smaller */
	peer_hash_rehash(dev, table, bits);
	dev->peer_hash = table;
	dev->peer_hash_bits = bits;
	return old;
}

static void publish_current(struct fs_peer *peer);

/*
 * With dev->lock held: the peer joins the device, its endpoint (if its
 * table has one) published. Cannot fail.
 */
void fs_peer_link(struct fs_peer *peer)
{
	struct fs_device *dev = peer->device;
	unsigned int h;

	peer_hash_grow(dev);
	h = hash_of(peer->noise->handshake.remote_static, dev->peer_hash_bits);

	peer->noise->handshake.identity = dev->identity;
	peer->serial = ++dev->next_peer_serial;
	fs_peer_update_role(peer);
	fs_timers_init(peer);
	pthread_mutex_lock(&peer->endpoints_lock);
	publish_current(peer);
	pthread_mutex_unlock(&peer->endpoints_lock);
	cds_list_add_tail(&peer->list, &dev->peers);
	peer->hash_next = dev->peer_hash[h];
	dev->peer_hash[h] = peer;
	++dev->n_peers;
}

/* Called with dev->lock held. */
struct fs_peer *fs_peer_create(struct fs_device *dev, const uint8_t public_key[WG_KEY_LEN])
{
	struct fs_endpoints_config endpoints = { .endpoint_limit = dev->endpoint_limit };
	struct fs_peer *peer;

	if (dev->n_peers >= WG_MAX_PEERS_PER_DEVICE) {
		errno = ENOSPC;
		return NULL;
	}
	peer = fs_peer_new(dev, public_key, dev->identity, &endpoints);
	if (peer)
		fs_peer_link(peer);
	return peer;
}

static void peer_free_rcu(struct rcu_head *head)
{
	struct fs_peer *peer = caa_container_of(head, struct fs_peer, rcu);

	fs_peer_purge_staged(peer);
	pthread_mutex_destroy(&peer->staged_lock);
	pthread_mutex_destroy(&peer->endpoints_lock);
	fs_endpoints_free(peer->endpoints);
	free(peer->remote_spread);
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
	struct fs_peer **link =
		&dev->peer_hash[hash_of(peer->noise->handshake.remote_static, dev->peer_hash_bits)];

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
	if (has && fs_endpoint_same(&current, endpoint))
		return;
	endpoint_lock(peer);
	peer->endpoint = *endpoint;
	peer->endpoint.via = 0;
	peer->has_endpoint = true;
	endpoint_unlock(peer);
}

static void local_of(struct fs_endpoint_local *local, const struct fs_endpoint *endpoint)
{
	memset(local, 0, sizeof(*local));
	if (!endpoint->has_src)
		return;
	memcpy(&local->addr, &endpoint->src, sizeof(local->addr));
	local->ifindex = endpoint->src_ifindex;
	local->valid = true;
}

static void endpoint_of(struct fs_endpoint *endpoint, const struct fs_endpoint_entry *entry)
{
	memset(endpoint, 0, sizeof(*endpoint));
	endpoint->addr = entry->addr;
	if (entry->local.valid) {
		memcpy(&endpoint->src, &entry->local.addr, sizeof(endpoint->src));
		endpoint->src_ifindex = entry->local.ifindex;
		endpoint->has_src = true;
	}
}

/* With endpoints_lock held: the table's current entry becomes the datapath's endpoint. */
static void publish_current(struct fs_peer *peer)
{
	const struct fs_endpoint_entry *entry;
	struct fs_endpoint endpoint;

	entry = fs_endpoints_entry(peer->endpoints, fs_endpoints_current(peer->endpoints));
	if (!entry || entry->addr.sa.sa_family == AF_UNSPEC)
		return;
	endpoint_of(&endpoint, entry);
	fs_peer_set_endpoint(peer, &endpoint);
}

/* Whether an address (of family "family") is inside one of the snapshot's prefixes. */
/* The snapshot's prefixes of one family. */
static const struct fs_prefix *prefixes_of(const struct fs_spread_settings *s, int family,
					   size_t *n)
{
	*n = family == AF_INET6 ? s->n_v6 : s->n_v4;
	return family == AF_INET6 ? s->v6 : s->v4;
}

bool fs_spread_settings_contains(const struct fs_spread_settings *s, int family,
				 const void *addr)
{
	size_t n;
	const struct fs_prefix *list = prefixes_of(s, family, &n);

	for (size_t i = 0; i < n; ++i)
		if (fs_prefix_contains(&list[i], family, addr))
			return true;
	return false;
}

enum {
	INSIDE_PREFIX = 1,	/* the address is in one of the peer's prefixes */
	INSIDE_PORTS = 2,	/* the port is in the peer's port range */
};

static unsigned int inside_remote(const struct fs_spread_settings *remote,
				  const union fs_sockaddr *a)
{
	unsigned int inside = 0;
	uint16_t port;

	if (!remote || (a->sa.sa_family != AF_INET && a->sa.sa_family != AF_INET6))
		return 0;
	if (fs_spread_settings_contains(remote, a->sa.sa_family, fs_sockaddr_ip(a)))
		inside |= INSIDE_PREFIX;
	port = fs_sockaddr_port(a);
	if (remote->has_ports && port >= remote->ports.low && port <= remote->ports.high)
		inside |= INSIDE_PORTS;
	return inside;
}

/* A receive time that only the trust window reads: one write a millisecond is plenty. */
static void note_seen(uint64_t *seen, uint64_t now)
{
	if (now - __atomic_load_n(seen, __ATOMIC_RELAXED) > FS_NSEC_PER_MSEC)
		__atomic_store_n(seen, now, __ATOMIC_RELAXED);
}

/* Which way an authenticated packet came in: the proof of our spread sources' return path. */
static void note_path(struct fs_peer *peer, uint8_t via, uint64_t now)
{
	for (int k = 0; k < FS_SPREADPATH_KINDS; ++k)
		note_seen(via & (1 << k) ? &peer->path_proven[k] : &peer->path_plain[k], now);
}

/*
 * Workers call this for every authenticated packet. The table is only
 * touched (under its lock) when the source is not the current endpoint,
 * or once a second to keep the current entry's receive time fresh: no
 * lock per packet for a peer that stays where it is. A peer that spreads
 * toward us sends each flow from its own address (or port); when they
 * are inside its configured prefixes (ports) and so is the current
 * endpoint, that is not roaming: all of them reach the same host, so the
 * current endpoint stays, and the table hears of it once a second.
 * Sources that change faster than the table is told (more than one new
 * one a millisecond) still become the current endpoint at once; the
 * table learns the newest of them in the next millisecond.
 */
void fs_peer_learn_endpoint(struct fs_peer *peer, const struct fs_endpoint *from, uint64_t now)
{
	const struct fs_spread_settings *remote;
	struct fs_endpoint_local local;
	struct fs_endpoint current;
	unsigned int inside, current_inside = 0;
	uint64_t since;
	bool has;

	note_path(peer, from->via, now);
	fs_peer_get_endpoint(peer, &current, &has);
	urcu_memb_read_lock();
	remote = rcu_dereference(peer->remote_spread);
	inside = inside_remote(remote, &from->addr);
	if (inside && has)
		current_inside = inside_remote(remote, &current.addr);
	urcu_memb_read_unlock();
	if (inside & INSIDE_PREFIX)
		note_seen(&peer->seen_in_prefix, now);
	if (inside & INSIDE_PORTS)
		note_seen(&peer->seen_in_ports, now);
	since = now - __atomic_load_n(&peer->last_learn, __ATOMIC_RELAXED);
	if (has && since < FS_NSEC_PER_SEC) {
		if (fs_endpoint_same(&current, from) &&
		    !__atomic_load_n(&peer->endpoint_unlearned, __ATOMIC_RELAXED))
			return;
		if ((inside & current_inside & INSIDE_PREFIX) ||
		    ((inside & current_inside & INSIDE_PORTS) &&
		     !memcmp(fs_sockaddr_ip(&from->addr), fs_sockaddr_ip(&current.addr),
			     from->addr.sa.sa_family == AF_INET6 ? 16 : 4)))
			return;
		/*
		 * A source that changes with every packet (a peer spreading
		 * toward us without its prefix configured here): the newest
		 * still wins at once, and the table hears of it at most once a
		 * millisecond, rather than taking its lock per packet.
		 */
		if (since < FS_NSEC_PER_MSEC) {
			if (!fs_endpoint_same(&current, from)) {
				fs_peer_set_endpoint(peer, from);
				__atomic_store_n(&peer->endpoint_unlearned, true, __ATOMIC_RELAXED);
			}
			return;
		}
	}
	local_of(&local, from);
	pthread_mutex_lock(&peer->endpoints_lock);
	if (fs_endpoints_learn(peer->endpoints, &from->addr, &local, now) >= 0) {
		fs_peer_set_endpoint(peer, from);
		__atomic_store_n(&peer->last_learn, now, __ATOMIC_RELAXED);
		__atomic_store_n(&peer->endpoint_unlearned, false, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&peer->endpoints_lock);
}

void fs_peer_handshake_complete(struct fs_peer *peer, const struct fs_endpoint *from,
				uint64_t now)
{
	struct fs_endpoint_local local;

	note_path(peer, from->via, now);
	local_of(&local, from);
	pthread_mutex_lock(&peer->endpoints_lock);
	if (fs_endpoints_handshake_complete(peer->endpoints, &from->addr, &local, now) >= 0) {
		fs_peer_set_endpoint(peer, from);
		__atomic_store_n(&peer->last_learn, now, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&peer->endpoints_lock);
}

bool fs_peer_handshake_target(struct fs_peer *peer, struct fs_endpoint *out, uint64_t now)
{
	const struct fs_endpoint_entry *entry;
	int target;

	pthread_mutex_lock(&peer->endpoints_lock);
	target = fs_endpoints_handshake_target(peer->endpoints, now);
	entry = fs_endpoints_entry(peer->endpoints, target);
	if (entry && entry->addr.sa.sa_family != AF_UNSPEC) {
		endpoint_of(out, entry);
		fs_endpoints_handshake_sent(peer->endpoints, target, now);
	} else {
		entry = NULL;
	}
	pthread_mutex_unlock(&peer->endpoints_lock);
	return entry;
}

void fs_peer_handshake_timeout(struct fs_peer *peer, uint64_t now)
{
	pthread_mutex_lock(&peer->endpoints_lock);
	fs_endpoints_handshake_timeout(peer->endpoints, now);
	pthread_mutex_unlock(&peer->endpoints_lock);
}

void fs_peer_endpoints_config(const struct fs_peer *peer, struct fs_endpoints_config *config,
			      uint32_t limit)
{
	memset(config, 0, sizeof(*config));
	config->has_endpoint = peer->has_configured_endpoint;
	config->endpoint = peer->configured_endpoint;
	config->n_endpoint_alt = peer->n_endpoint_alt;
	memcpy(config->endpoint_alt, peer->endpoint_alt, sizeof(config->endpoint_alt));
	config->n_spread_prefixes = peer->n_spread_prefixes;
	memcpy(config->spread_prefixes, peer->spread_prefixes, sizeof(config->spread_prefixes));
	config->endpoint_limit = limit;
}

/*
 * Control thread, dev->lock held. The table is filled from the peer's
 * table as it is now (the workers may have learned sources since the
 * request was prepared), under the table's lock, and takes its place.
 */
void fs_peer_replace_endpoints(struct fs_peer *peer, struct fs_endpoints *table,
			       bool use_endpoint, uint64_t now)
{
	struct fs_endpoints_config config;
	struct fs_endpoints *old;
	char name[64];
	bool filled;

	fs_peer_endpoints_config(peer, &config, peer->device->endpoint_limit);
	config.use_endpoint = use_endpoint;
	pthread_mutex_lock(&peer->endpoints_lock);
	old = peer->endpoints;
	filled = fs_endpoints_fill(table, old, &config, now);
	if (filled) {
		peer->endpoints = table;
		publish_current(peer);
	}
	pthread_mutex_unlock(&peer->endpoints_lock);
	if (filled) {
		fs_endpoints_free(old);
		return;
	}
	/* A table prepared for another configuration: a bug, but the old one still works. */
	fs_peer_log_name(peer, name, sizeof(name));
	fs_log_error("%s: endpoint table prepared for another configuration: kept the old one",
		     name);
	fs_endpoints_free(table);
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

static void derive_spread_key(struct fs_noise_keypair *keypair)
{
	if (!keypair || __atomic_load_n(&keypair->has_spread_key, __ATOMIC_ACQUIRE))
		return;
	if (fs_spread_key_derive(keypair->spread_key, keypair->sending_key, keypair->receiving_key,
				 keypair->i_am_the_initiator))
		__atomic_store_n(&keypair->has_spread_key, true, __ATOMIC_RELEASE);
}

/*
 * The role follows the order of the two static public keys; workers read
 * it per packet, so it is kept here rather than computed from the
 * identity, which the control thread may be changing.
 */
void fs_peer_update_role(struct fs_peer *peer)
{
	__atomic_store_n(&peer->spread_role,
			 (uint8_t)fs_spread_role(peer->device->identity->public_key,
						 peer->noise->handshake.remote_static),
			 __ATOMIC_RELAXED);
}

/* Control thread, dev->lock held: the keypair begin_session just made. */
void fs_peer_session_began(struct fs_peer *peer)
{
	derive_spread_key(peer->noise->next);
	derive_spread_key(peer->noise->current);
}

struct fs_spread_settings *fs_spread_settings_alloc(void)
{
	if (fs_failpoint_hit(FS_FAILPOINT_SPREAD)) {
		errno = ENOMEM;
		return NULL;
	}
	return calloc(1, sizeof(struct fs_spread_settings));
}

void fs_spread_settings_fill(struct fs_spread_settings *s, const struct fs_prefix *prefixes,
			     size_t n, bool has_ports, const struct fs_port_range *ports)
{
	memset(s, 0, sizeof(*s));
	s->mode = FS_SPREAD_OFF;
	for (size_t i = 0; i < n && i < FS_MAX_PREFIXES; ++i) {
		if (prefixes[i].family == AF_INET6)
			s->v6[s->n_v6++] = prefixes[i];
		else if (prefixes[i].family == AF_INET)
			s->v4[s->n_v4++] = prefixes[i];
	}
	s->has_ports = has_ports;
	if (has_ports)
		s->ports = *ports;
}

static void spread_settings_free_rcu(struct rcu_head *head)
{
	free(caa_container_of(head, struct fs_spread_settings, rcu));
}

void fs_spread_settings_publish(struct fs_spread_settings **slot, struct fs_spread_settings *s)
{
	struct fs_spread_settings *old = *slot;

	rcu_assign_pointer(*slot, s);
	if (old)
		urcu_memb_call_rcu(&old->rcu, spread_settings_free_rcu);
}

void fs_peer_publish_spread(struct fs_peer *peer, struct fs_spread_settings *s)
{
	if (!peer->n_spread_prefixes && !peer->has_spread_ports) {
		free(s);	/* never published */
		s = NULL;
	} else {
		fs_spread_settings_fill(s, peer->spread_prefixes, peer->n_spread_prefixes,
					peer->has_spread_ports, &peer->spread_ports);
	}
	fs_spread_settings_publish(&peer->remote_spread, s);
}

/* Whether "seen" (an atomic receive time) lies within the trust window before now. */
static bool seen_recently(const uint64_t *seen, uint64_t now)
{
	uint64_t t = __atomic_load_n(seen, __ATOMIC_RELAXED);

	return t && now - t < (uint64_t)FS_ENDPOINT_TRUST_WINDOW_SEC * FS_NSEC_PER_SEC;
}

static void range_of(struct fs_spread_range *range, const struct fs_spread_settings *s,
		     int family, bool addresses, bool ports)
{
	memset(range, 0, sizeof(*range));
	if (addresses)
		range->prefixes = prefixes_of(s, family, &range->nprefixes);
	if (ports && s->has_ports) {
		range->port_low = s->ports.low;
		range->port_high = s->ports.high;
	}
}

enum {
	USE_MY_ADDRESSES = 1,
	USE_MY_PORTS = 2,
	USE_THEIR_ADDRESSES = 4,
	USE_THEIR_PORTS = 8,
};

static const uint8_t use_mine[FS_SPREADPATH_KINDS] = {
	[FS_SPREADPATH_ADDRESSES] = USE_MY_ADDRESSES,
	[FS_SPREADPATH_PORTS] = USE_MY_PORTS,
};

/*
 * Of the kinds of our sources in "want", those whose return path is
 * proven (fs_spreadpath_trusted). For the others, ask the control thread
 * to look (and maybe probe) when it asked to be called.
 */
static uint8_t proven_sources(struct fs_peer *peer, uint8_t want, uint64_t now)
{
	uint8_t use = want;
	bool call = false;

	for (int k = 0; k < FS_SPREADPATH_KINDS; ++k) {
		if (!(want & use_mine[k]) ||
		    fs_spreadpath_trusted(__atomic_load_n(&peer->path_proven[k], __ATOMIC_RELAXED), now))
			continue;
		use &= (uint8_t)~use_mine[k];
		call |= now >= __atomic_load_n(&peer->path_next_check[k], __ATOMIC_RELAXED);
	}
	if (call && !fs_timer_pending(peer, FS_TIMER_SPREAD_PATH))
		fs_timer_mod(peer, FS_TIMER_SPREAD_PATH, now);
	return use;
}

bool fs_peer_spread(struct fs_peer *peer, const struct fs_noise_keypair *keypair,
		    const uint8_t *packet, size_t len, uint64_t now,
		    struct fs_endpoint *endpoint, uint16_t *local_port,
		    struct fs_spread_memo *memo)
{
	const struct fs_spread_settings *spread, *remote;
	struct fs_spread_range mine, theirs = { 0 };
	struct fs_spread_pair pair;
	struct fs_flowkey flow;
	int family = endpoint->addr.sa.sa_family;
	uint8_t mode, use;

	*local_port = 0;
	spread = rcu_dereference(peer->device->spread);
	if (!spread || spread->mode == FS_SPREAD_OFF ||
	    !__atomic_load_n(&keypair->has_spread_key, __ATOMIC_ACQUIRE) ||
	    (family != AF_INET && family != AF_INET6))
		return false;
	mode = spread->mode == FS_SPREAD_ADDRESSES ? USE_MY_ADDRESSES :
	       spread->mode == FS_SPREAD_PORTS ? USE_MY_PORTS : USE_MY_ADDRESSES | USE_MY_PORTS;
	/* Our sources only where the peer is known to answer (spreadpath.h). */
	range_of(&mine, spread, family, mode & USE_MY_ADDRESSES, mode & USE_MY_PORTS);
	use = proven_sources(peer, (mine.nprefixes ? USE_MY_ADDRESSES : 0) |
				   (mine.port_high ? USE_MY_PORTS : 0), now);
	range_of(&mine, spread, family, use & USE_MY_ADDRESSES, use & USE_MY_PORTS);
	remote = rcu_dereference(peer->remote_spread);
	if (remote) {
		if ((mode & USE_MY_ADDRESSES) && seen_recently(&peer->seen_in_prefix, now))
			use |= USE_THEIR_ADDRESSES;
		if ((mode & USE_MY_PORTS) && seen_recently(&peer->seen_in_ports, now))
			use |= USE_THEIR_PORTS;
		range_of(&theirs, remote, family, use & USE_THEIR_ADDRESSES, use & USE_THEIR_PORTS);
	}
	if (!mine.nprefixes && !mine.port_high && !theirs.nprefixes && !theirs.port_high)
		return false;
	if (!fs_flowkey_from_packet(&flow, packet, len))
		return false;
	if (memo && memo->valid && memo->keypair == keypair && memo->mine == spread &&
	    memo->theirs == remote && memo->use == use && memo->family == family &&
	    !memcmp(&memo->flow, &flow, sizeof(flow))) {
		pair = memo->pair;
	} else {
		fs_spread_pair_derive(&pair, keypair->spread_key,
				      fs_spread_pair_index(keypair->spread_key, &flow, spread->pairs),
				      (enum fs_spread_role)__atomic_load_n(&peer->spread_role,
									   __ATOMIC_RELAXED),
				      &mine, &theirs);
		if (memo) {
			*memo = (struct fs_spread_memo){
				.valid = true, .use = use, .family = family, .keypair = keypair,
				.mine = spread, .theirs = remote, .flow = flow, .pair = pair,
			};
		}
	}
	if (pair.local.has_address) {
		memcpy(&endpoint->src, &pair.local.addr, sizeof(endpoint->src));
		endpoint->src_ifindex = 0;
		endpoint->has_src = true;
		note_seen(&peer->path_used[FS_SPREADPATH_ADDRESSES], now);
	}
	*local_port = pair.local.port;
	if (pair.local.port)
		note_seen(&peer->path_used[FS_SPREADPATH_PORTS], now);
	if (pair.remote.has_address) {
		if (family == AF_INET6)
			memcpy(&endpoint->addr.in6.sin6_addr, &pair.remote.addr.v6, 16);
		else
			memcpy(&endpoint->addr.in.sin_addr, &pair.remote.addr.v4, 4);
	}
	if (pair.remote.port) {
		if (family == AF_INET6)
			endpoint->addr.in6.sin6_port = htons(pair.remote.port);
		else
			endpoint->addr.in.sin_port = htons(pair.remote.port);
	}
	return true;
}

/* ---- the return path of our spread sources (control thread) --------------- */

static const char *const kind_name[FS_SPREADPATH_KINDS] = {
	[FS_SPREADPATH_ADDRESSES] = "addresses",
	[FS_SPREADPATH_PORTS] = "ports",
};

/* Whether we spread our sources of this kind at all. */
static bool kind_spread(const struct fs_device *dev, enum fs_spreadpath_kind kind)
{
	const struct fs_spread_settings *s = dev->spread;

	if (!s || s->mode == FS_SPREAD_OFF)
		return false;
	if (kind == FS_SPREADPATH_ADDRESSES)
		return s->mode != FS_SPREAD_PORTS && s->n_v4 + s->n_v6 > 0;
	return s->mode != FS_SPREAD_ADDRESSES && s->has_ports;
}

/* "2001:db8:ff::/64" (every local prefix) or "spread ports 40000-40063". */
static void describe_kind(char *out, size_t len, const struct fs_device *dev,
			  enum fs_spreadpath_kind kind)
{
	char text[FS_PREFIX_STRLEN];
	size_t used = 0;

	out[0] = '\0';
	if (kind == FS_SPREADPATH_PORTS) {
		snprintf(out, len, "spread ports %u-%u", dev->spread_ports.low, dev->spread_ports.high);
		return;
	}
	for (size_t i = 0; i < dev->n_spread_prefixes && used < len; ++i)
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? ", " : "",
					 fs_prefix_format(text, &dev->spread_prefixes[i]));
}

static void log_verdict(struct fs_peer *peer, enum fs_spreadpath_kind kind,
			enum fs_spreadpath_verdict verdict, uint64_t suppressed, uint64_t now)
{
	const struct fs_spreadpath *p = &peer->path[kind];
	const char *plain = kind == FS_SPREADPATH_PORTS ? "the listen port" : "the plain address";
	char name[64], what[8 * FS_PREFIX_STRLEN], more[64] = "";
	uint64_t next = p->next_probe > now ? p->next_probe - now : 0;

	fs_peer_log_name(peer, name, sizeof(name));
	describe_kind(what, sizeof(what), peer->device, kind);
	if (verdict == FS_SPREADPATH_LOG_RECOVERY) {
		fs_log_verbose("%s: answers come back through %s: sending from it again", name, what);
		return;
	}
	if (suppressed)
		snprintf(more, sizeof(more), " (%llu more failures since the last message)",
			 (unsigned long long)suppressed);
	next = (next + FS_NSEC_PER_SEC - 1) / FS_NSEC_PER_SEC;
	if (p->reason == FS_SPREADPATH_PROBE_UNANSWERED)
		fs_log_error("%s: a handshake sent through %s got no answer in %d s: sending from %s; next try in %llu s%s",
			     name, what, FS_SPREADPATH_PROBE_TIMEOUT_SEC, plain,
			     (unsigned long long)next, more);
	else
		fs_log_error("%s: nothing came back through %s for %llu s: sending from %s; next try in %llu s%s",
			     name, what,
			     (unsigned long long)((p->since - p->proof) / FS_NSEC_PER_SEC), plain,
			     (unsigned long long)next, more);
}

/* Brings one kind up to date, logs what it says, and tells the datapath when to call. */
static void update_path(struct fs_peer *peer, enum fs_spreadpath_kind kind, uint64_t now)
{
	enum fs_spreadpath_verdict verdict;
	uint64_t suppressed = 0;

	verdict = fs_spreadpath_update(&peer->path[kind],
				       __atomic_load_n(&peer->path_proven[kind], __ATOMIC_RELAXED),
				       __atomic_load_n(&peer->path_plain[kind], __ATOMIC_RELAXED),
				       __atomic_load_n(&peer->path_used[kind], __ATOMIC_RELAXED),
				       now, &suppressed);
	if (verdict != FS_SPREADPATH_QUIET)
		log_verdict(peer, kind, verdict, suppressed, now);
	__atomic_store_n(&peer->path_next_check[kind], fs_spreadpath_next_check(&peer->path[kind]),
			 __ATOMIC_RELAXED);
}

void fs_peer_spread_check(struct fs_peer *peer, bool may_probe, uint64_t now)
{
	uint64_t next = peer->last_sent_handshake + WG_REKEY_TIMEOUT * FS_NSEC_PER_SEC;
	bool due = false;

	for (int k = 0; k < FS_SPREADPATH_KINDS; ++k) {
		if (!kind_spread(peer->device, k))
			continue;
		update_path(peer, k, now);
		due |= fs_spreadpath_may_probe(&peer->path[k],
					       __atomic_load_n(&peer->path_proven[k], __ATOMIC_RELAXED),
					       now);
	}
	if (!may_probe || !due)
		return;
	/*
	 * The probe is an initiation: at most one a REKEY_TIMEOUT, and none
	 * in the middle of a handshake's retries (the next retry carries it).
	 */
	if (fs_timer_pending(peer, FS_TIMER_RETRANSMIT_HANDSHAKE))
		next += FS_NSEC_PER_SEC / 2;
	else if (fs_has_expired(peer->last_sent_handshake, WG_REKEY_TIMEOUT, now)) {
		fs_send_queued_handshake_initiation(peer, false, now);
		return;
	}
	fs_timer_mod(peer, FS_TIMER_SPREAD_PATH, next > now ? next : now + FS_NSEC_PER_SEC);
}

/* A random host part of the prefix: probes are not linkable by their address. */
static void sample_random(uint8_t host[16], uint32_t attempt, void *ctx)
{
	(void)attempt;
	(void)ctx;
	randombytes_buf(host, 16);
}

uint16_t fs_peer_probe_source(struct fs_peer *peer, struct fs_endpoint *target, uint64_t now)
{
	const struct fs_device *dev = peer->device;
	const struct fs_spread_settings *s = dev->spread;
	int family = target->addr.sa.sa_family;
	struct fs_spreadpath *p;
	uint16_t port = 0;
	size_t n;

	if (!s || (family != AF_INET && family != AF_INET6))
		return 0;
	for (int k = 0; k < FS_SPREADPATH_KINDS; ++k) {
		if (!kind_spread(dev, k))
			continue;
		update_path(peer, k, now);
		p = &peer->path[k];
		if (!fs_spreadpath_may_probe(p, __atomic_load_n(&peer->path_proven[k],
								__ATOMIC_RELAXED), now))
			continue;
		if (k == FS_SPREADPATH_ADDRESSES) {
			const struct fs_prefix *list = prefixes_of(s, family, &n);
			uint8_t addr[16];

			if (!n || !fs_spread_address_pick(addr, &list[randombytes_uniform((uint32_t)n)],
							  sample_random, NULL))
				continue;
			memcpy(&target->src, addr, sizeof(target->src));
			target->src_ifindex = 0;
			target->has_src = true;
		} else {
			uint16_t candidate = (uint16_t)(s->ports.low +
				randombytes_uniform((uint32_t)(s->ports.high - s->ports.low) + 1));

			if (fs_port_index(dev->port_fds_low, dev->n_port_fds, candidate) < 0)
				continue;
			port = candidate;
		}
		fs_spreadpath_probe_sent(p, now);
		__atomic_store_n(&peer->path_next_check[k], fs_spreadpath_next_check(p),
				 __ATOMIC_RELAXED);
	}
	return port;
}

void fs_peer_spread_revoke(struct fs_peer *peer, uint64_t now)
{
	for (int k = 0; k < FS_SPREADPATH_KINDS; ++k) {
		uint64_t proven = __atomic_load_n(&peer->path_proven[k], __ATOMIC_RELAXED);

		if (!kind_spread(peer->device, k))
			continue;
		update_path(peer, k, now);
		if (!fs_spreadpath_revoke(&peer->path[k], proven, now))
			continue;
		__atomic_store_n(&peer->path_proven[k], 0, __ATOMIC_RELAXED);
		__atomic_store_n(&peer->path_next_check[k], fs_spreadpath_next_check(&peer->path[k]),
				 __ATOMIC_RELAXED);
	}
}

bool fs_peer_spread_state(struct fs_peer *peer, enum fs_spreadpath_kind kind, uint64_t now,
			  char out[FS_SPREADPATH_STATE_STRLEN + 16])
{
	char state[FS_SPREADPATH_STATE_STRLEN];

	if (!kind_spread(peer->device, kind))
		return false;
	fs_spreadpath_format(&peer->path[kind],
			     __atomic_load_n(&peer->path_proven[kind], __ATOMIC_RELAXED), now, state);
	snprintf(out, FS_SPREADPATH_STATE_STRLEN + 16, "%s,%s", kind_name[kind], state);
	return true;
}
