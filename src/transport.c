// SPDX-License-Identifier: GPL-2.0-or-later
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sodium.h>
#include "clock.h"
#include "noise.h"
#include "transport.h"

enum wg_message_type fs_message_classify(const void *buf, size_t len)
{
	uint32_t type;

	if (len < sizeof(struct wg_message_header))
		return WG_MESSAGE_INVALID;
	memcpy(&type, buf, sizeof(type));
	switch (le32toh(type)) {
	case WG_MESSAGE_HANDSHAKE_INITIATION:
		if (len == sizeof(struct wg_message_handshake_initiation))
			return WG_MESSAGE_HANDSHAKE_INITIATION;
		break;
	case WG_MESSAGE_HANDSHAKE_RESPONSE:
		if (len == sizeof(struct wg_message_handshake_response))
			return WG_MESSAGE_HANDSHAKE_RESPONSE;
		break;
	case WG_MESSAGE_HANDSHAKE_COOKIE:
		if (len == sizeof(struct wg_message_handshake_cookie))
			return WG_MESSAGE_HANDSHAKE_COOKIE;
		break;
	case WG_MESSAGE_DATA:
		if (len >= WG_MESSAGE_MINIMUM_LENGTH)
			return WG_MESSAGE_DATA;
		break;
	}
	return WG_MESSAGE_INVALID;
}

/*
 * Zero padding to a multiple of 16, but never past the MTU; a packet larger
 * than the MTU (which should not happen) is padded as its remainder would
 * be. An MTU of 0 means unknown: pad to 16 regardless.
 */
static size_t padding(size_t len, size_t mtu)
{
	size_t last_unit = len, padded;

	if (!mtu)
		return (WG_MESSAGE_PADDING_MULTIPLE - len % WG_MESSAGE_PADDING_MULTIPLE) %
		       WG_MESSAGE_PADDING_MULTIPLE;
	if (last_unit > mtu)
		last_unit %= mtu;
	padded = (last_unit + WG_MESSAGE_PADDING_MULTIPLE - 1) & ~(size_t)(WG_MESSAGE_PADDING_MULTIPLE - 1);
	if (padded > mtu)
		padded = mtu;
	return padded - last_unit;
}

size_t fs_transport_message_len(size_t len, size_t mtu)
{
	return wg_message_data_len(len + padding(len, mtu));
}

/* The 96-bit nonce: 32 zero bits, then the counter in little-endian. */
static void counter_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES],
			  uint64_t counter)
{
	uint64_t le = htole64(counter);

	memset(nonce, 0, 4);
	memcpy(nonce + 4, &le, sizeof(le));
}

ssize_t fs_transport_encrypt(struct fs_noise_keypair *keypair, void *dst, size_t dstlen,
			     const void *plain, size_t len, size_t mtu, uint64_t now)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	struct wg_message_data header;
	uint8_t *payload = (uint8_t *)dst + sizeof(header);
	size_t pad = padding(len, mtu);
	size_t total = wg_message_data_len(len + pad);
	uint64_t counter;

	if (!__atomic_load_n(&keypair->sending_valid, __ATOMIC_RELAXED))
		return -ENOKEY;
	if (dstlen < total)
		return -EMSGSIZE;
	if (fs_has_expired(keypair->birthdate, WG_REJECT_AFTER_TIME, now))
		goto expired;
	counter = __atomic_fetch_add(&keypair->sending_counter, 1, __ATOMIC_RELAXED);
	if (counter >= WG_REJECT_AFTER_MESSAGES)
		goto expired;

	if (payload != (const uint8_t *)plain)
		memmove(payload, plain, len);
	memset(payload + len, 0, pad);

	header.header.type = htole32(WG_MESSAGE_DATA);
	header.key_idx = htole32(keypair->remote_index);
	header.counter = htole64(counter);
	memcpy(dst, &header, sizeof(header));

	counter_nonce(nonce, counter);
	crypto_aead_chacha20poly1305_ietf_encrypt(payload, NULL, payload, len + pad, NULL, 0, NULL,
						  nonce, keypair->sending_key);
	return (ssize_t)total;

expired:
	/*
	 * Invalid for good, as the kernel does: later calls stop above and
	 * never move the counter again, so it cannot wrap to a used nonce.
	 */
	__atomic_store_n(&keypair->sending_valid, false, __ATOMIC_RELAXED);
	return -EKEYEXPIRED;
}

uint32_t fs_transport_receiver(const void *msg)
{
	struct wg_message_data header;

	memcpy(&header, msg, sizeof(header));
	return le32toh(header.key_idx);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Several workers may receive with one keypair; the window is tiny to guard. */
static bool replay_check_locked(struct fs_noise_keypair *keypair, uint64_t counter)
{
	bool ok;

	while (__atomic_test_and_set(&keypair->replay_lock, __ATOMIC_ACQUIRE))
		cpu_relax();
	ok = fs_replay_check(&keypair->receiving_counter, counter);
	__atomic_clear(&keypair->replay_lock, __ATOMIC_RELEASE);
	return ok;
}

ssize_t fs_transport_decrypt(struct fs_noise_keypair *keypair, void *plain, const void *msg,
			     size_t len, uint64_t now)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	struct wg_message_data header;
	unsigned long long plain_len;
	uint64_t counter;

	if (fs_message_classify(msg, len) != WG_MESSAGE_DATA)
		return -EINVAL;
	if (!__atomic_load_n(&keypair->receiving_valid, __ATOMIC_RELAXED))
		return -ENOKEY;
	if (fs_has_expired(keypair->birthdate, WG_REJECT_AFTER_TIME, now) ||
	    __atomic_load_n(&keypair->receiving_counter.counter, __ATOMIC_RELAXED) >=
		    WG_REJECT_AFTER_MESSAGES) {
		__atomic_store_n(&keypair->receiving_valid, false, __ATOMIC_RELAXED);
		return -EKEYEXPIRED;
	}

	memcpy(&header, msg, sizeof(header));
	counter = le64toh(header.counter);
	counter_nonce(nonce, counter);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(plain, &plain_len, NULL,
						      (const uint8_t *)msg + sizeof(header),
						      len - sizeof(header), NULL, 0, nonce,
						      keypair->receiving_key))
		return -EBADMSG;
	if (!replay_check_locked(keypair, counter))
		return -EALREADY;
	return (ssize_t)plain_len;
}

bool fs_transport_wants_rekey(const struct fs_noise_keypair *keypair, uint64_t now)
{
	return keypair && __atomic_load_n(&keypair->sending_valid, __ATOMIC_RELAXED) &&
	       (__atomic_load_n(&keypair->sending_counter, __ATOMIC_RELAXED) >
			WG_REKEY_AFTER_MESSAGES ||
		(keypair->i_am_the_initiator &&
		 fs_has_expired(keypair->birthdate, WG_REKEY_AFTER_TIME, now)));
}

bool fs_transport_can_send(const struct fs_noise_keypair *keypair, uint64_t now)
{
	return keypair && __atomic_load_n(&keypair->sending_valid, __ATOMIC_RELAXED) &&
	       !fs_has_expired(keypair->birthdate, WG_REJECT_AFTER_TIME, now) &&
	       __atomic_load_n(&keypair->sending_counter, __ATOMIC_RELAXED) <
		       WG_REJECT_AFTER_MESSAGES;
}
