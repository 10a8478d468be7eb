// Copy buttons: a real button next to a value, with a spoken confirmation.

import { announce, h } from './dom.js';

// copyButton copies value() when pressed; what names the value for screen readers.
export function copyButton(what, value) {
  const label = h('span', {}, 'Copy');
  const button = h('button', {
    type: 'button', class: 'copy', 'aria-label': `Copy ${what}`,
    onclick: async () => {
      const ok = await copyText(value());
      label.textContent = ok ? 'Copied' : 'Select and copy';
      announce(ok ? `${what} copied` : `Copying failed: select the ${what} and copy it`);
      setTimeout(() => { label.textContent = 'Copy'; }, 1500);
    },
  }, label);
  return button;
}

async function copyText(s) {
  try {
    await navigator.clipboard.writeText(s);
    return true;
  } catch {
    // No clipboard API (a page served over plain HTTP to another host): the old way.
    const area = h('textarea', { value: s, readOnly: true, class: 'offscreen' });
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}
