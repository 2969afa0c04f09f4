/* Parley widget loader: draws the launcher, keeps the visitor's first-party id, reports
   page views, and creates the chat iframe only when it is needed. Runs async, never
   throws into the host page, and keeps its DOM in a closed shadow root. */
(() => {
  "use strict";
  const w = window, d = document;
  const me = d.currentScript || d.querySelector("script[data-parley-key]");
  if (!me || w.__parley) return;
  w.__parley = 1;
  const key = me.getAttribute("data-parley-key");
  const base = new URL(me.src, location.href).origin;
  const lang = (navigator.language || "en").slice(0, 2).toLowerCase();
  const store = (k, v) => {
    try {
      if (v === undefined) return localStorage.getItem(k);
      localStorage.setItem(k, v);
    } catch (e) { /* blocked: a new visitor on every page */ }
  };
  let anon = store("parley:vid");
  if (!anon) {
    anon = (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now());
    store("parley:vid", anon);
  }
  const page = () => ({ url: location.href, title: d.title, referrer: d.referrer });
  // ?key= lets a CORS preflight (no body, no token) find the site's tenant and its allowed origins.
  const api = (path, body, token) => fetch(base + "/widget/api/" + path + "?key=" + encodeURIComponent(key), {
    method: "POST",
    mode: "cors",
    keepalive: true,
    headers: token ? { "Content-Type": "application/json", Authorization: "Bearer " + token } : { "Content-Type": "text/plain" },
    body: JSON.stringify(body),
  }).then((r) => (r.ok ? r.json() : Promise.reject(r.status)));

  let cfg, session, host, root, box, btn, badge, frame, frameReady, open = false, unread = 0, sock;
  const send = (msg) => frame && frameReady && frame.contentWindow.postMessage(Object.assign({ parley: 1 }, msg), base);

  const init = () => ({
    type: "init", token: session.token, visitor: session.visitor, conversation: session.conversation,
    tenant: session.tenant, anonymousId: anon, page: page(), open,
  });

  const makeFrame = () => {
    if (frame) return;
    frame = d.createElement("iframe");
    frame.title = cfg.strings.chat;
    frame.className = "f";
    frame.src = base + "/widget/frame/" + encodeURIComponent(key) + "/?lang=" + encodeURIComponent(cfg.lang) +
      "&host=" + encodeURIComponent(location.origin);
    box.insertBefore(frame, btn);
    if (sock) { sock.onclose = null; sock.close(); sock = null; }
  };

  const show = (on) => {
    open = on;
    box.classList.toggle("o", on);
    btn.setAttribute("aria-expanded", String(on));
    btn.setAttribute("aria-label", on ? cfg.strings.close : cfg.strings.open);
    if (on) {
      makeFrame();
      frame.focus();
    }
    send({ type: on ? "open" : "close" });
    if (!on) btn.focus();
  };

  const setUnread = (n) => {
    if (n > unread && !open) beep();
    unread = n;
    badge.textContent = n > 9 ? "9+" : String(n);
    badge.hidden = !n || open;
    host.setAttribute("data-unread", n);
  };

  const beep = () => {
    try {
      const a = new (w.AudioContext || w.webkitAudioContext)(), o = a.createOscillator(), g = a.createGain();
      o.frequency.value = 880;
      g.gain.setValueAtTime(0.12, a.currentTime);
      g.gain.exponentialRampToValueAtTime(0.001, a.currentTime + 0.35);
      o.connect(g).connect(a.destination);
      o.start();
      o.stop(a.currentTime + 0.35);
      setTimeout(() => a.close(), 600);
    } catch (e) { /* no audio */ }
  };

  w.addEventListener("message", (e) => {
    const m = e.data;
    if (e.origin !== base || !frame || e.source !== frame.contentWindow || !m || m.parley !== 1) return;
    if (m.type === "ready") { frameReady = true; send(init()); }
    else if (m.type === "unread") setUnread(+m.count || 0);
    else if (m.type === "close") show(false);
    else if (m.type === "open") show(true);
    else if (m.type === "resize") box.style.setProperty("--h", Math.max(200, Math.min(+m.height || 0, 640)) + "px");
    else if (m.type === "session") {
      Object.assign(session, m.session);
      // A social login joined this browser to a visitor known from another device: keep its id.
      const v = m.session && m.session.visitor;
      if (v && v.anonymous_id && v.anonymous_id !== anon) store("parley:vid", anon = v.anonymous_id);
    }
    else if (m.type === "expired") sessionStart().then((s) => { session = s; send({ type: "token", token: s.token }); }, () => {});
  });

  // Single-page apps change the URL without a page load: report those too, once the title settles.
  let last = location.href, timer;
  const nav = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (location.href === last || !session) return;
      const p = page();
      p.referrer = last;
      last = location.href;
      api("pageview", p, session.token).catch(() => {});
      send({ type: "page", page: p });
    }, 300);
  };
  for (const name of ["pushState", "replaceState"]) {
    const orig = history[name];
    history[name] = function () {
      const out = orig.apply(this, arguments);
      nav();
      return out;
    };
  }
  w.addEventListener("popstate", nav);
  w.addEventListener("hashchange", nav);

  // A socket only while an open conversation exists and no iframe does: an operator's
  // message then opens the iframe (unread badge and sound) without a page reload.
  const watch = () => {
    const c = session.conversation;
    if (!c || c.status === "closed" || frame) return;
    sock = new WebSocket(base.replace(/^http/, "ws") + "/ws/widget/?token=" + encodeURIComponent(session.token));
    sock.onmessage = (e) => {
      try {
        const f = JSON.parse(e.data);
        if (f.type === "message" && f.message.author_type === "operator") makeFrame();
        if (f.type === "conversation" && f.event === "closed") { session.conversation = null; sock.close(); }
      } catch (err) { /* ignore */ }
    };
    sock.onclose = (e) => { sock = null; if (e.code < 4400) setTimeout(watch, 10000); };
  };

  // Elements without innerHTML, so a host page that enforces Trusted Types still gets a launcher.
  const el = (tag, cls, svg) => {
    const e = svg ? d.createElementNS("http://www.w3.org/2000/svg", tag) : d.createElement(tag);
    if (cls) e.setAttribute("class", cls);
    return e;
  };
  const icon = (cls, path) => {
    const s = el("svg", cls, true), p = el("path", "", true);
    s.setAttribute("viewBox", "0 0 24 24");
    s.setAttribute("aria-hidden", "true");
    p.setAttribute("d", path);
    s.appendChild(p);
    return s;
  };

  const draw = () => {
    host = d.createElement("div");
    host.setAttribute("data-parley", "");
    // Inline !important beats any host stylesheet (`* { all: unset !important }` too); set
    // through CSSOM, which a strict host CSP allows (a style attribute it would block).
    // `direction` is the one property `all` leaves alone: the page's rtl must not flip us.
    host.style.cssText = "all:initial!important;position:fixed!important;z-index:2147483647!important;" +
      "left:0!important;bottom:0!important;width:0!important;height:0!important;overflow:visible!important;" +
      "direction:ltr!important;unicode-bidi:isolate!important;display:block!important";
    root = host.attachShadow({ mode: "closed" });
    const side = cfg.position === "left" ? "left" : "right";
    const css =
      ":host{all:initial}*{box-sizing:border-box}" +
      ".w{all:initial;font:14px/1.3 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;--h:640px}" +
      ".l{all:initial;box-sizing:border-box;position:fixed;bottom:20px;" + side + ":20px;min-width:56px;height:56px;border-radius:28px;" +
      "background:var(--c);color:var(--f);cursor:pointer;display:flex;align-items:center;justify-content:center;gap:8px;" +
      "padding:0 16px;box-shadow:0 4px 14px rgba(0,0,0,.25);font:600 15px/1 system-ui,sans-serif;transition:transform .15s}" +
      ".l:hover{transform:scale(1.05)}.l:focus-visible{outline:3px solid #111;outline-offset:3px}" +
      ".l svg{width:26px;height:26px;fill:var(--f);flex:none}.l .x,.o .l .i,.o .l .t{display:none}.o .l .x{display:block}" +
      ".t:empty{display:none}" +
      ".b{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;border-radius:11px;background:#e11d48;" +
      "color:#fff;font:700 12px/22px system-ui,sans-serif;text-align:center;padding:0 6px}.b[hidden]{display:none}" +
      ".f{all:initial;box-sizing:border-box;position:fixed;bottom:88px;" + side + ":20px;width:380px;height:min(var(--h),calc(100vh - 108px));" +
      "border:0;border-radius:14px;box-shadow:0 8px 30px rgba(0,0,0,.3);background:#fff;display:none;color-scheme:light}" +
      ".o .f{display:block}" +
      "@media (max-width:480px){.o .f{inset:0;width:100%;height:100%;border-radius:0}.o .l{display:none}}";
    // A constructed sheet is CSSOM too.
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [sheet];
    box = el("div", "w");
    btn = el("button", "l");
    btn.type = "button";
    btn.setAttribute("aria-expanded", "false");
    const text = el("span", "t");
    badge = el("span", "b");
    badge.hidden = true;
    badge.setAttribute("aria-live", "polite");
    btn.append(
      icon("i", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"),
      icon("x", "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z"),
      text, badge,
    );
    box.appendChild(btn);
    root.appendChild(box);
    box.style.setProperty("--c", cfg.colour);
    box.style.setProperty("--f", cfg.ink);
    text.textContent = cfg.launcher_text || "";
    btn.setAttribute("aria-label", cfg.strings.open);
    btn.addEventListener("click", () => show(!open));
    box.addEventListener("keydown", (e) => { if (e.key === "Escape" && open) show(false); });
    place();
    watch();
  };

  // The top layer (a manual popover) is drawn above every z-index and positioned against the
  // viewport even when the page puts a transform or filter on html or body, which would
  // otherwise turn `position: fixed` into "fixed to that element". Without popover support,
  // the root element (outside body's transform) and the last word in paint order.
  const topLayer = () => {
    if (!host.showPopover) return;
    try {
      if (host.matches(":popover-open")) host.hidePopover();
      host.showPopover();
    } catch (e) { /* not connected, or the page forbids it: stays fixed in the root element */ }
  };
  const place = () => {
    if (host.showPopover) host.setAttribute("popover", "manual");
    d.documentElement.appendChild(host);
    topLayer();
    // A page that re-renders its root (or, without popovers, adds an overlay after us) must not
    // remove or bury the launcher: put it back, at most once per animation frame.
    let queued = false;
    new MutationObserver(() => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        if (!host.isConnected) d.documentElement.appendChild(host);
        if (host.nextSibling && !host.showPopover) d.documentElement.appendChild(host);
        else if (host.showPopover && !host.matches(":popover-open")) topLayer();
      });
    }).observe(d.documentElement, { childList: true });
  };

  // The site's signed user (docs/identity.md), read anew at each session start.
  const sessionStart = () => api("session", Object.assign({ key, anonymous_id: anon, language: navigator.language || "",
    identity: (w.parleySettings || {}).identity }, page()))
    .then((s) => {
      // The server keeps a malformed id out and issues its own: remember that one.
      if (s.visitor && s.visitor.anonymous_id && s.visitor.anonymous_id !== anon) store("parley:vid", anon = s.visitor.anonymous_id);
      return s;
    });

  const start = () => {
    const cfgReq = fetch(base + "/widget/config/" + encodeURIComponent(key) + ".json?lang=" + lang)
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)));
    const sessReq = sessionStart();
    Promise.all([cfgReq, sessReq]).then(([c, s]) => {
      cfg = c;
      session = s;
      last = location.href;
      if (!cfg.online && cfg.offline === "hide" && !(s.conversation && s.conversation.status !== "closed")) return;
      if (d.readyState !== "loading") draw();
      else d.addEventListener("DOMContentLoaded", draw);
    }).catch(() => { /* unknown key or a site not allowed: show nothing */ });
  };
  start();
})();
