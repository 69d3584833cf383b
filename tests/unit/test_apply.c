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
static unsigned int hooked;		/* hooked allocations since reset */
static unsigned int hooked_kind[2];	/* of them, per enum fs_failpoint */

bool fs_failpoint(enum fs_failpoint what)
{
	++hooked_kind[what];
	return ++hooked == fail_at;
}

static void failpoint_reset(unsigned int at)
{
	fail_at = at;
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
