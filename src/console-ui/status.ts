/**
 * Status messages for everyone: one polite aria-live region (screen readers announce it) and an
 * alert region for errors (WCAG 4.1.3 Status Messages). Text only.
 */
const polite = (): HTMLElement => document.getElementById('status')!;
const assertive = (): HTMLElement => document.getElementById('alert')!;

export function announce(text: string): void {
  const el = polite();
  el.textContent = text;
  assertive().textContent = '';
}

export function alertError(text: string): void {
  const el = assertive();
  // Cleared first so that the same message twice is announced twice.
  el.textContent = '';
  el.textContent = text;
}

export function clearStatus(): void {
  polite().textContent = '';
  assertive().textContent = '';
}
