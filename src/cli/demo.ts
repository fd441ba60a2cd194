/**
 * `rampart demo`: the bundled sample brokerage API behind the gateway, on the embedded SQLite
 * default, in one command. Writes a working rampart.yaml, dev TLS material and secrets into the
 * demo folder (default ./.rampart-demo, covered by .gitignore), creates keys for two customers
 * and an operator, and prints ready-to-paste curl lines for allow, 401, 403, 400, 404 and the
 * audit verification.
 */
import type { Command } from 'commander';
import { mkdir, writeFile, copyFile, access } from 'node:fs/promises';
import { join, resolve, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/load.js';
import { ensureSecrets } from '../config/secrets.js';
import { generateDevCertificate } from '../tls/dev-cert.js';
import { startBrokerageUpstream } from '../demo/brokerage-server.js';
import { startGateway } from '../gateway/start.js';
import { createKey } from '../keys/create.js';
import { verifyAssertion } from '../identity/assertion.js';
import { createAccessTokens } from '../identity/access-tokens.js';
import { newAdminUser } from '../admin/server.js';
import { otpauthUri, terminalQr } from '../admin/totp.js';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import type { GatewayHandle } from '../gateway/start.js';
import { createLogger } from '../core/log.js';
import { waitForSignal } from './start.js';

const SPEC = fileURLToPath(new URL('../../../demo/brokerage.openapi.yaml', import.meta.url));

export function register(program: Command): void {
  program
    .command('demo')
    .description('run the sample brokerage API behind the gateway and print curl lines to try')
    .option('--dir <folder>', 'where the demo keeps its config, TLS material and database', '.rampart-demo')
    .option('--port <port>', 'gateway port (0 picks a free one)', (v) => Number(v), 8443)
    .option('--upstream-port <port>', 'sample API port (0 picks a free one)', (v) => Number(v), 0)
    .option('--admin-port <port>', 'admin plane port (0 picks a free one)', (v) => Number(v), 9443)
    .option('--no-wait', 'exit after printing (for scripted checks)')
    .action(async (opts: { dir: string; port: number; upstreamPort: number; adminPort: number; wait: boolean }) => {
      const dir = resolve(opts.dir);
      // The sample API accepts only requests that carry the gateway's signed identity assertion,
      // checked with jose against the gateway's published keys (the same check the README shows).
      let gateway: GatewayHandle | undefined;
      const upstream = await startBrokerageUpstream({
        host: '127.0.0.1',
        port: opts.upstreamPort,
        identity: {
          header: 'x-rampart-identity',
          verify: async (token) => {
            if (!gateway) throw new Error('gateway not started');
            const c = await verifyAssertion(token, gateway.keyset.jwks(), { issuer: 'rampart', audience: 'brokerage', clockToleranceSeconds: 5 });
            return typeof c.subject_id === 'string' ? { subject: c.subject_id } : {};
          },
        },
      });
      try {
        // Port 0 becomes a concrete free port in the configuration, so the CLI lines the demo prints
        // (admin login, evidence export) find the listeners from that file.
        const configFile = await writeDemoConfig(dir, opts.port || (await freePort()), upstream.url, opts.adminPort || (await freePort()));
        const config = await loadConfig(configFile);
        const secrets = await ensureSecrets(config.secretsFile);
        const gw = await startGateway({ config, configDir: dir, configFile, logger: createLogger({ level: process.env.RAMPART_LOG_LEVEL ?? 'warn' }) });
        gateway = gw;
        const mk = (name: string, scopes: string[], subject?: string) =>
          createKey(gw.storage.keys, secrets.keyHashSecret, { name, scopes, ...(subject ? { subject } : {}), createdBy: 'demo', expiresAt: Date.now() + 7 * 86_400_000 });
        const alice = await mk('demo-alice', ['accounts:read', 'customers:read', 'orders:read', 'orders:write', 'transfers:read', 'transfers:write'], 'cus_alice');
        const bob = await mk('demo-bob', ['accounts:read', 'orders:read'], 'cus_bob');
        const ops = await mk('demo-operator', ['accounts:read', 'customers:read', 'orders:read', 'transfers:read', 'support:any-customer', 'pii:read']);
        await gw.keys.refresh();
        // An access token that expired an hour ago, signed by this gateway's own key, to show the
        // refusal (demo material only: it can never be used).
        const past = createAccessTokens(gw.keyset, { issuer: config.identity.issuer, lifetimeSeconds: 600, now: () => Date.now() - 3_600_000 });
        const expired = past.issue({ clientId: alice.record.id, scopes: ['accounts:read'], audience: 'brokerage' }).token;
        const owner = await demoOwner(gw, secrets.keyHashSecret);
        process.stdout.write(banner({ dir, configFile, gateway: gw.url, upstream: upstream.url, alice: alice.key, bob: bob.key, ops: ops.key, expired, admin: gw.admin!.url, owner, qr: await terminalQr(owner.uri) }));
        if (opts.wait) await waitForSignal();
        await gw.close();
      } finally {
        await upstream.close();
      }
    });
}

/**
 * The demo's owner account for the admin plane, with a fresh random password and TOTP secret at
 * every start (development only: printed on the terminal; a real deployment uses `rampart admin
 * bootstrap` once and a password nobody else sees).
 */
async function demoOwner(gw: GatewayHandle, secret: Buffer): Promise<{ username: string; password: string; totpSecret: string; uri: string }> {
  const username = 'demo-owner';
  const password = `demo ${randomBytes(12).toString('base64url')} passphrase`;
  const made = await newAdminUser({ username, password, roles: ['owner'], createdBy: 'demo' }, secret, Date.now());
  const existing = await gw.storage.admin.getUserByName(username);
  if (existing) {
    await gw.storage.admin.updateUser({ ...made.user, id: existing.id, createdAt: existing.createdAt, createdBy: existing.createdBy, ...(existing.totpLastStep !== undefined ? { totpLastStep: existing.totpLastStep } : {}) });
    await gw.storage.admin.deleteUserSessions(existing.id);
  } else {
    await gw.storage.admin.insertUser(made.user);
  }
  return { username, password, totpSecret: made.totpSecret, uri: otpauthUri(made.totpSecret, { account: username, issuer: 'Rampart demo' }) };
}

async function writeDemoConfig(dir: string, port: number, upstreamUrl: string, adminPort: number): Promise<string> {
  await mkdir(join(dir, 'tls'), { recursive: true, mode: 0o700 });
  const cert = join(dir, 'tls', 'dev-cert.pem');
  const key = join(dir, 'tls', 'dev-key.pem');
  if (!(await exists(cert)) || !(await exists(key))) {
    const c = await generateDevCertificate({ hosts: ['localhost', '127.0.0.1', '::1'] });
    await writeFile(cert, c.certPem, { mode: 0o644 });
    await writeFile(key, c.keyPem, { mode: 0o600 });
  }
  await copyFile(SPEC, join(dir, 'brokerage.openapi.yaml'));
  await writeFile(join(dir, '.gitignore'), '*\n');
  const file = join(dir, 'rampart.yaml');
  await writeFile(
    file,
    `# Generated by \`rampart demo\` (development only: self-signed certificate, local secrets).
version: 1
listen:
  host: 127.0.0.1
  port: ${port}
  tls:
    cert: tls/dev-cert.pem
    key: tls/dev-key.pem
secretsFile: secrets.json
storage:
  driver: sqlite
  sqlite:
    path: rampart.db
apis:
  - name: brokerage
    openapi: brokerage.openapi.yaml
    upstream:
      url: ${upstreamUrl}
    mount:
      prefix: /
    # Object-level authorization (API1): an account or customer id anywhere in a request must
    # belong to the customer the key acts for. The owner comes from the sample API's internal
    # owner endpoints (not in its OpenAPI document, so clients cannot call them through Rampart).
    authorization:
      objects:
        account:
          in: [path.accountId]
          owner: { lookup: { path: "/internal/owners/accounts/{id}", pointer: /customerId } }
        customer:
          in: [path.customerId]
          owner: { lookup: { path: "/internal/owners/customers/{id}", pointer: /customerId } }
      # The operator key (support desk) may look at every customer; each such read is recorded.
      anyObjectScopes: [support:any-customer]
    operations:
      # Transfers move money: the anomaly model watches them closely (RSID-1).
      createTransfer:
        highRisk: true
# Threat defence (issue 5): responses masked per classification unless the key holds pii:read;
# rate limits per customer and per address, and an hourly records quota against bulk pulls.
responses:
  dlp:
    classes:
      ssn: { action: partial, reveal: pii:read }
      date-of-birth: { action: mask, reveal: pii:read }
      account-number: { action: partial, reveal: pii:read }
rateLimits:
  rules:
    - { name: per-customer, by: principal, limit: 600, windowSeconds: 60, burst: 100 }
    - { name: per-address, by: address, limit: 1200, windowSeconds: 60 }
    - { name: records-per-hour, by: principal, unit: records, limit: 5000, windowSeconds: 3600 }
# The audit ledger (issue 4): private parts and bodies sealed under data keys wrapped by a
# development KEK file (use PKCS#11 in production); checkpoints signed every 10 s and published
# to a file (in production: another volume, a WORM bucket or a webhook, AU-9(2)).
ledger:
  checkpoints:
    intervalSeconds: 10
    publish:
      - file: published-heads.jsonl
# The admin plane (password + TOTP for every admin), on its own TLS listener.
admin:
  listen:
    host: 127.0.0.1
    port: ${adminPort}
`,
  );
  return file;
}

function freePort(): Promise<number> {
  return new Promise((resolveP, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolveP(port));
    });
  });
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(() => true, () => false);
}

function banner(o: { dir: string; configFile: string; gateway: string; upstream: string; alice: string; bob: string; ops: string; expired: string; admin: string; owner: { username: string; password: string; totpSecret: string; uri: string }; qr: string }): string {
  const rel = relative(process.cwd(), o.dir) || '.';
  const ca = `${rel}/tls/dev-cert.pem`;
  const gw = o.gateway.replace('127.0.0.1', 'localhost');
  const c = `curl -sS --cacert ${ca}`;
  const cfg = relative(process.cwd(), o.configFile);
  const today = new Date().toISOString().slice(0, 10);
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  return `
Rampart demo is running.
  gateway:     ${gw}   (TLS, development certificate ${ca})
  sample API:  ${o.upstream}   (the upstream; only the gateway should talk to it)
  config:      ${relative(process.cwd(), o.configFile)}

Demo keys (development only, valid 7 days):
  ALICE=${o.alice}   # customer cus_alice: accounts, orders, transfers
  BOB=${o.bob}   # customer cus_bob: read-only accounts and orders
  OPERATOR=${o.ops}   # read-only, all customers, sees personal data unmasked (pii:read)
  EXPIRED=${o.expired}   # an access token that expired an hour ago
  ADMIN_PASSWORD='${o.owner.password}'   # the demo owner of the admin plane (new at every start)

Demo owner's TOTP (development only; a new secret at every start): ${o.owner.uri}
${o.qr}

Try these (paste the five lines above first):

  # allowed read: Alice's accounts (200)
  ${c} -H "Authorization: Bearer $ALICE" ${gw}/accounts

  # exchange Alice's key for a short-lived access token (OAuth client credentials), and use it
  ${c} -H "Authorization: Bearer $(${c} -u "\${ALICE:5:12}:$ALICE" -d grant_type=client_credentials -d scope=accounts:read ${gw}/.rampart/oauth/token | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')" ${gw}/accounts

  # an expired token (401)
  ${c} -H "Authorization: Bearer $EXPIRED" ${gw}/accounts

  # no key (401 problem+json)
  ${c} ${gw}/accounts

  # Bob reads Alice's account: object-level authorization refuses it (403), and records who tried
  ${c} -H "Authorization: Bearer $BOB" ${gw}/accounts/acc_alice_1

  # Bob lacks orders:write (403)
  ${c} -H "Authorization: Bearer $BOB" -H 'content-type: application/json' -d '{"symbol":"ACME","side":"buy","type":"market","quantity":10,"timeInForce":"day"}' ${gw}/accounts/acc_bob_1/orders

  # invalid body: quantity must be an integer, isAdmin is not allowed (400)
  ${c} -H "Authorization: Bearer $ALICE" -H 'content-type: application/json' -d '{"symbol":"ACME","side":"buy","type":"market","quantity":"ten","isAdmin":true}' ${gw}/accounts/acc_alice_1/orders

  # an injection in a free-text field: refused before the upstream (400), recorded as a security event
  ${c} -H "Authorization: Bearer $ALICE" -H 'content-type: application/json' -d "{\\"direction\\":\\"deposit\\",\\"amount\\":10.00,\\"bankRoutingNumber\\":\\"011000015\\",\\"bankAccountNumber\\":\\"12345678\\",\\"memo\\":\\"x' UNION SELECT password FROM users--\\"}" ${gw}/accounts/acc_alice_1/transfers

  # DLP: Alice sees her SSN, date of birth and account numbers masked; the operator (pii:read) in full
  ${c} -H "Authorization: Bearer $ALICE" ${gw}/customers/cus_alice
  ${c} -H "Authorization: Bearer $OPERATOR" ${gw}/customers/cus_alice

  # unknown route (404), path tricks (400)
  ${c} -H "Authorization: Bearer $ALICE" ${gw}/admin/users
  ${c} --path-as-is -H "Authorization: Bearer $ALICE" ${gw}/accounts/../admin

  # going around the gateway: the sample API accepts only requests carrying Rampart's signed
  # identity assertion (checked against ${gw}/.rampart/jwks.json), so this is 401
  curl -sS ${o.upstream}/accounts/acc_alice_1

  # the web console: open ${o.admin.replace('127.0.0.1', 'localhost')}/admin/ in a browser (accept the demo's
  # self-signed certificate) and log in as ${o.owner.username} with $ADMIN_PASSWORD and the code of your
  # authenticator app (scan the QR code below): overview, audit explorer, evidence, keys

  # the same admin plane from a terminal: password AND the current code; then create a key as that admin
  CODE=<6-digit code from the app>
  ${c} -c ${rel}/admin-cookies -H 'content-type: application/json' -d "{\\"username\\":\\"${o.owner.username}\\",\\"password\\":\\"$ADMIN_PASSWORD\\",\\"totp\\":\\"$CODE\\"}" ${o.admin.replace('127.0.0.1', 'localhost')}/admin/api/login

  # the audit trail: verify the chain, the signed checkpoints and the published heads, then look
  # at what happened, and who accessed Alice's records today (RSP-2)
  npx rampart audit verify -c ${cfg}
  npx rampart audit search -c ${cfg} --limit 10
  npx rampart audit access -c ${cfg} --subject cus_alice --from ${today} --to ${tomorrow}

  # evidence for an examiner: log in to the admin plane as the demo owner (password + code),
  # export a signed package, and verify it offline with the checkpoint public key alone
  npx rampart admin login -c ${cfg} --username ${o.owner.username}
  npx rampart evidence export -c ${cfg} --from ${today} --to ${tomorrow} --out ${rel}/evidence.tar.gz
  npx rampart ledger keys -c ${cfg} > ${rel}/checkpoint-key.pub
  npx rampart evidence verify ${rel}/evidence.tar.gz --public-key ${rel}/checkpoint-key.pub

Press Ctrl-C to stop.
`;
}
