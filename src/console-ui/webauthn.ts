/**
 * Passkeys (WebAuthn, N63-2: the phishing-resistant option): the options the server made with
 * @simplewebauthn/server (JSON, base64url binary fields) turned into what navigator.credentials
 * wants, and the credential turned back into the JSON the server verifies.
 */

export function webauthnAvailable(): boolean {
  return typeof window.PublicKeyCredential === 'function' && typeof navigator.credentials?.get === 'function';
}

function fromB64url(s: string): ArrayBuffer {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

function toB64url(buf: ArrayBuffer | null): string {
  if (!buf) return '';
  const bytes = new Uint8Array(buf);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

type Desc = { id: string; type?: string; transports?: string[] };
const desc = (d: Desc): PublicKeyCredentialDescriptor => ({ id: fromB64url(d.id), type: 'public-key', ...(d.transports ? { transports: d.transports as AuthenticatorTransport[] } : {}) });

/** Signs in with a passkey: the server's authentication options → the assertion JSON. */
export async function getAssertion(o: Record<string, unknown>): Promise<Record<string, unknown>> {
  const pk: PublicKeyCredentialRequestOptions = {
    challenge: fromB64url(String(o.challenge)),
    ...(typeof o.rpId === 'string' ? { rpId: o.rpId } : {}),
    ...(typeof o.timeout === 'number' ? { timeout: o.timeout } : {}),
    userVerification: (o.userVerification as UserVerificationRequirement | undefined) ?? 'required',
    allowCredentials: ((o.allowCredentials as Desc[] | undefined) ?? []).map(desc),
  };
  const cred = (await navigator.credentials.get({ publicKey: pk })) as PublicKeyCredential | null;
  if (!cred) throw new Error('No passkey was used.');
  const r = cred.response as AuthenticatorAssertionResponse;
  return {
    id: cred.id,
    rawId: toB64url(cred.rawId),
    type: cred.type,
    clientExtensionResults: cred.getClientExtensionResults(),
    response: { clientDataJSON: toB64url(r.clientDataJSON), authenticatorData: toB64url(r.authenticatorData), signature: toB64url(r.signature), userHandle: r.userHandle ? toB64url(r.userHandle) : undefined },
  };
}

/** Registers a passkey: the server's registration options → the attestation JSON. */
export async function createCredential(o: Record<string, unknown>): Promise<Record<string, unknown>> {
  const user = o.user as { id: string; name: string; displayName: string };
  const pk: PublicKeyCredentialCreationOptions = {
    challenge: fromB64url(String(o.challenge)),
    rp: o.rp as PublicKeyCredentialRpEntity,
    user: { id: fromB64url(user.id), name: user.name, displayName: user.displayName },
    pubKeyCredParams: o.pubKeyCredParams as PublicKeyCredentialParameters[],
    ...(typeof o.timeout === 'number' ? { timeout: o.timeout } : {}),
    attestation: 'none',
    excludeCredentials: ((o.excludeCredentials as Desc[] | undefined) ?? []).map(desc),
    ...(o.authenticatorSelection ? { authenticatorSelection: o.authenticatorSelection as AuthenticatorSelectionCriteria } : {}),
  };
  const cred = (await navigator.credentials.create({ publicKey: pk })) as PublicKeyCredential | null;
  if (!cred) throw new Error('No passkey was created.');
  const r = cred.response as AuthenticatorAttestationResponse;
  return {
    id: cred.id,
    rawId: toB64url(cred.rawId),
    type: cred.type,
    clientExtensionResults: cred.getClientExtensionResults(),
    response: { clientDataJSON: toB64url(r.clientDataJSON), attestationObject: toB64url(r.attestationObject), transports: typeof r.getTransports === 'function' ? r.getTransports() : [] },
  };
}
