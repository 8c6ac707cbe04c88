/**
 * Exit codes of `hpc-sandbox`, stable across versions so CI can branch on them.
 * 130 follows the shell convention for a run stopped by Ctrl-C.
 */
export const EXIT = {
  /** Every leg that ran passed (skipped legs were not required). */
  pass: 0,
  /** A check failed, a benchmark figure is beyond its reference, or the command itself failed. */
  failed: 1,
  /** Bad usage or configuration: unknown flag, invalid suite (with file:line), bad filter. */
  usage: 2,
  /** A required leg (--require / HPC_SANDBOX_REQUIRE) could not run here. */
  requiredUnavailable: 3,
  /** Stopped by Ctrl-C (SIGINT) after a graceful teardown. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit-code table for `--help`. */
export const EXIT_CODES_HELP = `Exit codes:
  0    pass (skipped legs were not required)
  1    a check failed or a benchmark figure is beyond its reference
  2    usage or configuration error (unknown flag, invalid suite with file:line)
  3    a required leg (--require, HPC_SANDBOX_REQUIRE) is unavailable here
  130  interrupted (Ctrl-C); a second Ctrl-C exits at once`;
