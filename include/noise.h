/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Noise_IKpsk2 handshake of WireGuard v1 and the keypairs it yields.
 *
 * Objects holding key material (identities, peers, keypairs) come from the
 * secure pool (secmem.h: guarded, locked chunks of many objects) and are
 * wiped with sodium_memzero when freed. The core does no I/O and reads no clock: "now" is passed in
 * (see clock.h) and timestamps are made by the caller (see tai64n.h).
 *
 * Not thread-safe by itself: the daemon serialises handshake processing per
 * peer and publishes keypairs to its workers (issue 3).
 */
#ifndef FLOWSPREAD_NOISE_H
#define FLOWSPREAD_NOISE_H

#include <stdbool.h>
#include <stdint.h>
#include "cookie.h"
#include "index.h"
#include "messages.h"
#include "replay.h"

struct fs_noise_identity {
	uint8_t private_key[WG_KEY_LEN];
	uint8_t public_key[WG_KEY_LEN];
	bool has_identity;
};

enum fs_noise_handshake_state {
	FS_HANDSHAKE_ZEROED,
	FS_HANDSHAKE_CREATED_INITIATION,
	FS_HANDSHAKE_CONSUMED_INITIATION,
	FS_HANDSHAKE_CREATED_RESPONSE,
	FS_HANDSHAKE_CONSUMED_RESPONSE,
};

struct fs_noise_keypair {
	struct fs_index_entry entry;	/* our index: the peer's receiver field; first member */
	uint8_t sending_key[WG_KEY_LEN];
	uint8_t receiving_key[WG_KEY_LEN];
	uint64_t sending_counter;	/* next nonce; updated atomically */
	struct fs_replay_counter receiving_counter;
	uint64_t birthdate;
	uint32_t remote_index;
	bool i_am_the_initiator;
	bool sending_valid;		/* read and cleared atomically */
	bool receiving_valid;		/* read and cleared atomically */
	bool replay_lock;		/* guards receiving_counter across workers */
	/*
	 * flowspread's per-session spread key (spread.h), derived by the
	 * daemon once the session began; has_spread_key is set (release)
	 * after it. Lives and dies with the keypair's locked memory.
	 */
	uint8_t spread_key[WG_KEY_LEN];
	bool has_spread_key;
	/*
	 * Room for the reclaimer to queue the keypair (the daemon's RCU head
	 * fits: a next pointer and a function), so that freeing a keypair
	 * never allocates.
	 */
	struct fs_noise_reclaim {
		void *next;
		void (*func)(void *head);
	} reclaim;
};

struct fs_noise_handshake {
	struct fs_index_entry entry;
	enum fs_noise_handshake_state state;
	uint64_t last_initiation_consumption;
	bool has_consumed_initiation;
	const struct fs_noise_identity *identity;
	uint8_t remote_static[WG_KEY_LEN];
	uint8_t remote_ephemeral[WG_KEY_LEN];
	uint8_t ephemeral_private[WG_KEY_LEN];
	uint8_t precomputed_static_static[WG_KEY_LEN];
	uint8_t preshared_key[WG_KEY_LEN];
	uint8_t hash[WG_HASH_LEN];
	uint8_t chaining_key[WG_HASH_LEN];
	uint8_t latest_timestamp[WG_TIMESTAMP_LEN];
	uint32_t remote_index;
};

/*
 * The protocol state of one peer. "owner" is the daemon's peer, untouched
 * here. current/previous/next change under the caller's handshake lock and
 * are published with release stores, so the datapath may read them with
 * acquire loads (fs_noise_current_keypair) inside an RCU read-side section.
 */
struct fs_noise_peer {
	struct fs_noise_handshake handshake;
	struct fs_cookie_maker cookie;
	struct fs_noise_keypair *current;
	struct fs_noise_keypair *previous;
	struct fs_noise_keypair *next;
	void *owner;
};

/*
 * Keypairs that leave a peer are unhashed at once and handed to the
 * reclaimer, which by default destroys them at once. A daemon whose
 * datapath reads keypairs under RCU sets a reclaimer that queues the
 * keypair by its embedded "reclaim" head and calls fs_noise_keypair_destroy
 * after a grace period; the reclaimer must not allocate or wait, since it
 * may run on a worker inside its read-side section.
 */
void fs_noise_set_keypair_reclaim(void (*reclaim)(struct fs_noise_keypair *keypair));
void fs_noise_keypair_destroy(struct fs_noise_keypair *keypair);

static inline struct fs_noise_keypair *fs_noise_current_keypair(struct fs_noise_peer *peer)
{
	return __atomic_load_n(&peer->current, __ATOMIC_ACQUIRE);
}

/* Identity: a private key (or none) and its public key. */
struct fs_noise_identity *fs_noise_identity_new(void);
void fs_noise_identity_free(struct fs_noise_identity *identity);
/* An all-zero key removes the identity. False if the key's public key is degenerate. */
bool fs_noise_identity_set_private(struct fs_noise_identity *identity,
				   const uint8_t private_key[WG_KEY_LEN]);

void fs_noise_generate_private(uint8_t private_key[WG_KEY_LEN]);
bool fs_noise_public_from_private(uint8_t public_key[WG_KEY_LEN],
				  const uint8_t private_key[WG_KEY_LEN]);

/*
 * A peer of "identity" with the given public key and optional preshared
 * key (NULL: none). NULL with errno set on failure.
 */
struct fs_noise_peer *fs_noise_peer_new(const struct fs_noise_identity *identity,
					const uint8_t remote_static[WG_KEY_LEN],
					const uint8_t preshared_key[WG_KEY_LEN], void *owner);
/* Unhashes and wipes everything of the peer, then frees it. */
void fs_noise_peer_free(struct fs_noise_peer *peer, struct fs_index_table *table);
void fs_noise_peer_set_preshared_key(struct fs_noise_peer *peer,
				     const uint8_t preshared_key[WG_KEY_LEN]);
/* Recomputes the static-static secret; call after the identity changed. */
void fs_noise_peer_precompute(struct fs_noise_peer *peer);

void fs_noise_handshake_clear(struct fs_noise_peer *peer, struct fs_index_table *table);
void fs_noise_keypairs_clear(struct fs_noise_peer *peer, struct fs_index_table *table);
/* Stops sending with the current keypair (it still receives). */
void fs_noise_expire_current_keypair(struct fs_noise_peer *peer);

/* Initiator, step 1. timestamp comes from fs_tai64n_now(). Macs are not added. */
bool fs_noise_create_initiation(struct fs_noise_peer *peer,
				struct wg_message_handshake_initiation *dst,
				struct fs_index_table *table,
				const uint8_t timestamp[WG_TIMESTAMP_LEN]);

/* Finds the peer whose public key is "remote_static", or NULL. */
typedef struct fs_noise_peer *(*fs_noise_lookup_fn)(void *ctx,
						   const uint8_t remote_static[WG_KEY_LEN]);

/*
 * Responder, step 1: NULL unless the message decrypts, names a known peer,
 * carries a timestamp newer than that peer's last one and arrives no
 * sooner than 1/WG_INITIATIONS_PER_SECOND after the previous accepted one.
 * Macs are checked by the caller (fs_cookie_validate).
 */
struct fs_noise_peer *fs_noise_consume_initiation(const struct wg_message_handshake_initiation *src,
						  const struct fs_noise_identity *identity,
						  fs_noise_lookup_fn lookup, void *lookup_ctx,
						  uint64_t now);

/* Responder, step 2. Macs are not added. */
bool fs_noise_create_response(struct fs_noise_peer *peer,
			      struct wg_message_handshake_response *dst,
			      struct fs_index_table *table);

/* Initiator, step 2: the peer whose initiation this answers, or NULL. */
struct fs_noise_peer *fs_noise_consume_response(const struct wg_message_handshake_response *src,
						const struct fs_noise_identity *identity,
						struct fs_index_table *table);

/*
 * Derives the transport keypair from a completed handshake, wipes the
 * handshake and installs the keypair: the initiator's becomes current at
 * once, the responder's waits in "next" until the first data message
 * arrives with it (fs_noise_received_with_keypair).
 */
bool fs_noise_begin_session(struct fs_noise_peer *peer, struct fs_index_table *table,
			    uint64_t now);

/* The responder's confirmation; true if it moved "next" to current. */
bool fs_noise_received_with_keypair(struct fs_noise_peer *peer, struct fs_noise_keypair *keypair,
				    struct fs_index_table *table);

#endif
