// SPDX-License-Identifier: GPL-2.0-or-later
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "addr.h"
#include "util.h"

void ctl_buf_init(struct ctl_buf *buf)
{
	memset(buf, 0, sizeof(*buf));
}

/* Room for len more bytes and a NUL; a larger copy, the old one wiped. */
static bool reserve(struct ctl_buf *buf, size_t len)
{
	size_t want;
	char *bigger;

	if (buf->failed)
		return false;
	if (len < buf->alloc - buf->len)
		return true;
	want = buf->alloc ? buf->alloc : 256;
	while (want - buf->len <= len) {
		if (want > SIZE_MAX / 2) {
			buf->failed = true;
			return false;
		}
		want *= 2;
	}
	bigger = malloc(want);
	if (!bigger) {
		buf->failed = true;
		return false;
	}
	if (buf->data) {
		memcpy(bigger, buf->data, buf->len + 1);
		sodium_memzero(buf->data, buf->alloc);
		free(buf->data);
	}
	buf->data = bigger;
	buf->alloc = want;
	return true;
}

void ctl_buf_append(struct ctl_buf *buf, const void *data, size_t len)
{
	if (!reserve(buf, len))
		return;
	memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
}

void ctl_buf_printf(struct ctl_buf *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		buf->failed = true;
		return;
	}
	if (!reserve(buf, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf->len += (size_t)n;
}

void ctl_buf_free(struct ctl_buf *buf)
{
	if (buf->data) {
		sodium_memzero(buf->data, buf->alloc);
		free(buf->data);
	}
	ctl_buf_init(buf);
}

bool ctl_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fs_vfail(err, errlen, fmt, ap);
	va_end(ap);
	return false;
}

void ctl_err_prefix(char *err, size_t errlen, const char *fmt, ...)
{
	char prefix[CTL_ERRLEN], rest[CTL_ERRLEN];
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	snprintf(rest, sizeof(rest), "%s", err);
	snprintf(err, errlen, "%s%s", prefix, rest);
}

const char *ctl_quote(char out[CTL_QUOTE_LEN], const char *text)
{
	return fs_quote(out, text, strlen(text));
}

bool ctl_parse_u64(uint64_t *out, const char *text, uint64_t max)
{
	uint64_t value = 0;

	if (!*text)
		return false;
	for (const char *p = text; *p; ++p) {
		unsigned int digit = (unsigned int)(*p - '0');

		if (*p < '0' || *p > '9' || digit > max || value > (max - digit) / 10)
			return false;
		value = value * 10 + digit;
	}
	*out = value;
	return true;
}

bool ctl_show_keys(void)
{
	const char *hide = getenv("WG_HIDE_KEYS");

	return hide && !strcmp(hide, "never");
}

void ctl_error(const char *message)
{
	if (message[0])
		fprintf(stderr, PROG_NAME ": %s\n", message);
}
