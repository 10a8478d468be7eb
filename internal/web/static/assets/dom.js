// DOM helpers: element creation and keyed list updates that keep existing
// elements (and so focus, playing videos and scroll) in place.

// h creates an element. attrs: properties or attributes (on* are listeners,
// class, dataset and aria-*/data-* handled); children: nodes, strings, arrays, null.
export function h(tag, attrs = {}, ...children) {
  const el = tag.startsWith('svg:')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && !k.includes('-') && !(el instanceof SVGElement)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// text sets an element's text only when it changed (no needless layout work).
export function text(el, value) {
  const s = String(value);
  if (el.textContent !== s) el.textContent = s;
}

// keyed makes parent's children match items, one element per key: existing
// elements are updated in place, new ones created, missing ones removed
// (remove(el) is called first, to release what they hold).
export function keyed(parent, items, key, { create, update, remove }) {
  const existing = new Map();
  for (const el of parent.children) existing.set(el.dataset.key, el);
  let prev = null;
  for (const item of items) {
    const k = String(key(item));
    let el = existing.get(k);
    if (el) existing.delete(k);
    else {
      el = create(item);
      el.dataset.key = k;
    }
    update?.(el, item);
    const want = prev ? prev.nextElementSibling : parent.firstElementChild;
    if (want !== el) parent.insertBefore(el, want);
    prev = el;
  }
  for (const el of existing.values()) {
    remove?.(el);
    el.remove();
  }
}

// announce tells screen-reader users about a change made out of their sight.
export function announce(message) {
  const region = document.getElementById('announce');
  region.textContent = '';
  requestAnimationFrame(() => { region.textContent = message; });
}
