/*
 * mouselab-capture.js — browser pointer capture for mouselab. No dependencies, no build step.
 *
 * Records, in CSS pixels of the viewport (origin top-left, y down):
 *   - the pointer position once per animation frame (requestAnimationFrame, ~60 Hz), plus a sample at every
 *     pointerdown / pointerup / wheel event;
 *   - clicks (button, press / release), wheel scrolls (raw deltas and deltaMode), page focus / visibility
 *     changes ("task" / "away"), idle periods (no pointer input for idleThresholdMs: sampling pauses);
 *   - trials: startTrial() / endTrial(), with the bounding boxes of the elements carrying a
 *     data-mouselab-target="NAME" attribute.
 * Never records keystrokes, text, page content or the page title.
 *
 * Times: "t" is ms since start() on the page clock (performance.now()). Samples are strictly increasing in
 * "t"; a pointer-event sample whose event time precedes the previous frame sample is placed 1 µs after it.
 * Events keep their own event time.
 *
 * Output: JSON lines (one record per line, numbered by "n"), downloaded with download() and/or POSTed to
 * options.postUrl in order (each chunk as application/x-ndjson). `mouselab ingest web FILE.jsonl --store S`
 * reads them.
 *
 * Usage:
 *   var cap = MouselabCapture.start({study: "s1", participant: "P01", postUrl: null});
 *   cap.startTrial("P01-1", {condition: "easy", stimulus: "dolphin"});
 *   cap.endTrial({response: "left", correct: true});
 *   cap.stop(); cap.download("P01.jsonl");
 */
(function (root) {
  "use strict";

  var FORMAT = "mouselab-web";
  var VERSION = 1;
  var BUTTONS = ["left", "middle", "right", "back", "forward"];

  function round3(v) { return Math.round(v * 1000) / 1000; }

  function randomHex(n) {
    var out = "";
    var bytes = new Uint8Array(n);
    if (root.crypto && root.crypto.getRandomValues) { root.crypto.getRandomValues(bytes); }
    else { for (var i = 0; i < n; i++) { bytes[i] = Math.floor(Math.random() * 256); } }
    for (var j = 0; j < n; j++) { out += (bytes[j] < 16 ? "0" : "") + bytes[j].toString(16); }
    return out;
  }

  function newSessionId() {
    var d = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
    return "web-" + d + "-" + randomHex(2);
  }

  function checkId(kind, value) {
    if (typeof value !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(value)) {
      throw new Error("mouselab-capture: " + kind + " " + JSON.stringify(value) +
        " is not a valid id (letters, digits, '.', '_', '-')");
    }
    return value;
  }

  function Capture(options) {
    options = options || {};
    this.doc = options.document || root.document;
    this.win = this.doc.defaultView || root;
    this.study = checkId("study", options.study || "study");
    this.participant = checkId("participant", options.participant);
    this.session = checkId("session", options.session || newSessionId());
    this.postUrl = options.postUrl || null;
    this.postEveryMs = options.postEveryMs || 2000;
    this.idleThresholdMs = options.idleThresholdMs == null ? 5000 : options.idleThresholdMs;
    this.targetSelector = options.targetSelector || "[data-mouselab-target]";
    this.records = [];
    this.sent = 0;          // records[0 .. sent) have been delivered to postUrl
    this.inFlight = false;
    this.trial = null;
    this.trialIndex = 0;
    this.x = null; this.y = null; this.buttons = 0;
    this.lastSampleT = -Infinity;
    this.lastInputT = 0;
    this.idle = false; this.idleStart = 0;
    this.hidden = this.doc.visibilityState === "hidden";
    this.app = null;
    this.running = false;
    this.t0 = 0;
    this._handlers = [];
  }

  Capture.prototype.now = function () { return performance.now() - this.t0; };
  Capture.prototype.rel = function (timeStamp) { return timeStamp - this.t0; };

  Capture.prototype.push = function (record) {
    record.n = this.records.length;
    this.records.push(record);
    return record;
  };

  Capture.prototype.sample = function (t, event) {
    if (this.x === null) { return; }
    if (!(t > this.lastSampleT)) { t = this.lastSampleT + 0.001; }  // strictly increasing within the stream
    this.lastSampleT = t;
    this.push({type: "sample", t: round3(t), x: round3(this.x), y: round3(this.y), event: event,
      buttons: this.buttons & 7, trial: this.trial});
  };

  Capture.prototype.event = function (t, kind, fields) {
    var rec = {type: "event", t: round3(t), kind: kind, trial: this.trial};
    for (var k in fields) { if (Object.prototype.hasOwnProperty.call(fields, k)) { rec[k] = fields[k]; } }
    return this.push(rec);
  };

  Capture.prototype.input = function (t) {
    if (this.idle) {
      this.event(t, "idle_end", {duration_ms: round3(t - this.idleStart)});
      this.idle = false;
    }
    this.lastInputT = t;
  };

  Capture.prototype.focus = function (t, app) {
    if (app === this.app) { return; }
    this.app = app;
    this.event(t, "focus", {app: app});
  };

  Capture.prototype.listen = function (target, type, fn, opts) {
    target.addEventListener(type, fn, opts);
    this._handlers.push([target, type, fn, opts]);
  };

  Capture.prototype.start = function () {
    var self = this;
    if (this.running) { return this; }
    this.running = true;
    this.t0 = performance.now();
    this.push({
      type: "session", format: FORMAT, version: VERSION, study: this.study, participant: this.participant,
      session: this.session, started: new Date().toISOString(), coords: "viewport-css-px",
      dpr: this.win.devicePixelRatio || 1,
      viewport: {width: this.win.innerWidth, height: this.win.innerHeight},
      screen: {width: this.win.screen ? this.win.screen.width : null, height: this.win.screen ? this.win.screen.height : null},
      idle_threshold_ms: this.idleThresholdMs
    });
    var opts = {capture: true, passive: true};
    this.listen(this.doc, "pointermove", function (e) {
      if (e.pointerType && e.pointerType !== "mouse" && e.pointerType !== "pen") { return; }
      self.x = e.clientX; self.y = e.clientY; self.buttons = e.buttons;
      self.input(self.rel(e.timeStamp));
    }, opts);
    this.listen(this.doc, "pointerdown", function (e) {
      var t = self.rel(e.timeStamp);
      self.x = e.clientX; self.y = e.clientY; self.buttons = e.buttons;
      self.input(t);
      self.sample(t, "down");
      self.event(t, "click_down", {button: BUTTONS[e.button] || ("button" + e.button), x: round3(e.clientX), y: round3(e.clientY)});
    }, opts);
    this.listen(this.doc, "pointerup", function (e) {
      var t = self.rel(e.timeStamp);
      self.x = e.clientX; self.y = e.clientY; self.buttons = e.buttons;
      self.input(t);
      self.sample(t, "up");
      self.event(t, "click_up", {button: BUTTONS[e.button] || ("button" + e.button), x: round3(e.clientX), y: round3(e.clientY)});
    }, opts);
    this.listen(this.win, "wheel", function (e) {
      var t = self.rel(e.timeStamp);
      self.x = e.clientX; self.y = e.clientY;
      self.input(t);
      self.sample(t, "scroll");
      self.event(t, "scroll", {x: round3(e.clientX), y: round3(e.clientY), dx: e.deltaX, dy: e.deltaY, delta_mode: e.deltaMode});
    }, opts);
    this.listen(this.doc, "visibilitychange", function () {
      self.hidden = self.doc.visibilityState === "hidden";
      self.focus(self.now(), self.hidden ? "away" : "task");
    }, opts);
    // window focus / blur only (element focus changes do not bubble to here without the capture phase)
    this.listen(this.win, "blur", function (e) { if (e.target === self.win) { self.focus(self.now(), "away"); } }, {passive: true});
    this.listen(this.win, "focus", function (e) { if (e.target === self.win) { self.focus(self.now(), "task"); } }, {passive: true});
    this.listen(this.win, "pagehide", function () { self.beacon(); }, opts);
    this.focus(0, this.doc.hasFocus && !this.doc.hasFocus() ? "away" : "task");
    this.lastInputT = 0;
    var frame = function () {
      if (!self.running) { return; }
      var t = self.now();
      if (!self.idle && self.x !== null && t - self.lastInputT >= self.idleThresholdMs) {
        self.idle = true;
        self.idleStart = self.lastInputT;
        self.event(self.lastInputT, "idle_start", {});
      }
      if (!self.idle && !self.hidden && t > self.lastSampleT) {
        self.sample(t, self.buttons ? "drag" : "move");
      }
      self.raf = root.requestAnimationFrame(frame);
    };
    this.raf = root.requestAnimationFrame(frame);
    if (this.postUrl) {
      this.timer = root.setInterval(function () { self.post(); }, this.postEveryMs);
    }
    return this;
  };

  /** Start a trial: samples and events get this trial id; their times become relative to this call. */
  Capture.prototype.startTrial = function (id, info) {
    info = info || {};
    if (this.trial !== null) { this.endTrial({}); }
    this.trialIndex += 1;
    var t = this.now();
    if (!(t > this.lastSampleT)) { t = this.lastSampleT + 0.001; }
    this.trial = String(id);
    this.push({type: "trial_start", trial: this.trial, index: this.trialIndex, t: round3(t),
      condition: info.condition == null ? null : String(info.condition),
      stimulus: info.stimulus == null ? null : String(info.stimulus),
      targets: this.targets()});
    this.sample(t, this.buttons ? "drag" : "move");  // position at trial time 0
  };

  /** End the current trial with its response (a target name) and correctness. */
  Capture.prototype.endTrial = function (info) {
    info = info || {};
    if (this.trial === null) { return; }
    var t = this.now();
    this.sample(t, this.buttons ? "drag" : "move");
    this.push({type: "trial_end", trial: this.trial, t: round3(Math.max(t, this.lastSampleT)),
      response: info.response == null ? null : String(info.response),
      correct: info.correct == null ? null : !!info.correct});
    this.trial = null;
  };

  /** Bounding boxes (viewport CSS px) of the elements matching targetSelector, by target name. */
  Capture.prototype.targets = function () {
    var out = {};
    var nodes = this.doc.querySelectorAll(this.targetSelector);
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      var name = el.getAttribute("data-mouselab-target") || el.id || ("target" + i);
      var r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) { continue; }  // not rendered (display: none)
      out[name] = {x: round3(r.left), y: round3(r.top), width: round3(r.width), height: round3(r.height)};
    }
    return out;
  };

  Capture.prototype.stop = function () {
    if (!this.running) { return this; }
    if (this.trial !== null) { this.endTrial({}); }
    if (this.idle) { this.input(this.now()); }
    this.running = false;
    root.cancelAnimationFrame(this.raf);
    if (this.timer) { root.clearInterval(this.timer); }
    for (var i = 0; i < this._handlers.length; i++) {
      var h = this._handlers[i];
      h[0].removeEventListener(h[1], h[2], h[3]);
    }
    this._handlers = [];
    this.post();
    return this;
  };

  Capture.prototype.lines = function (from) {
    var out = [];
    for (var i = from || 0; i < this.records.length; i++) { out.push(JSON.stringify(this.records[i])); }
    return out;
  };

  Capture.prototype.toJSONL = function () { return this.lines(0).join("\n") + "\n"; };

  /** Offer everything recorded so far as a .jsonl download. */
  Capture.prototype.download = function (filename) {
    var blob = new Blob([this.toJSONL()], {type: "application/x-ndjson"});
    var a = this.doc.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = filename || (this.participant + "_" + this.session + ".jsonl");
    this.doc.body.appendChild(a);
    a.click();
    var doc = this.doc;
    root.setTimeout(function () { URL.revokeObjectURL(a.href); doc.body.removeChild(a); }, 1000);
  };

  /** POST the records not yet delivered, one request at a time (so the server receives them in order).
   *  Returns a Promise resolving to true when everything recorded so far has been delivered. */
  Capture.prototype.post = function () {
    var self = this;
    if (!this.postUrl || typeof fetch !== "function") { return Promise.resolve(false); }
    if (this.inFlight) { return this.inFlight.then(function () { return self.post(); }); }
    if (this.sent >= this.records.length) { return Promise.resolve(true); }
    var end = this.records.length;
    var body = this.lines(this.sent).slice(0, end - this.sent).join("\n") + "\n";
    this.inFlight = fetch(this.postUrl, {method: "POST", headers: {"Content-Type": "application/x-ndjson"},
      body: body, keepalive: body.length < 60000})
      .then(function (r) { if (r.ok) { self.sent = end; } return r.ok; })
      .catch(function () { return false; })
      .then(function (ok) { self.inFlight = false; return ok && self.sent >= self.records.length; });
    return this.inFlight;
  };

  Capture.prototype.beacon = function () {
    if (!this.postUrl || this.inFlight || this.sent >= this.records.length || !navigator.sendBeacon) { return; }
    var body = this.lines(this.sent).join("\n") + "\n";
    if (navigator.sendBeacon(this.postUrl, new Blob([body], {type: "application/x-ndjson"}))) {
      this.sent = this.records.length;
    }
  };

  root.MouselabCapture = {
    FORMAT: FORMAT,
    VERSION: VERSION,
    Capture: Capture,
    start: function (options) { return new Capture(options).start(); }
  };
})(typeof window !== "undefined" ? window : this);
