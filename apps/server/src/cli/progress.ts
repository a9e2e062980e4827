import cliProgress from 'cli-progress';

/**
 * A progress bar on stderr for long CLI work (dump, restore, migrate-db): drawn only on a
 * terminal, so scripts and logs get the command's result lines and nothing else.
 */
export interface Progress {
  update(done: number, total?: number): void;
  stop(): void;
}

export function progressBar(label: string, unit: 'bytes' | 'rows', stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: ` ${label} {bar} {percentage}% | {shown} | {eta_formatted} left`,
      hideCursor: true,
      barsize: 30,
      stream,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const shown = (done: number, total: number) => (unit === 'bytes' ? `${formatBytes(done)} / ${formatBytes(total)}` : `${done} / ${total} rows`);
  let last = 0;
  return {
    update(done, total) {
      if (!started && total !== undefined) {
        bar.start(total, done, { shown: shown(done, total) });
        started = true;
        return;
      }
      if (!started) return;
      if (total !== undefined) bar.setTotal(total);
      // Redrawing on every chunk would cost more than the copy: at most ten times a second.
      const now = Date.now();
      if (now - last < 100 && done < bar.getTotal()) return;
      last = now;
      bar.update(done, { shown: shown(done, bar.getTotal()) });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
