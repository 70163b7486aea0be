/* Service worker for /v/ (check-in pages): network first, the last copy without signal,
 * so a helper can open the placard page again in a home with no signal. */
"use strict";
var CACHE = "timebank-checkin-v1";
var ASSETS = ["/static/css/checkin.css", "/static/js/checkin.js", "/static/icon.svg"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(ASSETS); }));
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  var page = url.pathname.indexOf("/v/") === 0 && url.pathname !== "/v/sw.js";
  if (!page && ASSETS.indexOf(url.pathname) < 0) { return; }
  event.respondWith(
    fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(CACHE).then(function (c) { c.put(request, copy); });
      }
      return response;
    }).catch(function () {
      return caches.match(request).then(function (hit) { return hit || Response.error(); });
    })
  );
});
