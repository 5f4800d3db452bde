// The voter portal page: find yourself, see your ballot, choose how and when you hear from
// the election office. Plain JavaScript against the portal API (/v1/portal/...); no build
// step, no framework, no inline script (the page's Content-Security-Policy forbids it).
(function () {
  "use strict";

  // ---- Texts, in English and Spanish --------------------------------------------------
  var TEXT = {
    en: {
      title: "Track your mail ballot",
      skip: "Skip to main content",
      brand: "Mail ballot tracking",
      languageSwitch: "Language",
      logout: "Sign out",
      lookupHeading: "Find your ballot",
      lookupIntro: "Enter your name, date of birth and residential ZIP code exactly as they appear on your voter registration.",
      firstName: "First name",
      lastName: "Last name",
      dob: "Date of birth",
      dobHint: "MM-DD-YYYY, for example 01-23-1980",
      zip: "Residential ZIP code",
      zipHint: "5 digits. Overseas voters: the ZIP code of your residential address in your state.",
      voterId: "Voter ID",
      voterIdHint: "More than one voter matches what you entered. Your voter ID is on your voter registration card.",
      find: "Find my ballot",
      ballotHeading: "Your ballot",
      refresh: "Check again",
      prefsHeading: "How we tell you about your ballot",
      prefsIntro: "Choose email, text messages or voice calls, and when we may text or call you.",
      email: "Email",
      emailEnabled: "Send me email",
      emailAddress: "Email address",
      emailWaits: "Send email only during my contact hours",
      sms: "Text messages",
      smsEnabled: "Send me text messages",
      mobile: "Mobile number",
      phoneHint: "US and Canadian numbers only, for example +13035550123",
      voice: "Voice calls",
      voiceEnabled: "Call me and read my ballot status aloud",
      phone: "Phone number",
      hours: "Contact hours for texts and calls",
      hoursHint: "24-hour clock, HH:MM. We never text or call outside these hours.",
      hoursStart: "From",
      hoursEnd: "Until",
      timeZone: "Time zone",
      noticeLanguage: "Language of your notices",
      save: "Save my choices",
      optOutHeading: "Stop all notices",
      optOutText: "You can stop every email, text and call about your ballot. This does not change your voter registration or your ballot.",
      optOut: "Opt out of all notices",
      optOutConfirm: "Stop every email, text and call about your ballot?",
      privacy: "We track the envelope of your ballot, never your vote. Your information is used only to send you these notices; it is never sold or shared.",

      greeting: "Signed in as {name}. Your session ends at {time}.",
      noBallots: "Your county has not mailed you a ballot for an upcoming election yet. Ballot updates will appear here once ballots are mailed.",
      currentStatus: "Current status: {status}",
      since: "since {date}",
      awaiting: "Waiting for the first update from your county",
      timelineLabel: "History of this ballot",
      electionDay: "Election day: {date}",
      county: "Election office: {county}",
      reason: "Reason: {reason}",
      cureBy: "Return your cure form by {date}.",
      status: {
        mailed: "Mailed", undeliverable: "Returned as undeliverable", received: "Received",
        challenged: "Needs your action", cured: "Issue resolved", accepted: "Accepted",
        rejected: "Could not be counted", counted: "Counted", replaced: "Replaced by a new ballot"
      },
      explain: {
        mailed: "Your county mailed your ballot. Vote it, sign the envelope and return it by 7 p.m. on Election Day.",
        undeliverable: "The post office returned your ballot. Contact your county election office to update your address.",
        received: "Your county received your ballot. Next, the signature on the envelope is verified.",
        challenged: "Your ballot cannot be counted yet. Complete the cure form your county sends you and return it by the deadline.",
        cured: "The issue with your ballot is resolved; your county will now process it.",
        accepted: "Your ballot passed signature verification and will be counted.",
        rejected: "Your ballot could not be counted. Contact your county election office if you have questions.",
        counted: "Your ballot was counted. Thank you for voting.",
        replaced: "A new ballot replaced this one; follow the new ballot above."
      },
      state: {
        active: "<strong>On.</strong> You will receive notices here.",
        pendingSms: "<strong>Pending.</strong> We sent a text to this number. Reply YES to it to start receiving texts.",
        pendingEmail: "<strong>Pending.</strong> We sent an email to this address. Open the link in it to confirm.",
        opted_out: "<strong>Off.</strong> You opted out of this channel.",
        bounced: "<strong>Not working.</strong> We could not reach this address. Check it and save again.",
        problem: "<strong>Not used.</strong> We no longer text or call the number on file (we text and call only US and Canadian numbers). Enter another number, or turn this off.",
        off: "<strong>Off.</strong>"
      },
      saved: "Your choices are saved.",
      savedSms: "We sent a text message to {phone}. Reply YES to it to confirm.",
      savedEmail: "We sent an email to {email}. Open the link in it to confirm.",
      notSentSms: "Your number is saved, but we did not send a new confirmation text: several were sent recently. Save again after {time} to get one.",
      notSentEmail: "Your email address is saved, but we did not send a new confirmation email: several were sent recently. Save again after {time} to get one.",
      optedOut: "You will not receive any more notices about your ballot. You can turn channels back on at any time.",
      loggedOut: "You are signed out.",
      found: "We found your registration.",
      emailConfirmed: "Your email address is confirmed. You will receive ballot notices there.",
      emailConfirmInvalid: "This confirmation link is not valid any more. Sign in and save your email address again to get a new link.",
      confirmEmailHeading: "Confirm your email address for ballot notices",
      confirmEmailIntro: "Press the button to receive notices about your ballot at the email address this link was sent to.",
      confirmEmailButton: "Confirm my email address",
      tzOther: "{tz}",
      err: {
        firstName: "Enter your first name as it appears on your voter registration.",
        lastName: "Enter your last name as it appears on your voter registration.",
        dobFormat: "Enter your date of birth as MM-DD-YYYY, for example 01-23-1980.",
        dob1900: "Date of Birth (DOB) cannot be before 01-01-1900.",
        dobFuture: "Date of Birth (DOB) cannot be in the future.",
        zip: "Enter the 5-digit ZIP code of your residential address, for example 80202.",
        voterIdRequired: "More than one voter matches; enter your voter ID too.",
        noMatch: "The information you entered does not match any voters in our system.",
        noMatchHelp: "Check that your name, date of birth and ZIP code match your voter registration exactly (for example, James, not Jim). If you registered or moved recently, try again in a few days.",
        rateLimited: "Too many attempts. Please wait {wait} and try again.",
        lookupsPaused: "Looking up voters is paused for everyone for a moment because of unusual traffic. Please wait {wait} and try again.",
        minutes: "{n} minutes",
        aMinute: "a minute",
        email: "Enter an email address like name@example.org.",
        phone: "Enter a US or Canadian phone number: +1 and 10 digits, for example +13035550123.",
        time: "Enter a time as HH:MM (24-hour clock), for example 08:00.",
        timeZone: "Choose a time zone.",
        language: "Choose English or Spanish.",
        session: "Your session has ended. Please look yourself up again.",
        confirmNotSent: "Your choices were saved, but the confirmation message could not be sent right now. Please save again in a few minutes.",
        unavailable: "Something went wrong on our side. Please try again in a minute.",
        network: "We could not reach the server. Check your connection and try again."
      }
    },
    es: {
      title: "Siga su boleta por correo",
      skip: "Saltar al contenido principal",
      brand: "Seguimiento de boletas por correo",
      languageSwitch: "Idioma",
      logout: "Cerrar sesión",
      lookupHeading: "Encuentre su boleta",
      lookupIntro: "Escriba su nombre, fecha de nacimiento y código postal residencial tal como aparecen en su registro de votante.",
      firstName: "Nombre",
      lastName: "Apellido",
      dob: "Fecha de nacimiento",
      dobHint: "MM-DD-AAAA, por ejemplo 01-23-1980",
      zip: "Código postal residencial",
      zipHint: "5 dígitos. Votantes en el extranjero: el código postal de su domicilio residencial en su estado.",
      voterId: "Número de identificación de votante",
      voterIdHint: "Más de un votante coincide con lo que escribió. Su número de votante está en su tarjeta de registro.",
      find: "Buscar mi boleta",
      ballotHeading: "Su boleta",
      refresh: "Consultar de nuevo",
      prefsHeading: "Cómo le informamos sobre su boleta",
      prefsIntro: "Elija correo electrónico, mensajes de texto o llamadas, y cuándo podemos enviarle textos o llamarle.",
      email: "Correo electrónico",
      emailEnabled: "Enviarme correos electrónicos",
      emailAddress: "Dirección de correo electrónico",
      emailWaits: "Enviar correos solo durante mi horario de contacto",
      sms: "Mensajes de texto",
      smsEnabled: "Enviarme mensajes de texto",
      mobile: "Número de celular",
      phoneHint: "Solo números de EE. UU. y Canadá, por ejemplo +13035550123",
      voice: "Llamadas",
      voiceEnabled: "Llamarme y leer en voz alta el estado de mi boleta",
      phone: "Número de teléfono",
      hours: "Horario de contacto para textos y llamadas",
      hoursHint: "Reloj de 24 horas, HH:MM. Nunca enviamos textos ni llamamos fuera de este horario.",
      hoursStart: "Desde",
      hoursEnd: "Hasta",
      timeZone: "Zona horaria",
      noticeLanguage: "Idioma de sus avisos",
      save: "Guardar mis opciones",
      optOutHeading: "Dejar de recibir avisos",
      optOutText: "Puede dejar de recibir todos los correos, textos y llamadas sobre su boleta. Esto no cambia su registro de votante ni su boleta.",
      optOut: "Cancelar todos los avisos",
      optOutConfirm: "¿Dejar de recibir todos los correos, textos y llamadas sobre su boleta?",
      privacy: "Seguimos el sobre de su boleta, nunca su voto. Su información se usa solo para enviarle estos avisos; nunca se vende ni se comparte.",

      greeting: "Sesión iniciada como {name}. Su sesión termina a las {time}",
      noBallots: "Su condado aún no le ha enviado una boleta para una próxima elección. Las novedades aparecerán aquí cuando se envíen las boletas.",
      currentStatus: "Estado actual: {status}",
      since: "desde el {date}",
      awaiting: "Esperando la primera novedad de su condado",
      timelineLabel: "Historial de esta boleta",
      electionDay: "Día de la elección: {date}",
      county: "Oficina electoral: {county}",
      reason: "Motivo: {reason}",
      cureBy: "Devuelva su formulario de corrección antes del {date}.",
      status: {
        mailed: "Enviada por correo", undeliverable: "Devuelta como no entregable", received: "Recibida",
        challenged: "Requiere su acción", cured: "Problema resuelto", accepted: "Aceptada",
        rejected: "No pudo ser contada", counted: "Contada", replaced: "Reemplazada por una nueva boleta"
      },
      explain: {
        mailed: "Su condado le envió su boleta. Vote, firme el sobre y devuélvalo antes de las 7 p.m. del Día de las Elecciones.",
        undeliverable: "El correo devolvió su boleta. Comuníquese con la oficina electoral de su condado para actualizar su dirección.",
        received: "Su condado recibió su boleta. A continuación se verifica la firma del sobre.",
        challenged: "Su boleta aún no puede ser contada. Complete el formulario de corrección que le envía su condado y devuélvalo antes de la fecha límite.",
        cured: "Se resolvió el problema con su boleta; su condado la procesará ahora.",
        accepted: "Su boleta pasó la verificación de firma y será contada.",
        rejected: "Su boleta no pudo ser contada. Comuníquese con la oficina electoral de su condado si tiene preguntas.",
        counted: "Su boleta fue contada. Gracias por votar.",
        replaced: "Una nueva boleta reemplazó a esta; siga la nueva boleta arriba."
      },
      state: {
        active: "<strong>Activado.</strong> Recibirá avisos aquí.",
        pendingSms: "<strong>Pendiente.</strong> Enviamos un texto a este número. Responda YES para empezar a recibir textos.",
        pendingEmail: "<strong>Pendiente.</strong> Enviamos un correo a esta dirección. Abra el enlace para confirmarla.",
        opted_out: "<strong>Desactivado.</strong> Usted canceló este medio.",
        bounced: "<strong>No funciona.</strong> No pudimos comunicarnos con esta dirección. Revísela y guarde de nuevo.",
        problem: "<strong>No se usa.</strong> Ya no enviamos textos ni llamamos al número registrado (solo a números de EE. UU. y Canadá). Escriba otro número o desactive este medio.",
        off: "<strong>Desactivado.</strong>"
      },
      saved: "Sus opciones están guardadas.",
      savedSms: "Enviamos un mensaje de texto al {phone}. Responda YES para confirmarlo.",
      savedEmail: "Enviamos un correo a {email}. Abra el enlace para confirmarlo.",
      notSentSms: "Su número está guardado, pero no enviamos un nuevo texto de confirmación: se enviaron varios hace poco. Guarde de nuevo después de {time} para recibir uno.",
      notSentEmail: "Su correo está guardado, pero no enviamos un nuevo correo de confirmación: se enviaron varios hace poco. Guarde de nuevo después de {time} para recibir uno.",
      optedOut: "No recibirá más avisos sobre su boleta. Puede volver a activarlos cuando quiera.",
      loggedOut: "Cerró la sesión.",
      found: "Encontramos su registro.",
      emailConfirmed: "Su correo electrónico está confirmado. Recibirá allí los avisos de su boleta.",
      emailConfirmInvalid: "Este enlace de confirmación ya no es válido. Inicie sesión y guarde de nuevo su correo para recibir un enlace nuevo.",
      confirmEmailHeading: "Confirme su correo electrónico para los avisos de su boleta",
      confirmEmailIntro: "Presione el botón para recibir los avisos sobre su boleta en la dirección de correo a la que se envió este enlace.",
      confirmEmailButton: "Confirmar mi correo electrónico",
      tzOther: "{tz}",
      err: {
        firstName: "Escriba su nombre tal como aparece en su registro de votante.",
        lastName: "Escriba su apellido tal como aparece en su registro de votante.",
        dobFormat: "Escriba su fecha de nacimiento como MM-DD-AAAA, por ejemplo 01-23-1980.",
        dob1900: "La fecha de nacimiento no puede ser anterior al 01-01-1900.",
        dobFuture: "La fecha de nacimiento no puede ser una fecha futura.",
        zip: "Escriba el código postal de 5 dígitos de su domicilio residencial, por ejemplo 80202.",
        voterIdRequired: "Más de un votante coincide; escriba también su número de votante.",
        noMatch: "La información que escribió no coincide con ningún votante en nuestro sistema.",
        noMatchHelp: "Verifique que su nombre, fecha de nacimiento y código postal coincidan exactamente con su registro (por ejemplo, Francisco y no Paco). Si se registró o se mudó hace poco, intente de nuevo en unos días.",
        rateLimited: "Demasiados intentos. Espere {wait} e intente de nuevo.",
        lookupsPaused: "La búsqueda de votantes está en pausa para todos por un momento debido a un tráfico inusual. Espere {wait} e intente de nuevo.",
        minutes: "{n} minutos",
        aMinute: "un minuto",
        email: "Escriba un correo electrónico como nombre@ejemplo.org.",
        phone: "Escriba un número de EE. UU. o Canadá: +1 y 10 dígitos, por ejemplo +13035550123.",
        time: "Escriba una hora como HH:MM (reloj de 24 horas), por ejemplo 08:00.",
        timeZone: "Elija una zona horaria.",
        language: "Elija inglés o español.",
        session: "Su sesión terminó. Vuelva a buscar su registro.",
        confirmNotSent: "Sus opciones se guardaron, pero el mensaje de confirmación no pudo enviarse ahora. Guarde de nuevo en unos minutos.",
        unavailable: "Algo salió mal de nuestro lado. Intente de nuevo en un minuto.",
        network: "No pudimos comunicarnos con el servidor. Revise su conexión e intente de nuevo."
      }
    }
  };

  var TIME_ZONES = [
    ["America/New_York", "Eastern", "Este"],
    ["America/Chicago", "Central", "Centro"],
    ["America/Denver", "Mountain", "Montaña"],
    ["America/Phoenix", "Arizona", "Arizona"],
    ["America/Los_Angeles", "Pacific", "Pacífico"],
    ["America/Anchorage", "Alaska", "Alaska"],
    ["Pacific/Honolulu", "Hawaii", "Hawái"],
    ["America/Puerto_Rico", "Puerto Rico", "Puerto Rico"],
    ["Pacific/Guam", "Guam", "Guam"]
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
  function setLanguage(l) {
    lang = TEXT[l] ? l : "en";
    try { localStorage.setItem("ballotflow.lang", lang); } catch (e) { /* private mode */ }
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach(function (el) {
      el.textContent = t(el.getAttribute("data-i18n"));
    });
    document.querySelectorAll("[data-i18n-label]").forEach(function (el) {
      el.setAttribute("aria-label", t(el.getAttribute("data-i18n-label")));
    });
    $("lang-en").setAttribute("aria-pressed", String(lang === "en"));
    $("lang-es").setAttribute("aria-pressed", String(lang === "es"));
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
    if (lastPrefs) { renderStates(lastPrefs); }
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
    return new Intl.DateTimeFormat(lang === "es" ? "es-US" : "en-US", opts).format(d);
  }

  function formatDay(yyyymmdd) {
    var p = yyyymmdd.split("-");
    var d = new Date(Date.UTC(Number(p[0]), Number(p[1]) - 1, Number(p[2]), 12));
    return new Intl.DateTimeFormat(lang === "es" ? "es-US" : "en-US",
      { year: "numeric", month: "long", day: "numeric", timeZone: "UTC" }).format(d);
  }

  function formatTime(iso) {
    return new Intl.DateTimeFormat(lang === "es" ? "es-US" : "en-US", { hour: "numeric", minute: "2-digit" }).format(new Date(iso));
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
      if (b.timeline.length) {
        var label = el("h4", "", t("timelineLabel"));
        label.id = "timeline-label-" + i;
        art.appendChild(label);
        var ol = el("ol", "timeline");
        ol.setAttribute("aria-labelledby", label.id);
        b.timeline.forEach(function (step) {
          var li = el("li");
          li.appendChild(el("strong", "", t("status." + step.status)));
          li.appendChild(el("span", "when", formatDate(step.at, true)));
          if (step.reason) { li.appendChild(el("span", "when", fill(t("reason"), { reason: step.reason }))); }
          if (step.cure_deadline) { li.appendChild(el("span", "when", fill(t("cureBy"), { date: formatDay(step.cure_deadline) }))); }
          ol.appendChild(li);
        });
        art.appendChild(ol);
      }
      box.appendChild(art);
    });
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
      o.textContent = (lang === "es" ? z[2] : z[1]) + " (" + z[0] + ")";
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
    $("language-en").checked = p.language !== "es";
    $("language-es").checked = p.language === "es";
    renderStates(p);
  }

  function renderStates(p) {
    [["email", p.email], ["sms", p.sms], ["voice", p.voice]].forEach(function (c) {
      var box = $(c[0] + "-state");
      var state = c[1].state || "off";
      var key = state;
      if (state === "pending") { key = c[0] === "email" ? "pendingEmail" : "pendingSms"; }
      if (c[1].problem) { key = "problem"; }
      box.setAttribute("data-state", state);
      box.innerHTML = t("state." + key); // texts are ours (TEXT above), never data
    });
  }

  var PREF_FIELDS = {
    "email.address": ["email-address", "email"], "email.enabled": ["email-enabled", "server"],
    "sms.phone": ["sms-phone", "phone"], "sms.enabled": ["sms-enabled", "server"],
    "voice.phone": ["voice-phone", "phone"], "voice.enabled": ["voice-enabled", "server"],
    "contact_hours.start": ["hours-start", "time"], "contact_hours.end": ["hours-end", "time"],
    "contact_hours.time_zone": ["time-zone", "timeZone"], "language": ["language-en", "language"]
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
      language: $("language-es").checked ? "es" : "en",
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

  // ---- Start --------------------------------------------------------------------------
  function start() {
    var link = takeConfirmLink(); // first: the token leaves the address bar before anything else
    var saved = null;
    try { saved = localStorage.getItem("ballotflow.lang"); } catch (e) { /* ignore */ }
    if (!saved && navigator.language && navigator.language.slice(0, 2) === "es") { saved = "es"; }
    setLanguage(saved || "en");

    $("lang-en").addEventListener("click", function () { setLanguage("en"); });
    $("lang-es").addEventListener("click", function () { setLanguage("es"); });
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
