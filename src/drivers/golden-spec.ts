import type { SandboxSpec } from './driver.js';

/**
 * The fixed spec and host environment every driver's golden test plans for, so the tests pin the
 * exact argv and environment each runtime gets. `AWS_SECRET_ACCESS_KEY` is set on the host but not
 * allowlisted: it must appear in no plan.
 */
export const GOLDEN_SPEC: SandboxSpec = {
  slots: 2,
  envAllowlist: ['HF_TOKEN', 'NOT_SET_ON_HOST'],
  env: { MODE: 'golden', SELF_URL: 'http://{{bindHost}}:{{port}}' },
  isolation: 'auto',
  token: 't0ken',
};

export const GOLDEN_HOST_ENV: NodeJS.ProcessEnv = {
  PATH: '/host/bin:/host/sbin',
  HOME: '/home/alice',
  USER: 'alice',
  HF_TOKEN: 'hf_123',
  AWS_SECRET_ACCESS_KEY: 'must-not-leak',
};

export const LEAK_MARKER = 'must-not-leak';
