// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Data messages (whitepaper 5.4.6) between two sides that completed a
 * handshake, the datagram classifier, and the exact bytes of the
 * independent implementation in helpers.h.
 */
#include <errno.h>
#include <stdlib.h>
#include "helpers.h"
#include "transport.h"
#include "leakcheck.h"

#define T0 FS_TEST_SEC(1000)
#define MTU 1420
#define HDR sizeof(struct wg_message_data)
#define REJECT WG_REJECT_AFTER_MESSAGES

/* A session between a (initiator) and b, confirmed on b's side. */
static void session(struct fs_test_pair *pair, bool confirmed)
{
	fs_test_pair_init(pair);
	fs_test_handshake(pair, T0);
	if (confirmed)
		cr_assert(fs_noise_received_with_keypair(pair->b.peer, pair->b.peer->next,
							 pair->b.table));
}

/*
 * The daemon's receive path for a data message: the receiver index names
 * the keypair in the side's table; the first message under "next" confirms it.
 */
static ssize_t receive(struct fs_test_side *side, void *plain, const void *msg, size_t len,
		       uint64_t now)
{
	struct fs_index_entry *entry;
	struct fs_noise_keypair *keypair;
	ssize_t ret;

	cr_assert_eq(fs_message_classify(msg, len), WG_MESSAGE_DATA);
	entry = fs_index_lookup(side->table, FS_INDEX_KEYPAIR, fs_transport_receiver(msg));
	cr_assert_not_null(entry, "no keypair for receiver index %08x",
			   fs_transport_receiver(msg));
	keypair = (struct fs_noise_keypair *)entry;	/* entry is its first member */
	ret = fs_transport_decrypt(keypair, plain, msg, len, now);
	if (ret >= 0 && keypair == side->peer->next)
		fs_noise_received_with_keypair(side->peer, keypair, side->table);
	return ret;
}

/* Encrypts len bytes of plain with the side's current keypair into a fresh buffer. */
static ssize_t send_msg(struct fs_test_side *side, uint8_t **msg, const void *plain, size_t len,
			uint64_t now)
{
	size_t need = fs_transport_message_len(len, MTU);

	*msg = malloc(need);
	cr_assert_not_null(*msg);
	cr_assert_not_null(side->peer->current, "no current keypair to send with");
	return fs_transport_encrypt(side->peer->current, *msg, need, plain, len, MTU, now);
}

FS_LEAK_CHECKED_SUITE(transport);

Test(transport, padding_and_round_trip)
{
	static const struct {
		size_t len, padded;
	} cases[] = {
		{ 0, 0 }, { 1, 16 }, { 15, 16 }, { 16, 16 }, { 17, 32 }, { 100, 112 },
		{ 1405, 1408 }, { 1408, 1408 }, { 1409, 1420 }, { 1419, 1420 }, { 1420, 1420 },
	};
	struct fs_test_pair pair;
	uint8_t plain[MTU], out[MTU];

	session(&pair, false);
	randombytes_buf(plain, sizeof(plain));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
		const size_t want = HDR + cases[i].padded + WG_AUTHTAG_LEN;
		uint8_t *msg;
		ssize_t n;

		cr_assert_eq(fs_transport_message_len(cases[i].len, MTU), want,
			     "message_len(%zu): %zu, want %zu", cases[i].len,
			     fs_transport_message_len(cases[i].len, MTU), want);
		n = send_msg(&pair.a, &msg, plain, cases[i].len, T0);
		cr_assert_eq(n, (ssize_t)want, "encrypt(%zu) gave %zd, want %zu", cases[i].len, n,
			     want);
		cr_assert_eq(fs_test_le32(msg), WG_MESSAGE_DATA);
		cr_assert_eq(fs_transport_receiver(msg), pair.a.peer->current->remote_index);
		cr_assert_eq(fs_test_le64(msg + 8), i, "message %zu went out with counter %llu", i,
			     (unsigned long long)fs_test_le64(msg + 8));

		memset(out, 0xaa, sizeof(out));
		n = receive(&pair.b, out, msg, want, T0);
		cr_assert_eq(n, (ssize_t)cases[i].padded, "decrypt(%zu) gave %zd", cases[i].len, n);
		fs_assert_bytes(out, plain, cases[i].len);
		cr_assert(fs_test_all_zero(out + cases[i].len, cases[i].padded - cases[i].len),
			  "padding of %zu is not zeros", cases[i].len);
		free(msg);
	}
	fs_test_pair_free(&pair);
}

Test(transport, both_directions_after_confirmation)
{
	struct fs_test_pair pair;
	uint8_t *msg, out[64];

	session(&pair, false);
	cr_assert_null(pair.b.peer->current, "responder may not send yet");
	/* a's keepalive confirms the session on b's side... */
	cr_assert_eq(send_msg(&pair.a, &msg, "", 0, T0), (ssize_t)WG_MESSAGE_MINIMUM_LENGTH);
	cr_assert_eq(receive(&pair.b, out, msg, WG_MESSAGE_MINIMUM_LENGTH, T0), 0);
	free(msg);
	cr_assert_not_null(pair.b.peer->current);
	cr_assert_null(pair.b.peer->next);
	/* ...and b answers. */
	cr_assert_eq(send_msg(&pair.b, &msg, "pong", 4, T0), (ssize_t)(HDR + 16 + 16));
	cr_assert_eq(fs_transport_receiver(msg), pair.a.peer->current->entry.index);
	cr_assert_eq(receive(&pair.a, out, msg, HDR + 32, T0), 16);
	cr_assert_eq(memcmp(out, "pong", 4), 0);
	free(msg);
	fs_test_pair_free(&pair);
}

Test(transport, in_place)
{
	struct fs_test_pair pair;
	uint8_t buf[HDR + 48 + WG_AUTHTAG_LEN], plain[40];
	ssize_t n;

	session(&pair, true);
	randombytes_buf(plain, sizeof(plain));
	memcpy(buf + HDR, plain, sizeof(plain));
	n = fs_transport_encrypt(pair.a.peer->current, buf, sizeof(buf), buf + HDR, sizeof(plain),
				 MTU, T0);
	cr_assert_eq(n, (ssize_t)sizeof(buf));
	cr_assert_neq(memcmp(buf + HDR, plain, sizeof(plain)), 0, "not encrypted");
	n = fs_transport_decrypt(pair.b.peer->current, buf + HDR, buf, sizeof(buf), T0);
	cr_assert_eq(n, 48);
	fs_assert_bytes(buf + HDR, plain, sizeof(plain));
	fs_test_pair_free(&pair);
}

Test(transport, destination_too_small)
{
	struct fs_test_pair pair;
	uint8_t buf[HDR + 16 + WG_AUTHTAG_LEN], out[16];

	session(&pair, true);
	cr_assert_eq(fs_transport_encrypt(pair.a.peer->current, buf, sizeof(buf) - 1, "x", 1, MTU,
					  T0),
		     -EMSGSIZE);
	cr_assert_eq(fs_transport_encrypt(pair.a.peer->current, buf, sizeof(buf), "x", 1, MTU, T0),
		     (ssize_t)sizeof(buf));
	cr_assert_eq(fs_transport_decrypt(pair.b.peer->current, out, buf, sizeof(buf), T0), 16);
	fs_test_pair_free(&pair);
}

Test(transport, every_authenticated_byte_matters)
{
	struct fs_test_pair pair;
	uint8_t *msg, bad[HDR + 32 + WG_AUTHTAG_LEN], out[32];
	const size_t len = sizeof(bad);

	session(&pair, true);
	cr_assert_eq(send_msg(&pair.a, &msg, "twenty bytes of data", 20, T0), (ssize_t)len);
	for (size_t i = 0; i < len; ++i) {
		ssize_t n;

		/* Bytes 4..7 only pick the keypair; nothing authenticates them. */
		if (i >= 4 && i < 8)
			continue;
		memcpy(bad, msg, len);
		bad[i] ^= 0x40;
		n = fs_transport_decrypt(pair.b.peer->current, out, bad, len, T0);
		cr_assert_eq(n, i < 4 ? -EINVAL : -EBADMSG, "byte %zu: %zd", i, n);
	}
	/* Truncated, or too short to be a data message at all. */
	cr_assert_eq(fs_transport_decrypt(pair.b.peer->current, out, msg, len - 1, T0), -EBADMSG);
	cr_assert_eq(fs_transport_decrypt(pair.b.peer->current, out, msg, HDR + WG_AUTHTAG_LEN - 1,
					  T0),
		     -EINVAL);
	/* The forgeries did not consume the counter. */
	cr_assert_eq(fs_transport_decrypt(pair.b.peer->current, out, msg, len, T0), 32);
	free(msg);
	fs_test_pair_free(&pair);
}

Test(transport, replays_are_refused)
{
	struct fs_test_pair pair;
	uint8_t *m[3], out[32];
	const size_t len = HDR + 16 + WG_AUTHTAG_LEN;

	session(&pair, true);
	for (int i = 0; i < 3; ++i)
		cr_assert_eq(send_msg(&pair.a, &m[i], "abc", 3, T0), (ssize_t)len);
	cr_assert_eq(fs_transport_decrypt(pair.b.peer->current, out, m[0], len, T0), 16);
	cr_assert_eq(fs_transport_decrypt(pair.b.peer->current, out, m[0], len, T0), -EALREADY);
	/* Reordered: accepted once each. */
	cr_assert_eq(fs_transport_decrypt(pair.b.peer->current, out, m[2], len, T0), 16);
	cr_assert_eq(fs_transport_decrypt(pair.b.peer->current, out, m[1], len, T0), 16);
	cr_assert_eq(fs_transport_decrypt(pair.b.peer->current, out, m[1], len, T0), -EALREADY);
	cr_assert_eq(fs_transport_decrypt(pair.b.peer->current, out, m[2], len, T0), -EALREADY);
	for (int i = 0; i < 3; ++i)
		free(m[i]);
	fs_test_pair_free(&pair);
}

Test(transport, too_old_for_the_window)
{
	struct fs_test_pair pair;
	uint8_t *early, *edge, *late, out[32];
	const size_t len = HDR + 16 + WG_AUTHTAG_LEN;

	session(&pair, true);
	pair.a.peer->current->sending_counter = 100;
	cr_assert_eq(send_msg(&pair.a, &early, "a", 1, T0), (ssize_t)len);	/* 100 */
	pair.a.peer->current->sending_counter = 101;
	cr_assert_eq(send_msg(&pair.a, &edge, "b", 1, T0), (ssize_t)len);	/* 101 */
	pair.a.peer->current->sending_counter = 101 + WG_COUNTER_WINDOW_SIZE;
	cr_assert_eq(send_msg(&pair.a, &late, "c", 1, T0), (ssize_t)len);	/* 8229 */
	cr_assert_eq(fs_transport_decrypt(pair.b.peer->current, out, late, len, T0), 16);
	cr_assert_eq(fs_transport_decrypt(pair.b.peer->current, out, early, len, T0), -EALREADY,
		     "a message 8129 behind was accepted");
	cr_assert_eq(fs_transport_decrypt(pair.b.peer->current, out, edge, len, T0), 16,
		     "a message 8128 behind was refused");
	free(early);
	free(edge);
	free(late);
	fs_test_pair_free(&pair);
}

Test(transport, sending_counter_exhaustion)
{
	struct fs_test_pair pair;
	uint8_t *msg, out[16];
	const size_t len = HDR + 16 + WG_AUTHTAG_LEN;

	session(&pair, true);
	pair.a.peer->current->sending_counter = REJECT - 1;
	cr_assert_eq(send_msg(&pair.a, &msg, "last", 4, T0), (ssize_t)len,
		     "counter REJECT_AFTER_MESSAGES - 1 is still usable");
	cr_assert_eq(fs_test_le64(msg + 8), REJECT - 1);
	cr_assert_eq(fs_transport_decrypt(pair.b.peer->current, out, msg, len, T0), 16);
	free(msg);
	cr_assert_eq(send_msg(&pair.a, &msg, "over", 4, T0), -EKEYEXPIRED);
	free(msg);
	fs_test_pair_free(&pair);
}

/*
 * Once the counter is spent, no attempt may ever encrypt again: a counter
 * that kept counting failed attempts would wrap to 0 and reuse nonces
 * under the same key. (The kernel marks the keypair invalid for sending
 * at the first refused nonce; 8130 refused attempts suffice to wrap.)
 */
Test(transport, exhausted_counter_never_wraps)
{
	struct fs_test_pair pair;
	uint8_t buf[HDR + 16 + WG_AUTHTAG_LEN];
	ssize_t n;

	session(&pair, true);
	pair.a.peer->current->sending_counter = REJECT;
	for (unsigned int i = 0; i < 10000; ++i) {
		n = fs_transport_encrypt(pair.a.peer->current, buf, sizeof(buf), "x", 1, MTU, T0);
		cr_assert_lt(n, 0, "attempt %u after exhaustion encrypted with counter %llu", i,
			     (unsigned long long)fs_test_le64(buf + 8));
	}
	pair.a.peer->current->sending_counter = UINT64_MAX;
	for (unsigned int i = 0; i < 3; ++i) {
		n = fs_transport_encrypt(pair.a.peer->current, buf, sizeof(buf), "x", 1, MTU, T0);
		cr_assert_lt(n, 0, "attempt %u at UINT64_MAX encrypted with counter %llu", i,
			     (unsigned long long)fs_test_le64(buf + 8));
	}
	fs_test_pair_free(&pair);
}

Test(transport, keypair_expires_after_reject_after_time)
{
	struct fs_test_pair pair;
	uint8_t *m1, *m2, *m3, out[16];
	const uint64_t end = T0 + FS_TEST_SEC(WG_REJECT_AFTER_TIME);
	const size_t len = HDR + 16 + WG_AUTHTAG_LEN;

	session(&pair, true);
	cr_assert_eq(send_msg(&pair.a, &m1, "a", 1, end - 1), (ssize_t)len);
	cr_assert_eq(send_msg(&pair.a, &m2, "b", 1, end - 1), (ssize_t)len);
	cr_assert_eq(send_msg(&pair.a, &m3, "c", 1, end), -EKEYEXPIRED);
	free(m3);
	cr_assert_eq(send_msg(&pair.b, &m3, "c", 1, end), -EKEYEXPIRED);
	free(m3);
	cr_assert_eq(fs_transport_decrypt(pair.b.peer->current, out, m1, len, end - 1), 16);
	cr_assert_eq(fs_transport_decrypt(pair.b.peer->current, out, m2, len, end), -EKEYEXPIRED);
	free(m1);
	free(m2);
	fs_test_pair_free(&pair);
}

Test(transport, wants_rekey_after_time_for_the_initiator_only)
{
	struct fs_test_pair pair;
	const uint64_t at = T0 + FS_TEST_SEC(WG_REKEY_AFTER_TIME);

	session(&pair, true);
	cr_assert_not(fs_transport_wants_rekey(pair.a.peer->current, T0));
	cr_assert_not(fs_transport_wants_rekey(pair.a.peer->current, at - 1));
	cr_assert(fs_transport_wants_rekey(pair.a.peer->current, at));
	/* The responder leaves it to the initiator, so they do not both start. */
	cr_assert_not(fs_transport_wants_rekey(pair.b.peer->current, at));
	cr_assert_not(fs_transport_wants_rekey(pair.b.peer->current,
					       T0 + FS_TEST_SEC(WG_REJECT_AFTER_TIME) - 1));
	fs_test_pair_free(&pair);
}

Test(transport, wants_rekey_after_messages)
{
	struct fs_test_pair pair;

	session(&pair, true);
	for (int side = 0; side < 2; ++side) {
		struct fs_noise_keypair *k = side ? pair.b.peer->current : pair.a.peer->current;

		k->sending_counter = WG_REKEY_AFTER_MESSAGES - 1;
		cr_assert_not(fs_transport_wants_rekey(k, T0), "side %d, 2^60 - 1", side);
		k->sending_counter = WG_REKEY_AFTER_MESSAGES + 1;
		cr_assert(fs_transport_wants_rekey(k, T0), "side %d, past 2^60", side);
	}
	fs_test_pair_free(&pair);
}

Test(transport, expired_current_keypair_still_receives)
{
	struct fs_test_pair pair;
	uint8_t *msg, out[16];

	session(&pair, true);
	fs_noise_expire_current_keypair(pair.a.peer);
	cr_assert_eq(send_msg(&pair.a, &msg, "x", 1, T0), -ENOKEY);
	free(msg);
	cr_assert_eq(send_msg(&pair.b, &msg, "y", 1, T0), (ssize_t)(HDR + 32));
	cr_assert_eq(receive(&pair.a, out, msg, HDR + 32, T0), 16);
	cr_assert_eq(out[0], 'y');
	free(msg);
	fs_test_pair_free(&pair);
}

Test(transport, previous_keypair_still_receives)
{
	struct fs_test_pair pair;
	uint8_t *old, *fresh, out[16];

	session(&pair, true);
	/* b sent under the first session; a rekeys before it arrives. */
	cr_assert_eq(send_msg(&pair.b, &old, "o", 1, T0), (ssize_t)(HDR + 32));
	fs_test_handshake(&pair, T0 + FS_TEST_SEC(1));
	cr_assert_eq(receive(&pair.a, out, old, HDR + 32, T0 + FS_TEST_SEC(1)), 16);
	cr_assert_eq(out[0], 'o');
	/* a sends under the new keys; b switches to them on receipt. */
	cr_assert_eq(send_msg(&pair.a, &fresh, "n", 1, T0 + FS_TEST_SEC(1)), (ssize_t)(HDR + 32));
	cr_assert_eq(receive(&pair.b, out, fresh, HDR + 32, T0 + FS_TEST_SEC(1)), 16);
	cr_assert_null(pair.b.peer->next);
	fs_assert_bytes(pair.b.peer->current->receiving_key, pair.a.peer->current->sending_key,
			WG_KEY_LEN);
	free(old);
	free(fresh);
	fs_test_pair_free(&pair);
}

/* --- classification --------------------------------------------------------- */

static enum wg_message_type classify_len(uint32_t type_le, size_t len, size_t reserved_at,
					 uint8_t reserved_value)
{
	uint8_t *buf = malloc(len ? len : 1);	/* exact size: ASan sees overreads */
	enum wg_message_type t;
	uint8_t header[4] = { (uint8_t)type_le, (uint8_t)(type_le >> 8), (uint8_t)(type_le >> 16),
			      (uint8_t)(type_le >> 24) };

	cr_assert_not_null(buf);
	memset(buf, 0, len);
	if (reserved_at)
		header[reserved_at] = reserved_value;
	memcpy(buf, header, len < 4 ? len : 4);
	t = fs_message_classify(buf, len);
	free(buf);
	return t;
}

static enum wg_message_type expected_type(uint32_t type, size_t len)
{
	switch (type) {
	case WG_MESSAGE_HANDSHAKE_INITIATION:
		return len == 148 ? WG_MESSAGE_HANDSHAKE_INITIATION : WG_MESSAGE_INVALID;
	case WG_MESSAGE_HANDSHAKE_RESPONSE:
		return len == 92 ? WG_MESSAGE_HANDSHAKE_RESPONSE : WG_MESSAGE_INVALID;
	case WG_MESSAGE_HANDSHAKE_COOKIE:
		return len == 64 ? WG_MESSAGE_HANDSHAKE_COOKIE : WG_MESSAGE_INVALID;
	case WG_MESSAGE_DATA:
		return len >= 32 ? WG_MESSAGE_DATA : WG_MESSAGE_INVALID;
	default:
		return WG_MESSAGE_INVALID;
	}
}

static const size_t big_lengths[] = { 1000, 1420, 1452, 9000, 65535 };

Test(transport, classify_by_type_and_length)
{
	static const uint32_t types[] = { 0, 1, 2, 3, 4, 5, 6, 255 };
	unsigned int valid = 0;

	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); ++t) {
		for (size_t i = 0; i <= 200 + sizeof(big_lengths) / sizeof(big_lengths[0]); ++i) {
			size_t len = i <= 200 ? i : big_lengths[i - 201];
			enum wg_message_type got = classify_len(types[t], len, 0, 0);

			cr_assert_eq(got, expected_type(types[t], len),
				     "type %u, length %zu: classified as %d", types[t], len, got);
			valid += got != WG_MESSAGE_INVALID;
		}
	}
	/* 3 handshake lengths, data at 32..200 and the big ones. */
	cr_assert_eq(valid, 3 + (200 - 32 + 1) + sizeof(big_lengths) / sizeof(big_lengths[0]));
}

Test(transport, classify_refuses_nonzero_reserved_bytes)
{
	static const struct {
		uint32_t type;
		size_t len;
	} good[] = { { 1, 148 }, { 2, 92 }, { 3, 64 }, { 4, 32 }, { 4, 1500 } };

	for (size_t g = 0; g < sizeof(good) / sizeof(good[0]); ++g) {
		cr_assert_eq(classify_len(good[g].type, good[g].len, 0, 0), good[g].type);
		for (size_t at = 1; at < 4; ++at) {
			static const uint8_t values[] = { 0x01, 0x02, 0x80, 0xff };

			for (size_t v = 0; v < sizeof(values); ++v)
				cr_assert_eq(classify_len(good[g].type, good[g].len, at, values[v]),
					     WG_MESSAGE_INVALID, "type %u, byte %zu = %#x",
					     good[g].type, at, values[v]);
		}
	}
}

Test(transport, real_messages_classify)
{
	struct wg_message_handshake_initiation initiation;
	struct wg_message_handshake_response response;
	struct wg_message_handshake_cookie cookie;

	fs_test_unhex((uint8_t *)&initiation, sizeof(initiation), KAT_INITIATION);
	fs_test_unhex((uint8_t *)&response, sizeof(response), KAT_RESPONSE);
	fs_test_unhex((uint8_t *)&cookie, sizeof(cookie), KAT_COOKIE_REPLY);
	cr_assert_eq(fs_message_classify(&initiation, sizeof(initiation)),
		     WG_MESSAGE_HANDSHAKE_INITIATION);
	cr_assert_eq(fs_message_classify(&response, sizeof(response)),
		     WG_MESSAGE_HANDSHAKE_RESPONSE);
	cr_assert_eq(fs_message_classify(&cookie, sizeof(cookie)), WG_MESSAGE_HANDSHAKE_COOKIE);
	/* A whole initiation's bytes under another length are not an initiation. */
	cr_assert_eq(fs_message_classify(&initiation, sizeof(initiation) - 1), WG_MESSAGE_INVALID);
}

/* --- against the independent implementation ------------------------------- */

Test(transport, kat_data_messages)
{
	struct fs_test_side initiator = { 0 };
	const uint32_t index = KAT_IDX_I;
	uint8_t expected[48], reference[48], msg[48], out[32];

	fs_test_kat_initiator_session(&initiator, &index, T0);

	/* Our first message is the reference's, byte for byte. */
	cr_assert_eq(fs_transport_encrypt(initiator.peer->current, msg, sizeof(msg), "hello", 5, MTU,
					  T0),
		     48);
	fs_test_unhex(expected, sizeof(expected), KAT_DATA_I);
	fs_assert_bytes(msg, expected, sizeof(msg));
	cr_assert_eq(fs_transport_receiver(expected), KAT_IDX_R);

	/* The reference's message to us decrypts. */
	fs_test_unhex(reference, sizeof(reference), KAT_DATA_R);
	cr_assert_eq(fs_transport_receiver(reference), KAT_IDX_I);
	cr_assert_eq(fs_transport_decrypt(initiator.peer->current, out, reference, sizeof(reference),
					  T0),
		     16);
	cr_assert_eq(memcmp(out, "hi!", 3), 0);
	cr_assert(fs_test_all_zero(out + 3, 13));
	cr_assert_eq(fs_transport_decrypt(initiator.peer->current, out, reference, sizeof(reference),
					  T0),
		     -EALREADY);
	fs_test_side_free(&initiator);
}

Test(transport, kat_receiving_counter_limit)
{
	struct fs_test_side initiator = { 0 };
	const uint32_t index = KAT_IDX_I;
	uint8_t at_limit[48], below[48], early[48], out[32];

	fs_test_kat_initiator_session(&initiator, &index, T0);
	fs_test_unhex(at_limit, sizeof(at_limit), KAT_DATA_R_REJECT);
	fs_test_unhex(below, sizeof(below), KAT_DATA_R_REJECT_MINUS_1);
	fs_test_unhex(early, sizeof(early), KAT_DATA_R);

	/* Authentic, but counter REJECT_AFTER_MESSAGES is never accepted. */
	cr_assert_lt(fs_transport_decrypt(initiator.peer->current, out, at_limit, 48, T0), 0);
	cr_assert_eq(fs_transport_decrypt(initiator.peer->current, out, below, 48, T0), 16);
	cr_assert_eq(out[0], 'x');
	/* After the last usable counter nothing more is accepted. */
	cr_assert_lt(fs_transport_decrypt(initiator.peer->current, out, early, 48, T0), 0);
	cr_assert_lt(fs_transport_decrypt(initiator.peer->current, out, at_limit, 48, T0), 0);
	fs_test_side_free(&initiator);
}
