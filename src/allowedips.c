// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Allowed IPs as a path-compressed binary radix trie per family, in the
 * manner of the kernel driver's allowedips.c.
 *
 * Every node holds one prefix: its key, the address read as a 128-bit
 * big-endian number (IPv4 in the top 32 bits) with the bits beyond cidr
 * cleared, and cidr. A child's prefix is longer than its parent's and lies
 * inside it; bit[b] leads to the prefixes whose bit number "cidr" (counted
 * from the top) is b. A node without a peer is glue: it only branches, and
 * always has two children. A lookup goes down while the node's prefix
 * contains the address and remembers the last peer it passed.
 *
 * Concurrency. Readers run inside an RCU read-side critical section (memb
 * flavour, taken by the caller) and touch only root[], bit[], peer, key,
 * cidr and bits; key, cidr and bits never change once a node is reachable.
 * The single writer builds a new node completely, children included, and
 * only then makes it reachable with one rcu_assign_pointer, so a reader
 * sees the trie as it was before or after each step. Once a node is taken
 * out, nothing a reader looks at in it is written again: its children stay
 * valid for a reader standing on it, and call_rcu frees it after a grace
 * period. liburcu asks that call_rcu be called from a registered RCU
 * thread, so the writer's thread should be registered too
 * (urcu_memb_register_thread).
 *
 * Per-peer bookkeeping is writer-side only: a chained hash map from the
 * opaque peer pointer to an entry listing the peer's nodes, oldest first.
 * It gives walk_by_peer its order, and remove_by_peer costs O(prefixes of
 * that peer) rather than a walk of the whole trie.
 */
#define _LGPL_SOURCE
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <urcu/urcu-memb.h>
#include <urcu/compiler.h>
#include <urcu/list.h>
#include <urcu/pointer.h>
#include "allowedips.h"

enum {
	MIN_BUCKETS = 16,
	/* cidr grows strictly on the way down: a path holds at most 129 nodes. */
	MAX_DEPTH = 129,
};

struct key {
	uint64_t w[2];			/* host order; w[0] is the first 64 bits */
};

struct node {
	struct node *bit[2];		/* RCU */
	void *peer;			/* RCU; NULL in a glue node */
	struct key key;
	uint8_t cidr;
	uint8_t bits;			/* 32 or 128: the family */
	/* writer side only from here */
	struct node *parent;		/* NULL at the root */
	union {
		struct cds_list_head peer_list;	/* while it has a peer */
		struct rcu_head rcu;		/* once out of the trie */
	};
};

struct peer_entry {
	struct peer_entry *next;	/* bucket chain */
	void *peer;
	struct cds_list_head nodes;	/* by node.peer_list, oldest first */
};

struct fs_allowedips {
	struct node *root[2];		/* RCU; IPv4, IPv6 */
	size_t count;
	struct peer_entry **buckets;
	size_t bucket_count;		/* a power of two */
	size_t peer_count;
	/* fs_allowedips_reserve: nodes chained by bit[0], entries by next */
	struct node *spare_nodes;
	struct peer_entry *spare_entries;
	size_t n_spare_nodes, n_spare_entries;
};

/* --- keys ---------------------------------------------------------------- */

static uint8_t family_bits(int family)
{
	if (family == AF_INET)
		return 32;
	if (family == AF_INET6)
		return 128;
	return 0;
}

static int bits_family(uint8_t bits)
{
	return bits == 32 ? AF_INET : AF_INET6;
}

static unsigned int root_index(uint8_t bits)
{
	return bits == 128;
}

static void key_load(struct key *key, uint8_t bits, const void *address)
{
	uint32_t v4;
	uint64_t v6[2];

	if (bits == 32) {
		memcpy(&v4, address, sizeof(v4));
		key->w[0] = (uint64_t)be32toh(v4) << 32;
		key->w[1] = 0;
		return;
	}
	memcpy(v6, address, sizeof(v6));
	key->w[0] = be64toh(v6[0]);
	key->w[1] = be64toh(v6[1]);
}

static void key_store(void *address, const struct key *key, uint8_t bits)
{
	uint32_t v4;
	uint64_t v6[2];

	if (bits == 32) {
		v4 = htobe32((uint32_t)(key->w[0] >> 32));
		memcpy(address, &v4, sizeof(v4));
		return;
	}
	v6[0] = htobe64(key->w[0]);
	v6[1] = htobe64(key->w[1]);
	memcpy(address, v6, sizeof(v6));
}

/* The top "ones" bits of a word set, ones clamped to 0..64. */
static uint64_t word_mask(int ones)
{
	if (ones <= 0)
		return 0;
	if (ones >= 64)
		return UINT64_MAX;
	return UINT64_MAX << (64 - ones);
}

static void key_mask(struct key *key, uint8_t cidr)
{
	key->w[0] &= word_mask(cidr);
	key->w[1] &= word_mask(cidr - 64);
}

/* How many leading bits a and b share, 0..128. */
static unsigned int common_bits(const struct key *a, const struct key *b)
{
	uint64_t x = a->w[0] ^ b->w[0];

	if (x)
		return (unsigned int)__builtin_clzll(x);
	x = a->w[1] ^ b->w[1];
	return x ? 64 + (unsigned int)__builtin_clzll(x) : 128;
}

static bool contains(const struct node *node, const struct key *key)
{
	return common_bits(&node->key, key) >= node->cidr;
}

/* The child of node towards key: bit number node->cidr, below node->bits. */
static unsigned int choose(const struct node *node, const struct key *key)
{
	unsigned int i = node->cidr;

	return (key->w[i / 64] >> (63 - i % 64)) & 1;
}

/* --- the peer map (writer side) ------------------------------------------ */

static size_t bucket_of(size_t bucket_count, const void *peer)
{
	uint64_t h = (uint64_t)(uintptr_t)peer * UINT64_C(0x9e3779b97f4a7c15);

	return (size_t)(h ^ h >> 32) & (bucket_count - 1);
}

static struct peer_entry *peer_find(const struct fs_allowedips *table, const void *peer)
{
	struct peer_entry *entry = table->buckets[bucket_of(table->bucket_count, peer)];

	while (entry && entry->peer != peer)
		entry = entry->next;
	return entry;
}

static void chain(struct peer_entry **buckets, size_t bucket_count, struct peer_entry *entry)
{
	struct peer_entry **head = &buckets[bucket_of(bucket_count, entry->peer)];

	entry->next = *head;
	*head = entry;
}

/* Best effort: a map that cannot grow only gets longer chains. */
static void peers_grow(struct fs_allowedips *table)
{
	size_t count = table->bucket_count * 2, i;
	struct peer_entry **buckets = calloc(count, sizeof(*buckets));
	struct peer_entry *entry, *next;

	if (!buckets)
		return;
	for (i = 0; i < table->bucket_count; ++i) {
		for (entry = table->buckets[i]; entry; entry = next) {
			next = entry->next;
			chain(buckets, count, entry);
		}
	}
	free(table->buckets);
	table->buckets = buckets;
	table->bucket_count = count;
}

/* The peer's entry, made (with no nodes yet) if it has none. */
static struct peer_entry *peer_get(struct fs_allowedips *table, void *peer)
{
	struct peer_entry *entry = peer_find(table, peer);

	if (entry)
		return entry;
	entry = table->spare_entries;
	if (entry) {
		table->spare_entries = entry->next;
		--table->n_spare_entries;
	} else {
		entry = malloc(sizeof(*entry));
		if (!entry)
			return NULL;
	}
	entry->peer = peer;
	CDS_INIT_LIST_HEAD(&entry->nodes);
	chain(table->buckets, table->bucket_count, entry);
	if (++table->peer_count > table->bucket_count)
		peers_grow(table);
	return entry;
}

/* Forgets the entry once it lists no node. */
static void peer_put(struct fs_allowedips *table, struct peer_entry *entry)
{
	struct peer_entry **link;

	if (!cds_list_empty(&entry->nodes))
		return;
	link = &table->buckets[bucket_of(table->bucket_count, entry->peer)];
	while (*link != entry)
		link = &(*link)->next;
	*link = entry->next;
	--table->peer_count;
	free(entry);
}

/* --- nodes (writer side) ------------------------------------------------- */

static struct node *node_new(struct fs_allowedips *table, const struct key *key, uint8_t cidr,
			     uint8_t bits)
{
	struct node *node = table->spare_nodes;

	if (node) {
		table->spare_nodes = node->bit[0];
		--table->n_spare_nodes;
		memset(node, 0, sizeof(*node));
	} else {
		node = calloc(1, sizeof(*node));
		if (!node)
			return NULL;
	}
	node->key = *key;
	key_mask(&node->key, cidr);
	node->cidr = cidr;
	node->bits = bits;
	return node;
}

static void node_free_rcu(struct rcu_head *head)
{
	free(caa_container_of(head, struct node, rcu));
}

/* node is out of the trie; readers may still stand on it until a grace period. */
static void retire(struct node *node)
{
	urcu_memb_call_rcu(&node->rcu, node_free_rcu);
}

/* Where the pointer to a node with node's prefix lives under parent. */
static struct node **slot_of(struct fs_allowedips *table, struct node *parent,
			     const struct node *node)
{
	if (!parent)
		return &table->root[root_index(node->bits)];
	return &parent->bit[choose(parent, &node->key)];
}

/* Publishes child under parent, in the slot its prefix selects. */
static void attach(struct fs_allowedips *table, struct node *parent, struct node *child)
{
	child->parent = parent;
	rcu_assign_pointer(*slot_of(table, parent, child), child);
}

/* Puts "with" (maybe NULL) in old's place. old keeps its own children. */
static void replace(struct fs_allowedips *table, struct node *old, struct node *with)
{
	if (with)
		with->parent = old->parent;
	rcu_assign_pointer(*slot_of(table, old->parent, old), with);
}

/* The deepest node whose prefix contains key/cidr; *exact if it is key/cidr. */
static struct node *find_parent(const struct fs_allowedips *table, uint8_t bits,
				const struct key *key, uint8_t cidr, bool *exact)
{
	struct node *node = table->root[root_index(bits)], *parent = NULL;

	*exact = false;
	while (node && node->cidr <= cidr && contains(node, key)) {
		parent = node;
		if (node->cidr == cidr) {
			*exact = true;
			break;
		}
		node = node->bit[choose(node, key)];
	}
	return parent;
}

/*
 * Takes node's peer away. With two children it stays as glue; otherwise its
 * child (or nothing) takes its place, and a glue parent left with a single
 * child goes as well. The caller puts the peer's entry.
 */
static void drop(struct fs_allowedips *table, struct node *node)
{
	struct node *parent = node->parent, *child;

	cds_list_del(&node->peer_list);
	rcu_assign_pointer(node->peer, NULL);
	--table->count;
	if (node->bit[0] && node->bit[1])
		return;
	child = node->bit[0] ? node->bit[0] : node->bit[1];
	replace(table, node, child);
	retire(node);
	if (child || !parent || parent->peer)
		return;
	replace(table, parent, parent->bit[0] ? parent->bit[0] : parent->bit[1]);
	retire(parent);
}

/* --- insertion ----------------------------------------------------------- */

/* The prefix exists, maybe as glue: it becomes peer's newest. */
static int reassign(struct fs_allowedips *table, struct node *node, void *peer)
{
	struct peer_entry *old = node->peer ? peer_find(table, node->peer) : NULL;
	struct peer_entry *entry = peer_get(table, peer);

	if (!entry)
		return -ENOMEM;
	if (old)
		cds_list_del(&node->peer_list);
	else
		++table->count;
	cds_list_add_tail(&node->peer_list, &entry->nodes);
	rcu_assign_pointer(node->peer, peer);
	if (old && old != entry)
		peer_put(table, old);
	return 0;
}

/*
 * A new node for key/cidr below parent. What is in the slot now ("down")
 * either lies inside the new prefix and becomes its child, or branches off
 * earlier and then a glue node at the bits they share holds both. Every
 * allocation happens before the first change.
 */
static int add(struct fs_allowedips *table, struct node *parent, const struct key *key,
	       uint8_t cidr, uint8_t bits, void *peer)
{
	struct node *down, *node, *glue = NULL;
	struct peer_entry *entry;
	unsigned int common = cidr;

	node = node_new(table, key, cidr, bits);
	if (!node)
		goto err_node;
	down = *slot_of(table, parent, node);
	if (down && common_bits(&down->key, key) < cidr)
		common = common_bits(&down->key, key);
	if (common < cidr) {
		glue = node_new(table, key, (uint8_t)common, bits);
		if (!glue)
			goto err_glue;
	}
	entry = peer_get(table, peer);
	if (!entry)
		goto err_peer;

	node->peer = peer;
	cds_list_add_tail(&node->peer_list, &entry->nodes);
	++table->count;
	if (glue) {
		attach(table, glue, down);
		attach(table, glue, node);
		attach(table, parent, glue);
	} else {
		if (down)
			attach(table, node, down);
		attach(table, parent, node);
	}
	return 0;

err_peer:
	free(glue);
err_glue:
	free(node);
err_node:
	return -ENOMEM;
}

/* --- the interface ------------------------------------------------------- */

struct fs_allowedips *fs_allowedips_new(void)
{
	struct fs_allowedips *table = calloc(1, sizeof(*table));

	if (!table)
		goto err_table;
	table->buckets = calloc(MIN_BUCKETS, sizeof(*table->buckets));
	if (!table->buckets)
		goto err_buckets;
	table->bucket_count = MIN_BUCKETS;
	return table;

err_buckets:
	free(table);
err_table:
	return NULL;
}

static void trie_free(struct node *root)
{
	struct node *stack[2 * MAX_DEPTH], *node;
	unsigned int len = 0;

	if (root)
		stack[len++] = root;
	while (len) {
		node = stack[--len];
		if (node->bit[0])
			stack[len++] = node->bit[0];
		if (node->bit[1])
			stack[len++] = node->bit[1];
		free(node);
	}
}

static void peers_free(struct fs_allowedips *table)
{
	struct peer_entry *entry, *next;
	size_t i;

	for (i = 0; i < table->bucket_count; ++i) {
		for (entry = table->buckets[i]; entry; entry = next) {
			next = entry->next;
			free(entry);
		}
	}
	free(table->buckets);
}

/* An insertion takes at most two nodes (the prefix and a glue node) and an entry. */
int fs_allowedips_reserve(struct fs_allowedips *table, size_t inserts)
{
	while (table->n_spare_nodes < 2 * inserts) {
		struct node *node = calloc(1, sizeof(*node));

		if (!node)
			return -ENOMEM;
		node->bit[0] = table->spare_nodes;
		table->spare_nodes = node;
		++table->n_spare_nodes;
	}
	while (table->n_spare_entries < inserts) {
		struct peer_entry *entry = malloc(sizeof(*entry));

		if (!entry)
			return -ENOMEM;
		entry->next = table->spare_entries;
		table->spare_entries = entry;
		++table->n_spare_entries;
	}
	return 0;
}

void fs_allowedips_unreserve(struct fs_allowedips *table)
{
	while (table->spare_nodes) {
		struct node *node = table->spare_nodes;

		table->spare_nodes = node->bit[0];
		free(node);
	}
	while (table->spare_entries) {
		struct peer_entry *entry = table->spare_entries;

		table->spare_entries = entry->next;
		free(entry);
	}
	table->n_spare_nodes = table->n_spare_entries = 0;
}

void fs_allowedips_free(struct fs_allowedips *table)
{
	if (!table)
		return;
	fs_allowedips_unreserve(table);
	trie_free(table->root[0]);
	trie_free(table->root[1]);
	peers_free(table);
	free(table);
}

/* A NULL peer is refused too: lookups could not tell it from glue. */
int fs_allowedips_insert(struct fs_allowedips *table, int family, const void *address,
			 uint8_t cidr, void *peer)
{
	uint8_t bits = family_bits(family);
	struct node *parent;
	struct key key;
	bool exact;

	if (!bits || cidr > bits || !peer)
		return -EINVAL;
	key_load(&key, bits, address);
	key_mask(&key, cidr);
	parent = find_parent(table, bits, &key, cidr, &exact);
	if (exact)
		return reassign(table, parent, peer);
	return add(table, parent, &key, cidr, bits, peer);
}

/* Host bits are masked here too; a glue node is no prefix of anyone's. */
int fs_allowedips_remove(struct fs_allowedips *table, int family, const void *address,
			 uint8_t cidr, void *peer)
{
	uint8_t bits = family_bits(family);
	struct peer_entry *entry;
	struct node *node;
	struct key key;
	bool exact;

	if (!bits || cidr > bits || !peer)
		return -ENOENT;
	key_load(&key, bits, address);
	key_mask(&key, cidr);
	node = find_parent(table, bits, &key, cidr, &exact);
	if (!exact || node->peer != peer)
		return -ENOENT;
	entry = peer_find(table, peer);
	drop(table, node);
	peer_put(table, entry);
	return 0;
}

/* drop() never retires another node of this list: glue parents have no peer. */
void fs_allowedips_remove_by_peer(struct fs_allowedips *table, void *peer)
{
	struct peer_entry *entry = peer ? peer_find(table, peer) : NULL;
	struct node *node, *next;

	if (!entry)
		return;
	cds_list_for_each_entry_safe(node, next, &entry->nodes, peer_list)
		drop(table, node);
	peer_put(table, entry);
}

/*
 * The peer is read once per node: the writer may clear it between two
 * reads, and a peer seen once is a fine answer for this moment.
 */
void *fs_allowedips_lookup(const struct fs_allowedips *table, int family, const void *address)
{
	uint8_t bits = family_bits(family);
	struct node *node;
	void *peer, *found = NULL;
	struct key key;

	if (!bits)
		return NULL;
	key_load(&key, bits, address);
	node = rcu_dereference(table->root[root_index(bits)]);
	while (node && contains(node, &key)) {
		peer = rcu_dereference(node->peer);
		if (peer)
			found = peer;
		if (node->cidr == bits)
			break;
		node = rcu_dereference(node->bit[choose(node, &key)]);
	}
	return found;
}

/* fn must not change the table. */
void fs_allowedips_walk_by_peer(const struct fs_allowedips *table, void *peer,
				fs_allowedips_walk_fn fn, void *ctx)
{
	const struct peer_entry *entry = peer ? peer_find(table, peer) : NULL;
	const struct node *node;
	uint8_t address[16];

	if (!entry)
		return;
	cds_list_for_each_entry(node, &entry->nodes, peer_list) {
		key_store(address, &node->key, node->bits);
		if (!fn(ctx, bits_family(node->bits), address, node->cidr))
			return;
	}
}

size_t fs_allowedips_count(const struct fs_allowedips *table)
{
	return table->count;
}
