/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mac1, mac2 and cookie replies (whitepaper section 5.4.7).
 *
 * The checker is the responder's side: it validates mac1 (keyed by our
 * public key), and under load asks for mac2, made with a cookie that is a
 * MAC of the sender's address under a secret rotated every two minutes.
 * The cookie travels in a reply encrypted with XChaCha20-Poly1305.
 *
 * The maker is the initiator's side, one per peer: it adds mac1 to each
 * handshake message, and mac2 while it holds a fresh cookie.
 */
#ifndef FLOWSPREAD_COOKIE_H
#define FLOWSPREAD_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "messages.h"

struct fs_index_table;

struct fs_cookie_checker {
	uint8_t secret[WG_HASH_LEN];
	uint64_t secret_birthdate;
	bool has_secret;
	uint8_t cookie_encryption_key[WG_KEY_LEN];
	uint8_t message_mac1_key[WG_KEY_LEN];
};

struct fs_cookie_maker {
	uint8_t cookie[WG_COOKIE_LEN];
	uint64_t birthdate;
	bool is_valid;
	uint8_t last_mac1_sent[WG_COOKIE_LEN];
	bool have_sent_mac1;
	uint8_t cookie_decryption_key[WG_KEY_LEN];
	uint8_t message_mac1_key[WG_KEY_LEN];
};

enum fs_cookie_mac_state {
	FS_COOKIE_INVALID_MAC,
	FS_COOKIE_VALID_MAC_BUT_NO_COOKIE,
	FS_COOKIE_VALID_MAC_WITH_COOKIE,
};

/* Keys derive from our public key; call again whenever it changes (NULL: none). */
void fs_cookie_checker_init(struct fs_cookie_checker *checker,
			    const uint8_t local_public[WG_KEY_LEN]);

/* Keys derive from the peer's public key. */
void fs_cookie_maker_init(struct fs_cookie_maker *maker, const uint8_t remote_public[WG_KEY_LEN]);

/*
 * msg is a whole initiation or response of length len (the macs are its
 * last 32 bytes). mac2 is checked only when check_cookie is set, i.e. when
 * the responder is under load.
 */
enum fs_cookie_mac_state fs_cookie_validate(struct fs_cookie_checker *checker, const void *msg,
					    size_t len, const struct sockaddr *src,
					    bool check_cookie, uint64_t now);

/* Fills both macs of an outgoing initiation or response. */
void fs_cookie_add_macs(struct fs_cookie_maker *maker, void *msg, size_t len, uint64_t now);

/*
 * Builds the reply to msg (an initiation or response from src) whose sender
 * index is sender_index. False only if the source family is unsupported.
 */
bool fs_cookie_create_reply(struct fs_cookie_checker *checker,
			    struct wg_message_handshake_cookie *dst, const void *msg, size_t len,
			    uint32_t sender_index, const struct sockaddr *src, uint64_t now);

/*
 * Finds the handshake or keypair the reply names, decrypts the cookie with
 * that peer's key and the last mac1 it sent, and stores it in the peer's
 * maker. False (nothing changed) if the index is unknown, no mac1 was sent
 * or the reply does not authenticate.
 */
bool fs_cookie_consume_reply(const struct wg_message_handshake_cookie *src,
			     const struct fs_index_table *table, uint64_t now);

/* Same, for a caller that already found the maker. */
bool fs_cookie_maker_consume_reply(struct fs_cookie_maker *maker,
				   const struct wg_message_handshake_cookie *src, uint64_t now);

#endif
