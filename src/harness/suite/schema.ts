import { z } from 'zod';
import { DRIVER_NAMES, type DriverName } from '../../drivers/driver.js';
import { SCHEDULER_NAMES, type SchedulerName } from '../../schedulers/scheduler.js';
import { checkNames, findCheck } from '../checks/registry.js';
import { ANY_LEG } from '../references.js';

const STARTUP_MODES = ['sequential', 'staggered', 'burst', 'warm'] as const;

function oneOf(kind: string, names: readonly string[]) {
  return (issue: { input?: unknown }) =>
    issue.input === undefined
      ? `missing ${kind}; expected one of: ${names.join(', ')}`
      : `unknown ${kind} ${JSON.stringify(issue.input)}; expected one of: ${names.join(', ')}`;
}

const schedulerName = z.enum(SCHEDULER_NAMES as [SchedulerName, ...SchedulerName[]], { error: oneOf('scheduler', SCHEDULER_NAMES) });
const driverName = z.enum(DRIVER_NAMES as [DriverName, ...DriverName[]], { error: oneOf('driver', DRIVER_NAMES) });
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name ([A-Za-z_][A-Za-z0-9_]*)' });

const matrixSchema = z
  .object({
    scheduler: z.array(schedulerName).min(1),
    driver: z.array(driverName).min(1),
    /** Cells left out of the matrix, e.g. `{scheduler: slurm, driver: docker}`. */
    exclude: z.array(z.object({ scheduler: schedulerName, driver: driverName }).strict()).default([]),
  })
  .strict()
  .superRefine((matrix, ctx) => {
    // An exclusion that matches no cell is a typo or a stale line: it would silently exclude nothing.
    matrix.exclude.forEach((cell, index) => {
      if (!matrix.scheduler.includes(cell.scheduler) || !matrix.driver.includes(cell.driver)) {
        ctx.addIssue({
          code: 'custom',
          path: ['exclude', index],
          message: `excludes ${cell.scheduler} x ${cell.driver}, which is not a cell of the matrix (scheduler: ${matrix.scheduler.join(', ')}; driver: ${matrix.driver.join(', ')})`,
          input: cell,
        });
      }
    });
  });

const sandboxSchema = z
  .object({
    slots: z.number().int().min(1).max(64).default(4),
    ports: z.enum(['dynamic', 'static'], { error: oneOf('port mode', ['dynamic', 'static']) }).default('dynamic'),
    /** Host port for `ports: static`. */
    port: z.number().int().min(1).max(65535).optional(),
    envAllowlist: z.array(envName).default([]),
    env: z.record(envName, z.string()).default({}),
    isolation: z.enum(['auto', 'require', 'off'], { error: oneOf('isolation mode', ['auto', 'require', 'off']) }).default('auto'),
    token: z.string().min(1).optional(),
    unconfined: z.boolean().optional(),
    /** Image per driver; a driver without an entry uses its default image. */
    images: z.partialRecord(driverName, z.string().min(1)).default({}),
    /** How long a placement may take to answer /health. */
    healthTimeoutMs: z.number().int().positive().default(120_000),
    /** Grants: host paths every slot sees (a dataset read-only, a shared scratch read-write). */
    expose: z
      .array(
        z
          .object({
            source: z.string().startsWith('/', { error: 'must be an absolute host path' }),
            dest: z.string().startsWith('/', { error: 'must be an absolute path inside the sandbox' }).optional(),
            mode: z.enum(['ro', 'rw'], { error: oneOf('grant mode', ['ro', 'rw']) }).default('ro'),
          })
          .strict(),
      )
      .default([]),
  })
  .strict()
  .superRefine((sandbox, ctx) => {
    if (sandbox.ports === 'static' && sandbox.port === undefined) {
      ctx.addIssue({ code: 'custom', path: ['port'], message: '`ports: static` needs `port: <1-65535>`', input: sandbox.port });
    }
    if (sandbox.ports === 'dynamic' && sandbox.port !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['port'], message: '`port` is only allowed with `ports: static`', input: sandbox.port });
    }
  });

const nomadSchema = z
  .object({
    /** Boot a local Nomad agent (or its test double) when none is reachable. */
    bootAgent: z.boolean().default(true),
  })
  .strict();

const checkEntrySchema = z.union(
  [
    z.string(),
    z
      .object({
        name: z.string(),
        options: z.record(z.string(), z.unknown()).default({}),
      })
      .strict(),
  ],
  { error: 'expected a check name or `{ name, options }`' },
);

const checksSchema = z
  .array(checkEntrySchema)
  .min(1)
  .transform((entries, ctx) => {
    const out: Array<{ name: string; options: Record<string, unknown> }> = [];
    entries.forEach((entry, index) => {
      const name = typeof entry === 'string' ? entry : entry.name;
      const check = findCheck(name);
      const namePath = typeof entry === 'string' ? [index] : [index, 'name'];
      if (!check) {
        ctx.addIssue({
          code: 'custom',
          path: namePath,
          message: `unknown check ${JSON.stringify(name)}; expected one of: ${checkNames().join(', ')}`,
          input: name,
        });
        return;
      }
      if (out.some((c) => c.name === name)) {
        ctx.addIssue({ code: 'custom', path: namePath, message: `check ${JSON.stringify(name)} is listed twice`, input: name });
        return;
      }
      const parsed = check.options.safeParse(typeof entry === 'string' ? {} : entry.options);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          ctx.addIssue({ ...issue, path: [index, 'options', ...issue.path] } as Parameters<typeof ctx.addIssue>[0]);
        }
        return;
      }
      out.push({ name, options: parsed.data });
    });
    return out;
  });

const startupBenchmarkSchema = z
  .object({
    modes: z.array(z.enum(STARTUP_MODES, { error: oneOf('startup mode', STARTUP_MODES) })).min(1).default(['sequential']),
    /** Measured startups per mode. */
    iterations: z.number().int().min(1).default(10),
    /** Delay between submissions in `staggered` mode. */
    staggerMs: z.number().int().min(0).default(200),
    /** Placements submitted at once in `burst` mode. */
    burstSize: z.number().int().min(1).default(4),
    /** Startups run first and discarded (image and page caches warm up). */
    warmup: z.number().int().min(0).default(1),
  })
  .strict();

const referenceSchema = z
  .object({
    value: z.number(),
    lower: z.number().nullable(),
    upper: z.number().nullable(),
    unit: z.string().min(1),
  })
  .strict()
  .superRefine((ref, ctx) => {
    if (ref.lower !== null && ref.upper !== null && ref.lower > ref.upper) {
      ctx.addIssue({ code: 'custom', path: ['lower'], message: `lower (${ref.lower}) is above upper (${ref.upper})`, input: ref.lower });
    }
  });

const LEG_KEY = new RegExp(`^(${SCHEDULER_NAMES.join('|')}) x (${DRIVER_NAMES.join('|')})$`);
const legKey = z.string().refine((key) => key === ANY_LEG || LEG_KEY.test(key), {
  error: (issue) =>
    `unknown leg ${JSON.stringify(issue.input)}; expected "${ANY_LEG}" or "<scheduler> x <driver>" such as "local x docker"`,
});
const metricName = z.string().regex(/^[a-z][A-Za-z0-9]*(\.[A-Za-z0-9-]+)+$/, {
  error: 'expected a metric name such as startup.median or startup.p95',
});

const systemName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, {
  error: 'expected a system name such as ci-2core or cluster:partition (letters, digits, . _ : -)',
});

/** The zod schema of a suite file: the single source of truth for its shape and defaults. */
export const SuiteSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { error: 'expected a kebab-case name (a-z, 0-9, -)' }),
    description: z.string().default(''),
    matrix: matrixSchema,
    sandbox: sandboxSchema.default(() => sandboxSchema.parse({})),
    nomad: nomadSchema.default({ bootAgent: true }),
    checks: checksSchema.default([]),
    benchmarks: z.object({ startup: startupBenchmarkSchema.optional() }).strict().default({}),
    references: z.record(legKey, z.record(metricName, referenceSchema)).default({}),
    /**
     * Absolute references measured on one system (ReFrame's `system:partition`): system name
     * (`--system`, HPC_SANDBOX_SYSTEM, the site profile's name) -> leg or `*` -> metric. They
     * apply only on that system; `references` apply everywhere.
     */
    systemReferences: z.record(systemName, z.record(legKey, z.record(metricName, referenceSchema))).default({}),
  })
  .strict()
  .superRefine((suite, ctx) => {
    // A reference for a leg the matrix does not have (a typo, a driver since removed) would judge nothing.
    const tables: Array<[Array<string>, Record<string, unknown>]> = [
      [['references'], suite.references],
      ...Object.entries(suite.systemReferences).map(([system, table]): [string[], Record<string, unknown>] => [['systemReferences', system], table]),
    ];
    for (const [where, table] of tables) for (const key of Object.keys(table)) {
      const cell = LEG_KEY.exec(key);
      if (!cell) continue; // not a leg name at all: legKey already said so
      const [, scheduler, driver] = cell as unknown as [string, SchedulerName, DriverName];
      if (!suite.matrix.scheduler.includes(scheduler) || !suite.matrix.driver.includes(driver)) {
        ctx.addIssue({
          code: 'custom',
          path: [...where, key],
          message: `leg "${key}" is not a cell of the matrix (scheduler: ${suite.matrix.scheduler.join(', ')}; driver: ${suite.matrix.driver.join(', ')})`,
          input: key,
        });
      }
    }
  });

/** A suite as written (defaults optional): what `defineSuite` accepts. */
export type SuiteInput = z.input<typeof SuiteSchema>;
/** A suite after validation, every default applied. */
export type SuiteConfig = z.output<typeof SuiteSchema>;
export type StartupBenchmarkConfig = z.output<typeof startupBenchmarkSchema>;

/**
 * Identity helper that types a suite written in TypeScript (as vitest's `defineConfig`).
 *
 * @example
 * export default defineSuite({ name: 'smoke', matrix: { scheduler: ['local'], driver: ['process'] }, checks: ['bash'] });
 */
export function defineSuite(suite: SuiteInput): SuiteInput {
  return suite;
}
