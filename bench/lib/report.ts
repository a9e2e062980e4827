/**
 * Results: medians, ratios to the reference measured in the same run, the CSV, the Markdown
 * table for docs/benchmarks.md, and the PNG chart (Vega-Lite → SVG → resvg).
 */
import { writeFileSync } from 'node:fs';
import { median } from './util.js';

export interface Measurement {
  section: 'idle' | 'main' | 'direct' | 'scale' | 'bignar';
  metric: string;
  unit: string;
  target: string;
  values: number[];
  /** Peak RSS of the target's process(es) during these runs, bytes. */
  rssPeak?: number;
  better: 'lower' | 'higher';
  /** Target whose median the ratio is taken against (same metric unless refMetric). */
  reference?: string;
  refMetric?: string;
  /** The issue's bound on the ratio, where there is one. */
  goal?: number;
  note?: string;
}

export interface Summary extends Measurement {
  median: number;
  min: number;
  max: number;
  refMedian?: number;
  ratio?: number;
}

export function summarize(ms: Measurement[]): Summary[] {
  const find = (metric: string, target: string) => ms.find((m) => m.metric === metric && m.target === target);
  return ms.map((m) => {
    const med = median(m.values);
    const ref = m.reference ? find(m.refMetric ?? m.metric, m.reference) : undefined;
    const refMedian = ref ? median(ref.values) : undefined;
    const ratio = refMedian === undefined ? undefined : m.better === 'lower' ? med / refMedian : refMedian / med;
    return { ...m, median: med, min: Math.min(...m.values), max: Math.max(...m.values), refMedian, ratio };
  });
}

const num = (x: number | undefined, digits = 3) => (x === undefined || !Number.isFinite(x) ? '' : Number(x.toPrecision(6)).toFixed(digits).replace(/\.?0+$/, '') || '0');

export function toCsv(rows: Summary[], meta: { date: string; commit: string; machine: string }): string {
  const header = 'date,commit,machine,section,metric,unit,target,n,median,min,max,reference,reference_median,ratio,goal,rss_peak_mb,values';
  const esc = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = rows.map((r) =>
    [
      meta.date,
      meta.commit,
      esc(meta.machine),
      r.section,
      r.metric,
      r.unit,
      r.target,
      r.values.length,
      num(r.median),
      num(r.min),
      num(r.max),
      r.reference ? (r.refMetric ? `${r.reference}:${r.refMetric}` : r.reference) : '',
      num(r.refMedian),
      num(r.ratio),
      r.goal ?? '',
      r.rssPeak ? (r.rssPeak / 1e6).toFixed(1) : '',
      r.values.map((v) => num(v)).join(';'),
    ].join(','),
  );
  return [header, ...lines].join('\n') + '\n';
}

const fmt = (x: number, unit: string) => {
  if (!Number.isFinite(x)) return '–';
  if (unit === 'req/s') return x.toFixed(0);
  if (unit === 'MB') return x.toFixed(0);
  if (x >= 1000) return x.toFixed(0);
  if (x >= 100) return x.toFixed(1);
  if (x >= 10) return x.toFixed(2);
  return x.toFixed(3);
};

/** One Markdown table per section: a row per metric, a column per target, ratio in brackets. */
export function toMarkdown(rows: Summary[]): string {
  const out: string[] = [];
  for (const section of ['idle', 'main', 'direct', 'scale', 'bignar'] as const) {
    const rs = rows.filter((r) => r.section === section);
    if (rs.length === 0) continue;
    const targets = [...new Set(rs.map((r) => r.target))].sort((a, b) => Number(!a.startsWith('nginx')) - Number(!b.startsWith('nginx')));
    const metrics = [...new Set(rs.map((r) => r.metric))];
    out.push(`| metric | unit | ${targets.join(' | ')} | goal | peak RSS (MB) |`);
    out.push(`|---|---|${targets.map(() => '---:').join('|')}|---:|---|`);
    for (const metric of metrics) {
      const cells = targets.map((t) => {
        const r = rs.find((x) => x.metric === metric && x.target === t);
        if (!r) return '';
        const ratio = r.ratio === undefined ? '' : ` (**${r.ratio.toFixed(2)}×**)`;
        return `${fmt(r.median, r.unit)}${ratio}`;
      });
      const any = rs.find((x) => x.metric === metric)!;
      const rss = targets
        .map((t) => rs.find((x) => x.metric === metric && x.target === t))
        .filter((r): r is Summary => Boolean(r?.rssPeak))
        .map((r) => `${r.target.replace(/^forge-/, '')} ${(r.rssPeak! / 1e6).toFixed(0)}`)
        .join(', ');
      const goal = rs.find((x) => x.metric === metric && x.goal !== undefined)?.goal;
      out.push(`| ${metric} | ${any.unit} | ${cells.join(' | ')} | ${goal !== undefined ? `≤ ${goal}×` : ''} | ${rss} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** The ratios of the main section as a grouped bar chart, written as SVG and PNG. */
export async function writeChart(rows: Summary[], file: string, title: string): Promise<void> {
  const vl = await import('vega-lite');
  const vega = await import('vega');
  const series = (t: string) => (t.includes('pglite') ? 'server on PGlite' : t.includes('postgres') ? 'server on PostgreSQL' : t);
  const data = rows
    .filter((r) => r.ratio !== undefined && r.section !== 'bignar' && !r.metric.endsWith('_mean'))
    .map((r) => ({ metric: r.section === 'scale' ? `${r.metric} (large/1k)` : r.metric, series: series(r.target), ratio: Number(r.ratio!.toFixed(3)), goal: r.goal ?? null }));
  const order = [...new Set(data.map((d) => d.metric))];
  const goals = order.map((m) => ({ metric: m, goal: data.find((d) => d.metric === m)?.goal ?? null })).filter((g) => g.goal !== null);
  const max = Math.max(2, ...data.map((d) => d.ratio)) * 1.6;
  const min = Math.min(0.5, ...data.map((d) => d.ratio)) / 1.2;
  const y = { field: 'metric', type: 'nominal', sort: order, title: null };
  const x = { field: 'ratio', type: 'quantitative', title: '× nginx (log scale; scale rows: × the 1k cache)', scale: { type: 'log', domain: [min, max] } };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: title, subtitle: 'server time (or 1/throughput) relative to nginx measured in the same run; 1 = parity, left is better; red ticks: the goals', anchor: 'start' },
    width: 620,
    background: 'white',
    config: { font: 'DejaVu Sans', axis: { labelFontSize: 11, labelLimit: 400 }, legend: { labelFontSize: 11, labelLimit: 400 } },
    layer: [
      {
        data: { values: data },
        mark: { type: 'bar', height: { band: 0.45 } },
        encoding: {
          y,
          yOffset: { field: 'series', type: 'nominal' },
          x,
          x2: { datum: 1 },
          color: { field: 'series', type: 'nominal', legend: { orient: 'bottom', title: null }, scale: { range: ['#4c78a8', '#f58518'] } },
        },
      },
      {
        data: { values: data },
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 9 },
        encoding: { y, yOffset: { field: 'series', type: 'nominal' }, x, text: { field: 'ratio', type: 'quantitative', format: '.2f' } },
      },
      { data: { values: [{ x: 1 }] }, mark: { type: 'rule', color: 'black', strokeDash: [4, 3] }, encoding: { x: { field: 'x', type: 'quantitative' } } },
      { data: { values: goals }, mark: { type: 'tick', color: '#c00', thickness: 2, size: 22 }, encoding: { y, x: { field: 'goal', type: 'quantitative' } } },
    ],
  };
  const compiled = vl.compile(spec as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG(2);
  view.finalize();
  writeFileSync(file.replace(/\.png$/, '.svg'), svg);
  const { Resvg } = await import('@resvg/resvg-js');
  const png = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, background: 'white' }).render().asPng();
  writeFileSync(file, png);
}
