// queuectl dashboard: live parts of a page, without a page reload.
//
// Each live part is an element with data-part="NAME"; the server renders it alone for the
// same URL with ?_part=NAME. The page listens to /events (server-sent events) and, when the
// store changes, fetches its parts again and swaps them in. A part with data-poll="MS" is
// also fetched every MS milliseconds (the tail of a running job's output).
// A part that holds a ticked checkbox or the focus is left alone, so a selection in progress
// is never wiped out; it catches up at the next change after that.
// Output of a running attempt (pre[data-follow]) stays scrolled to its end, as tail -f does.
// Forms with data-confirm="QUESTION" ask before they submit.
(function () {
  "use strict";

  var DEBOUNCE_MS = 300;
  var pending = null;

  function busy(el) {
    if (el.querySelector("input[type=checkbox]:checked")) return true;
    var active = document.activeElement;
    return active && active !== document.body && el.contains(active) &&
      /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(active.tagName);
  }

  function partUrl(name) {
    var url = new URL(window.location.href);
    url.searchParams.set("_part", name);
    url.hash = "";
    return url.toString();
  }

  function refresh(el) {
    var name = el.getAttribute("data-part");
    if (!name || busy(el)) return Promise.resolve();
    return fetch(partUrl(name), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null || !el.isConnected || busy(el)) return;
        var holder = document.createElement("template");
        holder.innerHTML = html.trim();  // server-rendered and escaped; scripts never run here
        var fresh = holder.content.firstElementChild;
        if (!fresh || fresh.getAttribute("data-part") !== name) return;
        keepOpen(el, fresh);
        el.replaceWith(fresh);
        follow(fresh);
        watch(fresh);
      })
      .catch(function () { /* the stream's state shows in the header */ });
  }

  // <details> a person opened or closed stay as they left them.
  function keepOpen(old, fresh) {
    var before = old.querySelectorAll("details");
    var after = fresh.querySelectorAll("details");
    for (var i = 0; i < before.length && i < after.length; i++) {
      after[i].open = before[i].open;
    }
  }

  function follow(root) {
    root.querySelectorAll("pre[data-follow]").forEach(function (pre) {
      pre.scrollTop = pre.scrollHeight;
    });
  }

  function refreshAll() {
    pending = null;
    document.querySelectorAll("[data-part]").forEach(refresh);
  }

  function changed() {
    if (pending === null) pending = window.setTimeout(refreshAll, DEBOUNCE_MS);
  }

  function watch(el) {
    var every = parseInt(el.getAttribute("data-poll") || "0", 10);
    if (every > 0) {
      window.setTimeout(function () { if (el.isConnected) refresh(el); }, every);
    }
  }

  function confirmForms() {
    document.addEventListener("submit", function (event) {
      var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
      if (question && !window.confirm(question)) event.preventDefault();
    });
  }

  function connect() {
    var badge = document.getElementById("live");
    if (!window.EventSource || !document.querySelector("[data-part]")) {
      if (badge) badge.hidden = true;
      return;
    }
    var source = new EventSource("/events");
    function show(state, title) {
      if (!badge) return;
      badge.className = "live " + state;
      badge.title = "live updates: " + title;
    }
    source.onopen = function () { show("on", "on"); };
    source.onerror = function () { show("off", "reconnecting"); };
    source.addEventListener("change", changed);
    window.addEventListener("pagehide", function () { source.close(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-part]").forEach(watch);
    follow(document);
    confirmForms();
    connect();
  });
})();
