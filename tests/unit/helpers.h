/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared fixtures of the unit tests: hex decoding and comparison, and two
 * ends of a tunnel built in one process.
 *
 * A "side" is one WireGuard device reduced to what the core needs: an
 * identity, an index table and its view of the other side (a peer). A
 * "pair" is two sides that know each other; fs_test_handshake() runs a
 * whole handshake between them through the public API only, asserting
 * every step, so a test that needs keypairs can start from working ones.
 */
#ifndef FLOWSPREAD_TESTS_UNIT_HELPERS_H
#define FLOWSPREAD_TESTS_UNIT_HELPERS_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "clock.h"
#include "cookie.h"
#include "index.h"
#include "messages.h"
#include "noise.h"
#include "tai64n.h"

static inline void fs_test_sodium_init(void)
{
	cr_assert_geq(sodium_init(), 0, "sodium_init failed");
}

static inline int fs_test_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes exactly len bytes from hex; a malformed constant fails the test. */
static inline void fs_test_unhex(uint8_t *out, size_t len, const char *hex)
{
	cr_assert_eq(strlen(hex), 2 * len, "hex constant has %zu digits, want %zu",
		     strlen(hex), 2 * len);
	for (size_t i = 0; i < len; ++i) {
		int hi = fs_test_nibble(hex[2 * i]), lo = fs_test_nibble(hex[2 * i + 1]);

		cr_assert(hi >= 0 && lo >= 0, "bad hex digit near offset %zu", 2 * i);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
}

/* out must hold 2 * len + 1 characters. */
static inline void fs_test_tohex(char *out, const void *in, size_t len)
{
	const uint8_t *p = in;

	for (size_t i = 0; i < len; ++i)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
	out[2 * len] = '\0';
}

static inline void fs_test_assert_bytes(const void *actual, const void *expected, size_t len,
					const char *what, const char *file, int line)
{
	char a[2 * 256 + 1], e[2 * 256 + 1];

	if (!memcmp(actual, expected, len))
		return;
	fs_test_tohex(a, actual, len < 256 ? len : 256);
	fs_test_tohex(e, expected, len < 256 ? len : 256);
	cr_assert_fail("%s:%d: %s differs\n  actual   %s\n  expected %s", file, line, what, a, e);
}

static inline void fs_test_assert_hex(const void *actual, size_t len, const char *hex,
				      const char *what, const char *file, int line)
{
	uint8_t expected[4096];

	cr_assert_leq(len, sizeof(expected));
	fs_test_unhex(expected, len, hex);
	fs_test_assert_bytes(actual, expected, len, what, file, line);
}

/* Asserts that len bytes at actual equal the bytes the hex string spells. */
#define fs_assert_hex(actual, len, hex) \
	fs_test_assert_hex((actual), (len), (hex), #actual, __FILE__, __LINE__)
#define fs_assert_bytes(actual, expected, len) \
	fs_test_assert_bytes((actual), (expected), (len), #actual, __FILE__, __LINE__)

static inline bool fs_test_all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; ++i)
		if (b[i])
			return false;
	return true;
}

static inline uint32_t fs_test_le32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t fs_test_le64(const void *p)
{
	const uint8_t *b = p;

	return (uint64_t)fs_test_le32(b) | (uint64_t)fs_test_le32(b + 4) << 32;
}

/* A small deterministic generator (xorshift64*) so random tests repeat. */
static inline uint64_t fs_test_rand(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * UINT64_C(2685821657736338717);
}

/* An IPv4 source address in host-order port, as recvmsg would give it. */
static inline struct sockaddr_in fs_test_addr4(const char *ip, uint16_t port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	cr_assert_eq(inet_pton(AF_INET, ip, &sin.sin_addr), 1, "bad test address %s", ip);
	return sin;
}

static inline struct sockaddr_in6 fs_test_addr6(const char *ip, uint16_t port)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(port);
	cr_assert_eq(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1, "bad test address %s", ip);
	return sin6;
}

/* Seconds as CLOCK_BOOTTIME nanoseconds, the unit of every "now". */
#define FS_TEST_SEC(s) ((uint64_t)(s) * FS_NSEC_PER_SEC)

/* --- two ends of a tunnel ------------------------------------------------- */

struct fs_test_side {
	struct fs_noise_identity *identity;
	struct fs_index_table *table;
	struct fs_noise_peer *peer;	/* this side's view of the other side */
};

struct fs_test_pair {
	struct fs_test_side a, b;
	uint64_t unix_seconds;		/* timestamp of the next initiation */
};

static inline struct fs_noise_identity *fs_test_identity_new(void)
{
	struct fs_noise_identity *identity = fs_noise_identity_new();
	uint8_t private_key[WG_KEY_LEN];

	cr_assert_not_null(identity, "fs_noise_identity_new");
	fs_noise_generate_private(private_key);
	cr_assert(fs_noise_identity_set_private(identity, private_key),
		  "fs_noise_identity_set_private rejected a generated key");
	cr_assert(identity->has_identity);
	sodium_memzero(private_key, sizeof(private_key));
	return identity;
}

/* The lookup callback of fs_noise_consume_initiation: ctx is the responder side. */
static inline struct fs_noise_peer *fs_test_lookup(void *ctx,
						   const uint8_t remote_static[WG_KEY_LEN])
{
	struct fs_test_side *side = ctx;

	if (side->peer && !memcmp(side->peer->handshake.remote_static, remote_static, WG_KEY_LEN))
		return side->peer;
	return NULL;
}

static inline struct fs_noise_peer *fs_test_lookup_nobody(void *ctx,
							  const uint8_t remote_static[WG_KEY_LEN])
{
	(void)ctx;
	(void)remote_static;
	return NULL;
}

/*
 * Two identities, one index table each, and a peer on each side naming the
 * other. psk_a and psk_b are each side's preshared key (NULL: none).
 */
static inline void fs_test_pair_init_psk(struct fs_test_pair *pair, const uint8_t *psk_a,
					 const uint8_t *psk_b)
{
	fs_test_sodium_init();
	memset(pair, 0, sizeof(*pair));
	pair->unix_seconds = UINT64_C(1600000000);
	pair->a.identity = fs_test_identity_new();
	pair->b.identity = fs_test_identity_new();
	pair->a.table = fs_index_table_new();
	pair->b.table = fs_index_table_new();
	cr_assert(pair->a.table && pair->b.table, "fs_index_table_new");
	pair->a.peer = fs_noise_peer_new(pair->a.identity, pair->b.identity->public_key, psk_a,
					 &pair->a);
	pair->b.peer = fs_noise_peer_new(pair->b.identity, pair->a.identity->public_key, psk_b,
					 &pair->b);
	cr_assert(pair->a.peer && pair->b.peer, "fs_noise_peer_new");
}

static inline void fs_test_pair_init(struct fs_test_pair *pair)
{
	fs_test_pair_init_psk(pair, NULL, NULL);
}

static inline void fs_test_side_free(struct fs_test_side *side)
{
	if (side->peer)
		fs_noise_peer_free(side->peer, side->table);
	if (side->table) {
		cr_expect_eq(fs_index_count(side->table), 0,
			     "index table still holds %zu entries after the peer was freed",
			     fs_index_count(side->table));
		fs_index_table_free(side->table);
	}
	if (side->identity)
		fs_noise_identity_free(side->identity);
	memset(side, 0, sizeof(*side));
}

static inline void fs_test_pair_free(struct fs_test_pair *pair)
{
	fs_test_side_free(&pair->a);
	fs_test_side_free(&pair->b);
}

/* A fresh timestamp for the pair's next initiation, one second later each time. */
static inline void fs_test_next_timestamp(struct fs_test_pair *pair,
					  uint8_t timestamp[WG_TIMESTAMP_LEN])
{
	fs_tai64n_from(timestamp, pair->unix_seconds++, 0);
}

/*
 * A whole handshake from "from" (initiator) to "to" (responder) at time
 * now, with macs made and checked as the daemon would. Both sides begin
 * their session; the responder's keypair waits in "next".
 */
static inline void fs_test_handshake_between(struct fs_test_pair *pair,
					     struct fs_test_side *from, struct fs_test_side *to,
					     uint64_t now)
{
	struct wg_message_handshake_initiation initiation;
	struct wg_message_handshake_response response;
	struct fs_cookie_checker to_checker, from_checker;
	struct sockaddr_in from_addr = fs_test_addr4("192.0.2.1", 51820);
	struct sockaddr_in to_addr = fs_test_addr4("198.51.100.2", 51820);
	uint8_t timestamp[WG_TIMESTAMP_LEN];

	fs_cookie_checker_init(&to_checker, to->identity->public_key);
	fs_cookie_checker_init(&from_checker, from->identity->public_key);

	fs_test_next_timestamp(pair, timestamp);
	cr_assert(fs_noise_create_initiation(from->peer, &initiation, from->table, timestamp),
		  "create_initiation");
	fs_cookie_add_macs(&from->peer->cookie, &initiation, sizeof(initiation), now);
	cr_assert_eq(fs_cookie_validate(&to_checker, &initiation, sizeof(initiation),
					(struct sockaddr *)&from_addr, false,
					now),
		     FS_COOKIE_VALID_MAC_BUT_NO_COOKIE, "initiation mac1");
	cr_assert_eq(fs_noise_consume_initiation(&initiation, to->identity, fs_test_lookup, to, now),
		     to->peer, "consume_initiation");
	cr_assert(fs_noise_create_response(to->peer, &response, to->table), "create_response");
	fs_cookie_add_macs(&to->peer->cookie, &response, sizeof(response), now);
	cr_assert_eq(fs_cookie_validate(&from_checker, &response, sizeof(response),
					(struct sockaddr *)&to_addr, false,
					now),
		     FS_COOKIE_VALID_MAC_BUT_NO_COOKIE, "response mac1");
	cr_assert_eq(fs_noise_consume_response(&response, from->identity, from->table), from->peer,
		     "consume_response");
	cr_assert(fs_noise_begin_session(from->peer, from->table, now), "initiator begin_session");
	cr_assert(fs_noise_begin_session(to->peer, to->table, now), "responder begin_session");
}

/* a initiates to b. */
static inline void fs_test_handshake(struct fs_test_pair *pair, uint64_t now)
{
	fs_test_handshake_between(pair, &pair->a, &pair->b, now);
}

#endif
