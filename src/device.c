// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <sodium.h>
#include "allowedips.h"
#include "clock.h"
#include "device.h"
#include "endpoint.h"
#include "log.h"
#include "portreserve.h"
#include "ratelimiter.h"
#include "secmem.h"
#include "socket.h"
#include "worker.h"

/* The keypair's own reclaim head is the RCU head: freeing never allocates. */
_Static_assert(sizeof(struct rcu_head) == sizeof(struct fs_noise_reclaim),
	       "struct fs_noise_reclaim must hold a struct rcu_head");

static void keypair_free_rcu(struct rcu_head *head)
{
	struct fs_noise_reclaim *reclaim = (struct fs_noise_reclaim *)head;

	fs_noise_keypair_destroy(caa_container_of(reclaim, struct fs_noise_keypair, reclaim));
}

/*
 * Workers may still hold a keypair they looked up: free it after a grace
 * period. Also called by a worker (confirming a keypair) inside its
 * read-side section, so it must neither allocate nor wait for readers.
 */
static void keypair_reclaim(struct fs_noise_keypair *keypair)
{
	urcu_memb_call_rcu((struct rcu_head *)&keypair->reclaim, keypair_free_rcu);
}

static void log_secmem(const char *msg)
{
	fs_log_error("%s", msg);
}

int fs_device_init(struct fs_device *dev, const char *ifname, unsigned int n_workers)
{
	memset(dev, 0, sizeof(*dev));
	snprintf(dev->ifname, sizeof(dev->ifname), "%s", ifname);
	dev->mtu = FS_DEFAULT_MTU;
	dev->n_workers = n_workers;
	dev->spread_pairs = FS_SPREAD_PAIRS_DEFAULT;
	dev->endpoint_limit = FS_ENDPOINT_LIMIT_DEFAULT;
	dev->next_wake = UINT64_MAX;
	CDS_INIT_LIST_HEAD(&dev->peers);
	pthread_mutex_init(&dev->lock, NULL);
	pthread_mutex_init(&dev->handshake_lock, NULL);
	for (unsigned int i = 0; i < FS_MAX_WORKERS; ++i)
		dev->tun_fds[i] = dev->udp_fds[i] = -1;

	fs_noise_set_keypair_reclaim(keypair_reclaim);
	fs_secmem_set_logger(log_secmem);
	/*
	 * liburcu makes its call_rcu thread at the first call_rcu and aborts
	 * if it cannot (a thread stack is a mapping, and memory may be short
	 * by then): make it now, while starting.
	 */
	urcu_memb_get_default_call_rcu_data();
	dev->identity = fs_noise_identity_new();
	dev->cookie_checker = fs_secmem_alloc(sizeof(*dev->cookie_checker));
	dev->index = fs_index_table_new();
	dev->allowedips = fs_allowedips_new();
	dev->ratelimiter = fs_ratelimiter_new(0);
	dev->handshake_queue = calloc(FS_HANDSHAKE_QUEUE_LEN, sizeof(*dev->handshake_queue));
	dev->peer_hash_bits = FS_PEER_HASH_BITS_MIN;
	dev->peer_hash = calloc((size_t)1 << dev->peer_hash_bits, sizeof(*dev->peer_hash));
	dev->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!dev->identity || !dev->cookie_checker || !dev->index || !dev->allowedips ||
	    !dev->ratelimiter || !dev->handshake_queue || !dev->peer_hash || dev->kick_fd < 0)
		return -ENOMEM;
	fs_cookie_checker_init(dev->cookie_checker, NULL);
	return 0;
}

static void ports_close(struct fs_device *dev);

void fs_device_destroy(struct fs_device *dev)
{
	struct fs_peer *peer, *tmp;

	fs_device_stop(dev);
	pthread_mutex_lock(&dev->lock);
	cds_list_for_each_entry_safe(peer, tmp, &dev->peers, list)
		fs_peer_remove(peer);
	for (size_t i = 0; i < dev->n_guards; ++i) {
		char err[FS_ERRLEN];

		if (fs_guard_remove(&dev->guards[i], err, sizeof(err)))
			fs_log_error("%s", err);
	}
	dev->n_guards = 0;
	pthread_mutex_unlock(&dev->lock);
	urcu_memb_barrier();	/* every call_rcu callback has run */
	free(dev->spread);

	fs_socket_close_group(dev->udp_fds, dev->n_workers);
	ports_close(dev);
	for (unsigned int i = 0; i < dev->n_tun_fds; ++i)
		if (dev->tun_fds[i] >= 0)
			close(dev->tun_fds[i]);
	fs_allowedips_free(dev->allowedips);
	fs_index_table_free(dev->index);
	fs_ratelimiter_free(dev->ratelimiter);
	fs_noise_identity_free(dev->identity);
	fs_secmem_free(dev->cookie_checker);
	free(dev->handshake_queue);
	free(dev->peer_hash);
	if (dev->kick_fd >= 0)
		close(dev->kick_fd);
	pthread_mutex_destroy(&dev->lock);
	pthread_mutex_destroy(&dev->handshake_lock);
}

static int start_workers(struct fs_device *dev)
{
	for (unsigned int i = 0; i < dev->n_workers; ++i) {
		int tun = i < dev->n_tun_fds ? dev->tun_fds[i] : -1;

		dev->workers[i] = fs_worker_start(dev, i, tun, dev->udp_fds[i]);
		if (!dev->workers[i]) {
			int err = -errno;

			fs_device_stop(dev);
			return err ? err : -ENOMEM;
		}
	}
	dev->running = true;
	return 0;
}

int fs_device_start(struct fs_device *dev)
{
	int ret;

	if (dev->udp_fds[0] < 0) {
		ret = fs_socket_open_group(dev->udp_fds, dev->n_workers, dev->configured_port,
					   dev->fwmark, &dev->listen_port);
		if (ret)
			return ret;
	}
	return start_workers(dev);
}

void fs_device_stop(struct fs_device *dev)
{
	for (unsigned int i = 0; i < dev->n_workers; ++i) {
		fs_worker_stop(dev->workers[i]);
		dev->workers[i] = NULL;
	}
	dev->running = false;
}

void fs_device_kick(struct fs_device *dev)
{
	uint64_t one = 1;

	if (write(dev->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		fs_log_error("cannot wake the control thread: %s", strerror(errno));
}

/* ---- handshake queue -------------------------------------------------------- */

bool fs_device_queue_handshake(struct fs_device *dev, const struct fs_handshake_item *item)
{
	unsigned int slot;

	pthread_mutex_lock(&dev->handshake_lock);
	if (dev->handshake_count == FS_HANDSHAKE_QUEUE_LEN) {
		pthread_mutex_unlock(&dev->handshake_lock);
		__atomic_fetch_add(&dev->drops.handshake_queue_full, 1, __ATOMIC_RELAXED);
		return false;
	}
	slot = (dev->handshake_head + dev->handshake_count) % FS_HANDSHAKE_QUEUE_LEN;
	dev->handshake_queue[slot] = *item;
	++dev->handshake_count;
	pthread_mutex_unlock(&dev->handshake_lock);
	fs_device_kick(dev);
	return true;
}

/* As the kernel: under load while an eighth of the queue is full, and a second after. */
bool fs_device_under_load(struct fs_device *dev, uint64_t now)
{
	unsigned int queued;

	pthread_mutex_lock(&dev->handshake_lock);
	queued = dev->handshake_count;
	pthread_mutex_unlock(&dev->handshake_lock);
	if (queued >= FS_HANDSHAKE_QUEUE_LEN / 8) {
		dev->last_under_load = now;
		return true;
	}
	if (dev->last_under_load && !fs_has_expired(dev->last_under_load, 1, now))
		return true;
	dev->last_under_load = 0;
	return false;
}

/* Control thread. Handles at most a batch so timers and the UAPI stay responsive. */
void fs_device_process_handshakes(struct fs_device *dev)
{
	struct fs_handshake_item item;

	for (unsigned int i = 0; i < 256; ++i) {
		pthread_mutex_lock(&dev->handshake_lock);
		if (!dev->handshake_count) {
			pthread_mutex_unlock(&dev->handshake_lock);
			return;
		}
		item = dev->handshake_queue[dev->handshake_head];
		dev->handshake_head = (dev->handshake_head + 1) % FS_HANDSHAKE_QUEUE_LEN;
		--dev->handshake_count;
		pthread_mutex_unlock(&dev->handshake_lock);

		pthread_mutex_lock(&dev->lock);
		fs_receive_handshake(dev, &item, fs_clock_now());
		pthread_mutex_unlock(&dev->lock);
	}
	fs_device_kick(dev);	/* more left: come back after the other events */
}

/*
 * Control thread, without dev->lock: a long UAPI operation (a get, the
 * prepare part of a set) calls this every FS_YIELD_PEERS peers, so that
 * handshakes (and stale-source reports) queued meanwhile are answered
 * part-way through instead of after it. It answers one batch, as the
 * control loop does per kick, and costs a lock and a test when nothing
 * is queued. Nothing it runs adds or removes a peer or changes the
 * configuration: only the control thread does, and only in
 * fs_device_apply's commit and fs_device_destroy, never from here.
 */
void fs_device_yield(struct fs_device *dev)
{
	fs_device_process_handshakes(dev);
	fs_device_process_stale_sources(dev);
}

/* ---- stale source addresses -------------------------------------------------- */

/*
 * A worker's send failed with EINVAL from a remembered local address that
 * is gone. The worker cannot touch the peer after the send completed (it
 * may be freed by then), so it tells the control thread the address, and
 * every peer that remembers it forgets it: the next send lets the kernel
 * choose, and the next packet received teaches us again.
 */
void fs_device_report_stale_source(struct fs_device *dev, const struct fs_endpoint *endpoint)
{
	pthread_mutex_lock(&dev->handshake_lock);
	if (dev->n_stale_sources < FS_STALE_SOURCES)
		dev->stale_sources[dev->n_stale_sources++] = *endpoint;
	pthread_mutex_unlock(&dev->handshake_lock);
	fs_device_kick(dev);
}

static bool same_source(const struct fs_endpoint *a, const struct fs_endpoint *b)
{
	if (!a->has_src || !b->has_src || a->addr.sa.sa_family != b->addr.sa.sa_family)
		return false;
	return a->addr.sa.sa_family == AF_INET ? a->src.v4.s_addr == b->src.v4.s_addr :
	       !memcmp(&a->src.v6, &b->src.v6, sizeof(a->src.v6));
}

void fs_device_process_stale_sources(struct fs_device *dev)
{
	struct fs_endpoint stale[FS_STALE_SOURCES];
	unsigned int n;
	struct fs_peer *peer;

	pthread_mutex_lock(&dev->handshake_lock);
	n = dev->n_stale_sources;
	memcpy(stale, dev->stale_sources, n * sizeof(stale[0]));
	dev->n_stale_sources = 0;
	pthread_mutex_unlock(&dev->handshake_lock);
	if (!n)
		return;
	pthread_mutex_lock(&dev->lock);
	cds_list_for_each_entry(peer, &dev->peers, list) {
		struct fs_endpoint endpoint;
		bool has;

		fs_peer_get_endpoint(peer, &endpoint, &has);
		for (unsigned int i = 0; has && i < n; ++i) {
			if (same_source(&endpoint, &stale[i])) {
				fs_peer_clear_endpoint_src(peer);
				break;
			}
		}
	}
	pthread_mutex_unlock(&dev->lock);
}

/* ---- configuration ------------------------------------------------------------ */

static int set_private_key(struct fs_device *dev, const uint8_t key[WG_KEY_LEN])
{
	struct fs_peer *peer, *tmp;
	uint8_t public_key[WG_KEY_LEN];

	if (dev->identity->has_identity &&
	    !sodium_memcmp(dev->identity->private_key, key, WG_KEY_LEN))
		return 0;
	if (!fs_noise_identity_set_private(dev->identity, key))
		return -EINVAL;
	/* A peer with our own public key cannot be: remove it, as the kernel does. */
	if (dev->identity->has_identity) {
		memcpy(public_key, dev->identity->public_key, WG_KEY_LEN);
		peer = fs_device_lookup_peer(dev, public_key);
		if (peer)
			fs_peer_remove(peer);
	}
	cds_list_for_each_entry_safe(peer, tmp, &dev->peers, list) {
		fs_noise_peer_precompute(peer->noise);
		fs_noise_expire_current_keypair(peer->noise);
		fs_noise_handshake_clear(peer->noise, dev->index);
		fs_peer_update_role(peer);
	}
	fs_cookie_checker_init(dev->cookie_checker,
			       dev->identity->has_identity ? dev->identity->public_key : NULL);
	return 0;
}

/*
 * Our public key once cfg is applied, into own; false if we will have
 * none. Worked out once a request: a public key costs a scalar
 * multiplication, and a request may name a million peers.
 */
static bool own_key_after(struct fs_device *dev, const struct fs_config *cfg,
			  uint8_t own[WG_KEY_LEN])
{
	if (cfg->has_private_key)
		return !sodium_is_zero(cfg->private_key, WG_KEY_LEN) &&
		       fs_noise_public_from_private(own, cfg->private_key);
	memcpy(own, dev->identity->public_key, WG_KEY_LEN);
	return dev->identity->has_identity;
}

static bool is_own_key(const uint8_t key[WG_KEY_LEN], const uint8_t *own)
{
	return own && !sodium_memcmp(own, key, WG_KEY_LEN);
}

/*
 * What the commit of one of the request's peers takes from prepare
 * (peers_prepare), each NULL when it needs none.
 */
struct peer_plan {
	struct fs_peer *peer;			/* the peer its key names then, NULL for none */
	struct fs_peer *ready;			/* the peer it creates */
	struct fs_endpoints *endpoints;		/* the table its endpoint settings fill */
	struct fs_spread_settings *spread;	/* for its spread_prefix and spread_ports */
};

/*
 * pp: what apply_prepare made for cp (what is used is taken here); own:
 * our public key (own_key_after), NULL for none. Cannot fail.
 */
static void apply_peer(struct fs_device *dev, const struct fs_config_peer *cp,
		       struct peer_plan *pp, const uint8_t *own, uint64_t now)
{
	struct fs_peer *peer = pp->peer;	/* known since prepare: no lookup */

	if (is_own_key(cp->public_key, own))
		return;	/* ignored, as wireguard-go does */
	if (cp->remove) {
		if (peer)
			fs_peer_remove(peer);
		return;
	}
	if (!peer) {
		if (cp->update_only || !pp->ready)
			return;
		peer = pp->ready;	/* its endpoint table is made for cp's settings */
		pp->ready = NULL;
		fs_peer_link(peer);
	}
	if (cp->has_preshared_key)
		fs_noise_peer_set_preshared_key(peer->noise, cp->preshared_key);
	if (cp->has_endpoint) {
		peer->has_configured_endpoint = true;
		peer->configured_endpoint = cp->endpoint;
	}
	if (cp->replace_allowed_ips)
		fs_allowedips_remove_by_peer(dev->allowedips, peer);
	/* Cannot fail: peers_prepare checked the prefixes and reserved their memory. */
	for (size_t i = 0; i < cp->n_allowed_ips; ++i) {
		const struct fs_prefix *p = &cp->allowed_ips[i];

		fs_allowedips_insert(dev->allowedips, p->family, &p->addr, p->cidr, peer);
	}
	/* Extension keys: given empty, back to none. */
	if (cp->has_endpoint_alt) {
		peer->n_endpoint_alt = cp->n_endpoint_alt;
		memcpy(peer->endpoint_alt, cp->endpoint_alt, sizeof(cp->endpoint_alt));
	}
	if (cp->has_spread_prefixes) {
		peer->n_spread_prefixes = cp->n_spread_prefixes;
		memcpy(peer->spread_prefixes, cp->spread_prefixes, sizeof(cp->spread_prefixes));
	}
	if (cp->has_spread_ports) {
		peer->has_spread_ports = cp->spread_ports.low != 0;
		peer->spread_ports = peer->has_spread_ports ? cp->spread_ports :
				     (struct fs_port_range){ 0 };
	}
	if (pp->spread) {	/* cp has spread_prefix or spread_ports */
		fs_peer_publish_spread(peer, pp->spread);
		pp->spread = NULL;
	}
	if (pp->endpoints) {	/* cp has endpoint, endpoint_alt or spread_prefix */
		fs_peer_replace_endpoints(peer, pp->endpoints, cp->has_endpoint, now);
		pp->endpoints = NULL;
	}
	if (cp->has_persistent_keepalive) {
		uint16_t old = __atomic_exchange_n(&peer->persistent_keepalive,
						   cp->persistent_keepalive, __ATOMIC_RELAXED);

		/* Turning it on sends one at once, as wireguard-go does. */
		if (!old && cp->persistent_keepalive && dev->running)
			fs_timer_mod(peer, FS_TIMER_WANT_KEEPALIVE, now);
	}
}

/* Publishes the datapath's view of the spreading settings in spread (taken; lock held). */
static void publish_spread(struct fs_device *dev, struct fs_spread_settings *spread)
{
	fs_spread_settings_fill(spread, dev->spread_prefixes, dev->n_spread_prefixes,
				dev->has_spread_ports, &dev->spread_ports);
	/*
	 * Unset, the mode is "addresses" once there is a local prefix. Without
	 * one there is nothing of ours to draw, but a peer's spread_prefix or
	 * spread_ports still opts in to destination spreading: each flow then
	 * goes to its own end of the peer's ranges (the end the peer uses for
	 * it), rather than wherever the peer's latest packet came from.
	 */
	spread->mode = dev->spread_mode != FS_SPREAD_DEFAULT ? dev->spread_mode :
		       dev->n_spread_prefixes ? FS_SPREAD_ADDRESSES : FS_SPREAD_BOTH;
	spread->pairs = dev->spread_pairs;
	fs_spread_settings_publish(&dev->spread, spread);
}

bool fs_device_is_spread_address(struct fs_device *dev, const struct fs_endpoint *endpoint)
{
	const struct fs_spread_settings *spread = rcu_dereference(dev->spread);

	return spread && endpoint->has_src &&
	       fs_spread_settings_contains(spread, endpoint->addr.sa.sa_family, &endpoint->src);
}

/* Freebind while there are local spread prefixes to send from (socket.c says why). */
static void sync_freebind(struct fs_device *dev)
{
	bool want = dev->n_spread_prefixes > 0;
	int ret;

	if (dev->udp_fds[0] < 0)
		return;
	ret = fs_socket_set_freebind(dev->udp_fds, dev->n_workers, want);
	if (!ret && dev->n_port_fds)
		ret = fs_socket_set_freebind(dev->port_fds, dev->n_port_fds, want);
	if (ret)
		fs_log_error("cannot turn freebind %s on the sockets: %s", want ? "on" : "off",
			     strerror(-ret));
}

/*
 * A new endpoint_limit: every peer's endpoint table, rebuilt into the one
 * prepare made for it (limits_prepare; the peers, in list order).
 */
struct limit_table {
	struct fs_peer *peer;
	struct fs_endpoints *table;
};

static void limits_commit(struct fs_device *dev, struct limit_table *limits, size_t n,
			  uint64_t now)
{
	struct fs_peer *peer;
	size_t k = 0;

	cds_list_for_each_entry(peer, &dev->peers, list) {
		if (k < n && limits[k].peer == peer) {
			fs_peer_replace_endpoints(peer, limits[k].table, false, now);
			limits[k++].table = NULL;
		}
	}
}

/*
 * Given empty, a key is back to its default (the parser filled that in).
 * spread: the device's new spreading settings, if they change (taken).
 * Cannot fail.
 */
static void apply_extensions(struct fs_device *dev, const struct fs_config *cfg,
			     struct limit_table *limits, size_t n_limits,
			     struct fs_spread_settings *spread, uint64_t now)
{
	if (cfg->has_spread_prefixes) {
		dev->n_spread_prefixes = cfg->n_spread_prefixes;
		memcpy(dev->spread_prefixes, cfg->spread_prefixes, sizeof(cfg->spread_prefixes));
	}
	if (cfg->has_spread_mode)
		dev->spread_mode = cfg->spread_mode;
	if (cfg->has_spread_ports) {
		dev->has_spread_ports = cfg->spread_ports.low != 0;
		dev->spread_ports = dev->has_spread_ports ? cfg->spread_ports :
				    (struct fs_port_range){ 0 };
	}
	if (cfg->has_spread_pairs)
		dev->spread_pairs = cfg->spread_pairs;
	if (cfg->has_endpoint_limit && cfg->endpoint_limit != dev->endpoint_limit) {
		dev->endpoint_limit = cfg->endpoint_limit;
		limits_commit(dev, limits, n_limits, now);
	}
	if (cfg->has_steer)
		dev->steer = cfg->steer;
	if (cfg->has_steer_qdisc)
		dev->steer_qdisc_major = cfg->steer_qdisc_major;
	if (spread)	/* spreading keys given, or none published yet */
		publish_spread(dev, spread);
	sync_freebind(dev);
}

/* ---- spreading: checks across the request and the device, and the guards ---- */

/* The request's peers sorted by public key, then by their order in it. */
struct key_ref {
	const uint8_t *key;
	size_t i;
};

static int key_ref_cmp(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;
	int c = memcmp(x->key, y->key, WG_KEY_LEN);

	return c ? c : (x->i > y->i) - (x->i < y->i);
}

/*
 * The request's peers in key_ref_cmp order, sorted once a set and shared
 * by the checks and prepare: a request may name a million peers. NULL
 * without memory.
 */
static struct key_ref *keys_sort(const struct fs_config *cfg)
{
	struct key_ref *refs = malloc(cfg->n_peers * sizeof(*refs) + 1);

	if (!refs)
		return NULL;
	for (size_t i = 0; i < cfg->n_peers; ++i)
		refs[i] = (struct key_ref){ cfg->peers[i].public_key, i };
	qsort(refs, cfg->n_peers, sizeof(*refs), key_ref_cmp);
	return refs;
}


struct spread_view {
	const struct fs_prefix *prefixes;
	size_t n_prefixes;
	enum fs_spread_mode mode;
	bool has_ports;
	struct fs_port_range ports;
	uint16_t port;			/* the listen port, 0 if not known yet */
};

/* What the device's spreading settings will be once cfg is applied. */
static void spread_view(struct spread_view *v, const struct fs_device *dev,
			const struct fs_config *cfg)
{
	v->prefixes = cfg->has_spread_prefixes ? cfg->spread_prefixes : dev->spread_prefixes;
	v->n_prefixes = cfg->has_spread_prefixes ? cfg->n_spread_prefixes : dev->n_spread_prefixes;
	v->mode = cfg->has_spread_mode ? cfg->spread_mode : dev->spread_mode;
	v->has_ports = cfg->has_spread_ports ? cfg->spread_ports.low != 0 : dev->has_spread_ports;
	v->ports = cfg->has_spread_ports ? cfg->spread_ports : dev->spread_ports;
	v->port = cfg->has_listen_port && cfg->listen_port ? cfg->listen_port : dev->listen_port;
}

enum { KEY_B64_LEN = sodium_base64_ENCODED_LEN(WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL) };

/* One holder of spread prefixes once the request is applied: the device (key NULL) or a peer. */
struct prefix_holder {
	const uint8_t *key;
	const struct fs_prefix *prefixes;
	size_t n;
};

/* Blocks of the request that decide a peer's prefixes: they remove it or set them. */
static bool decides_prefixes(const struct fs_config_peer *cp)
{
	return cp->remove || cp->has_spread_prefixes;
}

/*
 * The request's peers by key (refs, keys_sort): the last block of each
 * key that decides its prefixes, NULL for none. O(log n) a key.
 */
struct decisions {
	const struct key_ref *refs;
	const struct fs_config_peer **last;	/* per ref, the last decision of its key */
	size_t n;
};

static int decisions_init(struct decisions *d, const struct fs_config *cfg,
			  const struct key_ref *refs)
{
	d->n = cfg->n_peers;
	d->refs = refs;
	d->last = malloc(d->n * sizeof(*d->last) + 1);
	if (!d->last)
		return -ENOMEM;
	for (size_t g = 0, end; g < d->n; g = end) {
		const struct fs_config_peer *last = NULL;

		for (end = g; end < d->n && !memcmp(d->refs[end].key, d->refs[g].key, WG_KEY_LEN); ++end)
			if (decides_prefixes(&cfg->peers[d->refs[end].i]))
				last = &cfg->peers[d->refs[end].i];
		for (size_t k = g; k < end; ++k)
			d->last[k] = last;
	}
	return 0;
}

static void decisions_free(struct decisions *d)
{
	free(d->last);
}

/* The last block of the request deciding key's prefixes, or NULL. */
static const struct fs_config_peer *last_decision(const struct decisions *d,
						  const uint8_t key[WG_KEY_LEN])
{
	struct key_ref probe = { key, SIZE_MAX };
	size_t lo = 0, hi = d->n;

	while (lo < hi) {	/* the last ref of key sorts just before (key, SIZE_MAX) */
		size_t mid = lo + (hi - lo) / 2;

		if (key_ref_cmp(&d->refs[mid], &probe) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && !memcmp(d->refs[lo - 1].key, key, WG_KEY_LEN) ? d->last[lo - 1] : NULL;
}

static void holder_add(struct prefix_holder *h, size_t *n, const uint8_t *key,
		       const struct fs_prefix *prefixes, size_t n_prefixes)
{
	if (n_prefixes)
		h[(*n)++] = (struct prefix_holder){ key, prefixes, n_prefixes };
}

/*
 * Every holder of spread prefixes once cfg is applied: the device, the
 * peers that stay (with the prefixes the request's last word on them
 * gives), and the peers the request adds. Blocks with our own key are
 * ignored as apply_peer ignores them; update_only blocks count as applied.
 */
static size_t prefix_holders(struct fs_device *dev, const struct fs_config *cfg,
			     const struct spread_view *v, const struct decisions *d,
			     struct prefix_holder *h)
{
	uint8_t own_key[WG_KEY_LEN];
	const uint8_t *own = own_key_after(dev, cfg, own_key) ? own_key : NULL;
	struct fs_peer *peer;
	size_t n = 0;

	holder_add(h, &n, NULL, v->prefixes, v->n_prefixes);
	if (!cfg->replace_peers) {
		cds_list_for_each_entry(peer, &dev->peers, list) {
			const uint8_t *key = peer->noise->handshake.remote_static;
			const struct fs_config_peer *cp = last_decision(d, key);

			if (!cp)
				holder_add(h, &n, key, peer->spread_prefixes, peer->n_spread_prefixes);
			else if (!cp->remove)
				holder_add(h, &n, key, cp->spread_prefixes, cp->n_spread_prefixes);
		}
	}
	for (size_t k = 0; k < d->n; ++k) {
		const struct fs_config_peer *cp = d->last[k];

		/* Once per key (its last ref), for peers the request adds. */
		if ((k + 1 < d->n && !memcmp(d->refs[k + 1].key, d->refs[k].key, WG_KEY_LEN)) ||
		    !cp || cp->remove || !cp->n_spread_prefixes || is_own_key(cp->public_key, own) ||
		    (!cfg->replace_peers && fs_device_lookup_peer(dev, cp->public_key)))
			continue;
		holder_add(h, &n, cp->public_key, cp->spread_prefixes, cp->n_spread_prefixes);
	}
	return n;
}

static const char *peer_name(char out[KEY_B64_LEN], const uint8_t *key)
{
	sodium_bin2base64(out, KEY_B64_LEN, key, WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
	return out;
}

/* One prefix of a holder, as the range of addresses it covers. */
struct prefix_span {
	const struct fs_prefix *prefix;
	const struct prefix_holder *holder;
	uint8_t first[16], last[16];
};

static void span_of(struct prefix_span *sp, const struct prefix_holder *holder,
		    const struct fs_prefix *prefix)
{
	size_t len = prefix->family == AF_INET ? 4 : 16;

	sp->prefix = prefix;
	sp->holder = holder;
	memset(sp->first, 0, sizeof(sp->first));
	memset(sp->last, 0, sizeof(sp->last));
	for (size_t i = 0; i < len; ++i) {
		unsigned int bits = prefix->cidr > 8 * i ? prefix->cidr - 8 * i : 0;
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		sp->first[i] = prefix->addr.bytes[i] & mask;
		sp->last[i] = sp->first[i] | (uint8_t)~mask;
	}
}

/* By family, then first address, then the wider prefix first. */
static int span_cmp(const void *a, const void *b)
{
	const struct prefix_span *x = a, *y = b;
	int c = (x->prefix->family > y->prefix->family) - (x->prefix->family < y->prefix->family);

	if (!c)
		c = memcmp(x->first, y->first, sizeof(x->first));
	return c ? c : (x->prefix->cidr > y->prefix->cidr) - (x->prefix->cidr < y->prefix->cidr);
}

/* The error for x overlapping y (x the earlier holder: the device comes first). */
static bool clash(const struct prefix_span *x, const struct prefix_span *y, char *err,
		  size_t errlen)
{
	char a[FS_PREFIX_STRLEN], b[FS_PREFIX_STRLEN], kx[KEY_B64_LEN], ky[KEY_B64_LEN];

	if (x->holder > y->holder) {
		const struct prefix_span *t = x;

		x = y;
		y = t;
	}
	fs_prefix_format(a, x->prefix);
	fs_prefix_format(b, y->prefix);
	if (!x->holder->key)
		return !fs_fail(err, errlen, "spread_prefix %s of peer %s overlaps the local spread_prefix %s",
				b, peer_name(ky, y->holder->key), a);
	return !fs_fail(err, errlen, "spread_prefix %s of peer %s overlaps spread_prefix %s of peer %s",
			b, peer_name(ky, y->holder->key), a, peer_name(kx, x->holder->key));
}

/*
 * No two prefixes of different holders (the device and the peers, as they
 * will be) may overlap. Prefixes nest or are disjoint, so in sorted order a
 * prefix overlaps an earlier one exactly when it starts before the widest
 * range seen so far ends; one sort, one pass.
 */
static bool peer_prefixes_clash(struct fs_device *dev, const struct fs_config *cfg,
				const struct key_ref *refs, const struct spread_view *v,
				char *err, size_t errlen)
{
	size_t n_holders = cfg->n_peers + 1, n, n_spans = 0;
	struct prefix_span *spans = NULL, *top = NULL;
	struct prefix_holder *h;
	struct decisions d;
	struct fs_peer *peer;
	bool found = false;

	cds_list_for_each_entry(peer, &dev->peers, list)
		++n_holders;
	h = malloc(n_holders * sizeof(*h));
	if (!h || decisions_init(&d, cfg, refs)) {
		free(h);
		return !fs_fail(err, errlen, "out of memory checking the spread prefixes");
	}
	n = prefix_holders(dev, cfg, v, &d, h);
	decisions_free(&d);
	for (size_t i = 0; i < n; ++i)
		n_spans += h[i].n;
	spans = malloc(n_spans * sizeof(*spans) + 1);
	if (!spans) {
		free(h);
		return !fs_fail(err, errlen, "out of memory checking the spread prefixes");
	}
	n_spans = 0;
	for (size_t i = 0; i < n; ++i)
		for (size_t j = 0; j < h[i].n; ++j)
			span_of(&spans[n_spans++], &h[i], &h[i].prefixes[j]);
	qsort(spans, n_spans, sizeof(*spans), span_cmp);
	for (size_t i = 0; i < n_spans && !found; ++i) {
		struct prefix_span *sp = &spans[i];

		if (top && top->prefix->family == sp->prefix->family &&
		    memcmp(sp->first, top->last, sizeof(sp->first)) <= 0) {
			if (sp->holder != top->holder)
				found = clash(top, sp, err, errlen);
			continue;	/* inside top: top stays the widest */
		}
		top = sp;
	}
	free(spans);
	free(h);
	return found;
}

/*
 * What can only be judged with the device: a mode without what it needs,
 * a port range holding the listen port, prefixes that clash, and local
 * prefixes overlapping an address or on-link prefix of the host (a local
 * route for them would override it).
 */
static int check_spreading(struct fs_device *dev, const struct fs_config *cfg,
			   const struct key_ref *refs, const struct spread_view *v,
			   char *err, size_t errlen)
{
	if ((v->mode == FS_SPREAD_PORTS || v->mode == FS_SPREAD_BOTH) && !v->has_ports)
		return fs_fail(err, errlen, "spread_mode=%s needs spread_ports=LOW-HIGH",
			       fs_spread_mode_name(v->mode)), -EINVAL;
	if ((v->mode == FS_SPREAD_ADDRESSES || v->mode == FS_SPREAD_BOTH) && !v->n_prefixes)
		return fs_fail(err, errlen, "spread_mode=%s needs a spread_prefix",
			       fs_spread_mode_name(v->mode)), -EINVAL;
	if (v->has_ports && (unsigned int)(v->ports.high - v->ports.low) + 1 > FS_SPREAD_PORTS_MAX)
		return fs_fail(err, errlen, "spread_ports=%u-%u holds %u ports; at most %u (one socket each)",
			       v->ports.low, v->ports.high, v->ports.high - v->ports.low + 1,
			       FS_SPREAD_PORTS_MAX), -EINVAL;
	if (v->has_ports && v->port && v->port >= v->ports.low && v->port <= v->ports.high)
		return fs_fail(err, errlen, "spread_ports=%u-%u contains the listen port %u",
			       v->ports.low, v->ports.high, v->port), -EINVAL;
	if (peer_prefixes_clash(dev, cfg, refs, v, err, errlen))
		return -EINVAL;
	for (size_t i = 0; i < cfg->n_spread_prefixes; ++i) {
		bool guarded = false;

		for (size_t j = 0; j < dev->n_guards; ++j)
			guarded |= !memcmp(&dev->guards[j].prefix, &cfg->spread_prefixes[i],
					   sizeof(struct fs_prefix));
		if (!guarded && fs_guard_check(&cfg->spread_prefixes[i], err, errlen))
			return -EINVAL;
	}
	return 0;
}

static void guard_for(struct fs_guard *guard, const struct fs_device *dev,
		      const struct fs_prefix *prefix, const struct spread_view *v, uint16_t port)
{
	memset(guard, 0, sizeof(*guard));
	snprintf(guard->ifname, sizeof(guard->ifname), "%s", dev->ifname);
	guard->prefix = *prefix;
	guard->ranges[guard->n_ranges++] = (struct fs_port_range){ port, port };
	if (v->has_ports && (v->mode == FS_SPREAD_PORTS || v->mode == FS_SPREAD_BOTH))
		guard->ranges[guard->n_ranges++] = v->ports;
}

/* a is the guard b of the device, still in place. */
static bool same_guard(const struct fs_guard *a, const struct fs_guard *b)
{
	return b->installed && !memcmp(&a->prefix, &b->prefix, sizeof(a->prefix)) &&
	       a->n_ranges == b->n_ranges &&
	       !memcmp(a->ranges, b->ranges, a->n_ranges * sizeof(a->ranges[0]));
}

static bool is_device_guard(const struct fs_device *dev, const struct fs_guard *guard)
{
	for (size_t j = 0; j < dev->n_guards; ++j)
		if (same_guard(guard, &dev->guards[j]))
			return true;
	return false;
}

/*
 * Installs the guards the new settings need and that are not in place yet
 * (into guards[], which keeps the ones already there). *n says how many of
 * guards[] were handled; on failure guards_abort puts everything back.
 */
static int guards_prepare(struct fs_device *dev, const struct spread_view *v, uint16_t port,
			  struct fs_guard *guards, size_t *n, char *err, size_t errlen)
{
	for (*n = 0; *n < v->n_prefixes; ++*n) {
		struct fs_guard *guard = &guards[*n];
		bool kept = false;
		int ret;

		guard_for(guard, dev, &v->prefixes[*n], v, port);
		for (size_t j = 0; j < dev->n_guards && !kept; ++j)
			if (same_guard(guard, &dev->guards[j])) {
				*guard = dev->guards[j];
				kept = true;
			}
		if (kept)
			continue;
		/*
		 * The same prefix guarded for other ports (a new listen port):
		 * its routes would clash, so it goes first, and comes back in
		 * guards_abort if the set fails.
		 */
		for (size_t j = 0; j < dev->n_guards; ++j)
			if (!memcmp(&dev->guards[j].prefix, &guard->prefix, sizeof(guard->prefix)))
				fs_guard_remove(&dev->guards[j], NULL, 0);
		ret = fs_guard_install(guard, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

/* Removes the first n of guards[] that are not the device's, and puts the device's back. */
static void guards_abort(struct fs_device *dev, struct fs_guard *guards, size_t n)
{
	for (size_t i = 0; i < n; ++i)
		if (guards[i].installed && !is_device_guard(dev, &guards[i]))
			fs_guard_remove(&guards[i], NULL, 0);
	for (size_t j = 0; j < dev->n_guards; ++j) {
		char err[FS_ERRLEN];

		if (!dev->guards[j].installed && fs_guard_install(&dev->guards[j], err, sizeof(err)))
			fs_log_error("putting back a guard: %s", err);
	}
}

/* Removes the old guards the new set does not keep, and takes the new set. */
static void guards_commit(struct fs_device *dev, const struct fs_guard *guards, size_t n)
{
	for (size_t j = 0; j < dev->n_guards; ++j) {
		bool kept = false;

		for (size_t i = 0; i < n; ++i)
			kept |= same_guard(&guards[i], &dev->guards[j]);
		if (!kept && dev->guards[j].installed)
			fs_guard_remove(&dev->guards[j], NULL, 0);
	}
	memcpy(dev->guards, guards, n * sizeof(guards[0]));
	dev->n_guards = n;
}

/* ---- ports mode: a socket per port of spread_ports ------------------------- */

struct port_sockets {
	bool change;		/* the set differs from the device's */
	int *fds;		/* the new set, NULL for none */
	unsigned int n;
	uint16_t low;
	/* fds[i] is the device's socket of the same port, kept: ports in both ranges */
	uint8_t reused[FS_SPREAD_PORTS_MAX / 8];
};

static bool wants_ports(const struct spread_view *v)
{
	return v->has_ports && (v->mode == FS_SPREAD_PORTS || v->mode == FS_SPREAD_BOTH);
}

static bool port_reused(const struct port_sockets *ps, unsigned int i)
{
	return ps->reused[i / 8] & (1U << (i % 8));
}

/*
 * Opens the sockets the new settings need, if they are not the device's
 * already. A port in both the old and the new range keeps its socket: a
 * new one could not bind while the old one holds the port.
 */
static int ports_prepare(const struct fs_device *dev, const struct spread_view *v,
			 uint32_t fwmark, struct port_sockets *ps, char *err, size_t errlen)
{
	unsigned int n = wants_ports(v) ? (unsigned int)(v->ports.high - v->ports.low) + 1 : 0;
	int ret = 0;

	memset(ps, 0, sizeof(*ps));
	if (n == dev->n_port_fds && (!n || v->ports.low == dev->port_fds_low))
		return 0;
	ps->change = true;
	if (!n)
		return 0;
	ps->fds = malloc(n * sizeof(*ps->fds));
	if (!ps->fds)
		return fs_fail(err, errlen, "out of memory for the sockets of spread_ports"), -ENOMEM;
	ps->low = v->ports.low;
	for (unsigned int i = 0; i < n; ++i) {
		uint16_t port = (uint16_t)(v->ports.low + i), failed = 0;
		int old = fs_port_index(dev->port_fds_low, dev->n_port_fds, port);

		if (old >= 0) {
			ps->fds[i] = dev->port_fds[old];
			ps->reused[i / 8] |= 1U << (i % 8);
		} else {
			ret = fs_socket_open_ports(&ps->fds[i], port, port, fwmark,
						   v->n_prefixes > 0, &failed);
		}
		ps->n = i + !ret;
		if (ret) {
			fs_fail(err, errlen, "cannot listen on UDP port %u of spread_ports=%u-%u: %s",
				port, v->ports.low, v->ports.high, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* Closes what ports_prepare opened; the device's sockets stay. */
static void ports_discard(struct port_sockets *ps)
{
	for (unsigned int i = 0; ps->fds && i < ps->n; ++i)
		if (!port_reused(ps, i))
			fs_socket_close_group(&ps->fds[i], 1);
	free(ps->fds);
	ps->fds = NULL;
}

/* Closes the device's port sockets and gives back the ports it reserved. */
static void ports_close(struct fs_device *dev)
{
	int ret;

	if (!dev->n_port_fds)
		return;
	ret = fs_ports_release(NULL, dev->port_fds_low,
			       (uint16_t)(dev->port_fds_low + dev->n_port_fds - 1), dev->ports_added);
	if (ret)
		fs_log_error("cannot release spread_ports %u-%u from net.ipv4.ip_local_reserved_ports: %s",
			     dev->port_fds_low, dev->port_fds_low + dev->n_port_fds - 1,
			     strerror(-ret));
	fs_socket_close_group(dev->port_fds, dev->n_port_fds);
	free(dev->port_fds);
	dev->port_fds = NULL;
	dev->n_port_fds = 0;
	memset(dev->ports_added, 0, sizeof(dev->ports_added));
}

/*
 * With the workers stopped: the new set replaces the old one (keeping the
 * sockets of the ports in both), and its range is reserved, so that no
 * ephemeral port of another program lands in it while it is ours.
 * Reserving is a courtesy to the rest of the host: if the sysctl cannot
 * be written, the sockets work anyway.
 */
static void ports_commit(struct fs_device *dev, struct port_sockets *ps)
{
	int ret;

	for (unsigned int i = 0; i < ps->n; ++i) {
		int old = port_reused(ps, i) ?
			  fs_port_index(dev->port_fds_low, dev->n_port_fds, (uint16_t)(ps->low + i)) : -1;

		if (old >= 0)
			dev->port_fds[old] = -1;	/* now the new set's */
	}
	ports_close(dev);
	if (!ps->n)
		return;
	dev->port_fds = ps->fds;
	dev->n_port_fds = ps->n;
	dev->port_fds_low = ps->low;
	ps->fds = NULL;
	ret = fs_ports_reserve(NULL, ps->low, (uint16_t)(ps->low + ps->n - 1), dev->ports_added);
	if (ret)
		fs_log_error("cannot reserve spread_ports %u-%u in net.ipv4.ip_local_reserved_ports: %s",
			     ps->low, ps->low + ps->n - 1, strerror(-ret));
}

/* ---- peers: everything a set may allocate, before the first change ----------- */

/* A peer's endpoint settings once cp is applied to them, as apply_peer does. */
static void endpoints_config_apply(struct fs_endpoints_config *ec, const struct fs_config_peer *cp)
{
	if (cp->has_endpoint) {
		ec->has_endpoint = true;
		ec->endpoint = cp->endpoint;
	}
	if (cp->has_endpoint_alt) {
		ec->n_endpoint_alt = cp->n_endpoint_alt;
		memcpy(ec->endpoint_alt, cp->endpoint_alt, sizeof(ec->endpoint_alt));
	}
	if (cp->has_spread_prefixes) {
		ec->n_spread_prefixes = cp->n_spread_prefixes;
		memcpy(ec->spread_prefixes, cp->spread_prefixes, sizeof(ec->spread_prefixes));
	}
}

/* Blocks that change the settings a peer's endpoint table is made for. */
static bool changes_endpoints(const struct fs_config_peer *cp)
{
	return cp->has_endpoint || cp->has_endpoint_alt || cp->has_spread_prefixes;
}

/* The one thing fs_allowedips_insert refuses but for memory: checked before any change. */
static bool allowed_ips_valid(const struct fs_config_peer *cp)
{
	for (size_t i = 0; i < cp->n_allowed_ips; ++i) {
		const struct fs_prefix *p = &cp->allowed_ips[i];

		if (!(p->family == AF_INET && p->cidr <= 32) &&
		    !(p->family == AF_INET6 && p->cidr <= 128))
			return false;
	}
	return true;
}

/*
 * What the commit of cp (request peer i of n), applied to a peer whose
 * endpoint settings are *ec (updated here; read only if cp creates the
 * peer or changes them), takes: the peer, if cp creates it (identity not
 * NULL), with its endpoint table made for them; else a table for them, if
 * cp changes them; room for its spread settings, if cp changes them.
 */
static int peer_plan_prepare(struct fs_device *dev, const struct fs_noise_identity *identity,
			     const struct fs_config_peer *cp, size_t i, size_t n,
			     struct fs_endpoints_config *ec, struct peer_plan *pp,
			     char *err, size_t errlen)
{
	if (!allowed_ips_valid(cp))
		return fs_fail(err, errlen, "peer %zu of %zu: an allowed_ip is not IPv4/0-32 or IPv6/0-128",
			       i + 1, n), -EINVAL;
	if (identity || changes_endpoints(cp))
		endpoints_config_apply(ec, cp);
	if (identity) {
		pp->ready = fs_peer_new(dev, cp->public_key, identity, ec);
		if (!pp->ready)
			goto fail;
	} else if (changes_endpoints(cp)) {
		pp->endpoints = fs_endpoints_alloc(ec);
		if (!pp->endpoints)
			goto fail;
	}
	if (cp->has_spread_prefixes || cp->has_spread_ports) {
		pp->spread = fs_spread_settings_alloc();
		if (!pp->spread)
			goto fail;
	}
	return 0;
fail:
	if (errno == ENOMEM)
		return fs_fail(err, errlen, "out of memory for peer %zu of %zu", i + 1, n), -ENOMEM;
	return fs_fail(err, errlen, "peer %zu of %zu: its endpoints cannot be set up: %s",
		       i + 1, n, strerror(errno)), -errno;
}

/*
 * Plays the request's peers (refs: keys_sort) in order, per public key:
 * plans[i] gets what request peer i will take in the commit
 * (peer_plan_prepare) and the peer its key names when it comes (the one
 * found here, or the one an earlier request peer of the key creates).
 * The allowed IPs they will insert are reserved too; *final gets how many
 * peers the device will have. On failure what was made stays in plans,
 * for peers_discard.
 */
static int peers_prepare(struct fs_device *dev, const struct fs_config *cfg,
			 const struct key_ref *refs, const struct fs_noise_identity *identity,
			 struct peer_plan *plans, size_t *final_out, char *err, size_t errlen)
{
	size_t n = cfg->n_peers, final = cfg->replace_peers ? 0 : dev->n_peers, inserts = 0;
	/* New peers' tables take the limit the request leaves the device with. */
	uint32_t limit = cfg->has_endpoint_limit ? cfg->endpoint_limit : dev->endpoint_limit;
	uint8_t own_key[WG_KEY_LEN];
	const uint8_t *own = own_key_after(dev, cfg, own_key) ? own_key : NULL;
	size_t made = 0;
	int ret;

	for (size_t g = 0; g < n;) {
		const struct fs_config_peer *first = &cfg->peers[refs[g].i];
		struct fs_peer *peer = cfg->replace_peers ? NULL :
				       fs_device_lookup_peer(dev, first->public_key);
		struct fs_peer *named = peer;	/* the peer the key names, as the commit goes */
		bool exists = peer, ours = is_own_key(first->public_key, own), has_ec = false;
		struct fs_endpoints_config ec;	/* the peer's endpoint settings, once needed */
		size_t end = g;

		while (end < n && !memcmp(refs[end].key, first->public_key, WG_KEY_LEN))
			++end;
		for (; g < end && !ours; ++g) {
			const struct fs_config_peer *cp = &cfg->peers[refs[g].i];

			plans[refs[g].i].peer = exists ? named : NULL;
			if (cp->remove) {
				final -= exists;
				exists = false;
				continue;
			}
			if (!exists && cp->update_only)
				continue;
			if (!exists) {	/* a new peer, from no settings */
				memset(&ec, 0, sizeof(ec));
				ec.endpoint_limit = limit;
				has_ec = true;
			} else if (!has_ec && changes_endpoints(cp)) {
				fs_peer_endpoints_config(peer, &ec, limit);
				has_ec = true;
			}
			ret = peer_plan_prepare(dev, exists ? NULL : identity, cp, refs[g].i, n, &ec,
						&plans[refs[g].i], err, errlen);
			if (ret)
				return ret;
			if (!exists)
				named = plans[refs[g].i].ready;
			final += !exists;
			/*
			 * A new peer costs a scalar multiplication: let queued
			 * handshakes through now and then. They cannot undo
			 * what was worked out so far: they add and remove no
			 * peer (so "peer", "named", "exists" and "final" stay
			 * true), change no key (the identity the ready peers
			 * were made with, "own"), no allowed IP, endpoint or
			 * spread setting (check_spreading's verdict, "ec"), and
			 * cannot reach what the plans hold, linked nowhere.
			 */
			if (!exists && ++made % FS_YIELD_PEERS == 0)
				fs_device_yield(dev);
			exists = true;
			inserts += cp->n_allowed_ips;
		}
		g = end;
	}
	if (final > WG_MAX_PEERS_PER_DEVICE)
		return fs_fail(err, errlen, "%zu peers: at most %u", final,
			       WG_MAX_PEERS_PER_DEVICE), -ENOSPC;
	if (fs_allowedips_reserve(dev->allowedips, inserts))
		return fs_fail(err, errlen, "out of memory for %zu allowed IPs", inserts), -ENOMEM;
	*final_out = final;
	return 0;
}

static void peers_discard(struct fs_device *dev, struct peer_plan *plans, size_t n)
{
	for (size_t i = 0; plans && i < n; ++i) {
		fs_peer_discard(plans[i].ready);
		fs_endpoints_free(plans[i].endpoints);
		free(plans[i].spread);	/* never published */
	}
	fs_allowedips_unreserve(dev->allowedips);
}

/*
 * A new endpoint_limit: a table for each peer that stays (not with
 * replace_peers, nor the one with our new public key), for its settings
 * and the new limit, in list order.
 */
static int limits_prepare(struct fs_device *dev, const struct fs_config *cfg,
			  struct limit_table **limits, size_t *n, char *err, size_t errlen)
{
	uint8_t own_key[WG_KEY_LEN];
	const uint8_t *own;
	struct fs_peer *peer;

	if (!cfg->has_endpoint_limit || cfg->endpoint_limit == dev->endpoint_limit ||
	    cfg->replace_peers)
		return 0;
	own = own_key_after(dev, cfg, own_key) ? own_key : NULL;
	*limits = malloc(dev->n_peers * sizeof(**limits) + 1);
	if (!*limits)
		return fs_fail(err, errlen, "endpoint_limit=%u: out of memory for %zu peers",
			       cfg->endpoint_limit, dev->n_peers), -ENOMEM;
	cds_list_for_each_entry(peer, &dev->peers, list) {
		const uint8_t *key = peer->noise->handshake.remote_static;
		struct fs_endpoints_config ec;
		struct fs_endpoints *table;
		char name[KEY_B64_LEN];

		if (is_own_key(key, own))
			continue;	/* set_private_key removes it */
		fs_peer_endpoints_config(peer, &ec, cfg->endpoint_limit);
		table = fs_endpoints_alloc(&ec);
		if (!table)
			return fs_fail(err, errlen, "endpoint_limit=%u: out of memory for the endpoint table of peer %s",
				       cfg->endpoint_limit, peer_name(name, key)), -ENOMEM;
		(*limits)[(*n)++] = (struct limit_table){ peer, table };
	}
	return 0;
}

static void limits_discard(struct limit_table *limits, size_t n)
{
	for (size_t k = 0; limits && k < n; ++k)
		fs_endpoints_free(limits[k].table);
	free(limits);
}

/* ---- applying a set: prepare, then commit or abort -------------------------- */

/* What a set acquires before the first change; abort gives it all back. */
struct apply_plan {
	struct key_ref *refs;		/* the request's peers by key (keys_sort) */
	struct peer_plan *peers;	/* per request peer: what its commit takes */
	struct fs_peer **peer_hash;	/* the peer table for the final count, NULL if big enough */
	unsigned int peer_hash_bits;
	struct fs_noise_identity *identity;	/* a new private key's, for ready peers */
	struct limit_table *limits;	/* a new endpoint_limit: the peers' new tables */
	size_t n_limits;
	struct fs_spread_settings *spread;	/* the device's, when they change */
	int new_fds[FS_MAX_WORKERS];
	bool rebind;
	uint16_t bound;
	struct port_sockets ports;
	struct fs_guard guards[FS_MAX_PREFIXES];
	size_t n_guards;		/* handled by guards_prepare */
	bool marked;			/* the device's sockets carry the new mark */
};

static int marks_set(struct fs_device *dev, const struct apply_plan *plan, uint32_t fwmark)
{
	int ret = 0;

	if (!plan->rebind)
		ret = fs_socket_set_mark(dev->udp_fds, dev->n_workers, fwmark);
	if (!ret && plan->ports.change && plan->ports.n)
		ret = fs_socket_set_mark(plan->ports.fds, plan->ports.n, fwmark);
	else if (!ret && !plan->ports.change && dev->n_port_fds)
		ret = fs_socket_set_mark(dev->port_fds, dev->n_port_fds, fwmark);
	return ret;
}

/* What the plan still holds once the commit took what it used, or after an abort. */
static void plan_free(struct fs_device *dev, const struct fs_config *cfg,
		      struct apply_plan *plan)
{
	free(plan->spread);	/* never published */
	free(plan->peer_hash);	/* never installed */
	limits_discard(plan->limits, plan->n_limits);
	peers_discard(dev, plan->peers, cfg->n_peers);
	free(plan->peers);
	free(plan->refs);
	fs_noise_identity_free(plan->identity);
}

/* The one way back, whatever step failed: the device is as it was. */
static void apply_abort(struct fs_device *dev, const struct fs_config *cfg,
			struct apply_plan *plan)
{
	if (plan->marked)
		marks_set(dev, plan, dev->fwmark);
	guards_abort(dev, plan->guards, plan->n_guards);
	ports_discard(&plan->ports);
	if (plan->rebind)
		fs_socket_close_group(plan->new_fds, dev->n_workers);
	plan_free(dev, cfg, plan);
}

/* The device's spreading settings are published again when a key of them is given. */
static bool spread_changes(const struct fs_device *dev, const struct fs_config *cfg)
{
	return cfg->has_spread_prefixes || cfg->has_spread_mode || cfg->has_spread_pairs ||
	       cfg->has_spread_ports || !dev->spread;
}

/* Everything that can fail, in the order it is undone backwards. */
static int apply_prepare(struct fs_device *dev, const struct fs_config *cfg,
			 const struct spread_view *view, struct apply_plan *plan,
			 char *err, size_t errlen)
{
	uint32_t fwmark = cfg->has_fwmark ? cfg->fwmark : dev->fwmark;
	size_t final;
	int ret;

	if (cfg->has_private_key) {
		plan->identity = fs_noise_identity_new();
		if (!plan->identity)
			return fs_fail(err, errlen, "out of memory for the private key"), -ENOMEM;
		if (!fs_noise_identity_set_private(plan->identity, cfg->private_key))
			return fs_fail(err, errlen, "private_key: its public key is degenerate"), -EINVAL;
	}
	plan->peers = cfg->n_peers ? calloc(cfg->n_peers, sizeof(*plan->peers)) : NULL;
	if (cfg->n_peers && !plan->peers)
		return fs_fail(err, errlen, "out of memory for %zu peers", cfg->n_peers), -ENOMEM;
	ret = peers_prepare(dev, cfg, plan->refs, plan->identity ? plan->identity : dev->identity,
			    plan->peers, &final, err, errlen);
	if (ret)
		return ret;
	/* Sized once here: the commit only moves the peers in, without allocating. */
	if (fs_peer_hash_alloc(dev, final, &plan->peer_hash, &plan->peer_hash_bits))
		return fs_fail(err, errlen, "out of memory for a table of %zu peers", final), -ENOMEM;
	ret = limits_prepare(dev, cfg, &plan->limits, &plan->n_limits, err, errlen);
	if (ret)
		return ret;
	if (spread_changes(dev, cfg)) {
		plan->spread = fs_spread_settings_alloc();
		if (!plan->spread)
			return fs_fail(err, errlen, "out of memory for the spreading settings"), -ENOMEM;
	}

	/* A new port (or back to a random one) needs new sockets. */
	if (cfg->has_listen_port && dev->running && cfg->listen_port != dev->listen_port &&
	    (cfg->listen_port || dev->configured_port)) {
		ret = fs_socket_open_group(plan->new_fds, dev->n_workers, cfg->listen_port, fwmark,
					   &plan->bound);
		if (ret)
			return fs_fail(err, errlen, "cannot listen on UDP port %u: %s",
				       cfg->listen_port, strerror(-ret)), ret;
		plan->rebind = true;
	}

	/* Ports mode: a socket for each port of the range. */
	ret = ports_prepare(dev, view, fwmark, &plan->ports, err, errlen);
	if (ret)
		return ret;

	/* The guards of the local prefixes, for the port we will listen on. */
	ret = guards_prepare(dev, view, plan->rebind ? plan->bound : dev->listen_port,
			     plan->guards, &plan->n_guards, err, errlen);
	if (ret)
		return ret;

	/* The mark must take on every socket. */
	if (cfg->has_fwmark && cfg->fwmark != dev->fwmark && dev->udp_fds[0] >= 0) {
		plan->marked = true;
		ret = marks_set(dev, plan, cfg->fwmark);
		if (ret)
			return fs_fail(err, errlen, "cannot set fwmark %u: %s", cfg->fwmark,
				       strerror(-ret)), ret;
	}
	return 0;
}

/*
 * A set is applied whole or not at all: apply_prepare acquires everything
 * that can fail (the new peers with their key material and endpoint
 * tables, a new endpoint table for each peer whose endpoint settings or
 * endpoint_limit change and new spread settings for each whose spread
 * settings change, the allowed IPs they insert, sockets, guards, the
 * mark) and on any failure apply_abort gives it all back, so the device
 * is as it was. The commit under dev->lock cannot fail: it fills what
 * prepare allocated (an endpoint table from the peer's table as it is
 * then) and swaps it in. What can still fail after it is restarting the
 * workers after a port change.
 */
int fs_device_apply(struct fs_device *dev, struct fs_config *cfg, char *err, size_t errlen)
{
	struct apply_plan plan = { 0 };
	struct fs_peer **old_hash;
	struct spread_view view;
	uint8_t own[WG_KEY_LEN];
	bool restart, has_own;
	uint64_t now = fs_clock_now();
	int ret = 0;

	err[0] = '\0';
	plan.refs = keys_sort(cfg);
	if (!plan.refs)
		return fs_fail(err, errlen, "out of memory for %zu peers", cfg->n_peers), -ENOMEM;
	spread_view(&view, dev, cfg);
	ret = check_spreading(dev, cfg, plan.refs, &view, err, errlen);
	if (!ret)
		ret = apply_prepare(dev, cfg, &view, &plan, err, errlen);
	if (ret) {
		apply_abort(dev, cfg, &plan);
		return ret;
	}

	/* Workers own the sockets they receive on: stop them, swap, start again. */
	restart = (plan.rebind || plan.ports.change) && dev->running;
	if (restart)
		fs_device_stop(dev);
	if (plan.rebind) {
		fs_socket_close_group(dev->udp_fds, dev->n_workers);
		memcpy(dev->udp_fds, plan.new_fds, sizeof(int) * dev->n_workers);
		dev->listen_port = plan.bound;
	}
	if (plan.ports.change)
		ports_commit(dev, &plan.ports);

	pthread_mutex_lock(&dev->lock);
	guards_commit(dev, plan.guards, view.n_prefixes);
	if (cfg->has_listen_port)
		dev->configured_port = cfg->listen_port;
	if (cfg->has_private_key)
		set_private_key(dev, cfg->private_key);	/* checked in apply_prepare */
	if (cfg->has_fwmark)
		dev->fwmark = cfg->fwmark;
	apply_extensions(dev, cfg, plan.limits, plan.n_limits, plan.spread, now);
	plan.spread = NULL;
	if (cfg->replace_peers) {
		struct fs_peer *peer, *tmp;

		cds_list_for_each_entry_safe(peer, tmp, &dev->peers, list)
			fs_peer_remove(peer);
	}
	old_hash = fs_peer_hash_install(dev, plan.peer_hash, plan.peer_hash_bits);
	plan.peer_hash = NULL;
	has_own = own_key_after(dev, cfg, own);
	for (size_t i = 0; i < cfg->n_peers; ++i)
		apply_peer(dev, &cfg->peers[i], &plan.peers[i], has_own ? own : NULL, now);
	plan_free(dev, cfg, &plan);	/* the spare allowed-IPs nodes, the plan's arrays */
	pthread_mutex_unlock(&dev->lock);
	free(old_hash);		/* nothing reads it now */
	if (restart) {
		int started;

		sync_freebind(dev);
		started = start_workers(dev);

		if (started) {
			snprintf(err, errlen, "restarting the workers: %s", strerror(-started));
			ret = started;
		}
	}
	return ret;
}
