// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The device's control thread between the UAPI and handshakes: a get of
 * many peers, a set that adds many (yielding as it prepares them) and a
 * set of many blocks through the UAPI (yielding as it parses them) answer
 * a handshake initiation queued before them part-way through
 * (fs_device_yield), and still give a whole answer and apply the set
 * whole.
 *
 * A real device (fs_device_init, not started: no sockets, no workers)
 * configured through fs_device_apply, and a real initiation from one of
 * its peers, made by the noise core with that peer's own identity, put
 * on the queue the workers use. Nothing else runs: the test thread is
 * the control thread, so whatever empties the queue is the get or the
 * set itself, and the count of peers between yields is fixed
 * (FS_YIELD_PEERS), so nothing depends on timing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <urcu/urcu-memb.h>
#include "helpers.h"
#include "leakcheck.h"
#include "config.h"
#include "device.h"
#include "uapi.h"

/* More than two yields' worth, and not a multiple of it. */
#define N_PEERS (2 * FS_YIELD_PEERS + 10)

static void rcu_up(void)
{
	urcu_memb_register_thread();
}

static void rcu_down(void)
{
	urcu_memb_barrier();
	urcu_memb_unregister_thread();
}

TestSuite(device, .init = rcu_up, .fini = rcu_down);

/* A peer of the device that initiates to it, with its own identity and index table. */
struct initiator {
	struct fs_noise_identity *identity;
	struct fs_index_table *table;
	struct fs_noise_peer *noise;
	char public_hex[2 * WG_KEY_LEN + 1];
};

struct text {
	char *data;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	cr_assert_geq(n, 0);
	if (t->len + (size_t)n + 1 > t->cap) {
		t->cap = (t->len + (size_t)n + 1) * 2;
		t->data = realloc(t->data, t->cap);
		cr_assert_not_null(t->data);
	}
	va_start(ap, fmt);
	vsnprintf(t->data + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

static void random_key_hex(char out[2 * WG_KEY_LEN + 1])
{
	uint8_t key[WG_KEY_LEN];

	randombytes_buf(key, sizeof(key));
	fs_test_tohex(out, key, sizeof(key));
}

/* Parses and applies a set body; the set must succeed. */
static void apply(struct fs_device *dev, const struct text *body)
{
	struct fs_config cfg;
	char err[FS_ERRLEN];

	cr_assert_eq(fs_config_parse(&cfg, body->data, body->len, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(fs_device_apply(dev, &cfg, err, sizeof(err)), 0, "%s", err);
	fs_config_free(&cfg);
}

/*
 * n peers with random keys (allowed IPs fd00:1:i:1::/64), the initiator's
 * own after "before" of them when with_initiator; key_hex[i] the key of
 * the i-th random one.
 */
static void add_peers(struct text *body, size_t n, size_t before, bool with_initiator,
		      const struct initiator *in, char (*key_hex)[2 * WG_KEY_LEN + 1])
{
	for (size_t i = 0; i < n; ++i) {
		if (with_initiator && i == before)
			text_add(body, "public_key=%s\nallowed_ip=192.0.2.9/32\n", in->public_hex);
		random_key_hex(key_hex[i]);
		text_add(body, "public_key=%s\nallowed_ip=fd00:1:%zx:1::/64\n", key_hex[i], i);
	}
	if (with_initiator && before == n)
		text_add(body, "public_key=%s\nallowed_ip=192.0.2.9/32\n", in->public_hex);
}

/* A device with our private key; the initiator knows our public key. */
static void device_up(struct fs_device *dev, struct initiator *in)
{
	struct text body = { 0 };
	char private_hex[2 * WG_KEY_LEN + 1];
	uint8_t private_key[WG_KEY_LEN];

	fs_test_sodium_init();
	cr_assert_eq(fs_device_init(dev, "fsunit0", 1), 0);
	fs_noise_generate_private(private_key);
	fs_test_tohex(private_hex, private_key, sizeof(private_key));
	text_add(&body, "private_key=%s\nlisten_port=51820\n", private_hex);
	apply(dev, &body);
	free(body.data);
	sodium_memzero(private_key, sizeof(private_key));
	sodium_memzero(private_hex, sizeof(private_hex));
	cr_assert(dev->identity->has_identity);

	in->identity = fs_test_identity_new();
	in->table = fs_index_table_new();
	cr_assert_not_null(in->table);
	in->noise = fs_noise_peer_new(in->identity, dev->identity->public_key, NULL, in);
	cr_assert_not_null(in->noise);
	fs_test_tohex(in->public_hex, in->identity->public_key, WG_KEY_LEN);
}

static void initiator_free(struct initiator *in)
{
	fs_noise_peer_free(in->noise, in->table);
	fs_index_table_free(in->table);
	fs_noise_identity_free(in->identity);
}

/* Queues a fresh initiation from the initiator, from 192.0.2.9:51820, as a worker would. */
static void queue_initiation(struct fs_device *dev, struct initiator *in)
{
	struct fs_handshake_item item = { 0 };
	struct wg_message_handshake_initiation msg;
	uint8_t timestamp[WG_TIMESTAMP_LEN];

	fs_tai64n_from(timestamp, (uint64_t)time(NULL), 0);
	cr_assert(fs_noise_create_initiation(in->noise, &msg, in->table, timestamp));
	fs_cookie_add_macs(&in->noise->cookie, &msg, sizeof(msg), fs_clock_now());
	item.src.in = fs_test_addr4("192.0.2.9", 51820);
	item.local.addr.in = fs_test_addr4("192.0.2.1", 51820);
	item.len = sizeof(msg);
	memcpy(item.msg, &msg, sizeof(msg));
	cr_assert(fs_device_queue_handshake(dev, &item));
	cr_assert_eq(dev->handshake_count, 1);
}

/* The device's peer for the initiator answered the initiation: a response was made. */
static void assert_answered(struct fs_device *dev, const struct initiator *in)
{
	struct fs_peer *peer = fs_device_lookup_peer(dev, in->identity->public_key);

	cr_assert_eq(dev->handshake_count, 0, "the initiation is still queued");
	cr_assert_eq(dev->drops.handshake_invalid, 0);
	cr_assert_not_null(peer);
	cr_assert_not_null(peer->noise->next,
			   "no session began: the initiation was not answered with a response");
	cr_assert_eq(peer->noise->handshake.state, FS_HANDSHAKE_ZEROED);
}

/* The key=value line after *at that starts with key, or NULL; *at moves past it. */
static const char *next_line(const char **at, const char *key)
{
	size_t klen = strlen(key);
	const char *p = *at;

	while (*p) {
		const char *end = strchr(p, '\n');

		cr_assert_not_null(end);
		if (!strncmp(p, key, klen)) {
			*at = end + 1;
			return p + klen;
		}
		p = end + 1;
	}
	return NULL;
}

Test(device, get_answers_queued_handshakes_part_way)
{
	static char keys[N_PEERS][2 * WG_KEY_LEN + 1];
	struct fs_device dev;
	struct initiator in;
	struct text body = { 0 };
	const char *at, *value;
	char *answer;
	size_t len;

	device_up(&dev, &in);
	/* The initiator last: its block is printed after the first yield. */
	add_peers(&body, N_PEERS, N_PEERS, true, &in, keys);
	apply(&dev, &body);
	free(body.data);
	cr_assert_eq(dev.n_peers, N_PEERS + 1);

	queue_initiation(&dev, &in);
	answer = fs_uapi_get(&dev, &len);
	cr_assert_not_null(answer);
	assert_answered(&dev, &in);

	/* Whole: every peer once, in order, each with its allowed IP. */
	at = answer;
	for (size_t i = 0; i < N_PEERS; ++i) {
		char ip[32];

		value = next_line(&at, "public_key=");
		cr_assert_not_null(value, "peer %zu of %d missing from the answer", i + 1, N_PEERS);
		cr_assert_eq(strncmp(value, keys[i], 2 * WG_KEY_LEN), 0, "peer %zu out of order", i + 1);
		value = next_line(&at, "allowed_ip=");
		cr_assert_not_null(value);
		snprintf(ip, sizeof(ip), "fd00:1:%zx:1::/64\n", i);
		cr_assert_eq(strncmp(value, ip, strlen(ip)), 0, "peer %zu: allowed_ip=%.24s", i + 1,
			     value);
	}
	/* The initiator's block shows the endpoint its initiation taught, mid-get. */
	value = next_line(&at, "public_key=");
	cr_assert_not_null(value);
	cr_assert_eq(strncmp(value, in.public_hex, 2 * WG_KEY_LEN), 0);
	value = next_line(&at, "endpoint=");
	cr_assert_not_null(value, "the initiator's block has no endpoint");
	cr_assert_eq(strncmp(value, "192.0.2.9:51820\n", 16), 0, "endpoint=%.20s", value);
	cr_assert_null(next_line(&at, "public_key="), "more peers than configured");
	cr_assert_eq(answer[len], '\0');

	sodium_memzero(answer, len);
	free(answer);
	fs_device_destroy(&dev);
	initiator_free(&in);
}

Test(device, set_answers_queued_handshakes_while_preparing)
{
	static char keys[N_PEERS][2 * WG_KEY_LEN + 1];
	struct fs_device dev;
	struct initiator in;
	struct text body = { 0 };
	char *answer;
	size_t len;

	device_up(&dev, &in);
	add_peers(&body, 0, 0, true, &in, keys);
	apply(&dev, &body);
	body.len = 0;

	queue_initiation(&dev, &in);
	add_peers(&body, N_PEERS, 0, false, &in, keys);
	apply(&dev, &body);
	free(body.data);
	assert_answered(&dev, &in);

	/* Applied whole: every new peer is there. */
	cr_assert_eq(dev.n_peers, N_PEERS + 1);
	for (size_t i = 0; i < N_PEERS; ++i) {
		uint8_t key[WG_KEY_LEN];

		fs_test_unhex(key, sizeof(key), keys[i]);
		cr_assert_not_null(fs_device_lookup_peer(&dev, key), "peer %zu of %d missing", i + 1,
				   N_PEERS);
	}
	answer = fs_uapi_get(&dev, &len);
	cr_assert_not_null(answer);
	sodium_memzero(answer, len);
	free(answer);
	fs_device_destroy(&dev);
	initiator_free(&in);
}

Test(device, set_answers_queued_handshakes_while_parsing)
{
	static char keys[N_PEERS][2 * WG_KEY_LEN + 1];
	struct fs_device dev;
	struct initiator in;
	struct text body = { 0 }, request = { 0 };
	struct fs_uapi_conn *conn;
	char answer[64];
	ssize_t n;
	int sv[2];

	device_up(&dev, &in);
	add_peers(&body, N_PEERS, 0, true, &in, keys);
	apply(&dev, &body);
	free(body.data);

	/*
	 * A set that creates no peer (so prepare has nothing to yield for),
	 * through the UAPI: persistent keepalive on every peer there is.
	 */
	text_add(&request, "set=1\npublic_key=%s\npersistent_keepalive_interval=25\n", in.public_hex);
	for (size_t i = 0; i < N_PEERS; ++i)
		text_add(&request, "public_key=%s\npersistent_keepalive_interval=25\n", keys[i]);
	text_add(&request, "\n");
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	cr_assert_eq(write(sv[0], request.data, request.len), (ssize_t)request.len);
	conn = calloc(1, sizeof(*conn));
	cr_assert_not_null(conn);
	conn->fd = sv[1];

	queue_initiation(&dev, &in);
	cr_assert_eq(fs_uapi_conn_serve(conn, &dev), FS_UAPI_WANT_READ);
	n = read(sv[0], answer, sizeof(answer) - 1);
	cr_assert_gt(n, 0);
	answer[n] = '\0';
	cr_assert_str_eq(answer, "errno=0\n\n");
	assert_answered(&dev, &in);

	/* Applied whole. */
	cr_assert_eq(dev.n_peers, N_PEERS + 1);
	for (size_t i = 0; i < N_PEERS; ++i) {
		uint8_t key[WG_KEY_LEN];
		struct fs_peer *peer;

		fs_test_unhex(key, sizeof(key), keys[i]);
		peer = fs_device_lookup_peer(&dev, key);
		cr_assert_not_null(peer);
		cr_assert_eq(peer->persistent_keepalive, 25, "peer %zu of %d", i + 1, N_PEERS);
	}
	fs_uapi_conn_free(conn);
	close(sv[0]);
	free(request.data);
	fs_device_destroy(&dev);
	initiator_free(&in);
}
