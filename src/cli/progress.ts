/**
 * Progress for long CLI work (issue 7: verify, evidence export, purge, migrations): a bar with
 * count, rate and ETA when the total is known, a spinner with the elapsed time when it is not.
 * Drawn on stderr only when stderr is a terminal and the command is not printing `--json`, so a
 * pipe, a log file or a script reading JSON never sees a control character; stdout (the
 * command's result) is never touched.
 *
 * Redraws are throttled (10 a second) so a loop that reports every record costs a clock read.
 */

/** What a progress display needs of a stream (process.stderr, or a fake in tests). */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

export interface Progress {
  /** `done` of `total` units (records, keys, partitions). */
  update(done: number, total: number): void;
  /** Finishes: the line is cleared so the command's own output starts clean. Idempotent. */
  done(): void;
  /** True when something is drawn (a terminal, not --json). */
  readonly active: boolean;
}

export interface ProgressOptions {
  stream?: ProgressStream;
  /** The command prints JSON: stay quiet whatever the stream is. */
  json?: boolean;
  /** Injected clock (tests). */
  now?: () => number;
  /** Environment (tests): TERM=dumb or RAMPART_NO_PROGRESS=1 turn it off. */
  env?: NodeJS.ProcessEnv;
}

const REDRAW_MS = 100;
const CLEAR = '\r\x1b[2K';
const SPINNER = ['|', '/', '-', '\\'];

/** Whether progress should be drawn at all on this stream. */
export function progressEnabled(o: ProgressOptions = {}): boolean {
  const stream = o.stream ?? process.stderr;
  const env = o.env ?? process.env;
  if (o.json === true || stream.isTTY !== true) return false;
  if (env.TERM === 'dumb' || (env.RAMPART_NO_PROGRESS !== undefined && env.RAMPART_NO_PROGRESS !== '' && env.RAMPART_NO_PROGRESS !== '0')) return false;
  return true;
}

const QUIET: Progress = { update() {}, done() {}, active: false };

/** A determinate bar: `label [#####.....]  42%  420/1000  1.2k/s  ETA 3s`. */
export function createProgress(label: string, o: ProgressOptions = {}): Progress {
  if (!progressEnabled(o)) return QUIET;
  const stream = o.stream ?? process.stderr;
  const now = o.now ?? Date.now;
  const started = now();
  let last = -Infinity;
  let drawn = false;
  let finished = false;
  return {
    active: true,
    update(done, total) {
      if (finished) return;
      const t = now();
      if (t - last < REDRAW_MS && done < total) return;
      last = t;
      stream.write(CLEAR + barLine(label, done, total, (t - started) / 1000, stream.columns ?? 80));
      drawn = true;
    },
    done() {
      if (finished) return;
      finished = true;
      if (drawn) stream.write(CLEAR);
    },
  };
}

/**
 * An indeterminate display for work that reports no counts (a purge, a partition run, live
 * probes): a spinner and the elapsed seconds, redrawn by an unref'd timer. `update` switches it
 * to a bar if counts do arrive.
 */
export function createActivity(label: string, o: ProgressOptions & { intervalMs?: number } = {}): Progress {
  if (!progressEnabled(o)) return QUIET;
  const stream = o.stream ?? process.stderr;
  const now = o.now ?? Date.now;
  const started = now();
  let frame = 0;
  let finished = false;
  const draw = () => {
    const secs = Math.floor((now() - started) / 1000);
    stream.write(`${CLEAR}${SPINNER[frame++ % SPINNER.length]} ${label} ${secs}s`);
  };
  draw();
  const timer = setInterval(draw, o.intervalMs ?? REDRAW_MS * 2);
  timer.unref();
  const bar = createProgress(label, o);
  return {
    active: true,
    update(done, total) {
      clearInterval(timer);
      bar.update(done, total);
    },
    done() {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      bar.done();
      stream.write(CLEAR);
    },
  };
}

/** Runs `work` with an activity display that is always finished, whatever `work` does. */
export async function withActivity<T>(label: string, o: ProgressOptions, work: (p: Progress) => Promise<T>): Promise<T> {
  const p = createActivity(label, o);
  try {
    return await work(p);
  } finally {
    p.done();
  }
}

/** One line of the bar, fitted to `columns`. */
export function barLine(label: string, done: number, total: number, elapsedSeconds: number, columns: number): string {
  const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 1;
  const pct = `${Math.floor(frac * 100)}%`.padStart(4);
  const rate = elapsedSeconds > 0 ? done / elapsedSeconds : 0;
  const eta = rate > 0 && done < total ? ` ETA ${duration((total - done) / rate)}` : '';
  const tail = ` ${pct} ${done}/${total}${rate > 0 ? ` ${compact(rate)}/s` : ''}${eta}`;
  // Keep one column free: writing the last column makes some terminals wrap.
  const room = Math.max(0, columns - 1 - label.length - tail.length - 3);
  const width = Math.min(30, room);
  if (width < 5) return `${label}${tail}`.slice(0, Math.max(0, columns - 1));
  const fill = Math.round(frac * width);
  return `${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}]${tail}`;
}

function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n >= 10 ? String(Math.round(n)) : n.toFixed(1);
}

function duration(s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
