// The operator dashboard: one voter's ballots, subscriptions and delivery log, with a
// county-assisted opt-out; and, for an election and county, ballots by status over time,
// counts by county and status, and the voters who cannot be reached, with links to their
// ballots in Temporal UI. Plain JavaScript against the operator API (/v1/operator/...); no build step,
// no library, no inline script or style (the page's Content-Security-Policy forbids them).
// The chart is inline SVG drawn here; the table under it carries the same numbers for
// screen readers and for copying.
(function () {
  "use strict";

  var KEY_STORAGE = "ballotflow.operatorKey";
  // Set while the credential in KEY_STORAGE is an access token from signing in.
  var SIGNED_IN_STORAGE = "ballotflow.operatorSignedIn";
  // A sign-in under way: its PKCE verifier and state, until the provider sends the browser back.
  var PENDING_STORAGE = "ballotflow.operatorSignInPending";
  var SVG_NS = "http://www.w3.org/2000/svg";

  var STATUS_LABEL = {
    none: "No status yet", mailed: "Mailed", undeliverable: "Undeliverable", received: "Received",
    challenged: "Challenged", cured: "Cured", accepted: "Accepted", rejected: "Rejected",
    counted: "Counted", replaced: "Replaced"
  };
  // Okabe–Ito colors, told apart by most people with color-vision deficiencies; the legend
  // and the table name every status in words as well.
  var STATUS_COLOR = {
    none: "#8c8c8c", mailed: "#0072b2", undeliverable: "#d55e00", received: "#56b4e9",
    challenged: "#e69f00", cured: "#cc79a7", accepted: "#009e73", rejected: "#7a1f3d",
    counted: "#1b4d2b", replaced: "#5c5c5c"
  };
  var CHANNEL_LABEL = { email: "Email", sms: "Text message", voice: "Voice call" };
  var SUBSCRIPTION_LABEL = { active: "Active", pending: "Pending confirmation", bounced: "Bounced", opted_out: "Opted out" };
  var SOURCE_LABEL = { auto_enrolled: "Voter roll", portal: "Voter portal", county_assisted: "County, at the voter's request",
    migrated: "Earlier system" };
  var DELIVERY_LABEL = { sending: "Sending", accepted: "Accepted by the provider", delivered: "Delivered", failed: "Failed",
    skipped: "Not sent" };
  var REASON_LABEL = {
    no_active_channel: "No active channel",
    latest_notice_failed: "Latest notice failed",
    channel_bounced: "A channel bounced"
  };

  var key = null; // an operator key, or the access token of a signed-in operator
  var signedIn = false;
  var signIn = null; // how operators sign in here, from /operator/sign-in.json; null: keys only
  var elections = [];
  var current = null; // { election, county } of the report on screen
  var countyNames = {}; // county slug -> name, for the selected election's state
  var voter = null; // { state, voterId } of the voter on screen
  var lookups = 0; // numbers voter lookups, so a slow answer cannot replace a newer one
  var optingOut = false; // an opt-out is on its way

  function $(id) { return document.getElementById(id); }

  function label(status) { return STATUS_LABEL[status] || status; }

  function named(labels, value) { return labels[value] || value; }

  function announce(text) {
    var s = $("status");
    s.textContent = "";
    // A fresh text node makes screen readers announce the same message twice in a row.
    window.setTimeout(function () { s.textContent = text; }, 50);
  }

  // ---- Key ------------------------------------------------------------------------------

  function loadKey() {
    try {
      signedIn = sessionStorage.getItem(SIGNED_IN_STORAGE) === "1";
      return sessionStorage.getItem(KEY_STORAGE);
    } catch (e) { return null; }
  }

  // saveKey keeps the credential for this tab; viaSignIn says it is an access token.
  function saveKey(k, viaSignIn) {
    key = k;
    signedIn = !!(k && viaSignIn);
    try {
      if (k) { sessionStorage.setItem(KEY_STORAGE, k); } else { sessionStorage.removeItem(KEY_STORAGE); }
      if (signedIn) { sessionStorage.setItem(SIGNED_IN_STORAGE, "1"); } else { sessionStorage.removeItem(SIGNED_IN_STORAGE); }
    } catch (e) { /* storage unavailable: the key lasts as long as the page */ }
  }

  // showKeyForm goes back to signing in; a message about a sign-in is shown above its
  // button, one about a key at the key's field.
  function showKeyForm(message, aboutSignIn) {
    saveKey(null);
    $("dashboard").hidden = true;
    $("forget-key").hidden = true;
    $("sign-out").hidden = true;
    clearVoter();
    $("key-section").hidden = false;
    $("operator-key").value = "";
    $("signin-error").hidden = true;
    if (message && aboutSignIn && signIn) {
      $("signin-error").textContent = message;
      $("signin-error").hidden = false;
      $("signin-error").focus();
    } else if (message) {
      fieldError("operator-key", message);
      $("operator-key").focus();
    } else {
      $("key-heading").focus();
    }
  }

  // ---- Sign-in with the county's identity provider ----------------------------------------
  // The authorization code flow with PKCE, as a public client: the page sends the browser to
  // the provider, which sends it back here with a code; the page exchanges the code (and its
  // PKCE verifier) at the provider's token endpoint for an access token, and sends that to
  // the operator API as it would a key. Nothing is kept but in this tab's sessionStorage.

  function base64url(bytes) {
    var s = "";
    for (var i = 0; i < bytes.length; i++) { s += String.fromCharCode(bytes[i]); }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function randomString() {
    var b = new Uint8Array(32);
    crypto.getRandomValues(b);
    return base64url(b);
  }

  function redirectURI() { return window.location.origin + "/operator/"; }

  function loadSignIn() {
    return fetch("/operator/sign-in.json", { headers: { "Accept": "application/json" }, credentials: "omit", cache: "no-store" })
      .then(function (resp) {
        return resp.json().catch(function () { return null; }).then(function (body) {
          if (resp.ok && body && body.enabled) {
            signIn = body;
          } else if (body && body.error) {
            $("signin-error").textContent = body.error.message;
            $("signin-error").hidden = false;
          }
          $("signin").hidden = !(signIn || (body && body.error));
          $("signin-button").hidden = !signIn;
        });
      }, function () { /* keys still work */ });
  }

  function startSignIn() {
    if (!signIn) { return; }
    var verifier = randomString(), state = randomString();
    crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)).then(function (digest) {
      try {
        sessionStorage.setItem(PENDING_STORAGE, JSON.stringify({ verifier: verifier, state: state }));
      } catch (e) {
        showKeyForm("This browser keeps nothing for this tab, so signing in cannot work here. Use an operator key.", true);
        return;
      }
      var params = new URLSearchParams({
        response_type: "code", client_id: signIn.client_id, redirect_uri: redirectURI(), scope: signIn.scope,
        state: state, code_challenge: base64url(new Uint8Array(digest)), code_challenge_method: "S256"
      });
      var endpoint = signIn.authorization_endpoint;
      window.location.assign(endpoint + (endpoint.indexOf("?") < 0 ? "?" : "&") + params.toString());
    });
  }

  // finishSignIn handles the provider sending the browser back (?code=...&state=... or
  // ?error=...); it returns false when this page load is not such a return.
  function finishSignIn() {
    var params = new URLSearchParams(window.location.search);
    if (!params.has("code") && !params.has("error")) { return false; }
    // The code leaves the address bar (and the history) at once.
    window.history.replaceState(null, "", window.location.pathname);
    var pending = null;
    try {
      pending = JSON.parse(sessionStorage.getItem(PENDING_STORAGE) || "null");
      sessionStorage.removeItem(PENDING_STORAGE);
    } catch (e) { pending = null; }
    if (!signIn) {
      showKeyForm("Signing in is not available here now. Use an operator key.", true);
      return true;
    }
    if (params.has("error")) {
      showKeyForm("Signing in did not finish: the identity provider answered " + params.get("error") + ".", true);
      return true;
    }
    if (!pending || pending.state !== params.get("state")) {
      showKeyForm("This sign-in was not started from this tab. Sign in again.", true);
      return true;
    }
    var body = new URLSearchParams({
      grant_type: "authorization_code", code: params.get("code"), redirect_uri: redirectURI(),
      client_id: signIn.client_id, code_verifier: pending.verifier
    });
    fetch(signIn.token_endpoint, {
      method: "POST", body: body.toString(), credentials: "omit", cache: "no-store",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json" }
    }).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (tokens) {
        if (!resp.ok || !tokens || !tokens.access_token) {
          throw new Error((tokens && tokens.error) || String(resp.status));
        }
        saveKey(tokens.access_token, true);
        announce("Signed in.");
        openDashboard(true);
      });
    }).catch(function (err) {
      showKeyForm("Signing in did not finish: the identity provider refused the code (" + err.message + "). Sign in again.", true);
    });
    return true;
  }

  function fieldError(id, message) {
    var input = $(id), err = $(id + "-error");
    if (message) {
      err.textContent = message;
      err.hidden = false;
      input.setAttribute("aria-invalid", "true");
    } else {
      err.textContent = "";
      err.hidden = true;
      input.removeAttribute("aria-invalid");
    }
  }

  // ---- API ------------------------------------------------------------------------------

  function ApiError(status, body) {
    var e = (body && body.error) || {};
    this.status = status;
    this.code = e.code || "";
    this.field = e.field || "";
    this.message = e.message || "The server answered " + status + ".";
  }

  // api calls the operator API with the key in the Authorization header (never in the URL);
  // a body is sent as JSON with POST.
  function api(path, body) {
    var headers = { "Accept": "application/json", "Authorization": "Bearer " + key };
    var init = { headers: headers, credentials: "omit", cache: "no-store" };
    if (body !== undefined) {
      init.method = "POST";
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (body) {
        if (!resp.ok) { throw new ApiError(resp.status, body); }
        return body;
      });
    }, function () {
      throw new ApiError(0, { error: { message: "The server could not be reached. Check your connection and try again." } });
    });
  }

  // asApiError passes an ApiError through and wraps anything else (a script error) in one.
  function asApiError(err) {
    if (err instanceof ApiError) { return err; }
    return new ApiError(0, { error: { message: "Something went wrong on this page: " + err + ". Reload it and try again." } });
  }

  // handleError sends the operator back to the key form when the key is the problem, and
  // shows anything else in the error box (boxId, the report's by default).
  function handleError(err, boxId) {
    if (err.status === 401 && signedIn) {
      showKeyForm("Your sign-in has ended. Sign in again.", true);
      return;
    }
    if (err.status === 403 && signedIn) {
      showKeyForm("You are signed in, but not as an operator: ask your administrator to add you to the operator group.", true);
      return;
    }
    if (err.status === 401) {
      showKeyForm("This key is not valid or was revoked. Paste a current operator key.");
      return;
    }
    if (err.status === 403) {
      showKeyForm("This is not an operator key. Paste a key created with --role operator.");
      return;
    }
    var box = $(typeof boxId === "string" ? boxId : "report-error");
    box.textContent = err.message;
    box.hidden = false;
    box.focus();
  }

  function query(params) {
    var parts = [];
    Object.keys(params).forEach(function (k) {
      if (params[k]) { parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(params[k])); }
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  // ---- Dashboard ------------------------------------------------------------------------

  function openDashboard(focusHeading) {
    $("key-section").hidden = true;
    $("dashboard").hidden = false;
    $("forget-key").hidden = signedIn;
    $("sign-out").hidden = !signedIn;
    $("report-error").hidden = true;
    $("voter-error").hidden = true;
    return api("/v1/elections").then(function (body) {
      elections = body.elections || [];
      var sel = $("election");
      sel.textContent = "";
      elections.forEach(function (e) {
        var o = document.createElement("option");
        o.value = e.id;
        o.textContent = e.name + " (" + e.state + ", " + e.election_day + ")";
        sel.appendChild(o);
      });
      defaultVoterState();
      if (focusHeading) { $("dashboard-heading").focus(); }
      if (!elections.length) {
        announce("No elections are configured yet.");
        return null;
      }
      return loadCounties().then(loadReport);
    }).catch(handleError);
  }

  function selectedElection() {
    var id = $("election").value;
    for (var i = 0; i < elections.length; i++) {
      if (elections[i].id === id) { return elections[i]; }
    }
    return null;
  }

  function loadCounties() {
    var e = selectedElection();
    var sel = $("county");
    var previous = sel.value;
    return api("/v1/jurisdictions" + query({ state: e ? e.state : "" })).then(function (body) {
      countyNames = {};
      sel.textContent = "";
      var all = document.createElement("option");
      all.value = "";
      all.textContent = "All counties";
      sel.appendChild(all);
      (body.jurisdictions || []).forEach(function (j) {
        var o = document.createElement("option");
        o.value = j.county;
        o.textContent = j.name;
        sel.appendChild(o);
        countyNames[j.county] = j.name;
      });
      sel.value = previous;
      if (sel.value !== previous) { sel.value = ""; }
    });
  }

  function loadReport() {
    var e = selectedElection();
    if (!e) { return null; }
    var county = $("county").value;
    var countyName = county ? $("county").options[$("county").selectedIndex].textContent : "all counties";
    $("report-error").hidden = true;
    var id = encodeURIComponent(e.id);
    return Promise.all([
      api("/v1/operator/elections/" + id + "/status-over-time" + query({ county: county })),
      api("/v1/operator/elections/" + id + "/counts" + query({ county: county })),
      api("/v1/operator/unreachable" + query({ election_id: e.id, county: county }))
    ]).then(function (answers) {
      current = { election: e, county: county };
      renderOverTime(answers[0], countyName);
      renderCounts(answers[1]);
      renderUnreachable(answers[2], countyName);
      var n = answers[2].voters.length;
      announce("Showing " + e.name + ", " + countyName + ": " + answers[1].total + " ballots, " +
        n + (answers[2].truncated ? "+" : "") + (n === 1 ? " voter" : " voters") + " who cannot be reached.");
    });
  }

  // ---- Chart ----------------------------------------------------------------------------

  function svg(name, attrs, parent) {
    var el = document.createElementNS(SVG_NS, name);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(el); }
    return el;
  }

  function niceMax(n) {
    if (n <= 5) { return 5; }
    var step = Math.pow(10, Math.floor(Math.log10(n)));
    var candidates = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < candidates.length; i++) {
      if (candidates[i] * step >= n) { return candidates[i] * step; }
    }
    return 10 * step;
  }

  function renderOverTime(data, countyName) {
    var days = data.days || [];
    var statuses = data.statuses || [];
    var chart = $("chart");
    chart.textContent = "";
    var W = 760, H = 320, left = 56, right = 16, top = 16, bottom = 48;
    var innerW = W - left - right, innerH = H - top - bottom;
    var root = svg("svg", {
      viewBox: "0 0 " + W + " " + H, role: "img", "aria-labelledby": "chart-title chart-desc",
      "class": "chart-svg", focusable: "false"
    }, chart);
    var title = svg("title", { id: "chart-title" }, root);
    title.textContent = "Ballots by status over time, " + data.election_id + ", " + countyName;
    var desc = svg("desc", { id: "chart-desc" }, root);
    if (!days.length) {
      desc.textContent = "No ballot has a recorded status yet.";
      var empty = svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", "class": "chart-empty" }, root);
      empty.textContent = "No ballot has a recorded status yet.";
    } else {
      var lastDay = days[days.length - 1];
      desc.textContent = "Stacked bars, one per day from " + days[0].date + " to " + lastDay.date +
        ". On " + lastDay.date + ": " + statuses.map(function (s) { return lastDay.counts[s] + " " + label(s).toLowerCase(); }).join(", ") +
        ". The table below lists every day.";
    }

    var max = niceMax(days.reduce(function (m, d) { return Math.max(m, d.total); }, 0));
    var y = function (n) { return top + innerH - (n / max) * innerH; };
    // Grid lines and the y axis's numbers.
    var ticks = 5;
    for (var i = 0; i <= ticks; i++) {
      var v = Math.round((max / ticks) * i);
      svg("path", { d: "M" + left + " " + y(v) + "H" + (W - right), "class": i === 0 ? "axis" : "grid" }, root);
      var t = svg("text", { x: left - 8, y: y(v) + 4, "text-anchor": "end", "class": "tick" }, root);
      t.textContent = String(v);
    }
    var axisLabel = svg("text", { x: 14, y: top + innerH / 2, "text-anchor": "middle", "class": "tick",
      transform: "rotate(-90 14 " + (top + innerH / 2) + ")" }, root);
    axisLabel.textContent = "Ballots";

    var band = days.length ? innerW / days.length : innerW;
    var barW = Math.max(2, Math.min(band * 0.7, 64));
    var every = Math.max(1, Math.ceil(days.length / 12));
    days.forEach(function (d, i) {
      var x = left + band * i + (band - barW) / 2;
      var base = 0;
      var g = svg("g", { "class": "day", "data-date": d.date }, root);
      statuses.forEach(function (s) {
        var n = d.counts[s] || 0;
        if (n <= 0) { return; }
        var rect = svg("rect", {
          x: x.toFixed(1), y: y(base + n).toFixed(1), width: barW.toFixed(1),
          height: Math.max(0.5, y(base) - y(base + n)).toFixed(1),
          fill: STATUS_COLOR[s] || "#444444", "class": "bar", "data-status": s, "data-count": n
        }, g);
        var tip = svg("title", {}, rect);
        tip.textContent = d.date + ": " + n + " " + label(s).toLowerCase();
        base += n;
      });
      if (i % every === 0 || i === days.length - 1) {
        var lbl = svg("text", { x: (left + band * i + band / 2).toFixed(1), y: H - bottom + 18, "text-anchor": "middle", "class": "tick" }, root);
        lbl.textContent = d.date.slice(5);
      }
    });

    var legend = $("legend");
    legend.textContent = "";
    statuses.forEach(function (s) {
      var li = document.createElement("li");
      var sw = svg("svg", { width: 14, height: 14, viewBox: "0 0 14 14", "aria-hidden": "true", focusable: "false" }, li);
      svg("rect", { width: 14, height: 14, fill: STATUS_COLOR[s] || "#444444" }, sw);
      li.appendChild(document.createTextNode(" " + label(s)));
      legend.appendChild(li);
    });

    // The same numbers as a table: dates as row headers, statuses as column headers.
    var table = $("over-time-table");
    table.querySelector("caption").textContent = "Ballots at each status at the end of each day (" + data.time_zone + "), " + countyName;
    var head = table.tHead;
    head.textContent = "";
    var hr = head.insertRow();
    appendTh(hr, "Date", "col");
    statuses.forEach(function (s) { appendTh(hr, label(s), "col"); });
    appendTh(hr, "Total", "col");
    var body = table.tBodies[0];
    body.textContent = "";
    days.slice().reverse().forEach(function (d) {
      var tr = body.insertRow();
      appendTh(tr, d.date, "row");
      statuses.forEach(function (s) { tr.insertCell().textContent = String(d.counts[s] || 0); });
      tr.insertCell().textContent = String(d.total);
    });
    if (!days.length) { emptyRow(body, statuses.length + 2, "No ballot has a recorded status yet."); }
  }

  function appendTh(row, text, scope) {
    var th = document.createElement("th");
    th.scope = scope;
    th.textContent = text;
    row.appendChild(th);
    return th;
  }

  function emptyRow(body, span, text) {
    var td = body.insertRow().insertCell();
    td.colSpan = span;
    td.textContent = text;
  }

  // ---- Counts ---------------------------------------------------------------------------

  function renderCounts(data) {
    var table = $("counts-table");
    var statuses = data.statuses || [];
    var head = table.tHead;
    head.textContent = "";
    var hr = head.insertRow();
    appendTh(hr, "County", "col");
    statuses.forEach(function (s) { appendTh(hr, label(s), "col"); });
    appendTh(hr, "Total", "col");
    var body = table.tBodies[0];
    body.textContent = "";
    (data.counties || []).forEach(function (c) {
      var tr = body.insertRow();
      appendTh(tr, c.county, "row");
      statuses.forEach(function (s) { tr.insertCell().textContent = String(c.by_status[s] || 0); });
      tr.insertCell().textContent = String(c.total);
    });
    if (!(data.counties || []).length) { emptyRow(body, statuses.length + 2, "No ballots yet."); }
  }

  // ---- Unreachable voters ---------------------------------------------------------------

  function renderUnreachable(data, countyName) {
    var voters = data.voters || [];
    $("unreachable-caption").textContent = "Voters who cannot be reached, " + countyName + ": " +
      voters.length + (data.truncated ? " (the first " + voters.length + "; download the CSV for all)" : "");
    var body = $("unreachable-table").tBodies[0];
    body.textContent = "";
    voters.forEach(function (v) {
      var tr = body.insertRow();
      appendTh(tr, v.voter_id, "row");
      tr.insertCell().textContent = v.county;
      var reason = tr.insertCell();
      reason.textContent = REASON_LABEL[v.reason] || v.reason;
      reason.setAttribute("data-reason", v.reason);
      tr.insertCell().textContent = v.detail;
      appendWorkflow(tr.insertCell(), v.workflow_id, v.temporal_ui_url);
    });
    if (!voters.length) { emptyRow(body, 5, "Every voter with a ballot in this election can be reached."); }
  }

  // appendWorkflow puts a ballot's workflow ID in cell, as a link into Temporal UI when one
  // is configured.
  function appendWorkflow(cell, workflowID, url) {
    if (!url) {
      el("code", workflowID, cell);
      return;
    }
    var a = el("a", workflowID, cell);
    a.href = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    el("span", " (opens Temporal UI in a new tab)", a).className = "visually-hidden";
  }

  // el makes an element holding text (as text, never as markup) and appends it to parent.
  function el(name, text, parent) {
    var e = document.createElement(name);
    if (text) { e.textContent = text; }
    if (parent) { parent.appendChild(e); }
    return e;
  }

  // timeEl is a <time> for an RFC 3339 instant, shown in the operator's time zone.
  function timeEl(iso, parent) {
    var t = el("time", formatTime(iso), parent);
    t.dateTime = iso;
    return t;
  }

  function formatTime(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return iso; }
    return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  // ---- One voter ------------------------------------------------------------------------

  // defaultVoterState fills the voter lookup's state from the selected election, unless the
  // operator typed another.
  function defaultVoterState() {
    var input = $("voter-state"), e = selectedElection();
    if (!e || (input.value && input.value !== input.getAttribute("data-default"))) { return; }
    input.value = e.state;
    input.setAttribute("data-default", e.state);
  }

  function clearVoter() {
    voter = null;
    lookups++;
    $("voter").hidden = true;
    ["voter-ballots", "voter-subscriptions", "voter-deliveries"].forEach(function (id) { $(id).tBodies[0].textContent = ""; });
    $("opt-out-note").value = "";
    fieldError("opt-out-note", null);
    if ($("opt-out-dialog").open) { $("opt-out-dialog").close(); }
  }

  // submitLookup checks the form, then looks the voter up; errors are shown at their field,
  // and focus goes to the first one.
  function submitLookup() {
    var state = $("voter-state").value.trim().toUpperCase();
    var voterId = $("voter-id").value.trim();
    $("voter-state").value = state;
    $("voter-error").hidden = true;
    var stateErr = /^[A-Z]{2}$/.test(state) ? null : "Enter the state's two-letter code, e.g. CO.";
    var idErr = null;
    if (!voterId) {
      idErr = "Enter the voter ID.";
    } else if (!/^[A-Za-z0-9_.-]{1,32}$/.test(voterId)) {
      idErr = "A voter ID has only letters, digits, - _ and . (at most 32).";
    }
    fieldError("voter-state", stateErr);
    fieldError("voter-id", idErr);
    if (stateErr || idErr) {
      $(stateErr ? "voter-state" : "voter-id").focus();
      return;
    }
    clearVoter();
    showVoter(state, voterId).then(function (summary) {
      $("voter-heading").focus();
      announce(summary);
    }, lookupFailed);
  }

  // showVoter reads the voter's ballots (with subscriptions) and delivery log, renders them
  // and resolves to a sentence summing them up.
  function showVoter(state, voterId) {
    var n = ++lookups;
    var base = "/v1/operator/voters/" + encodeURIComponent(state) + "/" + encodeURIComponent(voterId);
    return Promise.all([api(base + "/ballots"), api(base + "/deliveries")]).then(function (answers) {
      if (n !== lookups) { throw new Superseded(); }
      voter = { state: state, voterId: voterId };
      renderVoter(answers[0], answers[1]);
      var b = answers[0].ballots.length, s = answers[0].subscriptions.length, d = answers[1].deliveries.length;
      return "Voter " + state + " " + voterId + ": " + b + (b === 1 ? " ballot, " : " ballots, ") +
        s + (s === 1 ? " subscription, " : " subscriptions, ") + d + (d === 1 ? " delivery." : " deliveries.");
    }, function (err) {
      throw n === lookups ? err : new Superseded();
    });
  }

  // Superseded rejects a lookup that a newer one (or forgetting the key) replaced.
  function Superseded() {}

  function lookupFailed(err) {
    if (err instanceof Superseded) { return; }
    err = asApiError(err);
    if (err.status === 404) {
      fieldError("voter-id", "No voter with voter ID " + $("voter-id").value.trim() + " is registered in " +
        $("voter-state").value + ". Check the number and the state with the caller.");
      $("voter-id").focus();
      return;
    }
    if (err.status === 400 && (err.field === "state" || err.field === "voter_id")) {
      var id = err.field === "state" ? "voter-state" : "voter-id";
      fieldError(id, err.message);
      $(id).focus();
      return;
    }
    handleError(err, "voter-error");
  }

  function renderVoter(ballots, deliveries) {
    var v = ballots.voter;
    $("voter-heading").textContent = "Voter " + v.state + " " + v.voter_id;
    var summary = (countyNames[v.county] || v.county) + " · registration " + v.status;
    if (v.confidential) { summary += " · confidential voter: the roll withholds their contact details"; }
    $("voter-summary").textContent = summary;
    renderVoterBallots(ballots.ballots || []);
    renderSubscriptions(ballots.subscriptions || []);
    renderDeliveries(deliveries.deliveries || []);
    $("voter").hidden = false;
  }

  function electionName(id) {
    for (var i = 0; i < elections.length; i++) {
      if (elections[i].id === id) { return elections[i].name; }
    }
    return id;
  }

  function renderVoterBallots(ballots) {
    var body = $("voter-ballots").tBodies[0];
    body.textContent = "";
    ballots.forEach(function (b) {
      var tr = body.insertRow();
      appendTh(tr, electionName(b.election_id), "row");
      tr.insertCell().textContent = b.ballot_id;
      var status = tr.insertCell();
      status.textContent = b.status ? label(b.status) : label("none");
      status.setAttribute("data-status", b.status || "none");
      var at = tr.insertCell();
      if (b.status_at) { timeEl(b.status_at, at); } else { at.textContent = "—"; }
      var history = el("ol", "", tr.insertCell());
      history.className = "history";
      (b.history || []).forEach(function (h) {
        var li = el("li", label(h.status) + ", ", history);
        timeEl(h.at, li);
        if (h.reason) { li.appendChild(document.createTextNode(": " + h.reason)); }
        if (h.cure_deadline) { li.appendChild(document.createTextNode(" (cure by " + h.cure_deadline + ")")); }
      });
      appendWorkflow(tr.insertCell(), b.workflow_id, b.temporal_ui_url);
    });
    if (!ballots.length) { emptyRow(body, 6, "No ballot for this voter yet."); }
  }

  function renderSubscriptions(subs) {
    var body = $("voter-subscriptions").tBodies[0];
    body.textContent = "";
    subs.forEach(function (s) {
      var tr = body.insertRow();
      tr.setAttribute("data-channel", s.channel);
      appendTh(tr, named(CHANNEL_LABEL, s.channel), "row");
      tr.insertCell().textContent = s.address || "—";
      var state = tr.insertCell();
      state.textContent = named(SUBSCRIPTION_LABEL, s.state);
      state.setAttribute("data-state", s.state);
      tr.insertCell().textContent = named(SOURCE_LABEL, s.source);
    });
    if (!subs.length) { emptyRow(body, 4, "No subscriptions: no notice can reach this voter."); }
  }

  function renderDeliveries(deliveries) {
    var body = $("voter-deliveries").tBodies[0];
    body.textContent = "";
    deliveries.forEach(function (d) {
      var tr = body.insertRow();
      timeEl(d.created_at, appendTh(tr, "", "row"));
      tr.insertCell().textContent = named(CHANNEL_LABEL, d.channel);
      tr.insertCell().textContent = label(d.notice_status) + " notice, ballot " + d.ballot_id;
      var outcome = tr.insertCell();
      outcome.setAttribute("data-state", d.state);
      el("span", named(DELIVERY_LABEL, d.state), outcome);
      if (d.attempts > 1) { outcome.appendChild(document.createTextNode(" after " + d.attempts + " attempts")); }
      if (d.last_error) { el("span", d.last_error, outcome).className = "detail"; }
      var events = tr.insertCell();
      if (d.events && d.events.length) {
        var ul = el("ul", "", events);
        ul.className = "events";
        d.events.forEach(function (e) {
          var li = el("li", "", ul);
          timeEl(e.occurred_at, li);
          li.appendChild(document.createTextNode(": " + e.status + (e.detail ? " (" + e.detail + ")" : "")));
        });
      } else {
        events.appendChild(document.createTextNode("None yet"));
      }
      if (d.provider_id) {
        var p = el("span", "Provider ID ", events);
        p.className = "detail";
        el("code", d.provider_id, p);
      }
    });
    if (!deliveries.length) { emptyRow(body, 5, "Nothing has been sent to this voter."); }
  }

  // ---- County-assisted opt-out ----------------------------------------------------------

  // askOptOut checks the note and asks for confirmation: the opt-out cannot be undone here.
  function askOptOut() {
    if (!voter || optingOut) { return; }
    var note = $("opt-out-note").value.trim();
    if (!note) {
      fieldError("opt-out-note", "Write a note: who asked and how, e.g. \"voter called, ticket 4411\".");
      $("opt-out-note").focus();
      return;
    }
    fieldError("opt-out-note", null);
    $("opt-out-dialog-text").textContent = "Voter " + voter.state + " " + voter.voterId +
      " will get no more email, texts or calls about any ballot. This cannot be undone from the dashboard.";
    $("opt-out-dialog").showModal();
    $("opt-out-cancel").focus();
  }

  function cancelOptOut() {
    if ($("opt-out-dialog").open) { $("opt-out-dialog").close(); }
    $("opt-out-submit").focus();
    announce("Nothing was changed.");
  }

  function confirmOptOut() {
    $("opt-out-dialog").close();
    var who = voter, n = lookups;
    if (!who || optingOut) { return; }
    optingOut = true;
    var path = "/v1/operator/voters/" + encodeURIComponent(who.state) + "/" + encodeURIComponent(who.voterId) + "/opt-out";
    api(path, { note: $("opt-out-note").value.trim() }).then(function (answer) {
      optingOut = false;
      var changed = (answer.changed || []).map(function (c) { return named(CHANNEL_LABEL, c).toLowerCase(); });
      var said = changed.length
        ? "Voter " + who.state + " " + who.voterId + " is opted out of all contact (" + changed.join(", ") + ")."
        : "Voter " + who.state + " " + who.voterId + " was already opted out of all contact.";
      if (answer.ballots_signaled === false) {
        said += " Their running ballots could not be told at once; every send checks the opt-out, so nothing more goes out.";
      }
      if (n !== lookups) {
        announce(said); // the operator looked up someone else meanwhile
        return null;
      }
      $("opt-out-note").value = "";
      return showVoter(who.state, who.voterId).then(function () {
        $("voter-subscriptions-heading").focus();
        announce(said);
      }, function (err) {
        if (err instanceof Superseded) { return; }
        err = asApiError(err);
        err.message = said + " The page could not show the change: " + err.message;
        handleError(err, "voter-error");
      });
    }, function (err) {
      optingOut = false;
      if (n !== lookups) {
        handleError(asApiError(err), "voter-error");
        return;
      }
      if (err instanceof ApiError && err.status === 400 && err.field === "note") {
        fieldError("opt-out-note", err.message.charAt(0).toUpperCase() + err.message.slice(1) + ". Nothing was changed.");
        $("opt-out-note").focus();
        return;
      }
      if (err instanceof ApiError && err.status === 404) {
        lookupFailed(err);
        return;
      }
      handleError(asApiError(err), "voter-error");
    });
  }

  // ---- CSV downloads --------------------------------------------------------------------

  // download fetches a CSV export with the key (a plain link cannot send it) and saves it.
  function download(path) {
    if (!current) { return; }
    fetch(path, { headers: { "Accept": "text/csv", "Authorization": "Bearer " + key }, credentials: "omit", cache: "no-store" })
      .then(function (resp) {
        if (!resp.ok) {
          return resp.json().catch(function () { return null; }).then(function (b) { throw new ApiError(resp.status, b); });
        }
        var name = (resp.headers.get("Content-Disposition") || "").replace(/^.*filename="([^"]+)".*$/, "$1") || "ballotflow.csv";
        return resp.blob().then(function (blob) {
          var a = document.createElement("a");
          a.href = URL.createObjectURL(blob);
          a.download = name;
          document.body.appendChild(a);
          a.click();
          window.setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
          announce("Downloaded " + name + ".");
        });
      })
      .catch(function (err) { handleError(err instanceof ApiError ? err : new ApiError(0, null)); });
  }

  function reportPath(report) {
    var id = encodeURIComponent(current.election.id);
    var county = current.county;
    switch (report) {
      case "over-time": return "/v1/operator/elections/" + id + "/status-over-time" + query({ county: county, format: "csv" });
      case "counts": return "/v1/operator/elections/" + id + "/counts" + query({ county: county, format: "csv" });
      default: return "/v1/operator/unreachable" + query({ election_id: current.election.id, county: county, format: "csv" });
    }
  }

  // ---- Wiring ---------------------------------------------------------------------------

  function init() {
    $("key-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var k = $("operator-key").value.trim();
      if (!/^bf_[a-z2-7]{8}_[A-Za-z0-9_-]+$/.test(k)) {
        fieldError("operator-key", "Paste the whole key: bf_, eight letters or digits, an underscore, then the secret.");
        $("operator-key").focus();
        return;
      }
      fieldError("operator-key", null);
      saveKey(k);
      $("operator-key").value = "";
      openDashboard(true);
    });
    $("forget-key").addEventListener("click", function () {
      showKeyForm(null);
      announce("Your key is forgotten in this tab.");
    });
    $("sign-out").addEventListener("click", function () {
      showKeyForm(null);
      announce("You are signed out of this dashboard in this tab.");
    });
    $("signin-button").addEventListener("click", startSignIn);
    $("election").addEventListener("change", function () {
      defaultVoterState();
      loadCounties().catch(handleError);
    });
    $("voter-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      submitLookup();
    });
    $("opt-out-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      askOptOut();
    });
    $("opt-out-confirm").addEventListener("click", confirmOptOut);
    $("opt-out-cancel").addEventListener("click", cancelOptOut);
    // Escape closes the dialog by itself; focus goes back to the button that opened it.
    $("opt-out-dialog").addEventListener("cancel", function (ev) {
      ev.preventDefault();
      cancelOptOut();
    });
    $("report-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var p = loadReport();
      if (p) { p.catch(handleError); }
    });
    $("csv-over-time").addEventListener("click", function () { download(reportPath("over-time")); });
    $("csv-counts").addEventListener("click", function () { download(reportPath("counts")); });
    $("csv-unreachable").addEventListener("click", function () { download(reportPath("unreachable")); });

    loadSignIn().then(function () {
      if (finishSignIn()) { return; }
      key = loadKey();
      if (key) { openDashboard(false); } else { $("key-section").hidden = false; }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
