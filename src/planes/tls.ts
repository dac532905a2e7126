import { readFileSync } from 'node:fs';
import { createSecureContext, type TlsOptions } from 'node:tls';
import type { RelayConfig } from '../config.ts';

type TlsConfig = Pick<RelayConfig, 'tlsCertFile' | 'tlsKeyFile' | 'tlsClientCaFile'>;

function readPem(path: string, setting: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new Error(`${setting}: cannot read ${path} (${reason})`);
  }
}

/**
 * TLS settings from RELAY_TLS_*: none when no certificate is configured. With a
 * client CA, clients are asked for a certificate (mTLS) but not refused at the
 * handshake (`rejectUnauthorized: false`): a missing or unverified certificate
 * then counts as none, and the credential's policy answers with a problem
 * document (403 `client_certificate_required`) that a caller can read.
 */
export function tlsOptions(config: TlsConfig): TlsOptions | undefined {
  const { tlsCertFile, tlsKeyFile, tlsClientCaFile } = config;
  if (tlsCertFile === '' && tlsKeyFile === '') {
    if (tlsClientCaFile !== '')
      throw new Error('RELAY_TLS_CLIENT_CA_FILE needs RELAY_TLS_CERT_FILE and RELAY_TLS_KEY_FILE');
    return undefined;
  }
  if (tlsCertFile === '' || tlsKeyFile === '')
    throw new Error('RELAY_TLS_CERT_FILE and RELAY_TLS_KEY_FILE must be set together');
  const base: TlsOptions = {
    cert: readPem(tlsCertFile, 'RELAY_TLS_CERT_FILE'),
    key: readPem(tlsKeyFile, 'RELAY_TLS_KEY_FILE'),
    minVersion: 'TLSv1.2',
  };
  const options: TlsOptions =
    tlsClientCaFile === ''
      ? base
      : {
          ...base,
          ca: readPem(tlsClientCaFile, 'RELAY_TLS_CLIENT_CA_FILE'),
          requestCert: true,
          rejectUnauthorized: false,
        };
  try {
    createSecureContext(options);
  } catch (error) {
    throw new Error(`RELAY_TLS_*: the certificate, key or CA cannot be used: ${(error as Error).message}`);
  }
  return options;
}
