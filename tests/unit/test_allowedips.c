// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The allowed-IPs trie, checked three ways, as the kernel driver's
 * selftest does: against a deliberately naive reference (a flat array
 * searched end to end) over many random operations; against tables of
 * hand-picked prefixes and the peer each address must reach; and with a
 * reader thread looking up in RCU read-side sections while this thread
 * changes the trie, which AddressSanitizer turns into a use-after-free
 * check of the grace periods.
 *
 * Every test runs as a registered RCU thread (the writer calls call_rcu)
 * and waits for pending frees before it ends, so LeakSanitizer sees them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <criterion/criterion.h>
#include "leakcheck.h"
#include <urcu/urcu-memb.h>
#include "allowedips.h"

#ifdef __SANITIZE_ADDRESS__
/* From libasan; GCC ships no header declaring it. */
size_t __sanitizer_get_current_allocated_bytes(void);
#else
#include <malloc.h>
#endif

static void rcu_up(void)
{
	urcu_memb_register_thread();
}

static void rcu_down(void)
{
	urcu_memb_barrier();
	urcu_memb_unregister_thread();
	fs_test_check_leaks();
}

TestSuite(allowedips, .init = rcu_up, .fini = rcu_down);

/*
 * Peers are opaque to the table: the addresses of these bytes stand for
 * them. PA..PH are the peers A..H of the comments and tables.
 */
static char peer_tokens[256];
#define PEER(i) ((void *)&peer_tokens[(i)])
#define PA PEER(0)
#define PB PEER(1)
#define PC PEER(2)
#define PD PEER(3)
#define PE PEER(4)
#define PF PEER(5)
#define PG PEER(6)
#define PH PEER(7)

static int peer_number(const void *peer)
{
	return peer ? (int)((const char *)peer - peer_tokens) : -1;
}

static uint64_t rng_next(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * UINT64_C(2685821657736338717);
}

static uint32_t rng_below(uint64_t *state, uint32_t n)
{
	return (uint32_t)(rng_next(state) >> 32) % n;
}

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static int addr_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

static void parse(int family, const char *text, uint8_t out[16])
{
	memset(out, 0, 16);
	cr_assert_eq(inet_pton(family, text, out), 1, "bad test address %s", text);
}

static int family_of(const char *text)
{
	return strchr(text, ':') ? AF_INET6 : AF_INET;
}

static int insert_text(struct fs_allowedips *t, const char *text, uint8_t cidr, void *peer)
{
	uint8_t a[16];
	int family = family_of(text);

	parse(family, text, a);
	return fs_allowedips_insert(t, family, a, cidr, peer);
}

static int remove_text(struct fs_allowedips *t, const char *text, uint8_t cidr, void *peer)
{
	uint8_t a[16];
	int family = family_of(text);

	parse(family, text, a);
	return fs_allowedips_remove(t, family, a, cidr, peer);
}

static void *lookup_text(struct fs_allowedips *t, const char *text)
{
	uint8_t a[16];
	int family = family_of(text);

	parse(family, text, a);
	return fs_allowedips_lookup(t, family, a);
}

static struct fs_allowedips *table_new(void)
{
	struct fs_allowedips *t = fs_allowedips_new();

	cr_assert_not_null(t);
	cr_assert_eq(fs_allowedips_count(t), 0);
	return t;
}

/* --- collecting a walk --------------------------------------------------- */

struct walked {
	int family;
	uint8_t addr[16];
	uint8_t cidr;
};

struct walk_log {
	struct walked *items;
	size_t len, cap, stop_after;
};

static bool walk_record(void *ctx, int family, const void *address, uint8_t cidr)
{
	struct walk_log *log = ctx;
	struct walked *w;

	cr_assert(family == AF_INET || family == AF_INET6, "walk gave family %d", family);
	if (log->len == log->cap) {
		log->cap = log->cap ? 2 * log->cap : 16;
		log->items = realloc(log->items, log->cap * sizeof(*log->items));
		cr_assert_not_null(log->items);
	}
	w = &log->items[log->len++];
	memset(w, 0, sizeof(*w));
	w->family = family;
	memcpy(w->addr, address, addr_len(family));
	w->cidr = cidr;
	return !log->stop_after || log->len < log->stop_after;
}

static struct walk_log walk_all(struct fs_allowedips *t, void *peer)
{
	struct walk_log log = { 0 };

	fs_allowedips_walk_by_peer(t, peer, walk_record, &log);
	return log;
}

/* Asserts that the walk of peer is exactly the "prefix/cidr" strings given. */
static void assert_walk(struct fs_allowedips *t, void *peer, const char *const *expect, size_t n)
{
	struct walk_log log = walk_all(t, peer);
	char text[INET6_ADDRSTRLEN];

	cr_assert_eq(log.len, n, "peer %d walks %zu prefixes, want %zu", peer_number(peer),
		     log.len, n);
	for (size_t i = 0; i < n; ++i) {
		inet_ntop(log.items[i].family, log.items[i].addr, text, sizeof(text));
		cr_assert_str_eq(text, expect[2 * i], "peer %d item %zu", peer_number(peer), i);
		cr_assert_eq(log.items[i].cidr, atoi(expect[2 * i + 1]), "%s: cidr %u", text,
			     log.items[i].cidr);
	}
	free(log.items);
}

/* --- the naive reference ------------------------------------------------- */

struct ref_entry {
	int family;
	uint8_t addr[16];		/* masked */
	uint8_t cidr;
	void *peer;
	uint64_t word[2], mask[2];	/* addr and its mask as two numbers, to compare fast */
};

struct reference {
	struct ref_entry *e;
	size_t len, cap;
};

/* Bytes to two big-endian numbers, shifted in one byte at a time. */
static void ref_words(uint64_t word[2], const uint8_t addr[16])
{
	word[0] = word[1] = 0;
	for (int i = 0; i < 16; ++i)
		word[i / 8] = word[i / 8] << 8 | addr[i];
}

static void ref_fill(struct ref_entry *r, int family, const uint8_t *addr, uint8_t cidr)
{
	uint8_t mask[16] = { 0 };

	memset(r, 0, sizeof(*r));
	r->family = family;
	r->cidr = cidr;
	for (int i = 0; i < (int)addr_len(family); ++i) {
		int ones = cidr - 8 * i;

		mask[i] = ones >= 8 ? 0xff : ones <= 0 ? 0 : (uint8_t)(0xff << (8 - ones));
		r->addr[i] = addr[i] & mask[i];
	}
	ref_words(r->word, r->addr);
	ref_words(r->mask, mask);
}

static ssize_t ref_find(const struct reference *ref, const struct ref_entry *key)
{
	for (size_t i = 0; i < ref->len; ++i)
		if (ref->e[i].family == key->family && ref->e[i].cidr == key->cidr &&
		    !memcmp(ref->e[i].addr, key->addr, 16))
			return (ssize_t)i;
	return -1;
}

static void ref_delete(struct reference *ref, size_t i)
{
	memmove(&ref->e[i], &ref->e[i + 1], (ref->len - i - 1) * sizeof(*ref->e));
	--ref->len;
}

/* An existing prefix moves to the end with its new peer, as the trie's list does. */
static void ref_insert(struct reference *ref, int family, const uint8_t *addr, uint8_t cidr,
		       void *peer)
{
	struct ref_entry r;
	ssize_t i;

	ref_fill(&r, family, addr, cidr);
	r.peer = peer;
	i = ref_find(ref, &r);
	if (i >= 0)
		ref_delete(ref, (size_t)i);
	if (ref->len == ref->cap) {
		ref->cap = ref->cap ? 2 * ref->cap : 256;
		ref->e = realloc(ref->e, ref->cap * sizeof(*ref->e));
		cr_assert_not_null(ref->e);
	}
	ref->e[ref->len++] = r;
}

static int ref_remove(struct reference *ref, int family, const uint8_t *addr, uint8_t cidr,
		      void *peer)
{
	struct ref_entry r;
	ssize_t i;

	ref_fill(&r, family, addr, cidr);
	i = ref_find(ref, &r);
	if (i < 0 || ref->e[i].peer != peer)
		return -ENOENT;
	ref_delete(ref, (size_t)i);
	return 0;
}

static void ref_remove_by_peer(struct reference *ref, void *peer)
{
	size_t i = 0;

	while (i < ref->len) {
		if (ref->e[i].peer == peer)
			ref_delete(ref, i);
		else
			++i;
	}
}

/* Scans every entry; the longest that contains addr wins. */
static void *ref_lookup(const struct reference *ref, int family, const uint8_t *addr)
{
	const struct ref_entry *r = ref->e, *end = ref->e + ref->len, *best = NULL;
	uint8_t padded[16] = { 0 };
	uint64_t w[2];

	memcpy(padded, addr, addr_len(family));
	ref_words(w, padded);
	for (; r < end; ++r) {
		if (r->family != family || ((w[0] ^ r->word[0]) & r->mask[0]) ||
		    ((w[1] ^ r->word[1]) & r->mask[1]))
			continue;
		if (!best || r->cidr > best->cidr)
			best = r;
	}
	return best ? best->peer : NULL;
}

/* --- random prefixes and addresses --------------------------------------- */

/* Replaces every bit of addr from bit number "from" on with random ones. */
static void randomize_from(uint64_t *rng, int family, uint8_t *addr, int from)
{
	for (int i = 0; i < (int)addr_len(family); ++i) {
		int keep = from - 8 * i;
		uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));

		addr[i] = (addr[i] & mask) | ((uint8_t)rng_next(rng) & (uint8_t)~mask);
	}
}

static uint8_t random_cidr(uint64_t *rng, int family)
{
	uint32_t roll = rng_below(rng, 64);

	if (roll == 0)
		return 0;
	if (roll < 5)
		return (uint8_t)addr_bits(family);
	return (uint8_t)(1 + rng_below(rng, (uint32_t)addr_bits(family)));
}

static int random_family(uint64_t *rng, unsigned int families)
{
	if (families == 3)
		return rng_below(rng, 2) ? AF_INET6 : AF_INET;
	return families == 1 ? AF_INET : AF_INET6;
}

/*
 * Random prefixes only seldom nest, so most are grown from one already
 * there: same bits up to a random point, random after it. That builds deep
 * chains, siblings and glue. Returns false when there was nothing to grow from.
 */
static bool near_existing(uint64_t *rng, const struct reference *ref, int family,
			  uint8_t *addr)
{
	const struct ref_entry *r;

	if (!ref->len)
		return false;
	r = &ref->e[rng_below(rng, (uint32_t)ref->len)];
	if (r->family != family)
		return false;
	memcpy(addr, r->addr, 16);
	randomize_from(rng, family, addr, (int)rng_below(rng, (uint32_t)r->cidr + 1));
	return true;
}

static void random_prefix(uint64_t *rng, const struct reference *ref, int family,
			  uint8_t *addr, uint8_t *cidr)
{
	memset(addr, 0, 16);
	if (rng_below(rng, 4) == 0 || !near_existing(rng, ref, family, addr))
		randomize_from(rng, family, addr, 0);
	*cidr = random_cidr(rng, family);
}

/* Half anywhere, half inside or just beside a stored prefix. */
static void random_address(uint64_t *rng, const struct reference *ref, int family,
			   uint8_t *addr)
{
	const struct ref_entry *r;

	memset(addr, 0, 16);
	if (!ref->len || rng_below(rng, 2)) {
		randomize_from(rng, family, addr, 0);
		return;
	}
	r = &ref->e[rng_below(rng, (uint32_t)ref->len)];
	if (r->family != family) {
		randomize_from(rng, family, addr, 0);
		return;
	}
	memcpy(addr, r->addr, 16);
	randomize_from(rng, family, addr, rng_below(rng, 4) ? r->cidr
			: (int)rng_below(rng, (uint32_t)r->cidr + 1));
}

/* --- the random test against the reference ------------------------------- */

enum {
	RANDOM_PEERS = 48,
	RANDOM_PREFIXES = 2000,
	RANDOM_LOOKUPS = 100000,	/* over the whole test */
	RANDOM_CHURN = 3000,
};

struct random_run {
	struct fs_allowedips *t;
	struct reference ref;
	uint64_t rng;
	unsigned int families;		/* 1: IPv4, 2: IPv6, 3: both */
};

static void *random_peer(struct random_run *run)
{
	return PEER(rng_below(&run->rng, RANDOM_PEERS));
}

static void check_lookups(struct random_run *run, unsigned int n)
{
	uint8_t addr[16];
	char text[INET6_ADDRSTRLEN];

	for (unsigned int i = 0; i < n; ++i) {
		int family = random_family(&run->rng, run->families);
		void *want, *got;

		random_address(&run->rng, &run->ref, family, addr);
		want = ref_lookup(&run->ref, family, addr);
		got = fs_allowedips_lookup(run->t, family, addr);
		if (got != want) {
			inet_ntop(family, addr, text, sizeof(text));
			cr_assert_fail("lookup %u of %s: peer %d, reference says %d", i, text,
				       peer_number(got), peer_number(want));
		}
	}
}

static void check_walks(struct random_run *run)
{
	for (int p = 0; p < RANDOM_PEERS; ++p) {
		struct walk_log log = walk_all(run->t, PEER(p));
		size_t k = 0;

		for (size_t i = 0; i < run->ref.len; ++i) {
			const struct ref_entry *r = &run->ref.e[i];

			if (r->peer != PEER(p))
				continue;
			cr_assert_lt(k, log.len, "peer %d walks too few prefixes", p);
			cr_assert_eq(log.items[k].family, r->family, "peer %d item %zu", p, k);
			cr_assert_eq(log.items[k].cidr, r->cidr, "peer %d item %zu", p, k);
			cr_assert_eq(memcmp(log.items[k].addr, r->addr, 16), 0,
				     "peer %d item %zu: address", p, k);
			++k;
		}
		cr_assert_eq(k, log.len, "peer %d walks %zu prefixes, reference %zu", p, log.len, k);
		free(log.items);
	}
}

static void check_count(struct random_run *run)
{
	cr_assert_eq(fs_allowedips_count(run->t), run->ref.len, "count %zu, reference %zu",
		     fs_allowedips_count(run->t), run->ref.len);
}

static void random_insert(struct random_run *run, int family)
{
	uint8_t addr[16], cidr;
	void *peer = random_peer(run);

	random_prefix(&run->rng, &run->ref, family, addr, &cidr);
	cr_assert_eq(fs_allowedips_insert(run->t, family, addr, cidr, peer), 0);
	ref_insert(&run->ref, family, addr, cidr, peer);
}

/* A stored prefix with fresh host bits, by its owner or by someone else. */
static void random_remove(struct random_run *run)
{
	const struct ref_entry *r = &run->ref.e[rng_below(&run->rng, (uint32_t)run->ref.len)];
	void *peer = rng_below(&run->rng, 4) ? r->peer : random_peer(run);
	uint8_t addr[16], cidr = r->cidr;
	int family = r->family, want;

	memcpy(addr, r->addr, 16);
	randomize_from(&run->rng, family, addr, cidr);
	want = ref_remove(&run->ref, family, addr, cidr, peer);
	cr_assert_eq(fs_allowedips_remove(run->t, family, addr, cidr, peer), want,
		     "remove of /%u by peer %d", cidr, peer_number(peer));
}

/* A prefix that is most likely stored by nobody. */
static void random_remove_absent(struct random_run *run, int family)
{
	uint8_t addr[16], cidr;
	void *peer = random_peer(run);
	int want;

	random_prefix(&run->rng, &run->ref, family, addr, &cidr);
	want = ref_remove(&run->ref, family, addr, cidr, peer);
	cr_assert_eq(fs_allowedips_remove(run->t, family, addr, cidr, peer), want);
}

static void random_churn(struct random_run *run, unsigned int n)
{
	for (unsigned int i = 0; i < n; ++i) {
		int family = random_family(&run->rng, run->families);
		uint32_t roll = rng_below(&run->rng, 8);

		if (roll < 3)
			random_insert(run, family);
		else if (roll < 7 && run->ref.len)
			random_remove(run);
		else
			random_remove_absent(run, family);
		check_count(run);
	}
}

/*
 * Inserts, lookups, churn of inserts and removes (some by the wrong peer,
 * some of prefixes nobody has), remove_by_peer of half the peers, then
 * removal of everything left one by one; lookups, count and walks are
 * compared with the reference after each phase. The reference scan is what
 * costs: under the sanitizers the sizes stay modest.
 */
static void random_against_reference(unsigned int families, uint64_t seed)
{
	unsigned int lookups = RANDOM_LOOKUPS / 4;
	struct random_run run = { .t = table_new(), .rng = seed, .families = families };

	for (unsigned int i = 0; i < RANDOM_PREFIXES; ++i) {
		random_insert(&run, random_family(&run.rng, families));
		check_count(&run);
	}
	check_lookups(&run, lookups);
	check_walks(&run);

	random_churn(&run, RANDOM_CHURN);
	check_lookups(&run, lookups);
	check_walks(&run);

	for (int p = 0; p < RANDOM_PEERS; p += 2) {
		fs_allowedips_remove_by_peer(run.t, PEER(p));
		ref_remove_by_peer(&run.ref, PEER(p));
	}
	check_count(&run);
	check_lookups(&run, lookups);
	check_walks(&run);

	while (run.ref.len) {
		const struct ref_entry *r = &run.ref.e[rng_below(&run.rng, (uint32_t)run.ref.len)];
		uint8_t addr[16];

		memcpy(addr, r->addr, 16);
		cr_assert_eq(fs_allowedips_remove(run.t, r->family, addr, r->cidr, r->peer), 0);
		cr_assert_eq(ref_remove(&run.ref, r->family, addr, r->cidr, r->peer), 0);
		if (run.ref.len % 64 == 0)
			check_lookups(&run, 64);
	}
	check_count(&run);
	check_lookups(&run, lookups);
	check_walks(&run);

	fs_allowedips_free(run.t);
	free(run.ref.e);
}

Test(allowedips, random_ipv4_against_naive_reference)
{
	random_against_reference(1, UINT64_C(0x243f6a8885a308d3));
}

Test(allowedips, random_ipv6_against_naive_reference)
{
	random_against_reference(2, UINT64_C(0x13198a2e03707344));
}

Test(allowedips, random_both_families_in_one_table)
{
	random_against_reference(3, UINT64_C(0xa4093822299f31d0));
}

/*
 * Lookups stay right even if glue nodes or empty peer entries linger, so
 * the other tests cannot see such a leak, and LeakSanitizer cannot either:
 * fs_allowedips_free frees whatever is left. Fill and empty one table a few
 * times with fresh peers each time; after the first round the heap must
 * not grow. Nothing between two measurements may allocate, so failures are
 * only counted until the end.
 */

enum { ROUNDS = 4, ROUND_PEERS = 32, ROUND_PREFIXES = 1000 };	/* ROUNDS * ROUND_PEERS peers */

/*
 * ASan counts live allocations exactly. glibc's mallinfo2 also counts the
 * few chunks each thread keeps cached after free (here a few hundred
 * bytes); a lingering peer entry alone is 48 bytes, each round leaves 32.
 */
#ifdef __SANITIZE_ADDRESS__
enum { HEAP_SLACK = 0 };
#else
enum { HEAP_SLACK = 1024 };
#endif

static size_t heap_in_use(void)
{
	urcu_memb_barrier();	/* frees waiting for a grace period are done */
#ifdef __SANITIZE_ADDRESS__
	return __sanitizer_get_current_allocated_bytes();
#else
	return mallinfo2().uordblks;
#endif
}

static unsigned int remove_one(struct random_run *run)
{
	const struct ref_entry *r = &run->ref.e[rng_below(&run->rng, (uint32_t)run->ref.len)];
	uint8_t addr[16];
	unsigned int failures;

	memcpy(addr, r->addr, 16);
	failures = fs_allowedips_remove(run->t, r->family, addr, r->cidr, r->peer) != 0;
	return failures + (ref_remove(&run->ref, r->family, addr, r->cidr, r->peer) != 0);
}

/*
 * Fresh peers each round, prefixes moving between them; then removal one
 * by one, remove_by_peer for half the peers, and one by one again, so that
 * a peer that lost everything to moves or removes is never removed by name.
 */
static unsigned int fill_and_empty(struct random_run *run, unsigned int round)
{
	unsigned int failures = 0;
	uint8_t addr[16], cidr;

	for (unsigned int i = 0; i < ROUND_PREFIXES; ++i) {
		int family = random_family(&run->rng, 3);
		void *peer = PEER(ROUND_PEERS * round + rng_below(&run->rng, ROUND_PEERS));

		random_prefix(&run->rng, &run->ref, family, addr, &cidr);
		failures += fs_allowedips_insert(run->t, family, addr, cidr, peer) != 0;
		ref_insert(&run->ref, family, addr, cidr, peer);
	}
	while (run->ref.len > ROUND_PREFIXES / 2)
		failures += remove_one(run);
	for (unsigned int p = 0; p < ROUND_PEERS; p += 2) {
		fs_allowedips_remove_by_peer(run->t, PEER(ROUND_PEERS * round + p));
		ref_remove_by_peer(&run->ref, PEER(ROUND_PEERS * round + p));
	}
	while (run->ref.len)
		failures += remove_one(run);
	return failures + (fs_allowedips_count(run->t) != 0);
}

Test(allowedips, emptied_table_gives_its_memory_back)
{
	struct random_run run = { .t = table_new(), .rng = 5, .families = 3 };
	size_t after_first, after_last;
	unsigned int failures;

	run.ref.cap = 2 * ROUND_PREFIXES;
	run.ref.e = malloc(run.ref.cap * sizeof(*run.ref.e));
	cr_assert_not_null(run.ref.e);
	failures = fill_and_empty(&run, 0);
	after_first = heap_in_use();
	for (unsigned int round = 1; round < ROUNDS; ++round)
		failures += fill_and_empty(&run, round);
	after_last = heap_in_use();

	cr_assert_eq(failures, 0);
	cr_assert_eq(run.ref.len, 0);
	cr_assert_leq(after_last, after_first + HEAP_SLACK,
		      "the heap grew by %zu bytes over %d rounds", after_last - after_first,
		      ROUNDS - 1);
	fs_allowedips_free(run.t);
	free(run.ref.e);
}

/* A prefix handed from peer to peer must not leave their empty entries behind. */
Test(allowedips, moving_prefixes_leaves_no_peer_behind)
{
	enum { WARM = 32, LAST = 255 };
	struct fs_allowedips *t = table_new();
	size_t before = 0, after;
	unsigned int failures = 0;

	for (unsigned int i = 0; i <= LAST; ++i) {
		if (i == WARM)
			before = heap_in_use();
		failures += insert_text(t, "10.0.0.0", 8, PEER(i)) != 0;
		failures += insert_text(t, "2001:db8::", 32, PEER(i)) != 0;
		failures += insert_text(t, "10.1.0.0", 16, PEER(i % 2)) != 0;
	}
	after = heap_in_use();

	cr_assert_eq(failures, 0);
	cr_assert_leq(after, before + HEAP_SLACK, "the heap grew by %zu bytes over %d moves",
		      after - before, 2 * (LAST - WARM));
	cr_assert_eq(fs_allowedips_count(t), 3);
	assert_walk(t, PEER(LAST), (const char *const[]){ "10.0.0.0", "8", "2001:db8::", "32" },
		    2);
	assert_walk(t, PEER(LAST - 1), NULL, 0);
	cr_assert_eq(lookup_text(t, "10.1.2.3"), PEER(1));
	fs_allowedips_free(t);
}

/* --- hand-picked tables -------------------------------------------------- */

struct prefix_case {
	const char *addr;
	uint8_t cidr;
	int peer;
};

struct lookup_case {
	const char *addr;
	int peer;			/* -1: nobody */
};

static void insert_cases(struct fs_allowedips *t, const struct prefix_case *c, size_t n)
{
	for (size_t i = 0; i < n; ++i)
		cr_assert_eq(insert_text(t, c[i].addr, c[i].cidr, PEER(c[i].peer)), 0,
			     "insert %s/%u", c[i].addr, c[i].cidr);
}

static void check_cases(struct fs_allowedips *t, const struct lookup_case *c, size_t n)
{
	for (size_t i = 0; i < n; ++i) {
		void *got = lookup_text(t, c[i].addr);

		cr_assert_eq(peer_number(got), c[i].peer, "%s reaches peer %d, want %d", c[i].addr,
			     peer_number(got), c[i].peer);
	}
}

#define N(array) (sizeof(array) / sizeof((array)[0]))

/* Peer numbers: A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7. */
static const struct prefix_case table_prefixes[] = {
	{ "192.168.4.0", 24, 0 },
	{ "192.168.4.4", 32, 1 },
	{ "192.168.0.0", 16, 2 },
	{ "198.51.100.64", 27, 3 },
	{ "198.51.100.77", 27, 2 },		/* same /27: moves it from D to C */
	{ "0.0.0.0", 0, 4 },
	{ "203.0.113.0", 25, 0 },
	{ "203.0.113.128", 25, 1 },		/* sibling: glue at /24 */
	{ "10.0.0.0", 30, 0 },
	{ "10.0.0.4", 30, 1 },
	{ "10.0.0.8", 29, 2 },
	{ "10.0.0.16", 29, 3 },
	{ "172.16.200.7", 20, 6 },		/* 172.16.192.0/20 */
	{ "172.16.201.9", 26, 7 },		/* 172.16.201.0/26 */
	{ "255.255.255.255", 32, 5 },
	{ "2001:db8:1:2::c0de", 128, 3 },
	{ "2001:db8:1:2::", 64, 2 },
	{ "::", 0, 4 },
	{ "::", 0, 5 },				/* moves ::/0 from E to F */
	{ "2001:db8:ff00::", 40, 6 },
	{ "2001:db8:ff00:42:dead:beef:dead:beef", 64, 7 },
	{ "2001:db8:ff00:42:dead:beef:dead:beef", 128, 0 },
	{ "2001:db8:ff00:42:8000::", 65, 1 },
	{ "::ffff:c0a8:404", 128, 6 },		/* not the IPv4 192.168.4.4 */
};

static const struct lookup_case table_lookups[] = {
	{ "192.168.4.20", 0 },
	{ "192.168.4.0", 0 },
	{ "192.168.4.255", 0 },
	{ "192.168.4.4", 1 },
	{ "192.168.4.5", 0 },
	{ "192.168.5.1", 2 },
	{ "192.168.255.255", 2 },
	{ "192.169.0.0", 4 },
	{ "198.51.100.64", 2 },
	{ "198.51.100.95", 2 },
	{ "198.51.100.96", 4 },
	{ "198.51.100.63", 4 },
	{ "203.0.113.1", 0 },
	{ "203.0.113.127", 0 },
	{ "203.0.113.128", 1 },
	{ "203.0.113.200", 1 },
	{ "203.0.112.255", 4 },
	{ "10.0.0.2", 0 },
	{ "10.0.0.6", 1 },
	{ "10.0.0.12", 2 },
	{ "10.0.0.20", 3 },
	{ "10.0.0.24", 4 },
	{ "172.16.192.1", 6 },
	{ "172.16.201.63", 7 },
	{ "172.16.201.64", 6 },
	{ "172.16.208.0", 4 },
	{ "255.255.255.255", 5 },
	{ "255.255.255.254", 4 },
	{ "0.0.0.0", 4 },
	{ "2001:db8:1:2::c0de", 3 },
	{ "2001:db8:1:2::c0df", 2 },
	{ "2001:db8:1:2:ffff:ffff:ffff:ffff", 2 },
	{ "2001:db8:1:3::", 5 },
	{ "2001:db8:ff00:1::1", 6 },
	{ "2001:db8:ffff:ffff::", 6 },
	{ "2001:db8:fe00::1", 5 },
	{ "2001:db8:ff00:42::1", 7 },
	{ "2001:db8:ff00:42:7fff::", 7 },
	{ "2001:db8:ff00:42:8000::", 1 },
	{ "2001:db8:ff00:42:dead:beef:dead:beef", 0 },
	{ "2001:db8:ff00:42:dead:beef:dead:beee", 1 },
	{ "2001:db8:ff00:43::", 6 },
	{ "::", 5 },
	{ "ffff::", 5 },
	{ "::ffff:c0a8:404", 6 },
	{ "::ffff:c0a8:405", 5 },
	{ "::c0a8:404", 5 },
};

/* After removing some of the above. */
static const struct prefix_case table_removed[] = {
	{ "192.168.4.4", 32, 1 },
	{ "10.0.0.1", 30, 0 },			/* host bits are masked here too */
	{ "203.0.113.128", 25, 1 },
	{ "::", 0, 5 },
	{ "2001:db8:ff00:42:dead:beef:dead:beef", 64, 7 },
};

static const struct lookup_case table_after_remove[] = {
	{ "192.168.4.4", 0 },
	{ "192.168.4.5", 0 },
	{ "10.0.0.2", 4 },
	{ "10.0.0.6", 1 },
	{ "10.0.0.12", 2 },
	{ "203.0.113.1", 0 },
	{ "203.0.113.200", 4 },
	{ "::", -1 },
	{ "ffff::", -1 },
	{ "2001:db8:1:3::", -1 },
	{ "2001:db8:1:2::1", 2 },
	{ "2001:db8:ff00:42::1", 6 },
	{ "2001:db8:ff00:42:8000::", 1 },
	{ "2001:db8:ff00:42:dead:beef:dead:beef", 0 },
	{ "2001:db8:ff00:42:dead:beef:dead:beee", 1 },
	{ "0.0.0.0", 4 },
};

Test(allowedips, table_of_overlapping_prefixes)
{
	struct fs_allowedips *t = table_new();
	size_t stored = N(table_prefixes) - 2;	/* two inserts only moved a prefix */

	insert_cases(t, table_prefixes, N(table_prefixes));
	cr_assert_eq(fs_allowedips_count(t), stored);
	check_cases(t, table_lookups, N(table_lookups));

	for (size_t i = 0; i < N(table_removed); ++i)
		cr_assert_eq(remove_text(t, table_removed[i].addr, table_removed[i].cidr,
					 PEER(table_removed[i].peer)), 0,
			     "remove %s/%u", table_removed[i].addr, table_removed[i].cidr);
	cr_assert_eq(fs_allowedips_count(t), stored - N(table_removed));
	check_cases(t, table_after_remove, N(table_after_remove));
	fs_allowedips_free(t);
}

Test(allowedips, default_route_per_family)
{
	struct fs_allowedips *t = table_new();

	cr_assert_eq(insert_text(t, "0.0.0.0", 0, PA), 0);
	cr_assert_eq(lookup_text(t, "0.0.0.0"), PA);
	cr_assert_eq(lookup_text(t, "255.255.255.255"), PA);
	cr_assert_eq(lookup_text(t, "10.1.2.3"), PA);
	cr_assert_null(lookup_text(t, "::"));
	cr_assert_null(lookup_text(t, "2001:db8::1"));

	cr_assert_eq(insert_text(t, "::", 0, PB), 0);
	cr_assert_eq(lookup_text(t, "::"), PB);
	cr_assert_eq(lookup_text(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), PB);
	cr_assert_eq(lookup_text(t, "::ffff:10.1.2.3"), PB);
	cr_assert_eq(lookup_text(t, "10.1.2.3"), PA);
	cr_assert_eq(fs_allowedips_count(t), 2);

	cr_assert_eq(insert_text(t, "0.0.0.0", 32, PC), 0);	/* /32 of 0.0.0.0 is not /0 */
	cr_assert_eq(lookup_text(t, "0.0.0.0"), PC);
	cr_assert_eq(lookup_text(t, "0.0.0.1"), PA);
	cr_assert_eq(insert_text(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128, PD), 0);
	cr_assert_eq(lookup_text(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), PD);
	cr_assert_eq(lookup_text(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), PB);
	cr_assert_eq(fs_allowedips_count(t), 4);

	cr_assert_eq(remove_text(t, "0.0.0.0", 0, PA), 0);
	cr_assert_null(lookup_text(t, "10.1.2.3"));
	cr_assert_eq(lookup_text(t, "0.0.0.0"), PC);
	cr_assert_eq(lookup_text(t, "2001:db8::1"), PB);
	fs_allowedips_free(t);
}

Test(allowedips, insert_of_same_prefix_moves_it)
{
	struct fs_allowedips *t = table_new();
	static const char *const only[] = { "10.0.0.0", "8" };

	cr_assert_eq(insert_text(t, "10.0.0.0", 8, PA), 0);
	cr_assert_eq(insert_text(t, "10.99.0.1", 8, PB), 0);
	cr_assert_eq(fs_allowedips_count(t), 1);
	cr_assert_eq(lookup_text(t, "10.1.1.1"), PB);
	assert_walk(t, PA, NULL, 0);
	assert_walk(t, PB, only, 1);

	cr_assert_eq(remove_text(t, "10.0.0.0", 8, PA), -ENOENT, "A no longer owns it");
	cr_assert_eq(lookup_text(t, "10.1.1.1"), PB);
	cr_assert_eq(insert_text(t, "10.0.0.0", 8, PB), 0);
	cr_assert_eq(fs_allowedips_count(t), 1);
	assert_walk(t, PB, only, 1);
	cr_assert_eq(remove_text(t, "10.0.0.0", 8, PB), 0);
	cr_assert_eq(fs_allowedips_count(t), 0);
	cr_assert_null(lookup_text(t, "10.1.1.1"));
	fs_allowedips_free(t);
}

Test(allowedips, remove_only_by_owner)
{
	struct fs_allowedips *t = table_new();

	cr_assert_eq(insert_text(t, "192.168.4.0", 24, PA), 0);
	cr_assert_eq(insert_text(t, "192.168.4.4", 32, PB), 0);
	cr_assert_eq(insert_text(t, "2001:db8::", 32, PA), 0);

	cr_assert_eq(remove_text(t, "192.168.4.0", 24, PB), -ENOENT);
	cr_assert_eq(remove_text(t, "192.168.4.4", 32, PA), -ENOENT);
	cr_assert_eq(remove_text(t, "192.168.4.0", 25, PA), -ENOENT, "no such prefix");
	cr_assert_eq(remove_text(t, "192.168.0.0", 16, PA), -ENOENT, "no such prefix");
	cr_assert_eq(remove_text(t, "2001:db8::", 32, PB), -ENOENT);
	cr_assert_eq(remove_text(t, "2001:db8::", 33, PA), -ENOENT);
	cr_assert_eq(remove_text(t, "192.168.4.0", 24, PC), -ENOENT, "a peer with nothing");
	cr_assert_eq(fs_allowedips_count(t), 3);
	cr_assert_eq(lookup_text(t, "192.168.4.1"), PA);
	cr_assert_eq(lookup_text(t, "192.168.4.4"), PB);
	cr_assert_eq(lookup_text(t, "2001:db8::1"), PA);

	cr_assert_eq(remove_text(t, "192.168.4.0", 24, PA), 0);
	cr_assert_eq(remove_text(t, "192.168.4.0", 24, PA), -ENOENT, "already gone");
	cr_assert_null(lookup_text(t, "192.168.4.1"));
	cr_assert_eq(lookup_text(t, "192.168.4.4"), PB);
	cr_assert_eq(lookup_text(t, "2001:db8::1"), PA);
	cr_assert_eq(fs_allowedips_count(t), 2);
	fs_allowedips_free(t);
}

/* Two siblings make a glue node at their common prefix; it belongs to nobody. */
Test(allowedips, glue_node_is_not_a_prefix)
{
	struct fs_allowedips *t = table_new();

	cr_assert_eq(insert_text(t, "10.0.0.0", 24, PA), 0);
	cr_assert_eq(insert_text(t, "10.0.1.0", 24, PA), 0);
	cr_assert_eq(fs_allowedips_count(t), 2);
	cr_assert_eq(remove_text(t, "10.0.0.0", 23, PA), -ENOENT);
	cr_assert_null(lookup_text(t, "10.0.2.0"));
	assert_walk(t, PA, (const char *const[]){ "10.0.0.0", "24", "10.0.1.0", "24" }, 2);

	cr_assert_eq(insert_text(t, "10.0.0.0", 23, PB), 0);	/* lands on the glue */
	cr_assert_eq(fs_allowedips_count(t), 3);
	cr_assert_eq(lookup_text(t, "10.0.0.5"), PA);
	cr_assert_eq(lookup_text(t, "10.0.1.5"), PA);
	cr_assert_null(lookup_text(t, "10.0.2.0"));
	cr_assert_eq(remove_text(t, "10.0.0.0", 24, PA), 0);
	cr_assert_eq(lookup_text(t, "10.0.0.5"), PB);
	cr_assert_eq(lookup_text(t, "10.0.1.5"), PA);
	cr_assert_eq(remove_text(t, "10.0.0.0", 23, PB), 0);
	cr_assert_null(lookup_text(t, "10.0.0.5"));
	cr_assert_eq(lookup_text(t, "10.0.1.5"), PA);
	cr_assert_eq(fs_allowedips_count(t), 1);
	fs_allowedips_free(t);
}

Test(allowedips, remove_by_peer_leaves_others)
{
	struct fs_allowedips *t = table_new();
	static const char *const b_walk[] = {
		"10.1.0.0", "16", "10.1.1.1", "32", "2001:db8:1::", "48",
	};

	cr_assert_eq(insert_text(t, "10.0.0.0", 8, PA), 0);
	cr_assert_eq(insert_text(t, "10.1.0.0", 16, PB), 0);
	cr_assert_eq(insert_text(t, "10.1.1.0", 24, PA), 0);
	cr_assert_eq(insert_text(t, "10.1.1.1", 32, PB), 0);
	cr_assert_eq(insert_text(t, "10.1.1.2", 32, PA), 0);
	cr_assert_eq(insert_text(t, "2001:db8::", 32, PA), 0);
	cr_assert_eq(insert_text(t, "2001:db8:1::", 48, PB), 0);
	cr_assert_eq(insert_text(t, "172.16.0.0", 12, PC), 0);
	cr_assert_eq(fs_allowedips_count(t), 8);

	fs_allowedips_remove_by_peer(t, PA);
	cr_assert_eq(fs_allowedips_count(t), 4);
	assert_walk(t, PA, NULL, 0);
	assert_walk(t, PB, b_walk, 3);
	cr_assert_null(lookup_text(t, "10.0.0.1"));
	cr_assert_eq(lookup_text(t, "10.1.0.1"), PB);
	cr_assert_eq(lookup_text(t, "10.1.1.2"), PB);
	cr_assert_eq(lookup_text(t, "10.1.1.1"), PB);
	cr_assert_null(lookup_text(t, "2001:db8::1"));
	cr_assert_eq(lookup_text(t, "2001:db8:1::1"), PB);
	cr_assert_eq(lookup_text(t, "172.31.255.255"), PC);

	fs_allowedips_remove_by_peer(t, PA);
	fs_allowedips_remove_by_peer(t, PD);
	cr_assert_eq(fs_allowedips_count(t), 4);
	fs_allowedips_remove_by_peer(t, PB);
	cr_assert_eq(fs_allowedips_count(t), 1);
	cr_assert_null(lookup_text(t, "10.1.1.1"));
	cr_assert_eq(lookup_text(t, "172.16.0.1"), PC);
	cr_assert_eq(insert_text(t, "10.1.1.1", 32, PA), 0, "a peer can come back");
	cr_assert_eq(lookup_text(t, "10.1.1.1"), PA);
	fs_allowedips_free(t);
}

Test(allowedips, walk_in_insertion_order)
{
	struct fs_allowedips *t = table_new();
	static const char *const first[] = {
		"10.0.0.0", "8", "2001:db8::", "32", "192.168.1.0", "24", "10.1.0.0", "16",
		"::", "0",
	};
	static const char *const later[] = {
		"2001:db8::", "32", "10.1.0.0", "16", "::", "0", "10.0.0.0", "8",
	};
	struct walk_log log = { .stop_after = 2 };

	cr_assert_eq(insert_text(t, "10.0.0.0", 8, PA), 0);
	cr_assert_eq(insert_text(t, "172.16.0.0", 12, PB), 0);
	cr_assert_eq(insert_text(t, "2001:db8::", 32, PA), 0);
	cr_assert_eq(insert_text(t, "192.168.1.0", 24, PA), 0);
	cr_assert_eq(insert_text(t, "10.2.0.0", 16, PB), 0);
	cr_assert_eq(insert_text(t, "10.1.0.0", 16, PA), 0);
	cr_assert_eq(insert_text(t, "::", 0, PA), 0);
	assert_walk(t, PA, first, 5);
	assert_walk(t, PB, (const char *const[]){ "172.16.0.0", "12", "10.2.0.0", "16" }, 2);

	cr_assert_eq(insert_text(t, "192.168.1.0", 24, PB), 0);	/* leaves A's list */
	cr_assert_eq(insert_text(t, "10.0.0.0", 8, PA), 0);	/* to the end again */
	assert_walk(t, PA, later, 4);
	assert_walk(t, PB, (const char *const[]){ "172.16.0.0", "12", "10.2.0.0", "16",
						 "192.168.1.0", "24" }, 3);

	fs_allowedips_walk_by_peer(t, PA, walk_record, &log);
	cr_assert_eq(log.len, 2, "the walk goes on after fn returned false");
	cr_assert_eq(log.items[1].cidr, 16);
	free(log.items);
	assert_walk(t, PC, NULL, 0);
	fs_allowedips_free(t);
}

Test(allowedips, host_bits_are_masked)
{
	struct fs_allowedips *t = table_new();
	static const char *const masked[] = {
		"10.0.0.0", "8", "2001:db8::", "32", "0.0.0.0", "0", "::", "0",
		"172.16.201.64", "26", "2001:db8:ff00:42::", "63", "192.0.2.1", "32",
	};

	cr_assert_eq(insert_text(t, "10.1.2.3", 8, PA), 0);
	cr_assert_eq(insert_text(t, "2001:db8:1:2:3:4:5:6", 32, PA), 0);
	cr_assert_eq(insert_text(t, "1.2.3.4", 0, PA), 0);
	cr_assert_eq(insert_text(t, "ffff::1", 0, PA), 0);
	cr_assert_eq(insert_text(t, "172.16.201.99", 26, PA), 0);
	cr_assert_eq(insert_text(t, "2001:db8:ff00:43:ffff::", 63, PA), 0);
	cr_assert_eq(insert_text(t, "192.0.2.1", 32, PA), 0);
	assert_walk(t, PA, masked, 7);
	cr_assert_eq(insert_text(t, "10.200.0.0", 8, PA), 0, "the same /8");
	cr_assert_eq(fs_allowedips_count(t), 7);

	cr_assert_eq(insert_text(t, "1.1.1.1", 0, PB), 0);
	cr_assert_eq(lookup_text(t, "10.255.255.255"), PA);
	cr_assert_eq(lookup_text(t, "11.0.0.0"), PB);
	cr_assert_eq(lookup_text(t, "172.16.201.127"), PA);
	cr_assert_eq(lookup_text(t, "172.16.201.63"), PB);
	cr_assert_eq(lookup_text(t, "2001:db8:ff00:42::"), PA);
	cr_assert_eq(lookup_text(t, "2001:db8:ff00:44::"), PA, "inside 2001:db8::/32");
	cr_assert_eq(remove_text(t, "10.9.9.9", 8, PA), 0);
	cr_assert_eq(lookup_text(t, "10.1.2.3"), PB);
	fs_allowedips_free(t);
}

Test(allowedips, invalid_arguments)
{
	struct fs_allowedips *t = table_new();
	uint8_t a[16] = { 10 };

	cr_assert_eq(fs_allowedips_insert(t, AF_UNIX, a, 8, PA), -EINVAL);
	cr_assert_eq(fs_allowedips_insert(t, AF_UNSPEC, a, 0, PA), -EINVAL);
	cr_assert_eq(fs_allowedips_insert(t, AF_INET, a, 33, PA), -EINVAL);
	cr_assert_eq(fs_allowedips_insert(t, AF_INET, a, 255, PA), -EINVAL);
	cr_assert_eq(fs_allowedips_insert(t, AF_INET6, a, 129, PA), -EINVAL);
	cr_assert_eq(fs_allowedips_insert(t, AF_INET, a, 8, NULL), -EINVAL);
	cr_assert_eq(fs_allowedips_count(t), 0);
	cr_assert_null(fs_allowedips_lookup(t, AF_INET, a));
	assert_walk(t, PA, NULL, 0);

	cr_assert_eq(fs_allowedips_insert(t, AF_INET, a, 32, PA), 0);
	cr_assert_eq(fs_allowedips_insert(t, AF_INET6, a, 128, PB), 0);
	cr_assert_eq(fs_allowedips_count(t), 2);
	cr_assert_null(fs_allowedips_lookup(t, AF_UNIX, a));
	cr_assert_eq(fs_allowedips_lookup(t, AF_INET, a), PA);
	cr_assert_eq(fs_allowedips_lookup(t, AF_INET6, a), PB);
	cr_assert_eq(fs_allowedips_remove(t, AF_UNIX, a, 32, PA), -ENOENT);
	cr_assert_eq(fs_allowedips_remove(t, AF_INET, a, 33, PA), -ENOENT);
	cr_assert_eq(fs_allowedips_remove(t, AF_INET, a, 32, NULL), -ENOENT);
	cr_assert_eq(fs_allowedips_count(t), 2);
	fs_allowedips_free(t);
	fs_allowedips_free(NULL);
}

Test(allowedips, count_follows_prefixes)
{
	struct fs_allowedips *t = table_new();

	cr_assert_eq(insert_text(t, "10.0.0.0", 8, PA), 0);
	cr_assert_eq(fs_allowedips_count(t), 1);
	cr_assert_eq(insert_text(t, "10.0.0.0", 8, PA), 0);
	cr_assert_eq(fs_allowedips_count(t), 1);
	cr_assert_eq(insert_text(t, "10.0.0.0", 9, PA), 0);
	cr_assert_eq(insert_text(t, "10.128.0.0", 9, PB), 0);
	cr_assert_eq(insert_text(t, "11.0.0.0", 8, PB), 0);	/* glue at 10.0.0.0/7 */
	cr_assert_eq(insert_text(t, "10.0.0.0", 8, PB), 0);
	cr_assert_eq(fs_allowedips_count(t), 4);
	cr_assert_eq(insert_text(t, "a00::", 8, PA), 0);	/* same bits, other family */
	cr_assert_eq(fs_allowedips_count(t), 5);
	cr_assert_eq(lookup_text(t, "a00::1"), PA);
	cr_assert_eq(lookup_text(t, "10.0.0.1"), PA);
	cr_assert_eq(lookup_text(t, "10.200.0.1"), PB);
	fs_allowedips_remove_by_peer(t, PB);
	cr_assert_eq(fs_allowedips_count(t), 2);
	cr_assert_eq(lookup_text(t, "10.200.0.1"), NULL);
	fs_allowedips_remove_by_peer(t, PA);
	cr_assert_eq(fs_allowedips_count(t), 0);
	cr_assert_null(lookup_text(t, "10.0.0.1"));
	cr_assert_null(lookup_text(t, "a00::1"));
	fs_allowedips_free(t);
}

/* --- scale --------------------------------------------------------------- */

enum { MANY = 100000, B_EVERY = 101 };

/*
 * Prefix i: a /32 or a /128 made from i times an odd constant, which is a
 * bijection of 32-bit values, so no two are the same. Every B_EVERY-th is B's.
 */
static int many_prefix(uint32_t i, uint8_t out[16], uint8_t *cidr)
{
	uint32_t be = htonl(i * UINT32_C(2654435761) + 12345);

	memset(out, 0, 16);
	if (i % 2) {
		memcpy(out, &be, 4);
		*cidr = 32;
		return AF_INET;
	}
	memcpy(out, (const uint8_t[]){ 0x20, 0x01, 0x0d, 0xb8 }, 4);
	memcpy(out + 12, &be, 4);
	*cidr = 128;
	return AF_INET6;
}

static void *many_owner(uint32_t i)
{
	return i % B_EVERY ? PA : PB;
}

Test(allowedips, remove_by_peer_with_100k_prefixes)
{
	struct fs_allowedips *t = table_new();
	size_t of_b = 0;
	uint8_t a[16], cidr;
	int family;

	for (uint32_t i = 0; i < MANY; ++i) {
		family = many_prefix(i, a, &cidr);
		cr_assert_eq(fs_allowedips_insert(t, family, a, cidr, many_owner(i)), 0);
		of_b += many_owner(i) == PB;
	}
	cr_assert_eq(fs_allowedips_count(t), MANY);
	for (uint32_t i = 0; i < MANY; i += 7) {
		family = many_prefix(i, a, &cidr);
		cr_assert_eq(fs_allowedips_lookup(t, family, a), many_owner(i), "prefix %u", i);
	}

	fs_allowedips_remove_by_peer(t, PA);
	cr_assert_eq(fs_allowedips_count(t), of_b);
	for (uint32_t i = 0; i < MANY; ++i) {
		void *want = many_owner(i) == PB ? PB : NULL;

		family = many_prefix(i, a, &cidr);
		if (fs_allowedips_lookup(t, family, a) != want)
			cr_assert_fail("prefix %u reaches peer %d, want %d", i,
				       peer_number(fs_allowedips_lookup(t, family, a)),
				       peer_number(want));
	}
	fs_allowedips_remove_by_peer(t, PB);
	cr_assert_eq(fs_allowedips_count(t), 0);
	fs_allowedips_free(t);
}

/* --- RCU: a reader thread against a changing trie ------------------------- */

/*
 * The stable part never changes:
 *
 *   S  10.0.0.0/8          2001:db8::/32
 *   U  10.42.0.0/16        2001:db8:0:42::/64
 *   V  10.42.7.7/32        2001:db8:0:42::7/128
 *   T  172.16.0.0/12
 *      192.0.2.0/24 belongs to nobody
 *
 * (peers PS, PU, PV and PT below). The writer keeps adding and removing
 * prefixes of X (PX) inside S's, half of them grown from V's, so glue
 * nodes come and go right on the paths to U and V, but never one of the
 * stable prefixes itself. Whatever the reader catches the writer doing, a
 * lookup must give S or X in S's ranges, U or X in U's, V for V's
 * addresses, T in T's and nobody in 192.0.2.0/24.
 *
 * A node freed before the grace period ends is a use-after-free that ASan
 * reports at once (checked by making retire() call free). A node made
 * reachable before its children are set would send the reader to S instead
 * of U or V, but that window is a few instructions wide: this test only
 * catches it when the window is widened, so it is no proof of ordering.
 * Asserting is left to the main thread.
 */
#define PS PEER(10)
#define PT PEER(11)
#define PU PEER(12)
#define PV PEER(13)
#define PX PEER(14)

static const uint8_t v6_net[4] = { 0x20, 0x01, 0x0d, 0xb8 };

struct rcu_run {
	struct fs_allowedips *table;
	atomic_bool stop;
	atomic_ulong lookups, wrong, saw_x;
};

/* addr gets family's U prefix (10.42/16 or 2001:db8:0:42::/64), host bits kept. */
static void in_u(int family, uint8_t *addr)
{
	if (family == AF_INET) {
		addr[0] = 10;
		addr[1] = 42;
		return;
	}
	memcpy(addr, v6_net, 4);
	memcpy(addr + 4, (const uint8_t[]){ 0, 0, 0, 0x42 }, 4);
}

static void v_addr(int family, uint8_t *addr)
{
	memset(addr, 0, 16);
	in_u(family, addr);
	if (family == AF_INET) {
		addr[2] = addr[3] = 7;
		return;
	}
	addr[15] = 7;
}

static bool is_v(int family, const uint8_t *addr)
{
	uint8_t v[16];

	v_addr(family, v);
	return !memcmp(v, addr, addr_len(family));
}

/* A random address: in S's range outside U's, in U's, V's own, T's or nobody's. */
static void *reader_expect(uint64_t *rng, unsigned int kind, int *family, uint8_t *addr,
			   void **or_x)
{
	uint64_t r[2] = { rng_next(rng), rng_next(rng) };

	memcpy(addr, r, 16);
	*family = kind & 1 ? AF_INET6 : AF_INET;
	*or_x = PX;
	switch (kind / 2) {
	case 0:
		in_u(*family, addr);
		if (*family == AF_INET)
			addr[1] = 43;
		else
			addr[7] = 0x43;
		return PS;
	case 1:
		in_u(*family, addr);
		return is_v(*family, addr) ? PV : PU;
	case 2:
		v_addr(*family, addr);
		*or_x = NULL;
		return PV;
	case 3:
		*family = AF_INET;
		addr[0] = 172;
		addr[1] = 16 | (addr[1] & 15);
		*or_x = NULL;
		return PT;
	default:
		*family = AF_INET;
		memcpy(addr, (const uint8_t[]){ 192, 0, 2 }, 3);
		*or_x = NULL;
		return NULL;
	}
}

static void reader_check(struct rcu_run *run, uint64_t *rng, unsigned int kind)
{
	uint8_t addr[16];
	void *want, *or_x, *got;
	int family;

	want = reader_expect(rng, kind, &family, addr, &or_x);
	got = fs_allowedips_lookup(run->table, family, addr);
	if (got && got == or_x)
		atomic_fetch_add(&run->saw_x, 1);
	else if (got != want)
		atomic_fetch_add(&run->wrong, 1);
}

static void *reader_main(void *arg)
{
	struct rcu_run *run = arg;
	uint64_t rng = 99;

	urcu_memb_register_thread();
	while (!atomic_load(&run->stop)) {
		urcu_memb_read_lock();
		for (unsigned int i = 0; i < 60; ++i)
			reader_check(run, &rng, i % 10);
		urcu_memb_read_unlock();
		atomic_fetch_add(&run->lookups, 60);
	}
	urcu_memb_unregister_thread();
	return NULL;
}

struct churn_prefix {
	int family;
	uint8_t addr[16];
	uint8_t cidr;
	bool stored;
};

static bool is_stable(const struct churn_prefix *p)
{
	uint8_t u[16] = { 0 };
	int bits = addr_bits(p->family);

	in_u(p->family, u);
	if (p->cidr == bits)
		return is_v(p->family, p->addr);
	if (p->cidr == bits / 2 || p->cidr == bits / 4)
		return !memcmp(p->addr, u, addr_len(p->family));
	return false;
}

/* A random prefix of X inside S's, half of them near V's, none a stable one. */
static void churn_pick(uint64_t *rng, struct churn_prefix *p)
{
	struct ref_entry masked;
	int bits, base;

	do {
		p->family = rng_below(rng, 2) ? AF_INET6 : AF_INET;
		bits = addr_bits(p->family);
		base = bits / 4;
		v_addr(p->family, p->addr);
		randomize_from(rng, p->family, p->addr,
			       rng_below(rng, 2) ? base : base + (int)rng_below(rng, 3 * base));
		p->cidr = (uint8_t)(base + 1 + rng_below(rng, (uint32_t)(bits - base)));
		ref_fill(&masked, p->family, p->addr, p->cidr);
		memcpy(p->addr, masked.addr, 16);
	} while (is_stable(p));
}

static void churn_step(struct rcu_run *run, uint64_t *rng, struct churn_prefix *set, size_t n)
{
	struct churn_prefix *p = &set[rng_below(rng, (uint32_t)n)];

	if (rng_below(rng, 512) == 0) {
		fs_allowedips_remove_by_peer(run->table, PX);
		for (size_t i = 0; i < n; ++i)
			set[i].stored = false;
		return;
	}
	if (p->stored) {
		cr_assert_eq(fs_allowedips_remove(run->table, p->family, p->addr, p->cidr, PX), 0);
		p->stored = false;
		return;
	}
	churn_pick(rng, p);
	cr_assert_eq(fs_allowedips_insert(run->table, p->family, p->addr, p->cidr, PX), 0);
	p->stored = true;
	/* A pick may repeat a stored prefix: only the older one owns it. */
	for (size_t i = 0; i < n; ++i)
		if (&set[i] != p && set[i].stored && set[i].family == p->family &&
		    set[i].cidr == p->cidr && !memcmp(set[i].addr, p->addr, 16))
			p->stored = false;
}

static void stable_insert(struct fs_allowedips *t)
{
	static const struct prefix_case stable[] = {
		{ "10.0.0.0", 8, 10 },		{ "2001:db8::", 32, 10 },
		{ "10.42.0.0", 16, 12 },	{ "2001:db8:0:42::", 64, 12 },
		{ "10.42.7.7", 32, 13 },	{ "2001:db8:0:42::7", 128, 13 },
		{ "172.16.0.0", 12, 11 },
	};

	insert_cases(t, stable, N(stable));
	cr_assert_eq(lookup_text(t, "10.42.7.7"), PV);
	cr_assert_eq(lookup_text(t, "2001:db8:0:42::8"), PU);
}

Test(allowedips, rcu_reader_during_inserts_and_removes)
{
	enum { SET = 256, MIN_STEPS = 40000, MIN_LOOKUPS = 200000 };
	static struct churn_prefix set[SET];
	struct rcu_run run = { .table = table_new() };
	uint64_t rng = 7;
	unsigned long steps = 0;
	pthread_t reader;

	stable_insert(run.table);
	cr_assert_eq(pthread_create(&reader, NULL, reader_main, &run), 0);
	while (steps < MIN_STEPS || atomic_load(&run.lookups) < MIN_LOOKUPS) {
		churn_step(&run, &rng, set, SET);
		++steps;
	}
	atomic_store(&run.stop, true);
	cr_assert_eq(pthread_join(reader, NULL), 0);

	cr_assert_eq(atomic_load(&run.wrong), 0, "%lu of %lu lookups were wrong",
		     atomic_load(&run.wrong), atomic_load(&run.lookups));
	cr_assert_gt(atomic_load(&run.saw_x), 0, "the reader never caught a churned prefix");
	fs_allowedips_remove_by_peer(run.table, PX);
	cr_assert_eq(fs_allowedips_count(run.table), 7);
	cr_assert_eq(lookup_text(run.table, "10.1.2.3"), PS);
	cr_assert_eq(lookup_text(run.table, "10.42.7.7"), PV);
	cr_assert_eq(lookup_text(run.table, "2001:db8:0:42::7"), PV);
	cr_assert_eq(lookup_text(run.table, "2001:db8:0:42::6"), PU);
	fs_allowedips_free(run.table);
}
