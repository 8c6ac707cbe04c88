import type { NomadApiError, NomadAccessKind } from './errors.js';
import type { NomadClientTls } from './client.js';

/**
 * One sentence for an answer that means "this client may not do this here": 403 (the ACL token:
 * Nomad answers `Permission denied`, or `ACL token not found` for an unknown secret), a namespace
 * Nomad does not know (`nonexistent namespace`), a region it has no path to. Undefined otherwise.
 */
export function explainAccessFailure(
  error: NomadApiError,
  context: { namespace: string | undefined; region: string | undefined; hasToken: boolean },
): { kind: NomadAccessKind; message: string } | undefined {
  const said = error.body.trim().split('\n')[0] ?? '';
  const where = `${error.method} ${error.address}${error.path}`;
  const namespace = context.namespace ?? 'default';
  if (/nonexistent namespace|namespace .*not found|namespace .*does not exist/i.test(error.body)) {
    return {
      kind: 'namespace',
      message: `Nomad has no namespace "${namespace}" (set by the site profile, --nomad-namespace or NOMAD_NAMESPACE): create it with \`nomad namespace apply ${namespace}\` or name one \`nomad namespace list\` shows (Nomad: HTTP ${error.statusCode} "${said}" for ${where})`,
    };
  }
  if (/no path to region/i.test(error.body)) {
    return {
      kind: 'region',
      message: `Nomad cannot reach region "${context.region}" (set by the site profile, --nomad-region or NOMAD_REGION): name one \`nomad server members\` lists (Nomad: HTTP ${error.statusCode} "${said}" for ${where})`,
    };
  }
  if (error.statusCode === 403) {
    const token = context.hasToken ? 'the ACL token (NOMAD_TOKEN or the profile\'s token)' : 'no ACL token (set NOMAD_TOKEN or the profile\'s tokenFile)';
    const why = /token not found/i.test(said) ? 'is unknown to the cluster' : `has no policy allowing this in namespace "${namespace}"`;
    return {
      kind: 'acl',
      message: `Nomad refused ${token}: it ${context.hasToken ? why : 'is required here'} (Nomad: HTTP 403 "${said}" for ${where})`,
    };
  }
  return undefined;
}

const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
]);

/** One sentence for a TLS handshake that failed, naming the file to fix; undefined when it was not TLS. */
export function explainTlsFailure(cause: unknown, address: string, tls: NomadClientTls | undefined): string | undefined {
  const error = cause as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = error?.code ?? error?.cause?.code ?? '';
  const message = `${error?.message ?? ''} ${error?.cause?.message ?? ''}`;
  if (UNTRUSTED.has(code)) {
    const ca = tls?.caFile ? `the CA file ${tls.caFile}` : 'the system CAs (set NOMAD_CACERT or the profile\'s tls.caFile)';
    return `Nomad at ${address} presented a certificate that ${ca} does not verify (${code})`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `Nomad at ${address} presented a certificate for another name (${code}: ${error.message}); set NOMAD_TLS_SERVER_NAME or tls.serverName to a name in it (Nomad's own CA: server.<region>.nomad)`;
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `Nomad at ${address} presented a certificate outside its validity (${code})`;
  if (/certificate required|alert bad certificate|alert unknown ca|tlsv1 alert|sslv3 alert/i.test(message) || /ERR_SSL_TLSV1\d?_ALERT|ERR_SSL_SSLV3_ALERT/.test(code)) {
    const cert = tls?.certFile ? `the client certificate ${tls.certFile}` : 'no client certificate (set NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY, or tls.certFile and tls.keyFile)';
    return `Nomad at ${address} rejected ${cert} during the TLS handshake (mutual TLS): ${message.trim()}`;
  }
  // TLS 1.3: the server checks the client certificate after the client's handshake ends, so a
  // missing one shows up as a closed connection on the first request.
  if (tls && address.startsWith('https:') && !tls.certFile && (code === 'UND_ERR_SOCKET' || /other side closed|socket hang up|ECONNRESET/i.test(`${code} ${message}`))) {
    return `Nomad at ${address} closed the TLS connection, as an agent that requires client certificates (verify_https_client) does when none is sent: set NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY, or tls.certFile and tls.keyFile (${message.trim()})`;
  }
  if (/wrong version number|packet length too long|ERR_SSL_WRONG_VERSION_NUMBER/i.test(`${code} ${message}`)) {
    return `Nomad at ${address} does not speak TLS on that port: use an http:// address, or enable tls { http = true } on the agent (${code || message.trim()})`;
  }
  return undefined;
}
