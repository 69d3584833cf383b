/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The WireGuard v1 wire format and protocol constants, and nothing else.
 * Values follow the whitepaper and the kernel driver's messages.h.
 * All multi-byte integers on the wire are little-endian.
 */
#ifndef FLOWSPREAD_MESSAGES_H
#define FLOWSPREAD_MESSAGES_H

#include <stdint.h>

enum wg_noise_lengths {
	WG_KEY_LEN = 32,
	WG_HASH_LEN = 32,
	WG_TIMESTAMP_LEN = 12,
	WG_AUTHTAG_LEN = 16,
};

#define wg_encrypted_len(plain_len) ((plain_len) + WG_AUTHTAG_LEN)

enum wg_cookie_values {
	WG_COOKIE_SECRET_MAX_AGE = 2 * 60,	/* seconds */
	WG_COOKIE_SECRET_LATENCY = 5,		/* seconds */
	WG_COOKIE_NONCE_LEN = 24,
	WG_COOKIE_LEN = 16,
};

enum wg_counter_values {
	WG_COUNTER_BITS_TOTAL = 8192,
	WG_COUNTER_REDUNDANT_BITS = 64,
	WG_COUNTER_WINDOW_SIZE = WG_COUNTER_BITS_TOTAL - WG_COUNTER_REDUNDANT_BITS,
};

enum wg_limits {
	WG_REKEY_TIMEOUT = 5,			/* seconds */
	WG_REKEY_TIMEOUT_JITTER_MAX_MS = 333,
	WG_KEEPALIVE_TIMEOUT = 10,		/* seconds */
	WG_REKEY_AFTER_TIME = 120,		/* seconds */
	WG_REJECT_AFTER_TIME = 180,		/* seconds */
	WG_INITIATIONS_PER_SECOND = 50,
	WG_MAX_PEERS_PER_DEVICE = 1U << 20,
	WG_MAX_TIMER_HANDSHAKES = 90 / WG_REKEY_TIMEOUT,
	WG_MAX_QUEUED_INCOMING_HANDSHAKES = 4096,
	WG_MAX_STAGED_PACKETS = 128,
	WG_MAX_QUEUED_PACKETS = 1024,
};

#define WG_REKEY_AFTER_MESSAGES (UINT64_C(1) << 60)
#define WG_REJECT_AFTER_MESSAGES (UINT64_MAX - WG_COUNTER_WINDOW_SIZE - 1)

enum wg_message_type {
	WG_MESSAGE_INVALID = 0,
	WG_MESSAGE_HANDSHAKE_INITIATION = 1,
	WG_MESSAGE_HANDSHAKE_RESPONSE = 2,
	WG_MESSAGE_HANDSHAKE_COOKIE = 3,
	WG_MESSAGE_DATA = 4,
};

/* One type byte followed by three reserved zero bytes: a le32 on the wire. */
struct wg_message_header {
	uint32_t type;
};

struct wg_message_macs {
	uint8_t mac1[WG_COOKIE_LEN];
	uint8_t mac2[WG_COOKIE_LEN];
};

struct wg_message_handshake_initiation {
	struct wg_message_header header;
	uint32_t sender_index;
	uint8_t unencrypted_ephemeral[WG_KEY_LEN];
	uint8_t encrypted_static[wg_encrypted_len(WG_KEY_LEN)];
	uint8_t encrypted_timestamp[wg_encrypted_len(WG_TIMESTAMP_LEN)];
	struct wg_message_macs macs;
};

struct wg_message_handshake_response {
	struct wg_message_header header;
	uint32_t sender_index;
	uint32_t receiver_index;
	uint8_t unencrypted_ephemeral[WG_KEY_LEN];
	uint8_t encrypted_nothing[wg_encrypted_len(0)];
	struct wg_message_macs macs;
};

struct wg_message_handshake_cookie {
	struct wg_message_header header;
	uint32_t receiver_index;
	uint8_t nonce[WG_COOKIE_NONCE_LEN];
	uint8_t encrypted_cookie[wg_encrypted_len(WG_COOKIE_LEN)];
};

struct wg_message_data {
	struct wg_message_header header;
	uint32_t key_idx;
	uint64_t counter;
	uint8_t encrypted_data[];
};

#define wg_message_data_len(plain_len) \
	(wg_encrypted_len(plain_len) + sizeof(struct wg_message_data))

enum wg_message_alignments {
	WG_MESSAGE_PADDING_MULTIPLE = 16,
	WG_MESSAGE_MINIMUM_LENGTH = wg_message_data_len(0),
};

_Static_assert(sizeof(struct wg_message_handshake_initiation) == 148, "initiation is 148 bytes");
_Static_assert(sizeof(struct wg_message_handshake_response) == 92, "response is 92 bytes");
_Static_assert(sizeof(struct wg_message_handshake_cookie) == 64, "cookie reply is 64 bytes");
_Static_assert(sizeof(struct wg_message_data) == 16, "data header is 16 bytes");

#endif
