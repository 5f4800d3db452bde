// The voter portal page: find yourself, see your ballot, choose how and when you hear from
// the election office. Plain JavaScript against the portal API (/v1/portal/...); no build
// step, no framework, no inline script (the page's Content-Security-Policy forbids it).
(function () {
  "use strict";

  // ---- Texts ------------------------------------------------------------------------
  // The page's words are in ballotflow's message catalogs, beside the notices' (one file a
  // language, internal/notices/catalogs). /i18n.js, loaded before this file, lists the
  // languages and holds the English texts; /v1/portal/texts/<code> holds another language's.
  var BOOT = window.ballotflowI18n || { languages: [], texts: {} };
  var TEXT = BOOT.texts || {};           // language code -> its texts, once loaded
  var LANGUAGES = BOOT.languages || [];  // [{code, name, needs_review}], English first

  // Time zones a voter may pick, with the key of their name in the texts (tz.<key>).
  var TIME_ZONES = [
    ["America/New_York", "eastern"],
    ["America/Chicago", "central"],
    ["America/Denver", "mountain"],
    ["America/Phoenix", "arizona"],
    ["America/Los_Angeles", "pacific"],
    ["America/Anchorage", "alaska"],
    ["Pacific/Honolulu", "hawaii"],
    ["America/Puerto_Rico", "puerto_rico"],
    ["Pacific/Guam", "guam"]
  ];

  // ---- State ------------------------------------------------------------------------
  var lang = "en";
  var session = null;   // {token, expires_at}
  var lastBallots = null;
  var lastPrefs = null;
  var lastGreeting = null;

  function $(id) { return document.getElementById(id); }

  function t(key) {
    var parts = key.split(".");
    var v = TEXT[lang];
    for (var i = 0; i < parts.length && v !== undefined; i++) { v = v[parts[i]]; }
    if (v === undefined) {
      v = TEXT.en;
      for (var j = 0; j < parts.length && v !== undefined; j++) { v = v[parts[j]]; }
    }
    return v === undefined ? key : v;
  }

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, k) { return values[k] !== undefined ? values[k] : ""; });
  }

  // ---- Language ---------------------------------------------------------------------
  function getJSON(path) {
    return fetch(path, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .catch(function () { return null; });
  }

  function loadTexts(l) {
    if (TEXT[l]) { return Promise.resolve(true); }
    return getJSON("/v1/portal/texts/" + encodeURIComponent(l)).then(function (body) {
      if (!body || !body.texts) { return false; }
      TEXT[l] = body.texts;
      return true;
    });
  }

  // The language the page shows; the latest choice wins when texts arrive out of order.
  var languageRequest = 0;
  function setLanguage(l) {
    var request = ++languageRequest;
    return Promise.all([loadTexts("en"), loadTexts(l)]).then(function (ok) {
      if (request === languageRequest) { applyLanguage(ok[1] ? l : "en"); }
    });
  }

  // locale is what Intl formats dates and times with: the catalog says (intlLocale).
  function locale() {
    var l = t("intlLocale");
    return l === "intlLocale" ? "en-US" : l;
  }

  function languageInfo(code) {
    for (var i = 0; i < LANGUAGES.length; i++) { if (LANGUAGES[i].code === code) { return LANGUAGES[i]; } }
    return null;
  }

  // buildLanguageSwitch puts a button for every language in the header, each labelled in its
  // own language.
  function buildLanguageSwitch() {
    var box = $("lang-switch");
    box.textContent = "";
    LANGUAGES.forEach(function (l) {
      var b = document.createElement("button");
      b.type = "button";
      b.id = "lang-" + l.code;
      b.lang = l.code;
      b.textContent = l.name;
      b.setAttribute("aria-pressed", String(l.code === lang));
      b.addEventListener("click", function () { setLanguage(l.code); });
      box.appendChild(b);
    });
  }

  function applyLanguage(l) {
    lang = l;
    try { localStorage.setItem("ballotflow.lang", lang); } catch (e) { /* private mode */ }
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach(function (el) {
      el.textContent = t(el.getAttribute("data-i18n"));
    });
    document.querySelectorAll("[data-i18n-label]").forEach(function (el) {
      el.setAttribute("aria-label", t(el.getAttribute("data-i18n-label")));
    });
    document.querySelectorAll("#lang-switch button").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.lang === lang));
    });
    var info = languageInfo(lang);
    $("review-note").hidden = !(info && info.needs_review);
    fillTimeZones(selectedTimeZone());
    // Re-render what was drawn from data, and any error shown, in the new language.
    document.querySelectorAll(".error[data-key]").forEach(function (el) {
      el.textContent = errorText(el.getAttribute("data-key"), el.getAttribute("data-server"));
    });
    document.querySelectorAll(".form-error[data-key]").forEach(function (el) {
      renderFormError(el, el.getAttribute("data-key"), el.getAttribute("data-server"));
    });
    if (lastGreeting) { renderGreeting(lastGreeting); }
    if (lastBallots) { renderBallots(lastBallots); }
    if (lastPrefs) { renderStates(lastPrefs); fillNoticeLanguages(lastPrefs); }
  }

  // ---- Status messages, errors and focus --------------------------------------------
  function announce(text) {
    var el = $("status");
    el.textContent = "";
    // A fresh text node is announced even when the same message repeats.
    window.setTimeout(function () { el.textContent = text; }, 50);
  }

  function errorText(key, server) {
    var s = t("err." + key);
    return s === "err." + key ? (server || t("err.unavailable")) : s;
  }

  function clearErrors(form) {
    form.querySelectorAll(".error").forEach(function (el) {
      el.hidden = true;
      el.textContent = "";
      el.removeAttribute("data-key");
      el.removeAttribute("data-server");
    });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
  }

  function hideFormError(el) {
    el.hidden = true;
    el.textContent = "";
    el.removeAttribute("data-key");
    el.removeAttribute("data-server");
  }

  // fieldError shows key's message under the input with id inputId, ties it to the input
  // (aria-describedby already names the error element; aria-invalid marks the input).
  function fieldError(inputId, key, server) {
    var input = $(inputId);
    var err = $(inputId + "-error");
    err.setAttribute("data-key", key);
    if (server) { err.setAttribute("data-server", server); }
    err.textContent = errorText(key, server);
    err.hidden = false;
    input.setAttribute("aria-invalid", "true");
    return input;
  }

  function renderFormError(el, key, server, values) {
    el.setAttribute("data-key", key);
    if (server) { el.setAttribute("data-server", server); }
    var text = errorText(key, server);
    if (key === "rateLimited" || key === "lookupsPaused") { text = fill(text, { wait: waitText(Number(el.getAttribute("data-wait")) || 60) }); }
    el.textContent = text;
    if (key === "noMatch") {
      var help = document.createElement("p");
      help.textContent = t("err.noMatchHelp");
      help.className = "form-error-help";
      el.appendChild(help);
    }
    el.hidden = false;
  }

  function waitText(seconds) {
    if (seconds <= 60) { return t("err.aMinute"); }
    return fill(t("err.minutes"), { n: Math.ceil(seconds / 60) });
  }

  function formError(id, key, server, wait) {
    var el = $(id);
    if (wait) { el.setAttribute("data-wait", String(wait)); }
    renderFormError(el, key, server);
    el.focus();
  }

  function focusHeading(id) {
    var h = $(id);
    h.focus();
    h.scrollIntoView({ block: "start" });
  }

  // ---- API --------------------------------------------------------------------------
  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    if (session) { headers["Authorization"] = "Bearer " + session.token; }
    return fetch(path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store"
    }).then(function (resp) {
      if (resp.status === 204) { return { status: 204, body: null, headers: resp.headers }; }
      return resp.json().catch(function () { return null; }).then(function (json) {
        return { status: resp.status, body: json, headers: resp.headers };
      });
    });
  }

  function saveSession(s) {
    session = s;
    try {
      if (s) { sessionStorage.setItem("ballotflow.session", JSON.stringify(s)); }
      else { sessionStorage.removeItem("ballotflow.session"); }
    } catch (e) { /* storage unavailable: the session lasts as long as the page */ }
  }

  function loadSession() {
    try {
      var s = JSON.parse(sessionStorage.getItem("ballotflow.session") || "null");
      if (s && s.token && new Date(s.expires_at) > new Date()) { return s; }
    } catch (e) { /* ignore */ }
    return null;
  }

  function sessionEnded() {
    saveSession(null);
    showSignedOut();
    formError("lookup-error", "session");
  }

  // ---- Lookup -----------------------------------------------------------------------
  var DOB = /^(\d{2})-(\d{2})-(\d{4})$/;

  function checkDOB(value) {
    var m = DOB.exec(value);
    if (!m) { return "dobFormat"; }
    var month = Number(m[1]), day = Number(m[2]), year = Number(m[3]);
    var d = new Date(Date.UTC(year, month - 1, day));
    if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) { return "dobFormat"; }
    if (year < 1900) { return "dob1900"; }
    if (d.getTime() > Date.now() + 14 * 3600 * 1000) { return "dobFuture"; }
    return "";
  }

  var LOOKUP_FIELDS = {
    first_name: "first-name", last_name: "last-name", date_of_birth: "dob", zip: "zip", voter_id: "voter-id"
  };
  var LOOKUP_CODES = {
    invalid_date: "dobFormat", date_before_1900: "dob1900", date_in_future: "dobFuture", invalid_zip: "zip",
    voter_id_required: "voterIdRequired"
  };

  function onLookup(ev) {
    ev.preventDefault();
    var form = $("lookup-form");
    clearErrors(form);
    hideFormError($("lookup-error"));
    var req = {
      first_name: $("first-name").value.trim(),
      last_name: $("last-name").value.trim(),
      date_of_birth: $("dob").value.trim(),
      zip: $("zip").value.trim()
    };
    if (!$("voter-id-field").hidden && $("voter-id").value.trim() !== "") { req.voter_id = $("voter-id").value.trim(); }

    var first = null;
    function bad(id, key) { var el = fieldError(id, key); if (!first) { first = el; } }
    if (!req.first_name) { bad("first-name", "firstName"); }
    if (!req.last_name) { bad("last-name", "lastName"); }
    var dobErr = checkDOB(req.date_of_birth);
    if (dobErr) { bad("dob", dobErr); }
    if (!/^\d{5}$/.test(req.zip)) { bad("zip", "zip"); }
    if (first) { first.focus(); return; }

    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    api("POST", "/v1/portal/session", req).then(function (r) {
      button.disabled = false;
      if (r.status === 201) {
        saveSession(r.body);
        form.reset();
        $("voter-id-field").hidden = true;
        announce(t("found"));
        return showSignedIn(true);
      }
      var e = (r.body && r.body.error) || {};
      if (r.status === 409) {
        $("voter-id-field").hidden = false;
        fieldError("voter-id", "voterIdRequired", e.message).focus();
        return;
      }
      if (r.status === 400 && LOOKUP_FIELDS[e.field]) {
        var key = LOOKUP_CODES[e.code] || (e.field === "first_name" ? "firstName" : e.field === "last_name" ? "lastName" : "");
        fieldError(LOOKUP_FIELDS[e.field], key || "server", e.message).focus();
        return;
      }
      if (r.status === 404) { formError("lookup-error", "noMatch", e.message); return; }
      if (r.status === 429) {
        formError("lookup-error", e.code === "lookups_paused" ? "lookupsPaused" : "rateLimited", e.message,
          Number(r.headers.get("Retry-After")) || 60);
        return;
      }
      formError("lookup-error", "unavailable", e.message);
    }).catch(function () {
      button.disabled = false;
      formError("lookup-error", "network");
    });
  }

  // ---- Signed in ----------------------------------------------------------------------
  function showSignedOut() {
    $("lookup").hidden = false;
    $("ballot").hidden = true;
    $("prefs").hidden = true;
    $("logout").hidden = true;
    lastBallots = lastPrefs = lastGreeting = null;
  }

  function showSignedIn(moveFocus) {
    $("lookup").hidden = true;
    $("logout").hidden = false;
    return Promise.all([loadBallot(), loadPrefs()]).then(function (ok) {
      if (ok[0] && ok[1] && moveFocus) { focusHeading("ballot-heading"); }
    });
  }

  function formatDate(iso, withTime) {
    var d = new Date(iso);
    var opts = { year: "numeric", month: "long", day: "numeric" };
    if (withTime) { opts.hour = "numeric"; opts.minute = "2-digit"; }
    return new Intl.DateTimeFormat(locale(), opts).format(d);
  }

  function formatDay(yyyymmdd) {
    var p = yyyymmdd.split("-");
    var d = new Date(Date.UTC(Number(p[0]), Number(p[1]) - 1, Number(p[2]), 12));
    return new Intl.DateTimeFormat(locale(),
      { year: "numeric", month: "long", day: "numeric", timeZone: "UTC" }).format(d);
  }

  function formatTime(iso) {
    return new Intl.DateTimeFormat(locale(), { hour: "numeric", minute: "2-digit" }).format(new Date(iso));
  }

  function loadBallot() {
    return api("GET", "/v1/portal/ballot").then(function (r) {
      if (r.status === 401) { sessionEnded(); return false; }
      if (r.status !== 200) { announce(t("err.unavailable")); return false; }
      lastGreeting = r.body.voter;
      renderGreeting(lastGreeting);
      lastBallots = r.body.ballots;
      renderBallots(lastBallots);
      $("ballot").hidden = false;
      return true;
    });
  }

  function renderGreeting(v) {
    $("greeting").textContent = fill(t("greeting"), {
      name: (v.first_name + " " + v.last_name).trim(),
      time: session ? formatTime(session.expires_at) : ""
    });
  }

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) { e.className = className; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function renderBallots(ballots) {
    var box = $("ballots");
    box.textContent = "";
    if (!ballots.length) {
      box.appendChild(el("p", "", t("noBallots")));
      return;
    }
    ballots.forEach(function (b, i) {
      var art = el("article", "ballot");
      art.setAttribute("aria-labelledby", "ballot-title-" + i);
      var h = el("h3", "", b.election.name);
      h.id = "ballot-title-" + i;
      art.appendChild(h);
      art.appendChild(el("p", "", fill(t("electionDay"), { date: formatDay(b.election.election_day) }) + " · " +
        fill(t("county"), { county: b.county })));
      var current = el("p", "current");
      var strong = el("strong", "", b.status ? fill(t("currentStatus"), { status: t("status." + b.status) }) : t("awaiting"));
      strong.setAttribute("data-status", b.status || "none");
      current.appendChild(strong);
      if (b.status && b.status_at) { current.appendChild(document.createTextNode(" (" + fill(t("since"), { date: formatDate(b.status_at, false) }) + ")")); }
      art.appendChild(current);
      if (b.status) { art.appendChild(el("p", "explain", t("explain." + b.status))); }
      var history = ballotHistory(b);
      if (history.length) {
        var label = el("h4", "", t("timelineLabel"));
        label.id = "timeline-label-" + i;
        art.appendChild(label);
        var ol = el("ol", "timeline");
        ol.setAttribute("aria-labelledby", label.id);
        history.forEach(function (item) {
          ol.appendChild(item.scan ? mailItem(item.scan) : item.reminder ? reminderItem(item.reminder) : statusItem(item.step));
        });
        art.appendChild(ol);
      }
      box.appendChild(art);
    });
  }

  // ballotHistory is the ballot's status changes and the latest USPS scan of each of its
  // envelopes, in the order they happened (a status change first at the same instant).
  function ballotHistory(b) {
    var items = [];
    (b.timeline || []).forEach(function (step) { items.push({ at: Date.parse(step.at), step: step }); });
    (b.reminders || []).forEach(function (r) {
      if (r.kind === "return" || r.kind === "cure") { items.push({ at: Date.parse(r.sent_at), reminder: r }); }
    });
    (b.mail || []).forEach(function (scan) {
      if (scan.direction === "outbound" || scan.direction === "return") {
        items.push({ at: Date.parse(scan.scanned_at), scan: scan });
      }
    });
    return items.map(function (item, n) { item.n = n; return item; }).sort(function (x, y) {
      return (x.at - y.at) || (x.n - y.n);
    });
  }

  // statusItem is one status change: a status posted in error is struck through and says
  // so in words (screen readers do not announce the strike); a correction says it is one.
  function statusItem(step) {
    var li = el("li");
    if (step.posted_in_error) {
      li.className = "in-error";
      var del = el("del");
      del.appendChild(el("strong", "", t("status." + step.status)));
      li.appendChild(del);
      li.appendChild(el("span", "when", t("correction.postedInError")));
    } else if (step.correction) {
      li.className = "correction";
      li.appendChild(el("strong", "", t("correction.correction") + ": " + t("status." + step.status)));
    } else {
      li.appendChild(el("strong", "", t("status." + step.status)));
    }
    li.appendChild(el("span", "when", formatDate(step.at, true)));
    if (step.reason) { li.appendChild(el("span", "when", fill(t("reason"), { reason: step.reason }))); }
    if (step.cure_deadline) { li.appendChild(el("span", "when", fill(t("cureBy"), { date: formatDay(step.cure_deadline) }))); }
    return li;
  }

  // reminderItem is a reminder the county sent the voter.
  function reminderItem(r) {
    var li = el("li", "reminder");
    li.appendChild(el("strong", "", t("reminder." + r.kind)));
    li.appendChild(el("span", "when", formatDate(r.sent_at, true)));
    return li;
  }

  // mailItem is where USPS last scanned one of the ballot's envelopes: the facility's city
  // and state, or its name when the scan gave no city.
  function mailItem(scan) {
    var li = el("li", "mail");
    li.setAttribute("data-direction", scan.direction);
    li.appendChild(el("strong", "", t("mail." + scan.direction)));
    li.appendChild(el("span", "when", formatDate(scan.scanned_at, true)));
    var place = scan.city ? scan.city + (scan.state ? ", " + scan.state : "") : (scan.facility || "");
    li.appendChild(el("span", "when", place ? fill(t("mail.scannedIn"), { place: place }) : t("mail.scanned")));
    return li;
  }

  // ---- Preferences ------------------------------------------------------------------
  function loadPrefs() {
    return api("GET", "/v1/portal/preferences").then(function (r) {
      if (r.status === 401) { sessionEnded(); return false; }
      if (r.status !== 200) { announce(t("err.unavailable")); return false; }
      showPrefs(r.body);
      $("prefs").hidden = false;
      return true;
    });
  }

  function selectedTimeZone() {
    var sel = $("time-zone");
    return sel && sel.value ? sel.value : (lastPrefs && lastPrefs.contact_hours ? lastPrefs.contact_hours.time_zone : "");
  }

  function fillTimeZones(current) {
    var sel = $("time-zone");
    sel.textContent = "";
    var known = false;
    TIME_ZONES.forEach(function (z) {
      var o = document.createElement("option");
      o.value = z[0];
      o.textContent = t("tz." + z[1]) + " (" + z[0] + ")";
      if (z[0] === current) { known = true; }
      sel.appendChild(o);
    });
    if (current && !known) {
      var o = document.createElement("option");
      o.value = current;
      o.textContent = current;
      sel.appendChild(o);
    }
    if (current) { sel.value = current; }
  }

  function showPrefs(p) {
    lastPrefs = p;
    $("email-enabled").checked = !!p.email.enabled;
    $("email-address").value = p.email.address || "";
    $("email-waits").checked = !!p.email_waits_for_contact_hours;
    $("sms-enabled").checked = !!p.sms.enabled;
    $("sms-phone").value = p.sms.phone || "";
    $("voice-enabled").checked = !!p.voice.enabled;
    $("voice-phone").value = p.voice.phone || "";
    $("hours-start").value = p.contact_hours.start;
    $("hours-end").value = p.contact_hours.end;
    fillTimeZones(p.contact_hours.time_zone);
    fillNoticeLanguages(p);
    renderStates(p);
  }

  // fillNoticeLanguages offers the languages the voter's county writes in (all when it does
  // not say), each named in its own language, with the voter's choice checked: a language the
  // county does not offer reads as its default, the first.
  function fillNoticeLanguages(p) {
    var box = $("notice-languages");
    var checked = box.querySelector("input[name=language]:checked");
    var current = checked ? checked.value : p.language;
    var codes = (p.languages_offered && p.languages_offered.length) ? p.languages_offered :
      LANGUAGES.map(function (l) { return l.code; });
    if (!codes.length) { codes = ["en"]; }
    if (codes.indexOf(current) < 0) { current = codes[0]; }
    box.textContent = "";
    codes.forEach(function (code, i) {
      var div = document.createElement("div");
      div.className = "check";
      var input = document.createElement("input");
      input.type = "radio";
      input.name = "language";
      input.value = code;
      input.id = i === 0 ? "language-first" : "language-" + code;
      input.checked = code === current;
      var label = document.createElement("label");
      label.htmlFor = input.id;
      label.lang = code;
      var info = languageInfo(code);
      label.textContent = info ? info.name : code;
      div.appendChild(input);
      div.appendChild(label);
      box.appendChild(div);
    });
  }

  function renderStates(p) {
    [["email", p.email], ["sms", p.sms], ["voice", p.voice]].forEach(function (c) {
      var box = $(c[0] + "-state");
      var state = c[1].state || "off";
      var key = state;
      if (state === "pending") { key = c[0] === "email" ? "pendingEmail" : "pendingSms"; }
      if (c[1].problem) { key = "problem"; }
      box.setAttribute("data-state", state);
      box.innerHTML = t("state." + key); // texts are ours (the catalogs allow only <strong>), never data
    });
  }

  var PREF_FIELDS = {
    "email.address": ["email-address", "email"], "email.enabled": ["email-enabled", "server"],
    "sms.phone": ["sms-phone", "phone"], "sms.enabled": ["sms-enabled", "server"],
    "voice.phone": ["voice-phone", "phone"], "voice.enabled": ["voice-enabled", "server"],
    "contact_hours.start": ["hours-start", "time"], "contact_hours.end": ["hours-end", "time"],
    "contact_hours.time_zone": ["time-zone", "timeZone"], "language": ["language-first", "language"]
  };

  var HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;
  var US_PHONE = /^\+1[2-9]\d{2}[2-9]\d{6}$/;

  function normalizePhone(s) {
    var n = s.replace(/[\s\-.()]/g, "");
    if (/^\d{10}$/.test(n)) { return "+1" + n; }
    if (/^1\d{10}$/.test(n)) { return "+" + n; }
    return n;
  }

  function onSavePrefs(ev) {
    ev.preventDefault();
    var form = $("prefs-form");
    clearErrors(form);
    hideFormError($("prefs-error"));
    var req = {
      email: { enabled: $("email-enabled").checked, address: $("email-address").value.trim() },
      sms: { enabled: $("sms-enabled").checked, phone: $("sms-phone").value.trim() },
      voice: { enabled: $("voice-enabled").checked, phone: $("voice-phone").value.trim() },
      contact_hours: { start: $("hours-start").value.trim(), end: $("hours-end").value.trim(), time_zone: $("time-zone").value },
      language: (document.querySelector("input[name=language]:checked") || { value: "" }).value || undefined,
      email_waits_for_contact_hours: $("email-waits").checked
    };
    var first = null;
    function bad(id, key) { var e = fieldError(id, key); if (!first) { first = e; } }
    if ((req.email.enabled || req.email.address) && !/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(req.email.address)) { bad("email-address", "email"); }
    if ((req.sms.enabled || req.sms.phone) && !US_PHONE.test(normalizePhone(req.sms.phone))) { bad("sms-phone", "phone"); }
    if ((req.voice.enabled || req.voice.phone) && !US_PHONE.test(normalizePhone(req.voice.phone))) { bad("voice-phone", "phone"); }
    if (!HHMM.test(req.contact_hours.start)) { bad("hours-start", "time"); }
    if (!HHMM.test(req.contact_hours.end)) { bad("hours-end", "time"); }
    if (!req.contact_hours.time_zone) { bad("time-zone", "timeZone"); }
    if (first) { first.focus(); return; }

    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    api("PUT", "/v1/portal/preferences", req).then(function (r) {
      button.disabled = false;
      if (r.status === 200) {
        showPrefs(r.body);
        var msgs = [t("saved")];
        (r.body.confirmations_sent || []).forEach(function (ch) {
          if (ch === "sms") { msgs.push(fill(t("savedSms"), { phone: r.body.sms.phone })); }
          if (ch === "email") { msgs.push(fill(t("savedEmail"), { email: r.body.email.address })); }
        });
        (r.body.confirmations_not_sent || []).forEach(function (n) {
          var when = n.retry_at ? formatDate(n.retry_at, true) : "";
          msgs.push(fill(t(n.channel === "email" ? "notSentEmail" : "notSentSms"), { time: when }));
        });
        announce(msgs.join(" "));
        return;
      }
      var e = (r.body && r.body.error) || {};
      if (r.status === 401) { sessionEnded(); return; }
      if (r.status === 429) {
        formError("prefs-error", "rateLimited", e.message, Number(r.headers.get("Retry-After")) || 60);
        return;
      }
      if (r.status === 400 && PREF_FIELDS[e.field]) {
        fieldError(PREF_FIELDS[e.field][0], PREF_FIELDS[e.field][1], e.message).focus();
        return;
      }
      formError("prefs-error", e.code === "confirmation_not_sent" ? "confirmNotSent" : "unavailable", e.message);
    }).catch(function () {
      button.disabled = false;
      formError("prefs-error", "network");
    });
  }

  function onOptOut() {
    if (!window.confirm(t("optOutConfirm"))) { return; }
    api("DELETE", "/v1/portal/preferences").then(function (r) {
      if (r.status === 401) { sessionEnded(); return; }
      if (r.status !== 200) { formError("prefs-error", "unavailable"); return; }
      showPrefs(r.body);
      announce(t("optedOut"));
      focusHeading("prefs-heading");
    }).catch(function () { formError("prefs-error", "network"); });
  }

  function onLogout() {
    var done = function () {
      saveSession(null);
      showSignedOut();
      announce(t("loggedOut"));
      focusHeading("lookup-heading");
    };
    api("DELETE", "/v1/portal/session").then(done, done);
  }

  // ---- Email confirmation -----------------------------------------------------------
  // A confirmation email's link lands here as /#confirm-email=<token>. Opening it changes
  // nothing (mail scanners open every link): the voter confirms by pressing the button.
  var confirmToken = null;

  // takeConfirmLink returns the token of a confirmation link in the address ("" for a link
  // without one, null when the page was not opened from a link) and removes it from the
  // address bar, and so from history, bookmarks and shared screens.
  function takeConfirmLink() {
    var hash = window.location.hash;
    if (hash.indexOf("#confirm-email=") !== 0) { return null; }
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
    return new URLSearchParams(hash.slice(1)).get("confirm-email") || "";
  }

  function showConfirmPanel(token) {
    if (token === null) { return; }
    if (!token || token.length > 128) {
      announce(t("emailConfirmInvalid"));
      return;
    }
    confirmToken = token;
    hideFormError($("confirm-email-error"));
    $("confirm-email-button").disabled = false;
    $("confirm-email").hidden = false;
    focusHeading("confirm-email-heading");
  }

  function onConfirmEmail() {
    if (!confirmToken) { return; }
    var button = $("confirm-email-button");
    button.disabled = true;
    hideFormError($("confirm-email-error"));
    api("POST", "/v1/portal/confirm-email", { token: confirmToken }).then(function (r) {
      var e = (r.body && r.body.error) || {};
      if (r.status === 200) { confirmEmailDone("emailConfirmed"); return; }
      // 404: used, expired or superseded; 400: a token the server cannot read.
      if (r.status === 404 || r.status === 400) { confirmEmailDone("emailConfirmInvalid"); return; }
      button.disabled = false;
      if (r.status === 429) {
        formError("confirm-email-error", "rateLimited", e.message, Number(r.headers.get("Retry-After")) || 60);
        return;
      }
      formError("confirm-email-error", "unavailable", e.message);
    }).catch(function () {
      button.disabled = false;
      formError("confirm-email-error", "network");
    });
  }

  // confirmEmailDone closes the panel, says how it went, and moves focus to where the voter
  // goes next: their preferences (reloaded, so the email shows as on) or the lookup form.
  function confirmEmailDone(key) {
    confirmToken = null;
    $("confirm-email").hidden = true;
    announce(t(key));
    if (!session) { focusHeading("lookup-heading"); return; }
    var toPrefs = function () { if (session) { focusHeading("prefs-heading"); } }; // else sessionEnded moved it
    loadPrefs().then(toPrefs, toPrefs);
  }

  // browserLanguage is the first of the browser's languages the page has: "zh-TW" and
  // "zh-Hant-HK" read Traditional Chinese, "es-MX" Spanish, "fil" Tagalog.
  function browserLanguage() {
    var wanted = navigator.languages || [navigator.language || ""];
    for (var i = 0; i < wanted.length; i++) {
      var w = String(wanted[i]).toLowerCase();
      if (/^zh-(hant|tw|hk|mo)/.test(w)) { w = "zh-hant"; }
      if (w === "fil" || w.indexOf("fil-") === 0) { w = "tl"; }
      for (var j = 0; j < LANGUAGES.length; j++) {
        var code = LANGUAGES[j].code.toLowerCase();
        if (w === code || (w.indexOf(code + "-") === 0 && code.indexOf("-") < 0 && code !== "zh")) { return LANGUAGES[j].code; }
      }
    }
    return "en";
  }

  // ---- Start --------------------------------------------------------------------------
  function start() {
    var link = takeConfirmLink(); // first: the token leaves the address bar before anything else
    var saved = null;
    try { saved = localStorage.getItem("ballotflow.lang"); } catch (e) { /* ignore */ }
    if (!LANGUAGES.length) { LANGUAGES = [{ code: "en", name: "English" }, { code: "es", name: "Español" }]; }
    buildLanguageSwitch();
    if (!saved) { saved = browserLanguage(); }
    setLanguage(languageInfo(saved) ? saved : "en");
    $("lookup-form").addEventListener("submit", onLookup);
    $("prefs-form").addEventListener("submit", onSavePrefs);
    $("opt-out").addEventListener("click", onOptOut);
    $("logout").addEventListener("click", onLogout);
    $("refresh").addEventListener("click", function () {
      Promise.all([loadBallot(), loadPrefs()]);
    });

    $("confirm-email-button").addEventListener("click", onConfirmEmail);
    window.addEventListener("hashchange", function () { showConfirmPanel(takeConfirmLink()); });

    session = loadSession();
    if (session) { showSignedIn(false); } else { showSignedOut(); }
    showConfirmPanel(link);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
