/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A UAPI "set" request (https://www.wireguard.com/xplatform/), parsed and
 * checked whole before anything is applied: the device applies a struct
 * fs_config in one step or not at all. Lines are key=value; the request
 * ends at an empty line. Device keys come before the first public_key;
 * each public_key starts a peer block. Semantics follow wireguard-go where
 * the order of lines matters: replace_allowed_ips drops the allowed_ip
 * lines before it in the same block; a later block for the same key
 * applies after an earlier one.
 *
 * The extension keys (flowspreadd(8)) are parsed here too; for them an
 * empty value means the default (an empty list, no port range), so that a
 * tool syncing a file can remove what the file no longer has. Standard
 * keys keep wg's semantics: an empty value is an error.
 */
#ifndef FLOWSPREAD_CONFIG_H
#define FLOWSPREAD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "addr.h"
#include "messages.h"

enum fs_spread_mode {
	FS_SPREAD_DEFAULT = 0,	/* unset: "addresses" once a prefix is set, else off */
	FS_SPREAD_OFF,
	FS_SPREAD_PORTS,
	FS_SPREAD_ADDRESSES,
	FS_SPREAD_BOTH,
};

enum fs_steer_mode {
	FS_STEER_OFF = 0,
	FS_STEER_ON,
	FS_STEER_NFT,
};

enum {
	FS_SPREAD_PAIRS_DEFAULT = 1024,
	FS_SPREAD_PAIRS_MAX = 65536,
	FS_ENDPOINT_LIMIT_DEFAULT = 8,
	FS_ENDPOINT_LIMIT_MAX = 64,
	FS_SPREAD_PREFIX_MAX_CIDR = 120,
	FS_SPREAD_PREFIX_MIN_CIDR = 32,		/* IPv6: no default route, nothing near it */
	FS_SPREAD_PREFIX_MIN_CIDR_V4 = 8,
	FS_MAX_PREFIXES = 16,		/* spread_prefix lines per device or peer */
	FS_MAX_ENDPOINT_ALT = 16,	/* endpoint_alt lines per peer */
	FS_SPREAD_PORTS_MAX = 1024,	/* local spread_ports: one socket each */
};

struct fs_port_range {
	uint16_t low, high;		/* inclusive; low <= high, low > 0 */
};

struct fs_config_peer {
	uint8_t public_key[WG_KEY_LEN];
	bool remove;
	bool update_only;
	bool has_preshared_key;
	uint8_t preshared_key[WG_KEY_LEN];	/* all zero: remove it */
	bool has_endpoint;
	union fs_sockaddr endpoint;
	bool has_persistent_keepalive;
	uint16_t persistent_keepalive;		/* seconds, 0 = off */
	bool replace_allowed_ips;
	size_t n_allowed_ips;
	struct fs_prefix *allowed_ips;		/* as given, host bits kept */

	/*
	 * extensions: has_X when the key was given; an empty value is back
	 * to the default (an empty list, no range: spread_ports.low 0), and
	 * a list's items after it replace the list.
	 */
	bool has_endpoint_alt;
	size_t n_endpoint_alt;
	union fs_sockaddr endpoint_alt[FS_MAX_ENDPOINT_ALT];
	bool has_spread_prefixes;
	size_t n_spread_prefixes;
	struct fs_prefix spread_prefixes[FS_MAX_PREFIXES];
	bool has_spread_ports;
	struct fs_port_range spread_ports;
};

struct fs_config {
	bool has_private_key;
	uint8_t private_key[WG_KEY_LEN];	/* all zero: remove it */
	bool has_listen_port;
	uint16_t listen_port;
	bool has_fwmark;
	uint32_t fwmark;			/* 0 = off */
	bool replace_peers;

	/* extensions, as for a peer; an empty value gives the default */
	bool has_spread_prefixes;
	size_t n_spread_prefixes;
	struct fs_prefix spread_prefixes[FS_MAX_PREFIXES];
	bool has_spread_mode;
	enum fs_spread_mode spread_mode;	/* FS_SPREAD_DEFAULT for an empty value */
	bool has_spread_ports;
	struct fs_port_range spread_ports;
	bool has_spread_pairs;
	uint32_t spread_pairs;			/* 1..FS_SPREAD_PAIRS_MAX */
	bool has_endpoint_limit;
	uint32_t endpoint_limit;		/* 0..FS_ENDPOINT_LIMIT_MAX */
	bool has_steer;
	enum fs_steer_mode steer;
	bool has_steer_qdisc;
	uint16_t steer_qdisc_major;		/* "MAJOR:" in hex, as tc writes it; 0: none */

	size_t n_peers;
	struct fs_config_peer *peers;		/* in request order */
};

/*
 * Parses the lines of a set request (after "set=1\n", up to but not
 * including the terminating empty line; a trailing empty line is
 * tolerated). Returns 0, -EINVAL (unknown key, malformed or out-of-range
 * value: err names the line and what was expected), -EPROTO (a line
 * without '=') or -ENOMEM. On error *cfg is left empty.
 */
int fs_config_parse(struct fs_config *cfg, const char *text, size_t len, char *err, size_t errlen);
/*
 * The same, calling yield(ctx) after every FS_CONFIG_YIELD_PEERS peer
 * blocks: the daemon's control thread answers queued handshakes while it
 * parses a long request (a second at 10^5 peers). Parsing touches nothing
 * but *cfg, so yield may do anything that leaves cfg alone.
 */
enum { FS_CONFIG_YIELD_PEERS = 256 };
int fs_config_parse_yielding(struct fs_config *cfg, const char *text, size_t len, char *err,
			     size_t errlen, void (*yield)(void *ctx), void *ctx);

/* Wipes the keys it holds and frees everything; *cfg is empty afterwards. */
void fs_config_free(struct fs_config *cfg);

/*
 * Grows (or shrinks) a block that may hold key material: a new block of
 * new_size bytes takes the first min(old_size, new_size) bytes, and the old
 * one is wiped (old_size bytes) and freed, so no unwiped copy is left in
 * freed memory as realloc would leave it. NULL if out of memory: the old
 * block is then untouched. old may be NULL (old_size 0).
 */
void *fs_secret_realloc(void *old, size_t old_size, size_t new_size);

/* A spread prefix (masked) alone: false with the reason in err. */
bool fs_config_check_spread_prefix(const struct fs_prefix *prefix, char *err, size_t errlen);

/* Parsers shared with flowspreadctl: false with a message in err. */
bool fs_config_parse_key_hex(uint8_t key[WG_KEY_LEN], const char *hex, char *err, size_t errlen);
bool fs_config_parse_port_range(struct fs_port_range *out, const char *text, char *err,
				size_t errlen);
const char *fs_spread_mode_name(enum fs_spread_mode mode);
const char *fs_steer_mode_name(enum fs_steer_mode mode);

#endif
