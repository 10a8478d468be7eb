// Formatting of the numbers and times an engineer reads at a glance.

export function bitrate(bps) {
  if (bps === undefined || bps === null) return '—';
  if (bps >= 1e6) return (bps / 1e6).toFixed(2) + ' Mbit/s';
  if (bps >= 1e3) return (bps / 1e3).toFixed(0) + ' kbit/s';
  return bps.toFixed(0) + ' bit/s';
}

export function bytes(n) {
  if (n === undefined || n === null) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + ' ' + units[i];
}

export function count(n) {
  return n === undefined || n === null ? '—' : Number(n).toLocaleString('en-US');
}

// since is the time elapsed from an RFC 3339 instant, as h:mm:ss.
export function since(iso, now = Date.now()) {
  if (!iso) return '—';
  let s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  const hours = Math.floor(s / 3600);
  s -= hours * 3600;
  const m = String(Math.floor(s / 60)).padStart(2, '0');
  const sec = String(s % 60).padStart(2, '0');
  return `${hours}:${m}:${sec}`;
}

// instant shows an RFC 3339 instant in UTC, to the minute: the time base of a Games.
export function instant(iso) {
  if (!iso) return '';
  return new Date(iso).toISOString().slice(0, 16).replace('T', ' ') + 'Z';
}

export const kinds = {
  'multilateral': 'Multilateral (MLF)',
  'multi-clip': 'Multi-clip (MCF)',
  'venue-iso': 'Venue iso',
  'presentation': 'Presentation',
};

export function kind(k) {
  return kinds[k] ?? k ?? '—';
}

// clock shows a wall-clock instant (milliseconds) in UTC as HH:MM:SS, with
// tenths when asked: the precision an editor marks a clip at.
export function clock(ms, tenths = false) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  const s = new Date(ms).toISOString();
  return tenths ? s.slice(11, 21) : s.slice(11, 19);
}

// duration shows seconds as m:ss, or h:mm:ss from an hour up.
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
  let s = Math.max(0, Math.round(seconds));
  const hours = Math.floor(s / 3600);
  s -= hours * 3600;
  const m = Math.floor(s / 60);
  const sec = String(s % 60).padStart(2, '0');
  return hours ? `${hours}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

// spoken says a span of seconds in words, for screen readers and hints.
export function spoken(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
