// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mac1, mac2 and cookie replies (whitepaper 5.4.7), end to end between two
 * sides in one process, and against the independent Python implementation
 * of helpers.h for the bytes the other side computes.
 */
#include <sys/un.h>
#include "helpers.h"
#include "cookie.h"
#include "transport.h"
#include "leakcheck.h"

#define T0 FS_TEST_SEC(1000)
#define MAKER_LIFETIME FS_TEST_SEC(WG_COOKIE_SECRET_MAX_AGE - WG_COOKIE_SECRET_LATENCY)
#define SECRET_LIFETIME FS_TEST_SEC(WG_COOKIE_SECRET_MAX_AGE)

struct load_fixture {
	struct fs_test_pair pair;
	struct fs_cookie_checker checker;	/* b's, for messages from a */
	struct sockaddr_in src;			/* where a's messages come from */
};

static void load_init(struct load_fixture *f)
{
	fs_test_pair_init(&f->pair);
	fs_cookie_checker_init(&f->checker, f->pair.b.identity->public_key);
	f->src = fs_test_addr4("192.0.2.1", 51820);
}

/* a's next initiation to b, with macs made at now. */
static void initiation_at(struct load_fixture *f, struct wg_message_handshake_initiation *msg,
			  uint64_t now)
{
	uint8_t ts[WG_TIMESTAMP_LEN];

	fs_test_next_timestamp(&f->pair, ts);
	cr_assert(fs_noise_create_initiation(f->pair.a.peer, msg, f->pair.a.table, ts));
	fs_cookie_add_macs(&f->pair.a.peer->cookie, msg, sizeof(*msg), now);
}

static enum fs_cookie_mac_state validate(struct load_fixture *f, const void *msg, size_t len,
					 const void *src, bool under_load, uint64_t now)
{
	return fs_cookie_validate(&f->checker, msg, len, src, under_load, now);
}

/* b answers msg (from f->src) with a cookie reply, which a takes. */
static void cookie_round(struct load_fixture *f, const struct wg_message_handshake_initiation *msg,
			 uint64_t now)
{
	struct wg_message_handshake_cookie reply;

	cr_assert(fs_cookie_create_reply(&f->checker, &reply, msg, sizeof(*msg),
					 fs_test_le32(&msg->sender_index),
					 (struct sockaddr *)&f->src, now));
	cr_assert(fs_cookie_consume_reply(&reply, f->pair.a.table, now), "reply refused");
}

FS_LEAK_CHECKED_SUITE(cookie);

Test(cookie, mac1_on_both_handshake_messages)
{
	struct wg_message_handshake_initiation initiation;
	struct wg_message_handshake_response response;
	struct fs_cookie_checker checker_a;
	struct load_fixture f;

	load_init(&f);
	initiation_at(&f, &initiation, T0);
	cr_assert(fs_test_all_zero(initiation.macs.mac2, WG_COOKIE_LEN), "mac2 without a cookie");
	cr_assert_not(fs_test_all_zero(initiation.macs.mac1, WG_COOKIE_LEN));
	cr_assert_eq(validate(&f, &initiation, sizeof(initiation), &f.src, false, T0),
		     FS_COOKIE_VALID_MAC_BUT_NO_COOKIE);
	cr_assert_eq(validate(&f, &initiation, sizeof(initiation), &f.src, true, T0),
		     FS_COOKIE_VALID_MAC_BUT_NO_COOKIE);

	cr_assert(fs_noise_consume_initiation(&initiation, f.pair.b.identity, fs_test_lookup,
					      &f.pair.b, T0));
	cr_assert(fs_noise_create_response(f.pair.b.peer, &response, f.pair.b.table));
	fs_cookie_add_macs(&f.pair.b.peer->cookie, &response, sizeof(response), T0);
	fs_cookie_checker_init(&checker_a, f.pair.a.identity->public_key);
	cr_assert_eq(fs_cookie_validate(&checker_a, &response, sizeof(response),
					(struct sockaddr *)&f.src, false, T0),
		     FS_COOKIE_VALID_MAC_BUT_NO_COOKIE);
	/* mac1 is keyed by the receiver's public key: b's checker refuses it. */
	cr_assert_eq(validate(&f, &response, sizeof(response), &f.src, false, T0),
		     FS_COOKIE_INVALID_MAC);
	fs_test_pair_free(&f.pair);
}

Test(cookie, wrong_mac1_is_invalid)
{
	struct wg_message_handshake_initiation msg;
	struct fs_cookie_checker nobody;
	struct fs_cookie_maker wrong;
	struct load_fixture f;

	load_init(&f);
	initiation_at(&f, &msg, T0);
	/* Macs made for a's own key instead of b's. */
	fs_cookie_maker_init(&wrong, f.pair.a.identity->public_key);
	fs_cookie_add_macs(&wrong, &msg, sizeof(msg), T0);
	cr_assert_eq(validate(&f, &msg, sizeof(msg), &f.src, false, T0), FS_COOKIE_INVALID_MAC);
	cr_assert_eq(validate(&f, &msg, sizeof(msg), &f.src, true, T0), FS_COOKIE_INVALID_MAC);
	/* A zero mac1. */
	fs_cookie_add_macs(&f.pair.a.peer->cookie, &msg, sizeof(msg), T0);
	memset(msg.macs.mac1, 0, WG_COOKIE_LEN);
	cr_assert_eq(validate(&f, &msg, sizeof(msg), &f.src, false, T0), FS_COOKIE_INVALID_MAC);
	/* A checker without an identity knows no mac1 key. */
	fs_cookie_add_macs(&f.pair.a.peer->cookie, &msg, sizeof(msg), T0);
	fs_cookie_checker_init(&nobody, NULL);
	cr_assert_eq(fs_cookie_validate(&nobody, &msg, sizeof(msg), (struct sockaddr *)&f.src,
					false, T0),
		     FS_COOKIE_INVALID_MAC);
	fs_test_pair_free(&f.pair);
}

Test(cookie, too_short_is_invalid)
{
	struct fs_cookie_checker checker;
	uint8_t key[WG_KEY_LEN] = { 1 };
	struct sockaddr_in src = fs_test_addr4("192.0.2.1", 1);

	fs_test_sodium_init();
	fs_cookie_checker_init(&checker, key);
	/* Exactly sized buffers, so that AddressSanitizer sees any overread. */
	for (size_t len = 0; len < 36; ++len) {
		uint8_t *buf = malloc(len ? len : 1);

		cr_assert_not_null(buf);
		memset(buf, 0, len);
		cr_assert_eq(fs_cookie_validate(&checker, buf, len, (struct sockaddr *)&src, true, T0),
			     FS_COOKIE_INVALID_MAC, "length %zu", len);
		free(buf);
	}
}

Test(cookie, whole_flow_under_load)
{
	struct wg_message_handshake_initiation first, second;
	struct wg_message_handshake_cookie reply;
	struct load_fixture f;

	load_init(&f);
	initiation_at(&f, &first, T0);
	cr_assert_eq(validate(&f, &first, sizeof(first), &f.src, true, T0),
		     FS_COOKIE_VALID_MAC_BUT_NO_COOKIE);

	cr_assert(fs_cookie_create_reply(&f.checker, &reply, &first, sizeof(first),
					 fs_test_le32(&first.sender_index),
					 (struct sockaddr *)&f.src, T0));
	cr_assert_eq(fs_message_classify(&reply, sizeof(reply)), WG_MESSAGE_HANDSHAKE_COOKIE);
	cr_assert_eq(fs_test_le32(&reply.receiver_index), fs_test_le32(&first.sender_index));
	cr_assert_not(f.pair.a.peer->cookie.is_valid);
	cr_assert(fs_cookie_consume_reply(&reply, f.pair.a.table, T0 + FS_NSEC_PER_MSEC));
	cr_assert(f.pair.a.peer->cookie.is_valid);

	/* The retransmission carries mac2 and passes under load. */
	initiation_at(&f, &second, T0 + FS_TEST_SEC(1));
	cr_assert_not(fs_test_all_zero(second.macs.mac2, WG_COOKIE_LEN));
	cr_assert_eq(validate(&f, &second, sizeof(second), &f.src, true, T0 + FS_TEST_SEC(1)),
		     FS_COOKIE_VALID_MAC_WITH_COOKIE);
	/* Not under load, mac2 is not looked at. */
	cr_assert_eq(validate(&f, &second, sizeof(second), &f.src, false, T0 + FS_TEST_SEC(1)),
		     FS_COOKIE_VALID_MAC_BUT_NO_COOKIE);
	/* And the handshake goes on from there. */
	cr_assert_eq(fs_noise_consume_initiation(&second, f.pair.b.identity, fs_test_lookup,
						 &f.pair.b, T0 + FS_TEST_SEC(1)),
		     f.pair.b.peer);
	fs_test_pair_free(&f.pair);
}

Test(cookie, every_mac2_byte_matters_under_load)
{
	const size_t mac2_at = offsetof(struct wg_message_handshake_initiation, macs.mac2);
	struct wg_message_handshake_initiation first, good, bad;
	struct load_fixture f;

	load_init(&f);
	initiation_at(&f, &first, T0);
	cookie_round(&f, &first, T0);
	initiation_at(&f, &good, T0 + FS_TEST_SEC(1));
	cr_assert_eq(validate(&f, &good, sizeof(good), &f.src, true, T0 + FS_TEST_SEC(1)),
		     FS_COOKIE_VALID_MAC_WITH_COOKIE);
	for (size_t i = 0; i < sizeof(good); ++i) {
		bad = good;
		((uint8_t *)&bad)[i] ^= 0x80;
		cr_assert_eq(validate(&f, &bad, sizeof(bad), &f.src, true, T0 + FS_TEST_SEC(1)),
			     i < mac2_at ? FS_COOKIE_INVALID_MAC : FS_COOKIE_VALID_MAC_BUT_NO_COOKIE,
			     "byte %zu", i);
	}
	fs_test_pair_free(&f.pair);
}

Test(cookie, cookie_is_bound_to_address_and_port)
{
	struct wg_message_handshake_initiation first, second;
	struct sockaddr_in other_ip = fs_test_addr4("192.0.2.2", 51820);
	struct sockaddr_in other_port = fs_test_addr4("192.0.2.1", 51821);
	struct sockaddr_in6 v6 = fs_test_addr6("2001:db8::1", 51820);
	struct load_fixture f;
	const uint64_t t = T0 + FS_TEST_SEC(1);

	load_init(&f);
	initiation_at(&f, &first, T0);
	cookie_round(&f, &first, T0);
	initiation_at(&f, &second, t);
	cr_assert_eq(validate(&f, &second, sizeof(second), &f.src, true, t),
		     FS_COOKIE_VALID_MAC_WITH_COOKIE);
	cr_assert_eq(validate(&f, &second, sizeof(second), &other_ip, true, t),
		     FS_COOKIE_VALID_MAC_BUT_NO_COOKIE, "cookie valid from another address");
	cr_assert_eq(validate(&f, &second, sizeof(second), &other_port, true, t),
		     FS_COOKIE_VALID_MAC_BUT_NO_COOKIE, "cookie valid from another port");
	cr_assert_eq(validate(&f, &second, sizeof(second), &v6, true, t),
		     FS_COOKIE_VALID_MAC_BUT_NO_COOKIE, "cookie valid from IPv6");
	fs_test_pair_free(&f.pair);
}

Test(cookie, ipv6_sources)
{
	struct wg_message_handshake_initiation first, second;
	struct wg_message_handshake_cookie reply;
	struct sockaddr_in6 src = fs_test_addr6("2001:db8::1", 51820);
	struct sockaddr_in6 near = fs_test_addr6("2001:db8::2", 51820);
	struct sockaddr_in6 port = fs_test_addr6("2001:db8::1", 1);
	struct load_fixture f;
	const uint64_t t = T0 + FS_TEST_SEC(1);

	load_init(&f);
	initiation_at(&f, &first, T0);
	cr_assert(fs_cookie_create_reply(&f.checker, &reply, &first, sizeof(first),
					 fs_test_le32(&first.sender_index), (struct sockaddr *)&src,
					 T0));
	cr_assert(fs_cookie_consume_reply(&reply, f.pair.a.table, T0));
	initiation_at(&f, &second, t);
	cr_assert_eq(validate(&f, &second, sizeof(second), &src, true, t),
		     FS_COOKIE_VALID_MAC_WITH_COOKIE);
	cr_assert_eq(validate(&f, &second, sizeof(second), &near, true, t),
		     FS_COOKIE_VALID_MAC_BUT_NO_COOKIE);
	cr_assert_eq(validate(&f, &second, sizeof(second), &port, true, t),
		     FS_COOKIE_VALID_MAC_BUT_NO_COOKIE);
	fs_test_pair_free(&f.pair);
}

Test(cookie, unsupported_source_family)
{
	struct wg_message_handshake_initiation msg;
	struct wg_message_handshake_cookie reply;
	struct sockaddr_un un;
	struct load_fixture f;

	load_init(&f);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	initiation_at(&f, &msg, T0);
	cr_assert_not(fs_cookie_create_reply(&f.checker, &reply, &msg, sizeof(msg),
					     fs_test_le32(&msg.sender_index),
					     (struct sockaddr *)&un, T0));
	cr_assert_neq(validate(&f, &msg, sizeof(msg), &un, true, T0),
		      FS_COOKIE_VALID_MAC_WITH_COOKIE);
	fs_test_pair_free(&f.pair);
}

Test(cookie, corrupted_reply_changes_nothing)
{
	struct wg_message_handshake_initiation msg;
	struct wg_message_handshake_cookie good, bad;
	struct fs_cookie_maker before;
	struct load_fixture f;

	load_init(&f);
	initiation_at(&f, &msg, T0);
	cr_assert(fs_cookie_create_reply(&f.checker, &good, &msg, sizeof(msg),
					 fs_test_le32(&msg.sender_index),
					 (struct sockaddr *)&f.src, T0));
	before = f.pair.a.peer->cookie;
	for (size_t i = 0; i < sizeof(good); ++i) {
		bad = good;
		((uint8_t *)&bad)[i] ^= 0x01;
		if (i < offsetof(struct wg_message_handshake_cookie, receiver_index)) {
			/* The type field: the daemon would not even route it here. */
			cr_assert_eq(fs_message_classify(&bad, sizeof(bad)), WG_MESSAGE_INVALID);
			continue;
		}
		cr_assert_not(fs_cookie_consume_reply(&bad, f.pair.a.table, T0),
			      "byte %zu: corrupted reply accepted", i);
		if (i >= offsetof(struct wg_message_handshake_cookie, nonce))
			cr_assert_not(fs_cookie_maker_consume_reply(&f.pair.a.peer->cookie, &bad,
								    T0),
				      "byte %zu: corrupted reply accepted by the maker", i);
		cr_assert_eq(memcmp(&before, &f.pair.a.peer->cookie, sizeof(before)), 0,
			     "byte %zu: a refused reply changed the maker", i);
	}
	cr_assert(fs_cookie_consume_reply(&good, f.pair.a.table, T0));
	fs_test_pair_free(&f.pair);
}

Test(cookie, reply_needs_the_mac1_it_answers)
{
	struct wg_message_handshake_initiation first, second;
	struct wg_message_handshake_cookie reply1, reply2;
	struct fs_cookie_maker fresh;
	struct load_fixture f;

	load_init(&f);
	initiation_at(&f, &first, T0);
	cr_assert(fs_cookie_create_reply(&f.checker, &reply1, &first, sizeof(first),
					 fs_test_le32(&first.sender_index),
					 (struct sockaddr *)&f.src, T0));
	/* A maker that never sent a mac1 takes no reply. */
	fs_cookie_maker_init(&fresh, f.pair.b.identity->public_key);
	cr_assert_not(fs_cookie_maker_consume_reply(&fresh, &reply1, T0));
	cr_assert_not(fresh.is_valid);

	/* Once a newer message went out, the reply to the older one is refused. */
	initiation_at(&f, &second, T0);
	cr_assert_not(fs_cookie_maker_consume_reply(&f.pair.a.peer->cookie, &reply1, T0));
	cr_assert_not(f.pair.a.peer->cookie.is_valid);

	/* The reply to the last one is taken, once: it answers one mac1. */
	cr_assert(fs_cookie_create_reply(&f.checker, &reply2, &second, sizeof(second),
					 fs_test_le32(&second.sender_index),
					 (struct sockaddr *)&f.src, T0));
	cr_assert(fs_cookie_consume_reply(&reply2, f.pair.a.table, T0));
	cr_assert_not(fs_cookie_consume_reply(&reply2, f.pair.a.table, T0),
		      "one reply taken twice");
	fs_test_pair_free(&f.pair);
}

Test(cookie, reply_for_unknown_index)
{
	struct wg_message_handshake_initiation msg;
	struct wg_message_handshake_cookie reply;
	struct fs_index_table *other;
	struct load_fixture f;

	load_init(&f);
	initiation_at(&f, &msg, T0);
	cr_assert(fs_cookie_create_reply(&f.checker, &reply, &msg, sizeof(msg),
					 fs_test_le32(&msg.sender_index),
					 (struct sockaddr *)&f.src, T0));
	other = fs_index_table_new();
	cr_assert_not(fs_cookie_consume_reply(&reply, other, T0));
	fs_index_table_free(other);
	cr_assert_not(f.pair.a.peer->cookie.is_valid);
	fs_test_pair_free(&f.pair);
}

Test(cookie, reply_to_a_response_reaches_the_responders_keypair)
{
	struct wg_message_handshake_initiation initiation;
	struct wg_message_handshake_response response;
	struct wg_message_handshake_cookie reply;
	struct fs_cookie_checker checker_a;
	struct sockaddr_in b_addr = fs_test_addr4("198.51.100.2", 51820);
	struct load_fixture f;

	load_init(&f);
	initiation_at(&f, &initiation, T0);
	cr_assert(fs_noise_consume_initiation(&initiation, f.pair.b.identity, fs_test_lookup,
					      &f.pair.b, T0));
	cr_assert(fs_noise_create_response(f.pair.b.peer, &response, f.pair.b.table));
	fs_cookie_add_macs(&f.pair.b.peer->cookie, &response, sizeof(response), T0);
	/* The responder has begun its session: the index now names its keypair. */
	cr_assert(fs_noise_begin_session(f.pair.b.peer, f.pair.b.table, T0));

	fs_cookie_checker_init(&checker_a, f.pair.a.identity->public_key);
	cr_assert(fs_cookie_create_reply(&checker_a, &reply, &response, sizeof(response),
					 fs_test_le32(&response.sender_index),
					 (struct sockaddr *)&b_addr, T0));
	cr_assert(fs_cookie_consume_reply(&reply, f.pair.b.table, T0),
		  "a reply naming the responder's keypair index was refused");
	cr_assert(f.pair.b.peer->cookie.is_valid);
	fs_test_pair_free(&f.pair);
}

Test(cookie, maker_cookie_expires_after_115_seconds)
{
	struct wg_message_handshake_initiation first, msg;
	struct load_fixture f;

	load_init(&f);
	initiation_at(&f, &first, T0);
	cookie_round(&f, &first, T0);

	initiation_at(&f, &msg, T0 + MAKER_LIFETIME - 1);
	cr_assert_not(fs_test_all_zero(msg.macs.mac2, WG_COOKIE_LEN),
		      "no mac2 1 ns before the cookie's 115 s are up");
	cr_assert_eq(validate(&f, &msg, sizeof(msg), &f.src, true, T0 + MAKER_LIFETIME - 1),
		     FS_COOKIE_VALID_MAC_WITH_COOKIE);

	initiation_at(&f, &msg, T0 + MAKER_LIFETIME);
	cr_assert(fs_test_all_zero(msg.macs.mac2, WG_COOKIE_LEN),
		  "mac2 made with a cookie %d s old", (int)(MAKER_LIFETIME / FS_NSEC_PER_SEC));
	cr_assert_eq(validate(&f, &msg, sizeof(msg), &f.src, true, T0 + MAKER_LIFETIME),
		     FS_COOKIE_VALID_MAC_BUT_NO_COOKIE);
	fs_test_pair_free(&f.pair);
}

Test(cookie, checker_secret_rotates_after_120_seconds)
{
	struct wg_message_handshake_initiation first, late, msg;
	struct load_fixture f;

	load_init(&f);
	/* The secret is born with the first cookie, at T0. */
	initiation_at(&f, &first, T0);
	cookie_round(&f, &first, T0);
	/* A cookie fetched late in the secret's life is still fresh on a's side... */
	initiation_at(&f, &late, T0 + FS_TEST_SEC(110));
	cookie_round(&f, &late, T0 + FS_TEST_SEC(110));
	initiation_at(&f, &msg, T0 + SECRET_LIFETIME - 1);
	cr_assert_not(fs_test_all_zero(msg.macs.mac2, WG_COOKIE_LEN));
	cr_assert_eq(validate(&f, &msg, sizeof(msg), &f.src, true, T0 + SECRET_LIFETIME - 1),
		     FS_COOKIE_VALID_MAC_WITH_COOKIE);
	/* ...but b's secret is new at 120 s, so the old cookie no longer counts. */
	cr_assert_eq(validate(&f, &msg, sizeof(msg), &f.src, true, T0 + SECRET_LIFETIME),
		     FS_COOKIE_VALID_MAC_BUT_NO_COOKIE, "cookie valid under a 120 s old secret");
	/* A new round works again under the new secret. */
	cookie_round(&f, &msg, T0 + SECRET_LIFETIME);
	initiation_at(&f, &msg, T0 + SECRET_LIFETIME + 1);
	cr_assert_eq(validate(&f, &msg, sizeof(msg), &f.src, true, T0 + SECRET_LIFETIME + 1),
		     FS_COOKIE_VALID_MAC_WITH_COOKIE);
	fs_test_pair_free(&f.pair);
}

/* --- against the independent implementation ------------------------------- */

Test(cookie, kat_mac1_and_mac2)
{
	struct wg_message_handshake_initiation reference, msg;
	struct wg_message_handshake_response response;
	struct wg_message_handshake_cookie reply;
	struct fs_cookie_checker checker;
	struct fs_cookie_maker maker;
	uint8_t spub_r[WG_KEY_LEN], spub_i[WG_KEY_LEN];
	struct sockaddr_in src = fs_test_addr4("192.0.2.1", 51820);

	fs_test_sodium_init();
	fs_test_unhex(spub_r, sizeof(spub_r), KAT_SPUB_R);
	fs_test_unhex(spub_i, sizeof(spub_i), KAT_SPUB_I);
	fs_test_unhex((uint8_t *)&reference, sizeof(reference), KAT_INITIATION);
	fs_test_unhex((uint8_t *)&response, sizeof(response), KAT_RESPONSE);

	/* The reference's mac1 validates here, for both message kinds. */
	fs_cookie_checker_init(&checker, spub_r);
	cr_assert_eq(fs_cookie_validate(&checker, &reference, sizeof(reference),
					(struct sockaddr *)&src, false, T0),
		     FS_COOKIE_VALID_MAC_BUT_NO_COOKIE);
	fs_cookie_checker_init(&checker, spub_i);
	cr_assert_eq(fs_cookie_validate(&checker, &response, sizeof(response),
					(struct sockaddr *)&src, false, T0),
		     FS_COOKIE_VALID_MAC_BUT_NO_COOKIE);

	/* And ours is byte for byte the reference's. */
	fs_cookie_maker_init(&maker, spub_r);
	msg = reference;
	memset(&msg.macs, 0xee, sizeof(msg.macs));
	fs_cookie_add_macs(&maker, &msg, sizeof(msg), T0);
	fs_assert_bytes(&msg, &reference, sizeof(msg));

	/* The reference's cookie reply decrypts to its cookie, and mac2 follows. */
	fs_test_unhex((uint8_t *)&reply, sizeof(reply), KAT_COOKIE_REPLY);
	cr_assert(fs_cookie_maker_consume_reply(&maker, &reply, T0));
	fs_assert_hex(maker.cookie, WG_COOKIE_LEN, KAT_TAU);
	fs_cookie_add_macs(&maker, &msg, sizeof(msg), T0 + FS_TEST_SEC(1));
	fs_assert_bytes(msg.macs.mac1, reference.macs.mac1, WG_COOKIE_LEN);
	fs_assert_hex(msg.macs.mac2, WG_COOKIE_LEN, KAT_INIT_MAC2);
}
