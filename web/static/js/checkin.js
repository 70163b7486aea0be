/* The check-in page: send the tap to the API; without signal keep it in IndexedDB (with
 * its event id and the phone's time) and send it when the signal returns. The server
 * treats a repeated event id as the same tap, so sending twice is harmless. */
(function () {
  "use strict";
  var DB_NAME = "timebank-visits";
  var STORE = "queue";
  var form = document.getElementById("visit-form");
  if (!form) { return; }
  var button = document.getElementById("visit-button");
  var errorBox = document.getElementById("visit-error");
  var statusBox = document.getElementById("visit-status");
  var queueBox = document.getElementById("visit-queue");
  var coords = null;

  function newId() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(STORE, { keyPath: "event_id" });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function withStore(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var txn = db.transaction(STORE, mode);
        var request = work(txn.objectStore(STORE));
        txn.oncomplete = function () { resolve(request ? request.result : undefined); };
        txn.onerror = function () { reject(txn.error); };
      });
    });
  }

  function queued() { return withStore("readonly", function (s) { return s.getAll(); }); }
  function keep(item) { return withStore("readwrite", function (s) { return s.put(item); }); }
  function forget(id) { return withStore("readwrite", function (s) { return s.delete(id); }); }

  function send(item) {
    // This page's own token: a tap kept from before a new sign-in still goes through.
    var csrf = form.elements.csrf_token.value || item.csrf;
    return fetch(item.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(item.body)
    });
  }

  function show(box, text) { box.textContent = text; box.hidden = !text; }

  // Every tap still waiting on this phone (for any resident), oldest first, with the time
  // it was made: the helper can see that nothing was lost while there is no signal.
  function showQueue() {
    if (!queueBox) { return Promise.resolve(); }
    return queued().then(function (items) {
      items.sort(function (a, b) { return a.seq - b.seq; });
      var list = queueBox.querySelector("ul");
      list.textContent = "";
      items.forEach(function (item) {
        var li = document.createElement("li");
        var at = new Date(item.body.client_time);
        var time = "";
        if (!isNaN(at)) {
          // In the community's time zone and the page's language, like the order's window.
          var options = { hour: "2-digit", minute: "2-digit", hour12: false };
          try {
            time = at.toLocaleTimeString(form.dataset.lang, Object.assign({ timeZone: form.dataset.tz }, options));
          } catch (e) {
            time = at.toLocaleTimeString(form.dataset.lang, options);
          }
        }
        var label = item.action === "start" ? form.dataset.startLabel : form.dataset.finishLabel;
        li.textContent = [label, item.name || "", time].filter(Boolean).join(" · ");
        list.appendChild(li);
      });
      queueBox.hidden = items.length === 0;
    }).catch(function () {});
  }

  function setAction(action) {
    form.dataset.action = action;
    form.elements.action.value = action;
    form.elements.event_id.value = newId();
    button.textContent = action === "start" ? form.dataset.startLabel : form.dataset.finishLabel;
    button.className = "big " + action;
    var pinBox = document.getElementById("pin-box");
    if (pinBox) { pinBox.hidden = !(action === "finish" && form.dataset.pin); }
  }

  var flushing = false;
  function flush() {
    if (flushing) { return Promise.resolve(); }
    flushing = true;
    return queued().then(function (items) {
      items.sort(function (a, b) { return a.seq - b.seq; });
      var sent = 0;
      var chain = Promise.resolve();
      items.forEach(function (item) {
        chain = chain.then(function () {
          return send(item).then(function (response) {
            // Server trouble, or signed out: keep the tap and try again later.
            if (response.status === 401 || response.status === 403) {
              show(statusBox, form.dataset.signedOut);
              throw new Error("kept");
            }
            if (response.status >= 500) { throw new Error("kept"); }
            return response.json().then(function (data) {
              if (!response.ok) { show(errorBox, data.error ? data.error.message : ""); }
              sent += 1;
              return forget(item.event_id);
            });
          });
        });
      });
      return chain.then(function () {
        if (sent) { show(statusBox, form.dataset.sent); }
      });
    }).catch(function () { /* still no signal: try again later */ })
      .then(function () { flushing = false; return showQueue(); });
  }

  function restore() {
    return queued().then(function (items) {
      var mine = items.filter(function (i) { return i.token === form.dataset.token; });
      mine.sort(function (a, b) { return a.seq - b.seq; });
      var last = mine[mine.length - 1];
      if (last && last.action === "start") {
        setAction("finish");
        show(statusBox, form.dataset.queuedStart);
      }
    }).catch(function () {});
  }

  form.elements.event_id.value = newId();
  if (form.dataset.locate && navigator.geolocation) {
    navigator.geolocation.getCurrentPosition(function (p) {
      coords = p.coords;
    }, function () {}, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (button.disabled) { return; }
    button.disabled = true;
    show(errorBox, "");
    var action = form.dataset.action;
    var body = { event_id: form.elements.event_id.value, client_time: new Date().toISOString() };
    if (coords) { body.lat = coords.latitude; body.lon = coords.longitude; }
    if (form.elements.service) { body.service = form.elements.service.value; }
    if (action === "finish" && form.elements.pin && form.elements.pin.value) {
      body.pin = form.elements.pin.value;
    }
    var item = {
      event_id: body.event_id,
      seq: Date.now(),
      token: form.dataset.token,
      name: form.dataset.resident,
      action: action,
      url: form.dataset.api + (action === "start" ? "/check-in" : "/check-out"),
      csrf: form.elements.csrf_token.value,
      body: body
    };
    send(item).then(function (response) {
      return response.json().then(function (data) {
        if (response.ok) {
          window.location.href = "/visits/" + data.id;
          return;
        }
        show(errorBox, data.error ? data.error.message : String(response.status));
        button.disabled = false;
      });
    }, function () {
      // No signal: keep the tap, with its event id and the phone's time.
      item.body.offline = true;
      return keep(item).then(showQueue).then(function () {
        show(statusBox, action === "start" ? form.dataset.queuedStart : form.dataset.queuedFinish);
        if (action === "start") { setAction("finish"); }
        button.disabled = action !== "start";
      });
    });
  });

  window.addEventListener("online", flush);
  setInterval(function () { if (navigator.onLine) { flush(); } }, 15000);
  restore().then(showQueue).then(function () { if (navigator.onLine) { flush(); } });

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/v/sw.js", { scope: "/v/" }).catch(function () {});
  }
})();
