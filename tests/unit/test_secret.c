// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Buffers that hold keys must not leave unwiped copies in freed memory.
 * This program is linked with --wrap=free --wrap=realloc: while a test
 * watches a pattern, every block freed, and every block realloc may move
 * away from (realloc never wipes the old one), is searched for it.
 */
#include <malloc.h>
#include <string.h>
#include <criterion/criterion.h>
#include "leakcheck.h"
#include "config.h"

void __real_free(void *ptr);
void *__real_realloc(void *ptr, size_t size);

static const uint8_t *pattern;	/* watched while set */
static size_t pattern_len;
static unsigned int left_behind;	/* freed blocks still holding it */

static void inspect(void *ptr)
{
	if (pattern && ptr && memmem(ptr, malloc_usable_size(ptr), pattern, pattern_len))
		++left_behind;
}

void __wrap_free(void *ptr)
{
	inspect(ptr);
	__real_free(ptr);
}

void *__wrap_realloc(void *ptr, size_t size)
{
	inspect(ptr);
	return __real_realloc(ptr, size);
}

FS_LEAK_CHECKED_SUITE(secret);

#define KEY_B "c6c8e0b8d2bdad0e1b6c2a0e49b0af9c16f3e5a6f4e1da1e6a2a53c0e8f4d3b1"
#define KEY_C "58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceae503bf9a61"

Test(secret, grown_block_is_wiped_and_copied)
{
	static const uint8_t secret[16] = "0123456789abcdef";
	uint8_t *block = malloc(64), *grown;

	cr_assert_not_null(block);
	memset(block, 0, 64);
	memcpy(block + 40, secret, sizeof(secret));
	pattern = secret;
	pattern_len = sizeof(secret);
	grown = fs_secret_realloc(block, 64, 4096);
	cr_assert_not_null(grown);
	cr_assert_eq(left_behind, 0, "the old block was freed with the secret in it");
	cr_assert(!memcmp(grown + 40, secret, sizeof(secret)), "the secret was not copied");
	/* Shrinking keeps the head. */
	grown = fs_secret_realloc(grown, 4096, 48);
	cr_assert_eq(left_behind, 0);
	cr_assert(!memcmp(grown + 40, secret, 8));
	pattern = NULL;
	free(grown);
}

/* The parser grows its array of peers, which hold the preshared keys. */
Test(secret, parser_leaves_no_preshared_key_in_freed_memory)
{
	uint8_t psk[WG_KEY_LEN];
	char text[8192] = "", err[FS_ERRLEN];
	struct fs_config cfg;

	cr_assert(fs_config_parse_key_hex(psk, KEY_C, err, sizeof(err)));
	for (int i = 0; i < 40; ++i)
		strcat(text, "public_key=" KEY_B "\npreshared_key=" KEY_C "\n");
	pattern = psk;
	pattern_len = sizeof(psk);
	cr_assert_eq(fs_config_parse(&cfg, text, strlen(text), err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.n_peers, 40);
	fs_config_free(&cfg);
	pattern = NULL;
	cr_assert_eq(left_behind, 0, "%u freed blocks held the preshared key", left_behind);
}
