/* test_exec_omp: how idle OpenMP threads wait (exec_omp_setup, src/exec/exec_omp.c).
 * The decision itself (exec_omp_busy) against the cases it was built for, and the whole
 * mechanism end to end: this program calls exec_omp_setup first thing, as recur's main does, so
 * it runs again with the chosen variable in its environment; a variable the user set is kept
 * and nothing is run again. */
#define _DEFAULT_SOURCE /* setenv under -std=c11 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "exec/exec.h"

/* The user's variables as this program first found them ("-" for unset), carried across the
 * re-exec in an environment variable of the test's own. */
#define ORIG_VAR "TEST_EXEC_OMP_ORIG"
static char **test_argv;

/* The decision: busy when the other runnable tasks fill the CPUs, or when there are some and
 * the load average says the machine has been busy; a passing task on an idle machine, or a
 * lagging load average with nothing running now, is not busy. */
static void test_busy_decision(void **state)
{
    (void)state;
    assert_false(exec_omp_busy(2, 0, 0.0));
    assert_false(exec_omp_busy(2, 0, 7.5)); /* a job just ended: the load average lags */
    assert_false(exec_omp_busy(2, 1, 0.3)); /* one task passing, a CPU to spare */
    assert_false(exec_omp_busy(2, 1, 1.99));
    assert_true(exec_omp_busy(2, 1, 2.0)); /* some running, and the load at the CPU count */
    assert_true(exec_omp_busy(2, 2, 0.0)); /* as many as the CPUs */
    assert_true(exec_omp_busy(2, 5, 0.0));
    assert_false(exec_omp_busy(8, 7, 0.0));
    assert_true(exec_omp_busy(8, 8, 0.0));
    assert_true(exec_omp_busy(0, 1, 0.0)); /* an unknown CPU count counts as 1 */
    assert_false(exec_omp_busy(-1, 0, 9.0));
}

/* After the setup at the start of main: exactly one of the two variables, with recur's value,
 * when the user set neither; the user's own, untouched, otherwise. */
static void test_setup_chose(void **state)
{
    (void)state;
    const char *orig = getenv(ORIG_VAR);
    assert_non_null(orig);
    const char *policy = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    if (strcmp(orig, "-,-") == 0) {
        assert_true((policy != NULL) != (spin != NULL));
        if (policy)
            assert_string_equal(policy, "PASSIVE");
        else
            assert_string_equal(spin, "3000");
    } else {
        char now[512];
        snprintf(now, sizeof now, "%s,%s", policy ? policy : "-", spin ? spin : "-");
        assert_string_equal(now, orig);
    }
}

/* A variable the user set is respected: the setup returns at once (were it to run the program
 * again, this test would start over and never end) and changes neither variable. */
static void test_setup_respects_user(void **state)
{
    (void)state;
    const char *spin = getenv("GOMP_SPINCOUNT");
    char *saved = spin ? strdup(spin) : NULL;
    assert_int_equal(setenv("GOMP_SPINCOUNT", "123", 1), 0);
    exec_omp_setup(test_argv);
    assert_string_equal(getenv("GOMP_SPINCOUNT"), "123");
    exec_omp_setup(NULL); /* no argv: nothing to run again */
    if (saved)
        setenv("GOMP_SPINCOUNT", saved, 1);
    else
        unsetenv("GOMP_SPINCOUNT");
    free(saved);
}

int main(int argc, char **argv)
{
    (void)argc;
    test_argv = argv;
    if (!getenv(ORIG_VAR)) {
        const char *policy = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
        char orig[512];
        snprintf(orig, sizeof orig, "%s,%s", policy ? policy : "-", spin ? spin : "-");
        setenv(ORIG_VAR, orig, 1);
    }
    exec_omp_setup(argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_busy_decision),
        cmocka_unit_test(test_setup_chose),
        cmocka_unit_test(test_setup_respects_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
