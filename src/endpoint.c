// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The bounded endpoint table; the rules are in endpoint.h. One allocation:
 * the header, the entries in table order (configured, alts, prefixes,
 * learned slots, the roaming slot), then the prefixes of the prefix
 * entries. Tables hold at most FS_ENDPOINT_MAX_ENTRIES (98) entries, so
 * the scans and the insertion sort of the failover order stay small; the
 * per-packet path (fs_endpoints_learn) checks the current entry first.
 *
 * The token bucket for new learned entries counts nanoseconds of credit,
 * as the ratelimiter does: it earns one a nanosecond up to NEW_MAX, and a
 * new entry costs NEW_COST. A table starts full.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clock.h"
#include "endpoint.h"
#include "failpoint.h"

#define NEW_COST (FS_NSEC_PER_SEC / FS_ENDPOINT_NEW_PER_SECOND)
#define NEW_MAX (NEW_COST * FS_ENDPOINT_NEW_BURST)
#define TRUST_WINDOW ((uint64_t)FS_ENDPOINT_TRUST_WINDOW_SEC * FS_NSEC_PER_SEC)
#define NONE (-1)

struct fs_endpoints {
	uint64_t credit;		/* ns, at most NEW_MAX */
	uint64_t credit_time;
	uint64_t pending_sent;		/* when the pending initiation went */
	int pending;			/* entry of the pending initiation, or NONE */
	int current;			/* or NONE */
	uint32_t limit;
	uint16_t n_configured;		/* endpoint and alts */
	uint16_t n_prefixes;
	uint16_t n_entries;		/* n_configured + n_prefixes + limit + 1 */
	uint16_t count_max;		/* most entries with an address since built */
	struct fs_endpoint_entry entry[];
	/* then struct fs_prefix prefix[n_prefixes] */
};

static struct fs_prefix *prefixes(const struct fs_endpoints *t)
{
	return (struct fs_prefix *)&t->entry[t->n_entries];
}

static int first_prefix(const struct fs_endpoints *t)
{
	return t->n_configured;
}

static int first_learned(const struct fs_endpoints *t)
{
	return t->n_configured + t->n_prefixes;
}

static int roaming(const struct fs_endpoints *t)
{
	return t->n_entries - 1;
}

static bool is_ip(const union fs_sockaddr *a)
{
	return a->sa.sa_family == AF_INET || a->sa.sa_family == AF_INET6;
}

static bool is_empty(const struct fs_endpoint_entry *e)
{
	return !is_ip(&e->addr);
}

static bool is_fresh(const struct fs_endpoint_entry *e, uint64_t now)
{
	return e->has_rx && (e->last_rx >= now || now - e->last_rx < TRUST_WINDOW);
}

static void clear_entry(struct fs_endpoint_entry *e, enum fs_endpoint_origin origin)
{
	memset(e, 0, sizeof(*e));
	e->addr.sa.sa_family = AF_UNSPEC;
	e->origin = (uint8_t)origin;
}

/* Everything an entry knows, but not where it is or what it is. */
static void copy_history(struct fs_endpoint_entry *to, const struct fs_endpoint_entry *from)
{
	to->local = from->local;
	to->rtt_us = from->rtt_us;
	to->last_rx = from->last_rx;
	to->last_failure = from->last_failure;
	to->failures = from->failures;
	to->has_rx = from->has_rx;
	to->confirmed = from->confirmed;
	to->has_rtt = from->has_rtt;
}

/* --- creation -------------------------------------------------------------- */

size_t fs_endpoints_memory_for(size_t n_configured, size_t n_prefixes, uint32_t endpoint_limit)
{
	return sizeof(struct fs_endpoints) +
	       (n_configured + n_prefixes + endpoint_limit + 1) * sizeof(struct fs_endpoint_entry) +
	       n_prefixes * sizeof(struct fs_prefix);
}

static bool prefix_equal(const struct fs_prefix *a, const struct fs_prefix *b)
{
	struct fs_prefix ma = *a, mb = *b;

	fs_prefix_mask(&ma);
	fs_prefix_mask(&mb);
	return ma.family == mb.family && ma.cidr == mb.cidr &&
	       !memcmp(ma.addr.bytes, mb.addr.bytes, sizeof(ma.addr.bytes));
}

static bool config_valid(const struct fs_endpoints_config *c)
{
	if (c->endpoint_limit > FS_ENDPOINT_LIMIT_MAX || c->n_endpoint_alt > FS_MAX_ENDPOINT_ALT ||
	    c->n_spread_prefixes > FS_MAX_PREFIXES)
		return false;
	if (c->has_endpoint && !is_ip(&c->endpoint))
		return false;
	for (size_t i = 0; i < c->n_endpoint_alt; ++i)
		if (!is_ip(&c->endpoint_alt[i]))
			return false;
	for (size_t i = 0; i < c->n_spread_prefixes; ++i)
		if (c->spread_prefixes[i].family != AF_INET && c->spread_prefixes[i].family != AF_INET6)
			return false;
	return true;
}

/* The configured addresses without duplicates; returns how many. */
static size_t configured_addresses(const struct fs_endpoints_config *c,
				   union fs_sockaddr out[1 + FS_MAX_ENDPOINT_ALT])
{
	size_t n = 0;

	if (c->has_endpoint)
		out[n++] = c->endpoint;
	for (size_t i = 0; i < c->n_endpoint_alt; ++i) {
		size_t j = 0;

		while (j < n && !fs_endpoint_equal(&out[j], &c->endpoint_alt[i]))
			++j;
		if (j == n)
			out[n++] = c->endpoint_alt[i];
	}
	return n;
}

static size_t unique_prefixes(const struct fs_endpoints_config *c,
			      struct fs_prefix out[FS_MAX_PREFIXES])
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_spread_prefixes; ++i) {
		size_t j = 0;

		while (j < n && !prefix_equal(&out[j], &c->spread_prefixes[i]))
			++j;
		if (j == n)
			out[n++] = c->spread_prefixes[i];
	}
	return n;
}

/*
 * What a table for config holds: its configured addresses and prefixes
 * without duplicates (their numbers in *n_cfg, *n_pfx). False (errno
 * EINVAL) for a config fs_endpoints_new refuses.
 */
static bool table_shape(const struct fs_endpoints_config *config,
			union fs_sockaddr addrs[1 + FS_MAX_ENDPOINT_ALT],
			struct fs_prefix pfx[FS_MAX_PREFIXES], size_t *n_cfg, size_t *n_pfx)
{
	if (!config_valid(config)) {
		errno = EINVAL;
		return false;
	}
	*n_cfg = configured_addresses(config, addrs);
	*n_pfx = unique_prefixes(config, pfx);
	return true;
}

struct fs_endpoints *fs_endpoints_alloc(const struct fs_endpoints_config *config)
{
	union fs_sockaddr addrs[1 + FS_MAX_ENDPOINT_ALT];
	struct fs_prefix pfx[FS_MAX_PREFIXES];
	size_t n_cfg, n_pfx;
	struct fs_endpoints *t;

	if (!table_shape(config, addrs, pfx, &n_cfg, &n_pfx))
		return NULL;
	if (fs_failpoint_hit(FS_FAILPOINT_ENDPOINTS)) {
		errno = ENOMEM;
		return NULL;
	}
	t = calloc(1, fs_endpoints_memory_for(n_cfg, n_pfx, config->endpoint_limit));
	if (!t)
		return NULL;
	/* The shape only: fs_endpoints_fill lays the entries out. */
	t->limit = config->endpoint_limit;
	t->n_configured = (uint16_t)n_cfg;
	t->n_prefixes = (uint16_t)n_pfx;
	t->n_entries = (uint16_t)(n_cfg + n_pfx + config->endpoint_limit + 1);
	t->pending = t->current = NONE;
	return t;
}

/* Lays t (of its shape) out for config, all entries empty, nothing learned. */
static void table_init(struct fs_endpoints *t, const struct fs_endpoints_config *config,
		       const union fs_sockaddr *addrs, const struct fs_prefix *pfx, uint64_t now)
{
	t->credit = NEW_MAX;
	t->credit_time = now;
	t->pending_sent = 0;
	t->pending = NONE;
	t->current = NONE;
	for (int i = 0; i < t->n_entries; ++i)
		clear_entry(&t->entry[i], FS_ENDPOINT_LEARNED);
	for (int i = 0; i < t->n_configured; ++i) {
		t->entry[i].origin = i == 0 && config->has_endpoint ? FS_ENDPOINT_CONFIGURED
								  : FS_ENDPOINT_ALT;
		t->entry[i].addr = addrs[i];
	}
	for (int i = 0; i < t->n_prefixes; ++i) {
		t->entry[first_prefix(t) + i].origin = FS_ENDPOINT_PREFIX;
		prefixes(t)[i] = pfx[i];
	}
	t->entry[roaming(t)].origin = FS_ENDPOINT_ROAMING;
	t->count_max = t->n_configured;
}

/* --- carrying an old table over ------------------------------------------ */

struct carry {
	const struct fs_endpoints *old;
	struct fs_endpoints *t;
	int map[FS_ENDPOINT_MAX_ENTRIES];	/* old index -> new index, or NONE */
};

static void carry_entry(struct carry *c, int from, int to)
{
	copy_history(&c->t->entry[to], &c->old->entry[from]);
	c->map[from] = to;
}

/* Old entry with this address, configured and alt ones first; prefix entries are not matched. */
static int old_with_address(const struct carry *c, const union fs_sockaddr *addr)
{
	const struct fs_endpoints *old = c->old;

	for (int pass = 0; pass < 2; ++pass) {
		for (int i = 0; i < old->n_entries; ++i) {
			const struct fs_endpoint_entry *e = &old->entry[i];
			bool configured = i < old->n_configured;

			if ((pass == 0) != configured || c->map[i] != NONE)
				continue;
			if (e->origin != FS_ENDPOINT_PREFIX && !is_empty(e) &&
			    fs_endpoint_equal(&e->addr, addr))
				return i;
		}
	}
	return NONE;
}

static bool is_configured_address(const struct fs_endpoints *t, const union fs_sockaddr *addr)
{
	for (int i = 0; i < t->n_configured; ++i)
		if (fs_endpoint_equal(&t->entry[i].addr, addr))
			return true;
	return false;
}

static void carry_configured(struct carry *c)
{
	for (int i = 0; i < c->t->n_configured; ++i) {
		int from = old_with_address(c, &c->t->entry[i].addr);

		if (from != NONE)
			carry_entry(c, from, i);
	}
}

/* Folds an old source with a receive into prefix entry "to", keeping the newest address. */
static void fold_into_prefix(struct carry *c, int from, int to)
{
	const struct fs_endpoint_entry *e = &c->old->entry[from];
	struct fs_endpoint_entry *p = &c->t->entry[to];

	if (is_empty(p) || e->last_rx > p->last_rx) {
		p->addr = e->addr;
		p->local = e->local;
		p->last_rx = e->last_rx;
		p->has_rx = true;
		p->failures = e->failures;
		p->last_failure = e->last_failure;
	}
	if (!p->confirmed && e->confirmed) {
		p->confirmed = true;
		p->has_rtt = e->has_rtt;
		p->rtt_us = e->rtt_us;
	}
	c->map[from] = to;
}

static void carry_prefixes(struct carry *c)
{
	const struct fs_endpoints *old = c->old;
	struct fs_endpoints *t = c->t;

	for (int p = 0; p < t->n_prefixes; ++p) {
		int to = first_prefix(t) + p;

		for (int q = 0; q < old->n_prefixes; ++q) {
			int from = first_prefix(old) + q;
			const struct fs_endpoint_entry *e = &old->entry[from];

			if (!prefix_equal(&prefixes(t)[p], &prefixes(old)[q]))
				continue;
			if (!is_empty(e) && !is_configured_address(t, &e->addr)) {
				t->entry[to].addr = e->addr;
				carry_entry(c, from, to);
			}
			break;
		}
		for (int i = 0; i < old->n_entries; ++i) {
			const struct fs_endpoint_entry *e = &old->entry[i];

			if (c->map[i] != NONE || !e->has_rx || is_empty(e) ||
			    is_configured_address(t, &e->addr))
				continue;
			if (fs_prefix_contains(&prefixes(t)[p], e->addr.sa.sa_family,
					       fs_sockaddr_ip(&e->addr)))
				fold_into_prefix(c, i, to);
		}
	}
}

/* The remaining sources with a receive, most recent first, fill the learned slots. */
static void carry_learned(struct carry *c)
{
	const struct fs_endpoints *old = c->old;
	struct fs_endpoints *t = c->t;
	int pool[FS_ENDPOINT_MAX_ENTRIES], n = 0, slot = first_learned(t);

	for (int i = 0; i < old->n_entries; ++i)
		if (c->map[i] == NONE && old->entry[i].has_rx && !is_empty(&old->entry[i]) &&
		    !is_configured_address(t, &old->entry[i].addr))
			pool[n++] = i;
	for (int i = 1; i < n; ++i) {	/* insertion sort: newest receive first, stable */
		int v = pool[i], j = i;

		for (; j > 0 && old->entry[pool[j - 1]].last_rx < old->entry[v].last_rx; --j)
			pool[j] = pool[j - 1];
		pool[j] = v;
	}
	for (int i = 0; i < n; ++i) {
		int to = slot < roaming(t) ? slot++ : NONE;

		if (to == NONE && pool[i] == old->current)
			to = roaming(t);
		if (to == NONE)
			continue;
		t->entry[to].addr = old->entry[pool[i]].addr;
		carry_entry(c, pool[i], to);
	}
}

/* What old knew, into t (laid out for config). */
static void carry(struct fs_endpoints *t, const struct fs_endpoints *old,
		  const struct fs_endpoints_config *config)
{
	struct carry c;

	c.old = old;
	c.t = t;
	for (int i = 0; i < FS_ENDPOINT_MAX_ENTRIES; ++i)
		c.map[i] = NONE;
	carry_configured(&c);
	carry_prefixes(&c);
	carry_learned(&c);

	t->credit = old->credit;
	t->credit_time = old->credit_time;
	if (old->pending != NONE && c.map[old->pending] != NONE) {
		t->pending = c.map[old->pending];
		t->pending_sent = old->pending_sent;
	}
	if (old->current != NONE)
		t->current = c.map[old->current];
	if (config->has_endpoint && (config->use_endpoint || t->current == NONE))
		t->current = 0;
	t->count_max = (uint16_t)fs_endpoints_count(t);
}

bool fs_endpoints_fill(struct fs_endpoints *t, const struct fs_endpoints *old,
		       const struct fs_endpoints_config *config, uint64_t now)
{
	union fs_sockaddr addrs[1 + FS_MAX_ENDPOINT_ALT];
	struct fs_prefix pfx[FS_MAX_PREFIXES];
	size_t n_cfg, n_pfx;

	if (!table_shape(config, addrs, pfx, &n_cfg, &n_pfx))
		return false;
	if (n_cfg != t->n_configured || n_pfx != t->n_prefixes || config->endpoint_limit != t->limit) {
		errno = EINVAL;
		return false;
	}
	table_init(t, config, addrs, pfx, now);
	if (!old) {
		if (config->has_endpoint)
			t->current = 0;
		return true;
	}
	carry(t, old, config);
	return true;
}

struct fs_endpoints *fs_endpoints_new(const struct fs_endpoints_config *config, uint64_t now)
{
	return fs_endpoints_reconfigure(NULL, config, now);
}

struct fs_endpoints *fs_endpoints_reconfigure(const struct fs_endpoints *old,
					      const struct fs_endpoints_config *config, uint64_t now)
{
	struct fs_endpoints *t = fs_endpoints_alloc(config);

	if (t && !fs_endpoints_fill(t, old, config, now)) {
		free(t);
		t = NULL;
	}
	return t;
}

void fs_endpoints_free(struct fs_endpoints *table)
{
	free(table);
}

size_t fs_endpoints_memory(const struct fs_endpoints *table)
{
	return fs_endpoints_memory_for(table->n_configured, table->n_prefixes, table->limit);
}

/* --- lookups ---------------------------------------------------------------- */

size_t fs_endpoints_size(const struct fs_endpoints *table)
{
	return table->n_entries;
}

const struct fs_endpoint_entry *fs_endpoints_entry(const struct fs_endpoints *table, int index)
{
	if (index < 0 || index >= table->n_entries)
		return NULL;
	return &table->entry[index];
}

const struct fs_prefix *fs_endpoints_prefix(const struct fs_endpoints *table, int index)
{
	if (index < first_prefix(table) || index >= first_learned(table))
		return NULL;
	return &prefixes(table)[index - first_prefix(table)];
}

uint32_t fs_endpoints_limit(const struct fs_endpoints *table)
{
	return table->limit;
}

int fs_endpoints_current(const struct fs_endpoints *table)
{
	return table->current;
}

size_t fs_endpoints_count(const struct fs_endpoints *table)
{
	size_t n = 0;

	for (int i = 0; i < table->n_entries; ++i)
		n += !is_empty(&table->entry[i]);
	return n;
}

size_t fs_endpoints_count_max(const struct fs_endpoints *table)
{
	return table->count_max;
}

/* The entry src belongs to, or NONE. */
static int find(const struct fs_endpoints *t, const union fs_sockaddr *src)
{
	if (t->current != NONE && fs_endpoint_equal(&t->entry[t->current].addr, src))
		return t->current;
	for (int i = 0; i < t->n_configured; ++i)
		if (fs_endpoint_equal(&t->entry[i].addr, src))
			return i;
	for (int p = 0; p < t->n_prefixes; ++p)
		if (fs_prefix_contains(&prefixes(t)[p], src->sa.sa_family, fs_sockaddr_ip(src)))
			return first_prefix(t) + p;
	for (int i = first_learned(t); i < t->n_entries; ++i)
		if (fs_endpoint_equal(&t->entry[i].addr, src))
			return i;
	return NONE;
}

/* --- learning ---------------------------------------------------------------- */

static bool take_token(struct fs_endpoints *t, uint64_t now)
{
	if (now > t->credit_time) {
		uint64_t earned = now - t->credit_time;

		t->credit = earned >= NEW_MAX - t->credit ? NEW_MAX : t->credit + earned;
		t->credit_time = now;
	}
	if (t->credit < NEW_COST)
		return false;
	t->credit -= NEW_COST;
	return true;
}

/* A free learned slot, else the one with the oldest receive. */
static int learned_victim(const struct fs_endpoints *t)
{
	int victim = first_learned(t);

	for (int i = first_learned(t); i < roaming(t); ++i) {
		if (is_empty(&t->entry[i]))
			return i;
		if (t->entry[i].last_rx < t->entry[victim].last_rx)
			victim = i;
	}
	return victim;
}

/* Empties entry i for a new address; a pending initiation through it is forgotten. */
static void reuse(struct fs_endpoints *t, int i, const union fs_sockaddr *src)
{
	clear_entry(&t->entry[i], t->entry[i].origin);
	t->entry[i].addr = *src;
	if (t->pending == i)
		t->pending = NONE;
}

/* After an entry may have been filled: the high-water mark of the count. */
static void count_changed(struct fs_endpoints *t)
{
	size_t n = fs_endpoints_count(t);

	if (n > t->count_max)
		t->count_max = (uint16_t)n;
}

/* An entry for a source that has none, or is only in the roaming slot. */
static int place(struct fs_endpoints *t, const union fs_sockaddr *src, int found, uint64_t now)
{
	int slot;

	if (t->limit && take_token(t, now)) {
		slot = learned_victim(t);
		reuse(t, slot, src);
		if (found != NONE) {	/* promoted from the roaming slot */
			copy_history(&t->entry[slot], &t->entry[found]);
			if (t->pending == found)
				t->pending = slot;
			clear_entry(&t->entry[found], FS_ENDPOINT_ROAMING);
		}
		return slot;
	}
	if (found != NONE)
		return found;
	reuse(t, roaming(t), src);
	return roaming(t);
}

int fs_endpoints_learn(struct fs_endpoints *table, const union fs_sockaddr *src,
		       const struct fs_endpoint_local *local, uint64_t now)
{
	struct fs_endpoint_entry *e;
	bool placed, filled;
	int i;

	if (!is_ip(src))
		return NONE;
	i = find(table, src);
	placed = i == NONE || i == roaming(table);
	if (placed)
		i = place(table, src, i, now);
	e = &table->entry[i];
	filled = placed || is_empty(e);
	e->addr = *src;		/* a prefix entry takes the newest source */
	if (filled)
		count_changed(table);
	if (local)
		e->local = *local;
	else
		memset(&e->local, 0, sizeof(e->local));
	e->last_rx = now;
	e->has_rx = true;
	e->failures = 0;
	table->current = i;
	return i;
}

/* --- handshakes ---------------------------------------------------------------- */

void fs_endpoints_handshake_sent(struct fs_endpoints *table, int index, uint64_t now)
{
	if (index < 0 || index >= table->n_entries || is_empty(&table->entry[index])) {
		table->pending = NONE;
		return;
	}
	table->pending = index;
	table->pending_sent = now;
}

int fs_endpoints_handshake_timeout(struct fs_endpoints *table, uint64_t now)
{
	if (table->pending != NONE) {
		struct fs_endpoint_entry *e = &table->entry[table->pending];

		if (e->failures < UINT16_MAX)
			++e->failures;
		e->last_failure = now;
		table->pending = NONE;
	}
	return fs_endpoints_handshake_target(table, now);
}

int fs_endpoints_handshake_complete(struct fs_endpoints *table, const union fs_sockaddr *src,
				    const struct fs_endpoint_local *local, uint64_t now)
{
	if (!is_ip(src))
		return NONE;
	if (table->pending != NONE) {
		struct fs_endpoint_entry *e = &table->entry[table->pending];
		uint64_t rtt = now > table->pending_sent ? (now - table->pending_sent) / 1000 : 0;

		e->confirmed = true;
		e->has_rtt = true;
		e->rtt_us = rtt > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt;
		e->failures = 0;
		table->pending = NONE;
	}
	return fs_endpoints_learn(table, src, local, now);
}

/* --- order ------------------------------------------------------------------------ */

static bool eligible(const struct fs_endpoints *t, int i)
{
	const struct fs_endpoint_entry *e = &t->entry[i];

	if (is_empty(e))
		return false;
	return i < t->n_configured || e->confirmed || i == t->current;
}

static int tier(const struct fs_endpoints *t, int i, uint64_t now)
{
	const struct fs_endpoint_entry *e = &t->entry[i];

	if (e->confirmed && is_fresh(e, now))
		return 0;
	if (i == t->current)
		return 1;
	if (e->confirmed)
		return 2;
	return 3;
}

/* Table order: configured, alt and prefix entries by index, then by most recent receive. */
static int table_order(const struct fs_endpoints *t, int a, int b)
{
	const struct fs_endpoint_entry *ea = &t->entry[a], *eb = &t->entry[b];

	if (a < first_learned(t) || b < first_learned(t))
		return a < b ? -1 : 1;
	if (ea->last_rx != eb->last_rx)
		return ea->last_rx > eb->last_rx ? -1 : 1;
	return a < b ? -1 : a > b;
}

/* Negative: a goes before b. */
static int compare(const struct fs_endpoints *t, int a, int b, uint64_t now)
{
	const struct fs_endpoint_entry *ea = &t->entry[a], *eb = &t->entry[b];

	if (!ea->failures != !eb->failures)
		return ea->failures ? 1 : -1;
	if (ea->failures) {
		if (ea->failures != eb->failures)
			return ea->failures < eb->failures ? -1 : 1;
		if (ea->last_failure != eb->last_failure)
			return ea->last_failure < eb->last_failure ? -1 : 1;
		return table_order(t, a, b);
	}
	if (tier(t, a, now) != tier(t, b, now))
		return tier(t, a, now) - tier(t, b, now);
	if (ea->has_rtt != eb->has_rtt)
		return ea->has_rtt ? -1 : 1;
	if (ea->has_rtt && ea->rtt_us != eb->rtt_us)
		return ea->rtt_us < eb->rtt_us ? -1 : 1;
	return table_order(t, a, b);
}

size_t fs_endpoints_failover_order(const struct fs_endpoints *table, uint64_t now, int *order,
				   size_t n)
{
	int all[FS_ENDPOINT_MAX_ENTRIES];
	size_t count = 0;

	for (int i = 0; i < table->n_entries; ++i) {
		size_t j;

		if (!eligible(table, i))
			continue;
		for (j = count; j > 0 && compare(table, all[j - 1], i, now) > 0; --j)
			all[j] = all[j - 1];
		all[j] = i;
		++count;
	}
	for (size_t i = 0; i < count && i < n; ++i)
		order[i] = all[i];
	return count;
}

int fs_endpoints_handshake_target(const struct fs_endpoints *table, uint64_t now)
{
	int first;

	return fs_endpoints_failover_order(table, now, &first, 1) ? first : NONE;
}

/* --- export ------------------------------------------------------------------------ */

enum fs_endpoint_state fs_endpoints_state(const struct fs_endpoints *table, int index,
					  uint64_t now)
{
	const struct fs_endpoint_entry *e = fs_endpoints_entry(table, index);

	if (!e || is_empty(e))
		return FS_ENDPOINT_UNTRIED;
	if (table->pending == index)
		return FS_ENDPOINT_TRYING;
	if (e->failures)
		return FS_ENDPOINT_FAILED;
	if (e->confirmed)
		return is_fresh(e, now) ? FS_ENDPOINT_ACTIVE : FS_ENDPOINT_STALE;
	return e->has_rx ? FS_ENDPOINT_UNCONFIRMED : FS_ENDPOINT_UNTRIED;
}

const char *fs_endpoint_origin_name(enum fs_endpoint_origin origin)
{
	switch (origin) {
	case FS_ENDPOINT_CONFIGURED:
		return "configured";
	case FS_ENDPOINT_ALT:
		return "alt";
	case FS_ENDPOINT_PREFIX:
		return "prefix";
	case FS_ENDPOINT_LEARNED:
		return "learned";
	case FS_ENDPOINT_ROAMING:
		return "roaming";
	}
	return "unknown";
}

const char *fs_endpoint_state_name(enum fs_endpoint_state state)
{
	switch (state) {
	case FS_ENDPOINT_UNTRIED:
		return "untried";
	case FS_ENDPOINT_UNCONFIRMED:
		return "unconfirmed";
	case FS_ENDPOINT_STALE:
		return "stale";
	case FS_ENDPOINT_ACTIVE:
		return "active";
	case FS_ENDPOINT_FAILED:
		return "failed";
	case FS_ENDPOINT_TRYING:
		return "trying";
	}
	return "unknown";
}

bool fs_endpoints_format_state(const struct fs_endpoints *table, int index, uint64_t now,
			       char out[FS_ENDPOINT_STATE_STRLEN])
{
	const struct fs_endpoint_entry *e = fs_endpoints_entry(table, index);
	char addr[FS_ENDPOINT_STRLEN], age[24] = "-", rtt[24] = "-";

	if (!e || is_empty(e))
		return false;
	if (e->has_rx)
		snprintf(age, sizeof(age), "%" PRIu64,
			 now > e->last_rx ? (now - e->last_rx) / FS_NSEC_PER_MSEC : 0);
	if (e->has_rtt)
		snprintf(rtt, sizeof(rtt), "%" PRIu32, e->rtt_us);
	snprintf(out, FS_ENDPOINT_STATE_STRLEN, "%s,%s,%s,%s,%s", fs_endpoint_format(addr, &e->addr),
		 fs_endpoint_origin_name(e->origin), age, rtt,
		 fs_endpoint_state_name(fs_endpoints_state(table, index, now)));
	return true;
}
