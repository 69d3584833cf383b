/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small things every part of flowspreadctl uses: a growing text buffer
 * that never leaves key material behind in freed memory, error messages
 * written into caller-provided space, and quoting of user input.
 */
#ifndef FLOWSPREAD_CTL_UTIL_H
#define FLOWSPREAD_CTL_UTIL_H

#include "addr.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROG_NAME "flowspreadctl"

enum {
	CTL_ERRLEN = 512,	/* room for any message flowspreadctl composes */
	CTL_QUOTE_MAX = FS_QUOTE_MAX,	/* characters of a value echoed in a message */
	CTL_QUOTE_LEN = FS_QUOTE_LEN,
};

struct ctl_buf {
	char *data;		/* NUL-terminated while ok */
	size_t len, alloc;
	bool failed;		/* out of memory: the contents are incomplete */
};

void ctl_buf_init(struct ctl_buf *buf);
__attribute__((format(printf, 2, 3)))
void ctl_buf_printf(struct ctl_buf *buf, const char *fmt, ...);
void ctl_buf_append(struct ctl_buf *buf, const void *data, size_t len);
/* Wipes and frees the contents. */
void ctl_buf_free(struct ctl_buf *buf);

/* Writes the message into err (when not NULL) and returns false. */
__attribute__((format(printf, 3, 4)))
bool ctl_fail(char *err, size_t errlen, const char *fmt, ...);

/* Prepends "prefix" to the message already in err. */
__attribute__((format(printf, 3, 4)))
void ctl_err_prefix(char *err, size_t errlen, const char *fmt, ...);

/* "text" with non-printable bytes as '?', cut at CTL_QUOTE_MAX characters. */
const char *ctl_quote(char out[CTL_QUOTE_LEN], const char *text);

/* Decimal digits only, no sign or spaces, at most max. */
bool ctl_parse_u64(uint64_t *out, const char *text, uint64_t max);

/* WG_HIDE_KEYS=never shows private and preshared keys, as with wg. */
bool ctl_show_keys(void);

/* Prints "flowspreadctl: MESSAGE" on stderr; nothing for "" (reported already). */
void ctl_error(const char *message);

#endif
