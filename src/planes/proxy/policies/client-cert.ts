import { certificateAccepted } from '../../client-cert.ts';
import type { ProxyPolicy } from '../policy.ts';

/**
 * Client certificates (mTLS): a credential with `mtls_required` needs one of its
 * registered SHA-256 fingerprints; one that lists fingerprints refuses any other
 * certificate presented. 403 `client_certificate_required`.
 */
export const clientCertificate: ProxyPolicy = {
  name: 'client-certificate',
  check({ entry, clientCertFingerprint }) {
    if (certificateAccepted(entry.credential.policies, clientCertFingerprint)) return undefined;
    return {
      code: 'client_certificate_required',
      detail:
        clientCertFingerprint === undefined
          ? 'this credential requires a registered client certificate'
          : 'the client certificate presented is not registered for this credential',
    };
  },
};
