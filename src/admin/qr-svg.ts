/**
 * The QR code of a TOTP enrolment URI as SVG (issue 7: the console shows it; FC-1, N63-4), made
 * on the server with the QR encoder qrcode-terminal already ships (vendor/QRCode, Kazuhiko Arase's
 * encoder, MIT), so no new dependency and no third-party script in the browser. The same encoder
 * and error-correction level (L) as `rampart admin` prints in the terminal (./totp.ts terminalQr),
 * so both show the same code.
 *
 * The SVG holds only rectangles: no text, no scripts, no links, nothing taken from the input, so
 * it can be inlined in the console without escaping concerns. Dark modules of a row are merged
 * into one rect per run; a 4-module quiet zone surrounds the code (ISO/IEC 18004 §7.3.7).
 */
import { createRequire } from 'node:module';

interface QrEncoder {
  addData(data: string): void;
  make(): void;
  getModuleCount(): number;
  isDark(row: number, col: number): boolean;
}
type QrEncoderClass = new (typeNumber: number, errorCorrectLevel: number) => QrEncoder;

// CommonJS without type declarations: loaded through require with the local types above.
const require = createRequire(import.meta.url);
const QRCode = require('qrcode-terminal/vendor/QRCode') as QrEncoderClass;
const LEVELS = require('qrcode-terminal/vendor/QRCode/QRErrorCorrectLevel') as { L: number; M: number; Q: number; H: number };

export const QUIET_ZONE = 4;
/** Version 40 at level L holds 2953 bytes; more is a caller error. */
const MAX_BYTES = 2953;

/**
 * The module matrix (true = dark), row by row, for `text` encoded as UTF-8 bytes in byte mode.
 *
 * @example
 * qrMatrix('otpauth://totp/Rampart:ada?secret=JBSWY3DPEHPK3PXP&issuer=Rampart').length; // 33 (version 4)
 */
export function qrMatrix(text: string): boolean[][] {
  if (typeof text !== 'string') throw new TypeError('qrMatrix: text must be a string');
  // The encoder writes each charCode as one byte: hand it the UTF-8 bytes as a binary string.
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > MAX_BYTES) throw new RangeError(`qrMatrix: ${bytes.length} bytes do not fit in a QR code (at most ${MAX_BYTES})`);
  const qr = new QRCode(-1, LEVELS.L);
  qr.addData(bytes.toString('latin1'));
  qr.make();
  const n = qr.getModuleCount();
  const rows: boolean[][] = [];
  for (let r = 0; r < n; r++) {
    const row: boolean[] = [];
    for (let c = 0; c < n; c++) row.push(qr.isDark(r, c));
    rows.push(row);
  }
  return rows;
}

/**
 * An SVG document of the QR code: a white square with one black rect per horizontal run of dark
 * modules, in module units (viewBox), scaled by the page.
 *
 * @example
 * const svg = qrSvg(otpauthUri(secret, { account: 'ada', issuer: 'Rampart' }));
 */
export function qrSvg(text: string, o: { moduleSize?: number } = {}): string {
  const m = qrMatrix(text);
  const size = m.length + 2 * QUIET_ZONE;
  const px = size * (o.moduleSize ?? 4);
  const rects: string[] = [];
  m.forEach((row, y) => {
    for (let x = 0; x < row.length; ) {
      if (!row[x]) {
        x++;
        continue;
      }
      let end = x;
      while (end < row.length && row[end]) end++;
      rects.push(`<rect x="${x + QUIET_ZONE}" y="${y + QUIET_ZONE}" width="${end - x}" height="1"/>`);
      x = end;
    }
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" width="${px}" height="${px}" shape-rendering="crispEdges" role="img" aria-label="QR code">` +
    `<rect width="${size}" height="${size}" fill="#fff"/><g fill="#000">${rects.join('')}</g></svg>`
  );
}
