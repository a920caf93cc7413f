/* Prescreening chat widget: plain JavaScript, no dependencies, no other hosts.
   Embed: <script src="https://HOST/widget.js" data-server="https://HOST" defer></script>
   Optional: data-idle-minutes (default 30), data-timeout-ms (default 10000),
   data-title (panel heading), data-lang (the language; else the page's <html lang>, else the browser's,
   each if the study offers it; else en), data-today (YYYY-MM-DD, test servers only).
   Every word the patient sees comes from GET /widget/texts (bot/widget/texts/<lang>.yml). The language
   chosen is kept with the conversation, sent with every message (metadata.language) and can be
   switched in the menu; a reply with custom.language switches it too. */
(function () {
  "use strict";
  if (window.__prescreenWidget) return;
  window.__prescreenWidget = true;

  var SITE = {} /*@site*/;
  var script = document.currentScript || document.querySelector("script[src*='widget.js']");
  var cfg = (script && script.dataset) || {};
  var SERVER = (cfg.server || (script ? new URL(script.src, location.href).origin : location.origin)).replace(/\/+$/, "");
  var IDLE = (parseFloat(cfg.idleMinutes) > 0 ? parseFloat(cfg.idleMinutes) : 30) * 60000;
  var WARN = IDLE >= 240000 ? 120000 : IDLE / 2;  // the warning comes this long before the end
  var TIMEOUT = parseInt(cfg.timeoutMs, 10) > 0 ? parseInt(cfg.timeoutMs, 10) : 10000;
  var TODAY = /^\d{4}-\d{2}-\d{2}$/.test(cfg.today || "") ? cfg.today : null;
  var LANGS = SITE.langs || ["en"];  // the languages the study offers, filled in by /widget.js
  var NAMES = { en: "lang_en", es: "lang_es" };  // each language's own name, in every texts file
  var KEY = "prescreen-widget:" + SERVER;
  var MAXLEN = SITE.max_length;  // the server's PRESCREEN_MAX_MESSAGE_LENGTH, filled in by /widget.js
  var INFORM = /^\/inform(\{[\s\S]*\})$/;

  var TX = {}, LANG = "en", LOCALE = "en-US", RECRUITING = true, NOTICE = null, NOTICES = [], TITLE, STUDY;
  var st, busy = false, ctl = null, seq = 0, notice = null, retry = null, wiping = 0, langSeq = 0, relang = false;
  var root, launcher, panel, head, names, title, log, progress, bar, typing, alertBox, warnBox, statusBox,
    form, input, wrap, menuBtn, menu, modal, confirmNo, pendingEl = null, lastFocus = null;

  // ---- small helpers -------------------------------------------------------
  function t(key, vars) {
    return String(TX[key] != null ? TX[key] : key).replace(/\{(\w+)\}/g, function (m, k) {
      return vars && vars[k] != null ? vars[k] : m;
    });
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function attrs(e, a) {
    for (var k in a) e.setAttribute(k, a[k]);
    return e;
  }
  function button(cls, text, onClick) {
    var b = el("button", cls, text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }
  function sr(text) { return el("span", "psw-sr", text + " "); }
  function hex(bytes) {
    var a = new Uint8Array(bytes);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (x) { return (x + 256).toString(16).slice(1); }).join("");
  }
  function offered(code) {  // "es-MX" -> "es" if the study offers it, else null
    code = String(code || "").toLowerCase().split(/[-_]/)[0];
    return LANGS.indexOf(code) >= 0 && NAMES[code] ? code : null;
  }
  function detect() {  // data-lang, else the page's language, else the browser's; English otherwise
    var c = [cfg.lang, document.documentElement.lang].concat(navigator.languages || [], navigator.language);
    for (var i = 0; i < c.length; i++) if (offered(c[i])) return offered(c[i]);
    return "en";
  }
  function coarse() { return window.matchMedia && matchMedia("(pointer: coarse)").matches; }
  function span(ms) {  // "2 minutes", "30 seconds"
    var n = ms >= 60000 ? Math.round(ms / 60000) : Math.max(1, Math.round(ms / 1000));
    var unit = ms >= 60000 ? ["minute", "minutes"] : ["second", "seconds"];
    return t(unit[n === 1 ? 0 : 1], { n: n });
  }
  function longDate(iso) {  // "2027-02-28" -> "February 28, 2027"
    if (!/^\d{4}-\d{2}-\d{2}$/.test(iso || "")) {
      var d = new Date();
      iso = d.getFullYear() + "-" + ("0" + (d.getMonth() + 1)).slice(-2) + "-" + ("0" + d.getDate()).slice(-2);
    }
    return new Intl.DateTimeFormat(LOCALE, { month: "long", day: "numeric", year: "numeric", timeZone: "UTC" })
      .format(new Date(iso + "T00:00:00Z"));
  }

  // ---- the stored copy (localStorage, same site only) ------------------------
  function fresh() { return { v: 1, sender: null, items: [], open: false, last: Date.now(), pending: null, draft: "", lang: LANG }; }
  function read() {
    try {
      var s = JSON.parse(localStorage.getItem(KEY));
      if (s && s.v === 1 && Array.isArray(s.items)) return s;
    } catch (e) { /* unreadable: start afresh */ }
    return null;
  }
  function expired(s) { return !s || !(Date.now() - s.last < IDLE); }
  function save(touch) {
    if (touch) { st.last = Date.now(); hideWarn(); }
    if (!st.sender) return;
    try { localStorage.setItem(KEY, JSON.stringify(st)); } catch (e) { /* full or disabled */ }
  }
  function forget() {
    try { localStorage.removeItem(KEY); } catch (e) { /* disabled */ }
  }

  // ---- text: paragraphs, line breaks and "- " lists, as text nodes only --------
  function addText(parent, text, skip) {
    String(text || "").split(/\n[ \t]*\n/).forEach(function (block) {
      if (skip && block.trim() === skip) return;
      var list = null, para = null, lines = block.split("\n");
      lines.forEach(function (line, i) {
        var m = /^\s*[-\u2022]\s+(.*)$/.exec(line);
        if (!i && lines.length > 1 && /^[^\n]{1,60}:$/.test(line)) {  // "Why:", "What happens next:": a small heading
          parent.appendChild(el("p", "psw-lead", line));
        } else if (m) {
          if (!list) { list = parent.appendChild(el("ul")); para = null; }
          list.appendChild(el("li", null, m[1]));
        } else {
          list = null;
          if (para) para.appendChild(document.createTextNode("\n" + line));
          else para = parent.appendChild(el("p", null, line));
        }
      });
    });
  }

  // ---- the widget's DOM ------------------------------------------------------
  function build() {  // again after the language changed: the new root takes the old one's place
    var old = root;
    root = attrs(el("aside", "psw"), { "aria-label": t("region"), lang: LANG });
    launcher = attrs(button("psw-launcher", null, open), { "aria-expanded": "false", "aria-controls": "psw-panel" });
    launcher.appendChild(el("span", "psw-launcher-dot"));
    launcher.appendChild(document.createTextNode(t("launcher")));

    panel = attrs(el("div", "psw-panel"), { role: "dialog", "aria-modal": "false", "aria-labelledby": "psw-title" });
    panel.id = "psw-panel";
    panel.hidden = true;
    panel.tabIndex = -1;
    panel.addEventListener("keydown", onKey);

    head = panel.appendChild(el("div", "psw-head"));
    var row = head.appendChild(el("div", "psw-head-row"));
    names = row.appendChild(el("div", "psw-names"));
    names.appendChild(el("p", "psw-kicker", t("kicker")));
    title = names.appendChild(el("h2", "psw-title", TITLE));
    title.id = "psw-title";
    progress = names.appendChild(el("p", "psw-progress"));
    progress.id = "psw-progress";
    progress.hidden = true;

    wrap = row.appendChild(el("div", "psw-menu-wrap"));
    menuBtn = attrs(wrap.appendChild(button("psw-menu-btn", t("menu"), function () { menu.hidden ? openMenu() : closeMenu(true); })),
      { "aria-expanded": "false", "aria-controls": "psw-menu" });
    menu = attrs(wrap.appendChild(el("ul", "psw-menu")), { "aria-label": t("menu_label") });
    menu.id = "psw-menu";
    menu.hidden = true;
    [["talk_to_person", function () { send("/human", t("talk_to_person")); }],
     ["start_over", function () { send("/restart", t("start_over")); }],
     ["end_clear", openConfirm, " psw-end"]].forEach(function (m) {
      menu.appendChild(el("li")).appendChild(button("psw-menu-item" + (m[2] || ""), t(m[0]), function () { closeMenu(false); m[1](); }));
    });
    // the language switch: each language by its own name, in its own language
    var codes = LANGS.filter(offered), langs = codes.length > 1 &&
      attrs(menu.appendChild(el("li")).appendChild(el("div", "psw-langs")), { role: "group", "aria-label": t("language_switch") });
    if (langs) codes.forEach(function (code) {
      attrs(langs.appendChild(button("psw-menu-item", t(NAMES[code]), function () { save(true); setLang(code, true); })),
        { lang: code, "aria-pressed": code === LANG ? "true" : "false" });
    });
    var w = wrap;
    w.addEventListener("focusout", function (e) { if (!w.contains(e.relatedTarget) && e.relatedTarget) closeMenu(false); });

    attrs(row.appendChild(button("psw-close", "\u00d7", close)), { "aria-label": t("close"), title: t("close_tip") });
    bar = attrs(head.appendChild(el("progress", "psw-bar")), { "aria-hidden": "true" });
    bar.hidden = true;

    log = attrs(panel.appendChild(el("div", "psw-log")), { role: "log", "aria-live": "polite", "aria-label": t("log") });
    log.tabIndex = 0;
    // not recruiting: said first, above the greeting and its Start button
    statusBox = attrs(el("div", "psw-status"), { role: "status" });

    typing = attrs(panel.appendChild(el("div", "psw-typing")), { role: "status" });
    typing.hidden = true;
    attrs(typing.appendChild(el("span", "psw-dots")), { "aria-hidden": "true" });
    typing.appendChild(el("span", null, t("typing")));

    alertBox = attrs(panel.appendChild(el("div", "psw-alert")), { role: "alert" });

    form = panel.appendChild(el("form", "psw-form"));
    var label = form.appendChild(el("label", "psw-sr", t("input_label")));
    label.htmlFor = "psw-input";
    input = attrs(form.appendChild(el("input", "psw-input")), { enterkeyhint: "send" });
    input.id = "psw-input";
    input.type = "text";
    input.autocomplete = "off";
    input.maxLength = MAXLEN;
    input.placeholder = t("input_hint");
    input.addEventListener("input", function () { st.draft = input.value; save(true); });
    form.appendChild(el("button", "psw-send", t("send"))).type = "submit";
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var text = input.value.trim();
      if (text) send(text, text);
    });

    // "End and clear" asks first, in the panel
    modal = panel.appendChild(el("div", "psw-modal"));
    modal.hidden = true;
    var box = attrs(modal.appendChild(el("div", "psw-dialog")),
      { role: "alertdialog", "aria-modal": "true", "aria-labelledby": "psw-confirm-title", "aria-describedby": "psw-confirm-text" });
    box.appendChild(el("h2", null, t("confirm_title"))).id = "psw-confirm-title";
    box.appendChild(el("p", null, t("confirm_text"))).id = "psw-confirm-text";
    var btns = box.appendChild(el("div", "psw-dialog-buttons"));
    btns.appendChild(button("psw-yes", t("confirm_yes"), confirmClear));
    confirmNo = btns.appendChild(button("psw-no", t("confirm_no"), function () { closeConfirm(); }));

    root.appendChild(launcher);
    root.appendChild(panel);
    if (!old) return document.body.appendChild(root);
    root.hidden = old.hidden;
    old.replaceWith(root);
  }

  function onKey(e) {
    if (e.key === "Tab" && !modal.hidden) {  // keep the focus in the question
      var b = modal.querySelectorAll("button"), first = b[0], last = b[b.length - 1];
      if (e.shiftKey ? document.activeElement === first : document.activeElement === last) {
        e.preventDefault();
        (e.shiftKey ? last : first).focus();
      }
    }
    if (e.key !== "Escape" && e.key !== "Esc") return;
    e.preventDefault();
    if (!modal.hidden) closeConfirm();
    else if (!menu.hidden) closeMenu(true);
    else close();
  }

  // ---- the menu and the confirmation ---------------------------------------------
  function openMenu() {
    menu.hidden = false;
    menuBtn.setAttribute("aria-expanded", "true");
    menu.querySelector("button").focus();
  }
  function closeMenu(focus) {
    if (menu.hidden) return;
    menu.hidden = true;
    menuBtn.setAttribute("aria-expanded", "false");
    if (focus) menuBtn.focus();
  }
  function setInert(on) {
    [head, log, typing, alertBox, warnBox, form].forEach(function (e) { if (e) e.inert = on; });
  }
  function openConfirm() {
    lastFocus = menuBtn;
    modal.hidden = false;
    setInert(true);
    confirmNo.focus();
  }
  function closeConfirm(refocus) {
    modal.hidden = true;
    setInert(false);
    if (refocus !== false && lastFocus) lastFocus.focus();
  }
  function confirmClear() {
    var sender = st.sender;
    closeConfirm(false);
    reset(sender ? t("clearing") : t("cleared"));
    if (sender) wipe(sender, notice);
    var b = log.querySelector(".psw-new");
    if (b && !panel.hidden) b.focus();
  }
  function wipe(sender, shown) {  // "delete my answers" on the server, for a conversation this browser forgot
    var mine = ++wiping;
    var step = function (text) { return request(sender, text, hex(16)); };
    step("/delete_data").then(function () { return step("/confirm_delete"); }).then(function (replies) {
      return replies.some(function (r) { return r && r.custom && r.custom.conversation_deleted; });
    }, function () { return false; }).then(function (gone) {
      if (mine !== wiping || notice !== shown) return;  // a new conversation began meanwhile
      var a = document.activeElement, had = !a || a === document.body || log.contains(a);
      notice = t(gone ? "cleared" : "clear_failed");
      retry = gone ? null : function () { notice = t("clearing"); retry = null; renderAll(); wipe(sender, notice); };
      renderAll();
      if (had && !panel.hidden) log.querySelector(".psw-note button").focus();
    });
  }

  // ---- rendering -------------------------------------------------------------
  function toggleOf(payload) {  // '/inform{"q":["a"]}' -> {q: "q", id: "a"}: one of several answers
    var m = INFORM.exec(payload), o;
    if (!m) return null;
    try { o = JSON.parse(m[1]); } catch (e) { return null; }
    var keys = Object.keys(o || {});
    if (keys.length !== 1 || !Array.isArray(o[keys[0]]) || o[keys[0]].length !== 1 || typeof o[keys[0]][0] !== "string") return null;
    return { q: keys[0], id: o[keys[0]][0] };
  }

  function bubble(item) {
    var me = item.w === "me";
    var div = el("div", "psw-msg " + (me ? "psw-me" : item.r ? "psw-bot psw-result" : told(item) ? "psw-bot psw-status" : "psw-bot"));
    if (told(item)) div.setAttribute("role", "status");
    div.appendChild(sr(t(me ? "you_said" : "assistant_said")));
    var body = div.appendChild(el("div", "psw-text"));
    var text = item.t, nl = text.indexOf("\n");
    // "Question 3 of 12" (in any language) on the first line: the header shows it
    if (item.q && nl > 0 && nl < 40 && String(text.slice(0, nl).match(/\d+/g)) === item.q.step + "," + item.q.total) text = text.slice(nl + 1);
    if (item.l) body.lang = item.l;  // the language the bot said it in
    if (me) body.textContent = text; else addText(body, text);
    if (item.b && item.b.length) {
      var toggles = item.b.map(function (c) { return toggleOf(c.payload); });
      var multi = toggles.some(Boolean), last = -1;
      toggles.forEach(function (x, i) { if (x) last = i; });
      if (multi) div.appendChild(el("p", "psw-hint", t("pick_all")));
      var group = attrs(div.appendChild(el("div", "psw-choices")), { role: "group", "aria-label": t("choices") });
      div._item = item;
      div._btns = [];
      if (multi) item.sel = item.sel || [];
      item.b.forEach(function (choice, i) {
        var aside = choice.payload === "/go_back", b;
        if (toggles[i]) {
          b = attrs(button("psw-choice psw-toggle", choice.title, function () {
            if (busy || item.done) return;
            var at = item.sel.indexOf(i);
            if (at < 0) item.sel.push(i); else item.sel.splice(at, 1);
            item.sel.sort(function (a, c) { return a - c; });
            save(true);
            refreshChoices();
          }), { "aria-pressed": "false" });
          b._toggle = i;
        } else {
          // "change my last answer" is not an answer: set apart, on its own line
          b = button(aside ? "psw-choice psw-aside" : "psw-choice", choice.title, function () {
            if (busy || item.done) return;
            item.pick = choice.payload;
            if (multi) item.sel = [];
            send(choice.payload, choice.title);
          });
          b._payload = choice.payload;
        }
        if (item.l) b.lang = item.l;
        if (aside) group.appendChild(el("span", "psw-break"));
        group.appendChild(b);
        div._btns.push(b);
        if (i === last) {
          var done = button("psw-choice psw-done", t("done"), function () {
            if (busy || item.done || !item.sel.length) return;
            var ids = {};
            ids[toggles[last].q] = item.sel.map(function (j) { return toggles[j].id; });
            item.pick = "done";
            send("/inform" + JSON.stringify(ids), item.sel.map(function (j) { return item.b[j].title; }).join(", "));
          });
          done._done = true;
          group.appendChild(done);
          div._btns.push(done);
          group.appendChild(el("span", "psw-break"));  // "None of these" and "Not sure" on a line of their own
        }
      });
    }
    if (item.r) {
      div.appendChild(button("psw-print-btn", t("print"), function () { printResult(item); }));
    }
    return div;
  }

  function refreshChoices() {
    var msgs = log.querySelectorAll(".psw-msg");
    for (var i = 0; i < msgs.length; i++) {
      var item = msgs[i]._item, bs = msgs[i]._btns || [];
      for (var j = 0; j < bs.length; j++) {
        var b = bs[j], off = busy || !!item.done, on;
        if (b._toggle != null) {
          on = item.sel.indexOf(b._toggle) >= 0;
          b.setAttribute("aria-pressed", on ? "true" : "false");
          on = on && item.pick === "done";
        } else if (b._done) {
          on = item.pick === "done";
          off = off || !item.sel.length;
        } else {
          on = item.pick === b._payload;
        }
        b.disabled = off;
        b.classList.toggle("psw-picked", !!on && !!item.done);
      }
    }
  }

  function refreshProgress() {
    var text = null, step = 0, total = 0, started = false;
    for (var i = st.items.length - 1; i >= 0; i--) {
      var it = st.items[i];
      if (it.w === "me" || it.q || it.v || it.r) started = true;
      if (text) continue;
      if (it.r) text = t("all_answered");
      else if (it.v) text = t("check_answers");
      else if (it.q) {
        step = +it.q.step || 0;
        total = Math.max(+it.q.total || 0, step);
        text = t("question_of", { step: step, total: total });
      }
    }
    started = started || !!st.pending;
    progress.hidden = !text;
    progress.textContent = text || "";
    bar.hidden = !total;
    if (total) { bar.max = total; bar.value = step; }
    // after Start the header shrinks to one line: the conversation gets the room
    panel.classList.toggle("psw-compact", started);
    names.classList.toggle("psw-has-progress", !!text);
  }

  function told(item) {  // the server's own not-recruiting message (it comes before the greeting)
    return item.w === "bot" && NOTICES.some(function (n) { return item.t.indexOf(n) === 0; });
  }
  function placeStatus() {
    // the study is not taking people now: said first, above the greeting and its Start button; by the
    // server's message when it sends one, else by the widget (not while the first answer is on its way)
    var own = !RECRUITING && !notice && !st.items.some(told) && (st.items.length > 0 || !busy);
    if (own && statusBox.parentNode !== log) log.insertBefore(statusBox, log.firstChild);
    if (!own && statusBox.parentNode) statusBox.remove();
  }
  function showStatus() {  // filled in again on opening, so that it is read out
    statusBox.textContent = "";
    if (RECRUITING) return;
    statusBox.appendChild(el("p", "psw-status-head", NOTICE || t("not_recruiting")));
    statusBox.appendChild(el("p", null, t("go_on_anyway")));
  }

  function showNotice() {
    if (!notice) return;
    var div = attrs(log.appendChild(el("div", "psw-msg psw-note")), { role: "status" });
    div.appendChild(el("p", null, notice));
    if (retry) div.appendChild(button("psw-choice psw-again", t("try_again"), retry));
    div.appendChild(button("psw-choice psw-new", t("new_chat"), function () {
      notice = null;
      retry = null;
      wiping++;
      renderAll();
      start();
      panel.focus();
    }));
  }

  function renderAll() {
    log.textContent = "";
    pendingEl = null;
    showNotice();
    st.items.forEach(function (item) { log.appendChild(bubble(item)); });
    placeStatus();
    if (st.pending) showPending(t(busy ? "sending" : "not_sent"));
    refreshChoices();
    refreshProgress();
    if (st.pending && !busy) showError(t("unsent"));
    else clearError();
    if (document.activeElement !== input) input.value = st.draft || "";
    log.scrollTop = log.scrollHeight;
  }

  function showPending(status) {
    if (!st.pending || st.pending.d == null) return;
    if (!pendingEl) {
      pendingEl = el("div", "psw-msg psw-me psw-pending");
      pendingEl.appendChild(sr(t("you_said")));
      pendingEl.appendChild(el("div", "psw-text", st.pending.d));
      pendingEl.appendChild(el("span", "psw-state"));
      log.appendChild(pendingEl);
    } else {
      pendingEl.querySelector(".psw-text").textContent = st.pending.d;
    }
    pendingEl.lastChild.textContent = status;
    log.scrollTop = log.scrollHeight;
  }

  function showError(message) {
    clearError();
    alertBox.appendChild(el("p", null, message));
    alertBox.appendChild(button("psw-retry", t("try_again"), function () {
      if (st.pending) post(st.pending);
    }));
    alertBox.classList.add("psw-on");
  }
  function clearError() {
    alertBox.textContent = "";
    alertBox.classList.remove("psw-on");
  }

  function setBusy(on) {
    busy = on;
    typing.hidden = !on;
    panel.setAttribute("data-busy", on ? "true" : "false");
    placeStatus();
    refreshChoices();
    if (on) log.scrollTop = log.scrollHeight;
  }

  // ---- opening and closing -----------------------------------------------------
  function open() {
    tick();
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    st.open = true;
    save(true);
    log.scrollTop = log.scrollHeight;
    setTimeout(showStatus, 50);
    if (!st.items.length && !st.pending && !notice) start();
    focusNext();
  }
  function close() {
    closeMenu(false);
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    st.open = false;
    save(true);
    launcher.focus();
  }
  function focusNext() {
    if (panel.hidden || !modal.hidden) return;
    var a = document.activeElement;
    if (a === input || (a && a !== document.body && a !== panel && !root.contains(a))) return;
    var msgs = log.querySelectorAll(".psw-msg");
    for (var i = msgs.length - 1; i >= 0; i--) {
      var free = (msgs[i]._btns || []).filter(function (b) { return !b.disabled && !/psw-aside/.test(b.className); });
      if (free.length) return free[0].focus({ preventScroll: true });  // the message is read from its top
    }
    if (!busy && !coarse()) input.focus();
    else panel.focus();
  }

  // ---- sending -------------------------------------------------------------------
  function start() { send("/greet", null); }

  function send(text, display) {
    if (busy) return;
    notice = null;
    if (!st.sender) st.sender = hex(16);
    var p = st.pending;
    if (!p || p.text !== text) p = { text: text, d: display, id: hex(16) };
    if (st.pending && st.pending !== p && pendingEl) { pendingEl.remove(); pendingEl = null; }
    st.pending = p;
    post(p);
  }

  function request(sender, text, id, onCtl) {  // one message to the server: a promise of its replies
    var metadata = { message_id: id, language: LANG }, timedOut = false;
    if (TODAY) metadata.today = TODAY;
    var c = window.AbortController ? new AbortController() : null;
    if (onCtl) onCtl(c);
    var timer = setTimeout(function () { timedOut = true; if (c) c.abort(); }, TIMEOUT);
    return fetch(SERVER + "/webhooks/rest/webhook", {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: sender, message: text, metadata: metadata }),
      signal: c ? c.signal : undefined
    }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (body) {
        clearTimeout(timer);
        if (res.ok && Array.isArray(body)) return body;
        var err = new Error("http");
        err.status = res.status;
        err.body = body;
        throw err;
      });
    }).then(null, function (err) {
      clearTimeout(timer);
      err.timedOut = timedOut;
      throw err;
    });
  }

  function post(p) {
    if (busy) return;
    var mine = ++seq;
    p.l = LANG;
    clearError();
    showPending(t("sending"));
    setBusy(true);
    save(true);
    request(st.sender, p.text, p.id, function (c) { ctl = c; }).then(function (replies) {
      if (mine === seq) received(p, replies);
    }, function (err) {
      if (mine === seq) failed(p, err);
    });
  }

  function received(p, replies) {
    if (/^\/confirm_delete\b/.test(p.text)) {  // the server deleted the conversation: forget it here too
      reset(replies.map(function (r) { return r && r.text; }).filter(Boolean).join("\n\n") || t("deleted"));
      return focusNext();
    }
    setBusy(false);
    st.items.forEach(function (it) {
      it.done = true;
      if (it.sel && it.pick !== "done") it.sel = [];  // picked, then answered some other way
    });
    if (pendingEl) { pendingEl.remove(); pendingEl = null; }
    var added = [], said = null;
    if (p.d != null) added.push({ w: "me", t: p.d });
    replies.forEach(function (r) {
      var c = (r && r.custom) || {}, res = c.prescreen_result, rev = c.review;
      said = offered(c.language) || said;  // the bot switched languages (the patient asked it to)
      if (!r || (typeof r.text !== "string" && !(r.buttons && r.buttons.length))) return;
      var item = { w: "bot", t: r.text || "" };
      if (Array.isArray(r.buttons) && r.buttons.length) {
        item.b = r.buttons.filter(function (b) { return b && b.payload != null; }).map(function (b) {
          return { title: String(b.title != null ? b.title : b.payload), payload: String(b.payload) };
        });
      }
      if (c.question) item.q = { step: c.question.step, total: c.question.total };
      if (res) item.r = { outcome: res.outcome, reference: res.reference || null, today: res.today || null };
      if (rev) {  // "Here is what you told me": its lines go on the printout
        item.v = { a: (Array.isArray(rev.answers) ? rev.answers : []).map(function (a) { return a && a.text; })
          .filter(function (x) { return typeof x === "string" && x; }) };
      }
      added.push(item);
    });
    st.pending = null;
    if (input.value.trim() === p.text) input.value = "";
    st.draft = input.value;
    var first = null;
    added.forEach(function (item) {
      if (item.w === "bot") item.l = said || p.l;
      st.items.push(item);
      var node = log.appendChild(bubble(item));
      if (!first && item.w === "bot") first = node;
    });
    save(true);
    placeStatus();
    refreshChoices();
    refreshProgress();
    log.scrollTop = first ? (added.length === st.items.length ? 0 : Math.max(0, first.offsetTop - 48)) : log.scrollHeight;
    focusNext();
    if (said && said !== LANG) setLang(said, false);
    else if (relang) tellLang();
  }

  function failed(p, err) {
    setBusy(false);
    relang = false;  // sent again, the message carries the new language
    var status = err && err.status, body = err && err.body, message;
    if (err && err.timedOut) message = t("too_slow");
    else if (!status) message = t("offline");
    else if (status === 429) message = t("too_many");
    else if (body && typeof body.error === "string" && body.error) message = body.error;
    else message = t("server_error", { status: status });
    showPending(t("not_sent"));
    placeStatus();
    showError(message);
    log.scrollTop = log.scrollHeight;
    save(false);
  }

  // ---- ending, expiry, other tabs -------------------------------------------------------
  function reset(text) {
    seq++;
    if (ctl) ctl.abort();
    setBusy(false);
    forget();
    hideWarn();
    var wasOpen = st.open;
    st = fresh();
    st.open = wasOpen;
    notice = text;
    retry = null;
    input.value = "";
    renderAll();
  }

  function showWarn() {
    if (warnBox) return;
    warnBox = attrs(el("div", "psw-warn"), { role: "alert" });  // a new alert is read out at once
    warnBox.appendChild(el("p", null, t("idle_warning", { time: span(WARN) })));
    warnBox.appendChild(button("psw-keep", t("keep_going"), function () {
      save(true);
      focusNext();
    }));
    panel.insertBefore(warnBox, form);
    var a = document.activeElement;
    if (!panel.hidden && modal.hidden && (!a || a === document.body || root.contains(a))) warnBox.lastChild.focus();
  }
  function hideWarn() {
    if (!warnBox) return;
    var had = warnBox.contains(document.activeElement);
    warnBox.remove();
    warnBox = null;
    if (had) focusNext();
  }
  function tick() {  // the privacy timer: a warning, then the browser forgets the conversation
    if (!st.sender) return hideWarn();
    var left = IDLE - (Date.now() - st.last);
    if (left <= WARN) {
      var other = read();  // another tab may have been in use
      if (other && other.sender === st.sender && other.last > st.last) st.last = other.last;
      left = IDLE - (Date.now() - st.last);
    }
    if (left <= 0) reset(t("idle_cleared", { time: span(IDLE) }));
    else if (left <= WARN) showWarn();
    else hideWarn();
  }

  function onStorage(e) {
    if (e.key !== KEY || busy) return;
    var s = read();
    if (!s) {
      if (st.sender) reset(t("ended_elsewhere"));
      return;
    }
    var same = JSON.stringify([s.sender, s.items, s.pending]) === JSON.stringify([st.sender, st.items, st.pending]);
    if (same) {
      st.last = s.last;
      st.draft = s.draft;
      st.lang = s.lang;
      if (document.activeElement !== input) input.value = st.draft || "";
      tick();
    } else {
      s.open = st.open;
      st = s;
      renderAll();
      tick();
    }
    if (offered(st.lang) && st.lang !== LANG) setLang(st.lang, false);  // switched in another tab
  }

  // ---- the printout -------------------------------------------------------------------
  function printResult(item) {
    var old = document.getElementById("psw-print");
    if (old) old.remove();
    var view = attrs(el("div", "psw-print"), { lang: LANG });
    view.id = "psw-print";
    var r = item.r || {}, ref = r.reference ? t("print_reference", { reference: r.reference }) : null, answers = null;
    for (var i = st.items.length - 1; i >= 0 && !answers; i--) if (st.items[i].v && st.items[i].v.a) answers = st.items[i].v.a;
    view.appendChild(el("p", "psw-print-kicker", t("print_kicker")));
    view.appendChild(el("h1", null, STUDY || TITLE));
    var meta = view.appendChild(el("p", "psw-print-meta"));
    if (ref) meta.appendChild(el("strong", null, ref));
    meta.appendChild(el("span", null, t("print_date", { date: longDate(r.today) })));
    if (answers && answers.length) {
      view.appendChild(el("h2", null, t("print_answers")));
      var ul = view.appendChild(el("ul", "psw-print-answers"));
      answers.forEach(function (a) { ul.appendChild(el("li", null, a)); });
    }
    view.appendChild(el("h2", null, t("print_result")));
    addText(view.appendChild(el("div", "psw-print-result")), item.t, ref);
    view.appendChild(el("p", "psw-print-foot", t("print_foot")));
    document.body.appendChild(view);
    document.documentElement.classList.add("psw-printing");
    window.print();
  }
  window.addEventListener("afterprint", function () {
    document.documentElement.classList.remove("psw-printing");
  });

  // ---- start-up ----------------------------------------------------------------------
  function loadCss(done) {
    var href = SERVER + "/widget.css", links = document.querySelectorAll("link[rel~='stylesheet']");
    for (var i = 0; i < links.length; i++) {
      if (links[i].href === href) {
        if (links[i].sheet) return done();
        links[i].addEventListener("load", done);
        links[i].addEventListener("error", done);
        return setTimeout(done, 3000);
      }
    }
    var link = el("link");
    link.rel = "stylesheet";
    link.href = href;
    link.addEventListener("load", done);
    link.addEventListener("error", done);
    setTimeout(done, 3000);
    document.head.appendChild(link);
  }

  function loadTexts(lang) {
    var c = window.AbortController ? new AbortController() : null, mine = ++langSeq;
    var timer = setTimeout(function () { if (c) c.abort(); }, TIMEOUT);
    return fetch(SERVER + "/widget/texts?lang=" + encodeURIComponent(lang), {
      mode: "cors", credentials: "omit", signal: c ? c.signal : undefined
    }).then(function (res) {
      clearTimeout(timer);
      if (!res.ok) throw new Error("texts " + res.status);
      return res.json();
    }).then(function (body) {
      if (!body || !body.texts) throw new Error("texts");
      if (mine !== langSeq) throw new Error("superseded");  // another language was asked for since
      TX = body.texts;
      LANG = offered(body.lang) || "en";
      LOCALE = body.locale || LOCALE;
      RECRUITING = body.status !== "not_recruiting";
      NOTICE = body.status_notice || null;
      if (NOTICE && NOTICES.indexOf(NOTICE) < 0) NOTICES.push(NOTICE);
      TITLE = cfg.title || body.short_title || SITE.short || SITE.title || t("title");
      STUDY = body.title || SITE.title;
    });
  }

  // ---- the language ------------------------------------------------------------------
  function setLang(code, tell) {  // the widget's words in another language; `tell`: the bot too
    if (!offered(code) || code === LANG) return;
    loadTexts(code).then(function () {
      var a = document.activeElement, had = !a || a === document.body || root.contains(a);
      st.lang = LANG;
      save(false);
      hideWarn();
      build();
      draw();
      if (tell) {
        openMenu();
        menu.querySelector("[aria-pressed=true]").focus();
        tellLang();
      } else if (had) focusNext();
      tick();
    }, function (err) {
      if (err.message !== "superseded") showError(t("offline"));
    });
  }
  function tellLang() {  // the bot says its current question again, in the new language (answers are kept)
    relang = busy;
    if (!busy && st.sender && !notice && !st.pending) send("/switch_language" + JSON.stringify({ language: LANG }), null);
  }
  function draw() {  // a new DOM shows the conversation as it is
    renderAll();
    showStatus();
    setBusy(busy);
    if (st.open) {
      panel.hidden = false;
      launcher.hidden = true;
      launcher.setAttribute("aria-expanded", "true");
      log.scrollTop = log.scrollHeight;
    }
  }

  function init() {
    var shown = false;
    st = read();
    if (expired(st)) { forget(); st = null; }
    loadTexts((st && offered(st.lang)) || detect()).then(function () {
      st = st || fresh();
      build();
      root.hidden = true;
      loadCss(function () { if (!shown) { shown = true; root.hidden = false; } });
      draw();
      window.addEventListener("storage", onStorage);
      document.addEventListener("click", function (e) { if (!menu.hidden && !wrap.contains(e.target)) closeMenu(false); }, true);
      tick();
      setInterval(tick, Math.max(250, Math.min(15000, WARN / 8)));
      document.addEventListener("visibilitychange", function () { if (!document.hidden) tick(); });
    }, function () {
      // without its texts the widget cannot speak: one short built-in line, nothing else
      root = attrs(el("aside", "psw"), { lang: "en" });
      attrs(root.appendChild(el("p", "psw-launcher psw-failed", "Sorry, the chat could not load. Please try again later.")),
        { role: "alert" });
      document.body.appendChild(root);
      loadCss(function () {});
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
