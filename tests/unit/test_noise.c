// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Noise_IKpsk2 handshake: RFC 7748 for X25519, the independent Python
 * handshake of helpers.h for the bytes on the wire, and round trips between
 * two sides in one process for everything that must be refused.
 */
#include <endian.h>
#include <errno.h>
#include "helpers.h"
#include "hash.h"
#include "noise.h"
#include "transport.h"
#include "leakcheck.h"

/* Time of the first handshake step in most tests: well away from zero. */
#define T0 FS_TEST_SEC(1000)
#define FLOOD_GAP (FS_NSEC_PER_SEC / WG_INITIATIONS_PER_SECOND)

FS_LEAK_CHECKED_SUITE(noise);

Test(noise, x25519_rfc7748_section_6_1)
{
	uint8_t private_key[WG_KEY_LEN], public_key[WG_KEY_LEN];
	struct fs_noise_identity *identity;

	fs_test_sodium_init();
	fs_test_unhex(private_key, WG_KEY_LEN,
		      "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
	cr_assert(fs_noise_public_from_private(public_key, private_key));
	fs_assert_hex(public_key, WG_KEY_LEN,
		      "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");

	fs_test_unhex(private_key, WG_KEY_LEN,
		      "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
	cr_assert(fs_noise_public_from_private(public_key, private_key));
	fs_assert_hex(public_key, WG_KEY_LEN,
		      "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");

	/* The identity derives the same public key from Alice's private key. */
	identity = fs_test_identity_from_hex(
		"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
		"8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	cr_assert(identity->has_identity);
	fs_noise_identity_free(identity);
}

Test(noise, generated_private_keys_are_distinct_and_usable)
{
	uint8_t a[WG_KEY_LEN], b[WG_KEY_LEN], pub[WG_KEY_LEN];

	fs_test_sodium_init();
	fs_noise_generate_private(a);
	fs_noise_generate_private(b);
	cr_assert_neq(memcmp(a, b, WG_KEY_LEN), 0);
	cr_assert_not(fs_test_all_zero(a, WG_KEY_LEN));
	cr_assert(fs_noise_public_from_private(pub, a));
	cr_assert_not(fs_test_all_zero(pub, WG_KEY_LEN));
}

Test(noise, zero_private_key_removes_the_identity)
{
	struct fs_noise_identity *identity;
	uint8_t zero[WG_KEY_LEN] = { 0 };

	fs_test_sodium_init();
	identity = fs_test_identity_new();
	fs_noise_identity_set_private(identity, zero);
	cr_assert_not(identity->has_identity);
	fs_noise_identity_free(identity);
}

/* The checks every successful handshake must pass; a initiated. */
static void assert_session(struct fs_test_pair *pair)
{
	struct fs_noise_keypair *i = pair->a.peer->current, *r = pair->b.peer->next;

	cr_assert_not_null(i, "the initiator's keypair is not current");
	cr_assert_not_null(r, "the responder's keypair is not next");
	cr_assert_null(pair->b.peer->current, "the responder must not send before confirmation");
	cr_assert_null(pair->a.peer->next);

	fs_assert_bytes(i->sending_key, r->receiving_key, WG_KEY_LEN);
	fs_assert_bytes(i->receiving_key, r->sending_key, WG_KEY_LEN);
	cr_assert_neq(memcmp(i->sending_key, i->receiving_key, WG_KEY_LEN), 0);
	cr_assert_not(fs_test_all_zero(i->sending_key, WG_KEY_LEN));

	cr_assert_eq(i->remote_index, r->entry.index);
	cr_assert_eq(r->remote_index, i->entry.index);
	cr_assert(i->i_am_the_initiator);
	cr_assert_not(r->i_am_the_initiator);
	cr_assert(i->sending_valid && i->receiving_valid && r->sending_valid && r->receiving_valid);

	/* Each keypair answers to its index in its own table, as a keypair. */
	cr_assert_eq(fs_index_lookup(pair->a.table, FS_INDEX_KEYPAIR, i->entry.index), &i->entry);
	cr_assert_eq(fs_index_lookup(pair->b.table, FS_INDEX_KEYPAIR, r->entry.index), &r->entry);
	cr_assert_eq(i->entry.peer, pair->a.peer);
	cr_assert_eq(r->entry.peer, pair->b.peer);
}

Test(noise, round_trip_without_psk)
{
	struct fs_test_pair pair;
	struct fs_noise_keypair *r;

	fs_test_pair_init(&pair);
	fs_test_handshake(&pair, T0);
	assert_session(&pair);

	r = pair.b.peer->next;
	cr_assert_not(fs_noise_received_with_keypair(pair.b.peer, pair.a.peer->current,
						     pair.b.table),
		      "a keypair that is not next confirmed the session");
	cr_assert(fs_noise_received_with_keypair(pair.b.peer, r, pair.b.table));
	cr_assert_eq(pair.b.peer->current, r);
	cr_assert_null(pair.b.peer->next);
	cr_assert_not(fs_noise_received_with_keypair(pair.b.peer, r, pair.b.table),
		      "confirmed twice");
	fs_test_pair_free(&pair);
}

Test(noise, round_trip_with_psk)
{
	struct fs_test_pair pair;
	uint8_t psk[WG_KEY_LEN];

	fs_test_sodium_init();
	randombytes_buf(psk, sizeof(psk));
	fs_test_pair_init_psk(&pair, psk, psk);
	fs_test_handshake(&pair, T0);
	assert_session(&pair);
	fs_test_pair_free(&pair);
}

Test(noise, psk_changes_the_keys)
{
	struct fs_test_pair pair;
	uint8_t psk[WG_KEY_LEN], first[WG_KEY_LEN], second[WG_KEY_LEN];

	/*
	 * The same two peers with a psk, then with it removed on both sides
	 * through fs_noise_peer_set_preshared_key: both handshakes succeed.
	 */
	fs_test_sodium_init();
	randombytes_buf(psk, sizeof(psk));
	fs_test_pair_init_psk(&pair, psk, psk);
	fs_test_handshake(&pair, T0);
	memcpy(first, pair.a.peer->current->sending_key, WG_KEY_LEN);
	fs_noise_peer_set_preshared_key(pair.a.peer, NULL);
	fs_noise_peer_set_preshared_key(pair.b.peer, NULL);
	fs_test_handshake(&pair, T0 + FS_TEST_SEC(1));
	memcpy(second, pair.a.peer->current->sending_key, WG_KEY_LEN);
	cr_assert_neq(memcmp(first, second, WG_KEY_LEN), 0);
	assert_session(&pair);
	fs_test_pair_free(&pair);
}

Test(noise, keypairs_take_the_indices_sent_in_the_handshake)
{
	struct wg_message_handshake_initiation initiation;
	struct wg_message_handshake_response response;
	struct fs_test_pair pair;
	uint8_t ts[WG_TIMESTAMP_LEN];
	uint32_t initiator_index, responder_index;

	fs_test_pair_init(&pair);
	fs_test_next_timestamp(&pair, ts);
	cr_assert(fs_noise_create_initiation(pair.a.peer, &initiation, pair.a.table, ts));
	cr_assert_eq(fs_test_le32(&initiation.header), WG_MESSAGE_HANDSHAKE_INITIATION);
	initiator_index = fs_test_le32(&initiation.sender_index);
	cr_assert_eq(fs_index_lookup(pair.a.table, FS_INDEX_HANDSHAKE, initiator_index),
		     &pair.a.peer->handshake.entry);

	cr_assert_eq(fs_noise_consume_initiation(&initiation, pair.b.identity, fs_test_lookup,
						 &pair.b, T0),
		     pair.b.peer);
	cr_assert_eq(pair.b.peer->handshake.remote_index, initiator_index);
	cr_assert(fs_noise_create_response(pair.b.peer, &response, pair.b.table));
	cr_assert_eq(fs_test_le32(&response.header), WG_MESSAGE_HANDSHAKE_RESPONSE);
	cr_assert_eq(fs_test_le32(&response.receiver_index), initiator_index);
	responder_index = fs_test_le32(&response.sender_index);
	cr_assert_eq(fs_index_lookup(pair.b.table, FS_INDEX_HANDSHAKE, responder_index),
		     &pair.b.peer->handshake.entry);

	cr_assert_eq(fs_noise_consume_response(&response, pair.a.identity, pair.a.table),
		     pair.a.peer);
	cr_assert(fs_noise_begin_session(pair.a.peer, pair.a.table, T0));
	cr_assert(fs_noise_begin_session(pair.b.peer, pair.b.table, T0));

	/* The other side will address data to the index it saw in our message. */
	cr_assert_eq(pair.a.peer->current->entry.index, initiator_index);
	cr_assert_eq(pair.a.peer->current->remote_index, responder_index);
	cr_assert_eq(pair.b.peer->next->entry.index, responder_index);
	cr_assert_eq(pair.b.peer->next->remote_index, initiator_index);
	/* Only the keypairs remain in the tables. */
	cr_assert_null(fs_index_lookup(pair.a.table, FS_INDEX_HANDSHAKE, initiator_index));
	cr_assert_null(fs_index_lookup(pair.b.table, FS_INDEX_HANDSHAKE, responder_index));
	cr_assert_eq(fs_index_count(pair.a.table), 1);
	cr_assert_eq(fs_index_count(pair.b.table), 1);
	fs_test_pair_free(&pair);
}

Test(noise, begin_session_wipes_the_handshake)
{
	struct fs_test_pair pair;
	const struct fs_noise_handshake *h;

	fs_test_pair_init(&pair);
	fs_test_handshake(&pair, T0);
	for (int side = 0; side < 2; ++side) {
		h = side ? &pair.b.peer->handshake : &pair.a.peer->handshake;
		cr_assert_eq(h->state, FS_HANDSHAKE_ZEROED);
		cr_assert(fs_test_all_zero(h->ephemeral_private, WG_KEY_LEN));
		cr_assert(fs_test_all_zero(h->chaining_key, WG_HASH_LEN));
		cr_assert(fs_test_all_zero(h->hash, WG_HASH_LEN));
		cr_assert_not(h->entry.hashed);
	}
	/* ...and cannot begin a second session from it. */
	cr_assert_not(fs_noise_begin_session(pair.a.peer, pair.a.table, T0));
	cr_assert_not(fs_noise_begin_session(pair.b.peer, pair.b.table, T0));
	fs_test_pair_free(&pair);
}

Test(noise, out_of_order_steps_are_refused)
{
	struct wg_message_handshake_response response;
	struct fs_test_pair pair;

	fs_test_pair_init(&pair);
	cr_assert_not(fs_noise_create_response(pair.b.peer, &response, pair.b.table),
		      "responded without an initiation");
	cr_assert_not(fs_noise_begin_session(pair.a.peer, pair.a.table, T0));
	cr_assert_not(fs_noise_begin_session(pair.b.peer, pair.b.table, T0));
	cr_assert_null(pair.a.peer->current);
	cr_assert_null(pair.b.peer->next);
	fs_test_pair_free(&pair);
}

Test(noise, mismatched_psk_fails_the_response)
{
	static const int cases = 3;
	uint8_t psk1[WG_KEY_LEN], psk2[WG_KEY_LEN];

	fs_test_sodium_init();
	randombytes_buf(psk1, sizeof(psk1));
	randombytes_buf(psk2, sizeof(psk2));
	for (int c = 0; c < cases; ++c) {
		const uint8_t *pa = c == 0 ? psk1 : c == 1 ? psk1 : NULL;
		const uint8_t *pb = c == 0 ? psk2 : c == 1 ? NULL : psk2;
		struct wg_message_handshake_initiation initiation;
		struct wg_message_handshake_response response;
		struct fs_test_pair pair;
		uint8_t ts[WG_TIMESTAMP_LEN];

		fs_test_pair_init_psk(&pair, pa, pb);
		fs_test_next_timestamp(&pair, ts);
		cr_assert(fs_noise_create_initiation(pair.a.peer, &initiation, pair.a.table, ts));
		/* The psk enters only after the initiation: the responder cannot tell yet. */
		cr_assert_eq(fs_noise_consume_initiation(&initiation, pair.b.identity,
							 fs_test_lookup, &pair.b, T0),
			     pair.b.peer);
		cr_assert(fs_noise_create_response(pair.b.peer, &response, pair.b.table));
		cr_assert_null(fs_noise_consume_response(&response, pair.a.identity, pair.a.table),
			       "case %d: a response under another psk was accepted", c);
		cr_assert_not(fs_noise_begin_session(pair.a.peer, pair.a.table, T0));
		cr_assert_null(pair.a.peer->current);
		fs_test_pair_free(&pair);
	}
}

/* Whether the daemon's receive path would take this initiation at all. */
static bool initiation_is_accepted(struct fs_test_pair *pair,
				   const struct wg_message_handshake_initiation *msg, uint64_t now)
{
	struct fs_cookie_checker checker;
	struct sockaddr_in src = fs_test_addr4("192.0.2.1", 51820);

	fs_cookie_checker_init(&checker, pair->b.identity->public_key);
	if (fs_message_classify(msg, sizeof(*msg)) != WG_MESSAGE_HANDSHAKE_INITIATION)
		return false;
	if (fs_cookie_validate(&checker, msg, sizeof(*msg), (struct sockaddr *)&src, false, now) ==
	    FS_COOKIE_INVALID_MAC)
		return false;
	return fs_noise_consume_initiation(msg, pair->b.identity, fs_test_lookup, &pair->b, now) !=
	       NULL;
}

Test(noise, every_byte_of_the_initiation_matters)
{
	const size_t mac1_at = offsetof(struct wg_message_handshake_initiation, macs.mac1);
	const size_t mac2_at = offsetof(struct wg_message_handshake_initiation, macs.mac2);
	const size_t noise_at = offsetof(struct wg_message_handshake_initiation,
					 unencrypted_ephemeral);
	struct wg_message_handshake_initiation good, bad;
	struct fs_cookie_checker checker;
	struct sockaddr_in src = fs_test_addr4("192.0.2.1", 51820);
	struct fs_test_pair pair;
	uint8_t ts[WG_TIMESTAMP_LEN];

	fs_test_pair_init(&pair);
	fs_cookie_checker_init(&checker, pair.b.identity->public_key);
	fs_test_next_timestamp(&pair, ts);
	cr_assert(fs_noise_create_initiation(pair.a.peer, &good, pair.a.table, ts));
	fs_cookie_add_macs(&pair.a.peer->cookie, &good, sizeof(good), T0);
	cr_assert_eq(sizeof(good), 148);

	for (size_t i = 0; i < sizeof(good); ++i) {
		for (unsigned int bit = 0; bit < 8; bit += 7) {
			enum fs_cookie_mac_state state;

			bad = good;
			((uint8_t *)&bad)[i] ^= (uint8_t)(1U << bit);
			state = fs_cookie_validate(&checker, &bad, sizeof(bad),
						   (struct sockaddr *)&src, false, T0);
			if (i < mac2_at)
				/* mac1 covers everything before it, and itself. */
				cr_assert_eq(state, FS_COOKIE_INVALID_MAC,
					     "byte %zu bit %u: mac1 still valid", i, bit);
			else
				/* mac2 is only looked at under load. */
				cr_assert_eq(state, FS_COOKIE_VALID_MAC_BUT_NO_COOKIE,
					     "byte %zu bit %u: mac2 changed mac1's verdict", i, bit);
			if (i >= noise_at && i < mac1_at)
				/* The Noise part authenticates itself, macs aside. */
				cr_assert_null(fs_noise_consume_initiation(&bad, pair.b.identity,
									   fs_test_lookup, &pair.b,
									   T0),
					       "byte %zu bit %u: consumed", i, bit);
			if (i < mac2_at)
				cr_assert_not(initiation_is_accepted(&pair, &bad, T0),
					      "byte %zu bit %u: accepted by the receive path", i,
					      bit);
		}
	}
	cr_assert_eq(pair.b.peer->handshake.state, FS_HANDSHAKE_ZEROED,
		     "a refused initiation changed the responder's handshake");
	cr_assert(fs_test_all_zero(pair.b.peer->handshake.latest_timestamp, WG_TIMESTAMP_LEN));
	/* None of that touched the state the genuine message needs. */
	cr_assert(initiation_is_accepted(&pair, &good, T0));
	fs_test_pair_free(&pair);
}

Test(noise, every_byte_of_the_response_matters)
{
	const size_t mac1_at = offsetof(struct wg_message_handshake_response, macs.mac1);
	const size_t mac2_at = offsetof(struct wg_message_handshake_response, macs.mac2);
	const size_t receiver_at = offsetof(struct wg_message_handshake_response, receiver_index);
	struct wg_message_handshake_initiation initiation;
	struct wg_message_handshake_response good, bad;
	struct fs_cookie_checker checker;
	struct sockaddr_in src = fs_test_addr4("198.51.100.2", 51820);
	struct fs_test_pair pair;
	uint8_t ts[WG_TIMESTAMP_LEN];

	fs_test_pair_init(&pair);
	fs_cookie_checker_init(&checker, pair.a.identity->public_key);
	fs_test_next_timestamp(&pair, ts);
	cr_assert(fs_noise_create_initiation(pair.a.peer, &initiation, pair.a.table, ts));
	cr_assert(fs_noise_consume_initiation(&initiation, pair.b.identity, fs_test_lookup, &pair.b,
					      T0));
	cr_assert(fs_noise_create_response(pair.b.peer, &good, pair.b.table));
	fs_cookie_add_macs(&pair.b.peer->cookie, &good, sizeof(good), T0);
	cr_assert_eq(sizeof(good), 92);

	for (size_t i = 0; i < sizeof(good); ++i) {
		for (unsigned int bit = 0; bit < 8; bit += 7) {
			enum fs_cookie_mac_state state;

			bad = good;
			((uint8_t *)&bad)[i] ^= (uint8_t)(1U << bit);
			state = fs_cookie_validate(&checker, &bad, sizeof(bad),
						   (struct sockaddr *)&src, false, T0);
			cr_assert_eq(state, i < mac2_at ? FS_COOKIE_INVALID_MAC :
							  FS_COOKIE_VALID_MAC_BUT_NO_COOKIE,
				     "byte %zu bit %u: mac state %d", i, bit, state);
			if (i >= receiver_at && i < mac1_at)
				cr_assert_null(fs_noise_consume_response(&bad, pair.a.identity,
									 pair.a.table),
					       "byte %zu bit %u: consumed", i, bit);
		}
	}
	cr_assert_eq(pair.a.peer->handshake.state, FS_HANDSHAKE_CREATED_INITIATION,
		     "a refused response changed the initiator's handshake");
	cr_assert_eq(fs_noise_consume_response(&good, pair.a.identity, pair.a.table), pair.a.peer);
	fs_test_pair_free(&pair);
}

Test(noise, response_is_consumed_once)
{
	struct wg_message_handshake_initiation initiation;
	struct wg_message_handshake_response response;
	struct fs_test_pair pair;
	uint8_t ts[WG_TIMESTAMP_LEN];

	fs_test_pair_init(&pair);
	fs_test_next_timestamp(&pair, ts);
	cr_assert(fs_noise_create_initiation(pair.a.peer, &initiation, pair.a.table, ts));
	cr_assert(fs_noise_consume_initiation(&initiation, pair.b.identity, fs_test_lookup, &pair.b,
					      T0));
	cr_assert(fs_noise_create_response(pair.b.peer, &response, pair.b.table));
	cr_assert_eq(fs_noise_consume_response(&response, pair.a.identity, pair.a.table),
		     pair.a.peer);
	cr_assert_null(fs_noise_consume_response(&response, pair.a.identity, pair.a.table),
		       "the same response consumed twice");
	cr_assert(fs_noise_begin_session(pair.a.peer, pair.a.table, T0));
	cr_assert_null(fs_noise_consume_response(&response, pair.a.identity, pair.a.table),
		       "a response replayed after the session began was consumed");
	fs_test_pair_free(&pair);
}

Test(noise, response_for_unknown_index)
{
	struct wg_message_handshake_initiation initiation;
	struct wg_message_handshake_response response;
	struct fs_index_table *other;
	struct fs_test_pair pair;
	uint8_t ts[WG_TIMESTAMP_LEN];

	fs_test_pair_init(&pair);
	fs_test_next_timestamp(&pair, ts);
	cr_assert(fs_noise_create_initiation(pair.a.peer, &initiation, pair.a.table, ts));
	cr_assert(fs_noise_consume_initiation(&initiation, pair.b.identity, fs_test_lookup, &pair.b,
					      T0));
	cr_assert(fs_noise_create_response(pair.b.peer, &response, pair.b.table));

	/* A table that never issued the index. */
	other = fs_index_table_new();
	cr_assert_null(fs_noise_consume_response(&response, pair.a.identity, other));
	fs_index_table_free(other);
	/* The responder's own table: the index there is its own handshake's. */
	cr_assert_null(fs_noise_consume_response(&response, pair.b.identity, pair.b.table));
	/* The initiator gave up on the handshake. */
	fs_noise_handshake_clear(pair.a.peer, pair.a.table);
	cr_assert_null(fs_noise_consume_response(&response, pair.a.identity, pair.a.table));
	cr_assert_null(fs_index_lookup(pair.a.table, FS_INDEX_HANDSHAKE | FS_INDEX_KEYPAIR,
				       fs_test_le32(&initiation.sender_index)));
	fs_test_pair_free(&pair);
}

Test(noise, timestamps_must_increase)
{
	struct wg_message_handshake_initiation msg;
	struct fs_test_pair pair;
	uint8_t ts[WG_TIMESTAMP_LEN];
	uint64_t now = T0;
	static const struct {
		uint64_t s;
		uint32_t ns;
		bool accepted;
	} seq[] = {
		{ 1600000000, 1U << 24, true },
		{ 1600000000, 1U << 24, false },	/* repeated */
		{ 1600000000, 0, false },		/* older, same second */
		{ 1599999999, 999999999, false },	/* older */
		{ 1600000000, 1U << 25, true },
		{ 1600000001, 0, true },
		{ 1, 0, false },
		{ 1600000001, 0, false },
	};

	fs_test_pair_init(&pair);
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); ++i) {
		struct fs_noise_peer *got;

		now += FS_TEST_SEC(1);	/* far beyond the flood limit */
		fs_tai64n_from(ts, seq[i].s, seq[i].ns);
		cr_assert(fs_noise_create_initiation(pair.a.peer, &msg, pair.a.table, ts));
		got = fs_noise_consume_initiation(&msg, pair.b.identity, fs_test_lookup, &pair.b,
						  now);
		cr_assert_eq(got != NULL, seq[i].accepted, "step %zu: timestamp %llu.%09u %s", i,
			     (unsigned long long)seq[i].s, seq[i].ns,
			     got ? "accepted" : "refused");
		if (got)
			fs_assert_bytes(pair.b.peer->handshake.latest_timestamp, ts,
					WG_TIMESTAMP_LEN);
	}
	fs_test_pair_free(&pair);
}

Test(noise, replayed_initiation_is_refused)
{
	struct wg_message_handshake_initiation msg;
	struct wg_message_handshake_response response;
	struct fs_test_pair pair;
	uint8_t ts[WG_TIMESTAMP_LEN];

	fs_test_pair_init(&pair);
	fs_test_next_timestamp(&pair, ts);
	cr_assert(fs_noise_create_initiation(pair.a.peer, &msg, pair.a.table, ts));
	cr_assert(fs_noise_consume_initiation(&msg, pair.b.identity, fs_test_lookup, &pair.b, T0));
	cr_assert_null(fs_noise_consume_initiation(&msg, pair.b.identity, fs_test_lookup, &pair.b,
						   T0 + FS_TEST_SEC(10)));
	/* Even after a whole session the old initiation stays stale. */
	cr_assert(fs_noise_create_response(pair.b.peer, &response, pair.b.table));
	cr_assert(fs_noise_begin_session(pair.b.peer, pair.b.table, T0));
	cr_assert_null(fs_noise_consume_initiation(&msg, pair.b.identity, fs_test_lookup, &pair.b,
						   T0 + FS_TEST_SEC(20)));
	fs_test_pair_free(&pair);
}

Test(noise, initiation_flood_is_refused)
{
	struct wg_message_handshake_initiation first, second, third;
	struct fs_test_pair pair;
	uint8_t ts[WG_TIMESTAMP_LEN];

	fs_test_pair_init(&pair);
	fs_test_next_timestamp(&pair, ts);
	cr_assert(fs_noise_create_initiation(pair.a.peer, &first, pair.a.table, ts));
	fs_test_next_timestamp(&pair, ts);
	cr_assert(fs_noise_create_initiation(pair.a.peer, &second, pair.a.table, ts));
	fs_test_next_timestamp(&pair, ts);
	cr_assert(fs_noise_create_initiation(pair.a.peer, &third, pair.a.table, ts));

	cr_assert(fs_noise_consume_initiation(&first, pair.b.identity, fs_test_lookup, &pair.b, T0));
	/* Newer timestamp, but 1 ns short of 1/50 s later. */
	cr_assert_null(fs_noise_consume_initiation(&second, pair.b.identity, fs_test_lookup,
						   &pair.b, T0 + FLOOD_GAP - 1),
		       "accepted %llu ns after the previous one",
		       (unsigned long long)(FLOOD_GAP - 1));
	cr_assert_null(fs_noise_consume_initiation(&second, pair.b.identity, fs_test_lookup,
						   &pair.b, T0));
	/* The refusals recorded nothing: at exactly 1/50 s the same message passes. */
	cr_assert_eq(fs_noise_consume_initiation(&second, pair.b.identity, fs_test_lookup, &pair.b,
						 T0 + FLOOD_GAP),
		     pair.b.peer);
	/* The limit counts from the last accepted one. */
	cr_assert_null(fs_noise_consume_initiation(&third, pair.b.identity, fs_test_lookup,
						   &pair.b, T0 + 2 * FLOOD_GAP - 1));
	cr_assert(fs_noise_consume_initiation(&third, pair.b.identity, fs_test_lookup, &pair.b,
					      T0 + 2 * FLOOD_GAP));
	fs_test_pair_free(&pair);
}

/* A careless lookup: whatever peer ctx is, whatever the key. */
static struct fs_noise_peer *lookup_any(void *ctx, const uint8_t remote_static[WG_KEY_LEN])
{
	(void)remote_static;
	return ctx;
}

Test(noise, unknown_peer_is_refused)
{
	struct wg_message_handshake_initiation msg;
	struct fs_test_pair pair, strangers;
	uint8_t ts[WG_TIMESTAMP_LEN];

	fs_test_pair_init(&pair);
	fs_test_next_timestamp(&pair, ts);
	cr_assert(fs_noise_create_initiation(pair.a.peer, &msg, pair.a.table, ts));
	cr_assert_null(fs_noise_consume_initiation(&msg, pair.b.identity, fs_test_lookup_nobody,
						   NULL, T0));
	/* Sent to another identity: the static key does not even decrypt. */
	fs_test_pair_init(&strangers);
	cr_assert_null(fs_noise_consume_initiation(&msg, strangers.b.identity, fs_test_lookup,
						   &pair.b, T0),
		       "decrypted under the wrong identity");
	/* A lookup that answers with a peer of another identity is not trusted. */
	cr_assert_null(fs_noise_consume_initiation(&msg, pair.b.identity, lookup_any,
						   strangers.b.peer, T0));
	/* The right identity and lookup still work. */
	cr_assert_eq(fs_noise_consume_initiation(&msg, pair.b.identity, fs_test_lookup, &pair.b, T0),
		     pair.b.peer);
	fs_test_pair_free(&strangers);
	fs_test_pair_free(&pair);
}

Test(noise, identity_without_private_key)
{
	struct wg_message_handshake_initiation msg;
	struct fs_test_pair pair;
	struct fs_noise_identity *empty;
	struct fs_noise_peer *peer;
	uint8_t ts[WG_TIMESTAMP_LEN];

	fs_test_pair_init(&pair);
	empty = fs_noise_identity_new();
	cr_assert_not_null(empty);
	cr_assert_not(empty->has_identity);
	peer = fs_noise_peer_new(empty, pair.b.identity->public_key, NULL, NULL);
	cr_assert_not_null(peer);
	fs_test_next_timestamp(&pair, ts);
	cr_assert_not(fs_noise_create_initiation(peer, &msg, pair.a.table, ts),
		      "an identity with no private key initiated");
	cr_assert_eq(fs_index_count(pair.a.table), 0);
	fs_noise_peer_free(peer, pair.a.table);

	/* Nor can it answer one. */
	cr_assert(fs_noise_create_initiation(pair.a.peer, &msg, pair.a.table, ts));
	cr_assert_null(fs_noise_consume_initiation(&msg, empty, fs_test_lookup, &pair.b, T0));
	fs_noise_identity_free(empty);
	fs_test_pair_free(&pair);
}

Test(noise, low_order_public_keys_are_refused)
{
	static const char *const points[] = {
		/* 0, 1 and a point of order 8 (cr.yp.to/ecdh.html#validate) */
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	};
	struct fs_noise_identity *identity;
	struct fs_index_table *table;

	fs_test_sodium_init();
	identity = fs_test_identity_new();
	table = fs_index_table_new();
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); ++i) {
		struct wg_message_handshake_initiation msg;
		uint8_t key[WG_KEY_LEN], ts[WG_TIMESTAMP_LEN];
		struct fs_noise_peer *peer;

		fs_test_unhex(key, sizeof(key), points[i]);
		errno = 0;
		peer = fs_noise_peer_new(identity, key, NULL, NULL);
		if (!peer) {
			cr_assert_neq(errno, 0, "peer_new failed without errno");
			continue;
		}
		fs_tai64n_from(ts, 1600000000, 0);
		cr_assert(fs_test_all_zero(peer->handshake.precomputed_static_static, WG_KEY_LEN),
			  "point %zu: a static-static secret from a low-order point", i);
		cr_assert_not(fs_noise_create_initiation(peer, &msg, table, ts),
			      "point %zu: initiated to a low-order public key", i);
		cr_assert_eq(fs_index_count(table), 0);
		fs_noise_peer_free(peer, table);
	}
	fs_index_table_free(table);
	fs_noise_identity_free(identity);
}

/*
 * Builds an initiation the way an attacker who picked its ephemeral key and
 * knows the static-static secret would: whitepaper 5.4.2 step by step, from
 * hash.h and libsodium, not from the core's handshake code.
 */
static void forge_initiation(struct wg_message_handshake_initiation *msg,
			     const uint8_t responder_public[WG_KEY_LEN],
			     const uint8_t claimed_static[WG_KEY_LEN],
			     const uint8_t static_static[WG_KEY_LEN],
			     const uint8_t timestamp[WG_TIMESTAMP_LEN], uint32_t sender)
{
	static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
	static const char identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
	static const uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	uint8_t c[WG_HASH_LEN], h[WG_HASH_LEN], k[WG_KEY_LEN], e[WG_KEY_LEN], dh[WG_KEY_LEN];

	memset(msg, 0, sizeof(*msg));
	msg->header.type = htole32(WG_MESSAGE_HANDSHAKE_INITIATION);
	msg->sender_index = htole32(sender);
	fs_blake2s(c, sizeof(c), construction, strlen(construction), NULL, 0);
	memcpy(h, c, sizeof(h));
	fs_mix_hash(h, identifier, strlen(identifier));
	fs_mix_hash(h, responder_public, WG_KEY_LEN);

	randombytes_buf(e, sizeof(e));
	cr_assert_eq(crypto_scalarmult_base(msg->unencrypted_ephemeral, e), 0);
	fs_kdf(c, NULL, NULL, msg->unencrypted_ephemeral, WG_KEY_LEN, c);
	fs_mix_hash(h, msg->unencrypted_ephemeral, WG_KEY_LEN);

	cr_assert_eq(crypto_scalarmult(dh, e, responder_public), 0);
	fs_kdf(c, k, NULL, dh, sizeof(dh), c);
	crypto_aead_chacha20poly1305_ietf_encrypt(msg->encrypted_static, NULL, claimed_static,
						  WG_KEY_LEN, h, sizeof(h), NULL, nonce, k);
	fs_mix_hash(h, msg->encrypted_static, sizeof(msg->encrypted_static));

	fs_kdf(c, k, NULL, static_static, WG_KEY_LEN, c);
	crypto_aead_chacha20poly1305_ietf_encrypt(msg->encrypted_timestamp, NULL, timestamp,
						  WG_TIMESTAMP_LEN, h, sizeof(h), NULL, nonce, k);
}

Test(noise, forged_initiation_from_a_low_order_static_key)
{
	static const char *const points[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	};
	struct wg_message_handshake_initiation msg;
	struct fs_test_pair pair;
	uint8_t ts[WG_TIMESTAMP_LEN], ss[WG_KEY_LEN], zero[WG_KEY_LEN] = { 0 };

	fs_test_pair_init(&pair);
	/* The forger works: built with a's real secrets, b accepts it. */
	cr_assert_eq(crypto_scalarmult(ss, pair.a.identity->private_key,
				       pair.b.identity->public_key), 0);
	fs_test_next_timestamp(&pair, ts);
	forge_initiation(&msg, pair.b.identity->public_key, pair.a.identity->public_key, ss, ts, 7);
	cr_assert_eq(fs_noise_consume_initiation(&msg, pair.b.identity, fs_test_lookup, &pair.b,
						 T0),
		     pair.b.peer, "control: a well-formed forged initiation was refused");

	/*
	 * b also has a peer configured with a low-order public key. Its DH
	 * with anything is zero, so anyone could claim to be it: refuse.
	 */
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); ++i) {
		struct fs_test_side low = { .identity = pair.b.identity, .table = pair.b.table };
		uint8_t point[WG_KEY_LEN];

		fs_test_unhex(point, sizeof(point), points[i]);
		low.peer = fs_noise_peer_new(pair.b.identity, point, NULL, NULL);
		if (!low.peer)
			continue;	/* refusing the peer outright is fine too */
		fs_test_next_timestamp(&pair, ts);
		forge_initiation(&msg, pair.b.identity->public_key, point, zero, ts, 8);
		cr_assert_null(fs_noise_consume_initiation(&msg, pair.b.identity, fs_test_lookup,
							   &low, T0 + FS_TEST_SEC(1 + i)),
			       "point %zu: impersonated a peer with a low-order key", i);
		fs_noise_peer_free(low.peer, pair.b.table);
	}
	fs_test_pair_free(&pair);
}

Test(noise, low_order_ephemeral_is_refused)
{
	struct wg_message_handshake_initiation msg;
	struct fs_test_pair pair;
	uint8_t ts[WG_TIMESTAMP_LEN];

	fs_test_pair_init(&pair);
	fs_test_next_timestamp(&pair, ts);
	cr_assert(fs_noise_create_initiation(pair.a.peer, &msg, pair.a.table, ts));
	memset(msg.unencrypted_ephemeral, 0, WG_KEY_LEN);
	cr_assert_null(fs_noise_consume_initiation(&msg, pair.b.identity, fs_test_lookup, &pair.b,
						   T0));
	fs_test_pair_free(&pair);
}

Test(noise, second_handshake_rotates_keypairs)
{
	struct fs_noise_keypair *old_i, *old_r, *new_i, *new_r;
	struct fs_test_pair pair;
	uint32_t old_index;

	fs_test_pair_init(&pair);
	fs_test_handshake(&pair, T0);
	old_i = pair.a.peer->current;
	old_r = pair.b.peer->next;
	cr_assert(fs_noise_received_with_keypair(pair.b.peer, old_r, pair.b.table));

	fs_test_handshake(&pair, T0 + FS_TEST_SEC(120));
	new_i = pair.a.peer->current;
	new_r = pair.b.peer->next;
	cr_assert_neq(new_i, old_i);
	cr_assert_eq(pair.a.peer->previous, old_i, "the initiator dropped its old keypair");
	/* The responder keeps sending with the old keys until confirmation. */
	cr_assert_eq(pair.b.peer->current, old_r);
	cr_assert_neq(new_r, old_r);
	fs_assert_bytes(new_i->sending_key, new_r->receiving_key, WG_KEY_LEN);
	cr_assert_neq(memcmp(new_i->sending_key, old_i->sending_key, WG_KEY_LEN), 0);
	/* Old keypairs still receive: their indices stay in the tables. */
	cr_assert_eq(fs_index_lookup(pair.a.table, FS_INDEX_KEYPAIR, old_i->entry.index),
		     &old_i->entry);
	cr_assert_eq(fs_index_lookup(pair.b.table, FS_INDEX_KEYPAIR, old_r->entry.index),
		     &old_r->entry);

	cr_assert(fs_noise_received_with_keypair(pair.b.peer, new_r, pair.b.table));
	cr_assert_eq(pair.b.peer->current, new_r);
	cr_assert_eq(pair.b.peer->previous, old_r);
	cr_assert_eq(fs_index_count(pair.a.table), 2);
	cr_assert_eq(fs_index_count(pair.b.table), 2);

	/*
	 * A third round retires the oldest keypairs and their indices. As in
	 * the kernel, a responder's new "next" retires its previous at once.
	 */
	old_index = old_r->entry.index;	/* old_r is freed from here on */
	fs_test_handshake(&pair, T0 + FS_TEST_SEC(240));
	cr_assert_null(pair.b.peer->previous);
	cr_assert_eq(pair.b.peer->current, new_r);
	cr_assert_eq(fs_index_count(pair.b.table), 2);
	cr_assert_null(fs_index_lookup(pair.b.table, FS_INDEX_KEYPAIR, old_index));
	cr_assert(fs_noise_received_with_keypair(pair.b.peer, pair.b.peer->next, pair.b.table));
	cr_assert_eq(pair.a.peer->previous, new_i);
	cr_assert_eq(pair.b.peer->previous, new_r);
	cr_assert_eq(fs_index_count(pair.a.table), 2);
	cr_assert_eq(fs_index_count(pair.b.table), 2);
	fs_test_pair_free(&pair);
}

Test(noise, roles_can_swap)
{
	struct fs_test_pair pair;

	fs_test_pair_init(&pair);
	fs_test_handshake(&pair, T0);
	/* Now b initiates to a: b's new keypair is current at once, a's waits. */
	fs_test_handshake_between(&pair, &pair.b, &pair.a, T0 + FS_TEST_SEC(1));
	cr_assert_not_null(pair.b.peer->current);
	cr_assert(pair.b.peer->current->i_am_the_initiator);
	cr_assert_not_null(pair.a.peer->next);
	fs_assert_bytes(pair.b.peer->current->sending_key, pair.a.peer->next->receiving_key,
			WG_KEY_LEN);
	fs_assert_bytes(pair.b.peer->current->receiving_key, pair.a.peer->next->sending_key,
			WG_KEY_LEN);
	fs_test_pair_free(&pair);
}

Test(noise, keypairs_clear_unhashes_everything)
{
	struct fs_test_pair pair;

	fs_test_pair_init(&pair);
	fs_test_handshake(&pair, T0);
	fs_test_handshake(&pair, T0 + FS_TEST_SEC(1));
	cr_assert_gt(fs_index_count(pair.a.table), 0);
	fs_noise_keypairs_clear(pair.a.peer, pair.a.table);
	fs_noise_keypairs_clear(pair.b.peer, pair.b.table);
	cr_assert_null(pair.a.peer->current);
	cr_assert_null(pair.a.peer->previous);
	cr_assert_null(pair.b.peer->next);
	cr_assert_eq(fs_index_count(pair.a.table), 0);
	cr_assert_eq(fs_index_count(pair.b.table), 0);
	fs_test_pair_free(&pair);
}

/* --- against the independent handshake ------------------------------------ */

Test(noise, kat_responder_consumes_reference_initiation)
{
	struct wg_message_handshake_initiation msg;
	struct fs_noise_identity *identity;
	struct fs_test_side responder = { 0 };
	uint8_t remote[WG_KEY_LEN], psk[WG_KEY_LEN];
	const struct fs_noise_handshake *h;

	fs_test_sodium_init();
	identity = fs_test_identity_from_hex(KAT_S_R, KAT_SPUB_R);
	responder.identity = identity;
	responder.table = fs_index_table_new();
	fs_test_unhex(remote, sizeof(remote), KAT_SPUB_I);
	fs_test_unhex(psk, sizeof(psk), KAT_PSK);
	responder.peer = fs_noise_peer_new(identity, remote, psk, NULL);
	cr_assert_not_null(responder.peer);

	fs_test_unhex((uint8_t *)&msg, sizeof(msg), KAT_INITIATION);
	cr_assert_eq(fs_noise_consume_initiation(&msg, identity, fs_test_lookup, &responder, T0),
		     responder.peer, "the independently computed initiation was refused");
	h = &responder.peer->handshake;
	cr_assert_eq(h->state, FS_HANDSHAKE_CONSUMED_INITIATION);
	cr_assert_eq(h->remote_index, KAT_IDX_I);
	fs_assert_hex(h->remote_ephemeral, WG_KEY_LEN, KAT_EPUB_I);
	fs_assert_hex(h->latest_timestamp, WG_TIMESTAMP_LEN, KAT_TS);
	fs_assert_hex(h->hash, WG_HASH_LEN, KAT_H_INIT);
	fs_assert_hex(h->chaining_key, WG_HASH_LEN, KAT_C_INIT);
	fs_test_side_free(&responder);
}

Test(noise, kat_initiator_consumes_reference_response)
{
	struct fs_test_side initiator = { 0 };
	const uint32_t index = KAT_IDX_I;
	struct fs_noise_keypair *k;

	fs_test_kat_initiator_session(&initiator, &index, T0);
	k = initiator.peer->current;
	fs_assert_hex(k->sending_key, WG_KEY_LEN, KAT_T_I_SEND);
	fs_assert_hex(k->receiving_key, WG_KEY_LEN, KAT_T_I_RECV);
	cr_assert_eq(k->remote_index, KAT_IDX_R);
	cr_assert_eq(k->entry.index, KAT_IDX_I);
	cr_assert(k->i_am_the_initiator);
	fs_test_side_free(&initiator);
}

Test(noise, kat_response_under_wrong_psk_is_refused)
{
	struct wg_message_handshake_response response;
	struct fs_test_side initiator = { 0 };
	const uint32_t index = KAT_IDX_I;
	uint8_t psk[WG_KEY_LEN];

	fs_test_kat_initiator(&initiator, &index);
	fs_test_unhex(psk, sizeof(psk), KAT_PSK);
	psk[31] ^= 1;
	fs_noise_peer_set_preshared_key(initiator.peer, psk);
	fs_test_unhex((uint8_t *)&response, sizeof(response), KAT_RESPONSE);
	cr_assert_null(fs_noise_consume_response(&response, initiator.identity, initiator.table));
	fs_test_side_free(&initiator);
}
