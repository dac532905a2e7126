import type { Admission, IpConfirmationService } from '../../../services/ip-confirmation.ts';
import type { PolicyResult, ProxyPolicy } from '../policy.ts';

const LOCKED: PolicyResult = {
  code: 'new_ip_confirmation_required',
  detail:
    "This network is not yet trusted for this key's holder. A confirmation link was e-mailed to them; " +
    'the request was blocked and can be retried once the link is confirmed.',
};

const UNKNOWN_ADDRESS: PolicyResult = {
  code: 'ip_not_allowed',
  detail: 'the client address could not be read, so it cannot be checked against trusted networks',
};

/** A credential in this mode must belong to someone who can be asked: otherwise it fails closed. */
const NO_ONE_TO_ASK: PolicyResult = {
  code: 'ip_not_allowed',
  detail:
    'this credential requires new-IP confirmation but has no recipient with an e-mail address to confirm with',
};

function toResult(admission: Admission): PolicyResult {
  switch (admission) {
    case 'trusted':
    case 'first_use':
      return undefined;
    case 'locked':
      return LOCKED;
    case 'unknown_address':
      return UNKNOWN_ADDRESS;
  }
}

/**
 * New-IP confirmation (SPEC §6) for credentials in `confirm_new_ip` mode: the
 * holder's first network is trusted on first use; any other gets 423 Locked,
 * before the upstream is contacted, until the mailed link is confirmed. An
 * already trusted network is answered from memory, synchronously.
 */
export function newIpConfirmation(service: IpConfirmationService): ProxyPolicy {
  return {
    name: 'new-ip-confirmation',
    check({ entry, clientIp, upstream, req }) {
      const { credential, recipient } = entry;
      if (credential.ipMode !== 'confirm_new_ip') return undefined;
      if (recipient === null || recipient.email === null) return NO_ONE_TO_ASK;
      const known = service.known(credential.workspaceId, recipient.id, clientIp);
      if (known !== undefined) return toResult(known);
      const userAgent = req.headers['user-agent'];
      return service
        .admit({
          workspaceId: credential.workspaceId,
          recipient,
          email: recipient.email,
          credential,
          connection: upstream.connection,
          ip: clientIp,
          userAgent: typeof userAgent === 'string' ? userAgent : null,
        })
        .then(toResult);
    },
  };
}
