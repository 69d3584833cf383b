// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The UAPI "set" request, parsed whole into a struct fs_config before the
 * device sees any of it. Keys and values follow wireguard-go's device/uapi.go:
 * numbers are plain decimal (leading zeros allowed, no sign), keys are 64
 * hex digits in either case, the boolean keys take "true" only, and a line
 * is split at its first '='. As in wireguard-go, a '\r' before the '\n' is
 * dropped and a last line without '\n' counts.
 *
 * Device keys before the first public_key, peer keys after it: a device key
 * in a peer block is an unknown peer key. Repeated scalar keys keep the last
 * value, in request order. Messages never echo key material.
 *
 * allowed_ip lines go into an array grown by doubling, so a peer with many
 * thousands of them costs amortised O(1) a line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "config.h"

enum {
	LINE_MAX_LEN = 4096,
	ALLOWED_IPS_FIRST = 8,
	PEERS_FIRST = 4,
};

struct parser {
	struct fs_config *cfg;
	size_t allowed_ips_cap;		/* of the current (last) peer */
	size_t peers_cap;
	int error;			/* -errno for the current line when a handler fails */
	char msg[FS_ERRLEN];		/* what the handler found wrong */
	char line[LINE_MAX_LEN + 1];	/* the current line, NUL-terminated; wiped at the end */
	void (*yield)(void *ctx);	/* every FS_CONFIG_YIELD_PEERS peers, if set */
	void *yield_ctx;
	size_t yielded_at;		/* n_peers at the last yield */
};

struct key_handler {
	const char *key;
	bool (*parse)(struct parser *p, const char *value);
};

static const char *quote(char out[FS_QUOTE_LEN], const char *text)
{
	return fs_quote(out, text, strlen(text));
}

#define fail fs_fail

#define bad_value(p, fmt, ...) fail((p)->msg, sizeof((p)->msg), fmt, __VA_ARGS__)

/* --- values ------------------------------------------------------------------ */

/* Decimal digits only (no sign, no spaces), min..max. */
static bool parse_decimal_len(uint32_t *out, const char *text, size_t len, uint32_t min,
			      uint32_t max)
{
	uint64_t value = 0;

	if (!len)
		return false;
	for (size_t i = 0; i < len; ++i) {
		if (text[i] < '0' || text[i] > '9')
			return false;
		value = value * 10 + (uint64_t)(text[i] - '0');
		if (value > max)
			return false;
	}
	if (value < min)
		return false;
	*out = (uint32_t)value;
	return true;
}

static bool parse_decimal(uint32_t *out, const char *text, uint32_t min, uint32_t max)
{
	return parse_decimal_len(out, text, strlen(text), min, max);
}

static bool parse_number(struct parser *p, uint32_t *out, const char *key, const char *value,
			 uint32_t min, uint32_t max)
{
	char q[FS_QUOTE_LEN];

	if (parse_decimal(out, value, min, max))
		return true;
	return bad_value(p, "invalid %s %s: expected a decimal number %u..%u", key,
			 quote(q, value), min, max);
}

static bool parse_true(struct parser *p, bool *out, const char *key, const char *value)
{
	char q[FS_QUOTE_LEN];

	if (strcmp(value, "true"))
		return bad_value(p, "invalid %s %s: expected \"true\"", key, quote(q, value));
	*out = true;
	return true;
}

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The value is key material: the message gives its shape, never its digits. */
bool fs_config_parse_key_hex(uint8_t key[WG_KEY_LEN], const char *hex, char *err, size_t errlen)
{
	uint8_t decoded[WG_KEY_LEN];
	size_t len = strlen(hex);

	if (len != 2 * WG_KEY_LEN)
		return fail(err, errlen, "key has %zu characters: expected %d hex digits", len,
			    2 * WG_KEY_LEN);
	for (size_t i = 0; i < WG_KEY_LEN; ++i) {
		int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			sodium_memzero(decoded, sizeof(decoded));
			return fail(err, errlen, "key has a non-hex character at offset %zu: "
				    "expected %d hex digits", 2 * i + (hi < 0 ? 0 : 1),
				    2 * WG_KEY_LEN);
		}
		decoded[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(key, decoded, WG_KEY_LEN);
	sodium_memzero(decoded, sizeof(decoded));
	return true;
}

bool fs_config_parse_port_range(struct fs_port_range *out, const char *text, char *err,
				size_t errlen)
{
	const char *dash = strchr(text, '-');
	char q[FS_QUOTE_LEN];
	uint32_t low, high;

	if (!dash || !parse_decimal_len(&low, text, (size_t)(dash - text), 1, UINT16_MAX) ||
	    !parse_decimal(&high, dash + 1, 1, UINT16_MAX) || low > high)
		return fail(err, errlen,
			    "port range %s: expected LOW-HIGH with 1 <= LOW <= HIGH <= 65535",
			    quote(q, text));
	out->low = (uint16_t)low;
	out->high = (uint16_t)high;
	return true;
}

static const char *const spread_mode_names[] = {
	[FS_SPREAD_DEFAULT] = "default",
	[FS_SPREAD_OFF] = "off",
	[FS_SPREAD_PORTS] = "ports",
	[FS_SPREAD_ADDRESSES] = "addresses",
	[FS_SPREAD_BOTH] = "both",
};

static const char *const steer_mode_names[] = {
	[FS_STEER_OFF] = "off",
	[FS_STEER_ON] = "on",
	[FS_STEER_NFT] = "nft",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* "default" is only a name for the unset mode: the parser does not take it. */
const char *fs_spread_mode_name(enum fs_spread_mode mode)
{
	if ((size_t)mode >= ARRAY_SIZE(spread_mode_names))
		return "unknown";
	return spread_mode_names[mode];
}

const char *fs_steer_mode_name(enum fs_steer_mode mode)
{
	if ((size_t)mode >= ARRAY_SIZE(steer_mode_names))
		return "unknown";
	return steer_mode_names[mode];
}

/* Index of value among names[first..n), or -1. */
static int lookup_name(const char *const *names, size_t first, size_t n, const char *value)
{
	for (size_t i = first; i < n; ++i)
		if (!strcmp(names[i], value))
			return (int)i;
	return -1;
}

static bool parse_key(struct parser *p, uint8_t key[WG_KEY_LEN], const char *name,
		      const char *value)
{
	char why[FS_ERRLEN];

	if (fs_config_parse_key_hex(key, value, why, sizeof(why)))
		return true;
	return bad_value(p, "invalid %s: %s", name, why);
}

static bool parse_endpoint(struct parser *p, union fs_sockaddr *out, const char *name,
			   const char *value)
{
	char why[FS_ERRLEN];

	if (fs_endpoint_parse(out, value, why, sizeof(why)))
		return true;
	return bad_value(p, "invalid %s: %s", name, why);
}

/* An empty value is no range: low 0. */
static bool parse_ports(struct parser *p, struct fs_port_range *out, const char *value)
{
	char why[FS_ERRLEN];

	if (!*value) {
		out->low = out->high = 0;
		return true;
	}
	if (fs_config_parse_port_range(out, value, why, sizeof(why)))
		return true;
	return bad_value(p, "invalid spread_ports: %s", why);
}

struct special_range {
	struct fs_prefix prefix;
	const char *what;
};

#define V4(a, b, c, d) { .bytes = { a, b, c, d } }
#define V6(...) { .bytes = { __VA_ARGS__ } }

/* Addresses no spread prefix may hold: the most specific reason first. */
static const struct special_range special_ranges[] = {
	{ { .family = AF_INET, .cidr = 8, .addr = V4(0, 0, 0, 0) }, "unspecified (\"this network\", 0.0.0.0/8)" },
	{ { .family = AF_INET, .cidr = 8, .addr = V4(127, 0, 0, 0) }, "loopback (127.0.0.0/8)" },
	{ { .family = AF_INET, .cidr = 16, .addr = V4(169, 254, 0, 0) }, "link-local (169.254.0.0/16)" },
	{ { .family = AF_INET, .cidr = 4, .addr = V4(224, 0, 0, 0) }, "multicast (224.0.0.0/4)" },
	{ { .family = AF_INET, .cidr = 4, .addr = V4(240, 0, 0, 0) }, "reserved or broadcast (240.0.0.0/4)" },
	{ { .family = AF_INET6, .cidr = 128, .addr = V6(0) }, "unspecified (::/128)" },
	{ { .family = AF_INET6, .cidr = 128, .addr = V6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1) }, "loopback (::1/128)" },
	{ { .family = AF_INET6, .cidr = 96, .addr = V6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff) }, "IPv4-mapped (::ffff:0:0/96)" },
	{ { .family = AF_INET6, .cidr = 8, .addr = V6(0) }, "reserved, IPv4-compatible (::/8)" },
	{ { .family = AF_INET6, .cidr = 10, .addr = V6(0xfe, 0x80) }, "link-local (fe80::/10)" },
	{ { .family = AF_INET6, .cidr = 10, .addr = V6(0xfe, 0xc0) }, "site-local, deprecated (fec0::/10)" },
	{ { .family = AF_INET6, .cidr = 8, .addr = V6(0xff) }, "multicast (ff00::/8)" },
};

/*
 * What a spread prefix may be, alone: a prefix of unicast addresses
 * routable to a host, of a length from FS_SPREAD_PREFIX_MIN_CIDR(_V4) (no
 * default route, nothing near it) to /120 for IPv6 (addresses to draw).
 */
bool fs_config_check_spread_prefix(const struct fs_prefix *prefix, char *err, size_t errlen)
{
	char text[FS_PREFIX_STRLEN];
	unsigned int min = prefix->family == AF_INET6 ? FS_SPREAD_PREFIX_MIN_CIDR :
			   FS_SPREAD_PREFIX_MIN_CIDR_V4;

	fs_prefix_format(text, prefix);
	if (!prefix->cidr)
		return fail(err, errlen, "spread_prefix %s is the default route: expected a length of at least /%u",
			    text, min);
	if (prefix->cidr < min)
		return fail(err, errlen, "spread_prefix %s is too wide: expected a length of at least /%u",
			    text, min);
	if (prefix->family == AF_INET6 && prefix->cidr > FS_SPREAD_PREFIX_MAX_CIDR)
		return fail(err, errlen, "spread_prefix %s: expected an IPv6 length up to /%d", text,
			    FS_SPREAD_PREFIX_MAX_CIDR);
	for (size_t i = 0; i < ARRAY_SIZE(special_ranges); ++i)
		if (fs_prefix_overlap(prefix, &special_ranges[i].prefix))
			return fail(err, errlen, "spread_prefix %s holds %s addresses: expected unicast addresses routable to a host",
				    text, special_ranges[i].what);
	return true;
}

/*
 * A spread prefix is stored masked (it names a network to draw addresses
 * from), must pass fs_config_check_spread_prefix, and must not overlap the
 * others of its list. An empty value empties the list (of the request, and
 * so the device's or peer's when applied).
 */
static bool add_spread_prefix(struct parser *p, struct fs_prefix *list, size_t *n, bool *has,
			      const char *value)
{
	char why[FS_ERRLEN], q[FS_QUOTE_LEN], other[FS_PREFIX_STRLEN];
	struct fs_prefix prefix;

	*has = true;
	if (!*value) {
		*n = 0;
		return true;
	}
	if (!fs_prefix_parse(&prefix, value, why, sizeof(why)))
		return bad_value(p, "invalid spread_prefix: %s", why);
	fs_prefix_mask(&prefix);
	if (!fs_config_check_spread_prefix(&prefix, why, sizeof(why)))
		return bad_value(p, "invalid %s", why);
	if (*n >= FS_MAX_PREFIXES)
		return bad_value(p, "too many spread_prefix lines: expected at most %d",
				 FS_MAX_PREFIXES);
	for (size_t i = 0; i < *n; ++i)
		if (fs_prefix_overlap(&list[i], &prefix))
			return bad_value(p, "spread_prefix %s overlaps spread_prefix \"%s\"", quote(q, value),
					 fs_prefix_format(other, &list[i]));
	list[(*n)++] = prefix;
	return true;
}

/* --- device keys ------------------------------------------------------------- */

static bool dev_private_key(struct parser *p, const char *value)
{
	if (!parse_key(p, p->cfg->private_key, "private_key", value))
		return false;
	p->cfg->has_private_key = true;
	return true;
}

static bool dev_listen_port(struct parser *p, const char *value)
{
	uint32_t port;

	if (!parse_number(p, &port, "listen_port", value, 0, UINT16_MAX))
		return false;
	p->cfg->listen_port = (uint16_t)port;
	p->cfg->has_listen_port = true;
	return true;
}

static bool dev_fwmark(struct parser *p, const char *value)
{
	if (!parse_number(p, &p->cfg->fwmark, "fwmark", value, 0, UINT32_MAX))
		return false;
	p->cfg->has_fwmark = true;
	return true;
}

static bool dev_replace_peers(struct parser *p, const char *value)
{
	return parse_true(p, &p->cfg->replace_peers, "replace_peers", value);
}

static bool dev_spread_prefix(struct parser *p, const char *value)
{
	return add_spread_prefix(p, p->cfg->spread_prefixes, &p->cfg->n_spread_prefixes,
				 &p->cfg->has_spread_prefixes, value);
}

static bool dev_spread_mode(struct parser *p, const char *value)
{
	int mode = lookup_name(spread_mode_names, FS_SPREAD_OFF, ARRAY_SIZE(spread_mode_names),
			       value);
	char q[FS_QUOTE_LEN];

	if (!*value)
		mode = FS_SPREAD_DEFAULT;
	if (mode < 0)
		return bad_value(p, "invalid spread_mode %s: expected off, ports, addresses or both",
				 quote(q, value));
	p->cfg->spread_mode = (enum fs_spread_mode)mode;
	p->cfg->has_spread_mode = true;
	return true;
}

static bool dev_spread_ports(struct parser *p, const char *value)
{
	if (!parse_ports(p, &p->cfg->spread_ports, value))
		return false;
	p->cfg->has_spread_ports = true;
	return true;
}

static bool dev_spread_pairs(struct parser *p, const char *value)
{
	if (!*value)
		p->cfg->spread_pairs = FS_SPREAD_PAIRS_DEFAULT;
	else if (!parse_number(p, &p->cfg->spread_pairs, "spread_pairs", value, 1, FS_SPREAD_PAIRS_MAX))
		return false;
	p->cfg->has_spread_pairs = true;
	return true;
}

static bool dev_endpoint_limit(struct parser *p, const char *value)
{
	if (!*value)
		p->cfg->endpoint_limit = FS_ENDPOINT_LIMIT_DEFAULT;
	else if (!parse_number(p, &p->cfg->endpoint_limit, "endpoint_limit", value, 0,
			  FS_ENDPOINT_LIMIT_MAX))
		return false;
	p->cfg->has_endpoint_limit = true;
	return true;
}

static bool dev_steer(struct parser *p, const char *value)
{
	int mode = lookup_name(steer_mode_names, 0, ARRAY_SIZE(steer_mode_names), value);
	char q[FS_QUOTE_LEN];

	if (!*value)
		mode = FS_STEER_OFF;
	if (mode < 0)
		return bad_value(p, "invalid steer %s: expected off, on or nft", quote(q, value));
	p->cfg->steer = (enum fs_steer_mode)mode;
	p->cfg->has_steer = true;
	return true;
}

/* "MAJOR:" as tc writes a qdisc handle: 1 to 4 hex digits, not 0, then ':'. */
static bool dev_steer_qdisc(struct parser *p, const char *value)
{
	size_t len = strlen(value);
	uint32_t major = 0;
	char q[FS_QUOTE_LEN];

	if (!len)
		goto done;
	if (len < 2 || len > 5 || value[len - 1] != ':')
		goto invalid;
	for (size_t i = 0; i + 1 < len; ++i) {
		int nibble = hex_nibble(value[i]);

		if (nibble < 0)
			goto invalid;
		major = major << 4 | (uint32_t)nibble;
	}
	if (!major)
		goto invalid;
done:
	p->cfg->steer_qdisc_major = (uint16_t)major;
	p->cfg->has_steer_qdisc = true;
	return true;
invalid:
	return bad_value(p, "invalid steer_qdisc %s: expected MAJOR: with MAJOR in hex 1..ffff",
			 quote(q, value));
}

static const struct key_handler device_keys[] = {
	{ "private_key", dev_private_key },
	{ "listen_port", dev_listen_port },
	{ "fwmark", dev_fwmark },
	{ "replace_peers", dev_replace_peers },
	{ "spread_prefix", dev_spread_prefix },
	{ "spread_mode", dev_spread_mode },
	{ "spread_ports", dev_spread_ports },
	{ "spread_pairs", dev_spread_pairs },
	{ "endpoint_limit", dev_endpoint_limit },
	{ "steer", dev_steer },
	{ "steer_qdisc", dev_steer_qdisc },
	{ NULL, NULL },
};

/* --- peer keys --------------------------------------------------------------- */

static struct fs_config_peer *current_peer(struct parser *p)
{
	return &p->cfg->peers[p->cfg->n_peers - 1];
}

void *fs_secret_realloc(void *old, size_t old_size, size_t new_size)
{
	void *block = malloc(new_size ? new_size : 1);

	if (!block)
		return NULL;
	if (old) {
		memcpy(block, old, old_size < new_size ? old_size : new_size);
		sodium_memzero(old, old_size);
		free(old);
	}
	return block;
}

/*
 * array doubled (or first elements), or NULL with the error set and array
 * kept. Peers hold preshared keys: the old array is wiped, not realloc'd.
 */
static void *grow(struct parser *p, void *array, size_t *cap, size_t first, size_t size)
{
	size_t new_cap = *cap ? *cap * 2 : first;
	void *grown = NULL;

	if (new_cap <= SIZE_MAX / size)
		grown = fs_secret_realloc(array, *cap * size, new_cap * size);
	if (!grown) {
		p->error = -ENOMEM;
		bad_value(p, "%s", "out of memory");
		return NULL;
	}
	*cap = new_cap;
	return grown;
}

/* public_key starts a block, in the device section or after another peer. */
static bool start_peer(struct parser *p, const char *value)
{
	struct fs_config *cfg = p->cfg;
	struct fs_config_peer *peer;

	if (cfg->n_peers == p->peers_cap) {
		peer = grow(p, cfg->peers, &p->peers_cap, PEERS_FIRST, sizeof(*peer));
		if (!peer)
			return false;
		cfg->peers = peer;
	}
	peer = &cfg->peers[cfg->n_peers++];
	memset(peer, 0, sizeof(*peer));
	p->allowed_ips_cap = 0;
	return parse_key(p, peer->public_key, "public_key", value);
}

static bool peer_remove(struct parser *p, const char *value)
{
	return parse_true(p, &current_peer(p)->remove, "remove", value);
}

static bool peer_update_only(struct parser *p, const char *value)
{
	return parse_true(p, &current_peer(p)->update_only, "update_only", value);
}

static bool peer_preshared_key(struct parser *p, const char *value)
{
	struct fs_config_peer *peer = current_peer(p);

	if (!parse_key(p, peer->preshared_key, "preshared_key", value))
		return false;
	peer->has_preshared_key = true;
	return true;
}

static bool peer_endpoint(struct parser *p, const char *value)
{
	struct fs_config_peer *peer = current_peer(p);

	if (!parse_endpoint(p, &peer->endpoint, "endpoint", value))
		return false;
	peer->has_endpoint = true;
	return true;
}

static bool peer_keepalive(struct parser *p, const char *value)
{
	struct fs_config_peer *peer = current_peer(p);
	uint32_t seconds;

	if (!parse_number(p, &seconds, "persistent_keepalive_interval", value, 0, UINT16_MAX))
		return false;
	peer->persistent_keepalive = (uint16_t)seconds;
	peer->has_persistent_keepalive = true;
	return true;
}

/* As in wireguard-go, the allowed IPs given so far in this block are dropped. */
static bool peer_replace_allowed_ips(struct parser *p, const char *value)
{
	struct fs_config_peer *peer = current_peer(p);

	if (!parse_true(p, &peer->replace_allowed_ips, "replace_allowed_ips", value))
		return false;
	peer->n_allowed_ips = 0;
	return true;
}

static bool peer_allowed_ip(struct parser *p, const char *value)
{
	struct fs_config_peer *peer = current_peer(p);
	char why[FS_ERRLEN];
	struct fs_prefix prefix;

	if (!fs_prefix_parse(&prefix, value, why, sizeof(why)))
		return bad_value(p, "invalid allowed_ip: %s", why);
	if (peer->n_allowed_ips == p->allowed_ips_cap) {
		struct fs_prefix *grown = grow(p, peer->allowed_ips, &p->allowed_ips_cap,
					       ALLOWED_IPS_FIRST, sizeof(prefix));

		if (!grown)
			return false;
		peer->allowed_ips = grown;
	}
	peer->allowed_ips[peer->n_allowed_ips++] = prefix;
	return true;
}

static bool peer_protocol_version(struct parser *p, const char *value)
{
	char q[FS_QUOTE_LEN];

	if (strcmp(value, "1"))
		return bad_value(p, "invalid protocol_version %s: expected 1", quote(q, value));
	return true;
}

static bool peer_endpoint_alt(struct parser *p, const char *value)
{
	struct fs_config_peer *peer = current_peer(p);

	peer->has_endpoint_alt = true;
	if (!*value) {
		peer->n_endpoint_alt = 0;
		return true;
	}
	if (peer->n_endpoint_alt >= FS_MAX_ENDPOINT_ALT)
		return bad_value(p, "too many endpoint_alt lines: expected at most %d",
				 FS_MAX_ENDPOINT_ALT);
	if (!parse_endpoint(p, &peer->endpoint_alt[peer->n_endpoint_alt], "endpoint_alt", value))
		return false;
	peer->n_endpoint_alt++;
	return true;
}

static bool peer_spread_prefix(struct parser *p, const char *value)
{
	struct fs_config_peer *peer = current_peer(p);

	return add_spread_prefix(p, peer->spread_prefixes, &peer->n_spread_prefixes,
				 &peer->has_spread_prefixes, value);
}

static bool peer_spread_ports(struct parser *p, const char *value)
{
	struct fs_config_peer *peer = current_peer(p);

	if (!parse_ports(p, &peer->spread_ports, value))
		return false;
	peer->has_spread_ports = true;
	return true;
}

/* allowed_ip first: it is most of a large request. */
static const struct key_handler peer_keys[] = {
	{ "allowed_ip", peer_allowed_ip },
	{ "remove", peer_remove },
	{ "update_only", peer_update_only },
	{ "preshared_key", peer_preshared_key },
	{ "endpoint", peer_endpoint },
	{ "persistent_keepalive_interval", peer_keepalive },
	{ "replace_allowed_ips", peer_replace_allowed_ips },
	{ "protocol_version", peer_protocol_version },
	{ "endpoint_alt", peer_endpoint_alt },
	{ "spread_prefix", peer_spread_prefix },
	{ "spread_ports", peer_spread_ports },
	{ NULL, NULL },
};

/* --- lines ------------------------------------------------------------------- */

static bool handle_key(struct parser *p, const char *key, const char *value)
{
	const struct key_handler *table = p->cfg->n_peers ? peer_keys : device_keys;
	char q[FS_QUOTE_LEN];

	if (!strcmp(key, "public_key"))
		return start_peer(p, value);
	for (; table->key; ++table)
		if (!strcmp(key, table->key))
			return table->parse(p, value);
	return bad_value(p, "invalid UAPI %s key %s", p->cfg->n_peers ? "peer" : "device",
			 quote(q, key));
}

/* Checks and copies one line (without "\n" or "\r\n") into p->line, then handles it. */
static bool handle_line(struct parser *p, const char *start, size_t len)
{
	char *equals;

	p->error = -EINVAL;
	if (len > LINE_MAX_LEN)
		return bad_value(p, "line is longer than %d bytes", LINE_MAX_LEN);
	if (memchr(start, '\0', len))
		return bad_value(p, "%s", "line contains a NUL byte");
	memcpy(p->line, start, len);
	p->line[len] = '\0';
	equals = strchr(p->line, '=');
	if (!equals) {
		p->error = -EPROTO;
		return bad_value(p, "%s", len ? "expected KEY=VALUE"
					  : "empty line before the end of the request");
	}
	*equals = '\0';
	return handle_key(p, p->line, equals + 1);
}

static int parse_lines(struct parser *p, const char *text, size_t len, char *err,
		       size_t errlen)
{
	const char *pos = text, *end = text + len;

	for (size_t line_no = 1; pos < end; ++line_no) {
		const char *newline = memchr(pos, '\n', (size_t)(end - pos));
		const char *next = newline ? newline + 1 : end;
		size_t line_len = (size_t)((newline ? newline : end) - pos);

		if (line_len && pos[line_len - 1] == '\r')
			--line_len;
		/* The terminating empty line, if the request still has it. */
		if (!line_len && next == end)
			break;
		if (!handle_line(p, pos, line_len)) {
			fail(err, errlen, "line %zu: %s", line_no, p->msg);
			return p->error;
		}
		if (p->yield && p->cfg->n_peers - p->yielded_at >= FS_CONFIG_YIELD_PEERS) {
			p->yielded_at = p->cfg->n_peers;
			p->yield(p->yield_ctx);
		}
		pos = next;
	}
	return 0;
}

int fs_config_parse(struct fs_config *cfg, const char *text, size_t len, char *err, size_t errlen)
{
	return fs_config_parse_yielding(cfg, text, len, err, errlen, NULL, NULL);
}

int fs_config_parse_yielding(struct fs_config *cfg, const char *text, size_t len, char *err,
			     size_t errlen, void (*yield)(void *ctx), void *ctx)
{
	struct parser p = { .cfg = cfg, .yield = yield, .yield_ctx = ctx };
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	if (err && errlen)
		err[0] = '\0';
	ret = parse_lines(&p, text, len, err, errlen);
	sodium_memzero(p.line, sizeof(p.line));
	if (ret)
		fs_config_free(cfg);
	return ret;
}

void fs_config_free(struct fs_config *cfg)
{
	for (size_t i = 0; i < cfg->n_peers; ++i) {
		sodium_memzero(cfg->peers[i].preshared_key, WG_KEY_LEN);
		free(cfg->peers[i].allowed_ips);
	}
	free(cfg->peers);
	sodium_memzero(cfg, sizeof(*cfg));
}
