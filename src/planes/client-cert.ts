import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { CredentialPolicies, TokenPolicies } from '../core/model.ts';
import { normaliseFingerprint } from '../core/policies.ts';
import type { HeaderBag } from './header-bag.ts';

/**
 * The client certificate a request came with, as a SHA-256 fingerprint (64 upper-case
 * hex digits, the form `normaliseFingerprint` stores). Relay either terminates TLS
 * itself (the peer certificate of the socket) or sits behind a proxy that did and
 * passes the fingerprint in this header. Believed only from a trusted proxy.
 */
export const CLIENT_CERT_HEADER = 'x-client-cert-fingerprint';

/** Fingerprints per TLS connection: a keep-alive connection asks OpenSSL once, not per request. */
const socketFingerprints = new WeakMap<TLSSocket, string | null>();

/**
 * The fingerprint of a certificate the socket's peer presented and Relay's client CA
 * verified. The listener asks with `rejectUnauthorized: false` (so a refusal is a
 * problem document, not a TLS alert): an unverified certificate counts as none.
 */
export function socketFingerprint(socket: Socket): string | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  let known = socketFingerprints.get(socket);
  if (known === undefined) {
    const cert = socket.authorized ? socket.getPeerCertificate() : undefined;
    known = (cert?.fingerprint256 && normaliseFingerprint(cert.fingerprint256)) || null;
    socketFingerprints.set(socket, known);
  }
  return known ?? undefined;
}

/**
 * The client certificate fingerprint of a request. From a trusted proxy only the
 * header counts (the TLS peer is the proxy, not the client); from anyone else only
 * the socket. The header is removed from `headers` either way, so it is never
 * forwarded and no later step can mistake a caller's copy for the truth.
 */
export function presentedFingerprint(
  socket: Socket,
  headers: HeaderBag,
  peerTrusted: boolean,
): string | undefined {
  const header = headers[CLIENT_CERT_HEADER];
  if (header === undefined) return peerTrusted ? undefined : socketFingerprint(socket);
  delete headers[CLIENT_CERT_HEADER];
  if (!peerTrusted) return socketFingerprint(socket);
  return typeof header === 'string' ? normaliseFingerprint(header) : undefined;
}

/**
 * The certificate rule shared by credentials and management tokens: with
 * `mtls_required`, a listed certificate must be presented; with fingerprints listed
 * but not required, a presented certificate must be one of them (a stranger's
 * certificate is refused rather than ignored).
 */
export function certificateAccepted(
  policies: CredentialPolicies | TokenPolicies,
  fingerprint: string | undefined,
): boolean {
  const listed = policies.client_cert_fingerprints ?? [];
  const applies = policies.mtls_required === true || (listed.length > 0 && fingerprint !== undefined);
  return !applies || (fingerprint !== undefined && listed.includes(fingerprint));
}
