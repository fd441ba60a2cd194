/** Parses `90d`, `12h`, `30m`, `45s`, `2w` into milliseconds (for `keys create --expires`). */
export function parseDuration(text: string): number {
  const m = /^(\d+)\s*(s|m|h|d|w)$/.exec(text.trim());
  if (!m) throw new TypeError(`invalid duration '${text}': use a number followed by s, m, h, d or w (e.g. 90d)`);
  const n = Number(m[1]);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  if (n <= 0) throw new TypeError(`invalid duration '${text}': must be positive`);
  return n * unit;
}
