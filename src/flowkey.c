// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Flow keys of inner packets. Every read is checked against "limit", the
 * end of the packet as its own header states it (never beyond len): a
 * header that does not fit makes the packet malformed.
 *
 * IPv6 extension headers are walked in a bounded loop: hop-by-hop,
 * routing and destination options ((len + 1) * 8 bytes), AH ((len + 2) * 4
 * bytes) and the fragment header (8 bytes). A fragment (offset or M set)
 * gives addresses only; an atomic fragment (RFC 6946: offset 0, M clear)
 * is a whole packet and is parsed on. ESP, mobility and anything else
 * are protocols without ports here.
 */
#include <string.h>
#include "flowkey.h"

enum {
	IPV4_HEADER_LEN = 20,
	IPV6_HEADER_LEN = 40,
	IPV4_MF = 0x2000,
	IPV4_OFFSET_MASK = 0x1fff,
	IPV6_FRAG_OFFSET_MASK = 0xfff8,
	IPV6_FRAG_M = 0x0001,

	PROTO_HOPOPTS = 0,
	PROTO_ICMP = 1,
	PROTO_TCP = 6,
	PROTO_UDP = 17,
	PROTO_ROUTING = 43,
	PROTO_FRAGMENT = 44,
	PROTO_AH = 51,
	PROTO_ICMPV6 = 58,
	PROTO_DSTOPTS = 60,
	PROTO_SCTP = 132,
	PROTO_UDPLITE = 136,

	ICMP_ECHO_REPLY = 0,
	ICMP_ECHO_REQUEST = 8,
	ICMPV6_ECHO_REQUEST = 128,
	ICMPV6_ECHO_REPLY = 129,
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Both ports (or the echo identifier twice), copied as they are on the wire. */
static void set_ports(struct fs_flowkey *key, const uint8_t *src, const uint8_t *dst)
{
	memcpy(&key->port[0], src, 2);
	memcpy(&key->port[1], dst, 2);
	key->flags |= FS_FLOWKEY_PORTS;
}

static bool is_echo(uint8_t version, uint8_t type)
{
	if (version == 4)
		return type == ICMP_ECHO_REQUEST || type == ICMP_ECHO_REPLY;
	return type == ICMPV6_ECHO_REQUEST || type == ICMPV6_ECHO_REPLY;
}

/*
 * The transport header at t (tlen bytes up to the packet's end). False if
 * the protocol's fixed header does not fit; other protocols add nothing.
 */
static bool parse_transport(struct fs_flowkey *key, const uint8_t *t, size_t tlen)
{
	uint8_t icmp = key->version == 4 ? PROTO_ICMP : PROTO_ICMPV6;

	switch (key->proto) {
	case PROTO_TCP:
		if (tlen < 20)
			return false;
		set_ports(key, t, t + 2);
		return true;
	case PROTO_UDP:
	case PROTO_UDPLITE:
		if (tlen < 8)
			return false;
		set_ports(key, t, t + 2);
		return true;
	case PROTO_SCTP:
		if (tlen < 12)
			return false;
		set_ports(key, t, t + 2);
		return true;
	default:
		break;
	}
	if (key->proto != icmp)
		return true;
	/* ICMP: 8 bytes for every type; ICMPv6: 4, and 8 for an echo. */
	if (tlen < (key->version == 4 ? 8U : 4U))
		return false;
	if (!is_echo(key->version, t[0]))
		return true;
	if (tlen < 8)
		return false;
	set_ports(key, t + 4, t + 4);
	return true;
}

static bool parse_ipv4(struct fs_flowkey *key, const uint8_t *p, size_t len)
{
	size_t ihl, total;

	if (len < IPV4_HEADER_LEN)
		return false;
	ihl = (size_t)(p[0] & 0x0f) * 4;
	total = be16(p + 2);
	if (ihl < IPV4_HEADER_LEN || total < ihl || total > len)
		return false;
	key->version = 4;
	key->proto = p[9];
	memcpy(key->addr[0], p + 12, 4);
	memcpy(key->addr[1], p + 16, 4);
	if (be16(p + 6) & (IPV4_MF | IPV4_OFFSET_MASK))
		return true;	/* a fragment: addresses only */
	return parse_transport(key, p + ihl, total - ihl);
}

static bool parse_ipv6(struct fs_flowkey *key, const uint8_t *p, size_t len)
{
	size_t limit, off = IPV6_HEADER_LEN, hlen;
	uint8_t next;

	if (len < IPV6_HEADER_LEN)
		return false;
	limit = IPV6_HEADER_LEN + (size_t)be16(p + 4);
	if (limit > len)
		return false;
	key->version = 6;
	memcpy(key->addr[0], p + 8, 16);
	memcpy(key->addr[1], p + 24, 16);
	next = p[6];

	for (int n = 0;; ++n) {
		if (n == FS_FLOWKEY_MAX_EXTENSION_HEADERS) {
			key->proto = next;	/* absurdly many headers: addresses only */
			return true;
		}
		switch (next) {
		case PROTO_HOPOPTS:
		case PROTO_ROUTING:
		case PROTO_DSTOPTS:
			if (limit - off < 2)
				return false;
			hlen = ((size_t)p[off + 1] + 1) * 8;
			break;
		case PROTO_AH:
			if (limit - off < 2)
				return false;
			hlen = ((size_t)p[off + 1] + 2) * 4;
			break;
		case PROTO_FRAGMENT:
			if (limit - off < 8)
				return false;
			hlen = 8;
			if (be16(p + off + 2) & (IPV6_FRAG_OFFSET_MASK | IPV6_FRAG_M)) {
				key->proto = p[off];	/* a fragment: addresses only */
				return true;
			}
			break;
		default:
			key->proto = next;
			return parse_transport(key, p + off, limit - off);
		}
		if (limit - off < hlen)
			return false;
		next = p[off];
		off += hlen;
	}
}

/* Lexicographic order of the (address, port) endpoints. */
static void canonicalize(struct fs_flowkey *key)
{
	int order = memcmp(key->addr[0], key->addr[1], sizeof(key->addr[0]));
	uint8_t addr[16];
	uint16_t port;

	if (!order)
		order = memcmp(&key->port[0], &key->port[1], sizeof(key->port[0]));
	if (order <= 0)
		return;
	memcpy(addr, key->addr[0], sizeof(addr));
	memcpy(key->addr[0], key->addr[1], sizeof(addr));
	memcpy(key->addr[1], addr, sizeof(addr));
	port = key->port[0];
	key->port[0] = key->port[1];
	key->port[1] = port;
}

bool fs_flowkey_from_packet(struct fs_flowkey *key, const void *packet, size_t len)
{
	const uint8_t *p = packet;
	bool ok;

	memset(key, 0, sizeof(*key));
	if (len < 1)
		return false;
	switch (p[0] >> 4) {
	case 4:
		ok = parse_ipv4(key, p, len);
		break;
	case 6:
		ok = parse_ipv6(key, p, len);
		break;
	default:
		ok = false;
		break;
	}
	if (!ok) {
		memset(key, 0, sizeof(*key));
		return false;
	}
	canonicalize(key);
	return true;
}
