// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * net.ipv4.ip_local_reserved_ports, read and written as portreserve.h
 * describes. The file is opened once, read and written, for reading and
 * writing: a file we may read but not write fails before anything is
 * taken.
 *
 * A read of the sysctl must be one read(): the kernel returns the whole
 * text from offset 0 and nothing from any other offset, so a buffer
 * shorter than the text would silently cut the list. The buffer is
 * therefore larger than any list (FS_PORTLIST_TEXT_MAX), and a file that
 * fills it is refused. A write goes out from offset 0 (which replaces the
 * set) and continues, if the kernel took only a page of it, from where it
 * stopped (which adds to the set); the kernel stops only between items.
 * The list is written with its newline: an empty write would change
 * nothing, "\n" clears the set.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "portreserve.h"

static bool bit_test(const uint8_t *map, unsigned int i)
{
	return map[i / 8] & (1u << (i % 8));
}

static void bit_set(uint8_t *map, unsigned int i)
{
	map[i / 8] |= (uint8_t)(1u << (i % 8));
}

static void bit_clear(uint8_t *map, unsigned int i)
{
	map[i / 8] &= (uint8_t)~(1u << (i % 8));
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* A decimal port at *p (digits only), advancing *p past it. */
static bool parse_port(const char **p, const char *end, unsigned int *port)
{
	const char *s = *p;
	unsigned int v = 0;

	if (s == end || *s < '0' || *s > '9')
		return false;
	for (; s < end && *s >= '0' && *s <= '9'; ++s) {
		v = v * 10 + (unsigned int)(*s - '0');
		if (v > 65535)
			return false;
	}
	*p = s;
	*port = v;
	return true;
}

bool fs_portlist_parse(uint8_t bitmap[FS_PORT_BITMAP_BYTES], const char *text)
{
	const char *p = text, *end = text + strlen(text);

	memset(bitmap, 0, FS_PORT_BITMAP_BYTES);
	while (p < end && is_space(*p))
		++p;
	while (end > p && is_space(end[-1]))
		--end;
	if (p == end)
		return true;
	for (;;) {
		unsigned int a, b;

		if (!parse_port(&p, end, &a))
			return false;
		b = a;
		if (p < end && *p == '-') {
			++p;
			if (!parse_port(&p, end, &b) || a > b)
				return false;
		}
		for (unsigned int i = a; i <= b; ++i)
			bit_set(bitmap, i);
		if (p == end)
			return true;
		if (*p != ',')
			return false;
		++p;
	}
}

/* Appends like snprintf into out[0 .. outlen), counting in *len what it needs. */
static void append(char *out, size_t outlen, size_t *len, const char *s, size_t n)
{
	if (*len + 1 < outlen) {
		size_t room = outlen - 1 - *len;

		memcpy(out + *len, s, n < room ? n : room);
	}
	*len += n;
}

size_t fs_portlist_format(char *out, size_t outlen, const uint8_t bitmap[FS_PORT_BITMAP_BYTES])
{
	size_t len = 0;
	unsigned int p = 0;

	while (p < 65536) {
		unsigned int a, b;
		char item[sizeof(",65535-65535")];
		int n;

		if (!bitmap[p / 8]) {		/* skip empty bytes whole */
			p = (p / 8 + 1) * 8;
			continue;
		}
		if (!bit_test(bitmap, p)) {
			++p;
			continue;
		}
		a = p;
		while (p + 1 < 65536 && bit_test(bitmap, p + 1))
			++p;
		b = p++;
		if (a == b)
			n = snprintf(item, sizeof(item), "%s%u", len ? "," : "", a);
		else
			n = snprintf(item, sizeof(item), "%s%u-%u", len ? "," : "", a, b);
		append(out, outlen, &len, item, (size_t)n);
	}
	if (outlen)
		out[len < outlen ? len : outlen - 1] = '\0';
	return len;
}

/* The whole file, NUL-terminated, into a new buffer: 0 or -errno. */
static int read_list(int fd, char **text)
{
	size_t size = FS_PORTLIST_TEXT_MAX + 1, len = 0;
	char *buf = malloc(size + 1);

	if (!buf)
		return -ENOMEM;
	while (len < size) {
		ssize_t n = read(fd, buf + len, size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;

			free(buf);
			return err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == size) {			/* longer than any list */
		free(buf);
		return -EINVAL;
	}
	buf[len] = '\0';
	*text = buf;
	return 0;
}

/* Writes bitmap as the new content of the file, from offset 0. */
static int write_list(int fd, const uint8_t *bitmap)
{
	size_t len = fs_portlist_format(NULL, 0, bitmap), off = 0;
	char *text = malloc(len + 2);
	int ret = 0;

	if (!text)
		return -ENOMEM;
	fs_portlist_format(text, len + 1, bitmap);
	text[len++] = '\n';
	/* A regular file (the tests) must lose its old tail; the sysctl ignores this. */
	if (lseek(fd, 0, SEEK_SET) < 0 || ftruncate(fd, 0) < 0) {
		ret = -errno;
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0) {
			ret = -EIO;
			goto out;
		}
		off += (size_t)n;
	}
out:
	free(text);
	return ret;
}

/*
 * Opens path, reads its list into a new bitmap and calls change on it; if
 * change returns true, writes the bitmap back. 0 or -errno.
 */
static int update(const char *path, bool (*change)(uint8_t *bitmap, void *arg), void *arg)
{
	uint8_t *bitmap = NULL;
	char *text = NULL;
	int fd, ret;

	fd = open(path ? path : FS_PORTS_SYSCTL_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = read_list(fd, &text);
	if (ret)
		goto out;
	bitmap = malloc(FS_PORT_BITMAP_BYTES);
	if (!bitmap) {
		ret = -ENOMEM;
		goto out;
	}
	if (!fs_portlist_parse(bitmap, text)) {
		ret = -EINVAL;
		goto out;
	}
	if (change(bitmap, arg))
		ret = write_list(fd, bitmap);
out:
	free(bitmap);
	free(text);
	if (close(fd) < 0 && !ret && errno != EINTR)
		ret = -errno;
	return ret;
}

struct range {
	unsigned int low, high;
	uint8_t *added;			/* reserve */
	const uint8_t *release;		/* release */
};

static bool add_range(uint8_t *bitmap, void *arg)
{
	struct range *r = arg;
	bool changed = false;

	for (unsigned int p = r->low; p <= r->high; ++p) {
		if (bit_test(bitmap, p))
			continue;
		bit_set(bitmap, p);
		bit_set(r->added, p - r->low);
		changed = true;
	}
	return changed;
}

static bool remove_added(uint8_t *bitmap, void *arg)
{
	struct range *r = arg;
	bool changed = false;

	for (unsigned int p = r->low; p <= r->high; ++p) {
		if (!bit_test(r->release, p - r->low) || !bit_test(bitmap, p))
			continue;
		bit_clear(bitmap, p);
		changed = true;
	}
	return changed;
}

int fs_ports_reserve(const char *path, uint16_t low, uint16_t high, uint8_t *added)
{
	struct range r = { .low = low, .high = high, .added = added };
	size_t bytes = ((size_t)high - low + 1 + 7) / 8;
	int ret;

	if (low == 0 || low > high)
		return -EINVAL;
	memset(added, 0, bytes);
	ret = update(path, add_range, &r);
	if (ret)
		memset(added, 0, bytes);	/* the set was not changed: nothing is ours */
	return ret;
}

int fs_ports_release(const char *path, uint16_t low, uint16_t high, const uint8_t *added)
{
	struct range r = { .low = low, .high = high, .release = added };

	if (low == 0 || low > high)
		return -EINVAL;
	return update(path, remove_added, &r);
}
