import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { type ApiResponse, tempDir } from '../harness.ts';
import type { RawResponse } from '../proxy/proxy-helpers.ts';

export interface CallOptions {
  /** `http://…` or `https://…` with the listener's port; the host part is replaced by `host`. */
  readonly url: string;
  readonly path: string;
  readonly method?: string;
  readonly headers?: OutgoingHttpHeaders;
  /** The address to connect to (default 127.0.0.1), e.g. `::1`. */
  readonly host?: string;
  /** Bind the client socket to this address (e.g. 127.0.0.2, a "trusted proxy"). */
  readonly localAddress?: string;
  /** For https: the CA to trust and an optional client certificate. */
  readonly tls?: { readonly ca: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
}

/** One request over a fresh connection, from a chosen local address, over http or https. */
export function call(options: CallOptions): Promise<RawResponse> {
  const url = new URL(options.url);
  const method = options.method ?? 'GET';
  const secure = url.protocol === 'https:';
  const send = secure ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      {
        host: options.host ?? '127.0.0.1',
        port: Number(url.port),
        method,
        path: options.path,
        headers: options.headers ?? {},
        agent: false,
        ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
        ...(secure && options.tls ? options.tls : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ method, status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString() });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A management API call (Bearer `token`) through `call`, parsed like the harness's `callApi`. */
export async function apiCall(options: CallOptions & { readonly token: string }): Promise<ApiResponse> {
  const res = await call({
    ...options,
    headers: { authorization: `Bearer ${options.token}`, ...options.headers },
  });
  let body: unknown = res.text;
  try {
    body = res.text === '' ? undefined : JSON.parse(res.text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: new Headers(res.headers as Record<string, string>), body };
}

export interface Pki {
  readonly dir: string;
  readonly caCert: Buffer;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  readonly caCertFile: string;
  /** Two client certificates signed by the CA, and one self-signed (a stranger's). */
  readonly clients: Readonly<Record<'one' | 'two' | 'rogue', ClientCert>>;
}

export interface ClientCert {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** SHA-256 fingerprint as `AB:CD:…`, computed by node:crypto, not by Relay. */
  readonly fingerprint: string;
}

function openssl(dir: string, args: readonly string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Real certificates made with the openssl CLI: a CA, a server certificate for 127.0.0.1, clients. */
export function makePki(): Pki {
  const dir = tempDir('relay-pki-');
  openssl(dir, [
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=Relay Test CA',
  ]);
  const signed = (name: string, subject: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, ['req', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ]);
  };
  signed('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  signed('one', '/CN=client one', 'extendedKeyUsage=clientAuth\n');
  signed('two', '/CN=client two', 'extendedKeyUsage=clientAuth\n');
  openssl(dir, [
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    'rogue.key',
    '-out',
    'rogue.crt',
    '-days',
    '2',
    '-subj',
    '/CN=client one',
  ]);
  const client = (name: string): ClientCert => {
    const cert = readFileSync(join(dir, `${name}.crt`));
    return {
      cert,
      key: readFileSync(join(dir, `${name}.key`)),
      fingerprint: new X509Certificate(cert).fingerprint256,
    };
  };
  return {
    dir,
    caCert: readFileSync(join(dir, 'ca.crt')),
    caCertFile: join(dir, 'ca.crt'),
    serverCertFile: join(dir, 'server.crt'),
    serverKeyFile: join(dir, 'server.key'),
    clients: { one: client('one'), two: client('two'), rogue: client('rogue') },
  };
}
