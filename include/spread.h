/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Flow spreading (docs/spreading.md): the per-session spread key and the
 * pure mapping from a flow key to one of spread_pairs outer pairs, and
 * from a pair to its two ends (address drawn from a prefix, UDP port).
 * Both peers compute the same pair, mirrored. No I/O, no state.
 *
 * Spread key. Let T_i be the initiator-to-responder transport key (the
 * initiator's sending_key, the responder's receiving_key) and T_r the
 * other one. With LABEL the 24 ASCII bytes "flowspread v1 spread key":
 *
 *   C = BLAKE2s-256(LABEL)
 *   K = KDF1(C, T_i || T_r)      (hash.h: HMAC(HMAC(C, T_i || T_r), 0x01))
 *
 * so both ends get the same K, a new one at each handshake.
 *
 * Roles: the end whose static public key is lexicographically smaller
 * (memcmp) has role 0 (FS_SPREAD_LOWER), the other role 1.
 *
 * Mapping. BLAKE2s-n(K, m) is keyed BLAKE2s with an n-byte digest (the
 * digest length is a BLAKE2 parameter: not a truncation); LE32 and LE64
 * read or write little-endian integers; F is the 40 bytes of struct
 * fs_flowkey.
 *
 *   pair   = LE64(BLAKE2s-8(K, "F" || F)) mod spread_pairs
 *   H(r,j) = BLAKE2s-32(K, "P" || LE32(pair) || byte(r) || LE32(j))
 *
 * The end of role r takes from H(r,0): prefix number LE64(H[16..23]) mod
 * its number of prefixes, port low + LE64(H[24..31]) mod (high - low + 1);
 * and for j = 0, 1, ... 63 the host part candidate H(r,j)[0..15]: the
 * address is prefix | (candidate & ~netmask), byte by byte over the
 * address (4 or 16 bytes). The first valid candidate wins; if none, the
 * host part 1. Valid: any address of a /32, /31 (RFC 3021) or /128; else
 * a non-zero host part and, for IPv6, an interface identifier (the low 64
 * bits of the address, whatever the prefix length) that is neither 0 nor
 * an RFC 2526 reserved subnet anycast identifier (FDFF:FFFF:FFFF:FF80 to
 * FDFF:FFFF:FFFF:FFFF: the u/l bit clear, as RFC 2526 section 2 writes
 * them for EUI-64 format identifiers), and, for IPv4, not the all-ones
 * (broadcast) host part.
 *
 * Modulo bias: an n of at most 2^16 gets a bias below n / 2^64 <= 2^-48.
 * Flows collapse onto spread_pairs pairs, since everything after "pair"
 * depends on the pair number, not on the flow.
 */
#ifndef FLOWSPREAD_SPREAD_H
#define FLOWSPREAD_SPREAD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "addr.h"
#include "flowkey.h"
#include "messages.h"

enum {
	FS_SPREAD_KEY_LEN = 32,
	FS_SPREAD_HOST_ATTEMPTS = 64,	/* host part candidates before the fallback */
};

enum fs_spread_role {
	FS_SPREAD_LOWER = 0,	/* the smaller static public key */
	FS_SPREAD_HIGHER = 1,
};

/*
 * K from a session's transport keys, the same at both ends. False (and
 * key zeroed) if either transport key is all zero. Keep K with the
 * keypair, in sodium_malloc'd memory, and wipe it with it.
 */
bool fs_spread_key_derive(uint8_t key[FS_SPREAD_KEY_LEN],
			  const uint8_t sending_key[WG_KEY_LEN],
			  const uint8_t receiving_key[WG_KEY_LEN], bool i_am_the_initiator);

/* Our role. Equal keys (a peer that is ourselves) give FS_SPREAD_LOWER. */
enum fs_spread_role fs_spread_role(const uint8_t local_public[WG_KEY_LEN],
				   const uint8_t remote_public[WG_KEY_LEN]);

/* The pair of a flow: 0 .. spread_pairs - 1 (spread_pairs 0 counts as 1). */
uint32_t fs_spread_pair_index(const uint8_t key[FS_SPREAD_KEY_LEN],
			      const struct fs_flowkey *flow, uint32_t spread_pairs);

/* What one end draws from: its prefixes (may be none) and port range. */
struct fs_spread_range {
	const struct fs_prefix *prefixes;
	size_t nprefixes;
	uint16_t port_low, port_high;	/* inclusive; 0-0: ports not spread */
};

/* One end of an outer pair. */
struct fs_spread_end {
	bool has_address;		/* false when the range has no prefix */
	uint32_t prefix_index;		/* which of the range's prefixes */
	int family;			/* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
		uint8_t bytes[16];
	} addr;
	uint16_t port;			/* host order; 0: ports not spread */
};

struct fs_spread_pair {
	uint32_t index;
	struct fs_spread_end local, remote;
};

/*
 * The end of role "role" of pair "index", drawn from "range". False if
 * the chosen prefix holds no valid address (fs_spread_prefix_usable).
 */
bool fs_spread_end_derive(struct fs_spread_end *out, const uint8_t key[FS_SPREAD_KEY_LEN],
			  uint32_t index, enum fs_spread_role role,
			  const struct fs_spread_range *range);

/*
 * Both ends of pair "index": ours (local_role, drawn from "local") and the
 * peer's (drawn from "remote", our copy of the peer's prefixes and
 * ports). The peer, with the lists swapped, gets the same pair mirrored
 * when both ends list the prefixes in the same order.
 */
bool fs_spread_pair_derive(struct fs_spread_pair *out, const uint8_t key[FS_SPREAD_KEY_LEN],
			   uint32_t index, enum fs_spread_role local_role,
			   const struct fs_spread_range *local, const struct fs_spread_range *remote);

/* ---- addresses from prefixes (exposed for the configuration and tests) ---- */

/* out = prefix bits of "prefix", host bits of "host" (4 or 16 bytes used). */
void fs_spread_address_compose(uint8_t out[16], const struct fs_prefix *prefix,
			       const uint8_t host[16]);

/* The validity rules above, for an address inside "prefix". */
bool fs_spread_address_valid(const struct fs_prefix *prefix, const uint8_t address[16]);

/* Whether any address of the prefix is valid (false: refuse it). */
bool fs_spread_prefix_usable(const struct fs_prefix *prefix);

/* Host part candidate number "attempt" into host[0..15]. */
typedef void (*fs_spread_sampler)(uint8_t host[16], uint32_t attempt, void *ctx);

/*
 * The first valid address among the sampler's FS_SPREAD_HOST_ATTEMPTS
 * candidates, else the host part 1; false if that is invalid too.
 */
bool fs_spread_address_pick(uint8_t out[16], const struct fs_prefix *prefix,
			    fs_spread_sampler sample, void *ctx);

#endif
