/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The flow key of an inner IPv4 or IPv6 packet (docs/spreading.md): the
 * protocol and both addresses, plus the ports of TCP, UDP, UDP-Lite and
 * SCTP or the identifier of an ICMP or ICMPv6 echo. Fragments and other
 * protocols give the addresses and the protocol only.
 *
 * The key is canonical: the two (address, port) endpoints are stored in
 * lexicographic order, so both directions of a flow give the same key.
 * It is a fixed-size byte string, the same on every host (network byte
 * order, the IP version rather than AF_* constants, zero padding), so two
 * peers hash it to the same value. Pure code: no I/O, no allocation.
 */
#ifndef FLOWSPREAD_FLOWKEY_H
#define FLOWSPREAD_FLOWKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fs_flowkey_flags {
	FS_FLOWKEY_PORTS = 1U << 0,	/* port[] holds ports or an echo identifier */
};

enum {
	FS_FLOWKEY_MAX_EXTENSION_HEADERS = 16,	/* IPv6; more: addresses only */
};

struct fs_flowkey {
	uint8_t addr[2][16];	/* network order; IPv4 in the first 4 bytes, then zeros */
	uint16_t port[2];	/* network byte order; the echo identifier twice; else 0 */
	uint8_t version;	/* 4 or 6 */
	uint8_t proto;		/* the upper-layer protocol (IPv6: after extension headers) */
	uint8_t flags;		/* enum fs_flowkey_flags */
	uint8_t reserved;	/* zero */
};

_Static_assert(sizeof(struct fs_flowkey) == 40, "struct fs_flowkey must have no padding");

/*
 * Fills *key from the inner packet (its IP header first). False if the
 * packet is malformed or truncated: a bad version, header length or total
 * length, an extension header or transport header that does not fit.
 * Never reads outside packet[0..len). The caller counts and drops.
 */
bool fs_flowkey_from_packet(struct fs_flowkey *key, const void *packet, size_t len);

#endif
