// SPDX-License-Identifier: GPL-2.0-or-later
#include <endian.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sodium.h>
#include "clock.h"
#include "cookie.h"
#include "hash.h"
#include "index.h"
#include "noise.h"

static const char mac1_label[8] = "mac1----";
static const char cookie_label[8] = "cookie--";

/* key = HASH(label || public key) */
static void derive_key(uint8_t key[WG_KEY_LEN], const char label[8],
		       const uint8_t public_key[WG_KEY_LEN])
{
	uint8_t input[8 + WG_KEY_LEN];

	memcpy(input, label, 8);
	memcpy(input + 8, public_key, WG_KEY_LEN);
	fs_blake2s(key, WG_KEY_LEN, input, sizeof(input), NULL, 0);
}

void fs_cookie_checker_init(struct fs_cookie_checker *checker,
			    const uint8_t local_public[WG_KEY_LEN])
{
	sodium_memzero(checker, sizeof(*checker));
	if (!local_public)
		return;
	derive_key(checker->cookie_encryption_key, cookie_label, local_public);
	derive_key(checker->message_mac1_key, mac1_label, local_public);
}

void fs_cookie_maker_init(struct fs_cookie_maker *maker, const uint8_t remote_public[WG_KEY_LEN])
{
	sodium_memzero(maker, sizeof(*maker));
	derive_key(maker->cookie_decryption_key, cookie_label, remote_public);
	derive_key(maker->message_mac1_key, mac1_label, remote_public);
}

/* mac1 covers the message up to the macs; mac2 covers it up to mac2. */
static void compute_mac1(uint8_t mac1[WG_COOKIE_LEN], const void *msg, size_t len,
			 const uint8_t key[WG_KEY_LEN])
{
	fs_blake2s(mac1, WG_COOKIE_LEN, msg, len - sizeof(struct wg_message_macs), key, WG_KEY_LEN);
}

static void compute_mac2(uint8_t mac2[WG_COOKIE_LEN], const void *msg, size_t len,
			 const uint8_t cookie[WG_COOKIE_LEN])
{
	fs_blake2s(mac2, WG_COOKIE_LEN, msg, len - WG_COOKIE_LEN, cookie, WG_COOKIE_LEN);
}

static struct wg_message_macs *macs_of(void *msg, size_t len)
{
	return (struct wg_message_macs *)((uint8_t *)msg + len - sizeof(struct wg_message_macs));
}

/* The bytes of the source that a cookie vouches for: address, then port. */
static size_t source_bytes(uint8_t out[18], const struct sockaddr *src)
{
	if (src->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)src;

		memcpy(out, &sin->sin_addr, 4);
		memcpy(out + 4, &sin->sin_port, 2);
		return 6;
	}
	if (src->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)src;

		memcpy(out, &sin6->sin6_addr, 16);
		memcpy(out + 16, &sin6->sin6_port, 2);
		return 18;
	}
	return 0;
}

static bool make_cookie(uint8_t cookie[WG_COOKIE_LEN], struct fs_cookie_checker *checker,
			const struct sockaddr *src, uint64_t now)
{
	uint8_t source[18];
	size_t len = source_bytes(source, src);

	if (!len)
		return false;
	if (!checker->has_secret ||
	    fs_has_expired(checker->secret_birthdate, WG_COOKIE_SECRET_MAX_AGE, now)) {
		randombytes_buf(checker->secret, sizeof(checker->secret));
		checker->secret_birthdate = now;
		checker->has_secret = true;
	}
	fs_blake2s(cookie, WG_COOKIE_LEN, source, len, checker->secret, sizeof(checker->secret));
	return true;
}

enum fs_cookie_mac_state fs_cookie_validate(struct fs_cookie_checker *checker, const void *msg,
					    size_t len, const struct sockaddr *src,
					    bool check_cookie, uint64_t now)
{
	const struct wg_message_macs *macs;
	uint8_t computed[WG_COOKIE_LEN];
	uint8_t cookie[WG_COOKIE_LEN];
	enum fs_cookie_mac_state state = FS_COOKIE_INVALID_MAC;

	if (len < sizeof(struct wg_message_macs) + sizeof(struct wg_message_header))
		return FS_COOKIE_INVALID_MAC;
	macs = macs_of((void *)msg, len);

	compute_mac1(computed, msg, len, checker->message_mac1_key);
	if (sodium_memcmp(computed, macs->mac1, WG_COOKIE_LEN))
		goto out;

	state = FS_COOKIE_VALID_MAC_BUT_NO_COOKIE;
	if (!check_cookie || !make_cookie(cookie, checker, src, now))
		goto out;

	compute_mac2(computed, msg, len, cookie);
	if (!sodium_memcmp(computed, macs->mac2, WG_COOKIE_LEN))
		state = FS_COOKIE_VALID_MAC_WITH_COOKIE;
out:
	sodium_memzero(cookie, sizeof(cookie));
	return state;
}

void fs_cookie_add_macs(struct fs_cookie_maker *maker, void *msg, size_t len, uint64_t now)
{
	struct wg_message_macs *macs = macs_of(msg, len);

	compute_mac1(macs->mac1, msg, len, maker->message_mac1_key);
	memcpy(maker->last_mac1_sent, macs->mac1, WG_COOKIE_LEN);
	maker->have_sent_mac1 = true;

	if (maker->is_valid &&
	    !fs_has_expired(maker->birthdate, WG_COOKIE_SECRET_MAX_AGE - WG_COOKIE_SECRET_LATENCY, now))
		compute_mac2(macs->mac2, msg, len, maker->cookie);
	else
		memset(macs->mac2, 0, WG_COOKIE_LEN);
}

bool fs_cookie_create_reply(struct fs_cookie_checker *checker,
			    struct wg_message_handshake_cookie *dst, const void *msg, size_t len,
			    uint32_t sender_index, const struct sockaddr *src, uint64_t now)
{
	const struct wg_message_macs *macs = macs_of((void *)msg, len);
	uint8_t cookie[WG_COOKIE_LEN];

	if (!make_cookie(cookie, checker, src, now))
		return false;
	dst->header.type = htole32(WG_MESSAGE_HANDSHAKE_COOKIE);
	dst->receiver_index = htole32(sender_index);
	randombytes_buf(dst->nonce, sizeof(dst->nonce));
	crypto_aead_xchacha20poly1305_ietf_encrypt(dst->encrypted_cookie, NULL, cookie,
						   sizeof(cookie), macs->mac1, WG_COOKIE_LEN,
						   NULL, dst->nonce, checker->cookie_encryption_key);
	sodium_memzero(cookie, sizeof(cookie));
	return true;
}

bool fs_cookie_maker_consume_reply(struct fs_cookie_maker *maker,
				   const struct wg_message_handshake_cookie *src, uint64_t now)
{
	uint8_t cookie[WG_COOKIE_LEN];

	if (!maker->have_sent_mac1)
		return false;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(cookie, NULL, NULL, src->encrypted_cookie,
						       sizeof(src->encrypted_cookie),
						       maker->last_mac1_sent, WG_COOKIE_LEN,
						       src->nonce, maker->cookie_decryption_key))
		return false;
	memcpy(maker->cookie, cookie, WG_COOKIE_LEN);
	maker->birthdate = now;
	maker->is_valid = true;
	maker->have_sent_mac1 = false;
	sodium_memzero(cookie, sizeof(cookie));
	return true;
}

bool fs_cookie_consume_reply(const struct wg_message_handshake_cookie *src,
			     const struct fs_index_table *table, uint64_t now)
{
	struct fs_index_entry *entry;

	entry = fs_index_lookup(table, FS_INDEX_HANDSHAKE | FS_INDEX_KEYPAIR,
				le32toh(src->receiver_index));
	if (!entry || !entry->peer)
		return false;
	return fs_cookie_maker_consume_reply(&entry->peer->cookie, src, now);
}
