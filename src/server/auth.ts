import type { createHash as CreateHash, timingSafeEqual as TimingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';

type Crypto = { createHash: typeof CreateHash; timingSafeEqual: typeof TimingSafeEqual };
let crypto: Crypto | undefined;

/**
 * Checks `Authorization: Bearer <token>` in constant time. Both sides are hashed first so the
 * comparison takes the same time whatever the lengths. node:crypto is loaded on first use: a
 * server without a token never pays for it at boot.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  crypto ??= createRequire(import.meta.url)('node:crypto') as Crypto;
  const presented = /^Bearer\s+(.+)$/i.exec(header?.trim() ?? '')?.[1] ?? '';
  const a = crypto.createHash('sha256').update(presented).digest();
  const b = crypto.createHash('sha256').update(token).digest();
  return crypto.timingSafeEqual(a, b) && presented.length > 0;
}
