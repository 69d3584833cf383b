// SPDX-License-Identifier: GPL-2.0-or-later
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include "leakcheck.h"
#include "addr.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

FS_LEAK_CHECKED_SUITE(addr);
#define NO_SUCH_SCOPE 4000000000u	/* an interface index no host has */

struct endpoint_case {
	const char *text;
	int family;
	const char *addr;
	uint16_t port;
	uint32_t scope;
	const char *formatted;		/* NULL: formats back as text */
};

struct bad_case {
	const char *text;
	const char *message;		/* NULL: any message, as long as there is one */
};

static const struct endpoint_case good_endpoints[] = {
	{ "192.0.2.1:51820", AF_INET, "192.0.2.1", 51820, 0, NULL },
	{ "0.0.0.0:0", AF_INET, "0.0.0.0", 0, 0, NULL },
	{ "255.255.255.255:65535", AF_INET, "255.255.255.255", 65535, 0, NULL },
	{ "198.51.100.7:00053", AF_INET, "198.51.100.7", 53, 0, "198.51.100.7:53" },
	{ "[2001:db8::1]:51820", AF_INET6, "2001:db8::1", 51820, 0, NULL },
	{ "[2001:DB8::A]:1", AF_INET6, "2001:db8::a", 1, 0, "[2001:db8::a]:1" },
	{ "[::1]:0", AF_INET6, "::1", 0, 0, NULL },
	{ "[::ffff:192.0.2.1]:53", AF_INET6, "::ffff:192.0.2.1", 53, 0, NULL },
	{ "[fe80::1%4000000000]:51820", AF_INET6, "fe80::1", 51820, NO_SUCH_SCOPE, NULL },
};

static const struct bad_case bad_endpoints[] = {
	{ "192.0.2.1",
	  "endpoint \"192.0.2.1\" has no port: expected ADDR:PORT or [ADDR]:PORT" },
	{ "192.0.2.1:",
	  "endpoint \"192.0.2.1:\" has no port: expected ADDR:PORT or [ADDR]:PORT" },
	{ "192.0.2.1:65536",
	  "endpoint \"192.0.2.1:65536\" has invalid port \"65536\": expected 0..65535" },
	{ "[192.0.2.1]:51820",
	  "endpoint \"[192.0.2.1]:51820\" puts an IPv4 address in brackets: expected ADDR:PORT" },
	{ "vpn.example.com:51820",
	  "endpoint \"vpn.example.com:51820\" has invalid address \"vpn.example.com\": "
	  "expected a numeric IPv4 address (names are not resolved)" },
	{ "2001:db8::1:51820",
	  "endpoint \"2001:db8::1:51820\" has an IPv6 address without brackets: "
	  "expected [ADDR]:PORT" },
	{ "[fe80::1%no-such-if9]:51820",
	  "endpoint \"[fe80::1%no-such-if9]:51820\" has invalid scope \"no-such-if9\": "
	  "expected an interface name or index" },
	{ "192.0.2.1:\x01",
	  "endpoint \"192.0.2.1:?\" has invalid port \"?\": expected 0..65535" },
	{ "", NULL },
	{ ":51820", NULL },
	{ "localhost:51820", NULL },
	{ "192.0.2.1:-1", NULL },
	{ "192.0.2.1:+1", NULL },
	{ "192.0.2.1: 1", NULL },
	{ "192.0.2.1:0x10", NULL },
	{ "192.0.2.1:http", NULL },
	{ "192.0.2.1:99999999999999999999", NULL },
	{ "192.0.2:51820", NULL },
	{ "256.0.2.1:51820", NULL },
	{ "01.0.2.1:51820", NULL },
	{ "192.0.2.1%lo:51820", NULL },
	{ " 192.0.2.1:51820", NULL },
	{ "[2001:db8::1]", NULL },
	{ "[2001:db8::1]51820", NULL },
	{ "[2001:db8::1]:", NULL },
	{ "[2001:db8::1:51820", NULL },
	{ "[2001:db8::1]]:51820", NULL },
	{ "[]:51820", NULL },
	{ "[fe80::1%]:51820", NULL },
	{ "[fe80::1%99999999999]:51820", NULL },
	{ "[2001:db8::g]:51820", NULL },
	{ "[[2001:db8::1]]:51820", NULL },
	{ "[2001:db8::1]:51820 ", NULL },
	{ "[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000]:1", NULL },
};

static void check_good_endpoint(const struct endpoint_case *c)
{
	char err[FS_ERRLEN] = "", text[FS_ENDPOINT_STRLEN];
	union fs_sockaddr ep, want;

	memset(&want, 0, sizeof(want));
	want.sa.sa_family = (sa_family_t)c->family;
	if (c->family == AF_INET) {
		want.in.sin_port = htons(c->port);
		cr_assert_eq(inet_pton(AF_INET, c->addr, &want.in.sin_addr), 1);
	} else {
		want.in6.sin6_port = htons(c->port);
		want.in6.sin6_scope_id = c->scope;
		cr_assert_eq(inet_pton(AF_INET6, c->addr, &want.in6.sin6_addr), 1);
	}
	cr_assert(fs_endpoint_parse(&ep, c->text, err, sizeof(err)), "%s: %s", c->text, err);
	cr_assert(!memcmp(&ep, &want, sizeof(ep)), "%s: parsed into the wrong sockaddr", c->text);
	cr_assert(fs_endpoint_equal(&ep, &want));
	cr_assert_str_eq(fs_endpoint_format(text, &ep), c->formatted ? c->formatted : c->text);
}

Test(addr, endpoint_valid)
{
	for (size_t i = 0; i < ARRAY_SIZE(good_endpoints); ++i)
		check_good_endpoint(&good_endpoints[i]);
}

Test(addr, endpoint_invalid_leaves_output_alone)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_endpoints); ++i) {
		const struct bad_case *c = &bad_endpoints[i];
		char err[FS_ERRLEN] = "";
		union fs_sockaddr ep, before;

		memset(&ep, 0xa5, sizeof(ep));
		before = ep;
		cr_assert_not(fs_endpoint_parse(&ep, c->text, err, sizeof(err)),
			      "accepted bad endpoint \"%s\"", c->text);
		cr_assert(!memcmp(&ep, &before, sizeof(ep)), "\"%s\" changed the output", c->text);
		if (c->message)
			cr_assert_str_eq(err, c->message);
		else
			cr_assert(strstr(err, "endpoint \"") == err && strstr(err, "expected"),
				  "\"%s\" gave message \"%s\"", c->text, err);
	}
}

Test(addr, endpoint_error_without_buffer)
{
	union fs_sockaddr ep;

	cr_assert_not(fs_endpoint_parse(&ep, "192.0.2.1", NULL, 0));
	cr_assert(fs_endpoint_parse(&ep, "192.0.2.1:1", NULL, 0));
}

Test(addr, endpoint_long_value_is_cut_in_messages)
{
	char text[600], err[FS_ERRLEN];
	union fs_sockaddr ep;

	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	cr_assert_not(fs_endpoint_parse(&ep, text, err, sizeof(err)));
	cr_assert(strstr(err, "...\""), "no cut marker in \"%s\"", err);
	cr_assert(strstr(err, "expected"), "the reason was cut from \"%s\"", err);
}

Test(addr, endpoint_scope_by_interface_name)
{
	unsigned int lo = if_nametoindex("lo");
	char err[FS_ERRLEN] = "", text[FS_ENDPOINT_STRLEN];
	union fs_sockaddr ep;

	cr_assert_neq(lo, 0, "no loopback interface");
	cr_assert(fs_endpoint_parse(&ep, "[fe80::1%lo]:51820", err, sizeof(err)), "%s", err);
	cr_assert_eq(ep.in6.sin6_scope_id, lo);
	cr_assert_str_eq(fs_endpoint_format(text, &ep), "[fe80::1%lo]:51820");

	/* A numeric scope naming an existing index formats as its name. */
	snprintf(text, sizeof(text), "[fe80::2%%%u]:7", lo);
	cr_assert(fs_endpoint_parse(&ep, text, err, sizeof(err)), "%s", err);
	cr_assert_eq(ep.in6.sin6_scope_id, lo);
	cr_assert_str_eq(fs_endpoint_format(text, &ep), "[fe80::2%lo]:7");
}

Test(addr, endpoint_equal_compares_every_field)
{
	union fs_sockaddr a, b, c, d, e, unspec;

	cr_assert(fs_endpoint_parse(&a, "[fe80::1%1]:51820", NULL, 0));
	cr_assert(fs_endpoint_parse(&b, "[fe80::1%1]:51820", NULL, 0));
	cr_assert(fs_endpoint_parse(&c, "[fe80::1%2]:51820", NULL, 0));
	cr_assert(fs_endpoint_parse(&d, "[fe80::1%1]:51821", NULL, 0));
	cr_assert(fs_endpoint_parse(&e, "[fe80::2%1]:51820", NULL, 0));
	cr_assert(fs_endpoint_equal(&a, &b));
	cr_assert_not(fs_endpoint_equal(&a, &c), "scope ignored");
	cr_assert_not(fs_endpoint_equal(&a, &d), "port ignored");
	cr_assert_not(fs_endpoint_equal(&a, &e), "address ignored");

	cr_assert(fs_endpoint_parse(&a, "192.0.2.1:53", NULL, 0));
	cr_assert(fs_endpoint_parse(&b, "192.0.2.1:53", NULL, 0));
	cr_assert(fs_endpoint_parse(&c, "192.0.2.2:53", NULL, 0));
	cr_assert(fs_endpoint_parse(&d, "192.0.2.1:54", NULL, 0));
	cr_assert(fs_endpoint_parse(&e, "[::ffff:192.0.2.1]:53", NULL, 0));
	cr_assert(fs_endpoint_equal(&a, &b));
	cr_assert_not(fs_endpoint_equal(&a, &c));
	cr_assert_not(fs_endpoint_equal(&a, &d));
	cr_assert_not(fs_endpoint_equal(&a, &e), "v4 equal to its v4-mapped v6 form");

	memset(&unspec, 0, sizeof(unspec));
	cr_assert_not(fs_endpoint_equal(&unspec, &unspec), "an unset endpoint matched");
}

Test(addr, sockaddr_len_by_family)
{
	union fs_sockaddr ep;
	char text[FS_ENDPOINT_STRLEN];

	cr_assert(fs_endpoint_parse(&ep, "192.0.2.1:1", NULL, 0));
	cr_assert_eq(fs_sockaddr_len(&ep), sizeof(struct sockaddr_in));
	cr_assert(fs_endpoint_parse(&ep, "[2001:db8::1]:1", NULL, 0));
	cr_assert_eq(fs_sockaddr_len(&ep), sizeof(struct sockaddr_in6));
	memset(&ep, 0, sizeof(ep));
	cr_assert_eq(fs_sockaddr_len(&ep), 0);
	cr_assert_str_eq(fs_endpoint_format(text, &ep), "");
}

Test(addr, endpoint_longest_form_fits)
{
	union fs_sockaddr ep;
	char text[FS_ENDPOINT_STRLEN];

	memset(&ep, 0, sizeof(ep));
	ep.in6.sin6_family = AF_INET6;
	ep.in6.sin6_port = htons(65535);
	ep.in6.sin6_scope_id = UINT32_MAX;
	cr_assert_eq(inet_pton(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
			       &ep.in6.sin6_addr), 1);
	fs_endpoint_format(text, &ep);
	cr_assert_str_eq(text, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535");
}

/* --- prefixes ---------------------------------------------------------------- */

struct prefix_case {
	const char *text;
	int family;
	uint8_t cidr;
	const char *formatted;		/* as kept: host bits and all */
	const char *masked;
};

static const struct prefix_case good_prefixes[] = {
	{ "198.51.100.0/24", AF_INET, 24, "198.51.100.0/24", "198.51.100.0/24" },
	{ "10.1.2.3/8", AF_INET, 8, "10.1.2.3/8", "10.0.0.0/8" },
	{ "10.255.255.255/9", AF_INET, 9, "10.255.255.255/9", "10.128.0.0/9" },
	{ "192.0.2.1", AF_INET, 32, "192.0.2.1/32", "192.0.2.1/32" },
	{ "0.0.0.0/0", AF_INET, 0, "0.0.0.0/0", "0.0.0.0/0" },
	{ "1.2.3.4/0", AF_INET, 0, "1.2.3.4/0", "0.0.0.0/0" },
	{ "10.0.0.0/024", AF_INET, 24, "10.0.0.0/24", "10.0.0.0/24" },
	{ "2001:db8::/64", AF_INET6, 64, "2001:db8::/64", "2001:db8::/64" },
	{ "2001:db8::ffff/127", AF_INET6, 127, "2001:db8::ffff/127", "2001:db8::fffe/127" },
	{ "2001:db8:1:2:ffff::1/65", AF_INET6, 65, "2001:db8:1:2:ffff::1/65",
	  "2001:db8:1:2:8000::/65" },
	{ "2001:DB8::1", AF_INET6, 128, "2001:db8::1/128", "2001:db8::1/128" },
	{ "::/0", AF_INET6, 0, "::/0", "::/0" },
	{ "::ffff:10.0.0.1/128", AF_INET6, 128, "::ffff:10.0.0.1/128", "::ffff:10.0.0.1/128" },
};

static const struct bad_case bad_prefixes[] = {
	{ "10.0.0.0/33", "prefix \"10.0.0.0/33\" has invalid length \"33\": expected 0..32" },
	{ "2001:db8::/129",
	  "prefix \"2001:db8::/129\" has invalid length \"129\": expected 0..128" },
	{ "fe80::1%eth0/64",
	  "prefix \"fe80::1%eth0/64\" has invalid address \"fe80::1%eth0\": "
	  "expected a numeric IPv4 or IPv6 address" },
	{ "example.com/24", NULL },
	{ "", NULL },
	{ "/24", NULL },
	{ "10.0.0.0/", NULL },
	{ "10.0.0.0/-1", NULL },
	{ "10.0.0.0/+1", NULL },
	{ "10.0.0.0/ 8", NULL },
	{ "10.0.0.0/8 ", NULL },
	{ "10.0.0.0/24/1", NULL },
	{ "10.0.0.0/4294967304", NULL },
	{ "10.0.0/8", NULL },
	{ "010.0.0.0/8", NULL },
	{ "2001:db8:::/64", NULL },
	{ "[2001:db8::]/64", NULL },
	{ "10.0.0.0:80/8", NULL },
	{ "0000:0000:0000:0000:0000:0000:0000:0000:0000/64", NULL },
};

Test(addr, prefix_valid_keeps_host_bits_until_masked)
{
	for (size_t i = 0; i < ARRAY_SIZE(good_prefixes); ++i) {
		const struct prefix_case *c = &good_prefixes[i];
		char err[FS_ERRLEN] = "", text[FS_PREFIX_STRLEN];
		struct fs_prefix prefix;

		cr_assert(fs_prefix_parse(&prefix, c->text, err, sizeof(err)), "%s: %s", c->text,
			  err);
		cr_assert_eq(prefix.family, c->family, "%s", c->text);
		cr_assert_eq(prefix.cidr, c->cidr, "%s", c->text);
		cr_assert_str_eq(fs_prefix_format(text, &prefix), c->formatted);
		fs_prefix_mask(&prefix);
		cr_assert_str_eq(fs_prefix_format(text, &prefix), c->masked);
	}
}

Test(addr, prefix_invalid)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_prefixes); ++i) {
		const struct bad_case *c = &bad_prefixes[i];
		char err[FS_ERRLEN] = "";
		struct fs_prefix prefix, before;

		memset(&prefix, 0x5a, sizeof(prefix));
		before = prefix;
		cr_assert_not(fs_prefix_parse(&prefix, c->text, err, sizeof(err)),
			      "accepted bad prefix \"%s\"", c->text);
		cr_assert(!memcmp(&prefix, &before, sizeof(prefix)), "\"%s\" changed the output",
			  c->text);
		if (c->message)
			cr_assert_str_eq(err, c->message);
		else
			cr_assert(strstr(err, "prefix \"") == err && strstr(err, "expected"),
				  "\"%s\" gave message \"%s\"", c->text, err);
	}
}

static struct fs_prefix prefix_of(const char *text)
{
	struct fs_prefix prefix;
	char err[FS_ERRLEN] = "";

	cr_assert(fs_prefix_parse(&prefix, text, err, sizeof(err)), "%s: %s", text, err);
	return prefix;
}

static bool contains_text(const char *prefix, const char *address)
{
	struct fs_prefix p = prefix_of(prefix);
	uint8_t bytes[16];
	int family = strchr(address, ':') ? AF_INET6 : AF_INET;

	cr_assert_eq(inet_pton(family, address, bytes), 1, "bad test address %s", address);
	return fs_prefix_contains(&p, family, bytes);
}

Test(addr, prefix_contains_boundaries)
{
	cr_assert(contains_text("10.0.0.0/8", "10.255.1.1"));
	cr_assert_not(contains_text("10.0.0.0/8", "11.0.0.0"));
	cr_assert_not(contains_text("10.0.0.0/8", "9.255.255.255"));
	cr_assert(contains_text("10.9.9.9/8", "10.0.0.1"), "host bits of the prefix counted");
	cr_assert(contains_text("192.0.2.1", "192.0.2.1"));
	cr_assert_not(contains_text("192.0.2.1", "192.0.2.0"));
	cr_assert(contains_text("0.0.0.0/0", "255.255.255.255"));
	cr_assert_not(contains_text("0.0.0.0/0", "::1"), "IPv4 prefix contains an IPv6 address");
	cr_assert_not(contains_text("::/0", "10.0.0.1"), "IPv6 prefix contains an IPv4 address");
	cr_assert(contains_text("2001:db8:1:2::/65", "2001:db8:1:2:7fff::1"));
	cr_assert_not(contains_text("2001:db8:1:2::/65", "2001:db8:1:2:8000::"));
	cr_assert(contains_text("2001:db8::/32", "2001:db8:ffff::"));
	cr_assert_not(contains_text("2001:db8::/32", "2001:db9::"));
	cr_assert(contains_text("2001:db8::1/128", "2001:db8::1"));
	cr_assert_not(contains_text("2001:db8::1/128", "2001:db8::"));
}

struct overlap_case {
	const char *a, *b;
	bool overlap;
};

static const struct overlap_case overlaps[] = {
	{ "10.0.0.0/8", "10.1.0.0/16", true },
	{ "10.0.0.0/16", "10.1.0.0/16", false },
	{ "10.1.2.3/8", "10.9.9.9/8", true },
	{ "0.0.0.0/0", "192.0.2.1/32", true },
	{ "192.0.2.1/32", "192.0.2.1/32", true },
	{ "192.0.2.1/32", "192.0.2.2/32", false },
	{ "10.0.0.0/8", "::/0", false },
	{ "2001:db8::/64", "2001:db8::1:0:0:0/64", true },
	{ "2001:db8::/64", "2001:db8:0:1::/64", false },
	{ "2001:db8::/48", "2001:db8:0:ffff::/64", true },
	{ "2001:db8::/120", "2001:db8::100/120", false },
	{ "::/0", "2001:db8::1", true },
};

Test(addr, prefix_overlap_is_symmetric)
{
	for (size_t i = 0; i < ARRAY_SIZE(overlaps); ++i) {
		struct fs_prefix a = prefix_of(overlaps[i].a), b = prefix_of(overlaps[i].b);

		cr_assert_eq(fs_prefix_overlap(&a, &b), overlaps[i].overlap, "%s vs %s",
			     overlaps[i].a, overlaps[i].b);
		cr_assert_eq(fs_prefix_overlap(&b, &a), overlaps[i].overlap, "%s vs %s",
			     overlaps[i].b, overlaps[i].a);
	}
}

/* A deliberately naive reference: compare bit by bit. */
static bool naive_contains(const uint8_t *prefix, unsigned int cidr, const uint8_t *addr)
{
	for (unsigned int bit = 0; bit < cidr; ++bit) {
		unsigned int byte = bit / 8, shift = 7 - bit % 8;

		if ((prefix[byte] >> shift & 1) != (addr[byte] >> shift & 1))
			return false;
	}
	return true;
}

static uint64_t xorshift(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* Random bytes, but near the prefix often enough that both answers occur. */
static void random_near(uint8_t *out, const uint8_t *near, uint64_t *state)
{
	for (size_t i = 0; i < 16; ++i)
		out[i] = xorshift(state) % 4 ? near[i] : (uint8_t)xorshift(state);
}

Test(addr, prefix_contains_and_mask_match_naive_reference)
{
	uint64_t state = 0x9e3779b97f4a7c15ULL;
	size_t hits = 0;

	for (size_t i = 0; i < 20000; ++i) {
		struct fs_prefix p, masked;
		uint8_t addr[16];
		int family = i % 2 ? AF_INET6 : AF_INET;
		unsigned int max = family == AF_INET ? 32 : 128;

		memset(&p, 0, sizeof(p));
		p.family = family;
		p.cidr = (uint8_t)(xorshift(&state) % (max + 1));
		for (size_t j = 0; j < max / 8; ++j)
			p.addr.bytes[j] = (uint8_t)xorshift(&state);
		random_near(addr, p.addr.bytes, &state);
		masked = p;
		fs_prefix_mask(&masked);
		cr_assert_eq(fs_prefix_contains(&p, family, addr),
			     naive_contains(p.addr.bytes, p.cidr, addr), "case %zu", i);
		cr_assert_eq(fs_prefix_contains(&masked, family, addr),
			     naive_contains(p.addr.bytes, p.cidr, addr), "case %zu masked", i);
		cr_assert(naive_contains(p.addr.bytes, p.cidr, masked.addr.bytes));
		cr_assert(naive_contains(masked.addr.bytes, max, masked.addr.bytes));
		for (unsigned int bit = p.cidr; bit < 128; ++bit)
			cr_assert_eq(masked.addr.bytes[bit / 8] >> (7 - bit % 8) & 1, 0,
				     "case %zu: host bit %u left set", i, bit);
		hits += fs_prefix_contains(&p, family, addr);
	}
	cr_assert(hits > 1000 && hits < 19000, "the random cases are one-sided: %zu hits", hits);
}
