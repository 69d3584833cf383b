// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The bounded endpoint table (endpoint.h), with time scripted in ns: the
 * bound under a million random sources, prefix entries, exact LRU
 * eviction, the rate of new entries, the attacker who races authentic
 * copies from fresh sources, failover under scripted timeouts, the order
 * by freshness and RTT, the trust window, endpoint_limit 0,
 * reconfiguration, and the endpoint_state lines character for character.
 *
 * The table is only ever told about authenticated packets; the tests that
 * model a network put the replay check (a naive set of counters seen) in
 * front of it, where the daemon has it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "clock.h"
#include "endpoint.h"
#include "leakcheck.h"

#define MS FS_NSEC_PER_MSEC
#define SEC FS_NSEC_PER_SEC
#define WINDOW ((uint64_t)FS_ENDPOINT_TRUST_WINDOW_SEC * SEC)
#define T0 (1000 * SEC)		/* boottime well past zero */

FS_LEAK_CHECKED_SUITE(endpoint);

static union fs_sockaddr ep(const char *text)
{
	char err[FS_ERRLEN] = "";
	union fs_sockaddr a;

	cr_assert(fs_endpoint_parse(&a, text, err, sizeof(err)), "%s: %s", text, err);
	return a;
}

static struct fs_prefix pfx(const char *text)
{
	char err[FS_ERRLEN] = "";
	struct fs_prefix p;

	cr_assert(fs_prefix_parse(&p, text, err, sizeof(err)), "%s: %s", text, err);
	return p;
}

/* endpoint (or NULL), alts (NULL-terminated), prefixes (NULL-terminated). */
static struct fs_endpoints_config config(const char *endpoint, const char *const *alts,
					 const char *const *prefixes, uint32_t limit)
{
	struct fs_endpoints_config c;

	memset(&c, 0, sizeof(c));
	if (endpoint) {
		c.has_endpoint = true;
		c.endpoint = ep(endpoint);
	}
	for (; alts && *alts; ++alts)
		c.endpoint_alt[c.n_endpoint_alt++] = ep(*alts);
	for (; prefixes && *prefixes; ++prefixes)
		c.spread_prefixes[c.n_spread_prefixes++] = pfx(*prefixes);
	c.endpoint_limit = limit;
	return c;
}

static struct fs_endpoints *table_new(const struct fs_endpoints_config *c, uint64_t now)
{
	struct fs_endpoints *t = fs_endpoints_new(c, now);

	cr_assert_not_null(t, "fs_endpoints_new: %s", strerror(errno));
	return t;
}

static int learn(struct fs_endpoints *t, const char *src, uint64_t now)
{
	union fs_sockaddr a = ep(src);

	return fs_endpoints_learn(t, &a, NULL, now);
}

/* The entry whose address is text, or -1. */
static int find(const struct fs_endpoints *t, const char *text)
{
	union fs_sockaddr a = ep(text);

	for (int i = 0; i < (int)fs_endpoints_size(t); ++i)
		if (fs_endpoint_equal(&fs_endpoints_entry(t, i)->addr, &a))
			return i;
	return -1;
}

static const char *addr_of(const struct fs_endpoints *t, int i, char out[FS_ENDPOINT_STRLEN])
{
	if (!fs_endpoints_entry(t, i))
		return "(none)";
	return fs_endpoint_format(out, &fs_endpoints_entry(t, i)->addr);
}

static void assert_current(const struct fs_endpoints *t, const char *text)
{
	char buf[FS_ENDPOINT_STRLEN];
	int cur = fs_endpoints_current(t);

	cr_assert(cur >= 0 && cur == find(t, text), "current is %s, expected %s",
		  addr_of(t, cur, buf), text);
}

static void assert_target(const struct fs_endpoints *t, uint64_t now, const char *text)
{
	char buf[FS_ENDPOINT_STRLEN];
	int target = fs_endpoints_handshake_target(t, now);

	cr_assert(target >= 0 && target == find(t, text), "target is %s, expected %s",
		  addr_of(t, target, buf), text);
}

/* The failover order as "a b c". */
static void assert_order(const struct fs_endpoints *t, uint64_t now, const char *expected)
{
	int order[FS_ENDPOINT_MAX_ENTRIES];
	size_t n = fs_endpoints_failover_order(t, now, order, FS_ENDPOINT_MAX_ENTRIES);
	char got[FS_ENDPOINT_MAX_ENTRIES * FS_ENDPOINT_STRLEN] = "", buf[FS_ENDPOINT_STRLEN];

	for (size_t i = 0; i < n; ++i) {
		if (i)
			strcat(got, " ");
		strcat(got, addr_of(t, order[i], buf));
	}
	cr_assert_str_eq(got, expected);
}

static const char *state_of(const struct fs_endpoints *t, const char *text, uint64_t now)
{
	int i = find(t, text);

	cr_assert_geq(i, 0, "%s is not in the table", text);
	return fs_endpoint_state_name(fs_endpoints_state(t, i, now));
}

static void assert_line(const struct fs_endpoints *t, const char *text, uint64_t now,
			const char *expected)
{
	char line[FS_ENDPOINT_STATE_STRLEN];
	int i = find(t, text);

	cr_assert_geq(i, 0, "%s is not in the table", text);
	cr_assert(fs_endpoints_format_state(t, i, now, line));
	cr_assert_str_eq(line, expected);
}

/* One handshake through the current target, answered from its own address after rtt. */
static void handshake_via_target(struct fs_endpoints *t, uint64_t now, uint64_t rtt)
{
	int target = fs_endpoints_handshake_target(t, now);
	union fs_sockaddr a;

	cr_assert_geq(target, 0);
	a = fs_endpoints_entry(t, target)->addr;
	fs_endpoints_handshake_sent(t, target, now);
	fs_endpoints_handshake_complete(t, &a, NULL, now + rtt);
}

/* --- a small deterministic generator ----------------------------------------- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t x = rng_state;	/* xorshift64 */

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static union fs_sockaddr random_source(void)
{
	union fs_sockaddr a;
	uint64_t r = rng();

	memset(&a, 0, sizeof(a));
	if (r & 1) {
		a.in.sin_family = AF_INET;
		a.in.sin_addr.s_addr = (uint32_t)(r >> 16);
		a.in.sin_port = (uint16_t)(r >> 48);
	} else {
		uint64_t lo = rng();

		a.in6.sin6_family = AF_INET6;
		memcpy(&a.in6.sin6_addr.s6_addr[0], &r, 8);
		memcpy(&a.in6.sin6_addr.s6_addr[8], &lo, 8);
		a.in6.sin6_addr.s6_addr[0] = 0x20;	/* never inside the test prefixes */
		a.in6.sin6_addr.s6_addr[1] = 0x01;
		a.in6.sin6_addr.s6_addr[2] = 0x0d;
		a.in6.sin6_addr.s6_addr[3] = 0xb9;
		a.in6.sin6_port = (uint16_t)(lo >> 48);
	}
	return a;
}

/* --- layout and memory ----------------------------------------------------------- */

Test(endpoint, memory_per_peer)
{
	/* The figures endpoint.h states. */
	cr_assert_eq(sizeof(struct fs_endpoint_entry), 80);
	cr_assert_eq(fs_endpoints_memory_for(1, 0, FS_ENDPOINT_LIMIT_DEFAULT), 848);
	cr_assert_eq(fs_endpoints_memory_for(1 + FS_MAX_ENDPOINT_ALT, FS_MAX_PREFIXES,
					     FS_ENDPOINT_LIMIT_MAX), 8272);
	cr_assert_eq(FS_ENDPOINT_MAX_ENTRIES, 98);
}

Test(endpoint, new_table_layout)
{
	static const char *const alts[] = { "192.0.2.7:51820", "[2001:db8::1]:51820",
					     "[2001:db8::2]:51821", "192.0.2.7:51820", NULL };
	static const char *const prefixes[] = { "2001:db8:ff::/64", "198.51.100.0/24",
						 "2001:db8:ff::1/64", NULL };
	struct fs_endpoints_config c = config("[2001:db8::1]:51820", alts, prefixes, 8);
	struct fs_endpoints *t = table_new(&c, T0);

	/* Duplicate alts and prefixes are skipped: 3 configured, 2 prefixes, 8 + 1 slots. */
	cr_assert_eq(fs_endpoints_size(t), 3 + 2 + 8 + 1);
	cr_assert_eq(fs_endpoints_memory(t), fs_endpoints_memory_for(3, 2, 8));
	cr_assert_eq(fs_endpoints_limit(t), 8);
	cr_assert_eq(fs_endpoints_entry(t, 0)->origin, FS_ENDPOINT_CONFIGURED);
	cr_assert_eq(find(t, "192.0.2.7:51820"), 1);
	cr_assert_eq(fs_endpoints_entry(t, 1)->origin, FS_ENDPOINT_ALT);
	cr_assert_eq(find(t, "[2001:db8::2]:51821"), 2);
	cr_assert_eq(fs_endpoints_entry(t, 3)->origin, FS_ENDPOINT_PREFIX);
	cr_assert_eq(fs_endpoints_prefix(t, 3)->cidr, 64);
	cr_assert_eq(fs_endpoints_prefix(t, 4)->family, AF_INET);
	cr_assert_null(fs_endpoints_prefix(t, 2));
	cr_assert_null(fs_endpoints_prefix(t, 5));
	cr_assert_eq(fs_endpoints_entry(t, 5)->origin, FS_ENDPOINT_LEARNED);
	cr_assert_eq(fs_endpoints_entry(t, 13)->origin, FS_ENDPOINT_ROAMING);
	cr_assert_null(fs_endpoints_entry(t, 14));
	cr_assert_null(fs_endpoints_entry(t, -1));
	cr_assert_eq(fs_endpoints_count(t), 3);	/* empty prefix entries have no line */
	assert_current(t, "[2001:db8::1]:51820");
	assert_order(t, T0, "[2001:db8::1]:51820 192.0.2.7:51820 [2001:db8::2]:51821");
	cr_assert_str_eq(state_of(t, "192.0.2.7:51820", T0), "untried");
	fs_endpoints_free(t);
}

Test(endpoint, invalid_config_refused)
{
	struct fs_endpoints_config c = config(NULL, NULL, NULL, FS_ENDPOINT_LIMIT_MAX + 1);

	errno = 0;
	cr_assert_null(fs_endpoints_new(&c, T0));
	cr_assert_eq(errno, EINVAL);
	c.endpoint_limit = 0;
	c.n_endpoint_alt = 1;	/* an AF_UNSPEC alt */
	errno = 0;
	cr_assert_null(fs_endpoints_new(&c, T0));
	cr_assert_eq(errno, EINVAL);
}

Test(endpoint, no_configuration_learns_like_wireguard)
{
	struct fs_endpoints_config c = config(NULL, NULL, NULL, FS_ENDPOINT_LIMIT_DEFAULT);
	struct fs_endpoints *t = table_new(&c, T0);
	union fs_sockaddr unix_src = { .sa.sa_family = AF_UNIX };

	cr_assert_eq(fs_endpoints_current(t), -1);
	cr_assert_eq(fs_endpoints_handshake_target(t, T0), -1);
	cr_assert_eq(fs_endpoints_count(t), 0);
	cr_assert_eq(fs_endpoints_learn(t, &unix_src, NULL, T0), -1);
	cr_assert_eq(fs_endpoints_count(t), 0);
	learn(t, "203.0.113.9:1024", T0);
	assert_current(t, "203.0.113.9:1024");
	assert_target(t, T0, "203.0.113.9:1024");	/* the current one, unconfirmed */
	cr_assert_str_eq(state_of(t, "203.0.113.9:1024", T0), "unconfirmed");
	fs_endpoints_free(t);
}

/* --- the bound ---------------------------------------------------------------------- */

static void check_invariants(const struct fs_endpoints *t, const struct fs_endpoints_config *c,
			     size_t memory)
{
	size_t n = fs_endpoints_size(t), nonempty = 0, learned = 0;
	int n_cfg = 1 + (int)c->n_endpoint_alt, first_learned = n_cfg + (int)c->n_spread_prefixes;

	cr_assert_eq(n, (size_t)first_learned + c->endpoint_limit + 1);
	cr_assert_eq(fs_endpoints_memory(t), memory);
	cr_assert(fs_endpoint_equal(&fs_endpoints_entry(t, 0)->addr, &c->endpoint));
	cr_assert_eq(fs_endpoints_entry(t, 0)->origin, FS_ENDPOINT_CONFIGURED);
	for (size_t i = 0; i < c->n_endpoint_alt; ++i) {
		const struct fs_endpoint_entry *e = fs_endpoints_entry(t, 1 + (int)i);

		cr_assert(fs_endpoint_equal(&e->addr, &c->endpoint_alt[i]), "alt %zu lost", i);
		cr_assert_eq(e->origin, FS_ENDPOINT_ALT);
	}
	for (int i = 0; i < (int)n; ++i) {
		const struct fs_endpoint_entry *e = fs_endpoints_entry(t, i);
		const struct fs_prefix *p = fs_endpoints_prefix(t, i);

		if (e->addr.sa.sa_family == AF_UNSPEC)
			continue;
		++nonempty;
		if (i >= first_learned && i < (int)n - 1) {
			cr_assert_eq(e->origin, FS_ENDPOINT_LEARNED);
			++learned;
		}
		if (p)
			cr_assert(fs_prefix_contains(p, e->addr.sa.sa_family,
						     e->addr.sa.sa_family == AF_INET ?
						     (const void *)&e->addr.in.sin_addr :
						     (const void *)&e->addr.in6.sin6_addr));
		for (int j = 0; j < i; ++j)
			cr_assert(!fs_endpoint_equal(&fs_endpoints_entry(t, j)->addr, &e->addr),
				  "entries %d and %d have the same address", j, i);
	}
	cr_assert_eq(fs_endpoints_entry(t, (int)n - 1)->origin, FS_ENDPOINT_ROAMING);
	cr_assert_leq(learned, c->endpoint_limit);
	cr_assert_eq(fs_endpoints_count(t), nonempty);
	cr_assert_geq(fs_endpoints_current(t), 0);
	cr_assert_neq(fs_endpoints_entry(t, fs_endpoints_current(t))->addr.sa.sa_family, AF_UNSPEC);
}

Test(endpoint, million_random_sources_stay_bounded, .timeout = 60)
{
	static const char *const alts[] = {
		"192.0.2.1:1", "192.0.2.2:2", "192.0.2.3:3", "192.0.2.4:4", "192.0.2.5:5",
		"192.0.2.6:6", "192.0.2.7:7", "192.0.2.8:8", "[2001:db8::1]:1", "[2001:db8::2]:2",
		"[2001:db8::3]:3", "[2001:db8::4]:4", "[2001:db8::5]:5", "[2001:db8::6]:6",
		"[2001:db8::7]:7", "[2001:db8::8]:8", NULL };
	static const char *const prefixes[] = { "2001:db8:ff::/64", "198.51.100.0/24", NULL };
	static const uint32_t limits[] = { FS_ENDPOINT_LIMIT_MAX, FS_ENDPOINT_LIMIT_DEFAULT };
	union fs_sockaddr recent[32];

	for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); ++l) {
		struct fs_endpoints_config c = config("[2001:db8::99]:51820", alts, prefixes,
						      limits[l]);
		struct fs_endpoints *t = table_new(&c, T0);
		size_t memory = fs_endpoints_memory(t), n = l ? 200000 : 1000000;
		size_t confirmed = 0, failed = 0, most = fs_endpoints_count(t);
		uint64_t now = T0;

		rng_state = 0x9e3779b97f4a7c15ULL + l;
		for (size_t k = 0; k < 32; ++k)
			recent[k] = random_source();
		for (size_t k = 1; k <= n; ++k) {
			uint64_t r = rng();
			union fs_sockaddr src;

			now += r % (2 * MS);
			switch ((r >> 32) % 20) {
			case 0:		/* inside the peer's IPv6 prefix */
				src = ep("[2001:db8:ff::1]:51820");
				memcpy(&src.in6.sin6_addr.s6_addr[8], &r, 8);
				break;
			case 1:		/* a source seen lately */
				src = recent[(r >> 40) % 32];
				break;
			case 2:		/* a configured one */
				src = c.endpoint_alt[(r >> 40) % c.n_endpoint_alt];
				break;
			default:
				src = random_source();
				recent[(r >> 40) % 32] = src;
				break;
			}
			cr_assert_geq(fs_endpoints_learn(t, &src, NULL, now), 0);
			if ((r >> 50) % 1000 == 0) {	/* now and then a handshake */
				int target = fs_endpoints_handshake_target(t, now);

				fs_endpoints_handshake_sent(t, target, now);
				if (r & (1ULL << 62)) {
					fs_endpoints_handshake_timeout(t, now + 5 * SEC);
					failed += fs_endpoints_entry(t, target)->failures != 0;
				} else
					fs_endpoints_handshake_complete(t, &src, NULL, now + MS);
			}
			if (fs_endpoints_count(t) > most)
				most = fs_endpoints_count(t);
			if (k % 10000 == 0)
				check_invariants(t, &c, memory);
		}
		/* The high-water mark the daemon reports is the most ever held, exactly. */
		cr_assert_eq(fs_endpoints_count_max(t), most, "count_max %zu, most seen %zu",
			     fs_endpoints_count_max(t), most);
		cr_assert_leq(most, fs_endpoints_size(t));
		/* It churned: every learned slot full, handshakes confirmed and timed out. */
		for (int i = 0; i < (int)fs_endpoints_size(t); ++i) {
			const struct fs_endpoint_entry *e = fs_endpoints_entry(t, i);

			if (e->origin == FS_ENDPOINT_LEARNED)
				cr_assert_neq(e->addr.sa.sa_family, AF_UNSPEC);
			confirmed += e->confirmed;
		}
		cr_assert_gt(confirmed, 0);
		cr_assert_gt(failed, 0);
		fs_endpoints_free(t);
	}
}

/*
 * The learned and roaming slots against a deliberately naive model: a list
 * of (source, last receive) pairs, the roaming source, and the token bucket
 * written out again. Time moves strictly forward, so receives never tie.
 */
struct model {
	union fs_sockaddr src[FS_ENDPOINT_LIMIT_MAX];
	uint64_t rx[FS_ENDPOINT_LIMIT_MAX];
	size_t n, limit;
	bool has_roaming;
	union fs_sockaddr roaming;
	double tokens;
	uint64_t last;
};

static void model_learn(struct model *m, const union fs_sockaddr *src, uint64_t now)
{
	size_t i, oldest = 0;

	for (i = 0; i < m->n; ++i) {
		if (fs_endpoint_equal(&m->src[i], src)) {
			m->rx[i] = now;
			return;
		}
	}
	m->tokens += (double)(now - m->last) / SEC * FS_ENDPOINT_NEW_PER_SECOND;
	if (m->tokens > FS_ENDPOINT_NEW_BURST)
		m->tokens = FS_ENDPOINT_NEW_BURST;
	m->last = now;
	if (!m->limit || m->tokens < 1.0) {
		m->has_roaming = true;
		m->roaming = *src;
		return;
	}
	m->tokens -= 1.0;
	if (m->has_roaming && fs_endpoint_equal(&m->roaming, src))
		m->has_roaming = false;
	if (m->n < m->limit) {
		m->src[m->n] = *src;
		m->rx[m->n++] = now;
		return;
	}
	for (i = 1; i < m->n; ++i)
		if (m->rx[i] < m->rx[oldest])
			oldest = i;
	m->src[oldest] = *src;
	m->rx[oldest] = now;
}

static void model_compare(const struct fs_endpoints *t, const struct model *m)
{
	int roam = (int)fs_endpoints_size(t) - 1;
	size_t n = 0;

	for (int i = 0; i < roam; ++i) {
		const struct fs_endpoint_entry *e = fs_endpoints_entry(t, i);
		size_t j = 0;

		if (e->addr.sa.sa_family == AF_UNSPEC)
			continue;
		++n;
		while (j < m->n && !fs_endpoint_equal(&m->src[j], &e->addr))
			++j;
		cr_assert_lt(j, m->n, "slot %d holds a source the model evicted", i);
		cr_assert_eq(m->rx[j], e->last_rx);
	}
	cr_assert_eq(n, m->n);
	cr_assert_eq(m->has_roaming,
		     fs_endpoints_entry(t, roam)->addr.sa.sa_family != AF_UNSPEC);
	if (m->has_roaming)
		cr_assert(fs_endpoint_equal(&m->roaming, &fs_endpoints_entry(t, roam)->addr));
}

Test(endpoint, learned_slots_match_a_naive_model)
{
	static const uint32_t limits[] = { 0, 1, 3, 8, FS_ENDPOINT_LIMIT_MAX };
	union fs_sockaddr pool[100];

	rng_state = 12345;
	for (size_t k = 0; k < 100; ++k)
		pool[k] = random_source();
	for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); ++l) {
		struct fs_endpoints_config c = config(NULL, NULL, NULL, limits[l]);
		struct fs_endpoints *t = table_new(&c, T0);
		struct model m = { .limit = limits[l], .tokens = FS_ENDPOINT_NEW_BURST, .last = T0 };
		uint64_t now = T0;

		for (size_t k = 0; k < 20000; ++k) {
			uint64_t r = rng();
			const union fs_sockaddr *src = &pool[(r >> 8) % (k % 2 ? 100 : 12)];

			now += 1 + r % (400 * MS);
			fs_endpoints_learn(t, src, NULL, now);
			model_learn(&m, src, now);
			model_compare(t, &m);
			cr_assert(fs_endpoint_equal(&fs_endpoints_entry(t, fs_endpoints_current(t))->addr,
						    src));
		}
		fs_endpoints_free(t);
	}
}

Test(endpoint, prefix_sources_touch_only_the_prefix_entry)
{
	static const char *const prefixes[] = { "2001:db8:ff::/64", "198.51.100.0/24", NULL };
	struct fs_endpoints_config c = config("[2001:db8::1]:51820", NULL, prefixes, 8);
	struct fs_endpoints *t = table_new(&c, T0);
	uint64_t now = T0;
	char text[FS_ENDPOINT_STRLEN];

	for (unsigned int k = 0; k < 10000; ++k) {
		now += MS;
		snprintf(text, sizeof(text), "[2001:db8:ff::%x:%x]:%u", k >> 8, k, 1024 + k);
		cr_assert_eq(learn(t, text, now), 1);
		snprintf(text, sizeof(text), "198.51.100.%u:%u", k % 256, 1024 + k);
		cr_assert_eq(learn(t, text, now), 2);
	}
	cr_assert_eq(fs_endpoints_count(t), 3);	/* endpoint and two prefix entries */
	cr_assert_eq(fs_endpoints_count_max(t), 3);	/* filling a prefix entry counts */
	for (int i = 3; i < (int)fs_endpoints_size(t); ++i)
		cr_assert_eq(fs_endpoints_entry(t, i)->addr.sa.sa_family, AF_UNSPEC);
	cr_assert_eq(find(t, "[2001:db8:ff::27:270f]:11023"), 1);	/* the latest */
	cr_assert_eq(find(t, "198.51.100.15:11023"), 2);
	assert_current(t, "198.51.100.15:11023");
	assert_line(t, "198.51.100.15:11023", now + 7 * MS, "198.51.100.15:11023,prefix,7,-,unconfirmed");
	/* Just outside: a learned entry. */
	cr_assert_eq(learn(t, "[2001:db8:fe::1]:1", now), 3);
	cr_assert_eq(fs_endpoints_entry(t, 3)->origin, FS_ENDPOINT_LEARNED);
	cr_assert_eq(fs_endpoints_count_max(t), 4);
	fs_endpoints_free(t);
}

Test(endpoint, lru_eviction_exact)
{
	struct fs_endpoints_config c = config("[2001:db8::1]:51820", NULL, NULL, 3);
	struct fs_endpoints *t = table_new(&c, T0);

	/* One second apart: the bucket always has a token. Slots are 1, 2, 3. */
	cr_assert_eq(learn(t, "203.0.113.1:1", T0 + 1 * SEC), 1);
	cr_assert_eq(learn(t, "203.0.113.2:2", T0 + 2 * SEC), 2);
	cr_assert_eq(learn(t, "203.0.113.3:3", T0 + 3 * SEC), 3);
	cr_assert_eq(learn(t, "203.0.113.1:1", T0 + 4 * SEC), 1);	/* refreshed */
	cr_assert_eq(learn(t, "[2001:db8::1]:51820", T0 + 5 * SEC), 0);	/* configured: no slot */
	cr_assert_eq(learn(t, "203.0.113.4:4", T0 + 6 * SEC), 2);	/* evicts .2 */
	cr_assert_eq(find(t, "203.0.113.2:2"), -1);
	cr_assert_eq(learn(t, "203.0.113.5:5", T0 + 7 * SEC), 3);	/* evicts .3 */
	cr_assert_eq(learn(t, "203.0.113.6:6", T0 + 8 * SEC), 1);	/* evicts .1 */
	cr_assert_eq(learn(t, "203.0.113.4:4", T0 + 9 * SEC), 2);
	cr_assert_eq(learn(t, "203.0.113.7:7", T0 + 10 * SEC), 3);	/* evicts .5 */
	cr_assert_eq(find(t, "203.0.113.4:4"), 2);
	cr_assert_eq(find(t, "203.0.113.6:6"), 1);
	cr_assert_eq(find(t, "203.0.113.7:7"), 3);
	cr_assert_eq(fs_endpoints_count(t), 4);
	cr_assert_eq(find(t, "[2001:db8::1]:51820"), 0);	/* configured never evicted */
	fs_endpoints_free(t);
}

Test(endpoint, new_entries_at_a_bounded_rate)
{
	struct fs_endpoints_config c = config("[2001:db8::1]:51820", NULL, NULL,
					      FS_ENDPOINT_LIMIT_MAX);
	struct fs_endpoints *t = table_new(&c, T0);
	int roam = (int)fs_endpoints_size(t) - 1;
	size_t learned = 0;
	char text[FS_ENDPOINT_STRLEN];

	/* 1000 new sources within one second, one a millisecond. */
	for (unsigned int k = 0; k < 1000; ++k) {
		snprintf(text, sizeof(text), "10.%u.%u.1:%u", k >> 8, k & 255, 2000 + k);
		learn(t, text, T0 + k * MS);
		assert_current(t, text);	/* the newest source wins regardless */
	}
	for (int i = 1; i < roam; ++i)
		learned += fs_endpoints_entry(t, i)->addr.sa.sa_family != AF_UNSPEC;
	/*
	 * A full bucket of 4 at 0-3 ms (3 ms of credit left), then one more
	 * each 500 ms of credit: the 5th at 500 ms, the next would be at 1000.
	 */
	cr_assert_eq(learned, 5);
	cr_assert_leq(learned, FS_ENDPOINT_NEW_BURST + FS_ENDPOINT_NEW_PER_SECOND);
	cr_assert_eq(find(t, "10.1.244.1:2500"), 5);
	cr_assert_eq(find(t, "10.3.231.1:2999"), roam);	/* the last one is roaming */
	cr_assert_eq(fs_endpoints_count(t), 1 + 5 + 1);
	/* A roaming source that authenticates again with a token is promoted. */
	cr_assert_eq(learn(t, "10.3.231.1:2999", T0 + 1503 * MS), 6);
	cr_assert_eq(fs_endpoints_entry(t, roam)->addr.sa.sa_family, AF_UNSPEC);
	cr_assert_eq(fs_endpoints_entry(t, 6)->origin, FS_ENDPOINT_LEARNED);
	fs_endpoints_free(t);
}

Test(endpoint, endpoint_limit_zero_uses_the_roaming_slot)
{
	static const char *const alts[] = { "192.0.2.7:51820", NULL };
	struct fs_endpoints_config c = config("[2001:db8::1]:51820", alts, NULL, 0);
	struct fs_endpoints *t = table_new(&c, T0);

	cr_assert_eq(fs_endpoints_size(t), 3);
	cr_assert_eq(learn(t, "203.0.113.1:1", T0), 2);
	assert_current(t, "203.0.113.1:1");
	assert_line(t, "203.0.113.1:1", T0, "203.0.113.1:1,roaming,0,-,unconfirmed");
	cr_assert_eq(learn(t, "203.0.113.2:2", T0 + 10 * SEC), 2);	/* replaces it */
	cr_assert_eq(find(t, "203.0.113.1:1"), -1);
	cr_assert_eq(fs_endpoints_count(t), 3);
	cr_assert_eq(learn(t, "192.0.2.7:51820", T0 + 11 * SEC), 1);
	assert_current(t, "192.0.2.7:51820");
	/* The roaming entry, no longer current and never confirmed, is not tried. */
	assert_order(t, T0 + 11 * SEC, "192.0.2.7:51820 [2001:db8::1]:51820");
	fs_endpoints_free(t);
}

/* --- authentication and the attacker ---------------------------------------------------- */

/* The daemon's receive path, reduced: the replay check, then learning. */
struct receiver {
	bool seen[4096];
};

static void receive(struct fs_endpoints *t, struct receiver *r, unsigned int counter,
		    const union fs_sockaddr *src, uint64_t now)
{
	cr_assert_lt(counter, 4096);
	if (r->seen[counter])
		return;
	r->seen[counter] = true;
	fs_endpoints_learn(t, src, NULL, now);
}

static void snapshot(const struct fs_endpoints *t, uint64_t now, char *out, size_t size)
{
	char line[FS_ENDPOINT_STATE_STRLEN];

	snprintf(out, size, "count=%zu current=%d\n", fs_endpoints_count(t),
		 fs_endpoints_current(t));
	for (int i = 0; i < (int)fs_endpoints_size(t); ++i)
		if (fs_endpoints_format_state(t, i, now, line))
			snprintf(out + strlen(out), size - strlen(out), "%s\n", line);
}

Test(endpoint, replays_from_new_addresses_change_nothing)
{
	static const char *const alts[] = { "192.0.2.7:51820", NULL };
	struct fs_endpoints_config c = config("[2001:db8::1]:51820", alts, NULL, 8);
	struct fs_endpoints *t = table_new(&c, T0);
	struct receiver *r = calloc(1, sizeof(*r));
	union fs_sockaddr real = ep("[2001:db8::1]:51820");
	char before[8192], after[8192];
	uint64_t now = T0;

	cr_assert_not_null(r);
	handshake_via_target(t, now, 20 * MS);
	for (unsigned int k = 0; k < 1000; ++k)
		receive(t, r, k, &real, now += MS);
	snapshot(t, now, before, sizeof(before));
	rng_state = 42;
	for (unsigned int k = 0; k < 1000; ++k) {
		union fs_sockaddr fresh = random_source();

		receive(t, r, k, &fresh, now);
	}
	snapshot(t, now, after, sizeof(after));
	cr_assert_str_eq(after, before);
	cr_assert_eq(fs_endpoints_count(t), 2);
	free(r);
	fs_endpoints_free(t);
}

static bool is_real(const union fs_sockaddr *a, const union fs_sockaddr *real, size_t n)
{
	for (size_t i = 0; i < n; ++i)
		if (fs_endpoint_equal(a, &real[i]))
			return true;
	return false;
}

Test(endpoint, attacker_racing_copies_cannot_plant_candidates)
{
	static const char *const alts[] = { "192.0.2.7:51820", NULL };
	struct fs_endpoints_config c = config("[2001:db8::1]:51820", alts, NULL, 8);
	struct fs_endpoints *t = table_new(&c, T0);
	union fs_sockaddr real[2] = { ep("[2001:db8::1]:51820"), ep("192.0.2.7:51820") };
	int order[FS_ENDPOINT_MAX_ENTRIES];
	uint64_t now = T0, next_handshake = T0 + 5 * SEC;
	int pending = -1;
	size_t n;

	handshake_via_target(t, now, 20 * MS);
	cr_assert(fs_endpoints_entry(t, 0)->confirmed);
	rng_state = 7;
	/*
	 * Two minutes of the peer sending every 100 ms; every authentic packet
	 * is copied by the attacker from a fresh source, and the copy wins the
	 * race (the real one is then a replay and never reaches the table).
	 * Every 5 s a handshake goes to the target; only the real addresses
	 * answer, and the attacker races the response from a fresh source too.
	 */
	for (; now < T0 + 120 * SEC; now += 100 * MS) {
		union fs_sockaddr copy = random_source();

		fs_endpoints_learn(t, &copy, NULL, now);
		cr_assert(fs_endpoint_equal(&fs_endpoints_entry(t, fs_endpoints_current(t))->addr,
					    &copy), "the first authentic copy wins");
		if (now >= next_handshake) {
			if (pending >= 0) {
				fs_endpoints_handshake_timeout(t, now);
				pending = -1;
			}
			pending = fs_endpoints_handshake_target(t, now);
			fs_endpoints_handshake_sent(t, pending, now);
			if (is_real(&fs_endpoints_entry(t, pending)->addr, real, 2)) {
				union fs_sockaddr response_copy = random_source();

				fs_endpoints_handshake_complete(t, &response_copy, NULL, now + 30 * MS);
				pending = -1;
			}
			next_handshake = now + 5 * SEC;
		}
		for (int i = 0; i < (int)fs_endpoints_size(t); ++i) {
			const struct fs_endpoint_entry *e = fs_endpoints_entry(t, i);

			if (e->confirmed)
				cr_assert(is_real(&e->addr, real, 2), "entry %d planted", i);
		}
		n = fs_endpoints_failover_order(t, now, order, FS_ENDPOINT_MAX_ENTRIES);
		for (size_t i = 0; i < n; ++i)
			cr_assert(order[i] == fs_endpoints_current(t) ||
				  is_real(&fs_endpoints_entry(t, order[i])->addr, real, 2));
	}
	/* The attacker stops; the peer's next packet comes from its endpoint. */
	fs_endpoints_learn(t, &real[0], NULL, now);
	assert_current(t, "[2001:db8::1]:51820");
	n = fs_endpoints_failover_order(t, now, order, FS_ENDPOINT_MAX_ENTRIES);
	cr_assert_geq(n, 1);
	for (size_t i = 0; i < n; ++i)
		cr_assert(is_real(&fs_endpoints_entry(t, order[i])->addr, real, 2));
	assert_target(t, now, "[2001:db8::1]:51820");
	cr_assert_eq(fs_endpoints_count(t), 2 + 8 + 1, "learned slots full of copies");
	fs_endpoints_free(t);
}

/* --- failover ------------------------------------------------------------------------ */

Test(endpoint, failover_rotates_and_returns_when_endpoint_answers)
{
	static const char *const alts[] = { "192.0.2.7:51820", "[2001:db8::2]:51820", NULL };
	struct fs_endpoints_config c = config("[2001:db8::1]:51820", alts, NULL, 8);
	struct fs_endpoints *t = table_new(&c, T0);
	const char *e = "[2001:db8::1]:51820", *a1 = "192.0.2.7:51820", *a2 = "[2001:db8::2]:51820";
	union fs_sockaddr addr_e = ep(e);
	uint64_t now = T0;

	assert_target(t, now, e);
	fs_endpoints_handshake_sent(t, find(t, e), now);
	cr_assert_str_eq(state_of(t, e, now), "trying");
	now += 5 * SEC;
	cr_assert_eq(fs_endpoints_handshake_timeout(t, now), find(t, a1));
	cr_assert_str_eq(state_of(t, e, now), "failed");
	fs_endpoints_handshake_sent(t, find(t, a1), now);
	now += 5 * SEC;
	cr_assert_eq(fs_endpoints_handshake_timeout(t, now), find(t, a2));
	fs_endpoints_handshake_sent(t, find(t, a2), now);
	now += 5 * SEC;
	/* Everyone failed once: back to the one that failed first. */
	cr_assert_eq(fs_endpoints_handshake_timeout(t, now), find(t, e));
	assert_order(t, now, "[2001:db8::1]:51820 192.0.2.7:51820 [2001:db8::2]:51820");
	fs_endpoints_handshake_sent(t, find(t, e), now);
	now += 5 * SEC;
	cr_assert_eq(fs_endpoints_handshake_timeout(t, now), find(t, a1));
	assert_order(t, now, "192.0.2.7:51820 [2001:db8::2]:51820 [2001:db8::1]:51820");
	cr_assert_eq(fs_endpoints_entry(t, find(t, e))->failures, 2);
	/* This time the endpoint answers after all (the response to a retry). */
	fs_endpoints_handshake_sent(t, find(t, e), now);
	fs_endpoints_handshake_complete(t, &addr_e, NULL, now + 40 * MS);
	now += 40 * MS;
	assert_current(t, e);
	assert_target(t, now, e);
	assert_order(t, now, "[2001:db8::1]:51820 192.0.2.7:51820 [2001:db8::2]:51820");
	cr_assert_str_eq(state_of(t, e, now), "active");
	cr_assert_str_eq(state_of(t, a1, now), "failed");
	cr_assert_eq(fs_endpoints_entry(t, find(t, e))->rtt_us, 40000);
	fs_endpoints_free(t);
}

Test(endpoint, failover_to_alt_and_back_when_preferred_answers)
{
	static const char *const alts[] = { "192.0.2.7:51820", NULL };
	struct fs_endpoints_config c = config("[2001:db8::1]:51820", alts, NULL, 8);
	struct fs_endpoints *t = table_new(&c, T0);
	const char *e = "[2001:db8::1]:51820", *a1 = "192.0.2.7:51820";
	uint64_t now = T0;

	handshake_via_target(t, now, 20 * MS);	/* through the endpoint, 20 ms */
	now += 60 * SEC;
	learn(t, e, now);			/* data from it */
	/* The path to the endpoint dies: the rekey times out, the alt answers. */
	now += 60 * SEC;
	assert_target(t, now, e);
	fs_endpoints_handshake_sent(t, find(t, e), now);
	now += 5 * SEC;
	cr_assert_eq(fs_endpoints_handshake_timeout(t, now), find(t, a1));
	handshake_via_target(t, now, 30 * MS);
	now += 30 * MS;
	assert_current(t, a1);
	assert_target(t, now, a1);
	assert_order(t, now, "192.0.2.7:51820 [2001:db8::1]:51820");
	/* The endpoint answers again: data from it, and it leads again (20 ms < 30 ms). */
	now += 10 * SEC;
	learn(t, e, now);
	assert_current(t, e);
	cr_assert_str_eq(state_of(t, e, now), "active");
	assert_target(t, now, e);
	assert_order(t, now, "[2001:db8::1]:51820 192.0.2.7:51820");
	fs_endpoints_free(t);
}

Test(endpoint, rtt_orders_fresh_candidates)
{
	static const char *const alts[] = { "192.0.2.7:51820", "[2001:db8::2]:51820",
					     "[2001:db8::3]:51820", NULL };
	struct fs_endpoints_config c = config("[2001:db8::1]:51820", alts, NULL, 8);
	struct fs_endpoints *t = table_new(&c, T0);
	static const uint64_t rtt_ms[] = { 30, 10, 20, 10 };
	uint64_t now = T0;

	for (int i = 0; i < 4; ++i) {
		union fs_sockaddr a = fs_endpoints_entry(t, i)->addr;

		fs_endpoints_handshake_sent(t, i, now);
		fs_endpoints_handshake_complete(t, &a, NULL, now + rtt_ms[i] * MS);
		now += SEC;
	}
	/* Equal RTTs keep configured order. */
	assert_order(t, now, "192.0.2.7:51820 [2001:db8::3]:51820 [2001:db8::2]:51820 "
			     "[2001:db8::1]:51820");
	fs_endpoints_free(t);
}

Test(endpoint, trust_window_expiry)
{
	static const char *const alts[] = { "192.0.2.7:51820", NULL };
	struct fs_endpoints_config c = config("[2001:db8::1]:51820", alts, NULL, 8);
	struct fs_endpoints *t = table_new(&c, T0);
	union fs_sockaddr e = ep("[2001:db8::1]:51820"), a1 = ep("192.0.2.7:51820");

	fs_endpoints_handshake_sent(t, 0, T0);
	fs_endpoints_handshake_complete(t, &e, NULL, T0 + 30 * MS);
	fs_endpoints_handshake_sent(t, 1, T0);
	fs_endpoints_handshake_complete(t, &a1, NULL, T0 + 10 * MS);	/* last rx T0 + 10 ms */
	fs_endpoints_learn(t, &e, NULL, T0 + 20 * SEC);			/* current: e */
	/* Both fresh: the smaller RTT first. */
	assert_order(t, T0 + 10 * MS + WINDOW - 1, "192.0.2.7:51820 [2001:db8::1]:51820");
	cr_assert_str_eq(state_of(t, "192.0.2.7:51820", T0 + 10 * MS + WINDOW - 1), "active");
	/* The alt's receive leaves the window: freshness beats RTT. */
	assert_order(t, T0 + 10 * MS + WINDOW, "[2001:db8::1]:51820 192.0.2.7:51820");
	cr_assert_str_eq(state_of(t, "192.0.2.7:51820", T0 + 10 * MS + WINDOW), "stale");
	/* Both stale: the current one, then the other candidate. */
	assert_order(t, T0 + 20 * SEC + WINDOW, "[2001:db8::1]:51820 192.0.2.7:51820");
	cr_assert_str_eq(state_of(t, "[2001:db8::1]:51820", T0 + 20 * SEC + WINDOW), "stale");
	fs_endpoints_free(t);
}

/* --- reconfiguration -------------------------------------------------------------------- */

Test(endpoint, reconfigure_resize_keeps_most_recent)
{
	struct fs_endpoints_config c = config("[2001:db8::1]:51820", NULL, NULL, 8);
	struct fs_endpoints *t = table_new(&c, T0), *u, *v;
	char before[8192], after[8192];

	for (unsigned int k = 1; k <= 6; ++k) {
		char text[FS_ENDPOINT_STRLEN];

		snprintf(text, sizeof(text), "203.0.113.%u:%u", k, k);
		learn(t, text, T0 + k * SEC);
	}
	learn(t, "203.0.113.2:2", T0 + 7 * SEC);	/* now the most recent */
	snapshot(t, T0 + 8 * SEC, before, sizeof(before));
	c.endpoint_limit = 2;
	u = fs_endpoints_reconfigure(t, &c, T0 + 8 * SEC);
	cr_assert_not_null(u);
	snapshot(t, T0 + 8 * SEC, after, sizeof(after));
	cr_assert_str_eq(after, before, "the old table changed");
	cr_assert_eq(fs_endpoints_size(u), 1 + 2 + 1);
	cr_assert_eq(fs_endpoints_memory(u), fs_endpoints_memory_for(1, 0, 2));
	cr_assert_eq(find(u, "203.0.113.2:2"), 1);
	cr_assert_eq(find(u, "203.0.113.6:6"), 2);
	cr_assert_eq(fs_endpoints_count(u), 3);
	/* Rebuilt: the high-water mark starts again from what was carried. */
	cr_assert_eq(fs_endpoints_count_max(t), 7);
	cr_assert_eq(fs_endpoints_count_max(u), 3);
	assert_current(u, "203.0.113.2:2");
	cr_assert_eq(fs_endpoints_entry(u, 1)->last_rx, T0 + 7 * SEC);
	/* Down to none: the current source survives in the roaming slot. */
	c.endpoint_limit = 0;
	v = fs_endpoints_reconfigure(u, &c, T0 + 9 * SEC);
	cr_assert_not_null(v);
	cr_assert_eq(fs_endpoints_size(v), 2);
	assert_current(v, "203.0.113.2:2");
	assert_line(v, "203.0.113.2:2", T0 + 9 * SEC, "203.0.113.2:2,roaming,2000,-,unconfirmed");
	fs_endpoints_free(v);
	fs_endpoints_free(u);
	fs_endpoints_free(t);
}

Test(endpoint, reconfigure_carries_history)
{
	static const char *const alts[] = { "203.0.113.9:1024", NULL };
	static const char *const prefixes[] = { "198.51.100.0/24", NULL };
	struct fs_endpoints_config c = config("[2001:db8::1]:51820", NULL, NULL, 8);
	struct fs_endpoints *t = table_new(&c, T0), *u, *v;

	handshake_via_target(t, T0, 25 * MS);
	learn(t, "198.51.100.1:1", T0 + 1 * SEC);
	learn(t, "198.51.100.2:2", T0 + 2 * SEC);
	learn(t, "203.0.113.9:1024", T0 + 3 * SEC);	/* learned, current */
	c = config("[2001:db8::1]:51820", alts, prefixes, 8);
	u = fs_endpoints_reconfigure(t, &c, T0 + 4 * SEC);
	cr_assert_not_null(u);
	/* The learned source is now the alt, with its receive; still current. */
	cr_assert_eq(find(u, "203.0.113.9:1024"), 1);
	cr_assert_eq(fs_endpoints_entry(u, 1)->origin, FS_ENDPOINT_ALT);
	assert_current(u, "203.0.113.9:1024");
	assert_line(u, "203.0.113.9:1024", T0 + 4 * SEC, "203.0.113.9:1024,alt,1000,-,unconfirmed");
	/* The endpoint keeps its handshake. */
	assert_line(u, "[2001:db8::1]:51820", T0 + 4 * SEC,
		    "[2001:db8::1]:51820,configured,3975,25000,active");
	/* The two sources in the new prefix folded into its entry, the newest address kept. */
	cr_assert_eq(find(u, "198.51.100.2:2"), 2);
	cr_assert_eq(find(u, "198.51.100.1:1"), -1);
	cr_assert_eq(fs_endpoints_count(u), 3);
	/* endpoint= in the request makes the endpoint current, as in wg. */
	c.use_endpoint = true;
	v = fs_endpoints_reconfigure(u, &c, T0 + 5 * SEC);
	cr_assert_not_null(v);
	assert_current(v, "[2001:db8::1]:51820");
	fs_endpoints_free(v);
	fs_endpoints_free(u);
	fs_endpoints_free(t);
}

Test(endpoint, reconfigure_keeps_the_pending_handshake)
{
	struct fs_endpoints_config c = config("[2001:db8::1]:51820", NULL, NULL, 8);
	struct fs_endpoints *t = table_new(&c, T0), *u;
	union fs_sockaddr e = ep("[2001:db8::1]:51820");

	fs_endpoints_handshake_sent(t, 0, T0);
	c.endpoint_limit = 4;
	u = fs_endpoints_reconfigure(t, &c, T0 + MS);
	cr_assert_not_null(u);
	cr_assert_str_eq(state_of(u, "[2001:db8::1]:51820", T0 + MS), "trying");
	fs_endpoints_handshake_complete(u, &e, NULL, T0 + 12 * MS);
	cr_assert_eq(fs_endpoints_entry(u, 0)->rtt_us, 12000);
	fs_endpoints_free(u);
	fs_endpoints_free(t);
}

/*
 * Allocated first, filled later: what the old table learned in between is
 * carried, exactly as fs_endpoints_reconfigure would carry it then.
 */
Test(endpoint, fill_carries_what_was_learned_after_alloc)
{
	static const char *const alts[] = { "203.0.113.9:1024", NULL };
	static const char *const prefixes[] = { "198.51.100.0/24", NULL };
	struct fs_endpoints_config c = config("[2001:db8::1]:51820", NULL, NULL, 8);
	struct fs_endpoints *t = table_new(&c, T0), *u, *ref;
	char filled[8192], reconfigured[8192];

	learn(t, "203.0.113.1:1", T0 + 1 * SEC);
	c = config("[2001:db8::1]:51820", alts, prefixes, 2);
	u = fs_endpoints_alloc(&c);
	cr_assert_not_null(u, "fs_endpoints_alloc: %s", strerror(errno));
	cr_assert_eq(fs_endpoints_memory(u), fs_endpoints_memory_for(2, 1, 2));
	/* Learned between alloc and fill. */
	learn(t, "198.51.100.7:7", T0 + 2 * SEC);
	learn(t, "203.0.113.2:2", T0 + 3 * SEC);
	cr_assert(fs_endpoints_fill(u, t, &c, T0 + 4 * SEC));
	ref = fs_endpoints_reconfigure(t, &c, T0 + 4 * SEC);
	cr_assert_not_null(ref);
	snapshot(u, T0 + 4 * SEC, filled, sizeof(filled));
	snapshot(ref, T0 + 4 * SEC, reconfigured, sizeof(reconfigured));
	cr_assert_str_eq(filled, reconfigured);
	cr_assert_eq(find(u, "198.51.100.7:7"), 2);
	assert_current(u, "203.0.113.2:2");
	cr_assert_eq(fs_endpoints_count(u), 5);
	fs_endpoints_free(ref);
	fs_endpoints_free(u);
	fs_endpoints_free(t);
}

/* A table is filled only for a configuration of the shape it was allocated for. */
Test(endpoint, fill_refuses_another_shape)
{
	static const char *const alts[] = { "203.0.113.9:1024", NULL };
	static const char *const same_alt[] = { "[2001:db8::1]:51820", NULL };
	struct fs_endpoints_config c = config("[2001:db8::1]:51820", NULL, NULL, 8);
	struct fs_endpoints_config other = config("[2001:db8::1]:51820", alts, NULL, 8);
	struct fs_endpoints *t = table_new(&c, T0), *u = fs_endpoints_alloc(&c);
	char before[8192], after[8192];

	cr_assert_not_null(u);
	learn(t, "203.0.113.1:1", T0 + 1 * SEC);
	snapshot(t, T0 + 2 * SEC, before, sizeof(before));
	errno = 0;
	cr_assert_not(fs_endpoints_fill(u, t, &other, T0 + 2 * SEC), "another alt count");
	cr_assert_eq(errno, EINVAL);
	other = c;
	other.endpoint_limit = 7;
	cr_assert_not(fs_endpoints_fill(u, t, &other, T0 + 2 * SEC), "another limit");
	/* An alt equal to the endpoint is skipped: the same shape. */
	other = config("[2001:db8::1]:51820", same_alt, NULL, 8);
	cr_assert(fs_endpoints_fill(u, t, &other, T0 + 2 * SEC));
	snapshot(t, T0 + 2 * SEC, after, sizeof(after));
	cr_assert_str_eq(after, before, "the old table changed");
	assert_current(u, "203.0.113.1:1");
	fs_endpoints_free(u);
	fs_endpoints_free(t);
}

/* --- export -------------------------------------------------------------------------- */

Test(endpoint, endpoint_state_lines_exact)
{
	static const char *const alts[] = { "192.0.2.7:51820", "[2001:db8::2]:51821", NULL };
	static const char *const prefixes[] = { "2001:db8:ff::/64", NULL };
	struct fs_endpoints_config c = config("[2001:db8::1]:51820", alts, prefixes, 8);
	struct fs_endpoints *t = table_new(&c, T0);
	union fs_sockaddr e = ep("[2001:db8::1]:51820"), a2 = ep("[2001:db8::2]:51821");
	uint64_t now = T0 + 200 * SEC;
	char line[FS_ENDPOINT_STATE_STRLEN], all[8192];

	learn(t, "203.0.113.9:1024", now - 98 * SEC);
	learn(t, "[2001:db8:ff::5]:4000", now - 30 * SEC);
	fs_endpoints_handshake_sent(t, 0, now - 120 * MS - 3500 * 1000);
	fs_endpoints_handshake_complete(t, &e, NULL, now - 120 * MS);
	fs_endpoints_handshake_sent(t, 2, now - 6 * SEC);
	fs_endpoints_handshake_timeout(t, now - SEC);
	fs_endpoints_handshake_sent(t, 1, now - 2 * MS);
	(void)a2;
	snapshot(t, now, all, sizeof(all));
	cr_assert_str_eq(all,
			 "count=5 current=0\n"
			 "[2001:db8::1]:51820,configured,120,3500,active\n"
			 "192.0.2.7:51820,alt,-,-,trying\n"
			 "[2001:db8::2]:51821,alt,-,-,failed\n"
			 "[2001:db8:ff::5]:4000,prefix,30000,-,unconfirmed\n"
			 "203.0.113.9:1024,learned,98000,-,unconfirmed\n");
	/* The endpoint goes stale once its receive leaves the trust window. */
	assert_line(t, "[2001:db8::1]:51820", now - 120 * MS + WINDOW,
		    "[2001:db8::1]:51820,configured,25000,3500,stale");
	/* Empty and out-of-range slots write nothing. */
	strcpy(line, "untouched");
	cr_assert(!fs_endpoints_format_state(t, 7, now, line));
	cr_assert(!fs_endpoints_format_state(t, 99, now, line));
	cr_assert(!fs_endpoints_format_state(t, -1, now, line));
	cr_assert_str_eq(line, "untouched");
	/* What flowspreadctl's parser reads back: five fields, an endpoint, words. */
	for (int i = 0; i < (int)fs_endpoints_size(t); ++i) {
		char *fields[5], *rest = line;
		union fs_sockaddr back;
		size_t n = 0;

		if (!fs_endpoints_format_state(t, i, now, line))
			continue;
		while (n < 5 && rest)
			fields[n++] = strsep(&rest, ",");
		cr_assert(n == 5 && !rest);
		cr_assert(fs_endpoint_parse(&back, fields[0], NULL, 0));
		cr_assert(fs_endpoint_equal(&back, &fs_endpoints_entry(t, i)->addr));
		cr_assert_eq(strspn(fields[1], "abcdefghijklmnopqrstuvwxyz"), strlen(fields[1]));
		cr_assert_eq(strspn(fields[2], "-0123456789"), strlen(fields[2]));
		cr_assert_eq(strspn(fields[3], "-0123456789"), strlen(fields[3]));
		cr_assert_eq(strspn(fields[4], "abcdefghijklmnopqrstuvwxyz"), strlen(fields[4]));
	}
	cr_assert_str_eq(fs_endpoint_origin_name(FS_ENDPOINT_ROAMING), "roaming");
	cr_assert_str_eq(fs_endpoint_state_name(FS_ENDPOINT_UNTRIED), "untried");
	fs_endpoints_free(t);
}
