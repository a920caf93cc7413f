/* Prescreening chat widget: plain JavaScript, no dependencies, no other hosts.
   Embed: <script src="https://HOST/widget.js" data-server="https://HOST" defer></script>
   Optional: data-idle-minutes (default 30), data-timeout-ms (default 10000),
   data-title (panel heading), data-today (YYYY-MM-DD, test servers only). */
(function () {
  "use strict";
  if (window.__prescreenWidget) return;
  window.__prescreenWidget = true;

  var SITE = {} /*@site*/;
  var script = document.currentScript || document.querySelector("script[src*='widget.js']");
  var cfg = (script && script.dataset) || {};
  var SERVER = (cfg.server || (script ? new URL(script.src, location.href).origin : location.origin)).replace(/\/+$/, "");
  var IDLE = (parseFloat(cfg.idleMinutes) > 0 ? parseFloat(cfg.idleMinutes) : 30) * 60000;
  var TIMEOUT = parseInt(cfg.timeoutMs, 10) > 0 ? parseInt(cfg.timeoutMs, 10) : 10000;
  var TODAY = /^\d{4}-\d{2}-\d{2}$/.test(cfg.today || "") ? cfg.today : null;
  var TITLE = cfg.title || SITE.short || SITE.title || "Study prescreen";
  var KEY = "prescreen-widget:" + SERVER;
  var MAXLEN = SITE.max_length;  // the server's PRESCREEN_MAX_MESSAGE_LENGTH, filled in by /widget.js

  var st, busy = false, ctl = null, seq = 0, notice = null;
  var root, launcher, panel, log, progress, bar, typing, alertBox, form, input, pendingEl = null;

  // ---- small helpers -------------------------------------------------------
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function button(cls, text, onClick) {
    var b = el("button", cls, text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }
  function sr(text) { return el("span", "psw-sr", text); }
  function hex(bytes) {
    var a = new Uint8Array(bytes);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (x) { return (x + 256).toString(16).slice(1); }).join("");
  }
  function coarse() { return window.matchMedia && matchMedia("(pointer: coarse)").matches; }

  // ---- the stored copy (localStorage, same site only) ------------------------
  function fresh() { return { v: 1, sender: null, items: [], open: false, last: Date.now(), pending: null, draft: "" }; }
  function read() {
    try {
      var s = JSON.parse(localStorage.getItem(KEY));
      if (s && s.v === 1 && Array.isArray(s.items)) return s;
    } catch (e) { /* unreadable: start afresh */ }
    return null;
  }
  function expired(s) { return !s || !(Date.now() - s.last < IDLE); }
  function save(touch) {
    if (touch) st.last = Date.now();
    if (!st.sender) return;
    try { localStorage.setItem(KEY, JSON.stringify(st)); } catch (e) { /* full or disabled */ }
  }
  function forget() {
    try { localStorage.removeItem(KEY); } catch (e) { /* disabled */ }
  }

  // ---- text: paragraphs, line breaks and "- " lists, as text nodes only --------
  function addText(parent, text) {
    String(text || "").split(/\n[ \t]*\n/).forEach(function (block) {
      var list = null, para = null;
      block.split("\n").forEach(function (line) {
        var m = /^\s*[-\u2022]\s+(.*)$/.exec(line);
        if (m) {
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
  function build() {
    root = el("aside", "psw");
    root.setAttribute("aria-label", "Study prescreening chat");
    launcher = button("psw-launcher", null, open);
    launcher.appendChild(el("span", "psw-launcher-dot"));
    launcher.appendChild(document.createTextNode("Chat: is this study for me?"));
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", "psw-panel");

    panel = el("div", "psw-panel");
    panel.id = "psw-panel";
    panel.hidden = true;
    panel.tabIndex = -1;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-modal", "false");
    panel.setAttribute("aria-labelledby", "psw-title");
    panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape" || e.key === "Esc") { e.preventDefault(); close(); }
    });

    var head = panel.appendChild(el("div", "psw-head"));
    var row = head.appendChild(el("div", "psw-head-row"));
    var names = row.appendChild(el("div", "psw-names"));
    names.appendChild(el("p", "psw-kicker", "Prescreening chat"));
    var h = names.appendChild(el("h2", "psw-title", TITLE));
    h.id = "psw-title";
    var x = row.appendChild(button("psw-close", "\u00d7", close));
    x.setAttribute("aria-label", "Close chat");
    x.title = "Close chat (Esc)";
    progress = head.appendChild(el("p", "psw-progress"));
    progress.id = "psw-progress";
    progress.hidden = true;
    bar = head.appendChild(el("progress", "psw-bar"));
    bar.setAttribute("aria-hidden", "true");
    bar.hidden = true;
    var tools = head.appendChild(el("div", "psw-tools"));
    tools.setAttribute("role", "group");
    tools.setAttribute("aria-label", "Conversation");
    tools.appendChild(button("psw-tool", "Start over", function () { send("/restart", "Start over"); }));
    tools.appendChild(button("psw-tool", "Talk to a person", function () { send("/human", "Talk to a person"); }));
    tools.appendChild(button("psw-tool", "End and clear", endAndClear));

    log = panel.appendChild(el("div", "psw-log"));
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    log.setAttribute("aria-label", "Conversation messages");
    log.tabIndex = 0;

    typing = panel.appendChild(el("div", "psw-typing"));
    typing.setAttribute("role", "status");
    typing.hidden = true;
    typing.appendChild(el("span", "psw-dots")).setAttribute("aria-hidden", "true");
    typing.appendChild(el("span", null, "The assistant is typing\u2026"));

    alertBox = panel.appendChild(el("div", "psw-alert"));
    alertBox.setAttribute("role", "alert");

    form = panel.appendChild(el("form", "psw-form"));
    var label = form.appendChild(el("label", "psw-sr", "Your message"));
    label.htmlFor = "psw-input";
    input = form.appendChild(el("input", "psw-input"));
    input.id = "psw-input";
    input.type = "text";
    input.autocomplete = "off";
    input.maxLength = MAXLEN;
    input.placeholder = "Type your answer\u2026";
    input.setAttribute("enterkeyhint", "send");
    input.addEventListener("input", function () { st.draft = input.value; save(false); });
    var sendBtn = form.appendChild(el("button", "psw-send", "Send"));
    sendBtn.type = "submit";
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var text = input.value.trim();
      if (text) send(text, text);
    });

    root.appendChild(launcher);
    root.appendChild(panel);
    document.body.appendChild(root);
  }

  // ---- rendering -------------------------------------------------------------
  function bubble(item) {
    var me = item.w === "me";
    var div = el("div", "psw-msg " + (me ? "psw-me" : item.r ? "psw-bot psw-result" : "psw-bot"));
    div.appendChild(sr(me ? "You said: " : "Assistant: "));
    var body = div.appendChild(el("div", "psw-text"));
    if (me) body.textContent = item.t; else addText(body, item.t);
    if (item.b && item.b.length) {
      var group = div.appendChild(el("div", "psw-choices"));
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "Answer choices");
      group._item = item;
      item.b.forEach(function (choice) {
        // "change my last answer" is not an answer: set apart, on its own line
        var aside = String(choice.payload) === "/go_back";
        var b = group.appendChild(button(aside ? "psw-choice psw-aside" : "psw-choice", String(choice.title), function () {
          if (busy || item.done) return;
          item.pick = choice.payload;
          send(String(choice.payload), String(choice.title));
        }));
        b._payload = choice.payload;
      });
    }
    if (item.r) {
      div.appendChild(button("psw-print-btn", "Print or save my result", function () { printResult(item); }));
    }
    return div;
  }

  function refreshChoices() {
    var groups = log.querySelectorAll(".psw-choices");
    for (var i = 0; i < groups.length; i++) {
      var item = groups[i]._item, bs = groups[i].children;
      for (var j = 0; j < bs.length; j++) {
        bs[j].disabled = busy || !!item.done;
        bs[j].classList.toggle("psw-picked", item.pick === bs[j]._payload);
      }
    }
  }

  function refreshProgress() {
    var text = null, step = 0, total = 0;
    for (var i = st.items.length - 1; i >= 0; i--) {
      var it = st.items[i];
      if (it.r) { text = "All questions answered"; break; }
      if (it.v) { text = "Please check your answers"; break; }
      if (it.q) {
        step = +it.q.step || 0;
        total = Math.max(+it.q.total || 0, step);
        text = "Question " + step + " of about " + total;
        break;
      }
    }
    progress.hidden = !text;
    progress.textContent = text || "";
    bar.hidden = !total;
    if (total) { bar.max = total; bar.value = step; }
  }

  function showNotice() {
    if (!notice) return;
    var div = log.appendChild(el("div", "psw-msg psw-note"));
    div.appendChild(el("p", null, notice));
    div.appendChild(button("psw-choice psw-new", "Start a new conversation", function () {
      notice = null;
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
    if (st.pending) showPending("Not sent yet");
    refreshChoices();
    refreshProgress();
    if (st.pending && !busy) showError("Your last message has not been sent yet.");
    else clearError();
    if (document.activeElement !== input) input.value = st.draft || "";
    log.scrollTop = log.scrollHeight;
  }

  function showPending(status) {
    if (!st.pending || st.pending.d == null) return;
    if (!pendingEl) {
      pendingEl = el("div", "psw-msg psw-me psw-pending");
      pendingEl.appendChild(sr("You said: "));
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
    alertBox.appendChild(button("psw-retry", "Try again", function () {
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
    refreshChoices();
    if (on) log.scrollTop = log.scrollHeight;
  }

  // ---- opening and closing -----------------------------------------------------
  function open() {
    checkIdle();
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    st.open = true;
    save(true);
    log.scrollTop = log.scrollHeight;
    if (!st.items.length && !st.pending && !notice) start();
    focusNext();
  }
  function close() {
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    st.open = false;
    save(true);
    launcher.focus();
  }
  function focusNext() {
    if (panel.hidden) return;
    var a = document.activeElement;
    if (a === input || (a && a !== document.body && a !== panel && !root.contains(a))) return;
    var free = log.querySelectorAll(".psw-choices .psw-choice:not(:disabled)");
    if (free.length) free[free.length - 1].parentNode.firstChild.focus();
    else if (!busy && !coarse()) input.focus();
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

  function post(p) {
    if (busy) return;
    var mine = ++seq, timedOut = false;
    clearError();
    showPending("Sending\u2026");
    setBusy(true);
    save(true);
    var metadata = { message_id: p.id };
    if (TODAY) metadata.today = TODAY;
    ctl = window.AbortController ? new AbortController() : null;
    var timer = setTimeout(function () { timedOut = true; if (ctl) ctl.abort(); }, TIMEOUT);
    fetch(SERVER + "/webhooks/rest/webhook", {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: st.sender, message: p.text, metadata: metadata }),
      signal: ctl ? ctl.signal : undefined
    }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (body) {
        if (res.ok && Array.isArray(body)) return body;
        var err = new Error("http");
        err.status = res.status;
        err.body = body;
        throw err;
      });
    }).then(function (replies) {
      clearTimeout(timer);
      if (mine !== seq) return;
      received(p, replies);
    }, function (err) {
      clearTimeout(timer);
      if (mine !== seq) return;
      failed(p, err, timedOut);
    });
  }

  function received(p, replies) {
    if (/^\/confirm_delete\b/.test(p.text)) {  // the server deleted the conversation: forget it here too
      reset(replies.map(function (r) { return r && r.text; }).filter(Boolean).join("\n\n") || "Your answers were deleted.");
      return focusNext();
    }
    setBusy(false);
    st.items.forEach(function (it) { it.done = true; });
    if (pendingEl) { pendingEl.remove(); pendingEl = null; }
    var added = [];
    if (p.d != null) added.push({ w: "me", t: p.d });
    replies.forEach(function (r) {
      if (!r || (typeof r.text !== "string" && !(r.buttons && r.buttons.length))) return;
      var item = { w: "bot", t: r.text || "" };
      if (Array.isArray(r.buttons) && r.buttons.length) {
        item.b = r.buttons.filter(function (b) { return b && b.payload != null; }).map(function (b) {
          return { title: String(b.title != null ? b.title : b.payload), payload: String(b.payload) };
        });
      }
      var c = r.custom || {};
      if (c.question) item.q = { step: c.question.step, total: c.question.total };
      if (c.prescreen_result) item.r = { outcome: c.prescreen_result.outcome };
      if (c.review) item.v = 1;   // "Here is what you told me"
      added.push(item);
    });
    st.pending = null;
    if (input.value.trim() === p.text) input.value = "";
    st.draft = input.value;
    var first = null;
    added.forEach(function (item) {
      st.items.push(item);
      var node = log.appendChild(bubble(item));
      if (!first && item.w === "bot") first = node;
    });
    save(true);
    refreshChoices();
    refreshProgress();
    log.scrollTop = first ? Math.max(0, first.offsetTop - 48) : log.scrollHeight;
    focusNext();
  }

  function failed(p, err, timedOut) {
    setBusy(false);
    var status = err && err.status, body = err && err.body, message;
    if (timedOut) {
      message = "The server is taking too long to answer. Your message is kept: please try again in a moment.";
    } else if (!status) {
      message = "We could not reach the server (check your internet connection). Your message is kept: please try again.";
    } else if (status === 429) {
      message = "Too many messages in a short time. Please wait a minute, then try again. Your message is kept.";
    } else if (body && typeof body.error === "string" && body.error) {
      message = body.error;
    } else {
      message = "Something went wrong on our side (error " + status + "). Your message is kept: please try again.";
    }
    showPending("Not sent yet");
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
    var wasOpen = st.open;
    st = fresh();
    st.open = wasOpen;
    notice = text;
    input.value = "";
    renderAll();
  }
  function endAndClear() {
    reset("This conversation has ended and was cleared from this browser. A new conversation starts fresh.");
    var b = log.querySelector(".psw-new");
    if (b && !panel.hidden) b.focus();
  }
  function checkIdle() {
    if (!st.sender || !expired(st)) return;
    var other = read();
    if (other && other.sender === st.sender && !expired(other)) { st.last = other.last; return; }
    var n = Math.max(1, Math.round(IDLE / 60000));
    reset("For your privacy, this conversation was cleared after " + n + (n === 1 ? " minute" : " minutes") +
      " without activity.");
  }

  function onStorage(e) {
    if (e.key !== KEY || busy) return;
    var s = read();
    if (!s) {
      if (st.sender) reset("This conversation was ended in another window and cleared from this browser.");
      return;
    }
    var same = JSON.stringify([s.sender, s.items, s.pending]) === JSON.stringify([st.sender, st.items, st.pending]);
    if (same) {
      st.last = s.last;
      st.draft = s.draft;
      if (document.activeElement !== input) input.value = st.draft || "";
      return;
    }
    s.open = st.open;
    st = s;
    renderAll();
  }

  function printResult(item) {
    var old = document.getElementById("psw-print");
    if (old) old.remove();
    var view = el("div", "psw-print");
    view.id = "psw-print";
    view.appendChild(el("p", "psw-print-kicker", "Prescreen result \u00b7 " + new Date().toLocaleDateString()));
    view.appendChild(el("h1", null, SITE.title || TITLE));
    addText(view, item.t);
    view.appendChild(el("p", "psw-print-foot",
      "From the study's online prescreening chat. You can show this page to your own doctor."));
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

  function init() {
    st = read();
    if (expired(st)) { forget(); st = fresh(); }
    build();
    root.hidden = true;
    var shown = false;
    loadCss(function () { if (!shown) { shown = true; root.hidden = false; } });
    renderAll();
    if (st.open) {
      panel.hidden = false;
      launcher.hidden = true;
      launcher.setAttribute("aria-expanded", "true");
      log.scrollTop = log.scrollHeight;
    }
    window.addEventListener("storage", onStorage);
    setInterval(checkIdle, Math.max(1000, Math.min(30000, IDLE / 4)));
    document.addEventListener("visibilitychange", function () { if (!document.hidden) checkIdle(); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
