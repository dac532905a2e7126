import type { WorkspaceLockdown } from '../core/model.ts';
import type { SecurityEvent } from '../ports/store.ts';
import { SYSTEM_WORKSPACE } from './security-events.ts';

/** The plain-text mails of security alerting (SPEC §8). No secret is ever part of an event, so none is here. */

export interface AlertMail {
  readonly subject: string;
  readonly text: string;
}

/** One line, bounded, control characters gone: detail values can come from an attacker (a user agent). */
function oneLine(value: unknown, max = 300): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const clean = (text ?? '').replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

export function securityEventMail(event: SecurityEvent, workspaceName: string): AlertMail {
  const scope =
    event.workspaceId === SYSTEM_WORKSPACE ? 'system-wide' : `workspace ${oneLine(workspaceName, 100)}`;
  const details = Object.entries(event.detail).map(([k, v]) => `  ${k}: ${oneLine(v)}`);
  return {
    subject: `[Relay] ${event.severity.toUpperCase()} security event: ${event.kind}`,
    text: [
      `Relay raised a ${event.severity} security event (${scope}).`,
      '',
      `  event: ${event.id}`,
      `  kind: ${event.kind}`,
      `  severity: ${event.severity}`,
      `  subject: ${oneLine(event.subject)}`,
      `  at: ${event.at}`,
      ...details,
      '',
      'Review it with GET /api/v1/security-events and resolve it once handled',
      `(POST /api/v1/security-events/${event.id}/resolve).`,
      'Three or more unresolved critical events within an hour put the workspace into lockdown.',
      '',
    ].join('\n'),
  };
}

export function lockdownMail(lockdown: WorkspaceLockdown, workspaceName: string): AlertMail {
  const name = oneLine(workspaceName, 100);
  if (!lockdown.locked) {
    return {
      subject: `[Relay] Lockdown lifted: workspace ${name}`,
      text: [
        `The lockdown of workspace ${name} was lifted at ${lockdown.lifted_at} by ${lockdown.lifted_by}.`,
        'The proxy serves its credentials again.',
        '',
      ].join('\n'),
    };
  }
  return {
    subject: `[Relay] Workspace ${name} is in LOCKDOWN`,
    text: [
      `Workspace ${name} was put into lockdown at ${lockdown.locked_at}:`,
      `  ${oneLine(lockdown.reason)}`,
      `  events: ${lockdown.event_ids.join(', ')}`,
      '',
      'Until an admin lifts it, the proxy refuses every call of this workspace (403 workspace_locked).',
      'Investigate and resolve the critical events (GET /api/v1/security-events?status=open), then lift',
      'the lockdown with POST /api/v1/workspace/lockdown/lift.',
      '',
    ].join('\n'),
  };
}
