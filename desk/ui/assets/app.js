// The recovery desk's page: the queue of open cases, live from the server's
// event stream (/api/events), and the open case with its actions. Plain
// JavaScript, no framework; every write sends the session's anti-forgery
// token (from /api/me) in the X-CSRF-Token header.
"use strict";

(() => {
  const $ = (sel) => document.querySelector(sel);
  const SEVERITY_RANK = { critical: 3, major: 2, minor: 1 };
  const MAX_ROWS = 200; // rows drawn at once; filters narrow the rest
  const OUTCOME_WORDS = {
    recovered: "Recovered", declined: "Declined", unreachable: "Unreachable", false_alarm: "False alarm",
  };
  // Actions that read well after "You may …" when they are one plain step.
  const VERBS = ["call", "refund", "send", "offer", "email", "apologise", "apologize", "give", "credit",
    "waive", "upgrade", "replace", "reship", "text", "phone", "contact", "ring", "write", "compensate"];

  const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const short = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "short" });
  const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

  const state = {
    me: null,               // {user, role, csrf_token}
    cases: new Map(),       // customer_id → Case (open customer cases)
    rank: new Map(),        // customer_id → position in the server's last queue
    hotspots: new Map(),    // hotspot key → Hotspot (/api/hotspots)
    openId: null,           // the customer whose case is open
    detail: null,           // {case, history, customer} of the open case
    opener: null,           // the element to give focus back to on close
    events: null,           // the EventSource
    hadError: false,        // the stream dropped: resync when it is back
    claimsLapsing: new Set(),
  };

  // ---- small helpers ----------------------------------------------------

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("data-") || k.startsWith("aria-") || k === "role" || k === "datetime" || k === "title" || k === "type" || k === "scope") e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function ms(t) { const v = Date.parse(t); return Number.isNaN(v) ? null : v; }

  function ago(t) {
    const v = ms(t);
    if (v === null) return "";
    const s = (Date.now() - v) / 1000;
    if (s < 45) return "just now";
    const m = Math.round(s / 60);
    if (m < 60) return `${m} min ago`;
    const h = Math.floor(m / 60);
    if (h < 24) return m % 60 ? `${h} h ${m % 60} min ago` : `${h} h ago`;
    const d = Math.floor(h / 24);
    return d === 1 ? "1 day ago" : `${d} days ago`;
  }

  function fmtTime(t) { const v = ms(t); return v === null ? "" : when.format(v); }
  function fmtShort(t) { const v = ms(t); return v === null ? "" : short.format(v); }
  function fmtClock(t) { const v = ms(t); return v === null ? "" : clock.format(v); }

  // A <time> that says how long ago, and keeps saying it as time passes.
  function rel(t) {
    return el("time", { datetime: t, title: fmtTime(t), "data-rel": "1", text: ago(t) });
  }

  function money(amount, currency) { return `${number.format(amount)} ${currency || ""}`.trim(); }
  function words(s) { return String(s || "").replace(/_/g, " "); }
  function ucfirst(s) { return s ? s[0].toUpperCase() + s.slice(1) : s; }
  function lcfirst(s) { return s ? s[0].toLowerCase() + s.slice(1) : s; }

  function claimActive(c) {
    if (!c || !c.claim) return false;
    const exp = ms(c.claim.expires_at);
    return exp === null || exp > Date.now();
  }
  function mine(c) { return claimActive(c) && state.me && c.claim.by === state.me.user; }
  function supervisor() { return state.me && state.me.role === "supervisor"; }
  function isOpen(c) { return c && c.status !== "closed"; }
  function alertsOf(c) { return (c && Array.isArray(c.alerts)) ? c.alerts : []; }
  function isHotspot(c) { return c && (c.kind === "hotspot" || alertsOf(c).some((a) => a.kind === "hotspot")); }
  function hotspotById(id) {
    if (!id) return null;
    for (const h of state.hotspots.values()) if (h.hotspot_id === id) return h;
    return null;
  }
  // "carrier rapid, region east"
  function where(h) {
    return Object.keys(h.values || {}).sort().map((k) => `${words(k)} ${h.values[k]}`).join(", ");
  }
  // "deliveries", "support calls", "checkouts"
  function plural(journey) {
    const j = words(journey) || "experience";
    if (/[^aeiou]y$/.test(j)) return j.slice(0, -1) + "ies";
    if (/(s|x|ch|sh)$/.test(j)) return j + "es";
    return j + "s";
  }
  function pctOf(r) {
    const p = (Number(r) || 0) * 100;
    return p >= 10 ? `${Math.round(p)}%` : `${(Math.round(p * 10) / 10).toString()}%`;
  }
  // The hotspots a case's alerts fall in.
  function caseHotspots(c) {
    const out = [];
    for (const a of alertsOf(c)) {
      const h = hotspotById(a.hotspot_id);
      if (h && !out.includes(h)) out.push(h);
    }
    return out;
  }

  // The alert that speaks for the case: the newest of its highest severity.
  function headAlert(c) {
    const as = alertsOf(c);
    return as.find((a) => a.severity === c.severity) || as[0] || {};
  }

  // ---- messages -----------------------------------------------------------

  let statusTimer = 0;
  function say(msg) {
    const s = $("#status");
    s.textContent = "";
    // A fresh text node so that screen readers announce a repeat too.
    requestAnimationFrame(() => { s.textContent = msg; });
    clearTimeout(statusTimer);
    statusTimer = setTimeout(() => { s.textContent = ""; }, 10000);
  }

  function showError(msg) {
    $("#error").hidden = false;
    $("#error-text").textContent = msg;
  }

  function clearError() {
    $("#error").hidden = true;
    $("#error-text").textContent = "";
  }

  // ---- the API ------------------------------------------------------------

  class APIError extends Error {
    constructor(status, body) {
      super((body && body.error) || `the server answered ${status}`);
      this.status = status;
      this.body = body || {};
    }
  }

  function signIn() {
    location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
  }

  async function api(path, opts = {}) {
    const init = { credentials: "same-origin", headers: { Accept: "application/json" } };
    if (opts.method === "POST") {
      init.method = "POST";
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRF-Token"] = state.me ? state.me.csrf_token : "";
      init.body = JSON.stringify(opts.body || {});
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (err) {
      throw new APIError(0, { error: "the desk cannot be reached; check your connection" });
    }
    let body = null;
    try { body = await res.json(); } catch (_) { body = null; }
    if (res.status === 401) {
      signIn();
      throw new APIError(401, body || { error: "sign in first" });
    }
    if (!res.ok) throw new APIError(res.status, body);
    return body;
  }

  function casePath(id, action) {
    return "/api/cases/" + encodeURIComponent(id) + (action ? "/" + action : "");
  }

  // ---- the queue ------------------------------------------------------------

  function filters() {
    const f = new FormData($("#filters"));
    return { severity: f.get("severity") || "", detector: f.get("detector") || "",
      journey: f.get("journey") || "", tier: f.get("tier") || "" };
  }

  function matches(c, f) {
    if (f.severity && c.severity !== f.severity) return false;
    if (f.tier && (c.tier || "") !== f.tier) return false;
    if (f.detector && !alertsOf(c).some((a) => a.detector === f.detector)) return false;
    if (f.journey && !alertsOf(c).some((a) => a.journey === f.journey)) return false;
    return true;
  }

  // Server order (priority: severity, then customer value); a case that
  // arrived on the stream since goes where its priority puts it.
  function ordered() {
    return [...state.cases.values()].sort((a, b) =>
      (b.priority || 0) - (a.priority || 0) ||
      (SEVERITY_RANK[b.severity] || 0) - (SEVERITY_RANK[a.severity] || 0) ||
      (state.rank.get(a.customer_id) ?? Infinity) - (state.rank.get(b.customer_id) ?? Infinity) ||
      (ms(a.opened_at) || 0) - (ms(b.opened_at) || 0) ||
      a.customer_id.localeCompare(b.customer_id));
  }

  function fillOptions(select, values) {
    const keep = select.value;
    const have = new Set([...select.options].map((o) => o.value));
    const want = new Set(["", ...values, keep]);
    if (have.size === want.size && [...want].every((v) => have.has(v))) return;
    select.replaceChildren(el("option", { value: "", text: "All" }),
      ...[...want].filter((v) => v).sort().map((v) => el("option", { value: v, text: words(v) })));
    select.value = keep;
  }

  function updateFilterOptions() {
    const det = new Set(), jour = new Set(), tier = new Set();
    for (const c of state.cases.values()) {
      if (c.tier) tier.add(c.tier);
      for (const a of alertsOf(c)) {
        if (a.detector) det.add(a.detector);
        if (a.journey) jour.add(a.journey);
      }
    }
    fillOptions($("#f-detector"), det);
    fillOptions($("#f-journey"), jour);
    fillOptions($("#f-tier"), tier);
  }

  function claimChip(c) {
    if (mine(c)) return el("span", { class: "chip mine", text: "You're on it" });
    if (claimActive(c)) return el("span", { class: "chip claimed", text: `${c.claim.by} is on it` });
    return el("span", { class: "chip free", text: "Unclaimed" });
  }

  function approvalChip(c) {
    const r = c.recovery || {};
    if (!r.requires_approval) return null;
    const s = c.approval ? c.approval.state : "pending";
    if (s === "approved") return el("span", { class: "chip claimed", text: "Approved" });
    if (s === "refused") return el("span", { class: "chip pending", text: "Refused" });
    return el("span", { class: "chip pending", text: "Needs approval" });
  }

  function row(c, fresh) {
    const a = headAlert(c);
    const more = alertsOf(c).length - 1;
    const tierBits = [c.tier, c.value ? `value ${number.format(c.value)}` : null].filter(Boolean).join(" · ");
    const b = el("button", {
      type: "button", class: `case sev-${c.severity}` + (fresh ? " fresh" : ""),
      "data-id": c.customer_id, "aria-current": c.customer_id === state.openId ? "true" : null,
    },
    el("span", { class: "sev" }, el("span", { class: `badge ${c.severity}`, text: c.severity })),
    el("span", { class: "who" }, c.customer_id, tierBits ? el("span", { class: "tier", text: ` · ${tierBits}` }) : null),
    el("span", { class: "why", title: a.reason || "" }, a.reason || "", more > 0 ? el("span", { class: "small", text: ` (+${more} more)` }) : null),
    el("span", { class: "what", text: [words(a.detector), words(a.journey)].filter(Boolean).join(" · ") }),
    el("span", { class: "age" }, "opened ", rel(c.opened_at)),
    el("span", { class: "claim" }, claimChip(c), " ", approvalChip(c),
      ...caseHotspots(c).map((h) => [" ", el("span", { class: "chip cause", text: `Hotspot: ${where(h)}` })])));
    return el("li", {}, b);
  }

  let freshIds = new Set();

  function renderQueue() {
    const list = $("#queue");
    const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest(".case");
    const focusId = focused ? focused.dataset.id : null;
    const f = filters();
    const all = ordered();
    const shown = all.filter((c) => matches(c, f));
    const rows = shown.slice(0, MAX_ROWS).map((c) => row(c, freshIds.has(c.customer_id)));
    freshIds = new Set();
    list.replaceChildren(...rows);
    const filtered = shown.length !== all.length;
    $("#count").textContent = filtered ? `(${shown.length} of ${all.length})` : `(${all.length})`;
    const empty = $("#empty");
    empty.hidden = shown.length > 0;
    empty.textContent = all.length === 0 ? "No open cases. New ones appear here as they happen."
      : "No open case matches these filters.";
    const more = $("#more");
    more.hidden = shown.length <= MAX_ROWS;
    more.textContent = `Showing the first ${MAX_ROWS} of ${shown.length}. Narrow the list with the filters.`;
    if (focusId) {
      const again = list.querySelector(`.case[data-id="${CSS.escape(focusId)}"]`);
      if (again) again.focus();
    }
    renderHotspots();
  }

  function hotspotState(h) {
    if (h.state === "closed") return "back to normal";
    if (h.state === "escalated") return "getting worse";
    return "open";
  }

  // One hotspot: what, where, how bad against usual, how many customers,
  // since when, who in ops has it, and the customer alerts it caused.
  function hotspotItem(h) {
    const open = h.state !== "closed";
    const ack = h.acknowledged;
    const custs = h.customer_alerts || [];
    const onDesk = custs.filter((c) => c.case !== "closed").length;
    const head = el("p", { class: "line1" },
      el("span", { class: `badge ${open ? h.severity : "closed"}`, text: open ? h.severity : "closed" }), " ",
      el("strong", { text: `${words(h.name)}: ${where(h)}` }),
      el("span", { class: `chip state-${h.state}`, text: hotspotState(h) }));
    const figures = el("p", { class: "figures" },
      el("span", { class: "rate" }, el("b", { text: pctOf(h.rate) }), ` of ${plural(h.journey)} bad`),
      `, usually ${pctOf(h.usual_rate)} (others now ${pctOf(h.others_rate)}) · `,
      `${number.format(h.customers || 0)} customers affected · `,
      open ? ["open since ", rel(h.opened_at)] : ["closed ", rel(h.closed_at || h.updated_at)]);
    const who = el("p", { class: "ack" + (ack ? " acked" : "") },
      ack ? `Acknowledged by ${ack.by} at ${fmtClock(ack.at)}` + (ack.note ? `: “${ack.note}”` : ".")
        : (open ? "Not acknowledged by ops yet." : "Closed without an acknowledgement."));
    const parts = [head, figures, el("p", { class: "small", text: h.reason || "" }), who];
    if (open && supervisor() && (!ack || ack.by === state.me.user)) {
      const note = el("input", { type: "text", class: "ack-note", maxLength: 2000, placeholder: "What ops is doing (optional)",
        "aria-label": `Note for the acknowledgement of ${where(h)}` });
      const btn = el("button", { type: "button", class: "btn btn-primary ack-btn", text: ack ? "Update acknowledgement" : "Acknowledge" });
      btn.addEventListener("click", () => acknowledge(h, note.value.trim(), btn));
      parts.push(el("div", { class: "buttons" }, note, btn));
    }
    const list = custs.length ? el("details", { class: "custs" },
      el("summary", { text: `${h.customer_alerts_total} customer alert${h.customer_alerts_total === 1 ? "" : "s"} inside it` +
        (onDesk ? `, ${onDesk} still open on the desk` : "") }),
      el("ul", {}, ...custs.slice(0, 50).map((c) => el("li", {},
        el("a", { href: "#case/" + encodeURIComponent(c.customer_id), "data-case": c.customer_id, text: c.customer_id }),
        ` · ${c.severity} · ${c.case === "claimed" ? `${c.claimed_by} is on it` : c.case}`)))) :
      el("p", { class: "small", text: "No customer alert on the desk carries it yet." });
    parts.push(list);
    if ((h.alerted_customers || []).length) {
      parts.push(el("p", { class: "small", text: `Alerted before it opened: ${h.alerted_customers.slice(0, 10).join(", ")}` +
        (h.alerted_customers.length > 10 ? ` and ${h.alerted_customers.length - 10} more` : "") }));
    }
    return el("li", { class: `hotspot sev-${open ? h.severity : "closed"}`, id: "hotspot-" + h.hotspot_id, "data-key": h.key, tabIndex: -1 }, ...parts);
  }

  function renderHotspots() {
    const all = [...state.hotspots.values()];
    const rank = (h) => SEVERITY_RANK[h.severity] || 0;
    const open = all.filter((h) => h.state !== "closed")
      .sort((a, b) => rank(b) - rank(a) || (ms(a.opened_at) || 0) - (ms(b.opened_at) || 0) || a.key.localeCompare(b.key));
    const closed = all.filter((h) => h.state === "closed")
      .sort((a, b) => (ms(b.updated_at) || 0) - (ms(a.updated_at) || 0) || a.key.localeCompare(b.key));
    $("#hotspots").hidden = all.length === 0;
    $("#hot-count").textContent = `(${open.length} open)`;
    $("#hotspot-list").replaceChildren(...(open.length ? open.map(hotspotItem) :
      [el("li", { class: "small", text: "No hotspot is open." })]));
    $("#hot-closed").hidden = closed.length === 0;
    $("#hot-closed-count").textContent = `(${closed.length})`;
    $("#hotspot-closed-list").replaceChildren(...closed.map(hotspotItem));
  }

  function upsertHotspot(h) {
    if (!h || !h.key) return;
    const have = state.hotspots.get(h.key);
    if (have && have.hotspot_id === h.hotspot_id && (ms(have.updated_at) || 0) > (ms(h.updated_at) || 0)) return;
    state.hotspots.set(h.key, h);
    renderHotspots();
    scheduleRender(); // the queue's hotspot chips
    if (state.detail) renderDetail();
  }

  async function loadHotspots() {
    const body = await api("/api/hotspots");
    state.hotspots.clear();
    for (const h of body.hotspots || []) state.hotspots.set(h.key, h);
    renderHotspots();
  }

  async function acknowledge(h, note, button) {
    clearError();
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    const path = "/api/hotspots/" + encodeURIComponent(h.hotspot_id) + "/ack";
    try {
      let res;
      try {
        res = await api(path, { method: "POST", body: { note } });
      } catch (err) {
        if (err.status !== 403 || !/token|forg|csrf/i.test(err.message)) throw err;
        state.me = await api("/api/me");
        $("#signout-token").value = state.me.csrf_token || "";
        res = await api(path, { method: "POST", body: { note } });
      }
      if (res && res.hotspot) upsertHotspot(res.hotspot);
      say(`Acknowledged the hotspot ${where(h)}.`);
    } catch (err) {
      showError(`Could not acknowledge the hotspot ${where(h)}: ${err.message}.`);
      loadHotspots().catch(() => {});
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }

  // Events can come by the hundred a second: the queue is drawn at most once
  // a frame (four times a second in a tab in the background).
  let renderPending = false;
  function scheduleRender() {
    if (renderPending) return;
    renderPending = true;
    const draw = () => { renderPending = false; updateFilterOptions(); renderQueue(); };
    if (document.hidden) setTimeout(draw, 250); else requestAnimationFrame(draw);
  }

  function setQueue(body) {
    state.cases.clear();
    state.rank.clear();
    (body.cases || []).forEach((c, i) => {
      if (isHotspot(c)) return;
      state.cases.set(c.customer_id, c);
      state.rank.set(c.customer_id, i);
    });
    updateFilterOptions();
    renderQueue();
  }

  async function loadQueue() {
    const [q] = await Promise.all([api("/api/queue"), loadHotspots()]);
    setQueue(q);
  }

  // Answers to our own writes and the event stream can arrive in either
  // order: a version of a case older than the one on screen, or than the one
  // that closed it, is stale and ignored.
  const closedAt = new Map(); // customer_id → updated_at (ms) of the version that closed it
  function stale(c) {
    const u = ms(c.updated_at) || 0;
    const have = state.cases.get(c.customer_id);
    if (have && (ms(have.updated_at) || 0) > u) return true;
    return closedAt.has(c.customer_id) && closedAt.get(c.customer_id) >= u;
  }

  function upsert(c, fresh) {
    if (!c || !c.customer_id || stale(c)) return;
    if (isHotspot(c)) return;
    if (!isOpen(c)) { removeCase(c.customer_id, c); return; }
    if (fresh && !state.cases.has(c.customer_id)) freshIds.add(c.customer_id);
    state.cases.set(c.customer_id, c);
    scheduleRender();
    if (c.customer_id === state.openId && state.detail) {
      state.detail.case = c;
      renderDetail();
    }
  }

  function removeCase(id, closing) {
    const prev = state.cases.get(id);
    const at = Math.max(ms(closing && closing.updated_at) || 0, ms(prev && prev.updated_at) || 0);
    if (at) closedAt.set(id, Math.max(at, closedAt.get(id) || 0));
    const had = state.cases.delete(id);
    if (had) scheduleRender();
    renderHotspots(); // its customer alerts' state
    if (id === state.openId) refreshDetail();
  }

  // ---- the live stream ------------------------------------------------------

  function setLive(s, text) {
    $("#live").dataset.state = s;
    $("#live-text").textContent = text;
  }

  function connect() {
    if (state.events) state.events.close();
    const es = new EventSource("/api/events");
    state.events = es;
    es.addEventListener("open", () => {
      setLive("live", "Live");
      if (state.hadError) {
        state.hadError = false;
        // Events may have been missed while the stream was down.
        loadQueue().catch((err) => showError(`Could not reload the queue: ${err.message}.`));
        if (state.openId) refreshDetail();
      }
    });
    es.addEventListener("case", (ev) => {
      try { upsert(JSON.parse(ev.data), true); } catch (err) { console.error("bad case event", err); }
    });
    es.addEventListener("hotspot", (ev) => {
      try { upsertHotspot(JSON.parse(ev.data)); } catch (err) { console.error("bad hotspot event", err); }
    });
    es.addEventListener("closed", (ev) => {
      try { removeCase(JSON.parse(ev.data).customer_id); } catch (err) { console.error("bad closed event", err); }
    });
    es.addEventListener("error", () => {
      state.hadError = true;
      setLive("down", "Reconnecting…");
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (the server refused the stream): signed out?
        setTimeout(async () => {
          try { await api("/api/me"); connect(); } catch (_) { /* api() sends us to sign in on 401 */ setTimeout(connect, 5000); }
        }, 2000);
      }
    });
  }

  // ---- the open case --------------------------------------------------------

  const narrow = window.matchMedia("(max-width: 760px)");

  async function openCase(id, opener) {
    clearError();
    state.openId = id;
    state.opener = opener || state.opener;
    history.replaceState(null, "", "#case/" + encodeURIComponent(id));
    const known = state.cases.get(id);
    state.detail = { case: known || null, history: [], customer: null };
    $("#detail").hidden = false;
    $("#detail").setAttribute("aria-busy", "true"); // until the server's answer is in
    $("#main").classList.add("has-detail");
    document.body.classList.add("case-open");
    setBehind(narrow.matches);
    markCurrent();
    if (known) renderDetail();
    else $("#d-title").textContent = id;
    $("#d-title").focus();
    await refreshDetail();
  }

  async function refreshDetail() {
    const id = state.openId;
    if (!id) return;
    try {
      const body = await api(casePath(id));
      if (state.openId !== id) return;
      state.detail = { case: body.case, history: body.history || [], customer: body.customer || null };
      renderDetail();
      $("#detail").setAttribute("aria-busy", "false");
    } catch (err) {
      if (state.openId !== id) return;
      if (err.status === 404) {
        showError(`${id} has no case any more.`);
        closeCase();
      } else {
        showError(`Could not load ${id}'s case: ${err.message}.`);
      }
    }
  }

  function closeCase() {
    if (!state.openId) return;
    const id = state.openId;
    state.openId = null;
    state.detail = null;
    $("#detail").hidden = true;
    $("#main").classList.remove("has-detail");
    document.body.classList.remove("case-open");
    setBehind(false);
    history.replaceState(null, "", location.pathname + location.search);
    markCurrent();
    const back = $("#queue").querySelector(`.case[data-id="${CSS.escape(id)}"]`) ||
      (state.opener && document.contains(state.opener) ? state.opener : null);
    (back || $("#queue")).focus();
  }

  // On a phone the open case covers the page: what is behind it is out of
  // reach of Tab and of screen readers.
  function setBehind(covered) {
    $("#queue-section").inert = covered;
    $("#top").inert = covered;
  }

  function markCurrent() {
    for (const b of document.querySelectorAll("#queue .case")) {
      if (b.dataset.id === state.openId) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    }
  }

  function actionText(r) {
    const action = String(r.action || "the recovery action").trim().replace(/[.\s]+$/, "");
    const upTo = r.budget > 0 ? `, up to ${money(r.budget, r.currency)}` : "";
    const first = action.split(/\s+/)[0].toLowerCase();
    const plain = VERBS.includes(first) && !/[;:]/.test(action);
    if (!r.requires_approval) {
      return plain ? `You may ${lcfirst(action)} now${upTo}, no approval needed.`
        : `${ucfirst(action)}. You may do this now${upTo}, no approval needed.`;
    }
    return plain ? `You may ${lcfirst(action)}${upTo}, once it is approved.`
      : `${ucfirst(action)}${upTo}, once it is approved.`;
  }

  function approvalText(c) {
    const names = (c.approvers || []).join(", ") || "a supervisor (none is configured)";
    const a = c.approval;
    if (a && a.state === "approved") return [`Approved by ${a.by} at ${fmtClock(a.at)}: go ahead.`, "approved"];
    if (a && a.state === "refused") return [`Refused by ${a.by} at ${fmtClock(a.at)}. Needs approval from: ${names}.`, "refused"];
    return [`Needs approval from: ${names}. Waiting for a decision.`, "pending"];
  }

  function evidenceOf(c) {
    const seen = new Set(), out = [];
    for (const a of alertsOf(c)) {
      for (const e of a.evidence || []) {
        const k = e.event_id || `${e.time}|${e.journey}|${e.outcome}`;
        if (seen.has(k)) continue;
        seen.add(k);
        out.push(e);
      }
    }
    return out.sort((x, y) => (ms(y.time) || 0) - (ms(x.time) || 0));
  }

  function measures(e) {
    return Object.entries(e.metrics || {}).map(([k, v]) => `${words(k)} ${number.format(v)}`).join(", ");
  }
  function details(e) {
    return Object.entries(e.attributes || {}).map(([k, v]) => `${words(k)}: ${v}`).join(", ");
  }

  // The cause of a customer alert inside a hotspot, said plainly.
  function hotspotNote(id) {
    const h = hotspotById(id);
    if (!h) return el("p", { class: "cause-note", text: "Part of a hotspot: many customers hit by one cause (ops are told)." });
    return el("p", { class: "cause-note" }, el("strong", { text: "Cause: " }),
      `part of a hotspot, ${where(h)}: ${pctOf(h.rate)} of ${plural(h.journey)} bad, usually ${pctOf(h.usual_rate)}. `,
      h.acknowledged ? `Ops are on it (${h.acknowledged.by}).` : "Ops are told.", " ",
      el("a", { href: "#hotspot/" + encodeURIComponent(h.hotspot_id), "data-hotspot": h.hotspot_id, text: "See the hotspot" }));
  }

  function showHotspot(id) {
    const li = document.getElementById("hotspot-" + id);
    if (!li) return;
    const det = li.closest("details");
    if (det) det.open = true;
    li.scrollIntoView({ block: "start" });
    li.focus();
  }

  function renderDetail() {
    const d = state.detail;
    if (!d || !d.case) return;
    const c = d.case;
    const open = isOpen(c);
    const head = headAlert(c);
    $("#d-title").replaceChildren(el("span", { class: `badge ${c.severity}`, text: c.severity }), " ", c.customer_id);
    const meta = [c.tier, c.value ? `value ${number.format(c.value)}` : null].filter(Boolean).join(" · ");
    $("#d-meta").replaceChildren(meta ? `${meta} · ` : "", "opened ", rel(c.opened_at), ` (${fmtTime(c.opened_at)})`);

    // Closed: say how, and offer nothing more to do.
    const closed = $("#d-closed");
    closed.hidden = open;
    if (!open) {
      const o = c.outcome || {};
      const spent = o.spent && o.spent.amount ? `, spent ${money(o.spent.amount, o.spent.currency)}` : "";
      closed.textContent = `Closed: ${OUTCOME_WORDS[o.outcome] || words(o.outcome) || "done"}` +
        (o.by ? ` by ${o.by}` : "") + (o.at ? ` at ${fmtTime(o.at)}` : "") + spent + (o.note ? `. “${o.note}”` : ".");
    }

    // The action, stated plainly, and its approval.
    const r = c.recovery || head.recovery || {};
    $("#d-action").textContent = actionText(r);
    const ap = $("#d-approval");
    ap.hidden = !r.requires_approval;
    if (r.requires_approval) {
      const [text, cls] = approvalText(c);
      ap.textContent = text;
      ap.className = `approval ${cls}`;
    }
    const decided = c.approval && (c.approval.state === "approved" || c.approval.state === "refused");
    $("#d-approve").hidden = !(open && supervisor() && r.requires_approval && !decided);

    // Who is on it.
    let claimText;
    if (mine(c)) claimText = `You are on it since ${fmtClock(c.claim.at)}; the claim lapses at ${fmtClock(c.claim.expires_at)} without an outcome.`;
    else if (claimActive(c)) claimText = `${c.claim.by} is on it since ${fmtClock(c.claim.at)} (until ${fmtClock(c.claim.expires_at)} without an outcome).`;
    else claimText = open ? "Nobody is on it yet." : "";
    $("#d-claim").textContent = claimText;
    $("#b-claim").hidden = !(open && !claimActive(c));
    $("#b-release").hidden = !(open && mine(c));
    $("#d-claim-h").parentElement.hidden = !open;

    // The outcome form: for the claim's holder, or anyone while unclaimed.
    const form = $("#outcome");
    form.hidden = !(open && (mine(c) || !claimActive(c)));
    const amount = $("#o-amount");
    const budget = Number(r.budget) || 0;
    amount.max = String(budget);
    $("#o-currency").textContent = r.currency || "";
    $("#o-amount-hint").textContent = budget > 0 ? `(at most ${money(budget, r.currency)})` : "(no budget for this case)";

    // Why: every open alert, newest first.
    $("#d-alerts").replaceChildren(...alertsOf(c).map((a) => el("li", {},
      el("p", { class: "line1" }, el("span", { class: `badge ${a.severity}`, text: a.severity }), " ",
        el("strong", { text: a.reason || "" })),
      el("p", { class: "small" }, `${words(a.detector)} · ${words(a.journey)} · detected `, rel(a.detected_at),
        ` (${fmtTime(a.detected_at)})`, a.score ? ` · score ${number.format(a.score)}` : ""),
      a.hotspot_id ? hotspotNote(a.hotspot_id) : null)));
    const complained = alertsOf(c).some((a) => a.complained_before);
    const recovered = alertsOf(c).some((a) => a.recovered_before) ||
      (d.history || []).some((h) => h.outcome && h.outcome.outcome === "recovered");
    $("#d-flags").replaceChildren(
      el("li", { class: complained ? "warn" : "", text: complained ? "Has complained before." : "Has not complained before." }),
      el("li", { text: recovered ? "Was recovered by staff before." : "Not recovered by staff before." }));

    // Evidence.
    const triggers = new Set(alertsOf(c).map((a) => `${a.event_time}|${a.journey}`));
    const ev = evidenceOf(c);
    $("#d-evidence tbody").replaceChildren(...(ev.length ? ev.map((e) => el("tr", { class: triggers.has(`${e.time}|${e.journey}`) ? "bad" : "" },
      el("td", {}, el("time", { datetime: e.time, title: fmtTime(e.time), text: fmtShort(e.time) })),
      el("td", { text: [words(e.journey), words(e.outcome || "")].filter(Boolean).join(", ") }),
      el("td", { text: measures(e) }),
      el("td", { class: "details", text: details(e) }))) : [el("tr", {}, el("td", { colSpan: 4, text: "No evidence attached." }))]));

    // The customer's recent experiences and peak-end score.
    const cust = d.customer;
    const perceived = cust && typeof cust.perceived === "number" ? cust.perceived
      : (head.customer && typeof head.customer.perceived === "number" ? head.customer.perceived : null);
    const score = $("#d-score");
    if (perceived === null) score.textContent = "Peak-end score: not known.";
    else {
      score.replaceChildren(`Peak-end score ${number.format(perceived)} `,
        el("meter", { min: 0, max: 1, low: 0.4, high: 0.7, optimum: 0, value: perceived, "aria-label": "Peak-end score, 0 good to 1 worst" }),
        el("span", { class: "hint", text: " (0 good … 1 worst: how this customer remembers us)" }));
    }
    const recent = cust && Array.isArray(cust.recent) && cust.recent.length ? cust.recent : ev;
    $("#d-timeline").replaceChildren(...(recent.length ? recent.slice(0, 20).map((e) => el("li", {},
      el("time", { datetime: e.time, title: fmtTime(e.time), text: fmtShort(e.time) }),
      el("span", {}, [words(e.journey), words(e.outcome || "")].filter(Boolean).join(" — ") + (measures(e) ? ` (${measures(e)})` : "")))) :
      [el("li", { text: "No recent experiences on record." })]));

    // Earlier cases and what came of them.
    const hist = d.history || [];
    $("#d-history").replaceChildren(...(hist.length ? hist.map((h) => {
      const o = h.outcome || {};
      const spent = o.spent && o.spent.amount ? `, spent ${money(o.spent.amount, o.spent.currency)}` : "";
      return el("li", {},
        el("p", { class: "line1" }, el("span", { class: `badge ${h.severity}`, text: h.severity }), " ",
          el("strong", { text: `${OUTCOME_WORDS[o.outcome] || words(o.outcome) || "Closed"}` }),
          el("span", { class: "small", text: (o.by ? ` by ${o.by}` : "") + (o.at ? ` on ${fmtTime(o.at)}` : "") + spent })),
        el("p", { class: "small", text: headAlert(h).reason || "" }),
        o.note ? el("p", { class: "small", text: `Note: ${o.note}` }) : null);
    }) : [el("li", { class: "small", text: "No earlier cases." })]));
  }

  // ---- actions ------------------------------------------------------------

  // Writes run one after another, in the order they were asked for: an
  // outcome submitted while the claim is still on its way waits for it.
  let writes = Promise.resolve();
  function act(action, body, button, done) {
    const id = state.openId;
    if (!id) return Promise.resolve(false);
    if (button) { button.disabled = true; button.setAttribute("aria-busy", "true"); }
    const run = writes.then(() => write(id, action, body, button, done));
    writes = run.catch(() => {});
    return run;
  }

  async function write(id, action, body, button, done) {
    clearError();
    try {
      let res;
      try {
        res = await api(casePath(id, action), { method: "POST", body });
      } catch (err) {
        // A sign-in renewed in another tab has a new anti-forgery token:
        // fetch it and try once more.
        if (err.status !== 403 || !/token|forg|csrf/i.test(err.message)) throw err;
        state.me = await api("/api/me");
        $("#signout-token").value = state.me.csrf_token || "";
        res = await api(casePath(id, action), { method: "POST", body });
      }
      if (res && res.case) {
        if (isOpen(res.case)) upsert(res.case, false); else removeCase(id, res.case);
        const cur = state.openId === id && state.detail ? state.detail.case : undefined;
        if (cur !== undefined && (!cur || (ms(res.case.updated_at) || 0) >= (ms(cur.updated_at) || 0))) {
          state.detail.case = res.case;
          renderDetail();
        }
      }
      say(done);
      return true;
    } catch (err) {
      const verb = { claim: "claim", release: "release", outcome: "record the outcome for", approve: "approve", refuse: "refuse" }[action];
      showError(`Could not ${verb} ${id}: ${err.message}.`);
      if (action === "outcome" && err.status === 400) {
        // Say it beside the field it is about, too.
        const spent = /spent|budget|amount|currenc/i.test(err.message);
        fieldError(spent ? $("#o-amount") : null, spent ? $("#o-amount-err") : $("#o-outcome-err"), `${ucfirst(err.message)}.`);
      }
      if (err.status === 409 || err.status === 404) refreshDetail();
      return false;
    } finally {
      if (button) { button.disabled = false; button.removeAttribute("aria-busy"); }
    }
  }

  function fieldError(input, box, msg) {
    box.hidden = !msg;
    box.textContent = msg || "";
    if (input) {
      if (msg) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
    }
  }

  async function submitOutcome(ev) {
    ev.preventDefault();
    const c = state.detail && state.detail.case;
    if (!c) return;
    const form = $("#outcome");
    const outcome = (new FormData(form)).get("outcome");
    const amountInput = $("#o-amount");
    const r = c.recovery || headAlert(c).recovery || {};
    const budget = Number(r.budget) || 0;
    fieldError(null, $("#o-outcome-err"), outcome ? "" : "Choose what happened.");
    const raw = amountInput.value.trim();
    const amount = raw === "" ? 0 : Number(raw);
    let amountErr = "";
    if (raw !== "" && (!Number.isFinite(amount) || amount < 0)) amountErr = "Enter the amount spent: a number, 0 or more.";
    else if (amount > budget) amountErr = `At most ${money(budget, r.currency)} may be spent on this case (its budget).`;
    fieldError(amountInput, $("#o-amount-err"), amountErr);
    if (!outcome) { form.querySelector("input[name=outcome]").focus(); return; }
    if (amountErr) { amountInput.focus(); return; }
    const body = { outcome, note: $("#o-note").value.trim() };
    if (amount > 0) body.spent = { amount, currency: r.currency || "" };
    const id = c.customer_id;
    const ok = await act("outcome", body, $("#b-outcome"), `Recorded: ${OUTCOME_WORDS[outcome]} for ${id}.`);
    if (ok) {
      form.reset();
      // The case has left the queue: close it and go back to the list.
      if (state.openId === id) closeCase();
    }
  }

  // ---- ticking: ages, lapsing claims ------------------------------------------

  function tick() {
    for (const t of document.querySelectorAll("time[data-rel]")) t.textContent = ago(t.getAttribute("datetime"));
    // A claim that lapsed since the last tick frees its case on screen.
    let changed = false;
    for (const c of state.cases.values()) {
      const was = state.claimsLapsing.has(c.customer_id);
      const active = claimActive(c);
      if (c.claim && !active && !was) { state.claimsLapsing.add(c.customer_id); changed = true; }
      if (active && was) state.claimsLapsing.delete(c.customer_id);
    }
    if (changed) {
      renderQueue();
      if (state.detail) renderDetail();
    }
  }

  // ---- wiring ---------------------------------------------------------------

  function wire() {
    $("#queue").addEventListener("click", (ev) => {
      const b = ev.target.closest(".case");
      if (b) openCase(b.dataset.id, b);
    });
    $("#queue").addEventListener("keydown", (ev) => {
      // Up and down move between cases; Enter and Space open one (a button).
      if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
      const rows = [...document.querySelectorAll("#queue .case")];
      const i = rows.indexOf(document.activeElement);
      if (i < 0) return;
      const next = rows[ev.key === "ArrowDown" ? Math.min(i + 1, rows.length - 1) : Math.max(i - 1, 0)];
      ev.preventDefault();
      next.focus();
    });
    $("#hotspots").addEventListener("click", (ev) => {
      const a = ev.target.closest("a[data-case]");
      if (!a) return;
      ev.preventDefault();
      openCase(a.dataset.case, a);
    });
    $("#detail").addEventListener("click", (ev) => {
      const a = ev.target.closest("a[data-hotspot]");
      if (!a) return;
      ev.preventDefault();
      if (narrow.matches) closeCase();
      showHotspot(a.dataset.hotspot);
    });
    window.addEventListener("hashchange", () => {
      const hm = location.hash.match(/^#hotspot\/(.+)$/);
      if (hm) showHotspot(decodeURIComponent(hm[1]));
    });
    $("#filters").addEventListener("change", renderQueue);
    $("#filters").addEventListener("reset", () => setTimeout(renderQueue, 0));
    $("#d-close").addEventListener("click", closeCase);
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && state.openId && !ev.defaultPrevented) {
        ev.preventDefault();
        closeCase();
      }
    });
    narrow.addEventListener("change", () => setBehind(narrow.matches && !!state.openId));
    $("#error-dismiss").addEventListener("click", clearError);
    $("#b-claim").addEventListener("click", (ev) => act("claim", {}, ev.currentTarget, `You are on it: ${state.openId}.`));
    $("#b-release").addEventListener("click", (ev) => act("release", {}, ev.currentTarget, `Released ${state.openId}: someone else can take it.`));
    $("#b-approve").addEventListener("click", (ev) => act("approve", {}, ev.currentTarget, `Approved the action for ${state.openId}.`));
    $("#b-refuse").addEventListener("click", (ev) => act("refuse", {}, ev.currentTarget, `Refused the action for ${state.openId}.`));
    $("#outcome").addEventListener("submit", submitOutcome);
    $("#o-amount").addEventListener("input", () => fieldError($("#o-amount"), $("#o-amount-err"), ""));
    $("#outcome").addEventListener("change", (ev) => {
      if (ev.target.name === "outcome") fieldError(null, $("#o-outcome-err"), "");
    });
    setInterval(tick, 15000);
  }

  async function start() {
    wire();
    $("#tz").textContent = `Times in ${Intl.DateTimeFormat().resolvedOptions().timeZone}`;
    try {
      state.me = await api("/api/me");
    } catch (err) {
      if (err.status !== 401) showError(`Could not start the desk: ${err.message}.`);
      return;
    }
    $("#who").textContent = `${state.me.user} (${state.me.role})`;
    $("#signout-token").value = state.me.csrf_token || "";
    document.body.dataset.role = state.me.role;
    connect();
    try {
      await loadQueue();
    } catch (err) {
      showError(`Could not load the queue: ${err.message}.`);
    }
    document.body.dataset.ready = "true";
    const m = location.hash.match(/^#case\/(.+)$/);
    if (m) openCase(decodeURIComponent(m[1]), null);
    const hm = location.hash.match(/^#hotspot\/(.+)$/);
    if (hm) showHotspot(decodeURIComponent(hm[1]));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
