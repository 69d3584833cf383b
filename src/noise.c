// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, as WireGuard v1 uses it:
 *
 *   <- s
 *   ...
 *   -> e, es, s, ss, {t}
 *   <- e, ee, se, psk, {}
 *
 * Both sides start from C = HASH(construction), H = HASH(C || identifier)
 * mixed with the responder's static key. Every DH result goes into the
 * chaining key C through the HKDF; every transmitted byte goes into the
 * transcript hash H, which authenticates the AEAD fields as associated
 * data. The transport keys are the two outputs of KDF2(C, empty).
 *
 * Consumers decrypt into local copies and only commit to the peer's
 * handshake once everything checked out, so a forged or replayed message
 * never alters state.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sodium.h>
#include "clock.h"
#include "hash.h"
#include "noise.h"
#include "secmem.h"

static const char handshake_name[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char identifier_name[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
static uint8_t handshake_init_hash[WG_HASH_LEN];
static uint8_t handshake_init_chaining_key[WG_HASH_LEN];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_constants(void)
{
	fs_blake2s(handshake_init_chaining_key, WG_HASH_LEN, handshake_name,
		   sizeof(handshake_name) - 1, NULL, 0);
	memcpy(handshake_init_hash, handshake_init_chaining_key, WG_HASH_LEN);
	fs_mix_hash(handshake_init_hash, identifier_name, sizeof(identifier_name) - 1);
}

static void clamp(uint8_t key[WG_KEY_LEN])
{
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
}

void fs_noise_generate_private(uint8_t private_key[WG_KEY_LEN])
{
	randombytes_buf(private_key, WG_KEY_LEN);
	clamp(private_key);
}

bool fs_noise_public_from_private(uint8_t public_key[WG_KEY_LEN],
				  const uint8_t private_key[WG_KEY_LEN])
{
	return crypto_scalarmult_base(public_key, private_key) == 0;
}

struct fs_noise_identity *fs_noise_identity_new(void)
{
	return fs_secmem_alloc(sizeof(struct fs_noise_identity));	/* zeroed */
}

void fs_noise_identity_free(struct fs_noise_identity *identity)
{
	fs_secmem_free(identity);	/* wipes */
}

bool fs_noise_identity_set_private(struct fs_noise_identity *identity,
				   const uint8_t private_key[WG_KEY_LEN])
{
	uint8_t public_key[WG_KEY_LEN];
	uint8_t key[WG_KEY_LEN];

	if (sodium_is_zero(private_key, WG_KEY_LEN)) {
		sodium_memzero(identity, sizeof(*identity));
		return true;
	}
	memcpy(key, private_key, WG_KEY_LEN);
	clamp(key);
	if (!fs_noise_public_from_private(public_key, key)) {
		sodium_memzero(key, sizeof(key));
		return false;
	}
	memcpy(identity->private_key, key, WG_KEY_LEN);
	memcpy(identity->public_key, public_key, WG_KEY_LEN);
	identity->has_identity = true;
	sodium_memzero(key, sizeof(key));
	return true;
}

/* ---- peers and keypairs ------------------------------------------------- */

void fs_noise_peer_precompute(struct fs_noise_peer *peer)
{
	struct fs_noise_handshake *handshake = &peer->handshake;

	if (!handshake->identity->has_identity ||
	    crypto_scalarmult(handshake->precomputed_static_static,
			      handshake->identity->private_key, handshake->remote_static))
		sodium_memzero(handshake->precomputed_static_static, WG_KEY_LEN);
}

struct fs_noise_peer *fs_noise_peer_new(const struct fs_noise_identity *identity,
					const uint8_t remote_static[WG_KEY_LEN],
					const uint8_t preshared_key[WG_KEY_LEN], void *owner)
{
	struct fs_noise_peer *peer;

	pthread_once(&init_once, init_constants);
	peer = fs_secmem_alloc(sizeof(*peer));	/* zeroed */
	if (!peer)
		return NULL;
	peer->owner = owner;
	peer->handshake.identity = identity;
	peer->handshake.entry.peer = peer;
	peer->handshake.entry.type = FS_INDEX_HANDSHAKE;
	memcpy(peer->handshake.remote_static, remote_static, WG_KEY_LEN);
	if (preshared_key)
		memcpy(peer->handshake.preshared_key, preshared_key, WG_KEY_LEN);
	fs_cookie_maker_init(&peer->cookie, remote_static);
	fs_noise_peer_precompute(peer);
	return peer;
}

void fs_noise_peer_set_preshared_key(struct fs_noise_peer *peer,
				     const uint8_t preshared_key[WG_KEY_LEN])
{
	if (preshared_key)
		memcpy(peer->handshake.preshared_key, preshared_key, WG_KEY_LEN);
	else
		sodium_memzero(peer->handshake.preshared_key, WG_KEY_LEN);
}

static void (*keypair_reclaim)(struct fs_noise_keypair *keypair) = fs_noise_keypair_destroy;

void fs_noise_set_keypair_reclaim(void (*reclaim)(struct fs_noise_keypair *keypair))
{
	keypair_reclaim = reclaim ? reclaim : fs_noise_keypair_destroy;
}

void fs_noise_keypair_destroy(struct fs_noise_keypair *keypair)
{
	fs_secmem_free(keypair);	/* wipes */
}

/* Unhashes at once; the memory goes when no reader can hold it any more. */
static void keypair_free(struct fs_noise_keypair *keypair, struct fs_index_table *table)
{
	if (!keypair)
		return;
	fs_index_remove(table, &keypair->entry);
	keypair_reclaim(keypair);
}

/* Keypair slots are read by the datapath without locks: publish with release. */
static void set_slot(struct fs_noise_keypair **slot, struct fs_noise_keypair *keypair)
{
	__atomic_store_n(slot, keypair, __ATOMIC_RELEASE);
}

/* Wipes the ephemeral part of a handshake; static keys and the timestamp stay. */
static void handshake_zero(struct fs_noise_handshake *handshake)
{
	sodium_memzero(handshake->ephemeral_private, WG_KEY_LEN);
	sodium_memzero(handshake->remote_ephemeral, WG_KEY_LEN);
	sodium_memzero(handshake->hash, WG_HASH_LEN);
	sodium_memzero(handshake->chaining_key, WG_HASH_LEN);
	handshake->remote_index = 0;
	handshake->state = FS_HANDSHAKE_ZEROED;
}

void fs_noise_handshake_clear(struct fs_noise_peer *peer, struct fs_index_table *table)
{
	fs_index_remove(table, &peer->handshake.entry);
	handshake_zero(&peer->handshake);
}

void fs_noise_keypairs_clear(struct fs_noise_peer *peer, struct fs_index_table *table)
{
	struct fs_noise_keypair *next = peer->next, *current = peer->current;
	struct fs_noise_keypair *previous = peer->previous;

	set_slot(&peer->next, NULL);
	set_slot(&peer->current, NULL);
	set_slot(&peer->previous, NULL);
	keypair_free(next, table);
	keypair_free(current, table);
	keypair_free(previous, table);
}

void fs_noise_peer_free(struct fs_noise_peer *peer, struct fs_index_table *table)
{
	if (!peer)
		return;
	fs_noise_keypairs_clear(peer, table);
	fs_noise_handshake_clear(peer, table);
	fs_secmem_free(peer);
}

void fs_noise_expire_current_keypair(struct fs_noise_peer *peer)
{
	if (peer->next)
		__atomic_store_n(&peer->next->sending_valid, false, __ATOMIC_RELAXED);
	if (peer->current)
		__atomic_store_n(&peer->current->sending_valid, false, __ATOMIC_RELAXED);
}

/* ---- the handshake's building blocks ------------------------------------ */

static void handshake_init(uint8_t chaining_key[WG_HASH_LEN], uint8_t hash[WG_HASH_LEN],
			   const uint8_t remote_static[WG_KEY_LEN])
{
	pthread_once(&init_once, init_constants);
	memcpy(chaining_key, handshake_init_chaining_key, WG_HASH_LEN);
	memcpy(hash, handshake_init_hash, WG_HASH_LEN);
	fs_mix_hash(hash, remote_static, WG_KEY_LEN);
}

/* C, k = KDF2(C, DH(private, public)); k may be NULL. Fails on a zero result. */
static bool mix_dh(uint8_t chaining_key[WG_HASH_LEN], uint8_t key[WG_KEY_LEN],
		   const uint8_t private_key[WG_KEY_LEN], const uint8_t public_key[WG_KEY_LEN])
{
	uint8_t dh[WG_KEY_LEN];

	if (crypto_scalarmult(dh, private_key, public_key))
		return false;
	fs_kdf(chaining_key, key, NULL, dh, sizeof(dh), chaining_key);
	sodium_memzero(dh, sizeof(dh));
	return true;
}

static bool mix_precomputed_dh(uint8_t chaining_key[WG_HASH_LEN], uint8_t key[WG_KEY_LEN],
			       const uint8_t precomputed[WG_KEY_LEN])
{
	if (sodium_is_zero(precomputed, WG_KEY_LEN))
		return false;
	fs_kdf(chaining_key, key, NULL, precomputed, WG_KEY_LEN, chaining_key);
	return true;
}

/* C, tau, k = KDF3(C, psk); H = HASH(H || tau) */
static void mix_psk(uint8_t chaining_key[WG_HASH_LEN], uint8_t hash[WG_HASH_LEN],
		    uint8_t key[WG_KEY_LEN], const uint8_t psk[WG_KEY_LEN])
{
	uint8_t tau[WG_HASH_LEN];

	fs_kdf(chaining_key, tau, key, psk, WG_KEY_LEN, chaining_key);
	fs_mix_hash(hash, tau, sizeof(tau));
	sodium_memzero(tau, sizeof(tau));
}

/* e: the ephemeral public key goes into both C and H in the clear. */
static void message_ephemeral(uint8_t dst[WG_KEY_LEN], const uint8_t src[WG_KEY_LEN],
			      uint8_t chaining_key[WG_HASH_LEN], uint8_t hash[WG_HASH_LEN])
{
	if (dst != src)
		memcpy(dst, src, WG_KEY_LEN);
	fs_mix_hash(hash, src, WG_KEY_LEN);
	fs_kdf(chaining_key, NULL, NULL, src, WG_KEY_LEN, chaining_key);
}

/* Handshake AEAD: nonce 0, the transcript hash as associated data. */
static void message_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
			    const uint8_t key[WG_KEY_LEN], uint8_t hash[WG_HASH_LEN])
{
	static const uint8_t zero_nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	static const uint8_t empty[1];

	crypto_aead_chacha20poly1305_ietf_encrypt(dst, NULL, len ? src : empty, len, hash,
						  WG_HASH_LEN, NULL, zero_nonce, key);
	fs_mix_hash(hash, dst, wg_encrypted_len(len));
}

static bool message_decrypt(uint8_t *dst, const uint8_t *src, size_t srclen,
			    const uint8_t key[WG_KEY_LEN], uint8_t hash[WG_HASH_LEN])
{
	static const uint8_t zero_nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	uint8_t empty[1];

	if (crypto_aead_chacha20poly1305_ietf_decrypt(srclen > WG_AUTHTAG_LEN ? dst : empty, NULL,
						      NULL, src, srclen, hash, WG_HASH_LEN,
						      zero_nonce, key))
		return false;
	fs_mix_hash(hash, src, srclen);
	return true;
}

/* Gives the handshake a fresh receiver index (dropping any previous one). */
static uint32_t handshake_rehash(struct fs_noise_handshake *handshake,
				 struct fs_index_table *table)
{
	fs_index_remove(table, &handshake->entry);
	return fs_index_insert(table, &handshake->entry);
}

/* ---- initiation --------------------------------------------------------- */

bool fs_noise_create_initiation(struct fs_noise_peer *peer,
				struct wg_message_handshake_initiation *dst,
				struct fs_index_table *table,
				const uint8_t timestamp[WG_TIMESTAMP_LEN])
{
	struct fs_noise_handshake *handshake = &peer->handshake;
	uint8_t key[WG_KEY_LEN];
	bool ret = false;

	if (!handshake->identity->has_identity)
		goto out;

	dst->header.type = htole32(WG_MESSAGE_HANDSHAKE_INITIATION);
	handshake_init(handshake->chaining_key, handshake->hash, handshake->remote_static);

	/* e */
	fs_noise_generate_private(handshake->ephemeral_private);
	if (!fs_noise_public_from_private(dst->unencrypted_ephemeral, handshake->ephemeral_private))
		goto out;
	message_ephemeral(dst->unencrypted_ephemeral, dst->unencrypted_ephemeral,
			  handshake->chaining_key, handshake->hash);

	/* es */
	if (!mix_dh(handshake->chaining_key, key, handshake->ephemeral_private,
		    handshake->remote_static))
		goto out;

	/* s */
	message_encrypt(dst->encrypted_static, handshake->identity->public_key, WG_KEY_LEN, key,
			handshake->hash);

	/* ss */
	if (!mix_precomputed_dh(handshake->chaining_key, key,
				handshake->precomputed_static_static))
		goto out;

	/* {t} */
	message_encrypt(dst->encrypted_timestamp, timestamp, WG_TIMESTAMP_LEN, key,
			handshake->hash);

	dst->sender_index = htole32(handshake_rehash(handshake, table));
	handshake->state = FS_HANDSHAKE_CREATED_INITIATION;
	ret = true;
out:
	sodium_memzero(key, sizeof(key));
	if (!ret)
		handshake_zero(handshake);
	return ret;
}

struct fs_noise_peer *fs_noise_consume_initiation(const struct wg_message_handshake_initiation *src,
						  const struct fs_noise_identity *identity,
						  fs_noise_lookup_fn lookup, void *lookup_ctx,
						  uint64_t now)
{
	struct fs_noise_peer *peer = NULL, *ret = NULL;
	struct fs_noise_handshake *handshake;
	uint8_t key[WG_KEY_LEN];
	uint8_t chaining_key[WG_HASH_LEN];
	uint8_t hash[WG_HASH_LEN];
	uint8_t s[WG_KEY_LEN];
	uint8_t e[WG_KEY_LEN];
	uint8_t t[WG_TIMESTAMP_LEN];
	bool replay_attack, flood_attack;

	if (!identity->has_identity)
		goto out;

	handshake_init(chaining_key, hash, identity->public_key);

	/* e */
	message_ephemeral(e, src->unencrypted_ephemeral, chaining_key, hash);

	/* es */
	if (!mix_dh(chaining_key, key, identity->private_key, e))
		goto out;

	/* s */
	if (!message_decrypt(s, src->encrypted_static, sizeof(src->encrypted_static), key, hash))
		goto out;

	peer = lookup(lookup_ctx, s);
	if (!peer || peer->handshake.identity != identity)
		goto out;
	handshake = &peer->handshake;

	/* ss */
	if (!mix_precomputed_dh(chaining_key, key, handshake->precomputed_static_static))
		goto out;

	/* {t} */
	if (!message_decrypt(t, src->encrypted_timestamp, sizeof(src->encrypted_timestamp), key,
			     hash))
		goto out;

	replay_attack = memcmp(t, handshake->latest_timestamp, WG_TIMESTAMP_LEN) <= 0;
	flood_attack = handshake->has_consumed_initiation &&
		       handshake->last_initiation_consumption +
				       FS_NSEC_PER_SEC / WG_INITIATIONS_PER_SECOND > now;
	if (replay_attack || flood_attack)
		goto out;

	/* Everything checked out: commit. */
	memcpy(handshake->remote_ephemeral, e, WG_KEY_LEN);
	memcpy(handshake->latest_timestamp, t, WG_TIMESTAMP_LEN);
	memcpy(handshake->hash, hash, WG_HASH_LEN);
	memcpy(handshake->chaining_key, chaining_key, WG_HASH_LEN);
	handshake->remote_index = le32toh(src->sender_index);
	if (!handshake->has_consumed_initiation || handshake->last_initiation_consumption < now)
		handshake->last_initiation_consumption = now;
	handshake->has_consumed_initiation = true;
	handshake->state = FS_HANDSHAKE_CONSUMED_INITIATION;
	ret = peer;
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(chaining_key, sizeof(chaining_key));
	sodium_memzero(e, sizeof(e));
	sodium_memzero(t, sizeof(t));
	return ret;
}

/* ---- response ----------------------------------------------------------- */

bool fs_noise_create_response(struct fs_noise_peer *peer,
			      struct wg_message_handshake_response *dst,
			      struct fs_index_table *table)
{
	struct fs_noise_handshake *handshake = &peer->handshake;
	uint8_t key[WG_KEY_LEN];
	bool ret = false;

	if (handshake->state != FS_HANDSHAKE_CONSUMED_INITIATION)
		goto out;

	dst->header.type = htole32(WG_MESSAGE_HANDSHAKE_RESPONSE);
	dst->receiver_index = htole32(handshake->remote_index);

	/* e */
	fs_noise_generate_private(handshake->ephemeral_private);
	if (!fs_noise_public_from_private(dst->unencrypted_ephemeral, handshake->ephemeral_private))
		goto out;
	message_ephemeral(dst->unencrypted_ephemeral, dst->unencrypted_ephemeral,
			  handshake->chaining_key, handshake->hash);

	/* ee */
	if (!mix_dh(handshake->chaining_key, NULL, handshake->ephemeral_private,
		    handshake->remote_ephemeral))
		goto out;

	/* se */
	if (!mix_dh(handshake->chaining_key, NULL, handshake->ephemeral_private,
		    handshake->remote_static))
		goto out;

	/* psk */
	mix_psk(handshake->chaining_key, handshake->hash, key, handshake->preshared_key);

	/* {} */
	message_encrypt(dst->encrypted_nothing, NULL, 0, key, handshake->hash);

	dst->sender_index = htole32(handshake_rehash(handshake, table));
	handshake->state = FS_HANDSHAKE_CREATED_RESPONSE;
	ret = true;
out:
	sodium_memzero(key, sizeof(key));
	return ret;
}

struct fs_noise_peer *fs_noise_consume_response(const struct wg_message_handshake_response *src,
						const struct fs_noise_identity *identity,
						struct fs_index_table *table)
{
	struct fs_noise_handshake *handshake;
	struct fs_index_entry *entry;
	struct fs_noise_peer *ret = NULL;
	uint8_t key[WG_KEY_LEN];
	uint8_t hash[WG_HASH_LEN];
	uint8_t chaining_key[WG_HASH_LEN];
	uint8_t e[WG_KEY_LEN];

	if (!identity->has_identity)
		return NULL;
	entry = fs_index_lookup(table, FS_INDEX_HANDSHAKE, le32toh(src->receiver_index));
	if (!entry)
		return NULL;
	handshake = &entry->peer->handshake;
	if (handshake->state != FS_HANDSHAKE_CREATED_INITIATION ||
	    handshake->identity != identity)
		return NULL;

	memcpy(hash, handshake->hash, WG_HASH_LEN);
	memcpy(chaining_key, handshake->chaining_key, WG_HASH_LEN);

	/* e */
	message_ephemeral(e, src->unencrypted_ephemeral, chaining_key, hash);

	/* ee */
	if (!mix_dh(chaining_key, NULL, handshake->ephemeral_private, e))
		goto out;

	/* se */
	if (!mix_dh(chaining_key, NULL, identity->private_key, e))
		goto out;

	/* psk */
	mix_psk(chaining_key, hash, key, handshake->preshared_key);

	/* {} */
	if (!message_decrypt(NULL, src->encrypted_nothing, sizeof(src->encrypted_nothing), key,
			     hash))
		goto out;

	memcpy(handshake->remote_ephemeral, e, WG_KEY_LEN);
	memcpy(handshake->hash, hash, WG_HASH_LEN);
	memcpy(handshake->chaining_key, chaining_key, WG_HASH_LEN);
	handshake->remote_index = le32toh(src->sender_index);
	handshake->state = FS_HANDSHAKE_CONSUMED_RESPONSE;
	ret = entry->peer;
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(chaining_key, sizeof(chaining_key));
	sodium_memzero(e, sizeof(e));
	return ret;
}

/* ---- sessions ----------------------------------------------------------- */

/*
 * An initiator knows the responder holds the same keys once the response
 * authenticated, so the new keypair is current at once; the old current
 * becomes previous so that packets in flight still decrypt. A responder
 * must wait for the first data message under the new keys before sending
 * with them, so its keypair waits in "next".
 */
static void add_new_keypair(struct fs_noise_peer *peer, struct fs_noise_keypair *keypair,
			    struct fs_index_table *table)
{
	struct fs_noise_keypair *previous = peer->previous, *current = peer->current;
	struct fs_noise_keypair *next = peer->next;

	if (keypair->i_am_the_initiator) {
		if (next) {
			/* An unconfirmed responder keypair: keep it to receive with. */
			set_slot(&peer->next, NULL);
			set_slot(&peer->previous, next);
			keypair_free(current, table);
		} else {
			set_slot(&peer->previous, current);
		}
		set_slot(&peer->current, keypair);
		keypair_free(previous, table);
	} else {
		set_slot(&peer->next, keypair);
		set_slot(&peer->previous, NULL);
		keypair_free(next, table);
		keypair_free(previous, table);
	}
}

bool fs_noise_begin_session(struct fs_noise_peer *peer, struct fs_index_table *table,
			    uint64_t now)
{
	struct fs_noise_handshake *handshake = &peer->handshake;
	struct fs_noise_keypair *keypair;

	if (handshake->state != FS_HANDSHAKE_CREATED_RESPONSE &&
	    handshake->state != FS_HANDSHAKE_CONSUMED_RESPONSE)
		return false;

	keypair = fs_secmem_alloc(sizeof(*keypair));	/* zeroed */
	if (!keypair)
		return false;
	keypair->entry.peer = peer;
	keypair->entry.type = FS_INDEX_KEYPAIR;
	keypair->i_am_the_initiator = handshake->state == FS_HANDSHAKE_CONSUMED_RESPONSE;
	keypair->remote_index = handshake->remote_index;
	keypair->birthdate = now;
	fs_replay_init(&keypair->receiving_counter);
	if (keypair->i_am_the_initiator)
		fs_kdf(keypair->sending_key, keypair->receiving_key, NULL, NULL, 0,
		       handshake->chaining_key);
	else
		fs_kdf(keypair->receiving_key, keypair->sending_key, NULL, NULL, 0,
		       handshake->chaining_key);
	keypair->sending_valid = keypair->receiving_valid = true;

	/* The keypair answers to the index the peer already knows. */
	fs_index_replace(table, &handshake->entry, &keypair->entry);
	handshake_zero(handshake);
	add_new_keypair(peer, keypair, table);
	return true;
}

bool fs_noise_received_with_keypair(struct fs_noise_peer *peer, struct fs_noise_keypair *keypair,
				    struct fs_index_table *table)
{
	struct fs_noise_keypair *previous = peer->previous;

	if (!keypair || peer->next != keypair)
		return false;
	set_slot(&peer->previous, peer->current);
	set_slot(&peer->current, keypair);
	set_slot(&peer->next, NULL);
	keypair_free(previous, table);
	return true;
}
