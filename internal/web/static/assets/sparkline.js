// A small inline SVG chart of a feed's bitrate over the history window.
// Newest sample on the right; the x scale is the whole window, so the line
// grows from the right edge instead of stretching.

import { h } from './dom.js';
import { bitrate } from './format.js';

const width = 120;
const height = 28;

export function sparkline() {
  const area = h('svg:path', { class: 'spark-area' });
  const line = h('svg:polyline', { class: 'spark-line' });
  const svg = h('svg:svg', {
    class: 'spark', viewBox: `0 0 ${width} ${height}`, width, height,
    role: 'img', preserveAspectRatio: 'none', focusable: 'false',
  }, area, line);
  return svg;
}

// drawSparkline draws points (bitrates, oldest first) into a sparkline,
// maxPoints samples spanning the full width.
export function drawSparkline(svg, points, maxPoints) {
  const [area, line] = svg.children;
  const peak = Math.max(1, ...points);
  const step = width / Math.max(1, maxPoints - 1);
  const x0 = width - (points.length - 1) * step;
  const coords = points.map((v, i) => [x0 + i * step, height - 1 - (v / peak) * (height - 3)]);
  const pts = coords.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  line.setAttribute('points', pts);
  area.setAttribute('d', coords.length ? `M${x0.toFixed(1)},${height} L${pts.replaceAll(' ', ' L')} L${width},${height} Z` : '');
  const now = points.at(-1);
  svg.setAttribute('aria-label', points.length
    ? `Bitrate over the last minutes: now ${bitrate(now)}, peak ${bitrate(peak)}`
    : 'Bitrate: no history yet');
}
