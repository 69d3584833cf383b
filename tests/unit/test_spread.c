// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The spread key and mapping: known answers computed outside this project,
 * both ends of real handshakes agreeing on every flow, sessions that do
 * not resemble each other, uniformity (chi-square), and the addresses
 * never being 0 or an RFC 2526 reserved anycast identifier, with the
 * resampling driven directly by a sampler that returns bad candidates.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include "leakcheck.h"
#include "helpers.h"
#include "addr.h"
#include "flowkey.h"
#include "spread.h"

FS_LEAK_CHECKED_SUITE(spread);

/*
 * Known answers from Python's hashlib.blake2s and hmac (not libb2, not
 * this project's HMAC), following spread.h word for word:
 *
 *   def HMAC(k, b): return hmac.new(k, b, hashlib.blake2s).digest()
 *   Ti = bytes(range(32)); Tr = bytes(range(32, 64))
 *   C = hashlib.blake2s(b"flowspread v1 spread key").digest()
 *   K = HMAC(HMAC(C, Ti + Tr), b"\x01")
 *   F = (bytes([192, 0, 2, 10]) + bytes(12) + bytes([198, 51, 100, 20]) + bytes(12)
 *        + struct.pack(">HH", 40001, 53) + bytes([4, 17, 1, 0]))
 *   d = hashlib.blake2s(b"F" + F, key=K, digest_size=8).digest()
 *   pair = struct.unpack("<Q", d)[0] % 1024
 *   H = hashlib.blake2s(b"P" + struct.pack("<IBI", pair, r, 0), key=K).digest()
 *   address = prefix | int.from_bytes(H[:16], "big") & host_mask
 *   port = low + struct.unpack("<Q", H[24:32])[0] % (high - low + 1)
 */
#define KAT_K "c672f7e993cd469ef363ef21a93d7e9c6a339368285bff16144a238b07fe8cd3"
#define KAT_F "c000020a000000000000000000000000c63364140000000000000000000000009c41003504110100"
#define KAT_PAIR 313
#define KAT_ADDR_0 "2001:db8:a:0:ffb2:ae3e:be79:2a4b"	/* role 0 from 2001:db8:a::/64 */
#define KAT_PORT_0 40476				/* role 0 from 40000-40999 */
#define KAT_ADDR_1 "2001:db8:b:0:cff8:62d7:aa42:a8b5"	/* role 1 from 2001:db8:b::/64 */
#define KAT_PORT_1 50091				/* role 1 from 50000-50099 */

static struct fs_prefix prefix(const char *text)
{
	struct fs_prefix p;
	char err[FS_ERRLEN];

	cr_assert(fs_prefix_parse(&p, text, err, sizeof(err)), "%s", err);
	return p;
}

static void address(uint8_t out[16], const struct fs_prefix *p, const char *text)
{
	memset(out, 0, 16);
	cr_assert_eq(inet_pton(p->family, text, out), 1, "bad test address %s", text);
}

static void assert_address(const struct fs_spread_end *end, const char *text)
{
	uint8_t want[16] = { 0 };
	char got[INET6_ADDRSTRLEN];

	cr_assert_eq(inet_pton(end->family, text, want), 1);
	inet_ntop(end->family, end->addr.bytes, got, sizeof(got));
	cr_assert_eq(memcmp(end->addr.bytes, want, 16), 0, "got %s, want %s", got, text);
}

static void assert_ends_equal(const struct fs_spread_end *a, const struct fs_spread_end *b,
			      size_t flow)
{
	cr_assert_eq(a->has_address, b->has_address, "flow %zu", flow);
	cr_assert_eq(a->prefix_index, b->prefix_index, "flow %zu", flow);
	cr_assert_eq(a->family, b->family, "flow %zu", flow);
	cr_assert_eq(memcmp(a->addr.bytes, b->addr.bytes, 16), 0, "flow %zu: addresses", flow);
	cr_assert_eq(a->port, b->port, "flow %zu: ports", flow);
}

/* The KAT key, derived through the API from the KAT transport keys. */
static void kat_key(uint8_t key[FS_SPREAD_KEY_LEN])
{
	uint8_t t_i[WG_KEY_LEN], t_r[WG_KEY_LEN];

	for (int i = 0; i < WG_KEY_LEN; ++i) {
		t_i[i] = (uint8_t)i;
		t_r[i] = (uint8_t)(32 + i);
	}
	cr_assert(fs_spread_key_derive(key, t_i, t_r, true));
}

Test(spread, known_answers)
{
	/* IPv4 UDP 198.51.100.20:53 -> 192.0.2.10:40001: the reply direction. */
	static const uint8_t reply[28] = {
		0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 198, 51, 100, 20, 192, 0, 2, 10,
		0, 53, 0x9c, 0x41, 0, 8, 0, 0,
	};
	struct fs_prefix pa = prefix("2001:db8:a::/64"), pb = prefix("2001:db8:b::/64");
	struct fs_spread_range ra = { &pa, 1, 40000, 40999 }, rb = { &pb, 1, 50000, 50099 };
	uint8_t key[FS_SPREAD_KEY_LEN], t_i[WG_KEY_LEN], t_r[WG_KEY_LEN];
	struct fs_flowkey flow;
	struct fs_spread_pair pair;

	kat_key(key);
	fs_assert_hex(key, FS_SPREAD_KEY_LEN, KAT_K);
	/* The responder holds the same keys the other way round. */
	for (int i = 0; i < WG_KEY_LEN; ++i) {
		t_i[i] = (uint8_t)i;
		t_r[i] = (uint8_t)(32 + i);
	}
	cr_assert(fs_spread_key_derive(key, t_r, t_i, false));
	fs_assert_hex(key, FS_SPREAD_KEY_LEN, KAT_K);

	cr_assert(fs_flowkey_from_packet(&flow, reply, sizeof(reply)));
	fs_assert_hex(&flow, sizeof(flow), KAT_F);
	cr_assert_eq(fs_spread_pair_index(key, &flow, 1024), KAT_PAIR);

	cr_assert(fs_spread_pair_derive(&pair, key, KAT_PAIR, FS_SPREAD_LOWER, &ra, &rb));
	cr_assert_eq(pair.index, KAT_PAIR);
	cr_assert(pair.local.has_address && pair.remote.has_address);
	cr_assert_eq(pair.local.family, AF_INET6);
	assert_address(&pair.local, KAT_ADDR_0);
	cr_assert_eq(pair.local.port, KAT_PORT_0);
	assert_address(&pair.remote, KAT_ADDR_1);
	cr_assert_eq(pair.remote.port, KAT_PORT_1);
}

Test(spread, roles_follow_public_key_order)
{
	uint8_t low[WG_KEY_LEN] = { 0 }, high[WG_KEY_LEN] = { 0 };

	low[31] = 1;
	high[31] = 2;
	cr_assert_eq(fs_spread_role(low, high), FS_SPREAD_LOWER);
	cr_assert_eq(fs_spread_role(high, low), FS_SPREAD_HIGHER);
	low[0] = 0x80;	/* the first differing byte decides */
	cr_assert_eq(fs_spread_role(low, high), FS_SPREAD_HIGHER);
	cr_assert_eq(fs_spread_role(high, low), FS_SPREAD_LOWER);
}

/* The spread keys and roles of both sides after a handshake from "from". */
struct session {
	uint8_t key_a[FS_SPREAD_KEY_LEN], key_b[FS_SPREAD_KEY_LEN];
	enum fs_spread_role role_a, role_b;
};

static void session_begin(struct session *s, struct fs_test_pair *pair, bool a_initiates,
			  uint64_t now)
{
	struct fs_noise_keypair *ka, *kb;

	if (a_initiates) {
		fs_test_handshake_between(pair, &pair->a, &pair->b, now);
		ka = pair->a.peer->current;
		kb = pair->b.peer->next;	/* the responder's waits for a first message */
	} else {
		fs_test_handshake_between(pair, &pair->b, &pair->a, now);
		ka = pair->a.peer->next;
		kb = pair->b.peer->current;
	}
	cr_assert(ka && kb);
	cr_assert_eq(ka->i_am_the_initiator, a_initiates);
	cr_assert(fs_spread_key_derive(s->key_a, ka->sending_key, ka->receiving_key,
				       ka->i_am_the_initiator));
	cr_assert(fs_spread_key_derive(s->key_b, kb->sending_key, kb->receiving_key,
				       kb->i_am_the_initiator));
	s->role_a = fs_spread_role(pair->a.identity->public_key, pair->b.identity->public_key);
	s->role_b = fs_spread_role(pair->b.identity->public_key, pair->a.identity->public_key);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * Flow number i as a packet from (src, sport) to (dst, dport): IPv6 UDP,
 * IPv4 TCP or IPv6 ICMPv6 echo, addresses and ports from the generator.
 */
struct flow {
	int kind;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
};

static struct flow random_flow(uint64_t *rng)
{
	struct flow f;
	uint64_t r = fs_test_rand(rng);

	memset(&f, 0, sizeof(f));
	f.kind = (int)(r % 3);
	for (int i = 0; i < 16; i += 8) {
		uint64_t s = fs_test_rand(rng), d = fs_test_rand(rng);

		memcpy(f.src + i, &s, 8);
		memcpy(f.dst + i, &d, 8);
	}
	f.sport = (uint16_t)(r >> 16);
	f.dport = (uint16_t)(r >> 32);
	return f;
}

static size_t flow_packet(uint8_t *p, const struct flow *f, bool reverse)
{
	const uint8_t *src = reverse ? f->dst : f->src, *dst = reverse ? f->src : f->dst;
	uint16_t sport = reverse ? f->dport : f->sport, dport = reverse ? f->sport : f->dport;

	memset(p, 0, 80);
	if (f->kind == 1) {	/* IPv4 TCP */
		p[0] = 0x45;
		put16(p + 2, 40);
		p[9] = 6;
		memcpy(p + 12, src, 4);
		memcpy(p + 16, dst, 4);
		put16(p + 20, sport);
		put16(p + 22, dport);
		return 40;
	}
	p[0] = 0x60;
	put16(p + 4, 8);
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	if (f->kind == 0) {	/* UDP */
		p[6] = 17;
		put16(p + 40, sport);
		put16(p + 42, dport);
	} else {		/* ICMPv6 echo request, reply the other way */
		p[6] = 58;
		p[40] = reverse ? 129 : 128;
		put16(p + 44, f->sport);
	}
	return 48;
}

static struct fs_flowkey flow_key(const struct flow *f, bool reverse)
{
	uint8_t p[80];
	struct fs_flowkey key;

	cr_assert(fs_flowkey_from_packet(&key, p, flow_packet(p, f, reverse)));
	return key;
}

Test(spread, both_ends_agree_on_every_flow_of_a_session)
{
	struct fs_prefix a_prefixes[] = { prefix("2001:db8:a::/64"), prefix("2001:db8:a1::/64") };
	struct fs_prefix b_prefixes[] = {
		prefix("2001:db8:b::/64"), prefix("2001:db8:b1::/56"), prefix("2001:db8:b2::/120"),
	};
	struct fs_spread_range ra = { a_prefixes, 2, 40000, 40999 };
	struct fs_spread_range rb = { b_prefixes, 3, 50000, 50099 };
	static bool seen[1024];
	struct fs_test_pair tp;
	struct session s;
	uint64_t rng = 1;
	size_t distinct = 0;

	fs_test_pair_init(&tp);
	session_begin(&s, &tp, true, FS_TEST_SEC(100));
	fs_assert_bytes(s.key_a, s.key_b, FS_SPREAD_KEY_LEN);
	cr_assert_not(fs_test_all_zero(s.key_a, FS_SPREAD_KEY_LEN));
	cr_assert_neq(s.role_a, s.role_b);

	for (size_t i = 0; i < 10000; ++i) {
		struct flow f = random_flow(&rng);
		struct fs_flowkey fa = flow_key(&f, false), fb = flow_key(&f, true);
		uint32_t ia = fs_spread_pair_index(s.key_a, &fa, 1024);
		uint32_t ib = fs_spread_pair_index(s.key_b, &fb, 1024);
		struct fs_spread_pair pa, pb;

		cr_assert_eq(ia, ib, "flow %zu: pair %u at a, %u at b", i, ia, ib);
		cr_assert_lt(ia, 1024);
		cr_assert(fs_spread_pair_derive(&pa, s.key_a, ia, s.role_a, &ra, &rb));
		cr_assert(fs_spread_pair_derive(&pb, s.key_b, ib, s.role_b, &rb, &ra));
		/* Mirrored: a's source is b's destination and the other way round. */
		assert_ends_equal(&pa.local, &pb.remote, i);
		assert_ends_equal(&pa.remote, &pb.local, i);
		cr_assert(fs_prefix_contains(&a_prefixes[pa.local.prefix_index], AF_INET6,
					     pa.local.addr.bytes));
		cr_assert(fs_prefix_contains(&b_prefixes[pa.remote.prefix_index], AF_INET6,
					     pa.remote.addr.bytes));
		cr_assert(pa.local.port >= 40000 && pa.local.port <= 40999);
		cr_assert(pa.remote.port >= 50000 && pa.remote.port <= 50099);
		if (!seen[ia]) {
			seen[ia] = true;
			++distinct;
		}
	}
	/* 10,000 flows onto 1024 pairs: all but about 1024 * e^-9.8 get used. */
	cr_assert_geq(distinct, 1015, "only %zu of 1024 pairs used", distinct);
	fs_test_pair_free(&tp);
}

Test(spread, sessions_give_unrelated_mappings)
{
	struct fs_prefix pa = prefix("2001:db8:a::/64");
	struct fs_spread_range ra = { &pa, 1, 0, 0 };
	struct fs_test_pair tp;
	struct session one, two;
	uint64_t rng = 2;
	size_t same_index = 0, same_address = 0;

	fs_test_pair_init(&tp);
	session_begin(&one, &tp, true, FS_TEST_SEC(100));
	session_begin(&two, &tp, false, FS_TEST_SEC(300));	/* a rekey, b initiating */
	fs_assert_bytes(two.key_a, two.key_b, FS_SPREAD_KEY_LEN);
	cr_assert_neq(memcmp(one.key_a, two.key_a, FS_SPREAD_KEY_LEN), 0);
	cr_assert_eq(one.role_a, two.role_a, "roles follow the static keys, not the initiator");

	for (size_t i = 0; i < 10000; ++i) {
		struct flow f = random_flow(&rng);
		struct fs_flowkey k = flow_key(&f, false);

		same_index += fs_spread_pair_index(one.key_a, &k, 1024) ==
			      fs_spread_pair_index(two.key_a, &k, 1024);
	}
	/* Unrelated: 1 in 1024 by chance, about 10; at most 1% allowed. */
	cr_assert_lt(same_index, 100, "%zu of 10000 flows kept their pair", same_index);
	cr_log_info("spread: %zu of 10000 flows kept their pair index across sessions",
		    same_index);

	/* The same pair number is another address in another session. */
	for (uint32_t index = 0; index < 1024; ++index) {
		struct fs_spread_end e1, e2;

		cr_assert(fs_spread_end_derive(&e1, one.key_a, index, one.role_a, &ra));
		cr_assert(fs_spread_end_derive(&e2, two.key_a, index, two.role_a, &ra));
		same_address += !memcmp(e1.addr.bytes, e2.addr.bytes, 16);
	}
	cr_assert_eq(same_address, 0);
	fs_test_pair_free(&tp);
}

/*
 * Chi-square over 1024 buckets (1023 degrees of freedom). Critical values
 * at p = 0.001 by the Wilson-Hilferty approximation,
 * k (1 - 2/(9k) +- z sqrt(2/(9k)))^3 with z = 3.0902: 1168.5 above and
 * 888.9 below (too even would be as suspicious as too uneven).
 */
Test(spread, pairs_are_uniform_over_a_million_flows)
{
	static uint32_t count[1024];
	const double expected = 1000000.0 / 1024;
	uint8_t key[FS_SPREAD_KEY_LEN];
	uint64_t rng = 3;
	double chi2 = 0;

	kat_key(key);
	for (size_t i = 0; i < 1000000; ++i) {
		struct fs_flowkey k;
		uint64_t a = fs_test_rand(&rng), b = fs_test_rand(&rng), r = fs_test_rand(&rng);

		memset(&k, 0, sizeof(k));
		memcpy(k.addr[0], &a, 8);
		memcpy(k.addr[1], &b, 8);
		k.port[0] = (uint16_t)r;
		k.port[1] = (uint16_t)(r >> 16);
		k.version = 6;
		k.proto = 17;
		k.flags = FS_FLOWKEY_PORTS;
		++count[fs_spread_pair_index(key, &k, 1024)];
	}
	for (size_t b = 0; b < 1024; ++b)
		chi2 += (count[b] - expected) * (count[b] - expected) / expected;
	cr_log_info("spread: chi-square %.1f over 1024 buckets (1023 dof)", chi2);
	cr_assert_lt(chi2, 1168.5, "chi-square %.1f: not uniform", chi2);
	cr_assert_gt(chi2, 888.9, "chi-square %.1f: too even to be a hash", chi2);
}

static bool iid_reserved(const uint8_t address[16])
{
	static const uint8_t anycast[7] = { 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t zero[8];

	return !memcmp(address + 8, zero, 8) ||
	       (!memcmp(address + 8, anycast, 7) && address[15] >= 0x80);
}

Test(spread, no_reserved_identifier_over_a_million_pairs)
{
	struct fs_prefix p64 = prefix("2001:db8:a::/64");
	struct fs_spread_range range = { &p64, 1, 0, 0 };
	uint8_t key[FS_SPREAD_KEY_LEN];

	kat_key(key);
	for (uint32_t index = 0; index < 1000000; ++index) {
		struct fs_spread_end end;

		cr_assert(fs_spread_end_derive(&end, key, index, index & 1, &range));
		cr_assert(end.has_address);
		cr_assert_not(iid_reserved(end.addr.bytes), "pair %u", index);
		cr_assert(fs_prefix_contains(&p64, AF_INET6, end.addr.bytes), "pair %u", index);
	}
}

/* A /120 whose interface identifiers reach into the anycast range: half the candidates are bad. */
Test(spread, narrow_prefix_is_resampled_into_its_valid_half)
{
	struct fs_prefix p = prefix("2001:db8::fdff:ffff:ffff:ff00/120");
	struct fs_spread_range range = { &p, 1, 0, 0 };
	static uint32_t count[256];
	uint8_t key[FS_SPREAD_KEY_LEN];

	kat_key(key);
	for (uint32_t index = 0; index < 100000; ++index) {
		struct fs_spread_end end;

		cr_assert(fs_spread_end_derive(&end, key, index, FS_SPREAD_HIGHER, &range));
		cr_assert(fs_prefix_contains(&p, AF_INET6, end.addr.bytes));
		++count[end.addr.bytes[15]];
	}
	cr_assert_eq(count[0], 0, "the all-zero host part was used");
	for (int host = 1; host < 0x80; ++host)
		cr_assert_gt(count[host], 0, "host %d never used", host);
	for (int host = 0x80; host < 0x100; ++host)
		cr_assert_eq(count[host], 0, "reserved anycast host %#x used", host);
}

struct forced {
	const uint8_t (*bad)[16];
	size_t nbad;
	uint8_t good[16];
	uint32_t calls;
};

static void forced_sample(uint8_t host[16], uint32_t attempt, void *ctx)
{
	struct forced *f = ctx;

	cr_assert_eq(attempt, f->calls, "attempts are numbered in order");
	++f->calls;
	memcpy(host, attempt < f->nbad ? f->bad[attempt] : f->good, 16);
}

Test(spread, bad_candidates_are_resampled)
{
	static const uint8_t bad[][16] = {
		{ [8] = 0 },	/* IID 0 */
		{ [8] = 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80 },
		{ [8] = 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe },	/* Mobile IPv6 HA */
		{ [8] = 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0 },
	};
	static const uint8_t zeros[FS_SPREAD_HOST_ATTEMPTS][16];
	struct fs_prefix p64 = prefix("2001:db8::/64");
	struct fs_prefix unusable = prefix("2001:db8::fdff:ffff:ffff:ff80/121");
	struct forced f = { bad, 5, { [8] = 1, 2, 3, 4, 5, 6, 7, 8 }, 0 };
	uint8_t out[16], want[16];

	cr_assert(fs_spread_address_pick(out, &p64, forced_sample, &f));
	cr_assert_eq(f.calls, 6, "a good sixth candidate took %u samples", f.calls);
	address(want, &p64, "2001:db8::102:304:506:708");
	cr_assert_eq(memcmp(out, want, 16), 0);

	/* Nothing but bad candidates: the host part 1, after every attempt. */
	f = (struct forced){ zeros, FS_SPREAD_HOST_ATTEMPTS, { 0 }, 0 };
	cr_assert(fs_spread_address_pick(out, &p64, forced_sample, &f));
	cr_assert_eq(f.calls, FS_SPREAD_HOST_ATTEMPTS);
	address(want, &p64, "2001:db8::1");
	cr_assert_eq(memcmp(out, want, 16), 0);

	/* A prefix made only of reserved identifiers has no address to give. */
	f = (struct forced){ bad, 0, { [15] = 0x01 }, 0 };
	cr_assert_not(fs_spread_address_pick(out, &unusable, forced_sample, &f));
	cr_assert_not(fs_spread_prefix_usable(&unusable));
}

Test(spread, address_validity)
{
	static const struct {
		const char *prefix, *address;
		bool valid;
	} cases[] = {
		{ "2001:db8::/64", "2001:db8::", false },
		{ "2001:db8::/64", "2001:db8::1", true },
		{ "2001:db8::/64", "2001:db8::fdff:ffff:ffff:ff7f", true },
		{ "2001:db8::/64", "2001:db8::fdff:ffff:ffff:ff80", false },
		{ "2001:db8::/64", "2001:db8::fdff:ffff:ffff:fffe", false },
		{ "2001:db8::/64", "2001:db8::fdff:ffff:ffff:ffff", false },
		{ "2001:db8::/64", "2001:db8::ffff:ffff:ffff:ffff", true },	/* u/l bit set */
		{ "2001:db8::/64", "2001:db8::fcff:ffff:ffff:ff80", true },
		{ "2001:db8::/48", "2001:db8:0:1::", false },			/* IID 0 */
		{ "2001:db8::/48", "2001:db8:0:1::1", true },
		{ "2001:db8::/48", "2001:db8:0:1:fdff:ffff:ffff:ff90", false },
		{ "2001:db8::fdff:ffff:ffff:ff00/120", "2001:db8::fdff:ffff:ffff:ff00", false },
		{ "2001:db8::fdff:ffff:ffff:ff00/120", "2001:db8::fdff:ffff:ffff:ff01", true },
		{ "2001:db8::fdff:ffff:ffff:ff00/120", "2001:db8::fdff:ffff:ffff:ff7f", true },
		{ "2001:db8::fdff:ffff:ffff:ff00/120", "2001:db8::fdff:ffff:ffff:ff80", false },
		{ "2001:db8::1:0/112", "2001:db8::1:0", false },
		{ "2001:db8::1:0/112", "2001:db8::1:ffff", true },
		{ "2001:db8::5/128", "2001:db8::5", true },
		{ "192.0.2.0/24", "192.0.2.0", false },
		{ "192.0.2.0/24", "192.0.2.1", true },
		{ "192.0.2.0/24", "192.0.2.254", true },
		{ "192.0.2.0/24", "192.0.2.255", false },
		{ "192.0.2.0/31", "192.0.2.0", true },
		{ "192.0.2.0/31", "192.0.2.1", true },
		{ "192.0.2.7/32", "192.0.2.7", true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
		struct fs_prefix p = prefix(cases[i].prefix);
		uint8_t a[16];

		address(a, &p, cases[i].address);
		cr_assert_eq(fs_spread_address_valid(&p, a), cases[i].valid, "%s in %s",
			     cases[i].address, cases[i].prefix);
	}
	cr_assert(fs_spread_prefix_usable(&(struct fs_prefix){ 0 }) == false);
	cr_assert(fs_spread_prefix_usable(&(struct fs_prefix){ .family = AF_INET6, .cidr = 64 }));
	cr_assert(fs_spread_prefix_usable(&(struct fs_prefix){ .family = AF_INET6, .cidr = 127 }));
	cr_assert(fs_spread_prefix_usable(&(struct fs_prefix){ .family = AF_INET, .cidr = 24 }));
}

Test(spread, ports_and_prefixes_stay_in_range)
{
	struct fs_prefix ps[] = {
		prefix("2001:db8:a::/64"), prefix("2001:db8:b::/64"), prefix("192.0.2.0/24"),
	};
	struct fs_spread_range range = { ps, 3, 40000, 40999 };
	struct fs_spread_range one_port = { NULL, 0, 5000, 5000 }, none = { NULL, 0, 0, 0 };
	struct fs_spread_range reversed = { NULL, 0, 6000, 5000 };
	uint32_t per_prefix[3] = { 0 };
	uint16_t low = UINT16_MAX, high = 0;
	uint8_t key[FS_SPREAD_KEY_LEN];
	struct fs_spread_end end;

	kat_key(key);
	for (uint32_t index = 0; index < 90000; ++index) {
		cr_assert(fs_spread_end_derive(&end, key, index, FS_SPREAD_LOWER, &range));
		cr_assert_lt(end.prefix_index, 3);
		cr_assert(fs_prefix_contains(&ps[end.prefix_index], end.family, end.addr.bytes));
		cr_assert(fs_spread_address_valid(&ps[end.prefix_index], end.addr.bytes));
		cr_assert(end.port >= 40000 && end.port <= 40999, "port %u", end.port);
		++per_prefix[end.prefix_index];
		low = end.port < low ? end.port : low;
		high = end.port > high ? end.port : high;
	}
	cr_assert_eq(low, 40000);
	cr_assert_eq(high, 40999);
	for (int i = 0; i < 3; ++i)
		cr_assert(per_prefix[i] > 29000 && per_prefix[i] < 31000, "prefix %d: %u", i,
			  per_prefix[i]);

	cr_assert(fs_spread_end_derive(&end, key, 7, FS_SPREAD_LOWER, &one_port));
	cr_assert_eq(end.port, 5000);
	cr_assert_not(end.has_address);
	cr_assert(fs_spread_end_derive(&end, key, 7, FS_SPREAD_LOWER, &none));
	cr_assert_eq(end.port, 0);
	cr_assert_not(fs_spread_end_derive(&end, key, 7, FS_SPREAD_LOWER, &reversed));
	/* spread_pairs of 1 (or 0) puts every flow on pair 0. */
	cr_assert_eq(fs_spread_pair_index(key, &(struct fs_flowkey){ .version = 4 }, 1), 0);
	cr_assert_eq(fs_spread_pair_index(key, &(struct fs_flowkey){ .version = 4 }, 0), 0);
}

Test(spread, all_zero_secrets_are_refused)
{
	static const uint8_t zero[WG_KEY_LEN];
	static const char *const low_order[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	};
	uint8_t key[FS_SPREAD_KEY_LEN], t[WG_KEY_LEN];
	struct fs_test_pair tp;

	memset(t, 0x11, sizeof(t));
	memset(key, 0xaa, sizeof(key));
	cr_assert_not(fs_spread_key_derive(key, zero, t, true));
	cr_assert(fs_test_all_zero(key, sizeof(key)), "a refused key was left behind");
	memset(key, 0xaa, sizeof(key));
	cr_assert_not(fs_spread_key_derive(key, t, zero, false));
	cr_assert(fs_test_all_zero(key, sizeof(key)));

	/*
	 * An all-zero DH result never makes a session: noise.c refuses a peer
	 * whose public key has low order, so there is no keypair to derive from.
	 */
	fs_test_pair_init(&tp);
	for (size_t i = 0; i < sizeof(low_order) / sizeof(low_order[0]); ++i) {
		struct wg_message_handshake_initiation msg;
		uint8_t point[WG_KEY_LEN], ts[WG_TIMESTAMP_LEN];
		struct fs_noise_peer *peer;

		fs_test_unhex(point, sizeof(point), low_order[i]);
		peer = fs_noise_peer_new(tp.a.identity, point, NULL, NULL);
		if (!peer)
			continue;
		fs_test_next_timestamp(&tp, ts);
		cr_assert_not(fs_noise_create_initiation(peer, &msg, tp.a.table, ts),
			      "point %zu: initiated toward a low-order key", i);
		cr_assert_null(peer->current);
		fs_noise_peer_free(peer, tp.a.table);
	}
	fs_test_pair_free(&tp);
}
