/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flowspreadctl's picture of one interface, filled from three sources and
 * read by the rest: a UAPI "get" answer (uapi.c), a config file (conf.c)
 * or the arguments of "set" (set.c). The same struct is what "set" sends:
 * each has_* flag means "this field is part of the request", and each
 * clear_* flag of an extension setting that the request carries the
 * empty value, which sets it back to its default (a list: the empty value
 * first, then the list's items, so that the list is replaced whole).
 *
 * Arrays grow as needed (a get answer has no fixed bound); peers live in
 * one array, so code that adds peers keeps an index, never a pointer.
 * ctl_device_free() wipes every key it held.
 */
#ifndef FLOWSPREAD_CTL_CONTAINERS_H
#define FLOWSPREAD_CTL_CONTAINERS_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "addr.h"
#include "config.h"
#include "messages.h"

enum {
	CTL_WORD_LEN = 32,	/* a mode, an origin or a state name, with its NUL */
};

/* Exit statuses, as the subcommands return them. */
enum ctl_status {
	CTL_OK = 0,
	CTL_FAIL = 1,
	CTL_USAGE = 2,
};

struct ctl_prefix_list {
	size_t n, alloc;
	struct fs_prefix *items;
};

struct ctl_endpoint_list {
	size_t n, alloc;
	union fs_sockaddr *items;
};

/* One "endpoint_state=ADDR:PORT,ORIGIN,AGE_MS,RTT_US,STATE" line. */
struct ctl_endpoint_state {
	union fs_sockaddr endpoint;
	char origin[CTL_WORD_LEN];
	bool has_age;		/* the daemon wrote "-" or nothing: never */
	uint64_t age_ms;
	bool has_rtt;
	uint64_t rtt_us;
	char state[CTL_WORD_LEN];
};

/* One "spread_source=KIND,STATE,AGE_MS,FAILURES,REASON" line (flowspreadd(8)). */
struct ctl_spread_source {
	char kind[CTL_WORD_LEN];	/* addresses, ports */
	char state[CTL_WORD_LEN];	/* unproven, probing, proven, failed */
	bool has_age;
	uint64_t age_ms;
	uint64_t failures;
	char reason[CTL_WORD_LEN];	/* of the last failure, "-" if none */
};

enum { CTL_SPREAD_SOURCES_MAX = 4 };

struct ctl_peer {
	uint8_t public_key[WG_KEY_LEN];
	bool remove;
	bool has_preshared_key;
	uint8_t preshared_key[WG_KEY_LEN];	/* all zero: none */
	bool has_endpoint;
	union fs_sockaddr endpoint;
	bool has_persistent_keepalive;
	uint16_t persistent_keepalive;		/* seconds, 0 = off */
	bool replace_allowed_ips;
	struct ctl_prefix_list allowed_ips;

	/* read-only state from a get */
	uint64_t last_handshake_sec, last_handshake_nsec;
	uint64_t rx_bytes, tx_bytes;

	/* extensions */
	bool clear_endpoint_alt;
	struct ctl_endpoint_list endpoint_alt;
	bool clear_spread_prefixes;
	struct ctl_prefix_list spread_prefixes;
	bool clear_spread_ports;
	bool has_spread_ports;
	struct fs_port_range spread_ports;
	bool has_endpoint_count;
	uint32_t endpoint_count;
	size_t n_states, alloc_states;
	struct ctl_endpoint_state *states;
	size_t n_spread_sources;
	struct ctl_spread_source spread_sources[CTL_SPREAD_SOURCES_MAX];
};

struct ctl_device {
	char name[IF_NAMESIZE];
	bool has_private_key;
	uint8_t private_key[WG_KEY_LEN];	/* all zero: remove it */
	bool has_public_key;			/* derived from private_key by a get */
	uint8_t public_key[WG_KEY_LEN];
	bool has_listen_port;
	uint16_t listen_port;
	bool has_fwmark;
	uint32_t fwmark;
	bool replace_peers;

	/* extensions */
	bool clear_spread_prefixes;
	struct ctl_prefix_list spread_prefixes;
	bool clear_spread_mode, has_spread_mode;
	char spread_mode[CTL_WORD_LEN];
	bool clear_spread_ports, has_spread_ports;
	struct fs_port_range spread_ports;
	bool clear_spread_pairs, has_spread_pairs;
	uint32_t spread_pairs;
	bool clear_endpoint_limit, has_endpoint_limit;
	uint32_t endpoint_limit;
	bool clear_steer, has_steer;
	char steer[CTL_WORD_LEN];
	bool clear_steer_qdisc, has_steer_qdisc;
	uint16_t steer_qdisc;			/* the MAJOR of "MAJOR:" */

	size_t n_peers, alloc_peers;
	struct ctl_peer *peers;
};

void ctl_device_init(struct ctl_device *dev);
void ctl_device_free(struct ctl_device *dev);

/* A new, zeroed peer at the end; NULL when out of memory. */
struct ctl_peer *ctl_device_add_peer(struct ctl_device *dev);
/* The first peer with this key, or NULL. */
struct ctl_peer *ctl_device_find_peer(const struct ctl_device *dev,
				      const uint8_t public_key[WG_KEY_LEN]);

bool ctl_prefix_list_add(struct ctl_prefix_list *list, const struct fs_prefix *prefix);
bool ctl_endpoint_list_add(struct ctl_endpoint_list *list, const union fs_sockaddr *endpoint);
bool ctl_peer_add_state(struct ctl_peer *peer, const struct ctl_endpoint_state *state);
/* Parses a spread_source value into the peer (endpoints.c); false if malformed. */
bool ctl_peer_add_spread_source(struct ctl_peer *peer, const char *value);

/* --- keys: hex on the wire, base64 for users ------------------------------ */

enum {
	CTL_KEY_BASE64_LEN = 45,	/* 44 characters and a NUL */
	CTL_KEY_HEX_LEN = 2 * WG_KEY_LEN + 1,
};

char *ctl_key_to_base64(char out[CTL_KEY_BASE64_LEN], const uint8_t key[WG_KEY_LEN]);
bool ctl_key_from_base64(uint8_t key[WG_KEY_LEN], const char *base64);
char *ctl_key_to_hex(char out[CTL_KEY_HEX_LEN], const uint8_t key[WG_KEY_LEN]);
bool ctl_key_from_hex(uint8_t key[WG_KEY_LEN], const char *hex);
bool ctl_key_is_zero(const uint8_t key[WG_KEY_LEN]);

#endif
