/**
 * The admin plane in tests: one HTTPS call helper (session cookie, CSRF token, bearer token) and
 * admin users created straight in the store with their second factors, so each test file does
 * not carry its own copy.
 */
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { newAdminUser } from '../../src/admin/server.js';
import type { AdminRole } from '../../src/storage/types.js';
import type { TestGateway } from './gateway.js';

/** Test fixture: the password every test admin gets (passes the password policy). */
export const TEST_ADMIN_PASSWORD = 'correct horse battery staple forever';

export interface AdminRes {
  status: number;
  headers: IncomingHttpHeaders;
  json: any;
}

/** One request to the admin listener on `port` (self-signed test certificate, no keep-alive). */
export function adminRequest(port: number, method: string, path: string, o: { token?: string; cookie?: string; csrf?: string; body?: unknown; origin?: string } = {}): Promise<AdminRes> {
  const body = o.body === undefined ? undefined : JSON.stringify(o.body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        rejectUnauthorized: false,
        agent: false,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
          ...(o.cookie ? { cookie: o.cookie } : {}),
          ...(o.csrf ? { 'x-csrf-token': o.csrf } : {}),
          ...(o.origin ? { origin: o.origin } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode!, headers: res.headers, json: text ? JSON.parse(text) : undefined });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** An admin user in the gateway's store, with the TOTP secret and recovery codes a person would be shown once. */
export async function addTestAdmin(t: TestGateway, username: string, roles: AdminRole[], password = TEST_ADMIN_PASSWORD): Promise<{ id: string; totp: string; codes: string[] }> {
  const c = await newAdminUser({ username, password, roles, createdBy: 'test' }, t.secret, Date.now());
  await t.gw.storage.admin.insertUser(c.user);
  return { id: c.user.id, totp: c.totpSecret, codes: [...c.recoveryCodes] };
}
