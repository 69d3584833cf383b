// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Flow keys from packets built byte by byte here: every protocol in both
 * directions, IPv6 extension headers, fragments, and every truncation of
 * the test packets, each copied into a heap block of exactly its length
 * so that AddressSanitizer catches any read past the end.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include "leakcheck.h"
#include "flowkey.h"

FS_LEAK_CHECKED_SUITE(flowkey);

enum {
	TCP = 6, UDP = 17, ICMP = 1, ICMPV6 = 58, SCTP = 132, UDPLITE = 136, GRE = 47, ESP = 50,
	HOPOPTS = 0, ROUTING = 43, FRAGMENT = 44, AH = 51, DSTOPTS = 60, NONE = 59,
};

static const char *const A4 = "192.0.2.10", *const B4 = "198.51.100.20";
static const char *const A6 = "2001:db8:1::10", *const B6 = "2001:db8:2::20";

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A transport header of the protocol's minimal size with these ports (or echo type/id). */
static size_t transport(uint8_t *t, uint8_t proto, uint16_t a, uint16_t b)
{
	size_t len = proto == TCP ? 20 : proto == SCTP ? 12 : 8;

	memset(t, 0, len);
	if (proto == ICMP || proto == ICMPV6) {
		t[0] = (uint8_t)a;	/* type */
		put16(t + 4, b);	/* identifier */
	} else {
		put16(t, a);
		put16(t + 2, b);
	}
	if (proto == TCP)
		t[12] = 5 << 4;
	return len;
}

/* An IPv4 header with total length = 20 + plen; payload copied after it. */
static size_t ipv4(uint8_t *p, uint8_t proto, const char *src, const char *dst, uint16_t frag,
		   const uint8_t *payload, size_t plen)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	put16(p + 2, (uint16_t)(20 + plen));
	put16(p + 6, frag);
	p[8] = 64;
	p[9] = proto;
	cr_assert_eq(inet_pton(AF_INET, src, p + 12), 1);
	cr_assert_eq(inet_pton(AF_INET, dst, p + 16), 1);
	memcpy(p + 20, payload, plen);
	return 20 + plen;
}

static size_t ipv6(uint8_t *p, uint8_t next, const char *src, const char *dst,
		   const uint8_t *payload, size_t plen)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	put16(p + 4, (uint16_t)plen);
	p[6] = next;
	p[7] = 64;
	cr_assert_eq(inet_pton(AF_INET6, src, p + 8), 1);
	cr_assert_eq(inet_pton(AF_INET6, dst, p + 24), 1);
	if (plen)
		memcpy(p + 40, payload, plen);
	return 40 + plen;
}

/* A packet of proto from (src, a) to (dst, b) over IP version "version". */
static size_t packet(uint8_t *p, int version, uint8_t proto, const char *src, uint16_t a,
		     const char *dst, uint16_t b)
{
	uint8_t t[64];
	size_t tlen = transport(t, proto, a, b);

	if (version == 4)
		return ipv4(p, proto, src, dst, 0, t, tlen);
	return ipv6(p, proto, src, dst, t, tlen);
}

/* Parses from a heap block of exactly len bytes. */
static bool parse(struct fs_flowkey *key, const uint8_t *p, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	bool ok;

	cr_assert_not_null(copy);
	memcpy(copy, p, len);
	ok = fs_flowkey_from_packet(key, copy, len);
	free(copy);
	return ok;
}

static struct fs_flowkey key_of(const uint8_t *p, size_t len)
{
	struct fs_flowkey key;

	cr_assert(parse(&key, p, len), "a well-formed packet was refused");
	return key;
}

static bool key_is_zero(const struct fs_flowkey *key)
{
	static const struct fs_flowkey zero;

	return !memcmp(key, &zero, sizeof(zero));
}

static void assert_key_eq(const struct fs_flowkey *a, const struct fs_flowkey *b)
{
	cr_assert_eq(memcmp(a, b, sizeof(*a)), 0, "the two keys differ");
}

static void assert_addr(const uint8_t addr[16], int version, const char *text)
{
	uint8_t want[16] = { 0 };

	cr_assert_eq(inet_pton(version == 4 ? AF_INET : AF_INET6, text, want), 1);
	cr_assert_eq(memcmp(addr, want, 16), 0, "address is not %s", text);
}

Test(flowkey, every_protocol_gives_one_key_for_both_directions)
{
	static const struct {
		int version;
		uint8_t proto;
	} cases[] = {
		{ 4, TCP }, { 4, UDP }, { 4, UDPLITE }, { 4, SCTP },
		{ 6, TCP }, { 6, UDP }, { 6, UDPLITE }, { 6, SCTP },
	};
	uint8_t fwd[128], rev[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
		int v = cases[i].version;
		const char *a = v == 4 ? A4 : A6, *b = v == 4 ? B4 : B6;
		size_t flen = packet(fwd, v, cases[i].proto, a, 40001, b, 443);
		size_t rlen = packet(rev, v, cases[i].proto, b, 443, a, 40001);
		struct fs_flowkey kf = key_of(fwd, flen), kr = key_of(rev, rlen);

		assert_key_eq(&kf, &kr);
		cr_assert_eq(kf.version, v);
		cr_assert_eq(kf.proto, cases[i].proto);
		cr_assert_eq(kf.flags, FS_FLOWKEY_PORTS);
		cr_assert_eq(kf.reserved, 0);
		/* a < b in both families: a's endpoint comes first. */
		assert_addr(kf.addr[0], v, a);
		assert_addr(kf.addr[1], v, b);
		cr_assert_eq(ntohs(kf.port[0]), 40001);
		cr_assert_eq(ntohs(kf.port[1]), 443);
	}
}

Test(flowkey, icmp_echo_request_and_reply_share_the_identifier)
{
	uint8_t req[128], rep[128];
	size_t qlen, plen;
	struct fs_flowkey q, r, other;

	/* IPv4: echo request 8 from A, echo reply 0 from B, identifier 0x1234. */
	qlen = packet(req, 4, ICMP, A4, 8, B4, 0x1234);
	plen = packet(rep, 4, ICMP, B4, 0, A4, 0x1234);
	q = key_of(req, qlen);
	r = key_of(rep, plen);
	assert_key_eq(&q, &r);
	cr_assert_eq(q.flags, FS_FLOWKEY_PORTS);
	cr_assert_eq(ntohs(q.port[0]), 0x1234);
	cr_assert_eq(ntohs(q.port[1]), 0x1234);
	qlen = packet(req, 4, ICMP, A4, 8, B4, 0x1235);
	other = key_of(req, qlen);
	cr_assert_neq(memcmp(&q, &other, sizeof(q)), 0, "another identifier, the same key");

	/* ICMPv6: 128 and 129. */
	qlen = packet(req, 6, ICMPV6, A6, 128, B6, 77);
	plen = packet(rep, 6, ICMPV6, B6, 129, A6, 77);
	q = key_of(req, qlen);
	r = key_of(rep, plen);
	assert_key_eq(&q, &r);
	cr_assert_eq(q.proto, ICMPV6);
	cr_assert_eq(ntohs(q.port[0]), 77);

	/* Not an echo (destination unreachable; ICMPv6 packet too big): addresses only. */
	qlen = packet(req, 4, ICMP, A4, 3, B4, 0x1234);
	q = key_of(req, qlen);
	cr_assert_eq(q.flags, 0);
	cr_assert_eq(q.port[0] | q.port[1], 0);
	qlen = packet(req, 6, ICMPV6, A6, 2, B6, 0x1234);
	q = key_of(req, qlen);
	cr_assert_eq(q.flags, 0);
	cr_assert_eq(q.proto, ICMPV6);
	cr_assert_eq(q.port[0] | q.port[1], 0);
}

Test(flowkey, different_ports_protocols_and_addresses_differ)
{
	uint8_t p[128];
	struct fs_flowkey base, k;

	base = key_of(p, packet(p, 4, UDP, A4, 40001, B4, 53));
	k = key_of(p, packet(p, 4, UDP, A4, 40002, B4, 53));
	cr_assert_neq(memcmp(&base, &k, sizeof(k)), 0, "source port ignored");
	k = key_of(p, packet(p, 4, UDP, A4, 40001, B4, 54));
	cr_assert_neq(memcmp(&base, &k, sizeof(k)), 0, "destination port ignored");
	k = key_of(p, packet(p, 4, TCP, A4, 40001, B4, 53));
	cr_assert_neq(memcmp(&base, &k, sizeof(k)), 0, "protocol ignored");
	k = key_of(p, packet(p, 4, UDP, A4, 40001, "198.51.100.21", 53));
	cr_assert_neq(memcmp(&base, &k, sizeof(k)), 0, "address ignored");
	/* Swapped ports between the same addresses is another flow. */
	k = key_of(p, packet(p, 4, UDP, A4, 53, B4, 40001));
	cr_assert_neq(memcmp(&base, &k, sizeof(k)), 0, "ports swapped, same key");
}

Test(flowkey, same_address_both_ends_orders_by_port)
{
	uint8_t p[128];
	struct fs_flowkey f, r;

	f = key_of(p, packet(p, 6, TCP, A6, 5000, A6, 80));
	r = key_of(p, packet(p, 6, TCP, A6, 80, A6, 5000));
	assert_key_eq(&f, &r);
	cr_assert_eq(ntohs(f.port[0]), 80);
	cr_assert_eq(ntohs(f.port[1]), 5000);
}

Test(flowkey, ipv4_addresses_are_padded_with_zeros)
{
	uint8_t p[128];
	struct fs_flowkey k;
	static const uint8_t zero[12];

	k = key_of(p, packet(p, 4, UDP, A4, 1, B4, 2));
	cr_assert_eq(memcmp(k.addr[0] + 4, zero, 12), 0);
	cr_assert_eq(memcmp(k.addr[1] + 4, zero, 12), 0);
	cr_assert_eq(sizeof(k), 40);
}

Test(flowkey, ipv4_options_and_trailing_bytes)
{
	uint8_t p[128], t[64];
	size_t tlen = transport(t, UDP, 1111, 2222), len;
	struct fs_flowkey k;

	/* IHL 6: four bytes of options (NOP padding) before UDP. */
	len = ipv4(p, UDP, A4, B4, 0, (const uint8_t[]){ 1, 1, 1, 0 }, 4);
	memcpy(p + len, t, tlen);
	p[0] = 0x46;
	put16(p + 2, (uint16_t)(len + tlen));
	k = key_of(p, len + tlen);
	cr_assert_eq(ntohs(k.port[0]), 1111);
	cr_assert_eq(ntohs(k.port[1]), 2222);

	/* Bytes after the total length are not the packet's. */
	len = packet(p, 4, UDP, A4, 1111, B4, 2222);
	memset(p + len, 0xee, 16);
	k = key_of(p, len + 16);
	cr_assert_eq(ntohs(k.port[0]), 1111);
}

Test(flowkey, ipv4_fragments_fall_back_to_addresses)
{
	uint8_t p[128], t[64];
	size_t tlen = transport(t, UDP, 40001, 53);
	struct fs_flowkey first, later, reverse, whole;

	first = key_of(p, ipv4(p, UDP, A4, B4, 0x2000, t, tlen));		/* MF */
	later = key_of(p, ipv4(p, UDP, A4, B4, 185, t, tlen));		/* offset 1480 */
	reverse = key_of(p, ipv4(p, UDP, B4, A4, 0x2000 | 185, t, tlen));	/* MF and offset */
	whole = key_of(p, ipv4(p, UDP, A4, B4, 0x4000, t, tlen));		/* DF only */
	assert_key_eq(&first, &later);
	assert_key_eq(&first, &reverse);
	cr_assert_eq(first.flags, 0);
	cr_assert_eq(first.proto, UDP);
	cr_assert_eq(first.port[0] | first.port[1], 0);
	assert_addr(first.addr[0], 4, A4);
	assert_addr(first.addr[1], 4, B4);
	cr_assert_eq(whole.flags, FS_FLOWKEY_PORTS, "DF is not a fragment");
}

/* Extension header "type" of 8 * (units + 1) bytes (AH: 4 * (units + 2)) followed by "next". */
static size_t ext(uint8_t *p, uint8_t type, uint8_t next, uint8_t units)
{
	size_t len = type == AH ? 4 * ((size_t)units + 2) : 8 * ((size_t)units + 1);

	memset(p, 0, len);
	p[0] = next;
	p[1] = units;
	if (type != AH && len > 2) {
		p[2] = 1;			/* a PadN option filling the rest */
		p[3] = (uint8_t)(len - 4);
	}
	return len;
}

static size_t frag(uint8_t *p, uint8_t next, uint16_t offset, bool more)
{
	memset(p, 0, 8);
	p[0] = next;
	put16(p + 2, (uint16_t)(offset << 3 | more));
	p[4] = 0xde;
	p[7] = 0x42;	/* identification */
	return 8;
}

/* hop-by-hop, destination options (16 bytes), routing, AH, then UDP. */
static size_t ipv6_with_extensions(uint8_t *p, const char *src, uint16_t a, const char *dst,
				   uint16_t b)
{
	uint8_t payload[128];
	size_t off = 0;

	off += ext(payload + off, HOPOPTS, DSTOPTS, 0);
	off += ext(payload + off, DSTOPTS, ROUTING, 1);
	off += ext(payload + off, ROUTING, AH, 0);
	off += ext(payload + off, AH, UDP, 4);
	off += transport(payload + off, UDP, a, b);
	return ipv6(p, HOPOPTS, src, dst, payload, off);
}

Test(flowkey, ipv6_extension_headers_are_walked)
{
	uint8_t p[256];
	struct fs_flowkey plain, fwd, rev;

	plain = key_of(p, packet(p, 6, UDP, A6, 40001, B6, 53));
	fwd = key_of(p, ipv6_with_extensions(p, A6, 40001, B6, 53));
	rev = key_of(p, ipv6_with_extensions(p, B6, 53, A6, 40001));
	assert_key_eq(&fwd, &rev);
	assert_key_eq(&fwd, &plain);
	cr_assert_eq(fwd.proto, UDP);
	cr_assert_eq(ntohs(fwd.port[0]), 40001);
	cr_assert_eq(ntohs(fwd.port[1]), 53);
}

Test(flowkey, ipv6_fragments_fall_back_to_addresses)
{
	uint8_t p[256], payload[128];
	size_t off;
	struct fs_flowkey first, later, atomic, plain;

	/* hop-by-hop + destination options + fragment (offset 0, M) + UDP */
	off = ext(payload, HOPOPTS, DSTOPTS, 0);
	off += ext(payload + off, DSTOPTS, FRAGMENT, 0);
	off += frag(payload + off, UDP, 0, true);
	off += transport(payload + off, UDP, 40001, 53);
	first = key_of(p, ipv6(p, HOPOPTS, A6, B6, payload, off));
	cr_assert_eq(first.flags, 0);
	cr_assert_eq(first.proto, UDP);
	cr_assert_eq(first.port[0] | first.port[1], 0);

	/* A later fragment, the other way round, no transport header at all. */
	off = frag(payload, UDP, 185, false);
	memset(payload + off, 0xab, 16);
	later = key_of(p, ipv6(p, FRAGMENT, B6, A6, payload, off + 16));
	assert_key_eq(&first, &later);

	/* An atomic fragment (offset 0, M clear) is a whole packet: ports. */
	off = frag(payload, UDP, 0, false);
	off += transport(payload + off, UDP, 40001, 53);
	atomic = key_of(p, ipv6(p, FRAGMENT, A6, B6, payload, off));
	plain = key_of(p, packet(p, 6, UDP, A6, 40001, B6, 53));
	assert_key_eq(&atomic, &plain);
}

Test(flowkey, unknown_protocols_give_addresses_and_protocol)
{
	uint8_t p[128], t[16] = { 0xaa, 0xbb, 0xcc, 0xdd };
	static const uint8_t protos[] = { GRE, ESP, 200 };
	struct fs_flowkey f, r;

	for (size_t i = 0; i < sizeof(protos); ++i) {
		f = key_of(p, ipv4(p, protos[i], A4, B4, 0, t, sizeof(t)));
		r = key_of(p, ipv4(p, protos[i], B4, A4, 0, t, sizeof(t)));
		assert_key_eq(&f, &r);
		cr_assert_eq(f.proto, protos[i]);
		cr_assert_eq(f.flags, 0);
		cr_assert_eq(f.port[0] | f.port[1], 0);
		f = key_of(p, ipv6(p, protos[i], A6, B6, t, sizeof(t)));
		r = key_of(p, ipv6(p, protos[i], B6, A6, t, sizeof(t)));
		assert_key_eq(&f, &r);
		cr_assert_eq(f.proto, protos[i]);
	}
	/* ICMP over IPv6 and ICMPv6 over IPv4 are not echoes of that family. */
	f = key_of(p, ipv6(p, ICMP, A6, B6, (const uint8_t[]){ 8, 0, 0, 0, 0, 1, 0, 0 }, 8));
	cr_assert_eq(f.flags, 0);
	f = key_of(p, ipv6(p, NONE, A6, B6, NULL, 0));
	cr_assert_eq(f.proto, NONE);
}

Test(flowkey, too_many_extension_headers_give_addresses)
{
	uint8_t p[512], payload[400];
	size_t off = 0;
	struct fs_flowkey k;

	for (int i = 0; i < FS_FLOWKEY_MAX_EXTENSION_HEADERS + 2; ++i)
		off += ext(payload + off, DSTOPTS, DSTOPTS, 0);
	k = key_of(p, ipv6(p, DSTOPTS, A6, B6, payload, off));
	cr_assert_eq(k.flags, 0);
	cr_assert_eq(k.proto, DSTOPTS);
}

Test(flowkey, malformed_headers_are_refused)
{
	uint8_t p[128];
	struct fs_flowkey k;
	size_t len;

	len = packet(p, 4, UDP, A4, 1, B4, 2);
	p[0] = 0x55;				/* version 5 */
	cr_assert_not(parse(&k, p, len));
	p[0] = 0x44;				/* IHL 16 bytes */
	cr_assert_not(parse(&k, p, len));
	p[0] = 0x4f;				/* IHL 60 > total length 28 */
	cr_assert_not(parse(&k, p, len));
	p[0] = 0x45;
	put16(p + 2, (uint16_t)(len + 1));	/* total length beyond the buffer */
	cr_assert_not(parse(&k, p, len));
	put16(p + 2, 24);			/* UDP header cut by the total length */
	cr_assert_not(parse(&k, p, len));
	cr_assert(key_is_zero(&k), "a refused packet left a key behind");

	len = packet(p, 6, TCP, A6, 1, B6, 2);
	put16(p + 4, (uint16_t)(len - 40 + 1));	/* payload length beyond the buffer */
	cr_assert_not(parse(&k, p, len));
	put16(p + 4, 19);			/* TCP header of 19 bytes */
	cr_assert_not(parse(&k, p, len));

	/* An ICMPv6 echo needs 8 bytes, other ICMPv6 messages 4. */
	len = ipv6(p, ICMPV6, A6, B6, (const uint8_t[]){ 128, 0, 0, 0, 0, 1 }, 6);
	cr_assert_not(parse(&k, p, len));
	len = ipv6(p, ICMPV6, A6, B6, (const uint8_t[]){ 1, 0, 0, 0 }, 4);
	cr_assert(parse(&k, p, len));
	cr_assert_not(parse(&k, p, 0));
}

struct sample {
	const char *what;
	uint8_t bytes[256];
	size_t len;
	size_t needed;	/* the shortest packet that parses, cut with consistent lengths */
};

static void samples(struct sample *s, size_t *n)
{
	uint8_t payload[128], t[64];
	size_t off, tlen;

	*n = 0;
	s[*n] = (struct sample){ .what = "IPv4 TCP", .needed = 40 };
	s[*n].len = packet(s[*n].bytes, 4, TCP, A4, 1, B4, 2);
	++*n;
	s[*n] = (struct sample){ .what = "IPv4 ICMP echo", .needed = 28 };
	s[*n].len = packet(s[*n].bytes, 4, ICMP, A4, 8, B4, 9);
	++*n;
	s[*n] = (struct sample){ .what = "IPv4 options UDP", .needed = 32 };
	tlen = transport(t, UDP, 1, 2);
	memcpy(payload, (const uint8_t[]){ 1, 1, 1, 0 }, 4);
	memcpy(payload + 4, t, tlen);
	s[*n].len = ipv4(s[*n].bytes, UDP, A4, B4, 0, payload, 4 + tlen);
	s[*n].bytes[0] = 0x46;
	++*n;
	s[*n] = (struct sample){ .what = "IPv6 extension headers UDP" };
	s[*n].len = ipv6_with_extensions(s[*n].bytes, A6, 1, B6, 2);
	s[*n].needed = s[*n].len;
	++*n;
	s[*n] = (struct sample){ .what = "IPv6 fragment", .needed = 40 + 8 + 8 + 8 };
	off = ext(payload, HOPOPTS, DSTOPTS, 0);
	off += ext(payload + off, DSTOPTS, FRAGMENT, 0);
	off += frag(payload + off, UDP, 0, true);
	off += transport(payload + off, UDP, 1, 2);
	s[*n].len = ipv6(s[*n].bytes, HOPOPTS, A6, B6, payload, off);
	++*n;
	s[*n] = (struct sample){ .what = "IPv6 ICMPv6 echo", .needed = 48 };
	s[*n].len = packet(s[*n].bytes, 6, ICMPV6, A6, 128, B6, 9);
	++*n;
	s[*n] = (struct sample){ .what = "IPv6 SCTP", .needed = 52 };
	s[*n].len = packet(s[*n].bytes, 6, SCTP, A6, 1, B6, 2);
	++*n;
}

Test(flowkey, every_truncation_is_refused_without_reading_past_the_end)
{
	struct sample s[8];
	struct fs_flowkey k;
	size_t n;

	samples(s, &n);
	for (size_t i = 0; i < n; ++i) {
		cr_assert(parse(&k, s[i].bytes, s[i].len), "%s: the whole packet", s[i].what);
		for (size_t cut = 0; cut < s[i].len; ++cut) {
			uint8_t copy[256];
			bool ok;

			/* Cut short, the length fields still saying more. */
			cr_assert_not(parse(&k, s[i].bytes, cut), "%s: cut at %zu", s[i].what, cut);
			cr_assert(key_is_zero(&k));

			/* Cut short, the length fields agreeing with the cut. */
			memcpy(copy, s[i].bytes, cut);
			if (s[i].bytes[0] >> 4 == 4 && cut >= 4)
				put16(copy + 2, (uint16_t)cut);
			else if (s[i].bytes[0] >> 4 == 6 && cut >= 40)
				put16(copy + 4, (uint16_t)(cut - 40));
			ok = parse(&k, copy, cut);
			cr_assert_eq(ok, cut >= s[i].needed, "%s: consistent cut at %zu gave %d",
				     s[i].what, cut, ok);
		}
	}
}
