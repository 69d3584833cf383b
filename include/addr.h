/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Socket addresses and prefixes as the UAPI writes them: endpoints as
 * "192.0.2.1:51820" or "[2001:db8::1]:51820" (a link-local scope as
 * "[fe80::1%eth0]:51820" or "%3"), prefixes as "198.51.100.0/24" or
 * "2001:db8::/64". Parsers return bool and, on failure, write a message
 * naming the value and what was expected into err (if not NULL).
 */
#ifndef FLOWSPREAD_ADDR_H
#define FLOWSPREAD_ADDR_H

#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

union fs_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

struct fs_prefix {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t cidr;
	union {
		struct in_addr v4;
		struct in6_addr v6;
		uint8_t bytes[16];
	} addr;
};

enum {
	FS_ENDPOINT_STRLEN = INET6_ADDRSTRLEN + 32,	/* "[addr%scope]:port" */
	FS_PREFIX_STRLEN = INET6_ADDRSTRLEN + 4,
	FS_ERRLEN = 256,
};

/* Message helpers shared by the parsers here, in config.c and in flowspreadctl. */
enum {
	FS_QUOTE_MAX = 64,			/* characters of a value echoed in a message */
	FS_QUOTE_LEN = FS_QUOTE_MAX + 6,	/* quotes, "...", NUL */
};
/* "text" (len bytes) quoted, non-printable bytes as '?', cut at FS_QUOTE_MAX. */
const char *fs_quote(char out[FS_QUOTE_LEN], const char *text, size_t len);
/* Writes the message to err (if not NULL) and returns false. */
__attribute__((format(printf, 3, 4)))
bool fs_fail(char *err, size_t errlen, const char *fmt, ...);
bool fs_vfail(char *err, size_t errlen, const char *fmt, va_list ap);

bool fs_endpoint_parse(union fs_sockaddr *out, const char *text, char *err, size_t errlen);
/* Writes "addr:port" or "[addr]:port"; returns out. */
char *fs_endpoint_format(char out[FS_ENDPOINT_STRLEN], const union fs_sockaddr *endpoint);
bool fs_endpoint_equal(const union fs_sockaddr *a, const union fs_sockaddr *b);
socklen_t fs_sockaddr_len(const union fs_sockaddr *endpoint);
/* The address bytes (in_addr or in6_addr) and the port (host order) of an IPv4 or IPv6 one. */
const void *fs_sockaddr_ip(const union fs_sockaddr *endpoint);
uint16_t fs_sockaddr_port(const union fs_sockaddr *endpoint);

/* Accepts host bits set (as wg does) and keeps them; fs_prefix_mask clears them. */
bool fs_prefix_parse(struct fs_prefix *out, const char *text, char *err, size_t errlen);
char *fs_prefix_format(char out[FS_PREFIX_STRLEN], const struct fs_prefix *prefix);
void fs_prefix_mask(struct fs_prefix *prefix);
bool fs_prefix_contains(const struct fs_prefix *prefix, int family, const void *address);
bool fs_prefix_overlap(const struct fs_prefix *a, const struct fs_prefix *b);

#endif
