/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's device: one TUN interface, its peers, sockets and workers.
 *
 * Threads and what they may touch:
 *   - the control thread (main.c's loop) owns configuration, handshakes,
 *     timers and the UAPI. It holds device->lock while it changes peers,
 *     keypairs, the index table or allowed IPs.
 *   - worker threads (worker.c) move data packets. They read peers,
 *     keypairs, indices and allowed IPs inside an RCU read-side section
 *     (liburcu memb) and take no lock per packet. They take device->lock
 *     only to confirm a responder's new keypair, once per session.
 *   - workers hand handshake messages to the control thread through a
 *     bounded queue and ask it for work (a handshake, a keepalive, staged
 *     packets) by arming a timer "now" on the peer.
 * Peers are freed after an RCU grace period; keypairs likewise.
 */
#ifndef FLOWSPREAD_DEVICE_H
#define FLOWSPREAD_DEVICE_H

#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <urcu/urcu-memb.h>
#include <urcu/list.h>
#include <urcu/pointer.h>
#include "addr.h"
#include "config.h"
#include "cookie.h"
#include "index.h"
#include "messages.h"
#include "netlink.h"
#include "noise.h"
#include "spread.h"
#include "spreadpath.h"

struct fs_allowedips;
struct fs_ratelimiter;
struct fs_worker;
struct fs_endpoints;
struct fs_endpoints_config;

enum {
	FS_DEFAULT_MTU = 1420,
	FS_PACKET_BUFFER = 4096,	/* largest datagram or inner packet handled */
	FS_PEER_HASH_BITS_MIN = 10,	/* the peer table doubles as peers arrive */
	FS_PEER_HASH_BITS_MAX = 20,
	FS_HANDSHAKE_QUEUE_LEN = WG_MAX_QUEUED_INCOMING_HANDSHAKES,
	FS_MAX_WORKERS = 64,
	FS_STALE_SOURCES = 8,
	FS_YIELD_PEERS = FS_CONFIG_YIELD_PEERS,	/* a long UAPI operation lets handshakes through this often */
};

enum fs_timer {
	FS_TIMER_RETRANSMIT_HANDSHAKE,
	FS_TIMER_SEND_KEEPALIVE,
	FS_TIMER_NEW_HANDSHAKE,
	FS_TIMER_ZERO_KEY_MATERIAL,
	FS_TIMER_PERSISTENT_KEEPALIVE,
	/* requests from the datapath, armed "now" */
	FS_TIMER_WANT_HANDSHAKE,
	FS_TIMER_WANT_KEEPALIVE,
	FS_TIMER_WANT_STAGED,
	FS_TIMER_SPREAD_PATH,		/* the return path through our spread sources: a check or a probe */
	FS_TIMER_COUNT,
};

/* Where to reach a peer, and from which local address (sticky source). */
struct fs_endpoint {
	union fs_sockaddr addr;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} src;
	int src_ifindex;
	bool has_src;
	uint8_t via;			/* received: FS_VIA_* (not compared, not kept) */
};

/* How a received packet reached us: through one of our spread addresses or ports. */
enum {
	FS_VIA_SPREAD_ADDRESS = 1 << FS_SPREADPATH_ADDRESSES,
	FS_VIA_SPREAD_PORT = 1 << FS_SPREADPATH_PORTS,
};

/* Same peer address and same remembered local source. */
static inline bool fs_endpoint_same(const struct fs_endpoint *a, const struct fs_endpoint *b)
{
	return fs_endpoint_equal(&a->addr, &b->addr) && a->has_src == b->has_src &&
	       (!a->has_src || !memcmp(&a->src, &b->src, sizeof(a->src)));
}

struct fs_staged_packet {
	uint16_t len;
	uint8_t data[];
};

struct fs_peer {
	struct fs_device *device;
	struct fs_noise_peer *noise;
	struct cds_list_head list;		/* device->peers */
	struct fs_peer *hash_next;		/* device->peer_hash */
	uint64_t serial;			/* creation order, for logs */

	/* Seqlock: writers hold endpoint_lock, readers retry on change. */
	struct fs_endpoint endpoint;
	bool has_endpoint;
	uint32_t endpoint_seq;
	bool endpoint_lock;

	uint64_t rx_bytes, tx_bytes;		/* atomic */
	uint64_t last_handshake_sec;		/* wall clock; atomic */
	uint64_t last_handshake_nsec;
	uint16_t persistent_keepalive;		/* seconds; atomic */

	uint64_t timers[FS_TIMER_COUNT];	/* deadline (boottime ns), 0 = idle; atomic */
	uint64_t last_sent_handshake;		/* atomic */
	unsigned int handshake_attempts;	/* control thread */
	bool need_another_keepalive;		/* atomic */
	bool sent_lastminute_handshake;		/* atomic */
	bool is_dead;				/* atomic */

	pthread_mutex_t staged_lock;
	struct fs_staged_packet *staged[WG_MAX_STAGED_PACKETS];
	unsigned int staged_head, staged_count;

	/*
	 * The bounded endpoint table (endpoint.h), under endpoints_lock. The
	 * datapath reads only "endpoint" above; the table decides what goes
	 * there, and where handshakes go.
	 */
	pthread_mutex_t endpoints_lock;
	struct fs_endpoints *endpoints;
	uint64_t last_learn;			/* atomic: last learn() of the current source */
	bool endpoint_unlearned;		/* atomic: "endpoint" moved, the table not yet */
	uint8_t spread_role;			/* atomic: enum fs_spread_role, by the static keys */
	/*
	 * The peer's end of the pairs: its spread_prefix and spread_ports as
	 * the datapath reads them (RCU), and when an authenticated packet last
	 * came from inside them: destination spreading is used only while
	 * that is recent (docs/spreading.md).
	 */
	struct fs_spread_settings *remote_spread;
	uint64_t seen_in_prefix, seen_in_ports;	/* atomic, boottime ns */
	/*
	 * Whether the peer answers us through our spread addresses and ports
	 * (spreadpath.h), per kind: when an authenticated packet last came in
	 * through them, and through anything else, and when we last sent data
	 * from them (workers, atomic, boottime ns, 0 never); when the datapath
	 * next asks the control thread to look (atomic); the state, under the
	 * control thread.
	 */
	uint64_t path_proven[FS_SPREADPATH_KINDS], path_plain[FS_SPREADPATH_KINDS];
	uint64_t path_used[FS_SPREADPATH_KINDS];
	uint64_t path_next_check[FS_SPREADPATH_KINDS];
	struct fs_spreadpath path[FS_SPREADPATH_KINDS];
	bool has_configured_endpoint;
	union fs_sockaddr configured_endpoint;

	/* extension keys (alternates act through the endpoint table) */
	size_t n_endpoint_alt;
	union fs_sockaddr endpoint_alt[FS_MAX_ENDPOINT_ALT];
	size_t n_spread_prefixes;
	struct fs_prefix spread_prefixes[FS_MAX_PREFIXES];
	bool has_spread_ports;
	struct fs_port_range spread_ports;

	struct rcu_head rcu;
};

/*
 * One end's spreading settings as the datapath reads them, replaced whole
 * (RCU): the device's own (dev->spread), or a peer's end (peer->remote_spread:
 * mode and pairs unused).
 */
struct fs_spread_settings {
	struct rcu_head rcu;
	enum fs_spread_mode mode;	/* resolved: never FS_SPREAD_DEFAULT */
	uint32_t pairs;
	size_t n_v4, n_v6;		/* prefixes, by family */
	struct fs_prefix v4[FS_MAX_PREFIXES], v6[FS_MAX_PREFIXES];
	bool has_ports;
	struct fs_port_range ports;
};

struct fs_handshake_item {
	union fs_sockaddr src;
	struct fs_endpoint local;		/* the address it arrived on */
	uint16_t len;
	uint8_t msg[sizeof(struct wg_message_handshake_initiation)] __attribute__((aligned(8)));
};

/* Counters of what the datapath dropped, by reason; atomic. */
struct fs_drop_stats {
	uint64_t malformed;		/* wrong length or type, bad inner header */
	uint64_t unknown_index;		/* no keypair with that receiver index */
	uint64_t bad_mac;		/* decryption failed */
	uint64_t replayed;		/* replay window refused */
	uint64_t expired_key;		/* keypair too old or exhausted */
	uint64_t source_not_allowed;	/* inner source outside the peer's allowed IPs */
	uint64_t no_route;		/* no peer for the inner destination */
	uint64_t no_endpoint;		/* peer has no endpoint */
	uint64_t handshake_queue_full;
	uint64_t handshake_invalid;	/* failed mac1, decryption, timestamp or flood checks */
	uint64_t ratelimited;
	uint64_t truncated;		/* larger than FS_PACKET_BUFFER */
	uint64_t send_errors;
};

struct fs_device {
	char ifname[IFNAMSIZ];
	int ifindex;
	unsigned int mtu;

	pthread_mutex_t lock;
	struct fs_noise_identity *identity;
	struct fs_cookie_checker *cookie_checker;	/* secure pool (secmem.h) */
	struct fs_index_table *index;
	struct fs_allowedips *allowedips;
	struct fs_ratelimiter *ratelimiter;
	struct cds_list_head peers;
	struct fs_peer **peer_hash;		/* 1 << peer_hash_bits chains, under lock */
	unsigned int peer_hash_bits;
	size_t n_peers;
	uint64_t next_peer_serial;

	uint16_t listen_port;		/* the bound port, 0 if not bound */
	uint16_t configured_port;
	uint32_t fwmark;

	/* extension keys, stored and shown (behaviour arrives with issues 4 and 5) */
	size_t n_spread_prefixes;
	struct fs_prefix spread_prefixes[FS_MAX_PREFIXES];
	enum fs_spread_mode spread_mode;
	bool has_spread_ports;
	struct fs_port_range spread_ports;
	uint32_t spread_pairs;
	uint32_t endpoint_limit;
	enum fs_steer_mode steer;
	uint16_t steer_qdisc_major;
	/*
	 * What the datapath needs of the spreading settings, replaced whole
	 * (RCU) when they change: workers read it without locks.
	 */
	struct fs_spread_settings *spread;
	/* The guard of each local spread prefix (netlink.h), under lock. */
	struct fs_guard guards[FS_MAX_PREFIXES];
	size_t n_guards;

	/* workers: each has a TUN queue and a UDP socket */
	unsigned int n_workers;
	struct fs_worker *workers[FS_MAX_WORKERS];
	int tun_fds[FS_MAX_WORKERS];
	unsigned int n_tun_fds;
	bool vnet_hdr;			/* TUN packets carry a virtio_net_hdr (offloads) */
	int udp_fds[FS_MAX_WORKERS];
	/*
	 * Ports mode: one socket per port of spread_ports (port_fds_low + i),
	 * replaced only while the workers are stopped; the range reserved in
	 * ip_local_reserved_ports, ports_added[] saying which ports we added.
	 */
	int *port_fds;			/* fs_port_index(port_fds_low, n_port_fds, port) */
	unsigned int n_port_fds;
	uint16_t port_fds_low;
	uint8_t ports_added[FS_SPREAD_PORTS_MAX / 8];
	bool running;

	/* handshakes from workers to the control thread */
	pthread_mutex_t handshake_lock;
	struct fs_handshake_item *handshake_queue;
	unsigned int handshake_head, handshake_count;
	uint64_t last_under_load;
	struct fs_endpoint stale_sources[FS_STALE_SOURCES];	/* under handshake_lock */
	unsigned int n_stale_sources;

	/* the control thread's wake-ups */
	int kick_fd;			/* eventfd */
	uint64_t next_wake;		/* atomic: earliest armed deadline */
	bool tun_gone;			/* atomic: a worker saw the TUN device go away */

	struct fs_drop_stats drops;
};

/* Index of port in the n ports from low, or -1 (port 0 is never one of them). */
static inline int fs_port_index(uint16_t low, unsigned int n, uint16_t port)
{
	return port && port >= low && (unsigned int)(port - low) < n ? port - low : -1;
}

/* device.c */
int fs_device_init(struct fs_device *dev, const char *ifname, unsigned int n_workers);
void fs_device_destroy(struct fs_device *dev);
int fs_device_start(struct fs_device *dev);
void fs_device_stop(struct fs_device *dev);
int fs_device_apply(struct fs_device *dev, struct fs_config *cfg, char *err, size_t errlen);
struct fs_peer *fs_device_lookup_peer(struct fs_device *dev, const uint8_t public_key[WG_KEY_LEN]);
void fs_device_kick(struct fs_device *dev);
bool fs_device_under_load(struct fs_device *dev, uint64_t now);
void fs_device_process_handshakes(struct fs_device *dev);
bool fs_device_queue_handshake(struct fs_device *dev, const struct fs_handshake_item *item);
void fs_device_report_stale_source(struct fs_device *dev, const struct fs_endpoint *endpoint);
void fs_device_process_stale_sources(struct fs_device *dev);
/*
 * Control thread, without dev->lock, in a long UAPI operation (every
 * FS_YIELD_PEERS peers): answers the queued handshakes and stale-source
 * reports. It adds or removes no peer and changes no configuration.
 */
void fs_device_yield(struct fs_device *dev);

/* peer.c */
/*
 * Allocated, in no table (no lock needed), its secrets computed with
 * identity and its endpoint table made for endpoints (the endpoint
 * settings of the request that creates it, with the endpoint_limit the
 * device will have once the request is applied); fs_peer_link adds it to
 * the device with the device's identity (lock held, cannot fail).
 */
struct fs_peer *fs_peer_new(struct fs_device *dev, const uint8_t public_key[WG_KEY_LEN],
			    const struct fs_noise_identity *identity,
			    const struct fs_endpoints_config *endpoints);
void fs_peer_link(struct fs_peer *peer);
/* Frees a peer that fs_peer_new made and nothing linked. */
void fs_peer_discard(struct fs_peer *peer);
/*
 * A set's peer table, sized in its prepare (no lock) for the n peers the
 * device holds once it is applied: into *table 1 << *bits empty chains,
 * the size fs_peer_link's doubling would reach, never fewer than now;
 * *table NULL when the present table is big enough. 0, or -ENOMEM.
 */
int fs_peer_hash_alloc(const struct fs_device *dev, size_t n, struct fs_peer ***table,
		       unsigned int *bits);
/*
 * Lock held: moves the device's peers into table (fs_peer_hash_alloc;
 * NULL for none) without allocating, if it is bigger than the present
 * one. Returns what the caller frees, after unlocking: the old table, or
 * table itself when it was not taken.
 */
struct fs_peer **fs_peer_hash_install(struct fs_device *dev, struct fs_peer **table,
				      unsigned int bits);
struct fs_peer *fs_peer_create(struct fs_device *dev, const uint8_t public_key[WG_KEY_LEN]);
void fs_peer_remove(struct fs_peer *peer);
void fs_peer_get_endpoint(struct fs_peer *peer, struct fs_endpoint *out, bool *has);
void fs_peer_set_endpoint(struct fs_peer *peer, const struct fs_endpoint *endpoint);
/* An authenticated packet came from "from": roaming through the endpoint table. */
void fs_peer_learn_endpoint(struct fs_peer *peer, const struct fs_endpoint *from, uint64_t now);
/* Our initiation's response came from "from": confirms the entry it went through. */
void fs_peer_handshake_complete(struct fs_peer *peer, const struct fs_endpoint *from,
				uint64_t now);
/* Where the next initiation goes (failover order); false if nowhere. */
bool fs_peer_handshake_target(struct fs_peer *peer, struct fs_endpoint *out, uint64_t now);
void fs_peer_handshake_timeout(struct fs_peer *peer, uint64_t now);
/* The endpoint table configuration of the peer's settings, with limit learned slots. */
void fs_peer_endpoints_config(const struct fs_peer *peer, struct fs_endpoints_config *config,
			      uint32_t limit);
/*
 * Control thread, dev->lock held: the endpoint table rebuilt from the
 * peer's settings into table (fs_endpoints_alloc'd for them and the
 * device's endpoint_limit), which replaces it; use_endpoint as in
 * endpoint.h. Cannot fail.
 */
void fs_peer_replace_endpoints(struct fs_peer *peer, struct fs_endpoints *table,
			       bool use_endpoint, uint64_t now);
void fs_peer_clear_endpoint_src(struct fs_peer *peer);
bool fs_peer_stage_packet(struct fs_peer *peer, const void *packet, size_t len);
void fs_peer_purge_staged(struct fs_peer *peer);
void fs_peer_log_name(const struct fs_peer *peer, char *out, size_t outlen);
/* Recomputes the spread role (which end of each pair is ours); control thread. */
void fs_peer_update_role(struct fs_peer *peer);
/* After fs_noise_begin_session: gives the new keypair its spread key. */
void fs_peer_session_began(struct fs_peer *peer);
/*
 * Worker, RCU read side: the outer pair of the flow of this inner packet.
 * On entry *endpoint is the peer's current endpoint; the pair replaces its
 * source address (addresses, both), its destination address and port
 * (destination spreading, while the peer is seen inside its prefixes or
 * ports), and *local_port is the source port to send from (ports, both;
 * 0: the listen socket). False when nothing is spread.
 */
/*
 * The last pair a worker derived, for the next packet of the same flow (a
 * TSO burst is tens of them): valid within one RCU read-side section,
 * since the pointers it compares cannot be reused before it ends. Clear
 * it (valid = false) when a section begins.
 */
struct fs_spread_memo {
	bool valid;
	uint8_t use;			/* which ranges took part */
	int family;
	const void *keypair, *mine, *theirs;
	struct fs_flowkey flow;
	struct fs_spread_pair pair;
};
bool fs_peer_spread(struct fs_peer *peer, const struct fs_noise_keypair *keypair,
		    const uint8_t *packet, size_t len, uint64_t now,
		    struct fs_endpoint *endpoint, uint16_t *local_port,
		    struct fs_spread_memo *memo);
/*
 * Control thread, dev->lock held: brings the return paths up to date
 * (logging a failure), and sends a probe if one is due and may_probe.
 */
void fs_peer_spread_check(struct fs_peer *peer, bool may_probe, uint64_t now);
/*
 * Control thread: an initiation is about to go to *target; while a path
 * is unproven and a probe is due, it goes from a spread source instead:
 * target's source address changed, and the port to send from returned
 * (0: the listen socket).
 */
uint16_t fs_peer_probe_source(struct fs_peer *peer, struct fs_endpoint *target, uint64_t now);
/* Control thread: we spread and heard nothing back for KEEPALIVE + REKEY_TIMEOUT. */
void fs_peer_spread_revoke(struct fs_peer *peer, uint64_t now);
/* "KIND,STATE,AGE_MS,FAILURES,REASON" for get; false for a kind not spread. */
bool fs_peer_spread_state(struct fs_peer *peer, enum fs_spreadpath_kind kind, uint64_t now,
			  char out[FS_SPREADPATH_STATE_STRLEN + 16]);
/*
 * Control thread, dev->lock held: publishes the peer's spread_prefix and
 * spread_ports in s (fs_spread_settings_alloc'd, taken; freed if the peer
 * has neither). Cannot fail.
 */
void fs_peer_publish_spread(struct fs_peer *peer, struct fs_spread_settings *s);
/* Room for a snapshot of prefixes and ports (NULL without memory), then its contents. */
struct fs_spread_settings *fs_spread_settings_alloc(void);
void fs_spread_settings_fill(struct fs_spread_settings *s, const struct fs_prefix *prefixes,
			     size_t n, bool has_ports, const struct fs_port_range *ports);
/* Control thread: s (may be NULL) replaces *slot; the old one is freed after a grace period. */
void fs_spread_settings_publish(struct fs_spread_settings **slot, struct fs_spread_settings *s);
/* Whether addr (of family) lies in one of the snapshot's prefixes. */
bool fs_spread_settings_contains(const struct fs_spread_settings *s, int family,
				 const void *addr);
/* Worker, RCU read side: whether a local address is one of our spread prefixes. */
bool fs_device_is_spread_address(struct fs_device *dev, const struct fs_endpoint *endpoint);

/* timers.c — following the kernel driver's timers.c */
void fs_timers_init(struct fs_peer *peer);
void fs_timers_stop(struct fs_peer *peer);
void fs_timer_mod(struct fs_peer *peer, enum fs_timer timer, uint64_t deadline);
void fs_timer_del(struct fs_peer *peer, enum fs_timer timer);
bool fs_timer_pending(struct fs_peer *peer, enum fs_timer timer);
void fs_timers_data_sent(struct fs_peer *peer, uint64_t now);
void fs_timers_data_received(struct fs_peer *peer, uint64_t now);
void fs_timers_any_authenticated_packet_sent(struct fs_peer *peer);
void fs_timers_any_authenticated_packet_received(struct fs_peer *peer);
void fs_timers_handshake_initiated(struct fs_peer *peer, uint64_t now);
void fs_timers_handshake_complete(struct fs_peer *peer);
void fs_timers_session_derived(struct fs_peer *peer, uint64_t now);
void fs_timers_any_authenticated_packet_traversal(struct fs_peer *peer, uint64_t now);
/* Runs what is due and returns the next deadline (UINT64_MAX: none). Control thread. */
uint64_t fs_timers_run(struct fs_device *dev, uint64_t now);

/* send.c */
void fs_send_handshake_initiation(struct fs_peer *peer, bool is_retry, uint64_t now);
void fs_send_queued_handshake_initiation(struct fs_peer *peer, bool is_retry, uint64_t now);
void fs_send_handshake_response(struct fs_peer *peer, uint64_t now);
void fs_send_keepalive(struct fs_peer *peer, uint64_t now);
void fs_send_staged(struct fs_peer *peer, uint64_t now);
void fs_send_keep_key_fresh(struct fs_peer *peer, uint64_t now);
/*
 * Builds a msghdr for datagrams to the endpoint; cmsg needs
 * FS_SEND_CMSG_SPACE bytes. gso_size 0: one datagram; otherwise the
 * buffer is cut into datagrams of gso_size bytes (UDP_SEGMENT).
 */
#define FS_SEND_CMSG_SPACE 64
void fs_send_prepare_msghdr(struct msghdr *msg, union fs_sockaddr *name, void *cmsg,
			    const struct fs_endpoint *endpoint, struct iovec *iov,
			    uint16_t gso_size);
int fs_send_datagram(struct fs_device *dev, const struct fs_endpoint *endpoint, const void *buf,
		     size_t len);
/*
 * Whether a send error may mean the remembered local address is gone:
 * EINVAL, or ENETUNREACH (what IP_PKTINFO with a deleted IPv4 address
 * gives on 6.x kernels).
 */
static inline bool fs_send_stale_source(int err)
{
	return err == -EINVAL || err == -ENETUNREACH;
}

/* receive.c */
void fs_receive_handshake(struct fs_device *dev, struct fs_handshake_item *item, uint64_t now);
/*
 * Decrypts a data message in place (worker, RCU read side). On success
 * returns the inner packet's length (0 for a keepalive) and its offset in
 * *inner; negative errno on drop (counted).
 */
ssize_t fs_receive_data(struct fs_device *dev, uint8_t *msg, size_t len,
			const struct fs_endpoint *from, uint8_t **inner, uint64_t now);

#endif
