// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <sodium.h>
#include "allowedips.h"
#include "config.h"
#include "clock.h"
#include "device.h"
#include "endpoint.h"
#include "log.h"
#include "uapi.h"

enum {
	MAX_REQUEST = 16 << 20,		/* bytes of one request: wg setconf of 65536 allowed IPs is 3 MB */
	READ_CHUNK = 8192,
	REQUESTS_PER_CALL = 8,
	KEEP_OUT_CAP = 64 << 10,	/* an emptied answer buffer bigger than this is freed */
};

int fs_uapi_probe(const char *ifname)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, ret = 0;

	if ((size_t)snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s.sock", FS_UAPI_DIR,
			     ifname) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (!connect(fd, (struct sockaddr *)&addr, sizeof(addr)))
		ret = -EADDRINUSE;
	close(fd);
	return ret;
}

int fs_uapi_listen(const char *ifname, char path[sizeof(((struct sockaddr_un *)0)->sun_path)])
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	mode_t old_umask;
	int fd, ret;

	if (mkdir(FS_UAPI_DIR, 0755) && errno != EEXIST)
		return -errno;
	if ((size_t)snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s.sock", FS_UAPI_DIR,
			     ifname) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(path, addr.sun_path, sizeof(addr.sun_path));

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Someone answering there means the interface is already served. */
	if (!connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		close(fd);
		return -EADDRINUSE;
	}
	close(fd);
	unlink(addr.sun_path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	old_umask = umask(0077);
	ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_umask);
	if (ret || listen(fd, 64)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* ---- output buffer ---------------------------------------------------------- */

/* Holds the private and preshared keys of a get answer: grown by fs_secret_realloc. */
struct buf {
	char *data;
	size_t len, cap;
	bool failed;
};

static void buf_reserve(struct buf *b, size_t more)
{
	char *data;
	size_t cap;

	if (b->failed || b->len + more <= b->cap)
		return;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	data = fs_secret_realloc(b->data, b->cap, cap);
	if (!data) {
		b->failed = true;
		return;
	}
	b->data = data;
	b->cap = cap;
}

__attribute__((format(printf, 2, 3))) static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_reserve(b, (size_t)n + 1);
	if (b->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void buf_key(struct buf *b, const char *name, const uint8_t key[WG_KEY_LEN])
{
	static const char hex[] = "0123456789abcdef";
	char text[2 * WG_KEY_LEN + 1];

	for (int i = 0; i < WG_KEY_LEN; ++i) {
		text[2 * i] = hex[key[i] >> 4];
		text[2 * i + 1] = hex[key[i] & 15];
	}
	text[2 * WG_KEY_LEN] = '\0';
	buf_printf(b, "%s=%s\n", name, text);
	sodium_memzero(text, sizeof(text));
}

/* ---- get ---------------------------------------------------------------------- */

static bool print_allowed_ip(void *ctx, int family, const void *address, uint8_t cidr)
{
	struct fs_prefix prefix = { .family = family, .cidr = cidr };
	char text[FS_PREFIX_STRLEN];

	memcpy(&prefix.addr, address, family == AF_INET ? 4 : 16);
	buf_printf(ctx, "allowed_ip=%s\n", fs_prefix_format(text, &prefix));
	return true;
}

static void print_prefixes(struct buf *b, const struct fs_prefix *prefixes, size_t n)
{
	char text[FS_PREFIX_STRLEN];

	for (size_t i = 0; i < n; ++i)
		buf_printf(b, "spread_prefix=%s\n", fs_prefix_format(text, &prefixes[i]));
}

/* Read-only state: the endpoint table, one line per entry with an address. */
static void print_endpoint_table(struct buf *b, struct fs_peer *peer)
{
	char state[FS_ENDPOINT_STATE_STRLEN];
	uint64_t now = fs_clock_now();
	size_t size;

	pthread_mutex_lock(&peer->endpoints_lock);
	buf_printf(b, "endpoint_count=%zu\n", fs_endpoints_count(peer->endpoints));
	buf_printf(b, "endpoint_count_max=%zu\n", fs_endpoints_count_max(peer->endpoints));
	size = fs_endpoints_size(peer->endpoints);
	for (size_t i = 0; i < size; ++i)
		if (fs_endpoints_format_state(peer->endpoints, (int)i, now, state))
			buf_printf(b, "endpoint_state=%s\n", state);
	pthread_mutex_unlock(&peer->endpoints_lock);
}

static bool has_address(const struct fs_endpoint_entry *e)
{
	return e && e->addr.sa.sa_family != AF_UNSPEC;
}

/* Of two plain entries, the one heard from last; in table order without receives. */
static const struct fs_endpoint_entry *later(const struct fs_endpoint_entry *best,
					     const struct fs_endpoint_entry *e)
{
	if (!best || (e->has_rx && (!best->has_rx || e->last_rx > best->last_rx)))
		return e;
	return best;
}

/*
 * The peer's own endpoint, as `wg show` shows it and wg-quick saves it:
 * the endpoint table's current entry, unless that is a source inside the
 * peer's spread prefix (one of its flows' addresses, which changes with
 * the flow). Then the plain entry (configured, alt, learned or roaming)
 * heard from last, else the configured endpoint (the first), and only
 * if there is none the prefix address. Addresses that destination
 * spreading sends to are never in the table.
 */
static bool own_endpoint(struct fs_peer *peer, union fs_sockaddr *out)
{
	const struct fs_endpoint_entry *current, *best = NULL;
	struct fs_endpoint endpoint;
	bool has = false;

	pthread_mutex_lock(&peer->endpoints_lock);
	if (peer->endpoints) {
		size_t size = fs_endpoints_size(peer->endpoints);

		current = fs_endpoints_entry(peer->endpoints, fs_endpoints_current(peer->endpoints));
		if (has_address(current) && current->origin != FS_ENDPOINT_PREFIX)
			best = current;
		for (size_t i = 0; !best && i < size; ++i) {
			const struct fs_endpoint_entry *e = fs_endpoints_entry(peer->endpoints, (int)i);

			if (has_address(e) && e->origin != FS_ENDPOINT_PREFIX)
				best = later(best, e);
		}
		if (!best && has_address(current))
			best = current;
		if (best) {
			*out = best->addr;
			has = true;
		}
	}
	pthread_mutex_unlock(&peer->endpoints_lock);
	if (!peer->endpoints) {
		fs_peer_get_endpoint(peer, &endpoint, &has);
		*out = endpoint.addr;
	}
	return has;
}

/* Read-only state: whether the peer answers through our spread sources, per kind. */
static void print_spread_sources(struct buf *b, struct fs_peer *peer)
{
	char state[FS_SPREADPATH_STATE_STRLEN + 16];
	uint64_t now = fs_clock_now();

	for (int k = 0; k < FS_SPREADPATH_KINDS; ++k)
		if (fs_peer_spread_state(peer, k, now, state))
			buf_printf(b, "spread_source=%s\n", state);
}

static void print_peer(struct buf *b, struct fs_peer *peer)
{
	char text[FS_ENDPOINT_STRLEN];
	union fs_sockaddr endpoint;

	buf_key(b, "public_key", peer->noise->handshake.remote_static);
	buf_key(b, "preshared_key", peer->noise->handshake.preshared_key);
	buf_printf(b, "protocol_version=1\n");
	if (own_endpoint(peer, &endpoint))
		buf_printf(b, "endpoint=%s\n", fs_endpoint_format(text, &endpoint));
	buf_printf(b, "last_handshake_time_sec=%llu\n",
		   (unsigned long long)__atomic_load_n(&peer->last_handshake_sec, __ATOMIC_ACQUIRE));
	buf_printf(b, "last_handshake_time_nsec=%llu\n",
		   (unsigned long long)__atomic_load_n(&peer->last_handshake_nsec, __ATOMIC_RELAXED));
	buf_printf(b, "tx_bytes=%llu\n",
		   (unsigned long long)__atomic_load_n(&peer->tx_bytes, __ATOMIC_RELAXED));
	buf_printf(b, "rx_bytes=%llu\n",
		   (unsigned long long)__atomic_load_n(&peer->rx_bytes, __ATOMIC_RELAXED));
	buf_printf(b, "persistent_keepalive_interval=%u\n",
		   __atomic_load_n(&peer->persistent_keepalive, __ATOMIC_RELAXED));
	fs_allowedips_walk_by_peer(peer->device->allowedips, peer, print_allowed_ip, b);

	/* extensions, after the standard keys */
	for (size_t i = 0; i < peer->n_endpoint_alt; ++i)
		buf_printf(b, "endpoint_alt=%s\n", fs_endpoint_format(text, &peer->endpoint_alt[i]));
	print_prefixes(b, peer->spread_prefixes, peer->n_spread_prefixes);
	if (peer->has_spread_ports)
		buf_printf(b, "spread_ports=%u-%u\n", peer->spread_ports.low, peer->spread_ports.high);
	print_endpoint_table(b, peer);
	print_spread_sources(b, peer);
}

/*
 * dev->lock held; every FS_YIELD_PEERS peers it is dropped for queued
 * handshakes (fs_device_yield). The answer stays whole and consistent:
 * only the control thread (this one) adds or removes peers or changes the
 * configuration, in fs_device_apply and fs_device_destroy, which
 * fs_device_yield never reaches; so the peer under the cursor stays
 * linked and what was printed stays true. Counters and handshake times
 * move meanwhile, as they do under the lock (workers update them without).
 */
static void print_device(struct buf *b, struct fs_device *dev)
{
	struct fs_peer *peer;
	size_t printed = 0;

	if (dev->identity->has_identity)
		buf_key(b, "private_key", dev->identity->private_key);
	if (dev->listen_port || dev->configured_port)
		buf_printf(b, "listen_port=%u\n", dev->listen_port ? dev->listen_port :
			   dev->configured_port);
	if (dev->fwmark)
		buf_printf(b, "fwmark=%u\n", dev->fwmark);

	/* extensions, after the standard keys */
	print_prefixes(b, dev->spread_prefixes, dev->n_spread_prefixes);
	if (dev->spread_mode != FS_SPREAD_DEFAULT)
		buf_printf(b, "spread_mode=%s\n", fs_spread_mode_name(dev->spread_mode));
	if (dev->has_spread_ports)
		buf_printf(b, "spread_ports=%u-%u\n", dev->spread_ports.low, dev->spread_ports.high);
	buf_printf(b, "spread_pairs=%u\n", dev->spread_pairs);
	buf_printf(b, "endpoint_limit=%u\n", dev->endpoint_limit);
	buf_printf(b, "steer=%s\n", fs_steer_mode_name(dev->steer));
	if (dev->steer_qdisc_major)
		buf_printf(b, "steer_qdisc=%x:\n", dev->steer_qdisc_major);

	cds_list_for_each_entry(peer, &dev->peers, list) {
		print_peer(b, peer);
		if (++printed % FS_YIELD_PEERS == 0) {
			pthread_mutex_unlock(&dev->lock);
			fs_device_yield(dev);
			pthread_mutex_lock(&dev->lock);
		}
	}
}

char *fs_uapi_get(struct fs_device *dev, size_t *len)
{
	struct buf b = { 0 };

	pthread_mutex_lock(&dev->lock);
	print_device(&b, dev);
	pthread_mutex_unlock(&dev->lock);
	buf_reserve(&b, 1);
	if (b.failed) {
		if (b.data)
			sodium_memzero(b.data, b.cap);
		free(b.data);
		return NULL;
	}
	b.data[b.len] = '\0';
	*len = b.len;
	return b.data;
}

/* ---- connections ---------------------------------------------------------------- */

/*
 * One request is answered at a time: the next one is read (or taken from
 * what was read already) only once the answer before it is written out.
 * A client that sends and never reads is no longer read from, and a
 * connection holds at most one request (MAX_REQUEST) and one answer,
 * whatever the client does. At most REQUESTS_PER_CALL are answered per
 * call, so that one busy connection cannot keep the control thread from
 * handshakes, timers and the other connections.
 */

/* The buffer of the next answer: the connection's, emptied, is reused. */
static struct buf take_out(struct fs_uapi_conn *conn)
{
	struct buf b = { .data = conn->out, .cap = conn->out_cap };

	conn->out = NULL;
	conn->out_cap = conn->out_len = conn->out_off = 0;
	return b;
}

static void buf_wipe(struct buf *b)
{
	if (b->data)
		sodium_memzero(b->data, b->cap);
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* The refusal's reason, on one line: control characters become '?'. */
static void buf_error(struct buf *b, const char *reason)
{
	size_t len = strnlen(reason, FS_UAPI_ERROR_MAX);

	buf_reserve(b, sizeof("error=\n") + len);
	if (b->failed)
		return;
	memcpy(b->data + b->len, "error=", 6);
	b->len += 6;
	for (size_t i = 0; i < len; ++i) {
		unsigned char c = (unsigned char)reason[i];

		b->data[b->len++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	b->data[b->len++] = '\n';
}

/* Ends the answer in b (a refusal's reason, errno) and queues it. False: out of memory. */
static bool answer(struct fs_uapi_conn *conn, struct buf *b, int error, const char *reason)
{
	if (error && reason && reason[0])
		buf_error(b, reason);
	buf_printf(b, "errno=%d\n\n", error);
	if (b->failed) {
		buf_wipe(b);
		return false;
	}
	conn->out = b->data;
	conn->out_cap = b->cap;
	conn->out_len = b->len;
	conn->out_off = 0;
	return true;
}

static bool handle_get(struct fs_uapi_conn *conn, struct fs_device *dev)
{
	struct buf b = take_out(conn);

	pthread_mutex_lock(&dev->lock);
	print_device(&b, dev);
	pthread_mutex_unlock(&dev->lock);
	if (!b.failed)
		return answer(conn, &b, 0, NULL);
	buf_wipe(&b);
	return answer(conn, &b, -ENOMEM, NULL);
}

static void yield_device(void *dev)
{
	fs_device_yield(dev);
}

static bool handle_set(struct fs_uapi_conn *conn, struct fs_device *dev, const char *body,
		       size_t len)
{
	struct buf b = take_out(conn);
	struct fs_config cfg;
	char err[FS_ERRLEN];
	int ret;

	/* Parsing 10^5 peers takes a second: queued handshakes go first, every 256. */
	ret = fs_config_parse_yielding(&cfg, body, len, err, sizeof(err), yield_device, dev);
	if (!ret) {
		ret = fs_device_apply(dev, &cfg, err, sizeof(err));
		fs_config_free(&cfg);
	}
	if (ret)
		fs_log_error("UAPI: %s", err);
	else
		fs_log_debug("UAPI: configuration applied");
	return answer(conn, &b, ret, err);
}

/* Length of the first complete request in the buffer, 0 if incomplete, -1 if invalid. */
static ssize_t request_length(const char *in, size_t len)
{
	const char *end;

	if (!len)
		return 0;
	if (len < 6)
		return memcmp(in, "get=1\n", len) && memcmp(in, "set=1\n", len) ? -1 : 0;
	if (memcmp(in, "get=1\n", 6) && memcmp(in, "set=1\n", 6))
		return -1;
	end = memmem(in + 5, len - 5, "\n\n", 2);
	if (!end)
		return len >= MAX_REQUEST ? -1 : 0;
	return end + 2 - in;
}

/* Answers the request of req bytes at the head of the input, and drops it. */
static bool handle_request(struct fs_uapi_conn *conn, struct fs_device *dev, size_t req)
{
	bool ok;

	if (conn->in[0] == 'g') {
		if (req == 7) {
			ok = handle_get(conn, dev);
		} else {
			struct buf b = take_out(conn);

			ok = answer(conn, &b, -EINVAL, "get=1 takes no keys");
		}
	} else {
		ok = handle_set(conn, dev, conn->in + 6, req - 7);
	}
	sodium_memzero(conn->in, req);
	memmove(conn->in, conn->in + req, conn->in_len - req);
	conn->in_len -= req;
	return ok;
}

/* Reads once. 1: read something, 0: nothing there yet, -1: error. EOF sets conn->eof. */
static int read_more(struct fs_uapi_conn *conn)
{
	ssize_t n;

	if (conn->in_cap - conn->in_len < READ_CHUNK / 2) {
		size_t cap = conn->in_cap ? conn->in_cap * 2 : READ_CHUNK;
		char *in;

		if (cap > MAX_REQUEST + READ_CHUNK)
			cap = MAX_REQUEST + READ_CHUNK;
		in = fs_secret_realloc(conn->in, conn->in_cap, cap);
		if (!in)
			return -1;
		conn->in = in;
		conn->in_cap = cap;
	}
	n = read(conn->fd, conn->in + conn->in_len, conn->in_cap - conn->in_len);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (!n)
		conn->eof = true;
	conn->in_len += (size_t)n;
	return 1;
}

/* Writes what is pending. 1: more to write, 0: all written, -1: error. */
static int flush(struct fs_uapi_conn *conn)
{
	while (conn->out_off < conn->out_len) {
		ssize_t n = write(conn->fd, conn->out + conn->out_off, conn->out_len - conn->out_off);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 1 : -1;
		conn->out_off += (size_t)n;
	}
	if (conn->out) {
		sodium_memzero(conn->out, conn->out_len);
		/* A big answer's buffer is not kept while the connection idles. */
		if (conn->out_cap > KEEP_OUT_CAP) {
			free(conn->out);
			conn->out = NULL;
			conn->out_cap = 0;
		}
	}
	conn->out_len = conn->out_off = 0;
	return 0;
}

enum fs_uapi_want fs_uapi_conn_serve(struct fs_uapi_conn *conn, struct fs_device *dev)
{
	for (unsigned int answered = 0;;) {
		int ret = flush(conn);
		ssize_t req;

		if (ret)
			return ret < 0 ? FS_UAPI_CLOSE : FS_UAPI_WANT_WRITE;
		req = request_length(conn->in, conn->in_len);
		if (req < 0) {
			fs_log_error("UAPI: invalid operation; closing the connection");
			return FS_UAPI_CLOSE;
		}
		if (req > 0) {
			/* Writable at once: the next call answers the next request. */
			if (answered++ == REQUESTS_PER_CALL)
				return FS_UAPI_WANT_WRITE;
			if (!handle_request(conn, dev, (size_t)req))
				return FS_UAPI_CLOSE;
			continue;
		}
		if (conn->eof)
			return FS_UAPI_CLOSE;
		ret = read_more(conn);
		if (ret <= 0)
			return ret < 0 ? FS_UAPI_CLOSE : FS_UAPI_WANT_READ;
	}
}

void fs_uapi_conn_free(struct fs_uapi_conn *conn)
{
	if (conn->fd >= 0)
		close(conn->fd);
	if (conn->in)
		sodium_memzero(conn->in, conn->in_cap);
	if (conn->out)
		sodium_memzero(conn->out, conn->out_cap);
	free(conn->in);
	free(conn->out);
	free(conn);
}
