// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fs_device_apply on a real device (no sockets, no workers): a set that
 * runs out of memory answers -ENOMEM and leaves the device as it was,
 * wherever the allocation fails. The failures come from fs_failpoint
 * (failpoint.h), defined here: the Kth allocation of the kinds it covers
 * fails, for K = 1, 2, ... until a set needs fewer than K of them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <criterion/criterion.h>
#include "leakcheck.h"
#include "config.h"
#include "device.h"
#include "failpoint.h"
#include "uapi.h"

FS_LEAK_CHECKED_SUITE(apply);

static unsigned int fail_at;		/* the hooked allocation that fails, 1-based; 0: none */
static int fail_kind = -1;		/* every hooked allocation of this kind fails; -1: none */
static unsigned int hooked;		/* hooked allocations since reset */
static unsigned int hooked_kind[3];	/* of them, per enum fs_failpoint */

bool fs_failpoint(enum fs_failpoint what)
{
	++hooked_kind[what];
	return ++hooked == fail_at || (int)what == fail_kind;
}

static void failpoint_reset(unsigned int at)
{
	fail_at = at;
	fail_kind = -1;
	hooked = 0;
	memset(hooked_kind, 0, sizeof(hooked_kind));
}

#define PRIVATE "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"
#define PEER_A "b2c3fbbfbe83d30c9d62a6c1a92f687188869ac9f98253e76553286956b32630"
#define PEER_B "0d7f650335caa765d582b1c63e97bc07dc992cdce81ee4b5e61a5159a82e694c"
#define PEER_C "adf6dd334d72e86c72977de33365cc86609bbf07616b68632195e5293c93095c"
#define PEER_D "3a5d3cbe5ee2f3a86c8553540c844c0ed6abefaa0b86cbd6c236f3df898ab1bb"

/* Three peers: endpoints, alternates, spread prefixes and ports. */
static const char base_set[] =
	"private_key=" PRIVATE "\n"
	"public_key=" PEER_A "\n"
	"endpoint=192.0.2.1:51820\n"
	"allowed_ip=10.0.1.0/24\n"
	"public_key=" PEER_B "\n"
	"endpoint=[2001:db8::2]:51820\n"
	"endpoint_alt=192.0.2.2:51820\n"
	"spread_prefix=2001:db8:b::/64\n"
	"spread_ports=40000-40063\n"
	"allowed_ip=10.0.2.0/24\n"
	"public_key=" PEER_C "\n"
	"allowed_ip=10.0.3.0/24\n";

/*
 * Changes every peer's endpoint table (endpoint_limit), the endpoints and
 * spread settings of existing peers (A twice), the device's spreading
 * settings, and adds a peer with its own.
 */
static const char change_set[] =
	"endpoint_limit=3\n"
	"spread_pairs=64\n"
	"public_key=" PEER_A "\n"
	"endpoint=192.0.2.11:51820\n"
	"endpoint_alt=192.0.2.12:51820\n"
	"public_key=" PEER_B "\n"
	"spread_prefix=2001:db8:c::/64\n"
	"spread_ports=\n"
	"public_key=" PEER_C "\n"
	"endpoint_alt=[2001:db8::3]:51820\n"
	"spread_ports=41000-41015\n"
	"public_key=" PEER_A "\n"
	"spread_prefix=198.51.100.0/28\n"
	"allowed_ip=10.0.4.0/24\n"
	"public_key=" PEER_D "\n"
	"endpoint=192.0.2.4:51820\n"
	"spread_prefix=2001:db8:d::/64\n"
	"allowed_ip=10.0.5.0/24\n";

static int apply_text(struct fs_device *dev, const char *text, char err[FS_ERRLEN])
{
	struct fs_config cfg;
	int ret = fs_config_parse(&cfg, text, strlen(text), err, FS_ERRLEN);

	cr_assert_eq(ret, 0, "parsing the test's set: %s", err);
	ret = fs_device_apply(dev, &cfg, err, FS_ERRLEN);
	fs_config_free(&cfg);
	return ret;
}

static char *get(struct fs_device *dev)
{
	size_t len;
	char *text = fs_uapi_get(dev, &len);

	cr_assert_not_null(text, "get: out of memory");
	return text;
}

static void device_up(struct fs_device *dev)
{
	char err[FS_ERRLEN];

	cr_assert_geq(sodium_init(), 0);
	urcu_memb_register_thread();
	cr_assert_eq(fs_device_init(dev, "fsunit0", 1), 0);
	failpoint_reset(0);
	cr_assert_eq(apply_text(dev, base_set, err), 0, "the base set: %s", err);
}

static void device_down(struct fs_device *dev)
{
	fs_device_destroy(dev);
	urcu_memb_unregister_thread();
}

/* The set with its Kth hooked allocation failing, for every K; returns how many failed. */
static unsigned int fail_everywhere(struct fs_device *dev, const char *set, const char *before)
{
	unsigned int k;

	for (k = 1;; ++k) {
		char err[FS_ERRLEN], *after;
		int ret;

		failpoint_reset(k);
		ret = apply_text(dev, set, err);
		if (hooked < k) {	/* the set needs fewer: it went through */
			cr_assert_eq(ret, 0, "with no allocation failing: %d (%s)", ret, err);
			break;
		}
		cr_assert_eq(ret, -ENOMEM, "allocation %u of %u failing: the set answered %d (%s), want -ENOMEM",
			     k, hooked, ret, err);
		cr_assert(strstr(err, "out of memory"), "allocation %u failing: error \"%s\" does not say out of memory",
			  k, err);
		after = get(dev);
		cr_assert_str_eq(after, before, "allocation %u failing (%s): the device changed", k, err);
		free(after);
	}
	return k - 1;
}

Test(apply, out_of_memory_at_every_allocation_changes_nothing)
{
	struct fs_device dev;
	char *before, *after;
	unsigned int failures;

	device_up(&dev);
	before = get(&dev);
	cr_assert(strstr(before, "endpoint_limit=8\n"), "the base set's get:\n%s", before);
	failures = fail_everywhere(&dev, change_set, before);
	/*
	 * The allocations the set needs: a table for each of the three peers
	 * for the new endpoint_limit; for A's first block a table and for its
	 * second a table and spread settings; for B a table and spread
	 * settings; for C a table and spread settings; D (new) its table and
	 * spread settings; the device's spread settings.
	 */
	cr_assert_eq(failures, 13, "the set failed at %u allocations, want 13", failures);
	cr_assert_eq(hooked_kind[FS_FAILPOINT_ENDPOINTS], 8, "%u endpoint tables, want 8",
		     hooked_kind[FS_FAILPOINT_ENDPOINTS]);
	cr_assert_eq(hooked_kind[FS_FAILPOINT_SPREAD], 5, "%u spread settings, want 5",
		     hooked_kind[FS_FAILPOINT_SPREAD]);
	failpoint_reset(0);

	/* The set went through whole in the end. */
	after = get(&dev);
	cr_assert(strstr(after, "endpoint_limit=3\n"), "get after the set:\n%s", after);
	cr_assert(strstr(after, "spread_pairs=64\n"), "get after the set:\n%s", after);
	cr_assert(strstr(after, "endpoint=192.0.2.11:51820\n"), "get after the set:\n%s", after);
	cr_assert(strstr(after, "spread_prefix=198.51.100.0/28\n"), "get after the set:\n%s", after);
	cr_assert(strstr(after, "spread_prefix=2001:db8:c::/64\n"), "get after the set:\n%s", after);
	cr_assert(strstr(after, "spread_ports=41000-41015\n"), "get after the set:\n%s", after);
	cr_assert(strstr(after, "endpoint=192.0.2.4:51820\n"), "get after the set:\n%s", after);
	cr_assert_null(strstr(after, "spread_ports=40000-40063\n"), "get after the set:\n%s", after);
	free(after);
	free(before);
	device_down(&dev);
}

/* A set of n new peers with random keys; their keys into keys (n of them). */
static char *many_peers_set(size_t n, uint8_t (*keys)[WG_KEY_LEN])
{
	const size_t line = sizeof("public_key=\n") + 2 * WG_KEY_LEN;
	char *text = malloc(n * line + 1), *at = text;

	cr_assert_not_null(text);
	for (size_t i = 0; i < n; ++i) {
		randombytes_buf(keys[i], WG_KEY_LEN);
		at += sprintf(at, "public_key=");
		sodium_bin2hex(at, 2 * WG_KEY_LEN + 1, keys[i], WG_KEY_LEN);
		at += 2 * WG_KEY_LEN;
		*at++ = '\n';
	}
	*at = '\0';
	return text;
}

/*
 * The peer table is sized once, in prepare, for the peers the set leaves
 * (1100 new and the base's 3: 1103 > 1024 chains, so 2048): one hooked
 * allocation, and when it fails the set fails whole.
 */
Test(apply, peer_table_sized_in_prepare)
{
	enum { N = 1100 };
	uint8_t (*keys)[WG_KEY_LEN] = malloc(N * sizeof(*keys));
	struct fs_device dev;
	char err[FS_ERRLEN], *before, *after, *set;
	int ret;

	cr_assert_not_null(keys);
	device_up(&dev);
	cr_assert_eq(dev.peer_hash_bits, FS_PEER_HASH_BITS_MIN);
	set = many_peers_set(N, keys);
	before = get(&dev);

	failpoint_reset(0);
	fail_kind = FS_FAILPOINT_PEER_HASH;
	ret = apply_text(&dev, set, err);
	cr_assert_eq(hooked_kind[FS_FAILPOINT_PEER_HASH], 1, "%u peer tables in prepare, want 1",
		     hooked_kind[FS_FAILPOINT_PEER_HASH]);
	cr_assert_eq(ret, -ENOMEM, "the peer table failing: %d (%s), want -ENOMEM", ret, err);
	cr_assert(strstr(err, "out of memory for a table of 1103 peers"), "error: %s", err);
	after = get(&dev);
	cr_assert_str_eq(after, before, "the peer table failing: the device changed");
	free(after);
	cr_assert_eq(dev.n_peers, 3);
	cr_assert_eq(dev.peer_hash_bits, FS_PEER_HASH_BITS_MIN);

	failpoint_reset(0);
	cr_assert_eq(apply_text(&dev, set, err), 0, "the set: %s", err);
	cr_assert_eq(hooked_kind[FS_FAILPOINT_PEER_HASH], 1, "%u peer tables, want 1",
		     hooked_kind[FS_FAILPOINT_PEER_HASH]);
	cr_assert_eq(dev.n_peers, 3 + N);
	cr_assert_eq(dev.peer_hash_bits, FS_PEER_HASH_BITS_MIN + 1, "table of %u bits, want %u",
		     dev.peer_hash_bits, FS_PEER_HASH_BITS_MIN + 1);
	for (size_t i = 0; i < N; ++i)
		cr_assert_not_null(fs_device_lookup_peer(&dev, keys[i]), "peer %zu of %d not found",
				   i + 1, N);

	/* The same peers again: the table is big enough, none is made. */
	failpoint_reset(0);
	cr_assert_eq(apply_text(&dev, set, err), 0, "the set again: %s", err);
	cr_assert_eq(hooked_kind[FS_FAILPOINT_PEER_HASH], 0);
	cr_assert_eq(dev.n_peers, 3 + N);
	free(set);
	free(keys);
	free(before);
	device_down(&dev);
}

/*
 * One key's blocks in one set each meet the peer the blocks before left
 * (the commit takes it from prepare): C removed then made anew with an
 * endpoint then given an allowed IP; E made then updated; F update_only
 * while absent.
 */
Test(apply, blocks_of_one_key_meet_the_peer_the_earlier_left)
{
	static const char set[] =
		"public_key=" PEER_C "\n"
		"remove=true\n"
		"public_key=" PEER_D "\n"
		"update_only=true\n"
		"endpoint=192.0.2.9:51820\n"
		"public_key=" PEER_C "\n"
		"endpoint=192.0.2.3:51820\n"
		"public_key=" PEER_C "\n"
		"allowed_ip=10.0.33.0/24\n"
		"public_key=" PEER_A "\n"
		"replace_allowed_ips=true\n"
		"allowed_ip=10.0.11.0/24\n"
		"public_key=" PEER_A "\n"
		"allowed_ip=10.0.12.0/24\n";
	struct fs_device dev;
	char err[FS_ERRLEN], *after, *c, *a;

	device_up(&dev);
	cr_assert_eq(apply_text(&dev, set, err), 0, "the set: %s", err);
	after = get(&dev);
	cr_assert_eq(dev.n_peers, 3, "%zu peers, want 3:\n%s", dev.n_peers, after);
	cr_assert_null(strstr(after, PEER_D), "update_only made D:\n%s", after);
	c = strstr(after, "public_key=" PEER_C "\n");
	a = strstr(after, "public_key=" PEER_A "\n");
	cr_assert(c && a, "get:\n%s", after);
	/* C is new: its old allowed IP went with the removal. */
	cr_assert(strstr(c, "endpoint=192.0.2.3:51820\n") &&
		  strstr(c, "allowed_ip=10.0.33.0/24\n"), "C:\n%s", after);
	cr_assert_null(strstr(after, "10.0.3.0/24"), "C kept its old allowed IP:\n%s", after);
	cr_assert(strstr(after, "allowed_ip=10.0.11.0/24\n") &&
		  strstr(after, "allowed_ip=10.0.12.0/24\n"), "A:\n%s", after);
	cr_assert_null(strstr(after, "10.0.1.0/24"), "A kept its old allowed IP:\n%s", after);
	free(after);
	device_down(&dev);
}
