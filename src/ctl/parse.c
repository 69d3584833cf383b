// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Value parsers, after wireguard-tools' config.c in what they accept: keys
 * in base64, ports 0..65535 (or a service name), fwmark and keepalive as
 * "off" or a number, allowed IPs with an optional length, endpoints
 * resolved with getaddrinfo. The extension values follow flowspreadd(8) and config.h's limits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "parse.h"
#include "util.h"

#define KEY_FORM "expected a base64 key of 44 characters ending in \"=\""

bool ctl_parse_key(uint8_t key[WG_KEY_LEN], const char *label, const char *value, bool secret,
		   char *err, size_t errlen)
{
	char q[CTL_QUOTE_LEN];

	if (ctl_key_from_base64(key, value))
		return true;
	if (secret)
		return ctl_fail(err, errlen, "%s: " KEY_FORM " (the value is secret: not shown)",
				label);
	return ctl_fail(err, errlen, "%s %s: " KEY_FORM, label, ctl_quote(q, value));
}

static bool parse_listen_port(uint16_t *port, const char *label, const char *value, char *err,
			      size_t errlen)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_DGRAM,
		.ai_protocol = IPPROTO_UDP,
		.ai_flags = AI_PASSIVE,
	};
	struct addrinfo *resolved;
	char q[CTL_QUOTE_LEN];
	uint64_t number;

	if (ctl_parse_u64(&number, value, UINT16_MAX)) {
		*port = (uint16_t)number;
		return true;
	}
	/*
	 * A service name, as wg takes one ("ListenPort = wireguard" with
	 * /etc/services); not an empty one, which getaddrinfo takes for port 0.
	 */
	if (value[0] && (value[0] < '0' || value[0] > '9')) {
		if (!getaddrinfo(NULL, value, &hints, &resolved)) {
			bool ok = true;

			if (resolved->ai_family == AF_INET)
				*port = ntohs(((struct sockaddr_in *)resolved->ai_addr)->sin_port);
			else if (resolved->ai_family == AF_INET6)
				*port = ntohs(((struct sockaddr_in6 *)resolved->ai_addr)->sin6_port);
			else
				ok = false;
			freeaddrinfo(resolved);
			if (ok)
				return true;
		}
	}
	return ctl_fail(err, errlen, "%s %s: expected a port 0..65535", label, ctl_quote(q, value));
}

static bool parse_fwmark(uint32_t *fwmark, const char *label, const char *value, char *err,
			 size_t errlen)
{
	char q[CTL_QUOTE_LEN], *end;
	unsigned long long number;

	if (!strcasecmp(value, "off")) {
		*fwmark = 0;
		return true;
	}
	if (value[0] >= '0' && value[0] <= '9') {
		int base = value[0] == '0' && (value[1] == 'x' || value[1] == 'X') && value[2] ? 16 : 10;

		errno = 0;
		number = strtoull(value, &end, base);
		if (!*end && !errno && number <= UINT32_MAX) {
			*fwmark = (uint32_t)number;
			return true;
		}
	}
	return ctl_fail(err, errlen, "%s %s: expected off or a mark 0..0xffffffff (decimal or 0x hex)",
			label, ctl_quote(q, value));
}

static bool parse_keepalive(uint16_t *seconds, const char *label, const char *value, char *err,
			    size_t errlen)
{
	char q[CTL_QUOTE_LEN];
	uint64_t number;

	if (!strcasecmp(value, "off")) {
		*seconds = 0;
		return true;
	}
	if (ctl_parse_u64(&number, value, UINT16_MAX)) {
		*seconds = (uint16_t)number;
		return true;
	}
	return ctl_fail(err, errlen, "%s %s: expected off or seconds 0..65535", label,
			ctl_quote(q, value));
}

static bool parse_bounded(uint32_t *out, const char *label, const char *value, uint32_t min,
			  uint32_t max, char *err, size_t errlen)
{
	char q[CTL_QUOTE_LEN];
	uint64_t number;

	if (ctl_parse_u64(&number, value, max) && number >= min) {
		*out = (uint32_t)number;
		return true;
	}
	return ctl_fail(err, errlen, "%s %s: expected %u..%u", label, ctl_quote(q, value), min, max);
}

bool ctl_port_range_from_text(struct fs_port_range *out, const char *text)
{
	const char *dash = strchr(text, '-');
	char low_text[8];
	uint64_t low, high;

	if (!dash || (size_t)(dash - text) >= sizeof(low_text))
		return false;
	memcpy(low_text, text, (size_t)(dash - text));
	low_text[dash - text] = '\0';
	if (!ctl_parse_u64(&low, low_text, UINT16_MAX) || !ctl_parse_u64(&high, dash + 1, UINT16_MAX) ||
	    low < 1 || low > high)
		return false;
	out->low = (uint16_t)low;
	out->high = (uint16_t)high;
	return true;
}

static bool parse_port_range(struct fs_port_range *out, const char *label, const char *value,
			     char *err, size_t errlen)
{
	char q[CTL_QUOTE_LEN];

	if (ctl_port_range_from_text(out, value))
		return true;
	return ctl_fail(err, errlen, "%s %s: expected LOW-HIGH with 1 <= LOW <= HIGH <= 65535", label,
			ctl_quote(q, value));
}

bool ctl_qdisc_from_text(uint16_t *major, const char *text)
{
	size_t len = strlen(text), i;
	unsigned int number = 0;

	if (len < 2 || len > 5 || text[len - 1] != ':')
		return false;
	for (i = 0; i < len - 1; ++i) {
		char c = text[i];

		if (c >= '0' && c <= '9')
			number = number * 16 + (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			number = number * 16 + (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			number = number * 16 + (unsigned int)(c - 'A' + 10);
		else
			return false;
	}
	if (!number)
		return false;
	*major = (uint16_t)number;
	return true;
}

static bool parse_qdisc(uint16_t *major, const char *label, const char *value, char *err,
			size_t errlen)
{
	char q[CTL_QUOTE_LEN];

	if (ctl_qdisc_from_text(major, value))
		return true;
	return ctl_fail(err, errlen, "%s %s: expected a qdisc handle MAJOR: in hex, 1: to ffff:",
			label, ctl_quote(q, value));
}

static const char *canonical(const char *value, const char *const *names)
{
	for (; *names; ++names)
		if (!strcasecmp(value, *names))
			return *names;
	return NULL;
}

const char *ctl_spread_mode_canonical(const char *value)
{
	static const char *const names[] = { "off", "ports", "addresses", "both", NULL };

	return canonical(value, names);
}

const char *ctl_steer_canonical(const char *value)
{
	static const char *const names[] = { "off", "on", "nft", NULL };

	return canonical(value, names);
}

static bool parse_word(char out[CTL_WORD_LEN], const char *label, const char *value,
		       const char *(*canon)(const char *), const char *expected, char *err,
		       size_t errlen)
{
	const char *name = canon(value);
	char q[CTL_QUOTE_LEN];

	if (!name)
		return ctl_fail(err, errlen, "%s %s: expected %s", label, ctl_quote(q, value), expected);
	snprintf(out, CTL_WORD_LEN, "%s", name);
	return true;
}

/*
 * ADDR/LEN (LEN required when need_len) into out; the message names what
 * is wrong, with LEN's range for the address's family.
 */
static bool parse_prefix(struct fs_prefix *out, const char *label, const char *value,
			 bool need_len, unsigned int max_v6, char *err, size_t errlen)
{
	const char *slash = strchr(value, '/');
	size_t addr_len = slash ? (size_t)(slash - value) : strlen(value);
	char addr[INET6_ADDRSTRLEN], q[CTL_QUOTE_LEN];
	struct fs_prefix parsed;
	unsigned int max;
	uint64_t cidr;

	memset(&parsed, 0, sizeof(parsed));
	parsed.family = memchr(value, ':', addr_len) ? AF_INET6 : AF_INET;
	max = parsed.family == AF_INET6 ? max_v6 : 32;
	if (!addr_len || addr_len >= sizeof(addr))
		goto bad_addr;
	memcpy(addr, value, addr_len);
	addr[addr_len] = '\0';
	if (inet_pton(parsed.family, addr, parsed.addr.bytes) != 1)
		goto bad_addr;
	if (!slash) {
		if (need_len)
			return ctl_fail(err, errlen, "%s %s: expected ADDR/LEN with LEN 0..%u", label,
					ctl_quote(q, value), max);
		parsed.cidr = (uint8_t)(parsed.family == AF_INET6 ? 128 : 32);
	} else {
		if (!ctl_parse_u64(&cidr, slash + 1, max))
			return ctl_fail(err, errlen, "%s %s: expected ADDR/LEN with LEN 0..%u", label,
					ctl_quote(q, value), max);
		parsed.cidr = (uint8_t)cidr;
	}
	*out = parsed;
	return true;

bad_addr:
	return ctl_fail(err, errlen, "%s %s: expected ADDR/LEN with a numeric IPv4 or IPv6 ADDR",
			label, ctl_quote(q, value));
}

bool ctl_parse_allowed_ip(struct fs_prefix *out, const char *label, const char *value, char *err,
			  size_t errlen)
{
	return parse_prefix(out, label, value, false, 128, err, errlen);
}

static int resolution_retries(void)
{
	const char *env = getenv("WG_ENDPOINT_RESOLUTION_RETRIES");
	uint64_t retries;

	if (!env)
		return 15;
	if (!strcmp(env, "infinity"))
		return -1;
	if (ctl_parse_u64(&retries, env, 1000000))
		return (int)retries;
	return 15;
}

static bool permanent_failure(int ret)
{
	return ret == EAI_NONAME || ret == EAI_FAIL ||
#ifdef EAI_NODATA
	       ret == EAI_NODATA ||
#endif
	       ret == EAI_SERVICE || ret == EAI_FAMILY || ret == EAI_BADFLAGS;
}

static bool resolve(union fs_sockaddr *out, const char *label, const char *value,
		    const char *host, const char *port, char *err, size_t errlen)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_DGRAM,
		.ai_protocol = IPPROTO_UDP,
	};
	struct addrinfo *resolved;
	char q[CTL_QUOTE_LEN];
	int retries = resolution_retries(), ret;
	unsigned int delay = 1000000;
	bool ok = false;

	for (;;) {
		ret = getaddrinfo(host, port, &hints, &resolved);
		if (!ret)
			break;
		if (permanent_failure(ret) || (retries >= 0 && !retries--))
			return ctl_fail(err, errlen, "%s %s: %s", label, ctl_quote(q, value),
					ret == EAI_SYSTEM ? strerror(errno) : gai_strerror(ret));
		fprintf(stderr, PROG_NAME ": %s %s: %s; trying again in %.2f seconds\n", label,
			ctl_quote(q, value), ret == EAI_SYSTEM ? strerror(errno) : gai_strerror(ret),
			delay / 1000000.0);
		usleep(delay);
		delay = delay * 6 / 5 < 20000000 ? delay * 6 / 5 : 20000000;
	}
	memset(out, 0, sizeof(*out));
	if (resolved->ai_family == AF_INET && resolved->ai_addrlen == sizeof(out->in)) {
		memcpy(&out->in, resolved->ai_addr, sizeof(out->in));
		ok = true;
	} else if (resolved->ai_family == AF_INET6 && resolved->ai_addrlen == sizeof(out->in6)) {
		memcpy(&out->in6, resolved->ai_addr, sizeof(out->in6));
		ok = true;
	}
	freeaddrinfo(resolved);
	if (!ok)
		return ctl_fail(err, errlen, "%s %s: resolves to neither IPv4 nor IPv6", label,
				ctl_quote(q, value));
	return true;
}

bool ctl_parse_endpoint(union fs_sockaddr *out, const char *label, const char *value, char *err,
			size_t errlen)
{
	char q[CTL_QUOTE_LEN], *copy, *host, *port;
	bool ok = false;

	copy = strdup(value);
	if (!copy)
		return ctl_fail(err, errlen, "%s: out of memory", label);
	if (copy[0] == '[') {
		char *close = strchr(copy, ']');

		host = copy + 1;
		if (!close || close[1] != ':' || !close[2] || close == host)
			goto bad;
		*close = '\0';
		port = close + 2;
	} else {
		char *colon = strrchr(copy, ':');

		host = copy;
		if (!colon || !colon[1] || colon == copy)
			goto bad;
		*colon = '\0';
		port = colon + 1;
		if (strchr(host, ':')) {
			ctl_fail(err, errlen, "%s %s: expected [ADDR]:PORT for an IPv6 address",
				 label, ctl_quote(q, value));
			goto out;
		}
	}
	ok = resolve(out, label, value, host, port, err, errlen);
	goto out;
bad:
	ctl_fail(err, errlen, "%s %s: expected HOST:PORT or [HOST]:PORT", label, ctl_quote(q, value));
out:
	free(copy);
	return ok;
}

bool ctl_read_key_file(uint8_t key[WG_KEY_LEN], const char *label, const char *path, char *err,
		       size_t errlen)
{
	char text[CTL_KEY_BASE64_LEN], q[CTL_QUOTE_LEN];
	size_t len;
	bool ok = false;
	FILE *f;
	int c;

	f = fopen(path, "r");
	if (!f)
		return ctl_fail(err, errlen, "%s %s: %s", label, ctl_quote(q, path), strerror(errno));
	len = fread(text, 1, CTL_KEY_BASE64_LEN - 1, f);
	if (ferror(f)) {
		ctl_fail(err, errlen, "%s %s: %s", label, ctl_quote(q, path), strerror(errno));
		goto out;
	}
	if (!len) {
		/* An empty file (or /dev/null) removes the key, as with wg. */
		memset(key, 0, WG_KEY_LEN);
		ok = true;
		goto out;
	}
	text[len] = '\0';
	while ((c = getc(f)) != EOF) {
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f') {
			ctl_fail(err, errlen, "%s %s: expected a base64 key of 44 characters and "
				 "nothing after it but white space", label, ctl_quote(q, path));
			goto out;
		}
	}
	if (!ctl_key_from_base64(key, text))
		ctl_fail(err, errlen, "%s %s: " KEY_FORM " (the key is secret: not shown)", label,
			 ctl_quote(q, path));
	else
		ok = true;
out:
	sodium_memzero(text, sizeof(text));
	fclose(f);
	return ok;
}

/* Calls add for each comma-separated item of value (an empty value has none). */
static bool each_item(const char *label, const char *value,
		      bool (*add)(void *ctx, const char *label, const char *item, char *err,
				  size_t errlen),
		      void *ctx, char *err, size_t errlen)
{
	char *copy, *rest, *item;
	bool ok = true;

	if (!*value)
		return true;
	copy = strdup(value);
	if (!copy)
		return ctl_fail(err, errlen, "%s: out of memory", label);
	rest = copy;
	while (ok && (item = strsep(&rest, ",")))
		ok = add(ctx, label, item, err, errlen);
	free(copy);
	return ok;
}

static bool add_allowed_ip(void *ctx, const char *label, const char *item, char *err,
			   size_t errlen)
{
	struct fs_prefix prefix;

	if (!ctl_parse_allowed_ip(&prefix, label, item, err, errlen))
		return false;
	return ctl_prefix_list_add(ctx, &prefix) || ctl_fail(err, errlen, "%s: out of memory", label);
}

static bool add_spread_prefix(void *ctx, const char *label, const char *item, char *err,
			      size_t errlen)
{
	struct ctl_prefix_list *list = ctx;
	struct fs_prefix prefix;

	if (!parse_prefix(&prefix, label, item, true, FS_SPREAD_PREFIX_MAX_CIDR, err, errlen))
		return false;
	if (list->n >= FS_MAX_PREFIXES)
		return ctl_fail(err, errlen, "%s: more than %d prefixes", label, FS_MAX_PREFIXES);
	return ctl_prefix_list_add(list, &prefix) || ctl_fail(err, errlen, "%s: out of memory", label);
}

static bool add_alt_endpoint(void *ctx, const char *label, const char *item, char *err,
			     size_t errlen)
{
	struct ctl_endpoint_list *list = ctx;
	union fs_sockaddr endpoint;

	if (!ctl_parse_endpoint(&endpoint, label, item, err, errlen))
		return false;
	if (list->n >= FS_MAX_ENDPOINT_ALT)
		return ctl_fail(err, errlen, "%s: more than %d alternate endpoints", label,
				FS_MAX_ENDPOINT_ALT);
	return ctl_endpoint_list_add(list, &endpoint) ||
	       ctl_fail(err, errlen, "%s: out of memory", label);
}

/* An empty extension value: back to the default; false for other fields. */
static bool device_clear(struct ctl_device *dev, enum ctl_field field)
{
	switch (field) {
	case CTL_F_SPREAD_PREFIX:
		dev->spread_prefixes.n = 0;
		return dev->clear_spread_prefixes = true;
	case CTL_F_SPREAD_MODE:
		dev->has_spread_mode = false;
		return dev->clear_spread_mode = true;
	case CTL_F_SPREAD_PORTS:
		dev->has_spread_ports = false;
		return dev->clear_spread_ports = true;
	case CTL_F_SPREAD_PAIRS:
		dev->has_spread_pairs = false;
		return dev->clear_spread_pairs = true;
	case CTL_F_ENDPOINT_LIMIT:
		dev->has_endpoint_limit = false;
		return dev->clear_endpoint_limit = true;
	case CTL_F_STEER:
		dev->has_steer = false;
		return dev->clear_steer = true;
	case CTL_F_STEER_QDISC:
		dev->has_steer_qdisc = false;
		return dev->clear_steer_qdisc = true;
	default:
		return false;
	}
}

static bool peer_clear(struct ctl_peer *peer, enum ctl_field field)
{
	switch (field) {
	case CTL_F_ALT_ENDPOINT:
		peer->endpoint_alt.n = 0;
		return peer->clear_endpoint_alt = true;
	case CTL_F_PEER_SPREAD_PREFIX:
		peer->spread_prefixes.n = 0;
		return peer->clear_spread_prefixes = true;
	case CTL_F_PEER_SPREAD_PORTS:
		peer->has_spread_ports = false;
		return peer->clear_spread_ports = true;
	default:
		return false;
	}
}

bool ctl_device_apply(struct ctl_device *dev, enum ctl_field field, const char *label,
		      const char *value, char *err, size_t errlen)
{
	if (!*value && device_clear(dev, field))
		return true;
	switch (field) {
	case CTL_F_PRIVATE_KEY:
		return dev->has_private_key =
			       ctl_parse_key(dev->private_key, label, value, true, err, errlen);
	case CTL_F_LISTEN_PORT:
		return dev->has_listen_port =
			       parse_listen_port(&dev->listen_port, label, value, err, errlen);
	case CTL_F_FWMARK:
		return dev->has_fwmark = parse_fwmark(&dev->fwmark, label, value, err, errlen);
	case CTL_F_SPREAD_PREFIX:
		return each_item(label, value, add_spread_prefix, &dev->spread_prefixes, err, errlen);
	case CTL_F_SPREAD_MODE:
		return dev->has_spread_mode =
			       parse_word(dev->spread_mode, label, value, ctl_spread_mode_canonical,
					  "off, ports, addresses or both", err, errlen);
	case CTL_F_SPREAD_PORTS:
		return dev->has_spread_ports =
			       parse_port_range(&dev->spread_ports, label, value, err, errlen);
	case CTL_F_SPREAD_PAIRS:
		return dev->has_spread_pairs = parse_bounded(&dev->spread_pairs, label, value, 1,
							     FS_SPREAD_PAIRS_MAX, err, errlen);
	case CTL_F_ENDPOINT_LIMIT:
		return dev->has_endpoint_limit = parse_bounded(&dev->endpoint_limit, label, value, 0,
							       FS_ENDPOINT_LIMIT_MAX, err, errlen);
	case CTL_F_STEER:
		return dev->has_steer = parse_word(dev->steer, label, value, ctl_steer_canonical,
						   "off, on or nft", err, errlen);
	case CTL_F_STEER_QDISC:
		return dev->has_steer_qdisc =
			       parse_qdisc(&dev->steer_qdisc, label, value, err, errlen);
	default:
		return ctl_fail(err, errlen, "%s is not an interface setting", label);
	}
}

bool ctl_peer_apply(struct ctl_peer *peer, enum ctl_field field, const char *label,
		    const char *value, char *err, size_t errlen)
{
	if (!*value && peer_clear(peer, field))
		return true;
	switch (field) {
	case CTL_F_PUBLIC_KEY:
		return ctl_parse_key(peer->public_key, label, value, false, err, errlen);
	case CTL_F_PRESHARED_KEY:
		return peer->has_preshared_key =
			       ctl_parse_key(peer->preshared_key, label, value, true, err, errlen);
	case CTL_F_ENDPOINT:
		return peer->has_endpoint =
			       ctl_parse_endpoint(&peer->endpoint, label, value, err, errlen);
	case CTL_F_PERSISTENT_KEEPALIVE:
		return peer->has_persistent_keepalive =
			       parse_keepalive(&peer->persistent_keepalive, label, value, err, errlen);
	case CTL_F_ALLOWED_IPS:
		peer->replace_allowed_ips = true;
		return each_item(label, value, add_allowed_ip, &peer->allowed_ips, err, errlen);
	case CTL_F_ALT_ENDPOINT:
		return each_item(label, value, add_alt_endpoint, &peer->endpoint_alt, err, errlen);
	case CTL_F_PEER_SPREAD_PREFIX:
		return each_item(label, value, add_spread_prefix, &peer->spread_prefixes, err, errlen);
	case CTL_F_PEER_SPREAD_PORTS:
		return peer->has_spread_ports =
			       parse_port_range(&peer->spread_ports, label, value, err, errlen);
	default:
		return ctl_fail(err, errlen, "%s is not a peer setting", label);
	}
}
