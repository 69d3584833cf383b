/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Data messages (whitepaper section 5.4.6): ChaCha20-Poly1305 under the
 * keypair's sending key with a 64-bit little-endian counter nonce, the
 * plaintext padded with zeros to a multiple of 16 (never beyond the MTU).
 * An empty plaintext is a keepalive.
 */
#ifndef FLOWSPREAD_TRANSPORT_H
#define FLOWSPREAD_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "messages.h"

struct fs_noise_keypair;

/*
 * The message type of a datagram if its length is right for that type
 * (exact for handshake messages, at least WG_MESSAGE_MINIMUM_LENGTH for
 * data) and its reserved bytes are zero; WG_MESSAGE_INVALID otherwise.
 */
enum wg_message_type fs_message_classify(const void *buf, size_t len);

/* Bytes a data message needs for a plaintext of len bytes under this MTU. */
size_t fs_transport_message_len(size_t len, size_t mtu);

/*
 * Encrypts plain[0..len) into dst, which must hold
 * fs_transport_message_len(len, mtu) bytes. plain may equal
 * dst + sizeof(struct wg_message_data) (in place). Returns the message
 * length, or -ENOKEY (keypair not valid for sending), -EKEYEXPIRED (older
 * than WG_REJECT_AFTER_TIME or counter exhausted), -EMSGSIZE (dstlen).
 */
ssize_t fs_transport_encrypt(struct fs_noise_keypair *keypair, void *dst, size_t dstlen,
			     const void *plain, size_t len, size_t mtu, uint64_t now);

/* The receiver index of a data message (len checked by fs_message_classify). */
uint32_t fs_transport_receiver(const void *msg);

/*
 * Authenticates and decrypts a data message into plain (which may be
 * msg + sizeof(struct wg_message_data)), then applies the replay window.
 * Returns the padded plaintext length (0: keepalive) or -ENOKEY,
 * -EKEYEXPIRED, -EBADMSG (does not authenticate), -EALREADY (replayed or
 * too old for the window), -EINVAL (malformed).
 */
ssize_t fs_transport_decrypt(struct fs_noise_keypair *keypair, void *plain, const void *msg,
			     size_t len, uint64_t now);

/*
 * Whether the sender should start a new handshake (the kernel's
 * keep_key_fresh): the counter passed WG_REKEY_AFTER_MESSAGES, or we
 * initiated this keypair more than WG_REKEY_AFTER_TIME ago.
 */
bool fs_transport_wants_rekey(const struct fs_noise_keypair *keypair, uint64_t now);

/*
 * Whether keypair (may be NULL) can still send: valid for sending, younger
 * than WG_REJECT_AFTER_TIME, counter below WG_REJECT_AFTER_MESSAGES.
 */
bool fs_transport_can_send(const struct fs_noise_keypair *keypair, uint64_t now);

#endif
