// Time plots with uPlot: a thin wrapper that sizes the plot to its container and follows it.
import uPlot from '/vendor/uPlot.esm.js';
import { bytes } from '/format.js';

// Axis labels: "17:05" (seconds only when the ticks are closer than a minute).
function clockLabel(t, i, all) {
  const d = new Date(t * 1000);
  const pad = (x) => String(x).padStart(2, '0');
  const step = all && all.length > 1 ? all[1] - all[0] : 60;
  return `${pad(d.getHours())}:${pad(d.getMinutes())}${step < 60 ? `:${pad(d.getSeconds())}` : ''}`;
}

const COLORS = { requests: '#2f6fb3', bytes: '#c08a1e', refusals: '#c23b3b' };

// timePlot(container, {lines: [{label, key: 'requests'|'bytes'|'refusals', scale: 'n'|'b'}],
//                      height}) -> {setData(data), destroy()}
// DATA is format.seriesData's [xs, requests, bytes, refusals].
export function timePlot(container, { lines, height = 180 }) {
  const index = { requests: 1, bytes: 2, refusals: 3 };
  const hasBytes = lines.some((l) => l.scale === 'b');
  const opts = {
    width: Math.max(200, container.clientWidth),
    height,
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, n: { range: (u, min, max) => [0, Math.max(1, max)] }, b: { range: (u, min, max) => [0, Math.max(1024, max)] } },
    axes: [
      { stroke: '#667', space: 70, values: (u, splits) => splits.map(clockLabel) },
      { scale: 'n', stroke: '#667', size: 48 },
      ...(hasBytes ? [{ scale: 'b', side: 1, stroke: '#667', size: 64, values: (u, vals) => vals.map((v) => bytes(v)), grid: { show: false } }] : []),
    ],
    series: [
      {},
      ...lines.map((l) => ({
        label: l.label,
        scale: l.scale,
        stroke: COLORS[l.key],
        width: 1.5,
        fill: l.key === 'requests' ? 'rgba(47,111,179,0.12)' : undefined,
        paths: uPlot.paths.stepped({ align: 1 }),
        points: { show: false },
        value: l.scale === 'b' ? (u, v) => (v == null ? '' : bytes(v)) : (u, v) => (v == null ? '' : String(+v.toFixed(2))),
      })),
    ],
  };
  const empty = [[], ...lines.map(() => [])];
  const plot = new uPlot(opts, empty, container);
  let pending = 0;
  const observer = new ResizeObserver(() => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => plot.setSize({ width: Math.max(200, container.clientWidth), height }));
  });
  observer.observe(container);
  return {
    setData(data) { plot.setData([data[0], ...lines.map((l) => data[index[l.key]])]); },
    destroy() { observer.disconnect(); cancelAnimationFrame(pending); plot.destroy(); },
  };
}
