// The portal's entry point: the session, the event stream, the header and
// the routes. Routes: / (a broadcaster's wall, or the operator's view),
// /feeds/{id} (one feed) and /library (the clips). Anyone not signed in sees
// the sign-in page.

import { APIError, session, whenSignedOut } from './api.js';
import { h, text } from './dom.js';
import { mountFeed } from './feed.js';
import { mountLibrary } from './library.js';
import { Live } from './live.js';
import { mountOperator } from './operator.js';
import { mountSignIn } from './signin.js';
import { mountWall } from './wall.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const whoEl = document.getElementById('who');
const link = document.getElementById('link');
const live = new Live();
let who = null;
let unmount = () => {};

live.on('link', () => {
  if (!who) return;
  link.dataset.up = live.connected ? 'yes' : 'no';
  text(link, live.connected ? 'Live updates' : 'Reconnecting…');
});
// The stream was refused: the session ended (signed out elsewhere, or the
// broadcaster deleted), or the server had a problem: ask which.
live.on('closed', async () => {
  try {
    who = await session.get();
    setTimeout(() => { if (who) live.start(); }, 3000);
  } catch (err) {
    if (err instanceof APIError && err.status === 401) signedOut();
    else setTimeout(() => live.start(), 3000);
  }
});
whenSignedOut(signedOut);

function route() {
  unmount();
  unmount = () => {};
  if (!who) {
    document.title = 'Sign in · Podium';
    unmount = mountSignIn(main, signedIn);
    return;
  }
  const path = location.pathname;
  const feed = path.match(/^\/feeds\/([^/]+)\/?$/);
  const ctx = { live, who };
  if (path === '/' || path === '/index.html') {
    document.title = who.role === 'admin' ? 'Operations · Podium' : 'Feeds · Podium';
    unmount = who.role === 'admin' ? mountOperator(main, ctx) : mountWall(main, ctx);
  } else if (path === '/library') {
    document.title = 'Library · Podium';
    unmount = mountLibrary(main, ctx);
  } else if (feed) {
    document.title = `${decodeURIComponent(feed[1])} · Podium`;
    unmount = mountFeed(main, { ...ctx, id: decodeURIComponent(feed[1]) });
  } else {
    document.title = 'Not found · Podium';
    main.replaceChildren(h('section', { class: 'page' },
      h('h1', { tabIndex: -1 }, 'No such page'),
      h('p', {}, h('a', { href: '/' }, 'Go to the start page'))));
  }
  main.querySelector('h1')?.focus({ preventScroll: true });
  markNav();
}

// markNav tells which entry of the header is the page shown.
function markNav() {
  for (const a of nav.querySelectorAll('a')) {
    const here = a.pathname === '/' ? location.pathname === '/' || location.pathname.startsWith('/feeds/') : location.pathname.startsWith(a.pathname);
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function navigate(path) {
  if (path !== location.pathname + location.search) history.pushState(null, '', path);
  route();
  window.scrollTo(0, 0);
}

function renderHeader() {
  if (!who) {
    nav.replaceChildren();
    whoEl.replaceChildren();
    link.textContent = '';
    delete link.dataset.up;
    return;
  }
  const admin = who.role === 'admin';
  nav.replaceChildren(
    h('a', { href: '/' }, admin ? 'Operations' : 'Feeds'),
    h('a', { href: '/library', id: 'nav-library' }, 'Library'));
  const name = admin ? 'Operator' : `${who.broadcaster?.name ?? who.broadcaster?.id} · broadcaster`;
  whoEl.replaceChildren(
    h('span', { class: 'who-name' }, name),
    h('button', { type: 'button', id: 'sign-out', onclick: signOut }, 'Sign out'));
}

function signedIn(session) {
  who = session;
  renderHeader();
  live.start();
  route();
}

function signedOut() {
  if (!who) return;
  who = null;
  live.stop();
  renderHeader();
  route();
}

async function signOut() {
  try {
    await session.signOut();
  } catch {
    // The session is gone either way for this page; the server ends it on its own side when it can.
  }
  signedOut();
  history.replaceState(null, '', '/');
}

// Links within the portal change the view without loading the page.
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || a.target) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/') || url.hash && url.pathname === location.pathname) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', route);

try {
  who = await session.get();
} catch {
  who = null;
}
if (who) signedIn(who);
else route();
