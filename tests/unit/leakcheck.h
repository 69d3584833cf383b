/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Criterion runs each test in a child whose exit status it ignores once the
 * test has passed, and ignores assertions in .fini, so LeakSanitizer's
 * report at exit would fail nothing. FS_LEAK_CHECKED_SUITE(name) declares
 * a suite that checks for leaks after each test and crashes on one: a
 * crash is counted. Without AddressSanitizer the check is a no-op.
 */
#ifndef FLOWSPREAD_TESTS_LEAKCHECK_H
#define FLOWSPREAD_TESTS_LEAKCHECK_H

#include <stdlib.h>
#include <criterion/criterion.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define __SANITIZE_ADDRESS__ 1		/* clang's spelling of gcc's macro */
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
static inline void fs_test_check_leaks(void)
{
	if (__lsan_do_recoverable_leak_check())
		abort();
}
#else
static inline void fs_test_check_leaks(void)
{
}
#endif

#define FS_LEAK_CHECKED_SUITE(name) TestSuite(name, .fini = fs_test_check_leaks)

#endif
