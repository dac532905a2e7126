/**
 * Secret-scanning throughput (SPEC §8), MB/s per core, in warn and redact modes, on a
 * generated corpus of JSON API payloads (chat completions, payment webhooks, issue
 * events, user records) with a few secrets planted in it. Single-threaded: MB per
 * CPU-second of this process is MB/s per core. The same-run baseline is the unavoidable
 * part of streaming without scanning (latin1 view of each chunk and a copy of it out),
 * so the ratio shows what the rules cost.
 *
 *   node bench/secret-scan.ts    BENCH_SCAN_MB (default 20), BENCH_SCAN_SECONDS per mode (default 3)
 *
 * Prints a table and a final JSON line.
 */
import { cpus } from 'node:os';
import { crc32 } from 'node:zlib';
import { encodeBase62 } from '../src/core/base62.ts';
import { createScanner } from '../src/core/secret-scan/scanner.ts';
import type { ScanMode } from '../src/core/secret-scan/types.ts';

const CHUNK = 64 * 1024;
const MB = 1e6;

function setting(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

/** mulberry32: the corpus is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const WORDS =
  'the a to of and in is for on with that this it as be at by from or an are not you your we can will all has have more about which their our new one time year price order customer account request response'.split(
    ' ',
  );

function corpus(bytes: number): { data: Buffer; planted: number } {
  const next = prng(42);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  const id = (n: number) => Array.from({ length: n }, () => pick([...ALNUM])).join('');
  const sentence = (n: number) => Array.from({ length: n }, () => pick(WORDS)).join(' ');
  const ghToken = () => {
    const random = id(30);
    return `gh${'p_'}${random}${encodeBase62(crc32(random), 6)}`;
  };
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const secrets = [
    () => `"authorization":"Bearer ${ghToken()}"`,
    () => `"aws_secret_access_key":"${id(40)}","aws_access_key_id":"AKIA${id(16).toUpperCase()}"`,
    () => `"id_token":"${header}.${Buffer.from(`{"sub":"${id(8)}"}`).toString('base64url')}.${id(43)}"`,
    () => '"card":"4242 4242 4242 4242"',
  ];
  const payloads = [
    () =>
      JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: sentence(20) },
          {
            role: 'user',
            content: `${sentence(60)} order ${Math.floor(next() * 1e9)}, total ${(next() * 500).toFixed(2)}`,
          },
        ],
        temperature: 0.7,
        max_tokens: 512,
      }),
    () =>
      JSON.stringify({
        id: `evt_${id(24)}`,
        type: 'charge.succeeded',
        created: 1_700_000_000 + Math.floor(next() * 1e7),
        data: {
          object: {
            id: `ch_${id(24)}`,
            amount: Math.floor(next() * 100_000),
            currency: 'usd',
            customer: `cus_${id(14)}`,
            payment_method_details: {
              card: { brand: 'visa', last4: String(1000 + Math.floor(next() * 9000)) },
            },
            metadata: {
              order_id: `ORD-2024-${Math.floor(next() * 1e6)}`,
              lat: next() * 90,
              lng: next() * 180,
            },
          },
        },
      }),
    () =>
      JSON.stringify({
        action: 'opened',
        issue: {
          number: Math.floor(next() * 10_000),
          title: sentence(8),
          body: `${sentence(80)}\n\nSteps:\n1. ${sentence(10)}\n2. ${sentence(10)}`,
          user: { login: id(8), id: Math.floor(next() * 1e8), node_id: id(20) },
          labels: [{ name: 'bug', color: 'd73a4a' }],
          created_at: '2024-05-01T12:34:56Z',
        },
        repository: { full_name: `${id(6)}/${id(10)}`, html_url: `https://github.com/${id(6)}/${id(10)}` },
      }),
    () =>
      JSON.stringify({
        user: {
          id: crypto.randomUUID(),
          name: `${pick(WORDS)} ${pick(WORDS)}`,
          email: `${id(7).toLowerCase()}@example.com`,
        },
        sha: id(40).toLowerCase(),
        phone: '+1 555 010 2030',
        updated: '2024-05-01T12:34:56.789Z',
      }),
  ];
  const parts: string[] = [];
  let size = 0;
  let planted = 0;
  let sinceSecret = 0;
  while (size < bytes) {
    let part = `${pick(payloads)()}\n`;
    if (sinceSecret > 250_000) {
      part = `{"headers":{${pick(secrets)()}}}\n${part}`;
      sinceSecret = 0;
      planted++;
    }
    parts.push(part);
    size += part.length;
    sinceSecret += part.length;
  }
  return { data: Buffer.from(parts.join('')), planted };
}

type Pass = (data: Buffer) => number;

function baseline(data: Buffer): number {
  let out = 0;
  for (let i = 0; i < data.length; i += CHUNK) {
    const view = data.subarray(i, i + CHUNK).toString('latin1');
    out += Buffer.from(view, 'latin1').length;
  }
  return out;
}

function scan(mode: ScanMode): Pass {
  return (data) => {
    const scanner = createScanner({ mode });
    for (let i = 0; i < data.length; i += CHUNK) scanner.push(data.subarray(i, i + CHUNK));
    return scanner.end().findingCount;
  };
}

interface Figure {
  readonly name: string;
  readonly passes: number;
  readonly mb_per_cpu_second: number;
  readonly mb_per_second: number;
  readonly findings: number;
}

function measure(name: string, pass: Pass, data: Buffer, seconds: number): Figure {
  pass(data); // warmup: JIT and regex compilation
  let passes = 0;
  let result = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  do {
    result = pass(data);
    passes++;
  } while (performance.now() - started < seconds * 1000 && passes < 50);
  const wallS = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuS = (used.user + used.system) / 1e6;
  const megabytes = (data.length * passes) / MB;
  return {
    name,
    passes,
    mb_per_cpu_second: megabytes / cpuS,
    mb_per_second: megabytes / wallS,
    findings: name === 'baseline' ? 0 : result,
  };
}

function main(): void {
  const size = setting('BENCH_SCAN_MB', 20) * MB;
  const seconds = setting('BENCH_SCAN_SECONDS', 3);
  const { data, planted } = corpus(size);
  const cpu = cpus()[0]?.model.trim() ?? 'unknown';
  process.stdout.write(
    `Relay secret-scan benchmark — ${cpu}, Node ${process.version}\n` +
      `corpus ${(data.length / MB).toFixed(1)} MB of JSON API payloads, ${planted} planted secrets, ` +
      `${CHUNK / 1024} KiB chunks, ~${seconds} s per mode\n\n`,
  );
  const figures = [
    measure('baseline', baseline, data, seconds),
    measure('warn', scan('warn'), data, seconds),
    measure('redact', scan('redact'), data, seconds),
  ];
  const base = figures[0]?.mb_per_cpu_second ?? 1;
  process.stdout.write('mode      MB/s per core   MB/s wall   findings   vs baseline\n');
  for (const f of figures) {
    process.stdout.write(
      `${f.name.padEnd(9)} ${f.mb_per_cpu_second.toFixed(1).padStart(13)} ${f.mb_per_second.toFixed(1).padStart(11)} ` +
        `${String(f.findings).padStart(10)} ${(f.mb_per_cpu_second / base).toFixed(3).padStart(13)}\n`,
    );
  }
  process.stdout.write(
    `${JSON.stringify({ bench: 'secret-scan', corpus_mb: data.length / MB, planted, figures })}\n`,
  );
}

main();
