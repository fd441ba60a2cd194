/**
 * `rampart identity rotate|keys`: Rampart's signing keys (the identity assertion sent upstream,
 * and the access tokens to come). `rotate` makes a fresh Ed25519 key the active one; the previous
 * public key stays published at /.rampart/jwks.json for a day, so assertions signed just before
 * the rotation still verify (ENC-6). A running gateway follows the file within seconds.
 */
import type { Command } from 'commander';
import { loadKeyset, rotateKeyset, type SigningKey } from '../identity/keyset.js';
import { loadCliConfig, output, withConfigOption } from './common.js';

export function register(program: Command): void {
  const identity = program.command('identity').description("Rampart's signing keys");

  withConfigOption(identity.command('rotate').description('make a fresh signing key the active one').option('--json', 'print JSON')).action(async (opts: { config: string; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    const ks = await rotateKeyset(config.identity.signingKeysFile);
    const active = ks.active();
    output(opts.json, { active: active.kid, keys: ks.all().map(view) }, () => `active signing key: ${active.kid}\nthe previous public key stays published for 24 h; a running gateway picks the new key up within seconds`);
  });

  withConfigOption(identity.command('keys').description('list the signing keys (public identifiers only)').option('--json', 'print JSON')).action(async (opts: { config: string; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    const ks = await loadKeyset(config.identity.signingKeysFile);
    const active = ks.active().kid;
    output(opts.json, ks.all().map(view), () => ks.all().map((k) => `${k.kid}  created ${new Date(k.createdAt).toISOString()}  ${k.kid === active ? 'active' : k.retiredAt ? `retired ${new Date(k.retiredAt).toISOString()}` : ''}`).join('\n'));
  });
}

function view(k: SigningKey): { kid: string; alg: string; createdAt: string; retiredAt?: string } {
  return { kid: k.kid, alg: k.alg, createdAt: new Date(k.createdAt).toISOString(), ...(k.retiredAt ? { retiredAt: new Date(k.retiredAt).toISOString() } : {}) };
}
