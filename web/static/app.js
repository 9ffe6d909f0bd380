// The log's web page: loads the verifier (the Go client compiled to
// WebAssembly, global `pysumdb`), opens the log beside the page with the
// pinned verifier key, and shows what the verifier proved.
//
// Everything read from the log is hostile until the verifier checked it
// (and stats.json is never checked): it is put on the page as text
// (textContent, text attributes), never as HTML.
"use strict";

(() => {
  const KEY_STORAGE = "pysumdb.vkey";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const SOURCE_PUBLISHED = "published with this page by the log's operator in web/config.json";
  const SOURCE_PASTED = "pasted by you, kept in this browser";
  // The CLI's words for the statuses of `pysumdb verify`.
  const STATUS_WORDS = {
    "verified": "verified",
    "mismatch": "MISMATCH",
    "not-in-log": "NOT IN LOG",
    "skipped": "SKIPPED",
    "error": "error",
  };
  // A lockfile larger than this is refused before it is read: the
  // largest real ones are a few MiB.
  const MAX_LOCKFILE = 32 << 20;

  const $ = (id) => document.getElementById(id);

  // ---- JavaScript errors: a red banner, never swallowed. -------------

  function describe(err) {
    if (err instanceof Error) {
      return err.message || String(err);
    }
    return String(err);
  }

  function showJsError(message) {
    const banner = $("js-error");
    banner.append(el("p", {}, "JavaScript error: " + message));
    banner.hidden = false;
    console.error(message);
  }

  // In the capture phase, so that a script or stylesheet that fails to
  // load (its error event does not bubble) is reported too.
  window.addEventListener("error", (e) => {
    const target = e.target;
    if (target && target !== window && (target.src || target.href)) {
      showJsError("couldn't load " + (target.src || target.href));
      return;
    }
    showJsError(e.error ? describe(e.error) : `${e.message} (${e.filename}:${e.lineno})`);
  }, true);
  window.addEventListener("unhandledrejection", (e) => {
    showJsError(describe(e.reason));
  });

  // ---- Small DOM helpers. ----------------------------------------------

  // el creates an element: props sets attributes ("class" the class
  // name), children are nodes or strings (added as text).
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    setProps(e, props);
    e.append(...children);
    return e;
  }

  function svg(tag, props, ...children) {
    const e = document.createElementNS(SVG_NS, tag);
    setProps(e, props);
    e.append(...children);
    return e;
  }

  function setProps(e, props) {
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "class") {
        e.setAttribute("class", v);
      } else {
        e.setAttribute(k, String(v));
      }
    }
  }

  function formatNumber(n) {
    return typeof n === "number" ? n.toLocaleString("en-US") : String(n);
  }

  function formatBytes(n) {
    if (typeof n !== "number" || !Number.isFinite(n)) {
      return String(n);
    }
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let v = n;
    let u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return u === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
  }

  // toDate reads a time as the verifier gives it: Unix seconds (or
  // milliseconds), or a string Date can parse (RFC 3339, HTTP date).
  function toDate(t) {
    if (typeof t === "number" && Number.isFinite(t) && t > 0) {
      return new Date(t < 1e12 ? t * 1000 : t);
    }
    if (typeof t === "string" && t !== "") {
      const ms = Date.parse(t);
      if (!Number.isNaN(ms)) {
        return new Date(ms);
      }
    }
    return null;
  }

  function formatUTC(d) {
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }

  function formatAge(d, now) {
    const s = Math.round((now - d) / 1000);
    if (s < -60) {
      return "in the future (is this computer's clock right?)";
    }
    if (s < 60) {
      return `${Math.max(s, 0)} s ago`;
    }
    if (s < 3600) {
      return `${Math.floor(s / 60)} min ago`;
    }
    if (s < 48 * 3600) {
      return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`;
    }
    return `${Math.floor(s / 86400)} days ago`;
  }

  // ---- Calls to the verifier: busy flag, errors panel. -----------------

  let busy = 0;

  // call runs one call to the verifier, with data-busy set on the body
  // while any runs (tests wait on it).
  async function call(fn) {
    busy++;
    document.body.dataset.busy = "1";
    try {
      return await fn();
    } finally {
      if (--busy === 0) {
        delete document.body.dataset.busy;
      }
    }
  }

  // The red panel: one message per context (start-up, lookup,
  // lockfile), replaced when that context runs again.
  const errors = new Map();

  function isSecurityError(message) {
    return message.startsWith("SECURITY ERROR");
  }

  function setError(context, title, err) {
    errors.set(context, { title, message: describe(err) });
    renderErrors();
    // The panel is at the top: a phone's screen may be far below it.
    $("error").scrollIntoView({ block: "nearest" });
  }

  function clearError(context) {
    if (errors.delete(context)) {
      renderErrors();
    }
  }

  function renderErrors() {
    const panel = $("error");
    panel.replaceChildren();
    let security = false;
    for (const { title, message } of errors.values()) {
      const loud = isSecurityError(message);
      security = security || loud;
      panel.append(el("div", { class: loud ? "error-item security" : "error-item" },
        el("p", { class: "error-title" }, loud ? "⚠ " + title + ": the log misbehaves" : title),
        el("p", { class: "error-message" }, message)));
    }
    panel.classList.toggle("security", security);
    panel.hidden = errors.size === 0;
  }

  // ---- The page's state. -----------------------------------------------

  const state = {
    // The configuration the operator published with the page.
    config: null,
    // The key used and where it came from.
    vkey: "",
    vkeySource: "",
    // The log's URL, absolute.
    logURL: new URL("../", location.href).href,
    // The verifier is loaded.
    loaded: false,
    // When the checkpoint was made, for its age.
    checkpointTime: null,
    checkpointTimeFrom: "",
    checkpointSize: -1,
    // The lookup on screen, and a counter so that a slow answer never
    // replaces a newer one.
    shown: null,
    lookupSeq: 0,
    lockfileSeq: 0,
    stats: null,
  };

  function storedKey() {
    try {
      return localStorage.getItem(KEY_STORAGE) || "";
    } catch (err) {
      // Storage refused (private mode, settings): say so, go on without.
      showJsError("couldn't read the pasted key from localStorage: " + describe(err));
      return "";
    }
  }

  function chooseKey() {
    const pasted = storedKey();
    if (pasted !== "") {
      state.vkey = pasted;
      state.vkeySource = SOURCE_PASTED;
    } else if (state.config) {
      state.vkey = state.config.vkey;
      state.vkeySource = SOURCE_PUBLISHED;
    } else {
      state.vkey = "";
      state.vkeySource = "none: this page has no published key (web/config.json); paste the log's key";
    }
    $("vkey").textContent = state.vkey || "none";
    $("vkey-source").textContent = "(" + state.vkeySource + ")";
    $("vkey-reset").disabled = pasted === "";
  }

  // ---- Start-up. -------------------------------------------------------

  async function loadConfig() {
    const r = await fetch("config.json");
    if (!r.ok) {
      throw new Error(`couldn't read the page's configuration config.json: HTTP ${r.status}`);
    }
    const c = await r.json();
    if (!c || typeof c.vkey !== "string" || c.vkey === "") {
      throw new Error("the page's configuration config.json names no verifier key");
    }
    if (typeof c.log === "string" && c.log !== "") {
      state.logURL = new URL(c.log, r.url).href;
    }
    return c;
  }

  // loadVerifier runs pysumdb.wasm with Go's wasm_exec.js and resolves
  // once it has set the global pysumdb.
  async function loadVerifier() {
    if (typeof Go !== "function") {
      throw new Error("wasm_exec.js did not load: the verifier can't run");
    }
    const go = new Go();
    const ready = new Promise((resolve) => {
      globalThis.pysumdbReady = resolve;
    });
    const exit = go.exit;
    go.exit = (code) => {
      exit.call(go, code);
      showJsError(`the verifier (pysumdb.wasm) stopped with exit status ${code}: reload the page`);
      for (const id of ["search", "search-button", "lockfile-check"]) {
        $(id).disabled = true;
      }
    };
    let result;
    try {
      result = await WebAssembly.instantiateStreaming(fetch("pysumdb.wasm"), go.importObject);
    } catch (err) {
      // A host that serves the file with another type than
      // application/wasm: compile it from its bytes instead.
      if (!(err instanceof TypeError)) {
        throw err;
      }
      console.warn("instantiateStreaming failed, compiling from the bytes:", err);
      const r = await fetch("pysumdb.wasm");
      if (!r.ok) {
        throw new Error(`couldn't load the verifier pysumdb.wasm: HTTP ${r.status}`);
      }
      result = await WebAssembly.instantiate(await r.arrayBuffer(), go.importObject);
    }
    go.run(result.instance).catch((err) => showJsError("the verifier failed: " + describe(err)));
    if (!globalThis.pysumdb) {
      await ready;
    }
  }

  // openLog opens the log with the current key and shows its checkpoint.
  async function openLog() {
    clearError("start");
    resetCheckpoint();
    if (state.vkey === "") {
      setError("start", "No verifier key", new Error("paste the log's verifier key below"));
      $("key-details").open = true;
      return;
    }
    let what = "Opening the log";
    try {
      const info = await call(() => pysumdb.open(state.vkey, state.logURL));
      $("origin").textContent = info.origin;
      $("vkey").textContent = info.vkey;
      what = "Reading the checkpoint";
      const cp = await call(() => pysumdb.checkpoint());
      showCheckpoint(cp);
    } catch (err) {
      setError("start", what, err);
    }
  }

  function resetCheckpoint() {
    $("tree-size").textContent = "…";
    $("root-hash").textContent = "";
    $("checkpoint-text").textContent = "";
    $("cosignatures").replaceChildren();
    state.checkpointTime = null;
    $("checkpoint-age").textContent = "…";
  }

  function showCheckpoint(cp) {
    $("origin").textContent = cp.origin;
    $("tree-size").textContent = String(cp.size);
    $("root-hash").textContent = cp.root_hash;
    $("checkpoint-text").textContent = cp.text;
    const list = $("cosignatures");
    list.replaceChildren();
    let newest = null;
    for (const c of cp.cosignatures || []) {
      const t = toDate(c.time);
      if (t && (!newest || t > newest)) {
        newest = t;
      }
      list.append(el("li", {},
        el("span", { class: "witness" }, String(c.name)), " ",
        el("span", { class: "muted" }, t ? formatUTC(t) : String(c.time)), " ",
        el("span", { class: "unverified" }, c.verified === true ? "verified" : "not verified: the page has no witness keys")));
    }
    if (list.childElementCount === 0) {
      list.append(el("li", { class: "muted" }, "none"));
    }
    state.checkpointSize = cp.size;
    const modified = toDate(cp.last_modified);
    if (modified) {
      state.checkpointTime = modified;
      state.checkpointTimeFrom = "the checkpoint's Last-Modified";
    } else if (newest) {
      state.checkpointTime = newest;
      state.checkpointTimeFrom = "the newest cosignature";
    }
    ageFromStats();
    if (state.checkpointTime) {
      showAge();
    } else {
      $("checkpoint-age").textContent = "unknown";
    }
  }

  // ageFromStats takes the checkpoint's time from stats.json when nothing
  // signed gives one and the statistics count a log of the checkpoint's
  // size: when the sequencer counted the batch that made it (its clock,
  // not signed, and said so).
  function ageFromStats() {
    const s = state.stats;
    const t = s && toDate(s.updated);
    if (state.checkpointTime || !t || s.tree_size !== state.checkpointSize) {
      return;
    }
    state.checkpointTime = t;
    state.checkpointTimeFrom = "stats.json, the sequencer's clock: not signed";
    showAge();
  }

  function showAge() {
    if (!state.checkpointTime) {
      return;
    }
    $("checkpoint-age").textContent = `${formatAge(state.checkpointTime, Date.now())} (${formatUTC(state.checkpointTime)}, from ${state.checkpointTimeFrom})`;
  }

  // ---- Lookup and permalinks. ------------------------------------------

  function projectLink(project, filename) {
    let h = "#/project/" + encodeURIComponent(project);
    if (filename) {
      h += "/" + encodeURIComponent(filename);
    }
    return h;
  }

  // route reads #/project/<name>[/<filename>] and shows it.
  function route() {
    const m = /^#\/project\/([^/]+)(?:\/([^/]+))?\/?$/.exec(location.hash);
    if (!m) {
      return;
    }
    let project;
    let filename = "";
    try {
      project = decodeURIComponent(m[1]);
      if (m[2] !== undefined) {
        filename = decodeURIComponent(m[2]);
      }
    } catch (err) {
      setError("lookup", "This link is malformed", err);
      return;
    }
    $("search").value = project;
    if (state.shown && state.shown.project === project) {
      highlight(filename);
      return;
    }
    lookup(project, filename);
  }

  async function lookup(project, filename) {
    const seq = ++state.lookupSeq;
    clearError("lookup");
    state.shown = null;
    $("files").hidden = true;
    $("lookup-summary").textContent = `Looking up ${project}…`;
    let res;
    try {
      res = await call(() => pysumdb.lookup(project));
    } catch (err) {
      if (seq === state.lookupSeq) {
        $("lookup-summary").textContent = "";
        setError("lookup", `Looking up ${project}`, err);
      }
      return;
    }
    if (seq !== state.lookupSeq) {
      return;
    }
    showFiles(res);
    highlight(filename);
  }

  function showFiles(res) {
    const files = res.files || [];
    state.shown = { project: res.project };
    const verified = files.filter((f) => f.verified === true).length;
    const summary = $("lookup-summary");
    summary.replaceChildren(
      el("a", { href: projectLink(res.project), class: "permalink", title: "permalink to this project" }, res.project), ": ",
      `${formatNumber(files.length)} files, ${formatNumber(verified)} verified against the checkpoint of size ${formatNumber(res.tree_size)}.`);
    const body = $("files").tBodies[0];
    body.replaceChildren();
    for (const f of files) {
      const ok = f.verified === true;
      const row = el("tr", { class: ok ? "file" : "file unproven" });
      row.dataset.filename = f.filename;
      row.append(
        cell("Filename", el("a", { href: projectLink(res.project, f.filename), title: "permalink to this file" }, f.filename)),
        cell("sha256", el("code", { class: "hash" }, String(f.sha256))),
        cell("Size", el("span", { title: `${f.size} bytes` }, formatBytes(f.size))),
        cell("Upload time", f.upload_time && f.upload_time !== "-" ? String(f.upload_time) : "unknown"),
        cell("Leaf", String(f.leaf)),
        cell("Publisher", publisherText(f.publisher)),
        cell("Status", ok ? "verified" : String(f.note || "not verified"), ok ? "status verified" : "status unverified"));
      body.append(row);
    }
    $("files").hidden = files.length === 0;
  }

  function cell(label, content, className) {
    const td = el("td", className ? { class: className } : {}, content);
    td.dataset.label = label;
    return td;
  }

  function publisherText(p) {
    if (p === null || p === undefined || p === "") {
      return "none";
    }
    if (typeof p === "object") {
      return [p.kind, p.san].filter((x) => x !== undefined && x !== "").join(" ");
    }
    return String(p);
  }

  function highlight(filename) {
    const rows = $("files").tBodies[0].rows;
    let found = null;
    for (const row of rows) {
      const on = filename !== "" && row.dataset.filename === filename;
      row.classList.toggle("highlight", on);
      if (on) {
        found = row;
      }
    }
    const missing = $("lookup-missing");
    if (missing) {
      missing.remove();
    }
    if (found) {
      found.scrollIntoView({ block: "center" });
    } else if (filename !== "") {
      $("lookup-summary").append(el("span", { id: "lookup-missing", class: "warning" },
        ` ${filename} is not among this project's files in the log.`));
    }
  }

  function search(e) {
    e.preventDefault();
    const project = $("search").value.trim();
    if (project === "") {
      return;
    }
    const h = projectLink(project);
    if (location.hash === h) {
      // No hashchange: look it up again.
      state.shown = null;
      route();
    } else {
      location.hash = h;
    }
  }

  // ---- Lockfiles. ------------------------------------------------------

  async function readDropped(file) {
    if (file.size > MAX_LOCKFILE) {
      setError("lockfile", `Reading ${file.name}`, new Error(`it is ${formatBytes(file.size)}, more than a lockfile (${formatBytes(MAX_LOCKFILE)} at most)`));
      return;
    }
    clearError("lockfile");
    $("lockfile-text").value = await file.text();
    $("lockfile-name").value = file.name;
  }

  async function checkLockfile() {
    const seq = ++state.lockfileSeq;
    const name = $("lockfile-name").value.trim();
    const text = $("lockfile-text").value;
    clearError("lockfile");
    if (name === "" || text.trim() === "") {
      setError("lockfile", "Checking the lockfile", new Error(name === "" ?
        "give the lockfile's name: it tells its format (uv.lock, pylock.toml, requirements.txt…)" :
        "drop, choose or paste a lockfile first"));
      return;
    }
    $("lockfile-results").hidden = true;
    $("lockfile-counts").textContent = `Checking ${name}…`;
    let res;
    try {
      res = await call(() => pysumdb.verifyLockfile(name, text));
    } catch (err) {
      if (seq === state.lockfileSeq) {
        $("lockfile-counts").textContent = "";
        setError("lockfile", `Checking ${name}`, err);
      }
      return;
    }
    if (seq === state.lockfileSeq) {
      showArtifacts(res);
    }
  }

  function statusWord(status) {
    const s = String(status);
    return STATUS_WORDS[s.toLowerCase().replaceAll(" ", "-")] || s;
  }

  function showArtifacts(res) {
    const body = $("lockfile-results").tBodies[0];
    body.replaceChildren();
    const artifacts = res.artifacts || [];
    for (const a of artifacts) {
      const word = statusWord(a.status);
      const key = word.toLowerCase().replaceAll(" ", "-");
      const row = el("tr", { class: "artifact " + key });
      row.dataset.filename = a.filename || "";
      const file = a.filename ?
        (a.project ? el("a", { href: projectLink(a.project, a.filename) }, a.filename) : String(a.filename)) :
        el("code", { class: "hash" }, String(a.sha256 || ""));
      row.append(
        cell("Status", word, "status status-" + key),
        cell("Project", String(a.project || "")),
        cell("Version", String(a.version || "")),
        cell("File", file),
        cell("Line", a.line ? String(a.line) : ""),
        cell("Detail", String(a.detail || "")));
      body.append(row);
    }
    $("lockfile-results").hidden = artifacts.length === 0;
    const c = res.counts || {};
    const counts = $("lockfile-counts");
    counts.replaceChildren(`${res.format || "lockfile"}: `);
    for (const [k, label] of Object.entries(STATUS_WORDS)) {
      counts.append(el("span", { class: `count status-${label.toLowerCase().replaceAll(" ", "-")}` }, `${label} ${c[k] || 0}`), " ");
    }
    counts.append(`(against the checkpoint of size ${formatNumber(res.checkpoint_size)})`);
    counts.classList.toggle("bad", (c.mismatch || 0) > 0 || (c.error || 0) > 0);
  }

  function setUpDrop() {
    const zone = $("lockfile");
    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", (e) => {
      if (!zone.contains(e.relatedTarget)) {
        zone.classList.remove("dragging");
      }
    });
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("dragging");
      const file = e.dataTransfer.files[0];
      if (file) {
        readDropped(file);
      } else {
        const text = e.dataTransfer.getData("text/plain");
        if (text) {
          $("lockfile-text").value = text;
        }
      }
    });
    $("lockfile-file").addEventListener("change", (e) => {
      const file = e.target.files[0];
      if (file) {
        readDropped(file);
      }
    });
  }

  // ---- The chart of stats.json (unsigned: labelled not verified). ------

  async function loadStats() {
    const chart = $("chart");
    let r;
    try {
      r = await fetch(new URL("stats.json", state.logURL));
    } catch (err) {
      chart.textContent = "Couldn't read the statistics: " + describe(err);
      return;
    }
    if (r.status === 404) {
      chart.textContent = "No statistics published.";
      return;
    }
    if (!r.ok) {
      chart.textContent = `Couldn't read the statistics: HTTP ${r.status}`;
      return;
    }
    try {
      state.stats = await r.json();
    } catch (err) {
      chart.textContent = "The statistics are not valid JSON: " + describe(err);
      return;
    }
    drawChart();
    ageFromStats();
  }

  const DAY_MS = 86400000;

  // The units bars can stand for, smallest first (see bucket).
  const MAX_BARS = 200;
  const UNITS = [
    { name: "day", key: (d) => Math.floor(d.getTime() / DAY_MS), label: (k) => new Date(k * DAY_MS).toISOString().slice(0, 10) },
    // Weeks from Monday: day 0 (1970-01-01) was a Thursday.
    { name: "week", key: (d) => Math.floor((d.getTime() / DAY_MS + 3) / 7), label: (k) => "week of " + new Date((k * 7 - 3) * DAY_MS).toISOString().slice(0, 10) },
    { name: "month", key: (d) => d.getUTCFullYear() * 12 + d.getUTCMonth(), label: (k) => `${Math.floor(k / 12)}-${String(k % 12 + 1).padStart(2, "0")}` },
    { name: "year", key: (d) => d.getUTCFullYear(), label: (k) => String(k) },
  ];

  function drawChart() {
    const chart = $("chart");
    const s = state.stats;
    if (!s || typeof s !== "object" || !Array.isArray(s.days)) {
      chart.textContent = "The statistics are malformed (no list of days).";
      return;
    }
    const days = [];
    let malformed = 0;
    for (const d of s.days) {
      const t = d && typeof d.date === "string" && /^\d{4}-\d{2}-\d{2}$/.test(d.date) ? new Date(d.date + "T00:00:00Z") : null;
      if (!t || Number.isNaN(t.getTime()) || !Number.isSafeInteger(d.files) || d.files < 0) {
        malformed++;
        continue;
      }
      days.push({ date: t, files: d.files });
    }
    const counted = days.reduce((n, d) => n + d.files, 0);
    const unknown = Number.isSafeInteger(s.unknown) ? s.unknown : 0;
    const notes = [`${formatNumber(counted)} files by upload day`];
    if (unknown > 0) {
      notes.push(`${formatNumber(unknown)} with no upload time`);
    }
    if (Number.isSafeInteger(s.tree_size)) {
      notes.push(`log size ${formatNumber(s.tree_size)} when counted`);
      if (s.tree_size > counted + unknown) {
        notes.push(`${formatNumber(s.tree_size - counted - unknown)} files logged before the statistics began are not counted`);
      }
    }
    if (malformed > 0) {
      notes.push(`${malformed} malformed entries ignored`);
    }
    const note = el("p", { class: "muted" }, notes.join("; ") + ".");
    if (days.length === 0) {
      chart.replaceChildren(el("p", {}, "No files with a known upload time counted yet."), note);
      return;
    }
    const series = bucket(days);
    if (!series) {
      chart.replaceChildren(el("p", {}, "The statistics span too many years to draw."), note);
      return;
    }
    chart.replaceChildren(barChart(series, Math.max(chart.clientWidth, 300)), note);
  }

  // bucket sums days by the smallest unit that keeps the bars at most
  // MAX_BARS: {unit, lo (the first bucket's key), counts}, or null.
  function bucket(days) {
    for (const unit of UNITS) {
      const keys = days.map((d) => unit.key(d.date));
      let lo = keys[0];
      let hi = keys[0];
      for (const k of keys) {
        lo = Math.min(lo, k);
        hi = Math.max(hi, k);
      }
      if (hi - lo + 1 <= MAX_BARS) {
        const counts = new Array(hi - lo + 1).fill(0);
        days.forEach((d, i) => { counts[keys[i] - lo] += d.files; });
        return { unit, lo, counts };
      }
    }
    return null;
  }

  // barChart draws the counts of a series (files per unit) as bars, by hand, in an SVG
  // as wide as the chart's box so that its text is never scaled down.
  function barChart({ unit, lo, counts }, width) {
    const height = 220;
    const left = 64;
    const right = 8;
    const top = 12;
    const bottom = 40;
    const plotW = width - left - right;
    const plotH = height - top - bottom;
    const max = counts.reduce((m, n) => Math.max(m, n), 1);
    const bw = plotW / counts.length;
    const out = svg("svg", {
      viewBox: `0 0 ${width} ${height}`, width, height, role: "img", class: "bars",
      "aria-label": `Files logged per ${unit.name} of upload, from statistics the log publishes, not verified`,
    });
    out.append(svg("title", {}, `Files per ${unit.name} of upload (statistics published by the log, not verified)`));
    // Grid lines at 0, the maximum and a round half, without repeating
    // a label when the maximum is small.
    const ticks = [...new Set([0, Math.round(max / 2), max])];
    for (const v of ticks) {
      const y = top + plotH * (1 - v / max);
      out.append(svg("line", { x1: left, x2: width - right, y1: y, y2: y, class: "grid" }));
      out.append(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "axis" }, formatNumber(v)));
    }
    counts.forEach((n, i) => {
      if (n === 0) {
        return;
      }
      const h = Math.max(plotH * n / max, 1);
      const bar = svg("rect", {
        x: left + i * bw + (bw > 3 ? 0.5 : 0), y: top + plotH - h, width: Math.max(bw - (bw > 3 ? 1 : 0), 0.5), height: h, class: "bar",
      });
      bar.append(svg("title", {}, `${unit.label(lo + i)}: ${formatNumber(n)} files`));
      out.append(bar);
    });
    const first = unit.label(lo);
    const last = unit.label(lo + counts.length - 1);
    out.append(svg("text", { x: left, y: height - bottom + 16, class: "axis" }, first));
    if (counts.length > 1) {
      out.append(svg("text", { x: width - right, y: height - bottom + 16, "text-anchor": "end", class: "axis" }, last));
    }
    out.append(svg("text", { x: left + plotW / 2, y: height - 6, "text-anchor": "middle", class: "axis" }, `files per ${unit.name} of upload`));
    return out;
  }

  // ---- Wiring. ---------------------------------------------------------

  function enable() {
    for (const id of ["search", "search-button", "lockfile-check"]) {
      $(id).disabled = false;
    }
  }

  async function applyKey(e) {
    e.preventDefault();
    const key = $("vkey-input").value.trim();
    if (key === "") {
      setError("start", "Using another key", new Error("paste a verifier key first"));
      return;
    }
    try {
      localStorage.setItem(KEY_STORAGE, key);
    } catch (err) {
      showJsError("couldn't keep the key in localStorage (it is used until you leave the page): " + describe(err));
    }
    state.vkey = key;
    await reopen(() => {
      state.vkeySource = SOURCE_PASTED;
    });
  }

  async function resetKey() {
    try {
      localStorage.removeItem(KEY_STORAGE);
    } catch (err) {
      showJsError("couldn't remove the key from localStorage: " + describe(err));
    }
    $("vkey-input").value = "";
    await reopen(chooseKey);
  }

  // reopen opens the log again with another key, then shows the route's
  // project again, checked with it.
  async function reopen(setSource) {
    setSource();
    $("vkey").textContent = state.vkey;
    $("vkey-source").textContent = "(" + state.vkeySource + ")";
    $("vkey-reset").disabled = state.vkeySource !== SOURCE_PASTED;
    if (!state.loaded) {
      return;
    }
    await openLog();
    state.shown = null;
    $("files").hidden = true;
    $("lookup-summary").textContent = "";
    route();
  }

  async function main() {
    $("search-form").addEventListener("submit", search);
    $("vkey-form").addEventListener("submit", applyKey);
    $("vkey-reset").addEventListener("click", resetKey);
    $("lockfile-check").addEventListener("click", checkLockfile);
    setUpDrop();
    let resized = 0;
    window.addEventListener("resize", () => {
      clearTimeout(resized);
      resized = setTimeout(() => {
        if (state.stats) {
          drawChart();
        }
      }, 200);
    });
    setInterval(showAge, 30000);

    try {
      state.config = await loadConfig();
    } catch (err) {
      setError("config", "Reading the page's configuration", err);
    }
    chooseKey();
    const stats = loadStats();
    try {
      await loadVerifier();
    } catch (err) {
      setError("verifier", "Loading the verifier (pysumdb.wasm)", err);
      await stats;
      return;
    }
    state.loaded = true;
    await openLog();
    enable();
    window.addEventListener("hashchange", route);
    // A permalink's lookup starts (data-busy) before ready is set.
    route();
    // For tests: the verifier is loaded and the checkpoint shown (or
    // the reason it could not be, in #error).
    document.body.dataset.ready = "1";
    await stats;
  }

  main();
})();
