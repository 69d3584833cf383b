// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Endpoints and prefixes in the numeric forms the UAPI uses. Nothing here
 * resolves names: `wg` resolves hostnames itself and sends addresses, so a
 * name reaching the daemon is an error, not a lookup. The only name looked
 * up is an IPv6 scope ("%eth0"), with if_nametoindex, as getaddrinfo does;
 * a scope that names no interface but is all digits is taken as an index.
 *
 * Error messages quote the offending text, made printable and bounded, so
 * whatever a client sends can go to the log as it is.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "addr.h"

enum {
	HOST_LEN = INET6_ADDRSTRLEN + IF_NAMESIZE + 1,
	SCOPE_LEN = IF_NAMESIZE + 1,	/* "%eth0" or "%4294967295" */
};

#define ENDPOINT_FORMS "expected ADDR:PORT or [ADDR]:PORT"

const char *fs_quote(char out[FS_QUOTE_LEN], const char *text, size_t len)
{
	size_t n = len < FS_QUOTE_MAX ? len : FS_QUOTE_MAX, i;

	out[0] = '"';
	for (i = 0; i < n; ++i)
		out[i + 1] = text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?';
	strcpy(out + i + 1, len > FS_QUOTE_MAX ? "...\"" : "\"");
	return out;
}

bool fs_vfail(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	return false;
}

bool fs_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fs_vfail(err, errlen, fmt, ap);
	va_end(ap);
	return false;
}

#define quote fs_quote
#define fail fs_fail

static bool all_digits(const char *text, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; ++i)
		if (text[i] < '0' || text[i] > '9')
			return false;
	return true;
}

/* Decimal digits only (no sign, no spaces), at most max. */
static bool parse_decimal(uint32_t *out, const char *text, size_t len, uint32_t max)
{
	uint64_t value = 0;

	if (!all_digits(text, len))
		return false;
	for (size_t i = 0; i < len; ++i) {
		value = value * 10 + (uint64_t)(text[i] - '0');
		if (value > max)
			return false;
	}
	*out = (uint32_t)value;
	return true;
}

static bool parse_port(uint16_t *port, const char *text, const char *port_text, char *err,
		       size_t errlen)
{
	size_t len = strlen(port_text);
	char q[FS_QUOTE_LEN], qp[FS_QUOTE_LEN];
	uint32_t value;

	if (!len)
		return fail(err, errlen, "endpoint %s has no port: " ENDPOINT_FORMS,
			    quote(q, text, strlen(text)));
	if (!parse_decimal(&value, port_text, len, UINT16_MAX))
		return fail(err, errlen, "endpoint %s has invalid port %s: expected 0..65535",
			    quote(q, text, strlen(text)), quote(qp, port_text, len));
	*port = (uint16_t)value;
	return true;
}

static bool parse_scope(uint32_t *scope, const char *text, const char *name, char *err,
			size_t errlen)
{
	char q[FS_QUOTE_LEN], qn[FS_QUOTE_LEN];
	size_t len = strlen(name);
	unsigned int index;

	if (len && len < IF_NAMESIZE) {
		index = if_nametoindex(name);
		if (index) {
			*scope = index;
			return true;
		}
	}
	if (parse_decimal(scope, name, len, UINT32_MAX))
		return true;
	return fail(err, errlen,
		    "endpoint %s has invalid scope %s: expected an interface name or index",
		    quote(q, text, strlen(text)), quote(qn, name, len));
}

/* host is the text between the brackets, with an optional "%scope". */
static bool parse_host6(union fs_sockaddr *out, const char *text, char *host, char *err,
			size_t errlen)
{
	char *percent = strchr(host, '%');
	char q[FS_QUOTE_LEN], qh[FS_QUOTE_LEN];
	struct in_addr v4;

	if (percent)
		*percent = '\0';
	if (inet_pton(AF_INET, host, &v4) == 1)
		return fail(err, errlen,
			    "endpoint %s puts an IPv4 address in brackets: expected ADDR:PORT",
			    quote(q, text, strlen(text)));
	if (inet_pton(AF_INET6, host, &out->in6.sin6_addr) != 1)
		return fail(err, errlen,
			    "endpoint %s has invalid address %s: expected a numeric IPv6 address",
			    quote(q, text, strlen(text)), quote(qh, host, strlen(host)));
	out->in6.sin6_family = AF_INET6;
	if (percent)
		return parse_scope(&out->in6.sin6_scope_id, text, percent + 1, err, errlen);
	return true;
}

static bool parse_host4(union fs_sockaddr *out, const char *text, const char *host, char *err,
			size_t errlen)
{
	char q[FS_QUOTE_LEN], qh[FS_QUOTE_LEN];

	if (strchr(host, ':'))
		return fail(err, errlen,
			    "endpoint %s has an IPv6 address without brackets: expected [ADDR]:PORT",
			    quote(q, text, strlen(text)));
	if (inet_pton(AF_INET, host, &out->in.sin_addr) != 1)
		return fail(err, errlen,
			    "endpoint %s has invalid address %s: expected a numeric IPv4 address "
			    "(names are not resolved)",
			    quote(q, text, strlen(text)), quote(qh, host, strlen(host)));
	out->in.sin_family = AF_INET;
	return true;
}

/* Copies len bytes of text into host, NUL-terminated, if they fit. */
static bool copy_host(char host[HOST_LEN], const char *text, size_t len, char *err,
		      size_t errlen)
{
	char q[FS_QUOTE_LEN];

	if (!len || len >= HOST_LEN)
		return fail(err, errlen, "endpoint %s has %s address: " ENDPOINT_FORMS,
			    quote(q, text, strlen(text)), len ? "an overlong" : "an empty");
	memcpy(host, text, len);
	host[len] = '\0';
	return true;
}

static bool parse_bracketed(union fs_sockaddr *out, const char *text, char *err, size_t errlen)
{
	const char *close = strchr(text, ']');
	char host[HOST_LEN], q[FS_QUOTE_LEN];
	uint16_t port;

	if (!close)
		return fail(err, errlen, "endpoint %s has no closing bracket: " ENDPOINT_FORMS,
			    quote(q, text, strlen(text)));
	if (close[1] != ':')
		return fail(err, errlen, "endpoint %s has %s after the address: " ENDPOINT_FORMS,
			    quote(q, text, strlen(text)), close[1] ? "junk" : "no port");
	if (!copy_host(host, text + 1, (size_t)(close - text - 1), err, errlen) ||
	    !parse_host6(out, text, host, err, errlen) ||
	    !parse_port(&port, text, close + 2, err, errlen))
		return false;
	out->in6.sin6_port = htons(port);
	return true;
}

static bool parse_plain(union fs_sockaddr *out, const char *text, char *err, size_t errlen)
{
	const char *colon = strrchr(text, ':');
	char host[HOST_LEN], q[FS_QUOTE_LEN];
	uint16_t port;

	if (!colon)
		return fail(err, errlen, "endpoint %s has no port: " ENDPOINT_FORMS,
			    quote(q, text, strlen(text)));
	if (!copy_host(host, text, (size_t)(colon - text), err, errlen) ||
	    !parse_host4(out, text, host, err, errlen) ||
	    !parse_port(&port, text, colon + 1, err, errlen))
		return false;
	out->in.sin_port = htons(port);
	return true;
}

bool fs_endpoint_parse(union fs_sockaddr *out, const char *text, char *err, size_t errlen)
{
	union fs_sockaddr parsed;
	bool ok;

	memset(&parsed, 0, sizeof(parsed));
	ok = text[0] == '[' ? parse_bracketed(&parsed, text, err, errlen)
			    : parse_plain(&parsed, text, err, errlen);
	if (ok)
		*out = parsed;
	return ok;
}

/* An interface name when the index has one (as getnameinfo writes it), else the number. */
static void format_scope(char out[SCOPE_LEN], uint32_t scope)
{
	char name[IF_NAMESIZE];

	if (if_indextoname(scope, name))
		snprintf(out, SCOPE_LEN, "%%%s", name);
	else
		snprintf(out, SCOPE_LEN, "%%%u", scope);
}

/* An endpoint of another family (none set) formats as "". */
char *fs_endpoint_format(char out[FS_ENDPOINT_STRLEN], const union fs_sockaddr *endpoint)
{
	char addr[INET6_ADDRSTRLEN], scope[SCOPE_LEN] = "";

	out[0] = '\0';
	if (endpoint->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &endpoint->in.sin_addr, addr, sizeof(addr));
		snprintf(out, FS_ENDPOINT_STRLEN, "%s:%u", addr, ntohs(endpoint->in.sin_port));
	} else if (endpoint->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &endpoint->in6.sin6_addr, addr, sizeof(addr));
		if (endpoint->in6.sin6_scope_id)
			format_scope(scope, endpoint->in6.sin6_scope_id);
		snprintf(out, FS_ENDPOINT_STRLEN, "[%s%s]:%u", addr, scope,
			 ntohs(endpoint->in6.sin6_port));
	}
	return out;
}

/* Endpoints of no known family are equal to nothing, not even each other. */
bool fs_endpoint_equal(const union fs_sockaddr *a, const union fs_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_port == b->in.sin_port &&
		       a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return a->in6.sin6_port == b->in6.sin6_port &&
		       a->in6.sin6_scope_id == b->in6.sin6_scope_id &&
		       !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof(struct in6_addr));
	return false;
}

socklen_t fs_sockaddr_len(const union fs_sockaddr *endpoint)
{
	if (endpoint->sa.sa_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (endpoint->sa.sa_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

const void *fs_sockaddr_ip(const union fs_sockaddr *endpoint)
{
	if (endpoint->sa.sa_family == AF_INET)
		return &endpoint->in.sin_addr;
	return &endpoint->in6.sin6_addr;
}

uint16_t fs_sockaddr_port(const union fs_sockaddr *endpoint)
{
	return ntohs(endpoint->sa.sa_family == AF_INET ? endpoint->in.sin_port
						       : endpoint->in6.sin6_port);
}

/* --- prefixes -------------------------------------------------------------- */

static unsigned int family_bits(int family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

static bool parse_prefix_addr(struct fs_prefix *out, const char *text, size_t len, char *err,
			      size_t errlen)
{
	char addr[INET6_ADDRSTRLEN], q[FS_QUOTE_LEN], qa[FS_QUOTE_LEN];

	if (len && len < sizeof(addr)) {
		memcpy(addr, text, len);
		addr[len] = '\0';
		out->family = memchr(addr, ':', len) ? AF_INET6 : AF_INET;
		if (inet_pton(out->family, addr, out->addr.bytes) == 1)
			return true;
	}
	return fail(err, errlen,
		    "prefix %s has invalid address %s: expected a numeric IPv4 or IPv6 address",
		    quote(q, text, strlen(text)), quote(qa, text, len));
}

/* Leading zeros are accepted, as wg's own parser does ("/024" is /24). */
static bool parse_cidr(struct fs_prefix *out, const char *text, const char *cidr, char *err,
		       size_t errlen)
{
	unsigned int max = family_bits(out->family);
	char q[FS_QUOTE_LEN], qc[FS_QUOTE_LEN];
	uint32_t value;

	if (!parse_decimal(&value, cidr, strlen(cidr), max))
		return fail(err, errlen, "prefix %s has invalid length %s: expected 0..%u",
			    quote(q, text, strlen(text)), quote(qc, cidr, strlen(cidr)), max);
	out->cidr = (uint8_t)value;
	return true;
}

bool fs_prefix_parse(struct fs_prefix *out, const char *text, char *err, size_t errlen)
{
	const char *slash = strchr(text, '/');
	size_t addr_len = slash ? (size_t)(slash - text) : strlen(text);
	struct fs_prefix parsed;

	memset(&parsed, 0, sizeof(parsed));
	if (!parse_prefix_addr(&parsed, text, addr_len, err, errlen))
		return false;
	if (slash) {
		if (!parse_cidr(&parsed, text, slash + 1, err, errlen))
			return false;
	} else {
		parsed.cidr = (uint8_t)family_bits(parsed.family);
	}
	*out = parsed;
	return true;
}

char *fs_prefix_format(char out[FS_PREFIX_STRLEN], const struct fs_prefix *prefix)
{
	char addr[INET6_ADDRSTRLEN];

	out[0] = '\0';
	if (!family_bits(prefix->family))
		return out;
	inet_ntop(prefix->family, prefix->addr.bytes, addr, sizeof(addr));
	snprintf(out, FS_PREFIX_STRLEN, "%s/%u", addr, prefix->cidr);
	return out;
}

/* The prefix length, never more than the family has (a corrupt one would overread). */
static unsigned int prefix_bits(const struct fs_prefix *prefix)
{
	unsigned int max = family_bits(prefix->family);

	return prefix->cidr < max ? prefix->cidr : max;
}

static bool bits_equal(const uint8_t *a, const uint8_t *b, unsigned int bits)
{
	unsigned int bytes = bits / 8, rest = bits % 8;
	uint8_t mask = (uint8_t)(0xff00 >> rest);

	if (memcmp(a, b, bytes))
		return false;
	return !rest || !((a[bytes] ^ b[bytes]) & mask);
}

void fs_prefix_mask(struct fs_prefix *prefix)
{
	unsigned int bits = prefix_bits(prefix), bytes = bits / 8, rest = bits % 8;

	if (rest)
		prefix->addr.bytes[bytes++] &= (uint8_t)(0xff00 >> rest);
	memset(prefix->addr.bytes + bytes, 0, sizeof(prefix->addr.bytes) - bytes);
}

bool fs_prefix_contains(const struct fs_prefix *prefix, int family, const void *address)
{
	if (!family_bits(family) || prefix->family != family)
		return false;
	return bits_equal(prefix->addr.bytes, address, prefix_bits(prefix));
}

bool fs_prefix_overlap(const struct fs_prefix *a, const struct fs_prefix *b)
{
	unsigned int bits_a = prefix_bits(a), bits_b = prefix_bits(b);

	if (!family_bits(a->family) || a->family != b->family)
		return false;
	return bits_equal(a->addr.bytes, b->addr.bytes, bits_a < bits_b ? bits_a : bits_b);
}
