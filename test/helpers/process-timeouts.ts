// Bounds for tests that run `minimta` as a child process. tsx compiles the
// sources as the process starts: on the 2-core machine, with other suites
// running beside, one start has taken more than 15 s. The bounds are wide
// so that load never fails a test; a process that hangs still fails it.

/** How long one `minimta` child process may take to start, or to run to its exit. */
export const PROCESS_TIMEOUT_MS = 60_000;

/** A mocha timeout for a test that runs a few such processes one after another. */
export const PROCESS_TEST_TIMEOUT_MS = 4 * PROCESS_TIMEOUT_MS;
