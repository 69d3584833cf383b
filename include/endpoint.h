/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The bounded endpoint table of one peer (docs/spreading.md): where the peer
 * may be reached, what we know about each place, and which one to use. A
 * pure data structure: no I/O, no clock (every call takes "now", ns of
 * CLOCK_BOOTTIME), not thread-safe (the caller serialises, e.g. under the
 * peer's endpoint lock, and copies the chosen address to where the
 * datapath reads it).
 *
 * Entries, in table order (indices are stable for the life of one table):
 *   configured  the peer's `endpoint`, if set (index 0)
 *   alt         each `endpoint_alt`, in order; one equal to the endpoint
 *               or to an earlier alt is skipped
 *   prefix      one per peer `spread_prefix` (a duplicate is skipped); its
 *               address is the latest authenticated source inside the
 *               prefix, empty until one arrives
 *   learned     endpoint_limit (0..64) slots for other sources
 *   roaming     one slot: the newest authenticated source that has no
 *               other entry (endpoint_limit 0, or no slot granted yet)
 * Configured, alt and prefix entries are never evicted. The table is one
 * allocation, sized at creation by the configuration; nothing is allocated
 * afterwards, whatever arrives. A new configuration (or endpoint_limit)
 * builds a new table from the old one: fs_endpoints_reconfigure.
 *
 * Bytes per peer (x86-64): 80 per entry, 24 per prefix and a 48-byte
 * header, so 48 + 80 * (n_configured + n_prefixes + limit + 1) + 24 *
 * n_prefixes. The default (one endpoint, limit 8) is 848 bytes; the
 * largest (endpoint, 16 alts, 16 prefixes, limit 64) is 8272 bytes.
 * fs_endpoints_memory() returns the exact figure; a unit test pins these.
 *
 * Learning (fs_endpoints_learn), only from authenticated packets: a data
 * packet that decrypted and passed the replay check, or a handshake
 * message that was consumed (an initiation with a new timestamp, or the
 * response to our initiation). There is no call for cookie replies: they
 * never move endpoints. The source is matched, first hit wins: the current
 * entry; a configured or alt entry (exact address and port); a prefix
 * that contains the address (the first, if prefixes overlap; the prefix
 * entry takes the new address); a
 * learned or the roaming entry (exact). An unknown source takes a learned
 * slot only when the peer's token bucket allows a new entry
 * (FS_ENDPOINT_NEW_PER_SECOND, burst FS_ENDPOINT_NEW_BURST: at most
 * burst + rate * T new entries in any T seconds): a free slot, else the
 * learned entry with the oldest authenticated receive is evicted. Without
 * a token, or with endpoint_limit 0, it goes to the roaming slot,
 * replacing what was there (and is promoted to a learned slot when it
 * authenticates again with a token available). Either way the source
 * becomes the current endpoint at once, as WireGuard roaming does: the
 * table bounds memory and churn, never who wins.
 *
 * Handshakes. Only an entry through which a handshake completed
 * ("confirmed": we sent an initiation to its address, and the response to
 * that initiation was consumed, from whatever source) is a failover
 * candidate, and its RTT is that round trip. A response's source is
 * learned like any authenticated source but is not confirmed by it, so an
 * on-path attacker racing authentic copies from fresh sources can move the
 * current endpoint (as it can in WireGuard) but cannot plant a candidate.
 * A handshake timeout counts a failure on the entry it was sent through;
 * an authenticated receive from an entry or a completed handshake through
 * it clears its failures.
 *
 * Order (fs_endpoints_failover_order; its head is the next handshake
 * target). Eligible: configured and alt entries, confirmed entries, and
 * the current entry. Entries without failures come first, in tiers:
 *   0. confirmed and fresh: authenticated receive less than
 *      FS_ENDPOINT_TRUST_WINDOW_SEC (2 * KEEPALIVE_TIMEOUT + REKEY_TIMEOUT
 *      = 25 s) ago
 *   1. the current entry (the newest authenticated source: the peer roamed)
 *   2. confirmed, not fresh
 *   3. configured and alt entries never confirmed
 * within a tier by RTT (known before unknown, smaller first), then table
 * order (endpoint, alts in order, prefixes in order, then learned and
 * roaming entries by most recent receive). Entries with failures follow:
 * fewest failures first, then the one that failed longest ago, then table
 * order, so successive timeouts rotate through all of them and come back
 * to the first. The preferred entry takes traffic again as soon as it
 * answers: an authenticated packet from it makes it current at once and
 * clears its failures, and a completed handshake through it makes it
 * fresh and confirmed. Nothing here probes an entry that is not the
 * target: WireGuard v1 has no probe but the handshake.
 *
 * Data goes to the current endpoint (fs_endpoints_current): the last
 * authenticated source, or the configured endpoint until one arrives.
 *
 * Export: fs_endpoints_count() is `endpoint_count=`, the number of entries
 * with an address; fs_endpoints_format_state() writes the value of one
 * `endpoint_state=ADDR:PORT,ORIGIN,AGE_MS,RTT_US,STATE` line, in table
 * order. ORIGIN is configured, alt, prefix, learned or roaming; AGE_MS the
 * milliseconds since the last authenticated receive from it, RTT_US the
 * last handshake round trip through it, each "-" when unknown; STATE, the
 * first that applies:
 *   trying       an initiation sent through it awaits its response
 *   failed       handshakes through it timed out since it last answered
 *   active       confirmed and fresh
 *   stale        confirmed, not fresh
 *   unconfirmed  authenticated receive, but no handshake through it
 *   untried      nothing yet (a configured or alt entry)
 */
#ifndef FLOWSPREAD_ENDPOINT_H
#define FLOWSPREAD_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include "addr.h"
#include "config.h"

enum {
	FS_ENDPOINT_NEW_PER_SECOND = 2,		/* new learned entries per peer */
	FS_ENDPOINT_NEW_BURST = 4,
	FS_ENDPOINT_TRUST_WINDOW_SEC = 25,	/* 2 * WG_KEEPALIVE_TIMEOUT + WG_REKEY_TIMEOUT */
	FS_ENDPOINT_STATE_STRLEN = FS_ENDPOINT_STRLEN + 64,
	/* endpoint, alts, prefixes, learned, roaming */
	FS_ENDPOINT_MAX_ENTRIES = 1 + FS_MAX_ENDPOINT_ALT + FS_MAX_PREFIXES +
				  FS_ENDPOINT_LIMIT_MAX + 1,
};

enum fs_endpoint_origin {
	FS_ENDPOINT_CONFIGURED,
	FS_ENDPOINT_ALT,
	FS_ENDPOINT_PREFIX,
	FS_ENDPOINT_LEARNED,
	FS_ENDPOINT_ROAMING,
};

enum fs_endpoint_state {
	FS_ENDPOINT_UNTRIED,
	FS_ENDPOINT_UNCONFIRMED,
	FS_ENDPOINT_STALE,
	FS_ENDPOINT_ACTIVE,
	FS_ENDPOINT_FAILED,
	FS_ENDPOINT_TRYING,
};

/* The local address a packet arrived on, to answer from it (sticky source). */
struct fs_endpoint_local {
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	int ifindex;
	bool valid;
};

struct fs_endpoint_entry {
	union fs_sockaddr addr;		/* AF_UNSPEC: empty slot */
	struct fs_endpoint_local local;	/* of the last authenticated receive */
	uint32_t rtt_us;		/* last handshake round trip, if has_rtt */
	uint64_t last_rx;		/* last authenticated receive, if has_rx */
	uint64_t last_failure;		/* last handshake timeout, if failures */
	uint16_t failures;		/* timeouts since it last answered; saturates */
	uint8_t origin;			/* enum fs_endpoint_origin */
	bool has_rx;
	bool confirmed;			/* a handshake completed through it */
	bool has_rtt;
};

/* What the UAPI configured for the peer; endpoint_alt and prefixes as in struct fs_peer. */
struct fs_endpoints_config {
	bool has_endpoint;
	union fs_sockaddr endpoint;
	/* The request carried endpoint=: it becomes current, as in wg. */
	bool use_endpoint;
	size_t n_endpoint_alt;
	union fs_sockaddr endpoint_alt[FS_MAX_ENDPOINT_ALT];
	size_t n_spread_prefixes;
	struct fs_prefix spread_prefixes[FS_MAX_PREFIXES];
	uint32_t endpoint_limit;	/* 0..FS_ENDPOINT_LIMIT_MAX */
};

struct fs_endpoints;

/* NULL with errno: EINVAL (a count over its maximum, an address that is not IP), ENOMEM. */
struct fs_endpoints *fs_endpoints_new(const struct fs_endpoints_config *config, uint64_t now);
/*
 * A new table for config that keeps what old knew: configured, alt and
 * prefix entries carry their history when their address (prefix) is
 * unchanged or was known under another origin; old sources inside a new
 * prefix fold into its entry; the other sources with an authenticated
 * receive fill the learned slots, most recent first, and the rest are
 * dropped, except the current one, kept in the roaming slot. The current
 * endpoint stays where it was, unless config->use_endpoint (or it had no
 * current one and an endpoint is configured): then it is the endpoint.
 * The pending handshake, the token bucket and the entry stats follow.
 * old is not modified: the caller swaps the tables and frees the old one,
 * so a request can be prepared whole and applied or dropped.
 */
struct fs_endpoints *fs_endpoints_reconfigure(const struct fs_endpoints *old,
					      const struct fs_endpoints_config *config, uint64_t now);
/*
 * fs_endpoints_reconfigure in two steps, for a caller that must not fail
 * once it has started changing things. fs_endpoints_alloc only sizes a
 * table for config (NULL with errno, as fs_endpoints_new): it is no table
 * yet. fs_endpoints_fill lays it out for config and carries old (NULL:
 * nothing) over, as fs_endpoints_reconfigure does; it fails (false, errno
 * EINVAL, nothing changed) only for a config of another shape (other
 * numbers of distinct configured addresses or prefixes, another limit)
 * than the one the table was allocated for.
 */
struct fs_endpoints *fs_endpoints_alloc(const struct fs_endpoints_config *config);
bool fs_endpoints_fill(struct fs_endpoints *table, const struct fs_endpoints *old,
		       const struct fs_endpoints_config *config, uint64_t now);
void fs_endpoints_free(struct fs_endpoints *table);
/* Bytes allocated for the table, fixed at creation. */
size_t fs_endpoints_memory(const struct fs_endpoints *table);
/* What fs_endpoints_memory would be for such a configuration. */
size_t fs_endpoints_memory_for(size_t n_configured, size_t n_prefixes, uint32_t endpoint_limit);

/* Slots, empty or not: entries are 0 .. fs_endpoints_size() - 1. */
size_t fs_endpoints_size(const struct fs_endpoints *table);
/* NULL when out of range; an empty slot has addr.sa.sa_family == AF_UNSPEC. */
const struct fs_endpoint_entry *fs_endpoints_entry(const struct fs_endpoints *table, int index);
/* The prefix of a prefix entry, else NULL. */
const struct fs_prefix *fs_endpoints_prefix(const struct fs_endpoints *table, int index);
uint32_t fs_endpoints_limit(const struct fs_endpoints *table);

/*
 * src sent a packet that authenticated (see above), arriving on local (may
 * be NULL). Returns the entry that is now current, or -1 (and changes
 * nothing) if src is not AF_INET or AF_INET6.
 */
int fs_endpoints_learn(struct fs_endpoints *table, const union fs_sockaddr *src,
		       const struct fs_endpoint_local *local, uint64_t now);

/* The entry data goes to, or -1: no endpoint known. */
int fs_endpoints_current(const struct fs_endpoints *table);
/* The head of the failover order: where to send the next initiation, or -1. */
int fs_endpoints_handshake_target(const struct fs_endpoints *table, uint64_t now);
/* Fills order with up to n entries, best first; returns how many are eligible. */
size_t fs_endpoints_failover_order(const struct fs_endpoints *table, uint64_t now, int *order,
				   size_t n);

/*
 * An initiation went to entry index. It replaces any pending one without
 * counting a failure: call fs_endpoints_handshake_timeout first when a
 * retry follows a timeout.
 */
void fs_endpoints_handshake_sent(struct fs_endpoints *table, int index, uint64_t now);
/* The pending initiation went unanswered. Returns the next target, as handshake_target. */
int fs_endpoints_handshake_timeout(struct fs_endpoints *table, uint64_t now);
/*
 * The response to our pending initiation was consumed, from src: the entry
 * the initiation went to is confirmed with its round trip, then src is
 * learned. Call it instead of fs_endpoints_learn for a response. Returns
 * the current entry, as fs_endpoints_learn.
 */
int fs_endpoints_handshake_complete(struct fs_endpoints *table, const union fs_sockaddr *src,
				    const struct fs_endpoint_local *local, uint64_t now);

enum fs_endpoint_state fs_endpoints_state(const struct fs_endpoints *table, int index,
					  uint64_t now);
const char *fs_endpoint_origin_name(enum fs_endpoint_origin origin);
const char *fs_endpoint_state_name(enum fs_endpoint_state state);
/* Entries with an address: the number of endpoint_state lines. */
size_t fs_endpoints_count(const struct fs_endpoints *table);
/*
 * The most entries with an address the table has held since it was built
 * (configuration changes rebuild it): `endpoint_count_max=`, so a test or
 * an operator checks the bound exactly instead of sampling the count.
 */
size_t fs_endpoints_count_max(const struct fs_endpoints *table);
/*
 * Writes "ADDR:PORT,ORIGIN,AGE_MS,RTT_US,STATE" (the value of an
 * endpoint_state line, without key or newline) for entry index; false,
 * writing nothing, for an empty or out-of-range slot.
 */
bool fs_endpoints_format_state(const struct fs_endpoints *table, int index, uint64_t now,
			       char out[FS_ENDPOINT_STATE_STRLEN]);

#endif
