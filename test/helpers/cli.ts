/**
 * Running the compiled CLI (`bin/rampart`) as a person would, for the end-to-end tests: one-shot
 * commands, a long-running `rampart start`, free ports and GETs over real TLS.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../../bin/rampart', import.meta.url));
export const TIMEOUT = { timeout: 120_000 };

/** The environment a person's shell would have, minus a key-hash secret that would bypass .rampart/secrets.json. */
export function cliEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.RAMPART_KEY_HASH_SECRET;
  delete env.RAMPART_LOG_LEVEL;
  return env;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `rampart <args>` to completion in `cwd`. */
export function run(cwd: string, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...cliEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', (err) => {
      clearTimeout(killer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A one-line description of a finished command, for assertion messages. */
export function show(args: string[], r: RunResult): string {
  return `rampart ${args.join(' ')} -> code ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** Runs a command and asserts that it exits 0. */
export async function ok(cwd: string, args: string[]): Promise<RunResult> {
  const r = await run(cwd, args);
  assert.equal(r.code, 0, show(args, r));
  return r;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` every 25 ms until it returns a truthy value; fails after `limitMs`. */
export async function waitFor<T>(what: string, fn: () => Promise<T> | T, limitMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + limitMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${limitMs} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(25);
  }
}

/** A port that was free a moment ago: bind port 0 on loopback, read it, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** `rampart start` as a long-running child, with its output collected. */
export interface Gateway {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startGatewayProcess(cwd: string, args: string[] = []): Gateway {
  const child = spawn(process.execPath, [BIN, 'start', ...args], { cwd, env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Resolves with the URL `rampart start` prints once it listens; rejects if it exits first. */
export async function listening(gw: Gateway): Promise<string> {
  let early: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void gw.exited.then((e) => (early = e));
  const m = await waitFor(
    '`rampart start` to print that it is listening',
    () => {
      if (early) throw new Error(`rampart start exited early (code ${early.code}, signal ${early.signal}):\n${gw.stdout()}\n${gw.stderr()}`);
      return /rampart: listening on (https:\/\/\S+)/.exec(gw.stdout());
    },
    30_000,
  );
  return m[1]!;
}

/** Stops a child for good: SIGKILL if it is still alive, then waits for it to exit. */
export async function kill(gw: Gateway | undefined): Promise<void> {
  if (!gw) return;
  if (gw.child.exitCode === null && gw.child.signalCode === null) gw.child.kill('SIGKILL');
  await gw.exited;
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json(): any;
}

/**
 * GET over real TLS to `localhost`, verifying the server against the development certificate
 * `rampart init` wrote (no rejectUnauthorized: false). IPv4 because the gateway listens on
 * 127.0.0.1 and `localhost` may resolve to ::1 first.
 */
export function get(port: number, ca: string, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: 'localhost', family: 4, port, path, method: 'GET', headers, ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, text, json: () => JSON.parse(text) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

